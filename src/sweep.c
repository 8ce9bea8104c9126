/* sweep.c - the sweep's coordinator and workers over MPI (see sweep.h). */
#include "sweep.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "check.h"
#include "manifest.h"
#include "util.h"
#include "worker.h"

volatile sig_atomic_t ss_sweep_stop_requested = 0;
volatile sig_atomic_t ss_sweep_archive_busy = 0;
int ss_sweep_need_abort = 0;

enum { TAG_UP = 1, TAG_DOWN = 2, TAG_STOP_NOW = 3 };

/* ---- coordinator (rank 0) ---- */

typedef struct coord {
    const ss_sweep_options *o;
    ss_manifest man;
    int have_man;
    ss_archive *ar;
    int n_runs;         /* runs in the archive */
    int *man_index;     /* per archive run: its index in the manifest (-1: not in the manifest) */
    ss_run_spec *cache; /* n_cache runs rebuilt from the manifest (spec_of) */
    int *cache_run, n_cache;
    int *queue, q_head, q_len;
    int *to_add, n_to_add, add_head; /* manifest runs not in the archive at the start; to_add[add_head..] still not */
    int append_next;                 /* runs in the next batch appended while idle */
    long append_batches, appended;
    double append_seconds, append_wait_seconds, append_max_seconds; /* waited: while a worker waited */
    double *started;                                                /* per run: when it was assigned */
    int *busy;                                                      /* per rank: run index or -1 */
    int n_done, n_failed, n_interrupted, n_running;
    double done_seconds; /* summed durations of runs done in this session */
    int done_this_session;
    double t0, last_summary;
    long messages;                       /* messages handled */
    double message_seconds;              /* time spent handling them */
    double message_max, message_max_cpu; /* the longest: wall time, and the CPU time it took */
    int stop_sent;
    int size; /* ranks (coord_run_mpi) */
} coord;

/* The manifest entry of archive run `run` (NULL: not in the manifest):
 * rebuilt on demand into a small cache, valid until spec_of is called for
 * another run of the same slot. */
static const ss_run_spec *spec_of(coord *c, int run) {
    if (run < 0 || run >= c->n_runs || c->man_index[run] < 0) return NULL;
    int slot = run % c->n_cache;
    if (c->cache_run[slot] != run) {
        c->cache_run[slot] = -1;
        if (ss_manifest_run(&c->cache[slot], &c->man, c->man_index[run]) != SS_OK) return NULL;
        c->cache_run[slot] = run;
    }
    return &c->cache[slot];
}

static const char *run_id(coord *c, int run) {
    const ss_run_spec *r = spec_of(c, run);
    return r ? r->id : "?";
}

/* Every archive call goes through here, so that a second signal never cuts
 * one: the handler then only marks it (ss_sweep_stop_requested = 2), and the
 * process exits right after the call, whose last step was a flush. */
static ss_status archive_call_end(ss_status st) {
    ss_sweep_archive_busy = 0;
    if (ss_sweep_stop_requested == 2) _exit(SS_SWEEP_INTERRUPTED);
    return st;
}
#define AR_CALL(call) (ss_sweep_archive_busy = 1, archive_call_end(call))
#define AR(call)                            \
    do {                                    \
        ss_status ar_st_ = AR_CALL(call);   \
        if (ar_st_ != SS_OK) return ar_st_; \
    } while (0)

/* 1 when the archived parameter text means r's parameters: the same after
 * reading it over the defaults (an archive written before a key existed
 * records no value for it, which meant what its default means). */
static int same_params(const char *text, const ss_params *p) {
    ss_params old;
    if (ss_params_read_text(&old, text) != SS_OK) return 0;
    return ss_manifest_diff(p, &old, NULL, 0) == 0;
}

static char *params_yaml(const ss_params *p) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) return NULL;
    ss_params_write(p, f);
    fclose(f);
    return buf;
}

/* Records the --set items and the defaults they make on the archive's manifest. */
static ss_status record_overrides(coord *c) {
    char *defaults = params_yaml(&c->man.defaults);
    if (!defaults) return ss_error(SS_ERR_NOMEM, "out of memory");
    ss_status st = AR_CALL(ss_archive_set_overrides(c->ar, c->man.overrides, defaults));
    free(defaults);
    return st;
}

/* ---- runs not yet in the archive ----
 * A sweep's archive is made with its first runs only (a group, attributes
 * and an empty metrics table per run cost about a millisecond each, minutes
 * for a million runs), and rank 0 appends the rest in small batches when no
 * message waits (probe_up), or at once when a worker asks for a run and
 * every run in the archive is handed out: a run is handed out only once it
 * is in the archive. The root attribute runs_to_append counts the rest
 * (hdf5/SCHEMA.md, "Consistency"); after a crash, --resume appends them. */

/* A positive integer from the environment, or def. */
static int env_count(const char *name, int def) {
    const char *e = getenv(name);
    char *end;
    long v = e && *e ? strtol(e, &end, 10) : def;
    return e && *e && (*end || v < 1 || v > SS_MANIFEST_MAX_RUNS) ? def : (int)v;
}

/* Runs the archive is made (or a resumed one extended) with before the
 * first run starts: about a second or two of HDF5 work
 * (STYLESWEEP_FIRST_RUNS overrides; tests make it small). */
static int first_batch(void) { return env_count("STYLESWEEP_FIRST_RUNS", 2048); }

/* Most runs appended in one batch (one flush) while rank 0 is idle
 * (STYLESWEEP_APPEND_BATCH); the batch is also sized to take about
 * APPEND_TARGET_S, so that a worker's message waits at most that long. */
static int append_batch_max(void) { return env_count("STYLESWEEP_APPEND_BATCH", 256); }
#define APPEND_TARGET_S 0.004

/* The ids and parameters (YAML) of manifest runs idx[0..n-1]: malloc'ed arrays
 * of malloc'ed strings (free with free_batch). */
static ss_status make_batch(const ss_manifest *m, const int *idx, int n, char ***ids_out, char ***yaml_out) {
    char **ids = calloc((size_t)n + 1, sizeof *ids), **yaml = calloc((size_t)n + 1, sizeof *yaml);
    ss_run_spec *r = malloc(sizeof *r);
    ss_status st = ids && yaml && r ? SS_OK : ss_error(SS_ERR_NOMEM, "out of memory");
    for (int k = 0; st == SS_OK && k < n; k++) {
        st = ss_manifest_run(r, m, idx[k]);
        if (st == SS_OK && (!(ids[k] = strdup(r->id)) || !(yaml[k] = params_yaml(&r->params))))
            st = ss_error(SS_ERR_NOMEM, "out of memory");
    }
    free(r);
    *ids_out = ids;
    *yaml_out = yaml;
    return st;
}

