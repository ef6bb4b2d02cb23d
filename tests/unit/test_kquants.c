/*
 * Unit tests for the K-quants (Q2_K .. Q6_K), their activation format Q8_K
 * and IQ4_NL: block layouts, hand-built blocks with known values, bytes of
 * the quantizers against llama.cpp, quantization error, the scalar dot
 * products against a float64 reference, and every SIMD level against the
 * scalar one.
 *
 * Hand-built blocks: each test sets a few fields to chosen bytes and states
 * the value they decode to, worked out by hand from the layout tables in
 * src/tensor/kquants_int.h (all arithmetic there is exact in f32).
 *
 * Golden bytes: golden_*[] are the output of llama.cpp's own quantizers
 * (quantize_row_q2_K_ref .. quantize_row_q8_K_ref and quantize_iq4_nl, from
 * ggml-quants.c, linked from a llama.cpp build) for golden_input(); the same
 * comparison on 80,000 random blocks per type, with magnitudes from 1e-44 to
 * 1e35, found no differing byte.
 */
#include "ajar/kernels.h"
#include "ajar/tensor.h"
#include "check.h"
#include "tensor/kquants_int.h"

#include <assert.h>
#include <float.h>
#include <stdbool.h>
#include <stdint.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const enum ajar_type ktypes[] = {
	AJAR_TYPE_Q2_K, AJAR_TYPE_Q3_K, AJAR_TYPE_Q4_K, AJAR_TYPE_Q5_K,
	AJAR_TYPE_Q6_K, AJAR_TYPE_Q8_K, AJAR_TYPE_IQ4_NL,
};

/* The weight types and their dot products with their activation format. */
static const struct {
	enum ajar_type type, act;
	float (*dot)(const void *w, const void *act, int64_t n);
} dots[] = {
	{ AJAR_TYPE_Q2_K, AJAR_TYPE_Q8_K, kquants_vec_dot_q2_K_q8_K },
	{ AJAR_TYPE_Q3_K, AJAR_TYPE_Q8_K, kquants_vec_dot_q3_K_q8_K },
	{ AJAR_TYPE_Q4_K, AJAR_TYPE_Q8_K, kquants_vec_dot_q4_K_q8_K },
	{ AJAR_TYPE_Q5_K, AJAR_TYPE_Q8_K, kquants_vec_dot_q5_K_q8_K },
	{ AJAR_TYPE_Q6_K, AJAR_TYPE_Q8_K, kquants_vec_dot_q6_K_q8_K },
	{ AJAR_TYPE_IQ4_NL, AJAR_TYPE_Q8_0, kquants_vec_dot_iq4_nl_q8_0 },
};

/* xorshift64*: a fixed, portable sequence so failures reproduce. */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

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

/* Roughly normal (sum of four uniforms, variance 4/3). */
static float rng_normal(void)
{
	return rng_float() + rng_float() + rng_float() + rng_float();
}

static void put_f16(uint8_t *p, float f)
{
	const uint16_t h = ajar_f32_to_f16(f);
	memcpy(p, &h, sizeof(h));
}

/* ---- layouts ------------------------------------------------------------- */

static void test_layouts(void)
{
	static const struct {
		enum ajar_type type;
		uint32_t block_size, type_size;
		size_t struct_size;
	} want[] = {
		{ AJAR_TYPE_Q2_K, 256, 84, sizeof(struct block_q2_K) },
		{ AJAR_TYPE_Q3_K, 256, 110, sizeof(struct block_q3_K) },
		{ AJAR_TYPE_Q4_K, 256, 144, sizeof(struct block_q4_K) },
		{ AJAR_TYPE_Q5_K, 256, 176, sizeof(struct block_q5_K) },
		{ AJAR_TYPE_Q6_K, 256, 210, sizeof(struct block_q6_K) },
		{ AJAR_TYPE_Q8_K, 256, 292, sizeof(struct block_q8_K) },
		{ AJAR_TYPE_IQ4_NL, 32, 18, sizeof(struct block_iq4_nl) },
	};
	for (size_t i = 0; i < NELEM(want); i++) {
		const struct ajar_type_traits *t = ajar_type_traits(want[i].type);
		CHECK(t && t->has_kernels);
		CHECK_EQ_INT(t->block_size, want[i].block_size);
		CHECK_EQ_INT(t->type_size, want[i].type_size);
		CHECK_EQ_INT(t->type_size, want[i].struct_size);
	}
	CHECK_EQ_INT(ajar_row_size(AJAR_TYPE_Q4_K, 4096), 16 * 144);
	CHECK_EQ_INT(ajar_row_size(AJAR_TYPE_IQ4_NL, 4096), 128 * 18);
	size_t sz;
	CHECK_EQ_INT(ajar_row_size_checked(AJAR_TYPE_Q6_K, 4096 + 32, &sz), AJAR_ERR_FORMAT);
	/* the IQ4_NL levels, ascending (the quantizer's search needs it) */
	static const int8_t levels[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };
	CHECK(memcmp(iq4nl_values, levels, sizeof(levels)) == 0);
}

/* ---- hand-built blocks ---------------------------------------------------- */

/*
 * Q2_K, d = 2, dmin = 0.25. qs[33] = 0xe4 = 0b11'10'01'00 holds values
 * 128 + 32k + 1 for k = 0..3 (byte 32*h + l, h = 1, l = 1), levels 0, 1, 2, 3:
 *   v129, sub-block 8, scales[8] = 0x21 (s 1, m 2):  2*1*0 - 0.25*2  = -0.5
 *   v161, sub-block 10, scales[10] = 0x03 (s 3, m 0): 2*3*1 - 0      = 6
 *   v193, sub-block 12, scales[12] = 0xf5 (s 5, m 15): 2*5*2 - 3.75  = 16.25
 *   v225, sub-block 14, scales[14] = 0x17 (s 7, m 1): 2*7*3 - 0.25   = 41.75
 * Every other value has level 0, so is -0.25 * m of its sub-block.
 */
static void test_dequantize_q2_K_hand(void)
{
	uint8_t b[84] = { 0 };
	float y[256];
	b[8] = 0x21, b[10] = 0x03, b[12] = 0xf5, b[14] = 0x17;
	b[16 + 33] = 0xe4;
	put_f16(b + 80, 2.0f);
	put_f16(b + 82, 0.25f);
	ajar_dequantize_row(AJAR_TYPE_Q2_K, b, y, 256);
	CHECK(y[129] == -0.5f);
	CHECK(y[161] == 6.0f);
	CHECK(y[193] == 16.25f);
	CHECK(y[225] == 41.75f);
	for (int v = 0; v < 256; v++) {
		if (v == 129 || v == 161 || v == 193 || v == 225)
			continue;
		const int m = b[v / 16] >> 4;
		CHECK_MSG(y[v] == -0.25f * (float)m, "v%d = %g", v, (double)y[v]);
	}
}

/*
 * Q3_K scales: 16 6-bit values in 12 bytes. Bytes chosen:
 *   b[0] = 0x0f: low nibble of s0 = 15 (its high nibble is s8's: 0)
 *   b[1] = 0x10: low nibble of s9 = 1
 *   b[7] = 0x80: low nibble of s15 = 8
 *   b[8] = 0x03: bits 4..5 of s0 = 3 (bits 0..1 of b[8] belong to s0, 2..3
 *                to s4, 4..5 to s8, 6..7 to s12)
 *   b[9] = 0x20: bits 4..5 of s9 = 2 (b[9] bits 4..5: s = 1 + 4*2)
 *   b[11] = 0x80: bits 4..5 of s15 = 2 (b[11] bits 6..7: s = 3 + 4*3)
 * so s0 = 63 -> 31, s9 = 33 -> 1, s15 = 40 -> 8, all others 0 -> -32.
 * d = 0.5; with hmask and qs zero every level is 0 - 4, so x = -2 * scale,
 * except four values set by hand:
 *   v0   (s0):  qs[0] bits 0..1 = 3, hmask[0] bit 0 set: q = 3   0.5*31*3  = 46.5
 *   v16  (s1):  all zero: q = -4                        0.5*-32*-4 = 64
 *   v150 (s9):  h 1, k 0, l 22: qs[54] = 2, hmask[22] bit 4: q = 2  0.5*1*2 = 1
 *   v255 (s15): h 1, k 3, l 31: qs[63] bits 6..7 = 1, hmask[31] bit 7 clear:
 *               q = 1 - 4 = -3                          0.5*8*-3  = -12
 */
