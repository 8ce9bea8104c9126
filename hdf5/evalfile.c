/* evalfile.c - HDF5 input and output of `stylesweep eval` (see evalfile.h). */
#include "evalfile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "h5util.h"
#include "paths.h"
#include "util.h"

int ss_evalfile_is_dataset_spec(const char *spec) { return ss_path_file_part(spec) < strlen(spec); }

ss_status ss_evalfile_read_image(float **out, int *h, int *w, const char *spec) {
    *out = NULL;
    size_t len = ss_path_file_part(spec);
    if (len == strlen(spec)) return ss_error(SS_ERR_ARG, "'%s' is not FILE.h5:/dataset", spec);
    char path[4096];
    if (len >= sizeof path) return ss_error(SS_ERR_ARG, "path too long in '%s'", spec);
    memcpy(path, spec, len);
    path[len] = '\0';
    const char *dset = spec + len + 1;
    if (!*dset) return ss_error(SS_ERR_ARG, "'%s' names no dataset after the colon", spec);
    hid_t f;
    ss_status st = ss_h5_open_read(&f, path);
    if (st != SS_OK) return st;
    int rank = 0;
    long long dims[4] = {0};
    st = ss_h5_read_floats(out, &rank, dims, f, dset, path);
    H5Fclose(f);
    if (st != SS_OK) return st;
    if (rank != 3 || dims[0] != 3 || dims[1] < 1 || dims[2] < 1 || dims[1] > 16384 || dims[2] > 16384) {
        free(*out);
        *out = NULL;
        return ss_error(SS_ERR_FORMAT, "%s: dataset '%s' must be a (3, H, W) array", path, dset);
    }
    size_t n = 3 * (size_t)dims[1] * (size_t)dims[2];
    for (size_t i = 0; i < n; i++)
        if (!isfinite((*out)[i])) {
            float v = (*out)[i];
            free(*out);
            *out = NULL;
            return ss_error(SS_ERR_FORMAT, "%s: dataset '%s' holds %g at index %zu", path, dset, v, i);
        }
    *h = (int)dims[1];
    *w = (int)dims[2];
    return SS_OK;
}

static herr_t write_array(hid_t f, const char *name, hid_t mem_type, hid_t file_type, int rank, const hsize_t *dims,
                          const void *data) {
    hid_t sp = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = d < 0 ? -1 : H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return r;
}

static ss_status write_all(hid_t f, const ss_eval_output *o) {
    hsize_t img[3] = {3, (hsize_t)o->h, (hsize_t)o->w}, nl = (hsize_t)o->n_style_layers;
    if (write_array(f, "loss", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 0, NULL, &o->loss) < 0 ||
        write_array(f, "content_loss", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 0, NULL, &o->content_loss) < 0 ||
        write_array(f, "tv_loss", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 0, NULL, &o->tv_loss) < 0 ||
        write_array(f, "style_loss", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &nl, o->style_loss) < 0 ||
        write_array(f, "x", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 3, img, o->x) < 0 ||
        write_array(f, "grad", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 3, img, o->grad) < 0)
        return ss_error(SS_ERR_IO, "cannot write a dataset%s", ss_h5_error_tail());
    hid_t d = H5Dopen2(f, "style_loss", H5P_DEFAULT);
    herr_t r = d < 0 ? -1 : ss_h5_write_strings(d, "layers", o->style_layers, o->n_style_layers, 0);
    if (d >= 0) H5Dclose(d);
    for (int i = 0; r >= 0 && i < o->n_attrs; i++)
        r = ss_h5_write_strings(f, o->attr_keys[i], &o->attr_values[i], 1, 1);
    if (r < 0) return ss_error(SS_ERR_IO, "cannot write the attributes%s", ss_h5_error_tail());
    return SS_OK;
}

ss_status ss_evalfile_write(const char *path, const ss_eval_output *o, int overwrite) {
    ss_h5_quiet();
    if (!overwrite && access(path, F_OK) == 0)
        return ss_error(SS_ERR_IO, "%s exists; give --force to overwrite it", path);
    char *tmp;
    SS_TRY(ss_file_tmp_name(&tmp, path));
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ss_status st = f < 0 ? ss_error(SS_ERR_IO, "cannot create %s: %s", path, strerror(errno)) : write_all(f, o);
    if (f >= 0 && H5Fclose(f) < 0 && st == SS_OK)
        st = ss_error(SS_ERR_IO, "cannot close %s%s", path, ss_h5_error_tail());
    if (st == SS_OK) st = ss_file_commit_rename(tmp, path); /* removes tmp on failure */
    else unlink(tmp);
    free(tmp);
    if (st != SS_OK) return ss_error(st, "%s: %s", path, ss_error_message());
    return SS_OK;
}
