/* cmd_transfer.c - `stylesweep transfer`: one style transfer from the
 * command line, with per-iteration progress, snapshots next to the output
 * and a parameters file beside it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "commands.h"
#include "engine.h"
#include "util.h"

enum { TRANSFER_FLAGS = SS_CLI_OUTPUT | SS_CLI_THREADS | SS_CLI_BACKEND | SS_CLI_FORCE | SS_CLI_QUIET };

typedef struct transfer_ctx {
    const ss_cli *cli;
    const ss_setup *setup;
    char stem[PATH_MAX]; /* output path without its extension */
    const char *ext;     /* ".png", ".jpg" ... */
    int tty;
    double seconds;
} transfer_ctx;

static ss_status on_iteration(void *vctx, const ss_iteration *it) {
    transfer_ctx *c = vctx;
    c->seconds += it->seconds;
    if (c->cli->quiet) return SS_OK;
    double style = 0;
    for (int l = 0; l < c->setup->cfg.n_style_layers; l++) style += it->terms.style[l];
    printf("%s%4d/%d  loss %.6g  content %.4g  style %.4g  tv %.4g  improvement %6.2f%%  evals %d  %.2fs\n",
           c->tty ? "\r\033[K" : "", it->iteration, c->setup->params.iterations, it->terms.total, it->terms.content,
           style, it->terms.tv, it->improvement, it->evaluations, it->seconds);
    fflush(stdout);
    return SS_OK;
}

static void on_evaluation(void *vctx, int iteration, int evaluation, double loss) {
    transfer_ctx *c = vctx;
    if (!c->tty || c->cli->quiet) return;
    printf("\r\033[K%4d/%d  evaluation %d  loss %.6g", iteration, c->setup->params.iterations, evaluation, loss);
    fflush(stdout);
}

static ss_status on_snapshot(void *vctx, int iteration, const ss_image *img) {
    transfer_ctx *c = vctx;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s_iter%04d%s", c->stem, iteration, c->ext);
    if (!c->cli->force && access(path, F_OK) == 0)
        return ss_error(SS_ERR_IO, "snapshot %s exists; give --force to overwrite it", path);
    return ss_image_save(path, img);
}

/* Checks the output before any work: extension, directory writable, not existing. */
static ss_status check_output(transfer_ctx *c, const char *out) {
    const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (!dot || (slash && dot < slash) ||
        (strcasecmp(dot, ".png") && strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg")))
        return ss_error(SS_ERR_ARG, "output %s: the name must end in .png, .jpg or .jpeg", out);
    if (strlen(out) >= sizeof c->stem) return ss_error(SS_ERR_ARG, "output path is too long");
    snprintf(c->stem, sizeof c->stem, "%.*s", (int)(dot - out), out);
    c->ext = dot;
    char dir[PATH_MAX];
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - out) + 1, out);
    else snprintf(dir, sizeof dir, ".");
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ss_error(SS_ERR_IO, "output %s: directory %s does not exist", out, dir);
    if (access(dir, W_OK) != 0) return ss_error(SS_ERR_IO, "output %s: directory %s is not writable", out, dir);
    if (c->cli->force) return SS_OK;
    if (access(out, F_OK) == 0) return ss_error(SS_ERR_IO, "%s exists; give --force to overwrite it", out);
    /* the files written beside it: found now rather than after the work */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s.params.yaml", c->stem);
    if (access(path, F_OK) == 0) return ss_error(SS_ERR_IO, "%s exists; give --force to overwrite it", path);
    const ss_params *p = &c->cli->params;
    for (int it = 1; it <= p->iterations; it++) {
        if (!ss_engine_is_snapshot(p, it)) {
            if (p->snapshot_every <= 0) break; /* no later snapshot */
            continue;
        }
        snprintf(path, sizeof path, "%s_iter%04d%s", c->stem, it, c->ext);
        if (access(path, F_OK) == 0)
            return ss_error(SS_ERR_IO, "snapshot %s exists; give --force to overwrite it", path);
    }
    return SS_OK;
}

