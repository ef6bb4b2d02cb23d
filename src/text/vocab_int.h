/*
 * vocab_int.h - the inside of struct ajar_vocab, shared by the files of
 * src/text/.
 *
 *   vocab.c     loading tokenizer.ggml.* (generic part), the token map,
 *               special ids and flags, accessors
 *   spm.c       SentencePiece BPE ("llama"): set-up and the merge loop
 *   wpm.c       WordPiece ("bert"): normalization, word split, longest match
 *   bpe.c       byte-level BPE ("gpt2"): merges, byte map, the merge loop
 *   pretok.c    its regex pre-tokenizers (bpe_int.h holds what both share)
 *   tokenize.c  vocab_tokenize(): special-token partition, then dispatch
 *               to the model's algorithm per text fragment
 *   detok.c     vocab_token_to_piece() and the streaming detokenizer
 *   utf8.c      UTF-8 helpers (utf8_int.h)
 *
 * A struct ajar_vocab is written only by vocab_load() and is immutable
 * afterwards, so any number of threads may tokenize with it at once; every
 * tokenize call keeps its scratch memory to itself.
 *
 * Adding a tokenizer (byte-level BPE, WordPiece): add its enum vocab_model
 * value, its struct in the `u` union with a *_init() called by vocab_load()
 * after the generic load, and a case in tokenize.c's fragment loop.
 */
#ifndef AJAR_TEXT_VOCAB_INT_H
#define AJAR_TEXT_VOCAB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"
#include "ajar/vocab.h"

struct gguf_file;

/* Which algorithm tokenizes, from tokenizer.ggml.model. */
enum vocab_model {
	VOCAB_MODEL_SPM, /* "llama": SentencePiece BPE over scores */
	VOCAB_MODEL_BPE, /* "gpt2": byte-level BPE with ranked merges */
	VOCAB_MODEL_WPM, /* "bert": WordPiece */
};

/* Most tokens a vocabulary may have. The largest real ones are ~262k
 * (Gemma 3); 4M leaves room and keeps every id in an int32 and every
 * table allocation modest even for a hostile file. */
#define VOCAB_MAX_TOKENS (1 << 22)

/* Longest token text. Real ones are under a few hundred bytes; the cap keeps
 * every piece length an int and bounds the detokenizer's output per token. */
#define VOCAB_MAX_TOKEN_LEN 65536

/* Longest text vocab_tokenize() accepts. A prompt is kilobytes and 16 MiB
 * (millions of tokens) is already a mistake; the cap bounds the SPM scratch
 * memory, at most ~70 bytes per input byte (escaped text, symbols, queue). */
#define VOCAB_MAX_TEXT ((size_t)16 << 20)

/* Per-token flags beside the type (llama.cpp's token attributes). */
enum {
	VOCAB_FLAG_EOG = 1 << 0,    /* ends generation */
	VOCAB_FLAG_LSTRIP = 1 << 1, /* as a special token, eats whitespace on its left */
	VOCAB_FLAG_RSTRIP = 1 << 2, /* ... and on its right */
};

struct vocab_token {
	uint32_t text_off; /* into ajar_vocab.text; the text is NUL-terminated there */
	uint32_t text_len; /* bytes, without the NUL */
	float score;       /* SPM merge priority (higher merges first); 0 if absent */
	uint8_t type;      /* enum ajar_token_type, after llama.cpp's fix-ups */
	uint8_t flags;     /* VOCAB_FLAG_* */
	int16_t byte;      /* AJAR_TOKEN_BYTE tokens: the byte <0xNN> stands for; else -1 */
};

/* Open-addressing hash table text -> id; slots hold ids, keys live in the
 * vocab's text blob. Capacity is a power of two at least twice the count. */
struct vocab_map {
	int32_t *slots;  /* [cap]; -1 empty */
	uint32_t *hashes; /* [cap]; hash of the slot's key, to skip most memcmps */
	size_t cap;
};

struct vocab_spm {
	/* Byte fallback: the token for each byte value, found by the text
	 * "<0xNN>" (upper-case hex), else by the one-byte text itself, else -1. */
	int32_t byte_ids[256];
};

struct ajar_vocab {
	enum vocab_model model;
	int32_t n_tokens;
	struct vocab_token *tokens; /* [n_tokens] */
	char *text;                 /* all token texts, each NUL-terminated */
	size_t text_size;
	struct vocab_map map;
	uint32_t max_token_len;     /* longest token text, bytes */

