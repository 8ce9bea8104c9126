/* test_archive.c - tests of the sweep archive (hdf5/archive*.c): create,
 * write, close, reopen and read back exactly; a second process reading while
 * the writer holds the file; refusals (existing file, text file, foreign HDF5
 * file, newer schema, second writer, read-only writes); checkpoints (round
 * trip, half-written and torn slots never returned as valid); appended runs;
 * truncation. Writes only under a mkdtemp directory in /tmp, removed at the end.
 *
 * Other modes (used by tests/test_archive_h5py.sh and by the fork test):
 *   test_archive --write PATH [--hold]   writes the sample archive; with --hold
 *                                        it creates PATH.ready after the last
 *                                        flush and keeps the file open until
 *                                        PATH.release exists (60 s at most)
 *   test_archive --read PATH N           opens PATH read-only, checks N runs and
 *                                        the sample's statuses, checks that a
 *                                        second writer is refused; exit 0 if so
 * The sample's values follow the formulas below; tests/read_archive.py
 * repeats them. */
#include "archive.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evalfile.h"
#include "h5util.h"
#include "params.h"
#include "testlib.h"

/* ---- the sample ---- */

static const char *MANIFEST =
    "sweep: sample\ndefaults:\n  iterations: 12\nexperiments:\n  - {id: t01}\n"
    "  - {id: t02, tv_weight: 1.0e-4}\n  - {id: t03}\n";
static const char *MANIFEST_SHA = "e0075a418b43c61022335b5d82176cb69051eed17ca4e5f975022d742a5b6a51";
static const char *IDS[3] = {"t01", "t02-tv_weight=0.0001", "t03"};
static const char *LAYERS[3] = {"conv1_1", "conv3_1", "conv5_1"};
enum { IMG_W = 8, IMG_H = 6, FINAL_ITERATION = 999 };

static ss_archive_metrics metric(int r, int k) {
    ss_archive_metrics m;
    m.iteration = k;
    m.loss = 1000.0 / k + r;
    m.content = 10.0 * r + k;
    m.style = 500.0 / k;
    m.tv = 0.5 * k;
    m.evaluations = 20;
    m.seconds = 0.25 * k + r;
    m.improvement_percent = k == 1 ? 0.0 : 100.0 / k;
    return m;
}

static double layer_value(int r, int k, int l) { return r * 100.0 + k + l * 0.5; }

static void make_image(unsigned char *rgb, int r, int it, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                rgb[(y * w + x) * 3 + c] = (unsigned char)((r * 50 + it * 7 + y * 11 + x * 3 + c * 60) & 255);
}

/* Checkpoint contents of run r at iteration it: image (3, h, w) and state bytes. */
static void make_checkpoint(ss_archive_checkpoint *c, int r, int it, int w, int h) {
    memset(c, 0, sizeof *c);
    c->iteration = it;
    c->n_metrics = it;
    c->w = w;
    c->h = h;
    c->image = malloc(sizeof(float) * 3 * (size_t)w * (size_t)h);
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                c->image[(ch * h + y) * w + x] = (float)(r + ch * 0.25 + y * 0.01 + x * 0.001 + it);
    c->state_size = (size_t)(100 + it);
    c->state = malloc(c->state_size);
    for (size_t k = 0; k < c->state_size; k++) c->state[k] = (unsigned char)((k * 31 + (size_t)it) & 255);
}

static void free_made_checkpoint(ss_archive_checkpoint *c) {
    free(c->image);
    free(c->state);
}

static int checkpoint_matches(const ss_archive_checkpoint *got, int r, int it, int w, int h) {
    ss_archive_checkpoint want;
    make_checkpoint(&want, r, it, w, h);
    int ok = got->iteration == it && got->n_metrics == it && got->w == w && got->h == h &&
             got->state_size == want.state_size && got->image && got->state &&
             !memcmp(got->image, want.image, sizeof(float) * 3 * (size_t)w * (size_t)h) &&
             !memcmp(got->state, want.state, want.state_size);
    free_made_checkpoint(&want);
    return ok;
}

/* The parameters of run r as YAML text (malloc'ed). */
static char *params_text(int r) {
    ss_params p;
    ss_params_defaults(&p);
    p.iterations = 12;
    if (r == 1) ss_params_set(&p, "tv_weight", "1e-4");
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    ss_params_write(&p, f);
    fclose(f);
    return buf;
}

/* Writes the sample: run 0 done (12 metrics rows with 3 style layers,
 * snapshots 1,2,3,5,10, final, checkpoints at 10 then 12), run 1 interrupted
 * (3 rows, the first without layer values, snapshot 1, checkpoint at 3),
 * run 2 failed twice (one row, truncated away). Leaves *a open. */
