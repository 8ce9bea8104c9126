/* rng.c - splitmix64-seeded xoshiro256** and the distributions built on it. */
#include "rng.h"

#include <math.h>

#include "util.h"

void ss_rng_init(ss_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    for (int i = 0; i < 4; i++) r->s[i] = ss_splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ss_rng_next(ss_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ss_rng_uniform(ss_rng *r) { return (double)(ss_rng_next(r) >> 11) * 0x1.0p-53; }

double ss_rng_normal(ss_rng *r) {
    double u1 = 1.0 - ss_rng_uniform(r), u2 = ss_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
