/*
 * Unit tests of the continuous-batching scheduler on stories260K:
 * one greedy request equals llama.cpp's tokens (fixture) and generate();
 * eight staggered, queued, chunk-prefilled requests each equal their solo
 * generate() run; prefix reuse; cancellation (running, queued, by the
 * callback); the queue limit and invalid requests; stop strings, length,
 * context and end-of-generation ends; logprobs against an independent
 * log-softmax; seeded sampling batched or not; a banning logits processor;
 * sched_free with requests in flight; client threads submitting and
 * cancelling at once (run it under ThreadSanitizer too).
 *
 * Synchronisation is by condition variables only: a request can be made to
 * wait inside its on_token at a given token ("gate") until the test lets
 * it go, which holds the engine thread at a known point.
 */
#include "ajar/generate.h"
#include "ajar/model.h"
#include "ajar/sampler.h"
#include "ajar/scheduler.h"
#include "ajar/vocab.h"
#include "check.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOK 1024
#define N_CTX 256

static struct ajar_model *model;
static int32_t n_vocab;

/* The reference cases: prompt tokens and llama.cpp's 48 greedy tokens. */
#define N_CASES 6
static struct ref_case {
	int32_t prompt[64];
	size_t n_prompt;
	int32_t greedy[48];
	char text[1024];
} cases[N_CASES];

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;

/* What a request saw, written by its callbacks under g_mu. */
struct collector {
	int32_t tokens[MAX_TOK];   /* tokens of events with token >= 0 */
	size_t n_tokens;
	char text[8192];
	size_t n_text;
	int n_events, n_end_events;  /* end events: token -1 */
	int n_done;
	struct sched_result res;
	enum ajar_err err;
	char msg[256];
	/* logprobs of each token event */
	float logprob[MAX_TOK];
	int n_top[MAX_TOK];
	int32_t top_tok[64][SCHED_MAX_TOP_LOGPROBS];
	float top_lp[64][SCHED_MAX_TOP_LOGPROBS];
	bool bad_top;                /* an event with logprobs where none were asked, or the reverse */
	int want_logprobs;           /* the request's n_logprobs */
	/* control */
	size_t gate_at;              /* > 0: wait in on_token after this many tokens until released */
	bool gate_reached, released;
	size_t cancel_at;            /* > 0: on_token returns 1 after this many tokens */
	struct sched *stats_from;    /* on_done calls sched_stats on it (no deadlock) */
	struct sched *cancel_self;   /* on_token calls sched_cancel(cancel_self, id) at cancel_at */
	uint64_t id;
};

static int on_token(void *user, const struct sched_token_event *ev)
{
	struct collector *c = user;
	int ret = 0;
	pthread_mutex_lock(&g_mu);
	c->n_events++;
	if (ev->token >= 0 && c->n_tokens < MAX_TOK) {
		size_t i = c->n_tokens;
		c->tokens[c->n_tokens++] = ev->token;
		c->logprob[i] = ev->logprob;
		c->n_top[i] = ev->n_top;
		if (c->want_logprobs > 0 && (ev->top_tokens == NULL || ev->n_top != c->want_logprobs))
			c->bad_top = true;
		if (c->want_logprobs <= 0 && ev->n_top != 0)
			c->bad_top = true;
		if (c->want_logprobs < 0 && ev->logprob != 0)
			c->bad_top = true;
		for (int k = 0; k < ev->n_top && i < 64; k++) {
			c->top_tok[i][k] = ev->top_tokens[k];
			c->top_lp[i][k] = ev->top_logprobs[k];
		}
	} else if (ev->token < 0) {
		c->n_end_events++;
	}
	if (c->n_text + ev->len < sizeof(c->text)) {
		memcpy(c->text + c->n_text, ev->text, ev->len);
		c->n_text += ev->len;
		c->text[c->n_text] = '\0';
	}
	if (c->gate_at && c->n_tokens == c->gate_at) {
		c->gate_reached = true;
		pthread_cond_broadcast(&g_cv);
		while (!c->released)
			pthread_cond_wait(&g_cv, &g_mu);
	}
	bool at_cancel = c->cancel_at && c->n_tokens == c->cancel_at;
	struct sched *self = c->cancel_self;
	uint64_t id = c->id;
	pthread_mutex_unlock(&g_mu);
	if (at_cancel && self)
		sched_cancel(self, id); /* from the engine thread */
	else if (at_cancel)
		ret = 1;
	return ret;
}

static void on_done(void *user, const struct sched_result *res, enum ajar_err err, const char *msg)
{
	struct collector *c = user;
	if (c->stats_from) {
		struct sched_stats st;
		sched_stats(c->stats_from, &st);
	}
	pthread_mutex_lock(&g_mu);
	c->n_done++;
	c->res = *res;
	c->err = err;
	snprintf(c->msg, sizeof(c->msg), "%s", msg ? msg : "(null)");
	pthread_cond_broadcast(&g_cv);
	pthread_mutex_unlock(&g_mu);
}

static void wait_done(struct collector *c)
{
	pthread_mutex_lock(&g_mu);
	while (c->n_done == 0)
		pthread_cond_wait(&g_cv, &g_mu);
	pthread_mutex_unlock(&g_mu);
}

/* Waits until the request has produced n tokens or ended. */
static void wait_tokens(struct collector *c, size_t n)
{
	pthread_mutex_lock(&g_mu);
	while (c->n_tokens < n && c->n_done == 0)
		pthread_cond_wait(&g_cv, &g_mu);
	pthread_mutex_unlock(&g_mu);
}

static void wait_gate(struct collector *c)
{
	pthread_mutex_lock(&g_mu);
	while (!c->gate_reached && c->n_done == 0)
		pthread_cond_wait(&g_cv, &g_mu);
	pthread_mutex_unlock(&g_mu);
}

