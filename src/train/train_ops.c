/*
 * train_ops.c - forward and backward passes of the training ops (see
 * train_ops.h for shapes and the accumulate convention).
 *
 * Layout: matmul, rmsnorm, rope, attention, swiglu, embedding,
 * cross-entropy, residual add; each forward is followed by its backward.
 *
 * The inner loops are dot products and y += a*x over contiguous rows, done
 * by the dispatched f32 vector kernels (ajar_dot_f32, ajar_axpy_f32) so they
 * run at the CPU's SIMD width; the matmul forward is ajar_gemm on F32
 * weights, the same kernel inference uses.
 */
#include "train/train_ops.h"

#include <assert.h>
#include <math.h>

#include "ajar/kernels.h"
#include "ajar/threadpool.h"

/* ---- matmul ---------------------------------------------------------- */

/* Forward rows of W go to threads in runs of this many, so a thread's
 * range starts where the single-thread gemm's tiling would: each output is
 * then computed by the same kernel path whatever the thread count. */
#define TRAIN_MATMUL_ROW_ALIGN 16

/* One matmul's operands, shared read-only by the threads of a pool run;
 * each thread writes only its own rows of y, dx and dw. */
struct matmul_task {
	float *y, *dx, *dw;
	const float *x, *w, *dy;
	int n, in, out;
};

/* Rows [*b, *e) of `out` for thread ith, split in TRAIN_MATMUL_ROW_ALIGN runs. */
static void split_rows(int out, int ith, int nth, long *b, long *e)
{
	long runs = (out + TRAIN_MATMUL_ROW_ALIGN - 1) / TRAIN_MATMUL_ROW_ALIGN;
	threadpool_split(runs, ith, nth, b, e);
	*b *= TRAIN_MATMUL_ROW_ALIGN;
	*e *= TRAIN_MATMUL_ROW_ALIGN;
	if (*e > out)
		*e = out;
	if (*b > *e)
		*b = *e;
}

static void matmul_forward_worker(void *arg, int ith, int nth)
{
	const struct matmul_task *t = arg;
	long b, e;
	split_rows(t->out, ith, nth, &b, &e);
	if (b >= e)
		return;
	/* F32 weights take F32 activations as they are: no conversion step. */
	ajar_gemm(AJAR_TYPE_F32, t->w, (size_t)t->in * sizeof(float), t->in, b, e, t->x,
		  (size_t)t->in * sizeof(float), t->n, t->y, (size_t)t->out);
}

/*
 * Thread ith's share of both backward products. dx is split by tokens and
 * dw by its rows, so every element has one writer, and each element's terms
 * are added in the same order (o ascending for dx, i ascending for dw) as a
 * single thread adds them: the result is bit-identical for any nth. Both
 * products are sums of whole rows scaled by one dy entry, so every inner
 * loop is an axpy over a contiguous row of `in` floats.
 */
static void matmul_backward_worker(void *arg, int ith, int nth)
{
	const struct matmul_task *t = arg;
	const size_t in = (size_t)t->in, out = (size_t)t->out;
	long b, e;
	if (t->dx) {
		threadpool_split(t->n, ith, nth, &b, &e);
		for (long i = b; i < e; i++) {
			const float *dyi = t->dy + (size_t)i * out;
			float *dxi = t->dx + (size_t)i * in;
			for (size_t o = 0; o < out; o++)
				if (dyi[o] != 0.0f) /* common for ignored tokens; exact either way */
					ajar_axpy_f32(dyi[o], t->w + o * in, dxi, (int64_t)in);
		}
	}
	if (t->dw) {
		threadpool_split(t->out, ith, nth, &b, &e);
		for (long o = b; o < e; o++) {
			float *dwo = t->dw + (size_t)o * in;
			for (size_t i = 0; i < (size_t)t->n; i++) {
				float g = t->dy[i * out + (size_t)o];
				if (g != 0.0f)
					ajar_axpy_f32(g, t->x + i * in, dwo, (int64_t)in);
			}
		}
	}
}

/* Runs fn over pool, or on the calling thread as thread 0 of 1 if pool is NULL. */
static void run_on(struct threadpool *pool, threadpool_fn fn, void *arg)
{
	if (pool && threadpool_size(pool) > 1)
		threadpool_run(pool, fn, arg);
	else
		fn(arg, 0, 1);
}

