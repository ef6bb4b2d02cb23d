/*
 * kquants_avx2.c - AVX2 + FMA + F16C kernels for the K-quants: the Q8_K
 * activation quantizer and tiled matrix products of Q2_K .. Q6_K weights
 * with Q8_K activations, and of IQ4_NL weights with Q8_0 activations. The scalar reference is kquants_scalar.c;
 * test_kquants checks these against it.
 *
 * Dot products: a weight row's super-block is unpacked to bytes (levels
 * 0..15, 0..31 or 0..63), multiplied with the int8 activations by
 * vpmaddubsw (u8 x s8, adjacent pairs summed to int16: at most 63 * 127 * 2,
 * no saturation), then by the sub-block's scale with vpmaddwd (int16 pairs
 * to int32). The integer sums of a super-block are exact, the same as the
 * scalar level's, held in 8 int32 lanes that are converted to f32 once per
 * super-block (exactly, unless a lane passes 2^24, which only a Q6_K block
 * of near-extreme scales and activations can) and added with d_w * d_a by
 * FMA. The min / offset terms come from Q8_K's bsums: one vpmaddwd per
 * super-block. Only f32 rounding and summation order differ from the scalar
 * level.
 *
 * Tiling: a tile is R weight rows x T tokens. For each super-block, each
 * row's scales are unpacked once, and each 32-byte group of quants once per
 * row, then used for all T tokens; a tile keeps R * T f32 accumulators.
 * Decoding and two-token batches run one row at a time (one weight stream,
 * bound by memory bandwidth); see kquants_gemm_tiled in kquants_int.h.
 */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensor/kquants_int.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE float load_f16(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, sizeof(h));
	return _cvtsh_ss(h);
}

static ALWAYS_INLINE float load_f32(const uint8_t *p)
{
	float f;
	memcpy(&f, p, sizeof(f));
	return f;
}

static ALWAYS_INLINE __m256i loadu256(const uint8_t *p)
{
	return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

static ALWAYS_INLINE float hsum256(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/*
 * Tiles walk R rows side by side, which the hardware prefetcher follows
 * poorly when the weights come from memory (a tile of two rows reading
 * two streams ran at a third of one stream's speed): each block of the
 * rows in work prefetches the same block R rows further on, so the next
 * tile's rows are in cache, read in row order, one tile ahead. One-row
 * tiles (decoding) read a single stream, which the hardware prefetcher
 * follows well; software prefetches there only cost time (Q6_K decoding
 * from memory: 0.9x llama.cpp's speed with them, 1.05x without).
 */
static ALWAYS_INLINE void prefetch_block(uintptr_t addr, size_t size)
{
	/* an integer address: past the last tile it points outside the weights,
	 * which a prefetch may do but C pointer arithmetic may not */
	for (size_t off = 0; off < size + 63; off += 64)
		_mm_prefetch((const char *)(addr + off), _MM_HINT_T0);
}

/* ---- Q8_K activations ---------------------------------------------------- */

/*
 * Same bytes as kquants_quantize_row_q8_K: the signed extreme is the first
 * value of largest magnitude; q = round-half-even(x * (-127 / max)), which
 * vcvtps2dq computes (in the default rounding mode, which ajar never
 * changes) for |v| < 2^22 exactly as ggml's nearest_int; the
 * int32 -> int8 packs never saturate (|q| <= 127). Blocks with a NaN or an
 * infinity, or whose -127 / max overflows, take the scalar path, where
 * ggml's conversions of such values are reproduced.
 */
void kquants_act_q8_K_avx2(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out; /* n / 256 blocks of 292 bytes */
	const __m256 sign_mask = _mm256_set1_ps(-0.0f);
	for (int64_t ib = 0; ib < n / QK_K; ib++, x += QK_K, dst += sizeof(struct block_q8_K)) {
		__m256 vmax = _mm256_setzero_ps();
		__m256 bad = _mm256_setzero_ps();
		for (int j = 0; j < QK_K; j += 8) {
			const __m256 v = _mm256_loadu_ps(x + j);
			const __m256 a = _mm256_andnot_ps(sign_mask, v);
			vmax = _mm256_max_ps(vmax, a);
			bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, _mm256_set1_ps(INFINITY), _CMP_NLT_UQ)); /* inf or NaN */
		}
		__m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
		m = _mm_max_ps(m, _mm_movehl_ps(m, m));
		m = _mm_max_ss(m, _mm_movehdup_ps(m));
		const float amax = _mm_cvtss_f32(m);
		if (_mm256_movemask_ps(bad) || amax == 0.0f) {
			kquants_quantize_row_q8_K(x, dst, QK_K);
			continue;
		}
		int first = 0; /* the first value of magnitude amax */
		while (fabsf(x[first]) != amax)
			first++;
		const float iscale = -127.0f / x[first];
		if (!isfinite(iscale)) {
			kquants_quantize_row_q8_K(x, dst, QK_K);
			continue;
		}
		const __m256 vs = _mm256_set1_ps(iscale);
		const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
		int16_t bsums[QK_K / 16];
		for (int j = 0; j < QK_K; j += 32) {
			__m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), vs));
			__m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), vs));
			__m256i q2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), vs));
			__m256i q3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), vs));
			const __m256i cap = _mm256_set1_epi32(127);
			q0 = _mm256_min_epi32(q0, cap), q1 = _mm256_min_epi32(q1, cap);
			q2 = _mm256_min_epi32(q2, cap), q3 = _mm256_min_epi32(q3, cap);
			/* bsums of values j..j+15 (q0, q1) and j+16..j+31 (q2, q3) */
			__m256i h = _mm256_hadd_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3));
			h = _mm256_hadd_epi32(h, h);
			const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
			bsums[j / 16] = (int16_t)_mm_cvtsi128_si32(s);
			bsums[j / 16 + 1] = (int16_t)_mm_extract_epi32(s, 1);
			/* packs work per 128-bit lane: restore value order after */
			const __m256i p16a = _mm256_packs_epi32(q0, q1), p16b = _mm256_packs_epi32(q2, q3);
			const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), perm);
			_mm256_storeu_si256((__m256i *)(void *)(dst + 4 + j), p8);
		}
		const float d = 1.0f / iscale;
		memcpy(dst, &d, sizeof(d));
		memcpy(dst + 260, bsums, sizeof(bsums));
	}
}

