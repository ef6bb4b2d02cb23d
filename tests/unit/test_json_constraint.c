/*
 * test_json_constraint.c - the JSON-object constraint.
 *
 * Two independent judges of the same question ("is this byte string a
 * complete JSON object, a prefix of one, or neither?"): the automaton under
 * test, stepped byte by byte, and a recursive-descent validator written here
 * from RFC 8259 in a different style (whole-input parsing; UTF-8 and \u
 * escapes judged by the interval of code points their completions could
 * reach). They must agree on a table of hand-written cases and on every
 * prefix of thousands of generated-then-mutated documents.
 *
 * With real vocabularies: the processor's mask is compared, every step, with
 * a naive twin (each token's piece stepped from a copy of the state), and
 * random constrained generation (seeded) must give a valid prefix at every
 * step and a complete object when it ends.
 */
#include "ajar/json_constraint.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "check.h"
#include "sample/json_constraint_int.h"
#include "sample/rng.h"

/* ---- the independent validator ---------------------------------------- */

enum verdict {
	V_OK,   /* a complete object (plus whitespace) */
	V_MORE, /* input ended where a valid continuation exists */
	V_BAD,  /* no continuation makes it valid */
};

static const char *verdict_name(int v)
{
	return v == V_OK ? "complete" : v == V_MORE ? "prefix" : "invalid";
}

struct vparse {
	const unsigned char *s;
	size_t n, i;
};

static bool v_eof(const struct vparse *p)
{
	return p->i >= p->n;
}

/* Optional whitespace; a run longer than the cap is invalid. */
static int v_ws(struct vparse *p)
{
	int run = 0;
	while (!v_eof(p) && p->s[p->i] != 0 && strchr(" \t\n\r", p->s[p->i])) {
		if (++run > JSON_CONSTRAINT_MAX_WS)
			return V_BAD;
		p->i++;
	}
	return V_OK;
}

/* Could a code point in [lo, hi] be a valid scalar value of at least min?
 * Surrogates and values past U+10FFFF are not. */
static bool cp_possible(uint32_t lo, uint32_t hi, uint32_t min)
{
	if (lo < min)
		lo = min;
	if (hi > 0x10FFFF)
		hi = 0x10FFFF;
	if (lo > hi)
		return false;
	return !(lo >= 0xD800 && hi <= 0xDFFF);
}

/* A multi-byte UTF-8 character starting at p->i. */
static int v_utf8(struct vparse *p)
{
	unsigned char b = p->s[p->i++];
	int len;
	uint32_t cp, min;
	if (b >= 0xC0 && b <= 0xDF) {
		len = 2, cp = b & 0x1F, min = 0x80;
	} else if (b >= 0xE0 && b <= 0xEF) {
		len = 3, cp = b & 0x0F, min = 0x800;
	} else if (b >= 0xF0 && b <= 0xF7) {
		len = 4, cp = b & 0x07, min = 0x10000;
	} else {
		return V_BAD;
	}
	int have = 1;
	while (have < len && !v_eof(p)) {
		unsigned char c = p->s[p->i++];
		if ((c & 0xC0) != 0x80)
			return V_BAD;
		cp = cp << 6 | (c & 0x3F);
		have++;
	}
	int missing_bits = 6 * (len - have);
	uint32_t lo = cp << missing_bits, hi = lo | ((1u << missing_bits) - 1);
	if (!cp_possible(lo, hi, min))
		return V_BAD;
	return have == len ? V_OK : V_MORE;
}

/* Four hex digits of \u; the value must be able to land in [want_lo,
 * want_hi] and, unless allow_low, not be a low surrogate. */
