/*
 * Unit tests for the UTF-8 helpers (src/text/utf8.c) and the streaming
 * detokenizer built on them: characters split over byte tokens come out
 * whole, ill-formed bytes as U+FFFD per maximal subpart (the examples of the
 * Unicode standard, ch. 3), and no push ever writes past its cap.
 */
#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "check.h"
#include "text/utf8_int.h"

#define FFFD "\xef\xbf\xbd"

static void test_lead_len(void)
{
	/* llama.cpp's unicode_len_utf8(): by the top four bits, unchecked. */
	CHECK_EQ_INT(utf8_lead_len(0x00), 1);
	CHECK_EQ_INT(utf8_lead_len('A'), 1);
	CHECK_EQ_INT(utf8_lead_len(0x80), 1);
	CHECK_EQ_INT(utf8_lead_len(0xBF), 1);
	CHECK_EQ_INT(utf8_lead_len(0xC0), 2);
	CHECK_EQ_INT(utf8_lead_len(0xDF), 2);
	CHECK_EQ_INT(utf8_lead_len(0xE0), 3);
	CHECK_EQ_INT(utf8_lead_len(0xEF), 3);
	CHECK_EQ_INT(utf8_lead_len(0xF0), 4);
	CHECK_EQ_INT(utf8_lead_len(0xFF), 4);
}

static int decode(const char *s, size_t len, uint32_t *cp)
{
	return utf8_decode((const unsigned char *)s, len, cp);
}

static void test_decode(void)
{
	uint32_t cp = 0;
	CHECK_EQ_INT(decode("A", 1, &cp), 1);
	CHECK_EQ_INT(cp, 'A');
	CHECK_EQ_INT(decode("\xc3\xa9", 2, &cp), 2);
	CHECK_EQ_INT(cp, 0xE9);
	CHECK_EQ_INT(decode("\xe2\x96\x81", 3, &cp), 3);
	CHECK_EQ_INT(cp, 0x2581);
	CHECK_EQ_INT(decode("\xf0\x9f\xa6\x99", 4, &cp), 4);
	CHECK_EQ_INT(cp, 0x1F999);
	CHECK_EQ_INT(decode("\xf4\x8f\xbf\xbf", 4, &cp), 4);
	CHECK_EQ_INT(cp, 0x10FFFF);
	CHECK_EQ_INT(decode("", 0, &cp), 0);

	/* Valid prefixes wait for more. */
	CHECK_EQ_INT(decode("\xc3", 1, NULL), 0);
	CHECK_EQ_INT(decode("\xe2\x96", 2, NULL), 0);
	CHECK_EQ_INT(decode("\xf0\x9f\x98", 3, NULL), 0);

	/* Ill-formed: the length of the maximal subpart. */
	CHECK_EQ_INT(decode("\x80", 1, NULL), -1);         /* stray continuation */
	CHECK_EQ_INT(decode("\xc0\x80", 2, NULL), -1);     /* C0 never appears */
	CHECK_EQ_INT(decode("\xc1\xbf", 2, NULL), -1);
	CHECK_EQ_INT(decode("\xc3" "A", 2, NULL), -1);     /* lead, then no continuation */
	CHECK_EQ_INT(decode("\xe0\x80\x80", 3, NULL), -1); /* overlong */
	CHECK_EQ_INT(decode("\xe1\x80" "A", 3, NULL), -2);
	CHECK_EQ_INT(decode("\xed\xa0\x80", 3, NULL), -1); /* surrogate D800 */
	CHECK_EQ_INT(decode("\xf0\x80\x80\x80", 4, NULL), -1);
	CHECK_EQ_INT(decode("\xf4\x90\x80\x80", 4, NULL), -1); /* above U+10FFFF */
	CHECK_EQ_INT(decode("\xf0\x9f\x98" "A", 4, NULL), -3);
	CHECK_EQ_INT(decode("\xf5\x80\x80\x80", 4, NULL), -1);
	CHECK_EQ_INT(decode("\xff", 1, NULL), -1);
}

static void test_encode(void)
{
	static const uint32_t cps[] = { 0, 0x41, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF };
	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		char buf[4];
		uint32_t back = 0xFFFFFFFF;
		size_t n = utf8_encode(cps[i], buf);
		CHECK_EQ_INT(decode(buf, n, &back), (int)n);
		CHECK_EQ_INT(back, cps[i]);
	}
	char buf[4];
	CHECK_EQ_INT(utf8_encode(0xD800, buf), 3);
	CHECK(memcmp(buf, FFFD, 3) == 0);
	CHECK_EQ_INT(utf8_encode(0x110000, buf), 3);
	CHECK(memcmp(buf, FFFD, 3) == 0);
}

