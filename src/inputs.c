/* inputs.c - weights resolution and input images of a run (see inputs.h). */
#include "inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
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

ss_status ss_inputs_load(ss_inputs *in, const ss_params *p, const ss_preproc *pp) {
    memset(in, 0, sizeof *in);
    in->preproc = *pp;
    ss_status st = ss_inputs_load_image(&in->content, &in->content_image, &in->h, &in->w, p->content, p, pp, "content");
    if (st == SS_OK && p->n_styles < 1) st = ss_error(SS_ERR_ARG, "no style image given");
    for (int s = 0; st == SS_OK && s < p->n_styles; s++) {
        st = ss_inputs_load_image(&in->style[s], NULL, &in->h, &in->w, p->style[s], p, pp, "style");
        in->n_styles = s + 1;
    }
    if (st != SS_OK) ss_inputs_free(in);
    return st;
}

void ss_inputs_free(ss_inputs *in) {
    free(in->content);
    for (int s = 0; s < SS_MAX_STYLES; s++) free(in->style[s]);
    ss_image_free(&in->content_image);
    memset(in, 0, sizeof *in);
}
