/*
 * kquants_scalar.c - the portable reference for the K-quant matrix-product
 * kernels: the Q8_K activation quantizer, and the dot products of Q2_K ..
 * Q6_K rows with Q8_K rows and of IQ4_NL rows with Q8_0 rows. The per-ISA
 * files (kquants_avx2.c, kquants_avx512.c) are tested against these.
 *
 * The dot products follow ggml's generic ggml_vec_dot_*_q8_K: inside a
 * super-block everything is integer (weight levels times int8 activations,
 * times the sub-block's integer scale), and the block contributes
 *     d_w * d_a * sum_s(sc[s] * sum(q * a))  -  dmin_w * d_a * sum_s(mn[s] * asum[s])
 * in f32, where asum comes from Q8_K's bsums (the sums of 16 activations),
 * so the minimum costs nothing per value. Those integer sums are exact; the
 * float terms are added block by block in row order. (ggml's generic code
 * keeps eight partial float sums for the scale term, so results differ from
 * it in the last bits, as its SIMD versions do.)
 *
 * Integer ranges: |q * a| <= 63 * 127 per value in Q6_K's worst case, so a
 * sub-block of 16 sums to < 2^17, times |sc| <= 128 and 16 sub-blocks stays
 * below 2^28; the other types are smaller. int is enough everywhere.
 */
#include "ajar/tensor.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "tensor/kquants_int.h"

/* The Q8_K quantizer rounds x * iscale exactly as llama.cpp does; no FMA
 * contraction of the product into the rounding's add (see quants_k.c). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/*
 * quantize_row_q8_K_ref: d = max / -127 where max is the value of largest
 * magnitude with its sign, q = nearest(x * -127 / max), so |q| <= 127 (the
 * cap at 127 only guards rounding). An all-zero block gets d = 0 and zero
 * sums (ggml leaves its bsums unwritten). A block so small that -127/max
 * overflows gives inf * x, which kquants_nearest_int maps to 0 or -2^22
 * (low byte 0), and d = 1/inf = 0, as in ggml.
 */
void kquants_quantize_row_q8_K(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out; /* n / 256 blocks of 292 bytes, any alignment */
	assert(n % QK_K == 0);
	for (int64_t ib = 0; ib < n / QK_K; ib++, x += QK_K) {
		struct block_q8_K b;
		float amax = 0.0f, max = 0.0f;
		for (int j = 0; j < QK_K; j++) {
			const float ax = fabsf(x[j]);
			if (ax > amax) {
				amax = ax;
				max = x[j];
			}
		}
		memset(&b, 0, sizeof(b));
		if (amax != 0.0f) {
			const float iscale = -127.0f / max;
			for (int j = 0; j < QK_K; j++) {
				const int v = kquants_nearest_int(iscale * x[j]);
				const int c = v < 127 ? v : 127;
				const int lo = (int)((unsigned)c & 0xffu); /* ggml's int8_t store */
				b.qs[j] = (int8_t)(lo >= 128 ? lo - 256 : lo);
			}
			for (int j = 0; j < QK_K / 16; j++) {
				int sum = 0;
				for (int i = 0; i < 16; i++)
					sum += b.qs[16 * j + i];
				b.bsums[j] = (int16_t)sum;
			}
			b.d = 1.0f / iscale;
		}
		memcpy(dst + (size_t)ib * sizeof(b), &b, sizeof(b));
	}
}

/* Blocks are copied out of the rows (any alignment; see quants.c). */
#define LOAD_BLOCK(dst, base, i) memcpy(&(dst), (const uint8_t *)(base) + (size_t)(i) * sizeof(dst), sizeof(dst))

