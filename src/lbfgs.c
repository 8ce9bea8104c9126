/* lbfgs.c - L-BFGS on backend tensors: the two-loop recursion over a ring of
 * m (s, y) pairs, and the Moré–Thuente line search (J. J. Moré and
 * D. J. Thuente, "Line search algorithms with guaranteed sufficient
 * decrease", ACM TOMS 20(3), 1994), written from the paper's algorithm with
 * the interval rules of MINPACK-2's dcsrch/dcstep.
 *
 * Vectors (x, g, d, s, y) are backend tensors touched only through the
 * backend's vec_* operations; scalars (dot products, steps, the interval of
 * uncertainty) are host doubles. Memory: 2*m + 5 tensors of x's size. */
#include "lbfgs.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Moré–Thuente constants: the extrapolation range [XTRAPL, XTRAPU] times the
 * last step's distance, and the bisection safeguard. */
#define XTRAPL 1.1
#define XTRAPU 4.0
#define P66 0.66

struct ss_lbfgs {
    ss_backend *be;
    ss_lbfgs_params p;
    int c, h, w;

    /* ---- optimizer state ---- */
    /* A checkpoint serialises exactly this block (ss_lbfgs_state_save /
     * ss_lbfgs_state_load): the ring of `count` pairs ending
     * before `head` (s[i], y[i] read with tensor_read, and ys[i], yy[i]), and
     * when have_point is set the remembered point: f_point, xp (its x) and
     * g (its gradient). Everything else is scratch. */
    ss_tensor **s, **y; /* ring of m pairs: s = x_{k+1} - x_k, y = g_{k+1} - g_k */
    double *ys, *yy;    /* y.s (rho = 1 / ys) and y.y of each pair */
    int count;          /* pairs held, 0..m */
    int head;           /* slot the next pair goes to; the newest is head - 1 */
    int have_point;     /* xp, g and f_point describe the point returned last */
    double f_point;

    /* ---- scratch ---- */
    double *alpha;    /* two-loop coefficients, one per pair */
    ss_tensor *g;     /* gradient at the current point (the objective writes here) */
    ss_tensor *gp;    /* gradient at the previous point */
    ss_tensor *gbest; /* gradient at the lowest trial point of a line search */
    ss_tensor *xp;    /* the previous point; between calls, the point returned last */
    ss_tensor *d;     /* the search direction */
};

/* ---- thin wrappers over the backend's vector operations ---- */

static ss_status v_dot(ss_lbfgs *o, double *out, const ss_tensor *a, const ss_tensor *b) {
    return ss_be_vec_dot(o->be, out, a, b);
}
static ss_status v_axpy(ss_lbfgs *o, ss_tensor *y, double alpha, const ss_tensor *x) {
    return ss_be_vec_axpy(o->be, y, alpha, x);
}
static ss_status v_scale(ss_lbfgs *o, ss_tensor *x, double alpha) { return ss_be_vec_scale(o->be, x, alpha); }
static ss_status v_copy(ss_lbfgs *o, ss_tensor *dst, const ss_tensor *src) { return ss_be_vec_copy(o->be, dst, src); }

static void swap_tensors(ss_tensor **a, ss_tensor **b) {
    ss_tensor *t = *a;
    *a = *b;
    *b = t;
}

/* ---- parameters ---- */

void ss_lbfgs_params_defaults(ss_lbfgs_params *p) {
    p->m = 10;
    p->epsilon = 1e-5;
    p->delta = 0.0;
    p->max_linesearch = 20;
    p->ftol = 1e-4;
    p->gtol = 0.9;
    p->xtol = 1e-16;
    p->min_step = 1e-20;
    p->max_step = 1e20;
}

const char *ss_lbfgs_reason_name(ss_lbfgs_reason reason) {
    switch (reason) {
    case SS_LBFGS_MAX_EVALS: return "max_evals";
    case SS_LBFGS_CONVERGED: return "converged";
    case SS_LBFGS_CONVERGED_DELTA: return "converged_delta";
    case SS_LBFGS_LINESEARCH_FAILED: return "linesearch_failed";
    }
    return "unknown";
}

