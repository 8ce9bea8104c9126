/* manifest.c - loading a sweep manifest (see manifest.h and sweeps/README.md):
 * the file's text and hash, the errors (collected, not returned at the
 * first one, and sorted by line), the validation of every value (the
 * parameter table's ss_params_set, paths taken from the manifest's folder)
 * and the queries. manifest_yaml.c parses the YAML into sections,
 * manifest_expand.c expands them into runs. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest_int.h"
#include "paths.h"
#include "sha256.h"
#include "util.h"

/* ---- small helpers ---- */

/* Grows *p (of *cap elements of size sz) to hold at least n; 0 on failure. */
int mf_grow(void **p, int *cap, int n, size_t sz) {
    if (n <= *cap) return 1;
    int c = *cap ? *cap * 2 : 8;
    while (c < n) c *= 2;
    void *q = realloc(*p, (size_t)c * sz);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

char *mf_strdup(loader *l, const char *s) {
    char *d = strdup(s);
    if (!d) l->nomem = 1;
    return d;
}

/* Records "FILE:LINE: key: message" (key may be NULL). */
void mf_error(loader *l, int line, const char *key, const char *fmt, ...) {
    char msg[2048], text[SS_PATH_MAX + 32 + SS_NAME_MAX + 2048 + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char where[SS_PATH_MAX + 32];
    if (line > 0) snprintf(where, sizeof where, "%s:%d", l->file, line);
    else snprintf(where, sizeof where, "%s", l->file); /* the command line: --set, --only */
    if (key) snprintf(text, sizeof text, "%s: %s: %s", where, key, msg);
    else snprintf(text, sizeof text, "%s: %s", where, msg);
    if (!mf_grow((void **)&l->errs, &l->cap_errs, l->n_errs + 1, sizeof *l->errs)) {
        l->nomem = 1;
        return;
    }
    char *t = mf_strdup(l, text);
    if (!t) return;
    l->errs[l->n_errs] = (err_line){line, l->n_errs, t};
    l->n_errs++;
}

/* Strips a leading "key: " from a message of ss_params_set. */
const char *mf_strip_key(const char *msg, const char *key) {
    size_t n = strlen(key);
    if (strncmp(msg, key, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') return msg + n + 2;
    return msg;
}

void mf_alist_add(loader *l, alist *list, const char *key, const char *value, int line) {
    if (!mf_grow((void **)&list->a, &list->cap, list->n + 1, sizeof *list->a)) {
        l->nomem = 1;
        return;
    }
    assign *a = &list->a[list->n];
    snprintf(a->key, sizeof a->key, "%s", key);
    a->line = line;
    a->value = mf_strdup(l, value);
    if (a->value) list->n++;
}

void mf_alist_free(alist *list) {
    for (int i = 0; i < list->n; i++) free(list->a[i].value);
    free(list->a);
    memset(list, 0, sizeof *list);
}

/* Returns the candidate mf_nearest to key: the NULL-terminated list names, and
 * the parameter keys too when with_params. */
const char *mf_nearest(const char *key, const char *const *names, int with_params) {
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

int mf_valid_id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
}

/* 1 when s is a usable id: [A-Za-z0-9_.-], not starting with '.' or '-'. */
int mf_valid_id(const char *s) {
    if (!s[0] || s[0] == '.' || s[0] == '-') return 0;
    for (const char *c = s; *c; c++)
        if (!mf_valid_id_char(*c)) return 0;
    return 1;
}

/* Keys that take a list (a YAML sequence is joined with commas). */
int mf_is_list_key(const char *key) {
    return !strcmp(key, "style") || !strcmp(key, "style_layers") || !strcmp(key, "style_weight") ||
           !strcmp(key, "style_masks");
}

/* Keys that hold paths, relative to the manifest's folder. */
int mf_is_path_key(const char *key) {
    return !strcmp(key, "content") || !strcmp(key, "style") || !strcmp(key, "weights") || !strcmp(key, "color_mask") ||
           !strcmp(key, "style_masks");
}

/* ---- paths ---- */

/* Checks that the file part of resolved exists and is a readable file. */
static int check_file(loader *l, int line, const char *key, const char *written, const char *resolved) {
    char path[SS_PATH_MAX];
    size_t n = ss_path_file_part(resolved);
    snprintf(path, sizeof path, "%.*s", (int)n, resolved);
    char where[SS_PATH_MAX + 32] = "";
    size_t wn = ss_path_file_part(written);
    if (strlen(path) != wn || strncmp(path, written, wn) != 0) snprintf(where, sizeof where, " (%s)", path);
    struct stat st;
    if (stat(path, &st) != 0) {
        mf_error(l, line, key, "cannot read '%.*s'%s: %s", (int)wn, written, where, strerror(errno));
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        mf_error(l, line, key, "'%.*s'%s is a folder, not a file", (int)wn, written, where);
        return 0;
    }
    if (access(path, R_OK) != 0) {
        mf_error(l, line, key, "cannot read '%.*s'%s: %s", (int)wn, written, where, strerror(errno));
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
        const char *comma = mf_is_list_key(key) ? strchr(s, ',') : NULL;
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char item[SS_PATH_MAX], resolved[SS_PATH_MAX];
        while (len && (*s == ' ' || *s == '\t')) s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
        if (len >= sizeof item) {
            mf_error(l, line, key, "path is too long");
            return 0;
        }
        memcpy(item, s, len);
        item[len] = '\0';
        if (item[0]) {
            size_t fp = ss_path_file_part(item);
            char file[SS_PATH_MAX];
            snprintf(file, sizeof file, "%.*s", (int)fp, item);
            if (!ss_path_join(resolved, sizeof resolved, l->dir, file) ||
                strlen(resolved) + strlen(item + fp) >= sizeof resolved) {
                mf_error(l, line, key, "path is too long");
                return 0;
            }
            strcat(resolved, item + fp);
            if (!check_file(l, line, key, item, resolved)) ok = 0;
        } else resolved[0] = '\0';
        int w = snprintf(out + used, size - used, "%s%s", first ? "" : ",", resolved);
        first = 0;
        if (w < 0 || (size_t)w >= size - used) {
            mf_error(l, line, key, "the value is too long");
            return 0;
        }
        used += (size_t)w;
        if (!comma) break;
        s = comma + 1;
    }
    return ok;
}

/* ---- validated assignments ---- */

/* Validates key = text (from the manifest) and appends it to list: the
 * ss_params_set check, then paths resolved and files checked. */
int mf_set_value(loader *l, alist *list, const char *key, const char *text, int line) {
    char resolved[MF_TEXT_MAX];
    const char *value = text;
    int ok = 1;
    if (ss_params_set(&l->scratch, key, text) != SS_OK) {
        mf_error(l, line, key, "%s", mf_strip_key(ss_error_message(), key));
        return 0;
    }
    if (mf_is_path_key(key)) {
        ok = resolve_paths(l, key, text, line, resolved, sizeof resolved);
        value = resolved;
        if (ss_params_set(&l->scratch, key, value) != SS_OK) {
            mf_error(l, line, key, "%s", mf_strip_key(ss_error_message(), key));
            return 0;
        }
    }
    mf_alist_add(l, list, key, value, line);
    return ok;
}

/* ---- loading ---- */

static int cmp_err(const void *a, const void *b) {
    const err_line *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static ss_status read_text(ss_manifest *m, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return ss_error(SS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    int e = ss_file_read_all(&m->text, &m->text_len, f, SS_MANIFEST_MAX_BYTES);
    fclose(f);
    if (e == EFBIG)
        return ss_error(SS_ERR_FORMAT, "%s: larger than %d bytes; not a manifest", path, SS_MANIFEST_MAX_BYTES);
    if (e == ENOMEM) return ss_error(SS_ERR_NOMEM, "%s: out of memory", path);
    if (e) return ss_error(SS_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    return SS_OK;
}

static void loader_free(loader *l) {
    for (int i = 0; i < l->n_errs; i++) free(l->errs[i].text);
    free(l->errs);
    mf_alist_free(&l->defaults);
    for (int i = 0; i < l->n_exps; i++) mf_alist_free(&l->exps[i].set);
    free(l->exps);
    for (int i = 0; i < l->n_axes; i++) mf_alist_free(&l->axes[i].values);
    free(l->axes);
    for (int i = 0; i < l->n_rps; i++) mf_alist_free(&l->rps[i].values);
    free(l->rps);
    if (l->samples)
        for (long long i = 0; i < l->count * l->n_rps; i++) free(l->samples[i].value);
    free(l->samples);
    for (int i = 0; i < l->n_rerrs; i++) free(l->rerrs[i].msg);
    free(l->rerrs);
    for (int i = 0; i < l->n_infos; i++) free(l->infos[i].path);
    free(l->infos);
}

/* Appends the --set items to the defaults' assignments, so that they apply
 * after `defaults:` (and before experiments, grid points and samples),
 * validated like the manifest's values with "--set" in place of FILE:LINE
 * and paths taken from the current directory; records them in m->overrides. */
static void apply_set(loader *l, ss_manifest *m, const ss_manifest_overrides *ov) {
    if (!ov || ov->n_set <= 0) return;
    size_t total = 1;
    for (int i = 0; i < ov->n_set; i++) total += strlen(ov->set[i]) + 1;
    m->overrides = malloc(total);
    if (!m->overrides) {
        l->nomem = 1;
        return;
    }
    m->overrides[0] = '\0';
    const char *file = l->file;
    char dir[sizeof l->dir];
    memcpy(dir, l->dir, sizeof dir);
    l->file = "--set";
    l->dir[0] = '\0';
    for (int i = 0; i < ov->n_set; i++) {
        const char *item = ov->set[i], *eq = strchr(item, '=');
        char key[SS_NAME_MAX];
        if (!eq || eq == item) {
            mf_error(l, 0, NULL, "'%s' is not KEY=VALUE", item);
            continue;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - item), item);
        ss_normalise_key(key, sizeof key, key);
        if ((size_t)(eq - item) >= sizeof key || !ss_params_is_key(key)) {
            mf_error(l, 0, key, "unknown key (did you mean '%s'?)", mf_nearest(key, NULL, 1));
            continue;
        }
        if (mf_set_value(l, &l->defaults, key, eq + 1, 0))
            sprintf(m->overrides + strlen(m->overrides), "%s=%s\n", key, eq + 1);
    }
    l->file = file;
    memcpy(l->dir, dir, sizeof dir);
    if (!m->overrides[0]) {
        free(m->overrides);
        m->overrides = NULL;
    }
}

/* Keeps only the runs named by only ("ID[,ID...]": run ids or experiment
 * ids), in the manifest's order (m->only); an id that names nothing is an error. */
static void keep_only(loader *l, ss_manifest *m, const char *only) {
    if (!only || !only[0] || l->n_errs || l->nomem) return;
    char *keep = calloc((size_t)m->n_runs + 1, 1);
    ss_run_spec *r = malloc(sizeof *r);
    if (!keep || !r) {
        free(keep);
        free(r);
        l->nomem = 1;
        return;
    }
    const char *file = l->file;
    l->file = "--only";
    for (const char *s = only; *s;) {
        size_t len = strcspn(s, ",");
        char id[SS_RUN_ID_MAX];
        snprintf(id, sizeof id, "%.*s", (int)(len < sizeof id ? len : sizeof id - 1), s);
        int found = 0;
        size_t best_d = (size_t)-1;
        char best[SS_RUN_ID_MAX] = "";
        int k = len ? ss_manifest_find_run(m, id) : -1;
        if (k >= 0) keep[k] = found = 1; /* a run id: no need to look at every run */
        for (int i = 0; len && !found && i < m->n_runs; i++) {
            if (ss_manifest_run(r, m, i) != SS_OK) break;
            if (!strcmp(r->id, id) || !strcmp(r->experiment, id)) keep[i] = found = 1;
            size_t d = ss_params_edit_distance(id, r->id), de = ss_params_edit_distance(id, r->experiment);
            if (d < best_d) best_d = d, snprintf(best, sizeof best, "%s", r->id);
            if (de < best_d) best_d = de, snprintf(best, sizeof best, "%s", r->experiment);
        }
        for (int i = 0; found && k < 0 && i < m->n_runs; i++) /* an experiment: all of its runs */
            if (ss_manifest_run(r, m, i) == SS_OK && !strcmp(r->experiment, id)) keep[i] = 1;
        if (!len) mf_error(l, 0, NULL, "an empty id in '%s'", only);
        else if (!found && best[0])
            mf_error(l, 0, NULL, "no run or experiment '%s' in %s (did you mean '%s'?)", id, file, best);
        else if (!found) mf_error(l, 0, NULL, "no run or experiment '%s' in %s", id, file);
        s += len;
        if (*s == ',') s++;
    }
    l->file = file;
    int n = 0;
    for (int i = 0; i < m->n_runs; i++) n += keep[i];
    m->only = malloc(sizeof *m->only * ((size_t)n + 1));
    if (!m->only) l->nomem = 1;
    else {
        n = 0;
        for (int i = 0; i < m->n_runs; i++)
            if (keep[i]) m->only[n++] = i;
        m->n_runs = n;
    }
    free(keep);
    free(r);
}

/* Fills m->sweep from the file's name when `sweep:` was not given. */
static void default_sweep_name(ss_manifest *m, const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    if (n == 0) n = strlen(base);
    if (n >= sizeof m->sweep) n = sizeof m->sweep - 1;
    for (size_t i = 0; i < n; i++) m->sweep[i] = mf_valid_id_char(base[i]) ? base[i] : '_';
    m->sweep[n] = '\0';
    if (!mf_valid_id(m->sweep)) snprintf(m->sweep, sizeof m->sweep, "sweep");
}

ss_status ss_manifest_load(ss_manifest *m, const char *path, const ss_manifest_overrides *ov, char **errors,
                           int *n_errors) {
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

    if (mf_parse_yaml(l, m)) {
        if (!m->sweep[0]) default_sweep_name(m, path);
        apply_set(l, m, ov);
        mf_expand(l, m);
        keep_only(l, m, ov ? ov->only : NULL);
    }

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
    mf_plan_free(m->plan);
    free(m->overrides);
    free(m->only);
    memset(m, 0, sizeof *m);
}

/* ---- queries ---- */

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
    char va[MF_TEXT_MAX], vb[MF_TEXT_MAX];
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
            used += append_item(buf + used, size - used, s, len, !mf_is_path_key(key));
            if (!comma || used + 1 >= size) break;
            buf[used++] = ',';
            buf[used] = '\0';
            s = comma + 1;
        }
    }
    return n;
}
