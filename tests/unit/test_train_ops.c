/*
 * Unit tests for the training ops (src/train/train_ops.c).
 *
 * Gradient checks: each op's output is reduced to a scalar
 * L = sum(out * r) with fixed random weights r, so every output element
 * matters and dL/dout = r. The analytic gradient (forward, then backward
 * with dout = r into zeroed buffers) is compared, for every input element,
 * with a numeric gradient: central differences D(h) = (L(p+h) - L(p-h)) / 2h
 * at h = FD_STEP and h/2, combined by Richardson extrapolation
 * (4 D(h/2) - D(h)) / 3 so the h^2 truncation term cancels and a fairly
 * large step can be used (L is summed in double, but the ops run in float,
 * and a small step would amplify their rounding). The error measure is
 *   |analytic - numeric| / max(|analytic|, |numeric|, FD_FLOOR)
 * (relative for gradients of at least FD_FLOOR, absolute below, where the
 * float rounding of the forward dominates) and must stay under FD_TOL for
 * every element. Inputs are uniform in [-1, 1] (scaled up where noted).
 * The observed worst case is about 1e-4 (attention dk, cross-entropy);
 * FD_TOL = 1e-3 leaves a 10x margin, while a wrong term gives errors of
 * order 1.
 *
 * Forward values are checked against straightforward double references.
 * The last test composes embedding -> rmsnorm -> matmul -> cross-entropy
 * and overfits a fixed batch with plain SGD.
 */
#include "check.h"
#include "ajar/threadpool.h"
#include "train/train_ops.h"

#include <stdint.h>

#define FD_STEP 4e-2f
#define FD_FLOOR 1e-1
#define FD_TOL 1e-3

/* xorshift64*: a fixed, portable sequence so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float rng_uniform(void) /* [-1, 1) */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	uint64_t r = rng_state * 0x2545f4914f6cdd1dull;
	return (float)((double)(r >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *rand_array(size_t n)
{
	float *a = malloc(n * sizeof(float));
	if (!a)
		abort(); /* a test cannot go on without its inputs */
	for (size_t i = 0; i < n; i++)
		a[i] = rng_uniform();
	return a;
}

static float *zero_array(size_t n)
{
	float *a = calloc(n, sizeof(float));
	if (!a)
		abort();
	return a;
}

static double weighted_sum(const float *out, const float *r, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)out[i] * (double)r[i];
	return s;
}

/* Central difference of loss() in param[i] with step h: the step actually
 * taken (after float rounding of saved +- h) divides. */
static double fd_central(double (*loss)(void *), void *ctx, float *param, size_t i, float h)
{
	float saved = param[i];
	param[i] = saved + h;
	double lp = loss(ctx);
	param[i] = saved - h;
	double lm = loss(ctx);
	param[i] = saved;
	return (lp - lm) / ((double)(saved + h) - (double)(saved - h));
}

/* Largest error (the measure in the header comment) between grad and the
 * numeric gradient of loss() over param[0..n). */
static double fd_max_err(const char *what, double (*loss)(void *), void *ctx, float *param, const float *grad, size_t n)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		/* Richardson: (4 D(h/2) - D(h)) / 3 cancels the h^2 term. */
		double d1 = fd_central(loss, ctx, param, i, FD_STEP);
		double d2 = fd_central(loss, ctx, param, i, FD_STEP / 2);
		double num = (4 * d2 - d1) / 3;
		double a = grad[i];
		double den = fmax(fmax(fabs(a), fabs(num)), FD_FLOOR);
		double err = fabs(a - num) / den;
		if (err > worst)
			worst = err;
	}
	if (getenv("AJAR_TEST_VERBOSE"))
		printf("  %-22s max err %.3g over %zu\n", what, worst, n);
	return worst;
}

#define CHECK_GRAD(what, loss, ctx, param, grad, n)                                       \
	do {                                                                              \
		double err_ = fd_max_err(what, loss, ctx, param, grad, n);                \
		CHECK_MSG(err_ < FD_TOL, "%s: gradient error %.3g >= %g", what, err_, FD_TOL); \
	} while (0)

/* ---- matmul ---------------------------------------------------------- */

struct matmul_case {
	int n, in, out;
	float *x, *w, *y, *r; /* (n, in), (out, in), (n, out), (n, out) */
};

static double matmul_loss(void *p)
{
	struct matmul_case *c = p;
	train_matmul_forward(c->y, c->x, c->w, c->n, c->in, c->out);
	return weighted_sum(c->y, c->r, (size_t)c->n * c->out);
}

