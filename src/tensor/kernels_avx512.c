/*
 * kernels_avx512.c - the AVX-512 level of kernels.h (F, BW, VL, DQ; the
 * quantized types also VNNI's vpdpbusd, which kernels.c checks before it
 * installs them). Compiled with -mavx512* (CMake: *_avx512.c).
 *
 * Contents: the Q8_0/Q8_1/F16 activation converters, the quantized gemm in
 * two shapes, and the float-weight gemm.
 *
 * Quantized weights, integer arithmetic. vpdpbusd multiplies unsigned bytes
 * by signed bytes, four products summed into each int32 lane. The weight
 * levels are made unsigned, the activations stay as stored:
 *     Q4_0  q in 0..15,  value d (q - 8)       offset 8
 *     Q5_0  q in 0..31,  value d (q - 16)      offset 16
 *     Q8_0  q + 128 in 0..255 (flip the sign bit), value d q   offset 128
 *     Q4_1, Q5_1  q as stored, value d q + m   offset 0, plus m * s_a
 * so a block's integer sum is dot(q_u, a) - offset * sum(a), and the
 * integer part of every block is exact, as in the scalar reference.
 *
 * Decode shape (up to 2-4 tokens by type, tile_min_tok()): "rows". Lanes
 * run along k: one ymm holds a whole block of 32 unpacked weights, one
 * vpdpbusd multiplies it with the block's 32 activations into 8 partial
 * sums. The offset correction is folded into each lane (the accumulator
 * starts at -offset times the lane's four activations, computed once per
 * block for all rows), so each lane holds an exact partial of the block's
 * integer sum, converted to float and scaled by d_w d_a with one FMA. The
 * block scales are loaded 16 blocks at a time. A pass covers 4 rows x up to
 * 4 tokens: each unpacked weight block serves every token, each activation
 * load every row. The next 4 rows are prefetched as one stream, which keeps
 * a DRAM-bound decode at the memory's speed.
 *
 * Prompt shape: "tiles". Lanes run along rows: the weights of 16 rows are
 * repacked so that one zmm holds four consecutive levels of each of the 16
 * rows (a 4x4 dword transpose per 128-bit lane of the packed nibbles; 5th
 * bits through a 16-entry vpermd table; levels made unsigned as above), and
 * the four matching activation bytes of one token are broadcast from
 * memory: vpdpbusd then adds a 4-term dot product to each row's sum. Eight
 * vpdpbusd finish a block for 16 rows and one token, with no
 * horizontal sums; the offset correction is the accumulator's starting
 * value (-offset * sum(a), per token and block, computed once per token
 * chunk). A micro-tile is 16 rows x up to 8 tokens, accumulated in
 * registers over a chunk of KC blocks, so each repacked weight vector is used
 * for 8 tokens and each broadcast activation for 16 rows. Partial sums live
 * in y between chunks of blocks; the repacked block chunk (5 KB) and the
 * chunk of activations (TC tokens x KC blocks, 17 KB) stay in L1. A few
 * tokens (at most 16: a batch of decoding sequences) take the tiles in
 * another order, each 16-row tile through all its blocks before the next,
 * so the weights stream from memory once (gemm_tiles_few).
 *
 * Float weights (F32 and BF16 with F32 activations, F16 with F16
 * activations): lanes along k, a tile of 4 rows x 6 tokens of FMA
 * accumulators over whole rows, horizontal sums once per output; tokens in
 * blocks whose activations fit in L2. One token reads the rows one after
 * another (one forward stream). F16 converts with vcvtph2ps, BF16 by a
 * 16-bit shift.
 * (A 16-row transposed tile with broadcast activations, as for the quantized
 * types, measured slower here: converting and transposing the weights costs
 * as much as the FMAs it feeds until well past 64 tokens. AVX512_BF16's
 * vdpbf16ps would need bf16 activations, changing results well beyond f32
 * rounding; not used.)
 *
 * Unaligned rows: every load is an unaligned load intrinsic or a memcpy.
 */
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "tensor/kernels_int.h"
#include "tensor/quants_int.h"

#define AI static inline __attribute__((always_inline))
/* Loops over a template's constant rows/tokens/steps: unrolled, so that
 * arrays of vectors become registers. */
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

static inline int32_t load_i32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline float load_f16(const uint8_t *p)
{
	return _cvtsh_ss(load_u16(p));
}