static void test_valid_and_sanitize(void)
{
	CHECK(utf8_valid("", 0));
	CHECK(utf8_valid("Hello, \xd0\xbc\xd0\xb8\xd1\x80 \xf0\x9f\xa6\x99", 19));
	CHECK(!utf8_valid("\xc3", 1));
	CHECK(!utf8_valid("a\x80", 2));
	CHECK(!utf8_valid("\xed\xbf\xbf", 3));

	/* Unicode 15, table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 ->
	 * a FFFD FFFD FFFD b FFFD c FFFD FFFD d. */
	const char in[] = "\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64";
	const char want[] = "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d";
	char out[3 * sizeof(in)];
	size_t n = utf8_sanitize(in, sizeof(in) - 1, out);
	CHECK_EQ_INT(n, sizeof(want) - 1);
	CHECK(memcmp(out, want, sizeof(want) - 1) == 0);
	CHECK_EQ_INT(utf8_sanitize(in, sizeof(in) - 1, NULL), n);
	/* A truncated tail is one FFFD. */
	n = utf8_sanitize("ab\xf0\x9f\x98", 5, out);
	CHECK_EQ_INT(n, 5);
	CHECK(memcmp(out, "ab" FFFD, 5) == 0);
	/* Valid text is unchanged. */
	n = utf8_sanitize("\xe2\x96\x81x", 4, out);
	CHECK(n == 4 && memcmp(out, "\xe2\x96\x81x", 4) == 0);
}

/* ---- the stream, over stories260K's vocabulary (byte token b is 3 + b) -- */

static struct ajar_vocab *stories(void)
{
	struct gguf_file *f = NULL;
	struct ajar_vocab *v = NULL;
	CHECK_OK(gguf_open(fixture_path("models/stories260K.gguf"), &f));
	if (!f)
		return NULL;
	CHECK_OK(vocab_load(f, &v));
	gguf_close(f);
	return v;
}

#define BYTE(b) (3 + (b))

/* Pushes ids through a fresh stream with a generous buffer; returns the
 * concatenated text (static buffer) and checks each push's length. */
static const char *stream_all(const struct ajar_vocab *v, const int32_t *ids, size_t n, const int *want_lens,
			      bool strip)
{
	static char text[1024];
	struct detok_stream s;
	detok_stream_init(&s, v, false, strip);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int r = detok_stream_push(&s, ids[i], text + k, 64);
		if (want_lens)
			CHECK_MSG(r == want_lens[i], "push %zu gave %d, want %d", i, r, want_lens[i]);
		if (r > 0)
			k += (size_t)r;
	}
	int r = detok_stream_finish(&s, text + k, 64);
	if (r > 0)
		k += (size_t)r;
	text[k] = '\0';
	CHECK(utf8_valid(text, k));
	return text;
}

static void test_stream_split_chars(void)
{
	struct ajar_vocab *v = stories();
	if (!v)
		return;
	/* "é" = C3 A9 over two byte tokens: nothing, then the whole char. */
	int32_t e_acute[] = { BYTE(0xC3), BYTE(0xA9) };
	int e_lens[] = { 0, 2 };
	CHECK_STR(stream_all(v, e_acute, 2, e_lens, false), "\xc3\xa9");
	/* A 4-byte emoji over four tokens, then a word. */
	int32_t emoji[] = { BYTE(0xF0), BYTE(0x9F), BYTE(0x98), BYTE(0x80), 403 };
	int emoji_lens[] = { 0, 0, 0, 4, 5 };
	CHECK_STR(stream_all(v, emoji, 5, emoji_lens, false), "\xf0\x9f\x98\x80 Once");
	/* A held lead byte interrupted by a word: FFFD, then the word. */
	int32_t broken[] = { BYTE(0xC3), 403 };
	int broken_lens[] = { 0, 3 + 5 };
	CHECK_STR(stream_all(v, broken, 2, broken_lens, false), FFFD " Once");
	/* Stray continuation bytes and impossible bytes. */
	int32_t stray[] = { BYTE(0x80), BYTE('a'), BYTE(0xFF), BYTE(0xC0), BYTE(0xAF) };
	int stray_lens[] = { 3, 1, 3, 3, 3 };
	CHECK_STR(stream_all(v, stray, 5, stray_lens, false), FFFD "a" FFFD FFFD FFFD);
	/* Incomplete at the end: finish flushes one FFFD. */
	int32_t tail[] = { 403, BYTE(0xE2), BYTE(0x96) };
	int tail_lens[] = { 5, 0, 0 };
	CHECK_STR(stream_all(v, tail, 3, tail_lens, false), " Once" FFFD);
	/* E0 80 is ill-formed at its second byte: FFFD for E0, FFFD for 80. */
	int32_t overlong[] = { BYTE(0xE0), BYTE(0x80) };
	int overlong_lens[] = { 0, 6 };
	CHECK_STR(stream_all(v, overlong, 2, overlong_lens, false), FFFD FFFD);
	vocab_free(v);
}

