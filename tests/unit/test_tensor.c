/*
 * Unit tests for the tensor module: the type table, row sizes, f16/bf16
 * conversions, and the scalar reference kernels (dequantize, quantize, dot).
 *
 * Where expected bytes or values are written out, the comment above them says
 * how they were worked out by hand from the layouts (quants_int.h) and from
 * llama.cpp's reference quantizers (quantize_row_*_ref in ggml-quants.c). The
 * arithmetic was re-checked in IEEE single precision (float32 emulation with
 * Python's struct module) where a step is not exact.
 */
#include "ajar/tensor.h"
#include "check.h"
#include "tensor/quants_int.h"

#include <float.h>
#include <stdint.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const enum ajar_type kernel_types[] = {
	AJAR_TYPE_F32, AJAR_TYPE_F16, AJAR_TYPE_BF16, AJAR_TYPE_Q4_0,
	AJAR_TYPE_Q4_1, AJAR_TYPE_Q5_0, AJAR_TYPE_Q5_1, AJAR_TYPE_Q8_0,
};

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

/* xorshift64*: a fixed, portable sequence so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Uniform in [-1, 1). */
static float rng_float(void)
{
	return (float)((double)(rng_next() >> 11) * 0x1p-52 - 1.0);
}

/* ---- type table and row sizes ------------------------------------------- */

static void test_traits(void)
{
	const struct ajar_type_traits *t;

	CHECK(ajar_type_traits(4) == NULL); /* Q4_2, removed */
	CHECK(ajar_type_traits(5) == NULL); /* Q4_3, removed */
	for (uint32_t id = 31; id <= 33; id++)
		CHECK(ajar_type_traits(id) == NULL); /* Q4_0_4_4 and friends, removed */
	CHECK(ajar_type_traits(AJAR_TYPE_COUNT) == NULL);
	CHECK(ajar_type_traits(UINT32_MAX) == NULL);
	CHECK_STR(ajar_type_name(4), "unknown");
	CHECK_STR(ajar_type_name(5), "unknown");
	CHECK_STR(ajar_type_name(1000), "unknown");

	CHECK_STR(ajar_type_name(AJAR_TYPE_F32), "F32");
	CHECK_STR(ajar_type_name(AJAR_TYPE_F16), "F16");
	CHECK_STR(ajar_type_name(AJAR_TYPE_BF16), "BF16");
	CHECK_STR(ajar_type_name(AJAR_TYPE_Q4_0), "Q4_0");
	CHECK_STR(ajar_type_name(AJAR_TYPE_Q5_1), "Q5_1");
	CHECK_STR(ajar_type_name(AJAR_TYPE_Q8_0), "Q8_0");
	CHECK_STR(ajar_type_name(AJAR_TYPE_Q6_K), "Q6_K");
	CHECK_STR(ajar_type_name(AJAR_TYPE_IQ4_XS), "IQ4_XS");
	CHECK_STR(ajar_type_name(AJAR_TYPE_TQ2_0), "TQ2_0");

	/* exactly the eight types with reference kernels here, and the seven
	 * tested in test_kquants.c (Q2_K .. Q6_K, Q8_K, IQ4_NL), say so */
	int with_kernels = 0;
	for (uint32_t id = 0; id < AJAR_TYPE_COUNT; id++) {
		t = ajar_type_traits(id);
		if (t && t->has_kernels)
			with_kernels++;
	}
	CHECK_EQ_INT(with_kernels, (int)NELEM(kernel_types) + 7);
	for (size_t i = 0; i < NELEM(kernel_types); i++) {
		t = ajar_type_traits(kernel_types[i]);
		CHECK(t && t->has_kernels);
	}

	/* the table agrees with the block structs */
	CHECK_EQ_INT(ajar_type_traits(AJAR_TYPE_Q4_0)->type_size, sizeof(struct block_q4_0));
	CHECK_EQ_INT(ajar_type_traits(AJAR_TYPE_Q4_1)->type_size, sizeof(struct block_q4_1));
	CHECK_EQ_INT(ajar_type_traits(AJAR_TYPE_Q5_0)->type_size, sizeof(struct block_q5_0));
	CHECK_EQ_INT(ajar_type_traits(AJAR_TYPE_Q5_1)->type_size, sizeof(struct block_q5_1));
	CHECK_EQ_INT(ajar_type_traits(AJAR_TYPE_Q8_0)->type_size, sizeof(struct block_q8_0));
	for (size_t i = 3; i < NELEM(kernel_types); i++)
		CHECK_EQ_INT(ajar_type_traits(kernel_types[i])->block_size, QUANT_BLOCK);
	CHECK_EQ_INT(ajar_type_traits(AJAR_TYPE_BF16)->type_size, 2);
	CHECK_EQ_INT(ajar_type_traits(AJAR_TYPE_Q4_K)->type_size, 144);
	CHECK_EQ_INT(ajar_type_traits(AJAR_TYPE_Q6_K)->type_size, 210);
}