/* Writes every parameter (and what ran) next to the output, atomically. */
static ss_status write_params(const transfer_ctx *c, const ss_setup *s, const ss_engine_result *r) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s.params.yaml", c->stem);
    ss_file_tmp t;
    SS_TRY(ss_file_tmp_open(&t, path));
    FILE *f = t.f;
    fprintf(f, "# stylesweep %s transfer\n", SS_VERSION_STRING);
    ss_params_write(&s->params, f);
    fprintf(f, "weights_used: %s%s\n", s->weights, s->weights_fell_back ? "  # no weights file found" : "");
    fprintf(f, "backend: %s\ndevice: %s\n", s->be->iface->name, s->be->device);
    fprintf(f, "iterations_done: %d\nevaluations: %d\nfinal_loss: %.17g\nseconds: %.3f\n", r->iterations,
            r->evaluations, r->loss, c->seconds);
    return ss_file_tmp_commit(&t);
}

static ss_status transfer_run(const ss_cli *cli) {
    transfer_ctx c = {0};
    c.cli = cli;
    c.tty = isatty(STDOUT_FILENO);
    ss_status st = check_output(&c, cli->output);
    if (st != SS_OK) return st;
    ss_setup s;
    st = ss_setup_init_backend(&s, &cli->params, cli->backend, cli->device, cli->threads);
    if (st != SS_OK) return st;
    c.setup = &s;
    if (!s.inputs.content_image.px) {
        ss_setup_free(&s);
        return ss_error(SS_ERR_ARG, "transfer needs the content as an image file");
    }
    if (s.weights_fell_back)
        fprintf(stderr, "stylesweep transfer: no %s weights file found (see README: Weights), using random weights\n",
                s.params.model);
    if (!cli->quiet)
        printf("%s %dx%d, %s weights %s, %s on %s, %d iterations of %d evaluations\n", s.params.model, s.inputs.w,
               s.inputs.h, s.params.pool, s.weights, s.params.optimizer, s.be->device, s.params.iterations,
               s.params.evals_per_iteration);
    ss_engine_callbacks cb = {&c, on_iteration, on_snapshot, NULL, NULL, on_evaluation};
    ss_engine_result r;
    st = ss_engine_run(&s, &cb, NULL, &r);
    if (st == SS_OK) st = write_params(&c, &s, &r);
    if (st == SS_OK) st = ss_image_save(cli->output, &r.final_image);
    if (st == SS_OK && !cli->quiet)
        printf("%s written: loss %.6g after %d iterations, %d evaluations, %.1fs%s\n", cli->output, r.loss,
               r.iterations, r.evaluations, c.seconds, r.stopped_early ? " (stopped early: min_improvement)" : "");
    ss_image_free(&r.final_image);
    ss_setup_free(&s);
    return st;
}

int ss_cmd_transfer(int argc, char **argv) {
    ss_cli cli;
    ss_cli_command cmd = {.name = "transfer",
                          .synopsis = "[OPTIONS] CONTENT STYLE [STYLE...] -o OUT.png",
                          .description =
                              "Stylises CONTENT with the STYLE image(s) and writes OUT (.png, or .jpg/.jpeg).\n"
                              "Prints per iteration the loss, each term, the improvement and the time.\n"
                              "Snapshots go next to the output as OUT_iterNNNN.png by the --snapshots schedule;\n"
                              "OUT.params.yaml records every parameter and the weights used.\n"
                              "An existing output is never overwritten without --force.\n\n"
                              "example:\n"
                              "  stylesweep transfer samples/content/chelsea.jpg samples/style/starry_night.jpg \\\n"
                              "      -o out.png --image-size 128 --iterations 10\n",
                          .needs = "CONTENT, at least one STYLE and -o OUT.png"};
    int rc = ss_cli_start_images(&cli, &cmd, TRANSFER_FLAGS, argc, argv);
    if (rc != SS_CLI_GO) return rc;
    ss_status st = transfer_run(&cli);
    if (st != SS_OK) {
        fflush(stdout);
        fprintf(stderr, "stylesweep transfer: %s\n", ss_error_message());
        return SS_EXIT_FAILURE;
    }
    return SS_EXIT_OK;
}
