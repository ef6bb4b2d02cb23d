/*
 * test_bpe_train.c - byte-level BPE training: the vocabulary loads back with
 * vocab_load(), tokenizes its corpus and unseen text losslessly, its first
 * merges are the predictable ones, training is deterministic and compression
 * grows with the vocabulary.
 */
#include "check.h"

#include <stdint.h>
#include <unistd.h>

#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "train/bpe_train.h"

static const char *const words[] = {
	"the",    "quick",  "brown", "fox",    "jumps",  "over",    "lazy",   "dog",    "and",   "then",
	"runs",   "into",   "a",     "forest", "where",  "many",    "old",    "trees",  "grow",  "slowly",
	"under",  "bright", "sky",   "while",  "birds",  "sing",    "songs",  "of",     "early", "morning",
	"light",  "people", "walk",  "along",  "river",  "banks",   "talking", "about", "their", "work",
	"family", "friends", "and",  "small",  "things", "that",    "matter", "most",   "in",    "life",
};

/* A few KB of varied English from a fixed generator, some UTF-8, and the
 * word " qqqq" 400 times, whose pairs are predictably the most frequent. */
static char *make_corpus(size_t *len)
{
	size_t cap = 64 << 10, n = 0;
	char *s = malloc(cap);
	uint32_t rng = 12345;
	for (int i = 0; i < 900; i++) {
		rng = rng * 1103515245u + 12345u;
		const char *w = words[(rng >> 16) % (sizeof(words) / sizeof(words[0]))];
		n += (size_t)snprintf(s + n, cap - n, "%s%s", i % 12 == 0 ? ".\n" : " ", w);
		if (i % 50 == 7)
			n += (size_t)snprintf(s + n, cap - n, " naïve café 日本語 😀, 1984 and 2024!");
		if (i % 9 == 0)
			n += (size_t)snprintf(s + n, cap - n, " qqqq");
	}
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(s + n, cap - n, " qqqq");
	*len = n;
	return s;
}

static void tmp_path(char *buf, size_t cap, const char *tag)
{
	snprintf(buf, cap, "/tmp/ajar_test_bpe_train_%d_%s.gguf", (int)getpid(), tag);
}

/* Trains on text to vocab_size and writes path; stats into *st. */
static int train_to(const char *text, size_t len, uint32_t vocab_size, const char *path, struct bpe_train_stats *st)
{
	struct bpe_trainer *t = NULL;
	int ok = bpe_train_new(&t) == AJAR_OK && bpe_train_feed(t, text, len) == AJAR_OK &&
		 bpe_train_run(t, vocab_size) == AJAR_OK && bpe_train_write(t, path) == AJAR_OK;
	if (!ok)
		fprintf(stderr, "train_to: %s\n", ajar_err_msg());
	if (t && st)
		bpe_train_get_stats(t, st);
	bpe_train_free(t);
	return ok;
}

static struct ajar_vocab *load(const char *path, struct gguf_file **f)
{
	struct ajar_vocab *v = NULL;
	*f = NULL;
	if (gguf_open(path, f) != AJAR_OK || vocab_load(*f, &v) != AJAR_OK) {
		fprintf(stderr, "load %s: %s\n", path, ajar_err_msg());
		return NULL;
	}
	return v;
}

/* Tokenizes and detokenizes text; returns the bytes (caller frees), the
 * token count in *n_ids. */
static char *round_trip(const struct ajar_vocab *v, const char *text, size_t len, size_t *out_len, size_t *n_ids)
{
	int32_t *ids = NULL;
	*n_ids = 0;
	if (vocab_tokenize(v, text, len, false, false, &ids, n_ids) != AJAR_OK)
		return NULL;
	size_t cap = 3 * len + 16, n = 0;
	char *out = malloc(cap);
	for (size_t i = 0; i < *n_ids; i++) {
		int k = vocab_token_to_piece(v, ids[i], false, out + n, cap - n);
		if (k < 0 || (size_t)k > cap - n) {
			free(out);
			free(ids);
			return NULL;
		}
		n += (size_t)k;
	}
	free(ids);
	*out_len = n;
	return out;
}

