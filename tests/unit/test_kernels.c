/*
 * Unit tests for the matrix-product kernels (include/ajar/kernels.h): the
 * activation quantizers, the scalar reference dot products, and every SIMD
 * level the CPU has against the scalar level. Levels the CPU lacks are
 * skipped with a note.
 *
 * Tolerances, with u = 2^-24 (f32 unit roundoff) and, for an output, A the
 * sum of the absolute values of what is added up (|w_k * x_k| over the row
 * for plain types; |d_w d_a sumi_b| + |m_w s_a| over the blocks for quantized
 * ones, computed in double from the decoded blocks):
 *   - activation quantizers at every level equal the scalar level byte for
 *     byte (finite inputs);
 *   - scalar quantized dot vs the exact dot of the decoded blocks: the block
 *     sums are exact, each block adds at most 3 roundings and the row sum of
 *     nb terms at most nb, so |err| <= (nb + 4) u A (TOL_QUANT_REF);
 *   - scalar plain dot vs exact: sequential sum, |err| <= (n + 1) u A;
 *   - SIMD quantized gemm vs scalar: the same integer sums and block scale
 *     products, summed in another order: |diff| <= 2 (nb + 4) u A;
 *   - SIMD plain gemm vs exact: each lane sums at most n/8 products and the
 *     lanes and accumulators are added in a tree: |err| <= (n/8 + 64) u A;
 *   - scalar quantized dot vs the float-activation dot ajar_vec_dot_f32: the
 *     activation quantization error, |x - x'| <= d/2 + 127 r(d) per value
 *     (half a step, plus 127 times the f16 rounding r(d) of d = max|x|/127,
 *     r(v) = max(2^-11 v, 2^-25)), times sum |w| per block, plus for
 *     Q4_1/Q5_1 |m| (r(s) + |sum q| r(d)) for the f16 rounding in s, plus the
 *     float rounding of both sides.
 * Rows are placed at odd and 2-byte offsets and activation rows an odd
 * number of bytes apart, as in GGUF files; outputs outside [r0, r1) must stay
 * untouched.
 */
#include "ajar/kernels.h"
#include "ajar/tensor.h"
#include "check.h"

#include <assert.h>
#include "tensor/kernels_int.h"
#include "tensor/quants_int.h"

#include <stdint.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define U 0x1p-24

static const enum ajar_type weight_types[] = {
	AJAR_TYPE_F32, AJAR_TYPE_F16, AJAR_TYPE_BF16, AJAR_TYPE_Q4_0,
	AJAR_TYPE_Q4_1, AJAR_TYPE_Q5_0, AJAR_TYPE_Q5_1, AJAR_TYPE_Q8_0,
};

static const int64_t test_ns[] = { 32, 64, 256, 4096 + 32, 11008 };
static const int64_t test_ntoks[] = { 1, 2, 3, 4, 5, 7, 8, 16, 33 };

/* xorshift64*: a fixed sequence so failures reproduce. */
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

/* n values like activations: mostly small, a few outliers, blocks of varied
 * scale (including an all-zero block and one of tiny values now and then). */
static void fill_values(float *x, int64_t n)
{
	for (int64_t b = 0; b < n; b += 32) {
		const uint64_t kind = rng_next() % 16;
		const float scale = kind == 0 ? 0.0f : kind == 1 ? 1e-6f : (float)(1 + rng_next() % 8);
		for (int64_t i = b; i < b + 32 && i < n; i++) {
			float v = rng_float() * scale;
			if (rng_next() % 64 == 0)
				v *= 10.0f;
			x[i] = v;
		}
	}
}

/* ---- decoding blocks in the test, independently of the kernels ----------- */

/* A weight block: value k = d * q[k] + m. An activation block: d * q[k],
 * with s (Q8_1 only). */
struct decoded {
	double d, m, s;
	int q[32];
};

static double f16(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return ajar_f16_to_f32(h);
}

static void decode_nibbles(const uint8_t *qs, const uint8_t *qh, int offset, int *q)
{
	uint32_t h = 0;
	if (qh)
		memcpy(&h, qh, 4);
	for (int j = 0; j < 16; j++) {
		q[j] = (qs[j] & 15) + (int)((h >> j) & 1) * 16 - offset;
		q[j + 16] = (qs[j] >> 4) + (int)((h >> (j + 16)) & 1) * 16 - offset;
	}
}

