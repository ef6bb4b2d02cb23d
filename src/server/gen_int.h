/*
 * gen_int.h - one generation request in flight: the state that the
 * scheduler's engine thread fills (on_token, on_done) and a connection
 * thread drains, either all at once (a JSON reply) or as it comes (SSE).
 *
 * Ownership: a job is reference-counted. The connection side holds one
 * reference (the handler, then the streamed response once MHD owns it) and
 * the scheduler one from a successful submit until on_done. Whoever drops
 * the last frees it, so a client that vanishes mid-stream and a generation
 * that ends at the same moment never race on the memory.
 */
#ifndef AJAR_SERVER_GEN_INT_H
#define AJAR_SERVER_GEN_INT_H

#include "ajar/logits_proc.h"
#include "server/server_int.h"

/* The log-probabilities reported with one generated token. */
struct lp_entry {
	int32_t token;
	float logprob;
	int n_top;
	int32_t top_tokens[SCHED_MAX_TOP_LOGPROBS];
	float top_logprobs[SCHED_MAX_TOP_LOGPROBS];
	size_t text_offset;  /* output bytes (echo included) released before this token */
};

/* Reader-side buffers of pending output, swapped with the producer's. */
struct gen_pending {
	char *text;
	size_t n_text, cap_text;
	struct lp_entry *lps;
	size_t n_lps, cap_lps;
};

enum sse_phase { SSE_START, SSE_RUNNING, SSE_FINISHED };

struct gen_job {
	struct server *srv;
	/* The request: valid while the connection serves it; the connection
	 * thread alone uses it (the guard's audit and output digest). */
	struct http_ctx *ctx;
	/* Tokens reserved from the key's quota; settled in on_done (engine
	 * thread) or, if never submitted, when the job is freed. */
	struct guard_reservation resv;
	enum gen_api api;
	char id[48];             /* "chatcmpl-..." / "cmpl-..." */
	long long created;       /* Unix seconds */
	bool stream, include_usage;
	int n_logprobs;
	double t_start;          /* of the HTTP request, for time to first token */
	int fd;                  /* the client's socket, to notice it leaving */

	/* Inputs, owned; the scheduler borrows them until on_done. */
	int32_t *prompt;
	size_t n_prompt;
	char **stops;            /* n_stops strings, each owned */
	size_t n_stops;
	struct json_constraint *jc; /* response_format json_object, or NULL */
	struct watermark *wm;    /* the tier's watermark, or NULL */
	struct logits_proc procs[2]; /* JSON constraint, then watermark */
	char *echo;              /* completions' echo text, or NULL */
	size_t n_echo;
	struct sched_request req;
	uint64_t sched_id;       /* written by srv_submit, read by the connection thread */

	pthread_mutex_t mu;
	pthread_cond_t cv;       /* signalled on every token and on done */
	/* Guarded by mu: */
	int refs;
	struct gen_pending out;  /* produced, not yet taken */
	size_t n_released;       /* output bytes released so far (all time) */
	bool got_first;
	size_t n_generated;      /* tokens generated so far */
	bool cancelled;          /* the client is gone: on_token asks to stop */
	bool oom;                /* a buffer could not grow: stop with an error */
	bool done;
	struct sched_result res;
	enum ajar_err err;
	char err_msg[256];

	/* Touched only by the connection thread that streams the reply: */
	struct gen_pending take; /* what the reader took from out */
	char *sse;               /* formatted bytes ready for MHD */
	size_t n_sse, pos_sse, cap_sse;
	enum sse_phase phase;
	bool sse_oom;
	/* Output moderation and what the client was given (for provenance),
	 * also touched only by the connection thread: */
	struct mod_stream *ms;   /* the tier's moderation, or NULL */
	const struct moderator *mod; /* the tier's moderator when its profile has a guard
	                            model: the whole output is judged at the end */
	char *prompt_text;       /* the prompt as text, for that judgement (owned) */
	bool filtered;           /* moderation blocked the output: finish "content_filter" */
	char *shown;             /* every byte of text sent to the client (echo included) */
	size_t n_shown, cap_shown;
};

void gen_job_unref(struct gen_job *j);

/* Waits (mu held on entry and exit) up to ms for a signal. */
void gen_job_wait(struct gen_job *j, int ms);

/* "stop" or "length" as OpenAI reports it. */
const char *gen_finish_reason(enum gen_finish f);
/* The logprobs object of a chat choice: {"content":[...]}. */
json_t *gen_chat_logprobs(const struct gen_job *j, const struct lp_entry *lps, size_t n);
/* The legacy completions logprobs: {"tokens","token_logprobs","top_logprobs","text_offset"}. */
json_t *gen_legacy_logprobs(const struct gen_job *j, const struct lp_entry *lps, size_t n);
json_t *gen_usage(const struct sched_result *r);
/* The parts every response and chunk starts with: id, object, created, model. */
json_t *gen_envelope(const struct gen_job *j, const char *object);

/* The guard model's judgement of the whole output as the assistant's turn
 * (only for a profile with one): true when it blocks, which also sets
 * j->filtered and notes the verdict for the audit row. */
bool gen_job_classify_output(struct gen_job *j);

/* Appends text to j->shown; false when out of memory. */
bool gen_job_show(struct gen_job *j, const char *text, size_t n);
/* The provenance object of the text shown so far. NULL when out of memory. */
json_t *gen_job_provenance(struct gen_job *j);

/* Queues the SSE response for j (sse.c); takes the caller's reference. */
enum MHD_Result sse_start(struct http_ctx *c, struct gen_job *j);

#endif
