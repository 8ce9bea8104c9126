/* test_reference.c - compares one evaluation with PyTorch's reference values.
 *
 * tests/data/ref_cases.h5 (version 1, written by tests/make_reference.py in
 * float64 PyTorch) holds images and, per case, the loss terms and the
 * gradient for narrow VGG16/VGG19 networks whose weights are stored in the
 * Keras layout (tests/data/ref_vgg*_div8.h5), so the weights reader is
 * tested too. Every case is evaluated through ss_net_eval in float32 on
 * the backend STYLESWEEP_TEST_BACKEND names (backend_env.h; the CPU by
 * default, with the convolutions STYLESWEEP_CONV=auto chooses, again with
 * oneDNN's direct ones and with our own Winograd ones everywhere). Cases
 * with attribute masks = 1 set style masks (style_masks) from the group's
 * masks/s<S>_l<L> datasets first.
 *
 * Tolerances: each loss term (total, content, every style layer, tv) within
 * a relative error of 1e-4 (2e-2 with STYLESWEEP_TEST_PRECISION=tf32); the gradient within a relative error of 1e-4 in
 * the 2-norm (||g - g_ref|| / ||g_ref||), and element-wise within
 * 1e-4 * max|g_ref| (elements near zero make a pure element-wise relative
 * error meaningless). The first mismatches are printed. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_env.h"
#include "check.h"
#include "h5util.h"
#include "model.h"
#include "net.h"
#include "params.h"
#include "testlib.h"

#define REF_VERSION 1
/* float32 (CPU, and CUDA without TF32); TF32 rounds products to 10 mantissa bits */
#define REL_TOL_FP32 1e-4
#define REL_TOL_TF32 2e-2
static double g_rel_tol = REL_TOL_FP32;

static void check_term(const char *name, double got, double want) {
    double rel = fabs(got - want) / fmax(fabs(want), 1e-30);
    CHECK(rel <= g_rel_tol, "%s: %.10g, PyTorch %.10g", name, got, want);
}

static int read_string_attr(hid_t obj, const char *name, char *buf, size_t size) {
    char **s = NULL;
    int n = 0;
    if (ss_h5_read_strings(&s, &n, obj, name, "ref_cases.h5") != SS_OK) return -1;
    if (n != 1) {
        ss_h5_free_strings(s, n);
        return -1;
    }
    snprintf(buf, size, "%s", s[0]);
    ss_h5_free_strings(s, n);
    return 0;
}

/* A numeric attribute read as doubles (up to max values); returns the count. */
static int read_doubles_attr(hid_t obj, const char *name, double *out, int max) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    int r = -1;
    if (n >= 1 && n <= max && H5Aread(a, H5T_NATIVE_DOUBLE, out) >= 0) r = (int)n;
    H5Sclose(sp);
    H5Aclose(a);
    return r;
}

static double read_scalar(hid_t g, const char *name) {
    double v = NAN;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d >= 0) {
        H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
        H5Dclose(d);
    }
    return v;
}

typedef struct ref_images {
    float *content, *style[2], *x;
    int h, w;
} ref_images;

static int load_image(float **out, hid_t f, const char *name, int *h, int *w) {
    int rank;
    long long dims[4];
    if (ss_h5_read_floats(out, &rank, dims, f, name, "ref_cases.h5") != SS_OK || rank != 3 || dims[0] != 3) {
        printf("FAIL cannot read %s: %s\n", name, ss_error_message());
        return -1;
    }
    *h = (int)dims[1];
    *w = (int)dims[2];
    return 0;
}

/* Sets the style masks of a case whose attribute masks is 1: dataset
 * masks/s<S>_l<L> of the group is style S's mask at style layer L, at that
 * layer's size (style_masks). */
static ss_status set_case_masks(hid_t g, ss_net *net, int n_styles, int n_layers) {
    double on = 0;
    if (read_doubles_attr(g, "masks", &on, 1) != 1 || on == 0) return SS_OK;
    for (int s = 0; s < n_styles; s++)
        for (int l = 0; l < n_layers; l++) {
            char path[64];
            float *v = NULL;
            int rank, h, w;
            long long dims[4];
            snprintf(path, sizeof path, "masks/s%d_l%d", s, l);
            SS_TRY(ss_h5_read_floats(&v, &rank, dims, g, path, "ref_cases.h5"));
            ss_net_style_layer_size(net, l, &h, &w);
            if (rank != 2 || dims[0] != h || dims[1] != w) {
                free(v);
                return ss_error(SS_ERR_FORMAT, "%s is not %dx%d", path, w, h);
            }
            unsigned char *m = malloc((size_t)h * w);
            for (size_t i = 0; m && i < (size_t)h * w; i++) m[i] = v[i] != 0.0f;
            free(v);
            if (!m) return ss_error(SS_ERR_NOMEM, "out of memory");
            ss_status st = ss_net_set_style_mask(net, s, l, m);
            free(m);
            SS_TRY(st);
        }
    return SS_OK;
}