static size_t decode_weight_block(enum ajar_type t, const uint8_t *p, struct decoded *b)
{
	b->m = 0;
	b->d = f16(p);
	switch (t) {
	case AJAR_TYPE_Q4_0:
		decode_nibbles(p + 2, NULL, 8, b->q);
		return 18;
	case AJAR_TYPE_Q4_1:
		b->m = f16(p + 2);
		decode_nibbles(p + 4, NULL, 0, b->q);
		return 20;
	case AJAR_TYPE_Q5_0:
		decode_nibbles(p + 6, p + 2, 16, b->q);
		return 22;
	case AJAR_TYPE_Q5_1:
		b->m = f16(p + 2);
		decode_nibbles(p + 8, p + 4, 0, b->q);
		return 24;
	case AJAR_TYPE_Q8_0:
		for (int j = 0; j < 32; j++)
			b->q[j] = (int8_t)p[2 + j];
		return 34;
	default:
		assert(0);
		return 0;
	}
}

static size_t decode_act_block(enum ajar_type at, const uint8_t *p, struct decoded *b)
{
	const size_t off = at == AJAR_TYPE_Q8_1 ? 4 : 2;
	b->d = f16(p);
	b->s = at == AJAR_TYPE_Q8_1 ? f16(p + 2) : 0;
	b->m = 0;
	for (int j = 0; j < 32; j++)
		b->q[j] = (int8_t)p[off + j];
	return off + 32;
}

static bool is_plain(enum ajar_type t)
{
	return t == AJAR_TYPE_F32 || t == AJAR_TYPE_F16 || t == AJAR_TYPE_BF16;
}

/*
 * The exact value (in double) of what the kernels compute for one weight row
 * and one activation row, and A, the sum of absolute values of its terms.
 * Quantized: sum over blocks of d_w d_a sum(q_w q_a) + m_w s_a. Plain: sum
 * of w_k x_k.
 */
static double exact_dot(enum ajar_type t, const uint8_t *w, const uint8_t *act, int64_t n, double *abs_sum)
{
	double sum = 0, a = 0;
	if (is_plain(t)) {
		float wf[32];
		for (int64_t i = 0; i < n; i += 32) {
			const int len = n - i < 32 ? (int)(n - i) : 32;
			float x[32];
			ajar_dequantize_row(t, w + (size_t)i * ajar_row_size(t, 1), wf, len);
			if (ajar_act_type(t) == AJAR_TYPE_F16) /* F16 weights take F16 activations */
				ajar_dequantize_row(AJAR_TYPE_F16, act + 2 * (size_t)i, x, len);
			else
				memcpy(x, act + 4 * (size_t)i, (size_t)len * sizeof(float));
			for (int k = 0; k < len; k++) {
				sum += (double)wf[k] * x[k];
				a += fabs((double)wf[k] * x[k]);
			}
		}
		*abs_sum = a;
		return sum;
	}
	const enum ajar_type at = ajar_act_type(t);
	for (int64_t i = 0; i < n; i += 32) {
		struct decoded bw, ba;
		long sumi = 0, suma = 0;
		w += decode_weight_block(t, w, &bw);
		act += decode_act_block(at, act, &ba);
		for (int k = 0; k < 32; k++) {
			sumi += (long)bw.q[k] * ba.q[k];
			suma += labs((long)bw.q[k] * ba.q[k]);
		}
		sum += bw.d * ba.d * (double)sumi + bw.m * ba.s;
		a += fabs(bw.d * ba.d) * (double)suma + fabs(bw.m * ba.s);
	}
	*abs_sum = a;
	return sum;
}

/* ---- a weight matrix and activations at awkward addresses --------------- */

struct problem {
	enum ajar_type wtype, atype;
	int64_t n, rows, n_tok;
	size_t w_stride, act_stride;
	uint8_t *w_alloc, *w;     /* rows * w_stride bytes at an odd offset */
	uint8_t *act_alloc, *act; /* n_tok rows, act_stride (odd) apart */
	float *x;                 /* n_tok * n floats: the activations before conversion */
};

/* Fills rows of random weights: quantized from random values, with some raw
 * random levels for the quantized types (any bit pattern a file may hold,
 * such as Q8_0's -128), scales kept finite. */
