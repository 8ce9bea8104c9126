/* fuzz_manifest.c - libFuzzer harness: the sweep manifest loader
 * (ss_manifest_load, behind `plan` and `run`) on arbitrary bytes. */
#include "fuzz_common.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    if (fuzz_write_temp(path, ".yaml", data, size)) return 0;
    ss_manifest m;
    memset(&m, 0, sizeof m);
    char *errors = NULL;
    int n_errors = 0;
    if (ss_manifest_load(&m, path, NULL, &errors, &n_errors) == SS_OK) ss_manifest_free(&m);
    free(errors);
    unlink(path);
    return 0;
}
