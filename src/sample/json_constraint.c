/*
 * json_constraint.c - the JSON-object constraint: a byte-level pushdown
 * automaton (json_state_*) and the logits processor built on it. See
 * include/ajar/json_constraint.h for the contract.
 *
 * Layout: the automaton first (strings, numbers, then the structural
 * bytes), then the token tables built by json_constraint_new(), then
 * apply/accept.
 *
 * Liveness. The automaton refuses a byte exactly when no continuation of
 * the output could be a valid object any more; every state it can reach has
 * a way to DONE (a string can always close, a number that needs a digit gets
 * one, a full container can always close, at the depth cap a scalar still
 * fits, at the whitespace cap a non-space byte still fits). So "all of a
 * token's bytes step" is the whole test of whether a token may come next,
 * and the set apply() leaves open is never empty while the vocabulary can
 * spell every byte (byte-fallback or byte-level vocabularies can) and has
 * an end-of-generation token for the end.
 *
 * The token walk. json_constraint_new() sorts the tokens with non-empty
 * pieces by their bytes and records, for each, the length of the prefix it
 * shares with the one before (lcp). apply() keeps walk[k] = the state after
 * the first k bytes of the current token; the next token in order reuses
 * walk[0..lcp] and steps only its remaining bytes. If the previous token
 * failed at byte r and the next shares more than r bytes, it fails at the
 * same byte without stepping. This visits each node of the vocabulary's
 * byte trie at most once, and skips whole subtrees below a refused byte.
 *
 * Sharing. The token tables (pieces, sort order) depend on the vocabulary
 * alone and take tens of milliseconds to build for a 128k vocabulary, so
 * they live in a reference-counted struct json_tables that
 * json_constraint_clone() shares; each constraint has its own state, walk
 * scratch and mask cache.
 *
 * The mask cache. The walk's result depends on the state alone, and JSON
 * output revisits the same state again and again (the middle of a string at
 * the same nesting, the point after a value), so the last few masks are kept
 * as bit sets keyed by the state: on a hit apply() only copies the mask into
 * the logits, O(n_vocab / 64 + masked tokens).
 */
#include "ajar/json_constraint.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ajar/vocab.h"
#include "sample/json_constraint_int.h"

/* ---- the automaton ----------------------------------------------------- */

static const char *const json_literals[3] = { "true", "false", "null" };
static const uint8_t json_literal_len[3] = { 4, 5, 4 };

void json_state_init(struct json_state *s)
{
	memset(s, 0, sizeof(*s));
	s->mode = JSON_MODE_START;
}

bool json_state_complete(const struct json_state *s)
{
	return s->mode == JSON_MODE_DONE;
}

