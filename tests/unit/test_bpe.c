/*
 * Unit tests for the byte-level BPE tokenizer (src/text/bpe.c, pretok.c):
 *   - every test vector of llama.cpp's gpt2-model vocabularies (ids from the
 *     Hugging Face tokenizers, which llama.cpp c392e50 matches), with a
 *     detokenizing round trip;
 *   - the 20 further inputs of tests/data/tokenizer/extra.inp (llama.cpp's
 *     own ids, invalid UTF-8 included) with and without special parsing;
 *   - add_special per vocabulary, pieces, the streaming detokenizer on byte
 *     tokens that cut characters, the defined handling of invalid UTF-8,
 *     FIM/EOG detection, tokenizing from several threads, synthetic
 *     vocabularies (merge ranks, ignore_merges, fall-back, bad metadata),
 *     and a 1 MB timing run (printed, not asserted).
 */
#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "check.h"
#include "vocab_util.h"
#include "text/utf8_int.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const bpe_vocabs[] = {
	"llama-bpe", "qwen2", "gpt-2", "falcon", "starcoder", "deepseek-coder", "deepseek-llm", "mpt", "refact",
};

/* ---- helpers ------------------------------------------------------------ */

static struct ajar_vocab *load_vocab(const char *name)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "vocab/ggml-vocab-%s.gguf", name);
	return load_vocab_path(fixture_path(rel));
}

/* Detokenizes through a stream (no space stripping: BPE adds no prefix);
 * caller frees. */