/* ---- shared unpacking ------------------------------------------------------ */


/* Byte `i` of the 16 in both lanes of b, zero-extended to all 16 int16 lanes. */
#define BCAST_U8_AS_I16(b, i) _mm256_shuffle_epi8((b), _mm256_set1_epi16((short)(0x8000 | (i))))

#define PRAGMA_UNROLL _Pragma("GCC unroll 8")

/* Tile shapes (measured on Zen 4, which runs 4 x 8 and 2 x 8 alike
 * within noise; a row tile of 4 keeps the 16 registers busy without
 * spilling the unpacked quants). */
#ifndef R_MAX
#define R_MAX 4
#endif
#ifndef T_MAX
#define T_MAX 8
#endif
#define ACC_R 4 /* array bounds for tiles up to 4 x 8 */
#define ACC_T 8
#define ROW_CHUNK 32

/* One R x T tile: acc[r][t] to y[t * ys + r]. */
#define STORE_TILE(acc, R, T, y, ys)                                          \
	do {                                                                  \
		PRAGMA_UNROLL for (int r_ = 0; r_ < (R); r_++)                \
			PRAGMA_UNROLL for (int t_ = 0; t_ < (T); t_++)        \
				(y)[(size_t)t_ * (ys) + (size_t)r_] = hsum256((acc)[r_][t_]); \
	} while (0)

/* ---- Q4_K and Q5_K -------------------------------------------------------- */

/*
 * Q4_K (qh == false) or Q5_K (qh == true) rows against Q8_K tokens. Per
 * super-block and row: scales and mins unpacked once; each 32-byte group j
 * of quants holds sub-block 2j in its low nibbles and 2j+1 in its high ones,
 * matching activations 64j .. 64j+63.
 */
