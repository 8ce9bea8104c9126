/* manifest.c - loading a sweep manifest (see manifest.h and sweeps/README.md):
 * libfyaml builds the document; every key is checked against the parameter
 * table (ss_params_set), paths are taken from the manifest's folder, the
 * experiments, grid and random sample expand into runs, and each run's
 * parameters are resolved against its model (and its content image's size,
 * from the file's header, against its deepest layer). Errors are collected, not
 * returned at the first one, and sorted by line. */
#include "manifest.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image.h>

#include "evalfile.h"
#include "image.h"
#include "model.h"
#include "net.h"
#include "rng.h"
#include "sha256.h"

enum { MAX_KEYS = 64, TEXT_MAX = SS_PATH_MAX * SS_MAX_STYLES + 64 };

/* ---- small helpers ---------------------------------------------------- */

typedef struct err_line {
    int line;
    int order; /* for a stable sort */
    char *text;
} err_line;

typedef struct assign {
    char key[SS_NAME_MAX];
    char *value; /* the text given to ss_params_set (paths resolved) */
    int line;
} assign;

typedef struct alist {
    assign *a;
    int n, cap;
} alist;

typedef struct experiment {
    char id[SS_EXPERIMENT_ID_MAX];
    int line;
    int id_given; /* an id key was there (valid or not) */
    alist set;
} experiment;

typedef struct axis {
    char key[SS_NAME_MAX];
    int line;
    alist values;
} axis;

typedef enum dist_kind { DIST_UNIFORM, DIST_LOG_UNIFORM, DIST_INT_UNIFORM, DIST_CATEGORICAL } dist_kind;

typedef struct rparam {
    char key[SS_NAME_MAX];
    int line;
    int ok;
    dist_kind kind;
    double min, max;
    alist values; /* categorical */
} rparam;

/* A per-run error (from resolving a run's parameters), grouped over runs. */
typedef struct run_err {
    int line;
    char key[SS_NAME_MAX];
    char *msg;
    char first[SS_RUN_ID_MAX];
    int count;
} run_err;

/* The size of a content image file from its header (stbi_info), read once per path. */
typedef struct image_info {
    char *path;
    int ok; /* 0: stbi_info could not read the header */
    int w, h;
} image_info;

typedef struct loader {
    const char *file; /* the manifest's path, for messages */
    char dir[SS_PATH_MAX];
    err_line *errs;
    int n_errs, cap_errs;
    int nomem;
    ss_params scratch; /* target of validating ss_params_set calls */
    ss_params builtin; /* the built-in defaults */
    alist defaults;
    int defaults_line;
    experiment *exps;
    int n_exps, cap_exps;
    int have_experiments, experiments_line;
    axis *axes;
    int n_axes, cap_axes;
    int have_grid, grid_line;
    rparam *rps;
    int n_rps, cap_rps;
    int have_random, random_line, random_ok;
    long long count;
    unsigned long long seed;
    assign *samples; /* count x n_rps */
    run_err *rerrs;
    int n_rerrs, cap_rerrs;
    image_info *infos;
    int n_infos, cap_infos;
} loader;

