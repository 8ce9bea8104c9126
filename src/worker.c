/* worker.c - one sweep run on this process (see worker.h). */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "testhold.h"

struct ss_worker {
    char backend_name[16];
    int device, threads;
    ss_backend *be;
    ss_setup setup;
    int have_setup;
    int lost; /* the backend's device context was lost: it is being made again */
};

typedef struct worker_run {
    ss_worker *w;
    int run;
    int checkpoint_every;
    const ss_worker_sink *sink;
    ss_status sink_status; /* a failed emit: fatal */
    int iteration;         /* the last iteration done in this process (0: none yet) */
    int held;              /* the test-only hold (testhold.h) has held this run */
} worker_run;

ss_status ss_worker_new(ss_worker **out, const char *backend, int device, int threads) {
    ss_worker *w = calloc(1, sizeof *w);
    SS_ALLOC_CHECK(w);
    snprintf(w->backend_name, sizeof w->backend_name, "%s", backend);
    w->device = device;
    w->threads = threads;
    *out = w;
    return SS_OK;
}

void ss_worker_free(ss_worker *w) {
    if (!w) return;
    if (w->have_setup) ss_setup_free(&w->setup);
    if (w->be) w->be->iface->free(w->be);
    free(w);
}

static ss_status emit(worker_run *r, ss_msg *m, const void *payload) {
    m->run = r->run;
    ss_status st = r->sink->emit(r->sink->ctx, m, payload);
    if (st != SS_OK && r->sink_status == SS_OK) r->sink_status = st;
    return st;
}

static ss_status on_iteration(void *ctx, const ss_iteration *it) {
    worker_run *r = ctx;
    r->iteration = it->iteration;
    const ss_setup *s = &r->w->setup;
    ss_msg m = {0};
    m.type = SS_MSG_METRICS;
    m.iteration = it->iteration;
    m.count = it->evaluations;
    m.n_layers = s->cfg.n_style_layers;
    double style = 0;
    for (int l = 0; l < m.n_layers; l++) style += it->terms.style[l];
    double v[8] = {it->terms.total, it->terms.content, style, it->terms.tv, it->seconds, it->improvement, 0, 0};
    memcpy(m.values, v, sizeof v);
    m.payload_size = sizeof(double) * (size_t)m.n_layers;
    return emit(r, &m, it->terms.style);
}

static ss_status on_snapshot(void *ctx, int iteration, const ss_image *img) {
    worker_run *r = ctx;
    ss_msg m = {0};
    m.type = SS_MSG_SNAPSHOT;
    m.iteration = iteration;
    m.w = img->w;
    m.h = img->h;
    m.payload_size = 3 * (size_t)img->w * img->h;
    return emit(r, &m, img->px);
}

/* CHECKPOINT: the image (3, h, w) float32, then the engine's state blob. */
static ss_status send_checkpoint(worker_run *r, const ss_engine_state *state) {
    unsigned char *blob = NULL;
    size_t blob_size = 0;
    ss_status st = ss_engine_save_state(state, &blob, &blob_size);
    if (st != SS_OK) return st; /* a failure of the run (e.g. out of memory), not of the sink */
    size_t img = sizeof(float) * 3 * (size_t)state->w * state->h;
    unsigned char *payload = malloc(img + blob_size);
    if (!payload) {
        free(blob);
        return ss_error(SS_ERR_NOMEM, "out of memory for a checkpoint of %zu bytes", img + blob_size);
    }
    memcpy(payload, state->x, img);
    memcpy(payload + img, blob, blob_size);
    free(blob);
    ss_msg m = {0};
    m.type = SS_MSG_CHECKPOINT;
    m.iteration = state->iteration;
    m.count = state->iteration; /* one metrics row per iteration */
    m.w = state->w;
    m.h = state->h;
    m.values[0] = state->last_loss;
    m.payload_size = img + blob_size;
    st = emit(r, &m, payload);
    free(payload);
    return st;
}

