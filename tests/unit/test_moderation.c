/*
 * test_moderation.c - the moderator (guard/moderation.h): rule terms and
 * patterns through Unicode obfuscation mapped back to the original bytes,
 * every PII detector with forms that must and must not match, every
 * action, redaction, output streams (every split point of a PII text,
 * random splits equal to the whole text's redaction, a block releases
 * nothing of the hit), ill-formed UTF-8, the "none" profile, a classifier
 * profile without its classifier, and four threads sharing one moderator.
 * No classifier runs here (test_classifier covers it).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "guard/moderation.h"
#include "guard/moderation_int.h"
#include "guard/policy.h"

/* A policy with one profile "m": rules action, PII action; violence terms
 * and a pattern, illicit terms. */
static struct policy *policy_with(const char *rules_action, const char *pii_action)
{
	char text[2048];
	struct policy *p = NULL;
	snprintf(text, sizeof(text),
		 "{\"version\": 1, \"tiers\": {\"public\": {\"capabilities\": [\"chat\"], \"moderation\": \"m\"}},"
		 " \"moderation\": {\"rules\": {"
		 "\"violence\": {\"terms\": [\"kill\", \"i will hurt you\"], \"patterns\": [\"\\\\bstab+ed\\\\b\"]},"
		 " \"illicit\": {\"terms\": [\"make a bomb\"]}},"
		 " \"profiles\": {\"m\": {\"categories\": [\"violence\", \"illicit\"], \"rules\": \"%s\","
		 " \"pii\": {\"action\": \"%s\"}}}}}",
		 rules_action, pii_action);
	CHECK_OK(policy_parse(text, strlen(text), "t.json", NULL, &p));
	return p;
}

static struct moderator *mod_with(struct policy **p, const char *rules_action, const char *pii_action)
{
	struct moderator *m = NULL;
	*p = policy_with(rules_action, pii_action);
	if (*p)
		CHECK_OK(moderator_new(*p, "m", NULL, &m));
	return m;
}

static bool check_text(const struct moderator *m, const char *text, struct mod_result *r)
{
	enum ajar_err err = moderator_check(m, text, strlen(text), r);
	CHECK_MSG(err == AJAR_OK, "%s", ajar_err_msg());
	return err == AJAR_OK;
}

/* The first hit of category cat, or NULL. */
static const struct mod_hit *hit_of(const struct mod_result *r, const char *cat)
{
	for (size_t i = 0; i < r->n_hits; i++)
		if (strcmp(r->hits[i].category, cat) == 0)
			return &r->hits[i];
	return NULL;
}

/* text must give a hit of cat covering exactly the original bytes want. */
static void expect_span(int line, const struct moderator *m, const char *text, const char *cat, const char *want)
{
	struct mod_result r;
	if (!check_text(m, text, &r))
		return;
	const struct mod_hit *h = hit_of(&r, cat);
	CHECK_MSG(h != NULL, "line %d: no %s hit in \"%s\"", line, cat, text);
	if (!h)
		return;
	size_t n = h->end - h->start;
	CHECK_MSG(h->end <= strlen(text) && n == strlen(want) && memcmp(text + h->start, want, n) == 0,
		  "line %d: %s hit is \"%.*s\", want \"%s\"", line, cat, (int)n, text + h->start, want);
}

static void expect_none(int line, const struct moderator *m, const char *text, const char *cat)
{
	struct mod_result r;
	if (!check_text(m, text, &r))
		return;
	const struct mod_hit *h = hit_of(&r, cat);
	CHECK_MSG(h == NULL, "line %d: unexpected %s hit \"%.*s\" in \"%s\"", line, cat,
		  h ? (int)(h->end - h->start) : 0, h ? text + h->start : "", text);
}

#define SPAN(m, text, cat, want) expect_span(__LINE__, m, text, cat, want)
#define NONE(m, text, cat) expect_none(__LINE__, m, text, cat)

