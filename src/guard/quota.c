/*
 * quota.c - per-key rate limits in fixed UTC windows (guard/quota.h).
 *
 * Each key seen has one entry holding its counts for one UTC minute
 * (requests, tokens) and one UTC day (tokens), tagged with the window they
 * belong to. A count whose window has passed reads as 0 and is reset the
 * next time the entry is changed; a window in the future (the clock went
 * back) is treated as current, so stepping the clock back never hands out
 * a fresh allowance.
 *
 * Entries live in a hash table with chained buckets, keyed by SipHash
 * (libsodium's crypto_shorthash) under a random key: anonymous callers may
 * be keyed by something they choose (an address), and an unkeyed hash would
 * let them pile every entry into one bucket. One mutex guards the table;
 * every operation is a lookup and a few additions, so it is never held for
 * long. Entries idle for more than QUOTA_IDLE_S are evicted, by a sweep once
 * per UTC day and before the table would grow; an evicted key reads as
 * unknown again and is re-seeded from the store by the caller.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "guard/quota.h"

#define MINUTE_S 60
#define DAY_S 86400
/* Longer than any window (a day) plus a day, so an evicted entry never held
 * a count that still mattered. */
#define QUOTA_IDLE_S (2 * DAY_S)
#define QUOTA_BUCKETS_MIN 64
/* With no token limit, "as many as are left" is this many (no generation
 * comes near it, and counts stay far from overflow). */
#define QUOTA_UNLIMITED_GRANT INT32_MAX

struct quota_entry {
	struct quota_entry *next;   /* the bucket's chain */
	int64_t minute;             /* UTC minute (now / 60) of the two counts below */
	int64_t minute_requests;
	int64_t minute_tokens;      /* reserved, less what settling gave back */
	int64_t day;                /* UTC day (now / 86400) of day_tokens */
	int64_t day_tokens;
	int64_t last_seen;          /* Unix seconds of the last admit/reserve (or the seeded day) */
	char key[];                 /* NUL-terminated key id */
};

struct quota {
	pthread_mutex_t lock;       /* guards every field below and every entry */
	struct quota_entry **buckets; /* n_buckets chains */
	size_t n_buckets;           /* a power of two */
	size_t n_entries;
	int64_t latest;             /* the latest `now` seen: the clock eviction goes by */
	int64_t swept_day;          /* UTC day of the last full sweep */
	unsigned char hash_key[crypto_shorthash_KEYBYTES]; /* set once in quota_new */
};

/* What an entry counts at time now. */
struct counts {
	int64_t requests, minute_tokens, day_tokens;
};

/* Floor division: window indexes stay right for times before 1970 too. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Seconds until the window of length b that holds t ends (1..b). */
static int64_t until_next(int64_t t, int64_t b)
{
	int64_t r = t % b;
	return b - (r < 0 ? r + b : r);
}

static int64_t sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

enum ajar_err quota_new(struct quota **out)
{
	struct quota *q;

	*out = NULL;
	if (sodium_init() < 0)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "quota: libsodium failed to initialise");
	q = calloc(1, sizeof(*q));
	if (!q)
		return ajar_errf(AJAR_ERR_NOMEM, "quota: out of memory");
	q->buckets = calloc(QUOTA_BUCKETS_MIN, sizeof(*q->buckets));
	if (!q->buckets || pthread_mutex_init(&q->lock, NULL) != 0) {
		free(q->buckets);
		free(q);
		return ajar_errf(AJAR_ERR_NOMEM, "quota: out of memory");
	}
	q->n_buckets = QUOTA_BUCKETS_MIN;
	q->latest = INT64_MIN;
	q->swept_day = INT64_MIN;
	randombytes_buf(q->hash_key, sizeof(q->hash_key));
	*out = q;
	return AJAR_OK;
}

void quota_free(struct quota *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n_buckets; i++) {
		struct quota_entry *e = q->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(q->buckets);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static size_t bucket_of(const struct quota *q, const char *key)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t x = 0;

	crypto_shorthash(h, (const unsigned char *)key, strlen(key), q->hash_key);
	memcpy(&x, h, sizeof(x) < sizeof(h) ? sizeof(x) : sizeof(h));
	return (size_t)(x & (q->n_buckets - 1));
}

