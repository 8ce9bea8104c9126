/* paths.c - lexical path handling (see paths.h). */
#include "paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void ss_path_normalise(char *path, size_t size) {
    char *tmp = strdup(path), *out = malloc(size + 1);
    const char **parts = calloc(strlen(path) / 2 + 2, sizeof *parts);
    if (!tmp || !out || !parts) goto done; /* out of memory: leave the path as it is */
    int n = 0, absolute = path[0] == '/';
    for (char *save = NULL, *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".")) continue;
        if (!strcmp(c, "..") && n > 0 && strcmp(parts[n - 1], "..") != 0) {
            n--;
            continue;
        }
        if (!strcmp(c, "..") && absolute) continue;
        parts[n++] = c;
    }
    size_t used = 0;
    out[0] = '\0';
    if (absolute) out[used++] = '/', out[used] = '\0';
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(out + used, size + 1 - used, "%s%s", i ? "/" : "", parts[i]);
    if (!out[0]) snprintf(out, size + 1, ".");
    if (strlen(out) < size) memcpy(path, out, strlen(out) + 1);
done:
    free(tmp);
    free(out);
    free(parts);
}

int ss_path_join(char *out, size_t size, const char *dir, const char *p) {
    size_t dl = strlen(dir), pl = strlen(p), sep = dl && dir[dl - 1] != '/';
    if (p[0] == '/' || !dl) dl = sep = 0;
    if (dl + sep + pl >= size) return 0;
    char *joined = malloc(size), *norm = malloc(size);
    if (!joined || !norm) {
        free(joined);
        free(norm);
        return 0;
    }
    memcpy(joined, dir, dl);
    if (sep) joined[dl] = '/';
    memcpy(joined + dl + sep, p, pl + 1);
    memcpy(norm, joined, dl + sep + pl + 1);
    ss_path_normalise(norm, size);
    struct stat a, b;
    const char *use = joined;
    if (dl && stat(joined, &a) == 0 && stat(norm, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) use = norm;
    memmove(out, use, strlen(use) + 1);
    free(joined);
    free(norm);
    return 1;
}

size_t ss_path_file_part(const char *spec) {
    const char *c = strstr(spec, ".h5:");
    if (c) return (size_t)(c - spec) + 3;
    c = strstr(spec, ".hdf5:");
    if (c) return (size_t)(c - spec) + 5;
    return strlen(spec);
}
