/*
 * kquants_int.h - block layouts of the K-quants (Q2_K .. Q6_K, 256-value
 * super-blocks), their activation format Q8_K, and IQ4_NL (32-value blocks
 * on a fixed non-linear grid); the kernels on them shared by the reference
 * (quants_k.c, kquants_scalar.c) and the per-ISA files (kquants_avx2.c,
 * kquants_avx512.c).
 *
 * The layouts are GGUF's (ggml's block_q2_K ... block_q8_K, block_iq4_nl in
 * ggml-common.h). All multi-byte fields are little-endian; d and dmin are
 * IEEE half bits (ajar_f16_to_f32), Q8_K's d is an f32. The structs have no
 * padding (checked below), so a block can be memcpy'd from file bytes.
 *
 * A super-block of 256 values is cut into sub-blocks of 16 (Q2_K, Q3_K,
 * Q6_K) or 32 (Q4_K, Q5_K). Each sub-block has its own small integer scale
 * (and for Q2_K/Q4_K/Q5_K a minimum), itself quantized against the f16
 * super-block scale d (and dmin). Value v of the super-block:
 *
 * Q2_K, 84 bytes, 16 sub-blocks of 16     x = d*sc[s] * q - dmin*mn[s]
 *   off size
 *     0   16  scales  byte s: sc[s] = low nibble, mn[s] = high nibble
 *    16   64  qs      2-bit q; v = 128*h + 32*k + l (h < 2, k < 4, l < 32)
 *                     is bits 2k..2k+1 of qs[32*h + l]
 *    80    2  d       f16
 *    82    2  dmin    f16
 *   sub-block s = v / 16.
 *
 * Q3_K, 110 bytes, 16 sub-blocks of 16    x = d * (sc[s] - 32) * (q - 4)
 *     0   32  hmask   bit 2 of q (set: q >= 4): byte v % 32, bit v / 32
 *    32   64  qs      bits 0..1 of q, arranged as Q2_K's qs
 *    96   12  scales  6-bit sc[s], s < 16: bits 0..3 are the low nibble of
 *                     byte s (s < 8) or the high nibble of byte s - 8;
 *                     bits 4..5 are bits 2*(s/4).. of byte 8 + s % 4
 *   108    2  d       f16
 *
 * Q4_K, 144 bytes, 8 sub-blocks of 32     x = d*sc[s] * q - dmin*mn[s]
 *     0    2  d       f16
 *     2    2  dmin    f16
 *     4   12  scales  6-bit sc[s] and mn[s], s < 8 (get_scale_min_k4):
 *                       s < 4: sc = b[s] & 63,  mn = b[s+4] & 63
 *                       s >= 4: sc = (b[s+4] & 15) | (b[s-4] >> 6) << 4,
 *                               mn = (b[s+4] >> 4) | (b[s] >> 6) << 4
 *    16  128  qs      4-bit q; v = 64*k + l (l < 32) is the low nibble of
 *                     qs[32*k + l], v = 64*k + 32 + l its high nibble
 *   sub-block s = v / 32.
 *
 * Q5_K, 176 bytes, 8 sub-blocks of 32     x = d*sc[s] * q - dmin*mn[s]
 *     0    2  d       f16
 *     2    2  dmin    f16
 *     4   12  scales  as Q4_K
 *    16   32  qh      bit 4 of q: value 32*s + l is bit s of qh[l]
 *    48  128  qs      bits 0..3 of q, arranged as Q4_K's qs
 *
 * Q6_K, 210 bytes, 16 sub-blocks of 16    x = d * sc[s] * (q - 32)
 *     0  128  ql      bits 0..3 of q; v = 128*h + 32*k + l (l < 32): byte
 *                     ql[64*h + 32*(k & 1) + l], low nibble for k < 2, high
 *                     nibble for k >= 2
 *   128   64  qh      bits 4..5 of q: bits 2k..2k+1 of qh[32*h + l]
 *   192   16  scales  i8 sc[s]
 *   208    2  d       f16
 *
 * Q8_K, 292 bytes, the activation format  x = d * q
 *     0    4  d       f32
 *     4  256  qs      i8 q
 *   260   32  bsums   i16: bsums[j] = sum of q[16j .. 16j+15], so the
 *                     dmin*mn term of a dot product needs no per-value work
 *
 * IQ4_NL, 18 bytes, 32 values             x = d * iq4nl_values[q]
 *     0    2  d       f16
 *     2   16  qs      4-bit index q, arranged as Q4_0's (value j in the low
 *                     nibble of qs[j], value j+16 in its high nibble)
 */
