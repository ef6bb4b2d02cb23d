/*
 * test_quota.c - per-key rate limits with time moved by hand: the request
 * window and its reset at the minute boundary, token reservations (grant,
 * clamp, refuse), settling (unused tokens back to the windows still
 * current), the day window seeded from "the store", the header values
 * (remaining, reset seconds, which window binds), a clock stepping back,
 * eviction of idle keys, and four threads reserving and settling at once
 * without ever passing a limit.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"
#include "guard/quota.h"

/* 2026-01-01 00:00:00 UTC: a day boundary, hence also a minute boundary. */
#define T0 INT64_C(1767225600)
#define MIN 60
#define DAY 86400

static struct quota *new_quota(void)
{
	struct quota *q = NULL;
	CHECK_OK(quota_new(&q));
	return q;
}

static void test_request_window(void)
{
	struct quota *q = new_quota();
	struct quota_limits lim = {.requests_per_minute = 3};
	struct quota_state st;
	int64_t now = T0 + 10 * MIN + 10;

	if (!q)
		return;
	CHECK(!quota_known(q, "k"));
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(quota_admit_request(q, "k", &lim, now + i, &st), QUOTA_OK);
		CHECK_EQ_INT(st.limit_requests, 3);
		CHECK_EQ_INT(st.remaining_requests, 2 - i);
		CHECK_EQ_INT(st.reset_requests_s, 50 - i);
	}
	CHECK(quota_known(q, "k"));
	CHECK_EQ_INT(quota_admit_request(q, "k", &lim, now + 5, &st), QUOTA_REQUESTS);
	CHECK_EQ_INT(st.remaining_requests, 0);
	CHECK_EQ_INT(st.reset_requests_s, 45);
	/* the last second of the same minute: still refused */
	CHECK_EQ_INT(quota_admit_request(q, "k", &lim, T0 + 11 * MIN - 1, &st), QUOTA_REQUESTS);
	CHECK_EQ_INT(st.reset_requests_s, 1);
	/* another key is not affected */
	CHECK_EQ_INT(quota_admit_request(q, "other", &lim, now, &st), QUOTA_OK);
	CHECK_EQ_INT(st.remaining_requests, 2);
	/* the minute boundary resets the window */
	quota_peek(q, "k", &lim, T0 + 11 * MIN, &st);
	CHECK_EQ_INT(st.remaining_requests, 3);
	CHECK_EQ_INT(st.reset_requests_s, 60);
	CHECK_EQ_INT(quota_admit_request(q, "k", &lim, T0 + 11 * MIN, &st), QUOTA_OK);
	CHECK_EQ_INT(st.remaining_requests, 2);
	/* a skipped minute or two changes nothing */
	CHECK_EQ_INT(quota_admit_request(q, "k", &lim, T0 + 14 * MIN + 30, &st), QUOTA_OK);
	CHECK_EQ_INT(st.remaining_requests, 2);
	/* the clock stepping back gives no fresh allowance: the newer window's
	 * counts stay in force */
	CHECK_EQ_INT(quota_admit_request(q, "k", &lim, T0 + 14 * MIN + 31, &st), QUOTA_OK);
	CHECK_EQ_INT(quota_admit_request(q, "k", &lim, T0 + 14 * MIN + 32, &st), QUOTA_OK);
	CHECK_EQ_INT(quota_admit_request(q, "k", &lim, T0 + 12 * MIN, &st), QUOTA_REQUESTS);
	quota_free(q);
}

static void test_no_limits(void)
{
	struct quota *q = new_quota();
	struct quota_limits lim = {0, 0, 0};
	struct quota_state st;
	int64_t g = -7;

	if (!q)
		return;
	for (int i = 0; i < 1000; i++)
		CHECK_EQ_INT(quota_admit_request(q, "k", &lim, T0, &st), QUOTA_OK);
	CHECK_EQ_INT(st.limit_requests, -1);
	CHECK_EQ_INT(st.remaining_requests, -1);
	CHECK_EQ_INT(st.limit_tokens, -1);
	CHECK_EQ_INT(st.remaining_tokens, -1);
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, T0, 1000000, -1, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(g, INT32_MAX);
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, T0, 10, 100, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(g, 100);
	CHECK_EQ_INT(st.remaining_tokens, -1);
	quota_settle(q, "k", T0, 1000000 + (int64_t)INT32_MAX, 5);
	quota_free(q);
}

