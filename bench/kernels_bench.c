/*
 * kernels_bench.c - one thread's speed of ajar_gemm per weight type, CPU
 * level and token count: the matrix-product kernels alone, without the
 * model around them.
 *
 * Build against a build folder's libraries (no CMake target):
 *
 *     cc -O2 -std=gnu11 -Iinclude bench/kernels_bench.c \
 *        build/libajar_tensor.a build/libajar_core.a -lm -lpthread -o /tmp/kernels_bench
 *
 * Run: kernels_bench [types] [levels] [rows] [n_in] [tokens] [seconds]
 *     kernels_bench Q4_0,Q8_0,F16 avx2,avx512 5632 2048 1,64 0.5
 *
 * Each configuration runs for the given seconds (at least 3 calls) and the
 * fastest call counts, timed in thread CPU time, so that other processes on
 * a shared machine disturb the figure less (they still share caches and
 * memory bandwidth). Reported: GFLOP/s (2 * rows * n_in * tokens per call)
 * and the weight bytes read per second, the figure that matters for
 * decoding (tokens = 1). The weights are quantized from uniform random
 * values; activations are converted once, outside the timing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ajar/kernels.h"
#include "ajar/tensor.h"

static double thread_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static unsigned long long rng = 88172645463325252ull;

static float uniform(void) /* [-1, 1) */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((double)(rng >> 11) * 0x1p-52 - 1.0);
}

/* Is `name` an item of the comma-separated list? */
static int listed(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return 1;
	return 0;
}

static void bench_one(enum ajar_type t, const uint8_t *w, size_t w_stride, int rows, int n, int n_tok,
		      const char *levels, double seconds)
{
	const size_t as = ajar_act_row_size(t, n);
	uint8_t *act = malloc(as * (size_t)n_tok);
	float *x = malloc(sizeof(float) * (size_t)n);
	float *y = malloc(sizeof(float) * (size_t)rows * (size_t)n_tok);
	if (!act || !x || !y) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (int tok = 0; tok < n_tok; tok++) {
		for (int i = 0; i < n; i++)
			x[i] = uniform();
		ajar_act_quantize(ajar_act_type(t), x, act + as * (size_t)tok, n);
	}
	for (int l = AJAR_CPU_SCALAR; l <= AJAR_CPU_AVX512; l++) {
		const char *name = ajar_cpu_level_name((enum ajar_cpu_level)l);
		if (!listed(levels, name))
			continue;
		if (ajar_cpu_level_set((enum ajar_cpu_level)l) != AJAR_OK) {
			printf("%-5s %-6s not supported by this CPU\n", ajar_type_name(t), name);
			continue;
		}
		double best = 1e30, start = wall_seconds();
		for (int calls = 0; calls < 3 || wall_seconds() - start < seconds; calls++) {
			const double t0 = thread_seconds();
			ajar_gemm(t, w, w_stride, n, 0, rows, act, as, n_tok, y, (size_t)rows);
			const double dt = thread_seconds() - t0;
			best = dt < best ? dt : best;
		}
		printf("%-5s %-6s rows=%d n_in=%d tokens=%-4d %9.3f ms %8.1f GFLOP/s %7.1f GB/s of weights\n",
		       ajar_type_name(t), name, rows, n, n_tok, best * 1e3, 2.0 * rows * n * n_tok / best * 1e-9,
		       (double)w_stride * rows / best * 1e-9);
	}
	free(act);
	free(x);
	free(y);
}

int main(int argc, char **argv)
{
	const char *types = argc > 1 ? argv[1] : "Q4_0,Q8_0,F16";
	const char *levels = argc > 2 ? argv[2] : "scalar,avx2,avx512";
	const int rows = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5632;
	const int n = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 2048;
	const char *tokens = argc > 5 ? argv[5] : "1,64";
	const double seconds = argc > 6 ? strtod(argv[6], NULL) : 0.5;

	if (rows <= 0 || n <= 0 || n % 32 != 0) {
		fprintf(stderr, "rows must be positive and n_in a positive multiple of 32\n");
		return 2;
	}
	for (int ti = 0; ti < AJAR_TYPE_COUNT; ti++) {
		const enum ajar_type t = (enum ajar_type)ti;
		if (!ajar_type_traits((uint32_t)ti) || !listed(types, ajar_type_name((uint32_t)ti)))
			continue;
		if (!ajar_gemm_supports(t)) {
			printf("%-5s no kernels\n", ajar_type_name((uint32_t)ti));
			continue;
		}
		const size_t w_stride = ajar_row_size(t, n);
		uint8_t *w = malloc(w_stride * (size_t)rows);
		float *v = malloc(sizeof(float) * (size_t)n);
		if (!w || !v) {
			fprintf(stderr, "out of memory\n");
			return 1;
		}
		for (int r = 0; r < rows; r++) {
			for (int i = 0; i < n; i++)
				v[i] = uniform();
			ajar_quantize_row(t, v, w + w_stride * (size_t)r, n);
		}
		for (const char *p = tokens; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
			const int n_tok = (int)strtol(p, NULL, 10);
			if (n_tok > 0)
				bench_one(t, w, w_stride, rows, n, n_tok, levels, seconds);
		}
		free(w);
		free(v);
	}
	return 0;
}
