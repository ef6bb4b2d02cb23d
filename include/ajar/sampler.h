/*
 * sampler.h - choosing the next token from a logits vector.
 *
 * The chain, in llama.cpp's default order: penalties (repetition over the last
 * repeat_last_n tokens, frequency, presence) -> top-k -> top-p -> min-p ->
 * temperature -> draw from the softmax with the sampler's own RNG. temp <= 0
 * means greedy (argmax, lowest id wins a tie), with penalties still applied.
 * top-p and min-p judge the distribution at temperature 1; temperature only
 * shapes the final draw.
 * The RNG is seeded from params.seed, so the same seed, logits and history
 * give the same tokens on every run and machine.
 *
 * A sampler belongs to one sequence and one thread at a time.
 */
#ifndef AJAR_SAMPLER_H
#define AJAR_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

struct sampler_params {
	float temp;            /* <= 0: greedy; must not be NaN or inf; default 0.8 */
	int32_t top_k;         /* <= 0 or >= n_vocab: off; default 40 */
	float top_p;           /* in (0, 1]; 1: off; default 0.95 */
	float min_p;           /* in [0, 1]; 0: off; default 0.05 */
	float repeat_penalty;  /* > 0; 1: off; default 1.0 */
	int32_t repeat_last_n; /* window for all penalties; default 64; -1 = whole history, 0 = no penalties */
	float freq_penalty;    /* finite; 0: off */
	float presence_penalty;/* finite; 0: off */
	uint64_t seed;         /* default 0xFFFFFFFF: an ordinary fixed seed, not "random" */
};

/* llama.cpp's defaults, as above. */
struct sampler_params sampler_params_default(void);

struct sampler;

/* Checks ranges (AJAR_ERR_INVALID names the bad field). *out owned by caller. */
enum ajar_err sampler_new(const struct sampler_params *p, int32_t n_vocab, struct sampler **out) AJAR_MUST_CHECK;
void sampler_free(struct sampler *s);

/*
 * Picks a token. logits (n_vocab floats) get the penalties applied in place;
 * the later links work on the sampler's own copy. history is every token of
 * the sequence so far (prompt and generated), oldest first; ids outside
 * [0, n_vocab) in it are ignored. Never allocates.
 *
 * Non-finite logits: NaN counts as -inf, +inf as FLT_MAX (several +inf share
 * the mass equally). If every logit is NaN or -inf, returns sampler_argmax().
 */
int32_t sampler_sample(struct sampler *s, float *logits, const int32_t *history, size_t n_history);

/* Argmax with the lowest id winning a tie; NaN is skipped; 0 if all are NaN. n > 0. */
int32_t sampler_argmax(const float *logits, int32_t n);

#endif
