/* h5util.h - small HDF5 helpers shared by the weights reader and the
 * evaluation files: quiet error stack, string-array attributes, float
 * datasets. Only hdf5/ includes HDF5's headers. */
#ifndef SS_H5UTIL_H
#define SS_H5UTIL_H

#include <hdf5.h>

#include "status.h"

/* Turns off HDF5's own error printing (our messages replace it). */
void ss_h5_quiet(void);

/* Opens path read-only. Fails with SS_ERR_IO (missing/unreadable) or
 * SS_ERR_FORMAT (not HDF5) naming the path. *file must be closed with H5Fclose. */
ss_status ss_h5_open_read(hid_t *file, const char *path);

/* Reads the string-array attribute `name` of object obj (fixed or variable
 * length strings). *out is a malloc'ed array of *n malloc'ed strings; free
 * with ss_h5_free_strings. `what` names the object in error messages. */
ss_status ss_h5_read_strings(char ***out, int *n, hid_t obj, const char *name, const char *what);

/* Frees an array returned by ss_h5_read_strings. */
void ss_h5_free_strings(char **s, int n);

/* Reads dataset `path` of loc as float32 into a new malloc'ed array, with its
 * shape in dims[0..*rank-1] (rank <= 4). `what` names the file in errors. */
ss_status ss_h5_read_floats(float **out, int *rank, long long dims[4], hid_t loc, const char *path, const char *what);

/* Sets (creating or replacing) the 64-bit integer attribute `name` of the
 * object `object` ("/" for the root group) in the existing HDF5 file path.
 * For tools and tests that mark or repair files; SS_ERR_IO / SS_ERR_FORMAT
 * naming the path otherwise. */
ss_status ss_h5_set_int_attr(const char *path, const char *object, const char *name, long long value);

/* Returns a new HDF5 type for variable-length UTF-8 strings (close with H5Tclose). */
hid_t ss_h5_vlen_str_type(void);

/* Writes (replacing) attribute `name` of obj as n variable-length UTF-8
 * strings: a 1-D array, or a scalar when scalar is 1 (then n must be 1).
 * Returns a negative value on failure. */
herr_t ss_h5_write_strings(hid_t obj, const char *name, const char *const *values, int n, int scalar);

#endif
