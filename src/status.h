/* status.h - status codes and the per-thread error message shared by every module.
 *
 * Library modules never exit: they return an ss_status and, on failure, leave
 * one human-readable line (naming the file, key or value at fault) that
 * ss_error_message() returns. Only the top level (main, the MPI scheduler)
 * prints it and exits or aborts. */
#ifndef SS_STATUS_H
#define SS_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ss_status {
    SS_OK = 0,
    SS_ERR_ARG,         /* a bad argument or option value */
    SS_ERR_IO,          /* a file could not be opened, read or written */
    SS_ERR_FORMAT,      /* a file exists but its content is not what was expected */
    SS_ERR_NOMEM,       /* an allocation failed */
    SS_ERR_BACKEND,     /* the compute backend (oneDNN, BLAS, CUDA) failed */
    SS_ERR_NUMERIC,     /* a NaN or infinite value appeared */
    SS_ERR_INTERRUPTED, /* stopped on request (signal) */
    SS_ERR_INTERNAL     /* a bug: a broken invariant */
} ss_status;

/* Returns a static one-word description of a status code. */
const char *ss_strerror(ss_status st);

/* Records the message of the failure being returned (printf-style) for this
 * thread, replacing any earlier one (the arguments may include
 * ss_error_message(), to prefix it). Returns st so that callers can write
 * `return ss_error(SS_ERR_IO, "cannot open %s", path);`. */
ss_status ss_error(ss_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns this thread's last error message ("" when none). The pointer stays
 * valid until the next ss_error call on this thread. */
const char *ss_error_message(void);

/* Clears this thread's error message. */
void ss_error_clear(void);

#ifdef __cplusplus
}
#endif

#endif
