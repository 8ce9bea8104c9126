/* test_lbfgs.c - the L-BFGS and Adam optimizers (src/lbfgs.c, src/adam.c) on
 * the backend STYLESWEEP_TEST_BACKEND names (the CPU by default), against liblbfgs (Debian liblbfgs-dev, double
 * precision).
 *
 * Problems: Rosenbrock (n = 2), the extended Rosenbrock of liblbfgs' sample
 * (n = 100, independent pairs, start (-1.2, 1, -1.2, 1, ...)), and two
 * ill-conditioned quadratics (n = 100, eigenvalues log-spaced 1..1e4:
 * diagonal, and rotated by a Householder reflection). All minima are 0.
 * Both optimizers use m = 10, the Moré–Thuente line search (ftol 1e-4,
 * gtol 0.9) and the gradient test epsilon = 1e-5.
 *
 * Tolerances: our iterate is float32 (the backend stores floats) while
 * liblbfgs works in double, so near a minimum our line search stops on
 * rounding before liblbfgs does. We accept
 *   - f: |f_ours - f_liblbfgs| <= max(1e-4 * |f_liblbfgs|, 1e-6)
 *     (relative 1e-4, or absolute 1e-6 since every minimum is 0);
 *   - x: max_i |x_i - x*_i| <= 1e-3 (the gradient test allows an error of
 *     about 1e-5 * ||x|| / lambda_min = 1e-4 with lambda_min ~ 1, plus the
 *     flat valley of Rosenbrock);
 *   - evaluations: ours <= 2 * liblbfgs's + 2 (the + 2 covers the steepest-
 *     descent retry that ends a float32 run when rounding stops progress).
 * The other checks state their rules where they are made.
 *
 * The liblbfgs header is included by its full path because src/lbfgs.h (ours)
 * shadows <lbfgs.h> on the include path. Exit status: 0 when every check
 * passes; otherwise the first failures are printed and the status is 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "/usr/include/lbfgs.h"

#include "adam.h"
#include "backend.h"
#include "backend_env.h"
#include "lbfgs.h"
#include "status.h"
#include "testlib.h"

/* ---- problems (host, double precision) ---- */

enum { NMAX = 100 };

typedef struct problem {
    const char *name;
    int n;
    int kind;           /* 0 Rosenbrock pairs, 1 diagonal quadratic, 2 rotated quadratic */
    double x0[NMAX];    /* start */
    double xstar[NMAX]; /* minimiser */
    double diag[NMAX];  /* quadratic eigenvalues */
    double v[NMAX];     /* Householder vector of the rotation, |v| = 1 */
    double cap;         /* f is +inf where x[0] > cap (when cap is finite) */
} problem;

/* f(x) and g; Rosenbrock pairs: sum (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2
 * over even i; quadratics: 0.5 r^T Q D Q^T r with r = x - x*, Q = I - 2 v v^T. */
static double problem_eval(const problem *p, const double *x, double *g) {
    int n = p->n;
    double f = 0.0;
    if (p->kind == 0) {
        for (int i = 0; i < n; i += 2) {
            double t1 = 1.0 - x[i], t2 = 10.0 * (x[i + 1] - x[i] * x[i]);
            g[i + 1] = 20.0 * t2;
            g[i] = -2.0 * (x[i] * g[i + 1] + t1);
            f += t1 * t1 + t2 * t2;
        }
    } else {
        double r[NMAX], z[NMAX], vr = 0.0, vz = 0.0;
        for (int i = 0; i < n; i++) r[i] = x[i] - p->xstar[i];
        if (p->kind == 2)
            for (int i = 0; i < n; i++) vr += p->v[i] * r[i];
        for (int i = 0; i < n; i++) z[i] = r[i] - 2.0 * p->v[i] * vr; /* z = Q^T r (Q symmetric) */
        for (int i = 0; i < n; i++) {
            f += 0.5 * p->diag[i] * z[i] * z[i];
            z[i] *= p->diag[i];
        }
        if (p->kind == 2)
            for (int i = 0; i < n; i++) vz += p->v[i] * z[i];
        for (int i = 0; i < n; i++) g[i] = z[i] - 2.0 * p->v[i] * vz;
    }
    if (isfinite(p->cap) && x[0] > p->cap) return INFINITY;
    return f;
}

