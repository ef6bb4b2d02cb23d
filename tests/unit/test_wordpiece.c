/*
 * Unit tests for the WordPiece tokenizer (src/text/wpm.c): every test vector
 * of llama.cpp's ggml-vocab-bert-bge (ids from the Hugging Face tokenizer,
 * which llama.cpp c392e50 matches), the 20 inputs of tests/data/tokenizer
 * with llama.cpp's ids with and without special parsing, the prompts of
 * arch/tiny-bert.json ([CLS] ... [SEP]), special tokens, detokenization,
 * malformed UTF-8, and small vocabularies built with the GGUF writer.
 */
#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "check.h"
#include "vocab_util.h"
#include "text/utf8_int.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Ids of bert-bge (and tiny-bert, which has the same vocabulary). */
enum { BGE_PAD = 0, BGE_UNK = 100, BGE_CLS = 101, BGE_SEP = 102, BGE_MASK = 103 };

/* ---- helpers ------------------------------------------------------------ */

static struct ajar_vocab *bge(void)
{
	return load_vocab_path(fixture_path("vocab/ggml-vocab-bert-bge.gguf"));
}

/* Tokenizes s (NUL-terminated) and compares with want[0..n_want). */
static bool expect_ids(const struct ajar_vocab *v, const char *s, bool add_special, bool parse_special,
		       const int32_t *want, size_t n_want)
{
	int32_t *ids;
	size_t n;
	if (!tokenize(v, s, strlen(s), add_special, parse_special, &ids, &n))
		return false;
	bool ok = ids_equal(ids, n, want, n_want);
	CHECK_MSG(ok, "tokenize \"%s\" (add_special %d, parse_special %d)", s, add_special, parse_special);
	if (!ok) {
		print_ids("want", want, n_want);
		print_ids("got ", ids, n);
	}
	free(ids);
	return ok;
}

/* Detokenizes through a stream; caller frees. */
static char *detokenize(const struct ajar_vocab *v, const int32_t *ids, size_t n, bool special, bool strip)
{
	size_t cap = detok_stream_max_out(v) * (n + 1) + 1;
	char *out = malloc(cap);
	struct detok_stream s;
	detok_stream_init(&s, v, special, strip);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int r = detok_stream_push(&s, ids[i], out + k, cap - k);
		CHECK(r >= 0 && (size_t)r <= cap - k);
		if (r > 0)
			k += (size_t)r;
	}
	int r = detok_stream_finish(&s, out + k, cap - k);
	CHECK(r >= 0);
	k += (size_t)(r > 0 ? r : 0);
	out[k] = '\0';
	return out;
}

/*
 * Checks every input of inp_path (each followed by the separator) against
 * the lines of out_path; returns the count that matched, *n_cases the count
 * of inputs.
 */
static int run_vectors(const struct ajar_vocab *v, const char *inp_path, const char *out_path, bool parse_special,
		       int *n_cases)
{
	struct vectors vs;
	const char *in;
	size_t text_len, n_want;
	int32_t want[1024];
	int passed = 0;
	*n_cases = 0;
	if (!vectors_open(&vs, inp_path, out_path, out_path))
		return 0;
	while (vectors_next(&vs, &in, &text_len, want, ARRAY_LEN(want), &n_want)) {
		int32_t *got = NULL;
		size_t n_got = 0;
		if (tokenize(v, in, text_len, false, parse_special, &got, &n_got)) {
			passed += vectors_ids_match(&vs, text_len, got, n_got, want, n_want);
			/* Whatever the input, the stream gives valid UTF-8. */
			char *back = detokenize(v, got, n_got, parse_special, true);
			CHECK(utf8_valid(back, strlen(back)));
			free(back);
		}
		free(got);
	}
	*n_cases = vs.count;
	vectors_close(&vs);
	return passed;
}

/* ---- llama.cpp's test vectors -------------------------------------------- */

