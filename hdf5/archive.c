/* archive.c - the sweep archive (see archive.h and SCHEMA.md).
 *
 * Discipline that keeps the file readable by other processes without SWMR:
 *  - the metadata cache never evicts (evictions off), so HDF5 metadata reaches
 *    the file only in H5Fflush; every writing call ends with one;
 *  - raw data written between flushes goes either to newly allocated space
 *    (not referenced by the flushed state) or in place into uncompressed
 *    chunks/contiguous storage (the run table, metrics rows, checkpoint slots);
 *    a compressed chunk is never rewritten;
 *  - calls that free raw space (truncations, replacing the final image) flush
 *    right after freeing, before anything could reuse the space;
 *  - checkpoints go to the older of two slots, marked incomplete and flushed
 *    before their data is touched, marked complete with a CRC-32 after.
 * The writer disables HDF5's flock-based file locking (so that h5py readers,
 * which take a shared flock, are never refused) and instead holds an open
 * file description lock (fcntl F_OFD_SETLK) to keep a second writer out. */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "commands.h"
#include "h5util.h"

enum { ID_MAX = 255, METRICS_CHUNK = 128, TABLE_CHUNK = 64, SNAPSHOT_DEFLATE = 4 };

struct ss_archive {
    hid_t file;
    int writable;
    int lock_fd;
    char *path;
    int n_runs, cap;
    char **ids; /* ids[i] of run i (the run table's order) */
};

static const char *const STATUS_NAMES[SS_RUN_STATUS_COUNT] = {"pending", "running", "done", "failed", "interrupted"};

/* ------------------------------------------------------------------ small helpers */

/* The transfer property list of every read and write: HDF5's default 1 MiB
 * type-conversion buffer is zero-filled on each converting call, which made
 * up most of rank 0's time per message; rows here are far smaller. */
static hid_t ar_dxpl(void) {
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

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *xstrdup(const char *s) { return strdup(s ? s : ""); }

static ss_status check_writable(const ss_archive *a, const char *what) {
    if (!a) return ss_error(SS_ERR_ARG, "%s: no archive", what);
    if (!a->writable) return ss_error(SS_ERR_ARG, "%s: archive %s is open read-only", what, a->path);
    return SS_OK;
}

static ss_status check_run(const ss_archive *a, int i, const char *what) {
    if (!a) return ss_error(SS_ERR_ARG, "%s: no archive", what);
    if (i < 0 || i >= a->n_runs)
        return ss_error(SS_ERR_ARG, "%s: run index %d out of range (archive %s has %d runs)", what, i, a->path,
                        a->n_runs);
    return SS_OK;
}

/* Space the archive's filesystem must keep free (bytes) besides what a call
 * writes: below it writing calls refuse with a clear error instead of letting
 * a flush fail half-way on a full disk (which can damage the runs being
 * written). STYLESWEEP_DISK_RESERVE_MB overrides the 16 MiB. */
static unsigned long long disk_reserve(void) {
    const char *e = getenv("STYLESWEEP_DISK_RESERVE_MB");
    char *end;
    double mb = e && *e ? strtod(e, &end) : 16.0;
    if (e && *e && (*end || !(mb >= 0))) mb = 16.0;
    return (unsigned long long)(mb * 1048576.0);
}

/* Refuses (SS_ERR_IO) when the filesystem holding path has less than the
 * reserve plus twice `bytes` (what the call is about to write) available.
 * creating: the archive does not exist yet (the message differs). */
static ss_status ensure_space(const char *path, const char *shown, unsigned long long bytes, int creating) {
    struct statvfs v;
    if (statvfs(path, &v) != 0) return SS_OK; /* unknown: let the write tell */
    unsigned long long avail = (unsigned long long)v.f_bavail * (unsigned long long)v.f_frsize;
    unsigned long long need = disk_reserve() + 2 * bytes + 65536;
    if (avail < need)
        return ss_error(SS_ERR_IO,
                        "the disk holding %s is full: %.2f MiB left, stylesweep needs %.2f MiB to write safely "
                        "(STYLESWEEP_DISK_RESERVE_MB sets the %g MiB it keeps); %s",
                        shown, avail / 1048576.0, need / 1048576.0, disk_reserve() / 1048576.0,
                        creating ? "nothing was written: free some space and run again"
                                 : "this update was not written and the archive holds everything before it: "
                                   "free some space and run again with --resume");
    return SS_OK;
}

/* check_writable, then ensure_space for a call that writes about `bytes`. */
static ss_status check_writing(const ss_archive *a, const char *what, unsigned long long bytes) {
    SS_TRY(check_writable(a, what));
    return ensure_space(a->path, a->path, bytes, 0);
}

static ss_status flush(ss_archive *a) {
    if (H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0)
        return ss_error(SS_ERR_IO, "%s: cannot flush the archive (disk full?)", a->path);
    return SS_OK;
}

/* Test hook (tests/test_resume.sh): with STYLESWEEP_TEST_KILL=WHERE:N in the
 * environment the process kills itself with SIGKILL the N-th time it reaches
 * point WHERE (checkpoint, metrics, final: inside that writing call, after
 * its data and before its last flush), as a kill -9 at the worst moment
 * would. Not for use outside tests. */
static void test_kill_point(const char *where) {
    static int count;
    const char *e = getenv("STYLESWEEP_TEST_KILL");
    size_t n = strlen(where);
    if (!e || strncmp(e, where, n) != 0 || e[n] != ':') return;
    if (++count == atoi(e + n + 1)) raise(SIGKILL);
}

/* Opens /runs/<id> of run i. */
static hid_t open_run(const ss_archive *a, int i) {
    char name[ID_MAX + 8];
    snprintf(name, sizeof name, "/runs/%s", a->ids[i]);
    return H5Gopen2(a->file, name, H5P_DEFAULT);
}

static int exists(hid_t loc, const char *name) { return H5Lexists(loc, name, H5P_DEFAULT) > 0; }

/* CRC-32 (IEEE 802.3, as zlib.crc32) continued from crc. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
    uint32_t table[256];
    for (uint32_t k = 0; k < 256; k++) {
        uint32_t c = k;
        for (int j = 0; j < 8; j++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[k] = c;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

/* CRC-32 of a checkpoint: the image as float32 little-endian bytes, then the state. */
static uint32_t checkpoint_crc(const float *image, size_t n_floats, const unsigned char *state, size_t state_size) {
    uint32_t crc = 0;
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe == 1) {
        crc = crc32_update(crc, (const unsigned char *)image, n_floats * sizeof(float));
    } else {
        for (size_t i = 0; i < n_floats; i++) {
            unsigned char b[4], *src = (unsigned char *)&image[i];
            for (int j = 0; j < 4; j++) b[j] = src[3 - j];
            crc = crc32_update(crc, b, 4);
        }
    }
    return crc32_update(crc, state, state_size);
}

/* ------------------------------------------------------------------ attributes */

static hid_t vlen_str_type(void) { return ss_h5_vlen_str_type(); }

/* Opens attribute name of obj for writing, creating it with file_type if absent. */
static hid_t attr_for_write(hid_t obj, const char *name, hid_t file_type) {
    if (H5Aexists(obj, name) > 0) return H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
    return at;
}

static herr_t attr_set_str(hid_t obj, const char *name, const char *value) {
    hid_t t = vlen_str_type();
    hid_t at = attr_for_write(obj, name, t);
    const char *v = value ? value : "";
    herr_t r = at < 0 ? -1 : H5Awrite(at, t, &v);
    if (at >= 0) H5Aclose(at);
    H5Tclose(t);
    return r;
}

static herr_t attr_set_num(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *v) {
    hid_t at = attr_for_write(obj, name, file_type);
    herr_t r = at < 0 ? -1 : H5Awrite(at, mem_type, v);
    if (at >= 0) H5Aclose(at);
    return r;
}

static herr_t attr_set_ll(hid_t obj, const char *name, long long v) {
    return attr_set_num(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &v);
}

static herr_t attr_set_double(hid_t obj, const char *name, double v) {
    return attr_set_num(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* Writes a 1-D array of strings as an attribute (replacing an existing one). */
static herr_t attr_set_strings(hid_t obj, const char *name, const char *const *v, int n) {
    return ss_h5_write_strings(obj, name, v, n, 0);
}

/* Reads a numeric scalar attribute; returns 0 on success, -1 when absent/unreadable. */
static int attr_get_num(hid_t obj, const char *name, hid_t mem_type, void *out) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t at = H5Aopen(obj, name, H5P_DEFAULT);
    if (at < 0) return -1;
    herr_t r = H5Aread(at, mem_type, out);
    H5Aclose(at);
    return r < 0 ? -1 : 0;
}

static int attr_get_ll(hid_t obj, const char *name, long long *out) {
    return attr_get_num(obj, name, H5T_NATIVE_LLONG, out);
}

/* Reads a scalar string attribute into a malloc'ed string (*out = "" copy when absent). */
static ss_status attr_get_str(hid_t obj, const char *name, char **out, const char *what) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) {
        *out = xstrdup("");
        SS_ALLOC_CHECK(*out);
        return SS_OK;
    }
    char **s = NULL;
    int n = 0;
    SS_TRY(ss_h5_read_strings(&s, &n, obj, name, what));
    *out = n > 0 ? s[0] : xstrdup("");
    if (n > 0) s[0] = NULL;
    ss_h5_free_strings(s, n);
    SS_ALLOC_CHECK(*out);
    return SS_OK;
}

/* ------------------------------------------------------------------ types */

/* The run table: struct table_row in memory, a packed compound in the file. */
typedef struct table_row {
    char *id;
    signed char status;
    int attempts;
    int iterations_done;
    double final_loss;
    char *host;
    int rank;
    char *backend;
    char *device;
    double start_time;
    double end_time;
    char *error;
} table_row;

