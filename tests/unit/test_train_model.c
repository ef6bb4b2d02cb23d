/*
 * Unit tests for the Llama training model (src/train/train_model.c).
 *
 * - the size table: names (GGUF's), shapes, decay flags, one layout for
 *   parameters and gradients; bad configs and steps refused.
 * - initialization: deterministic per seed, normal(0, 0.02) with the
 *   residual projections scaled by 1/sqrt(2 n_layers), gains 1; the first
 *   loss is close to log(n_vocab).
 * - the forward against a plain double reference written from
 *   src/model/llama.c's description (no train_ops code), on large weights.
 * - whole-model gradient check: for parameters picked at random in every
 *   tensor, the analytic gradient against central differences of the
 *   forward's loss, with Richardson extrapolation (see test_train_ops.c):
 *   D(h) = (L(p+h) - L(p-h)) / 2h, numeric = (4 D(h/2) - D(h)) / 3, and
 *   err = |analytic - numeric| / max(|analytic|, |numeric|, GC_FLOOR) under
 *   GC_TOL: relative for gradients above GC_FLOOR, absolute (1e-4) below.
 *   The weights are drawn larger than the init (matrices uniform in +-0.5,
 *   gains 1 +- 0.3) so most gradients are well above the float rounding of
 *   the loss (about 2.5e-7 on a loss near 2.5), which the differences
 *   divide by 2h: the numeric gradient carries an absolute noise of about
 *   1e-5, hence the floor. The step trades that noise (larger at smaller h)
 *   against the h^4 term Richardson leaves (at h = 5e-2 a gain's gradient
 *   of 0.37 is off by 0.7%). A wrong term gives errors of order 1.
 * - gradient accumulation: two half-batches at dloss 1/2 give the gradient
 *   of the whole batch.
 * - overfitting: AdamW drives one fixed batch's loss near zero.
 * - determinism: two runs from one seed give bit-identical losses.
 *
 * - the forward against ajar's inference: the weights written as an F32
 *   llama GGUF (by the test itself, with a throwaway tokenizer), loaded with
 *   ajar_model_load and decoded; every logit agrees.
 */
#include "check.h"
#include "train/train_model.h"

#include <assert.h>
#include <stdint.h>

#include <unistd.h>

#include "ajar/gguf.h"
#include "ajar/tensor.h"
#include "ajar/model.h"
#include "train/adamw.h"

#define GC_STEP 2e-2f
#define GC_FLOOR 1e-2
#define GC_TOL 1e-2

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static float rng_uniform(void) /* [-1, 1) */
{
	return (float)((double)rng_next() / 2147483648.0 - 1.0);
}

static struct train_config tiny_config(void)
{
	return (struct train_config){ .n_vocab = 11, .dim = 8, .n_layers = 2, .n_heads = 2, .n_kv_heads = 1,
				      .hidden = 16, .n_ctx = 5, .norm_eps = 1e-5f, .rope_theta = 10000.0f };
}

/* (batch, seq + 1) random tokens; row b starts with token b so no two rows
 * share a prefix (a memorizable batch). */
static void random_tokens(int32_t *tokens, int batch, int seq, int vocab)
{
	for (int b = 0; b < batch; b++)
		for (int i = 0; i <= seq; i++)
			tokens[b * (seq + 1) + i] = i == 0 ? b % vocab : (int32_t)(rng_next() % (uint32_t)vocab);
}

/* ---- the size table ---------------------------------------------------- */