static void test_bge_vectors(void)
{
	struct ajar_vocab *v = bge();
	if (!v)
		return;
	char inp[4096], out[4096];
	snprintf(inp, sizeof(inp), "%s", fixture_path("vocab/ggml-vocab-bert-bge.gguf.inp"));
	snprintf(out, sizeof(out), "%s", fixture_path("vocab/ggml-vocab-bert-bge.gguf.out"));
	int n;
	int passed = run_vectors(v, inp, out, false, &n);
	printf("bert-bge fixture: %d/%d cases match\n", passed, n);
	CHECK_EQ_INT(n, 46);
	CHECK_EQ_INT(passed, n);
	vocab_free(v);
}

/* tests/data/tokenizer (see its README): invalid UTF-8 (input 5), emoji,
 * CJK, combining marks, code, whitespace runs, special-token look-alikes. */
static void test_bge_extra(void)
{
	struct ajar_vocab *v = bge();
	if (!v)
		return;
	const char *dir = AJAR_SOURCE_DIR "/tests/data/tokenizer/";
	char inp[4096], out[4096];
	snprintf(inp, sizeof(inp), "%sextra.inp", dir);
	for (int special = 0; special < 2; special++) {
		snprintf(out, sizeof(out), "%sggml-vocab-bert-bge.gguf.%s", dir, special ? "special.out" : "out");
		int n;
		int passed = run_vectors(v, inp, out, special, &n);
		printf("bert-bge extra (parse_special %d): %d/%d cases match\n", special, passed, n);
		CHECK_EQ_INT(n, 20);
		CHECK_EQ_INT(passed, n);
	}
	vocab_free(v);
}

/* prompt_tokens of every case in arch/tiny-bert.json (llama.cpp c392e50,
 * add_special=true, parse_special=false). */
static const struct {
	const char *prompt;
	int32_t ids[16];
	size_t n;
} tiny_bert_prompts[] = {
	{ "The quick brown fox jumps over the lazy dog.",
	  { 101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102 },
	  12 },
	{ "I would like a cup of coffee, please.",
	  { 101, 1045, 2052, 2066, 1037, 2452, 1997, 4157, 1010, 3531, 1012, 102 },
	  12 },
	{ "It was raining, so we stayed at home and watched a movie.",
	  { 101, 2009, 2001, 24057, 1010, 2061, 2057, 4370, 2012, 2188, 1998, 3427, 1037, 3185, 1012, 102 },
	  16 },
	{ "Hello, my name is Anna and I live in Berlin.",
	  { 101, 7592, 1010, 2026, 2171, 2003, 4698, 1998, 1045, 2444, 1999, 4068, 1012, 102 },
	  14 },
};

static void test_tiny_bert(void)
{
	struct ajar_vocab *v = load_vocab_path(fixture_path("arch/tiny-bert.gguf"));
	if (!v)
		return;
	/* llama.cpp's vocab_info: bos 101, eos -1, add_bos, not add_eos. */
	CHECK_EQ_INT(vocab_n_tokens(v), 30522);
	CHECK_EQ_INT(vocab_bos(v), BGE_CLS);
	CHECK_EQ_INT(vocab_eos(v), -1);
	CHECK(vocab_add_bos(v));
	CHECK(!vocab_add_eos(v));
	CHECK_EQ_INT(vocab_sep(v), BGE_SEP);
	CHECK(vocab_add_sep(v));
	int passed = 0;
	for (size_t i = 0; i < ARRAY_LEN(tiny_bert_prompts); i++) {
		const char *p = tiny_bert_prompts[i].prompt;
		if (expect_ids(v, p, true, false, tiny_bert_prompts[i].ids, tiny_bert_prompts[i].n))
			passed++;
		/* Without add_special: the same without [CLS] and [SEP]. */
		expect_ids(v, p, false, false, tiny_bert_prompts[i].ids + 1, tiny_bert_prompts[i].n - 2);
	}
	printf("tiny-bert: %d/%zu prompts match\n", passed, ARRAY_LEN(tiny_bert_prompts));
	vocab_free(v);
}