static ss_status check_params(const ss_lbfgs_params *p) {
    if (p->m < 1 || p->m > 1000) return ss_error(SS_ERR_ARG, "L-BFGS: history m=%d must be 1..1000", p->m);
    if (!(p->epsilon >= 0.0)) return ss_error(SS_ERR_ARG, "L-BFGS: epsilon=%g must be >= 0", p->epsilon);
    if (!(p->delta >= 0.0)) return ss_error(SS_ERR_ARG, "L-BFGS: delta=%g must be >= 0", p->delta);
    if (p->max_linesearch < 1) return ss_error(SS_ERR_ARG, "L-BFGS: max_linesearch=%d must be >= 1", p->max_linesearch);
    if (!(p->ftol > 0.0 && p->ftol < 0.5)) return ss_error(SS_ERR_ARG, "L-BFGS: ftol=%g must lie in (0, 0.5)", p->ftol);
    if (!(p->gtol > p->ftol && p->gtol < 1.0))
        return ss_error(SS_ERR_ARG, "L-BFGS: gtol=%g must lie in (ftol, 1)", p->gtol);
    if (!(p->xtol >= 0.0)) return ss_error(SS_ERR_ARG, "L-BFGS: xtol=%g must be >= 0", p->xtol);
    if (!(p->min_step > 0.0 && p->max_step > p->min_step && isfinite(p->max_step)))
        return ss_error(SS_ERR_ARG, "L-BFGS: steps need 0 < min_step (%g) < max_step (%g) < inf", p->min_step,
                        p->max_step);
    return SS_OK;
}

/* ---- life cycle ---- */

ss_status ss_lbfgs_new(ss_lbfgs **out, ss_backend *be, const ss_tensor *like, const ss_lbfgs_params *p) {
    if (!out || !be || !like) return ss_error(SS_ERR_ARG, "ss_lbfgs_new: NULL argument");
    if (!like->plain) return ss_error(SS_ERR_ARG, "L-BFGS: the iterate must be a plain tensor");
    ss_lbfgs_params params;
    if (p) params = *p;
    else ss_lbfgs_params_defaults(&params);
    SS_TRY(check_params(&params));

    ss_lbfgs *o = calloc(1, sizeof *o);
    SS_ALLOC_CHECK(o);
    o->be = be;
    o->p = params;
    o->c = like->c;
    o->h = like->h;
    o->w = like->w;
    int m = params.m;
    o->s = calloc((size_t)m, sizeof *o->s);
    o->y = calloc((size_t)m, sizeof *o->y);
    o->ys = calloc((size_t)m, sizeof *o->ys);
    o->yy = calloc((size_t)m, sizeof *o->yy);
    o->alpha = calloc((size_t)m, sizeof *o->alpha);
    if (!o->s || !o->y || !o->ys || !o->yy || !o->alpha) {
        ss_lbfgs_free(o);
        return ss_error(SS_ERR_NOMEM, "L-BFGS: out of memory for a history of %d pairs", m);
    }
    ss_status st = SS_OK;
    ss_tensor **work[] = {&o->g, &o->gp, &o->gbest, &o->xp, &o->d};
    for (size_t i = 0; i < sizeof work / sizeof work[0] && st == SS_OK; i++)
        st = ss_be_tensor_new(be, work[i], o->c, o->h, o->w);
    for (int i = 0; i < m && st == SS_OK; i++) {
        st = ss_be_tensor_new(be, &o->s[i], o->c, o->h, o->w);
        if (st == SS_OK) st = ss_be_tensor_new(be, &o->y[i], o->c, o->h, o->w);
    }
    if (st != SS_OK) {
        ss_lbfgs_free(o);
        return st;
    }
    *out = o;
    return SS_OK;
}

void ss_lbfgs_free(ss_lbfgs *o) {
    if (!o) return;
    ss_backend *be = o->be;
    ss_tensor *work[] = {o->g, o->gp, o->gbest, o->xp, o->d};
    for (size_t i = 0; i < sizeof work / sizeof work[0]; i++)
        if (work[i]) ss_be_tensor_free(be, work[i]);
    for (int i = 0; i < o->p.m; i++) {
        if (o->s && o->s[i]) ss_be_tensor_free(be, o->s[i]);
        if (o->y && o->y[i]) ss_be_tensor_free(be, o->y[i]);
    }
    free(o->s);
    free(o->y);
    free(o->ys);
    free(o->yy);
    free(o->alpha);
    free(o);
}

