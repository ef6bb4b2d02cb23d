/*
 * scheduler.c - continuous batching (include/ajar/scheduler.h): the public
 * calls, the bounded request queue and the engine thread's loop.
 *
 * The engine thread repeats one step:
 *   1. under mu: publish the counters, sleep while there is nothing to do,
 *      take the cancel requests, admit queued requests into free slots;
 *   2. without mu: call on_done for cancelled queued requests, end the
 *      cancelled running ones, prepare the admitted ones;
 *   3. build one batch from every active slot, ajar_decode() it; the slots
 *      that got logits sample in parallel (a small pool), then each in turn
 *      detokenizes and reports its token (scheduler_slot.c).
 * Every callback runs on the engine thread, never with mu held, so a
 * callback may call sched_submit, sched_cancel or sched_stats.
 */
#include "server/scheduler_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double sched_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- ending requests ---- */

/* The engine counts tokens and steps privately and publishes them whenever
 * it holds mu anyway: at each step's start and when a request ends. (mu) */
static void counters_publish_locked(struct sched *s)
{
	s->totals.completion_tokens += s->pending_completion;
	s->totals.steps += s->pending_steps;
	s->pending_completion = s->pending_steps = 0;
}

static void job_done(struct sched_job *job, const struct sched_result *res, enum ajar_err err, const char *msg)
{
	job->req.on_done(job->req.user, res, err, err ? msg : "");
	free(job);
}

/* A request cancelled before it reached a slot. */
static void job_cancel_queued(struct sched *s, struct sched_job *job)
{
	struct sched_result res = { .finish = GEN_FINISH_CANCEL, .n_prompt = (uint32_t)job->req.n_prompt };
	res.queue_ms = sched_now_ms() - job->t_submit;
	pthread_mutex_lock(&s->mu);
	s->totals.requests_done++;
	pthread_mutex_unlock(&s->mu);
	job_done(job, &res, AJAR_OK, "");
}

void sched_slot_finish(struct sched *s, struct sched_slot *sl, enum gen_finish finish, enum ajar_err err,
		       const char *msg)
{
	struct sched_job *job = sl->job;
	double now = sched_now_ms();
	struct sched_result res = {
		.finish = finish,
		.n_prompt = sl->n_prompt,
		.n_cached = sl->n_cached,
		.n_completion = sl->n_gen,
		.queue_ms = sl->t_start - job->t_submit,
		.prompt_ms = (sl->t_prompt > 0 ? sl->t_prompt : now) - sl->t_start,
		.gen_ms = sl->t_prompt > 0 ? now - sl->t_prompt : 0,
	};

	sampler_free(sl->smp);
	sl->smp = NULL;
	stop_matcher_free(&sl->sm);
	sl->chunk = 0;
	sl->cancel_seen = false;
	sl->fresh = false;
	if (err) {
		/* The cache may not hold what tokens says: forget both. */
		ajar_seq_truncate(s->ctx, sl->seq, 0);
		sl->n_past = sl->n_tokens = 0;
	}
	s->n_active--;
	/* Free the slot before on_done, so that whoever on_done wakes sees it
	 * free in sched_stats. */
	pthread_mutex_lock(&s->mu);
	sl->job = NULL;
	s->slots_busy--;
	s->totals.requests_done++;
	counters_publish_locked(s);
	pthread_mutex_unlock(&s->mu);
	job_done(job, &res, err, msg);
}

/* ---- the engine thread ---- */

static void sample_worker(void *arg, int ith, int nth)
{
	struct sched *s = arg;
	long b, e;
	threadpool_split(s->n_ready, ith, nth, &b, &e);
	for (long k = b; k < e; k++) {
		struct sched_slot *sl = &s->slots[s->ready[k]];
		sched_slot_sample(s, sl, s->logits + (size_t)sl->row * (size_t)s->n_vocab);
	}
}

