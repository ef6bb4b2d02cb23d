/*
 * vecops_avx512.c - attention's vector primitives for avx512: 16 floats per
 * register, two accumulators, F16 rows widened with F16C; a scalar tail.
 * Compiled with this ISA's flags (CMakeLists.txt); called only at that level.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "tensor/f16_int.h"

float vecops_dot_f32_avx512(const float *a, const float *b, int64_t n);
float vecops_dot_f16_avx512(const void *h, const float *x, int64_t n);
void vecops_axpy_f32_avx512(float a, const float *x, float *y, int64_t n);
void vecops_axpy_f16_avx512(float a, const void *h, float *y, int64_t n);

#define W 16
#define LOAD_H(i) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 2 * (i))))

static inline float half_at(const unsigned char *p, int64_t i)
{
	uint16_t v;
	memcpy(&v, p + 2 * i, 2);
	return f16_to_f32_fast(v);
}

float vecops_dot_f32_avx512(const float *a, const float *b, int64_t n)
{
	__m512 acc = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps();
	int64_t i = 0;
	for (; i + 2 * W <= n; i += 2 * W) {
		acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
		acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + W), _mm512_loadu_ps(b + i + W), acc2);
	}
	for (; i + W <= n; i += W)
		acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
	acc = _mm512_add_ps(acc, acc2);
	float s = _mm512_reduce_add_ps(acc);
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

float vecops_dot_f16_avx512(const void *h, const float *x, int64_t n)
{
	const unsigned char *p = h;
	__m512 acc = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps();
	int64_t i = 0;
	for (; i + 2 * W <= n; i += 2 * W) {
		acc = _mm512_fmadd_ps(LOAD_H(i), _mm512_loadu_ps(x + i), acc);
		acc2 = _mm512_fmadd_ps(LOAD_H(i + W), _mm512_loadu_ps(x + i + W), acc2);
	}
	for (; i + W <= n; i += W)
		acc = _mm512_fmadd_ps(LOAD_H(i), _mm512_loadu_ps(x + i), acc);
	acc = _mm512_add_ps(acc, acc2);
	float s = _mm512_reduce_add_ps(acc);
	for (; i < n; i++)
		s += half_at(p, i) * x[i];
	return s;
}

void vecops_axpy_f32_avx512(float a, const float *x, float *y, int64_t n)
{
	const __m512 va = _mm512_set1_ps(a);
	int64_t i = 0;
	for (; i + W <= n; i += W)
		_mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * x[i];
}

void vecops_axpy_f16_avx512(float a, const void *h, float *y, int64_t n)
{
	const unsigned char *p = h;
	const __m512 va = _mm512_set1_ps(a);
	int64_t i = 0;
	for (; i + W <= n; i += W)
		_mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, LOAD_H(i), _mm512_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * half_at(p, i);
}
