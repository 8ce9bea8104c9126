/* engine.c - one style-transfer run (see engine.h). */
#include "engine.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "check.h"
#include "lbfgs.h"
#include "util.h"

enum { ENGINE_TERMS_RING = 64 };

typedef struct engine_run {
    ss_setup *s;
    const ss_engine_callbacks *cb;
    int iteration, evals_this_iteration, evals_total;
    /* the terms of this iteration's evaluations, to report those of the point kept */
    ss_terms ring[ENGINE_TERMS_RING];
    int ring_n;
    ss_terms kept; /* terms at the current image */
} engine_run;

int ss_engine_is_snapshot(const ss_params *p, int iteration) {
    return iteration <= p->snapshot_first || (p->snapshot_every > 0 && iteration % p->snapshot_every == 0);
}

static ss_status objective(void *ctx, double *f, ss_tensor *grad, const ss_tensor *x) {
    engine_run *r = ctx;
    ss_terms t;
    SS_TRY(ss_net_eval(r->s->net, &t, grad, x));
    *f = t.total;
    r->ring[r->ring_n++ % ENGINE_TERMS_RING] = t;
    r->evals_this_iteration++;
    r->evals_total++;
    if (r->cb && r->cb->on_evaluation) r->cb->on_evaluation(r->cb->ctx, r->iteration, r->evals_this_iteration, t.total);
    return SS_OK;
}

/* Finds the terms of the evaluation whose total is f (the point the optimizer kept). */
static void keep_terms(engine_run *r, double f) {
    int n = r->ring_n < ENGINE_TERMS_RING ? r->ring_n : ENGINE_TERMS_RING;
    for (int i = 0; i < n; i++)
        if (r->ring[i].total == f) {
            r->kept = r->ring[i];
            return;
        }
    if (r->kept.total != f) { /* not found: report the total alone */
        memset(&r->kept, 0, sizeof r->kept);
        r->kept.total = f;
    }
}

/* De-processes x into img, finished as the run asks (colours, output size: ss_inputs_finish). */
static ss_status render(ss_setup *s, ss_image *img, const ss_tensor *x) {
    const ss_preproc *pp = &s->inputs.preproc;
    SS_TRY(ss_image_alloc(img, s->inputs.w, s->inputs.h));
    ss_status st = ss_be_deprocess(s->be, img->px, x, pp->scale, pp->mean, pp->std, pp->bgr);
    if (st != SS_OK) {
        ss_image_free(img);
        return st;
    }
    st = ss_inputs_finish(img, &s->inputs, &s->params);
    if (st != SS_OK) ss_image_free(img);
    return st;
}

typedef struct engine_buffers {
    ss_tensor *x, *grad;
    float *host;
    ss_lbfgs *lbfgs;
    ss_adam *adam;
} engine_buffers;

static void buffers_free(ss_setup *s, engine_buffers *b) {
    if (b->x) ss_be_tensor_free(s->be, b->x);
    if (b->grad) ss_be_tensor_free(s->be, b->grad);
    ss_lbfgs_free(b->lbfgs);
    ss_adam_free(b->adam);
    free(b->host);
}

/* One outer iteration: a (restarted or continued) L-BFGS run, or Adam steps. */
static ss_status iterate(engine_run *r, engine_buffers *b) {
    const ss_params *p = &r->s->params;
    if (b->lbfgs) {
        if (p->lbfgs_restart) ss_lbfgs_reset(b->lbfgs);
        ss_lbfgs_result lr;
        SS_TRY(ss_lbfgs_minimize(b->lbfgs, b->x, objective, r, p->evals_per_iteration, &lr));
        keep_terms(r, lr.f);
        return SS_OK;
    }
    for (int i = 0; i < p->evals_per_iteration; i++) {
        double f;
        SS_TRY(objective(r, &f, b->grad, b->x));
        SS_TRY(ss_adam_step(b->adam, b->x, b->grad));
    }
    /* the loss at the image after the last step (an evaluation of its own) */
    SS_TRY(ss_net_eval(r->s->net, &r->kept, b->grad, b->x));
    r->evals_this_iteration++;
    r->evals_total++;
    return SS_OK;
}

