/* backend_cuda.cu - the CUDA backend: cuDNN for convolutions and pooling,
 * cuBLAS for Gram matrices and the style gradient, kernels/ops.cu for the
 * rest, all on one stream of one device.
 *
 * Every tensor is plain (C, H, W) float32 in device memory and stays there
 * between evaluations: only loss values (a few doubles through a pinned
 * buffer), tensor reads and writes, and image bytes cross to the host. All
 * device memory is allocated when tensors and layers are made (the cuDNN
 * workspace grows only in conv_new); nothing is allocated in an evaluation.
 *
 * Deterministic on one GPU: convolutions forward use the implicit
 * precomputed GEMM (the algorithm cuDNN fuses with bias and ReLU), backward
 * data the deterministic CUDNN_CONVOLUTION_BWD_DATA_ALGO_1 (or the first
 * deterministic one cuDNN supports for the shape, in a fixed order; never
 * ALGO_0, which adds with atomics), max pooling CUDNN_POOLING_MAX_DETERMINISTIC;
 * no timing-based search. Reductions are ops.cu's fixed-order ones.
 *
 * Precision: float32 math (CUDNN_FMA_MATH, CUBLAS_DEFAULT_MATH) unless
 * set_precision allows TF32 (CUDNN_TENSOR_OP_MATH for layers made after it,
 * CUBLAS_TF32_TENSOR_OP_MATH at once).
 *
 * cuDNN 9 keeps the descriptor API used here (cudnn_cnn.h, cudnn_ops.h) as
 * its "legacy" API; libcudnn.so loads its sub-libraries (cudnn_cnn,
 * cudnn_ops, engines) at run time. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_cuda.h"
#include "ops.h"

/* ---- errors (the targets of check.h's CUDA_CHECK family) ---- */

namespace {

struct cuda_ctx {
    int device;
    char where[224]; /* "rank R, device D: NAME" for messages */
    cudaStream_t stream;
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    void *ws; /* cuDNN workspace, shared by every layer */
    size_t ws_size;
    double *partials;  /* SS_RED_BLOCKS reduction partials */
    double *sums;      /* device: kSums reduced values */
    double *sums_host; /* pinned copy of sums */
    float *dmat;       /* style: the derivative D (c x c) */
    size_t dmat_size;
    unsigned char *px; /* image bytes for pre- and de-processing */
    size_t px_size;
};

const int kSums = 16;
const int kMaxGramChannels = 512; /* VGG's widest layer: D is allocated for it up front */

cuda_ctx *ctx_of(ss_backend *be) { return (cuda_ctx *)be->ctx; }

int is_sticky(cudaError_t e) {
    switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorContextIsDestroyed:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchFailure:
    case cudaErrorECCUncorrectable: return 1;
    default: return 0;
    }
}

/* After a failure: clears a non-sticky error; marks the backend lost when
 * the context is unusable (the error is sticky, or the device says so). */
void note_failure(ss_backend *be, cudaError_t e) {
    cudaGetLastError();
    if (is_sticky(e)) be->lost = 1;
    cudaError_t now = cudaDeviceSynchronize();
    if (is_sticky(now)) be->lost = 1;
    cudaGetLastError();
}

double free_mib(void) {
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) {
        cudaGetLastError();
        return -1.0;
    }
    return (double)fr / (1024.0 * 1024.0);
}

} // namespace

static ss_status ss_cuda_fail(ss_backend *be, cudaError_t e, const char *expr, const char *file, int line) {
    note_failure(be, e);
    const char *where = be && be->ctx ? ctx_of(be)->where : "no device";
    if (e == cudaErrorMemoryAllocation)
        return ss_error(SS_ERR_NOMEM, "out of GPU memory (%s at %s:%d; %.0f MiB free on %s)", expr, file, line,
                        free_mib(), where);
    return ss_error(SS_ERR_BACKEND, "CUDA: %s failed (%s) at %s:%d (%s)%s", expr, cudaGetErrorString(e), file, line,
                    where, be && be->lost ? "; the device context is lost" : "");
}

