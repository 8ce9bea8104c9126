/* backend_cuda.cu - the CUDA backend: cuDNN for convolutions and pooling,
 * cuBLAS for Gram matrices and the style gradient, kernels/ops.cu for the
 * rest, all on one stream of one device.
 *
 * Every tensor is plain (C, H, W) float32 in device memory and stays there
 * between evaluations: only loss values (a few doubles through a pinned
 * buffer: the terms of one evaluation together, in one synchronisation, in
 * a losses_begin/losses_end batch), tensor reads and writes, and image bytes
 * cross to the host. All device memory is allocated when tensors and layers
 * are made (the cuDNN workspace grows only in conv_new); nothing is
 * allocated in an evaluation. Each layer passes cuDNN its own workspace
 * size, so a layer's results do not depend on which layers were made
 * before it (or before a resume).
 *
 * Convolution algorithms: at setup, cuDNN's heuristics
 * (cudnnGetConvolution*Algorithm_v7, no timing) rank the algorithms for the
 * layer's shape; those that are deterministic, supported, of the allowed
 * math and within kMaxLayerWorkspace are trial-run once in that order (the
 * forward fused with bias and ReLU where cuDNN accepts it), and the first
 * that works is kept; the implicit GEMMs (forward) and ALGO_1 (backward
 * data) close the list. None working is an error naming the layer and its
 * shape. Never CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 (it adds with atomics).
 * The heuristics depend on the shape, the GPU and the cuDNN version only:
 * every process on one GPU chooses alike. layer_describe says the choice.
 * STYLESWEEP_CUDA_ALGOS=gemm keeps to the fixed ones.
 *
 * Deterministic on one GPU: the algorithms above, max pooling
 * CUDNN_POOLING_MAX_DETERMINISTIC, ops.cu's fixed-order reductions.
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

const int kSums = 64; /* one evaluation of VGG: 5 style layers x up to 8 targets, content, TV */
const size_t kMaxLayerWorkspace = (size_t)256 << 20; /* per layer: larger algorithms are passed over */

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
    int batching;      /* 1 between losses_begin and losses_end */
    int n_used;        /* sums slots taken by the batch */
    int n_owed;        /* entries of owed */
    struct {
        double *dst; /* the caller's double: scale * sums[slot] at the batch's end */
        double scale;
        int slot;
    } owed[kSums]; /* at most one per slot */
    int n_conv;    /* convolution layers made (for messages: "convolution 3") */
    float *dmat;   /* style: the derivative D (c x c) */
    size_t dmat_size;
    unsigned char *px; /* image bytes for pre- and de-processing */
    size_t px_size;
};

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

