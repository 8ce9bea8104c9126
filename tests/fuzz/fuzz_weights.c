/* fuzz_weights.c - libFuzzer harness: the Keras weights reader
 * (ss_model_load_keras, behind --weights) on arbitrary bytes, for VGG16 with
 * channels_div 8 (the shapes of tests/data/ref_vgg16_div8.h5).
 *
 * In-process by default, so that the fuzzer sees crashes inside libhdf5 too
 * (STYLESWEEP_WEIGHTS_TRIAL=0); with SS_FUZZ_CONTAIN=1 in the environment
 * the reader's own trial read in a child process is kept, as stylesweep
 * reads weights: libhdf5's known crashes then end as errors (the short runs
 * of scripts/fuzz.sh). */
#include "fuzz_common.h"
#include "model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *c = getenv("SS_FUZZ_CONTAIN");
    if (!c || strcmp(c, "1") != 0) setenv("STYLESWEEP_WEIGHTS_TRIAL", "0", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    if (fuzz_write_temp(path, ".h5", data, size)) return 0;
    ss_model m;
    if (ss_model_init(&m, SS_MODEL_VGG16, 8) == SS_OK) {
        ss_model_load_keras(&m, path, m.n_convs);
        ss_model_free(&m);
    }
    unlink(path);
    return 0;
}
