/* h5util.c - small HDF5 helpers (see h5util.h). */
#include "h5util.h"

#include <errno.h>
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
    if (*file < 0) return ss_error(SS_ERR_FORMAT, "%s: cannot open it as HDF5 (damaged?)", path);
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
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read attribute '%s'", what, name);
        } else {
            for (hssize_t i = 0; i < count; i++) res[i] = strdup(tmp[i] ? tmp[i] : "");
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, tmp);
        }
        H5Tclose(mt);
        free(tmp);
    } else {
        size_t len = H5Tget_size(ft);
        char *buf = calloc((size_t)count * len + 1, 1);
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
    if (n > ((size_t)1 << 32)) {
        st = ss_error(SS_ERR_FORMAT, "%s: dataset '%s' is absurdly large", what, path);
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
        st = ss_error(SS_ERR_FORMAT, "%s: cannot read dataset '%s' (truncated?)", what, path);
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