static void release_gate(struct collector *c)
{
	pthread_mutex_lock(&g_mu);
	c->released = true;
	pthread_cond_broadcast(&g_cv);
	pthread_mutex_unlock(&g_mu);
}

static struct sampler_params greedy_params(void)
{
	struct sampler_params sp = sampler_params_default();
	sp.temp = 0;
	return sp;
}

static struct sched_request make_request(const int32_t *prompt, size_t n_prompt, int32_t n_predict,
					 struct collector *c)
{
	memset(c, 0, sizeof(*c));
	c->want_logprobs = -1;
	return (struct sched_request){
		.prompt = prompt,
		.n_prompt = n_prompt,
		.sp = greedy_params(),
		.n_predict = n_predict,
		.n_logprobs = -1,
		.on_token = on_token,
		.on_done = on_done,
		.user = c,
	};
}

static struct sched *new_sched(uint32_t n_slots, uint32_t n_batch, uint32_t n_ctx, uint32_t max_queue)
{
	struct sched_params p = {
		.n_slots = n_slots, .n_ctx = n_ctx, .n_batch = n_batch, .n_threads = 2, .max_queue = max_queue,
	};
	struct sched *s = NULL;
	CHECK_OK(sched_new(model, &p, &s));
	return s;
}

/* ---- solo references through generate() ---- */

struct solo {
	int32_t tokens[MAX_TOK]; /* without an EOG token that ended it */
	size_t n_tokens;
	char text[8192];
	size_t n_text;
	enum gen_finish finish;
};

static int solo_text(void *user, const char *text, size_t len)
{
	struct solo *r = user;
	if (r->n_text + len < sizeof(r->text)) {
		memcpy(r->text + r->n_text, text, len);
		r->n_text += len;
		r->text[r->n_text] = '\0';
	}
	return 0;
}

static void run_solo(const int32_t *prompt, size_t n_prompt, const struct sampler_params *sp, int32_t n_predict,
		     const char *const *stop, size_t n_stop, uint32_t n_ctx, struct solo *r)
{
	struct ajar_context_params cp = { .n_ctx = n_ctx, .n_seq = 1, .n_batch = 64, .n_threads = 1 };
	struct ajar_context *ctx = NULL;
	struct sampler *smp = NULL;
	struct gen_params gp = { .n_predict = n_predict, .stop = stop, .n_stop = n_stop };
	struct gen_result res = { 0 };

	memset(r, 0, sizeof(*r));
	CHECK_OK(ajar_context_new(model, &cp, &ctx));
	CHECK_OK(sampler_new(sp, n_vocab, &smp));
	if (!ctx || !smp)
		goto out;
	CHECK_OK(generate(ctx, 0, smp, prompt, n_prompt, &gp, solo_text, r, &res));
	r->finish = res.finish;
	for (size_t i = 0; i < res.n_tokens && i < MAX_TOK; i++)
		if (!(res.finish == GEN_FINISH_EOG && i + 1 == res.n_tokens))
			r->tokens[r->n_tokens++] = res.tokens[i];
	free(res.tokens);
out:
	sampler_free(smp);
	ajar_context_free(ctx);
}

/* The collector saw exactly what generate() produced alone. */
static bool same_as_solo(const struct collector *c, const struct solo *r)
{
	return c->n_done == 1 && c->err == AJAR_OK && c->res.finish == r->finish && c->n_tokens == r->n_tokens &&
	       memcmp(c->tokens, r->tokens, r->n_tokens * sizeof(int32_t)) == 0 && strcmp(c->text, r->text) == 0;
}

/* ---- tests ---- */

/* (1) One greedy request: llama.cpp's tokens and generate()'s text. */
static void test_single_greedy(void)
{
	struct sched *s = new_sched(1, 0, N_CTX, 0);
	struct collector c;
	struct solo r;
	uint64_t id = 0;
	if (!s)
		return;
	struct sched_request req = make_request(cases[0].prompt, cases[0].n_prompt, 48, &c);
	CHECK_OK(sched_submit(s, &req, &id));
	CHECK(id != 0);
	wait_done(&c);
	CHECK_EQ_INT(c.res.finish, GEN_FINISH_LENGTH);
	CHECK_EQ_INT(c.res.n_prompt, cases[0].n_prompt);
	CHECK_EQ_INT(c.res.n_cached, 0);
	CHECK_EQ_INT(c.res.n_completion, 48);
	CHECK_EQ_INT(c.n_tokens, 48);
	CHECK(memcmp(c.tokens, cases[0].greedy, sizeof(cases[0].greedy)) == 0);
	CHECK_STR(c.text, cases[0].text);
	CHECK_EQ_INT(c.n_events, 48);
	run_solo(cases[0].prompt, cases[0].n_prompt, &req.sp, 48, NULL, 0, N_CTX, &r);
	CHECK(same_as_solo(&c, &r));
	CHECK(c.res.queue_ms >= 0 && c.res.prompt_ms >= 0 && c.res.gen_ms >= 0);

	struct sched_stats st;
	sched_stats(s, &st);
	CHECK_EQ_INT(st.n_slots, 1);
	CHECK_EQ_INT(st.slots_busy, 0);
	CHECK_EQ_INT(st.queue_depth, 0);
	CHECK_EQ_INT(st.requests_done, 1);
	CHECK_EQ_INT(st.prompt_tokens, cases[0].n_prompt);
	CHECK_EQ_INT(st.completion_tokens, 48);
	CHECK(st.steps >= 48);
	sched_free(s);
	CHECK_EQ_INT(c.n_done, 1);
}

/* (2) Eight requests of different prompts and lengths on 4 slots with a
 * 16-token batch (so long prompts are prefilled in chunks beside other
 * slots' decoding), submitted one after another has started; the last four
 * wait in the queue. Each must equal its solo run. */
