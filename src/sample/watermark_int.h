/*
 * watermark_int.h - the watermark's per-step loops, shared by watermark.c
 * (scalar reference and dispatch) and watermark_avx512.c, and exposed to
 * tests/unit/test_watermark.c so the levels can be checked to agree.
 *
 * Both loops add delta to logits[v], v in [begin, end), exactly when v is green:
 *   left-hash:  mix64(seed ^ v * WATERMARK_MUL) < thr
 *   self-hash:  m = min(f[v], ctx_min); mix64((m * f[v]) ^ v * WATERMARK_MUL) < thr
 * The result is bit-identical at every level (integer tests, one float add).
 */
#ifndef AJAR_SAMPLE_WATERMARK_INT_H
#define AJAR_SAMPLE_WATERMARK_INT_H

#include <stdbool.h>
#include <stdint.h>

/* An odd constant (2^64 / golden ratio) spreads consecutive token ids over
 * the whole word before mixing. */
#define WATERMARK_MUL UINT64_C(0x9E3779B97F4A7C15)

/* splitmix64's finalizer (Steele, Lea, Flood 2014): invertible, and every
 * input bit flips each output bit with probability about 1/2. */
static inline uint64_t watermark_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Scalar references (watermark.c). */
void watermark_apply_left_scalar(float *logits, int32_t begin, int32_t end, uint64_t seed, uint64_t thr,
				 float delta);
void watermark_apply_self_scalar(float *logits, int32_t begin, int32_t end, const uint64_t *f, uint64_t ctx_min,
				 uint64_t thr, float delta);

/* AVX-512 (F, DQ, VL) versions (watermark_avx512.c): 8 tokens per step with
 * 64-bit lane multiplies; callers check watermark_have_avx512() first. */
void watermark_apply_left_avx512(float *logits, int32_t n, uint64_t seed, uint64_t thr, float delta);
void watermark_apply_self_avx512(float *logits, int32_t n, const uint64_t *f, uint64_t ctx_min, uint64_t thr,
				 float delta);

/* True if the CPU has AVX-512 F/DQ/VL and AJAR_CPU does not ask for a lower
 * level ("scalar" or "avx2"), as the matrix kernels honour it. */
bool watermark_have_avx512(void);

#endif
