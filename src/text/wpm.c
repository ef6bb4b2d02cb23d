/*
 * wpm.c - the WordPiece tokenizer (tokenizer.ggml.model = "bert"), step for
 * step as llama.cpp's llm_tokenizer_wpm_session (c392e50), so that every
 * input, malformed UTF-8 included, gives llama.cpp's ids.
 *
 * Vocabulary: llama.cpp's converter stores a word-initial piece "the" as
 * "▁the" (U+2581 first) and a continuation "##ing" as "ing"; bracketed
 * names ([CLS], [unused0]) stay as they are.
 *
 * For one text fragment:
 *   1. decode UTF-8 the lax way llama.cpp does (see wpm_decode()): a byte
 *      that does not start a sequence it accepts becomes U+FFFD, one per
 *      byte;
 *   2. map each code point to the *first* code point of its canonical (NFD)
 *      decomposition. This is not NFD: "é" becomes "e" and the accent is
 *      gone (so accents are stripped), a Hangul syllable becomes its leading
 *      jamo, and combining marks already in the text stay;
 *   3. split into words: White_Space ends a word; U+0000, U+FFFD and
 *      categories Cc/Cf/Co/Cs are dropped without ending one; punctuation
 *      (P*), ASCII symbols (S* below U+007F) and CJK ideographs are words of
 *      their own; anything else is lower-cased (simple case mapping) and
 *      appended to the current word. Categories and flags are those of the
 *      code point after step 2, before lower-casing;
 *   4. for each word w, greedy longest match over the bytes of "▁" + w:
 *      from the current offset take the longest token text (at most the
 *      longest token's length), move past it, repeat. If some offset starts
 *      no token, the whole word becomes [UNK] (partial matches are dropped).
 *
 * Unicode data (categories, decompositions, simple lower-case mapping) comes
 * from utf8proc. With utf8proc 2.6.0 steps 2-3 agree with llama.cpp's
 * generated tables (unicode-data.cpp) for every code point 0..0x10FFFF
 * (checked by comparing both over the whole range); a utf8proc built on a
 * newer Unicode could class newly assigned characters differently.
 *
 * Cost: O(n L^2) for n bytes of text and a longest token of L bytes (each
 * offset tries up to L lengths, each hashed); about 4 bytes of scratch per
 * byte of the longest word.
 */
#include "text/vocab_int.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "text/utf8_int.h"

/* U+2581, the word-start mark of the converted vocabulary. */
#define WPM_MARK "\xe2\x96\x81"
#define WPM_MARK_LEN 3

/* U+FFFD: what wpm_decode() gives, as llama.cpp's decoder does, for a byte
 * that starts no sequence it accepts. */
#define WPM_INVALID 0xFFFDu

enum ajar_err wpm_init(struct ajar_vocab *v)
{
	if (v->unk < 0)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: WordPiece vocabulary without an unknown token ([UNK])");
	/* llama.cpp (c392e50) adds [CLS] (its BOS id: bos_token_id, else 101;
	 * it reads no cls_token_id) and [SEP] whenever add_special is set,
	 * whatever tokenizer.ggml.add_*_token say, and never an EOS; the flags
	 * here say what vocab_tokenize() does. Where the vocabulary has no such
	 * token llama.cpp aborts; we leave it out. */
	v->add_bos = v->bos >= 0;
	v->add_sep = v->sep >= 0;
	v->add_eos = false;
	return AJAR_OK;
}

void wpm_work_free(struct wpm_work *w)
{
	free(w->word);
	memset(w, 0, sizeof(*w));
}

/*
 * llama.cpp's unicode_cpt_from_utf8() with its caller's error handling: the
 * lead byte's top bits give the length, continuation bytes must be 10xxxxxx
 * and present, but overlong forms, surrogates and values up to 0x1FFFFF are
 * accepted. On failure one byte is consumed and WPM_INVALID returned.
 */
static uint32_t wpm_decode(const unsigned char *s, size_t len, size_t *used)
{
	unsigned char b0 = s[0];
	size_t need;
	uint32_t cp;
	*used = 1;
	if (b0 < 0x80)
		return b0;
	if (!(b0 & 0x40))
		return WPM_INVALID; /* a stray continuation byte */
	if (!(b0 & 0x20)) {
		need = 1;
		cp = b0 & 0x1F;
	} else if (!(b0 & 0x10)) {
		need = 2;
		cp = b0 & 0x0F;
	} else if (!(b0 & 0x08)) {
		need = 3;
		cp = b0 & 0x07;
	} else {
		return WPM_INVALID; /* F8..FF */
	}
	if (need >= len)
		return WPM_INVALID;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return WPM_INVALID;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	*used = need + 1;
	return cp;
}

/* The first code point of cp's canonical decomposition (cp itself if none).
 * Nothing below U+00C0 has a canonical decomposition. */
static uint32_t nfd_first(uint32_t cp)
{
	if (cp < 0xC0 || cp > 0x10FFFF)
		return cp;
	utf8proc_int32_t buf[8];
	int boundclass = 0;
	utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)cp, buf, 8, UTF8PROC_DECOMPOSE, &boundclass);
	return n > 0 ? (uint32_t)buf[0] : cp;
}