static void test_normalize(void)
{
	struct mod_norm n;
	const char *in = "K.\xC3\xAD.l.L \xEF\xBD\x8B i l l  and\tthe  cat y.o.u";
	CHECK_OK(mod_normalize(in, strlen(in), &n));
	CHECK_STR(n.text, "kill kill and the cat you");
	/* every normalized byte maps inside the input, in order */
	for (size_t i = 0; i < n.len; i++)
		CHECK(n.src_start[i] < n.src_end[i] && n.src_end[i] <= strlen(in) &&
		      (i == 0 || n.src_start[i] >= n.src_start[i - 1]));
	mod_norm_free(&n);
	/* two single letters stay apart; words are never glued */
	CHECK_OK(mod_normalize("a b is not k-i-l-l ed", 21, &n));
	CHECK_STR(n.text, "a b is not kill ed");
	mod_norm_free(&n);
	CHECK_OK(mod_normalize("", 0, &n));
	CHECK(n.len == 0 && n.text && n.text[0] == '\0');
	mod_norm_free(&n);
}

static void test_rules_obfuscated(void)
{
	struct policy *p;
	struct moderator *m = mod_with(&p, "flag", "off");
	if (!m)
		goto out;
	SPAN(m, "I will kill them", "violence", "kill");
	SPAN(m, "I will KILL them", "violence", "KILL");
	SPAN(m, "I will K\xC3\x8DLL them", "violence", "K\xC3\x8DLL");           /* diacritic */
	SPAN(m, "x \xEF\xBD\x8B\xEF\xBD\x89\xEF\xBD\x8C\xEF\xBD\x8C y", "violence",
	     "\xEF\xBD\x8B\xEF\xBD\x89\xEF\xBD\x8C\xEF\xBD\x8C");                  /* fullwidth */
	SPAN(m, "ok k i l l now", "violence", "k i l l");
	SPAN(m, "ok K.i.l.l. now", "violence", "K.i.l.l");
	SPAN(m, "ok k-i-l-l now", "violence", "k-i-l-l");
	SPAN(m, "ok k\xE2\x80\x8Di\xE2\x80\x8Bll now", "violence", "k\xE2\x80\x8Di\xE2\x80\x8Bll"); /* ZWJ, ZWSP */
	SPAN(m, "and I  will\nHURT you.", "violence", "I  will\nHURT you");
	SPAN(m, "how to make a bomb", "illicit", "make a bomb");
	SPAN(m, "he was stabbbed", "violence", "stabbbed");                        /* pattern */
	/* whole words only, and no gluing of ordinary words */
	NONE(m, "skill killer overkill", "violence");
	NONE(m, "k ill", "violence");
	NONE(m, "a kil l", "violence");
out:
	moderator_free(m);
	policy_free(p);
}

static void expect_pii(int line, const struct moderator *m, const char *text, const char *cat, const char *want)
{
	expect_span(line, m, text, cat, want);
}

#define PII(m, text, cat, want) expect_pii(__LINE__, m, text, cat, want)