static int v_hex4(struct vparse *p, uint32_t *out, uint32_t want_lo, uint32_t want_hi)
{
	uint32_t v = 0;
	int k = 0;
	for (; k < 4 && !v_eof(p); k++) {
		unsigned char c = p->s[p->i];
		int h = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
			: (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (h < 0)
			return V_BAD;
		v = v << 4 | (uint32_t)h;
		p->i++;
	}
	int missing_bits = 4 * (4 - k);
	uint32_t lo = v << missing_bits, hi = lo | ((1u << missing_bits) - 1);
	if (hi < want_lo || lo > want_hi)
		return V_BAD;
	if (want_lo == 0 && lo >= 0xDC00 && hi <= 0xDFFF) /* only a lone low surrogate fits */
		return V_BAD;
	*out = v;
	return k == 4 ? V_OK : V_MORE;
}

static int v_string(struct vparse *p)
{
	p->i++; /* '"' */
	for (;;) {
		if (v_eof(p))
			return V_MORE;
		unsigned char b = p->s[p->i];
		if (b == '"') {
			p->i++;
			return V_OK;
		}
		if (b < 0x20)
			return V_BAD;
		if (b >= 0x80) {
			int r = v_utf8(p);
			if (r != V_OK)
				return r;
			continue;
		}
		p->i++;
		if (b != '\\')
			continue;
		if (v_eof(p))
			return V_MORE;
		b = p->s[p->i++];
		if (b && strchr("\"\\/bfnrt", b))
			continue;
		if (b != 'u')
			return V_BAD;
		uint32_t cp = 0;
		int r = v_hex4(p, &cp, 0, 0xFFFF);
		if (r != V_OK)
			return r;
		if (cp < 0xD800 || cp > 0xDBFF)
			continue;
		/* A high surrogate: "\u" and a low one must follow. */
		const char *need = "\\u";
		for (int k = 0; k < 2; k++) {
			if (v_eof(p))
				return V_MORE;
			if (p->s[p->i++] != (unsigned char)need[k])
				return V_BAD;
		}
		r = v_hex4(p, &cp, 0xDC00, 0xDFFF);
		if (r != V_OK)
			return r;
	}
}

static bool v_digit(const struct vparse *p)
{
	return !v_eof(p) && p->s[p->i] >= '0' && p->s[p->i] <= '9';
}

static int v_number(struct vparse *p)
{
	if (p->s[p->i] == '-')
		p->i++;
	if (v_eof(p))
		return V_MORE;
	if (p->s[p->i] == '0') {
		p->i++;
	} else if (v_digit(p)) {
		while (v_digit(p))
			p->i++;
	} else {
		return V_BAD;
	}
	if (!v_eof(p) && p->s[p->i] == '.') {
		p->i++;
		if (v_eof(p))
			return V_MORE;
		if (!v_digit(p))
			return V_BAD;
		while (v_digit(p))
			p->i++;
	}
	if (!v_eof(p) && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (!v_eof(p) && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (v_eof(p))
			return V_MORE;
		if (!v_digit(p))
			return V_BAD;
		while (v_digit(p))
			p->i++;
	}
	/* The top level is an object, so something must follow a number. */
	return v_eof(p) ? V_MORE : V_OK;
}

static int v_literal(struct vparse *p, const char *word)
{
	for (size_t k = 0; word[k]; k++) {
		if (v_eof(p))
			return V_MORE;
		if (p->s[p->i++] != (unsigned char)word[k])
			return V_BAD;
	}
	return V_OK;
}

static int v_container(struct vparse *p, int depth, bool object);

static int v_value(struct vparse *p, int depth)
{
	if (v_eof(p))
		return V_MORE;
	unsigned char b = p->s[p->i];
	if (b == '{' || b == '[')
		return v_container(p, depth + 1, b == '{');
	if (b == '"')
		return v_string(p);
	if (b == '-' || (b >= '0' && b <= '9'))
		return v_number(p);
	if (b == 't')
		return v_literal(p, "true");
	if (b == 'f')
		return v_literal(p, "false");
	if (b == 'n')
		return v_literal(p, "null");
	return V_BAD;
}

#define V_TRY(expr)                    \
	do {                           \
		int v_r_ = (expr);     \
		if (v_r_ != V_OK)      \
			return v_r_;   \
	} while (0)

/* Expects byte c next. */
static int v_expect(struct vparse *p, unsigned char c)
{
	if (v_eof(p))
		return V_MORE;
	return p->s[p->i++] == c ? V_OK : V_BAD;
}

static int v_container(struct vparse *p, int depth, bool object)
{
	unsigned char close = object ? '}' : ']';
	if (depth > JSON_CONSTRAINT_MAX_DEPTH)
		return V_BAD;
	p->i++;
	V_TRY(v_ws(p));
	if (v_eof(p))
		return V_MORE;
	if (p->s[p->i] == close) {
		p->i++;
		return V_OK;
	}
	for (;;) {
		if (object) {
			if (v_eof(p))
				return V_MORE;
			if (p->s[p->i] != '"')
				return V_BAD;
			V_TRY(v_string(p));
			V_TRY(v_ws(p));
			V_TRY(v_expect(p, ':'));
			V_TRY(v_ws(p));
		}
		V_TRY(v_value(p, depth));
		V_TRY(v_ws(p));
		if (v_eof(p))
			return V_MORE;
		unsigned char b = p->s[p->i++];
		if (b == close)
			return V_OK;
		if (b != ',')
			return V_BAD;
		V_TRY(v_ws(p));
	}
}

static int validate(const unsigned char *s, size_t n)
{
	struct vparse p = { s, n, 0 };
	V_TRY(v_ws(&p));
	if (v_eof(&p))
		return V_MORE;
	if (s[p.i] != '{')
		return V_BAD;
	V_TRY(v_container(&p, 1, true));
	V_TRY(v_ws(&p));
	return v_eof(&p) ? V_OK : V_BAD;
}

/* ---- the automaton's verdict ------------------------------------------ */

/* Steps s over n bytes; *bad_at gets the index of the refused byte (n if
 * none). */
static int automaton(const unsigned char *s, size_t n, size_t *bad_at)
{
	struct json_state st;
	json_state_init(&st);
	for (size_t i = 0; i < n; i++) {
		if (!json_state_step(&st, s[i])) {
			if (bad_at)
				*bad_at = i;
			return V_BAD;
		}
	}
	if (bad_at)
		*bad_at = n;
	return json_state_complete(&st) ? V_OK : V_MORE;
}

/* ---- the table -------------------------------------------------------- */

struct json_case {
	const char *text;
	int want;
};

static const struct json_case json_cases[] = {
	/* complete */
	{ "{}", V_OK },
	{ " {} ", V_OK },
	{ "{\"a\":1}", V_OK },
	{ "{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false}", V_OK },
	{ "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", V_OK },
	{ "{\"u\":\"\\u00e9\\uD83D\\uDE00\\u0000\\uffff\"}", V_OK },
	{ "{\"n\":-0.5e+10}", V_OK },
	{ "{\"n\":0}", V_OK },
	{ "{\"n\":-0}", V_OK },
	{ "{\"n\":1E5,\"m\":12.340e-2,\"k\":0.0,\"j\":10,\"i\":-9e0}", V_OK },
	{ "{\"\xc3\xa9\":\"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xed\x9f\xbf \xf4\x8f\xbf\xbf\"}", V_OK },
	{ "{ \"a\" : [ ] , \"b\" : { } }", V_OK },
	{ "{\"x\":[[[[]]]],\"y\":[{}]}", V_OK },
	{ "{\"\":\"\"}", V_OK },
	{ "{\n\t\"a\"\r\n:\n1\n}\n", V_OK },
	{ "{\"a\":1 }", V_OK },
	{ "{\"a\":\"'single' \x7f\"}", V_OK },
	/* prefixes */
	{ "", V_MORE },
	{ "  ", V_MORE },
	{ "{", V_MORE },
	{ "{\"a", V_MORE },
	{ "{\"a\"", V_MORE },
	{ "{\"a\":", V_MORE },
	{ "{\"a\":-", V_MORE },
	{ "{\"a\":0", V_MORE },
	{ "{\"a\":1", V_MORE },
	{ "{\"a\":1.", V_MORE },
	{ "{\"a\":1e", V_MORE },
	{ "{\"a\":1e+", V_MORE },
	{ "{\"a\":tr", V_MORE },
	{ "{\"a\":\"\\", V_MORE },
	{ "{\"a\":\"\\u12", V_MORE },
	{ "{\"a\":\"\\uD", V_MORE },
	{ "{\"a\":\"\\uD83D", V_MORE },
	{ "{\"a\":\"\\uD83D\\", V_MORE },
	{ "{\"a\":\"\\uD83D\\u", V_MORE },
	{ "{\"a\":\"\\uD83D\\uDE", V_MORE },
	{ "{\"a\":\"\xe6\x97", V_MORE },
	{ "{\"a\":\"\xf0\x9f", V_MORE },
	{ "{\"a\":\"\xed", V_MORE },
	{ "{\"a\":[", V_MORE },
	{ "{\"a\":[1,", V_MORE },
	{ "{\"a\":{\"b\":[", V_MORE },
	/* invalid */
	{ "[]", V_BAD },
	{ "\"a\"", V_BAD },
	{ "1", V_BAD },
	{ "null", V_BAD },
	{ "{\"a\":1,}", V_BAD },
	{ "{\"a\":[1,]}", V_BAD },
	{ "{,}", V_BAD },
	{ "{\"a\":01}", V_BAD },
	{ "{\"a\":-01}", V_BAD },
	{ "{\"a\":00}", V_BAD },
	{ "{a:1}", V_BAD },
	{ "{'a':1}", V_BAD },
	{ "{\"a\":'x'}", V_BAD },
	{ "{\"a\":+1}", V_BAD },
	{ "{\"a\":.5}", V_BAD },
	{ "{\"a\":1.}", V_BAD },
	{ "{\"a\":1.e5}", V_BAD },
	{ "{\"a\":1e}", V_BAD },
	{ "{\"a\":-}", V_BAD },
	{ "{\"a\":- 1}", V_BAD },
	{ "{\"a\":0x10}", V_BAD },
	{ "{\"a\":tru}", V_BAD },
	{ "{\"a\":True}", V_BAD },
	{ "{\"a\":nul}", V_BAD },
	{ "{\"a\":NaN}", V_BAD },
	{ "{\"a\" 1}", V_BAD },
	{ "{\"a\":1 \"b\":2}", V_BAD },
	{ "{\"a\"::1}", V_BAD },
	{ "{\"a\":\"\\x\"}", V_BAD },
	{ "{\"a\":\"\\u12G4\"}", V_BAD },
	{ "{\"a\":\"\\U0041\"}", V_BAD },
	{ "{\"a\":\"tab\there\"}", V_BAD },
	{ "{\"a\":\"line\nbreak\"}", V_BAD },
	{ "{\"a\":\"\\uDE00\"}", V_BAD },
	{ "{\"a\":\"\\uDC", V_BAD },
	{ "{\"a\":\"\\uD83Dx\"}", V_BAD },
	{ "{\"a\":\"\\uD83D\\n\"}", V_BAD },
	{ "{\"a\":\"\\uD83D\\u0041\"}", V_BAD },
	{ "{\"a\":\"\\uD83D\\uD83D\"}", V_BAD },
	{ "{}}", V_BAD },
	{ "{} x", V_BAD },
	{ "{}{}", V_BAD },
	{ "{\"a\":1]", V_BAD },
	{ "{\"a\":[1}", V_BAD },
	{ "{\"a\":\"\xc0\x80\"}", V_BAD },     /* overlong NUL */
	{ "{\"a\":\"\xc1\xbf\"}", V_BAD },     /* overlong */
	{ "{\"a\":\"\xe0\x9f\xbf\"}", V_BAD }, /* overlong 3-byte */
	{ "{\"a\":\"\xed\xa0\x80\"}", V_BAD }, /* encoded surrogate */
	{ "{\"a\":\"\xf0\x8f\xbf\xbf\"}", V_BAD },
	{ "{\"a\":\"\xf4\x90\x80\x80\"}", V_BAD }, /* past U+10FFFF */
	{ "{\"a\":\"\xf5\x80\x80\x80\"}", V_BAD },
	{ "{\"a\":\"\xff\"}", V_BAD },
	{ "{\"a\":\"\x80\"}", V_BAD },         /* stray continuation */
	{ "{\"a\":\"\xc3\"}", V_BAD },         /* truncated character */
	{ "\xef\xbb\xbf{}", V_BAD },           /* no byte-order mark */
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		const struct json_case *jc = &json_cases[i];
		size_t n = strlen(jc->text);
		int a = automaton((const unsigned char *)jc->text, n, NULL);
		int v = validate((const unsigned char *)jc->text, n);
		CHECK_MSG(a == jc->want, "case %zu '%s': automaton says %s, want %s", i, jc->text, verdict_name(a),
			  verdict_name(jc->want));
		CHECK_MSG(v == jc->want, "case %zu '%s': validator says %s, want %s", i, jc->text, verdict_name(v),
			  verdict_name(jc->want));
	}
	/* NUL inside a string (strlen can not carry it). */
	const unsigned char nul[] = { '{', '"', 'a', 0, '"', ':', '1', '}' };
	CHECK_EQ_INT(automaton(nul, sizeof(nul), NULL), V_BAD);
	CHECK_EQ_INT(validate(nul, sizeof(nul)), V_BAD);
}

/* Refusal comes at the first byte that rules out every completion. */
static void test_reject_position(void)
{
	static const struct {
		const char *text;
		size_t at;
	} cases[] = {
		{ "{\"a\":1,}", 7 },   { "{\"a\":01}", 6 },  { "{'a'}", 1 },       { "[", 0 },
		{ "{\"a\":\"\\uDC00\"}", 9 }, { "{\"a\":\"\\uD83D\\u0041\"}", 14 },
		{ "{\"a\":\"\xe0\x80\x80\"}", 7 }, { "{\"a\":\"\xed\xa0\x80\"}", 7 },
		{ "{\"a\":truE}", 8 }, { "{} }", 3 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t at = 0;
		int a = automaton((const unsigned char *)cases[i].text, strlen(cases[i].text), &at);
		CHECK_EQ_INT(a, V_BAD);
		CHECK_MSG(at == cases[i].at, "'%s': refused at %zu, want %zu", cases[i].text, at, cases[i].at);
	}
}

static void test_caps(void)
{
	char buf[256];
	/* Whitespace: runs of MAX_WS pass, one more fails, wherever they are. */
	static const char *const where[] = { "%s{}", "{%s}", "{\"a\"%s:1}", "{\"a\":%s1}", "{\"a\":1%s}",
					     "{\"a\":[%s]}", "{}%s" };
	char ws[JSON_CONSTRAINT_MAX_WS + 2];
	for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
		for (int n = JSON_CONSTRAINT_MAX_WS; n <= JSON_CONSTRAINT_MAX_WS + 1; n++) {
			for (int k = 0; k < n; k++)
				ws[k] = " \n\t\r"[k % 4];
			ws[n] = '\0';
			snprintf(buf, sizeof(buf), where[w], ws);
			int want = n > JSON_CONSTRAINT_MAX_WS ? V_BAD : V_OK;
			CHECK_MSG(automaton((const unsigned char *)buf, strlen(buf), NULL) == want, "ws %d in %s", n,
				  where[w]);
			CHECK_EQ_INT(validate((const unsigned char *)buf, strlen(buf)), want);
		}
	}
	/* Two runs split by a value each have their own budget. */
	snprintf(buf, sizeof(buf), "{\"a\":%16s1%16s}", "", "");
	CHECK_EQ_INT(automaton((const unsigned char *)buf, strlen(buf), NULL), V_OK);

	/* Depth: the object plus 31 arrays fits; one more array does not, but
	 * a scalar at the cap does. */
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = 0;
		int arrays = JSON_CONSTRAINT_MAX_DEPTH - 1 + extra;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"a\":");
		for (int k = 0; k < arrays; k++)
			buf[n++] = '[';
		buf[n++] = '7';
		for (int k = 0; k < arrays; k++)
			buf[n++] = ']';
		buf[n++] = '}';
		buf[n] = '\0';
		int want = extra ? V_BAD : V_OK;
		CHECK_EQ_INT(automaton((const unsigned char *)buf, n, NULL), want);
		CHECK_EQ_INT(validate((const unsigned char *)buf, n), want);
	}
}

