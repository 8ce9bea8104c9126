/* test_gradcheck.c - the gradient of ss_net_eval (src/net.c on the backend
 * STYLESWEEP_TEST_BACKEND names, the CPU by default: backend_env.h)
 * against finite differences, for each loss term alone and for all
 * of them together, and the loss values against an independent computation
 * in double precision on the host.
 *
 * Setup: narrow random models (VGG16 and VGG19 with channels / 8, weights
 * "random:3": He-normal, zero biases) and small images: 20x24, 16x16, and the
 * odd 18x22 and 21x19, whose maps pool with floor (21x19 -> 10x9 -> 5x4 ->
 * 2x2, 18x22 -> 9x11 -> 4x5 -> 2x2; 20x24 ends in 5x6 -> 2x3 -> 1x1). Max and
 * average pooling. Content, style and x are seeded smooth-ish fields (three
 * random plane waves plus uniform noise of +-5) in about [-100, 100], like a
 * pre-processed image. The cases (table `cases`) isolate each term by its
 * weight: content only (types 0, 1, 2 at conv1_2, conv2_2, conv3_2, conv4_2),
 * style only (one layer at a time: conv1_1, conv2_1, conv3_1, conv4_1 of
 * VGG19, conv5_1 of VGG16; the Gatys and target normalisations; two style
 * images with different weights), TV only (power 1.25 and 2), and all
 * together (weights balanced so that no term hides the others).
 *
 * The host reference (ref_*) is written again from the formulas listed in
 * tests/data/README.md: the same weights, 3x3 convolutions with ReLU, 2x2 pooling, the
 * content, style and TV terms, all in double. It also runs forward-mode
 * along a direction d to find the distance to the nearest *kink*: ReLU and
 * max pooling make the loss only piecewise smooth, and where every
 * pre-activation keeps its sign and every max-pooling window its maximum,
 * every pre-activation and every difference within a window is linear in t
 * (induction over the layers), so on (-kink, kink) the loss is a polynomial
 * of t (degree 2 for content, 4 for style) and finite differences are exact
 * up to rounding (and O(h^2) for style and TV).
 *
 * Checks, per case (the exact rules):
 *
 *  1. Values: every term of ss_net_eval (total, content, each style layer,
 *     tv) against the host: |ours - ref| <= VALUE_TOL * |ref|, VALUE_TOL =
 *     1e-5 (features are float32; we observe <= 1.3e-6). A term whose weight
 *     is 0 must be exactly 0. TV again from x in double: relative 1e-12
 *     (the same doubles summed in another order), and for the TV-only cases
 *     its gradient element-wise against the host's analytic gradient:
 *     max|ours - host| <= 1e-6 * max|host| (accumulated in float; we
 *     observe 1.3e-7). Separately, for conv1_2..conv4_2 of both models:
 *     type 2 value * C * W*H and type 1 value * 2 sqrt(C) sqrt(W*H) equal the
 *     type 0 value to relative 1e-12.
 *
 *  2. Float32 finite differences of ss_net_eval itself, no host in the
 *     comparison. Directions d, scaled to max|d| = 1 so that h is in grey
 *     levels: the gradient itself; two seeded random directions with the
 *     gradient's signs (uniform and |normal| magnitudes); a seeded 5x5 patch
 *     (all channels, uniform magnitudes, the gradient's signs); two single
 *     pixels (three channels, the gradient's signs: the pixel of largest
 *     sum_c |grad|, and a seeded one among those with at least half of it).
 *     With x+- = fl(x +- h d) we compare fd = L(x+) - L(x-) (the loss as
 *     ss_net_eval returns it) with an = <grad, x+ - x-> (the step actually
 *     taken after rounding to float, in double): |fd - an| <= FD_TOL * |an|,
 *     FD_TOL = 1e-2, at h = min(1, kink / 2): the largest step that stays on
 *     one smooth piece, since float32 losses carry a rounding noise of about
 *     1e-7..1e-6 of their value and the error is that noise over 2 h |an|.
 *     x is drawn again (another stream, at most MAX_X_TRIES times) until
 *     every one of these directions has its nearest kink at >= KINK_MIN =
 *     2e-3 grey levels ("pick x away from kinks": with ~10^4 units some
 *     pre-activation is always near 0, but rarely that near). We observe
 *     <= 3e-3; FD_TOL keeps a 3x margin for other CPUs (oneDNN picks other
 *     kernels, so other rounding). A whole-image Gaussian direction and a
 *     smooth one are not checked this way: their <grad, d> cancels to
 *     ~1/sqrt(n) of |grad| |d|, below the float32 noise of L at any step
 *     short of the nearest kink (1e-3..1e-2 grey levels); we see errors up to
 *     0.12 (GC_VERBOSE=1 prints them). Check 3 covers them.
 *
 *  3. Double finite differences of the host reference along every
 *     direction above plus the Gaussian and smooth ones, on one smooth piece
 *     (h = min(1e-3, kink / 4)), against <grad, d> of ss_net_eval:
 *     |<grad, d> - fd64| <= REF_TOL * |fd64|, REF_TOL = 1e-4 (the float32
 *     gradient's own accuracy; we observe <= 1.1e-5). The tight check.
 *
 *  Style masks (style_masks): two more cases (masked_cases) run with each
 *  style image masked by an analytic pattern at every style layer (the mask
 *  multiplies the style's and x's features before their Grams, as
 *  ss_net_set_style_mask says); the host masks its features the same way.
 *
 *  4. Evaluating again at x after all the others gives the same loss and
 *     gradient (relative 1e-6): nothing leaks from one evaluation into the
 *     next.
 *
 * A wrong program fails: with any of a dropped ReLU mask (or `>=` for `>`),
 * a content or style gradient factor off by 2, a TV gradient sign or factor,
 * a wrong type 1, Gatys or target scale, average pooling built as max, or
 * the second style image's weight used for the first, the test fails (most of
 * them in checks 2 and 3 both).
 *
 * Exit status 0 when every check passes; otherwise the first failures are
 * printed with their numbers and the status is 1. GC_VERBOSE=1 prints every
 * check, 2 also the steps and the draws of x. Run time: about 5 s on two
 * cores (about 470 evaluations), the sanitizer build about the same (the
 * host reference is ~1 s of it); OpenMP's spinning threads make it much
 * slower on an oversubscribed machine (OMP_WAIT_POLICY=passive helps). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "backend_env.h"
#include "model.h"
#include "net.h"
#include "rng.h"
#include "status.h"
#include "testlib.h"

/* ---- reporting ---- */

