/* ops.h - the launchers of the CUDA backend's own kernels (kernels/ops.cu).
 *
 * Every launcher enqueues its kernels on `stream` and returns the launch's
 * cudaError_t (cudaGetLastError after each launch), which the caller checks
 * with CUDA_CHECK. Tensors are plain float arrays in device memory; the
 * per-element arithmetic is elementwise.h's.
 *
 * Reductions are deterministic: a reduction launches exactly SS_RED_BLOCKS
 * blocks of SS_RED_THREADS threads; thread t of block b sums, in double and
 * in index order, the elements b*T + t, b*T + t + B*T, ... (T threads, B
 * blocks); each block adds its threads' sums in a fixed tree into
 * partials[b]; ss_k_finish adds the SS_RED_BLOCKS partials in a fixed tree
 * into *out. No atomics: the same inputs give the same bits on one GPU. */
#ifndef SS_KERNELS_OPS_H
#define SS_KERNELS_OPS_H

#include <cuda_runtime.h>
#include <stddef.h>

enum { SS_RED_BLOCKS = 256, SS_RED_THREADS = 256, SS_MAX_TARGETS = 8 };

/* The style targets of one layer, passed by value to a kernel. */
typedef struct ss_k_targets {
    const float *t[SS_MAX_TARGETS];
    double scale[SS_MAX_TARGETS];
    int n;
} ss_k_targets;

/* dpre[i] = ss_ew_relu_backward(dout[i], out[i]), i < n (dpre may be dout). */
cudaError_t ss_k_relu_backward(cudaStream_t stream, float *dpre, const float *dout, const float *out, size_t n);

/* df[i] += two_scale (f[i] - p[i]); partials <- the sums of (f - p)^2. */
cudaError_t ss_k_content(cudaStream_t stream, double *partials, float *df, const float *f, const float *p,
                         float two_scale, size_t n);

/* Total variation of plain x (C, H, W): partials <- the sums of the cells'
 * terms (unscaled); dx += the gradient, each pixel gathering from its own
 * cell, the one above and the one to its left. */
cudaError_t ss_k_tv(cudaStream_t stream, double *partials, float *dx, const float *x, int c, int h, int w, double scale,
                    double power);

/* partials <- the sums of a[i] b[i]. */
cudaError_t ss_k_dot(cudaStream_t stream, double *partials, const float *a, const float *b, size_t n);

/* partials <- the sums of (a[i] - b[i])^2 in double. */
cudaError_t ss_k_sqdiff(cudaStream_t stream, double *partials, const float *a, const float *b, size_t n);

/* *out = the sum of the SS_RED_BLOCKS partials (out is device memory). */
cudaError_t ss_k_finish(cudaStream_t stream, double *out, const double *partials);

/* d[i] = sum over targets s, in order, of ss_ew_style_d (the style loss's
 * derivative with respect to the Gram matrix g), i < n. */
cudaError_t ss_k_style_d(cudaStream_t stream, float *d, const float *g, ss_k_targets targets, size_t n);

/* g (c x c, row-major) = its lower triangle mirrored into the upper one. */
cudaError_t ss_k_mirror_lower(cudaStream_t stream, float *g, int c);

/* y[i] = ss_ew_axpy(y[i], alpha, x[i]). */
cudaError_t ss_k_axpy(cudaStream_t stream, float *y, double alpha, const float *x, size_t n);
/* x[i] = ss_ew_scale(x[i], alpha). */
cudaError_t ss_k_scale(cudaStream_t stream, float *x, double alpha, size_t n);
/* x[i] = ss_ew_mul(x[i], m[i]). */
cudaError_t ss_k_mul(cudaStream_t stream, float *x, const float *m, size_t n);
/* x[i] = value. */
cudaError_t ss_k_fill(cudaStream_t stream, float *x, float value, size_t n);

/* ss_ew_adam on every element (c1 = 1 - b1^t, c2 = 1 - b2^t). */
cudaError_t ss_k_adam(cudaStream_t stream, float *x, float *m, float *v, const float *g, double lr, double b1,
                      double b2, double eps, double c1, double c2, size_t n);

/* out (plain (3, h, w)) from the RGB bytes px (h x w x 3) and back. */
cudaError_t ss_k_preprocess(cudaStream_t stream, float *out, const unsigned char *px, int h, int w, float scale,
                            float m0, float m1, float m2, float s0, float s1, float s2, int bgr);
cudaError_t ss_k_deprocess(cudaStream_t stream, unsigned char *px, const float *x, int h, int w, float scale, float m0,
                           float m1, float m2, float s0, float s1, float s2, int bgr);

#endif
