/*
 * quota.h - rate limits per key: requests per minute, tokens per minute and
 * tokens per day, in fixed windows (the UTC minute and the UTC day).
 *
 * Tokens are reserved before a generation starts (prompt + the most
 * completion tokens it may produce) and settled when it ends, so requests
 * running at the same time cannot together pass a limit; the unused part
 * of a reservation is given back. The state is in memory; the day's tokens
 * survive a restart because the caller seeds a key from the store's usage
 * the first time it sees it (quota_seed_day).
 *
 * All functions are thread-safe. `now` is Unix seconds (passed in, so tests
 * can move time).
 */
#ifndef AJAR_GUARD_QUOTA_H
#define AJAR_GUARD_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "ajar/err.h"

struct quota;

/* Limits of one key (its tier's); 0 = no limit. */
struct quota_limits {
	int64_t requests_per_minute;
	int64_t tokens_per_minute;
	int64_t tokens_per_day;
};

/* What the x-ratelimit-* headers say. For tokens the binding window is the
 * one with fewer tokens left (the minute's or the day's); -1 = no limit. */
struct quota_state {
	int64_t limit_requests, remaining_requests;
	int64_t limit_tokens, remaining_tokens;
	int64_t reset_requests_s;  /* seconds until the request window resets (1..60) */
	int64_t reset_tokens_s;    /* seconds until the binding token window resets
	                              (the minute's when there is no token limit) */
};

enum quota_verdict {
	QUOTA_OK = 0,
	QUOTA_REQUESTS,   /* requests per minute used up */
	QUOTA_TOKENS,     /* not even the prompt fits in the tokens left */
};

enum ajar_err quota_new(struct quota **out) AJAR_MUST_CHECK;
void quota_free(struct quota *q);

/* True if key_id has been seen (seeded or counted) since start. */
bool quota_known(struct quota *q, const char *key_id);
/* Sets the tokens already used on UTC day `day` (Unix seconds / 86400) by
 * key_id, from the store, if the key has not been seen yet. */
void quota_seed_day(struct quota *q, const char *key_id, int64_t day, int64_t tokens_used);

/* Counts one request against the minute's request limit. QUOTA_REQUESTS
 * (and nothing counted) if it is used up. *st is filled either way. */
enum quota_verdict quota_admit_request(struct quota *q, const char *key_id, const struct quota_limits *lim,
				       int64_t now, struct quota_state *st);

/* Reserves n_prompt + up to want completion tokens (want < 0: as many as
 * are left). *granted gets the completion tokens reserved (<= want when
 * want >= 0). QUOTA_TOKENS, nothing reserved, when fewer than n_prompt + 1
 * tokens are left. *st is filled either way. With no token limit at all,
 * want < 0 grants INT32_MAX (the caller's max_tokens/context bound it). */
enum quota_verdict quota_reserve_tokens(struct quota *q, const char *key_id, const struct quota_limits *lim,
					int64_t now, int64_t n_prompt, int64_t want, int64_t *granted,
					struct quota_state *st);

/* Ends a reservation of `reserved` tokens (n_prompt + granted) made at
 * reserved_at, of which `used` were used: the rest is given back to the
 * windows it was taken from if they are still current. */
void quota_settle(struct quota *q, const char *key_id, int64_t reserved_at, int64_t reserved, int64_t used);

/* The state without counting anything (for headers on allowed requests). */
void quota_peek(struct quota *q, const char *key_id, const struct quota_limits *lim, int64_t now,
		struct quota_state *st);

#endif
