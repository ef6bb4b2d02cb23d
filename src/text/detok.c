/*
 * detok.c - token ids back to text: vocab_token_to_piece() and the
 * streaming detokenizer.
 *
 * A piece is what llama.cpp's token_to_piece (c392e50) gives for a
 * SentencePiece vocabulary:
 *   NORMAL          its text with every U+2581 "▁" turned back into ' '
 *   BYTE            the one byte its <0xNN> text names
 *   USER_DEFINED    its text, as is
 *   CONTROL,
 *   UNKNOWN         "" -- or, with special, their text as is ("<s>", "<unk>";
 *                   SentencePiece's own " ⁇ " rendering of UNK is not used)
 *   UNUSED,
 *   UNDEFINED       ""
 * llama.cpp treats WordPiece ("bert") vocabularies the same way: a
 * word-initial piece "▁hello" gives " hello", a continuation "ing" is
 * appended as is, [CLS]/[SEP] are CONTROL. (llama_detokenize's
 * clean_up_tokenization_spaces pass, which joins " ," and " 's", is not
 * applied: it is not part of token_to_piece.)
 * Byte-level BPE ("gpt2") differs in two types: a NORMAL token prints its
 * text mapped back through GPT-2's byte map (bpe_piece(): "Ġworld" gives
 * " world", "Ã" the lone byte C3), and BYTE tokens print "".
 *
 * Pieces may cut a character in two (byte tokens do, one byte each). The
 * stream holds such bytes back until the character is complete and repairs
 * anything ill-formed (U+FFFD per maximal subpart, see utf8_int.h), so what
 * it hands out is always valid UTF-8 and concatenates to the full text.
 */
#include <string.h>

#include "text/utf8_int.h"
#include "text/vocab_int.h"

/* Bytes of output: the first cap are written, all are counted. */
struct sink {
	char *out;
	size_t cap;
	size_t n;
};

static void sink_put(struct sink *k, const void *p, size_t len)
{
	if (k->n < k->cap)
		memcpy(k->out + k->n, p, len < k->cap - k->n ? len : k->cap - k->n);
	k->n += len;
}

/* Sends token id's piece to emit(ctx, bytes, len) in one or more parts. */
typedef void (*piece_fn)(void *ctx, const char *p, size_t len);

static void piece_parts(const struct ajar_vocab *v, int32_t id, bool special, piece_fn emit, void *ctx)
{
	const struct vocab_token *t = &v->tokens[id];
	const char *s = vocab_text_of(v, id);
	switch ((enum ajar_token_type)t->type) {
	case AJAR_TOKEN_CONTROL:
	case AJAR_TOKEN_UNKNOWN:
		if (special)
			emit(ctx, s, t->text_len);
		return;
	case AJAR_TOKEN_USER_DEFINED:
		emit(ctx, s, t->text_len);
		return;
	case AJAR_TOKEN_BYTE: {
		char c = (char)t->byte;
		if (v->model != VOCAB_MODEL_BPE)
			emit(ctx, &c, 1);
		return;
	}
	case AJAR_TOKEN_NORMAL: {
		if (v->model == VOCAB_MODEL_BPE) {
			size_t n;
			const char *p = bpe_piece(v, id, &n);
			emit(ctx, p, n);
			return;
		}
		/* Every "▁" (E2 96 81) becomes ' '; the runs between go as they are. */
		size_t start = 0;
		for (size_t i = 0; i + 3 <= t->text_len;) {
			if (memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
				if (i > start)
					emit(ctx, s + start, i - start);
				emit(ctx, " ", 1);
				i += 3;
				start = i;
			} else {
				i++;
			}
		}
		if (t->text_len > start)
			emit(ctx, s + start, t->text_len - start);
		return;
	}
	case AJAR_TOKEN_UNDEFINED:
	case AJAR_TOKEN_UNUSED:
		return;
	}
}