	/* Special ids, -1 for none. */
	int32_t bos, eos, unk, sep, pad, mask, eot, eom;
	bool add_bos, add_eos, add_sep;
	bool add_space_prefix; /* SPM: prepend " " to text that starts the input or follows a special token */

	/* Tokens that the partition step looks for in raw text: types CONTROL,
	 * USER_DEFINED and UNKNOWN with non-empty text, longest text first
	 * (ties by id). */
	int32_t *special_ids;
	size_t n_special;

	union {
		struct vocab_spm spm;
		struct vocab_bpe *bpe; /* owned (bpe_free); bpe_int.h */
	} u;
};

/* A growing list of token ids (tokenize output). */
struct id_vec {
	int32_t *ids;
	size_t n, cap;
};

enum ajar_err id_vec_push(struct id_vec *vec, int32_t id) AJAR_MUST_CHECK;

/* The id of the token whose text is exactly s[0..len), or -1. */
int32_t vocab_lookup(const struct ajar_vocab *v, const char *s, size_t len);

static inline const char *vocab_text_of(const struct ajar_vocab *v, int32_t id)
{
	return v->text + v->tokens[id].text_off;
}

/* SPM set-up after the generic load: byte fallback table, byte-token check. */
enum ajar_err spm_init(struct ajar_vocab *v) AJAR_MUST_CHECK;

/* Scratch memory of one SPM tokenize call, reused across its fragments. */
struct spm_work {
	char *text; /* escaped fragment */
	size_t text_cap;
	struct spm_symbol *syms;
	size_t syms_cap;
	struct spm_bigram *heap;
	size_t heap_n, heap_cap;
};

void spm_work_free(struct spm_work *w);

/* Tokenizes one raw-text fragment (not yet escaped) and appends its ids.
 * space_prefix: prepend " " first (llama.cpp's add-space-prefix rule). */
enum ajar_err spm_tokenize(const struct ajar_vocab *v, struct spm_work *w, const char *text, size_t len,
			   bool space_prefix, struct id_vec *out) AJAR_MUST_CHECK;

/* WordPiece (wpm.c) set-up after the generic load: needs an UNK token; sets
 * add_bos/add_sep/add_eos to what tokenizing with add_special does. WordPiece
 * keeps no state of its own, so it has no member in the `u` union. */
enum ajar_err wpm_init(struct ajar_vocab *v) AJAR_MUST_CHECK;

/* Scratch memory of one WordPiece tokenize call, reused across fragments. */
struct wpm_work {
	char *word; /* "▁" + the word being built (lower-cased, not NUL-terminated) */
	size_t len, cap;
};

void wpm_work_free(struct wpm_work *w);

/* Tokenizes one raw-text fragment and appends its ids (no CLS/SEP). */
enum ajar_err wpm_tokenize(const struct ajar_vocab *v, struct wpm_work *w, const char *text, size_t len,
			   struct id_vec *out) AJAR_MUST_CHECK;

/* Byte-level BPE (bpe.c) set-up after the generic load: pre-tokenizer,
 * merges, byte map, pieces; reads what it needs from f. bpe_free() releases
 * it (vocab_free calls it for BPE vocabularies, also after a failed init). */
enum ajar_err bpe_init(struct ajar_vocab *v, const struct gguf_file *f) AJAR_MUST_CHECK;
void bpe_free(struct ajar_vocab *v);

/* What NORMAL token id prints: its text mapped back to bytes. Borrowed. */
const char *bpe_piece(const struct ajar_vocab *v, int32_t id, size_t *len);
/* The longest such piece, bytes. */
size_t bpe_max_piece_len(const struct ajar_vocab *v);

/* Scratch memory of one BPE tokenize call, reused across fragments. */
struct bpe_work {
	struct bpe_scratch *s; /* NULL until first used */
};

void bpe_work_free(struct bpe_work *w);

/* Tokenizes one raw-text fragment and appends its ids (no BOS/EOS). */
enum ajar_err bpe_tokenize(const struct ajar_vocab *v, struct bpe_work *w, const char *text, size_t len,
			   struct id_vec *out) AJAR_MUST_CHECK;

#endif