/* ---- add_special, special tokens ----------------------------------------- */

static void test_add_special(void)
{
	struct ajar_vocab *v = bge();
	if (!v)
		return;
	CHECK_EQ_INT(vocab_bos(v), BGE_CLS);
	CHECK_EQ_INT(vocab_eos(v), -1);
	CHECK_EQ_INT(vocab_sep(v), BGE_SEP);
	CHECK(vocab_add_bos(v));
	CHECK(!vocab_add_eos(v));
	CHECK(vocab_add_sep(v));
	CHECK(!vocab_is_eog(v, BGE_SEP));
	CHECK_STR(vocab_token_text(v, BGE_CLS), "[CLS]");
	CHECK_STR(vocab_token_text(v, BGE_SEP), "[SEP]");
	CHECK_EQ_INT(vocab_token_type(v, BGE_CLS), AJAR_TOKEN_CONTROL);
	/* Word-initial pieces carry the mark, continuations do not. */
	CHECK_STR(vocab_token_text(v, 7592), "\xe2\x96\x81hello");

	static const int32_t hello_world[] = { BGE_CLS, 7592, 2088, BGE_SEP };
	expect_ids(v, "Hello world", true, false, hello_world, 4);
	expect_ids(v, "Hello world", false, false, hello_world + 1, 2);
	/* Empty text (or only spaces and controls): just [CLS] [SEP], or nothing. */
	static const int32_t cls_sep[] = { BGE_CLS, BGE_SEP };
	expect_ids(v, "", true, false, cls_sep, 2);
	expect_ids(v, " \t\n\xe2\x80\x8b", true, false, cls_sep, 2);
	expect_ids(v, "", false, false, NULL, 0);

	/* parse_special: [CLS]/[SEP]/[MASK] (CONTROL) become tokens; without it
	 * they are text, "[", "cl", "##s", "]". [UNK] is UNKNOWN: likewise. */
	static const int32_t pair[] = { BGE_CLS, BGE_CLS, 7592, BGE_SEP, 2088, BGE_MASK, BGE_SEP, BGE_SEP };
	expect_ids(v, "[CLS] Hello[SEP]world [MASK]  [SEP]", true, true, pair, ARRAY_LEN(pair));
	static const int32_t as_text[] = { 1031, 18856, 2015, 1033 };
	expect_ids(v, "[CLS]", false, false, as_text, 4);
	static const int32_t unk[] = { BGE_UNK };
	expect_ids(v, "[UNK]", false, true, unk, 1);
	/* Lower-case look-alikes are not special tokens. */
	int32_t *ids;
	size_t n;
	if (tokenize(v, "[cls]", 5, false, true, &ids, &n)) {
		CHECK(ids_equal(ids, n, as_text, 4));
		free(ids);
	}
	vocab_free(v);
}

/* ---- pre-processing -------------------------------------------------------- */

