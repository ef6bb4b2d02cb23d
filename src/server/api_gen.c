/*
 * api_gen.c - what /v1/chat/completions and /v1/completions share: the
 * sampling fields of a request, the generation job and its scheduler
 * callbacks, and the blocking (non-streaming) reply. The streaming reply is
 * in sse.c.
 *
 * Defaults follow llama-server (temperature 0.8, top_k 40, top_p 0.95,
 * min_p 0.05, no token limit but the context) so a client that sends only
 * messages gets what llama-server would give; ranges follow OpenAI.
 */
#include "ajar/json_constraint.h"
#include "ajar/vocab.h"
#include "ajar/watermark.h"
#include "guard/moderation.h"
#include "server/gen_int.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* How often a waiting connection thread checks that its client is still
 * there. */
#define CLIENT_CHECK_MS 200

/* ---- request fields ---- */

static int parse_stop(json_t *body, struct gen_opts *o, struct api_error *e)
{
	json_t *v = json_object_get(body, "stop");
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		if (json_string_length(v) > API_MAX_STOP_LEN)
			return api_fail(e, "stop", "stop strings must be at most %d bytes", API_MAX_STOP_LEN);
		if (json_string_length(v) > 0)
			o->stop[o->n_stop++] = json_string_value(v);
		return 0;
	}
	if (!json_is_array(v))
		return api_fail(e, "stop", "stop must be a string or an array of strings");
	if (json_array_size(v) > API_MAX_STOP)
		return api_fail(e, "stop", "stop may have at most %d strings (got %zu)", API_MAX_STOP,
				json_array_size(v));
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *s = json_array_get(v, i);
		if (!json_is_string(s))
			return api_fail(e, "stop", "stop[%zu] must be a string", i);
		if (json_string_length(s) > API_MAX_STOP_LEN)
			return api_fail(e, "stop", "stop strings must be at most %d bytes", API_MAX_STOP_LEN);
		/* An empty stop string would end every generation at once. */
		if (json_string_length(s) > 0)
			o->stop[o->n_stop++] = json_string_value(s);
	}
	return 0;
}

static int parse_max_tokens(json_t *body, struct gen_opts *o, struct api_error *e)
{
	long long v = -1;
	/* max_completion_tokens is OpenAI's current name, max_tokens the older
	 * one, n_predict llama-server's (where -1 means no limit). */
	static const char *const names[] = { "max_completion_tokens", "max_tokens" };
	for (size_t i = 0; i < 2; i++) {
		if (json_object_get(body, names[i]) && !json_is_null(json_object_get(body, names[i]))) {
			if (jfield_int(body, names[i], 1, INT32_MAX, &v, e))
				return -1;
			o->max_tokens = (int32_t)v;
			return 0;
		}
	}
	if (jfield_int(body, "n_predict", -1, INT32_MAX, &v, e))
		return -1;
	o->max_tokens = (int32_t)v;
	return 0;
}

static int parse_seed(json_t *body, struct gen_opts *o, struct api_error *e)
{
	json_t *v = json_object_get(body, "seed");
	if (v && !json_is_null(v) && !json_is_integer(v))
		return api_fail(e, "seed", "seed must be an integer");
	if (v && json_is_integer(v) && json_integer_value(v) >= 0) {
		o->sp.seed = (uint64_t)json_integer_value(v);
		return 0;
	}
	/* No seed (or -1, llama-server's "random"): a fresh one. */
	if (getrandom(&o->sp.seed, sizeof(o->sp.seed), 0) != (ssize_t)sizeof(o->sp.seed))
		o->sp.seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)o;
	return 0;
}

