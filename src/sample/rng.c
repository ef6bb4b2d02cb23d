/*
 * rng.c - xoshiro256** with splitmix64 seeding; see rng.h.
 *
 * Written from the published algorithm descriptions (Vigna, "Scrambled
 * linear pseudorandom number generators", 2021; splitmix64 from Steele, Lea
 * and Flood, 2014). The constants are the published ones.
 */
#include "sample/rng.h"

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sample_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void sample_rng_seed(struct sample_rng *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = sample_splitmix64(&x);
}

uint64_t sample_rng_next(struct sample_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return out;
}

double sample_rng_uniform(struct sample_rng *r)
{
	/* The top 53 bits, scaled by 2^-53: exact, and strictly below 1. */
	return (double)(sample_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