static ss_status ss_cudnn_fail(ss_backend *be, cudnnStatus_t s, const char *expr, const char *file, int line) {
    note_failure(be, cudaSuccess);
    const char *where = be && be->ctx ? ctx_of(be)->where : "no device";
    if (s == CUDNN_STATUS_ALLOC_FAILED)
        return ss_error(SS_ERR_NOMEM, "out of GPU memory (cuDNN: %s at %s:%d; %.0f MiB free on %s)", expr, file, line,
                        free_mib(), where);
    return ss_error(SS_ERR_BACKEND, "cuDNN: %s failed (%s) at %s:%d (%s)%s", expr, cudnnGetErrorString(s), file, line,
                    where, be && be->lost ? "; the device context is lost" : "");
}

static ss_status ss_cublas_fail(ss_backend *be, cublasStatus_t s, const char *expr, const char *file, int line) {
    note_failure(be, cudaSuccess);
    const char *where = be && be->ctx ? ctx_of(be)->where : "no device";
    if (s == CUBLAS_STATUS_ALLOC_FAILED)
        return ss_error(SS_ERR_NOMEM, "out of GPU memory (cuBLAS: %s at %s:%d; %.0f MiB free on %s)", expr, file, line,
                        free_mib(), where);
    return ss_error(SS_ERR_BACKEND, "cuBLAS: %s failed (%s) at %s:%d (%s)%s", expr, cublasGetStatusString(s), file,
                    line, where, be && be->lost ? "; the device context is lost" : "");
}

/* check.h's macros call the functions above */
#include "check.h"

/* Allocates bytes of device memory; running out reads "out of GPU memory
 * (needed X MiB, Y MiB free on DEVICE)". */
static ss_status dev_alloc(ss_backend *be, void **p, size_t bytes) {
    *p = NULL;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 4);
    if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        *p = NULL;
        return ss_error(SS_ERR_NOMEM, "out of GPU memory (needed %.1f MiB, %.1f MiB free on %s)",
                        (double)bytes / (1024.0 * 1024.0), free_mib(), ctx_of(be)->where);
    }
    CUDA_CHECK(be, e);
    return SS_OK;
}

