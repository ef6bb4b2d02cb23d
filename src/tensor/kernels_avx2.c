/*
 * kernels_avx2.c - the AVX2 level of kernels.h (AVX2 + FMA + F16C), for
 * x86 CPUs without AVX-512. Compiled with -mavx2 -mfma -mf16c (CMake:
 * *_avx2.c).
 *
 * Contents: the Q8_0/Q8_1 activation quantizers, the quantized gemm and the
 * float-weight gemm. One shape serves every token count: lanes along k, a
 * tile of up to 4 rows x 2 tokens (16 ymm registers bound it), so each
 * unpacked weight block is used for 2 tokens and each activation block for
 * 4 rows. (The AVX-512 level's 16-row transposed tiles for prompts rely on
 * vpdpbusd and 32 registers; without them the gain is smaller, and this
 * level is a fallback.)
 *
 * Quantized weights: a block's 32 levels are unpacked into one ymm of
 * unsigned bytes (as kernels_avx512.c does) and multiplied with the 32
 * activations by vpmaddubsw (pairs of u8 x s8 products summed into
 * saturating int16) and vpmaddwd (pairs of int16 into int32). Saturation is
 * avoided by the ranges: for Q4/Q5 levels (< 32) a pair sum is below
 * 2 * 31 * 127 = 7874, and the offset correction offset * (a_i + a_j)
 * (below 2 * 16 * 127) is subtracted in int16 before vpmaddwd, leaving
 * |pair| < 12000. Q8_0 cannot take the unsigned-offset form (2 * 255 * 127
 * overflows int16); it multiplies |w| by a with w's sign moved onto a
 * (vpsignb), pairs below 2 * 128 * 127 = 32512. Each int32 lane is then an
 * exact partial of the block's integer sum, converted and scaled by d_w d_a
 * with one FMA; the block scales are loaded 8 blocks at a time.
 */
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "tensor/kernels_int.h"
#include "tensor/quants_int.h"

#define AI static inline __attribute__((always_inline))
/* Loops over a template's constant rows/tokens: unrolled, so that arrays of
 * vectors become registers. */
#define UNROLL _Pragma("GCC unroll 16")

static inline uint16_t load_u16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t load_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* p + off for a prefetch, which may point past the rows (prefetches never
 * fault); computed in integers, since such a pointer may not be formed by
 * pointer arithmetic. */
static inline const char *prefetch_addr(const void *p, size_t off)
{
	return (const char *)(uintptr_t)((uintptr_t)p + off);
}

static inline int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static inline float hsum256(__m256 v)
{
	const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
	return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

static inline int hsum256_epi32(__m256i v)
{
	const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	const __m128i s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
	return _mm_cvtsi128_si32(s2) + _mm_extract_epi32(s2, 1);
}

/* ---- activation quantizers ---------------------------------------------- */

/* roundf() on 8 lanes (see kernels_avx512.c), then the scalar level's
 * int8 conversion: values outside [-128, 127], and NaN, become 0. */
AI __m256i round_to_int8_lanes(__m256 v)
{
	const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	const __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
	const __m256 frac = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, t));
	const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
	__m256 r = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(_mm256_set1_ps(1.0f), sign)));
	const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(r, _mm256_set1_ps(-128.0f), _CMP_GE_OQ),
					_mm256_cmp_ps(r, _mm256_set1_ps(127.0f), _CMP_LE_OQ));
	r = _mm256_and_ps(r, ok);
	return _mm256_cvttps_epi32(r);
}

AI void quantize_block(const float *x, uint8_t *dst, bool with_sum)
{
	__m256 v[4];
	__m256 amax = _mm256_setzero_ps();
	for (int i = 0; i < 4; i++) {
		v[i] = _mm256_loadu_ps(x + 8 * i);
		amax = _mm256_max_ps(amax, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v[i]));
	}
	__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
	m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
	m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
	const float d = _mm_cvtss_f32(m4) / 127.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	const __m256 vid = _mm256_set1_ps(id);
	__m256i q[4];
	for (int i = 0; i < 4; i++)
		q[i] = round_to_int8_lanes(_mm256_mul_ps(v[i], vid));
	/* packs work within 128-bit lanes: the result's dwords come out in the
	 * order 0 2 4 6 1 3 5 7, put back by one permutation */
	const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
	const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b),
						       _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
	const uint16_t dh = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
	const size_t qs = with_sum ? 4 : 2;

	memcpy(dst, &dh, sizeof(dh));
	_mm256_storeu_si256((__m256i *)(dst + qs), p8);
	if (with_sum) {
		const int sum = hsum256_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
		const uint16_t sh = _cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT);
		memcpy(dst + 2, &sh, sizeof(sh));
	}
}

