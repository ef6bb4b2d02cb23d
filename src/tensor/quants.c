/*
 * quants.c - scalar reference kernels: dequantize, quantize and dot product for
 * F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0, and the row dispatch for
 * those and the K-quants / IQ4_NL (block kernels in quants_k.c).
 *
 * Layout: the per-block kernels of each quantized type (block layouts in
 * quants_int.h), then a table of them by type, then the three public row
 * functions, which handle the plain types themselves and walk blocks for the
 * others.
 *
 * These are the reference that faster kernels are tested against, so they
 * favour being obviously right:
 *   - Quantizers reproduce llama.cpp's quantize_row_*_ref (ggml-quants.c)
 *     operation for operation, so `ajar quantize` writes the bytes llama.cpp
 *     writes: the same choice of scale, the same float expressions, the same
 *     truncating casts.
 *   - Float expressions whose rounding matters are split into one operation
 *     per statement, so that no compiler fuses a multiply and an add into an
 *     FMA (which rounds once instead of twice and can flip a quantized value).
 *   - Blocks are memcpy'd out of the row into a local struct. A row is only as
 *     aligned as the file's data section and tensor offsets make it, which a
 *     malformed file controls; copying costs nothing measurable (the compiler
 *     turns it into plain loads) and removes any alignment contract.
 *
 * Rows of quantized types hold whole blocks; n must be a multiple of the
 * block size (32, or 256 for the K-quants, whose kernels are in quants_k.c).
 */
#include "ajar/tensor.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "tensor/f16_int.h"
#include "tensor/kquants_int.h"
#include "tensor/quants_int.h"

/*
 * Float -> small integer as llama.cpp's quantizers do it. They cast directly,
 * e.g. (int8_t)(x * id + 8.5f), which truncates toward zero. For ordinary
 * blocks the value always fits. It does not when the reciprocal of the scale
 * overflows: a block whose largest magnitude is below about 2.4e-38 has a
 * subnormal d, id = 1 / d = inf, and x * id is inf, or NaN for x = 0. Such a
 * cast is undefined in C; on x86, where GGUF files are made, it compiles to
 * cvttss2si, which gives INT32_MIN, and the int8/uint8 result is its low byte,
 * 0. trunc_x86() reproduces that without undefined behaviour (such a block's
 * f16 d is 0, so its values read back as 0 whatever the nibbles).
 */
static inline int32_t trunc_x86(float v)
{
	if (!(v > -2147483648.0f && v < 2147483648.0f)) /* NaN fails both */
		return INT32_MIN;
	return (int32_t)v;
}

/* The low byte of i as a signed byte: what a conversion to int8_t keeps. */
static inline int low_int8(int32_t i)
{
	return (int)(((uint32_t)i & 0xffu) ^ 0x80u) - 0x80;
}

static inline int min_int(int a, int b)
{
	return a < b ? a : b;
}

/* The value of largest magnitude, with its sign; the first one on a tie. */
static float block_absmax_signed(const float *x)
{
	float amax = 0.0f, max = 0.0f;
	for (int i = 0; i < QUANT_BLOCK; i++) {
		if (amax < fabsf(x[i])) {
			amax = fabsf(x[i]);
			max = x[i];
		}
	}
	return max;
}

static void block_min_max(const float *x, float *min_out, float *max_out)
{
	float min = FLT_MAX, max = -FLT_MAX;
	for (int i = 0; i < QUANT_BLOCK; i++) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
	}
	*min_out = min;
	*max_out = max;
}

/* ---- Q4_0 --------------------------------------------------------------- */

static void dequantize_q4_0(const uint8_t *src, float *y)
{
	struct block_q4_0 b;
	memcpy(&b, src, sizeof(b));
	const float d = ajar_f16_to_f32(b.d);
	for (int j = 0; j < QUANT_BLOCK / 2; j++) {
		y[j] = (float)((b.qs[j] & 0x0f) - 8) * d;
		y[j + QUANT_BLOCK / 2] = (float)((b.qs[j] >> 4) - 8) * d;
	}
}

/*
 * d = max / -8, where max is the value of largest magnitude with its sign:
 * the levels q - 8 run from -8 to 7, and the extreme value takes the wider
 * end (q = 0). q = (x / d) + 8.5 truncated, at most 15 (the value of opposite
 * sign and equal magnitude would be 16).
 */
