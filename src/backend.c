/* backend.c - the ss_be_* wrappers: one place for the argument checks of
 * every backend slot and the fallbacks of the optional slots (backend.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "elementwise.h"

/* Refuses every call on a backend whose device context was lost. */
#define LIVE(be, op)                                                                                   \
    do {                                                                                               \
        if (!(be)) return ss_error(SS_ERR_ARG, "%s: no backend", (op));                                \
        if ((be)->lost)                                                                                \
            return ss_error(SS_ERR_BACKEND, "%s: the %s backend's device context was lost (%s)", (op), \
                            (be)->iface->name, (be)->device);                                          \
    } while (0)

#define NONNULL(p, op, what)                                                   \
    do {                                                                       \
        if (!(p)) return ss_error(SS_ERR_ARG, "%s: %s is NULL", (op), (what)); \
    } while (0)

/* a and b hold the same shape in the same storage (layout and size). */
static ss_status same(const char *op, const char *an, const ss_tensor *a, const char *bn, const ss_tensor *b) {
    if (!a || !b) return ss_error(SS_ERR_ARG, "%s: %s is NULL", op, !a ? an : bn);
    if (a->c != b->c || a->h != b->h || a->w != b->w || a->plain != b->plain || a->size != b->size)
        return ss_error(SS_ERR_ARG, "%s: %s (%d, %d, %d)%s and %s (%d, %d, %d)%s differ in shape or layout", op, an,
                        a->c, a->h, a->w, a->plain ? " plain" : "", bn, b->c, b->h, b->w, b->plain ? " plain" : "");
    return SS_OK;
}

static ss_status plain_shape(const char *op, const char *n, const ss_tensor *t, int c, int h, int w) {
    if (!t) return ss_error(SS_ERR_ARG, "%s: %s is NULL", op, n);
    if (!t->plain || t->c != c || t->h != h || t->w != w)
        return ss_error(SS_ERR_ARG, "%s: %s is (%d, %d, %d)%s, expected plain (%d, %d, %d)", op, n, t->c, t->h, t->w,
                        t->plain ? "" : " not plain", c, h, w);
    return SS_OK;
}

void ss_be_free(ss_backend *be) {
    if (be) be->iface->free(be);
}

ss_status ss_be_tensor_new(ss_backend *be, ss_tensor **out, int c, int h, int w) {
    LIVE(be, "tensor_new");
    NONNULL(out, "tensor_new", "out");
    *out = NULL;
    if (c < 1 || h < 1 || w < 1) return ss_error(SS_ERR_ARG, "tensor shape (%d, %d, %d) is not positive", c, h, w);
    return be->iface->tensor_new(be, out, c, h, w);
}

ss_status ss_be_tensor_new_like(ss_backend *be, ss_tensor **out, const ss_tensor *like) {
    LIVE(be, "tensor_new_like");
    NONNULL(out, "tensor_new_like", "out");
    NONNULL(like, "tensor_new_like", "like");
    *out = NULL;
    return be->iface->tensor_new_like(be, out, like);
}

void ss_be_tensor_free(ss_backend *be, ss_tensor *t) {
    if (be && t) be->iface->tensor_free(be, t);
}

ss_status ss_be_tensor_write(ss_backend *be, ss_tensor *dst, const float *host) {
    LIVE(be, "tensor_write");
    NONNULL(dst, "tensor_write", "the tensor");
    NONNULL(host, "tensor_write", "the host array");
    return be->iface->tensor_write(be, dst, host);
}

ss_status ss_be_tensor_read(ss_backend *be, float *host, const ss_tensor *src) {
    LIVE(be, "tensor_read");
    NONNULL(src, "tensor_read", "the tensor");
    NONNULL(host, "tensor_read", "the host array");
    return be->iface->tensor_read(be, host, src);
}

ss_status ss_be_conv_new(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in, int cout,
                         const float *weight, const float *bias) {
    LIVE(be, "conv_new");
    NONNULL(layer, "conv_new", "layer");
    NONNULL(out, "conv_new", "out");
    NONNULL(in, "conv_new", "the input");
    NONNULL(weight, "conv_new", "the weights");
    NONNULL(bias, "conv_new", "the bias");
    *layer = NULL;
    *out = NULL;
    if (cout < 1) return ss_error(SS_ERR_ARG, "conv_new: %d output channels", cout);
    return be->iface->conv_new(be, layer, out, in, cout, weight, bias);
}

ss_status ss_be_conv_forward(ss_backend *be, ss_layer *layer, ss_tensor *out, const ss_tensor *in) {
    LIVE(be, "conv_forward");
    NONNULL(layer, "conv_forward", "the layer");
    NONNULL(out, "conv_forward", "out");
    NONNULL(in, "conv_forward", "in");
    if (out->h != in->h || out->w != in->w)
        return ss_error(SS_ERR_ARG, "conv_forward: out is %dx%d, in %dx%d", out->w, out->h, in->w, in->h);
    return be->iface->conv_forward(be, layer, out, in);
}