/* ---- checkpoint blob (see engine.h) ---- */

enum { BLOB_VERSION = 2, BLOB_HEADER = 4 + 4 + 8 + 4 * 4 + 3 * 8 + 8 };
enum { KIND_RESTARTED = 0, KIND_LBFGS = 1, KIND_ADAM = 2 };

/* What ss_engine_save_state reaches through state->engine. */
typedef struct engine_ctx {
    engine_run *r;
    engine_buffers *b;
} engine_ctx;

static uint32_t optimizer_kind(const ss_params *p, const engine_buffers *b) {
    if (b->adam) return KIND_ADAM;
    return p->lbfgs_restart ? KIND_RESTARTED : KIND_LBFGS;
}

static const char *kind_name(uint32_t k) {
    return k == KIND_ADAM        ? "Adam"
           : k == KIND_LBFGS     ? "continuous L-BFGS"
           : k == KIND_RESTARTED ? "restarted L-BFGS"
                                 : "unknown";
}

ss_status ss_engine_save_state(const ss_engine_state *state, unsigned char **blob, size_t *size) {
    *blob = NULL;
    *size = 0;
    if (!state || !state->engine) return ss_error(SS_ERR_ARG, "ss_engine_save_state: not inside on_boundary");
    const engine_ctx *ec = state->engine;
    engine_run *r = ec->r;
    engine_buffers *b = ec->b;
    const ss_params *p = &r->s->params;
    uint32_t kind = optimizer_kind(p, b);
    size_t opt = kind == KIND_ADAM    ? ss_adam_state_size(b->adam)
                 : kind == KIND_LBFGS ? ss_lbfgs_state_size(b->lbfgs)
                                      : 0;
    int n_style = r->s->cfg.n_style_layers;
    if (n_style < 0 || n_style > SS_MAX_STYLE_LAYERS) n_style = 0;
    size_t head = BLOB_HEADER + (size_t)n_style * sizeof(double);
    unsigned char *buf = malloc(head + opt);
    SS_ALLOC_CHECK(buf);
    unsigned char *q = buf;
    uint32_t version = BLOB_VERSION;
    int32_t iteration = state->iteration;
    uint32_t u[3] = {kind, (uint32_t)n_style, 0};
    uint64_t opt64 = opt;
    double terms[3] = {r->kept.total, r->kept.content, r->kept.tv};
    memcpy(q, "SSEN", 4), q += 4;
    memcpy(q, &version, 4), q += 4;
    memcpy(q, &state->last_loss, 8), q += 8;
    memcpy(q, &iteration, 4), q += 4;
    memcpy(q, u, sizeof u), q += sizeof u;
    memcpy(q, terms, sizeof terms), q += sizeof terms;
    memcpy(q, r->kept.style, (size_t)n_style * sizeof(double)), q += (size_t)n_style * sizeof(double);
    memcpy(q, &opt64, 8), q += 8;
    ss_status st = SS_OK;
    if (kind == KIND_ADAM) st = ss_adam_state_save(b->adam, q, opt);
    else if (kind == KIND_LBFGS) st = ss_lbfgs_state_save(b->lbfgs, q, opt);
    if (st != SS_OK) {
        free(buf);
        return st;
    }
    *blob = buf;
    *size = head + opt;
    return SS_OK;
}

/* Restores what a resume blob holds besides the image: *last, r->kept and the
 * optimizer's state. */
