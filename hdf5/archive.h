/* archive.h - the sweep archive: one HDF5 file per sweep, written only by
 * MPI rank 0 (serial HDF5) and read by `stylesweep status`, the exporters and
 * the Python analysis tools. hdf5/SCHEMA.md documents the layout so that h5py
 * alone can read everything.
 *
 * Consistency (SCHEMA.md, "Crashes" and "Reading while a sweep runs"): no
 * SWMR. Every writing call ends with one flush, and the archive's file
 * driver (journal.h) commits what HDF5 wrote to ARCHIVE.journal before it
 * applies it to the file under an exclusive byte-range lock that readers
 * share: the file goes from one flushed state to the next, a kill at any
 * moment leaves the last commit (rolled forward by the next open), and a
 * read-only handle (which holds the shared lock while it is open) sees one
 * consistent state. A read that fails anyway (a file system without locks)
 * is retried for about a second while the file keeps changing. When the
 * cache holds more than a working set after a flush, the writer reopens the
 * file, so an update costs the same in a large archive as in a small one.
 * One writer at a time: a writable handle holds an exclusive lock (an open
 * file description lock, not HDF5's flock), so h5py readers still open it.
 *
 * Not thread-safe (serial HDF5): use a handle from one thread.
 *
 * Runs are addressed by their index (0-based row of the run table, stable for
 * the life of the archive; ss_archive_find_run maps an id to it). Library
 * code: every function returns ss_status and sets one message line with
 * ss_error; nothing exits. */
#ifndef SS_ARCHIVE_H
#define SS_ARCHIVE_H

#include <stddef.h>

#include "status.h"

#define SS_ARCHIVE_FORMAT "stylesweep-archive"
enum { SS_ARCHIVE_SCHEMA_VERSION = 1 };

typedef struct ss_archive ss_archive;

/* The status of a run (the HDF5 enum `run_status` in the file: same values). */
typedef enum ss_run_status {
    SS_RUN_PENDING = 0,
    SS_RUN_RUNNING = 1,
    SS_RUN_DONE = 2,
    SS_RUN_FAILED = 3,
    SS_RUN_INTERRUPTED = 4
} ss_run_status;
enum { SS_RUN_STATUS_COUNT = 5 };

/* One row of a run's metrics table (one outer iteration). */
typedef struct ss_archive_metrics {
    int iteration;              /* 1-based outer iteration */
    double loss;                /* total loss after the iteration */
    double content;             /* content term (weighted as it enters the total) */
    double style;               /* all style terms together */
    double tv;                  /* total-variation term */
    int evaluations;            /* function evaluations in the iteration */
    double seconds;             /* wall time of the iteration */
    double improvement_percent; /* (loss[i-1] - loss[i]) / loss[i-1] * 100, 0 for the first */
} ss_archive_metrics;

/* What the reader returns about one run. Strings are malloc'ed and never
 * NULL ("" when unset); free with ss_archive_run_info_free. */
typedef struct ss_archive_run_info {
    int index;
    char *id;
    ss_run_status status;
    int attempts;        /* times the run was started */
    int iterations_done; /* iteration of the last metrics row (0 if none) */
    int n_metrics;       /* rows in the metrics table */
    int n_snapshots;
    int has_final;            /* 1 when the final image is stored */
    int checkpoint_iteration; /* iteration of the stored checkpoint's marker, -1 if none */
    double final_loss;        /* loss of the last metrics row, NaN if none */
    double start_time;        /* UNIX seconds of the last start, NaN if never */
    double end_time;          /* UNIX seconds of the last end, NaN if not ended */
    int rank;                 /* MPI rank that ran it last, -1 if never */
    char *error;
    char *host;
    char *backend;
    char *device;
    char *weights; /* weights actually used */
    char *params;  /* the run's parameters as YAML text */
} ss_archive_run_info;

/* A checkpoint: the optimised image at an outer-iteration boundary, the
 * number of metrics rows that belong to it and the optimizer/RNG state as an
 * opaque blob. For writing, the caller owns the buffers; a checkpoint read by
 * ss_archive_read_checkpoint owns them: free with ss_archive_checkpoint_free. */
typedef struct ss_archive_checkpoint {
    int iteration; /* outer iterations completed */
    int n_metrics; /* metrics rows recorded up to this checkpoint */
    int w, h;
    float *image;         /* (3, h, w), the pre-processed image being optimised */
    unsigned char *state; /* opaque optimizer/RNG state */
    size_t state_size;
    long long generation; /* set by write/read: increases with each checkpoint of a run */
} ss_archive_checkpoint;