static void test_table(void)
{
	struct train_config c = tiny_config();
	struct train_model *m = NULL;
	CHECK_OK(train_model_create(&c, 2, 1, &m));
	if (!m)
		return;
	CHECK_EQ_INT(m->n_tensors, 3 + 9 * 2);
	CHECK_STR(m->tensors[0].name, "token_embd.weight");
	CHECK_STR(m->tensors[1].name, "blk.0.attn_norm.weight");
	CHECK_STR(m->tensors[3].name, "blk.0.attn_k.weight");
	CHECK_STR(m->tensors[9].name, "blk.0.ffn_down.weight");
	CHECK_STR(m->tensors[14].name, "blk.1.attn_output.weight");
	CHECK_STR(m->tensors[19].name, "output_norm.weight");
	CHECK_STR(m->tensors[20].name, "output.weight");
	CHECK_EQ_INT(train_model_layer_tensor(m, 1, TRAIN_T_UP) - m->tensors, 17);

	/* kv_dim = 8 / 2 heads * 1 kv head = 4 */
	struct train_tensor *k = train_model_layer_tensor(m, 0, TRAIN_T_K);
	CHECK_EQ_INT(k->rows, 4);
	CHECK_EQ_INT(k->cols, 8);
	struct train_tensor *down = train_model_layer_tensor(m, 1, TRAIN_T_DOWN);
	CHECK_EQ_INT(down->rows, 8);
	CHECK_EQ_INT(down->cols, 16);

	size_t per_layer = 8 + 64 + 32 + 32 + 64 + 8 + 3 * 128;
	CHECK_EQ_INT(m->n_params, 11 * 8 + 2 * per_layer + 8 + 11 * 8);
	size_t off = 0;
	for (size_t i = 0; i < m->n_tensors; i++) {
		const struct train_tensor *t = &m->tensors[i];
		CHECK(t->data == m->params + off && t->grad == m->grads + off);
		CHECK_EQ_INT(t->n, (size_t)t->rows * t->cols);
		CHECK(t->decay == (t->rows != 1)); /* norms alone are not decayed */
		off += t->n;
	}
	CHECK_EQ_INT(off, m->n_params);

	struct adamw_tensor at[21];
	train_model_adamw_tensors(m, at);
	CHECK(at[5].param == m->tensors[5].data && at[5].grad == m->tensors[5].grad && at[5].n == m->tensors[5].n);
	CHECK(!at[19].decay && at[20].decay);
	train_model_free(m);
}

static void test_bad_config(void)
{
	struct train_model *m = (struct train_model *)1;
	struct train_config c = tiny_config();
	c.n_heads = 3; /* 8 not divisible by 3 */
	CHECK_EQ_INT(train_model_create(&c, 1, 1, &m), AJAR_ERR_INVALID);
	CHECK(m == NULL);
	c = tiny_config();
	c.n_kv_heads = 3;
	CHECK_EQ_INT(train_model_create(&c, 1, 1, &m), AJAR_ERR_INVALID);
	c = tiny_config();
	c.n_heads = 8; /* head_dim 1: rope needs pairs */
	c.n_kv_heads = 8;
	CHECK_EQ_INT(train_model_create(&c, 1, 1, &m), AJAR_ERR_INVALID);
	c = tiny_config();
	c.norm_eps = 0;
	CHECK_EQ_INT(train_model_create(&c, 1, 1, &m), AJAR_ERR_INVALID);
	c = tiny_config();
	CHECK_EQ_INT(train_model_create(&c, 0, 1, &m), AJAR_ERR_INVALID);
	c.n_ctx = 1 << 20;
	c.n_heads = 1 << 20;
	c.dim = 1 << 21;
	CHECK_EQ_INT(train_model_create(&c, 1 << 20, 1, &m), AJAR_ERR_LIMIT);

	/* bad steps: nothing computed, an error returned */
	c = tiny_config();
	CHECK_OK(train_model_create(&c, 2, 1, &m));
	if (!m)
		return;
	int32_t tokens[3 * 6] = { 0 };
	float loss = -1;
	CHECK_EQ_INT(train_forward_backward(m, tokens, 3, 5, &loss), AJAR_ERR_INVALID); /* batch > max */
	CHECK_EQ_INT(train_forward_backward(m, tokens, 1, 6, &loss), AJAR_ERR_INVALID); /* seq > n_ctx */
	tokens[4] = 11;
	CHECK_EQ_INT(train_forward(m, tokens, 1, 5, &loss), AJAR_ERR_INVALID);
	tokens[4] = -1;
	CHECK_EQ_INT(train_forward(m, tokens, 1, 5, &loss), AJAR_ERR_INVALID);
	CHECK(loss == -1);
	train_model_free(m);
}

/* ---- initialization ------------------------------------------------------ */

static double tensor_std(const struct train_tensor *t)
{
	double s = 0, s2 = 0;
	for (size_t i = 0; i < t->n; i++) {
		s += t->data[i];
		s2 += (double)t->data[i] * t->data[i];
	}
	double mean = s / (double)t->n;
	return sqrt(s2 / (double)t->n - mean * mean);
}