/* ---- generated documents, mutated ------------------------------------- */

struct gen {
	struct sample_rng rng;
	char buf[1024];
	size_t n;
};

static uint32_t gen_below(struct gen *g, uint32_t n)
{
	return (uint32_t)(sample_rng_next(&g->rng) % n);
}

static void gen_put(struct gen *g, const char *s)
{
	size_t len = strlen(s);
	if (g->n + len < sizeof(g->buf) - 1) {
		memcpy(g->buf + g->n, s, len);
		g->n += len;
	}
}

static void gen_ws(struct gen *g)
{
	uint32_t r = gen_below(g, 16);
	int n = r < 10 ? 0 : r < 14 ? 1 : r < 15 ? 3 : 15 + (int)gen_below(g, 4); /* sometimes past the cap */
	for (int k = 0; k < n; k++)
		gen_put(g, (const char *[]){ " ", "\n", "\t", "\r" }[gen_below(g, 4)]);
}

static void gen_string(struct gen *g)
{
	static const char *const parts[] = { "a", "Z", " ", "key", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9", "\\uD83D\\uDE00",
					     "\\u0000", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "'", "{", "]", ":" };
	gen_put(g, "\"");
	uint32_t n = gen_below(g, 4);
	for (uint32_t k = 0; k < n; k++)
		gen_put(g, parts[gen_below(g, sizeof(parts) / sizeof(parts[0]))]);
	gen_put(g, "\"");
}

