/* backend_cpu_winograd.c - the CPU backend's Winograd F(4x4, 3x3)
 * convolution (see backend_cpu_winograd.h): filter transform, the per-call
 * driver (input transform, 36 OpenBLAS products, output transform) and the
 * choice between the AVX2 and AVX-512 tile kernels. */
#include "backend_cpu_winograd.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define WG_VEC 8
#define WG_TARGET "avx2,fma"
#define WG_FN(name) name##_avx2
#include "backend_cpu_winograd_kernels.h"
#undef WG_VEC
#undef WG_TARGET
#undef WG_FN

#define WG_VEC 16
#define WG_TARGET "avx512f"
#define WG_FN(name) name##_avx512
#include "backend_cpu_winograd_kernels.h"
#undef WG_VEC
#undef WG_TARGET
#undef WG_FN

enum { WG_A = 6, WG_PLANES = 36 }; /* input tile side, transformed planes */

/* Scratch per chunk of tiles: at most about this many bytes (the larger the
 * chunk, the larger the products; 4, 8, 16 and 32 MB tried, emulated AVX2
 * on the Zen 4: 16 fastest, 256 channels at 56 px in one chunk). */
#define WG_CHUNK_BYTES (16u << 20)
/* ... or, with at most this many channels squared (the filters of all 36
 * planes then fit a core's cache too), WG_THREAD_CHUNK tiles per thread at
 * a time (0.6 MB of scratch for 64 channels, 1.2 MB for 128: the fastest of
 * 16 to 64, emulated AVX2 on the Zen 4). */
#define WG_PER_THREAD_MAX_C2 (128 * 128)
enum { WG_THREAD_CHUNK = 32 };

typedef void (*wg_in_fn)(float *v, size_t xs, const float *in, int H, int W, int y0, int x0);
typedef void (*wg_out_fn)(float *out, const float *m, size_t xs, const float *bias, int relu, int H, int W, int y0,
                          int x0);

/* One direction: cin_p channels in, cout_p out (padded to vec). */
typedef struct wg_dir {
    int cin_p, cout_p;
    float *u;    /* transformed filters: plane xi, (cin_p, cout_p) row-major */
    float *bias; /* cout_p floats, or NULL */
    int relu;
} wg_dir;

struct ss_wino {
    int h, w, vec, tw, ntiles, chunk;
    int per_thread; /* 1: chunks per thread (wino_run_chunks), 0: phases shared (wino_run_phases) */
    int threads;    /* per_thread: the threads the scratch has room for */
    wg_dir fwd, bwd;
    wg_in_fn in_tile;
    wg_out_fn out_tile;
};

int ss_wino_supported(int vec) {
    __builtin_cpu_init();
    if (vec == 8) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (vec == 16) return __builtin_cpu_supports("avx512f");
    return 0;
}

/* G (6x3) of F(4x4, 3x3). */
static const double wg_g[WG_A][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};

/* d->u = G g G^T for every (cin, cout) pair; g(o, i, a, b) is the 3x3
 * filter from input channel i to output channel o of this direction (the
 * forward one, or the backward one: rotated, axes swapped). */
static ss_status wg_dir_init(wg_dir *d, const float *weight, int cin, int cout, int vec, int backward) {
    d->cin_p = (cin + vec - 1) / vec * vec;
    d->cout_p = (cout + vec - 1) / vec * vec;
    size_t n = (size_t)WG_PLANES * d->cin_p * d->cout_p;
    d->u = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    SS_ALLOC_CHECK(d->u);
    memset(d->u, 0, n * sizeof(float));
    int wcin = backward ? cout : cin; /* the weight array's axes */
    for (int i = 0; i < cin; i++)     /* o innermost: u is written in order along o */
        for (int o = 0; o < cout; o++) {
            double g[3][3], t[WG_A][3];
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    g[a][b] = backward ? weight[(((size_t)i * wcin + o) * 3 + (2 - a)) * 3 + (2 - b)]
                                       : weight[(((size_t)o * wcin + i) * 3 + a) * 3 + b];
            for (int r = 0; r < WG_A; r++)
                for (int b = 0; b < 3; b++)
                    t[r][b] = wg_g[r][0] * g[0][b] + wg_g[r][1] * g[1][b] + wg_g[r][2] * g[2][b];
            for (int r = 0; r < WG_A; r++)
                for (int s = 0; s < WG_A; s++) {
                    double v = t[r][0] * wg_g[s][0] + t[r][1] * wg_g[s][1] + t[r][2] * wg_g[s][2];
                    d->u[((size_t)(r * WG_A + s) * d->cin_p + i) * d->cout_p + o] = (float)v;
                }
        }
    return SS_OK;
}

