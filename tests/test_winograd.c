/* test_winograd.c - the CPU backend's own Winograd F(4x4, 3x3) convolution
 * (STYLESWEEP_CONV=winograd) against oneDNN's direct one
 * (STYLESWEEP_CONV=direct), forward (bias and ReLU fused) and backward-data,
 * on every VGG16/VGG19 layer shape: the (cin, cout) pairs at the map size
 * they have in a 224 px image (full width: 224, 112, 56, 28, 14) and again
 * at 7, 13 and 33 px, where tiles are cut at the border; and three maps
 * that are not square (30x13, 10x21, and 90x66 with chunks per thread).
 * The 3-channel first layer takes the plain image, so its input and
 * gradient go through the reorders to the blocked layout and back.
 *
 * Tolerance: the largest difference within 5e-5 of the largest reference
 * magnitude, for each output (the transforms' rounding: about 1e-6 to 1e-5
 * measured). Also: forward and backward-data give the same bits with 1 and
 * 2 threads (fixed summation order, so a resumed run stays bit-identical).
 *
 * ctest runs it with the CPU's own instruction set (the AVX-512 kernels on
 * such a CPU) and again as test_winograd_avx2 with ONEDNN_MAX_CPU_ISA=AVX2
 * (the AVX2 kernels). Built with sanitizers, the 224 px shapes are skipped. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "testlib.h"

#define TOL 5e-5

static uint64_t g_rng = 0x3a9e;

static float frand(void) { /* uniform in [-1, 1) */
    g_rng = g_rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(g_rng >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

typedef struct shape {
    int cin, cout, side;
    int width; /* 0: side x side, else side (height) x width */
} shape;

/* One backend's results for one shape: the forward output and the input gradient (plain). */
typedef struct result {
    float *out, *din;
    char algo[128];
} result;

static ss_backend *make_backend(const char *mode, int threads) {
    setenv("STYLESWEEP_CONV", mode, 1);
    ss_backend *be = NULL;
    MUST(ss_backend_cpu_new(&be, threads));
    return be;
}

/* The layer (cin -> cout, side x width) on be: input x, output gradient dout
 * (both plain); a cin > 3 input is a layer output (blocked), made by a stem. */
static void run_layer(ss_backend *be, result *r, const shape *s, const float *x, const float *wt, const float *b,
                      const float *dout, const float *w0) {
    int n = s->side, nw = s->width ? s->width : n;
    ss_tensor *img = NULL, *in = NULL, *out = NULL, *d = NULL, *din = NULL;
    ss_layer *l0 = NULL, *l = NULL;
    float b0[512] = {0};
    MUST(ss_be_tensor_new(be, &img, 3, n, nw));
    if (s->cin == 3) in = img;
    else MUST(ss_be_conv_new(be, &l0, &in, img, s->cin, w0, b0));
    MUST(ss_be_tensor_write(be, in, x));
    MUST(ss_be_conv_new(be, &l, &out, in, s->cout, wt, b));
    MUST(ss_be_layer_describe(be, r->algo, sizeof r->algo, l));
    MUST(ss_be_conv_forward(be, l, out, in));
    MUST(ss_be_tensor_new_like(be, &d, out));
    MUST(ss_be_tensor_write(be, d, dout));
    MUST(ss_be_tensor_new_like(be, &din, in));
    MUST(ss_be_conv_backward_data(be, l, din, d));
    r->out = malloc(sizeof(float) * s->cout * n * nw);
    r->din = malloc(sizeof(float) * s->cin * n * nw);
    if (!r->out || !r->din) exit(1);
    MUST(ss_be_tensor_read(be, r->out, out));
    MUST(ss_be_tensor_read(be, r->din, din));
    ss_be_layer_free(be, l);
    ss_be_layer_free(be, l0);
    ss_be_tensor_free(be, din);
    ss_be_tensor_free(be, d);
    ss_be_tensor_free(be, out);
    if (in != img) ss_be_tensor_free(be, in);
    ss_be_tensor_free(be, img);
}

static void result_free(result *r) {
    free(r->out);
    free(r->din);
}

/* The largest |got - want| over the largest |want|. */
static double rel_max_diff(const float *got, const float *want, size_t n) {
    double dmax = 0.0, wmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]), w = fabs((double)want[i]);
        if (!(d <= dmax)) dmax = d; /* NaN counts as the largest */
        if (w > wmax) wmax = w;
    }
    return wmax > 0 ? dmax / wmax : dmax;
}