/* Waits for the stream and copies the first n reduced sums to sums_host. */
static ss_status fetch_sums(ss_backend *be, int n) {
    cuda_ctx *c = ctx_of(be);
    CUDA_CHECK(be,
               cudaMemcpyAsync(c->sums_host, c->sums, (size_t)n * sizeof(double), cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
    return SS_OK;
}

/* Writes every owed value of the batch (one read-back) and frees its slots. */
static ss_status batch_flush(ss_backend *be) {
    cuda_ctx *c = ctx_of(be);
    if (c->n_used > 0) SS_TRY(fetch_sums(be, c->n_used));
    for (int i = 0; i < c->n_owed; i++) *c->owed[i].dst = c->owed[i].scale * c->sums_host[c->owed[i].slot];
    c->n_used = 0;
    c->n_owed = 0;
    return SS_OK;
}

/* *slot = the first of n sums slots for the reductions of one loss call:
 * the batch's next free ones (flushing a full batch first), or 0 outside a
 * batch. */
static ss_status sums_take(ss_backend *be, int *slot, int n) {
    cuda_ctx *c = ctx_of(be);
    *slot = 0;
    if (!c->batching) return SS_OK;
    if (c->n_used + n > kSums) SS_TRY(batch_flush(be));
    *slot = c->n_used;
    c->n_used += n;
    return SS_OK;
}

/* dst[i] = scales[i] * sums[slot + i], i < n: now (one synchronisation)
 * outside a batch, at the batch's end inside one. */
static ss_status sums_settle(ss_backend *be, double *dst, const double *scales, int slot, int n) {
    cuda_ctx *c = ctx_of(be);
    if (c->batching) {
        for (int i = 0; i < n; i++) {
            c->owed[c->n_owed].dst = dst + i;
            c->owed[c->n_owed].scale = scales[i];
            c->owed[c->n_owed].slot = slot + i;
            c->n_owed++;
        }
        return SS_OK;
    }
    SS_TRY(fetch_sums(be, slot + n));
    for (int i = 0; i < n; i++) dst[i] = scales[i] * c->sums_host[slot + i];
    return SS_OK;
}

static ss_status cuda_losses_begin(ss_backend *be) {
    cuda_ctx *c = ctx_of(be);
    c->n_used = 0; /* a batch a failure left open is dropped: its pointers may be gone */
    c->n_owed = 0;
    c->batching = 1;
    return SS_OK;
}

static ss_status cuda_losses_end(ss_backend *be) {
    cuda_ctx *c = ctx_of(be);
    ss_status st = batch_flush(be);
    c->batching = 0;
    c->n_used = 0;
    c->n_owed = 0;
    return st;
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
    int fused;       /* 1: cudnnConvolutionBiasActivationForward works for this shape */
    size_t fwd_ws;   /* the workspace the forward algorithm needs */
    size_t ws_bytes; /* this layer's own workspace size, passed to every call (fwd and bwd data) */
    int number;      /* the n-th convolution this backend made (messages) */
    int cin, cout, h, w;
    float *w_dev, *b;
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
    cudaFree(l->w_dev);
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

/* The forward convolution with bias and ReLU: fused, or three calls. */
static cudnnStatus_t conv_call(cuda_ctx *c, const ss_layer *l, float *out, const float *in) {
    if (l->fused)
        return cudnnConvolutionBiasActivationForward(c->dnn, &kOne, l->x_desc, in, l->w_desc, l->w_dev, l->conv,
                                                     l->fwd_algo, c->ws, l->ws_bytes, &kZero, l->y_desc, out,
                                                     l->bias_desc, l->b, l->act, l->y_desc, out);
    cudnnStatus_t s = cudnnConvolutionForward(c->dnn, &kOne, l->x_desc, in, l->w_desc, l->w_dev, l->conv, l->fwd_algo,
                                              c->ws, l->ws_bytes, &kZero, l->y_desc, out);
    if (s == CUDNN_STATUS_SUCCESS) s = cudnnAddTensor(c->dnn, &kOne, l->bias_desc, l->b, &kOne, l->y_desc, out);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnActivationForward(c->dnn, l->act, &kOne, l->y_desc, out, &kZero, l->y_desc, out);
    return s;
}

static ss_status conv_run(ss_backend *be, ss_layer *l, float *out, const float *in) {
    CUDNN_CHECK(be, conv_call(ctx_of(be), l, out, in));
    return SS_OK;
}

static const char *fwd_name(cudnnConvolutionFwdAlgo_t a) {
    switch (a) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "WINOGRAD_NONFUSED";
    default: return "?";
    }
}

static const char *bwd_name(cudnnConvolutionBwdDataAlgo_t a) {
    switch (a) {
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0: return "ALGO_0";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1: return "ALGO_1";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT: return "FFT";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING: return "FFT_TILING";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD: return "WINOGRAD";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED: return "WINOGRAD_NONFUSED";
    default: return "?";
    }
}

/* The candidates of one layer, in order: what the heuristics rank first,
 * deterministic, supported, of the allowed math (TF32 tensor ops only with
 * precision tf32) and within kMaxLayerWorkspace; then the fixed fallbacks
 * not yet listed. */
typedef struct algo_list {
    int algo[24];
    size_t memory[24]; /* the heuristics' workspace estimate, or 0 for a fallback */
    int n;
} algo_list;

/* STYLESWEEP_CUDA_ALGOS=gemm: the fixed algorithms only (the implicit GEMMs
 * forward, ALGO_1 backward data), no heuristics: the device check's
 * fallback when the heuristics' choice is not accurate enough. */
static int fixed_algos_only(void) {
    const char *e = getenv("STYLESWEEP_CUDA_ALGOS");
    return e && !strcmp(e, "gemm");
}

static int math_ok(const ss_backend *be, cudnnMathType_t m) {
    return be->tf32 || m == CUDNN_DEFAULT_MATH || m == CUDNN_FMA_MATH;
}

static void list_add(algo_list *a, int algo, size_t memory) {
    for (int i = 0; i < a->n; i++)
        if (a->algo[i] == algo) return;
    if (a->n < (int)(sizeof a->algo / sizeof a->algo[0])) {
        a->algo[a->n] = algo;
        a->memory[a->n++] = memory;
    }
}

static ss_status fwd_candidates(ss_backend *be, ss_layer *l, algo_list *a) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int n = 0;
    a->n = 0;
    if (!fixed_algos_only())
        CUDNN_CHECK(be, cudnnGetConvolutionForwardAlgorithm_v7(ctx_of(be)->dnn, l->x_desc, l->w_desc, l->conv,
                                                               l->y_desc, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf));
    for (int i = 0; i < n && i < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
            math_ok(be, perf[i].mathType) && perf[i].memory <= kMaxLayerWorkspace)
            list_add(a, perf[i].algo, perf[i].memory);
    list_add(a, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, 0);
    list_add(a, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, 0);
    return SS_OK;
}

static ss_status bwd_candidates(ss_backend *be, ss_layer *l, algo_list *a) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int n = 0;
    a->n = 0;
    if (!fixed_algos_only())
        CUDNN_CHECK(be, cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx_of(be)->dnn, l->w_desc, l->y_desc, l->conv,
                                                                    l->x_desc, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                    &n, perf));
    for (int i = 0; i < n && i < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
            perf[i].algo != CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 && math_ok(be, perf[i].mathType) &&
            perf[i].memory <= kMaxLayerWorkspace)
            list_add(a, perf[i].algo, perf[i].memory);
    list_add(a, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, 0);
    return SS_OK;
}