static int g_verbose;
static int g_fail_value, g_fail_fd32, g_fail_fd64; /* failures by kind of check */

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        printf("FAIL: out of memory\n");
        exit(1);
    }
    return p;
}

/* Worst errors per group, for the summary. */
enum { G_CONTENT, G_STYLE, G_TV, G_ALL, N_GROUPS };
static const char *const group_names[N_GROUPS] = {"content", "style", "tv", "all"};
static double worst_value[N_GROUPS], worst_fd[N_GROUPS], worst_ref[N_GROUPS];

/* ---- tolerances ---- */

#define VALUE_TOL 1e-5
#define FD_TOL 1e-2
#define REF_TOL 1e-4

/* float32 finite differences: step min(FD_MAX_STEP, kink / 2) grey levels
 * (max|d| = 1); x is drawn again (at most MAX_X_TRIES times) while a
 * checked direction has its nearest kink closer than KINK_MIN */
#define FD_MAX_STEP 1.0
#define KINK_MIN 2e-3
enum { MAX_X_TRIES = 16 };

/* ---- cases ---- */

typedef struct gc_case {
    int group;
    const char *name;
    ss_model_kind model;
    int h, w;
    ss_pool_kind pool;
    const char *content_layer;
    int content_type;
    double content_weight;
    const char *style_layers[6]; /* NULL-terminated */
    int n_styles;
    double style_weight[2];
    ss_style_norm norm;
    double tv_weight, tv_power;
    int balance; /* scale content and tv weights so the three terms are about equal */
} gc_case;

#define VGG16 SS_MODEL_VGG16
#define VGG19 SS_MODEL_VGG19
#define MAXP SS_POOL_MAX
#define AVGP SS_POOL_AVG
#define REF SS_STYLE_NORM_REFERENCE
#define GATYS SS_STYLE_NORM_GATYS
#define TARGET SS_STYLE_NORM_TARGET

/* clang-format off */
static const gc_case cases[] = {
    /* content only (style weight 0 on a shallow style layer, tv 0) */
    {G_CONTENT, "content conv4_2 type0", VGG19, 20, 24, MAXP, "conv4_2", 0, 1.0, {"conv1_1"}, 1, {0}, REF, 0, 1.25, 0},
    {G_CONTENT, "content conv3_2 type1", VGG19, 21, 19, AVGP, "conv3_2", 1, 1.0, {"conv1_1"}, 1, {0}, REF, 0, 1.25, 0},
    {G_CONTENT, "content conv2_2 type2", VGG19, 18, 22, MAXP, "conv2_2", 2, 1.0, {"conv1_1"}, 1, {0}, REF, 0, 1.25, 0},
    {G_CONTENT, "content conv1_2 type0", VGG16, 16, 16, AVGP, "conv1_2", 0, 1.0, {"conv1_1"}, 1, {0}, REF, 0, 1.25, 0},
    {G_CONTENT, "content conv4_2 type2", VGG16, 21, 19, MAXP, "conv4_2", 2, 1.0, {"conv1_1"}, 1, {0}, REF, 0, 1.25, 0},
    {G_CONTENT, "content conv4_2 type1", VGG19, 18, 22, AVGP, "conv4_2", 1, 1.0, {"conv1_1"}, 1, {0}, REF, 0, 1.25, 0},
    /* style only, one layer at a time (content weight 0 at conv1_1) */
    {G_STYLE, "style conv1_1", VGG19, 20, 24, MAXP, "conv1_1", 0, 0, {"conv1_1"}, 1, {1}, REF, 0, 1.25, 0},
    {G_STYLE, "style conv2_1", VGG19, 20, 24, MAXP, "conv1_1", 0, 0, {"conv2_1"}, 1, {1}, REF, 0, 1.25, 0},
    {G_STYLE, "style conv3_1", VGG19, 21, 19, MAXP, "conv1_1", 0, 0, {"conv3_1"}, 1, {1}, REF, 0, 1.25, 0},
    {G_STYLE, "style conv4_1", VGG19, 18, 22, MAXP, "conv1_1", 0, 0, {"conv4_1"}, 1, {1}, REF, 0, 1.25, 0},
    {G_STYLE, "style conv2_1 avg", VGG19, 21, 19, AVGP, "conv1_1", 0, 0, {"conv2_1"}, 1, {1}, REF, 0, 1.25, 0},
    {G_STYLE, "style conv4_1 avg", VGG19, 20, 24, AVGP, "conv1_1", 0, 0, {"conv4_1"}, 1, {1}, REF, 0, 1.25, 0},
    {G_STYLE, "style conv5_1 vgg16", VGG16, 20, 24, MAXP, "conv1_1", 0, 0, {"conv5_1"}, 1, {1}, REF, 0, 1.25, 0},
    {G_STYLE, "style gatys", VGG19, 18, 22, AVGP, "conv1_1", 0, 0, {"conv1_1", "conv3_1"}, 1, {1}, GATYS, 0, 1.25, 0},
    {G_STYLE, "style target", VGG19, 21, 19, MAXP, "conv1_1", 0, 0, {"conv2_1", "conv4_1"}, 1, {1}, TARGET, 0, 1.25, 0},
    {G_STYLE, "style two images", VGG16, 20, 24, MAXP, "conv1_1", 0, 0, {"conv1_1", "conv2_1", "conv3_1"}, 2,
     {0.7, 2.5}, REF, 0, 1.25, 0},
    {G_STYLE, "style two images target", VGG19, 16, 16, AVGP, "conv1_1", 0, 0, {"conv1_2", "conv3_1"}, 2,
     {1.5, 0.25}, TARGET, 0, 1.25, 0},
    /* total variation only */
    {G_TV, "tv 1.25", VGG19, 20, 24, MAXP, "conv1_1", 0, 0, {"conv1_1"}, 1, {0}, REF, 1.0, 1.25, 0},
    {G_TV, "tv 2.0", VGG16, 21, 19, AVGP, "conv1_1", 0, 0, {"conv1_1"}, 1, {0}, REF, 1.0, 2.0, 0},
    {G_TV, "tv 1.25 odd", VGG16, 18, 22, AVGP, "conv1_1", 0, 0, {"conv1_1"}, 1, {0}, REF, 1e-3, 1.25, 0},
    /* everything together (weights balanced so that no term hides another) */
    {G_ALL, "all vgg19 max", VGG19, 20, 24, MAXP, "conv4_2", 0, 1.0,
     {"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"}, 1, {1}, REF, 1.0, 1.25, 1},
    {G_ALL, "all vgg19 avg", VGG19, 21, 19, AVGP, "conv3_2", 1, 1.0, {"conv1_1", "conv2_1", "conv3_1", "conv4_1"}, 1,
     {1}, GATYS, 1.0, 2.0, 1},
    {G_ALL, "all vgg16 two styles", VGG16, 18, 22, MAXP, "conv2_2", 2, 1.0, {"conv1_1", "conv2_1", "conv3_1"}, 2,
     {1.0, 0.3}, TARGET, 1.0, 1.25, 1},
    {G_ALL, "all vgg16 avg 16x16", VGG16, 16, 16, AVGP, "conv4_2", 0, 1.0, {"conv1_1", "conv3_1", "conv4_1"}, 1, {1},
     REF, 1.0, 1.25, 1},
};
/* style masks (style_masks): run with g_masked = 1, style image s masked by
 * mask_at(s, ...) at every style layer (two complementary stripes patterns) */
