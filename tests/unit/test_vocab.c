/*
 * Unit tests for the SentencePiece tokenizer (src/text/): every test vector of
 * llama.cpp's ggml-vocab-llama-spm and ggml-vocab-phi-3 (ids from the Hugging
 * Face tokenizers, which llama.cpp c392e50 matches), the prompts of
 * reference/stories260K.json, special-token parsing, detokenization and round
 * trips, and the validation of malformed vocabularies built with the GGUF
 * writer.
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

/* ---- helpers ------------------------------------------------------------ */

static struct ajar_vocab *load_vocab(const char *rel)
{
	return load_vocab_path(fixture_path(rel));
}

/* Detokenizes through a stream; caller frees. */
static char *detokenize(const struct ajar_vocab *v, const int32_t *ids, size_t n, bool special, bool strip,
			size_t *len)
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
	*len = k;
	return out;
}

/* ---- llama.cpp's test vectors -------------------------------------------- */

/* Checks every case of NAME.gguf.inp/.out; returns the count that matched. */
static int run_vocab_vectors(const char *name, int *n_cases)
{
	char rel[256], inp_path[4200];
	struct vectors vs;
	const char *in;
	size_t text_len, n_want;
	int32_t want[512];
	int passed = 0;
	*n_cases = 0;
	snprintf(rel, sizeof(rel), "vocab/%s.gguf", name);
	struct ajar_vocab *v = load_vocab(rel);
	snprintf(rel, sizeof(rel), "vocab/%s.gguf.inp", name);
	snprintf(inp_path, sizeof(inp_path), "%s", fixture_path(rel));
	snprintf(rel, sizeof(rel), "vocab/%s.gguf.out", name);
	if (!v || !vectors_open(&vs, inp_path, fixture_path(rel), name)) {
		vocab_free(v);
		return 0;
	}
	while (vectors_next(&vs, &in, &text_len, want, ARRAY_LEN(want), &n_want)) {
		int32_t *got = NULL;
		size_t n_got = 0;
		if (tokenize(v, in, text_len, false, false, &got, &n_got)) {
			passed += vectors_ids_match(&vs, text_len, got, n_got, want, n_want);
			/* Round trip: the stream gives the input back once the
			 * add-space prefix is stripped (all inputs are valid UTF-8). */
			size_t back_len;
			char *back = detokenize(v, got, n_got, false, true, &back_len);
			CHECK_MSG(back_len == text_len && memcmp(back, in, text_len) == 0,
				  "%s case %d: round trip gives \"%s\"", name, vs.index, back);
			free(back);
		}
		free(got);
	}
	*n_cases = vs.count;
	vectors_close(&vs);
	printf("%s: %d/%d cases match\n", name, passed, *n_cases);
	vocab_free(v);
	return passed;
}

static void test_llama_spm_vectors(void)
{
	int n;
	int passed = run_vocab_vectors("ggml-vocab-llama-spm", &n);
	CHECK_EQ_INT(n, 46);
	CHECK_EQ_INT(passed, n);
}

static void test_phi3_vectors(void)
{
	int n;
	int passed = run_vocab_vectors("ggml-vocab-phi-3", &n);
	CHECK_EQ_INT(n, 46);
	CHECK_EQ_INT(passed, n);
}

/* ---- stories260K --------------------------------------------------------- */

/* prompt_tokens of every case in reference/stories260K.json (llama.cpp
 * c392e50, add_special=true, parse_special=false). */
static const struct {
	const char *prompt;
	int32_t ids[16];
	size_t n;
} stories_prompts[] = {
	{ "Once upon a time", { 1, 403, 407, 261, 378 }, 5 },
	{ "Lily had a red ball", { 1, 317, 381, 261, 352, 266, 268, 388 }, 8 },
	{ "The dog", { 1, 291, 400, 428 }, 4 },
	{ "", { 1 }, 1 },
	{ "One day, a little girl named", { 1, 385, 328, 432, 261, 376, 298, 315, 421, 395 }, 10 },
	{ "Tom and Sue went to the park", { 1, 274, 287, 269, 301, 425, 411, 263, 377, 267, 265, 282, 295, 433 }, 14 },
};

