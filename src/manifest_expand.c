/* manifest_expand.c - a manifest's sections expanded into runs: the random
 * samples drawn from one seeded stream, experiments x grid points x samples
 * in order, each run's parameters resolved against its model and its
 * content image's size (read from the file's header by ss_image_probe)
 * against the deepest layer its losses use. Errors found in many runs are
 * grouped into one line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evalfile.h"
#include "image.h"
#include "manifest_int.h"
#include "model.h"
#include "net.h"
#include "rng.h"

/* Writes v in the shortest %g form that reads back as v (at most 6 digits
 * when that stays within [lo, hi], for readable samples). */
static void format_sample(char *out, size_t size, double v, double lo, double hi) {
    snprintf(out, size, "%.6g", v);
    double back = strtod(out, NULL);
    if (back < lo || back > hi) snprintf(out, size, "%.17g", v);
}

/* Draws the random samples: count x n_rps validated assignments, in the
 * order sample, then parameter (manifest order), from one seeded stream. */
static void draw_samples(loader *l) {
    if (!l->have_random || !l->random_ok || l->count < 1) return;
    l->samples = calloc((size_t)l->count * (size_t)l->n_rps, sizeof *l->samples);
    if (!l->samples) {
        l->nomem = 1;
        return;
    }
    ss_rng rng;
    ss_rng_init(&rng, l->seed, 0x72616e646f6dULL /* "random" */);
    for (long long s = 0; s < l->count; s++)
        for (int j = 0; j < l->n_rps; j++) {
            rparam *r = &l->rps[j];
            double u = ss_rng_uniform(&rng);
            char text[64];
            const char *value = text;
            int line = r->line;
            switch (r->kind) {
            case DIST_UNIFORM: format_sample(text, sizeof text, r->min + u * (r->max - r->min), r->min, r->max); break;
            case DIST_LOG_UNIFORM: {
                double v = exp(log(r->min) + u * (log(r->max) - log(r->min)));
                v = v < r->min ? r->min : v > r->max ? r->max : v;
                format_sample(text, sizeof text, v, r->min, r->max);
                break;
            }
            case DIST_INT_UNIFORM: {
                double v = r->min + floor(u * (r->max - r->min + 1));
                if (v > r->max) v = r->max;
                snprintf(text, sizeof text, "%.0f", v);
                break;
            }
            case DIST_CATEGORICAL: {
                int k = (int)floor(u * r->values.n);
                if (k >= r->values.n) k = r->values.n - 1;
                value = r->values.a[k].value;
                line = r->values.a[k].line;
                break;
            }
            }
            assign *a = &l->samples[s * l->n_rps + j];
            snprintf(a->key, sizeof a->key, "%s", r->key);
            a->line = line;
            if (ss_params_set(&l->scratch, r->key, value) != SS_OK) {
                if (r->ok) {
                    const char *hint = r->kind == DIST_UNIFORM || r->kind == DIST_LOG_UNIFORM
                                           ? " (use int_uniform for an integer key)"
                                           : "";
                    mf_error(l, r->line, r->key, "sample %lld: %s%s", s + 1, mf_strip_key(ss_error_message(), r->key),
                             strstr(ss_error_message(), "not an integer") ? hint : "");
                }
                r->ok = 0;
                l->random_ok = 0;
            }
            a->value = mf_strdup(l, value);
        }
}

/* ---- expansion ---- */

static int key_index(const char *key) {
    int n = ss_params_count();
    for (int i = 0; i < n && i < MF_MAX_KEYS; i++)
        if (!strcmp(ss_params_key(i), key)) return i;
    return -1;
}

static void apply(loader *l, ss_params *p, int *lines, const assign *a) {
    if (ss_params_set(p, a->key, a->value) != SS_OK) {
        mf_error(l, a->line, a->key, "%s", mf_strip_key(ss_error_message(), a->key));
        return;
    }
    int k = key_index(a->key);
    if (k >= 0) lines[k] = a->line;
}

static void add_run_error(loader *l, int line, const char *key, const char *msg, const char *run_id) {
    for (int i = 0; i < l->n_rerrs; i++) {
        run_err *e = &l->rerrs[i];
        if (e->line == line && !strcmp(e->key, key) && !strcmp(e->msg, msg)) {
            e->count++;
            return;
        }
    }
    if (!mf_grow((void **)&l->rerrs, &l->cap_rerrs, l->n_rerrs + 1, sizeof *l->rerrs)) {
        l->nomem = 1;
        return;
    }
    run_err *e = &l->rerrs[l->n_rerrs];
    e->line = line;
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->first, sizeof e->first, "%s", run_id);
    e->count = 1;
    e->msg = mf_strdup(l, msg);
    if (e->msg) l->n_rerrs++;
}

