/*
 * kernels.h - the compute kernels behind every matrix product, with runtime
 * CPU dispatch.
 *
 * A matrix product y = W x over a batch of tokens runs in two steps:
 *
 *   1. each activation row x[t] (n_in floats) is converted once to the
 *      weight type's activation format, ajar_act_type(wtype):
 *        F32, BF16 weights               -> F32 (used as is, no conversion)
 *        F16                             -> F16 (rounded to nearest even)
 *        Q4_0, Q5_0, Q8_0, IQ4_NL        -> Q8_0 (32 int8 + f16 scale)
 *        Q4_1, Q5_1                      -> Q8_1 (32 int8 + f16 scale + f16 scale*sum)
 *        Q2_K .. Q6_K                    -> Q8_K (256 int8 + f32 scale + 16 int16 sums)
 *      These are llama.cpp's activation formats, so results agree with it
 *      closely. Conversion is split over threads by row.
 *   2. ajar_gemm() computes rows [r0, r1) of W against all n_tok converted
 *      rows; threads take disjoint row ranges. Inside, the kernel chooses
 *      its own tiling (several weight rows x several tokens per step for
 *      prompt processing, one token for decoding).
 *
 * Levels: scalar (portable C, the reference every other level is tested
 * against), avx2 (AVX2 + FMA + F16C), avx512 (AVX-512 F/BW/VL/DQ, plus VNNI
 * and BF16 where present). The best level the CPU supports is chosen at
 * first use; the environment variable AJAR_CPU=scalar|avx2|avx512 forces a
 * level (never one the CPU lacks: that is refused with a message).
 *
 * All functions are thread-safe; ajar_kernels_init() is idempotent and also
 * run implicitly on first use.
 */
#ifndef AJAR_KERNELS_H
#define AJAR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"
#include "ajar/tensor.h"

enum ajar_cpu_level {
	AJAR_CPU_SCALAR = 0,
	AJAR_CPU_AVX2 = 1,
	AJAR_CPU_AVX512 = 2,
};

/* Detects the CPU and applies AJAR_CPU. Returns AJAR_ERR_INVALID (with a
 * message) if AJAR_CPU names an unknown level or one this CPU lacks; the
 * best supported level is then used. */
enum ajar_err ajar_kernels_init(void);
enum ajar_cpu_level ajar_cpu_level(void);       /* the level in use */
enum ajar_cpu_level ajar_cpu_level_max(void);   /* the best this CPU supports */
const char *ajar_cpu_level_name(enum ajar_cpu_level level); /* "scalar", "avx2", "avx512" */
/* For tests: use `level` from now on (AJAR_ERR_UNSUPPORTED if the CPU lacks it). */
enum ajar_err ajar_cpu_level_set(enum ajar_cpu_level level) AJAR_MUST_CHECK;

/* True if ajar_gemm() accepts weights of this type. */
bool ajar_gemm_supports(enum ajar_type wtype);

/* The activation format for weights of wtype (see above). */
enum ajar_type ajar_act_type(enum ajar_type wtype);
/* Bytes of one converted activation row of n values (n a multiple of the
 * weight type's block size). */
size_t ajar_act_row_size(enum ajar_type wtype, int64_t n);
/* Converts one row of n floats to act_type (Q8_0, Q8_1, Q8_K or F16; F32 is a
 * copy). Q8_* round as llama.cpp's quantize_row_q8_*, F16 to nearest even. */
void ajar_act_quantize(enum ajar_type act_type, const float *x, void *out, int64_t n);

/*
 * y[t * y_stride + r] = dot(row r of W, activation row t) for r in [r0, r1),
 * t in [0, n_tok).
 *   w:     row 0 of W; row r at w + r * w_stride bytes (rows of n_in values
 *          of wtype)
 *   act:   n_tok converted activation rows, act_stride bytes apart
 * The sum order differs between levels; each level agrees with the scalar
 * level within a stated tolerance (tests/unit/test_kernels.c).
 */
void ajar_gemm(enum ajar_type wtype, const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1,
	       const void *act, size_t act_stride, int64_t n_tok, float *y, size_t y_stride);

/* One dot product, the unit ajar_gemm is built from (and the scalar
 * reference's definition): weight row w (n values of wtype) with one
 * converted activation row. */
float ajar_vec_dot(enum ajar_type wtype, const void *w, const void *act, int64_t n);

/*
 * Vector primitives of attention, dispatched like the rest: dot products and
 * y += a*x over F32 rows and F16 rows (the KV cache's element types).
 * Levels agree with the scalar one within float reassociation
 * (tests/unit/test_vecops.c).
 */
float ajar_dot_f32(const float *a, const float *b, int64_t n);
float ajar_dot_f16(const void *h, const float *x, int64_t n); /* h: n IEEE halves, any alignment */
void ajar_axpy_f32(float a, const float *x, float *y, int64_t n);
void ajar_axpy_f16(float a, const void *h, float *y, int64_t n);
/* Over n_rows rows `stride` bytes apart (a KV cache): out[r] = scale *
 * dot(row r, x), and y += sum_r a[r] * row r. Equal to the one-row forms
 * applied row by row at the same level (same sums, same order). */
void ajar_dots_f32(const void *rows, size_t stride, int64_t n_rows, const float *x, int64_t n, float scale, float *out);
void ajar_dots_f16(const void *rows, size_t stride, int64_t n_rows, const float *x, int64_t n, float scale, float *out);
void ajar_axpys_f32(const float *a, const void *rows, size_t stride, int64_t n_rows, float *y, int64_t n);
void ajar_axpys_f16(const float *a, const void *rows, size_t stride, int64_t n_rows, float *y, int64_t n);

#endif