static void test_train_and_load(void)
{
	size_t len, n_ids = 0, back_len = 0;
	char *corpus = make_corpus(&len);
	char path[128];
	tmp_path(path, sizeof(path), "300");
	struct bpe_train_stats st;
	CHECK(train_to(corpus, len, 300, path, &st));
	CHECK_EQ_INT(st.n_tokens, 300);
	CHECK_EQ_INT(st.corpus_bytes, len);
	CHECK(st.n_merges >= 300 - 257);

	struct gguf_file *f;
	struct ajar_vocab *v = load(path, &f);
	CHECK(v != NULL);
	if (v) {
		CHECK_EQ_INT(vocab_n_tokens(v), 300);
		CHECK_EQ_INT(vocab_bos(v), 299);
		CHECK_EQ_INT(vocab_eos(v), 299);
		CHECK_EQ_INT(vocab_token_type(v, 299), AJAR_TOKEN_CONTROL);
		CHECK_STR(vocab_token_text(v, 299), "<|endoftext|>");
		CHECK_STR(vocab_token_text(v, 32), "\xc4\xa0"); /* ' ' as GPT-2's Ġ */
		CHECK_STR(vocab_token_text(v, 256), "qq");
		/* Every byte is a token that prints as itself. */
		for (int b = 0; b < 256; b++) {
			char piece[8];
			int k = vocab_token_to_piece(v, b, false, piece, sizeof(piece));
			CHECK_MSG(k == 1 && (unsigned char)piece[0] == b, "byte %d", b);
		}
		/* The corpus round-trips, in the token count training predicted. */
		char *back = round_trip(v, corpus, len, &back_len, &n_ids);
		CHECK(back && back_len == len && memcmp(back, corpus, len) == 0);
		CHECK_EQ_INT(n_ids, st.corpus_tokens);
		free(back);
	}
	/* The first merges: (q, q) is the most frequent pair (1200 times); then
	 * (Ġ, qq) and (qq, qq) tie at 400 and the smaller bytes (" ") win. */
	const struct gguf_value *merges = NULL;
	if (f)
		CHECK_OK(gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &merges));
	CHECK(merges && merges->v.arr.count >= 3);
	if (merges && merges->v.arr.count >= 3) {
		CHECK(gguf_str_eq(merges->v.arr.items[0].v.str, "q q"));
		CHECK(gguf_str_eq(merges->v.arr.items[1].v.str, "\xc4\xa0 qq"));
		CHECK(gguf_str_eq(merges->v.arr.items[2].v.str, "\xc4\xa0qq qq"));
	}
	vocab_free(v);
	gguf_close(f);
	unlink(path);
	free(corpus);
}

static void test_unseen_text(void)
{
	size_t len, n_ids, back_len;
	char *corpus = make_corpus(&len);
	char path[128];
	tmp_path(path, sizeof(path), "unseen");
	CHECK(train_to(corpus, len, 400, path, NULL));
	struct gguf_file *f;
	struct ajar_vocab *v = load(path, &f);
	CHECK(v != NULL);
	if (v) {
		/* Valid UTF-8 the corpus never had, every ASCII byte, NUL included. */
		char text[512];
		size_t n = 0;
		for (int b = 0; b < 128; b++)
			text[n++] = (char)b;
		const char *more = "Ωмега €uro 𝄞 Zürich ĳ\r\n\t  \xef\xbf\xbd end";
		memcpy(text + n, more, strlen(more));
		n += strlen(more);
		char *back = round_trip(v, text, n, &back_len, &n_ids);
		CHECK(back && back_len == n && memcmp(back, text, n) == 0);
		free(back);

		/* Invalid UTF-8: as llama.cpp does, each byte that starts no valid
		 * sequence reads as U+FFFD; a surrogate passes as it is. */
		static const char bad[] = "a\xff\xfe b\xc3 c\x80" "d\xed\xa0\x80";
		static const char want[] = "a\xef\xbf\xbd\xef\xbf\xbd b\xef\xbf\xbd c\xef\xbf\xbd" "d\xed\xa0\x80";
		back = round_trip(v, bad, sizeof(bad) - 1, &back_len, &n_ids);
		CHECK(back && back_len == sizeof(want) - 1 && memcmp(back, want, back_len) == 0);
		free(back);
	}
	vocab_free(v);
	gguf_close(f);
	unlink(path);
	free(corpus);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, fp);
	fclose(fp);
	return buf;
}

