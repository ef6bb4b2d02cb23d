/*
 * context.c - inference contexts: the KV cache and scratch buffers, batch
 * validation, and dispatch to the architecture's forward pass.
 */
#include "model_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The KV cache of all sequences is one allocation; refuse sizes that would
 * not fit comfortably rather than let the OS kill us mid-request. */
#define KV_CACHE_MAX_BYTES ((size_t)64 << 30)

static enum ajar_err alloc_floats(float **p, size_t n, const char *what)
{
	*p = calloc(n ? n : 1, sizeof(float));
	if (!*p)
		return ajar_errf(AJAR_ERR_NOMEM, "cannot allocate %zu floats for %s", n, what);
	return AJAR_OK;
}

static enum ajar_err alloc_bytes(unsigned char **p, size_t n, const char *what)
{
	*p = calloc(n ? n : 1, 1);
	if (!*p)
		return ajar_errf(AJAR_ERR_NOMEM, "cannot allocate %zu MiB for %s", n >> 20, what);
	return AJAR_OK;
}

enum ajar_err ajar_context_new(const struct ajar_model *m, const struct ajar_context_params *p,
			       struct ajar_context **out)
{
	const struct ajar_hparams *hp = &m->hp;
	struct ajar_context *ctx;
	enum ajar_err err;
	int n_threads = p->n_threads > 0 ? p->n_threads : threadpool_ncpu();
	size_t q_dim = (size_t)hp->n_head * hp->head_dim;

	if (p->n_seq == 0 || p->n_seq > 1024)
		return ajar_errf(AJAR_ERR_INVALID, "sequence count %u is outside 1..1024", p->n_seq);
	if (p->n_ctx > (1u << 20))
		return ajar_errf(AJAR_ERR_INVALID, "context size %u is larger than 1048576", p->n_ctx);
	if (p->n_batch > 65536)
		return ajar_errf(AJAR_ERR_INVALID, "batch size %u is larger than 65536", p->n_batch);
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return ajar_errf(AJAR_ERR_NOMEM, "context");
	ctx->m = m;
	ctx->n_ctx = p->n_ctx ? p->n_ctx : hp->n_ctx_train;
	ctx->n_seq = p->n_seq;
	ctx->n_batch = p->n_batch ? p->n_batch : 512;
	ctx->kv_dim = hp->n_head_kv * hp->head_dim;
	ctx->cache_type = (enum ajar_type)p->cache_type;
	if ((err = kv_check_type(ctx->cache_type, hp->head_dim)))
		goto fail;
	ctx->kv_head_bytes = kv_head_bytes(ctx->cache_type, hp->head_dim);
	ctx->kv_pos_bytes = ctx->kv_head_bytes * hp->n_head_kv;

	size_t kv_bytes = (size_t)ctx->n_seq * hp->n_layer * ctx->n_ctx * ctx->kv_pos_bytes;
	if (kv_bytes > KV_CACHE_MAX_BYTES / 2) {
		err = ajar_errf(AJAR_ERR_LIMIT, "KV cache for %u sequences of %u positions needs %zu MiB", ctx->n_seq,
				ctx->n_ctx, kv_bytes * 2 >> 20);
		goto fail;
	}
	size_t nb = ctx->n_batch;
	ctx->max_in = hp->n_ff > hp->n_embd ? hp->n_ff : hp->n_embd;
	if (q_dim > ctx->max_in)
		ctx->max_in = q_dim;
	if ((err = threadpool_new(n_threads, &ctx->pool)) ||
	    (err = alloc_bytes(&ctx->k_cache, kv_bytes, "the key cache")) ||
	    (err = alloc_bytes(&ctx->v_cache, kv_bytes, "the value cache")) ||
	    (err = alloc_floats(&ctx->x, nb * hp->n_embd, "activations")) ||
	    (err = alloc_floats(&ctx->xb, nb * (q_dim > hp->n_embd ? q_dim : hp->n_embd), "activations")) ||
	    (err = alloc_floats(&ctx->q, nb * q_dim, "queries")) ||
	    (err = alloc_floats(&ctx->k, nb * ctx->kv_dim, "keys")) ||
	    (err = alloc_floats(&ctx->v, nb * ctx->kv_dim, "values")) ||
	    (err = alloc_floats(&ctx->att, nb * q_dim, "attention output")) ||
	    (err = alloc_floats(&ctx->hb, nb * hp->n_ff, "feed-forward")) ||
	    (err = alloc_floats(&ctx->hb2, nb * hp->n_ff, "feed-forward")) ||
	    (err = alloc_floats(&ctx->scores, (size_t)n_threads * (ctx->n_ctx + hp->head_dim), "attention scores")) ||
	    /* converted activations are never larger than the floats they come from */
	    (err = alloc_floats((float **)&ctx->act, nb * ctx->max_in, "converted activations")))
		goto fail;
	ctx->seq_len = calloc(ctx->n_seq, sizeof(*ctx->seq_len));
	ctx->seq_next = calloc(ctx->n_seq, sizeof(*ctx->seq_next));
	if (!ctx->seq_len || !ctx->seq_next) {
		err = ajar_errf(AJAR_ERR_NOMEM, "sequence table");
		goto fail;
	}
	*out = ctx;
	return AJAR_OK;
fail:
	ajar_context_free(ctx);
	return err;
}

