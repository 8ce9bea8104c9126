/* setup.c - prepares one run (see setup.h). */
#include "setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Sets style image i's mask (style_masks) at every style layer, resized to
 * the layer's feature map from the file. */
static ss_status set_style_masks(ss_setup *s, int i) {
    for (int l = 0; l < s->cfg.n_style_layers; l++) {
        int h, w;
        unsigned char *m;
        ss_net_style_layer_size(s->net, l, &h, &w);
        SS_TRY(ss_inputs_load_mask(&m, w, h, s->params.style_masks[i], "style_masks"));
        ss_status st = ss_net_set_style_mask(s->net, i, l, m);
        free(m);
        SS_TRY(st);
    }
    return SS_OK;
}

static ss_status setup_build(ss_setup *s) {
    const ss_params *p = &s->params;
    SS_TRY(ss_params_resolve(p, &s->model, &s->cfg));
    ss_inputs_resolve_weights(s->weights, sizeof s->weights, p->weights, p->model, &s->weights_fell_back);
    SS_TRY(ss_model_load_weights(&s->model, s->weights, ss_net_deepest_layer(&s->cfg) + 1));
    snprintf(s->weights, sizeof s->weights, "%s", s->model.weights_desc);
    const ss_preproc *pp =
        s->model.preproc == SS_PREPROC_TORCHVISION ? &ss_image_preproc_torchvision : &ss_image_preproc_caffe;
    SS_TRY(ss_inputs_load(&s->inputs, p, pp));
    SS_TRY(ss_be_set_precision(s->be, p->precision));
    SS_TRY(ss_net_new(&s->net, s->be, &s->model, &s->cfg, s->inputs.h, s->inputs.w));
    SS_TRY(ss_net_set_content(s->net, s->inputs.content));
    for (int i = 0; i < p->n_style_masks; i++) SS_TRY(set_style_masks(s, i));
    for (int i = 0; i < s->inputs.n_styles; i++) SS_TRY(ss_net_set_style(s->net, i, s->inputs.style[i]));
    return SS_OK;
}

ss_status ss_setup_init(ss_setup *s, const ss_params *p, ss_backend *be) {
    memset(s, 0, sizeof *s);
    s->params = *p;
    s->be = be;
    ss_status st = setup_build(s);
    if (st != SS_OK) ss_setup_free(s);
    return st;
}

ss_status ss_setup_init_backend(ss_setup *s, const ss_params *p, const char *backend, int device, int threads) {
    ss_backend *be;
    memset(s, 0, sizeof *s);
    SS_TRY(ss_backend_new(&be, backend, device, threads));
    ss_status st = ss_setup_init(s, p, be);
    if (st != SS_OK) {
        ss_be_free(be);
        return st;
    }
    s->owns_be = 1;
    return SS_OK;
}

void ss_setup_free(ss_setup *s) {
    ss_net_free(s->net);
    s->net = NULL;
    if (s->owns_be && s->be) ss_be_free(s->be);
    ss_inputs_free(&s->inputs);
    ss_model_free(&s->model);
    memset(s, 0, sizeof *s);
}

/* The parameters that decide the targets: equal values mean the same network and targets. */
static const char *const target_keys[] = {
    "content",    "style",         "model",        "weights",    "channels_div", "image_size",     "aspect",
    "pool",       "content_layer", "style_layers", "style_norm", "precision",    "preserve_color", "histogram_method",
    "color_mask", "style_masks"};

int ss_setup_reuse(ss_setup *s, const ss_params *p) {
    if (!s->net) return 0;
    char a[SS_PATH_MAX * SS_MAX_STYLES + 64], b[sizeof a];
    for (size_t i = 0; i < sizeof target_keys / sizeof target_keys[0]; i++) {
        ss_params_format(&s->params, target_keys[i], a, sizeof a);
        ss_params_format(p, target_keys[i], b, sizeof b);
        if (strcmp(a, b) != 0) return 0;
    }
    ss_model m;
    ss_loss_config cfg;
    if (ss_params_resolve(p, &m, &cfg) != SS_OK || ss_net_set_weights(s->net, &cfg) != SS_OK) return 0;
    s->params = *p;
    s->cfg = cfg;
    return 1;
}