static ALWAYS_INLINE void tile_q45_K(const uint8_t *w, size_t ws, const uint8_t *a, size_t as, int64_t nb, float *y,
				    size_t ys, const int R, const int T, const bool qh)
{
	const size_t wsz = qh ? sizeof(struct block_q5_K) : sizeof(struct block_q4_K);
	const size_t qs_off = qh ? 48 : 16;
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	__m256 acc[ACC_R][ACC_T];
	PRAGMA_UNROLL for (int r = 0; r < R; r++)
		PRAGMA_UNROLL for (int t = 0; t < T; t++)
			acc[r][t] = _mm256_setzero_ps();

	for (int64_t ib = 0; ib < nb; ib++) {
		const uint8_t *ab = a + (size_t)ib * sizeof(struct block_q8_K);
		PRAGMA_UNROLL for (int r = 0; r < R; r++) {
			const uint8_t *wb = w + (size_t)r * ws + (size_t)ib * wsz;
			if (R > 1)
				prefetch_block((uintptr_t)wb + (uintptr_t)R * ws, wsz);
			const __m128i scm = kquants_scales_k4_simd(wb + 4);
			const __m256i scb = _mm256_broadcastsi128_si256(scm);
			const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scm, scm)); /* mn0 mn0 mn1 mn1 ... */
			__m256i hb = qh ? loadu256(wb + 16) : _mm256_setzero_si256();
			__m256i isum[ACC_T];
			PRAGMA_UNROLL for (int t = 0; t < T; t++)
				isum[t] = _mm256_setzero_si256();
			PRAGMA_UNROLL for (int j = 0; j < 4; j++) {
				const __m256i q = loadu256(wb + qs_off + 32 * j);
				__m256i lo = _mm256_and_si256(q, m4);
				__m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
				if (qh) { /* bit 2j of qh[l] is bit 4 of sub-block 2j's value l, bit 2j+1 of 2j+1's */
					lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hb, _mm256_set1_epi8(1)), 4));
					hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(hb, _mm256_set1_epi8(2)), 3));
					hb = _mm256_srli_epi16(hb, 2);
				}
				const __m256i sl = BCAST_U8_AS_I16(scb, 2 * j), sh = BCAST_U8_AS_I16(scb, 2 * j + 1);
				PRAGMA_UNROLL for (int t = 0; t < T; t++) {
					const uint8_t *aq = ab + (size_t)t * as + 4 + 64 * j;
					const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, loadu256(aq)), sl);
					const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, loadu256(aq + 32)), sh);
					isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(pl, ph));
				}
			}
			const float d = load_f16(wb), dmin = load_f16(wb + 2);
			PRAGMA_UNROLL for (int t = 0; t < T; t++) {
				const uint8_t *at = ab + (size_t)t * as;
				const float da = load_f32(at);
				const __m256i msum = _mm256_madd_epi16(loadu256(at + 260), mins);
				acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * da), acc[r][t]);
				acc[r][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * da), acc[r][t]);
			}
		}
	}
	STORE_TILE(acc, R, T, y, ys);
}

/* ---- Q6_K ------------------------------------------------------------------ */

/*
 * Q6_K rows against Q8_K tokens. Values 128h + 32k + l (k < 4) have their
 * low 4 bits in ql[64h + 32(k & 1) + l] (nibble k >> 1) and top 2 bits in
 * qh[32h + l] (bits 2k); 32 activations cover sub-blocks 8h+2k, 8h+2k+1,
 * whose int8 scales go to int16 lanes 0-7 and 8-15. The levels are 0..63:
 * the -32 offset is subtracted as 32 * sum(sc * bsums).
 */
