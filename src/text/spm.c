/*
 * spm.c - the SentencePiece BPE tokenizer (tokenizer.ggml.model = "llama"),
 * step for step as llama.cpp's llm_tokenizer_spm_session (c392e50), so that
 * every input, malformed UTF-8 included, gives llama.cpp's ids.
 *
 * For one text fragment:
 *   1. escape: optionally prepend " ", then replace every ' ' by U+2581 "▁";
 *   2. split into symbols, one per character, where a character's length is
 *      what its first byte claims (utf8_lead_len(), no validation; a claim
 *      running past the end is cut there);
 *   3. push every adjacent pair whose concatenation is a token onto a
 *      max-heap by (token score, then leftmost first); pop, skip pairs whose
 *      symbols changed since, merge, push the new neighbours' pairs; repeat;
 *   4. emit each remaining symbol: its token if its text is one, else one
 *      byte-fallback token per byte (<0xNN>; UNK if the vocabulary has no
 *      token for a byte; the byte is dropped if there is no UNK either).
 *
 * llama.cpp also keeps a "rev_merge" map to re-split a symbol that is not a
 * token into the pieces it was merged from. Every merge produces a token, so
 * a non-token symbol is always an unmerged single character and that map is
 * never consulted; step 4 does without it.
 *
 * The heap reproduces libstdc++'s std::priority_queue operations exactly
 * (push_heap / pop_heap / __adjust_heap), so that even ties and NaN scores
 * are popped in the same order as llama.cpp built with GCC.
 *
 * Cost: O(n log n) in the fragment length n; memory about 16 bytes per
 * character plus 16 per queued pair (at most 3 per character).
 */
#include "text/vocab_int.h"

#include <stdlib.h>
#include <string.h>

#include "text/utf8_int.h"

/* A span of the escaped text; merged symbols are linked in text order. */
struct spm_symbol {
	int32_t prev, next; /* neighbours in the chain, -1 at the ends */
	uint32_t off;       /* start in the escaped text */
	uint32_t n;         /* length in bytes; 0 once merged into its left neighbour */
};

/* Two adjacent symbols whose concatenation is a token. */
struct spm_bigram {
	float score;     /* of that token */
	int32_t left;    /* symbol indexes */
	int32_t right;
	uint32_t size;   /* left.n + right.n when queued: tells a stale entry */
};

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

enum ajar_err spm_init(struct ajar_vocab *v)
{
	static const char hex[] = "0123456789ABCDEF";
	for (int b = 0; b < 256; b++) {
		char name[6] = { '<', '0', 'x', hex[b >> 4], hex[b & 15], '>' };
		int32_t id = vocab_lookup(v, name, sizeof(name));
		if (id < 0) {
			char c = (char)b;
			id = vocab_lookup(v, &c, 1);
		}
		v->u.spm.byte_ids[b] = id;
	}
	/* A BYTE-typed token renders as the byte its text names. */
	for (int32_t id = 0; id < v->n_tokens; id++) {
		struct vocab_token *t = &v->tokens[id];
		if (t->type != AJAR_TOKEN_BYTE)
			continue;
		const char *s = vocab_text_of(v, id);
		int hi = -1, lo = -1;
		if (t->text_len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
			hi = hex_digit(s[3]);
			lo = hex_digit(s[4]);
		}
		if (hi < 0 || lo < 0)
			return ajar_errf(AJAR_ERR_FORMAT, "vocab: token %d has type BYTE but its text '%.16s' is not <0xNN>",
					 id, s);
		t->byte = (int16_t)(hi * 16 + lo);
	}
	return AJAR_OK;
}

void spm_work_free(struct spm_work *w)
{
	free(w->text);
	free(w->syms);
	free(w->heap);
	memset(w, 0, sizeof(*w));
}

/* Grows *buf to hold n elements of size sz. */
static enum ajar_err reserve(void **buf, size_t *cap, size_t n, size_t sz)
{
	if (n <= *cap)
		return AJAR_OK;
	size_t c = *cap ? *cap : 64;
	while (c < n)
		c *= 2;
	void *p = realloc(*buf, c * sz);
	if (!p)
		return ajar_errf(AJAR_ERR_NOMEM, "tokenize: %zu bytes of scratch", c * sz);
	*buf = p;
	*cap = c;
	return AJAR_OK;
}

/* ---- the work queue: libstdc++'s heap algorithms ---------------------- */

/* llama.cpp's comparator: true if a has lower priority than b. */
static bool bigram_less(const struct spm_bigram *a, const struct spm_bigram *b)
{
	return a->score < b->score || (a->score == b->score && a->left > b->left);
}

/* std::__push_heap: moves value up from hole towards top. */
static void heap_sift_up(struct spm_bigram *h, size_t hole, size_t top, struct spm_bigram value)
{
	while (hole > top) {
		size_t parent = (hole - 1) / 2;
		if (!bigram_less(&h[parent], &value))
			break;
		h[hole] = h[parent];
		hole = parent;
	}
	h[hole] = value;
}