static const gc_case masked_cases[] = {
    {G_STYLE, "masked two images", VGG16, 20, 24, MAXP, "conv1_1", 0, 0, {"conv1_1", "conv2_1", "conv3_1"}, 2,
     {0.7, 2.5}, REF, 0, 1.25, 0},
    {G_ALL, "masked all vgg19 two styles", VGG19, 21, 19, AVGP, "conv3_2", 1, 1.0, {"conv1_1", "conv2_1", "conv4_1"},
     2, {1.0, 0.6}, GATYS, 1.0, 1.25, 1},
};
/* clang-format on */
enum { N_CASES = sizeof cases / sizeof cases[0], N_MASKED = sizeof masked_cases / sizeof masked_cases[0] };

static int g_masked; /* 1 while masked_cases run */

/* The mask of style image s at (y, x) of a map: diagonal stripes for style
 * 0, their complement for style 1 (both non-empty at every size >= 1x2). */
static int mask_at(int s, int y, int x) {
    int in = (x + 2 * y) % 3 != 0;
    return s == 0 ? in : !in;
}

/* out = f (c, h, w) times style s's mask (a copy). */
static double *masked_copy(const double *f, int c, int h, int w, int s) {
    double *out = malloc(sizeof(double) * (size_t)c * h * w);
    if (!out) exit(1);
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = ((size_t)k * h + y) * w + x;
                out[i] = mask_at(s, y, x) ? f[i] : 0.0;
            }
    return out;
}

/* ---- images ---- */

/* A smooth-ish (3, h, w) field in about [-100, 100]: per channel, three
 * random plane waves of decreasing amplitude plus uniform noise of +-5. */
static void make_image(float *img, int h, int w, uint64_t seed, uint64_t stream) {
    ss_rng r;
    ss_rng_init(&r, seed, stream);
    for (int c = 0; c < 3; c++) {
        double fy[3], fx[3], ph[3], amp[3] = {55.0, 25.0, 12.0};
        for (int k = 0; k < 3; k++) {
            fy[k] = (ss_rng_uniform(&r) - 0.5) * 0.8 * (k + 1);
            fx[k] = (ss_rng_uniform(&r) - 0.5) * 0.8 * (k + 1);
            ph[k] = ss_rng_uniform(&r) * 6.283185307179586;
        }
        double offset = (ss_rng_uniform(&r) - 0.5) * 20.0;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                double v = offset + (ss_rng_uniform(&r) - 0.5) * 10.0;
                for (int k = 0; k < 3; k++) v += amp[k] * sin(fy[k] * i + fx[k] * j + ph[k]);
                img[((size_t)c * h + i) * w + j] = (float)v;
            }
    }
}

/* ---- host reference in double ---- */

/* time spent in, and number of, evaluations (GC_VERBOSE) */
static double g_sut_time, g_ref_time;
static int g_sut_evals, g_ref_evals;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Features of one forward pass: post-ReLU activations of every convolution
 * up to the deepest, and, when a direction d is given, their tangents
 * (derivative along d) and the distance along d to the nearest kink. */
typedef struct ref_feats {
    int n; /* convolutions computed */
    double *f[SS_MODEL_MAX_CONVS], *df[SS_MODEL_MAX_CONVS];
    int c[SS_MODEL_MAX_CONVS], h[SS_MODEL_MAX_CONVS], w[SS_MODEL_MAX_CONVS];
    double kink; /* min over units of |t| where a unit or a max-pooling choice would switch */
} ref_feats;

static void ref_feats_free(ref_feats *r) {
    for (int k = 0; k < r->n; k++) {
        free(r->f[k]);
        free(r->df[k]);
    }
    r->n = 0;
}

/* out = conv3x3(in) (+ b when b != NULL), padding 1, no ReLU */
static void ref_conv_pre(double *out, const double *in, int cin, int cout, int h, int w, const float *wt,
                         const float *b) {
    for (int o = 0; o < cout; o++) {
        double *op = out + (size_t)o * h * w;
        for (int p = 0; p < h * w; p++) op[p] = b ? b[o] : 0.0;
        for (int ci = 0; ci < cin; ci++) {
            const double *ip = in + (size_t)ci * h * w;
            const float *k = wt + ((size_t)o * cin + ci) * 9;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    double kv = k[ky * 3 + kx];
                    int i0 = ky == 0 ? 1 : 0, i1 = ky == 2 ? h - 1 : h;
                    int j0 = kx == 0 ? 1 : 0, j1 = kx == 2 ? w - 1 : w;
                    for (int i = i0; i < i1; i++) {
                        double *orow = op + (size_t)i * w;
                        const double *irow = ip + (size_t)(i + ky - 1) * w + (kx - 1);
                        for (int j = j0; j < j1; j++) orow[j] += kv * irow[j];
                    }
                }
        }
    }
}

