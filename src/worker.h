/* worker.h - runs one sweep run on this process and reports it as sweep
 * messages (STARTED, METRICS, SNAPSHOT, CHECKPOINT, then DONE, FAILED or
 * INTERRUPTED) through a sink: MPI sends to rank 0, or, with one rank, the
 * coordinator's handler itself. Keeps its backend and the last run's
 * targets, so that runs of the same images, model and layers reuse them. */
#ifndef SS_WORKER_H
#define SS_WORKER_H

#include "engine.h"
#include "params.h"
#include "sweep_msg.h"

typedef struct ss_worker_sink {
    void *ctx;
    /* Delivers one message; a failure is fatal for the worker (transport). */
    ss_status (*emit)(void *ctx, const ss_msg *m, const void *payload);
    /* Non-zero when the sweep must stop (signal): the run checkpoints and stops. */
    int (*should_stop)(void *ctx);
} ss_worker_sink;

typedef struct ss_worker ss_worker;

/* Makes a worker that will use backend `backend` on `device` with `threads`
 * CPU threads (0: its affinity mask); the backend is made at the first run. */
ss_status ss_worker_new(ss_worker **out, const char *backend, int device, int threads);

/* Frees the worker, its backend and cached targets (NULL is ignored). */
void ss_worker_free(ss_worker *w);

/* Runs run `run` with parameters p, from resume (NULL: from the start),
 * sending a checkpoint every checkpoint_every iterations (0: never) and at a
 * stop. A run that fails is reported with SS_MSG_FAILED and its reason, and
 * SS_OK is returned; only a failure of the sink itself is returned. */
ss_status ss_worker_run(ss_worker *w, int run, const ss_params *p, const ss_engine_state *resume, int checkpoint_every,
                        const ss_worker_sink *sink);

/* Runs the run of an ASSIGN message m (sweep_msg.h: its parameters and,
 * when m->count is 1, the checkpoint to resume from) as ss_worker_run does.
 * SS_ERR_INTERNAL when the message does not hold what it says. */
ss_status ss_worker_run_assigned(ss_worker *w, const ss_msg *m, int checkpoint_every, const ss_worker_sink *sink);

/* The loop of a compute process (no MPI in it): reads ASSIGN messages from
 * the stream socket fd, runs each (ss_worker_run_assigned) and writes its
 * messages back to fd; a STOP message read during a run stops it at the
 * next iteration boundary (checkpoint, then INTERRUPTED). Returns SS_OK
 * when fd is closed or a STOP arrives between runs, or after a run whose
 * device context was lost (its FAILED message has count 1: the process
 * must end, as no reset clears a sticky CUDA error), else the failure that
 * ended it (fd broken, a bad message). */
ss_status ss_worker_serve(ss_worker *w, int fd, int checkpoint_every);

#endif