static void gen_value(struct gen *g, int depth)
{
	static const char *const scalars[] = { "0", "-0", "1", "42", "-7", "0.5", "-0.5e+10", "1E5", "12.340e-2", "3e-0",
					       "true", "false", "null" };
	uint32_t r = gen_below(g, depth > 6 ? 6 : 10);
	if (r < 3) {
		gen_put(g, scalars[gen_below(g, sizeof(scalars) / sizeof(scalars[0]))]);
	} else if (r < 6) {
		gen_string(g);
	} else {
		bool object = r < 8;
		gen_put(g, object ? "{" : "[");
		gen_ws(g);
		uint32_t n = gen_below(g, 4);
		for (uint32_t k = 0; k < n; k++) {
			if (k) {
				gen_put(g, ",");
				gen_ws(g);
			}
			if (object) {
				gen_string(g);
				gen_ws(g);
				gen_put(g, ":");
				gen_ws(g);
			}
			gen_value(g, depth + 1);
			gen_ws(g);
		}
		gen_put(g, object ? "}" : "]");
	}
}

/* Every prefix of s: the automaton (stepped once, incrementally) and the
 * validator agree; once the automaton refuses, so does the validator. */
static int compare_prefixes(const unsigned char *s, size_t n)
{
	struct json_state st;
	json_state_init(&st);
	for (size_t i = 0; i <= n; i++) {
		int a = json_state_complete(&st) ? V_OK : V_MORE;
		int v = validate(s, i);
		if (a != v) {
			fprintf(stderr, "prefix %zu of '%.*s': automaton %s, validator %s\n", i, (int)n, s, verdict_name(a),
				verdict_name(v));
			return 1;
		}
		if (i == n)
			break;
		if (!json_state_step(&st, s[i])) {
			v = validate(s, i + 1);
			if (v != V_BAD) {
				fprintf(stderr, "prefix %zu of '%.*s': automaton refuses, validator %s\n", i + 1, (int)n, s,
					verdict_name(v));
				return 1;
			}
			break;
		}
	}
	return 0;
}

