/* params.c - the table of run parameters: names, types, ranges, defaults
 * and help, and the parsing and printing built on it. */
#include "params.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net.h"
#include "util.h"

typedef enum {
    P_STR,     /* char[size] */
    P_STRLIST, /* char[max][size] with a count */
    P_INT,
    P_LLONG,
    P_DOUBLE,
    P_DOUBLELIST,
    P_BOOL,
    P_SNAPSHOTS
} param_type;

typedef struct param_def {
    const char *name;
    param_type type;
    size_t offset;
    size_t count_offset; /* lists: offset of the int count */
    size_t size;         /* strings: buffer size */
    int max_items;       /* lists */
    double min, max;     /* numbers: inclusive range */
    const char *choices; /* strings: "a|b|c", or NULL for any */
    const char *def;     /* default, in the text form */
    const char *help;
    const char *aliases; /* strings: "alias=value|..." accepted for choices (NULL: none) */
} param_def;

#define OFF(f) offsetof(ss_params, f)
#define STR(name, choices, def, help) \
    { #name, P_STR, OFF(name), 0, sizeof(((ss_params *)0)->name), 0, 0, 0, choices, def, help, NULL }
#define STR_ALIAS(name, choices, aliases, def, help) \
    { #name, P_STR, OFF(name), 0, sizeof(((ss_params *)0)->name), 0, 0, 0, choices, def, help, aliases }
#define NUM(name, type, lo, hi, def, help) \
    { #name, type, OFF(name), 0, 0, 0, lo, hi, NULL, def, help, NULL }

static const param_def g_params[] = {
    {"content", P_STR, OFF(content), 0, SS_PATH_MAX, 0, 0, 0, NULL, "",
     "content image (a file, or FILE.h5:/dataset of a pre-processed (3,H,W) array)", NULL},
    {"style", P_STRLIST, OFF(style), OFF(n_styles), SS_PATH_MAX, SS_MAX_STYLES, 0, 0, NULL, "",
     "style image(s), comma-separated in a list", NULL},
    {"style_masks", P_STRLIST, OFF(style_masks), OFF(n_style_masks), SS_PATH_MAX, SS_MAX_STYLES, 0, 0, NULL, "",
     "one mask image per style image (or none): each style paints only where its mask is white (>= 128)", NULL},
    STR(model, "vgg16|vgg19", "vgg16", "network"),
    STR(weights, NULL, "auto",
        "auto (the usual Keras file if found in the models folder, else random), random, random:SEED, or a Keras notop "
        ".h5 file"),
    NUM(channels_div, P_INT, 1, 8, "1", "divide every layer's channel count by 1, 2, 4 or 8 (narrow test networks)"),
    NUM(image_size, P_INT, 8, 8192, "224", "size in pixels of the image's long side"),
    STR(aspect, "keep|square", "keep", "keep the content's aspect ratio, or make the image square"),
    NUM(iterations, P_INT, 1, 1000000, "100", "outer iterations"),
    NUM(evals_per_iteration, P_INT, 1, 100000, "20", "evaluations per outer iteration (L-BFGS: at most; Adam: steps)"),
    NUM(lbfgs_restart, P_BOOL, 0, 1, "true",
        "restart L-BFGS every outer iteration, as the reference did (false: keep the history: continuous L-BFGS)"),
    STR(optimizer, "lbfgs|adam", "lbfgs", "optimizer"),
    NUM(lbfgs_history, P_INT, 1, 1000, "10", "L-BFGS history (pairs kept)"),
    NUM(learning_rate, P_DOUBLE, 1e-12, 1e6, "2.0", "Adam's learning rate (pre-processed pixel units)"),
    NUM(min_improvement, P_DOUBLE, 0, 100, "0",
        "stop early when an iteration improves the loss by less than this percentage"),
    NUM(content_weight, P_DOUBLE, 0, 1e30, "0.25", "weight of the content loss"),
    {"style_weight", P_DOUBLELIST, OFF(style_weight), OFF(n_style_weights), 0, SS_MAX_STYLES, 0, 1e30, NULL, "1.0",
     "weight of the style loss: one value, or one per style image", NULL},
    NUM(style_scale, P_DOUBLE, 0, 1e30, "1.0", "multiplies every style weight (the reference's --style_scale)"),
    NUM(tv_weight, P_DOUBLE, 0, 1e30, "8.5e-5", "weight of the total-variation loss"),
    NUM(tv_power, P_DOUBLE, 1, 4, "1.25", "exponent of the total-variation loss"),
    NUM(content_loss_type, P_INT, 0, 2, "0",
        "content loss normalisation: 0 none, 1 1/(2 sqrt(C) sqrt(WH)), 2 1/(C WH)"),
    STR(content_layer, NULL, "conv4_2", "layer of the content loss"),
    {"style_layers", P_STRLIST, OFF(style_layers), OFF(n_style_layers), SS_NAME_MAX, SS_MAX_STYLE_LAYERS, 0, 0, NULL,
     "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1", "layers of the style loss", NULL},
    STR(style_norm, "reference|gatys|target", "reference",
        "style normalisation: reference 1/(4*3^2*(WH)^2), gatys 1/(4 C^2 (hw)^2) per layer, target 1/|G_style|^2"),
    STR(pool, "max|avg", "max", "pooling"),
    STR(init, "content|noise|gray", "content", "initial image (the study used noise: sweeps/dlai2018.yaml sets it)"),
    NUM(seed, P_LLONG, 0, 9007199254740991.0, "0", "random seed of the noise initial image"),
    STR_ALIAS(preserve_color, "false|ycbcr|luminance|histogram",
              "true=ycbcr|yes=ycbcr|on=ycbcr|1=ycbcr|no=false|off=false|0=false", "false",
              "keep the content's colours: ycbcr (true) the result's luma with the content's chrominance; luminance "
              "transfer on luma alone (style luma matched to the content's mean and variance); histogram: the style's "
              "colours matched to the content's mean and covariance before the transfer"),
    STR(histogram_method, "cholesky|eigen", "cholesky",
        "preserve_color histogram: the matrix square root, Cholesky or symmetric eigenvalue form"),
    {"color_mask", P_STR, OFF(color_mask), 0, SS_PATH_MAX, 0, 0, 0, NULL, "",
     "mask image: preserve_color (ycbcr or luminance) puts the content's colours back only where it is white (>= 128)",
     NULL},
    STR(output_size, "optimised|content_aspect|content_pixels", "optimised",
        "size of the images written: as optimised, the content's aspect ratio at the optimised height, or the "
        "content file's own size"),
    {"snapshots", P_SNAPSHOTS, OFF(snapshot_first), OFF(snapshot_every), 0, 0, 0, 1000000, NULL, "10,10",
     "FIRST,EVERY: keep iterations 1..FIRST and every EVERY-th (0,0: none)", NULL},
    STR(precision, "fp32|tf32", "fp32",
        "fp32, or tf32: TF32 tensor-core math in the convolutions and Gram products (CUDA backend only)"),
};
enum { N_PARAMS = sizeof g_params / sizeof g_params[0] };

static const param_def *find_def(const char *key) {
    char k[64];
    ss_normalise_key(k, sizeof k, key);
    for (int i = 0; i < N_PARAMS; i++)
        if (strcmp(g_params[i].name, k) == 0) return &g_params[i];
    return NULL;
}

int ss_params_count(void) { return N_PARAMS; }
const char *ss_params_key(int i) { return i >= 0 && i < N_PARAMS ? g_params[i].name : NULL; }
int ss_params_is_key(const char *key) { return find_def(key) != NULL; }

size_t ss_params_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];
    if (la > 63 || lb > 63) return 99;
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof cur[0] * (lb + 1));
    }
    return prev[lb];
}

