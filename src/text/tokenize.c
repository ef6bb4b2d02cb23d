/*
 * tokenize.c - vocab_tokenize(): split the text on special tokens, then run
 * the model's algorithm over each piece of plain text between them.
 *
 * The split is llama.cpp's tokenizer_st_partition (c392e50), reproduced in
 * its order of work because the order decides the result: special tokens
 * are taken one at a time, longest text first (ties: lower id first, where
 * llama.cpp's std::sort leaves ties unspecified), and each one cuts every
 * plain-text fragment left so far at all its non-overlapping occurrences,
 * leftmost first. So a longer special token wins over a shorter one that
 * starts earlier ("wxyz" with specials "xyz" and "wx" gives "w", <xyz>).
 * CONTROL and UNKNOWN tokens take part only with parse_special;
 * USER_DEFINED ones always do (as in Hugging Face tokenizers). A token
 * flagged LSTRIP / RSTRIP also removes the ASCII whitespace next to it.
 *
 * Cost: O(#special tokens x text length) for the search (memmem), plus the
 * algorithm's own cost per fragment; tokens whose byte pairs do not all
 * occur in the text are skipped without a search.
 */
#include "text/vocab_int.h"

#include <stdlib.h>
#include <string.h>

enum ajar_err id_vec_push(struct id_vec *vec, int32_t id)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? 2 * vec->cap : 64;
		int32_t *p = realloc(vec->ids, cap * sizeof(*p));
		if (!p)
			return ajar_errf(AJAR_ERR_NOMEM, "tokenize: %zu token ids", cap);
		vec->ids = p;
		vec->cap = cap;
	}
	vec->ids[vec->n++] = id;
	return AJAR_OK;
}

/* A piece of the input: plain text (id -1) or one special token. */
struct fragment {
	int32_t id;
	size_t off, len; /* plain text: the bytes text[off..off+len), len >= 1 */
};

struct frag_vec {
	struct fragment *f;
	size_t n, cap;
};

static enum ajar_err frag_push(struct frag_vec *vec, int32_t id, size_t off, size_t len)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? 2 * vec->cap : 16;
		struct fragment *p = realloc(vec->f, cap * sizeof(*p));
		if (!p)
			return ajar_errf(AJAR_ERR_NOMEM, "tokenize: %zu fragments", cap);
		vec->f = p;
		vec->cap = cap;
	}
	vec->f[vec->n++] = (struct fragment){ id, off, len };
	return AJAR_OK;
}

/* C-locale isspace(), which llama.cpp's strip rules use. */
static bool ascii_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Cuts the plain-text fragment fr at every occurrence of special token id,
 * appending the pieces to dst. */
static enum ajar_err split_fragment(const struct ajar_vocab *v, int32_t id, const char *text, struct fragment fr,
				    struct frag_vec *dst)
{
	const struct vocab_token *t = &v->tokens[id];
	const char *s = vocab_text_of(v, id);
	size_t pos = fr.off, end = fr.off + fr.len;
	enum ajar_err err;
	while (pos < end) {
		const char *m = memmem(text + pos, end - pos, s, t->text_len);
		if (!m)
			return frag_push(dst, -1, pos, end - pos);
		size_t at = (size_t)(m - text);
		size_t left = at - pos;
		if (t->flags & VOCAB_FLAG_LSTRIP)
			while (left > 0 && ascii_space(text[pos + left - 1]))
				left--;
		if (left > 0 && (err = frag_push(dst, -1, pos, left)))
			return err;
		if ((err = frag_push(dst, id, 0, 0)))
			return err;
		pos = at + t->text_len;
		if (t->flags & VOCAB_FLAG_RSTRIP)
			while (pos < end && ascii_space(text[pos]))
				pos++;
	}
	return AJAR_OK;
}

/*
 * The byte pairs (and bytes) that occur in a text. A special token with a
 * pair that does not occur cannot occur either, so its search is skipped:
 * vocabularies with thousands of user-defined tokens ("[PAD123]", single
 * accented letters) would otherwise spend most of the time in memmem.
 */
struct pair_set {
	uint64_t pairs[65536 / 64];
	uint64_t bytes[256 / 64];
};

static void pair_set_build(struct pair_set *ps, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	for (size_t i = 0; i < len; i++) {
		ps->bytes[s[i] >> 6] |= 1ull << (s[i] & 63);
		if (i + 1 < len) {
			unsigned p = (unsigned)s[i] << 8 | s[i + 1];
			ps->pairs[p >> 6] |= 1ull << (p & 63);
		}
	}
}

static bool pair_set_may_contain(const struct pair_set *ps, const char *tok, size_t n)
{
	const unsigned char *s = (const unsigned char *)tok;
	if (n == 1)
		return ps->bytes[s[0] >> 6] >> (s[0] & 63) & 1;
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned p = (unsigned)s[i] << 8 | s[i + 1];
		if (!(ps->pairs[p >> 6] >> (p & 63) & 1))
			return false;
	}
	return true;
}

