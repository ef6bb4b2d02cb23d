/*
 * watermark_avx512.c - the watermark's per-step loops (watermark_int.h) for
 * AVX-512: eight 64-bit lanes, so the three 64-bit multiplies per token
 * (v * WATERMARK_MUL and two in mix64) are vpmullq instead of scalar imul,
 * about ten times faster than the scalar loop at a 128k vocabulary. The
 * compare gives a mask and the add is masked, so green tokens get exactly
 * logits[v] + delta as in the scalar reference. The tail is scalar.
 */
#include "sample/watermark_int.h"

#include <immintrin.h>

static inline __m512i mix64_x8(__m512i z)
{
	z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 30));
	z = _mm512_mullo_epi64(z, _mm512_set1_epi64((long long)UINT64_C(0xBF58476D1CE4E5B9)));
	z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 27));
	z = _mm512_mullo_epi64(z, _mm512_set1_epi64((long long)UINT64_C(0x94D049BB133111EB)));
	return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/* Lanes v..v+7 times WATERMARK_MUL (ids are non-negative int32). */
static inline __m512i ids_times_mul(int32_t v)
{
	const __m512i iota = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
	__m512i ids = _mm512_add_epi64(_mm512_set1_epi64(v), iota);
	return _mm512_mullo_epi64(ids, _mm512_set1_epi64((long long)WATERMARK_MUL));
}

static inline void masked_add(float *logits, __mmask8 green, __m256 d)
{
	__m256 l = _mm256_loadu_ps(logits);
	_mm256_storeu_ps(logits, _mm256_mask_add_ps(l, green, l, d));
}

void watermark_apply_left_avx512(float *logits, int32_t n, uint64_t seed, uint64_t thr, float delta)
{
	const __m512i s = _mm512_set1_epi64((long long)seed), t = _mm512_set1_epi64((long long)thr);
	const __m256 d = _mm256_set1_ps(delta);
	int32_t v = 0;
	for (; v + 8 <= n; v += 8) {
		__m512i h = mix64_x8(_mm512_xor_si512(s, ids_times_mul(v)));
		masked_add(logits + v, _mm512_cmplt_epu64_mask(h, t), d);
	}
	watermark_apply_left_scalar(logits, v, n, seed, thr, delta);
}

void watermark_apply_self_avx512(float *logits, int32_t n, const uint64_t *f, uint64_t ctx_min, uint64_t thr,
				 float delta)
{
	const __m512i c = _mm512_set1_epi64((long long)ctx_min), t = _mm512_set1_epi64((long long)thr);
	const __m256 d = _mm256_set1_ps(delta);
	int32_t v = 0;
	for (; v + 8 <= n; v += 8) {
		__m512i fv = _mm512_loadu_si512(f + v);
		__m512i seed = _mm512_mullo_epi64(_mm512_min_epu64(fv, c), fv);
		__m512i h = mix64_x8(_mm512_xor_si512(seed, ids_times_mul(v)));
		masked_add(logits + v, _mm512_cmplt_epu64_mask(h, t), d);
	}
	watermark_apply_self_scalar(logits, v, n, f, ctx_min, thr, delta);
}
