/*
 * scheduler_slot.c - one slot's part in the continuous-batching loop: which
 * free slot a request gets (longest cached prefix), the slot's share of a
 * batch, and what it does with its logits: logprobs, logits processors,
 * sampling, detokenization, stop strings, the end conditions and the token
 * callback. Everything here runs on the engine thread (sched_pick_slot
 * under mu), except sched_slot_sample, which the engine hands to its
 * sampling pool for all ready slots at once and waits for.
 *
 * A slot's state between steps:
 *   prefilling  n_past < n_prompt: tokens[n_past..n_prompt) still to decode;
 *   decoding    n_past == n_tokens - 1: tokens[n_past] was sampled and is
 *               decoded next, at position n_past.
 * After its request ends a slot keeps tokens[0..n_past), which is what its
 * cache holds, for the next request that shares a prefix with it.
 */
#include "server/scheduler_int.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sched_pick_slot(const struct sched *s, const struct sched_request *req, uint32_t *n_reuse)
{
	int best = -1, lru = -1;
	uint32_t best_len = 0, lru_len = 0;
	/* The last prompt token is always decoded again: its logits are needed. */
	uint32_t max_reuse = (uint32_t)req->n_prompt - 1;

	for (uint32_t i = 0; i < s->n_slots; i++) {
		const struct sched_slot *sl = &s->slots[i];
		if (sl->job)
			continue;
		uint32_t n = sl->n_past < max_reuse ? sl->n_past : max_reuse, len = 0;
		while (len < n && sl->tokens[len] == req->prompt[len])
			len++;
		if (best < 0 || len > best_len || (len == best_len && sl->last_used < s->slots[best].last_used)) {
			best = (int)i;
			best_len = len;
		}
		if (lru < 0 || sl->last_used < s->slots[lru].last_used) {
			lru = (int)i;
			lru_len = len;
		}
	}
	/* A short match (a BOS, a word) is not worth overwriting a cache that a
	 * later request may continue: then the least recently used slot goes,
	 * as llama.cpp does below a prompt similarity of 0.5. */
	if (best >= 0 && (uint64_t)best_len * 2 < req->n_prompt) {
		best = lru;
		best_len = lru_len;
	}
	*n_reuse = best_len;
	return best;
}

void sched_slot_start(struct sched *s, struct sched_slot *sl)
{
	const struct sched_request *rq = &sl->job->req;

	sl->fresh = false;
	sl->t_start = sched_now_ms();
	sl->t_prompt = 0;
	sl->n_gen = 0;
	sl->chunk = 0;
	sl->row = -1;
	sl->last_used = ++s->clock;
	sl->n_prompt = (uint32_t)rq->n_prompt;
	assert(sl->n_past == ajar_seq_len(s->ctx, sl->seq) && sl->n_cached <= sl->n_past);
	ajar_seq_truncate(s->ctx, sl->seq, sl->n_cached);
	sl->n_past = sl->n_cached;
	memcpy(sl->tokens, rq->prompt, rq->n_prompt * sizeof(*sl->tokens));
	sl->n_tokens = sl->n_prompt;
	stop_matcher_init(&sl->sm, rq->stop, rq->n_stop);
	detok_stream_init(&sl->ds, s->vocab, false, false);
	enum ajar_err err = sampler_new(&rq->sp, s->n_vocab, &sl->smp);
	if (!err && rq->n_logprobs >= 0 && !sl->raw) {
		sl->raw = malloc((size_t)s->n_vocab * sizeof(*sl->raw));
		if (!sl->raw)
			err = ajar_errf(AJAR_ERR_NOMEM, "logprobs buffer of %d floats", s->n_vocab);
	}
	if (err) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", ajar_err_msg());
		sched_slot_finish(s, sl, GEN_FINISH_CANCEL, err, msg);
	}
}

/* Appends one slot's tokens [n_past, n_past + chunk) to the batch. */
static uint32_t batch_add(struct sched *s, struct sched_slot *sl, uint32_t n, uint32_t *n_rows)
{
	for (uint32_t j = 0; j < sl->chunk; j++, n++) {
		uint32_t pos = sl->n_past + j;
		s->b_tokens[n] = sl->tokens[pos];
		s->b_pos[n] = (int32_t)pos;
		s->b_seq[n] = sl->seq;
		/* Logits only where a token gets sampled next: the prompt's last
		 * token, or a decoding slot's one token. */
		s->b_want[n] = pos + 1 == sl->n_tokens;
		if (s->b_want[n])
			sl->row = (int32_t)(*n_rows)++;
	}
	return n;
}

