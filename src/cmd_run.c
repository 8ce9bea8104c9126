/* cmd_run.c - `stylesweep run MANIFEST -o ARCHIVE`: the sweep, under mpirun
 * or alone. Initialises MPI, installs the signal handlers and turns the way
 * the sweep ended into the process exit code. */
#include <errno.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "scheduler.h"

extern volatile sig_atomic_t ss_sweep_archive_busy;

static void on_signal(int sig) {
    (void)sig;
    if (ss_sweep_stop_requested) {
        /* the second signal: stop at once, unless rank 0 is inside an archive
         * call (it then stops right after it, the archive flushed) */
        static const char now[] = "stylesweep run: second signal: stopping now\n";
        ss_sweep_stop_requested = 2;
        ssize_t w = write(STDERR_FILENO, now, sizeof now - 1);
        (void)w;
        if (!ss_sweep_archive_busy) _exit(SS_SWEEP_INTERRUPTED);
        return;
    }
    ss_sweep_stop_requested = 1;
    static const char msg[] =
        "stylesweep run: stopping at the next iteration boundary (signal again to stop at once)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
}

static void run_usage(FILE *f) {
    fprintf(f,
            "usage: [mpirun -np N] stylesweep run MANIFEST -o ARCHIVE.h5 [OPTIONS]\n\n"
            "Runs every configuration of a sweep manifest (sweeps/README.md) and keeps\n"
            "everything in one HDF5 archive (hdf5/SCHEMA.md). Rank 0 coordinates and\n"
            "writes the archive; ranks 1..N-1 run configurations. One rank works alone.\n\n"
            "options:\n"
            "  -o, --output ARCHIVE     the archive (required); never overwritten\n"
            "  --resume                 continue ARCHIVE: done runs are skipped, unfinished runs\n"
            "                           continue from their last checkpoint, new runs are added\n"
            "  --retry-failed           with --resume: run failed runs again (attempts are counted)\n"
            "  --force                  with --resume: runs whose parameters changed in the manifest\n"
            "                           lose their stored results and run again (else refused)\n"
            "  --checkpoint-every N     checkpoint every N iterations [default: 1]\n"
            "  --summary-every S        seconds between progress summaries [default: 30]\n"
            "  --backend NAME           cpu, cuda or auto [default: auto]\n"
            "  --device N               GPU of every worker [default: a worker's index on its node]\n"
            "  --threads N              CPU threads per worker; 0: its affinity mask [default: 0]\n"
            "  --ready-file PATH        rank 0 creates PATH once every rank handles signals\n"
            "                           (a batch script forwards signals only then: slurm/README.md)\n"
            "  -q, --quiet              print only errors\n"
            "  -h, --help               this help\n\n"
            "SIGINT, SIGTERM, SIGUSR2: every run checkpoints at its next iteration boundary and\n"
            "the archive is closed; a second signal stops at once (the archive stays readable).\n"
            "Under mpirun send SIGUSR2: mpirun kills its ranks within seconds of a SIGTERM or\n"
            "SIGINT (README.md, \"Stopping and resuming\").\n\n"
            "exit codes: 0 every run done; 1 error; 2 usage; 3 interrupted (SIGINT, SIGTERM,\n"
            "SIGUSR2: run again with --resume); 4 finished with failed runs.\n");
}

static int parse_nonneg(const char *opt, const char *v, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !(x >= 0) || x > 1e9) {
        fprintf(stderr, "stylesweep run: %s: '%s' is not a number >= 0\n", opt, v);
        return -1;
    }
    *out = x;
    return 0;
}

int ss_cmd_run(int argc, char **argv) {
    /* first of all: a signal from now on is a clean stop (batch systems may
     * signal a job at any moment, also while its ranks start) */
    install_signals();
    /* whole lines reach a log file even when the job is killed (scancel) */
    setvbuf(stdout, NULL, _IOLBF, 0);
    ss_sweep_options o = {0};
    const char *ready_file = NULL;
    o.backend = "auto";
    o.device = -1;
    o.checkpoint_every = 1;
    o.summary_every = 30;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            return SS_EXIT_OK;
        } else if (!strcmp(a, "--resume")) o.resume = 1;
        else if (!strcmp(a, "--retry-failed")) o.retry_failed = 1;
        else if (!strcmp(a, "--force")) o.force = 1;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) o.quiet = 1;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--backend") || !strcmp(a, "--device") ||
                 !strcmp(a, "--threads") || !strcmp(a, "--checkpoint-every") || !strcmp(a, "--summary-every") ||
                 !strcmp(a, "--ready-file")) {
            if (!v) {
                fprintf(stderr, "stylesweep run: option %s needs a value\n", a);
                return SS_EXIT_USAGE;
            }
            i++;
            if (!strcmp(a, "-o") || !strcmp(a, "--output")) o.archive = v;
            else if (!strcmp(a, "--ready-file")) ready_file = v;
            else if (!strcmp(a, "--backend")) {
                if (strcmp(v, "cpu") && strcmp(v, "cuda") && strcmp(v, "auto")) {
                    fprintf(stderr, "stylesweep run: --backend: '%s' is not cpu, cuda or auto\n", v);
                    return SS_EXIT_USAGE;
                }
                o.backend = v;
            } else {
                if (parse_nonneg(a, v, &x)) return SS_EXIT_USAGE;
                if (!strcmp(a, "--summary-every")) o.summary_every = x;
                else if (x != (int)x || x > 100000) {
                    fprintf(stderr, "stylesweep run: %s: '%s' is not an integer from 0 to 100000\n", a, v);
                    return SS_EXIT_USAGE;
                } else if (!strcmp(a, "--device")) o.device = (int)x;
                else if (!strcmp(a, "--threads")) o.threads = (int)x;
                else o.checkpoint_every = (int)x;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "stylesweep run: unknown option %s (see --help)\n", a);
            return SS_EXIT_USAGE;
        } else if (!o.manifest) o.manifest = a;
        else {
            fprintf(stderr, "stylesweep run: unexpected argument '%s'\n", a);
            return SS_EXIT_USAGE;
        }
    }
    if (!o.manifest || !o.archive) {
        fprintf(stderr, "stylesweep run: needs MANIFEST and -o ARCHIVE.h5 (see --help)\n");
        return SS_EXIT_USAGE;
    }
    if (o.retry_failed && !o.resume) {
        fprintf(stderr, "stylesweep run: --retry-failed needs --resume\n");
        return SS_EXIT_USAGE;
    }
    if (o.force && !o.resume) {
        fprintf(stderr, "stylesweep run: --force needs --resume (an archive is never overwritten)\n");
        return SS_EXIT_USAGE;
    }
    int provided, rank = 0, size = 1;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "stylesweep run: MPI_Init failed\n");
        return SS_EXIT_FAILURE;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (ready_file) {
        /* every rank is past install_signals(): a batch script may forward signals now */
        MPI_Barrier(MPI_COMM_WORLD);
        FILE *f = rank == 0 ? fopen(ready_file, "w") : NULL;
        if (f) fclose(f);
        else if (rank == 0)
            fprintf(stderr, "stylesweep run: --ready-file %s: %s (going on)\n", ready_file, strerror(errno));
    }
    ss_sweep_end end = ss_scheduler_run(&o, rank, size);
    if (end == SS_SWEEP_ERROR && ss_sweep_need_abort) {
        /* a rank that cannot go on takes the job down, so that no rank hangs */
        fflush(stdout);
        MPI_Abort(MPI_COMM_WORLD, SS_SWEEP_ERROR);
    }
    MPI_Finalize();
    return (int)end;
}
