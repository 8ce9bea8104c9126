/* test_backend.c - every slot of every backend present, through the ss_be_*
 * wrappers, against a host reference in double and (for a backend other
 * than the CPU) against the CPU backend on the same inputs, in the manner of
 * ggml's test-backend-ops; the shared element-wise formulas (elementwise.h)
 * against their textbook definitions; and the wrappers' argument checks.
 *
 * Backends: the CPU always; CUDA when built in and a device is present
 * (otherwise one line "no CUDA device" and CUDA is skipped); with
 * STYLESWEEP_TEST_BACKEND=cuda and no device the whole test is skipped
 * (backend_env.h). Also the registry: auto records its choice, cuda
 * without a device fails with one clear message.
 *
 * Shapes are small and odd (5 -> 7 channels, 9x6 maps, pooling 9x7 -> 4x3)
 * so that index mistakes show. Inputs are seeded uniform values; max-pooling
 * inputs are distinct, so every window has one maximum.
 *
 * Tolerances (float32; TF32 in brackets, for convolutions and Gram products
 * only): convolutions, pooling, Gram and style terms within 1e-5 [2e-2] of
 * the largest reference magnitude; content, TV, vector operations and Adam
 * within 1e-6 relative (same formulas, reductions in another order); ReLU
 * backward, copy, fill and de-processing exact. Between a backend and the CPU
 * the same bounds apply. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_env.h"
#include "elementwise.h"
#include "testlib.h"

static uint64_t g_rng = 0x5eed;
static double g_tol_mm = 1e-5; /* convolutions, pooling, Gram: widened for TF32 */

static float frand(void) { /* uniform in [-1, 1) */
    g_rng = g_rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(g_rng >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

static void fill(float *a, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) a[i] = scale * frand();
}

/* A new tensor (c, h, w) holding host (plain order), like `like`'s layout when given. */
static ss_tensor *up(ss_backend *be, const ss_tensor *like, int c, int h, int w, const float *host) {
    ss_tensor *t = NULL;
    if (like) MUST(ss_be_tensor_new_like(be, &t, like));
    else MUST(ss_be_tensor_new(be, &t, c, h, w));
    if (host) MUST(ss_be_tensor_write(be, t, host));
    return t;
}

static float *down(ss_backend *be, const ss_tensor *t) {
    size_t n = (size_t)t->c * t->h * t->w;
    float *h = malloc(n * sizeof *h);
    if (!h) exit(1);
    MUST(ss_be_tensor_read(be, h, t));
    return h;
}

/* got against want: max |got - want| <= tol * max(max |want|, floor). */
static void near(const char *be, const char *what, const float *got, const double *want, size_t n, double tol) {
    double mx = 1e-30, err = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(want[i]));
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= err)) {
            err = fabs(got[i] - want[i]);
            at = i;
            if (isnan(got[i])) err = INFINITY;
        }
    CHECK(err <= tol * mx, "%s %s: max error %.3g at %zu (%.9g vs %.9g) > %.0e of %.3g", be, what, err, at,
          (double)got[at], want[at], tol, mx);
}

static void near_f(const char *be, const char *what, const float *got, const float *want, size_t n, double tol) {
    double *w = malloc(n * sizeof *w);
    if (!w) exit(1);
    for (size_t i = 0; i < n; i++) w[i] = want[i];
    near(be, what, got, w, n, tol);
    free(w);
}

static void near_scalar(const char *be, const char *what, double got, double want, double tol) {
    CHECK(fabs(got - want) <= tol * fmax(fabs(want), 1e-300), "%s %s: %.12g vs %.12g (tol %.0e)", be, what, got, want,
          tol);
}

/* ---- host references ---- */

static double conv_ref_at(const float *x, const float *wt, const float *b, int cin, int h, int w, int o, int i, int j) {
    double s = b[o];
    for (int c = 0; c < cin; c++)
        for (int di = -1; di <= 1; di++)
            for (int dj = -1; dj <= 1; dj++) {
                int y = i + di, z = j + dj;
                if (y < 0 || y >= h || z < 0 || z >= w) continue;
                s += (double)x[((size_t)c * h + y) * w + z] * wt[(((size_t)o * cin + c) * 3 + (di + 1)) * 3 + (dj + 1)];
            }
    return s;
}

/* ---- the operations, each on one backend (the CPU's results returned for comparison) ---- */