/* The size of the image file at path from its header, without decoding;
 * 0 when ss_image_probe cannot read it (the file check or the run reports that). */
static int image_header_size(loader *l, const char *path, int *w, int *h) {
    for (int i = 0; i < l->n_infos; i++)
        if (!strcmp(l->infos[i].path, path)) {
            *w = l->infos[i].w, *h = l->infos[i].h;
            return l->infos[i].ok;
        }
    int channels = 0;
    image_info info = {NULL, 0, 0, 0};
    info.ok = ss_image_probe(&info.w, &info.h, &channels, path) == SS_OK;
    *w = info.w, *h = info.h;
    info.path = strdup(path);
    if (info.path && mf_grow((void **)&l->infos, &l->cap_infos, l->n_infos + 1, sizeof *l->infos))
        l->infos[l->n_infos++] = info;
    else free(info.path); /* not cached: read again next time */
    return info.ok;
}

/* Checks that the run's content image, resized for image_size and aspect,
 * is large enough for the deepest layer its losses use (the rule of
 * ss_net_new, ss_model_reaches). Content images given as FILE.h5:/dataset
 * and files whose header cannot be read are left to the run. */
static void check_image_size(loader *l, const ss_run_spec *r, const int *lines, int fallback, const ss_model *model,
                             const ss_loss_config *cfg) {
    const ss_params *p = &r->params;
    int src_w, src_h, w, h, min_side;
    if (!p->content[0] || ss_evalfile_is_dataset_spec(p->content)) return;
    if (!image_header_size(l, p->content, &src_w, &src_h)) return;
    ss_aspect aspect = strcmp(p->aspect, "square") == 0 ? SS_ASPECT_SQUARE : SS_ASPECT_KEEP;
    if (ss_image_target_size(&w, &h, src_w, src_h, p->image_size, aspect) != SS_OK) return;
    int deepest = ss_net_deepest_layer(cfg);
    if (ss_model_reaches(model, deepest, w, h, &min_side)) return;
    char msg[256];
    snprintf(msg, sizeof msg, "a %dx%d image is too small to reach %s (at least %d px on the short side)", w, h,
             model->conv[deepest].name, min_side);
    int k = key_index("image_size");
    add_run_error(l, k >= 0 && lines[k] ? lines[k] : fallback, "image_size", msg, r->id);
}

/* Checks that the run's masks (style_masks, color_mask) have image headers
 * stylesweep reads (their contents, e.g. an all-black mask, are the run's
 * to check). */
static void check_masks(loader *l, const ss_run_spec *r, const int *lines, int fallback) {
    const ss_params *p = &r->params;
    for (int i = 0; i <= p->n_style_masks; i++) {
        const char *key = i < p->n_style_masks ? "style_masks" : "color_mask";
        const char *path = i < p->n_style_masks ? p->style_masks[i] : p->color_mask;
        int w, h;
        if (!path[0] || access(path, R_OK) != 0 || image_header_size(l, path, &w, &h)) continue; /* missing: said */
        char msg[SS_PATH_MAX + 64];
        snprintf(msg, sizeof msg, "'%s' is not an image file stylesweep reads", path);
        int k = key_index(key);
        add_run_error(l, k >= 0 && lines[k] ? lines[k] : fallback, key, msg, r->id);
    }
}

/* Checks what only a whole run can show: a content image, layer names for
 * the run's model, style weights and masks against style images, an image
 * large enough for the layers, masks that are images. */
static void check_run(loader *l, const ss_run_spec *r, const int *lines) {
    int fallback = l->defaults_line ? l->defaults_line : 1;
    if (!r->params.content[0]) {
        int k = key_index("content");
        add_run_error(l, k >= 0 && lines[k] ? lines[k] : fallback, "content", "no content image given", r->id);
    }
    ss_model model;
    ss_loss_config cfg;
    if (ss_params_resolve(&r->params, &model, &cfg) == SS_OK) {
        check_image_size(l, r, lines, fallback, &model, &cfg);
        check_masks(l, r, lines, fallback);
        return;
    }
    const char *msg = ss_error_message();
    char key[SS_NAME_MAX] = "";
    size_t n = strcspn(msg, ": ");
    if (n < sizeof key) {
        memcpy(key, msg, n);
        key[n] = '\0';
    }
    if (!ss_params_is_key(key)) snprintf(key, sizeof key, "parameters"); /* a message without a key prefix */
    int k = key_index(key);
    add_run_error(l, k >= 0 && lines[k] ? lines[k] : fallback, key, mf_strip_key(msg, key), r->id);
}