static void test_batched_equals_solo(void)
{
	enum { N = 8 };
	static int32_t prompts[N][128];
	static struct collector c[N];
	static struct solo r[N];
	size_t n_prompt[N];
	int32_t n_predict[N] = { 40, 25, 60, 33, 48, 20, 70, -1 };
	struct sched_request req[N];
	struct sched *s = new_sched(4, 16, N_CTX, 0);
	if (!s)
		return;

	for (int i = 0; i < N; i++) {
		const struct ref_case *rc = &cases[i % N_CASES];
		memcpy(prompts[i], rc->prompt, rc->n_prompt * sizeof(int32_t));
		n_prompt[i] = rc->n_prompt;
		/* Longer prompts: the case's prompt and part of its continuation,
		 * then another case's prompt. */
		size_t extra = (size_t)(i * 7) % 48;
		memcpy(prompts[i] + n_prompt[i], rc->greedy, extra * sizeof(int32_t));
		n_prompt[i] += extra;
		if (i >= 6) {
			const struct ref_case *o = &cases[(i + 1) % N_CASES];
			memcpy(prompts[i] + n_prompt[i], o->prompt + 1, (o->n_prompt - 1) * sizeof(int32_t));
			n_prompt[i] += o->n_prompt - 1;
		}
		req[i] = make_request(prompts[i], n_prompt[i], n_predict[i], &c[i]);
		if (i % 2)
			req[i].sp.repeat_penalty = 1.3f; /* history matters */
	}
	for (int i = 0; i < N; i++) {
		uint64_t id;
		CHECK_OK(sched_submit(s, &req[i], &id));
		if (i < 3)
			wait_tokens(&c[i], 2);
	}
	for (int i = 0; i < N; i++)
		wait_done(&c[i]);
	uint64_t total = 0;
	for (int i = 0; i < N; i++) {
		run_solo(prompts[i], n_prompt[i], &req[i].sp, n_predict[i], NULL, 0, N_CTX, &r[i]);
		CHECK_MSG(same_as_solo(&c[i], &r[i]), "request %d (%zu prompt tokens): %zu tokens \"%s\" vs solo %zu \"%s\"",
			  i, n_prompt[i], c[i].n_tokens, c[i].text, r[i].n_tokens, r[i].text);
		total += c[i].res.n_completion;
	}
	CHECK_EQ_INT(c[7].res.finish, GEN_FINISH_CONTEXT);
	CHECK_EQ_INT(c[7].res.n_prompt + c[7].res.n_completion, N_CTX);
	struct sched_stats st;
	sched_stats(s, &st);
	CHECK_EQ_INT(st.requests_done, N);
	CHECK_EQ_INT(st.slots_busy, 0);
	CHECK_EQ_INT(st.queue_depth, 0);
	CHECK_EQ_INT(st.completion_tokens, total);
	/* Batching happened: fewer steps than tokens decoded one by one. */
	CHECK(st.steps < total);
	sched_free(s);
}

/* (3) A request sharing a long prefix with a finished one reuses its cache
 * (and goes to that slot, not the empty one), with unchanged output. */
static void test_prefix_reuse(void)
{
	static int32_t p[128], q[128];
	struct collector a, b, c2;
	struct solo r;
	uint64_t id;
	struct sched *s = new_sched(2, 0, N_CTX, 0);
	if (!s)
		return;
	size_t n_p = 0, n_q;
	memcpy(p, cases[0].prompt, cases[0].n_prompt * sizeof(int32_t));
	n_p = cases[0].n_prompt;
	memcpy(p + n_p, cases[0].greedy, 40 * sizeof(int32_t));
	n_p += 40;
	memcpy(q, p, n_p * sizeof(int32_t));
	memcpy(q + n_p, cases[1].prompt + 1, (cases[1].n_prompt - 1) * sizeof(int32_t));
	n_q = n_p + cases[1].n_prompt - 1;

	struct sched_request ra = make_request(p, n_p, 10, &a);
	CHECK_OK(sched_submit(s, &ra, &id));
	wait_done(&a);
	CHECK_EQ_INT(a.res.n_cached, 0);

	/* a's slot caches p and all but the last of its 10 tokens */
	size_t lcp = 0;
	while (lcp < n_q - 1 && (lcp < n_p ? p[lcp] : a.tokens[lcp - n_p]) == q[lcp] && lcp < n_p + 9)
		lcp++;
	CHECK(lcp >= n_p);
	struct sched_request rb = make_request(q, n_q, 20, &b);
	CHECK_OK(sched_submit(s, &rb, &id));
	wait_done(&b);
	CHECK_EQ_INT(b.res.n_cached, lcp);
	run_solo(q, n_q, &rb.sp, 20, NULL, 0, N_CTX, &r);
	CHECK(same_as_solo(&b, &r));

	/* The same prompt again: all but the last token reused. */
	struct collector a2;
	struct sched_request ra2 = make_request(p, n_p, 10, &a2);
	CHECK_OK(sched_submit(s, &ra2, &id));
	wait_done(&a2);
	CHECK_EQ_INT(a2.res.n_cached, n_p - 1);
	CHECK(a2.n_tokens == a.n_tokens && memcmp(a2.tokens, a.tokens, a.n_tokens * sizeof(int32_t)) == 0);
	CHECK_STR(a2.text, a.text);

	/* A prompt sharing nothing but BOS goes to the other (empty) slot, so
	 * the long cache survives for a third run of p. */
	struct sched_request rc = make_request(cases[2].prompt, cases[2].n_prompt, 5, &c2);
	CHECK_OK(sched_submit(s, &rc, &id));
	wait_done(&c2);
	CHECK_EQ_INT(c2.res.n_cached, 0);
	run_solo(cases[2].prompt, cases[2].n_prompt, &rc.sp, 5, NULL, 0, N_CTX, &r);
	CHECK(same_as_solo(&c2, &r));
	struct collector a3;
	struct sched_request ra3 = make_request(p, n_p, 10, &a3);
	CHECK_OK(sched_submit(s, &ra3, &id));
	wait_done(&a3);
	CHECK_EQ_INT(a3.res.n_cached, n_p - 1);
	CHECK_STR(a3.text, a.text);

	struct sched_stats st;
	sched_stats(s, &st);
	CHECK_EQ_INT(st.cached_tokens, b.res.n_cached + a2.res.n_cached + a3.res.n_cached);
	CHECK_EQ_INT(st.prompt_tokens, n_p * 3 + n_q + cases[2].n_prompt);
	sched_free(s);
}

