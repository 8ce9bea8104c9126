/* evalfile.h - the small HDF5 files of `stylesweep eval`: reading an
 * image given as FILE.h5:/dataset, and writing one evaluation's result. */
#ifndef SS_EVALFILE_H
#define SS_EVALFILE_H

#include "status.h"

/* Returns 1 when spec names an HDF5 dataset ("FILE.h5:/dataset"), else 0. */
int ss_evalfile_is_dataset_spec(const char *spec);

/* Reads the float (3, H, W) dataset named by spec ("FILE.h5:/dataset") into a
 * new malloc'ed array *out (caller frees) and its size into *h, *w.
 * SS_ERR_IO / SS_ERR_FORMAT naming the file and dataset otherwise. */
ss_status ss_evalfile_read_image(float **out, int *h, int *w, const char *spec);

typedef struct ss_eval_output {
    double loss, content_loss, tv_loss;
    int n_style_layers;
    const double *style_loss;        /* one per style layer */
    const char *const *style_layers; /* their names */
    const float *x, *grad;           /* (3, h, w) */
    int h, w;
    const char *const *attr_keys; /* run parameters recorded as root attributes */
    const char *const *attr_values;
    int n_attrs;
} ss_eval_output;

/* Writes o to path (a temporary file renamed into place, so no partial file
 * ever has the final name). Fails if path exists unless overwrite is 1. */
ss_status ss_evalfile_write(const char *path, const ss_eval_output *o, int overwrite);

#endif