ss_status ss_be_conv_backward_data(ss_backend *be, ss_layer *layer, ss_tensor *din, const ss_tensor *dpre) {
    LIVE(be, "conv_backward_data");
    NONNULL(layer, "conv_backward_data", "the layer");
    NONNULL(din, "conv_backward_data", "din");
    NONNULL(dpre, "conv_backward_data", "dpre");
    if (din->h != dpre->h || din->w != dpre->w)
        return ss_error(SS_ERR_ARG, "conv_backward_data: din is %dx%d, dpre %dx%d", din->w, din->h, dpre->w, dpre->h);
    return be->iface->conv_backward_data(be, layer, din, dpre);
}

ss_status ss_be_relu_backward(ss_backend *be, ss_tensor *dpre, const ss_tensor *dout, const ss_tensor *out) {
    LIVE(be, "relu_backward");
    SS_TRY(same("relu_backward", "dpre", dpre, "out", out));
    SS_TRY(same("relu_backward", "dout", dout, "out", out));
    return be->iface->relu_backward(be, dpre, dout, out);
}

ss_status ss_be_pool_new(ss_backend *be, ss_layer **layer, ss_tensor **out, const ss_tensor *in, ss_pool_kind kind) {
    LIVE(be, "pool_new");
    NONNULL(layer, "pool_new", "layer");
    NONNULL(out, "pool_new", "out");
    NONNULL(in, "pool_new", "the input");
    *layer = NULL;
    *out = NULL;
    if (kind != SS_POOL_MAX && kind != SS_POOL_AVG) return ss_error(SS_ERR_ARG, "pool_new: unknown pooling %d", kind);
    if (in->h < 2 || in->w < 2)
        return ss_error(SS_ERR_ARG, "a %dx%d feature map is too small to pool 2x2", in->h, in->w);
    return be->iface->pool_new(be, layer, out, in, kind);
}

ss_status ss_be_pool_forward(ss_backend *be, ss_layer *layer, ss_tensor *out, const ss_tensor *in) {
    LIVE(be, "pool_forward");
    NONNULL(layer, "pool_forward", "the layer");
    NONNULL(out, "pool_forward", "out");
    NONNULL(in, "pool_forward", "in");
    if (out->c != in->c || out->h != in->h / 2 || out->w != in->w / 2)
        return ss_error(SS_ERR_ARG, "pool_forward: out (%d, %d, %d) is not half of in (%d, %d, %d)", out->c, out->h,
                        out->w, in->c, in->h, in->w);
    return be->iface->pool_forward(be, layer, out, in);
}

ss_status ss_be_pool_backward(ss_backend *be, ss_layer *layer, ss_tensor *din, const ss_tensor *dout) {
    LIVE(be, "pool_backward");
    NONNULL(layer, "pool_backward", "the layer");
    NONNULL(din, "pool_backward", "din");
    NONNULL(dout, "pool_backward", "dout");
    if (dout->c != din->c || dout->h != din->h / 2 || dout->w != din->w / 2)
        return ss_error(SS_ERR_ARG, "pool_backward: dout (%d, %d, %d) is not half of din (%d, %d, %d)", dout->c,
                        dout->h, dout->w, din->c, din->h, din->w);
    return be->iface->pool_backward(be, layer, din, dout);
}

void ss_be_layer_free(ss_backend *be, ss_layer *layer) {
    if (be && layer) be->iface->layer_free(be, layer);
}

ss_status ss_be_gram(ss_backend *be, ss_tensor *g, const ss_tensor *f) {
    LIVE(be, "gram");
    NONNULL(f, "gram", "the features");
    SS_TRY(plain_shape("gram", "the Gram matrix", g, 1, f->c, f->c));
    return be->iface->gram(be, g, f);
}

ss_status ss_be_style_grad(ss_backend *be, double *losses, ss_tensor *df, ss_tensor *g, const ss_tensor *f,
                           const ss_tensor *const *targets, const double *scales, int n) {
    LIVE(be, "style_grad");
    NONNULL(losses, "style_grad", "losses");
    NONNULL(targets, "style_grad", "targets");
    NONNULL(scales, "style_grad", "scales");
    SS_TRY(same("style_grad", "df", df, "f", f));
    SS_TRY(plain_shape("style_grad", "the Gram matrix", g, 1, f->c, f->c));
    if (n < 1) return ss_error(SS_ERR_ARG, "style_grad: %d targets", n);
    for (int s = 0; s < n; s++) SS_TRY(plain_shape("style_grad", "a target", targets[s], 1, f->c, f->c));
    return be->iface->style_grad(be, losses, df, g, f, targets, scales, n);
}

