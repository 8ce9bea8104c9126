/* check.h - the check macro family.
 *
 * Library code uses the *_CHECK macros inside functions that return
 * ss_status: on failure they record "<library>: <expression> failed (<reason>)
 * at file:line" with ss_error and return from the enclosing function (the
 * rank and device are added by the top level, which is the only place that
 * exits or calls MPI_Abort). SS_TRY propagates a status unchanged.
 *
 * What a function's return value means, public or static:
 *  - a function that can fail returns ss_status (SS_OK, or the failure with
 *    its one-line message recorded by ss_error); results go through
 *    pointer arguments, outputs first;
 *  - a function that answers a question and cannot fail returns int, 1 for
 *    yes and 0 for no (named as the question: is_*, has_*, *_ok), and
 *    records no message;
 *  - a function that counts or finds returns the count or the index, with
 *    -1 for "none" or "too many" as its comment says;
 *  - a helper that wraps a system call without a message returns 0 or an
 *    errno value (ss_file_read_all), and its caller makes the message. */
#ifndef SS_CHECK_H
#define SS_CHECK_H

#include "status.h"

#define SS_TRY(expr)                                \
    do {                                            \
        ss_status ss_try_st_ = (expr);              \
        if (ss_try_st_ != SS_OK) return ss_try_st_; \
    } while (0)

/* SS_TRY_GOTO: records the status in `st` and jumps to `label` (for cleanup). */
#define SS_TRY_GOTO(st, expr, label)   \
    do {                               \
        (st) = (expr);                 \
        if ((st) != SS_OK) goto label; \
    } while (0)

/* oneDNN: expr returns dnnl_status_t. */
#define DNNL_CHECK(expr)                                                                                         \
    do {                                                                                                         \
        dnnl_status_t dnnl_st_ = (expr);                                                                         \
        if (dnnl_st_ != dnnl_success)                                                                            \
            return ss_error(SS_ERR_BACKEND, "oneDNN: %s failed (%s) at %s:%d", #expr, dnnl_status2str(dnnl_st_), \
                            __FILE__, __LINE__);                                                                 \
    } while (0)

/* MPI (sweep.c and `run` only; the file includes mpi.h): expr returns an
 * MPI error code. It can return only with MPI_ERRORS_RETURN set on
 * MPI_COMM_WORLD (cmd_run.c sets it right after MPI_Init_thread); the message
 * names the call, MPI's reason, file:line and this rank. */
#define MPI_CHECK(expr)                                                                                                \
    do {                                                                                                               \
        int mpi_rc_ = (expr);                                                                                          \
        if (mpi_rc_ != MPI_SUCCESS) {                                                                                  \
            char mpi_msg_[MPI_MAX_ERROR_STRING] = "";                                                                  \
            int mpi_len_ = 0, mpi_rank_ = -1;                                                                          \
            MPI_Error_string(mpi_rc_, mpi_msg_, &mpi_len_);                                                            \
            MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank_);                                                                 \
            return ss_error(SS_ERR_IO, "MPI: %s failed (%s) at %s:%d on rank %d", #expr, mpi_msg_, __FILE__, __LINE__, \
                            mpi_rank_);                                                                                \
        }                                                                                                              \
    } while (0)

/* oneDNN, for functions that own resources: records the error in `st` (an
 * ss_status) and jumps to `label`, where they are released. */
#define DNNL_CHECK_GOTO(st, expr, label)                                                                         \
    do {                                                                                                         \
        dnnl_status_t dnnl_st_ = (expr);                                                                         \
        if (dnnl_st_ != dnnl_success) {                                                                          \
            (st) = ss_error(SS_ERR_BACKEND, "oneDNN: %s failed (%s) at %s:%d", #expr, dnnl_status2str(dnnl_st_), \
                            __FILE__, __LINE__);                                                                 \
            goto label;                                                                                          \
        }                                                                                                        \
    } while (0)

/* CUDA, cuDNN and cuBLAS (kernels/ only): `be` is the CUDA backend. On
 * failure the message names the library, the expression, file:line, the
 * rank and the device (ss_cuda_fail and friends in kernels/backend_cuda.cu);
 * running out of device memory reads "out of GPU memory (...)", and a
 * sticky error (the context is lost) sets be->lost. */
#define CUDA_CHECK(be, expr)                                                                           \
    do {                                                                                               \
        cudaError_t ss_cu_st_ = (expr);                                                                \
        if (ss_cu_st_ != cudaSuccess) return ss_cuda_fail((be), ss_cu_st_, #expr, __FILE__, __LINE__); \
    } while (0)
#define CUDNN_CHECK(be, expr)                                                                                      \
    do {                                                                                                           \
        cudnnStatus_t ss_dnn_st_ = (expr);                                                                         \
        if (ss_dnn_st_ != CUDNN_STATUS_SUCCESS) return ss_cudnn_fail((be), ss_dnn_st_, #expr, __FILE__, __LINE__); \
    } while (0)
#define CUBLAS_CHECK(be, expr)                                                                                         \
    do {                                                                                                               \
        cublasStatus_t ss_blas_st_ = (expr);                                                                           \
        if (ss_blas_st_ != CUBLAS_STATUS_SUCCESS) return ss_cublas_fail((be), ss_blas_st_, #expr, __FILE__, __LINE__); \
    } while (0)

/* Allocation: ptr is the result of malloc/calloc/aligned_alloc. */
#define SS_ALLOC_CHECK(ptr)                                                                                \
    do {                                                                                                   \
        if (!(ptr)) return ss_error(SS_ERR_NOMEM, "out of memory: %s at %s:%d", #ptr, __FILE__, __LINE__); \
    } while (0)

#endif
