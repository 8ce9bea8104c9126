/* cmd_run.c - `stylesweep run MANIFEST -o ARCHIVE`: the sweep, under mpirun
 * or alone. Initialises MPI, installs the signal handlers and turns the way
 * the sweep ended into the process exit code. */
#include <errno.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "sweep.h"

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
    ss_cli_sets sets = {0};
    const ss_cli_option opts[] = {
        {"--output", "-o", SS_CLI_TEXT, &o.archive, "ARCHIVE", 0, 0, NULL, "the archive (required); never overwritten"},
        {"--resume", NULL, SS_CLI_FLAG, &o.resume, NULL, 0, 0, NULL,
         "continue ARCHIVE: done runs are skipped, unfinished runs\n"
         "continue from their last checkpoint, new runs are added"},
        {"--retry-failed", NULL, SS_CLI_FLAG, &o.retry_failed, NULL, 0, 0, NULL,
         "with --resume: run failed runs again (attempts are counted)"},
        {"--force", NULL, SS_CLI_FLAG, &o.force, NULL, 0, 0, NULL,
         "with --resume: runs whose parameters changed in the manifest\n"
         "lose their stored results and run again (else refused)"},
        {"--set", NULL, SS_CLI_SET, &sets, "KEY=VALUE", 0, 0, NULL,
         "replace a default for every run (repeatable); a value the run's\n"
         "experiment, grid point or sample sets itself wins (sweeps/README.md);\n"
         "recorded in the archive; --resume with other values is a changed manifest"},
        {"--only", NULL, SS_CLI_TEXT, &o.only, "ID[,ID...]", 0, 0, NULL,
         "only these runs (run or experiment ids); --resume without it adds the rest"},
        {"--checkpoint-every", NULL, SS_CLI_INT, &o.checkpoint_every, "N", 0, 100000, NULL,
         "checkpoint every N iterations [default: 1]"},
        {"--summary-every", NULL, SS_CLI_NUMBER, &o.summary_every, "S", 0, 1e9, NULL,
         "seconds between progress summaries [default: 30]"},
        {"--backend", NULL, SS_CLI_CHOICE, &o.backend, "NAME", 0, 0, "cpu|cuda|auto",
         "cpu, cuda or auto [default: auto]"},
        {"--device", NULL, SS_CLI_INT, &o.device, "N", 0, 100000, NULL,
         "GPU of every worker [default: a worker's index on its node]"},
        {"--threads", NULL, SS_CLI_INT, &o.threads, "N", 0, 100000, NULL,
         "CPU threads per worker; 0: its affinity mask [default: 0]"},
        {"--ready-file", NULL, SS_CLI_TEXT, &ready_file, "PATH", 0, 0, NULL,
         "rank 0 creates PATH once every rank handles signals (a batch\n"
         "script passes signals on only then: slurm/README.md)"},
        {"--quiet", "-q", SS_CLI_FLAG, &o.quiet, NULL, 0, 0, NULL, "print only errors"},
    };
    const ss_cli_command cmd = {
        .name = "run",
        .synopsis =
            "MANIFEST -o ARCHIVE.h5 [--set KEY=VALUE]... [--only ID[,ID...]] [OPTIONS]\n"
            "       (alone, or under mpirun -np N)",
        .description =
            "Runs every configuration of a sweep manifest (sweeps/README.md) and keeps\n"
            "everything in one HDF5 archive (hdf5/SCHEMA.md). Rank 0 coordinates and\n"
            "writes the archive; ranks 1..N-1 run configurations. One rank works alone.\n",
        .epilog =
            "SIGINT, SIGTERM, SIGUSR2: every run checkpoints at its next iteration boundary and\n"
            "the archive is closed; a second signal stops at once (the archive stays readable).\n"
            "Under mpirun send SIGUSR2: mpirun kills its ranks within seconds of a SIGTERM or\n"
            "SIGINT (README.md, \"Stopping and resuming\").\n\n"
            "exit codes: 0 every run done; 1 error; 2 usage; 3 interrupted (SIGINT, SIGTERM,\n"
            "SIGUSR2: run again with --resume); 4 finished with failed runs.\n",
        .options = opts,
        .n_options = (int)(sizeof opts / sizeof opts[0]),
        .min_positional = 1,
        .max_positional = 1,
        .needs = "MANIFEST and -o ARCHIVE.h5"};
    ss_cli_args args;
    int rc = ss_cli_parse(&args, &cmd, argc, argv);
    if (rc != SS_CLI_GO) return rc;
    o.manifest = args.positional[0];
    o.set = sets.item;
    o.n_set = sets.n;
    if (!o.archive) return ss_cli_usage_error(&cmd, "needs %s (see --help)", cmd.needs);
    if (o.retry_failed && !o.resume) return ss_cli_usage_error(&cmd, "--retry-failed needs --resume");
    if (o.force && !o.resume)
        return ss_cli_usage_error(&cmd, "--force needs --resume (an archive is never overwritten)");
    int provided, rank = 0, size = 1;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "stylesweep run: MPI_Init failed\n");
        return SS_EXIT_FAILURE;
    }
    /* MPI errors come back as codes (MPI_CHECK, check.h) instead of aborting the job */
    int erc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (erc != MPI_SUCCESS || provided < MPI_THREAD_FUNNELED) {
        if (rank == 0)
            fprintf(stderr, "stylesweep run: %s\n",
                    erc != MPI_SUCCESS ? "MPI: MPI_Comm_set_errhandler(MPI_ERRORS_RETURN) failed"
                                       : "MPI: this MPI library does not provide MPI_THREAD_FUNNELED");
        MPI_Finalize();
        return SS_EXIT_FAILURE;
    }
    if (ready_file) {
        /* every rank is past install_signals(): a batch script may pass signals on now */
        MPI_Barrier(MPI_COMM_WORLD);
        FILE *f = rank == 0 ? fopen(ready_file, "w") : NULL;
        if (f) fclose(f);
        else if (rank == 0)
            fprintf(stderr, "stylesweep run: --ready-file %s: %s (going on)\n", ready_file, strerror(errno));
    }
    ss_sweep_end end = ss_sweep_run(&o, rank, size);
    if (end == SS_SWEEP_ERROR && ss_sweep_need_abort) {
        /* a rank that cannot go on takes the job down, so that no rank hangs */
        fflush(stdout);
        MPI_Abort(MPI_COMM_WORLD, SS_SWEEP_ERROR);
    }
    MPI_Finalize();
    return (int)end;
}