/* Unicode's White_Space property, as llama.cpp lists it. */
static bool is_white_space(uint32_t cp)
{
	if (cp < 0x80)
		return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
	return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* The CJK ranges of BERT's _is_chinese_char, as llama.cpp has them (its
 * Extension C/D boundary follows Hugging Face's Rust code: 0x2B920, not
 * 0x2B820). */
static bool is_cjk(uint32_t cp)
{
	return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
	       (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
	       (cp >= 0x2B920 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* What step 3 does with a code point (after nfd_first()). */
enum wpm_class {
	WPM_SPACE,  /* ends the word */
	WPM_DROP,   /* ignored */
	WPM_SINGLE, /* a word by itself */
	WPM_APPEND, /* part of the current word */
};

static enum wpm_class classify(uint32_t cp)
{
	if (is_white_space(cp))
		return WPM_SPACE;
	if (cp == 0 || cp == WPM_INVALID || cp > 0x10FFFF)
		return WPM_DROP; /* above U+10FFFF llama.cpp throws; dropping is what its U+FFFD path does */
	switch (utf8proc_category((utf8proc_int32_t)cp)) {
	case UTF8PROC_CATEGORY_CC:
	case UTF8PROC_CATEGORY_CF:
	case UTF8PROC_CATEGORY_CO:
	case UTF8PROC_CATEGORY_CS:
		return WPM_DROP;
	case UTF8PROC_CATEGORY_PC:
	case UTF8PROC_CATEGORY_PD:
	case UTF8PROC_CATEGORY_PS:
	case UTF8PROC_CATEGORY_PE:
	case UTF8PROC_CATEGORY_PI:
	case UTF8PROC_CATEGORY_PF:
	case UTF8PROC_CATEGORY_PO:
		return WPM_SINGLE;
	case UTF8PROC_CATEGORY_SM:
	case UTF8PROC_CATEGORY_SC:
	case UTF8PROC_CATEGORY_SK:
	case UTF8PROC_CATEGORY_SO:
		return cp < 0x7F ? WPM_SINGLE : WPM_APPEND;
	default:
		return is_cjk(cp) ? WPM_SINGLE : WPM_APPEND;
	}
}

/* Appends the lower-cased cp to the word being built. */
static enum ajar_err word_put(struct wpm_work *w, uint32_t cp)
{
	if (w->len + UTF8_MAX_LEN > w->cap) {
		/* The word is at most 4 bytes per input byte, and the input is
		 * capped (VOCAB_MAX_TEXT), so this cannot grow without bound. */
		size_t cap = w->cap ? 2 * w->cap : 256;
		char *p = realloc(w->word, cap);
		if (!p)
			return ajar_errf(AJAR_ERR_NOMEM, "tokenize: a word of %zu bytes", cap);
		w->word = p;
		w->cap = cap;
	}
	uint32_t lower = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
	w->len += utf8_encode(lower, w->word + w->len);
	return AJAR_OK;
}

/* Starts a new, empty word: just the mark. */
static enum ajar_err word_reset(struct wpm_work *w)
{
	if (!w->word) {
		w->word = malloc(256); /* room for the mark and a character */
		if (!w->word)
			return ajar_errf(AJAR_ERR_NOMEM, "tokenize: word buffer");
		w->cap = 256;
	}
	memcpy(w->word, WPM_MARK, WPM_MARK_LEN);
	w->len = WPM_MARK_LEN;
	return AJAR_OK;
}

/* Greedy longest match over the word's bytes (mark included); an offset that
 * starts no token turns the whole word into UNK. An empty word emits nothing. */
static enum ajar_err word_flush(const struct ajar_vocab *v, struct wpm_work *w, struct id_vec *out)
{
	enum ajar_err err;
	size_t n = w->len;
	if (n == WPM_MARK_LEN)
		return AJAR_OK;
	size_t first = out->n;
	for (size_t i = 0; i < n;) {
		size_t l = n - i < v->max_token_len ? n - i : v->max_token_len;
		int32_t id = -1;
		for (; l > 0; l--)
			if ((id = vocab_lookup(v, w->word + i, l)) >= 0)
				break;
		if (id < 0) {
			out->n = first;
			break;
		}
		if ((err = id_vec_push(out, id)))
			return err;
		i += l;
	}
	if (out->n == first && (err = id_vec_push(out, v->unk)))
		return err;
	return word_reset(w);
}

enum ajar_err wpm_tokenize(const struct ajar_vocab *v, struct wpm_work *w, const char *text, size_t len,
			   struct id_vec *out)
{
	const unsigned char *s = (const unsigned char *)text;
	enum ajar_err err = word_reset(w);
	for (size_t i = 0; i < len && !err;) {
		size_t used;
		uint32_t cp = nfd_first(wpm_decode(s + i, len - i, &used));
		i += used;
		switch (classify(cp)) {
		case WPM_SPACE:
			err = word_flush(v, w, out);
			break;
		case WPM_DROP:
			break;
		case WPM_SINGLE:
			if (!(err = word_flush(v, w, out)) && !(err = word_put(w, cp)))
				err = word_flush(v, w, out);
			break;
		case WPM_APPEND:
			err = word_put(w, cp);
			break;
		}
	}
	if (!err)
		err = word_flush(v, w, out);
	return err;
}