static void free_batch(char **ids, char **yaml, int n) {
    for (int k = 0; k < n; k++) {
        if (ids) free(ids[k]);
        if (yaml) free(yaml[k]);
    }
    free(ids);
    free(yaml);
}

/* Runs still to append to the archive. */
static int to_append(const coord *c) { return c->n_to_add - c->add_head; }

/* Test hook (tests/test_append.sh): with STYLESWEEP_TEST_KILL=appended:N in
 * the environment, rank 0 kills itself with SIGKILL right after the first
 * append (its flush done) once N runs are done, as a kill -9 between two
 * archive updates would while runs remain to append. Not for use outside tests. */
static void test_kill_appended(const coord *c) {
    const char *e = getenv("STYLESWEEP_TEST_KILL");
    if (e && !strncmp(e, "appended:", 9) && c->n_done >= atoi(e + 9)) raise(SIGKILL);
}

/* Appends the next (at most) max runs still to append to the archive, with
 * one flush; they join the queue. waited: a worker waits for them. */
static ss_status coord_append(coord *c, int max, int waited) {
    int n = to_append(c) < max ? to_append(c) : max;
    if (n <= 0) return SS_OK;
    double t0 = ss_monotonic_seconds();
    char **ids = NULL, **yaml = NULL;
    ss_status st = make_batch(&c->man, c->to_add + c->add_head, n, &ids, &yaml);
    if (st == SS_OK)
        st = AR_CALL(ss_archive_append_runs(c->ar, n, (const char *const *)ids, (const char *const *)yaml,
                                            (long long)(to_append(c) - n)));
    free_batch(ids, yaml, n);
    if (st != SS_OK) return st;
    for (int k = 0; k < n; k++) {
        int run = c->n_runs++; /* the archive's index of the run (runs are appended in order) */
        c->man_index[run] = c->to_add[c->add_head++];
        c->queue[c->q_len++] = run;
    }
    if (c->n_runs != ss_archive_run_count(c->ar))
        return ss_error(SS_ERR_INTERNAL, "the archive has %d runs, the coordinator counts %d",
                        ss_archive_run_count(c->ar), c->n_runs);
    test_kill_appended(c);
    double dt = ss_monotonic_seconds() - t0;
    c->append_batches++;
    c->appended += n;
    c->append_seconds += dt;
    if (waited) c->append_wait_seconds += dt;
    if (dt > c->append_max_seconds) c->append_max_seconds = dt;
    /* the next idle batch: about APPEND_TARGET_S at this batch's pace */
    int next = dt > 0 ? (int)(n * APPEND_TARGET_S / dt) : 2 * n;
    if (next > 2 * n) next = 2 * n;
    c->append_next = next < 1 ? 1 : next > append_batch_max() ? append_batch_max() : next;
    return SS_OK;
}

/* Creates the archive with the first runs, or opens it for --resume and
 * reconciles it with the manifest; c->to_add lists the manifest's runs not
 * yet in the archive (the first of them are added here). */
static ss_status coord_open_archive(coord *c) {
    const ss_sweep_options *o = c->o;
    const ss_manifest *m = &c->man;
    c->to_add = calloc((size_t)m->n_runs + 1, sizeof *c->to_add);
    if (!c->to_add) return ss_error(SS_ERR_NOMEM, "out of memory");
    c->append_next = 1;
    ss_status st = SS_OK;
    if (!o->resume) {
        if (access(o->archive, F_OK) == 0)
            return ss_error(SS_ERR_IO,
                            "%s exists: run the same command with --resume to continue that sweep, or give "
                            "another -o (an archive is never overwritten)",
                            o->archive);
        for (int i = 0; i < m->n_runs; i++) c->to_add[i] = i;
        c->n_to_add = m->n_runs;
        int first = m->n_runs < first_batch() ? m->n_runs : first_batch();
        char **ids = NULL, **yaml = NULL;
        st = make_batch(m, c->to_add, first, &ids, &yaml);
        if (st == SS_OK)
            st = AR_CALL(ss_archive_create_first(&c->ar, o->archive, m->sweep, m->text, m->sha256, first,
                                                 (const char *const *)ids, (const char *const *)yaml,
                                                 (long long)(m->n_runs - first)));
        free_batch(ids, yaml, first);
        c->add_head = first;
        if (st == SS_OK && m->overrides) st = record_overrides(c);
        return st;
    }
    st = AR_CALL(ss_archive_open(&c->ar, o->archive, 1));
    /* runs whose parameters changed are refused (or, with --force, reset);
     * new runs are appended */
    int n_changed = 0;
    char changed[1024] = "";
    int *changed_idx = calloc((size_t)m->n_runs + 1, sizeof *changed_idx);
    int *changed_man = calloc((size_t)m->n_runs + 1, sizeof *changed_man);
    ss_run_spec *r = malloc(sizeof *r);
    if (st == SS_OK && (!changed_idx || !changed_man || !r)) st = ss_error(SS_ERR_NOMEM, "out of memory");
    for (int i = 0; st == SS_OK && i < m->n_runs; i++) {
        int idx;
        st = ss_manifest_run(r, m, i);
        if (st != SS_OK) break;
        if (ss_archive_find_run(c->ar, r->id, &idx) != SS_OK) {
            c->to_add[c->n_to_add++] = i;
            continue;
        }
        char *yaml = params_yaml(&r->params);
        ss_archive_run_info info = {0};
        st = yaml ? ss_archive_get_run(c->ar, idx, &info) : ss_error(SS_ERR_NOMEM, "out of memory");
        if (st == SS_OK && strcmp(info.params, yaml) != 0 && !same_params(info.params, &r->params)) {
            changed_idx[n_changed] = idx;
            changed_man[n_changed] = i;
            if (n_changed++ < 8)
                snprintf(changed + strlen(changed), sizeof changed - strlen(changed), "%s%s", n_changed > 1 ? ", " : "",
                         r->id);
        }
        ss_archive_run_info_free(&info);
        free(yaml);
    }
    if (st == SS_OK && n_changed && !o->force)
        st = ss_error(SS_ERR_ARG,
                      "%s: the parameters of %d run(s) changed since the archive was made (%s%s); "
                      "keep the manifest as it was, give the changed runs new ids, or add --force to "
                      "discard their stored results and run them again",
                      o->manifest, n_changed, changed, n_changed > 8 ? ", ..." : "");
    for (int k = 0; st == SS_OK && o->force && k < n_changed; k++) {
        char *yaml = NULL;
        st = ss_manifest_run(r, m, changed_man[k]);
        if (st == SS_OK && !(yaml = params_yaml(&r->params))) st = ss_error(SS_ERR_NOMEM, "out of memory");
        if (st == SS_OK) st = AR_CALL(ss_archive_reset_run(c->ar, changed_idx[k], yaml));
        free(yaml);
        if (st == SS_OK && !o->quiet)
            printf("resume: %s changed: its results were discarded (--force), it runs again\n", r->id);
    }
    free(r);
    free(changed_idx);
    free(changed_man);
    if (st == SS_OK) {
        /* the first of the new runs now, the rest as the sweep goes; a count
         * left by a sweep that stopped before appending everything is
         * replaced by this manifest's */
        long long recorded = 0;
        int first = c->n_to_add < first_batch() ? c->n_to_add : first_batch();
        st = ss_archive_runs_to_append(c->ar, &recorded);
        if (st == SS_OK && (first > 0 || recorded != c->n_to_add - first)) {
            char **ids = NULL, **yaml = NULL;
            st = make_batch(m, c->to_add, first, &ids, &yaml);
            if (st == SS_OK)
                st = AR_CALL(ss_archive_append_runs(c->ar, first, (const char *const *)ids, (const char *const *)yaml,
                                                    (long long)(c->n_to_add - first)));
            free_batch(ids, yaml, first);
        }
        c->add_head = first;
        if (st == SS_OK && c->n_to_add && !o->quiet) {
            if (first == c->n_to_add) printf("resume: %d new run(s) appended from the manifest\n", c->n_to_add);
            else
                printf("resume: %d new run(s) from the manifest: %d appended, the rest as the sweep goes\n",
                       c->n_to_add, first);
        }
    }
    if (st == SS_OK) {
        char *sha = NULL, *set = NULL;
        st = ss_archive_manifest(c->ar, NULL, NULL, &sha);
        if (st == SS_OK) st = ss_archive_overrides(c->ar, &set);
        /* the archive keeps the manifest last used (earlier ones in /manifest_history);
         * other --set values make another manifest */
        if (st == SS_OK && (strcmp(sha, m->sha256) != 0 || strcmp(set, m->overrides ? m->overrides : "") != 0)) {
            st = AR_CALL(ss_archive_set_manifest(c->ar, m->text, m->sha256));
            if (st == SS_OK && m->overrides) st = record_overrides(c);
        }
        free(sha);
        free(set);
    }
    return st;
}

