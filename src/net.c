/* net.c - forward, losses and backward of one evaluation (see net.h). */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "util.h"

enum { NET_MAX_LAYERS = SS_MODEL_MAX_CONVS + 5 };

typedef struct net_layer {
    ss_layer *op;
    int conv;        /* convolution index, or -1 for a pooling layer */
    ss_tensor *out;  /* activation after the layer (post-ReLU for convolutions) */
    ss_tensor *diff; /* gradient with respect to out */
} net_layer;

struct ss_net {
    ss_backend *be;
    const ss_model *m;
    ss_loss_config cfg;
    int h, w;
    int n_layers;
    net_layer layers[NET_MAX_LAYERS];
    int layer_of_conv[SS_MODEL_MAX_CONVS]; /* network layer of each convolution, -1 if absent */
    ss_tensor *input;                      /* plain (3, h, w) copy of x when needed */
    ss_tensor *content_target;             /* features of the content, in the layer's layout */
    ss_tensor *gram[SS_MAX_STYLE_LAYERS];  /* G of x per style layer */
    ss_tensor *gram_target[SS_MAX_STYLES][SS_MAX_STYLE_LAYERS];
    double style_scale[SS_MAX_STYLES][SS_MAX_STYLE_LAYERS];
    double gram_target_sq[SS_MAX_STYLES][SS_MAX_STYLE_LAYERS]; /* sum(G_target^2), for the target norm */
    double content_scale;
    int content_set, style_set[SS_MAX_STYLES];
    /* style masks (ss_net_set_style_mask): per style image and layer, the
     * binary mask on every channel in the features' layout (NULL: none),
     * and per layer the masked features and their gradient */
    ss_tensor *mask[SS_MAX_STYLES][SS_MAX_STYLE_LAYERS];
    ss_tensor *masked[SS_MAX_STYLE_LAYERS], *masked_diff[SS_MAX_STYLE_LAYERS];
};

int ss_net_deepest_layer(const ss_loss_config *cfg) {
    int d = cfg->content_layer;
    for (int i = 0; i < cfg->n_style_layers; i++)
        if (cfg->style_layers[i] > d) d = cfg->style_layers[i];
    return d;
}

ss_status ss_loss_config_check(const ss_loss_config *cfg, const ss_model *m) {
    if (cfg->content_layer < 0 || cfg->content_layer >= m->n_convs)
        return ss_error(SS_ERR_ARG, "content layer index %d is out of range", cfg->content_layer);
    if (cfg->n_style_layers < 1 || cfg->n_style_layers > SS_MAX_STYLE_LAYERS)
        return ss_error(SS_ERR_ARG, "style_layers: %d layers given, need 1 to %d", cfg->n_style_layers,
                        SS_MAX_STYLE_LAYERS);
    for (int i = 0; i < cfg->n_style_layers; i++) {
        if (cfg->style_layers[i] < 0 || cfg->style_layers[i] >= m->n_convs)
            return ss_error(SS_ERR_ARG, "style layer index %d is out of range", cfg->style_layers[i]);
        for (int j = 0; j < i; j++)
            if (cfg->style_layers[j] == cfg->style_layers[i])
                return ss_error(SS_ERR_ARG, "style_layers: %s is listed twice", m->conv[cfg->style_layers[i]].name);
    }
    if (cfg->content_loss_type < 0 || cfg->content_loss_type > 2)
        return ss_error(SS_ERR_ARG, "content_loss_type %d is not 0, 1 or 2", cfg->content_loss_type);
    if (cfg->n_styles < 1 || cfg->n_styles > SS_MAX_STYLES)
        return ss_error(SS_ERR_ARG, "%d style images given, need 1 to %d", cfg->n_styles, SS_MAX_STYLES);
    if (!(cfg->content_weight >= 0.0) || !isfinite(cfg->content_weight))
        return ss_error(SS_ERR_ARG, "content_weight %g must be a finite number >= 0", cfg->content_weight);
    for (int s = 0; s < cfg->n_styles; s++)
        if (!(cfg->style_weight[s] >= 0.0) || !isfinite(cfg->style_weight[s]))
            return ss_error(SS_ERR_ARG, "style_weight %g must be a finite number >= 0", cfg->style_weight[s]);
    if (!(cfg->tv_weight >= 0.0) || !isfinite(cfg->tv_weight))
        return ss_error(SS_ERR_ARG, "tv_weight %g must be a finite number >= 0", cfg->tv_weight);
    if (!(cfg->tv_power >= 1.0) || cfg->tv_power > 4.0)
        return ss_error(SS_ERR_ARG, "tv_power %g must be between 1 and 4", cfg->tv_power);
    if (cfg->style_norm < SS_STYLE_NORM_REFERENCE || cfg->style_norm > SS_STYLE_NORM_TARGET)
        return ss_error(SS_ERR_ARG, "unknown style normalisation %d", (int)cfg->style_norm);
    if (cfg->pool != SS_POOL_MAX && cfg->pool != SS_POOL_AVG)
        return ss_error(SS_ERR_ARG, "unknown pooling %d", (int)cfg->pool);
    return SS_OK;
}