/* Runs one batch over the active slots. */
static void engine_decode(struct sched *s)
{
	uint32_t n = sched_build_batch(s);
	if (n == 0)
		return;
	struct ajar_batch b = { .n = n, .tokens = s->b_tokens, .pos = s->b_pos, .seq = s->b_seq, .want_logits = s->b_want };
	enum ajar_err err = ajar_decode(s->ctx, &b, s->logits);
	s->pending_steps++;
	if (err) {
		/* Only a bug can make a batch invalid; fail its requests rather
		 * than the server. */
		char msg[256];
		snprintf(msg, sizeof(msg), "decoding failed: %s", ajar_err_msg());
		for (uint32_t i = 0; i < s->n_slots; i++)
			if (s->slots[i].job && s->slots[i].chunk)
				sched_slot_finish(s, &s->slots[i], GEN_FINISH_CANCEL, err, msg);
		return;
	}
	/* ajar_decode wrote the wanted rows in batch order; sl->row says which
	 * is whose. A slot that only prefilled has none. */
	double now = sched_now_ms();
	s->n_ready = 0;
	for (uint32_t i = 0; i < s->n_slots; i++) {
		struct sched_slot *sl = &s->slots[i];
		if (!sl->job || !sl->chunk)
			continue;
		sl->n_past += sl->chunk;
		if (sl->row < 0)
			continue;
		if (sl->t_prompt == 0)
			sl->t_prompt = now;
		if (sl->job->req.n_predict == 0)
			sched_slot_finish(s, sl, GEN_FINISH_LENGTH, AJAR_OK, "");
		else
			s->ready[s->n_ready++] = i;
	}
	/* Sampling costs O(n_vocab) per slot: the slots go in parallel, then
	 * report in slot order on this thread. */
	if (s->n_ready > 1)
		threadpool_run(s->pool, sample_worker, s);
	else if (s->n_ready == 1)
		sample_worker(s, 0, 1);
	for (uint32_t k = 0; k < s->n_ready; k++)
		sched_slot_emit(s, &s->slots[s->ready[k]]);
}

/* Moves queued requests into free slots. (mu) */
static void admit_locked(struct sched *s)
{
	while (s->queue_head) {
		struct sched_job *job = s->queue_head;
		uint32_t n_reuse;
		int k = sched_pick_slot(s, &job->req, &n_reuse);
		if (k < 0)
			return;
		s->queue_head = job->next;
		if (!s->queue_head)
			s->queue_tail = NULL;
		s->queue_len--;
		job->next = NULL;
		s->slots[k].job = job;
		s->slots[k].fresh = true;
		s->slots[k].n_cached = n_reuse;
		s->slots_busy++;
		s->n_active++;
		s->totals.prompt_tokens += job->req.n_prompt;
		s->totals.cached_tokens += n_reuse;
	}
}

/* Step 1 of the loop, under mu. Returns false when stopping, with every
 * queued and cancelled job moved to *dead. */
static bool engine_collect_locked(struct sched *s, struct sched_job **dead)
{
	counters_publish_locked(s);
	while (!s->stopping && !s->queue_head && !s->cancelled && s->n_active == 0)
		pthread_cond_wait(&s->wake, &s->mu);
	*dead = s->cancelled;
	s->cancelled = NULL;
	if (s->stopping) {
		/* Append the queue to the dead list. */
		struct sched_job **tail = dead;
		while (*tail)
			tail = &(*tail)->next;
		*tail = s->queue_head;
		s->queue_head = s->queue_tail = NULL;
		s->queue_len = 0;
		return false;
	}
	for (uint32_t i = 0; i < s->n_slots; i++)
		if (s->slots[i].job && s->slots[i].job->cancel)
			s->slots[i].cancel_seen = true;
	admit_locked(s);
	return true;
}

static void cancel_dead(struct sched *s, struct sched_job *dead)
{
	while (dead) {
		struct sched_job *next = dead->next;
		job_cancel_queued(s, dead);
		dead = next;
	}
}

static void *engine_main(void *arg)
{
	struct sched *s = arg;
	struct sched_job *dead;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		bool go_on = engine_collect_locked(s, &dead);
		pthread_mutex_unlock(&s->mu);
		cancel_dead(s, dead);
		if (!go_on)
			break;
		for (uint32_t i = 0; i < s->n_slots; i++) {
			struct sched_slot *sl = &s->slots[i];
			if (sl->job && sl->cancel_seen)
				sched_slot_finish(s, sl, GEN_FINISH_CANCEL, AJAR_OK, "");
			else if (sl->job && sl->fresh)
				sched_slot_start(s, sl);
		}
		engine_decode(s);
	}
	/* Stopping: end what still runs. */
	for (uint32_t i = 0; i < s->n_slots; i++) {
		struct sched_slot *sl = &s->slots[i];
		if (sl->job)
			sched_slot_finish(s, sl, GEN_FINISH_CANCEL, AJAR_OK, "");
	}
	return NULL;
}

/* ---- public calls ---- */