/* The first 12 greedy_tokens / greedy_pieces of the first case (special=false). */
static const int32_t stories_greedy_ids[] = { 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338 };
static const char *const stories_greedy_pieces[] = { ",",   " there", " was", " a",     " little", " g",
						     "ir",  "l",      " named", " Lily", ".",       " She" };

static struct ajar_vocab *stories(void)
{
	return load_vocab("models/stories260K.gguf");
}

static void test_stories_prompts(void)
{
	struct ajar_vocab *v = stories();
	if (!v)
		return;
	CHECK_EQ_INT(vocab_n_tokens(v), 512);
	CHECK_EQ_INT(vocab_bos(v), 1);
	CHECK_EQ_INT(vocab_eos(v), 2);
	CHECK(vocab_add_bos(v));
	CHECK(!vocab_add_eos(v));
	for (size_t i = 0; i < ARRAY_LEN(stories_prompts); i++) {
		int32_t *ids;
		size_t n;
		const char *p = stories_prompts[i].prompt;
		if (!tokenize(v, p, strlen(p), true, false, &ids, &n))
			continue;
		CHECK_MSG(ids_equal(ids, n, stories_prompts[i].ids, stories_prompts[i].n), "prompt \"%s\"", p);
		/* Without add_special: the same minus BOS. */
		int32_t *ids2;
		size_t n2;
		if (tokenize(v, p, strlen(p), false, false, &ids2, &n2)) {
			CHECK(ids_equal(ids2, n2, stories_prompts[i].ids + 1, stories_prompts[i].n - 1));
			free(ids2);
		}
		/* BOS renders as "", so the stream gives the prompt back. */
		size_t len;
		char *back = detokenize(v, ids, n, false, true, &len);
		CHECK_STR(back, p);
		free(back);
		free(ids);
	}
	vocab_free(v);
}

static void test_stories_pieces(void)
{
	struct ajar_vocab *v = stories();
	if (!v)
		return;
	char buf[64];
	for (size_t i = 0; i < ARRAY_LEN(stories_greedy_ids); i++) {
		int n = vocab_token_to_piece(v, stories_greedy_ids[i], false, buf, sizeof(buf));
		CHECK(n >= 0 && (size_t)n < sizeof(buf));
		if (n < 0 || (size_t)n >= sizeof(buf))
			continue;
		buf[n] = '\0';
		CHECK_STR(buf, stories_greedy_pieces[i]);
	}
	/* Too small a buffer: the full length back, the first cap bytes written. */
	memset(buf, 'x', sizeof(buf));
	CHECK_EQ_INT(vocab_token_to_piece(v, 383, false, buf, 3), 6); /* " there" */
	CHECK(memcmp(buf, " thx", 4) == 0);
	CHECK_EQ_INT(vocab_token_to_piece(v, 383, false, NULL, 0), 6);
	/* Control and unknown tokens: "" unless special. */
	CHECK_EQ_INT(vocab_token_to_piece(v, 1, false, buf, sizeof(buf)), 0);
	CHECK_EQ_INT(vocab_token_to_piece(v, 1, true, buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "<s>", 3) == 0);
	CHECK_EQ_INT(vocab_token_to_piece(v, 0, false, buf, sizeof(buf)), 0);
	CHECK_EQ_INT(vocab_token_to_piece(v, 0, true, buf, sizeof(buf)), 5);
	CHECK(memcmp(buf, "<unk>", 5) == 0);
	/* Byte tokens: <0x0A> is id 3 + 0x0A. */
	CHECK_EQ_INT(vocab_token_to_piece(v, 3 + 0x0A, false, buf, sizeof(buf)), 1);
	CHECK_EQ_INT(buf[0], '\n');
	CHECK_EQ_INT(vocab_token_to_piece(v, -1, false, buf, sizeof(buf)), -1);
	CHECK_EQ_INT(vocab_token_to_piece(v, 512, false, buf, sizeof(buf)), -1);
	vocab_free(v);
}