/* 2x2 stride 2, floor of odd sizes; with tangents din/dout when din != NULL. */
static void ref_pool(double *out, double *dout, const double *in, const double *din, int c, int h, int w,
                     ss_pool_kind kind, double *kink) {
    int oh = h / 2, ow = w / 2;
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                size_t q = ((size_t)ch * h + 2 * i) * w + 2 * j, o = ((size_t)ch * oh + i) * ow + j;
                size_t at[4] = {q, q + 1, q + w, q + w + 1};
                if (kind == SS_POOL_MAX) {
                    int a = 0;
                    for (int k = 1; k < 4; k++)
                        if (in[at[k]] > in[at[a]]) a = k;
                    out[o] = in[at[a]];
                    if (din) {
                        dout[o] = din[at[a]];
                        /* the choice switches where another element overtakes the maximum */
                        for (int k = 0; k < 4; k++) {
                            double gap = in[at[a]] - in[at[k]], dg = din[at[a]] - din[at[k]];
                            if (k != a && dg != 0.0) *kink = fmin(*kink, gap / fabs(dg));
                        }
                    }
                } else {
                    out[o] = 0.25 * (in[at[0]] + in[at[1]] + in[at[2]] + in[at[3]]);
                    if (din) dout[o] = 0.25 * (din[at[0]] + din[at[1]] + din[at[2]] + din[at[3]]);
                }
            }
}

/* Forward of x (and of the tangent d when d != NULL) up to convolution `deepest`. */
static void ref_forward(ref_feats *r, const ss_model *m, int deepest, ss_pool_kind pool, const double *x,
                        const double *d, int h, int w) {
    double t0 = now();
    g_ref_evals++;
    const double *in = x, *din = d;
    int c = 3;
    double *pooled = NULL, *dpooled = NULL;
    memset(r, 0, sizeof *r);
    r->kink = INFINITY;
    for (int k = 0; k <= deepest; k++) {
        const ss_conv_info *ci = &m->conv[k];
        size_t nf = (size_t)ci->cout * h * w;
        r->f[k] = xcalloc(nf, sizeof(double));
        r->c[k] = ci->cout;
        r->h[k] = h;
        r->w[k] = w;
        r->n = k + 1;
        ref_conv_pre(r->f[k], in, c, ci->cout, h, w, m->weight[k], m->bias[k]);
        if (d) {
            r->df[k] = xcalloc(nf, sizeof(double));
            ref_conv_pre(r->df[k], din, c, ci->cout, h, w, m->weight[k], NULL);
        }
        for (size_t i = 0; i < nf; i++) {
            double pre = r->f[k][i];
            if (d) {
                double dp = r->df[k][i];
                /* the pre-activation is linear in t until the first kink: it crosses 0 at |pre / dp| */
                if (dp != 0.0) r->kink = fmin(r->kink, fabs(pre) / fabs(dp));
                if (!(pre > 0.0)) r->df[k][i] = 0.0;
            }
            if (!(pre > 0.0)) r->f[k][i] = 0.0;
        }
        free(pooled);
        free(dpooled);
        pooled = dpooled = NULL;
        in = r->f[k];
        din = r->df[k];
        c = ci->cout;
        if (ci->pool_after && k < deepest) {
            pooled = xcalloc((size_t)c * (h / 2) * (w / 2), sizeof(double));
            if (d) dpooled = xcalloc((size_t)c * (h / 2) * (w / 2), sizeof(double));
            ref_pool(pooled, dpooled, in, din, c, h, w, pool, &r->kink);
            h /= 2;
            w /= 2;
            in = pooled;
            din = dpooled;
        }
    }
    free(pooled);
    free(dpooled);
    g_ref_time += now() - t0;
}

static double *ref_gram(const double *f, int c, int hw) {
    double *g = xcalloc((size_t)c * c, sizeof(double));
    for (int a = 0; a < c; a++)
        for (int b = a; b < c; b++) {
            double s = 0.0;
            for (int p = 0; p < hw; p++) s += f[(size_t)a * hw + p] * f[(size_t)b * hw + p];
            g[a * c + b] = g[b * c + a] = s;
        }
    return g;
}

/* TV (unweighted) of a (3, h, w) double image and, when grad != NULL, its gradient. */
static double ref_tv(const double *x, int h, int w, double power, double *grad) {
    double sum = 0.0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < h - 1; i++)
            for (int j = 0; j < w - 1; j++) {
                size_t p = ((size_t)c * h + i) * w + j;
                double a = x[p] - x[p + w], b = x[p] - x[p + 1], s = a * a + b * b;
                if (s <= 0.0) continue;
                double v = pow(s, power);
                sum += v;
                if (grad) {
                    double k = 2.0 * power * v / s;
                    grad[p] += k * (a + b);
                    grad[p + w] -= k * a;
                    grad[p + 1] -= k * b;
                }
            }
    return sum;
}

typedef struct ref_ctx {
    const ss_model *m;
    ss_loss_config cfg;
    int h, w, deepest;
    double *content_feat; /* features of the content image at the content layer */
    double *gram_target[SS_MAX_STYLES][SS_MAX_STYLE_LAYERS];
    double style_scale[SS_MAX_STYLES][SS_MAX_STYLE_LAYERS];
    double content_scale;
} ref_ctx;

static double *to_double(const float *v, size_t n) {
    double *d = xcalloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = v[i];
    return d;
}

static void ref_init(ref_ctx *r, const ss_model *m, const ss_loss_config *cfg, int h, int w, const float *content,
                     const float *const *styles) {
    memset(r, 0, sizeof *r);
    r->m = m;
    r->cfg = *cfg;
    r->h = h;
    r->w = w;
    r->deepest = ss_net_deepest_layer(cfg);
    size_t n = (size_t)3 * h * w;
    double pixels = (double)h * w;
    ref_feats f;
    double *xd = to_double(content, n);
    ref_forward(&f, m, r->deepest, cfg->pool, xd, NULL, h, w);
    int k = cfg->content_layer;
    size_t nf = (size_t)f.c[k] * f.h[k] * f.w[k];
    r->content_feat = xcalloc(nf, sizeof(double));
    memcpy(r->content_feat, f.f[k], nf * sizeof(double));
    double C = f.c[k];
    double kc = cfg->content_loss_type == 0   ? 1.0
                : cfg->content_loss_type == 1 ? 1.0 / (2.0 * sqrt(C) * sqrt(pixels))
                                              : 1.0 / (C * pixels);
    r->content_scale = cfg->content_weight * kc;
    ref_feats_free(&f);
    free(xd);
    for (int s = 0; s < cfg->n_styles; s++) {
        xd = to_double(styles[s], n);
        ref_forward(&f, m, r->deepest, cfg->pool, xd, NULL, h, w);
        for (int l = 0; l < cfg->n_style_layers; l++) {
            int L = cfg->style_layers[l];
            int c = f.c[L], hw = f.h[L] * f.w[L];
            double *fm = g_masked ? masked_copy(f.f[L], c, f.h[L], f.w[L], s) : NULL;
            double *g = ref_gram(fm ? fm : f.f[L], c, hw);
            free(fm);
            double norm;
            if (cfg->style_norm == SS_STYLE_NORM_GATYS) norm = 4.0 * (double)c * c * (double)hw * hw;
            else if (cfg->style_norm == SS_STYLE_NORM_TARGET) {
                norm = 0.0;
                for (int i = 0; i < c * c; i++) norm += g[i] * g[i];
            } else norm = 4.0 * 9.0 * pixels * pixels;
            r->gram_target[s][l] = g;
            r->style_scale[s][l] = cfg->style_weight[s] / cfg->n_style_layers / norm;
        }
        ref_feats_free(&f);
        free(xd);
    }
}

