/*
 * kernels_scalar.c - the portable reference level of kernels.h: activation
 * quantizers (Q8_0, Q8_1) and one dot product per weight type.
 *
 * The quantizers reproduce llama.cpp's quantize_row_q8_0_ref and
 * quantize_row_q8_1_ref (ggml-quants.c) operation for operation:
 *     d = max|x| / 127,  id = d ? 1 / d : 0,  q = roundf(x * id)
 * and for Q8_1 also s = d * (sum of the 32 q), stored as f16. (llama.cpp's
 * own x86 build quantizes activations with a SIMD routine that computes
 * id = 127 / max|x| and rounds halves to even, so its bytes differ from its
 * reference in rare last-bit cases; ajar's SIMD levels match the reference
 * exactly instead, so every level sees the same activations.)
 *
 * The dot products follow llama.cpp's generic ggml_vec_dot_*_q8_0/_q8_1: a
 * block's sum of integer products is exact (it is < 2^20), and the block
 * adds (d_w * d_a) * sumi, plus m_w * s_a for the types with an offset
 * (Q4_1, Q5_1), to one f32 sum in row order. The SIMD levels compute the
 * same integer sums and the same block scale products; only the order of the
 * f32 additions differs.
 *
 * Blocks are memcpy'd out of their rows: rows sit at any byte address.
 */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "tensor/f16_int.h"
#include "tensor/kernels_int.h"
#include "tensor/quants_int.h"

/*
 * roundf(v) as an int8, for |v| <= 127.5 (always so for v = x * id with
 * id = 127 / max|x|, up to rounding of the last bit, which roundf absorbs).
 * Only for non-finite blocks (an inf among the inputs, or a max so small
 * that 1/d overflows) is v inf or NaN; the result is then 0, where llama.cpp
 * converts with undefined behaviour.
 */
static inline int8_t round_to_int8(float v)
{
	const float r = roundf(v);
	if (!(r >= -128.0f && r <= 127.0f))
		return 0;
	return (int8_t)r;
}

static float block_amax(const float *x)
{
	float amax = 0.0f;
	for (int j = 0; j < QUANT_BLOCK; j++) {
		const float a = fabsf(x[j]);
		amax = amax > a ? amax : a; /* llama.cpp's MAX(amax, a): a NaN is skipped */
	}
	return amax;
}

void act_quantize_q8_0_ref(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out; /* n / 32 blocks of 34 bytes */
	assert(n % QUANT_BLOCK == 0);
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++, x += QUANT_BLOCK) {
		struct block_q8_0 b;
		const float d = block_amax(x) / 127.0f;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;
		b.d = ajar_f32_to_f16(d);
		for (int j = 0; j < QUANT_BLOCK; j++) {
			const float v = x[j] * id;
			b.qs[j] = round_to_int8(v);
		}
		memcpy(dst + (size_t)ib * sizeof(b), &b, sizeof(b));
	}
}

void act_quantize_q8_1_ref(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out; /* n / 32 blocks of 36 bytes */
	assert(n % QUANT_BLOCK == 0);
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++, x += QUANT_BLOCK) {
		struct block_q8_1 b;
		const float d = block_amax(x) / 127.0f;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;
		int sum = 0;
		b.d = ajar_f32_to_f16(d);
		for (int j = 0; j < QUANT_BLOCK; j++) {
			const float v = x[j] * id;
			b.qs[j] = round_to_int8(v);
			sum += b.qs[j];
		}
		const float s = (float)sum * d;
		b.s = ajar_f32_to_f16(s);
		memcpy(dst + (size_t)ib * sizeof(b), &b, sizeof(b));
	}
}

/* ---- plain types: f32 products summed in row order ---------------------- */

float vec_dot_f32_ref(const void *w, const void *act, int64_t n)
{
	const uint8_t *p = w;   /* n f32, any alignment */
	const float *x = act;   /* n f32 */
	float sum = 0.0f;
	for (int64_t i = 0; i < n; i++) {
		float v;
		memcpy(&v, p + 4 * i, sizeof(v));
		const float prod = v * x[i];
		sum += prod;
	}
	return sum;
}

/* F16 weights take F16 activations (llama.cpp's vec_dot_type for F16):
 * rounded once by act_quantize_f16_ref, they halve the bytes a prompt tile
 * reads per product. f16_to_f32_fast equals ajar_f16_to_f32 on every
 * non-NaN half (test_tensor checks all 65536), so this is
 * ajar_vec_dot_f32(F16, w, x rounded to f16, n) bit for bit. */
float vec_dot_f16_ref(const void *w, const void *act, int64_t n)
{
	const uint8_t *p = w, *a = act; /* n f16 each */
	float sum = 0.0f;
	for (int64_t i = 0; i < n; i++) {
		uint16_t h, x;
		memcpy(&h, p + 2 * i, sizeof(h));
		memcpy(&x, a + 2 * i, sizeof(x));
		const float prod = f16_to_f32_fast(h) * f16_to_f32_fast(x);
		sum += prod;
	}
	return sum;
}

/* Round to nearest even, as F16C's vcvtps2ph with imm 0 (ajar_f32_to_f16). */
void act_quantize_f16_ref(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out;
	for (int64_t i = 0; i < n; i++) {
		const uint16_t h = ajar_f32_to_f16(x[i]);
		memcpy(dst + 2 * i, &h, sizeof(h));
	}
}

float vec_dot_bf16_ref(const void *w, const void *act, int64_t n)
{
	const uint8_t *p = w; /* n bf16 */
	const float *x = act;
	float sum = 0.0f;
	for (int64_t i = 0; i < n; i++) {
		uint16_t h;
		memcpy(&h, p + 2 * i, sizeof(h));
		const float prod = bf16_to_f32_fast(h) * x[i];
		sum += prod;
	}
	return sum;
}

