/* model.h - the VGG16/VGG19 convolution stacks as a layer table, and their
 * weights (a Keras "notop" HDF5 file, or seeded He-normal random weights). */
#ifndef SS_MODEL_H
#define SS_MODEL_H

#include "sizes.h"
#include "status.h"

typedef enum ss_model_kind { SS_MODEL_VGG16 = 0, SS_MODEL_VGG19 = 1 } ss_model_kind;

/* Pre-processing a set of weights expects (recorded in the weights file). */
typedef enum ss_preproc_kind {
    SS_PREPROC_CAFFE = 0,      /* BGR, 0..255, minus the ImageNet mean (Keras VGG files) */
    SS_PREPROC_TORCHVISION = 1 /* RGB, 0..1, minus mean, divided by std (torchvision) */
} ss_preproc_kind;

typedef struct ss_conv_info {
    char name[16]; /* "convB_I" */
    int block;     /* 1..5 */
    int index;     /* 1..4 within the block */
    int cin, cout;
    int pool_after; /* 1 when a pooling layer follows (last conv of a block) */
} ss_conv_info;

typedef struct ss_model {
    ss_model_kind kind;
    int channels_div; /* every channel count divided by this (1 for real VGG) */
    int n_convs;      /* convolutions in the whole stack (13 or 16) */
    ss_conv_info conv[SS_MODEL_MAX_CONVS];
    int n_loaded;                      /* convolutions whose weights are loaded (a prefix) */
    float *weight[SS_MODEL_MAX_CONVS]; /* (cout, cin, 3, 3) */
    float *bias[SS_MODEL_MAX_CONVS];   /* (cout) */
    ss_preproc_kind preproc;
    char weights_desc[512]; /* "random:0" or the file's path */
} ss_model;

/* Parses "vgg16" / "vgg19" into *kind. SS_ERR_ARG naming the value otherwise. */
ss_status ss_model_parse_kind(ss_model_kind *kind, const char *name);

/* Returns "vgg16" or "vgg19". */
const char *ss_model_kind_name(ss_model_kind kind);

/* Fills m's layer table for kind with channel counts divided by channels_div
 * (1, 2, 4 or 8); no weights are loaded. */
ss_status ss_model_init(ss_model *m, ss_model_kind kind, int channels_div);

/* Finds convolution `name` ("conv4_2") of m: *index receives its index, or
 * -1 with SS_ERR_ARG naming it and listing the model's layer names. */
ss_status ss_model_find_layer(int *index, const ss_model *m, const char *name);

/* Image sizes and layers. A convolution (3x3, padding 1) keeps a feature
 * map's size; the 2x2 stride-2 pooling after each block (pool_after) halves
 * it, rounding down, and needs at least 2x2 input. The network for a layer
 * has the poolings of every block before that layer's block, so an image of
 * w x h pixels reaches convolution `conv` of m when each of those poolings
 * gets at least 2x2 input (every feature map up to conv is then at least
 * 1x1), which is when both sides are at least 2^(poolings before conv).
 * Returns 1 when it does; 0 when it does not, when w or h is below 1, or
 * when conv is not an index of m (0..n_convs-1). *min_side (when not NULL)
 * receives that smallest side, 2^(poolings before conv) (1 for block 1), or
 * 0 for a conv out of range. The one rule of ss_net_new and of the manifest
 * check (src/manifest_expand.c). */
int ss_model_reaches(const ss_model *m, int conv, int w, int h, int *min_side);

/* Loads weights for the first n_convs convolutions. spec is "random" or
 * "random:SEED" (seeded He-normal weights, zero biases, the same on every
 * machine and thread count) or the path of a Keras notop HDF5 file. */
ss_status ss_model_load_weights(ss_model *m, const char *spec, int n_convs);

/* Loads Keras notop weights (hdf5/weights_keras.c): follows the root
 * attribute layer_names and each group's weight_names; kernels (3,3,in,out)
 * are checked against m's table and transposed to (out,in,3,3). */
ss_status ss_model_load_keras(ss_model *m, const char *path, int n_convs);

/* Frees the weights (the table stays usable). */
void ss_model_free(ss_model *m);

#endif