static void fill_weights(struct problem *p)
{
	float *v = malloc((size_t)p->n * sizeof(float));
	const size_t bsize = ajar_type_traits(p->wtype)->type_size;
	for (int64_t r = 0; r < p->rows; r++) {
		uint8_t *row = p->w + (size_t)r * p->w_stride;
		fill_values(v, p->n);
		ajar_quantize_row(p->wtype, v, row, p->n);
		if (is_plain(p->wtype) || r % 3 != 1)
			continue;
		for (int64_t b = 0; b < p->n / 32; b++) {
			uint8_t *blk = row + (size_t)b * bsize;
			const size_t fixed = p->wtype == AJAR_TYPE_Q4_1 || p->wtype == AJAR_TYPE_Q5_1 ? 4 : 2;
			for (size_t k = fixed; k < bsize; k++)
				blk[k] = (uint8_t)rng_next();
		}
	}
	free(v);
}

static void problem_init(struct problem *p, enum ajar_type wtype, int64_t n, int64_t rows, int64_t n_tok)
{
	p->wtype = wtype;
	p->atype = ajar_act_type(wtype);
	p->n = n;
	p->rows = rows;
	p->n_tok = n_tok;
	p->w_stride = ajar_row_size(wtype, n);
	p->act_stride = ajar_act_row_size(wtype, n) + 3; /* odd */
	p->w_alloc = malloc((size_t)rows * p->w_stride + 8);
	p->w = p->w_alloc + (is_plain(wtype) ? 2 : 1); /* 2-byte offset for f16, odd otherwise */
	if (wtype == AJAR_TYPE_F32)
		p->w = p->w_alloc + 4; /* f32 rows at float alignment but not 64 */
	p->act_alloc = malloc((size_t)n_tok * p->act_stride + 8);
	p->act = p->act_alloc + 1;
	if (p->atype == AJAR_TYPE_F32) {
		p->act_stride = ajar_act_row_size(wtype, n) + 4; /* float rows stay 4-aligned */
		free(p->act_alloc);
		p->act_alloc = malloc((size_t)n_tok * p->act_stride + 8);
		p->act = p->act_alloc + 4;
	}
	p->x = malloc((size_t)(n * n_tok) * sizeof(float));
	fill_weights(p);
	fill_values(p->x, n * n_tok);
	for (int64_t t = 0; t < n_tok; t++)
		ajar_act_quantize(p->atype, p->x + t * n, p->act + (size_t)t * p->act_stride, n);
}

static void problem_free(struct problem *p)
{
	free(p->w_alloc);
	free(p->act_alloc);
	free(p->x);
}

/* The levels this CPU has, the first time with a note for those it lacks. */
static int available_levels(enum ajar_cpu_level *out)
{
	static bool noted;
	int count = 0;
	for (int l = AJAR_CPU_SCALAR; l <= AJAR_CPU_AVX512; l++) {
		if (l <= (int)ajar_cpu_level_max())
			out[count++] = (enum ajar_cpu_level)l;
		else if (!noted)
			printf("note: this CPU lacks %s; its kernels are not tested\n",
			       ajar_cpu_level_name((enum ajar_cpu_level)l));
	}
	noted = true;
	return count;
}

static void set_level(enum ajar_cpu_level l)
{
	CHECK_OK(ajar_cpu_level_set(l));
}

/* ---- dispatch and formats ----------------------------------------------- */