/* Builds the queue of runs to do and the bookkeeping arrays (room for the
 * runs still to append too). */
static ss_status coord_plan(coord *c, int size) {
    c->n_runs = ss_archive_run_count(c->ar);
    size_t cap = (size_t)c->n_runs + (size_t)to_append(c) + 1;
    c->man_index = calloc(cap, sizeof *c->man_index);
    c->queue = calloc(cap, sizeof *c->queue);
    c->started = calloc(cap, sizeof *c->started);
    c->busy = malloc(sizeof(int) * (size_t)size);
    c->size = size;
    c->n_cache = 2 * size;
    c->cache = malloc(sizeof *c->cache * (size_t)c->n_cache);
    c->cache_run = malloc(sizeof(int) * (size_t)c->n_cache);
    ss_run_status *status = malloc(sizeof *status * ((size_t)c->n_runs + 1));
    if (!c->man_index || !c->cache || !c->cache_run || !status) {
        free(status);
        return ss_error(SS_ERR_NOMEM, "out of memory planning %d runs", c->n_runs);
    }
    for (int k = 0; k < c->n_cache; k++) c->cache_run[k] = -1;
    SS_ALLOC_CHECK(c->queue);
    SS_ALLOC_CHECK(c->started);
    SS_ALLOC_CHECK(c->busy);
    for (int r = 0; r < size; r++) c->busy[r] = -1;
    int skipped_failed = 0;
    ss_status st = ss_archive_read_statuses(status, c->ar);
    if (st != SS_OK) {
        free(status);
        return st;
    }
    for (int i = 0; i < c->n_runs; i++) {
        c->man_index[i] = ss_manifest_find_run(&c->man, ss_archive_run_id(c->ar, i));
        ss_run_status rs = status[i];
        if (c->man_index[i] < 0) continue; /* in the archive, no longer in the manifest: left alone */
        if (rs == SS_RUN_DONE) c->n_done++;
        else if (rs == SS_RUN_FAILED && !c->o->retry_failed) {
            c->n_failed++;
            skipped_failed++;
        } else c->queue[c->q_len++] = i;
    }
    free(status);
    if (skipped_failed && !c->o->quiet)
        printf("resume: %d failed run(s) left as they are (--retry-failed runs them again)\n", skipped_failed);
    return SS_OK;
}

static void coord_summary(coord *c, int final) {
    if (c->o->quiet) return;
    int pending = c->q_len - c->q_head + to_append(c);
    double elapsed = ss_monotonic_seconds() - c->t0;
    char eta[64] = "";
    if (c->done_this_session > 0 && pending + c->n_running > 0) {
        /* the pending runs at the mean duration of the runs done, the running
         * ones for what the mean leaves them: counts down between completions */
        double now = ss_monotonic_seconds(), *running_for = malloc(sizeof(double) * (size_t)(c->size + 1));
        int n = 0;
        for (int r = 0; running_for && r < c->size; r++)
            if (c->busy[r] >= 0) running_for[n++] = now - c->started[c->busy[r]];
        int workers = c->size > 1 ? c->size - 1 : 1;
        if (running_for)
            snprintf(eta, sizeof eta, ", about %.0fs left",
                     ss_eta_seconds(c->done_seconds / c->done_this_session, pending, running_for, n, workers));
        free(running_for);
    }
    printf("%s%.0fs: %d done, %d running, %d pending, %d failed, %d interrupted%s\n",
           final ? "sweep ended after " : "progress at ", elapsed, c->n_done, c->n_running, pending, c->n_failed,
           c->n_interrupted, final ? "" : eta);
    fflush(stdout);
}

/* A progress line every --summary-every seconds (called after each message). */
static void coord_maybe_summary(coord *c) {
    if (ss_monotonic_seconds() - c->last_summary < c->o->summary_every) return;
    coord_summary(c, 0);
    c->last_summary = ss_monotonic_seconds();
}

/* Prepares run `run` for a worker: reads its checkpoint (if any) and trims
 * what was recorded after it; marks the run running. *has_cp is 1 when *cp
 * holds a checkpoint to resume from (free it with ss_archive_checkpoint_free). */
