/*
 * generate.h - the generation loop shared by `ajar run`, `ajar chat` and the
 * server: decode the prompt, then sample, decode and detokenize one token at a
 * time until a stop string, an end-of-generation token, the token limit or the
 * end of the context.
 *
 * Text reaches the callback in pieces that are always complete UTF-8 and never
 * contain any part of a stop string: text that could be the start of a stop
 * string is held back until it is clearly not one.
 */
#ifndef AJAR_GENERATE_H
#define AJAR_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

struct ajar_context;
struct logits_proc;
struct sampler;

enum gen_finish {
	GEN_FINISH_LENGTH,  /* n_predict tokens generated */
	GEN_FINISH_STOP,    /* a stop string appeared */
	GEN_FINISH_EOG,     /* the model produced an end-of-generation token */
	GEN_FINISH_CONTEXT, /* the sequence filled the context */
	GEN_FINISH_CANCEL,  /* the callback asked to stop */
};

const char *gen_finish_name(enum gen_finish f); /* "length", "stop", ... */

struct gen_params {
	int32_t n_predict;        /* most tokens to generate; < 0: until the context is full */
	const char *const *stop;  /* stop strings (borrowed), n_stop of them */
	size_t n_stop;
	bool ignore_eog;          /* keep going after an end-of-generation token */
	/* Logits processors (borrowed; NULL/0: none), applied in order to each
	 * step's logits before sampling and told the chosen token after, as the
	 * server's scheduler does: e.g. the watermark (watermark.h). */
	const struct logits_proc *procs;
	size_t n_procs;
};

/* Receives released text; return non-zero to cancel generation. */
typedef int (*gen_text_fn)(void *user, const char *text, size_t len);

struct gen_result {
	enum gen_finish finish;
	int32_t *tokens;          /* generated tokens (caller frees); includes an EOG token that ended it */
	size_t n_tokens;
	size_t n_prompt;          /* prompt tokens decoded */
};

/*
 * Decodes the prompt into sequence seq of ctx and generates. Whatever the
 * sequence already caches is taken to be prompt[0..len) and reused: callers
 * that keep a conversation truncate it to the shared prefix first
 * (ajar_seq_truncate), others start from an empty sequence. cb may be NULL.
 * On success *res is filled (caller frees res->tokens); on error nothing is
 * owed. A prompt longer than the context is AJAR_ERR_INVALID.
 */
enum ajar_err generate(struct ajar_context *ctx, int32_t seq, struct sampler *smp, const int32_t *prompt,
		       size_t n_prompt, const struct gen_params *p, gen_text_fn cb, void *user,
		       struct gen_result *res) AJAR_MUST_CHECK;

/* Stop-string matcher used by generate(), exposed for tests. Holds text that
 * may begin a stop string. */
struct stop_matcher {
	const char *const *stop;
	size_t n_stop;
	char *held;     /* owned: text not yet released */
	size_t n_held, cap_held;
	char *out;      /* owned: the last release */
	size_t cap_out;
};

void stop_matcher_init(struct stop_matcher *sm, const char *const *stop, size_t n_stop);
void stop_matcher_free(struct stop_matcher *sm);
/* Appends text; sets release and n_release to the text now safe to emit
 * (pointer into the matcher, valid until the next call) and returns true if
 * a stop string was found (then the release is the text before it). */
enum ajar_err stop_matcher_push(struct stop_matcher *sm, const char *text, size_t len, const char **release,
				size_t *n_release, bool *stopped) AJAR_MUST_CHECK;
/* Releases everything held (end of generation without a stop). */
void stop_matcher_flush(struct stop_matcher *sm, const char **release, size_t *n_release);

#endif