static void problem_rosenbrock(problem *p, const char *name, int n) {
    memset(p, 0, sizeof *p);
    p->name = name;
    p->n = n;
    p->kind = 0;
    p->cap = INFINITY;
    for (int i = 0; i < n; i += 2) {
        p->x0[i] = -1.2;
        p->x0[i + 1] = 1.0;
    }
    for (int i = 0; i < n; i++) p->xstar[i] = 1.0;
}

static void problem_quadratic(problem *p, const char *name, int n, int rotated) {
    memset(p, 0, sizeof *p);
    p->name = name;
    p->n = n;
    p->kind = rotated ? 2 : 1;
    p->cap = INFINITY;
    double vv = 0.0;
    for (int i = 0; i < n; i++) {
        p->diag[i] = pow(10.0, 4.0 * i / (n - 1));
        p->xstar[i] = 1.0 + 0.5 * cos(0.7 * i);
        p->x0[i] = 0.0;
        p->v[i] = rotated ? sin(1.3 * i + 0.4) : 0.0;
        vv += p->v[i] * p->v[i];
    }
    if (rotated)
        for (int i = 0; i < n; i++) p->v[i] /= sqrt(vv);
}

static double max_abs_err(const problem *p, const double *x) {
    double e = 0.0;
    for (int i = 0; i < p->n; i++) e = fmax(e, fabs(x[i] - p->xstar[i]));
    return e;
}

/* ---- our objective on backend tensors ---- */

typedef struct objective {
    ss_backend *be;
    const problem *p;
    float hx[NMAX], hg[NMAX];
    long evals;     /* all evaluations */
    int call_evals; /* evaluations in the current minimize call */
    int fail_at;    /* return SS_ERR_INTERRUPTED at this evaluation of the call (0: never) */
} objective;

static ss_status objective_eval(void *vctx, double *f, ss_tensor *grad, const ss_tensor *x) {
    objective *o = vctx;
    if (o->fail_at && o->call_evals + 1 == o->fail_at)
        return ss_error(SS_ERR_INTERRUPTED, "test: stopped at evaluation %d", o->fail_at);
    double dx[NMAX] = {0}, dg[NMAX] = {0};
    ss_status st = o->be->iface->tensor_read(o->be, o->hx, x);
    if (st != SS_OK) return st;
    for (int i = 0; i < o->p->n; i++) dx[i] = o->hx[i];
    *f = problem_eval(o->p, dx, dg);
    for (int i = 0; i < o->p->n; i++) o->hg[i] = (float)dg[i];
    o->evals++;
    o->call_evals++;
    return o->be->iface->tensor_write(o->be, grad, o->hg);
}

/* One minimize call that also checks the budget rule: the evaluations
 * counted in the callback equal res->evals and never exceed max_evals. */
static ss_status minimize_checked(ss_lbfgs *opt, ss_tensor *x, objective *o, int max_evals, ss_lbfgs_result *res) {
    o->call_evals = 0;
    ss_status st = ss_lbfgs_minimize(opt, x, objective_eval, o, max_evals, res);
    CHECK(o->call_evals <= max_evals, "%s: %d evaluations with max_evals %d", o->p->name, o->call_evals, max_evals);
    if (st == SS_OK)
        CHECK(o->call_evals == res->evals, "%s: callback counted %d evaluations, result says %d", o->p->name,
              o->call_evals, res->evals);
    return st;
}

static void tensor_set(ss_backend *be, ss_tensor *t, const double *x, int n) {
    float h[NMAX];
    for (int i = 0; i < n; i++) h[i] = (float)x[i];
    MUST(be->iface->tensor_write(be, t, h));
}

static void tensor_get(ss_backend *be, double *x, const ss_tensor *t, int n) {
    float h[NMAX];
    MUST(be->iface->tensor_read(be, h, t));
    for (int i = 0; i < n; i++) x[i] = h[i];
}

static double f_at(ss_backend *be, const problem *p, const ss_tensor *t) {
    double x[NMAX], g[NMAX];
    tensor_get(be, x, t, p->n);
    return problem_eval(p, x, g);
}

