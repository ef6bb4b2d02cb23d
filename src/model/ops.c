/*
 * ops.c - primitive operations of the forward pass: dot product, threaded
 * matrix-vector/matrix-matrix product over any weight type, RMSNorm, RoPE,
 * softmax, embedding lookup. The matrix products call the SIMD kernels of
 * src/tensor/ (include/ajar/kernels.h); the rest is plain C that the
 * compiler vectorizes.
 */
#include "model_int.h"
#include "ajar/kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

float ops_dot_f32(const float *a, const float *b, int64_t n)
{
	return ajar_dot_f32(a, b, n);
}

/*
 * Matrix products go through the kernels of include/ajar/kernels.h: the
 * input rows are converted once to the weights' activation format (threads
 * split the tokens), then one task computes every output row of up to
 * MATMUL_MAX_W weights that share that input (q/k/v, gate/up): threads take
 * disjoint chunks of the concatenated rows, so one hand-off serves them all.
 */
#define MATMUL_MAX_W 4
/* Rows per work chunk: a multiple of every kernel's row tile. */
#define MATMUL_ROW_CHUNK 16

struct matmul_task {
	struct ajar_context *ctx;
	int n_w;
	const struct weight *w[MATMUL_MAX_W];
	float *y[MATMUL_MAX_W];
	size_t y_stride[MATMUL_MAX_W];
	int64_t chunk_start[MATMUL_MAX_W + 1]; /* first chunk of each weight */
	const float *x;      /* float input rows */
	size_t x_stride;     /* floats */
	const void *act;     /* converted rows */
	size_t act_stride;   /* bytes */
	enum ajar_type act_type;
	int64_t n_in;
	uint32_t n_tok;
	atomic_long next_chunk; /* the first chunk no thread has taken */
	long grab;              /* chunks taken at a time */
};

static void act_worker(void *p, int ith, int nth)
{
	const struct matmul_task *mt = p;
	long b, e;
	threadpool_split(mt->n_tok, ith, nth, &b, &e);
	for (long t = b; t < e; t++)
		ajar_act_quantize(mt->act_type, mt->x + t * mt->x_stride, (char *)mt->act + t * mt->act_stride, mt->n_in);
}

/* Computes chunks [b, e) of the concatenated rows. */
static void gemm_chunks(const struct matmul_task *mt, long b, long e)
{
	for (int i = 0; i < mt->n_w && b < e; i++) {
		/* the part of [b, e) that falls in weight i */
		int64_t lo = b > mt->chunk_start[i] ? b : mt->chunk_start[i];
		int64_t hi = e < mt->chunk_start[i + 1] ? e : mt->chunk_start[i + 1];
		if (lo >= hi)
			continue;
		const struct weight *w = mt->w[i];
		int64_t r0 = (lo - mt->chunk_start[i]) * MATMUL_ROW_CHUNK;
		int64_t r1 = (hi - mt->chunk_start[i]) * MATMUL_ROW_CHUNK;
		if (r1 > w->n_out)
			r1 = w->n_out;
		ajar_gemm(w->type, w->data, w->row_bytes, w->n_in, r0, r1, mt->act, mt->act_stride, mt->n_tok, mt->y[i],
			  mt->y_stride[i]);
	}
}

/*
 * Threads take runs of `grab` chunks from a shared counter until none are
 * left, so a thread slowed by anything (a busier core, an interrupt) takes
 * fewer and both finish together. Every output row is computed the same way
 * whichever thread takes it: results do not depend on the split.
 */
static void gemm_worker(void *p, int ith, int nth)
{
	struct matmul_task *mt = p;
	const long n = mt->chunk_start[mt->n_w];
	(void)ith;
	(void)nth;
	for (;;) {
		long b = atomic_fetch_add_explicit(&mt->next_chunk, mt->grab, memory_order_relaxed);
		if (b >= n)
			return;
		gemm_chunks(mt, b, b + mt->grab < n ? b + mt->grab : n);
	}
}

