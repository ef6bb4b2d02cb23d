/*
 * vecops_int.h - the AVX2 and AVX-512 attention primitives (vecops_avx2.c,
 * vecops_avx512.c), dispatched from vecops.c; kernels.h documents them.
 */
#ifndef AJAR_TENSOR_VECOPS_INT_H
#define AJAR_TENSOR_VECOPS_INT_H

#include <stddef.h>
#include <stdint.h>

float vecops_dot_f32_avx2(const float *a, const float *b, int64_t n);
float vecops_dot_f16_avx2(const void *h, const float *x, int64_t n);
void vecops_axpy_f32_avx2(float a, const float *x, float *y, int64_t n);
void vecops_axpy_f16_avx2(float a, const void *h, float *y, int64_t n);
void vecops_dots_f32_avx2(const void *rows, size_t stride, int64_t n_rows, const float *x, int64_t n, float scale,
			 float *out);
void vecops_dots_f16_avx2(const void *rows, size_t stride, int64_t n_rows, const float *x, int64_t n, float scale,
			 float *out);
void vecops_axpys_f32_avx2(const float *a, const void *rows, size_t stride, int64_t n_rows, float *y, int64_t n);
void vecops_axpys_f16_avx2(const float *a, const void *rows, size_t stride, int64_t n_rows, float *y, int64_t n);

float vecops_dot_f32_avx512(const float *a, const float *b, int64_t n);
float vecops_dot_f16_avx512(const void *h, const float *x, int64_t n);
void vecops_axpy_f32_avx512(float a, const float *x, float *y, int64_t n);
void vecops_axpy_f16_avx512(float a, const void *h, float *y, int64_t n);
void vecops_dots_f32_avx512(const void *rows, size_t stride, int64_t n_rows, const float *x, int64_t n, float scale,
			 float *out);
void vecops_dots_f16_avx512(const void *rows, size_t stride, int64_t n_rows, const float *x, int64_t n, float scale,
			 float *out);
void vecops_axpys_f32_avx512(const float *a, const void *rows, size_t stride, int64_t n_rows, float *y, int64_t n);
void vecops_axpys_f16_avx512(const float *a, const void *rows, size_t stride, int64_t n_rows, float *y, int64_t n);

#endif