void ss_net_free(ss_net *net) {
    if (!net) return;
    for (int i = 0; i < net->n_layers; i++) {
        ss_be_layer_free(net->be, net->layers[i].op);
        ss_be_tensor_free(net->be, net->layers[i].out);
        ss_be_tensor_free(net->be, net->layers[i].diff);
    }
    ss_be_tensor_free(net->be, net->input);
    ss_be_tensor_free(net->be, net->content_target);
    for (int l = 0; l < SS_MAX_STYLE_LAYERS; l++) {
        ss_be_tensor_free(net->be, net->gram[l]);
        for (int s = 0; s < SS_MAX_STYLES; s++) ss_be_tensor_free(net->be, net->gram_target[s][l]);
        for (int s = 0; s < SS_MAX_STYLES; s++) ss_be_tensor_free(net->be, net->mask[s][l]);
        ss_be_tensor_free(net->be, net->masked[l]);
        ss_be_tensor_free(net->be, net->masked_diff[l]);
    }
    free(net);
}

static ss_status net_build(ss_net *net) {
    const ss_model *m = net->m;
    int deepest = ss_net_deepest_layer(&net->cfg);
    if (m->n_loaded <= deepest)
        return ss_error(SS_ERR_INTERNAL, "weights loaded up to %d convolutions, %s is needed", m->n_loaded,
                        m->conv[deepest].name);
    int min_side;
    if (!ss_model_reaches(m, deepest, net->w, net->h, &min_side))
        return ss_error(SS_ERR_ARG, "a %dx%d image is too small to reach %s (at least %d px on the short side)", net->w,
                        net->h, m->conv[deepest].name, min_side);
    SS_TRY(ss_be_tensor_new(net->be, &net->input, 3, net->h, net->w));
    const ss_tensor *in = net->input;
    for (int k = 0; k < SS_MODEL_MAX_CONVS; k++) net->layer_of_conv[k] = -1;
    for (int k = 0; k <= deepest; k++) {
        const ss_conv_info *c = &m->conv[k];
        net_layer *L = &net->layers[net->n_layers];
        L->conv = k;
        SS_TRY(ss_be_conv_new(net->be, &L->op, &L->out, in, c->cout, m->weight[k], m->bias[k]));
        net->n_layers++;
        SS_TRY(ss_be_tensor_new_like(net->be, &L->diff, L->out));
        net->layer_of_conv[k] = net->n_layers - 1;
        in = L->out;
        if (c->pool_after && k < deepest) { /* ss_model_reaches: at least 2x2 here */
            net_layer *P = &net->layers[net->n_layers];
            P->conv = -1;
            SS_TRY(ss_be_pool_new(net->be, &P->op, &P->out, in, net->cfg.pool));
            net->n_layers++;
            SS_TRY(ss_be_tensor_new_like(net->be, &P->diff, P->out));
            in = P->out;
        }
    }
    const ss_loss_config *cfg = &net->cfg;
    const ss_tensor *fc = net->layers[net->layer_of_conv[cfg->content_layer]].out;
    SS_TRY(ss_be_tensor_new_like(net->be, &net->content_target, fc));
    for (int l = 0; l < cfg->n_style_layers; l++) {
        const ss_tensor *f = net->layers[net->layer_of_conv[cfg->style_layers[l]]].out;
        SS_TRY(ss_be_tensor_new(net->be, &net->gram[l], 1, f->c, f->c));
        for (int s = 0; s < cfg->n_styles; s++)
            SS_TRY(ss_be_tensor_new(net->be, &net->gram_target[s][l], 1, f->c, f->c));
    }
    return SS_OK;
}

