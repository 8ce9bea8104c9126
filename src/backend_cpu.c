/* backend_cpu.c - the CPU backend: oneDNN for convolution and pooling,
 * OpenBLAS for Gram matrices, OpenMP loops for the rest; where oneDNN has
 * no Winograd convolution (AVX2 CPUs), our own (backend_cpu_winograd.c).
 *
 * Activations stay in the layout oneDNN's convolutions prefer (aBcd16b with
 * AVX-512) from layer to layer; weights are reordered once per layer, bias
 * and ReLU are fused into the convolution, and all memory is allocated when a
 * layer is made, so an evaluation pays little beyond the convolutions. Only
 * the style layers are reordered to the plain layout, for the Gram matrix.
 * The element-wise formulas are elementwise.h's, shared with the CUDA
 * kernels; the ss_be_* wrappers (backend.c) have checked every argument. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_cpu_winograd.h"
#include "check.h"
#include "elementwise.h"

extern void openblas_set_num_threads(int num_threads);

/* A tensor's private part: its oneDNN memory descriptor and memory object. */
typedef struct cpu_tensor {
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
} cpu_tensor;

enum { CPU_REORDER_CACHE = 64 };

/* A cached reorder primitive between two descriptors (with or without dst += ). */
typedef struct cpu_reorder {
    dnnl_memory_desc_t src, dst;
    int accumulate;
    dnnl_primitive_t prim;
} cpu_reorder;

/* STYLESWEEP_CONV: how the convolutions are chosen (cpu_conv_new). */
typedef enum cpu_conv_mode { CONV_AUTO = 0, CONV_DIRECT = 1, CONV_WINOGRAD = 2 } cpu_conv_mode;

/* Our Winograd convolution pays (auto) from this many input channels and
 * this many 4x4 output tiles up (PERFORMANCE.md, emulated AVX2): with fewer
 * tiles its products cannot amortise reading the transformed filters, four
 * times the size of the filters, on every call (512 -> 512 channels at 8x8
 * pixels is slower than direct, at 14x14 faster). */
enum { WG_MIN_CIN = 16, WG_MIN_TILES = 16 };

typedef struct cpu_ctx {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    cpu_reorder reorders[CPU_REORDER_CACHE];
    int n_reorders;
    cpu_conv_mode conv_mode;
    int wg_vec;        /* lanes of our Winograd kernels for oneDNN's ISA (8, 16), 0: none */
    float *wg_scratch; /* their scratch, shared by all layers */
    size_t wg_scratch_size;
    float *scratch[2]; /* plain copies of F and of the style gradient */
    size_t scratch_size[2];
    double *tv_cells; /* total variation: rows of cell factors per thread (elementwise.h) */
    size_t tv_cells_size;
} cpu_ctx;

struct ss_layer {
    int is_conv;
    char algo[128]; /* the convolution's algorithm, for layer_describe */
    /* our Winograd convolution; wg_in: the input (and its gradient) in the
     * blocked layout when the input tensor has another */
    ss_wino *wg;
    float *wg_in;
    dnnl_memory_desc_t wg_in_md;
    dnnl_primitive_t fwd, bwd;
    dnnl_memory_t w_fwd, w_bwd, bias, workspace;
    float *w_fwd_data, *w_bwd_data, *bias_data, *ws_data;
    /* backward-data into a layout other than the input's (the first layer's
     * plain 3-channel input has no fast kernel): computed here, then reordered */
    dnnl_memory_t bwd_diff_src;
    dnnl_memory_desc_t bwd_diff_src_md;
    float *bwd_diff_src_data;
};

static cpu_ctx *ctx_of(ss_backend *be) { return (cpu_ctx *)be->ctx; }
static cpu_tensor *priv_of(const ss_tensor *t) { return (cpu_tensor *)t->priv; }

static void *alloc_aligned(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, rounded ? rounded : 64);
}

int ss_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    return 1;
}

/* ---- tensors ---- */

static ss_status tensor_from_md(ss_backend *be, ss_tensor **out, const dnnl_memory_desc_t *md) {
    ss_tensor *t = calloc(1, sizeof *t);
    cpu_tensor *p = calloc(1, sizeof *p);
    ss_status rs;
    if (!t || !p) {
        rs = ss_error(SS_ERR_NOMEM, "out of memory for a tensor");
        goto fail;
    }
    p->md = *md;
    t->priv = p;
    t->c = (int)md->dims[1];
    t->h = (int)md->dims[2];
    t->w = (int)md->dims[3];
    size_t bytes = dnnl_memory_desc_get_size(md);
    t->size = bytes / sizeof(float);
    t->data = alloc_aligned(bytes);
    if (!t->data) {
        rs = ss_error(SS_ERR_NOMEM, "out of memory for a tensor of %zu bytes", bytes);
        goto fail;
    }
    memset(t->data, 0, bytes);
    dnnl_memory_desc_t plain;
    dnnl_dims_t dims = {1, t->c, t->h, t->w};
    DNNL_CHECK_GOTO(rs, dnnl_memory_desc_init_by_tag(&plain, 4, dims, dnnl_f32, dnnl_nchw), fail);
    t->plain = dnnl_memory_desc_equal(&plain, md);
    DNNL_CHECK_GOTO(rs, dnnl_memory_create(&p->mem, md, ctx_of(be)->engine, t->data), fail);
    *out = t;
    return SS_OK;
fail:
    if (t) free(t->data);
    free(p);
    free(t);
    return rs;
}