/* ---- liblbfgs ---- */

typedef struct lib_ctx {
    const problem *p;
    int evals;
} lib_ctx;

static lbfgsfloatval_t lib_eval(void *inst, const lbfgsfloatval_t *x, lbfgsfloatval_t *g, const int n,
                                const lbfgsfloatval_t step) {
    (void)n;
    (void)step;
    lib_ctx *c = inst;
    c->evals++;
    return problem_eval(c->p, x, g);
}

/* Runs liblbfgs from p's start; returns its status, and f, x, evaluations. */
static int lib_run(const problem *p, double *f, double *x, int *evals) {
    lbfgs_parameter_t param;
    lbfgs_parameter_init(&param);
    param.m = 10;
    param.epsilon = 1e-5;
    param.linesearch = LBFGS_LINESEARCH_MORETHUENTE;
    lbfgsfloatval_t *lx = lbfgs_malloc(p->n);
    if (!lx) {
        printf("FAIL: lbfgs_malloc\n");
        exit(1);
    }
    for (int i = 0; i < p->n; i++) lx[i] = p->x0[i];
    lib_ctx c = {p, 0};
    lbfgsfloatval_t fx = 0.0;
    int ret = lbfgs(p->n, lx, &fx, lib_eval, NULL, &c, &param);
    for (int i = 0; i < p->n; i++) x[i] = lx[i];
    lbfgs_free(lx);
    *f = fx;
    *evals = c.evals;
    return ret;
}

/* ---- tests ---- */

static ss_lbfgs *new_opt(ss_backend *be, const ss_tensor *like) {
    ss_lbfgs_params prm;
    ss_lbfgs_params_defaults(&prm);
    ss_lbfgs *opt = NULL;
    MUST(ss_lbfgs_new(&opt, be, like, &prm));
    return opt;
}

/* One long call against liblbfgs. Returns our evaluations (for later tests). */
static int test_versus_liblbfgs(ss_backend *be, const problem *p) {
    double lf, lx[NMAX];
    int levals;
    int lret = lib_run(p, &lf, lx, &levals);
    CHECK(lret == 0 || lret == LBFGS_ALREADY_MINIMIZED || lret == LBFGSERR_ROUNDING_ERROR, "%s: liblbfgs returned %d",
          p->name, lret);

    ss_tensor *x = NULL;
    MUST(be->iface->tensor_new(be, &x, 1, 1, p->n));
    tensor_set(be, x, p->x0, p->n);
    ss_lbfgs *opt = new_opt(be, x);
    objective o = {.be = be, .p = p};
    ss_lbfgs_result r;
    MUST(minimize_checked(opt, x, &o, 100000, &r));
    double ox[NMAX];
    tensor_get(be, ox, x, p->n);
    double fx = f_at(be, p, x);

    printf(
        "%-22s liblbfgs: f=%.3e evals=%4d ret=%d   ours: f=%.3e evals=%4d iters=%4d %s  "
        "|x-x*|=%.1e (liblbfgs %.1e)\n",
        p->name, lf, levals, lret, r.f, r.evals, r.iterations, ss_lbfgs_reason_name(r.reason), max_abs_err(p, ox),
        max_abs_err(p, lx));
    CHECK(fabs(r.f - fx) <= 1e-12 * fmax(1.0, fabs(fx)), "%s: res.f %.9e is not f at the returned x (%.9e)", p->name,
          r.f, fx);
    CHECK(r.reason == SS_LBFGS_CONVERGED || r.reason == SS_LBFGS_LINESEARCH_FAILED, "%s: stopped by %s", p->name,
          ss_lbfgs_reason_name(r.reason));
    CHECK(fabs(r.f - lf) <= fmax(1e-4 * fabs(lf), 1e-6), "%s: f %.6e, liblbfgs %.6e", p->name, r.f, lf);
    CHECK(max_abs_err(p, ox) <= 1e-3, "%s: max |x - x*| = %.3e", p->name, max_abs_err(p, ox));
    CHECK(r.evals <= 2 * levals + 2, "%s: %d evaluations, liblbfgs %d (rule: <= 2x + 2)", p->name, r.evals, levals);
    ss_lbfgs_free(opt);
    be->iface->tensor_free(be, x);
    return r.evals;
}