static ss_status coord_prepare(coord *c, int run, ss_archive_checkpoint *cp, int *has_cp) {
    *has_cp = 0;
    memset(cp, 0, sizeof *cp);
    ss_archive_checkpoint_found found = SS_CHECKPOINT_NONE;
    ss_archive_run_info info = {0};
    ss_status st = ss_archive_get_run(c->ar, run, &info);
    int had_progress = st == SS_OK && (info.n_metrics > 0 || info.n_snapshots > 0);
    ss_archive_run_info_free(&info);
    if (st != SS_OK) return st;
    if (had_progress) {
        AR(ss_archive_read_checkpoint(c->ar, run, cp, &found));
        /* the state blob is the engine's (engine.h): 8 bytes in version 1, more in 2 */
        if (found == SS_CHECKPOINT_VALID && cp->state_size >= sizeof(double)) *has_cp = 1;
        else {
            if (found == SS_CHECKPOINT_INVALID && !c->o->quiet)
                printf("%s: %s; it starts again from iteration 0\n", run_id(c, run), ss_error_message());
            ss_archive_checkpoint_free(cp);
        }
        int keep_rows = *has_cp ? cp->n_metrics : 0, keep_iter = *has_cp ? cp->iteration : 0;
        AR(ss_archive_truncate_metrics(c->ar, run, keep_rows));
        AR(ss_archive_truncate_snapshots(c->ar, run, keep_iter));
    }
    AR(ss_archive_set_status(c->ar, run, SS_RUN_RUNNING, NULL));
    c->started[run] = ss_monotonic_seconds();
    c->n_running++;
    if (!c->o->quiet && *has_cp) printf("%s: resuming after iteration %d\n", run_id(c, run), cp->iteration);
    return SS_OK;
}

/* This thread's CPU time, in seconds. */
static double thread_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Counts a message handled since t0 (wall; cpu0: CPU): a message much longer
 * than its CPU time waited for a core (PERFORMANCE.md, 32 workers). */
static void count_message(coord *c, double t0, double cpu0) {
    double dt = ss_monotonic_seconds() - t0;
    c->messages++;
    c->message_seconds += dt;
    if (dt > c->message_max) {
        c->message_max = dt;
        c->message_max_cpu = thread_cpu_seconds() - cpu0;
    }
}

static void coord_finished(coord *c, int run, ss_run_status status) {
    c->n_running--;
    if (status == SS_RUN_DONE) {
        c->n_done++;
        c->done_this_session++;
        c->done_seconds += ss_monotonic_seconds() - c->started[run];
    } else if (status == SS_RUN_FAILED) c->n_failed++;
    else if (status == SS_RUN_INTERRUPTED) c->n_interrupted++;
}

/* Handles one message from rank src about its run. */
static ss_status coord_handle(coord *c, int src, const ss_msg *m) {
    double t0 = ss_monotonic_seconds(), cpu0 = thread_cpu_seconds();
    int run = m->run;
    const ss_run_spec *spec = spec_of(c, run);
    if (!spec) return ss_error(SS_ERR_INTERNAL, "rank %d sent a message about unknown run %d", src, run);
    const ss_params *p = &spec->params;
    switch (m->type) {
    case SS_MSG_STARTED: {
        const char *s[4] = {"", "", "", ""};
        const char *q = (const char *)m->payload, *end = q + m->payload_size;
        for (int i = 0; i < 4 && q && q < end; i++) {
            s[i] = q;
            q += strnlen(q, (size_t)(end - q)) + 1;
        }
        AR(ss_archive_set_run_info(c->ar, run, s[0], src, s[1], s[2], s[3]));
        break;
    }
    case SS_MSG_METRICS: {
        ss_archive_metrics row = {m->iteration, m->values[0], m->values[1], m->values[2],
                                  m->values[3], m->count,     m->values[4], m->values[5]};
        const char *names[SS_MAX_STYLE_LAYERS];
        int n = m->n_layers <= SS_MAX_STYLE_LAYERS ? m->n_layers : SS_MAX_STYLE_LAYERS;
        for (int l = 0; l < n; l++) names[l] = l < p->n_style_layers ? p->style_layers[l] : NULL;
        AR(ss_archive_append_metrics(c->ar, run, &row, n, (const double *)m->payload, names));
        break;
    }
    case SS_MSG_SNAPSHOT: AR(ss_archive_add_snapshot(c->ar, run, m->iteration, m->payload, m->w, m->h)); break;
    case SS_MSG_CHECKPOINT: {
        /* the image, then the engine's state blob */
        size_t img = m->w > 0 && m->h > 0 ? sizeof(float) * 3 * (size_t)m->w * m->h : 0;
        if (img == 0 || m->payload_size < img)
            return ss_error(SS_ERR_INTERNAL, "rank %d sent a checkpoint of %llu bytes for a %dx%d image", src,
                            (unsigned long long)m->payload_size, m->w, m->h);
        ss_archive_checkpoint cp = {m->iteration,
                                    m->count,
                                    m->w,
                                    m->h,
                                    (float *)m->payload,
                                    (unsigned char *)m->payload + img,
                                    (size_t)m->payload_size - img,
                                    0};
        AR(ss_archive_write_checkpoint(c->ar, run, &cp));
        break;
    }
    case SS_MSG_DONE:
        AR(ss_archive_set_final(c->ar, run, m->payload, m->w, m->h));
        AR(ss_archive_set_status(c->ar, run, SS_RUN_DONE, NULL));
        coord_finished(c, run, SS_RUN_DONE);
        if (!c->o->quiet)
            printf("%s done: loss %.6g after %d iterations, %.1fs (rank %d)\n", run_id(c, run), m->values[0],
                   m->iteration, ss_monotonic_seconds() - c->started[run], src);
        break;
    case SS_MSG_FAILED: {
        const char *why = m->payload ? (const char *)m->payload : "unknown error";
        AR(ss_archive_set_status(c->ar, run, SS_RUN_FAILED, why));
        coord_finished(c, run, SS_RUN_FAILED);
        if (!c->o->quiet) printf("%s failed: %s (rank %d)\n", run_id(c, run), why, src);
        break;
    }
    case SS_MSG_INTERRUPTED:
        AR(ss_archive_set_status(c->ar, run, SS_RUN_INTERRUPTED, "interrupted by a signal; --resume continues it"));
        coord_finished(c, run, SS_RUN_INTERRUPTED);
        if (!c->o->quiet) printf("%s interrupted (rank %d)\n", run_id(c, run), src);
        break;
    default: return ss_error(SS_ERR_INTERNAL, "rank %d sent a message of unknown type %d", src, m->type);
    }
    count_message(c, t0, cpu0);
    return SS_OK;
}

/* ---- one rank: rank 0 works itself ---- */

typedef struct local_sink {
    coord *c;
} local_sink;

static ss_status local_emit(void *ctx, const ss_msg *m, const void *payload) {
    local_sink *ls = ctx;
    ss_msg copy = *m;
    copy.payload = payload;
    ss_status st = coord_handle(ls->c, 0, &copy);
    coord_maybe_summary(ls->c);
    return st;
}

static int local_should_stop(void *ctx) {
    (void)ctx;
    return ss_sweep_stop_requested != 0;
}