static ALWAYS_INLINE void tile_q6_K(const uint8_t *w, size_t ws, const uint8_t *a, size_t as, int64_t nb, float *y,
				   size_t ys, const int R, const int T)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	__m256 acc[ACC_R][ACC_T];
	PRAGMA_UNROLL for (int r = 0; r < R; r++)
		PRAGMA_UNROLL for (int t = 0; t < T; t++)
			acc[r][t] = _mm256_setzero_ps();

	for (int64_t ib = 0; ib < nb; ib++) {
		const uint8_t *ab = a + (size_t)ib * sizeof(struct block_q8_K);
		PRAGMA_UNROLL for (int r = 0; r < R; r++) {
			const uint8_t *wb = w + (size_t)r * ws + (size_t)ib * sizeof(struct block_q6_K);
			if (R > 1)
				prefetch_block((uintptr_t)wb + (uintptr_t)R * ws, sizeof(struct block_q6_K));
			const __m128i sc8 = _mm_loadu_si128((const __m128i *)(const void *)(wb + 192));
			__m256i isum[ACC_T];
			PRAGMA_UNROLL for (int t = 0; t < T; t++)
				isum[t] = _mm256_setzero_si256();
			PRAGMA_UNROLL for (int h = 0; h < 2; h++) {
				const __m256i ql0 = loadu256(wb + 64 * h), ql1 = loadu256(wb + 64 * h + 32);
				const __m256i qhv = loadu256(wb + 128 + 32 * h);
				PRAGMA_UNROLL for (int k = 0; k < 4; k++) {
					const __m256i ql = k & 1 ? ql1 : ql0;
					const __m256i lo4 = k < 2 ? _mm256_and_si256(ql, m4)
								  : _mm256_and_si256(_mm256_srli_epi16(ql, 4), m4);
					__m256i hi2 = _mm256_and_si256(qhv, _mm256_set1_epi8((char)(3 << (2 * k))));
					hi2 = k == 0 ? _mm256_slli_epi16(hi2, 4) : k == 1 ? _mm256_slli_epi16(hi2, 2)
						: k == 2 ? hi2 : _mm256_srli_epi16(hi2, 2);
					const __m256i q = _mm256_or_si256(lo4, hi2);
					const int s = 8 * h + 2 * k; /* sub-blocks s, s+1 */
					const __m128i idx = _mm_setr_epi8((char)s, (char)s, (char)s, (char)s, (char)s, (char)s,
									  (char)s, (char)s, (char)(s + 1), (char)(s + 1),
									  (char)(s + 1), (char)(s + 1), (char)(s + 1),
									  (char)(s + 1), (char)(s + 1), (char)(s + 1));
					const __m256i sc = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, idx));
					PRAGMA_UNROLL for (int t = 0; t < T; t++) {
						const uint8_t *aq = ab + (size_t)t * as + 4 + 128 * h + 32 * k;
						const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, loadu256(aq)), sc);
						isum[t] = _mm256_add_epi32(isum[t], p);
					}
				}
			}
			const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
			const float d = load_f16(wb + 208);
			PRAGMA_UNROLL for (int t = 0; t < T; t++) {
				const uint8_t *at = ab + (size_t)t * as;
				const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(loadu256(at + 260), sc16), 5);
				const __m256 s = _mm256_cvtepi32_ps(_mm256_sub_epi32(isum[t], off));
				acc[r][t] = _mm256_fmadd_ps(s, _mm256_set1_ps(d * load_f32(at)), acc[r][t]);
			}
		}
	}
	STORE_TILE(acc, R, T, y, ys);
}

/* ---- Q2_K and Q3_K -------------------------------------------------------- */

/*
 * Q2_K (q3 == false) or Q3_K (q3 == true) rows against Q8_K tokens. Values
 * 128h + 32k + l have their 2 low bits at bits 2k of qs[32h + l], so one
 * shift and mask gives the 32 values matching activations 128h + 32k ..;
 * Q3_K's third bit is bit (4h + k) of hmask[l]. The 32 values cover
 * sub-blocks 2m and 2m+1 (m = 4h + k), whose scales go to int16 lanes 0-7
 * and 8-15.
 *   Q2_K: x = d * (sc & 15) * q - dmin * (sc >> 4); the mins from bsums.
 *   Q3_K: x = d * (sc6 - 32) * (q - 4), q = 0..7; the -4 taken away as
 *         4 * sum(scale * bsums).
 */
