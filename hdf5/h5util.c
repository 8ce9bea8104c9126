/* h5util.c - generic HDF5 helpers (see h5util.h). */
#include "h5util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"

void ss_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

ss_status ss_h5_open_read(hid_t *file, const char *path) {
    ss_h5_quiet();
    struct stat sb;
    if (stat(path, &sb) != 0) return ss_error(SS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return ss_error(SS_ERR_IO, "%s is a directory, not an HDF5 file", path);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) return ss_error(SS_ERR_FORMAT, "%s is not an HDF5 file", path);
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0) return ss_error(SS_ERR_FORMAT, "%s: cannot open it as HDF5%s", path, ss_h5_error_tail());
    return SS_OK;
}

void ss_h5_free_strings(char **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

ss_status ss_h5_read_strings(char ***out, int *n, hid_t obj, const char *name, const char *what) {
    *out = NULL;
    *n = 0;
    if (H5Aexists(obj, name) <= 0) return ss_error(SS_ERR_FORMAT, "%s: attribute '%s' is missing", what, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return ss_error(SS_ERR_FORMAT, "%s: cannot open attribute '%s'", what, name);
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    ss_status st = SS_OK;
    char **res = NULL;
    hssize_t count = H5Sget_simple_extent_npoints(sp);
    if (H5Tget_class(ft) != H5T_STRING || count < 0 || count > 100000) {
        st = ss_error(SS_ERR_FORMAT, "%s: attribute '%s' is not an array of strings", what, name);
        goto done;
    }
    res = calloc((size_t)count + 1, sizeof *res);
    if (!res) {
        st = ss_error(SS_ERR_NOMEM, "out of memory reading %s", what);
        goto done;
    }
    if (H5Tis_variable_str(ft) > 0) {
        char **tmp = calloc((size_t)count + 1, sizeof *tmp);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft)); /* HDF5 converts no character set (h5py writes UTF-8) */
        if (!tmp || H5Aread(a, mt, tmp) < 0) {
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read attribute '%s'%s", what, name, ss_h5_error_tail());
            if (tmp) H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, tmp); /* what the failed read had allocated */
        } else {
            for (hssize_t i = 0; i < count; i++) res[i] = strdup(tmp[i] ? tmp[i] : "");
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, tmp);
        }
        H5Tclose(mt);
        free(tmp);
    } else {
        size_t len = H5Tget_size(ft);
        char *buf = len > 0 && (size_t)count * len <= (64u << 20) ? calloc((size_t)count * len + 1, 1) : NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, len);
        H5Tset_strpad(mt, H5T_STR_NULLPAD);
        H5Tset_cset(mt, H5Tget_cset(ft));
        if (!buf || H5Aread(a, mt, buf) < 0) {
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read attribute '%s'", what, name);
        } else {
            for (hssize_t i = 0; i < count; i++) {
                res[i] = calloc(len + 1, 1);
                if (res[i]) memcpy(res[i], buf + (size_t)i * len, len);
            }
        }
        H5Tclose(mt);
        free(buf);
    }
    for (hssize_t i = 0; st == SS_OK && i < count; i++)
        if (!res[i]) st = ss_error(SS_ERR_NOMEM, "out of memory reading %s", what);
done:
    H5Tclose(ft);
    H5Sclose(sp);
    H5Aclose(a);
    if (st != SS_OK) {
        ss_h5_free_strings(res, (int)count);
        return st;
    }
    *out = res;
    *n = (int)count;
    return SS_OK;
}

