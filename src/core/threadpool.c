/*
 * threadpool.c - fork-join worker pool.
 *
 * State shared with workers: `generation` (bumped by the caller to publish a
 * task), `fn`/`arg` (written by the caller before the bump, read by workers
 * after seeing it: release/acquire on `generation` orders them), `pending`
 * (workers decrement when done; the caller waits for 0), `stop`. The mutex and
 * condition variable are only for sleeping workers: a worker spins for a while
 * on `generation` and then sleeps on `wake` with `sleeping` raised, so the
 * caller takes the mutex only when someone is asleep.
 */
#include "ajar/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

/* Spins before a thread blocks: a few microseconds, about the gap between two
 * matmuls of one layer. Longer spins cost dearly when threads outnumber free
 * cores (another process, a second context): a spinning thread then holds the
 * core the thread it waits for needs. */
#define SPIN_ITERS 2000

struct worker {
	struct threadpool *pool;
	pthread_t thread;
	int ith;
};

struct threadpool {
	int n_threads;
	struct worker *workers; /* n_threads - 1 of them; owned */

	atomic_uint generation;
	atomic_int pending;
	atomic_int sleeping;
	atomic_bool stop;
	threadpool_fn fn; /* valid for the current generation */
	void *arg;

	atomic_bool caller_waiting; /* the caller sleeps on `done` */
	pthread_mutex_t mutex; /* guards the sleeps on wake and done */
	pthread_cond_t wake;   /* workers wait here for a new generation */
	pthread_cond_t done;   /* the caller waits here for pending == 0 */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct threadpool *pool = w->pool;
	unsigned seen = 0;

	for (;;) {
		unsigned gen;
		int spins = 0;
		while ((gen = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
		       !atomic_load(&pool->stop)) {
			if (++spins < SPIN_ITERS) {
				cpu_relax();
				continue;
			}
			pthread_mutex_lock(&pool->mutex);
			atomic_fetch_add(&pool->sleeping, 1);
			while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
				pthread_cond_wait(&pool->wake, &pool->mutex);
			atomic_fetch_sub(&pool->sleeping, 1);
			pthread_mutex_unlock(&pool->mutex);
			spins = 0;
		}
		if (atomic_load(&pool->stop))
			return NULL;
		seen = gen;
		pool->fn(pool->arg, w->ith, pool->n_threads);
		if (atomic_fetch_sub(&pool->pending, 1) == 1 &&
		    atomic_load(&pool->caller_waiting)) {
			pthread_mutex_lock(&pool->mutex);
			pthread_cond_signal(&pool->done);
			pthread_mutex_unlock(&pool->mutex);
		}
	}
}

enum ajar_err threadpool_new(int n_threads, struct threadpool **out)
{
	struct threadpool *pool;
	int started = 0;

	if (n_threads < 1 || n_threads > 1024)
		return ajar_errf(AJAR_ERR_INVALID, "thread count %d is outside 1..1024", n_threads);
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return ajar_errf(AJAR_ERR_NOMEM, "thread pool");
	pool->n_threads = n_threads;
	pthread_mutex_init(&pool->mutex, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->done, NULL);
	if (n_threads > 1) {
		pool->workers = calloc((size_t)n_threads - 1, sizeof(*pool->workers));
		if (!pool->workers)
			goto nomem;
	}
	for (int i = 0; i < n_threads - 1; i++) {
		struct worker *w = &pool->workers[i];
		w->pool = pool;
		w->ith = i + 1;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			goto nomem;
		started++;
	}
	*out = pool;
	return AJAR_OK;
nomem:
	pool->n_threads = started + 1;
	threadpool_free(pool);
	return ajar_errf(AJAR_ERR_NOMEM, "could not start %d threads", n_threads);
}

void threadpool_free(struct threadpool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mutex);
	atomic_store(&pool->stop, true);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mutex);
	for (int i = 0; i < pool->n_threads - 1; i++)
		pthread_join(pool->workers[i].thread, NULL);
	pthread_mutex_destroy(&pool->mutex);
	pthread_cond_destroy(&pool->wake);
	pthread_cond_destroy(&pool->done);
	free(pool->workers);
	free(pool);
}

int threadpool_size(const struct threadpool *pool)
{
	return pool->n_threads;
}

void threadpool_run(struct threadpool *pool, threadpool_fn fn, void *arg)
{
	if (pool->n_threads == 1) {
		fn(arg, 0, 1);
		return;
	}
	pool->fn = fn;
	pool->arg = arg;
	atomic_store_explicit(&pool->pending, pool->n_threads - 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
	if (atomic_load(&pool->sleeping) > 0) {
		pthread_mutex_lock(&pool->mutex);
		pthread_cond_broadcast(&pool->wake);
		pthread_mutex_unlock(&pool->mutex);
	}
	fn(arg, 0, pool->n_threads);
	for (int spins = 0; spins < SPIN_ITERS; spins++) {
		if (atomic_load_explicit(&pool->pending, memory_order_acquire) == 0)
			return;
		cpu_relax();
	}
	/* Block: the last worker to finish signals `done` when it sees
	 * caller_waiting, which is raised before pending is re-checked under the
	 * mutex, so the signal cannot be missed. */
	pthread_mutex_lock(&pool->mutex);
	atomic_store(&pool->caller_waiting, true);
	while (atomic_load(&pool->pending) > 0) /* seq_cst: ordered after the store above */
		pthread_cond_wait(&pool->done, &pool->mutex);
	atomic_store(&pool->caller_waiting, false);
	pthread_mutex_unlock(&pool->mutex);
}

void threadpool_split(long n, int ith, int nth, long *begin, long *end)
{
	long base = n / nth, extra = n % nth;
	*begin = ith * base + (ith < extra ? ith : extra);
	*end = *begin + base + (ith < extra ? 1 : 0);
}

int threadpool_ncpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return n;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}