static void quantize_q4_0(const float *x, uint8_t *dst)
{
	struct block_q4_0 b;
	const float d = block_absmax_signed(x) / -8.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;

	b.d = ajar_f32_to_f16(d);
	for (int j = 0; j < QUANT_BLOCK / 2; j++) {
		const float s0 = x[j] * id;
		const float s1 = x[j + QUANT_BLOCK / 2] * id;
		const uint8_t q0 = (uint8_t)min_int(15, low_int8(trunc_x86(s0 + 8.5f)));
		const uint8_t q1 = (uint8_t)min_int(15, low_int8(trunc_x86(s1 + 8.5f)));
		b.qs[j] = (uint8_t)(q0 | (q1 << 4));
	}
	memcpy(dst, &b, sizeof(b));
}

/* ---- Q4_1 --------------------------------------------------------------- */

static void dequantize_q4_1(const uint8_t *src, float *y)
{
	struct block_q4_1 b;
	memcpy(&b, src, sizeof(b));
	const float d = ajar_f16_to_f32(b.d);
	const float m = ajar_f16_to_f32(b.m);
	for (int j = 0; j < QUANT_BLOCK / 2; j++) {
		const float v0 = (float)(b.qs[j] & 0x0f) * d;
		const float v1 = (float)(b.qs[j] >> 4) * d;
		y[j] = v0 + m;
		y[j + QUANT_BLOCK / 2] = v1 + m;
	}
}

/* d = (max - min) / 15, m = min; q = (x - min) / d + 0.5 truncated, at most 15.
 * The unrounded d and min are used for q, as llama.cpp does. */
static void quantize_q4_1(const float *x, uint8_t *dst)
{
	struct block_q4_1 b;
	float min, max;
	block_min_max(x, &min, &max);
	const float d = (max - min) / 15.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;

	b.d = ajar_f32_to_f16(d);
	b.m = ajar_f32_to_f16(min);
	for (int j = 0; j < QUANT_BLOCK / 2; j++) {
		const float s0 = (x[j] - min) * id;
		const float s1 = (x[j + QUANT_BLOCK / 2] - min) * id;
		const uint8_t q0 = (uint8_t)min_int(15, low_int8(trunc_x86(s0 + 0.5f)));
		const uint8_t q1 = (uint8_t)min_int(15, low_int8(trunc_x86(s1 + 0.5f)));
		b.qs[j] = (uint8_t)(q0 | (q1 << 4));
	}
	memcpy(dst, &b, sizeof(b));
}

/* ---- Q5_0 --------------------------------------------------------------- */

static void dequantize_q5_0(const uint8_t *src, float *y)
{
	struct block_q5_0 b;
	uint32_t qh;
	memcpy(&b, src, sizeof(b));
	memcpy(&qh, b.qh, sizeof(qh));
	const float d = ajar_f16_to_f32(b.d);
	for (int j = 0; j < QUANT_BLOCK / 2; j++) {
		const int hi0 = (int)((qh >> j) & 1u) << 4;
		const int hi1 = (int)((qh >> (j + QUANT_BLOCK / 2)) & 1u) << 4;
		y[j] = (float)(((b.qs[j] & 0x0f) | hi0) - 16) * d;
		y[j + QUANT_BLOCK / 2] = (float)(((b.qs[j] >> 4) | hi1) - 16) * d;
	}
}

/* As Q4_0 with 32 levels: d = max / -16, q = x / d + 16.5 truncated, at most
 * 31; bit 4 of q[i] goes to bit i of qh. */
static void quantize_q5_0(const float *x, uint8_t *dst)
{
	struct block_q5_0 b;
	uint32_t qh = 0;
	const float d = block_absmax_signed(x) / -16.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;

	b.d = ajar_f32_to_f16(d);
	for (int j = 0; j < QUANT_BLOCK / 2; j++) {
		const float s0 = x[j] * id;
		const float s1 = x[j + QUANT_BLOCK / 2] * id;
		const uint8_t q0 = (uint8_t)min_int(31, low_int8(trunc_x86(s0 + 16.5f)));
		const uint8_t q1 = (uint8_t)min_int(31, low_int8(trunc_x86(s1 + 16.5f)));
		b.qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
		qh |= (uint32_t)((q0 >> 4) & 1u) << j;
		qh |= (uint32_t)((q1 >> 4) & 1u) << (j + QUANT_BLOCK / 2);
	}
	memcpy(b.qh, &qh, sizeof(qh));
	memcpy(dst, &b, sizeof(b));
}

/* ---- Q5_1 --------------------------------------------------------------- */

