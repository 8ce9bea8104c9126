/* cmd_eval.c - `stylesweep eval`: one evaluation (losses and gradient with
 * respect to the image) written to an HDF5 file, to check the numbers
 * against another implementation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "evalfile.h"
#include "setup.h"

enum { EVAL_FLAGS = SS_CLI_OUTPUT | SS_CLI_THREADS | SS_CLI_BACKEND | SS_CLI_FORCE | SS_CLI_X };

/* Fills x (3, h, w) from --x (image or dataset) or the --init image. */
static ss_status eval_input(float *x, const ss_cli *cli, const ss_setup *s) {
    int h = s->inputs.h, w = s->inputs.w;
    if (!cli->x) {
        if (!s->inputs.content_image.px) {
            if (strcmp(s->params.init, "content") != 0)
                return ss_error(SS_ERR_ARG, "--init %s needs an image file as content; give --x", s->params.init);
            memcpy(x, s->inputs.content, sizeof(float) * 3 * h * w);
            return SS_OK;
        }
        return ss_image_init_tensor(x, s->params.init, &s->inputs.content_image, &s->inputs.preproc,
                                    (unsigned long long)s->params.seed);
    }
    float *xin = NULL;
    ss_status st = ss_inputs_load_image(&xin, NULL, &h, &w, cli->x, &s->params, &s->inputs.preproc, "--x");
    if (st == SS_OK) memcpy(x, xin, sizeof(float) * 3 * h * w);
    free(xin);
    return st;
}

static ss_status eval_run(const ss_cli *cli) {
    ss_setup s;
    ss_status st = ss_setup_init_backend(&s, &cli->params, cli->backend, cli->device, cli->threads);
    if (st != SS_OK) return st;
    if (s.weights_fell_back) fprintf(stderr, "stylesweep eval: no weights file found, using random weights\n");
    int h = s.inputs.h, w = s.inputs.w;
    size_t n = 3 * (size_t)h * w;
    float *x = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    ss_tensor *tx = NULL, *tg = NULL;
    ss_terms terms;
    if (!x || !g) st = ss_error(SS_ERR_NOMEM, "out of memory");
    if (st == SS_OK) st = eval_input(x, cli, &s);
    if (st == SS_OK) st = ss_be_tensor_new(s.be, &tx, 3, h, w);
    if (st == SS_OK) st = ss_be_tensor_new(s.be, &tg, 3, h, w);
    if (st == SS_OK) st = ss_be_tensor_write(s.be, tx, x);
    if (st == SS_OK) st = ss_net_eval(s.net, &terms, tg, tx);
    if (st == SS_OK) st = ss_be_tensor_read(s.be, g, tg);
    if (st == SS_OK) {
        const char *names[SS_MAX_STYLE_LAYERS];
        for (int l = 0; l < s.params.n_style_layers; l++) names[l] = s.params.style_layers[l];
        char masks[SS_PATH_MAX * SS_MAX_STYLES + 8];
        ss_params_format(&s.params, "style_masks", masks, sizeof masks);
        const char *keys[] = {"model", "weights", "pool", "content_layer", "backend", "device", "style_masks"};
        const char *values[] = {s.params.model,    s.weights,    s.params.pool, s.params.content_layer,
                                s.be->iface->name, s.be->device, masks};
        ss_eval_output o = {
            terms.total, terms.content, terms.tv, s.params.n_style_layers, terms.style, names, x, g, h, w,
            keys,        values,        7};
        st = ss_evalfile_write(cli->output, &o, cli->force);
        if (st == SS_OK)
            printf("loss=%.9g content=%.9g style=%.9g tv=%.9g -> %s\n", terms.total, terms.content,
                   terms.total - terms.content - terms.tv, terms.tv, cli->output);
    }
    if (tx) ss_be_tensor_free(s.be, tx);
    if (tg) ss_be_tensor_free(s.be, tg);
    free(x);
    free(g);
    ss_setup_free(&s);
    return st;
}

int ss_cmd_eval(int argc, char **argv) {
    ss_cli cli;
    ss_cli_command cmd = {.name = "eval",
                          .synopsis = "[OPTIONS] CONTENT STYLE [STYLE...] -o OUT.h5",
                          .description =
                              "Evaluates the loss and its gradient once and writes loss, content_loss,\n"
                              "style_loss (per style layer), tv_loss, x and grad (3 x H x W, in the pre-processed\n"
                              "domain: BGR minus the mean for Caffe weights). CONTENT, STYLE and --x are image\n"
                              "files or FILE.h5:/dataset arrays of pre-processed (3, H, W) floats.\n",
                          .needs = "CONTENT, at least one STYLE and -o OUT.h5"};
    int rc = ss_cli_start_images(&cli, &cmd, EVAL_FLAGS, argc, argv);
    if (rc != SS_CLI_GO) return rc;
    if (eval_run(&cli) != SS_OK) {
        fprintf(stderr, "stylesweep eval: %s\n", ss_error_message());
        return SS_EXIT_FAILURE;
    }
    return SS_EXIT_OK;
}