/* Grows *p (of *cap elements of size sz) to hold at least n; 0 on failure. */
static int grow(void **p, int *cap, int n, size_t sz) {
    if (n <= *cap) return 1;
    int c = *cap ? *cap * 2 : 8;
    while (c < n) c *= 2;
    void *q = realloc(*p, (size_t)c * sz);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

static char *dup_text(loader *l, const char *s) {
    char *d = strdup(s);
    if (!d) l->nomem = 1;
    return d;
}

/* Records "FILE:LINE: key: message" (key may be NULL). */
static void add_error(loader *l, int line, const char *key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void add_error(loader *l, int line, const char *key, const char *fmt, ...) {
    char msg[2048], text[2600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key) snprintf(text, sizeof text, "%s:%d: %s: %s", l->file, line, key, msg);
    else snprintf(text, sizeof text, "%s:%d: %s", l->file, line, msg);
    if (!grow((void **)&l->errs, &l->cap_errs, l->n_errs + 1, sizeof *l->errs)) {
        l->nomem = 1;
        return;
    }
    char *t = dup_text(l, text);
    if (!t) return;
    l->errs[l->n_errs] = (err_line){line, l->n_errs, t};
    l->n_errs++;
}

/* Strips a leading "key: " from a message of ss_params_set. */
static const char *strip_key(const char *msg, const char *key) {
    size_t n = strlen(key);
    if (strncmp(msg, key, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') return msg + n + 2;
    return msg;
}

static void alist_add(loader *l, alist *list, const char *key, const char *value, int line) {
    if (!grow((void **)&list->a, &list->cap, list->n + 1, sizeof *list->a)) {
        l->nomem = 1;
        return;
    }
    assign *a = &list->a[list->n];
    snprintf(a->key, sizeof a->key, "%s", key);
    a->line = line;
    a->value = dup_text(l, value);
    if (a->value) list->n++;
}

static void alist_free(alist *list) {
    for (int i = 0; i < list->n; i++) free(list->a[i].value);
    free(list->a);
    memset(list, 0, sizeof *list);
}

/* Returns the candidate nearest to key: the NULL-terminated list names, and
 * the parameter keys too when with_params. */
static const char *nearest(const char *key, const char *const *names, int with_params) {
    const char *best = NULL;
    size_t bd = (size_t)-1;
    for (int i = 0; names && names[i]; i++) {
        size_t d = ss_params_edit_distance(key, names[i]);
        if (d < bd) bd = d, best = names[i];
    }
    if (with_params) {
        const char *p = ss_params_nearest_key(key);
        if (!best || ss_params_edit_distance(key, p) < bd) best = p;
    }
    return best;
}

/* Copies key with dashes as underscores. */
static void normalise_key(char *out, size_t size, const char *key) {
    size_t i = 0;
    for (; key[i] && i + 1 < size; i++) out[i] = key[i] == '-' ? '_' : key[i];
    out[i] = '\0';
}

static int valid_id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
}

/* 1 when s is a usable id: [A-Za-z0-9_.-], not starting with '.' or '-'. */
static int valid_id(const char *s) {
    if (!s[0] || s[0] == '.' || s[0] == '-') return 0;
    for (const char *c = s; *c; c++)
        if (!valid_id_char(*c)) return 0;
    return 1;
}

/* Keys that take a list (a YAML sequence is joined with commas). */
static int is_list_key(const char *key) {
    return !strcmp(key, "style") || !strcmp(key, "style_layers") || !strcmp(key, "style_weight");
}

/* Keys that hold paths, relative to the manifest's folder. */
static int is_path_key(const char *key) {
    return !strcmp(key, "content") || !strcmp(key, "style") || !strcmp(key, "weights");
}

/* ---- YAML nodes ------------------------------------------------------- */

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
        add_error(l, line, key, "no value given");
        return NULL;
    }
    if (!fy_node_is_scalar(n)) {
        add_error(l, node_line(n, line), key, "expected %s, got %s", expected, node_kind(n));
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
        add_error(l, *line, NULL, "keys must be plain names, got %s", node_kind(k));
        return NULL;
    }
    return fy_node_get_scalar0(k);
}

/* Describes what key takes, for "expected X, got a mapping" messages. */
static const char *expected_value(const loader *l, const char *key) {
    if (!strcmp(key, "snapshots")) return "{first: N, every: N}";
    if (is_list_key(key)) return "a value or a list of values";
    if (is_path_key(key)) return "a path";
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
    if (n && fy_node_is_sequence(n) && is_list_key(key)) {
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
                add_error(l, il, key, "item %d '%s' contains a comma", i, s);
                ok = 0;
                continue;
            }
            int w = snprintf(out + used, size - used, "%s%s", used ? "," : "", s);
            if (w < 0 || (size_t)w >= size - used) {
                add_error(l, il, key, "the list is too long");
                return 0;
            }
            used += (size_t)w;
        }
        if (ok && i == 0) add_error(l, line, key, "the list is empty");
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
                add_error(l, kl, key, "unknown key '%s' (did you mean '%s'?)", k, nearest(k, names, 0));
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
        add_error(l, line, key, "the value is too long");
        return 0;
    }
    return 1;
}

/* ---- paths ------------------------------------------------------------ */

/* Collapses "." and "dir/.." components of path in place (lexically). */
static void normalise_path(char *path) {
    char tmp[SS_PATH_MAX];
    const char *parts[SS_PATH_MAX / 2];
    int n = 0, absolute = path[0] == '/';
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *save = NULL, *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".")) continue;
        if (!strcmp(c, "..") && n > 0 && strcmp(parts[n - 1], "..") != 0) {
            n--;
            continue;
        }
        if (!strcmp(c, "..") && absolute) continue;
        parts[n++] = c;
    }
    char out[SS_PATH_MAX];
    size_t used = 0;
    out[0] = '\0';
    if (absolute) out[used++] = '/', out[used] = '\0';
    for (int i = 0; i < n; i++) used += (size_t)snprintf(out + used, sizeof out - used, "%s%s", i ? "/" : "", parts[i]);
    if (!out[0]) snprintf(out, sizeof out, ".");
    snprintf(path, SS_PATH_MAX, "%s", out);
}

/* Writes into out the path p (written relative to the manifest's folder) as a
 * path usable from the current directory; a shorter form is used when it
 * names the same file (so symbolic links are respected). */