/* After a refused trial: the CUDA error it left, cleared; 1 when the
 * context is lost (no more trials make sense). */
static int trial_lost(ss_backend *be) {
    cudaError_t e = cudaStreamSynchronize(ctx_of(be)->stream);
    cudaGetLastError();
    if (is_sticky(e)) be->lost = 1;
    return be->lost;
}

/* "convolution 3 (64 -> 128 channels, 112x112)" */
static void layer_what(const ss_layer *l, char *out, size_t size) {
    snprintf(out, size, "convolution %d (%d -> %d channels, %dx%d)", l->number, l->cin, l->cout, l->w, l->h);
}

/* Tries each forward candidate once (fused, else unfused) on in -> out and
 * keeps the first that runs. */
static ss_status pick_fwd(ss_backend *be, ss_layer *l, float *out, const float *in) {
    cuda_ctx *c = ctx_of(be);
    algo_list a;
    SS_TRY(fwd_candidates(be, l, &a));
    char tried[256] = "";
    cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
    for (int i = 0; i < a.n; i++) {
        l->fwd_algo = (cudnnConvolutionFwdAlgo_t)a.algo[i];
        size_t need = 0;
        last = cudnnGetConvolutionForwardWorkspaceSize(c->dnn, l->x_desc, l->w_desc, l->conv, l->y_desc, l->fwd_algo,
                                                       &need);
        if (last == CUDNN_STATUS_SUCCESS && need <= kMaxLayerWorkspace) {
            SS_TRY(ensure_workspace(be, need)); /* out of memory: an error, not a reason to choose otherwise */
            l->ws_bytes = need;
            l->fused = 1;
            last = conv_call(c, l, out, in);
            if (last != CUDNN_STATUS_SUCCESS) { /* cuDNN fuses bias + ReLU only with some algorithms */
                cudaGetLastError();
                l->fused = 0;
                last = conv_call(c, l, out, in);
            }
            if (last == CUDNN_STATUS_SUCCESS) {
                cudaError_t e = cudaStreamSynchronize(c->stream);
                if (e == cudaSuccess) {
                    l->fwd_ws = need;
                    return SS_OK;
                }
                last = CUDNN_STATUS_EXECUTION_FAILED;
            }
        }
        if (trial_lost(be)) break;
        size_t len = strlen(tried);
        snprintf(tried + len, sizeof tried - len, "%s%s", len ? ", " : "", fwd_name(l->fwd_algo));
    }
    char what[96];
    layer_what(l, what, sizeof what);
    return ss_error(SS_ERR_BACKEND, "cuDNN: no forward algorithm works for %s: tried %s (last: %s) on %s%s", what,
                    tried[0] ? tried : "none", cudnnGetErrorString(last), c->where,
                    be->lost ? "; the device context is lost" : "");
}

/* Tries each backward-data candidate once (dy = out, into a scratch dx)
 * and keeps the first that runs. */
