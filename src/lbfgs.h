/* lbfgs.h - limited-memory BFGS on backend tensors, with a Moré–Thuente line search.
 *
 * The iterate x is a plain backend tensor (C*H*W floats); every vector
 * operation goes through the backend table (vec_dot, vec_axpy, vec_scale,
 * vec_copy, vec_fill, tensor_new, tensor_free), so the optimizer runs
 * unchanged on a GPU backend; only scalars (step lengths, dot products, the
 * line-search interval) live on the host, in double precision.
 *
 * The history of (s, y) pairs is kept between calls of ss_lbfgs_minimize
 * until ss_lbfgs_reset, so a caller can either run a "continuous" L-BFGS
 * (history kept, a fixed evaluation budget per call) or call reset before
 * every call to do what the reference did (scipy's fmin_l_bfgs_b with
 * maxfun=20 and m=10, restarted each outer iteration). */
#ifndef SS_LBFGS_H
#define SS_LBFGS_H

#include "backend.h"
#include "status.h"

/* Writes f(x) into *f and its gradient into grad (a plain tensor of x's
 * shape, owned by the optimizer; overwrite all of it). x must not be changed.
 * Returns SS_OK or an error status (with ss_error's message set), which stops
 * the minimisation and is passed on to its caller. A non-finite *f at a trial
 * point makes the line search step back; at the starting point it is an error. */
typedef ss_status (*ss_objective_fn)(void *ctx, double *f, ss_tensor *grad, const ss_tensor *x);

typedef struct ss_lbfgs_params {
    int m;              /* history: number of (s, y) pairs kept (10) */
    double epsilon;     /* stop when ||g|| / max(1, ||x||) <= epsilon (1e-5, as liblbfgs) */
    double delta;       /* stop when (f_prev - f) / max(|f_prev|, |f|, 1) <= delta after an
                           iteration; 0 disables it (0; scipy's factr=1e7 is about 2.2e-9) */
    int max_linesearch; /* function evaluations per line search (20) */
    double ftol;        /* sufficient decrease (Armijo) parameter, 0 < ftol < 0.5 (1e-4) */
    double gtol;        /* curvature parameter, ftol < gtol < 1 (0.9) */
    double xtol;        /* relative width of the step interval below which the line
                           search gives up (1e-16) */
    double min_step;    /* smallest step the line search tries (1e-20) */
    double max_step;    /* largest step the line search tries (1e20) */
} ss_lbfgs_params;

/* Why ss_lbfgs_minimize returned. */
typedef enum ss_lbfgs_reason {
    SS_LBFGS_MAX_EVALS = 0,    /* the evaluation budget (max_evals) is spent */
    SS_LBFGS_CONVERGED,        /* the gradient test (epsilon) holds at x */
    SS_LBFGS_CONVERGED_DELTA,  /* the relative-decrease test (delta) holds */
    SS_LBFGS_LINESEARCH_FAILED /* no acceptable step, even after dropping the history */
} ss_lbfgs_reason;

/* What one call of ss_lbfgs_minimize did. */
typedef struct ss_lbfgs_result {
    double f;               /* f at the returned x */
    int evals;              /* function evaluations made by this call (<= max_evals) */
    int iterations;         /* accepted steps made by this call */
    ss_lbfgs_reason reason; /* why it stopped */
} ss_lbfgs_result;

typedef struct ss_lbfgs ss_lbfgs;

/* Fills *p with the defaults listed in ss_lbfgs_params. */
void ss_lbfgs_params_defaults(ss_lbfgs_params *p);

/* Returns a static name for a reason code ("max_evals", "converged", ...). */
const char *ss_lbfgs_reason_name(ss_lbfgs_reason reason);

/* Makes an L-BFGS optimizer for plain tensors of like's shape on backend be
 * (which must outlive it); p NULL means the defaults. Allocates 2*m + 5
 * tensors of that shape on the backend. Returns SS_OK and *out, which the
 * caller frees with ss_lbfgs_free; SS_ERR_ARG for a bad parameter or a
 * non-plain `like`, SS_ERR_NOMEM or the backend's status otherwise (*out
 * untouched). */
ss_status ss_lbfgs_new(ss_lbfgs **out, ss_backend *be, const ss_tensor *like, const ss_lbfgs_params *p);

/* Frees opt and its tensors (NULL is ignored). */
void ss_lbfgs_free(ss_lbfgs *opt);

/* Drops the history and the remembered point, so that the next
 * ss_lbfgs_minimize starts afresh (steepest descent with a first trial step
 * of unit length, and a new evaluation at its starting x). */
void ss_lbfgs_reset(ss_lbfgs *opt);

/* ---- checkpoints ---- */
/* The optimizer's state (what a resumed continuous L-BFGS needs to go on
 * exactly as if it had never stopped) as a byte string: the ring of (s, y)
 * pairs with their y.s and y.y, head and count, and the remembered point
 * (its f, x and gradient). Tensors are read to the host with tensor_read and
 * written back with tensor_write, so a state saved on one backend loads on
 * any. Layout (native little-endian): "LBFG", uint32 version (1), uint32 m,
 * uint32 n (floats per tensor), int32 count, int32 head, int32 have_point,
 * int32 0, float64 f_point; then for each held pair from the oldest:
 * float64 ys, float64 yy, float32 s[n], float32 y[n]; then, when have_point,
 * float32 xp[n], float32 g[n]. */

/* Returns the size in bytes of the current state (changes as pairs are added). */
size_t ss_lbfgs_state_size(const ss_lbfgs *opt);

/* Writes the state into buf, which holds `size` = ss_lbfgs_state_size bytes.
 * Returns SS_OK, SS_ERR_ARG for a wrong size, SS_ERR_NOMEM, or the backend's status. */
ss_status ss_lbfgs_state_save(ss_lbfgs *opt, unsigned char *buf, size_t size);

/* Restores a state saved by ss_lbfgs_state_save from an optimizer of the same
 * history length and tensor size. SS_ERR_FORMAT (with the reason) when buf is
 * not such a state; the optimizer is then reset. */
ss_status ss_lbfgs_state_load(ss_lbfgs *opt, const unsigned char *buf, size_t size);

/* Minimises fn from x, making at most max_evals (>= 1) calls of fn, and
 * stops earlier at convergence (see ss_lbfgs_params) or when the line search
 * fails. On SS_OK, x holds the best point found (the last accepted one) and
 * *res (res may be NULL) says its f, the evaluations and iterations used and
 * why it stopped.
 *
 * The history is kept for the next call. When x is, bit for bit, the point
 * this optimizer returned last and reset was not called since, its f and
 * gradient are reused without a new evaluation (so in "continuous" use every
 * call spends its whole budget on steps); after reset, or for another x, the
 * first evaluation is at x, as scipy's does. When the budget runs out inside
 * a line search, the lowest trial point of that search is accepted if it is
 * below f(x) there.
 *
 * On failure (fn's error, a non-finite f at the starting x, a backend error)
 * returns that status; x then holds the last accepted point where it could be
 * restored, and the remembered point is dropped (the history is kept). */
ss_status ss_lbfgs_minimize(ss_lbfgs *opt, ss_tensor *x, ss_objective_fn fn, void *ctx, int max_evals,
                            ss_lbfgs_result *res);

#endif