static void dequantize_q5_1(const uint8_t *src, float *y)
{
	struct block_q5_1 b;
	uint32_t qh;
	memcpy(&b, src, sizeof(b));
	memcpy(&qh, b.qh, sizeof(qh));
	const float d = ajar_f16_to_f32(b.d);
	const float m = ajar_f16_to_f32(b.m);
	for (int j = 0; j < QUANT_BLOCK / 2; j++) {
		const int hi0 = (int)((qh >> j) & 1u) << 4;
		const int hi1 = (int)((qh >> (j + QUANT_BLOCK / 2)) & 1u) << 4;
		const float v0 = (float)((b.qs[j] & 0x0f) | hi0) * d;
		const float v1 = (float)((b.qs[j] >> 4) | hi1) * d;
		y[j] = v0 + m;
		y[j + QUANT_BLOCK / 2] = v1 + m;
	}
}

/* As Q4_1 with 32 levels: d = (max - min) / 31. llama.cpp casts straight to
 * uint8_t here with no clamp to 31 (the value cannot exceed 31.5). */
static void quantize_q5_1(const float *x, uint8_t *dst)
{
	struct block_q5_1 b;
	uint32_t qh = 0;
	float min, max;
	block_min_max(x, &min, &max);
	const float d = (max - min) / 31.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;

	b.d = ajar_f32_to_f16(d);
	b.m = ajar_f32_to_f16(min);
	for (int j = 0; j < QUANT_BLOCK / 2; j++) {
		const float s0 = (x[j] - min) * id;
		const float s1 = (x[j + QUANT_BLOCK / 2] - min) * id;
		const uint8_t q0 = (uint8_t)((uint32_t)trunc_x86(s0 + 0.5f) & 0xffu);
		const uint8_t q1 = (uint8_t)((uint32_t)trunc_x86(s1 + 0.5f) & 0xffu);
		b.qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
		qh |= (uint32_t)((q0 >> 4) & 1u) << j;
		qh |= (uint32_t)((q1 >> 4) & 1u) << (j + QUANT_BLOCK / 2);
	}
	memcpy(b.qh, &qh, sizeof(qh));
	memcpy(dst, &b, sizeof(b));
}

/* ---- Q8_0 --------------------------------------------------------------- */

static void dequantize_q8_0(const uint8_t *src, float *y)
{
	struct block_q8_0 b;
	memcpy(&b, src, sizeof(b));
	const float d = ajar_f16_to_f32(b.d);
	for (int j = 0; j < QUANT_BLOCK; j++)
		y[j] = (float)b.qs[j] * d;
}

/* d = max|x| / 127, symmetric; q = roundf(x / d) (halves away from zero). */
static void quantize_q8_0(const float *x, uint8_t *dst)
{
	struct block_q8_0 b;
	float amax = 0.0f;
	for (int j = 0; j < QUANT_BLOCK; j++) {
		const float a = fabsf(x[j]);
		amax = amax > a ? amax : a;
	}
	const float d = amax / 127.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;

	b.d = ajar_f32_to_f16(d);
	for (int j = 0; j < QUANT_BLOCK; j++) {
		const float s = x[j] * id;
		b.qs[j] = (int8_t)low_int8(trunc_x86(roundf(s)));
	}
	memcpy(dst, &b, sizeof(b));
}

/* ---- dispatch ----------------------------------------------------------- */

struct block_kernels {
	void (*dequantize)(const uint8_t *src, float *y); /* one block -> block_size floats */
	void (*quantize)(const float *x, uint8_t *dst);   /* block_size floats -> one block */
};

static const struct block_kernels block_kernels[AJAR_TYPE_COUNT] = {
	[AJAR_TYPE_Q4_0] = { dequantize_q4_0, quantize_q4_0 },
	[AJAR_TYPE_Q4_1] = { dequantize_q4_1, quantize_q4_1 },
	[AJAR_TYPE_Q5_0] = { dequantize_q5_0, quantize_q5_0 },
	[AJAR_TYPE_Q5_1] = { dequantize_q5_1, quantize_q5_1 },
	[AJAR_TYPE_Q8_0] = { dequantize_q8_0, quantize_q8_0 },
	[AJAR_TYPE_Q2_K] = { kquants_dequantize_q2_K, kquants_quantize_q2_K },
	[AJAR_TYPE_Q3_K] = { kquants_dequantize_q3_K, kquants_quantize_q3_K },
	[AJAR_TYPE_Q4_K] = { kquants_dequantize_q4_K, kquants_quantize_q4_K },
	[AJAR_TYPE_Q5_K] = { kquants_dequantize_q5_K, kquants_quantize_q5_K },
	[AJAR_TYPE_Q6_K] = { kquants_dequantize_q6_K, kquants_quantize_q6_K },
	[AJAR_TYPE_Q8_K] = { kquants_dequantize_q8_K, kquants_quantize_q8_K },
	[AJAR_TYPE_IQ4_NL] = { kquants_dequantize_iq4_nl, kquants_quantize_iq4_nl },
};