static ss_status pick_bwd(ss_backend *be, ss_layer *l, const float *dy, size_t dx_floats) {
    cuda_ctx *c = ctx_of(be);
    algo_list a;
    SS_TRY(bwd_candidates(be, l, &a));
    void *dx = NULL;
    SS_TRY(dev_alloc(be, &dx, dx_floats * sizeof(float)));
    char tried[256] = "";
    cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
    ss_status st = SS_ERR_BACKEND;
    for (int i = 0; i < a.n && st != SS_OK; i++) {
        l->bwd_algo = (cudnnConvolutionBwdDataAlgo_t)a.algo[i];
        size_t need = 0;
        last = cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, l->w_desc, l->y_desc, l->conv, l->x_desc,
                                                            l->bwd_algo, &need);
        if (last == CUDNN_STATUS_SUCCESS && need <= kMaxLayerWorkspace) {
            size_t ws = need > l->fwd_ws ? need : l->fwd_ws;
            ss_status wst = ensure_workspace(be, ws);
            if (wst != SS_OK) {
                cudaFree(dx);
                return wst;
            }
            last = cudnnConvolutionBackwardData(c->dnn, &kOne, l->w_desc, l->w_dev, l->y_desc, dy, l->conv, l->bwd_algo,
                                                c->ws, ws, &kZero, l->x_desc, dx);
            if (last == CUDNN_STATUS_SUCCESS && cudaStreamSynchronize(c->stream) == cudaSuccess) {
                l->ws_bytes = ws;
                st = SS_OK;
                break;
            }
            if (last == CUDNN_STATUS_SUCCESS) last = CUDNN_STATUS_EXECUTION_FAILED;
        }
        if (trial_lost(be)) break;
        size_t len = strlen(tried);
        snprintf(tried + len, sizeof tried - len, "%s%s", len ? ", " : "", bwd_name(l->bwd_algo));
    }
    cudaFree(dx);
    if (st == SS_OK) return SS_OK;
    char what[96];
    layer_what(l, what, sizeof what);
    return ss_error(SS_ERR_BACKEND,
                    "cuDNN: no deterministic backward-data algorithm works for %s: tried %s (last: %s) on %s%s", what,
                    tried[0] ? tried : "none", cudnnGetErrorString(last), c->where,
                    be->lost ? "; the device context is lost" : "");
}

