/*
 * cmd_train_tokenizer.c - `ajar train-tokenizer`: learn a byte-level BPE
 * vocabulary from text files and write it as a vocabulary-only GGUF
 * (src/train/bpe_train.h says what is learned). Files are read one at a time,
 * each a document of its own, so memory is the largest file plus the table
 * of distinct words.
 */
#include "ajar/err.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "train/bpe_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Largest file read at once (the trainer takes 4 GiB in all). */
#define CORPUS_FILE_MAX ((size_t)1 << 30)

static const char train_tokenizer_help[] =
	"usage: ajar train-tokenizer --vocab-size V --out VOCAB.gguf FILE...\n"
	"  Learns a byte-level BPE vocabulary (GPT-2 style: pre-tokenizer 'gpt-2', the\n"
	"  256 bytes, merges, and <|endoftext|> as BOS/EOS, the last id) of V tokens\n"
	"  from the text files and writes it as a vocabulary-only GGUF that\n"
	"  `ajar tokenize -m VOCAB.gguf` and `ajar train` read.\n"
	"  --vocab-size V   tokens in all, 257..1048576 (fewer if the corpus runs out of pairs)\n"
	"  --out PATH       the GGUF to write (replaced atomically)\n";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Feeds every file in argv[first..argc) to t; prints its own error. */
static bool feed_files(const struct args *a, struct bpe_trainer *t, int first)
{
	for (int i = first; i < a->argc; i++) {
		char *text = NULL;
		size_t len = 0;
		if (read_file(a->argv[i], CORPUS_FILE_MAX, &text, &len) || bpe_train_feed(t, text, len)) {
			free(text);
			args_fail(a);
			return false;
		}
		free(text);
	}
	return true;
}

int cmd_train_tokenizer(int argc, char **argv)
{
	struct args a;
	const char *out = NULL, *v;
	long long vocab_size = 0;
	struct bpe_trainer *t = NULL;
	int rc = 2;

	args_init(&a, "train-tokenizer", argc, argv);
	while (a.i < a.argc && a.argv[a.i][0] == '-') {
		if (args_flag(&a, "--help", "-h")) {
			fputs(train_tokenizer_help, stdout);
			return 0;
		} else if (args_opt(&a, "--vocab-size", NULL, &v)) {
			if (!args_int(&a, "--vocab-size", v, BPE_TRAIN_MIN_VOCAB, BPE_TRAIN_MAX_VOCAB, &vocab_size))
				return 2;
		} else if (args_opt(&a, "--out", "-o", &v)) {
			out = v;
		} else {
			args_error(&a, "unknown option '%s' (see --help)", a.argv[a.i]);
			return 2;
		}
	}
	if (!out || vocab_size == 0 || a.i >= a.argc) {
		args_error(&a, "--vocab-size V, --out PATH and at least one FILE are required (see --help)");
		return 2;
	}
	rc = 1;
	double t0 = now_s();
	if (bpe_train_new(&t)) {
		args_fail(&a);
		goto out;
	}
	if (!feed_files(&a, t, a.i))
		goto out;
	double t1 = now_s();
	if (bpe_train_run(t, (uint32_t)vocab_size) || bpe_train_write(t, out)) {
		args_fail(&a);
		goto out;
	}
	double t2 = now_s();
	struct bpe_train_stats st;
	bpe_train_get_stats(t, &st);
	printf("corpus: %llu bytes, %llu words (%llu distinct), read and split in %.2f s\n",
	       (unsigned long long)st.corpus_bytes, (unsigned long long)st.n_words, (unsigned long long)st.n_unique,
	       t1 - t0);
	printf("vocabulary: %u tokens (256 bytes, %u merges, 1 control), trained in %.2f s\n", st.n_tokens,
	       st.n_merges, t2 - t1);
	printf("corpus: %llu tokens, %.3f bytes/token\n", (unsigned long long)st.corpus_tokens,
	       st.corpus_tokens ? (double)st.corpus_bytes / (double)st.corpus_tokens : 0.0);
	printf("wrote %s\n", out);
	rc = 0;
out:
	bpe_train_free(t);
	return rc;
}