static void test_matmul(void)
{
	struct matmul_case c = {.n = 5, .in = 19, .out = 7};
	c.x = rand_array((size_t)c.n * c.in);
	c.w = rand_array((size_t)c.out * c.in);
	c.y = zero_array((size_t)c.n * c.out);
	c.r = rand_array((size_t)c.n * c.out);
	float *dx = zero_array((size_t)c.n * c.in), *dw = zero_array((size_t)c.out * c.in);

	train_matmul_forward(c.y, c.x, c.w, c.n, c.in, c.out);
	for (int i = 0; i < c.n; i++)
		for (int o = 0; o < c.out; o++) {
			double ref = 0;
			for (int j = 0; j < c.in; j++)
				ref += (double)c.x[i * c.in + j] * c.w[o * c.in + j];
			CHECK_NEAR(c.y[i * c.out + o], ref, 1e-5);
		}
	train_matmul_backward(dx, dw, c.r, c.x, c.w, c.n, c.in, c.out);
	CHECK_GRAD("matmul dx", matmul_loss, &c, c.x, dx, (size_t)c.n * c.in);
	CHECK_GRAD("matmul dw", matmul_loss, &c, c.w, dw, (size_t)c.out * c.in);

	/* Accumulation: a second backward doubles the gradients; NULL skips. */
	float before = dw[3];
	train_matmul_backward(NULL, dw, c.r, c.x, c.w, c.n, c.in, c.out);
	CHECK_NEAR(dw[3], 2 * before, 1e-5);
	free(c.x), free(c.w), free(c.y), free(c.r), free(dx), free(dw);
}

/* ---- rmsnorm --------------------------------------------------------- */

struct rmsnorm_case {
	int n, d;
	float eps;
	float *x, *g, *y, *r; /* (n, d), (d), (n, d), (n, d) */
};

/* The threaded matmul against the single-thread one, bit for bit, on
 * sizes that give threads ragged ranges (not multiples of the 16-row
 * forward split; fewer tokens than threads), with a zero dy entry. */
static void test_matmul_threads(void)
{
	enum { N = 5, IN = 37, OUT = 53 };
	float *x = rand_array((size_t)N * IN), *w = rand_array((size_t)OUT * IN), *dy = rand_array((size_t)N * OUT);
	float *y1 = zero_array((size_t)N * OUT), *dx1 = rand_array((size_t)N * IN), *dw1 = rand_array((size_t)OUT * IN);
	float *y2 = zero_array((size_t)N * OUT), *dx2 = malloc((size_t)N * IN * sizeof(float)),
	      *dw2 = malloc((size_t)OUT * IN * sizeof(float));
	if (!dx2 || !dw2)
		abort();
	dy[3] = 0.0f;
	memcpy(dx2, dx1, (size_t)N * IN * sizeof(float));
	memcpy(dw2, dw1, (size_t)OUT * IN * sizeof(float));
	train_matmul_forward(y1, x, w, N, IN, OUT);
	train_matmul_backward(dx1, dw1, dy, x, w, N, IN, OUT);
	for (int nth = 2; nth <= 7; nth += 5) {
		struct threadpool *pool = NULL;
		CHECK_OK(threadpool_new(nth, &pool));
		if (!pool)
			break;
		float *dxt = malloc((size_t)N * IN * sizeof(float)), *dwt = malloc((size_t)OUT * IN * sizeof(float));
		if (!dxt || !dwt)
			abort();
		memcpy(dxt, dx2, (size_t)N * IN * sizeof(float));
		memcpy(dwt, dw2, (size_t)OUT * IN * sizeof(float));
		train_matmul_forward_mt(pool, y2, x, w, N, IN, OUT);
		train_matmul_backward_mt(pool, dxt, dwt, dy, x, w, N, IN, OUT);
		CHECK_MSG(memcmp(y1, y2, (size_t)N * OUT * sizeof(float)) == 0, "%d threads: y differs", nth);
		CHECK_MSG(memcmp(dx1, dxt, (size_t)N * IN * sizeof(float)) == 0, "%d threads: dx differs", nth);
		CHECK_MSG(memcmp(dw1, dwt, (size_t)OUT * IN * sizeof(float)) == 0, "%d threads: dw differs", nth);
		free(dxt);
		free(dwt);
		threadpool_free(pool);
	}
	float *arrays[] = { x, w, dy, y1, dx1, dw1, y2, dx2, dw2 };
	for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
		free(arrays[i]);
}