static int resolve_path(const loader *l, const char *p, char *out, size_t size) {
    size_t dl = strlen(l->dir), pl = strlen(p), sep = dl && l->dir[dl - 1] != '/';
    if (p[0] == '/' || !dl) dl = sep = 0;
    if (dl + sep + pl >= size || dl + sep + pl >= SS_PATH_MAX) return 0;
    char joined[SS_PATH_MAX], norm[SS_PATH_MAX];
    memcpy(joined, l->dir, dl);
    if (sep) joined[dl] = '/';
    memcpy(joined + dl + sep, p, pl + 1);
    memcpy(norm, joined, dl + sep + pl + 1);
    normalise_path(norm);
    struct stat a, b;
    const char *use = joined;
    if (dl && stat(joined, &a) == 0 && stat(norm, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) use = norm;
    memcpy(out, use, strlen(use) + 1);
    return 1;
}

/* Length of the file part of "FILE.h5:/dataset" (the whole string otherwise). */
static size_t file_part(const char *spec) {
    const char *c = strstr(spec, ".h5:");
    if (c) return (size_t)(c - spec) + 3;
    c = strstr(spec, ".hdf5:");
    if (c) return (size_t)(c - spec) + 5;
    return strlen(spec);
}

/* Checks that the file part of resolved exists and is a readable file. */
static int check_file(loader *l, int line, const char *key, const char *written, const char *resolved) {
    char path[SS_PATH_MAX];
    size_t n = file_part(resolved);
    snprintf(path, sizeof path, "%.*s", (int)n, resolved);
    char where[SS_PATH_MAX + 32] = "";
    size_t wn = file_part(written);
    if (strlen(path) != wn || strncmp(path, written, wn) != 0) snprintf(where, sizeof where, " (%s)", path);
    struct stat st;
    if (stat(path, &st) != 0) {
        add_error(l, line, key, "cannot read '%.*s'%s: %s", (int)wn, written, where, strerror(errno));
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        add_error(l, line, key, "'%.*s'%s is a folder, not a file", (int)wn, written, where);
        return 0;
    }
    if (access(path, R_OK) != 0) {
        add_error(l, line, key, "cannot read '%.*s'%s: %s", (int)wn, written, where, strerror(errno));
        return 0;
    }
    return 1;
}

static int weights_is_file(const char *v) {
    return strcmp(v, "auto") != 0 && strcmp(v, "random") != 0 && strncmp(v, "random:", 7) != 0;
}

/* Resolves the path(s) of a path key's text (list items for style) into
 * out and checks the files; 0 after recording an error. */
static int resolve_paths(loader *l, const char *key, const char *text, int line, char *out, size_t size) {
    if (!strcmp(key, "weights") && !weights_is_file(text)) {
        snprintf(out, size, "%s", text);
        return 1;
    }
    size_t used = 0;
    int ok = 1, first = 1;
    out[0] = '\0';
    for (const char *s = text; *s;) {
        const char *comma = !strcmp(key, "style") ? strchr(s, ',') : NULL;
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char item[SS_PATH_MAX], resolved[SS_PATH_MAX];
        while (len && (*s == ' ' || *s == '\t')) s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
        if (len >= sizeof item) {
            add_error(l, line, key, "path is too long");
            return 0;
        }
        memcpy(item, s, len);
        item[len] = '\0';
        if (item[0]) {
            size_t fp = file_part(item);
            char file[SS_PATH_MAX];
            snprintf(file, sizeof file, "%.*s", (int)fp, item);
            if (!resolve_path(l, file, resolved, sizeof resolved) ||
                strlen(resolved) + strlen(item + fp) >= sizeof resolved) {
                add_error(l, line, key, "path is too long");
                return 0;
            }
            strcat(resolved, item + fp);
            if (!check_file(l, line, key, item, resolved)) ok = 0;
        } else resolved[0] = '\0';
        int w = snprintf(out + used, size - used, "%s%s", first ? "" : ",", resolved);
        first = 0;
        if (w < 0 || (size_t)w >= size - used) {
            add_error(l, line, key, "the value is too long");
            return 0;
        }
        used += (size_t)w;
        if (!comma) break;
        s = comma + 1;
    }
    return ok;
}

/* ---- validated assignments ------------------------------------------ */

/* Validates key = text (from the manifest) and appends it to list: the
 * ss_params_set check, then paths resolved and files checked. */
static int set_value(loader *l, alist *list, const char *key, const char *text, int line) {
    char resolved[TEXT_MAX];
    const char *value = text;
    int ok = 1;
    if (ss_params_set(&l->scratch, key, text) != SS_OK) {
        add_error(l, line, key, "%s", strip_key(ss_error_message(), key));
        return 0;
    }
    if (is_path_key(key)) {
        ok = resolve_paths(l, key, text, line, resolved, sizeof resolved);
        value = resolved;
        if (ss_params_set(&l->scratch, key, value) != SS_OK) {
            add_error(l, line, key, "%s", strip_key(ss_error_message(), key));
            return 0;
        }
    }
    alist_add(l, list, key, value, line);
    return ok;
}

/* Reads one "key: value" parameter pair into list; 0 after an error. */
static int parse_param(loader *l, alist *list, const char *key, struct fy_node *v, int line) {
    char text[TEXT_MAX];
    if (!value_text(l, v, key, is_null(v) ? line : node_line(v, line), text, sizeof text)) return 0;
    return set_value(l, list, key, text, node_line(v, line));
}

/* Reads a mapping of parameters (defaults, or an experiment when exp is not NULL). */
static void parse_params_map(loader *l, struct fy_node *map, alist *list, experiment *exp, int line) {
    static const char *const id_only[] = {"id", NULL};
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        int kl;
        const char *raw = pair_key(l, p, line, &kl);
        if (!raw) continue;
        char key[SS_NAME_MAX];
        normalise_key(key, sizeof key, raw);
        struct fy_node *v = fy_node_pair_value(p);
        if (exp && !strcmp(key, "id")) {
            exp->id_given = 1;
            const char *id = scalar_text(l, v, "id", kl, "a name");
            if (!id) continue;
            if (strlen(id) >= sizeof exp->id)
                add_error(l, kl, "id", "'%s' is longer than %d characters", id, (int)sizeof exp->id - 1);
            else if (!valid_id(id))
                add_error(l, kl, "id",
                          "'%s' is not a valid id (letters, digits, '_', '-', '.'; not starting with '.' or '-')", id);
            else {
                snprintf(exp->id, sizeof exp->id, "%s", id);
                exp->line = kl;
            }
            continue;
        }
        if (strlen(raw) >= SS_NAME_MAX || !ss_params_is_key(key)) {
            add_error(l, kl, raw, "unknown key (did you mean '%s'?)", nearest(key, exp ? id_only : NULL, 1));
            continue;
        }
        for (int i = 0; i < list->n; i++)
            if (!strcmp(list->a[i].key, key)) add_error(l, kl, raw, "given twice (also at line %d)", list->a[i].line);
        parse_param(l, list, key, v, kl);
    }
}