typedef struct results {
    float *conv_out, *conv_din, *pool_out[2], *pool_din[2], *gram, *style_df, *content_df, *tv_dx, *adam_x;
    double style_loss[2], content_loss, tv_loss, dot;
} results;

static void results_free(results *r) {
    free(r->conv_out);
    free(r->conv_din);
    for (int k = 0; k < 2; k++) {
        free(r->pool_out[k]);
        free(r->pool_din[k]);
    }
    free(r->gram);
    free(r->style_df);
    free(r->content_df);
    free(r->tv_dx);
    free(r->adam_x);
}

enum { CIN = 5, COUT = 7, H = 9, W = 6 };

/* conv_new, conv_forward, relu_backward and conv_backward_data; the first layer's case (3 plain input channels) too. */
static void test_conv(ss_backend *be, results *r, int cin) {
    const char *n = be->iface->name;
    size_t nin = (size_t)cin * H * W, nout = (size_t)COUT * H * W, nw = (size_t)COUT * cin * 9;
    float *x = malloc(nin * 4), *wt = malloc(nw * 4), *b = malloc(COUT * 4), *dout = malloc(nout * 4);
    fill(x, nin, 2.0f);
    fill(wt, nw, 0.5f);
    fill(b, COUT, 0.3f);
    fill(dout, nout, 1.0f);

    /* the input: plain for the first layer, else a layer output's layout */
    ss_layer *l0 = NULL, *l = NULL;
    ss_tensor *in = NULL, *in0 = NULL, *out = NULL;
    if (cin == 3) in = up(be, NULL, 3, H, W, x);
    else {
        float *w0 = malloc((size_t)cin * 3 * 9 * 4), b0[8] = {0};
        fill(w0, (size_t)cin * 27, 0.5f);
        in0 = up(be, NULL, 3, H, W, NULL);
        MUST(ss_be_conv_new(be, &l0, &in, in0, cin, w0, b0));
        MUST(ss_be_tensor_write(be, in, x));
        free(w0);
    }
    MUST(ss_be_conv_new(be, &l, &out, in, COUT, wt, b));
    CHECK(out->c == COUT && out->h == H && out->w == W, "%s conv_new: out is (%d, %d, %d)", n, out->c, out->h, out->w);
    MUST(ss_be_conv_forward(be, l, out, in));
    float *got = down(be, out);
    double *want = malloc(nout * sizeof *want);
    for (int o = 0; o < COUT; o++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                want[((size_t)o * H + i) * W + j] = fmax(0.0, conv_ref_at(x, wt, b, cin, H, W, o, i, j));
    near(n, cin == 3 ? "conv_forward (3 plain channels)" : "conv_forward", got, want, nout, g_tol_mm);

    /* ReLU backward: exact, in place as net.c uses it */
    ss_tensor *d = up(be, out, 0, 0, 0, dout);
    MUST(ss_be_relu_backward(be, d, d, out));
    float *dpre = down(be, d);
    int bad = 0;
    for (size_t i = 0; i < nout; i++) bad += dpre[i] != ss_ew_relu_backward(dout[i], got[i]);
    CHECK(bad == 0, "%s relu_backward: %d of %zu elements differ from the formula", n, bad, nout);

    /* backward-data: din[c,y,z] = sum_o,di,dj dpre[o, y-di+1.., ] w[o,c,di,dj] */
    ss_tensor *din = up(be, in, 0, 0, 0, NULL);
    MUST(ss_be_conv_backward_data(be, l, din, d));
    float *gd = down(be, din);
    double *wd = calloc(nin, sizeof *wd);
    for (int o = 0; o < COUT; o++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double g = dpre[((size_t)o * H + i) * W + j];
                for (int c = 0; c < cin; c++)
                    for (int di = -1; di <= 1; di++)
                        for (int dj = -1; dj <= 1; dj++) {
                            int y = i + di, z = j + dj;
                            if (y < 0 || y >= H || z < 0 || z >= W) continue;
                            wd[((size_t)c * H + y) * W + z] +=
                                g * wt[(((size_t)o * cin + c) * 3 + (di + 1)) * 3 + (dj + 1)];
                        }
            }
    near(n, cin == 3 ? "conv_backward_data (3 plain channels)" : "conv_backward_data", gd, wd, nin, g_tol_mm);
    if (cin != 3) {
        r->conv_out = got;
        r->conv_din = gd;
        got = gd = NULL;
    }
    free(got);
    free(gd);
    free(want);
    free(wd);
    free(dpre);
    ss_be_tensor_free(be, d);
    ss_be_tensor_free(be, din);
    ss_be_tensor_free(be, out);
    ss_be_tensor_free(be, in);
    ss_be_tensor_free(be, in0);
    ss_be_layer_free(be, l);
    ss_be_layer_free(be, l0);
    free(x);
    free(wt);
    free(b);
    free(dout);
}

/* pooling forward and backward, max and average, on a 9x7 layer-layout input (floor: 4x3) */
static void test_pool(ss_backend *be, results *r) {
    const char *n = be->iface->name;
    enum { C = 4, PH = 9, PW = 7, OH = PH / 2, OW = PW / 2 };
    size_t nin = (size_t)C * PH * PW, nout = (size_t)C * OH * OW;
    /* distinct values: a shuffled ramp */
    float *x = malloc(nin * 4), *dout = malloc(nout * 4);
    for (size_t i = 0; i < nin; i++) x[i] = (float)i * 0.01f - 1.0f;
    for (size_t i = nin - 1; i > 0; i--) {
        size_t j = (size_t)((frand() + 1.0f) * 0.5f * (float)(i + 1)) % (i + 1);
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    fill(dout, nout, 1.0f);
    float w0[C * 27], b0[C] = {0};
    fill(w0, C * 27, 0.5f);
    ss_layer *l0 = NULL;
    ss_tensor *img = up(be, NULL, 3, PH, PW, NULL), *in = NULL;
    MUST(ss_be_conv_new(be, &l0, &in, img, C, w0, b0));
    MUST(ss_be_tensor_write(be, in, x));
    for (int k = 0; k < 2; k++) {
        ss_pool_kind kind = k ? SS_POOL_AVG : SS_POOL_MAX;
        const char *what[2][2] = {{"max pool_forward", "max pool_backward"}, {"avg pool_forward", "avg pool_backward"}};
        ss_layer *l = NULL;
        ss_tensor *out = NULL;
        MUST(ss_be_pool_new(be, &l, &out, in, kind));
        CHECK(out->c == C && out->h == OH && out->w == OW, "%s pool_new: out (%d, %d, %d)", n, out->c, out->h, out->w);
        MUST(ss_be_pool_forward(be, l, out, in));
        ss_tensor *d = up(be, out, 0, 0, 0, dout), *din = up(be, in, 0, 0, 0, NULL);
        MUST(ss_be_pool_backward(be, l, din, d));
        double *wo = malloc(nout * sizeof *wo), *wd = calloc(nin, sizeof *wd);
        for (int c = 0; c < C; c++)
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++) {
                    size_t o = ((size_t)c * OH + i) * OW + j, best = 0;
                    double s = 0.0, mx = -INFINITY;
                    for (int di = 0; di < 2; di++)
                        for (int dj = 0; dj < 2; dj++) {
                            size_t q = ((size_t)c * PH + 2 * i + di) * PW + 2 * j + dj;
                            s += x[q];
                            if (x[q] > mx) {
                                mx = x[q];
                                best = q;
                            }
                        }
                    wo[o] = k ? s / 4.0 : mx;
                    if (k)
                        for (int di = 0; di < 2; di++)
                            for (int dj = 0; dj < 2; dj++)
                                wd[((size_t)c * PH + 2 * i + di) * PW + 2 * j + dj] += dout[o] / 4.0;
                    else wd[best] += dout[o];
                }
        r->pool_out[k] = down(be, out);
        r->pool_din[k] = down(be, din);
        near(n, what[k][0], r->pool_out[k], wo, nout, g_tol_mm);
        near(n, what[k][1], r->pool_din[k], wd, nin, g_tol_mm);
        free(wo);
        free(wd);
        ss_be_tensor_free(be, d);
        ss_be_tensor_free(be, din);
        ss_be_tensor_free(be, out);
        ss_be_layer_free(be, l);
    }
    ss_be_tensor_free(be, in);
    ss_be_tensor_free(be, img);
    ss_be_layer_free(be, l0);
    free(x);
    free(dout);
}

/* Gram, style gradient (two targets, one product), content gradient: on layer-layout features */
static void test_losses(ss_backend *be, results *r) {
    const char *n = be->iface->name;
    enum { C = 6, FH = 5, FW = 7, HW = FH * FW };
    size_t nf = (size_t)C * HW, cc = (size_t)C * C;
    float *f = malloc(nf * 4), *df0 = malloc(nf * 4), *p = malloc(nf * 4), *t[2];
    fill(f, nf, 1.0f);
    fill(df0, nf, 0.1f);
    fill(p, nf, 1.0f);
    double scales[2] = {0.03, 0.7};
    for (int s = 0; s < 2; s++) {
        t[s] = malloc(cc * 4);
        fill(t[s], cc, 3.0f);
    }
    float w0[C * 27], b0[C] = {0};
    fill(w0, C * 27, 0.5f);
    ss_layer *l0 = NULL;
    ss_tensor *img = up(be, NULL, 3, FH, FW, NULL), *tf = NULL;
    MUST(ss_be_conv_new(be, &l0, &tf, img, C, w0, b0));
    MUST(ss_be_tensor_write(be, tf, f));
    ss_tensor *g = up(be, NULL, 1, C, C, NULL), *tt[2] = {up(be, NULL, 1, C, C, t[0]), up(be, NULL, 1, C, C, t[1])};

    double *gram = malloc(cc * sizeof *gram);
    for (int i = 0; i < C; i++)
        for (int j = 0; j < C; j++) {
            double s = 0.0;
            for (int k = 0; k < HW; k++) s += (double)f[i * HW + k] * f[j * HW + k];
            gram[i * C + j] = s;
        }
    MUST(ss_be_gram(be, g, tf));
    r->gram = down(be, g);
    near(n, "gram", r->gram, gram, cc, g_tol_mm);

    ss_tensor *df = up(be, tf, 0, 0, 0, df0);
    const ss_tensor *targets[2] = {tt[0], tt[1]};
    MUST(ss_be_style_grad(be, r->style_loss, df, g, tf, targets, scales, 2));
    double *wdf = malloc(nf * sizeof *wdf), *dg = calloc(cc, sizeof *dg);
    for (int s = 0; s < 2; s++) {
        double sum = 0.0;
        for (size_t i = 0; i < cc; i++) {
            double e = gram[i] - t[s][i];
            sum += e * e;
            dg[i] += 4.0 * scales[s] * e;
        }
        near_scalar(n, s ? "style_grad loss 1" : "style_grad loss 0", r->style_loss[s], scales[s] * sum, 10 * g_tol_mm);
    }
    for (int i = 0; i < C; i++)
        for (int k = 0; k < HW; k++) {
            double s = df0[i * HW + k];
            for (int j = 0; j < C; j++) s += dg[i * C + j] * f[j * HW + k];
            wdf[i * HW + k] = s;
        }
    r->style_df = down(be, df);
    near(n, "style_grad df", r->style_df, wdf, nf, 10 * g_tol_mm);

    /* content: df = df0 + 2 scale (f - p) */
    ss_tensor *tp = up(be, tf, 0, 0, 0, p);
    MUST(ss_be_tensor_write(be, df, df0));
    double cs = 0.37, sum = 0.0;
    MUST(ss_be_content_grad(be, &r->content_loss, df, tf, tp, cs));
    for (size_t i = 0; i < nf; i++) {
        double e = (double)f[i] - p[i];
        sum += e * e;
        wdf[i] = df0[i] + 2.0 * cs * e;
    }
    near_scalar(n, "content_grad loss", r->content_loss, cs * sum, 1e-6);
    r->content_df = down(be, df);
    near(n, "content_grad df", r->content_df, wdf, nf, 1e-6);

    free(wdf);
    free(dg);
    free(gram);
    ss_be_tensor_free(be, tp);
    ss_be_tensor_free(be, df);
    ss_be_tensor_free(be, g);
    ss_be_tensor_free(be, tt[0]);
    ss_be_tensor_free(be, tt[1]);
    ss_be_tensor_free(be, tf);
    ss_be_tensor_free(be, img);
    ss_be_layer_free(be, l0);
    free(f);
    free(df0);
    free(p);
    free(t[0]);
    free(t[1]);
}

/* total variation on a plain (3, 8, 11) image: the scatter form of src/elementwise.h ("total variation") in double */
static void test_tv(ss_backend *be, results *r) {
    const char *n = be->iface->name;
    enum { C = 3, TH = 8, TW = 11 };
    size_t np = (size_t)C * TH * TW;
    float *x = malloc(np * 4), *dx0 = malloc(np * 4);
    fill(x, np, 50.0f);
    fill(dx0, np, 1.0f);
    x[5] = x[5 + TW] = x[6]; /* one cell with a = b = 0 */
    double scale = 0.01, power = 1.25, sum = 0.0, *want = malloc(np * sizeof *want);
    for (size_t i = 0; i < np; i++) want[i] = dx0[i];
    for (int c = 0; c < C; c++)
        for (int i = 0; i < TH - 1; i++)
            for (int j = 0; j < TW - 1; j++) {
                size_t k = ((size_t)c * TH + i) * TW + j;
                double a = (double)x[k] - x[k + TW], b = (double)x[k] - x[k + 1], s = a * a + b * b;
                if (s == 0.0) continue;
                sum += pow(s, power);
                double q = scale * power * pow(s, power - 1.0) * 2.0;
                want[k] += q * (a + b);
                want[k + TW] -= q * a;
                want[k + 1] -= q * b;
            }
    ss_tensor *tx = up(be, NULL, C, TH, TW, x), *tdx = up(be, NULL, C, TH, TW, dx0);
    MUST(ss_be_tv_grad(be, &r->tv_loss, tdx, tx, scale, power));
    near_scalar(n, "tv_grad loss", r->tv_loss, scale * sum, 1e-9);
    r->tv_dx = down(be, tdx);
    near(n, "tv_grad dx", r->tv_dx, want, np, 1e-6);
    ss_be_tensor_free(be, tx);
    ss_be_tensor_free(be, tdx);
    free(x);
    free(dx0);
    free(want);
}

/* the vector operations, Adam and the image conversions on plain (3, 13, 17) tensors */
static void test_vectors(ss_backend *be, results *r) {
    const char *n = be->iface->name;
    enum { C = 3, VH = 13, VW = 17 };
    size_t np = (size_t)C * VH * VW;
    float *a = malloc(np * 4), *b = malloc(np * 4), *m = malloc(np * 4), *v = malloc(np * 4), *want = malloc(np * 4);
    fill(a, np, 3.0f);
    fill(b, np, 2.0f);
    fill(m, np, 0.1f);
    for (size_t i = 0; i < np; i++) v[i] = fabsf(frand()) * 0.01f;
    ss_tensor *ta = up(be, NULL, C, VH, VW, a), *tb = up(be, NULL, C, VH, VW, b);
    double dot = 0.0;
    for (size_t i = 0; i < np; i++) dot += (double)a[i] * b[i];
    MUST(ss_be_vec_dot(be, &r->dot, ta, tb));
    near_scalar(n, "vec_dot", r->dot, dot, 1e-12);

    MUST(ss_be_vec_axpy(be, ta, -0.3, tb));
    for (size_t i = 0; i < np; i++) want[i] = ss_ew_axpy(a[i], -0.3, b[i]);
    float *got = down(be, ta);
    near_f(n, "vec_axpy", got, want, np, 1e-7);
    free(got);
    MUST(ss_be_vec_scale(be, tb, 1.7));
    for (size_t i = 0; i < np; i++) want[i] = ss_ew_scale(b[i], 1.7);
    got = down(be, tb);
    near_f(n, "vec_scale", got, want, np, 1e-7);
    free(got);
    ss_tensor *tm0 = up(be, NULL, C, VH, VW, m);
    MUST(ss_be_vec_mul(be, tm0, tb));
    for (size_t i = 0; i < np; i++) want[i] = ss_ew_mul(m[i], ss_ew_scale(b[i], 1.7));
    got = down(be, tm0);
    near_f(n, "vec_mul", got, want, np, 0);
    free(got);
    ss_be_tensor_free(be, tm0);
    for (size_t i = 0; i < np; i++) want[i] = ss_ew_scale(b[i], 1.7);
    MUST(ss_be_vec_copy(be, ta, tb));
    got = down(be, ta);
    CHECK(!memcmp(got, want, np * 4), "%s vec_copy: the copy differs", n);
    free(got);
    MUST(ss_be_vec_fill(be, ta, 2.5));
    got = down(be, ta);
    int bad = 0;
    for (size_t i = 0; i < np; i++) bad += got[i] != 2.5f;
    CHECK(bad == 0, "%s vec_fill: %d elements are not 2.5", n, bad);
    free(got);

    /* Adam, step 3: the formula on the host */
    ss_tensor *tx = up(be, NULL, C, VH, VW, a), *tm = up(be, NULL, C, VH, VW, m), *tv = up(be, NULL, C, VH, VW, v),
              *tg = up(be, NULL, C, VH, VW, b);
    MUST(ss_be_adam_step(be, tx, tm, tv, tg, 0.05, 0.9, 0.999, 1e-8, 3));
    double c1 = 1.0 - pow(0.9, 3), c2 = 1.0 - pow(0.999, 3);
    float *hx = malloc(np * 4), *hm = malloc(np * 4), *hv = malloc(np * 4);
    memcpy(hx, a, np * 4);
    memcpy(hm, m, np * 4);
    memcpy(hv, v, np * 4);
    for (size_t i = 0; i < np; i++) ss_ew_adam(&hx[i], &hm[i], &hv[i], b[i], 0.05, 0.9, 0.999, 1e-8, c1, c2);
    r->adam_x = down(be, tx);
    near_f(n, "adam_step x", r->adam_x, hx, np, 1e-6);
    got = down(be, tm);
    near_f(n, "adam_step m", got, hm, np, 1e-6);
    free(got);
    got = down(be, tv);
    near_f(n, "adam_step v", got, hv, np, 1e-6);
    free(got);

    /* pre- and de-processing (BGR, Caffe means), through the slot or the wrapper's fallback */
    const float mean[3] = {103.939f, 116.779f, 123.68f}, sd[3] = {1.0f, 1.0f, 1.0f};
    size_t npx = (size_t)VH * VW;
    unsigned char *px = malloc(3 * npx), *back = malloc(3 * npx);
    for (size_t i = 0; i < 3 * npx; i++) px[i] = (unsigned char)(i * 37 % 256);
    MUST(ss_be_preprocess(be, tx, px, 1.0f, mean, sd, 1));
    got = down(be, tx);
    bad = 0;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < npx; i++)
            bad += got[c * npx + i] != ss_ew_preprocess(px[3 * i + 2 - c], 1.0f, mean[c], sd[c]);
    CHECK(bad == 0, "%s preprocess: %d values differ from the formula", n, bad);
    MUST(ss_be_deprocess(be, back, tx, 1.0f, mean, sd, 1));
    CHECK(!memcmp(px, back, 3 * npx), "%s deprocess(preprocess(px)) is not px", n);
    free(got);
    free(px);
    free(back);
    free(hx);
    free(hm);
    free(hv);
    ss_tensor *ts[] = {ta, tb, tx, tm, tv, tg};
    for (int i = 0; i < 6; i++) ss_be_tensor_free(be, ts[i]);
    free(a);
    free(b);
    free(m);
    free(v);
    free(want);
}