static double rmsnorm_loss(void *p)
{
	struct rmsnorm_case *c = p;
	train_rmsnorm_forward(c->y, c->x, c->g, c->n, c->d, c->eps);
	return weighted_sum(c->y, c->r, (size_t)c->n * c->d);
}

static void test_rmsnorm(void)
{
	struct rmsnorm_case c = {.n = 4, .d = 24, .eps = 1e-5f};
	size_t nd = (size_t)c.n * c.d;
	c.x = rand_array(nd);
	c.g = rand_array((size_t)c.d);
	c.y = zero_array(nd);
	c.r = rand_array(nd);
	float *ones = zero_array((size_t)c.d), *dx = zero_array(nd), *dg = zero_array((size_t)c.d);

	/* With g = 1 each output row has unit RMS (up to eps). */
	for (int j = 0; j < c.d; j++)
		ones[j] = 1.0f;
	train_rmsnorm_forward(c.y, c.x, ones, c.n, c.d, c.eps);
	for (int i = 0; i < c.n; i++) {
		double ms = 0;
		for (int j = 0; j < c.d; j++)
			ms += (double)c.y[i * c.d + j] * c.y[i * c.d + j];
		CHECK_NEAR(sqrt(ms / c.d), 1.0, 1e-4);
	}
	train_rmsnorm_forward(c.y, c.x, c.g, c.n, c.d, c.eps);
	train_rmsnorm_backward(dx, dg, c.r, c.x, c.g, c.n, c.d, c.eps);
	CHECK_GRAD("rmsnorm dx", rmsnorm_loss, &c, c.x, dx, nd);
	CHECK_GRAD("rmsnorm dg", rmsnorm_loss, &c, c.g, dg, (size_t)c.d);
	free(c.x), free(c.g), free(c.y), free(c.r), free(ones), free(dx), free(dg);
}

/* ---- rope ------------------------------------------------------------ */

struct rope_case {
	int n_tok, n_heads, head_dim, n_rot;
	bool neox;
	int32_t *pos;
	float *x, *y, *r; /* (n_tok, n_heads, head_dim) each */
};

static double rope_loss(void *p)
{
	struct rope_case *c = p;
	size_t n = (size_t)c->n_tok * c->n_heads * c->head_dim;
	memcpy(c->y, c->x, n * sizeof(float));
	train_rope_forward(c->y, c->pos, c->n_tok, c->n_heads, c->head_dim, c->n_rot, 10000.0f, c->neox);
	return weighted_sum(c->y, c->r, n);
}

/* Forward against angles computed in double, for one pairing. */
static void check_rope_values(const struct rope_case *c)
{
	int half = c->n_rot / 2;
	for (int t = 0; t < c->n_tok; t++)
		for (int h = 0; h < c->n_heads; h++) {
			size_t o = ((size_t)t * c->n_heads + h) * c->head_dim;
			for (int i = 0; i < half; i++) {
				int i0 = c->neox ? i : 2 * i, i1 = c->neox ? i + half : 2 * i + 1;
				double th = c->pos[t] * pow(10000.0, -2.0 * i / c->n_rot);
				double a = c->x[o + i0], b = c->x[o + i1];
				CHECK_NEAR(c->y[o + i0], a * cos(th) - b * sin(th), 1e-4);
				CHECK_NEAR(c->y[o + i1], a * sin(th) + b * cos(th), 1e-4);
			}
			for (int i = c->n_rot; i < c->head_dim; i++) /* past n_rot: untouched */
				CHECK(c->y[o + i] == c->x[o + i]);
		}
}

static void test_rope(void)
{
	int32_t pos[] = {0, 1, 2, 7, 30};
	for (int neox = 0; neox <= 1; neox++) {
		struct rope_case c = {.n_tok = 5, .n_heads = 3, .head_dim = 10, .n_rot = 8, .neox = neox, .pos = pos};
		size_t n = (size_t)c.n_tok * c.n_heads * c.head_dim;
		c.x = rand_array(n);
		c.y = zero_array(n);
		c.r = rand_array(n);
		float *dx = zero_array(n);

		rope_loss(&c);
		check_rope_values(&c);
		memcpy(dx, c.r, n * sizeof(float));
		train_rope_backward(dx, c.pos, c.n_tok, c.n_heads, c.head_dim, c.n_rot, 10000.0f, c.neox);
		CHECK_GRAD(neox ? "rope dx (neox)" : "rope dx (norm)", rope_loss, &c, c.x, dx, n);
		free(c.x), free(c.y), free(c.r), free(dx);
	}
}