/* ---- sections --------------------------------------------------------- */

static void parse_sweep_name(loader *l, struct fy_node *v, int line, char *out, size_t size) {
    const char *s = scalar_text(l, v, "sweep", line, "a name");
    if (!s) return;
    if (strlen(s) >= size) add_error(l, line, "sweep", "'%s' is longer than %d characters", s, (int)size - 1);
    else if (!valid_id(s))
        add_error(l, line, "sweep",
                  "'%s' is not a valid name (letters, digits, '_', '-', '.'; not starting with '.' or '-')", s);
    else snprintf(out, size, "%s", s);
}

static void parse_experiments(loader *l, struct fy_node *v, int line) {
    l->have_experiments = 1;
    l->experiments_line = line;
    if (is_null(v) || !fy_node_is_sequence(v)) {
        add_error(l, node_line(v, line), "experiments", "expected a list of experiments, got %s",
                  is_null(v) ? "nothing" : node_kind(v));
        return;
    }
    void *it = NULL;
    struct fy_node *item;
    int index = 0;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        index++;
        int il = node_line(item, line);
        if (!fy_node_is_mapping(item)) {
            add_error(l, il, "experiments", "experiment %d: expected a mapping with an id, got %s", index,
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
                add_error(l, e.line, "id", "duplicate experiment id '%s' (also at line %d)", e.id, l->exps[i].line);
                dup = 1;
            }
        if (!e.id_given) add_error(l, il, "id", "experiment %d has no id", index);
        if (!e.id[0] || dup || !grow((void **)&l->exps, &l->cap_exps, l->n_exps + 1, sizeof *l->exps)) {
            if (e.id[0] && !dup) l->nomem = 1;
            alist_free(&e.set);
            continue;
        }
        l->exps[l->n_exps++] = e;
    }
    if (index == 0) add_error(l, line, "experiments", "the list is empty");
}