void ss_lbfgs_reset(ss_lbfgs *o) {
    if (!o) return;
    o->count = 0;
    o->head = 0;
    o->have_point = 0;
}

/* ---- checkpoints ---- */

enum { LBFGS_STATE_VERSION = 1, LBFGS_STATE_HEADER = 4 + 4 * 7 + 8 };

static size_t n_floats(const ss_lbfgs *o) { return (size_t)o->c * (size_t)o->h * (size_t)o->w; }

size_t ss_lbfgs_state_size(const ss_lbfgs *o) {
    if (!o) return 0;
    size_t vec = n_floats(o) * sizeof(float);
    return LBFGS_STATE_HEADER + (size_t)o->count * (2 * sizeof(double) + 2 * vec) + (o->have_point ? 2 * vec : 0);
}

static void put(unsigned char **p, const void *v, size_t n) {
    memcpy(*p, v, n);
    *p += n;
}

static void get(const unsigned char **p, void *v, size_t n) {
    memcpy(v, *p, n);
    *p += n;
}

/* tensor -> buffer (through the host floats tmp) */
static ss_status put_tensor(ss_lbfgs *o, unsigned char **p, const ss_tensor *t, float *tmp) {
    SS_TRY(ss_be_tensor_read(o->be, tmp, t));
    put(p, tmp, n_floats(o) * sizeof(float));
    return SS_OK;
}

static ss_status get_tensor(ss_lbfgs *o, const unsigned char **p, ss_tensor *t, float *tmp) {
    get(p, tmp, n_floats(o) * sizeof(float));
    return ss_be_tensor_write(o->be, t, tmp);
}

ss_status ss_lbfgs_state_save(ss_lbfgs *o, unsigned char *buf, size_t size) {
    if (!o || !buf) return ss_error(SS_ERR_ARG, "ss_lbfgs_state_save: NULL argument");
    if (size != ss_lbfgs_state_size(o))
        return ss_error(SS_ERR_ARG, "ss_lbfgs_state_save: %zu bytes given, the state has %zu", size,
                        ss_lbfgs_state_size(o));
    float *tmp = malloc(n_floats(o) * sizeof(float));
    SS_ALLOC_CHECK(tmp);
    unsigned char *p = buf;
    uint32_t u[3] = {LBFGS_STATE_VERSION, (uint32_t)o->p.m, (uint32_t)n_floats(o)};
    int32_t k[4] = {o->count, o->head, o->have_point, 0};
    put(&p, "LBFG", 4);
    put(&p, u, sizeof u);
    put(&p, k, sizeof k);
    put(&p, &o->f_point, sizeof o->f_point);
    ss_status st = SS_OK;
    int m = o->p.m;
    for (int j = 0; j < o->count && st == SS_OK; j++) {
        int i = (o->head - o->count + j + m) % m;
        put(&p, &o->ys[i], sizeof(double));
        put(&p, &o->yy[i], sizeof(double));
        st = put_tensor(o, &p, o->s[i], tmp);
        if (st == SS_OK) st = put_tensor(o, &p, o->y[i], tmp);
    }
    if (st == SS_OK && o->have_point) {
        st = put_tensor(o, &p, o->xp, tmp);
        if (st == SS_OK) st = put_tensor(o, &p, o->g, tmp);
    }
    free(tmp);
    return st;
}

