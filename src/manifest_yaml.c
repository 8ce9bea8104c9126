/* manifest_yaml.c - the manifest's YAML (libfyaml, confined to this file):
 * the document is built, then each top-level section (sweep, defaults,
 * experiments, grid, random) is read into the loader, every value validated
 * through mf_set_value. Errors name the line of the node at fault. */
#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_int.h"
#include "util.h"

/* ---- YAML nodes ---- */

/* Returns the 1-based line of node (a collection: of its first element), or fallback. */
static int node_line(struct fy_node *n, int fallback) {
    for (int depth = 0; n && depth < 32; depth++) {
        if (fy_node_is_scalar(n)) {
            struct fy_token *t = fy_node_get_scalar_token(n);
            const struct fy_mark *mk = t ? fy_token_start_mark(t) : NULL;
            return mk ? mk->line + 1 : fallback;
        }
        void *it = NULL;
        if (fy_node_is_mapping(n)) {
            struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
            n = p ? fy_node_pair_key(p) : NULL;
        } else if (fy_node_is_sequence(n)) {
            n = fy_node_sequence_iterate(n, &it);
        } else break;
    }
    return fallback;
}

static const char *node_kind(struct fy_node *n) {
    if (!n) return "nothing";
    if (fy_node_is_mapping(n)) return "a mapping";
    if (fy_node_is_sequence(n)) return "a sequence";
    return "a scalar";
}

