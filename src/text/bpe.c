/*
 * bpe.c - the byte-level BPE tokenizer (tokenizer.ggml.model = "gpt2"), as
 * llama.cpp's llm_tokenizer_bpe_session (c392e50) runs it, so that every
 * input, malformed UTF-8 included, gives llama.cpp's ids.
 *
 * Load (bpe_init):
 *   - the pre-tokenizer from tokenizer.ggml.pre (pretok.c), with the
 *     defaults it implies: Llama 3, Tekken and Chameleon add BOS unless
 *     tokenizer.ggml.add_bos_token says otherwise; ChatGLM has no BOS;
 *   - tokenizer.ggml.merges: "left right" strings, split at the first space
 *     after the first byte; the rank of a pair is its index;
 *   - GPT-2's bytes_to_unicode map: the printable bytes ! .. ~, ¡ .. ¬ and
 *     ® .. ÿ stand for themselves, the other 68 for U+0100 + n in byte
 *     order, so every token text is printable;
 *   - the piece each NORMAL token prints (its text mapped back to bytes).
 *
 * Tokenize one text fragment (bpe_tokenize):
 *   1. pre-tokenize into words (pretok_split);
 *   2. per word: map every byte to its code point's UTF-8; with
 *      ignore_merges a word that is a token is taken whole; else one symbol
 *      per mapped character, every adjacent pair with a merge rank goes on
 *      a min-heap by (rank, left symbol index), and the top pair is merged
 *      unless either side changed since it was queued; the new neighbours'
 *      pairs are queued; repeat;
 *   3. each final symbol is its token; a symbol that is no token (possible
 *      only with incomplete vocabularies) becomes the tokens of its single
 *      bytes, each looked up as a one-byte text, those absent dropped --
 *      what llama.cpp does.
 *
 * Cost: O(n log n) per word of n bytes; scratch memory about 40 bytes per
 * byte of the (re-encoded) fragment, reused across fragments.
 */
#include "text/bpe_int.h"

#include <stdlib.h>
#include <string.h>

#include "ajar/gguf.h"

/* A printed piece longer than this refuses the vocabulary: it takes a token
 * full of characters outside the byte map (see build_pieces). */
#define BPE_MAX_PIECE_LEN (1u << 20)

/* ---- tables -------------------------------------------------------------- */

static bool byte_is_printable(int c)
{
	return (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
}

static void byte_map_init(struct vocab_bpe *b)
{
	uint32_t next = 0x100;
	for (int c = 0; c < 256; c++) {
		uint32_t cp = byte_is_printable(c) ? (uint32_t)c : next++;
		b->byte_len[c] = (uint8_t)bpe_encode(cp, b->byte_text[c]); /* cp < 0x144: 1 or 2 bytes */
	}
}

/* FNV-1a over left, a separator outside the byte range, then right. */
static uint32_t pair_hash(const char *l, size_t ln, const char *r, size_t rn)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < ln; i++)
		h = (h ^ (unsigned char)l[i]) * 16777619u;
	h = (h ^ 0x100u) * 16777619u;
	for (size_t i = 0; i < rn; i++)
		h = (h ^ (unsigned char)r[i]) * 16777619u;
	return h;
}

static bool merge_is(const struct vocab_bpe *b, uint32_t rank, const char *l, size_t ln, const char *r, size_t rn)
{
	const struct bpe_merge *m = &b->merges[rank];
	return m->left_len == ln && m->right_len == rn && memcmp(b->merge_text + m->off, l, ln) == 0 &&
	       memcmp(b->merge_text + m->off + ln, r, rn) == 0;
}

/* The rank of merging l and r, or -1. */
static int32_t merge_rank(const struct vocab_bpe *b, const char *l, size_t ln, const char *r, size_t rn)
{
	uint32_t h = pair_hash(l, ln, r, rn);
	size_t mask = b->merge_cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t slot = b->merge_slots[i];
		if (slot == 0)
			return -1;
		if (b->merge_hashes[i] == h && merge_is(b, slot - 1, l, ln, r, rn))
			return (int32_t)(slot - 1);
	}
}