/* The reference's schedule: reset, then at most 20 evaluations, repeated. */
static void test_restarts(ss_backend *be, const problem *p) {
    ss_tensor *x = NULL;
    MUST(be->iface->tensor_new(be, &x, 1, 1, p->n));
    tensor_set(be, x, p->x0, p->n);
    ss_lbfgs *opt = new_opt(be, x);
    objective o = {.be = be, .p = p};
    ss_lbfgs_result r = {0};
    int outer = 0;
    long evals = 0;
    double fprev = INFINITY;
    for (outer = 1; outer <= 100; outer++) {
        ss_lbfgs_reset(opt);
        MUST(minimize_checked(opt, x, &o, 20, &r));
        evals += r.evals;
        CHECK(r.f <= fprev, "%s restarts: f rose from %.6e to %.6e at outer iteration %d", p->name, fprev, r.f, outer);
        fprev = r.f;
        if (r.f < 1e-8 || r.reason != SS_LBFGS_MAX_EVALS) break;
    }
    double ox[NMAX];
    tensor_get(be, ox, x, p->n);
    printf("%-22s restarted every 20 evals: f=%.3e after %d outer iterations, %ld evals\n", p->name, r.f, outer, evals);
    /* Rule: within 100 outer iterations, the same minimum as one long run. */
    CHECK(r.f <= 1e-6, "%s restarts: f = %.3e after %d outer iterations", p->name, r.f, outer);
    CHECK(max_abs_err(p, ox) <= 1e-3, "%s restarts: max |x - x*| = %.3e", p->name, max_abs_err(p, ox));
    ss_lbfgs_free(opt);
    be->iface->tensor_free(be, x);
}

/* Continuous L-BFGS: the history kept over calls of 20 evaluations each. */
static void test_continuous(ss_backend *be, const problem *p, int long_evals) {
    ss_tensor *x = NULL;
    MUST(be->iface->tensor_new(be, &x, 1, 1, p->n));
    tensor_set(be, x, p->x0, p->n);
    ss_lbfgs *opt = new_opt(be, x);
    objective o = {.be = be, .p = p};
    ss_lbfgs_result r = {0};
    long evals = 0;
    int calls = 0;
    for (calls = 1; calls <= 1000; calls++) {
        MUST(minimize_checked(opt, x, &o, 20, &r));
        evals += r.evals;
        /* Every call but the first goes on from the remembered point, so it
         * spends its whole budget on steps unless it stops early. */
        if (r.reason == SS_LBFGS_MAX_EVALS)
            CHECK(r.evals == 20, "%s continuous: call %d used %d of 20 evaluations", p->name, calls, r.evals);
        if (r.reason != SS_LBFGS_MAX_EVALS) break;
    }
    double ox[NMAX];
    tensor_get(be, ox, x, p->n);
    printf("%-22s continuous (20 per call): f=%.3e, %d calls, %ld evals (one long call: %d)\n", p->name, r.f, calls,
           evals, long_evals);
    CHECK(r.f <= 1e-6, "%s continuous: f = %.3e", p->name, r.f);
    CHECK(max_abs_err(p, ox) <= 1e-3, "%s continuous: max |x - x*| = %.3e", p->name, max_abs_err(p, ox));
    /* Rule: about as many evaluations as one long call (within 25% + 10). */
    CHECK(evals <= 1.25 * long_evals + 10, "%s continuous: %ld evaluations, one long call %d", p->name, evals,
          long_evals);
    ss_lbfgs_free(opt);
    be->iface->tensor_free(be, x);
}

/* Budgets: never more than max_evals; the remembered point is reused only
 * without a reset; x stays the best point. */