static ss_status cpu_tensor_new(ss_backend *be, ss_tensor **out, int c, int h, int w) {
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {1, c, h, w};
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&md, 4, dims, dnnl_f32, dnnl_nchw));
    return tensor_from_md(be, out, &md);
}

static ss_status cpu_tensor_new_like(ss_backend *be, ss_tensor **out, const ss_tensor *like) {
    return tensor_from_md(be, out, &priv_of(like)->md);
}

static void cpu_tensor_free(ss_backend *be, ss_tensor *t) {
    (void)be;
    if (!t) return;
    cpu_tensor *p = priv_of(t);
    if (p) {
        dnnl_memory_destroy(p->mem);
        free(p);
    }
    free(t->data);
    free(t);
}

/* Finds or makes the reorder src -> dst (dst += src when accumulate). */
static ss_status get_reorder(cpu_ctx *c, dnnl_primitive_t *out, const dnnl_memory_desc_t *src,
                             const dnnl_memory_desc_t *dst, int accumulate) {
    for (int i = 0; i < c->n_reorders; i++) {
        cpu_reorder *r = &c->reorders[i];
        if (r->accumulate == accumulate && dnnl_memory_desc_equal(&r->src, src) &&
            dnnl_memory_desc_equal(&r->dst, dst)) {
            *out = r->prim;
            return SS_OK;
        }
    }
    ss_status rs = SS_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    DNNL_CHECK_GOTO(rs, dnnl_primitive_attr_create(&attr), done);
    if (accumulate) {
        DNNL_CHECK_GOTO(rs, dnnl_post_ops_create(&po), done);
        DNNL_CHECK_GOTO(rs, dnnl_post_ops_append_sum(po, 1.0f), done);
        DNNL_CHECK_GOTO(rs, dnnl_primitive_attr_set_post_ops(attr, po), done);
    }
    DNNL_CHECK_GOTO(rs, dnnl_reorder_primitive_desc_create(&pd, src, c->engine, dst, c->engine, attr), done);
    DNNL_CHECK_GOTO(rs, dnnl_primitive_create(&prim, pd), done);
    if (c->n_reorders == CPU_REORDER_CACHE) { /* full: drop the oldest */
        dnnl_primitive_destroy(c->reorders[0].prim);
        memmove(&c->reorders[0], &c->reorders[1], sizeof c->reorders[0] * (CPU_REORDER_CACHE - 1));
        c->n_reorders--;
    }
    c->reorders[c->n_reorders++] = (cpu_reorder){*src, *dst, accumulate, prim};
    *out = prim;
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rs;
}

/* dst (descriptor dmd, pointer dptr) = or += src (smd, sptr). */
static ss_status run_reorder(ss_backend *be, const dnnl_memory_desc_t *smd, const float *sptr,
                             const dnnl_memory_desc_t *dmd, float *dptr, int accumulate) {
    cpu_ctx *c = ctx_of(be);
    dnnl_primitive_t prim;
    SS_TRY(get_reorder(c, &prim, smd, dmd, accumulate));
    ss_status rs = SS_OK;
    dnnl_memory_t sm = NULL, dm = NULL;
    DNNL_CHECK_GOTO(rs, dnnl_memory_create(&sm, smd, c->engine, (void *)sptr), done);
    DNNL_CHECK_GOTO(rs, dnnl_memory_create(&dm, dmd, c->engine, dptr), done);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, sm}, {DNNL_ARG_TO, dm}};
    DNNL_CHECK_GOTO(rs, dnnl_primitive_execute(prim, c->stream, 2, args), done);
    DNNL_CHECK_GOTO(rs, dnnl_stream_wait(c->stream), done);
done:
    if (sm) dnnl_memory_destroy(sm);
    if (dm) dnnl_memory_destroy(dm);
    return rs;
}

static void plain_md(dnnl_memory_desc_t *md, int c, int h, int w) {
    dnnl_dims_t dims = {1, c, h, w};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nchw);
}

static ss_status cpu_tensor_write(ss_backend *be, ss_tensor *dst, const float *host) {
    if (dst->plain) {
        memcpy(dst->data, host, sizeof(float) * dst->size);
        return SS_OK;
    }
    dnnl_memory_desc_t md;
    plain_md(&md, dst->c, dst->h, dst->w);
    return run_reorder(be, &md, host, &priv_of(dst)->md, dst->data, 0);
}

static ss_status cpu_tensor_read(ss_backend *be, float *host, const ss_tensor *src) {
    if (src->plain) {
        memcpy(host, src->data, sizeof(float) * src->size);
        return SS_OK;
    }
    dnnl_memory_desc_t md;
    plain_md(&md, src->c, src->h, src->w);
    return run_reorder(be, &priv_of(src)->md, src->data, &md, host, 0);
}

/* ---- layers ---- */