static void test_deterministic(void)
{
	size_t len, la = 0, lb = 0;
	char *corpus = make_corpus(&len);
	char pa[128], pb[128];
	tmp_path(pa, sizeof(pa), "det_a");
	tmp_path(pb, sizeof(pb), "det_b");
	CHECK(train_to(corpus, len, 400, pa, NULL));
	CHECK(train_to(corpus, len, 400, pb, NULL));
	char *a = slurp(pa, &la), *b = slurp(pb, &lb);
	CHECK(a && b && la == lb && la > 0 && memcmp(a, b, la) == 0);
	free(a);
	free(b);
	unlink(pa);
	unlink(pb);
	free(corpus);
}

static void test_compression_grows(void)
{
	size_t len;
	char *corpus = make_corpus(&len);
	char path[128];
	tmp_path(path, sizeof(path), "cmp");
	uint32_t sizes[] = { 257, 300, 400, 600 };
	double prev = 0;
	for (size_t i = 0; i < 4; i++) {
		struct bpe_train_stats st;
		CHECK(train_to(corpus, len, sizes[i], path, &st));
		double bpt = (double)st.corpus_bytes / (double)st.corpus_tokens;
		if (i == 0)
			CHECK_NEAR(bpt, 1.0, 1e-12);
		else
			CHECK_MSG(bpt > prev, "V=%u: %.3f bytes/token, not above %.3f", sizes[i], bpt, prev);
		prev = bpt;
	}
	unlink(path);
	free(corpus);
}

static void test_edges(void)
{
	struct bpe_trainer *t = NULL;
	CHECK_OK(bpe_train_new(&t));
	CHECK_EQ_INT(bpe_train_run(t, 256), AJAR_ERR_INVALID);
	CHECK_OK(bpe_train_feed(t, "ab", 2));
	CHECK_OK(bpe_train_feed(t, "", 0));
	/* One word: one merge, then nothing is left to merge. */
	CHECK_OK(bpe_train_run(t, 1000));
	struct bpe_train_stats st;
	bpe_train_get_stats(t, &st);
	CHECK_EQ_INT(st.n_tokens, 258);
	CHECK_EQ_INT(st.n_merges, 1);
	CHECK_EQ_INT(st.corpus_tokens, 1);
	CHECK_EQ_INT(bpe_train_feed(t, "x", 1), AJAR_ERR_INVALID);
	CHECK_EQ_INT(bpe_train_run(t, 300), AJAR_ERR_INVALID);
	bpe_train_free(t);

	/* Nothing fed: bytes and the control token only. */
	CHECK_OK(bpe_train_new(&t));
	CHECK_OK(bpe_train_run(t, 300));
	bpe_train_get_stats(t, &st);
	CHECK_EQ_INT(st.n_tokens, 257);
	bpe_train_free(t);

	/* Not trained yet: nothing to write. */
	struct gguf_writer *w = NULL;
	CHECK_OK(bpe_train_new(&t));
	CHECK_OK(gguf_writer_new(&w));
	CHECK_EQ_INT(bpe_train_to_gguf(t, w), AJAR_ERR_INVALID);
	gguf_writer_free(w);
	bpe_train_free(t);
}

/* A corpus that runs out of pairs before the size asked for: words that
 * share pieces (ab, bc, abc) still tokenize as trained. */
static void test_small_corpus(void)
{
	char text[4096];
	size_t n = 0;
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, " ab");
	for (int i = 0; i < 30; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, " bc");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, " abc zbc");
	char path[128];
	tmp_path(path, sizeof(path), "dup");
	struct bpe_train_stats st;
	CHECK(train_to(text, n, 320, path, &st));
	CHECK_EQ_INT(st.n_merges, st.n_tokens - 257);
	struct gguf_file *f;
	struct ajar_vocab *v = load(path, &f);
	CHECK(v != NULL);
	if (v) {
		size_t back_len, n_ids;
		char *back = round_trip(v, text, n, &back_len, &n_ids);
		CHECK(back && back_len == n && memcmp(back, text, n) == 0);
		CHECK_EQ_INT(n_ids, st.corpus_tokens);
		free(back);
	}
	vocab_free(v);
	gguf_close(f);
	unlink(path);
}

int main(void)
{
	RUN(test_train_and_load);
	RUN(test_unseen_text);
	RUN(test_deterministic);
	RUN(test_compression_grows);
	RUN(test_edges);
	RUN(test_small_corpus);
	return check_summary();
}
