/*
 * quants_int.h - block layouts of the quantized types ajar computes with,
 * shared by the scalar reference kernels (quants.c) and the per-ISA kernels
 * that will sit beside them.
 *
 * Each type stores 32 values per block. All multi-byte fields are
 * little-endian; d and m are IEEE half-precision bits (ajar_f16_to_f32). The
 * layouts are GGUF's (ggml's block_q4_0 ... block_q8_0 in ggml-common.h); the
 * structs below have no padding, which the _Static_asserts check field by
 * field, so a struct can be memcpy'd from file bytes as is.
 *
 * Q4_0, 18 bytes                         x[i] = d * (q[i] - 8)
 *   off size
 *     0    2  d      f16 scale
 *     2   16  qs     q[j] = qs[j] & 0x0f, q[j+16] = qs[j] >> 4   (j < 16)
 *
 * Q4_1, 20 bytes                         x[i] = d * q[i] + m
 *     0    2  d      f16 scale
 *     2    2  m      f16 offset (the block's minimum)
 *     4   16  qs     as Q4_0
 *
 * Q5_0, 22 bytes                         x[i] = d * (q[i] - 16)
 *     0    2  d      f16 scale
 *     2    4  qh     u32 (little-endian): bit i is bit 4 of q[i], i < 32
 *     6   16  qs     bits 0..3 of q[i], arranged as Q4_0
 *
 * Q5_1, 24 bytes                         x[i] = d * q[i] + m
 *     0    2  d      f16 scale
 *     2    2  m      f16 offset
 *     4    4  qh     as Q5_0
 *     8   16  qs     as Q5_0
 *
 * Q8_0, 34 bytes                         x[i] = d * q[i]
 *     0    2  d      f16 scale
 *     2   32  qs     i8 q[i]
 *
 * Activation blocks (the formats ajar_act_quantize writes; kernels.h):
 *
 * Q8_0 activations use the Q8_0 block above: d = max|x| / 127, q = round(x / d).
 *
 * Q8_1, 36 bytes                         x[i] = d * q[i]
 *     0    2  d      f16 scale
 *     2    2  s      f16 of d * (q[0] + ... + q[31]), for the m terms of Q4_1/Q5_1
 *     4   32  qs     i8 q[i]
 *
 * Note the split in the 4-bit types: a byte holds values j and j+16, not two
 * neighbours, so one 16-byte load gives the low half-block in its low nibbles
 * and the high half-block in its high nibbles.
 */
#ifndef AJAR_TENSOR_QUANTS_INT_H
#define AJAR_TENSOR_QUANTS_INT_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ajar reads GGUF's little-endian blocks in place: a little-endian host is required"
#endif

#define QUANT_BLOCK 32 /* values per block in every type here */

struct block_q4_0 {
	uint16_t d;
	uint8_t qs[QUANT_BLOCK / 2];
};

struct block_q4_1 {
	uint16_t d;
	uint16_t m;
	uint8_t qs[QUANT_BLOCK / 2];
};

struct block_q5_0 {
	uint16_t d;
	uint8_t qh[4]; /* bytes, not a uint32_t: that would align the struct to 4 and pad it to 24 */
	uint8_t qs[QUANT_BLOCK / 2];
};

struct block_q5_1 {
	uint16_t d;
	uint16_t m;
	uint8_t qh[4];
	uint8_t qs[QUANT_BLOCK / 2];
};

struct block_q8_0 {
	uint16_t d;
	int8_t qs[QUANT_BLOCK];
};

struct block_q8_1 {
	uint16_t d;
	uint16_t s;
	int8_t qs[QUANT_BLOCK];
};

_Static_assert(sizeof(struct block_q4_0) == 18, "block_q4_0 size/padding");
_Static_assert(offsetof(struct block_q4_0, qs) == 2, "block_q4_0 layout");
_Static_assert(sizeof(struct block_q4_1) == 20, "block_q4_1 size/padding");
_Static_assert(offsetof(struct block_q4_1, m) == 2 && offsetof(struct block_q4_1, qs) == 4, "block_q4_1 layout");
_Static_assert(sizeof(struct block_q5_0) == 22, "block_q5_0 size/padding");
_Static_assert(offsetof(struct block_q5_0, qh) == 2 && offsetof(struct block_q5_0, qs) == 6, "block_q5_0 layout");
_Static_assert(sizeof(struct block_q5_1) == 24, "block_q5_1 size/padding");
_Static_assert(offsetof(struct block_q5_1, m) == 2 && offsetof(struct block_q5_1, qh) == 4 &&
		       offsetof(struct block_q5_1, qs) == 8,
	       "block_q5_1 layout");
_Static_assert(sizeof(struct block_q8_0) == 34, "block_q8_0 size/padding");
_Static_assert(offsetof(struct block_q8_0, qs) == 2, "block_q8_0 layout");
_Static_assert(sizeof(struct block_q8_1) == 36, "block_q8_1 size/padding");
_Static_assert(offsetof(struct block_q8_1, s) == 2 && offsetof(struct block_q8_1, qs) == 4, "block_q8_1 layout");

#endif
