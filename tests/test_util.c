/* test_util.c - the shared utilities (src/util.h): durable writes leave
 * either the old file or the complete new one and no temporary file, also
 * when they fail; a whole file is read with its size limit; the monotonic
 * clock moves forward; splitmix64 gives its published sequence; keys are
 * spelt with underscores. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

/* Returns the number of entries of dir whose name contains ".tmp.". */
static int count_tmp(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* Returns the content of path (malloc'ed), or NULL. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0;
    int e = ss_file_read_all(&buf, &len, f, 1 << 20);
    fclose(f);
    return e ? NULL : buf;
}

static void test_durable(void) {
    const char *path = tmp_path("a.txt");
    CHECK_OK(ss_file_write_durable(path, "first\n", 6));
    char *s = slurp(path);
    CHECK(s && !strcmp(s, "first\n"), "written: '%s'", s ? s : "(null)");
    free(s);
    /* replaced whole, with the umask's mode, nothing left behind */
    CHECK_OK(ss_file_write_durable(path, "second, longer\n", 15));
    s = slurp(path);
    CHECK(s && !strcmp(s, "second, longer\n"), "replaced: '%s'", s ? s : "(null)");
    free(s);
    struct stat st;
    mode_t um = umask(022);
    umask(um);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == (0666 & ~um), "mode %o, umask %o", st.st_mode & 0777, um);
    CHECK(count_tmp(g_dir) == 0, "%d temporary files left", count_tmp(g_dir));

    /* through ss_file_tmp: aborted, the old file stays and no temporary is left */
    ss_file_tmp t;
    CHECK_OK(ss_file_tmp_open(&t, path));
    CHECK(t.f && t.tmp && strstr(t.tmp, "a.txt.tmp."), "temporary %s", t.tmp ? t.tmp : "(null)");
    fputs("never seen", t.f);
    ss_file_tmp_abort(&t);
    s = slurp(path);
    CHECK(s && !strcmp(s, "second, longer\n"), "after abort: '%s'", s ? s : "(null)");
    free(s);
    CHECK(count_tmp(g_dir) == 0, "abort: %d temporary files left", count_tmp(g_dir));

    /* a folder that does not exist: SS_ERR_IO naming the target */
    const char *bad = tmp_path("no/such/folder/b.txt");
    ss_status r = ss_file_write_durable(bad, "x", 1);
    CHECK(r == SS_ERR_IO && strstr(ss_error_message(), "b.txt"), "missing folder: %d %s", r, ss_error_message());

    /* a file written by name (as HDF5 does), then committed */
    char *tmp = NULL;
    CHECK_OK(ss_file_tmp_name(&tmp, path));
    FILE *f = tmp ? fopen(tmp, "w") : NULL;
    CHECK(f != NULL, "open %s", tmp ? tmp : "(null)");
    if (f) {
        fputs("third\n", f);
        fclose(f);
    }
    if (tmp) CHECK_OK(ss_file_commit_rename(tmp, path));
    free(tmp);
    s = slurp(path);
    CHECK(s && !strcmp(s, "third\n"), "committed: '%s'", s ? s : "(null)");
    free(s);
    CHECK(count_tmp(g_dir) == 0, "commit: %d temporary files left", count_tmp(g_dir));
}

static void test_read_all(void) {
    const char *path = tmp_path("big.bin");
    size_t n = 200000;
    char *data = malloc(n);
    CHECK(data != NULL, "malloc");
    if (!data) return;
    for (size_t i = 0; i < n; i++) data[i] = (char)('a' + i % 26);
    CHECK_OK(ss_file_write_durable(path, data, n));
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    int e = f ? ss_file_read_all(&buf, &len, f, n) : -1;
    CHECK(e == 0 && len == n && buf && !memcmp(buf, data, n) && buf[n] == '\0', "read %zu bytes (e %d)", len, e);
    free(buf);
    if (f) fclose(f);
    f = fopen(path, "rb");
    buf = NULL;
    e = f ? ss_file_read_all(&buf, &len, f, n - 1) : -1;
    CHECK(e == EFBIG && buf == NULL, "one byte over the limit: e %d", e);
    if (f) fclose(f);
    f = fopen(path, "rb");
    e = f ? ss_file_read_all(&buf, &len, f, 100) : -1;
    CHECK(e == EFBIG, "a small limit: e %d", e);
    if (f) fclose(f);
    free(data);
}

static void test_rest(void) {
    /* splitmix64 from state 0 (the reference sequence of its authors' code) */
    uint64_t s = 0;
    uint64_t a = ss_splitmix64(&s), b = ss_splitmix64(&s);
    CHECK(a == 0xe220a8397b1dcdafULL && b == 0x6e789e6aa1b965f4ULL, "splitmix64: %016llx %016llx",
          (unsigned long long)a, (unsigned long long)b);
    double t0 = ss_monotonic_seconds(), t1 = ss_monotonic_seconds();
    CHECK(t0 > 0 && t1 >= t0, "monotonic: %.9f then %.9f", t0, t1);
    /* the ETA: 2 workers, runs of 10 s; 3 pending and two running for 4 and 8 s */
    double el[2] = {4.0, 8.0};
    double e1 = ss_eta_seconds(10.0, 3, el, 2, 2);
    CHECK(fabs(e1 - (30.0 + 6.0 + 2.0) / 2) < 1e-12, "eta: %g", e1);
    el[0] = 5.0, el[1] = 9.0; /* a second later, no run ended: one second less */
    double e2 = ss_eta_seconds(10.0, 3, el, 2, 2);
    CHECK(fabs(e1 - e2 - 1.0) < 1e-12, "eta counts down: %g then %g", e1, e2);
    el[0] = 2.0; /* one run left, more workers than runs: what that run has left */
    CHECK(ss_eta_seconds(10.0, 0, el, 1, 4) == 8.0, "eta of the last run");
    el[0] = 15.0; /* a run over the mean: never below 0 */
    CHECK(ss_eta_seconds(10.0, 0, el, 1, 2) == 0.0, "eta of a late run");
    char k[8];
    ss_normalise_key(k, sizeof k, "tv-weight");
    CHECK(!strcmp(k, "tv_weig"), "normalised and truncated: '%s'", k);
    ss_normalise_key(k, sizeof k, "a-b_c");
    CHECK(!strcmp(k, "a_b_c"), "normalised: '%s'", k);
}

int main(void) {
    check_tmpdir("ss_test_util");
    test_durable();
    test_read_all();
    test_rest();
    check_tmpdir_remove();
    return check_summary("test_util");
}
