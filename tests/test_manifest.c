/* test_manifest.c - the sweep manifest: SHA-256 test vectors, expansion
 * (experiments x grid x random), stable ids, overrides, relative paths, the
 * seeded random sample, the shipped manifests, and error reports (all of
 * them, with their lines). Runs from the repository root. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "manifest.h"
#include "model.h"
#include "sha256.h"
#include "testlib.h"

/* Writes text to g_dir/name (creating sub-folders one level deep); returns the path. */
static const char *write_file(const char *name, const char *text) {
    static char path[8][512];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    mkdir(p, 0700);
    *slash = '/';
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    return p;
}

/* Run i of m, rebuilt into one of 8 rotating buffers (valid for the next 7 calls). */
static const ss_run_spec *nth(const ss_manifest *m, int i) {
    static ss_run_spec buf[8];
    static int next;
    ss_run_spec *r = &buf[next++ % 8];
    ss_status st = ss_manifest_run(r, m, i);
    CHECK(st == SS_OK, "no run %d: %s", i, ss_error_message());
    return r;
}

static const ss_run_spec *run(const ss_manifest *m, const char *id) {
    int i = ss_manifest_find_run(m, id);
    CHECK(i >= 0, "no run '%s'", id);
    const ss_run_spec *r = i >= 0 ? nth(m, i) : NULL;
    CHECK(!r || !strcmp(r->id, id), "run '%s' found as '%s'", id, r ? r->id : "");
    return r;
}

static void fmt(const ss_params *p, const char *key, char *buf) { ss_params_format(p, key, buf, 4096); }

/* ---- SHA-256 ---- */

