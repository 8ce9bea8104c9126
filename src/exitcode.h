/* exitcode.h - the process exit codes of every stylesweep command, in one
 * place (main.c, cli.c, the commands and the sweep's ss_sweep_end). */
#ifndef SS_EXITCODE_H
#define SS_EXITCODE_H

enum {
    SS_EXIT_OK = 0,          /* the command did what was asked */
    SS_EXIT_FAILURE = 1,     /* the work failed (bad input, I/O, numerical, MPI) */
    SS_EXIT_USAGE = 2,       /* the command line is wrong */
    SS_EXIT_INTERRUPTED = 3, /* `run` stopped by a signal: run again with --resume */
    SS_EXIT_RUNS_FAILED = 4  /* `run` finished, but some runs failed */
};

#endif
