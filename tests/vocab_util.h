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

#endif