static void ref_free(ref_ctx *r) {
    free(r->content_feat);
    for (int s = 0; s < SS_MAX_STYLES; s++)
        for (int l = 0; l < SS_MAX_STYLE_LAYERS; l++) free(r->gram_target[s][l]);
}

/* The terms at x (double), as ss_net_eval defines them. */
static void ref_eval(const ref_ctx *r, ss_terms *t, const double *x) {
    const ss_loss_config *cfg = &r->cfg;
    memset(t, 0, sizeof *t);
    ref_feats f;
    ref_forward(&f, r->m, r->deepest, cfg->pool, x, NULL, r->h, r->w);
    int k = cfg->content_layer;
    size_t nf = (size_t)f.c[k] * f.h[k] * f.w[k];
    double sum = 0.0;
    for (size_t i = 0; i < nf; i++) {
        double d = f.f[k][i] - r->content_feat[i];
        sum += d * d;
    }
    t->content = r->content_scale * sum;
    for (int l = 0; l < cfg->n_style_layers; l++) {
        int L = cfg->style_layers[l];
        int c = f.c[L], hw = f.h[L] * f.w[L];
        double *g = ref_gram(f.f[L], c, hw);
        for (int s = 0; s < cfg->n_styles; s++) {
            if (g_masked) { /* the masked features of x for this style image */
                free(g);
                double *fm = masked_copy(f.f[L], c, f.h[L], f.w[L], s);
                g = ref_gram(fm, c, hw);
                free(fm);
            }
            double q = 0.0;
            for (int i = 0; i < c * c; i++) {
                double d = g[i] - r->gram_target[s][l][i];
                q += d * d;
            }
            t->style[l] += r->style_scale[s][l] * q;
        }
        free(g);
    }
    t->tv = cfg->tv_weight > 0.0 ? cfg->tv_weight * ref_tv(x, r->h, r->w, cfg->tv_power, NULL) : 0.0;
    t->total = t->content + t->tv;
    for (int l = 0; l < cfg->n_style_layers; l++) t->total += t->style[l];
    ref_feats_free(&f);
}

/* Distance from x along d to the nearest kink of the network (ReLU or
 * max-pooling switch): up to it every pre-activation and every difference
 * within a pooling window is linear in t (by induction over the layers), so
 * the loss is a polynomial of t on (-kink, kink): degree 2 for content,
 * 4 for style, and TV is smooth away from zero differences. */
static double ref_kink(const ref_ctx *r, const double *x, const double *d) {
    ref_feats f;
    ref_forward(&f, r->m, r->deepest, r->cfg.pool, x, d, r->h, r->w);
    double k = f.kink;
    ref_feats_free(&f);
    return k;
}

/* ---- the program under test ---- */

typedef struct sut {
    ss_backend *be;
    ss_net *net;
    ss_tensor *x, *grad;
    size_t n;
} sut;

static void sut_eval(sut *s, ss_terms *t, float *grad, const float *x) {
    double t0 = now();
    g_sut_evals++;
    MUST(s->be->iface->tensor_write(s->be, s->x, x));
    MUST(ss_net_eval(s->net, t, s->grad, s->x));
    if (grad) MUST(s->be->iface->tensor_read(s->be, grad, s->grad));
    g_sut_time += now() - t0;
}

static void sut_open(sut *s, ss_backend *be, const ss_model *m, const ss_loss_config *cfg, int h, int w,
                     const float *content, const float *const *styles) {
    s->be = be;
    s->n = (size_t)3 * h * w;
    MUST(ss_net_new(&s->net, be, m, cfg, h, w));
    MUST(ss_net_set_content(s->net, content));
    for (int i = 0; g_masked && i < cfg->n_styles; i++)
        for (int l = 0; l < cfg->n_style_layers; l++) {
            int mh, mw;
            ss_net_style_layer_size(s->net, l, &mh, &mw);
            unsigned char *mask = xcalloc((size_t)mh * mw, 1);
            for (int y = 0; y < mh; y++)
                for (int x = 0; x < mw; x++) mask[y * mw + x] = (unsigned char)mask_at(i, y, x);
            MUST(ss_net_set_style_mask(s->net, i, l, mask));
            free(mask);
        }
    for (int i = 0; i < cfg->n_styles; i++) MUST(ss_net_set_style(s->net, i, styles[i]));
    MUST(be->iface->tensor_new(be, &s->x, 3, h, w));
    MUST(be->iface->tensor_new(be, &s->grad, 3, h, w));
}

static void sut_close(sut *s) {
    s->be->iface->tensor_free(s->be, s->x);
    s->be->iface->tensor_free(s->be, s->grad);
    ss_net_free(s->net);
}

/* ---- checks ---- */

static double rel_err(double got, double want) {
    double d = fabs(got - want), s = fabs(want);
    return s > 0.0 ? d / s : (d > 0.0 ? INFINITY : 0.0);
}

static void check_value(const gc_case *c, const char *what, double got, double want, double tol, double *worst) {
    double e = rel_err(got, want);
    if (!(fabs(got - want) <= tol * fabs(want) + 1e-30)) {
        FAIL("%s: %s = %.9g, reference %.9g (relative error %.3g > %.1g)", c->name, what, got, want, e, tol);
        g_fail_value++;
    }
    if (worst && e > *worst && isfinite(e)) *worst = e;
    if (g_verbose) printf("  %-28s %-16s ours %.9g ref %.9g rel %.2e\n", c->name, what, got, want, e);
    g_checks++;
}

static double dot_gd(const float *g, const double *d, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * d[i];
    return s;
}

/* Float32 central difference of ss_net_eval along d at step h: returns
 * fd = L(x+) - L(x-) and *an = <grad, x+ - x->, x+- = fl(x +- h d). */
