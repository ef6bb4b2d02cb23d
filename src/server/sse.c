/*
 * sse.c - streaming a generation as Server-Sent Events, the way OpenAI
 * streams: `data: {chunk}\n\n` per piece of output, a last chunk carrying
 * finish_reason, a usage chunk when stream_options.include_usage asked for
 * it, then `data: [DONE]\n\n`.
 *
 * MHD pulls bytes through sse_read() on the connection's own thread (one
 * thread per connection, so blocking there is fine). sse_read() waits on the
 * job's condition variable until the engine thread has released text or
 * finished, takes everything pending at once (so a slow client gets fewer,
 * larger chunks rather than an ever-growing backlog of small ones), and
 * formats it. While it waits it checks every CLIENT_CHECK_MS that the client
 * is still there; when MHD drops the connection for any reason it calls
 * sse_free(), which cancels the generation so the slot is free at once.
 */
#include "guard/moderation.h"
#include "server/gen_int.h"

#include <stdlib.h>
#include <string.h>

#define SSE_BLOCK_SIZE 4096
#define CLIENT_CHECK_MS 200

/* Appends "data: <json>\n\n" (json stolen). */
static void sse_event(struct gen_job *j, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	json_decref(obj);
	if (!s) {
		j->sse_oom = true;
		return;
	}
	size_t n = strlen(s), need = j->n_sse + n + 8 + 1;
	if (need > j->cap_sse) {
		size_t cap = j->cap_sse ? j->cap_sse * 2 : 4096;
		while (cap < need)
			cap *= 2;
		char *p = realloc(j->sse, cap);
		if (!p) {
			free(s);
			j->sse_oom = true;
			return;
		}
		j->sse = p;
		j->cap_sse = cap;
	}
	memcpy(j->sse + j->n_sse, "data: ", 6);
	memcpy(j->sse + j->n_sse + 6, s, n);
	memcpy(j->sse + j->n_sse + 6 + n, "\n\n", 2);
	j->n_sse += n + 8;
	free(s);
}

static void sse_raw(struct gen_job *j, const char *s)
{
	size_t n = strlen(s);
	if (j->n_sse + n + 1 > j->cap_sse) {
		char *p = realloc(j->sse, j->n_sse + n + 1);
		if (!p) {
			j->sse_oom = true;
			return;
		}
		j->sse = p;
		j->cap_sse = j->n_sse + n + 1;
	}
	memcpy(j->sse + j->n_sse, s, n);
	j->n_sse += n;
}

/* One chunk with a single choice. For chat, delta is stolen; for
 * completions, text (stolen) is the choice's text. provenance (stolen,
 * may be NULL) goes with the last chunk. */
static void sse_chunk(struct gen_job *j, json_t *delta_or_text, json_t *logprobs, const char *finish,
		      json_t *provenance)
{
	bool chat = j->api == GEN_API_CHAT;
	json_t *root = gen_envelope(j, chat ? "chat.completion.chunk" : "text_completion");
	json_t *choice = json_object();

	if (chat) {
		json_object_set_new(choice, "index", json_integer(0));
		json_object_set_new(choice, "delta", delta_or_text);
	} else {
		json_object_set_new(choice, "text", delta_or_text);
		json_object_set_new(choice, "index", json_integer(0));
	}
	json_object_set_new(choice, "logprobs", logprobs ? logprobs : json_null());
	json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
	json_t *choices = json_array();
	json_array_append_new(choices, choice);
	json_object_set_new(root, "choices", choices);
	if (j->include_usage)
		json_object_set_new(root, "usage", json_null());
	if (provenance)
		json_object_set_new(root, "provenance", provenance);
	sse_event(j, root);
}

static void sse_text_chunk(struct gen_job *j, const char *text, size_t len, json_t *logprobs)
{
	json_t *t = json_string_lossy(text, len);
	if (j->api == GEN_API_CHAT) {
		json_t *delta = json_object();
		json_object_set_new(delta, "content", t);
		sse_chunk(j, delta, logprobs, NULL, NULL);
	} else {
		sse_chunk(j, t, logprobs, NULL, NULL);
	}
}

/* The opening chunk: the assistant's role (chat) or the echoed prompt. */
static void sse_open(struct gen_job *j)
{
	if (j->api == GEN_API_CHAT) {
		json_t *delta = json_object();
		json_object_set_new(delta, "role", json_string("assistant"));
		json_object_set_new(delta, "content", json_string(""));
		sse_chunk(j, delta, NULL, NULL, NULL);
	} else if (j->echo && j->n_echo) {
		if (!gen_job_show(j, j->echo, j->n_echo))
			j->sse_oom = true;
		sse_text_chunk(j, j->echo, j->n_echo, NULL);
	}
}

/* The end: error or finish_reason, usage, [DONE]. j is done. */
static void sse_close(struct gen_job *j)
{
	if (j->err) {
		json_t *err = json_object(), *root = json_object();
		json_object_set_new(err, "message", json_string_lossy(j->err_msg, strlen(j->err_msg)));
		json_object_set_new(err, "type", json_string(j->err == AJAR_ERR_INVALID ? "invalid_request_error"
									    : "server_error"));
		json_object_set_new(err, "param", json_null());
		json_object_set_new(err, "code", json_null());
		json_object_set_new(root, "error", err);
		sse_event(j, root);
	} else {
		const char *reason = j->filtered ? "content_filter" : gen_finish_reason(j->res.finish);
		sse_chunk(j, j->api == GEN_API_CHAT ? json_object() : json_string(""), NULL, reason,
			  gen_job_provenance(j));
		if (j->include_usage) {
			json_t *root = gen_envelope(j, j->api == GEN_API_CHAT ? "chat.completion.chunk" : "text_completion");
			json_object_set_new(root, "choices", json_array());
			json_object_set_new(root, "usage", gen_usage(&j->res));
			sse_event(j, root);
		}
	}
	sse_raw(j, "data: [DONE]\n\n");
}