int gen_opts_parse(struct server *srv, json_t *b, struct gen_opts *o, struct api_error *e)
{
	double d;
	long long ll;

	memset(o, 0, sizeof(*o));
	o->sp = sampler_params_default();
	o->max_tokens = -1;
	o->n_logprobs = -1;

	d = o->sp.temp;
	if (jfield_number(b, "temperature", 0, 2, &d, e))
		return -1;
	o->sp.temp = (float)d;
	d = o->sp.top_p;
	if (jfield_number(b, "top_p", 0, 1, &d, e))
		return -1;
	/* top_p 0 keeps only the most likely token; the sampler wants > 0. */
	o->sp.top_p = d > 0 ? (float)d : FLT_MIN;
	d = o->sp.min_p;
	if (jfield_number(b, "min_p", 0, 1, &d, e))
		return -1;
	o->sp.min_p = (float)d;
	ll = o->sp.top_k;
	if (jfield_int(b, "top_k", 0, INT32_MAX, &ll, e))
		return -1;
	o->sp.top_k = (int32_t)ll;
	d = o->sp.presence_penalty;
	if (jfield_number(b, "presence_penalty", -2, 2, &d, e))
		return -1;
	o->sp.presence_penalty = (float)d;
	d = o->sp.freq_penalty;
	if (jfield_number(b, "frequency_penalty", -2, 2, &d, e))
		return -1;
	o->sp.freq_penalty = (float)d;
	d = o->sp.repeat_penalty;
	if (jfield_number(b, "repeat_penalty", 0.01, 100, &d, e))
		return -1;
	o->sp.repeat_penalty = (float)d;
	ll = o->sp.repeat_last_n;
	if (jfield_int(b, "repeat_last_n", -1, INT32_MAX, &ll, e))
		return -1;
	o->sp.repeat_last_n = (int32_t)ll;
	if (parse_seed(b, o, e) || parse_max_tokens(b, o, e) || parse_stop(b, o, e))
		return -1;

	json_t *n = json_object_get(b, "n");
	if (n && !json_is_null(n)) {
		if (!json_is_integer(n))
			return api_fail(e, "n", "n must be an integer");
		if (json_integer_value(n) != 1)
			return api_fail(e, "n", "n must be 1: only one choice per request is supported");
	}
	if (jfield_bool(b, "stream", &o->stream, e) || jfield_bool(b, "ignore_eos", &o->ignore_eos, e))
		return -1;
	json_t *so = json_object_get(b, "stream_options");
	if (so && !json_is_null(so)) {
		if (!json_is_object(so))
			return api_fail(e, "stream_options", "stream_options must be an object");
		if (json_object_get(so, "include_usage") && !json_is_null(json_object_get(so, "include_usage")) &&
		    !json_is_boolean(json_object_get(so, "include_usage")))
			return api_fail(e, "stream_options.include_usage", "stream_options.include_usage must be a boolean");
		o->include_usage = json_is_true(json_object_get(so, "include_usage"));
	}
	(void)srv;
	return 0;
}

/* ---- the job ---- */

static void pending_free(struct gen_pending *p)
{
	free(p->text);
	free(p->lps);
	memset(p, 0, sizeof(*p));
}

static void job_free(struct gen_job *j)
{
	guard_settle(j->srv, &j->resv, 0); /* never ran: give it all back */
	free(j->prompt);
	for (size_t i = 0; i < j->n_stops; i++)
		free(j->stops[i]);
	free(j->stops);
	json_constraint_free(j->jc);
	watermark_free(j->wm);
	mod_stream_free(j->ms);
	free(j->prompt_text);
	free(j->shown);
	free(j->echo);
	pending_free(&j->out);
	pending_free(&j->take);
	free(j->sse);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}

void gen_job_unref(struct gen_job *j)
{
	pthread_mutex_lock(&j->mu);
	int left = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (left == 0)
		job_free(j);
}

void gen_job_wait(struct gen_job *j, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&j->cv, &j->mu, &ts);
}

static bool grow(void **buf, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 64;
	while (c < need)
		c *= 2;
	void *p = realloc(*buf, c * elem);
	if (!p)
		return false;
	*buf = p;
	*cap = c;
	return true;
}