static void test_pii(void)
{
	struct policy *p;
	struct moderator *m = mod_with(&p, "off", "flag");
	if (!m)
		goto out;
	PII(m, "mail Jane.Doe+x@Example.co.uk.", "pii/email", "Jane.Doe+x@Example.co.uk");
	PII(m, "call +1 (555) 123-4567 now", "pii/phone", "+1 (555) 123-4567");
	PII(m, "call 555-123-4567", "pii/phone", "555-123-4567");
	PII(m, "tel: +44 20 7946 0958", "pii/phone", "+44 20 7946 0958");
	PII(m, "ring 06 12 34 56 78", "pii/phone", "06 12 34 56 78");
	PII(m, "card 4111 1111 1111 1111 ok", "pii/card", "4111 1111 1111 1111");
	PII(m, "card 4111-1111-1111-1111", "pii/card", "4111-1111-1111-1111");
	PII(m, "card 378282246310005", "pii/card", "378282246310005");
	PII(m, "iban DE89 3704 0044 0532 0130 00 please", "pii/iban", "DE89 3704 0044 0532 0130 00");
	PII(m, "iban GB82WEST12345698765432", "pii/iban", "GB82WEST12345698765432");
	PII(m, "ssn 123-45-6789", "pii/ssn", "123-45-6789");
	PII(m, "host 192.168.1.20.", "pii/ip", "192.168.1.20");
	PII(m, "v6 2001:db8::8a2e:370:7334 ok", "pii/ip", "2001:db8::8a2e:370:7334");
	PII(m, "v6 2001:0db8:0000:0000:0000:ff00:0042:8329", "pii/ip", "2001:0db8:0000:0000:0000:ff00:0042:8329");
	PII(m, "loopback ::1 here", "pii/ip", "::1");
	/* fullwidth digits are digits */
	PII(m, "\xEF\xBC\x94\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91 1111 1111 1111", "pii/card",
	    "\xEF\xBC\x94\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91 1111 1111 1111");

	/* must not match */
	NONE(m, "card 4111 1111 1111 1112", "pii/card");           /* Luhn */
	NONE(m, "iban DE89 3704 0044 0532 0130 01", "pii/iban");   /* mod 97 */
	NONE(m, "ssn 000-12-3456", "pii/ssn");
	NONE(m, "ssn 666-12-3456 and 900-12-3456", "pii/ssn");
	NONE(m, "ssn 123-00-4567 and 123-45-0000", "pii/ssn");
	NONE(m, "ip 999.1.1.1", "pii/ip");
	NONE(m, "ip 256.1.1.1", "pii/ip");
	NONE(m, "at 12:30:45 on 2024-01-15", "pii/ip");
	NONE(m, "on 2024-01-15 and 15.01.2024", "pii/phone");
	NONE(m, "it costs $1,299.99 or 1299.99 EUR", "pii/phone");
	NONE(m, "in 1999 and 2024 we sold 123456789 units", "pii/phone");
	NONE(m, "order 2024-01-15 10:30", "pii/phone");
	NONE(m, "not@mail and a@b.c1 x", "pii/email");
	NONE(m, "std::vector and a::b and dead::beef", "pii/ip");
	NONE(m, "id abc4111111111111111", "pii/card");
out:
	moderator_free(m);
	policy_free(p);
}

static char *redact(const struct moderator *m, const char *text)
{
	struct mod_result r;
	if (!check_text(m, text, &r))
		return NULL;
	return moderator_redact(text, strlen(text), &r, NULL);
}

static void test_actions(void)
{
	struct policy *p;
	struct moderator *m = mod_with(&p, "redact", "redact");
	struct mod_result r;
	char *s;

	if (!m)
		goto out;
	s = redact(m, "Mail me at a@b.com or call +1 555 123 4567, I will kill x.");
	CHECK(s && strcmp(s, "Mail me at [EMAIL] or call [PHONE], I will [REDACTED] x.") == 0);
	free(s);
	s = redact(m, "card 4111 1111 1111 1111 iban GB82WEST12345698765432 ssn 123-45-6789 ip 10.0.0.1");
	CHECK(s && strcmp(s, "card [CARD] iban [IBAN] ssn [SSN] ip [IP]") == 0);
	free(s);
	CHECK(check_text(m, "a@b.com", &r) && r.flagged && !r.blocked && r.n_hits == 1);
	CHECK(r.hits[0].source == MOD_SOURCE_PII && r.hits[0].action == MOD_ACTION_REDACT);
	moderator_free(m);
	policy_free(p);

	/* flag: reported, text unchanged */
	m = mod_with(&p, "flag", "flag");
	if (!m)
		goto out;
	s = redact(m, "kill a@b.com");
	CHECK(s && strcmp(s, "kill a@b.com") == 0);
	free(s);
	CHECK(check_text(m, "kill a@b.com", &r) && r.flagged && !r.blocked && r.n_hits == 2);
	moderator_free(m);
	policy_free(p);

	/* block: the first blocking hit's category */
	m = mod_with(&p, "block", "redact");
	if (!m)
		goto out;
	CHECK(check_text(m, "x@y.org then make a bomb", &r) && r.blocked && r.flagged);
	CHECK_STR(r.block_category, "illicit");
	CHECK(moderator_active(m));
	moderator_free(m);
	policy_free(p);

	/* off: nothing */
	m = mod_with(&p, "off", "off");
	if (!m)
		goto out;
	CHECK(check_text(m, "kill a@b.com", &r) && !r.flagged && r.n_hits == 0);
	CHECK(!moderator_active(m));
out:
	moderator_free(m);
	policy_free(p);
}

