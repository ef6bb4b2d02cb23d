/*
 * vocab.h - tokenizers driven by GGUF metadata, and UTF-8-safe detokenization.
 *
 * vocab_load() reads tokenizer.ggml.* from an open GGUF file: the token list,
 * scores, token types, merges, special-token ids and flags. Tokenization then
 * follows the model family's algorithm, chosen by tokenizer.ggml.model:
 *   "llama"  SentencePiece BPE over scores, byte fallback (<0xNN> pieces),
 *            U+2581 for spaces, add-space prefix (issue 2)
 *   "gpt2"   byte-level BPE with ranked merges and pre-tokenizer regexes
 *            chosen by tokenizer.ggml.pre (issue 3)
 *   "bert"   WordPiece (issue 3)
 * Tokenizing is pure: a struct ajar_vocab is immutable after load and may be
 * shared by any number of threads.
 */
#ifndef AJAR_VOCAB_H
#define AJAR_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

struct gguf_file;
struct ajar_vocab;

/* Token types as GGUF stores them in tokenizer.ggml.token_type. */
enum ajar_token_type {
	AJAR_TOKEN_UNDEFINED = 0,
	AJAR_TOKEN_NORMAL = 1,
	AJAR_TOKEN_UNKNOWN = 2,
	AJAR_TOKEN_CONTROL = 3,
	AJAR_TOKEN_USER_DEFINED = 4,
	AJAR_TOKEN_UNUSED = 5,
	AJAR_TOKEN_BYTE = 6,
};

/* Loads the vocabulary. *out is owned by the caller (vocab_free). The vocab
 * copies what it needs, so the gguf file may be closed afterwards. */
enum ajar_err vocab_load(const struct gguf_file *f, struct ajar_vocab **out) AJAR_MUST_CHECK;
void vocab_free(struct ajar_vocab *v);

int32_t vocab_n_tokens(const struct ajar_vocab *v);
int32_t vocab_bos(const struct ajar_vocab *v); /* -1 if none */
int32_t vocab_eos(const struct ajar_vocab *v); /* -1 if none */
bool vocab_add_bos(const struct ajar_vocab *v); /* BOS added when add_special */
bool vocab_add_eos(const struct ajar_vocab *v);
/* The separator ([SEP] in BERT), -1 if none; vocab_add_sep() says whether
 * add_special appends it. BERT (WordPiece) vocabularies, as in llama.cpp:
 * BOS is [CLS], there is no EOS, and add_special gives [CLS] ... [SEP]. */
int32_t vocab_sep(const struct ajar_vocab *v);
bool vocab_add_sep(const struct ajar_vocab *v);
/* True for end-of-generation tokens (EOS, EOT, and any the metadata marks;
 * like llama.cpp, also the fill-in-the-middle pad, repo and file-separator
 * markers, e.g. Qwen's <|fim_pad|>, <|repo_name|>, <|file_sep|>). */
bool vocab_is_eog(const struct ajar_vocab *v, int32_t id);
/* AJAR_TOKEN_UNDEFINED for an id out of range. End markers that llama.cpp
 * recognises by text (<|eot_id|>, <|im_end|>, <|end|>, ...) read as CONTROL. */
enum ajar_token_type vocab_token_type(const struct ajar_vocab *v, int32_t id);
/* The stored token text (SentencePiece pieces still carry U+2581), or NULL
 * for an id out of range. Borrowed, valid until vocab_free(). */
const char *vocab_token_text(const struct ajar_vocab *v, int32_t id);