ss_status ss_h5_read_floats(float **out, int *rank, long long dims[4], hid_t loc, const char *path, const char *what) {
    *out = NULL;
    if (H5Lexists(loc, path, H5P_DEFAULT) <= 0)
        return ss_error(SS_ERR_FORMAT, "%s: dataset '%s' is missing", what, path);
    hid_t d = H5Dopen2(loc, path, H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: '%s' is not a dataset", what, path);
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    ss_status st = SS_OK;
    int r = H5Sget_simple_extent_ndims(sp);
    hsize_t hd[4] = {0, 0, 0, 0};
    if (r < 0 || r > 4 || (H5Tget_class(ty) != H5T_FLOAT && H5Tget_class(ty) != H5T_INTEGER)) {
        st = ss_error(SS_ERR_FORMAT, "%s: dataset '%s' is not a numeric array of rank <= 4", what, path);
        goto done;
    }
    H5Sget_simple_extent_dims(sp, hd, NULL);
    size_t n = 1;
    for (int i = 0; i < r; i++) {
        dims[i] = (long long)hd[i];
        n *= hd[i];
    }
    size_t bytes = 0;
    if (n > ((size_t)1 << 32) || ss_h5_dataset_shape(hd, &bytes, d, r, sizeof(float), what, path) != SS_OK) {
        if (n > ((size_t)1 << 32)) ss_error(SS_ERR_FORMAT, "%s: dataset '%s' is absurdly large", what, path);
        st = SS_ERR_FORMAT;
        goto done;
    }
    *rank = r;
    *out = malloc((n ? n : 1) * sizeof(float));
    if (!*out) {
        st = ss_error(SS_ERR_NOMEM, "out of memory reading '%s' of %s", path, what);
        goto done;
    }
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
        free(*out);
        *out = NULL;
        st = ss_error(SS_ERR_FORMAT, "%s: cannot read dataset '%s'%s", what, path, ss_h5_error_tail());
    }
done:
    H5Tclose(ty);
    H5Sclose(sp);
    H5Dclose(d);
    return st;
}

ss_status ss_h5_set_int_attr(const char *path, const char *object, const char *name, long long value) {
    ss_h5_quiet();
    if (H5Fis_hdf5(path) <= 0) return ss_error(SS_ERR_FORMAT, "%s is not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return ss_error(SS_ERR_IO, "cannot open %s for writing", path);
    hid_t o = H5Oopen(f, object, H5P_DEFAULT);
    herr_t e = o < 0 ? -1 : 0;
    if (e >= 0 && H5Aexists(o, name) > 0) e = H5Adelete(o, name);
    if (e >= 0) {
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(o, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_LLONG, &value);
        if (a >= 0) H5Aclose(a);
        H5Sclose(sp);
    }
    if (o >= 0) H5Oclose(o);
    if (H5Fclose(f) < 0 && e >= 0) e = -1;
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot set attribute '%s' of %s", path, name, object);
    return SS_OK;
}

hid_t ss_h5_vlen_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

herr_t ss_h5_write_strings(hid_t obj, const char *name, const char *const *values, int n, int scalar) {
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0) return -1;
    hid_t t = ss_h5_vlen_str_type();
    hsize_t d = (hsize_t)n;
    hid_t sp = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
    hid_t at = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = at < 0 ? -1 : H5Awrite(at, t, values);
    if (at >= 0) H5Aclose(at);
    H5Sclose(sp);
    H5Tclose(t);
    return r;
}

/* The transfer property list of every read and write: HDF5's default 1 MiB
 * type-conversion buffer is zero-filled on each converting call, which made
 * up most of rank 0's time per message; rows here are far smaller. */
hid_t ss_h5_dxpl(void) {
    static hid_t dxpl = -1;
    if (dxpl < 0) {
        dxpl = H5Pcreate(H5P_DATASET_XFER);
        if (dxpl >= 0 && H5Pset_buffer(dxpl, 64 * 1024, NULL, NULL) < 0) {
            H5Pclose(dxpl);
            dxpl = -1;
        }
    }
    return dxpl >= 0 ? dxpl : H5P_DEFAULT;
}

int ss_h5_exists(hid_t loc, const char *name) { return H5Lexists(loc, name, H5P_DEFAULT) > 0; }

