/* journal.c - the archive's journaling HDF5 file driver (see journal.h and
 * hdf5/SCHEMA.md, "Crashes").
 *
 * Pages: every write of HDF5 lands in 4 KiB pages held in memory (a hash
 * from page number to its bytes); reads see the archive file overlaid with
 * those pages. A flush commits the pages written since the previous commit
 * as one batch appended to ARCHIVE.journal:
 *
 *   "SSJB" u32 version 2, u32 n_pages, u32 0, u64 sequence, u64 eoa, u64 eof,
 *   n_pages x (u64 page number, u16 offset, u16 length, the bytes written
 *   in that page since the last commit), u32 CRC-32 of all before, "SSJE"
 *
 * (little-endian; only the bytes HDF5 wrote, not whole pages), then
 * applies every committed page's written bytes to the archive file
 * under the exclusive lock of [0, SSJ_DATA_END) and forgets the pages. A
 * reader holding the shared lock defers the apply (the pages stay in memory
 * and in the journal) until a later flush finds the lock free, or a bound
 * (UNAPPLIED_MAX bytes, then a wait of at most LOCK_WAIT_S) is reached.
 * Opening for writing rolls every complete batch of a journal forward;
 * opening read-only overlays them without writing, so a reader sees the
 * last committed state even when a crash cut an apply short. A batch cut
 * short (no valid CRC) is ignored with everything after it: the archive
 * keeps the previous commit. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "archive_int.h"

enum { PAGE = 4096, HEADER = 40, TRAILER = 8, REC_HEAD = 12, VERSION = 2 };
static const size_t UNAPPLIED_MAX = (size_t)256 << 20; /* pages kept for a reader before waiting for it */
static const off_t JOURNAL_KEEP = (off_t)64 << 20;     /* journal size above which an apply empties it */
static const double LOCK_WAIT_S = 10.0;                /* longest wait for readers, then write anyway */
static const size_t KEEP_PAGES = 8192;                 /* clean pages kept after an apply (32 MiB) */
static const int SYNC_GAP_S = 1;                       /* shortest time between two syncs of the journal */

typedef struct page {
    uint64_t no;
    uint16_t jlo, jhi; /* the bytes written since the last commit (none when equal) */
    uint16_t alo, ahi; /* the bytes written since the last apply */
    unsigned char *data;
} page;

typedef struct ssj_file {
    H5FD_t pub; /* first: HDF5 sees an H5FD_t */
    int fd, jfd, writer;
    char *path, *jpath;
    haddr_t eoa, eof; /* eof: the file's logical size (pages included) */
    off_t disk_size;  /* the archive file's size on disk */
    int eof_dirty;    /* eof changed since the last commit */
    page *pages;
    size_t n, cap, n_jdirty, n_adirty; /* pages; of them written since the last commit, apply */
    size_t *slot;                      /* open addressing: page index + 1, 0 = empty */
    size_t n_slots;
    off_t jsize;
    uint64_t seq;
    int sync_next;
    /* the syncer: a thread making the journal durable up to a commit
     * (fdatasync) while the writer goes on; want/done count requests */
    pthread_t syncer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int syncer_on, quit;
    long want, done;
    dev_t dev;
    ino_t ino;
} ssj_file;

/* A journal a writer of this process left applied at a close that
 * reopens the file (ssj_keep_next_close): the next open of it goes on
 * appending instead of rolling it forward. */
static struct {
    int armed, set;
    dev_t dev;
    ino_t ino;
    off_t size;
    uint64_t seq;
} kept;

void ssj_keep_next_close(void) { kept.armed = 1; }

static long c_commits, c_applied, c_deferred;
static long long c_journal_bytes;

void ssj_counters(long *commits, long *applied, long *deferred, long long *journal_bytes) {
    *commits = c_commits;
    *applied = c_applied;
    *deferred = c_deferred;
    *journal_bytes = c_journal_bytes;
}

char *ssj_journal_path(const char *path) {
    size_t n = strlen(path) + 9;
    char *j = malloc(n);
    if (j) snprintf(j, n, "%s.journal", path);
    return j;
}

/* 0 never, 1 at the commits asked for (ssj_sync_next, the default) in
 * the background, 2 every commit, before it returns. */