static void cpu_layer_free(ss_backend *be, ss_layer *l) {
    (void)be;
    if (!l) return;
    dnnl_primitive_destroy(l->fwd);
    dnnl_primitive_destroy(l->bwd);
    dnnl_memory_destroy(l->w_fwd);
    dnnl_memory_destroy(l->w_bwd);
    dnnl_memory_destroy(l->bias);
    dnnl_memory_destroy(l->workspace);
    dnnl_memory_destroy(l->bwd_diff_src);
    free(l->bwd_diff_src_data);
    free(l->w_fwd_data);
    free(l->w_bwd_data);
    free(l->bias_data);
    free(l->ws_data);
    ss_wino_free(l->wg);
    free(l->wg_in);
    free(l);
}

/* Makes memory for descriptor md, filled from the plain host array src (tag). */
static ss_status make_filled_memory(ss_backend *be, dnnl_memory_t *mem, float **data, const dnnl_memory_desc_t *md,
                                    const float *src, const dnnl_memory_desc_t *src_md) {
    size_t bytes = dnnl_memory_desc_get_size(md);
    *data = alloc_aligned(bytes);
    SS_ALLOC_CHECK(*data);
    memset(*data, 0, bytes);
    SS_TRY(run_reorder(be, src_md, src, md, *data, 0));
    DNNL_CHECK(dnnl_memory_create(mem, md, ctx_of(be)->engine, *data));
    return SS_OK;
}

/* Names oneDNN's implementations of the layer's primitives in l->algo. */
static void describe_onednn(ss_layer *l, const_dnnl_primitive_desc_t fpd, const_dnnl_primitive_desc_t bpd) {
    const char *f = "?", *b = "?";
    dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &f);
    dnnl_primitive_desc_query(bpd, dnnl_query_impl_info_str, 0, &b);
    if (strcmp(f, b) == 0) snprintf(l->algo, sizeof l->algo, "oneDNN %s", f);
    else snprintf(l->algo, sizeof l->algo, "oneDNN %s, backward %s", f, b);
}

/* oneDNN's convolution: Winograd first when winograd (where oneDNN has it:
 * AVX-512, not the 3-channel first layer), else or then direct. */
static ss_status conv_build(ss_backend *be, ss_layer *l, ss_tensor **out, const ss_tensor *in, int cout,
                            const float *weight, const float *bias, int winograd) {
    cpu_ctx *c = ctx_of(be);
    int cin = in->c, h = in->h, w = in->w;
    dnnl_memory_desc_t w_any, b_md, dst_any, w_user, diff_src_any;
    dnnl_dims_t wd = {cout, cin, 3, 3}, bd = {cout}, dd = {1, cout, h, w}, sd = {1, cin, h, w};
    dnnl_dims_t strides = {1, 1}, pad = {1, 1};
    const dnnl_memory_desc_t *src_md = &priv_of(in)->md;
    dnnl_convolution_desc_t fd, bdsc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    ss_status rs = SS_OK;
    dnnl_status_t st = dnnl_unimplemented;
    DNNL_CHECK_GOTO(rs, dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any), done);
    DNNL_CHECK_GOTO(rs, dnnl_memory_desc_init_by_tag(&w_user, 4, wd, dnnl_f32, dnnl_oihw), done);
    DNNL_CHECK_GOTO(rs, dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_x), done);
    DNNL_CHECK_GOTO(rs, dnnl_memory_desc_init_by_tag(&dst_any, 4, dd, dnnl_f32, dnnl_format_tag_any), done);
    DNNL_CHECK_GOTO(rs, dnnl_memory_desc_init_by_tag(&diff_src_any, 4, sd, dnnl_f32, dnnl_format_tag_any), done);
    DNNL_CHECK_GOTO(rs, dnnl_primitive_attr_create(&attr), done);
    DNNL_CHECK_GOTO(rs, dnnl_post_ops_create(&po), done);
    DNNL_CHECK_GOTO(rs, dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f), done);
    DNNL_CHECK_GOTO(rs, dnnl_primitive_attr_set_post_ops(attr, po), done);
    dnnl_alg_kind_t algs[2] = {winograd ? dnnl_convolution_winograd : dnnl_convolution_direct, dnnl_convolution_direct};
    for (int a = 0; a < 2 && st != dnnl_success; a++) {
        st = dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, algs[a], src_md, &w_any, &b_md, &dst_any,
                                                strides, pad, pad);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&fpd, &fd, attr, c->engine, NULL);
    }
    if (st != dnnl_success) goto no_conv;

    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *wf_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    SS_TRY_GOTO(rs, tensor_from_md(be, out, dst_md), done);
    SS_TRY_GOTO(rs, make_filled_memory(be, &l->w_fwd, &l->w_fwd_data, wf_md, weight, &w_user), done);
    SS_TRY_GOTO(rs, make_filled_memory(be, &l->bias, &l->bias_data, &b_md, bias, &b_md), done);
    DNNL_CHECK_GOTO(rs, dnnl_primitive_create(&l->fwd, fpd), done);

    /* backward-data with the forward's own activation layouts; a plain input
     * (the image) lets oneDNN choose its gradient's layout, reordered after */
    st = dnnl_unimplemented;
    for (int a = 0; a < 2 && st != dnnl_success; a++) {
        st = dnnl_convolution_backward_data_desc_init(&bdsc, algs[a], in->plain ? &diff_src_any : src_md, &w_any,
                                                      dst_md, strides, pad, pad);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&bpd, &bdsc, NULL, c->engine, fpd);
    }
    if (st != dnnl_success) goto no_conv;
    const dnnl_memory_desc_t *wb_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *ds_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0);
    if (!dnnl_memory_desc_equal(ds_md, src_md)) {
        size_t bytes = dnnl_memory_desc_get_size(ds_md);
        l->bwd_diff_src_md = *ds_md;
        l->bwd_diff_src_data = alloc_aligned(bytes);
        if (!l->bwd_diff_src_data) {
            rs = ss_error(SS_ERR_NOMEM, "out of memory for a convolution gradient");
            goto done;
        }
        DNNL_CHECK_GOTO(rs, dnnl_memory_create(&l->bwd_diff_src, ds_md, c->engine, l->bwd_diff_src_data), done);
    }
    SS_TRY_GOTO(rs, make_filled_memory(be, &l->w_bwd, &l->w_bwd_data, wb_md, weight, &w_user), done);
    DNNL_CHECK_GOTO(rs, dnnl_primitive_create(&l->bwd, bpd), done);
    describe_onednn(l, fpd, bpd);
    goto done;
