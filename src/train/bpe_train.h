/*
 * bpe_train.h - training a byte-level BPE vocabulary (GPT-2 style) from a
 * corpus, so a model trained from scratch needs no tokenizer from outside.
 *
 * Use: bpe_train_new(), bpe_train_feed() once per document (file), then
 * bpe_train_run() with the vocabulary size, then bpe_train_to_gguf() into a
 * model's writer or bpe_train_write() for a vocabulary-only GGUF.
 *
 * What is trained, and why it tokenizes as trained:
 *   - Words come from ajar's own pre-tokenizer (text/pretok.c) with
 *     tokenizer.ggml.pre = "gpt-2" (GPT-2's regex), the very code that
 *     vocab_tokenize() runs on the loaded vocabulary, so training sees the
 *     same words, invalid UTF-8 decoded the same way (as U+FFFD).
 *   - Token ids: 0..255 are the 256 single bytes in byte order (every input
 *     is covered, no UNK), 256.. the tokens merges make, in the order
 *     learned, and last the one control token "<|endoftext|>", which is BOS
 *     and EOS (GPT-2's convention). Should a merge ever give the bytes of
 *     an earlier token (ab+c after a+bc; a guard, not seen in practice,
 *     since the earlier merge consumed every such adjacency), it adds only
 *     the merge, so token texts stay unique.
 *     Token texts are written through GPT-2's bytes_to_unicode map.
 *   - Merging: the pair of adjacent symbols with the highest count over all
 *     words (weighted by word frequency) is merged next; ties go to the
 *     pair whose left token's bytes are smallest (memcmp, a prefix first),
 *     then whose right token's bytes are. Training stops at vocab_size
 *     tokens, or earlier when no pair is left (every word is one token) --
 *     then the vocabulary is smaller than asked. Tokens never grow past
 *     BPE_TRAIN_MAX_TOKEN_LEN bytes.
 *   - Deterministic: the same documents in the same order give the same
 *     vocabulary, byte for byte.
 *
 * Cost: pair counts are kept incrementally (pair -> count, pair -> words
 * that contain it, and a max-heap with lazy re-insertion), so one merge
 * costs the length of the words it touches, not a pass over the corpus.
 *
 * A trainer is not thread-safe; use one per thread.
 */
#ifndef AJAR_TRAIN_BPE_TRAIN_H
#define AJAR_TRAIN_BPE_TRAIN_H

#include <stdint.h>
#include <stddef.h>

#include "ajar/err.h"

struct gguf_writer;
struct bpe_trainer;

/* The pre-tokenizer trained with, written as tokenizer.ggml.pre. */
#define BPE_TRAIN_PRE "gpt-2"
/* The control token (BOS and EOS), the last id. */
#define BPE_TRAIN_EOT "<|endoftext|>"
/* Smallest vocabulary: the 256 bytes and the control token. */
#define BPE_TRAIN_MIN_VOCAB 257u
/* Largest vocabulary accepted (the loader's cap is 4M; beyond a million is
 * no small-model vocabulary). */
#define BPE_TRAIN_MAX_VOCAB (1u << 20)
/* Longest token, in bytes: a long run (a line of '=' or a base64 blob)
 * repeated in the corpus would otherwise spend merges on tokens that never
 * help ordinary text. */
#define BPE_TRAIN_MAX_TOKEN_LEN 64u
/* Most corpus bytes one trainer takes in (all feeds together). */
#define BPE_TRAIN_MAX_CORPUS ((uint64_t)1 << 32)

struct bpe_train_stats {
	uint64_t corpus_bytes;  /* bytes fed */
	uint64_t n_words;       /* pre-tokenizer words, counted with repeats */
	uint64_t n_unique;      /* distinct words */
	uint64_t corpus_tokens; /* tokens the corpus encodes to after training (0 before) */
	uint32_t n_tokens;      /* vocabulary size after training, specials included */
	uint32_t n_merges;
};

/* *out is owned by the caller (bpe_train_free). */
enum ajar_err bpe_train_new(struct bpe_trainer **out) AJAR_MUST_CHECK;
void bpe_train_free(struct bpe_trainer *t);

/* Counts the words of one document (any bytes; len may be 0). Texts over
 * 8 MiB are cut at a newline (else at 8 MiB) into pieces pre-tokenized on
 * their own, since the pre-tokenizer takes at most 16 MiB at once. Not
 * allowed after bpe_train_run() (AJAR_ERR_INVALID). */
enum ajar_err bpe_train_feed(struct bpe_trainer *t, const char *text, size_t len) AJAR_MUST_CHECK;

/* Learns merges until vocab_size tokens (BPE_TRAIN_MIN_VOCAB ..
 * BPE_TRAIN_MAX_VOCAB, else AJAR_ERR_INVALID). Once per trainer. */
enum ajar_err bpe_train_run(struct bpe_trainer *t, uint32_t vocab_size) AJAR_MUST_CHECK;

void bpe_train_get_stats(const struct bpe_trainer *t, struct bpe_train_stats *out);

/*
 * Puts the trained vocabulary into w: tokenizer.ggml.model "gpt2",
 * tokenizer.ggml.pre, tokens, token_type, merges, bos/eos ids (the control
 * token) and add_bos_token/add_eos_token false (a caller may set them
 * again afterwards: a key set twice is replaced). AJAR_ERR_INVALID before
 * bpe_train_run(). The strings are copied; t may be freed before writing.
 */
enum ajar_err bpe_train_to_gguf(const struct bpe_trainer *t, struct gguf_writer *w) AJAR_MUST_CHECK;

/* Writes a vocabulary-only GGUF (no tensors; general.architecture "llama")
 * to path, atomically. */
enum ajar_err bpe_train_write(const struct bpe_trainer *t, const char *path) AJAR_MUST_CHECK;

#endif
