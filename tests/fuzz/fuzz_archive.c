/* fuzz_archive.c - libFuzzer harness: the archive reader behind `status`,
 * `export` and `run --resume` on arbitrary bytes: opens the file read-only
 * and reads everything those commands read (manifest, every run's row,
 * metrics, style-layer values, snapshots, final image, checkpoint).
 *
 * In-process by default. With SS_FUZZ_CONTAIN=1 in the environment each
 * input is first read in a child process, and only an input the child read
 * to the end is read again in-process: crashes and hangs inside libhdf5
 * 1.10.8 (README.md, "Known limits") then do not stop a short run, and what
 * the fuzzer reports is in the inputs libhdf5 survives. */
#include <signal.h>
#include <sys/wait.h>

#include "archive.h"
#include "fuzz_common.h"

static void read_all(const char *path) {
    ss_archive *a = NULL;
    if (ss_archive_open(&a, path, 0) != SS_OK) return;
    char *sweep = NULL, *text = NULL, *sha = NULL;
    if (ss_archive_manifest(a, &sweep, &text, &sha) == SS_OK) {
        free(sweep);
        free(text);
        free(sha);
    }
    int n = ss_archive_run_count(a);
    for (int i = 0; i < n && i < 64; i++) {
        ss_archive_run_info info;
        memset(&info, 0, sizeof info);
        ss_archive_get_run(a, i, &info);
        ss_archive_run_info_free(&info);
        ss_archive_metrics *rows = NULL;
        int nr = 0;
        if (ss_archive_read_metrics(a, i, &rows, &nr) == SS_OK) free(rows);
        double *values = NULL;
        char **names = NULL;
        int rr = 0, nl = 0;
        if (ss_archive_read_style_layers(a, i, &values, &rr, &nl, &names) == SS_OK) {
            free(values);
            ss_archive_strings_free(names, nl);
        }
        unsigned char *rgb = NULL;
        int *its = NULL, ns = 0, w = 0, h = 0, found = 0;
        if (ss_archive_read_snapshots(a, i, &rgb, &its, &ns, &w, &h) == SS_OK) {
            free(rgb);
            free(its);
        }
        rgb = NULL;
        if (ss_archive_read_final(a, i, &rgb, &w, &h, &found) == SS_OK) free(rgb);
        ss_archive_checkpoint cp;
        ss_archive_checkpoint_found cf;
        memset(&cp, 0, sizeof cp);
        if (ss_archive_read_checkpoint(a, i, &cp, &cf) == SS_OK && cf == SS_CHECKPOINT_VALID)
            ss_archive_checkpoint_free(&cp);
    }
    ss_archive_close(a);
}

/* Reads path in a child process with a 10 s limit; 1 when it got through. */
static int survives(const char *path) {
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        alarm(10);
        read_all(path);
        _exit(0);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    return WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int contain = -1;
    if (contain < 0) contain = getenv("SS_FUZZ_CONTAIN") && !strcmp(getenv("SS_FUZZ_CONTAIN"), "1");
    char path[256];
    if (fuzz_write_temp(path, ".h5", data, size)) return 0;
    if (!contain || survives(path)) read_all(path);
    unlink(path);
    return 0;
}
