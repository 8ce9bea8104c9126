/* util.h - small utilities that several modules need once each: durable
 * file writing (a temporary file in the target's folder, synced, renamed
 * over the target, the folder synced), reading a whole file, the monotonic
 * clock, splitmix64 and parameter-key spelling. (Paths, and the
 * FILE.h5:/dataset form, are paths.h's.) */
#ifndef SS_UTIL_H
#define SS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "status.h"

/* ---- durable files ---- */

/* A file being written under a temporary name next to its target. */
typedef struct ss_file_tmp {
    FILE *f;    /* open for writing ("wb") */
    char *tmp;  /* its temporary path: TARGET.tmp.XXXXXX (mkstemp) */
    char *path; /* the target */
} ss_file_tmp;

/* Creates path's temporary file (mode 0666 less the umask) and opens *t on
 * it. SS_ERR_IO "cannot write PATH: reason" or SS_ERR_NOMEM; *t is then
 * empty (safe to pass to ss_file_tmp_abort). */
ss_status ss_file_tmp_open(ss_file_tmp *t, const char *path);

/* Finishes *t: flushes, fsyncs and closes the file, renames it over the
 * target (replacing any file there) and fsyncs the folder, so that the
 * target is either the old file or the complete new one, also after a
 * crash. On any failure the temporary file is removed and SS_ERR_IO names
 * the target. *t is empty afterwards either way. */
ss_status ss_file_tmp_commit(ss_file_tmp *t);

/* Closes and removes the temporary file of *t (nothing is renamed); *t is
 * empty afterwards. Safe on an empty *t. */
void ss_file_tmp_abort(ss_file_tmp *t);

/* Writes size bytes of data to path durably (ss_file_tmp_open, then
 * ss_file_tmp_commit). */
ss_status ss_file_write_durable(const char *path, const void *data, size_t size);

/* Creates an empty temporary file next to path (TARGET.tmp.XXXXXX, mode
 * 0666 less the umask) for a library that writes files by name (HDF5):
 * *tmp receives its malloc'ed name. Finish with ss_file_commit_rename, or
 * unlink and free it. SS_ERR_IO or SS_ERR_NOMEM naming path. */
ss_status ss_file_tmp_name(char **tmp, const char *path);

/* Makes the file tmp (written and closed by someone else, HDF5 for one)
 * durable and renames it over path: fsync tmp, rename, fsync the folder.
 * On failure tmp is removed and SS_ERR_IO names path. */
ss_status ss_file_commit_rename(const char *tmp, const char *path);

/* Reads all of the open file f into *buf (malloc'ed, NUL-terminated; the
 * caller frees it) and its byte count (without the NUL) into *len. Returns
 * 0, or an errno value: EFBIG when the file exceeds max bytes, ENOMEM, or
 * the read's error. */
int ss_file_read_all(char **buf, size_t *len, FILE *f, size_t max);

/* ---- the rest ---- */

/* Seconds on the monotonic clock (for durations). */
double ss_monotonic_seconds(void);

/* Seconds left of a sweep on `workers` workers whose runs take `per`
 * seconds each: `pending` runs not started and n_running runs started
 * elapsed[i] seconds ago (each is left what `per` leaves it, at least 0). The
 * larger of the work divided among the workers and the longest run's rest,
 * so that it counts down between run completions. */
double ss_eta_seconds(double per, int pending, const double *elapsed, int n_running, int workers);

/* The next value of the splitmix64 sequence of *state (Steele, Lea and
 * Flood), advancing it: seeds other generators and the noise image. */
uint64_t ss_splitmix64(uint64_t *state);

/* Writes key with every '-' made '_' into out (size bytes, truncated): the
 * spelling of parameter keys ("content-weight" is "content_weight"). */
void ss_normalise_key(char *out, size_t size, const char *key);

#endif
