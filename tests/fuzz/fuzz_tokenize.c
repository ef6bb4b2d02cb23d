/*
 * fuzz_tokenize.c - libFuzzer target for vocab_tokenize() and the streaming
 * detokenizer, over three vocabularies loaded once from $AJAR_FIXTURES:
 * stories260K (SentencePiece, models/stories260K.gguf), Qwen2 and Llama 3
 * (byte-level BPE with their regex pre-tokenizers, vocab/ggml-vocab-*.gguf).
 *
 * Arbitrary bytes are tokenized with parse_special off and on (and
 * add_special following the first byte); every id must be in range, and the
 * stream must turn the ids back into valid UTF-8 without ever writing past
 * its cap. With parse_special off and valid UTF-8 input, the stream must
 * give the input back exactly. Any crash, leak or sanitizer report fails.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "text/utf8_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each vocabulary, and whether it renders its add-space prefix (SPM). */
static const struct {
	const char *rel; /* under $AJAR_FIXTURES */
	bool spm;
} vocab_files[] = {
	{ "models/stories260K.gguf", true },
	{ "vocab/ggml-vocab-qwen2.gguf", false },
	{ "vocab/ggml-vocab-llama-bpe.gguf", false },
};
#define N_VOCABS (sizeof(vocab_files) / sizeof(vocab_files[0]))
static struct ajar_vocab *vocabs[N_VOCABS];

static void load_once(void)
{
	if (vocabs[0])
		return;
	const char *dir = getenv("AJAR_FIXTURES");
	if (!dir) {
		fprintf(stderr, "fuzz_tokenize: set AJAR_FIXTURES to the fixtures folder\n");
		abort();
	}
	for (size_t i = 0; i < N_VOCABS; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, vocab_files[i].rel);
		struct gguf_file *f;
		if (gguf_open(path, &f) != AJAR_OK) {
			fprintf(stderr, "fuzz_tokenize: %s: %s\n", path, ajar_err_msg());
			abort();
		}
		if (vocab_load(f, &vocabs[i]) != AJAR_OK) {
			fprintf(stderr, "fuzz_tokenize: vocab_load %s: %s\n", path, ajar_err_msg());
			abort();
		}
		gguf_close(f);
	}
}

/* Detokenizes ids; checks the result and, if want is given, compares. */
static void check_stream(const struct ajar_vocab *vocab, bool spm, const int32_t *ids, size_t n, const char *want,
			 size_t want_len)
{
	size_t step = detok_stream_max_out(vocab);
	size_t cap = step * (n + 1);
	char *out = malloc(cap);
	if (!out)
		abort();
	struct detok_stream s;
	detok_stream_init(&s, vocab, false, spm);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		/* First with too little room (must refuse cleanly), then enough. */
		int r = detok_stream_push(&s, ids[i], out + k, 1);
		if (r < 0)
			r = detok_stream_push(&s, ids[i], out + k, step);
		if (r < 0 || (size_t)r > step)
			abort();
		k += (size_t)r;
	}
	int r = detok_stream_finish(&s, out + k, step);
	if (r < 0)
		abort();
	k += (size_t)r;
	if (!utf8_valid(out, k))
		abort();
	if (want && (k != want_len || memcmp(out, want, k) != 0))
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load_once();
	const char *text = (const char *)data;
	bool add_special = size > 0 && (data[0] & 1);
	for (size_t vi = 0; vi < N_VOCABS; vi++) {
		const struct ajar_vocab *vocab = vocabs[vi];
		bool spm = vocab_files[vi].spm;
		for (int parse_special = 0; parse_special < 2; parse_special++) {
			int32_t *ids;
			size_t n;
			if (vocab_tokenize(vocab, text, size, add_special, parse_special, &ids, &n) != AJAR_OK)
				abort(); /* any text up to the 16 MiB cap must tokenize */
			for (size_t i = 0; i < n; i++)
				if (ids[i] < 0 || ids[i] >= vocab_n_tokens(vocab))
					abort();
			/* Round trip: exact for valid UTF-8 as plain text (every byte
			 * has a byte token in these vocabularies), unless an SPM text
			 * holds a literal U+2581, which its pieces render as ' '. */
			bool exact = !parse_special && utf8_valid(text, size) &&
				     !(spm && memmem(text, size, "\xe2\x96\x81", 3));
			check_stream(vocab, spm, ids, n, exact ? text : NULL, size);
			free(ids);
		}
	}
	return 0;
}
