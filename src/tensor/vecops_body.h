/*
 * vecops_body.h - the body of attention's vector primitives, shared by
 * vecops_avx2.c and vecops_avx512.c, which include it after defining:
 *   W           floats per register
 *   VEC         the register type; VZERO, VLOAD, VSTORE, VSET1, VADD, VFMA
 *   VREDUCE(v)  horizontal sum to a float
 *   LOAD_H(i)   W halves at byte offset 2*i of p, widened to VEC
 *   FN(name)    name with the ISA suffix
 * Two accumulators over the body, a scalar tail (half_at for F16 rows).
 */
#include <stdint.h>
#include <string.h>

#include "tensor/f16_int.h"

static inline float half_at(const unsigned char *p, int64_t i)
{
	uint16_t v;
	memcpy(&v, p + 2 * i, 2);
	return f16_to_f32_fast(v);
}

float FN(vecops_dot_f32)(const float *a, const float *b, int64_t n)
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

float FN(vecops_dot_f16)(const void *h, const float *x, int64_t n)
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