/*
 * Decoding slots each get their one token first, so a long prompt never
 * stalls anyone's output. The rest of n_batch is shared among prefilling
 * slots: an equal share each, then what short prompts left over goes round
 * starting at a rotating slot (so with more prefilling slots than room,
 * every one still advances within a few steps).
 */
uint32_t sched_build_batch(struct sched *s)
{
	uint32_t n = 0, n_rows = 0, n_prefill = 0;

	for (uint32_t i = 0; i < s->n_slots; i++) {
		struct sched_slot *sl = &s->slots[i];
		sl->chunk = 0;
		sl->row = -1;
		if (!sl->job)
			continue;
		if (sl->n_past < sl->n_prompt) {
			n_prefill++;
		} else {
			sl->chunk = 1;
			n = batch_add(s, sl, n, &n_rows);
		}
	}
	if (n_prefill == 0)
		return n;

	uint32_t budget = s->n_batch - n, share = budget / n_prefill;
	for (uint32_t i = 0; i < s->n_slots; i++) {
		struct sched_slot *sl = &s->slots[i];
		if (sl->job && sl->n_past < sl->n_prompt) {
			uint32_t left = sl->n_prompt - sl->n_past;
			sl->chunk = left < share ? left : share;
			budget -= sl->chunk;
		}
	}
	for (uint32_t k = 0; k < s->n_slots && budget > 0; k++) {
		struct sched_slot *sl = &s->slots[(s->rr + k) % s->n_slots];
		if (sl->job && sl->n_past < sl->n_prompt) {
			uint32_t left = sl->n_prompt - sl->n_past - sl->chunk;
			uint32_t extra = left < budget ? left : budget;
			sl->chunk += extra;
			budget -= extra;
		}
	}
	s->rr = (s->rr + 1) % s->n_slots;
	for (uint32_t i = 0; i < s->n_slots; i++) {
		struct sched_slot *sl = &s->slots[i];
		if (sl->job && sl->n_past < sl->n_prompt && sl->chunk)
			n = batch_add(s, sl, n, &n_rows);
	}
	return n;
}

/* ---- after the forward pass ---- */

/*
 * The log-softmax normaliser of the raw logits (n of them), and the k best
 * tokens as log-probabilities, best first (the lower id first on a tie).
 * O(n * k) with k <= 20: cheaper than sorting the vocabulary.
 */
static double logprobs_prepare(struct sched_slot *sl, const float *lg, int32_t n, int k, int *n_top_out)
{
	float mx = -INFINITY;
	for (int32_t i = 0; i < n; i++)
		if (lg[i] > mx)
			mx = lg[i];
	double sum = 0;
	for (int32_t i = 0; i < n; i++)
		sum += exp((double)lg[i] - (double)mx);
	double lse = (double)mx + log(sum);

	int32_t *ids = sl->top_tokens;
	float *vals = sl->top_logprobs;
	int n_top = 0;
	for (int32_t i = 0; i < n && k > 0; i++) {
		float v = lg[i];
		if (n_top == k && !(v > vals[k - 1]))
			continue;
		int j = n_top < k ? n_top++ : k - 1;
		while (j > 0 && v > vals[j - 1]) {
			vals[j] = vals[j - 1];
			ids[j] = ids[j - 1];
			j--;
		}
		vals[j] = v;
		ids[j] = i;
	}
	for (int j = 0; j < n_top; j++)
		vals[j] = (float)((double)vals[j] - lse);
	*n_top_out = n_top;
	return lse;
}

/* Appends n bytes to the event's text (NUL-terminated). */
static enum ajar_err text_append(struct sched *s, const char *p, size_t n)
{
	if (s->n_text + n + 1 > s->cap_text) {
		size_t cap = (s->n_text + n + 1) * 2;
		char *t = realloc(s->text, cap);
		if (!t)
			return ajar_errf(AJAR_ERR_NOMEM, "token text of %zu bytes", cap);
		s->text = t;
		s->cap_text = cap;
	}
	memcpy(s->text + s->n_text, p, n);
	s->n_text += n;
	s->text[s->n_text] = '\0';
	return AJAR_OK;
}

/* Detokenized text through the slot's stop matcher; what it releases joins
 * the event's text. */
static enum ajar_err push_text(struct sched *s, struct sched_slot *sl, const char *p, size_t n, bool *stopped)
{
	const char *rel;
	size_t n_rel;
	enum ajar_err err = stop_matcher_push(&sl->sm, p, n, &rel, &n_rel, stopped);
	return err ? err : text_append(s, rel, n_rel);
}