no_conv:
    rs = ss_error(SS_ERR_BACKEND, "oneDNN: cannot make a %dx%d convolution %d -> %d channels (%s)", h, w, cin, cout,
                  dnnl_status2str(st));
done:
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    return rs;
}

/* Our Winograd convolution: output and input (when its layout differs, a
 * copy) in the blocked layout of c->wg_vec lanes. */
static ss_status wg_build(ss_backend *be, ss_layer *l, ss_tensor **out, const ss_tensor *in, int cout,
                          const float *weight, const float *bias) {
    cpu_ctx *c = ctx_of(be);
    dnnl_format_tag_t tag = c->wg_vec == 16 ? dnnl_nChw16c : dnnl_nChw8c;
    dnnl_dims_t od = {1, cout, in->h, in->w}, id = {1, in->c, in->h, in->w};
    dnnl_memory_desc_t omd;
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&omd, 4, od, dnnl_f32, tag));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&l->wg_in_md, 4, id, dnnl_f32, tag));
    SS_TRY(ss_wino_new(&l->wg, in->c, cout, in->h, in->w, c->wg_vec, be->threads, weight, bias));
    SS_TRY(tensor_from_md(be, out, &omd));
    if (!dnnl_memory_desc_equal(&l->wg_in_md, &priv_of(in)->md)) {
        size_t bytes = dnnl_memory_desc_get_size(&l->wg_in_md);
        l->wg_in = alloc_aligned(bytes);
        SS_ALLOC_CHECK(l->wg_in);
        memset(l->wg_in, 0, bytes);
    }
    size_t need = ss_wino_scratch_floats(l->wg);
    if (c->wg_scratch_size < need) {
        free(c->wg_scratch);
        c->wg_scratch = alloc_aligned(need * sizeof(float));
        c->wg_scratch_size = c->wg_scratch ? need : 0;
        SS_ALLOC_CHECK(c->wg_scratch);
    }
    snprintf(l->algo, sizeof l->algo, "stylesweep winograd F(4x4,3x3) %s", c->wg_vec == 16 ? "avx512" : "avx2");
    return SS_OK;
}

/* *layer: a convolution layer, ours (mine) or oneDNN's (Winograd first when
 * onednn_winograd); *out is NULL on failure. */
static ss_status conv_layer_new(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in, int cout,
                                const float *weight, const float *bias, int mine, int onednn_winograd) {
    ss_layer *l = calloc(1, sizeof *l);
    SS_ALLOC_CHECK(l);
    l->is_conv = 1;
    *out = NULL;
    ss_status st = mine ? wg_build(be, l, out, in, cout, weight, bias)
                        : conv_build(be, l, out, in, cout, weight, bias, onednn_winograd);
    if (st != SS_OK) {
        cpu_layer_free(be, l);
        cpu_tensor_free(be, *out);
        *out = NULL;
        return st;
    }
    *layer = l;
    return SS_OK;
}

/* STYLESWEEP_CONV: direct: oneDNN's direct convolutions; winograd: ours
 * wherever its kernels run (oneDNN's ISA is AVX2 or AVX-512); auto: oneDNN's
 * Winograd where it has one, else ours where it pays (WG_MIN_CIN input
 * channels, WG_MIN_TILES tiles), else oneDNN's direct one. */
static ss_status cpu_conv_new(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in, int cout,
                              const float *weight, const float *bias) {
    cpu_ctx *c = ctx_of(be);
    if (c->wg_vec && c->conv_mode == CONV_WINOGRAD) return conv_layer_new(be, layer, out, in, cout, weight, bias, 1, 0);
    int auto_mode = c->conv_mode != CONV_DIRECT;
    SS_TRY(conv_layer_new(be, layer, out, in, cout, weight, bias, 0, auto_mode));
    int tiles = ((in->h + 3) / 4) * ((in->w + 3) / 4);
    if (!auto_mode || !c->wg_vec || strstr((*layer)->algo, "wino") || in->c < WG_MIN_CIN || tiles < WG_MIN_TILES)
        return SS_OK;
    cpu_layer_free(be, *layer);
    cpu_tensor_free(be, *out);
    *layer = NULL;
    return conv_layer_new(be, layer, out, in, cout, weight, bias, 1, 0);
}