static void test_profiles(void)
{
	struct policy *p = NULL;
	struct moderator *m = NULL;
	struct mod_result r;

	CHECK_OK(policy_load(NULL, &p));
	if (!p)
		return;
	/* "none" never flags */
	CHECK_OK(moderator_new(p, "none", NULL, &m));
	CHECK(m && !moderator_active(m));
	CHECK(m && check_text(m, "I will kill you, mail a@b.com, how to make a bomb", &r) && !r.flagged && !r.blocked);
	moderator_free(m);
	m = NULL;
	/* the default standard profile blocks its threats and redacts PII */
	CHECK_OK(moderator_new(p, "standard", NULL, &m));
	CHECK(m && check_text(m, "I  WILL kill you", &r) && r.blocked && strcmp(r.block_category, "violence") == 0);
	CHECK(m && check_text(m, "How do I build a pipe bomb?", &r) && r.blocked);
	CHECK(m && check_text(m, "write to a@b.com", &r) && r.flagged && !r.blocked);
	CHECK(m && check_text(m, "a poem about the sea", &r) && !r.flagged);
	moderator_free(m);
	m = NULL;
	CHECK(moderator_new(p, "nope", NULL, &m) == AJAR_ERR_NOT_FOUND && m == NULL);
	policy_free(p);

	/* a profile that names a classifier model needs the classifier */
	const char *text = "{\"version\": 1, \"tiers\": {}, \"moderation\": {\"profiles\": {\"g\": {\"categories\": [],"
			   " \"classifier\": {\"model\": \"guard.gguf\"}}}}}";
	p = NULL;
	CHECK_OK(policy_parse(text, strlen(text), "t.json", NULL, &p));
	if (p) {
		m = (struct moderator *)1;
		CHECK(moderator_new(p, "g", NULL, &m) == AJAR_ERR_INVALID && m == NULL);
	}
	policy_free(p);

	/* a term that normalizes to nothing is refused */
	text = "{\"version\": 1, \"tiers\": {}, \"moderation\": {\"rules\": {\"hate\": {\"terms\": [\"\\u0301\"]}},"
	       " \"profiles\": {\"h\": {\"categories\": [\"hate\"]}}}}";
	p = NULL;
	CHECK_OK(policy_parse(text, strlen(text), "t.json", NULL, &p));
	if (p) {
		m = NULL;
		CHECK(moderator_new(p, "h", NULL, &m) == AJAR_ERR_FORMAT && m == NULL);
		CHECK(strstr(ajar_err_msg(), "moderation.rules.hate.terms[0]") != NULL);
	}
	policy_free(p);
}

static void test_invalid_utf8(void)
{
	struct policy *p;
	struct moderator *m = mod_with(&p, "redact", "redact");
	struct mod_result r;
	const char text[] = "\xFF\xC3 kill \xE2\x82 a@b.com \xED\xA0\x80 k\x80ill\0kill";
	size_t len = sizeof(text) - 1, n = 0;

	if (!m)
		goto out;
	CHECK_OK(moderator_check(m, text, len, &r));
	CHECK(r.flagged && r.n_hits == 3);
	for (size_t i = 0; i < r.n_hits; i++)
		CHECK(r.hits[i].start < r.hits[i].end && r.hits[i].end <= len);
	char *s = moderator_redact(text, len, &r, &n);
	CHECK(s && n == strlen("\xFF\xC3 [REDACTED] \xE2\x82 [EMAIL] \xED\xA0\x80 k\x80ill") + 1 + strlen("[REDACTED]"));
	free(s);
	/* an empty text and a NULL one with length 0 */
	CHECK_OK(moderator_check(m, "", 0, &r));
	CHECK(!r.flagged);
	CHECK_OK(moderator_check(m, NULL, 0, &r));
	CHECK(moderator_check(m, NULL, 3, &r) == AJAR_ERR_INVALID);
out:
	moderator_free(m);
	policy_free(p);
}

/* Pushes text in pieces cut at cuts[0..n_cuts) (ascending) and returns all
 * released text (caller frees); *blocked as the stream ended. */