static int is_null(struct fy_node *n) {
    if (!n) return 1;
    if (!fy_node_is_scalar(n)) return 0;
    if (fy_node_is_null(n)) return 1;
    if (fy_node_get_style(n) != FYNS_PLAIN) return 0;
    const char *s = fy_node_get_scalar0(n);
    return !s || !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* The text of a scalar node, or NULL (with an error) for null or a collection. */
static const char *scalar_text(loader *l, struct fy_node *n, const char *key, int line, const char *expected) {
    if (is_null(n)) {
        mf_error(l, line, key, "no value given");
        return NULL;
    }
    if (!fy_node_is_scalar(n)) {
        mf_error(l, node_line(n, line), key, "expected %s, got %s", expected, node_kind(n));
        return NULL;
    }
    const char *s = fy_node_get_scalar0(n);
    if (!s) l->nomem = 1;
    return s;
}

/* The key of a pair as a string, or NULL (with an error) when it is not a scalar. */
static const char *pair_key(loader *l, struct fy_node_pair *p, int fallback, int *line) {
    struct fy_node *k = fy_node_pair_key(p);
    *line = node_line(k, fallback);
    if (!k || !fy_node_is_scalar(k) || !fy_node_get_scalar0(k)) {
        mf_error(l, *line, NULL, "keys must be plain names, got %s", node_kind(k));
        return NULL;
    }
    return fy_node_get_scalar0(k);
}

/* The shared skeleton of the section parsers: 1 when v is a mapping (want
 * = 'm') or a sequence ('s'); otherwise records "KEY: EXPECTED, got KIND"
 * at v's line (or line) and returns 0. */
static int expect_node(loader *l, struct fy_node *v, char want, int line, const char *key, const char *expected) {
    if (!is_null(v) && (want == 'm' ? fy_node_is_mapping(v) : fy_node_is_sequence(v))) return 1;
    mf_error(l, node_line(v, line), key, "%s, got %s", expected, is_null(v) ? "nothing" : node_kind(v));
    return 0;
}

/* Reads the key of pair p as a run parameter name, dashes as underscores,
 * into key; *raw is the key as written, *line its line. Names in extra
 * (NULL-terminated, may be NULL) are accepted too. Returns 0 after recording
 * an error (a key that is not a scalar, or unknown: with the nearest name). */
static int param_key(loader *l, struct fy_node_pair *p, int fallback, const char *const *extra, char key[SS_NAME_MAX],
                     const char **raw, int *line) {
    *raw = pair_key(l, p, fallback, line);
    if (!*raw) return 0;
    ss_normalise_key(key, SS_NAME_MAX, *raw);
    for (int i = 0; extra && extra[i]; i++)
        if (!strcmp(key, extra[i])) return 1;
    if (strlen(*raw) >= SS_NAME_MAX || !ss_params_is_key(key)) {
        mf_error(l, *line, *raw, "unknown key (did you mean '%s'?)", mf_nearest(key, extra, 1));
        return 0;
    }
    return 1;
}

/* Describes what key takes, for "expected X, got a mapping" messages. */
static const char *expected_value(const loader *l, const char *key) {
    if (!strcmp(key, "snapshots")) return "{first: N, every: N}";
    if (mf_is_list_key(key)) return "a value or a list of values";
    if (mf_is_path_key(key)) return "a path";
    char text[SS_PATH_MAX], *end;
    ss_params_format(&l->builtin, key, text, sizeof text);
    if (!strcmp(text, "true") || !strcmp(text, "false")) return "true or false";
    strtod(text, &end);
    if (text[0] && !*end) return "a number";
    return "a single value";
}

/* Converts a value node to the text form of key into out: scalars as they
 * are, sequences joined with commas (list keys only), snapshots' mapping to
 * "FIRST,EVERY". Returns 0 after recording an error. */
static int value_text(loader *l, struct fy_node *n, const char *key, int line, char *out, size_t size) {
    if (n && fy_node_is_sequence(n) && mf_is_list_key(key)) {
        void *it = NULL;
        struct fy_node *item;
        size_t used = 0;
        int i = 0, ok = 1;
        out[0] = '\0';
        while ((item = fy_node_sequence_iterate(n, &it))) {
            int il = node_line(item, line);
            const char *s = scalar_text(l, item, key, il, "a single value in the list");
            i++;
            if (!s) {
                ok = 0;
                continue;
            }
            if (strchr(s, ',')) {
                mf_error(l, il, key, "item %d '%s' contains a comma", i, s);
                ok = 0;
                continue;
            }
            int w = snprintf(out + used, size - used, "%s%s", used ? "," : "", s);
            if (w < 0 || (size_t)w >= size - used) {
                mf_error(l, il, key, "the list is too long");
                return 0;
            }
            used += (size_t)w;
        }
        if (ok && i == 0) mf_error(l, line, key, "the list is empty");
        return ok && i > 0;
    }
    if (n && fy_node_is_mapping(n) && !strcmp(key, "snapshots")) {
        static const char *const names[] = {"first", "every", NULL};
        const char *first = "0", *every = "0";
        int ok = 1;
        void *it = NULL;
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(n, &it))) {
            int kl;
            const char *k = pair_key(l, p, line, &kl);
            if (!k) {
                ok = 0;
                continue;
            }
            const char **slot = !strcmp(k, "first") ? &first : !strcmp(k, "every") ? &every : NULL;
            if (!slot) {
                mf_error(l, kl, key, "unknown key '%s' (did you mean '%s'?)", k, mf_nearest(k, names, 0));
                ok = 0;
                continue;
            }
            const char *s = scalar_text(l, fy_node_pair_value(p), key, kl, "an integer");
            if (!s) ok = 0;
            else *slot = s;
        }
        if (ok) snprintf(out, size, "%s,%s", first, every);
        return ok;
    }
    const char *expected = expected_value(l, key);
    const char *s = scalar_text(l, n, key, line, expected);
    if (!s) return 0;
    if ((size_t)snprintf(out, size, "%s", s) >= size) {
        mf_error(l, line, key, "the value is too long");
        return 0;
    }
    return 1;
}

/* ---- parameters ---- */

/* Reads one "key: value" parameter pair into list; 0 after an error. */
static int parse_param(loader *l, alist *list, const char *key, struct fy_node *v, int line) {
    char text[MF_TEXT_MAX];
    if (!value_text(l, v, key, is_null(v) ? line : node_line(v, line), text, sizeof text)) return 0;
    return mf_set_value(l, list, key, text, node_line(v, line));
}