static void test_dequantize_q3_K_hand(void)
{
	uint8_t b[110] = { 0 };
	uint8_t *hmask = b, *qs = b + 32, *sc = b + 96;
	float y[256];
	int8_t s[16];
	sc[0] = 0x0f, sc[1] = 0x10, sc[7] = 0x80, sc[8] = 0x03, sc[9] = 0x20, sc[11] = 0x80;
	qs[0] = 0x03, hmask[0] = 0x01;
	qs[54] = 0x02, hmask[22] = 0x10;
	qs[63] = 0x40;
	put_f16(b + 108, 0.5f);

	kquants_scales_q3_K(sc, s);
	for (int i = 0; i < 16; i++)
		CHECK_EQ_INT(s[i], i == 0 ? 31 : i == 9 ? 1 : i == 15 ? 8 : -32);

	ajar_dequantize_row(AJAR_TYPE_Q3_K, b, y, 256);
	CHECK(y[0] == 46.5f);
	CHECK(y[16] == 64.0f);
	CHECK(y[150] == 1.0f);
	CHECK(y[255] == -12.0f);
	for (int v = 0; v < 256; v++) {
		if (v == 0 || v == 150 || v == 255)
			continue;
		CHECK_MSG(y[v] == -2.0f * (float)s[v / 16], "v%d = %g", v, (double)y[v]);
	}
}

/*
 * Q4_K / Q5_K scales: 8 pairs of 6-bit (scale, min) in 12 bytes
 *   b = 81 3f 00 40 c2 00 00 00 a5 00 00 f0
 *   s0: scale b[0] & 63 = 1, min b[4] & 63 = 2
 *   s1: scale b[1] & 63 = 63, min b[5] & 63 = 0
 *   s4: scale (b[8] & 15) | (b[0] >> 6) << 4 = 5 | 2 << 4 = 37,
 *       min (b[8] >> 4) | (b[4] >> 6) << 4 = 10 | 3 << 4 = 58
 *   s7: scale (b[11] & 15) | (b[3] >> 6) << 4 = 0 | 1 << 4 = 16,
 *       min (b[11] >> 4) | (b[7] >> 6) << 4 = 15
 *   the others 0.
 */
static const uint8_t hand_scales_k4[12] = { 0x81, 0x3f, 0x00, 0x40, 0xc2, 0x00, 0x00, 0x00, 0xa5, 0x00, 0x00, 0xf0 };
static const uint8_t hand_scale_k4[8] = { 1, 63, 0, 0, 37, 0, 0, 16 };
static const uint8_t hand_min_k4[8] = { 2, 0, 0, 0, 58, 0, 0, 15 };

/*
 * Q4_K with those scales, d = 0.5, dmin = 0.25. Value 32*s + l is nibble
 * s % 2 of qs[32*(s/2) + l]:
 *   v0   (s0, qs[0] low = 15):    0.5*1*15 - 0.25*2   = 7
 *   v33  (s1, qs[1] high = 2):    0.5*63*2 - 0        = 63
 *   v133 (s4, qs[69] low = 9):    0.5*37*9 - 0.25*58  = 152
 *   v255 (s7, qs[127] high = 15): 0.5*16*15 - 0.25*15 = 116.25
 * All others are level 0: -0.25 * min.
 */
static void test_dequantize_q4_K_hand(void)
{
	uint8_t b[144] = { 0 };
	uint8_t *qs = b + 16;
	float y[256];
	put_f16(b, 0.5f);
	put_f16(b + 2, 0.25f);
	memcpy(b + 4, hand_scales_k4, 12);
	for (int s = 0; s < 8; s++) {
		uint8_t sc, mn;
		kquants_scale_min_k4(s, b + 4, &sc, &mn);
		CHECK_EQ_INT(sc, hand_scale_k4[s]);
		CHECK_EQ_INT(mn, hand_min_k4[s]);
	}
	qs[0] = 0x0f, qs[1] = 0x20, qs[69] = 0x09, qs[127] = 0xf0;
	ajar_dequantize_row(AJAR_TYPE_Q4_K, b, y, 256);
	CHECK(y[0] == 7.0f);
	CHECK(y[33] == 63.0f);
	CHECK(y[133] == 152.0f);
	CHECK(y[255] == 116.25f);
	for (int v = 0; v < 256; v++) {
		if (v == 0 || v == 33 || v == 133 || v == 255)
			continue;
		CHECK_MSG(y[v] == -0.25f * (float)hand_min_k4[v / 32], "v%d = %g", v, (double)y[v]);
	}
}

/*
 * Q5_K: the Q4_K block above plus high bits (value 32*s + l: bit s of qh[l]):
 *   v33  (s1, l 1): qh[1] bit 1 -> q = 2 + 16 = 18:   0.5*63*18 = 567
 *   v255 (s7, l 31): qh[31] bit 7 -> q = 31:          0.5*16*31 - 3.75 = 244.25
 *   v140 (s4, l 12): qh[12] bit 4, low nibble 0 -> q = 16: 0.5*37*16 - 14.5 = 281.5
 *   v0 keeps q = 15 (qh[0] = 0): 7; v133 keeps q = 9: 152.
 */
static void test_dequantize_q5_K_hand(void)
{
	uint8_t b[176] = { 0 };
	uint8_t *qh = b + 16, *qs = b + 48;
	float y[256];
	put_f16(b, 0.5f);
	put_f16(b + 2, 0.25f);
	memcpy(b + 4, hand_scales_k4, 12);
	qs[0] = 0x0f, qs[1] = 0x20, qs[69] = 0x09, qs[127] = 0xf0;
	qh[1] = 0x02, qh[31] = 0x80, qh[12] = 0x10;
	ajar_dequantize_row(AJAR_TYPE_Q5_K, b, y, 256);
	CHECK(y[0] == 7.0f);
	CHECK(y[33] == 567.0f);
	CHECK(y[133] == 152.0f);
	CHECK(y[140] == 281.5f);
	CHECK(y[255] == 244.25f);
	for (int v = 0; v < 256; v++) {
		if (v == 0 || v == 33 || v == 133 || v == 140 || v == 255)
			continue;
		CHECK_MSG(y[v] == -0.25f * (float)hand_min_k4[v / 32], "v%d = %g", v, (double)y[v]);
	}
}

/*
 * Q6_K, d = 0.25, scales: s0 = -3, s5 = 127, s10 = -128, s15 = 1, others 2.
 * Value v = 128h + 32k + l: low 4 bits in ql[64h + 32(k & 1) + l] (low
 * nibble for k < 2, high for k >= 2), top 2 bits in qh[32h + l] bits 2k:
 *   v0   (h0 k0 l0, s0):   ql[0] = 0x0f, qh[0] = 0x03: q 63  0.25*-3*31   = -23.25
 *   v90  (h0 k2 l26, s5):  ql[26] = 0x50: q 5                0.25*127*-27 = -857.25
 *   v170 (h1 k1 l10, s10): ql[106] = 0x0a, qh[42] = 0x08: q 42  0.25*-128*10 = -320
 *   v255 (h1 k3 l31, s15): ql[127] = 0x10, qh[63] = 0x80: q 33  0.25*1*1 = 0.25
 * Every other value is q = 0: 0.25 * s * -32 = -8 s.
 */
static void test_dequantize_q6_K_hand(void)
{
	uint8_t b[210] = { 0 };
	uint8_t *ql = b, *qh = b + 128;
	int8_t *sc = (int8_t *)(b + 192);
	float y[256];
	for (int s = 0; s < 16; s++)
		sc[s] = 2;
	sc[0] = -3, sc[5] = 127, sc[10] = -128, sc[15] = 1;
	ql[0] = 0x0f, qh[0] = 0x03;
	ql[26] = 0x50;
	ql[106] = 0x0a, qh[42] = 0x08;
	ql[127] = 0x10, qh[63] = 0x80;
	put_f16(b + 208, 0.25f);
	ajar_dequantize_row(AJAR_TYPE_Q6_K, b, y, 256);
	CHECK(y[0] == -23.25f);
	CHECK(y[90] == -857.25f);
	CHECK(y[170] == -320.0f);
	CHECK(y[255] == 0.25f);
	for (int v = 0; v < 256; v++) {
		if (v == 0 || v == 90 || v == 170 || v == 255)
			continue;
		CHECK_MSG(y[v] == -8.0f * (float)sc[v / 16], "v%d = %g", v, (double)y[v]);
	}
}

