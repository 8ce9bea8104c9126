/* weights_keras.c - reads VGG weights from a Keras "notop" HDF5 file.
 *
 * Layout followed (never hard-coded dataset names): the root attribute
 * `layer_names` lists layer groups (`block1_conv1`, ...); each group's
 * attribute `weight_names` lists its datasets, kernel then bias, relative to
 * the group. Kernels are (3, 3, in, out) and are transposed to (out, in, 3, 3).
 * An optional root attribute `preprocessing` ("caffe", "torchvision") says
 * what input the weights expect; Keras files have none and mean "caffe". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"
#include "model.h"

/* Returns the index of the first NaN or infinity in v[0..n-1], or -1. */
static long long first_nonfinite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return (long long)i;
    return -1;
}

static ss_status read_conv(ss_model *m, int l, hid_t file, char **layer_names, int n_layers, const char *path) {
    const ss_conv_info *c = &m->conv[l];
    char group[32];
    snprintf(group, sizeof group, "block%d_conv%d", c->block, c->index);
    int found = 0;
    for (int i = 0; i < n_layers && !found; i++) found = strcmp(layer_names[i], group) == 0;
    if (!found || H5Lexists(file, group, H5P_DEFAULT) <= 0)
        return ss_error(SS_ERR_FORMAT, "weights %s: layer %s (%s of %s) is missing", path, group, c->name,
                        ss_model_kind_name(m->kind));
    hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "weights %s: %s is not a group", path, group);
    char **wn = NULL;
    int nw = 0;
    char what[600];
    snprintf(what, sizeof what, "weights %s, layer %s", path, group);
    ss_status st = ss_h5_read_strings(&wn, &nw, g, "weight_names", what);
    float *kernel = NULL, *bias = NULL;
    if (st == SS_OK && nw != 2)
        st = ss_error(SS_ERR_FORMAT, "%s: weight_names lists %d datasets, expected kernel and bias", what, nw);
    int rk = 0, rb = 0;
    long long dk[4] = {0}, db[4] = {0};
    if (st == SS_OK) st = ss_h5_read_floats(&kernel, &rk, dk, g, wn[0], what);
    if (st == SS_OK) st = ss_h5_read_floats(&bias, &rb, db, g, wn[1], what);
    if (st == SS_OK && (rk != 4 || dk[0] != 3 || dk[1] != 3 || dk[2] != c->cin || dk[3] != c->cout))
        st = ss_error(SS_ERR_FORMAT, "%s: kernel has shape (%lld,%lld,%lld,%lld), %s needs (3,3,%d,%d)", what,
                      rk > 0 ? dk[0] : 0, rk > 1 ? dk[1] : 0, rk > 2 ? dk[2] : 0, rk > 3 ? dk[3] : 0,
                      ss_model_kind_name(m->kind), c->cin, c->cout);
    if (st == SS_OK && (rb != 1 || db[0] != c->cout))
        st = ss_error(SS_ERR_FORMAT, "%s: bias has %lld values, %s needs %d", what, rb == 1 ? db[0] : -1,
                      ss_model_kind_name(m->kind), c->cout);
    long long bad = -1;
    if (st == SS_OK && (bad = first_nonfinite(kernel, (size_t)c->cout * c->cin * 9)) >= 0)
        st = ss_error(SS_ERR_FORMAT, "%s: kernel holds %g at index %lld", what, kernel[bad], bad);
    if (st == SS_OK && (bad = first_nonfinite(bias, (size_t)c->cout)) >= 0)
        st = ss_error(SS_ERR_FORMAT, "%s: bias holds %g at index %lld", what, bias[bad], bad);
    if (st == SS_OK) {
        float *w = malloc(sizeof(float) * (size_t)c->cout * c->cin * 9);
        if (!w) st = ss_error(SS_ERR_NOMEM, "out of memory for %s", what);
        else {
            /* (kh, kw, in, out) -> (out, in, kh, kw) */
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++)
                    for (int i = 0; i < c->cin; i++)
                        for (int o = 0; o < c->cout; o++)
                            w[(((size_t)o * c->cin + i) * 3 + kh) * 3 + kw] =
                                kernel[(((size_t)kh * 3 + kw) * c->cin + i) * c->cout + o];
            m->weight[l] = w;
            m->bias[l] = bias;
            bias = NULL;
        }
    }
    free(kernel);
    free(bias);
    ss_h5_free_strings(wn, nw);
    H5Gclose(g);
    return st;
}

ss_status ss_model_load_keras(ss_model *m, const char *path, int n_convs) {
    hid_t file;
    ss_status st = ss_h5_open_read(&file, path);
    if (st != SS_OK) return ss_error(st, "weights: %s", ss_error_message());
    char **names = NULL;
    int n = 0;
    char what[600];
    snprintf(what, sizeof what, "weights %s", path);
    st = ss_h5_read_strings(&names, &n, file, "layer_names", what);
    if (st == SS_OK) {
        m->preproc = SS_PREPROC_CAFFE;
        char **pp = NULL;
        int npp = 0;
        /* present but unreadable, not one string or unknown: an error, never
         * silently the Caffe pre-processing */
        if (H5Aexists(file, "preprocessing") > 0) {
            st = ss_h5_read_strings(&pp, &npp, file, "preprocessing", what);
            if (st == SS_OK && npp != 1)
                st = ss_error(SS_ERR_FORMAT, "%s: attribute 'preprocessing' holds %d strings, expected one", what, npp);
            else if (st == SS_OK && strcmp(pp[0], "torchvision") == 0) m->preproc = SS_PREPROC_TORCHVISION;
            else if (st == SS_OK && strcmp(pp[0], "caffe") != 0)
                st = ss_error(SS_ERR_FORMAT, "%s: unknown preprocessing '%s' (expected caffe or torchvision)", what,
                              pp[0]);
        }
        ss_h5_free_strings(pp, npp);
    }
    for (int l = 0; st == SS_OK && l < n_convs; l++) {
        st = read_conv(m, l, file, names, n, path);
        if (st == SS_OK) m->n_loaded = l + 1;
    }
    ss_h5_free_strings(names, n);
    H5Fclose(file);
    if (st == SS_OK) snprintf(m->weights_desc, sizeof m->weights_desc, "%s", path);
    return st;
}