#ifndef AJAR_TENSOR_KQUANTS_INT_H
#define AJAR_TENSOR_KQUANTS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensor/kernels_int.h"
#include "tensor/quants_int.h"

#define QK_K 256   /* values per K-quant super-block */
#define QK_IQ4 32  /* values per IQ4_NL block */

struct block_q2_K {
	uint8_t scales[QK_K / 16];
	uint8_t qs[QK_K / 4];
	uint16_t d;
	uint16_t dmin;
};

struct block_q3_K {
	uint8_t hmask[QK_K / 8];
	uint8_t qs[QK_K / 4];
	uint8_t scales[12];
	uint16_t d;
};

struct block_q4_K {
	uint16_t d;
	uint16_t dmin;
	uint8_t scales[12];
	uint8_t qs[QK_K / 2];
};

struct block_q5_K {
	uint16_t d;
	uint16_t dmin;
	uint8_t scales[12];
	uint8_t qh[QK_K / 8];
	uint8_t qs[QK_K / 2];
};

struct block_q6_K {
	uint8_t ql[QK_K / 2];
	uint8_t qh[QK_K / 4];
	int8_t scales[QK_K / 16];
	uint16_t d;
};

struct block_q8_K {
	float d;
	int8_t qs[QK_K];
	int16_t bsums[QK_K / 16];
};

struct block_iq4_nl {
	uint16_t d;
	uint8_t qs[QK_IQ4 / 2];
};

_Static_assert(sizeof(struct block_q2_K) == 84, "block_q2_K size/padding");
_Static_assert(offsetof(struct block_q2_K, qs) == 16 && offsetof(struct block_q2_K, d) == 80 &&
		       offsetof(struct block_q2_K, dmin) == 82,
	       "block_q2_K layout");
_Static_assert(sizeof(struct block_q3_K) == 110, "block_q3_K size/padding");
_Static_assert(offsetof(struct block_q3_K, qs) == 32 && offsetof(struct block_q3_K, scales) == 96 &&
		       offsetof(struct block_q3_K, d) == 108,
	       "block_q3_K layout");
_Static_assert(sizeof(struct block_q4_K) == 144, "block_q4_K size/padding");
_Static_assert(offsetof(struct block_q4_K, dmin) == 2 && offsetof(struct block_q4_K, scales) == 4 &&
		       offsetof(struct block_q4_K, qs) == 16,
	       "block_q4_K layout");
_Static_assert(sizeof(struct block_q5_K) == 176, "block_q5_K size/padding");
_Static_assert(offsetof(struct block_q5_K, scales) == 4 && offsetof(struct block_q5_K, qh) == 16 &&
		       offsetof(struct block_q5_K, qs) == 48,
	       "block_q5_K layout");
_Static_assert(sizeof(struct block_q6_K) == 210, "block_q6_K size/padding");
_Static_assert(offsetof(struct block_q6_K, qh) == 128 && offsetof(struct block_q6_K, scales) == 192 &&
		       offsetof(struct block_q6_K, d) == 208,
	       "block_q6_K layout");
_Static_assert(sizeof(struct block_q8_K) == 292, "block_q8_K size/padding");
_Static_assert(offsetof(struct block_q8_K, qs) == 4 && offsetof(struct block_q8_K, bsums) == 260,
	       "block_q8_K layout");
_Static_assert(sizeof(struct block_iq4_nl) == 18, "block_iq4_nl size/padding");
_Static_assert(offsetof(struct block_iq4_nl, qs) == 2, "block_iq4_nl layout");

/* IQ4_NL's 16 levels (ggml's kvalues_iq4nl): denser near zero, where most
 * weights are. Ascending, which the quantizer's binary search relies on. */
extern const int8_t iq4nl_values[16];

/*
 * Round to nearest, ties to even, as ggml's nearest_int does it: adding
 * 1.5 * 2^23 leaves the rounded integer in the low mantissa bits. Exact for
 * |f| < 2^22. Outside that range (and for inf and NaN) the result is still
 * what ggml computes, with no undefined behaviour: the quantizers rely on
 * that for blocks whose scale overflows (e.g. an inf reciprocal gives 0 or
 * -2^22, which the callers' clamps then fix).
 */
static inline int kquants_nearest_int(float f)
{
	const float v = f + 12582912.0f;
	uint32_t bits;
	memcpy(&bits, &v, sizeof(bits));
	return (int)(bits & 0x007fffffu) - 0x00400000;
}