ss_status ss_lbfgs_state_load(ss_lbfgs *o, const unsigned char *buf, size_t size) {
    if (!o || (!buf && size)) return ss_error(SS_ERR_ARG, "ss_lbfgs_state_load: NULL argument");
    ss_lbfgs_reset(o);
    if (size < LBFGS_STATE_HEADER || memcmp(buf, "LBFG", 4) != 0)
        return ss_error(SS_ERR_FORMAT, "L-BFGS state: not an L-BFGS state (%zu bytes)", size);
    const unsigned char *p = buf + 4;
    uint32_t u[3];
    int32_t k[4];
    double f_point;
    get(&p, u, sizeof u);
    get(&p, k, sizeof k);
    get(&p, &f_point, sizeof f_point);
    if (u[0] != LBFGS_STATE_VERSION)
        return ss_error(SS_ERR_FORMAT, "L-BFGS state: version %u, this program reads %d", u[0], LBFGS_STATE_VERSION);
    if (u[1] != (uint32_t)o->p.m || u[2] != (uint32_t)n_floats(o))
        return ss_error(SS_ERR_FORMAT, "L-BFGS state: made for history %u and %u floats, the optimizer has %d and %zu",
                        u[1], u[2], o->p.m, n_floats(o));
    int m = o->p.m, count = k[0], head = k[1], have_point = k[2];
    if (count < 0 || count > m || head < 0 || head >= m || (have_point != 0 && have_point != 1))
        return ss_error(SS_ERR_FORMAT, "L-BFGS state: bad count %d, head %d or point flag %d", count, head, have_point);
    size_t vec = n_floats(o) * sizeof(float);
    size_t want = LBFGS_STATE_HEADER + (size_t)count * (2 * sizeof(double) + 2 * vec) + (have_point ? 2 * vec : 0);
    if (size != want) return ss_error(SS_ERR_FORMAT, "L-BFGS state: %zu bytes, expected %zu", size, want);
    float *tmp = malloc(vec);
    SS_ALLOC_CHECK(tmp);
    ss_status st = SS_OK;
    for (int j = 0; j < count && st == SS_OK; j++) {
        int i = (head - count + j + m) % m;
        get(&p, &o->ys[i], sizeof(double));
        get(&p, &o->yy[i], sizeof(double));
        st = get_tensor(o, &p, o->s[i], tmp);
        if (st == SS_OK) st = get_tensor(o, &p, o->y[i], tmp);
    }
    if (st == SS_OK && have_point) {
        st = get_tensor(o, &p, o->xp, tmp);
        if (st == SS_OK) st = get_tensor(o, &p, o->g, tmp);
    }
    free(tmp);
    if (st != SS_OK) return st;
    o->count = count;
    o->head = head;
    o->have_point = have_point;
    o->f_point = f_point;
    return SS_OK;
}

/* ---- the Moré–Thuente step ---- */

/* One update of the interval of uncertainty [stx, sty] (with function values
 * and derivatives fx, dx, fy, dy) given the trial stp with fp, dp, and the
 * choice of the next trial step, kept in [stpmin, stpmax]. stx is always the
 * best step so far; *brackt becomes 1 once a minimiser is bracketed. The
 * four cases of Moré and Thuente, section 4:
 *   1. fp > fx: the minimum is bracketed; take the cubic step if it is closer
 *      to stx than the quadratic one, else their average.
 *   2. fp <= fx, derivatives of opposite sign: bracketed; take the cubic or
 *      the secant step, whichever is farther from stp.
 *   3. fp <= fx, same sign, |dp| decreasing: the cubic step if it lies
 *      beyond stp (else the bound), or the secant step, safeguarded.
 *   4. fp <= fx, same sign, |dp| not decreasing: the cubic through stp and
 *      sty when bracketed, else the bound in the direction of descent. */
