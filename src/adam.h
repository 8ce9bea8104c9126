/* adam.h - the Adam optimizer (Kingma and Ba, 2015) on backend tensors.
 *
 * The iterate x, its gradient and the moment estimates m and v are plain
 * backend tensors of one shape. A step uses the backend's adam_step when it
 * has one; otherwise the step is composed on the host (see ss_adam_step). */
#ifndef SS_ADAM_H
#define SS_ADAM_H

#include "backend.h"
#include "status.h"

typedef struct ss_adam ss_adam;

/* Makes an Adam optimizer for plain tensors of like's shape on backend be
 * (which must outlive it), with learning rate lr > 0, decay rates b1 and b2
 * in [0, 1) and eps > 0 (the usual values: 0.9, 0.999, 1e-8). The moments
 * start at zero and the step count t at 0. Returns SS_OK and *out, which the
 * caller frees with ss_adam_free; SS_ERR_ARG for a bad value or a non-plain
 * `like`, SS_ERR_NOMEM or the backend's status otherwise (*out untouched). */
ss_status ss_adam_new(ss_adam **out, ss_backend *be, const ss_tensor *like, double lr, double b1, double b2,
                      double eps);

/* Frees a and its tensors (NULL is ignored). */
void ss_adam_free(ss_adam *a);

/* Sets the moments to zero and the step count to 0 (a fresh start).
 * Returns SS_OK or the backend's status. */
ss_status ss_adam_reset(ss_adam *a);

/* One step with gradient g at x (both plain, of the optimizer's shape):
 * t += 1; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * x -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 * Runs ss_be_adam_step: the backend's adam_step, or for a backend without
 * one the wrapper's host fallback (x, m, v and g read to the host, updated
 * with ss_ew_adam of elementwise.h, written back): correct on every
 * backend, at the cost of four reads and three writes.
 * Returns SS_OK, SS_ERR_ARG for a shape mismatch, or the backend's status
 * (t is then left as it was). */
ss_status ss_adam_step(ss_adam *a, ss_tensor *x, const ss_tensor *g);

/* Returns the number of steps taken since ss_adam_new or ss_adam_reset. */
int ss_adam_steps(const ss_adam *a);

/* ---- checkpoints ---- */
/* The state a resumed run needs to go on exactly: the step count t and the
 * moments m and v (read with tensor_read, written back with tensor_write).
 * Layout (native little-endian): "ADAM", uint32 version (1), uint32 n
 * (floats per tensor), int32 t, float32 m[n], float32 v[n]. */

/* Returns the size in bytes of the state. */
size_t ss_adam_state_size(const ss_adam *a);

/* Writes the state into buf (size = ss_adam_state_size bytes). */
ss_status ss_adam_state_save(ss_adam *a, unsigned char *buf, size_t size);

/* Restores a state saved from an optimizer of the same shape; SS_ERR_FORMAT
 * (with the reason) when buf is not such a state. */
ss_status ss_adam_state_load(ss_adam *a, const unsigned char *buf, size_t size);

#endif