/* Runs one case group; returns 0 when it could run (mismatches count in g_failures). */
static int run_case(ss_backend *be, hid_t file, const char *case_name, const ref_images *im) {
    hid_t g = H5Gopen2(file, case_name, H5P_DEFAULT);
    if (g < 0) return -1;
    char model[32], weights[256], pool[16], content_layer[32], style_layers[256], styles[64], norm[32];
    double cw, tvw, tvp, sw[8], div_d, type_d;
    int nsw, ok = 1;
    ok &= read_string_attr(g, "model", model, sizeof model) == 0;
    ok &= read_string_attr(g, "weights", weights, sizeof weights) == 0;
    ok &= read_string_attr(g, "pool", pool, sizeof pool) == 0;
    ok &= read_string_attr(g, "content_layer", content_layer, sizeof content_layer) == 0;
    ok &= read_string_attr(g, "style_layers", style_layers, sizeof style_layers) == 0;
    ok &= read_string_attr(g, "styles", styles, sizeof styles) == 0;
    ok &= read_string_attr(g, "style_norm", norm, sizeof norm) == 0;
    ok &= read_doubles_attr(g, "content_weight", &cw, 1) == 1;
    ok &= read_doubles_attr(g, "tv_weight", &tvw, 1) == 1;
    ok &= read_doubles_attr(g, "tv_power", &tvp, 1) == 1;
    ok &= read_doubles_attr(g, "channels_div", &div_d, 1) == 1;
    ok &= read_doubles_attr(g, "content_loss_type", &type_d, 1) == 1;
    ok &= (nsw = read_doubles_attr(g, "style_weight", sw, 8)) >= 1;
    if (!ok) {
        FAIL("%s: attributes missing", case_name);
        H5Gclose(g);
        return 0;
    }
    /* the run parameters, set through the same table as the command line */
    ss_params p;
    ss_params_defaults(&p);
    char buf[512];
    int set_ok = ss_params_set(&p, "model", model) == SS_OK && ss_params_set(&p, "pool", pool) == SS_OK &&
                 ss_params_set(&p, "content_layer", content_layer) == SS_OK &&
                 ss_params_set(&p, "style_layers", style_layers) == SS_OK &&
                 ss_params_set(&p, "style_norm", norm) == SS_OK;
    snprintf(buf, sizeof buf, "%d", (int)div_d);
    set_ok &= ss_params_set(&p, "channels_div", buf) == SS_OK;
    snprintf(buf, sizeof buf, "%d", (int)type_d);
    set_ok &= ss_params_set(&p, "content_loss_type", buf) == SS_OK;
    snprintf(buf, sizeof buf, "%.17g", cw);
    set_ok &= ss_params_set(&p, "content_weight", buf) == SS_OK;
    snprintf(buf, sizeof buf, "%.17g", tvw);
    set_ok &= ss_params_set(&p, "tv_weight", buf) == SS_OK;
    snprintf(buf, sizeof buf, "%.17g", tvp);
    set_ok &= ss_params_set(&p, "tv_power", buf) == SS_OK;
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < nsw; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%.17g", i ? "," : "", sw[i]);
    set_ok &= ss_params_set(&p, "style_weight", buf) == SS_OK;
    p.n_styles = nsw;
    ss_model m;
    ss_loss_config cfg;
    ss_net *net = NULL;
    ss_tensor *x = NULL, *grad = NULL;
    float *gref = NULL, *gout = NULL;
    char wpath[512];
    snprintf(wpath, sizeof wpath, "tests/data/%s", weights);
    ss_status st = set_ok ? ss_params_resolve(&p, &m, &cfg) : SS_ERR_ARG;
    if (st == SS_OK) st = ss_model_load_weights(&m, wpath, ss_net_deepest_layer(&cfg) + 1);
    if (st == SS_OK) st = ss_net_new(&net, be, &m, &cfg, im->h, im->w);
    if (st == SS_OK) st = ss_net_set_content(net, im->content);
    if (st == SS_OK) st = set_case_masks(g, net, nsw, cfg.n_style_layers);
    for (int s = 0; st == SS_OK && s < nsw; s++) st = ss_net_set_style(net, s, im->style[s]);
    if (st == SS_OK) st = be->iface->tensor_new(be, &x, 3, im->h, im->w);
    if (st == SS_OK) st = be->iface->tensor_new(be, &grad, 3, im->h, im->w);
    if (st == SS_OK) st = be->iface->tensor_write(be, x, im->x);
    ss_terms t;
    if (st == SS_OK) st = ss_net_eval(net, &t, grad, x);
    size_t n = 3 * (size_t)im->h * im->w;
    gout = malloc(n * sizeof(float));
    if (st == SS_OK) st = be->iface->tensor_read(be, gout, grad);
    if (st != SS_OK) {
        FAIL("%s: %s", case_name, ss_error_message());
    } else {
        char name[128];
        snprintf(name, sizeof name, "%s loss", case_name);
        check_term(name, t.total, read_scalar(g, "loss"));
        snprintf(name, sizeof name, "%s content_loss", case_name);
        check_term(name, t.content, read_scalar(g, "content_loss"));
        snprintf(name, sizeof name, "%s tv_loss", case_name);
        check_term(name, t.tv, read_scalar(g, "tv_loss"));
        double sl[SS_MAX_STYLE_LAYERS];
        hid_t d = H5Dopen2(g, "style_loss", H5P_DEFAULT);
        H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, sl);
        H5Dclose(d);
        for (int l = 0; l < cfg.n_style_layers; l++) {
            snprintf(name, sizeof name, "%s style_loss[%s]", case_name, p.style_layers[l]);
            check_term(name, t.style[l], sl[l]);
        }
        int rank;
        long long dims[4];
        if (ss_h5_read_floats(&gref, &rank, dims, g, "grad", "ref_cases.h5") != SS_OK) {
            FAIL("%s: no grad", case_name);
        } else {
            double num = 0, den = 0, gmax = 0;
            for (size_t i = 0; i < n; i++) {
                num += ((double)gout[i] - gref[i]) * ((double)gout[i] - gref[i]);
                den += (double)gref[i] * gref[i];
                gmax = fmax(gmax, fabs(gref[i]));
            }
            double rel = sqrt(num / den);
            CHECK(rel <= g_rel_tol, "%s grad: relative 2-norm error %.3g > %.0e", case_name, rel, g_rel_tol);
            int shown = 0;
            for (size_t i = 0; i < n; i++) {
                if (fabs((double)gout[i] - gref[i]) > g_rel_tol * gmax && shown++ < 3)
                    FAIL("%s grad[%zu]: %.8g, PyTorch %.8g", case_name, i, gout[i], gref[i]);
            }
            printf("%s %s %s type %d %s: loss %.9g (PyTorch %.9g), grad error %.2e\n", case_name, model, pool,
                   (int)type_d, norm, t.total, read_scalar(g, "loss"), rel);
        }
    }
    free(gref);
    free(gout);
    if (x) be->iface->tensor_free(be, x);
    if (grad) be->iface->tensor_free(be, grad);
    ss_net_free(net);
    ss_model_free(&m);
    H5Gclose(g);
    return 0;
}