/* The wrappers refuse what no slot could do. */
static void test_wrappers(ss_backend *be) {
    const char *n = be->iface->name;
    ss_tensor *a = NULL, *b = NULL, *g = NULL;
    CHECK(ss_be_tensor_new(be, &a, 0, 3, 3) == SS_ERR_ARG && a == NULL, "%s: a (0, 3, 3) tensor was made", n);
    MUST(ss_be_tensor_new(be, &a, 2, 3, 4));
    MUST(ss_be_tensor_new(be, &b, 2, 4, 3));
    MUST(ss_be_tensor_new(be, &g, 1, 3, 3));
    CHECK(ss_be_vec_copy(be, a, b) == SS_ERR_ARG, "%s: vec_copy of (2,3,4) from (2,4,3) accepted", n);
    CHECK(strstr(ss_error_message(), "vec_copy") != NULL, "%s: message '%s' does not name vec_copy", n,
          ss_error_message());
    CHECK(ss_be_gram(be, g, a) == SS_ERR_ARG, "%s: a (1,3,3) Gram matrix for 2 channels accepted", n);
    double d;
    CHECK(ss_be_vec_dot(be, &d, a, NULL) == SS_ERR_ARG, "%s: vec_dot with NULL accepted", n);
    CHECK(ss_be_adam_step(be, a, a, a, a, 0.1, 0.9, 0.9, 1e-8, 0) == SS_ERR_ARG, "%s: Adam step 0 accepted", n);
    CHECK(ss_be_set_precision(be, "fp16") == SS_ERR_ARG, "%s: precision fp16 accepted", n);
    if (!be->iface->set_precision) {
        CHECK(ss_be_set_precision(be, "tf32") == SS_ERR_ARG && strstr(ss_error_message(), "tf32"),
              "%s: tf32 accepted by a float32-only backend", n);
        CHECK(ss_be_set_precision(be, "fp32") == SS_OK, "%s: fp32 refused", n);
    }
    be->lost = 1;
    CHECK(ss_be_vec_fill(be, a, 0.0) == SS_ERR_BACKEND, "%s: a call on a lost backend went through", n);
    be->lost = 0;
    ss_be_tensor_free(be, a);
    ss_be_tensor_free(be, b);
    ss_be_tensor_free(be, g);
}

