/* backend_registry.c - makes a backend by name ("cpu", "cuda", "auto").
 *
 * The CUDA backend lives in a module, libstylesweep_cuda.so (kernels/),
 * loaded the first time a GPU is looked for, so that the binary needs no
 * CUDA library to start. The module is searched for at
 * $STYLESWEEP_CUDA_MODULE, next to the binary, one folder above it (the
 * tests' binaries in build/tests), in ../lib, and where the build made it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"

#ifdef SS_HAVE_CUDA
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include "backend_cuda.h"

typedef int (*cuda_count_fn)(const char **why);
typedef ss_status (*cuda_new_fn)(ss_backend **out, int device, int threads);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static cuda_count_fn g_count;
static cuda_new_fn g_new;
static char g_load_error[768] = "libstylesweep_cuda.so was not found next to the binary";

/* Loads the module at path when it exists; 1 when its entry points were found. */
static int try_module(const char *path) {
    if (!path || !*path || access(path, F_OK) != 0) return 0;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(g_load_error, sizeof g_load_error, "%s", dlerror());
        return 0;
    }
    *(void **)&g_count = dlsym(h, "ss_cuda_device_count");
    *(void **)&g_new = dlsym(h, "ss_backend_cuda_new");
    if (g_count && g_new) return 1;
    snprintf(g_load_error, sizeof g_load_error, "%s lacks the CUDA backend's entry points", path);
    g_count = NULL;
    g_new = NULL;
    dlclose(h);
    return 0;
}

static void load_module(void) {
    if (try_module(getenv("STYLESWEEP_CUDA_MODULE"))) return;
    char exe[PATH_MAX], path[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        const char *rel[] = {"", "/..", "/../lib"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(path, sizeof path, "%s%s/libstylesweep_cuda.so", exe, rel[i]);
            if (try_module(path)) return;
        }
    }
#ifdef SS_CUDA_MODULE
    try_module(SS_CUDA_MODULE);
#endif
}

/* The number of CUDA devices, or 0 with the reason in *why. */
static int cuda_devices(const char **why) {
    pthread_once(&g_once, load_module);
    if (!g_count) {
        *why = g_load_error;
        return 0;
    }
    return g_count(why);
}
#endif

int ss_backend_cuda_devices(void) {
#ifdef SS_HAVE_CUDA
    const char *why = NULL;
    return cuda_devices(&why);
#else
    return 0;
#endif
}

/* Appends ", auto: WHY" to the device of a backend chosen by auto. */
static void note_auto(ss_backend *be, const char *why) {
    size_t n = strlen(be->device);
    snprintf(be->device + n, sizeof be->device - n, "; auto: %s", why);
}

ss_status ss_backend_new(ss_backend **out, const char *name, int device, int threads) {
    *out = NULL;
    if (!name) return ss_error(SS_ERR_ARG, "no backend name given (valid: cpu, cuda, auto)");
    if (!strcmp(name, "cpu")) return ss_backend_cpu_new(out, threads);
    if (device < 0) return ss_error(SS_ERR_ARG, "device index %d is negative", device);
#ifdef SS_HAVE_CUDA
    if (!strcmp(name, "cuda") || !strcmp(name, "auto")) {
        const char *why = "";
        int count = cuda_devices(&why);
        if (!strcmp(name, "cuda")) {
            if (count == 0) return ss_error(SS_ERR_BACKEND, "no CUDA device (%s)", why);
            return g_new(out, device, threads);
        }
        if (count > 0) {
            SS_TRY(g_new(out, device, threads));
            note_auto(*out, "a CUDA device was found");
            return SS_OK;
        }
        SS_TRY(ss_backend_cpu_new(out, threads));
        note_auto(*out, "no CUDA device");
        return SS_OK;
    }
#else
    if (!strcmp(name, "cuda"))
        return ss_error(SS_ERR_ARG, "backend cuda: this stylesweep was built without CUDA (README.md, Build)");
    if (!strcmp(name, "auto")) {
        SS_TRY(ss_backend_cpu_new(out, threads));
        note_auto(*out, "built without CUDA");
        return SS_OK;
    }
#endif
    return ss_error(SS_ERR_ARG, "unknown backend '%s' (valid: cpu, cuda, auto)", name);
}