void train_matmul_forward_mt(struct threadpool *pool, float *y, const float *x, const float *w, int n, int in,
			     int out)
{
	assert(n >= 0 && in > 0 && out > 0);
	struct matmul_task t = { .y = y, .x = x, .w = w, .n = n, .in = in, .out = out };
	run_on(pool, matmul_forward_worker, &t);
}

void train_matmul_backward_mt(struct threadpool *pool, float *dx, float *dw, const float *dy, const float *x,
			      const float *w, int n, int in, int out)
{
	assert(n >= 0 && in > 0 && out > 0);
	struct matmul_task t = { .dx = dx, .dw = dw, .dy = dy, .x = x, .w = w, .n = n, .in = in, .out = out };
	run_on(pool, matmul_backward_worker, &t);
}

void train_matmul_forward(float *y, const float *x, const float *w, int n, int in, int out)
{
	train_matmul_forward_mt(NULL, y, x, w, n, in, out);
}

void train_matmul_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, int n, int in,
			   int out)
{
	train_matmul_backward_mt(NULL, dx, dw, dy, x, w, n, in, out);
}

/* ---- rmsnorm --------------------------------------------------------- */

/* 1 / sqrt(mean(x^2) + eps) for one row, the sum in double as ops_rmsnorm. */
static float rms_inv(const float *x, int d, float eps)
{
	double sum = 0;
	for (int j = 0; j < d; j++)
		sum += (double)x[j] * (double)x[j];
	return (float)(1.0 / sqrt(sum / d + (double)eps));
}

void train_rmsnorm_forward(float *y, const float *x, const float *g, int n, int d, float eps)
{
	assert(n >= 0 && d > 0);
	for (int i = 0; i < n; i++) {
		const float *xi = x + (size_t)i * d;
		float *yi = y + (size_t)i * d;
		float r = rms_inv(xi, d, eps);
		for (int j = 0; j < d; j++)
			yi[j] = (xi[j] * r) * g[j];
	}
}

void train_rmsnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *g, int n, int d,
			    float eps)
{
	assert(n >= 0 && d > 0);
	/* With xh = x r and r = (mean(x^2) + eps)^-1/2, dr/dx_j = -r^3 x_j / d,
	 * so dx = r (dxh - xh mean(dxh xh)) where dxh = dy g. */
	for (int i = 0; i < n; i++) {
		const float *xi = x + (size_t)i * d;
		const float *dyi = dy + (size_t)i * d;
		float r = rms_inv(xi, d, eps);
		double dot = 0;
		for (int j = 0; j < d; j++)
			dot += (double)(dyi[j] * g[j]) * (double)(xi[j] * r);
		float m = (float)(dot / d);
		if (dx) {
			float *dxi = dx + (size_t)i * d;
			for (int j = 0; j < d; j++)
				dxi[j] += r * (dyi[j] * g[j] - (xi[j] * r) * m);
		}
		if (dg)
			for (int j = 0; j < d; j++)
				dg[j] += dyi[j] * (xi[j] * r);
	}
}

/* ---- rope ------------------------------------------------------------ */

/* Rotates every head of every token by +angle (sign 1) or -angle (sign -1). */
static void rope_apply(float *x, const int32_t *pos, int n_tok, int n_heads, int head_dim, int n_rot,
		       float freq_base, bool neox, float sign)
{
	enum { MAX_HALF = 512 }; /* head_dim <= 1024, as inference's ops_rope */
	float cs[MAX_HALF], sn[MAX_HALF];
	int half = n_rot / 2;

	assert(n_rot % 2 == 0 && n_rot <= head_dim && half <= MAX_HALF);
	/* Computed as ops_rope: theta_i = pos * base^(-2i/n_rot), the power
	 * by repeated float multiplication so the angles round identically. */
	float theta_scale = powf(freq_base, -2.0f / (float)n_rot);
	for (int t = 0; t < n_tok; t++) {
		float theta = (float)pos[t];
		for (int i = 0; i < half; i++) {
			cs[i] = cosf(theta);
			sn[i] = sign * sinf(theta);
			theta *= theta_scale;
		}
		for (int h = 0; h < n_heads; h++) {
			float *v = x + ((size_t)t * n_heads + h) * head_dim;
			for (int i = 0; i < half; i++) {
				int i0 = neox ? i : 2 * i;
				int i1 = neox ? i + half : 2 * i + 1;
				float a = v[i0], b = v[i1];
				v[i0] = a * cs[i] - b * sn[i];
				v[i1] = a * sn[i] + b * cs[i];
			}
		}
	}
}

