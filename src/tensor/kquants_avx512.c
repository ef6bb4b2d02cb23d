/*
 * kquants_avx512.c - AVX-512 (F/BW/VL/DQ) kernels for the K-quants: the
 * Q8_K activation quantizer and tiled matrix products of Q4_K, Q5_K and
 * Q6_K weights with Q8_K activations. The products are kquants_avx2.c's
 * (vpmaddubsw then vpmaddwd with the sub-block scales, exact integer sums
 * per super-block, one FMA per super-block) on 64 values per instruction;
 * no VNNI needed (vpdpwssd measured no faster on Zen 4). The min / offset
 * terms are taken in f32: per token d_a * bsums once per super-block, per
 * row dmin * mins (or 32 d * scales), one FMA per row and token. The scalar
 * reference is kquants_scalar.c; test_kquants checks these against it.
 *
 * A 512-bit register of activations covers 64 consecutive values, so the
 * weights are unpacked to match: Q4_K's 32-byte quant groups hold two
 * sub-blocks each (low and high nibbles), and vshufi64x2 puts sub-blocks
 * 2k and 2k+1 side by side; Q6_K's ql rows are already contiguous per 64
 * values and only its 2-bit high parts need a per-half shift (vpsllvw).
 * Per-sub-block scales are spread over their int16 lanes with vpermw.
 */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensor/kquants_int.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define PRAGMA_UNROLL _Pragma("GCC unroll 8")

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

static ALWAYS_INLINE __m512i loadu512(const uint8_t *p)
{
	return _mm512_loadu_si512((const void *)p);
}

static ALWAYS_INLINE __m256i loadu256(const uint8_t *p)
{
	return _mm256_loadu_si256((const __m256i *)(const void *)p);
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

/* As kquants_act_q8_K_avx2 (same bytes as the scalar reference); the
 * conversion rounds to nearest even explicitly, whatever MXCSR says. */
void kquants_act_q8_K_avx512(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out; /* n / 256 blocks of 292 bytes */
	for (int64_t ib = 0; ib < n / QK_K; ib++, x += QK_K, dst += sizeof(struct block_q8_K)) {
		__m512 vmax = _mm512_setzero_ps();
		__mmask16 bad = 0;
		for (int j = 0; j < QK_K; j += 16) {
			const __m512 a = _mm512_abs_ps(_mm512_loadu_ps(x + j));
			vmax = _mm512_max_ps(vmax, a);
			bad |= _mm512_cmp_ps_mask(a, _mm512_set1_ps(INFINITY), _CMP_NLT_UQ); /* inf or NaN */
		}
		const float amax = _mm512_reduce_max_ps(vmax);
		if (bad || amax == 0.0f) {
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
		const __m512 vs = _mm512_set1_ps(iscale);
		int16_t bsums[QK_K / 16];
		for (int j = 0; j < QK_K; j += 16) {
			const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + j), vs);
			__m512i q = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
			q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
			bsums[j / 16] = (int16_t)_mm512_reduce_add_epi32(q);
			_mm_storeu_si128((__m128i *)(void *)(dst + 4 + j), _mm512_cvtsepi32_epi8(q));
		}
		const float d = 1.0f / iscale;
		memcpy(dst, &d, sizeof(d));
		memcpy(dst + 260, bsums, sizeof(bsums));
	}
}

/* ---- shared unpacking ------------------------------------------------------ */


/* int16 lanes 0-15 = s16[i0], lanes 16-31 = s16[i1] */
static ALWAYS_INLINE __m512i spread2(__m512i s16, int i0, int i1)
{
	const __m512i idx = _mm512_inserti64x4(_mm512_set1_epi16((short)i0), _mm256_set1_epi16((short)i1), 1);
	return _mm512_permutexvar_epi16(idx, s16);
}

/* int16 lanes 8i .. 8i+7 = s16[i0 + i], i < 4 */
static ALWAYS_INLINE __m512i spread4(__m512i s16, int i0)
{
	const __m512i idx = _mm512_add_epi16(_mm512_set1_epi16((short)i0),
					     _mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22,
										 21, 20, 19, 18, 17, 16, 15, 14, 13,
										 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2,
										 1, 0),
							       3));
	return _mm512_permutexvar_epi16(idx, s16);
}

/* Tile shapes (2 x 8 and 4 x 8 measured alike on Zen 4; 2 rows leave
 * room in the 32 registers for the 8 unpacked quant and scale vectors). */
#ifndef R_MAX
#define R_MAX 2
#endif
#ifndef T_MAX
#define T_MAX 8
#endif
#define ACC_R 4 /* array bounds for tiles up to 4 x 8 */
#define ACC_T 8
#define ROW_CHUNK 32

#define STORE_TILE(acc, R, T, y, ys)                                                     \
	do {                                                                             \
		PRAGMA_UNROLL for (int r_ = 0; r_ < (R); r_++)                           \
			PRAGMA_UNROLL for (int t_ = 0; t_ < (T); t_++)                   \
				(y)[(size_t)t_ * (ys) + (size_t)r_] = _mm512_reduce_add_ps((acc)[r_][t_]); \
	} while (0)

