/*
 * kernels_int.h - the per-level kernel tables behind include/ajar/kernels.h,
 * and the prototypes of every kernel that fills them.
 *
 * Three kinds of kernel, each with one signature for all types:
 *
 *   act_quantize_fn   n floats -> one activation row (Q8_0, Q8_1, Q8_K)
 *   vec_dot_fn        one weight row . one activation row -> float
 *   gemm_fn           rows [r0, r1) of W against n_tok activation rows
 *                     (the arguments of ajar_gemm, after the type)
 *
 * A level's table (struct kernel_table) holds them indexed by enum ajar_type:
 * act_quantize by the activation type, vec_dot and gemm by the weight type.
 * A NULL slot means "this level has nothing of its own for that type", and
 * kernels.c resolves it at init from the level below (avx512 -> avx2 ->
 * scalar). For a weight type a level may give only vec_dot (ajar_gemm then
 * loops over rows and tokens) or only gemm (ajar_vec_dot then runs it on one
 * row and one token). A type no level fills is unsupported
 * (ajar_gemm_supports() is false).
 *
 * Adding kernels for a type (the K-quants, say): declare them here, define
 * them in a file of the right level (scalar in a plain .c, SIMD in a file
 * named *_avx2.c / *_avx512.c, which CMake compiles for that instruction
 * set), and add them to the tables in kernels.c. The scalar level is the
 * reference the others are tested against (tests/unit/test_kernels.c).
 *
 * Pointer conventions of every kernel: weight rows and activation rows may
 * sit at any byte address (GGUF rows of Q4_0 are 18 * k bytes apart); kernels
 * copy blocks out or use unaligned loads, never dereference a cast pointer.
 * n is a multiple of the type's block size. Output rows y are floats at
 * natural alignment.
 */
#ifndef AJAR_TENSOR_KERNELS_INT_H
#define AJAR_TENSOR_KERNELS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ajar/kernels.h"
#include "ajar/tensor.h"

/* x: n floats; out: the activation row (ajar_row_size(act_type, n) bytes). */
typedef void (*act_quantize_fn)(const float *x, void *out, int64_t n);
/* w: one weight row of n values; act: one activation row of n values. */
typedef float (*vec_dot_fn)(const void *w, const void *act, int64_t n);
/* As ajar_gemm(), less the weight type. */
typedef void (*gemm_fn)(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
			size_t act_stride, int64_t n_tok, float *y, size_t y_stride);

struct kernel_table {
	act_quantize_fn act_quantize[AJAR_TYPE_COUNT]; /* by activation type */
	vec_dot_fn vec_dot[AJAR_TYPE_COUNT];           /* by weight type */
	gemm_fn gemm[AJAR_TYPE_COUNT];                 /* by weight type */
};

/*
 * The level's parser for AJAR_CPU, exposed for the unit test: "scalar",
 * "avx2" or "avx512" (case-insensitive) into *out. AJAR_ERR_INVALID with a
 * message for any other string or for a level above max (the best the CPU
 * supports).
 */
enum ajar_err kernels_parse_level(const char *s, enum ajar_cpu_level max, enum ajar_cpu_level *out) AJAR_MUST_CHECK;

/* ---- scalar reference (kernels_scalar.c) -------------------------------- */

/* llama.cpp's quantize_row_q8_0_ref / quantize_row_q8_1_ref. */
void act_quantize_q8_0_ref(const float *x, void *out, int64_t n);
void act_quantize_q8_1_ref(const float *x, void *out, int64_t n);
/* Halves for F16 weights, rounded to nearest even (every level bit-equal). */
void act_quantize_f16_ref(const float *x, void *out, int64_t n);

/* F32 / BF16 rows with F32 activations, F16 rows with F16 activations: f32
 * products summed in row order (ajar_vec_dot_f32's definition). */
float vec_dot_f32_ref(const void *w, const void *act, int64_t n);
float vec_dot_f16_ref(const void *w, const void *act, int64_t n);
float vec_dot_bf16_ref(const void *w, const void *act, int64_t n);
/* Quantized rows with Q8_0 / Q8_1 activations: each block's integer dot
 * product is exact, and contributes (d_w * d_a) * sumi (+ m_w * s_a) in f32,
 * added block by block in row order. */
float vec_dot_q4_0_ref(const void *w, const void *act, int64_t n);
float vec_dot_q4_1_ref(const void *w, const void *act, int64_t n);
float vec_dot_q5_0_ref(const void *w, const void *act, int64_t n);
float vec_dot_q5_1_ref(const void *w, const void *act, int64_t n);
float vec_dot_q8_0_ref(const void *w, const void *act, int64_t n);

/* ---- AVX2 + FMA + F16C (kernels_avx2.c) --------------------------------- */

void act_quantize_q8_0_avx2(const float *x, void *out, int64_t n);
void act_quantize_q8_1_avx2(const float *x, void *out, int64_t n);
void act_quantize_f16_avx2(const float *x, void *out, int64_t n);
void gemm_f32_avx2(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		   size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_f16_avx2(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		   size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_bf16_avx2(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		    size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_q4_0_avx2(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		    size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_q4_1_avx2(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		    size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_q5_0_avx2(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		    size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_q5_1_avx2(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		    size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_q8_0_avx2(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		    size_t act_stride, int64_t n_tok, float *y, size_t y_stride);

/* ---- AVX-512 F/BW/VL/DQ + VNNI (kernels_avx512.c) ------------------------ */

void act_quantize_q8_0_avx512(const float *x, void *out, int64_t n);
void act_quantize_q8_1_avx512(const float *x, void *out, int64_t n);
void act_quantize_f16_avx512(const float *x, void *out, int64_t n);
void gemm_f32_avx512(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		     size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_f16_avx512(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		     size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_bf16_avx512(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		      size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_q4_0_avx512(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		      size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_q4_1_avx512(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		      size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_q5_0_avx512(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		      size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_q5_1_avx512(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		      size_t act_stride, int64_t n_tok, float *y, size_t y_stride);
void gemm_q8_0_avx512(const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1, const void *act,
		      size_t act_stride, int64_t n_tok, float *y, size_t y_stride);

#endif