static void test_stories_accessors(void)
{
	struct ajar_vocab *v = stories();
	if (!v)
		return;
	CHECK_EQ_INT(vocab_token_type(v, 0), AJAR_TOKEN_UNKNOWN);
	CHECK_EQ_INT(vocab_token_type(v, 1), AJAR_TOKEN_CONTROL);
	CHECK_EQ_INT(vocab_token_type(v, 3), AJAR_TOKEN_BYTE);
	CHECK_EQ_INT(vocab_token_type(v, 403), AJAR_TOKEN_NORMAL);
	CHECK_EQ_INT(vocab_token_type(v, 512), AJAR_TOKEN_UNDEFINED);
	CHECK_STR(vocab_token_text(v, 1), "<s>");
	CHECK_STR(vocab_token_text(v, 403), "\xe2\x96\x81Once");
	CHECK(vocab_token_text(v, -1) == NULL);
	CHECK(vocab_is_eog(v, 2));
	CHECK(!vocab_is_eog(v, 1));
	CHECK(!vocab_is_eog(v, -1));
	CHECK(!vocab_is_eog(v, 100000));
	vocab_free(v);
}

/* ---- special tokens ------------------------------------------------------ */

static void test_parse_special(void)
{
	struct ajar_vocab *v = stories();
	if (!v)
		return;
	int32_t *ids;
	size_t n;
	/* With parse_special "<s>" is BOS; add_special puts another in front. */
	if (tokenize(v, "<s>", 3, false, true, &ids, &n)) {
		CHECK(n == 1 && ids[0] == 1);
		free(ids);
	}
	if (tokenize(v, "<s>", 3, true, true, &ids, &n)) {
		CHECK(n == 2 && ids[0] == 1 && ids[1] == 1);
		free(ids);
	}
	/* Without, it is text: no control token, and it reads back. */
	if (tokenize(v, "<s>", 3, false, false, &ids, &n)) {
		CHECK(n >= 2);
		for (size_t i = 0; i < n; i++)
			CHECK(ids[i] != 1);
		size_t len;
		char *back = detokenize(v, ids, n, false, false, &len);
		CHECK_STR(back, " <s>");
		free(back);
		free(ids);
	}
	/* Text after a special token gets the space prefix again. */
	int32_t *a, *b, *c;
	size_t na, nb, nc;
	if (tokenize(v, "Hello</s>world<s>", 17, false, true, &a, &na)) {
		if (tokenize(v, "Hello", 5, false, false, &b, &nb)) {
			if (tokenize(v, "world", 5, false, false, &c, &nc)) {
				CHECK(na == nb + 1 + nc + 1);
				if (na == nb + 1 + nc + 1) {
					CHECK(ids_equal(a, nb, b, nb));
					CHECK_EQ_INT(a[nb], 2);
					CHECK(ids_equal(a + nb + 1, nc, c, nc));
					CHECK_EQ_INT(a[na - 1], 1);
				}
				/* special=true renders control tokens, leading space stripped once */
				size_t len;
				char *back = detokenize(v, a, na, true, true, &len);
				CHECK_STR(back, "Hello</s> world<s>");
				free(back);
				free(c);
			}
			free(b);
		}
		free(a);
	}
	/* "<unk>" is UNKNOWN-typed: special only with parse_special. */
	if (tokenize(v, "<unk>", 5, false, true, &ids, &n)) {
		CHECK(n == 1 && ids[0] == 0);
		free(ids);
	}
	vocab_free(v);
}