static void test_sha256(void) {
    char hex[65];
    ss_sha256_hex("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "sha256(abc) = %s", hex);
    ss_sha256_hex("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "sha256('') = %s", hex);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ss_sha256_hex(two, strlen(two), hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "sha256(448 bits) = %s",
          hex);
    /* one million 'a' fed in uneven pieces */
    char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    ss_sha256_ctx c;
    ss_sha256_init(&c);
    size_t left = 1000000;
    for (size_t n = 1; left; n = (n * 7 + 13) % sizeof chunk + 1) {
        size_t take = n < left ? n : left;
        ss_sha256_update(&c, chunk, take);
        left -= take;
    }
    unsigned char d[32];
    ss_sha256_final(&c, d);
    static const unsigned char want[32] = {0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92, 0x81, 0xa1, 0xc7,
                                           0xe2, 0x84, 0xd7, 0x3e, 0x67, 0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97,
                                           0x20, 0x0e, 0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0};
    CHECK(!memcmp(d, want, 32), "sha256 of a million 'a'");
}

/* ---- expansion ---- */

static const char *k_sweep =
    "sweep: t\n"
    "defaults:\n"
    "  content: ../img/c.jpg\n"
    "  style: [../img/s1.jpg, ../img/s2.jpg]\n"
    "  weights: ../img/w.h5\n"
    "  image_size: 32\n"
    "  style_weight: [1, 2]\n"
    "  snapshots: {first: 3, every: 4}\n"
    "  style_layers: [conv1_1, conv2_1]\n"
    "experiments:\n"
    "  - {id: a}\n"
    "  - {id: b, style_weight: 0.25, content_weight: 1, style: ../img/s1.jpg}\n"
    "  - id: c\n"
    "    content: ../img/data.h5:/content\n"
    "    weights: random:3\n"
    "    model: vgg19\n"
    "    style_layers: [conv5_4]\n"
    "grid:\n"
    "  tv_weight: [1.0e-4, 5.0e-4]\n"
    "  init: [gray, noise, content]\n"
    "random:\n"
    "  count: 4\n"
    "  seed: 11\n"
    "  parameters:\n"
    "    lbfgs_history: {distribution: int_uniform, min: 3, max: 9}\n";

static void test_expansion(void) {
    write_file("img/c.jpg", "not decoded");
    write_file("img/s1.jpg", "");
    write_file("img/s2.jpg", "");
    write_file("img/w.h5", "");
    write_file("img/data.h5", "");
    write_file("sub/m.yaml", k_sweep);
    char cwd[1024];
    if (!getcwd(cwd, sizeof cwd) || chdir(g_dir) != 0) {
        perror("chdir");
        exit(2);
    }
    ss_manifest m, m2;
    char *errors = NULL;
    int n_errors = -1;
    ss_status st = ss_manifest_load(&m, "sub/m.yaml", NULL, &errors, &n_errors);
    CHECK(st == SS_OK && n_errors == 0 && !errors, "load: %d errors:\n%s", n_errors, errors ? errors : "");
    free(errors);
    CHECK(m.n_runs == 3 * 6 * 4, "%d runs, want 72", m.n_runs);
    CHECK(!strcmp(m.sweep, "t"), "sweep %s", m.sweep);
    /* the hash is the text's */
    char hex[65];
    ss_sha256_hex(k_sweep, strlen(k_sweep), hex);
    CHECK(m.text && m.text_len == strlen(k_sweep) && !strcmp(m.text, k_sweep), "text kept");
    CHECK(!strcmp(hex, m.sha256), "sha256 %s vs %s", m.sha256, hex);
    /* ids: unique, valid, in order experiment, grid point, sample */
    CHECK(!strcmp(nth(&m, 0)->id, "a-g001-r001") && !strcmp(nth(&m, 1)->id, "a-g001-r002") &&
              !strcmp(nth(&m, 4)->id, "a-g002-r001") && !strcmp(nth(&m, 71)->id, "c-g006-r004"),
          "ids %s %s %s %s", nth(&m, 0)->id, nth(&m, 1)->id, nth(&m, 4)->id, nth(&m, 71)->id);
    for (int i = 0; i < m.n_runs; i++) {
        for (const char *c = nth(&m, i)->id; *c; c++)
            CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *c), "id %s",
                  nth(&m, i)->id);
        for (int j = 0; j < i; j++) CHECK(strcmp(nth(&m, i)->id, nth(&m, j)->id) != 0, "id %s twice", nth(&m, i)->id);
    }
    /* relative paths are taken from sub/ and usable from here */
    const ss_params *d = &m.defaults;
    CHECK(!strcmp(d->content, "img/c.jpg"), "content %s", d->content);
    CHECK(d->n_styles == 2 && !strcmp(d->style[0], "img/s1.jpg") && !strcmp(d->style[1], "img/s2.jpg"), "styles %s %s",
          d->style[0], d->style[1]);
    CHECK(!strcmp(d->weights, "img/w.h5"), "weights %s", d->weights);
    CHECK(access(d->content, R_OK) == 0, "content not readable from the current folder");
    CHECK(d->snapshot_first == 3 && d->snapshot_every == 4, "snapshots %d,%d", d->snapshot_first, d->snapshot_every);
    CHECK(d->image_size == 32 && d->n_style_weights == 2, "defaults");
    /* experiment overrides */
    const ss_run_spec *b = run(&m, "b-g003-r002");
    if (b) {
        CHECK(b->params.content_weight == 1 && b->params.n_style_weights == 1 && b->params.style_weight[0] == 0.25,
              "b's weights");
        CHECK(b->params.n_styles == 1 && !strcmp(b->params.style[0], "img/s1.jpg"), "b's style");
        CHECK(!strcmp(b->experiment, "b") && b->grid_point == 3 && b->random_sample == 2, "b's indices");
        char diff[4096];
        int n = ss_manifest_diff(&m.defaults, &b->params, diff, sizeof diff);
        CHECK(strstr(diff, "content_weight=1 ") && strstr(diff, "style_weight=0.25") &&
                  strstr(diff, "style=img/s1.jpg") && strstr(diff, "tv_weight=0.0001"),
              "diff '%s' (%d keys)", diff, n);
    }
    const ss_run_spec *c = run(&m, "c-g001-r001");
    if (c) {
        CHECK(!strcmp(c->params.content, "img/data.h5:/content"), "dataset content %s", c->params.content);
        CHECK(!strcmp(c->params.weights, "random:3") && !strcmp(c->params.model, "vgg19"), "c's model");
    }
    /* grid values: the last axis varies fastest */
    static const char *inits[] = {"gray", "noise", "content"};
    for (int g = 0; g < 6; g++) {
        const ss_params *p = &nth(&m, g * 4)->params;
        CHECK(p->tv_weight == (g < 3 ? 1e-4 : 5e-4) && !strcmp(p->init, inits[g % 3]), "grid point %d: %g %s", g + 1,
              p->tv_weight, p->init);
    }
    /* random: integers within bounds, the same sample for every experiment and grid point */
    for (int i = 0; i < m.n_runs; i++) {
        const ss_params *p = &nth(&m, i)->params;
        CHECK(p->lbfgs_history >= 3 && p->lbfgs_history <= 9, "lbfgs_history %d", p->lbfgs_history);
        CHECK(p->lbfgs_history == nth(&m, i % 4)->params.lbfgs_history, "sample %d differs across runs", i % 4 + 1);
    }
    /* stable: a second load gives the same runs */
    st = ss_manifest_load(&m2, "sub/m.yaml", NULL, NULL, NULL);
    CHECK(st == SS_OK && m2.n_runs == m.n_runs, "second load");
    for (int i = 0; st == SS_OK && i < m.n_runs; i++)
        CHECK(!strcmp(nth(&m, i)->id, nth(&m2, i)->id) &&
                  !memcmp(&nth(&m, i)->params, &nth(&m2, i)->params, sizeof(ss_params)),
              "run %d differs on reload", i);
    ss_manifest_free(&m2);
    ss_manifest_free(&m);
    ss_manifest_free(&m); /* idempotent */
    if (chdir(cwd) != 0) exit(2);
}