static int sink_should_stop(void *ctx) {
    const worker_run *r = ctx;
    return r->sink->should_stop && r->sink->should_stop(r->sink->ctx);
}

static int should_stop(void *ctx) {
    worker_run *r = ctx;
    if (r->iteration > 0) ss_test_hold(&r->held, r->run, r->iteration, sink_should_stop, r);
    return sink_should_stop(r);
}

static ss_status on_boundary(void *ctx, const ss_engine_state *state) {
    worker_run *r = ctx;
    int last = state->iteration >= r->w->setup.params.iterations;
    if (last) return SS_OK; /* the final image follows */
    if (state->stopping || (r->checkpoint_every > 0 && state->iteration % r->checkpoint_every == 0))
        return send_checkpoint(r, state);
    return SS_OK;
}

/* Prepares the backend and the targets for p, reusing the last run's when they match. */
/* Test hook (tests/test_faults.sh): with STYLESWEEP_TEST_FAULT=lose-device:FILE
 * the first run of the sweep to get here (the one that makes FILE) fails as
 * a lost device context does: the backend is marked lost, and the process
 * is poisoned as a sticky CUDA error poisons it: no backend can be made in
 * it again. Not for use outside tests. */
static int test_poisoned;
static ss_status test_lose_device(ss_worker *w) {
    const char *e = getenv("STYLESWEEP_TEST_FAULT");
    if (!e || strncmp(e, "lose-device:", 12) != 0) return SS_OK;
    int fd = open(e + 12, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return SS_OK; /* made before: once a sweep */
    close(fd);
    w->be->lost = 1;
    test_poisoned = 1;
    return ss_error(SS_ERR_BACKEND, "test: the device context is lost (STYLESWEEP_TEST_FAULT)");
}

static ss_status worker_prepare(ss_worker *w, const ss_params *p) {
    if (!w->be && test_poisoned)
        return ss_error(SS_ERR_BACKEND, "test: a backend made again in a process whose device context was lost");
    if (!w->be) SS_TRY(ss_backend_new(&w->be, w->backend_name, w->device, w->threads));
    if (w->have_setup && ss_setup_reuse(&w->setup, p)) return SS_OK;
    if (w->have_setup) ss_setup_free(&w->setup);
    w->have_setup = 0;
    SS_TRY(ss_setup_init(&w->setup, p, w->be));
    w->have_setup = 1;
    return SS_OK;
}

/* Benchmark mode (scripts/bench_sweep.sh): with STYLESWEEP_BENCH_NO_COMPUTE=1
 * in the environment a run computes nothing but sends exactly the messages
 * of a real run of its parameters, of the real sizes: STARTED, one METRICS
 * row per iteration with every style layer's value, the snapshots of its
 * schedule, a checkpoint every checkpoint_every iterations (image and a
 * state blob of the default optimizer's size) and DONE with the final
 * image. Its numbers are meaningless; it measures rank 0. */
static ss_status bench_run(worker_run *r, const ss_params *p, const ss_engine_state *resume) {
    int sw, sh, ch, w, h;
    SS_TRY(ss_image_probe(&sw, &sh, &ch, p->content));
    SS_TRY(ss_image_target_size(&w, &h, sw, sh, p->image_size,
                                strcmp(p->aspect, "square") == 0 ? SS_ASPECT_SQUARE : SS_ASPECT_KEEP));
    size_t img = sizeof(float) * 3 * (size_t)w * h, blob = 64 + 8 * (size_t)p->n_style_layers;
    unsigned char *buf = calloc(img + blob, 1);
    SS_ALLOC_CHECK(buf);
    double layers[SS_MAX_STYLE_LAYERS] = {0};
    ss_msg m = {0};
    m.type = SS_MSG_STARTED;
    m.payload_size = 4;
    ss_status st = emit(r, &m, "\0\0\0");
    for (int it = resume ? resume->iteration + 1 : 1; st == SS_OK && it <= p->iterations; it++) {
        memset(&m, 0, sizeof m);
        m.type = SS_MSG_METRICS;
        m.iteration = it;
        m.count = p->evals_per_iteration;
        m.n_layers = p->n_style_layers;
        m.values[0] = 1.0 / it;
        m.payload_size = sizeof(double) * (size_t)m.n_layers;
        st = emit(r, &m, layers);
        if (st == SS_OK && (it <= p->snapshot_first || (p->snapshot_every > 0 && it % p->snapshot_every == 0))) {
            memset(&m, 0, sizeof m);
            m.type = SS_MSG_SNAPSHOT;
            m.iteration = it;
            m.w = w;
            m.h = h;
            m.payload_size = 3 * (size_t)w * h;
            st = emit(r, &m, buf);
        }
        if (st == SS_OK && it < p->iterations && r->checkpoint_every > 0 && it % r->checkpoint_every == 0) {
            memset(&m, 0, sizeof m);
            m.type = SS_MSG_CHECKPOINT;
            m.iteration = m.count = it;
            m.w = w;
            m.h = h;
            m.payload_size = img + blob;
            st = emit(r, &m, buf);
        }
    }
    if (st == SS_OK) {
        memset(&m, 0, sizeof m);
        m.type = SS_MSG_DONE;
        m.iteration = p->iterations;
        m.w = w;
        m.h = h;
        m.payload_size = 3 * (size_t)w * h;
        st = emit(r, &m, buf);
    }
    free(buf);
    return st;
}

ss_status ss_worker_run(ss_worker *w, int run, const ss_params *p, const ss_engine_state *resume, int checkpoint_every,
                        const ss_worker_sink *sink) {
    worker_run r = {.w = w, .run = run, .checkpoint_every = checkpoint_every, .sink = sink, .sink_status = SS_OK};
    ss_msg m = {0};
    const char *bench = getenv("STYLESWEEP_BENCH_NO_COMPUTE");
    if (bench && !strcmp(bench, "1")) return bench_run(&r, p, resume);
    ss_status st = worker_prepare(w, p);
    if (st == SS_OK) st = test_lose_device(w);
    if (st != SS_OK && w->lost && !w->be) return st; /* no new backend after a lost context: leave the sweep */
    w->lost = 0;
    if (st == SS_OK) {
        char info[SS_PATH_MAX + 512], host[256] = "";
        gethostname(host, sizeof host - 1);
        size_t n = 0;
        const char *parts[4] = {host, w->be->iface->name, w->be->device, w->setup.weights};
        for (int i = 0; i < 4; i++) {
            size_t len = strlen(parts[i]);
            if (n + len + 1 > sizeof info) len = sizeof info - n - 1;
            memcpy(info + n, parts[i], len);
            n += len;
            info[n++] = '\0';
        }
        m.type = SS_MSG_STARTED;
        m.payload_size = n;
        SS_TRY(emit(&r, &m, info));
        ss_engine_callbacks cb = {&r, on_iteration, on_snapshot, on_boundary, should_stop, NULL};
        ss_engine_result res;
        st = ss_engine_run(&w->setup, &cb, resume, &res);
        if (r.sink_status != SS_OK) {
            ss_image_free(&res.final_image);
            return r.sink_status;
        }
        if (st == SS_OK) {
            memset(&m, 0, sizeof m);
            m.type = SS_MSG_DONE;
            m.iteration = res.iterations;
            m.w = res.final_image.w;
            m.h = res.final_image.h;
            m.values[0] = res.loss;
            m.payload_size = 3 * (size_t)m.w * m.h;
            st = emit(&r, &m, res.final_image.px);
            ss_image_free(&res.final_image);
            return st;
        }
    }
    /* the run failed or was stopped: report it (the message is this thread's error) */
    memset(&m, 0, sizeof m);
    m.type = st == SS_ERR_INTERRUPTED ? SS_MSG_INTERRUPTED : SS_MSG_FAILED;
    const char *why = ss_error_message();
    m.payload_size = strlen(why) + 1;
    if (w->have_setup && st != SS_ERR_INTERRUPTED) { /* do not reuse targets after a failure */
        ss_setup_free(&w->setup);
        w->have_setup = 0;
    }
    if (w->be && w->be->lost) { /* a sticky device error: the next run makes a new backend */
        if (w->have_setup) ss_setup_free(&w->setup);
        w->have_setup = 0;
        ss_be_free(w->be);
        w->be = NULL;
        w->lost = 1;
        m.count = 1; /* a compute process ends now (ss_worker_serve): a sticky error outlives any reset */
    }
    return emit(&r, &m, why);
}

ss_status ss_worker_run_assigned(ss_worker *w, const ss_msg *m, int checkpoint_every, const ss_worker_sink *sink) {
    if (m->type != SS_MSG_ASSIGN || m->payload_size < sizeof(ss_params))
        return ss_error(SS_ERR_INTERNAL, "unexpected message %d from the coordinator", m->type);
    ss_params p;
    memcpy(&p, m->payload, sizeof p);
    size_t img = m->count ? sizeof(float) * 3 * (size_t)(m->w > 0 ? m->w : 0) * (size_t)(m->h > 0 ? m->h : 0) : 0;
    if (m->count && (img == 0 || m->payload_size < sizeof p + img))
        return ss_error(SS_ERR_INTERNAL, "the coordinator sent a checkpoint of %llu bytes for a %dx%d image",
                        (unsigned long long)m->payload_size, m->w, m->h);
    ss_engine_state resume = {m->iteration,
                              0.0,
                              (const float *)(m->payload + sizeof p),
                              m->h,
                              m->w,
                              0,
                              m->payload + sizeof p + img,
                              m->count ? (size_t)m->payload_size - sizeof p - img : 0,
                              NULL};
    return ss_worker_run(w, m->run, &p, m->count ? &resume : NULL, checkpoint_every, sink);
}

typedef struct fd_sink {
    int fd;
    int stop_seen; /* a STOP arrived (or the socket closed) during the run */
} fd_sink;

static ss_status fd_emit(void *ctx, const ss_msg *m, const void *payload) {
    fd_sink *s = ctx;
    return ss_msg_send_fd(s->fd, m, payload);
}

static int fd_should_stop(void *ctx) {
    fd_sink *s = ctx;
    struct pollfd p = {s->fd, POLLIN, 0};
    while (!s->stop_seen && poll(&p, 1, 0) > 0) {
        unsigned char *buf = NULL;
        size_t cap = 0, size = 0;
        ss_msg m;
        /* a STOP, or the supervisor gone: stop at this boundary either way */
        if (ss_msg_recv_fd(s->fd, &buf, &cap, &size, &m) != SS_OK || m.type == SS_MSG_STOP) s->stop_seen = 1;
        free(buf);
    }
    return s->stop_seen;
}

ss_status ss_worker_serve(ss_worker *w, int fd, int checkpoint_every) {
    fd_sink fs = {fd, 0};
    ss_worker_sink sink = {&fs, fd_emit, fd_should_stop};
    unsigned char *buf = NULL;
    size_t cap = 0, size = 0;
    ss_status st = SS_OK;
    for (;;) {
        ss_msg m;
        if (ss_msg_recv_fd(fd, &buf, &cap, &size, &m) != SS_OK) break; /* closed: no more work */
        if (m.type == SS_MSG_STOP) continue;                           /* one that came after its run ended */
        fs.stop_seen = 0;
        st = ss_worker_run_assigned(w, &m, checkpoint_every, &sink);
        if (st != SS_OK || w->lost) break; /* lost: the rank starts a new process, with a new context */
    }
    free(buf);
    return st;
}