float kquants_vec_dot_q2_K_q8_K(const void *w, const void *act, int64_t n)
{
	float sumf = 0.0f;
	assert(n % QK_K == 0);
	for (int64_t ib = 0; ib < n / QK_K; ib++) {
		struct block_q2_K x;
		struct block_q8_K a;
		LOAD_BLOCK(x, w, ib);
		LOAD_BLOCK(a, act, ib);
		int isum = 0, summs = 0;
		for (int s = 0; s < QK_K / 16; s++) {
			/* values 16s .. 16s+15: bits 2k of qs[32h + l0 + l] */
			const int h = s / 8, k = (s / 2) % 4, l0 = 16 * (s % 2);
			int sumq = 0;
			for (int l = 0; l < 16; l++)
				sumq += a.qs[16 * s + l] * ((x.qs[32 * h + l0 + l] >> (2 * k)) & 3);
			isum += (x.scales[s] & 0x0f) * sumq;
			summs += (x.scales[s] >> 4) * a.bsums[s];
		}
		const float dall = a.d * ajar_f16_to_f32(x.d);
		const float dmin = a.d * ajar_f16_to_f32(x.dmin);
		sumf += dall * (float)isum - dmin * (float)summs;
	}
	return sumf;
}

float kquants_vec_dot_q3_K_q8_K(const void *w, const void *act, int64_t n)
{
	float sumf = 0.0f;
	assert(n % QK_K == 0);
	for (int64_t ib = 0; ib < n / QK_K; ib++) {
		struct block_q3_K x;
		struct block_q8_K a;
		int8_t sc[16];
		LOAD_BLOCK(x, w, ib);
		LOAD_BLOCK(a, act, ib);
		kquants_scales_q3_K(x.scales, sc);
		int isum = 0;
		for (int s = 0; s < QK_K / 16; s++) {
			const int h = s / 8, k = (s / 2) % 4, l0 = 16 * (s % 2);
			int sumq = 0;
			for (int l = 0; l < 16; l++) {
				const int lo = (x.qs[32 * h + l0 + l] >> (2 * k)) & 3;
				const int hi = (x.hmask[l0 + l] >> (s / 2)) & 1;
				sumq += a.qs[16 * s + l] * (lo - (hi ? 0 : 4));
			}
			isum += sc[s] * sumq;
		}
		const float d = ajar_f16_to_f32(x.d) * a.d;
		sumf += d * (float)isum;
	}
	return sumf;
}

/* Q4_K and Q5_K: qh is NULL for Q4_K. */
static float dot_q45_K(const uint16_t d16, uint16_t dmin16, const uint8_t *scales, const uint8_t *qs,
		       const uint8_t *qh, const struct block_q8_K *a)
{
	int isum = 0, summs = 0;
	for (int s = 0; s < QK_K / 32; s++) {
		uint8_t sc, mn;
		kquants_scale_min_k4(s, scales, &sc, &mn);
		const uint8_t *q = qs + 32 * (s / 2);
		const int shift = 4 * (s % 2);
		int sumq = 0;
		for (int l = 0; l < 32; l++) {
			int v = (q[l] >> shift) & 0x0f;
			if (qh)
				v |= ((qh[l] >> s) & 1) << 4;
			sumq += a->qs[32 * s + l] * v;
		}
		isum += sc * sumq;
		summs += mn * (a->bsums[2 * s] + a->bsums[2 * s + 1]);
	}
	const float d = ajar_f16_to_f32(d16) * a->d;
	const float dmin = ajar_f16_to_f32(dmin16) * a->d;
	return d * (float)isum - dmin * (float)summs;
}

float kquants_vec_dot_q4_K_q8_K(const void *w, const void *act, int64_t n)
{
	float sumf = 0.0f;
	assert(n % QK_K == 0);
	for (int64_t ib = 0; ib < n / QK_K; ib++) {
		struct block_q4_K x;
		struct block_q8_K a;
		LOAD_BLOCK(x, w, ib);
		LOAD_BLOCK(a, act, ib);
		sumf += dot_q45_K(x.d, x.dmin, x.scales, x.qs, NULL, &a);
	}
	return sumf;
}

float kquants_vec_dot_q5_K_q8_K(const void *w, const void *act, int64_t n)
{
	float sumf = 0.0f;
	assert(n % QK_K == 0);
	for (int64_t ib = 0; ib < n / QK_K; ib++) {
		struct block_q5_K x;
		struct block_q8_K a;
		LOAD_BLOCK(x, w, ib);
		LOAD_BLOCK(a, act, ib);
		sumf += dot_q45_K(x.d, x.dmin, x.scales, x.qs, x.qh, &a);
	}
	return sumf;
}