static void parse_grid(loader *l, struct fy_node *v, int line) {
    l->have_grid = 1;
    l->grid_line = line;
    if (is_null(v) || !fy_node_is_mapping(v)) {
        add_error(l, node_line(v, line), "grid", "expected a mapping of keys to lists of values, got %s",
                  is_null(v) ? "nothing" : node_kind(v));
        return;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    int n = 0;
    while ((p = fy_node_mapping_iterate(v, &it))) {
        n++;
        int kl;
        const char *raw = pair_key(l, p, line, &kl);
        if (!raw) continue;
        char key[SS_NAME_MAX];
        normalise_key(key, sizeof key, raw);
        if (strlen(raw) >= SS_NAME_MAX || !ss_params_is_key(key)) {
            add_error(l, kl, raw, "unknown key (did you mean '%s'?)", nearest(key, NULL, 1));
            continue;
        }
        int dup = 0;
        for (int i = 0; i < l->n_axes; i++)
            if (!strcmp(l->axes[i].key, key)) {
                add_error(l, kl, raw, "given twice in grid (also at line %d)", l->axes[i].line);
                dup = 1;
            }
        if (dup) continue;
        struct fy_node *list = fy_node_pair_value(p);
        if (is_null(list) || !fy_node_is_sequence(list)) {
            add_error(l, node_line(list, kl), key, "grid values must be a list (write [x] for one value), got %s",
                      is_null(list) ? "nothing" : node_kind(list));
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
            add_error(l, kl, key, "the grid list is empty");
            ok = 0;
        }
        if (!ok || !grow((void **)&l->axes, &l->cap_axes, l->n_axes + 1, sizeof *l->axes)) {
            if (ok) l->nomem = 1;
            alist_free(&a.values);
            continue;
        }
        l->axes[l->n_axes++] = a;
    }
    if (n == 0) add_error(l, line, "grid", "the grid is empty");
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
        add_error(l, line, label, "'%s' is not a number", s);
        return 0;
    }
    if (ss_params_set(&l->scratch, pkey, s) != SS_OK) {
        add_error(l, line, label, "%s", strip_key(ss_error_message(), pkey));
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
    if (is_null(spec) || !fy_node_is_mapping(spec)) {
        add_error(l, node_line(spec, kl), key,
                  "expected {distribution: uniform|log_uniform|int_uniform, min: A, max: B} or {values: [...]}, got %s",
                  is_null(spec) ? "nothing" : node_kind(spec));
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
            if (is_null(v) || !fy_node_is_sequence(v)) {
                add_error(l, node_line(v, sl), key, "values must be a list, got %s",
                          is_null(v) ? "nothing" : node_kind(v));
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
                add_error(l, sl, key, "the values list is empty");
                r.ok = 0;
            }
        } else {
            add_error(l, sl, key, "unknown key '%s' in a random parameter (did you mean '%s'?)", k,
                      nearest(k, spec_keys, 0));
            r.ok = 0;
        }
    }
    if (dist && !strcmp(dist, "uniform")) r.kind = DIST_UNIFORM;
    else if (dist && !strcmp(dist, "log_uniform")) r.kind = DIST_LOG_UNIFORM;
    else if (dist && !strcmp(dist, "int_uniform")) r.kind = DIST_INT_UNIFORM;
    else if (dist && !strcmp(dist, "categorical")) r.kind = DIST_CATEGORICAL;
    else if (dist) {
        add_error(
            l, dist_line, key,
            "unknown distribution '%s' (did you mean '%s'? valid: uniform, log_uniform, int_uniform, categorical)",
            dist, nearest(dist, dists, 0));
        r.ok = 0;
    } else if (have_values) r.kind = DIST_CATEGORICAL;
    else if (r.ok) {
        add_error(l, kl, key, "needs {distribution: ..., min: A, max: B} or {values: [...]}");
        r.ok = 0;
    }
    if (r.ok && r.kind == DIST_CATEGORICAL) {
        if (!have_values) add_error(l, kl, key, "categorical needs values: [...]"), r.ok = 0;
        if (have_min || have_max) add_error(l, kl, key, "min and max do not go with values"), r.ok = 0;
    } else if (r.ok) {
        if (have_values) add_error(l, kl, key, "values go with distribution categorical, not %s", dist), r.ok = 0;
        if (!have_min) add_error(l, kl, key, "%s needs min", dist), r.ok = 0;
        if (!have_max) add_error(l, kl, key, "%s needs max", dist), r.ok = 0;
        if (r.ok && r.min > r.max) add_error(l, min_line, key, "min %g is greater than max %g", r.min, r.max), r.ok = 0;
        if (r.ok && r.kind == DIST_LOG_UNIFORM && r.min <= 0)
            add_error(l, min_line, key, "log_uniform needs min > 0 (got %g)", r.min), r.ok = 0;
        if (r.ok && r.kind == DIST_INT_UNIFORM && (r.min != floor(r.min) || r.max != floor(r.max)))
            add_error(l, min_line, key, "int_uniform needs integer min and max"), r.ok = 0;
    }
    if (!grow((void **)&l->rps, &l->cap_rps, l->n_rps + 1, sizeof *l->rps)) {
        l->nomem = 1;
        alist_free(&r.values);
        return;
    }
    l->rps[l->n_rps++] = r;
}