/* Engine thread: copy what the token released and return at once. */
static int job_on_token(void *user, const struct sched_token_event *ev)
{
	struct gen_job *j = user;
	double ttft = -1;
	int stop;

	pthread_mutex_lock(&j->mu);
	if (!j->got_first) {
		j->got_first = true;
		ttft = mono_now() - j->t_start;
	}
	if (ev->token >= 0)
		j->n_generated++;
	/* token -1: text released at the end, with no token of its own. */
	if (j->n_logprobs >= 0 && ev->token >= 0) {
		if (grow((void **)&j->out.lps, &j->out.cap_lps, j->out.n_lps + 1, sizeof(struct lp_entry))) {
			struct lp_entry *lp = &j->out.lps[j->out.n_lps++];
			int k = ev->n_top < 0 ? 0 : ev->n_top > SCHED_MAX_TOP_LOGPROBS ? SCHED_MAX_TOP_LOGPROBS : ev->n_top;
			lp->token = ev->token;
			lp->logprob = ev->logprob;
			lp->n_top = k;
			if (k) {
				memcpy(lp->top_tokens, ev->top_tokens, (size_t)k * sizeof(int32_t));
				memcpy(lp->top_logprobs, ev->top_logprobs, (size_t)k * sizeof(float));
			}
			lp->text_offset = j->n_echo + j->n_released;
		} else {
			j->oom = true;
		}
	}
	if (ev->len) {
		if (grow((void **)&j->out.text, &j->out.cap_text, j->out.n_text + ev->len + 1, 1)) {
			memcpy(j->out.text + j->out.n_text, ev->text, ev->len);
			j->out.n_text += ev->len;
			j->n_released += ev->len;
		} else {
			j->oom = true;
		}
	}
	stop = j->cancelled || j->oom;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (ttft >= 0)
		metrics_ttft(j->srv->metrics, ttft);
	return stop;
}

static void job_on_done(void *user, const struct sched_result *res, enum ajar_err err, const char *msg)
{
	struct gen_job *j = user;

	/* Before anyone can see the end: the client's next request must find
	 * the unused tokens back in its quota. */
	guard_settle(j->srv, &j->resv, res->n_completion);
	pthread_mutex_lock(&j->mu);
	j->done = true;
	j->res = *res;
	j->err = err;
	if (err == AJAR_OK && j->oom) {
		j->err = AJAR_ERR_NOMEM;
		msg = "out of memory while collecting the output";
	}
	snprintf(j->err_msg, sizeof(j->err_msg), "%s", msg ? msg : "");
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (err == AJAR_OK)
		metrics_tokens(j->srv->metrics, res->n_prompt, res->n_completion);
	gen_job_unref(j);
}

static struct gen_job *job_new(struct http_ctx *c, enum gen_api api, const struct gen_opts *o, int32_t *prompt,
			       size_t n_prompt, const char *const *extra_stop, size_t n_extra_stop,
			       const char *echo_text)
{
	struct gen_job *j = calloc(1, sizeof(*j));
	pthread_condattr_t ca;

	if (!j)
		return NULL;
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	j->refs = 1;
	j->srv = c->srv;
	j->ctx = c;
	j->api = api;
	api_make_id(j->id, sizeof(j->id), api == GEN_API_CHAT ? "chatcmpl-" : "cmpl-");
	j->created = (long long)time(NULL);
	j->stream = o->stream;
	j->include_usage = o->stream && o->include_usage;
	j->n_logprobs = o->n_logprobs;
	j->t_start = c->t_start;
	j->fd = http_socket(c);
	j->prompt = prompt;
	j->n_prompt = n_prompt;

	j->stops = calloc(o->n_stop + n_extra_stop + 1, sizeof(char *));
	if (!j->stops)
		goto fail;
	for (size_t i = 0; i < o->n_stop + n_extra_stop; i++) {
		const char *s = i < o->n_stop ? o->stop[i] : extra_stop[i - o->n_stop];
		if (!(j->stops[j->n_stops++] = strdup(s)))
			goto fail;
	}
	if (echo_text && !(j->echo = strdup(echo_text)))
		goto fail;
	j->n_echo = echo_text ? strlen(echo_text) : 0;

	struct sched_request *r = &j->req;
	r->prompt = j->prompt;
	r->n_prompt = j->n_prompt;
	r->sp = o->sp;
	r->n_predict = o->max_tokens;
	r->stop = (const char *const *)j->stops;
	r->n_stop = j->n_stops;
	r->ignore_eog = o->ignore_eos;
	r->n_logprobs = o->n_logprobs;
	r->on_token = job_on_token;
	r->on_done = job_on_done;
	r->user = j;
	return j;
fail:
	j->prompt = NULL; /* the caller still owns it on failure */
	job_free(j);
	return NULL;
}

