/*
 * ops.c - primitive operations of the forward pass: dot product, threaded
 * matrix-vector/matrix-matrix product over any weight type, RMSNorm, RoPE,
 * softmax, embedding lookup. Plain C that the compiler vectorizes; the
 * hand-written SIMD kernels live in src/tensor/.
 */
#include "model_int.h"

#include <math.h>
#include <string.h>

float ops_dot_f32(const float *a, const float *b, int64_t n)
{
	/* Eight independent sums so the compiler can keep them in one vector
	 * register without reassociating a single sum. */
	float acc[8] = { 0 };
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			acc[j] += a[i + j] * b[i + j];
	float sum = 0;
	for (; i < n; i++)
		sum += a[i] * b[i];
	return sum + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

struct matmul_task {
	struct ajar_context *ctx;
	const struct weight *w;
	const float *x;
	size_t x_stride;
	float *y;
	size_t y_stride;
	uint32_t n_tok;
};

static void matmul_worker(void *p, int ith, int nth)
{
	const struct matmul_task *mt = p;
	const struct weight *w = mt->w;
	float *buf = mt->ctx->rowbuf + (size_t)ith * mt->ctx->rowbuf_len;
	long b, e;

	threadpool_split(w->n_out, ith, nth, &b, &e);
	for (long o = b; o < e; o++) {
		const void *row = (const char *)w->data + (size_t)o * w->row_bytes;
		const float *wf = row;
		/* A quantized row is expanded once and reused for every token. */
		if (w->type != AJAR_TYPE_F32) {
			ajar_dequantize_row(w->type, row, buf, w->n_in);
			wf = buf;
		}
		for (uint32_t t = 0; t < mt->n_tok; t++)
			mt->y[t * mt->y_stride + o] = ops_dot_f32(wf, mt->x + t * mt->x_stride, w->n_in);
	}
}

void ops_matmul(struct ajar_context *ctx, const struct weight *w, const float *x, size_t x_stride, float *y,
		size_t y_stride, uint32_t n_tok)
{
	struct matmul_task mt = { ctx, w, x, x_stride, y, y_stride, n_tok };
	threadpool_run(ctx->pool, matmul_worker, &mt);
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