static void piece_to_sink(void *ctx, const char *p, size_t len)
{
	sink_put(ctx, p, len);
}

int vocab_token_to_piece(const struct ajar_vocab *v, int32_t id, bool special, char *buf, size_t cap)
{
	if (id < 0 || id >= v->n_tokens)
		return -1;
	struct sink k = { buf, cap, 0 };
	if (!buf)
		k.cap = 0;
	piece_parts(v, id, special, piece_to_sink, &k);
	return (int)k.n;
}

/* ---- streaming ----------------------------------------------------------- */

struct stream_ctx {
	struct detok_stream *s;
	struct sink *k;
	bool skip_space; /* drop the next byte if it is ' ' (then clear) */
};

/* Adds one byte to the held character and releases what is decided. */
static void stream_byte(struct detok_stream *s, struct sink *k, unsigned char b)
{
	if (s->n_pend == 0 && b < 0x80) {
		sink_put(k, &b, 1);
		return;
	}
	s->pend[s->n_pend++] = b;
	while (s->n_pend > 0) {
		int r = utf8_decode(s->pend, s->n_pend, NULL);
		if (r == 0)
			return; /* a valid prefix: wait for more */
		size_t used;
		if (r > 0) {
			sink_put(k, s->pend, (size_t)r);
			used = (size_t)r;
		} else {
			sink_put(k, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
			used = (size_t)-r;
		}
		memmove(s->pend, s->pend + used, s->n_pend - used);
		s->n_pend -= used;
	}
}

static void piece_to_stream(void *ctx, const char *p, size_t len)
{
	struct stream_ctx *c = ctx;
	for (size_t i = 0; i < len; i++) {
		if (c->skip_space) {
			c->skip_space = false;
			if (p[i] == ' ')
				continue;
		}
		stream_byte(c->s, c->k, (unsigned char)p[i]);
	}
}

/* Counts a piece's bytes. */
static void piece_count(void *ctx, const char *p, size_t len)
{
	(void)p;
	*(size_t *)ctx += len;
}

void detok_stream_init(struct detok_stream *s, const struct ajar_vocab *v, bool special, bool strip_leading_space)
{
	memset(s, 0, sizeof(*s));
	s->vocab = v;
	s->special = special;
	s->at_start = true;
	s->strip_leading_space = strip_leading_space;
}

size_t detok_stream_max_out(const struct ajar_vocab *v)
{
	size_t longest = v->max_token_len;
	if (v->model == VOCAB_MODEL_BPE && bpe_max_piece_len(v) > longest)
		longest = bpe_max_piece_len(v);
	return UTF8_REPLACEMENT_LEN * (longest + UTF8_MAX_LEN);
}

int detok_stream_push(struct detok_stream *s, int32_t id, char *out, size_t cap)
{
	const struct ajar_vocab *v = s->vocab;
	if (id < 0 || id >= v->n_tokens)
		return -1;
	struct detok_stream saved = *s;
	struct sink k = { out, out ? cap : 0, 0 };
	size_t piece_len = 0;
	piece_parts(v, id, s->special, piece_count, &piece_len);
	struct stream_ctx c = { s, &k, false };
	if (s->at_start && piece_len > 0) {
		c.skip_space = s->strip_leading_space;
		s->at_start = false;
	}
	piece_parts(v, id, s->special, piece_to_stream, &c);
	if (k.n > k.cap) {
		*s = saved; /* nothing consumed: the caller may retry with room */
		return -1;
	}
	return (int)k.n; /* <= detok_stream_max_out(v), a few MiB at most */
}

int detok_stream_finish(struct detok_stream *s, char *out, size_t cap)
{
	if (s->n_pend == 0)
		return 0;
	if (!out || cap < UTF8_REPLACEMENT_LEN)
		return -1;
	/* Held bytes are always one incomplete, so far valid, sequence. */
	memcpy(out, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
	s->n_pend = 0;
	return UTF8_REPLACEMENT_LEN;
}