static void mt_step(double *stx, double *fx, double *dx, double *sty, double *fy, double *dy, double *stp, double fp,
                    double dp, int *brackt, double stpmin, double stpmax) {
    double sgnd = dp * copysign(1.0, *dx);
    double stpf, stpc, stpq, theta, s, gamma, p, q, r;

    if (fp > *fx) {
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
        if (*stp < *stx) gamma = -gamma;
        p = (gamma - *dx) + theta;
        q = ((gamma - *dx) + gamma) + dp;
        r = p / q;
        stpc = *stx + r * (*stp - *stx);
        stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        if (fabs(stpc - *stx) < fabs(stpq - *stx)) stpf = stpc;
        else stpf = stpc + (stpq - stpc) / 2.0;
        *brackt = 1;
    } else if (sgnd < 0.0) {
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
        if (*stp > *stx) gamma = -gamma;
        p = (gamma - dp) + theta;
        q = ((gamma - dp) + gamma) + *dx;
        r = p / q;
        stpc = *stp + r * (*stx - *stp);
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (fabs(stpc - *stp) > fabs(stpq - *stp)) stpf = stpc;
        else stpf = stpq;
        *brackt = 1;
    } else if (fabs(dp) < fabs(*dx)) {
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        /* The cubic may have no minimiser here: gamma = 0 then. */
        gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
        if (*stp > *stx) gamma = -gamma;
        p = (gamma - dp) + theta;
        q = (gamma + (*dx - dp)) + gamma;
        r = p / q;
        if (r < 0.0 && gamma != 0.0) stpc = *stp + r * (*stx - *stp);
        else if (*stp > *stx) stpc = stpmax;
        else stpc = stpmin;
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (*brackt) {
            /* Keep the step within the bracket, away from its far end. */
            stpf = fabs(stpc - *stp) < fabs(stpq - *stp) ? stpc : stpq;
            if (*stp > *stx) stpf = fmin(*stp + P66 * (*sty - *stp), stpf);
            else stpf = fmax(*stp + P66 * (*sty - *stp), stpf);
        } else {
            stpf = fabs(stpc - *stp) > fabs(stpq - *stp) ? stpc : stpq;
            stpf = fmax(stpmin, fmin(stpmax, stpf));
        }
    } else {
        if (*brackt) {
            theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            s = fmax(fabs(theta), fmax(fabs(*dy), fabs(dp)));
            gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dy / s) * (dp / s)));
            if (*stp > *sty) gamma = -gamma;
            p = (gamma - dp) + theta;
            q = ((gamma - dp) + gamma) + *dy;
            r = p / q;
            stpf = *stp + r * (*sty - *stp);
        } else if (*stp > *stx) {
            stpf = stpmax;
        } else {
            stpf = stpmin;
        }
    }

    /* The new interval: sty moves to the trial when f rose, or to the old
     * stx when the derivative changed sign; the trial becomes stx otherwise. */
    if (fp > *fx) {
        *sty = *stp;
        *fy = fp;
        *dy = dp;
    } else {
        if (sgnd < 0.0) {
            *sty = *stx;
            *fy = *fx;
            *dy = *dx;
        }
        *stx = *stp;
        *fx = fp;
        *dx = dp;
    }
    *stp = stpf;
}

/* ---- the line search ---- */

typedef enum ls_outcome {
    LS_OK,     /* a step satisfying the strong Wolfe conditions: x, o->g, *f are at it */
    LS_BUDGET, /* the evaluation budget ran out */
    LS_FAILED  /* no such step can be found (interval too small, step bounds, max_linesearch) */
} ls_outcome;

/* Searches along o->d from o->xp (where f is f0 and the slope dg0 < 0),
 * first trying *stp. Trial points are written into x and evaluated into o->g.
 * On LS_OK, *stp, *f, x and o->g are those of the accepted step. Otherwise
 * *best_f and *best_stp are the lowest trial (f0 and 0 when none was lower)
 * and o->gbest holds its gradient; x holds the last trial. */