static int sync_mode(void) {
    const char *e = getenv("STYLESWEEP_ARCHIVE_SYNC");
    if (!e || !*e) return 1;
    if (!strcmp(e, "0") || !strcmp(e, "off")) return 0;
    return !strcmp(e, "all") ? 2 : 1;
}

/* ---- little-endian fields ---- */
static void put32(unsigned char *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int k = 3; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

/* ---- the page map ---- */
static size_t slot_of(const ssj_file *f, uint64_t no) {
    uint64_t h = no * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (f->n_slots - 1);
}

static page *find_page(const ssj_file *f, uint64_t no) {
    if (!f->n_slots) return NULL;
    for (size_t s = slot_of(f, no);; s = (s + 1) & (f->n_slots - 1)) {
        if (!f->slot[s]) return NULL;
        if (f->pages[f->slot[s] - 1].no == no) return &f->pages[f->slot[s] - 1];
    }
}

/* Rebuilds the hash with room for twice the pages. */
static int rehash(ssj_file *f) {
    size_t ns = f->n_slots ? f->n_slots : 1024;
    while (ns < 4 * (f->n + 1)) ns *= 2;
    size_t *s = f->slot;
    if (ns != f->n_slots || !s) {
        s = calloc(ns, sizeof *s);
        if (!s) return -1;
        free(f->slot);
    } else {
        memset(s, 0, ns * sizeof *s);
    }
    f->slot = s;
    f->n_slots = ns;
    for (size_t k = 0; k < f->n; k++) {
        size_t j = slot_of(f, f->pages[k].no);
        while (s[j]) j = (j + 1) & (ns - 1);
        s[j] = k + 1;
    }
    return 0;
}

/* Reads what the archive file holds of page no into buf (zeros past its end). */
static int read_disk(const ssj_file *f, unsigned char *buf, haddr_t addr, size_t size) {
    size_t have = 0;
    if ((off_t)addr < f->disk_size) {
        size_t want = (off_t)(addr + size) <= f->disk_size ? size : (size_t)(f->disk_size - (off_t)addr);
        while (have < want) {
            ssize_t r = pread(f->fd, buf + have, want - have, (off_t)(addr + have));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return -1;
            if (r == 0) break;
            have += (size_t)r;
        }
    }
    memset(buf + have, 0, size - have);
    return 0;
}

/* The page no, added (with the archive's bytes unless `whole`: the caller
 * overwrites all of it) when missing; NULL when out of memory. */
static page *get_page(ssj_file *f, uint64_t no, int whole) {
    page *p = find_page(f, no);
    if (p) return p;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 256;
        page *np = realloc(f->pages, cap * sizeof *np);
        if (!np) return NULL;
        f->pages = np;
        f->cap = cap;
    }
    unsigned char *d = malloc(PAGE);
    if (!d || (!whole && read_disk(f, d, (haddr_t)no * PAGE, PAGE) != 0)) {
        free(d);
        return NULL;
    }
    p = &f->pages[f->n++];
    p->no = no;
    p->jlo = p->jhi = p->alo = p->ahi = 0;
    p->data = d;
    if (4 * f->n > f->n_slots && rehash(f) != 0) return NULL;
    size_t s = slot_of(f, no);
    while (f->slot[s]) s = (s + 1) & (f->n_slots - 1);
    f->slot[s] = f->n;
    return p;
}

static void drop_pages(ssj_file *f) {
    for (size_t k = 0; k < f->n; k++) free(f->pages[k].data);
    f->n = f->n_jdirty = f->n_adirty = 0;
    if (f->slot) memset(f->slot, 0, f->n_slots * sizeof *f->slot);
}

/* ---- locks ---- */

/* The data lock of type (F_WRLCK, F_UNLCK) on fd, waiting at most wait_s
 * seconds for readers (0: one try). 0 when held (or the system has no
 * such locks: nothing to wait for), -1 when readers still hold it. */
static int data_lock(int fd, short type, double wait_s) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = SSJ_DATA_END;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
#ifdef F_OFD_SETLK
        int r = fcntl(fd, F_OFD_SETLK, &fl);
#else
        int r = fcntl(fd, F_SETLK, &fl);
