/*
 * vecops.c - attention's vector primitives (kernels.h): the scalar
 * reference and the dispatch to the AVX2 / AVX-512 versions in
 * vecops_avx2.c / vecops_avx512.c.
 */
#include "ajar/kernels.h"
#include "tensor/f16_int.h"
#include "tensor/vecops_int.h"

#include <string.h>

/* Scalar references: plain sums in index order. */
static float dot_f32_ref(const float *a, const float *b, int64_t n)
{
	float s = 0;
	for (int64_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static float dot_f16_ref(const void *h, const float *x, int64_t n)
{
	const unsigned char *p = h;
	float s = 0;
	for (int64_t i = 0; i < n; i++) {
		uint16_t v;
		memcpy(&v, p + 2 * i, 2);
		s += f16_to_f32_fast(v) * x[i];
	}
	return s;
}

static void axpy_f32_ref(float a, const float *x, float *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] += a * x[i];
}

static void axpy_f16_ref(float a, const void *h, float *y, int64_t n)
{
	const unsigned char *p = h;
	for (int64_t i = 0; i < n; i++) {
		uint16_t v;
		memcpy(&v, p + 2 * i, 2);
		y[i] += a * f16_to_f32_fast(v);
	}
}

float ajar_dot_f32(const float *a, const float *b, int64_t n)
{
	switch (ajar_cpu_level()) {
	case AJAR_CPU_AVX512: return vecops_dot_f32_avx512(a, b, n);
	case AJAR_CPU_AVX2: return vecops_dot_f32_avx2(a, b, n);
	default: return dot_f32_ref(a, b, n);
	}
}

float ajar_dot_f16(const void *h, const float *x, int64_t n)
{
	switch (ajar_cpu_level()) {
	case AJAR_CPU_AVX512: return vecops_dot_f16_avx512(h, x, n);
	case AJAR_CPU_AVX2: return vecops_dot_f16_avx2(h, x, n);
	default: return dot_f16_ref(h, x, n);
	}
}

void ajar_axpy_f32(float a, const float *x, float *y, int64_t n)
{
	switch (ajar_cpu_level()) {
	case AJAR_CPU_AVX512: vecops_axpy_f32_avx512(a, x, y, n); return;
	case AJAR_CPU_AVX2: vecops_axpy_f32_avx2(a, x, y, n); return;
	default: axpy_f32_ref(a, x, y, n); return;
	}
}

void ajar_axpy_f16(float a, const void *h, float *y, int64_t n)
{
	switch (ajar_cpu_level()) {
	case AJAR_CPU_AVX512: vecops_axpy_f16_avx512(a, h, y, n); return;
	case AJAR_CPU_AVX2: vecops_axpy_f16_avx2(a, h, y, n); return;
	default: axpy_f16_ref(a, h, y, n); return;
	}
}

/* The many-row forms: the one-row references row by row. */
void ajar_dots_f32(const void *rows, size_t stride, int64_t n_rows, const float *x, int64_t n, float scale, float *out)
{
	const unsigned char *p = rows;
	switch (ajar_cpu_level()) {
	case AJAR_CPU_AVX512: vecops_dots_f32_avx512(rows, stride, n_rows, x, n, scale, out); return;
	case AJAR_CPU_AVX2: vecops_dots_f32_avx2(rows, stride, n_rows, x, n, scale, out); return;
	default:
		for (int64_t r = 0; r < n_rows; r++)
			out[r] = dot_f32_ref((const float *)(const void *)(p + (size_t)r * stride), x, n) * scale;
		return;
	}
}

void ajar_dots_f16(const void *rows, size_t stride, int64_t n_rows, const float *x, int64_t n, float scale, float *out)
{
	const unsigned char *p = rows;
	switch (ajar_cpu_level()) {
	case AJAR_CPU_AVX512: vecops_dots_f16_avx512(rows, stride, n_rows, x, n, scale, out); return;
	case AJAR_CPU_AVX2: vecops_dots_f16_avx2(rows, stride, n_rows, x, n, scale, out); return;
	default:
		for (int64_t r = 0; r < n_rows; r++)
			out[r] = dot_f16_ref(p + (size_t)r * stride, x, n) * scale;
		return;
	}
}

void ajar_axpys_f32(const float *a, const void *rows, size_t stride, int64_t n_rows, float *y, int64_t n)
{
	const unsigned char *p = rows;
	switch (ajar_cpu_level()) {
	case AJAR_CPU_AVX512: vecops_axpys_f32_avx512(a, rows, stride, n_rows, y, n); return;
	case AJAR_CPU_AVX2: vecops_axpys_f32_avx2(a, rows, stride, n_rows, y, n); return;
	default:
		for (int64_t r = 0; r < n_rows; r++)
			axpy_f32_ref(a[r], (const float *)(const void *)(p + (size_t)r * stride), y, n);
		return;
	}
}

void ajar_axpys_f16(const float *a, const void *rows, size_t stride, int64_t n_rows, float *y, int64_t n)
{
	const unsigned char *p = rows;
	switch (ajar_cpu_level()) {
	case AJAR_CPU_AVX512: vecops_axpys_f16_avx512(a, rows, stride, n_rows, y, n); return;
	case AJAR_CPU_AVX2: vecops_axpys_f16_avx2(a, rows, stride, n_rows, y, n); return;
	default:
		for (int64_t r = 0; r < n_rows; r++)
			axpy_f16_ref(a[r], p + (size_t)r * stride, y, n);
		return;
	}
}