static void test_init(void)
{
	struct train_config c = { .n_vocab = 256, .dim = 64, .n_layers = 4, .n_heads = 4, .n_kv_heads = 2,
				  .hidden = 192, .n_ctx = 8, .norm_eps = 1e-5f, .rope_theta = 10000.0f };
	struct train_model *a = NULL, *b = NULL, *other = NULL;
	CHECK_OK(train_model_create(&c, 1, 42, &a));
	CHECK_OK(train_model_create(&c, 1, 42, &b));
	CHECK_OK(train_model_create(&c, 1, 43, &other));
	if (!a || !b || !other)
		goto out;
	CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0);
	CHECK(memcmp(a->params, other->params, a->n_params * sizeof(float)) != 0);

	/* 16384 samples: the std estimate is within about 1% */
	CHECK_NEAR(tensor_std(&a->tensors[0]), 0.02, 0.001);
	CHECK_NEAR(tensor_std(train_model_layer_tensor(a, 2, TRAIN_T_GATE)), 0.02, 0.001);
	double resid = 0.02 / sqrt(8.0);
	CHECK_NEAR(tensor_std(train_model_layer_tensor(a, 3, TRAIN_T_DOWN)), resid, resid * 0.05);
	CHECK_NEAR(tensor_std(train_model_layer_tensor(a, 0, TRAIN_T_O)), resid, resid * 0.05);
	const struct train_tensor *g = train_model_layer_tensor(a, 1, TRAIN_T_FFN_NORM);
	for (size_t i = 0; i < g->n; i++)
		CHECK(g->data[i] == 1.0f);

	/* Small weights give near-uniform logits: loss close to log(vocab). */
	int32_t tokens[9];
	random_tokens(tokens, 1, 8, 256);
	float loss = 0;
	CHECK_OK(train_forward(a, tokens, 1, 8, &loss));
	CHECK_NEAR(loss, log(256.0), 0.05);
out:
	train_model_free(a);
	train_model_free(b);
	train_model_free(other);
}

/* ---- the forward against a plain double reference ------------------------ */

/*
 * The loss of the Llama forward, written out with plain loops in double as
 * src/model/llama.c and ops.c compute it (rmsnorm x * scale * g; rope on
 * dims (2i, 2i+1) at angle pos * base^(-2i/head_dim); query head h reads kv
 * head h / (n_heads / n_kv_heads); causal softmax of q.k / sqrt(head_dim);
 * silu(gate) * up), sharing no code with train_ops. Sizes up to REF_MAX.
 */
enum { REF_MAX = 32 };

static void ref_rmsnorm(double *y, const double *x, const float *g, int d, double eps)
{
	double ss = 0;
	for (int j = 0; j < d; j++)
		ss += x[j] * x[j];
	double r = 1.0 / sqrt(ss / d + eps);
	for (int j = 0; j < d; j++)
		y[j] = x[j] * r * g[j];
}

static void ref_matvec(double *y, const double *x, const float *w, int in, int out)
{
	for (int o = 0; o < out; o++) {
		y[o] = 0;
		for (int j = 0; j < in; j++)
			y[o] += (double)w[(size_t)o * in + j] * x[j];
	}
}

static void ref_rope(double *v, int n_heads, int hd, int pos, double base)
{
	for (int h = 0; h < n_heads; h++)
		for (int i = 0; i < hd / 2; i++) {
			double th = pos * pow(base, -2.0 * i / hd);
			double a = v[h * hd + 2 * i], b = v[h * hd + 2 * i + 1];
			v[h * hd + 2 * i] = a * cos(th) - b * sin(th);
			v[h * hd + 2 * i + 1] = a * sin(th) + b * cos(th);
		}
}

/* Causal attention of one sequence: out (seq, dim) from q (seq, dim) and
 * k, v (seq, kv_dim). */