static void test_levels(void)
{
	enum ajar_cpu_level l;
	const enum ajar_cpu_level max = ajar_cpu_level_max();

	/* AJAR_CPU, if set, chose the starting level (or was refused) */
	const char *env = getenv("AJAR_CPU");
	if (env && *env && kernels_parse_level(env, max, &l) == AJAR_OK) {
		CHECK_OK(ajar_kernels_init());
		CHECK_EQ_INT(ajar_cpu_level(), l);
	} else if (env && *env) {
		CHECK_EQ_INT(ajar_kernels_init(), AJAR_ERR_INVALID);
		CHECK(strstr(ajar_err_msg(), "AJAR_CPU") != NULL);
		CHECK_EQ_INT(ajar_cpu_level(), max);
	} else {
		CHECK_OK(ajar_kernels_init());
		CHECK_EQ_INT(ajar_cpu_level(), max);
	}
	CHECK_STR(ajar_cpu_level_name(AJAR_CPU_SCALAR), "scalar");
	CHECK_STR(ajar_cpu_level_name(AJAR_CPU_AVX2), "avx2");
	CHECK_STR(ajar_cpu_level_name(AJAR_CPU_AVX512), "avx512");
	CHECK_STR(ajar_cpu_level_name((enum ajar_cpu_level)9), "unknown");
	printf("cpu: best level %s, in use %s\n", ajar_cpu_level_name(max), ajar_cpu_level_name(ajar_cpu_level()));

	CHECK_EQ_INT(ajar_cpu_level_set((enum ajar_cpu_level)3), AJAR_ERR_INVALID);
	CHECK_EQ_INT(ajar_cpu_level_set((enum ajar_cpu_level)-1), AJAR_ERR_INVALID);
	if (max < AJAR_CPU_AVX512)
		CHECK_EQ_INT(ajar_cpu_level_set(AJAR_CPU_AVX512), AJAR_ERR_UNSUPPORTED);
	else
		printf("note: CPU has every level; AJAR_ERR_UNSUPPORTED from ajar_cpu_level_set is untestable here\n");
	CHECK_OK(ajar_cpu_level_set(AJAR_CPU_SCALAR));
	CHECK_EQ_INT(ajar_cpu_level(), AJAR_CPU_SCALAR);
	CHECK_OK(ajar_cpu_level_set(max));
	CHECK_EQ_INT(ajar_cpu_level(), max);

	/* AJAR_CPU parsing, against a pretend CPU of each level */
	CHECK_OK(kernels_parse_level("scalar", AJAR_CPU_SCALAR, &l));
	CHECK_EQ_INT(l, AJAR_CPU_SCALAR);
	CHECK_OK(kernels_parse_level("AVX2", AJAR_CPU_AVX512, &l));
	CHECK_EQ_INT(l, AJAR_CPU_AVX2);
	CHECK_OK(kernels_parse_level("avx512", AJAR_CPU_AVX512, &l));
	CHECK_EQ_INT(l, AJAR_CPU_AVX512);
	CHECK_EQ_INT(kernels_parse_level("avx512", AJAR_CPU_AVX2, &l), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "at most avx2") != NULL);
	CHECK_EQ_INT(kernels_parse_level("avx2", AJAR_CPU_SCALAR, &l), AJAR_ERR_INVALID);
	CHECK_EQ_INT(kernels_parse_level("sse4", AJAR_CPU_AVX512, &l), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "unknown level") != NULL);
	CHECK_EQ_INT(kernels_parse_level("", AJAR_CPU_AVX512, &l), AJAR_ERR_INVALID);
	CHECK_EQ_INT(kernels_parse_level("avx5120", AJAR_CPU_AVX512, &l), AJAR_ERR_INVALID);
}

static void test_formats(void)
{
	for (size_t i = 0; i < NELEM(weight_types); i++)
		CHECK_MSG(ajar_gemm_supports(weight_types[i]), "%s", ajar_type_name(weight_types[i]));
	CHECK(!ajar_gemm_supports(AJAR_TYPE_I32));
	CHECK(!ajar_gemm_supports(AJAR_TYPE_IQ2_XXS));
	CHECK(!ajar_gemm_supports(AJAR_TYPE_Q8_1));
	CHECK(!ajar_gemm_supports((enum ajar_type)99));

	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_F32), AJAR_TYPE_F32);
	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_F16), AJAR_TYPE_F16);
	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_BF16), AJAR_TYPE_F32);
	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_Q4_0), AJAR_TYPE_Q8_0);
	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_Q5_0), AJAR_TYPE_Q8_0);
	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_Q8_0), AJAR_TYPE_Q8_0);
	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_IQ4_NL), AJAR_TYPE_Q8_0);
	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_Q4_1), AJAR_TYPE_Q8_1);
	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_Q5_1), AJAR_TYPE_Q8_1);
	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_Q4_K), AJAR_TYPE_Q8_K);
	CHECK_EQ_INT(ajar_act_type(AJAR_TYPE_Q6_K), AJAR_TYPE_Q8_K);

	CHECK_EQ_INT(ajar_act_row_size(AJAR_TYPE_F16, 64), 128);
	CHECK_EQ_INT(ajar_act_row_size(AJAR_TYPE_BF16, 64), 256);
	CHECK_EQ_INT(ajar_act_row_size(AJAR_TYPE_Q4_0, 64), 68);
	CHECK_EQ_INT(ajar_act_row_size(AJAR_TYPE_Q5_1, 64), 72);
	CHECK_EQ_INT(ajar_act_row_size(AJAR_TYPE_Q4_K, 512), 584);
}

