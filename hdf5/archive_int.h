/* archive_int.h - what the archive's files share and nothing else includes
 * (see archive.h for the API and SCHEMA.md for the layout):
 *   archive.c             life cycle: create, open, lock, validate, close;
 *                         the run table's types and rows
 *   archive_write.c       the writing calls (status, metrics, snapshots, final)
 *   archive_checkpoint.c  the two checkpoint slots, written and read
 *   archive_read.c        the reading calls
 * Generic HDF5 helpers (attributes, extendible datasets) are in h5util.h.
 * Every ar_* function returning ss_status sets one message line with
 * ss_error on failure. */
#ifndef SS_ARCHIVE_INT_H
#define SS_ARCHIVE_INT_H

#include <hdf5.h>
#include <stdint.h>
#include <string.h>

#include "archive.h"
#include "check.h"
#include "h5util.h"

enum { AR_ID_MAX = 255, AR_METRICS_CHUNK = 128, AR_TABLE_CHUNK = 64, AR_SNAPSHOT_DEFLATE = 4 };

struct ss_archive {
    hid_t file;
    int writable;
    int lock_fd; /* writer: its single-writer lock; reader: its shared data lock (see journal.h) */
    char *path;
    char *file_path; /* where the file is while it is made (path.tmp-PID), NULL after */
    int n_runs, cap;
    char **ids;                         /* ids[i] of run i (the run table's order) */
    int reopenable;                     /* the file is at path: ar_flush may reopen it */
    int *hash;                          /* open addressing over ids: run index + 1, 0 = empty (NULL until needed) */
    int hash_cap;                       /* slots (a power of two), 0 when hash is NULL */
    long long seen_size, seen_mtime_ns; /* the file when last opened (readers: to tell a race from damage) */
    long reopens;                       /* times ar_flush reopened it */
};

/* "pending", "running", ... indexed by ss_run_status (the file's enum names). */
extern const char *const ar_status_names[SS_RUN_STATUS_COUNT];

/* The run table: struct table_row in memory, a packed compound in the file. */
typedef struct table_row {
    char *id;
    signed char status;
    int attempts;
    int iterations_done;
    double final_loss;
    char *host;
    int rank;
    char *backend;
    char *device;
    double start_time;
    double end_time;
    char *error;
} table_row;

/* A checkpoint slot's marker attributes (generation and iteration -1 when unreadable). */
typedef struct slot_info {
    int exists, complete;
    long long generation, iteration;
} slot_info;

/* The names of the two checkpoint slot groups. */
extern const char *const ar_slots[2];

/* strdup of s, "" for NULL (NULL only when out of memory). */
static inline char *ar_strdup(const char *s) { return strdup(s ? s : ""); }

/* ---- archive.c ---- */

/* UNIX time now, in seconds. */
double ar_now(void);

/* SS_ERR_ARG unless a is open for writing; func names the caller in the message. */
ss_status ar_check_writable(const ss_archive *a, const char *func);

/* SS_ERR_ARG unless i is a run of a. */
ss_status ar_check_run(const ss_archive *a, int i, const char *func);

/* SS_ERR_IO when the file system holding path has less than the reserve plus
 * twice `bytes` available; creating: the archive does not exist yet. */
ss_status ar_ensure_space(const char *path, const char *shown, unsigned long long bytes, int creating);

/* ar_check_writable, then ar_ensure_space for a call that writes about `bytes`. */
ss_status ar_check_writing(const ss_archive *a, const char *func, unsigned long long bytes);

/* A new file access property list for the archive (the journal's driver,
 * no HDF5 file locking; writer: 1.8 format, no cache evictions). */
hid_t ar_fapl(int writer);

/* H5Fflush of the whole file. */
ss_status ar_flush(ss_archive *a);

/* Test hook: SIGKILL at the N-th pass through point `where` when
 * STYLESWEEP_TEST_KILL=where:N (tests/test_resume.sh). */
void ar_test_kill_point(const char *where);

/* Checks i and opens the group /runs/<id> of run i into *g (close with H5Gclose). */
ss_status ar_open_run(hid_t *g, const ss_archive *a, int i, const char *func);

/* The run table's compound type: file = 1 the packed file type with every
 * field; file = 0 the memory type (struct table_row) with the fields named
 * in `only` (NULL-terminated; NULL = all). Close with H5Tclose. */
hid_t ar_table_type(int file, const char *const *only);

/* The metrics compound: ss_archive_metrics in memory (file = 0), packed little-endian (file = 1). */
hid_t ar_metrics_type(int file);

/* Writes the fields `only` (NULL-terminated) of run table row i from *row. */
ss_status ar_table_write(ss_archive *a, int i, const table_row *row, const char *const *only);

/* Reads row i (all fields); free the strings with ar_table_row_reclaim. */
ss_status ar_table_read(ss_archive *a, int i, table_row *row);

/* Frees the strings HDF5 allocated for a row read by ar_table_read and zeroes it. */
void ar_table_row_reclaim(table_row *row);

/* Creates the groups and run table rows of n new runs (the caller flushes). */
ss_status ar_add_runs_unflushed(ss_archive *a, int n, const char *const *ids, const char *const *params);

/* Writes /manifest with its hash (the caller flushes). */
ss_status ar_write_manifest(ss_archive *a, const char *text, const char *sha);

/* After a read of a read-only archive failed with st on attempt `attempt`
 * (0, 1, ...): when the failure can be a race with a flush of the writer
 * (SS_ERR_FORMAT, the file changed since it was opened, fewer than 20
 * attempts) waits 50 ms, reopens the file and returns 1 (read again);
 * otherwise returns 0 and the error stands. */
int ar_reader_retry(ss_archive *a, ss_status st, int attempt);

/* Drops the id hash (after the ids changed). */
void ar_hash_drop(ss_archive *a);

/* Adds run k (just appended: ids[k] set, n_runs counting it) to the id hash,
 * or drops the hash when it is too full (find_run rebuilds it larger): so
 * appending batches of runs costs no rebuild of the whole hash each time. */
void ar_hash_add(ss_archive *a, int k);

/* Records the root attribute runs_to_append (runs of the manifest not yet
 * in the archive); 0 is written only over an existing attribute (the caller
 * flushes). */
ss_status ar_set_to_append(ss_archive *a, long long n);

/* ---- archive_checkpoint.c ---- */

/* CRC-32 (IEEE 802.3, as zlib.crc32) of p[0..n) continued from crc (0 to start). */
uint32_t ar_crc32(uint32_t crc, const unsigned char *p, size_t n);

/* Reads the marker attributes of slot s of the checkpoint group ck (ck < 0: none). */
void ar_read_slot_info(hid_t ck, int s, slot_info *si);

#endif