void train_rope_forward(float *x, const int32_t *pos, int n_tok, int n_heads, int head_dim, int n_rot,
			float freq_base, bool neox)
{
	rope_apply(x, pos, n_tok, n_heads, head_dim, n_rot, freq_base, neox, 1.0f);
}

void train_rope_backward(float *dx, const int32_t *pos, int n_tok, int n_heads, int head_dim, int n_rot,
			 float freq_base, bool neox)
{
	rope_apply(dx, pos, n_tok, n_heads, head_dim, n_rot, freq_base, neox, -1.0f);
}

/* ---- attention ------------------------------------------------------- */

void train_attention_forward(float *out, float *att, const float *q, const float *k, const float *v, int n_tok,
			     int n_heads, int n_kv_heads, int head_dim)
{
	assert(n_kv_heads > 0 && n_heads % n_kv_heads == 0 && head_dim > 0);
	const size_t q_row = (size_t)n_heads * head_dim, kv_row = (size_t)n_kv_heads * head_dim;
	const int group = n_heads / n_kv_heads;
	const float scale = 1.0f / sqrtf((float)head_dim);

	for (int h = 0; h < n_heads; h++) {
		const size_t kvo = (size_t)(h / group) * head_dim;
		for (int i = 0; i < n_tok; i++) {
			const float *qi = q + i * q_row + (size_t)h * head_dim;
			float *p = att + ((size_t)h * n_tok + i) * n_tok;
			float max = -INFINITY;
			for (int j = 0; j <= i; j++) {
				p[j] = scale * ajar_dot_f32(qi, k + j * kv_row + kvo, head_dim);
				if (p[j] > max)
					max = p[j];
			}
			double sum = 0;
			for (int j = 0; j <= i; j++) {
				p[j] = expf(p[j] - max);
				sum += p[j];
			}
			float inv = (float)(1.0 / sum);
			float *oi = out + i * q_row + (size_t)h * head_dim;
			for (int c = 0; c < head_dim; c++)
				oi[c] = 0.0f;
			for (int j = 0; j <= i; j++) {
				p[j] *= inv;
				ajar_axpy_f32(p[j], v + j * kv_row + kvo, oi, head_dim);
			}
			for (int j = i + 1; j < n_tok; j++)
				p[j] = 0.0f; /* masked: keeps att a full, readable matrix */
		}
	}
}

void train_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out, const float *att,
			      const float *q, const float *k, const float *v, int n_tok, int n_heads, int n_kv_heads,
			      int head_dim)
{
	assert(n_kv_heads > 0 && n_heads % n_kv_heads == 0 && head_dim > 0);
	const size_t q_row = (size_t)n_heads * head_dim, kv_row = (size_t)n_kv_heads * head_dim;
	const int group = n_heads / n_kv_heads;
	const float scale = 1.0f / sqrtf((float)head_dim);

	/* Per row i: dp_j = dout_i . v_j; the softmax backward is
	 * ds_j = p_j (dp_j - sum_l p_l dp_l), and sum_l p_l dp_l = dout_i . out_i.
	 * Then s_j = scale q_i . k_j gives dq_i += scale ds_j k_j and
	 * dk_j += scale ds_j q_i; out_i = sum p_j v_j gives dv_j += p_j dout_i. */
	for (int h = 0; h < n_heads; h++) {
		const size_t kvo = (size_t)(h / group) * head_dim, qo = (size_t)h * head_dim;
		for (int i = 0; i < n_tok; i++) {
			const float *doi = dout + i * q_row + qo;
			const float *p = att + ((size_t)h * n_tok + i) * n_tok;
			float dsum = ajar_dot_f32(doi, out + i * q_row + qo, head_dim);
			for (int j = 0; j <= i; j++) {
				const float *vj = v + j * kv_row + kvo;
				float ds = p[j] * (ajar_dot_f32(doi, vj, head_dim) - dsum) * scale;
				ajar_axpy_f32(p[j], doi, dv + j * kv_row + kvo, head_dim);
				ajar_axpy_f32(ds, k + j * kv_row + kvo, dq + i * q_row + qo, head_dim);
				ajar_axpy_f32(ds, q + i * q_row + qo, dk + j * kv_row + kvo, head_dim);
			}
		}
	}
}