static char *strdup_or_empty(const char *s) { return strdup(s ? s : ""); }

/* ---- attributes ---- */

/* Opens attribute name of obj for writing, creating it with file_type if absent. */
static hid_t attr_for_write(hid_t obj, const char *name, hid_t file_type) {
    if (H5Aexists(obj, name) > 0) return H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
    return at;
}

herr_t ss_h5_attr_set_str(hid_t obj, const char *name, const char *value) {
    hid_t t = ss_h5_vlen_str_type();
    hid_t at = attr_for_write(obj, name, t);
    const char *v = value ? value : "";
    herr_t r = at < 0 ? -1 : H5Awrite(at, t, &v);
    if (at >= 0) H5Aclose(at);
    H5Tclose(t);
    return r;
}

herr_t ss_h5_attr_set_num(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *v) {
    hid_t at = attr_for_write(obj, name, file_type);
    herr_t r = at < 0 ? -1 : H5Awrite(at, mem_type, v);
    if (at >= 0) H5Aclose(at);
    return r;
}

herr_t ss_h5_attr_set_ll(hid_t obj, const char *name, long long v) {
    return ss_h5_attr_set_num(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &v);
}

herr_t ss_h5_attr_set_double(hid_t obj, const char *name, double v) {
    return ss_h5_attr_set_num(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* Reads a numeric scalar attribute; returns 0 on success, -1 when absent/unreadable. */
int ss_h5_attr_get_num(hid_t obj, const char *name, hid_t mem_type, void *out) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t at = H5Aopen(obj, name, H5P_DEFAULT);
    if (at < 0) return -1;
    /* one number: an array attribute would be read past *out */
    hid_t sp = H5Aget_space(at), ty = H5Aget_type(at);
    H5T_class_t cls = ty < 0 ? H5T_NO_CLASS : H5Tget_class(ty);
    herr_t r = sp < 0 || H5Sget_simple_extent_npoints(sp) != 1 || (cls != H5T_INTEGER && cls != H5T_FLOAT) ? -1 : 0;
    if (r >= 0) r = H5Aread(at, mem_type, out);
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(at);
    return r < 0 ? -1 : 0;
}

int ss_h5_attr_get_ll(hid_t obj, const char *name, long long *out) {
    return ss_h5_attr_get_num(obj, name, H5T_NATIVE_LLONG, out);
}

/* Reads a scalar string attribute into a malloc'ed string (*out = "" copy when absent). */
ss_status ss_h5_attr_get_str(hid_t obj, const char *name, char **out, const char *what) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) {
        *out = strdup_or_empty("");
        SS_ALLOC_CHECK(*out);
        return SS_OK;
    }
    char **s = NULL;
    int n = 0;
    SS_TRY(ss_h5_read_strings(&s, &n, obj, name, what));
    *out = n > 0 ? s[0] : strdup_or_empty("");
    if (n > 0) s[0] = NULL;
    ss_h5_free_strings(s, n);
    SS_ALLOC_CHECK(*out);
    return SS_OK;
}

/* ---- extendible datasets ---- */

/* Creates an extendible chunked dataset with first dimension 0 (unlimited). */
hid_t ss_h5_create_extendible(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                              const hsize_t *chunk, int deflate, const void *fill) {
    hsize_t maxd[4];
    if (rank < 1 || rank > 4) return -1;
    for (int k = 0; k < rank; k++) maxd[k] = k == 0 ? H5S_UNLIMITED : dims[k];
    hid_t sp = H5Screate_simple(rank, dims, maxd);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t e = sp < 0 || pl < 0 ? -1 : H5Pset_chunk(pl, rank, chunk);
    if (e >= 0 && deflate) e = H5Pset_deflate(pl, (unsigned)deflate);
    if (e >= 0 && fill) e = H5Pset_fill_value(pl, type, fill);
    hid_t d = e < 0 ? -1 : H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    if (pl >= 0) H5Pclose(pl);
    if (sp >= 0) H5Sclose(sp);
    return d;
}