/* The 6-bit scale and min of sub-block j (< 8) of Q4_K/Q5_K scales[12]. */
static inline void kquants_scale_min_k4(int j, const uint8_t *scales, uint8_t *sc, uint8_t *mn)
{
	if (j < 4) {
		*sc = scales[j] & 63;
		*mn = scales[j + 4] & 63;
	} else {
		*sc = (uint8_t)((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
		*mn = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
	}
}

/* The 16 6-bit scales of Q3_K scales[12], minus 32 (so in [-32, 31]). */
static inline void kquants_scales_q3_K(const uint8_t *scales, int8_t out[16])
{
	for (int s = 0; s < 16; s++) {
		const int lo = s < 8 ? scales[s] & 0x0f : scales[s - 8] >> 4;
		const int hi = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
		out[s] = (int8_t)((lo | hi << 4) - 32);
	}
}

/*
 * Block kernels (quants_k.c). Each reads or writes one block at any byte
 * address: src/dst point to type_size bytes, y/x to block_size floats.
 * The quantizers reproduce llama.cpp's (see quants_k.c for which).
 */
void kquants_dequantize_q2_K(const uint8_t *src, float *y);
void kquants_dequantize_q3_K(const uint8_t *src, float *y);
void kquants_dequantize_q4_K(const uint8_t *src, float *y);
void kquants_dequantize_q5_K(const uint8_t *src, float *y);
void kquants_dequantize_q6_K(const uint8_t *src, float *y);
void kquants_dequantize_q8_K(const uint8_t *src, float *y);
void kquants_dequantize_iq4_nl(const uint8_t *src, float *y);

void kquants_quantize_q2_K(const float *x, uint8_t *dst);
void kquants_quantize_q3_K(const float *x, uint8_t *dst);
void kquants_quantize_q4_K(const float *x, uint8_t *dst);
void kquants_quantize_q5_K(const float *x, uint8_t *dst);
void kquants_quantize_q6_K(const float *x, uint8_t *dst);
void kquants_quantize_q8_K(const float *x, uint8_t *dst);
void kquants_quantize_iq4_nl(const float *x, uint8_t *dst);

/* IQ4_NL with a chosen search width: ntry = 7 is llama.cpp's
 * quantize_iq4_nl (what llama-quantize writes, and kquants_quantize_iq4_nl);
 * ntry = -1 is its quantize_row_iq4_nl_ref, which searches no further
 * scales. Other values are not used. */
void kquants_quantize_iq4_nl_ntry(const float *x, uint8_t *dst, int ntry);

/*
 * Scalar dot products (kquants_scalar.c): weight row w of n values (n a
 * multiple of the block size) with an activation row of the same n in the
 * activation format, Q8_K for the K-quants and Q8_0 for IQ4_NL. Integer
 * sums inside each block as ggml's generic ggml_vec_dot_*; one f32 term per
 * block. Rows may sit at any byte address.
 */
float kquants_vec_dot_q2_K_q8_K(const void *w, const void *act, int64_t n);
float kquants_vec_dot_q3_K_q8_K(const void *w, const void *act, int64_t n);
float kquants_vec_dot_q4_K_q8_K(const void *w, const void *act, int64_t n);
float kquants_vec_dot_q5_K_q8_K(const void *w, const void *act, int64_t n);
float kquants_vec_dot_q6_K_q8_K(const void *w, const void *act, int64_t n);
float kquants_vec_dot_iq4_nl_q8_0(const void *w, const void *act, int64_t n);

/* Q8_K activation row: n floats (a multiple of 256) -> n / 256 blocks at
 * out, as llama.cpp's quantize_row_q8_K_ref. */
void kquants_quantize_row_q8_K(const float *x, void *out, int64_t n);

/*
 * SIMD kernels (kquants_avx2.c: AVX2 + FMA + F16C; kquants_avx512.c:
 * AVX-512 F/BW/VL/DQ), registered in kernels.c. The gemm functions have
 * ajar_gemm()'s arguments less the weight type; the activation quantizers
 * write the same bytes as kquants_quantize_row_q8_K.
 */
#define KQUANTS_GEMM_ARGS                                                                                      \
	const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act, size_t act_stride, \
		int64_t n_tok, float *y, size_t y_stride

void kquants_act_q8_K_avx2(const float *x, void *out, int64_t n);
void kquants_gemm_q2_K_avx2(KQUANTS_GEMM_ARGS);
void kquants_gemm_q3_K_avx2(KQUANTS_GEMM_ARGS);
void kquants_gemm_q4_K_avx2(KQUANTS_GEMM_ARGS);
void kquants_gemm_q5_K_avx2(KQUANTS_GEMM_ARGS);
void kquants_gemm_q6_K_avx2(KQUANTS_GEMM_ARGS);
void kquants_gemm_iq4_nl_avx2(KQUANTS_GEMM_ARGS);

void kquants_act_q8_K_avx512(const float *x, void *out, int64_t n);
void kquants_gemm_q4_K_avx512(KQUANTS_GEMM_ARGS);
void kquants_gemm_q5_K_avx512(KQUANTS_GEMM_ARGS);
void kquants_gemm_q6_K_avx512(KQUANTS_GEMM_ARGS);

/*
 * What each CPU level (enum ajar_cpu_level) provides for the K-quants and
 * IQ4_NL, in kernels.c's table format (kquants_scalar.c). kernels.c
 * overlays these on its own tables before filling each level's gaps from
 * the level below, so a type without SIMD kernels at some level runs the
 * best one beneath it.
 */
extern const struct kernel_table kquants_tables[3];

#ifdef __AVX2__
#include <immintrin.h>

/*
 * The 8 scales and 8 mins of a Q4_K/Q5_K super-block (kquants_scale_min_k4)
 * as bytes sc0..sc7, mn0..mn7, for the SIMD files. b points at the 12
 * scale bytes, and 4 more bytes must be readable after them (in a block
 * they are quants). Bytes 0-3 and 8-11 are b[0..3] & 63 and b[4..7] & 63;
 * 4-7 and 12-15 take their low 4 bits from the nibbles of b[8..11] and
 * their top 2 from bits 6-7 of b[0..3] and b[4..7].
 */
static inline __m128i kquants_scales_k4_simd(const uint8_t *b)
{
	const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)b);
	const __m128i a = _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
	const __m128i top = _mm_shuffle_epi8(v, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
	const __m128i lo = _mm_or_si128(
		_mm_and_si128(a, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0)),
		_mm_and_si128(_mm_srli_epi16(a, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15)));
	return _mm_or_si128(lo, _mm_and_si128(_mm_srli_epi16(top, 2), _mm_set1_epi8(0x30)));
}
#endif