/* (4) Cancelling a running request, a queued one, and by the callback. */
static void test_cancel(void)
{
	struct collector a, b, q, d;
	uint64_t id_a, id_b, id_q, id_d;
	struct sched_stats st;
	struct sched *s = new_sched(1, 0, N_CTX, 0);
	if (!s)
		return;

	/* Running: held at its 5th token, cancelled, then let go. */
	struct sched_request ra = make_request(cases[0].prompt, cases[0].n_prompt, -1, &a);
	a.gate_at = 5;
	a.stats_from = s;
	CHECK_OK(sched_submit(s, &ra, &id_a));
	wait_gate(&a);
	sched_stats(s, &st);
	CHECK_EQ_INT(st.slots_busy, 1);
	sched_cancel(s, id_a);
	release_gate(&a);
	wait_done(&a);
	CHECK_EQ_INT(a.res.finish, GEN_FINISH_CANCEL);
	CHECK_EQ_INT(a.err, AJAR_OK);
	CHECK_EQ_INT(a.res.n_completion, 5);
	CHECK_EQ_INT(a.n_tokens, 5);
	sched_stats(s, &st);
	CHECK_EQ_INT(st.slots_busy, 0);
	sched_cancel(s, id_a); /* finished: harmless */

	/* Queued: b holds the only slot, q waits and is cancelled there. */
	struct sched_request rb = make_request(cases[1].prompt, cases[1].n_prompt, 10, &b);
	b.gate_at = 3;
	CHECK_OK(sched_submit(s, &rb, &id_b));
	wait_gate(&b);
	struct sched_request rq = make_request(cases[2].prompt, cases[2].n_prompt, 10, &q);
	CHECK_OK(sched_submit(s, &rq, &id_q));
	sched_stats(s, &st);
	CHECK_EQ_INT(st.queue_depth, 1);
	sched_cancel(s, id_q);
	sched_stats(s, &st);
	CHECK_EQ_INT(st.queue_depth, 0);
	release_gate(&b);
	wait_done(&q);
	wait_done(&b);
	CHECK_EQ_INT(q.res.finish, GEN_FINISH_CANCEL);
	CHECK_EQ_INT(q.res.n_completion, 0);
	CHECK_EQ_INT(q.n_events, 0);
	CHECK_EQ_INT(b.res.finish, GEN_FINISH_LENGTH);
	CHECK_EQ_INT(b.res.n_completion, 10);

	/* By the callback's return value. */
	struct sched_request rd = make_request(cases[3].prompt, cases[3].n_prompt, 30, &d);
	d.cancel_at = 4;
	CHECK_OK(sched_submit(s, &rd, &id_d));
	wait_done(&d);
	CHECK_EQ_INT(d.res.finish, GEN_FINISH_CANCEL);
	CHECK_EQ_INT(d.res.n_completion, 4);
	sched_stats(s, &st);
	CHECK_EQ_INT(st.slots_busy, 0);
	CHECK_EQ_INT(st.requests_done, 4);

	/* By sched_cancel inside on_token: ends at the next step. */
	struct collector e;
	struct sched_request re = make_request(cases[4].prompt, cases[4].n_prompt, 30, &e);
	e.cancel_at = 6;
	e.cancel_self = s;
	pthread_mutex_lock(&g_mu); /* the callback reads e.id under g_mu */
	CHECK_OK(sched_submit(s, &re, &e.id));
	pthread_mutex_unlock(&g_mu);
	wait_done(&e);
	CHECK_EQ_INT(e.res.finish, GEN_FINISH_CANCEL);
	CHECK_EQ_INT(e.res.n_completion, 6);
	sched_free(s);
	CHECK(a.n_done == 1 && b.n_done == 1 && q.n_done == 1 && d.n_done == 1 && e.n_done == 1);
}

/* Client threads submitting, cancelling and waiting at once (for the
 * thread sanitizer as much as for the results). */
struct client {
	struct sched *s;
	int tid;
	int n_limit, n_cancel, n_ok, n_bad;
};

static void *client_main(void *arg)
{
	struct client *cl = arg;
	for (int j = 0; j < 6; j++) {
		struct collector c;
		const struct ref_case *rc = &cases[(cl->tid + j) % N_CASES];
		struct sched_request rq = make_request(rc->prompt, rc->n_prompt, 8 + 4 * j, &c);
		uint64_t id;
		enum ajar_err err = sched_submit(cl->s, &rq, &id);
		if (err == AJAR_ERR_LIMIT) {
			cl->n_limit++;
			continue;
		}
		if (err) {
			cl->n_bad++;
			continue;
		}
		if (j % 3 == 1)
			sched_cancel(cl->s, id);
		wait_done(&c);
		pthread_mutex_lock(&g_mu);
		if (c.n_done != 1 || c.err)
			cl->n_bad++;
		else if (c.res.finish == GEN_FINISH_CANCEL)
			cl->n_cancel++;
		else if (c.res.finish == GEN_FINISH_LENGTH && c.n_tokens == (size_t)(8 + 4 * j) &&
			 memcmp(c.tokens, rc->greedy, c.n_tokens * sizeof(int32_t)) == 0)
			cl->n_ok++;
		else {
			cl->n_bad++;
			fprintf(stderr, "client %d request %d: err %d finish %d, %zu tokens, cached %u: %s\n", cl->tid, j,
				c.err, c.res.finish, c.n_tokens, c.res.n_cached, c.text);
		}
		pthread_mutex_unlock(&g_mu);
	}
	return NULL;
}

