/*
 * tensor.h - tensor element types and their block layouts, with scalar
 * reference kernels (dequantize, quantize, dot product).
 *
 * The type numbers are GGUF's (ggml's enum ggml_type), so a value read from a
 * file indexes ajar_type_traits() directly. Quantized types store a row of n
 * values as n / block_size blocks of type_size bytes; a row's byte size is
 * ajar_row_size(). Every type GGUF defines has traits (so sizes can be checked
 * and files described even when ajar cannot compute with that type);
 * `has_kernels` says whether the kernels below accept it.
 *
 * Block layouts (all little-endian, packed, as GGUF defines them):
 *   Q4_0  (32 values, 18 B): f16 d; u8 qs[16]      x = d * (q - 8)
 *         qs[j] low nibble is value j, high nibble is value j+16
 *   Q4_1  (32, 20 B): f16 d; f16 m; u8 qs[16]      x = d * q + m
 *   Q5_0  (32, 22 B): f16 d; u8 qh[4]; u8 qs[16]   x = d * (q - 16); bit 4 of
 *         value i (i < 32) is bit i of the little-endian u32 qh, bits 0..3 are
 *         in qs arranged as Q4_0's nibbles
 *   Q5_1  (32, 24 B): f16 d; f16 m; u8 qh[4]; u8 qs[16]  x = d * q + m
 *   Q8_0  (32, 34 B): f16 d; i8 qs[32]             x = d * q
 *   IQ4_NL (32, 18 B): f16 d; u8 qs[16]            x = d * values[q], the 16
 *         fixed levels -127 -104 -83 -65 -49 -35 -22 -10 1 13 25 38 53 69 89
 *         113; nibbles arranged as Q4_0's
 *   K-quants: super-blocks of 256 values in sub-blocks of 16 or 32, each
 *   sub-block with a small integer scale s (and min m) quantized against the
 *   f16 super-block scales d (and dmin):
 *   Q2_K  (256, 84 B): u8 scales[16] (s | m << 4); u8 qs[64]; f16 d, dmin
 *                                                  x = d*s*q - dmin*m, q < 4
 *   Q3_K  (256, 110 B): u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 6-bit s);
 *         f16 d                                    x = d*(s-32)*(q-4), q < 8
 *   Q4_K  (256, 144 B): f16 d, dmin; u8 scales[12] (8 6-bit s and m);
 *         u8 qs[128]                               x = d*s*q - dmin*m, q < 16
 *   Q5_K  (256, 176 B): as Q4_K plus u8 qh[32] before qs, q < 32
 *   Q6_K  (256, 210 B): u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d
 *                                                  x = d*s*(q-32), q < 64
 *   Q8_K  (256, 292 B): f32 d; i8 qs[256]; i16 bsums[16] (sums of 16 qs), the
 *         activation format of the K-quants         x = d * q
 *   The bit arrangement of each is in src/tensor/kquants_int.h.
 *   F16, BF16, F32: plain arrays.
 */
#ifndef AJAR_TENSOR_H
#define AJAR_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

enum ajar_type {
	AJAR_TYPE_F32 = 0,
	AJAR_TYPE_F16 = 1,
	AJAR_TYPE_Q4_0 = 2,
	AJAR_TYPE_Q4_1 = 3,
	/* 4 and 5 were Q4_2 / Q4_3, removed from GGUF */
	AJAR_TYPE_Q5_0 = 6,
	AJAR_TYPE_Q5_1 = 7,
	AJAR_TYPE_Q8_0 = 8,
	AJAR_TYPE_Q8_1 = 9,
	AJAR_TYPE_Q2_K = 10,
	AJAR_TYPE_Q3_K = 11,
	AJAR_TYPE_Q4_K = 12,
	AJAR_TYPE_Q5_K = 13,
	AJAR_TYPE_Q6_K = 14,
	AJAR_TYPE_Q8_K = 15,
	AJAR_TYPE_IQ2_XXS = 16,
	AJAR_TYPE_IQ2_XS = 17,
	AJAR_TYPE_IQ3_XXS = 18,
	AJAR_TYPE_IQ1_S = 19,
	AJAR_TYPE_IQ4_NL = 20,
	AJAR_TYPE_IQ3_S = 21,
	AJAR_TYPE_IQ2_S = 22,
	AJAR_TYPE_IQ4_XS = 23,
	AJAR_TYPE_I8 = 24,
	AJAR_TYPE_I16 = 25,
	AJAR_TYPE_I32 = 26,
	AJAR_TYPE_I64 = 27,
	AJAR_TYPE_F64 = 28,
	AJAR_TYPE_IQ1_M = 29,
	AJAR_TYPE_BF16 = 30,
	/* 31..33 were the Q4_0_4_4 / 4_8 / 8_8 repacked types, removed */
	AJAR_TYPE_TQ1_0 = 34,
	AJAR_TYPE_TQ2_0 = 35,
	AJAR_TYPE_COUNT = 36,
};

struct ajar_type_traits {
	const char *name;     /* "Q4_0", as llama.cpp prints it */
	uint32_t block_size;  /* values per block (1 for plain types) */
	uint32_t type_size;   /* bytes per block */
	bool has_kernels;     /* dequantize/dot below accept this type */
};

/* Traits of a GGUF type number, or NULL if the number names no type. */
const struct ajar_type_traits *ajar_type_traits(uint32_t type);

/* Name of a type number: "Q4_0", or "unknown" for numbers with no type. */
const char *ajar_type_name(uint32_t type);

/* Bytes of a row of n values. Caller guarantees the type is known and n is a
 * multiple of its block size (ajar_row_size_checked validates both). */
size_t ajar_row_size(enum ajar_type type, int64_t n);

/* Validating form for sizes that come from files: AJAR_ERR_FORMAT if n is not a
 * multiple of the block size, AJAR_ERR_UNSUPPORTED if the type is unknown,
 * AJAR_ERR_LIMIT on overflow of size_t. */
enum ajar_err ajar_row_size_checked(uint32_t type, uint64_t n, size_t *out) AJAR_MUST_CHECK;

/* IEEE half and bfloat16 conversions (round to nearest even; NaN preserved). */
float ajar_f16_to_f32(uint16_t h);
uint16_t ajar_f32_to_f16(float f);
float ajar_bf16_to_f32(uint16_t h);
uint16_t ajar_f32_to_bf16(float f);

/* The three kernels below read and write rows at any byte address (blocks are
 * copied out, never loaded through a cast pointer). */

/* dst[0..n) = values of the n-value row at src. Types with has_kernels only. */
void ajar_dequantize_row(enum ajar_type type, const void *src, float *dst, int64_t n);

/* Quantizes n floats into a row of `type` at dst (ajar_row_size bytes), rounding
 * as llama.cpp's reference quantizers do. Types with has_kernels only. */
void ajar_quantize_row(enum ajar_type type, const float *src, void *dst, int64_t n);

/* Dot product of a row of `type` with n floats, accumulated in f32 as the
 * reference (for F32 rows: plain sequential sum). Types with has_kernels only. */
float ajar_vec_dot_f32(enum ajar_type type, const void *row, const float *x, int64_t n);

#endif