typedef enum { F_STR, F_ENUM, F_INT, F_DOUBLE } field_kind;
static const struct {
    const char *name;
    size_t offset;
    field_kind kind;
} TABLE_FIELDS[] = {
    {"id", offsetof(table_row, id), F_STR},
    {"status", offsetof(table_row, status), F_ENUM},
    {"attempts", offsetof(table_row, attempts), F_INT},
    {"iterations_done", offsetof(table_row, iterations_done), F_INT},
    {"final_loss", offsetof(table_row, final_loss), F_DOUBLE},
    {"host", offsetof(table_row, host), F_STR},
    {"rank", offsetof(table_row, rank), F_INT},
    {"backend", offsetof(table_row, backend), F_STR},
    {"device", offsetof(table_row, device), F_STR},
    {"start_time", offsetof(table_row, start_time), F_DOUBLE},
    {"end_time", offsetof(table_row, end_time), F_DOUBLE},
    {"error", offsetof(table_row, error), F_STR},
};
enum { N_TABLE_FIELDS = sizeof TABLE_FIELDS / sizeof TABLE_FIELDS[0] };

/* The status enum over int8 (file: little-endian; memory: native). */
static hid_t status_enum_type(int file) {
    hid_t t = H5Tenum_create(file ? H5T_STD_I8LE : H5T_NATIVE_SCHAR);
    for (int k = 0; k < SS_RUN_STATUS_COUNT; k++) {
        signed char v = (signed char)k;
        H5Tenum_insert(t, STATUS_NAMES[k], &v);
    }
    return t;
}

/* Builds the table's compound type: file = 1 for the packed file type with
 * every field; file = 0 for the memory type holding the fields named in
 * `only` (NULL-terminated; NULL = all). */
static hid_t table_type(int file, const char *const *only) {
    size_t size = 0;
    hid_t sub[4];
    sub[F_STR] = vlen_str_type();
    sub[F_ENUM] = status_enum_type(file);
    sub[F_INT] = file ? H5T_STD_I32LE : H5T_NATIVE_INT;
    sub[F_DOUBLE] = file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE;
    if (file)
        for (int k = 0; k < N_TABLE_FIELDS; k++) size += H5Tget_size(sub[TABLE_FIELDS[k].kind]);
    hid_t t = H5Tcreate(H5T_COMPOUND, file ? size : sizeof(table_row));
    size_t off = 0;
    for (int k = 0; k < N_TABLE_FIELDS; k++) {
        int use = 1;
        if (!file && only) {
            use = 0;
            for (int j = 0; only[j]; j++)
                if (!strcmp(only[j], TABLE_FIELDS[k].name)) use = 1;
        }
        if (!use) continue;
        hid_t ft = sub[TABLE_FIELDS[k].kind];
        H5Tinsert(t, TABLE_FIELDS[k].name, file ? off : TABLE_FIELDS[k].offset, ft);
        off += H5Tget_size(ft);
    }
    H5Tclose(sub[F_STR]);
    H5Tclose(sub[F_ENUM]);
    return t;
}

/* The metrics table: ss_archive_metrics in memory, packed little-endian in the file. */
static hid_t metrics_type(int file) {
    hid_t i32 = file ? H5T_STD_I32LE : H5T_NATIVE_INT, f64 = file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE;
    size_t size = file ? 2 * 4 + 6 * 8 : sizeof(ss_archive_metrics);
    hid_t t = H5Tcreate(H5T_COMPOUND, size);
#define M_FIELD(name, ty, packed_off) \
    H5Tinsert(t, #name, file ? (size_t)(packed_off) : HOFFSET(ss_archive_metrics, name), ty)
    M_FIELD(iteration, i32, 0);
    M_FIELD(loss, f64, 4);
    M_FIELD(content, f64, 12);
    M_FIELD(style, f64, 20);
    M_FIELD(tv, f64, 28);
    M_FIELD(evaluations, i32, 36);
    M_FIELD(seconds, f64, 40);
    M_FIELD(improvement_percent, f64, 48);
#undef M_FIELD
    return t;
}

/* ------------------------------------------------------------------ datasets */

/* Creates an extendible chunked dataset with first dimension 0 (unlimited). */
static hid_t create_extendible(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                               const hsize_t *chunk, int deflate, const void *fill) {
    hsize_t maxd[4];
    for (int k = 0; k < rank; k++) maxd[k] = k == 0 ? H5S_UNLIMITED : dims[k];
    hid_t sp = H5Screate_simple(rank, dims, maxd);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, rank, chunk);
    if (deflate) H5Pset_deflate(pl, deflate);
    if (fill) H5Pset_fill_value(pl, type, fill);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Pclose(pl);
    H5Sclose(sp);
    return d;
}

/* Extent of the first dimension of dataset name in loc (0 when absent, -1 on error). */
static long long first_extent(hid_t loc, const char *name) {
    if (!exists(loc, name)) return 0;
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
static herr_t write_rows(hid_t d, hid_t mt, hsize_t start, hsize_t count, const void *buf) {
    hid_t fs = H5Dget_space(d);
    int r = H5Sget_simple_extent_ndims(fs);
    hsize_t dims[4] = {0}, off[4] = {0}, cnt[4] = {0};
    H5Sget_simple_extent_dims(fs, dims, NULL);
    for (int k = 0; k < r; k++) cnt[k] = dims[k];
    off[0] = start;
    cnt[0] = count;
    herr_t e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(r, cnt, NULL);
    if (e >= 0) e = H5Dwrite(d, mt, ms, fs, ar_dxpl(), buf);
    H5Sclose(ms);
    H5Sclose(fs);
    return e;
}

/* Grows the first dimension of d by one and writes that row. */
static herr_t append_row(hid_t d, hid_t mt, const void *buf) {
    hid_t fs = H5Dget_space(d);
    hsize_t dims[4] = {0};
    int r = H5Sget_simple_extent_ndims(fs);
    H5Sget_simple_extent_dims(fs, dims, NULL);
    H5Sclose(fs);
    if (r < 1) return -1;
    hsize_t n = dims[0];
    dims[0] = n + 1;
    if (H5Dset_extent(d, dims) < 0) return -1;
    return write_rows(d, mt, n, 1, buf);
}

/* Sets the first dimension of dataset name in loc to n (if it exists). */
static herr_t set_first_extent(hid_t loc, const char *name, hsize_t n) {
    if (!exists(loc, name)) return 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t fs = H5Dget_space(d);
    hsize_t dims[4] = {0};
    H5Sget_simple_extent_dims(fs, dims, NULL);
    H5Sclose(fs);
    dims[0] = n;
    herr_t e = H5Dset_extent(d, dims);
    H5Dclose(d);
    return e;
}

/* ------------------------------------------------------------------ run table */

/* Writes the fields `only` (NULL-terminated) of row i from *row. */
static ss_status table_write(ss_archive *a, int i, const table_row *row, const char *const *only) {
    hid_t d = H5Dopen2(a->file, "/run_table", H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: /run_table is missing", a->path);
    hid_t mt = table_type(0, only);
    herr_t e = write_rows(d, mt, (hsize_t)i, 1, row);
    H5Tclose(mt);
    H5Dclose(d);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot write row %d of /run_table", a->path, i);
    return SS_OK;
}

/* Reads row i (all fields); free the strings with table_row_reclaim. */
static ss_status table_read(ss_archive *a, int i, table_row *row) {
    memset(row, 0, sizeof *row);
    hid_t d = H5Dopen2(a->file, "/run_table", H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: /run_table is missing", a->path);
    hid_t mt = table_type(0, NULL);
    hid_t fs = H5Dget_space(d);
    hsize_t off = (hsize_t)i, cnt = 1;
    herr_t e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    hid_t ms = H5Screate_simple(1, &cnt, NULL);
    if (e >= 0) e = H5Dread(d, mt, ms, fs, ar_dxpl(), row);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Tclose(mt);
    H5Dclose(d);
    if (e < 0) {
        memset(row, 0, sizeof *row);
        return ss_error(SS_ERR_FORMAT, "%s: cannot read row %d of /run_table", a->path, i);
    }
    return SS_OK;
}

static void table_row_reclaim(table_row *row) {
    hid_t mt = table_type(0, NULL);
    hsize_t one = 1;
    hid_t sp = H5Screate_simple(1, &one, NULL);
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, row);
    H5Sclose(sp);
    H5Tclose(mt);
    memset(row, 0, sizeof *row);
}

/* Reads every id of the run table into a->ids. */
static ss_status load_ids(ss_archive *a) {
    if (!exists(a->file, "run_table"))
        return ss_error(SS_ERR_FORMAT, "%s: damaged archive (/run_table is missing)", a->path);
    hid_t d = H5Dopen2(a->file, "/run_table", H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: damaged archive (cannot open /run_table)", a->path);
    hid_t fs = H5Dget_space(d);
    hsize_t n = 0;
    int r = H5Sget_simple_extent_ndims(fs);
    if (r == 1) H5Sget_simple_extent_dims(fs, &n, NULL);
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(char *));
    hid_t st = vlen_str_type();
    H5Tinsert(mt, "id", 0, st);
    char **ids = calloc(n ? n : 1, sizeof *ids);
    herr_t e = (r != 1 || !ids) ? -1 : H5Dread(d, mt, H5S_ALL, H5S_ALL, ar_dxpl(), ids);
    ss_status status = SS_OK;
    if (e < 0) {
        status = ss_error(SS_ERR_FORMAT, "%s: damaged archive (cannot read the ids of /run_table)", a->path);
        free(ids);
        ids = NULL;
    }
    H5Tclose(st);
    H5Tclose(mt);
    H5Sclose(fs);
    H5Dclose(d);
    if (status != SS_OK) return status;
    /* copy into our own allocations (HDF5's vlen buffers came from its allocator) */
    a->ids = calloc(n + 8, sizeof *a->ids);
    a->cap = (int)n + 8;
    for (hsize_t k = 0; a->ids && k < n; k++) {
        a->ids[k] = xstrdup(ids[k]);
        if (!a->ids[k]) status = SS_ERR_NOMEM;
    }
    if (!a->ids) status = SS_ERR_NOMEM;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t rt = H5Tcreate(H5T_COMPOUND, sizeof(char *));
    hid_t st2 = vlen_str_type();
    H5Tinsert(rt, "id", 0, st2);
    H5Dvlen_reclaim(rt, sp, H5P_DEFAULT, ids);
    H5Tclose(st2);
    H5Tclose(rt);
    H5Sclose(sp);
    free(ids);
    if (status != SS_OK) return ss_error(SS_ERR_NOMEM, "out of memory reading the run table of %s", a->path);
    a->n_runs = (int)n;
    for (int k = 0; k < a->n_runs; k++) {
        char name[ID_MAX + 8];
        snprintf(name, sizeof name, "/runs/%s", a->ids[k]);
        if (!a->ids[k][0] || strlen(a->ids[k]) > ID_MAX || strchr(a->ids[k], '/') || !exists(a->file, "runs") ||
            !exists(a->file, name))
            return ss_error(SS_ERR_FORMAT, "%s: damaged archive (run '%s' of /run_table has no group %s)", a->path,
                            a->ids[k], name);
    }
    return SS_OK;
}

/* ------------------------------------------------------------------ open / create */

static hid_t make_fapl(int writer) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* no HDF5 flock: readers must never be refused, the writer has its own lock */
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 0, 1);
#else
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0); /* older HDF5 reads it at each open */
#endif
    if (writer) {
        H5AC_cache_config_t cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.version = H5AC__CURR_CACHE_CONFIG_VERSION;
        if (H5Pget_mdc_config(fapl, &cfg) >= 0) {
            cfg.evictions_enabled = 0;
            cfg.incr_mode = H5C_incr__off;
            cfg.flash_incr_mode = H5C_flash_incr__off;
            cfg.decr_mode = H5C_decr__off;
            H5Pset_mdc_config(fapl, &cfg);
        }
    }
    return fapl;
}