static void test_row_size(void)
{
	size_t sz = 1234;

	CHECK_EQ_INT(ajar_row_size(AJAR_TYPE_F32, 7), 28);
	CHECK_EQ_INT(ajar_row_size(AJAR_TYPE_Q4_0, 64), 36);
	CHECK_EQ_INT(ajar_row_size(AJAR_TYPE_Q8_0, 4096), 128 * 34);
	CHECK_EQ_INT(ajar_row_size(AJAR_TYPE_Q4_K, 0), 0);

	CHECK_OK(ajar_row_size_checked(AJAR_TYPE_Q5_1, 96, &sz));
	CHECK_EQ_INT(sz, 72);
	CHECK_OK(ajar_row_size_checked(AJAR_TYPE_F16, 0, &sz));
	CHECK_EQ_INT(sz, 0);

	sz = 1234;
	CHECK_EQ_INT(ajar_row_size_checked(4, 32, &sz), AJAR_ERR_UNSUPPORTED);
	CHECK_EQ_INT(ajar_row_size_checked(AJAR_TYPE_COUNT, 32, &sz), AJAR_ERR_UNSUPPORTED);
	CHECK_EQ_INT(ajar_row_size_checked(UINT32_MAX, 32, &sz), AJAR_ERR_UNSUPPORTED);
	CHECK(strstr(ajar_err_msg(), "unknown") != NULL);
	CHECK_EQ_INT(ajar_row_size_checked(AJAR_TYPE_Q4_0, 33, &sz), AJAR_ERR_FORMAT);
	CHECK_EQ_INT(ajar_row_size_checked(AJAR_TYPE_Q4_K, 255, &sz), AJAR_ERR_FORMAT);
	CHECK_EQ_INT(sz, 1234); /* untouched on failure */

	/* F32: SIZE_MAX / 4 = 2^62 - 1 values fit (2^64 - 4 bytes), 2^62 do not */
	if (SIZE_MAX == UINT64_MAX) {
		CHECK_OK(ajar_row_size_checked(AJAR_TYPE_F32, (1ull << 62) - 1, &sz));
		CHECK(sz == SIZE_MAX - 3);
		CHECK_EQ_INT(ajar_row_size_checked(AJAR_TYPE_F32, 1ull << 62, &sz), AJAR_ERR_LIMIT);
	}
	/* the largest multiple of 32 is 2^59 - 1 blocks: 18-byte blocks still fit
	 * in 2^64 bytes (about 1.04e19), 34-byte ones (1.96e19) do not */
	if (SIZE_MAX == UINT64_MAX) {
		CHECK_OK(ajar_row_size_checked(AJAR_TYPE_Q4_0, UINT64_MAX & ~31ull, &sz));
		CHECK(sz == ((1ull << 59) - 1) * 18);
	}
	CHECK_EQ_INT(ajar_row_size_checked(AJAR_TYPE_Q8_0, UINT64_MAX & ~31ull, &sz), AJAR_ERR_LIMIT);
	CHECK_EQ_INT(ajar_row_size_checked(AJAR_TYPE_F64, UINT64_MAX, &sz), AJAR_ERR_LIMIT);
}

/* ---- f16 / bf16 ---------------------------------------------------------- */

/* Every half: f16 -> f32 gives the exact value (computed here independently
 * with ldexp), and f32 -> f16 gives the same bits back; NaNs stay NaN with
 * their payload. */
static void test_f16_exhaustive(void)
{
	int bad_value = 0, bad_trip = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		const uint32_t sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
		const float f = ajar_f16_to_f32((uint16_t)h);
		const uint16_t back = ajar_f32_to_f16(f);

		if (exp == 31) {
			const uint32_t want = (sign << 31) | 0x7f800000u | (mant << 13);
			if (f32_bits(f) != want)
				bad_value++;
			if (mant == 0 ? back != h : (back & 0x7c00) != 0x7c00 || (back & 0x3ff) == 0 ||
							    (back & 0x8000) != (h & 0x8000) ||
							    (back & 0x1ff) != (h & 0x1ff))
				bad_trip++;
			continue;
		}
		double v = exp == 0 ? ldexp((double)mant, -24) : ldexp((double)(1024 + mant), (int)exp - 25);
		if (sign)
			v = -v;
		if (f32_bits(f) != f32_bits((float)v)) /* bits, so -0.0 is checked */
			bad_value++;
		if (back != h)
			bad_trip++;
	}
	CHECK_EQ_INT(bad_value, 0);
	CHECK_EQ_INT(bad_trip, 0);
}