/* ---- activation quantizers ---------------------------------------------- */

/* Q8_0 activations are llama.cpp's Q8_0 reference quantization, which
 * ajar_quantize_row(Q8_0) also is; Q8_1 has the same d and q and
 * s = f16(d * sum q). Properties: |q| <= 127 and the largest value maps to
 * +-127 unless the block is zero. */
static void test_act_quantize_ref(void)
{
	enum { N = 32 * 40 };
	float x[N];
	uint8_t a0[N / 32 * 34], a1[N / 32 * 36], w0[N / 32 * 34];

	fill_values(x, N);
	/* exact halves: amax 127 gives d = 1, id = 1; roundf takes them away from 0 */
	for (int j = 0; j < 32; j++)
		x[j] = (float)(j - 16) + 0.5f;
	x[31] = 127.0f;
	act_quantize_q8_0_ref(x, a0, N);
	act_quantize_q8_1_ref(x, a1, N);
	ajar_quantize_row(AJAR_TYPE_Q8_0, x, w0, N);
	CHECK(memcmp(a0, w0, sizeof(a0)) == 0);
	for (int j = 0; j < 31; j++)
		CHECK_EQ_INT((int8_t)a0[2 + j], j - 16 + (j >= 16 ? 1 : 0));

	for (int b = 0; b < N / 32; b++) {
		struct block_q8_0 q0;
		struct block_q8_1 q1;
		float amax = 0;
		int sum = 0, hit = 0;
		memcpy(&q0, a0 + 34 * b, sizeof(q0));
		memcpy(&q1, a1 + 36 * b, sizeof(q1));
		CHECK_EQ_INT(q0.d, q1.d);
		CHECK(memcmp(q0.qs, q1.qs, 32) == 0);
		for (int j = 0; j < 32; j++) {
			amax = fmaxf(amax, fabsf(x[32 * b + j]));
			sum += q0.qs[j];
			CHECK(q0.qs[j] >= -127 && q0.qs[j] <= 127);
			hit |= q0.qs[j] == 127 || q0.qs[j] == -127;
		}
		const float d = amax / 127.0f;
		CHECK_EQ_INT(q0.d, ajar_f32_to_f16(d));
		CHECK_EQ_INT(q1.s, ajar_f32_to_f16((float)sum * d));
		CHECK(hit || amax == 0.0f);
	}
}

/* F16 activations (for F16 weights) round to nearest even at every level,
 * bit for bit as ajar_f32_to_f16, for lengths with vector tails too, and
 * infinities, overflow and subnormals included. */
static void test_act_f16_levels(void)
{
	enum ajar_cpu_level levels[3];
	const int nl = available_levels(levels);
	static const int64_t ns[] = { 1, 7, 15, 16, 17, 31, 45, 100 };
	float x[100];
	uint8_t got[2 * 100 + 1];
	fill_values(x, 100);
	x[0] = 65520.0f;      /* rounds to infinity */
	x[1] = -INFINITY;
	x[2] = 3e-8f;         /* subnormal half */
	x[3] = 2.9802322e-08f; /* half the smallest subnormal: ties to even (zero) */
	x[4] = 1.0009765625f; /* exact half, 1 + 2^-10 */
	x[5] = 1.00048828125f; /* tie between 1 and 1 + 2^-10: to even */
	for (size_t in = 0; in < NELEM(ns); in++) {
		const int64_t n = ns[in];
		for (int il = 0; il < nl; il++) {
			set_level(levels[il]);
			ajar_act_quantize(AJAR_TYPE_F16, x, got + 1, n);
			for (int64_t i = 0; i < n; i++) {
				uint16_t h;
				memcpy(&h, got + 1 + 2 * i, 2);
				CHECK_MSG(h == ajar_f32_to_f16(x[i]), "%s n=%lld i=%lld: %04x vs %04x",
					  ajar_cpu_level_name(levels[il]), (long long)n, (long long)i, h,
					  ajar_f32_to_f16(x[i]));
			}
		}
	}
	set_level(ajar_cpu_level_max());
}

