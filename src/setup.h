/* setup.h - everything one run needs before its first evaluation: the
 * resolved parameters, the model with its weights, the input images, the
 * backend and the network with its content and style targets set. Shared by
 * eval, bench, transfer and the sweep's workers. */
#ifndef SS_SETUP_H
#define SS_SETUP_H

#include "backend.h"
#include "image.h"
#include "inputs.h"
#include "model.h"
#include "net.h"
#include "params.h"

typedef struct ss_setup {
    ss_params params;
    ss_model model;
    ss_loss_config cfg;
    char weights[SS_PATH_MAX]; /* the weights actually loaded ("random:0" or a path) */
    int weights_fell_back;     /* 1 when weights "auto" found no file and used random */
    ss_inputs inputs;
    ss_backend *be;
    int owns_be; /* 1 when ss_setup_free also frees be */
    ss_net *net;
} ss_setup;

/* Resolves p (a copy is kept), loads the weights and images, makes the
 * network on backend be (borrowed: it must outlive s) and sets its targets.
 * On failure everything made so far is freed and the message names the
 * parameter or file at fault. */
ss_status ss_setup_init(ss_setup *s, const ss_params *p, ss_backend *be);

/* As ss_setup_init, on a new backend (name "cpu", "cuda" or "auto", device,
 * threads: 0 = the affinity mask) that s owns and ss_setup_free frees. */
ss_status ss_setup_init_backend(ss_setup *s, const ss_params *p, const char *backend, int device, int threads);

/* Returns 1 when a run with parameters p can reuse s's targets (the same
 * model, weights, images, size, layers, pooling and normalisation), after
 * taking p's other parameters and term weights; 0 otherwise (s unchanged). */
int ss_setup_reuse(ss_setup *s, const ss_params *p);

/* Frees everything in s; the backend only when s owns it. */
void ss_setup_free(ss_setup *s);

#endif