static enum ajar_err load_merges(struct vocab_bpe *b, const struct gguf_file *f)
{
	const struct gguf_value *arr;
	enum ajar_err err = gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &arr);
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: tokenizer.ggml.merges is missing (needed by 'gpt2')");
	if (err)
		return ajar_err_wrap(err, "vocab: tokenizer.ggml.merges");
	uint64_t n = arr->v.arr.count;
	if (n > VOCAB_MAX_TOKENS)
		return ajar_errf(AJAR_ERR_LIMIT, "vocab: %llu merges, more than the %d allowed", (unsigned long long)n,
				 VOCAB_MAX_TOKENS);
	uint64_t total = 0;
	for (uint64_t i = 0; i < n; i++) {
		const struct gguf_value *item = &arr->v.arr.items[i];
		if (item->type != GGUF_TYPE_STRING)
			return ajar_errf(AJAR_ERR_TYPE, "vocab: merge %llu is not a string", (unsigned long long)i);
		if (item->v.str.len > 2 * (uint64_t)VOCAB_MAX_TOKEN_LEN)
			return ajar_errf(AJAR_ERR_LIMIT, "vocab: merge %llu is %llu bytes long", (unsigned long long)i,
					 (unsigned long long)item->v.str.len);
		total += item->v.str.len;
		if (total > UINT32_MAX)
			return ajar_errf(AJAR_ERR_LIMIT, "vocab: merge texts exceed 4 GiB");
	}
	size_t cap = 16;
	while (cap < 2 * (size_t)n)
		cap *= 2;
	b->merges = malloc((n ? n : 1) * sizeof(*b->merges));
	b->merge_text = malloc(total ? total : 1);
	b->merge_slots = calloc(cap, sizeof(*b->merge_slots));
	b->merge_hashes = malloc(cap * sizeof(*b->merge_hashes));
	if (!b->merges || !b->merge_text || !b->merge_slots || !b->merge_hashes)
		return ajar_errf(AJAR_ERR_NOMEM, "vocab: %llu merges", (unsigned long long)n);
	b->merge_cap = cap;
	b->n_merges = (uint32_t)n;

	uint32_t off = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct gguf_str s = arr->v.arr.items[i].v.str;
		struct bpe_merge *m = &b->merges[i];
		const char *sp = s.len > 1 ? memchr(s.data + 1, ' ', s.len - 1) : NULL;
		*m = (struct bpe_merge){ off, 0, 0 };
		if (!sp || (size_t)(sp - s.data) + 1 == s.len)
			continue; /* no pair (llama.cpp files it under ("", "")): never matches */
		m->left_len = (uint32_t)(sp - s.data);
		m->right_len = (uint32_t)(s.len - m->left_len - 1);
		memcpy(b->merge_text + off, s.data, m->left_len);
		memcpy(b->merge_text + off + m->left_len, sp + 1, m->right_len);
		off += m->left_len + m->right_len;

		const char *l = b->merge_text + m->off, *r = l + m->left_len;
		uint32_t h = pair_hash(l, m->left_len, r, m->right_len);
		size_t k = h & (cap - 1);
		bool dup = false;
		while (b->merge_slots[k] && !dup) {
			dup = b->merge_hashes[k] == h && merge_is(b, b->merge_slots[k] - 1, l, m->left_len, r, m->right_len);
			k = (k + 1) & (cap - 1);
		}
		if (dup)
			continue; /* the earlier, lower rank stays */
		b->merge_slots[k] = (uint32_t)i + 1;
		b->merge_hashes[k] = h;
	}
	return AJAR_OK;
}

/*
 * llama_decode_text: each code point of a NORMAL token's text that is in the
 * byte map prints as its byte; any other prints as "[UNK_BYTE_0x" + its
 * UTF-8 in hex + the whole token text + "]" (real vocabularies have none).
 * Returns the piece length; writes it to out if out is not NULL.
 */