/* Reads a mapping of parameters (defaults, or an experiment when exp is not NULL). */
static void parse_params_map(loader *l, struct fy_node *map, alist *list, experiment *exp, int line) {
    static const char *const id_only[] = {"id", NULL};
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        int kl;
        const char *raw;
        char key[SS_NAME_MAX];
        if (!param_key(l, p, line, exp ? id_only : NULL, key, &raw, &kl)) continue;
        struct fy_node *v = fy_node_pair_value(p);
        if (exp && !strcmp(key, "id")) {
            exp->id_given = 1;
            const char *id = scalar_text(l, v, "id", kl, "a name");
            if (!id) continue;
            if (strlen(id) >= sizeof exp->id)
                mf_error(l, kl, "id", "'%s' is longer than %d characters", id, (int)sizeof exp->id - 1);
            else if (!mf_valid_id(id))
                mf_error(l, kl, "id",
                         "'%s' is not a valid id (letters, digits, '_', '-', '.'; not starting with '.' or '-')", id);
            else {
                snprintf(exp->id, sizeof exp->id, "%s", id);
                exp->line = kl;
            }
            continue;
        }
        for (int i = 0; i < list->n; i++)
            if (!strcmp(list->a[i].key, key)) mf_error(l, kl, raw, "given twice (also at line %d)", list->a[i].line);
        parse_param(l, list, key, v, kl);
    }
}

/* ---- sections ---- */

static void parse_sweep_name(loader *l, struct fy_node *v, int line, char *out, size_t size) {
    const char *s = scalar_text(l, v, "sweep", line, "a name");
    if (!s) return;
    if (strlen(s) >= size) mf_error(l, line, "sweep", "'%s' is longer than %d characters", s, (int)size - 1);
    else if (!mf_valid_id(s))
        mf_error(l, line, "sweep",
                 "'%s' is not a valid name (letters, digits, '_', '-', '.'; not starting with '.' or '-')", s);
    else snprintf(out, size, "%s", s);
}

static void parse_experiments(loader *l, struct fy_node *v, int line) {
    l->have_experiments = 1;
    l->experiments_line = line;
    if (!expect_node(l, v, 's', line, "experiments", "expected a list of experiments")) {
        return;
    }
    void *it = NULL;
    struct fy_node *item;
    int index = 0;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        index++;
        int il = node_line(item, line);
        if (!fy_node_is_mapping(item)) {
            mf_error(l, il, "experiments", "experiment %d: expected a mapping with an id, got %s", index,
                     node_kind(item));
            continue;
        }
        experiment e;
        memset(&e, 0, sizeof e);
        e.line = il;
        parse_params_map(l, item, &e.set, &e, il);
        int dup = 0;
        for (int i = 0; e.id[0] && i < l->n_exps; i++)
            if (!strcmp(l->exps[i].id, e.id)) {
                mf_error(l, e.line, "id", "duplicate experiment id '%s' (also at line %d)", e.id, l->exps[i].line);
                dup = 1;
            }
        if (!e.id_given) mf_error(l, il, "id", "experiment %d has no id", index);
        if (!e.id[0] || dup || !mf_grow((void **)&l->exps, &l->cap_exps, l->n_exps + 1, sizeof *l->exps)) {
            if (e.id[0] && !dup) l->nomem = 1;
            mf_alist_free(&e.set);
            continue;
        }
        l->exps[l->n_exps++] = e;
    }
    if (index == 0) mf_error(l, line, "experiments", "the list is empty");
}