static void test_tokens(void)
{
	struct quota *q = new_quota();
	struct quota_limits lim = {.tokens_per_minute = 1000};
	struct quota_state st;
	int64_t now = T0 + 5 * MIN + 20, g = -7;

	if (!q)
		return;
	/* grant what was asked */
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now, 100, 300, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(g, 300);
	CHECK_EQ_INT(st.limit_tokens, 1000);
	CHECK_EQ_INT(st.remaining_tokens, 600);
	CHECK_EQ_INT(st.reset_tokens_s, 40);
	/* clamp to what is left */
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now, 100, 900, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(g, 500);
	CHECK_EQ_INT(st.remaining_tokens, 0);
	/* refuse: not even one token past the prompt fits; nothing reserved */
	g = -7;
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now, 0, 10, &g, &st), QUOTA_TOKENS);
	CHECK_EQ_INT(g, 0);
	CHECK_EQ_INT(st.remaining_tokens, 0);
	/* settle the first: 400 reserved, 150 used, 250 back */
	quota_settle(q, "k", now, 400, 150);
	quota_peek(q, "k", &lim, now, &st);
	CHECK_EQ_INT(st.remaining_tokens, 250);
	/* n_prompt == left: no room for a completion token */
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now, 250, 10, &g, &st), QUOTA_TOKENS);
	CHECK_EQ_INT(st.remaining_tokens, 250);
	/* n_prompt == left - 1: exactly one */
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now, 249, -1, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(g, 1);
	CHECK_EQ_INT(st.remaining_tokens, 0);
	quota_settle(q, "k", now, 250, 250);
	quota_peek(q, "k", &lim, now, &st);
	CHECK_EQ_INT(st.remaining_tokens, 0);
	/* want 0 reserves the prompt only */
	quota_settle(q, "k", now, 600, 0);  /* the second reservation, unused */
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now, 50, 0, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(g, 0);
	CHECK_EQ_INT(st.remaining_tokens, 550);
	/* used > reserved charges the windows for the excess */
	quota_settle(q, "k", now, 50, 80);
	quota_peek(q, "k", &lim, now, &st);
	CHECK_EQ_INT(st.remaining_tokens, 520);
	/* settling an unknown key is harmless */
	quota_settle(q, "nobody", now, 100, 0);
	CHECK(!quota_known(q, "nobody"));
	quota_free(q);
}

/* Unused tokens go back only to windows still current. */
static void test_settle_after_rollover(void)
{
	struct quota *q = new_quota();
	struct quota_limits lim = {.tokens_per_minute = 1000, .tokens_per_day = 5000};
	struct quota_state st;
	int64_t t = T0 + 3 * DAY + 10 * MIN + 50, g;

	if (!q)
		return;
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, t, 100, 800, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(g, 800);
	/* the next minute starts (and the entry moves on) before it ends */
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, t + 20, 100, 100, &g, &st), QUOTA_OK);
	quota_settle(q, "k", t, 900, 300);
	quota_peek(q, "k", &lim, t + 20, &st);
	/* minute: 200 of 1000 used (the first reservation was the old minute's);
	 * day: 900 + 200 - 600 = 500 used of 5000. The minute binds. */
	CHECK_EQ_INT(st.limit_tokens, 1000);
	CHECK_EQ_INT(st.remaining_tokens, 800);
	/* reserve the rest of the minute, roll the day, settle: the old day
	 * gets nothing back, the new day has its full allowance */
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, t + 20, 100, -1, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(g, 700);
	int64_t next_day = T0 + 4 * DAY + 5;
	quota_peek(q, "k", &lim, next_day, &st);
	CHECK_EQ_INT(st.limit_tokens, 1000); /* a fresh minute (1000) binds before a fresh day (5000) */
	CHECK_EQ_INT(st.remaining_tokens, 1000);
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, next_day, 10, 10, &g, &st), QUOTA_OK);
	quota_settle(q, "k", t + 20, 800, 0);
	quota_peek(q, "k", &lim, next_day, &st);
	CHECK_EQ_INT(st.remaining_tokens, 980);
	quota_free(q);
}