/* Waits for the stream and copies the first n reduced sums to the host. */
static ss_status fetch_sums(ss_backend *be, double *out, int n) {
    cuda_ctx *c = ctx_of(be);
    CUDA_CHECK(be,
               cudaMemcpyAsync(c->sums_host, c->sums, (size_t)n * sizeof(double), cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
    for (int i = 0; i < n; i++) out[i] = c->sums_host[i];
    return SS_OK;
}

/* ---- tensors ---- */

static ss_status cuda_tensor_new(ss_backend *be, ss_tensor **out, int c, int h, int w) {
    ss_tensor *t = (ss_tensor *)calloc(1, sizeof *t);
    if (!t) return ss_error(SS_ERR_NOMEM, "out of memory for a tensor");
    t->c = c;
    t->h = h;
    t->w = w;
    t->plain = 1;
    t->size = (size_t)c * h * w;
    void *p = NULL;
    ss_status st = dev_alloc(be, &p, t->size * sizeof(float));
    if (st != SS_OK) {
        free(t);
        return st;
    }
    t->data = (float *)p;
    cudaError_t e = cudaMemsetAsync(t->data, 0, t->size * sizeof(float), ctx_of(be)->stream);
    if (e != cudaSuccess) {
        cudaFree(t->data);
        free(t);
        CUDA_CHECK(be, e);
    }
    *out = t;
    return SS_OK;
}

static ss_status cuda_tensor_new_like(ss_backend *be, ss_tensor **out, const ss_tensor *like) {
    return cuda_tensor_new(be, out, like->c, like->h, like->w);
}

static void cuda_tensor_free(ss_backend *be, ss_tensor *t) {
    (void)be;
    if (!t) return;
    cudaFree(t->data);
    free(t);
}

static ss_status cuda_tensor_write(ss_backend *be, ss_tensor *dst, const float *host) {
    cuda_ctx *c = ctx_of(be);
    CUDA_CHECK(be, cudaMemcpyAsync(dst->data, host, dst->size * sizeof(float), cudaMemcpyHostToDevice, c->stream));
    /* the host array may be reused at once */
    CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
    return SS_OK;
}

static ss_status cuda_tensor_read(ss_backend *be, float *host, const ss_tensor *src) {
    cuda_ctx *c = ctx_of(be);
    CUDA_CHECK(be, cudaMemcpyAsync(host, src->data, src->size * sizeof(float), cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
    return SS_OK;
}

/* ---- layers ---- */

struct ss_layer {
    int is_conv;
    cudnnTensorDescriptor_t x_desc, y_desc, bias_desc;
    cudnnFilterDescriptor_t w_desc;
    cudnnConvolutionDescriptor_t conv;
    cudnnActivationDescriptor_t act;
    cudnnPoolingDescriptor_t pool;
    cudnnConvolutionFwdAlgo_t fwd_algo;
    cudnnConvolutionBwdDataAlgo_t bwd_algo;
    int fused; /* 1: cudnnConvolutionBiasActivationForward works for this shape */
    float *w, *b;
    const float *last_x, *last_y; /* pooling: the tensors of the latest forward */
};

static void cuda_layer_free(ss_backend *be, ss_layer *l) {
    (void)be;
    if (!l) return;
    if (l->x_desc) cudnnDestroyTensorDescriptor(l->x_desc);
    if (l->y_desc) cudnnDestroyTensorDescriptor(l->y_desc);
    if (l->bias_desc) cudnnDestroyTensorDescriptor(l->bias_desc);
    if (l->w_desc) cudnnDestroyFilterDescriptor(l->w_desc);
    if (l->conv) cudnnDestroyConvolutionDescriptor(l->conv);
    if (l->act) cudnnDestroyActivationDescriptor(l->act);
    if (l->pool) cudnnDestroyPoolingDescriptor(l->pool);
    cudaFree(l->w);
    cudaFree(l->b);
    free(l);
}

/* Grows the shared cuDNN workspace to at least bytes (only when layers are made). */
static ss_status ensure_workspace(ss_backend *be, size_t bytes) {
    cuda_ctx *c = ctx_of(be);
    if (bytes <= c->ws_size) return SS_OK;
    CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
    cudaFree(c->ws);
    c->ws = NULL;
    c->ws_size = 0;
    SS_TRY(dev_alloc(be, &c->ws, bytes));
    c->ws_size = bytes;
    return SS_OK;
}

static const float kOne = 1.0f, kZero = 0.0f;

static ss_status conv_run(ss_backend *be, ss_layer *l, float *out, const float *in) {
    cuda_ctx *c = ctx_of(be);
    if (l->fused) {
        CUDNN_CHECK(be, cudnnConvolutionBiasActivationForward(c->dnn, &kOne, l->x_desc, in, l->w_desc, l->w, l->conv,
                                                              l->fwd_algo, c->ws, c->ws_size, &kZero, l->y_desc, out,
                                                              l->bias_desc, l->b, l->act, l->y_desc, out));
        return SS_OK;
    }
    CUDNN_CHECK(be, cudnnConvolutionForward(c->dnn, &kOne, l->x_desc, in, l->w_desc, l->w, l->conv, l->fwd_algo, c->ws,
                                            c->ws_size, &kZero, l->y_desc, out));
    CUDNN_CHECK(be, cudnnAddTensor(c->dnn, &kOne, l->bias_desc, l->b, &kOne, l->y_desc, out));
    CUDNN_CHECK(be, cudnnActivationForward(c->dnn, l->act, &kOne, l->y_desc, out, &kZero, l->y_desc, out));
    return SS_OK;
}

static ss_status conv_build(ss_backend *be, ss_layer *l, ss_tensor **out, const ss_tensor *in, int cout,
                            const float *weight, const float *bias) {
    cuda_ctx *c = ctx_of(be);
    int cin = in->c, h = in->h, w = in->w;
    CUDNN_CHECK(be, cudnnCreateTensorDescriptor(&l->x_desc));
    CUDNN_CHECK(be, cudnnCreateTensorDescriptor(&l->y_desc));
    CUDNN_CHECK(be, cudnnCreateTensorDescriptor(&l->bias_desc));
    CUDNN_CHECK(be, cudnnCreateFilterDescriptor(&l->w_desc));
    CUDNN_CHECK(be, cudnnCreateConvolutionDescriptor(&l->conv));
    CUDNN_CHECK(be, cudnnCreateActivationDescriptor(&l->act));
    CUDNN_CHECK(be, cudnnSetTensor4dDescriptor(l->x_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, cin, h, w));
    CUDNN_CHECK(be, cudnnSetTensor4dDescriptor(l->y_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, cout, h, w));
    CUDNN_CHECK(be, cudnnSetTensor4dDescriptor(l->bias_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, cout, 1, 1));
    CUDNN_CHECK(be, cudnnSetFilter4dDescriptor(l->w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, cout, cin, 3, 3));
    /* pad 1, stride 1, dilation 1; cross-correlation, as oneDNN and PyTorch compute */
    CUDNN_CHECK(be,
                cudnnSetConvolution2dDescriptor(l->conv, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(be, cudnnSetConvolutionMathType(l->conv, be->tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
    CUDNN_CHECK(be, cudnnSetActivationDescriptor(l->act, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));

    /* the fixed choice: the implicit precomputed GEMM forward (the one cuDNN
     * fuses with bias and ReLU); backward data: the first of these that cuDNN
     * supports, all deterministic */
    l->fwd_algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
    size_t fwd_ws = 0, bwd_ws = 0;
    CUDNN_CHECK(be, cudnnGetConvolutionForwardWorkspaceSize(c->dnn, l->x_desc, l->w_desc, l->conv, l->y_desc,
                                                            l->fwd_algo, &fwd_ws));
    const cudnnConvolutionBwdDataAlgo_t bwd[] = {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
                                                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED,
                                                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING};
    cudnnStatus_t s = CUDNN_STATUS_NOT_SUPPORTED;
    for (size_t i = 0; i < sizeof bwd / sizeof bwd[0] && s != CUDNN_STATUS_SUCCESS; i++) {
        l->bwd_algo = bwd[i];
        s = cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, l->w_desc, l->y_desc, l->conv, l->x_desc, l->bwd_algo,
                                                         &bwd_ws);
    }
    CUDNN_CHECK(be, s);
    SS_TRY(ensure_workspace(be, fwd_ws > bwd_ws ? fwd_ws : bwd_ws));

    size_t nw = (size_t)cout * cin * 9;
    SS_TRY(dev_alloc(be, (void **)&l->w, nw * sizeof(float)));
    SS_TRY(dev_alloc(be, (void **)&l->b, (size_t)cout * sizeof(float)));
    CUDA_CHECK(be, cudaMemcpyAsync(l->w, weight, nw * sizeof(float), cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(be, cudaMemcpyAsync(l->b, bias, (size_t)cout * sizeof(float), cudaMemcpyHostToDevice, c->stream));
    SS_TRY(cuda_tensor_new(be, out, cout, h, w));

    /* one trial of the fused call: where cuDNN refuses it for this shape
     * (it supports bias + ReLU only with some algorithms, types and
     * layouts), the layer runs convolution, bias and ReLU as three calls */
    s = cudnnConvolutionBiasActivationForward(c->dnn, &kOne, l->x_desc, in->data, l->w_desc, l->w, l->conv, l->fwd_algo,
                                              c->ws, c->ws_size, &kZero, l->y_desc, (*out)->data, l->bias_desc, l->b,
                                              l->act, l->y_desc, (*out)->data);
    l->fused = s == CUDNN_STATUS_SUCCESS;
    if (!l->fused) {
        cudaGetLastError();
        SS_TRY(conv_run(be, l, (*out)->data, in->data)); /* its own errors are reported */
    }
    CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
    return SS_OK;
}

static ss_status cuda_conv_new(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in, int cout,
                               const float *weight, const float *bias) {
    ss_layer *l = (ss_layer *)calloc(1, sizeof *l);
    if (!l) return ss_error(SS_ERR_NOMEM, "out of memory for a layer");
    l->is_conv = 1;
    *out = NULL;
    ss_status st = conv_build(be, l, out, in, cout, weight, bias);
    if (st != SS_OK) {
        cuda_layer_free(be, l);
        cuda_tensor_free(be, *out);
        *out = NULL;
        return st;
    }
    *layer = l;
    return SS_OK;
}

static ss_status cuda_conv_forward(ss_backend *be, ss_layer *l, ss_tensor *out, const ss_tensor *in) {
    return conv_run(be, l, out->data, in->data);
}

static ss_status cuda_conv_backward_data(ss_backend *be, ss_layer *l, ss_tensor *din, const ss_tensor *dpre) {
    cuda_ctx *c = ctx_of(be);
    CUDNN_CHECK(be, cudnnConvolutionBackwardData(c->dnn, &kOne, l->w_desc, l->w, l->y_desc, dpre->data, l->conv,
                                                 l->bwd_algo, c->ws, c->ws_size, &kZero, l->x_desc, din->data));
    return SS_OK;
}

static ss_status cuda_relu_backward(ss_backend *be, ss_tensor *dpre, const ss_tensor *dout, const ss_tensor *out) {
    CUDA_CHECK(be, ss_k_relu_backward(ctx_of(be)->stream, dpre->data, dout->data, out->data, out->size));
    return SS_OK;
}

static ss_status pool_build(ss_backend *be, ss_layer *l, ss_tensor **out, const ss_tensor *in, ss_pool_kind kind) {
    int ch = in->c, h = in->h, w = in->w;
    CUDNN_CHECK(be, cudnnCreateTensorDescriptor(&l->x_desc));
    CUDNN_CHECK(be, cudnnCreateTensorDescriptor(&l->y_desc));
    CUDNN_CHECK(be, cudnnCreatePoolingDescriptor(&l->pool));
    CUDNN_CHECK(be, cudnnSetTensor4dDescriptor(l->x_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, ch, h, w));
    CUDNN_CHECK(be, cudnnSetTensor4dDescriptor(l->y_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, ch, h / 2, w / 2));
    /* 2x2 window, no padding, stride 2: odd sizes floor */
    cudnnPoolingMode_t mode =
        kind == SS_POOL_MAX ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    CUDNN_CHECK(be, cudnnSetPooling2dDescriptor(l->pool, mode, CUDNN_NOT_PROPAGATE_NAN, 2, 2, 0, 0, 2, 2));
    int dims[4];
    CUDNN_CHECK(be, cudnnGetPooling2dForwardOutputDim(l->pool, l->x_desc, &dims[0], &dims[1], &dims[2], &dims[3]));
    if (dims[1] != ch || dims[2] != h / 2 || dims[3] != w / 2)
        return ss_error(SS_ERR_INTERNAL, "cuDNN pools %dx%d to %dx%d, expected %dx%d", w, h, dims[3], dims[2], w / 2,
                        h / 2);
    return cuda_tensor_new(be, out, ch, h / 2, w / 2);
}

static ss_status cuda_pool_new(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in,
                               ss_pool_kind kind) {
    ss_layer *l = (ss_layer *)calloc(1, sizeof *l);
    if (!l) return ss_error(SS_ERR_NOMEM, "out of memory for a layer");
    *out = NULL;
    ss_status st = pool_build(be, l, out, in, kind);
    if (st != SS_OK) {
        cuda_layer_free(be, l);
        cuda_tensor_free(be, *out);
        *out = NULL;
        return st;
    }
    *layer = l;
    return SS_OK;
}

static ss_status cuda_pool_forward(ss_backend *be, ss_layer *l, ss_tensor *out, const ss_tensor *in) {
    CUDNN_CHECK(
        be, cudnnPoolingForward(ctx_of(be)->dnn, l->pool, &kOne, l->x_desc, in->data, &kZero, l->y_desc, out->data));
    l->last_x = in->data;
    l->last_y = out->data;
    return SS_OK;
}

static ss_status cuda_pool_backward(ss_backend *be, ss_layer *l, ss_tensor *din, const ss_tensor *dout) {
    if (!l->last_x) return ss_error(SS_ERR_INTERNAL, "pool_backward before any pool_forward of the layer");
    CUDNN_CHECK(be, cudnnPoolingBackward(ctx_of(be)->dnn, l->pool, &kOne, l->y_desc, l->last_y, l->y_desc, dout->data,
                                         l->x_desc, l->last_x, &kZero, l->x_desc, din->data));
    return SS_OK;
}

/* ---- loss terms ---- */

/* g (plain c x c) = F F^T for plain f (c, hw): cuBLAS sees F as the
 * column-major hw x c matrix F^T, so G = (F^T)^T F^T is syrk with op T; its
 * column-major upper triangle is the row-major lower one, mirrored after. */
static ss_status gram_into(ss_backend *be, float *g, const ss_tensor *f) {
    cuda_ctx *c = ctx_of(be);
    int ch = f->c, hw = f->h * f->w;
    CUBLAS_CHECK(be,
                 cublasSsyrk(c->blas, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, ch, hw, &kOne, f->data, hw, &kZero, g, ch));
    CUDA_CHECK(be, ss_k_mirror_lower(c->stream, g, ch));
    return SS_OK;
}

static ss_status cuda_gram(ss_backend *be, ss_tensor *g, const ss_tensor *f) { return gram_into(be, g->data, f); }

static ss_status cuda_style_grad(ss_backend *be, double *losses, ss_tensor *df, ss_tensor *g, const ss_tensor *f,
                                 const ss_tensor *const *targets, const double *scales, int n) {
    cuda_ctx *c = ctx_of(be);
    int ch = f->c, hw = f->h * f->w;
    size_t cc = (size_t)ch * ch;
    if (n > SS_MAX_TARGETS || n > kSums)
        return ss_error(SS_ERR_ARG, "style_grad: %d targets (at most %d)", n, (int)SS_MAX_TARGETS);
    if (cc > c->dmat_size) /* wider than VGG: grows once for the layer */
    {
        CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
        cudaFree(c->dmat);
        c->dmat = NULL;
        c->dmat_size = 0;
        SS_TRY(dev_alloc(be, (void **)&c->dmat, cc * sizeof(float)));
        c->dmat_size = cc;
    }
    SS_TRY(gram_into(be, g->data, f));
    ss_k_targets t;
    memset(&t, 0, sizeof t);
    t.n = n;
    for (int s = 0; s < n; s++) {
        t.t[s] = targets[s]->data;
        t.scale[s] = scales[s];
        CUDA_CHECK(be, ss_k_sqdiff(c->stream, c->partials, g->data, targets[s]->data, cc));
        CUDA_CHECK(be, ss_k_finish(c->stream, c->sums + s, c->partials));
    }
    CUDA_CHECK(be, ss_k_style_d(c->stream, c->dmat, g->data, t, cc));
    /* df (row-major c x hw) += D F: column-major, df^T (hw x c) += F^T D^T, and D is symmetric */
    CUBLAS_CHECK(be, cublasSgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, hw, ch, ch, &kOne, f->data, hw, c->dmat, ch, &kOne,
                                 df->data, hw));
    double sums[SS_MAX_TARGETS];
    SS_TRY(fetch_sums(be, sums, n));
    for (int s = 0; s < n; s++) losses[s] = scales[s] * sums[s];
    return SS_OK;
}

static ss_status cuda_content_grad(ss_backend *be, double *loss, ss_tensor *df, const ss_tensor *f, const ss_tensor *p,
                                   double scale) {
    cuda_ctx *c = ctx_of(be);
    CUDA_CHECK(be, ss_k_content(c->stream, c->partials, df->data, f->data, p->data, (float)(2.0 * scale), f->size));
    CUDA_CHECK(be, ss_k_finish(c->stream, c->sums, c->partials));
    double sum;
    SS_TRY(fetch_sums(be, &sum, 1));
    *loss = scale * sum;
    return SS_OK;
}

static ss_status cuda_tv_grad(ss_backend *be, double *loss, ss_tensor *dx, const ss_tensor *x, double scale,
                              double power) {
    cuda_ctx *c = ctx_of(be);
    CUDA_CHECK(be, ss_k_tv(c->stream, c->partials, dx->data, x->data, x->c, x->h, x->w, scale, power));
    CUDA_CHECK(be, ss_k_finish(c->stream, c->sums, c->partials));
    double sum;
    SS_TRY(fetch_sums(be, &sum, 1));
    *loss = scale * sum;
    return SS_OK;
}

/* ---- vector operations ---- */

static ss_status cuda_vec_dot(ss_backend *be, double *out, const ss_tensor *a, const ss_tensor *b) {
    cuda_ctx *c = ctx_of(be);
    CUDA_CHECK(be, ss_k_dot(c->stream, c->partials, a->data, b->data, a->size));
    CUDA_CHECK(be, ss_k_finish(c->stream, c->sums, c->partials));
    return fetch_sums(be, out, 1);
}

static ss_status cuda_vec_axpy(ss_backend *be, ss_tensor *y, double alpha, const ss_tensor *x) {
    CUDA_CHECK(be, ss_k_axpy(ctx_of(be)->stream, y->data, alpha, x->data, y->size));
    return SS_OK;
}

static ss_status cuda_vec_scale(ss_backend *be, ss_tensor *x, double alpha) {
    CUDA_CHECK(be, ss_k_scale(ctx_of(be)->stream, x->data, alpha, x->size));
    return SS_OK;
}

static ss_status cuda_vec_copy(ss_backend *be, ss_tensor *dst, const ss_tensor *src) {
    CUDA_CHECK(be, cudaMemcpyAsync(dst->data, src->data, src->size * sizeof(float), cudaMemcpyDeviceToDevice,
                                   ctx_of(be)->stream));
    return SS_OK;
}

static ss_status cuda_vec_fill(ss_backend *be, ss_tensor *x, double value) {
    CUDA_CHECK(be, ss_k_fill(ctx_of(be)->stream, x->data, (float)value, x->size));
    return SS_OK;
}

static ss_status cuda_adam_step(ss_backend *be, ss_tensor *x, ss_tensor *m, ss_tensor *v, const ss_tensor *g, double lr,
                                double b1, double b2, double eps, int t) {
    double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
    CUDA_CHECK(be, ss_k_adam(ctx_of(be)->stream, x->data, m->data, v->data, g->data, lr, b1, b2, eps, c1, c2, x->size));
    return SS_OK;
}

/* ---- precision and images ---- */

static ss_status cuda_set_precision(ss_backend *be, int tf32) {
    CUBLAS_CHECK(be, cublasSetMathMode(ctx_of(be)->blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    return SS_OK;
}

/* The image byte buffer holds at least bytes (grows at the first image of a size). */
static ss_status ensure_px(ss_backend *be, size_t bytes) {
    cuda_ctx *c = ctx_of(be);
    if (bytes <= c->px_size) return SS_OK;
    CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
    cudaFree(c->px);
    c->px = NULL;
    c->px_size = 0;
    SS_TRY(dev_alloc(be, (void **)&c->px, bytes));
    c->px_size = bytes;
    return SS_OK;
}

static ss_status cuda_preprocess(ss_backend *be, ss_tensor *out, const unsigned char *px, float scale,
                                 const float *mean, const float *std, int bgr) {
    cuda_ctx *c = ctx_of(be);
    size_t bytes = 3 * (size_t)out->h * out->w;
    SS_TRY(ensure_px(be, bytes));
    CUDA_CHECK(be, cudaMemcpyAsync(c->px, px, bytes, cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(be, ss_k_preprocess(c->stream, out->data, c->px, out->h, out->w, scale, mean[0], mean[1], mean[2],
                                   std[0], std[1], std[2], bgr));
    CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
    return SS_OK;
}

static ss_status cuda_deprocess(ss_backend *be, unsigned char *px, const ss_tensor *x, float scale, const float *mean,
                                const float *std, int bgr) {
    cuda_ctx *c = ctx_of(be);
    size_t bytes = 3 * (size_t)x->h * x->w;
    SS_TRY(ensure_px(be, bytes));
    CUDA_CHECK(be, ss_k_deprocess(c->stream, c->px, x->data, x->h, x->w, scale, mean[0], mean[1], mean[2], std[0],
                                  std[1], std[2], bgr));
    CUDA_CHECK(be, cudaMemcpyAsync(px, c->px, bytes, cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
    return SS_OK;
}

/* ---- the backend ---- */

static void cuda_free(ss_backend *be) {
    if (!be) return;
    cuda_ctx *c = ctx_of(be);
    if (c) {
        if (c->stream) cudaStreamSynchronize(c->stream);
        cudaFree(c->ws);
        cudaFree(c->partials);
        cudaFree(c->sums);
        cudaFree(c->dmat);
        cudaFree(c->px);
        if (c->sums_host) cudaFreeHost(c->sums_host);
        if (c->blas) cublasDestroy(c->blas);
        if (c->dnn) cudnnDestroy(c->dnn);
        if (c->stream) cudaStreamDestroy(c->stream);
        /* a lost context is recreated only by a reset (this process's only backend on the device) */
        if (be->lost) cudaDeviceReset();
        cudaGetLastError();
        free(c);
    }
    free(be);
}

static const ss_backend_i cuda_iface = {
    "cuda",
    cuda_free,
    cuda_tensor_new,
    cuda_tensor_new_like,
    cuda_tensor_free,
    cuda_tensor_write,
    cuda_tensor_read,
    cuda_conv_new,
    cuda_conv_forward,
    cuda_conv_backward_data,
    cuda_relu_backward,
    cuda_pool_new,
    cuda_pool_forward,
    cuda_pool_backward,
    cuda_layer_free,
    cuda_gram,
    cuda_style_grad,
    cuda_content_grad,
    cuda_tv_grad,
    cuda_vec_dot,
    cuda_vec_axpy,
    cuda_vec_scale,
    cuda_vec_copy,
    cuda_vec_fill,
    cuda_adam_step,
    cuda_set_precision,
    cuda_preprocess,
    cuda_deprocess,
    NULL, /* layer_describe: the cuDNN algorithm could be named here */
};

/* The rank as the MPI launcher tells it (the backend knows no MPI), or -1. */
static int launcher_rank(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return -1;
}

static ss_status cuda_init(ss_backend *be, int device) {
    cuda_ctx *c = ctx_of(be);
    cudaDeviceProp prop;
    CUDA_CHECK(be, cudaGetDeviceProperties(&prop, device));
    char uuid[40];
    const unsigned char *u = (const unsigned char *)prop.uuid.bytes;
    snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    snprintf(be->device, sizeof be->device, "%.120s (GPU-%s)", prop.name, uuid);
    int rank = launcher_rank();
    char rank_text[24] = "rank ?";
    if (rank >= 0) snprintf(rank_text, sizeof rank_text, "rank %d", rank);
    snprintf(c->where, sizeof c->where, "%s, device %d: %.120s", rank_text, device, prop.name);
    CUDA_CHECK(be, cudaSetDevice(device));
    CUDA_CHECK(be, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    CUDNN_CHECK(be, cudnnCreate(&c->dnn));
    CUDNN_CHECK(be, cudnnSetStream(c->dnn, c->stream));
    CUBLAS_CHECK(be, cublasCreate(&c->blas));
    CUBLAS_CHECK(be, cublasSetStream(c->blas, c->stream));
    CUBLAS_CHECK(be, cublasSetPointerMode(c->blas, CUBLAS_POINTER_MODE_HOST));
    CUBLAS_CHECK(be, cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
    SS_TRY(dev_alloc(be, (void **)&c->partials, SS_RED_BLOCKS * sizeof(double)));
    SS_TRY(dev_alloc(be, (void **)&c->sums, kSums * sizeof(double)));
    CUDA_CHECK(be, cudaMallocHost((void **)&c->sums_host, kSums * sizeof(double)));
    SS_TRY(dev_alloc(be, (void **)&c->dmat, (size_t)kMaxGramChannels * kMaxGramChannels * sizeof(float)));
    c->dmat_size = (size_t)kMaxGramChannels * kMaxGramChannels;
    return SS_OK;
}

int ss_cuda_device_count(const char **why) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        if (why)
            *why = e == cudaErrorInsufficientDriver
                       ? "no NVIDIA driver is loaded, or it is older than this CUDA runtime"
                   : e == cudaErrorNoDevice ? "the driver reports none"
                                            : cudaGetErrorString(e);
        return 0;
    }
    if (n == 0 && why) *why = "the driver reports none";
    return n;
}

ss_status ss_backend_cuda_new(ss_backend **out, int device, int threads) {
    *out = NULL;
    const char *why = "";
    int n = ss_cuda_device_count(&why);
    if (n == 0) return ss_error(SS_ERR_BACKEND, "no CUDA device (%s)", why);
    if (device < 0 || device >= n) {
        const char *vis = getenv("CUDA_VISIBLE_DEVICES");
        return ss_error(SS_ERR_ARG, "CUDA device %d does not exist: this process sees %d (CUDA_VISIBLE_DEVICES=%s)",
                        device, n, vis ? vis : "unset");
    }
    ss_backend *be = (ss_backend *)calloc(1, sizeof *be);
    cuda_ctx *c = (cuda_ctx *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return ss_error(SS_ERR_NOMEM, "out of memory for the CUDA backend");
    }
    be->iface = &cuda_iface;
    be->ctx = c;
    be->threads = threads > 0 ? threads : 1;
    c->device = device;
    snprintf(c->where, sizeof c->where, "device %d", device);
    ss_status st = cuda_init(be, device);
    if (st != SS_OK) {
        cuda_free(be);
        return st;
    }
    *out = be;
    return SS_OK;
}
