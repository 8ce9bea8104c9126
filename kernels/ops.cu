/* ops.cu - the CUDA backend's own kernels: ReLU backward, content, style
 * derivative, total variation, the optimizers' vector operations, Adam,
 * pre- and de-processing, and deterministic reductions (see ops.h).
 *
 * One thread per output element where the operation allows it; reductions
 * launch a fixed grid (ops.h). The arithmetic is elementwise.h's, compiled
 * with --fmad=false so that it rounds as the CPU backend's does. */
#include "elementwise.h"
#include "ops.h"

namespace {

const int kThreads = 256; /* threads per block of the element-wise kernels */

unsigned blocks_for(size_t n) { return (unsigned)((n + kThreads - 1) / kThreads); }

/* ======================================================================
 * kernels
 * ====================================================================== */

/* The fixed-order block sum of one value per thread into partials[blockIdx.x];
 * blockDim.x == SS_RED_THREADS (a power of two). */
__device__ void block_sum(double *partials, double v) {
    __shared__ double sh[SS_RED_THREADS];
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int k = SS_RED_THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) partials[blockIdx.x] = sh[0];
}

/* The first index and the stride of this thread in a reduction. */
__device__ size_t red_first() { return (size_t)blockIdx.x * SS_RED_THREADS + threadIdx.x; }
__device__ size_t red_stride() { return (size_t)SS_RED_BLOCKS * SS_RED_THREADS; }

__global__ void k_relu_backward(float *dpre, const float *dout, const float *out, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dpre[i] = ss_ew_relu_backward(dout[i], out[i]);
}

__global__ void k_content(double *partials, float *df, const float *f, const float *p, float two_scale, size_t n) {
    double s = 0.0;
    for (size_t i = red_first(); i < n; i += red_stride()) s += ss_ew_content(&df[i], f[i], p[i], two_scale);
    block_sum(partials, s);
}

__global__ void k_dot(double *partials, const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = red_first(); i < n; i += red_stride()) s += (double)a[i] * (double)b[i];
    block_sum(partials, s);
}

__global__ void k_sqdiff(double *partials, const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = red_first(); i < n; i += red_stride()) s += ss_ew_sq_diff(a[i], b[i]);
    block_sum(partials, s);
}

/* The TV terms of the cells: index k = (c*H + i)*W + j is a cell when i < H-1 and j < W-1. */
__global__ void k_tv_value(double *partials, const float *x, int c, int h, int w, double power) {
    size_t n = (size_t)c * h * w;
    double s = 0.0, ka, kb;
    for (size_t k = red_first(); k < n; k += red_stride()) {
        int j = (int)(k % (size_t)w), i = (int)((k / (size_t)w) % (size_t)h);
        if (i < h - 1 && j < w - 1) s += ss_ew_tv_cell(&ka, &kb, x[k], x[k + w], x[k + 1], 1.0, power);
    }
    block_sum(partials, s);
}

/* The TV gradient: pixel k = (c*H + i)*W + j gathers from cells (i, j), (i-1, j) and (i, j-1). */
__global__ void k_tv_grad(float *dx, const float *x, int c, int h, int w, double scale, double power) {
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= (size_t)c * h * w) return;
    int j = (int)(k % (size_t)w), i = (int)((k / (size_t)w) % (size_t)h);
    double ka = 0.0, kb = 0.0, ka_up = 0.0, kb_left = 0.0, t;
    if (i < h - 1 && j < w - 1) ss_ew_tv_cell(&ka, &kb, x[k], x[k + w], x[k + 1], scale, power);
    if (i > 0 && j < w - 1) ss_ew_tv_cell(&ka_up, &t, x[k - w], x[k], x[k - w + 1], scale, power);
    if (j > 0 && i < h - 1) ss_ew_tv_cell(&t, &kb_left, x[k - 1], x[k - 1 + w], x[k], scale, power);
    dx[k] += (float)ss_ew_tv_gather(ka, kb, ka_up, kb_left);
}