/* Passes a piece of output through the tier's moderation: *text and
 * *n_text become what may be sent (redacted; held-back bytes come later).
 * Returns false when the output is blocked now: the generation is
 * cancelled and the stream ends with finish_reason "content_filter". */
static bool moderate_piece(struct gen_job *j, const char **text, size_t *n_text, bool final)
{
	struct mod_result mr;
	bool blocked = false;

	memset(&mr, 0, sizeof(mr));
	if (mod_stream_push(j->ms, *text, *n_text, final, text, n_text, &blocked, &mr)) {
		/* Moderation that cannot run lets nothing more through. */
		blocked = true;
		snprintf(mr.block_category, sizeof(mr.block_category), "moderation_failed");
		mr.blocked = true;
		*n_text = 0;
	}
	safety_note_hits(j->ctx, &mr);
	if (!blocked)
		return true;
	j->filtered = true;
	srv_cancel(j->srv, j->sched_id);
	return false;
}

/* Formats the next batch of events into j->sse. Returns false when the
 * client is gone (the generation has been cancelled). */
static bool sse_refill(struct gen_job *j)
{
	if (j->phase == SSE_START) {
		sse_open(j);
		j->phase = SSE_RUNNING;
		return true;
	}
	pthread_mutex_lock(&j->mu);
	while (!j->done && j->out.n_text == 0 && j->out.n_lps == 0) {
		gen_job_wait(j, CLIENT_CHECK_MS);
		if (!j->done && j->out.n_text == 0 && j->out.n_lps == 0 && http_peer_closed(j->fd)) {
			j->cancelled = true;
			pthread_mutex_unlock(&j->mu);
			srv_cancel(j->srv, j->sched_id);
			return false;
		}
	}
	/* Take everything pending: swap buffers with the producer. */
	struct gen_pending t = j->take;
	j->take = j->out;
	j->out = t;
	j->out.n_text = 0;
	j->out.n_lps = 0;
	bool done = j->done;
	size_t n_generated = j->n_generated;
	pthread_mutex_unlock(&j->mu);
	/* Kept current, so a stream cut off by the client is audited with the
	 * tokens it used. */
	j->ctx->g.tokens_in = (int64_t)j->n_prompt;
	j->ctx->g.tokens_out = (int64_t)n_generated;

	const char *text = j->take.text ? j->take.text : "";
	size_t n_text = j->take.n_text, n_lps = j->take.n_lps;
	if (j->filtered) {
		n_text = n_lps = 0; /* blocked: nothing more goes out */
	} else if (j->ms && (n_text || done)) {
		if (!moderate_piece(j, &text, &n_text, done))
			n_lps = 0;
	}
	if (n_text) {
		guard_output(j->ctx, text, n_text);
		if (!gen_job_show(j, text, n_text))
			j->sse_oom = true;
	}
	if (n_text || n_lps) {
		json_t *lp = NULL;
		if (j->n_logprobs >= 0 && n_lps)
			lp = j->api == GEN_API_CHAT ? gen_chat_logprobs(j, j->take.lps, n_lps)
						    : gen_legacy_logprobs(j, j->take.lps, n_lps);
		sse_text_chunk(j, text, n_text, lp);
	}
	if (done) {
		/* The audit row is durable before the stream's last bytes. */
		j->ctx->g.tokens_in = j->res.n_prompt;
		j->ctx->g.tokens_out = j->res.n_completion;
		if (j->err)
			j->ctx->g.outcome = "error";
		/* The guard model judges the whole reply; it has been sent, but a
		 * block still ends the stream with "content_filter". */
		gen_job_classify_output(j);
		guard_audit(j->ctx, 200);
		sse_close(j);
		j->phase = SSE_FINISHED;
	}
	return true;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct gen_job *j = cls;

	(void)pos;
	for (;;) {
		if (j->pos_sse < j->n_sse) {
			size_t n = j->n_sse - j->pos_sse;
			if (n > max)
				n = max;
			memcpy(buf, j->sse + j->pos_sse, n);
			j->pos_sse += n;
			return (ssize_t)n;
		}
		if (j->phase == SSE_FINISHED || j->sse_oom)
			return j->sse_oom ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
		j->n_sse = j->pos_sse = 0;
		if (!sse_refill(j))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

/* MHD is done with the response: normally after [DONE], or because the
 * connection broke. In the second case stop the generation now. */
static void sse_free(void *cls)
{
	struct gen_job *j = cls;

	pthread_mutex_lock(&j->mu);
	bool running = !j->done;
	if (running)
		j->cancelled = true;
	pthread_mutex_unlock(&j->mu);
	if (running)
		srv_cancel(j->srv, j->sched_id);
	gen_job_unref(j);
}

enum MHD_Result sse_start(struct http_ctx *c, struct gen_job *j)
{
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK_SIZE, sse_read, j,
								   sse_free);
	if (!r) {
		sse_free(j);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	/* Proxies such as nginx must pass each event on at once. */
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	guard_headers(c, r);
	enum MHD_Result ret = MHD_queue_response(c->conn, 200, r);
	MHD_destroy_response(r); /* MHD keeps its reference; sse_free runs when it lets go */
	if (ret == MHD_YES)
		c->status = 200;
	return ret;
}
