/*
 * logits_proc.h - logits processors: per-request hooks that reshape the
 * logits before the sampler sees them, and learn which token was chosen.
 *
 * Examples: the JSON constraint of response_format json_object (masks every
 * token that would make the output invalid JSON), the watermark (adds delta
 * to a keyed green list). A processor belongs to one sequence; the engine
 * calls apply() then, after sampling, accept() with the chosen token, from
 * one thread at a time.
 */
#ifndef AJAR_LOGITS_PROC_H
#define AJAR_LOGITS_PROC_H

#include <stddef.h>
#include <stdint.h>

struct logits_proc {
	void *state;
	/* Adjusts logits (n_vocab floats) in place; history is every token of
	 * the sequence so far, prompt first. Must not allocate. */
	void (*apply)(void *state, float *logits, int32_t n_vocab, const int32_t *history, size_t n_history);
	/* The token that was chosen after apply(). */
	void (*accept)(void *state, int32_t token);
};

#endif
