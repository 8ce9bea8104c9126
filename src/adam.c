/* adam.c - the Adam optimizer on backend tensors (the step itself is the
 * backend's, through ss_be_adam_step, which holds the host fallback). */
#include "adam.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

struct ss_adam {
    ss_backend *be;
    int c, h, w;
    size_t n; /* elements: c * h * w */
    double lr, b1, b2, eps;
    /* State (what a checkpoint would save): t, m and v. */
    int t;
    ss_tensor *m, *v;
};

ss_status ss_adam_new(ss_adam **out, ss_backend *be, const ss_tensor *like, double lr, double b1, double b2,
                      double eps) {
    if (!out || !be || !like) return ss_error(SS_ERR_ARG, "ss_adam_new: NULL argument");
    if (!like->plain) return ss_error(SS_ERR_ARG, "Adam: the iterate must be a plain tensor");
    if (!(lr > 0.0) || !isfinite(lr)) return ss_error(SS_ERR_ARG, "Adam: lr=%g must be > 0", lr);
    if (!(b1 >= 0.0 && b1 < 1.0)) return ss_error(SS_ERR_ARG, "Adam: b1=%g must lie in [0, 1)", b1);
    if (!(b2 >= 0.0 && b2 < 1.0)) return ss_error(SS_ERR_ARG, "Adam: b2=%g must lie in [0, 1)", b2);
    if (!(eps > 0.0)) return ss_error(SS_ERR_ARG, "Adam: eps=%g must be > 0", eps);

    ss_adam *a = calloc(1, sizeof *a);
    SS_ALLOC_CHECK(a);
    a->be = be;
    a->c = like->c;
    a->h = like->h;
    a->w = like->w;
    a->n = (size_t)like->c * (size_t)like->h * (size_t)like->w;
    a->lr = lr;
    a->b1 = b1;
    a->b2 = b2;
    a->eps = eps;
    ss_status st = ss_be_tensor_new(be, &a->m, a->c, a->h, a->w);
    if (st == SS_OK) st = ss_be_tensor_new(be, &a->v, a->c, a->h, a->w);
    if (st != SS_OK) {
        ss_adam_free(a);
        return st;
    }
    *out = a;
    return SS_OK;
}

void ss_adam_free(ss_adam *a) {
    if (!a) return;
    if (a->m) ss_be_tensor_free(a->be, a->m);
    if (a->v) ss_be_tensor_free(a->be, a->v);
    free(a);
}

ss_status ss_adam_reset(ss_adam *a) {
    if (!a) return ss_error(SS_ERR_ARG, "ss_adam_reset: NULL argument");
    SS_TRY(ss_be_vec_fill(a->be, a->m, 0.0));
    SS_TRY(ss_be_vec_fill(a->be, a->v, 0.0));
    a->t = 0;
    return SS_OK;
}

int ss_adam_steps(const ss_adam *a) { return a ? a->t : 0; }

ss_status ss_adam_step(ss_adam *a, ss_tensor *x, const ss_tensor *g) {
    if (!a || !x || !g) return ss_error(SS_ERR_ARG, "ss_adam_step: NULL argument");
    const ss_tensor *ts[] = {x, g};
    for (int i = 0; i < 2; i++)
        if (!ts[i]->plain || ts[i]->c != a->c || ts[i]->h != a->h || ts[i]->w != a->w)
            return ss_error(SS_ERR_ARG,
                            "Adam: %s is (%d, %d, %d)%s, the optimizer was made for plain "
                            "(%d, %d, %d)",
                            i ? "the gradient" : "the iterate", ts[i]->c, ts[i]->h, ts[i]->w,
                            ts[i]->plain ? "" : " not plain", a->c, a->h, a->w);
    int t = a->t + 1;
    SS_TRY(ss_be_adam_step(a->be, x, a->m, a->v, g, a->lr, a->b1, a->b2, a->eps, t));
    a->t = t;
    return SS_OK;
}

/* ---- checkpoints ---- */

enum { ADAM_STATE_VERSION = 1, ADAM_STATE_HEADER = 4 + 3 * 4 };

size_t ss_adam_state_size(const ss_adam *a) { return a ? ADAM_STATE_HEADER + 2 * a->n * sizeof(float) : 0; }

ss_status ss_adam_state_save(ss_adam *a, unsigned char *buf, size_t size) {
    if (!a || !buf) return ss_error(SS_ERR_ARG, "ss_adam_state_save: NULL argument");
    if (size != ss_adam_state_size(a))
        return ss_error(SS_ERR_ARG, "ss_adam_state_save: %zu bytes given, the state has %zu", size,
                        ss_adam_state_size(a));
    uint32_t u[2] = {ADAM_STATE_VERSION, (uint32_t)a->n};
    int32_t t = a->t;
    memcpy(buf, "ADAM", 4);
    memcpy(buf + 4, u, sizeof u);
    memcpy(buf + 12, &t, sizeof t);
    float *tmp = malloc(a->n * sizeof(float));
    SS_ALLOC_CHECK(tmp);
    ss_status st = ss_be_tensor_read(a->be, tmp, a->m);
    if (st == SS_OK) memcpy(buf + ADAM_STATE_HEADER, tmp, a->n * sizeof(float));
    if (st == SS_OK) st = ss_be_tensor_read(a->be, tmp, a->v);
    if (st == SS_OK) memcpy(buf + ADAM_STATE_HEADER + a->n * sizeof(float), tmp, a->n * sizeof(float));
    free(tmp);
    return st;
}

ss_status ss_adam_state_load(ss_adam *a, const unsigned char *buf, size_t size) {
    if (!a || (!buf && size)) return ss_error(SS_ERR_ARG, "ss_adam_state_load: NULL argument");
    if (size < ADAM_STATE_HEADER || memcmp(buf, "ADAM", 4) != 0)
        return ss_error(SS_ERR_FORMAT, "Adam state: not an Adam state (%zu bytes)", size);
    uint32_t u[2];
    int32_t t;
    memcpy(u, buf + 4, sizeof u);
    memcpy(&t, buf + 12, sizeof t);
    if (u[0] != ADAM_STATE_VERSION)
        return ss_error(SS_ERR_FORMAT, "Adam state: version %u, this program reads %d", u[0], ADAM_STATE_VERSION);
    if (u[1] != (uint32_t)a->n || size != ss_adam_state_size(a) || t < 0)
        return ss_error(SS_ERR_FORMAT, "Adam state: %zu bytes for %u floats and step %d, the optimizer has %zu floats",
                        size, u[1], (int)t, a->n);
    float *tmp = malloc(a->n * sizeof(float));
    SS_ALLOC_CHECK(tmp);
    memcpy(tmp, buf + ADAM_STATE_HEADER, a->n * sizeof(float));
    ss_status st = ss_be_tensor_write(a->be, a->m, tmp);
    if (st == SS_OK) {
        memcpy(tmp, buf + ADAM_STATE_HEADER + a->n * sizeof(float), a->n * sizeof(float));
        st = ss_be_tensor_write(a->be, a->v, tmp);
    }
    free(tmp);
    if (st == SS_OK) a->t = t;
    return st;
}