static void test_generated(void)
{
	static const unsigned char noise[] = { '{', '}', '[', ']', '"', ':', ',', '\\', 'u', 'D', 'e', 'E', '.', '-',
					       '+', '0', '1', 'x', ' ', '\n', 0x00, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc3,
					       0xe0, 0xed, 0xa0, 0xf0, 0xf4, 0x90, 0xff, 't', 'n' };
	struct gen g;
	sample_rng_seed(&g.rng, 20240601);
	int failures = 0, complete = 0;
	for (int iter = 0; iter < 3000 && failures < 5; iter++) {
		g.n = 0;
		gen_ws(&g);
		/* The top level is an object; sometimes deep, to reach the cap. */
		if (gen_below(&g, 20) == 0) {
			int d = 28 + (int)gen_below(&g, 8);
			gen_put(&g, "{\"d\":");
			for (int k = 1; k < d; k++)
				gen_put(&g, gen_below(&g, 2) ? "[" : "{\"k\":");
			gen_put(&g, "1");
		} else {
			gen_put(&g, "{\"k\":");
			gen_value(&g, 1);
			gen_put(&g, "}");
		}
		gen_ws(&g);
		uint32_t mutations = gen_below(&g, 3);
		for (uint32_t m = 0; m < mutations && g.n > 0; m++) {
			size_t at = gen_below(&g, (uint32_t)g.n);
			unsigned char b = noise[gen_below(&g, sizeof(noise))];
			switch (gen_below(&g, 3)) {
			case 0: /* replace */
				g.buf[at] = (char)b;
				break;
			case 1: /* delete */
				memmove(g.buf + at, g.buf + at + 1, g.n - at - 1);
				g.n--;
				break;
			default: /* insert */
				if (g.n + 1 < sizeof(g.buf)) {
					memmove(g.buf + at + 1, g.buf + at, g.n - at);
					g.buf[at] = (char)b;
					g.n++;
				}
				break;
			}
		}
		failures += compare_prefixes((const unsigned char *)g.buf, g.n);
		complete += automaton((const unsigned char *)g.buf, g.n, NULL) == V_OK;
	}
	CHECK_EQ_INT(failures, 0);
	CHECK(complete > 500); /* the mix reaches the end often enough to mean something */
}

/* ---- with a vocabulary ------------------------------------------------- */