static ss_status cpu_layer_describe(ss_backend *be, char *text, size_t n, const ss_layer *l) {
    (void)be;
    snprintf(text, n, "%s", l->is_conv ? l->algo : "oneDNN pooling");
    return SS_OK;
}

static ss_status execute(ss_backend *be, dnnl_primitive_t prim, int n, dnnl_exec_arg_t *args) {
    cpu_ctx *c = ctx_of(be);
    DNNL_CHECK(dnnl_primitive_execute(prim, c->stream, n, args));
    DNNL_CHECK(dnnl_stream_wait(c->stream));
    return SS_OK;
}

static ss_status cpu_conv_forward(ss_backend *be, ss_layer *l, ss_tensor *out, const ss_tensor *in) {
    if (l->wg) {
        const float *src = in->data;
        if (l->wg_in) {
            SS_TRY(run_reorder(be, &priv_of(in)->md, in->data, &l->wg_in_md, l->wg_in, 0));
            src = l->wg_in;
        }
        ss_wino_forward(l->wg, out->data, src, ctx_of(be)->wg_scratch);
        return SS_OK;
    }
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, priv_of(in)->mem},
                               {DNNL_ARG_WEIGHTS, l->w_fwd},
                               {DNNL_ARG_BIAS, l->bias},
                               {DNNL_ARG_DST, priv_of(out)->mem}};
    return execute(be, l->fwd, 4, args);
}

static ss_status cpu_conv_backward_data(ss_backend *be, ss_layer *l, ss_tensor *din, const ss_tensor *dpre) {
    if (l->wg) {
        ss_wino_backward_data(l->wg, l->wg_in ? l->wg_in : din->data, dpre->data, ctx_of(be)->wg_scratch);
        if (l->wg_in) SS_TRY(run_reorder(be, &l->wg_in_md, l->wg_in, &priv_of(din)->md, din->data, 0));
        return SS_OK;
    }
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, priv_of(dpre)->mem},
                               {DNNL_ARG_WEIGHTS, l->w_bwd},
                               {DNNL_ARG_DIFF_SRC, l->bwd_diff_src ? l->bwd_diff_src : priv_of(din)->mem}};
    SS_TRY(execute(be, l->bwd, 3, args));
    if (l->bwd_diff_src)
        SS_TRY(run_reorder(be, &l->bwd_diff_src_md, l->bwd_diff_src_data, &priv_of(din)->md, din->data, 0));
    return SS_OK;
}

/* d = g * (y > 0), AVX-512 or AVX2 where the CPU has them (memory-bound). */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void relu_mask(float *d, const float *g,
                                                                                   const float *y, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) d[i] = ss_ew_relu_backward(g[i], y[i]);
}

static ss_status cpu_relu_backward(ss_backend *be, ss_tensor *dpre, const ss_tensor *dout, const ss_tensor *out) {
    (void)be;
    relu_mask(dpre->data, dout->data, out->data, out->size);
    return SS_OK;
}

static ss_status pool_build(ss_backend *be, ss_layer *l, ss_tensor **out, const ss_tensor *in, ss_pool_kind kind) {
    cpu_ctx *c = ctx_of(be);
    dnnl_alg_kind_t alg = kind == SS_POOL_MAX ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
    dnnl_memory_desc_t dst_any;
    dnnl_dims_t dd = {1, in->c, in->h / 2, in->w / 2};
    dnnl_dims_t strides = {2, 2}, kernel = {2, 2}, pad0 = {0, 0};
    /* odd sizes floor: (H - 2) / 2 + 1 == H / 2 without padding */
    dnnl_dims_t pad_r = {0, 0};
    const dnnl_memory_desc_t *src_md = &priv_of(in)->md;
    dnnl_pooling_desc_t fd, bd;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    ss_status rs = SS_OK;
    DNNL_CHECK_GOTO(rs, dnnl_memory_desc_init_by_tag(&dst_any, 4, dd, dnnl_f32, dnnl_format_tag_any), done);
    DNNL_CHECK_GOTO(
        rs,
        dnnl_pooling_forward_desc_init(&fd, dnnl_forward_training, alg, src_md, &dst_any, strides, kernel, pad0, pad_r),
        done);
    DNNL_CHECK_GOTO(rs, dnnl_primitive_desc_create(&fpd, &fd, NULL, c->engine, NULL), done);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *ws_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    SS_TRY_GOTO(rs, tensor_from_md(be, out, dst_md), done);
    if (ws_md && dnnl_memory_desc_get_size(ws_md) > 0) {
        size_t bytes = dnnl_memory_desc_get_size(ws_md);
        l->ws_data = alloc_aligned(bytes);
        if (!l->ws_data) {
            rs = ss_error(SS_ERR_NOMEM, "out of memory for a pooling workspace");
            goto done;
        }
        DNNL_CHECK_GOTO(rs, dnnl_memory_create(&l->workspace, ws_md, c->engine, l->ws_data), done);
    }
    DNNL_CHECK_GOTO(rs, dnnl_primitive_create(&l->fwd, fpd), done);
    DNNL_CHECK_GOTO(rs, dnnl_pooling_backward_desc_init(&bd, alg, src_md, dst_md, strides, kernel, pad0, pad_r), done);
    DNNL_CHECK_GOTO(rs, dnnl_primitive_desc_create(&bpd, &bd, NULL, c->engine, fpd), done);
    DNNL_CHECK_GOTO(rs, dnnl_primitive_create(&l->bwd, bpd), done);
done:
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    return rs;
}