static void test_implicit_and_random(void) {
    char text[2048];
    snprintf(text, sizeof text,
             "defaults:\n"
             "  content: %s/img/c.jpg\n"
             "  style: %s/img/s1.jpg\n"
             "random:\n"
             "  count: 40\n"
             "  seed: %%d\n"
             "  parameters:\n"
             "    tv_weight: {distribution: log_uniform, min: 1.0e-6, max: 1.0e-3}\n"
             "    content_weight: {distribution: uniform, min: 0.1, max: 10}\n"
             "    pool: {values: [max, avg]}\n",
             g_dir, g_dir);
    char with_seed[2100];
    ss_manifest m[3];
    for (int k = 0; k < 3; k++) {
        snprintf(with_seed, sizeof with_seed, text, k == 2 ? 1 : 0);
        const char *path = write_file(k == 2 ? "r1.yaml" : "r0.yaml", with_seed);
        char *errors = NULL;
        ss_status st = ss_manifest_load(&m[k], path, NULL, &errors, NULL);
        CHECK(st == SS_OK, "random manifest: %s", errors ? errors : "");
        free(errors);
    }
    CHECK(m[0].n_runs == 40 && !strcmp(nth(&m[0], 0)->id, "run-r001") && !strcmp(nth(&m[0], 39)->id, "run-r040"),
          "%d runs, %s", m[0].n_runs, m[0].n_runs ? nth(&m[0], 0)->id : "");
    CHECK(!strcmp(m[0].sweep, "r0"), "sweep name from the file: %s", m[0].sweep);
    int n_max = 0, same = 0;
    double lo = 1, hi = 0;
    for (int i = 0; i < m[0].n_runs && i < m[1].n_runs && i < m[2].n_runs; i++) {
        const ss_params *p = &nth(&m[0], i)->params, *q = &nth(&m[1], i)->params, *o = &nth(&m[2], i)->params;
        CHECK(p->tv_weight >= 1e-6 && p->tv_weight <= 1e-3, "log_uniform %g", p->tv_weight);
        CHECK(p->content_weight >= 0.1 && p->content_weight <= 10, "uniform %g", p->content_weight);
        CHECK(!strcmp(p->pool, "max") || !strcmp(p->pool, "avg"), "pool %s", p->pool);
        CHECK(!memcmp(p, q, sizeof *p), "sample %d not deterministic", i + 1);
        n_max += !strcmp(p->pool, "max");
        same += o->tv_weight == p->tv_weight;
        lo = fmin(lo, log10(p->tv_weight)), hi = fmax(hi, log10(p->tv_weight));
        (void)hi;
    }
    CHECK(n_max > 0 && n_max < 40, "both choices drawn (%d max of 40)", n_max);
    CHECK(lo < -4.5, "log_uniform reaches small values (min log10 %g)", lo);
    CHECK(same < 3, "another seed gives other samples");
    for (int k = 0; k < 3; k++) ss_manifest_free(&m[k]);

    /* no experiments, one grid: run-gNNN; nothing: one run "run" */
    snprintf(text, sizeof text, "defaults: {content: img/c.jpg, style: img/s1.jpg}\ngrid: {pool: [max, avg]}\n");
    ss_manifest g;
    CHECK(ss_manifest_load(&g, write_file("g.yaml", text), NULL, NULL, NULL) == SS_OK && g.n_runs == 2 &&
              !strcmp(nth(&g, 1)->id, "run-g002") && !strcmp(nth(&g, 1)->params.pool, "avg"),
          "implicit experiment with a grid");
    ss_manifest_free(&g);
    snprintf(text, sizeof text, "sweep: one\ndefaults: {content: img/c.jpg, style: img/s1.jpg}\n");
    CHECK(ss_manifest_load(&g, write_file("one.yaml", text), NULL, NULL, NULL) == SS_OK && g.n_runs == 1 &&
              !strcmp(nth(&g, 0)->id, "run"),
          "one implicit run");
    ss_manifest_free(&g);
}