static struct ajar_vocab *load_vocab(const char *rel)
{
	struct gguf_file *f = NULL;
	struct ajar_vocab *v = NULL;
	enum ajar_err err = gguf_open(fixture_path(rel), &f);
	CHECK_MSG(err == AJAR_OK, "gguf_open %s: %s", rel, ajar_err_msg());
	if (err)
		return NULL;
	err = vocab_load(f, &v);
	CHECK_MSG(err == AJAR_OK, "vocab_load %s: %s", rel, ajar_err_msg());
	gguf_close(f);
	return err ? NULL : v;
}

/* The pieces of every token, as the constraint sees them. */
struct pieces {
	int32_t n;
	char **text; /* (n) NUL-terminated; NULL for EOG */
	int *len;    /* (n) */
};

static void pieces_load(struct pieces *p, const struct ajar_vocab *v)
{
	p->n = vocab_n_tokens(v);
	p->text = calloc((size_t)p->n, sizeof(*p->text));
	p->len = calloc((size_t)p->n, sizeof(*p->len));
	for (int32_t t = 0; t < p->n; t++) {
		if (vocab_is_eog(v, t))
			continue;
		int len = vocab_token_to_piece(v, t, false, NULL, 0);
		p->text[t] = calloc((size_t)len + 1, 1);
		vocab_token_to_piece(v, t, false, p->text[t], (size_t)len + 1);
		p->len[t] = len;
	}
}

static void pieces_free(struct pieces *p)
{
	for (int32_t t = 0; t < p->n; t++)
		free(p->text[t]);
	free(p->text);
	free(p->len);
}

/* The naive twin of apply(): each token stepped alone from st. */
static bool naive_allowed(const struct pieces *p, const struct json_state *st, int32_t t)
{
	if (!p->text[t]) /* EOG */
		return json_state_complete(st);
	if (p->len[t] == 0)
		return false;
	struct json_state s = *st;
	for (int k = 0; k < p->len[t]; k++)
		if (!json_state_step(&s, (unsigned char)p->text[t][k]))
			return false;
	return true;
}

/* Compares the mask apply() left in logits (applied to zeros) with the
 * naive twin's; returns the number of disagreements. */
static int compare_mask(const struct pieces *p, const struct json_state *st, const float *logits)
{
	int bad = 0;
	for (int32_t t = 0; t < p->n; t++) {
		bool fast = logits[t] == 0.0f, naive = naive_allowed(p, st, t);
		if (fast != naive && bad++ < 5)
			fprintf(stderr, "token %d '%s': apply %s, naive %s\n", t, p->text[t] ? p->text[t] : "<eog>",
				fast ? "allows" : "masks", naive ? "allows" : "masks");
	}
	return bad;
}

static bool has_any(const char *s, const char *set)
{
	return s && strpbrk(s, set) != NULL;
}

/* Random generation under the constraint. Early on, structural tokens are
 * favoured so the documents nest; after a while closers and EOG are, so
 * every run ends. */
static void test_random_generation(void)
{
	struct ajar_vocab *v = load_vocab("models/stories260K.gguf");
	if (!v)
		return;
	struct json_constraint *proto = NULL;
	CHECK_OK(json_constraint_new(v, &proto));
	struct pieces p;
	pieces_load(&p, v);
	float *logits = malloc((size_t)p.n * sizeof(*logits));
	double *weight = malloc((size_t)p.n * sizeof(*weight));
	char *text = malloc(1 << 16);
	struct sample_rng rng;
	sample_rng_seed(&rng, 7);
	int mismatches = 0, unfinished = 0, objects = 0, longest = 0, max_depth_seen = 0;

	const int n_runs = 150;
	for (int run = 0; run < n_runs && proto; run++) {
		/* Each run on a clone; the last outlives the prototype. */
		struct json_constraint *c = NULL;
		CHECK_OK(json_constraint_clone(proto, &c));
		if (!c)
			break;
		if (run == n_runs - 1) {
			json_constraint_free(proto);
			proto = NULL;
		}
		struct logits_proc proc = json_constraint_proc(c);
		struct json_state st;
		json_state_init(&st);
		size_t n_text = 0;
		bool ended = false;
		for (int step = 0; step < 3000 && !ended; step++) {
			memset(logits, 0, (size_t)p.n * sizeof(*logits));
			proc.apply(proc.state, logits, p.n, NULL, 0);
			mismatches += compare_mask(&p, &st, logits);
			/* The text so far is a prefix (or the whole) of a valid object. */
			int v_now = validate((const unsigned char *)text, n_text);
			CHECK_MSG(v_now != V_BAD, "run %d: '%.*s' is not a valid prefix", run, (int)n_text, text);
			CHECK_EQ_INT(v_now == V_OK, json_constraint_complete(c));

			double total = 0.0;
			for (int32_t t = 0; t < p.n; t++) {
				double w = 0.0;
				if (logits[t] == 0.0f) {
					w = 1.0;
					if (!p.text[t])
						w = 1e4;
					else if (step < 60 && st.mode == JSON_MODE_STRING)
						w = has_any(p.text[t], "\"") ? 150.0 : 1.0;
					else if (step < 60 && has_any(p.text[t], "{[\":,-0123456789tfn"))
						w = 20.0;
					else if (step >= 60 && has_any(p.text[t], "\"}]"))
						w = 2e3;
					else if (step >= 60 && has_any(p.text[t], "{["))
						w = 0.01;
				}
				weight[t] = w;
				total += w;
			}
			CHECK(total > 0.0);
			if (!(total > 0.0))
				break;
			double x = sample_rng_uniform(&rng) * total;
			int32_t tok = 0;
			for (tok = 0; tok < p.n - 1; tok++) {
				if (weight[tok] > 0.0 && x < weight[tok])
					break;
				x -= weight[tok];
			}
			while (weight[tok] == 0.0) /* rounding at the very end */
				tok--;
			proc.accept(proc.state, tok);
			if (!p.text[tok]) {
				ended = true;
				break;
			}
			for (int k = 0; k < p.len[tok]; k++)
				CHECK(json_state_step(&st, (unsigned char)p.text[tok][k]));
			if (n_text + (size_t)p.len[tok] < (1 << 16)) {
				memcpy(text + n_text, p.text[tok], (size_t)p.len[tok]);
				n_text += (size_t)p.len[tok];
			}
			if (st.depth > max_depth_seen)
				max_depth_seen = st.depth;
		}
		if (!ended) {
			unfinished++;
			json_constraint_free(c);
			continue;
		}
		/* EOG was chosen: a complete object, by both judges. */
		CHECK(json_constraint_complete(c));
		CHECK_MSG(validate((const unsigned char *)text, n_text) == V_OK, "run %d ended with '%.*s'", run,
			  (int)n_text, text);
		objects++;
		if ((int)n_text > longest)
			longest = (int)n_text;
		if (run < 6)
			printf("  sample %d: %.*s\n", run, (int)n_text, text);
		json_constraint_free(c);
	}
	printf("  %d objects (longest %d bytes, depth up to %d), %d unfinished\n", objects, longest, max_depth_seen,
	       unfinished);
	CHECK_EQ_INT(mismatches, 0);
	CHECK_EQ_INT(unfinished, 0);
	CHECK(max_depth_seen >= 3);

	free(text);
	free(weight);
	free(logits);
	pieces_free(&p);
	json_constraint_free(proto);
	vocab_free(v);
}