static int write_sample(ss_archive **a, const char *path) {
    char *params[3];
    for (int r = 0; r < 3; r++) params[r] = params_text(r);
    ss_status st = ss_archive_create(a, path, "sample", MANIFEST, MANIFEST_SHA, 3, IDS, (const char *const *)params);
    for (int r = 0; r < 3; r++) free(params[r]);
    CHECK(st == SS_OK, "create: %s", ss_error_message());
    if (st != SS_OK) return 1;
    unsigned char rgb[IMG_W * IMG_H * 3];
    double vals[3];
    /* run 0 */
    CHECK_OK(ss_archive_set_run_info(*a, 0, "node1", 1, "cpu", "Xeon 8480", "random"));
    CHECK_OK(ss_archive_set_status(*a, 0, SS_RUN_RUNNING, NULL));
    for (int k = 1; k <= 12; k++) {
        ss_archive_metrics m = metric(0, k);
        for (int l = 0; l < 3; l++) vals[l] = layer_value(0, k, l);
        CHECK_OK(ss_archive_append_metrics(*a, 0, &m, 3, vals, LAYERS));
        if (k <= 3 || k == 5 || k == 10) {
            make_image(rgb, 0, k, IMG_W, IMG_H);
            CHECK_OK(ss_archive_add_snapshot(*a, 0, k, rgb, IMG_W, IMG_H));
        }
        if (k == 10 || k == 12) {
            ss_archive_checkpoint c;
            make_checkpoint(&c, 0, k, IMG_W, IMG_H);
            CHECK_OK(ss_archive_write_checkpoint(*a, 0, &c));
            CHECK(c.generation == (k == 10 ? 1 : 2), "generation %lld", c.generation);
            free_made_checkpoint(&c);
        }
    }
    make_image(rgb, 0, FINAL_ITERATION, IMG_W, IMG_H);
    CHECK_OK(ss_archive_set_final(*a, 0, rgb, IMG_W, IMG_H));
    CHECK_OK(ss_archive_set_status(*a, 0, SS_RUN_DONE, NULL));
    /* run 1 */
    CHECK_OK(ss_archive_set_run_info(*a, 1, "node2", 2, "cuda", "NVIDIA H200", "vgg16.h5"));
    CHECK_OK(ss_archive_set_status(*a, 1, SS_RUN_RUNNING, NULL));
    for (int k = 1; k <= 3; k++) {
        ss_archive_metrics m = metric(1, k);
        for (int l = 0; l < 3; l++) vals[l] = layer_value(1, k, l);
        CHECK_OK(ss_archive_append_metrics(*a, 1, &m, k == 1 ? 0 : 3, k == 1 ? NULL : vals, LAYERS));
    }
    make_image(rgb, 1, 1, IMG_W, IMG_H);
    CHECK_OK(ss_archive_add_snapshot(*a, 1, 1, rgb, IMG_W, IMG_H));
    ss_archive_checkpoint c;
    make_checkpoint(&c, 1, 3, IMG_W, IMG_H);
    CHECK_OK(ss_archive_write_checkpoint(*a, 1, &c));
    free_made_checkpoint(&c);
    CHECK_OK(ss_archive_set_status(*a, 1, SS_RUN_INTERRUPTED, NULL));
    /* run 2 */
    CHECK_OK(ss_archive_set_run_info(*a, 2, "node1", 3, "cpu", "Xeon 8480", "random"));
    CHECK_OK(ss_archive_set_status(*a, 2, SS_RUN_RUNNING, NULL));
    ss_archive_metrics m = metric(2, 1);
    CHECK_OK(ss_archive_append_metrics(*a, 2, &m, 0, NULL, NULL));
    CHECK_OK(ss_archive_set_status(*a, 2, SS_RUN_FAILED, "out of memory"));
    CHECK_OK(ss_archive_truncate_metrics(*a, 2, 0));
    CHECK_OK(ss_archive_set_status(*a, 2, SS_RUN_RUNNING, NULL));
    CHECK_OK(ss_archive_set_status(*a, 2, SS_RUN_FAILED, "NaN loss at iteration 2"));
    CHECK_OK(ss_archive_flush(*a));
    return g_failures;
}

static const ss_run_status SAMPLE_STATUS[3] = {SS_RUN_DONE, SS_RUN_INTERRUPTED, SS_RUN_FAILED};

/* ---- modes ---- */

static int mode_write(const char *path, int hold) {
    ss_archive *a = NULL;
    if (write_sample(&a, path) != 0) return 1;
    if (hold) {
        char ready[4096], release[4096];
        snprintf(ready, sizeof ready, "%s.ready", path);
        snprintf(release, sizeof release, "%s.release", path);
        FILE *f = fopen(ready, "w");
        if (f) fclose(f);
        for (int k = 0; k < 600 && access(release, F_OK) != 0; k++) usleep(100000);
    }
    ss_status st = ss_archive_close(a);
    if (st != SS_OK) fprintf(stderr, "close: %s\n", ss_error_message());
    return st == SS_OK && g_failures == 0 ? 0 : 1;
}

static int mode_read(const char *path, int n) {
    ss_archive *a = NULL;
    ss_status st = ss_archive_open(&a, path, 0);
    CHECK(st == SS_OK, "read-only open during write: %s", ss_error_message());
    if (st != SS_OK) return 1;
    CHECK(ss_archive_run_count(a) == n, "%d runs", ss_archive_run_count(a));
    for (int i = 0; i < 3 && i < ss_archive_run_count(a); i++) {
        ss_archive_run_info r;
        CHECK_OK(ss_archive_get_run(a, i, &r));
        CHECK(r.status == SAMPLE_STATUS[i], "run %d status %s", i, ss_archive_status_name(r.status));
        CHECK(r.id && !strcmp(r.id, IDS[i]), "run %d id %s", i, r.id);
        ss_archive_run_info_free(&r);
    }
    ss_archive_metrics *rows = NULL;
    int nr = 0;
    CHECK_OK(ss_archive_read_metrics(a, 0, &rows, &nr));
    CHECK(nr == 12, "%d metrics rows", nr);
    free(rows);
    CHECK_OK(ss_archive_close(a));
    /* a second writer is refused while the first holds the file */
    ss_archive *w = NULL;
    st = ss_archive_open(&w, path, 1);
    CHECK(st == SS_ERR_IO && strstr(ss_error_message(), "being written"), "second writer: %s %s", ss_strerror(st),
          ss_error_message());
    if (st == SS_OK) ss_archive_close(w);
    return g_failures ? 1 : 0;
}