static void test_day_seed(void)
{
	struct quota *q = new_quota();
	struct quota_limits lim = {.tokens_per_day = 10000};
	struct quota_state st;
	int64_t day = T0 / DAY + 7, now = day * DAY + 20 * 3600 + 15, g;

	if (!q)
		return;
	/* peeking does not make a key known (the caller seeds first) */
	quota_peek(q, "k", &lim, now, &st);
	CHECK_EQ_INT(st.remaining_tokens, 10000);
	CHECK(!quota_known(q, "k"));
	quota_seed_day(q, "k", day, 9000);
	CHECK(quota_known(q, "k"));
	/* a second seed for a known key changes nothing */
	quota_seed_day(q, "k", day, 0);
	quota_peek(q, "k", &lim, now, &st);
	CHECK_EQ_INT(st.limit_tokens, 10000);
	CHECK_EQ_INT(st.remaining_tokens, 1000);
	CHECK_EQ_INT(st.reset_tokens_s, 4 * 3600 - 15);
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now, 500, -1, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(g, 500);
	CHECK_EQ_INT(st.remaining_tokens, 0);
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now + 3600, 1, 1, &g, &st), QUOTA_TOKENS);
	/* the next UTC day starts afresh */
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, (day + 1) * DAY, 1, 1, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(st.remaining_tokens, 9998);
	CHECK_EQ_INT(st.reset_tokens_s, DAY);
	/* a seed for an earlier day counts nothing today */
	quota_seed_day(q, "old", day - 1, 9999);
	quota_peek(q, "old", &lim, now, &st);
	CHECK_EQ_INT(st.remaining_tokens, 10000);
	/* a seed beyond the limit refuses everything until midnight */
	quota_seed_day(q, "over", day, 20000);
	CHECK_EQ_INT(quota_reserve_tokens(q, "over", &lim, now, 0, 1, &g, &st), QUOTA_TOKENS);
	CHECK_EQ_INT(st.remaining_tokens, 0);
	quota_free(q);
}

/* Which token window the headers report. */
static void test_binding_window(void)
{
	struct quota *q = new_quota();
	struct quota_limits lim = {.requests_per_minute = 10, .tokens_per_minute = 1000, .tokens_per_day = 1500};
	struct quota_state st;
	int64_t now = T0 + 2 * DAY + 30, g;

	if (!q)
		return;
	/* nothing used: the minute has fewer left (1000 < 1500) */
	quota_peek(q, "k", &lim, now, &st);
	CHECK_EQ_INT(st.limit_tokens, 1000);
	CHECK_EQ_INT(st.remaining_tokens, 1000);
	CHECK_EQ_INT(st.reset_tokens_s, 30);
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now, 800, 0, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(st.limit_tokens, 1000);
	CHECK_EQ_INT(st.remaining_tokens, 200);
	/* next minute: 1000 left in it, 700 in the day: the day binds */
	quota_peek(q, "k", &lim, now + MIN, &st);
	CHECK_EQ_INT(st.limit_tokens, 1500);
	CHECK_EQ_INT(st.remaining_tokens, 700);
	CHECK_EQ_INT(st.reset_tokens_s, DAY - 90);
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now + MIN, 300, 0, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(st.remaining_tokens, 400);
	CHECK_EQ_INT(st.limit_tokens, 1500);
	/* request fields ride along */
	CHECK_EQ_INT(st.limit_requests, 10);
	CHECK_EQ_INT(st.remaining_requests, 10);
	CHECK_EQ_INT(st.reset_requests_s, 30);
	/* the reservation respects the smaller window */
	CHECK_EQ_INT(quota_reserve_tokens(q, "k", &lim, now + 2 * MIN, 100, -1, &g, &st), QUOTA_OK);
	CHECK_EQ_INT(g, 300);

	/* a tie binds the day: when the minute resets, the day is still out */
	struct quota_limits tie = {.tokens_per_minute = 1000, .tokens_per_day = 1000};
	quota_peek(q, "t", &tie, now, &st);
	CHECK_EQ_INT(st.remaining_tokens, 1000);
	CHECK_EQ_INT(st.reset_tokens_s, DAY - 30);
	/* only a day limit; only a minute limit */
	struct quota_limits day_only = {.tokens_per_day = 7}, min_only = {.tokens_per_minute = 9};
	quota_peek(q, "t", &day_only, now, &st);
	CHECK(st.limit_tokens == 7 && st.remaining_tokens == 7 && st.reset_tokens_s == DAY - 30);
	quota_peek(q, "t", &min_only, now, &st);
	CHECK(st.limit_tokens == 9 && st.remaining_tokens == 9 && st.reset_tokens_s == 30);
	CHECK(st.limit_requests == -1 && st.remaining_requests == -1);
	quota_free(q);
}

