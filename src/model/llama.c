/*
 * llama.c - the Llama architecture (and Qwen2, which adds q/k/v biases and
 * uses NeoX RoPE): weight binding and the forward pass.
 *
 * Per layer, for the batch's tokens t:
 *   xb = rmsnorm(x) * attn_norm
 *   q, k, v = xb Wq (+bq), xb Wk (+bk), xb Wv (+bv); rope(q, k) at pos[t]
 *   cache[seq[t]][layer][pos[t]] = k, v
 *   att = softmax(q k^T / sqrt(head_dim), causal over the sequence) v   (GQA:
 *         query head h reads KV head h / (n_head / n_head_kv))
 *   x += att Wo
 *   xb = rmsnorm(x) * ffn_norm
 *   x += (silu(xb Wgate) * (xb Wup)) Wdown
 * then logits = rmsnorm(x) * output_norm Wout for the tokens that want them.
 */
#include "model_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ajar_err llama_load(struct ajar_model *m)
{
	const struct ajar_hparams *hp = &m->hp;
	const struct gguf_tensor_info *emb = gguf_find_tensor(m->gguf, "token_embd.weight");
	int64_t q_dim = (int64_t)hp->n_head * hp->head_dim;
	int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
	bool bias = hp->arch == AJAR_ARCH_QWEN2;
	enum ajar_err err;
	char name[96];

	if (!emb)
		return ajar_errf(AJAR_ERR_FORMAT, "missing tensor 'token_embd.weight'");
	/* The embedding's row count is the model's vocabulary size; the
	 * tokenizer may list fewer tokens (padded embeddings), never more. */
	if (emb->ne[1] == 0 || emb->ne[1] > (1u << 24))
		return ajar_errf(AJAR_ERR_FORMAT, "token_embd.weight has %llu rows", (unsigned long long)emb->ne[1]);
	m->hp.n_vocab = (uint32_t)emb->ne[1];
	if (vocab_n_tokens(m->vocab) > (int32_t)m->hp.n_vocab)
		return ajar_errf(AJAR_ERR_FORMAT, "tokenizer has %d tokens but token_embd.weight only %u rows",
				 vocab_n_tokens(m->vocab), m->hp.n_vocab);
	if ((err = model_get_weight(m, "token_embd.weight", hp->n_embd, hp->n_vocab, false, &m->tok_embd)) ||
	    (err = model_get_norm(m, "output_norm.weight", hp->n_embd, false, &m->output_norm)) ||
	    (err = model_get_weight(m, "output.weight", hp->n_embd, hp->n_vocab, true, &m->output)) ||
	    (err = model_get_norm(m, "rope_freqs.weight", hp->n_rot / 2, true, &m->rope_freqs)))
		return err;
	if (!m->output.data) {
		m->output = m->tok_embd;
		m->hp.tied_output = true;
	}

	m->layers = calloc(hp->n_layer, sizeof(*m->layers));
	if (!m->layers)
		return ajar_errf(AJAR_ERR_NOMEM, "layers");
	for (uint32_t i = 0; i < hp->n_layer; i++) {
		struct llama_layer *l = &m->layers[i];
#define W(field, suffix, in, out, opt)                                                     \
	do {                                                                               \
		snprintf(name, sizeof(name), "blk.%u.%s", i, suffix);                      \
		if ((err = model_get_weight(m, name, in, out, opt, &l->field)))            \
			return err;                                                        \
	} while (0)
#define N(field, suffix, n, opt)                                                           \
	do {                                                                               \
		snprintf(name, sizeof(name), "blk.%u.%s", i, suffix);                      \
		if ((err = model_get_norm(m, name, n, opt, &l->field)))                    \
			return err;                                                        \
	} while (0)
		N(attn_norm, "attn_norm.weight", hp->n_embd, false);
		W(wq, "attn_q.weight", hp->n_embd, q_dim, false);
		W(wk, "attn_k.weight", hp->n_embd, kv_dim, false);
		W(wv, "attn_v.weight", hp->n_embd, kv_dim, false);
		W(wo, "attn_output.weight", q_dim, hp->n_embd, false);
		N(bq, "attn_q.bias", q_dim, !bias);
		N(bk, "attn_k.bias", kv_dim, !bias);
		N(bv, "attn_v.bias", kv_dim, !bias);
		N(ffn_norm, "ffn_norm.weight", hp->n_embd, false);
		W(ffn_gate, "ffn_gate.weight", hp->n_embd, hp->n_ff, false);
		W(ffn_up, "ffn_up.weight", hp->n_embd, hp->n_ff, false);
		W(ffn_down, "ffn_down.weight", hp->n_ff, hp->n_embd, false);
#undef W
#undef N
	}
	return AJAR_OK;
}