static ss_status load_state(engine_run *r, engine_buffers *b, const ss_engine_state *resume, double *last) {
    const unsigned char *q = resume->blob;
    size_t size = resume->blob_size;
    *last = resume->last_loss;
    if (!q || size == 0) return SS_OK;
    if (size == sizeof(double)) { /* version 1: the last loss alone */
        memcpy(last, q, sizeof *last);
        return SS_OK;
    }
    uint32_t version = 0, u[3];
    int32_t iteration;
    uint64_t opt;
    double terms[3];
    if (size < BLOB_HEADER || memcmp(q, "SSEN", 4) != 0)
        return ss_error(SS_ERR_FORMAT, "checkpoint state: not a stylesweep engine state (%zu bytes)", size);
    memcpy(&version, q + 4, 4);
    if (version != BLOB_VERSION)
        return ss_error(SS_ERR_FORMAT, "checkpoint state: version %u, this program reads 1 and %d", version,
                        BLOB_VERSION);
    q += 8;
    memcpy(last, q, 8), q += 8;
    memcpy(&iteration, q, 4), q += 4;
    memcpy(u, q, sizeof u), q += sizeof u;
    memcpy(terms, q, sizeof terms), q += sizeof terms;
    const ss_params *p = &r->s->params;
    uint32_t kind = optimizer_kind(p, b), n_style = u[1];
    if (iteration != resume->iteration)
        return ss_error(SS_ERR_FORMAT, "checkpoint state: made at iteration %d, the checkpoint says %d", (int)iteration,
                        resume->iteration);
    if (u[0] != kind)
        return ss_error(SS_ERR_FORMAT, "checkpoint state: taken with %s, the run uses %s", kind_name(u[0]),
                        kind_name(kind));
    if (n_style > SS_MAX_STYLE_LAYERS || size < BLOB_HEADER + n_style * sizeof(double))
        return ss_error(SS_ERR_FORMAT, "checkpoint state: bad style layer count %u", n_style);
    memset(&r->kept, 0, sizeof r->kept);
    r->kept.total = terms[0];
    r->kept.content = terms[1];
    r->kept.tv = terms[2];
    memcpy(r->kept.style, q, n_style * sizeof(double)), q += n_style * sizeof(double);
    memcpy(&opt, q, 8), q += 8;
    if (opt != size - (size_t)(q - resume->blob))
        return ss_error(SS_ERR_FORMAT, "checkpoint state: %zu bytes, the header says %llu of optimizer state after %zu",
                        size, (unsigned long long)opt, (size_t)(q - resume->blob));
    if (kind == KIND_ADAM) SS_TRY(ss_adam_state_load(b->adam, q, (size_t)opt));
    else if (kind == KIND_LBFGS) SS_TRY(ss_lbfgs_state_load(b->lbfgs, q, (size_t)opt));
    else if (opt != 0) return ss_error(SS_ERR_FORMAT, "checkpoint state: optimizer state for restarted L-BFGS");
    return SS_OK;
}

