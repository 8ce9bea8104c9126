/* rng.h - a small deterministic random generator (splitmix64 seeding,
 * xoshiro256**), identical on every machine, thread count and backend. */
#ifndef SS_RNG_H
#define SS_RNG_H

#include <stdint.h>

typedef struct ss_rng {
    uint64_t s[4];
} ss_rng;

/* Seeds r from (seed, stream): different streams give independent sequences. */
void ss_rng_init(ss_rng *r, uint64_t seed, uint64_t stream);

/* Returns the next 64 random bits. */
uint64_t ss_rng_next(ss_rng *r);

/* Returns a uniform double in [0, 1). */
double ss_rng_uniform(ss_rng *r);

/* Returns a standard normal double (Box-Muller, one value per two uniforms). */
double ss_rng_normal(ss_rng *r);

#endif
