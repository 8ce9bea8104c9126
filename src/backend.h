/* backend.h - the compute backend interface: a table of function pointers.
 *
 * The network code (net.c) and the optimizers (lbfgs.c, adam.c) call only this
 * table; the CPU backend (backend_cpu.c: oneDNN + OpenBLAS) and the CUDA
 * backend (kernels/backend_cuda.cu) each fill one. Signatures put outputs
 * first, then inputs, then sizes; shapes are given as (C, H, W).
 *
 * Tensors are owned by the backend that made them and live in its memory
 * (host for the CPU, device for CUDA). A tensor made by tensor_new is *plain*:
 * C*H*W floats in (C, H, W) order. Layer outputs made by conv_new/pool_new
 * have the layout the backend likes best (oneDNN's blocked aBcd16b on the
 * CPU); tensor_new_like copies a tensor's layout. Element-wise operations
 * (vec_*, relu_backward, content_grad) need tensors of one layout, and work
 * on all of a tensor's storage, padding included (padding stays zero as long
 * as only zeros are filled into it).
 *
 * Every slot returns SS_OK or an error status with ss_error's message set.
 * Optional slots may be NULL; each says its fallback. Callers use the
 * ss_be_* wrappers at the end of this file (backend.c), never the slots:
 * the wrappers check the arguments once for every backend and hold the
 * fallbacks of the optional slots, so a backend's slot may assume valid,
 * compatible arguments. */
#ifndef SS_BACKEND_H
#define SS_BACKEND_H

#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ss_backend ss_backend;
typedef struct ss_layer ss_layer; /* backend-private: a convolution or pooling layer */

typedef struct ss_tensor {
    int c, h, w; /* logical shape (C, H, W) */
    int plain;   /* 1 when the storage is plain (C, H, W) */
    size_t size; /* number of floats of storage, padding included */
    float *data; /* backend memory (device memory for CUDA) */
    void *priv;  /* backend-private layout description */
} ss_tensor;

typedef enum ss_pool_kind { SS_POOL_MAX = 0, SS_POOL_AVG = 1 } ss_pool_kind;