static size_t decode_piece(const int16_t *inv, const char *text, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t k = 0;
	for (size_t i = 0; i < len;) {
		size_t n;
		uint32_t cp = bpe_decode_lenient(s + i, len - i, &n);
		i += n;
		if (cp < 0x144 && inv[cp] >= 0) {
			if (out)
				out[k] = (char)inv[cp];
			k++;
			continue;
		}
		char utf8[4];
		size_t un = bpe_encode(cp > 0x10FFFF ? 0xFFFD : cp, utf8);
		static const char head[] = "[UNK_BYTE_0x";
		if (out) {
			static const char hex[] = "0123456789abcdef";
			char *o = out + k;
			memcpy(o, head, sizeof(head) - 1);
			o += sizeof(head) - 1;
			for (size_t j = 0; j < un; j++) {
				*o++ = hex[(unsigned char)utf8[j] >> 4];
				*o++ = hex[(unsigned char)utf8[j] & 15];
			}
			memcpy(o, text, len);
			o[len] = ']';
		}
		k += sizeof(head) - 1 + 2 * un + len + 1;
	}
	return k;
}

static enum ajar_err build_pieces(const struct ajar_vocab *v, struct vocab_bpe *b)
{
	int16_t inv[0x144];
	for (size_t i = 0; i < 0x144; i++)
		inv[i] = -1;
	uint32_t next = 0x100;
	for (int c = 0; c < 256; c++)
		inv[byte_is_printable(c) ? (uint32_t)c : next++] = (int16_t)c;

	b->piece_off = calloc((size_t)v->n_tokens, sizeof(*b->piece_off));
	b->piece_len = calloc((size_t)v->n_tokens, sizeof(*b->piece_len));
	if (!b->piece_off || !b->piece_len)
		return ajar_errf(AJAR_ERR_NOMEM, "vocab: token pieces");
	uint64_t total = 0;
	for (int32_t id = 0; id < v->n_tokens; id++) {
		const struct vocab_token *t = &v->tokens[id];
		if (t->type != AJAR_TOKEN_NORMAL)
			continue;
		size_t n = decode_piece(inv, vocab_text_of(v, id), t->text_len, NULL);
		if (n > BPE_MAX_PIECE_LEN)
			return ajar_errf(AJAR_ERR_LIMIT, "vocab: token %d prints as %zu bytes, more than %u", id, n,
					 BPE_MAX_PIECE_LEN);
		b->piece_off[id] = (uint32_t)total;
		b->piece_len[id] = (uint32_t)n;
		total += n;
		if (total > UINT32_MAX)
			return ajar_errf(AJAR_ERR_LIMIT, "vocab: token pieces exceed 4 GiB");
		if (n > b->max_piece_len)
			b->max_piece_len = (uint32_t)n;
	}
	b->piece_text = malloc(total ? total : 1);
	if (!b->piece_text)
		return ajar_errf(AJAR_ERR_NOMEM, "vocab: %llu bytes of token pieces", (unsigned long long)total);
	for (int32_t id = 0; id < v->n_tokens; id++)
		if (v->tokens[id].type == AJAR_TOKEN_NORMAL)
			decode_piece(inv, vocab_text_of(v, id), v->tokens[id].text_len, b->piece_text + b->piece_off[id]);
	return AJAR_OK;
}

/* llama.cpp sets LSTRIP on "<mask>" for these pre-tokenizers (substring test). */
static void apply_pre_rules(struct ajar_vocab *v, struct gguf_str pre)
{
	static const char *const jina[] = { "jina-v2-de", "jina-v2-es", "jina-v2-code" };
	bool hit = false;
	for (size_t k = 0; k < 3 && !hit; k++)
		hit = pre.len > 0 && memmem(pre.data, pre.len, jina[k], strlen(jina[k])) != NULL;
	int32_t id = hit ? vocab_lookup(v, "<mask>", 6) : -1;
	if (id >= 0)
		v->tokens[id].flags |= VOCAB_FLAG_LSTRIP;
}