static ss_status cpu_pool_new(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in,
                              ss_pool_kind kind) {
    ss_layer *l = calloc(1, sizeof *l);
    SS_ALLOC_CHECK(l);
    *out = NULL;
    ss_status st = pool_build(be, l, out, in, kind);
    if (st != SS_OK) {
        cpu_layer_free(be, l);
        cpu_tensor_free(be, *out);
        *out = NULL;
        return st;
    }
    *layer = l;
    return SS_OK;
}

static ss_status cpu_pool_forward(ss_backend *be, ss_layer *l, ss_tensor *out, const ss_tensor *in) {
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, priv_of(in)->mem}, {DNNL_ARG_DST, priv_of(out)->mem}, {DNNL_ARG_WORKSPACE, l->workspace}};
    return execute(be, l->fwd, l->workspace ? 3 : 2, args);
}

static ss_status cpu_pool_backward(ss_backend *be, ss_layer *l, ss_tensor *din, const ss_tensor *dout) {
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, priv_of(dout)->mem},
                               {DNNL_ARG_DIFF_SRC, priv_of(din)->mem},
                               {DNNL_ARG_WORKSPACE, l->workspace}};
    return execute(be, l->bwd, l->workspace ? 3 : 2, args);
}

/* ---- loss terms ---- */

static ss_status scratch(cpu_ctx *c, int i, size_t n, float **out) {
    if (c->scratch_size[i] < n) {
        free(c->scratch[i]);
        c->scratch[i] = alloc_aligned(n * sizeof(float));
        c->scratch_size[i] = c->scratch[i] ? n : 0;
        SS_ALLOC_CHECK(c->scratch[i]);
    }
    *out = c->scratch[i];
    return SS_OK;
}

/* *out points to f as plain (C, H*W): f itself, or a plain copy in scratch 0. */
static ss_status plain_view(ss_backend *be, const float **out, const ss_tensor *f) {
    if (f->plain) {
        *out = f->data;
        return SS_OK;
    }
    float *p = NULL;
    SS_TRY(scratch(ctx_of(be), 0, (size_t)f->c * f->h * f->w, &p));
    SS_TRY(cpu_tensor_read(be, p, f));
    *out = p;
    return SS_OK;
}

/* g = F F^T from the plain (C, HW) array fp. */
static void gram_plain(float *g, const float *fp, int c, int hw) {
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, c, hw, 1.0f, fp, hw, 0.0f, g, c);
    for (int i = 0; i < c; i++)
        for (int j = 0; j < i; j++) g[(size_t)i * c + j] = g[(size_t)j * c + i];
}

static ss_status cpu_gram(ss_backend *be, ss_tensor *g, const ss_tensor *f) {
    const float *fp;
    SS_TRY(plain_view(be, &fp, f));
    gram_plain(g->data, fp, f->c, f->h * f->w);
    return SS_OK;
}

static ss_status cpu_style_grad(ss_backend *be, double *losses, ss_tensor *df, ss_tensor *g, const ss_tensor *f,
                                const ss_tensor *const *targets, const double *scales, int n_targets) {
    cpu_ctx *cx = ctx_of(be);
    int c = f->c, hw = f->h * f->w;
    size_t cc = (size_t)c * c;
    const float *fp;
    SS_TRY(plain_view(be, &fp, f));
    gram_plain(g->data, fp, c, hw);
    float *d, *dplain;
    SS_TRY(scratch(cx, 1, cc + (size_t)c * hw, &d));
    dplain = d + cc;
    /* d = sum_s 4 scale_s (G - G_s), losses[s] = scale_s sum((G - G_s)^2) */
    for (size_t i = 0; i < cc; i++) d[i] = 0.0f;
    for (int s = 0; s < n_targets; s++) {
        const float *gt = targets[s]->data, *gx = g->data;
        double sum = 0.0, sc = scales[s];
#pragma omp parallel for reduction(+ : sum) schedule(static)
        for (size_t i = 0; i < cc; i++) {
            sum += ss_ew_sq_diff(gx[i], gt[i]);
            d[i] = ss_ew_style_d(d[i], gx[i], gt[i], sc);
        }
        losses[s] = sc * sum;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, hw, c, 1.0f, d, c, fp, hw, 0.0f, dplain, hw);
    if (df->plain) {
        float *o = df->data;
        size_t n = (size_t)c * hw;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) o[i] += dplain[i];
        return SS_OK;
    }
    dnnl_memory_desc_t md;
    plain_md(&md, c, f->h, f->w);
    return run_reorder(be, &md, dplain, &priv_of(df)->md, df->data, 1);
}