static ss_status coord_run_local(coord *c) {
    ss_worker *w;
    SS_TRY(ss_worker_new(&w, c->o->backend, c->o->device < 0 ? 0 : c->o->device, c->o->threads));
    local_sink ls = {c};
    ss_worker_sink sink = {&ls, local_emit, local_should_stop};
    ss_status st = SS_OK;
    while (st == SS_OK && (c->q_head < c->q_len || to_append(c) > 0) && !ss_sweep_stop_requested) {
        if (c->q_head == c->q_len) {
            st = coord_append(c, first_batch(), 0);
            if (st != SS_OK) break;
        }
        if (c->q_head == c->q_len) break;
        int run = c->queue[c->q_head++];
        ss_archive_checkpoint cp;
        int has_cp;
        st = coord_prepare(c, run, &cp, &has_cp);
        if (st != SS_OK) break;
        ss_engine_state resume = {cp.iteration, 0.0, cp.image, cp.h, cp.w, 0, cp.state, cp.state_size, NULL};
        const ss_run_spec *spec = spec_of(c, run);
        if (!spec) {
            ss_archive_checkpoint_free(&cp);
            st = ss_error(SS_ERR_INTERNAL, "run %d is not in the manifest", run);
            break;
        }
        c->busy[0] = run;
        st = ss_worker_run(w, run, &spec->params, has_cp ? &resume : NULL, c->o->checkpoint_every, &sink);
        c->busy[0] = -1;
        ss_archive_checkpoint_free(&cp);
    }
    ss_worker_free(w);
    return st;
}

/* ---- several ranks: rank 0 coordinates ---- */

static ss_status send_bytes(const unsigned char *buf, size_t size, int dest, int tag) {
    if (size > INT_MAX) return ss_error(SS_ERR_ARG, "a message of %zu bytes is too large for MPI", size);
    MPI_CHECK(MPI_Send(buf, (int)size, MPI_BYTE, dest, tag, MPI_COMM_WORLD));
    return SS_OK;
}

static ss_status send_down(int dest, int tag, const ss_msg *m, const void *payload) {
    unsigned char *buf;
    size_t size;
    SS_TRY(ss_msg_pack(&buf, &size, m, payload));
    ss_status st = send_bytes(buf, size, dest, tag);
    free(buf);
    return st;
}

/* After a signal: tells the busy workers, once, to checkpoint and stop at
 * their next boundary (also while no message comes: a held or slow run). */
static ss_status coord_send_stop(coord *c) {
    if (!ss_sweep_stop_requested || c->stop_sent) return SS_OK;
    ss_msg stop = {0};
    stop.type = SS_MSG_STOP;
    for (int r = 1; r < c->size; r++)
        if (c->busy[r] >= 0) SS_TRY(send_down(r, TAG_STOP_NOW, &stop, NULL));
    c->stop_sent = 1;
    return SS_OK;
}

/* Waits for a message from any worker without spinning: a blocking probe
 * polls at full speed in Open MPI (most of a core on rank 0, which mostly
 * waits), so this probes with sleeps growing from 20 us to 2 ms, back to
 * none after each message (PERFORMANCE.md, "Rank 0's CPU"). While runs
 * remain to be appended to the archive and no reader has it open, rank 0
 * appends a small batch instead of sleeping (c: the coordinator, NULL:
 * none). */
static ss_status probe_up(coord *c, MPI_Status *status) {
    long ns = 0;
    for (;;) {
        int flag = 0;
        MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, TAG_UP, MPI_COMM_WORLD, &flag, status));
        if (flag) return SS_OK;
        if (c && c->size > 0) SS_TRY(coord_send_stop(c));
        /* not while a reader (status, export) has the archive open: its
         * reads would race the growing table and /runs */
        if (c && to_append(c) > 0 && !ss_sweep_stop_requested && !ss_archive_has_readers(c->ar)) {
            SS_TRY(coord_append(c, c->append_next, 0));
            ns = 0;
            continue;
        }
        ns = ns == 0 ? 20000 : ns >= 1000000 ? 2000000 : 2 * ns;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL); /* a signal cuts it short: fine */
    }
}