/* A quick sweep (the demo, the tests' own): it loads, with n_runs runs of
 * random weights at image_size px and `iterations` iterations each. */
static void check_small_sweep(const char *path, int n_runs, int image_size, int iterations) {
    ss_manifest m;
    char *errors = NULL;
    ss_status st = ss_manifest_load(&m, path, NULL, &errors, NULL);
    CHECK(st == SS_OK, "%s:\n%s", path, errors ? errors : "");
    free(errors);
    CHECK(m.n_runs == n_runs, "%s: %d runs", path, m.n_runs);
    for (int i = 0; i < m.n_runs; i++)
        CHECK(nth(&m, i)->params.image_size == image_size && nth(&m, i)->params.iterations == iterations &&
                  !strcmp(nth(&m, i)->params.weights, "random"),
              "%s: run %s", path, nth(&m, i)->id);
    ss_manifest_free(&m);
}

static void test_shipped(void) {
    ss_manifest m;
    char *errors = NULL;
    ss_status st = ss_manifest_load(&m, "sweeps/dlai2018.yaml", NULL, &errors, NULL);
    CHECK(st == SS_OK, "dlai2018.yaml:\n%s", errors ? errors : "");
    free(errors);
    CHECK(m.n_runs == 34, "dlai2018: %d runs", m.n_runs);
    for (int i = 0; i < m.n_runs; i++) {
        char want[16];
        snprintf(want, sizeof want, "e%02d", i + 1);
        CHECK(!strcmp(nth(&m, i)->id, want), "run %d is %s", i, nth(&m, i)->id);
    }
    if (m.n_runs == 34) {
        char buf[4096], diff[4096];
        CHECK(!strcmp(m.defaults.model, "vgg16") && !strcmp(m.defaults.weights, "auto"), "model and weights");
        CHECK(!strcmp(m.defaults.content, "samples/content/chelsea.jpg"), "content %s", m.defaults.content);
        fmt(&m.defaults, "style_layers", buf);
        CHECK(!strcmp(buf, "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1"), "style layers %s", buf);
        CHECK(m.defaults.tv_weight == 8.5e-5 && m.defaults.content_weight == 0.25 && m.defaults.iterations == 100,
              "study defaults");
        ss_manifest_diff(&m.defaults, &nth(&m, 1)->params, diff, sizeof diff);
        CHECK(!strcmp(diff, "content_weight=1 style_weight=0.25"), "e02 diff '%s'", diff);
        CHECK(ss_manifest_diff(&m.defaults, &nth(&m, 0)->params, diff, sizeof diff) == 0 && !diff[0], "e01 = defaults");
        CHECK(!strcmp(nth(&m, 23)->params.pool, "avg") && nth(&m, 28)->params.image_size == 448, "e24, e29");
        CHECK(!strcmp(nth(&m, 33)->params.content_layer, "conv5_2") && nth(&m, 33)->params.content_weight == 100,
              "e34");
    }
    ss_manifest_free(&m);
    check_small_sweep("sweeps/demo.yaml", 9, 160, 8);
    check_small_sweep("tests/data/small.yaml", 6, 64, 5);
}

/* ---- errors ---- */

/* Checks that errors has a line starting with FILE:LINE: and containing what. */
static void want_error(const char *errors, const char *file, int line, const char *what) {
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s:%d: ", file, line);
    for (const char *s = errors; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        char one[4096];
        snprintf(one, sizeof one, "%.*s", (int)len, s);
        if (!strncmp(one, prefix, strlen(prefix)) && strstr(one, what)) return;
        if (!nl) break;
        s = nl + 1;
    }
    CHECK(0, "no error '%s%s...' in:\n%s", prefix, what, errors ? errors : "(none)");
}

static const char *write_png(const char *name, int w, int h);