static double fd32(sut *s, const float *x, const float *grad, const double *d, double h, double *an) {
    size_t n = s->n;
    float *xp = xcalloc(n, sizeof(float)), *xm = xcalloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) {
        xp[i] = (float)((double)x[i] + h * d[i]);
        xm[i] = (float)((double)x[i] - h * d[i]);
    }
    ss_terms tp, tm;
    sut_eval(s, &tp, NULL, xp);
    sut_eval(s, &tm, NULL, xm);
    double a = 0.0;
    for (size_t i = 0; i < n; i++) a += (double)grad[i] * ((double)xp[i] - (double)xm[i]);
    *an = a;
    free(xp);
    free(xm);
    return tp.total - tm.total;
}

/* Double central difference of the host reference along d at step h. */
static double fd64(const ref_ctx *r, const double *x, const double *d, size_t n, double h) {
    double *xs = xcalloc(n, sizeof(double));
    ss_terms tp, tm;
    for (size_t i = 0; i < n; i++) xs[i] = x[i] + h * d[i];
    ref_eval(r, &tp, xs);
    for (size_t i = 0; i < n; i++) xs[i] = x[i] - h * d[i];
    ref_eval(r, &tm, xs);
    free(xs);
    return (tp.total - tm.total) / (2.0 * h);
}

/* Directions. The first N_FD32_DIRS are checked with float32 finite
 * differences; all are checked against the host's double ones. */
enum { D_GRADIENT, D_SIGNED_U, D_SIGNED_N, D_PATCH, D_PIXEL_MAX, D_PIXEL_RAND, D_GAUSS, D_SMOOTH, N_DIRS };
enum { N_FD32_DIRS = D_GAUSS };
static const char *const dir_names[N_DIRS] = {"gradient",  "signed-u",   "signed-n", "patch",
                                              "pixel-max", "pixel-rand", "gauss",    "smooth"};

static void make_direction(double *d, int which, const float *grad, int h, int w, uint64_t seed) {
    size_t n = (size_t)3 * h * w;
    ss_rng r;
    ss_rng_init(&r, seed, 1000 + (uint64_t)which);
    memset(d, 0, n * sizeof *d);
    switch (which) {
    case D_GRADIENT:
        for (size_t i = 0; i < n; i++) d[i] = grad[i];
        break;
    case D_SIGNED_U: /* random magnitudes with the gradient's signs */
        for (size_t i = 0; i < n; i++) d[i] = copysign(ss_rng_uniform(&r), grad[i]);
        break;
    case D_SIGNED_N:
        for (size_t i = 0; i < n; i++) d[i] = copysign(fabs(ss_rng_normal(&r)), grad[i]);
        break;
    case D_PATCH: { /* a random 5x5 patch, all channels, uniform magnitudes with the gradient's signs */
        int i0 = (int)(ss_rng_uniform(&r) * (h - 4)), j0 = (int)(ss_rng_uniform(&r) * (w - 4));
        for (int c = 0; c < 3; c++)
            for (int i = i0; i < i0 + 5; i++)
                for (int j = j0; j < j0 + 5; j++) {
                    size_t q = ((size_t)c * h + i) * w + j;
                    d[q] = copysign(ss_rng_uniform(&r), grad[q]);
                }
        break;
    }
    case D_PIXEL_MAX:
    case D_PIXEL_RAND: {
        /* one pixel, its three channels with the gradient's signs: the pixel
         * of largest sum_c |grad|, or a seeded one among those with at least
         * half of that */
        size_t hw = (size_t)h * w, best = 0, count = 0, pick;
        double smax = 0.0;
        for (size_t p = 0; p < hw; p++) {
            double sp = fabs(grad[p]) + fabs(grad[p + hw]) + fabs(grad[p + 2 * hw]);
            if (sp > smax) smax = sp, best = p;
        }
        pick = best;
        if (which == D_PIXEL_RAND) {
            for (size_t p = 0; p < hw; p++)
                count += fabs(grad[p]) + fabs(grad[p + hw]) + fabs(grad[p + 2 * hw]) >= 0.5 * smax;
            size_t target = (size_t)(ss_rng_uniform(&r) * (double)count);
            for (size_t p = 0; p < hw; p++)
                if (fabs(grad[p]) + fabs(grad[p + hw]) + fabs(grad[p + 2 * hw]) >= 0.5 * smax && target-- == 0) {
                    pick = p;
                    break;
                }
        }
        for (int c = 0; c < 3; c++) d[pick + c * hw] = copysign(1.0, grad[pick + c * hw]);
        break;
    }
    case D_GAUSS:
        for (size_t i = 0; i < n; i++) d[i] = ss_rng_normal(&r);
        break;
    default: /* D_SMOOTH: one random plane wave per channel */
        for (int c = 0; c < 3; c++) {
            double fy = ss_rng_uniform(&r) * 0.6, fx = ss_rng_uniform(&r) * 0.6, ph = ss_rng_uniform(&r) * 6.28;
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) d[((size_t)c * h + i) * w + j] = sin(fy * i + fx * j + ph) + 0.3;
        }
    }
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(d[i]));
    if (m > 0.0)
        for (size_t i = 0; i < n; i++) d[i] /= m;
}

/* Fills cfg from case c for model m. */
static void make_config(ss_loss_config *cfg, const gc_case *c, const ss_model *m) {
    memset(cfg, 0, sizeof *cfg);
    cfg->pool = c->pool;
    MUST(ss_model_find_layer(&cfg->content_layer, m, c->content_layer));
    cfg->content_loss_type = c->content_type;
    cfg->content_weight = c->content_weight;
    for (int i = 0; i < 6 && c->style_layers[i]; i++)
        MUST(ss_model_find_layer(&cfg->style_layers[cfg->n_style_layers++], m, c->style_layers[i]));
    cfg->n_styles = c->n_styles;
    for (int s = 0; s < c->n_styles; s++) cfg->style_weight[s] = c->style_weight[s];
    cfg->style_norm = c->norm;
    cfg->tv_weight = c->tv_weight;
    cfg->tv_power = c->tv_power;
}

