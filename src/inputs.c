/* inputs.c - weights resolution and input images of a run (see inputs.h). */
#include "inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "colour.h"
#include "evalfile.h"

void ss_inputs_resolve_weights(char *out, size_t size, const char *spec, const char *model, int *fell_back) {
    *fell_back = 0;
    if (strcmp(spec, "auto") != 0) {
        snprintf(out, size, "%s", spec);
        return;
    }
    const char *dirs[3] = {getenv("STYLESWEEP_MODELS"), "models", NULL};
    char home[SS_PATH_MAX];
    const char *h = getenv("HOME");
    if (h) {
        snprintf(home, sizeof home, "%s/.keras/models", h);
        dirs[2] = home;
    }
    for (int i = 0; i < 3; i++) {
        if (!dirs[i] || !dirs[i][0]) continue;
        snprintf(out, size, "%s/%s_weights_tf_dim_ordering_tf_kernels_notop.h5", dirs[i], model);
        if (access(out, R_OK) == 0) return;
    }
    snprintf(out, size, "random");
    *fell_back = 1;
}

ss_status ss_inputs_load_image(float **out, ss_image *keep, int *h, int *w, const char *path, const ss_params *p,
                               const ss_preproc *pp, const char *role) {
    if (!path[0]) return ss_error(SS_ERR_ARG, "no %s image given", role);
    if (ss_evalfile_is_dataset_spec(path)) {
        int hh, ww;
        ss_status st = ss_evalfile_read_image(out, &hh, &ww, path);
        if (st != SS_OK) return ss_error(st, "%s image: %s", role, ss_error_message());
        if (*w && (hh != *h || ww != *w)) {
            free(*out);
            *out = NULL;
            return ss_error(SS_ERR_FORMAT, "%s image %s is %dx%d, the content is %dx%d", role, path, ww, hh, *w, *h);
        }
        *h = hh, *w = ww;
        return SS_OK;
    }
    ss_image img = {0}, sized = {0};
    ss_status st = ss_image_load(&img, path);
    if (st != SS_OK) return ss_error(st, "%s image: %s", role, ss_error_message());
    if (!*w) {
        ss_aspect aspect = strcmp(p->aspect, "square") == 0 ? SS_ASPECT_SQUARE : SS_ASPECT_KEEP;
        st = ss_image_target_size(w, h, img.w, img.h, p->image_size, aspect);
    }
    if (st == SS_OK) st = ss_image_resize(&sized, &img, *w, *h);
    ss_image_free(&img);
    if (st == SS_OK) {
        *out = malloc(sizeof(float) * 3 * (size_t)*w * *h);
        if (!*out) st = ss_error(SS_ERR_NOMEM, "out of memory for %s", path);
        else ss_image_to_tensor(*out, &sized, pp);
    }
    if (st == SS_OK && keep) *keep = sized;
    else ss_image_free(&sized);
    return st;
}

ss_status ss_inputs_load_mask(unsigned char **out, int w, int h, const char *path, const char *key) {
    *out = NULL;
    ss_image img = {0}, sized = {0};
    ss_status st = ss_image_load(&img, path);
    if (st != SS_OK) return ss_error(st, "%s: %s", key, ss_error_message());
    st = ss_image_resize(&sized, &img, w, h);
    ss_image_free(&img);
    if (st != SS_OK) return ss_error(st, "%s: %s: %s", key, path, ss_error_message());
    size_t n = (size_t)w * h, white = 0;
    unsigned char *m = malloc(n);
    if (!m) st = ss_error(SS_ERR_NOMEM, "%s: out of memory for %s", key, path);
    for (size_t i = 0; m && i < n; i++) {
        const unsigned char *q = sized.px + 3 * i;
        m[i] = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2] >= 127.5; /* luma rounded >= 128 */
        white += m[i];
    }
    ss_image_free(&sized);
    if (st == SS_OK && white == 0)
        st = ss_error(SS_ERR_ARG, "%s: %s is all black at %dx%d (no pixel >= 128): it would select nothing", key, path,
                      w, h);
    if (st != SS_OK) free(m);
    else *out = m;
    return st;
}