/* Keys idle for more than two days are dropped at the daily sweep; a key
 * seen since stays. */
static void test_eviction(void)
{
	struct quota *q = new_quota();
	struct quota_limits lim = {.requests_per_minute = 5};
	struct quota_state st;
	char key[32];

	if (!q)
		return;
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		CHECK_EQ_INT(quota_admit_request(q, key, &lim, T0 + i % 600, &st), QUOTA_OK);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		if (!quota_known(q, key)) {
			CHECK_MSG(0, "%s lost", key);
			break;
		}
	}
	CHECK_EQ_INT(quota_admit_request(q, "key7", &lim, T0 + DAY + 100, &st), QUOTA_OK);
	CHECK(quota_known(q, "key8"));
	/* two days and a bit after T0 + 599: everyone but key7 is idle */
	CHECK_EQ_INT(quota_admit_request(q, "fresh", &lim, T0 + 3 * DAY, &st), QUOTA_OK);
	CHECK(!quota_known(q, "key8"));
	CHECK(!quota_known(q, "key4999"));
	CHECK(quota_known(q, "key7"));
	CHECK(quota_known(q, "fresh"));
	/* an evicted key starts again as new (its caller re-seeds it) */
	CHECK_EQ_INT(quota_admit_request(q, "key8", &lim, T0 + 3 * DAY, &st), QUOTA_OK);
	CHECK_EQ_INT(st.remaining_requests, 4);
	quota_free(q);
}

/* ---- four threads --------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 20000
#define TOKEN_LIMIT 50000
#define REQUEST_LIMIT 12345

struct shared {
	struct quota *q;
	struct quota_limits lim;
	int64_t now;
	/* Counted by the threads around each call so that view <= the quota's own
	 * count at every instant: reservations are added after they are made,
	 * and a settle's change is applied here before it is applied there. */
	atomic_llong held;      /* reserved and not yet settled */
	atomic_llong used;      /* settled as used */
	atomic_llong over;      /* times the view passed the limit */
	atomic_llong admitted;
	atomic_llong granted_calls;
};

static void *worker(void *arg)
{
	struct shared *sh = arg;
	struct quota_state st;
	uint32_t rng = (uint32_t)(uintptr_t)&st;

	for (int i = 0; i < ROUNDS; i++) {
		int64_t g;
		rng = rng * 1664525u + 1013904223u;
		/* now and then "as many as are left", which takes the whole window
		 * for a moment */
		int64_t n_prompt = 1 + (rng >> 8) % 40, want = i % 500 == 7 ? -1 : (int64_t)((rng >> 16) % 120);
		if (quota_admit_request(sh->q, "shared", &sh->lim, sh->now, &st) == QUOTA_OK)
			atomic_fetch_add(&sh->admitted, 1);
		if (quota_reserve_tokens(sh->q, "shared", &sh->lim, sh->now, n_prompt, want, &g, &st) != QUOTA_OK)
			continue;
		atomic_fetch_add(&sh->granted_calls, 1);
		int64_t r = n_prompt + g;
		if (atomic_fetch_add(&sh->held, r) + r + atomic_load(&sh->used) > TOKEN_LIMIT)
			atomic_fetch_add(&sh->over, 1);
		/* use a small part, so the window fills slowly and the threads
		 * contend for a long time */
		int64_t u = want < 0 ? 0 : (i % 64 == 0) ? r : r / 50;
		atomic_fetch_sub(&sh->held, r);
		atomic_fetch_add(&sh->used, u);
		quota_settle(sh->q, "shared", sh->now, r, u);
	}
	return NULL;
}

