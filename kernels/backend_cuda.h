/* backend_cuda.h - the CUDA backend's entry points (kernels/backend_cuda.cu).
 * They are the exported symbols of the module libstylesweep_cuda.so, which
 * backend_registry.c loads with dlopen and finds with dlsym by these names. */
#ifndef SS_BACKEND_CUDA_H
#define SS_BACKEND_CUDA_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Makes the CUDA backend on device `device` (an index among the devices
 * this process sees, CUDA_VISIBLE_DEVICES applied): a stream, cuDNN and
 * cuBLAS handles bound to it, fp32 math. `threads` is recorded only.
 * be->device is "NAME (GPU-UUID; cuDNN X.Y.Z, cuBLAS X.Y.Z)", the versions
 * of the libraries loaded at run time. Returns SS_OK and *out (freed with
 * ss_be_free), or SS_ERR_BACKEND with "no CUDA device (REASON)" when the
 * process sees none, or naming the device index when it is out of range. */
ss_status ss_backend_cuda_new(ss_backend **out, int device, int threads);

/* Returns the number of CUDA devices this process sees; 0 when there is no
 * driver or no device (the reason goes to *why when why is not NULL: a
 * static string). */
int ss_cuda_device_count(const char **why);

#ifdef __cplusplus
}
#endif

#endif