static void test_f16_rounding(void)
{
	static const struct {
		float f;
		uint16_t h;
	} cases[] = {
		{ 1.0f, 0x3c00 },
		{ -2.0f, 0xc000 },
		{ 0.0f, 0x0000 },
		{ -0.0f, 0x8000 },
		{ 0.333251953125f, 0x3555 },
		/* ties between neighbours 2^-10 apart go to the even one */
		{ 1.0f + 0x1p-11f, 0x3c00 },
		{ 1.0f + 3 * 0x1p-11f, 0x3c02 },
		{ 1.0f + 0x1p-11f + 0x1p-20f, 0x3c01 },
		{ -(1.0f + 3 * 0x1p-11f), 0xbc02 },
		/* overflow: 65504 is the largest half; 65520 is the tie with 2^16 */
		{ 65504.0f, 0x7bff },
		{ 65519.99f, 0x7bff },
		{ 65520.0f, 0x7c00 },
		{ -65520.0f, 0xfc00 },
		{ 1e6f, 0x7c00 },
		{ FLT_MAX, 0x7c00 },
		{ INFINITY, 0x7c00 },
		{ -INFINITY, 0xfc00 },
		/* subnormal halves: multiples of 2^-24 */
		{ 0x1p-24f, 0x0001 },
		{ 0x1p-25f, 0x0000 },                  /* tie with 0: even */
		{ 0x1p-25f + 0x1p-40f, 0x0001 },       /* just past the tie */
		{ 3 * 0x1p-25f, 0x0002 },              /* tie between 1 and 2 */
		{ 5 * 0x1p-25f, 0x0002 },              /* tie between 2 and 3 */
		{ -0x1p-24f, 0x8001 },
		{ 0x1p-14f, 0x0400 },                  /* smallest normal */
		{ 0x1p-14f - 0x1p-24f, 0x03ff },       /* largest subnormal */
		{ 0x1p-14f - 0x1p-25f, 0x0400 },       /* tie, rounds up into the normals */
		{ 0x1p-26f, 0x0000 },
		{ 1e-45f, 0x0000 },                    /* f32 subnormal */
		{ -1e-45f, 0x8000 },
	};
	for (size_t i = 0; i < NELEM(cases); i++)
		CHECK_MSG(ajar_f32_to_f16(cases[i].f) == cases[i].h, "case %zu: %a -> %04x, want %04x", i,
			  (double)cases[i].f, ajar_f32_to_f16(cases[i].f), cases[i].h);

	uint16_t h = ajar_f32_to_f16(NAN);
	CHECK((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0);
	h = ajar_f32_to_f16(bits_f32(0x7f800001u)); /* NaN whose payload is all below f16's */
	CHECK((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0);
	CHECK(isnan(ajar_f16_to_f32(h)));
}

static double half_value(uint32_t mag)
{
	return mag >= 0x7c00 ? 65536.0 : (double)ajar_f16_to_f32((uint16_t)mag);
}

/* Random floats across and beyond the half range: the result is a nearest
 * half, ties to even, found by comparing with both neighbours. */
static void test_f16_nearest_random(void)
{
	int bad = 0;
	for (int i = 0; i < 1000000; i++) {
		uint32_t bits = (uint32_t)rng_next();
		/* exponents 2^-30 .. 2^17 mostly, so most cases land in range */
		if (i % 4 != 0)
			bits = (bits & 0x807fffffu) | ((uint32_t)(97 + (rng_next() % 48)) << 23);
		const float f = bits_f32(bits);
		if (isnan(f))
			continue;
		const uint16_t h = ajar_f32_to_f16(f);
		const double a = fabs((double)f);
		const uint32_t mag = h & 0x7fff;
		if ((h >> 15) != (bits >> 31)) {
			bad++;
			continue;
		}
		if (a >= 65520.0) { /* beyond the tie with 2^16 */
			bad += mag != 0x7c00;
			continue;
		}
		if (mag >= 0x7c00) {
			bad++;
			continue;
		}
		const double err = fabs(a - half_value(mag));
		const double up = fabs(a - half_value(mag + 1));
		const double down = mag ? fabs(a - half_value(mag - 1)) : INFINITY;
		if (err > up || err > down)
			bad++;
		else if ((err == up || err == down) && (mag & 1))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
}

static void test_bf16(void)
{
	/* bf16 -> f32 is the top half of the bits; every finite value round trips */
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		const float f = ajar_bf16_to_f32((uint16_t)h);
		if (f32_bits(f) != h << 16)
			bad++;
		const uint16_t back = ajar_f32_to_bf16(f);
		if (isnan(f) ? !isnan(ajar_bf16_to_f32(back)) || (back & 0x8000) != (h & 0x8000) : back != h)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);

	CHECK_EQ_INT(ajar_f32_to_bf16(1.0f), 0x3f80);
	CHECK_EQ_INT(ajar_f32_to_bf16(bits_f32(0x3f808000u)), 0x3f80); /* tie: even */
	CHECK_EQ_INT(ajar_f32_to_bf16(bits_f32(0x3f818000u)), 0x3f82); /* tie: even, up */
	CHECK_EQ_INT(ajar_f32_to_bf16(bits_f32(0x3f808001u)), 0x3f81);
	CHECK_EQ_INT(ajar_f32_to_bf16(bits_f32(0x3f807fffu)), 0x3f80);
	CHECK_EQ_INT(ajar_f32_to_bf16(bits_f32(0xbf818000u)), 0xbf82);
	CHECK_EQ_INT(ajar_f32_to_bf16(INFINITY), 0x7f80);
	CHECK_EQ_INT(ajar_f32_to_bf16(-INFINITY), 0xff80);
	CHECK_EQ_INT(ajar_f32_to_bf16(FLT_MAX), 0x7f80);               /* rounds up to inf */
	CHECK_EQ_INT(ajar_f32_to_bf16(bits_f32(0x7f7f7fffu)), 0x7f7f); /* largest finite stays */
	CHECK_EQ_INT(ajar_f32_to_bf16(bits_f32(0x00018000u)), 0x0002); /* subnormal tie */
	CHECK_EQ_INT(ajar_f32_to_bf16(-0.0f), 0x8000);
	/* NaN: quiet, sign and top payload kept, never rounded into inf */
	CHECK_EQ_INT(ajar_f32_to_bf16(bits_f32(0x7f800001u)), 0x7fc0);
	CHECK_EQ_INT(ajar_f32_to_bf16(bits_f32(0xffffffffu)), 0xffff);
	CHECK_EQ_INT(ajar_f32_to_bf16(bits_f32(0x7f81ffffu)), 0x7fc1);

	/* random: the same rule, written as "look at the dropped half" */
	bad = 0;
	for (int i = 0; i < 1000000; i++) {
		const uint32_t bits = (uint32_t)rng_next();
		if ((bits & 0x7fffffffu) > 0x7f800000u)
			continue;
		const uint32_t hi = bits >> 16, lo = bits & 0xffff;
		const uint32_t want = lo > 0x8000 || (lo == 0x8000 && (hi & 1)) ? hi + 1 : hi;
		if (ajar_f32_to_bf16(bits_f32(bits)) != want)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
}

/* ---- hand-built blocks --------------------------------------------------- */

/* Q4_0 with d = 0xb800 (-0.5) and qs[j] = j | (15 - j) << 4:
 * value j (low nibble j) = (j - 8) * -0.5, value j+16 (high nibble 15 - j) =
 * (7 - j) * -0.5. If nibbles were read as neighbours, value 1 would be the
 * high nibble of qs[0] = 15 -> -3.5 instead of 3.5. */
static void test_dequantize_q4_0_hand(void)
{
	uint8_t blk[18] = { 0x00, 0xb8 };
	float y[32];
	for (int j = 0; j < 16; j++)
		blk[2 + j] = (uint8_t)(j | (15 - j) << 4);
	ajar_dequantize_row(AJAR_TYPE_Q4_0, blk, y, 32);
	for (int j = 0; j < 16; j++) {
		CHECK(y[j] == (float)(8 - j) * 0.5f);
		CHECK(y[j + 16] == (float)(j - 7) * 0.5f);
	}
	CHECK(y[0] == 4.0f && y[1] == 3.5f && y[15] == -3.5f);
	CHECK(y[16] == -3.5f && y[17] == -3.0f && y[31] == 4.0f);

	/* a scale with a full mantissa: 0x3555 = 1365/4096 */
	blk[0] = 0x55, blk[1] = 0x35;
	ajar_dequantize_row(AJAR_TYPE_Q4_0, blk, y, 32);
	CHECK(y[0] == -8 * 0.333251953125f && y[16] == 7 * 0.333251953125f && y[8] == 0.0f);
}

/* Q4_1 with d = 1 (0x3c00), m = -2 (0xc000), qs[j] = j | (15 - j) << 4:
 * value j = j - 2, value j+16 = 13 - j. */
static void test_dequantize_q4_1_hand(void)
{
	uint8_t blk[20] = { 0x00, 0x3c, 0x00, 0xc0 };
	float y[32];
	for (int j = 0; j < 16; j++)
		blk[4 + j] = (uint8_t)(j | (15 - j) << 4);
	ajar_dequantize_row(AJAR_TYPE_Q4_1, blk, y, 32);
	for (int j = 0; j < 16; j++) {
		CHECK(y[j] == (float)(j - 2));
		CHECK(y[j + 16] == (float)(13 - j));
	}
}

/* Q5_0 with d = 2 (0x4000), qh bytes 03 00 01 80 (bits 0, 1, 16, 31 of the
 * little-endian u32), qs[j] = j | j << 4 (both nibbles j). So
 * q[i] = (i & 15) | 16 * bit i: q0 = 16, q1 = 17, q2..15 = i, q16 = 16,
 * q17..30 = i - 16, q31 = 31; y = (q - 16) * 2. Setting bits in both halves
 * and in the top and bottom byte catches a swapped half, byte order, or the
 * wrong shift for the upper half. */
static void test_dequantize_q5_0_hand(void)
{
	static const float want[32] = {
		0,   2,   -28, -26, -24, -22, -20, -18, -16, -14, -12, -10, -8, -6, -4, -2,
		0,   -30, -28, -26, -24, -22, -20, -18, -16, -14, -12, -10, -8, -6, -4, 30,
	};
	uint8_t blk[22] = { 0x00, 0x40, 0x03, 0x00, 0x01, 0x80 };
	float y[32];
	for (int j = 0; j < 16; j++)
		blk[6 + j] = (uint8_t)(j | j << 4);
	ajar_dequantize_row(AJAR_TYPE_Q5_0, blk, y, 32);
	for (int i = 0; i < 32; i++)
		CHECK_MSG(y[i] == want[i], "value %d: %g, want %g", i, (double)y[i], (double)want[i]);
}

/* Q5_1 with d = 0.5 (0x3800), m = 1 (0x3c00), qh bytes 00 80 00 40 (bits 15
 * and 30), qs[j] = 0xf0 (low nibble 0, high 15). q[i] = 0 for i < 15,
 * q15 = 16, q16..29 = 15, q30 = 31, q31 = 15; y = q / 2 + 1. */
static void test_dequantize_q5_1_hand(void)
{
	uint8_t blk[24] = { 0x00, 0x38, 0x00, 0x3c, 0x00, 0x80, 0x00, 0x40 };
	float y[32];
	for (int j = 0; j < 16; j++)
		blk[8 + j] = 0xf0;
	ajar_dequantize_row(AJAR_TYPE_Q5_1, blk, y, 32);
	for (int i = 0; i < 32; i++) {
		const float want = i < 15 ? 1.0f : i == 15 ? 9.0f : i == 30 ? 16.5f : 8.5f;
		CHECK_MSG(y[i] == want, "value %d: %g, want %g", i, (double)y[i], (double)want);
	}
}

/* Q8_0 with d = 0.25 (0x3400), q[i] = 8 i - 128 (i < 31), q31 = 127:
 * y[i] = 2 i - 32, y31 = 31.75. */
static void test_dequantize_q8_0_hand(void)
{
	uint8_t blk[34] = { 0x00, 0x34 };
	float y[32];
	for (int i = 0; i < 31; i++)
		blk[2 + i] = (uint8_t)(int8_t)(8 * i - 128);
	blk[33] = 127;
	ajar_dequantize_row(AJAR_TYPE_Q8_0, blk, y, 32);
	for (int i = 0; i < 31; i++)
		CHECK(y[i] == (float)(2 * i - 32));
	CHECK(y[31] == 31.75f);
}

/* Two blocks in a row: each uses its own d. */
static void test_dequantize_multiblock(void)
{
	uint8_t row[2 * 34] = { 0 };
	float y[64];
	row[0] = 0x00, row[1] = 0x3c;   /* d = 1 */
	row[34] = 0x00, row[35] = 0xc0; /* d = -2 */
	for (int i = 0; i < 32; i++) {
		row[2 + i] = (uint8_t)i;
		row[36 + i] = (uint8_t)i;
	}
	ajar_dequantize_row(AJAR_TYPE_Q8_0, row, y, 64);
	for (int i = 0; i < 32; i++) {
		CHECK(y[i] == (float)i);
		CHECK(y[32 + i] == (float)(-2 * i));
	}
}

static void test_dequantize_plain(void)
{
	const float src[5] = { 1.5f, -0.0f, 65504.0f, 1e-3f, -7.25f };
	uint16_t h[5], b[5];
	float y[5];
	for (int i = 0; i < 5; i++) {
		h[i] = ajar_f32_to_f16(src[i]);
		b[i] = ajar_f32_to_bf16(src[i]);
	}
	ajar_dequantize_row(AJAR_TYPE_F32, src, y, 5);
	CHECK(memcmp(y, src, sizeof(y)) == 0);
	ajar_dequantize_row(AJAR_TYPE_F16, h, y, 5);
	for (int i = 0; i < 5; i++)
		CHECK(f32_bits(y[i]) == f32_bits(ajar_f16_to_f32(h[i])));
	ajar_dequantize_row(AJAR_TYPE_BF16, b, y, 5);
	for (int i = 0; i < 5; i++)
		CHECK(f32_bits(y[i]) == (uint32_t)b[i] << 16);

	uint16_t q[5];
	ajar_quantize_row(AJAR_TYPE_F16, src, q, 5);
	CHECK(memcmp(q, h, sizeof(q)) == 0);
	ajar_quantize_row(AJAR_TYPE_BF16, src, q, 5);
	CHECK(memcmp(q, b, sizeof(q)) == 0);
	float f[5];
	ajar_quantize_row(AJAR_TYPE_F32, src, f, 5);
	CHECK(memcmp(f, src, sizeof(f)) == 0);

	/* empty rows may come with NULL pointers */
	ajar_dequantize_row(AJAR_TYPE_F32, NULL, NULL, 0);
	ajar_quantize_row(AJAR_TYPE_F32, NULL, NULL, 0);
	ajar_quantize_row(AJAR_TYPE_Q4_0, NULL, NULL, 0);
	CHECK(ajar_vec_dot_f32(AJAR_TYPE_Q8_0, NULL, NULL, 0) == 0.0f);
	CHECK(ajar_vec_dot_f32(AJAR_TYPE_F16, NULL, NULL, 0) == 0.0f);
}

/* ---- quantizer outputs, byte for byte ------------------------------------ */

static void check_bytes(const char *what, const uint8_t *got, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK_MSG(got[i] == want[i], "%s: byte %zu is %02x, want %02x", what, i, got[i], want[i]);
}

/*
 * Q4_0, x[i] = (i - 16) / 2: the largest magnitude is x0 = -8, so d = -8 / -8
 * = 1 (f16 00 3c), id = 1 and q[i] = trunc(x[i] + 8.5) = trunc(i/2 + 1/2) =
 * (i + 1) / 2 in integers: the halves -7.5, -6.5, ... round up. q31 = 16 is
 * clamped to 15. qs[j] = q[j] | q[j+16] << 4:
 *   j:   0    1    2    3    4    5    6    7    8    9   10   11   12   13   14   15
 *  lo:   0    1    1    2    2    3    3    4    4    5    5    6    6    7    7    8
 *  hi:   8    9    9   10   10   11   11   12   12   13   13   14   14   15   15   15
 */
static void test_quantize_q4_0_known(void)
{
	static const uint8_t want[18] = {
		0x00, 0x3c, 0x80, 0x91, 0x91, 0xa2, 0xa2, 0xb3, 0xb3,
		0xc4, 0xc4, 0xd5, 0xd5, 0xe6, 0xe6, 0xf7, 0xf7, 0xf8,
	};
	float x[32];
	uint8_t got[18];
	for (int i = 0; i < 32; i++)
		x[i] = (float)(i - 16) * 0.5f;
	ajar_quantize_row(AJAR_TYPE_Q4_0, x, got, 32);
	check_bytes("q4_0 ramp", got, want, sizeof(want));

	/*
	 * Sign of the scale: zeros except x3 = 4 and x20 = -4. The first value of
	 * largest magnitude wins, so max = 4, d = -0.5 (00 b8), id = -2. Zeros give
	 * trunc(8.5) = 8; x3: -8 + 8.5 -> 0; x20: 8 + 8.5 = 16.5 -> 16, clamped
	 * to 15. qs = 88 everywhere but qs3 = 80 (x3 low, x19 high) and qs4 = f8
	 * (x4 low, x20 high). With the signs swapped only d changes (00 38).
	 */
	uint8_t want2[18] = { 0x00, 0xb8 };
	memset(want2 + 2, 0x88, 16);
	want2[2 + 3] = 0x80;
	want2[2 + 4] = 0xf8;
	memset(x, 0, sizeof(x));
	x[3] = 4.0f, x[20] = -4.0f;
	ajar_quantize_row(AJAR_TYPE_Q4_0, x, got, 32);
	check_bytes("q4_0 first max wins", got, want2, sizeof(want2));
	x[3] = -4.0f, x[20] = 4.0f;
	want2[1] = 0x38;
	ajar_quantize_row(AJAR_TYPE_Q4_0, x, got, 32);
	check_bytes("q4_0 negative max", got, want2, sizeof(want2));
}

/*
 * Q4_1: x0 = -1 (min), x1 = 14 (max), so d = 15 / 15 = 1 (00 3c), m = -1
 * (00 bc), id = 1 and q = trunc(x + 1 + 0.5). x2 = 1.5 -> 3 (half rounds up),
 * x3 = 1.25 -> 2, x4 = 0 -> 1, x[i] = i % 15 - 1 for i >= 5 -> q = i % 15.
 * q: 0 15 3 2 1 5 6 7 8 9 10 11 12 13 14 0 | 1 2 3 ... 14 0 1 (i = 16..31)
 */
static void test_quantize_q4_1_known(void)
{
	float x[32];
	uint8_t got[20], want[20] = { 0x00, 0x3c, 0x00, 0xbc };
	int q[32];
	x[0] = -1.0f, x[1] = 14.0f, x[2] = 1.5f, x[3] = 1.25f, x[4] = 0.0f;
	q[0] = 0, q[1] = 15, q[2] = 3, q[3] = 2, q[4] = 1;
	for (int i = 5; i < 32; i++) {
		x[i] = (float)(i % 15 - 1);
		q[i] = i % 15;
	}
	for (int j = 0; j < 16; j++)
		want[4 + j] = (uint8_t)(q[j] | q[j + 16] << 4);
	ajar_quantize_row(AJAR_TYPE_Q4_1, x, got, 32);
	check_bytes("q4_1", got, want, sizeof(want));

	/* a constant block: d = 0, m = the value (3 = 00 42), every q = 0; reads back exactly */
	float y[32];
	for (int i = 0; i < 32; i++)
		x[i] = 3.0f;
	uint8_t want_const[20] = { 0x00, 0x00, 0x00, 0x42 };
	ajar_quantize_row(AJAR_TYPE_Q4_1, x, got, 32);
	check_bytes("q4_1 constant", got, want_const, sizeof(want_const));
	ajar_dequantize_row(AJAR_TYPE_Q4_1, got, y, 32);
	CHECK(y[0] == 3.0f && y[31] == 3.0f);
}

/*
 * Q5_0, x[i] = i - 16: max = x0 = -16, d = 1 (00 3c), q = trunc(x + 16.5) =
 * i (x31 = 15 -> 31.5 -> 31). qs[j] = (j & 15) | ((j + 16) & 15) << 4 =
 * j * 0x11; bit 4 is set for i >= 16: qh = 0xffff0000 -> bytes 00 00 ff ff.
 * With x[i] = 16 - i, max = +16, d = -1 (00 bc), q = trunc(i - 16 + 16.5) = i:
 * the same quants.
 */
static void test_quantize_q5_0_known(void)
{
	float x[32];
	uint8_t got[22], want[22] = { 0x00, 0x3c, 0x00, 0x00, 0xff, 0xff };
	for (int j = 0; j < 16; j++)
		want[6 + j] = (uint8_t)(j * 0x11);
	for (int i = 0; i < 32; i++)
		x[i] = (float)(i - 16);
	ajar_quantize_row(AJAR_TYPE_Q5_0, x, got, 32);
	check_bytes("q5_0", got, want, sizeof(want));

	for (int i = 0; i < 32; i++)
		x[i] = (float)(16 - i);
	want[1] = 0xbc;
	ajar_quantize_row(AJAR_TYPE_Q5_0, x, got, 32);
	check_bytes("q5_0 positive max", got, want, sizeof(want));
}

/*
 * Q5_1, x[i] = i / 2 - 4: min -4 (00 c4), max 11.5, d = 15.5 / 31 = 0.5
 * (00 38), id = 2, q = trunc((x + 4) * 2 + 0.5) = i: the same quant bytes as
 * the Q5_0 case above.
 */
static void test_quantize_q5_1_known(void)
{
	float x[32];
	uint8_t got[24], want[24] = { 0x00, 0x38, 0x00, 0xc4, 0x00, 0x00, 0xff, 0xff };
	for (int j = 0; j < 16; j++)
		want[8 + j] = (uint8_t)(j * 0x11);
	for (int i = 0; i < 32; i++)
		x[i] = (float)i * 0.5f - 4.0f;
	ajar_quantize_row(AJAR_TYPE_Q5_1, x, got, 32);
	check_bytes("q5_1", got, want, sizeof(want));
}

/*
 * Q8_0, amax = 127 (x0 = -127): d = 1 (00 3c), q = roundf(x), which rounds
 * halves away from zero: 2.5 -> 3, -2.5 -> -3, 0.4999 -> 0, 126.5 -> 127,
 * -0.5 -> -1; x[i] = i - 20 for i >= 6.
 */
static void test_quantize_q8_0_known(void)
{
	float x[32];
	uint8_t got[34], want[34] = { 0x00, 0x3c, 0x81, 0x03, 0xfd, 0x00, 0x7f, 0xff };
	x[0] = -127.0f, x[1] = 2.5f, x[2] = -2.5f, x[3] = 0.4999f, x[4] = 126.5f, x[5] = -0.5f;
	for (int i = 6; i < 32; i++) {
		x[i] = (float)(i - 20);
		want[2 + i] = (uint8_t)(int8_t)(i - 20);
	}
	ajar_quantize_row(AJAR_TYPE_Q8_0, x, got, 32);
	check_bytes("q8_0", got, want, sizeof(want));

	/*
	 * q comes from the unrounded d, as in llama.cpp. amax = 1: d = 1/127 =
	 * 0.0078740157 in float, whose f16 is 0x2008 (2^-7 * 1032/1024 =
	 * 0.0078735352); id = 1/d = 127.0 exactly in float. x1 = 100.497f / 127.0f
	 * = 0.79131496: x1 * id = 100.497 -> 100, while 1/f16(d) = 127.0078 would
	 * give 100.503 -> 101. x2 = -1 -> -127.
	 */
	memset(x, 0, sizeof(x));
	x[0] = 1.0f, x[1] = 100.497f / 127.0f, x[2] = -1.0f;
	uint8_t want2[34] = { 0x08, 0x20, 127, 100, 0x81 };
	ajar_quantize_row(AJAR_TYPE_Q8_0, x, got, 32);
	check_bytes("q8_0 unrounded d", got, want2, sizeof(want2));
}

/*
 * All-zero blocks: d = 0, id = 0, so q is what the offset alone gives:
 * Q4_0 trunc(8.5) = 8 (qs 88), Q5_0 trunc(16.5) = 16 (qs 00, every qh bit
 * set), and 0 for the others. Q4_0 and Q5_0 store d = 0 / -8 = -0 (00 80),
 * as llama.cpp does (its max starts at 0.0f and stays so). Blocks of f32 subnormals (~1e-39): d is
 * subnormal, 1/d overflows to inf, and x * id is +-inf or NaN; llama.cpp's
 * cast then gives 0 on x86 (see quants.c), and d rounds to f16 zero, with
 * d's sign: -0 (00 80) for Q4_0/Q5_0 where max > 0, +0 for Q8_0.
 */
static void test_quantize_degenerate_blocks(void)
{
	float zero[32] = { 0 }, tiny[32];
	uint8_t got[34], want[34];

	memset(want, 0, sizeof(want));
	want[1] = 0x80;
	memset(want + 2, 0x88, 16);
	ajar_quantize_row(AJAR_TYPE_Q4_0, zero, got, 32);
	check_bytes("q4_0 zero", got, want, 18);

	memset(want, 0, sizeof(want));
	want[1] = 0x80;
	memset(want + 2, 0xff, 4);
	ajar_quantize_row(AJAR_TYPE_Q5_0, zero, got, 32);
	check_bytes("q5_0 zero", got, want, 22);

	memset(want, 0, sizeof(want));
	ajar_quantize_row(AJAR_TYPE_Q4_1, zero, got, 32);
	check_bytes("q4_1 zero", got, want, 20);
	ajar_quantize_row(AJAR_TYPE_Q5_1, zero, got, 32);
	check_bytes("q5_1 zero", got, want, 24);
	ajar_quantize_row(AJAR_TYPE_Q8_0, zero, got, 32);
	check_bytes("q8_0 zero", got, want, 34);

	for (int i = 0; i < 32; i++)
		tiny[i] = (float)(i % 7) * 1e-39f; /* max 6e-39 > 0, some exact zeros */
	memset(want, 0, sizeof(want));
	want[1] = 0x80;
	ajar_quantize_row(AJAR_TYPE_Q4_0, tiny, got, 32);
	check_bytes("q4_0 tiny", got, want, 18);
	ajar_quantize_row(AJAR_TYPE_Q5_0, tiny, got, 32);
	check_bytes("q5_0 tiny", got, want, 22);
	want[1] = 0x00;
	ajar_quantize_row(AJAR_TYPE_Q8_0, tiny, got, 32);
	check_bytes("q8_0 tiny", got, want, 34);
}

/* ---- quantize -> dequantize error bounds --------------------------------- */

/*
 * Fills n values (whole blocks) in one of several shapes, each block with its
 * own scale; returns a name for messages.
 */
static const char *fill_case(int which, float *x, int n)
{
	for (int i = 0; i < n; i++) {
		const int blk = i / 32;
		const float r = rng_float();
		switch (which) {
		case 0: x[i] = r; break;
		case 1: x[i] = r * 1000.0f * (float)(blk + 1); break;
		case 2: x[i] = r * 1e-5f; break;                   /* d is an f16 subnormal */
		case 3: x[i] = r * 1e-39f; break;                  /* f32 subnormals */
		case 4: x[i] = blk % 2 ? 0.0f : r; break;          /* alternate all-zero blocks */
		case 5: x[i] = i % 32 == 7 ? -50.0f : r; break;    /* negative max */
		case 6: x[i] = i % 32 == 30 ? 50.0f : r * r * r; break; /* outlier, mostly small */
		case 7: x[i] = 2.0f + 0.01f * r; break;            /* far from zero, narrow */
		default: x[i] = r * (float)(1 << (blk % 16)); break;    /* scales 1 .. 2^15 */
		}
	}
	static const char *names[] = { "uniform", "large", "small", "subnormal", "zero blocks",
				       "negative max", "outlier", "offset", "mixed scales" };
	return names[which];
}

#define N_FILL_CASES 9

/* |x - y| allowed for one value of a symmetric type (Q4_0, Q5_0, Q8_0):
 * d = the block's unrounded scale, d16 = the stored one, top = the largest
 * q - offset before clamping (7, 15, 127): values beyond top + 1/2 are
 * clamped. The f16 rounding of d moves a value by |q - offset| * |d - d16|. */
static double bound_symmetric(double x, double d, double d16, int top, double amax)
{
	if (d == 0.0)
		return 0.0;
	const double r = x / d;
	double e = fabs(d) / 2;
	if (r > top + 0.5)
		e = (r - top) * fabs(d);
	return e + (top + 1) * fabs(d - d16) + 1e-6 * amax + FLT_MIN;
}

static void check_roundtrip(enum ajar_type type, const char *name, const float *x, int n)
{
	const struct ajar_type_traits *t = ajar_type_traits(type);
	uint8_t row[64 * 34];
	float y[64 * 32];
	int bad = 0;

	ajar_quantize_row(type, x, row, n);
	ajar_dequantize_row(type, row, y, n);
	for (int b = 0; b < n / 32; b++) {
		const float *xb = x + b * 32;
		const uint8_t *blk = row + b * t->type_size;
		float min = FLT_MAX, max = -FLT_MAX, amax = 0.0f, smax = 0.0f;
		for (int i = 0; i < 32; i++) {
			min = xb[i] < min ? xb[i] : min;
			max = xb[i] > max ? xb[i] : max;
			if (fabsf(xb[i]) > amax) {
				amax = fabsf(xb[i]);
				smax = xb[i];
			}
		}
		uint16_t dbits, mbits;
		memcpy(&dbits, blk, 2);
		memcpy(&mbits, blk + 2, 2);
		const double d16 = ajar_f16_to_f32(dbits), m16 = ajar_f16_to_f32(mbits);
		for (int i = 0; i < 32; i++) {
			const double xi = xb[i], err = fabs(xi - (double)y[b * 32 + i]);
			double bound;
			switch (type) {
			case AJAR_TYPE_Q4_0: bound = bound_symmetric(xi, smax / -8.0, d16, 7, amax); break;
			case AJAR_TYPE_Q5_0: bound = bound_symmetric(xi, smax / -16.0, d16, 15, amax); break;
			case AJAR_TYPE_Q8_0: bound = bound_symmetric(xi, amax / 127.0, d16, 127, amax); break;
			case AJAR_TYPE_Q4_1:
			case AJAR_TYPE_Q5_1: {
				const int levels = type == AJAR_TYPE_Q4_1 ? 15 : 31;
				const double d = ((double)max - min) / levels;
				bound = d / 2 + levels * fabs(d - d16) + fabs(min - m16) +
					1e-6 * (fabs(max) + fabs(min)) + FLT_MIN;
				break;
			}
			default: bound = 0.0; break;
			}
			if (!(err <= bound)) {
				if (bad++ < 5)
					fprintf(stderr, "%s %s: block %d value %d: x %.9g y %.9g err %.3g > %.3g\n",
						t->name, name, b, i, xi, (double)y[b * 32 + i], err, bound);
			}
		}
	}
	CHECK_MSG(bad == 0, "%s %s: %d values beyond the bound", t->name, name, bad);
}

static void test_quantize_roundtrip(void)
{
	static const enum ajar_type types[] = { AJAR_TYPE_Q4_0, AJAR_TYPE_Q4_1, AJAR_TYPE_Q5_0,
						AJAR_TYPE_Q5_1, AJAR_TYPE_Q8_0 };
	float x[64 * 32];
	for (int rep = 0; rep < 20; rep++) {
		for (int c = 0; c < N_FILL_CASES; c++) {
			const int n = 32 * (1 + (rep * 7 + c) % 64);
			const char *name = fill_case(c, x, n);
			for (size_t k = 0; k < NELEM(types); k++)
				check_roundtrip(types[k], name, x, n);
		}
	}
}

/* The typical error also has to be small, not just within the worst case:
 * mean |error| / mean |x| on uniform data, for each type. Limits are a bit
 * above what the scheme gives (step / 4 on average). */
static void test_quantize_mean_error(void)
{
	static const struct {
		enum ajar_type type;
		double limit;
	} cases[] = {
		{ AJAR_TYPE_Q4_0, 0.08 }, { AJAR_TYPE_Q4_1, 0.08 }, { AJAR_TYPE_Q5_0, 0.04 },
		{ AJAR_TYPE_Q5_1, 0.04 }, { AJAR_TYPE_Q8_0, 0.006 }, { AJAR_TYPE_F16, 0.0005 },
		{ AJAR_TYPE_BF16, 0.004 }, { AJAR_TYPE_F32, 0.0 },
	};
	enum { N = 64 * 32 };
	static float x[N], y[N];
	static uint8_t row[N * 4];
	fill_case(0, x, N);
	for (size_t k = 0; k < NELEM(cases); k++) {
		double se = 0.0, sx = 0.0;
		ajar_quantize_row(cases[k].type, x, row, N);
		ajar_dequantize_row(cases[k].type, row, y, N);
		for (int i = 0; i < N; i++) {
			se += fabs((double)x[i] - y[i]);
			sx += fabs((double)x[i]);
		}
		CHECK_MSG(se / sx <= cases[k].limit, "%s: relative mean error %.4g > %.4g",
			  ajar_type_name(cases[k].type), se / sx, cases[k].limit);
	}
}

/* F16 and BF16 rows: each value within half an ulp of its type. */
static void test_quantize_plain_roundtrip(void)
{
	enum { N = 1000 };
	float x[N], y[N];
	uint16_t h[N];
	int bad = 0;
	for (int i = 0; i < N; i++)
		x[i] = rng_float() * (float)(1 << (i % 24)) * 1e-3f;
	ajar_quantize_row(AJAR_TYPE_F16, x, h, N);
	ajar_dequantize_row(AJAR_TYPE_F16, h, y, N);
	for (int i = 0; i < N; i++)
		bad += !(fabs((double)x[i] - y[i]) <= fabs((double)x[i]) * 0x1p-11 + 0x1p-25);
	ajar_quantize_row(AJAR_TYPE_BF16, x, h, N);
	ajar_dequantize_row(AJAR_TYPE_BF16, h, y, N);
	for (int i = 0; i < N; i++)
		bad += !(fabs((double)x[i] - y[i]) <= fabs((double)x[i]) * 0x1p-8);
	CHECK_EQ_INT(bad, 0);
}

/* ---- vec_dot ------------------------------------------------------------- */

/* vec_dot of every type against the dequantized row: equal to a plain
 * sequential float loop (the reference's stated order), and within 1e-5 of
 * the sum of |terms| of the float64 dot product. */
static void test_vec_dot(void)
{
	static const int sizes[] = { 0, 32, 64, 96, 160, 1024, 4096 };
	static const int plain_sizes[] = { 1, 3, 31, 33, 1000 };
	enum { N = 4096 };
	static float w[N], x[N], y[N];
	static uint8_t row[N * 4];

	for (size_t k = 0; k < NELEM(kernel_types); k++) {
		const enum ajar_type type = kernel_types[k];
		const bool plain = ajar_type_traits(type)->block_size == 1;
		for (size_t s = 0; s < NELEM(sizes) + (plain ? NELEM(plain_sizes) : 0); s++) {
			const int n = s < NELEM(sizes) ? sizes[s] : plain_sizes[s - NELEM(sizes)];
			for (int i = 0; i < n; i++) {
				w[i] = rng_float() * 3.0f;
				x[i] = rng_float();
			}
			ajar_quantize_row(type, w, row, n);
			ajar_dequantize_row(type, row, y, n);
			float seq = 0.0f;
			double exact = 0.0, mag = 0.0;
			for (int i = 0; i < n; i++) {
				const float p = y[i] * x[i];
				seq += p;
				exact += (double)y[i] * x[i];
				mag += fabs((double)y[i] * x[i]);
			}
			const float got = ajar_vec_dot_f32(type, row, x, n);
			CHECK_MSG(f32_bits(got) == f32_bits(seq), "%s n=%d: %.9g vs sequential %.9g",
				  ajar_type_name(type), n, (double)got, (double)seq);
			CHECK_MSG(fabs(got - exact) <= 1e-5 * mag + 1e-30, "%s n=%d: %.9g vs %.9g",
				  ajar_type_name(type), n, (double)got, exact);
		}
	}
}

/* A small F32 dot worked by hand: 1*4 + 2*-5 + 0.5*6 = -3. */
static void test_vec_dot_hand(void)
{
	const float a[3] = { 1.0f, 2.0f, 0.5f }, b[3] = { 4.0f, -5.0f, 6.0f };
	CHECK(ajar_vec_dot_f32(AJAR_TYPE_F32, a, b, 3) == -3.0f);
	CHECK(ajar_vec_dot_f32(AJAR_TYPE_F32, a, b, 0) == 0.0f);

	/* Q8_0 block from test_dequantize_q8_0_hand (y[i] = 2i - 32, y31 = 31.75)
	 * dotted with x = e_0 + e_31: -32 + 31.75 = -0.25. */
	uint8_t blk[34] = { 0x00, 0x34 };
	float x[32] = { 0 };
	for (int i = 0; i < 31; i++)
		blk[2 + i] = (uint8_t)(int8_t)(8 * i - 128);
	blk[33] = 127;
	x[0] = 1.0f, x[31] = 1.0f;
	CHECK(ajar_vec_dot_f32(AJAR_TYPE_Q8_0, blk, x, 32) == -0.25f);
}

/* Rows at any byte address: a GGUF file's data can be laid out with any
 * alignment, and the kernels read through memcpy (ASan/UBSan would flag a
 * misaligned load). Results must match those of an aligned copy. */
static void test_unaligned_rows(void)
{
	enum { N = 128 };
	static float x[N], y0[N], y1[N];
	static _Alignas(16) uint8_t a[N * 4 + 8], u[N * 4 + 8];
	fill_case(0, x, N);
	for (size_t k = 0; k < NELEM(kernel_types); k++) {
		const enum ajar_type type = kernel_types[k];
		const size_t bytes = ajar_row_size(type, N);
		for (int off = 1; off < 4; off++) {
			ajar_quantize_row(type, x, a, N);
			ajar_quantize_row(type, x, u + off, N);
			CHECK(memcmp(a, u + off, bytes) == 0);
			ajar_dequantize_row(type, a, y0, N);
			ajar_dequantize_row(type, u + off, y1, N);
			CHECK(memcmp(y0, y1, sizeof(y0)) == 0);
			CHECK(ajar_vec_dot_f32(type, a, x, N) == ajar_vec_dot_f32(type, u + off, x, N));
		}
	}
}

/* The row converter (inline, branch-free) agrees with the scalar reference
 * on all 65536 halves and all 65536 bfloat16s: bit for bit except NaNs,
 * which stay NaN. */
static void test_row_conversion_matches_reference(void)
{
	static uint16_t h[65536];
	static float got[65536];
	for (uint32_t i = 0; i < 65536; i++)
		h[i] = (uint16_t)i;
	for (int t = 0; t < 2; t++) {
		enum ajar_type type = t ? AJAR_TYPE_BF16 : AJAR_TYPE_F16;
		int bad = 0;
		ajar_dequantize_row(type, h, got, 65536);
		for (uint32_t i = 0; i < 65536; i++) {
			float ref = t ? ajar_bf16_to_f32((uint16_t)i) : ajar_f16_to_f32((uint16_t)i);
			if (isnan(ref) ? !isnan(got[i]) : memcmp(&ref, &got[i], sizeof(float)) != 0)
				bad++;
		}
		CHECK_MSG(bad == 0, "%s: %d of 65536 conversions differ", t ? "BF16" : "F16", bad);
	}
}

int main(void)
{
	RUN(test_row_conversion_matches_reference);
	RUN(test_traits);
	RUN(test_row_size);
	RUN(test_f16_exhaustive);
	RUN(test_f16_rounding);
	RUN(test_f16_nearest_random);
	RUN(test_bf16);
	RUN(test_dequantize_q4_0_hand);
	RUN(test_dequantize_q4_1_hand);
	RUN(test_dequantize_q5_0_hand);
	RUN(test_dequantize_q5_1_hand);
	RUN(test_dequantize_q8_0_hand);
	RUN(test_dequantize_multiblock);
	RUN(test_dequantize_plain);
	RUN(test_quantize_q4_0_known);
	RUN(test_quantize_q4_1_known);
	RUN(test_quantize_q5_0_known);
	RUN(test_quantize_q5_1_known);
	RUN(test_quantize_q8_0_known);
	RUN(test_quantize_degenerate_blocks);
	RUN(test_quantize_roundtrip);
	RUN(test_quantize_mean_error);
	RUN(test_quantize_plain_roundtrip);
	RUN(test_vec_dot);
	RUN(test_vec_dot_hand);
	RUN(test_unaligned_rows);
	return check_summary();
}