void ops_matmul_multi(struct ajar_context *ctx, int n_w, const struct weight *const *ws, float *const *ys,
		      const size_t *y_strides, const float *x, size_t x_stride, uint32_t n_tok)
{
	struct matmul_task mt = { .ctx = ctx, .x = x, .x_stride = x_stride, .n_tok = n_tok };
	enum ajar_type act_type = ajar_act_type(ws[0]->type);

	/* Weights whose activation formats differ (a mixed-type file) go one
	 * group at a time. */
	int n = 1;
	while (n < n_w && n < MATMUL_MAX_W && ajar_act_type(ws[n]->type) == act_type)
		n++;
	mt.n_w = n;
	mt.n_in = ws[0]->n_in;
	mt.act_type = act_type;
	for (int i = 0; i < n; i++) {
		mt.w[i] = ws[i];
		mt.y[i] = ys[i];
		mt.y_stride[i] = y_strides[i];
		mt.chunk_start[i + 1] = mt.chunk_start[i] + (ws[i]->n_out + MATMUL_ROW_CHUNK - 1) / MATMUL_ROW_CHUNK;
	}
	if (act_type == AJAR_TYPE_F32) {
		mt.act = x;
		mt.act_stride = x_stride * sizeof(float);
	} else {
		mt.act = ctx->act;
		mt.act_stride = ajar_act_row_size(ws[0]->type, mt.n_in);
		threadpool_run(ctx->pool, act_worker, &mt);
	}
	atomic_init(&mt.next_chunk, 0);
	mt.grab = mt.chunk_start[n] / (8L * threadpool_size(ctx->pool));
	if (mt.grab < 1)
		mt.grab = 1;
	threadpool_run(ctx->pool, gemm_worker, &mt);
	if (n < n_w)
		ops_matmul_multi(ctx, n_w - n, ws + n, ys + n, y_strides + n, x, x_stride, n_tok);
}

void ops_matmul(struct ajar_context *ctx, const struct weight *w, const float *x, size_t x_stride, float *y,
		size_t y_stride, uint32_t n_tok)
{
	ops_matmul_multi(ctx, 1, &w, &y, &y_stride, x, x_stride, n_tok);
}

void ops_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
	double sum = 0;
	for (int64_t i = 0; i < n; i++)
		sum += (double)(x[i] * x[i]);
	float mean = (float)(sum / (double)n);
	float scale = 1.0f / sqrtf(mean + eps);
	for (int64_t i = 0; i < n; i++)
		out[i] = (x[i] * scale) * w[i];
}

void ops_rope(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, float freq_base, float freq_scale,
	      enum ajar_rope_type type, const float *freq_factors)
{
	/* theta_i = pos * scale * base^(-2i/n_rot), built by repeated float
	 * multiplication exactly as llama.cpp's rope cache does, so long
	 * positions round the same way. */
	float theta_scale = powf(freq_base, -2.0f / (float)n_rot);
	float theta = (float)pos;
	float cs[512], sn[512]; /* n_rot/2 <= 512: head_dim <= 1024 */
	int half = n_rot / 2;

	for (int i = 0; i < half && i < 512; i++) {
		float ff = freq_factors ? freq_factors[i] : 1.0f;
		float th = freq_scale * (theta / ff);
		cs[i] = cosf(th);
		sn[i] = sinf(th);
		theta *= theta_scale;
	}
	for (int h = 0; h < n_heads; h++) {
		float *v = x + (size_t)h * head_dim;
		for (int i = 0; i < half && i < 512; i++) {
			int i0 = type == AJAR_ROPE_NORM ? 2 * i : i;
			int i1 = type == AJAR_ROPE_NORM ? 2 * i + 1 : i + half;
			float a = v[i0], b = v[i1];
			v[i0] = a * cs[i] - b * sn[i];
			v[i1] = a * sn[i] + b * cs[i];
		}
	}
}

void ops_softmax(float *x, int64_t n)
{
	float max = -INFINITY;
	double sum = 0;
	for (int64_t i = 0; i < n; i++)
		if (x[i] > max)
			max = x[i];
	for (int64_t i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	float inv = (float)(1.0 / sum);
	for (int64_t i = 0; i < n; i++)
		x[i] *= inv;
}

void ops_embed_row(const struct weight *w, int32_t row, float *out)
{
	ajar_dequantize_row(w->type, (const char *)w->data + (size_t)row * w->row_bytes, out, w->n_in);
}