/* Takes the single-writer lock on path into *fd. */
static ss_status take_lock(int *fd, const char *path, const char *shown) {
    *fd = open(path, O_RDWR | O_CLOEXEC);
    if (*fd < 0) return ss_error(SS_ERR_IO, "cannot open %s for writing: %s", shown, strerror(errno));
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
    int r = fcntl(*fd, F_OFD_SETLK, &fl);
#else
    int r = fcntl(*fd, F_SETLK, &fl);
#endif
    if (r != 0) {
        int err = errno;
        close(*fd);
        *fd = -1;
        if (err == EAGAIN || err == EACCES)
            return ss_error(SS_ERR_IO, "%s is being written by another stylesweep process", shown);
        return ss_error(SS_ERR_IO, "cannot lock %s: %s", shown, strerror(err));
    }
    return SS_OK;
}

static ss_archive *archive_new(const char *path, int writable) {
    ss_archive *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->file = -1;
    a->lock_fd = -1;
    a->writable = writable;
    a->path = strdup(path);
    if (!a->path) {
        free(a);
        return NULL;
    }
    return a;
}

static void drop_file(ss_archive *a);

static void archive_free(ss_archive *a) {
    if (!a) return;
    drop_file(a);
    if (a->lock_fd >= 0) close(a->lock_fd);
    free(a->path);
    free(a);
}