/* ---- JSON pieces ---- */

const char *gen_finish_reason(enum gen_finish f)
{
	switch (f) {
	case GEN_FINISH_LENGTH:
	case GEN_FINISH_CONTEXT:
		return "length";
	case GEN_FINISH_STOP:
	case GEN_FINISH_EOG:
	case GEN_FINISH_CANCEL:
		break;
	}
	return "stop";
}

json_t *gen_envelope(const struct gen_job *j, const char *object)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(j->id));
	json_object_set_new(o, "object", json_string(object));
	json_object_set_new(o, "created", json_integer(j->created));
	json_object_set_new(o, "model", json_string(j->srv->model_id));
	return o;
}

json_t *gen_usage(const struct sched_result *r)
{
	json_t *u = json_object();
	json_object_set_new(u, "prompt_tokens", json_integer(r->n_prompt));
	json_object_set_new(u, "completion_tokens", json_integer(r->n_completion));
	json_object_set_new(u, "total_tokens", json_integer((json_int_t)r->n_prompt + r->n_completion));
	return u;
}

/* JSON has no infinity: an impossible token gets OpenAI's -9999.0. */
static json_t *json_logprob(float lp)
{
	return json_real(isfinite(lp) ? (double)lp : -9999.0);
}

/* The token's bytes (control tokens by their text, so an end marker is
 * visible). len <= cap - 1 is written; returns the full length or -1. */
static int token_bytes(const struct gen_job *j, int32_t id, char *buf, size_t cap)
{
	int n = vocab_token_to_piece(j->srv->vocab, id, true, buf, cap);
	if (n < 0)
		return -1;
	return (size_t)n < cap ? n : (int)cap - 1;
}

/* One {"token","logprob","bytes"} object of chat logprobs. */
static json_t *chat_token_json(const struct gen_job *j, int32_t id, float logprob)
{
	char buf[256];
	int n = token_bytes(j, id, buf, sizeof(buf));
	json_t *o = json_object(), *bytes = json_array();

	if (n < 0)
		n = 0;
	json_object_set_new(o, "token", json_string_lossy(buf, (size_t)n));
	json_object_set_new(o, "logprob", json_logprob(logprob));
	for (int i = 0; i < n; i++)
		json_array_append_new(bytes, json_integer((unsigned char)buf[i]));
	json_object_set_new(o, "bytes", bytes);
	return o;
}

json_t *gen_chat_logprobs(const struct gen_job *j, const struct lp_entry *lps, size_t n)
{
	json_t *content = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *t = chat_token_json(j, lps[i].token, lps[i].logprob);
		json_t *top = json_array();
		for (int k = 0; k < lps[i].n_top; k++)
			json_array_append_new(top, chat_token_json(j, lps[i].top_tokens[k], lps[i].top_logprobs[k]));
		json_object_set_new(t, "top_logprobs", top);
		json_array_append_new(content, t);
	}
	json_t *o = json_object();
	json_object_set_new(o, "content", content);
	return o;
}

