/* manifest_int.h - what the manifest loader's files share and nothing else
 * includes (see manifest.h for the API, sweeps/README.md for the format):
 *   manifest.c         loading: the file's text, errors, validated values, queries
 *   manifest_yaml.c    libfyaml: the YAML document parsed into sections (the
 *                      only file that sees libfyaml)
 *   manifest_expand.c  random samples drawn, runs expanded and each run
 *                      checked against its model and content image
 * Path handling is in paths.h. */
#ifndef SS_MANIFEST_INT_H
#define SS_MANIFEST_INT_H

#include <stddef.h>

#include "manifest.h"

enum {
    MF_MAX_KEYS = 64,
    MF_TEXT_MAX = SS_PATH_MAX * SS_MAX_STYLES + 64,
    MF_ALIAS_BUDGET = 100000 /* nodes aliases may add, plus 4 per byte of the manifest */
};

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

/* The size of a content image file from its header (ss_image_probe), read once per path. */
typedef struct image_info {
    char *path;
    int ok; /* 0: ss_image_probe could not read the header */
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

/* What the runs expand from (ss_manifest.plan): run i is experiment
 * i / (grid x nrand), grid point (i / nrand) % grid, sample i % nrand. */
typedef struct ss_manifest_plan ss_manifest_plan;
struct ss_manifest_plan {
    experiment *exps; /* NULL without an experiments section: */
    int n_exps;
    experiment implicit; /* ... then the one experiment "run" */
    axis *axes;
    int n_axes, have_grid;
    assign *samples; /* n_samples x n_rps, NULL without (valid) samples */
    int n_rps, have_random;
    long long n_samples;
    long long grid, nrand; /* grid points (1 without a grid), samples per point (1 without) */
    int gw, rw;            /* digits of the -gNNN and -rNNN suffixes */
};

/* ---- manifest.c ---- */

/* Grows *p (of *cap elements of size sz) to hold at least n; 0 on failure. */
int mf_grow(void **p, int *cap, int n, size_t sz);

/* strdup, recording out of memory in l. */
char *mf_strdup(loader *l, const char *s);

/* Records the error "FILE:LINE: key: message" (key may be NULL). */
void mf_error(loader *l, int line, const char *key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Strips a leading "key: " from a message of ss_params_set. */
const char *mf_strip_key(const char *msg, const char *key);

/* Appends key = value (copied) at line to list. */
void mf_alist_add(loader *l, alist *list, const char *key, const char *value, int line);

/* Frees list's values and empties it. */
void mf_alist_free(alist *list);

/* The candidate nearest to key: the NULL-terminated list names, and the
 * parameter keys too when with_params. */
const char *mf_nearest(const char *key, const char *const *names, int with_params);

/* Characters of ids ([A-Za-z0-9_.-]) and whole ids (not starting with '.' or '-'). */
int mf_valid_id_char(char c);
int mf_valid_id(const char *s);

/* Keys that take a list (a YAML sequence is joined with commas), keys that hold paths. */
int mf_is_list_key(const char *key);
int mf_is_path_key(const char *key);

/* Validates key = text (from the manifest) and appends it to list: the
 * ss_params_set check, then paths resolved and files checked. 0 after an error. */
int mf_set_value(loader *l, alist *list, const char *key, const char *text, int line);

/* ---- manifest_yaml.c ---- */

/* Parses m->text (m->text_len bytes) as YAML into the sections of l and
 * m->sweep; YAML errors become manifest errors. Returns 1 when the text was
 * a YAML document (its sections then hold what was valid), 0 otherwise. */
int mf_parse_yaml(loader *l, ss_manifest *m);

/* ---- manifest_expand.c ---- */

/* Sets m->defaults, draws the random samples and expands the runs into m,
 * checking each (errors grouped over runs into l). */
void mf_expand(loader *l, ss_manifest *m);

/* Frees a plan (NULL is accepted). */
void mf_plan_free(ss_manifest_plan *p);

#endif