/* ---- attention ------------------------------------------------------- */

struct attn_case {
	int n_tok, n_heads, n_kv, hd;
	float *q, *k, *v, *out, *att, *r; /* see train_attention_forward */
};

static double attn_loss(void *p)
{
	struct attn_case *c = p;
	train_attention_forward(c->out, c->att, c->q, c->k, c->v, c->n_tok, c->n_heads, c->n_kv, c->hd);
	return weighted_sum(c->out, c->r, (size_t)c->n_tok * c->n_heads * c->hd);
}

/* Forward against a double reference; probability rows sum to 1. */
static void check_attn_values(const struct attn_case *c)
{
	int group = c->n_heads / c->n_kv;
	for (int h = 0; h < c->n_heads; h++)
		for (int i = 0; i < c->n_tok; i++) {
			const float *qi = c->q + ((size_t)i * c->n_heads + h) * c->hd;
			double s[16], max = -INFINITY, sum = 0, psum = 0;
			for (int j = 0; j <= i; j++) {
				const float *kj = c->k + ((size_t)j * c->n_kv + h / group) * c->hd;
				s[j] = 0;
				for (int e = 0; e < c->hd; e++)
					s[j] += (double)qi[e] * kj[e];
				s[j] /= sqrt(c->hd);
				max = fmax(max, s[j]);
			}
			for (int j = 0; j <= i; j++)
				sum += s[j] = exp(s[j] - max);
			const float *p = c->att + ((size_t)h * c->n_tok + i) * c->n_tok;
			for (int j = 0; j < c->n_tok; j++)
				psum += p[j];
			CHECK_NEAR(psum, 1.0, 1e-5);
			for (int e = 0; e < c->hd; e++) {
				double o = 0;
				for (int j = 0; j <= i; j++)
					o += s[j] / sum * c->v[((size_t)j * c->n_kv + h / group) * c->hd + e];
				CHECK_NEAR(c->out[((size_t)i * c->n_heads + h) * c->hd + e], o, 1e-5);
			}
		}
}

static void run_attention_case(int n_heads, int n_kv)
{
	struct attn_case c = {.n_tok = 6, .n_heads = n_heads, .n_kv = n_kv, .hd = 8};
	size_t nq = (size_t)c.n_tok * n_heads * c.hd, nkv = (size_t)c.n_tok * n_kv * c.hd;
	c.q = rand_array(nq), c.k = rand_array(nkv), c.v = rand_array(nkv), c.r = rand_array(nq);
	/* scaled up so the softmax is far from uniform and its backward matters */
	for (size_t i = 0; i < nq; i++)
		c.q[i] *= 3.0f;
	c.out = zero_array(nq);
	c.att = zero_array((size_t)n_heads * c.n_tok * c.n_tok);
	float *dq = zero_array(nq), *dk = zero_array(nkv), *dv = zero_array(nkv);

	attn_loss(&c);
	check_attn_values(&c);
	train_attention_backward(dq, dk, dv, c.r, c.out, c.att, c.q, c.k, c.v, c.n_tok, n_heads, n_kv, c.hd);
	CHECK_GRAD("attention dq", attn_loss, &c, c.q, dq, nq);
	CHECK_GRAD("attention dk", attn_loss, &c, c.k, dk, nkv);
	CHECK_GRAD("attention dv", attn_loss, &c, c.v, dv, nkv);
	free(c.q), free(c.k), free(c.v), free(c.r), free(c.out), free(c.att), free(dq), free(dk), free(dv);
}

static void test_attention(void)
{
	run_attention_case(2, 2); /* plain multi-head */
	run_attention_case(4, 2); /* grouped-query: two q heads per kv head */
	run_attention_case(3, 1); /* multi-query */
}

/* ---- swiglu ---------------------------------------------------------- */

struct swiglu_case {
	size_t n;
	float *a, *b, *out, *r; /* (n) each */
};

static double swiglu_loss(void *p)
{
	struct swiglu_case *c = p;
	train_swiglu_forward(c->out, c->a, c->b, c->n);
	return weighted_sum(c->out, c->r, c->n);
}

