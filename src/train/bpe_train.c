/*
 * bpe_train.c - byte-level BPE training (see bpe_train.h for what is learned).
 *
 * Layout:
 *   word table   feed() pre-tokenizes and counts distinct words in an
 *                open-addressing table over their bytes (FNV-1a);
 *   run()        turns each distinct word into symbols (token ids, one per
 *                byte), counts every adjacent pair, then merges:
 *     pairs      open-addressing (left, right) -> pair index; a pair holds
 *                its count (summed word frequencies), the words it occurs
 *                in (may hold words that lost it since: checked on use)
 *                and whether it is queued on the heap;
 *     heap       max-heap of pair indexes by (count, smaller bytes first).
 *                Counts of queued pairs only fall (a merge only creates
 *                pairs with the new token), so a popped entry whose queued
 *                count is stale is re-queued with its current count, and
 *                the first fresh entry popped is the true best pair.
 *     merge      every word that holds the pair loses all its pairs, is
 *                rewritten left to right (a a a -> aa a, as the tokenizer's
 *                leftmost-first order does), and gains its new pairs back;
 *                pairs that gained count and are not queued are queued.
 *   output       token texts through GPT-2's bytes_to_unicode map.
 */
#include "train/bpe_train.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "text/bpe_int.h"

/* Pre-tokenizer piece size: the pre-tokenizer takes 16 MiB at most. */
#define FEED_PIECE ((size_t)8 << 20)
/* Pieces cut at the last newline within this many bytes of the end. */
#define FEED_NEWLINE_WINDOW ((size_t)1 << 20)

struct word {
	uint64_t off;   /* into bpe_trainer.wtext */
	uint32_t len;
	uint32_t hash;
	uint64_t count;
};

struct sym_word {
	uint32_t *syms; /* [n] token ids, owned */
	uint32_t n;
	uint32_t stamp; /* last merge (+1) that rewrote it */
};

struct pair {
	uint32_t left, right;
	int64_t count;
	uint32_t *where; /* [n_where] word indexes, owned; may be stale */
	uint32_t n_where, cap_where;
	uint32_t last_word; /* last word index + 1 appended to where */
	bool queued, pending, banned;
};

struct token {
	uint32_t off, len; /* raw bytes in bpe_trainer.tok_bytes */
};

struct bpe_trainer {
	struct pretok pre;
	struct pretok_work work;

	char *wtext; /* distinct words' bytes */
	uint64_t wtext_len, wtext_cap;
	struct word *words;
	size_t n_words, words_cap;
	uint32_t *wslots; /* [wslot_cap] word index + 1, 0 empty */
	size_t wslot_cap;

	struct bpe_train_stats stats;
	bool trained;

	/* After run: tokens 0..n_tokens-1 (the control token last). */
	struct token *toks;
	char *tok_bytes;
	size_t tok_bytes_len, tok_bytes_cap;
	uint32_t n_tokens;
	uint32_t *tslots; /* [tslot_cap] token id + 1 by bytes, 0 empty */
	size_t tslot_cap;
	uint32_t (*merges)[2]; /* [n_merges] token ids */
	uint32_t n_merges;
	size_t merges_cap;
};

/* The training state of run(), freed when it returns. */
struct train_state {
	struct bpe_trainer *t;
	struct sym_word *sw; /* [t->n_words] */
	struct pair *pairs;
	size_t n_pairs, pairs_cap;
	uint32_t *pslots; /* [pslot_cap] pair index + 1 */
	size_t pslot_cap;
	struct heap_entry *heap;
	size_t heap_n, heap_cap;
	uint32_t *pending; /* pairs that gained count and wait to be queued */
	size_t n_pending, pending_cap;
};

static enum ajar_err grow(void **buf, size_t *cap, size_t n, size_t sz)
{
	if (n <= *cap)
		return AJAR_OK;
	size_t c = *cap ? *cap : 16;
	while (c < n)
		c *= 2;
	void *p = realloc(*buf, c * sz);
	if (!p)
		return ajar_errf(AJAR_ERR_NOMEM, "bpe train: %zu bytes", c * sz);
	*buf = p;
	*cap = c;
	return AJAR_OK;
}

/* ---- counting words ------------------------------------------------------- */