static void test_phi3_special(void)
{
	struct ajar_vocab *v = load_vocab("vocab/ggml-vocab-phi-3.gguf");
	if (!v)
		return;
	int32_t *a, *b;
	size_t na, nb;
	/* "</s>" is USER_DEFINED in Phi-3: matched even without parse_special,
	 * and (Phi-3 rule) it eats the whitespace after it. */
	if (tokenize(v, "a</s>b", 6, false, false, &a, &na)) {
		CHECK(na == 3 && a[1] == 2); /* ▁a </s> ▁b */
		if (tokenize(v, "a</s> \n b", 9, false, false, &b, &nb)) {
			CHECK(ids_equal(a, na, b, nb));
			free(b);
		}
		free(a);
	}
	/* <|user|> is CONTROL: only with parse_special, then it strips too. */
	if (tokenize(v, "<|user|>\nHi", 11, false, true, &a, &na)) {
		CHECK(na >= 2 && a[0] == 32010);
		if (tokenize(v, "Hi", 2, false, false, &b, &nb)) {
			CHECK(na == nb + 1 && ids_equal(a + 1, na - 1, b, nb));
			free(b);
		}
		free(a);
	}
	if (tokenize(v, "<|user|>", 8, false, false, &a, &na)) {
		for (size_t i = 0; i < na; i++)
			CHECK(a[i] != 32010);
		free(a);
	}
	/* EOG: EOS <|endoftext|> and <|end|> (by text); not BOS. */
	CHECK_EQ_INT(vocab_eos(v), 32000);
	CHECK(vocab_is_eog(v, 32000));
	CHECK(vocab_is_eog(v, 32007));
	CHECK(!vocab_is_eog(v, 1));
	CHECK(!vocab_is_eog(v, 32010));
	vocab_free(v);
}

/* ---- malformed and odd input --------------------------------------------- */

static void test_invalid_utf8(void)
{
	struct ajar_vocab *v = stories();
	if (!v)
		return;
	int32_t *ids;
	size_t n;
	/* As llama.cpp: 0xC3 claims two bytes, so "\xC3" "A" is one
	 * character that is no token: <0xC3> <0x41>. Byte tokens are 3 + b. */
	if (tokenize(v, "\xc3" "A", 2, false, false, &ids, &n)) {
		int32_t space = -1;
		for (int32_t i = 0; i < vocab_n_tokens(v); i++)
			if (strcmp(vocab_token_text(v, i), "\xe2\x96\x81") == 0)
				space = i;
		int32_t want[] = { space, 3 + 0xC3, 3 + 0x41 };
		CHECK(ids_equal(ids, n, want, 3));
		free(ids);
	}
	/* Every byte value, alone and in runs: never fails, and the stream
	 * turns the result into valid UTF-8. */
	char all[512];
	for (int i = 0; i < 512; i++)
		all[i] = (char)(i & 0xff);
	for (size_t len = 0; len <= sizeof(all); len += 37) {
		if (!tokenize(v, all, len, true, true, &ids, &n))
			continue;
		size_t out_len;
		char *out = detokenize(v, ids, n, false, true, &out_len);
		CHECK(utf8_valid(out, out_len));
		free(out);
		free(ids);
	}
	vocab_free(v);
}