static void test_budgets(ss_backend *be, const problem *p) {
    ss_tensor *x = NULL;
    MUST(be->iface->tensor_new(be, &x, 1, 1, p->n));
    ss_lbfgs *opt = new_opt(be, x);
    objective o = {.be = be, .p = p};
    ss_lbfgs_result r;
    const int budgets[] = {1, 2, 3, 4, 5, 7, 11, 20, 33};
    for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
        tensor_set(be, x, p->x0, p->n);
        ss_lbfgs_reset(opt);
        double f0 = f_at(be, p, x);
        MUST(minimize_checked(opt, x, &o, budgets[b], &r));
        CHECK(r.f <= f0, "%s budget %d: f %.6e above the start's %.6e", p->name, budgets[b], r.f, f0);
        CHECK(fabs(r.f - f_at(be, p, x)) <= 1e-12 * fmax(1.0, fabs(r.f)), "%s budget %d: res.f is not f at x", p->name,
              budgets[b]);
        CHECK(r.evals == budgets[b] || r.reason != SS_LBFGS_MAX_EVALS, "%s budget %d: stopped for max_evals after %d",
              p->name, budgets[b], r.evals);
    }

    /* max_evals 1 after a reset: only the evaluation at the start, x unchanged. */
    double x0[NMAX], x1[NMAX];
    tensor_set(be, x, p->x0, p->n);
    ss_lbfgs_reset(opt);
    MUST(minimize_checked(opt, x, &o, 1, &r));
    tensor_get(be, x0, x, p->n);
    CHECK(r.evals == 1 && r.iterations == 0, "%s: max_evals 1 made %d evaluations, %d iterations", p->name, r.evals,
          r.iterations);
    for (int i = 0; i < p->n; i++) CHECK(x0[i] == (double)(float)p->x0[i], "%s: max_evals 1 moved x", p->name);
    /* Without a reset the point is remembered: the one evaluation is a trial
     * step (the objective's last x is not the start), accepted when lower. */
    double fstart = r.f;
    MUST(minimize_checked(opt, x, &o, 1, &r));
    tensor_get(be, x1, x, p->n);
    int trial = 0;
    for (int i = 0; i < p->n; i++) trial |= o.hx[i] != (float)p->x0[i];
    CHECK(r.evals == 1 && trial, "%s: continued call: %d evaluations, %s", p->name, r.evals,
          trial ? "a trial step" : "the start evaluated again");
    int same = memcmp(x0, x1, sizeof(double) * (size_t)p->n) == 0;
    CHECK(r.iterations == 1 ? r.f < fstart : (r.f == fstart && same),
          "%s: continued call: %d iterations, f %.6e (start %.6e)", p->name, r.iterations, r.f, fstart);
    /* After a reset the point is evaluated again. */
    ss_lbfgs_reset(opt);
    MUST(minimize_checked(opt, x, &o, 1, &r));
    CHECK(r.iterations == 0, "%s: the call after a reset did not evaluate its start", p->name);
    /* A changed x is evaluated even without a reset. */
    tensor_set(be, x, p->x0, p->n);
    MUST(minimize_checked(opt, x, &o, 1, &r));
    CHECK(r.iterations == 0 && fabs(r.f - fstart) <= 1e-12 * fabs(fstart),
          "%s: a changed x was not evaluated (f %.6e, start %.6e)", p->name, r.f, fstart);

    ss_lbfgs_free(opt);
    be->iface->tensor_free(be, x);
}

/* Errors: bad arguments, a non-finite start, the objective's own error, and
 * infinite values inside a line search. */
