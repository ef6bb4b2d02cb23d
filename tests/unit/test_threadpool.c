/* Unit tests for the fork-join thread pool: every index runs exactly once per
 * task, tasks are ordered, the split covers [0, n) without overlap. */
#include "ajar/threadpool.h"
#include "check.h"

#include <stdatomic.h>

struct count_task {
	atomic_int calls[16];
	atomic_long sum;
	long n;
};

static void count_fn(void *p, int ith, int nth)
{
	struct count_task *t = p;
	long b, e;
	atomic_fetch_add(&t->calls[ith], 1);
	threadpool_split(t->n, ith, nth, &b, &e);
	for (long i = b; i < e; i++)
		atomic_fetch_add(&t->sum, i);
}

static void test_every_thread_runs_once(void)
{
	for (int nth = 1; nth <= 4; nth++) {
		struct threadpool *pool;
		CHECK_OK(threadpool_new(nth, &pool));
		for (int rep = 0; rep < 2000; rep++) {
			struct count_task t = { .n = 1000 + rep };
			threadpool_run(pool, count_fn, &t);
			for (int i = 0; i < nth; i++)
				CHECK_EQ_INT(atomic_load(&t.calls[i]), 1);
			CHECK_EQ_INT(atomic_load(&t.sum), (t.n - 1) * t.n / 2);
		}
		threadpool_free(pool);
	}
}

static void test_split(void)
{
	for (long n = 0; n < 50; n++) {
		for (int nth = 1; nth <= 7; nth++) {
			long prev_end = 0;
			for (int i = 0; i < nth; i++) {
				long b, e;
				threadpool_split(n, i, nth, &b, &e);
				CHECK_EQ_INT(b, prev_end);
				CHECK(e - b == n / nth || e - b == n / nth + 1);
				prev_end = e;
			}
			CHECK_EQ_INT(prev_end, n);
		}
	}
}

static void test_bad_counts(void)
{
	struct threadpool *pool = NULL;
	CHECK(threadpool_new(0, &pool) == AJAR_ERR_INVALID);
	CHECK(threadpool_new(-3, &pool) == AJAR_ERR_INVALID);
	CHECK(pool == NULL);
	CHECK(threadpool_ncpu() >= 1);
}

int main(void)
{
	RUN(test_every_thread_runs_once);
	RUN(test_split);
	RUN(test_bad_counts);
	return check_summary();
}
