/*
 * stream.c - memory bandwidth, STREAM-style: the triad a[i] = b[i] + s * c[i]
 * over three float arrays far larger than any cache, run by T threads, best
 * of R repetitions.
 *
 * Used by bench/compare.sh to put generation speed against its bound: a
 * decoder reads (nearly) every weight once per generated token, so
 * tokens/s <= bandwidth / bytes of weights read per token.
 *
 * Bytes counted per element: 3 x 4 = 12 (read b, read c, write a), STREAM's
 * convention. The hardware usually also reads a's line before writing it
 * (write-allocate), so the traffic on the bus can be 16 bytes per element;
 * the figure reported is STREAM's, comparable with published STREAM numbers
 * and conservative as a bound. The arrays are float because the weights and
 * activations a decoder streams are; the width does not change the rate.
 *
 * Each thread touches its own slice first (so on NUMA machines the pages
 * land near it) and runs the triad on that slice; a repetition is timed from
 * the release of a barrier to the last thread's arrival at the next.
 *
 * Standalone, plain C11 + pthreads, built by compare.sh:
 *   cc -O3 -march=native -pthread -o stream bench/stream.c
 *   ./stream [-t THREADS] [-m MIB_PER_ARRAY] [-r REPS]
 * prints "triad: G GB/s (best of R, T threads, 3 arrays x M MiB)" where GB is
 * 10^9 bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct shared {
	float *a, *b, *c;        /* [n] each */
	size_t n;
	int n_threads, reps;
	float scalar;
	pthread_barrier_t start, done;
};

struct worker {
	struct shared *sh;
	int ith;
	pthread_t thread;
};

static void slice(const struct shared *sh, int ith, size_t *begin, size_t *end)
{
	size_t per = sh->n / (size_t)sh->n_threads, extra = sh->n % (size_t)sh->n_threads;
	size_t i = (size_t)ith;
	*begin = i * per + (i < extra ? i : extra);
	*end = *begin + per + (i < extra ? 1 : 0);
}

static void *run_worker(void *p)
{
	struct worker *w = p;
	struct shared *sh = w->sh;
	size_t b, e;

	slice(sh, w->ith, &b, &e);
	/* first touch */
	for (size_t i = b; i < e; i++) {
		sh->a[i] = 0.0f;
		sh->b[i] = 1.0f;
		sh->c[i] = 2.0f;
	}
	for (int r = 0; r < sh->reps; r++) {
		pthread_barrier_wait(&sh->start);
		float *restrict a = sh->a;
		const float *restrict bb = sh->b, *restrict c = sh->c;
		const float s = sh->scalar;
		for (size_t i = b; i < e; i++)
			a[i] = bb[i] + s * c[i];
		pthread_barrier_wait(&sh->done);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	long threads = 1, mib = 256, reps = 10;
	struct shared sh;
	struct worker *ws;
	double best = 1e30;

	for (int i = 1; i < argc; i++) {
		long *dst = NULL, lo = 1, hi = 0;
		if (strcmp(argv[i], "-t") == 0)
			dst = &threads, hi = 1024;
		else if (strcmp(argv[i], "-m") == 0)
			dst = &mib, hi = 1 << 20;
		else if (strcmp(argv[i], "-r") == 0)
			dst = &reps, hi = 100000;
		if (!dst || i + 1 >= argc || parse_int(argv[i + 1], lo, hi, dst)) {
			fprintf(stderr, "usage: stream [-t THREADS] [-m MIB_PER_ARRAY] [-r REPS]\n");
			return 2;
		}
		i++;
	}
	memset(&sh, 0, sizeof(sh));
	sh.n = (size_t)mib * 1024 * 1024 / sizeof(float);
	sh.n_threads = (int)threads;
	sh.reps = (int)reps;
	sh.scalar = 3.0f;
	sh.a = aligned_alloc(64, sh.n * sizeof(float));
	sh.b = aligned_alloc(64, sh.n * sizeof(float));
	sh.c = aligned_alloc(64, sh.n * sizeof(float));
	ws = calloc((size_t)threads, sizeof(*ws));
	if (!sh.a || !sh.b || !sh.c || !ws) {
		fprintf(stderr, "stream: cannot allocate 3 x %ld MiB\n", mib);
		return 1;
	}
	/* the workers and this thread meet at both barriers */
	pthread_barrier_init(&sh.start, NULL, (unsigned)threads + 1);
	pthread_barrier_init(&sh.done, NULL, (unsigned)threads + 1);
	for (long t = 0; t < threads; t++) {
		ws[t].sh = &sh;
		ws[t].ith = (int)t;
		if (pthread_create(&ws[t].thread, NULL, run_worker, &ws[t]) != 0) {
			fprintf(stderr, "stream: cannot start thread %ld\n", t);
			return 1;
		}
	}
	for (long r = 0; r < reps; r++) {
		pthread_barrier_wait(&sh.start);
		double t0 = now_s();
		pthread_barrier_wait(&sh.done);
		double dt = now_s() - t0;
		if (dt < best)
			best = dt;
	}
	for (long t = 0; t < threads; t++)
		pthread_join(ws[t].thread, NULL);
	/* check the result, so the loop cannot have been skipped */
	for (size_t i = 0; i < sh.n; i += 4096 + 1) {
		if (sh.a[i] != 1.0f + 3.0f * 2.0f) {
			fprintf(stderr, "stream: wrong result at %zu: %g\n", i, (double)sh.a[i]);
			return 1;
		}
	}
	double bytes = 3.0 * (double)sh.n * sizeof(float);
	printf("triad: %.2f GB/s (best of %ld, %ld threads, 3 arrays x %ld MiB)\n", bytes / best / 1e9, reps, threads,
	       mib);
	free(sh.a);
	free(sh.b);
	free(sh.c);
	free(ws);
	return 0;
}