static void test_concurrent_clients(void)
{
	enum { N = 5 };
	struct client cl[N];
	pthread_t th[N];
	struct sched *s = new_sched(3, 16, N_CTX, 2);
	if (!s)
		return;
	for (int i = 0; i < N; i++) {
		cl[i] = (struct client){ .s = s, .tid = i };
		CHECK(pthread_create(&th[i], NULL, client_main, &cl[i]) == 0);
	}
	int n_ok = 0, n_limit = 0, n_cancel = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(cl[i].n_bad, 0);
		n_ok += cl[i].n_ok;
		n_limit += cl[i].n_limit;
		n_cancel += cl[i].n_cancel;
	}
	CHECK_MSG(n_ok + n_limit + n_cancel == N * 6, "ok %d limit %d cancel %d", n_ok, n_limit, n_cancel);
	CHECK(n_ok > 0);
	struct sched_stats st;
	sched_stats(s, &st);
	CHECK_EQ_INT(st.requests_done, n_ok + n_cancel);
	CHECK_EQ_INT(st.slots_busy, 0);
	CHECK_EQ_INT(st.queue_depth, 0);
	sched_free(s);
}

/* (5) The queue limit, and requests that can never run. */
static void test_limits_and_invalid(void)
{
	struct collector a, b, c, d, x;
	uint64_t id_a, id_b, id_c, id;
	enum ajar_err err;
	struct sched *s = new_sched(1, 0, 64, 2);
	if (!s)
		return;

	struct sched_request ra = make_request(cases[0].prompt, cases[0].n_prompt, 10, &a);
	a.gate_at = 1;
	CHECK_OK(sched_submit(s, &ra, &id_a));
	wait_gate(&a); /* a runs in the slot; the queue is empty */
	struct sched_request rb = make_request(cases[1].prompt, cases[1].n_prompt, 4, &b);
	struct sched_request rc = make_request(cases[2].prompt, cases[2].n_prompt, 4, &c);
	struct sched_request rd = make_request(cases[3].prompt, cases[3].n_prompt, 4, &d);
	CHECK_OK(sched_submit(s, &rb, &id_b));
	CHECK_OK(sched_submit(s, &rc, &id_c));
	err = sched_submit(s, &rd, &id);
	CHECK_EQ_INT(err, AJAR_ERR_LIMIT);
	CHECK_STR(ajar_err_msg(), "server busy: 2 requests queued");

	/* Invalid requests are refused with a message, full queue or not. */
	int32_t long_prompt[64] = { 1 };
	int32_t bad_tok[3] = { 1, 512, 7 }, neg_tok[2] = { 1, -3 };
	struct sched_request rx = make_request(cases[0].prompt, 0, 4, &x);
	CHECK_EQ_INT(sched_submit(s, &rx, &id), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "empty prompt") != NULL);
	rx = make_request(bad_tok, 3, 4, &x);
	CHECK_EQ_INT(sched_submit(s, &rx, &id), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "512") != NULL && strstr(ajar_err_msg(), "vocabulary") != NULL);
	rx = make_request(neg_tok, 2, 4, &x);
	CHECK_EQ_INT(sched_submit(s, &rx, &id), AJAR_ERR_INVALID);
	rx = make_request(long_prompt, 64, 4, &x);
	CHECK_EQ_INT(sched_submit(s, &rx, &id), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "context of 64") != NULL);
	rx = make_request(cases[0].prompt, cases[0].n_prompt, 4, &x);
	rx.sp.temp = NAN;
	CHECK_EQ_INT(sched_submit(s, &rx, &id), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "temp") != NULL);
	rx.sp = greedy_params();
	rx.sp.top_p = 0;
	CHECK_EQ_INT(sched_submit(s, &rx, &id), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "top_p") != NULL);
	rx.sp = greedy_params();
	rx.n_logprobs = SCHED_MAX_TOP_LOGPROBS + 1;
	CHECK_EQ_INT(sched_submit(s, &rx, &id), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "logprobs") != NULL);
	rx.n_logprobs = -1;
	static char big_stop[5000];
	memset(big_stop, 'x', sizeof(big_stop) - 1);
	const char *stops[1] = { big_stop };
	rx.stop = stops;
	rx.n_stop = 1;
	CHECK_EQ_INT(sched_submit(s, &rx, &id), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "stop string") != NULL);
	CHECK_EQ_INT(x.n_done, 0);

	/* A cancelled queued request frees its place at once. */
	sched_cancel(s, id_c);
	CHECK_OK(sched_submit(s, &rd, &id));
	release_gate(&a);
	wait_done(&a);
	wait_done(&b);
	wait_done(&c);
	wait_done(&d);
	CHECK_EQ_INT(a.res.finish, GEN_FINISH_LENGTH);
	CHECK_EQ_INT(b.res.finish, GEN_FINISH_LENGTH);
	CHECK_EQ_INT(c.res.finish, GEN_FINISH_CANCEL);
	CHECK_EQ_INT(d.res.finish, GEN_FINISH_LENGTH);
	sched_free(s);
}

/* A processor that forces the end-of-generation token once `after` tokens
 * were generated. */
struct force_eos {
	int32_t eos;
	size_t n_prompt, after;
};

static void force_eos_apply(void *state, float *logits, int32_t n, const int32_t *history, size_t n_history)
{
	struct force_eos *f = state;
	if (n_history >= f->n_prompt + f->after && f->eos < n)
		logits[f->eos] = 1e30f;
}

/* (6) Ends: a stop string (also across tokens, and matching generate()),
 * length, a full context, the end-of-generation token with held text. */