float kquants_vec_dot_q6_K_q8_K(const void *w, const void *act, int64_t n)
{
	float sumf = 0.0f;
	assert(n % QK_K == 0);
	for (int64_t ib = 0; ib < n / QK_K; ib++) {
		struct block_q6_K x;
		struct block_q8_K a;
		LOAD_BLOCK(x, w, ib);
		LOAD_BLOCK(a, act, ib);
		int isum = 0;
		for (int s = 0; s < QK_K / 16; s++) {
			const int h = s / 8, k = (s / 2) % 4, l0 = 16 * (s % 2);
			const uint8_t *ql = x.ql + 64 * h + 32 * (k & 1) + l0;
			const uint8_t *qh = x.qh + 32 * h + l0;
			int sumq = 0;
			for (int l = 0; l < 16; l++) {
				const int lo = (ql[l] >> (4 * (k >> 1))) & 0x0f;
				const int hi = (qh[l] >> (2 * k)) & 3;
				sumq += a.qs[16 * s + l] * ((lo | hi << 4) - 32);
			}
			isum += x.scales[s] * sumq;
		}
		const float d = ajar_f16_to_f32(x.d) * a.d;
		sumf += d * (float)isum;
	}
	return sumf;
}

float kquants_vec_dot_iq4_nl_q8_0(const void *w, const void *act, int64_t n)
{
	float sumf = 0.0f;
	assert(n % QK_IQ4 == 0);
	for (int64_t ib = 0; ib < n / QK_IQ4; ib++) {
		struct block_iq4_nl x;
		struct block_q8_0 a;
		LOAD_BLOCK(x, w, ib);
		LOAD_BLOCK(a, act, ib);
		int sumi = 0;
		for (int j = 0; j < QK_IQ4 / 2; j++) {
			sumi += a.qs[j] * iq4nl_values[x.qs[j] & 0x0f];
			sumi += a.qs[j + QK_IQ4 / 2] * iq4nl_values[x.qs[j] >> 4];
		}
		const float d = ajar_f16_to_f32(a.d) * ajar_f16_to_f32(x.d);
		sumf += d * (float)sumi;
	}
	return sumf;
}

/* ---- registration (see kquants_int.h) ------------------------------------ */

const struct kernel_table kquants_tables[3] = {
	[AJAR_CPU_SCALAR] = {
		.act_quantize = { [AJAR_TYPE_Q8_K] = kquants_quantize_row_q8_K },
		.vec_dot = {
			[AJAR_TYPE_Q2_K] = kquants_vec_dot_q2_K_q8_K,
			[AJAR_TYPE_Q3_K] = kquants_vec_dot_q3_K_q8_K,
			[AJAR_TYPE_Q4_K] = kquants_vec_dot_q4_K_q8_K,
			[AJAR_TYPE_Q5_K] = kquants_vec_dot_q5_K_q8_K,
			[AJAR_TYPE_Q6_K] = kquants_vec_dot_q6_K_q8_K,
			[AJAR_TYPE_IQ4_NL] = kquants_vec_dot_iq4_nl_q8_0,
		},
	},
	[AJAR_CPU_AVX2] = {
		.act_quantize = { [AJAR_TYPE_Q8_K] = kquants_act_q8_K_avx2 },
		.gemm = {
			[AJAR_TYPE_Q2_K] = kquants_gemm_q2_K_avx2,
			[AJAR_TYPE_Q3_K] = kquants_gemm_q3_K_avx2,
			[AJAR_TYPE_Q4_K] = kquants_gemm_q4_K_avx2,
			[AJAR_TYPE_Q5_K] = kquants_gemm_q5_K_avx2,
			[AJAR_TYPE_Q6_K] = kquants_gemm_q6_K_avx2,
			[AJAR_TYPE_IQ4_NL] = kquants_gemm_iq4_nl_avx2,
		},
	},
	[AJAR_CPU_AVX512] = {
		.act_quantize = { [AJAR_TYPE_Q8_K] = kquants_act_q8_K_avx512 },
		.gemm = {
			[AJAR_TYPE_Q4_K] = kquants_gemm_q4_K_avx512,
			[AJAR_TYPE_Q5_K] = kquants_gemm_q5_K_avx512,
			[AJAR_TYPE_Q6_K] = kquants_gemm_q6_K_avx512,
		},
	},
};