/* Receives the next message from any worker into *buf (grown as needed). */
static ss_status recv_up(coord *c, unsigned char **buf, size_t *cap, ss_msg *m, int *src) {
    MPI_Status status;
    SS_TRY(probe_up(c, &status));
    int count;
    MPI_CHECK(MPI_Get_count(&status, MPI_BYTE, &count));
    if ((size_t)count > *cap) {
        unsigned char *nb = realloc(*buf, (size_t)count);
        SS_ALLOC_CHECK(nb);
        *buf = nb;
        *cap = (size_t)count;
    }
    MPI_CHECK(MPI_Recv(*buf, count, MPI_BYTE, status.MPI_SOURCE, TAG_UP, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    *src = status.MPI_SOURCE;
    if (ss_msg_unpack(m, *buf, (size_t)count) != SS_OK)
        return ss_error(SS_ERR_INTERNAL, "rank %d sent a malformed message: %s", *src, ss_error_message());
    return SS_OK;
}

/* Sends run `run` to worker dest: its parameters and, when resuming, the checkpoint. */
static ss_status coord_assign(coord *c, int run, int dest) {
    ss_archive_checkpoint cp;
    int has_cp;
    SS_TRY(coord_prepare(c, run, &cp, &has_cp));
    size_t img = has_cp ? sizeof(float) * 3 * (size_t)cp.w * cp.h : 0;
    size_t blob = has_cp ? cp.state_size : 0;
    size_t size = sizeof(ss_params) + img + blob;
    unsigned char *payload = malloc(size);
    if (!payload) {
        ss_archive_checkpoint_free(&cp);
        return ss_error(SS_ERR_NOMEM, "out of memory for an assignment");
    }
    const ss_run_spec *spec = spec_of(c, run);
    if (!spec) {
        free(payload);
        ss_archive_checkpoint_free(&cp);
        return ss_error(SS_ERR_INTERNAL, "run %d is not in the manifest", run);
    }
    memcpy(payload, &spec->params, sizeof(ss_params));
    ss_msg m = {0};
    m.type = SS_MSG_ASSIGN;
    m.run = run;
    if (has_cp) {
        memcpy(payload + sizeof(ss_params), cp.image, img);
        memcpy(payload + sizeof(ss_params) + img, cp.state, blob);
        m.iteration = cp.iteration;
        m.w = cp.w;
        m.h = cp.h;
        m.count = 1;
    }
    m.payload_size = size;
    ss_archive_checkpoint_free(&cp);
    c->busy[dest] = run;
    ss_status st = send_down(dest, TAG_DOWN, &m, payload);
    free(payload);
    return st;
}

static ss_status coord_run_mpi(coord *c, int size) {
    unsigned char *buf = NULL;
    size_t cap = 0;
    int stopped = 0, workers = size - 1;
    ss_status st = SS_OK;
    while (stopped < workers) {
        ss_msg m;
        int src;
        SS_TRY_GOTO(st, recv_up(c, &buf, &cap, &m, &src), out);
        SS_TRY_GOTO(st, coord_send_stop(c), out);
        if (m.type == SS_MSG_REQUEST) {
            /* counted with the other messages: an assignment reads and writes
             * the archive too (the run's checkpoint, its status) */
            double t_req = ss_monotonic_seconds(), cpu_req = thread_cpu_seconds();
            /* every run in the archive is handed out: append more (the worker waits) */
            if (c->q_head == c->q_len && to_append(c) > 0 && !ss_sweep_stop_requested) {
                SS_TRY_GOTO(st, coord_append(c, c->append_next, 1), out);
                t_req = ss_monotonic_seconds(); /* appending is counted apart */
                cpu_req = thread_cpu_seconds();
            }
            if (c->q_head < c->q_len && !ss_sweep_stop_requested) {
                SS_TRY_GOTO(st, coord_assign(c, c->queue[c->q_head++], src), out);
            } else {
                ss_msg stop = {0};
                stop.type = SS_MSG_STOP;
                SS_TRY_GOTO(st, send_down(src, TAG_DOWN, &stop, NULL), out);
                stopped++;
            }
            count_message(c, t_req, cpu_req);
        } else {
            SS_TRY_GOTO(st, coord_handle(c, src, &m), out);
            if (m.type == SS_MSG_DONE || m.type == SS_MSG_FAILED || m.type == SS_MSG_INTERRUPTED) c->busy[src] = -1;
        }
        coord_maybe_summary(c);
    }
out:
    free(buf);
    return st;
}

/* Answers every worker's first request with STOP (rank 0 could not start). */
static void coord_release_workers(int size) {
    for (int r = 1; r < size; r++) {
        unsigned char *buf = NULL;
        size_t cap = 0;
        ss_msg m;
        int src;
        ss_status st = recv_up(NULL, &buf, &cap, &m, &src);
        if (st == SS_OK) {
            ss_msg stop = {0};
            stop.type = SS_MSG_STOP;
            st = send_down(src, TAG_DOWN, &stop, NULL);
        }
        free(buf);
        if (st != SS_OK) { /* a worker may wait forever: the caller aborts the job */
            fprintf(stderr, "stylesweep run: %s\n", ss_error_message());
            ss_sweep_need_abort = 1;
            return;
        }
    }
}

static ss_sweep_end coordinator(const ss_sweep_options *o, int size) {
    coord c = {0};
    c.o = o;
    c.t0 = c.last_summary = ss_monotonic_seconds();
    char *errors = NULL;
    int n_errors = 0;
    ss_manifest_overrides ov = {o->n_set, o->set, o->only};
    ss_status st = ss_manifest_load(&c.man, o->manifest, &ov, &errors, &n_errors);
    if (st != SS_OK) {
        if (errors) fputs(errors, stderr);
        if (errors && errors[0] && errors[strlen(errors) - 1] != '\n') fputc('\n', stderr);
        fprintf(stderr, "stylesweep run: %s\n", ss_error_message());
        free(errors);
        coord_release_workers(size);
        return SS_SWEEP_ERROR;
    }
    free(errors);
    c.have_man = 1;
    st = coord_open_archive(&c);
    if (st == SS_OK) st = coord_plan(&c, size);
    if (st != SS_OK) {
        fprintf(stderr, "stylesweep run: %s\n", ss_error_message());
        coord_release_workers(size);
        ss_archive_close(c.ar);
        ss_manifest_free(&c.man);
        free(c.to_add);
        return SS_SWEEP_ERROR;
    }
    if (!o->quiet) {
        printf("sweep %s: %d runs, %d to do, %d done, %d failed; %s with %d rank(s)\n", c.man.sweep,
               c.n_runs + to_append(&c), c.q_len + to_append(&c), c.n_done, c.n_failed, o->archive, size);
        fflush(stdout);
    }
    st = size == 1 ? coord_run_local(&c) : coord_run_mpi(&c, size);
    ss_sweep_end end = SS_SWEEP_COMPLETE;
    if (st != SS_OK) {
        fprintf(stderr, "stylesweep run: %s\n", ss_error_message());
        end = SS_SWEEP_ERROR;
        ss_sweep_need_abort = size > 1; /* workers may still wait for rank 0 */
    } else if (ss_sweep_stop_requested || c.q_head < c.q_len || to_append(&c) > 0 || c.n_interrupted) {
        end = SS_SWEEP_INTERRUPTED;
    } else if (c.n_failed) {
        end = SS_SWEEP_RUNS_FAILED;
    }
    coord_summary(&c, 1);
    if (!o->quiet && c.messages)
        printf("rank 0 handled %ld messages, %.3f ms per message\n", c.messages,
               1000.0 * c.message_seconds / c.messages);
    if (!o->quiet && c.messages) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf(
            "rank 0's longest message took %.1f ms (%.1f ms of it on the CPU); rank 0 was preempted %ld "
            "times\n",
            1000.0 * c.message_max, 1000.0 * c.message_max_cpu, (long)ru.ru_nivcsw);
    }
    if (!o->quiet && c.append_batches)
        printf(
            "rank 0 appended %ld runs to the archive in %ld batches, %.3f s (%.3f s of it while a worker "
            "waited; longest batch %.1f ms)\n",
            c.appended, c.append_batches, c.append_seconds, c.append_wait_seconds, 1000.0 * c.append_max_seconds);
    if (end == SS_SWEEP_INTERRUPTED && !o->quiet)
        printf("interrupted: run the same command with --resume to continue\n");
    ss_status cs = ss_archive_close(c.ar);
    if (cs != SS_OK && end != SS_SWEEP_ERROR) {
        fprintf(stderr, "stylesweep run: %s\n", ss_error_message());
        end = SS_SWEEP_ERROR;
    }
    ss_manifest_free(&c.man);
    free(c.man_index);
    free(c.cache);
    free(c.cache_run);
    free(c.queue);
    free(c.to_add);
    free(c.started);
    free(c.busy);
    return end;
}

/* ---- worker ranks ---- */

typedef struct mpi_sink {
    int stop_seen;
    ss_status error; /* an MPI failure while looking for a stop: fatal */
} mpi_sink;

/* A worker's waits for rank 0 (a request until its answer, a send until
 * rank 0 took it; not the first request, answered once the archive is
 * made), printed at its end with STYLESWEEP_BENCH_WAITS=1
 * (scripts/bench_sweep.sh). */
static struct {
    long n;
    double sum, max;
    int started;
} worker_waits;

static void count_wait(double t0) {
    if (!worker_waits.started++) return;
    double dt = ss_monotonic_seconds() - t0;
    worker_waits.n++;
    worker_waits.sum += dt;
    if (dt > worker_waits.max) worker_waits.max = dt;
}

static ss_status mpi_emit(void *ctx, const ss_msg *m, const void *payload) {
    (void)ctx;
    double t0 = ss_monotonic_seconds();
    ss_status st = send_down(0, TAG_UP, m, payload);
    count_wait(t0);
    return st;
}

/* Takes every stop-now message rank 0 sent; *seen = 1 when there was one. */
static ss_status take_stop_now(int *seen) {
    for (;;) {
        int flag = 0, count = 0;
        MPI_Status status;
        MPI_CHECK(MPI_Iprobe(0, TAG_STOP_NOW, MPI_COMM_WORLD, &flag, &status));
        if (!flag) return SS_OK;
        MPI_CHECK(MPI_Get_count(&status, MPI_BYTE, &count));
        unsigned char tmp[SS_MSG_HEADER_SIZE + 16];
        if (count < 0 || count > (int)sizeof tmp)
            return ss_error(SS_ERR_INTERNAL, "rank 0 sent a stop message of %d bytes", count);
        MPI_CHECK(MPI_Recv(tmp, count, MPI_BYTE, 0, TAG_STOP_NOW, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        *seen = 1;
    }
}

static int mpi_should_stop(void *ctx) {
    mpi_sink *s = ctx;
    if (ss_sweep_stop_requested || s->stop_seen || s->error != SS_OK) return 1;
    s->error = take_stop_now(&s->stop_seen);
    return s->stop_seen || s->error != SS_OK;
}

/* Test hook (tests/test_faults.sh): with STYLESWEEP_TEST_FAULT=malformed rank 1
 * sends rank 0 a message whose header claims more bytes than it has; with
 * mpi-error it sends to a rank that does not exist. Both must end the sweep
 * with one clear message, not an abort inside MPI. */
static ss_status test_fault(int rank, int size) {
    const char *e = getenv("STYLESWEEP_TEST_FAULT");
    if (!e || rank != 1) return SS_OK;
    ss_msg m = {0};
    m.type = SS_MSG_REQUEST;
    m.run = -1;
    if (!strcmp(e, "malformed")) {
        m.payload_size = 1000;
        unsigned char buf[SS_MSG_HEADER_SIZE];
        memcpy(buf, &m, SS_MSG_HEADER_SIZE);
        return send_bytes(buf, sizeof buf, 0, TAG_UP);
    }
    if (!strcmp(e, "mpi-error")) return send_down(size, TAG_UP, &m, NULL);
    return SS_OK;
}

/* This worker's index among the workers of its node: its GPU. */
static int local_worker_index(int rank) {
    MPI_Comm node;
    int local = 0;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        int lr;
        MPI_Comm_rank(node, &lr);
        /* rank 0 coordinates: on its node, the workers are local ranks 1.. */
        int has_rank0 = 0, r0 = rank == 0;
        MPI_Allreduce(&r0, &has_rank0, 1, MPI_INT, MPI_MAX, node);
        local = has_rank0 ? lr - 1 : lr;
        MPI_Comm_free(&node);
    }
    return local < 0 ? 0 : local;
}

/* Receives rank 0's next message to this worker into *buf (grown as needed;
 * *size bytes). */
static ss_status recv_down(unsigned char **buf, size_t *cap, size_t *size, ss_msg *m) {
    MPI_Status status;
    int count, rc = MPI_Probe(0, TAG_DOWN, MPI_COMM_WORLD, &status);
    if (rc == MPI_SUCCESS) rc = MPI_Get_count(&status, MPI_BYTE, &count);
    if (rc != MPI_SUCCESS) {
        char why[MPI_MAX_ERROR_STRING] = "";
        int len = 0;
        MPI_Error_string(rc, why, &len);
        return ss_error(SS_ERR_IO, "MPI: lost the coordinator (%s)", why);
    }
    if ((size_t)count > *cap) {
        unsigned char *nb = realloc(*buf, (size_t)count);
        SS_ALLOC_CHECK(nb);
        *buf = nb;
        *cap = (size_t)count;
    }
    MPI_CHECK(MPI_Recv(*buf, count, MPI_BYTE, 0, TAG_DOWN, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    *size = (size_t)count;
    if (ss_msg_unpack(m, *buf, (size_t)count) != SS_OK)
        return ss_error(SS_ERR_INTERNAL, "rank 0 sent a malformed message: %s", ss_error_message());
    return SS_OK;
}

/* ---- a worker rank supervises a compute process ----
 * A worker rank does no computing itself: a child process, forked from it,
 * holds the backend and the cached targets and runs the runs (no MPI in it);
 * the rank relays messages between rank 0 (MPI) and the child (a socket).
 * When the child dies (SIGKILL from the OOM killer, SIGSEGV, a lost GPU),
 * the rank reports its run failed with the signal and starts a new child,
 * and the sweep goes on: Open MPI would abort the whole job if a rank died.
 * A child whose device context was lost (a sticky CUDA error, which no
 * reset clears) reports its run failed itself and ends: the next run gets
 * a new child, with a new context. */

/* The device of the worker that is the local-th of its node: --device, or
 * GPU local mod count. Called only in the process that computes: querying
 * CUDA initialises it, and a CUDA context does not survive fork(). */
static int pick_device(const ss_sweep_options *o, int local) {
    int device = o->device >= 0 ? o->device : local;
    if (o->device < 0 && strcmp(o->backend, "cpu") != 0) { /* the i-th worker of a node: GPU i mod count */
        int n = ss_backend_cuda_devices();
        if (n > 0) device = local % n;
    }
    return device;
}

typedef struct compute_child {
    pid_t pid; /* -1: none */
    int fd;    /* the rank's end of the socket */
} compute_child;

static ss_status child_start(compute_child *c, const ss_sweep_options *o, int rank, int local) {
    int sv[2];
    c->pid = -1;
    c->fd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return ss_error(SS_ERR_IO, "cannot make a socket for the compute process: %s", strerror(errno));
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return ss_error(SS_ERR_IO, "cannot start the compute process: %s", strerror(e));
    }
    if (pid == 0) {
        /* the child: dies with the rank; the rank relays stops (signals are its) */
        close(sv[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(SS_SWEEP_ERROR);
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGUSR2, SIG_IGN);
        ss_worker *w;
        ss_status st = ss_worker_new(&w, o->backend, pick_device(o, local), o->threads);
        if (st == SS_OK) st = ss_worker_serve(w, sv[1], o->checkpoint_every);
        if (st != SS_OK) fprintf(stderr, "stylesweep run: rank %d's compute process: %s\n", rank, ss_error_message());
        ss_worker_free(w);
        fflush(NULL);
        _exit(st == SS_OK ? 0 : SS_SWEEP_ERROR); /* nothing of MPI's may run in the child */
    }
    close(sv[1]);
    c->pid = pid;
    c->fd = sv[0];
    return SS_OK;
}

/* Ends the child (closing its socket ends its loop) and waits for it; with
 * why, describes how it ended (after a failure seen on the socket). */
static void child_end(compute_child *c, int kill_it, char *why, size_t why_size) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    if (c->pid <= 0) return;
    if (kill_it) kill(c->pid, SIGKILL);
    int ws = 0;
    while (waitpid(c->pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (why && WIFSIGNALED(ws))
        snprintf(why, why_size, "worker killed by signal %d (%s)", WTERMSIG(ws), strsignal(WTERMSIG(ws)));
    else if (why)
        snprintf(why, why_size, "the worker's compute process exited with status %d",
                 WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    c->pid = -1;
}

/* Runs the run of the ASSIGN message in buf (size bytes, unpacked in *a) on
 * the child, relaying its messages to rank 0 and rank 0's stop to it. When
 * the child dies, reports the run failed with the signal and the iteration,
 * and starts a new child. */
static ss_status relay_run(compute_child *c, const ss_sweep_options *o, int rank, int local, const unsigned char *buf,
                           size_t size, const ss_msg *a) {
    unsigned char *mbuf = NULL;
    size_t mcap = 0, msize = 0;
    int last = a->count ? a->iteration : 0, stop_sent = 0, dead = 0;
    ss_status st = SS_OK;
    if (c->pid > 0 && waitpid(c->pid, NULL, WNOHANG) == c->pid) c->pid = -1; /* died between runs */
    if (c->pid < 0) SS_TRY(child_start(c, o, rank, local));
    if (ss_msg_send_packed(c->fd, buf, size) != SS_OK) dead = 1;
    while (!dead) {
        if (!stop_sent) {
            int seen = 0;
            SS_TRY_GOTO(st, take_stop_now(&seen), out);
            if (seen || ss_sweep_stop_requested) {
                ss_msg stop = {0};
                stop.type = SS_MSG_STOP;
                stop.run = a->run;
                ss_msg_send_fd(c->fd, &stop, NULL); /* a dead child shows on the next read */
                stop_sent = 1;
            }
        }
        struct pollfd p = {c->fd, POLLIN, 0};
        int r = poll(&p, 1, 20);
        if (r < 0 && errno != EINTR) {
            st = ss_error(SS_ERR_IO, "poll on the compute process's socket: %s", strerror(errno));
            goto out;
        }
        if (r <= 0) continue;
        ss_msg m;
        if (ss_msg_recv_fd(c->fd, &mbuf, &mcap, &msize, &m) != SS_OK || m.run != a->run) {
            dead = 1;
            break;
        }
        if (m.type == SS_MSG_METRICS) last = m.iteration;
        double t0 = ss_monotonic_seconds();
        SS_TRY_GOTO(st, send_bytes(mbuf, msize, 0, TAG_UP), out);
        count_wait(t0);
        /* a lost device context: the child ends after this message; the next run starts a new one */
        if (m.type == SS_MSG_FAILED && m.count == 1) child_end(c, 1, NULL, 0);
        if (m.type == SS_MSG_DONE || m.type == SS_MSG_FAILED || m.type == SS_MSG_INTERRUPTED) goto out;
    }
    {
        /* the child died (or broke the protocol: it is killed): the run failed */
        char why[256], text[320];
        child_end(c, 1, why, sizeof why);
        snprintf(text, sizeof text, "%s during iteration %d", why, last + 1);
        ss_msg f = {0};
        f.type = SS_MSG_FAILED;
        f.run = a->run;
        f.payload_size = strlen(text) + 1;
        SS_TRY_GOTO(st, send_down(0, TAG_UP, &f, text), out);
        SS_TRY_GOTO(st, child_start(c, o, rank, local), out);
    }
out:
    free(mbuf);
    return st;
}

static ss_status worker_loop(const ss_sweep_options *o, int rank, int size, int local) {
    SS_TRY(test_fault(rank, size));
    /* STYLESWEEP_WORKER_PROCESS=0: compute in the rank itself (a death then
     * aborts the job; for measuring what the compute process costs) */
    const char *wp = getenv("STYLESWEEP_WORKER_PROCESS");
    int separate = !(wp && !strcmp(wp, "0"));
    ss_worker *w = NULL;
    compute_child child = {-1, -1};
    if (separate) SS_TRY(child_start(&child, o, rank, local));
    else SS_TRY(ss_worker_new(&w, o->backend, pick_device(o, local), o->threads));
    mpi_sink ms = {0, SS_OK};
    ss_worker_sink sink = {&ms, mpi_emit, mpi_should_stop};
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    ss_status st = SS_OK;
    for (;;) {
        ss_msg req = {0};
        req.type = SS_MSG_REQUEST;
        req.run = -1;
        double t_req = ss_monotonic_seconds();
        SS_TRY_GOTO(st, send_down(0, TAG_UP, &req, NULL), out);
        ss_msg m;
        SS_TRY_GOTO(st, recv_down(&buf, &cap, &n, &m), out);
        count_wait(t_req);
        if (m.type == SS_MSG_STOP) break;
        if (separate) {
            SS_TRY_GOTO(st, relay_run(&child, o, rank, local, buf, n, &m), out);
        } else {
            ms.stop_seen = 0;
            SS_TRY_GOTO(st, ss_worker_run_assigned(w, &m, o->checkpoint_every, &sink), out);
            SS_TRY_GOTO(st, ms.error, out);
        }
    }
out:
    /* a stop-now message may be left over: take it so that MPI finalises cleanly */
    {
        int seen = 0;
        ss_status ds = take_stop_now(&seen);
        if (st == SS_OK) st = ds;
    }
    free(buf);
    child_end(&child, st != SS_OK, NULL, 0);
    ss_worker_free(w);
    const char *e = getenv("STYLESWEEP_BENCH_WAITS");
    if (e && !strcmp(e, "1") && worker_waits.n) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr, "rank %d waited %ld times: mean %.3f ms, max %.3f ms; preempted %ld times\n", rank,
                worker_waits.n, worker_waits.sum / worker_waits.n * 1000.0, worker_waits.max * 1000.0,
                (long)ru.ru_nivcsw);
    }
    return st;
}

ss_sweep_end ss_sweep_run(const ss_sweep_options *o, int rank, int size) {
    int local = local_worker_index(rank);
    if (rank == 0) return coordinator(o, size);
    ss_status st = worker_loop(o, rank, size, local);
    if (st != SS_OK) {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        fprintf(stderr, "stylesweep run: rank %d on %s: %s\n", rank, host, ss_error_message());
        ss_sweep_need_abort = 1;
        return SS_SWEEP_ERROR;
    }
    /* rank 0's exit code tells how the sweep ended; a worker that exited with a
     * non-zero code first would make mpirun kill rank 0 before it closes */
    return SS_SWEEP_COMPLETE;
}