static bool is_ws(unsigned char b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

static int hex_value(unsigned char b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	if (b >= 'A' && b <= 'F')
		return b - 'A' + 10;
	return -1;
}

/* A value just ended (scalar or closed container): what follows depends on
 * whether it was inside a container. */
static void value_done(struct json_state *s)
{
	s->mode = s->depth == 0 ? JSON_MODE_DONE : JSON_MODE_AFTER;
	s->sub = 0;
}

static bool push(struct json_state *s, bool object)
{
	if (s->depth >= JSON_CONSTRAINT_MAX_DEPTH)
		return false;
	if (object)
		s->stack |= (uint64_t)1 << s->depth;
	s->depth++;
	s->mode = object ? JSON_MODE_OBJ_FIRST : JSON_MODE_ARR_FIRST;
	return true;
}

static bool top_is_object(const struct json_state *s)
{
	return (s->stack >> (s->depth - 1)) & 1;
}

static void pop(struct json_state *s)
{
	s->depth--;
	s->stack &= ~((uint64_t)1 << s->depth);
	value_done(s);
}

/* The first byte of a multi-byte UTF-8 character: how many follow and the
 * range of the next one (Unicode Table 3-7, which excludes overlong forms,
 * surrogates and code points past U+10FFFF). */
static bool utf8_lead(struct json_state *s, unsigned char b)
{
	s->lo = 0x80;
	s->hi = 0xBF;
	if (b >= 0xC2 && b <= 0xDF) {
		s->n = 1;
	} else if (b >= 0xE0 && b <= 0xEF) {
		s->n = 2;
		if (b == 0xE0)
			s->lo = 0xA0;
		else if (b == 0xED)
			s->hi = 0x9F;
	} else if (b >= 0xF0 && b <= 0xF4) {
		s->n = 3;
		if (b == 0xF0)
			s->lo = 0x90;
		else if (b == 0xF4)
			s->hi = 0x8F;
	} else {
		return false;
	}
	s->sub = JSON_STR_UTF8;
	return true;
}

static bool step_string(struct json_state *s, unsigned char b)
{
	switch (s->sub) {
	case JSON_STR_PLAIN:
		if (b == '"') {
			s->mode = s->key ? JSON_MODE_COLON : JSON_MODE_AFTER;
			s->key = 0;
			return true;
		}
		if (b == '\\') {
			s->sub = JSON_STR_ESC;
			return true;
		}
		if (b < 0x20)
			return false;
		if (b < 0x80)
			return true;
		return utf8_lead(s, b);
	case JSON_STR_ESC:
		if (b == 'u') {
			s->sub = JSON_STR_HEX;
			return true;
		}
		if (b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' || b == 'r' || b == 't') {
			s->sub = JSON_STR_PLAIN;
			return true;
		}
		return false;
	case JSON_STR_HEX: {
		int h = hex_value(b);
		if (h < 0)
			return false;
		s->code = (uint16_t)(s->code << 4 | h);
		s->n++;
		/* Refuse a surrogate in the wrong place as soon as its first two
		 * digits show it: DCxx..DFxx alone, or anything but them after a
		 * high surrogate. */
		if (s->low) {
			if (s->n == 1 && s->code != 0xD)
				return false;
			if (s->n == 2 && s->code < 0xDC)
				return false;
		} else if (s->n == 2 && s->code >= 0xDC && s->code <= 0xDF) {
			return false;
		}
		if (s->n == 4) {
			bool high = !s->low && s->code >= 0xD800 && s->code <= 0xDBFF;
			s->sub = high ? JSON_STR_LOW_BS : JSON_STR_PLAIN;
			s->n = 0;
			s->code = 0;
			s->low = 0;
		}
		return true;
	}
	case JSON_STR_UTF8:
		if (b < s->lo || b > s->hi)
			return false;
		if (--s->n == 0) {
			s->sub = JSON_STR_PLAIN;
			s->lo = s->hi = 0;
		} else {
			s->lo = 0x80;
			s->hi = 0xBF;
		}
		return true;
	case JSON_STR_LOW_BS:
		if (b != '\\')
			return false;
		s->sub = JSON_STR_LOW_U;
		return true;
	case JSON_STR_LOW_U:
		if (b != 'u')
			return false;
		s->sub = JSON_STR_HEX;
		s->low = 1;
		return true;
	}
	return false;
}

/* True if b continues the number; false if it can not (then the caller
 * ends the number if it may end here, and reads b structurally). */
static bool step_number(struct json_state *s, unsigned char b)
{
	bool digit = b >= '0' && b <= '9';
	bool exp = b == 'e' || b == 'E';
	switch (s->sub) {
	case JSON_NUM_MINUS:
		if (!digit)
			return false;
		s->sub = b == '0' ? JSON_NUM_ZERO : JSON_NUM_INT;
		return true;
	case JSON_NUM_ZERO:
	case JSON_NUM_INT:
		if (digit && s->sub == JSON_NUM_INT)
			return true;
		if (b == '.')
			s->sub = JSON_NUM_DOT;
		else if (exp)
			s->sub = JSON_NUM_EXP;
		else
			return false;
		return true;
	case JSON_NUM_DOT:
	case JSON_NUM_FRAC:
		if (digit)
			s->sub = JSON_NUM_FRAC;
		else if (exp && s->sub == JSON_NUM_FRAC)
			s->sub = JSON_NUM_EXP;
		else
			return false;
		return true;
	case JSON_NUM_EXP:
		if (b == '+' || b == '-')
			s->sub = JSON_NUM_EXP_SIGN;
		else if (digit)
			s->sub = JSON_NUM_EXP_DIGITS;
		else
			return false;
		return true;
	case JSON_NUM_EXP_SIGN:
	case JSON_NUM_EXP_DIGITS:
		if (!digit)
			return false;
		s->sub = JSON_NUM_EXP_DIGITS;
		return true;
	}
	return false;
}

static bool number_may_end(uint8_t sub)
{
	return sub == JSON_NUM_ZERO || sub == JSON_NUM_INT || sub == JSON_NUM_FRAC || sub == JSON_NUM_EXP_DIGITS;
}

/* The first byte of a value. */
static bool begin_value(struct json_state *s, unsigned char b)
{
	switch (b) {
	case '{':
		return push(s, true);
	case '[':
		return push(s, false);
	case '"':
		s->mode = JSON_MODE_STRING;
		s->sub = JSON_STR_PLAIN;
		return true;
	case '-':
		s->mode = JSON_MODE_NUMBER;
		s->sub = JSON_NUM_MINUS;
		return true;
	case 't':
	case 'f':
	case 'n':
		s->mode = JSON_MODE_LITERAL;
		s->lit = b == 't' ? 0 : b == 'f' ? 1 : 2;
		s->n = 1;
		return true;
	default:
		if (b >= '0' && b <= '9') {
			s->mode = JSON_MODE_NUMBER;
			s->sub = b == '0' ? JSON_NUM_ZERO : JSON_NUM_INT;
			return true;
		}
		return false;
	}
}

bool json_state_step(struct json_state *s, unsigned char b)
{
	switch (s->mode) {
	case JSON_MODE_STRING:
		return step_string(s, b);
	case JSON_MODE_LITERAL:
		if (b != (unsigned char)json_literals[s->lit][s->n])
			return false;
		if (++s->n == json_literal_len[s->lit]) {
			s->n = 0;
			s->lit = 0;
			value_done(s);
		}
		return true;
	case JSON_MODE_NUMBER:
		if (step_number(s, b))
			return true;
		if (!number_may_end(s->sub))
			return false;
		value_done(s); /* and b is read below, as the byte after a value */
		break;
	default:
		break;
	}

	if (is_ws(b)) {
		if (s->ws >= JSON_CONSTRAINT_MAX_WS)
			return false;
		s->ws++;
		return true;
	}
	s->ws = 0;
	switch (s->mode) {
	case JSON_MODE_START:
		return b == '{' && push(s, true);
	case JSON_MODE_OBJ_FIRST:
	case JSON_MODE_OBJ_KEY:
		if (b == '}' && s->mode == JSON_MODE_OBJ_FIRST) {
			pop(s);
			return true;
		}
		if (b != '"')
			return false;
		s->mode = JSON_MODE_STRING;
		s->sub = JSON_STR_PLAIN;
		s->key = 1;
		return true;
	case JSON_MODE_COLON:
		if (b != ':')
			return false;
		s->mode = JSON_MODE_VALUE;
		return true;
	case JSON_MODE_ARR_FIRST:
		if (b == ']') {
			pop(s);
			return true;
		}
		return begin_value(s, b);
	case JSON_MODE_VALUE:
		return begin_value(s, b);
	case JSON_MODE_AFTER: {
		bool object = top_is_object(s);
		if (b == ',') {
			s->mode = object ? JSON_MODE_OBJ_KEY : JSON_MODE_VALUE;
			return true;
		}
		if (b != (object ? '}' : ']'))
			return false;
		pop(s);
		return true;
	}
	default: /* DONE: only whitespace */
		return false;
	}
}

/* ---- token tables ------------------------------------------------------ */

enum json_token_kind {
	JSON_TOKEN_TEXT,  /* a non-empty piece, walked byte by byte */
	JSON_TOKEN_EOG,   /* end of generation: only when complete */
	JSON_TOKEN_EMPTY, /* renders as nothing: never */
};

/* What the vocabulary says, built once and shared, read-only, by a
 * constraint and all its clones (on any threads). */
struct json_tables {
	atomic_int refs;         /* constraints using these tables */
	int32_t n_tokens;        /* vocab_n_tokens() */
	uint8_t *kind;           /* (n_tokens) enum json_token_kind */
	uint32_t *off;           /* (n_tokens + 1) token t's piece is bytes[off[t] .. off[t+1]) */
	unsigned char *bytes;    /* (off[n_tokens]) every piece, concatenated */
	int32_t n_text;          /* tokens of kind TEXT */
	int32_t *order;          /* (n_text) TEXT tokens sorted by piece bytes */
	uint32_t *lcp;           /* (n_text) bytes order[i] shares with order[i-1]; lcp[0] = 0 */
	uint32_t max_len;        /* longest piece */
	size_t n_words;          /* uint64_t words per token mask: ceil(n_tokens / 64) */
};

/* Masks kept: a handful covers the states a document keeps returning to
 * (inside a string, after a value, after a comma) at the current depth. */
#define JSON_CACHE_SLOTS 8

/* One sequence's constraint: its own state and scratch, shared tables. */
struct json_constraint {
	struct json_tables *tab;       /* shared, read-only; one reference held */
	struct json_state state;       /* after every accepted token */
	bool broken;                   /* a masked token was accepted */
	struct json_state *walk;       /* (tab->max_len + 1) states along the current piece; apply()'s scratch */

	/* Masks of recent states (the least recently used is replaced). */
	uint64_t *masks;               /* (JSON_CACHE_SLOTS * tab->n_words) bit t set: token t allowed */
	struct json_state cache_key[JSON_CACHE_SLOTS];
	uint64_t cache_used[JSON_CACHE_SLOTS]; /* n_applied at last use; 0 = empty slot */
	uint64_t n_applied;
};

/* Pieces longer than 1 GiB in all would overflow off[]. */
#define JSON_MAX_PIECE_BYTES ((size_t)1 << 30)

struct piece_ref {
	const unsigned char *p;
	uint32_t len;
	int32_t id;
};

static int piece_cmp(const void *a, const void *b)
{
	const struct piece_ref *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);
	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Reads every piece into tab->bytes / off / kind. */
static enum ajar_err load_pieces(struct json_tables *tab, const struct ajar_vocab *v)
{
	size_t cap = 4096, used = 0;
	char small[256];
	tab->bytes = malloc(cap);
	if (!tab->bytes)
		return ajar_errf(AJAR_ERR_NOMEM, "json constraint: piece buffer");
	for (int32_t t = 0; t < tab->n_tokens; t++) {
		tab->off[t] = (uint32_t)used;
		if (vocab_is_eog(v, t)) {
			tab->kind[t] = JSON_TOKEN_EOG;
			continue;
		}
		int len = vocab_token_to_piece(v, t, false, small, sizeof(small));
		if (len <= 0) {
			tab->kind[t] = JSON_TOKEN_EMPTY;
			continue;
		}
		if ((size_t)len > JSON_MAX_PIECE_BYTES - used)
			return ajar_errf(AJAR_ERR_LIMIT, "json constraint: token pieces exceed 1 GiB");
		while (used + (size_t)len > cap) {
			unsigned char *grown = realloc(tab->bytes, cap * 2);
			if (!grown)
				return ajar_errf(AJAR_ERR_NOMEM, "json constraint: piece buffer");
			tab->bytes = grown;
			cap *= 2;
		}
		if ((size_t)len <= sizeof(small))
			memcpy(tab->bytes + used, small, (size_t)len);
		else if (vocab_token_to_piece(v, t, false, (char *)tab->bytes + used, (size_t)len) != len)
			return ajar_errf(AJAR_ERR_INVALID, "json constraint: token %d: piece length changed", t);
		tab->kind[t] = JSON_TOKEN_TEXT;
		used += (size_t)len;
		tab->n_text++;
		if ((uint32_t)len > tab->max_len)
			tab->max_len = (uint32_t)len;
	}
	tab->off[tab->n_tokens] = (uint32_t)used;
	return AJAR_OK;
}

/* Sorts the TEXT tokens by bytes and fills tab->order and tab->lcp. */
static enum ajar_err sort_pieces(struct json_tables *tab)
{
	struct piece_ref *refs = malloc((size_t)(tab->n_text ? tab->n_text : 1) * sizeof(*refs));
	if (!refs)
		return ajar_errf(AJAR_ERR_NOMEM, "json constraint: sort buffer");
	int32_t n = 0;
	for (int32_t t = 0; t < tab->n_tokens; t++) {
		if (tab->kind[t] != JSON_TOKEN_TEXT)
			continue;
		refs[n].p = tab->bytes + tab->off[t];
		refs[n].len = tab->off[t + 1] - tab->off[t];
		refs[n].id = t;
		n++;
	}
	qsort(refs, (size_t)n, sizeof(*refs), piece_cmp);
	for (int32_t i = 0; i < n; i++) {
		uint32_t l = 0;
		if (i > 0) {
			uint32_t m = refs[i].len < refs[i - 1].len ? refs[i].len : refs[i - 1].len;
			while (l < m && refs[i].p[l] == refs[i - 1].p[l])
				l++;
		}
		tab->order[i] = refs[i].id;
		tab->lcp[i] = l;
	}
	free(refs);
	return AJAR_OK;
}

/* Drops one reference; the last frees the tables. */
static void tables_release(struct json_tables *tab)
{
	if (!tab || atomic_fetch_sub(&tab->refs, 1) != 1)
		return;
	free(tab->kind);
	free(tab->off);
	free(tab->bytes);
	free(tab->order);
	free(tab->lcp);
	free(tab);
}

static enum ajar_err tables_build(const struct ajar_vocab *v, struct json_tables **out)
{
	enum ajar_err err = AJAR_OK;
	struct json_tables *tab = calloc(1, sizeof(*tab));
	if (!tab)
		return ajar_errf(AJAR_ERR_NOMEM, "json constraint");
	atomic_init(&tab->refs, 1);
	tab->n_tokens = vocab_n_tokens(v);
	if (tab->n_tokens < 0)
		tab->n_tokens = 0;
	size_t n = (size_t)tab->n_tokens;
	tab->n_words = (n + 63) / 64;
	tab->kind = malloc(n + 1);
	tab->off = malloc((n + 1) * sizeof(*tab->off));
	if (!tab->kind || !tab->off) {
		err = ajar_errf(AJAR_ERR_NOMEM, "json constraint: token tables");
		goto fail;
	}
	err = load_pieces(tab, v);
	if (err)
		goto fail;
	tab->order = malloc((size_t)(tab->n_text + 1) * sizeof(*tab->order));
	tab->lcp = malloc((size_t)(tab->n_text + 1) * sizeof(*tab->lcp));
	if (!tab->order || !tab->lcp) {
		err = ajar_errf(AJAR_ERR_NOMEM, "json constraint: walk tables");
		goto fail;
	}
	err = sort_pieces(tab);
	if (err)
		goto fail;
	*out = tab;
	return AJAR_OK;
fail:
	tables_release(tab);
	return err;
}

/* A constraint at the start over tab, whose reference it takes over. */
static enum ajar_err constraint_make(struct json_tables *tab, struct json_constraint **out)
{
	struct json_constraint *c = calloc(1, sizeof(*c));
	if (!c) {
		tables_release(tab);
		return ajar_errf(AJAR_ERR_NOMEM, "json constraint");
	}
	c->tab = tab;
	json_state_init(&c->state);
	c->walk = malloc(((size_t)tab->max_len + 1) * sizeof(*c->walk));
	c->masks = calloc(JSON_CACHE_SLOTS * (tab->n_words ? tab->n_words : 1), sizeof(*c->masks));
	if (!c->walk || !c->masks) {
		json_constraint_free(c);
		return ajar_errf(AJAR_ERR_NOMEM, "json constraint: scratch");
	}
	*out = c;
	return AJAR_OK;
}

enum ajar_err json_constraint_new(const struct ajar_vocab *v, struct json_constraint **out)
{
	struct json_tables *tab = NULL;
	*out = NULL;
	enum ajar_err err = tables_build(v, &tab);
	if (err)
		return err;
	return constraint_make(tab, out);
}

enum ajar_err json_constraint_clone(const struct json_constraint *proto, struct json_constraint **out)
{
	*out = NULL;
	atomic_fetch_add(&proto->tab->refs, 1);
	return constraint_make(proto->tab, out);
}

void json_constraint_free(struct json_constraint *c)
{
	if (!c)
		return;
	tables_release(c->tab);
	free(c->walk);
	free(c->masks);
	free(c);
}

void json_constraint_reset(struct json_constraint *c)
{
	json_state_init(&c->state);
	c->broken = false;
}

bool json_constraint_complete(const struct json_constraint *c)
{
	return !c->broken && json_state_complete(&c->state);
}

/* ---- the processor ----------------------------------------------------- */

static bool state_equal(const struct json_state *a, const struct json_state *b)
{
	return a->stack == b->stack && a->depth == b->depth && a->mode == b->mode && a->sub == b->sub &&
	       a->ws == b->ws && a->key == b->key && a->n == b->n && a->lo == b->lo && a->hi == b->hi &&
	       a->low == b->low && a->lit == b->lit && a->code == b->code;
}

/* Fills mask (tab->n_words, zeroed here) with the tokens allowed after st. */
static void compute_mask(struct json_constraint *c, const struct json_state *st, uint64_t *mask)
{
	const struct json_tables *tab = c->tab;
	memset(mask, 0, tab->n_words * sizeof(*mask));
	if (json_state_complete(st)) {
		for (int32_t t = 0; t < tab->n_tokens; t++)
			if (tab->kind[t] == JSON_TOKEN_EOG)
				mask[t >> 6] |= (uint64_t)1 << (t & 63);
	}

	/* walk[k] is the state after k bytes of the token in hand; reached is
	 * how many bytes of the previous token stepped, failed whether it
	 * stopped short (at byte `reached`). */
	struct json_state *walk = c->walk;
	uint32_t reached = 0;
	bool failed = false;
	walk[0] = *st;
	for (int32_t i = 0; i < tab->n_text; i++) {
		int32_t t = tab->order[i];
		uint32_t shared = tab->lcp[i];
		if (failed && shared > reached)
			continue; /* shares the refused byte and the state before it */
		const unsigned char *p = tab->bytes + tab->off[t];
		uint32_t len = tab->off[t + 1] - tab->off[t];
		uint32_t k = shared;
		while (k < len) {
			walk[k + 1] = walk[k];
			if (!json_state_step(&walk[k + 1], p[k]))
				break;
			k++;
		}
		reached = k;
		failed = k < len;
		if (!failed)
			mask[t >> 6] |= (uint64_t)1 << (t & 63);
	}
}

/* The mask for c->state: from the cache, or computed into the least
 * recently used slot. */
static const uint64_t *state_mask(struct json_constraint *c)
{
	size_t words = c->tab->n_words;
	int slot = 0;
	c->n_applied++;
	for (int i = 0; i < JSON_CACHE_SLOTS; i++) {
		if (c->cache_used[i] && state_equal(&c->cache_key[i], &c->state)) {
			c->cache_used[i] = c->n_applied;
			return c->masks + (size_t)i * words;
		}
		if (c->cache_used[i] < c->cache_used[slot])
			slot = i;
	}
	uint64_t *mask = c->masks + (size_t)slot * words;
	compute_mask(c, &c->state, mask);
	c->cache_key[slot] = c->state;
	c->cache_used[slot] = c->n_applied;
	return mask;
}

static void json_apply(void *state, float *logits, int32_t n_vocab, const int32_t *history, size_t n_history)
{
	struct json_constraint *c = state;
	const struct json_tables *tab = c->tab;
	int32_t n_known = n_vocab < tab->n_tokens ? n_vocab : tab->n_tokens;

	for (int32_t t = n_known; t < n_vocab; t++)
		logits[t] = -INFINITY;
	if (c->broken) {
		for (int32_t t = 0; t < n_known; t++)
			if (tab->kind[t] != JSON_TOKEN_EOG)
				logits[t] = -INFINITY;
		return;
	}
	const uint64_t *mask = state_mask(c);
	for (int32_t base = 0; base < n_known; base += 64) {
		uint64_t allowed = mask[base >> 6];
		if (allowed == ~(uint64_t)0)
			continue;
		int32_t end = n_known - base < 64 ? n_known - base : 64;
		for (int32_t j = 0; j < end; j++)
			if (!((allowed >> j) & 1))
				logits[base + j] = -INFINITY;
	}
}

static void json_accept(void *state, int32_t token)
{
	struct json_constraint *c = state;
	const struct json_tables *tab = c->tab;
	if (c->broken)
		return;
	if (token < 0 || token >= tab->n_tokens) {
		c->broken = true;
		return;
	}
	switch (tab->kind[token]) {
	case JSON_TOKEN_EOG:
		if (!json_state_complete(&c->state))
			c->broken = true;
		return;
	case JSON_TOKEN_EMPTY:
		c->broken = true;
		return;
	default:
		break;
	}
	struct json_state next = c->state;
	for (uint32_t i = tab->off[token]; i < tab->off[token + 1]; i++) {
		if (!json_state_step(&next, tab->bytes[i])) {
			c->broken = true;
			return;
		}
	}
	c->state = next;
}

struct logits_proc json_constraint_proc(struct json_constraint *c)
{
	struct logits_proc p = { .state = c, .apply = json_apply, .accept = json_accept };
	return p;
}