static void test_long_text(void)
{
	struct ajar_vocab *v = stories();
	if (!v)
		return;
	/* 1 MiB of story-like text, and 1 MiB of one repeated character:
	 * must finish quickly (O(n log n)); not a timed test. */
	size_t len = 1 << 20;
	char *text = malloc(len);
	static const char words[] = "Once upon a time, there was a little girl named Lily. She liked the park. ";
	for (size_t i = 0; i < len; i++)
		text[i] = words[i % (sizeof(words) - 1)];
	clock_t t0 = clock();
	int32_t *ids;
	size_t n;
	if (tokenize(v, text, len, true, false, &ids, &n)) {
		CHECK(n > 1000);
		size_t back_len;
		char *back = detokenize(v, ids, n, false, true, &back_len);
		CHECK(back_len == len && memcmp(back, text, len) == 0);
		free(back);
		free(ids);
	}
	memset(text, 'a', len);
	if (tokenize(v, text, len, false, false, &ids, &n)) {
		CHECK(n > 0);
		free(ids);
	}
	memset(text, ' ', len);
	if (tokenize(v, text, len, false, false, &ids, &n)) {
		CHECK(n > 0);
		free(ids);
	}
	printf("long text: 3 x 1 MiB in %.2f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
	free(text);
	/* Past the 16 MiB cap: refused before the text is read. */
	size_t big = ((size_t)16 << 20) + 1;
	char *huge = malloc(big);
	CHECK_EQ_INT(vocab_tokenize(v, huge, big, false, false, &ids, &n), AJAR_ERR_LIMIT);
	CHECK(ids == NULL && n == 0);
	free(huge);
	vocab_free(v);
}

static void test_round_trip_random(void)
{
	struct ajar_vocab *v = stories();
	if (!v)
		return;
	/* Random valid UTF-8 from a mix of ASCII, Latin, Cyrillic, CJK, emoji. */
	static const uint32_t ranges[][2] = { { 0x20, 0x7e }, { 0x09, 0x0d }, { 0xa0, 0x24f }, { 0x400, 0x4ff },
					      { 0x4e00, 0x4fff }, { 0x1f600, 0x1f64f } };
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	for (int iter = 0; iter < 300; iter++) {
		char text[400];
		size_t len = 0;
		int chars = (int)(rng % 60);
		for (int c = 0; c < chars; c++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			size_t r = (size_t)((rng >> 33) % ARRAY_LEN(ranges));
			uint32_t span = ranges[r][1] - ranges[r][0] + 1;
			uint32_t cp = ranges[r][0] + (uint32_t)((rng >> 13) % span);
			len += utf8_encode(cp, text + len);
		}
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		int32_t *ids;
		size_t n;
		if (!tokenize(v, text, len, true, false, &ids, &n))
			continue;
		size_t back_len;
		char *back = detokenize(v, ids, n, false, true, &back_len);
		CHECK_MSG(back_len == len && memcmp(back, text, len) == 0, "iteration %d", iter);
		free(back);
		free(ids);
	}
	vocab_free(v);
}

/* ---- synthetic vocabularies ---------------------------------------------- */

struct fake {
	const char *model;       /* tokenizer.ggml.model, or NULL to leave out */
	const char *const *tokens;
	size_t n_tokens;
	const float *scores;     /* or NULL */
	size_t n_scores;
	const int32_t *types;    /* or NULL */
	size_t n_types;
	int64_t bos;             /* written as u32 unless -2 (left out) */
	bool tokens_as_ints;     /* write tokens as an i32 array */
};

static enum ajar_err load_fake(const struct fake *fk, struct ajar_vocab **out)
{
	char path[256];
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/ajar_test_vocab_%ld.gguf", tmp ? tmp : "/tmp", (long)getpid());
	struct gguf_writer *w;
	*out = NULL;
	CHECK_OK(gguf_writer_new(&w));
	struct gguf_str strs[16];
	int32_t ints[16];
	for (size_t i = 0; i < fk->n_tokens; i++) {
		strs[i] = (struct gguf_str){ fk->tokens[i], strlen(fk->tokens[i]) };
		ints[i] = (int32_t)i;
	}
	if (fk->model)
		CHECK_OK(gguf_writer_set_str(w, "tokenizer.ggml.model", fk->model));
	if (fk->tokens_as_ints)
		CHECK_OK(gguf_writer_set_arr(w, "tokenizer.ggml.tokens", GGUF_TYPE_INT32, ints, fk->n_tokens));
	else
		CHECK_OK(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, fk->n_tokens));
	if (fk->scores)
		CHECK_OK(gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, fk->scores, fk->n_scores));
	if (fk->types)
		CHECK_OK(gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, fk->types, fk->n_types));
	if (fk->bos != -2)
		CHECK_OK(gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)fk->bos));
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

