/*
 * generate.c - the generation loop and the stop-string matcher.
 */
#include "ajar/generate.h"
#include "ajar/logits_proc.h"
#include "ajar/sampler.h"
#include "model_int.h"

#include <stdlib.h>
#include <string.h>

/* Text held back by the stop matcher is at most the longest stop string; a
 * stop string longer than this is refused so memory stays bounded. */
#define STOP_MAX_LEN 4096

const char *gen_finish_name(enum gen_finish f)
{
	switch (f) {
	case GEN_FINISH_LENGTH: return "length";
	case GEN_FINISH_STOP: return "stop";
	case GEN_FINISH_EOG: return "eog";
	case GEN_FINISH_CONTEXT: return "context";
	case GEN_FINISH_CANCEL: return "cancel";
	}
	return "unknown";
}

void stop_matcher_init(struct stop_matcher *sm, const char *const *stop, size_t n_stop)
{
	memset(sm, 0, sizeof(*sm));
	sm->stop = stop;
	sm->n_stop = n_stop;
}

void stop_matcher_free(struct stop_matcher *sm)
{
	free(sm->held);
	free(sm->out);
	sm->held = sm->out = NULL;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop
 * string: that much must be held back. */
static size_t partial_stop_suffix(const struct stop_matcher *sm, const char *s, size_t n)
{
	size_t best = 0;
	for (size_t k = 0; k < sm->n_stop; k++) {
		size_t sl = strlen(sm->stop[k]);
		size_t max = sl - 1 < n ? sl - 1 : n;
		for (size_t len = max; len > best; len--)
			if (memcmp(s + n - len, sm->stop[k], len) == 0) {
				best = len;
				break;
			}
	}
	return best;
}

/* Keeps `release` from ever ending inside a UTF-8 character: held text that
 * matched a stop prefix is cut at a character boundary. */
static size_t utf8_boundary(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static enum ajar_err grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return AJAR_OK;
	size_t c = need < 256 ? 256 : need * 2;
	char *p = realloc(*buf, c);
	if (!p)
		return ajar_errf(AJAR_ERR_NOMEM, "stop matcher buffer of %zu bytes", c);
	*buf = p;
	*cap = c;
	return AJAR_OK;
}

/* Moves the first n held bytes to the release buffer. */
static void release_held(struct stop_matcher *sm, size_t n, size_t drop, const char **release, size_t *n_release)
{
	memcpy(sm->out, sm->held, n);
	sm->out[n] = '\0';
	memmove(sm->held, sm->held + n + drop, sm->n_held - n - drop);
	sm->n_held -= n + drop;
	*release = sm->out;
	*n_release = n;
}

enum ajar_err stop_matcher_push(struct stop_matcher *sm, const char *text, size_t len, const char **release,
				size_t *n_release, bool *stopped)
{
	enum ajar_err err;

	*stopped = false;
	if ((err = grow(&sm->held, &sm->cap_held, sm->n_held + len + 1)) ||
	    (err = grow(&sm->out, &sm->cap_out, sm->n_held + len + 1)))
		return err;
	memcpy(sm->held + sm->n_held, text, len);
	sm->n_held += len;

	size_t first = SIZE_MAX;
	for (size_t k = 0; k < sm->n_stop; k++) {
		size_t sl = strlen(sm->stop[k]);
		if (sl == 0 || sl > sm->n_held)
			continue;
		const char *hit = memmem(sm->held, sm->n_held, sm->stop[k], sl);
		if (hit && (size_t)(hit - sm->held) < first)
			first = (size_t)(hit - sm->held);
	}
	if (first != SIZE_MAX) {
		*stopped = true;
		release_held(sm, first, sm->n_held - first, release, n_release);
		return AJAR_OK;
	}
	size_t keep = partial_stop_suffix(sm, sm->held, sm->n_held);
	size_t n_out = sm->n_held - keep;
	if (keep > 0)
		n_out = utf8_boundary(sm->held, n_out);
	release_held(sm, n_out, 0, release, n_release);
	return AJAR_OK;
}

void stop_matcher_flush(struct stop_matcher *sm, const char **release, size_t *n_release)
{
	if (sm->n_held == 0 || grow(&sm->out, &sm->cap_out, sm->n_held + 1) != AJAR_OK) {
		*release = "";
		*n_release = 0;
		sm->n_held = 0;
		return;
	}
	release_held(sm, sm->n_held, 0, release, n_release);
}

/* ---- the loop ---- */

struct gen_state {
	struct stop_matcher sm;
	struct detok_stream ds;
	char piece[512];
	gen_text_fn cb;
	void *user;
};

/* Feeds text through the stop matcher to the callback. Returns 1 when a stop
 * string ended generation, 2 when the callback cancelled, 0 to go on. */
static enum ajar_err emit(struct gen_state *g, const char *text, size_t len, int *outcome)
{
	const char *rel;
	size_t n_rel;
	bool stopped;
	enum ajar_err err = stop_matcher_push(&g->sm, text, len, &rel, &n_rel, &stopped);
	if (err)
		return err;
	*outcome = stopped ? 1 : 0;
	if (n_rel && g->cb && g->cb(g->user, rel, n_rel))
		*outcome = 2;
	return AJAR_OK;
}

enum ajar_err generate(struct ajar_context *ctx, int32_t seq, struct sampler *smp, const int32_t *prompt,
		       size_t n_prompt, const struct gen_params *p, gen_text_fn cb, void *user, struct gen_result *res)
{
	const struct ajar_model *m = ctx->m;
	const struct ajar_vocab *vocab = m->vocab;
	uint32_t n_vocab = m->hp.n_vocab;
	struct gen_state g = { .cb = cb, .user = user };
	int32_t *hist = NULL, *out_tokens = NULL;
	float *logits = NULL;
	size_t n_hist = 0, n_out = 0, cap_out = 0;
	enum ajar_err err = AJAR_OK;
	enum gen_finish finish = GEN_FINISH_LENGTH;
	int outcome = 0;

	memset(res, 0, sizeof(*res));
	if (n_prompt == 0)
		return ajar_errf(AJAR_ERR_INVALID, "empty prompt: at least one token is needed");
	if (n_prompt >= ctx->n_ctx)
		return ajar_errf(AJAR_ERR_INVALID, "prompt of %zu tokens does not fit the context of %u", n_prompt,
				 ctx->n_ctx);
	for (size_t i = 0; i < p->n_stop; i++)
		if (strlen(p->stop[i]) > STOP_MAX_LEN)
			return ajar_errf(AJAR_ERR_INVALID, "stop string %zu is longer than %d bytes", i, STOP_MAX_LEN);

	hist = malloc(ctx->n_ctx * sizeof(*hist));
	logits = malloc(n_vocab * sizeof(*logits));
	if (!hist || !logits) {
		err = ajar_errf(AJAR_ERR_NOMEM, "generation buffers");
		goto out;
	}
	stop_matcher_init(&g.sm, p->stop, p->n_stop);
	detok_stream_init(&g.ds, vocab, false, false);

	/* The caller guarantees the cached positions hold prompt[0..cached);
	 * recompute at least the last prompt token to get its logits. */
	uint32_t cached = ajar_seq_len(ctx, seq);
	if (cached >= n_prompt)
		cached = (uint32_t)n_prompt - 1;
	ajar_seq_truncate(ctx, seq, cached);
	if ((err = ajar_decode_seq(ctx, seq, prompt + cached, n_prompt - cached, logits)))
		goto out;
	memcpy(hist, prompt, n_prompt * sizeof(*hist));
	n_hist = n_prompt;

	for (;;) {
		if (p->n_predict >= 0 && n_out >= (size_t)p->n_predict) {
			finish = GEN_FINISH_LENGTH;
			break;
		}
		for (size_t i = 0; i < p->n_procs; i++)
			p->procs[i].apply(p->procs[i].state, logits, (int32_t)n_vocab, hist, n_hist);
		int32_t tok = sampler_sample(smp, logits, hist, n_hist);
		for (size_t i = 0; i < p->n_procs; i++)
			if (p->procs[i].accept)
				p->procs[i].accept(p->procs[i].state, tok);
		if (n_out == cap_out) {
			size_t cap = cap_out ? cap_out * 2 : 64;
			int32_t *pt = realloc(out_tokens, cap * sizeof(*pt));
			if (!pt) {
				err = ajar_errf(AJAR_ERR_NOMEM, "generated tokens");
				goto out;
			}
			out_tokens = pt;
			cap_out = cap;
		}
		out_tokens[n_out++] = tok;
		if (vocab_is_eog(vocab, tok) && !p->ignore_eog) {
			finish = GEN_FINISH_EOG;
			break;
		}
		int n = detok_stream_push(&g.ds, tok, g.piece, sizeof(g.piece));
		if (n < 0) {
			err = ajar_errf(AJAR_ERR_INVALID, "token %d cannot be detokenized", tok);
			goto out;
		}
		if ((err = emit(&g, g.piece, (size_t)n, &outcome)))
			goto out;
		if (outcome) {
			finish = outcome == 1 ? GEN_FINISH_STOP : GEN_FINISH_CANCEL;
			break;
		}
		hist[n_hist++] = tok;
		if (n_hist >= ctx->n_ctx) {
			finish = GEN_FINISH_CONTEXT;
			break;
		}
		if ((err = ajar_decode_seq(ctx, seq, &tok, 1, logits)))
			goto out;
	}
	if (finish != GEN_FINISH_STOP && finish != GEN_FINISH_CANCEL) {
		const char *rel;
		size_t n_rel;
		int n = detok_stream_finish(&g.ds, g.piece, sizeof(g.piece));
		if (n > 0 && (err = emit(&g, g.piece, (size_t)n, &outcome)))
			goto out;
		if (outcome == 1) {
			finish = GEN_FINISH_STOP;
		} else if (outcome == 0) {
			stop_matcher_flush(&g.sm, &rel, &n_rel);
			if (n_rel && cb)
				cb(user, rel, n_rel);
		}
	}
	res->finish = finish;
	res->tokens = out_tokens;
	res->n_tokens = n_out;
	res->n_prompt = n_prompt;
	out_tokens = NULL;
out:
	stop_matcher_free(&g.sm);
	free(hist);
	free(logits);
	free(out_tokens);
	return err;
}