#endif
        if (r == 0 || (errno != EAGAIN && errno != EACCES && errno != EINTR)) return 0;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) * 1e-9 >= wait_s) return -1;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* ---- commit and apply ---- */

static int write_all(int fd, const unsigned char *p, size_t n, off_t at) {
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
        at += w;
    }
    return 0;
}

static void *syncer_main(void *arg) {
    ssj_file *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->quit && f->want == f->done) pthread_cond_wait(&f->cv, &f->mu);
        if (f->want == f->done) break;
        long w = f->want;
        pthread_mutex_unlock(&f->mu);
        fdatasync(f->jfd);
        pthread_mutex_lock(&f->mu);
        f->done = w;
        /* at most one sync per SYNC_GAP_S (the requests meanwhile share the
         * next); the end of the writer cuts the wait short */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)SYNC_GAP_S;
        while (!f->quit && pthread_cond_timedwait(&f->cv, &f->mu, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* Asks the syncer to make the journal durable as it is now (started at
 * the first request; synchronously when no thread can be made). */
static void request_sync(ssj_file *f) {
    if (!f->syncer_on) {
        f->syncer_on = pthread_mutex_init(&f->mu, NULL) == 0 && pthread_cond_init(&f->cv, NULL) == 0 &&
                       pthread_create(&f->syncer, NULL, syncer_main, f) == 0;
        if (!f->syncer_on) {
            fdatasync(f->jfd);
            return;
        }
    }
    pthread_mutex_lock(&f->mu);
    f->want++;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Ends the syncer after its last request. */
static void stop_syncer(ssj_file *f) {
    if (!f->syncer_on) return;
    pthread_mutex_lock(&f->mu);
    f->quit = 1;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->syncer, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    f->syncer_on = 0;
}

/* Appends the pages written since the last commit to the journal as one
 * batch (made durable when asked). */
static int commit(ssj_file *f) {
    if (!f->n_jdirty && !f->eof_dirty) return 0;
    if (f->jfd < 0 && (f->jfd = open(f->jpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) return -1;
    size_t len = HEADER + TRAILER;
    for (size_t k = 0; k < f->n; k++)
        if (f->pages[k].jhi > f->pages[k].jlo) len += REC_HEAD + (size_t)(f->pages[k].jhi - f->pages[k].jlo);
    unsigned char *b = malloc(len), *p = b;
    if (!b) return -1;
    memcpy(p, "SSJB", 4);
    put32(p + 4, VERSION);
    put32(p + 8, (uint32_t)f->n_jdirty);
    put32(p + 12, 0);
    put64(p + 16, f->seq);
    put64(p + 24, (uint64_t)f->eoa);
    put64(p + 32, (uint64_t)f->eof);
    p += HEADER;
    for (size_t k = 0; k < f->n; k++) {
        page *pg = &f->pages[k];
        if (pg->jhi <= pg->jlo) continue;
        size_t n = (size_t)(pg->jhi - pg->jlo);
        put64(p, pg->no);
        p[8] = (unsigned char)(pg->jlo & 0xFF);
        p[9] = (unsigned char)(pg->jlo >> 8);
        p[10] = (unsigned char)(n & 0xFF);
        p[11] = (unsigned char)(n >> 8);
        memcpy(p + REC_HEAD, pg->data + pg->jlo, n);
        p += REC_HEAD + n;
    }
    put32(p, ar_crc32(0, b, (size_t)(p - b)));
    memcpy(p + 4, "SSJE", 4);
    /* test hook: a kill with half the batch in the journal */
    int e = write_all(f->jfd, b, len / 2, f->jsize);
    if (e == 0) ar_test_kill_point("commit");
    if (e == 0) e = write_all(f->jfd, b + len / 2, len - len / 2, f->jsize + (off_t)(len / 2));
    free(b);
    int mode = sync_mode();
    if (e == 0 && mode == 2) e = fdatasync(f->jfd);
    if (e == 0 && mode == 1 && f->sync_next) request_sync(f);
    if (e != 0) return -1;
    f->sync_next = 0;
    f->jsize += (off_t)len;
    f->seq++;
    c_commits++;
    c_journal_bytes += (long long)len;
    for (size_t k = 0; k < f->n; k++) f->pages[k].jlo = f->pages[k].jhi = 0;
    f->n_jdirty = 0;
    f->eof_dirty = 0;
    return 0;
}

static int cmp_page(const void *x, const void *y) {
    uint64_t a = ((const page *)x)->no, b = ((const page *)y)->no;
    return a < b ? -1 : a > b;
}

/* Writes the bytes written since the last apply, page by page in order,
 * runs that continue from page to page with one call each. */
static int write_pages(ssj_file *f) {
    if (f->n > 1) qsort(f->pages, f->n, sizeof *f->pages, cmp_page); /* the hash is rebuilt after */
    struct iovec iov[64];
    for (size_t k = 0; k < f->n;) {
        if (f->pages[k].ahi <= f->pages[k].alo) {
            k++;
            continue;
        }
        size_t m = 0, total = 0;
        while (k + m < f->n && m < 64) {
            const page *p = &f->pages[k + m];
            /* a run goes on only into the start of the next page (alo 0) with something written */
            if (m > 0 &&
                (p->no != f->pages[k + m - 1].no + 1 || f->pages[k + m - 1].ahi != PAGE || p->alo != 0 || p->ahi == 0))
                break;
            iov[m].iov_base = p->data + p->alo;
            iov[m].iov_len = (size_t)(p->ahi - p->alo);
            total += iov[m].iov_len;
            m++;
        }
        off_t at = (off_t)(f->pages[k].no * PAGE + f->pages[k].alo);
        if (pwritev(f->fd, iov, (int)m, at) != (ssize_t)total) /* short or interrupted: piece by piece */
            for (size_t j = 0, off = 0; j < m; off += iov[j].iov_len, j++)
                if (write_all(f->fd, iov[j].iov_base, iov[j].iov_len, at + (off_t)off) != 0) return -1;
        if (k == 0 && f->n > 1) ar_test_kill_point("apply"); /* a kill with part of the pages written */
        k += m;
    }
    return 0;
}

/* Applies every committed page to the archive file under the exclusive
 * data lock. Without it (a reader holds the shared lock): deferred, unless
 * `block` or more than UNAPPLIED_MAX bytes wait, then it waits (at most
 * LOCK_WAIT_S). `final`: the journal is removed after (clean close). */
static int apply(ssj_file *f, int block, int final) {
    if (f->n_jdirty) return -1; /* never apply what is not committed */
    if (!f->n_adirty && (off_t)f->eof == f->disk_size && !final) return 0;
    if (data_lock(f->fd, F_WRLCK, 0) != 0) {
        if (!block && f->n_adirty * PAGE < UNAPPLIED_MAX) {
            c_deferred++;
            return 0;
        }
        data_lock(f->fd, F_WRLCK, LOCK_WAIT_S); /* readers still reading after it: write anyway */
    }
    off_t end = f->disk_size; /* the file's size after the writes */
    for (size_t k = 0; k < f->n; k++)
        if (f->pages[k].ahi > f->pages[k].alo && (off_t)(f->pages[k].no * PAGE + f->pages[k].ahi) > end)
            end = (off_t)(f->pages[k].no * PAGE + f->pages[k].ahi);
    int e = write_pages(f);
    if (e == 0 && (off_t)f->eof != end) e = ftruncate(f->fd, (off_t)f->eof);
    if (e == 0) {
        f->disk_size = (off_t)f->eof;
        /* the pages stay as a cache of the file (the next updates touch the
         * same ones) unless there are many */
        if (f->n > KEEP_PAGES || final) drop_pages(f);
        else {
            for (size_t k = 0; k < f->n; k++) f->pages[k].alo = f->pages[k].ahi = 0;
            f->n_adirty = 0;
            if (rehash(f) != 0) drop_pages(f); /* (the sort moved them) */
        }
        c_applied++;
        if (f->jfd >= 0 && (final || f->jsize > JOURNAL_KEEP)) {
            if (sync_mode() > 0) e = fdatasync(f->fd); /* what the journal held is on disk first */
            if (e == 0) e = ftruncate(f->jfd, 0);
            if (e == 0) f->jsize = 0;
            if (e == 0 && final) unlink(f->jpath);
        }
    }
    data_lock(f->fd, F_UNLCK, 0);
    return e == 0 ? 0 : -1;
}

/* Reads the journal's complete batches into the page map (as committed);
 * sets eoa/eof from the last. *batches, *pages: what it held; *valid: the
 * bytes of complete batches. */
static int load_journal(ssj_file *f, int jfd, long *batches, long *pages, off_t *valid) {
    *batches = *pages = 0;
    *valid = 0;
    struct stat sb;
    if (fstat(jfd, &sb) != 0) return -1;
    if (sb.st_size == 0) return 0;
    unsigned char *b = malloc((size_t)sb.st_size);
    if (!b) return -1;
    size_t have = 0;
    while (have < (size_t)sb.st_size) {
        ssize_t r = pread(jfd, b + have, (size_t)sb.st_size - have, (off_t)have);
        if (r <= 0) break;
        have += (size_t)r;
    }
    size_t at = 0;
    while (at + HEADER + TRAILER <= have && !memcmp(b + at, "SSJB", 4) && get32(b + at + 4) == VERSION) {
        uint64_t np = get32(b + at + 8);
        size_t len = HEADER, ok = 1;
        for (uint64_t k = 0; ok && k < np; k++) { /* the batch's length, every record inside the file */
            const unsigned char *r = b + at + len;
            ok = at + len + REC_HEAD <= have;
            size_t lo = ok ? (size_t)(r[8] | r[9] << 8) : 0, n = ok ? (size_t)(r[10] | r[11] << 8) : 0;
            ok = ok && lo + n <= PAGE && n > 0 && at + len + REC_HEAD + n <= have;
            len += REC_HEAD + n;
        }
        len += TRAILER;
        if (!ok || at + len > have || memcmp(b + at + len - 4, "SSJE", 4) ||
            get32(b + at + len - 8) != ar_crc32(0, b + at, len - TRAILER))
            break;
        for (size_t off = HEADER; f && off < len - TRAILER;) {
            const unsigned char *r = b + at + off;
            uint16_t lo = (uint16_t)(r[8] | r[9] << 8), n = (uint16_t)(r[10] | r[11] << 8);
            page *p = get_page(f, get64(r), 0);
            if (!p) {
                free(b);
                return -1;
            }
            memcpy(p->data + lo, r + REC_HEAD, n);
            if (p->ahi <= p->alo) {
                p->alo = lo, p->ahi = (uint16_t)(lo + n);
                f->n_adirty++;
            } else {
                if (lo < p->alo) p->alo = lo;
                if (lo + n > p->ahi) p->ahi = (uint16_t)(lo + n);
            }
            off += REC_HEAD + n;
        }
        if (f) {
            f->seq = get64(b + at + 16) + 1;
            f->eof = (haddr_t)get64(b + at + 32);
        }
        (*batches)++;
        *pages += (long)np;
        at += len;
    }
    *valid = (off_t)at;
    free(b);
    return 0;
}

int ssj_inspect(const char *path, long *batches, long *pages, long long *torn) {
    *batches = *pages = 0;
    *torn = 0;
    char *jp = ssj_journal_path(path);
    if (!jp) return -1;
    int jfd = open(jp, O_RDONLY | O_CLOEXEC);
    free(jp);
    if (jfd < 0) return errno == ENOENT ? 0 : -1;
    off_t valid = 0;
    struct stat sb;
    int e = load_journal(NULL, jfd, batches, pages, &valid);
    if (e == 0 && fstat(jfd, &sb) == 0) *torn = (long long)(sb.st_size - valid);
    close(jfd);
    return e;
}

/* ---- the driver's callbacks ---- */

static void file_free(ssj_file *f) {
    stop_syncer(f);
    drop_pages(f);
    free(f->pages);
    free(f->slot);
    if (f->fd >= 0) close(f->fd);
    if (f->jfd >= 0) close(f->jfd);
    free(f->path);
    free(f->jpath);
    free(f);
}

static H5FD_t *j_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    (void)fapl;
    (void)maxaddr;
    ssj_file *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->fd = f->jfd = -1;
    f->writer = (flags & H5F_ACC_RDWR) != 0;
    int o = f->writer ? O_RDWR : O_RDONLY;
    if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
    if (flags & H5F_ACC_CREAT) o |= O_CREAT;
    if (flags & H5F_ACC_EXCL) o |= O_EXCL;
    f->path = strdup(name);
    f->jpath = ssj_journal_path(name);
    struct stat sb;
    if (!f->path || !f->jpath || (f->fd = open(name, o | O_CLOEXEC, 0666)) < 0 || fstat(f->fd, &sb) != 0) {
        file_free(f);
        return NULL;
    }
    f->disk_size = sb.st_size;
    f->eof = (haddr_t)sb.st_size;
    f->dev = sb.st_dev;
    f->ino = sb.st_ino;
    if (f->writer && (flags & H5F_ACC_CREAT)) {
        unlink(f->jpath); /* a new file has no journal */
        return &f->pub;
    }
    int jfd = open(f->jpath, (f->writer ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    long batches = 0, pages = 0;
    off_t valid = 0;
    struct stat jb;
    if (jfd >= 0 && f->writer && kept.set && fstat(jfd, &jb) == 0 && jb.st_dev == kept.dev && jb.st_ino == kept.ino &&
        jb.st_size == kept.size) {
        /* this process applied all of it before closing to reopen: go on appending */
        kept.set = 0;
        f->jfd = jfd;
        f->jsize = jb.st_size;
        f->seq = kept.seq;
        return &f->pub;
    }
    kept.set = 0;
    if (jfd >= 0 && load_journal(f, jfd, &batches, &pages, &valid) != 0) {
        close(jfd);
        file_free(f);
        return NULL;
    }
    if (jfd >= 0 && f->writer) {
        /* roll forward: the complete batches into the file, then an empty journal */
        f->jfd = jfd;
        f->jsize = valid;
        if (apply(f, 1, 0) != 0 || ftruncate(jfd, 0) != 0) {
            file_free(f);
            return NULL;
        }
        f->jsize = 0;
    } else if (jfd >= 0) {
        close(jfd);
    }
    return &f->pub;
}

static herr_t j_close(H5FD_t *file) {
    ssj_file *f = (ssj_file *)file;
    int e = 0;
    int keep = kept.armed;
    kept.armed = 0;
    if (f->writer) {
        e = commit(f);
        stop_syncer(f);
        if (e == 0) e = apply(f, 1, !keep);
        struct stat jb;
        if (e == 0 && keep && f->jfd >= 0 && fstat(f->jfd, &jb) == 0) {
            kept.set = 1;
            kept.dev = jb.st_dev;
            kept.ino = jb.st_ino;
            kept.size = jb.st_size;
            kept.seq = f->seq;
        } else if (e == 0 && !keep && sync_mode() > 0) {
            e = fdatasync(f->fd);
        }
    }
    file_free(f);
    return e == 0 ? 0 : -1;
}

static int j_cmp(const H5FD_t *x, const H5FD_t *y) {
    const ssj_file *a = (const ssj_file *)x, *b = (const ssj_file *)y;
    if (a->dev != b->dev) return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino) return a->ino < b->ino ? -1 : 1;
    return 0;
}

static herr_t j_query(const H5FD_t *file, unsigned long *flags) {
    (void)file;
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA;
    return 0;
}

static haddr_t j_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const ssj_file *)file)->eoa;
}

static herr_t j_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
    (void)type;
    ((ssj_file *)file)->eoa = addr;
    return 0;
}

static haddr_t j_get_eof(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const ssj_file *)file)->eof;
}