static void test_finish_reasons(void)
{
	struct collector c;
	struct solo r;
	uint64_t id;
	struct sched *s = new_sched(2, 0, N_CTX, 0);
	struct sched *small = new_sched(1, 0, 32, 0);
	if (!s || !small)
		goto out;

	/* greedy text: ", there was a little girl named Lily. She loved ..." */
	const char *stop1[2] = { "Lily", "zebra" };
	struct sched_request rq = make_request(cases[0].prompt, cases[0].n_prompt, 48, &c);
	rq.stop = stop1;
	rq.n_stop = 2;
	CHECK_OK(sched_submit(s, &rq, &id));
	wait_done(&c);
	CHECK_EQ_INT(c.res.finish, GEN_FINISH_STOP);
	CHECK_STR(c.text, ", there was a little girl named ");
	run_solo(cases[0].prompt, cases[0].n_prompt, &rq.sp, 48, stop1, 2, N_CTX, &r);
	CHECK(same_as_solo(&c, &r));

	const char *stop2[1] = { "girl na" };
	rq = make_request(cases[0].prompt, cases[0].n_prompt, 48, &c);
	rq.stop = stop2;
	rq.n_stop = 1;
	CHECK_OK(sched_submit(s, &rq, &id));
	wait_done(&c);
	CHECK_EQ_INT(c.res.finish, GEN_FINISH_STOP);
	CHECK_STR(c.text, ", there was a little ");

	/* A stop string that never comes: held prefixes are released. */
	const char *stop3[1] = { "Lily and the dragon" };
	rq = make_request(cases[0].prompt, cases[0].n_prompt, 48, &c);
	rq.stop = stop3;
	rq.n_stop = 1;
	CHECK_OK(sched_submit(s, &rq, &id));
	wait_done(&c);
	CHECK_EQ_INT(c.res.finish, GEN_FINISH_LENGTH);
	CHECK_STR(c.text, cases[0].text);

	rq = make_request(cases[1].prompt, cases[1].n_prompt, 10, &c);
	CHECK_OK(sched_submit(s, &rq, &id));
	wait_done(&c);
	CHECK_EQ_INT(c.res.finish, GEN_FINISH_LENGTH);
	CHECK_EQ_INT(c.res.n_completion, 10);
	CHECK(memcmp(c.tokens, cases[1].greedy, 10 * sizeof(int32_t)) == 0);

	rq = make_request(cases[1].prompt, cases[1].n_prompt, 0, &c);
	CHECK_OK(sched_submit(s, &rq, &id));
	wait_done(&c);
	CHECK_EQ_INT(c.res.finish, GEN_FINISH_LENGTH);
	CHECK_EQ_INT(c.res.n_completion, 0);
	CHECK_EQ_INT(c.n_events, 0);

	/* Context of 32: the prompt plus what was generated fills it. */
	rq = make_request(cases[0].prompt, cases[0].n_prompt, -1, &c);
	CHECK_OK(sched_submit(small, &rq, &id));
	wait_done(&c);
	CHECK_EQ_INT(c.res.finish, GEN_FINISH_CONTEXT);
	CHECK_EQ_INT(c.res.n_completion, 32 - cases[0].n_prompt);
	run_solo(cases[0].prompt, cases[0].n_prompt, &rq.sp, -1, NULL, 0, 32, &r);
	CHECK(same_as_solo(&c, &r));

	/* EOG after ", there was a little": "little" is held as a possible
	 * start of the stop string and comes out in a last token -1 event. */
	struct force_eos fe = { .eos = vocab_eos(ajar_model_vocab(model)), .n_prompt = cases[0].n_prompt, .after = 5 };
	struct logits_proc proc = { .state = &fe, .apply = force_eos_apply };
	const char *stop4[1] = { "little boy" };
	rq = make_request(cases[0].prompt, cases[0].n_prompt, 48, &c);
	rq.procs = &proc;
	rq.n_procs = 1;
	rq.stop = stop4;
	rq.n_stop = 1;
	CHECK_OK(sched_submit(s, &rq, &id));
	wait_done(&c);
	CHECK_EQ_INT(c.res.finish, GEN_FINISH_EOG);
	CHECK_EQ_INT(c.res.n_completion, 6); /* the EOG token counts */
	CHECK_EQ_INT(c.n_tokens, 5);
	CHECK_EQ_INT(c.n_end_events, 1);
	CHECK_STR(c.text, ", there was a little");

	/* ignore_eog: the EOG token is an ordinary token. */
	rq = make_request(cases[0].prompt, cases[0].n_prompt, 8, &c);
	rq.procs = &proc;
	rq.n_procs = 1;
	rq.ignore_eog = true;
	CHECK_OK(sched_submit(s, &rq, &id));
	wait_done(&c);
	CHECK_EQ_INT(c.res.finish, GEN_FINISH_LENGTH);
	CHECK_EQ_INT(c.n_tokens, 8);
	CHECK_EQ_INT(c.tokens[5], fe.eos);
	CHECK_EQ_INT(c.n_end_events, 0);
out:
	sched_free(s);
	sched_free(small);
}

/* (7) Logprobs: the chosen token's equals a log-softmax computed here from
 * ajar_decode's logits; the top list is sorted and starts with the greedy
 * choice. Asked with other requests in the same batch. */