typedef struct ss_backend_i {
    const char *name;

    /* Releases the backend and everything it still holds. */
    void (*free)(ss_backend *be);

    /* ---- tensors ---- */
    /* *out is a new zeroed plain tensor (C, H, W). Caller frees it with tensor_free. */
    ss_status (*tensor_new)(ss_backend *be, ss_tensor **out, int c, int h, int w);
    /* *out is a new zeroed tensor of like's shape and layout. */
    ss_status (*tensor_new_like)(ss_backend *be, ss_tensor **out, const ss_tensor *like);
    /* Frees t (NULL is ignored). */
    void (*tensor_free)(ss_backend *be, ss_tensor *t);
    /* dst = host, host is plain (C, H, W) of dst's shape; dst may be of any layout. */
    ss_status (*tensor_write)(ss_backend *be, ss_tensor *dst, const float *host);
    /* host = src, host is plain (C, H, W) of src's shape. */
    ss_status (*tensor_read)(ss_backend *be, float *host, const ss_tensor *src);

    /* ---- layers ---- */
    /* Makes a 3x3, stride 1, padding 1 convolution with bias and fused ReLU
     * for input `in` (Cin, H, W): weight is (cout, Cin, 3, 3) and bias (cout)
     * on the host, copied (and reordered) once. *out is a new tensor (cout, H, W)
     * in the layer's preferred layout. Caller frees *layer with layer_free. */
    ss_status (*conv_new)(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in, int cout,
                          const float *weight, const float *bias);
    /* out = relu(conv(in) + bias). out is (cout, H, W), in is (Cin, H, W). */
    ss_status (*conv_forward)(ss_backend *be, ss_layer *layer, ss_tensor *out, const ss_tensor *in);
    /* din = conv^T(dpre): the gradient with respect to the input given the
     * gradient dpre with respect to the pre-ReLU output. din is (Cin, H, W). */
    ss_status (*conv_backward_data)(ss_backend *be, ss_layer *layer, ss_tensor *din, const ss_tensor *dpre);
    /* dpre = dout * (out > 0); dpre may be dout (in place). All of out's layout. */
    ss_status (*relu_backward)(ss_backend *be, ss_tensor *dpre, const ss_tensor *dout, const ss_tensor *out);
    /* Makes a 2x2 stride-2 pooling (floor of odd sizes) for `in` (C, H, W);
     * *out is a new tensor (C, H/2, W/2). */
    ss_status (*pool_new)(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in, ss_pool_kind kind);
    /* out = pool(in); a max pooling remembers where its maxima were. */
    ss_status (*pool_forward)(ss_backend *be, ss_layer *layer, ss_tensor *out, const ss_tensor *in);
    /* din = pool^T(dout) for the latest pool_forward; din (C, H, W), dout (C, H/2, W/2). */
    ss_status (*pool_backward)(ss_backend *be, ss_layer *layer, ss_tensor *din, const ss_tensor *dout);
    /* Frees a layer (NULL is ignored). */
    void (*layer_free)(ss_backend *be, ss_layer *layer);

    /* ---- loss terms ---- */
    /* g = F F^T, g a plain (1, C, C) tensor, f (C, H, W) of any layout. */
    ss_status (*gram)(ss_backend *be, ss_tensor *g, const ss_tensor *f);
    /* The style loss of one layer: g = F F^T (plain (1, C, C)); then for each
     * of n targets s (plain (1, C, C)): losses[s] = scales[s] * sum((g - targets[s])^2);
     * and df += sum_s 4 * scales[s] * (g - targets[s]) F (the gradient for a
     * symmetric g), one product for all targets. df has f's layout. */
    ss_status (*style_grad)(ss_backend *be, double *losses, ss_tensor *df, ss_tensor *g, const ss_tensor *f,
                            const ss_tensor *const *targets, const double *scales, int n);
    /* *loss = scale * sum((f - p)^2) and df += 2 * scale * (f - p); one layout. */
    ss_status (*content_grad)(ss_backend *be, double *loss, ss_tensor *df, const ss_tensor *f, const ss_tensor *p,
                              double scale);
    /* Total variation of plain x (C, H, W):
     * *loss = scale * sum_{i<H-1, j<W-1, c} ((x[i,j]-x[i+1,j])^2 + (x[i,j]-x[i,j+1])^2)^power
     * and dx += its gradient. */
    ss_status (*tv_grad)(ss_backend *be, double *loss, ss_tensor *dx, const ss_tensor *x, double scale, double power);

    /* ---- vector operations (the optimizers' only access to the image) ---- */
    /* *out = sum(a * b) accumulated in double. */
    ss_status (*vec_dot)(ss_backend *be, double *out, const ss_tensor *a, const ss_tensor *b);
    /* y += alpha * x */
    ss_status (*vec_axpy)(ss_backend *be, ss_tensor *y, double alpha, const ss_tensor *x);
    /* x *= alpha */
    ss_status (*vec_scale)(ss_backend *be, ss_tensor *x, double alpha);
    /* dst = src */
    ss_status (*vec_copy)(ss_backend *be, ss_tensor *dst, const ss_tensor *src);
    /* x = value everywhere (value must be 0 for a tensor with padding) */
    ss_status (*vec_fill)(ss_backend *be, ss_tensor *x, double value);
    /* x = x * m element-wise (ss_ew_mul), one layout (the style masks) */
    ss_status (*vec_mul)(ss_backend *be, ss_tensor *x, const ss_tensor *m);
    /* Adam step, element-wise over plain tensors (t >= 1):
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * x -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
     * Optional: NULL means the optimizer composes it on the host. */
    ss_status (*adam_step)(ss_backend *be, ss_tensor *x, ss_tensor *m, ss_tensor *v, const ss_tensor *g, double lr,
                           double b1, double b2, double eps, int t);

    /* ---- optional: precision and image conversion ---- */
    /* Allows (tf32 = 1) or forbids (0) TF32 tensor-core math in the layers
     * and Gram products made from now on. Optional: NULL means the backend
     * computes in float32 only (tf32 = 1 is then refused by the wrapper). */
    ss_status (*set_precision)(ss_backend *be, int tf32);
    /* out (plain (3, H, W)) = the pre-processed image px (host, H x W x 3
     * bytes, RGB): tensor channel c takes pixel channel bgr ? 2-c : c, then
     * ss_ew_preprocess with scale, mean[c], std[c] (elementwise.h).
     * Optional: NULL means the wrapper converts on the host and writes. */
    ss_status (*preprocess)(ss_backend *be, ss_tensor *out, const unsigned char *px, float scale, const float *mean,
                            const float *std, int bgr);
    /* px (host, H x W x 3 bytes, RGB) = the de-processed plain (3, H, W)
     * tensor x (ss_ew_deprocess, the inverse channel mapping).
     * Optional: NULL means the wrapper reads x and converts on the host. */
    ss_status (*deprocess)(ss_backend *be, unsigned char *px, const ss_tensor *x, float scale, const float *mean,
                           const float *std, int bgr);

    /* ---- optional: what a layer runs, and the loss values read back at once ---- */
    /* out (size bytes, NUL-terminated) = what layer runs, for `bench`: e.g.
     * the CUDA backend's "fwd IMPLICIT_PRECOMP_GEMM fused, bwd-data ALGO_1,
     * workspace 0.1 MiB". Optional: NULL means "" (nothing to say). */
    ss_status (*layer_describe)(ss_backend *be, char *out, size_t size, const ss_layer *layer);
    /* Opens a batch: until losses_end, style_grad, content_grad and tv_grad
     * may write their loss values (the doubles their pointers name, which
     * must stay valid until then) as late as losses_end; their gradients
     * are as ever. A batch left open by a failure is dropped by the next
     * losses_begin. Optional with losses_end: NULL means values are written
     * at once. */
    ss_status (*losses_begin)(ss_backend *be);
    /* Ends the batch: every loss value still owed is written (on CUDA with
     * one host synchronisation for all of them). */
    ss_status (*losses_end)(ss_backend *be);
} ss_backend_i;

