/*
 * The attention primitives (kernels.h: ajar_dot_f32/f16, ajar_axpy_f32/f16)
 * at every level the CPU has agree with the scalar level: dots within
 * float reassociation (relative to sum |a_i b_i|), axpy exactly (one FMA or
 * one multiply-add per element both ways: within 1 ulp), for lengths that
 * exercise the vector body and the tails, and rows at odd byte offsets.
 */
#include "ajar/kernels.h"
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static float frand(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void test_levels_agree(void)
{
	static const int64_t lens[] = { 0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100, 128, 1000 };
	float a[1024], b[1024], y0[1024], y1[1024];
	unsigned char hbuf[2 * 1024 + 1], *h = hbuf + 1; /* odd address on purpose */
	uint32_t seed = 7;
	CHECK_OK(ajar_kernels_init());
	enum ajar_cpu_level max = ajar_cpu_level_max();
	for (int64_t li = 0; li < (int64_t)(sizeof(lens) / sizeof(lens[0])); li++) {
		int64_t n = lens[li];
		double mag = 0, mag16 = 0;
		for (int64_t i = 0; i < n; i++) {
			a[i] = frand(&seed) * 4;
			b[i] = frand(&seed);
			uint16_t hv = ajar_f32_to_f16(frand(&seed) * 3);
			memcpy(h + 2 * i, &hv, 2);
			mag += fabs((double)a[i] * b[i]);
			mag16 += fabs((double)ajar_f16_to_f32(hv) * b[i]);
		}
		CHECK_OK(ajar_cpu_level_set(AJAR_CPU_SCALAR));
		float d32 = ajar_dot_f32(a, b, n), d16 = ajar_dot_f16(h, b, n);
		for (int64_t i = 0; i < n; i++)
			y0[i] = b[i];
		ajar_axpy_f32(0.37f, a, y0, n);
		ajar_axpy_f16(-1.5f, h, y0, n);
		for (int lv = AJAR_CPU_AVX2; lv <= (int)max; lv++) {
			CHECK_OK(ajar_cpu_level_set((enum ajar_cpu_level)lv));
			CHECK_NEAR(ajar_dot_f32(a, b, n), d32, 1e-6 * mag + 1e-30);
			CHECK_NEAR(ajar_dot_f16(h, b, n), d16, 1e-6 * mag16 + 1e-30);
			for (int64_t i = 0; i < n; i++)
				y1[i] = b[i];
			ajar_axpy_f32(0.37f, a, y1, n);
			ajar_axpy_f16(-1.5f, h, y1, n);
			for (int64_t i = 0; i < n; i++)
				CHECK_NEAR(y1[i], y0[i], 1e-6 * (fabs(y0[i]) + 8));
		}
	}
	if (max < AJAR_CPU_AVX512)
		printf("note: this CPU lacks avx512; that level was not compared\n");
	CHECK_OK(ajar_cpu_level_set(max));
}

/* The many-row forms equal the one-row forms row by row, bit for bit, at
 * every level: rows at a stride with padding, odd addresses for F16, row
 * lengths through the 4-register body, the one-register loop and the tail. */
static void test_many_rows(void)
{
	enum { ROWS = 37, MAXN = 130 };
	static const int64_t lens[] = { 1, 7, 16, 40, 64, 100, 128, 130 };
	const size_t stride32 = (MAXN + 3) * sizeof(float), stride16 = 2 * MAXN + 6;
	float *r32 = malloc(ROWS * stride32), x[MAXN], a[ROWS], d0[ROWS], d1[ROWS], y0[MAXN], y1[MAXN];
	unsigned char *h16 = malloc(ROWS * stride16 + 1), *r16 = h16 + 1;
	uint32_t seed = 11;
	enum ajar_cpu_level max = ajar_cpu_level_max();
	for (size_t i = 0; i < ROWS * stride32 / sizeof(float); i++)
		r32[i] = frand(&seed) * 2;
	for (size_t i = 0; i + 1 < ROWS * stride16; i += 2) {
		uint16_t hv = ajar_f32_to_f16(frand(&seed) * 3);
		memcpy(r16 + i, &hv, 2);
	}
	for (int r = 0; r < ROWS; r++)
		a[r] = frand(&seed);
	for (int i = 0; i < MAXN; i++)
		x[i] = frand(&seed);
	for (int lv = AJAR_CPU_SCALAR; lv <= (int)max; lv++) {
		CHECK_OK(ajar_cpu_level_set((enum ajar_cpu_level)lv));
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			const int64_t n = lens[li];
			for (int half = 0; half < 2; half++) {
				const unsigned char *rows = half ? r16 : (const unsigned char *)r32;
				const size_t stride = half ? stride16 : stride32;
				if (half)
					ajar_dots_f16(rows, stride, ROWS, x, n, 0.125f, d1);
				else
					ajar_dots_f32(rows, stride, ROWS, x, n, 0.125f, d1);
				for (int64_t i = 0; i < n; i++)
					y0[i] = y1[i] = x[i];
				for (int r = 0; r < ROWS; r++) {
					const unsigned char *row = rows + (size_t)r * stride;
					d0[r] = (half ? ajar_dot_f16(row, x, n) : ajar_dot_f32((const float *)(const void *)row, x, n)) *
						0.125f;
					if (half)
						ajar_axpy_f16(a[r], row, y0, n);
					else
						ajar_axpy_f32(a[r], (const float *)(const void *)row, y0, n);
				}
				if (half)
					ajar_axpys_f16(a, rows, stride, ROWS, y1, n);
				else
					ajar_axpys_f32(a, rows, stride, ROWS, y1, n);
				CHECK_MSG(memcmp(d0, d1, sizeof(d0)) == 0, "dots %s n=%lld level %d", half ? "f16" : "f32",
					  (long long)n, lv);
				CHECK_MSG(memcmp(y0, y1, (size_t)n * sizeof(float)) == 0, "axpys %s n=%lld level %d",
					  half ? "f16" : "f32", (long long)n, lv);
			}
		}
	}
	CHECK_OK(ajar_cpu_level_set(max));
	free(r32);
	free(h16);
}

int main(void)
{
	RUN(test_levels_agree);
	RUN(test_many_rows);
	return check_summary();
}
