/* h5util.h - generic HDF5 helpers shared by the archive, the weights reader
 * and the evaluation files: quiet error stack, attributes, string arrays,
 * float datasets, extendible (first dimension unlimited) datasets. Only
 * hdf5/ includes HDF5's headers. Helpers returning herr_t/hid_t give a
 * negative value on failure and set no message; those returning ss_status
 * set one with ss_error. */
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
 * shape in dims[0..*rank-1] (rank <= 4). `what` names the file in errors.
 * Refuses (before allocating) a dataset larger than the file can hold. */
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

/* The transfer property list for reads and writes of small rows (a 64 KiB
 * conversion buffer instead of HDF5's zero-filled 1 MiB one). Not to be closed. */
hid_t ss_h5_dxpl(void);

/* 1 when link `name` exists in loc, 0 otherwise (also on error). */
int ss_h5_exists(hid_t loc, const char *name);

/* Sets (creating when absent) the scalar attribute `name` of obj: a
 * variable-length UTF-8 string (NULL = ""), a number stored as file_type
 * from *v of mem_type, an int64, a float64. */
herr_t ss_h5_attr_set_str(hid_t obj, const char *name, const char *value);
herr_t ss_h5_attr_set_num(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *v);
herr_t ss_h5_attr_set_ll(hid_t obj, const char *name, long long v);
herr_t ss_h5_attr_set_double(hid_t obj, const char *name, double v);

/* Reads the numeric scalar attribute `name` of obj into *out as mem_type;
 * returns 0 on success, -1 when absent, not a scalar or unreadable. */
int ss_h5_attr_get_num(hid_t obj, const char *name, hid_t mem_type, void *out);
int ss_h5_attr_get_ll(hid_t obj, const char *name, long long *out);

/* Reads the string attribute `name` of obj into a malloc'ed string (a ""
 * copy when absent); `what` names the object in errors. */
ss_status ss_h5_attr_get_str(hid_t obj, const char *name, char **out, const char *what);

/* Creates a chunked dataset of the given rank whose first dimension is
 * unlimited (dims[0] its initial extent), optionally deflated and with a fill value. */
hid_t ss_h5_create_extendible(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                              const hsize_t *chunk, int deflate, const void *fill);

/* Extent of the first dimension of dataset `name` in loc: 0 when absent, -1 on error. */
long long ss_h5_first_extent(hid_t loc, const char *name);

/* Writes `count` rows from row `start` of the open dataset d (the other
 * dimensions whole) from buf in memory type mt. */
herr_t ss_h5_write_rows(hid_t d, hid_t mt, hsize_t start, hsize_t count, const void *buf);

/* Grows the first dimension of d by one and writes that row from buf. */
herr_t ss_h5_append_row(hid_t d, hid_t mt, const void *buf);

/* Sets the first dimension of dataset `name` in loc to n (nothing when absent). */
herr_t ss_h5_set_first_extent(hid_t loc, const char *name, hsize_t n);

/* Reads dataset `path` of loc as float32 into a new malloc'ed array after
 * checking (before allocating anything) that it is numeric with exactly
 * `rank` dimensions equal to dims[0..rank-1] (rank <= 4): SS_ERR_FORMAT
 * naming `what`, the dataset and both shapes otherwise. */
ss_status ss_h5_read_floats_shaped(float **out, hid_t loc, const char *path, int rank, const long long *dims,
                                   const char *what);

/* Checks that dataset d has exactly `rank` dimensions (into dims) and that
 * reading all of it as elements of elem_size bytes (*bytes) fits in memory
 * and in what the file can hold: uncompressed data in the space allocated
 * to it, compressed data within about 1000 times the file's size. Call it
 * before allocating a buffer for a dataset; SS_ERR_FORMAT naming what and
 * name otherwise. */
ss_status ss_h5_dataset_shape(hsize_t *dims, size_t *bytes, hid_t d, int rank, size_t elem_size, const char *what,
                              const char *name);

/* " (HDF5: <the innermost error of HDF5's error stack>)" for the failure
 * being reported, or "" when the stack is empty: append it to a message.
 * Valid until the next call on this thread. */
const char *ss_h5_error_tail(void);

#endif