void ss_wino_free(ss_wino *w) {
    if (!w) return;
    free(w->fwd.u);
    free(w->fwd.bias);
    free(w->bwd.u);
    free(w);
}

static ss_status wino_build(ss_wino *w, int cin, int cout, const float *weight, const float *bias) {
    SS_TRY(wg_dir_init(&w->fwd, weight, cin, cout, w->vec, 0));
    SS_TRY(wg_dir_init(&w->bwd, weight, cout, cin, w->vec, 1));
    w->fwd.relu = 1;
    w->fwd.bias = aligned_alloc(64, ((size_t)w->fwd.cout_p * sizeof(float) + 63) / 64 * 64);
    SS_ALLOC_CHECK(w->fwd.bias);
    memset(w->fwd.bias, 0, (size_t)w->fwd.cout_p * sizeof(float));
    memcpy(w->fwd.bias, bias, (size_t)cout * sizeof(float));
    int cmax = w->fwd.cin_p > w->fwd.cout_p ? w->fwd.cin_p : w->fwd.cout_p;
    size_t per_tile = (size_t)WG_PLANES * 2 * cmax * sizeof(float);
    /* few channels and many tiles: a chunk per thread in its cache */
    w->per_thread = (size_t)cmax * cmax <= WG_PER_THREAD_MAX_C2 && w->ntiles >= 8 * WG_THREAD_CHUNK;
    size_t chunk = w->per_thread ? WG_THREAD_CHUNK : WG_CHUNK_BYTES / per_tile;
    w->chunk = chunk < 1 ? 1 : chunk > (size_t)w->ntiles ? w->ntiles : (int)chunk;
    return SS_OK;
}

ss_status ss_wino_new(ss_wino **out, int cin, int cout, int h, int w, int vec, int threads, const float *weight,
                      const float *bias) {
    *out = NULL;
    if (!ss_wino_supported(vec))
        return ss_error(SS_ERR_BACKEND, "Winograd convolution: no %d-lane kernels on this CPU", vec);
    ss_wino *g = calloc(1, sizeof *g);
    SS_ALLOC_CHECK(g);
    g->h = h;
    g->w = w;
    g->vec = vec;
    g->threads = threads < 1 ? 1 : threads;
    g->tw = (w + 3) / 4;
    g->ntiles = g->tw * ((h + 3) / 4);
    g->in_tile = vec == 8 ? wg_in_tile_avx2 : wg_in_tile_avx512;
    g->out_tile = vec == 8 ? wg_out_tile_avx2 : wg_out_tile_avx512;
    ss_status st = wino_build(g, cin, cout, weight, bias);
    if (st != SS_OK) {
        ss_wino_free(g);
        return st;
    }
    *out = g;
    return SS_OK;
}

size_t ss_wino_scratch_floats(const ss_wino *w) {
    int cmax = w->fwd.cin_p > w->fwd.cout_p ? w->fwd.cin_p : w->fwd.cout_p;
    return (size_t)WG_PLANES * 2 * w->chunk * cmax * (w->per_thread ? w->threads : 1);
}

/* Tile t's input transform into the plane-major chunk v (xv floats per plane). */
static void in_tiles(const ss_wino *g, const wg_dir *d, float *v, size_t xv, const float *in, int s, int t, int cb) {
    size_t plane = (size_t)g->h * g->w * g->vec;
    g->in_tile(v + (size_t)s * d->cin_p + (size_t)cb * g->vec, xv, in + cb * plane, g->h, g->w, 4 * (t / g->tw) - 1,
               4 * (t % g->tw) - 1);
}

static void out_tiles(const ss_wino *g, const wg_dir *d, float *out, const float *m, size_t xm, int s, int t, int kb) {
    size_t plane = (size_t)g->h * g->w * g->vec;
    g->out_tile(out + kb * plane, m + (size_t)s * d->cout_p + (size_t)kb * g->vec, xm,
                d->bias ? d->bias + kb * g->vec : NULL, d->relu, g->h, g->w, 4 * (t / g->tw), 4 * (t % g->tw));
}