/* The block kernels of a quantized type. Passing a type without kernels, or a
 * row that is not whole blocks, is a caller bug: the model loader checks
 * has_kernels and shapes before any kernel runs. */
static const struct block_kernels *kernels_for(enum ajar_type type, int64_t n, size_t *type_size, int *block_size)
{
	const struct ajar_type_traits *t = ajar_type_traits((uint32_t)type);
	assert(t && t->has_kernels);
	assert(n >= 0 && n % t->block_size == 0);
	assert(t->block_size <= QK_K && block_kernels[type].dequantize);
	*type_size = t->type_size;
	*block_size = (int)t->block_size;
	return &block_kernels[type];
}

void ajar_dequantize_row(enum ajar_type type, const void *src, float *dst, int64_t n)
{
	const uint8_t *p = src; /* bytes of the row */
	assert(n >= 0);
	if (n == 0) /* callers may pass NULL for empty rows; memcpy must not see it */
		return;

	switch (type) {
	case AJAR_TYPE_F32:
		memcpy(dst, p, (size_t)n * sizeof(float));
		return;
	case AJAR_TYPE_F16:
		/* Inline and branch-free, so the loop vectorizes; equals
		 * ajar_f16_to_f32 on every non-NaN input (test_tensor checks all). */
		for (int64_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, sizeof(h));
			dst[i] = f16_to_f32_fast(h);
		}
		return;
	case AJAR_TYPE_BF16:
		for (int64_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, sizeof(h));
			dst[i] = bf16_to_f32_fast(h);
		}
		return;
	default: {
		size_t ts;
		int bs;
		const struct block_kernels *k = kernels_for(type, n, &ts, &bs);
		for (int64_t b = 0; b < n / bs; b++)
			k->dequantize(p + (size_t)b * ts, dst + b * bs);
		return;
	}
	}
}

void ajar_quantize_row(enum ajar_type type, const float *src, void *dst, int64_t n)
{
	uint8_t *p = dst; /* bytes of the row */
	assert(n >= 0);
	if (n == 0)
		return;

	switch (type) {
	case AJAR_TYPE_F32:
		memcpy(p, src, (size_t)n * sizeof(float));
		return;
	case AJAR_TYPE_F16:
	case AJAR_TYPE_BF16: {
		uint16_t (*from_f32)(float) = type == AJAR_TYPE_F16 ? ajar_f32_to_f16 : ajar_f32_to_bf16;
		for (int64_t i = 0; i < n; i++) {
			const uint16_t h = from_f32(src[i]);
			memcpy(p + 2 * i, &h, sizeof(h));
		}
		return;
	}
	default: {
		size_t ts;
		int bs;
		const struct block_kernels *k = kernels_for(type, n, &ts, &bs);
		for (int64_t b = 0; b < n / bs; b++)
			k->quantize(src + b * bs, p + (size_t)b * ts);
		return;
	}
	}
}

/*
 * Every type computes the same thing: the sum, in order i = 0, 1, ..., n-1,
 * of float(row[i]) * x[i] with one f32 accumulator, each product rounded
 * before it is added. So the result equals, bit for bit, a plain loop over the
 * dequantized row; faster kernels reorder the sum and are compared within a
 * tolerance.
 */
float ajar_vec_dot_f32(enum ajar_type type, const void *row, const float *x, int64_t n)
{
	const uint8_t *p = row; /* bytes of the row */
	float sum = 0.0f;
	assert(n >= 0);

	switch (type) {
	case AJAR_TYPE_F32:
		for (int64_t i = 0; i < n; i++) {
			float v;
			memcpy(&v, p + 4 * i, sizeof(v));
			const float prod = v * x[i];
			sum += prod;
		}
		return sum;
	case AJAR_TYPE_F16:
	case AJAR_TYPE_BF16: {
		float (*to_f32)(uint16_t) = type == AJAR_TYPE_F16 ? ajar_f16_to_f32 : ajar_bf16_to_f32;
		for (int64_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, sizeof(h));
			const float prod = to_f32(h) * x[i];
			sum += prod;
		}
		return sum;
	}
	default: {
		size_t ts;
		int bs;
		const struct block_kernels *k = kernels_for(type, n, &ts, &bs);
		float y[QK_K]; /* the current block, dequantized */
		for (int64_t b = 0; b < n / bs; b++) {
			const float *xb = x + b * bs;
			k->dequantize(p + (size_t)b * ts, y);
			for (int j = 0; j < bs; j++) {
				const float prod = y[j] * xb[j];
				sum += prod;
			}
		}
		return sum;
	}
	}
}