enum ajar_err bpe_init(struct ajar_vocab *v, const struct gguf_file *f)
{
	struct vocab_bpe *b = calloc(1, sizeof(*b));
	if (!b)
		return ajar_errf(AJAR_ERR_NOMEM, "vocab: BPE tables");
	v->u.bpe = b;

	struct gguf_str pre = { NULL, 0 };
	enum ajar_err err = gguf_get_str(f, "tokenizer.ggml.pre", &pre);
	if (err && err != AJAR_ERR_NOT_FOUND)
		return ajar_err_wrap(err, "vocab: tokenizer.ggml.pre");
	if ((err = pretok_init(&b->pre, pre.data, pre.len)))
		return err;

	/* Defaults the pre-tokenizer type implies; the keys, where present,
	 * were read already and win (as in llama.cpp, which sets these first). */
	if (b->pre.add_bos && !gguf_find(f, "tokenizer.ggml.add_bos_token"))
		v->add_bos = true;
	if (b->pre.no_bos && !gguf_find(f, "tokenizer.ggml.bos_token_id"))
		v->bos = -1;
	if (v->add_bos && v->bos < 0)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: BOS is added by default for pre-tokenizer '%s' but there is none",
				 b->pre.set);

	byte_map_init(b);
	if ((err = load_merges(b, f)) || (err = build_pieces(v, b)))
		return err;
	apply_pre_rules(v, pre);
	return AJAR_OK;
}

void bpe_free(struct ajar_vocab *v)
{
	struct vocab_bpe *b = v->u.bpe;
	if (!b)
		return;
	pretok_free(&b->pre);
	free(b->merges);
	free(b->merge_text);
	free(b->merge_slots);
	free(b->merge_hashes);
	free(b->piece_off);
	free(b->piece_len);
	free(b->piece_text);
	free(b);
	v->u.bpe = NULL;
}

const char *bpe_piece(const struct ajar_vocab *v, int32_t id, size_t *len)
{
	const struct vocab_bpe *b = v->u.bpe;
	*len = b->piece_len[id];
	return b->piece_text + b->piece_off[id];
}

size_t bpe_max_piece_len(const struct ajar_vocab *v)
{
	return v->u.bpe->max_piece_len;
}

/* ---- tokenizing ------------------------------------------------------------ */

/* A span of the mapped word; merged symbols are linked in text order. */
struct bpe_symbol {
	int32_t prev, next; /* neighbours in the chain, -1 at the ends */
	uint32_t off;       /* start in the mapped word */
	uint32_t n;         /* length in bytes; 0 once merged into its left neighbour */
};

/* Two adjacent symbols that a merge joins. */
struct bpe_bigram {
	int32_t rank;
	int32_t left;  /* symbol indexes */
	int32_t right;
	uint32_t size; /* left.n + right.n when queued: tells a stale entry */
};

struct bpe_scratch {
	struct pretok_work pre;
	char *mapped; /* the current word, bytes mapped to token-text characters */
	size_t mapped_cap;
	struct bpe_symbol *syms;
	size_t syms_cap;
	struct bpe_bigram *heap; /* min-heap by (rank, left) */
	size_t heap_n, heap_cap;
};

void bpe_work_free(struct bpe_work *w)
{
	if (w->s) {
		pretok_work_free(&w->s->pre);
		free(w->s->mapped);
		free(w->s->syms);
		free(w->s->heap);
		free(w->s);
	}
	w->s = NULL;
}

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

static bool bigram_before(const struct bpe_bigram *a, const struct bpe_bigram *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static enum ajar_err heap_push(struct bpe_scratch *s, struct bpe_bigram g)
{
	enum ajar_err err = reserve((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof(*s->heap));
	if (err)
		return err;
	size_t i = s->heap_n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!bigram_before(&g, &s->heap[parent]))
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i] = g;
	return AJAR_OK;
}

static struct bpe_bigram heap_pop(struct bpe_scratch *s)
{
	struct bpe_bigram top = s->heap[0];
	struct bpe_bigram last = s->heap[--s->heap_n];
	size_t n = s->heap_n, i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && bigram_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!bigram_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n > 0)
		s->heap[i] = last;
	return top;
}