static void test_errors(ss_backend *be) {
    problem p;
    problem_quadratic(&p, "quadratic-errors", 100, 0);
    ss_tensor *x = NULL;
    MUST(be->iface->tensor_new(be, &x, 1, 1, p.n));
    ss_lbfgs *opt = new_opt(be, x);
    objective o = {.be = be, .p = &p};
    ss_lbfgs_result r;

    tensor_set(be, x, p.x0, p.n);
    CHECK(ss_lbfgs_minimize(opt, x, objective_eval, &o, 0, &r) == SS_ERR_ARG, "max_evals 0 was accepted");
    ss_lbfgs_params bad;
    ss_lbfgs_params_defaults(&bad);
    bad.gtol = 1e-5;
    ss_lbfgs *o2 = NULL;
    CHECK(ss_lbfgs_new(&o2, be, x, &bad) == SS_ERR_ARG && !o2, "gtol < ftol was accepted");
    ss_tensor *wrong = NULL;
    MUST(be->iface->tensor_new(be, &wrong, 1, 2, p.n));
    CHECK(ss_lbfgs_minimize(opt, wrong, objective_eval, &o, 5, &r) == SS_ERR_ARG,
          "a tensor of another shape was accepted");
    be->iface->tensor_free(be, wrong);

    /* The objective fails at its 7th evaluation: the status is passed on and
     * x is the last accepted point (f not above the start). */
    double f0 = f_at(be, &p, x);
    o.fail_at = 7;
    ss_lbfgs_reset(opt);
    ss_status st = minimize_checked(opt, x, &o, 50, &r);
    CHECK(st == SS_ERR_INTERRUPTED, "the objective's error became %s", ss_strerror(st));
    double fx = f_at(be, &p, x);
    CHECK(isfinite(fx) && fx <= f0, "after an error, f(x) = %.6e (start %.6e)", fx, f0);
    o.fail_at = 0;
    /* The remembered point was dropped: the next call evaluates x again. */
    MUST(minimize_checked(opt, x, &o, 1, &r));
    CHECK(r.iterations == 0 && fabs(r.f - fx) <= 1e-12 * fabs(fx),
          "after an error the next call did not start by evaluating x");

    /* A non-finite f at the start is an error. */
    p.cap = -1.0;
    tensor_set(be, x, p.xstar, p.n);
    ss_lbfgs_reset(opt);
    CHECK(minimize_checked(opt, x, &o, 5, &r) == SS_ERR_NUMERIC, "an infinite start was accepted");

    /* f = inf beyond x[0] > cap, on the way to the minimum: the line search
     * steps back and the run ends at a finite, lower point without error. */
    p.cap = 0.5;
    tensor_set(be, x, p.x0, p.n);
    f0 = f_at(be, &p, x);
    ss_lbfgs_reset(opt);
    st = minimize_checked(opt, x, &o, 200, &r);
    fx = f_at(be, &p, x);
    CHECK(st == SS_OK, "with infinite values: %s (%s)", ss_strerror(st), ss_error_message());
    CHECK(isfinite(r.f) && r.f < 0.5 * f0 && fabs(fx - r.f) <= 1e-12 * fabs(fx),
          "with infinite values: f %.6e at x %.6e, start %.6e", r.f, fx, f0);
    printf("%-22s with f = inf beyond x[0] > 0.5: f %.3e -> %.3e, %d evals, %s\n", p.name, f0, r.f, r.evals,
           ss_lbfgs_reason_name(r.reason));

    ss_lbfgs_free(opt);
    be->iface->tensor_free(be, x);
}

/* The relative-decrease test: with delta = 1e-3 the diagonal quadratic
 * stops early (fewer evaluations than one long run) for that reason. */
static void test_delta(ss_backend *be, int long_evals) {
    problem p;
    problem_quadratic(&p, "quadratic-diag-100", 100, 0);
    ss_tensor *x = NULL;
    MUST(be->iface->tensor_new(be, &x, 1, 1, p.n));
    tensor_set(be, x, p.x0, p.n);
    ss_lbfgs_params prm;
    ss_lbfgs_params_defaults(&prm);
    prm.delta = 1e-3;
    ss_lbfgs *opt = NULL;
    MUST(ss_lbfgs_new(&opt, be, x, &prm));
    objective o = {.be = be, .p = &p};
    ss_lbfgs_result r;
    MUST(minimize_checked(opt, x, &o, 100000, &r));
    printf("%-22s delta 1e-3: f=%.3e, %d evals, %s\n", p.name, r.f, r.evals, ss_lbfgs_reason_name(r.reason));
    CHECK(r.reason == SS_LBFGS_CONVERGED_DELTA && r.evals < long_evals,
          "delta 1e-3: stopped by %s after %d evaluations", ss_lbfgs_reason_name(r.reason), r.evals);
    ss_lbfgs_free(opt);
    be->iface->tensor_free(be, x);
}

