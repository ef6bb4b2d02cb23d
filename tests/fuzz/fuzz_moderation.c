/*
 * fuzz_moderation.c - libFuzzer target for the moderator on arbitrary text,
 * with the built-in default policy's "standard" profile (rules block, PII
 * redacted) and a profile that redacts rule hits too.
 *
 * The first byte picks the profile and seeds the split points; the rest is
 * the text. It goes through moderator_check (every span within the text,
 * ordered), moderator_redact, and a stream cut at pseudo-random points:
 * the stream's releases must equal the whole text's redaction (or, if the
 * stream blocked, be a prefix of it that stops before the blocking hit).
 * Any crash, leak or sanitizer report fails.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/moderation.h"
#include "guard/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy *policy, *redacting;
static struct moderator *standard, *redact_all;

static void setup_once(void)
{
	static const char text[] =
		"{\"version\": 1, \"tiers\": {}, \"moderation\": {\"rules\": {"
		"\"violence\": {\"terms\": [\"kill\", \"i will hurt you\", \"k\"], \"patterns\": [\"\\\\bstab\\\\w*\", \"(a|b)+c\"]},"
		" \"illicit\": {\"terms\": [\"make a bomb\", \"\\u00e9t\\u00e9\"]}},"
		" \"profiles\": {\"r\": {\"categories\": [\"violence\", \"illicit\"], \"rules\": \"redact\","
		" \"pii\": {\"action\": \"redact\"}}}}}";
	if (policy)
		return;
	if (policy_load(NULL, &policy) || moderator_new(policy, "standard", NULL, &standard) ||
	    policy_parse(text, strlen(text), "fuzz", NULL, &redacting) ||
	    moderator_new(redacting, "r", NULL, &redact_all))
		__builtin_trap();
}

/* Pushes text cut at points drawn from seed; checks the invariants. */
static void check_stream(const struct moderator *m, const char *text, size_t len, uint32_t seed, const char *whole,
			 size_t wlen, const struct mod_result *r)
{
	struct mod_stream *s = NULL;
	size_t at = 0, got = 0;
	bool blocked = false;

	if (mod_stream_new(m, &s))
		__builtin_trap();
	while (!blocked) {
		size_t step;
		seed = seed * 1103515245u + 12345u;
		step = len - at <= 1 ? len - at : 1 + (seed >> 8) % (len - at);
		bool final = at + step == len;
		const char *out;
		size_t n_out;
		struct mod_result sr;
		if (mod_stream_push(s, text + at, step, final, &out, &n_out, &blocked, &sr))
			break; /* out of memory or over a cap: nothing to compare */
		/* released text is always the next part of the whole redaction */
		if (got + n_out > wlen || memcmp(whole + got, out, n_out) != 0)
			__builtin_trap();
		got += n_out;
		at += step;
		if (final)
			break;
	}
	if (!blocked && at == len && got != wlen)
		__builtin_trap();
	if (blocked && !r->blocked)
		__builtin_trap();
	mod_stream_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mod_result r;
	size_t wlen = 0;

	setup_once();
	if (size < 1)
		return 0;
	const struct moderator *m = data[0] & 1 ? redact_all : standard;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	if (moderator_check(m, text, len, &r))
		return 0;
	for (size_t i = 0; i < r.n_hits; i++) {
		const struct mod_hit *h = &r.hits[i];
		if (h->source != MOD_SOURCE_CLASSIFIER && (h->start >= h->end || h->end > len))
			__builtin_trap();
		if (i > 0 && h->start < r.hits[i - 1].start && h->source == r.hits[i - 1].source)
			__builtin_trap();
	}
	if (r.n_hits > 0 && !r.flagged)
		__builtin_trap();
	char *whole = moderator_redact(text, len, &r, &wlen);
	if (!whole)
		return 0;
	/* a cut hit list gives a partial whole-text redaction: compare only
	 * when every hit is listed */
	if (r.n_hits < MOD_MAX_HITS)
		check_stream(m, text, len, data[0], whole, wlen, &r);
	free(whole);
	return 0;
}