/* Q8_K: f32 d = 0.5, q[i] = i - 128: x = (i - 128) / 2. */
static void test_dequantize_q8_K_hand(void)
{
	uint8_t b[292] = { 0 };
	const float d = 0.5f;
	float y[256];
	memcpy(b, &d, 4);
	for (int i = 0; i < 256; i++)
		b[4 + i] = (uint8_t)i ^ 0x80; /* the byte of i - 128 */
	ajar_dequantize_row(AJAR_TYPE_Q8_K, b, y, 256);
	for (int i = 0; i < 256; i++)
		CHECK(y[i] == 0.5f * (float)(i - 128));
}

/*
 * IQ4_NL, d = 0.5: qs[0] = 0x0f -> v0 = 0.5 * 113 = 56.5, v16 = 0.5 * -127 =
 * -63.5; qs[5] = 0x78 -> v5 = 0.5 * values[8] = 0.5, v21 = 0.5 * values[7] =
 * -5; all other indices 0 -> -63.5. A second block with d = -2 and qs all
 * 0x99 (index 9, level 13) gives -26 everywhere.
 */
static void test_dequantize_iq4_nl_hand(void)
{
	uint8_t b[36] = { 0 };
	float y[64];
	put_f16(b, 0.5f);
	b[2 + 0] = 0x0f, b[2 + 5] = 0x78;
	put_f16(b + 18, -2.0f);
	memset(b + 20, 0x99, 16);
	ajar_dequantize_row(AJAR_TYPE_IQ4_NL, b, y, 64);
	for (int i = 0; i < 32; i++) {
		const float want = i == 0 ? 56.5f : i == 5 ? 0.5f : i == 21 ? -5.0f : -63.5f;
		CHECK_MSG(y[i] == want, "v%d = %g", i, (double)y[i]);
	}
	for (int i = 32; i < 64; i++)
		CHECK(y[i] == -26.0f);
}

/* ---- quantizers: bytes ---------------------------------------------------- */

/* A super-block exercising the quantizers' branches: sub-blocks of several
 * magnitudes, an all-zero one (s2), an all-positive offset one (s5), an
 * all-negative one (s9) and an outlier. Every value is exact in f32. */
static void golden_input(float *x)
{
	for (int i = 0; i < 256; i++) {
		const int h = (int)((uint32_t)(i + 1) * 2654435761u >> 24) - 128; /* -128..127 */
		const int s = i / 16;
		float v = (float)h / 64.0f * (float)(1 + s % 5) / 4.0f;
		if (s == 2)
			v = 0.0f;
		if (s == 5)
			v = v * 0.125f + 3.0f;
		if (s == 9)
			v = -(v < 0 ? -v : v);
		if (i == 200)
			v = 9.5f;
		x[i] = v;
	}
}

