/*
 * vecops_avx2.c - attention's vector primitives for avx2: 8 floats per
 * register, F16 rows widened with F16C. The code is vecops_body.h; this file
 * names the instructions. Compiled with this ISA's flags (CMakeLists.txt);
 * called only at that level.
 */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/vecops_int.h"


static inline float hsum256(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

#define W 8
#define VEC __m256
#define VZERO _mm256_setzero_ps
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VSET1 _mm256_set1_ps
#define VADD _mm256_add_ps
#define VFMA _mm256_fmadd_ps
#define VREDUCE(v) hsum256(v)
#define LOAD_H(i) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * (i))))
#define FN(name) name##_avx2

#include "tensor/vecops_body.h"