void act_quantize_q8_0_avx2(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out; /* n / 32 blocks of 34 bytes */
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++)
		quantize_block(x + ib * QUANT_BLOCK, dst + (size_t)ib * sizeof(struct block_q8_0), false);
}

void act_quantize_q8_1_avx2(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out; /* n / 32 blocks of 36 bytes */
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++)
		quantize_block(x + ib * QUANT_BLOCK, dst + (size_t)ib * sizeof(struct block_q8_1), true);
}

/* Halves for F16 weights: vcvtps2ph rounds to nearest even, as the reference. */
void act_quantize_f16_avx2(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out;
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(void *)(dst + 2 * i),
				 _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
	for (; i < n; i++) {
		const uint16_t h = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
		memcpy(dst + 2 * i, &h, sizeof(h));
	}
}

/* ---- quantized weights ---------------------------------------------------- */

enum qkind { QK_Q4_0, QK_Q4_1, QK_Q5_0, QK_Q5_1, QK_Q8_0 };

AI size_t q_bsize(enum qkind k)
{
	return k == QK_Q4_0 ? 18 : k == QK_Q4_1 ? 20 : k == QK_Q5_0 ? 22 : k == QK_Q5_1 ? 24 : 34;
}

AI size_t q_qs_off(enum qkind k)
{
	return k == QK_Q4_1 ? 4 : k == QK_Q5_0 ? 6 : k == QK_Q5_1 ? 8 : 2;
}

AI size_t q_qh_off(enum qkind k)
{
	return k == QK_Q5_1 ? 4 : 2;
}

AI bool q_has_qh(enum qkind k)
{
	return k == QK_Q5_0 || k == QK_Q5_1;
}

AI bool q_has_m(enum qkind k)
{
	return k == QK_Q4_1 || k == QK_Q5_1;
}

AI int q_offset(enum qkind k) /* Q4_0/Q5_0: unsigned level - offset; Q8_0 is signed */
{
	return k == QK_Q4_0 ? 8 : k == QK_Q5_0 ? 16 : 0;
}

AI size_t a_bsize(enum qkind k)
{
	return q_has_m(k) ? sizeof(struct block_q8_1) : sizeof(struct block_q8_0);
}

AI size_t a_qs_off(enum qkind k)
{
	return q_has_m(k) ? 4 : 2;
}

/* Q5's fifth bits: byte i gets 16 where bit i of qh is set. */
AI __m256i qh_to_bytes(uint32_t qh)
{
	const __m256i shuf = _mm256_setr_epi64x(0, 0x0101010101010101ll, 0x0202020202020202ll, 0x0303030303030303ll);
	__m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf); /* byte i = byte i/8 of qh */
	const __m256i bit = _mm256_set1_epi64x(0x8040201008040201ll);
	v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
	return _mm256_and_si256(v, _mm256_set1_epi8(16));
}

/* The block's 32 levels in value order: unsigned for Q4/Q5, signed for
 * Q8_0. */
AI __m256i unpack_block(enum qkind k, const uint8_t *blk)
{
	if (k == QK_Q8_0)
		return _mm256_loadu_si256((const __m256i *)(blk + 2));
	const __m128i q = _mm_loadu_si128((const __m128i *)(blk + q_qs_off(k)));
	__m256i v = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
	v = _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
	if (q_has_qh(k))
		v = _mm256_or_si256(v, qh_to_bytes(load_u32(blk + q_qh_off(k))));
	return v;
}

/* The f16 fields of n <= 8 consecutive blocks (bsize apart) as floats. */
AI __m256 load_f16_fields(const uint8_t *p, size_t bsize, int n)
{
	_Alignas(16) uint16_t h[8];
	if (n == 8) {
		UNROLL
		for (int i = 0; i < 8; i++)
			h[i] = load_u16(p + (size_t)i * bsize);
	} else {
		for (int i = 0; i < 8; i++)
			h[i] = i < n ? load_u16(p + (size_t)i * bsize) : 0;
	}
	return _mm256_cvtph_ps(_mm_load_si128((const __m128i *)h));
}