json_t *gen_legacy_logprobs(const struct gen_job *j, const struct lp_entry *lps, size_t n)
{
	json_t *tokens = json_array(), *token_lps = json_array(), *tops = json_array(), *offsets = json_array();
	char buf[256];

	for (size_t i = 0; i < n; i++) {
		int len = token_bytes(j, lps[i].token, buf, sizeof(buf));
		json_array_append_new(tokens, json_string_lossy(buf, len > 0 ? (size_t)len : 0));
		json_array_append_new(token_lps, json_logprob(lps[i].logprob));
		json_t *top = json_object();
		for (int k = 0; k < lps[i].n_top; k++) {
			len = token_bytes(j, lps[i].top_tokens[k], buf, sizeof(buf));
			json_t *key = json_string_lossy(buf, len > 0 ? (size_t)len : 0);
			/* Two tokens with the same text keep the better (first) one. */
			if (key && !json_object_get(top, json_string_value(key)))
				json_object_set_new(top, json_string_value(key), json_logprob(lps[i].top_logprobs[k]));
			json_decref(key);
		}
		json_array_append_new(tops, top);
		json_array_append_new(offsets, json_integer((json_int_t)lps[i].text_offset));
	}
	json_t *o = json_object();
	json_object_set_new(o, "tokens", tokens);
	json_object_set_new(o, "token_logprobs", token_lps);
	json_object_set_new(o, "top_logprobs", tops);
	json_object_set_new(o, "text_offset", offsets);
	return o;
}

/* ---- running ---- */

/* The whole reply once generation is over. j is done: only this thread
 * reads it now. */
static enum MHD_Result reply_full(struct http_ctx *c, struct gen_job *j)
{
	struct api_error e;

	if (j->err) {
		if (j->err == AJAR_ERR_INVALID)
			api_fail(&e, NULL, "%s", j->err_msg);
		else
			api_fail_as(&e, 500, "server_error", NULL, NULL, "generation failed: %s", j->err_msg);
		return http_reply_error(c, &e);
	}
	if (j->res.finish == GEN_FINISH_CANCEL) {
		api_fail_as(&e, 503, "unavailable_error", "shutting_down", NULL, "the server is shutting down");
		return http_reply_error(c, &e);
	}
	c->g.tokens_in = j->res.n_prompt;
	c->g.tokens_out = j->res.n_completion;
	const char *out = j->out.text ? j->out.text : "";
	size_t n_out = j->out.n_text;
	if (j->ms) {
		/* The whole output through the tier's moderation at once. */
		struct mod_result mr;
		memset(&mr, 0, sizeof(mr));
		if (mod_stream_push(j->ms, out, n_out, true, &out, &n_out, &j->filtered, &mr)) {
			api_fail_as(&e, 503, "unavailable_error", "moderation_failed", NULL,
				    "the output could not be moderated; it is not returned");
			return http_reply_error(c, &e);
		}
		safety_note_hits(c, &mr);
	}
	if ((j->api == GEN_API_COMPLETION && j->echo && !gen_job_show(j, j->echo, j->n_echo)) ||
	    !gen_job_show(j, out, n_out)) {
		api_fail_as(&e, 500, "server_error", NULL, NULL, "out of memory");
		return http_reply_error(c, &e);
	}
	/* The guard model reads the whole reply; a block returns none of it. */
	if (gen_job_classify_output(j))
		j->n_shown = 0;
	guard_output(c, out, n_out);
	json_t *choice = json_object();
	json_object_set_new(choice, "index", json_integer(0));
	/* Chat: the output; completions: the echo and the output. */
	json_t *text = json_string_lossy(j->shown, j->n_shown);
	json_t *lp = j->n_logprobs < 0 ? json_null()
		     : j->api == GEN_API_CHAT ? gen_chat_logprobs(j, j->out.lps, j->out.n_lps)
					      : gen_legacy_logprobs(j, j->out.lps, j->out.n_lps);
	json_t *root;
	if (j->api == GEN_API_CHAT) {
		root = gen_envelope(j, "chat.completion");
		json_t *msg = json_object();
		json_object_set_new(msg, "role", json_string("assistant"));
		json_object_set_new(msg, "content", text);
		json_object_set_new(choice, "message", msg);
	} else {
		root = gen_envelope(j, "text_completion");
		json_object_set_new(choice, "text", text);
	}
	json_object_set_new(choice, "logprobs", lp);
	json_object_set_new(choice, "finish_reason",
			    json_string(j->filtered ? "content_filter" : gen_finish_reason(j->res.finish)));
	json_t *choices = json_array();
	json_array_append_new(choices, choice);
	json_object_set_new(root, "choices", choices);
	json_object_set_new(root, "usage", gen_usage(&j->res));
	json_object_set_new(root, "provenance", gen_job_provenance(j));
	return http_reply_json(c, 200, root);
}