/* llama.cpp's bytes for golden_input() (see the top of the file). */
static const uint8_t golden_q2_K[84] = {
	0x31, 0x52, 0x00, 0xa4, 0xd5, 0x04, 0x52, 0x93, 0xb5, 0xf2, 0x31, 0x62,
	0x9f, 0xb4, 0xf6, 0x31, 0xc2, 0xb1, 0x13, 0xc2, 0x60, 0x13, 0xb1, 0x63,
	0xc2, 0xb0, 0x13, 0xf1, 0x60, 0xc2, 0xb1, 0x13, 0xf6, 0xbc, 0x3b, 0xf1,
	0x7f, 0xf6, 0xbc, 0x3b, 0xf1, 0x7c, 0x36, 0xb1, 0x7b, 0xf6, 0xbc, 0x3b,
	0x0a, 0x91, 0x4f, 0xc6, 0x9c, 0x0a, 0x95, 0x4c, 0x3a, 0x91, 0x4f, 0xc5,
	0x5c, 0x0a, 0x91, 0x4f, 0xc7, 0xb2, 0x19, 0xc7, 0x6c, 0x1a, 0xb3, 0x6c,
	0xc7, 0xbd, 0x1a, 0xf7, 0x6c, 0xcb, 0xb2, 0x5d, 0xa8, 0x33, 0xad, 0x30,
};
static const uint8_t golden_q3_K[110] = {
	0x61, 0xb4, 0x49, 0xe1, 0xdc, 0x49, 0xb4, 0x5d, 0x21, 0xfc, 0x49, 0xf4,
	0xdc, 0x61, 0xb4, 0x4d, 0x0b, 0xc9, 0xa2, 0x1b, 0xe0, 0xaa, 0x49, 0xe0,
	0x1b, 0xe1, 0xa2, 0x4b, 0xe0, 0x0b, 0x49, 0xe2, 0x21, 0xe2, 0xf2, 0x40,
	0x51, 0xe1, 0xf3, 0x83, 0x10, 0x22, 0xf2, 0xb3, 0x51, 0x21, 0xe2, 0xc3,
	0xc8, 0x07, 0x42, 0x8d, 0x88, 0xc7, 0x03, 0x4d, 0x88, 0xc7, 0x02, 0x4e,
	0x88, 0xc4, 0x07, 0x42, 0x02, 0x7d, 0x88, 0xc7, 0x06, 0x4e, 0xb9, 0xcb,
	0x03, 0x4e, 0x8d, 0xd4, 0x07, 0x42, 0xb9, 0xc8, 0x5f, 0x26, 0xb5, 0x88,
	0x59, 0xe2, 0xf6, 0x84, 0x5c, 0x2d, 0xf2, 0xbb, 0x58, 0x6f, 0xe6, 0x85,
	0x92, 0x8d, 0xe0, 0x49, 0x09, 0x76, 0x8d, 0xe5, 0x1a, 0xa5, 0x96, 0x69,
	0xbd, 0x2c,
};
static const uint8_t golden_q4_K[144] = {
	0x2a, 0x22, 0xf9, 0x28, 0x4a, 0x14, 0xe0, 0x4f, 0xd6, 0x6b, 0xfb, 0xe5,
	0xc9, 0xaa, 0x0f, 0xf9, 0x78, 0x75, 0x7a, 0x77, 0x74, 0x79, 0x76, 0x7b,
	0x78, 0x74, 0x7a, 0x76, 0x73, 0x78, 0x75, 0x7a, 0x37, 0xe1, 0x7b, 0x15,
	0xbf, 0x59, 0xf2, 0x9d, 0x26, 0xd0, 0x6a, 0x04, 0xae, 0x48, 0xe1, 0x8c,
	0xd2, 0x9a, 0x45, 0xb0, 0x78, 0x33, 0xab, 0x56, 0xc1, 0x89, 0x44, 0xbc,
	0x67, 0xd2, 0x9a, 0x55, 0xee, 0x7e, 0x1e, 0xbe, 0x5e, 0xfe, 0x9e, 0x2e,
	0xde, 0x6e, 0x0e, 0xae, 0x4e, 0xee, 0x8e, 0x1e, 0x8b, 0x56, 0xae, 0x79,
	0xc4, 0x9c, 0x67, 0xb2, 0x8a, 0x55, 0xad, 0x78, 0xc3, 0x9b, 0x66, 0xbe,
	0x76, 0x03, 0xa2, 0x47, 0xe1, 0x84, 0x25, 0xc0, 0x67, 0xf2, 0xa3, 0x36,
	0xd0, 0x75, 0x14, 0xb1, 0x12, 0xb4, 0x53, 0xf1, 0x93, 0x22, 0xd4, 0x63,
	0x0f, 0xa4, 0x42, 0xe1, 0x83, 0x12, 0xc4, 0x53, 0xa1, 0x84, 0x72, 0x90,
	0x83, 0x71, 0x94, 0x72, 0x90, 0x84, 0x72, 0x95, 0x83, 0xa1, 0x84, 0x72,
};
static const uint8_t golden_q5_K[176] = {
	0x01, 0x1e, 0x15, 0x29, 0x4a, 0x14, 0xde, 0x4f, 0xd6, 0x6a, 0xfc, 0xe5,
	0xa8, 0x9a, 0x1f, 0xf9, 0x39, 0x8c, 0x31, 0x98, 0xa4, 0x31, 0x8c, 0x21,
	0x79, 0x8c, 0x31, 0x9c, 0xa4, 0x39, 0x8c, 0x31, 0x8c, 0x86, 0x25, 0x8c,
	0xa7, 0x2d, 0x8e, 0x27, 0x8c, 0xa6, 0x25, 0x8c, 0xa7, 0x8d, 0x8e, 0x27,
	0xe1, 0xea, 0xe5, 0xee, 0xe8, 0xe2, 0xec, 0xe6, 0xe0, 0xe9, 0xe4, 0xed,
	0xe7, 0xe1, 0xeb, 0xe5, 0x7f, 0xc2, 0xf7, 0x2a, 0x7f, 0xa2, 0xf5, 0x2a,
	0x5d, 0xa0, 0xd5, 0x08, 0x5d, 0x80, 0xd3, 0x08, 0xb4, 0x26, 0xab, 0x80,
	0xf2, 0x67, 0x48, 0xcd, 0xa3, 0x14, 0x89, 0x6b, 0xe0, 0xc5, 0x37, 0xac,
	0xce, 0xff, 0x2e, 0x7f, 0xaf, 0xfe, 0x2f, 0x5f, 0xae, 0xdf, 0x0e, 0x5f,
	0x8f, 0xde, 0x0f, 0x3e, 0x17, 0xac, 0x5d, 0xe3, 0x98, 0x29, 0xce, 0x74,
	0x05, 0x9a, 0x4c, 0xe1, 0x86, 0x28, 0xbd, 0x6e, 0xdc, 0x07, 0x54, 0x8f,
	0xd2, 0x09, 0x3a, 0x81, 0xbe, 0xf5, 0x36, 0x6d, 0xb0, 0xeb, 0x18, 0x63,
	0x23, 0x79, 0xa5, 0xf2, 0x27, 0x54, 0xa9, 0xd6, 0x0f, 0x58, 0x85, 0xd2,
	0x07, 0x34, 0x89, 0xb6, 0x42, 0x18, 0xf4, 0x30, 0x17, 0xe3, 0x29, 0xf5,
	0x41, 0x18, 0xf4, 0x3a, 0x06, 0x42, 0x29, 0xf5,
};
static const uint8_t golden_q6_K[210] = {
	0xa8, 0x3e, 0xa8, 0x0e, 0x93, 0x0e, 0xa4, 0x0f, 0x64, 0x0a, 0x65, 0xfa,
	0x60, 0xcb, 0x60, 0xcb, 0x10, 0x08, 0x10, 0x09, 0x11, 0x1a, 0x03, 0x1b,
	0x13, 0x1c, 0x14, 0x0d, 0x15, 0x1d, 0x06, 0x1e, 0x30, 0xc0, 0x40, 0xd0,
	0x50, 0xe0, 0x60, 0xf0, 0x70, 0xf0, 0x80, 0x00, 0x90, 0x10, 0x90, 0x20,
	0x6e, 0xd6, 0x4f, 0xd7, 0x30, 0xc8, 0x31, 0xa9, 0x32, 0x9a, 0x03, 0x9b,
	0x03, 0x8c, 0xf4, 0x6d, 0x22, 0xca, 0x02, 0x4b, 0xe4, 0x1c, 0xb4, 0xfd,
	0x15, 0xde, 0x06, 0x4e, 0xe7, 0x2f, 0xc8, 0x00, 0xa8, 0x3e, 0x99, 0x0e,
	0x94, 0x02, 0x94, 0xf3, 0x6c, 0xfa, 0x6c, 0xfa, 0x50, 0xc6, 0x50, 0xc6,
	0x40, 0xba, 0x3f, 0xaa, 0x20, 0x9a, 0x14, 0x99, 0x04, 0x7e, 0xf3, 0x7e,
	0xe3, 0x6e, 0xd8, 0x5d, 0x19, 0xc0, 0x68, 0xb0, 0x67, 0xff, 0x56, 0x0e,
	0x55, 0xfd, 0xa5, 0xfc, 0xa4, 0x0b, 0x93, 0x4a, 0x02, 0x70, 0xd3, 0x01,
	0xa0, 0xd2, 0x71, 0xa3, 0x02, 0x70, 0xd3, 0x71, 0xa0, 0x02, 0x71, 0xd3,
	0xca, 0x43, 0x05, 0x8e, 0x44, 0xc9, 0x83, 0x04, 0xce, 0x43, 0x09, 0x8e,
	0x44, 0xc9, 0x43, 0x04, 0x29, 0x9e, 0x60, 0xe9, 0x93, 0x24, 0xde, 0x53,
	0x09, 0x9e, 0x24, 0xe9, 0x53, 0x24, 0x9e, 0x60, 0x05, 0x70, 0xd8, 0x05,
	0xac, 0xd5, 0x71, 0xd8, 0x05, 0x6c, 0xd8, 0x31, 0xac, 0x05, 0x71, 0xd8,
	0x06, 0xf3, 0x00, 0xe6, 0x1f, 0xd8, 0xf3, 0x13, 0xe6, 0x1f, 0xfa, 0x0d,
	0x80, 0x19, 0x21, 0xfa, 0xe7, 0x18,
};
static const uint8_t golden_q8_K[292] = {
	0x65, 0x32, 0x99, 0xbd, 0xfe, 0x04, 0xfb, 0x00, 0x05, 0xfd, 0x02, 0xfa,
	0xff, 0x04, 0xfc, 0x01, 0x06, 0xfe, 0x03, 0xfb, 0x00, 0x0a, 0xfa, 0x04,
	0xf3, 0xfd, 0x08, 0xf7, 0x01, 0x0c, 0xfb, 0x05, 0xf5, 0xff, 0x09, 0xf9,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x0c, 0xeb, 0xff, 0x13, 0xf2, 0x07, 0xe6, 0xfa,
	0x0f, 0xee, 0x02, 0x16, 0xf5, 0x0a, 0xe9, 0xfd, 0x16, 0xed, 0x06, 0x20,
	0xf7, 0x10, 0xe7, 0x00, 0x1a, 0xf0, 0x0a, 0xe1, 0xfa, 0x14, 0xea, 0x04,
	0xd9, 0xd8, 0xd8, 0xd7, 0xd8, 0xd8, 0xd7, 0xd8, 0xd9, 0xd8, 0xd8, 0xd7,
	0xd8, 0xd9, 0xd8, 0xd8, 0xf4, 0xfe, 0x08, 0xf8, 0x02, 0x0c, 0xfc, 0x06,
	0xf6, 0x00, 0x0a, 0xf9, 0x04, 0xf3, 0xfd, 0x08, 0xf3, 0x02, 0x11, 0xf8,
	0x08, 0xef, 0xfe, 0x0d, 0xf5, 0x04, 0x13, 0xfb, 0x0a, 0xf1, 0x00, 0x10,
	0xf4, 0x08, 0xe7, 0xfc, 0x10, 0xef, 0x04, 0x18, 0xf7, 0x0b, 0xea, 0xff,
	0x13, 0xf2, 0x07, 0xe5, 0x08, 0x12, 0x17, 0x02, 0x1c, 0x0e, 0x0c, 0x1d,
	0x04, 0x16, 0x14, 0x06, 0x1f, 0x0a, 0x10, 0x1a, 0x00, 0x05, 0xfd, 0x02,
	0xfa, 0xff, 0x04, 0xfc, 0x01, 0x06, 0xfe, 0x03, 0xfa, 0x00, 0x05, 0xfc,
	0x03, 0x0d, 0xfd, 0x07, 0xf6, 0x01, 0x0b, 0xfa, 0x04, 0xf4, 0xfe, 0x08,
	0xf8, 0x02, 0x0c, 0xfc, 0x09, 0xf0, 0xff, 0x0f, 0xf6, 0x05, 0xec, 0xfc,
	0x81, 0xf2, 0x02, 0x11, 0xf8, 0x08, 0xef, 0xfe, 0x12, 0xf1, 0x05, 0x1a,
	0xf8, 0x0d, 0xec, 0x00, 0x15, 0xf4, 0x08, 0xe7, 0xfc, 0x10, 0xef, 0x03,
	0x1e, 0xf5, 0x0e, 0xe5, 0xfe, 0x18, 0xee, 0x08, 0x21, 0xf8, 0x12, 0xe8,
	0x02, 0x1b, 0xf2, 0x0b, 0xfa, 0xff, 0x04, 0xfc, 0x01, 0x06, 0xfe, 0x03,
	0xfb, 0x00, 0x05, 0xfd, 0x02, 0xfa, 0xff, 0x04, 0xfd, 0xff, 0xfa, 0xff,
	0x00, 0x00, 0xdc, 0xff, 0x08, 0x00, 0x80, 0xfd, 0xf7, 0xff, 0x12, 0x00,
	0xd6, 0xff, 0x0d, 0x01, 0x00, 0x00, 0x10, 0x00, 0x5d, 0xff, 0x09, 0x00,
	0x3f, 0x00, 0xfd, 0xff,
};
static const uint8_t golden_iq4_nl[144] = {
	0x05, 0xa0, 0x87, 0xeb, 0x34, 0xb8, 0x0c, 0x66, 0xda, 0x24, 0x97, 0xfb,
	0x45, 0xc9, 0x1c, 0x76, 0xea, 0x34, 0x02, 0xa4, 0xc8, 0x18, 0x78, 0xe8,
	0x38, 0xb8, 0x08, 0x68, 0xd8, 0x28, 0x98, 0xf8, 0x48, 0xc8, 0x18, 0x78,
	0x00, 0xa6, 0x0d, 0x03, 0x0a, 0x0f, 0x05, 0x0c, 0x02, 0x08, 0x0e, 0x04,
	0x0b, 0x01, 0x06, 0x0d, 0x03, 0x09, 0xf8, 0x21, 0xed, 0x79, 0x14, 0xcc,
	0x47, 0xf2, 0x9a, 0x25, 0xdd, 0x68, 0x03, 0xbb, 0x36, 0xee, 0x89, 0x14,
	0x79, 0x24, 0x5c, 0x25, 0x1f, 0x79, 0x03, 0x3d, 0x47, 0x01, 0x6b, 0x24,
	0x2e, 0x68, 0x02, 0x4c, 0x35, 0x1f, 0xce, 0x1f, 0x58, 0x04, 0xba, 0x36,
	0xed, 0x79, 0x15, 0xcb, 0x47, 0xf3, 0x9a, 0x26, 0xec, 0x68, 0x04, 0xbb,
	0xc9, 0xac, 0x99, 0x77, 0x88, 0xa9, 0x77, 0x98, 0x66, 0x88, 0xa0, 0x77,
	0x98, 0x69, 0x87, 0x99, 0x66, 0x88, 0x16, 0x25, 0xa1, 0x8b, 0x64, 0x9f,
	0x88, 0x62, 0x9d, 0x75, 0xa0, 0x8a, 0x63, 0x9e, 0x77, 0xa1, 0x8c, 0x74,
};
static void test_quantize_golden(void)
{
	static const struct {
		enum ajar_type type;
		const uint8_t *bytes;
		size_t size;
	} gold[] = {
		{ AJAR_TYPE_Q2_K, golden_q2_K, sizeof(golden_q2_K) },
		{ AJAR_TYPE_Q3_K, golden_q3_K, sizeof(golden_q3_K) },
		{ AJAR_TYPE_Q4_K, golden_q4_K, sizeof(golden_q4_K) },
		{ AJAR_TYPE_Q5_K, golden_q5_K, sizeof(golden_q5_K) },
		{ AJAR_TYPE_Q6_K, golden_q6_K, sizeof(golden_q6_K) },
		{ AJAR_TYPE_Q8_K, golden_q8_K, sizeof(golden_q8_K) },
		{ AJAR_TYPE_IQ4_NL, golden_iq4_nl, sizeof(golden_iq4_nl) },
	};
	float x[256];
	uint8_t out[512];
	golden_input(x);
	for (size_t k = 0; k < NELEM(gold); k++) {
		CHECK_EQ_INT(ajar_row_size(gold[k].type, 256), gold[k].size);
		memset(out, 0xa5, sizeof(out));
		ajar_quantize_row(gold[k].type, x, out, 256);
		for (size_t i = 0; i < gold[k].size; i++)
			CHECK_MSG(out[i] == gold[k].bytes[i], "%s byte %zu: %02x vs llama.cpp %02x",
				  ajar_type_name(gold[k].type), i, out[i], gold[k].bytes[i]);
		CHECK(out[gold[k].size] == 0xa5); /* nothing written past the row */
	}
	/* the Q8_K activation row is the same bytes */
	kquants_quantize_row_q8_K(x, out, 256);
	CHECK(memcmp(out, golden_q8_K, sizeof(golden_q8_K)) == 0);
}