/* After the object: only EOG and whitespace-only pieces; logits past the
 * vocabulary are masked; a masked token breaks the constraint, which then
 * allows only EOG; reset starts over. */
static void test_end_and_broken(void)
{
	struct ajar_vocab *v = load_vocab("models/stories260K.gguf");
	if (!v)
		return;
	struct json_constraint *c = NULL;
	CHECK_OK(json_constraint_new(v, &c));
	if (!c) {
		vocab_free(v);
		return;
	}
	struct pieces p;
	pieces_load(&p, v);
	struct logits_proc proc = json_constraint_proc(c);
	int32_t n = p.n + 7; /* a model with padding rows */
	float *logits = malloc((size_t)n * sizeof(*logits));

	/* Feed "{}" byte by byte through the single-byte tokens. */
	int32_t *ids = NULL;
	size_t n_ids = 0;
	CHECK_OK(vocab_tokenize(v, "{}", 2, false, false, &ids, &n_ids));
	for (size_t i = 0; i < n_ids; i++)
		proc.accept(proc.state, ids[i]);
	free(ids);
	CHECK(json_constraint_complete(c));

	memset(logits, 0, (size_t)n * sizeof(*logits));
	proc.apply(proc.state, logits, n, NULL, 0);
	int n_allowed = 0, n_eog = 0;
	for (int32_t t = 0; t < n; t++) {
		if (logits[t] != 0.0f)
			continue;
		n_allowed++;
		CHECK(t < p.n);
		if (t >= p.n)
			continue;
		if (!p.text[t]) {
			n_eog++;
			continue;
		}
		CHECK_MSG(p.len[t] > 0 && strspn(p.text[t], " \t\n\r") == (size_t)p.len[t], "token %d '%s' after the end",
			  t, p.text[t]);
	}
	CHECK(n_eog >= 1);
	CHECK(n_allowed > n_eog); /* some whitespace piece */
	for (int32_t t = p.n; t < n; t++)
		CHECK(logits[t] == -INFINITY);

	/* Break it: "x" after the object. */
	int32_t x_tok = -1;
	for (int32_t t = 0; t < p.n && x_tok < 0; t++)
		if (p.text[t] && strcmp(p.text[t], "x") == 0)
			x_tok = t;
	CHECK(x_tok >= 0);
	proc.accept(proc.state, x_tok);
	CHECK(!json_constraint_complete(c));
	memset(logits, 0, (size_t)n * sizeof(*logits));
	proc.apply(proc.state, logits, n, NULL, 0);
	for (int32_t t = 0; t < n; t++)
		CHECK((logits[t] == 0.0f) == (t < p.n && vocab_is_eog(v, t)));

	/* An EOG before the end breaks it too. */
	json_constraint_reset(c);
	proc.accept(proc.state, vocab_eos(v));
	CHECK(!json_constraint_complete(c));

	/* Reset: back to the start, where only '{' and whitespace begin a piece. */
	json_constraint_reset(c);
	memset(logits, 0, (size_t)n * sizeof(*logits));
	proc.apply(proc.state, logits, n, NULL, 0);
	for (int32_t t = 0; t < p.n; t++) {
		if (logits[t] != 0.0f)
			continue;
		CHECK(p.text[t] && p.len[t] > 0);
		if (p.text[t] && p.len[t] > 0) {
			size_t lead = strspn(p.text[t], " \t\n\r");
			CHECK_MSG(lead == (size_t)p.len[t] || p.text[t][lead] == '{', "token %d '%s' at the start", t,
				  p.text[t]);
		}
	}

	free(logits);
	pieces_free(&p);
	json_constraint_free(c);
	vocab_free(v);
}