/* The shared formulas against their definitions. */
static void test_formulas(void) {
    CHECK(ss_ew_relu_backward(2.0f, 0.5f) == 2.0f && ss_ew_relu_backward(2.0f, 0.0f) == 0.0f &&
              ss_ew_relu_backward(2.0f, -1.0f) == 0.0f,
          "ReLU backward");
    float df = 1.0f;
    double sq = ss_ew_content(&df, 3.0f, 1.0f, 0.5f);
    CHECK(sq == 4.0 && df == 2.0f, "content: (3-1)^2 = %g, 1 + 0.5 * 2 = %g", sq, (double)df);
    /* TV cell against a central difference of its own term */
    double ka, kb, v = ss_ew_tv_cell(&ka, &kb, 3.0f, 1.0f, 2.5f, 0.7, 1.25);
    CHECK(fabs(v - pow(4.25, 1.25)) < 1e-12, "TV cell value %g", v);
    double h = 1e-4, vp, vm, t1, t2;
    vp = ss_ew_tv_cell(&t1, &t2, 3.0f, (float)(1.0 + h), 2.5f, 0.7, 1.25);
    vm = ss_ew_tv_cell(&t1, &t2, 3.0f, (float)(1.0 - h), 2.5f, 0.7, 1.25);
    CHECK(fabs(-ka - 0.7 * (vp - vm) / (2 * h)) < 1e-3 * fabs(ka), "TV: d/dx10 %g vs %g", -ka,
          0.7 * (vp - vm) / (2 * h));
    CHECK(ss_ew_tv_cell(&ka, &kb, 1.0f, 1.0f, 1.0f, 1.0, 1.25) == 0.0 && ka == 0.0 && kb == 0.0, "TV flat cell");
    CHECK(ss_ew_tv_gather(1.0, 2.0, 0.5, 0.25) == 2.25, "TV gather");
    /* Adam's first step moves x by about lr against the gradient's sign */
    float x = 1.0f, m = 0.0f, vv = 0.0f;
    ss_ew_adam(&x, &m, &vv, 0.3f, 0.01, 0.9, 0.999, 1e-8, 1.0 - 0.9, 1.0 - 0.999);
    CHECK(fabs(x - 0.99) < 1e-6 && fabs(m - 0.03) < 1e-7 && fabs(vv - 0.3 * 0.3 * 0.001) < 1e-9,
          "Adam first step: x %g m %g v %g", (double)x, (double)m, (double)vv);
    /* every byte survives pre- and de-processing (Caffe and torchvision) */
    int bad = 0;
    for (int p = 0; p < 256; p++) {
        bad += ss_ew_deprocess(ss_ew_preprocess((unsigned char)p, 1.0f, 103.939f, 1.0f), 1.0f, 103.939f, 1.0f) != p;
        bad += ss_ew_deprocess(ss_ew_preprocess((unsigned char)p, 1.0f / 255, 0.485f, 0.229f), 1.0f / 255, 0.485f,
                               0.229f) != p;
    }
    CHECK(bad == 0, "%d bytes change through pre- and de-processing", bad);
    CHECK(ss_ew_deprocess(NAN, 1, 0, 1) == 0 && ss_ew_deprocess(-3, 1, 0, 1) == 0 &&
              ss_ew_deprocess(300, 1, 0, 1) == 255 && ss_ew_deprocess(2.5f, 1, 0, 1) == 3,
          "de-processing clips and rounds half up");
}