/* Plane xi's product m = v u for ns tiles (one single-threaded sgemm). */
static void plane_product(const wg_dir *d, float *m, const float *v, int ns, int xi) {
    size_t xv = (size_t)ns * d->cin_p, xm = (size_t)ns * d->cout_p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ns, d->cout_p, d->cin_p, 1.0f, v + xi * xv, d->cin_p,
                d->u + (size_t)xi * d->cin_p * d->cout_p, d->cout_p, 0.0f, m + xi * xm, d->cout_p);
}

/* The threads of a parallel region: OpenMP's, at most those the scratch has room for. */
static int team_size(const ss_wino *g) {
    int nt = omp_get_max_threads();
    return nt < g->threads ? nt : g->threads;
}

/* Few channels: each thread takes whole chunks of tiles (transform, 36
 * products, transform back) in its own scratch, which stays in its cache. */
static void wino_run_chunks(const ss_wino *g, const wg_dir *d, float *out, const float *in, float *scratch) {
    int nchunks = (g->ntiles + g->chunk - 1) / g->chunk;
    size_t per_thread = ss_wino_scratch_floats(g) / (size_t)g->threads;
#pragma omp parallel for schedule(dynamic) num_threads(team_size(g))
    for (int k = 0; k < nchunks; k++) {
        float *v = scratch + per_thread * (size_t)omp_get_thread_num();
        float *m = v + (size_t)WG_PLANES * g->chunk * d->cin_p;
        int s0 = k * g->chunk, ns = g->ntiles - s0 < g->chunk ? g->ntiles - s0 : g->chunk;
        for (int s = 0; s < ns; s++)
            for (int cb = 0; cb < d->cin_p / g->vec; cb++) in_tiles(g, d, v, (size_t)ns * d->cin_p, in, s, s0 + s, cb);
        for (int xi = 0; xi < WG_PLANES; xi++) plane_product(d, m, v, ns, xi);
        for (int s = 0; s < ns; s++)
            for (int kb = 0; kb < d->cout_p / g->vec; kb++)
                out_tiles(g, d, out, m, (size_t)ns * d->cout_p, s, s0 + s, kb);
    }
}

/* Many channels: chunk by chunk, each phase shared by the threads (the
 * transforms over tiles, the products over the 36 planes). */
static void wino_run_phases(const ss_wino *g, const wg_dir *d, float *out, const float *in, float *scratch) {
    int cbn = d->cin_p / g->vec, kbn = d->cout_p / g->vec;
    float *v = scratch, *m = scratch + (size_t)WG_PLANES * g->chunk * d->cin_p;
    for (int s0 = 0; s0 < g->ntiles; s0 += g->chunk) {
        int ns = g->ntiles - s0 < g->chunk ? g->ntiles - s0 : g->chunk;
#pragma omp parallel
        {
#pragma omp for collapse(2) schedule(dynamic, 4)
            for (int s = 0; s < ns; s++)
                for (int cb = 0; cb < cbn; cb++) in_tiles(g, d, v, (size_t)ns * d->cin_p, in, s, s0 + s, cb);
#pragma omp for schedule(dynamic)
            for (int xi = 0; xi < WG_PLANES; xi++) plane_product(d, m, v, ns, xi);
#pragma omp for collapse(2) schedule(dynamic, 4)
            for (int s = 0; s < ns; s++)
                for (int kb = 0; kb < kbn; kb++) out_tiles(g, d, out, m, (size_t)ns * d->cout_p, s, s0 + s, kb);
        }
    }
}

/* out = conv_d(in); which tiles a chunk holds depends on the shape only,
 * so the products (and every sum) are the same for any number of threads. */
static void wino_run(const ss_wino *g, const wg_dir *d, float *out, const float *in, float *scratch) {
    if (g->per_thread) wino_run_chunks(g, d, out, in, scratch);
    else wino_run_phases(g, d, out, in, scratch);
}

void ss_wino_forward(const ss_wino *w, float *out, const float *in, float *scratch) {
    wino_run(w, &w->fwd, out, in, scratch);
}

void ss_wino_backward_data(const ss_wino *w, float *din, const float *dpre, float *scratch) {
    wino_run(w, &w->bwd, din, dpre, scratch);
}