static herr_t j_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
    (void)fapl;
    *handle = file;
    return 0;
}

static herr_t j_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf) {
    (void)type;
    (void)dxpl;
    ssj_file *f = (ssj_file *)file;
    unsigned char *out = buf;
    if (read_disk(f, out, addr, size) != 0) return -1;
    if (!f->n) return 0;
    for (haddr_t a = addr; a < addr + size;) {
        uint64_t no = a / PAGE;
        size_t off = (size_t)(a % PAGE), take = PAGE - off;
        if (take > addr + size - a) take = (size_t)(addr + size - a);
        const page *p = find_page(f, no);
        if (p) memcpy(out + (a - addr), p->data + off, take);
        a += take;
    }
    return 0;
}

static herr_t j_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buf) {
    (void)type;
    (void)dxpl;
    ssj_file *f = (ssj_file *)file;
    if (!f->writer) return -1;
    const unsigned char *in = buf;
    for (haddr_t a = addr; a < addr + size;) {
        uint64_t no = a / PAGE;
        size_t off = (size_t)(a % PAGE), take = PAGE - off;
        if (take > addr + size - a) take = (size_t)(addr + size - a);
        page *p = get_page(f, no, take == PAGE);
        if (!p) return -1;
        memcpy(p->data + off, in + (a - addr), take);
        uint16_t lo = (uint16_t)off, hi = (uint16_t)(off + take);
        if (p->jhi <= p->jlo) {
            p->jlo = lo, p->jhi = hi;
            f->n_jdirty++;
        } else {
            if (lo < p->jlo) p->jlo = lo;
            if (hi > p->jhi) p->jhi = hi;
        }
        if (p->ahi <= p->alo) {
            p->alo = lo, p->ahi = hi;
            f->n_adirty++;
        } else {
            if (lo < p->alo) p->alo = lo;
            if (hi > p->ahi) p->ahi = hi;
        }
        a += take;
    }
    if (addr + size > f->eof) {
        f->eof = addr + size;
        f->eof_dirty = 1;
    }
    return 0;
}