static void run_all(ss_backend *be, results *r) {
    g_rng = 0x5eed; /* the same inputs on every backend */
    test_conv(be, r, CIN);
    test_conv(be, r, 3);
    test_pool(be, r);
    test_losses(be, r);
    test_tv(be, r);
    test_vectors(be, r);
    test_wrappers(be);
}

/* A backend's results against the CPU's on the same inputs. */
static void against_cpu(const char *n, const results *r, const results *c) {
    char what[64];
    struct {
        const char *name;
        const float *a, *b;
        size_t count;
        double tol;
    } pairs[] = {{"conv_forward", r->conv_out, c->conv_out, (size_t)COUT * H * W, g_tol_mm},
                 {"conv_backward_data", r->conv_din, c->conv_din, (size_t)CIN * H * W, g_tol_mm},
                 {"max pool_forward", r->pool_out[0], c->pool_out[0], 4 * 4 * 3, g_tol_mm},
                 {"max pool_backward", r->pool_din[0], c->pool_din[0], 4 * 9 * 7, g_tol_mm},
                 {"avg pool_forward", r->pool_out[1], c->pool_out[1], 4 * 4 * 3, g_tol_mm},
                 {"avg pool_backward", r->pool_din[1], c->pool_din[1], 4 * 9 * 7, g_tol_mm},
                 {"gram", r->gram, c->gram, 36, g_tol_mm},
                 {"style_grad df", r->style_df, c->style_df, 6 * 35, 10 * g_tol_mm},
                 {"content_grad df", r->content_df, c->content_df, 6 * 35, 1e-6},
                 {"tv_grad dx", r->tv_dx, c->tv_dx, 3 * 8 * 11, 1e-6},
                 {"adam_step x", r->adam_x, c->adam_x, 3 * 13 * 17, 1e-6}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        snprintf(what, sizeof what, "%s against the CPU", pairs[i].name);
        near_f(n, what, pairs[i].a, pairs[i].b, pairs[i].count, pairs[i].tol);
    }
    near_scalar(n, "content loss against the CPU", r->content_loss, c->content_loss, 1e-6);
    near_scalar(n, "tv loss against the CPU", r->tv_loss, c->tv_loss, 1e-9);
    near_scalar(n, "dot against the CPU", r->dot, c->dot, 1e-12);
    for (int s = 0; s < 2; s++)
        near_scalar(n, "style loss against the CPU", r->style_loss[s], c->style_loss[s], 10 * g_tol_mm);
}