/* Result of ss_archive_read_checkpoint. */
typedef enum ss_archive_checkpoint_found {
    SS_CHECKPOINT_NONE = 0,   /* the run never wrote one */
    SS_CHECKPOINT_VALID = 1,  /* *out holds the newest complete, verified checkpoint */
    SS_CHECKPOINT_INVALID = 2 /* slots exist but none is complete and verified
                                 (ss_error_message() says why); restart the run */
} ss_archive_checkpoint_found;

/* ---- life cycle ---- */

/* Creates a new archive at path for n_runs runs (ids[i] and their parameters
 * as YAML text params_yaml[i]; ids are unique, non-empty, without '/', at
 * most 255 bytes), with the sweep name and the manifest text and its SHA-256
 * hex digest as given. All runs start pending. The file is built under a
 * temporary name and moved into place, so a crash never leaves a half-made
 * archive under path. Refuses an existing path (SS_ERR_IO "PATH exists; use
 * --resume to continue it"). On success *a is open for writing; close it with
 * ss_archive_close. */
ss_status ss_archive_create(ss_archive **a, const char *path, const char *sweep, const char *manifest_text,
                            const char *manifest_sha256, int n_runs, const char *const *ids,
                            const char *const *params_yaml);

/* Creates the archive as ss_archive_create does, with the first n_runs runs
 * of a sweep that has to_append more: they are added later, in batches, by
 * ss_archive_append_runs (a large sweep starts without waiting for all of
 * its runs to be made). The root attribute runs_to_append records how many
 * are still missing, so that readers can tell (hdf5/SCHEMA.md,
 * "Runs not yet in the archive"); with to_append = 0 this is ss_archive_create. */
ss_status ss_archive_create_first(ss_archive **a, const char *path, const char *sweep, const char *manifest_text,
                                  const char *manifest_sha256, int n_runs, const char *const *ids,
                                  const char *const *params_yaml, long long to_append);

/* Opens an existing archive, for writing (writable = 1: takes the single-writer
 * lock; SS_ERR_IO if another process holds it, or if the file is read-only:
 * not writable, or without any write permission bit, which is refused even
 * for root) or read-only (never blocks a
 * writer; retries briefly when it races a flush). Checks that the file is an
 * archive: SS_ERR_IO if missing or unreadable, SS_ERR_FORMAT for a file that
 * is not HDF5, an HDF5 file without format = "stylesweep-archive", a schema
 * version newer than this program reads, or a damaged run table. A
 * read-only open first reads the run table in a child process with a time
 * limit (30 s; STYLESWEEP_ARCHIVE_PROBE_SECONDS, 0 = off), so that damaged
 * bytes on which HDF5 crashes or hangs give SS_ERR_FORMAT ("damaged
 * archive ...") instead of a dead or stuck reader. */
ss_status ss_archive_open(ss_archive **a, const char *path, int writable);

/* Flushes (when writable), closes the file, releases the lock and frees a.
 * Always frees a (NULL is accepted); returns the flush/close status. */
ss_status ss_archive_close(ss_archive *a);

/* Read-only handle: closes and reopens the file to see the writer's latest
 * flushed state (HDF5 caches metadata from the moment of opening, so a handle
 * kept open while a sweep runs goes stale; a read that failed while the
 * writer flushed succeeds after a refresh). Writable handle: flushes.
 * On failure a read-only handle has no runs until a refresh succeeds. */
ss_status ss_archive_refresh(ss_archive *a);

/* 1 when a stylesweep reader (`status`, `export`: any read-only handle of
 * this library) has the archive open: writable handles only, 0 otherwise.
 * A read-only handle marks itself with a lock while it is open, so that the
 * writer can postpone updates that change the archive's structure under
 * it (the sweep appends no runs then); h5py readers following SCHEMA.md's
 * protocol hold the same lock and are seen too. */
int ss_archive_has_readers(const ss_archive *a);

/* Counters of the archive's journal (SCHEMA.md, "Crashes") in this process,
 * for reports: updates committed, applied to the file at once, deferred
 * because a reader held the read lock, and bytes written to journals. */
void ss_archive_journal_counters(long *commits, long *applied, long *deferred, long long *bytes);

/* Flushes everything to the file. Every writing call already ends with a
 * flush; this is a no-op safety point for callers that batch messages. */
ss_status ss_archive_flush(ss_archive *a);

/* ---- writer (writable archives only; SS_ERR_ARG otherwise) ---- */

/* Appends runs (resume with an extended manifest): the same rules for ids as
 * ss_archive_create; an id already in the archive is SS_ERR_ARG. The new runs
 * get indices run_count .. run_count + n - 1, status pending. */
ss_status ss_archive_add_runs(ss_archive *a, int n, const char *const *ids, const char *const *params_yaml);

/* ss_archive_add_runs, and records in the same flush that to_append more
 * runs of the manifest are not in the archive yet (the root attribute
 * runs_to_append; 0 clears it). n = 0 only records the count. */
