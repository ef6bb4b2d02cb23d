/*
 * kernels.c - CPU detection, the AJAR_CPU override, the per-level kernel
 * tables and the public entry points of include/ajar/kernels.h.
 *
 * Layout: the static tables of what each level provides (filled from the
 * prototypes in kernels_int.h; add new kernels there), detection and level
 * parsing, init (which resolves each level's NULL slots from the level
 * below, once), then the public functions.
 *
 * Threads: init runs once under pthread_once; the resolved tables and the
 * detected maximum are written only there and read-only afterwards
 * (pthread_once orders the writes before every later reader). The level in
 * use is an atomic int, so ajar_cpu_level_set() may race with kernels
 * running on other threads: each call picks one level's table and keeps it.
 */
#include "ajar/kernels.h"

#include <assert.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tensor/kernels_int.h"
#include "tensor/kquants_int.h"

#define N_LEVELS 3

static const struct kernel_table scalar_table = {
	.act_quantize = {
		[AJAR_TYPE_Q8_0] = act_quantize_q8_0_ref,
		[AJAR_TYPE_Q8_1] = act_quantize_q8_1_ref,
		[AJAR_TYPE_F16] = act_quantize_f16_ref,
	},
	.vec_dot = {
		[AJAR_TYPE_F32] = vec_dot_f32_ref,
		[AJAR_TYPE_F16] = vec_dot_f16_ref,
		[AJAR_TYPE_BF16] = vec_dot_bf16_ref,
		[AJAR_TYPE_Q4_0] = vec_dot_q4_0_ref,
		[AJAR_TYPE_Q4_1] = vec_dot_q4_1_ref,
		[AJAR_TYPE_Q5_0] = vec_dot_q5_0_ref,
		[AJAR_TYPE_Q5_1] = vec_dot_q5_1_ref,
		[AJAR_TYPE_Q8_0] = vec_dot_q8_0_ref,
	},
};

static const struct kernel_table avx2_table = {
	.act_quantize = {
		[AJAR_TYPE_Q8_0] = act_quantize_q8_0_avx2,
		[AJAR_TYPE_Q8_1] = act_quantize_q8_1_avx2,
		[AJAR_TYPE_F16] = act_quantize_f16_avx2,
	},
	.gemm = {
		[AJAR_TYPE_F32] = gemm_f32_avx2,
		[AJAR_TYPE_F16] = gemm_f16_avx2,
		[AJAR_TYPE_BF16] = gemm_bf16_avx2,
		[AJAR_TYPE_Q4_0] = gemm_q4_0_avx2,
		[AJAR_TYPE_Q4_1] = gemm_q4_1_avx2,
		[AJAR_TYPE_Q5_0] = gemm_q5_0_avx2,
		[AJAR_TYPE_Q5_1] = gemm_q5_1_avx2,
		[AJAR_TYPE_Q8_0] = gemm_q8_0_avx2,
	},
};

/* Needs AVX-512 F/BW/VL/DQ. */
static const struct kernel_table avx512_table = {
	.act_quantize = {
		[AJAR_TYPE_Q8_0] = act_quantize_q8_0_avx512,
		[AJAR_TYPE_Q8_1] = act_quantize_q8_1_avx512,
		[AJAR_TYPE_F16] = act_quantize_f16_avx512,
	},
	.gemm = {
		[AJAR_TYPE_F32] = gemm_f32_avx512,
		[AJAR_TYPE_F16] = gemm_f16_avx512,
		[AJAR_TYPE_BF16] = gemm_bf16_avx512,
	},
};

/* Needs VNNI besides (vpdpbusd); on AVX-512 CPUs without it (Skylake-X) the
 * quantized types run the AVX2 kernels. */
static const struct kernel_table avx512_vnni_table = {
	.gemm = {
		[AJAR_TYPE_Q4_0] = gemm_q4_0_avx512,
		[AJAR_TYPE_Q4_1] = gemm_q4_1_avx512,
		[AJAR_TYPE_Q5_0] = gemm_q5_0_avx512,
		[AJAR_TYPE_Q5_1] = gemm_q5_1_avx512,
		[AJAR_TYPE_Q8_0] = gemm_q8_0_avx512,
	},
};

/* Written once by init_once(), read-only afterwards. */
static struct kernel_table resolved[N_LEVELS];
static enum ajar_cpu_level level_max;
static enum ajar_err init_err;      /* what AJAR_CPU parsing returned */
static char init_msg[160];          /* its message, replayed by ajar_kernels_init() */

static atomic_int level_current;    /* the level in use; any thread may set it */
static pthread_once_t init_control = PTHREAD_ONCE_INIT;

static const char *const level_names[N_LEVELS] = { "scalar", "avx2", "avx512" };