/* Adam on the diagonal quadratic, with the backend's adam_step and with the
 * host fallback (a copy of the table without adam_step). Rules: 2000 steps
 * of lr 0.05 lower f by at least 1e4; both paths agree to 1e-5 relative. */
static void test_adam(ss_backend *be) {
    problem p;
    problem_quadratic(&p, "quadratic-diag", 100, 0);
    ss_backend_i iface_nostep = *be->iface;
    iface_nostep.adam_step = NULL;
    ss_backend be_nostep = *be;
    be_nostep.iface = &iface_nostep;

    double xs[2][NMAX];
    for (int k = 0; k < 2; k++) {
        ss_backend *b = k ? &be_nostep : be;
        ss_tensor *x = NULL, *g = NULL;
        MUST(b->iface->tensor_new(b, &x, 1, 1, p.n));
        MUST(b->iface->tensor_new(b, &g, 1, 1, p.n));
        tensor_set(b, x, p.x0, p.n);
        ss_adam *a = NULL;
        MUST(ss_adam_new(&a, b, x, 0.05, 0.9, 0.999, 1e-8));
        objective o = {.be = b, .p = &p};
        double f0 = 0.0, f = 0.0;
        MUST(objective_eval(&o, &f0, g, x));
        for (int t = 0; t < 2000; t++) {
            MUST(objective_eval(&o, &f, g, x));
            MUST(ss_adam_step(a, x, g));
        }
        f = f_at(b, &p, x);
        CHECK(ss_adam_steps(a) == 2000, "Adam counted %d steps", ss_adam_steps(a));
        tensor_get(b, xs[k], x, p.n);
        printf("%-22s Adam (%s): f %.3e -> %.3e in 2000 steps\n", p.name, k ? "host fallback" : "backend adam_step", f0,
               f);
        CHECK(f <= 1e-4 * f0, "Adam (%s): f %.3e -> %.3e", k ? "fallback" : "backend", f0, f);
        MUST(ss_adam_reset(a));
        CHECK(ss_adam_steps(a) == 0, "Adam reset kept the step count");
        ss_adam_free(a);
        b->iface->tensor_free(b, g);
        b->iface->tensor_free(b, x);
    }
    if (be->iface->adam_step)
        for (int i = 0; i < p.n; i++)
            CHECK(fabs(xs[0][i] - xs[1][i]) <= 1e-5 * fmax(1.0, fabs(xs[0][i])),
                  "Adam: backend and fallback differ at %d: %.9g vs %.9g", i, xs[0][i], xs[1][i]);

    ss_adam *a = NULL;
    ss_tensor *x = NULL;
    MUST(be->iface->tensor_new(be, &x, 1, 1, 4));
    CHECK(ss_adam_new(&a, be, x, -1.0, 0.9, 0.999, 1e-8) == SS_ERR_ARG && !a, "Adam accepted lr < 0");
    be->iface->tensor_free(be, x);
}

/* Checkpoints: an optimizer saved after some calls and loaded into a fresh
 * one (with x from the host, as a resumed run has it) goes on bit for bit as
 * the uninterrupted one. Rule: identical x and f after the remaining calls. */