ss_status ss_archive_append_runs(ss_archive *a, int n, const char *const *ids, const char *const *params_yaml,
                                 long long to_append);

/* Replaces the stored manifest text and hash (on resume with a changed
 * manifest); the previous ones move to /manifest_history/<n>. */
ss_status ss_archive_set_manifest(ss_archive *a, const char *manifest_text, const char *manifest_sha256);

/* Records on /manifest what the command line changed of it (`run --set`):
 * overrides, the KEY=VALUE lines, and effective_defaults, every default
 * parameter after them (YAML). They move with /manifest to the history. */
ss_status ss_archive_set_overrides(ss_archive *a, const char *overrides, const char *effective_defaults);

/* Discards everything run i recorded and gives it new parameters (resume
 * with --force after the run's parameters changed in the manifest): the
 * `params` attribute becomes params_yaml; metrics are truncated to 0 rows;
 * style_layers, snapshots, snapshot_iterations, final and the checkpoint
 * slots are removed; the status becomes pending with 0 attempts and the
 * table row's progress, times, host, rank, backend, device, weights and
 * error are cleared. One flush at the end: a crash before it leaves the run
 * as it was. */
ss_status ss_archive_reset_run(ss_archive *a, int i, const char *params_yaml);

/* Sets the status of run i. RUNNING also counts an attempt, records the start
 * time and clears the end time and the error; DONE, FAILED and INTERRUPTED
 * record the end time. error_text (NULL = "") is kept as given. A run still
 * RUNNING when an archive is reopened for --resume was cut off by a crash
 * (kill -9): treat it as interrupted. */
ss_status ss_archive_set_status(ss_archive *a, int i, ss_run_status status, const char *error_text);

/* Records where run i runs (NULL strings become ""): host name, MPI rank,
 * backend name, device name and the weights actually used. */
ss_status ss_archive_set_run_info(ss_archive *a, int i, const char *host, int rank, const char *backend,
                                  const char *device, const char *weights);

/* Appends one metrics row to run i, with the n_layers per-style-layer values
 * (n_layers = 0: none). The first row with n_layers > 0 fixes the layer count
 * and names (layer_names, NULL = "layer0", ...); later rows must give the same
 * count (SS_ERR_ARG otherwise) and their names are ignored. Updates
 * iterations_done and final_loss of the run table. */
ss_status ss_archive_append_metrics(ss_archive *a, int i, const ss_archive_metrics *row, int n_layers,
                                    const double *layer_values, const char *const *layer_names);

/* Drops the metrics rows (and style-layer rows) of run i beyond the first n
 * (resume: the rows after the checkpoint). n larger than the table is
 * SS_ERR_ARG. */
ss_status ss_archive_truncate_metrics(ss_archive *a, int i, int n);

/* Appends a snapshot of run i: rgb is h x w x 3 uint8, row-major. Every
 * snapshot of a run has the same size (SS_ERR_ARG otherwise). */
ss_status ss_archive_add_snapshot(ss_archive *a, int i, int iteration, const unsigned char *rgb, int w, int h);

/* Drops the snapshots of run i taken after max_iteration (resume). They must
 * be stored in increasing iteration order, as the engine produces them. */
ss_status ss_archive_truncate_snapshots(ss_archive *a, int i, int max_iteration);

/* Stores (or replaces) the final image of run i: h x w x 3 uint8. */
ss_status ss_archive_set_final(ss_archive *a, int i, const unsigned char *rgb, int w, int h);

/* Writes a checkpoint of run i into the older of its two slots, marking the
 * slot incomplete (flushed) before writing and complete (flushed) after, with
 * a CRC-32 of the contents; so a crash at any point leaves the previous
 * checkpoint readable and never a torn one marked valid. Sets c->generation. */
ss_status ss_archive_write_checkpoint(ss_archive *a, int i, ss_archive_checkpoint *c);

/* ---- reader (any archive) ---- */

/* Returns the number of runs. */
int ss_archive_run_count(const ss_archive *a);

/* Sets *index to the index of the run with this id; SS_ERR_ARG if none.
 * Constant time (a hash of the ids, built at the first call). */
ss_status ss_archive_find_run(const ss_archive *a, const char *id, int *index);

/* Returns the id of run i (valid until the archive is refreshed, runs are
 * added or it is closed), or NULL when i is out of range. */
const char *ss_archive_run_id(const ss_archive *a, int i);

/* Reads how many runs of the manifest last used are not in the archive yet
 * (a sweep appends them as it goes; one that crashed first left them to
 * --resume): the root attribute runs_to_append, 0 when absent. */
ss_status ss_archive_runs_to_append(ss_archive *a, long long *n);