static ss_status line_search(ss_lbfgs *o, ss_tensor *x, ss_objective_fn fn, void *ctx, double f0, double dg0,
                             double *stp_io, double *f, int *evals, int max_evals, ls_outcome *outcome, double *best_f,
                             double *best_stp) {
    const ss_lbfgs_params *p = &o->p;
    double stp = *stp_io;
    int brackt = 0, stage = 1;
    const double finit = f0, ginit = dg0, gtest = p->ftol * dg0;
    double width = p->max_step - p->min_step, width1 = 2.0 * width;
    double stx = 0.0, fx = finit, gx = ginit;
    double sty = 0.0, fy = finit, gy = ginit;
    double stmin = 0.0, stmax = stp + XTRAPU * stp;
    double bad = -1.0; /* the nearest step where f or its slope was not finite, if > 0 */

    *best_f = f0;
    *best_stp = 0.0;
    for (int nls = 1;; nls++) {
        if (*evals >= max_evals) {
            *outcome = LS_BUDGET;
            return SS_OK;
        }
        SS_TRY(v_copy(o, x, o->xp));
        SS_TRY(v_axpy(o, x, stp, o->d));
        double ft = NAN, dg = NAN;
        SS_TRY(fn(ctx, &ft, o->g, x));
        (*evals)++;
        SS_TRY(v_dot(o, &dg, o->g, o->d));

        if (!isfinite(ft) || !isfinite(dg)) {
            /* Overflow or a domain error: step back halfway towards the best
             * step, and never go as far again. */
            bad = stp;
            if (nls >= p->max_linesearch || stp == stx) {
                *outcome = LS_FAILED;
                return SS_OK;
            }
            stp = stx + 0.5 * (stp - stx);
            continue;
        }

        double ftest = finit + stp * gtest;
        if (stage == 1 && ft <= ftest && dg >= 0.0) stage = 2;
        if (ft <= ftest && fabs(dg) <= p->gtol * (-ginit)) {
            *stp_io = stp;
            *f = ft;
            *outcome = LS_OK;
            return SS_OK;
        }
        if (ft < *best_f) {
            *best_f = ft;
            *best_stp = stp;
            SS_TRY(v_copy(o, o->gbest, o->g));
        }
        if ((brackt && (stp <= stmin || stp >= stmax)) ||          /* rounding errors */
            (brackt && stmax - stmin <= p->xtol * stmax) ||        /* interval too small */
            (stp == p->max_step && ft <= ftest && dg <= gtest) ||  /* the step hit max_step */
            (stp == p->min_step && (ft > ftest || dg >= gtest)) || /* the step hit min_step */
            nls >= p->max_linesearch) {
            *outcome = LS_FAILED;
            return SS_OK;
        }

        /* In the first stage, while no step has both psi(stp) <= 0 and
         * f'(stp) >= 0, work on the modified function
         * psi(stp) = f(stp) - f(0) - ftol * stp * f'(0), whose minimisers
         * satisfy the sufficient decrease condition. */
        if (stage == 1 && ft <= fx && ft > ftest) {
            double fm = ft - stp * gtest, gm = dg - gtest;
            double fxm = fx - stx * gtest, gxm = gx - gtest;
            double fym = fy - sty * gtest, gym = gy - gtest;
            mt_step(&stx, &fxm, &gxm, &sty, &fym, &gym, &stp, fm, gm, &brackt, stmin, stmax);
            fx = fxm + stx * gtest;
            fy = fym + sty * gtest;
            gx = gxm + gtest;
            gy = gym + gtest;
        } else {
            mt_step(&stx, &fx, &gx, &sty, &fy, &gy, &stp, ft, dg, &brackt, stmin, stmax);
        }

        /* Bisect when the bracket did not shrink enough over two steps. */
        if (brackt) {
            if (fabs(sty - stx) >= P66 * width1) stp = stx + 0.5 * (sty - stx);
            width1 = width;
            width = fabs(sty - stx);
        }
        if (brackt) {
            stmin = fmin(stx, sty);
            stmax = fmax(stx, sty);
        } else {
            stmin = stp + XTRAPL * (stp - stx);
            stmax = stp + XTRAPU * (stp - stx);
        }
        stp = fmax(p->min_step, fmin(p->max_step, stp));
        if (bad > 0.0 && ((bad > stx && stp >= bad) || (bad < stx && stp <= bad))) stp = stx + 0.5 * (bad - stx);
        /* When no progress is possible, MINPACK retries stx, which has been
         * evaluated already: stop instead (the caller takes the best trial). */
        if (brackt && (stp <= stmin || stp >= stmax || stmax - stmin <= p->xtol * stmax)) {
            *outcome = LS_FAILED;
            return SS_OK;
        }
    }
}

/* ---- L-BFGS ---- */

/* d = -H g by the two-loop recursion over the pairs, with H0 = (y.s / y.y) I
 * from the newest pair. */
