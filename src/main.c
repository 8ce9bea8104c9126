/* main.c - the stylesweep command line: dispatches to the commands and is
 * the only place (with the MPI scheduler) that prints errors and exits. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: stylesweep COMMAND [OPTIONS]\n"
            "\n"
            "Neural style transfer (Gatys et al.) for every configuration of a parameter sweep.\n"
            "\n"
            "commands:\n"
            "  transfer CONTENT STYLE [STYLE...] -o OUT.png   one style transfer\n"
            "  eval CONTENT STYLE [STYLE...] -o OUT.h5        one evaluation: losses and gradient\n"
            "  bench                                          time one evaluation (random weights)\n"
            "  plan MANIFEST                                  validate a sweep manifest and list its runs\n"
            "  run MANIFEST -o ARCHIVE.h5                     run a sweep (under mpirun or alone)\n"
            "  status ARCHIVE.h5                              counts by state and per-run progress\n"
            "  export ARCHIVE.h5 -o DIR                       snapshots, final images and parameters as files\n"
            "\n"
            "`stylesweep COMMAND --help` lists a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("stylesweep %s\n", SS_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "eval")) return ss_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return ss_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "transfer")) return ss_cmd_transfer(argc - 1, argv + 1);
    if (!strcmp(cmd, "plan")) return ss_cmd_plan(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return ss_cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "status")) return ss_cmd_status(argc - 1, argv + 1);
    if (!strcmp(cmd, "export")) return ss_cmd_export(argc - 1, argv + 1);
    fprintf(stderr, "stylesweep: unknown command '%s' (try stylesweep --help)\n", cmd);
    return 2;
}
