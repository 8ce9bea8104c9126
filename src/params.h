/* params.h - the parameters of one run: one table of keys shared by the
 * command line (--content-weight), the manifest (content_weight), the help
 * text, the archive and the exported parameter files. */
#ifndef SS_PARAMS_H
#define SS_PARAMS_H

#include <stdio.h>

#include "sizes.h"
#include "status.h"

struct ss_model;
struct ss_loss_config;

typedef struct ss_params {
    char content[SS_PATH_MAX];
    int n_styles;
    char style[SS_MAX_STYLES][SS_PATH_MAX];
    int n_style_masks; /* 0 (none) or n_styles */
    char style_masks[SS_MAX_STYLES][SS_PATH_MAX];
    char model[SS_NAME_MAX];
    char weights[SS_PATH_MAX];
    int channels_div;
    int image_size;
    char aspect[SS_NAME_MAX];
    int iterations;
    int evals_per_iteration;
    int lbfgs_restart;
    char optimizer[SS_NAME_MAX];
    int lbfgs_history;
    double learning_rate;
    double min_improvement;
    double content_weight;
    int n_style_weights;
    double style_weight[SS_MAX_STYLES];
    double style_scale;
    double tv_weight;
    double tv_power;
    int content_loss_type;
    char content_layer[SS_NAME_MAX];
    int n_style_layers;
    char style_layers[SS_MAX_STYLE_LAYERS][SS_NAME_MAX];
    char style_norm[SS_NAME_MAX];
    char pool[SS_NAME_MAX];
    char init[SS_NAME_MAX];
    long long seed;
    char preserve_color[SS_NAME_MAX]; /* false, ycbcr, luminance or histogram */
    char histogram_method[SS_NAME_MAX];
    char color_mask[SS_PATH_MAX];
    char output_size[SS_NAME_MAX];
    int snapshot_first;
    int snapshot_every;
    char precision[SS_NAME_MAX];
} ss_params;

/* Fills p with the defaults (those of the founding study). */
void ss_params_defaults(ss_params *p);

/* Sets key (manifest spelling, "content_weight"; dashes are accepted too)
 * from its text value; lists are comma-separated ("conv1_1,conv2_1"),
 * snapshots are "FIRST,EVERY", booleans true/false/yes/no/1/0.
 * SS_ERR_ARG with a message naming the key and the value on a bad value;
 * an unknown key names the nearest valid one. */
ss_status ss_params_set(ss_params *p, const char *key, const char *value);

/* Returns 1 when key is a parameter name (underscores or dashes). */
int ss_params_is_key(const char *key);

/* Returns the valid key nearest to key (edit distance), for messages. */
const char *ss_params_nearest_key(const char *key);

/* Returns the Levenshtein distance of a and b (99 when either is longer
 * than 63 characters), for suggestions. */
size_t ss_params_edit_distance(const char *a, const char *b);

/* Writes value of key as text into buf (the form ss_params_set reads). */
void ss_params_format(const ss_params *p, const char *key, char *buf, size_t size);

/* Writes every parameter as "key: value" lines (YAML) to f. */
void ss_params_write(const ss_params *p, FILE *f);

/* Reads text as ss_params_write writes it ("key: value" lines, lists in
 * [...]) into *p, over the defaults: a key the text lacks keeps its default
 * (text written before the key existed means what the default does now).
 * SS_ERR_FORMAT / SS_ERR_ARG naming the line or key otherwise. */
ss_status ss_params_read_text(ss_params *p, const char *text);

/* Prints one line per option: --key-name (padded to column characters),
 * its help and default. */
void ss_params_print_help(FILE *f, int column);

/* Returns the number of keys and the name of key i (for iteration). */
int ss_params_count(void);
const char *ss_params_key(int i);

/* Checks the values that do not need files (ranges, names), and resolves
 * them: *kind, the loss configuration (layer names to indices via a model
 * table) and the pooling. SS_ERR_ARG naming the key at fault. */
ss_status ss_params_resolve(const ss_params *p, struct ss_model *m, struct ss_loss_config *cfg);

#endif