static ss_status cpu_content_grad(ss_backend *be, double *loss, ss_tensor *df, const ss_tensor *f, const ss_tensor *p,
                                  double scale) {
    (void)be;
    const float *x = f->data, *t = p->data;
    float *o = df->data;
    size_t n = f->size;
    double sum = 0.0;
    float two_s = (float)(2.0 * scale);
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (size_t i = 0; i < n; i++) sum += ss_ew_content(&o[i], x[i], t[i], two_s);
    *loss = scale * sum;
    return SS_OK;
}

/* One row i of cells of channel xc (H x W): ka, kb per column (0 outside
 * the cells); returns the sum of the row's terms (unscaled). */
static double tv_row(double *ka, double *kb, const float *xc, int i, int H, int W, double scale, double power) {
    double v = 0.0;
    const float *r0 = xc + (size_t)i * W, *r1 = r0 + W;
    for (int j = 0; j < W; j++) {
        if (i < H - 1 && j < W - 1) v += ss_ew_tv_cell(&ka[j], &kb[j], r0[j], r1[j], r0[j + 1], scale, power);
        else ka[j] = kb[j] = 0.0;
    }
    return v;
}

enum { TV_ROWS = 16 }; /* rows per block of work */

static ss_status cpu_tv_grad(ss_backend *be, double *loss, ss_tensor *dx, const ss_tensor *x, double scale,
                             double power) {
    cpu_ctx *cx = ctx_of(be);
    int C = x->c, H = x->h, W = x->w, nb = (H + TV_ROWS - 1) / TV_ROWS, nt = omp_get_max_threads();
    size_t need = (size_t)nt * 4 * W; /* per thread: ka of the row above, ka and kb of the row, a spare */
    if (cx->tv_cells_size < need) {
        free(cx->tv_cells);
        cx->tv_cells = alloc_aligned(need * sizeof(double));
        cx->tv_cells_size = cx->tv_cells ? need : 0;
        SS_ALLOC_CHECK(cx->tv_cells);
    }
    double sum = 0.0;
    /* blocks of rows: each computes its rows' cells once (and the row above
     * its first again), then every pixel of a row gathers from its own cell,
     * the one above and the one to its left (elementwise.h) */
#pragma omp parallel for collapse(2) reduction(+ : sum) schedule(static)
    for (int c = 0; c < C; c++)
        for (int b = 0; b < nb; b++) {
            double *buf = cx->tv_cells + (size_t)omp_get_thread_num() * 4 * W;
            double *up = buf, *ka = buf + W, *kb = buf + 2 * (size_t)W, *spare = buf + 3 * (size_t)W;
            const float *xc = x->data + (size_t)c * H * W;
            float *gc = dx->data + (size_t)c * H * W;
            int r0 = b * TV_ROWS, r1 = r0 + TV_ROWS < H ? r0 + TV_ROWS : H;
            if (r0 > 0) tv_row(up, spare, xc, r0 - 1, H, W, scale, power);
            else
                for (int j = 0; j < W; j++) up[j] = 0.0;
            for (int i = r0; i < r1; i++) {
                sum += tv_row(ka, kb, xc, i, H, W, scale, power);
                float *g = gc + (size_t)i * W;
                g[0] += (float)ss_ew_tv_gather(ka[0], kb[0], up[0], 0.0);
                for (int j = 1; j < W; j++) g[j] += (float)ss_ew_tv_gather(ka[j], kb[j], up[j], kb[j - 1]);
                double *t = up;
                up = ka;
                ka = t;
            }
        }
    *loss = scale * sum;
    return SS_OK;
}

/* ---- vector operations ---- */

/* Vectors shorter than this are done by one thread: a parallel region costs
 * more than the work, and far more when the cores are shared (the optimiser
 * calls these thousands of times per run). */
#define CPU_PAR_MIN 16384

static ss_status cpu_vec_dot(ss_backend *be, double *out, const ss_tensor *a, const ss_tensor *b) {
    (void)be;
    double sum = 0.0;
    size_t n = a->size;
    const float *x = a->data, *y = b->data;
#pragma omp parallel for reduction(+ : sum) schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) sum += (double)x[i] * y[i];
    *out = sum;
    return SS_OK;
}

static ss_status cpu_vec_axpy(ss_backend *be, ss_tensor *y, double alpha, const ss_tensor *x) {
    (void)be;
    size_t n = y->size;
    float *o = y->data;
    const float *v = x->data;
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) o[i] = ss_ew_axpy(o[i], alpha, v[i]);
    return SS_OK;
}

static ss_status cpu_vec_scale(ss_backend *be, ss_tensor *x, double alpha) {
    (void)be;
    size_t n = x->size;
    float *o = x->data;
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) o[i] = ss_ew_scale(o[i], alpha);
    return SS_OK;
}

static ss_status cpu_vec_copy(ss_backend *be, ss_tensor *dst, const ss_tensor *src) {
    (void)be;
    memcpy(dst->data, src->data, sizeof(float) * src->size);
    return SS_OK;
}

