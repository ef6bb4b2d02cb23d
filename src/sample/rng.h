/*
 * rng.h - the sampler's random numbers: xoshiro256** seeded by splitmix64.
 *
 * Internal to src/sample (tests include it for known-answer checks). Pure
 * integer arithmetic on uint64_t, so a seed gives the same stream on every
 * machine and compiler; nothing here touches libc's rand().
 *
 * xoshiro256** (Blackman and Vigna, 2018) has 256 bits of state, period
 * 2^256 - 1 and passes BigCrush; four words are small enough to live inside
 * the sampler. Its state must not be all zero, which splitmix64 seeding
 * guarantees in practice (splitmix64 is a bijection of its counter, so four
 * consecutive outputs are never all zero).
 */
#ifndef AJAR_SAMPLE_RNG_H
#define AJAR_SAMPLE_RNG_H

#include <stdint.h>

struct sample_rng {
	uint64_t s[4]; /* xoshiro256** state; never all zero */
};

/* One step of splitmix64: advances *x by the golden-ratio increment and
 * returns the mixed value. Exposed for the known-answer test. */
uint64_t sample_splitmix64(uint64_t *x);

/* Fills the state with four splitmix64 outputs starting from seed. */
void sample_rng_seed(struct sample_rng *r, uint64_t seed);

/* Next 64 random bits. */
uint64_t sample_rng_next(struct sample_rng *r);

/* Uniform double in [0, 1) with 53 bits of resolution (the top 53 bits of
 * one draw, so every value is an exact multiple of 2^-53). */
double sample_rng_uniform(struct sample_rng *r);

#endif