static void parse_random(loader *l, struct fy_node *v, int line) {
    static const char *const names[] = {"count", "seed", "parameters", NULL};
    l->have_random = 1;
    l->random_line = line;
    l->random_ok = 1;
    if (is_null(v) || !fy_node_is_mapping(v)) {
        add_error(l, node_line(v, line), "random", "expected a mapping (count, seed, parameters), got %s",
                  is_null(v) ? "nothing" : node_kind(v));
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
                if (is_count) add_error(l, kl, label, "'%s' is not an integer from 1 to %d", s, SS_MANIFEST_MAX_RUNS);
                else add_error(l, kl, label, "'%s' is not an integer >= 0", s);
                l->random_ok = 0;
            } else if (is_count) l->count = x, have_count = 1;
            else l->seed = (unsigned long long)x;
        } else if (!strcmp(k, "parameters")) {
            have_params = 1;
            if (is_null(val) || !fy_node_is_mapping(val)) {
                add_error(l, node_line(val, kl), "random.parameters",
                          "expected a mapping of keys to distributions, got %s",
                          is_null(val) ? "nothing" : node_kind(val));
                l->random_ok = 0;
                continue;
            }
            void *it2 = NULL;
            struct fy_node_pair *pp;
            int n = 0;
            while ((pp = fy_node_mapping_iterate(val, &it2))) {
                n++;
                int pl;
                const char *raw = pair_key(l, pp, kl, &pl);
                if (!raw) {
                    l->random_ok = 0;
                    continue;
                }
                char key[SS_NAME_MAX];
                normalise_key(key, sizeof key, raw);
                if (strlen(raw) >= SS_NAME_MAX || !ss_params_is_key(key)) {
                    add_error(l, pl, raw, "unknown key (did you mean '%s'?)", nearest(key, NULL, 1));
                    l->random_ok = 0;
                    continue;
                }
                int dup = 0;
                for (int i = 0; i < l->n_rps; i++)
                    if (!strcmp(l->rps[i].key, key)) {
                        add_error(l, pl, raw, "given twice in random (also at line %d)", l->rps[i].line);
                        dup = 1;
                    }
                if (dup) {
                    l->random_ok = 0;
                    continue;
                }
                parse_random_param(l, key, fy_node_pair_value(pp), pl);
            }
            if (n == 0) {
                add_error(l, kl, "random.parameters", "no parameters given");
                l->random_ok = 0;
            }
        } else {
            add_error(l, kl, "random", "unknown key '%s' (did you mean '%s'?)", k, nearest(k, names, 0));
            l->random_ok = 0;
        }
    }
    if (!have_count) add_error(l, line, "random", "count is missing"), l->random_ok = 0;
    if (!have_params) add_error(l, line, "random", "parameters are missing"), l->random_ok = 0;
    for (int i = 0; i < l->n_rps; i++)
        if (!l->rps[i].ok) l->random_ok = 0;
}

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
                    add_error(l, r->line, r->key, "sample %lld: %s%s", s + 1, strip_key(ss_error_message(), r->key),
                              strstr(ss_error_message(), "not an integer") ? hint : "");
                }
                r->ok = 0;
                l->random_ok = 0;
            }
            a->value = dup_text(l, value);
        }
}

/* ---- expansion -------------------------------------------------------- */

static int key_index(const char *key) {
    int n = ss_params_count();
    for (int i = 0; i < n && i < MAX_KEYS; i++)
        if (!strcmp(ss_params_key(i), key)) return i;
    return -1;
}

static void apply(loader *l, ss_params *p, int *lines, const assign *a) {
    if (ss_params_set(p, a->key, a->value) != SS_OK) {
        add_error(l, a->line, a->key, "%s", strip_key(ss_error_message(), a->key));
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
    if (!grow((void **)&l->rerrs, &l->cap_rerrs, l->n_rerrs + 1, sizeof *l->rerrs)) {
        l->nomem = 1;
        return;
    }
    run_err *e = &l->rerrs[l->n_rerrs];
    e->line = line;
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->first, sizeof e->first, "%s", run_id);
    e->count = 1;
    e->msg = dup_text(l, msg);
    if (e->msg) l->n_rerrs++;
}

/* The size of the image file at path from its header, without decoding;
 * 0 when stbi_info cannot read it (the file check or the run reports that). */
static int image_header_size(loader *l, const char *path, int *w, int *h) {
    for (int i = 0; i < l->n_infos; i++)
        if (!strcmp(l->infos[i].path, path)) {
            *w = l->infos[i].w, *h = l->infos[i].h;
            return l->infos[i].ok;
        }
    int comp = 0;
    image_info info = {NULL, 0, 0, 0};
    info.ok = stbi_info(path, &info.w, &info.h, &comp) && info.w > 0 && info.h > 0;
    *w = info.w, *h = info.h;
    info.path = strdup(path);
    if (info.path && grow((void **)&l->infos, &l->cap_infos, l->n_infos + 1, sizeof *l->infos))
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
    add_run_error(l, k >= 0 && lines[k] ? lines[k] : fallback, key, strip_key(msg, key), r->id);
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
        add_error(l, l->have_grid ? l->grid_line : l->random_line, l->have_grid ? "grid" : "random",
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
    int lines[MAX_KEYS];
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
                    used += append_index(r->id + used, 'r', rw, s + 1);
                    for (int j = 0; sampled && j < l->n_rps; j++)
                        apply(l, &r->params, lines, &l->samples[s * l->n_rps + j]);
                }
                check_run(l, r, lines);
            }
}

/* ---- loading ---------------------------------------------------------- */

static void quiet_output(struct fy_diag *d, void *user, const char *buf, size_t len) {
    (void)d, (void)user, (void)buf, (void)len;
}