/*
 * Fields of the golden blocks read back as the layout says. Q8_K: the
 * extreme of golden_input() is the outlier 9.5, so d = 9.5 / -127 (f32,
 * computed as 1 / (-127 / 9.5)), q[200] = -127, and each bsums entry is the
 * sum of its 16 q. Q6_K: the sub-block holding the outlier (s12) gets the
 * extreme scale -128.
 */
static void test_quantize_golden_fields(void)
{
	struct block_q8_K a;
	struct block_q6_K w6;
	memcpy(&a, golden_q8_K, sizeof(a));
	CHECK(a.d == 1.0f / (-127.0f / 9.5f));
	CHECK_EQ_INT(a.qs[200], -127);
	for (int j = 0; j < 16; j++) {
		int sum = 0;
		for (int i = 0; i < 16; i++)
			sum += a.qs[16 * j + i];
		CHECK_EQ_INT(a.bsums[j], sum);
	}
	for (int i = 32; i < 48; i++) /* the zero sub-block */
		CHECK_EQ_INT(a.qs[i], 0);
	memcpy(&w6, golden_q6_K, sizeof(w6));
	CHECK_EQ_INT(w6.scales[12], -128);
	CHECK_EQ_INT(w6.scales[2], 0); /* the zero sub-block */
}

/* All-zero rows: every byte 0 (d = 0, levels 0), except IQ4_NL, whose
 * levels are the one nearest 0: index 8 (level 1), so qs bytes are 0x88. */
static void test_quantize_zero(void)
{
	static float x[512];
	static uint8_t out[2048];
	for (size_t k = 0; k < NELEM(ktypes); k++) {
		const size_t bytes = ajar_row_size(ktypes[k], 512);
		const size_t ts = ajar_type_traits(ktypes[k])->type_size;
		memset(out, 0x5a, sizeof(out));
		ajar_quantize_row(ktypes[k], x, out, 512);
		for (size_t i = 0; i < bytes; i++) {
			const bool iq4_qs = ktypes[k] == AJAR_TYPE_IQ4_NL && i % ts >= 2;
			CHECK_MSG(out[i] == (iq4_qs ? 0x88 : 0), "%s byte %zu = %02x", ajar_type_name(ktypes[k]), i, out[i]);
		}
	}
}

/* ---- quantizers: error -------------------------------------------------- */

/*
 * Round trip on normally distributed data: relative RMS error (error over
 * RMS of the data) at most the limit, which sits ~10% above what the
 * schemes give (measured: Q2_K 0.297, Q3_K 0.151, Q4_K 0.072, Q5_K 0.036,
 * Q6_K 0.018, Q8_K 0.0070, IQ4_NL 0.076), also for the data scaled by 1/32
 * and 32. (Not much further: the f16 super-block scales underflow below
 * ~1e-3 and overflow above ~1e4 for Q2_K, in llama.cpp as here.) With a
 * large negative offset, the types with a min (Q2_K, Q4_K, Q5_K) keep the
 * same error relative to the spread around the mean: the min absorbs the
 * offset. (It is clamped to <= 0, so a positive offset is not absorbed.)
 * Q8_K's error is at most half a step, d / 2, for every value.
 */