/* Clones share tables, not state. */
static void test_clones(void)
{
	struct ajar_vocab *v = load_vocab("models/stories260K.gguf");
	if (!v)
		return;
	struct json_constraint *proto = NULL, *a = NULL, *b = NULL;
	CHECK_OK(json_constraint_new(v, &proto));
	vocab_free(v); /* the constraint keeps what it needs */
	if (!proto)
		return;
	CHECK_OK(json_constraint_clone(proto, &a));
	CHECK_OK(json_constraint_clone(proto, &b));
	json_constraint_free(proto);
	if (!a || !b) {
		json_constraint_free(a);
		json_constraint_free(b);
		return;
	}
	struct logits_proc pa = json_constraint_proc(a), pb = json_constraint_proc(b);
	/* stories260K spells '{', '}' and '[' with its byte tokens <0xNN> = 3 + byte. */
	pa.accept(pa.state, 3 + '{');
	pb.accept(pb.state, 3 + '{');
	pb.accept(pb.state, 3 + '}');
	CHECK(!json_constraint_complete(a));
	CHECK(json_constraint_complete(b));
	float la[512], lb[512];
	memset(la, 0, sizeof(la));
	memset(lb, 0, sizeof(lb));
	pa.apply(pa.state, la, 512, NULL, 0);
	pb.apply(pb.state, lb, 512, NULL, 0);
	CHECK(la[3 + '}'] == 0.0f && lb[3 + '}'] == -INFINITY);
	CHECK(la[3 + '['] == -INFINITY);
	json_constraint_free(a);
	json_constraint_free(b);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A real document tokenized by a large vocabulary, fed token by token:
 * every token it uses is allowed when it comes, the mask equals the naive
 * twin's at every step, and EOG is allowed at the end. Prints apply()'s
 * cost per step. */
static void check_document(const char *rel)
{
	static const char doc[] = "{\"name\": \"Ada Lovelace\", \"born\": 1815, \"ratio\": -0.5e+10, "
				  "\"tags\": [\"math\", \"poetry\", null, true, false], "
				  "\"note\": \"caf\xc3\xa9 \\u00e9 \\\"quoted\\\" \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\", "
				  "\"nested\": {\"a\": [[1, 2], {\"b\": {}}], \"c\": \"\"}}";
	struct ajar_vocab *v = load_vocab(rel);
	if (!v)
		return;
	struct json_constraint *c = NULL;
	CHECK_OK(json_constraint_new(v, &c));
	int32_t *ids = NULL;
	size_t n_ids = 0;
	CHECK_OK(vocab_tokenize(v, doc, sizeof(doc) - 1, false, false, &ids, &n_ids));
	if (!c || !ids) {
		free(ids);
		json_constraint_free(c);
		vocab_free(v);
		return;
	}
	struct pieces p;
	pieces_load(&p, v);
	struct logits_proc proc = json_constraint_proc(c);
	float *logits = malloc((size_t)p.n * sizeof(*logits));
	struct json_state st;
	json_state_init(&st);
	double t_apply = 0.0;
	int mismatches = 0;
	for (size_t i = 0; i <= n_ids; i++) {
		memset(logits, 0, (size_t)p.n * sizeof(*logits));
		double t0 = now_s();
		proc.apply(proc.state, logits, p.n, NULL, 0);
		t_apply += now_s() - t0;
		mismatches += compare_mask(&p, &st, logits);
		if (i == n_ids)
			break;
		CHECK_MSG(logits[ids[i]] == 0.0f, "%s: token %zu (%d '%s') masked", rel, i, ids[i],
			  p.text[ids[i]] ? p.text[ids[i]] : "");
		proc.accept(proc.state, ids[i]);
		for (int k = 0; k < p.len[ids[i]]; k++)
			json_state_step(&st, (unsigned char)p.text[ids[i]][k]);
	}
	CHECK(json_constraint_complete(c));
	int32_t eos = vocab_eos(v);
	if (eos >= 0)
		CHECK(logits[eos] == 0.0f);
	CHECK_EQ_INT(mismatches, 0);
	printf("  %s: %d tokens, %zu steps, apply %.3f ms/step\n", rel, p.n, n_ids + 1,
	       1e3 * t_apply / (double)(n_ids + 1));
	free(logits);
	pieces_free(&p);
	free(ids);
	json_constraint_free(c);
	vocab_free(v);
}

static void test_documents(void)
{
	check_document("vocab/ggml-vocab-llama-spm.gguf");
	check_document("vocab/ggml-vocab-llama-bpe.gguf");
	check_document("models/stories260K.gguf");
}

int main(void)
{
	RUN(test_table);
	RUN(test_reject_position);
	RUN(test_caps);
	RUN(test_generated);
	RUN(test_random_generation);
	RUN(test_end_and_broken);
	RUN(test_clones);
	RUN(test_documents);
	return check_summary();
}