static int cmp_err(const void *a, const void *b) {
    const err_line *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static ss_status read_text(ss_manifest *m, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return ss_error(SS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    ss_status st = SS_OK;
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len > SS_MANIFEST_MAX_BYTES) {
            st = ss_error(SS_ERR_FORMAT, "%s: larger than %d bytes; not a manifest", path, SS_MANIFEST_MAX_BYTES);
            break;
        }
        if (got == 0) break;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb, cap *= 2;
        }
    }
    if (st == SS_OK && buf && ferror(f)) st = ss_error(SS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    fclose(f);
    if (!buf) return ss_error(SS_ERR_NOMEM, "%s: out of memory", path);
    if (st != SS_OK) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    m->text = buf;
    m->text_len = len;
    return SS_OK;
}

static void loader_free(loader *l) {
    for (int i = 0; i < l->n_errs; i++) free(l->errs[i].text);
    free(l->errs);
    alist_free(&l->defaults);
    for (int i = 0; i < l->n_exps; i++) alist_free(&l->exps[i].set);
    free(l->exps);
    for (int i = 0; i < l->n_axes; i++) alist_free(&l->axes[i].values);
    free(l->axes);
    for (int i = 0; i < l->n_rps; i++) alist_free(&l->rps[i].values);
    free(l->rps);
    if (l->samples)
        for (long long i = 0; i < l->count * l->n_rps; i++) free(l->samples[i].value);
    free(l->samples);
    for (int i = 0; i < l->n_rerrs; i++) free(l->rerrs[i].msg);
    free(l->rerrs);
    for (int i = 0; i < l->n_infos; i++) free(l->infos[i].path);
    free(l->infos);
}

/* Parses the document's sections into l and m (name, defaults). */
static void parse_document(loader *l, ss_manifest *m, struct fy_node *root) {
    static const char *const sections[] = {"sweep", "defaults", "experiments", "grid", "random", NULL};
    if (!root || is_null(root)) {
        add_error(l, 1, NULL, "the manifest is empty (expected sweep, defaults, experiments, grid, random)");
        return;
    }
    if (!fy_node_is_mapping(root)) {
        add_error(l, node_line(root, 1), NULL,
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
                add_error(l, node_line(v, kl), "defaults", "expected a mapping of run keys, got %s", node_kind(v));
            else parse_params_map(l, v, &l->defaults, NULL, kl);
        } else if (!strcmp(k, "experiments")) parse_experiments(l, v, kl);
        else if (!strcmp(k, "grid")) parse_grid(l, v, kl);
        else if (!strcmp(k, "random")) parse_random(l, v, kl);
        else if (!strncmp(k, "x-", 2)) continue; /* free-form, e.g. to hold YAML anchors */
        else {
            const char *near = nearest(k, sections, 0);
            if (ss_params_is_key(k)) add_error(l, kl, k, "unknown top-level key (run keys go under defaults:)");
            else add_error(l, kl, k, "unknown top-level key (did you mean '%s'?)", near);
        }
    }
    /* a key varies in grid or in random, not both */
    for (int j = 0; j < l->n_rps; j++)
        for (int i = 0; i < l->n_axes; i++)
            if (!strcmp(l->rps[j].key, l->axes[i].key)) {
                add_error(l, l->rps[j].line, l->rps[j].key, "also varied by grid (line %d); use one of grid and random",
                          l->axes[i].line);
                l->rps[j].ok = 0;
                l->random_ok = 0;
            }
}

/* Fills m->sweep from the file's name when `sweep:` was not given. */
static void default_sweep_name(ss_manifest *m, const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    if (n == 0) n = strlen(base);
    if (n >= sizeof m->sweep) n = sizeof m->sweep - 1;
    for (size_t i = 0; i < n; i++) m->sweep[i] = valid_id_char(base[i]) ? base[i] : '_';
    m->sweep[n] = '\0';
    if (!valid_id(m->sweep)) snprintf(m->sweep, sizeof m->sweep, "sweep");
}