/* One block of SS_RED_THREADS threads: out[0] = the sum of SS_RED_BLOCKS partials. */
__global__ void k_finish(double *out, const double *partials) {
    __shared__ double sh[SS_RED_THREADS];
    double s = 0.0;
    for (int b = threadIdx.x; b < SS_RED_BLOCKS; b += SS_RED_THREADS) s += partials[b];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = SS_RED_THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[0] = sh[0];
}

__global__ void k_style_d(float *d, const float *g, ss_k_targets targets, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = 0.0f;
    for (int s = 0; s < targets.n; s++) v = ss_ew_style_d(v, g[i], targets.t[s][i], targets.scale[s]);
    d[i] = v;
}

/* Element (r, q) of the row-major c x c matrix g with q > r takes (q, r). */
__global__ void k_mirror_lower(float *g, int c) {
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= (size_t)c * c) return;
    size_t r = k / (size_t)c, q = k % (size_t)c;
    if (q > r) g[k] = g[q * (size_t)c + r];
}

__global__ void k_axpy(float *y, double alpha, const float *x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = ss_ew_axpy(y[i], alpha, x[i]);
}

__global__ void k_scale(float *x, double alpha, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = ss_ew_scale(x[i], alpha);
}

__global__ void k_mul(float *x, const float *m, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = ss_ew_mul(x[i], m[i]);
}

__global__ void k_fill(float *x, float value, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = value;
}

__global__ void k_adam(float *x, float *m, float *v, const float *g, double lr, double b1, double b2, double eps,
                       double c1, double c2, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) ss_ew_adam(&x[i], &m[i], &v[i], g[i], lr, b1, b2, eps, c1, c2);
}

/* The per-channel constants of pre- and de-processing. */
struct channel_map {
    float scale, mean[3], std[3];
    int bgr;
};

/* One thread per tensor element k = c*np + p: pixel p's byte of channel bgr ? 2-c : c. */
__global__ void k_preprocess(float *out, const unsigned char *px, size_t np, channel_map cm) {
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= 3 * np) return;
    int c = (int)(k / np);
    size_t p = k % np;
    int src = cm.bgr ? 2 - c : c;
    out[k] = ss_ew_preprocess(px[3 * p + src], cm.scale, cm.mean[c], cm.std[c]);
}

/* One thread per output byte q = 3*p + d: tensor channel bgr ? 2-d : d of pixel p. */
__global__ void k_deprocess(unsigned char *px, const float *x, size_t np, channel_map cm) {
    size_t q = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= 3 * np) return;
    size_t p = q / 3;
    int d = (int)(q % 3), c = cm.bgr ? 2 - d : d;
    px[q] = ss_ew_deprocess(x[(size_t)c * np + p], cm.scale, cm.mean[c], cm.std[c]);
}

channel_map make_map(float scale, float m0, float m1, float m2, float s0, float s1, float s2, int bgr) {
    channel_map cm;
    cm.scale = scale;
    cm.mean[0] = m0;
    cm.mean[1] = m1;
    cm.mean[2] = m2;
    cm.std[0] = s0;
    cm.std[1] = s1;
    cm.std[2] = s2;
    cm.bgr = bgr;
    return cm;
}

} // namespace

/* ======================================================================
 * launchers
 * ====================================================================== */

cudaError_t ss_k_relu_backward(cudaStream_t stream, float *dpre, const float *dout, const float *out, size_t n) {
    if (n == 0) return cudaSuccess;
    k_relu_backward<<<blocks_for(n), kThreads, 0, stream>>>(dpre, dout, out, n);
    return cudaGetLastError();
}

cudaError_t ss_k_content(cudaStream_t stream, double *partials, float *df, const float *f, const float *p,
                         float two_scale, size_t n) {
    k_content<<<SS_RED_BLOCKS, SS_RED_THREADS, 0, stream>>>(partials, df, f, p, two_scale, n);
    return cudaGetLastError();
}

cudaError_t ss_k_tv(cudaStream_t stream, double *partials, float *dx, const float *x, int c, int h, int w, double scale,
                    double power) {
    size_t n = (size_t)c * h * w;
    k_tv_value<<<SS_RED_BLOCKS, SS_RED_THREADS, 0, stream>>>(partials, x, c, h, w, power);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess || n == 0) return e;
    k_tv_grad<<<blocks_for(n), kThreads, 0, stream>>>(dx, x, c, h, w, scale, power);
    return cudaGetLastError();
}