/* Extent of the first dimension of dataset name in loc (0 when absent, -1 on error). */
long long ss_h5_first_extent(hid_t loc, const char *name) {
    if (!ss_h5_exists(loc, name)) return 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[4] = {0};
    int r = H5Sget_simple_extent_ndims(sp);
    long long n = -1;
    if (r >= 1 && r <= 4 && H5Sget_simple_extent_dims(sp, dims, NULL) >= 0) n = (long long)dims[0];
    H5Sclose(sp);
    H5Dclose(d);
    return n;
}

/* Writes `count` rows starting at row `start` of the open dataset d (rank r,
 * other dimensions from the dataset) from buf in memory type mt. */
herr_t ss_h5_write_rows(hid_t d, hid_t mt, hsize_t start, hsize_t count, const void *buf) {
    hid_t fs = H5Dget_space(d);
    if (fs < 0) return -1;
    int r = H5Sget_simple_extent_ndims(fs);
    hsize_t dims[4] = {0}, off[4] = {0}, cnt[4] = {0};
    if (r < 1 || r > 4 || H5Sget_simple_extent_dims(fs, dims, NULL) < 0) {
        H5Sclose(fs);
        return -1;
    }
    for (int k = 0; k < r; k++) cnt[k] = dims[k];
    off[0] = start;
    cnt[0] = count;
    herr_t e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(r, cnt, NULL);
    if (e >= 0) e = H5Dwrite(d, mt, ms, fs, ss_h5_dxpl(), buf);
    H5Sclose(ms);
    H5Sclose(fs);
    return e;
}

/* Grows the first dimension of d by one and writes that row. */
herr_t ss_h5_append_row(hid_t d, hid_t mt, const void *buf) {
    hid_t fs = H5Dget_space(d);
    hsize_t dims[4] = {0};
    int r = fs < 0 ? -1 : H5Sget_simple_extent_ndims(fs);
    herr_t e = r < 1 || r > 4 ? -1 : H5Sget_simple_extent_dims(fs, dims, NULL);
    if (fs >= 0) H5Sclose(fs);
    if (e < 0) return -1;
    hsize_t n = dims[0];
    dims[0] = n + 1;
    if (H5Dset_extent(d, dims) < 0) return -1;
    return ss_h5_write_rows(d, mt, n, 1, buf);
}

/* Sets the first dimension of dataset name in loc to n (if it exists). */
herr_t ss_h5_set_first_extent(hid_t loc, const char *name, hsize_t n) {
    if (!ss_h5_exists(loc, name)) return 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t fs = H5Dget_space(d);
    hsize_t dims[4] = {0};
    int r = fs < 0 ? -1 : H5Sget_simple_extent_ndims(fs);
    herr_t e = r < 1 || r > 4 ? -1 : H5Sget_simple_extent_dims(fs, dims, NULL);
    if (fs >= 0) H5Sclose(fs);
    dims[0] = n;
    if (e >= 0) e = H5Dset_extent(d, dims);
    H5Dclose(d);
    return e;
}