static ALWAYS_INLINE void tile_q23_K(const uint8_t *w, size_t ws, const uint8_t *a, size_t as, int64_t nb, float *y,
				    size_t ys, const int R, const int T, const bool q3)
{
	const size_t wsz = q3 ? sizeof(struct block_q3_K) : sizeof(struct block_q2_K);
	const size_t qs_off = q3 ? 32 : 16;
	const __m256i m3 = _mm256_set1_epi8(3);
	__m256 acc[ACC_R][ACC_T];
	PRAGMA_UNROLL for (int r = 0; r < R; r++)
		PRAGMA_UNROLL for (int t = 0; t < T; t++)
			acc[r][t] = _mm256_setzero_ps();

	for (int64_t ib = 0; ib < nb; ib++) {
		const uint8_t *ab = a + (size_t)ib * sizeof(struct block_q8_K);
		PRAGMA_UNROLL for (int r = 0; r < R; r++) {
			const uint8_t *wb = w + (size_t)r * ws + (size_t)ib * wsz;
			if (R > 1)
				prefetch_block((uintptr_t)wb + (uintptr_t)R * ws, wsz);
			__m128i sc8, mn8 = _mm_setzero_si128(); /* per sub-block: scale (signed), min */
			if (q3) {
				/* 16 6-bit scales: low nibbles from bytes 0-7 (low, then high nibbles),
				 * top 2 bits from bytes 8-11 (bits 2k of byte 8+j for scale 4k+j) */
				uint32_t hbits;
				memcpy(&hbits, wb + 96 + 8, sizeof(hbits));
				const __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(wb + 96));
				const __m128i m4x = _mm_set1_epi8(0x0f);
				const __m128i lo = _mm_unpacklo_epi64(_mm_and_si128(b, m4x), _mm_and_si128(_mm_srli_epi16(b, 4), m4x));
				const __m128i hi = _mm_and_si128(_mm_setr_epi32((int)hbits, (int)(hbits >> 2), (int)(hbits >> 4),
										 (int)(hbits >> 6)),
								  _mm_set1_epi8(3));
				sc8 = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
			} else {
				const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)wb);
				sc8 = _mm_and_si128(b, _mm_set1_epi8(0x0f));
				mn8 = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
			}
			const __m256i hm = q3 ? loadu256(wb) : _mm256_setzero_si256();
			__m256i isum[ACC_T];
			PRAGMA_UNROLL for (int t = 0; t < T; t++)
				isum[t] = _mm256_setzero_si256();
			PRAGMA_UNROLL for (int h = 0; h < 2; h++) {
				const __m256i qv = loadu256(wb + qs_off + 32 * h);
				PRAGMA_UNROLL for (int k = 0; k < 4; k++) {
					const int m = 4 * h + k;
					__m256i q = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * k), m3);
					if (q3)
						q = _mm256_or_si256(q, _mm256_slli_epi16(
									   _mm256_and_si256(_mm256_srli_epi16(hm, m), _mm256_set1_epi8(1)), 2));
					const __m128i idx = _mm_setr_epi8((char)(2 * m), (char)(2 * m), (char)(2 * m), (char)(2 * m),
									  (char)(2 * m), (char)(2 * m), (char)(2 * m), (char)(2 * m),
									  (char)(2 * m + 1), (char)(2 * m + 1), (char)(2 * m + 1),
									  (char)(2 * m + 1), (char)(2 * m + 1), (char)(2 * m + 1),
									  (char)(2 * m + 1), (char)(2 * m + 1));
					const __m256i sc = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, idx));
					PRAGMA_UNROLL for (int t = 0; t < T; t++) {
						const uint8_t *aq = ab + (size_t)t * as + 4 + 32 * m;
						const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, loadu256(aq)), sc);
						isum[t] = _mm256_add_epi32(isum[t], p);
					}
				}
			}
			const __m256i corr16 = _mm256_cvtepi8_epi16(q3 ? sc8 : mn8); /* Q3_K scales, Q2_K mins */
			if (q3) {
				const float d = load_f16(wb + 108);
				PRAGMA_UNROLL for (int t = 0; t < T; t++) {
					const uint8_t *at = ab + (size_t)t * as;
					const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(loadu256(at + 260), corr16), 2);
					const __m256 s = _mm256_cvtepi32_ps(_mm256_sub_epi32(isum[t], off));
					acc[r][t] = _mm256_fmadd_ps(s, _mm256_set1_ps(d * load_f32(at)), acc[r][t]);
				}
			} else {
				const float d = load_f16(wb + 80), dmin = load_f16(wb + 82);
				PRAGMA_UNROLL for (int t = 0; t < T; t++) {
					const uint8_t *at = ab + (size_t)t * as;
					const float da = load_f32(at);
					const __m256i msum = _mm256_madd_epi16(loadu256(at + 260), corr16);
					acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * da), acc[r][t]);
					acc[r][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * da), acc[r][t]);
				}
			}
		}
	}
	STORE_TILE(acc, R, T, y, ys);
}