static const char *const tiny_tokens[] = { "<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "ab", ("\xe2\x96\x81" "ab") };
static const float tiny_scores[] = { 0, 0, 0, -1, -2, -3, -0.5f, -0.25f };
static const int32_t tiny_types[] = { 2, 3, 3, 1, 1, 1, 1, 1 };

static void test_fake_vocab(void)
{
	struct fake fk = { "llama", tiny_tokens, 8, tiny_scores, 8, tiny_types, 8, -2, false };
	struct ajar_vocab *v;
	enum ajar_err err = load_fake(&fk, &v);
	CHECK_MSG(err == AJAR_OK, "%s", ajar_err_msg());
	if (err)
		return;
	int32_t *ids;
	size_t n;
	/* "▁ab" (-0.25) beats "ab" (-0.5): "ab" -> "▁ab"; no byte tokens, so
	 * "c" falls back to UNK, one per byte ("é" is two). */
	if (tokenize(v, "ab", 2, false, false, &ids, &n)) {
		CHECK(n == 1 && ids[0] == 7);
		free(ids);
	}
	if (tokenize(v, "abc \xc3\xa9", 6, true, false, &ids, &n)) {
		int32_t want[] = { 1, 7, 0, 3, 0, 0 };
		CHECK(ids_equal(ids, n, want, ARRAY_LEN(want)));
		if (!ids_equal(ids, n, want, ARRAY_LEN(want)))
			print_ids("got", ids, n);
		free(ids);
	}
	vocab_free(v);
}

static void test_malformed_vocabs(void)
{
	struct ajar_vocab *v;
	struct fake base = { "llama", tiny_tokens, 8, tiny_scores, 8, tiny_types, 8, -2, false };
	struct fake fk;

	fk = base;
	fk.n_scores = 7; /* fewer scores than tokens */
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_FORMAT);
	CHECK(v == NULL);

	fk = base;
	fk.n_types = 7;
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_FORMAT);

	fk = base;
	fk.bos = 8; /* out of range */
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_FORMAT);

	fk = base;
	fk.bos = 4294967295u; /* "none": but add_bos defaults to true */
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_FORMAT);

	fk = base;
	fk.tokens_as_ints = true;
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_TYPE);

	fk = base;
	fk.model = NULL;
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_FORMAT);

	fk = base;
	fk.model = "t5";
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_UNSUPPORTED);

	static const char *const dup[] = { "<unk>", "<s>", "</s>", "a", "b", "a" };
	fk = base;
	fk.tokens = dup;
	fk.n_tokens = 6;
	fk.scores = NULL;
	fk.types = NULL;
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_FORMAT);

	static const char *const bad_byte[] = { "<unk>", "<s>", "</s>", "<0xZZ>" };
	static const int32_t bad_byte_types[] = { 2, 3, 3, 6 };
	fk = base;
	fk.tokens = bad_byte;
	fk.n_tokens = 4;
	fk.scores = NULL;
	fk.types = bad_byte_types;
	fk.n_types = 4;
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_FORMAT);

	/* Minimal: no scores, no types, no ids (defaults 1/2/0 fit). */
	fk = base;
	fk.scores = NULL;
	fk.types = NULL;
	enum ajar_err err = load_fake(&fk, &v);
	CHECK_EQ_INT(err, AJAR_OK);
	if (!err) {
		CHECK_EQ_INT(vocab_token_type(v, 1), AJAR_TOKEN_NORMAL);
		vocab_free(v);
	}
}