/* ---- Q4_K and Q5_K -------------------------------------------------------- */

static ALWAYS_INLINE void tile_q45_K(const uint8_t *w, size_t ws, const uint8_t *a, size_t as, int64_t nb, float *y,
				    size_t ys, const int R, const int T, const bool qh)
{
	const size_t wsz = qh ? sizeof(struct block_q5_K) : sizeof(struct block_q4_K);
	const size_t qs_off = qh ? 48 : 16;
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	__m512 acc[ACC_R][ACC_T];
	PRAGMA_UNROLL for (int r = 0; r < R; r++)
		PRAGMA_UNROLL for (int t = 0; t < T; t++)
			acc[r][t] = _mm512_setzero_ps();

	for (int64_t ib = 0; ib < nb; ib++) {
		const uint8_t *ab = a + (size_t)ib * sizeof(struct block_q8_K);
		/* per token: d_a, and d_a * (sums of its 8 sub-blocks of 32) for the mins */
		float tok_d[ACC_T];
		__m512 tok_m[ACC_T];
		PRAGMA_UNROLL for (int t = 0; t < T; t++) {
			const uint8_t *at = ab + (size_t)t * as;
			const __m256i sums = _mm256_madd_epi16(loadu256(at + 260), _mm256_set1_epi16(1));
			tok_d[t] = load_f32(at);
			tok_m[t] = _mm512_zextps256_ps512(_mm256_mul_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(tok_d[t])));
		}
		PRAGMA_UNROLL for (int r = 0; r < R; r++) {
			const uint8_t *wb = w + (size_t)r * ws + (size_t)ib * wsz;
			if (R > 1)
				prefetch_block((uintptr_t)wb + (uintptr_t)R * ws, wsz);
			const __m128i scm = kquants_scales_k4_simd(wb + 4);
			const __m512i sc16 = _mm512_cvtepu8_epi16(_mm256_castsi128_si256(scm)); /* lanes 0-7 scales */
			const float d = load_f16(wb), dmin = load_f16(wb + 2);
			/* dmin * mn[s], s < 8, in f32 */
			const __m512 mins = _mm512_zextps256_ps512(_mm256_mul_ps(
				_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(scm, 8))), _mm256_set1_ps(dmin)));
			/* W[k]: sub-blocks 2k (bytes 0-31) and 2k+1 (32-63); S[k] their scales */
			__m512i W[4], S[4];
			PRAGMA_UNROLL for (int g = 0; g < 2; g++) {
				const __m512i q = loadu512(wb + qs_off + 64 * g);
				const __m512i lo = _mm512_and_si512(q, m4);
				const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
				W[2 * g] = _mm512_shuffle_i64x2(lo, hi, 0x44);
				W[2 * g + 1] = _mm512_shuffle_i64x2(lo, hi, 0xee);
			}
			if (qh) { /* bit s of qh[l] is bit 4 of sub-block s's value l */
				const __m512i hb = _mm512_broadcast_i64x4(loadu256(wb + 16));
				PRAGMA_UNROLL for (int k = 0; k < 4; k++) {
					const __m512i bits = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * k))),
										_mm256_set1_epi8((char)(1 << (2 * k + 1))), 1);
					const __mmask64 m = _mm512_test_epi8_mask(hb, bits);
					W[k] = _mm512_mask_add_epi8(W[k], m, W[k], _mm512_set1_epi8(16));
				}
			}
			PRAGMA_UNROLL for (int k = 0; k < 4; k++)
				S[k] = spread2(sc16, 2 * k, 2 * k + 1);
			const __m512 vd = _mm512_set1_ps(d);
			PRAGMA_UNROLL for (int t = 0; t < T; t++) {
				const uint8_t *at = ab + (size_t)t * as;
				__m512i isum = _mm512_setzero_si512();
				PRAGMA_UNROLL for (int k = 0; k < 4; k++) {
					const __m512i p = _mm512_maddubs_epi16(W[k], loadu512(at + 4 + 64 * k));
					isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, S[k]));
				}
				const __m512 dd = _mm512_mul_ps(vd, _mm512_set1_ps(tok_d[t]));
				acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), dd, acc[r][t]);
				acc[r][t] = _mm512_fnmadd_ps(mins, tok_m[t], acc[r][t]);
			}
		}
	}
	STORE_TILE(acc, R, T, y, ys);
}

/* ---- Q6_K ------------------------------------------------------------------ */

/*
 * 64 values 128h + 64g .. +63 (g < 2) have their low 4 bits in ql[64h ..
 * 64h+63] (nibble g) and their top 2 bits in qh[32h + l], bits 4g + 0..1
 * for the first 32 and 4g + 2..3 for the second: moved to bits 4..5 by
 * masking and a per-half shift. Sub-blocks 8h + 4g .. +3 cover them.
 */