/* Waits for the job, cancelling it if the client goes away. */
static enum MHD_Result reply_blocking(struct http_ctx *c, struct gen_job *j)
{
	pthread_mutex_lock(&j->mu);
	while (!j->done) {
		gen_job_wait(j, CLIENT_CHECK_MS);
		if (!j->done && !j->cancelled && http_peer_closed(j->fd)) {
			j->cancelled = true;
			pthread_mutex_unlock(&j->mu);
			srv_cancel(c->srv, j->sched_id);
			pthread_mutex_lock(&j->mu);
		}
	}
	bool gone = j->cancelled;
	pthread_mutex_unlock(&j->mu);
	/* A client that left still used what was generated: its audit row
	 * (written as the connection closes) records it. */
	c->g.tokens_in = j->res.n_prompt;
	c->g.tokens_out = j->res.n_completion;
	enum MHD_Result ret = gone ? MHD_NO : reply_full(c, j);
	gen_job_unref(j);
	return ret;
}

/* The job's logits processors (JSON constraint, the tier's watermark) and
 * its output moderation. 0, or -1 with e filled. */
static int job_safety(struct http_ctx *c, struct gen_job *j, const struct gen_opts *o, struct api_error *e)
{
	const struct moderator *m = safety_moderator(c);
	bool failed = false;
	size_t n = 0;

	if (o->json_object) {
		if (!(j->jc = srv_jc_new(c->srv)))
			return api_fail_as(e, 500, "server_error", NULL, NULL, "%s", ajar_err_msg());
		j->procs[n++] = json_constraint_proc(j->jc);
	}
	/* After the constraint: a masked token stays masked. */
	j->wm = safety_watermark_for(c, &failed);
	if (failed)
		return api_fail_as(e, 500, "server_error", NULL, NULL, "watermark: %s", ajar_err_msg());
	if (j->wm)
		j->procs[n++] = watermark_proc(j->wm);
	j->req.procs = n ? j->procs : NULL;
	j->req.n_procs = n;
	if (m && mod_stream_new(m, &j->ms))
		return api_fail_as(e, 500, "server_error", NULL, NULL, "moderation: %s", ajar_err_msg());
	if (m && safety_has_classifier(c)) {
		size_t len = 0;
		j->mod = m;
		if (!(j->prompt_text = srv_detokenize(c->srv, j->prompt, j->n_prompt, &len)))
			return api_fail_as(e, 500, "server_error", NULL, NULL, "%s", ajar_err_msg());
	}
	return 0;
}

bool gen_job_classify_output(struct gen_job *j)
{
	struct mod_result r;

	if (!j->mod || j->filtered)
		return false;
	memset(&r, 0, sizeof(r));
	if (moderator_check_output(j->mod, j->prompt_text, j->shown ? j->shown : "", j->n_shown, &r)) {
		/* A judgement that cannot be made lets nothing through. */
		memset(&r, 0, sizeof(r));
		r.blocked = r.flagged = true;
		snprintf(r.block_category, sizeof(r.block_category), "moderation_failed");
	}
	safety_note_hits(j->ctx, &r);
	if (r.blocked)
		j->filtered = true;
	return r.blocked;
}