static void test_errors(void) {
    const char *bad =
        "sweep: bad\n"                                                   /* 1 */
        "defaults:\n"                                                    /* 2 */
        "  content: ../img/missing.jpg\n"                                /* 3 */
        "  style: [../img/s1.jpg]\n"                                     /* 4 */
        "  tv_wieght: 1.0e-4\n"                                          /* 5 */
        "  image_size: {w: 1}\n"                                         /* 6 */
        "  content_weight: -3\n"                                         /* 7 */
        "  pool: maximum\n"                                              /* 8 */
        "  weights: ../img/none.h5\n"                                    /* 9 */
        "experiments:\n"                                                 /* 10 */
        "  - {id: x1}\n"                                                 /* 11 */
        "  - {id: x1, tv_weight: 0.5}\n"                                 /* 12 */
        "  - id: x2\n"                                                   /* 13 */
        "    style_layers: [conv1_1, conv9_1]\n"                         /* 14 */
        "grid:\n"                                                        /* 15 */
        "  init: []\n"                                                   /* 16 */
        "random:\n"                                                      /* 17 */
        "  count: 2\n"                                                   /* 18 */
        "  parameters:\n"                                                /* 19 */
        "    content_weight: {distribution: uniform, min: 10, max: 1}\n" /* 20 */
        "    tv_weight: {distribution: log_uniform, min: 0, max: 1}\n"   /* 21 */
        "    seed: {distribution: normal, min: 0, max: 1}\n"             /* 22 */
        "colour: red\n";                                                 /* 23 */
    const char *path = write_file("sub/bad.yaml", bad);
    ss_manifest m;
    char *errors = NULL;
    int n = 0;
    ss_status st = ss_manifest_load(&m, path, NULL, &errors, &n);
    CHECK(st == SS_ERR_ARG, "status %d", (int)st);
    CHECK(m.n_runs == 0 && m.plan == NULL && m.text == NULL, "manifest left empty");
    want_error(errors, path, 3, "content: cannot read '../img/missing.jpg'");
    want_error(errors, path, 5, "tv_wieght: unknown key (did you mean 'tv_weight'?)");
    want_error(errors, path, 6, "image_size: expected a number, got a mapping");
    want_error(errors, path, 7, "content_weight: -3 is out of range");
    want_error(errors, path, 8, "pool: 'maximum' is not one of max|avg");
    want_error(errors, path, 9, "weights: cannot read '../img/none.h5'");
    want_error(errors, path, 12, "id: duplicate experiment id 'x1' (also at line 11)");
    want_error(errors, path, 14, "style_layers: run x2");
    want_error(errors, path, 14, "unknown layer 'conv9_1' for vgg16");
    want_error(errors, path, 16, "init: the grid list is empty");
    want_error(errors, path, 20, "content_weight: min 10 is greater than max 1");
    want_error(errors, path, 21, "tv_weight: log_uniform needs min > 0");
    want_error(errors, path, 22, "seed: unknown distribution 'normal'");
    want_error(errors, path, 23, "colour: unknown top-level key");
    CHECK(n == 13, "%d errors, want 13:\n%s", n, errors ? errors : "");
    /* one line each, sorted by line */
    int lines = 0, last = 0, sorted = 1;
    for (const char *s = errors; s && *s; s = strchr(s, '\n') + 1) {
        int l = atoi(s + strlen(path) + 1);
        sorted &= l >= last;
        last = l;
        lines++;
        if (!strchr(s, '\n')) break;
    }
    CHECK(lines == n && sorted, "%d lines for %d errors, sorted %d", lines, n, sorted);
    free(errors);
    ss_manifest_free(&m);

    /* an unknown layer in the defaults: one error for all the runs that use it */
    char text[1024];
    snprintf(text, sizeof text,
             "defaults:\n  content: %s/img/c.jpg\n  style: %s/img/s1.jpg\n  content_layer: conv4_9\n"
             "experiments:\n  - {id: a}\n  - {id: b}\n  - {id: c, content_layer: conv4_2}\n",
             g_dir, g_dir);
    path = write_file("layer.yaml", text);
    st = ss_manifest_load(&m, path, NULL, &errors, &n);
    CHECK(st == SS_ERR_ARG && n == 1, "%d errors:\n%s", n, errors ? errors : "");
    want_error(errors, path, 4, "content_layer: runs a and 1 more: unknown layer 'conv4_9'");
    free(errors);

    /* YAML syntax errors come with libfyaml's line */
    path = write_file("syntax.yaml", "sweep: s\ndefaults:\n  pool: max\n  pool: avg\n");
    st = ss_manifest_load(&m, path, NULL, &errors, &n);
    CHECK(st == SS_ERR_ARG && n == 1, "duplicate key: %d errors", n);
    want_error(errors, path, 4, "YAML syntax error: duplicate key");
    free(errors);
    path = write_file("syntax2.yaml", "sweep: s\ndefaults:\n  style: [a.jpg\n\n  content: 'x\n");
    st = ss_manifest_load(&m, path, NULL, &errors, &n);
    CHECK(st == SS_ERR_ARG && n >= 1 && errors && strstr(errors, "YAML syntax error"), "syntax: %s",
          errors ? errors : "");
    free(errors);

    /* more rules: grid and random on one key, null values, bad ids, bad snapshot keys */
    snprintf(text, sizeof text,
             "defaults: {content: %s/img/c.jpg, style: %s/img/s1.jpg, tv_weight: ~}\n" /* 1 */
             "experiments:\n"                                                          /* 2 */
             "  - {id: a}\n"                                                           /* 3 */
             "  - {id: a-g001, snapshots: {first: 1, every: 2, last: 3}}\n"            /* 4 */
             "  - {id: '.hidden'}\n"                                                   /* 5 */
             "  - {tv_weight: 1}\n"                                                    /* 6 */
             "grid: {pool: [max]}\n"                                                   /* 7 */
             "random: {count: 2, parameters: {pool: {values: [avg]}}}\n",              /* 8 */
             g_dir, g_dir);
    path = write_file("rules.yaml", text);
    st = ss_manifest_load(&m, path, NULL, &errors, &n);
    CHECK(st == SS_ERR_ARG, "rules: status %d", (int)st);
    want_error(errors, path, 1, "tv_weight: no value given");
    want_error(errors, path, 4, "snapshots: unknown key 'last'");
    want_error(errors, path, 5, "id: '.hidden' is not a valid id");
    want_error(errors, path, 6, "id: experiment 4 has no id");
    want_error(errors, path, 8, "pool: also varied by grid (line 7)");
    free(errors);

    /* masks: one per style image, images, a colour mode for the colour mask */
    const char *png = write_png("mask.png", 8, 8);
    char big[4096];
    snprintf(big, sizeof big,
             "defaults: {content: %s/img/c.jpg, style: [%s/img/s1.jpg, %s/img/s2.jpg]}\n"  /* 1 */
             "experiments:\n"                                                              /* 2 */
             "  - {id: a, style_masks: [%s]}\n"                                            /* 3 */
             "  - {id: b, style_masks: [%s, %s/img/c.jpg]}\n"                              /* 4 */
             "  - {id: c, color_mask: %s}\n"                                               /* 5 */
             "  - {id: d, color_mask: %s, preserve_color: true, style_masks: [%s, %s]}\n", /* 6 */
             g_dir, g_dir, g_dir, png, png, g_dir, png, png, png, png);
    path = write_file("masks.yaml", big);
    st = ss_manifest_load(&m, path, NULL, &errors, &n);
    CHECK(st == SS_ERR_ARG && n == 3, "masks: status %d, %d errors:\n%s", (int)st, n, errors ? errors : "");
    want_error(errors, path, 3, "style_masks: run a: 1 mask(s) for 2 style image(s)");
    want_error(errors, path, 4, "img/c.jpg' is not an image file stylesweep reads");
    want_error(errors, path, 5, "color_mask: run c: needs preserve_color ycbcr or luminance");
    free(errors);

    /* a missing manifest */
    st = ss_manifest_load(&m, "no/such/manifest.yaml", NULL, &errors, &n);
    CHECK(st == SS_ERR_IO && n == 1 && errors && strstr(errors, "no/such/manifest.yaml"), "missing file: %d", (int)st);
    free(errors);
}