static void test_normalization(void)
{
	struct ajar_vocab *v = bge();
	if (!v)
		return;
	int32_t *a, *b;
	size_t na, nb;
	/* Pairs that must tokenize alike: case, accents (precomposed ones are
	 * stripped), punctuation splitting, whitespace kinds, dropped controls. */
	static const char *const same[][2] = {
		{ "HELLO World", "hello world" },
		{ "caf\xc3\xa9 na\xc3\xafve", "cafe naive" },          /* é ï (precomposed) */
		{ "\xc3\x80\xc3\x89\xc3\x8e", "aei" },                  /* ÀÉÎ */
		{ "hello,world!", "hello , world !" },
		{ "a$b", "a $ b" },                                     /* ASCII symbol: split */
		{ "a\xc2\xa0" "b\xe3\x80\x80" "c\xe2\x80\xa8" "d", "a b c d" }, /* NBSP, ideographic space, LS */
		{ "hel\xe2\x80\x8blo", "hello" },                       /* ZWSP (Cf) dropped, word kept */
		{ "hel\x01lo\x7f", "hello" },                           /* Cc dropped */
		{ "hel\xef\xbf\xbdlo", "hello" },                       /* U+FFFD dropped */
		{ "\xe4\xb8\xad\xe6\x96\x87", "\xe4\xb8\xad \xe6\x96\x87" }, /* CJK: one word each */
	};
	for (size_t i = 0; i < ARRAY_LEN(same); i++) {
		if (!tokenize(v, same[i][0], strlen(same[i][0]), false, false, &a, &na))
			continue;
		if (tokenize(v, same[i][1], strlen(same[i][1]), false, false, &b, &nb)) {
			CHECK_MSG(ids_equal(a, na, b, nb), "\"%s\" vs \"%s\"", same[i][0], same[i][1]);
			free(b);
		}
		free(a);
	}
	/* A non-ASCII symbol (U+00A9 ©, So) stays inside its word: "▁a" "©"
	 * "z" "©" with continuation pieces, not "▁©" as a word of its own. */
	static const int32_t in_word[] = { 1037, 29652, 2480, 29652 };
	expect_ids(v, "a\xc2\xa9z\xc2\xa9", false, false, in_word, 4);
	CHECK(strcmp(vocab_token_text(v, 29652), "\xc2\xa9") == 0);
	/* A word that matches partly is all [UNK], not a prefix plus [UNK]. */
	static const int32_t hello_unk[] = { 7592, BGE_UNK };
	expect_ids(v, "hello hello\xe2\x98\x83", false, false, hello_unk, 2); /* hello☃ */
	vocab_free(v);
}

/* ---- malformed UTF-8 ------------------------------------------------------- */

static void test_invalid_utf8(void)
{
	struct ajar_vocab *v = bge();
	if (!v)
		return;
	int32_t *a, *b;
	size_t na, nb;
	/* As llama.cpp: each byte that does not start a sequence its decoder
	 * accepts is dropped without ending the word; overlong forms decode
	 * (C1 81 is 'A'), surrogates are controls (dropped), and sequences
	 * above U+10FFFF are dropped. */
	static const char *const same[][2] = {
		{ "ab\xff\xfe cd \xc3( \xe2\x82 end \xf0\x9f\x98", "ab cd ( end" }, /* extra.inp input 5 */
		{ "he\x80llo", "hello" },
		{ "he\xc3llo", "hello" },     /* C3 'l' : not a pair; C3 dropped */
		{ "\xc1\x81", "a" },          /* overlong 'A' */
		{ "he\xc0\x80llo", "hello" }, /* overlong NUL: dropped */
		{ "he\xed\xa0\x80llo", "hello" },
		{ "he\xf4\x90\x80\x80llo", "hello" },
		{ "he\xf7\xbf\xbf\xbfllo", "hello" },
		{ "he\xf8\x88\x80\x80\x80llo", "hello" },
		{ "hello\xe2", "hello" },
		{ "hello\xf0\x9f", "hello" },
	};
	for (size_t i = 0; i < ARRAY_LEN(same); i++) {
		if (!tokenize(v, same[i][0], strlen(same[i][0]), false, false, &a, &na))
			continue;
		if (tokenize(v, same[i][1], strlen(same[i][1]), false, false, &b, &nb)) {
			CHECK_MSG(ids_equal(a, na, b, nb), "case %zu", i);
			if (!ids_equal(a, na, b, nb)) {
				print_ids("want", b, nb);
				print_ids("got ", a, na);
			}
			free(b);
		}
		free(a);
	}
	/* Every byte value, alone and in runs: never fails, ids in range, and
	 * the stream turns the result into valid UTF-8. */
	char all[768];
	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (char)((i * 7) & 0xff);
	for (size_t len = 0; len <= sizeof(all); len += 29) {
		for (int special = 0; special < 2; special++) {
			if (!tokenize(v, all, len, special, special, &a, &na))
				continue;
			for (size_t i = 0; i < na; i++)
				CHECK(a[i] >= 0 && a[i] < vocab_n_tokens(v));
			char *out = detokenize(v, a, na, special, true);
			CHECK(utf8_valid(out, strlen(out)));
			free(out);
			free(a);
		}
	}
	for (int c = 0; c < 256; c++) {
		char s = (char)c;
		if (tokenize(v, &s, 1, false, false, &a, &na)) {
			CHECK(na <= 1);
			free(a);
		}
	}
	vocab_free(v);
}

