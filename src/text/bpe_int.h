/*
 * bpe_int.h - the inside of the byte-level BPE tokenizer
 * (tokenizer.ggml.model = "gpt2"), shared by bpe.c and pretok.c.
 *
 *   pretok.c  the pre-tokenizer: the text is decoded the way llama.cpp
 *             decodes it, then cut into words by one or more PCRE2 regexes
 *             chosen by tokenizer.ggml.pre
 *   bpe.c     loading (merges, byte map, pieces), the merge loop per word,
 *             and the pieces the detokenizer prints
 *
 * Everything here is built by vocab_load() and read-only afterwards; compiled
 * PCRE2 patterns may be matched by many threads at once, each with its own
 * match data (see struct bpe_scratch).
 */
#ifndef AJAR_TEXT_BPE_INT_H
#define AJAR_TEXT_BPE_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "text/vocab_int.h"

/* ---- llama.cpp's view of UTF-8 ------------------------------------------- */

/*
 * Decodes one code point the way llama.cpp's unicode_cpt_from_utf8 (c392e50)
 * does, which is what decides the words and so the ids: the lead byte's top
 * bits give the length, continuation bytes must be 10xxxxxx and present, and
 * nothing else is checked, so overlong forms and surrogates decode to their
 * values. Anything else (a stray continuation byte, F8..FF, a sequence cut
 * short) is one U+FFFD for its first byte only. Returns the code point and
 * sets *n to the bytes used (>= 1). The value may exceed U+10FFFF (F4 90..,
 * F5..F7): llama.cpp then throws while re-encoding; callers here treat it as
 * U+FFFD. len must be >= 1.
 */
static inline uint32_t bpe_decode_lenient(const unsigned char *s, size_t len, size_t *n)
{
	unsigned char b = s[0];
	size_t need;
	uint32_t cp = 0;
	if (b < 0x80) {
		*n = 1;
		return b;
	}
	if (!(b & 0x40)) {
		need = 0;
	} else if (!(b & 0x20)) {
		need = 1;
		cp = b & 0x1F;
	} else if (!(b & 0x10)) {
		need = 2;
		cp = b & 0x0F;
	} else if (!(b & 0x08)) {
		need = 3;
		cp = b & 0x07;
	} else {
		need = 0;
	}
	if (need == 0 || need >= len)
		goto invalid;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto invalid;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	*n = need + 1;
	return cp;
invalid:
	*n = 1;
	return 0xFFFD;
}

/* Writes cp (<= 0x10FFFF, surrogates allowed) as 1-4 bytes; returns the count. */
static inline size_t bpe_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* ---- pre-tokenizer (pretok.c) -------------------------------------------- */

/* Most regexes one pre-tokenizer runs in sequence (deepseek-llm has 6). */
#define PRETOK_MAX_STAGES 8

enum pretok_stage_kind {
	PRETOK_REGEX,      /* cut at every match of a PCRE2 pattern */
	PRETOK_TRAILING_WS /* "\s+$": the run of white space ending the word, done
			    * by hand because a backtracking engine takes
			    * quadratic time on a long run that is not at the end */
};

struct pretok_stage {
	enum pretok_stage_kind kind;
	pcre2_code *re; /* PRETOK_REGEX; owned, compiled (and JIT-compiled) at load */
};

/* What tokenizer.ggml.pre selects (llama.cpp's LLAMA_VOCAB_PRE_TYPE_* sets). */
struct pretok {
	const char *set;   /* the regex set's name, for messages (static) */
	struct pretok_stage stages[PRETOK_MAX_STAGES];
	size_t n_stages;
	/* Match limits lifted: every pattern here is linear (no nested
	 * repeats), so PCRE2's guard against runaway backtracking would only
	 * refuse long inputs, e.g. 16 MiB of spaces. Shared read-only. */
	pcre2_match_context *mctx;
	bool ignore_merges; /* a word that is a token is taken whole (Llama 3, Tekken) */
	bool add_bos;       /* llama.cpp's add_bos default for this type, when the key is absent */
	bool no_bos;        /* the type has no BOS unless the key names one (ChatGLM) */
};

/*
 * Chooses the pre-tokenizer for tokenizer.ggml.pre = name (len bytes; NULL or
 * empty for "default", as llama.cpp does when the key is absent) and compiles
 * its patterns. An unknown name is AJAR_ERR_UNSUPPORTED, as in llama.cpp.
 * On failure p holds nothing to free; on success pretok_free() releases it.
 */
enum ajar_err pretok_init(struct pretok *p, const char *name, size_t len) AJAR_MUST_CHECK;
void pretok_free(struct pretok *p);

/* A word: bytes [off, off + len) of the decoded text (at most 3 x 16 MiB,
 * so 32 bits are enough and halve the memory of many short words). */
struct pretok_word {
	uint32_t off, len;
};

/* Scratch memory of the pre-tokenizer, per tokenize call. */
struct pretok_work {
	char *text;     /* the fragment as llama.cpp re-encodes it (words point here) */
	const char *subj; /* what PCRE2 matches: text, or subj_buf if text has surrogates */
	char *subj_buf; /* text with each surrogate replaced by U+E000 (3 bytes too) */
	size_t text_cap, subj_cap;
	struct pretok_word *words, *next;
	size_t n_words, words_cap, n_next, next_cap;
	pcre2_match_data *md;
};

/* Decodes text[0..len) and cuts it into words: w->words[0..n_words). */
enum ajar_err pretok_split(const struct pretok *p, struct pretok_work *w, const char *text, size_t len)
	AJAR_MUST_CHECK;
void pretok_work_free(struct pretok_work *w);

/* ---- the tokenizer's tables (bpe.c) ---------------------------------------- */

/* One entry of tokenizer.ggml.merges, "left right"; its rank is its index. */
struct bpe_merge {
	uint32_t off;       /* into vocab_bpe.merge_text: left bytes, then right bytes */
	uint32_t left_len;
	uint32_t right_len;
};

struct vocab_bpe {
	struct pretok pre;

	/* Merges, and an open-addressing table (left, right) -> rank. The first
	 * of duplicate pairs keeps its rank, as llama.cpp's map::emplace does. */
	struct bpe_merge *merges; /* [n_merges] */
	char *merge_text;
	uint32_t n_merges;
	uint32_t *merge_slots;    /* [merge_cap]; rank + 1, 0 for empty */
	uint32_t *merge_hashes;   /* [merge_cap] */
	size_t merge_cap;

	/* GPT-2's bytes_to_unicode: byte b stands for the code point whose UTF-8
	 * is byte_text[b][0..byte_len[b]) in token texts. */
	char byte_text[256][2];
	uint8_t byte_len[256];

	/* What each NORMAL token prints (llama.cpp's llama_decode_text): its
	 * text mapped back to bytes. Other types print as detok.c says. */
	uint32_t *piece_off; /* [n_tokens] into piece_text */
	uint32_t *piece_len; /* [n_tokens]; 0 for non-NORMAL tokens */
	char *piece_text;
	uint32_t max_piece_len;
};

#endif