static void sched_destroy(struct sched *s)
{
	if (s->slots) {
		for (uint32_t i = 0; i < s->n_slots; i++) {
			free(s->slots[i].tokens);
			free(s->slots[i].raw);
		}
		free(s->slots);
	}
	threadpool_free(s->pool);
	ajar_context_free(s->ctx);
	free(s->b_tokens);
	free(s->b_pos);
	free(s->b_seq);
	free(s->b_want);
	free(s->logits);
	free(s->ready);
	free(s->piece);
	free(s->text);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static enum ajar_err sched_alloc(struct sched *s)
{
	size_t nb = s->n_batch, ns = s->n_slots, nv = (size_t)s->n_vocab;
	s->slots = calloc(ns, sizeof(*s->slots));
	s->b_tokens = malloc(nb * sizeof(*s->b_tokens));
	s->b_pos = malloc(nb * sizeof(*s->b_pos));
	s->b_seq = malloc(nb * sizeof(*s->b_seq));
	s->b_want = malloc(nb * sizeof(*s->b_want));
	s->logits = malloc(ns * nv * sizeof(*s->logits));
	s->ready = malloc(ns * sizeof(*s->ready));
	s->cap_piece = detok_stream_max_out(s->vocab);
	s->piece = malloc(s->cap_piece);
	s->cap_text = 2 * s->cap_piece + 256;
	s->text = malloc(s->cap_text);
	if (!s->slots || !s->b_tokens || !s->b_pos || !s->b_seq || !s->b_want || !s->logits ||
	    !s->ready || !s->piece || !s->text)
		return ajar_errf(AJAR_ERR_NOMEM, "scheduler buffers for %u slots of %u tokens", s->n_slots, s->n_ctx);
	for (uint32_t i = 0; i < s->n_slots; i++) {
		s->slots[i].seq = (int32_t)i;
		s->slots[i].tokens = malloc((size_t)s->n_ctx * sizeof(int32_t));
		if (!s->slots[i].tokens)
			return ajar_errf(AJAR_ERR_NOMEM, "token list of slot %u", i);
	}
	return AJAR_OK;
}

enum ajar_err sched_new(const struct ajar_model *m, const struct sched_params *p, struct sched **out)
{
	enum ajar_err err;
	struct sched *s;

	*out = NULL;
	if (p->n_slots == 0)
		return ajar_errf(AJAR_ERR_INVALID, "the scheduler needs at least one slot");
	s = calloc(1, sizeof(*s));
	if (!s)
		return ajar_errf(AJAR_ERR_NOMEM, "scheduler");
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->wake, NULL);
	s->m = m;
	s->vocab = ajar_model_vocab(m);
	s->n_vocab = (int32_t)ajar_model_hparams(m)->n_vocab;
	s->n_slots = p->n_slots;
	/* Every decoding slot must fit one batch: at least one token per slot. */
	s->n_batch = p->n_batch ? p->n_batch : 512;
	if (s->n_batch < s->n_slots)
		s->n_batch = s->n_slots;
	s->max_queue = p->max_queue ? p->max_queue : 64;
	s->next_id = 1;
	struct ajar_context_params cp = {
		.n_ctx = p->n_ctx,
		.n_seq = p->n_slots,
		.n_batch = s->n_batch,
		.n_threads = p->n_threads,
		.cache_type = p->cache_type,
	};
	if ((err = ajar_context_new(m, &cp, &s->ctx)))
		goto fail;
	s->n_ctx = ajar_context_n_ctx(s->ctx);
	/* Sampling threads: no more than slots; they run only between forward
	 * passes, while the context's own threads wait. */
	int n_threads = p->n_threads > 0 ? p->n_threads : threadpool_ncpu();
	if ((uint32_t)n_threads > s->n_slots)
		n_threads = (int)s->n_slots;
	if ((err = threadpool_new(n_threads, &s->pool)) || (err = sched_alloc(s)))
		goto fail;
	int rc = pthread_create(&s->thread, NULL, engine_main, s);
	if (rc) {
		err = ajar_errf(AJAR_ERR_NOMEM, "cannot start the engine thread: %s", strerror(rc));
		goto fail;
	}
	s->thread_started = true;
	*out = s;
	return AJAR_OK;
fail:
	sched_destroy(s);
	return err;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	sched_destroy(s);
}

