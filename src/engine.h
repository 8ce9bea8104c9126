/* engine.h - one style-transfer run, from a prepared setup (parameters,
 * weights, images, backend, network) to per-iteration metrics, snapshots and
 * the final image, reported through callbacks. Knows nothing of MPI, HDF5
 * or files: `transfer`, `eval` and the sweep's workers share it. */
#ifndef SS_ENGINE_H
#define SS_ENGINE_H

#include "image.h"
#include "setup.h"

/* The metrics of one outer iteration. */
typedef struct ss_iteration {
    int iteration;      /* 1-based */
    ss_terms terms;     /* the loss and each term at the iteration's image */
    int evaluations;    /* evaluations this iteration */
    double seconds;     /* wall time of this iteration */
    double improvement; /* (loss[i-1] - loss[i]) / loss[i-1] * 100; 0 for the first */
} ss_iteration;

/* The state a run can be resumed from, at an outer-iteration boundary: the
 * image and the iteration count, plus an opaque blob with the rest (the last
 * loss, the terms at the image and the optimizer's state: nothing for the
 * default L-BFGS restarted each iteration, the history and the remembered
 * point for continuous L-BFGS, t and the moments for Adam). The random
 * generator needs no state: the seed is used only for the initial image.
 *
 * The blob (ss_engine_save_state) is, native little-endian:
 *   "SSEN", uint32 version (2), float64 last_loss, int32 iteration,
 *   uint32 optimizer kind (0 L-BFGS restarted each iteration, 1 continuous
 *   L-BFGS, 2 Adam), uint32 n_style, uint32 0, float64 total, content, tv,
 *   style[n_style] (the terms at the image), uint64 size, then the
 *   optimizer's own state of that size (lbfgs.h, adam.h; empty for kind 0).
 * Version 1, written by earlier programs, is 8 bytes: float64 last_loss; a
 * continuous optimizer resumed from it starts a fresh history. */
typedef struct ss_engine_state {
    int iteration;    /* outer iterations completed */
    double last_loss; /* loss after that iteration (for the improvement); used when blob is NULL */
    const float *x;   /* current image (3, h, w), pre-processed */
    int h, w;
    int stopping;              /* 1 when the run stops after this boundary (should_stop) */
    const unsigned char *blob; /* resume: the saved blob (NULL: none, last_loss alone) */
    size_t blob_size;
    void *engine; /* on_boundary: the running engine, for ss_engine_save_state */
} ss_engine_state;

/* Inside on_boundary: serialises the state's blob (see ss_engine_state) into
 * a new malloc'ed buffer *blob of *size bytes (free it). Reads the
 * optimizer's tensors to the host, so call it only when a checkpoint is
 * taken. */
ss_status ss_engine_save_state(const ss_engine_state *state, unsigned char **blob, size_t *size);

typedef struct ss_engine_callbacks {
    void *ctx;
    /* After each outer iteration; a non-OK status stops the run with it. */
    ss_status (*on_iteration)(void *ctx, const ss_iteration *it);
    /* For each scheduled snapshot (de-processed, colour-preserved if asked). */
    ss_status (*on_snapshot)(void *ctx, int iteration, const ss_image *img);
    /* At each outer-iteration boundary, so that the caller may checkpoint. */
    ss_status (*on_boundary)(void *ctx, const ss_engine_state *state);
    /* Asked once at each boundary (and before the first iteration):
     * non-zero makes the run stop with SS_ERR_INTERRUPTED right after
     * on_boundary, which is told so (state->stopping). May be NULL. */
    int (*should_stop)(void *ctx);
    /* Asked during an iteration after each evaluation (progress display). May be NULL. */
    void (*on_evaluation)(void *ctx, int iteration, int evaluation, double loss);
} ss_engine_callbacks;

typedef struct ss_engine_result {
    int iterations;       /* outer iterations completed */
    int evaluations;      /* evaluations in all */
    double loss;          /* final loss */
    int stopped_early;    /* 1 when min_improvement stopped it */
    ss_image final_image; /* de-processed final image (caller frees with ss_image_free) */
} ss_engine_result;

/* Returns 1 when iteration (1-based) is a snapshot of p's schedule
 * (iterations 1..first and every `every`-th). */
int ss_engine_is_snapshot(const ss_params *p, int iteration);

/* Runs the optimisation described by s->params on s's network. resume (may
 * be NULL) continues from a saved state instead of the initial image.
 * Fills *res; callbacks may be NULL members. Returns SS_OK,
 * SS_ERR_INTERRUPTED when should_stop asked, SS_ERR_NUMERIC for a NaN or
 * infinite loss, or another failure with its message. */
ss_status ss_engine_run(ss_setup *s, const ss_engine_callbacks *cb, const ss_engine_state *resume,
                        ss_engine_result *res);

#endif