enum ajar_err bpe_train_new(struct bpe_trainer **out)
{
	*out = NULL;
	struct bpe_trainer *t = calloc(1, sizeof(*t));
	if (!t)
		return ajar_errf(AJAR_ERR_NOMEM, "bpe train: trainer");
	enum ajar_err err = pretok_init(&t->pre, BPE_TRAIN_PRE, strlen(BPE_TRAIN_PRE));
	if (err) {
		free(t);
		return err;
	}
	*out = t;
	return AJAR_OK;
}

void bpe_train_free(struct bpe_trainer *t)
{
	if (!t)
		return;
	pretok_free(&t->pre);
	pretok_work_free(&t->work);
	free(t->wtext);
	free(t->words);
	free(t->wslots);
	free(t->toks);
	free(t->tok_bytes);
	free(t->merges);
	free(t->tslots);
	free(t);
}

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static enum ajar_err word_rehash(struct bpe_trainer *t, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return ajar_errf(AJAR_ERR_NOMEM, "bpe train: word table of %zu slots", cap);
	for (size_t i = 0; i < t->n_words; i++) {
		size_t k = t->words[i].hash & (cap - 1);
		while (slots[k])
			k = (k + 1) & (cap - 1);
		slots[k] = (uint32_t)(i + 1);
	}
	free(t->wslots);
	t->wslots = slots;
	t->wslot_cap = cap;
	return AJAR_OK;
}

static enum ajar_err word_count(struct bpe_trainer *t, const char *s, uint32_t len)
{
	uint32_t h = fnv1a(s, len);
	size_t mask = t->wslot_cap - 1, k = h & mask;
	for (; t->wslots[k]; k = (k + 1) & mask) {
		struct word *w = &t->words[t->wslots[k] - 1];
		if (w->hash == h && w->len == len && memcmp(t->wtext + w->off, s, len) == 0) {
			w->count++;
			return AJAR_OK;
		}
	}
	if (t->n_words >= UINT32_MAX - 1)
		return ajar_errf(AJAR_ERR_LIMIT, "bpe train: more than %u distinct words", UINT32_MAX - 1);
	enum ajar_err err = grow((void **)&t->words, &t->words_cap, t->n_words + 1, sizeof(*t->words));
	size_t tcap = (size_t)t->wtext_cap;
	if (!err)
		err = grow((void **)&t->wtext, &tcap, (size_t)t->wtext_len + len, 1);
	if (err)
		return err;
	t->wtext_cap = tcap;
	memcpy(t->wtext + t->wtext_len, s, len);
	t->words[t->n_words] = (struct word){ .off = t->wtext_len, .len = len, .hash = h, .count = 1 };
	t->wtext_len += len;
	t->wslots[k] = (uint32_t)(++t->n_words);
	/* Load at most one half keeps probes short. */
	if (2 * t->n_words > t->wslot_cap)
		return word_rehash(t, 2 * t->wslot_cap);
	return AJAR_OK;
}

/* Pre-tokenizes one piece (<= 16 MiB) and counts its words. */
static enum ajar_err feed_piece(struct bpe_trainer *t, const char *text, size_t len)
{
	enum ajar_err err = pretok_split(&t->pre, &t->work, text, len);
	if (err)
		return err;
	for (size_t i = 0; i < t->work.n_words; i++) {
		const struct pretok_word *wd = &t->work.words[i];
		if (wd->len == 0)
			continue;
		if ((err = word_count(t, t->work.text + wd->off, wd->len)))
			return err;
	}
	t->stats.n_words += t->work.n_words;
	return AJAR_OK;
}

enum ajar_err bpe_train_feed(struct bpe_trainer *t, const char *text, size_t len)
{
	if (t->trained)
		return ajar_errf(AJAR_ERR_INVALID, "bpe train: feed after training");
	if (len > BPE_TRAIN_MAX_CORPUS - t->stats.corpus_bytes)
		return ajar_errf(AJAR_ERR_LIMIT, "bpe train: corpus over %llu bytes",
				 (unsigned long long)BPE_TRAIN_MAX_CORPUS);
	enum ajar_err err;
	if (!t->wslots && (err = word_rehash(t, 1024)))
		return err;
	while (len > 0) {
		size_t n = len;
		if (n > FEED_PIECE) {
			n = FEED_PIECE;
			const char *nl = NULL;
			for (size_t i = n; i > FEED_PIECE - FEED_NEWLINE_WINDOW && !nl; i--)
				if (text[i - 1] == '\n')
					nl = text + i;
			if (nl)
				n = (size_t)(nl - text);
		}
		if ((err = feed_piece(t, text, n)))
			return err;
		t->stats.corpus_bytes += n;
		text += n;
		len -= n;
	}
	return AJAR_OK;
}