static struct quota_entry *find(const struct quota *q, const char *key)
{
	for (struct quota_entry *e = q->buckets[bucket_of(q, key)]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* Drops entries idle for more than QUOTA_IDLE_S by q->latest. */
static void sweep(struct quota *q)
{
	int64_t cutoff = sat_add(q->latest, -QUOTA_IDLE_S);

	if (q->latest == INT64_MIN)
		return;
	for (size_t i = 0; i < q->n_buckets; i++) {
		struct quota_entry **link = &q->buckets[i];
		while (*link) {
			struct quota_entry *e = *link;
			if (e->last_seen < cutoff) {
				*link = e->next;
				free(e);
				q->n_entries--;
			} else {
				link = &e->next;
			}
		}
	}
}

/* Doubles the bucket array; on failure the table just stays denser. */
static void grow(struct quota *q)
{
	size_t n = q->n_buckets * 2;
	struct quota_entry **b = calloc(n, sizeof(*b)), **old = q->buckets;
	size_t old_n = q->n_buckets;

	if (!b)
		return;
	q->buckets = b;
	q->n_buckets = n;
	for (size_t i = 0; i < old_n; i++) {
		struct quota_entry *e = old[i], *next;
		for (; e; e = next) {
			size_t k = bucket_of(q, e->key);
			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(old);
}

/* A new entry for key with nothing counted, or NULL out of memory. */
static struct quota_entry *insert(struct quota *q, const char *key)
{
	size_t n = strlen(key);
	struct quota_entry *e;

	/* Keep chains short (load <= 1): first try dropping idle entries,
	 * then grow. */
	if (q->n_entries >= q->n_buckets) {
		sweep(q);
		if (q->n_entries >= q->n_buckets / 2)
			grow(q);
	}
	e = calloc(1, sizeof(*e) + n + 1);
	if (!e)
		return NULL;
	memcpy(e->key, key, n + 1);
	e->minute = INT64_MIN;
	e->day = INT64_MIN;
	size_t k = bucket_of(q, key);
	e->next = q->buckets[k];
	q->buckets[k] = e;
	q->n_entries++;
	return e;
}

/* Notes the clock and runs the daily sweep. */
static void touch(struct quota *q, int64_t now)
{
	if (now > q->latest)
		q->latest = now;
	if (floor_div(q->latest, DAY_S) != q->swept_day) {
		q->swept_day = floor_div(q->latest, DAY_S);
		sweep(q);
	}
}

/* The entry for key, made if new; its windows moved on to now. */
static struct quota_entry *entry_at(struct quota *q, const char *key, int64_t now)
{
	struct quota_entry *e;

	touch(q, now);
	e = find(q, key);
	if (!e && !(e = insert(q, key)))
		return NULL;
	if (floor_div(now, MINUTE_S) > e->minute) {
		e->minute = floor_div(now, MINUTE_S);
		e->minute_requests = 0;
		e->minute_tokens = 0;
	}
	if (floor_div(now, DAY_S) > e->day) {
		e->day = floor_div(now, DAY_S);
		e->day_tokens = 0;
	}
	if (now > e->last_seen)
		e->last_seen = now;
	return e;
}

static struct counts counts_at(const struct quota_entry *e, int64_t now)
{
	struct counts k = {0, 0, 0};

	if (!e)
		return k;
	if (floor_div(now, MINUTE_S) <= e->minute) {
		k.requests = e->minute_requests;
		k.minute_tokens = e->minute_tokens;
	}
	if (floor_div(now, DAY_S) <= e->day)
		k.day_tokens = e->day_tokens;
	return k;
}

static int64_t left(int64_t limit, int64_t used)
{
	return used >= limit ? 0 : limit - used;
}

/* Tokens that may still be reserved: the smaller window's, or INT64_MAX. */
static int64_t tokens_left(const struct quota_limits *lim, const struct counts *k)
{
	int64_t n = INT64_MAX;
	if (lim->tokens_per_minute > 0)
		n = left(lim->tokens_per_minute, k->minute_tokens);
	if (lim->tokens_per_day > 0 && left(lim->tokens_per_day, k->day_tokens) < n)
		n = left(lim->tokens_per_day, k->day_tokens);
	return n;
}

static void fill_state(const struct quota_limits *lim, const struct counts *k, int64_t now, struct quota_state *st)
{
	int64_t minute_reset = until_next(now, MINUTE_S), day_reset = until_next(now, DAY_S);
	bool has_min = lim->tokens_per_minute > 0, has_day = lim->tokens_per_day > 0;

	st->limit_requests = lim->requests_per_minute > 0 ? lim->requests_per_minute : -1;
	st->remaining_requests = lim->requests_per_minute > 0 ? left(lim->requests_per_minute, k->requests) : -1;
	st->reset_requests_s = minute_reset;
	st->limit_tokens = -1;
	st->remaining_tokens = -1;
	st->reset_tokens_s = minute_reset;
	/* On a tie the day binds: when the minute resets, the day is still out. */
	if (has_day && (!has_min || left(lim->tokens_per_day, k->day_tokens) <=
					    left(lim->tokens_per_minute, k->minute_tokens))) {
		st->limit_tokens = lim->tokens_per_day;
		st->remaining_tokens = left(lim->tokens_per_day, k->day_tokens);
		st->reset_tokens_s = day_reset;
	} else if (has_min) {
		st->limit_tokens = lim->tokens_per_minute;
		st->remaining_tokens = left(lim->tokens_per_minute, k->minute_tokens);
	}
}

bool quota_known(struct quota *q, const char *key_id)
{
	bool known;
	pthread_mutex_lock(&q->lock);
	known = find(q, key_id) != NULL;
	pthread_mutex_unlock(&q->lock);
	return known;
}

void quota_seed_day(struct quota *q, const char *key_id, int64_t day, int64_t tokens_used)
{
	struct quota_entry *e;

	pthread_mutex_lock(&q->lock);
	if (!find(q, key_id) && (e = insert(q, key_id))) {
		e->day = day;
		e->day_tokens = tokens_used > 0 ? tokens_used : 0;
		/* Seen "at" the start of that day: a seed for today lives at least
		 * two days; one for a long-gone day may go at the next sweep, and
		 * its count would not have mattered. */
		e->last_seen = day > INT64_MAX / DAY_S ? INT64_MAX : day < INT64_MIN / DAY_S ? INT64_MIN : day * DAY_S;
	}
	pthread_mutex_unlock(&q->lock);
}

enum quota_verdict quota_admit_request(struct quota *q, const char *key_id, const struct quota_limits *lim,
				       int64_t now, struct quota_state *st)
{
	enum quota_verdict v = QUOTA_OK;
	struct quota_entry *e;
	struct counts k;

	pthread_mutex_lock(&q->lock);
	e = entry_at(q, key_id, now);
	if (!e) {
		/* Out of memory: refuse only where a limit applies (fail closed). */
		if (lim->requests_per_minute > 0)
			v = QUOTA_REQUESTS;
	} else if (lim->requests_per_minute > 0 && e->minute_requests >= lim->requests_per_minute) {
		v = QUOTA_REQUESTS;
	} else {
		e->minute_requests++;
	}
	k = counts_at(e, now);
	fill_state(lim, &k, now, st);
	pthread_mutex_unlock(&q->lock);
	return v;
}

enum quota_verdict quota_reserve_tokens(struct quota *q, const char *key_id, const struct quota_limits *lim,
					int64_t now, int64_t n_prompt, int64_t want, int64_t *granted,
					struct quota_state *st)
{
	enum quota_verdict v = QUOTA_OK;
	bool limited = lim->tokens_per_minute > 0 || lim->tokens_per_day > 0;
	struct quota_entry *e;
	struct counts k;
	int64_t avail, g = 0;

	if (n_prompt < 0)
		n_prompt = 0;
	pthread_mutex_lock(&q->lock);
	e = entry_at(q, key_id, now);
	k = counts_at(e, now);
	avail = tokens_left(lim, &k);
	if (!e && limited) {
		v = QUOTA_TOKENS; /* out of memory: fail closed */
	} else if (avail <= n_prompt) {
		v = QUOTA_TOKENS; /* fewer than n_prompt + 1 left */
	} else {
		avail -= n_prompt;
		if (!limited)
			avail = QUOTA_UNLIMITED_GRANT;
		g = (want < 0 || want > avail) ? avail : want;
		if (e) {
			e->minute_tokens = sat_add(e->minute_tokens, sat_add(n_prompt, g));
			e->day_tokens = sat_add(e->day_tokens, sat_add(n_prompt, g));
		}
		k = counts_at(e, now);
	}
	fill_state(lim, &k, now, st);
	pthread_mutex_unlock(&q->lock);
	*granted = g;
	return v;
}

void quota_settle(struct quota *q, const char *key_id, int64_t reserved_at, int64_t reserved, int64_t used)
{
	struct quota_entry *e;
	int64_t back;

	if (reserved < 0)
		reserved = 0;
	if (used < 0)
		used = 0;
	/* Positive: unused tokens to give back. Negative: more were used than
	 * reserved, and the windows still current are charged for them. */
	back = reserved - used;
	pthread_mutex_lock(&q->lock);
	e = find(q, key_id);
	if (e && back != 0) {
		if (e->minute == floor_div(reserved_at, MINUTE_S)) {
			e->minute_tokens = sat_add(e->minute_tokens, -back);
			if (e->minute_tokens < 0)
				e->minute_tokens = 0;
		}
		if (e->day == floor_div(reserved_at, DAY_S)) {
			e->day_tokens = sat_add(e->day_tokens, -back);
			if (e->day_tokens < 0)
				e->day_tokens = 0;
		}
	}
	pthread_mutex_unlock(&q->lock);
}

void quota_peek(struct quota *q, const char *key_id, const struct quota_limits *lim, int64_t now,
		struct quota_state *st)
{
	struct counts k;

	/* No entry is made: peeking must not mark a key known before the
	 * caller has seeded its day from the store. */
	pthread_mutex_lock(&q->lock);
	k = counts_at(find(q, key_id), now);
	fill_state(lim, &k, now, st);
	pthread_mutex_unlock(&q->lock);
}