static ss_status two_loop(ss_lbfgs *o) {
    int m = o->p.m;
    SS_TRY(v_copy(o, o->d, o->g));
    SS_TRY(v_scale(o, o->d, -1.0));
    int i = o->head;
    for (int k = 0; k < o->count; k++) {
        i = (i - 1 + m) % m;
        double sd;
        SS_TRY(v_dot(o, &sd, o->s[i], o->d));
        o->alpha[i] = sd / o->ys[i];
        SS_TRY(v_axpy(o, o->d, -o->alpha[i], o->y[i]));
    }
    int newest = (o->head - 1 + m) % m;
    SS_TRY(v_scale(o, o->d, o->ys[newest] / o->yy[newest]));
    int oldest = (o->head - o->count + m) % m;
    for (int k = 0; k < o->count; k++) {
        i = (oldest + k) % m;
        double yd;
        SS_TRY(v_dot(o, &yd, o->y[i], o->d));
        SS_TRY(v_axpy(o, o->d, o->alpha[i] - yd / o->ys[i], o->s[i]));
    }
    return SS_OK;
}

/* Adds the pair s = x - xp, y = g - gp to the ring, unless its curvature y.s
 * is not safely positive (cosine of s and y at most FLT_EPSILON: float32
 * noise), in which case the ring is left as it was. */
static ss_status push_pair(ss_lbfgs *o, const ss_tensor *x) {
    int i = o->head;
    double ys, yy, ss;
    SS_TRY(v_copy(o, o->s[i], x));
    SS_TRY(v_axpy(o, o->s[i], -1.0, o->xp));
    SS_TRY(v_copy(o, o->y[i], o->g));
    SS_TRY(v_axpy(o, o->y[i], -1.0, o->gp));
    SS_TRY(v_dot(o, &ys, o->y[i], o->s[i]));
    SS_TRY(v_dot(o, &yy, o->y[i], o->y[i]));
    SS_TRY(v_dot(o, &ss, o->s[i], o->s[i]));
    if (!isfinite(ys) || !isfinite(yy) || !(ys > FLT_EPSILON * sqrt(ss * yy))) return SS_OK;
    o->ys[i] = ys;
    o->yy[i] = yy;
    o->head = (o->head + 1) % o->p.m;
    if (o->count < o->p.m) o->count++;
    return SS_OK;
}

/* The iterations of ss_lbfgs_minimize. *in_search is 1 while x holds a trial
 * point (the last accepted point being in o->xp), so that the caller can
 * restore x after a failure. */