/* ---- swiglu ---------------------------------------------------------- */

void train_swiglu_forward(float *out, const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

void train_swiglu_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t n)
{
	/* silu'(a) = s + a s (1 - s) with s = sigmoid(a). */
	for (size_t i = 0; i < n; i++) {
		float s = 1.0f / (1.0f + expf(-a[i]));
		da[i] += dout[i] * b[i] * (s + a[i] * s * (1.0f - s));
		db[i] += dout[i] * a[i] * s;
	}
}

/* ---- embedding ------------------------------------------------------- */

void train_embedding_forward(float *out, const float *table, const int32_t *tokens, int n, int d, int vocab)
{
	for (int i = 0; i < n; i++) {
		assert(tokens[i] >= 0 && tokens[i] < vocab);
		const float *row = table + (size_t)tokens[i] * d;
		float *oi = out + (size_t)i * d;
		for (int j = 0; j < d; j++)
			oi[j] = row[j];
	}
}

void train_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int n, int d, int vocab)
{
	for (int i = 0; i < n; i++) {
		assert(tokens[i] >= 0 && tokens[i] < vocab);
		train_add_to(dtable + (size_t)tokens[i] * d, dout + (size_t)i * d, (size_t)d);
	}
}

/* ---- cross-entropy --------------------------------------------------- */

/* max and log(sum(exp(x - max))) of one row, summed in double. */
static void row_logsumexp(const float *x, int n, float *max_out, double *lse_out)
{
	float max = -INFINITY;
	for (int j = 0; j < n; j++)
		if (x[j] > max)
			max = x[j];
	double sum = 0;
	for (int j = 0; j < n; j++)
		sum += exp((double)(x[j] - max));
	*max_out = max;
	*lse_out = log(sum);
}

static int count_targets(const int32_t *targets, int n, int vocab)
{
	int count = 0;
	for (int i = 0; i < n; i++) {
		assert(targets[i] == TRAIN_IGNORE_INDEX || (targets[i] >= 0 && targets[i] < vocab));
		count += targets[i] != TRAIN_IGNORE_INDEX;
	}
	return count;
}

float train_cross_entropy_forward(const float *logits, const int32_t *targets, int n, int vocab)
{
	int count = count_targets(targets, n, vocab);
	if (count == 0)
		return 0.0f;
	double loss = 0;
	for (int i = 0; i < n; i++) {
		if (targets[i] == TRAIN_IGNORE_INDEX)
			continue;
		const float *li = logits + (size_t)i * vocab;
		float max;
		double lse;
		row_logsumexp(li, vocab, &max, &lse);
		/* -log softmax(target) = lse - (logit - max) */
		loss += lse - (double)(li[targets[i]] - max);
	}
	return (float)(loss / count);
}

void train_cross_entropy_backward(float *dlogits, const float *logits, const int32_t *targets, int n, int vocab,
				  float dloss)
{
	int count = count_targets(targets, n, vocab);
	if (count == 0)
		return;
	double w = (double)dloss / count;
	for (int i = 0; i < n; i++) {
		if (targets[i] == TRAIN_IGNORE_INDEX)
			continue;
		const float *li = logits + (size_t)i * vocab;
		float *di = dlogits + (size_t)i * vocab;
		float max;
		double lse;
		row_logsumexp(li, vocab, &max, &lse);
		for (int j = 0; j < vocab; j++)
			di[j] += (float)(w * exp((double)(li[j] - max) - lse));
		di[targets[i]] -= (float)w;
	}
}

/* ---- residual -------------------------------------------------------- */

void train_add(float *y, const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = a[i] + b[i];
}

void train_add_to(float *dst, const float *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] += src[i];
}