/* ---- quantized types ---------------------------------------------------- */

/* Unpacks the 32 levels of a 4-bit block (Q4_0's nibble order) plus the
 * optional fifth bits qh into q[0..32). */
static inline void unpack_levels(const uint8_t *qs, uint32_t qh, int q[QUANT_BLOCK])
{
	for (int j = 0; j < QUANT_BLOCK / 2; j++) {
		q[j] = (qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
		q[j + QUANT_BLOCK / 2] = (qs[j] >> 4) | (int)(((qh >> (j + QUANT_BLOCK / 2)) & 1u) << 4);
	}
}

/* sum over the block of (q[j] - offset) * a[j]: |.| < 32 * 128 * 128 */
static inline int block_dot(const int q[QUANT_BLOCK], int offset, const int8_t a[QUANT_BLOCK])
{
	int sumi = 0;
	for (int j = 0; j < QUANT_BLOCK; j++)
		sumi += (q[j] - offset) * a[j];
	return sumi;
}

/* The block's term: (d_w * d_a) * sumi, rounded as written. */
static inline float block_term(uint16_t dw, uint16_t da, int sumi)
{
	const float scale = f16_to_f32_fast(dw) * f16_to_f32_fast(da);
	return scale * (float)sumi;
}

float vec_dot_q4_0_ref(const void *w, const void *act, int64_t n)
{
	const uint8_t *pw = w;   /* n / 32 blocks of 18 bytes */
	const uint8_t *pa = act; /* n / 32 Q8_0 blocks of 34 bytes */
	float sum = 0.0f;
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++) {
		struct block_q4_0 bw;
		struct block_q8_0 ba;
		int q[QUANT_BLOCK];
		memcpy(&bw, pw + (size_t)ib * sizeof(bw), sizeof(bw));
		memcpy(&ba, pa + (size_t)ib * sizeof(ba), sizeof(ba));
		unpack_levels(bw.qs, 0, q);
		sum += block_term(bw.d, ba.d, block_dot(q, 8, ba.qs));
	}
	return sum;
}

float vec_dot_q5_0_ref(const void *w, const void *act, int64_t n)
{
	const uint8_t *pw = w;   /* n / 32 blocks of 22 bytes */
	const uint8_t *pa = act; /* Q8_0 blocks */
	float sum = 0.0f;
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++) {
		struct block_q5_0 bw;
		struct block_q8_0 ba;
		int q[QUANT_BLOCK];
		uint32_t qh;
		memcpy(&bw, pw + (size_t)ib * sizeof(bw), sizeof(bw));
		memcpy(&ba, pa + (size_t)ib * sizeof(ba), sizeof(ba));
		memcpy(&qh, bw.qh, sizeof(qh));
		unpack_levels(bw.qs, qh, q);
		sum += block_term(bw.d, ba.d, block_dot(q, 16, ba.qs));
	}
	return sum;
}

float vec_dot_q4_1_ref(const void *w, const void *act, int64_t n)
{
	const uint8_t *pw = w;   /* n / 32 blocks of 20 bytes */
	const uint8_t *pa = act; /* n / 32 Q8_1 blocks of 36 bytes */
	float sum = 0.0f;
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++) {
		struct block_q4_1 bw;
		struct block_q8_1 ba;
		int q[QUANT_BLOCK];
		memcpy(&bw, pw + (size_t)ib * sizeof(bw), sizeof(bw));
		memcpy(&ba, pa + (size_t)ib * sizeof(ba), sizeof(ba));
		unpack_levels(bw.qs, 0, q);
		const float t = block_term(bw.d, ba.d, block_dot(q, 0, ba.qs));
		const float m = f16_to_f32_fast(bw.m) * f16_to_f32_fast(ba.s);
		sum += t + m;
	}
	return sum;
}

float vec_dot_q5_1_ref(const void *w, const void *act, int64_t n)
{
	const uint8_t *pw = w;   /* n / 32 blocks of 24 bytes */
	const uint8_t *pa = act; /* Q8_1 blocks */
	float sum = 0.0f;
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++) {
		struct block_q5_1 bw;
		struct block_q8_1 ba;
		int q[QUANT_BLOCK];
		uint32_t qh;
		memcpy(&bw, pw + (size_t)ib * sizeof(bw), sizeof(bw));
		memcpy(&ba, pa + (size_t)ib * sizeof(ba), sizeof(ba));
		memcpy(&qh, bw.qh, sizeof(qh));
		unpack_levels(bw.qs, qh, q);
		const float t = block_term(bw.d, ba.d, block_dot(q, 0, ba.qs));
		const float m = f16_to_f32_fast(bw.m) * f16_to_f32_fast(ba.s);
		sum += t + m;
	}
	return sum;
}

float vec_dot_q8_0_ref(const void *w, const void *act, int64_t n)
{
	const uint8_t *pw = w;   /* n / 32 blocks of 34 bytes */
	const uint8_t *pa = act; /* Q8_0 blocks */
	float sum = 0.0f;
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++) {
		struct block_q8_0 bw, ba;
		int sumi = 0;
		memcpy(&bw, pw + (size_t)ib * sizeof(bw), sizeof(bw));
		memcpy(&ba, pa + (size_t)ib * sizeof(ba), sizeof(ba));
		for (int j = 0; j < QUANT_BLOCK; j++)
			sumi += bw.qs[j] * ba.qs[j];
		sum += block_term(bw.d, ba.d, sumi);
	}
	return sum;
}
