/* elementwise.h - the one definition of every element-wise formula.
 *
 * The CPU backend (backend_cpu.c), the image conversions (image.c) and the
 * CUDA kernels (kernels/ops.cu) all compute these per-element formulas by
 * calling the functions below, so the CPU tests test the arithmetic the GPU
 * runs. Under nvcc SS_EW makes each function __host__ __device__; in C it is
 * a static inline function. The kernels are compiled without contracting
 * a*b+c into fused multiply-adds (--fmad=false), as C11 does, so a formula
 * rounds the same way on both sides.
 *
 * Nothing here allocates, loops or touches memory beyond its arguments. */
#ifndef SS_ELEMENTWISE_H
#define SS_ELEMENTWISE_H

#include <math.h>

#ifdef __CUDACC__
#define SS_EW static __inline__ __host__ __device__
#else
#define SS_EW static inline
#endif

/* ---- ReLU backward ---- */

/* The gradient before a ReLU from the gradient g after it and its output y. */
SS_EW float ss_ew_relu_backward(float g, float y) { return y > 0.0f ? g : 0.0f; }

/* ---- content loss ---- */

/* One element of the content term: df += two_scale * (f - p); returns
 * (f - p)^2 in double for the loss sum (scaled once by the caller). */
SS_EW double ss_ew_content(float *df, float f, float p, float two_scale) {
    float d = f - p;
    *df += two_scale * d;
    return (double)d * (double)d;
}

/* ---- style loss ---- */
/* With G the Gram matrix and targets T_s of scale s_s: the loss is
 * sum_s s_s sum (G - T_s)^2 and its derivative D = sum_s 4 s_s (G - T_s). */

/* (a - b)^2 in double. */
SS_EW double ss_ew_sq_diff(float a, float b) {
    double d = (double)a - (double)b;
    return d * d;
}

/* d plus one target's term of D at one element: d + 4 scale (g - t), rounded to float. */
SS_EW float ss_ew_style_d(float d, float g, float t, double scale) {
    return d + (float)(4.0 * scale * ((double)g - (double)t));
}

/* ---- total variation ---- */
/* A cell (c, i, j) with i < H-1 and j < W-1 has a = x[i,j] - x[i+1,j] and
 * b = x[i,j] - x[i,j+1]; its term is (a^2 + b^2)^power. Its gradient touches
 * three pixels: +k(a+b) at (i,j), -ka at (i+1,j), -kb at (i,j+1), with
 * k = 2 scale power (a^2+b^2)^(power-1). */

/* Returns the cell's term (a^2 + b^2)^power (unscaled) and sets *ka = k a,
 * *kb = k b; x00 = x[i,j], x10 = x[i+1,j], x01 = x[i,j+1]. A cell with
 * a = b = 0 contributes nothing (the gradient of s^power at 0 is 0 for power >= 1). */
SS_EW double ss_ew_tv_cell(double *ka, double *kb, float x00, float x10, float x01, double scale, double power) {
    double a = (double)x00 - (double)x10, b = (double)x00 - (double)x01;
    double s = a * a + b * b;
    if (s <= 0.0) {
        *ka = 0.0;
        *kb = 0.0;
        return 0.0;
    }
    double v = pow(s, power);
    double k = scale * power * v / s * 2.0;
    *ka = k * a;
    *kb = k * b;
    return v;
}

/* The TV gradient of pixel (i, j) gathered from the cells that touch it:
 * its own (ka, kb; 0 when i = H-1 or j = W-1), the one above (ka_up of cell
 * (i-1, j); 0 when i = 0) and the one to its left (kb_left of cell (i, j-1);
 * 0 when j = 0). */
SS_EW double ss_ew_tv_gather(double ka, double kb, double ka_up, double kb_left) { return (ka + kb) - ka_up - kb_left; }

/* ---- the optimizers' vector operations ---- */

/* y + alpha x, rounded to float. */
SS_EW float ss_ew_axpy(float y, double alpha, float x) { return (float)(y + alpha * x); }

/* x m, rounded to float (exact for a 0/1 mask). */
SS_EW float ss_ew_mul(float x, float m) { return x * m; }

/* x alpha, rounded to float. */
SS_EW float ss_ew_scale(float x, double alpha) { return (float)(x * alpha); }

/* One Adam element (c1 = 1 - b1^t, c2 = 1 - b2^t):
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; x -= lr (m / c1) / (sqrt(v / c2) + eps),
 * computed in double and stored as float. */
SS_EW void ss_ew_adam(float *x, float *m, float *v, float g, double lr, double b1, double b2, double eps, double c1,
                      double c2) {
    double gi = g;
    double mi = b1 * *m + (1.0 - b1) * gi, vi = b2 * *v + (1.0 - b2) * gi * gi;
    *m = (float)mi;
    *v = (float)vi;
    *x = (float)(*x - lr * (mi / c1) / (sqrt(vi / c2) + eps));
}

/* ---- pre- and de-processing ---- */
/* A pixel value v (0..255) of tensor channel c becomes (v scale - mean[c]) / std[c];
 * de-processing inverts it, rounds half up and clips to 0..255 (NaN to 0). */

SS_EW float ss_ew_preprocess(unsigned char v, float scale, float mean, float std) {
    return (float)(((double)v * scale - mean) / std);
}

SS_EW unsigned char ss_ew_deprocess(float x, float scale, float mean, float std) {
    double v = ((double)x * std + mean) / scale;
    if (!(v >= 0.0)) return 0; /* also NaN */
    if (v >= 255.0) return 255;
    return (unsigned char)floor(v + 0.5);
}

#endif