ss_status ss_be_content_grad(ss_backend *be, double *loss, ss_tensor *df, const ss_tensor *f, const ss_tensor *p,
                             double scale) {
    LIVE(be, "content_grad");
    NONNULL(loss, "content_grad", "loss");
    SS_TRY(same("content_grad", "df", df, "f", f));
    SS_TRY(same("content_grad", "p", p, "f", f));
    return be->iface->content_grad(be, loss, df, f, p, scale);
}

ss_status ss_be_tv_grad(ss_backend *be, double *loss, ss_tensor *dx, const ss_tensor *x, double scale, double power) {
    LIVE(be, "tv_grad");
    NONNULL(loss, "tv_grad", "loss");
    NONNULL(x, "tv_grad", "x");
    SS_TRY(plain_shape("tv_grad", "x", x, x->c, x->h, x->w));
    SS_TRY(plain_shape("tv_grad", "dx", dx, x->c, x->h, x->w));
    if (!(power >= 1.0)) return ss_error(SS_ERR_ARG, "tv_grad: power %g must be >= 1", power);
    return be->iface->tv_grad(be, loss, dx, x, scale, power);
}

ss_status ss_be_vec_dot(ss_backend *be, double *out, const ss_tensor *a, const ss_tensor *b) {
    LIVE(be, "vec_dot");
    NONNULL(out, "vec_dot", "out");
    SS_TRY(same("vec_dot", "a", a, "b", b));
    return be->iface->vec_dot(be, out, a, b);
}

ss_status ss_be_vec_axpy(ss_backend *be, ss_tensor *y, double alpha, const ss_tensor *x) {
    LIVE(be, "vec_axpy");
    SS_TRY(same("vec_axpy", "y", y, "x", x));
    return be->iface->vec_axpy(be, y, alpha, x);
}

ss_status ss_be_vec_scale(ss_backend *be, ss_tensor *x, double alpha) {
    LIVE(be, "vec_scale");
    NONNULL(x, "vec_scale", "x");
    return be->iface->vec_scale(be, x, alpha);
}

ss_status ss_be_vec_copy(ss_backend *be, ss_tensor *dst, const ss_tensor *src) {
    LIVE(be, "vec_copy");
    SS_TRY(same("vec_copy", "dst", dst, "src", src));
    return be->iface->vec_copy(be, dst, src);
}

ss_status ss_be_vec_fill(ss_backend *be, ss_tensor *x, double value) {
    LIVE(be, "vec_fill");
    NONNULL(x, "vec_fill", "x");
    if (!x->plain && value != 0.0)
        return ss_error(SS_ERR_ARG, "vec_fill: %g into a tensor with padding (only 0 is allowed)", value);
    return be->iface->vec_fill(be, x, value);
}

ss_status ss_be_vec_mul(ss_backend *be, ss_tensor *x, const ss_tensor *m) {
    LIVE(be, "vec_mul");
    SS_TRY(same("vec_mul", "x", x, "m", m));
    return be->iface->vec_mul(be, x, m);
}

/* The Adam fallback: the whole step on the host with the shared formula. */
static ss_status adam_host(ss_backend *be, ss_tensor *x, ss_tensor *m, ss_tensor *v, const ss_tensor *g, double lr,
                           double b1, double b2, double eps, double c1, double c2) {
    size_t n = x->size;
    float *hx = malloc(4 * n * sizeof *hx);
    if (!hx) return ss_error(SS_ERR_NOMEM, "Adam: out of memory for %zu host floats", 4 * n);
    float *hm = hx + n, *hv = hm + n, *hg = hv + n;
    ss_status st = be->iface->tensor_read(be, hx, x);
    if (st == SS_OK) st = be->iface->tensor_read(be, hm, m);
    if (st == SS_OK) st = be->iface->tensor_read(be, hv, v);
    if (st == SS_OK) st = be->iface->tensor_read(be, hg, g);
    if (st == SS_OK)
        for (size_t i = 0; i < n; i++) ss_ew_adam(&hx[i], &hm[i], &hv[i], hg[i], lr, b1, b2, eps, c1, c2);
    if (st == SS_OK) st = be->iface->tensor_write(be, m, hm);
    if (st == SS_OK) st = be->iface->tensor_write(be, v, hv);
    if (st == SS_OK) st = be->iface->tensor_write(be, x, hx);
    free(hx);
    return st;
}