static herr_t j_flush(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    (void)dxpl;
    ssj_file *f = (ssj_file *)file;
    if (!f->writer) return 0;
    if (commit(f) != 0) return -1;
    return apply(f, closing, 0) == 0 ? 0 : -1;
}

static herr_t j_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    (void)dxpl;
    (void)closing;
    ssj_file *f = (ssj_file *)file;
    if (f->writer && f->eoa != f->eof) {
        /* kept pages read as the file would: zeros past a shrunk end */
        for (size_t k = 0; f->eoa < f->eof && k < f->n; k++) {
            page *p = &f->pages[k];
            haddr_t start = (haddr_t)p->no * PAGE;
            if (start + PAGE > f->eoa && p->jhi <= p->jlo && p->ahi <= p->alo)
                memset(p->data + (f->eoa > start ? f->eoa - start : 0), 0,
                       PAGE - (size_t)(f->eoa > start ? f->eoa - start : 0));
        }
        f->eof = f->eoa;
        f->eof_dirty = 1;
    }
    return 0;
}

/* No superblock driver info (the file is plain HDF5), no driver-specific
 * property lists, and no HDF5 file locking (the archive has its own locks). */
static const H5FD_class_t SSJ_CLASS = {.name = "stylesweep-journal",
                                       .maxaddr = ((haddr_t)1 << 62) - 1,
                                       .fc_degree = H5F_CLOSE_WEAK,
                                       .open = j_open,
                                       .close = j_close,
                                       .cmp = j_cmp,
                                       .query = j_query,
                                       .get_eoa = j_get_eoa,
                                       .set_eoa = j_set_eoa,
                                       .get_eof = j_get_eof,
                                       .get_handle = j_get_handle,
                                       .read = j_read,
                                       .write = j_write,
                                       .flush = j_flush,
                                       .truncate = j_truncate,
                                       .fl_map = H5FD_FLMAP_DICHOTOMY};

static hid_t driver_id = -1;

herr_t ssj_set_fapl(hid_t fapl) {
    if (driver_id < 0 || H5Iis_valid(driver_id) <= 0) driver_id = H5FDregister(&SSJ_CLASS);
    if (driver_id < 0) return -1;
    return H5Pset_driver(fapl, driver_id, NULL);
}

/* The driver's file of an open HDF5 file, NULL when it is not ours. */
static ssj_file *ours(hid_t file) {
    if (driver_id < 0) return NULL;
    hid_t fapl = H5Fget_access_plist(file);
    if (fapl < 0) return NULL;
    hid_t d = H5Pget_driver(fapl);
    H5Pclose(fapl);
    void *h = NULL;
    if (d != driver_id || H5Fget_vfd_handle(file, H5P_DEFAULT, &h) < 0) return NULL;
    return (ssj_file *)h;
}

size_t ssj_unapplied(hid_t file) {
    const ssj_file *f = ours(file);
    return f && f->writer ? f->n_adirty * PAGE : 0;
}

void ssj_sync_next(hid_t file) {
    ssj_file *f = ours(file);
    if (f) f->sync_next = 1;
}