/* ---- per-token steps, each run over the batch split across threads ---- */

struct step {
	struct ajar_context *ctx;
	const struct ajar_batch *b;
	const struct llama_layer *l;
	uint32_t layer;
};

/* The cached heads of one position of one sequence's layer. */
static unsigned char *cache_row(const struct ajar_context *ctx, unsigned char *cache, int32_t seq, uint32_t layer,
				int32_t pos)
{
	size_t idx = ((size_t)seq * ctx->m->hp.n_layer + layer) * ctx->n_ctx + (size_t)pos;
	return cache + idx * ctx->kv_pos_bytes;
}

/* xb[t] = rmsnorm(x[t]) * attn_norm, tokens split over threads. */
static void step_attn_norm(void *p, int ith, int nth)
{
	struct step *s = p;
	const struct ajar_hparams *hp = &s->ctx->m->hp;
	long b, e;
	threadpool_split(s->b->n, ith, nth, &b, &e);
	for (long t = b; t < e; t++)
		ops_rmsnorm(s->ctx->xb + t * hp->n_embd, s->ctx->x + t * hp->n_embd, s->l->attn_norm.data, hp->n_embd,
			    hp->norm_eps);
}

static void step_ffn_norm(void *p, int ith, int nth)
{
	struct step *s = p;
	const struct ajar_hparams *hp = &s->ctx->m->hp;
	long b, e;
	threadpool_split(s->b->n, ith, nth, &b, &e);
	for (long t = b; t < e; t++)
		ops_rmsnorm(s->ctx->xb + t * hp->n_embd, s->ctx->x + t * hp->n_embd, s->l->ffn_norm.data, hp->n_embd,
			    hp->norm_eps);
}

/* Biases, RoPE, and the append of k and v to the cache. */
static void step_rope_store(void *p, int ith, int nth)
{
	struct step *s = p;
	struct ajar_context *ctx = s->ctx;
	const struct ajar_hparams *hp = &ctx->m->hp;
	const float *ff = ctx->m->rope_freqs.data;
	uint32_t q_dim = hp->n_head * hp->head_dim;
	long b, e;

	threadpool_split(s->b->n, ith, nth, &b, &e);
	for (long t = b; t < e; t++) {
		float *q = ctx->q + t * q_dim;
		float *k = ctx->k + t * ctx->kv_dim;
		float *v = ctx->v + t * ctx->kv_dim;
		if (s->l->bq.data) {
			const float *bq = s->l->bq.data, *bk = s->l->bk.data, *bv = s->l->bv.data;
			for (uint32_t i = 0; i < q_dim; i++)
				q[i] += bq[i];
			for (uint32_t i = 0; i < ctx->kv_dim; i++) {
				k[i] += bk[i];
				v[i] += bv[i];
			}
		}
		ops_rope(q, hp->n_head, hp->head_dim, hp->n_rot, s->b->pos[t], hp->rope_freq_base, hp->rope_freq_scale,
			 hp->rope_type, ff);
		ops_rope(k, hp->n_head_kv, hp->head_dim, hp->n_rot, s->b->pos[t], hp->rope_freq_base,
			 hp->rope_freq_scale, hp->rope_type, ff);
		kv_store(ctx->cache_type, cache_row(ctx, ctx->k_cache, s->b->seq[t], s->layer, s->b->pos[t]), k,
			 hp->n_head_kv, hp->head_dim);
		kv_store(ctx->cache_type, cache_row(ctx, ctx->v_cache, s->b->seq[t], s->layer, s->b->pos[t]), v,
			 hp->n_head_kv, hp->head_dim);
	}
}