/* Fills *a with the fragments of text; *b is scratch. */
static enum ajar_err partition(const struct ajar_vocab *v, const char *text, size_t len, bool parse_special,
			       struct frag_vec *a, struct frag_vec *b)
{
	enum ajar_err err;
	if (len == 0)
		return AJAR_OK;
	if ((err = frag_push(a, -1, 0, len)))
		return err;
	struct pair_set *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return ajar_errf(AJAR_ERR_NOMEM, "tokenize: byte-pair set");
	pair_set_build(ps, text, len);
	for (size_t k = 0; k < v->n_special; k++) {
		int32_t id = v->special_ids[k];
		const struct vocab_token *t = &v->tokens[id];
		if (!parse_special && (t->type == AJAR_TOKEN_CONTROL || t->type == AJAR_TOKEN_UNKNOWN))
			continue;
		if (!pair_set_may_contain(ps, vocab_text_of(v, id), t->text_len))
			continue;
		/* Rebuild the list into b only once this token occurs somewhere. */
		bool cut = false;
		for (size_t i = 0; i < a->n; i++) {
			struct fragment fr = a->f[i];
			err = AJAR_OK;
			bool hit = fr.id < 0 && memmem(text + fr.off, fr.len, vocab_text_of(v, id), t->text_len);
			if (hit && !cut) {
				cut = true;
				b->n = 0;
				for (size_t j = 0; j < i && !err; j++)
					err = frag_push(b, a->f[j].id, a->f[j].off, a->f[j].len);
			}
			if (err)
				goto out;
			if (hit)
				err = split_fragment(v, id, text, fr, b);
			else if (cut)
				err = frag_push(b, fr.id, fr.off, fr.len);
			if (err)
				goto out;
		}
		if (cut) {
			struct frag_vec tmp = *a;
			*a = *b;
			*b = tmp;
		}
	}
	err = AJAR_OK;
out:
	free(ps);
	return err;
}

static enum ajar_err tokenize_spm(const struct ajar_vocab *v, const char *text, const struct frag_vec *frags,
				  bool add_special, struct id_vec *out)
{
	enum ajar_err err = AJAR_OK;
	struct spm_work work = { 0 };
	if (add_special && v->add_bos && (err = id_vec_push(out, v->bos)))
		goto out;
	/* The space prefix goes before text that starts the input or follows
	 * a special token, whether or not a BOS was added. */
	bool prev_special = true;
	for (size_t i = 0; i < frags->n; i++) {
		const struct fragment *fr = &frags->f[i];
		if (fr->id >= 0) {
			err = id_vec_push(out, fr->id);
			prev_special = true;
		} else {
			err = spm_tokenize(v, &work, text + fr->off, fr->len, v->add_space_prefix && prev_special, out);
			prev_special = false;
		}
		if (err)
			goto out;
	}
	if (add_special && v->add_eos)
		err = id_vec_push(out, v->eos);
out:
	spm_work_free(&work);
	return err;
}

/* llama.cpp's WPM case: [CLS] (the BOS id) and [SEP] around everything when
 * add_special, whatever the add_*_token flags say (wpm_init() sets the flags
 * to match); no space prefix, words never span a special token. */
static enum ajar_err tokenize_wpm(const struct ajar_vocab *v, const char *text, const struct frag_vec *frags,
				  bool add_special, struct id_vec *out)
{
	enum ajar_err err = AJAR_OK;
	struct wpm_work work = { 0 };
	if (add_special && v->add_bos && (err = id_vec_push(out, v->bos)))
		goto out;
	for (size_t i = 0; i < frags->n && !err; i++) {
		const struct fragment *fr = &frags->f[i];
		if (fr->id >= 0)
			err = id_vec_push(out, fr->id);
		else
			err = wpm_tokenize(v, &work, text + fr->off, fr->len, out);
	}
	if (!err && add_special && v->add_sep)
		err = id_vec_push(out, v->sep);
out:
	wpm_work_free(&work);
	return err;
}

/* llama.cpp's BPE case: BOS and EOS as the add_*_token flags say, no space
 * prefix; words never span a special token. */
static enum ajar_err tokenize_bpe(const struct ajar_vocab *v, const char *text, const struct frag_vec *frags,
				  bool add_special, struct id_vec *out)
{
	enum ajar_err err = AJAR_OK;
	struct bpe_work work = { 0 };
	if (add_special && v->add_bos && (err = id_vec_push(out, v->bos)))
		goto out;
	for (size_t i = 0; i < frags->n && !err; i++) {
		const struct fragment *fr = &frags->f[i];
		if (fr->id >= 0)
			err = id_vec_push(out, fr->id);
		else
			err = bpe_tokenize(v, &work, text + fr->off, fr->len, out);
	}
	if (!err && add_special && v->add_eos)
		err = id_vec_push(out, v->eos);
out:
	bpe_work_free(&work);
	return err;
}

enum ajar_err vocab_tokenize(const struct ajar_vocab *v, const char *text, size_t len, bool add_special,
			     bool parse_special, int32_t **ids, size_t *n_ids)
{
	*ids = NULL;
	*n_ids = 0;
	if (len > VOCAB_MAX_TEXT)
		return ajar_errf(AJAR_ERR_LIMIT, "tokenize: %zu bytes of text, more than the %zu allowed", len,
				 VOCAB_MAX_TEXT);
	if (len > 0 && !text)
		return ajar_errf(AJAR_ERR_INVALID, "tokenize: NULL text");

	struct frag_vec a = { 0 }, b = { 0 };
	struct id_vec out = { 0 };
	enum ajar_err err = partition(v, text, len, parse_special, &a, &b);
	if (err)
		goto out;
	switch (v->model) {
	case VOCAB_MODEL_SPM:
		err = tokenize_spm(v, text, &a, add_special, &out);
		break;
	case VOCAB_MODEL_WPM:
		err = tokenize_wpm(v, text, &a, add_special, &out);
		break;
	case VOCAB_MODEL_BPE:
		err = tokenize_bpe(v, text, &a, add_special, &out);
		break;
	}
	if (err)
		goto out;
	if (!out.ids && (err = id_vec_push(&out, 0)) == AJAR_OK)
		out.n = 0; /* always hand back a freeable, non-NULL array */
	if (err)
		goto out;
	*ids = out.ids;
	*n_ids = out.n;
	out.ids = NULL;
out:
	free(out.ids);
	free(a.f);
	free(b.f);
	return err;
}