cudaError_t ss_k_dot(cudaStream_t stream, double *partials, const float *a, const float *b, size_t n) {
    k_dot<<<SS_RED_BLOCKS, SS_RED_THREADS, 0, stream>>>(partials, a, b, n);
    return cudaGetLastError();
}

cudaError_t ss_k_sqdiff(cudaStream_t stream, double *partials, const float *a, const float *b, size_t n) {
    k_sqdiff<<<SS_RED_BLOCKS, SS_RED_THREADS, 0, stream>>>(partials, a, b, n);
    return cudaGetLastError();
}

cudaError_t ss_k_finish(cudaStream_t stream, double *out, const double *partials) {
    k_finish<<<1, SS_RED_THREADS, 0, stream>>>(out, partials);
    return cudaGetLastError();
}

cudaError_t ss_k_style_d(cudaStream_t stream, float *d, const float *g, ss_k_targets targets, size_t n) {
    if (n == 0) return cudaSuccess;
    k_style_d<<<blocks_for(n), kThreads, 0, stream>>>(d, g, targets, n);
    return cudaGetLastError();
}

cudaError_t ss_k_mirror_lower(cudaStream_t stream, float *g, int c) {
    size_t n = (size_t)c * c;
    if (n == 0) return cudaSuccess;
    k_mirror_lower<<<blocks_for(n), kThreads, 0, stream>>>(g, c);
    return cudaGetLastError();
}

cudaError_t ss_k_axpy(cudaStream_t stream, float *y, double alpha, const float *x, size_t n) {
    if (n == 0) return cudaSuccess;
    k_axpy<<<blocks_for(n), kThreads, 0, stream>>>(y, alpha, x, n);
    return cudaGetLastError();
}

cudaError_t ss_k_scale(cudaStream_t stream, float *x, double alpha, size_t n) {
    if (n == 0) return cudaSuccess;
    k_scale<<<blocks_for(n), kThreads, 0, stream>>>(x, alpha, n);
    return cudaGetLastError();
}

cudaError_t ss_k_mul(cudaStream_t stream, float *x, const float *m, size_t n) {
    if (n == 0) return cudaSuccess;
    k_mul<<<blocks_for(n), kThreads, 0, stream>>>(x, m, n);
    return cudaGetLastError();
}

cudaError_t ss_k_fill(cudaStream_t stream, float *x, float value, size_t n) {
    if (n == 0) return cudaSuccess;
    k_fill<<<blocks_for(n), kThreads, 0, stream>>>(x, value, n);
    return cudaGetLastError();
}

cudaError_t ss_k_adam(cudaStream_t stream, float *x, float *m, float *v, const float *g, double lr, double b1,
                      double b2, double eps, double c1, double c2, size_t n) {
    if (n == 0) return cudaSuccess;
    k_adam<<<blocks_for(n), kThreads, 0, stream>>>(x, m, v, g, lr, b1, b2, eps, c1, c2, n);
    return cudaGetLastError();
}

cudaError_t ss_k_preprocess(cudaStream_t stream, float *out, const unsigned char *px, int h, int w, float scale,
                            float m0, float m1, float m2, float s0, float s1, float s2, int bgr) {
    size_t np = (size_t)h * w;
    if (np == 0) return cudaSuccess;
    k_preprocess<<<blocks_for(3 * np), kThreads, 0, stream>>>(out, px, np,
                                                              make_map(scale, m0, m1, m2, s0, s1, s2, bgr));
    return cudaGetLastError();
}

cudaError_t ss_k_deprocess(cudaStream_t stream, unsigned char *px, const float *x, int h, int w, float scale, float m0,
                           float m1, float m2, float s0, float s1, float s2, int bgr) {
    size_t np = (size_t)h * w;
    if (np == 0) return cudaSuccess;
    k_deprocess<<<blocks_for(3 * np), kThreads, 0, stream>>>(px, x, np, make_map(scale, m0, m1, m2, s0, s1, s2, bgr));
    return cudaGetLastError();
}
