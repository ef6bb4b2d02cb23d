/*
 * vecops_avx512.c - attention's vector primitives for avx512: 16 floats per
 * register, F16 rows widened with F16C. The code is vecops_body.h; this file
 * names the instructions. Compiled with this ISA's flags (CMakeLists.txt);
 * called only at that level.
 */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/vecops_int.h"


#define W 16
#define VEC __m512
#define VZERO _mm512_setzero_ps
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VSET1 _mm512_set1_ps
#define VADD _mm512_add_ps
#define VFMA _mm512_fmadd_ps
#define VREDUCE(v) _mm512_reduce_add_ps(v)
#define LOAD_H(i) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 2 * (i))))
#define FN(name) name##_avx512

#include "tensor/vecops_body.h"