static void check_shape(const shape *s) {
    int n = s->side, width = s->width ? s->width : n;
    size_t nin = (size_t)s->cin * n * width, nout = (size_t)s->cout * n * width, nw = (size_t)s->cout * s->cin * 9;
    float *x = malloc(nin * 4), *wt = malloc(nw * 4), *b = malloc((size_t)s->cout * 4), *dout = malloc(nout * 4),
          *w0 = malloc((size_t)s->cin * 27 * 4);
    if (!x || !wt || !b || !dout || !w0) exit(1);
    float ws = (float)sqrt(6.0 / (9.0 * s->cin)); /* activations of the size a trained VGG keeps */
    for (size_t i = 0; i < nin; i++) x[i] = 0.5f * (frand() + 1.0f);
    for (size_t i = 0; i < nw; i++) wt[i] = ws * frand();
    for (int i = 0; i < s->cout; i++) b[i] = 0.1f * frand();
    for (size_t i = 0; i < nout; i++) dout[i] = frand();
    for (int i = 0; i < s->cin * 27; i++) w0[i] = frand();

    result ref = {0}, wg = {0}, wg1 = {0};
    ss_backend *be = make_backend("direct", 2);
    run_layer(be, &ref, s, x, wt, b, dout, w0);
    ss_be_free(be);
    be = make_backend("winograd", 2);
    run_layer(be, &wg, s, x, wt, b, dout, w0);
    ss_be_free(be);
    be = make_backend("winograd", 1);
    run_layer(be, &wg1, s, x, wt, b, dout, w0);
    ss_be_free(be);

    double ef = rel_max_diff(wg.out, ref.out, nout), eb = rel_max_diff(wg.din, ref.din, nin);
    printf("%3d -> %3d %3dx%-3d  forward %.2e  backward-data %.2e  (%s against %s)\n", s->cin, s->cout, width, n, ef,
           eb, wg.algo, ref.algo);
    CHECK(strstr(wg.algo, "winograd") != NULL, "%d -> %d at %d px: STYLESWEEP_CONV=winograd gave %s", s->cin, s->cout,
          n, wg.algo);
    CHECK(ef <= TOL, "%d -> %d at %d px: forward differs by %.3g of the largest value (tolerance %g)", s->cin, s->cout,
          n, ef, TOL);
    CHECK(eb <= TOL, "%d -> %d at %d px: backward-data differs by %.3g of the largest value (tolerance %g)", s->cin,
          s->cout, n, eb, TOL);
    CHECK(memcmp(wg.out, wg1.out, nout * 4) == 0 && memcmp(wg.din, wg1.din, nin * 4) == 0,
          "%d -> %d at %d px: 1 and 2 threads give different bits", s->cin, s->cout, n);
    result_free(&ref);
    result_free(&wg);
    result_free(&wg1);
    free(x);
    free(wt);
    free(b);
    free(dout);
    free(w0);
}

int main(void) {
    /* VGG16 and VGG19 have the same (cin, cout) pairs; the map side at 224 px */
    static const shape full[] = {{3, 64, 224, 0},    {64, 64, 224, 0},  {64, 128, 112, 0},
                                 {128, 128, 112, 0}, {128, 256, 56, 0}, {256, 256, 56, 0},
                                 {256, 512, 28, 0},  {512, 512, 28, 0}, {512, 512, 14, 0}};
    static const int odd[] = {7, 13, 33};
    int n_full = (int)(sizeof full / sizeof full[0]);
#if defined(__SANITIZE_ADDRESS__)
    puts("built with sanitizers: the 224 px shapes are skipped");
#else
    for (int i = 0; i < n_full; i++) check_shape(&full[i]);
#endif
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < n_full; i++) {
            if (i > 0 && full[i].cin == full[i - 1].cin && full[i].cout == full[i - 1].cout) continue;
            shape s = {full[i].cin, full[i].cout, odd[k], 0};
            check_shape(&s);
        }
    /* not square: tiles counted along each axis */
    static const shape wide[] = {{64, 64, 13, 30}, {128, 256, 21, 10}, {64, 128, 66, 90}};
    for (int i = 0; i < 3; i++) check_shape(&wide[i]);
    return check_summary("test_winograd");
}