const char *ss_params_nearest_key(const char *key) {
    char k[64];
    ss_normalise_key(k, sizeof k, key);
    const char *best = g_params[0].name;
    size_t bd = (size_t)-1;
    for (int i = 0; i < N_PARAMS; i++) {
        size_t d = ss_params_edit_distance(k, g_params[i].name);
        if (d < bd) bd = d, best = g_params[i].name;
    }
    return best;
}

static int parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return 0;
    *out = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    return *end == '\0' && errno == 0 && isfinite(*out);
}

static int parse_llong(const char *s, long long *out) {
    char *end;
    errno = 0;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return 0;
    *out = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    return *end == '\0' && errno == 0;
}

static int in_choices(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0) return 1;
        if (!bar) break;
        c = bar + 1;
    }
    return 0;
}

/* Splits value at commas into trimmed items (a trailing comma makes an empty
 * last item, as a leading one makes an empty first item); returns the count
 * (0 for "") or -1 if more than max. */
static int split_list(const char *value, char items[][SS_PATH_MAX], int max) {
    int n = 0;
    const char *s = value;
    if (!*s) return 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        while (len && isspace((unsigned char)*s)) s++, len--;
        while (len && isspace((unsigned char)s[len - 1])) len--;
        if (n == max) return -1;
        if (len >= SS_PATH_MAX) len = SS_PATH_MAX - 1;
        memcpy(items[n], s, len);
        items[n][len] = '\0';
        n++;
        if (!comma) break;
        s = comma + 1;
    }
    return n;
}