static ss_status conv_build(ss_backend *be, ss_layer *l, ss_tensor **out, const ss_tensor *in, int cout,
                            const float *weight, const float *bias) {
    cuda_ctx *c = ctx_of(be);
    int cin = in->c, h = in->h, w = in->w;
    l->number = ++c->n_conv;
    l->cin = cin;
    l->cout = cout;
    l->h = h;
    l->w = w;
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

    size_t nw = (size_t)cout * cin * 9;
    SS_TRY(dev_alloc(be, (void **)&l->w_dev, nw * sizeof(float)));
    SS_TRY(dev_alloc(be, (void **)&l->b, (size_t)cout * sizeof(float)));
    CUDA_CHECK(be, cudaMemcpyAsync(l->w_dev, weight, nw * sizeof(float), cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(be, cudaMemcpyAsync(l->b, bias, (size_t)cout * sizeof(float), cudaMemcpyHostToDevice, c->stream));
    SS_TRY(cuda_tensor_new(be, out, cout, h, w));
    CUDA_CHECK(be, cudaStreamSynchronize(c->stream));
    /* the algorithms: each candidate trial-run once, the first that works kept */
    SS_TRY(pick_fwd(be, l, (*out)->data, in->data));
    SS_TRY(pick_bwd(be, l, (*out)->data, in->size));
    return SS_OK;
}

static ss_status cuda_layer_describe(ss_backend *be, char *out, size_t size, const ss_layer *l) {
    (void)be;
    if (!l->is_conv) {
        snprintf(out, size, "pooling");
        return SS_OK;
    }
    snprintf(out, size, "fwd %s%s, bwd-data %s, workspace %.2f MiB", fwd_name(l->fwd_algo),
             l->fused ? " fused" : " + bias + relu", bwd_name(l->bwd_algo), (double)l->ws_bytes / (1024.0 * 1024.0));
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
    CUDNN_CHECK(be, cudnnConvolutionBackwardData(c->dnn, &kOne, l->w_desc, l->w_dev, l->y_desc, dpre->data, l->conv,
                                                 l->bwd_algo, c->ws, l->ws_bytes, &kZero, l->x_desc, din->data));
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
    int slot;
    SS_TRY(sums_take(be, &slot, n));
    SS_TRY(gram_into(be, g->data, f));
    ss_k_targets t;
    memset(&t, 0, sizeof t);
    t.n = n;
    for (int s = 0; s < n; s++) {
        t.t[s] = targets[s]->data;
        t.scale[s] = scales[s];
        CUDA_CHECK(be, ss_k_sqdiff(c->stream, c->partials, g->data, targets[s]->data, cc));
        CUDA_CHECK(be, ss_k_finish(c->stream, c->sums + slot + s, c->partials));
    }
    CUDA_CHECK(be, ss_k_style_d(c->stream, c->dmat, g->data, t, cc));
    /* df (row-major c x hw) += D F: column-major, df^T (hw x c) += F^T D^T, and D is symmetric */
    CUBLAS_CHECK(be, cublasSgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, hw, ch, ch, &kOne, f->data, hw, c->dmat, ch, &kOne,
                                 df->data, hw));
    return sums_settle(be, losses, scales, slot, n);
}

static ss_status cuda_content_grad(ss_backend *be, double *loss, ss_tensor *df, const ss_tensor *f, const ss_tensor *p,
                                   double scale) {
    cuda_ctx *c = ctx_of(be);
    int slot;
    SS_TRY(sums_take(be, &slot, 1));
    CUDA_CHECK(be, ss_k_content(c->stream, c->partials, df->data, f->data, p->data, (float)(2.0 * scale), f->size));
    CUDA_CHECK(be, ss_k_finish(c->stream, c->sums + slot, c->partials));
    return sums_settle(be, loss, &scale, slot, 1);
}

static ss_status cuda_tv_grad(ss_backend *be, double *loss, ss_tensor *dx, const ss_tensor *x, double scale,
                              double power) {
    cuda_ctx *c = ctx_of(be);
    int slot;
    SS_TRY(sums_take(be, &slot, 1));
    CUDA_CHECK(be, ss_k_tv(c->stream, c->partials, dx->data, x->data, x->c, x->h, x->w, scale, power));
    CUDA_CHECK(be, ss_k_finish(c->stream, c->sums + slot, c->partials));
    return sums_settle(be, loss, &scale, slot, 1);
}

/* ---- vector operations ---- */

static ss_status cuda_vec_dot(ss_backend *be, double *out, const ss_tensor *a, const ss_tensor *b) {
    cuda_ctx *c = ctx_of(be);
    int slot; /* a batch's slot when one is open (its owed values stay on the device) */
    SS_TRY(sums_take(be, &slot, 1));
    CUDA_CHECK(be, ss_k_dot(c->stream, c->partials, a->data, b->data, a->size));
    CUDA_CHECK(be, ss_k_finish(c->stream, c->sums + slot, c->partials));
    SS_TRY(fetch_sums(be, slot + 1));
    *out = c->sums_host[slot];
    return SS_OK;
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

static ss_status cuda_vec_mul(ss_backend *be, ss_tensor *x, const ss_tensor *m) {
    CUDA_CHECK(be, ss_k_mul(ctx_of(be)->stream, x->data, m->data, x->size));
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
    cuda_vec_mul,
    cuda_adam_step,
    cuda_set_precision,
    cuda_preprocess,
    cuda_deprocess,
    cuda_layer_describe,
    cuda_losses_begin,
    cuda_losses_end,
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
    snprintf(be->device, sizeof be->device, "%.100s (GPU-%s)", prop.name, uuid);
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
    /* the runtime versions loaded (not those compiled against): "NAME (GPU-UUID; cuDNN 9.10.2, cuBLAS 13.1.0)" */
    int blas_v = 0;
    CUBLAS_CHECK(be, cublasGetVersion(c->blas, &blas_v));
    size_t dnn_v = cudnnGetVersion();
    snprintf(be->device, sizeof be->device, "%.100s (GPU-%s; cuDNN %d.%d.%d, cuBLAS %d.%d.%d)", prop.name, uuid,
             (int)(dnn_v / 10000), (int)(dnn_v % 10000 / 100), (int)(dnn_v % 100), blas_v / 10000, blas_v % 10000 / 100,
             blas_v % 100);
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