/* Attention for (token, head) pairs split over threads. */
static void step_attention(void *p, int ith, int nth)
{
	struct step *s = p;
	struct ajar_context *ctx = s->ctx;
	const struct ajar_hparams *hp = &ctx->m->hp;
	uint32_t hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
	uint32_t q_dim = hp->n_head * hd;
	float scale = 1.0f / sqrtf((float)hd);
	float *scores = ctx->scores + (size_t)ith * (ctx->n_ctx + hd);
	float *tmp = scores + ctx->n_ctx; /* one dequantized value row */
	long b, e;

	threadpool_split((long)s->b->n * hp->n_head, ith, nth, &b, &e);
	for (long job = b; job < e; job++) {
		long t = job / hp->n_head;
		uint32_t h = (uint32_t)(job % hp->n_head), hk = h / group;
		int32_t seq = s->b->seq[t], n_pos = s->b->pos[t] + 1;
		const float *q = ctx->q + t * q_dim + h * hd;
		const unsigned char *kc = cache_row(ctx, ctx->k_cache, seq, s->layer, 0) + hk * ctx->kv_head_bytes;
		const unsigned char *vc = cache_row(ctx, ctx->v_cache, seq, s->layer, 0) + hk * ctx->kv_head_bytes;
		float *out = ctx->att + t * q_dim + h * hd;

		kv_dots(ctx->cache_type, kc, ctx->kv_pos_bytes, n_pos, q, hd, scale, scores);
		ops_softmax(scores, n_pos);
		memset(out, 0, hd * sizeof(float));
		kv_axpys(ctx->cache_type, scores, vc, ctx->kv_pos_bytes, n_pos, out, hd, tmp);
	}
}

/* hb = silu(hb) * hb2 */
static void step_swiglu(void *p, int ith, int nth)
{
	struct step *s = p;
	uint32_t n_ff = s->ctx->m->hp.n_ff;
	long b, e;
	threadpool_split((long)s->b->n * n_ff, ith, nth, &b, &e);
	for (long i = b; i < e; i++) {
		float g = s->ctx->hb[i];
		s->ctx->hb[i] = g / (1.0f + expf(-g)) * s->ctx->hb2[i];
	}
}

static void add_into(float *x, const float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] += y[i];
}

enum ajar_err llama_forward(struct ajar_context *ctx, const struct ajar_batch *b, float *logits)
{
	const struct ajar_model *m = ctx->m;
	const struct ajar_hparams *hp = &m->hp;
	uint32_t n = b->n, d = hp->n_embd, q_dim = hp->n_head * hp->head_dim, n_out = 0;
	struct step s = { .ctx = ctx, .b = b };

	for (uint32_t t = 0; t < n; t++)
		ops_embed_row(&m->tok_embd, b->tokens[t], ctx->x + (size_t)t * d);

	for (uint32_t il = 0; il < hp->n_layer; il++) {
		const struct llama_layer *l = &m->layers[il];
		s.l = l;
		s.layer = il;
		threadpool_run(ctx->pool, step_attn_norm, &s);
		{
			const struct weight *ws[3] = { &l->wq, &l->wk, &l->wv };
			float *ys[3] = { ctx->q, ctx->k, ctx->v };
			size_t strides[3] = { q_dim, ctx->kv_dim, ctx->kv_dim };
			ops_matmul_multi(ctx, 3, ws, ys, strides, ctx->xb, d, n);
		}
		threadpool_run(ctx->pool, step_rope_store, &s);
		threadpool_run(ctx->pool, step_attention, &s);
		ops_matmul(ctx, &l->wo, ctx->att, q_dim, ctx->xb, d, n);
		add_into(ctx->x, ctx->xb, (size_t)n * d);

		threadpool_run(ctx->pool, step_ffn_norm, &s);
		{
			const struct weight *ws[2] = { &l->ffn_gate, &l->ffn_up };
			float *ys[2] = { ctx->hb, ctx->hb2 };
			size_t strides[2] = { hp->n_ff, hp->n_ff };
			ops_matmul_multi(ctx, 2, ws, ys, strides, ctx->xb, d, n);
		}
		threadpool_run(ctx->pool, step_swiglu, &s);
		ops_matmul(ctx, &l->ffn_down, ctx->hb, hp->n_ff, ctx->xb, d, n);
		add_into(ctx->x, ctx->xb, (size_t)n * d);
	}

	if (!logits)
		return AJAR_OK;
	/* Gather the rows whose logits are wanted, normalize, project. */
	for (uint32_t t = 0; t < n; t++) {
		bool want = b->want_logits ? b->want_logits[t] : t == n - 1;
		if (want) {
			ops_rmsnorm(ctx->xb + (size_t)n_out * d, ctx->x + (size_t)t * d, m->output_norm.data, d,
				    hp->norm_eps);
			n_out++;
		}
	}
	if (n_out)
		ops_matmul(ctx, &m->output, ctx->xb, d, logits, hp->n_vocab, n_out);
	return AJAR_OK;
}