static ss_status cpu_vec_fill(ss_backend *be, ss_tensor *x, double value) {
    (void)be;
    size_t n = x->size;
    float v = (float)value;
    for (size_t i = 0; i < n; i++) x->data[i] = v;
    return SS_OK;
}

static ss_status cpu_vec_mul(ss_backend *be, ss_tensor *x, const ss_tensor *m) {
    (void)be;
    size_t n = x->size;
    float *o = x->data;
    const float *v = m->data;
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) o[i] = ss_ew_mul(o[i], v[i]);
    return SS_OK;
}

static ss_status cpu_adam_step(ss_backend *be, ss_tensor *x, ss_tensor *m, ss_tensor *v, const ss_tensor *g, double lr,
                               double b1, double b2, double eps, int t) {
    (void)be;
    size_t n = x->size;
    double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
    float *xp = x->data, *mp = m->data, *vp = v->data;
    const float *gp = g->data;
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) ss_ew_adam(&xp[i], &mp[i], &vp[i], gp[i], lr, b1, b2, eps, c1, c2);
    return SS_OK;
}

/* ---- the backend ---- */

static void cpu_free(ss_backend *be) {
    if (!be) return;
    cpu_ctx *c = ctx_of(be);
    if (c) {
        for (int i = 0; i < c->n_reorders; i++) dnnl_primitive_destroy(c->reorders[i].prim);
        free(c->scratch[0]);
        free(c->scratch[1]);
        free(c->tv_cells);
        free(c->wg_scratch);
        if (c->stream) dnnl_stream_destroy(c->stream);
        if (c->engine) dnnl_engine_destroy(c->engine);
        free(c);
    }
    free(be);
}

static const ss_backend_i cpu_iface = {
    .name = "cpu",
    .free = cpu_free,
    .tensor_new = cpu_tensor_new,
    .tensor_new_like = cpu_tensor_new_like,
    .tensor_free = cpu_tensor_free,
    .tensor_write = cpu_tensor_write,
    .tensor_read = cpu_tensor_read,
    .conv_new = cpu_conv_new,
    .conv_forward = cpu_conv_forward,
    .conv_backward_data = cpu_conv_backward_data,
    .relu_backward = cpu_relu_backward,
    .pool_new = cpu_pool_new,
    .pool_forward = cpu_pool_forward,
    .pool_backward = cpu_pool_backward,
    .layer_free = cpu_layer_free,
    .layer_describe = cpu_layer_describe,
    .gram = cpu_gram,
    .style_grad = cpu_style_grad,
    .content_grad = cpu_content_grad,
    .tv_grad = cpu_tv_grad,
    .vec_dot = cpu_vec_dot,
    .vec_axpy = cpu_vec_axpy,
    .vec_scale = cpu_vec_scale,
    .vec_copy = cpu_vec_copy,
    .vec_fill = cpu_vec_fill,
    .vec_mul = cpu_vec_mul,
    .adam_step = cpu_adam_step,
};

ss_status ss_backend_cpu_new(ss_backend **out, int threads) {
    if (threads < 0) return ss_error(SS_ERR_ARG, "threads must be 0 (all cores) or positive, not %d", threads);
    if (threads > 4096) return ss_error(SS_ERR_ARG, "threads %d is absurd (at most 4096)", threads);
    if (threads == 0) threads = ss_cpu_count();
    ss_backend *be = calloc(1, sizeof *be);
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return ss_error(SS_ERR_NOMEM, "out of memory for the CPU backend");
    }
    be->iface = &cpu_iface;
    be->ctx = c;
    const char *conv = getenv("STYLESWEEP_CONV");
    if (!conv || !*conv || strcmp(conv, "auto") == 0) c->conv_mode = CONV_AUTO;
    else if (strcmp(conv, "direct") == 0) c->conv_mode = CONV_DIRECT;
    else if (strcmp(conv, "winograd") == 0) c->conv_mode = CONV_WINOGRAD;
    else {
        cpu_free(be);
        return ss_error(SS_ERR_ARG, "STYLESWEEP_CONV=%s: expected direct, winograd or auto", conv);
    }
    /* our kernels follow the ISA oneDNN dispatches to (ONEDNN_MAX_CPU_ISA lowers both) */
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    int avx512 = (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
    int avx2 = (isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2;
    c->wg_vec = avx512 && ss_wino_supported(16) ? 16 : avx2 && ss_wino_supported(8) ? 8 : 0;
    const char *isa_name = dnnl_cpu_isa2str(isa);
    if (strncmp(isa_name, "cpu_isa_", 8) == 0) isa_name += 8;
    snprintf(be->isa, sizeof be->isa, "%s", isa_name);
    be->threads = threads;
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    snprintf(be->device, sizeof be->device, "cpu (%d threads)", threads);
    dnnl_status_t st = dnnl_engine_create(&c->engine, dnnl_cpu, 0);
    if (st == dnnl_success) st = dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        cpu_free(be);
        return ss_error(SS_ERR_BACKEND, "oneDNN: cannot make the CPU engine (%s)", dnnl_status2str(st));
    }
    *out = be;
    return SS_OK;
}
