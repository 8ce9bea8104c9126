/* cmd_export.c - `stylesweep export ARCHIVE -o DIR`: per run a folder with
 * its snapshots as PNG, its final image, its metrics as CSV and a text file
 * of all its parameters (what the founding study kept per experiment). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "check.h"
#include "cli.h"
#include "commands.h"
#include "image.h"
#include "util.h"

/* Writes text to path durably (util.h). */
static ss_status write_text(const char *path, const char *text) {
    return ss_file_write_durable(path, text, strlen(text));
}

/* Writes s as a YAML double-quoted scalar (escaping quotes, backslashes and
 * control characters), so that any path or error text parses back as itself. */
static void yaml_quoted(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\x%02x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static ss_status save_rgb(const char *path, unsigned char *rgb, int w, int h) {
    ss_image img = {w, h, rgb};
    return ss_image_save(path, &img);
}

static ss_status export_run(ss_archive *a, int i, const char *dir, int *n_files) {
    ss_archive_run_info r = {0};
    ss_status st = ss_archive_get_run(a, i, &r);
    char base[4096], path[4200];
    snprintf(base, sizeof base, "%s/%s", dir, r.id ? r.id : "");
    if (st == SS_OK && mkdir(base, 0777) != 0 && errno != EEXIST)
        st = ss_error(SS_ERR_IO, "cannot make %s: %s", base, strerror(errno));
    if (st == SS_OK) {
        /* parameters and what ran, like the study's text file; the free
         * texts (paths, names, the error) as YAML double-quoted strings */
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f) st = ss_error(SS_ERR_NOMEM, "out of memory");
        else {
            fprintf(f, "# run %s\n%sstatus: %s\nattempts: %d\niterations_done: %d\n", r.id, r.params,
                    ss_archive_status_name(r.status), r.attempts, r.iterations_done);
            const char *keys[5] = {"weights_used", "host", "backend", "device", "error"};
            const char *vals[5] = {r.weights, r.host, r.backend, r.device, r.error};
            for (int k = 0; k < 5; k++) {
                fprintf(f, "%s: ", keys[k]);
                yaml_quoted(f, vals[k]);
                fputc('\n', f);
            }
            fclose(f);
            snprintf(path, sizeof path, "%s/parameters.yaml", base);
            st = text ? write_text(path, text) : ss_error(SS_ERR_NOMEM, "out of memory");
            free(text);
            ++*n_files;
        }
    }
    ss_archive_metrics *rows = NULL;
    int n = 0;
    if (st == SS_OK) st = ss_archive_read_metrics(a, i, &rows, &n);
    if (st == SS_OK && n > 0) {
        char *csv = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&csv, &size);
        fprintf(f, "iteration,loss,content,style,tv,evaluations,seconds,improvement_percent\n");
        for (int k = 0; k < n; k++)
            fprintf(f, "%d,%.17g,%.17g,%.17g,%.17g,%d,%.6f,%.17g\n", rows[k].iteration, rows[k].loss, rows[k].content,
                    rows[k].style, rows[k].tv, rows[k].evaluations, rows[k].seconds, rows[k].improvement_percent);
        fclose(f);
        snprintf(path, sizeof path, "%s/metrics.csv", base);
        st = write_text(path, csv);
        free(csv);
        ++*n_files;
    }
    free(rows);
    unsigned char *rgb = NULL;
    int *its = NULL, w = 0, h = 0;
    if (st == SS_OK) st = ss_archive_read_snapshots(a, i, &rgb, &its, &n, &w, &h);
    for (int k = 0; st == SS_OK && k < n; k++) {
        snprintf(path, sizeof path, "%s/iteration_%04d.png", base, its[k]);
        st = save_rgb(path, rgb + (size_t)k * w * h * 3, w, h);
        ++*n_files;
    }
    free(rgb);
    free(its);
    rgb = NULL;
    int found = 0;
    if (st == SS_OK) st = ss_archive_read_final(a, i, &rgb, &w, &h, &found);
    if (st == SS_OK && found) {
        snprintf(path, sizeof path, "%s/final.png", base);
        st = save_rgb(path, rgb, w, h);
        ++*n_files;
    }
    free(rgb);
    ss_archive_run_info_free(&r);
    return st;
}

int ss_cmd_export(int argc, char **argv) {
    const char *dir = NULL, *only = NULL;
    const ss_cli_option opts[] = {
        {"--output", "-o", SS_CLI_TEXT, &dir, "DIR", 0, 0, NULL, "where to write (made if missing; required)"},
        {"--only", NULL, SS_CLI_TEXT, &only, "ID[,ID...]", 0, 0, NULL, "export only these runs"},
    };
    const ss_cli_command cmd = {.name = "export",
                                .synopsis = "ARCHIVE.h5 -o DIR",
                                .description =
                                    "Writes per run DIR/<id>/ with iteration_NNNN.png (the snapshots), final.png,\n"
                                    "metrics.csv and parameters.yaml. Existing files of the same names are replaced.\n",
                                .options = opts,
                                .n_options = (int)(sizeof opts / sizeof opts[0]),
                                .min_positional = 1,
                                .max_positional = 1,
                                .needs = "ARCHIVE.h5 and -o DIR"};
    ss_cli_args args;
    int rc = ss_cli_parse(&args, &cmd, argc, argv);
    if (rc != SS_CLI_GO) return rc;
    const char *path = args.positional[0];
    if (!dir) return ss_cli_usage_error(&cmd, "needs %s (see --help)", cmd.needs);
    ss_archive *a;
    if (ss_archive_open(&a, path, 0) != SS_OK) {
        fprintf(stderr, "stylesweep export: %s\n", ss_error_message());
        return SS_EXIT_FAILURE;
    }
    ss_status st = SS_OK;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) st = ss_error(SS_ERR_IO, "cannot make %s: %s", dir, strerror(errno));
    int n = ss_archive_run_count(a), files = 0;
    /* the archive's readers retry a read that races one of a running sweep's
     * flushes themselves (hdf5/SCHEMA.md, "Reading while a sweep runs") */
    if (only && only[0]) {
        n = 0;
        for (const char *s = only; st == SS_OK && *s;) {
            size_t len = strcspn(s, ",");
            char id[512];
            snprintf(id, sizeof id, "%.*s", (int)(len < sizeof id ? len : sizeof id - 1), s);
            int i = -1, run_files = 0;
            st = ss_archive_find_run(a, id, &i);
            if (st == SS_OK) st = export_run(a, i, dir, &run_files);
            if (st == SS_OK) files += run_files, n++;
            s += len + (s[len] == ',');
        }
    }
    for (int i = 0; !(only && only[0]) && st == SS_OK && i < n; i++) {
        int run_files = 0;
        st = export_run(a, i, dir, &run_files);
        if (st == SS_OK) files += run_files;
    }
    ss_archive_close(a);
    if (st != SS_OK) {
        fprintf(stderr, "stylesweep export: %s\n", ss_error_message());
        return SS_EXIT_FAILURE;
    }
    printf("%d runs, %d files written to %s\n", n, files, dir);
    return SS_EXIT_OK;
}
