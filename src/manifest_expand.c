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

/* ---- expansion -------------------------------------------------------- */

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

/* Checks what only a whole run can show: a content image, layer names for
 * the run's model, style weights against style images, an image large
 * enough for the layers. */
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

static void expand(loader *l, ss_manifest *m, const int *default_lines) {
    experiment implicit;
    memset(&implicit, 0, sizeof implicit);
    snprintf(implicit.id, sizeof implicit.id, "run");
    implicit.line = l->defaults_line ? l->defaults_line : 1;
    int n_exp = l->have_experiments ? l->n_exps : 1;
    const experiment *exps = l->have_experiments ? l->exps : &implicit;
    long long grid = 1;
    for (int i = 0; i < l->n_axes; i++) grid *= l->axes[i].values.n;
    /* with a broken random section (errors already reported) the runs are
     * still checked, without samples */
    int sampled = l->have_random && l->random_ok && l->samples;
    long long nrand = sampled ? l->count : 1;
    if (grid > SS_MANIFEST_MAX_RUNS) grid = SS_MANIFEST_MAX_RUNS + 1;
    long long total = (long long)n_exp * grid * nrand;
    if (total > SS_MANIFEST_MAX_RUNS) {
        mf_error(l, l->have_grid ? l->grid_line : l->random_line, l->have_grid ? "grid" : "random",
                 "the sweep expands to more than %d runs", SS_MANIFEST_MAX_RUNS);
        return;
    }
    if (total == 0) return;
    m->runs = calloc((size_t)total, sizeof *m->runs);
    if (!m->runs) {
        l->nomem = 1;
        return;
    }
    int gw = 3, rw = 3;
    for (long long x = grid; x >= 1000; x /= 10) gw++;
    for (long long x = nrand; x >= 1000; x /= 10) rw++;
    int lines[MF_MAX_KEYS];
    for (int e = 0; e < n_exp; e++)
        for (long long g = 0; g < grid; g++)
            for (long long s = 0; s < nrand; s++) {
                ss_run_spec *r = &m->runs[m->n_runs++];
                memcpy(lines, default_lines, sizeof lines);
                r->params = m->defaults;
                snprintf(r->experiment, sizeof r->experiment, "%s", exps[e].id);
                int used = snprintf(r->id, sizeof r->id, "%s", exps[e].id);
                for (int i = 0; i < exps[e].set.n; i++) apply(l, &r->params, lines, &exps[e].set.a[i]);
                if (l->have_grid) {
                    r->grid_point = (int)g + 1;
                    used += append_index(r->id + used, 'g', gw, g + 1);
                    long long rest = g;
                    for (int i = l->n_axes - 1; i >= 0; i--) {
                        const axis *a = &l->axes[i];
                        apply(l, &r->params, lines, &a->values.a[rest % a->values.n]);
                        rest /= a->values.n;
                    }
                }
                if (l->have_random) {
                    r->random_sample = (int)s + 1;
                    append_index(r->id + used, 'r', rw, s + 1); /* the id's last part */
                    for (int j = 0; sampled && j < l->n_rps; j++)
                        apply(l, &r->params, lines, &l->samples[s * l->n_rps + j]);
                }
                check_run(l, r, lines);
            }
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
