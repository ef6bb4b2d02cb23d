/*
 * vocab_util.h - helpers shared by the tokenizer tests (test_vocab.c,
 * test_bpe.c, test_wordpiece.c): reading a file, loading a vocabulary from a
 * GGUF file, tokenizing with the failure reported, comparing and printing id
 * lists. Include after check.h.
 */
#ifndef AJAR_TESTS_VOCAB_UTIL_H
#define AJAR_TESTS_VOCAB_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ajar/gguf.h"
#include "ajar/vocab.h"

/* Whole file, NUL-terminated; caller frees. NULL if unreadable. */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? 2 * cap : 1 << 20;
			char *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = p;
		}
		size_t got = fread(buf + n, 1, 65536, fp);
		n += got;
		if (got == 0)
			break;
	}
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The vocabulary of the GGUF file at path (the file is closed again: the
 * vocab copies what it needs); NULL, with a failed check, on error. */
static struct ajar_vocab *load_vocab_path(const char *path)
{
	struct gguf_file *f = NULL;
	struct ajar_vocab *v = NULL;
	enum ajar_err err = gguf_open(path, &f);
	CHECK_MSG(err == AJAR_OK, "gguf_open %s: %s", path, ajar_err_msg());
	if (err)
		return NULL;
	err = vocab_load(f, &v);
	CHECK_MSG(err == AJAR_OK, "vocab_load %s: %s", path, ajar_err_msg());
	gguf_close(f);
	return err ? NULL : v;
}

static bool tokenize(const struct ajar_vocab *v, const char *text, size_t len, bool add_special, bool parse_special,
		     int32_t **ids, size_t *n)
{
	enum ajar_err err = vocab_tokenize(v, text, len, add_special, parse_special, ids, n);
	CHECK_MSG(err == AJAR_OK, "tokenize: %s", ajar_err_msg());
	return err == AJAR_OK;
}

static bool ids_equal(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

static void print_ids(const char *what, const int32_t *ids, size_t n)
{
	fprintf(stderr, "  %s:", what);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %d", ids[i]);
	fputc('\n', stderr);
}

/*
 * llama.cpp's tokenizer test vectors: the .inp file holds the inputs, each
 * followed by VOCAB_TEST_SEP; the .out file one line of ids per input.
 * vectors_open, then vectors_next until it returns false, then
 * vectors_close (which checks the counts matched and frees).
 */
#define VOCAB_TEST_SEP "\n__ggml_vocab_test__\n"

struct vectors {
	const char *label;  /* for messages */
	char *inp, *outs;   /* the two files */
	size_t inp_len;
	char *in, *line;    /* the next input and .out line */
	int index;          /* the case vectors_next last returned, from 0 */
	int count;          /* cases returned so far */
};

/* False, with a failed check, if either file is unreadable. */
static bool vectors_open(struct vectors *vs, const char *inp_path, const char *out_path, const char *label)
{
	size_t out_len;
	*vs = (struct vectors){ .label = label, .index = -1 };
	vs->inp = slurp(inp_path, &vs->inp_len);
	vs->outs = slurp(out_path, &out_len);
	CHECK_MSG(vs->inp && vs->outs, "cannot read %s or %s", inp_path, out_path);
	if (!vs->inp || !vs->outs) {
		free(vs->inp);
		free(vs->outs);
		return false;
	}
	vs->in = vs->inp;
	vs->line = vs->outs;
	return true;
}

/* The next case: its text (not NUL-terminated) and up to cap expected ids. */
static bool vectors_next(struct vectors *vs, const char **text, size_t *len, int32_t *want, size_t cap,
			 size_t *n_want)
{
	const size_t sep_len = strlen(VOCAB_TEST_SEP);
	char *sep = memmem(vs->in, vs->inp_len - (size_t)(vs->in - vs->inp), VOCAB_TEST_SEP, sep_len);
	if (!sep)
		return false; /* what follows the last separator is the empty last piece */
	char *eol = strchr(vs->line, '\n');
	CHECK_MSG(eol, "%s: fewer lines than inputs", vs->label);
	if (!eol)
		return false;
	*eol = '\0';
	*n_want = 0;
	for (char *p = vs->line; *p;) {
		char *end;
		long id = strtol(p, &end, 10);
		if (end == p)
			break;
		if (*n_want < cap)
			want[(*n_want)++] = (int32_t)id;
		p = end;
	}
	*text = vs->in;
	*len = (size_t)(sep - vs->in);
	vs->in = sep + sep_len;
	vs->line = eol + 1;
	vs->index = vs->count++;
	return true;
}

static void vectors_close(struct vectors *vs)
{
	CHECK_MSG(*vs->line == '\0', "%s: more lines than inputs", vs->label);
	free(vs->inp);
	free(vs->outs);
}

/* True if got equals want; otherwise prints both under the case's label. */
static bool vectors_ids_match(const struct vectors *vs, size_t text_len, const int32_t *got, size_t n_got,
			      const int32_t *want, size_t n_want)
{
	if (ids_equal(got, n_got, want, n_want))
		return true;
	fprintf(stderr, "%s case %d (%zu bytes) differs\n", vs->label, vs->index, text_len);
	print_ids("want", want, n_want);
	print_ids("got ", got, n_got);
	return false;
}

#endif