/*
 * Tokenizes len bytes of text. add_special adds the model's automatic tokens
 * (BOS; CLS/SEP for BERT) where its flags say so; parse_special lets text such
 * as "<s>" become its control token, otherwise it is plain text (user-defined
 * tokens are matched either way, as in llama.cpp). The ids are llama.cpp's for
 * every input. Invalid UTF-8 is never rejected: as in llama.cpp, a byte >= 0xC0
 * starts a character of the length its top bits claim, unchecked, and a
 * character that is not a token becomes one byte-fallback token (<0xNN>) per
 * byte (UNK where the vocabulary lacks one). SentencePiece vocabularies with
 * add_space_prefix put " " before text at the start or after a special token,
 * so "Hello" gives the pieces " Hello": see detok_stream_init().
 * WordPiece ("bert") lower-cases, strips accents (each character becomes the
 * first code point of its canonical decomposition), splits on whitespace,
 * punctuation and CJK ideographs, and turns a word it cannot cover into one
 * [UNK]. It decodes UTF-8 as llama.cpp does (the lead byte's length with
 * continuation bytes checked; overlong forms and surrogates pass) and drops
 * every byte that does not start such a sequence, and NUL, U+FFFD and
 * control/format characters, without ending the word: "ab\xff\xfe cd"
 * gives the ids of "ab cd". Detokenized, its pieces give lower-cased text
 * with a space before each word and each punctuation mark.
 * Byte-level BPE ("gpt2") first cuts the text into words with the regexes
 * that tokenizer.ggml.pre names (llama.cpp's list for each; an absent key
 * means "default", an unknown one fails vocab_load), then merges within
 * each word by rank. It decodes UTF-8 as llama.cpp does before splitting:
 * a lead byte's length with continuation bytes checked, overlong forms and
 * surrogates passing as their code points; each byte that does not start
 * such a sequence becomes U+FFFD, so "ab\xff" gives the ids of
 * "ab\xef\xbf\xbd" and "\xc0\x80" those of "\0". (A sequence decoding above
 * U+10FFFF, which makes llama.cpp throw, is one U+FFFD here.) With
 * add_special, BOS and EOS are added per tokenizer.ggml.add_bos_token and
 * add_eos_token; when the BOS key is absent, the pre-tokenizer decides as in
 * llama.cpp: Llama 3 ("llama-bpe"), Tekken and Chameleon add it, others not.
 * Text longer than 16 MiB is refused (AJAR_ERR_LIMIT).
 * On success *ids (n_ids entries, never NULL) is owned by the caller (free()).
 */
enum ajar_err vocab_tokenize(const struct ajar_vocab *v, const char *text, size_t len, bool add_special,
			     bool parse_special, int32_t **ids, size_t *n_ids) AJAR_MUST_CHECK;

/*
 * The bytes token id stands for: spaces restored from U+2581, <0xNN> byte tokens
 * as their single byte (byte-level BPE: normal tokens mapped back through
 * GPT-2's byte table, so "\xc4\xa0world" gives " world" and a token may
 * stand for part of a character; BYTE-typed tokens give ""),
 * user-defined tokens as their text; control and
 * unknown tokens give "" unless special is true (then their text, e.g.
 * "<unk>"); unused and undefined tokens give "". Writes the first cap bytes
 * (at most) to buf and returns the full length (call again with a bigger
 * buffer if it is larger than cap), or -1 for an id out of range. The result
 * may be an incomplete UTF-8 sequence.
 */
int vocab_token_to_piece(const struct ajar_vocab *v, int32_t id, bool special, char *buf, size_t cap);

/*
 * Streaming detokenizer: feed tokens one at a time and get back only complete
 * UTF-8 text. Bytes of a character split across tokens are held until the
 * character is complete; ill-formed input comes out as U+FFFD (one per
 * maximal ill-formed subpart, the Unicode-recommended practice) rather than
 * as broken bytes, so the output is always valid UTF-8.
 * With strip_leading_space, one ' ' at the start of the first non-empty piece
 * is dropped: this undoes the SentencePiece add-space prefix, so
 * detokenizing tokenize(x) gives x back (BOS and other pieces that render as
 * "" do not count as the first piece).
 */
struct detok_stream {
	const struct ajar_vocab *vocab;
	bool special;          /* render control tokens as text */
	bool at_start;         /* no non-empty piece seen yet */
	bool strip_leading_space;
	unsigned char pend[8]; /* bytes of an unfinished UTF-8 character (at most 3) */
	size_t n_pend;
};

void detok_stream_init(struct detok_stream *s, const struct ajar_vocab *v, bool special, bool strip_leading_space);
/*
 * Appends the complete text that token id releases to out and returns the
 * number of bytes written (0 while a character is incomplete). Returns -1 if
 * id is out of range, or if the text would not fit in cap bytes: then nothing
 * is consumed (the stream is as before the call) and the caller may retry
 * with more room. A cap of detok_stream_max_out(v) is always enough.
 */
int detok_stream_push(struct detok_stream *s, int32_t id, char *out, size_t cap);
/* Flushes held bytes at end of stream, as one U+FFFD (an incomplete
 * character): returns 0 or 3 bytes written, or -1 if cap < 3 (nothing
 * flushed). The stream may then go on. */
int detok_stream_finish(struct detok_stream *s, char *out, size_t cap);
/* Output room that one push or finish never exceeds for vocab v. */
size_t detok_stream_max_out(const struct ajar_vocab *v);

#endif