static ss_status engine_loop(engine_run *r, engine_buffers *b, const ss_engine_state *resume, ss_engine_result *res) {
    ss_setup *s = r->s;
    const ss_params *p = &s->params;
    const ss_engine_callbacks *cb = r->cb;
    int h = s->inputs.h, w = s->inputs.w;
    b->host = malloc(sizeof(float) * 3 * (size_t)h * w);
    SS_ALLOC_CHECK(b->host);
    SS_TRY(ss_be_tensor_new(s->be, &b->x, 3, h, w));
    SS_TRY(ss_be_tensor_new(s->be, &b->grad, 3, h, w));
    double last = 0.0;
    int start = 0;
    if (resume) {
        if (resume->h != h || resume->w != w)
            return ss_error(SS_ERR_FORMAT, "checkpoint image is %dx%d, the run is %dx%d", resume->w, resume->h, w, h);
        memcpy(b->host, resume->x, sizeof(float) * 3 * (size_t)h * w);
        start = resume->iteration;
    } else if (s->inputs.content_image.px) {
        SS_TRY(ss_image_init_tensor(b->host, p->init, &s->inputs.content_image, &s->inputs.preproc,
                                    (unsigned long long)p->seed));
    } else if (!strcmp(p->init, "content")) {
        memcpy(b->host, s->inputs.content, sizeof(float) * 3 * (size_t)h * w);
    } else {
        return ss_error(SS_ERR_ARG, "init %s needs the content as an image file", p->init);
    }
    SS_TRY(ss_be_tensor_write(s->be, b->x, b->host));
    if (!strcmp(p->optimizer, "adam")) {
        SS_TRY(ss_adam_new(&b->adam, s->be, b->x, p->learning_rate, 0.9, 0.999, 1e-8));
    } else {
        ss_lbfgs_params lp;
        ss_lbfgs_params_defaults(&lp);
        lp.m = p->lbfgs_history;
        /* the loss's scale varies by orders of magnitude between settings: no
         * gradient-norm test; the evaluation budget and min_improvement stop a run */
        lp.epsilon = 0.0;
        SS_TRY(ss_lbfgs_new(&b->lbfgs, s->be, b->x, &lp));
    }
    if (resume) {
        ss_status st = load_state(r, b, resume, &last);
        if (st != SS_OK) return ss_error(st, "cannot resume from the checkpoint: %s", ss_error_message());
    }
    engine_ctx ec = {r, b};
    res->iterations = start;
    if (cb && cb->should_stop && cb->should_stop(cb->ctx)) return ss_error(SS_ERR_INTERRUPTED, "stopped on request");
    for (int it = start + 1; it <= p->iterations; it++) {
        r->iteration = it;
        r->evals_this_iteration = 0;
        r->ring_n = 0;
        double t0 = ss_monotonic_seconds();
        SS_TRY(iterate(r, b));
        ss_iteration m = {it, r->kept, r->evals_this_iteration, ss_monotonic_seconds() - t0, 0.0};
        if (!isfinite(m.terms.total)) return ss_error(SS_ERR_NUMERIC, "the loss is not finite at iteration %d", it);
        if (it > 1 && last != 0.0) m.improvement = (last - m.terms.total) / last * 100.0;
        last = m.terms.total;
        res->iterations = it;
        res->loss = last;
        if (cb && cb->on_iteration) SS_TRY(cb->on_iteration(cb->ctx, &m));
        if (cb && cb->on_snapshot && ss_engine_is_snapshot(p, it)) {
            ss_image img = {0};
            ss_status st = render(s, &img, b->x);
            if (st == SS_OK) st = cb->on_snapshot(cb->ctx, it, &img);
            ss_image_free(&img);
            SS_TRY(st);
        }
        int stop = it < p->iterations && cb && cb->should_stop && cb->should_stop(cb->ctx);
        if (cb && cb->on_boundary) {
            SS_TRY(ss_be_tensor_read(s->be, b->host, b->x));
            ss_engine_state state = {it, last, b->host, h, w, stop, NULL, 0, &ec};
            SS_TRY(cb->on_boundary(cb->ctx, &state));
        }
        if (stop) return ss_error(SS_ERR_INTERRUPTED, "stopped on request after iteration %d", it);
        if (it > 1 && p->min_improvement > 0.0 && m.improvement < p->min_improvement) {
            res->stopped_early = 1;
            break;
        }
    }
    return render(s, &res->final_image, b->x);
}

ss_status ss_engine_run(ss_setup *s, const ss_engine_callbacks *cb, const ss_engine_state *resume,
                        ss_engine_result *res) {
    memset(res, 0, sizeof *res);
    engine_run r = {0};
    r.s = s;
    r.cb = cb;
    engine_buffers b = {0};
    ss_status st = engine_loop(&r, &b, resume, res);
    res->evaluations = r.evals_total;
    buffers_free(s, &b);
    if (st != SS_OK) ss_image_free(&res->final_image);
    return st;
}