static void test_quantize_error(void)
{
	static const struct {
		enum ajar_type type;
		double limit;
	} lim[] = {
		{ AJAR_TYPE_Q2_K, 0.33 }, { AJAR_TYPE_Q3_K, 0.17 }, { AJAR_TYPE_Q4_K, 0.08 },
		{ AJAR_TYPE_Q5_K, 0.04 }, { AJAR_TYPE_Q6_K, 0.02 }, { AJAR_TYPE_Q8_K, 0.008 },
		{ AJAR_TYPE_IQ4_NL, 0.085 },
	};
	enum { N = 256 * 32 };
	static float x[N], y[N];
	static uint8_t q[N * 2];
	static const float scales[] = { 1.0f, 0x1p-5f, 0x1p5f };

	for (size_t si = 0; si < NELEM(scales); si++) {
		for (int i = 0; i < N; i++)
			x[i] = rng_normal() * scales[si];
		for (size_t k = 0; k < NELEM(lim); k++) {
			double se = 0.0, sx = 0.0;
			ajar_quantize_row(lim[k].type, x, q, N);
			ajar_dequantize_row(lim[k].type, q, y, N);
			for (int i = 0; i < N; i++) {
				se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
				sx += (double)x[i] * x[i];
			}
			CHECK_MSG(sqrt(se / sx) <= lim[k].limit, "%s scale %g: rel rms %.4f", ajar_type_name(lim[k].type),
				  (double)scales[si], sqrt(se / sx));
		}
	}

	/* offset data: x = -10 + normal */
	for (int i = 0; i < N; i++)
		x[i] = -10.0f + rng_normal();
	static const enum ajar_type with_min[] = { AJAR_TYPE_Q2_K, AJAR_TYPE_Q4_K, AJAR_TYPE_Q5_K };
	static const double with_min_limit[] = { 0.33, 0.08, 0.04 }; /* of the RMS around the mean */
	for (size_t k = 0; k < NELEM(with_min); k++) {
		double se = 0.0, sv = 0.0;
		ajar_quantize_row(with_min[k], x, q, N);
		ajar_dequantize_row(with_min[k], q, y, N);
		for (int i = 0; i < N; i++) {
			se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
			sv += ((double)x[i] + 10.0) * ((double)x[i] + 10.0);
		}
		CHECK_MSG(sqrt(se / sv) <= with_min_limit[k], "%s offset: %.4f", ajar_type_name(with_min[k]),
			  sqrt(se / sv));
	}

	/* Q8_K: |x - d q| <= |d| / 2 (plus f32 rounding of d * q) */
	for (int i = 0; i < N; i++)
		x[i] = rng_normal() * (float)(1 + i / 256);
	ajar_quantize_row(AJAR_TYPE_Q8_K, x, q, N);
	ajar_dequantize_row(AJAR_TYPE_Q8_K, q, y, N);
	for (int b = 0; b < N / 256; b++) {
		float d;
		memcpy(&d, q + 292 * b, sizeof(d));
		for (int i = 256 * b; i < 256 * (b + 1); i++)
			CHECK(fabsf(y[i] - x[i]) <= fabsf(d) * 0.5f * (1.0f + 1e-5f));
	}
}

/* ---- dot products --------------------------------------------------------- */

/*
 * The part of each dequantized weight that a dot product computes without
 * the min term: for types with a min (Q2_K, Q4_K, Q5_K) the row dequantized
 * with dmin = 0, else the row itself. Lets the tests bound rounding by
 * sum |scale part * a| + |min part * a|.
 */
static void dequantize_scale_part(enum ajar_type type, const uint8_t *row, float *y, int64_t n)
{
	static uint8_t tmp[4096 / 256 * 176 + 64];
	const size_t ts = ajar_type_traits(type)->type_size;
	const size_t dmin_off = type == AJAR_TYPE_Q2_K ? 82 : 2;
	const size_t bytes = ajar_row_size(type, n);
	if (type != AJAR_TYPE_Q2_K && type != AJAR_TYPE_Q4_K && type != AJAR_TYPE_Q5_K) {
		ajar_dequantize_row(type, row, y, n);
		return;
	}
	assert(bytes <= sizeof(tmp));
	memcpy(tmp, row, bytes);
	for (size_t b = 0; b < bytes / ts; b++)
		memset(tmp + b * ts + dmin_off, 0, 2);
	ajar_dequantize_row(type, tmp, y, n);
}

/*
 * Scalar dot products against float64: sum over i of w[i] * a[i], where w
 * and a are the dequantized weight and activation rows. The kernel's
 * integer sums are exact; what differs is f32 rounding of the per-block
 * scale products and of the block sums, and of the dequantized values
 * themselves, so the tolerance is 1e-6 (~17 ulp) of sum |terms| with each
 * weight split into its scale part and min part.
 */
static void test_vec_dot_reference(void)
{
	enum { N = 4096 };
	static float w[N], x[N], wq[N], aq[N], ws[N];
	static uint8_t row[N], act[N * 2];
	static const int sizes[] = { 256, 512, 4096 };

	for (size_t k = 0; k < NELEM(dots); k++) {
		for (size_t s = 0; s < NELEM(sizes); s++) {
			for (int rep = 0; rep < 4; rep++) {
				const int n = sizes[s];
				for (int i = 0; i < n; i++) {
					w[i] = rng_normal() * (rep == 3 ? 1e-3f : 1.0f) + (rep == 2 ? 0.5f : 0.0f);
					x[i] = rng_normal() * (float)(1 + (i / 256) % 3);
				}
				ajar_quantize_row(dots[k].type, w, row, n);
				ajar_quantize_row(dots[k].act, x, act, n);
				ajar_dequantize_row(dots[k].type, row, wq, n);
				ajar_dequantize_row(dots[k].act, act, aq, n);
				dequantize_scale_part(dots[k].type, row, ws, n);
				double exact = 0.0, mag = 0.0;
				for (int i = 0; i < n; i++) {
					exact += (double)wq[i] * aq[i];
					mag += fabs((double)ws[i] * aq[i]) + fabs(((double)ws[i] - wq[i]) * aq[i]);
				}
				const float got = dots[k].dot(row, act, n);
				CHECK_MSG(fabs(got - exact) <= 1e-6 * mag, "%s n=%d rep %d: %.9g vs %.9g (mag %g)",
					  ajar_type_name(dots[k].type), n, rep, (double)got, exact, mag);
			}
		}
	}
}

/*
 * One Q4_K block by hand against a Q8_K activation: the hand block of
 * test_dequantize_q4_K_hand (values 7, 63, 152, 116.25 at 0, 33, 133, 255,
 * -0.25 * min elsewhere) with activations a = d_a * q, d_a = 0.5, q = 1
 * everywhere except q[33] = -2 and q[255] = 4. The integer parts:
 *   scale term: s0: 1 * 15 (v0), s1: 63 * 2 * -2 (v33), s4: 37 * 9 (v133),
 *               s7: 16 * 15 * 4 (v255): 15 - 252 + 333 + 960 = 1056
 *   min term: per sub-block min * sum(q): s0: 2 * 32, s4: 58 * 32,
 *             s7: 15 * (31 + 4) = 525: 64 + 1856 + 525 = 2445
 * dot = 0.5 * 0.5 * 1056 - 0.25 * 0.5 * 2445 = 264 - 305.625 = -41.625.
 */
static void test_vec_dot_hand(void)
{
	uint8_t w[144] = { 0 };
	struct block_q8_K a;
	put_f16(w, 0.5f);
	put_f16(w + 2, 0.25f);
	memcpy(w + 4, hand_scales_k4, 12);
	w[16 + 0] = 0x0f, w[16 + 1] = 0x20, w[16 + 69] = 0x09, w[16 + 127] = 0xf0;
	a.d = 0.5f;
	for (int i = 0; i < 256; i++)
		a.qs[i] = 1;
	a.qs[33] = -2, a.qs[255] = 4;
	for (int j = 0; j < 16; j++) {
		int sum = 0;
		for (int i = 0; i < 16; i++)
			sum += a.qs[16 * j + i];
		a.bsums[j] = (int16_t)sum;
	}
	CHECK(kquants_vec_dot_q4_K_q8_K(w, &a, 256) == -41.625f);

	/* the same through a float dot of the dequantized rows, exactly */
	float wf[256], af[256];
	double sum = 0.0;
	ajar_dequantize_row(AJAR_TYPE_Q4_K, w, wf, 256);
	ajar_dequantize_row(AJAR_TYPE_Q8_K, &a, af, 256);
	for (int i = 0; i < 256; i++)
		sum += (double)wf[i] * af[i];
	CHECK(sum == -41.625);
}