/* Checks the run ids to add: valid names, unique among themselves and the archive. */
static ss_status check_ids(const ss_archive *a, int n, const char *const *ids) {
    for (int k = 0; k < n; k++) {
        const char *id = ids[k];
        if (!id || !id[0]) return ss_error(SS_ERR_ARG, "run %d has an empty id", k);
        if (strlen(id) > ID_MAX) return ss_error(SS_ERR_ARG, "run id '%.40s...' is longer than %d bytes", id, ID_MAX);
        if (strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
            return ss_error(SS_ERR_ARG, "run id '%s' is not a valid name (no '/', not '.' or '..')", id);
        for (int j = 0; j < k; j++)
            if (!strcmp(ids[j], id)) return ss_error(SS_ERR_ARG, "run id '%s' appears twice", id);
        for (int j = 0; j < a->n_runs; j++)
            if (!strcmp(a->ids[j], id))
                return ss_error(SS_ERR_ARG, "run id '%s' is already in archive %s", id, a->path);
    }
    return SS_OK;
}

/* Creates the groups, attributes and empty metrics of new runs and their rows
 * of the run table (the caller flushes). */
static ss_status add_runs_unflushed(ss_archive *a, int n, const char *const *ids, const char *const *params) {
    if (n < 0 || n > 10000000) return ss_error(SS_ERR_ARG, "%s: bad number of runs %d", a->path, n);
    SS_TRY(check_ids(a, n, ids));
    if (a->n_runs + n > a->cap) {
        int cap = (a->n_runs + n) * 2 + 8;
        char **p = realloc(a->ids, (size_t)cap * sizeof *p);
        SS_ALLOC_CHECK(p);
        a->ids = p;
        a->cap = cap;
    }
    hid_t runs = exists(a->file, "runs") ? H5Gopen2(a->file, "/runs", H5P_DEFAULT)
                                         : H5Gcreate2(a->file, "/runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (runs < 0) return ss_error(SS_ERR_IO, "%s: cannot create /runs", a->path);
    hid_t mft = metrics_type(1);
    ss_status st = SS_OK;
    for (int k = 0; k < n && st == SS_OK; k++) {
        const char *id = ids[k];
        /* a group without a table row is the leftover of an interrupted add: replace it */
        if (exists(runs, id) && H5Ldelete(runs, id, H5P_DEFAULT) < 0) {
            st = ss_error(SS_ERR_IO, "%s: cannot remove the leftover group /runs/%s", a->path, id);
            break;
        }
        hid_t g = H5Gcreate2(runs, id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t zero = 0, chunk = METRICS_CHUNK;
        hid_t m = g < 0 ? -1 : create_extendible(g, "metrics", mft, 1, &zero, &chunk, 0, NULL);
        double nan = NAN;
        if (g < 0 || m < 0 || attr_set_str(g, "id", id) < 0 || attr_set_ll(g, "index", a->n_runs + k) < 0 ||
            attr_set_str(g, "params", params && params[k] ? params[k] : "") < 0 ||
            attr_set_str(g, "status", "pending") < 0 || attr_set_str(g, "error", "") < 0 ||
            attr_set_ll(g, "attempts", 0) < 0 || attr_set_str(g, "host", "") < 0 || attr_set_ll(g, "rank", -1) < 0 ||
            attr_set_str(g, "backend", "") < 0 || attr_set_str(g, "device", "") < 0 ||
            attr_set_str(g, "weights", "") < 0 || attr_set_double(g, "start_time", nan) < 0 ||
            attr_set_double(g, "end_time", nan) < 0)
            st = ss_error(SS_ERR_IO, "%s: cannot create the group of run '%s'", a->path, id);
        if (m >= 0) H5Dclose(m);
        if (g >= 0) H5Gclose(g);
    }
    H5Tclose(mft);
    H5Gclose(runs);
    if (st != SS_OK) return st;

    /* the run table rows */
    hid_t d = H5Dopen2(a->file, "/run_table", H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: /run_table is missing", a->path);
    hsize_t newn = (hsize_t)(a->n_runs + n);
    table_row *rows = calloc((size_t)(n ? n : 1), sizeof *rows);
    herr_t e = rows ? H5Dset_extent(d, &newn) : -1;
    if (rows && n > 0 && e >= 0) {
        for (int k = 0; k < n; k++) {
            rows[k].id = (char *)ids[k];
            rows[k].status = SS_RUN_PENDING;
            rows[k].rank = -1;
            rows[k].final_loss = rows[k].start_time = rows[k].end_time = NAN;
            rows[k].host = rows[k].backend = rows[k].device = rows[k].error = "";
        }
        hid_t mt = table_type(0, NULL);
        e = write_rows(d, mt, (hsize_t)a->n_runs, (hsize_t)n, rows);
        H5Tclose(mt);
    }
    free(rows);
    H5Dclose(d);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot extend /run_table", a->path);
    for (int k = 0; k < n; k++) {
        a->ids[a->n_runs] = strdup(ids[k]);
        SS_ALLOC_CHECK(a->ids[a->n_runs]);
        a->n_runs++;
    }
    return SS_OK;
}

static ss_status write_manifest(ss_archive *a, const char *text, const char *sha) {
    hid_t t = vlen_str_type();
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(a->file, "/manifest", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = text ? text : "";
    herr_t e = d < 0 ? -1 : H5Dwrite(d, t, H5S_ALL, H5S_ALL, ar_dxpl(), &v);
    if (d >= 0) {
        if (e >= 0) e = attr_set_str(d, "sha256", sha);
        H5Dclose(d);
    }
    if (e >= 0) e = attr_set_str(a->file, "manifest_sha256", sha);
    H5Sclose(sp);
    H5Tclose(t);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot write the manifest", a->path);
    return SS_OK;
}

static ss_status create_contents(ss_archive *a, const char *sweep, const char *text, const char *sha, int n,
                                 const char *const *ids, const char *const *params) {
    char created[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    hid_t root = a->file;
    if (attr_set_str(root, "format", SS_ARCHIVE_FORMAT) < 0 ||
        attr_set_ll(root, "schema_version", SS_ARCHIVE_SCHEMA_VERSION) < 0 ||
        attr_set_str(root, "created", created) < 0 || attr_set_str(root, "stylesweep_version", SS_VERSION_STRING) < 0 ||
        attr_set_str(root, "sweep", sweep) < 0 ||
        attr_set_strings(root, "status_names", STATUS_NAMES, SS_RUN_STATUS_COUNT) < 0)
        return ss_error(SS_ERR_IO, "%s: cannot write the root attributes", a->path);
    SS_TRY(write_manifest(a, text, sha));
    hid_t ft = table_type(1, NULL);
    hsize_t zero = 0, chunk = TABLE_CHUNK;
    hid_t d = create_extendible(root, "run_table", ft, 1, &zero, &chunk, 0, NULL);
    H5Tclose(ft);
    if (d < 0) return ss_error(SS_ERR_IO, "%s: cannot create /run_table", a->path);
    H5Dclose(d);
    hid_t g = H5Gcreate2(root, "/runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return ss_error(SS_ERR_IO, "%s: cannot create /runs", a->path);
    H5Gclose(g);
    return add_runs_unflushed(a, n, ids, params);
}

/* Renames tmp to path unless path exists (then SS_ERR_IO "exists"). */
static ss_status move_noreplace(const char *tmp, const char *path) {
    int err = ENOSYS;
#ifdef RENAME_NOREPLACE
    err = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0 ? 0 : errno;
#endif
    if (err == EINVAL || err == ENOSYS) { /* no renameat2 here: a hard link refuses to replace too */
        err = link(tmp, path) == 0 ? 0 : errno;
        if (err == 0) unlink(tmp);
    }
    if (err == EEXIST) return ss_error(SS_ERR_IO, "%s exists; use --resume to continue it", path);
    if (err) return ss_error(SS_ERR_IO, "cannot create %s: %s", path, strerror(err));
    return SS_OK;
}

ss_status ss_archive_create(ss_archive **out, const char *path, const char *sweep, const char *manifest_text,
                            const char *manifest_sha256, int n_runs, const char *const *ids,
                            const char *const *params_yaml) {
    *out = NULL;
    if (!path || !path[0]) return ss_error(SS_ERR_ARG, "archive: no path given");
    if (n_runs < 0 || (n_runs > 0 && !ids)) return ss_error(SS_ERR_ARG, "archive %s: bad run list", path);
    struct stat sb;
    if (stat(path, &sb) == 0) return ss_error(SS_ERR_IO, "%s exists; use --resume to continue it", path);
    /* the folder must exist and be writable (its permission bits are honoured even for root) */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    if (stat(dir, &sb) != 0) return ss_error(SS_ERR_IO, "cannot create %s: folder %s: %s", path, dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return ss_error(SS_ERR_IO, "cannot create %s: %s is not a folder", path, dir);
    if (access(dir, W_OK) != 0 || !(sb.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)))
        return ss_error(SS_ERR_IO, "cannot create %s: folder %s is read-only", path, dir);
    SS_TRY(ensure_space(dir, path, (unsigned long long)n_runs * 8192, 1));
    H5dont_atexit(); /* no clean-up at exit: a file whose close failed (full disk) must not crash it */
    ss_h5_quiet();
    ss_archive *a = archive_new(path, 1);
    SS_ALLOC_CHECK(a);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    ss_status st = check_ids(a, n_runs, ids);
    if (st != SS_OK) goto fail;
    hid_t fapl = make_fapl(1);
    a->file = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (a->file < 0) {
        st = ss_error(SS_ERR_IO, "cannot create %s (is its directory missing or not writable?)", path);
        goto fail;
    }
    SS_TRY_GOTO(st, take_lock(&a->lock_fd, tmp, path), fail_unlink);
    SS_TRY_GOTO(st, create_contents(a, sweep, manifest_text, manifest_sha256, n_runs, ids, params_yaml), fail_unlink);
    SS_TRY_GOTO(st, flush(a), fail_unlink);
    /* move into place without replacing anything that appeared meanwhile */
    SS_TRY_GOTO(st, move_noreplace(tmp, path), fail_unlink);
    *out = a;
    return SS_OK;
fail_unlink:
    unlink(tmp);
fail:
    archive_free(a);
    return st;
}

/* Checks the root attributes; *definitive = 1 when retrying cannot help. */
static ss_status validate(ss_archive *a, int *definitive) {
    *definitive = 1;
    if (H5Aexists(a->file, "format") <= 0)
        return ss_error(SS_ERR_FORMAT, "%s is an HDF5 file but not a stylesweep archive (no 'format' attribute)",
                        a->path);
    char *fmt = NULL;
    SS_TRY(attr_get_str(a->file, "format", &fmt, a->path));
    int ok = !strcmp(fmt, SS_ARCHIVE_FORMAT);
    if (!ok) {
        ss_error(SS_ERR_FORMAT, "%s is an HDF5 file but not a stylesweep archive (format is '%.60s')", a->path, fmt);
        free(fmt);
        return SS_ERR_FORMAT;
    }
    free(fmt);
    long long ver = 0;
    if (attr_get_ll(a->file, "schema_version", &ver) != 0)
        return ss_error(SS_ERR_FORMAT, "%s: archive without a readable 'schema_version' attribute", a->path);
    if (ver > SS_ARCHIVE_SCHEMA_VERSION)
        return ss_error(SS_ERR_FORMAT,
                        "%s: archive schema version %lld is newer than this stylesweep %s reads (%d); "
                        "use a newer stylesweep",
                        a->path, ver, SS_VERSION_STRING, SS_ARCHIVE_SCHEMA_VERSION);
    if (ver < 1) return ss_error(SS_ERR_FORMAT, "%s: invalid archive schema version %lld", a->path, ver);
    *definitive = 0;
    return load_ids(a);
}

/* Drops the open file and the run ids of a (keeps the lock). */
static void drop_file(ss_archive *a) {
    if (a->file >= 0) H5Fclose(a->file);
    a->file = -1;
    for (int k = 0; a->ids && k < a->n_runs; k++) free(a->ids[k]);
    free(a->ids);
    a->ids = NULL;
    a->n_runs = a->cap = 0;
}

/* Opens a->path as HDF5 and validates it; a reader retries for about a second
 * when it races a flush of the writer. */
static ss_status open_file(ss_archive *a) {
    ss_status st = SS_OK;
    for (int attempt = 0; attempt < (a->writable ? 1 : 20); attempt++) {
        if (attempt) usleep(50000);
        drop_file(a);
        hid_t fapl = make_fapl(a->writable);
        a->file = H5Fopen(a->path, a->writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
        H5Pclose(fapl);
        int definitive = 0;
        if (a->file < 0) st = ss_error(SS_ERR_FORMAT, "%s: cannot open it as HDF5 (damaged?)", a->path);
        else st = validate(a, &definitive);
        if (st == SS_OK) return SS_OK;
        if (definitive) break;
    }
    drop_file(a);
    return st;
}

ss_status ss_archive_open(ss_archive **out, const char *path, int writable) {
    *out = NULL;
    if (!path || !path[0]) return ss_error(SS_ERR_ARG, "archive: no path given");
    H5dont_atexit(); /* no clean-up at exit: a file whose close failed (full disk) must not crash it */
    ss_h5_quiet();
    struct stat sb;
    if (stat(path, &sb) != 0) return ss_error(SS_ERR_IO, "cannot open archive %s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return ss_error(SS_ERR_IO, "%s is a directory, not an archive", path);
    if (H5Fis_hdf5(path) <= 0)
        return ss_error(SS_ERR_FORMAT, "%s is not an HDF5 file (not a stylesweep archive)", path);
    if (writable && (access(path, W_OK) != 0 || !(sb.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))))
        return ss_error(SS_ERR_IO,
                        "%s is read-only: give it write permission (chmod u+w) to continue it, "
                        "or copy it elsewhere",
                        path);
    if (writable) SS_TRY(ensure_space(path, path, 0, 0));
    ss_archive *a = archive_new(path, writable);
    SS_ALLOC_CHECK(a);
    ss_status st = writable ? take_lock(&a->lock_fd, path, path) : SS_OK;
    if (st == SS_OK) st = open_file(a);
    if (st != SS_OK) {
        archive_free(a);
        return st;
    }
    *out = a;
    return SS_OK;
}

ss_status ss_archive_refresh(ss_archive *a) {
    if (!a) return ss_error(SS_ERR_ARG, "ss_archive_refresh: no archive");
    if (a->writable) return flush(a);
    return open_file(a);
}

ss_status ss_archive_flush(ss_archive *a) {
    if (!a) return ss_error(SS_ERR_ARG, "ss_archive_flush: no archive");
    return a->writable ? flush(a) : SS_OK;
}

ss_status ss_archive_close(ss_archive *a) {
    if (!a) return SS_OK;
    ss_status st = SS_OK;
    if (a->writable && a->file >= 0) st = flush(a);
    if (a->file >= 0) {
        ssize_t open_ids = H5Fget_obj_count(a->file, H5F_OBJ_ALL | H5F_OBJ_LOCAL);
        if (open_ids != 1 && st == SS_OK)
            st = ss_error(SS_ERR_INTERNAL, "%s: %zd HDF5 objects left open at close", a->path, open_ids - 1);
    }
    if (a->file >= 0 && H5Fclose(a->file) < 0 && st == SS_OK)
        st = ss_error(SS_ERR_IO, "%s: cannot close the archive", a->path);
    a->file = -1;
    archive_free(a);
    return st;
}

/* ------------------------------------------------------------------ writer */

ss_status ss_archive_add_runs(ss_archive *a, int n, const char *const *ids, const char *const *params_yaml) {
    if (n < 0 || (n > 0 && !ids)) return ss_error(SS_ERR_ARG, "ss_archive_add_runs: bad run list");
    SS_TRY(check_writing(a, "ss_archive_add_runs", (unsigned long long)n * 8192));
    ss_status st = add_runs_unflushed(a, n, ids, params_yaml);
    ss_status fs = flush(a);
    return st != SS_OK ? st : fs;
}

ss_status ss_archive_set_manifest(ss_archive *a, const char *text, const char *sha) {
    SS_TRY(check_writing(a, "ss_archive_set_manifest", 0));
    if (exists(a->file, "manifest")) {
        hid_t h = exists(a->file, "manifest_history")
                      ? H5Gopen2(a->file, "/manifest_history", H5P_DEFAULT)
                      : H5Gcreate2(a->file, "/manifest_history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (h < 0) return ss_error(SS_ERR_IO, "%s: cannot create /manifest_history", a->path);
        H5G_info_t info;
        herr_t e = H5Gget_info(h, &info);
        char name[32];
        snprintf(name, sizeof name, "%llu", (unsigned long long)(e < 0 ? 0 : info.nlinks));
        if (e >= 0) e = H5Lmove(a->file, "/manifest", h, name, H5P_DEFAULT, H5P_DEFAULT);
        if (e >= 0) {
            hid_t d = H5Dopen2(h, name, H5P_DEFAULT);
            e = d < 0 ? -1 : attr_set_double(d, "replaced_time", now_seconds());
            if (d >= 0) H5Dclose(d);
        }
        H5Gclose(h);
        if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot keep the previous manifest", a->path);
    }
    ss_status st = write_manifest(a, text, sha);
    ss_status fs = flush(a);
    return st != SS_OK ? st : fs;
}

ss_status ss_archive_reset_run(ss_archive *a, int i, const char *params_yaml) {
    SS_TRY(check_writing(a, "ss_archive_reset_run", 0));
    SS_TRY(check_run(a, i, "ss_archive_reset_run"));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    static const char *const drop[] = {"style_layers", "snapshots", "snapshot_iterations", "final", "checkpoint"};
    herr_t e = 0;
    for (size_t k = 0; e >= 0 && k < sizeof drop / sizeof drop[0]; k++)
        if (exists(g, drop[k])) e = H5Ldelete(g, drop[k], H5P_DEFAULT);
    if (e >= 0) e = set_first_extent(g, "metrics", 0);
    double nan = NAN;
    if (e >= 0) e = attr_set_str(g, "params", params_yaml ? params_yaml : "");
    if (e >= 0) e = attr_set_str(g, "status", STATUS_NAMES[SS_RUN_PENDING]);
    if (e >= 0) e = attr_set_str(g, "error", "");
    if (e >= 0) e = attr_set_ll(g, "attempts", 0);
    if (e >= 0) e = attr_set_str(g, "host", "");
    if (e >= 0) e = attr_set_ll(g, "rank", -1);
    if (e >= 0) e = attr_set_str(g, "backend", "");
    if (e >= 0) e = attr_set_str(g, "device", "");
    if (e >= 0) e = attr_set_str(g, "weights", "");
    if (e >= 0) e = attr_set_double(g, "start_time", nan);
    if (e >= 0) e = attr_set_double(g, "end_time", nan);
    H5Gclose(g);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot reset run '%s'", a->path, a->ids[i]);
    table_row row;
    memset(&row, 0, sizeof row);
    row.status = SS_RUN_PENDING;
    row.final_loss = row.start_time = row.end_time = NAN;
    row.rank = -1;
    row.host = row.backend = row.device = row.error = "";
    static const char *const fields[] = {"status",  "attempts", "iterations_done", "final_loss", "host",  "rank",
                                         "backend", "device",   "start_time",      "end_time",   "error", NULL};
    SS_TRY(table_write(a, i, &row, fields));
    /* the space of the removed objects is free from here: flush before anything reuses it */
    return flush(a);
}

ss_status ss_archive_set_status(ss_archive *a, int i, ss_run_status status, const char *error_text) {
    SS_TRY(check_writing(a, "ss_archive_set_status", 0));
    SS_TRY(check_run(a, i, "ss_archive_set_status"));
    if ((int)status < 0 || (int)status >= SS_RUN_STATUS_COUNT)
        return ss_error(SS_ERR_ARG, "ss_archive_set_status: invalid status %d", (int)status);
    table_row row;
    SS_TRY(table_read(a, i, &row));
    int attempts = row.attempts;
    double start = row.start_time, end = row.end_time;
    table_row_reclaim(&row);
    if (status == SS_RUN_RUNNING) {
        attempts++;
        start = now_seconds();
        end = NAN;
    } else if (status != SS_RUN_PENDING) {
        end = now_seconds();
    }
    memset(&row, 0, sizeof row);
    row.status = (signed char)status;
    row.attempts = attempts;
    row.start_time = start;
    row.end_time = end;
    row.error = (char *)(error_text ? error_text : "");
    static const char *const fields[] = {"status", "attempts", "start_time", "end_time", "error", NULL};
    SS_TRY(table_write(a, i, &row, fields));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    herr_t e = attr_set_str(g, "status", STATUS_NAMES[status]);
    if (e >= 0) e = attr_set_str(g, "error", row.error);
    if (e >= 0) e = attr_set_ll(g, "attempts", attempts);
    if (e >= 0) e = attr_set_double(g, "start_time", start);
    if (e >= 0) e = attr_set_double(g, "end_time", end);
    H5Gclose(g);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot write the status of run '%s'", a->path, a->ids[i]);
    return flush(a);
}

ss_status ss_archive_set_run_info(ss_archive *a, int i, const char *host, int rank, const char *backend,
                                  const char *device, const char *weights) {
    SS_TRY(check_writing(a, "ss_archive_set_run_info", 0));
    SS_TRY(check_run(a, i, "ss_archive_set_run_info"));
    table_row row;
    memset(&row, 0, sizeof row);
    row.host = (char *)(host ? host : "");
    row.rank = rank;
    row.backend = (char *)(backend ? backend : "");
    row.device = (char *)(device ? device : "");
    static const char *const fields[] = {"host", "rank", "backend", "device", NULL};
    SS_TRY(table_write(a, i, &row, fields));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    herr_t e = attr_set_str(g, "host", row.host);
    if (e >= 0) e = attr_set_ll(g, "rank", rank);
    if (e >= 0) e = attr_set_str(g, "backend", row.backend);
    if (e >= 0) e = attr_set_str(g, "device", row.device);
    if (e >= 0) e = attr_set_str(g, "weights", weights);
    H5Gclose(g);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot write the run info of run '%s'", a->path, a->ids[i]);
    return flush(a);
}

/* Updates iterations_done and final_loss of row i. */
static ss_status table_progress(ss_archive *a, int i, int iterations_done, double final_loss) {
    table_row row;
    memset(&row, 0, sizeof row);
    row.iterations_done = iterations_done;
    row.final_loss = final_loss;
    static const char *const fields[] = {"iterations_done", "final_loss", NULL};
    return table_write(a, i, &row, fields);
}

ss_status ss_archive_append_metrics(ss_archive *a, int i, const ss_archive_metrics *row, int n_layers,
                                    const double *layer_values, const char *const *layer_names) {
    SS_TRY(check_writing(a, "ss_archive_append_metrics", 0));
    SS_TRY(check_run(a, i, "ss_archive_append_metrics"));
    if (!row || n_layers < 0 || (n_layers > 0 && !layer_values))
        return ss_error(SS_ERR_ARG, "ss_archive_append_metrics: bad arguments");
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = SS_OK;
    hid_t md = H5Dopen2(g, "metrics", H5P_DEFAULT);
    long long n = first_extent(g, "metrics");
    if (md < 0 || n < 0) {
        st = ss_error(SS_ERR_FORMAT, "%s: metrics of run '%s' are missing", a->path, a->ids[i]);
        goto done;
    }
    if (n_layers > 0) {
        hid_t sd;
        if (!exists(g, "style_layers")) {
            hsize_t dims[2] = {0, (hsize_t)n_layers}, chunk[2] = {METRICS_CHUNK, (hsize_t)n_layers};
            double nan = NAN;
            sd = create_extendible(g, "style_layers", H5T_IEEE_F64LE, 2, dims, chunk, 0, &nan);
            char **names = calloc((size_t)n_layers, sizeof *names);
            char(*buf)[16] = calloc((size_t)n_layers, sizeof *buf);
            herr_t e = (sd < 0 || !names || !buf) ? -1 : 0;
            for (int k = 0; e >= 0 && k < n_layers; k++) {
                snprintf(buf[k], sizeof buf[k], "layer%d", k);
                names[k] = layer_names && layer_names[k] ? (char *)layer_names[k] : buf[k];
            }
            if (e >= 0) e = attr_set_strings(sd, "layer_names", (const char *const *)names, n_layers);
            free(names);
            free(buf);
            if (e < 0) {
                if (sd >= 0) H5Dclose(sd);
                st = ss_error(SS_ERR_IO, "%s: cannot create style_layers of run '%s'", a->path, a->ids[i]);
                goto done;
            }
        } else {
            sd = H5Dopen2(g, "style_layers", H5P_DEFAULT);
        }
        hid_t sp = sd < 0 ? -1 : H5Dget_space(sd);
        hsize_t dims[2] = {0, 0};
        if (sp >= 0) {
            if (H5Sget_simple_extent_ndims(sp) == 2) H5Sget_simple_extent_dims(sp, dims, NULL);
            H5Sclose(sp);
        }
        if (sd < 0 || dims[1] != (hsize_t)n_layers) {
            if (sd >= 0) H5Dclose(sd);
            st = ss_error(SS_ERR_ARG, "%s: run '%s' records %llu style layers, not %d", a->path, a->ids[i],
                          (unsigned long long)dims[1], n_layers);
            goto done;
        }
        /* row k of style_layers is row k of metrics (earlier rows without values stay NaN) */
        dims[0] = (hsize_t)n + 1;
        herr_t e = H5Dset_extent(sd, dims);
        if (e >= 0) e = write_rows(sd, H5T_NATIVE_DOUBLE, (hsize_t)n, 1, layer_values);
        H5Dclose(sd);
        if (e < 0) {
            st = ss_error(SS_ERR_IO, "%s: cannot append to style_layers of run '%s'", a->path, a->ids[i]);
            goto done;
        }
    }
    hid_t mt = metrics_type(0);
    herr_t e = append_row(md, mt, row);
    H5Tclose(mt);
    test_kill_point("metrics");
    if (e < 0) {
        st = ss_error(SS_ERR_IO, "%s: cannot append to the metrics of run '%s'", a->path, a->ids[i]);
        goto done;
    }
    st = table_progress(a, i, row->iteration, row->loss);
done:
    if (md >= 0) H5Dclose(md);
    H5Gclose(g);
    if (st != SS_OK) return st;
    return flush(a);
}

ss_status ss_archive_truncate_metrics(ss_archive *a, int i, int n) {
    SS_TRY(check_writing(a, "ss_archive_truncate_metrics", 0));
    SS_TRY(check_run(a, i, "ss_archive_truncate_metrics"));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = SS_OK;
    long long have = first_extent(g, "metrics");
    long long have_layers = first_extent(g, "style_layers");
    if (have < 0 || have_layers < 0) {
        st = ss_error(SS_ERR_FORMAT, "%s: metrics of run '%s' are unreadable", a->path, a->ids[i]);
    } else if (n < 0 || n > have) {
        st = ss_error(SS_ERR_ARG, "ss_archive_truncate_metrics: run '%s' has %lld metrics rows, cannot keep %d",
                      a->ids[i], have, n);
    } else {
        ss_archive_metrics last = {0};
        herr_t e = 0;
        if (n > 0) {
            hid_t d = H5Dopen2(g, "metrics", H5P_DEFAULT);
            hid_t mt = metrics_type(0);
            hid_t fs = H5Dget_space(d);
            hsize_t off = (hsize_t)n - 1, cnt = 1;
            e = d < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
            hid_t ms = H5Screate_simple(1, &cnt, NULL);
            if (e >= 0) e = H5Dread(d, mt, ms, fs, ar_dxpl(), &last);
            H5Sclose(ms);
            H5Sclose(fs);
            H5Tclose(mt);
            if (d >= 0) H5Dclose(d);
        }
        if (e >= 0) e = set_first_extent(g, "metrics", (hsize_t)n);
        if (e >= 0 && have_layers > n) e = set_first_extent(g, "style_layers", (hsize_t)n);
        if (e < 0) st = ss_error(SS_ERR_IO, "%s: cannot truncate the metrics of run '%s'", a->path, a->ids[i]);
        else st = table_progress(a, i, n > 0 ? last.iteration : 0, n > 0 ? last.loss : NAN);
    }
    H5Gclose(g);
    if (st != SS_OK) return st;
    return flush(a);
}

/* Checks an image argument. */
static ss_status check_image(const unsigned char *rgb, int w, int h, const char *what) {
    if (!rgb || w < 1 || h < 1 || w > 65536 || h > 65536)
        return ss_error(SS_ERR_ARG, "%s: bad image (%d x %d)", what, w, h);
    return SS_OK;
}

ss_status ss_archive_add_snapshot(ss_archive *a, int i, int iteration, const unsigned char *rgb, int w, int h) {
    SS_TRY(check_run(a, i, "ss_archive_add_snapshot"));
    SS_TRY(check_image(rgb, w, h, "ss_archive_add_snapshot"));
    SS_TRY(check_writing(a, "ss_archive_add_snapshot", 3ull * (unsigned)w * (unsigned)h));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = SS_OK;
    hid_t d = -1, di = -1;
    if (!exists(g, "snapshots")) {
        hsize_t dims[4] = {0, (hsize_t)h, (hsize_t)w, 3}, chunk[4] = {1, (hsize_t)h, (hsize_t)w, 3};
        hsize_t zero = 0, ichunk = 64;
        d = create_extendible(g, "snapshots", H5T_STD_U8LE, 4, dims, chunk, SNAPSHOT_DEFLATE, NULL);
        di = create_extendible(g, "snapshot_iterations", H5T_STD_I32LE, 1, &zero, &ichunk, 0, NULL);
    } else {
        d = H5Dopen2(g, "snapshots", H5P_DEFAULT);
        di = H5Dopen2(g, "snapshot_iterations", H5P_DEFAULT);
    }
    if (d < 0 || di < 0) {
        st = ss_error(SS_ERR_IO, "%s: cannot create the snapshots of run '%s'", a->path, a->ids[i]);
        goto done;
    }
    hid_t sp = H5Dget_space(d);
    hsize_t dims[4] = {0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    if (dims[1] != (hsize_t)h || dims[2] != (hsize_t)w) {
        st = ss_error(SS_ERR_ARG, "%s: run '%s' has %llu x %llu snapshots, not %d x %d", a->path, a->ids[i],
                      (unsigned long long)dims[2], (unsigned long long)dims[1], w, h);
        goto done;
    }
    /* the image first: its chunk lands in new space; the iteration makes it count */
    if (append_row(d, H5T_NATIVE_UCHAR, rgb) < 0 || append_row(di, H5T_NATIVE_INT, &iteration) < 0)
        st = ss_error(SS_ERR_IO, "%s: cannot append a snapshot to run '%s'", a->path, a->ids[i]);
done:
    if (d >= 0) H5Dclose(d);
    if (di >= 0) H5Dclose(di);
    H5Gclose(g);
    if (st != SS_OK) return st;
    return flush(a);
}

ss_status ss_archive_truncate_snapshots(ss_archive *a, int i, int max_iteration) {
    SS_TRY(check_writing(a, "ss_archive_truncate_snapshots", 0));
    SS_TRY(check_run(a, i, "ss_archive_truncate_snapshots"));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = SS_OK;
    int *its = NULL;
    long long ni = first_extent(g, "snapshot_iterations"), keep = 0;
    if (ni < 0) st = ss_error(SS_ERR_FORMAT, "%s: snapshots of run '%s' are unreadable", a->path, a->ids[i]);
    if (st == SS_OK && ni > 0) {
        its = malloc((size_t)ni * sizeof *its);
        hid_t d = H5Dopen2(g, "snapshot_iterations", H5P_DEFAULT);
        if (!its || d < 0 || H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, ar_dxpl(), its) < 0)
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read the snapshot iterations of run '%s'", a->path, a->ids[i]);
        if (d >= 0) H5Dclose(d);
        while (st == SS_OK && keep < ni && its[keep] <= max_iteration) keep++;
        if (st == SS_OK && keep < ni &&
            (set_first_extent(g, "snapshots", (hsize_t)keep) < 0 ||
             set_first_extent(g, "snapshot_iterations", (hsize_t)keep) < 0))
            st = ss_error(SS_ERR_IO, "%s: cannot truncate the snapshots of run '%s'", a->path, a->ids[i]);
    }
    free(its);
    H5Gclose(g);
    if (st != SS_OK) return st;
    return flush(a);
}

ss_status ss_archive_set_final(ss_archive *a, int i, const unsigned char *rgb, int w, int h) {
    SS_TRY(check_run(a, i, "ss_archive_set_final"));
    SS_TRY(check_image(rgb, w, h, "ss_archive_set_final"));
    SS_TRY(check_writing(a, "ss_archive_set_final", 3ull * (unsigned)w * (unsigned)h));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = SS_OK;
    if (exists(g, "final")) {
        /* free the old image and flush before its space could be reused */
        if (H5Ldelete(g, "final", H5P_DEFAULT) < 0)
            st = ss_error(SS_ERR_IO, "%s: cannot replace the final image of run '%s'", a->path, a->ids[i]);
        else st = flush(a);
    }
    if (st == SS_OK) {
        hsize_t dims[3] = {(hsize_t)h, (hsize_t)w, 3};
        hid_t sp = H5Screate_simple(3, dims, NULL);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(pl, 3, dims);
        H5Pset_deflate(pl, SNAPSHOT_DEFLATE);
        hid_t d = H5Dcreate2(g, "final", H5T_STD_U8LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
        herr_t e = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, ar_dxpl(), rgb);
        if (d >= 0) H5Dclose(d);
        H5Pclose(pl);
        H5Sclose(sp);
        if (e < 0) st = ss_error(SS_ERR_IO, "%s: cannot write the final image of run '%s'", a->path, a->ids[i]);
        test_kill_point("final");
    }
    H5Gclose(g);
    if (st != SS_OK) return st;
    return flush(a);
}

/* ------------------------------------------------------------------ checkpoints */

typedef struct slot_info {
    int exists, complete;
    long long generation, iteration;
} slot_info;

static const char *const SLOTS[2] = {"a", "b"};

static void read_slot_info(hid_t ck, int s, slot_info *si) {
    memset(si, 0, sizeof *si);
    si->generation = -1;
    si->iteration = -1;
    if (ck < 0 || !exists(ck, SLOTS[s])) return;
    hid_t g = H5Gopen2(ck, SLOTS[s], H5P_DEFAULT);
    if (g < 0) return;
    si->exists = 1;
    long long c = 0;
    si->complete = attr_get_ll(g, "complete", &c) == 0 && c == 1;
    if (attr_get_ll(g, "generation", &si->generation) != 0) si->generation = -1;
    if (attr_get_ll(g, "iteration", &si->iteration) != 0) si->iteration = -1;
    H5Gclose(g);
}

/* Writes a 1-D or 3-D dataset of fixed shape with contiguous storage in
 * place, recreating it when the shape differs. */
static herr_t write_fixed(hid_t g, const char *name, hid_t file_type, hid_t mem_type, int rank, const hsize_t *dims,
                          const void *buf) {
    hid_t d = -1;
    if (exists(g, name)) {
        d = H5Dopen2(g, name, H5P_DEFAULT);
        hid_t sp = d < 0 ? -1 : H5Dget_space(d);
        hsize_t have[4] = {0};
        int same = sp >= 0 && H5Sget_simple_extent_ndims(sp) == rank;
        if (same) {
            H5Sget_simple_extent_dims(sp, have, NULL);
            for (int k = 0; k < rank; k++) same = same && have[k] == dims[k];
        }
        if (sp >= 0) H5Sclose(sp);
        if (!same) {
            if (d >= 0) H5Dclose(d);
            d = -1;
            if (H5Ldelete(g, name, H5P_DEFAULT) < 0) return -1;
        }
    }
    if (d < 0) {
        hid_t sp = H5Screate_simple(rank, dims, NULL);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_alloc_time(pl, H5D_ALLOC_TIME_EARLY);
        d = H5Dcreate2(g, name, file_type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
        H5Pclose(pl);
        H5Sclose(sp);
        if (d < 0) return -1;
    }
    size_t n = 1;
    for (int k = 0; k < rank; k++) n *= dims[k];
    herr_t e = n == 0 ? 0 : H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, ar_dxpl(), buf);
    H5Dclose(d);
    return e;
}

ss_status ss_archive_write_checkpoint(ss_archive *a, int i, ss_archive_checkpoint *c) {
    SS_TRY(check_writable(a, "ss_archive_write_checkpoint"));
    SS_TRY(check_run(a, i, "ss_archive_write_checkpoint"));
    if (!c || !c->image || c->w < 1 || c->h < 1 || c->iteration < 0 || c->n_metrics < 0 ||
        (c->state_size > 0 && !c->state))
        return ss_error(SS_ERR_ARG, "ss_archive_write_checkpoint: bad checkpoint");
    SS_TRY(ensure_space(a->path, a->path, 12ull * (unsigned)c->w * (unsigned)c->h + c->state_size, 0));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = SS_OK;
    hid_t ck = exists(g, "checkpoint") ? H5Gopen2(g, "checkpoint", H5P_DEFAULT)
                                       : H5Gcreate2(g, "checkpoint", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sg = -1;
    if (ck < 0) {
        st = ss_error(SS_ERR_IO, "%s: cannot create the checkpoint group of run '%s'", a->path, a->ids[i]);
        goto done;
    }
    slot_info si[2];
    read_slot_info(ck, 0, &si[0]);
    read_slot_info(ck, 1, &si[1]);
    /* the slot to overwrite: a missing one, else an incomplete one, else the older */
    int s;
    if (!si[0].exists) s = 0;
    else if (!si[1].exists) s = 1;
    else if (!si[0].complete) s = 0;
    else if (!si[1].complete) s = 1;
    else s = si[0].generation <= si[1].generation ? 0 : 1;
    long long gen = (si[0].generation > si[1].generation ? si[0].generation : si[1].generation) + 1;
    if (gen < 1) gen = 1;
    /* step 1: the slot says incomplete on disk before any of its data changes */
    sg = si[s].exists ? H5Gopen2(ck, SLOTS[s], H5P_DEFAULT)
                      : H5Gcreate2(ck, SLOTS[s], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (sg < 0 || attr_set_ll(sg, "complete", 0) < 0) {
        st = ss_error(SS_ERR_IO, "%s: cannot prepare checkpoint slot %s of run '%s'", a->path, SLOTS[s], a->ids[i]);
        goto done;
    }
    SS_TRY_GOTO(st, flush(a), done);
    /* step 2: the data */
    hsize_t idims[3] = {3, (hsize_t)c->h, (hsize_t)c->w}, sdims = (hsize_t)c->state_size;
    size_t nf = (size_t)3 * (size_t)c->h * (size_t)c->w;
    uint32_t crc = checkpoint_crc(c->image, nf, c->state, c->state_size);
    herr_t e = write_fixed(sg, "image", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, idims, c->image);
    if (e >= 0) e = write_fixed(sg, "state", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, &sdims, c->state);
    /* step 3: the description, then the marker, then a flush */
    test_kill_point("checkpoint");
    if (e >= 0) e = attr_set_ll(sg, "iteration", c->iteration);
    if (e >= 0) e = attr_set_ll(sg, "n_metrics", c->n_metrics);
    if (e >= 0) e = attr_set_ll(sg, "generation", gen);
    if (e >= 0) e = attr_set_num(sg, "crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, &crc);
    if (e >= 0) e = attr_set_double(sg, "time", now_seconds());
    if (e >= 0) e = attr_set_ll(sg, "complete", 1);
    if (e < 0) {
        st = ss_error(SS_ERR_IO, "%s: cannot write the checkpoint of run '%s' (disk full?)", a->path, a->ids[i]);
        goto done;
    }
    c->generation = gen;
done:
    if (sg >= 0) H5Gclose(sg);
    if (ck >= 0) H5Gclose(ck);
    H5Gclose(g);
    if (st != SS_OK) return st;
    return flush(a);
}

void ss_archive_checkpoint_free(ss_archive_checkpoint *c) {
    if (!c) return;
    free(c->image);
    free(c->state);
    memset(c, 0, sizeof *c);
}

/* Reads and verifies slot s into *c; returns 1 when valid, else 0 with why set. */
static int read_slot(hid_t ck, int s, ss_archive_checkpoint *c, char *why, size_t why_size) {
    memset(c, 0, sizeof *c);
    hid_t g = H5Gopen2(ck, SLOTS[s], H5P_DEFAULT);
    if (g < 0) {
        snprintf(why, why_size, "slot %s unreadable", SLOTS[s]);
        return 0;
    }
    int ok = 0;
    long long it = -1, nm = -1, gen = -1, complete = 0;
    uint32_t crc = 0;
    hid_t di = -1, ds = -1, sp = -1;
    if (attr_get_ll(g, "complete", &complete) != 0 || complete != 1) {
        snprintf(why, why_size, "slot %s is incomplete (interrupted while written)", SLOTS[s]);
        goto done;
    }
    if (attr_get_ll(g, "iteration", &it) != 0 || attr_get_ll(g, "n_metrics", &nm) != 0 ||
        attr_get_ll(g, "generation", &gen) != 0 || attr_get_num(g, "crc32", H5T_NATIVE_UINT32, &crc) != 0 || it < 0 ||
        nm < 0 || it > INT32_MAX || nm > INT32_MAX) {
        snprintf(why, why_size, "slot %s lacks its attributes", SLOTS[s]);
        goto done;
    }
    di = exists(g, "image") ? H5Dopen2(g, "image", H5P_DEFAULT) : -1;
    ds = exists(g, "state") ? H5Dopen2(g, "state", H5P_DEFAULT) : -1;
    if (di < 0 || ds < 0) {
        snprintf(why, why_size, "slot %s lacks its image or state", SLOTS[s]);
        goto done;
    }
    hsize_t dims[3] = {0}, sd = 0;
    sp = H5Dget_space(di);
    if (H5Sget_simple_extent_ndims(sp) != 3 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 || dims[0] != 3 ||
        dims[1] < 1 || dims[2] < 1 || dims[1] > 65536 || dims[2] > 65536) {
        snprintf(why, why_size, "slot %s: image is not (3, H, W)", SLOTS[s]);
        goto done;
    }
    H5Sclose(sp);
    sp = H5Dget_space(ds);
    if (H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &sd, NULL) < 0) {
        snprintf(why, why_size, "slot %s: state is not 1-D", SLOTS[s]);
        goto done;
    }
    size_t nf = (size_t)(3 * dims[1] * dims[2]);
    c->image = malloc(nf * sizeof(float));
    c->state = malloc(sd ? (size_t)sd : 1);
    if (!c->image || !c->state) {
        snprintf(why, why_size, "out of memory reading slot %s", SLOTS[s]);
        goto done;
    }
    if (H5Dread(di, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, ar_dxpl(), c->image) < 0 ||
        (sd > 0 && H5Dread(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, ar_dxpl(), c->state) < 0)) {
        snprintf(why, why_size, "slot %s: data unreadable", SLOTS[s]);
        goto done;
    }
    if (checkpoint_crc(c->image, nf, c->state, (size_t)sd) != crc) {
        snprintf(why, why_size, "slot %s: checksum mismatch (torn or damaged write)", SLOTS[s]);
        goto done;
    }
    c->iteration = (int)it;
    c->n_metrics = (int)nm;
    c->generation = gen;
    c->h = (int)dims[1];
    c->w = (int)dims[2];
    c->state_size = (size_t)sd;
    ok = 1;
done:
    if (sp >= 0) H5Sclose(sp);
    if (di >= 0) H5Dclose(di);
    if (ds >= 0) H5Dclose(ds);
    H5Gclose(g);
    if (!ok) ss_archive_checkpoint_free(c);
    return ok;
}

ss_status ss_archive_read_checkpoint(ss_archive *a, int i, ss_archive_checkpoint *out,
                                     ss_archive_checkpoint_found *found) {
    memset(out, 0, sizeof *out);
    *found = SS_CHECKPOINT_NONE;
    SS_TRY(check_run(a, i, "ss_archive_read_checkpoint"));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    hid_t ck = exists(g, "checkpoint") ? H5Gopen2(g, "checkpoint", H5P_DEFAULT) : -1;
    slot_info si[2];
    read_slot_info(ck, 0, &si[0]);
    read_slot_info(ck, 1, &si[1]);
    if (si[0].exists || si[1].exists) {
        /* newest generation first */
        int order[2] = {0, 1};
        if (si[1].generation > si[0].generation) order[0] = 1, order[1] = 0;
        char why[2][160] = {"", ""};
        int nwhy = 0;
        for (int k = 0; k < 2 && *found != SS_CHECKPOINT_VALID; k++) {
            int s = order[k];
            if (!si[s].exists) continue;
            if (read_slot(ck, s, out, why[nwhy], sizeof why[0])) *found = SS_CHECKPOINT_VALID;
            else nwhy++;
        }
        if (*found != SS_CHECKPOINT_VALID) {
            *found = SS_CHECKPOINT_INVALID;
            ss_error(SS_ERR_FORMAT, "%s: run '%s' has no valid checkpoint (%s%s%s)", a->path, a->ids[i], why[0],
                     nwhy > 1 ? "; " : "", nwhy > 1 ? why[1] : "");
        }
    }
    if (ck >= 0) H5Gclose(ck);
    H5Gclose(g);
    return SS_OK;
}

/* ------------------------------------------------------------------ reader */

int ss_archive_run_count(const ss_archive *a) { return a ? a->n_runs : 0; }

ss_status ss_archive_find_run(const ss_archive *a, const char *id, int *index) {
    *index = -1;
    for (int k = 0; a && id && k < a->n_runs; k++)
        if (!strcmp(a->ids[k], id)) {
            *index = k;
            return SS_OK;
        }
    return ss_error(SS_ERR_ARG, "archive %s has no run '%s'", a ? a->path : "?", id ? id : "");
}

const char *ss_archive_status_name(ss_run_status s) {
    return (int)s >= 0 && (int)s < SS_RUN_STATUS_COUNT ? STATUS_NAMES[s] : "unknown";
}

ss_status ss_archive_status_parse(const char *name, ss_run_status *status) {
    for (int k = 0; name && k < SS_RUN_STATUS_COUNT; k++)
        if (!strcmp(name, STATUS_NAMES[k])) {
            *status = (ss_run_status)k;
            return SS_OK;
        }
    return ss_error(SS_ERR_ARG, "'%s' is not a run status (pending, running, done, failed, interrupted)",
                    name ? name : "");
}

void ss_archive_run_info_free(ss_archive_run_info *r) {
    if (!r) return;
    free(r->id);
    free(r->error);
    free(r->host);
    free(r->backend);
    free(r->device);
    free(r->weights);
    free(r->params);
    memset(r, 0, sizeof *r);
}

ss_status ss_archive_get_run(ss_archive *a, int i, ss_archive_run_info *out) {
    memset(out, 0, sizeof *out);
    SS_TRY(check_run(a, i, "ss_archive_get_run"));
    table_row row;
    SS_TRY(table_read(a, i, &row));
    out->index = i;
    out->id = xstrdup(a->ids[i]);
    out->status = row.status >= 0 && row.status < SS_RUN_STATUS_COUNT ? (ss_run_status)row.status : SS_RUN_PENDING;
    out->attempts = row.attempts;
    out->iterations_done = row.iterations_done;
    out->final_loss = row.final_loss;
    out->start_time = row.start_time;
    out->end_time = row.end_time;
    out->rank = row.rank;
    out->error = xstrdup(row.error);
    out->host = xstrdup(row.host);
    out->backend = xstrdup(row.backend);
    out->device = xstrdup(row.device);
    table_row_reclaim(&row);
    out->checkpoint_iteration = -1;
    if (!out->id || !out->error || !out->host || !out->backend || !out->device)
        return ss_error(SS_ERR_NOMEM, "out of memory reading run %d of %s", i, a->path);
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = attr_get_str(g, "params", &out->params, a->path);
    if (st == SS_OK) st = attr_get_str(g, "weights", &out->weights, a->path);
    long long nm = first_extent(g, "metrics"), ns = first_extent(g, "snapshot_iterations");
    long long ns_img = first_extent(g, "snapshots");
    if (st == SS_OK && (nm < 0 || ns < 0 || ns_img < 0))
        st = ss_error(SS_ERR_FORMAT, "%s: run '%s' has unreadable metrics or snapshots", a->path, a->ids[i]);
    out->n_metrics = (int)nm;
    out->n_snapshots = (int)(ns < ns_img ? ns : ns_img);
    out->has_final = exists(g, "final");
    if (exists(g, "checkpoint")) {
        hid_t ck = H5Gopen2(g, "checkpoint", H5P_DEFAULT);
        slot_info si[2];
        read_slot_info(ck, 0, &si[0]);
        read_slot_info(ck, 1, &si[1]);
        long long best = -1;
        for (int s = 0; s < 2; s++)
            if (si[s].complete && si[s].generation > best) {
                best = si[s].generation;
                out->checkpoint_iteration = (int)si[s].iteration;
            }
        if (ck >= 0) H5Gclose(ck);
    }
    H5Gclose(g);
    return st;
}

ss_status ss_archive_manifest(ss_archive *a, char **sweep, char **text, char **sha) {
    if (sweep) *sweep = NULL;
    if (text) *text = NULL;
    if (sha) *sha = NULL;
    if (!a) return ss_error(SS_ERR_ARG, "ss_archive_manifest: no archive");
    if (sweep) SS_TRY(attr_get_str(a->file, "sweep", sweep, a->path));
    if (sha) SS_TRY(attr_get_str(a->file, "manifest_sha256", sha, a->path));
    if (text) {
        hid_t d = exists(a->file, "manifest") ? H5Dopen2(a->file, "/manifest", H5P_DEFAULT) : -1;
        if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: /manifest is missing", a->path);
        hid_t t = vlen_str_type();
        char *v = NULL;
        herr_t e = H5Dread(d, t, H5S_ALL, H5S_ALL, ar_dxpl(), &v);
        if (e >= 0) {
            *text = xstrdup(v);
            hid_t sp = H5Screate(H5S_SCALAR);
            H5Dvlen_reclaim(t, sp, H5P_DEFAULT, &v);
            H5Sclose(sp);
        }
        H5Tclose(t);
        H5Dclose(d);
        if (e < 0) return ss_error(SS_ERR_FORMAT, "%s: cannot read /manifest", a->path);
        SS_ALLOC_CHECK(*text);
    }
    return SS_OK;
}

ss_status ss_archive_read_metrics(ss_archive *a, int i, ss_archive_metrics **rows, int *n) {
    *rows = NULL;
    *n = 0;
    SS_TRY(check_run(a, i, "ss_archive_read_metrics"));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = SS_OK;
    long long m = first_extent(g, "metrics");
    if (m < 0) {
        st = ss_error(SS_ERR_FORMAT, "%s: metrics of run '%s' are unreadable", a->path, a->ids[i]);
    } else if (m > 0) {
        *rows = calloc((size_t)m, sizeof **rows);
        hid_t d = H5Dopen2(g, "metrics", H5P_DEFAULT);
        hid_t mt = metrics_type(0);
        if (!*rows || d < 0 || H5Dread(d, mt, H5S_ALL, H5S_ALL, ar_dxpl(), *rows) < 0) {
            free(*rows);
            *rows = NULL;
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read the metrics of run '%s'", a->path, a->ids[i]);
        } else {
            *n = (int)m;
        }
        H5Tclose(mt);
        if (d >= 0) H5Dclose(d);
    }
    H5Gclose(g);
    return st;
}

void ss_archive_free_strings(char **s, int n) { ss_h5_free_strings(s, n); }

ss_status ss_archive_read_style_layers(ss_archive *a, int i, double **values, int *n_rows, int *n_layers,
                                       char ***names) {
    *values = NULL;
    *n_rows = *n_layers = 0;
    *names = NULL;
    SS_TRY(check_run(a, i, "ss_archive_read_style_layers"));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = SS_OK;
    if (exists(g, "style_layers")) {
        hid_t d = H5Dopen2(g, "style_layers", H5P_DEFAULT);
        hid_t sp = d < 0 ? -1 : H5Dget_space(d);
        hsize_t dims[2] = {0, 0};
        if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 2 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
            st = ss_error(SS_ERR_FORMAT, "%s: style_layers of run '%s' is not 2-D", a->path, a->ids[i]);
        } else {
            int nn = 0;
            st = ss_h5_read_strings(names, &nn, d, "layer_names", a->path);
            if (st == SS_OK && (hsize_t)nn != dims[1]) {
                st = ss_error(SS_ERR_FORMAT, "%s: run '%s' has %d layer names for %llu columns", a->path, a->ids[i], nn,
                              (unsigned long long)dims[1]);
            }
            if (st == SS_OK) {
                size_t cells = (size_t)(dims[0] * dims[1]);
                *values = malloc((cells ? cells : 1) * sizeof **values);
                if (!*values || (cells > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, ar_dxpl(), *values) < 0))
                    st = ss_error(SS_ERR_FORMAT, "%s: cannot read style_layers of run '%s'", a->path, a->ids[i]);
            }
            if (st == SS_OK) {
                *n_rows = (int)dims[0];
                *n_layers = (int)dims[1];
            } else {
                ss_h5_free_strings(*names, nn);
                *names = NULL;
                free(*values);
                *values = NULL;
            }
        }
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
    }
    H5Gclose(g);
    return st;
}

/* Reads a uint8 dataset of rank r into a new buffer with its dims. */
static ss_status read_u8(hid_t g, const char *name, int r, hsize_t *dims, unsigned char **out, const char *what) {
    *out = NULL;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    ss_status st = SS_OK;
    if (sp < 0 || H5Sget_simple_extent_ndims(sp) != r || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 ||
        dims[r - 1] != 3) {
        st = ss_error(SS_ERR_FORMAT, "%s: %s is not a uint8 image array", what, name);
    } else {
        size_t n = 1;
        for (int k = 0; k < r; k++) n *= dims[k];
        *out = malloc(n ? n : 1);
        if (!*out || (n > 0 && H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, ar_dxpl(), *out) < 0)) {
            free(*out);
            *out = NULL;
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read %s", what, name);
        }
    }
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return st;
}

ss_status ss_archive_read_snapshots(ss_archive *a, int i, unsigned char **rgb, int **iterations, int *n, int *w,
                                    int *h) {
    *rgb = NULL;
    *iterations = NULL;
    *n = *w = *h = 0;
    SS_TRY(check_run(a, i, "ss_archive_read_snapshots"));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = SS_OK;
    if (exists(g, "snapshots")) {
        char what[ID_MAX + 4200];
        snprintf(what, sizeof what, "%s: run '%s'", a->path, a->ids[i]);
        hsize_t dims[4] = {0};
        st = read_u8(g, "snapshots", 4, dims, rgb, what);
        long long ni = st == SS_OK ? first_extent(g, "snapshot_iterations") : 0;
        if (st == SS_OK && ni < 0) st = ss_error(SS_ERR_FORMAT, "%s: snapshot_iterations unreadable", what);
        long long m = (long long)dims[0] < ni ? (long long)dims[0] : ni;
        if (st == SS_OK && m > 0) {
            int *its = malloc((size_t)ni * sizeof *its);
            hid_t d = H5Dopen2(g, "snapshot_iterations", H5P_DEFAULT);
            if (!its || d < 0 || H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, ar_dxpl(), its) < 0) {
                free(its);
                st = ss_error(SS_ERR_FORMAT, "%s: cannot read snapshot_iterations", what);
            } else {
                *iterations = its;
            }
            if (d >= 0) H5Dclose(d);
        }
        if (st == SS_OK && m > 0) {
            *n = (int)m;
            *h = (int)dims[1];
            *w = (int)dims[2];
        } else {
            free(*rgb);
            *rgb = NULL;
            free(*iterations);
            *iterations = NULL;
        }
    }
    H5Gclose(g);
    return st;
}

ss_status ss_archive_read_final(ss_archive *a, int i, unsigned char **rgb, int *w, int *h, int *found) {
    *rgb = NULL;
    *w = *h = *found = 0;
    SS_TRY(check_run(a, i, "ss_archive_read_final"));
    hid_t g = open_run(a, i);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    ss_status st = SS_OK;
    if (exists(g, "final")) {
        char what[ID_MAX + 4200];
        snprintf(what, sizeof what, "%s: run '%s'", a->path, a->ids[i]);
        hsize_t dims[3] = {0};
        st = read_u8(g, "final", 3, dims, rgb, what);
        if (st == SS_OK) {
            *h = (int)dims[0];
            *w = (int)dims[1];
            *found = 1;
        }
    }
    H5Gclose(g);
    return st;
}