static void run_case(ss_backend *be, const ss_model *m, const gc_case *c, uint64_t seed) {
    int h = c->h, w = c->w;
    size_t n = (size_t)3 * h * w;
    ss_loss_config cfg;
    make_config(&cfg, c, m);
    float *content = xcalloc(n, sizeof(float)), *x = xcalloc(n, sizeof(float));
    float *style[2] = {xcalloc(n, sizeof(float)), xcalloc(n, sizeof(float))};
    make_image(content, h, w, seed, 1);
    make_image(style[0], h, w, seed, 2);
    make_image(style[1], h, w, seed, 3);
    make_image(x, h, w, seed, 4);
    const float *const styles[2] = {style[0], style[1]};
    double *xd = to_double(x, n);

    ref_ctx ref;
    if (c->balance) {
        /* make content, style and tv contribute about equally at x */
        ss_loss_config one = cfg;
        one.content_weight = one.tv_weight = 1.0;
        ref_init(&ref, m, &one, h, w, content, styles);
        ss_terms t;
        ref_eval(&ref, &t, xd);
        double style_sum = t.total - t.content - t.tv;
        cfg.content_weight = style_sum / t.content;
        cfg.tv_weight = style_sum / t.tv;
        ref_free(&ref);
    }
    ref_init(&ref, m, &cfg, h, w, content, styles);
    sut s;
    sut_open(&s, be, m, &cfg, h, w, content, styles);

    /* Pick x away from kinks: draw x again (another stream) while some
     * direction checked in float32 has a kink closer than KINK_MIN. */
    ss_terms ours, want;
    float *grad = xcalloc(n, sizeof(float));
    double *d = xcalloc(n, sizeof(double));
    for (int attempt = 0;; attempt++) {
        if (attempt > 0) {
            make_image(x, h, w, seed, 4 + (uint64_t)attempt);
            for (size_t i = 0; i < n; i++) xd[i] = x[i];
        }
        sut_eval(&s, &ours, grad, x);
        double closest = INFINITY;
        for (int k = 0; k < N_FD32_DIRS; k++) {
            make_direction(d, k, grad, h, w, seed);
            closest = fmin(closest, ref_kink(&ref, xd, d));
        }
        if (g_verbose > 1) printf("    x attempt %d: nearest kink %.3g\n", attempt, closest);
        if (closest >= KINK_MIN) break;
        if (attempt + 1 == MAX_X_TRIES) {
            FAIL("%s: no x among %d drawn has every kink farther than %g (nearest %.3g)", c->name, MAX_X_TRIES,
                 KINK_MIN, closest);
            break;
        }
    }

    /* 1. values */
    ref_eval(&ref, &want, xd);
    double *wv = &worst_value[c->group];
    check_value(c, "total", ours.total, want.total, VALUE_TOL, wv);
    if (cfg.content_weight > 0) check_value(c, "content", ours.content, want.content, VALUE_TOL, wv);
    else check_value(c, "content (w=0)", ours.content, 0.0, 0.0, NULL);
    for (int l = 0; l < cfg.n_style_layers; l++) {
        char what[64];
        snprintf(what, sizeof what, "style %s", m->conv[cfg.style_layers[l]].name);
        int any = 0;
        for (int si = 0; si < cfg.n_styles; si++) any |= cfg.style_weight[si] > 0;
        if (any) check_value(c, what, ours.style[l], want.style[l], VALUE_TOL, wv);
        else check_value(c, what, ours.style[l], 0.0, 0.0, NULL);
    }
    if (cfg.tv_weight > 0) {
        check_value(c, "tv", ours.tv, want.tv, VALUE_TOL, wv);
        /* TV directly from x in double, and its gradient element-wise */
        double *tg = xcalloc(n, sizeof(double));
        double tv = cfg.tv_weight * ref_tv(xd, h, w, cfg.tv_power, tg);
        check_value(c, "tv (double, exact)", ours.tv, tv, 1e-12, wv);
        if (c->group == G_TV) {
            double gmax = 0.0, emax = 0.0;
            size_t at = 0;
            for (size_t i = 0; i < n; i++) {
                tg[i] *= cfg.tv_weight;
                gmax = fmax(gmax, fabs(tg[i]));
            }
            for (size_t i = 0; i < n; i++)
                if (fabs(grad[i] - tg[i]) > emax) emax = fabs(grad[i] - tg[i]), at = i;
            if (!(emax <= 1e-6 * gmax))
                FAIL("%s: tv gradient[%zu] = %.9g, host %.9g (max error %.3g > 1e-6 * max|grad| %.3g)", c->name, at,
                     grad[at], tg[at], emax, gmax);
            if (g_verbose) printf("  %-28s tv grad max err / max|grad| %.2e\n", c->name, emax / gmax);
            g_checks++;
        }
        free(tg);
    } else check_value(c, "tv (w=0)", ours.tv, 0.0, 0.0, NULL);
    double gnorm = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(grad[i])) {
            FAIL("%s: gradient[%zu] = %g is not finite", c->name, i, grad[i]);
            break;
        }
        gnorm = fmax(gnorm, fabs(grad[i]));
    }
    if (!(gnorm > 0.0)) FAIL("%s: the gradient is zero (the loss %.9g is not at a minimum)", c->name, ours.total);

    /* 2. and 3. directional derivatives */
    for (int k = 0; k < N_DIRS; k++) {
        make_direction(d, k, grad, h, w, seed);
        double kink = ref_kink(&ref, xd, d);
        double an = dot_gd(grad, d, n);
        /* 3. host double finite differences on a kink-free step */
        double h64 = fmax(fmin(1e-3, 0.25 * kink), 1e-9);
        double rfd = fd64(&ref, xd, d, n, h64);
        double er = rel_err(an, rfd);
        if (!(er <= REF_TOL))
            FAIL(
                "%s: direction %s: <grad, d> = %.9g, double finite differences of the host reference %.9g "
                "(relative error %.3g > %.0e, h %.3g)",
                c->name, dir_names[k], an, rfd, er, REF_TOL, h64);
        if (!(er <= REF_TOL)) g_fail_fd64++;
        if (er > worst_ref[c->group]) worst_ref[c->group] = er;
        g_checks++;
        /* 2. float32 finite differences of ss_net_eval */
        double h32 = fmin(FD_MAX_STEP, 0.5 * kink), e = NAN;
        if (k < N_FD32_DIRS || g_verbose) {
            double a32, f32 = fd32(&s, x, grad, d, h32, &a32);
            e = rel_err(f32, a32);
            if (g_verbose > 1) printf("      fd32 h %g: fd %.9g an %.9g\n", h32, f32, a32);
        }
        if (k < N_FD32_DIRS) {
            if (!(e <= FD_TOL))
                FAIL(
                    "%s: direction %s: float32 finite differences disagree with the gradient: relative error "
                    "%.3g > %.0e (h %g, nearest kink at %.3g)",
                    c->name, dir_names[k], e, FD_TOL, h32, kink);
            if (!(e <= FD_TOL)) g_fail_fd32++;
            if (e > worst_fd[c->group]) worst_fd[c->group] = e;
            g_checks++;
        }
        if (g_verbose)
            printf("  %-28s %-10s kink %.2e  fd32 rel %.2e (h %g)%s  ref64 rel %.2e (h %.2g)  <g,d> %.6g\n", c->name,
                   dir_names[k], kink, e, h32, k < N_FD32_DIRS ? "" : " (not checked)", er, h64, an);
    }

    /* 4. evaluating again at x gives the same result */
    ss_terms again;
    float *grad2 = xcalloc(n, sizeof(float));
    sut_eval(&s, &again, grad2, x);
    double gmax = 0.0, emax = 0.0;
    for (size_t i = 0; i < n; i++) {
        gmax = fmax(gmax, fabs(grad[i]));
        emax = fmax(emax, fabs(grad2[i] - grad[i]));
    }
    if (!(fabs(again.total - ours.total) <= 1e-6 * fabs(ours.total)) || !(emax <= 1e-6 * gmax))
        FAIL("%s: evaluating again at x: loss %.9g then %.9g, gradient max difference %.3g (max|grad| %.3g)", c->name,
             ours.total, again.total, emax, gmax);
    g_checks++;

    free(grad2);
    free(d);
    free(grad);
    sut_close(&s);
    ref_free(&ref);
    free(xd);
    free(content);
    free(x);
    free(style[0]);
    free(style[1]);
}

