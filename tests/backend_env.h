/* backend_env.h - the backend a C test runs on, chosen by the environment:
 *
 *   STYLESWEEP_TEST_BACKEND    cpu (the default), cuda or auto
 *   STYLESWEEP_TEST_PRECISION  fp32 (the default) or tf32
 *
 * test_backend_new() makes it; with cuda on a machine without a CUDA device
 * (or a build without CUDA) it prints one line "NAME: no CUDA device,
 * skipped" and exits with TEST_SKIP (77), which ctest reports as skipped.
 * test_backend_tf32() says whether TF32 was asked for (tests widen their
 * tolerances). Header-only, for tests/test_*.c. */
#ifndef SS_TESTS_BACKEND_ENV_H
#define SS_TESTS_BACKEND_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define TEST_SKIP 77

static inline const char *test_backend_name(void) {
    const char *b = getenv("STYLESWEEP_TEST_BACKEND");
    return b && *b ? b : "cpu";
}

static inline int test_backend_tf32(void) {
    const char *p = getenv("STYLESWEEP_TEST_PRECISION");
    return p && !strcmp(p, "tf32");
}

/* Makes the test's backend with `threads` CPU threads; exits 77 when CUDA
 * was asked for and there is no device, 1 (with the reason) on any other
 * failure. */
static inline ss_backend *test_backend_new(const char *test, int threads) {
    const char *name = test_backend_name();
    if (!strcmp(name, "cuda") && ss_backend_cuda_devices() == 0) {
        printf("%s: no CUDA device, skipped\n", test);
        exit(TEST_SKIP);
    }
    ss_backend *be = NULL;
    if (ss_backend_new(&be, name, 0, threads) != SS_OK ||
        ss_be_set_precision(be, test_backend_tf32() ? "tf32" : "fp32") != SS_OK) {
        printf("%s: FAIL backend %s: %s\n", test, name, ss_error_message());
        exit(1);
    }
    printf("%s: backend %s, %s%s\n", test, be->iface->name, be->device, be->tf32 ? ", tf32" : "");
    return be;
}

#endif
