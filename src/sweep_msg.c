/* sweep_msg.c - packing of the sweep's messages (see sweep_msg.h). */
#include "sweep_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

ss_status ss_msg_pack(unsigned char **out, size_t *size, const ss_msg *m, const void *payload) {
    size_t n = SS_MSG_HEADER_SIZE + (size_t)m->payload_size;
    unsigned char *buf = malloc(n);
    SS_ALLOC_CHECK(buf);
    memcpy(buf, m, SS_MSG_HEADER_SIZE);
    if (m->payload_size) memcpy(buf + SS_MSG_HEADER_SIZE, payload, (size_t)m->payload_size);
    *out = buf;
    *size = n;
    return SS_OK;
}

ss_status ss_msg_unpack(ss_msg *m, const unsigned char *buf, size_t size) {
    if (size < SS_MSG_HEADER_SIZE) return ss_error(SS_ERR_FORMAT, "a message of %zu bytes is too short", size);
    memcpy(m, buf, SS_MSG_HEADER_SIZE);
    if (m->payload_size != size - SS_MSG_HEADER_SIZE)
        return ss_error(SS_ERR_FORMAT, "a message says %llu payload bytes but has %zu",
                        (unsigned long long)m->payload_size, size - SS_MSG_HEADER_SIZE);
    m->payload = m->payload_size ? buf + SS_MSG_HEADER_SIZE : NULL;
    return SS_OK;
}

static ss_status send_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return ss_error(SS_ERR_IO, "the other process is gone (%s)", strerror(w < 0 ? errno : EPIPE));
        p += w;
        n -= (size_t)w;
    }
    return SS_OK;
}

/* Reads n bytes; SS_ERR_IO when the peer closed first. */
static ss_status recv_all(int fd, unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return ss_error(SS_ERR_IO, "the other process is gone (%s)", r < 0 ? strerror(errno) : "closed");
        p += r;
        n -= (size_t)r;
    }
    return SS_OK;
}

ss_status ss_msg_send_packed(int fd, const unsigned char *buf, size_t size) { return send_all(fd, buf, size); }

ss_status ss_msg_send_fd(int fd, const ss_msg *m, const void *payload) {
    ss_status st = send_all(fd, (const unsigned char *)m, SS_MSG_HEADER_SIZE);
    if (st == SS_OK && m->payload_size) st = send_all(fd, payload, (size_t)m->payload_size);
    return st;
}

ss_status ss_msg_recv_fd(int fd, unsigned char **buf, size_t *cap, size_t *size, ss_msg *m) {
    ss_msg h;
    SS_TRY(recv_all(fd, (unsigned char *)&h, SS_MSG_HEADER_SIZE));
    if (h.payload_size > SS_MSG_MAX_PAYLOAD)
        return ss_error(SS_ERR_FORMAT, "a message claims %llu payload bytes", (unsigned long long)h.payload_size);
    size_t n = SS_MSG_HEADER_SIZE + (size_t)h.payload_size;
    if (n > *cap) {
        unsigned char *nb = realloc(*buf, n);
        if (!nb) return ss_error(SS_ERR_NOMEM, "out of memory for a message of %zu bytes", n);
        *buf = nb;
        *cap = n;
    }
    memcpy(*buf, &h, SS_MSG_HEADER_SIZE);
    SS_TRY(recv_all(fd, *buf + SS_MSG_HEADER_SIZE, (size_t)h.payload_size));
    *size = n;
    return ss_msg_unpack(m, *buf, n);
}