/* ---- unaligned rows ------------------------------------------------------- */

/* Rows at any byte address give the same bytes, values and dots. */
static void test_unaligned_rows(void)
{
	enum { N = 512 };
	static float x[N], y0[N], y1[N], xa[N];
	static _Alignas(64) uint8_t a[N * 2 + 64], u[N * 2 + 64], act[N * 2 + 64], actu[N * 2 + 64];
	for (int i = 0; i < N; i++) {
		x[i] = rng_normal();
		xa[i] = rng_normal();
	}
	for (size_t k = 0; k < NELEM(ktypes); k++) {
		const enum ajar_type type = ktypes[k];
		const size_t bytes = ajar_row_size(type, N);
		for (int off = 1; off < 8; off += 3) {
			ajar_quantize_row(type, x, a, N);
			ajar_quantize_row(type, x, u + off, N);
			CHECK(memcmp(a, u + off, bytes) == 0);
			ajar_dequantize_row(type, a, y0, N);
			ajar_dequantize_row(type, u + off, y1, N);
			CHECK(memcmp(y0, y1, sizeof(y0)) == 0);
			CHECK(ajar_vec_dot_f32(type, a, xa, N) == ajar_vec_dot_f32(type, u + off, xa, N));
		}
	}
	for (size_t k = 0; k < NELEM(dots); k++) {
		const size_t abytes = ajar_row_size(dots[k].act, N);
		ajar_quantize_row(dots[k].type, x, a, N);
		ajar_quantize_row(dots[k].act, xa, act, N);
		const float want = dots[k].dot(a, act, N);
		for (int off = 1; off < 8; off += 2) {
			memcpy(u + off, a, ajar_row_size(dots[k].type, N));
			memcpy(actu + 8 - off, act, abytes);
			CHECK(dots[k].dot(u + off, actu + 8 - off, N) == want);
		}
	}
}

/* ajar_vec_dot_f32 on K rows is the plain f32 loop over the dequantized row,
 * bit for bit (its definition for every type). */
static void test_vec_dot_f32_rows(void)
{
	enum { N = 1024 };
	static float w[N], x[N], y[N];
	static uint8_t row[N * 2];
	for (int i = 0; i < N; i++) {
		w[i] = rng_normal();
		x[i] = rng_normal();
	}
	for (size_t k = 0; k < NELEM(ktypes); k++) {
		ajar_quantize_row(ktypes[k], w, row, N);
		ajar_dequantize_row(ktypes[k], row, y, N);
		float seq = 0.0f;
		for (int i = 0; i < N; i++) {
			const float p = y[i] * x[i];
			seq += p;
		}
		CHECK(ajar_vec_dot_f32(ktypes[k], row, x, N) == seq);
	}
}

/* ---- each SIMD kernel directly ------------------------------------------- */

typedef void (*gemm_kernel)(KQUANTS_GEMM_ARGS);

static const struct simd_kernel {
	const char *name;
	enum ajar_cpu_level level;
	enum ajar_type type;
	gemm_kernel gemm;
} simd_kernels[] = {
	{ "q2_K_avx2", AJAR_CPU_AVX2, AJAR_TYPE_Q2_K, kquants_gemm_q2_K_avx2 },
	{ "q3_K_avx2", AJAR_CPU_AVX2, AJAR_TYPE_Q3_K, kquants_gemm_q3_K_avx2 },
	{ "q4_K_avx2", AJAR_CPU_AVX2, AJAR_TYPE_Q4_K, kquants_gemm_q4_K_avx2 },
	{ "q5_K_avx2", AJAR_CPU_AVX2, AJAR_TYPE_Q5_K, kquants_gemm_q5_K_avx2 },
	{ "q6_K_avx2", AJAR_CPU_AVX2, AJAR_TYPE_Q6_K, kquants_gemm_q6_K_avx2 },
	{ "iq4_nl_avx2", AJAR_CPU_AVX2, AJAR_TYPE_IQ4_NL, kquants_gemm_iq4_nl_avx2 },
	{ "q4_K_avx512", AJAR_CPU_AVX512, AJAR_TYPE_Q4_K, kquants_gemm_q4_K_avx512 },
	{ "q5_K_avx512", AJAR_CPU_AVX512, AJAR_TYPE_Q5_K, kquants_gemm_q5_K_avx512 },
	{ "q6_K_avx512", AJAR_CPU_AVX512, AJAR_TYPE_Q6_K, kquants_gemm_q6_K_avx512 },
};

static const struct {
	const char *name;
	enum ajar_cpu_level level;
	void (*quantize)(const float *x, void *out, int64_t n);
} simd_act[] = {
	{ "q8_K_avx2", AJAR_CPU_AVX2, kquants_act_q8_K_avx2 },
	{ "q8_K_avx512", AJAR_CPU_AVX512, kquants_act_q8_K_avx512 },
};

static float scalar_dot(enum ajar_type type, const void *w, const void *act, int64_t n)
{
	for (size_t k = 0; k < NELEM(dots); k++)
		if (dots[k].type == type)
			return dots[k].dot(w, act, n);
	assert(0);
	return 0.0f;
}

/*
 * Activation quantizers: the same bytes as the scalar reference on ordinary
 * data, on ties (x * iscale exactly halfway, which must round to even as
 * nearest_int does), on blocks with +max and -max (the first one sets the
 * sign), on zero blocks, and on blocks with inf, NaN or a tiny maximum
 * (which take the scalar path).
 */
static void test_simd_act_q8_K(void)
{
	enum { N = 256 * 12 };
	static float x[N];
	static uint8_t want[N / 256 * 292], got[N / 256 * 292 + 1];
	for (size_t k = 0; k < NELEM(simd_act); k++) {
		if (ajar_cpu_level_max() < simd_act[k].level) {
			printf("note: %s not tested (CPU lacks %s)\n", simd_act[k].name,
			       ajar_cpu_level_name(simd_act[k].level));
			continue;
		}
		for (int rep = 0; rep < 20; rep++) {
			for (int i = 0; i < N; i++)
				x[i] = rng_normal() * (float)(1 + rep);
			/* block 1: ties. max 127 -> iscale -1, x + 0.5 halfway */
			for (int i = 256; i < 512; i++)
				x[i] = (float)((i % 64) - 32) + 0.5f;
			x[300] = 127.0f;
			/* block 2: +max and -max; block 3: -max first */
			x[512 + 10] = 50.0f, x[512 + 20] = -50.0f;
			x[768 + 10] = -50.0f, x[768 + 20] = 50.0f;
			memset(x + 1024, 0, 256 * sizeof(float));        /* block 4: zeros */
			x[1280 + 7] = INFINITY;                           /* block 5: inf */
			x[1536 + 9] = NAN;                                /* block 6: NaN */
			for (int i = 1792; i < 2048; i++)                 /* block 7: tiny */
				x[i] = (float)(i % 5) * 1e-39f;
			for (int i = 2048; i < 2304; i++)                 /* block 8: huge */
				x[i] = rng_normal() * 1e37f;
			kquants_quantize_row_q8_K(x, want, N);
			got[sizeof(want)] = 0x5a;
			simd_act[k].quantize(x, got, N);
			CHECK_MSG(memcmp(want, got, sizeof(want)) == 0, "%s rep %d", simd_act[k].name, rep);
			CHECK(got[sizeof(want)] == 0x5a);
		}
	}
}

/*
 * Gemm kernels against the scalar dot product, for every tile shape and
 * remainder: rows [r0, r1) of up to 11 rows, up to 9 tokens, odd strides,
 * outputs outside [r0, r1) untouched. Tolerance 1e-6 of sum |terms| as in
 * test_vec_dot_reference.
 */