/* ---- IQ4_NL ---------------------------------------------------------------- */

/*
 * IQ4_NL rows against Q8_0 tokens, 32 values per block. The 4-bit indices
 * are looked up in the level table with vpshufb (values 0-15 from the low
 * nibbles, 16-31 from the high ones, the order of Q8_0's qs). The levels
 * are signed, so the product takes the usual sign trick: |w| (u8) times
 * a * sign(w) (s8) by vpmaddubsw (at most 2 * 127 * 127, no saturation).
 * Each block adds its int32 sum times d_w * d_a.
 */
static ALWAYS_INLINE void tile_iq4_nl(const uint8_t *w, size_t ws, const uint8_t *a, size_t as, int64_t nb, float *y,
				     size_t ys, const int R, const int T)
{
	const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)iq4nl_values));
	const __m128i m4 = _mm_set1_epi8(0x0f);
	const __m256i ones = _mm256_set1_epi16(1);
	__m256 acc[ACC_R][ACC_T];
	PRAGMA_UNROLL for (int r = 0; r < R; r++)
		PRAGMA_UNROLL for (int t = 0; t < T; t++)
			acc[r][t] = _mm256_setzero_ps();

	for (int64_t ib = 0; ib < nb; ib++) {
		const uint8_t *ab = a + (size_t)ib * sizeof(struct block_q8_0);
		PRAGMA_UNROLL for (int r = 0; r < R; r++) {
			const uint8_t *wb = w + (size_t)r * ws + (size_t)ib * sizeof(struct block_iq4_nl);
			if (R > 1 && ib % 4 == 0)
				prefetch_block((uintptr_t)wb + (uintptr_t)R * ws, 4 * sizeof(struct block_iq4_nl));
			const __m128i qs = _mm_loadu_si128((const __m128i *)(const void *)(wb + 2));
			const __m256i idx = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(qs, m4)),
								    _mm_and_si128(_mm_srli_epi16(qs, 4), m4), 1);
			const __m256i q = _mm256_shuffle_epi8(table, idx);
			const __m256i qa = _mm256_sign_epi8(q, q);
			const float d = load_f16(wb);
			PRAGMA_UNROLL for (int t = 0; t < T; t++) {
				const uint8_t *at = ab + (size_t)t * as;
				const __m256i p = _mm256_maddubs_epi16(qa, _mm256_sign_epi8(loadu256(at + 2), q));
				const __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
				acc[r][t] = _mm256_fmadd_ps(s, _mm256_set1_ps(d * load_f16(at)), acc[r][t]);
			}
		}
	}
	STORE_TILE(acc, R, T, y, ys);
}

/* ---- tiles and entry points ----------------------------------------------- */

#define TILE(name, call, R, T)                                                                      \
	static void name##_##R##x##T(const uint8_t *w, size_t ws, const uint8_t *a, size_t as, int64_t nb,   \
				     float *y, size_t ys)                                                     \
	{                                                                                                    \
		call(R, T);                                                                                  \
	}
/* One row: T = 1 .. 8 tokens. */
#define TILE_ROW(name, call, R)                                                                              \
	TILE(name, call, R, 1)                                                                               \
	TILE(name, call, R, 2) TILE(name, call, R, 3) TILE(name, call, R, 4) TILE(name, call, R, 5)          \
	TILE(name, call, R, 6) TILE(name, call, R, 7) TILE(name, call, R, 8)                                 \
	static const kquants_tile_fn name##_tiles_##R[8] = {                                                 \
		name##_##R##x1, name##_##R##x2, name##_##R##x3, name##_##R##x4,                               \
		name##_##R##x5, name##_##R##x6, name##_##R##x7, name##_##R##x8,                               \
	};