/* The factors of each term from the configuration's weights and normalisations. */
static void net_compute_scales(ss_net *net) {
    const ss_loss_config *cfg = &net->cfg;
    const ss_tensor *fc = net->layers[net->layer_of_conv[cfg->content_layer]].out;
    double pixels = (double)net->h * net->w, C = fc->c;
    double k = cfg->content_loss_type == 1   ? 1.0 / (2.0 * sqrt(C) * sqrt(pixels))
               : cfg->content_loss_type == 2 ? 1.0 / (C * pixels)
                                             : 1.0;
    net->content_scale = cfg->content_weight * k;
    for (int l = 0; l < cfg->n_style_layers; l++) {
        const ss_tensor *f = net->layers[net->layer_of_conv[cfg->style_layers[l]]].out;
        double hw = (double)f->h * f->w;
        for (int s = 0; s < cfg->n_styles; s++) {
            double sq = net->gram_target_sq[s][l];
            double norm = cfg->style_norm == SS_STYLE_NORM_GATYS    ? 4.0 * (double)f->c * f->c * hw * hw
                          : cfg->style_norm == SS_STYLE_NORM_TARGET ? (sq > 0 ? sq : 1.0)
                                                                    : 4.0 * 9.0 * pixels * pixels;
            net->style_scale[s][l] = cfg->style_weight[s] / cfg->n_style_layers / norm;
        }
    }
}

ss_status ss_net_set_weights(ss_net *net, const ss_loss_config *cfg) {
    const ss_loss_config *o = &net->cfg;
    int same = cfg->pool == o->pool && cfg->content_layer == o->content_layer &&
               cfg->n_style_layers == o->n_style_layers && cfg->n_styles == o->n_styles &&
               cfg->style_norm == o->style_norm;
    for (int l = 0; same && l < cfg->n_style_layers; l++) same = cfg->style_layers[l] == o->style_layers[l];
    if (!same) return ss_error(SS_ERR_INTERNAL, "ss_net_set_weights: the layers or normalisation changed");
    net->cfg = *cfg;
    net_compute_scales(net);
    return SS_OK;
}

ss_status ss_net_new(ss_net **out, ss_backend *be, const ss_model *m, const ss_loss_config *cfg, int h, int w) {
    *out = NULL;
    SS_TRY(ss_loss_config_check(cfg, m));
    if (h < 1 || w < 1 || h > 16384 || w > 16384)
        return ss_error(SS_ERR_ARG, "image size %dx%d is out of range (1..16384)", w, h);
    ss_net *net = calloc(1, sizeof *net);
    SS_ALLOC_CHECK(net);
    net->be = be;
    net->m = m;
    net->cfg = *cfg;
    net->h = h;
    net->w = w;
    ss_status st = net_build(net);
    if (st == SS_OK) net_compute_scales(net);
    if (st != SS_OK) {
        ss_net_free(net);
        return st;
    }
    *out = net;
    return SS_OK;
}

/* Runs the forward pass from net->input through every layer. */
static ss_status net_forward(ss_net *net) {
    const ss_tensor *in = net->input;
    for (int i = 0; i < net->n_layers; i++) {
        net_layer *L = &net->layers[i];
        if (L->conv >= 0) SS_TRY(ss_be_conv_forward(net->be, L->op, L->out, in));
        else SS_TRY(ss_be_pool_forward(net->be, L->op, L->out, in));
        in = L->out;
    }
    return SS_OK;
}

ss_status ss_net_set_content(ss_net *net, const float *content) {
    SS_TRY(ss_be_tensor_write(net->be, net->input, content));
    SS_TRY(net_forward(net));
    const ss_tensor *f = net->layers[net->layer_of_conv[net->cfg.content_layer]].out;
    SS_TRY(ss_be_vec_copy(net->be, net->content_target, f));
    net->content_set = 1;
    return SS_OK;
}

/* The features of style layer l. */
static const ss_tensor *style_features(const ss_net *net, int l) {
    return net->layers[net->layer_of_conv[net->cfg.style_layers[l]]].out;
}

void ss_net_style_layer_size(const ss_net *net, int l, int *h, int *w) {
    const ss_tensor *f = l >= 0 && l < net->cfg.n_style_layers ? style_features(net, l) : NULL;
    *h = f ? f->h : 0;
    *w = f ? f->w : 0;
}

ss_status ss_net_set_style_mask(ss_net *net, int s, int l, const unsigned char *mask) {
    if (s < 0 || s >= net->cfg.n_styles || l < 0 || l >= net->cfg.n_style_layers)
        return ss_error(SS_ERR_ARG, "style mask %d of layer %d out of range", s, l);
    if (net->style_set[s]) return ss_error(SS_ERR_INTERNAL, "style mask %d set after its style", s);
    const ss_tensor *f = style_features(net, l);
    size_t hw = (size_t)f->h * f->w;
    float *host = malloc(sizeof(float) * (size_t)f->c * hw);
    SS_ALLOC_CHECK(host);
    for (int c = 0; c < f->c; c++)
        for (size_t i = 0; i < hw; i++) host[(size_t)c * hw + i] = mask[i] ? 1.0f : 0.0f;
    ss_status st = SS_OK;
    if (!net->mask[s][l]) st = ss_be_tensor_new_like(net->be, &net->mask[s][l], f);
    if (st == SS_OK && !net->masked[l]) st = ss_be_tensor_new_like(net->be, &net->masked[l], f);
    if (st == SS_OK && !net->masked_diff[l]) st = ss_be_tensor_new_like(net->be, &net->masked_diff[l], f);
    if (st == SS_OK) st = ss_be_tensor_write(net->be, net->mask[s][l], host);
    free(host);
    return st;
}