static void test_threads(void)
{
	struct shared sh = {.q = new_quota(),
			    .lim = {.requests_per_minute = REQUEST_LIMIT, .tokens_per_minute = TOKEN_LIMIT,
				    .tokens_per_day = 10 * TOKEN_LIMIT},
			    .now = T0 + 100 * DAY + 7};
	pthread_t th[THREADS];
	struct quota_state st;

	if (!sh.q)
		return;
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, worker, &sh) == 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_INT(atomic_load(&sh.over), 0);
	CHECK_EQ_INT(atomic_load(&sh.held), 0);
	/* exactly the limit admitted, out of THREADS * ROUNDS tries */
	CHECK_EQ_INT(atomic_load(&sh.admitted), REQUEST_LIMIT);
	CHECK(atomic_load(&sh.granted_calls) > 1000);
	CHECK(atomic_load(&sh.used) <= TOKEN_LIMIT);
	/* all settled: the quota's count is exactly what was used */
	quota_peek(sh.q, "shared", &sh.lim, sh.now, &st);
	CHECK_EQ_INT(st.limit_tokens, TOKEN_LIMIT);
	CHECK_EQ_INT(st.remaining_tokens, TOKEN_LIMIT - atomic_load(&sh.used));
	CHECK_EQ_INT(st.remaining_requests, 0);
	quota_free(sh.q);
}

/* Absurd clocks and arguments: no crash, no overflow (UBSan), sane state. */
static void test_extremes(void)
{
	struct quota *q = new_quota();
	struct quota_limits lim = {.requests_per_minute = 2, .tokens_per_minute = INT64_MAX, .tokens_per_day = 5};
	struct quota_state st;
	int64_t times[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 59, 60, INT64_MAX - 1, INT64_MAX};
	int64_t g;

	if (!q)
		return;
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		(void)quota_admit_request(q, "k", &lim, times[i], &st);
		CHECK(st.reset_requests_s >= 1 && st.reset_requests_s <= 60);
		CHECK(st.reset_tokens_s >= 1 && st.reset_tokens_s <= 86400);
		(void)quota_reserve_tokens(q, "k", &lim, times[i], INT64_MAX, INT64_MAX, &g, &st);
		(void)quota_reserve_tokens(q, "k", &lim, times[i], -5, -5, &g, &st);
		quota_settle(q, "k", times[i], INT64_MAX, -3);
		quota_settle(q, "k", times[i], -3, INT64_MAX);
		quota_seed_day(q, "s", times[i], INT64_MAX);
		quota_peek(q, "k", &lim, times[i], &st);
		CHECK(st.remaining_tokens >= 0 && st.remaining_tokens <= 5);
	}
	/* before 1970: windows still floor, so -1 is the last second of a minute */
	quota_peek(q, "new", &lim, -1, &st);
	CHECK_EQ_INT(st.reset_requests_s, 1);
	CHECK_EQ_INT(st.reset_tokens_s, 1);
	quota_free(q);
}

int main(void)
{
	RUN(test_request_window);
	RUN(test_no_limits);
	RUN(test_tokens);
	RUN(test_settle_after_rollover);
	RUN(test_day_seed);
	RUN(test_binding_window);
	RUN(test_eviction);
	RUN(test_threads);
	RUN(test_extremes);
	return check_summary();
}