static inline float hsum256(__m256 v)
{
	const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
	return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
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

/* ---- activation quantizers ---------------------------------------------- */

/*
 * roundf() on 16 lanes: halves away from zero. t = trunc(v) and v - t are
 * exact, so comparing |v - t| with 0.5 decides exactly as roundf does (adding
 * 0.5 and truncating would not: 0.5 - 2^-25 + 0.5 rounds up to 1).
 * Infinities and NaN come out as they went in, and the conversion after
 * makes them 0x80000000, whose low byte is 0: the scalar level's 0.
 */
AI __m512 round_half_away(__m512 v)
{
	const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	const __mmask16 up =
		_mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
	const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
	return _mm512_mask_add_ps(t, up, t, one);
}

/* One block of 32 floats as the scalar act_quantize_q8_{0,1}_ref does it:
 * the same d, id and products, roundf, f16 by round-to-nearest-even. */
AI void quantize_block(const float *x, uint8_t *dst, bool with_sum)
{
	const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
	const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
	const float d = amax / 127.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	const __m512 vid = _mm512_set1_ps(id);
	const __m128i q0 = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(v0, vid))));
	const __m128i q1 = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(v1, vid))));
	const uint16_t dh = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
	const size_t qs = with_sum ? 4 : 2;

	memcpy(dst, &dh, sizeof(dh));
	_mm_storeu_si128((__m128i *)(dst + qs), q0);
	_mm_storeu_si128((__m128i *)(dst + qs + 16), q1);
	if (with_sum) {
		/* the sum of the stored bytes, as the reference adds them */
		const int sum = _mm512_reduce_add_epi32(
			_mm512_add_epi32(_mm512_cvtepi8_epi32(q0), _mm512_cvtepi8_epi32(q1)));
		const uint16_t sh = _cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT);
		memcpy(dst + 2, &sh, sizeof(sh));
	}
}

void act_quantize_q8_0_avx512(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out; /* n / 32 blocks of 34 bytes */
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++)
		quantize_block(x + ib * QUANT_BLOCK, dst + (size_t)ib * sizeof(struct block_q8_0), false);
}

void act_quantize_q8_1_avx512(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out; /* n / 32 blocks of 36 bytes */
	for (int64_t ib = 0; ib < n / QUANT_BLOCK; ib++)
		quantize_block(x + ib * QUANT_BLOCK, dst + (size_t)ib * sizeof(struct block_q8_1), true);
}

/* Halves for F16 weights: vcvtps2ph rounds to nearest even, as the reference. */
void act_quantize_f16_avx512(const float *x, void *out, int64_t n)
{
	uint8_t *dst = out;
	int64_t i = 0;
	for (; i + 16 <= n; i += 16)
		_mm256_storeu_si256((__m256i *)(void *)(dst + 2 * i),
				    _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
	if (i < n) {
		const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
		_mm256_mask_storeu_epi16(dst + 2 * i, m,
					 _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
	}
}

/* ---- quantized weights: the type's constants ---------------------------- */

enum qkind { QK_Q4_0, QK_Q4_1, QK_Q5_0, QK_Q5_1, QK_Q8_0 };

AI size_t q_bsize(enum qkind k) /* bytes per weight block */
{
	return k == QK_Q4_0 ? 18 : k == QK_Q4_1 ? 20 : k == QK_Q5_0 ? 22 : k == QK_Q5_1 ? 24 : 34;
}

AI size_t q_qs_off(enum qkind k) /* where the levels start in the block */
{
	return k == QK_Q4_1 ? 4 : k == QK_Q5_0 ? 6 : k == QK_Q5_1 ? 8 : 2;
}

AI size_t q_qh_off(enum qkind k) /* where Q5's fifth bits are */
{
	return k == QK_Q5_1 ? 4 : 2;
}

AI bool q_has_qh(enum qkind k)
{
	return k == QK_Q5_0 || k == QK_Q5_1;
}

AI bool q_has_m(enum qkind k) /* value d q + m, activations Q8_1 */
{
	return k == QK_Q4_1 || k == QK_Q5_1;
}

AI int q_offset(enum qkind k) /* unsigned level - offset = signed level */
{
	return k == QK_Q4_0 ? 8 : k == QK_Q5_0 ? 16 : k == QK_Q8_0 ? 128 : 0;
}

AI size_t a_bsize(enum qkind k) /* bytes per activation block */
{
	return q_has_m(k) ? sizeof(struct block_q8_1) : sizeof(struct block_q8_0);
}

AI size_t a_qs_off(enum qkind k)
{
	return q_has_m(k) ? 4 : 2;
}

/* ---- quantized, decode shape: lanes along k ------------------------------ */

/* The 32 unsigned levels of one block, in value order. */
AI __m256i unpack_block(enum qkind k, const uint8_t *blk)
{
	if (k == QK_Q8_0)
		return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 2)), _mm256_set1_epi8((char)0x80));
	/* low nibbles are values 0..15, high nibbles 16..31 */
	__m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + q_qs_off(k))));
	v = _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_set_epi64x(4, 4, 0, 0)), _mm256_set1_epi8(0x0f));
	if (q_has_qh(k))
		v = _mm256_mask_add_epi8(v, _cvtu32_mask32(load_u32(blk + q_qh_off(k))), v, _mm256_set1_epi8(16));
	return v;
}

/* The f16 fields of n <= 16 consecutive blocks (bsize apart) as floats,
 * zero past n. Scalar loads: vpgatherdd is slower on Zen 4, and much slower
 * when the rows come from DRAM. */
AI __m512 load_f16_fields(const uint8_t *p, size_t bsize, int n)
{
	_Alignas(32) uint16_t h[16];
	if (n == 16) {
		UNROLL
		for (int i = 0; i < 16; i++)
			h[i] = load_u16(p + (size_t)i * bsize);
	} else {
		for (int i = 0; i < 16; i++)
			h[i] = i < n ? load_u16(p + (size_t)i * bsize) : 0;
	}
	return _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)h));
}

#define ROWS_R 4 /* rows per pass */
#define ROWS_T 4 /* tokens per pass, at most */