ss_status ss_h5_dataset_shape(hsize_t *dims, size_t *bytes, hid_t d, int rank, size_t elem_size, const char *what,
                              const char *name) {
    *bytes = 0;
    hid_t sp = H5Dget_space(d);
    int r = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (r != rank || H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        if (sp >= 0) H5Sclose(sp);
        return ss_error(SS_ERR_FORMAT, "%s: %s has %d dimension(s), not %d", what, name, r, rank);
    }
    H5Sclose(sp);
    size_t n = elem_size;
    for (int k = 0; k < rank; k++) {
        if (dims[k] > 0 && n > SIZE_MAX / 2 / dims[k])
            return ss_error(SS_ERR_FORMAT, "%s: %s is absurdly large", what, name);
        n *= (size_t)dims[k];
    }
    /* the file must be able to hold what it declares: uncompressed data in the
     * space allocated to it, compressed data within deflate's ratio (about
     * 1000:1) of the file's size */
    hid_t pl = H5Dget_create_plist(d);
    int filtered = pl >= 0 && H5Pget_nfilters(pl) > 0;
    if (pl >= 0) H5Pclose(pl);
    hsize_t stored = H5Dget_storage_size(d);
    hid_t f = H5Iget_file_id(d);
    hsize_t fsize = 0;
    if (f >= 0) {
        H5Fget_filesize(f, &fsize);
        H5Fclose(f);
    }
    hid_t ft = H5Dget_type(d);
    size_t fe = ft < 0 ? 0 : H5Tget_size(ft);
    if (ft >= 0) H5Tclose(ft);
    size_t count = n / elem_size, in_file = fe && count > SIZE_MAX / fe ? SIZE_MAX : count * fe;
    size_t limit = filtered ? (size_t)fsize * 1100 + (1u << 20) : (size_t)stored + (1u << 20);
    if (in_file > limit)
        return ss_error(SS_ERR_FORMAT, "%s: %s declares %zu bytes, more than the file holds (a damaged file)", what,
                        name, in_file);
    *bytes = n;
    return SS_OK;
}

ss_status ss_h5_read_floats_shaped(float **out, hid_t loc, const char *path, int rank, const long long *dims,
                                   const char *what) {
    *out = NULL;
    if (rank < 0 || rank > 4) return ss_error(SS_ERR_ARG, "%s: bad rank %d", __func__, rank);
    if (H5Lexists(loc, path, H5P_DEFAULT) <= 0)
        return ss_error(SS_ERR_FORMAT, "%s: dataset '%s' is missing", what, path);
    hid_t d = H5Dopen2(loc, path, H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: '%s' is not a dataset", what, path);
    hid_t ty = H5Dget_type(d);
    H5T_class_t cls = ty < 0 ? H5T_NO_CLASS : H5Tget_class(ty);
    if (ty >= 0) H5Tclose(ty);
    hsize_t have[4] = {0, 0, 0, 0};
    size_t bytes = 0;
    ss_status st = SS_OK;
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        st = ss_error(SS_ERR_FORMAT, "%s: dataset '%s' is not numeric", what, path);
    else st = ss_h5_dataset_shape(have, &bytes, d, rank, sizeof(float), what, path);
    for (int k = 0; st == SS_OK && k < rank; k++)
        if ((long long)have[k] != dims[k]) {
            char want[96] = "", got[96] = "";
            for (int j = 0; j < rank; j++) {
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", j ? ", " : "", dims[j]);
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", j ? ", " : "",
                         (unsigned long long)have[j]);
            }
            st = ss_error(SS_ERR_FORMAT, "%s: dataset '%s' has shape (%s), expected (%s)", what, path, got, want);
        }
    if (st == SS_OK) {
        *out = malloc(bytes ? bytes : 1);
        if (!*out) st = ss_error(SS_ERR_NOMEM, "out of memory reading '%s' of %s", path, what);
        else if (bytes && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
            free(*out);
            *out = NULL;
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read dataset '%s'%s", what, path, ss_h5_error_tail());
        }
    }
    H5Dclose(d);
    return st;
}

/* H5Ewalk2 callback: keeps the innermost (last walked with H5E_WALK_UPWARD
 * from the first, i.e. the deepest) error's description. */
static herr_t innermost(unsigned n, const H5E_error2_t *err, void *data) {
    if (n == 0 && err && err->desc) snprintf((char *)data, 200, "%s", err->desc);
    return 0;
}

const char *ss_h5_error_tail(void) {
    static _Thread_local char tail[240];
    char desc[200] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, desc);
    if (desc[0]) snprintf(tail, sizeof tail, " (HDF5: %s)", desc);
    else tail[0] = '\0';
    return tail;
}