static void ref_attention(double out[][REF_MAX], double q[][REF_MAX], double k[][REF_MAX], double v[][REF_MAX],
			  const struct train_config *c, int seq)
{
	int hd = c->dim / c->n_heads, group = c->n_heads / c->n_kv_heads;
	for (int t = 0; t < seq; t++)
		for (int h = 0; h < c->n_heads; h++) {
			double p[REF_MAX], max = -INFINITY, sum = 0;
			int kh = h / group;
			for (int j = 0; j <= t; j++) {
				p[j] = 0;
				for (int e = 0; e < hd; e++)
					p[j] += q[t][h * hd + e] * k[j][kh * hd + e];
				p[j] /= sqrt((double)hd);
				max = fmax(max, p[j]);
			}
			for (int j = 0; j <= t; j++)
				sum += p[j] = exp(p[j] - max);
			for (int e = 0; e < hd; e++) {
				out[t][h * hd + e] = 0;
				for (int j = 0; j <= t; j++)
					out[t][h * hd + e] += p[j] / sum * v[j][kh * hd + e];
			}
		}
}

/* One layer over one sequence's residual stream x (seq, dim), in place. */
static void ref_layer(struct train_model *m, int l, double x[][REF_MAX], int seq)
{
	const struct train_config *c = &m->cfg;
	int d = c->dim, kvd = d / c->n_heads * c->n_kv_heads, hd = d / c->n_heads;
	static double xn[REF_MAX][REF_MAX], q[REF_MAX][REF_MAX], k[REF_MAX][REF_MAX], v[REF_MAX][REF_MAX];
	static double att[REF_MAX][REF_MAX], gate[REF_MAX], up[REF_MAX], y[REF_MAX];
#define T(which) (train_model_layer_tensor(m, l, (which))->data)
	for (int t = 0; t < seq; t++) {
		ref_rmsnorm(xn[t], x[t], T(TRAIN_T_ATTN_NORM), d, c->norm_eps);
		ref_matvec(q[t], xn[t], T(TRAIN_T_Q), d, d);
		ref_matvec(k[t], xn[t], T(TRAIN_T_K), d, kvd);
		ref_matvec(v[t], xn[t], T(TRAIN_T_V), d, kvd);
		ref_rope(q[t], c->n_heads, hd, t, c->rope_theta);
		ref_rope(k[t], c->n_kv_heads, hd, t, c->rope_theta);
	}
	ref_attention(att, q, k, v, c, seq);
	for (int t = 0; t < seq; t++) {
		ref_matvec(y, att[t], T(TRAIN_T_O), d, d);
		for (int j = 0; j < d; j++)
			x[t][j] += y[j];
		ref_rmsnorm(xn[t], x[t], T(TRAIN_T_FFN_NORM), d, c->norm_eps);
		ref_matvec(gate, xn[t], T(TRAIN_T_GATE), d, c->hidden);
		ref_matvec(up, xn[t], T(TRAIN_T_UP), d, c->hidden);
		for (int j = 0; j < c->hidden; j++)
			gate[j] = gate[j] / (1 + exp(-gate[j])) * up[j];
		ref_matvec(y, gate, T(TRAIN_T_DOWN), c->hidden, d);
		for (int j = 0; j < d; j++)
			x[t][j] += y[j];
	}
#undef T
}

static double ref_loss(struct train_model *m, const int32_t *tokens, int batch, int seq)
{
	const struct train_config *c = &m->cfg;
	static double x[REF_MAX][REF_MAX];
	double xn[REF_MAX], logits[REF_MAX], loss = 0;

	assert(seq <= REF_MAX && c->dim <= REF_MAX && c->hidden <= REF_MAX && c->n_vocab <= REF_MAX);
	for (int b = 0; b < batch; b++) {
		const int32_t *row = tokens + b * (seq + 1);
		for (int t = 0; t < seq; t++)
			for (int j = 0; j < c->dim; j++)
				x[t][j] = m->tensors[0].data[row[t] * c->dim + j];
		for (int l = 0; l < c->n_layers; l++)
			ref_layer(m, l, x, seq);
		for (int t = 0; t < seq; t++) {
			double max = -INFINITY, sum = 0;
			ref_rmsnorm(xn, x[t], m->tensors[m->n_tensors - 2].data, c->dim, c->norm_eps);
			ref_matvec(logits, xn, m->tensors[m->n_tensors - 1].data, c->dim, c->n_vocab);
			for (int j = 0; j < c->n_vocab; j++)
				max = fmax(max, logits[j]);
			for (int j = 0; j < c->n_vocab; j++)
				sum += exp(logits[j] - max);
			loss += log(sum) + max - logits[row[t + 1]];
		}
	}
	return loss / (batch * seq);
}