static ss_status iterate(ss_lbfgs *o, ss_tensor *x, ss_objective_fn fn, void *ctx, int max_evals, double f,
                         ss_lbfgs_result *r, int *in_search) {
    const ss_lbfgs_params *p = &o->p;
    int retried = 0; /* the history was dropped after a failed line search */
    int x_is_xp = 0; /* x equals o->xp (skip the final copy) */

    for (;;) {
        double xx, gg;
        SS_TRY(v_dot(o, &xx, x, x));
        SS_TRY(v_dot(o, &gg, o->g, o->g));
        if (!isfinite(gg) || !isfinite(xx))
            return ss_error(SS_ERR_NUMERIC, "L-BFGS: the gradient or the iterate is not finite");
        double gnorm = sqrt(gg), xnorm = sqrt(xx);
        if (gnorm <= p->epsilon * fmax(1.0, xnorm)) {
            r->reason = SS_LBFGS_CONVERGED;
            break;
        }
        if (r->evals >= max_evals) {
            r->reason = SS_LBFGS_MAX_EVALS;
            break;
        }

        /* The direction: quasi-Newton when there is history (first trial
         * step 1), else steepest descent with a first trial of unit length. */
        double step = 1.0, dg = 0.0;
        if (o->count > 0) {
            SS_TRY(two_loop(o));
            SS_TRY(v_dot(o, &dg, o->g, o->d));
        }
        if (o->count == 0 || !(dg < 0.0) || !isfinite(dg)) {
            o->count = 0; /* not a descent direction (rounding): start afresh */
            o->head = 0;
            SS_TRY(v_copy(o, o->d, o->g));
            SS_TRY(v_scale(o, o->d, -1.0));
            dg = -gg;
            step = 1.0 / gnorm;
        }
        step = fmax(p->min_step, fmin(p->max_step, step));

        /* The current point becomes the previous one. */
        SS_TRY(v_copy(o, o->xp, x));
        swap_tensors(&o->g, &o->gp);
        double f0 = f, best_f = f, best_stp = 0.0;
        ls_outcome outcome = LS_FAILED;
        *in_search = 1;
        x_is_xp = 0;
        SS_TRY(line_search(o, x, fn, ctx, f0, dg, &step, &f, &r->evals, max_evals, &outcome, &best_f, &best_stp));

        int accepted = 0;
        if (outcome == LS_OK) {
            accepted = 1;
        } else if (best_f < f0) {
            /* Take the lowest trial: recompute its x (the same operations
             * give the same floats) and bring back its gradient. */
            SS_TRY(v_copy(o, x, o->xp));
            SS_TRY(v_axpy(o, x, best_stp, o->d));
            swap_tensors(&o->g, &o->gbest);
            f = best_f;
            accepted = 1;
        } else {
            SS_TRY(v_copy(o, x, o->xp));
            swap_tensors(&o->g, &o->gp);
            f = f0;
            x_is_xp = 1;
        }
        *in_search = 0;

        if (accepted) {
            r->iterations++;
            if (outcome != LS_FAILED) SS_TRY(push_pair(o, x));
        }
        if (outcome == LS_BUDGET) {
            r->reason = SS_LBFGS_MAX_EVALS;
            break;
        }
        if (outcome == LS_FAILED) {
            /* Like scipy: drop the history once and try steepest descent;
             * a second failure in a row (or a failed steepest descent that
             * found nothing lower) ends the minimisation. */
            if (retried || (!accepted && o->count == 0)) {
                r->reason = SS_LBFGS_LINESEARCH_FAILED;
                break;
            }
            o->count = 0;
            o->head = 0;
            retried = 1;
            continue;
        }
        retried = 0;
        if (p->delta > 0.0 && (f0 - f) <= p->delta * fmax(fmax(fabs(f0), fabs(f)), 1.0)) {
            r->reason = SS_LBFGS_CONVERGED_DELTA;
            break;
        }
    }

    /* Remember the returned point, so that the next call can go on from it
     * without evaluating it again. */
    if (!x_is_xp) SS_TRY(v_copy(o, o->xp, x));
    o->f_point = f;
    o->have_point = 1;
    r->f = f;
    return SS_OK;
}

ss_status ss_lbfgs_minimize(ss_lbfgs *o, ss_tensor *x, ss_objective_fn fn, void *ctx, int max_evals,
                            ss_lbfgs_result *res) {
    if (!o || !x || !fn) return ss_error(SS_ERR_ARG, "ss_lbfgs_minimize: NULL argument");
    if (max_evals < 1) return ss_error(SS_ERR_ARG, "L-BFGS: max_evals=%d must be at least 1", max_evals);
    if (!x->plain || x->c != o->c || x->h != o->h || x->w != o->w || x->size != o->xp->size)
        return ss_error(SS_ERR_ARG,
                        "L-BFGS: the iterate is (%d, %d, %d)%s, the optimizer was made for "
                        "plain (%d, %d, %d)",
                        x->c, x->h, x->w, x->plain ? "" : " not plain", o->c, o->h, o->w);

    ss_lbfgs_result r = {NAN, 0, 0, SS_LBFGS_MAX_EVALS};
    double f = NAN;
    int reuse = 0;
    if (o->have_point) {
        double dd;
        SS_TRY(v_copy(o, o->d, x));
        SS_TRY(v_axpy(o, o->d, -1.0, o->xp));
        SS_TRY(v_dot(o, &dd, o->d, o->d));
        reuse = (dd == 0.0);
    }
    o->have_point = 0;
    if (reuse) {
        f = o->f_point;
    } else {
        SS_TRY(fn(ctx, &f, o->g, x));
        r.evals = 1;
        if (!isfinite(f)) return ss_error(SS_ERR_NUMERIC, "L-BFGS: f is %g at the starting point", f);
    }

    int in_search = 0;
    ss_status st = iterate(o, x, fn, ctx, max_evals, f, &r, &in_search);
    if (st != SS_OK) {
        o->have_point = 0;
        if (in_search) (void)v_copy(o, x, o->xp); /* back to the last accepted point */
    }
    if (res) *res = r;
    return st;
}
