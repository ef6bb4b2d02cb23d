/*
 * cmd_tokenize.c - `ajar tokenize`: text to token ids, like llama.cpp's
 * llama-tokenize. Only the vocabulary is loaded, so vocab-only GGUF files work.
 */
#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_FILE_MAX ((size_t)256 << 20)

static const char tokenize_help[] =
	"usage: ajar tokenize -m MODEL [--ids] [--no-bos] [--special] (TEXT | -f FILE)\n"
	"  TEXT is taken literally (no escape processing).\n"
	"  --ids       print the ids as a JSON array (default: one 'id -> piece' line per token)\n"
	"  --no-bos    do not add the model's automatic special tokens (BOS; CLS/SEP for BERT)\n"
	"  --special   parse special-token text such as <s> as control tokens\n";

/* Prints a piece with control characters escaped, for the human listing. */
static void print_piece(const char *p, int n)
{
	putchar('\'');
	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('\'');
}

int cmd_tokenize(int argc, char **argv)
{
	struct args a;
	const char *model = NULL, *text = NULL, *v;
	char *owned = NULL;
	size_t len = 0, n_ids = 0;
	bool ids_only = false, no_bos = false, special = false;
	struct gguf_file *f = NULL;
	struct ajar_vocab *vocab = NULL;
	int32_t *ids = NULL;
	int rc = 1;

	args_init(&a, "tokenize", argc, argv);
	while (a.i < a.argc) {
		if (args_flag(&a, "--help", "-h")) {
			fputs(tokenize_help, stdout);
			rc = 0;
			goto out;
		} else if (args_opt(&a, "--model", "-m", &v)) {
			model = v;
		} else if (args_opt(&a, "--file", "-f", &v)) {
			free(owned);
			owned = NULL;
			if (read_file(v, TEXT_FILE_MAX, &owned, &len)) {
				args_fail(&a);
				goto out;
			}
			text = owned;
		} else if (args_flag(&a, "--ids", NULL)) {
			ids_only = true;
		} else if (args_flag(&a, "--no-bos", NULL)) {
			no_bos = true;
		} else if (args_flag(&a, "--special", NULL)) {
			special = true;
		} else if (a.argv[a.i][0] == '-' && a.argv[a.i][1] != '\0' && !text) {
			args_error(&a, "unknown option '%s' (see --help)", a.argv[a.i]);
			rc = 2;
			goto out;
		} else if (!text) {
			text = a.argv[a.i++];
			len = strlen(text);
		} else {
			args_error(&a, "more than one TEXT given (quote it, or use -f FILE)");
			rc = 2;
			goto out;
		}
	}
	if (!model || !text) {
		args_error(&a, "-m MODEL and TEXT (or -f FILE) are required (see --help)");
		rc = 2;
		goto out;
	}
	if (gguf_open(model, &f) || vocab_load(f, &vocab) ||
	    vocab_tokenize(vocab, text, len, !no_bos, special, &ids, &n_ids)) {
		args_fail(&a);
		goto out;
	}
	if (ids_only) {
		putchar('[');
		for (size_t i = 0; i < n_ids; i++)
			printf(i ? ", %d" : "%d", ids[i]);
		puts("]");
	} else {
		char piece[256];
		for (size_t i = 0; i < n_ids; i++) {
			int n = vocab_token_to_piece(vocab, ids[i], true, piece, sizeof(piece));
			printf("%6d -> ", ids[i]);
			print_piece(piece, n < 0 ? 0 : n > (int)sizeof(piece) ? (int)sizeof(piece) : n);
			putchar('\n');
		}
	}
	rc = 0;
out:
	free(ids);
	vocab_free(vocab);
	gguf_close(f);
	free(owned);
	return rc;
}