/* The value an alias of d's choices stands for ("true" -> "ycbcr"), or v itself. */
static const char *resolve_alias(const param_def *d, const char *v, char *buf, size_t size) {
    size_t n = strlen(v);
    for (const char *a = d->aliases; a && *a;) {
        const char *eq = strchr(a, '='), *bar = strchr(a, '|');
        size_t len = bar ? (size_t)(bar - a) : strlen(a);
        if (eq && (size_t)(eq - a) == n && strncmp(a, v, n) == 0) {
            snprintf(buf, size, "%.*s", (int)(len - n - 1), eq + 1);
            return buf;
        }
        if (!bar) break;
        a = bar + 1;
    }
    return v;
}

static ss_status check_range(const param_def *d, double v, const char *value) {
    if (v < d->min || v > d->max)
        return ss_error(SS_ERR_ARG, "%s: %s is out of range (%g to %g)", d->name, value, d->min, d->max);
    return SS_OK;
}

ss_status ss_params_set(ss_params *p, const char *key, const char *value) {
    const param_def *d = find_def(key);
    if (!d) return ss_error(SS_ERR_ARG, "unknown parameter '%s' (did you mean '%s'?)", key, ss_params_nearest_key(key));
    char *base = (char *)p;
    switch (d->type) {
    case P_STR: {
        char alias[SS_NAME_MAX];
        value = resolve_alias(d, value, alias, sizeof alias);
        if (strlen(value) >= d->size) return ss_error(SS_ERR_ARG, "%s: value is too long", d->name);
        if (d->choices && !in_choices(d->choices, value))
            return ss_error(SS_ERR_ARG, "%s: '%s' is not one of %s", d->name, value, d->choices);
        strcpy(base + d->offset, value);
        return SS_OK;
    }
    case P_STRLIST: {
        char items[SS_MAX_STYLE_LAYERS + SS_MAX_STYLES][SS_PATH_MAX];
        int n = split_list(value, items, d->max_items);
        if (n < 0) return ss_error(SS_ERR_ARG, "%s: more than %d items", d->name, d->max_items);
        if (n == 0 && d->def[0]) return ss_error(SS_ERR_ARG, "%s: the list is empty", d->name);
        for (int i = 0; i < n; i++) {
            if (!items[i][0]) return ss_error(SS_ERR_ARG, "%s: item %d of '%s' is empty", d->name, i + 1, value);
            if (strlen(items[i]) >= d->size)
                return ss_error(SS_ERR_ARG, "%s: item '%s' is too long", d->name, items[i]);
        }
        for (int i = 0; i < n; i++) strcpy(base + d->offset + (size_t)i * d->size, items[i]);
        *(int *)(base + d->count_offset) = n;
        return SS_OK;
    }
    case P_INT:
    case P_LLONG: {
        long long v;
        if (!parse_llong(value, &v)) return ss_error(SS_ERR_ARG, "%s: '%s' is not an integer", d->name, value);
        SS_TRY(check_range(d, (double)v, value));
        if (d->type == P_INT) *(int *)(base + d->offset) = (int)v;
        else *(long long *)(base + d->offset) = v;
        return SS_OK;
    }
    case P_DOUBLE: {
        double v;
        if (!parse_double(value, &v)) return ss_error(SS_ERR_ARG, "%s: '%s' is not a number", d->name, value);
        SS_TRY(check_range(d, v, value));
        *(double *)(base + d->offset) = v;
        return SS_OK;
    }
    case P_DOUBLELIST: {
        char items[SS_MAX_STYLES][SS_PATH_MAX];
        int n = split_list(value, items, d->max_items);
        if (n < 0) return ss_error(SS_ERR_ARG, "%s: more than %d values", d->name, d->max_items);
        if (n == 0) return ss_error(SS_ERR_ARG, "%s: no value given", d->name);
        double v[SS_MAX_STYLES];
        for (int i = 0; i < n; i++) {
            if (!parse_double(items[i], &v[i]))
                return ss_error(SS_ERR_ARG, "%s: '%s' is not a number", d->name, items[i]);
            SS_TRY(check_range(d, v[i], items[i]));
        }
        memcpy(base + d->offset, v, sizeof(double) * (size_t)n);
        *(int *)(base + d->count_offset) = n;
        return SS_OK;
    }
    case P_BOOL: {
        int v;
        if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1") || !strcmp(value, "on")) v = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0") || !strcmp(value, "off")) v = 0;
        else return ss_error(SS_ERR_ARG, "%s: '%s' is not true or false", d->name, value);
        *(int *)(base + d->offset) = v;
        return SS_OK;
    }
    case P_SNAPSHOTS: {
        char items[2][SS_PATH_MAX];
        long long a, b;
        if (split_list(value, items, 2) != 2 || !parse_llong(items[0], &a) || !parse_llong(items[1], &b))
            return ss_error(SS_ERR_ARG, "%s: '%s' is not FIRST,EVERY (two integers)", d->name, value);
        if (a < 0 || b < 0 || a > d->max || b > d->max)
            return ss_error(SS_ERR_ARG, "%s: '%s' must be two integers from 0 to %g", d->name, value, d->max);
        *(int *)(base + d->offset) = (int)a;
        *(int *)(base + d->count_offset) = (int)b;
        return SS_OK;
    }
    }
    return ss_error(SS_ERR_INTERNAL, "parameter %s has no type", d->name);
}