/* Weights well away from the init's near-zero ones, so every path (rope
 * angles, attention weights, the gates) shapes the result. */
static void randomize_weights(struct train_model *m)
{
	for (size_t i = 0; i < m->n_tensors; i++) {
		struct train_tensor *t = &m->tensors[i];
		for (size_t j = 0; j < t->n; j++)
			t->data[j] = t->decay ? 0.5f * rng_uniform() : 1.0f + 0.3f * rng_uniform();
	}
}

static void test_reference_forward(void)
{
	struct train_config c = tiny_config();
	struct train_model *m = NULL;
	int32_t tokens[2 * 6];
	float loss = 0;

	c.rope_theta = 100.0f; /* larger angles at these short positions */
	CHECK_OK(train_model_create(&c, 2, 9, &m));
	if (!m)
		return;
	randomize_weights(m);
	random_tokens(tokens, 2, 5, c.n_vocab);
	CHECK_OK(train_forward(m, tokens, 2, 5, &loss));
	double ref = ref_loss(m, tokens, 2, 5);
	if (getenv("AJAR_TEST_VERBOSE"))
		printf("reference forward: loss %.7f, double reference %.7f\n", loss, ref);
	/* float forward vs double: rounding is about 1e-7 relative per op */
	CHECK_NEAR(loss, ref, 1e-5 * ref);
	CHECK(fabs(ref - log(11.0)) > 0.1); /* the weights do shape the loss */
	train_model_free(m);
}

/* ---- the forward against ajar's inference -------------------------------- */

/* Writes m as an F32 llama GGUF with a throwaway tokenizer (token i is the
 * letter 'a' + i), the layout ajar_model_load reads. */
static void write_gguf(const struct train_model *m, const char *path)
{
	const struct train_config *c = &m->cfg;
	struct gguf_writer *w = NULL;
	struct gguf_str tok[REF_MAX];
	static char letters[REF_MAX][2];
	float scores[REF_MAX] = { 0 };
	int32_t types[REF_MAX];

	assert(c->n_vocab <= REF_MAX);
	for (int i = 0; i < c->n_vocab; i++) {
		letters[i][0] = (char)('a' + i);
		tok[i] = (struct gguf_str){ letters[i], 1 };
		types[i] = 1; /* normal */
	}
	CHECK_OK(gguf_writer_new(&w));
	if (!w)
		return;
	CHECK_OK(gguf_writer_set_str(w, "general.architecture", "llama"));
	CHECK_OK(gguf_writer_set_u32(w, "llama.context_length", (uint32_t)c->n_ctx));
	CHECK_OK(gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)c->dim));
	CHECK_OK(gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden));
	CHECK_OK(gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads));
	CHECK_OK(gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads));
	CHECK_OK(gguf_writer_set_u32(w, "llama.block_count", (uint32_t)c->n_layers));
	CHECK_OK(gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps));
	CHECK_OK(gguf_writer_set_f32(w, "llama.rope.freq_base", c->rope_theta));
	CHECK_OK(gguf_writer_set_str(w, "tokenizer.ggml.model", "llama"));
	CHECK_OK(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, (uint64_t)c->n_vocab));
	CHECK_OK(gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (uint64_t)c->n_vocab));
	CHECK_OK(gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (uint64_t)c->n_vocab));
	for (size_t i = 0; i < m->n_tensors; i++) {
		const struct train_tensor *t = &m->tensors[i];
		uint64_t ne[2] = { (uint64_t)t->cols, (uint64_t)t->rows };
		CHECK_OK(gguf_writer_add_tensor(w, t->name, AJAR_TYPE_F32, t->rows == 1 ? 1 : 2, ne, t->data));
	}
	CHECK_OK(gguf_writer_write(w, path));
	gguf_writer_free(w);
}

/* The train forward's logits for every token against ajar_decode's on the
 * same weights, both sequences of the batch decoded as two cache slots. */