/* ---- image size against the layers ---- */

/* Writes a w x h PNG to g_dir/name; returns its path. */
static const char *write_png(const char *name, int w, int h) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    ss_image img;
    if (ss_image_alloc(&img, w, h) != SS_OK) exit(2);
    memset(img.px, 128, (size_t)w * h * 3);
    if (ss_image_save(path, &img) != SS_OK) {
        fprintf(stderr, "%s\n", ss_error_message());
        exit(2);
    }
    ss_image_free(&img);
    return path;
}

static void test_image_size(void) {
    /* the rule: 2^(poolings before the layer) on the short side */
    ss_model vgg16, vgg19;
    CHECK(ss_model_init(&vgg16, SS_MODEL_VGG16, 8) == SS_OK && ss_model_init(&vgg19, SS_MODEL_VGG19, 8) == SS_OK,
          "init");
    int ms = -1;
    int c11, c21, c43, c51, c54;
    CHECK(ss_model_find_layer(&c11, &vgg16, "conv1_1") == SS_OK &&
              ss_model_find_layer(&c21, &vgg16, "conv2_1") == SS_OK &&
              ss_model_find_layer(&c43, &vgg16, "conv4_3") == SS_OK &&
              ss_model_find_layer(&c51, &vgg16, "conv5_1") == SS_OK &&
              ss_model_find_layer(&c54, &vgg19, "conv5_4") == SS_OK,
          "layers found");
    CHECK(ss_model_find_layer(&ms, &vgg16, "conv5_4") == SS_ERR_ARG && ms == -1, "vgg16 has no conv5_4");
    CHECK(ss_model_reaches(&vgg16, c11, 1, 1, &ms) && ms == 1, "conv1_1 from 1x1 (min %d)", ms);
    CHECK(!ss_model_reaches(&vgg16, c21, 1, 5, &ms) && ms == 2, "conv2_1 from 1x5 (min %d)", ms);
    CHECK(ss_model_reaches(&vgg16, c21, 2, 3, NULL), "conv2_1 from 2x3");
    CHECK(ss_model_reaches(&vgg16, c43, 8, 9, &ms) && ms == 8, "conv4_3 from 8x9 (min %d)", ms);
    CHECK(!ss_model_reaches(&vgg16, c51, 16, 11, &ms) && ms == 16, "conv5_1 from 16x11 (min %d)", ms);
    CHECK(ss_model_reaches(&vgg16, c51, 16, 16, NULL) && ss_model_reaches(&vgg16, c51, 31, 17, NULL),
          "conv5_1 from 16x16");
    CHECK(!ss_model_reaches(&vgg16, c51, 15, 400, NULL), "conv5_1 from 15x400");
    CHECK(ss_model_reaches(&vgg19, c54, 16, 16, &ms) && ms == 16, "vgg19 conv5_4");
    CHECK(!ss_model_reaches(&vgg16, 13, 64, 64, &ms) && ms == 0, "vgg16 has no convolution 13");
    CHECK(!ss_model_reaches(&vgg16, c11, 0, 4, NULL), "an empty image");
    for (int side = 1; side <= 40; side++)
        for (int k = 0; k < vgg16.n_convs; k++) {
            int reach = ss_model_reaches(&vgg16, k, side, side + 3, &ms);
            CHECK(reach == (side >= ms), "vgg16 %s from %dx%d: %d, min %d", vgg16.conv[k].name, side, side + 3, reach,
                  ms);
        }

    /* the manifest: 30x20 PNG: image_size 16 -> 16x11 (too small for
     * conv5_1), 24 -> 24x16 (exactly enough), square 16 -> 16x16 */
    char img[512];
    snprintf(img, sizeof img, "%s", write_png("img/wide.png", 30, 20));
    write_png("img/tall.png", 20, 30);
    char text[2048];
    snprintf(text, sizeof text,
             "sweep: small\n"                                                   /* 1 */
             "defaults:\n"                                                      /* 2 */
             "  content: %s\n"                                                  /* 3 */
             "  style: %s/img/s1.jpg\n"                                         /* 4 */
             "  image_size: 24\n"                                               /* 5 */
             "  content_layer: conv5_1\n"                                       /* 6 */
             "experiments:\n"                                                   /* 7 */
             "  - {id: e01}\n"                                                  /* 8 */
             "  - {id: e02, aspect: square, image_size: 16}\n"                  /* 9 */
             "  - {id: e03, content: %s/img/data.h5:/content, image_size: 8}\n" /* 10 */
             "  - {id: e04, content: %s/img/c.jpg, image_size: 8}\n"            /* 11: not an image: left to the run */
             "  - {id: e05, image_size: 16}\n"                                  /* 12 */
             "  - id: e06\n"                                                    /* 13 */
             "    content_layer: conv1_1\n"                                     /* 14 */
             "    style_layers: [conv1_1, conv4_1]\n"                           /* 15 */
             "    image_size: 8\n"                                              /* 16 */
             "  - {id: e07, content: %s/img/tall.png}\n"                        /* 17 */
             "grid:\n"                                                          /* 18 */
             "  pool: [max, avg]\n",                                            /* 19 */
             img, g_dir, g_dir, g_dir, g_dir);
    const char *path = write_file("small.yaml", text);
    ss_manifest m;
    char *errors = NULL;
    int n = 0;
    ss_status st = ss_manifest_load(&m, path, NULL, &errors, &n);
    CHECK(st == SS_ERR_ARG && n == 2, "small: status %d, %d errors:\n%s", (int)st, n, errors ? errors : "");
    want_error(
        errors, path, 12,
        "image_size: runs e05-g001 and 1 more: a 16x11 image is too small to reach conv5_1 (at least 16 px on the "
        "short side)");
    want_error(errors, path, 16,
               "image_size: runs e06-g001 and 1 more: a 8x5 image is too small to reach conv4_1 (at least 8 px on the "
               "short side)");
    free(errors);

    /* at the limit everywhere: loads */
    snprintf(text, sizeof text,
             "defaults:\n"
             "  content: %s\n"
             "  style: %s/img/s1.jpg\n"
             "  content_layer: conv5_1\n"
             "experiments:\n"
             "  - {id: a, image_size: 24}\n"
             "  - {id: b, image_size: 16, aspect: square}\n"
             "  - {id: c, image_size: 12, content_layer: conv4_2, style_layers: [conv1_1, conv4_1]}\n"
             "  - {id: d, image_size: 24, model: vgg19, content_layer: conv5_4}\n",
             img, g_dir);
    path = write_file("limit.yaml", text);
    errors = NULL;
    st = ss_manifest_load(&m, path, NULL, &errors, &n);
    CHECK(st == SS_OK && n == 0 && m.n_runs == 4, "at the limit: %d errors:\n%s", n, errors ? errors : "");
    free(errors);
    ss_manifest_free(&m);

    /* one step below the limit: image_size 23 -> 23x15 */
    snprintf(text, sizeof text,
             "defaults:\n  content: %s\n  style: %s/img/s1.jpg\n  content_layer: conv5_1\n  image_size: 23\n", img,
             g_dir);
    path = write_file("below.yaml", text);
    st = ss_manifest_load(&m, path, NULL, &errors, &n);
    CHECK(st == SS_ERR_ARG && n == 1, "below the limit: %d errors:\n%s", n, errors ? errors : "");
    want_error(errors, path, 5, "image_size: run run: a 23x15 image is too small to reach conv5_1 (at least 16 px");
    free(errors);

    /* image_size not given: the built-in 224 is enough; the defaults' line otherwise */
    snprintf(text, sizeof text, "defaults:\n  content: %s\n  style: %s/img/s1.jpg\n  style_layers: [conv5_1]\n", img,
             g_dir);
    path = write_file("builtin.yaml", text);
    st = ss_manifest_load(&m, path, NULL, &errors, &n);
    CHECK(st == SS_OK, "built-in image_size: %s", errors ? errors : "");
    free(errors);
    ss_manifest_free(&m);
}