static void test_simd_gemm(void)
{
	enum { N = 768, ROWS = 11, TOK = 9 };
	static float w[ROWS * N], x[TOK * N], wq[N], ws[N], aq[N], y[TOK * ROWS];
	static uint8_t wrows[ROWS * (N + 8)], acts[TOK * (N * 2 + 8)];
	for (size_t k = 0; k < NELEM(simd_kernels); k++) {
		const struct simd_kernel *kn = &simd_kernels[k];
		if (ajar_cpu_level_max() < kn->level) {
			printf("note: %s not tested (CPU lacks %s)\n", kn->name, ajar_cpu_level_name(kn->level));
			continue;
		}
		const enum ajar_type at = ajar_act_type(kn->type);
		const size_t wrow = ajar_row_size(kn->type, N) + 3, arow = ajar_row_size(at, N) + 1;
		for (int i = 0; i < ROWS * N; i++)
			w[i] = rng_normal() * (i / N == 3 ? 30.0f : 1.0f) + (i / N == 4 ? -2.0f : 0.0f);
		for (int i = 0; i < TOK * N; i++)
			x[i] = rng_normal() * (i / N == 1 ? 100.0f : 1.0f);
		for (int r = 0; r < ROWS; r++)
			ajar_quantize_row(kn->type, w + r * N, wrows + r * wrow, N);
		for (int t = 0; t < TOK; t++)
			ajar_quantize_row(at, x + t * N, acts + t * arow, N);
		for (int r0 = 0; r0 < 3; r0++) {
			for (int r1 = r0 + 1; r1 <= ROWS; r1 += 1 + r0) {
				for (int nt = 1; nt <= TOK; nt += 1 + (r1 % 3)) {
					for (int i = 0; i < TOK * ROWS; i++)
						y[i] = NAN;
					kn->gemm(wrows, wrow, N, r0, r1, acts, arow, nt, y, ROWS);
					for (int t = 0; t < TOK; t++) {
						ajar_dequantize_row(at, acts + t * arow, aq, N);
						for (int r = 0; r < ROWS; r++) {
							const float got = y[t * ROWS + r];
							if (t >= nt || r < r0 || r >= r1) {
								CHECK_MSG(isnan(got), "%s wrote row %d token %d", kn->name, r, t);
								continue;
							}
							const uint8_t *row = wrows + r * wrow;
							const float want = scalar_dot(kn->type, row, acts + t * arow, N);
							double mag = 0.0;
							ajar_dequantize_row(kn->type, row, wq, N);
							dequantize_scale_part(kn->type, row, ws, N);
							for (int i = 0; i < N; i++)
								mag += fabs((double)ws[i] * aq[i]) +
								       fabs(((double)ws[i] - wq[i]) * aq[i]);
							CHECK_MSG(fabs((double)got - want) <= 1e-6 * mag,
								  "%s [%d,%d) x %d: row %d token %d: %.9g vs scalar %.9g (mag %g)",
								  kn->name, r0, r1, nt, r, t, (double)got, (double)want, mag);
						}
					}
				}
			}
		}
	}
}

/* ---- kernel dispatch: every level against the scalar reference ------------ */

/*
 * Through include/ajar/kernels.h, at every level this CPU has (others are
 * skipped, with a note): the K types and IQ4_NL are supported; the Q8_K
 * activation row is byte-identical to the scalar reference (every level
 * rounds exactly as llama.cpp's quantize_row_q8_K_ref); and ajar_gemm over
 * several rows and tokens, at unaligned row strides, equals the scalar
 * vec_dot within 1e-6 of sum |terms| (as test_vec_dot_reference: both
 * compute the same exact integer block sums; the f32 sums of block terms
 * run in a different order).
 */
static void test_levels(void)
{
	enum { N = 1024, ROWS = 13, TOK = 7 };
	static float w[ROWS * N], x[TOK * N], wq[N], ws[N], aq[N], y[TOK * ROWS];
	static uint8_t wrows[ROWS * (N + 8)], acts[TOK * (N * 2 + 8)], act_ref[N * 2];
	const enum ajar_cpu_level max = ajar_cpu_level_max();
	const enum ajar_cpu_level saved = ajar_cpu_level();

	for (int i = 0; i < ROWS * N; i++)
		w[i] = rng_normal() * (i % 3 == 0 ? 0.02f : 1.0f) + (i / N == 5 ? -3.0f : 0.0f);
	for (int i = 0; i < TOK * N; i++)
		x[i] = rng_normal() * (i / N == 2 ? 1e-3f : 1.0f);
	if (max < AJAR_CPU_AVX512)
		printf("note: CPU lacks %s; that level is not tested here\n", ajar_cpu_level_name(AJAR_CPU_AVX512));
	if (max < AJAR_CPU_AVX2)
		printf("note: CPU lacks avx2; that level is not tested here\n");

	for (int lv = AJAR_CPU_SCALAR; lv <= (int)max; lv++) {
		CHECK_OK(ajar_cpu_level_set((enum ajar_cpu_level)lv));
		for (size_t k = 0; k < NELEM(dots); k++) {
			const enum ajar_type wt = dots[k].type, at = dots[k].act;
			const size_t wrow = ajar_row_size(wt, N) + 5, arow = ajar_row_size(at, N) + 3; /* odd strides */
			CHECK_MSG(ajar_gemm_supports(wt), "%s at %s", ajar_type_name(wt), ajar_cpu_level_name(lv));
			if (!ajar_gemm_supports(wt))
				continue;
			CHECK_EQ_INT(ajar_act_type(wt), at);
			for (int r = 0; r < ROWS; r++)
				ajar_quantize_row(wt, w + r * N, wrows + r * wrow, N);
			for (int t = 0; t < TOK; t++) {
				ajar_act_quantize(at, x + t * N, acts + t * arow, N);
				ajar_quantize_row(at, x + t * N, act_ref, N);
				CHECK_MSG(memcmp(acts + t * arow, act_ref, ajar_row_size(at, N)) == 0,
					  "%s activations at %s, token %d", ajar_type_name(at), ajar_cpu_level_name(lv), t);
			}
			for (int i = 0; i < TOK * ROWS; i++)
				y[i] = NAN;
			/* rows 1 .. ROWS-1 only: row 0 must stay untouched */
			ajar_gemm(wt, wrows, wrow, N, 1, ROWS, acts, arow, TOK, y, ROWS);
			for (int t = 0; t < TOK; t++) {
				ajar_dequantize_row(at, acts + t * arow, aq, N);
				CHECK(isnan(y[t * ROWS]));
				for (int r = 1; r < ROWS; r++) {
					const uint8_t *row = wrows + r * wrow;
					const float want = dots[k].dot(row, acts + t * arow, N);
					double mag = 0.0;
					ajar_dequantize_row(wt, row, wq, N);
					dequantize_scale_part(wt, row, ws, N);
					for (int i = 0; i < N; i++)
						mag += fabs((double)ws[i] * aq[i]) + fabs(((double)ws[i] - wq[i]) * aq[i]);
					CHECK_MSG(fabs((double)y[t * ROWS + r] - want) <= 1e-6 * mag,
						  "%s at %s, row %d token %d: %.9g vs scalar %.9g", ajar_type_name(wt),
						  ajar_cpu_level_name(lv), r, t, (double)y[t * ROWS + r], (double)want);
					const float one = ajar_vec_dot(wt, row, acts + t * arow, N);
					CHECK_MSG(fabs((double)one - want) <= 1e-6 * mag, "%s ajar_vec_dot at %s",
						  ajar_type_name(wt), ajar_cpu_level_name(lv));
				}
			}
		}
	}
	CHECK_OK(ajar_cpu_level_set(saved));
}

int main(void)
{
	RUN(test_layouts);
	RUN(test_dequantize_q2_K_hand);
	RUN(test_dequantize_q3_K_hand);
	RUN(test_dequantize_q4_K_hand);
	RUN(test_dequantize_q5_K_hand);
	RUN(test_dequantize_q6_K_hand);
	RUN(test_dequantize_q8_K_hand);
	RUN(test_dequantize_iq4_nl_hand);
	RUN(test_quantize_golden);
	RUN(test_quantize_golden_fields);
	RUN(test_quantize_zero);
	RUN(test_quantize_error);
	RUN(test_vec_dot_reference);
	RUN(test_vec_dot_hand);
	RUN(test_unaligned_rows);
	RUN(test_vec_dot_f32_rows);
	RUN(test_simd_act_q8_K);
	RUN(test_simd_gemm);
	RUN(test_levels);
	return check_summary();
}