/* net->masked[l] = the features of layer l times style s's mask. */
static ss_status mask_features(ss_net *net, int s, int l) {
    SS_TRY(ss_be_vec_copy(net->be, net->masked[l], style_features(net, l)));
    return ss_be_vec_mul(net->be, net->masked[l], net->mask[s][l]);
}

ss_status ss_net_set_style(ss_net *net, int s, const float *style) {
    if (s < 0 || s >= net->cfg.n_styles) return ss_error(SS_ERR_ARG, "style image %d out of range", s);
    SS_TRY(ss_be_tensor_write(net->be, net->input, style));
    SS_TRY(net_forward(net));
    for (int l = 0; l < net->cfg.n_style_layers; l++) {
        const ss_tensor *f = style_features(net, l);
        if (net->mask[s][l]) {
            SS_TRY(mask_features(net, s, l));
            f = net->masked[l];
        }
        SS_TRY(ss_be_gram(net->be, net->gram_target[s][l], f));
        SS_TRY(ss_be_vec_dot(net->be, &net->gram_target_sq[s][l], net->gram_target[s][l], net->gram_target[s][l]));
    }
    net_compute_scales(net);
    net->style_set[s] = 1;
    return SS_OK;
}

/* The style terms of style layer l (the features and their gradient L->diff):
 * unmasked styles in one product, each masked one on its masked features
 * F M, whose gradient 4 scale (G - T) F M is added to L->diff: it is zero
 * where the (binary) mask is, so it is already the gradient times M. The
 * loss values go to out (2 SS_MAX_STYLES of them, zero where unused: masked
 * style s at out[s], the unmasked ones from out[SS_MAX_STYLES]); they may be
 * written as late as the loss batch's end. */
static ss_status style_layer_grad(ss_net *net, double *out, net_layer *L, int l) {
    const ss_loss_config *cfg = &net->cfg;
    const ss_tensor *targets[SS_MAX_STYLES];
    double scales[SS_MAX_STYLES];
    int n = 0;
    for (int s = 0; s < cfg->n_styles; s++) {
        if (net->mask[s][l]) {
            SS_TRY(mask_features(net, s, l));
            SS_TRY(ss_be_vec_fill(net->be, net->masked_diff[l], 0.0));
            const ss_tensor *target = net->gram_target[s][l];
            SS_TRY(ss_be_style_grad(net->be, &out[s], net->masked_diff[l], net->gram[l], net->masked[l], &target,
                                    &net->style_scale[s][l], 1));
            SS_TRY(ss_be_vec_axpy(net->be, L->diff, 1.0, net->masked_diff[l]));
            continue;
        }
        targets[n] = net->gram_target[s][l];
        scales[n++] = net->style_scale[s][l];
    }
    if (n == 0) return SS_OK;
    return ss_be_style_grad(net->be, out + SS_MAX_STYLES, L->diff, net->gram[l], L->out, targets, scales, n);
}

/* The backward pass: from the deepest layer down, adding each loss's
 * gradient at its layer; the loss values go to terms (content, tv) and
 * style[l] (style_layer_grad; they may be written as late as the batch's end). */
static ss_status net_backward(ss_net *net, ss_terms *terms, double style[][2 * SS_MAX_STYLES], ss_tensor *grad) {
    const ss_loss_config *cfg = &net->cfg;
    SS_TRY(ss_be_vec_fill(net->be, net->layers[net->n_layers - 1].diff, 0.0));
    for (int i = net->n_layers - 1; i >= 0; i--) {
        net_layer *L = &net->layers[i];
        if (L->conv >= 0) {
            if (L->conv == cfg->content_layer)
                SS_TRY(ss_be_content_grad(net->be, &terms->content, L->diff, L->out, net->content_target,
                                          net->content_scale));
            for (int l = 0; l < cfg->n_style_layers; l++)
                if (cfg->style_layers[l] == L->conv) SS_TRY(style_layer_grad(net, style[l], L, l));
        }
        ss_tensor *below = i > 0 ? net->layers[i - 1].diff : grad;
        if (L->conv >= 0) {
            SS_TRY(ss_be_relu_backward(net->be, L->diff, L->diff, L->out));
            SS_TRY(ss_be_conv_backward_data(net->be, L->op, below, L->diff));
        } else {
            SS_TRY(ss_be_pool_backward(net->be, L->op, below, L->diff));
        }
    }
    if (cfg->tv_weight > 0.0)
        SS_TRY(ss_be_tv_grad(net->be, &terms->tv, grad, net->input, cfg->tv_weight, cfg->tv_power));
    return SS_OK;
}

