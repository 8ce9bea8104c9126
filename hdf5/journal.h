/* journal.h - the archive's journaling file driver (an HDF5 virtual file
 * driver, hdf5/journal.c): every byte HDF5 writes between two flushes is
 * kept in memory, and a flush first appends the whole batch, with a CRC, to
 * ARCHIVE.journal (the commit), then writes it into the archive ("applies"
 * it) under an exclusive byte-range lock that readers share. So the archive
 * file only ever changes from one flushed state to the next inside the
 * lock, a kill -9 at any moment leaves either the last applied state or a
 * committed batch that the next writer open (or a reader) rolls forward,
 * and a reader holding the shared lock sees one consistent state
 * (hdf5/SCHEMA.md, "Crashes" and "Reading while a sweep runs").
 *
 * Only the archive module (hdf5/archive*.c) uses it. */
#ifndef SS_JOURNAL_H
#define SS_JOURNAL_H

#include <hdf5.h>
#include <stddef.h>
#include <sys/types.h>

/* Byte-range locks of an archive (open file description locks): readers
 * share [0, SSJ_DATA_END) while they read, the writer takes it exclusively
 * while it applies a batch; the single-writer lock is the byte
 * SSJ_WRITER_BYTE (held for the writer's life). Both lie far past any
 * file's end: locks are not data. */
#define SSJ_DATA_END ((off_t)1 << 62)
#define SSJ_WRITER_BYTE (SSJ_DATA_END + 1)

/* Sets fapl's driver to the journaling driver (registering it once).
 * Returns a negative value when HDF5 refused. */
herr_t ssj_set_fapl(hid_t fapl);

/* Bytes committed to the journal of the open file `file` (a writable
 * archive opened through ssj_set_fapl) but not yet applied to the archive
 * (a reader held the shared lock): 0 when all is applied or file is not
 * ours. */
size_t ssj_unapplied(hid_t file);

/* Asks the driver of `file` to make its next commit durable (fdatasync of
 * the journal): used for the updates that end a run. */
void ssj_sync_next(hid_t file);

/* The next close of a writable file keeps its journal (applied, not
 * synced, not removed) for the reopen that follows in this process
 * (the archive reopens a file to empty HDF5's cache): the reopen goes on
 * appending to it instead of rolling it forward. */
void ssj_keep_next_close(void);

/* The journal's path for archive path (malloc'ed "PATH.journal"). */
char *ssj_journal_path(const char *path);

/* What a journal beside the archive holds: *batches committed batches
 * (complete, CRC verified) of *pages pages, *torn bytes after them that are
 * not a complete batch (an append a crash cut short). All 0 when there is
 * no journal. Returns 0, or -1 with errno when it cannot be read. */
int ssj_inspect(const char *path, long *batches, long *pages, long long *torn);

/* Counters of the driver in this process (PERFORMANCE.md): batches
 * committed, batches applied at once, applies deferred because a reader
 * held the lock, bytes written to journals. */
void ssj_counters(long *commits, long *applied, long *deferred, long long *journal_bytes);

#endif