void ss_inputs_output_size(int *w, int *h, const ss_inputs *in, const char *output_size) {
    *w = in->w, *h = in->h;
    if (!strcmp(output_size, "content_pixels")) {
        *w = in->src_w, *h = in->src_h;
    } else if (!strcmp(output_size, "content_aspect") && in->src_h > 0) {
        long long ww = (long long)in->h * in->src_w / in->src_h; /* truncated, as Network.py's int() */
        *w = ww < 1 ? 1 : ww > SS_IMAGE_MAX_SIDE ? SS_IMAGE_MAX_SIDE : (int)ww;
    }
}

ss_status ss_inputs_finish(ss_image *img, const ss_inputs *in, const ss_params *p) {
    ss_colour_mode mode;
    SS_TRY(ss_colour_parse_mode(&mode, p->preserve_color));
    if (in->colour_image.px) SS_TRY(ss_colour_restore(img, &in->colour_image, in->color_mask, mode));
    int w, h;
    ss_inputs_output_size(&w, &h, in, p->output_size);
    if (w == img->w && h == img->h) return SS_OK;
    ss_image sized = {0};
    SS_TRY(ss_image_resize(&sized, img, w, h));
    ss_image_free(img);
    *img = sized;
    return SS_OK;
}

/* Loads the colour mask of p (color_mask) at the run's size, binarised at
 * 128, into in->color_mask. */
static ss_status load_color_mask(ss_inputs *in, const ss_params *p) {
    if (!p->color_mask[0]) return SS_OK;
    return ss_inputs_load_mask(&in->color_mask, in->w, in->h, p->color_mask, "color_mask");
}

/* Applies p's colour mode to the loaded images: keeps the content's colours
 * for the restore, then (luminance, histogram) changes the images and makes
 * their tensors again. */
static ss_status apply_colour(ss_inputs *in, const ss_params *p, ss_image *styles) {
    ss_colour_mode mode;
    SS_TRY(ss_colour_parse_mode(&mode, p->preserve_color));
    if (mode == SS_COLOUR_OFF) return SS_OK;
    int files = in->content_image.px != NULL;
    for (int s = 0; s < in->n_styles; s++) files &= styles[s].px != NULL;
    if (!files)
        return ss_error(SS_ERR_ARG, "preserve_color: %s needs the content and style as image files, not datasets",
                        p->preserve_color);
    SS_TRY(ss_image_resize(&in->colour_image, &in->content_image, in->w, in->h)); /* a copy */
    if (mode != SS_COLOUR_LUMINANCE && mode != SS_COLOUR_HISTOGRAM) return SS_OK;
    ss_hist_method method = !strcmp(p->histogram_method, "eigen") ? SS_HIST_EIGEN : SS_HIST_CHOLESKY;
    SS_TRY(ss_colour_prepare(&in->content_image, styles, in->n_styles, mode, method));
    ss_image_to_tensor(in->content, &in->content_image, &in->preproc);
    for (int s = 0; s < in->n_styles; s++) ss_image_to_tensor(in->style[s], &styles[s], &in->preproc);
    return SS_OK;
}

ss_status ss_inputs_load(ss_inputs *in, const ss_params *p, const ss_preproc *pp) {
    memset(in, 0, sizeof *in);
    in->preproc = *pp;
    ss_image styles[SS_MAX_STYLES] = {{0}};
    int channels;
    ss_status st = ss_inputs_load_image(&in->content, &in->content_image, &in->h, &in->w, p->content, p, pp, "content");
    in->src_w = in->w, in->src_h = in->h;
    if (st == SS_OK && !ss_evalfile_is_dataset_spec(p->content))
        st = ss_image_probe(&in->src_w, &in->src_h, &channels, p->content);
    if (st == SS_OK && p->n_styles < 1) st = ss_error(SS_ERR_ARG, "no style image given");
    for (int s = 0; st == SS_OK && s < p->n_styles; s++) {
        st = ss_inputs_load_image(&in->style[s], &styles[s], &in->h, &in->w, p->style[s], p, pp, "style");
        in->n_styles = s + 1;
    }
    if (st == SS_OK) st = apply_colour(in, p, styles);
    if (st == SS_OK) st = load_color_mask(in, p);
    for (int s = 0; s < SS_MAX_STYLES; s++) ss_image_free(&styles[s]);
    if (st != SS_OK) ss_inputs_free(in);
    return st;
}

void ss_inputs_free(ss_inputs *in) {
    free(in->content);
    for (int s = 0; s < SS_MAX_STYLES; s++) free(in->style[s]);
    ss_image_free(&in->content_image);
    ss_image_free(&in->colour_image);
    free(in->color_mask);
    memset(in, 0, sizeof *in);
}