struct ss_backend {
    const ss_backend_i *iface;
    int threads;      /* CPU threads this backend uses */
    char device[192]; /* human-readable device name (a GPU's name and UUID) */
    char isa[64];     /* the instruction set the kernels dispatch to (oneDNN's on the CPU), or "" */
    int lost;         /* set by a backend whose device context is unusable (a sticky CUDA
                         error): every later call fails; the owner must free it and make a new one */
    int tf32;         /* 1 when TF32 math is allowed (set_precision) */
    void *ctx;        /* backend-private state */
};

/* Makes the CPU backend with `threads` threads (0: the cores this process may
 * use). Returns SS_OK and *out, which the caller frees with be->iface->free. */
ss_status ss_backend_cpu_new(ss_backend **out, int threads);

/* Makes the backend called name ("cpu", "cuda" or "auto": CUDA when built in
 * and a device is present, else CPU) on device `device` (ignored on the CPU). */
ss_status ss_backend_new(ss_backend **out, const char *name, int device, int threads);

/* Returns the number of CPUs in this process's affinity mask (at least 1). */
int ss_cpu_count(void);

/* Returns the number of CUDA devices this process sees (CUDA_VISIBLE_DEVICES
 * applies); 0 when built without CUDA or without a usable driver or device. */
int ss_backend_cuda_devices(void);

/* ---- the wrappers: every caller's way into a backend (backend.c) ---- */
/* Each checks its arguments (NULL, shapes, plain layouts, matching sizes)
 * and returns SS_ERR_ARG naming the operation and the mismatch, or
 * SS_ERR_BACKEND when be->lost; then calls the slot (or the fallback of an
 * optional slot). Semantics are those of the slot of the same name above. */