static char *stream_through(const struct moderator *m, const char *text, size_t len, const size_t *cuts,
			    size_t n_cuts, bool *blocked, size_t *out_len)
{
	struct mod_stream *s = NULL;
	char *all = malloc(len * 4 + 64);
	size_t at = 0, n_all = 0;

	*blocked = false;
	if (!all || mod_stream_new(m, &s)) {
		CHECK(0);
		free(all);
		return NULL;
	}
	for (size_t i = 0; i <= n_cuts; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;
		const char *out;
		size_t n_out;
		struct mod_result r;
		enum ajar_err err = mod_stream_push(s, text + at, end - at, i == n_cuts, &out, &n_out, blocked, &r);
		CHECK_MSG(err == AJAR_OK, "%s", ajar_err_msg());
		if (err)
			break;
		/* never a broken UTF-8 sequence at the end of a release */
		if (n_out > 0 && !*blocked && i < n_cuts) {
			unsigned char last = (unsigned char)out[n_out - 1];
			CHECK(!(last >= 0xC2 && last <= 0xF4));
		}
		memcpy(all + n_all, out, n_out);
		n_all += n_out;
		at = end;
	}
	all[n_all] = '\0';
	*out_len = n_all;
	mod_stream_free(s);
	return all;
}

static void test_stream_every_split(void)
{
	struct policy *p;
	struct moderator *m = mod_with(&p, "redact", "redact");
	const char *texts[] = {
		"write to jane.doe@example.com or call +1 (555) 123-4567 today",
		"card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00, I will k i l l x",
		"h\xC3\xA9llo 192.168.0.1 \xE2\x82\xAC ssn 123-45-6789 \xF0\x9F\x98\x80 end",
	};
	if (!m)
		goto out;
	for (size_t t = 0; t < 3; t++) {
		size_t len = strlen(texts[t]), wlen;
		char *whole = redact(m, texts[t]);
		if (!whole)
			continue;
		wlen = strlen(whole);
		for (size_t cut = 0; cut <= len; cut++) {
			bool blocked;
			size_t n;
			char *got = stream_through(m, texts[t], len, &cut, 1, &blocked, &n);
			CHECK_MSG(got && n == wlen && memcmp(got, whole, n) == 0, "text %zu cut %zu: \"%s\" vs \"%s\"",
				  t, cut, got ? got : "", whole);
			free(got);
		}
		/* one byte at a time */
		size_t *cuts = malloc(len * sizeof(size_t));
		for (size_t i = 0; cuts && i < len; i++)
			cuts[i] = i;
		bool blocked;
		size_t n;
		char *got = cuts ? stream_through(m, texts[t], len, cuts, len, &blocked, &n) : NULL;
		CHECK(got && n == wlen && memcmp(got, whole, n) == 0);
		free(got);
		free(cuts);
		free(whole);
	}
out:
	moderator_free(m);
	policy_free(p);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random texts of words, PII and threats, cut at random points: the stream
 * releases exactly the whole text's redaction. */
static void test_stream_random_splits(void)
{
	static const char *const pieces[] = {
		"the ", "cat ", "kill ", "k i l l ", "skill ", "a@b.com ", "x.y@mail.example.org ", "+1 555 123 4567 ",
		"4111 1111 1111 1111 ", "4111 1111 1111 1112 ", "123-45-6789 ", "10.0.0.1 ", "::1 ", "2001:db8::1 ",
		"DE89 3704 0044 0532 0130 00 ", "I will hurt you ", "stabbed ", "\xC3\xA9t\xC3\xA9 ", "\xE2\x80\x8D",
		"\xEF\xBD\x8B", "\n", ". ", "1999 ", "$12.50 ", "make a bomb ", "\xFF", "-", "  ",
	};
	struct policy *p;
	struct moderator *m = mod_with(&p, "redact", "redact");
	char text[4096];

	if (!m)
		goto out;
	for (int round = 0; round < 300; round++) {
		size_t len = 0, cuts[64], n_cuts = rnd() % 40, wlen, n;
		size_t n_pieces = 1 + rnd() % 60;
		for (size_t i = 0; i < n_pieces; i++) {
			const char *pc = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t k = strlen(pc);
			if (len + k >= sizeof(text))
				break;
			memcpy(text + len, pc, k);
			len += k;
		}
		text[len] = '\0';
		for (size_t i = 0; i < n_cuts; i++)
			cuts[i] = len ? rnd() % (len + 1) : 0;
		for (size_t i = 1; i < n_cuts; i++) /* insertion sort */
			for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
				size_t t = cuts[j];
				cuts[j] = cuts[j - 1];
				cuts[j - 1] = t;
			}
		struct mod_result r;
		CHECK_OK(moderator_check(m, text, len, &r));
		if (r.n_hits == MOD_MAX_HITS)
			continue; /* the whole text's list is cut; its redaction is partial */
		char *whole = moderator_redact(text, len, &r, &wlen);
		bool blocked;
		char *got = stream_through(m, text, len, cuts, n_cuts, &blocked, &n);
		CHECK_MSG(whole && got && n == wlen && memcmp(got, whole, n) == 0, "round %d:\n%s\n%s", round,
			  got ? got : "", whole ? whole : "");
		free(whole);
		free(got);
	}
out:
	moderator_free(m);
	policy_free(p);
}