static enum ajar_err heap_push(struct spm_work *w, struct spm_bigram b)
{
	enum ajar_err err = reserve((void **)&w->heap, &w->heap_cap, w->heap_n + 1, sizeof(*w->heap));
	if (err)
		return err;
	w->heap[w->heap_n] = b;
	heap_sift_up(w->heap, w->heap_n, 0, b);
	w->heap_n++;
	return AJAR_OK;
}

/* std::pop_heap + pop_back: removes and returns the top. */
static struct spm_bigram heap_pop(struct spm_work *w)
{
	struct spm_bigram *h = w->heap;
	struct spm_bigram top = h[0];
	size_t len = --w->heap_n; /* the heap without its last element */
	if (len == 0)
		return top;
	struct spm_bigram value = h[len];
	/* std::__adjust_heap(h, 0, len, value) */
	size_t hole = 0, child = 0;
	while (child < (len - 1) / 2) {
		child = 2 * (child + 1);
		if (bigram_less(&h[child], &h[child - 1]))
			child--;
		h[hole] = h[child];
		hole = child;
	}
	if ((len & 1) == 0 && child == (len - 2) / 2) {
		child = 2 * (child + 1);
		h[hole] = h[child - 1];
		hole = child - 1;
	}
	heap_sift_up(h, hole, 0, value);
	return top;
}

/* ---- tokenizing ------------------------------------------------------- */

static enum ajar_err try_add_bigram(const struct ajar_vocab *v, struct spm_work *w, int32_t left, int32_t right)
{
	if (left < 0 || right < 0)
		return AJAR_OK;
	const struct spm_symbol *l = &w->syms[left], *r = &w->syms[right];
	uint32_t size = l->n + r->n;
	int32_t id = vocab_lookup(v, w->text + l->off, size);
	if (id < 0)
		return AJAR_OK;
	return heap_push(w, (struct spm_bigram){ v->tokens[id].score, left, right, size });
}

static enum ajar_err emit_symbol(const struct ajar_vocab *v, const char *s, size_t n, struct id_vec *out)
{
	int32_t id = vocab_lookup(v, s, n);
	if (id >= 0)
		return id_vec_push(out, id);
	for (size_t i = 0; i < n; i++) {
		id = v->u.spm.byte_ids[(unsigned char)s[i]];
		if (id < 0)
			id = v->unk;
		if (id < 0)
			continue;
		enum ajar_err err = id_vec_push(out, id);
		if (err)
			return err;
	}
	return AJAR_OK;
}

/* Writes the escaped fragment into w->text; returns its length. */
static enum ajar_err escape(struct spm_work *w, const char *text, size_t len, bool space_prefix, size_t *out_len)
{
	static const char lower_one_eighth_block[3] = { '\xe2', '\x96', '\x81' }; /* U+2581 */
	size_t spaces = space_prefix;
	for (size_t i = 0; i < len; i++)
		spaces += text[i] == ' ';
	size_t n = len + space_prefix + 2 * spaces;
	enum ajar_err err = reserve((void **)&w->text, &w->text_cap, n ? n : 1, 1);
	if (err)
		return err;
	size_t k = 0;
	if (space_prefix) {
		memcpy(w->text, lower_one_eighth_block, 3);
		k = 3;
	}
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ' ') {
			memcpy(w->text + k, lower_one_eighth_block, 3);
			k += 3;
		} else {
			w->text[k++] = text[i];
		}
	}
	*out_len = k;
	return AJAR_OK;
}

enum ajar_err spm_tokenize(const struct ajar_vocab *v, struct spm_work *w, const char *text, size_t len,
			   bool space_prefix, struct id_vec *out)
{
	size_t n;
	enum ajar_err err = escape(w, text, len, space_prefix, &n);
	if (err)
		return err;
	if (n == 0)
		return AJAR_OK;

	/* One symbol per (claimed) character; at most one per input byte. */
	if ((err = reserve((void **)&w->syms, &w->syms_cap, n, sizeof(*w->syms))))
		return err;
	int32_t n_syms = 0;
	for (size_t off = 0; off < n;) {
		size_t cl = utf8_lead_len((unsigned char)w->text[off]);
		if (cl > n - off)
			cl = n - off;
		struct spm_symbol *s = &w->syms[n_syms];
		s->off = (uint32_t)off;
		s->n = (uint32_t)cl;
		s->prev = n_syms - 1;
		off += cl;
		s->next = off == n ? -1 : n_syms + 1;
		n_syms++;
	}

	w->heap_n = 0;
	for (int32_t i = 1; i < n_syms; i++)
		if ((err = try_add_bigram(v, w, i - 1, i)))
			return err;

	while (w->heap_n > 0) {
		struct spm_bigram b = heap_pop(w);
		struct spm_symbol *l = &w->syms[b.left], *r = &w->syms[b.right];
		if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
			continue; /* one side was merged away since it was queued */
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			w->syms[r->next].prev = b.left;
		if ((err = try_add_bigram(v, w, l->prev, b.left)) ||
		    (err = try_add_bigram(v, w, b.left, w->syms[b.left].next)))
			return err;
	}

	for (int32_t i = 0; i != -1; i = w->syms[i].next)
		if ((err = emit_symbol(v, w->text + w->syms[i].off, w->syms[i].n, out)))
			return err;
	return AJAR_OK;
}