void ss_be_free(ss_backend *be);
ss_status ss_be_tensor_new(ss_backend *be, ss_tensor **out, int c, int h, int w);
ss_status ss_be_tensor_new_like(ss_backend *be, ss_tensor **out, const ss_tensor *like);
void ss_be_tensor_free(ss_backend *be, ss_tensor *t);
ss_status ss_be_tensor_write(ss_backend *be, ss_tensor *dst, const float *host);
ss_status ss_be_tensor_read(ss_backend *be, float *host, const ss_tensor *src);
ss_status ss_be_conv_new(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in, int cout,
                         const float *weight, const float *bias);
ss_status ss_be_conv_forward(ss_backend *be, ss_layer *layer, ss_tensor *out, const ss_tensor *in);
ss_status ss_be_conv_backward_data(ss_backend *be, ss_layer *layer, ss_tensor *din, const ss_tensor *dpre);
ss_status ss_be_relu_backward(ss_backend *be, ss_tensor *dpre, const ss_tensor *dout, const ss_tensor *out);
ss_status ss_be_pool_new(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in, ss_pool_kind kind);
ss_status ss_be_pool_forward(ss_backend *be, ss_layer *layer, ss_tensor *out, const ss_tensor *in);
ss_status ss_be_pool_backward(ss_backend *be, ss_layer *layer, ss_tensor *din, const ss_tensor *dout);
void ss_be_layer_free(ss_backend *be, ss_layer *layer);
ss_status ss_be_layer_describe(ss_backend *be, char *text, size_t n, const ss_layer *layer);
ss_status ss_be_gram(ss_backend *be, ss_tensor *g, const ss_tensor *f);
ss_status ss_be_style_grad(ss_backend *be, double *losses, ss_tensor *df, ss_tensor *g, const ss_tensor *f,
                           const ss_tensor *const *targets, const double *scales, int n);
ss_status ss_be_content_grad(ss_backend *be, double *loss, ss_tensor *df, const ss_tensor *f, const ss_tensor *p,
                             double scale);
ss_status ss_be_tv_grad(ss_backend *be, double *loss, ss_tensor *dx, const ss_tensor *x, double scale, double power);
ss_status ss_be_vec_dot(ss_backend *be, double *out, const ss_tensor *a, const ss_tensor *b);
ss_status ss_be_vec_axpy(ss_backend *be, ss_tensor *y, double alpha, const ss_tensor *x);
ss_status ss_be_vec_scale(ss_backend *be, ss_tensor *x, double alpha);
ss_status ss_be_vec_copy(ss_backend *be, ss_tensor *dst, const ss_tensor *src);
ss_status ss_be_vec_fill(ss_backend *be, ss_tensor *x, double value);
ss_status ss_be_vec_mul(ss_backend *be, ss_tensor *x, const ss_tensor *m);
/* Fallback when the slot is NULL: x, m, v and g are read to the host,
 * updated with ss_ew_adam and written back (x, m, v). */
ss_status ss_be_adam_step(ss_backend *be, ss_tensor *x, ss_tensor *m, ss_tensor *v, const ss_tensor *g, double lr,
                          double b1, double b2, double eps, int t);
/* precision "fp32" or "tf32"; a backend without a set_precision slot
 * refuses "tf32" with SS_ERR_ARG naming the backend. Records be->tf32. */
ss_status ss_be_set_precision(ss_backend *be, const char *precision);
ss_status ss_be_preprocess(ss_backend *be, ss_tensor *out, const unsigned char *px, float scale, const float *mean,
                           const float *std, int bgr);
ss_status ss_be_deprocess(ss_backend *be, unsigned char *px, const ss_tensor *x, float scale, const float *mean,
                          const float *std, int bgr);
/* out = the backend's description of layer ("" without the slot). */
ss_status ss_be_layer_describe(ss_backend *be, char *out, size_t size, const ss_layer *layer);
/* A batch of loss terms (the slots above; without them, nothing to do). */
ss_status ss_be_losses_begin(ss_backend *be);
ss_status ss_be_losses_end(ss_backend *be);

#ifdef __cplusplus
}
#endif

#endif
