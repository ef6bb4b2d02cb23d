/*
 * threadpool.h - a fixed set of worker threads that run one parallel task at
 * a time, fork-join style.
 *
 * threadpool_run(pool, fn, arg) calls fn(arg, ith, nth) once for each ith in
 * [0, nth) - the calling thread runs ith 0 - and returns when every call has
 * returned. Work is split by ith/nth inside fn (rows of a matrix, heads of
 * attention). Workers spin briefly between tasks before sleeping, because a
 * forward pass issues tasks a few microseconds apart.
 *
 * One thread at a time may call threadpool_run on a pool.
 */
#ifndef AJAR_THREADPOOL_H
#define AJAR_THREADPOOL_H

#include "ajar/err.h"

struct threadpool;

typedef void (*threadpool_fn)(void *arg, int ith, int nth);

/* n_threads >= 1 counts the caller; n_threads - 1 workers are started. */
enum ajar_err threadpool_new(int n_threads, struct threadpool **out) AJAR_MUST_CHECK;
void threadpool_free(struct threadpool *pool);
int threadpool_size(const struct threadpool *pool);
void threadpool_run(struct threadpool *pool, threadpool_fn fn, void *arg);

/* Rows [*begin, *end) of n for thread ith of nth: contiguous, sizes differ by
 * at most one. */
void threadpool_split(long n, int ith, int nth, long *begin, long *end);

/* Number of CPUs this process may run on (>= 1). */
int threadpool_ncpu(void);

#endif