static void test_logprobs(void)
{
	enum { NP = 8, K = 5 };
	struct collector c, c0, other;
	uint64_t id;
	struct sched *s = new_sched(3, 0, N_CTX, 0);
	struct ajar_context_params cp = { .n_ctx = N_CTX, .n_seq = 1, .n_threads = 1 };
	struct ajar_context *ctx = NULL;
	float *logits = malloc((size_t)n_vocab * sizeof(float));
	CHECK_OK(ajar_context_new(model, &cp, &ctx));
	if (!s || !ctx || !logits)
		goto out;

	struct sched_request ro = make_request(cases[2].prompt, cases[2].n_prompt, 30, &other);
	struct sched_request rq = make_request(cases[0].prompt, cases[0].n_prompt, NP, &c);
	rq.n_logprobs = c.want_logprobs = K;
	struct sched_request r0 = make_request(cases[0].prompt, cases[0].n_prompt, NP, &c0);
	r0.n_logprobs = c0.want_logprobs = 0;
	CHECK_OK(sched_submit(s, &ro, &id));
	CHECK_OK(sched_submit(s, &rq, &id));
	CHECK_OK(sched_submit(s, &r0, &id));
	wait_done(&c);
	wait_done(&c0);
	wait_done(&other);
	CHECK(!c.bad_top && !c0.bad_top && !other.bad_top);
	CHECK_EQ_INT(c.n_tokens, NP);

	CHECK_OK(ajar_decode_seq(ctx, 0, cases[0].prompt, cases[0].n_prompt, logits));
	for (int i = 0; i < NP && i < (int)c.n_tokens; i++) {
		double mx = -INFINITY, sum = 0;
		for (int32_t v = 0; v < n_vocab; v++)
			mx = logits[v] > mx ? logits[v] : mx;
		for (int32_t v = 0; v < n_vocab; v++)
			sum += exp((double)logits[v] - mx);
		double lse = mx + log(sum);
		int32_t tok = c.tokens[i];
		CHECK_EQ_INT(tok, cases[0].greedy[i]);
		CHECK_NEAR(c.logprob[i], (double)logits[tok] - lse, 1e-5);
		CHECK_NEAR(c0.logprob[i], c.logprob[i], 0);
		CHECK_EQ_INT(c.n_top[i], K);
		CHECK_EQ_INT(c0.n_top[i], 0);
		CHECK_EQ_INT(c.top_tok[i][0], tok);
		CHECK_NEAR(c.top_lp[i][0], c.logprob[i], 0);
		for (int k = 0; k < K; k++) {
			int32_t t = c.top_tok[i][k];
			CHECK(t >= 0 && t < n_vocab);
			if (t >= 0 && t < n_vocab)
				CHECK_NEAR(c.top_lp[i][k], (double)logits[t] - lse, 1e-5);
			if (k > 0)
				CHECK(c.top_lp[i][k] <= c.top_lp[i][k - 1]);
		}
		/* Nothing outside the top list beats its last entry. */
		int beaten = 0;
		for (int32_t v = 0; v < n_vocab; v++) {
			bool in = false;
			for (int k = 0; k < K; k++)
				in |= c.top_tok[i][k] == v;
			if (!in && (double)logits[v] - lse > c.top_lp[i][K - 1])
				beaten++;
		}
		CHECK_EQ_INT(beaten, 0);
		CHECK_OK(ajar_decode_seq(ctx, 0, &tok, 1, logits));
	}
out:
	free(logits);
	ajar_context_free(ctx);
	sched_free(s);
}

/* (8) Sampling with temperature: the same seed gives the same text alone,
 * beside copies of itself, and beside other requests. */
static void test_seed(void)
{
	enum { N = 4 };
	struct collector c[N];
	struct solo r;
	uint64_t id;
	struct sched *s = new_sched(N, 0, N_CTX, 0);
	if (!s)
		return;
	struct sampler_params sp = sampler_params_default();
	sp.temp = 0.9f;
	sp.seed = 1234;
	run_solo(cases[4].prompt, cases[4].n_prompt, &sp, 48, NULL, 0, N_CTX, &r);
	struct sched_request rq[N];
	for (int i = 0; i < N; i++) {
		int k = i == 2 ? 5 : 4;
		rq[i] = make_request(cases[k].prompt, cases[k].n_prompt, 48, &c[i]);
		rq[i].sp = sp;
		if (i == 2)
			rq[i].sp.seed = 99;
	}
	for (int i = 0; i < N; i++)
		CHECK_OK(sched_submit(s, &rq[i], &id));
	for (int i = 0; i < N; i++)
		wait_done(&c[i]);
	CHECK(same_as_solo(&c[0], &r));
	CHECK(same_as_solo(&c[1], &r));
	CHECK(same_as_solo(&c[3], &r));
	/* and alone */
	struct collector one;
	struct sched_request r1 = make_request(cases[4].prompt, cases[4].n_prompt, 48, &one);
	r1.sp = sp;
	CHECK_OK(sched_submit(s, &r1, &id));
	wait_done(&one);
	CHECK(same_as_solo(&one, &r));
	sched_free(s);
}

/* A processor that bans two tokens and checks what it is given. */
struct ban {
	int32_t banned[2];
	const int32_t *prompt;
	size_t n_prompt;
	size_t n_apply, n_accept;
	bool bad_history;
	int32_t accepted[MAX_TOK];
};

static void ban_apply(void *state, float *logits, int32_t n, const int32_t *history, size_t n_history)
{
	struct ban *b = state;
	if (n_history != b->n_prompt + b->n_apply || memcmp(history, b->prompt, b->n_prompt * sizeof(int32_t)) != 0 ||
	    memcmp(history + b->n_prompt, b->accepted, b->n_accept * sizeof(int32_t)) != 0)
		b->bad_history = true;
	for (int i = 0; i < 2; i++)
		logits[b->banned[i]] = -INFINITY;
	b->n_apply++;
}

static void ban_accept(void *state, int32_t token)
{
	struct ban *b = state;
	if (b->n_accept < MAX_TOK)
		b->accepted[b->n_accept++] = token;
}

/* (9) A banning logits processor is honoured, and touches only its own
 * request. */