static void test_inference_forward(void)
{
	struct train_config c = tiny_config();
	enum { BATCH = 2, SEQ = 5, N = BATCH * SEQ };
	struct train_model *tm = NULL;
	struct ajar_model *im = NULL;
	struct ajar_context *ctx = NULL;
	int32_t tokens[BATCH * (SEQ + 1)], ids[N], pos[N], seq[N];
	bool want[N];
	float loss = 0, logits[N * 11];
	char path[128];

	CHECK_OK(train_model_create(&c, BATCH, 13, &tm));
	if (!tm)
		return;
	randomize_weights(tm);
	random_tokens(tokens, BATCH, SEQ, c.n_vocab);
	CHECK_OK(train_forward(tm, tokens, BATCH, SEQ, &loss));
	snprintf(path, sizeof(path), "/tmp/ajar_test_train_model_%ld.gguf", (long)getpid());
	write_gguf(tm, path);
	CHECK_OK(ajar_model_load(path, &im));
	unlink(path);
	struct ajar_context_params cp = { .n_ctx = SEQ, .n_seq = BATCH, .n_batch = N, .n_threads = 1 };
	if (im)
		CHECK_OK(ajar_context_new(im, &cp, &ctx));
	if (!ctx)
		goto out;
	for (int i = 0; i < N; i++) {
		ids[i] = tokens[i / SEQ * (SEQ + 1) + i % SEQ];
		pos[i] = i % SEQ;
		seq[i] = i / SEQ;
		want[i] = true;
	}
	struct ajar_batch b = { .n = N, .tokens = ids, .pos = pos, .seq = seq, .want_logits = want };
	CHECK_OK(ajar_decode(ctx, &b, logits));
	const float *train_logits = train_model_logits(tm);
	double worst = 0;
	for (int i = 0; i < N * c.n_vocab; i++)
		worst = fmax(worst, fabs((double)logits[i] - train_logits[i]));
	printf("inference: largest logit difference %.3g over %d logits\n", worst, N * c.n_vocab);
	/* both float, same op order in most places; the matmul kernels and the
	 * attention's sums may round differently */
	CHECK_MSG(worst < 1e-4, "logits differ by %g", worst);
out:
	ajar_context_free(ctx);
	ajar_model_free(im);
	train_model_free(tm);
}

/* ---- whole-model gradient check ------------------------------------------ */

struct gc_case {
	struct train_model *m;
	const int32_t *tokens;
	int batch, seq;
};

static double gc_loss(struct gc_case *g)
{
	float loss = 0;
	enum ajar_err err = train_forward(g->m, g->tokens, g->batch, g->seq, &loss);
	CHECK_OK(err);
	return loss;
}

static double gc_central(struct gc_case *g, float *p, float h)
{
	float saved = *p;
	*p = saved + h;
	double lp = gc_loss(g);
	*p = saved - h;
	double lm = gc_loss(g);
	*p = saved;
	return (lp - lm) / ((double)(saved + h) - (double)(saved - h));
}

static void test_gradient_check(void)
{
	struct train_config c = tiny_config();
	struct train_model *m = NULL;
	enum { BATCH = 2, SEQ = 5, PER_TENSOR = 2 };
	int32_t tokens[BATCH * (SEQ + 1)];
	float loss = 0;

	rng_state = 0x9e3779b97f4a7c15ull; /* the same picks whatever ran before */
	CHECK_OK(train_model_create(&c, BATCH, 7, &m));
	if (!m)
		return;
	randomize_weights(m);
	random_tokens(tokens, BATCH, SEQ, c.n_vocab);
	CHECK_OK(train_forward_backward(m, tokens, BATCH, SEQ, &loss));

	struct gc_case g = { .m = m, .tokens = tokens, .batch = BATCH, .seq = SEQ };
	CHECK(gc_loss(&g) == loss); /* the forward alone computes the same loss */
	double worst = 0;
	int checked = 0;
	for (size_t i = 0; i < m->n_tensors; i++) {
		struct train_tensor *t = &m->tensors[i];
		for (int r = 0; r < PER_TENSOR; r++) {
			size_t j = rng_next() % t->n;
			if (i == 0) /* an embedding row that an input token reads */
				j = (size_t)tokens[rng_next() % (BATCH * (SEQ + 1))] * c.dim + rng_next() % c.dim;
			double d1 = gc_central(&g, &t->data[j], GC_STEP);
			double d2 = gc_central(&g, &t->data[j], GC_STEP / 2);
			double num = (4 * d2 - d1) / 3, an = t->grad[j];
			double err = fabs(an - num) / fmax(fmax(fabs(an), fabs(num)), GC_FLOOR);
			if (getenv("AJAR_TEST_VERBOSE"))
				printf("  %-26s [%3zu] analytic %+.6e numeric %+.6e err %.2e\n", t->name, j, an, num, err);
			CHECK_MSG(err < GC_TOL, "%s[%zu]: analytic %g numeric %g err %g", t->name, j, an, num, err);
			worst = fmax(worst, err);
			checked++;
		}
	}
	printf("gradient check: %d parameters, worst error %.3g (tolerance %g)\n", checked, worst, GC_TOL);
	train_model_free(m);
}