/* Every level quantizes byte for byte as the scalar level. */
static void test_act_quantize_levels(void)
{
	enum ajar_cpu_level levels[3];
	const int nl = available_levels(levels);
	const int64_t ns[] = { 32, 64, 96, 256, 4096 + 32, 11008 };
	const enum ajar_type ats[] = { AJAR_TYPE_Q8_0, AJAR_TYPE_Q8_1, AJAR_TYPE_F16 };

	for (size_t in = 0; in < NELEM(ns); in++) {
		const int64_t n = ns[in];
		float *x = malloc((size_t)n * sizeof(float) + 4);
		float *xu = (float *)((uint8_t *)x + 0); /* floats stay aligned: callers pass float arrays */
		fill_values(xu, n);
		/* halves and near-halves in the first block: x * id lands on k + 0.5 and its neighbours */
		if (n >= 64) {
			for (int j = 0; j < 31; j++)
				xu[j] = (float)(j - 15) * 4.0f + (j % 3 == 0 ? 0.5f : j % 3 == 1 ? nextafterf(0.5f, 0) : nextafterf(0.5f, 1));
			xu[31] = -127.0f;
			for (int j = 32; j < 64; j++)
				xu[j] = (j % 2 ? 1 : -1) * 3e-39f * (float)j; /* subnormal inputs: d underflows */
		}
		for (size_t ia = 0; ia < NELEM(ats); ia++) {
			const size_t size = ajar_row_size(ats[ia], n);
			uint8_t *ref = malloc(size + 1), *got = malloc(size + 1);
			set_level(AJAR_CPU_SCALAR);
			ajar_act_quantize(ats[ia], xu, ref, n);
			for (int il = 1; il < nl; il++) {
				set_level(levels[il]);
				got[size] = 0xa5;
				ajar_act_quantize(ats[ia], xu, got + 1, n); /* odd output address */
				CHECK_MSG(memcmp(ref, got + 1, size) == 0, "%s %s n=%lld", ajar_type_name(ats[ia]),
					  ajar_cpu_level_name(levels[il]), (long long)n);
			}
			free(ref);
			free(got);
		}
		free(x);
	}
	set_level(ajar_cpu_level_max());
}

/* ---- the scalar reference ----------------------------------------------- */

/* (c) scalar vec_dot equals the exact dot of the decoded blocks up to f32
 * rounding; (d) it is within the activation quantization error of the dot
 * with the float activations. */
