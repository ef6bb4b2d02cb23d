/*
 * f16_int.h - branch-free half -> float conversion for row loops.
 *
 * ajar_f16_to_f32() in types.c is the reference; this inline form computes
 * the same value for every non-NaN input without branches, so the compiler
 * vectorizes loops over whole rows. The half's exponent and mantissa are
 * shifted into float position and rescaled by 2^-112, which re-biases the
 * exponent (15 -> 127) and carries inf/NaN through; subnormal halves are
 * built with a magic-number subtraction. (The method is Maratos's, as used
 * in the FP16 library.) A signalling NaN comes out quiet.
 */
#ifndef AJAR_TENSOR_F16_INT_H
#define AJAR_TENSOR_F16_INT_H

#include <stdint.h>
#include <string.h>

static inline float f16_bits_to_f32(uint32_t w)
{
	float f;
	memcpy(&f, &w, sizeof(f));
	return f;
}

static inline uint32_t f32_to_bits(float f)
{
	uint32_t w;
	memcpy(&w, &f, sizeof(w));
	return w;
}

static inline float f16_to_f32_fast(uint16_t h)
{
	const uint32_t w = (uint32_t)h << 16;
	const uint32_t sign = w & 0x80000000u;
	const uint32_t two_w = w + w; /* exponent and mantissa, sign shifted out */
	const float normalized = f16_bits_to_f32((two_w >> 4) + (0xE0u << 23)) * 0x1p-112f;
	const float denormalized = f16_bits_to_f32((two_w >> 17) | (126u << 23)) - 0.5f;
	const uint32_t bits = two_w < (1u << 27) ? f32_to_bits(denormalized) : f32_to_bits(normalized);
	return f16_bits_to_f32(sign | bits);
}

static inline float bf16_to_f32_fast(uint16_t h)
{
	return f16_bits_to_f32((uint32_t)h << 16);
}

#endif