static void test_other_models_load(void)
{
	/* The other algorithms are tested in test_bpe.c and test_wordpiece.c. */
	static const char *const files[] = { "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-bert-bge.gguf" };
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		struct gguf_file *f = NULL;
		struct ajar_vocab *v = NULL;
		CHECK_OK(gguf_open(fixture_path(files[i]), &f));
		if (!f)
			continue;
		enum ajar_err err = vocab_load(f, &v);
		CHECK_MSG(err == AJAR_OK, "%s: %d %s", files[i], err, ajar_err_msg());
		vocab_free(v);
		gguf_close(f);
	}
}

/* tests/data/tokenizer (see its README): 20 further inputs - invalid UTF-8,
 * emoji, CJK, combining marks, code, whitespace runs, special-token look-alikes
 * - with llama.cpp's ids, parse_special off (.out) and on (.special.out). */
static void check_extra_refs(const char *vocab_file)
{
	char path[4096], vrel[256];
	size_t inp_len = 0;
	snprintf(path, sizeof(path), "%s/tests/data/tokenizer/extra.inp", AJAR_SOURCE_DIR);
	char *inp = slurp(path, &inp_len);
	snprintf(vrel, sizeof(vrel), "vocab/%s", vocab_file);
	struct ajar_vocab *v = load_vocab(vrel);
	static const char sep[] = "\n__ggml_vocab_test__\n";
	CHECK(inp != NULL);
	for (int special = 0; special < 2 && inp && v; special++) {
		size_t out_len = 0;
		snprintf(path, sizeof(path), "%s/tests/data/tokenizer/%s.%s", AJAR_SOURCE_DIR, vocab_file,
			 special ? "special.out" : "out");
		char *out = slurp(path, &out_len), *line = out;
		const char *p = inp, *end = inp + inp_len;
		int n_cases = 0, n_bad = 0;
		CHECK(out != NULL);
		while (out && p < end) {
			const char *e = memmem(p, (size_t)(end - p), sep, sizeof(sep) - 1);
			if (!e)
				break;
			char *nl = strchr(line, '\n');
			if (!nl)
				break;
			*nl = '\0';
			int32_t want[512];
			size_t n_want = 0;
			for (char *q = line; *q && n_want < 512;) {
				char *qe;
				long id = strtol(q, &qe, 10);
				if (qe == q)
					break;
				want[n_want++] = (int32_t)id;
				q = qe;
			}
			int32_t *ids = NULL;
			size_t n = 0;
			if (tokenize(v, p, (size_t)(e - p), false, special, &ids, &n)) {
				if (!ids_equal(ids, n, want, n_want)) {
					n_bad++;
					CHECK_MSG(0, "%s case %d (special %d) differs from llama.cpp", vocab_file, n_cases,
						  special);
					print_ids("got ", ids, n);
					print_ids("want", want, n_want);
				}
			}
			free(ids);
			n_cases++;
			p = e + sizeof(sep) - 1;
			line = nl + 1;
		}
		CHECK_EQ_INT(n_cases, 20);
		printf("%s extra inputs (parse_special %d): %d of %d match llama.cpp\n", vocab_file, special,
		       n_cases - n_bad, n_cases);
		free(out);
	}
	free(inp);
	vocab_free(v);
}

static void test_extra_inputs(void)
{
	check_extra_refs("ggml-vocab-llama-spm.gguf");
	check_extra_refs("ggml-vocab-phi-3.gguf");
}

int main(void)
{
	RUN(test_extra_inputs);
	RUN(test_llama_spm_vectors);
	RUN(test_phi3_vectors);
	RUN(test_stories_prompts);
	RUN(test_stories_pieces);
	RUN(test_stories_accessors);
	RUN(test_parse_special);
	RUN(test_phi3_special);
	RUN(test_invalid_utf8);
	RUN(test_long_text);
	RUN(test_round_trip_random);
	RUN(test_fake_vocab);
	RUN(test_malformed_vocabs);
	RUN(test_other_models_load);
	return check_summary();
}