static void test_vec_dot_ref(void)
{
	set_level(AJAR_CPU_SCALAR);
	for (size_t it = 0; it < NELEM(weight_types); it++) {
		const enum ajar_type t = weight_types[it];
		for (size_t in = 0; in < NELEM(test_ns); in++) {
			struct problem p;
			const int64_t n = test_ns[in], nb = n / 32;
			problem_init(&p, t, n, 6, 2);
			for (int64_t r = 0; r < p.rows; r++) {
				for (int64_t tok = 0; tok < p.n_tok; tok++) {
					const uint8_t *w = p.w + (size_t)r * p.w_stride;
					const uint8_t *a = p.act + (size_t)tok * p.act_stride;
					const float *x = p.x + tok * n;
					double abs_sum;
					const double exact = exact_dot(t, w, a, n, &abs_sum);
					const float got = ajar_vec_dot(t, w, a, n);
					const double tol = (is_plain(t) ? (double)(n + 1) : (double)(nb + 4)) * U * abs_sum + 1e-30;
					CHECK_MSG(fabs(got - exact) <= tol, "%s n=%lld: %.9g vs exact %.9g (tol %.3g)",
						  ajar_type_name(t), (long long)n, got, exact, tol);

					/* (d): quantization error of the activations */
					float ref = ajar_vec_dot_f32(t, w, x, n);
					if (p.atype == AJAR_TYPE_F16) { /* the activations as the kernel sees them */
						float *xr = malloc((size_t)n * sizeof(float));
						for (int64_t k = 0; k < n; k++)
							xr[k] = ajar_f16_to_f32(ajar_f32_to_f16(x[k]));
						ref = ajar_vec_dot_f32(t, w, xr, n);
						free(xr);
					}
					if (is_plain(t)) {
						CHECK(got == ref); /* same products, same order */
						continue;
					}
					float wf[32];
					double bound = 0, wabs = 0;
					for (int64_t b = 0; b < nb; b++) {
						struct decoded bw, ba;
						double amax = 0, sw = 0;
						int sumq = 0;
						decode_weight_block(t, w + (size_t)b * ajar_row_size(t, 32), &bw);
						decode_act_block(p.atype, a + (size_t)b * ajar_row_size(p.atype, 32), &ba);
						ajar_dequantize_row(t, w + (size_t)b * ajar_row_size(t, 32), wf, 32);
						for (int k = 0; k < 32; k++) {
							amax = fmax(amax, fabs(x[32 * b + k]));
							sw += fabs(wf[k]);
							wabs += fabs((double)wf[k] * x[32 * b + k]);
							sumq += ba.q[k];
						}
						/* f16 rounding of d (and s): relative 2^-11, or absolute
						 * 2^-25 once it falls below the normal halves */
						const double d = amax / 127, dr = fmax(d * 0x1p-11, 0x1p-25);
						const double sr = fmax(d * abs(sumq) * 0x1p-11, 0x1p-25);
						bound += (0.5 * d + 127 * dr) * sw + fabs(bw.m) * (sr + abs(sumq) * dr);
					}
					bound += (nb + 4) * U * abs_sum + (n + 1) * U * wabs + 1e-30;
					CHECK_MSG(fabs((double)got - ref) <= bound, "%s n=%lld: %.9g vs float acts %.9g (bound %.3g)",
						  ajar_type_name(t), (long long)n, got, ref, bound);
				}
			}
			problem_free(&p);
		}
	}
	set_level(ajar_cpu_level_max());
}

/* ---- every level against the scalar one --------------------------------- */

#define Y_SENTINEL -12345.0f

/* One problem: gemm over [r0, r1) at every level; SIMD against the scalar
 * result (quantized) or the exact dot (plain); ajar_vec_dot at every level
 * equals that level's gemm on one row and one token. */