/* Reads the status of every run from the run table in one read: out has
 * ss_archive_run_count(a) elements. */
ss_status ss_archive_read_statuses(ss_run_status *out, ss_archive *a);

/* Reads everything about run i into *out (free with ss_archive_run_info_free,
 * also after a failure). */
ss_status ss_archive_get_run(ss_archive *a, int i, ss_archive_run_info *out);

/* Frees the strings of info and zeroes it. */
void ss_archive_run_info_free(ss_archive_run_info *info);

/* Returns the static name of a status ("pending", "running", ...). */
const char *ss_archive_status_name(ss_run_status status);

/* Sets *status from its name; SS_ERR_ARG for an unknown name. */
ss_status ss_archive_status_parse(ss_run_status *status, const char *name);

/* Reads the sweep name, manifest text and its hash: malloc'ed strings (any
 * out pointer may be NULL to skip it). */
ss_status ss_archive_manifest(ss_archive *a, char **sweep, char **manifest_text, char **manifest_sha256);

/* Reads the overrides recorded by ss_archive_set_overrides into *overrides
 * (malloc'ed; "" when none were recorded). */
ss_status ss_archive_overrides(ss_archive *a, char **overrides);

/* Reads the metrics table of run i: *rows is malloc'ed (NULL when *n = 0). */
ss_status ss_archive_read_metrics(ss_archive *a, int i, ss_archive_metrics **rows, int *n);

/* Reads the per-style-layer values of run i: *values is *n_rows x *n_layers
 * (row-major, malloc'ed), *names the layer names (free with
 * ss_archive_strings_free). All zero/NULL when the run has none. */
ss_status ss_archive_read_style_layers(ss_archive *a, int i, double **values, int *n_rows, int *n_layers,
                                       char ***names);

/* Frees a string array returned by this module. */
void ss_archive_strings_free(char **s, int n);

/* Reads all snapshots of run i: *rgb holds *n images of *h x *w x 3 uint8
 * one after the other, *iterations their iteration numbers (both malloc'ed,
 * NULL when *n = 0). */
ss_status ss_archive_read_snapshots(ss_archive *a, int i, unsigned char **rgb, int **iterations, int *n, int *w,
                                    int *h);

/* Reads the final image of run i (h x w x 3 uint8, malloc'ed); *found = 0 and
 * *rgb = NULL when the run has none. */
ss_status ss_archive_read_final(ss_archive *a, int i, unsigned char **rgb, int *w, int *h, int *found);

/* Reads the newest valid checkpoint of run i into *out (see
 * ss_archive_checkpoint_found; *out is zeroed unless VALID). Corrupt or
 * half-written slots are never returned. */
ss_status ss_archive_read_checkpoint(ss_archive *a, int i, ss_archive_checkpoint *out,
                                     ss_archive_checkpoint_found *found);

/* Frees the buffers of a checkpoint read by ss_archive_read_checkpoint. */
void ss_archive_checkpoint_free(ss_archive_checkpoint *c);

/* ---- repair ---- */

/* What ss_archive_repair found and did. Strings malloc'ed (NULL when none);
 * free with ss_archive_repair_report_free. */
typedef struct ss_archive_repair_report {
    long journal_batches;   /* complete batches its journal held: rolled forward */
    long journal_pages;     /* pages in them */
    long long journal_torn; /* bytes after them that a crash cut short: ignored (never applied) */
    int opened;             /* 1 when HDF5 could open the archive */
    int n_runs;             /* runs in its run table (0 when unreadable) */
    int n_leftover;         /* groups without a table row (an append cut short), removed */
    int rebuilt;            /* 1 when a new archive was built from what survives */
    int n_lost;             /* runs that did not read back whole: left out, --resume runs them again */
    char *lost;             /* their ids, comma-separated (the first ~2000 bytes) */
    char *kept_as;          /* where the damaged file (and its journal) was moved */
} ss_archive_repair_report;

/* Checks the archive at path after a crash and repairs it (hdf5/SCHEMA.md,
 * "Crashes"): rolls its journal forward, reads every run back and removes
 * groups an interrupted append left without a table row. When a run does
 * not read back, a leftover cannot be removed or HDF5 cannot open the file
 * (and its journal), builds a new archive from what survives (the
 * manifest, its history and overrides, every run that reads back whole;
 * the others are named in *r and counted in runs_to_append, so --resume
 * runs them again) and moves the damaged file to ARCHIVE.damaged-TIME.
 * Refuses (changing nothing) an archive being written, a read-only one,
 * a newer schema, and files that are not archives. */
ss_status ss_archive_repair(const char *path, ss_archive_repair_report *r);

/* Frees the strings of a report and zeroes it. */
void ss_archive_repair_report_free(ss_archive_repair_report *r);

#endif