/* Content types: type 2 * C * W*H == type 1 * 2 sqrt(C) sqrt(W*H) == type 0. */
static void content_type_relations(ss_backend *be, const ss_model *m) {
    const int h = 21, w = 19;
    size_t n = (size_t)3 * h * w;
    float *content = xcalloc(n, sizeof(float)), *style = xcalloc(n, sizeof(float)), *x = xcalloc(n, sizeof(float));
    make_image(content, h, w, 77, 1);
    make_image(style, h, w, 77, 2);
    make_image(x, h, w, 77, 4);
    const float *const styles[1] = {style};
    static const char *const layers[] = {"conv1_2", "conv2_2", "conv3_2", "conv4_2"};
    for (int li = 0; li < 4; li++) {
        double v[3];
        int C = 0;
        for (int type = 0; type < 3; type++) {
            gc_case c = {G_CONTENT, "content types", m->kind, h,   w,   SS_POOL_MAX, layers[li], type,
                         0.5,       {"conv1_1"},     1,       {0}, REF, 0,           1.25,       0};
            ss_loss_config cfg;
            make_config(&cfg, &c, m);
            C = m->conv[cfg.content_layer].cout;
            sut s;
            sut_open(&s, be, m, &cfg, h, w, content, styles);
            ss_terms t;
            sut_eval(&s, &t, NULL, x);
            v[type] = t.content;
            sut_close(&s);
        }
        double px = (double)h * w;
        double v2 = v[2] * C * px, v1 = v[1] * 2.0 * sqrt((double)C) * sqrt(px);
        gc_case named = {G_CONTENT, layers[li], m->kind, h, w, 0, NULL, 0, 0, {NULL}, 0, {0}, REF, 0, 0, 0};
        check_value(&named, "type2*C*WH", v2, v[0], 1e-12, NULL);
        check_value(&named, "type1*2sqrtC*sqrtWH", v1, v[0], 1e-12, NULL);
        if (!(v[0] > 0.0)) FAIL("%s: content loss %g is not positive", layers[li], v[0]);
    }
    free(content);
    free(style);
    free(x);
}

int main(void) {
    /* Direct convolutions: the float32 finite differences compare the program
     * with itself, and Winograd's larger rounding in the loss value makes them
     * noisier than their 1e-2 rule allows. Winograd's gradients are checked
     * against PyTorch by test_reference. */
    setenv("STYLESWEEP_CONV", "direct", 1);
    const char *v = getenv("GC_VERBOSE");
    g_verbose = v ? atoi(v) : 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    /* the backend of STYLESWEEP_TEST_BACKEND, always in float32: TF32's
     * rounding is far above the finite-difference rules below */
    ss_backend *be = test_backend_new("test_gradcheck", 0);
    MUST(ss_be_set_precision(be, "fp32"));
    ss_model models[2];
    for (int k = 0; k < 2; k++) {
        memset(&models[k], 0, sizeof models[k]);
        MUST(ss_model_init(&models[k], k == 0 ? SS_MODEL_VGG16 : SS_MODEL_VGG19, 8));
        MUST(ss_model_load_weights(&models[k], "random:3", models[k].n_convs));
    }
    for (int i = 0; i < N_CASES; i++) {
        const gc_case *c = &cases[i];
        if (g_verbose)
            printf("case %s (%s, %dx%d, %s pooling)\n", c->name, ss_model_kind_name(c->model), c->h, c->w,
                   c->pool == SS_POOL_MAX ? "max" : "avg");
        run_case(be, &models[c->model == SS_MODEL_VGG16 ? 0 : 1], c, 1000 + (uint64_t)i);
    }
    g_masked = 1;
    for (int i = 0; i < N_MASKED; i++) {
        const gc_case *c = &masked_cases[i];
        run_case(be, &models[c->model == SS_MODEL_VGG16 ? 0 : 1], c, 2000 + (uint64_t)i);
    }
    g_masked = 0;
    content_type_relations(be, &models[1]);
    content_type_relations(be, &models[0]);

    for (int k = 0; k < 2; k++) ss_model_free(&models[k]);
    be->iface->free(be);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("worst relative errors (values vs double host / float32 fd / vs double host fd):\n");
    for (int g = 0; g < N_GROUPS; g++)
        printf("  %-8s values %.2e  fd32 %.2e  ref-fd64 %.2e\n", group_names[g], worst_value[g], worst_fd[g],
               worst_ref[g]);
    if (g_verbose)
        printf("ss_net_eval: %d calls, %.2f s; host forward: %d calls, %.2f s\n", g_sut_evals, g_sut_time, g_ref_evals,
               g_ref_time);
    printf("%d cases (%d with style masks), %.1f s; failures: values %d, float32 fd %d, host fd %d\n",
           N_CASES + N_MASKED, N_MASKED, secs, g_fail_value, g_fail_fd32, g_fail_fd64);
    return check_summary("test_gradcheck");
}