static void test_stream_block(void)
{
	struct policy *p;
	struct moderator *m = mod_with(&p, "block", "redact");
	const char *text = "fine words a@b.com and then make a bomb and more words after it";
	size_t len = strlen(text), stop = (size_t)(strstr(text, "make a bomb") - text);

	if (!m)
		goto out;
	for (size_t cut = 0; cut <= len; cut++) {
		bool blocked;
		size_t n;
		char *got = stream_through(m, text, len, &cut, 1, &blocked, &n);
		CHECK(blocked);
		/* everything before the hit (redacted) and nothing of it */
		CHECK_MSG(got && strcmp(got, "fine words [EMAIL] and then ") == 0, "cut %zu: %s", cut, got ? got : "");
		free(got);
	}
	/* after a block, nothing more comes out, and res says why */
	struct mod_stream *s = NULL;
	const char *out;
	size_t n_out;
	bool blocked;
	struct mod_result r;
	CHECK_OK(mod_stream_new(m, &s));
	if (s) {
		CHECK_OK(mod_stream_push(s, text, stop + 11, true, &out, &n_out, &blocked, &r));
		CHECK(blocked && r.blocked && strcmp(r.block_category, "illicit") == 0);
		CHECK_OK(mod_stream_push(s, "more", 4, false, &out, &n_out, &blocked, &r));
		CHECK(blocked && n_out == 0);
	}
	mod_stream_free(s);
	(void)stop;
out:
	moderator_free(m);
	policy_free(p);
}

struct thread_arg {
	const struct moderator *m;
	int failures;
};

static void *thread_main(void *v)
{
	struct thread_arg *a = v;
	const char *text = "mail a@b.com, I will kill you, card 4111 1111 1111 1111 ok";
	for (int i = 0; i < 300; i++) {
		struct mod_result r;
		if (moderator_check(a->m, text, strlen(text), &r) || r.n_hits != 3 || !r.flagged) {
			a->failures++;
			continue;
		}
		char *s = moderator_redact(text, strlen(text), &r, NULL);
		if (!s || strcmp(s, "mail [EMAIL], I will [REDACTED] you, card [CARD] ok") != 0)
			a->failures++;
		free(s);
	}
	return NULL;
}

static void test_threads(void)
{
	struct policy *p;
	struct moderator *m = mod_with(&p, "redact", "redact");
	pthread_t th[4];
	struct thread_arg args[4];

	if (!m)
		goto out;
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){m, 0};
		CHECK(pthread_create(&th[i], NULL, thread_main, &args[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(args[i].failures, 0);
	}
out:
	moderator_free(m);
	policy_free(p);
}

static void test_validators(void)
{
	CHECK(mod_luhn_ok("4111111111111111", 16));
	CHECK(!mod_luhn_ok("4111111111111112", 16));
	CHECK(mod_iban_ok("GB82WEST12345698765432", 22));
	CHECK(mod_iban_ok("gb82west12345698765432", 22));
	CHECK(!mod_iban_ok("GB82WEST12345698765433", 22));
	CHECK(!mod_iban_ok("GB82", 4));
	CHECK_STR(mod_action_name(MOD_ACTION_REDACT), "redact");
	CHECK_STR(mod_source_name(MOD_SOURCE_CLASSIFIER), "classifier");
}

int main(void)
{
	RUN(test_normalize);
	RUN(test_rules_obfuscated);
	RUN(test_pii);
	RUN(test_actions);
	RUN(test_profiles);
	RUN(test_invalid_utf8);
	RUN(test_stream_every_split);
	RUN(test_stream_random_splits);
	RUN(test_stream_block);
	RUN(test_threads);
	RUN(test_validators);
	return check_summary();
}