/* ss_params_read_text reads what ss_params_write writes, and text written
 * before a key existed (no line for it; preserve_color as a boolean) means
 * the defaults: what --resume compares. */
static void test_params_text(void) {
    ss_params p, q;
    ss_params_defaults(&p);
    MUST(ss_params_set(&p, "style", "a.jpg,b c.jpg"));
    MUST(ss_params_set(&p, "style_masks", "m1.png,m2.png"));
    MUST(ss_params_set(&p, "style_weight", "0.5,2"));
    MUST(ss_params_set(&p, "preserve_color", "luminance"));
    MUST(ss_params_set(&p, "snapshots", "3,7"));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ss_params_write(&p, f);
    fclose(f);
    CHECK_OK(ss_params_read_text(&q, text));
    CHECK(ss_manifest_diff(&p, &q, NULL, 0) == 0, "read_text(write(p)) differs from p:\n%s", text);
    free(text);
    const char *old = "content: c.jpg\nstyle: [s.jpg]\nmodel: vgg16\npreserve_color: true\nseed: 3\n";
    CHECK_OK(ss_params_read_text(&q, old));
    ss_params_defaults(&p);
    MUST(ss_params_set(&p, "content", "c.jpg"));
    MUST(ss_params_set(&p, "style", "s.jpg"));
    MUST(ss_params_set(&p, "preserve_color", "ycbcr"));
    MUST(ss_params_set(&p, "seed", "3"));
    char diff[512];
    CHECK(ss_manifest_diff(&p, &q, diff, sizeof diff) == 0, "old text: differs by %s", diff);
    CHECK(ss_params_read_text(&q, "tv_wieght: 1\n") == SS_ERR_ARG, "an unknown key was read");
    CHECK(ss_params_read_text(&q, "garbage\n") == SS_ERR_FORMAT, "a line without ': ' was read");
}

int main(void) {
    check_tmpdir("ss_manifest");
    test_sha256();
    test_expansion();
    test_implicit_and_random();
    test_shipped();
    test_errors();
    test_image_size();
    test_params_text();
    check_tmpdir_remove();
    return check_summary("test_manifest");
}