/* ---- detokenization ------------------------------------------------------ */

static void test_detokenize(void)
{
	struct ajar_vocab *v = bge();
	if (!v)
		return;
	char buf[64];
	/* Word starts get their space back, continuations are appended. */
	int n = vocab_token_to_piece(v, 7592, false, buf, sizeof(buf));
	CHECK(n == 6 && memcmp(buf, " hello", 6) == 0);
	int32_t *ids;
	size_t na;
	if (tokenize(v, "Tokenization", 12, false, false, &ids, &na)) {
		CHECK(na == 2); /* "▁token" "ization" */
		if (na == 2) {
			n = vocab_token_to_piece(v, ids[1], false, buf, sizeof(buf));
			CHECK(n == 7 && memcmp(buf, "ization", 7) == 0);
		}
		free(ids);
	}
	/* Control tokens: "" unless special. */
	CHECK_EQ_INT(vocab_token_to_piece(v, BGE_CLS, false, buf, sizeof(buf)), 0);
	n = vocab_token_to_piece(v, BGE_CLS, true, buf, sizeof(buf));
	CHECK(n == 5 && memcmp(buf, "[CLS]", 5) == 0);
	CHECK_EQ_INT(vocab_token_to_piece(v, BGE_UNK, false, buf, sizeof(buf)), 0);
	CHECK_EQ_INT(vocab_token_to_piece(v, 30522, false, buf, sizeof(buf)), -1);

	/* The stream: [CLS]/[SEP] vanish, the first word's space is stripped;
	 * the text comes back lower-cased and with punctuation spaced out, as
	 * llama.cpp's token_to_piece pieces concatenate. */
	if (tokenize(v, "Hello, Tokenization World!", 26, true, false, &ids, &na)) {
		char *back = detokenize(v, ids, na, false, true);
		CHECK_STR(back, "hello , tokenization world !");
		free(back);
		back = detokenize(v, ids, na, true, true);
		CHECK_STR(back, "[CLS] hello , tokenization world ![SEP]");
		free(back);
		free(ids);
	}
	vocab_free(v);
}

/* ---- long text ------------------------------------------------------------- */

/* 1 MiB of prose and 1 MiB that is one word: the longest-match loop is
 * linear in the word length (no backtracking), so both are quick. */