/* R_MAX rows: only T >= KQUANTS_WIDE_MIN_T = 3 tokens are ever run. */
_Static_assert(KQUANTS_WIDE_MIN_T == 3 && T_MAX <= 8, "wide tiles exist for 3 .. 8 tokens");
#define TILE_WIDE(name, call, R)                                                                             \
	TILE(name, call, R, 3) TILE(name, call, R, 4) TILE(name, call, R, 5)                                 \
	TILE(name, call, R, 6) TILE(name, call, R, 7) TILE(name, call, R, 8)                                 \
	static const kquants_tile_fn name##_tiles_##R[8] = {                                                 \
		NULL, NULL, name##_##R##x3, name##_##R##x4,                                                   \
		name##_##R##x5, name##_##R##x6, name##_##R##x7, name##_##R##x8,                               \
	};
/* (indirections so that R_MAX is expanded before pasting) */
#define TILE_WIDE_X(name, call, R) TILE_WIDE(name, call, R)
#define WIDE_X(name, R) name##_tiles_##R
#define WIDE(name, R) WIDE_X(name, R)
#define TILES(name, call)                                                                                    \
	TILE_ROW(name, call, 1)                                                                              \
	TILE_WIDE_X(name, call, R_MAX)                                                                       \
	static const struct kquants_tiles name##_tiles = { R_MAX, T_MAX, WIDE(name, R_MAX), name##_tiles_1 };

#define CALL_Q4_K(R, T) tile_q45_K(w, ws, a, as, nb, y, ys, R, T, false)
#define CALL_Q5_K(R, T) tile_q45_K(w, ws, a, as, nb, y, ys, R, T, true)
#define CALL_Q6_K(R, T) tile_q6_K(w, ws, a, as, nb, y, ys, R, T)
TILES(q4_K, CALL_Q4_K)
TILES(q5_K, CALL_Q5_K)
TILES(q6_K, CALL_Q6_K)
#define CALL_Q2_K(R, T) tile_q23_K(w, ws, a, as, nb, y, ys, R, T, false)
#define CALL_Q3_K(R, T) tile_q23_K(w, ws, a, as, nb, y, ys, R, T, true)
#define CALL_IQ4_NL(R, T) tile_iq4_nl(w, ws, a, as, nb, y, ys, R, T)
TILES(q2_K, CALL_Q2_K)
TILES(q3_K, CALL_Q3_K)
TILES(iq4_nl, CALL_IQ4_NL)

void kquants_gemm_q4_K_avx2(KQUANTS_GEMM_ARGS)
{
	kquants_gemm_tiled(&q4_K_tiles, ROW_CHUNK, QK_K, w, w_stride, n_in, r0, r1, act, act_stride,
			   n_tok, y, y_stride);
}

void kquants_gemm_q5_K_avx2(KQUANTS_GEMM_ARGS)
{
	kquants_gemm_tiled(&q5_K_tiles, ROW_CHUNK, QK_K, w, w_stride, n_in, r0, r1, act, act_stride,
			   n_tok, y, y_stride);
}

void kquants_gemm_q6_K_avx2(KQUANTS_GEMM_ARGS)
{
	kquants_gemm_tiled(&q6_K_tiles, ROW_CHUNK, QK_K, w, w_stride, n_in, r0, r1, act, act_stride,
			   n_tok, y, y_stride);
}

void kquants_gemm_q2_K_avx2(KQUANTS_GEMM_ARGS)
{
	kquants_gemm_tiled(&q2_K_tiles, ROW_CHUNK, QK_K, w, w_stride, n_in, r0, r1, act, act_stride,
			   n_tok, y, y_stride);
}

void kquants_gemm_q3_K_avx2(KQUANTS_GEMM_ARGS)
{
	kquants_gemm_tiled(&q3_K_tiles, ROW_CHUNK, QK_K, w, w_stride, n_in, r0, r1, act, act_stride,
			   n_tok, y, y_stride);
}

void kquants_gemm_iq4_nl_avx2(KQUANTS_GEMM_ARGS)
{
	kquants_gemm_tiled(&iq4_nl_tiles, ROW_CHUNK, QK_IQ4, w, w_stride, n_in, r0, r1, act, act_stride,
			   n_tok, y, y_stride);
}