static void parse_grid(loader *l, struct fy_node *v, int line) {
    l->have_grid = 1;
    l->grid_line = line;
    if (!expect_node(l, v, 'm', line, "grid", "expected a mapping of keys to lists of values")) {
        return;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    int n = 0;
    while ((p = fy_node_mapping_iterate(v, &it))) {
        n++;
        int kl;
        const char *raw;
        char key[SS_NAME_MAX];
        if (!param_key(l, p, line, NULL, key, &raw, &kl)) continue;
        int dup = 0;
        for (int i = 0; i < l->n_axes; i++)
            if (!strcmp(l->axes[i].key, key)) {
                mf_error(l, kl, raw, "given twice in grid (also at line %d)", l->axes[i].line);
                dup = 1;
            }
        if (dup) continue;
        struct fy_node *list = fy_node_pair_value(p);
        if (!expect_node(l, list, 's', kl, key, "grid values must be a list (write [x] for one value)")) {
            continue;
        }
        axis a;
        memset(&a, 0, sizeof a);
        snprintf(a.key, sizeof a.key, "%s", key);
        a.line = kl;
        void *it2 = NULL;
        struct fy_node *item;
        int count = 0, ok = 1;
        while ((item = fy_node_sequence_iterate(list, &it2))) {
            count++;
            if (!parse_param(l, &a.values, key, item, node_line(item, kl))) ok = 0;
        }
        if (count == 0) {
            mf_error(l, kl, key, "the grid list is empty");
            ok = 0;
        }
        if (!ok || !mf_grow((void **)&l->axes, &l->cap_axes, l->n_axes + 1, sizeof *l->axes)) {
            if (ok) l->nomem = 1;
            mf_alist_free(&a.values);
            continue;
        }
        l->axes[l->n_axes++] = a;
    }
    if (n == 0) mf_error(l, line, "grid", "the grid is empty");
}

/* Parses a number for a random spec (min, max); 0 after an error. */
static int spec_number(loader *l, struct fy_node *v, const char *pkey, const char *what, int line, double *out) {
    char label[SS_NAME_MAX + 16];
    snprintf(label, sizeof label, "%s.%s", pkey, what);
    const char *s = scalar_text(l, v, label, line, "a number");
    if (!s) return 0;
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    while (*end == ' ') end++;
    if (!s[0] || *end || errno || !isfinite(*out)) {
        mf_error(l, line, label, "'%s' is not a number", s);
        return 0;
    }
    if (ss_params_set(&l->scratch, pkey, s) != SS_OK) {
        mf_error(l, line, label, "%s", mf_strip_key(ss_error_message(), pkey));
        return 0;
    }
    return 1;
}

static void parse_random_param(loader *l, const char *key, struct fy_node *spec, int kl) {
    static const char *const spec_keys[] = {"distribution", "min", "max", "values", NULL};
    static const char *const dists[] = {"uniform", "log_uniform", "int_uniform", "categorical", NULL};
    rparam r;
    memset(&r, 0, sizeof r);
    snprintf(r.key, sizeof r.key, "%s", key);
    r.line = kl;
    r.ok = 1;
    if (!expect_node(l, spec, 'm', kl, key,
                     "expected {distribution: uniform|log_uniform|int_uniform, min: A, max: B} or {values: [...]}")) {
        return;
    }
    const char *dist = NULL;
    int have_min = 0, have_max = 0, have_values = 0, dist_line = kl, min_line = kl;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(spec, &it))) {
        int sl;
        const char *k = pair_key(l, p, kl, &sl);
        if (!k) {
            r.ok = 0;
            continue;
        }
        struct fy_node *v = fy_node_pair_value(p);
        if (!strcmp(k, "distribution")) {
            char label[SS_NAME_MAX + 16];
            snprintf(label, sizeof label, "%s.distribution", key);
            dist = scalar_text(l, v, label, sl, "a distribution name");
            dist_line = sl;
            if (!dist) r.ok = 0;
        } else if (!strcmp(k, "min")) {
            have_min = spec_number(l, v, key, "min", sl, &r.min);
            min_line = sl;
            if (!have_min) r.ok = 0;
        } else if (!strcmp(k, "max")) {
            have_max = spec_number(l, v, key, "max", sl, &r.max);
            if (!have_max) r.ok = 0;
        } else if (!strcmp(k, "values")) {
            have_values = 1;
            if (!expect_node(l, v, 's', sl, key, "values must be a list")) {
                r.ok = 0;
                continue;
            }
            void *it2 = NULL;
            struct fy_node *item;
            int count = 0;
            while ((item = fy_node_sequence_iterate(v, &it2))) {
                count++;
                if (!parse_param(l, &r.values, key, item, node_line(item, sl))) r.ok = 0;
            }
            if (count == 0) {
                mf_error(l, sl, key, "the values list is empty");
                r.ok = 0;
            }
        } else {
            mf_error(l, sl, key, "unknown key '%s' in a random parameter (did you mean '%s'?)", k,
                     mf_nearest(k, spec_keys, 0));
            r.ok = 0;
        }
    }
    if (dist && !strcmp(dist, "uniform")) r.kind = DIST_UNIFORM;
    else if (dist && !strcmp(dist, "log_uniform")) r.kind = DIST_LOG_UNIFORM;
    else if (dist && !strcmp(dist, "int_uniform")) r.kind = DIST_INT_UNIFORM;
    else if (dist && !strcmp(dist, "categorical")) r.kind = DIST_CATEGORICAL;
    else if (dist) {
        mf_error(l, dist_line, key,
                 "unknown distribution '%s' (did you mean '%s'? valid: uniform, log_uniform, int_uniform, categorical)",
                 dist, mf_nearest(dist, dists, 0));
        r.ok = 0;
    } else if (have_values) r.kind = DIST_CATEGORICAL;
    else if (r.ok) {
        mf_error(l, kl, key, "needs {distribution: ..., min: A, max: B} or {values: [...]}");
        r.ok = 0;
    }
    if (r.ok && r.kind == DIST_CATEGORICAL) {
        if (!have_values) mf_error(l, kl, key, "categorical needs values: [...]"), r.ok = 0;
        if (have_min || have_max) mf_error(l, kl, key, "min and max do not go with values"), r.ok = 0;
    } else if (r.ok) {
        if (have_values) mf_error(l, kl, key, "values go with distribution categorical, not %s", dist), r.ok = 0;
        if (!have_min) mf_error(l, kl, key, "%s needs min", dist), r.ok = 0;
        if (!have_max) mf_error(l, kl, key, "%s needs max", dist), r.ok = 0;
        if (r.ok && r.min > r.max) mf_error(l, min_line, key, "min %g is greater than max %g", r.min, r.max), r.ok = 0;
        if (r.ok && r.kind == DIST_LOG_UNIFORM && r.min <= 0)
            mf_error(l, min_line, key, "log_uniform needs min > 0 (got %g)", r.min), r.ok = 0;
        if (r.ok && r.kind == DIST_INT_UNIFORM && (r.min != floor(r.min) || r.max != floor(r.max)))
            mf_error(l, min_line, key, "int_uniform needs integer min and max"), r.ok = 0;
    }
    if (!mf_grow((void **)&l->rps, &l->cap_rps, l->n_rps + 1, sizeof *l->rps)) {
        l->nomem = 1;
        mf_alist_free(&r.values);
        return;
    }
    l->rps[l->n_rps++] = r;
}

