/*
 * train_model.c - the Llama model of train_model.h: the parameter size
 * table, deterministic initialization, and the forward and backward passes.
 *
 * Layout: size tables and create/free, initialization, the activation
 * layout, the forward (embedding, layers, head), the backward (head, layers
 * in reverse, embedding), the entry points.
 *
 * Activations (one allocation, m->acts), with T = max_batch * n_ctx token
 * rows and A = n_heads * max_batch * n_ctx * n_ctx attention entries:
 *
 *   per layer, layer after layer:
 *     xn1 (T, dim)      rmsnorm(x) * attn_norm, the input of q, k, v
 *     q (T, dim)        after rope      k, v (T, kv_dim), k after rope
 *     att (A)           the softmax probabilities, (batch, n_heads, seq, seq)
 *     attout (T, dim)   attention output, the input of Wo
 *     xmid (T, dim)     the residual stream after attention
 *     xn2 (T, dim)      rmsnorm(xmid) * ffn_norm, the input of gate and up
 *     gate, up, h (T, hidden)   h = silu(gate) * up, the input of Wdown
 *   then once:
 *     resid ((n_layers + 1), T, dim)  the residual stream entering each layer;
 *                                     the last entry enters the final norm
 *     xnf (T, dim), logits (T, n_vocab)
 *     backward scratch: dx, dxn, dattout, dq (T, dim); dk, dv (T, kv_dim);
 *     dh, dgate, dup (T, hidden); dlogits (T, n_vocab)
 *
 * A step of batch sequences of seq tokens uses the first batch * seq rows
 * of each (token i of sequence b is row b * seq + i).
 */
#include "train/train_model.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ajar/threadpool.h"
#include "train/train_ops.h"

/* ---- size tables, create, free --------------------------------------- */