/*
 * Rows are consumed R at a time, each from its own address, which hardware
 * prefetchers follow badly when the rows are short. The R rows of a group
 * are contiguous in a weight matrix, so the next group is one stream: fetch
 * R blocks' worth of it per block of this group. Into L1 while two groups
 * fit there beside the rest, else into L2.
 */
#define PREFETCH_L1_MAX (12 * 1024)

/*
 * y[t][r] for R rows from w (row 0 of the group, rows w_stride apart) and T
 * tokens from xa[t] (each an activation row), all nb blocks. Per group of
 * 16 blocks the scale products d_w d_a go to sc[] (read back as broadcast
 * operands); for Q4_1/Q5_1 the group's m_w s_a terms are summed in one
 * vector product and folded into the accumulator.
 */
AI void rows_group(enum qkind k, int R, int T, const uint8_t *w, size_t w_stride, int64_t nb,
		   const uint8_t *const *xa, float *const *yt)
{
	const size_t bs = q_bsize(k), as = a_bsize(k);
	const size_t group_bytes = (size_t)R * w_stride;
	__m256 acc[ROWS_R][ROWS_T];
	_Alignas(64) float sc[ROWS_R][ROWS_T][16];

	UNROLL
	for (int r = 0; r < R; r++)
		UNROLL
		for (int t = 0; t < T; t++)
			acc[r][t] = _mm256_setzero_ps();

	for (int64_t g0 = 0; g0 < nb; g0 += 16) {
		const int gn = (int)min64(16, nb - g0);
		__m512 dx[ROWS_T], sx[ROWS_T];
		UNROLL
		for (int t = 0; t < T; t++) {
			dx[t] = load_f16_fields(xa[t] + (size_t)g0 * as, as, gn);
			if (q_has_m(k))
				sx[t] = load_f16_fields(xa[t] + (size_t)g0 * as + 2, as, gn);
		}
		UNROLL
		for (int r = 0; r < R; r++) {
			const uint8_t *wr = w + (size_t)r * w_stride + (size_t)g0 * bs;
			const __m512 dw = load_f16_fields(wr, bs, gn);
			UNROLL
			for (int t = 0; t < T; t++)
				_mm512_store_ps(sc[r][t], _mm512_mul_ps(dw, dx[t]));
			if (q_has_m(k)) {
				const __m512 dm = load_f16_fields(wr + 2, bs, gn);
				UNROLL
				for (int t = 0; t < T; t++) {
					const __m512 m = _mm512_mul_ps(dm, sx[t]);
					acc[r][t] = _mm256_add_ps(acc[r][t], _mm256_add_ps(_mm512_castps512_ps256(m),
											    _mm512_extractf32x8_ps(m, 1)));
				}
			}
		}
		for (int b = 0; b < gn; b++) {
			__m256i xv[ROWS_T], init[ROWS_T];
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
				/* -offset times each lane's four activations */
				init[t] = q_offset(k) ? _mm256_sub_epi32(_mm256_setzero_si256(),
									 _mm256_dpbusd_epi32(_mm256_setzero_si256(),
											     _mm256_set1_epi8((char)q_offset(k)), xv[t]))
						      : _mm256_setzero_si256();
			}
			UNROLL
			for (int r = 0; r < R; r++) {
				const __m256i u = unpack_block(k, w + (size_t)r * w_stride + (size_t)(g0 + b) * bs);
				UNROLL
				for (int t = 0; t < T; t++) {
					const __m256i ai = _mm256_dpbusd_epi32(init[t], u, xv[t]);
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

/* Rows [r0, r1) against tokens [0, T) from xa, ROWS_R rows at a time. */
AI void rows_groups_at(enum qkind k, int T, const uint8_t *w, size_t w_stride, int64_t nb, int64_t r0, int64_t r1,
		       const uint8_t *act, size_t act_stride, int64_t t0, int64_t n_tok, float *y, size_t y_stride)
{
	const uint8_t *xa[ROWS_T];
	for (int t = 0; t < ROWS_T; t++) /* rows past n_tok: unused, kept in bounds */
		xa[t] = act + (size_t)min64(t0 + t, n_tok - 1) * act_stride;
	rows_groups(k, T, w, w_stride, nb, r0, r1, xa, y + (size_t)t0 * y_stride, y_stride);
}

/*
 * Rows [r0, r1) against n_tok tokens, ROWS_T at a time. Row ranges of
 * ROWS_SPAN rows take every token before the next range starts, so a few
 * tokens more than ROWS_T (a batch of decoding sequences) read the weights
 * from memory once: the later token passes find the span in L2.
 */
#define ROWS_SPAN_BYTES (128 * 1024)
AI void gemm_rows(enum qkind k, const uint8_t *w, size_t w_stride, int64_t nb, int64_t r0, int64_t r1,
		  const uint8_t *act, size_t act_stride, int64_t n_tok, float *y, size_t y_stride)
{
	int64_t span = w_stride ? (int64_t)(ROWS_SPAN_BYTES / w_stride) : r1 - r0; /* one row: stride unused */
	span = span < ROWS_R ? ROWS_R : span - span % ROWS_R;
	for (int64_t rs = r0; rs < r1; rs += span) {
		const int64_t re = min64(rs + span, r1);
		for (int64_t t0 = 0; t0 < n_tok; t0 += ROWS_T) {
			switch (min64(ROWS_T, n_tok - t0)) {
#define RG(T) rows_groups_at(k, T, w, w_stride, nb, rs, re, act, act_stride, t0, n_tok, y, y_stride); break
			case 1: RG(1);
			case 2: RG(2);
			case 3: RG(3);
			default: RG(4);
#undef RG
			}
		}
	}
}

/* ---- quantized, prompt shape: 16-row tiles ------------------------------- */

#define TILE_ROWS 16
#define KC 8  /* blocks per chunk of k */
#define TC 64 /* tokens per chunk */
#define TT 8  /* tokens per micro-tile */

/* Per token chunk and block chunk: each activation block's scale, offset
 * correction and (Q8_1) s. */
struct tile_act {
	float dx[KC][TC];
	int32_t bias[KC][TC]; /* -offset * sum of the block's activations */
	float s[KC][TC];
};

/* 16 rows x KC blocks, repacked. q[b][j] lane i: levels 4j..4j+3 of row i's
 * block b as unsigned bytes. */
struct tile_w {
	__m512i q[KC][8];
	__m512 dw[KC];
	__m512 dm[KC];
};

/* Stands in for rows past the end of a partial tile: levels 0, d = m = 0. */
static const uint8_t zero_blocks[KC * 34];

/* Activation fields of tokens [0, tc) x blocks [0, kc): entry [b * ld + t]. */
AI void tile_prep_act(enum qkind k, const uint8_t *act, size_t act_stride, int tc, int kc, float *dx, int32_t *bias,
		      float *sx, size_t ld)
{
	const size_t as = a_bsize(k);
	for (int t = 0; t < tc; t++) {
		const uint8_t *xa = act + (size_t)t * act_stride;
		for (int b = 0; b < kc; b++) {
			const uint8_t *blk = xa + (size_t)b * as;
			const size_t at = (size_t)b * ld + (size_t)t;
			dx[at] = load_f16(blk);
			if (q_has_m(k))
				sx[at] = load_f16(blk + 2);
			if (q_offset(k)) {
				const __m256i x = _mm256_loadu_si256((const __m256i *)(blk + a_qs_off(k)));
				const __m256i s8 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), x);
				const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
				const __m128i s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
				const int sum = _mm_cvtsi128_si32(s2) + _mm_extract_epi32(s2, 1);
				bias[at] = -q_offset(k) * sum;
			}
		}
	}
}

/* dword j of the 16-byte field at p[i] + off, for 16 rows at once: Z_g holds
 * rows g, 4+g, 8+g, 12+g in its four 128-bit lanes, and a 4x4 dword
 * transpose inside each lane leaves dword j of row 4L+g at position 4L+g. */
AI void transpose16x4(const uint8_t *const *p, size_t off, __m512i out[4])
{
	__m512i z[4];
	UNROLL
	for (int g = 0; g < 4; g++) {
		__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p[g] + off)));
		v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p[4 + g] + off)), 1);
		v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p[8 + g] + off)), 2);
		z[g] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p[12 + g] + off)), 3);
	}
	const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
	const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
	out[0] = _mm512_unpacklo_epi64(t0, t2);
	out[1] = _mm512_unpackhi_epi64(t0, t2);
	out[2] = _mm512_unpacklo_epi64(t1, t3);
	out[3] = _mm512_unpackhi_epi64(t1, t3);
}

