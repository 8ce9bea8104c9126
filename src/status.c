/* status.c - status code names and the per-thread error message. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_message[1024];

const char *ss_strerror(ss_status st) {
    switch (st) {
    case SS_OK: return "ok";
    case SS_ERR_ARG: return "invalid argument";
    case SS_ERR_IO: return "input/output error";
    case SS_ERR_FORMAT: return "invalid file format";
    case SS_ERR_NOMEM: return "out of memory";
    case SS_ERR_BACKEND: return "backend failure";
    case SS_ERR_NUMERIC: return "non-finite value";
    case SS_ERR_INTERRUPTED: return "interrupted";
    case SS_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

ss_status ss_error(ss_status st, const char *fmt, ...) {
    /* format into a copy first: the arguments may include ss_error_message() */
    char buf[sizeof g_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(g_message, buf, sizeof buf);
    return st;
}

const char *ss_error_message(void) { return g_message; }

void ss_error_clear(void) { g_message[0] = '\0'; }