static void test_state(ss_backend *be, const problem *p) {
    enum { BEFORE = 3, AFTER = 4 };
    ss_tensor *x = NULL, *x2 = NULL;
    MUST(be->iface->tensor_new(be, &x, 1, 1, p->n));
    MUST(be->iface->tensor_new(be, &x2, 1, 1, p->n));
    tensor_set(be, x, p->x0, p->n);
    ss_lbfgs *opt = new_opt(be, x), *opt2 = new_opt(be, x);
    objective o = {.be = be, .p = p};
    ss_lbfgs_result r, r2;
    for (int k = 0; k < BEFORE; k++) MUST(minimize_checked(opt, x, &o, 7, &r));
    size_t size = ss_lbfgs_state_size(opt);
    unsigned char *buf = malloc(size);
    float h[NMAX];
    MUST(ss_lbfgs_state_save(opt, buf, size));
    MUST(be->iface->tensor_read(be, h, x));
    MUST(be->iface->tensor_write(be, x2, h));
    MUST(ss_lbfgs_state_load(opt2, buf, size));
    CHECK(ss_lbfgs_state_load(opt2, buf, size - 1) == SS_ERR_FORMAT, "%s: a truncated state loaded", p->name);
    MUST(ss_lbfgs_state_load(opt2, buf, size));
    for (int k = 0; k < AFTER; k++) {
        MUST(minimize_checked(opt, x, &o, 7, &r));
        MUST(minimize_checked(opt2, x2, &o, 7, &r2));
        CHECK(r.f == r2.f && r.evals == r2.evals, "%s: after a state reload, call %d: f %.17g vs %.17g", p->name, k,
              r.f, r2.f);
    }
    float h2[NMAX];
    MUST(be->iface->tensor_read(be, h, x));
    MUST(be->iface->tensor_read(be, h2, x2));
    CHECK(!memcmp(h, h2, sizeof(float) * (size_t)p->n), "%s: x differs after a state reload", p->name);
    printf("%-22s state reload: %zu bytes, f=%.3e as uninterrupted\n", p->name, size, r.f);
    free(buf);
    ss_lbfgs_free(opt);
    ss_lbfgs_free(opt2);

    /* Adam: 50 steps, save, 50 more in both */
    ss_tensor *g = NULL;
    MUST(be->iface->tensor_new(be, &g, 1, 1, p->n));
    tensor_set(be, x, p->x0, p->n);
    ss_adam *a = NULL, *a2 = NULL;
    MUST(ss_adam_new(&a, be, x, 0.05, 0.9, 0.999, 1e-8));
    MUST(ss_adam_new(&a2, be, x, 0.05, 0.9, 0.999, 1e-8));
    double f;
    for (int t = 0; t < 50; t++) {
        MUST(objective_eval(&o, &f, g, x));
        MUST(ss_adam_step(a, x, g));
    }
    size = ss_adam_state_size(a);
    buf = malloc(size);
    MUST(ss_adam_state_save(a, buf, size));
    MUST(ss_adam_state_load(a2, buf, size));
    CHECK(ss_adam_steps(a2) == 50, "Adam: %d steps after a reload", ss_adam_steps(a2));
    CHECK(ss_adam_state_load(a2, buf, size - 4) == SS_ERR_FORMAT, "Adam: a truncated state loaded");
    MUST(be->iface->tensor_read(be, h, x));
    MUST(be->iface->tensor_write(be, x2, h));
    for (int t = 0; t < 50; t++) {
        MUST(objective_eval(&o, &f, g, x));
        MUST(ss_adam_step(a, x, g));
        MUST(objective_eval(&o, &f, g, x2));
        MUST(ss_adam_step(a2, x2, g));
    }
    MUST(be->iface->tensor_read(be, h, x));
    MUST(be->iface->tensor_read(be, h2, x2));
    CHECK(!memcmp(h, h2, sizeof(float) * (size_t)p->n), "%s: Adam's x differs after a state reload", p->name);
    free(buf);
    ss_adam_free(a);
    ss_adam_free(a2);
    be->iface->tensor_free(be, g);
    be->iface->tensor_free(be, x);
    be->iface->tensor_free(be, x2);
}

int main(void) {
    ss_backend *be = test_backend_new("test_lbfgs", 2);

    static problem probs[4];
    problem_rosenbrock(&probs[0], "rosenbrock-2", 2);
    problem_rosenbrock(&probs[1], "rosenbrock-100", 100);
    problem_quadratic(&probs[2], "quadratic-diag-100", 100, 0);
    problem_quadratic(&probs[3], "quadratic-rotated-100", 100, 1);

    int long_evals[4];
    for (int i = 0; i < 4; i++) long_evals[i] = test_versus_liblbfgs(be, &probs[i]);
    for (int i = 0; i < 2; i++) test_restarts(be, &probs[i]);
    for (int i = 0; i < 4; i++) test_continuous(be, &probs[i], long_evals[i]);
    for (int i = 0; i < 4; i++) test_budgets(be, &probs[i]);
    test_delta(be, long_evals[2]);
    test_errors(be);
    test_adam(be);
    test_state(be, &probs[0]);
    test_state(be, &probs[3]);

    be->iface->free(be);
    return check_summary("test_lbfgs");
}