static char *detokenize(const struct ajar_vocab *v, const int32_t *ids, size_t n, bool special, size_t *len)
{
	size_t cap = detok_stream_max_out(v) * (n + 1) + 1;
	char *out = malloc(cap);
	struct detok_stream s;
	detok_stream_init(&s, v, special, false);
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

/* ---- test vectors ------------------------------------------------------- */

/*
 * Checks every input of inp_path against the lines of out_path; returns the
 * count that matched, *n_cases the count of inputs. With round_trip, inputs
 * that are valid UTF-8 must detokenize back to themselves.
 */
static int run_vectors(const struct ajar_vocab *v, const char *label, const char *inp_path, const char *out_path,
		       bool parse_special, bool round_trip, int *n_cases)
{
	struct vectors vs;
	const char *in;
	size_t text_len, n_want;
	int32_t want[1024];
	int passed = 0;
	*n_cases = 0;
	if (!vectors_open(&vs, inp_path, out_path, label))
		return 0;
	while (vectors_next(&vs, &in, &text_len, want, ARRAY_LEN(want), &n_want)) {
		int32_t *got = NULL;
		size_t n_got = 0;
		if (tokenize(v, in, text_len, false, parse_special, &got, &n_got)) {
			passed += vectors_ids_match(&vs, text_len, got, n_got, want, n_want);
			if (round_trip && utf8_valid(in, text_len)) {
				size_t back_len;
				char *back = detokenize(v, got, n_got, false, &back_len);
				CHECK_MSG(back_len == text_len && memcmp(back, in, text_len) == 0,
					  "%s case %d: round trip gives \"%s\"", label, vs.index, back);
				free(back);
			}
		}
		free(got);
	}
	*n_cases = vs.count;
	vectors_close(&vs);
	return passed;
}

static void test_vectors(void)
{
	int total = 0, total_passed = 0;
	for (size_t i = 0; i < ARRAY_LEN(bpe_vocabs); i++) {
		const char *name = bpe_vocabs[i];
		struct ajar_vocab *v = load_vocab(name);
		if (!v)
			continue;
		char rel[128], inp[4200], out[4200], label[128];
		int n_fix, n_plain, n_special;

		snprintf(rel, sizeof(rel), "vocab/ggml-vocab-%s.gguf.inp", name);
		snprintf(inp, sizeof(inp), "%s", fixture_path(rel));
		snprintf(rel, sizeof(rel), "vocab/ggml-vocab-%s.gguf.out", name);
		snprintf(out, sizeof(out), "%s", fixture_path(rel));
		snprintf(label, sizeof(label), "%s fixture", name);
		int p_fix = run_vectors(v, label, inp, out, false, true, &n_fix);
		CHECK_EQ_INT(n_fix, 46);
		CHECK_EQ_INT(p_fix, n_fix);

		snprintf(inp, sizeof(inp), "%s", AJAR_SOURCE_DIR "/tests/data/tokenizer/extra.inp");
		snprintf(out, sizeof(out), AJAR_SOURCE_DIR "/tests/data/tokenizer/ggml-vocab-%s.gguf.out", name);
		snprintf(label, sizeof(label), "%s extra", name);
		int p_plain = run_vectors(v, label, inp, out, false, true, &n_plain);
		CHECK_EQ_INT(n_plain, 20);
		CHECK_EQ_INT(p_plain, n_plain);

		snprintf(out, sizeof(out), AJAR_SOURCE_DIR "/tests/data/tokenizer/ggml-vocab-%s.gguf.special.out", name);
		snprintf(label, sizeof(label), "%s extra special", name);
		int p_special = run_vectors(v, label, inp, out, true, false, &n_special);
		CHECK_EQ_INT(n_special, 20);
		CHECK_EQ_INT(p_special, n_special);

		printf("%-15s fixture %d/%d, extra %d/%d, extra with specials %d/%d\n", name, p_fix, n_fix, p_plain,
		       n_plain, p_special, n_special);
		total += n_fix + n_plain + n_special;
		total_passed += p_fix + p_plain + p_special;
		vocab_free(v);
	}
	printf("BPE vectors: %d/%d match\n", total_passed, total);
}

/* ---- behaviour ------------------------------------------------------------ */

static void test_add_special(void)
{
	/* BOS per vocabulary with add_special: Llama 3 by its pre-tokenizer's
	 * default (no add_bos_token key), DeepSeek by the key, none for the
	 * rest; no EOS anywhere. */
	static const struct {
		const char *name;
		int32_t bos; /* added BOS, -1 for none */
	} cases[] = {
		{ "llama-bpe", 128000 }, { "qwen2", -1 },   { "gpt-2", -1 },		{ "falcon", -1 },
		{ "starcoder", -1 },	 { "deepseek-coder", 32013 }, { "deepseek-llm", 100000 }, { "mpt", -1 },
		{ "refact", -1 },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct ajar_vocab *v = load_vocab(cases[i].name);
		if (!v)
			continue;
		int32_t *plain, *with;
		size_t n_plain, n_with;
		if (tokenize(v, "Hello world", 11, false, false, &plain, &n_plain) &&
		    tokenize(v, "Hello world", 11, true, false, &with, &n_with)) {
			size_t extra = cases[i].bos >= 0;
			CHECK_MSG(n_with == n_plain + extra, "%s: %zu vs %zu tokens", cases[i].name, n_with, n_plain);
			CHECK_MSG(vocab_add_bos(v) == (cases[i].bos >= 0), "%s", cases[i].name);
			CHECK(!vocab_add_eos(v));
			if (extra && n_with > 0)
				CHECK_EQ_INT(with[0], cases[i].bos);
			if (n_with == n_plain + extra)
				CHECK(ids_equal(with + extra, n_plain, plain, n_plain));
			free(plain);
			free(with);
		}
		vocab_free(v);
	}
}

static void test_llama3_basics(void)
{
	struct ajar_vocab *v = load_vocab("llama-bpe");
	if (!v)
		return;
	int32_t *ids;
	size_t n;
	if (tokenize(v, "Hello world", 11, false, false, &ids, &n)) {
		int32_t want[] = { 9906, 1917 };
		CHECK(ids_equal(ids, n, want, 2));
		free(ids);
	}
	char buf[64];
	/* "Ġworld" prints " world"; control tokens print only with special. */
	CHECK_EQ_INT(vocab_token_to_piece(v, 1917, false, buf, sizeof(buf)), 6);
	CHECK(memcmp(buf, " world", 6) == 0);
	CHECK_EQ_INT(vocab_token_to_piece(v, 128000, false, buf, sizeof(buf)), 0);
	CHECK_EQ_INT(vocab_token_to_piece(v, 128000, true, buf, sizeof(buf)), 17);
	CHECK(memcmp(buf, "<|begin_of_text|>", 17) == 0);
	CHECK(vocab_is_eog(v, 128001)); /* EOS */
	CHECK(vocab_is_eog(v, 128009)); /* <|eot_id|> */
	CHECK(!vocab_is_eog(v, 128000));
	/* With special parsing the markers are single tokens. */
	const char *chat = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
	if (tokenize(v, chat, strlen(chat), false, true, &ids, &n)) {
		int32_t want[] = { 128006, 882, 128007, 271, 13347, 128009 };
		CHECK(ids_equal(ids, n, want, ARRAY_LEN(want)));
		if (!ids_equal(ids, n, want, ARRAY_LEN(want)))
			print_ids("chat", ids, n);
		free(ids);
	}
	vocab_free(v);
}

static void test_qwen2_specials(void)
{
	struct ajar_vocab *v = load_vocab("qwen2");
	if (!v)
		return;
	CHECK(vocab_is_eog(v, 151645)); /* <|im_end|> */
	CHECK(vocab_is_eog(v, 151643)); /* <|endoftext|> */
	int32_t *ids;
	size_t n;
	const char *text = "<|im_start|>user\nhi<|im_end|>";
	if (tokenize(v, text, strlen(text), false, true, &ids, &n)) {
		CHECK(n >= 3 && ids[0] == 151644 && ids[n - 1] == 151645);
		free(ids);
	}
	/* Without special parsing the same text is plain text. */
	if (tokenize(v, text, strlen(text), false, false, &ids, &n)) {
		for (size_t i = 0; i < n; i++)
			CHECK(ids[i] < 151643);
		free(ids);
	}
	vocab_free(v);
}

static void test_fim_tokens(void)
{
	/* DeepSeek Coder's FIM markers are USER_DEFINED in the file; llama.cpp
	 * finds them by text and makes them CONTROL, so they are plain text
	 * unless special parsing is on. */
	struct ajar_vocab *v = load_vocab("deepseek-coder");
	if (!v)
		return;
	CHECK_EQ_INT(vocab_token_type(v, 32016), AJAR_TOKEN_CONTROL); /* <｜fim▁begin｜> */
	CHECK_EQ_INT(vocab_token_type(v, 32015), AJAR_TOKEN_CONTROL); /* <｜fim▁hole｜> */
	CHECK_EQ_INT(vocab_token_type(v, 32017), AJAR_TOKEN_CONTROL); /* <｜fim▁end｜> */
	CHECK_EQ_INT(vocab_token_type(v, 32018), AJAR_TOKEN_USER_DEFINED); /* <pad> */
	const char *text = "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>x";
	int32_t *ids;
	size_t n;
	if (tokenize(v, text, strlen(text), false, true, &ids, &n)) {
		CHECK(n == 2 && ids[0] == 32016);
		free(ids);
	}
	if (tokenize(v, text, strlen(text), false, false, &ids, &n)) {
		CHECK(n > 2);
		free(ids);
	}
	vocab_free(v);

	/* StarCoder's file marks them CONTROL already; not the c392e50 names for
	 * FIM pad/repo/separator, so only EOS ends generation. */
	v = load_vocab("starcoder");
	if (!v)
		return;
	CHECK(vocab_is_eog(v, 0));
	CHECK(!vocab_is_eog(v, 4));
	vocab_free(v);
}

static void test_stream_bytes(void)
{
	/* GPT-2 has no token for U+1D518 (𝔘) or most CJK: byte tokens that cut
	 * the characters. The stream holds them until complete. */
	struct ajar_vocab *v = load_vocab("gpt-2");
	if (!v)
		return;
	const char *text = "\xf0\x9d\x94\x98 \xe9\xbe\x98";
	int32_t *ids;
	size_t n;
	if (tokenize(v, text, strlen(text), false, false, &ids, &n)) {
		CHECK(n >= 4);
		size_t cap = detok_stream_max_out(v);
		char *out = malloc(cap * (n + 1));
		struct detok_stream s;
		detok_stream_init(&s, v, false, false);
		size_t k = 0, zero_pushes = 0;
		for (size_t i = 0; i < n; i++) {
			char piece[64];
			int pl = vocab_token_to_piece(v, ids[i], false, piece, sizeof(piece));
			CHECK(pl >= 1 && pl <= 4);
			int r = detok_stream_push(&s, ids[i], out + k, cap);
			CHECK(r >= 0);
			if (r == 0)
				zero_pushes++;
			else
				CHECK(utf8_valid(out + k, (size_t)r));
			k += (size_t)(r > 0 ? r : 0);
		}
		CHECK(zero_pushes > 0); /* some piece was an incomplete character */
		CHECK_EQ_INT(detok_stream_finish(&s, out + k, cap), 0);
		CHECK(k == strlen(text) && memcmp(out, text, k) == 0);
		free(out);

		/* Cut off before the last byte token: finish gives U+FFFD. */
		detok_stream_init(&s, v, false, false);
		char small[64];
		size_t got = 0;
		for (size_t i = 0; i + 1 < n; i++) {
			int r = detok_stream_push(&s, ids[i], small + got, sizeof(small) - got);
			CHECK(r >= 0);
			got += (size_t)(r > 0 ? r : 0);
		}
		int r = detok_stream_finish(&s, small + got, sizeof(small) - got);
		CHECK_EQ_INT(r, 3);
		CHECK(memcmp(small + got, "\xef\xbf\xbd", 3) == 0);
		free(ids);
	}
	vocab_free(v);
}

/* Invalid UTF-8 is tokenized as llama.cpp decodes it: see vocab.h. */
static void test_invalid_utf8(void)
{
	static const struct {
		const char *raw;
		size_t raw_len;
		const char *same_as; /* tokenizes exactly like this */
		size_t same_len;
	} cases[] = {
		{ "ab\xff", 3, "ab\xef\xbf\xbd", 5 },				  /* bad byte -> U+FFFD */
		{ "\xe2\x82 x", 4, "\xef\xbf\xbd\xef\xbf\xbd x", 8 },		  /* cut sequence: one per byte */
		{ "\x80\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6 },		  /* stray continuations */
		{ "a\xc0\x80" "b", 4, "a\0b", 3 },				  /* overlong NUL decodes to NUL */
		{ "\xc1\xbf", 2, "\x7f", 1 },					  /* overlong DEL */
		{ "x\xf4\x90\x80\x80y", 6, "x\xef\xbf\xbdy", 5 },		  /* above U+10FFFF: one U+FFFD */
		{ "\xf8\x88\x80\x80\x80", 5, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 15 },
	};
	for (size_t vi = 0; vi < 2; vi++) {
		struct ajar_vocab *v = load_vocab(vi == 0 ? "llama-bpe" : "deepseek-llm");
		if (!v)
			continue;
		for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
			int32_t *a, *b;
			size_t na, nb;
			if (!tokenize(v, cases[i].raw, cases[i].raw_len, false, false, &a, &na))
				continue;
			if (tokenize(v, cases[i].same_as, cases[i].same_len, false, false, &b, &nb)) {
				CHECK_MSG(ids_equal(a, na, b, nb), "vocab %zu case %zu", vi, i);
				free(b);
			}
			/* The detokenized text is what was tokenized: valid UTF-8 or
			 * the bytes llama.cpp's decoding made of it. */
			size_t back_len;
			char *back = detokenize(v, a, na, false, &back_len);
			CHECK_MSG(back_len == cases[i].same_len && memcmp(back, cases[i].same_as, back_len) == 0,
				  "vocab %zu case %zu", vi, i);
			free(back);
			free(a);
		}
		/* A surrogate (ED A0 80) is kept as its three bytes, like a
		 * private-use character for the pre-tokenizer. */
		int32_t *ids;
		size_t n;
		if (tokenize(v, "a\xed\xa0\x80!", 5, false, false, &ids, &n)) {
			size_t back_len;
			char *back = detokenize(v, ids, n, false, &back_len);
			/* The stream repairs it: one U+FFFD per byte (maximal subparts). */
			CHECK(back_len == 11 && memcmp(back, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!", 11) == 0);
			free(back);
			char raw[16];
			size_t k = 0;
			for (size_t i = 0; i < n; i++) {
				int r = vocab_token_to_piece(v, ids[i], false, raw + k, sizeof(raw) - k);
				CHECK(r >= 0 && k + (size_t)r <= sizeof(raw));
				k += (size_t)r;
			}
			CHECK(k == 5 && memcmp(raw, "a\xed\xa0\x80!", 5) == 0);
			free(ids);
		}
		vocab_free(v);
	}
}

/* ---- synthetic vocabularies ------------------------------------------------- */

struct fake_bpe {
	const char *const *tokens;
	size_t n_tokens;
	const int32_t *types; /* or NULL */
	const char *const *merges; /* or NULL to leave the key out */
	size_t n_merges;
	const char *pre;	  /* or NULL */
	int add_bos;		  /* -1: key absent */
};

static enum ajar_err load_fake(const struct fake_bpe *fk, struct ajar_vocab **out)
{
	char path[256];
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/ajar_test_bpe_%ld.gguf", tmp ? tmp : "/tmp", (long)getpid());
	struct gguf_writer *w;
	*out = NULL;
	CHECK_OK(gguf_writer_new(&w));
	struct gguf_str strs[32], merges[32];
	for (size_t i = 0; i < fk->n_tokens; i++)
		strs[i] = (struct gguf_str){ fk->tokens[i], strlen(fk->tokens[i]) };
	for (size_t i = 0; i < fk->n_merges; i++)
		merges[i] = (struct gguf_str){ fk->merges[i], strlen(fk->merges[i]) };
	CHECK_OK(gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"));
	CHECK_OK(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, fk->n_tokens));
	if (fk->types)
		CHECK_OK(gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, fk->types, fk->n_tokens));
	if (fk->merges)
		CHECK_OK(gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, fk->n_merges));
	if (fk->pre)
		CHECK_OK(gguf_writer_set_str(w, "tokenizer.ggml.pre", fk->pre));
	if (fk->add_bos >= 0)
		CHECK_OK(gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", fk->add_bos));
	CHECK_OK(gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 0));
	CHECK_OK(gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 0));
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

/* "Ġ" is the space byte in token texts. */
static const char *const fake_tokens[] = {
	"<|end|>", "a", "b", "c", "ab", "bc", "abc", "\xc4\xa0", ("\xc4\xa0" "a"), "xyz", "x",
};
static const char *const fake_merges[] = {
	"b c",	/* 0: wins over "a b" in "abc" */
	"a b",	/* 1 */
	"a bc", /* 2 */
	"a b",	/* 3: duplicate, rank 1 stays */
	"nospace",
	"\xc4\xa0 a",
	"x y", /* "xy" is no token: "xyz" falls back per byte, "y" and "z" dropped */
};

static void test_fake_vocab(void)
{
	struct fake_bpe fk = { fake_tokens, ARRAY_LEN(fake_tokens), NULL, fake_merges, ARRAY_LEN(fake_merges),
			       "gpt-2", -1 };
	struct ajar_vocab *v;
	enum ajar_err err = load_fake(&fk, &v);
	CHECK_MSG(err == AJAR_OK, "%s", ajar_err_msg());
	if (err)
		return;
	CHECK(!vocab_add_bos(v));
	int32_t *ids;
	size_t n;
	if (tokenize(v, "abc", 3, false, false, &ids, &n)) {
		CHECK(n == 1 && ids[0] == 6); /* b+c first, then a+bc */
		free(ids);
	}
	if (tokenize(v, "ab a", 4, false, false, &ids, &n)) {
		int32_t want[] = { 4, 8 };
		CHECK(ids_equal(ids, n, want, 2));
		free(ids);
	}
	if (tokenize(v, "xyz", 3, false, false, &ids, &n)) {
		/* "xy" is merged but no token: its bytes, x found, y not; then z
		 * alone is no token and has no byte token either. */
		int32_t want[] = { 10 };
		CHECK(ids_equal(ids, n, want, 1));
		if (!ids_equal(ids, n, want, 1))
			print_ids("xyz", ids, n);
		free(ids);
	}
	vocab_free(v);

	/* Llama-3 pre-tokenizer: ignore_merges takes "xyz" whole, and BOS is
	 * added by default. */
	fk.pre = "llama-bpe";
	if (load_fake(&fk, &v) == AJAR_OK) {
		CHECK(vocab_add_bos(v));
		if (tokenize(v, "xyz", 3, true, false, &ids, &n)) {
			int32_t want[] = { 0, 9 };
			CHECK(ids_equal(ids, n, want, 2));
			free(ids);
		}
		vocab_free(v);
	}
	fk.add_bos = 0;
	if (load_fake(&fk, &v) == AJAR_OK) {
		CHECK(!vocab_add_bos(v));
		vocab_free(v);
	}
}

static void test_malformed(void)
{
	struct ajar_vocab *v;
	struct fake_bpe fk = { fake_tokens, ARRAY_LEN(fake_tokens), NULL, NULL, 0, "gpt-2", -1 };
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_FORMAT); /* no merges */
	CHECK(v == NULL);
	fk.merges = fake_merges;
	fk.n_merges = ARRAY_LEN(fake_merges);
	fk.pre = "no-such-pre";
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_ERR_UNSUPPORTED);
	fk.pre = NULL; /* absent: "default", as llama.cpp */
	CHECK_EQ_INT(load_fake(&fk, &v), AJAR_OK);
	vocab_free(v);
	/* A NORMAL token outside the byte map prints as llama.cpp does. */
	static const char *const odd[] = { "a", "\xe2\x82\xac" };
	fk.tokens = odd;
	fk.n_tokens = 2;
	if (load_fake(&fk, &v) == AJAR_OK) {
		char buf[64];
		int r = vocab_token_to_piece(v, 1, false, buf, sizeof(buf));
		const char *want = "[UNK_BYTE_0xe282ac\xe2\x82\xac]";
		CHECK(r == (int)strlen(want) && memcmp(buf, want, (size_t)r) == 0);
		CHECK(detok_stream_max_out(v) >= (size_t)r);
		vocab_free(v);
	}
}

