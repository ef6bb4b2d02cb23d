/*
 * vecops_avx2.c - attention's vector primitives for avx2: 8 floats per
 * register, two accumulators, F16 rows widened with F16C; a scalar tail.
 * Compiled with this ISA's flags (CMakeLists.txt); called only at that level.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "tensor/f16_int.h"

float vecops_dot_f32_avx2(const float *a, const float *b, int64_t n);
float vecops_dot_f16_avx2(const void *h, const float *x, int64_t n);
void vecops_axpy_f32_avx2(float a, const float *x, float *y, int64_t n);
void vecops_axpy_f16_avx2(float a, const void *h, float *y, int64_t n);

#define W 8
#define LOAD_H(i) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * (i))))

static inline float hsum256(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline float half_at(const unsigned char *p, int64_t i)
{
	uint16_t v;
	memcpy(&v, p + 2 * i, 2);
	return f16_to_f32_fast(v);
}

float vecops_dot_f32_avx2(const float *a, const float *b, int64_t n)
{
	__m256 acc = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 2 * W <= n; i += 2 * W) {
		acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
		acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + W), _mm256_loadu_ps(b + i + W), acc2);
	}
	for (; i + W <= n; i += W)
		acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
	acc = _mm256_add_ps(acc, acc2);
	float s = hsum256(acc);
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

float vecops_dot_f16_avx2(const void *h, const float *x, int64_t n)
{
	const unsigned char *p = h;
	__m256 acc = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 2 * W <= n; i += 2 * W) {
		acc = _mm256_fmadd_ps(LOAD_H(i), _mm256_loadu_ps(x + i), acc);
		acc2 = _mm256_fmadd_ps(LOAD_H(i + W), _mm256_loadu_ps(x + i + W), acc2);
	}
	for (; i + W <= n; i += W)
		acc = _mm256_fmadd_ps(LOAD_H(i), _mm256_loadu_ps(x + i), acc);
	acc = _mm256_add_ps(acc, acc2);
	float s = hsum256(acc);
	for (; i < n; i++)
		s += half_at(p, i) * x[i];
	return s;
}

void vecops_axpy_f32_avx2(float a, const float *x, float *y, int64_t n)
{
	const __m256 va = _mm256_set1_ps(a);
	int64_t i = 0;
	for (; i + W <= n; i += W)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * x[i];
}

void vecops_axpy_f16_avx2(float a, const void *h, float *y, int64_t n)
{
	const unsigned char *p = h;
	const __m256 va = _mm256_set1_ps(a);
	int64_t i = 0;
	for (; i + W <= n; i += W)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, LOAD_H(i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * half_at(p, i);
}
