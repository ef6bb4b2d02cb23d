/*
 * model.h - loading a GGUF model and running its forward pass.
 *
 * A struct ajar_model is the immutable part: hyper-parameters, pointers to the
 * weights (memory-mapped, never copied) and the vocabulary. It may be shared
 * by any number of contexts and threads.
 *
 * A struct ajar_context holds what a forward pass mutates: the KV cache (F32,
 * or F16 / Q8_0 to save memory)
 * for up to n_seq independent sequences, scratch buffers for batches of up to
 * n_batch tokens, and the thread pool. ajar_decode() runs one forward pass
 * over a batch whose tokens may belong to different sequences (each token
 * names its sequence and position), so many conversations can advance in one
 * pass that reads the weights once. A context is used by one thread at a time.
 *
 * Supported architectures (general.architecture): llama, qwen2.
 */
#ifndef AJAR_MODEL_H
#define AJAR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

struct gguf_file;
struct ajar_vocab;

enum ajar_arch {
	AJAR_ARCH_LLAMA,
	AJAR_ARCH_QWEN2,
};

enum ajar_rope_type {
	AJAR_ROPE_NORM, /* rotate adjacent pairs (x[2i], x[2i+1]): llama */
	AJAR_ROPE_NEOX, /* rotate (x[i], x[i + n_rot/2]): qwen2, GPT-NeoX */
};

struct ajar_hparams {
	enum ajar_arch arch;
	char arch_name[32];
	uint32_t n_vocab;
	uint32_t n_ctx_train;   /* {arch}.context_length */
	uint32_t n_embd;        /* model width */
	uint32_t n_layer;
	uint32_t n_ff;          /* feed-forward hidden width */
	uint32_t n_head;
	uint32_t n_head_kv;
	uint32_t head_dim;      /* n_embd / n_head */
	uint32_t n_rot;         /* rope.dimension_count (<= head_dim) */
	enum ajar_rope_type rope_type;
	float rope_freq_base;   /* default 10000 */
	float rope_freq_scale;  /* 1 / linear scaling factor; 1 when none */
	float norm_eps;         /* RMSNorm epsilon */
	bool tied_output;       /* output head is token_embd */
};

struct ajar_model;

/* Opens path, validates hyper-parameters and every tensor's name, type and
 * shape, and loads the vocabulary. *out owned by the caller (ajar_model_free). */
enum ajar_err ajar_model_load(const char *path, struct ajar_model **out) AJAR_MUST_CHECK;
void ajar_model_free(struct ajar_model *m);

const struct ajar_hparams *ajar_model_hparams(const struct ajar_model *m);
const struct ajar_vocab *ajar_model_vocab(const struct ajar_model *m);
const struct gguf_file *ajar_model_gguf(const struct ajar_model *m);
/* Number of weight values in all tensors. */
uint64_t ajar_model_n_params(const struct ajar_model *m);

struct ajar_context_params {
	uint32_t n_ctx;    /* positions per sequence; 0 = the model's n_ctx_train */
	uint32_t n_seq;    /* independent sequences (KV cache slots); >= 1 */
	uint32_t n_batch;  /* most tokens in one ajar_decode call; 0 = 512 */
	int n_threads;     /* 0 = all CPUs */
	int cache_type;    /* enum ajar_type of the KV cache: F32 (0, default), F16 or Q8_0 */
};

struct ajar_context;

enum ajar_err ajar_context_new(const struct ajar_model *m, const struct ajar_context_params *p,
			       struct ajar_context **out) AJAR_MUST_CHECK;
void ajar_context_free(struct ajar_context *ctx);
uint32_t ajar_context_n_ctx(const struct ajar_context *ctx);

/*
 * One batch of tokens for ajar_decode. Token i is tokens[i] of sequence seq[i]
 * at position pos[i]; within a sequence the positions of a batch must be
 * consecutive, continuing that sequence's cache (pos == its current length).
 * want_logits[i] asks for the logits after token i (NULL: only the last).
 */
struct ajar_batch {
	uint32_t n;
	const int32_t *tokens;
	const int32_t *pos;
	const int32_t *seq;
	const bool *want_logits;
};

/*
 * Runs the forward pass and appends each token's keys and values to its
 * sequence's cache. Logits for the requested tokens are written to logits,
 * n_vocab floats each, in batch order. Bad batches (token id out of range,
 * position past n_ctx or not continuing the sequence, seq out of range, more
 * than n_batch tokens) return AJAR_ERR_INVALID and change nothing.
 */
enum ajar_err ajar_decode(struct ajar_context *ctx, const struct ajar_batch *b, float *logits) AJAR_MUST_CHECK;

/* Length of a sequence's cache (the next position). */
uint32_t ajar_seq_len(const struct ajar_context *ctx, int32_t seq);
/* Forgets positions >= len of a sequence (len <= current length), so a new
 * continuation can be decoded from there: prefix reuse and reset. */
void ajar_seq_truncate(struct ajar_context *ctx, int32_t seq, uint32_t len);

/* Convenience for one sequence: decodes n tokens of seq in chunks of
 * n_batch, positions continuing its cache; logits of the last token (may be
 * NULL). */
enum ajar_err ajar_decode_seq(struct ajar_context *ctx, int32_t seq, const int32_t *tokens, size_t n,
			      float *logits) AJAR_MUST_CHECK;

#endif