void ajar_context_free(struct ajar_context *ctx)
{
	if (!ctx)
		return;
	threadpool_free(ctx->pool);
	free(ctx->k_cache);
	free(ctx->v_cache);
	free(ctx->x);
	free(ctx->xb);
	free(ctx->q);
	free(ctx->k);
	free(ctx->v);
	free(ctx->att);
	free(ctx->hb);
	free(ctx->hb2);
	free(ctx->scores);
	free(ctx->act);
	free(ctx->seq_len);
	free(ctx->seq_next);
	free(ctx);
}

uint32_t ajar_context_n_ctx(const struct ajar_context *ctx)
{
	return ctx->n_ctx;
}

/* Every token valid, and each sequence's positions continuing its cache. */
static enum ajar_err batch_check(struct ajar_context *ctx, const struct ajar_batch *b)
{
	if (b->n == 0)
		return ajar_errf(AJAR_ERR_INVALID, "empty batch");
	if (b->n > ctx->n_batch)
		return ajar_errf(AJAR_ERR_INVALID, "batch of %u tokens exceeds the context's batch size %u", b->n,
				 ctx->n_batch);
	memcpy(ctx->seq_next, ctx->seq_len, ctx->n_seq * sizeof(*ctx->seq_next));
	for (uint32_t i = 0; i < b->n; i++) {
		int32_t seq = b->seq[i], pos = b->pos[i];
		if (b->tokens[i] < 0 || (uint32_t)b->tokens[i] >= ctx->m->hp.n_vocab)
			return ajar_errf(AJAR_ERR_INVALID, "token id %d is outside the vocabulary (%u)", b->tokens[i],
					 ctx->m->hp.n_vocab);
		if (seq < 0 || (uint32_t)seq >= ctx->n_seq)
			return ajar_errf(AJAR_ERR_INVALID, "sequence %d is outside 0..%u", seq, ctx->n_seq - 1);
		if (pos < 0 || (uint32_t)pos >= ctx->n_ctx)
			return ajar_errf(AJAR_ERR_INVALID, "position %d is outside the context of %u", pos, ctx->n_ctx);
		/* The expected position is the cache length plus the tokens of this
		 * sequence earlier in the batch. */
		uint32_t expect = ctx->seq_next[seq]++;
		if ((uint32_t)pos != expect)
			return ajar_errf(AJAR_ERR_INVALID, "sequence %d: position %d does not continue its cache (next is %u)",
					 seq, pos, expect);
	}
	return AJAR_OK;
}

enum ajar_err ajar_decode(struct ajar_context *ctx, const struct ajar_batch *b, float *logits)
{
	enum ajar_err err = batch_check(ctx, b);
	if (err)
		return err;
	if ((err = ctx->m->ops->forward(ctx, b, logits)))
		return err;
	for (uint32_t i = 0; i < b->n; i++)
		if ((uint32_t)b->pos[i] + 1 > ctx->seq_len[b->seq[i]])
			ctx->seq_len[b->seq[i]] = (uint32_t)b->pos[i] + 1;
	return AJAR_OK;
}

uint32_t ajar_seq_len(const struct ajar_context *ctx, int32_t seq)
{
	return seq >= 0 && (uint32_t)seq < ctx->n_seq ? ctx->seq_len[seq] : 0;
}

void ajar_seq_truncate(struct ajar_context *ctx, int32_t seq, uint32_t len)
{
	if (seq >= 0 && (uint32_t)seq < ctx->n_seq && len < ctx->seq_len[seq])
		ctx->seq_len[seq] = len;
}

enum ajar_err ajar_decode_seq(struct ajar_context *ctx, int32_t seq, const int32_t *tokens, size_t n, float *logits)
{
	int32_t pos[512], seqs[512];
	size_t done = 0;
	uint32_t chunk_max = ctx->n_batch < 512 ? ctx->n_batch : 512;

	if (n == 0)
		return ajar_errf(AJAR_ERR_INVALID, "no tokens to decode");
	while (done < n) {
		uint32_t chunk = (uint32_t)(n - done < chunk_max ? n - done : chunk_max);
		uint32_t start = ajar_seq_len(ctx, seq);
		for (uint32_t i = 0; i < chunk; i++) {
			pos[i] = (int32_t)(start + i);
			seqs[i] = seq;
		}
		struct ajar_batch b = { .n = chunk, .tokens = tokens + done, .pos = pos, .seq = seqs };
		bool last = done + chunk == n;
		enum ajar_err err = ajar_decode(ctx, &b, last ? logits : NULL);
		if (err)
			return err;
		done += chunk;
	}
	return AJAR_OK;
}