static ALWAYS_INLINE void tile_q6_K(const uint8_t *w, size_t ws, const uint8_t *a, size_t as, int64_t nb, float *y,
				   size_t ys, const int R, const int T)
{
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	/* g = 0: (qh & 0x03) << 4 | (qh & 0x0c) << 2;  g = 1: (qh & 0x30) | (qh & 0xc0) >> 2 */
	const __m512i hmask0 = _mm512_inserti64x4(_mm512_set1_epi8(0x03), _mm256_set1_epi8(0x0c), 1);
	const __m512i hmask1 = _mm512_inserti64x4(_mm512_set1_epi8(0x30), _mm256_set1_epi8((char)0xc0), 1);
	const __m512i hshl0 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
	const __m512i hshr1 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
	__m512 acc[ACC_R][ACC_T];
	PRAGMA_UNROLL for (int r = 0; r < R; r++)
		PRAGMA_UNROLL for (int t = 0; t < T; t++)
			acc[r][t] = _mm512_setzero_ps();

	for (int64_t ib = 0; ib < nb; ib++) {
		const uint8_t *ab = a + (size_t)ib * sizeof(struct block_q8_K);
		/* per token: d_a, and d_a * bsums (its 16 sums of 16) for the -32 offset */
		float tok_d[ACC_T];
		__m512 tok_s[ACC_T];
		PRAGMA_UNROLL for (int t = 0; t < T; t++) {
			const uint8_t *at = ab + (size_t)t * as;
			tok_d[t] = load_f32(at);
			tok_s[t] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(loadu256(at + 260))),
						 _mm512_set1_ps(tok_d[t]));
		}
		PRAGMA_UNROLL for (int r = 0; r < R; r++) {
			const uint8_t *wb = w + (size_t)r * ws + (size_t)ib * sizeof(struct block_q6_K);
			if (R > 1)
				prefetch_block((uintptr_t)wb + (uintptr_t)R * ws, sizeof(struct block_q6_K));
			const __m128i sc8 = _mm_loadu_si128((const __m128i *)(const void *)(wb + 192));
			const __m512i sc16 = _mm512_cvtepi8_epi16(_mm256_castsi128_si256(sc8)); /* lanes 0-15 */
			const float d = load_f16(wb + 208);
			/* 32 * d * sc[s]: the offset term, in f32 */
			const __m512 offs = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc8)), _mm512_set1_ps(32.0f * d));
			__m512i W[4], S[4];
			PRAGMA_UNROLL for (int h = 0; h < 2; h++) {
				const __m512i ql = loadu512(wb + 64 * h);
				const __m512i qhb = _mm512_broadcast_i64x4(loadu256(wb + 128 + 32 * h));
				const __m512i h0 = _mm512_sllv_epi16(_mm512_and_si512(qhb, hmask0), hshl0);
				const __m512i h1 = _mm512_srlv_epi16(_mm512_and_si512(qhb, hmask1), hshr1);
				W[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), h0);
				W[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), h1);
			}
			PRAGMA_UNROLL for (int m = 0; m < 4; m++)
				S[m] = spread4(sc16, 4 * m);
			const __m512 vd = _mm512_set1_ps(d);
			PRAGMA_UNROLL for (int t = 0; t < T; t++) {
				const uint8_t *at = ab + (size_t)t * as;
				__m512i isum = _mm512_setzero_si512();
				PRAGMA_UNROLL for (int m = 0; m < 4; m++) {
					const __m512i p = _mm512_maddubs_epi16(W[m], loadu512(at + 4 + 64 * m));
					isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, S[m]));
				}
				const __m512 dd = _mm512_mul_ps(vd, _mm512_set1_ps(tok_d[t]));
				acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), dd, acc[r][t]);
				/* levels are q + 32: take away 32 * d * sc[s] * d_a * bsums[s] */
				acc[r][t] = _mm512_fnmadd_ps(offs, tok_s[t], acc[r][t]);
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

void kquants_gemm_q4_K_avx512(KQUANTS_GEMM_ARGS)
{
	/* Decoding: the 256-bit kernel, whose one-row tiles need no lane
	 * shuffles, ran 8% faster than this one on Zen 4 (78 vs 72 GOP/s with
	 * the rows in L2). */
	if (n_tok == 1) {
		kquants_gemm_q4_K_avx2(w, w_stride, n_in, r0, r1, act, act_stride, n_tok, y, y_stride);
		return;
	}
	kquants_gemm_tiled(&q4_K_tiles, ROW_CHUNK, QK_K, w, w_stride, n_in, r0, r1, act, act_stride,
			   n_tok, y, y_stride);
}

void kquants_gemm_q5_K_avx512(KQUANTS_GEMM_ARGS)
{
	kquants_gemm_tiled(&q5_K_tiles, ROW_CHUNK, QK_K, w, w_stride, n_in, r0, r1, act, act_stride,
			   n_tok, y, y_stride);
}

void kquants_gemm_q6_K_avx512(KQUANTS_GEMM_ARGS)
{
	kquants_gemm_tiled(&q6_K_tiles, ROW_CHUNK, QK_K, w, w_stride, n_in, r0, r1, act, act_stride,
			   n_tok, y, y_stride);
}
