/*
 * watermark.h - the green-list soft watermark of Kirchenbauer et al. (2023,
 * "A Watermark for Large Language Models") and its detector.
 *
 * At each generation step a keyed pseudo-random function of the previous h
 * tokens (the context) splits the vocabulary into a green part (a fraction
 * gamma of it) and a red part, and delta is added to the logits of the
 * green tokens before sampling. Text from the model then has more green
 * tokens than chance; anyone with the key counts them:
 *
 *     z = (green - gamma * T) / sqrt(T * gamma * (1 - gamma))
 *
 * over the T scored tokens, and calls the text watermarked at z >= 4 by
 * default (a one-sided p-value of about 3e-5). Each distinct (context,
 * token) pair is scored once, as the paper recommends, so repeated
 * phrases do not inflate z.
 *
 * Green list (left-hash): seed = the first 8 bytes of keyed BLAKE2b over
 * the context tokens (little-endian int32, oldest first); token v is green
 * when mix64(seed ^ v * C) < gamma * 2^64 for a fixed integer mixer, so a
 * step costs one keyed hash and O(vocab) integer operations, no allocation.
 * Self-hash (Kirchenbauer et al., "On the Reliability of Watermarks", 2023):
 * the candidate takes part in its own seed - with a keyed per-token hash
 * f(t) = mix64(t ^ k) (k from the key), seed(ctx, v) = min(f over the
 * context and v) * f(v) - which the paper finds more robust to edits; still
 * O(vocab) integer work per step.
 *
 * The key is 32 random bytes in a file (hex, mode 0600) that is made on
 * first use; it is never logged, returned or put in the transparency
 * record. Detection needs the same key, parameters and tokenizer.
 */
#ifndef AJAR_WATERMARK_H
#define AJAR_WATERMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"
#include "ajar/logits_proc.h"

#define WATERMARK_KEY_BYTES 32
#define WATERMARK_MAX_CONTEXT 8

enum watermark_hash {
	WATERMARK_LEFT_HASH = 0, /* seed from the previous h tokens */
	WATERMARK_SELF_HASH = 1, /* seed from the previous h tokens and the candidate */
};

struct watermark_params {
	double gamma;                 /* green fraction, in (0, 1); default 0.25 */
	double delta;                 /* logit bias of green tokens, >= 0; default 2.0 */
	int context;                  /* h, 1..WATERMARK_MAX_CONTEXT; default 1 */
	enum watermark_hash hash;
	uint8_t key[WATERMARK_KEY_BYTES];
};

/* The defaults above with an all-zero key (load one with watermark_key_load). */
struct watermark_params watermark_params_default(void);

/* A short id of the scheme and its parameters for records and responses,
 * e.g. "kgw-lefthash-h1-g0.25-d2.0" (never the key). Returns buf. */
const char *watermark_scheme_id(const struct watermark_params *p, char *buf, size_t cap);

/*
 * Reads the key file path (64 hex digits and an optional newline). With
 * create, a missing file is made with fresh random bytes (mode 0600,
 * written atomically). A malformed file is AJAR_ERR_FORMAT naming it; a
 * missing one without create is AJAR_ERR_NOT_FOUND.
 */
enum ajar_err watermark_key_load(const char *path, bool create, uint8_t key[WATERMARK_KEY_BYTES]) AJAR_MUST_CHECK;

/* True if token is green after ctx[0..p->context) (oldest first). */
bool watermark_is_green(const struct watermark_params *p, const int32_t *ctx, int32_t token);

/* ---- generation: a logits processor ---- */

struct watermark;

/* A processor for one sequence over a vocabulary of n_vocab tokens. The
 * params are copied. *out: caller frees with watermark_free, after the
 * sequence is done. */
enum ajar_err watermark_new(const struct watermark_params *p, int32_t n_vocab, struct watermark **out) AJAR_MUST_CHECK;
void watermark_free(struct watermark *w);

/* The processor: apply() adds delta to the green tokens given the last h
 * tokens of history; with fewer than h tokens of history it does nothing.
 * Valid while w lives. */
struct logits_proc watermark_proc(struct watermark *w);

/* ---- detection ---- */

struct watermark_score {
	size_t tokens_scored;         /* distinct (context, token) pairs */
	size_t green;                 /* of them green */
	double green_fraction;        /* green / tokens_scored (0 if none) */
	double z_score;               /* 0 if none scored */
	double p_value;               /* one-sided, P(Z >= z) */
	bool detected;                /* z_score >= the threshold */
};

/* Scores tokens[0..n) (the text's token ids, without BOS): each position
 * i >= h with context tokens[i-h..i). z_threshold: the verdict's cut-off
 * (the policy's, default 4). */
enum ajar_err watermark_detect(const struct watermark_params *p, const int32_t *tokens, size_t n, double z_threshold,
			       struct watermark_score *out) AJAR_MUST_CHECK;

#endif