/* The end of the text (not by a stop string): an unfinished UTF-8
 * character, then whatever the stop matcher held back. That last piece may
 * still complete a stop string. */
static enum ajar_err end_text(struct sched *s, struct sched_slot *sl, bool *stopped)
{
	const char *rel;
	size_t n_rel;
	enum ajar_err err;
	int n = detok_stream_finish(&sl->ds, s->piece, s->cap_piece);

	*stopped = false;
	if (n > 0 && (err = push_text(s, sl, s->piece, (size_t)n, stopped)))
		return err;
	if (*stopped)
		return AJAR_OK;
	stop_matcher_flush(&sl->sm, &rel, &n_rel);
	return text_append(s, rel, n_rel);
}

/* Which end, if any, the token just appended brings (generate()'s order). */
static int end_reason(const struct sched *s, const struct sched_slot *sl, bool stopped, bool eog)
{
	int32_t n_predict = sl->job->req.n_predict;
	if (stopped)
		return GEN_FINISH_STOP;
	if (eog)
		return GEN_FINISH_EOG;
	if (sl->n_tokens >= s->n_ctx)
		return GEN_FINISH_CONTEXT;
	if (n_predict >= 0 && sl->n_gen >= (uint32_t)n_predict)
		return GEN_FINISH_LENGTH;
	return -1;
}

void sched_slot_sample(struct sched *s, struct sched_slot *sl, float *lg)
{
	const struct sched_request *rq = &sl->job->req;

	sl->n_top = 0;
	if (rq->n_logprobs >= 0) {
		memcpy(sl->raw, lg, (size_t)s->n_vocab * sizeof(*lg));
		sl->lse = logprobs_prepare(sl, sl->raw, s->n_vocab, rq->n_logprobs, &sl->n_top);
	}
	for (size_t i = 0; i < rq->n_procs; i++)
		rq->procs[i].apply(rq->procs[i].state, lg, s->n_vocab, sl->tokens, sl->n_tokens);
	sl->sampled = sampler_sample(sl->smp, lg, sl->tokens, sl->n_tokens);
	for (size_t i = 0; i < rq->n_procs; i++)
		if (rq->procs[i].accept)
			rq->procs[i].accept(rq->procs[i].state, sl->sampled);
}

void sched_slot_emit(struct sched *s, struct sched_slot *sl)
{
	const struct sched_request *rq = &sl->job->req;
	struct sched_token_event ev = { .token = -1 };
	enum ajar_err err;
	bool stopped = false;
	int32_t tok = sl->sampled;

	sl->tokens[sl->n_tokens++] = tok;
	sl->n_gen++;
	s->pending_completion++;

	s->n_text = 0;
	s->text[0] = '\0';
	bool eog = !rq->ignore_eog && vocab_is_eog(s->vocab, tok);
	if (!eog) {
		int n = detok_stream_push(&sl->ds, tok, s->piece, s->cap_piece);
		if (n < 0) {
			err = ajar_errf(AJAR_ERR_INVALID, "token %d cannot be detokenized", tok);
			goto fail;
		}
		if (n > 0 && (err = push_text(s, sl, s->piece, (size_t)n, &stopped)))
			goto fail;
		ev.token = tok;
		if (rq->n_logprobs >= 0) {
			ev.logprob = (float)((double)sl->raw[tok] - sl->lse);
			ev.n_top = sl->n_top;
			ev.top_tokens = sl->top_tokens;
			ev.top_logprobs = sl->top_logprobs;
		}
	}
	int finish = end_reason(s, sl, stopped, eog);
	if (finish == GEN_FINISH_EOG || finish == GEN_FINISH_CONTEXT || finish == GEN_FINISH_LENGTH) {
		if ((err = end_text(s, sl, &stopped)))
			goto fail;
		if (stopped)
			finish = GEN_FINISH_STOP;
	}
	/* An end-of-generation token has no event of its own; text released
	 * at the end still comes, as an event with token -1. */
	ev.text = s->text;
	ev.len = s->n_text;
	if (rq->on_token && (!eog || s->n_text > 0) && rq->on_token(rq->user, &ev))
		finish = GEN_FINISH_CANCEL;
	if (finish >= 0)
		sched_slot_finish(s, sl, (enum gen_finish)finish, AJAR_OK, "");
	return;
fail:;
	char msg[256];
	snprintf(msg, sizeof(msg), "%s", ajar_err_msg());
	sched_slot_finish(s, sl, GEN_FINISH_CANCEL, err, msg);
}
