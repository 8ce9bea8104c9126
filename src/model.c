/* model.c - the VGG layer table and seeded random weights. */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"

static const int vgg_convs_per_block[2][5] = {{2, 2, 3, 3, 3}, {2, 2, 4, 4, 4}};
static const int vgg_channels[5] = {64, 128, 256, 512, 512};

ss_status ss_model_parse_kind(ss_model_kind *kind, const char *name) {
    if (strcmp(name, "vgg16") == 0) *kind = SS_MODEL_VGG16;
    else if (strcmp(name, "vgg19") == 0) *kind = SS_MODEL_VGG19;
    else return ss_error(SS_ERR_ARG, "unknown model '%s' (valid: vgg16, vgg19)", name);
    return SS_OK;
}

const char *ss_model_kind_name(ss_model_kind kind) { return kind == SS_MODEL_VGG16 ? "vgg16" : "vgg19"; }

ss_status ss_model_init(ss_model *m, ss_model_kind kind, int channels_div) {
    if (channels_div != 1 && channels_div != 2 && channels_div != 4 && channels_div != 8)
        return ss_error(SS_ERR_ARG, "channels divisor %d is not 1, 2, 4 or 8", channels_div);
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->channels_div = channels_div;
    int cin = 3, n = 0;
    for (int b = 0; b < 5; b++) {
        int per = vgg_convs_per_block[kind][b];
        for (int i = 0; i < per; i++) {
            ss_conv_info *c = &m->conv[n++];
            snprintf(c->name, sizeof c->name, "conv%d_%d", (b + 1) % 10, (i + 1) % 10);
            c->block = b + 1;
            c->index = i + 1;
            c->cin = cin;
            c->cout = vgg_channels[b] / channels_div;
            c->pool_after = i == per - 1;
            cin = c->cout;
        }
    }
    m->n_convs = n;
    return SS_OK;
}

int ss_model_reaches(const ss_model *m, int conv, int w, int h, int *min_side) {
    if (min_side) *min_side = 0;
    if (conv < 0 || conv >= m->n_convs) return 0;
    int ok = w >= 1 && h >= 1, side = 1;
    for (int k = 0; k < conv; k++) {
        if (!m->conv[k].pool_after) continue;
        if (w < 2 || h < 2) ok = 0; /* a pooling needs 2x2 input */
        w /= 2, h /= 2;
        side *= 2;
    }
    if (min_side) *min_side = side;
    return ok;
}

ss_status ss_model_find_layer(int *index, const ss_model *m, const char *name) {
    for (*index = 0; *index < m->n_convs; ++*index)
        if (strcmp(m->conv[*index].name, name) == 0) return SS_OK;
    *index = -1;
    char list[256] = "";
    for (int i = 0; i < m->n_convs; i++) {
        strncat(list, m->conv[i].name, sizeof list - strlen(list) - 1);
        if (i + 1 < m->n_convs) strncat(list, ",", sizeof list - strlen(list) - 1);
    }
    return ss_error(SS_ERR_ARG, "unknown layer '%s' for %s (valid: %s)", name, ss_model_kind_name(m->kind), list);
}

static ss_status load_random(ss_model *m, unsigned long long seed, int n_convs) {
    for (int l = 0; l < n_convs; l++) {
        const ss_conv_info *c = &m->conv[l];
        size_t nw = (size_t)c->cout * c->cin * 9;
        m->weight[l] = malloc(nw * sizeof(float));
        m->bias[l] = calloc((size_t)c->cout, sizeof(float));
        SS_ALLOC_CHECK(m->weight[l]);
        SS_ALLOC_CHECK(m->bias[l]);
        ss_rng r;
        ss_rng_init(&r, seed, (uint64_t)l + 1); /* one stream per layer: a prefix is the same */
        double std = sqrt(2.0 / (9.0 * c->cin));
        for (size_t i = 0; i < nw; i++) m->weight[l][i] = (float)(std * ss_rng_normal(&r));
        m->n_loaded = l + 1;
    }
    snprintf(m->weights_desc, sizeof m->weights_desc, "random:%llu", seed);
    m->preproc = SS_PREPROC_CAFFE;
    return SS_OK;
}

ss_status ss_model_load_weights(ss_model *m, const char *spec, int n_convs) {
    if (n_convs < 1 || n_convs > m->n_convs)
        return ss_error(SS_ERR_ARG, "cannot load %d convolutions of %s", n_convs, ss_model_kind_name(m->kind));
    ss_model_free(m);
    if (!spec[0]) return ss_error(SS_ERR_ARG, "weights: empty (give auto, random, random:SEED or a Keras .h5 file)");
    if (strncmp(spec, "random", 6) == 0 && (spec[6] == '\0' || spec[6] == ':')) {
        unsigned long long seed = 0;
        if (spec[6] == ':') {
            char *end;
            errno = 0;
            seed = strtoull(spec + 7, &end, 10);
            if (spec[7] == '\0' || *end != '\0' || spec[7] == '-' || errno)
                return ss_error(SS_ERR_ARG, "weights '%s': the seed after 'random:' must be a non-negative integer",
                                spec);
        }
        ss_status st = load_random(m, seed, n_convs);
        if (st != SS_OK) ss_model_free(m);
        return st;
    }
    ss_status st = ss_model_load_keras(m, spec, n_convs);
    if (st != SS_OK) ss_model_free(m);
    return st;
}

void ss_model_free(ss_model *m) {
    for (int i = 0; i < SS_MODEL_MAX_CONVS; i++) {
        free(m->weight[i]);
        free(m->bias[i]);
        m->weight[i] = m->bias[i] = NULL;
    }
    m->n_loaded = 0;
}