ss_status ss_manifest_load(ss_manifest *m, const char *path, char **errors, int *n_errors) {
    memset(m, 0, sizeof *m);
    if (errors) *errors = NULL;
    if (n_errors) *n_errors = 0;
    loader *l = calloc(1, sizeof *l);
    if (!l) return ss_error(SS_ERR_NOMEM, "out of memory loading %s", path);
    l->file = path;
    snprintf(m->path, sizeof m->path, "%s", path);
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(l->dir, sizeof l->dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    ss_params_defaults(&l->scratch);
    ss_params_defaults(&l->builtin);

    ss_status st = read_text(m, path);
    if (st != SS_OK) {
        char *msg = strdup(ss_error_message());
        if (errors && msg) {
            *errors = malloc(strlen(msg) + 2);
            if (*errors) sprintf(*errors, "%s\n", msg);
        }
        if (n_errors) *n_errors = 1;
        free(msg);
        free(l);
        ss_manifest_free(m);
        return st;
    }
    ss_sha256_hex(m->text, m->text_len, m->sha256);

    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = quiet_output;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (diag) fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pcfg;
    memset(&pcfg, 0, sizeof pcfg);
    pcfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_RESOLVE_DOCUMENT;
    pcfg.diag = diag;
    struct fy_document *doc = diag ? fy_document_build_from_string(&pcfg, m->text, m->text_len) : NULL;
    if (!diag) l->nomem = 1;
    else if (!doc) {
        void *it = NULL;
        struct fy_diag_error *e;
        int n = 0;
        while ((e = fy_diag_errors_iterate(diag, &it)))
            if (e->type >= FYET_ERROR) {
                add_error(l, e->line > 0 ? e->line : 1, NULL, "YAML syntax error: %s (column %d)",
                          e->msg ? e->msg : "?", e->column);
                n++;
            }
        if (!n) add_error(l, 1, NULL, "YAML syntax error: the document cannot be parsed");
    } else {
        parse_document(l, m, fy_document_root(doc));
        if (!m->sweep[0]) default_sweep_name(m, path);
        /* the defaults, and the line that set each key */
        int default_lines[MAX_KEYS] = {0};
        ss_params_defaults(&m->defaults);
        for (int i = 0; i < l->defaults.n; i++) apply(l, &m->defaults, default_lines, &l->defaults.a[i]);
        draw_samples(l);
        if (!l->nomem) expand(l, m, default_lines);
        for (int i = 0; i < l->n_rerrs; i++) {
            run_err *e = &l->rerrs[i];
            if (e->count == 1) add_error(l, e->line, e->key, "run %s: %s", e->first, e->msg);
            else add_error(l, e->line, e->key, "runs %s and %d more: %s", e->first, e->count - 1, e->msg);
        }
    }
    if (doc) fy_document_destroy(doc);
    if (diag) fy_diag_destroy(diag);

    if (l->n_errs) qsort(l->errs, (size_t)l->n_errs, sizeof *l->errs, cmp_err);
    if (errors && l->n_errs) {
        size_t total = 1;
        for (int i = 0; i < l->n_errs; i++) total += strlen(l->errs[i].text) + 1;
        char *s = malloc(total);
        if (s) {
            size_t used = 0;
            for (int i = 0; i < l->n_errs; i++) used += (size_t)sprintf(s + used, "%s\n", l->errs[i].text);
            *errors = s;
        } else l->nomem = 1;
    }
    if (n_errors) *n_errors = l->n_errs;
    if (l->nomem) st = ss_error(SS_ERR_NOMEM, "%s: out of memory", path);
    else if (l->n_errs) st = ss_error(SS_ERR_ARG, "%s: %d error%s", path, l->n_errs, l->n_errs == 1 ? "" : "s");
    loader_free(l);
    free(l);
    if (st != SS_OK) ss_manifest_free(m);
    return st;
}

void ss_manifest_free(ss_manifest *m) {
    free(m->text);
    free(m->runs);
    memset(m, 0, sizeof *m);
}

/* ---- queries ---------------------------------------------------------- */

/* Appends item to out, numbers in their shortest round-trip %g form. */
static size_t append_item(char *out, size_t size, const char *item, size_t len, int numeric) {
    char tmp[SS_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%.*s", (int)len, item);
    if (numeric) {
        char *end;
        double v = strtod(tmp, &end);
        if (tmp[0] && !*end && isfinite(v)) {
            char best[64] = "";
            for (int prec = 1; prec <= 17; prec++) {
                char f[64];
                snprintf(f, sizeof f, "%.*g", prec, v);
                if (strtod(f, NULL) == v && (!best[0] || strlen(f) < strlen(best)))
                    snprintf(best, sizeof best, "%s", f);
            }
            if (best[0]) snprintf(tmp, sizeof tmp, "%s", best);
        }
    }
    int w = snprintf(out, size, "%s", tmp);
    return w < 0 ? 0 : (size_t)w < size ? (size_t)w : size ? size - 1 : 0;
}

int ss_manifest_diff(const ss_params *a, const ss_params *b, char *buf, size_t size) {
    char va[TEXT_MAX], vb[TEXT_MAX];
    int n = 0;
    size_t used = 0;
    if (size) buf[0] = '\0';
    for (int i = 0; i < ss_params_count(); i++) {
        const char *key = ss_params_key(i);
        ss_params_format(a, key, va, sizeof va);
        ss_params_format(b, key, vb, sizeof vb);
        if (!strcmp(va, vb)) continue;
        n++;
        if (used + 1 >= size) continue;
        used += (size_t)snprintf(buf + used, size - used, "%s%s=", n > 1 ? " " : "", key);
        if (used >= size) used = size - 1;
        for (const char *s = vb; used + 1 < size;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            used += append_item(buf + used, size - used, s, len, !is_path_key(key));
            if (!comma || used + 1 >= size) break;
            buf[used++] = ',';
            buf[used] = '\0';
            s = comma + 1;
        }
    }
    return n;
}

const ss_run_spec *ss_manifest_find_run(const ss_manifest *m, const char *id) {
    for (int i = 0; i < m->n_runs; i++)
        if (!strcmp(m->runs[i].id, id)) return &m->runs[i];
    return NULL;
}
