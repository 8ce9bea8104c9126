/* sweep.h - the sweep over MPI: rank 0 expands the manifest, keeps the
 * archive (its only writer) and hands runs to idle workers one at a time;
 * workers run them and stream metrics, snapshots and checkpoints back. With
 * one rank, rank 0 runs everything itself. Knows runs, messages and the
 * archive; the work of a run is the worker's (worker.h). */
#ifndef SS_SWEEP_H
#define SS_SWEEP_H

#include <signal.h>

#include "exitcode.h"
#include "status.h"

typedef struct ss_sweep_options {
    const char *manifest;   /* the YAML manifest */
    const char *const *set; /* n_set "key=value" defaults for every run (--set; ss_manifest_overrides) */
    int n_set;
    const char *only;     /* "ID[,ID...]": only these runs (--only), or NULL */
    const char *archive;  /* the HDF5 archive */
    int resume;           /* continue an existing archive */
    int retry_failed;     /* with resume: run failed runs again */
    int force;            /* with resume: discard runs whose parameters changed */
    const char *backend;  /* cpu, cuda, auto */
    int device;           /* GPU index when not bound automatically (-1: automatic) */
    int threads;          /* CPU threads per worker; 0: the affinity mask */
    int checkpoint_every; /* iterations between checkpoints; 0: only at a stop */
    double summary_every; /* seconds between progress summaries */
    int quiet;
} ss_sweep_options;

/* How a sweep ended (the process exit codes of `stylesweep run`). */
typedef enum ss_sweep_end {
    SS_SWEEP_COMPLETE = SS_EXIT_OK,             /* every run done */
    SS_SWEEP_ERROR = SS_EXIT_FAILURE,           /* could not run (bad manifest, archive, MPI) */
    SS_SWEEP_INTERRUPTED = SS_EXIT_INTERRUPTED, /* stopped by a signal: run again with --resume */
    SS_SWEEP_RUNS_FAILED = SS_EXIT_RUNS_FAILED  /* finished, but some runs failed */
} ss_sweep_end;

/* Set by the signal handlers of `stylesweep run`: 1 after the first SIGINT,
 * SIGTERM or SIGUSR2 (stop at the next boundary), 2 after the second. */
extern volatile sig_atomic_t ss_sweep_stop_requested;

/* 1 while rank 0 is inside an archive call (read by the signal handler of
 * `stylesweep run`: a second signal then waits for the call to end, so that
 * the archive is left flushed). */
extern volatile sig_atomic_t ss_sweep_archive_busy;

/* Set when the sweep failed while other ranks may still wait for this one:
 * the caller must then MPI_Abort rather than MPI_Finalize. */
extern int ss_sweep_need_abort;

/* Runs the sweep on this rank (MPI is initialised by the caller; rank and
 * size of MPI_COMM_WORLD). Rank 0 prints its own errors (every manifest
 * error, one per line) and the progress; workers print nothing but fatal
 * errors. Returns how the sweep ended on rank 0; a worker returns
 * SS_SWEEP_COMPLETE unless it failed (SS_SWEEP_ERROR), so that mpirun, which
 * reports the first non-zero exit code, reports rank 0's. */
ss_sweep_end ss_sweep_run(const ss_sweep_options *o, int rank, int size);

#endif