static void test_swiglu(void)
{
	struct swiglu_case c = {.n = 40};
	c.a = rand_array(c.n), c.b = rand_array(c.n), c.r = rand_array(c.n), c.out = zero_array(c.n);
	for (size_t i = 0; i < c.n; i++)
		c.a[i] *= 4.0f; /* reach both tails of the sigmoid */
	float *da = zero_array(c.n), *db = zero_array(c.n);

	swiglu_loss(&c);
	for (size_t i = 0; i < c.n; i++)
		CHECK_NEAR(c.out[i], c.a[i] / (1.0 + exp(-(double)c.a[i])) * c.b[i], 1e-5);
	train_swiglu_backward(da, db, c.r, c.a, c.b, c.n);
	CHECK_GRAD("swiglu da", swiglu_loss, &c, c.a, da, c.n);
	CHECK_GRAD("swiglu db", swiglu_loss, &c, c.b, db, c.n);
	free(c.a), free(c.b), free(c.r), free(c.out), free(da), free(db);
}

/* ---- embedding ------------------------------------------------------- */

struct embed_case {
	int n, d, vocab;
	const int32_t *tokens;
	float *table, *out, *r; /* (vocab, d), (n, d), (n, d) */
};

static double embed_loss(void *p)
{
	struct embed_case *c = p;
	train_embedding_forward(c->out, c->table, c->tokens, c->n, c->d, c->vocab);
	return weighted_sum(c->out, c->r, (size_t)c->n * c->d);
}

static void test_embedding(void)
{
	static const int32_t tokens[] = {3, 0, 3, 5, 1, 3}; /* 3 repeats: its gradient sums */
	struct embed_case c = {.n = 6, .d = 5, .vocab = 7, .tokens = tokens};
	c.table = rand_array((size_t)c.vocab * c.d);
	c.out = zero_array((size_t)c.n * c.d);
	c.r = rand_array((size_t)c.n * c.d);
	float *dtable = zero_array((size_t)c.vocab * c.d);

	embed_loss(&c);
	for (int i = 0; i < c.n; i++)
		CHECK(memcmp(c.out + i * c.d, c.table + tokens[i] * c.d, (size_t)c.d * sizeof(float)) == 0);
	train_embedding_backward(dtable, c.r, c.tokens, c.n, c.d, c.vocab);
	CHECK_GRAD("embedding dtable", embed_loss, &c, c.table, dtable, (size_t)c.vocab * c.d);
	CHECK(dtable[2 * c.d] == 0.0f && dtable[6 * c.d + 4] == 0.0f); /* unused rows */
	free(c.table), free(c.out), free(c.r), free(dtable);
}

/* ---- cross-entropy --------------------------------------------------- */

struct ce_case {
	int n, vocab;
	const int32_t *targets;
	float *logits; /* (n, vocab) */
	float dloss;
};

static double ce_loss(void *p)
{
	struct ce_case *c = p;
	return c->dloss * (double)train_cross_entropy_forward(c->logits, c->targets, c->n, c->vocab);
}

static void test_cross_entropy(void)
{
	static const int32_t targets[] = {2, TRAIN_IGNORE_INDEX, 0, 9, TRAIN_IGNORE_INDEX};
	struct ce_case c = {.n = 5, .vocab = 10, .targets = targets, .dloss = 0.7f};
	size_t nv = (size_t)c.n * c.vocab;
	c.logits = rand_array(nv);
	for (size_t i = 0; i < nv; i++)
		c.logits[i] *= 3.0f;
	float *dl = zero_array(nv);

	/* Reference: mean over the 3 counted rows of log(sum exp) - logit. */
	double ref = 0;
	for (int i = 0; i < c.n; i++) {
		if (targets[i] < 0)
			continue;
		double sum = 0;
		for (int j = 0; j < c.vocab; j++)
			sum += exp(c.logits[i * c.vocab + j]);
		ref += log(sum) - c.logits[i * c.vocab + targets[i]];
	}
	CHECK_NEAR(train_cross_entropy_forward(c.logits, targets, c.n, c.vocab), ref / 3, 1e-5);

	train_cross_entropy_backward(dl, c.logits, targets, c.n, c.vocab, c.dloss);
	CHECK_GRAD("cross-entropy dlogits", ce_loss, &c, c.logits, dl, nv);
	for (int i = 0; i < c.n; i++) {
		double row = 0, mag = 0;
		for (int j = 0; j < c.vocab; j++)
			row += dl[i * c.vocab + j], mag += fabs(dl[i * c.vocab + j]);
		CHECK_NEAR(row, 0.0, 1e-6); /* softmax sums to 1, onehot to 1 */
		if (targets[i] < 0)
			CHECK(mag == 0.0); /* ignored rows get no gradient */
	}

	/* Large logits: max-subtraction keeps both finite. */
	static const int32_t t1[] = {1};
	float big[3] = {1000.0f, 999.0f, -1000.0f}, dbig[3] = {0};
	float l = train_cross_entropy_forward(big, t1, 1, 3);
	train_cross_entropy_backward(dbig, big, t1, 1, 3, 1.0f);
	CHECK_NEAR(l, 1.0 + log1p(exp(-1.0)), 1e-5);
	CHECK(isfinite(dbig[0]) && isfinite(dbig[1]) && dbig[2] == 0.0f);

	/* Nothing counted: loss 0, gradient untouched. */
	static const int32_t none[] = {TRAIN_IGNORE_INDEX, TRAIN_IGNORE_INDEX};
	float dnone[20] = {0};
	CHECK(train_cross_entropy_forward(c.logits, none, 2, c.vocab) == 0.0f);
	train_cross_entropy_backward(dnone, c.logits, none, 2, c.vocab, 1.0f);
	for (int j = 0; j < 20; j++)
		CHECK(dnone[j] == 0.0f);
	free(c.logits), free(dl);
}

