/* testhold.c - the test-only hold at an iteration boundary (see testhold.h). */
#include "testhold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sizes.h"

/* Writes the pid into DIR/NAME-RUN under a temporary name, then renames it,
 * so that the test never reads a half-written file. */
static void mark(const char *dir, const char *name, int run) {
    char path[SS_PATH_MAX], tmp[SS_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/%s-%d", dir, name, run);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) == 0) rename(tmp, path);
}

void ss_test_hold(int *held, int run, int iteration, int (*should_stop)(void *ctx), void *ctx) {
    const char *e = getenv("STYLESWEEP_TEST_HOLD");
    if (!e || *held) return;
    char which[32];
    int min_it = 0, n = 0;
    if (sscanf(e, "%31[^:]:%d:%n", which, &min_it, &n) != 2 || n == 0 || !e[n]) return;
    const char *dir = e + n;
    if (strcmp(which, "*") != 0 && atoi(which) != run) return;
    if (iteration < min_it) return;
    *held = 1;
    mark(dir, "held", run);
    char release[SS_PATH_MAX];
    snprintf(release, sizeof release, "%s/release", dir);
    int stopped = 0;
    const struct timespec ts = {0, 5000000};
    while (access(release, F_OK) != 0) {
        if (!stopped && should_stop && should_stop(ctx)) {
            stopped = 1;
            mark(dir, "stopped", run);
        }
        nanosleep(&ts, NULL);
    }
}