/* ---- pairs and the heap ---------------------------------------------------- */

static uint32_t pair_hash(uint32_t l, uint32_t r)
{
	uint64_t k = ((uint64_t)l << 32 | r) * 0x9E3779B97F4A7C15ull;
	return (uint32_t)(k >> 32);
}

static enum ajar_err pair_rehash(struct train_state *s, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return ajar_errf(AJAR_ERR_NOMEM, "bpe train: pair table of %zu slots", cap);
	for (size_t i = 0; i < s->n_pairs; i++) {
		size_t k = pair_hash(s->pairs[i].left, s->pairs[i].right) & (cap - 1);
		while (slots[k])
			k = (k + 1) & (cap - 1);
		slots[k] = (uint32_t)(i + 1);
	}
	free(s->pslots);
	s->pslots = slots;
	s->pslot_cap = cap;
	return AJAR_OK;
}

/* The index of pair (l, r) in *out, created with count 0 if new. */
static enum ajar_err pair_get(struct train_state *s, uint32_t l, uint32_t r, uint32_t *out)
{
	size_t mask = s->pslot_cap - 1, k = pair_hash(l, r) & mask;
	for (; s->pslots[k]; k = (k + 1) & mask) {
		const struct pair *p = &s->pairs[s->pslots[k] - 1];
		if (p->left == l && p->right == r) {
			*out = s->pslots[k] - 1;
			return AJAR_OK;
		}
	}
	if (s->n_pairs >= UINT32_MAX - 1)
		return ajar_errf(AJAR_ERR_LIMIT, "bpe train: too many distinct pairs");
	enum ajar_err err = grow((void **)&s->pairs, &s->pairs_cap, s->n_pairs + 1, sizeof(*s->pairs));
	if (err)
		return err;
	s->pairs[s->n_pairs] = (struct pair){ .left = l, .right = r };
	*out = (uint32_t)s->n_pairs;
	s->pslots[k] = (uint32_t)(++s->n_pairs);
	if (2 * s->n_pairs > s->pslot_cap)
		return pair_rehash(s, 2 * s->pslot_cap);
	return AJAR_OK;
}

/* Adds delta to pair (l, r) for word wi; a pair that gains and is not queued
 * waits in pending, and the word joins its list once. */
static enum ajar_err pair_add(struct train_state *s, uint32_t l, uint32_t r, int64_t delta, uint32_t wi)
{
	uint32_t pi = 0;
	enum ajar_err err = pair_get(s, l, r, &pi);
	if (err)
		return err;
	struct pair *p = &s->pairs[pi];
	p->count += delta;
	if (delta > 0 && p->last_word != wi + 1) {
		size_t cap = p->cap_where;
		if ((err = grow((void **)&p->where, &cap, (size_t)p->n_where + 1, sizeof(*p->where))))
			return err;
		p->cap_where = (uint32_t)cap;
		p->where[p->n_where++] = wi;
		p->last_word = wi + 1;
	}
	if (delta > 0 && !p->queued && !p->pending && !p->banned) {
		if ((err = grow((void **)&s->pending, &s->pending_cap, s->n_pending + 1, sizeof(*s->pending))))
			return err;
		s->pending[s->n_pending++] = pi;
		p->pending = true;
	}
	return AJAR_OK;
}

