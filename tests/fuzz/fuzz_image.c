/* fuzz_image.c - libFuzzer harness: the image loader (ss_image_load: the
 * header checks, then stb_image) on arbitrary bytes. */
#include "fuzz_common.h"
#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    if (fuzz_write_temp(path, ".img", data, size)) return 0;
    ss_image img;
    if (ss_image_load(&img, path) == SS_OK) ss_image_free(&img);
    unlink(path);
    return 0;
}