#define ROWS_R 4
#define ROWS_T 2
#define PREFETCH_L1_MAX (12 * 1024) /* as in kernels_avx512.c */

/*
 * y[t][r] for R rows from w and T tokens from xa[t], all nb blocks; groups
 * of 8 blocks share one load of scales (products d_w d_a in sc[], m_w s_a
 * folded into the accumulator).
 */
AI void rows_group(enum qkind k, int R, int T, const uint8_t *w, size_t w_stride, int64_t nb,
		   const uint8_t *const *xa, float *const *yt)
{
	const size_t bs = q_bsize(k), as = a_bsize(k);
	const size_t group_bytes = (size_t)R * w_stride;
	const __m256i ones = _mm256_set1_epi16(1);
	__m256 acc[ROWS_R][ROWS_T];
	_Alignas(32) float sc[ROWS_R][ROWS_T][8];

	UNROLL
	for (int r = 0; r < R; r++)
		UNROLL
		for (int t = 0; t < T; t++)
			acc[r][t] = _mm256_setzero_ps();

	for (int64_t g0 = 0; g0 < nb; g0 += 8) {
		const int gn = (int)min64(8, nb - g0);
		__m256 dx[ROWS_T], sx[ROWS_T];
		UNROLL
		for (int t = 0; t < T; t++) {
			dx[t] = load_f16_fields(xa[t] + (size_t)g0 * as, as, gn);
			if (q_has_m(k))
				sx[t] = load_f16_fields(xa[t] + (size_t)g0 * as + 2, as, gn);
		}
		UNROLL
		for (int r = 0; r < R; r++) {
			const uint8_t *wr = w + (size_t)r * w_stride + (size_t)g0 * bs;
			const __m256 dw = load_f16_fields(wr, bs, gn);
			UNROLL
			for (int t = 0; t < T; t++)
				_mm256_store_ps(sc[r][t], _mm256_mul_ps(dw, dx[t]));
			if (q_has_m(k)) {
				const __m256 dm = load_f16_fields(wr + 2, bs, gn);
				UNROLL
				for (int t = 0; t < T; t++)
					acc[r][t] = _mm256_fmadd_ps(dm, sx[t], acc[r][t]);
			}
		}
		for (int b = 0; b < gn; b++) {
			__m256i xv[ROWS_T], ox[ROWS_T];
			const char *pf = prefetch_addr(w, group_bytes + (size_t)(g0 + b) * R * bs);
			if (group_bytes <= PREFETCH_L1_MAX) {
				UNROLL
				for (size_t o = 0; o <= (size_t)R * bs; o += 64)
					_mm_prefetch(pf + o, _MM_HINT_T0);
			} else {
				UNROLL
				for (size_t o = 0; o <= (size_t)R * bs; o += 64)
					_mm_prefetch(pf + o, _MM_HINT_T1);
			}
			UNROLL
			for (int t = 0; t < T; t++) {
				xv[t] = _mm256_loadu_si256((const __m256i *)(xa[t] + (size_t)(g0 + b) * as + a_qs_off(k)));
				if (q_offset(k)) /* offset * (a_i + a_j) per int16 pair */
					ox[t] = _mm256_maddubs_epi16(_mm256_set1_epi8((char)q_offset(k)), xv[t]);
			}
			UNROLL
			for (int r = 0; r < R; r++) {
				const __m256i u = unpack_block(k, w + (size_t)r * w_stride + (size_t)(g0 + b) * bs);
				UNROLL
				for (int t = 0; t < T; t++) {
					__m256i p;
					if (k == QK_Q8_0) {
						p = _mm256_maddubs_epi16(_mm256_sign_epi8(u, u), _mm256_sign_epi8(xv[t], u));
					} else {
						p = _mm256_maddubs_epi16(u, xv[t]);
						if (q_offset(k))
							p = _mm256_sub_epi16(p, ox[t]);
					}
					const __m256i ai = _mm256_madd_epi16(p, ones);
					acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ai), _mm256_set1_ps(sc[r][t][b]),
								    acc[r][t]);
				}
			}
		}
	}
	UNROLL
	for (int r = 0; r < R; r++)
		UNROLL
		for (int t = 0; t < T; t++)
			yt[t][r] = hsum256(acc[r][t]);
}