/* Everything about a request that can be judged before it runs. */
static enum ajar_err request_check(const struct sched *s, const struct sched_request *req)
{
	if (!req->on_done)
		return ajar_errf(AJAR_ERR_INVALID, "request without an on_done callback");
	if (req->n_prompt == 0 || !req->prompt)
		return ajar_errf(AJAR_ERR_INVALID, "empty prompt: at least one token is needed");
	if (req->n_prompt >= s->n_ctx)
		return ajar_errf(AJAR_ERR_INVALID, "prompt of %zu tokens does not fit the context of %u (it must leave room for one generated token)",
				 req->n_prompt, s->n_ctx);
	for (size_t i = 0; i < req->n_prompt; i++)
		if (req->prompt[i] < 0 || req->prompt[i] >= s->n_vocab)
			return ajar_errf(AJAR_ERR_INVALID, "prompt token %zu is %d, outside the vocabulary 0..%d", i,
					 req->prompt[i], s->n_vocab - 1);
	if (req->n_logprobs > SCHED_MAX_TOP_LOGPROBS)
		return ajar_errf(AJAR_ERR_INVALID, "top logprobs %d: at most %d are allowed", req->n_logprobs,
				 SCHED_MAX_TOP_LOGPROBS);
	if (req->n_stop > SCHED_MAX_STOP)
		return ajar_errf(AJAR_ERR_INVALID, "%zu stop strings: at most %d are allowed", req->n_stop, SCHED_MAX_STOP);
	for (size_t i = 0; i < req->n_stop; i++) {
		if (!req->stop[i])
			return ajar_errf(AJAR_ERR_INVALID, "stop string %zu is missing", i);
		if (strlen(req->stop[i]) > SCHED_STOP_MAX_LEN)
			return ajar_errf(AJAR_ERR_INVALID, "stop string %zu is longer than %d bytes", i,
					 SCHED_STOP_MAX_LEN);
	}
	for (size_t i = 0; i < req->n_procs; i++)
		if (!req->procs[i].apply)
			return ajar_errf(AJAR_ERR_INVALID, "logits processor %zu has no apply function", i);
	/* The sampler itself is made when the request reaches a slot (it holds
	 * n_vocab-sized buffers that queued requests should not); here it only
	 * judges the parameters, with sampler_new's message. */
	struct sampler *smp;
	enum ajar_err err = sampler_new(&req->sp, s->n_vocab, &smp);
	if (err)
		return err;
	sampler_free(smp);
	return AJAR_OK;
}

enum ajar_err sched_submit(struct sched *s, struct sched_request *req, uint64_t *id)
{
	enum ajar_err err = request_check(s, req);
	if (err)
		return err;
	struct sched_job *job = calloc(1, sizeof(*job));
	if (!job)
		return ajar_errf(AJAR_ERR_NOMEM, "request");
	job->req = *req;
	job->t_submit = sched_now_ms();

	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		free(job);
		return ajar_errf(AJAR_ERR_LIMIT, "server is shutting down");
	}
	if (s->queue_len >= s->max_queue) {
		uint32_t n = s->queue_len;
		pthread_mutex_unlock(&s->mu);
		free(job);
		return ajar_errf(AJAR_ERR_LIMIT, "server busy: %u requests queued", n);
	}
	job->id = s->next_id++;
	if (s->queue_tail)
		s->queue_tail->next = job;
	else
		s->queue_head = job;
	s->queue_tail = job;
	s->queue_len++;
	if (id)
		*id = job->id;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
	return AJAR_OK;
}

void sched_cancel(struct sched *s, uint64_t id)
{
	pthread_mutex_lock(&s->mu);
	/* Queued: off the queue now (its place is free at once); the engine
	 * calls on_done. */
	for (struct sched_job **pp = &s->queue_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
		struct sched_job *job = *pp;
		if (job->id != id)
			continue;
		*pp = job->next;
		if (s->queue_tail == job)
			s->queue_tail = prev;
		s->queue_len--;
		job->next = s->cancelled;
		s->cancelled = job;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->mu);
		return;
	}
	/* Running: the engine ends it at the start of its next step. */
	for (uint32_t i = 0; i < s->n_slots; i++)
		if (s->slots[i].job && s->slots[i].job->id == id) {
			s->slots[i].job->cancel = true;
			pthread_cond_signal(&s->wake);
			break;
		}
	pthread_mutex_unlock(&s->mu);
}

void sched_stats(struct sched *s, struct sched_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->totals;
	out->n_slots = s->n_slots;
	out->slots_busy = s->slots_busy;
	out->queue_depth = s->queue_len;
	pthread_mutex_unlock(&s->mu);
}