ss_status ss_be_adam_step(ss_backend *be, ss_tensor *x, ss_tensor *m, ss_tensor *v, const ss_tensor *g, double lr,
                          double b1, double b2, double eps, int t) {
    LIVE(be, "adam_step");
    NONNULL(x, "adam_step", "x");
    SS_TRY(plain_shape("adam_step", "x", x, x->c, x->h, x->w));
    SS_TRY(plain_shape("adam_step", "m", m, x->c, x->h, x->w));
    SS_TRY(plain_shape("adam_step", "v", v, x->c, x->h, x->w));
    SS_TRY(plain_shape("adam_step", "g", g, x->c, x->h, x->w));
    if (t < 1) return ss_error(SS_ERR_ARG, "adam_step: step %d (must be >= 1)", t);
    if (be->iface->adam_step) return be->iface->adam_step(be, x, m, v, g, lr, b1, b2, eps, t);
    return adam_host(be, x, m, v, g, lr, b1, b2, eps, 1.0 - pow(b1, t), 1.0 - pow(b2, t));
}

ss_status ss_be_set_precision(ss_backend *be, const char *precision) {
    LIVE(be, "set_precision");
    NONNULL(precision, "set_precision", "precision");
    int tf32;
    if (!strcmp(precision, "fp32")) tf32 = 0;
    else if (!strcmp(precision, "tf32")) tf32 = 1;
    else return ss_error(SS_ERR_ARG, "precision '%s' is not fp32 or tf32", precision);
    if (!be->iface->set_precision) {
        if (tf32)
            return ss_error(SS_ERR_ARG,
                            "precision tf32: the %s backend computes in float32 only (use precision fp32, or the "
                            "cuda backend)",
                            be->iface->name);
        be->tf32 = 0;
        return SS_OK;
    }
    SS_TRY(be->iface->set_precision(be, tf32));
    be->tf32 = tf32;
    return SS_OK;
}

static ss_status image_args(const char *op, const ss_tensor *t, const void *px, const float *mean, const float *std) {
    NONNULL(px, op, "the pixels");
    NONNULL(mean, op, "mean");
    NONNULL(std, op, "std");
    NONNULL(t, op, "the tensor");
    return plain_shape(op, "the tensor", t, 3, t->h, t->w);
}

ss_status ss_be_preprocess(ss_backend *be, ss_tensor *out, const unsigned char *px, float scale, const float *mean,
                           const float *std, int bgr) {
    LIVE(be, "preprocess");
    SS_TRY(image_args("preprocess", out, px, mean, std));
    if (be->iface->preprocess) return be->iface->preprocess(be, out, px, scale, mean, std, bgr);
    size_t np = (size_t)out->h * (size_t)out->w;
    float *h = malloc(3 * np * sizeof *h);
    SS_ALLOC_CHECK(h);
    for (int c = 0; c < 3; c++) {
        int src = bgr ? 2 - c : c;
        for (size_t i = 0; i < np; i++) h[c * np + i] = ss_ew_preprocess(px[3 * i + src], scale, mean[c], std[c]);
    }
    ss_status st = be->iface->tensor_write(be, out, h);
    free(h);
    return st;
}

ss_status ss_be_deprocess(ss_backend *be, unsigned char *px, const ss_tensor *x, float scale, const float *mean,
                          const float *std, int bgr) {
    LIVE(be, "deprocess");
    SS_TRY(image_args("deprocess", x, px, mean, std));
    if (be->iface->deprocess) return be->iface->deprocess(be, px, x, scale, mean, std, bgr);
    size_t np = (size_t)x->h * (size_t)x->w;
    float *h = malloc(3 * np * sizeof *h);
    SS_ALLOC_CHECK(h);
    ss_status st = be->iface->tensor_read(be, h, x);
    if (st == SS_OK)
        for (int c = 0; c < 3; c++) {
            int dst = bgr ? 2 - c : c;
            for (size_t i = 0; i < np; i++) px[3 * i + dst] = ss_ew_deprocess(h[c * np + i], scale, mean[c], std[c]);
        }
    free(h);
    return st;
}

ss_status ss_be_layer_describe(ss_backend *be, char *out, size_t size, const ss_layer *layer) {
    LIVE(be, "layer_describe");
    NONNULL(out, "layer_describe", "the text");
    NONNULL(layer, "layer_describe", "the layer");
    if (size == 0) return ss_error(SS_ERR_ARG, "layer_describe: no room for the text");
    out[0] = '\0';
    if (!be->iface->layer_describe) return SS_OK;
    return be->iface->layer_describe(be, out, size, layer);
}

ss_status ss_be_losses_begin(ss_backend *be) {
    LIVE(be, "losses_begin");
    return be->iface->losses_begin ? be->iface->losses_begin(be) : SS_OK;
}

ss_status ss_be_losses_end(ss_backend *be) {
    LIVE(be, "losses_end");
    return be->iface->losses_end ? be->iface->losses_end(be) : SS_OK;
}
