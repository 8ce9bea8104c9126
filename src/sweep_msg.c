/* sweep_msg.c - packing of the sweep's messages (see sweep_msg.h). */
#include "sweep_msg.h"

#include <stdlib.h>
#include <string.h>

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