/* Run ids cannot collide: experiment ids are unique and every run carries
 * the same suffix pattern (the widths are the same for all runs). */

/* Writes "-" letter and value zero-padded to width digits; returns the length. */
static int append_index(char *out, char letter, int width, long long value) {
    char digits[24];
    int n = 0;
    do digits[n++] = (char)('0' + value % 10), value /= 10;
    while (value > 0 && n < 20);
    while (n < width && n < 20) digits[n++] = '0';
    out[0] = '-', out[1] = letter;
    for (int i = 0; i < n; i++) out[2 + i] = digits[n - 1 - i];
    out[2 + n] = '\0';
    return 2 + n;
}

/* Fills r with run i of plan p (defaults d): id, experiment, grid point,
 * random sample and parameters; lines (when not NULL) receives the line
 * that set each key, errors (none once the manifest loaded) go to l. */
static void build_run(loader *l, const ss_manifest_plan *p, const ss_params *d, long long i, ss_run_spec *r,
                      int *lines) {
    int dummy[MF_MAX_KEYS];
    if (!lines) lines = dummy;
    long long s = i % p->nrand, g = (i / p->nrand) % p->grid, e = i / (p->nrand * p->grid);
    const experiment *x = p->n_exps ? &p->exps[e] : &p->implicit;
    r->params = *d;
    r->grid_point = r->random_sample = 0;
    snprintf(r->experiment, sizeof r->experiment, "%s", x->id);
    int used = snprintf(r->id, sizeof r->id, "%s", x->id);
    for (int k = 0; k < x->set.n; k++) apply(l, &r->params, lines, &x->set.a[k]);
    if (p->have_grid) {
        r->grid_point = (int)g + 1;
        used += append_index(r->id + used, 'g', p->gw, g + 1);
        long long rest = g;
        for (int k = p->n_axes - 1; k >= 0; k--) {
            const axis *a = &p->axes[k];
            apply(l, &r->params, lines, &a->values.a[rest % a->values.n]);
            rest /= a->values.n;
        }
    }
    if (p->have_random) {
        r->random_sample = (int)s + 1;
        append_index(r->id + used, 'r', p->rw, s + 1);
        for (int j = 0; p->samples && j < p->n_rps; j++) apply(l, &r->params, lines, &p->samples[s * p->n_rps + j]);
    }
}

/* Moves what the runs expand from out of l into a new plan in *out. */
static void take_plan(loader *l, ss_manifest_plan **out) {
    ss_manifest_plan *p = calloc(1, sizeof *p);
    if (!p) {
        l->nomem = 1;
        return;
    }
    snprintf(p->implicit.id, sizeof p->implicit.id, "run");
    p->exps = l->have_experiments ? l->exps : NULL;
    p->n_exps = l->have_experiments ? l->n_exps : 0;
    if (l->have_experiments) l->exps = NULL, l->n_exps = l->cap_exps = 0;
    p->axes = l->axes, p->n_axes = l->n_axes, p->have_grid = l->have_grid;
    l->axes = NULL, l->n_axes = l->cap_axes = 0;
    p->have_random = l->have_random;
    p->samples = l->samples, p->n_rps = l->n_rps, p->n_samples = l->count;
    l->samples = NULL;
    *out = p;
}