AI __m512 load_f16x16(const uint8_t *const *p, size_t off)
{
	_Alignas(32) uint16_t h[16];
	UNROLL
	for (int i = 0; i < 16; i++)
		h[i] = load_u16(p[i] + off);
	return _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)h));
}

/* Repacks blocks [0, kc) of the 16 rows at rows[i] (each at its block 0). */
AI void tile_repack(enum qkind k, const uint8_t *const *rows, int kc, struct tile_w *tw)
{
	const size_t bs = q_bsize(k);
	const __m512i m0f = _mm512_set1_epi8(0x0f);
	for (int b = 0; b < kc; b++) {
		const uint8_t *p[TILE_ROWS];
		__m512i tq[4];
		UNROLL
		for (int i = 0; i < TILE_ROWS; i++)
			p[i] = rows[i] + (size_t)b * bs;
		transpose16x4(p, q_qs_off(k), tq);
		if (k == QK_Q8_0) {
			const __m512i flip = _mm512_set1_epi8((char)0x80);
			__m512i tq2[4];
			transpose16x4(p, q_qs_off(k) + 16, tq2);
			UNROLL
			for (int j = 0; j < 4; j++) {
				tw->q[b][j] = _mm512_xor_si512(tq[j], flip);
				tw->q[b][4 + j] = _mm512_xor_si512(tq2[j], flip);
			}
		} else {
			UNROLL
			for (int j = 0; j < 4; j++) {
				tw->q[b][j] = _mm512_and_si512(tq[j], m0f);
				tw->q[b][4 + j] = _mm512_and_si512(_mm512_srli_epi16(tq[j], 4), m0f);
			}
		}
		if (q_has_qh(k)) {
			/* bit 4 of levels 4j..4j+3 = bits 4j..4j+3 of qh, spread to bit 4 of 4 bytes */
			const __m512i spread = _mm512_set_epi32(
				0x10101010, 0x10101000, 0x10100010, 0x10100000, 0x10001010, 0x10001000, 0x10000010,
				0x10000000, 0x00101010, 0x00101000, 0x00100010, 0x00100000, 0x00001010, 0x00001000,
				0x00000010, 0x00000000);
			_Alignas(64) uint32_t h[16];
			UNROLL
			for (int i = 0; i < TILE_ROWS; i++)
				h[i] = load_u32(p[i] + q_qh_off(k));
			__m512i qh = _mm512_load_si512(h);
			const __m512i m0f32 = _mm512_set1_epi32(0x0f);
			UNROLL
			for (int j = 0; j < 8; j++) {
				const __m512i bits = _mm512_permutexvar_epi32(_mm512_and_si512(qh, m0f32), spread);
				tw->q[b][j] = _mm512_or_si512(tw->q[b][j], bits);
				qh = _mm512_srli_epi32(qh, 4);
			}
		}
		const uint8_t *const *pc = p;
		tw->dw[b] = load_f16x16(pc, 0);
		if (q_has_m(k))
			tw->dm[b] = load_f16x16(pc, 2);
	}
}