/* ---- composition ----------------------------------------------------- */

/* embedding -> rmsnorm -> matmul -> cross-entropy, SGD on every parameter:
 * 8 tokens, each with its own target, must be memorized (loss < 0.05). */
static void test_overfit(void)
{
	enum { V = 16, D = 16, N = 8, STEPS = 200 };
	static const int32_t in[N] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const int32_t tgt[N] = {3, 9, 0, 15, 7, 2, 11, 5};
	const float lr = 0.5f, eps = 1e-5f;
	float *emb = rand_array(V * D), *w = rand_array(V * D), g[D];
	float *x = zero_array(N * D), *h = zero_array(N * D), *logits = zero_array(N * V);
	float *demb = zero_array(V * D), *dw = zero_array(V * D), dg[D];
	float *dx = zero_array(N * D), *dh = zero_array(N * D), *dlogits = zero_array(N * V);
	float first = 0, loss = 0;

	for (int j = 0; j < D; j++)
		g[j] = 1.0f;
	for (int i = 0; i < V * D; i++)
		w[i] *= 0.1f;
	for (int step = 0; step < STEPS; step++) {
		train_embedding_forward(x, emb, in, N, D, V);
		train_rmsnorm_forward(h, x, g, N, D, eps);
		train_matmul_forward(logits, h, w, N, D, V);
		loss = train_cross_entropy_forward(logits, tgt, N, V);
		if (step == 0)
			first = loss;
		memset(demb, 0, V * D * sizeof(float)), memset(dw, 0, V * D * sizeof(float));
		memset(dg, 0, sizeof(dg)), memset(dx, 0, N * D * sizeof(float));
		memset(dh, 0, N * D * sizeof(float)), memset(dlogits, 0, N * V * sizeof(float));
		train_cross_entropy_backward(dlogits, logits, tgt, N, V, 1.0f);
		train_matmul_backward(dh, dw, dlogits, h, w, N, D, V);
		train_rmsnorm_backward(dx, dg, dh, x, g, N, D, eps);
		train_embedding_backward(demb, dx, in, N, D, V);
		for (int i = 0; i < V * D; i++)
			emb[i] -= lr * demb[i], w[i] -= lr * dw[i];
		for (int j = 0; j < D; j++)
			g[j] -= lr * dg[j];
	}
	if (getenv("AJAR_TEST_VERBOSE"))
		printf("  overfit: loss %.4f -> %.4f after %d steps\n", (double)first, (double)loss, STEPS);
	CHECK_MSG(first > 2.0f && loss < 0.05f, "loss %g -> %g", (double)first, (double)loss);
	free(emb), free(w), free(x), free(h), free(logits), free(demb), free(dw), free(dx), free(dh), free(dlogits);
}

int main(void)
{
	RUN(test_matmul);
	RUN(test_matmul_threads);
	RUN(test_rmsnorm);
	RUN(test_rope);
	RUN(test_attention);
	RUN(test_swiglu);
	RUN(test_embedding);
	RUN(test_cross_entropy);
	RUN(test_overfit);
	return check_summary();
}