static void test_logits_proc(void)
{
	struct collector c, other;
	struct solo r;
	uint64_t id;
	struct sched *s = new_sched(2, 0, N_CTX, 0);
	if (!s)
		return;
	/* ',' is the greedy first token and ' a' comes often. */
	struct ban b = { .banned = { cases[0].greedy[0], cases[0].greedy[3] },
			 .prompt = cases[0].prompt, .n_prompt = cases[0].n_prompt };
	struct logits_proc proc = { .state = &b, .apply = ban_apply, .accept = ban_accept };
	struct sched_request rq = make_request(cases[0].prompt, cases[0].n_prompt, 40, &c);
	rq.procs = &proc;
	rq.n_procs = 1;
	struct sched_request ro = make_request(cases[0].prompt, cases[0].n_prompt, 40, &other);
	CHECK_OK(sched_submit(s, &rq, &id));
	CHECK_OK(sched_submit(s, &ro, &id));
	wait_done(&c);
	wait_done(&other);
	CHECK_EQ_INT(c.n_tokens, 40);
	for (size_t i = 0; i < c.n_tokens; i++)
		CHECK(c.tokens[i] != b.banned[0] && c.tokens[i] != b.banned[1]);
	CHECK_EQ_INT(b.n_apply, 40);
	CHECK_EQ_INT(b.n_accept, 40);
	CHECK(memcmp(b.accepted, c.tokens, 40 * sizeof(int32_t)) == 0);
	CHECK(!b.bad_history);
	run_solo(cases[0].prompt, cases[0].n_prompt, &ro.sp, 40, NULL, 0, N_CTX, &r);
	CHECK(same_as_solo(&other, &r));
	sched_free(s);
}

struct freer {
	struct sched *s;
	bool started;
};

static void *free_thread(void *arg)
{
	struct freer *f = arg;
	pthread_mutex_lock(&g_mu);
	f->started = true;
	pthread_cond_broadcast(&g_cv);
	pthread_mutex_unlock(&g_mu);
	sched_free(f->s);
	return NULL;
}

/* (10) sched_free while requests run and wait: each on_done exactly once.
 * The first request holds the engine at its third token while sched_free
 * starts in another thread, so the others are still running or queued. */
static void test_free_in_flight(void)
{
	enum { N = 6 };
	struct collector c[N];
	uint64_t id;
	pthread_t th;
	struct freer f = { .s = new_sched(2, 8, N_CTX, 0) };
	if (!f.s)
		return;
	struct sched_request rq[N];
	for (int i = 0; i < N; i++)
		rq[i] = make_request(cases[i].prompt, cases[i].n_prompt, -1, &c[i]);
	c[0].gate_at = 3;
	for (int i = 0; i < N; i++)
		CHECK_OK(sched_submit(f.s, &rq[i], &id));
	wait_gate(&c[0]);
	CHECK(pthread_create(&th, NULL, free_thread, &f) == 0);
	pthread_mutex_lock(&g_mu);
	while (!f.started)
		pthread_cond_wait(&g_cv, &g_mu);
	pthread_mutex_unlock(&g_mu);
	release_gate(&c[0]);
	pthread_join(th, NULL);
	int n_cancelled = 0;
	for (int i = 0; i < N; i++) {
		CHECK_EQ_INT(c[i].n_done, 1);
		CHECK(c[i].err == AJAR_OK);
		/* Each ran to the end of its context or was cancelled; one that
		 * never started has no event. */
		CHECK(c[i].res.finish == GEN_FINISH_CANCEL || c[i].res.finish == GEN_FINISH_CONTEXT);
		CHECK(c[i].n_events > 0 || c[i].res.finish == GEN_FINISH_CANCEL);
		n_cancelled += c[i].res.finish == GEN_FINISH_CANCEL;
	}
	CHECK(n_cancelled > 0);

	/* A scheduler freed while idle, and a bad configuration. */
	struct sched *s = new_sched(3, 0, N_CTX, 0);
	sched_free(s);
	struct sched_params p = { 0 };
	CHECK_EQ_INT(sched_new(model, &p, &s), AJAR_ERR_INVALID);
}

static bool load_cases(void)
{
	json_error_t e;
	json_t *root = json_load_file(fixture_path("reference/stories260K.json"), 0, &e);
	if (!root) {
		fprintf(stderr, "reference JSON: %s (line %d)\n", e.text, e.line);
		return false;
	}
	json_t *arr = json_object_get(root, "cases");
	bool ok = json_array_size(arr) == N_CASES;
	for (size_t i = 0; ok && i < N_CASES; i++) {
		json_t *cs = json_array_get(arr, i), *pt = json_object_get(cs, "prompt_tokens"),
		       *gt = json_object_get(cs, "greedy_tokens");
		ok = json_array_size(pt) < 64 && json_array_size(gt) == 48;
		for (size_t k = 0; ok && k < json_array_size(pt); k++)
			cases[i].prompt[k] = (int32_t)json_integer_value(json_array_get(pt, k));
		cases[i].n_prompt = json_array_size(pt);
		for (size_t k = 0; ok && k < 48; k++)
			cases[i].greedy[k] = (int32_t)json_integer_value(json_array_get(gt, k));
		snprintf(cases[i].text, sizeof(cases[i].text), "%s",
			 json_string_value(json_object_get(cs, "greedy_text")));
	}
	json_decref(root);
	return ok;
}

int main(void)
{
	CHECK_OK(ajar_model_load(fixture_path("models/stories260K.gguf"), &model));
	CHECK(load_cases());
	if (!model || check_failures)
		return check_summary() | 1;
	n_vocab = (int32_t)ajar_model_hparams(model)->n_vocab;

	RUN(test_single_greedy);
	RUN(test_batched_equals_solo);
	RUN(test_prefix_reuse);
	RUN(test_cancel);
	RUN(test_limits_and_invalid);
	RUN(test_finish_reasons);
	RUN(test_logprobs);
	RUN(test_seed);
	RUN(test_logits_proc);
	RUN(test_free_in_flight);
	RUN(test_concurrent_clients);
	ajar_model_free(model);
	return check_summary();
}
