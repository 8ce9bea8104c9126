/* backend_registry.c - makes a backend by name ("cpu", "cuda", "auto"). */
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "check.h"

#ifdef SS_HAVE_CUDA
#include "backend_cuda.h"
#endif

int ss_backend_cuda_devices(void) {
#ifdef SS_HAVE_CUDA
    return ss_cuda_device_count(NULL);
#else
    return 0;
#endif
}

ss_status ss_backend_new(ss_backend **out, const char *name, int device, int threads) {
    *out = NULL;
    if (!name) return ss_error(SS_ERR_ARG, "no backend name given (valid: cpu, cuda, auto)");
    if (!strcmp(name, "cpu")) return ss_backend_cpu_new(out, threads);
    if (device < 0) return ss_error(SS_ERR_ARG, "device index %d is negative", device);
#ifdef SS_HAVE_CUDA
    if (!strcmp(name, "cuda")) return ss_backend_cuda_new(out, device, threads);
    if (!strcmp(name, "auto")) {
        const char *why = NULL;
        if (ss_cuda_device_count(&why) > 0) {
            SS_TRY(ss_backend_cuda_new(out, device, threads));
            size_t n = strlen((*out)->device);
            snprintf((*out)->device + n, sizeof(*out)->device - n, "; auto: a CUDA device was found");
            return SS_OK;
        }
        SS_TRY(ss_backend_cpu_new(out, threads));
        size_t n = strlen((*out)->device);
        snprintf((*out)->device + n, sizeof(*out)->device - n, "; auto: no CUDA device");
        return SS_OK;
    }
#else
    if (!strcmp(name, "cuda"))
        return ss_error(SS_ERR_ARG, "backend cuda: this stylesweep was built without CUDA (README.md, Build)");
    if (!strcmp(name, "auto")) {
        SS_TRY(ss_backend_cpu_new(out, threads));
        size_t n = strlen((*out)->device);
        snprintf((*out)->device + n, sizeof(*out)->device - n, "; auto: built without CUDA");
        return SS_OK;
    }
#endif
    return ss_error(SS_ERR_ARG, "unknown backend '%s' (valid: cpu, cuda, auto)", name);
}
