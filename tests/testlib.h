/* testlib.h - what the C tests (tests/test_*.c) share: counted checks, the
 * first CHECK_PRINT_LIMIT failures printed to stderr as "file:line: FAILED
 * cond: message", the exit status, and a scratch directory under /tmp.
 * Header-only: each test program includes it once, so the counters are plain
 * static variables and every function is static inline.
 *
 *   CHECK(cond, fmt, ...)   counts a check; fails it when cond is false
 *   CHECK_OK(expr)          CHECK that an ss_status expression gives SS_OK
 *   FAIL(fmt, ...)          counts a failure (the caller counts its checks)
 *   MUST(expr)              an ss_status expression that must give SS_OK, or
 *                           the test stops at once with exit status 1
 *   check_summary(name)     prints the counts; returns the exit status
 *   check_tmpdir(prefix)    makes the scratch directory g_dir =
 *                           /tmp/PREFIX.XXXXXX; check_tmpdir_remove() removes it
 *   tmp_path(name)          g_dir/name */
#ifndef SS_TESTS_TESTLIB_H
#define SS_TESTS_TESTLIB_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "status.h"

#ifndef CHECK_PRINT_LIMIT
#define CHECK_PRINT_LIMIT 40
#endif

static int g_checks, g_failures;

/* Counts a failure; prints it while fewer than CHECK_PRINT_LIMIT were. */
static inline void check_vfail(const char *file, int line, const char *cond, const char *fmt, va_list ap) {
    if (g_failures++ < CHECK_PRINT_LIMIT) {
        fflush(stdout); /* keeps the order of the test's own output */
        fprintf(stderr, "%s:%d: FAILED%s%s: ", file, line, cond ? " " : "", cond ? cond : "");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    } else if (g_failures == CHECK_PRINT_LIMIT + 1) {
        fprintf(stderr, "(further failures are counted, not printed)\n");
    }
}

static inline void check_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline void check_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    check_vfail(file, line, cond, fmt, ap);
    va_end(ap);
}

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        g_checks++;                                                      \
        if (!(cond)) check_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
    } while (0)

#define FAIL(...) check_fail(__FILE__, __LINE__, NULL, __VA_ARGS__)

#define CHECK_OK(expr)                                                                                \
    do {                                                                                              \
        ss_status check_st_ = (expr);                                                                 \
        CHECK(check_st_ == SS_OK, "%s -> %s: %s", #expr, ss_strerror(check_st_), ss_error_message()); \
    } while (0)

#define MUST(expr)                                                                                            \
    do {                                                                                                      \
        ss_status must_st_ = (expr);                                                                          \
        if (must_st_ != SS_OK) {                                                                              \
            fflush(stdout);                                                                                   \
            fprintf(stderr, "%s:%d: FAILED %s returned %s: %s (the test stops)\n", __FILE__, __LINE__, #expr, \
                    ss_strerror(must_st_), ss_error_message());                                               \
            exit(1);                                                                                          \
        }                                                                                                     \
    } while (0)

/* Prints "NAME: N checks, M failures" (or "all N checks passed"); returns
 * the exit status: 0 when nothing failed, 1 otherwise. */
static inline int check_summary(const char *name) {
    fflush(stdout);
    if (g_failures) {
        fprintf(stderr, "%s: %d checks, %d failures\n", name, g_checks, g_failures);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, g_checks);
    return 0;
}

/* ---- scratch directory ---- */

static char g_dir[256];

/* Makes the directory /tmp/PREFIX.XXXXXX (its name in g_dir); exits with
 * status 2 when it cannot. */
static inline void check_tmpdir(const char *prefix) {
    snprintf(g_dir, sizeof g_dir, "/tmp/%s.XXXXXX", prefix);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        exit(2);
    }
}

/* g_dir/name in one of eight rotating static buffers: copy it to keep it. */
static inline char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", g_dir, name);
    return b;
}

static inline int check_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    if (flag == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

/* Removes g_dir and everything in it (the test may have made it
 * read-only in parts: what cannot be removed stays). */
static inline void check_tmpdir_remove(void) {
    if (g_dir[0]) nftw(g_dir, check_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