const char *ajar_cpu_level_name(enum ajar_cpu_level level)
{
	if ((unsigned)level >= N_LEVELS)
		return "unknown";
	return level_names[level];
}

enum ajar_err kernels_parse_level(const char *s, enum ajar_cpu_level max, enum ajar_cpu_level *out)
{
	for (int l = 0; l < N_LEVELS; l++) {
		if (strcasecmp(s, level_names[l]) != 0)
			continue;
		if (l > (int)max)
			return ajar_errf(AJAR_ERR_INVALID, "AJAR_CPU=%s: this CPU supports at most %s", s,
					 level_names[max]);
		*out = (enum ajar_cpu_level)l;
		return AJAR_OK;
	}
	return ajar_errf(AJAR_ERR_INVALID, "AJAR_CPU=%s: unknown level (scalar, avx2 or avx512)", s);
}

#if defined(__x86_64__) || defined(__i386__)
/* CPUID.1:ECX bit 29. (Not every compiler's __builtin_cpu_supports knows
 * "f16c"; the OS state it needs is AVX's, which the avx2 check covers.) */
static bool cpu_has_f16c(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

static enum ajar_cpu_level detect_level(bool *vnni)
{
	enum ajar_cpu_level l = AJAR_CPU_SCALAR;
	*vnni = false;
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c())
		l = AJAR_CPU_AVX2;
	if (l == AJAR_CPU_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
		l = AJAR_CPU_AVX512;
		*vnni = __builtin_cpu_supports("avx512vnni");
	}
#endif
	return l;
}

/* dst's empty slots take src's (the level below). A weight type's vec_dot
 * and gemm travel together, so a level that has either keeps its own. */
static void inherit(struct kernel_table *dst, const struct kernel_table *src)
{
	for (int t = 0; t < AJAR_TYPE_COUNT; t++) {
		if (!dst->act_quantize[t])
			dst->act_quantize[t] = src->act_quantize[t];
		if (!dst->vec_dot[t] && !dst->gemm[t]) {
			dst->vec_dot[t] = src->vec_dot[t];
			dst->gemm[t] = src->gemm[t];
		}
	}
}

/* Overlays the non-NULL slots of src on dst. */
static void overlay(struct kernel_table *dst, const struct kernel_table *src)
{
	for (int t = 0; t < AJAR_TYPE_COUNT; t++) {
		if (src->act_quantize[t])
			dst->act_quantize[t] = src->act_quantize[t];
		if (src->vec_dot[t] || src->gemm[t]) {
			dst->vec_dot[t] = src->vec_dot[t];
			dst->gemm[t] = src->gemm[t];
		}
	}
}

static void init_once(void)
{
	bool vnni;
	const char *env = getenv("AJAR_CPU");
	enum ajar_cpu_level level;

	level_max = detect_level(&vnni);
	resolved[AJAR_CPU_SCALAR] = scalar_table;
	resolved[AJAR_CPU_AVX2] = avx2_table;
	resolved[AJAR_CPU_AVX512] = avx512_table;
	if (vnni)
		overlay(&resolved[AJAR_CPU_AVX512], &avx512_vnni_table);
	for (int l = 0; l < N_LEVELS; l++) /* the K-quants and IQ4_NL (kquants_int.h) */
		overlay(&resolved[l], &kquants_tables[l]);
	for (int l = 1; l < N_LEVELS; l++)
		inherit(&resolved[l], &resolved[l - 1]);

	level = level_max;
	init_err = AJAR_OK;
	if (env && *env) {
		enum ajar_cpu_level want;
		init_err = kernels_parse_level(env, level_max, &want);
		if (init_err == AJAR_OK)
			level = want;
		else
			snprintf(init_msg, sizeof(init_msg), "%s; using %s", ajar_err_msg(), level_names[level_max]);
	}
	atomic_store(&level_current, (int)level);
}

enum ajar_err ajar_kernels_init(void)
{
	pthread_once(&init_control, init_once);
	if (init_err)
		return ajar_errf(init_err, "%s", init_msg);
	return AJAR_OK;
}

/* The table of the level in use, initializing on first use. */
static const struct kernel_table *current_table(void)
{
	pthread_once(&init_control, init_once);
	return &resolved[atomic_load_explicit(&level_current, memory_order_relaxed)];
}

enum ajar_cpu_level ajar_cpu_level(void)
{
	pthread_once(&init_control, init_once);
	return (enum ajar_cpu_level)atomic_load(&level_current);
}

enum ajar_cpu_level ajar_cpu_level_max(void)
{
	pthread_once(&init_control, init_once);
	return level_max;
}