/*
 * 16 rows (y + r, `rmask` of them) x T tokens, blocks [0, kc) of the chunk;
 * adds to y unless `first`. xa: activation row of token 0 of the micro-tile
 * at the chunk's first block; tt: the micro-tile's first token in the chunk.
 */
AI void tile_micro(enum qkind k, int T, const struct tile_w *tw, const float *dx, const int32_t *bias, const float *sx,
		   size_t ld, int kc, int tt, const uint8_t *xa, size_t act_stride, float *y, size_t y_stride,
		   __mmask16 rmask, bool first)
{
	const size_t as = a_bsize(k);
	__m512 acc[TT];
	UNROLL
	for (int t = 0; t < T; t++)
		acc[t] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(rmask, y + (size_t)t * y_stride);
	for (int b = 0; b < kc; b++) {
		__m512i ai[TT];
		const uint8_t *xb = xa + (size_t)b * as + a_qs_off(k);
		UNROLL
		for (int t = 0; t < T; t++)
			ai[t] = q_offset(k) ? _mm512_set1_epi32(bias[(size_t)b * ld + (size_t)(tt + t)]) : _mm512_setzero_si512();
		UNROLL
		for (int j = 0; j < 8; j++) {
			const __m512i wv = tw->q[b][j];
			UNROLL
			for (int t = 0; t < T; t++)
				ai[t] = _mm512_dpbusd_epi32(ai[t], wv,
							    _mm512_set1_epi32(load_i32(xb + (size_t)t * act_stride + 4 * j)));
		}
		UNROLL
		for (int t = 0; t < T; t++) {
			const __m512 scale = _mm512_mul_ps(tw->dw[b], _mm512_set1_ps(dx[(size_t)b * ld + (size_t)(tt + t)]));
			acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ai[t]), scale, acc[t]);
			if (q_has_m(k))
				acc[t] = _mm512_fmadd_ps(tw->dm[b], _mm512_set1_ps(sx[(size_t)b * ld + (size_t)(tt + t)]), acc[t]);
		}
	}
	UNROLL
	for (int t = 0; t < T; t++)
		_mm512_mask_storeu_ps(y + (size_t)t * y_stride, rmask, acc[t]);
}

/* tile_micro for n = 1..TT tokens, a constant T in each case so each
 * instance unrolls fully. */
AI void tile_micro_n(enum qkind k, int n, const struct tile_w *tw, const float *dx, const int32_t *bias,
		     const float *sx, size_t ld, int kc, int tt, const uint8_t *xa, size_t act_stride, float *y,
		     size_t y_stride, __mmask16 rmask, bool first)
{
	switch (n) {
#define MICRO(T) tile_micro(k, T, tw, dx, bias, sx, ld, kc, tt, xa, act_stride, y, y_stride, rmask, first); break
	case 1: MICRO(1);
	case 2: MICRO(2);
	case 3: MICRO(3);
	case 4: MICRO(4);
	case 5: MICRO(5);
	case 6: MICRO(6);
	case 7: MICRO(7);
	default: MICRO(TT);
#undef MICRO
	}
}

/*
 * One chunk of one tile: repacks blocks [b0, b0 + kc) of rows [r, r + 16)
 * (those below r1), prefetches the same chunk of the next tile (into L1 if
 * `to_l1`, else L2), and adds the chunk's products for tokens [0, tc) to y
 * (starting them if b0 == 0). xa: token 0's activation row at block b0;
 * dx/bias/sx: the activation fields of block b0, entry [b * ld + t].
 */
