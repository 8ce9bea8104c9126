/* cmd_plan.c - `stylesweep plan MANIFEST`: loads and validates a sweep
 * manifest and prints the runs it expands to (each id with the parameters
 * that differ from the manifest's defaults) without running or writing
 * anything. Every error of the manifest is printed, one line each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "manifest.h"

int ss_cmd_plan(int argc, char **argv) {
    int show_defaults = 0;
    ss_cli_sets sets = {0};
    const char *only = NULL;
    const ss_cli_option opts[] = {
        {"--defaults", NULL, SS_CLI_FLAG, &show_defaults, NULL, 0, 0, NULL,
         "also print every parameter of the defaults (YAML)"},
        {"--set", NULL, SS_CLI_SET, &sets, "KEY=VALUE", 0, 0, NULL,
         "replace a default for every run (repeatable); a value the run's\n"
         "experiment, grid point or sample sets itself wins (sweeps/README.md)"},
        {"--only", NULL, SS_CLI_TEXT, &only, "ID[,ID...]", 0, 0, NULL, "only these runs (run or experiment ids)"},
    };
    const ss_cli_command cmd = {.name = "plan",
                                .synopsis = "[--defaults] [--set KEY=VALUE]... [--only ID[,ID...]] MANIFEST",
                                .description =
                                    "Validates a sweep manifest (YAML, see sweeps/README.md) and prints the runs it\n"
                                    "expands to: each run's id and the parameters that differ from the manifest's\n"
                                    "defaults, then the number of runs. Nothing is run and no file is written.\n"
                                    "Every error is printed as FILE:LINE: key: message (exit status 1).\n",
                                .options = opts,
                                .n_options = (int)(sizeof opts / sizeof opts[0]),
                                .min_positional = 1,
                                .max_positional = 1,
                                .needs = "a MANIFEST"};
    ss_cli_args args;
    int rc = ss_cli_parse(&args, &cmd, argc, argv);
    if (rc != SS_CLI_GO) return rc;
    const char *path = args.positional[0];
    ss_manifest_overrides ov = {sets.n, sets.item, only};
    ss_manifest m;
    char *errors = NULL;
    int n_errors = 0;
    if (ss_manifest_load(&m, path, &ov, &errors, &n_errors) != SS_OK) {
        if (errors) fputs(errors, stderr);
        fprintf(stderr, "stylesweep plan: %s: %d error%s\n", path, n_errors, n_errors == 1 ? "" : "s");
        free(errors);
        return SS_EXIT_FAILURE;
    }
    printf("sweep %s  (%s, sha256 %s)\n", m.sweep, m.path, m.sha256);
    if (m.overrides) { /* "key=value\n" each, printed on one line */
        printf("--set (every run, unless the run sets the key itself):");
        for (const char *s = m.overrides; *s;) {
            size_t n = strcspn(s, "\n");
            printf(" %.*s", (int)n, s);
            s += n + (s[n] == '\n');
        }
        printf("\n");
    }
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
