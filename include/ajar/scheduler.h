/*
 * scheduler.h - continuous batching: many generation requests share one
 * model and advance together, one batched forward pass per step.
 *
 * The scheduler owns an inference context with n_slots KV-cache sequences
 * and one engine thread. Requests wait in a bounded queue; a free slot takes
 * the next one. Each step the engine builds one batch from every active
 * slot: a chunk of prompt for slots still prefilling (so a new request starts
 * without waiting for others to finish, and a long prompt does not stall
 * everyone's decoding), one token for each decoding slot. It runs
 * ajar_decode() once, then for every slot that got logits: computes
 * logprobs if asked, runs the request's logits processors, samples, feeds
 * the detokenizer and the stop-string matcher, and reports the released
 * text through the request's callback.
 *
 * Prefix reuse: each slot remembers the tokens its cache holds. A new
 * request goes to the free slot whose cached tokens share the longest
 * prefix with its prompt, and only the rest of the prompt is computed.
 *
 * Greedy results do not depend on batching: a request's tokens are the same
 * whether it runs alone or beside others (each sequence attends only to its
 * own cache, and every row of a batched matrix product is computed exactly
 * as alone).
 *
 * Threads: sched_submit/sched_cancel/sched_stats may be called from any
 * thread. Callbacks run on the engine thread and must not block for long
 * (copy the text into the connection's buffer and return).
 */
#ifndef AJAR_SCHEDULER_H
#define AJAR_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"
#include "ajar/generate.h"
#include "ajar/logits_proc.h"
#include "ajar/sampler.h"

struct ajar_model;

struct sched_params {
	uint32_t n_slots;    /* concurrent sequences (--parallel); >= 1 */
	uint32_t n_ctx;      /* positions per slot; 0 = the model's context */
	uint32_t n_batch;    /* most tokens in one step; 0 = 512; raised to n_slots if smaller */
	int n_threads;       /* 0 = all CPUs */
	int cache_type;      /* enum ajar_type of the KV cache (F32 default) */
	uint32_t max_queue;  /* requests waiting beyond the slots; 0 = 64 */
};

/* Most top_logprobs a request may ask for (OpenAI's limit). */
#define SCHED_MAX_TOP_LOGPROBS 20

/* What one generated token released. on_token gets one event per generated
 * token, except an end-of-generation token that ends the request: it has no
 * event, but if the end releases held-back text (a possible stop-string
 * start that was not one, an unfinished UTF-8 character as U+FFFD), that
 * comes as a last event with token -1 and no logprobs. When a request ends
 * by length or context, such text is part of its last token's event. */
struct sched_token_event {
	int32_t token;      /* -1: text released at the end, no token (see above) */
	const char *text;   /* complete UTF-8, never part of a stop string; may be empty (held back) */
	size_t len;
	/* Only when the request asked for logprobs: the log-probability of the
	 * token under the model (log-softmax of the raw logits, before
	 * penalties, processors and temperature), and the n_top best. */
	float logprob;
	int n_top;
	const int32_t *top_tokens;
	const float *top_logprobs;
};

struct sched_result {
	enum gen_finish finish;
	uint32_t n_prompt;       /* prompt tokens */
	uint32_t n_cached;       /* of which reused from the slot's cache */
	uint32_t n_completion;   /* generated tokens */
	double queue_ms, prompt_ms, gen_ms;
};

struct sched_request {
	/* Input: borrowed from the caller until on_done has been called. */
	const int32_t *prompt;
	size_t n_prompt;
	struct sampler_params sp;
	int32_t n_predict;          /* most tokens to generate; < 0: until the context is full */
	const char *const *stop;
	size_t n_stop;
	bool ignore_eog;
	int n_logprobs;             /* -1: none; 0: the chosen token's; k: also the top k (<= 20) */
	struct logits_proc *procs;  /* applied in order; borrowed */
	size_t n_procs;

	/* Called on the engine thread. on_token returns non-zero to cancel. */
	int (*on_token)(void *user, const struct sched_token_event *ev);
	/* Exactly once per accepted request, last: the outcome (err != AJAR_OK
	 * with a message for failures; finish GEN_FINISH_CANCEL when cancelled). */
	void (*on_done)(void *user, const struct sched_result *res, enum ajar_err err, const char *msg);
	void *user;
};

struct sched;

/* Creates the context and starts the engine thread. *out owned by caller. */
enum ajar_err sched_new(const struct ajar_model *m, const struct sched_params *p, struct sched **out) AJAR_MUST_CHECK;
/* Stops accepting, cancels queued and running requests (their on_done runs
 * with GEN_FINISH_CANCEL), joins the engine thread, frees everything. */
void sched_free(struct sched *s);

/*
 * Queues a request. AJAR_ERR_LIMIT when the queue is full (the server's 503),
 * AJAR_ERR_INVALID for a request that can never run (empty prompt, prompt
 * not shorter than a slot's context, bad sampler parameters; the message
 * says which). On success *id names it for sched_cancel and on_done will be
 * called exactly once; on error it is not called.
 */
enum ajar_err sched_submit(struct sched *s, struct sched_request *req, uint64_t *id) AJAR_MUST_CHECK;

/* Cancels a queued or running request; harmless if it already finished.
 * A queued request leaves the queue at once; a running one's slot is free
 * by the next step. Either way on_done (GEN_FINISH_CANCEL) runs on the
 * engine thread, soon after, not inside this call. */
void sched_cancel(struct sched *s, uint64_t id);

struct sched_stats {
	uint32_t n_slots, slots_busy, queue_depth;
	uint64_t requests_done, prompt_tokens, cached_tokens, completion_tokens, steps;
};
void sched_stats(struct sched *s, struct sched_stats *out);

#endif