AI void tile_chunk(enum qkind k, const uint8_t *w, size_t w_stride, int64_t r, int64_t r1, int64_t b0, int kc,
		   const uint8_t *xa, size_t act_stride, int tc, const float *dx, const int32_t *bias, const float *sx,
		   size_t ld, float *y, size_t y_stride, bool to_l1)
{
	const size_t bs = q_bsize(k);
	const int nr = (int)min64(TILE_ROWS, r1 - r);
	const __mmask16 rmask = (__mmask16)((1u << nr) - 1);
	const uint8_t *rows[TILE_ROWS];
	struct tile_w tw;
	UNROLL
	for (int i = 0; i < TILE_ROWS; i++)
		rows[i] = i < nr ? w + (size_t)(r + i) * w_stride + (size_t)b0 * bs : zero_blocks;
	tile_repack(k, rows, kc, &tw);
	/* the same chunk of the next tile, while this one computes */
	for (int64_t i = r + TILE_ROWS; i < r1 && i < r + 2 * TILE_ROWS; i++) {
		const char *pf = (const char *)(w + (size_t)i * w_stride + (size_t)b0 * bs);
		for (size_t off = 0; off < (size_t)kc * bs; off += 64) {
			if (to_l1)
				_mm_prefetch(pf + off, _MM_HINT_T0);
			else
				_mm_prefetch(pf + off, _MM_HINT_T1);
		}
		if (to_l1)
			_mm_prefetch(pf + (size_t)kc * bs - 1, _MM_HINT_T0);
		else
			_mm_prefetch(pf + (size_t)kc * bs - 1, _MM_HINT_T1);
	}
	for (int tt = 0; tt < tc; tt += TT)
		tile_micro_n(k, tc - tt >= TT ? TT : tc - tt, &tw, dx, bias, sx, ld, kc, tt,
			     xa + (size_t)tt * act_stride, act_stride, y + (size_t)tt * y_stride + r, y_stride, rmask,
			     b0 == 0);
}

/*
 * A few tokens (a batch of decoding sequences): each 16-row tile takes all
 * its blocks before the next tile starts, so the weights stream from memory
 * row range by row range (the prompt order walks every row once per chunk
 * of blocks, a strided pattern that DRAM serves badly). The activation
 * fields of all blocks are prepared once per call; the next tile is fetched
 * into L2 a tile ahead of use.
 */
#define FEW_TOK 16
#define FEW_NB 256
struct few_act {
	float dx[FEW_NB * FEW_TOK];
	int32_t bias[FEW_NB * FEW_TOK];
	float s[FEW_NB * FEW_TOK];
};

AI void gemm_tiles_few(enum qkind k, const uint8_t *w, size_t w_stride, int64_t nb, int64_t r0, int64_t r1,
		       const uint8_t *act, size_t act_stride, int tc, float *y, size_t y_stride)
{
	const size_t as = a_bsize(k);
	struct few_act fa;

	tile_prep_act(k, act, act_stride, tc, (int)nb, fa.dx, fa.bias, fa.s, FEW_TOK);
	for (int64_t r = r0; r < r1; r += TILE_ROWS)
		for (int64_t b0 = 0; b0 < nb; b0 += KC) {
			const size_t f = (size_t)b0 * FEW_TOK;
			tile_chunk(k, w, w_stride, r, r1, b0, (int)min64(KC, nb - b0), act + (size_t)b0 * as, act_stride,
				   tc, fa.dx + f, fa.bias + f, fa.s + f, FEW_TOK, y, y_stride, false);
		}
}

/* Prompt order: per chunk of TC tokens and KC blocks, every tile of rows,
 * the chunk's activation fields (17 KB) staying in L1. */
AI void gemm_tiles(enum qkind k, const uint8_t *w, size_t w_stride, int64_t nb, int64_t r0, int64_t r1,
		   const uint8_t *act, size_t act_stride, int64_t n_tok, float *y, size_t y_stride)
{
	if (n_tok <= FEW_TOK && nb <= FEW_NB) {
		gemm_tiles_few(k, w, w_stride, nb, r0, r1, act, act_stride, (int)n_tok, y, y_stride);
		return;
	}
	const size_t as = a_bsize(k);
	struct tile_act ta;

	for (int64_t t0 = 0; t0 < n_tok; t0 += TC) {
		const int tc = (int)min64(TC, n_tok - t0);
		const uint8_t *act_c = act + (size_t)t0 * act_stride;
		float *y_c = y + (size_t)t0 * y_stride;
		for (int64_t b0 = 0; b0 < nb; b0 += KC) {
			const int kc = (int)min64(KC, nb - b0);
			tile_prep_act(k, act_c + (size_t)b0 * as, act_stride, tc, kc, &ta.dx[0][0], &ta.bias[0][0], &ta.s[0][0],
				      TC);
			for (int64_t r = r0; r < r1; r += TILE_ROWS)
				tile_chunk(k, w, w_stride, r, r1, b0, kc, act_c + (size_t)b0 * as, act_stride, tc,
					   &ta.dx[0][0], &ta.bias[0][0], &ta.s[0][0], TC, y_c, y_stride, true);
		}
	}
}

/* Tokens from which the tiles beat the rows (kernels_bench, 5632 x 2048 on
 * Zen 4): Q8_0's repack does twice the shuffles. */
AI int tile_min_tok(enum qkind k)
{
	return k == QK_Q8_0 ? 5 : k == QK_Q5_0 ? 4 : 3;
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
	if (n_tok >= tile_min_tok(k))
		gemm_tiles(k, pw, w_stride, nb, r0, r1, pa, act_stride, n_tok, y, y_stride);
	else
		gemm_rows(k, pw, w_stride, nb, r0, r1, pa, act_stride, n_tok, y, y_stride);
}