static void test_long_text(void)
{
	struct ajar_vocab *v = bge();
	if (!v)
		return;
	static const char words[] = "The quick brown fox, naïve café owner, jumps over 12 lazy dogs! ";
	size_t len = 1 << 20;
	char *text = malloc(len);
	for (size_t i = 0; i < len; i++)
		text[i] = words[i % (sizeof(words) - 1)];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int32_t *ids;
	size_t n;
	if (tokenize(v, text, len, true, false, &ids, &n)) {
		CHECK(n > len / 8 && ids[0] == BGE_CLS && ids[n - 1] == BGE_SEP);
		free(ids);
	}
	memset(text, 'a', len);
	if (tokenize(v, text, len, false, false, &ids, &n)) {
		CHECK(n > 1 && ids[0] != BGE_UNK);
		free(ids);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("long text: 2 x 1 MiB in %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
	free(text);
	vocab_free(v);
}

/* ---- small vocabularies ---------------------------------------------------- */

/* Writes and loads a "bert" vocabulary of the given tokens (all NORMAL but
 * for the types given); unk/bos/sep < 0 leave the key out. */
static enum ajar_err load_fake(const char *const *tokens, size_t n, const int32_t *types, int64_t unk,
			       struct ajar_vocab **out)
{
	char path[256];
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/ajar_test_wpm_%ld.gguf", tmp ? tmp : "/tmp", (long)getpid());
	struct gguf_writer *w;
	*out = NULL;
	CHECK_OK(gguf_writer_new(&w));
	struct gguf_str strs[32];
	for (size_t i = 0; i < n && i < ARRAY_LEN(strs); i++)
		strs[i] = (struct gguf_str){ tokens[i], strlen(tokens[i]) };
	CHECK_OK(gguf_writer_set_str(w, "tokenizer.ggml.model", "bert"));
	CHECK_OK(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, n));
	if (types)
		CHECK_OK(gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n));
	if (unk >= 0)
		CHECK_OK(gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)unk));
	CHECK_OK(gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1));
	CHECK_OK(gguf_writer_set_u32(w, "tokenizer.ggml.seperator_token_id", 2));
	CHECK_OK(gguf_writer_write(w, path));
	gguf_writer_free(w);
	struct gguf_file *f;
	enum ajar_err err = gguf_open(path, &f);
	CHECK_MSG(err == AJAR_OK, "%s", ajar_err_msg());
	unlink(path);
	if (err)
		return AJAR_ERR_IO;
	err = vocab_load(f, out);
	gguf_close(f);
	return err;
}

#define MARK "\xe2\x96\x81"

static void test_fake_vocab(void)
{
	static const char *const toks[] = { "[UNK]", "[CLS]", "[SEP]", MARK "un", MARK "unaff", "aff", "able",
					    "a", MARK "x", "ble", MARK "\xe1\x84\x92" };
	static const int32_t types[] = { 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1 };
	struct ajar_vocab *v;
	enum ajar_err err = load_fake(toks, ARRAY_LEN(toks), types, 0, &v);
	CHECK_MSG(err == AJAR_OK, "%s", ajar_err_msg());
	if (err)
		return;
	/* Longest first: "▁unaff" + "able", not "▁un" + "aff" + "able". */
	static const int32_t unaffable[] = { 1, 4, 6, 2 };
	expect_ids(v, "UNAFFABLE", true, false, unaffable, 4);
	/* Greedy, no backtracking: "▁unaff" then "ab" is no token... "a" is,
	 * then "b" is not: the whole word is [UNK]. */
	static const int32_t unk[] = { 0 };
	expect_ids(v, "unaffab", false, false, unk, 1);
	/* A word that cannot start ("▁y") is [UNK]; others go on. */
	static const int32_t y_x[] = { 0, 8 };
	expect_ids(v, "y x", false, false, y_x, 2);
	/* Hangul syllable 한 maps to its leading jamo U+1112 (first code point
	 * of its decomposition). */
	static const int32_t han[] = { 10 };
	expect_ids(v, "\xed\x95\x9c", false, false, han, 1);
	vocab_free(v);

	/* No UNK token: refused (every unknown word needs one). */
	static const char *const no_unk[] = { "[PAD]", "[CLS]", "[SEP]", MARK "a" };
	err = load_fake(no_unk, ARRAY_LEN(no_unk), NULL, -1, &v);
	CHECK_EQ_INT(err, AJAR_ERR_FORMAT);
	CHECK(v == NULL);
}

int main(void)
{
	RUN(test_bge_vectors);
	RUN(test_bge_extra);
	RUN(test_tiny_bert);
	RUN(test_add_special);
	RUN(test_normalization);
	RUN(test_invalid_utf8);
	RUN(test_detokenize);
	RUN(test_long_text);
	RUN(test_fake_vocab);
	return check_summary();
}
