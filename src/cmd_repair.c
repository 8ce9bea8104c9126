/* cmd_repair.c - `stylesweep repair ARCHIVE`: checks an archive after a
 * crash, rolls its journal forward and, when parts of it cannot be read,
 * rebuilds it from what survives (hdf5/SCHEMA.md, "Crashes"); says what it
 * found and what it did. */
#include <stdio.h>

#include "archive.h"
#include "cli.h"
#include "commands.h"

int ss_cmd_repair(int argc, char **argv) {
    const ss_cli_command cmd = {
        .name = "repair",
        .synopsis = "ARCHIVE.h5",
        .description =
            "Checks a sweep's archive after a crash and repairs it. Updates that a crash left\n"
            "committed in ARCHIVE.h5.journal are rolled forward; every run is read back and\n"
            "groups an interrupted append left behind are removed. When a run does not read\n"
            "back or HDF5 cannot open the file, a new archive is built from what survives:\n"
            "the runs lost are named, and `run --resume` runs them again. The damaged file is\n"
            "kept as ARCHIVE.h5.damaged-TIME. `run --resume` rolls the journal forward by\n"
            "itself; repair is for an archive that will not resume. Not while a sweep writes it.\n",
        .options = NULL,
        .n_options = 0,
        .min_positional = 1,
        .max_positional = 1,
        .needs = "ARCHIVE.h5"};
    ss_cli_args args;
    int rc = ss_cli_parse(&args, &cmd, argc, argv);
    if (rc != SS_CLI_GO) return rc;
    const char *path = args.positional[0];
    ss_archive_repair_report r;
    ss_status st = ss_archive_repair(path, &r);
    if (r.journal_batches || r.journal_torn)
        printf("%s: its journal held %ld committed update(s) (%ld pages): rolled forward%s\n", path, r.journal_batches,
               r.journal_pages,
               r.journal_torn ? "; and the end of one that a crash cut short: ignored (never applied)" : "");
    if (st != SS_OK) {
        fprintf(stderr, "stylesweep repair: %s\n", ss_error_message());
        ss_archive_repair_report_free(&r);
        return SS_EXIT_FAILURE;
    }
    if (!r.rebuilt) {
        printf("%s: %d run(s), every one reads back whole", path, r.n_runs);
        if (r.n_leftover) printf("; removed %d group(s) an interrupted append left without a row", r.n_leftover);
        printf(": nothing lost; `run --resume` continues it\n");
    } else {
        printf("%s: %s; rebuilt from what survives: %d of %d run(s) kept", path,
               r.opened ? "parts of it cannot be read" : "HDF5 cannot open it", r.n_runs - r.n_lost, r.n_runs);
        if (r.n_lost) printf(", %d lost (%s): `run --resume` runs them again", r.n_lost, r.lost ? r.lost : "?");
        else if (!r.opened) printf(": every run of the manifest runs again with `run --resume`");
        printf("\n%s: the damaged file is kept as %s\n", path, r.kept_as ? r.kept_as : "?");
    }
    ss_archive_repair_report_free(&r);
    return SS_EXIT_OK;
}