#define GEMM_Q(name, kind)                                                                                       \
	void name(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,         \
		  size_t act_stride, int64_t n_tok, float *y, size_t y_stride)                                   \
	{                                                                                                        \
		gemm_q(kind, w, w_stride, n_in, r0, r1, act, act_stride, n_tok, y, y_stride);                    \
	}

GEMM_Q(gemm_q4_0_avx512, QK_Q4_0)
GEMM_Q(gemm_q4_1_avx512, QK_Q4_1)
GEMM_Q(gemm_q5_0_avx512, QK_Q5_0)
GEMM_Q(gemm_q5_1_avx512, QK_Q5_1)
GEMM_Q(gemm_q8_0_avx512, QK_Q8_0)

/* ---- float weights -------------------------------------------------------- */

enum fkind { FK_F32, FK_F16, FK_BF16 };

AI size_t f_esize(enum fkind k)
{
	return k == FK_F32 ? 4 : 2;
}

AI __m512 load_w16_full(enum fkind k, const uint8_t *p)
{
	if (k == FK_F32)
		return _mm512_loadu_ps(p);
	const __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)p);
	if (k == FK_F16)
		return _mm512_cvtph_ps(h);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* 16 weights (`mask` of them) as floats. */
AI __m512 load_w16(enum fkind k, const uint8_t *p, __mmask16 mask)
{
	if (k == FK_F32)
		return _mm512_maskz_loadu_ps(mask, p);
	const __m256i h = _mm256_maskz_loadu_epi16(mask, p);
	if (k == FK_F16)
		return _mm512_cvtph_ps(h);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Activations: F16 rows for F16 weights (llama.cpp's vec_dot_type), F32
 * otherwise. */
AI size_t a_esize(enum fkind k)
{
	return k == FK_F16 ? 2 : 4;
}

AI __m512 load_x16_full(enum fkind k, const uint8_t *p)
{
	if (k == FK_F16)
		return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
	return _mm512_loadu_ps(p);
}

AI __m512 load_x16(enum fkind k, const uint8_t *p, __mmask16 mask)
{
	if (k == FK_F16)
		return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
	return _mm512_maskz_loadu_ps(mask, p);
}

/* Activations of one token block: a quarter of Zen 4's L2, room for the
 * row groups' weights beside them. */
#define F_ACT_BLOCK_BYTES (256 * 1024)
#define FR 4 /* rows per pass */
#define FT 6 /* tokens per pass, at most */

/* One step of 16 lanes along k for the R x T accumulators; `full` steps
 * load without a mask (masked loads cost more on some cores). */
AI void fstep(enum fkind k, int R, int T, const uint8_t *w, size_t w_stride, const uint8_t *const *xa, int64_t i,
	      __mmask16 m, bool full, __m512 acc[FR][FT])
{
	const size_t es = f_esize(k), as = a_esize(k);
	__m512 xv[FT];
	UNROLL
	for (int t = 0; t < T; t++)
		xv[t] = full ? load_x16_full(k, xa[t] + as * (size_t)i) : load_x16(k, xa[t] + as * (size_t)i, m);
	UNROLL
	for (int r = 0; r < R; r++) {
		const uint8_t *p = w + (size_t)r * w_stride + es * (size_t)i;
		const __m512 wv = full ? load_w16_full(k, p) : load_w16(k, p, m);
		UNROLL
		for (int t = 0; t < T; t++)
			acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
	}
}

/*
 * Lanes along k: y[t][r] for R rows x T tokens, whole rows of n values, one
 * accumulator per (row, token), horizontal sums at the end. The group's R
 * rows are re-read for each T tokens (from L1 or L2: a group is small); the
 * next group is prefetched as one stream (see rows_group).
 */
AI void frows_group(enum fkind k, int R, int T, const uint8_t *w, size_t w_stride, const uint8_t *const *xa,
		    int64_t n, float *const *yt, bool prefetch)
{
	const size_t es = f_esize(k);
	const size_t group_bytes = (size_t)R * w_stride;
	const int64_t n16 = n & ~(int64_t)15;
	__m512 acc[FR][FT];
	UNROLL
	for (int r = 0; r < R; r++)
		UNROLL
		for (int t = 0; t < T; t++)
			acc[r][t] = _mm512_setzero_ps();
	for (int64_t i = 0; i < n16; i += 16) {
		const char *pf = prefetch_addr(w, group_bytes + (size_t)i * R * es);
		if (!prefetch) {
		} else if (group_bytes <= PREFETCH_L1_MAX) {
			UNROLL
			for (size_t o = 0; o <= (size_t)R * 16 * es; o += 64)
				_mm_prefetch(pf + o, _MM_HINT_T0);
		} else {
			UNROLL
			for (size_t o = 0; o <= (size_t)R * 16 * es; o += 64)
				_mm_prefetch(pf + o, _MM_HINT_T1);
		}
		fstep(k, R, T, w, w_stride, xa, i, 0xffff, true, acc);
	}
	if (n16 < n)
		fstep(k, R, T, w, w_stride, xa, n16, (__mmask16)((1u << (n - n16)) - 1), false, acc);
	UNROLL
	for (int t = 0; t < T; t++)
		UNROLL
		for (int r = 0; r < R; r++)
			yt[t][r] = _mm512_reduce_add_ps(acc[r][t]);
}

/* Rows [r, r + R) against all n_tok tokens, FT at a time: the group's rows
 * stay in L1/L2 while the activations pass. */
AI void frows_tokens(enum fkind k, int R, const uint8_t *w, size_t w_stride, int64_t n, const uint8_t *act,
		     size_t act_stride, int64_t n_tok, float *y, size_t y_stride)
{
	for (int64_t t0 = 0; t0 < n_tok; t0 += FT) {
		const uint8_t *xa[FT];
		float *yt[FT];
		for (int t = 0; t < FT; t++) { /* rows past n_tok: unused, kept in bounds */
			xa[t] = act + (size_t)min64(t0 + t, n_tok - 1) * act_stride;
			yt[t] = y + (size_t)min64(t0 + t, n_tok - 1) * y_stride;
		}
		switch (min64(FT, n_tok - t0)) {
#define FTOKS(T) frows_group(k, R, (T) < FT ? (T) : FT, w, w_stride, xa, n, yt, t0 + FT >= n_tok); break
		case 1: FTOKS(1);
		case 2: FTOKS(2);
		case 3: FTOKS(3);
		case 4: FTOKS(4);
		case 5: FTOKS(5);
		case 6: FTOKS(6);
		case 7: FTOKS(7);
		default: FTOKS(8);
#undef FTOKS
		}
	}
}

/*
 * Decoding one token: rows one after another, so the weights are read as a
 * single forward stream, which the hardware prefetchers follow (a group of
 * rows read side by side is one stream per row). Four accumulators per row.
 */
AI void frows_single(enum fkind k, const uint8_t *w, size_t w_stride, int64_t n, int64_t r0, int64_t r1,
		     const uint8_t *x, float *y)
{
	const size_t es = f_esize(k), as = a_esize(k);
	const int64_t n64 = n & ~(int64_t)63, n16 = n & ~(int64_t)15;
	for (int64_t r = r0; r < r1; r++) {
		const uint8_t *wr = w + (size_t)r * w_stride;
		__m512 acc[4] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps() };
		int64_t i = 0;
		for (; i < n64; i += 64)
			UNROLL
			for (int j = 0; j < 4; j++)
				acc[j] = _mm512_fmadd_ps(load_w16_full(k, wr + es * (size_t)(i + 16 * j)),
							 load_x16_full(k, x + as * (size_t)(i + 16 * j)), acc[j]);
		for (; i < n16; i += 16)
			acc[0] = _mm512_fmadd_ps(load_w16_full(k, wr + es * (size_t)i), load_x16_full(k, x + as * (size_t)i),
						 acc[0]);
		if (i < n) {
			const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
			acc[1] = _mm512_fmadd_ps(load_w16(k, wr + es * (size_t)i, m), load_x16(k, x + as * (size_t)i, m),
						 acc[1]);
		}
		y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
	}
}

AI void gemm_f(enum fkind k, const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
	       size_t act_stride, int64_t n_tok, float *y, size_t y_stride)
{
	const uint8_t *pw = w, *pa = act;
	int64_t r = r0;
	if (n_in == 0) {
		for (int64_t t = 0; t < n_tok; t++)
			memset(y + (size_t)t * y_stride + r0, 0, (size_t)(r1 - r0) * sizeof(float));
		return;
	}
	if (n_tok == 1) {
		frows_single(k, pw, w_stride, n_in, r0, r1, pa, y);
		return;
	}
	/* Tokens in blocks whose activations fit in L2 (see F_ACT_BLOCK_BYTES):
	 * every row group re-reads the block's activations. */
	int64_t tb = (int64_t)(F_ACT_BLOCK_BYTES / ((size_t)n_in * a_esize(k)));
	tb = tb < FT ? FT : tb - tb % FT;
	for (int64_t t0 = 0; t0 < n_tok; t0 += tb) {
		const int64_t nt = min64(tb, n_tok - t0);
		const uint8_t *pa_b = pa + (size_t)t0 * act_stride;
		float *y_b = y + (size_t)t0 * y_stride;
		for (r = r0; r + FR <= r1; r += FR)
			frows_tokens(k, FR, pw + (size_t)r * w_stride, w_stride, n_in, pa_b, act_stride, nt, y_b + r,
				     y_stride);
		switch (r1 - r) { /* the remaining 0 .. FR-1 rows */
#define FROWS(R) frows_tokens(k, (R) < FR ? (R) : FR - 1, pw + (size_t)r * w_stride, w_stride, n_in, pa_b, act_stride, \
			      nt, y_b + r, y_stride); break
		case 0: break;
		case 1: FROWS(1);
		case 2: FROWS(2);
		case 3: FROWS(3);
		case 4: FROWS(4);
		case 5: FROWS(5);
		case 6: FROWS(6);
		default: FROWS(7);
#undef FROWS
		}
	}
}

#define GEMM_F(name, kind)                                                                                       \
	void name(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,         \
		  size_t act_stride, int64_t n_tok, float *y, size_t y_stride)                                   \
	{                                                                                                        \
		gemm_f(kind, w, w_stride, n_in, r0, r1, act, act_stride, n_tok, y, y_stride);                    \
	}

GEMM_F(gemm_f32_avx512, FK_F32)
GEMM_F(gemm_f16_avx512, FK_F16)
GEMM_F(gemm_bf16_avx512, FK_BF16)