static void parse_random(loader *l, struct fy_node *v, int line) {
    static const char *const names[] = {"count", "seed", "parameters", NULL};
    l->have_random = 1;
    l->random_line = line;
    l->random_ok = 1;
    if (!expect_node(l, v, 'm', line, "random", "expected a mapping (count, seed, parameters)")) {
        l->random_ok = 0;
        return;
    }
    int have_count = 0, have_params = 0;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(v, &it))) {
        int kl;
        const char *k = pair_key(l, p, line, &kl);
        if (!k) {
            l->random_ok = 0;
            continue;
        }
        struct fy_node *val = fy_node_pair_value(p);
        if (!strcmp(k, "count") || !strcmp(k, "seed")) {
            int is_count = !strcmp(k, "count");
            char label[32];
            snprintf(label, sizeof label, "random.%s", k);
            const char *s = scalar_text(l, val, label, kl, "an integer");
            char *end = NULL;
            errno = 0;
            long long x = s ? strtoll(s, &end, 10) : 0;
            if (!s) l->random_ok = 0;
            else if (!s[0] || *end || errno || x < (is_count ? 1 : 0) || (is_count && x > SS_MANIFEST_MAX_RUNS)) {
                if (is_count) mf_error(l, kl, label, "'%s' is not an integer from 1 to %d", s, SS_MANIFEST_MAX_RUNS);
                else mf_error(l, kl, label, "'%s' is not an integer >= 0", s);
                l->random_ok = 0;
            } else if (is_count) l->count = x, have_count = 1;
            else l->seed = (unsigned long long)x;
        } else if (!strcmp(k, "parameters")) {
            have_params = 1;
            if (!expect_node(l, val, 'm', kl, "random.parameters", "expected a mapping of keys to distributions")) {
                l->random_ok = 0;
                continue;
            }
            void *it2 = NULL;
            struct fy_node_pair *pp;
            int n = 0;
            while ((pp = fy_node_mapping_iterate(val, &it2))) {
                n++;
                int pl;
                const char *raw;
                char key[SS_NAME_MAX];
                if (!param_key(l, pp, kl, NULL, key, &raw, &pl)) {
                    l->random_ok = 0;
                    continue;
                }
                int dup = 0;
                for (int i = 0; i < l->n_rps; i++)
                    if (!strcmp(l->rps[i].key, key)) {
                        mf_error(l, pl, raw, "given twice in random (also at line %d)", l->rps[i].line);
                        dup = 1;
                    }
                if (dup) {
                    l->random_ok = 0;
                    continue;
                }
                parse_random_param(l, key, fy_node_pair_value(pp), pl);
            }
            if (n == 0) {
                mf_error(l, kl, "random.parameters", "no parameters given");
                l->random_ok = 0;
            }
        } else {
            mf_error(l, kl, "random", "unknown key '%s' (did you mean '%s'?)", k, mf_nearest(k, names, 0));
            l->random_ok = 0;
        }
    }
    if (!have_count) mf_error(l, line, "random", "count is missing"), l->random_ok = 0;
    if (!have_params) mf_error(l, line, "random", "parameters are missing"), l->random_ok = 0;
    for (int i = 0; i < l->n_rps; i++)
        if (!l->rps[i].ok) l->random_ok = 0;
}