int main(void) {
    test_formulas();
    const char *only = getenv("STYLESWEEP_TEST_BACKEND");
    if (only && !strcmp(only, "cuda") && ss_backend_cuda_devices() == 0) {
        printf("test_backend: no CUDA device, skipped\n");
        return TEST_SKIP;
    }
    results cpu_r = {0};
    ss_backend *cpu = NULL;
    MUST(ss_backend_cpu_new(&cpu, 2));
    run_all(cpu, &cpu_r);
    printf("cpu: every slot checked\n");

    /* the registry: auto says what it chose; cuda without a device is one clear error */
    ss_backend *chosen = NULL;
    MUST(ss_backend_new(&chosen, "auto", 0, 1));
    int n_dev = ss_backend_cuda_devices();
    CHECK(!strcmp(chosen->iface->name, n_dev > 0 ? "cuda" : "cpu") && strstr(chosen->device, "auto: "),
          "auto chose %s (%s) with %d CUDA devices", chosen->iface->name, chosen->device, n_dev);
    ss_be_free(chosen);
    if (n_dev == 0) {
        chosen = NULL;
        ss_status st = ss_backend_new(&chosen, "cuda", 0, 1);
        CHECK(st != SS_OK && chosen == NULL, "backend cuda was made without a device");
        CHECK(strstr(ss_error_message(), "CUDA") != NULL, "backend cuda without a device: '%s'", ss_error_message());
    }

    int want_cuda = !only || !*only || !strcmp(only, "cuda") || !strcmp(only, "auto");
    if (want_cuda) {
        if (ss_backend_cuda_devices() == 0) {
            printf("test_backend: no CUDA device, CUDA skipped\n");
        } else {
            ss_backend *gpu = NULL;
            MUST(ss_backend_new(&gpu, "cuda", 0, 2));
            for (int tf32 = 0; tf32 < 2; tf32++) {
                MUST(ss_be_set_precision(gpu, tf32 ? "tf32" : "fp32"));
                g_tol_mm = tf32 ? 2e-2 : 1e-5;
                results r = {0};
                run_all(gpu, &r);
                against_cpu(tf32 ? "cuda (tf32)" : "cuda", &r, &cpu_r);
                results_free(&r);
                printf("cuda%s (%s): every slot checked against the host and the CPU\n", tf32 ? " tf32" : "",
                       gpu->device);
            }
            g_tol_mm = 1e-5;
            ss_be_free(gpu);
        }
    }
    results_free(&cpu_r);
    ss_be_free(cpu);
    return check_summary("test_backend");
}