void ss_params_defaults(ss_params *p) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < N_PARAMS; i++)
        if (g_params[i].def[0]) ss_params_set(p, g_params[i].name, g_params[i].def);
}

void ss_params_format(const ss_params *p, const char *key, char *buf, size_t size) {
    const param_def *d = find_def(key);
    buf[0] = '\0';
    if (!d) return;
    const char *base = (const char *)p;
    size_t used = 0;
    switch (d->type) {
    case P_STR: snprintf(buf, size, "%s", base + d->offset); break;
    case P_STRLIST: {
        int n = *(const int *)(base + d->count_offset);
        for (int i = 0; i < n && used < size; i++)
            used +=
                (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "", base + d->offset + (size_t)i * d->size);
        break;
    }
    case P_INT: snprintf(buf, size, "%d", *(const int *)(base + d->offset)); break;
    case P_LLONG: snprintf(buf, size, "%lld", *(const long long *)(base + d->offset)); break;
    case P_DOUBLE: snprintf(buf, size, "%.17g", *(const double *)(base + d->offset)); break;
    case P_DOUBLELIST: {
        int n = *(const int *)(base + d->count_offset);
        const double *v = (const double *)(base + d->offset);
        for (int i = 0; i < n && used < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s%.17g", i ? "," : "", v[i]);
        break;
    }
    case P_BOOL: snprintf(buf, size, "%s", *(const int *)(base + d->offset) ? "true" : "false"); break;
    case P_SNAPSHOTS:
        snprintf(buf, size, "%d,%d", *(const int *)(base + d->offset), *(const int *)(base + d->count_offset));
        break;
    }
}

void ss_params_write(const ss_params *p, FILE *f) {
    char buf[SS_PATH_MAX * SS_MAX_STYLES + 64];
    for (int i = 0; i < N_PARAMS; i++) {
        ss_params_format(p, g_params[i].name, buf, sizeof buf);
        int list = g_params[i].type == P_STRLIST || g_params[i].type == P_DOUBLELIST;
        fprintf(f, "%s: %s%s%s\n", g_params[i].name, list ? "[" : "", buf, list ? "]" : "");
    }
}

ss_status ss_params_read_text(ss_params *p, const char *text) {
    ss_params_defaults(p);
    char line[SS_PATH_MAX * SS_MAX_STYLES + 128];
    for (const char *s = text; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (len >= sizeof line) return ss_error(SS_ERR_FORMAT, "parameters: a line of %zu bytes", len);
        memcpy(line, s, len);
        line[len] = '\0';
        s = nl ? nl + 1 : NULL;
        char *colon = strstr(line, ": ");
        if (!colon && len && line[len - 1] == ':') colon = line + len - 1; /* "key:" (an empty value) */
        if (!colon) {
            if (line[0]) return ss_error(SS_ERR_FORMAT, "parameters: '%s' is not 'key: value'", line);
            continue;
        }
        *colon = '\0';
        char *v = colon[1] ? colon + 2 : colon + 1;
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '[' && v[vl - 1] == ']') v[vl - 1] = '\0', v++;
        SS_TRY(ss_params_set(p, line, v));
    }
    return SS_OK;
}