AI void rows_groups(enum qkind k, int T, const uint8_t *w, size_t w_stride, int64_t nb, int64_t r0, int64_t r1,
		    const uint8_t *const *xa, float *y, size_t y_stride)
{
	float *yt[ROWS_T];
	int64_t r = r0;
	for (; r + ROWS_R <= r1; r += ROWS_R) {
		UNROLL
		for (int t = 0; t < T; t++)
			yt[t] = y + (size_t)t * y_stride + r;
		rows_group(k, ROWS_R, T, w + (size_t)r * w_stride, w_stride, nb, xa, yt);
	}
	if (r == r1)
		return;
	UNROLL
	for (int t = 0; t < T; t++)
		yt[t] = y + (size_t)t * y_stride + r;
	switch (r1 - r) {
	case 1: rows_group(k, 1, T, w + (size_t)r * w_stride, w_stride, nb, xa, yt); break;
	case 2: rows_group(k, 2, T, w + (size_t)r * w_stride, w_stride, nb, xa, yt); break;
	default: rows_group(k, 3, T, w + (size_t)r * w_stride, w_stride, nb, xa, yt); break;
	}
}

AI void gemm_q(enum qkind k, const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
	       size_t act_stride, int64_t n_tok, float *y, size_t y_stride)
{
	const int64_t nb = n_in / QUANT_BLOCK;
	const uint8_t *pw = w, *pa = act;
	if (nb == 0) {
		for (int64_t t = 0; t < n_tok; t++)
			memset(y + (size_t)t * y_stride + r0, 0, (size_t)(r1 - r0) * sizeof(float));
		return;
	}
	for (int64_t t0 = 0; t0 < n_tok; t0 += ROWS_T) {
		const uint8_t *xa[ROWS_T] = { pa + (size_t)t0 * act_stride,
					      pa + (size_t)(n_tok - t0 >= 2 ? t0 + 1 : t0) * act_stride };
		float *yc = y + (size_t)t0 * y_stride;
		if (n_tok - t0 >= 2)
			rows_groups(k, 2, pw, w_stride, nb, r0, r1, xa, yc, y_stride);
		else
			rows_groups(k, 1, pw, w_stride, nb, r0, r1, xa, yc, y_stride);
	}
}

#define GEMM_Q(name, kind)                                                                                       \
	void name(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,         \
		  size_t act_stride, int64_t n_tok, float *y, size_t y_stride)                                   \
	{                                                                                                        \
		gemm_q(kind, w, w_stride, n_in, r0, r1, act, act_stride, n_tok, y, y_stride);                    \
	}

GEMM_Q(gemm_q4_0_avx2, QK_Q4_0)
GEMM_Q(gemm_q4_1_avx2, QK_Q4_1)
GEMM_Q(gemm_q5_0_avx2, QK_Q5_0)
GEMM_Q(gemm_q5_1_avx2, QK_Q5_1)
GEMM_Q(gemm_q8_0_avx2, QK_Q8_0)

/* ---- float weights -------------------------------------------------------- */

enum fkind { FK_F32, FK_F16, FK_BF16 };

AI size_t f_esize(enum fkind k)
{
	return k == FK_F32 ? 4 : 2;
}