static void expand(loader *l, ss_manifest *m, const int *default_lines) {
    ss_manifest_plan *p = NULL;
    take_plan(l, &p);
    if (!p) return;
    m->plan = p;
    int n_exp = p->n_exps ? p->n_exps : 1;
    /* the count, without overflow: any factor beyond the cap stops it */
    long long grid = 1;
    for (int i = 0; i < p->n_axes && grid <= SS_MANIFEST_MAX_RUNS; i++) grid *= p->axes[i].values.n;
    /* with a broken random section (errors already reported) the runs are
     * still checked, without samples */
    int sampled = p->have_random && l->random_ok && p->samples;
    long long nrand = sampled ? p->n_samples : 1;
    long long total = grid > SS_MANIFEST_MAX_RUNS || nrand > SS_MANIFEST_MAX_RUNS ? SS_MANIFEST_MAX_RUNS + 1LL
                                                                                  : (long long)n_exp * grid * nrand;
    if (total > SS_MANIFEST_MAX_RUNS) {
        mf_error(l, l->have_grid ? l->grid_line : l->random_line, l->have_grid ? "grid" : "random",
                 "the sweep expands to more than %d runs", SS_MANIFEST_MAX_RUNS);
        return;
    }
    if (!sampled) {
        for (long long k = 0; p->samples && k < p->n_samples * p->n_rps; k++) free(p->samples[k].value);
        free(p->samples);
        p->samples = NULL;
    }
    p->grid = grid;
    p->nrand = nrand;
    p->gw = p->rw = 3;
    for (long long x = grid; x >= 1000; x /= 10) p->gw++;
    for (long long x = nrand; x >= 1000; x /= 10) p->rw++;
    p->implicit.line = l->defaults_line ? l->defaults_line : 1;
    /* every run is built and checked once, then forgotten: ss_manifest_run rebuilds it */
    ss_run_spec *r = malloc(sizeof *r);
    if (!r) {
        l->nomem = 1;
        return;
    }
    int lines[MF_MAX_KEYS];
    for (long long i = 0; i < total && !l->nomem; i++) {
        memcpy(lines, default_lines, sizeof lines);
        build_run(l, p, &m->defaults, i, r, lines);
        check_run(l, r, lines);
    }
    free(r);
    m->n_runs = (int)total;
}

ss_status ss_manifest_run(ss_run_spec *out, const ss_manifest *m, int i) {
    if (!m->plan || i < 0 || i >= m->n_runs)
        return ss_error(SS_ERR_ARG, "%s: no run %d (the manifest has %d)", m->path, i, m->n_runs);
    build_run(NULL, m->plan, &m->defaults, m->only ? m->only[i] : i, out, NULL);
    return SS_OK;
}

/* Reads the width digits of "-" letter NNN at the end of id[0..*n) into
 * *value (1-based) and shortens *n; 0 when they are not there. */
static int strip_index(const char *id, size_t *n, char letter, int width, long long *value) {
    if (*n < (size_t)width + 2) return 0;
    const char *d = id + *n - width;
    if (d[-2] != '-' || d[-1] != letter) return 0;
    long long v = 0;
    for (int k = 0; k < width; k++) {
        if (d[k] < '0' || d[k] > '9') return 0;
        v = v * 10 + (d[k] - '0');
    }
    *value = v;
    *n -= (size_t)width + 2;
    return 1;
}

int ss_manifest_find_run(const ss_manifest *m, const char *id) {
    const ss_manifest_plan *p = m->plan;
    if (!p || !id) return -1;
    size_t n = strlen(id);
    long long g = 1, s = 1;
    if (p->have_random && (!strip_index(id, &n, 'r', p->rw, &s) || s < 1 || s > p->nrand)) return -1;
    if (p->have_grid && (!strip_index(id, &n, 'g', p->gw, &g) || g < 1 || g > p->grid)) return -1;
    int e = -1;
    for (int k = 0; k < (p->n_exps ? p->n_exps : 1) && e < 0; k++) {
        const char *x = p->n_exps ? p->exps[k].id : p->implicit.id;
        if (strlen(x) == n && !strncmp(x, id, n)) e = k;
    }
    if (e < 0) return -1;
    int k = (int)(((long long)e * p->grid + (g - 1)) * p->nrand + (s - 1));
    if (!m->only) return k;
    /* --only: the position of k among the kept runs (in the manifest's order) */
    int lo = 0, hi = m->n_runs - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (m->only[mid] == k) return mid;
        if (m->only[mid] < k) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

void mf_plan_free(ss_manifest_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->n_exps; i++) mf_alist_free(&p->exps[i].set);
    free(p->exps);
    for (int i = 0; i < p->n_axes; i++) mf_alist_free(&p->axes[i].values);
    free(p->axes);
    for (long long k = 0; p->samples && k < p->n_samples * p->n_rps; k++) free(p->samples[k].value);
    free(p->samples);
    free(p);
}

void mf_expand(loader *l, ss_manifest *m) {
    /* the defaults, and the line that set each key */
    int default_lines[MF_MAX_KEYS] = {0};
    ss_params_defaults(&m->defaults);
    for (int i = 0; i < l->defaults.n; i++) apply(l, &m->defaults, default_lines, &l->defaults.a[i]);
    draw_samples(l);
    if (!l->nomem) expand(l, m, default_lines);
    for (int i = 0; i < l->n_rerrs; i++) {
        run_err *e = &l->rerrs[i];
        if (e->count == 1) mf_error(l, e->line, e->key, "run %s: %s", e->first, e->msg);
        else mf_error(l, e->line, e->key, "runs %s and %d more: %s", e->first, e->count - 1, e->msg);
    }
}
