/* cmd_plan.c - `stylesweep plan MANIFEST`: loads and validates a sweep
 * manifest and prints the runs it expands to (each id with the parameters
 * that differ from the manifest's defaults) without running or writing
 * anything. Every error of the manifest is printed, one line each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "manifest.h"

static void plan_usage(FILE *f) {
    fprintf(f,
            "usage: stylesweep plan [--defaults] MANIFEST\n\n"
            "Validates a sweep manifest (YAML, see sweeps/README.md) and prints the runs it\n"
            "expands to: each run's id and the parameters that differ from the manifest's\n"
            "defaults, then the number of runs. Nothing is run and no file is written.\n"
            "Every error is printed as FILE:LINE: key: message (exit status 1).\n\n"
            "options:\n"
            "  --defaults   also print every parameter of the defaults (YAML)\n"
            "  -h, --help   this help\n");
}

int ss_cmd_plan(int argc, char **argv) {
    const char *path = NULL;
    int show_defaults = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            plan_usage(stdout);
            return SS_EXIT_OK;
        }
        if (!strcmp(argv[i], "--defaults")) show_defaults = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "stylesweep plan: unknown option %s (see --help)\n", argv[i]);
            return SS_EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "stylesweep plan: one manifest at a time (see --help)\n");
            return SS_EXIT_USAGE;
        } else path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "stylesweep plan: needs a MANIFEST (see --help)\n");
        return SS_EXIT_USAGE;
    }
    ss_manifest m;
    char *errors = NULL;
    int n_errors = 0;
    if (ss_manifest_load(&m, path, &errors, &n_errors) != SS_OK) {
        if (errors) fputs(errors, stderr);
        fprintf(stderr, "stylesweep plan: %s: %d error%s\n", path, n_errors, n_errors == 1 ? "" : "s");
        free(errors);
        return SS_EXIT_FAILURE;
    }
    printf("sweep %s  (%s, sha256 %s)\n", m.sweep, m.path, m.sha256);
    if (show_defaults) {
        printf("defaults:\n");
        ss_params_write(&m.defaults, stdout);
        printf("runs:\n");
    }
    char *buf = malloc(1 << 16);
    ss_run_spec *r = malloc(sizeof *r);
    if (!buf || !r) {
        fprintf(stderr, "stylesweep plan: out of memory\n");
        free(buf);
        free(r);
        ss_manifest_free(&m);
        return SS_EXIT_FAILURE;
    }
    /* the runs of one experiment have ids of one length */
    int width = 0;
    char last[SS_EXPERIMENT_ID_MAX] = "";
    for (int i = 0; i < m.n_runs; i++)
        if (ss_manifest_run(r, &m, i) == SS_OK && (!i || strcmp(r->experiment, last) != 0)) {
            snprintf(last, sizeof last, "%s", r->experiment);
            if ((int)strlen(r->id) > width) width = (int)strlen(r->id);
        }
    for (int i = 0; i < m.n_runs; i++) {
        if (ss_manifest_run(r, &m, i) != SS_OK) break;
        ss_manifest_diff(&m.defaults, &r->params, buf, 1 << 16);
        printf("%-*s  %s\n", width, r->id, buf[0] ? buf : "(defaults)");
    }
    free(r);
    printf("%d run%s\n", m.n_runs, m.n_runs == 1 ? "" : "s");
    free(buf);
    ss_manifest_free(&m);
    return SS_EXIT_OK;
}