AI __m256 load_w8(enum fkind k, const uint8_t *p)
{
	if (k == FK_F32)
		return _mm256_loadu_ps((const float *)(const void *)p);
	const __m128i h = _mm_loadu_si128((const __m128i *)p);
	if (k == FK_F16)
		return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

AI float load_w1(enum fkind k, const uint8_t *p)
{
	if (k == FK_F32) {
		float v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	const uint16_t h = load_u16(p);
	if (k == FK_F16)
		return _cvtsh_ss(h);
	const uint32_t b = (uint32_t)h << 16;
	float v;
	memcpy(&v, &b, sizeof(v));
	return v;
}

/* Activations: F16 rows for F16 weights (llama.cpp's vec_dot_type), F32
 * otherwise. */
AI size_t a_esize(enum fkind k)
{
	return k == FK_F16 ? 2 : 4;
}

AI __m256 load_x8(enum fkind k, const uint8_t *p)
{
	if (k == FK_F16)
		return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
	return _mm256_loadu_ps((const float *)(const void *)p);
}

AI float load_x1(enum fkind k, const uint8_t *p)
{
	if (k == FK_F16)
		return _cvtsh_ss(load_u16(p));
	float v;
	memcpy(&v, p, sizeof(v));
	return v;
}

#define FR 4
#define FT 2

/* y[t][r] for R rows x T tokens over whole rows of n values; the last n % 8
 * values in scalar code. */
AI void frows_group(enum fkind k, int R, int T, const uint8_t *w, size_t w_stride, const uint8_t *const *xa,
		    int64_t n, float *const *yt)
{
	const size_t es = f_esize(k);
	const size_t group_bytes = (size_t)R * w_stride;
	const int64_t n8 = n & ~(int64_t)7;
	__m256 acc[FR][FT];
	UNROLL
	for (int r = 0; r < R; r++)
		UNROLL
		for (int t = 0; t < T; t++)
			acc[r][t] = _mm256_setzero_ps();
	for (int64_t i = 0; i < n8; i += 8) {
		const char *pf = prefetch_addr(w, group_bytes + (size_t)i * R * es);
		__m256 xv[FT];
		if (group_bytes <= PREFETCH_L1_MAX) {
			UNROLL
			for (size_t o = 0; o <= (size_t)R * 8 * es; o += 64)
				_mm_prefetch(pf + o, _MM_HINT_T0);
		} else {
			UNROLL
			for (size_t o = 0; o <= (size_t)R * 8 * es; o += 64)
				_mm_prefetch(pf + o, _MM_HINT_T1);
		}
		UNROLL
		for (int t = 0; t < T; t++)
			xv[t] = load_x8(k, xa[t] + a_esize(k) * (size_t)i);
		UNROLL
		for (int r = 0; r < R; r++) {
			const __m256 wv = load_w8(k, w + (size_t)r * w_stride + es * (size_t)i);
			UNROLL
			for (int t = 0; t < T; t++)
				acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
		}
	}
	UNROLL
	for (int t = 0; t < T; t++)
		UNROLL
		for (int r = 0; r < R; r++) {
			float v = hsum256(acc[r][t]);
			for (int64_t i = n8; i < n; i++) {
				const float x = load_x1(k, xa[t] + a_esize(k) * (size_t)i);
				v += load_w1(k, w + (size_t)r * w_stride + es * (size_t)i) * x;
			}
			yt[t][r] = v;
		}
}

AI void frows_groups(enum fkind k, int T, const uint8_t *w, size_t w_stride, int64_t n, int64_t r0, int64_t r1,
		     const uint8_t *const *xa, float *y, size_t y_stride)
{
	float *yt[FT];
	int64_t r = r0;
	for (; r + FR <= r1; r += FR) {
		UNROLL
		for (int t = 0; t < T; t++)
			yt[t] = y + (size_t)t * y_stride + r;
		frows_group(k, FR, T, w + (size_t)r * w_stride, w_stride, xa, n, yt);
	}
	if (r == r1)
		return;
	UNROLL
	for (int t = 0; t < T; t++)
		yt[t] = y + (size_t)t * y_stride + r;
	switch (r1 - r) {
	case 1: frows_group(k, 1, T, w + (size_t)r * w_stride, w_stride, xa, n, yt); break;
	case 2: frows_group(k, 2, T, w + (size_t)r * w_stride, w_stride, xa, n, yt); break;
	default: frows_group(k, 3, T, w + (size_t)r * w_stride, w_stride, xa, n, yt); break;
	}
}

AI void gemm_f(enum fkind k, const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
	       size_t act_stride, int64_t n_tok, float *y, size_t y_stride)
{
	const uint8_t *pw = w, *pa = act;
	for (int64_t t0 = 0; t0 < n_tok; t0 += FT) {
		const uint8_t *xa[FT] = { pa + (size_t)t0 * act_stride,
					  pa + (size_t)(n_tok - t0 >= 2 ? t0 + 1 : t0) * act_stride };
		float *yc = y + (size_t)t0 * y_stride;
		if (n_tok - t0 >= 2)
			frows_groups(k, 2, pw, w_stride, n_in, r0, r1, xa, yc, y_stride);
		else
			frows_groups(k, 1, pw, w_stride, n_in, r0, r1, xa, yc, y_stride);
	}
}

#define GEMM_F(name, kind)                                                                                       \
	void name(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,         \
		  size_t act_stride, int64_t n_tok, float *y, size_t y_stride)                                   \
	{                                                                                                        \
		gemm_f(kind, w, w_stride, n_in, r0, r1, act, act_stride, n_tok, y, y_stride);                    \
	}

GEMM_F(gemm_f32_avx2, FK_F32)
GEMM_F(gemm_f16_avx2, FK_F16)
GEMM_F(gemm_bf16_avx2, FK_BF16)