enum ajar_err ajar_cpu_level_set(enum ajar_cpu_level level)
{
	pthread_once(&init_control, init_once);
	if ((unsigned)level >= N_LEVELS)
		return ajar_errf(AJAR_ERR_INVALID, "CPU level %d does not exist", (int)level);
	if (level > level_max)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "CPU level %s: this CPU supports at most %s",
				 level_names[level], level_names[level_max]);
	atomic_store(&level_current, (int)level);
	return AJAR_OK;
}

/*
 * The activation format of each weight type is llama.cpp's vec_dot_type, so
 * activations match llama.cpp's. For types without kernels the answer is
 * what they would use; it means nothing unless ajar_gemm_supports() says so.
 */
enum ajar_type ajar_act_type(enum ajar_type wtype)
{
	switch (wtype) {
	case AJAR_TYPE_F16:
		return AJAR_TYPE_F16;
	case AJAR_TYPE_Q4_0:
	case AJAR_TYPE_Q5_0:
	case AJAR_TYPE_Q8_0:
	case AJAR_TYPE_IQ4_NL:
		return AJAR_TYPE_Q8_0;
	case AJAR_TYPE_Q4_1:
	case AJAR_TYPE_Q5_1:
	case AJAR_TYPE_Q8_1:
		return AJAR_TYPE_Q8_1;
	case AJAR_TYPE_Q2_K:
	case AJAR_TYPE_Q3_K:
	case AJAR_TYPE_Q4_K:
	case AJAR_TYPE_Q5_K:
	case AJAR_TYPE_Q6_K:
	case AJAR_TYPE_Q8_K:
	case AJAR_TYPE_IQ2_XXS:
	case AJAR_TYPE_IQ2_XS:
	case AJAR_TYPE_IQ3_XXS:
	case AJAR_TYPE_IQ1_S:
	case AJAR_TYPE_IQ3_S:
	case AJAR_TYPE_IQ2_S:
	case AJAR_TYPE_IQ4_XS:
	case AJAR_TYPE_IQ1_M:
	case AJAR_TYPE_TQ1_0:
	case AJAR_TYPE_TQ2_0:
		return AJAR_TYPE_Q8_K;
	default:
		return AJAR_TYPE_F32;
	}
}

size_t ajar_act_row_size(enum ajar_type wtype, int64_t n)
{
	return ajar_row_size(ajar_act_type(wtype), n);
}

bool ajar_gemm_supports(enum ajar_type wtype)
{
	const struct kernel_table *t = current_table();
	enum ajar_type at;
	if ((unsigned)wtype >= AJAR_TYPE_COUNT || (!t->vec_dot[wtype] && !t->gemm[wtype]))
		return false;
	at = ajar_act_type(wtype);
	return at == AJAR_TYPE_F32 || t->act_quantize[at] != NULL;
}

void ajar_act_quantize(enum ajar_type act_type, const float *x, void *out, int64_t n)
{
	assert(n >= 0);
	if (n == 0)
		return;
	if (act_type == AJAR_TYPE_F32) {
		memcpy(out, x, (size_t)n * sizeof(float));
		return;
	}
	const struct kernel_table *t = current_table();
	assert((unsigned)act_type < AJAR_TYPE_COUNT && t->act_quantize[act_type]);
	t->act_quantize[act_type](x, out, n);
}

void ajar_gemm(enum ajar_type wtype, const void *w, size_t w_stride, int64_t n_in, int64_t r0, int64_t r1,
	       const void *act, size_t act_stride, int64_t n_tok, float *y, size_t y_stride)
{
	const struct kernel_table *t = current_table();
	assert((unsigned)wtype < AJAR_TYPE_COUNT);
	assert(0 <= r0 && r0 <= r1 && n_tok >= 0 && n_in >= 0);
	if (r0 == r1 || n_tok == 0)
		return;
	if (t->gemm[wtype]) {
		t->gemm[wtype](w, w_stride, n_in, r0, r1, act, act_stride, n_tok, y, y_stride);
		return;
	}
	vec_dot_fn dot = t->vec_dot[wtype];
	const uint8_t *pw = w;   /* rows w_stride bytes apart */
	const uint8_t *pa = act; /* rows act_stride bytes apart */
	assert(dot);
	for (int64_t tok = 0; tok < n_tok; tok++)
		for (int64_t r = r0; r < r1; r++)
			y[(size_t)tok * y_stride + (size_t)r] =
				dot(pw + (size_t)r * w_stride, pa + (size_t)tok * act_stride, n_in);
}

float ajar_vec_dot(enum ajar_type wtype, const void *w, const void *act, int64_t n)
{
	const struct kernel_table *t = current_table();
	float y = 0.0f;
	assert((unsigned)wtype < AJAR_TYPE_COUNT);
	if (t->vec_dot[wtype])
		return t->vec_dot[wtype](w, act, n);
	assert(t->gemm[wtype]);
	t->gemm[wtype](w, 0, n, 0, 1, act, 0, 1, &y, 0);
	return y;
}