static bool size_mul(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

static enum ajar_err config_check(const struct train_config *c, int max_batch)
{
	if (c->n_vocab < 1 || c->dim < 1 || c->n_layers < 1 || c->n_heads < 1 || c->n_kv_heads < 1 ||
	    c->hidden < 1 || c->n_ctx < 1 || max_batch < 1)
		return ajar_errf(AJAR_ERR_INVALID, "train config: every size must be at least 1");
	if (c->dim % c->n_heads != 0)
		return ajar_errf(AJAR_ERR_INVALID, "train config: dim %d is not a multiple of %d heads", c->dim,
				 c->n_heads);
	int head_dim = c->dim / c->n_heads;
	/* rope pairs dims, and train_ops' rope handles head_dim <= 1024 */
	if (head_dim % 2 != 0 || head_dim > 1024)
		return ajar_errf(AJAR_ERR_INVALID, "train config: head_dim %d must be even and at most 1024", head_dim);
	if (c->n_heads % c->n_kv_heads != 0)
		return ajar_errf(AJAR_ERR_INVALID, "train config: %d heads not a multiple of %d kv heads", c->n_heads,
				 c->n_kv_heads);
	if (!(c->norm_eps > 0) || !(c->rope_theta > 0))
		return ajar_errf(AJAR_ERR_INVALID, "train config: norm_eps and rope_theta must be positive");
	return AJAR_OK;
}

static void tensor_set(struct train_tensor *t, const char *name, int rows, int cols, bool decay)
{
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->rows = rows;
	t->cols = cols;
	t->n = (size_t)rows * (size_t)cols;
	t->decay = decay;
}

/* Names and shapes of every tensor, in table order (no pointers yet). */
static void tensors_describe(struct train_tensor *t, const struct train_config *c)
{
	static const char *const suffix[TRAIN_T_PER_LAYER] = {
		"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down",
	};
	int kv_dim = c->dim / c->n_heads * c->n_kv_heads;
	int rows[TRAIN_T_PER_LAYER] = { 1, c->dim, kv_dim, kv_dim, c->dim, 1, c->hidden, c->hidden, c->dim };
	int cols[TRAIN_T_PER_LAYER] = { c->dim, c->dim, c->dim, c->dim, c->dim, c->dim, c->dim, c->dim, c->hidden };
	char name[48];
	size_t i = 0;

	tensor_set(&t[i++], "token_embd.weight", c->n_vocab, c->dim, true);
	for (int l = 0; l < c->n_layers; l++)
		for (int k = 0; k < TRAIN_T_PER_LAYER; k++) {
			snprintf(name, sizeof(name), "blk.%d.%s.weight", l, suffix[k]);
			tensor_set(&t[i++], name, rows[k], cols[k], rows[k] != 1);
		}
	tensor_set(&t[i++], "output_norm.weight", 1, c->dim, false);
	tensor_set(&t[i++], "output.weight", c->n_vocab, c->dim, true);
}

struct layer_acts {
	float *xn1, *q, *k, *v, *att, *attout, *xmid, *xn2, *gate, *up, *h;
};

struct top_acts {
	float *resid, *xnf, *logits;
	float *dx, *dxn, *dattout, *dq, *dk, *dv, *dh, *dgate, *dup, *dlogits;
};

/* Hands out the next n floats of base (NULL while only counting). */
static float *take(float *base, size_t *off, size_t n)
{
	float *p = base ? base + *off : NULL;
	*off += n;
	return p;
}

/* Carves one layer's activations starting at *off; see the file comment. */
static void layer_acts_carve(const struct train_model *m, float *base, size_t *off, struct layer_acts *la)
{
	const struct train_config *c = &m->cfg;
	size_t t = (size_t)m->max_batch * c->n_ctx, kv = (size_t)(c->dim / c->n_heads * c->n_kv_heads);
	size_t a = (size_t)c->n_heads * t * c->n_ctx;

	la->xn1 = take(base, off, t * c->dim);
	la->q = take(base, off, t * c->dim);
	la->k = take(base, off, t * kv);
	la->v = take(base, off, t * kv);
	la->att = take(base, off, a);
	la->attout = take(base, off, t * c->dim);
	la->xmid = take(base, off, t * c->dim);
	la->xn2 = take(base, off, t * c->dim);
	la->gate = take(base, off, t * c->hidden);
	la->up = take(base, off, t * c->hidden);
	la->h = take(base, off, t * c->hidden);
}

static void top_acts_carve(const struct train_model *m, float *base, size_t *off, struct top_acts *ta)
{
	const struct train_config *c = &m->cfg;
	size_t t = (size_t)m->max_batch * c->n_ctx, kv = (size_t)(c->dim / c->n_heads * c->n_kv_heads);

	ta->resid = take(base, off, (size_t)(c->n_layers + 1) * t * c->dim);
	ta->xnf = take(base, off, t * c->dim);
	ta->logits = take(base, off, t * c->n_vocab);
	ta->dx = take(base, off, t * c->dim);
	ta->dxn = take(base, off, t * c->dim);
	ta->dattout = take(base, off, t * c->dim);
	ta->dq = take(base, off, t * c->dim);
	ta->dk = take(base, off, t * kv);
	ta->dv = take(base, off, t * kv);
	ta->dh = take(base, off, t * c->hidden);
	ta->dgate = take(base, off, t * c->hidden);
	ta->dup = take(base, off, t * c->hidden);
	ta->dlogits = take(base, off, t * c->n_vocab);
}

/* Floats in one layer's activations (layer l starts at l times this). */
static size_t layer_acts_size(const struct train_model *m)
{
	struct layer_acts la;
	size_t off = 0;
	layer_acts_carve(m, NULL, &off, &la);
	return off;
}

static struct layer_acts layer_acts_at(const struct train_model *m, int l)
{
	struct layer_acts la;
	size_t off = (size_t)l * layer_acts_size(m);
	layer_acts_carve(m, m->acts, &off, &la);
	return la;
}

static struct top_acts top_acts_get(const struct train_model *m)
{
	struct top_acts ta;
	size_t off = (size_t)m->cfg.n_layers * layer_acts_size(m);
	top_acts_carve(m, m->acts, &off, &ta);
	return ta;
}

/*
 * Every count the tables are built from, checked for overflow once here so
 * the carving can multiply freely. Bounds: T = max_batch * n_ctx token rows
 * (an int, as the ops take), A = n_heads * T * n_ctx, w = the widest of
 * dim, hidden, n_vocab; the activations are under (n_layers + 2) (A + 16 T w)
 * floats and the parameters under (n_layers + 2) 8 w^2.
 */
static enum ajar_err sizes_check(const struct train_config *c, int max_batch)
{
	size_t t, a, tw, acts, ww, params;
	size_t w = (size_t)c->dim, layers = (size_t)c->n_layers + 2;
	if ((size_t)c->hidden > w)
		w = (size_t)c->hidden;
	if ((size_t)c->n_vocab > w)
		w = (size_t)c->n_vocab;
	bool ok = size_mul((size_t)max_batch, (size_t)c->n_ctx, &t) && t <= INT_MAX &&
		  size_mul(t, (size_t)c->n_ctx, &a) && size_mul(a, (size_t)c->n_heads, &a) &&
		  size_mul(t, 16 * w, &tw) && a + tw >= a && size_mul(a + tw, layers, &acts) &&
		  size_mul(acts, sizeof(float), &acts) && size_mul(w, w, &ww) && size_mul(ww, 8 * layers, &params) &&
		  size_mul(params, sizeof(float), &params);
	if (!ok)
		return ajar_errf(AJAR_ERR_LIMIT, "train config: sizes overflow");
	return AJAR_OK;
}

enum ajar_err train_model_create(const struct train_config *cfg, int max_batch, uint64_t seed,
				 struct train_model **out)
{
	enum ajar_err err;
	struct train_model *m = NULL;
	struct layer_acts la;
	struct top_acts ta;
	size_t n_tok, n_acts = 0, off = 0;

	*out = NULL;
	if ((err = config_check(cfg, max_batch)) || (err = sizes_check(cfg, max_batch)))
		return err;
	m = calloc(1, sizeof(*m));
	if (!m)
		return ajar_errf(AJAR_ERR_NOMEM, "train model");
	m->cfg = *cfg;
	m->max_batch = max_batch;
	m->n_tensors = 3 + (size_t)TRAIN_T_PER_LAYER * cfg->n_layers;
	m->tensors = calloc(m->n_tensors, sizeof(*m->tensors));
	if (!m->tensors)
		goto nomem;
	tensors_describe(m->tensors, cfg);
	for (size_t i = 0; i < m->n_tensors; i++)
		m->n_params += m->tensors[i].n;

	n_tok = (size_t)max_batch * cfg->n_ctx;
	for (int l = 0; l < cfg->n_layers; l++)
		layer_acts_carve(m, NULL, &n_acts, &la);
	top_acts_carve(m, NULL, &n_acts, &ta);
	m->params = malloc(m->n_params * sizeof(float));
	m->grads = calloc(m->n_params, sizeof(float));
	/* calloc: the tail rows past a step's batch * seq are never written,
	 * and zeroes keep any accidental read of them deterministic. */
	m->acts = calloc(n_acts, sizeof(float));
	m->ids = malloc(n_tok * sizeof(int32_t));
	m->targets = malloc(n_tok * sizeof(int32_t));
	m->pos = malloc(n_tok * sizeof(int32_t));
	if (!m->params || !m->grads || !m->acts || !m->ids || !m->targets || !m->pos)
		goto nomem;
	for (size_t i = 0; i < m->n_tensors; i++) {
		m->tensors[i].data = m->params + off;
		m->tensors[i].grad = m->grads + off;
		off += m->tensors[i].n;
	}
	train_model_init_weights(m, seed);
	*out = m;
	return AJAR_OK;
nomem:
	train_model_free(m);
	return ajar_errf(AJAR_ERR_NOMEM, "train model: %d layers, dim %d, batch %d x %d", cfg->n_layers, cfg->dim,
			 max_batch, cfg->n_ctx);
}

void train_model_free(struct train_model *m)
{
	if (!m)
		return;
	free(m->tensors);
	free(m->params);
	free(m->grads);
	free(m->acts);
	free(m->ids);
	free(m->targets);
	free(m->pos);
	threadpool_free(m->pool);
	free(m);
}

enum ajar_err train_model_set_threads(struct train_model *m, int n_threads)
{
	if (n_threads < 1 || n_threads > TRAIN_MAX_THREADS)
		return ajar_errf(AJAR_ERR_INVALID, "train model: %d threads (1..%d)", n_threads, TRAIN_MAX_THREADS);
	struct threadpool *pool = NULL;
	if (n_threads > 1) {
		enum ajar_err err = threadpool_new(n_threads, &pool);
		if (err)
			return err;
	}
	/* The old pool is idle here: a step runs on the caller's thread. */
	threadpool_free(m->pool);
	m->pool = pool;
	return AJAR_OK;
}

int train_model_threads(const struct train_model *m)
{
	return m->pool ? threadpool_size(m->pool) : 1;
}

struct train_tensor *train_model_layer_tensor(struct train_model *m, int layer, enum train_layer_tensor which)
{
	assert(layer >= 0 && layer < m->cfg.n_layers && which < TRAIN_T_PER_LAYER);
	return &m->tensors[1 + (size_t)layer * TRAIN_T_PER_LAYER + which];
}

void train_model_adamw_tensors(const struct train_model *m, struct adamw_tensor *out)
{
	for (size_t i = 0; i < m->n_tensors; i++)
		out[i] = (struct adamw_tensor){ .param = m->tensors[i].data, .grad = m->tensors[i].grad,
						.n = m->tensors[i].n, .decay = m->tensors[i].decay };
}

void train_model_zero_grads(struct train_model *m)
{
	memset(m->grads, 0, m->n_params * sizeof(float));
}

/* ---- initialization -------------------------------------------------- */

/* splitmix64: a full-period 64-bit generator, small and portable, so the
 * same seed gives the same weights on every machine. */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Standard normal by Box-Muller; the second value of each pair is thrown
 * away, which costs little at init and keeps the state one integer. */
static double normal01(uint64_t *s)
{
	double u1 = ((double)(splitmix64(s) >> 11) + 1.0) / 9007199254740992.0; /* (0, 1]: log is finite */
	double u2 = (double)(splitmix64(s) >> 11) / 9007199254740992.0;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void train_model_init_weights(struct train_model *m, uint64_t seed)
{
	const double std = 0.02;
	const double resid_scale = 1.0 / sqrt(2.0 * m->cfg.n_layers);
	uint64_t s = seed;

	for (size_t i = 0; i < m->n_tensors; i++) {
		struct train_tensor *t = &m->tensors[i];
		if (!t->decay) { /* a norm gain */
			for (size_t j = 0; j < t->n; j++)
				t->data[j] = 1.0f;
			continue;
		}
		size_t layer_k = i >= 1 ? (i - 1) % TRAIN_T_PER_LAYER : 0;
		bool in_layer = i >= 1 && i < m->n_tensors - 2;
		double sd = std;
		if (in_layer && (layer_k == TRAIN_T_O || layer_k == TRAIN_T_DOWN))
			sd *= resid_scale;
		for (size_t j = 0; j < t->n; j++)
			t->data[j] = (float)(sd * normal01(&s));
	}
}

/* ---- forward --------------------------------------------------------- */

struct step_shape {
	int batch, seq, n; /* n = batch * seq token rows */
	int head_dim, kv_dim;
};

static const float *W(struct train_model *m, int l, enum train_layer_tensor k)
{
	return train_model_layer_tensor(m, l, k)->data;
}

static float *G(struct train_model *m, int l, enum train_layer_tensor k)
{
	return train_model_layer_tensor(m, l, k)->grad;
}

/* Layer l: x (n, dim) in, x_next (n, dim) out, activations kept in la. */
static void layer_forward(struct train_model *m, int l, const struct step_shape *s, const float *x, float *x_next)
{
	const struct train_config *c = &m->cfg;
	struct layer_acts a = layer_acts_at(m, l);
	const int n = s->n, d = c->dim, hd = s->head_dim, kvd = s->kv_dim;

	train_rmsnorm_forward(a.xn1, x, W(m, l, TRAIN_T_ATTN_NORM), n, d, c->norm_eps);
	train_matmul_forward_mt(m->pool, a.q, a.xn1, W(m, l, TRAIN_T_Q), n, d, d);
	train_matmul_forward_mt(m->pool, a.k, a.xn1, W(m, l, TRAIN_T_K), n, d, kvd);
	train_matmul_forward_mt(m->pool, a.v, a.xn1, W(m, l, TRAIN_T_V), n, d, kvd);
	train_rope_forward(a.q, m->pos, n, c->n_heads, hd, hd, c->rope_theta, false);
	train_rope_forward(a.k, m->pos, n, c->n_kv_heads, hd, hd, c->rope_theta, false);
	for (int b = 0; b < s->batch; b++) {
		size_t r = (size_t)b * s->seq;
		train_attention_forward(a.attout + r * d, a.att + r * c->n_heads * s->seq, a.q + r * d, a.k + r * kvd,
					a.v + r * kvd, s->seq, c->n_heads, c->n_kv_heads, hd);
	}
	train_matmul_forward_mt(m->pool, a.xmid, a.attout, W(m, l, TRAIN_T_O), n, d, d);
	train_add(a.xmid, a.xmid, x, (size_t)n * d);

	train_rmsnorm_forward(a.xn2, a.xmid, W(m, l, TRAIN_T_FFN_NORM), n, d, c->norm_eps);
	train_matmul_forward_mt(m->pool, a.gate, a.xn2, W(m, l, TRAIN_T_GATE), n, d, c->hidden);
	train_matmul_forward_mt(m->pool, a.up, a.xn2, W(m, l, TRAIN_T_UP), n, d, c->hidden);
	train_swiglu_forward(a.h, a.gate, a.up, (size_t)n * c->hidden);
	train_matmul_forward_mt(m->pool, x_next, a.h, W(m, l, TRAIN_T_DOWN), n, c->hidden, d);
	train_add(x_next, x_next, a.xmid, (size_t)n * d);
}

/* The whole forward over m->ids; returns the mean loss against m->targets. */
static float model_forward(struct train_model *m, const struct step_shape *s)
{
	const struct train_config *c = &m->cfg;
	struct top_acts t = top_acts_get(m);
	const size_t stride = (size_t)m->max_batch * c->n_ctx * c->dim; /* one resid entry */
	const struct train_tensor *out_norm = &m->tensors[m->n_tensors - 2], *out = &m->tensors[m->n_tensors - 1];

	train_embedding_forward(t.resid, m->tensors[0].data, m->ids, s->n, c->dim, c->n_vocab);
	for (int l = 0; l < c->n_layers; l++)
		layer_forward(m, l, s, t.resid + l * stride, t.resid + (l + 1) * stride);
	train_rmsnorm_forward(t.xnf, t.resid + c->n_layers * stride, out_norm->data, s->n, c->dim, c->norm_eps);
	train_matmul_forward_mt(m->pool, t.logits, t.xnf, out->data, s->n, c->dim, c->n_vocab);
	return train_cross_entropy_forward(t.logits, m->targets, s->n, c->n_vocab);
}

/* ---- backward -------------------------------------------------------- */

static void zero(float *p, size_t n)
{
	memset(p, 0, n * sizeof(float));
}

/* Layer l: t->dx holds dloss/dx_next on entry and dloss/dx on return. */
static void layer_backward(struct train_model *m, int l, const struct step_shape *s, const float *x,
			   const struct top_acts *t)
{
	const struct train_config *c = &m->cfg;
	struct layer_acts a = layer_acts_at(m, l);
	const int n = s->n, d = c->dim, hd = s->head_dim, kvd = s->kv_dim, hid = c->hidden;

	/* FFN: x_next = xmid + h Wdown^T, so dx (the residual) passes straight on. */
	zero(t->dh, (size_t)n * hid);
	train_matmul_backward_mt(m->pool, t->dh, G(m, l, TRAIN_T_DOWN), t->dx, a.h, W(m, l, TRAIN_T_DOWN), n, hid, d);
	zero(t->dgate, (size_t)n * hid);
	zero(t->dup, (size_t)n * hid);
	train_swiglu_backward(t->dgate, t->dup, t->dh, a.gate, a.up, (size_t)n * hid);
	zero(t->dxn, (size_t)n * d);
	train_matmul_backward_mt(m->pool, t->dxn, G(m, l, TRAIN_T_GATE), t->dgate, a.xn2, W(m, l, TRAIN_T_GATE), n, d, hid);
	train_matmul_backward_mt(m->pool, t->dxn, G(m, l, TRAIN_T_UP), t->dup, a.xn2, W(m, l, TRAIN_T_UP), n, d, hid);
	train_rmsnorm_backward(t->dx, G(m, l, TRAIN_T_FFN_NORM), t->dxn, a.xmid, W(m, l, TRAIN_T_FFN_NORM), n, d,
			       c->norm_eps);

	/* Attention: xmid = x + attout Wo^T. */
	zero(t->dattout, (size_t)n * d);
	train_matmul_backward_mt(m->pool, t->dattout, G(m, l, TRAIN_T_O), t->dx, a.attout, W(m, l, TRAIN_T_O), n, d, d);
	zero(t->dq, (size_t)n * d);
	zero(t->dk, (size_t)n * kvd);
	zero(t->dv, (size_t)n * kvd);
	for (int b = 0; b < s->batch; b++) {
		size_t r = (size_t)b * s->seq;
		train_attention_backward(t->dq + r * d, t->dk + r * kvd, t->dv + r * kvd, t->dattout + r * d,
					 a.attout + r * d, a.att + r * c->n_heads * s->seq, a.q + r * d, a.k + r * kvd,
					 a.v + r * kvd, s->seq, c->n_heads, c->n_kv_heads, hd);
	}
	/* q and k were kept after rope; turn their gradients into gradients
	 * of the projections' outputs. */
	train_rope_backward(t->dq, m->pos, n, c->n_heads, hd, hd, c->rope_theta, false);
	train_rope_backward(t->dk, m->pos, n, c->n_kv_heads, hd, hd, c->rope_theta, false);
	zero(t->dxn, (size_t)n * d);
	train_matmul_backward_mt(m->pool, t->dxn, G(m, l, TRAIN_T_Q), t->dq, a.xn1, W(m, l, TRAIN_T_Q), n, d, d);
	train_matmul_backward_mt(m->pool, t->dxn, G(m, l, TRAIN_T_K), t->dk, a.xn1, W(m, l, TRAIN_T_K), n, d, kvd);
	train_matmul_backward_mt(m->pool, t->dxn, G(m, l, TRAIN_T_V), t->dv, a.xn1, W(m, l, TRAIN_T_V), n, d, kvd);
	train_rmsnorm_backward(t->dx, G(m, l, TRAIN_T_ATTN_NORM), t->dxn, x, W(m, l, TRAIN_T_ATTN_NORM), n, d,
			       c->norm_eps);
}

/* Adds dloss * d(loss)/d(params) to the gradients; needs model_forward's
 * activations of the same step. */
static void model_backward(struct train_model *m, const struct step_shape *s, float dloss)
{
	const struct train_config *c = &m->cfg;
	struct top_acts t = top_acts_get(m);
	const size_t stride = (size_t)m->max_batch * c->n_ctx * c->dim;
	const struct train_tensor *out_norm = &m->tensors[m->n_tensors - 2], *out = &m->tensors[m->n_tensors - 1];
	const size_t n = (size_t)s->n;

	zero(t.dlogits, n * c->n_vocab);
	train_cross_entropy_backward(t.dlogits, t.logits, m->targets, s->n, c->n_vocab, dloss);
	zero(t.dxn, n * c->dim);
	train_matmul_backward_mt(m->pool, t.dxn, out->grad, t.dlogits, t.xnf, out->data, s->n, c->dim, c->n_vocab);
	zero(t.dx, n * c->dim);
	train_rmsnorm_backward(t.dx, out_norm->grad, t.dxn, t.resid + c->n_layers * stride, out_norm->data, s->n,
			       c->dim, c->norm_eps);
	for (int l = c->n_layers - 1; l >= 0; l--)
		layer_backward(m, l, s, t.resid + l * stride, &t);
	train_embedding_backward(m->tensors[0].grad, t.dx, m->ids, s->n, c->dim, c->n_vocab);
}

/* ---- entry points ---------------------------------------------------- */

/* Checks a step's arguments and fills ids, targets and pos from tokens
 * (batch, seq + 1). Nothing is written unless all of it is valid. */
static enum ajar_err step_prepare(struct train_model *m, const int32_t *tokens, int batch, int seq,
				  struct step_shape *s)
{
	const struct train_config *c = &m->cfg;

	if (batch < 1 || batch > m->max_batch || seq < 1 || seq > c->n_ctx)
		return ajar_errf(AJAR_ERR_INVALID, "train step: batch %d x seq %d outside 1..%d x 1..%d", batch, seq,
				 m->max_batch, c->n_ctx);
	for (int b = 0; b < batch; b++)
		for (int i = 0; i <= seq; i++) {
			int32_t tok = tokens[(size_t)b * (seq + 1) + i];
			if (tok < 0 || tok >= c->n_vocab)
				return ajar_errf(AJAR_ERR_INVALID, "train step: token %d at [%d][%d] not in 0..%d", tok,
						 b, i, c->n_vocab - 1);
		}
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < seq; i++) {
			size_t row = (size_t)b * seq + i;
			m->ids[row] = tokens[(size_t)b * (seq + 1) + i];
			m->targets[row] = tokens[(size_t)b * (seq + 1) + i + 1];
			m->pos[row] = i;
		}
	*s = (struct step_shape){ .batch = batch, .seq = seq, .n = batch * seq, .head_dim = c->dim / c->n_heads,
				  .kv_dim = c->dim / c->n_heads * c->n_kv_heads };
	return AJAR_OK;
}

enum ajar_err train_forward(struct train_model *m, const int32_t *tokens, int batch, int seq, float *loss)
{
	struct step_shape s;
	enum ajar_err err = step_prepare(m, tokens, batch, seq, &s);
	if (err)
		return err;
	*loss = model_forward(m, &s);
	return AJAR_OK;
}

enum ajar_err train_model_accumulate(struct train_model *m, const int32_t *tokens, int batch, int seq, float dloss,
				     float *loss)
{
	struct step_shape s;
	enum ajar_err err = step_prepare(m, tokens, batch, seq, &s);
	if (err)
		return err;
	*loss = model_forward(m, &s);
	model_backward(m, &s, dloss);
	return AJAR_OK;
}

enum ajar_err train_forward_backward(struct train_model *m, const int32_t *tokens, int batch, int seq, float *loss)
{
	struct step_shape s;
	enum ajar_err err = step_prepare(m, tokens, batch, seq, &s);
	if (err)
		return err;
	train_model_zero_grads(m);
	*loss = model_forward(m, &s);
	model_backward(m, &s, 1.0f);
	return AJAR_OK;
}

const float *train_model_logits(const struct train_model *m)
{
	return top_acts_get(m).logits;
}