/*
 * The tiling shared by the SIMD gemm kernels. A tile kernel computes R
 * weight rows (w_stride apart) against T activation rows (act_stride apart)
 * over nb blocks, writing y[t * y_stride + r]. A kernel set has tiles of
 * r_max rows and of one row, each for T = 1 .. t_max tokens:
 * wide[T-1] and narrow[T-1].
 *
 * Rows are walked in chunks of `chunk` (a chunk of weights stays in L2
 * while every token tile passes over it, so prompt processing reads the
 * weights from memory once); inside a chunk, token tiles of t_max and row
 * tiles of r_max, with smaller tiles for the remainders.
 */
typedef void (*kquants_tile_fn)(const uint8_t *w, size_t w_stride, const uint8_t *act, size_t act_stride,
				int64_t nb, float *y, size_t y_stride);

struct kquants_tiles {
	int r_max, t_max;
	const kquants_tile_fn *wide;   /* r_max rows x T tokens, T = 1 .. t_max */
	const kquants_tile_fn *narrow; /* 1 row x T tokens */
};

/* Fewer tokens than this run one row at a time: a multi-row tile reads
 * several weight streams side by side, which from memory ran slower than
 * one stream (decoding: 4.4 vs 7.4 ms for a 75 MB Q4_K matrix) and pays
 * only once several tokens share each unpacked row. */
#ifndef KQUANTS_WIDE_MIN_T
#define KQUANTS_WIDE_MIN_T 3
#endif

static inline void kquants_gemm_tiled(const struct kquants_tiles *k, int64_t chunk, int64_t block_size,
				      KQUANTS_GEMM_ARGS)
{
	const uint8_t *pw = w, *pa = act; /* bytes */
	const int64_t nb = n_in / block_size;
	for (int64_t rc = r0; rc < r1; rc += chunk) {
		const int64_t rc_end = rc + chunk < r1 ? rc + chunk : r1;
		for (int64_t t = 0; t < n_tok; t += k->t_max) {
			const int tn = (int)(n_tok - t < k->t_max ? n_tok - t : k->t_max);
			const uint8_t *pat = pa + (size_t)t * act_stride;
			float *yt = y + (size_t)t * y_stride;
			int64_t r = rc;
			for (; tn >= KQUANTS_WIDE_MIN_T && r + k->r_max <= rc_end; r += k->r_max)
				k->wide[tn - 1](pw + (size_t)r * w_stride, w_stride, pat, act_stride, nb, yt + r, y_stride);
			for (; r < rc_end; r++)
				k->narrow[tn - 1](pw + (size_t)r * w_stride, w_stride, pat, act_stride, nb, yt + r,
						  y_stride);
		}
	}
}

#endif