void ss_params_print_help(FILE *f, int column) {
    for (int i = 0; i < N_PARAMS; i++) {
        const param_def *d = &g_params[i];
        if (!strcmp(d->name, "content") || !strcmp(d->name, "style")) continue;
        char opt[64];
        size_t j = 0;
        for (; j < sizeof opt - 1 && d->name[j]; j++) opt[j] = d->name[j] == '_' ? '-' : d->name[j];
        opt[j] = '\0';
        fprintf(f, "  --%-*s %s", column - 2, opt, d->help);
        if (d->choices) fprintf(f, " (%s)", d->choices);
        fprintf(f, " [default: %s]\n", d->def[0] ? d->def : "none");
    }
}

ss_status ss_params_resolve(const ss_params *p, ss_model *m, ss_loss_config *cfg) {
    ss_model_kind kind;
    SS_TRY(ss_model_parse_kind(&kind, p->model));
    if (ss_model_init(m, kind, p->channels_div) != SS_OK)
        return ss_error(SS_ERR_ARG, "channels_div: %d is not 1, 2, 4 or 8", p->channels_div);
    memset(cfg, 0, sizeof *cfg);
    cfg->pool = strcmp(p->pool, "avg") == 0 ? SS_POOL_AVG : SS_POOL_MAX;
    if (ss_model_find_layer(&cfg->content_layer, m, p->content_layer) != SS_OK)
        return ss_error(SS_ERR_ARG, "content_layer: %s", ss_error_message());
    cfg->content_loss_type = p->content_loss_type;
    cfg->content_weight = p->content_weight;
    cfg->n_style_layers = p->n_style_layers;
    for (int i = 0; i < p->n_style_layers; i++)
        if (ss_model_find_layer(&cfg->style_layers[i], m, p->style_layers[i]) != SS_OK)
            return ss_error(SS_ERR_ARG, "style_layers: %s", ss_error_message());
    cfg->n_styles = p->n_styles;
    if (p->n_style_weights != 1 && p->n_style_weights != p->n_styles)
        return ss_error(SS_ERR_ARG, "style_weight: %d values for %d style images (give one, or one per image)",
                        p->n_style_weights, p->n_styles);
    for (int s = 0; s < p->n_styles; s++)
        cfg->style_weight[s] = p->style_weight[p->n_style_weights == 1 ? 0 : s] * p->style_scale;
    cfg->style_norm = !strcmp(p->style_norm, "gatys")    ? SS_STYLE_NORM_GATYS
                      : !strcmp(p->style_norm, "target") ? SS_STYLE_NORM_TARGET
                                                         : SS_STYLE_NORM_REFERENCE;
    cfg->tv_weight = p->tv_weight;
    cfg->tv_power = p->tv_power;
    if (p->n_style_masks != 0 && p->n_style_masks != p->n_styles)
        return ss_error(SS_ERR_ARG, "style_masks: %d mask(s) for %d style image(s) (give one per style image, or none)",
                        p->n_style_masks, p->n_styles);
    if (p->color_mask[0] && strcmp(p->preserve_color, "ycbcr") != 0 && strcmp(p->preserve_color, "luminance") != 0)
        return ss_error(SS_ERR_ARG, "color_mask: needs preserve_color ycbcr or luminance (preserve_color is %s)",
                        p->preserve_color);
    if (p->n_styles < 1) return ss_error(SS_ERR_ARG, "style: no style image given");
    return ss_loss_config_check(cfg, m);
}
