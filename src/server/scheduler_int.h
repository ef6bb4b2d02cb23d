/*
 * scheduler_int.h - internals of the continuous-batching scheduler, shared by
 * scheduler.c (the public calls, the queue and the engine thread's loop) and
 * scheduler_slot.c (one slot's life: admission, its share of a batch, what
 * happens to its logits, and its end).
 *
 * Ownership and locking. A request lives in a struct sched_job from
 * sched_submit until its on_done has returned; the job is owned by whichever
 * list or slot holds it (queue, cancelled list, slot). Fields marked (mu) are
 * guarded by sched.mu; fields marked (engine) are touched only by the engine
 * thread (sched_new and sched_free touch them only while no engine thread
 * runs). The engine takes mu once per step, never across ajar_decode() or a
 * callback, so submitters, cancellers and /metrics readers never wait for a
 * forward pass.
 */
#ifndef AJAR_SCHEDULER_INT_H
#define AJAR_SCHEDULER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ajar/generate.h"
#include "ajar/model.h"
#include "ajar/sampler.h"
#include "ajar/scheduler.h"
#include "ajar/threadpool.h"
#include "ajar/vocab.h"

/* Longest stop string (bytes): the stop matcher holds back at most this
 * much text, so memory per request stays bounded. Same as generate(). */
#define SCHED_STOP_MAX_LEN 4096
/* Most stop strings per request: matching costs O(n_stop) per token. */
#define SCHED_MAX_STOP 64

struct sched_job {
	struct sched_request req; /* a copy; the pointers in it are borrowed until on_done */
	uint64_t id;
	double t_submit;          /* ms, monotonic clock */
	bool cancel;              /* (mu) sched_cancel asked while it ran in a slot */
	struct sched_job *next;   /* (mu) queue or cancelled-list link */
};

struct sched_slot {
	int32_t seq;              /* its KV-cache sequence in the context */
	struct sched_job *job;    /* (mu, written by the engine only) the request it runs; NULL when free */

	/* (engine) */
	bool fresh;               /* admitted at this step's start; slot_start not yet run */
	bool cancel_seen;         /* job->cancel copied at this step's start */
	int32_t *tokens;          /* (n_ctx) owned: prompt, then generated tokens */
	uint32_t n_tokens;        /* valid entries of tokens */
	uint32_t n_past;          /* of which the cache holds: == ajar_seq_len(seq) */
	uint32_t n_prompt;
	uint32_t n_cached;        /* prompt tokens reused from the cache at admission */
	uint32_t n_gen;           /* tokens generated (an EOG token that ended it included) */
	uint32_t chunk;           /* tokens this slot has in the current batch */
	int32_t row;              /* its logits row in the current batch; -1 none */
	uint64_t last_used;       /* engine clock of the last admission: the LRU tie-break */
	struct sampler *smp;      /* owned while a request runs */
	struct stop_matcher sm;   /* initialised while a request runs */
	struct detok_stream ds;
	double t_start;           /* admission (ms) */
	double t_prompt;          /* the prompt's logits came (ms); 0 while prefilling */
	/* What sched_slot_sample found this step, for sched_slot_emit; written
	 * by a sampling-pool thread while the engine waits in threadpool_run. */
	int32_t sampled;
	double lse;               /* log-softmax normaliser of the raw logits (logprobs only) */
	int n_top;
	int32_t top_tokens[SCHED_MAX_TOP_LOGPROBS];
	float top_logprobs[SCHED_MAX_TOP_LOGPROBS];
	float *raw;               /* (n_vocab) owned, made on the first request with logprobs: the raw logits */
};

struct sched {
	const struct ajar_model *m;   /* borrowed, outlives the scheduler */
	const struct ajar_vocab *vocab;
	struct ajar_context *ctx;     /* (engine) owned */
	uint32_t n_slots, n_ctx, n_batch, max_queue;
	int32_t n_vocab;
	pthread_t thread;
	bool thread_started;
	struct threadpool *pool;      /* (engine) owned: samples the slots of a step in parallel */

	pthread_mutex_t mu;
	pthread_cond_t wake;          /* signalled on submit, cancel and stop */
	/* (mu) */
	struct sched_job *queue_head, *queue_tail;
	uint32_t queue_len;
	struct sched_job *cancelled;  /* taken off the queue by sched_cancel; on_done not yet called */
	bool stopping;
	uint64_t next_id;
	uint32_t slots_busy;
	struct sched_stats totals;    /* the counters of sched_stats */

	/* (engine) */
	struct sched_slot *slots;     /* (n_slots) owned */
	uint32_t n_active;            /* slots with a job */
	uint64_t clock;               /* admissions so far: orders slots by last use */
	uint32_t rr;                  /* where the prefill share starts, rotating for fairness */
	uint64_t pending_completion;  /* tokens generated since totals were last updated */
	uint64_t pending_steps;
	/* The batch: n_batch entries each. */
	int32_t *b_tokens, *b_pos, *b_seq;
	bool *b_want;
	float *logits;                /* (n_slots rows of n_vocab) one row per slot at most */
	uint32_t *ready;              /* (n_slots) slots with a logits row this step */
	uint32_t n_ready;
	char *piece;                  /* (cap_piece) detokenizer output */
	size_t cap_piece;
	char *text;                   /* an event's released text, NUL-terminated; grows */
	size_t n_text, cap_text;
};

/* scheduler.c */
double sched_now_ms(void);
/* Frees the slot under mu (stats updated), then calls on_done and frees the
 * job. err != AJAR_OK: a failure, msg says why. */
void sched_slot_finish(struct sched *s, struct sched_slot *sl, enum gen_finish finish, enum ajar_err err,
		       const char *msg);

/* scheduler_slot.c */
/* Index of the free slot whose cache shares the longest prefix with the
 * prompt (least recently used on a tie), or -1 if none is free; *n_reuse is
 * how many prompt tokens its cache can give (at most n_prompt - 1, so the
 * last prompt token is computed again for its logits). (mu) */
int sched_pick_slot(const struct sched *s, const struct sched_request *req, uint32_t *n_reuse);
/* Prepares a slot for its freshly admitted job: reuses the cached prefix,
 * creates the sampler. Finishes the job with an error on failure. */
void sched_slot_start(struct sched *s, struct sched_slot *sl);
/* Builds this step's batch from the active slots; returns its size. */
uint32_t sched_build_batch(struct sched *s);
/* After ajar_decode, for a slot with a logits row: logprobs, processors,
 * sampling. Touches only the slot (and its request's processors), so slots
 * are sampled in parallel. */
void sched_slot_sample(struct sched *s, struct sched_slot *sl, float *logits);
/* Then, on the engine thread, slot by slot: detokenization, stop strings,
 * the end conditions and the callbacks. */
void sched_slot_emit(struct sched *s, struct sched_slot *sl);

#endif
