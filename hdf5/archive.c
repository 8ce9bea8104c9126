/* archive.c - the sweep archive's life cycle (create, open, lock, validate,
 * close) and its run table (see archive.h, archive_int.h and SCHEMA.md).
 *
 * Discipline that keeps the file readable by other processes without SWMR
 * (what makes it crash-proof is the journal under it: journal.h; the rules
 * below keep each flushed state consistent in itself):
 *  - the metadata cache never evicts (evictions off), so HDF5 metadata reaches
 *    the driver only in H5Fflush; every writing call ends with one;
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
 * file description lock (fcntl F_OFD_SETLK) on one byte far past the end to
 * keep a second writer out; readers share the data lock (journal.h). */
#include "archive_int.h"

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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "version.h"

const char *const ar_status_names[SS_RUN_STATUS_COUNT] = {"pending", "running", "done", "failed", "interrupted"};

/* ---- shared helpers ---- */

double ar_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

ss_status ar_check_writable(const ss_archive *a, const char *what) {
    if (!a) return ss_error(SS_ERR_ARG, "%s: no archive", what);
    if (!a->writable) return ss_error(SS_ERR_ARG, "%s: archive %s is open read-only", what, a->path);
    return SS_OK;
}

ss_status ar_check_run(const ss_archive *a, int i, const char *what) {
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
ss_status ar_ensure_space(const char *path, const char *shown, unsigned long long bytes, int creating) {
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
ss_status ar_check_writing(const ss_archive *a, const char *what, unsigned long long bytes) {
    SS_TRY(ar_check_writable(a, what));
    return ar_ensure_space(a->path, a->path, bytes, 0);
}

static hid_t make_fapl(int writer);

hid_t ar_fapl(int writer) { return make_fapl(writer); }

/* Entries of the writer's metadata cache above which a flush also reopens
 * the file (see ar_flush). */
enum { AR_CACHE_ENTRIES_MAX = 2048 };

ss_status ar_flush(ss_archive *a) {
    if (H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0)
        return ss_error(SS_ERR_IO, "%s: cannot flush the archive%s", a->path, ss_h5_error_tail());
    /* The writer's cache never evicts (so that metadata reaches the file only
     * here), and every flush walks all of its entries: left alone, the cost
     * of a flush grows with everything touched since the file was opened.
     * Once the cache holds more than a working set, close the file (all of
     * it is clean now, so this writes nothing) and open it again with an
     * empty cache. The single-writer lock is on its own descriptor and stays. */
    size_t size = 0;
    int entries = 0;
    if (!a->reopenable || H5Fget_mdc_size(a->file, NULL, NULL, &size, &entries) < 0 ||
        entries <= AR_CACHE_ENTRIES_MAX || ssj_unapplied(a->file) > 0 || /* closing would wait for readers */
        H5Fget_obj_count(a->file, H5F_OBJ_ALL | H5F_OBJ_LOCAL) != 1)     /* a caller's object is open: next time */
        return SS_OK;
    ssj_keep_next_close(); /* the journal stays for the reopen below */
    herr_t e = H5Fclose(a->file);
    hid_t fapl = make_fapl(1);
    a->file = e < 0 ? -1 : H5Fopen(a->file_path ? a->file_path : a->path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (a->file < 0) return ss_error(SS_ERR_IO, "%s: cannot reopen the archive after a flush", a->path);
    a->reopens++;
    return SS_OK;
}

/* Test hook (tests/test_resume.sh): with STYLESWEEP_TEST_KILL=WHERE:N in the
 * environment the process kills itself with SIGKILL the N-th time it reaches
 * point WHERE (checkpoint, metrics, final: inside that writing call, after
 * its data and before its last flush), as a kill -9 at the worst moment
 * would. Not for use outside tests. */
void ar_test_kill_point(const char *where) {
    static int count;
    const char *e = getenv("STYLESWEEP_TEST_KILL");
    size_t n = strlen(where);
    if (!e || strncmp(e, where, n) != 0 || e[n] != ':') return;
    if (++count == atoi(e + n + 1)) raise(SIGKILL);
}

ss_status ar_open_run(hid_t *g, const ss_archive *a, int i, const char *func) {
    *g = -1;
    SS_TRY(ar_check_run(a, i, func));
    char name[AR_ID_MAX + 8];
    snprintf(name, sizeof name, "/runs/%s", a->ids[i]);
    *g = H5Gopen2(a->file, name, H5P_DEFAULT);
    if (*g < 0) return ss_error(SS_ERR_FORMAT, "%s: group of run '%s' is missing", a->path, a->ids[i]);
    return SS_OK;
}

/* ---- types ---- */

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
    for (int k = 0; t >= 0 && k < SS_RUN_STATUS_COUNT; k++) {
        signed char v = (signed char)k;
        if (H5Tenum_insert(t, ar_status_names[k], &v) < 0) {
            H5Tclose(t);
            t = -1;
        }
    }
    return t;
}

/* Builds the table's compound type: file = 1 for the packed file type with
 * every field; file = 0 for the memory type holding the fields named in
 * `only` (NULL-terminated; NULL = all). */
hid_t ar_table_type(int file, const char *const *only) {
    size_t size = 0;
    hid_t sub[4];
    sub[F_STR] = ss_h5_vlen_str_type();
    sub[F_ENUM] = status_enum_type(file);
    sub[F_INT] = file ? H5T_STD_I32LE : H5T_NATIVE_INT;
    sub[F_DOUBLE] = file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE;
    if (file)
        for (int k = 0; k < N_TABLE_FIELDS; k++) size += H5Tget_size(sub[TABLE_FIELDS[k].kind]);
    hid_t t = sub[F_STR] < 0 || sub[F_ENUM] < 0 ? -1 : H5Tcreate(H5T_COMPOUND, file ? size : sizeof(table_row));
    size_t off = 0;
    for (int k = 0; t >= 0 && k < N_TABLE_FIELDS; k++) {
        int use = 1;
        if (!file && only) {
            use = 0;
            for (int j = 0; only[j]; j++)
                if (!strcmp(only[j], TABLE_FIELDS[k].name)) use = 1;
        }
        if (!use) continue;
        hid_t ft = sub[TABLE_FIELDS[k].kind];
        if (H5Tinsert(t, TABLE_FIELDS[k].name, file ? off : TABLE_FIELDS[k].offset, ft) < 0) {
            H5Tclose(t);
            t = -1;
        }
        off += H5Tget_size(ft);
    }
    if (sub[F_STR] >= 0) H5Tclose(sub[F_STR]);
    if (sub[F_ENUM] >= 0) H5Tclose(sub[F_ENUM]);
    return t; /* -1 when HDF5 failed: the read or write using it fails */
}

/* The metrics table: ss_archive_metrics in memory, packed little-endian in the file. */
hid_t ar_metrics_type(int file) {
    hid_t i32 = file ? H5T_STD_I32LE : H5T_NATIVE_INT, f64 = file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE;
    size_t size = file ? 2 * 4 + 6 * 8 : sizeof(ss_archive_metrics);
    hid_t t = H5Tcreate(H5T_COMPOUND, size);
    herr_t e = t < 0 ? -1 : 0;
#define M_FIELD(name, ty, packed_off) \
    if (e >= 0) e = H5Tinsert(t, #name, file ? (size_t)(packed_off) : HOFFSET(ss_archive_metrics, name), ty)
    M_FIELD(iteration, i32, 0);
    M_FIELD(loss, f64, 4);
    M_FIELD(content, f64, 12);
    M_FIELD(style, f64, 20);
    M_FIELD(tv, f64, 28);
    M_FIELD(evaluations, i32, 36);
    M_FIELD(seconds, f64, 40);
    M_FIELD(improvement_percent, f64, 48);
#undef M_FIELD
    if (e < 0 && t >= 0) {
        H5Tclose(t);
        t = -1;
    }
    return t; /* -1 when HDF5 failed: the read or write using it fails */
}

/* ---- run table ---- */

/* Writes the fields `only` (NULL-terminated) of row i from *row. */
ss_status ar_table_write(ss_archive *a, int i, const table_row *row, const char *const *only) {
    hid_t d = H5Dopen2(a->file, "/run_table", H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: /run_table is missing", a->path);
    hid_t mt = ar_table_type(0, only);
    herr_t e = ss_h5_write_rows(d, mt, (hsize_t)i, 1, row);
    H5Tclose(mt);
    H5Dclose(d);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot write row %d of /run_table", a->path, i);
    return SS_OK;
}

/* Reads row i (all fields); free the strings with table_row_reclaim. */
ss_status ar_table_read(ss_archive *a, int i, table_row *row) {
    memset(row, 0, sizeof *row);
    hid_t d = H5Dopen2(a->file, "/run_table", H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: /run_table is missing", a->path);
    hid_t mt = ar_table_type(0, NULL);
    hid_t fs = H5Dget_space(d);
    hsize_t off = (hsize_t)i, cnt = 1;
    herr_t e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    hid_t ms = H5Screate_simple(1, &cnt, NULL);
    if (e >= 0) e = H5Dread(d, mt, ms, fs, ss_h5_dxpl(), row);
    const char *tail = e < 0 ? ss_h5_error_tail() : "";
    H5Sclose(ms);
    H5Sclose(fs);
    H5Tclose(mt);
    H5Dclose(d);
    if (e < 0) {
        ar_table_row_reclaim(row); /* what a failed read had already allocated */
        return ss_error(SS_ERR_FORMAT, "%s: cannot read row %d of /run_table%s", a->path, i, tail);
    }
    return SS_OK;
}

void ar_table_row_reclaim(table_row *row) {
    hid_t mt = ar_table_type(0, NULL);
    hsize_t one = 1;
    hid_t sp = H5Screate_simple(1, &one, NULL);
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, row);
    H5Sclose(sp);
    H5Tclose(mt);
    memset(row, 0, sizeof *row);
}

/* Reads every id of the run table into a->ids. */
static ss_status load_ids(ss_archive *a) {
    if (!ss_h5_exists(a->file, "run_table"))
        return ss_error(SS_ERR_FORMAT, "%s: damaged archive (/run_table is missing)", a->path);
    hid_t d = H5Dopen2(a->file, "/run_table", H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: damaged archive (cannot open /run_table)", a->path);
    hid_t fs = H5Dget_space(d);
    hsize_t n = 0;
    size_t bytes = 0;
    ss_status status = ss_h5_dataset_shape(&n, &bytes, d, 1, sizeof(char *), a->path, "/run_table");
    if (status == SS_OK && n > INT32_MAX / 2)
        status = ss_error(SS_ERR_FORMAT, "%s: damaged archive (%llu runs)", a->path, (unsigned long long)n);
    if (status != SS_OK) {
        H5Sclose(fs);
        H5Dclose(d);
        return status;
    }
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(char *));
    hid_t st = ss_h5_vlen_str_type();
    H5Tinsert(mt, "id", 0, st);
    char **ids = calloc(n ? n : 1, sizeof *ids);
    herr_t e = !ids ? -1 : H5Dread(d, mt, H5S_ALL, H5S_ALL, ss_h5_dxpl(), ids);
    if (e < 0) {
        status = ss_error(SS_ERR_FORMAT, "%s: damaged archive (cannot read the ids of /run_table)%s", a->path,
                          ss_h5_error_tail());
        if (ids) H5Dvlen_reclaim(mt, fs, H5P_DEFAULT, ids); /* what the failed read had allocated */
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
        a->ids[k] = ar_strdup(ids[k]);
        if (!a->ids[k]) status = SS_ERR_NOMEM;
    }
    if (!a->ids) status = SS_ERR_NOMEM;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t rt = H5Tcreate(H5T_COMPOUND, sizeof(char *));
    hid_t st2 = ss_h5_vlen_str_type();
    H5Tinsert(rt, "id", 0, st2);
    H5Dvlen_reclaim(rt, sp, H5P_DEFAULT, ids);
    H5Tclose(st2);
    H5Tclose(rt);
    H5Sclose(sp);
    free(ids);
    if (status != SS_OK) return ss_error(SS_ERR_NOMEM, "out of memory reading the run table of %s", a->path);
    a->n_runs = (int)n;
    for (int k = 0; k < a->n_runs; k++) {
        char name[AR_ID_MAX + 8];
        snprintf(name, sizeof name, "/runs/%s", a->ids[k]);
        if (!a->ids[k][0] || strlen(a->ids[k]) > AR_ID_MAX || strchr(a->ids[k], '/') ||
            !ss_h5_exists(a->file, "runs") || !ss_h5_exists(a->file, name))
            return ss_error(SS_ERR_FORMAT, "%s: damaged archive (run '%s' of /run_table has no group %s)", a->path,
                            a->ids[k], name);
    }
    return SS_OK;
}

/* ---- open / create ---- */

static hid_t make_fapl(int writer) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* no HDF5 flock: readers must never be refused, the writer has its own lock */
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 0, 1);
#else
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0); /* older HDF5 reads it at each open */
#endif
    /* every write goes through the journal (journal.h): the file changes
     * only from one flushed state to the next, under the data lock; a
     * reader overlays what a crash left committed but not applied */
    ssj_set_fapl(fapl);
    if (writer) {
        /* objects in the 1.8 file format: every metadata structure (superblock,
         * object headers, B-trees, heaps of group links) carries a checksum,
         * so damage is detected instead of read as data; HDF5 >= 1.8 and any
         * h5py read it */
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
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

/* ---- byte-range locks (open file description locks where the system has
 * them: they belong to the descriptor, not the process, so a fork or a
 * second handle in the same process does not share them) ---- */

/* Sets a lock of type (F_WRLCK, F_RDLCK) on [start, start + len) of fd, or
 * with get, asks whether another holder's lock conflicts with one. Returns 0
 * when set, -1 with errno when refused; with get, 1 when a conflicting lock
 * is held, 0 when none is (or the system cannot tell). */
static int byte_lock(int fd, short type, off_t start, off_t len, int get) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
#ifdef F_OFD_SETLK
    int r = fcntl(fd, get ? F_OFD_GETLK : F_OFD_SETLK, &fl);
#else
    int r = fcntl(fd, get ? F_GETLK : F_SETLK, &fl);
#endif
    if (!get) return r;
    return r == 0 && fl.l_type != F_UNLCK;
}

/* The single-writer lock is the byte SSJ_WRITER_BYTE (journal.h), held
 * for the writer's life; a reader holds a shared lock on the data range
 * [0, SSJ_DATA_END) while its handle is open, which the writer's journal
 * takes exclusively only while it applies a flushed batch to the file
 * (hdf5/SCHEMA.md, "Reading while a sweep runs"). */

/* Takes the single-writer lock on path into *fd. */
static ss_status take_lock(int *fd, const char *path, const char *shown) {
    *fd = open(path, O_RDWR | O_CLOEXEC);
    if (*fd < 0) return ss_error(SS_ERR_IO, "cannot open %s for writing: %s", shown, strerror(errno));
    int r = byte_lock(*fd, F_WRLCK, SSJ_WRITER_BYTE, 1, 0);
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

/* Seconds a reader waits for the shared lock (the writer holds it only
 * while it applies one flush: milliseconds) before it reads anyway,
 * retrying reads that fail. */
enum { AR_READER_WAIT_MS = 30000 };

/* A reader's shared lock on the data range, held by *fd until it is
 * closed; -1 when the file system refuses it (then the reader reads as
 * before, retrying a read that races the writer). */
static void mark_reader(int *fd, const char *path) {
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return;
    for (int ms = 0; byte_lock(*fd, F_RDLCK, 0, SSJ_DATA_END, 0) != 0; ms++) {
        if ((errno != EAGAIN && errno != EACCES && errno != EINTR) || ms >= AR_READER_WAIT_MS) {
            close(*fd);
            *fd = -1;
            return;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

int ss_archive_has_readers(const ss_archive *a) {
    if (!a || !a->writable || a->lock_fd < 0) return 0;
    return byte_lock(a->lock_fd, F_WRLCK, 0, SSJ_DATA_END, 1);
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
    free(a->file_path);
    free(a->path);
    free(a);
}

/* Checks the run ids to add: valid names, unique among themselves and the archive. */
static int cmp_str(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

static ss_status check_ids(const ss_archive *a, int n, const char *const *ids) {
    for (int k = 0; k < n; k++) {
        const char *id = ids[k];
        if (!id || !id[0]) return ss_error(SS_ERR_ARG, "run %d has an empty id", k);
        if (strlen(id) > AR_ID_MAX)
            return ss_error(SS_ERR_ARG, "run id '%.40s...' is longer than %d bytes", id, AR_ID_MAX);
        if (strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
            return ss_error(SS_ERR_ARG, "run id '%s' is not a valid name (no '/', not '.' or '..')", id);
        int j;
        if (a->n_runs > 0 && ss_archive_find_run(a, id, &j) == SS_OK)
            return ss_error(SS_ERR_ARG, "run id '%s' is already in archive %s", id, a->path);
    }
    /* duplicates among the new ids: sorted copies side by side */
    const char **sorted = malloc(sizeof *sorted * ((size_t)n + 1));
    SS_ALLOC_CHECK(sorted);
    if (n > 0) {
        memcpy(sorted, ids, sizeof *sorted * (size_t)n);
        qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    }
    ss_status st = SS_OK;
    for (int k = 1; k < n && st == SS_OK; k++)
        if (!strcmp(sorted[k - 1], sorted[k])) st = ss_error(SS_ERR_ARG, "run id '%s' appears twice", sorted[k]);
    free(sorted);
    return st;
}

/* Creates the groups, attributes and empty metrics of new runs and their rows
 * of the run table (the caller flushes). */
ss_status ar_add_runs_unflushed(ss_archive *a, int n, const char *const *ids, const char *const *params) {
    if (n < 0 || n > 10000000) return ss_error(SS_ERR_ARG, "%s: bad number of runs %d", a->path, n);
    SS_TRY(check_ids(a, n, ids));
    if (a->n_runs + n > a->cap) {
        int cap = (a->n_runs + n) * 2 + 8;
        char **p = realloc(a->ids, (size_t)cap * sizeof *p);
        SS_ALLOC_CHECK(p);
        a->ids = p;
        a->cap = cap;
    }
    hid_t runs = ss_h5_exists(a->file, "runs") ? H5Gopen2(a->file, "/runs", H5P_DEFAULT)
                                               : H5Gcreate2(a->file, "/runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (runs < 0) return ss_error(SS_ERR_IO, "%s: cannot create /runs", a->path);
    hid_t mft = ar_metrics_type(1);
    ss_status st = SS_OK;
    for (int k = 0; k < n && st == SS_OK; k++) {
        const char *id = ids[k];
        if (k > 0 && k % 1024 == 0) {
            /* a flush now and then keeps the cache (and each flush) small; a
             * crash leaves groups without table rows, replaced on the next add */
            H5Gclose(runs);
            st = ar_flush(a);
            runs = st != SS_OK ? -1 : H5Gopen2(a->file, "/runs", H5P_DEFAULT);
            if (runs < 0) {
                if (st == SS_OK) st = ss_error(SS_ERR_IO, "%s: cannot open /runs%s", a->path, ss_h5_error_tail());
                break;
            }
        }
        /* a group without a table row is the leftover of an interrupted add: replace it */
        if (ss_h5_exists(runs, id) && H5Ldelete(runs, id, H5P_DEFAULT) < 0) {
            st = ss_error(SS_ERR_IO,
                          "%s: cannot remove the leftover group /runs/%s (a crash damaged the archive: "
                          "`stylesweep repair %s` rebuilds it from what survives)",
                          a->path, id, a->path);
            break;
        }
        hid_t g = H5Gcreate2(runs, id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t zero = 0, chunk = AR_METRICS_CHUNK;
        hid_t m = g < 0 ? -1 : ss_h5_create_extendible(g, "metrics", mft, 1, &zero, &chunk, 0, NULL);
        double nan = NAN;
        if (g < 0 || m < 0 || ss_h5_attr_set_str(g, "id", id) < 0 || ss_h5_attr_set_ll(g, "index", a->n_runs + k) < 0 ||
            ss_h5_attr_set_str(g, "params", params && params[k] ? params[k] : "") < 0 ||
            ss_h5_attr_set_str(g, "status", "pending") < 0 || ss_h5_attr_set_str(g, "error", "") < 0 ||
            ss_h5_attr_set_ll(g, "attempts", 0) < 0 || ss_h5_attr_set_str(g, "host", "") < 0 ||
            ss_h5_attr_set_ll(g, "rank", -1) < 0 || ss_h5_attr_set_str(g, "backend", "") < 0 ||
            ss_h5_attr_set_str(g, "device", "") < 0 || ss_h5_attr_set_str(g, "weights", "") < 0 ||
            ss_h5_attr_set_double(g, "start_time", nan) < 0 || ss_h5_attr_set_double(g, "end_time", nan) < 0)
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
    hsize_t newn = (hsize_t)(a->n_runs + n), oldn = (hsize_t)a->n_runs;
    table_row *rows = calloc((size_t)(n ? n : 1), sizeof *rows);
    /* The rows past the table's end in its last chunk can hold the string
     * references of an append that a crash cut off before its flush,
     * pointing into a global heap that never reached the file, and HDF5
     * frees the strings of the bytes it overwrites: growing the table and
     * shrinking it back first makes HDF5 fill those rows with the fill
     * value (zeros; only bytes past the flushed end are written). */
    herr_t e = rows ? H5Dset_extent(d, &newn) : -1;
    if (e >= 0) e = H5Dset_extent(d, &oldn);
    if (e >= 0) e = H5Dset_extent(d, &newn);
    if (rows && n > 0 && e >= 0) {
        for (int k = 0; k < n; k++) {
            rows[k].id = (char *)ids[k];
            rows[k].status = SS_RUN_PENDING;
            rows[k].rank = -1;
            rows[k].final_loss = rows[k].start_time = rows[k].end_time = NAN;
            rows[k].host = rows[k].backend = rows[k].device = rows[k].error = "";
        }
        hid_t mt = ar_table_type(0, NULL);
        e = ss_h5_write_rows(d, mt, (hsize_t)a->n_runs, (hsize_t)n, rows);
        H5Tclose(mt);
    }
    free(rows);
    H5Dclose(d);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot extend /run_table", a->path);
    for (int k = 0; k < n; k++) {
        a->ids[a->n_runs] = strdup(ids[k]);
        SS_ALLOC_CHECK(a->ids[a->n_runs]);
        a->n_runs++;
        ar_hash_add(a, a->n_runs - 1);
    }
    return SS_OK;
}

ss_status ar_set_to_append(ss_archive *a, long long n) {
    if (n < 0) return ss_error(SS_ERR_ARG, "%s: %lld runs to append", a->path, n);
    if (n == 0 && H5Aexists(a->file, "runs_to_append") <= 0) return SS_OK;
    if (ss_h5_attr_set_ll(a->file, "runs_to_append", n) < 0)
        return ss_error(SS_ERR_IO, "%s: cannot write the attribute runs_to_append", a->path);
    return SS_OK;
}

ss_status ar_write_manifest(ss_archive *a, const char *text, const char *sha) {
    hid_t t = ss_h5_vlen_str_type();
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(a->file, "/manifest", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = text ? text : "";
    herr_t e = d < 0 ? -1 : H5Dwrite(d, t, H5S_ALL, H5S_ALL, ss_h5_dxpl(), &v);
    if (d >= 0) {
        if (e >= 0) e = ss_h5_attr_set_str(d, "sha256", sha);
        H5Dclose(d);
    }
    if (e >= 0) e = ss_h5_attr_set_str(a->file, "manifest_sha256", sha);
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
    if (ss_h5_attr_set_str(root, "format", SS_ARCHIVE_FORMAT) < 0 ||
        ss_h5_attr_set_ll(root, "schema_version", SS_ARCHIVE_SCHEMA_VERSION) < 0 ||
        ss_h5_attr_set_str(root, "created", created) < 0 ||
        ss_h5_attr_set_str(root, "stylesweep_version", SS_VERSION_STRING) < 0 ||
        ss_h5_attr_set_str(root, "sweep", sweep) < 0 ||
        ss_h5_write_strings(root, "status_names", ar_status_names, SS_RUN_STATUS_COUNT, 0) < 0)
        return ss_error(SS_ERR_IO, "%s: cannot write the root attributes", a->path);
    SS_TRY(ar_write_manifest(a, text, sha));
    hid_t ft = ar_table_type(1, NULL);
    hsize_t zero = 0, chunk = AR_TABLE_CHUNK;
    hid_t d = ss_h5_create_extendible(root, "run_table", ft, 1, &zero, &chunk, 0, NULL);
    H5Tclose(ft);
    if (d < 0) return ss_error(SS_ERR_IO, "%s: cannot create /run_table", a->path);
    H5Dclose(d);
    hid_t g = H5Gcreate2(root, "/runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return ss_error(SS_ERR_IO, "%s: cannot create /runs", a->path);
    H5Gclose(g);
    return ar_add_runs_unflushed(a, n, ids, params);
}

/* Renames tmp to path unless path exists (then SS_ERR_IO "exists"). */
static ss_status move_noreplace(const char *tmp, const char *path) {
    int err = ENOSYS;
#ifdef RENAME_NOREPLACE
    err = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0 ? 0 : errno;
#endif
    /* cppcheck-suppress knownConditionTrueFalse ; err changes under RENAME_NOREPLACE, from headers cppcheck skips */
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
    return ss_archive_create_first(out, path, sweep, manifest_text, manifest_sha256, n_runs, ids, params_yaml, 0);
}

ss_status ss_archive_create_first(ss_archive **out, const char *path, const char *sweep, const char *manifest_text,
                                  const char *manifest_sha256, int n_runs, const char *const *ids,
                                  const char *const *params_yaml, long long to_append) {
    *out = NULL;
    if (!path || !path[0]) return ss_error(SS_ERR_ARG, "archive: no path given");
    if (n_runs < 0 || (n_runs > 0 && !ids) || to_append < 0)
        return ss_error(SS_ERR_ARG, "archive %s: bad run list", path);
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
    SS_TRY(ar_ensure_space(dir, path, (unsigned long long)n_runs * 8192, 1));
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
    a->file_path = strdup(tmp); /* until it is moved into place (ar_flush reopens it there) */
    a->reopenable = a->file_path != NULL;
    H5Pclose(fapl);
    if (a->file < 0) {
        st = ss_error(SS_ERR_IO, "cannot create %s (is its directory missing or not writable?)", path);
        goto fail;
    }
    SS_TRY_GOTO(st, take_lock(&a->lock_fd, tmp, path), fail_unlink);
    SS_TRY_GOTO(st, create_contents(a, sweep, manifest_text, manifest_sha256, n_runs, ids, params_yaml), fail_unlink);
    SS_TRY_GOTO(st, ar_set_to_append(a, to_append), fail_unlink);
    SS_TRY_GOTO(st, ar_flush(a), fail_unlink);
    /* closed (its journal applied and removed), moved into place without
     * replacing anything that appeared meanwhile, and opened there (the
     * journal goes beside the archive's name) */
    if (H5Fclose(a->file) < 0) {
        a->file = -1;
        st = ss_error(SS_ERR_IO, "cannot write %s%s", tmp, ss_h5_error_tail());
        goto fail_unlink;
    }
    a->file = -1;
    /* a journal left beside a path that held no archive belongs to none: it
     * must not be rolled forward into this one */
    char *journal = ssj_journal_path(path);
    if (journal) unlink(journal);
    free(journal);
    SS_TRY_GOTO(st, move_noreplace(tmp, path), fail_unlink);
    free(a->file_path);
    a->file_path = NULL;
    a->reopenable = 1;
    fapl = make_fapl(1);
    a->file = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (a->file < 0) {
        st = ss_error(SS_ERR_IO, "cannot open %s after creating it%s", path, ss_h5_error_tail());
        goto fail;
    }
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
    SS_TRY(ss_h5_attr_get_str(a->file, "format", &fmt, a->path));
    int ok = !strcmp(fmt, SS_ARCHIVE_FORMAT);
    if (!ok) {
        ss_error(SS_ERR_FORMAT, "%s is an HDF5 file but not a stylesweep archive (format is '%.60s')", a->path, fmt);
        free(fmt);
        return SS_ERR_FORMAT;
    }
    free(fmt);
    long long ver = 0;
    if (ss_h5_attr_get_ll(a->file, "schema_version", &ver) != 0)
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
    ar_hash_drop(a);
}

/* Opens a->path as HDF5 and validates it; a reader retries for about a second
 * when it races a flush of the writer. */
static ss_status open_file(ss_archive *a);

/* Records the file's size and modification time in a->seen. */
static void note_file(ss_archive *a) {
    struct stat sb;
    if (stat(a->path, &sb) != 0) memset(&sb, 0, sizeof sb);
    a->seen_size = (long long)sb.st_size;
    a->seen_mtime_ns = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
}

/* 1 when a stylesweep writer holds the file (its single-writer lock, see
 * take_lock): it flushes at any moment. */
static int writer_holds(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int held = byte_lock(fd, F_RDLCK, SSJ_WRITER_BYTE, 1, 1);
    close(fd);
    return held;
}

/* 1 when a failed read may have raced a flush: the file changed since
 * note_file, or a writer holds it (a flush within the file system's
 * timestamp granularity that does not change the size leaves no trace in
 * stat). */
static int file_changed(const ss_archive *a) {
    struct stat sb;
    if (stat(a->path, &sb) != 0) return 0;
    return (long long)sb.st_size != a->seen_size ||
           (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec != a->seen_mtime_ns ||
           writer_holds(a->path);
}

int ar_reader_retry(ss_archive *a, ss_status st, int attempt) {
    if (a->writable || st != SS_ERR_FORMAT || attempt >= 20 || !file_changed(a)) return 0;
    char *msg = strdup(ss_error_message());
    usleep(50000);
    int ok = open_file(a) == SS_OK;
    if (!ok && msg) ss_error(st, "%s", msg); /* the read's error, not the reopen's */
    free(msg);
    return ok;
}

static ss_status open_file(ss_archive *a) {
    ss_status st = SS_OK;
    for (int attempt = 0; attempt < (a->writable ? 1 : 20); attempt++) {
        if (attempt) {
            if (!file_changed(a)) break; /* damaged, not racing a flush: retrying cannot help */
            usleep(50000);
        }
        note_file(a);
        drop_file(a);
        hid_t fapl = make_fapl(a->writable);
        a->file = H5Fopen(a->path, a->writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
        H5Pclose(fapl);
        int definitive = 0;
        if (a->file < 0) st = ss_error(SS_ERR_FORMAT, "%s: cannot open it as HDF5%s", a->path, ss_h5_error_tail());
        else st = validate(a, &definitive);
        if (st == SS_OK) return SS_OK;
        if (definitive) break;
    }
    drop_file(a);
    return st;
}

/* Seconds a reader's probe may take (STYLESWEEP_ARCHIVE_PROBE_SECONDS
 * overrides; 0 turns the probe off). */
static double probe_seconds(void) {
    const char *e = getenv("STYLESWEEP_ARCHIVE_PROBE_SECONDS");
    char *end;
    double v = e && *e ? strtod(e, &end) : 30.0;
    return e && *e && !*end && v >= 0 ? v : 30.0;
}

/* HDF5 1.10 can crash or hang on some damaged bytes its checksums do not
 * cover (archives of the earliest format, the global heap of the strings).
 * Before a reader opens the file in this process, a child process opens it,
 * validates it and reads the run table; when the child dies of a signal or
 * does not finish within the time limit, the archive is reported as damaged
 * instead of taking the reader down. Any other failure is left to the
 * reader, which reports it itself. */
static ss_status probe_in_child(ss_archive *a) {
    double limit = probe_seconds();
    if (limit <= 0) return SS_OK;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return SS_OK; /* no child: read in this process */
    if (pid == 0) {
        int definitive = 0;
        hid_t fapl = make_fapl(0);
        a->file = H5Fopen(a->path, H5F_ACC_RDONLY, fapl);
        ss_status st = a->file < 0 ? SS_ERR_FORMAT : validate(a, &definitive);
        ss_run_status *status = st == SS_OK ? malloc(sizeof *status * ((size_t)a->n_runs + 1)) : NULL;
        if (status) st = ss_archive_read_statuses(status, a);
        if (st == SS_OK) {
            table_row row;
            for (int k = 0; k < a->n_runs && k < 64 && st == SS_OK; k++) {
                st = ar_table_read(a, k, &row);
                if (st == SS_OK) ar_table_row_reclaim(&row);
            }
        }
        _exit(st == SS_OK ? 0 : 1);
    }
    int wst = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid(pid, &wst, WNOHANG);
        if (r == pid) break;
        if (r < 0) return SS_OK;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) * 1e-9 > limit) {
            kill(pid, SIGKILL);
            waitpid(pid, &wst, 0);
            return ss_error(SS_ERR_FORMAT,
                            "%s: damaged archive: reading its run table did not finish within %g s (HDF5 hangs on "
                            "some damaged bytes); nothing was changed",
                            a->path, limit);
        }
        usleep(2000);
    }
    if (WIFSIGNALED(wst))
        return ss_error(SS_ERR_FORMAT,
                        "%s: damaged archive: HDF5 crashed reading it (%s in a child process); nothing was changed",
                        a->path, strsignal(WTERMSIG(wst)));
    return SS_OK;
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
    if (writable) SS_TRY(ar_ensure_space(path, path, 0, 0));
    ss_archive *a = archive_new(path, writable);
    SS_ALLOC_CHECK(a);
    if (!writable) mark_reader(&a->lock_fd, path);
    ss_status st = writable ? take_lock(&a->lock_fd, path, path) : probe_in_child(a);
    if (st == SS_OK) st = open_file(a);
    a->reopenable = writable;
    if (st != SS_OK) {
        archive_free(a);
        return st;
    }
    *out = a;
    return SS_OK;
}

ss_status ss_archive_refresh(ss_archive *a) {
    if (!a) return ss_error(SS_ERR_ARG, "%s: no archive", __func__);
    if (a->writable) return ar_flush(a);
    return open_file(a);
}

void ss_archive_journal_counters(long *commits, long *applied, long *deferred, long long *bytes) {
    ssj_counters(commits, applied, deferred, bytes);
}

ss_status ss_archive_flush(ss_archive *a) {
    if (!a) return ss_error(SS_ERR_ARG, "%s: no archive", __func__);
    return a->writable ? ar_flush(a) : SS_OK;
}

ss_status ss_archive_close(ss_archive *a) {
    if (!a) return SS_OK;
    ss_status st = SS_OK;
    if (a->writable && a->file >= 0) st = ar_flush(a);
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