/* ---- threads and speed --------------------------------------------------------- */

struct thread_job {
	const struct ajar_vocab *v;
	const char *text;
	size_t len;
	const int32_t *want;
	size_t n_want;
	int mismatches;
};

static void *thread_main(void *arg)
{
	struct thread_job *job = arg;
	for (int iter = 0; iter < 20; iter++) {
		int32_t *ids;
		size_t n;
		if (vocab_tokenize(job->v, job->text, job->len, true, true, &ids, &n) != AJAR_OK) {
			job->mismatches++;
			continue;
		}
		if (!ids_equal(ids, n, job->want, job->n_want))
			job->mismatches++;
		free(ids);
	}
	return NULL;
}

static void test_threads(void)
{
	struct ajar_vocab *v = load_vocab("qwen2");
	size_t len;
	char *text = slurp(AJAR_SOURCE_DIR "/tests/data/tokenizer/extra.inp", &len);
	if (!v || !text) {
		vocab_free(v);
		free(text);
		return;
	}
	int32_t *want;
	size_t n_want;
	if (tokenize(v, text, len, true, true, &want, &n_want)) {
		pthread_t th[4];
		struct thread_job jobs[4];
		for (int i = 0; i < 4; i++) {
			jobs[i] = (struct thread_job){ v, text, len, want, n_want, 0 };
			CHECK(pthread_create(&th[i], NULL, thread_main, &jobs[i]) == 0);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			CHECK_EQ_INT(jobs[i].mismatches, 0);
		}
		free(want);
	}
	free(text);
	vocab_free(v);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* About 1 MB of English, code and other scripts. */
static char *mixed_text(size_t *len)
{
	static const char *const parts[] = {
		"The quick brown fox jumps over the lazy dog. It's 3.14159 o'clock; we'll see 1,000,000 stars.\n",
		"def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text if c != '\\n']  # TODO\n",
		"int main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n\n",
		"Привет, мир! Ελληνικά κείμενα. 日本語のテキストと中文混合。한국어 문장입니다. ",
		"مرحبا بالعالم שלום עולם नमस्ते दुनिया 🙂👍🏽 👨‍👩‍👧‍👦 café naïve Zürich\n",
		"    indented    spaces\t\ttabs   \n\n\n   trailing   \n",
	};
	size_t cap = (1 << 20) + 4096, n = 0;
	char *buf = malloc(cap);
	for (size_t i = 0; n < (1 << 20); i++) {
		const char *p = parts[i % ARRAY_LEN(parts)];
		size_t pl = strlen(p);
		memcpy(buf + n, p, pl);
		n += pl;
	}
	*len = n;
	return buf;
}

static void test_speed(void)
{
	size_t len;
	char *text = mixed_text(&len);
	for (size_t i = 0; i < ARRAY_LEN(bpe_vocabs); i++) {
		struct ajar_vocab *v = load_vocab(bpe_vocabs[i]);
		if (!v)
			continue;
		int32_t *ids;
		size_t n;
		double t0 = now_s();
		if (tokenize(v, text, len, false, false, &ids, &n)) {
			double dt = now_s() - t0;
			printf("%-15s %zu bytes -> %zu tokens in %.3f s\n", bpe_vocabs[i], len, n, dt);
			size_t back_len;
			char *back = detokenize(v, ids, n, false, &back_len);
			CHECK_MSG(back_len == len && memcmp(back, text, len) == 0, "%s: 1 MB round trip", bpe_vocabs[i]);
			free(back);
			free(ids);
		}
		vocab_free(v);
	}
	free(text);
}

/* Long runs of one character (one word of 256 KiB for most) must stay
 * fast -- a quadratic regex or merge loop would take minutes -- and never
 * make PCRE2 give up. */
static void test_long_runs(void)
{
	size_t len = 1 << 18;
	char *text = malloc(len);
	static const char fills[] = { ' ', 'a', '1', '!', '\n' };
	static const char *const names[] = { "llama-bpe", "qwen2", "gpt-2", "deepseek-llm", "falcon" };
	for (size_t vi = 0; vi < ARRAY_LEN(names); vi++) {
		struct ajar_vocab *v = load_vocab(names[vi]);
		if (!v)
			continue;
		double t0 = now_s();
		for (size_t fi = 0; fi < sizeof(fills); fi++) {
			memset(text, fills[fi], len);
			text[len - 1] = 'z'; /* the run does not end the text */
			int32_t *ids;
			size_t n;
			if (tokenize(v, text, len, false, false, &ids, &n)) {
				CHECK(n > 0);
				free(ids);
			}
		}
		printf("%-15s 5 runs of 256 KiB in %.3f s\n", names[vi], now_s() - t0);
		vocab_free(v);
	}
	free(text);
}

int main(void)
{
	RUN(test_vectors);
	RUN(test_add_special);
	RUN(test_llama3_basics);
	RUN(test_qwen2_specials);
	RUN(test_fim_tokens);
	RUN(test_stream_bytes);
	RUN(test_invalid_utf8);
	RUN(test_fake_vocab);
	RUN(test_malformed);
	RUN(test_threads);
	RUN(test_speed);
	RUN(test_long_runs);
	return check_summary();
}