/* ---- gradient accumulation ----------------------------------------------- */

static void test_accumulate(void)
{
	struct train_config c = tiny_config();
	struct train_model *m = NULL;
	int32_t tokens[2 * 6];
	float loss = 0, l0 = 0, l1 = 0;

	CHECK_OK(train_model_create(&c, 2, 3, &m));
	float *full = malloc(m ? m->n_params * sizeof(float) : 1);
	if (!m || !full)
		goto out;
	random_tokens(tokens, 2, 5, c.n_vocab);
	CHECK_OK(train_forward_backward(m, tokens, 2, 5, &loss));
	memcpy(full, m->grads, m->n_params * sizeof(float));

	/* Both rows count 5 targets, so the batch's mean is the rows' mean. */
	train_model_zero_grads(m);
	CHECK_OK(train_model_accumulate(m, tokens, 1, 5, 0.5f, &l0));
	CHECK_OK(train_model_accumulate(m, tokens + 6, 1, 5, 0.5f, &l1));
	CHECK_NEAR((l0 + l1) / 2, loss, 1e-6);
	double worst = 0, scale = 0;
	for (size_t i = 0; i < m->n_params; i++) {
		worst = fmax(worst, fabs(m->grads[i] - full[i]));
		scale = fmax(scale, fabs(full[i]));
	}
	CHECK_MSG(worst <= 1e-5 * scale, "accumulated gradient differs by %g (largest %g)", worst, scale);
out:
	free(full);
	train_model_free(m);
}

/* ---- training ------------------------------------------------------------ */

/* steps AdamW steps (lr, no weight decay or clipping) on one batch; writes
 * each step's loss to losses. */
static void train_steps(struct train_model *m, const int32_t *tokens, int batch, int seq, int steps, float lr,
			float *losses)
{
	struct adamw opt;
	struct adamw_params hp = adamw_params_default();
	size_t *sizes = malloc(m->n_tensors * sizeof(*sizes));
	struct adamw_tensor *ts = malloc(m->n_tensors * sizeof(*ts));

	hp.lr = lr;
	hp.weight_decay = 0;
	if (!sizes || !ts)
		abort(); /* the test cannot go on */
	for (size_t i = 0; i < m->n_tensors; i++)
		sizes[i] = m->tensors[i].n;
	CHECK_OK(adamw_init(&opt, sizes, m->n_tensors));
	train_model_adamw_tensors(m, ts);
	for (int s = 0; s < steps; s++) {
		CHECK_OK(train_forward_backward(m, tokens, batch, seq, &losses[s]));
		CHECK_OK(adamw_step(&opt, &hp, ts, m->n_tensors));
	}
	adamw_free(&opt);
	free(ts);
	free(sizes);
}

static void test_overfit(void)
{
	struct train_config c = { .n_vocab = 16, .dim = 16, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
				  .hidden = 32, .n_ctx = 16, .norm_eps = 1e-5f, .rope_theta = 10000.0f };
	enum { BATCH = 2, SEQ = 16, STEPS = 300 };
	struct train_model *m = NULL;
	int32_t tokens[BATCH * (SEQ + 1)];
	float losses[STEPS];

	CHECK_OK(train_model_create(&c, BATCH, 11, &m));
	if (!m)
		return;
	random_tokens(tokens, BATCH, SEQ, c.n_vocab);
	train_steps(m, tokens, BATCH, SEQ, STEPS, 1e-2f, losses);
	float final = 0;
	CHECK_OK(train_forward(m, tokens, BATCH, SEQ, &final));
	printf("overfit: loss %.4f at step 0, %.4f at step 100, %.4f at step 200, %.5f after %d steps\n", losses[0],
	       losses[100], losses[200], final, STEPS);
	CHECK_NEAR(losses[0], log(16.0), 0.05);
	CHECK_MSG(final < 0.1f, "final loss %g", final);
	train_model_free(m);
}

