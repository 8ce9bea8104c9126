/* util.c - small utilities shared by several modules (see util.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* ---- durable files ---- */

/* The process's umask, read without changing it (umask(2) would, for a
 * moment, for every thread): /proc/self/status, else the usual 022. */
static mode_t current_umask(void) {
    mode_t m = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return m;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned v;
        if (sscanf(line, "Umask: %o", &v) == 1) {
            m = (mode_t)(v & 0777);
            break;
        }
    }
    fclose(f);
    return m;
}

/* fsyncs the folder that holds path, so that a rename into it is durable.
 * Returns 0 or an errno value; file systems that cannot sync a folder
 * (EINVAL, EROFS) count as done. */
static int sync_folder(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return errno;
    int err = fsync(fd) != 0 && errno != EINVAL && errno != EROFS ? errno : 0;
    close(fd);
    return err;
}

/* Creates path's temporary file: *tmp its malloc'ed name, *fd open on it. */
static ss_status make_tmp(char **tmp, int *fd, const char *path) {
    static const char suffix[] = ".tmp.XXXXXX";
    size_t n = strlen(path);
    *tmp = malloc(n + sizeof suffix);
    if (!*tmp) return ss_error(SS_ERR_NOMEM, "cannot write %s: out of memory", path);
    memcpy(*tmp, path, n);
    memcpy(*tmp + n, suffix, sizeof suffix);
    *fd = mkstemp(*tmp);
    if (*fd < 0) {
        int e = errno;
        free(*tmp);
        *tmp = NULL;
        return ss_error(SS_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    (void)fchmod(*fd, 0666 & ~current_umask()); /* mkstemp makes 0600; best effort */
    return SS_OK;
}

ss_status ss_file_tmp_name(char **tmp, const char *path) {
    int fd;
    SS_TRY(make_tmp(tmp, &fd, path));
    close(fd);
    return SS_OK;
}

ss_status ss_file_tmp_open(ss_file_tmp *t, const char *path) {
    memset(t, 0, sizeof *t);
    t->path = strdup(path);
    if (!t->path) return ss_error(SS_ERR_NOMEM, "cannot write %s: out of memory", path);
    int fd;
    ss_status st = make_tmp(&t->tmp, &fd, path);
    if (st != SS_OK) {
        ss_file_tmp_abort(t);
        return st;
    }
    t->f = fdopen(fd, "wb");
    if (!t->f) {
        int e = errno;
        close(fd);
        ss_file_tmp_abort(t);
        return ss_error(SS_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return SS_OK;
}

void ss_file_tmp_abort(ss_file_tmp *t) {
    if (t->f) fclose(t->f);
    if (t->tmp) unlink(t->tmp);
    free(t->tmp);
    free(t->path);
    memset(t, 0, sizeof *t);
}

ss_status ss_file_tmp_commit(ss_file_tmp *t) {
    int err = ferror(t->f) ? (errno ? errno : EIO) : 0;
    if (!err && fflush(t->f) != 0) err = errno ? errno : EIO;
    if (!err && fsync(fileno(t->f)) != 0 && errno != EINVAL && errno != EROFS) err = errno ? errno : EIO;
    if (fclose(t->f) != 0 && !err) err = errno ? errno : EIO;
    t->f = NULL;
    if (!err && rename(t->tmp, t->path) != 0) err = errno ? errno : EIO;
    if (err) {
        ss_status st = ss_error(SS_ERR_IO, "cannot write %s: %s", t->path, strerror(err));
        ss_file_tmp_abort(t);
        return st;
    }
    free(t->tmp); /* renamed: nothing to remove */
    t->tmp = NULL;
    err = sync_folder(t->path);
    ss_status st = err ? ss_error(SS_ERR_IO, "cannot write %s: syncing its folder: %s", t->path, strerror(err)) : SS_OK;
    ss_file_tmp_abort(t);
    return st;
}

ss_status ss_file_write_durable(const char *path, const void *data, size_t size) {
    ss_file_tmp t;
    ss_status st = ss_file_tmp_open(&t, path);
    if (st != SS_OK) return st;
    if (size && fwrite(data, 1, size, t.f) != size) {
        int e = errno ? errno : EIO;
        ss_file_tmp_abort(&t);
        return ss_error(SS_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return ss_file_tmp_commit(&t);
}

ss_status ss_file_commit_rename(const char *tmp, const char *path) {
    int err = 0;
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) err = errno;
    else {
        if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) err = errno;
        close(fd);
    }
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        unlink(tmp);
        return ss_error(SS_ERR_IO, "cannot write %s: %s", path, strerror(err));
    }
    err = sync_folder(path);
    if (err) return ss_error(SS_ERR_IO, "cannot write %s: syncing its folder: %s", path, strerror(err));
    return SS_OK;
}

int ss_file_read_all(char **buf, size_t *len, FILE *f, size_t max) {
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    if (!b) return ENOMEM;
    for (;;) {
        if (n == cap) {
            if (cap >= max) { /* full: over the limit unless the file ends here */
                int more = fread(b + n, 1, 1, f) != 0;
                if (more || ferror(f)) {
                    int e = more ? EFBIG : errno ? errno : EIO;
                    free(b);
                    return e;
                }
                break;
            }
            size_t ncap = cap > max / 2 ? max : cap * 2;
            char *nb = realloc(b, ncap + 1);
            if (!nb) {
                free(b);
                return ENOMEM;
            }
            b = nb;
            cap = ncap;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno ? errno : EIO;
                free(b);
                return e;
            }
            break;
        }
    }
    if (n > max) { /* the first buffer is larger than a small max */
        free(b);
        return EFBIG;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* ---- the rest ---- */

double ss_monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double ss_eta_seconds(double per, int pending, const double *elapsed, int n_running, int workers) {
    double work = per * (pending > 0 ? pending : 0), longest = 0.0;
    for (int i = 0; i < n_running; i++) {
        double rest = per - elapsed[i];
        rest = rest > 0.0 ? rest : 0.0;
        work += rest;
        if (rest > longest) longest = rest;
    }
    double left = work / (workers > 0 ? workers : 1);
    return left > longest ? left : longest;
}

uint64_t ss_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void ss_normalise_key(char *out, size_t size, const char *key) {
    if (!size) return;
    size_t i = 0;
    for (; key[i] && i + 1 < size; i++) out[i] = key[i] == '-' ? '_' : key[i];
    out[i] = '\0';
}
