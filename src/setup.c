/* setup.c - prepares one run (see setup.h). */
#include "setup.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

static ss_status setup_build(ss_setup *s, const char *backend, int device, int threads) {
    const ss_params *p = &s->params;
    SS_TRY(ss_params_resolve(p, &s->model, &s->cfg));
    ss_inputs_resolve_weights(s->weights, sizeof s->weights, p->weights, p->model, &s->weights_fell_back);
    SS_TRY(ss_model_load_weights(&s->model, s->weights, ss_net_deepest_layer(&s->cfg) + 1));
    snprintf(s->weights, sizeof s->weights, "%s", s->model.weights_desc);
    const ss_preproc *pp =
        s->model.preproc == SS_PREPROC_TORCHVISION ? &ss_image_preproc_torchvision : &ss_image_preproc_caffe;
    SS_TRY(ss_inputs_load(&s->inputs, p, pp));
    SS_TRY(ss_backend_new(&s->be, backend, device, threads));
    SS_TRY(ss_net_new(&s->net, s->be, &s->model, &s->cfg, s->inputs.h, s->inputs.w));
    SS_TRY(ss_net_set_content(s->net, s->inputs.content));
    for (int i = 0; i < s->inputs.n_styles; i++) SS_TRY(ss_net_set_style(s->net, i, s->inputs.style[i]));
    return SS_OK;
}

ss_status ss_setup_init(ss_setup *s, const ss_params *p, const char *backend, int device, int threads) {
    memset(s, 0, sizeof *s);
    s->params = *p;
    ss_status st = setup_build(s, backend, device, threads);
    if (st != SS_OK) ss_setup_free(s);
    return st;
}

void ss_setup_free(ss_setup *s) {
    ss_net_free(s->net);
    if (s->be) s->be->iface->free(s->be);
    ss_inputs_free(&s->inputs);
    ss_model_free(&s->model);
    memset(s, 0, sizeof *s);
}