static void test_stream_leading_space(void)
{
	struct ajar_vocab *v = stories();
	if (!v)
		return;
	int32_t ids[] = { 1, 403, 407 }; /* <s> ▁Once ▁upon */
	CHECK_STR(stream_all(v, ids, 3, NULL, true), "Once upon");
	CHECK_STR(stream_all(v, ids, 3, NULL, false), " Once upon");
	/* Only the first non-empty piece loses its space. */
	int32_t ids2[] = { 1, 1, 407, 403 };
	CHECK_STR(stream_all(v, ids2, 4, NULL, true), "upon Once");
	/* A first piece without a space is left alone. */
	int32_t ids3[] = { BYTE('x'), 403 };
	CHECK_STR(stream_all(v, ids3, 2, NULL, true), "x Once");
	vocab_free(v);
}

static void test_stream_capacity(void)
{
	struct ajar_vocab *v = stories();
	if (!v)
		return;
	struct detok_stream s;
	char buf[32];
	detok_stream_init(&s, v, false, false);
	CHECK(detok_stream_max_out(v) >= 3 * 4);
	/* Too small: -1, nothing consumed, nothing past cap. */
	memset(buf, '#', sizeof(buf));
	CHECK_EQ_INT(detok_stream_push(&s, 403, buf, 2), -1);
	CHECK_EQ_INT(buf[2], '#');
	CHECK_EQ_INT(detok_stream_push(&s, 403, NULL, 0), -1);
	CHECK_EQ_INT(detok_stream_push(&s, 403, buf, 5), 5);
	CHECK(memcmp(buf, " Once", 5) == 0);
	/* A held byte plus a refused push: still held afterwards. */
	CHECK_EQ_INT(detok_stream_push(&s, BYTE(0xC3), buf, 0), 0);
	memset(buf, '#', sizeof(buf));
	CHECK_EQ_INT(detok_stream_push(&s, 403, buf, 4), -1); /* FFFD + " Once" is 8 */
	CHECK_EQ_INT(buf[4], '#');
	CHECK_EQ_INT(detok_stream_push(&s, BYTE(0xA9), buf, sizeof(buf)), 2); /* the é completes */
	CHECK(memcmp(buf, "\xc3\xa9", 2) == 0);
	/* finish: cap below 3 fails and keeps the bytes. */
	CHECK_EQ_INT(detok_stream_push(&s, BYTE(0xE2), buf, sizeof(buf)), 0);
	CHECK_EQ_INT(detok_stream_finish(&s, buf, 2), -1);
	CHECK_EQ_INT(detok_stream_finish(&s, buf, 3), 3);
	CHECK_EQ_INT(detok_stream_finish(&s, buf, 3), 0);
	/* Bad ids. */
	CHECK_EQ_INT(detok_stream_push(&s, -1, buf, sizeof(buf)), -1);
	CHECK_EQ_INT(detok_stream_push(&s, 512, buf, sizeof(buf)), -1);
	/* Control tokens render with special. */
	detok_stream_init(&s, v, true, false);
	CHECK_EQ_INT(detok_stream_push(&s, 2, buf, sizeof(buf)), 4);
	CHECK(memcmp(buf, "</s>", 4) == 0);
	vocab_free(v);
}

int main(void)
{
	RUN(test_lead_len);
	RUN(test_decode);
	RUN(test_encode);
	RUN(test_valid_and_sanitize);
	RUN(test_stream_split_chars);
	RUN(test_stream_leading_space);
	RUN(test_stream_capacity);
	return check_summary();
}
