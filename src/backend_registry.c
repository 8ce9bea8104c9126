/* backend_registry.c - makes a backend by name ("cpu", "cuda", "auto"). */
#include <string.h>

#include "backend.h"

#ifdef SS_HAVE_CUDA
ss_status ss_backend_cuda_new(ss_backend **out, int device, int threads);
int ss_cuda_device_count(void);
#endif

ss_status ss_backend_new(ss_backend **out, const char *name, int device, int threads) {
    *out = NULL;
    if (!strcmp(name, "cpu")) return ss_backend_cpu_new(out, threads);
#ifdef SS_HAVE_CUDA
    if (!strcmp(name, "cuda")) return ss_backend_cuda_new(out, device, threads);
    if (!strcmp(name, "auto"))
        return ss_cuda_device_count() > 0 ? ss_backend_cuda_new(out, device, threads)
                                          : ss_backend_cpu_new(out, threads);
#else
    (void)device;
    if (!strcmp(name, "cuda"))
        return ss_error(SS_ERR_ARG, "backend cuda: this stylesweep was built without CUDA (README.md, Build)");
    if (!strcmp(name, "auto")) return ss_backend_cpu_new(out, threads);
#endif
    return ss_error(SS_ERR_ARG, "unknown backend '%s' (valid: cpu, cuda, auto)", name);
}