/* ---- tests ---- */

static void expect_fail(ss_status st, ss_status want, const char *needle, const char *what) {
    CHECK(st == want && strstr(ss_error_message(), needle), "%s: got %s '%s', want %s with '%s'", what, ss_strerror(st),
          ss_error_message(), ss_strerror(want), needle);
}

/* Reads everything back and compares with the sample. */
static void verify_sample(ss_archive *a, int expect_runs) {
    CHECK(ss_archive_run_count(a) == expect_runs, "run count %d", ss_archive_run_count(a));
    char *sweep = NULL, *text = NULL, *sha = NULL;
    CHECK_OK(ss_archive_manifest(a, &sweep, &text, &sha));
    CHECK(sweep && !strcmp(sweep, "sample"), "sweep %s", sweep);
    CHECK(text && !strcmp(text, MANIFEST), "manifest text");
    CHECK(sha && !strcmp(sha, MANIFEST_SHA), "sha %s", sha);
    free(sweep);
    free(text);
    free(sha);
    static const int n_metrics[3] = {12, 3, 0}, n_snap[3] = {5, 1, 0}, attempts[3] = {1, 1, 2};
    static const int ckpt[3] = {12, 3, -1};
    static const char *hosts[3] = {"node1", "node2", "node1"};
    static const char *devices[3] = {"Xeon 8480", "NVIDIA H200", "Xeon 8480"};
    static const char *weights[3] = {"random", "vgg16.h5", "random"};
    for (int i = 0; i < 3; i++) {
        ss_archive_run_info r;
        CHECK_OK(ss_archive_get_run(a, i, &r));
        if (!r.id) continue;
        CHECK(r.index == i && !strcmp(r.id, IDS[i]), "run %d id %s", i, r.id);
        CHECK(r.status == SAMPLE_STATUS[i], "run %d status %s", i, ss_archive_status_name(r.status));
        CHECK(r.attempts == attempts[i], "run %d attempts %d", i, r.attempts);
        CHECK(r.n_metrics == n_metrics[i], "run %d n_metrics %d", i, r.n_metrics);
        CHECK(r.iterations_done == n_metrics[i], "run %d iterations_done %d", i, r.iterations_done);
        CHECK(r.n_snapshots == n_snap[i], "run %d n_snapshots %d", i, r.n_snapshots);
        CHECK(r.has_final == (i == 0), "run %d has_final %d", i, r.has_final);
        CHECK(r.checkpoint_iteration == ckpt[i], "run %d checkpoint_iteration %d", i, r.checkpoint_iteration);
        if (n_metrics[i]) CHECK(r.final_loss == metric(i, n_metrics[i]).loss, "run %d final loss %g", i, r.final_loss);
        else CHECK(isnan(r.final_loss), "run %d final loss %g", i, r.final_loss);
        CHECK(!strcmp(r.host, hosts[i]) && !strcmp(r.device, devices[i]) && !strcmp(r.weights, weights[i]) &&
                  r.rank == i + 1 && !strcmp(r.backend, i == 1 ? "cuda" : "cpu"),
              "run %d host %s device %s weights %s rank %d", i, r.host, r.device, r.weights, r.rank);
        CHECK(!strcmp(r.error, i == 2 ? "NaN loss at iteration 2" : ""), "run %d error '%s'", i, r.error);
        CHECK(r.start_time > 1e9 && (i == 2 || r.end_time >= r.start_time), "run %d times %f %f", i, r.start_time,
              r.end_time);
        char *want = params_text(i);
        CHECK(!strcmp(r.params, want), "run %d params differ", i);
        free(want);
        ss_archive_run_info_free(&r);

        ss_archive_metrics *rows = NULL;
        int nr = -1;
        CHECK_OK(ss_archive_read_metrics(a, i, &rows, &nr));
        CHECK(nr == n_metrics[i], "run %d metrics rows %d", i, nr);
        for (int k = 0; k < nr; k++) {
            ss_archive_metrics m = metric(i, k + 1);
            CHECK(rows[k].iteration == m.iteration && rows[k].loss == m.loss && rows[k].content == m.content &&
                      rows[k].style == m.style && rows[k].tv == m.tv && rows[k].evaluations == m.evaluations &&
                      rows[k].seconds == m.seconds && rows[k].improvement_percent == m.improvement_percent,
                  "run %d metrics row %d", i, k);
        }
        free(rows);

        double *vals = NULL;
        int nrows = -1, nl = -1;
        char **names = NULL;
        CHECK_OK(ss_archive_read_style_layers(a, i, &vals, &nrows, &nl, &names));
        if (i == 2) {
            CHECK(nrows == 0 && nl == 0 && !vals && !names, "run 2 has no style layers");
        } else {
            CHECK(nrows == n_metrics[i] && nl == 3, "run %d style layers %d x %d", i, nrows, nl);
            for (int l = 0; names && l < nl; l++) CHECK(!strcmp(names[l], LAYERS[l]), "layer %d %s", l, names[l]);
            for (int k = 0; vals && k < nrows; k++)
                for (int l = 0; l < nl; l++) {
                    double v = vals[k * nl + l];
                    if (i == 1 && k == 0) CHECK(isnan(v), "run 1 row 0 layer %d should be NaN, is %g", l, v);
                    else CHECK(v == layer_value(i, k + 1, l), "run %d row %d layer %d: %g", i, k, l, v);
                }
        }
        free(vals);
        ss_archive_strings_free(names, nl);

        unsigned char *rgb = NULL, want_img[IMG_W * IMG_H * 3];
        int *its = NULL, n = -1, w = 0, h = 0;
        CHECK_OK(ss_archive_read_snapshots(a, i, &rgb, &its, &n, &w, &h));
        CHECK(n == n_snap[i], "run %d snapshots %d", i, n);
        static const int its0[5] = {1, 2, 3, 5, 10};
        for (int s = 0; s < n && rgb && its; s++) {
            int it = i == 0 ? its0[s] : 1;
            CHECK(its[s] == it && w == IMG_W && h == IMG_H, "run %d snapshot %d iteration %d", i, s, its[s]);
            make_image(want_img, i, it, IMG_W, IMG_H);
            CHECK(!memcmp(rgb + (size_t)s * sizeof want_img, want_img, sizeof want_img), "run %d snapshot %d pixels", i,
                  s);
        }
        free(rgb);
        free(its);

        int found = -1;
        CHECK_OK(ss_archive_read_final(a, i, &rgb, &w, &h, &found));
        CHECK(found == (i == 0), "run %d final found %d", i, found);
        if (found == 1) {
            make_image(want_img, 0, FINAL_ITERATION, IMG_W, IMG_H);
            CHECK(w == IMG_W && h == IMG_H && !memcmp(rgb, want_img, sizeof want_img), "final pixels");
        }
        free(rgb);

        ss_archive_checkpoint c;
        ss_archive_checkpoint_found cf;
        CHECK_OK(ss_archive_read_checkpoint(a, i, &c, &cf));
        if (ckpt[i] < 0) {
            CHECK(cf == SS_CHECKPOINT_NONE, "run %d checkpoint %d", i, (int)cf);
        } else {
            CHECK(cf == SS_CHECKPOINT_VALID && checkpoint_matches(&c, i, ckpt[i], IMG_W, IMG_H),
                  "run %d checkpoint found %d iteration %d", i, (int)cf, c.iteration);
            CHECK(c.generation == (i == 0 ? 2 : 1), "run %d generation %lld", i, c.generation);
        }
        ss_archive_checkpoint_free(&c);
    }
}