static enum ajar_err try_add_bigram(const struct vocab_bpe *b, struct bpe_scratch *s, int32_t left, int32_t right)
{
	if (left < 0 || right < 0)
		return AJAR_OK;
	const struct bpe_symbol *l = &s->syms[left], *r = &s->syms[right];
	int32_t rank = merge_rank(b, s->mapped + l->off, l->n, s->mapped + r->off, r->n);
	if (rank < 0)
		return AJAR_OK;
	return heap_push(s, (struct bpe_bigram){ rank, left, right, l->n + r->n });
}

static enum ajar_err emit_symbol(const struct ajar_vocab *v, const char *p, size_t n, struct id_vec *out)
{
	int32_t id = vocab_lookup(v, p, n);
	if (id >= 0)
		return id_vec_push(out, id);
	for (size_t i = 0; i < n; i++) {
		id = vocab_lookup(v, p + i, 1);
		enum ajar_err err = id >= 0 ? id_vec_push(out, id) : AJAR_OK;
		if (err)
			return err;
	}
	return AJAR_OK;
}

/* BPE over one word of raw bytes. */
static enum ajar_err tokenize_word(const struct ajar_vocab *v, struct bpe_scratch *s, const char *word, size_t len,
				   struct id_vec *out)
{
	const struct vocab_bpe *b = v->u.bpe;
	enum ajar_err err;
	if (len == 0)
		return AJAR_OK;
	if ((err = reserve((void **)&s->mapped, &s->mapped_cap, 2 * len, 1)) ||
	    (err = reserve((void **)&s->syms, &s->syms_cap, len, sizeof(*s->syms))))
		return err;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)word[i];
		s->syms[i] = (struct bpe_symbol){ (int32_t)i - 1, i + 1 < len ? (int32_t)i + 1 : -1, (uint32_t)n,
						  b->byte_len[c] };
		memcpy(s->mapped + n, b->byte_text[c], b->byte_len[c]);
		n += b->byte_len[c];
	}
	if (b->pre.ignore_merges) {
		int32_t id = vocab_lookup(v, s->mapped, n);
		if (id >= 0)
			return id_vec_push(out, id);
	}

	s->heap_n = 0;
	for (size_t i = 1; i < len; i++)
		if ((err = try_add_bigram(b, s, (int32_t)i - 1, (int32_t)i)))
			return err;
	while (s->heap_n > 0) {
		struct bpe_bigram g = heap_pop(s);
		struct bpe_symbol *l = &s->syms[g.left], *r = &s->syms[g.right];
		/* llama.cpp compares the texts; a pair can only change by either
		 * side merging, which changes a length, so lengths suffice. */
		if (l->n == 0 || r->n == 0 || l->n + r->n != g.size)
			continue;
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			s->syms[r->next].prev = g.left;
		if ((err = try_add_bigram(b, s, l->prev, g.left)) || (err = try_add_bigram(b, s, g.left, l->next)))
			return err;
	}
	for (int32_t i = 0; i != -1; i = s->syms[i].next)
		if ((err = emit_symbol(v, s->mapped + s->syms[i].off, s->syms[i].n, out)))
			return err;
	return AJAR_OK;
}

enum ajar_err bpe_tokenize(const struct ajar_vocab *v, struct bpe_work *w, const char *text, size_t len,
			   struct id_vec *out)
{
	if (!w->s && !(w->s = calloc(1, sizeof(*w->s))))
		return ajar_errf(AJAR_ERR_NOMEM, "tokenize: BPE scratch");
	struct bpe_scratch *s = w->s;
	enum ajar_err err = pretok_split(&v->u.bpe->pre, &s->pre, text, len);
	if (err)
		return err;
	for (size_t i = 0; i < s->pre.n_words; i++) {
		const struct pretok_word *wd = &s->pre.words[i];
		if ((err = tokenize_word(v, s, s->pre.text + wd->off, wd->len, out)))
			return err;
	}
	return AJAR_OK;
}