/* Parses the document's sections into l and m (name, defaults). */
static void parse_document(loader *l, ss_manifest *m, struct fy_node *root) {
    static const char *const sections[] = {"sweep", "defaults", "experiments", "grid", "random", NULL};
    if (!root || is_null(root)) {
        mf_error(l, 1, NULL, "the manifest is empty (expected sweep, defaults, experiments, grid, random)");
        return;
    }
    if (!fy_node_is_mapping(root)) {
        mf_error(l, node_line(root, 1), NULL,
                 "the manifest must be a mapping (sweep, defaults, experiments, grid, random), not %s",
                 node_kind(root));
        return;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(root, &it))) {
        int kl;
        const char *k = pair_key(l, p, 1, &kl);
        if (!k) continue;
        struct fy_node *v = fy_node_pair_value(p);
        if (!strcmp(k, "sweep")) parse_sweep_name(l, v, kl, m->sweep, sizeof m->sweep);
        else if (!strcmp(k, "defaults")) {
            l->defaults_line = kl;
            if (is_null(v)) continue;
            if (!fy_node_is_mapping(v))
                mf_error(l, node_line(v, kl), "defaults", "expected a mapping of run keys, got %s", node_kind(v));
            else parse_params_map(l, v, &l->defaults, NULL, kl);
        } else if (!strcmp(k, "experiments")) parse_experiments(l, v, kl);
        else if (!strcmp(k, "grid")) parse_grid(l, v, kl);
        else if (!strcmp(k, "random")) parse_random(l, v, kl);
        else if (!strncmp(k, "x-", 2)) continue; /* free-form, e.g. to hold YAML anchors */
        else {
            const char *near = mf_nearest(k, sections, 0);
            if (ss_params_is_key(k)) mf_error(l, kl, k, "unknown top-level key (run keys go under defaults:)");
            else mf_error(l, kl, k, "unknown top-level key (did you mean '%s'?)", near);
        }
    }
    /* a key varies in grid or in random, not both */
    for (int j = 0; j < l->n_rps; j++)
        for (int i = 0; i < l->n_axes; i++)
            if (!strcmp(l->rps[j].key, l->axes[i].key)) {
                mf_error(l, l->rps[j].line, l->rps[j].key, "also varied by grid (line %d); use one of grid and random",
                         l->axes[i].line);
                l->rps[j].ok = 0;
                l->random_ok = 0;
            }
}

static void quiet_output(struct fy_diag *d, void *user, const char *buf, size_t len) {
    (void)d, (void)user, (void)buf, (void)len;
}

/* Checks the bytes before libfyaml sees them (it can loop forever on some
 * invalid input, e.g. a directive followed by a byte that is not UTF-8):
 * UTF-8 text without NUL bytes, and no directives (a line starting with
 * '%'), which a manifest never needs. Returns 0 after recording an error. */
