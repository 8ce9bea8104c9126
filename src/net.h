/* net.h - one style-transfer evaluation: forward through the VGG stack to
 * the deepest layer a loss uses, the content, style and total-variation
 * losses, and the gradient with respect to the image, all through the
 * backend table. Knows nothing of images on disk, optimizers, MPI or HDF5. */
#ifndef SS_NET_H
#define SS_NET_H

#include "backend.h"
#include "model.h"

typedef enum ss_style_norm {
    SS_STYLE_NORM_REFERENCE = 0, /* 1 / (4 * 3^2 * (W*H)^2), W*H the image's pixels */
    SS_STYLE_NORM_GATYS = 1,     /* 1 / (4 * C_l^2 * (h_l*w_l)^2), the layer's size */
    SS_STYLE_NORM_TARGET = 2     /* 1 / sum(G_target^2): balances layers (random weights) */
} ss_style_norm;

typedef struct ss_loss_config {
    ss_pool_kind pool;
    int content_layer;     /* convolution index */
    int content_loss_type; /* 0, 1 or 2 */
    double content_weight;
    int n_style_layers;
    int style_layers[SS_MAX_STYLE_LAYERS]; /* convolution indices */
    int n_styles;                          /* style images, 1..SS_MAX_STYLES */
    double style_weight[SS_MAX_STYLES];    /* one per style image */
    ss_style_norm style_norm;
    double tv_weight;
    double tv_power; /* 1.25 in the reference */
} ss_loss_config;

/* The value of one evaluation, each term as its weighted contribution:
 * total = content + sum(style) + tv. */
typedef struct ss_terms {
    double total;
    double content;
    double style[SS_MAX_STYLE_LAYERS]; /* per style layer, summed over style images */
    double tv;
} ss_terms;

typedef struct ss_net ss_net;

/* Returns the index of the deepest convolution that cfg's losses use. */
int ss_net_deepest_layer(const ss_loss_config *cfg);

/* Validates cfg against model m (layer indices, types, weights >= 0, ...);
 * SS_ERR_ARG with a message naming the value otherwise. */
ss_status ss_loss_config_check(const ss_loss_config *cfg, const ss_model *m);

/* Makes the network for images of h x w pixels on backend be, with m's
 * loaded weights (at least up to the deepest used layer). Allocates every
 * buffer once. The caller frees *out with ss_net_free; be and m must outlive it. */
ss_status ss_net_new(ss_net **out, ss_backend *be, const ss_model *m, const ss_loss_config *cfg, int h, int w);

/* Frees net (NULL is ignored). */
void ss_net_free(ss_net *net);

/* Sets the content target from the pre-processed content image (3, h, w) on the host. */
ss_status ss_net_set_content(ss_net *net, const float *content);

/* The feature map size (*h, *w) of style layer l (index into
 * cfg->style_layers); 0 x 0 when l is out of range. */
void ss_net_style_layer_size(const ss_net *net, int l, int *h, int *w);

/* Sets the mask of style image s at style layer l (before that style is
 * set): mask is h x w bytes at the layer's size (ss_net_style_layer_size),
 * non-zero = inside. As the reference (titu1994's Network.py), the mask
 * multiplies both the style image's features (for its Gram target) and the
 * generated image's before their Gram matrices, so that style s's term at
 * layer l is scale * sum((G(F_s M) - G(F M))^2), and its gradient with
 * respect to F is the masked features' gradient times M. */
ss_status ss_net_set_style_mask(ss_net *net, int s, int l, const unsigned char *mask);

/* Sets the Gram targets of style image s from its pre-processed (3, h, w) host array. */
ss_status ss_net_set_style(ss_net *net, int s, const float *style);

/* Replaces the term weights (content_weight, style_weight, tv_weight,
 * tv_power, content_loss_type) with cfg's, keeping the targets: cfg's layers,
 * pooling, style images and normalisation must be those of the network
 * (SS_ERR_INTERNAL otherwise). */
ss_status ss_net_set_weights(ss_net *net, const ss_loss_config *cfg);

/* Evaluates at x (a plain (3, h, w) backend tensor): fills *terms and
 * writes the gradient into grad (plain (3, h, w)). Content and every style
 * target must be set. */
ss_status ss_net_eval(ss_net *net, ss_terms *terms, ss_tensor *grad, const ss_tensor *x);

/* One convolution of a network as `stylesweep bench` reports it. */
typedef struct ss_net_conv_profile {
    const char *name;    /* the model's name of the layer (conv1_1) */
    int cin, cout, h, w; /* (cin, h, w) -> (cout, h, w) */
    char algo[128];      /* the backend's description (ss_be_layer_describe) */
    double fwd_ms[2],
        bwd_ms[2]; /* forward, backward-data: the shortest wall time and the least CPU time (all threads) */
} ss_net_conv_profile;

/* rows[0..*n) = net's convolutions in order (rows has room for
 * SS_MODEL_MAX_CONVS), each timed `repeat` times forward and backward-data
 * (repeat 0: described only; the shortest call counts). Call after ss_net_eval: the calls reuse its
 * activations and overwrite its intermediate gradients, which the next
 * ss_net_eval computes again. */
ss_status ss_net_profile_convs(ss_net *net, ss_net_conv_profile *rows, int *n, int repeat);

#endif
