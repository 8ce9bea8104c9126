/* manifest.h - a sweep manifest (YAML, see sweeps/README.md): its text and
 * SHA-256, its defaults, and the runs it expands to (experiments x grid
 * points x random samples), each with a stable id and fully set parameters.
 *
 * Everything is validated while loading, before anything runs: every error
 * is collected as one line "FILE:LINE: key: message". */
#ifndef SS_MANIFEST_H
#define SS_MANIFEST_H

#include <stddef.h>

#include "params.h"
#include "status.h"

enum {
    SS_RUN_ID_MAX = 96,             /* a run id with its NUL */
    SS_EXPERIMENT_ID_MAX = 64,      /* an experiment id with its NUL */
    SS_SWEEP_NAME_MAX = 64,         /* the sweep's name with its NUL */
    SS_MANIFEST_MAX_RUNS = 1000000, /* more runs than this is an error */
    SS_MANIFEST_MAX_BYTES = 16 << 20
};

/* One run of the sweep. The id is experiment id, then "-gNNN" (1-based grid
 * point) when the manifest has a grid, then "-rNNN" (1-based random sample)
 * when it has a random section: "t01", "t01-g002", "run-r005", "t01-g002-r005".
 * Ids match [A-Za-z0-9_.-]+ (valid HDF5 group and file names). */
typedef struct ss_run_spec {
    char id[SS_RUN_ID_MAX];
    char experiment[SS_EXPERIMENT_ID_MAX]; /* the experiment's id ("run" when none) */
    int grid_point;                        /* 1-based, 0 without a grid */
    int random_sample;                     /* 1-based, 0 without a random section */
    ss_params params;                      /* paths resolved from the current directory */
} ss_run_spec;

/* What the command line changes of a manifest (`--set`, `--only`). */
typedef struct ss_manifest_overrides {
    int n_set;
    const char *const *set; /* "key=value" items: each replaces a default for every run, after the manifest's
                               `defaults:`; a value an experiment, grid point or random sample sets itself wins */
    const char *only;       /* "ID[,ID...]": keep only these runs (a run id, or an experiment id for all of its
                               runs); NULL or "": every run */
} ss_manifest_overrides;

typedef struct ss_manifest {
    char path[SS_PATH_MAX];        /* as given to ss_manifest_load */
    char sweep[SS_SWEEP_NAME_MAX]; /* `sweep:`, or the file's name without extension */
    char *text;                    /* the file's bytes, NUL-terminated */
    size_t text_len;               /* bytes in text, without the NUL */
    char sha256[65];               /* SHA-256 of text, lowercase hex */
    ss_params defaults;            /* built-in defaults overridden by `defaults:`, then by --set */
    char *overrides;               /* the --set items applied, "key=value\n" each (keys with underscores);
                                      NULL when none */
    int n_runs;                    /* runs, in order: experiment, grid point, random sample */
    struct ss_manifest_plan *plan; /* what they expand from (private: ss_manifest_run builds one) */
    int *only;                     /* with --only: run i is the plan's run only[i] (NULL: all, in order) */
} ss_manifest;

/* Reads, parses, validates and expands the manifest at path into m (which
 * need not be initialised). Relative paths in the manifest (content, style,
 * a weights file) are taken from the manifest's folder and rewritten to be
 * usable from the current directory. ov (NULL: none) changes the manifest
 * as if its `defaults:` ended with the --set items (their paths taken from
 * the current directory; an error names "--set" and the key) and keeps only
 * the runs of ov->only (an unknown id is an error naming it). Every error found is reported, one line
 * each ("FILE:LINE: key: message\n"); when errors is not NULL *errors
 * receives them as one malloc'ed string (NULL when there are none; the
 * caller frees it), and *n_errors (when not NULL) their count.
 * Returns SS_OK with m filled when there is no error; otherwise m is left
 * empty (safe to free) and the status is SS_ERR_IO when the file cannot be
 * read, SS_ERR_NOMEM when memory ran out, SS_ERR_ARG for any other error,
 * with ss_error's message "FILE: N errors" (or the I/O error). */
ss_status ss_manifest_load(ss_manifest *m, const char *path, const ss_manifest_overrides *ov, char **errors,
                           int *n_errors);

/* Frees what ss_manifest_load allocated and empties m (idempotent). */
void ss_manifest_free(ss_manifest *m);

/* Writes into buf the keys whose values differ between a and b, as
 * "key=value key=value" (b's values, in the parameter table's order, numbers
 * in their shortest exact form); buf is "" when none differ. Returns the
 * number of differing keys. */
int ss_manifest_diff(const ss_params *a, const ss_params *b, char *buf, size_t size);

/* Fills *out with run i (0 <= i < n_runs; SS_ERR_ARG otherwise). Runs are
 * not kept in memory (a manifest may expand to SS_MANIFEST_MAX_RUNS): each
 * call rebuilds the run from the manifest's sections, in microseconds. */
ss_status ss_manifest_run(ss_run_spec *out, const ss_manifest *m, int i);

/* Returns the index of the run with this id, or -1 (constant time: the id
 * is parsed, not searched). */
int ss_manifest_find_run(const ss_manifest *m, const char *id);

#endif