/* Fork and exec this program in --read mode while the writer holds path. */
static void test_reader_process(const char *path, int n) {
    pid_t pid = fork();
    if (pid == 0) {
        char nbuf[16];
        snprintf(nbuf, sizeof nbuf, "%d", n);
        execl("/proc/self/exe", "test_archive", "--read", path, nbuf, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader process exit status %d", status);
}

static void test_roundtrip(void) {
    const char *path = tmp_path("sweep.h5");
    ss_archive *a = NULL;
    if (write_sample(&a, path) != 0) {
        ss_archive_close(a);
        return;
    }
    /* another process opens it read-only while this writer holds it */
    test_reader_process(path, 3);
    /* this process too (a second handle, read-only) */
    ss_archive *r = NULL;
    CHECK_OK(ss_archive_open(&r, path, 0));
    if (r) verify_sample(r, 3);
    ss_archive_close(r);
    CHECK_OK(ss_archive_close(a));
    CHECK(access(tmp_path("sweep.h5.tmp-0"), F_OK) != 0, "no temporary left");

    CHECK_OK(ss_archive_open(&a, path, 0));
    if (a) verify_sample(a, 3);
    /* read-only handles refuse writes */
    if (a) {
        ss_archive_metrics m = metric(0, 13);
        expect_fail(ss_archive_append_metrics(a, 0, &m, 0, NULL, NULL), SS_ERR_ARG, "read-only", "write read-only");
        expect_fail(ss_archive_set_status(a, 0, SS_RUN_DONE, NULL), SS_ERR_ARG, "read-only", "status read-only");
        ss_archive_run_info info;
        expect_fail(ss_archive_get_run(a, 7, &info), SS_ERR_ARG, "out of range", "bad index");
        ss_archive_run_info_free(&info);
        int idx = -1;
        CHECK_OK(ss_archive_find_run(a, "t03", &idx));
        CHECK(idx == 2, "find_run %d", idx);
        expect_fail(ss_archive_find_run(a, "nope", &idx), SS_ERR_ARG, "no run 'nope'", "find missing");
    }
    CHECK_OK(ss_archive_close(a));
}

static void test_refusals(void) {
    char path[256];
    snprintf(path, sizeof path, "%s", tmp_path("sweep.h5"));
    ss_archive *a = NULL;
    const char *ids[1] = {"x"};
    expect_fail(ss_archive_create(&a, path, "s", "", "", 1, ids, NULL), SS_ERR_IO,
                "exists; use --resume to continue it", "create over existing");
    CHECK(a == NULL, "no handle");
    expect_fail(ss_archive_create(&a, tmp_path("nodir/x.h5"), "s", "", "", 1, ids, NULL), SS_ERR_IO, "nodir",
                "create in missing dir");
    const char *bad1[2] = {"a", "a"}, *bad2[1] = {"a/b"}, *bad3[1] = {""};
    expect_fail(ss_archive_create(&a, tmp_path("b1.h5"), "s", "", "", 2, bad1, NULL), SS_ERR_ARG, "twice", "dup id");
    expect_fail(ss_archive_create(&a, tmp_path("b2.h5"), "s", "", "", 1, bad2, NULL), SS_ERR_ARG, "a/b", "slash id");
    expect_fail(ss_archive_create(&a, tmp_path("b3.h5"), "s", "", "", 1, bad3, NULL), SS_ERR_ARG, "empty", "empty id");
    CHECK(access(tmp_path("b1.h5"), F_OK) != 0, "nothing created for bad ids");

    expect_fail(ss_archive_open(&a, tmp_path("missing.h5"), 0), SS_ERR_IO, "missing.h5", "open missing");
    const char *txt = tmp_path("notes.txt");
    FILE *f = fopen(txt, "w");
    fputs("not hdf5 at all\n", f);
    fclose(f);
    expect_fail(ss_archive_open(&a, txt, 0), SS_ERR_FORMAT, "is not an HDF5 file", "open text file");
    expect_fail(ss_archive_open(&a, txt, 1), SS_ERR_FORMAT, "is not an HDF5 file", "open text file writable");

    /* an HDF5 file that is not an archive: an eval output */
    const char *foreign = tmp_path("eval.h5");
    float x[3 * 2 * 2] = {0};
    double sl[1] = {0};
    const char *ln[1] = {"conv1_1"};
    ss_eval_output o = {
        .loss = 1, .n_style_layers = 1, .style_loss = sl, .style_layers = ln, .x = x, .grad = x, .h = 2, .w = 2};
    CHECK_OK(ss_evalfile_write(foreign, &o, 0));
    expect_fail(ss_archive_open(&a, foreign, 0), SS_ERR_FORMAT, "not a stylesweep archive", "open foreign HDF5");

    /* a newer schema version */
    const char *newer = tmp_path("newer.h5");
    CHECK_OK(ss_archive_create(&a, newer, "s", "m", "h", 1, ids, NULL));
    CHECK_OK(ss_archive_close(a));
    CHECK_OK(ss_h5_set_int_attr(newer, "/", "schema_version", 99));
    expect_fail(ss_archive_open(&a, newer, 0), SS_ERR_FORMAT, "schema version 99", "open newer schema");
    expect_fail(ss_archive_open(&a, newer, 1), SS_ERR_FORMAT, "newer stylesweep", "open newer schema writable");

    /* a second writer in the same process is refused too (the lock is per open file) */
    ss_archive *w1 = NULL, *w2 = NULL;
    CHECK_OK(ss_archive_open(&w1, path, 1));
    expect_fail(ss_archive_open(&w2, path, 1), SS_ERR_IO, "being written by another", "second writer");
    ss_archive *rd = NULL;
    CHECK_OK(ss_archive_open(&rd, path, 0));
    ss_archive_close(rd);
    CHECK_OK(ss_archive_close(w1));
    CHECK_OK(ss_archive_open(&w2, path, 1)); /* free again after close */
    CHECK_OK(ss_archive_close(w2));
}

/* Overwrites part of the bytes of `pattern` (first occurrence) in file path. */
static int corrupt_file(const char *path, const void *pattern, size_t n) {
    FILE *f = fopen(path, "r+b");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    unsigned char *buf = malloc((size_t)size);
    fseek(f, 0, SEEK_SET);
    int done = 0;
    if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
        for (long k = 0; k + (long)n <= size; k++)
            if (!memcmp(buf + k, pattern, n)) {
                unsigned char zeros[16] = {0};
                fseek(f, k + (long)n / 2, SEEK_SET); /* a torn write: the second half never arrived */
                fwrite(zeros, 1, sizeof zeros, f);
                done = 1;
                break;
            }
    }
    free(buf);
    fclose(f);
    return done;
}

static void test_checkpoints(void) {
    char path[256];
    snprintf(path, sizeof path, "%s", tmp_path("ckpt.h5"));
    const char *ids[2] = {"c1", "c2"};
    ss_archive *a = NULL;
    CHECK_OK(ss_archive_create(&a, path, "s", "m", "h", 2, ids, NULL));
    if (!a) return;
    ss_archive_checkpoint c, got;
    ss_archive_checkpoint_found found;
    CHECK_OK(ss_archive_read_checkpoint(a, 0, &got, &found));
    CHECK(found == SS_CHECKPOINT_NONE, "none yet: %d", (int)found);
    for (int it = 1; it <= 2; it++) {
        make_checkpoint(&c, 0, it, 5, 4);
        CHECK_OK(ss_archive_write_checkpoint(a, 0, &c));
        CHECK(c.generation == it, "generation %lld", c.generation);
        free_made_checkpoint(&c);
    }
    CHECK_OK(ss_archive_read_checkpoint(a, 0, &got, &found));
    CHECK(found == SS_CHECKPOINT_VALID && checkpoint_matches(&got, 0, 2, 5, 4), "newest: %d it %d", (int)found,
          got.iteration);
    ss_archive_checkpoint_free(&got);
    /* an empty state blob */
    make_checkpoint(&c, 1, 7, 3, 3);
    c.state_size = 0;
    CHECK_OK(ss_archive_write_checkpoint(a, 1, &c));
    free_made_checkpoint(&c);
    CHECK_OK(ss_archive_read_checkpoint(a, 1, &got, &found));
    CHECK(found == SS_CHECKPOINT_VALID && got.iteration == 7 && got.state_size == 0, "empty state");
    ss_archive_checkpoint_free(&got);
    CHECK_OK(ss_archive_close(a));

    /* half-written: slot b (generation 2) lost its marker -> falls back to slot a */
    CHECK_OK(ss_h5_set_int_attr(path, "/runs/c1/checkpoint/b", "complete", 0));
    CHECK_OK(ss_archive_open(&a, path, 0));
    if (!a) return;
    CHECK_OK(ss_archive_read_checkpoint(a, 0, &got, &found));
    CHECK(found == SS_CHECKPOINT_VALID && checkpoint_matches(&got, 0, 1, 5, 4) && got.generation == 1,
          "fallback to the older slot: %d it %d", (int)found, got.iteration);
    ss_archive_checkpoint_free(&got);
    ss_archive_run_info info;
    CHECK_OK(ss_archive_get_run(a, 0, &info));
    CHECK(info.checkpoint_iteration == 1, "checkpoint_iteration %d", info.checkpoint_iteration);
    ss_archive_run_info_free(&info);
    CHECK_OK(ss_archive_close(a));

    /* torn data under a complete marker: slot a's image half overwritten -> checksum */
    make_checkpoint(&c, 0, 1, 5, 4);
    CHECK(corrupt_file(path, c.image, 32), "pattern of slot a found in the file");
    free_made_checkpoint(&c);
    CHECK_OK(ss_archive_open(&a, path, 1));
    if (!a) return;
    CHECK_OK(ss_archive_read_checkpoint(a, 0, &got, &found));
    CHECK(found == SS_CHECKPOINT_INVALID && !got.image && !got.state, "torn slot must not be valid: %d", (int)found);
    CHECK(strstr(ss_error_message(), "checksum") && strstr(ss_error_message(), "incomplete"), "why: %s",
          ss_error_message());
    /* the next checkpoint goes into an incomplete slot and is valid again */
    make_checkpoint(&c, 0, 3, 5, 4);
    CHECK_OK(ss_archive_write_checkpoint(a, 0, &c));
    CHECK(c.generation == 3, "generation %lld", c.generation);
    free_made_checkpoint(&c);
    CHECK_OK(ss_archive_read_checkpoint(a, 0, &got, &found));
    CHECK(found == SS_CHECKPOINT_VALID && checkpoint_matches(&got, 0, 3, 5, 4), "valid again: %d", (int)found);
    ss_archive_checkpoint_free(&got);
    /* a size change recreates the slot's datasets */
    make_checkpoint(&c, 0, 4, 7, 6);
    CHECK_OK(ss_archive_write_checkpoint(a, 0, &c));
    free_made_checkpoint(&c);
    CHECK_OK(ss_archive_read_checkpoint(a, 0, &got, &found));
    CHECK(found == SS_CHECKPOINT_VALID && checkpoint_matches(&got, 0, 4, 7, 6), "resized: %d", (int)found);
    ss_archive_checkpoint_free(&got);
    CHECK_OK(ss_archive_close(a));

    /* the only slot half-written -> invalid, never returned */
    CHECK_OK(ss_h5_set_int_attr(path, "/runs/c2/checkpoint/a", "complete", 0));
    CHECK_OK(ss_archive_open(&a, path, 0));
    if (!a) return;
    CHECK_OK(ss_archive_read_checkpoint(a, 1, &got, &found));
    CHECK(found == SS_CHECKPOINT_INVALID && !got.image, "only slot incomplete: %d", (int)found);
    CHECK_OK(ss_archive_close(a));
}

static void test_append_and_truncate(void) {
    const char *path = tmp_path("sweep.h5");
    ss_archive *a = NULL;
    CHECK_OK(ss_archive_open(&a, path, 1));
    if (!a) return;
    const char *dup[1] = {"t02-tv_weight=0.0001"};
    expect_fail(ss_archive_add_runs(a, 1, dup, NULL), SS_ERR_ARG, "already in archive", "add duplicate");
    ss_archive *rd = NULL;
    CHECK(ss_archive_has_readers(a) == 0, "no reader yet");
    CHECK_OK(ss_archive_open(&rd, path, 0));
    CHECK(ss_archive_has_readers(a) == 1, "the writer sees the reader");
    const char *ids[2] = {"t04", "t05"}, *params[2] = {"iterations: 5\n", "iterations: 6\n"};
    CHECK_OK(ss_archive_add_runs(a, 2, ids, params));
    CHECK(ss_archive_run_count(a) == 5, "5 runs");
    /* a reader opened before sees the new runs after a refresh */
    CHECK(ss_archive_run_count(rd) == 3, "reader before refresh: %d", ss_archive_run_count(rd));
    CHECK_OK(ss_archive_refresh(rd));
    CHECK(ss_archive_run_count(rd) == 5, "reader after refresh: %d", ss_archive_run_count(rd));
    ss_archive_run_info ri;
    CHECK_OK(ss_archive_get_run(rd, 4, &ri));
    CHECK(ri.id && !strcmp(ri.id, "t05"), "refreshed reader sees t05");
    ss_archive_run_info_free(&ri);
    CHECK_OK(ss_archive_close(rd));
    CHECK(ss_archive_has_readers(a) == 0, "no reader after its close");
    CHECK_OK(ss_archive_refresh(a));
    ss_archive_metrics m = metric(4, 1);
    CHECK_OK(ss_archive_append_metrics(a, 4, &m, 0, NULL, NULL));
    CHECK_OK(ss_archive_set_manifest(a, "sweep: sample2\n", "abc123"));

    /* truncate run 0 to its checkpoint at iteration 10 */
    CHECK_OK(ss_archive_truncate_metrics(a, 0, 10));
    expect_fail(ss_archive_truncate_metrics(a, 0, 11), SS_ERR_ARG, "cannot keep 11", "truncate beyond");
    CHECK_OK(ss_archive_truncate_snapshots(a, 0, 3));
    /* a different-size snapshot is refused; a replaced final of another size is fine */
    unsigned char img[4 * 4 * 3];
    make_image(img, 0, 4, 4, 4);
    expect_fail(ss_archive_add_snapshot(a, 0, 11, img, 4, 4), SS_ERR_ARG, "snapshots", "snapshot size change");
    CHECK_OK(ss_archive_set_final(a, 0, img, 4, 4));
    double v[2] = {1, 2};
    ss_archive_metrics m11 = metric(0, 11);
    expect_fail(ss_archive_append_metrics(a, 0, &m11, 2, v, NULL), SS_ERR_ARG, "style layers", "layer count change");
    CHECK_OK(ss_archive_close(a));

    CHECK_OK(ss_archive_open(&a, path, 0));
    if (!a) return;
    CHECK(ss_archive_run_count(a) == 5, "5 runs after reopen");
    ss_archive_run_info r;
    CHECK_OK(ss_archive_get_run(a, 3, &r));
    CHECK(r.id && !strcmp(r.id, "t04") && r.status == SS_RUN_PENDING && r.attempts == 0 && r.n_metrics == 0 &&
              r.rank == -1 && isnan(r.start_time) && r.params && !strcmp(r.params, "iterations: 5\n"),
          "appended run t04");
    ss_archive_run_info_free(&r);
    CHECK_OK(ss_archive_get_run(a, 4, &r));
    CHECK(r.n_metrics == 1 && r.iterations_done == 1, "appended run t05 metrics");
    ss_archive_run_info_free(&r);
    CHECK_OK(ss_archive_get_run(a, 0, &r));
    CHECK(r.n_metrics == 10 && r.iterations_done == 10 && r.final_loss == metric(0, 10).loss && r.n_snapshots == 3,
          "truncated run 0: %d rows, it %d, loss %g, %d snapshots", r.n_metrics, r.iterations_done, r.final_loss,
          r.n_snapshots);
    ss_archive_run_info_free(&r);
    double *vals = NULL;
    int nrows = 0, nl = 0;
    char **names = NULL;
    CHECK_OK(ss_archive_read_style_layers(a, 0, &vals, &nrows, &nl, &names));
    CHECK(nrows == 10 && nl == 3, "style layers truncated: %d", nrows);
    free(vals);
    ss_archive_strings_free(names, nl);
    unsigned char *rgb = NULL;
    int *its = NULL, n = 0, w = 0, h = 0, found = 0;
    CHECK_OK(ss_archive_read_snapshots(a, 0, &rgb, &its, &n, &w, &h));
    CHECK(n == 3 && its && its[2] == 3, "snapshots truncated: %d", n);
    free(rgb);
    free(its);
    CHECK_OK(ss_archive_read_final(a, 0, &rgb, &w, &h, &found));
    CHECK(found && w == 4 && h == 4 && rgb && !memcmp(rgb, img, sizeof img), "replaced final");
    free(rgb);
    char *text = NULL, *sha = NULL;
    CHECK_OK(ss_archive_manifest(a, NULL, &text, &sha));
    CHECK(text && !strcmp(text, "sweep: sample2\n") && sha && !strcmp(sha, "abc123"), "new manifest");
    free(text);
    free(sha);
    CHECK_OK(ss_archive_close(a));
    /* a /manifest that is an array of strings is refused before it is read */
    const char *bad = tmp_path("manifest_array.h5");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path, bad);
    CHECK(system(cmd) == 0, "copy the archive");
    hid_t f = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t t = ss_h5_vlen_str_type();
    hsize_t three = 3;
    hid_t sp = H5Screate_simple(1, &three, NULL);
    const char *strs[3] = {"a", "b", "c"};
    hid_t d = f < 0 || H5Ldelete(f, "/manifest", H5P_DEFAULT) < 0
                  ? -1
                  : H5Dcreate2(f, "/manifest", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, strs) >= 0, "make a manifest array");
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    if (f >= 0) H5Fclose(f);
    a = NULL;
    CHECK_OK(ss_archive_open(&a, bad, 0));
    text = NULL;
    if (a) {
        CHECK(ss_archive_manifest(a, NULL, &text, NULL) == SS_ERR_FORMAT &&
                  strstr(ss_error_message(), "/manifest is not one string") && !text,
              "manifest array: %s", ss_error_message());
        CHECK_OK(ss_archive_close(a));
    }
}

