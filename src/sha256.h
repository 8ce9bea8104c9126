/* sha256.h - SHA-256 (FIPS 180-4), for the manifest's hash: a streaming
 * context and a one-shot hex digest. */
#ifndef SS_SHA256_H
#define SS_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct ss_sha256_ctx {
    uint32_t h[8];
    uint64_t n_bytes; /* message length so far */
    unsigned char block[64];
    size_t used; /* bytes waiting in block */
} ss_sha256_ctx;

/* Starts a new digest in c. */
void ss_sha256_init(ss_sha256_ctx *c);

/* Adds len bytes of data (data may be NULL when len is 0). */
void ss_sha256_update(ss_sha256_ctx *c, const void *data, size_t len);

/* Finishes the digest into out (32 bytes); c must be re-initialised before reuse. */
void ss_sha256_final(ss_sha256_ctx *c, unsigned char out[32]);

/* Writes the digest of data as 64 lowercase hex digits and a NUL into hex. */
void ss_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