ss_status ss_net_eval(ss_net *net, ss_terms *terms, ss_tensor *grad, const ss_tensor *x) {
    const ss_loss_config *cfg = &net->cfg;
    if (!net->content_set) return ss_error(SS_ERR_INTERNAL, "evaluation before the content target was set");
    for (int s = 0; s < cfg->n_styles; s++)
        if (!net->style_set[s]) return ss_error(SS_ERR_INTERNAL, "evaluation before style %d was set", s);
    memset(terms, 0, sizeof *terms);
    SS_TRY(ss_be_vec_copy(net->be, net->input, x));
    SS_TRY(net_forward(net));
    /* the loss values of the evaluation arrive together at the batch's end
     * (one read-back on a GPU): the batch is closed on every path, before
     * style (whose values it may still write) goes out of scope */
    double style[SS_MAX_STYLE_LAYERS][2 * SS_MAX_STYLES] = {{0}};
    SS_TRY(ss_be_losses_begin(net->be));
    ss_status st = net_backward(net, terms, style, grad);
    ss_status st_end = ss_be_losses_end(net->be);
    SS_TRY(st);
    SS_TRY(st_end);
    for (int l = 0; l < cfg->n_style_layers; l++)
        for (int s = 0; s < 2 * SS_MAX_STYLES; s++) terms->style[l] += style[l][s];
    terms->total = terms->content + terms->tv;
    for (int l = 0; l < cfg->n_style_layers; l++) terms->total += terms->style[l];
    if (!isfinite(terms->total)) return ss_error(SS_ERR_NUMERIC, "the loss is not finite (%g)", terms->total);
    return SS_OK;
}

static double process_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ms[0] = the shortest wall time of `repeat` calls of layer i forward or
 * (backward) backward-data into din, the least disturbed by other work;
 * ms[1] = the least CPU time of this process (all threads) in one call. */
static ss_status time_conv(ss_net *net, double ms[2], int i, int backward, ss_tensor *din, int repeat) {
    net_layer *L = &net->layers[i];
    const ss_tensor *in = i > 0 ? net->layers[i - 1].out : net->input;
    ms[0] = ms[1] = INFINITY;
    for (int r = 0; r < repeat; r++) {
        double t0 = ss_monotonic_seconds(), c0 = process_cpu_seconds();
        if (backward) SS_TRY(ss_be_conv_backward_data(net->be, L->op, din, L->diff));
        else SS_TRY(ss_be_conv_forward(net->be, L->op, L->out, in));
        double t = (ss_monotonic_seconds() - t0) * 1000.0, c = (process_cpu_seconds() - c0) * 1000.0;
        if (t < ms[0]) ms[0] = t;
        if (c < ms[1]) ms[1] = c;
    }
    return SS_OK;
}

ss_status ss_net_profile_convs(ss_net *net, ss_net_conv_profile *rows, int *n, int repeat) {
    if (repeat < 0 || repeat > 64) return ss_error(SS_ERR_ARG, "profile: repeat %d is not 0..64", repeat);
    ss_tensor *din0 = NULL;
    ss_status st = ss_be_tensor_new_like(net->be, &din0, net->input);
    *n = 0;
    for (int i = 0; st == SS_OK && i < net->n_layers; i++) {
        net_layer *L = &net->layers[i];
        if (L->conv < 0) continue;
        const ss_tensor *in = i > 0 ? net->layers[i - 1].out : net->input;
        ss_net_conv_profile *p = &rows[(*n)++];
        *p = (ss_net_conv_profile){
            .name = net->m->conv[L->conv].name, .cin = in->c, .cout = L->out->c, .h = in->h, .w = in->w};
        st = ss_be_layer_describe(net->be, p->algo, sizeof p->algo, L->op);
        if (st == SS_OK && repeat > 0) st = time_conv(net, p->fwd_ms, i, 0, NULL, repeat);
        if (st == SS_OK && repeat > 0)
            st = time_conv(net, p->bwd_ms, i, 1, i > 0 ? net->layers[i - 1].diff : din0, repeat);
    }
    ss_be_tensor_free(net->be, din0);
    return st;
}
