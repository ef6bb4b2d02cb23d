/*
 * vecops_body.h - the body of attention's vector primitives, shared by
 * vecops_avx2.c and vecops_avx512.c, which include it after defining:
 *   W           floats per register
 *   VEC         the register type; VZERO, VLOAD, VSTORE, VSET1, VADD, VFMA
 *   VREDUCE(v)  horizontal sum to a float
 *   LOAD_H(i)   W halves at byte offset 2*i of p, widened to VEC
 *   FN(name)    name with the ISA suffix
 * Two accumulators over the body, a scalar tail (half_at for F16 rows).
 * The many-row forms (dots, axpys: attention over a cache) compute exactly
 * what the one-row forms give row by row, without a call per row, and keep
 * y in registers across rows.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensor/f16_int.h"

static inline float half_at(const unsigned char *p, int64_t i)
{
	uint16_t v;
	memcpy(&v, p + 2 * i, 2);
	return f16_to_f32_fast(v);
}

static inline float FN(dot_f32_body)(const float *a, const float *b, int64_t n)
{
	VEC acc = VZERO(), acc2 = VZERO();
	int64_t i = 0;
	for (; i + 2 * W <= n; i += 2 * W) {
		acc = VFMA(VLOAD(a + i), VLOAD(b + i), acc);
		acc2 = VFMA(VLOAD(a + i + W), VLOAD(b + i + W), acc2);
	}
	for (; i + W <= n; i += W)
		acc = VFMA(VLOAD(a + i), VLOAD(b + i), acc);
	acc = VADD(acc, acc2);
	float s = VREDUCE(acc);
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static inline float FN(dot_f16_body)(const void *h, const float *x, int64_t n)
{
	const unsigned char *p = h;
	VEC acc = VZERO(), acc2 = VZERO();
	int64_t i = 0;
	for (; i + 2 * W <= n; i += 2 * W) {
		acc = VFMA(LOAD_H(i), VLOAD(x + i), acc);
		acc2 = VFMA(LOAD_H(i + W), VLOAD(x + i + W), acc2);
	}
	for (; i + W <= n; i += W)
		acc = VFMA(LOAD_H(i), VLOAD(x + i), acc);
	acc = VADD(acc, acc2);
	float s = VREDUCE(acc);
	for (; i < n; i++)
		s += half_at(p, i) * x[i];
	return s;
}

float FN(vecops_dot_f32)(const float *a, const float *b, int64_t n)
{
	return FN(dot_f32_body)(a, b, n);
}

float FN(vecops_dot_f16)(const void *h, const float *x, int64_t n)
{
	return FN(dot_f16_body)(h, x, n);
}

void FN(vecops_dots_f32)(const void *rows, size_t stride, int64_t n_rows, const float *x, int64_t n, float scale,
			 float *out)
{
	const unsigned char *p = rows;
	for (int64_t r = 0; r < n_rows; r++)
		out[r] = FN(dot_f32_body)((const float *)(const void *)(p + (size_t)r * stride), x, n) * scale;
}

void FN(vecops_dots_f16)(const void *rows, size_t stride, int64_t n_rows, const float *x, int64_t n, float scale,
			 float *out)
{
	const unsigned char *p = rows;
	for (int64_t r = 0; r < n_rows; r++)
		out[r] = FN(dot_f16_body)(p + (size_t)r * stride, x, n) * scale;
}

void FN(vecops_axpy_f32)(float a, const float *x, float *y, int64_t n)
{
	const VEC va = VSET1(a);
	int64_t i = 0;
	for (; i + W <= n; i += W)
		VSTORE(y + i, VFMA(va, VLOAD(x + i), VLOAD(y + i)));
	for (; i < n; i++)
		y[i] += a * x[i];
}

void FN(vecops_axpy_f16)(float a, const void *h, float *y, int64_t n)
{
	const unsigned char *p = h;
	const VEC va = VSET1(a);
	int64_t i = 0;
	for (; i + W <= n; i += W)
		VSTORE(y + i, VFMA(va, LOAD_H(i), VLOAD(y + i)));
	for (; i < n; i++)
		y[i] += a * half_at(p, i);
}

/* y += sum over rows r of a[r] * row r, rows `stride` bytes apart; F16 rows
 * if `half`. Per element the same FMAs in the same order as axpy row by row. */
static inline void FN(axpys_body)(bool half, const float *a, const void *rows, size_t stride, int64_t n_rows, float *y,
				  int64_t n)
{
	const unsigned char *base = rows;
	int64_t i = 0;
#define AXPYS_LOAD(p, j) (half ? LOAD_H(j) : VLOAD((const float *)(const void *)(p) + (j)))
	for (; i + 4 * W <= n; i += 4 * W) {
		VEC y0 = VLOAD(y + i), y1 = VLOAD(y + i + W), y2 = VLOAD(y + i + 2 * W), y3 = VLOAD(y + i + 3 * W);
		for (int64_t r = 0; r < n_rows; r++) {
			const unsigned char *p = base + (size_t)r * stride;
			const VEC va = VSET1(a[r]);
			y0 = VFMA(va, AXPYS_LOAD(p, i), y0);
			y1 = VFMA(va, AXPYS_LOAD(p, i + W), y1);
			y2 = VFMA(va, AXPYS_LOAD(p, i + 2 * W), y2);
			y3 = VFMA(va, AXPYS_LOAD(p, i + 3 * W), y3);
		}
		VSTORE(y + i, y0);
		VSTORE(y + i + W, y1);
		VSTORE(y + i + 2 * W, y2);
		VSTORE(y + i + 3 * W, y3);
	}
	for (; i + W <= n; i += W) {
		VEC y0 = VLOAD(y + i);
		for (int64_t r = 0; r < n_rows; r++) {
			const unsigned char *p = base + (size_t)r * stride;
			y0 = VFMA(VSET1(a[r]), AXPYS_LOAD(p, i), y0);
		}
		VSTORE(y + i, y0);
	}
#undef AXPYS_LOAD
	for (; i < n; i++)
		for (int64_t r = 0; r < n_rows; r++) {
			const unsigned char *p = base + (size_t)r * stride;
			float x;
			if (half)
				x = half_at(p, i);
			else
				memcpy(&x, p + 4 * i, sizeof(x));
			y[i] += a[r] * x;
		}
}

void FN(vecops_axpys_f32)(const float *a, const void *rows, size_t stride, int64_t n_rows, float *y, int64_t n)
{
	FN(axpys_body)(false, a, rows, stride, n_rows, y, n);
}

void FN(vecops_axpys_f16)(const float *a, const void *rows, size_t stride, int64_t n_rows, float *y, int64_t n)
{
	FN(axpys_body)(true, a, rows, stride, n_rows, y, n);
}
