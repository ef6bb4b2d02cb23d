/*
 * types.c - the table of GGUF tensor types (block size, bytes per block) and
 * scalar half/bfloat16 conversions.
 *
 * Sizes for every type GGUF defines are here, even those ajar cannot compute
 * with yet, so that any file can be size-checked and described. The block
 * byte sizes follow from the layouts: e.g. Q4_K = f16 d + f16 dmin + 12 bytes
 * of 6-bit scales + 128 bytes of nibbles = 144.
 */
#include "ajar/tensor.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#define T(id, nm, bs, ts, k) [id] = { .name = nm, .block_size = bs, .type_size = ts, .has_kernels = k }

static const struct ajar_type_traits type_table[AJAR_TYPE_COUNT] = {
	T(AJAR_TYPE_F32, "F32", 1, 4, true),
	T(AJAR_TYPE_F16, "F16", 1, 2, true),
	T(AJAR_TYPE_Q4_0, "Q4_0", 32, 18, true),
	T(AJAR_TYPE_Q4_1, "Q4_1", 32, 20, true),
	T(AJAR_TYPE_Q5_0, "Q5_0", 32, 22, true),
	T(AJAR_TYPE_Q5_1, "Q5_1", 32, 24, true),
	T(AJAR_TYPE_Q8_0, "Q8_0", 32, 34, true),
	T(AJAR_TYPE_Q8_1, "Q8_1", 32, 36, false),
	T(AJAR_TYPE_Q2_K, "Q2_K", 256, 84, true),
	T(AJAR_TYPE_Q3_K, "Q3_K", 256, 110, true),
	T(AJAR_TYPE_Q4_K, "Q4_K", 256, 144, true),
	T(AJAR_TYPE_Q5_K, "Q5_K", 256, 176, true),
	T(AJAR_TYPE_Q6_K, "Q6_K", 256, 210, true),
	T(AJAR_TYPE_Q8_K, "Q8_K", 256, 292, true),
	T(AJAR_TYPE_IQ2_XXS, "IQ2_XXS", 256, 66, false),
	T(AJAR_TYPE_IQ2_XS, "IQ2_XS", 256, 74, false),
	T(AJAR_TYPE_IQ3_XXS, "IQ3_XXS", 256, 98, false),
	T(AJAR_TYPE_IQ1_S, "IQ1_S", 256, 50, false),
	T(AJAR_TYPE_IQ4_NL, "IQ4_NL", 32, 18, true),
	T(AJAR_TYPE_IQ3_S, "IQ3_S", 256, 110, false),
	T(AJAR_TYPE_IQ2_S, "IQ2_S", 256, 82, false),
	T(AJAR_TYPE_IQ4_XS, "IQ4_XS", 256, 136, false),
	T(AJAR_TYPE_I8, "I8", 1, 1, false),
	T(AJAR_TYPE_I16, "I16", 1, 2, false),
	T(AJAR_TYPE_I32, "I32", 1, 4, false),
	T(AJAR_TYPE_I64, "I64", 1, 8, false),
	T(AJAR_TYPE_F64, "F64", 1, 8, false),
	T(AJAR_TYPE_IQ1_M, "IQ1_M", 256, 56, false),
	T(AJAR_TYPE_BF16, "BF16", 1, 2, true),
	T(AJAR_TYPE_TQ1_0, "TQ1_0", 256, 54, false),
	T(AJAR_TYPE_TQ2_0, "TQ2_0", 256, 66, false),
};

#undef T

const struct ajar_type_traits *ajar_type_traits(uint32_t type)
{
	if (type >= AJAR_TYPE_COUNT || type_table[type].name == NULL)
		return NULL;
	return &type_table[type];
}

const char *ajar_type_name(uint32_t type)
{
	const struct ajar_type_traits *t = ajar_type_traits(type);
	return t ? t->name : "unknown";
}

size_t ajar_row_size(enum ajar_type type, int64_t n)
{
	const struct ajar_type_traits *t = ajar_type_traits((uint32_t)type);
	assert(t && n % t->block_size == 0);
	return (size_t)(n / t->block_size) * t->type_size;
}

enum ajar_err ajar_row_size_checked(uint32_t type, uint64_t n, size_t *out)
{
	const struct ajar_type_traits *t = ajar_type_traits(type);
	uint64_t blocks;

	if (!t)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "unknown tensor type %u", type);
	if (n % t->block_size != 0)
		return ajar_errf(AJAR_ERR_FORMAT, "row of %llu values is not a multiple of the %s block size %u",
				 (unsigned long long)n, t->name, t->block_size);
	blocks = n / t->block_size;
	if (blocks > SIZE_MAX / t->type_size)
		return ajar_errf(AJAR_ERR_LIMIT, "row of %llu %s values overflows size_t", (unsigned long long)n, t->name);
	*out = (size_t)(blocks * t->type_size);
	return AJAR_OK;
}

float ajar_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;
	uint32_t bits;
	float f;

	if (exp == 0) {
		/* zero or subnormal: value = mant * 2^-24 exactly */
		f = (float)mant * 0x1p-24f;
		return sign ? -f : f;
	}
	if (exp == 31)
		bits = sign | 0x7f800000u | (mant << 13); /* inf or NaN, payload kept */
	else
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

uint16_t ajar_f32_to_f16(float f)
{
	uint32_t bits, sign, exp, mant;
	memcpy(&bits, &f, sizeof(bits));
	sign = (bits >> 16) & 0x8000;
	exp = (bits >> 23) & 0xff;
	mant = bits & 0x7fffff;

	if (exp == 0xff) /* inf or NaN; keep NaN a NaN */
		return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
	int e = (int)exp - 127 + 15;
	if (e >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (e <= 0) {
		/* subnormal half (or zero): shift the full mantissa, round to nearest even */
		if (e < -10)
			return (uint16_t)sign;
		mant |= 0x800000;
		uint32_t shift = (uint32_t)(14 - e);
		uint32_t half = mant >> shift;
		uint32_t rem = mant & ((1u << shift) - 1);
		uint32_t mid = 1u << (shift - 1);
		if (rem > mid || (rem == mid && (half & 1)))
			half++;
		return (uint16_t)(sign | half);
	}
	uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
	uint32_t rem = mant & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++; /* may carry into the exponent, which is the right result */
	return (uint16_t)(sign | h);
}

float ajar_bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

uint16_t ajar_f32_to_bf16(float f)
{
	uint32_t bits;
	memcpy(&bits, &f, sizeof(bits));
	if ((bits & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((bits >> 16) | 64); /* quiet NaN */
	bits += 0x7fff + ((bits >> 16) & 1);
	return (uint16_t)(bits >> 16);
}
