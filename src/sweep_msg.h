/* sweep_msg.h - the messages between the sweep's coordinator (rank 0) and
 * its workers: a fixed header and a byte payload, packed into one buffer.
 * Shared by the worker (worker.c) and the scheduler (sweep.c); with one
 * rank they are handed over in memory, with several they travel over MPI. */
#ifndef SS_SWEEP_MSG_H
#define SS_SWEEP_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum ss_msg_type {
    SS_MSG_REQUEST = 1,     /* worker -> 0: idle, send a run */
    SS_MSG_ASSIGN = 2,      /* 0 -> worker: run `run`; payload: ss_params, then, when count = 1, a
                               checkpoint: iteration, w, h; (3, h, w) float32, then its state blob */
    SS_MSG_STOP = 3,        /* 0 -> worker: no more work, leave */
    SS_MSG_STARTED = 4,     /* worker -> 0: payload "host\0backend\0device\0weights\0" */
    SS_MSG_METRICS = 5,     /* worker -> 0: one iteration; values: loss content style tv seconds
                               improvement; count: evaluations; payload: n_layers doubles */
    SS_MSG_SNAPSHOT = 6,    /* worker -> 0: iteration, w, h; payload h x w x 3 uint8 */
    SS_MSG_CHECKPOINT = 7,  /* worker -> 0: iteration, count = metrics rows, w, h,
                               values[0] = loss; payload (3, h, w) float32, then the
                               engine's state blob (engine.h) */
    SS_MSG_DONE = 8,        /* worker -> 0: w, h; payload the final h x w x 3 uint8 image */
    SS_MSG_FAILED = 9,      /* worker -> 0: payload the error text; count = 1: the device context
                               was lost, the compute process ends after this message */
    SS_MSG_INTERRUPTED = 10 /* worker -> 0: stopped at a boundary on a signal, checkpoint sent */
} ss_msg_type;

typedef struct ss_msg {
    int32_t type;
    int32_t run; /* index in the archive's run table */
    int32_t iteration;
    int32_t w, h;
    int32_t count;
    int32_t n_layers;
    int32_t pad;
    double values[8];
    uint64_t payload_size;
    const unsigned char *payload; /* not sent: points into the received buffer */
} ss_msg;

/* Size of the packed header. */
#define SS_MSG_HEADER_SIZE (offsetof(ss_msg, payload))

/* Packs m's header and `payload` (m->payload_size bytes, may be NULL when 0)
 * into a new malloc'ed buffer *out of *size bytes. */
ss_status ss_msg_pack(unsigned char **out, size_t *size, const ss_msg *m, const void *payload);

/* Unpacks a received buffer into *m (m->payload points into buf).
 * SS_ERR_FORMAT when the sizes do not agree. */
ss_status ss_msg_unpack(ss_msg *m, const unsigned char *buf, size_t size);

/* Writes the packed message (header, then m->payload_size bytes of payload)
 * to the stream socket fd, all of it (interrupted writes are resumed; a
 * closed peer gives SS_ERR_IO, never SIGPIPE). */
ss_status ss_msg_send_fd(int fd, const ss_msg *m, const void *payload);

/* Writes size bytes already packed by ss_msg_pack to the stream socket fd
 * (as ss_msg_send_fd). */
ss_status ss_msg_send_packed(int fd, const unsigned char *buf, size_t size);

/* Reads one message from the stream socket fd into *buf (grown as needed,
 * *cap its size), its packed size into *size, unpacked into *m (m->payload
 * points into *buf). SS_ERR_IO when the peer closed or the read failed,
 * SS_ERR_FORMAT when the header claims more than SS_MSG_MAX_PAYLOAD bytes. */
ss_status ss_msg_recv_fd(int fd, unsigned char **buf, size_t *cap, size_t *size, ss_msg *m);

/* Largest payload a message may carry (a checkpoint of the largest image). */
#define SS_MSG_MAX_PAYLOAD ((uint64_t)1 << 34)

#endif
