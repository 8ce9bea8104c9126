/* fuzz_common.h - what the libFuzzer harnesses of tests/fuzz share: the
 * input bytes written to a temporary file, since every reader under test
 * takes a path as stylesweep's commands do. */
#ifndef SS_FUZZ_COMMON_H
#define SS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes data to a new temporary file named with suffix (".yaml", ".png",
 * ...); its path goes to path (at least 64 bytes). Returns 0, or -1. The
 * caller unlinks it. */
static int fuzz_write_temp(char *path, const char *suffix, const uint8_t *data, size_t size) {
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, 256, "%s/ssfuzz.XXXXXX%s", dir, suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            close(fd);
            unlink(path);
            return -1;
        }
        off += (size_t)w;
    }
    close(fd);
    return 0;
}

#endif