static int bytes_cmp(const struct bpe_trainer *t, uint32_t a, uint32_t b)
{
	const struct token *x = &t->toks[a], *y = &t->toks[b];
	uint32_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(t->tok_bytes + x->off, t->tok_bytes + y->off, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* A queued pair with its count when queued. */
struct heap_entry {
	int64_t count;
	uint32_t pair;
};

/* True if entry a should be merged before entry b. */
static bool entry_before(const struct train_state *s, struct heap_entry a, struct heap_entry b)
{
	if (a.count != b.count)
		return a.count > b.count;
	const struct pair *x = &s->pairs[a.pair], *y = &s->pairs[b.pair];
	int c = bytes_cmp(s->t, x->left, y->left);
	if (c)
		return c < 0;
	return bytes_cmp(s->t, x->right, y->right) < 0;
}

static enum ajar_err heap_push(struct train_state *s, uint32_t pi)
{
	enum ajar_err err = grow((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof(*s->heap));
	if (err)
		return err;
	struct heap_entry e = { s->pairs[pi].count, pi };
	size_t i = s->heap_n++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!entry_before(s, e, s->heap[up]))
			break;
		s->heap[i] = s->heap[up];
		i = up;
	}
	s->heap[i] = e;
	s->pairs[pi].queued = true;
	return AJAR_OK;
}

static struct heap_entry heap_pop(struct train_state *s)
{
	struct heap_entry top = s->heap[0], last = s->heap[--s->heap_n];
	size_t i = 0, n = s->heap_n;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && entry_before(s, s->heap[c + 1], s->heap[c]))
			c++;
		if (!entry_before(s, s->heap[c], last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n > 0)
		s->heap[i] = last;
	s->pairs[top.pair].queued = false;
	return top;
}

/* Pops the next pair to merge into *out, UINT32_MAX when none is left.
 * Queued counts are upper bounds (see the file comment), so an entry whose
 * count went stale goes back with its current count. */
static enum ajar_err heap_best(struct train_state *s, uint32_t *out)
{
	*out = UINT32_MAX;
	while (s->heap_n > 0) {
		struct heap_entry e = heap_pop(s);
		struct pair *p = &s->pairs[e.pair];
		if (p->count <= 0)
			continue;
		if (p->count != e.count) {
			enum ajar_err err = heap_push(s, e.pair);
			if (err)
				return err;
			continue;
		}
		if (s->t->toks[p->left].len + s->t->toks[p->right].len > BPE_TRAIN_MAX_TOKEN_LEN) {
			p->banned = true;
			continue;
		}
		*out = e.pair;
		return AJAR_OK;
	}
	return AJAR_OK;
}

/* ---- merging ---------------------------------------------------------------- */

/* Slot of the token whose bytes are s[0..len): holds its id + 1, or 0
 * where it would go. The table never fills: it has room for twice the
 * vocabulary. */
static size_t token_slot(const struct bpe_trainer *t, const char *s, uint32_t len)
{
	size_t mask = t->tslot_cap - 1, k = fnv1a(s, len) & mask;
	for (; t->tslots[k]; k = (k + 1) & mask) {
		const struct token *tk = &t->toks[t->tslots[k] - 1];
		if (tk->len == len && memcmp(t->tok_bytes + tk->off, s, len) == 0)
			break;
	}
	return k;
}

/* Appends a token whose bytes were just written at tok_bytes + tok_bytes_len. */
static void token_commit(struct bpe_trainer *t, uint32_t len, size_t slot)
{
	t->toks[t->n_tokens++] = (struct token){ (uint32_t)t->tok_bytes_len, len };
	t->tok_bytes_len += len;
	t->tslots[slot] = t->n_tokens;
}

static enum ajar_err token_add(struct bpe_trainer *t, const char *bytes, uint32_t len)
{
	enum ajar_err err = grow((void **)&t->tok_bytes, &t->tok_bytes_cap, t->tok_bytes_len + len, 1);
	if (err)
		return err;
	memcpy(t->tok_bytes + t->tok_bytes_len, bytes, len);
	token_commit(t, len, token_slot(t, bytes, len));
	return AJAR_OK;
}

/* Adds (delta > 0) or removes (delta < 0) every adjacent pair of word wi. */
static enum ajar_err word_pairs(struct train_state *s, uint32_t wi, int64_t delta)
{
	const struct sym_word *w = &s->sw[wi];
	for (uint32_t i = 0; i + 1 < w->n; i++) {
		enum ajar_err err = pair_add(s, w->syms[i], w->syms[i + 1], delta, wi);
		if (err)
			return err;
	}
	return AJAR_OK;
}

/* Replaces (l, r) by token z in word wi, leftmost first, fixing pair counts. */
static enum ajar_err word_merge(struct train_state *s, uint32_t wi, uint32_t l, uint32_t r, uint32_t z)
{
	struct sym_word *w = &s->sw[wi];
	bool has = false;
	for (uint32_t i = 0; i + 1 < w->n && !has; i++)
		has = w->syms[i] == l && w->syms[i + 1] == r;
	if (!has)
		return AJAR_OK; /* a stale entry of the pair's word list */
	int64_t c = (int64_t)s->t->words[wi].count;
	enum ajar_err err = word_pairs(s, wi, -c);
	if (err)
		return err;
	uint32_t k = 0;
	for (uint32_t i = 0; i < w->n; i++) {
		if (i + 1 < w->n && w->syms[i] == l && w->syms[i + 1] == r) {
			w->syms[k++] = z;
			i++;
		} else {
			w->syms[k++] = w->syms[i];
		}
	}
	w->n = k;
	return word_pairs(s, wi, c);
}

/* Learns merge number m: pair pi becomes a new token, or the token that
 * already has its bytes (another split of the same text learned earlier:
 * the merge is kept, so the tokenizer reaches it both ways, and the text
 * stays unique in the vocabulary). */
static enum ajar_err merge_one(struct train_state *s, uint32_t pi, uint32_t m)
{
	struct bpe_trainer *t = s->t;
	uint32_t l = s->pairs[pi].left, r = s->pairs[pi].right;
	uint32_t ln = t->toks[l].len, rn = t->toks[r].len;
	/* Grow first: the source bytes live in the same buffer. */
	enum ajar_err err = grow((void **)&t->tok_bytes, &t->tok_bytes_cap, t->tok_bytes_len + ln + rn, 1);
	if (!err)
		err = grow((void **)&t->merges, &t->merges_cap, (size_t)m + 1, sizeof(*t->merges));
	if (err)
		return err;
	if (t->tok_bytes_len + ln + rn > UINT32_MAX)
		return ajar_errf(AJAR_ERR_LIMIT, "bpe train: token bytes exceed 4 GiB");
	char *dst = t->tok_bytes + t->tok_bytes_len;
	memcpy(dst, t->tok_bytes + t->toks[l].off, ln);
	memcpy(dst + ln, t->tok_bytes + t->toks[r].off, rn);
	size_t slot = token_slot(t, dst, ln + rn);
	if (!t->tslots[slot])
		token_commit(t, ln + rn, slot);
	uint32_t z = t->tslots[slot] - 1;
	t->merges[m][0] = l;
	t->merges[m][1] = r;

	/* The word list is read by index: merging adds only pairs with z, so
	 * this pair's list does not grow, but s->pairs may move. */
	uint32_t *where = s->pairs[pi].where, n_where = s->pairs[pi].n_where;
	for (uint32_t i = 0; i < n_where; i++) {
		uint32_t wi = where[i];
		if (s->sw[wi].stamp == m + 1)
			continue;
		s->sw[wi].stamp = m + 1;
		if ((err = word_merge(s, wi, l, r, z)))
			return err;
	}
	for (size_t i = 0; i < s->n_pending; i++) {
		uint32_t p = s->pending[i];
		s->pairs[p].pending = false;
		if (s->pairs[p].count > 0 && (err = heap_push(s, p)))
			return err;
	}
	s->n_pending = 0;
	return AJAR_OK;
}

/* Symbols (one per byte) for every distinct word, and their pair counts. */
static enum ajar_err state_init(struct train_state *s, struct bpe_trainer *t)
{
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->sw = calloc(t->n_words ? t->n_words : 1, sizeof(*s->sw));
	if (!s->sw)
		return ajar_errf(AJAR_ERR_NOMEM, "bpe train: %zu words", t->n_words);
	enum ajar_err err = pair_rehash(s, 1024);
	if (err)
		return err;
	for (size_t i = 0; i < t->n_words; i++) {
		const struct word *wd = &t->words[i];
		s->sw[i].syms = malloc((wd->len ? wd->len : 1) * sizeof(uint32_t));
		if (!s->sw[i].syms)
			return ajar_errf(AJAR_ERR_NOMEM, "bpe train: word symbols");
		for (uint32_t k = 0; k < wd->len; k++)
			s->sw[i].syms[k] = (unsigned char)t->wtext[wd->off + k];
		s->sw[i].n = wd->len;
		if ((err = word_pairs(s, (uint32_t)i, (int64_t)wd->count)))
			return err;
	}
	/* Every pair is pending now; queue them all. */
	for (size_t i = 0; i < s->n_pending; i++) {
		s->pairs[s->pending[i]].pending = false;
		if ((err = heap_push(s, s->pending[i])))
			return err;
	}
	s->n_pending = 0;
	return AJAR_OK;
}

static void state_free(struct train_state *s)
{
	for (size_t i = 0; s->sw && i < s->t->n_words; i++)
		free(s->sw[i].syms);
	for (size_t i = 0; i < s->n_pairs; i++)
		free(s->pairs[i].where);
	free(s->sw);
	free(s->pairs);
	free(s->pslots);
	free(s->heap);
	free(s->pending);
}

enum ajar_err bpe_train_run(struct bpe_trainer *t, uint32_t vocab_size)
{
	if (t->trained)
		return ajar_errf(AJAR_ERR_INVALID, "bpe train: already trained");
	if (vocab_size < BPE_TRAIN_MIN_VOCAB || vocab_size > BPE_TRAIN_MAX_VOCAB)
		return ajar_errf(AJAR_ERR_INVALID, "bpe train: vocabulary size %u outside %u..%u", vocab_size,
				 BPE_TRAIN_MIN_VOCAB, BPE_TRAIN_MAX_VOCAB);
	struct train_state s;
	size_t slots = 1024;
	while (slots < 2 * (size_t)vocab_size)
		slots *= 2;
	t->toks = calloc(vocab_size, sizeof(*t->toks));
	t->tslots = calloc(slots, sizeof(*t->tslots));
	if (!t->toks || !t->tslots)
		return ajar_errf(AJAR_ERR_NOMEM, "bpe train: %u tokens", vocab_size);
	t->tslot_cap = slots;
	enum ajar_err err = AJAR_OK;
	for (int b = 0; b < 256 && !err; b++) {
		char c = (char)b;
		err = token_add(t, &c, 1);
	}
	if (err)
		return err;
	if ((err = state_init(&s, t)))
		goto out;
	/* The last id is kept for the control token. */
	while (t->n_tokens < vocab_size - 1) {
		uint32_t pi;
		if ((err = heap_best(&s, &pi)))
			goto out;
		if (pi == UINT32_MAX)
			break; /* every word is one token */
		if ((err = merge_one(&s, pi, t->n_merges)))
			goto out;
		t->n_merges++;
	}
	uint64_t toks = 0;
	for (size_t i = 0; i < t->n_words; i++)
		toks += (uint64_t)s.sw[i].n * t->words[i].count;
	if ((err = token_add(t, BPE_TRAIN_EOT, (uint32_t)strlen(BPE_TRAIN_EOT))))
		goto out;
	t->stats.corpus_tokens = toks;
	t->stats.n_tokens = t->n_tokens;
	t->stats.n_merges = t->n_merges;
	t->stats.n_unique = t->n_words;
	t->trained = true;
out:
	state_free(&s);
	return err;
}

void bpe_train_get_stats(const struct bpe_trainer *t, struct bpe_train_stats *out)
{
	*out = t->stats;
	out->n_unique = t->n_words;
}

/* ---- output ------------------------------------------------------------------ */

/* GPT-2's bytes_to_unicode: printable bytes stand for themselves, the other
 * 68 for U+0100 + n in byte order, so no token text holds a space or a
 * control character. Writes the UTF-8 of byte b's character; returns 1 or 2. */
static size_t byte_char(unsigned char b, char out[2])
{
	uint32_t n = 0;
	for (unsigned c = 0; c < b; c++)
		n += !((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE));
	bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
	return bpe_encode(printable ? b : 0x100 + n, out);
}

/* Mapped texts of the tokens, then of the merges ("left right"), in one
 * buffer; strs gets n_tokens + n_merges entries pointing into it. */
static enum ajar_err build_texts(const struct bpe_trainer *t, char **buf, struct gguf_str **strs)
{
	char map[256][2];
	size_t map_len[256];
	for (int b = 0; b < 256; b++)
		map_len[b] = byte_char((unsigned char)b, map[b]);
	size_t total = 0, n = (size_t)t->n_tokens + t->n_merges;
	uint32_t *mapped_len = calloc(t->n_tokens, sizeof(*mapped_len));
	*strs = calloc(n, sizeof(**strs));
	*buf = NULL;
	if (!mapped_len || !*strs) {
		free(mapped_len);
		return ajar_errf(AJAR_ERR_NOMEM, "bpe train: token texts");
	}
	uint32_t special = t->n_tokens - 1; /* the control token, written as is */
	for (uint32_t id = 0; id < t->n_tokens; id++) {
		const struct token *tk = &t->toks[id];
		for (uint32_t k = 0; id != special && k < tk->len; k++)
			mapped_len[id] += (uint32_t)map_len[(unsigned char)t->tok_bytes[tk->off + k]];
		if (id == special)
			mapped_len[id] = tk->len;
		total += mapped_len[id];
	}
	for (uint32_t m = 0; m < t->n_merges; m++)
		total += (size_t)mapped_len[t->merges[m][0]] + 1 + mapped_len[t->merges[m][1]];
	char *o = *buf = malloc(total ? total : 1);
	if (!o) {
		free(mapped_len);
		return ajar_errf(AJAR_ERR_NOMEM, "bpe train: %zu bytes of token texts", total);
	}
	for (uint32_t id = 0; id < t->n_tokens; id++) {
		const struct token *tk = &t->toks[id];
		(*strs)[id] = (struct gguf_str){ o, mapped_len[id] };
		if (id == special) {
			memcpy(o, t->tok_bytes + tk->off, tk->len);
			o += tk->len;
			continue;
		}
		for (uint32_t k = 0; k < tk->len; k++) {
			unsigned char b = (unsigned char)t->tok_bytes[tk->off + k];
			memcpy(o, map[b], map_len[b]);
			o += map_len[b];
		}
	}
	for (uint32_t m = 0; m < t->n_merges; m++) {
		struct gguf_str l = (*strs)[t->merges[m][0]], r = (*strs)[t->merges[m][1]];
		(*strs)[t->n_tokens + m] = (struct gguf_str){ o, l.len + 1 + r.len };
		memcpy(o, l.data, l.len);
		o[l.len] = ' ';
		memcpy(o + l.len + 1, r.data, r.len);
		o += l.len + 1 + r.len;
	}
	free(mapped_len);
	return AJAR_OK;
}

enum ajar_err bpe_train_to_gguf(const struct bpe_trainer *t, struct gguf_writer *w)
{
	if (!t->trained)
		return ajar_errf(AJAR_ERR_INVALID, "bpe train: not trained");
	char *buf = NULL;
	struct gguf_str *strs = NULL;
	int32_t *types = malloc(t->n_tokens * sizeof(*types));
	enum ajar_err err = types ? build_texts(t, &buf, &strs)
				  : ajar_errf(AJAR_ERR_NOMEM, "bpe train: token types");
	if (err)
		goto out;
	for (uint32_t id = 0; id < t->n_tokens; id++)
		types[id] = id + 1 == t->n_tokens ? AJAR_TOKEN_CONTROL : AJAR_TOKEN_NORMAL;
	uint32_t eot = t->n_tokens - 1;
	if ((err = gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2")) ||
	    (err = gguf_writer_set_str(w, "tokenizer.ggml.pre", BPE_TRAIN_PRE)) ||
	    (err = gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, t->n_tokens)) ||
	    (err = gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, t->n_tokens)) ||
	    (err = gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", strs + t->n_tokens, t->n_merges)) ||
	    (err = gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", eot)) ||
	    (err = gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", eot)) ||
	    (err = gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false)) ||
	    (err = gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false)))
		goto out;
out:
	free(types);
	free(strs);
	free(buf);
	return err;
}

enum ajar_err bpe_train_write(const struct bpe_trainer *t, const char *path)
{
	struct gguf_writer *w = NULL;
	enum ajar_err err = gguf_writer_new(&w);
	if (err)
		return err;
	if ((err = gguf_writer_set_str(w, "general.architecture", "llama")) ||
	    (err = gguf_writer_set_str(w, "general.name", "ajar trained BPE vocabulary")) ||
	    (err = bpe_train_to_gguf(t, w)) || (err = gguf_writer_write(w, path)))
		goto out;
out:
	gguf_writer_free(w);
	return err;
}
