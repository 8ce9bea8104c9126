/* inputs.h - resolves a run's inputs: which weights ("auto"), and the
 * content and style images as pre-processed (3, H, W) arrays at the run's
 * size, from image files or FILE.h5:/dataset arrays. */
#ifndef SS_INPUTS_H
#define SS_INPUTS_H

#include "image.h"
#include "params.h"

typedef struct ss_inputs {
    int h, w;
    float *content;              /* (3, h, w) pre-processed */
    float *style[SS_MAX_STYLES]; /* (3, h, w) pre-processed, resized to the content's size */
    int n_styles;
    ss_image content_image;    /* the resized content as 8-bit RGB (empty for .h5 input); its luma for
                                  preserve_color luminance */
    ss_image colour_image;     /* the resized content whose colours preserve_color puts back (empty: none) */
    unsigned char *color_mask; /* color_mask at (w, h): 1 white, 0 black (NULL: none) */
    int src_w, src_h;          /* the content file's own size (w, h for .h5 input) */
    ss_preproc preproc;
} ss_inputs;

/* Resolves the weights spec of p for model kind: "auto" becomes the usual
 * Keras file when found in $STYLESWEEP_MODELS, ./models or ~/.keras/models,
 * else "random"; *fell_back is 1 when auto chose random. Other specs are
 * copied. out receives the spec to load. */
void ss_inputs_resolve_weights(char *out, size_t size, const char *spec, const char *model, int *fell_back);

/* Loads p's content and style images, resized to p->image_size (aspect p->aspect),
 * styles to the content's size, pre-processed with pp. Errors name the file. */
ss_status ss_inputs_load(ss_inputs *in, const ss_params *p, const ss_preproc *pp);

/* Loads one input into a new malloc'ed (3, *h, *w) array *out: an image
 * file resized to (*w, *h) (or sized by p's image_size and aspect when
 * *w == 0) and pre-processed with pp, or a FILE.h5:/dataset array that must
 * match a non-zero size. keep (may be NULL) receives the resized 8-bit
 * image (empty for a dataset). role ("content", "style") prefixes errors. */
ss_status ss_inputs_load_image(float **out, ss_image *keep, int *h, int *w, const char *path, const ss_params *p,
                               const ss_preproc *pp, const char *role);

/* Loads the mask image at path as w x h bytes *out (malloc'ed): each pixel
 * 1 where the resized image's luma (BT.601) is >= 128, else 0 (the
 * reference binarised at 128). Errors name key and path: unreadable, not an
 * image, or all black (SS_ERR_ARG). */
ss_status ss_inputs_load_mask(unsigned char **out, int w, int h, const char *path, const char *key);

/* The size of the images a run writes for output_size: optimised (w, h);
 * content_pixels the content file's size (Network.py's rescale_image);
 * content_aspect the optimised height and the content's aspect ratio
 * (width = floor(h * src_w / src_h)), as Network.py resized every image it
 * saved when rescale_image was off (after a square optimisation, with
 * maintain_aspect_ratio off, that restores the content's shape). */
void ss_inputs_output_size(int *w, int *h, const ss_inputs *in, const char *output_size);

/* Turns a de-processed result into the image a run writes, in place: the
 * content's colours put back for preserve_color ycbcr and luminance (only
 * where color_mask is white), then resized to p's output_size. */
ss_status ss_inputs_finish(ss_image *img, const ss_inputs *in, const ss_params *p);

/* Frees everything in `in`. */
void ss_inputs_free(ss_inputs *in);

#endif
