/* cmd_status.c - `stylesweep status ARCHIVE`: counts by state and per-run
 * progress, readable while a sweep runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "cli.h"
#include "commands.h"
#include "params.h"

static int parse_iterations(const char *params) {
    const char *k = params ? strstr(params, "\niterations: ") : NULL;
    return k ? atoi(k + 13) : 0;
}

int ss_cmd_status(int argc, char **argv) {
    int quiet = 0;
    const ss_cli_option opts[] = {
        {"--summary", NULL, SS_CLI_FLAG, &quiet, NULL, 0, 0, NULL, "only the counts"},
    };
    const ss_cli_command cmd = {.name = "status",
                                .synopsis = "ARCHIVE.h5 [--summary]",
                                .description =
                                    "Prints the number of runs in each state, then one line per run: its id,\n"
                                    "state, iterations done of all, attempts, final loss, host and device, and the\n"
                                    "error of a failed run. Safe to use while the sweep runs.\n",
                                .options = opts,
                                .n_options = (int)(sizeof opts / sizeof opts[0]),
                                .min_positional = 1,
                                .max_positional = 1,
                                .needs = "ARCHIVE.h5"};
    ss_cli_args args;
    int rc_parse = ss_cli_parse(&args, &cmd, argc, argv);
    if (rc_parse != SS_CLI_GO) return rc_parse;
    const char *path = args.positional[0];
    ss_archive *a;
    if (ss_archive_open(&a, path, 0) != SS_OK) {
        fprintf(stderr, "stylesweep status: %s\n", ss_error_message());
        return SS_EXIT_FAILURE;
    }
    char *sweep = NULL;
    ss_archive_manifest(a, &sweep, NULL, NULL);
    int n = 0, counts[SS_RUN_STATUS_COUNT] = {0};
    ss_archive_run_info *info = NULL;
    int rc = SS_EXIT_OK;
    /* the archive's readers retry a read that races one of the writer's
     * flushes themselves (hdf5/SCHEMA.md, "Reading while a sweep runs"); --summary reads
     * only the run table's status column */
    n = ss_archive_run_count(a);
    long long missing = 0; /* runs of the manifest the sweep has not appended yet */
    ss_status ms = ss_archive_runs_to_append(a, &missing);
    if (ms != SS_OK) fprintf(stderr, "stylesweep status: %s\n", ss_error_message());
    info = calloc((size_t)n + 1, sizeof *info);
    ss_run_status *status = malloc(sizeof *status * ((size_t)n + 1));
    ss_status st = info && status ? ss_archive_read_statuses(status, a) : SS_ERR_NOMEM;
    for (int i = 0; st == SS_OK && i < n; i++) {
        counts[status[i]]++;
        if (!quiet) st = ss_archive_get_run(a, i, &info[i]);
    }
    free(status);
    if (st != SS_OK) {
        fprintf(stderr, "stylesweep status: %s\n", st == SS_ERR_NOMEM ? "out of memory" : ss_error_message());
        rc = SS_EXIT_FAILURE;
    }
    if (rc == SS_EXIT_OK) {
        printf("%s: sweep %s, %d runs:", path, sweep ? sweep : "?", n);
        for (int s = 0; s < SS_RUN_STATUS_COUNT; s++)
            printf(" %d %s%s", counts[s], ss_archive_status_name(s), s + 1 < SS_RUN_STATUS_COUNT ? "," : "\n");
        if (missing > 0)
            printf(
                "  and %lld more run(s) of the manifest not in the archive yet: the sweep appends them as it "
                "goes (one that stopped first left them to `run --resume`)\n",
                missing);
        for (int i = 0; !quiet && i < n; i++) {
            const ss_archive_run_info *r = &info[i];
            printf("  %-24s %-11s %4d/%-4d it  %d attempt(s)", r->id, ss_archive_status_name(r->status),
                   r->iterations_done, parse_iterations(r->params), r->attempts);
            if (!isnan(r->final_loss)) printf("  loss %.6g", r->final_loss);
            if (r->host[0]) printf("  %s rank %d %s", r->host, r->rank, r->device);
            if (r->status == SS_RUN_FAILED && r->error[0]) printf("  error: %s", r->error);
            printf("\n");
        }
    }
    for (int i = 0; info && i < n; i++) ss_archive_run_info_free(&info[i]);
    free(info);
    free(sweep);
    ss_archive_close(a);
    return rc;
}