static void test_determinism(void)
{
	struct train_config c = tiny_config();
	enum { STEPS = 20 };
	struct train_model *a = NULL, *b = NULL;
	int32_t tokens[2 * 6];
	float la[STEPS], lb[STEPS];

	CHECK_OK(train_model_create(&c, 2, 5, &a));
	CHECK_OK(train_model_create(&c, 2, 5, &b));
	if (!a || !b)
		goto out;
	random_tokens(tokens, 2, 5, c.n_vocab);
	train_steps(a, tokens, 2, 5, STEPS, 1e-2f, la);
	train_steps(b, tokens, 2, 5, STEPS, 1e-2f, lb);
	CHECK(memcmp(la, lb, sizeof(la)) == 0);
	CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0);
	CHECK(la[STEPS - 1] < la[0]);
out:
	train_model_free(a);
	train_model_free(b);
}

/*
 * The step's matmuls split their outputs over threads with one writer per
 * element and the single-thread sum order, so loss and gradients must be
 * bit-identical for any thread count. Sizes are not multiples of the
 * 16-row forward split, so threads get ragged row ranges.
 */
static void test_threads(void)
{
	struct train_config c = { .n_vocab = 37, .dim = 40, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
				  .hidden = 72, .n_ctx = 9, .norm_eps = 1e-5f, .rope_theta = 10000.0f };
	enum { BATCH = 3, SEQ = 9, STEPS = 5 };
	struct train_model *m = NULL, *b = NULL;
	int32_t tokens[BATCH * (SEQ + 1)];
	float *grads1 = NULL, loss1 = 0, loss = 0, l1[STEPS], l2[STEPS];

	CHECK_OK(train_model_create(&c, BATCH, 7, &m));
	CHECK_OK(train_model_create(&c, BATCH, 7, &b));
	if (!m || !b)
		goto out;
	CHECK_EQ_INT(train_model_threads(m), 1);
	CHECK_EQ_INT(train_model_set_threads(m, 0), AJAR_ERR_INVALID);
	CHECK_EQ_INT(train_model_set_threads(m, TRAIN_MAX_THREADS + 1), AJAR_ERR_INVALID);
	grads1 = malloc(m->n_params * sizeof(float));
	CHECK(grads1 != NULL);
	if (!grads1)
		goto out;
	random_tokens(tokens, BATCH, SEQ, c.n_vocab);
	CHECK_OK(train_forward_backward(m, tokens, BATCH, SEQ, &loss1));
	memcpy(grads1, m->grads, m->n_params * sizeof(float));
	for (int n = 2; n <= 3; n++) {
		CHECK_OK(train_model_set_threads(m, n));
		CHECK_EQ_INT(train_model_threads(m), n);
		CHECK_OK(train_forward_backward(m, tokens, BATCH, SEQ, &loss));
		CHECK_MSG(memcmp(&loss, &loss1, sizeof(loss)) == 0, "%d threads: loss %.9g vs %.9g", n, (double)loss,
			  (double)loss1);
		CHECK_MSG(memcmp(m->grads, grads1, m->n_params * sizeof(float)) == 0, "%d threads: gradients differ", n);
	}
	/* whole optimizer steps too: 1 thread (m back at 1) against 2 */
	CHECK_OK(train_model_set_threads(m, 1));
	CHECK_OK(train_model_set_threads(b, 2));
	train_steps(m, tokens, BATCH, SEQ, STEPS, 1e-2f, l1);
	train_steps(b, tokens, BATCH, SEQ, STEPS, 1e-2f, l2);
	CHECK(memcmp(l1, l2, sizeof(l1)) == 0);
	CHECK(memcmp(m->params, b->params, m->n_params * sizeof(float)) == 0);
out:
	free(grads1);
	train_model_free(m);
	train_model_free(b);
}

int main(void)
{
	RUN(test_table);
	RUN(test_bad_config);
	RUN(test_init);
	RUN(test_reference_forward);
	RUN(test_inference_forward);
	RUN(test_gradient_check);
	RUN(test_accumulate);
	RUN(test_overfit);
	RUN(test_determinism);
	RUN(test_threads);
	return check_summary();
}