static int check_text(loader *l, const unsigned char *t, size_t n) {
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = t[i];
        if (i == line_start && c == '%') {
            mf_error(l, line, NULL, "YAML directives ('%%...') are not accepted in a manifest");
            return 0;
        }
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        int ok = len > 0 && c != 0 && i + len <= n && !(len == 2 && c < 0xC2) && !(c > 0xF4);
        for (size_t k = 1; ok && k < len; k++) ok = (t[i + k] & 0xC0) == 0x80;
        if (ok && len == 3) {
            unsigned cp = (c & 0x0Fu) << 12 | (t[i + 1] & 0x3Fu) << 6 | (t[i + 2] & 0x3Fu);
            ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
        } else if (ok && len == 4) {
            unsigned cp = (c & 0x07u) << 18 | (t[i + 1] & 0x3Fu) << 12 | (t[i + 2] & 0x3Fu) << 6 | (t[i + 3] & 0x3Fu);
            ok = cp >= 0x10000 && cp <= 0x10FFFF;
        }
        if (!ok) {
            mf_error(l, line, NULL, "not UTF-8 text: byte 0x%02X at column %d (a manifest is UTF-8 YAML)", c,
                     (int)(i - line_start) + 1);
            return 0;
        }
        if (c == '\n') line++, line_start = i + 1;
        i += len;
    }
    return 1;
}

/* Counts the nodes under n with aliases expanded, taking one from *budget
 * for each; stops early (leaving *budget negative) once it is spent, so the
 * count costs at most the budget however the aliases nest. */
static void expanded_nodes(struct fy_node *n, long long *budget, int depth) {
    if (!n || *budget < 0) return;
    if (--*budget < 0 || depth > 200) {
        *budget = -1;
        return;
    }
    if (fy_node_is_alias(n)) {
        expanded_nodes(fy_node_resolve_alias(n), budget, depth + 1);
        return;
    }
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p;
        while (*budget >= 0 && (p = fy_node_mapping_iterate(n, &it))) {
            expanded_nodes(fy_node_pair_key(p), budget, depth + 1);
            expanded_nodes(fy_node_pair_value(p), budget, depth + 1);
        }
    } else if (fy_node_is_sequence(n)) {
        struct fy_node *c;
        while (*budget >= 0 && (c = fy_node_sequence_iterate(n, &it))) expanded_nodes(c, budget, depth + 1);
    }
}

int mf_parse_yaml(loader *l, ss_manifest *m) {
    if (!check_text(l, (const unsigned char *)m->text, m->text_len)) return 0;
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = quiet_output;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (diag) fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pcfg;
    memset(&pcfg, 0, sizeof pcfg);
    pcfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG; /* aliases are resolved below, within a budget */
    pcfg.diag = diag;
    struct fy_document *doc = diag ? fy_document_build_from_string(&pcfg, m->text, m->text_len) : NULL;
    int parsed = 0;
    if (!diag) l->nomem = 1;
    else if (!doc) {
        void *it = NULL;
        struct fy_diag_error *e;
        int n = 0;
        while ((e = fy_diag_errors_iterate(diag, &it)))
            if (e->type >= FYET_ERROR) {
                mf_error(l, e->line > 0 ? e->line : 1, NULL, "YAML syntax error: %s (column %d)", e->msg ? e->msg : "?",
                         e->column);
                n++;
            }
        if (!n) mf_error(l, 1, NULL, "YAML syntax error: the document cannot be parsed");
    } else {
        /* aliases expand a document: a few hundred bytes of nested ones can
         * stand for billions of nodes, so the expansion gets a budget */
        long long budget = MF_ALIAS_BUDGET + 4 * (long long)m->text_len;
        expanded_nodes(fy_document_root(doc), &budget, 0);
        if (budget < 0)
            mf_error(l, 1, NULL,
                     "the document's aliases expand to more than %lld nodes (nested aliases?); write it out "
                     "without them",
                     MF_ALIAS_BUDGET + 4 * (long long)m->text_len);
        else if (fy_document_resolve(doc) != 0)
            mf_error(l, 1, NULL, "YAML error: cannot resolve the document's aliases (an undefined or cyclic one?)");
        else {
            parse_document(l, m, fy_document_root(doc));
            parsed = 1;
        }
    }
    if (doc) fy_document_destroy(doc);
    if (diag) fy_diag_destroy(diag);
    return parsed;
}
