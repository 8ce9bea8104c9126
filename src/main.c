/* main.c - the stylesweep command line: dispatches to the commands and is
 * the only place (with the MPI scheduler) that prints errors and exits. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "params.h"

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
            "  repair ARCHIVE.h5                              check an archive after a crash, rebuild what it can\n"
            "\n"
            "`stylesweep COMMAND --help` lists a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return SS_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return SS_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("stylesweep %s\n", SS_VERSION_STRING);
        return SS_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {{"transfer", ss_cmd_transfer}, {"eval", ss_cmd_eval},    {"bench", ss_cmd_bench},
                    {"plan", ss_cmd_plan},         {"run", ss_cmd_run},      {"status", ss_cmd_status},
                    {"export", ss_cmd_export},     {"repair", ss_cmd_repair}};
    enum { N_COMMANDS = sizeof commands / sizeof commands[0] };
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    int best = 0;
    size_t best_d = (size_t)-1;
    for (int i = 0; i < N_COMMANDS; i++) {
        size_t d = ss_params_edit_distance(cmd, commands[i].name);
        if (d < best_d) best_d = d, best = i;
    }
    if (best_d <= 2) fprintf(stderr, "stylesweep: unknown command '%s' (did you mean %s?)\n", cmd, commands[best].name);
    else fprintf(stderr, "stylesweep: unknown command '%s' (try stylesweep --help)\n", cmd);
    return SS_EXIT_USAGE;
}