bool gen_job_show(struct gen_job *j, const char *text, size_t n)
{
	if (j->n_shown + n + 1 > j->cap_shown) {
		size_t cap = j->cap_shown ? j->cap_shown * 2 : 4096;
		while (cap < j->n_shown + n + 1)
			cap *= 2;
		char *p = realloc(j->shown, cap);
		if (!p)
			return false;
		j->shown = p;
		j->cap_shown = cap;
	}
	memcpy(j->shown + j->n_shown, text, n);
	j->n_shown += n;
	j->shown[j->n_shown] = '\0';
	return true;
}

json_t *gen_job_provenance(struct gen_job *j)
{
	/* Signed as the client reads it: the JSON string's bytes. */
	json_t *t = json_string_lossy(j->shown ? j->shown : "", j->n_shown);
	json_t *p = t ? safety_provenance(j->srv, j->id, j->created, json_string_value(t), json_string_length(t),
					  j->wm != NULL)
		      : NULL;
	json_decref(t);
	return p;
}

enum MHD_Result gen_run(struct http_ctx *c, enum gen_api api, const struct gen_opts *o, int32_t *prompt,
			size_t n_prompt, const char *const *extra_stop, size_t n_extra_stop, const char *echo_text)
{
	struct server *srv = c->srv;
	const char *param = api == GEN_API_CHAT ? "messages" : "prompt";
	struct api_error e;
	struct gen_job *j;
	struct guard_reservation resv;
	struct gen_opts limited = *o;
	enum ajar_err err;

	if (o->json_object && !srv->jc_proto) {
		free(prompt);
		api_fail(&e, "response_format", "response_format json_object is not available for this model");
		return http_reply_error(c, &e);
	}
	if (n_prompt == 0) {
		free(prompt);
		api_fail(&e, param, "the prompt is empty (no tokens)");
		return http_reply_error(c, &e);
	}
	if (n_prompt >= srv->n_ctx) {
		free(prompt);
		api_fail_as(&e, 400, "invalid_request_error", "context_length_exceeded", param,
			    "This model's maximum context length is %u tokens. However, your %s resulted in %zu tokens.",
			    srv->n_ctx, api == GEN_API_CHAT ? "messages" : "prompt", n_prompt);
		return http_reply_error(c, &e);
	}
	/* A blocked prompt never reaches the model. */
	if (safety_check_prompt(c, prompt, n_prompt, &e)) {
		free(prompt);
		return http_reply_error(c, &e);
	}
	/* The tier's context and token quota may lower max_tokens: the
	 * generation then ends with finish_reason "length". */
	if (guard_reserve(c, n_prompt, &limited.max_tokens, &resv, &e)) {
		free(prompt);
		return http_reply_error(c, &e);
	}
	if (!(j = job_new(c, api, &limited, prompt, n_prompt, extra_stop, n_extra_stop, echo_text))) {
		guard_settle(srv, &resv, 0);
		free(prompt);
		api_fail_as(&e, 500, "server_error", NULL, NULL, "out of memory");
		return http_reply_error(c, &e);
	}
	j->resv = resv;
	if (job_safety(c, j, o, &e)) {
		gen_job_unref(j);
		return http_reply_error(c, &e);
	}
	j->refs = 2; /* the scheduler's, until on_done */
	if ((err = srv_submit(srv, &j->req, &j->sched_id))) {
		j->refs = 1;
		if (err == AJAR_ERR_LIMIT) {
			api_fail_as(&e, 503, "unavailable_error", "overloaded", NULL,
				    "the server is busy (request queue full); retry shortly");
			e.retry_after = 1;
		} else if (err == AJAR_ERR_UNSUPPORTED) {
			api_fail_as(&e, 503, "unavailable_error", "shutting_down", NULL, "%s", ajar_err_msg());
		} else if (err == AJAR_ERR_INVALID) {
			api_fail(&e, NULL, "%s", ajar_err_msg());
		} else {
			api_fail_as(&e, 500, "server_error", NULL, NULL, "%s", ajar_err_msg());
		}
		gen_job_unref(j);
		return http_reply_error(c, &e);
	}
	return limited.stream ? sse_start(c, j) : reply_blocking(c, j);
}