static void check_gemm(enum ajar_type t, int64_t n, int64_t rows, int64_t n_tok, int64_t r0, int64_t r1)
{
	enum ajar_cpu_level levels[3];
	const int nl = available_levels(levels);
	struct problem p;
	const size_t y_stride = (size_t)rows + 5;
	float *ref = malloc(y_stride * (size_t)n_tok * sizeof(float));
	float *got = malloc(y_stride * (size_t)n_tok * sizeof(float));
	const int64_t nb = n / 32;

	problem_init(&p, t, n, rows, n_tok);
	set_level(AJAR_CPU_SCALAR);
	for (size_t i = 0; i < y_stride * (size_t)n_tok; i++)
		ref[i] = Y_SENTINEL;
	ajar_gemm(t, p.w, p.w_stride, n, r0, r1, p.act, p.act_stride, n_tok, ref, y_stride);

	for (int il = 0; il < nl; il++) {
		int bad = 0;
		set_level(levels[il]);
		for (size_t i = 0; i < y_stride * (size_t)n_tok; i++)
			got[i] = Y_SENTINEL;
		ajar_gemm(t, p.w, p.w_stride, n, r0, r1, p.act, p.act_stride, n_tok, got, y_stride);
		for (int64_t tok = 0; tok < n_tok && bad < 5; tok++) {
			for (int64_t r = 0; r < (int64_t)y_stride && bad < 5; r++) {
				const size_t i = (size_t)tok * y_stride + (size_t)r;
				if (r < r0 || r >= r1) {
					if (got[i] != Y_SENTINEL) {
						fprintf(stderr, "%s %s: wrote y outside rows [%lld, %lld): row %lld tok %lld\n",
							ajar_type_name(t), ajar_cpu_level_name(levels[il]), (long long)r0,
							(long long)r1, (long long)r, (long long)tok);
						bad++;
					}
					continue;
				}
				double abs_sum;
				const double exact = exact_dot(t, p.w + (size_t)r * p.w_stride,
							       p.act + (size_t)tok * p.act_stride, n, &abs_sum);
				double diff, tol;
				if (is_plain(t)) {
					diff = fabs(got[i] - exact);
					tol = (levels[il] == AJAR_CPU_SCALAR ? (double)(n + 1) : (double)(n / 8 + 64)) * U * abs_sum;
				} else {
					diff = fabs((double)got[i] - ref[i]);
					tol = 2.0 * (double)(nb + 4) * U * abs_sum;
				}
				if (!(diff <= tol + 1e-30)) {
					fprintf(stderr,
						"%s %s n=%lld n_tok=%lld rows [%lld, %lld): y[tok %lld][row %lld] = %.9g, "
						"scalar %.9g, exact %.9g, tol %.3g\n",
						ajar_type_name(t), ajar_cpu_level_name(levels[il]), (long long)n,
						(long long)n_tok, (long long)r0, (long long)r1, (long long)tok, (long long)r,
						got[i], ref[i], exact, tol);
					bad++;
				}
			}
		}
		/* ajar_vec_dot on one row and one token is this level's gemm there */
		if (r0 < r1) {
			const int64_t r = r1 - 1, tok = n_tok - 1;
			const float v = ajar_vec_dot(t, p.w + (size_t)r * p.w_stride, p.act + (size_t)tok * p.act_stride, n);
			float one = Y_SENTINEL;
			ajar_gemm(t, p.w + (size_t)r * p.w_stride, 0, n, 0, 1, p.act + (size_t)tok * p.act_stride, 0, 1,
				  &one, 0);
			if (v != one) {
				fprintf(stderr, "%s %s: vec_dot %.9g != 1x1 gemm %.9g\n", ajar_type_name(t),
					ajar_cpu_level_name(levels[il]), v, one);
				bad++;
			}
		}
		CHECK_MSG(bad == 0, "%s at %s, n=%lld n_tok=%lld", ajar_type_name(t), ajar_cpu_level_name(levels[il]),
			  (long long)n, (long long)n_tok);
	}
	set_level(ajar_cpu_level_max());
	problem_free(&p);
	free(ref);
	free(got);
}

static void test_gemm_levels(void)
{
	for (size_t it = 0; it < NELEM(weight_types); it++) {
		for (size_t in = 0; in < NELEM(test_ns); in++) {
			for (size_t ik = 0; ik < NELEM(test_ntoks); ik++) {
				const int64_t n = test_ns[in], n_tok = test_ntoks[ik];
				/* big problems get fewer rows to keep the scalar reference quick */
				const int64_t rows = n >= 4096 ? 21 : 37;
				/* row ranges: all, odd bounds, a single row */
				const int64_t ranges[3][2] = { { 0, rows }, { 3, rows - 2 }, { 17, 18 } };
				const size_t ir = (it + in + ik) % 3;
				check_gemm(weight_types[it], n, rows, n_tok, ranges[ir][0], ranges[ir][1]);
			}
		}
	}
}

/* Larger shapes for the tiled prompt paths: many tokens, rows not a
 * multiple of any tile, several token and block chunks. */
static void test_gemm_tiles(void)
{
	for (size_t it = 0; it < NELEM(weight_types); it++) {
		check_gemm(weight_types[it], 512, 53, 70, 0, 53);
		check_gemm(weight_types[it], 800, 40, 130, 5, 38);
		check_gemm(weight_types[it], 96, 16, 64, 0, 16);
	}
	/* plain types take any length, not only whole 16- or 32-value vectors */
	const int64_t odd_ns[] = { 1, 7, 40, 1000 };
	for (size_t it = 0; it < 3; it++)
		for (size_t in = 0; in < NELEM(odd_ns); in++)
			for (size_t ik = 0; ik < NELEM(test_ntoks); ik += 2)
				check_gemm(weight_types[it], odd_ns[in], 11, test_ntoks[ik], 1, 10);
}

int main(void)
{
	RUN(test_levels);
	RUN(test_formats);
	RUN(test_act_quantize_ref);
	RUN(test_act_quantize_levels);
	RUN(test_act_f16_levels);
	RUN(test_vec_dot_ref);
	RUN(test_gemm_levels);
	RUN(test_gemm_tiles);
	return check_summary();
}