/* A sweep made with its first runs, the others appended in batches: the
 * count of runs still to append (runs_to_append) goes with each batch. */
static void test_first_runs(void) {
    const char *path = tmp_path("first.h5");
    const char *ids[5] = {"f1", "f2", "f3", "f4", "f5"};
    ss_archive *a = NULL;
    long long left = -1;
    CHECK_OK(ss_archive_create_first(&a, path, "s", "m", "h", 2, ids, NULL, 3));
    if (!a) return;
    CHECK_OK(ss_archive_runs_to_append(a, &left));
    CHECK(left == 3 && ss_archive_run_count(a) == 2, "created: %lld to append, %d runs", left, ss_archive_run_count(a));
    expect_fail(ss_archive_append_runs(a, 1, ids, NULL, 2), SS_ERR_ARG, "already in archive", "append a duplicate");
    CHECK_OK(ss_archive_append_runs(a, 2, ids + 2, NULL, 1));
    ss_archive *rd = NULL;
    CHECK_OK(ss_archive_open(&rd, path, 0));
    if (rd) {
        CHECK_OK(ss_archive_runs_to_append(rd, &left));
        CHECK(left == 1 && ss_archive_run_count(rd) == 4, "a reader: %lld to append, %d runs", left,
              ss_archive_run_count(rd));
        CHECK_OK(ss_archive_close(rd));
    }
    CHECK_OK(ss_archive_append_runs(a, 1, ids + 4, NULL, 0));
    CHECK_OK(ss_archive_runs_to_append(a, &left));
    int idx = -1;
    CHECK(left == 0 && ss_archive_run_count(a) == 5 && ss_archive_find_run(a, "f5", &idx) == SS_OK && idx == 4,
          "all appended: %lld to append, %d runs, f5 at %d", left, ss_archive_run_count(a), idx);
    CHECK_OK(ss_archive_close(a));
    /* ss_archive_create never writes the attribute */
    CHECK_OK(ss_archive_create(&a, tmp_path("whole.h5"), "s", "m", "h", 1, ids, NULL));
    if (a) {
        hid_t root = -1;
        CHECK_OK(ss_archive_runs_to_append(a, &left));
        CHECK(left == 0, "whole: %lld", left);
        CHECK_OK(ss_archive_close(a));
        root = H5Fopen(tmp_path("whole.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
        CHECK(root >= 0 && H5Aexists(root, "runs_to_append") == 0, "whole: no runs_to_append attribute");
        if (root >= 0) H5Fclose(root);
    }
}

/* --force: a run's results discarded and its parameters replaced; a
 * read-only archive is refused for writing. */
static void test_reset_and_readonly(void) {
    const char *path = tmp_path("sweep.h5");
    ss_archive *a = NULL;
    CHECK_OK(ss_archive_open(&a, path, 1));
    if (!a) return;
    ss_archive_checkpoint c;
    make_checkpoint(&c, 0, 10, 6, 5);
    CHECK_OK(ss_archive_write_checkpoint(a, 0, &c));
    free_made_checkpoint(&c);
    CHECK_OK(ss_archive_reset_run(a, 0, "iterations: 7\n"));
    CHECK_OK(ss_archive_close(a));
    CHECK_OK(ss_archive_open(&a, path, 0));
    if (!a) return;
    ss_archive_run_info r;
    CHECK_OK(ss_archive_get_run(a, 0, &r));
    CHECK(r.status == SS_RUN_PENDING && r.attempts == 0 && r.n_metrics == 0 && r.n_snapshots == 0 && !r.has_final &&
              r.checkpoint_iteration == -1 && r.iterations_done == 0 && isnan(r.final_loss) && r.rank == -1 &&
              isnan(r.start_time) && !strcmp(r.params, "iterations: 7\n") && !r.host[0] && !r.error[0],
          "reset run 0: status %d, %d attempts, %d rows, %d snapshots, final %d, checkpoint %d, params %s",
          (int)r.status, r.attempts, r.n_metrics, r.n_snapshots, r.has_final, r.checkpoint_iteration, r.params);
    ss_archive_run_info_free(&r);
    ss_archive_checkpoint_found found;
    CHECK_OK(ss_archive_read_checkpoint(a, 0, &c, &found));
    CHECK(found == SS_CHECKPOINT_NONE, "reset run 0 has no checkpoint");
    ss_archive_checkpoint_free(&c);
    double *vals = NULL;
    int nrows = 0, nl = 0;
    char **names = NULL;
    CHECK_OK(ss_archive_read_style_layers(a, 0, &vals, &nrows, &nl, &names));
    CHECK(nrows == 0 && nl == 0, "reset run 0 has no style layers");
    free(vals);
    ss_archive_strings_free(names, nl);
    CHECK_OK(ss_archive_get_run(a, 4, &r));
    CHECK(r.n_metrics == 1, "other runs untouched by the reset");
    ss_archive_run_info_free(&r);
    CHECK_OK(ss_archive_close(a));
    /* the reset run records again, with another layer count */
    CHECK_OK(ss_archive_open(&a, path, 1));
    if (!a) return;
    double v[2] = {1, 2};
    ss_archive_metrics m1 = metric(0, 1);
    CHECK_OK(ss_archive_append_metrics(a, 0, &m1, 2, v, NULL));
    CHECK_OK(ss_archive_close(a));
    /* read-only: refused for writing, still readable */
    chmod(path, 0444);
    a = NULL;
    expect_fail(ss_archive_open(&a, path, 1), SS_ERR_IO, "read-only", "open a read-only archive for writing");
    ss_archive_close(a);
    CHECK_OK(ss_archive_open(&a, path, 0));
    CHECK_OK(ss_archive_close(a));
    chmod(path, 0644);
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "--write")) return mode_write(argv[2], argc >= 4 && !strcmp(argv[3], "--hold"));
    if (argc >= 4 && !strcmp(argv[1], "--read")) return mode_read(argv[2], atoi(argv[3]));
    check_tmpdir("ss_test_archive");
    test_roundtrip();
    test_refusals();
    test_checkpoints();
    test_append_and_truncate();
    test_reset_and_readonly();
    test_first_runs();
    check_tmpdir_remove();
    return check_summary("test_archive");
}