int main(void) {
    ss_h5_quiet();
    hid_t f;
    if (ss_h5_open_read(&f, "tests/data/ref_cases.h5") != SS_OK) {
        printf("FAIL %s\n", ss_error_message());
        return 1;
    }
    double version = 0;
    if (read_doubles_attr(f, "version", &version, 1) != 1 || (int)version != REF_VERSION) {
        printf("FAIL ref_cases.h5 has version %g, this test reads version %d\n", version, REF_VERSION);
        return 1;
    }
    ref_images im = {0};
    int h2, w2;
    if (load_image(&im.content, f, "content", &im.h, &im.w) || load_image(&im.style[0], f, "style0", &h2, &w2) ||
        load_image(&im.style[1], f, "style1", &h2, &w2) || load_image(&im.x, f, "x", &h2, &w2))
        return 1;
    /* every case with the default convolutions (oneDNN's Winograd where it
     * has one, else ours where it pays), again with direct ones and with our
     * Winograd everywhere; CUDA has one kind (cuDNN's fixed choice) */
    int cases = 0;
    const char *modes[3] = {"auto", "direct", "winograd"};
    int n_modes = strcmp(test_backend_name(), "cpu") ? 1 : 3;
    if (test_backend_tf32()) g_rel_tol = REL_TOL_TF32;
    for (int mode = 0; mode < n_modes; mode++) {
        setenv("STYLESWEEP_CONV", modes[mode], 1);
        printf("convolutions: %s\n", modes[mode]);
        ss_backend *be = test_backend_new("test_reference", 0);
        cases = 0;
        for (int i = 0; i < 100; i++) {
            char name[32];
            snprintf(name, sizeof name, "case_%02d", i);
            if (H5Lexists(f, name, H5P_DEFAULT) <= 0) break;
            run_case(be, f, name, &im);
            cases++;
        }
        be->iface->free(be);
    }
    H5Fclose(f);
    free(im.content);
    free(im.style[0]);
    free(im.style[1]);
    free(im.x);
    if (cases < 12) {
        printf("FAIL only %d cases found\n", cases);
        return 1;
    }
    printf("%d cases (tolerance %.0e relative)\n", cases, g_rel_tol);
    return check_summary("test_reference");
}
