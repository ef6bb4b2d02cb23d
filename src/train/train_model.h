/*
 * train_model.h - a Llama-architecture model for training from scratch in
 * float32: its parameters, their gradients, and the forward and backward
 * passes built from train_ops.
 *
 * The function is the one ajar's inference computes (src/model/llama.c):
 *
 *   x = token_embd[tokens]
 *   per layer:  xn = rmsnorm(x) * attn_norm
 *               q, k, v = xn Wq^T, xn Wk^T, xn Wv^T; rope(q, k) (pairs 2i, 2i+1)
 *               x += attention(q, k, v; causal, GQA) Wo^T
 *               xn = rmsnorm(x) * ffn_norm
 *               x += (silu(xn Wgate^T) * (xn Wup^T)) Wdown^T
 *   logits = (rmsnorm(x) * output_norm) Wout^T
 *   loss = mean cross-entropy of logits[t] against tokens[t + 1]
 *
 * with head_dim = dim / n_heads rotated in full (n_rot = head_dim) and no
 * biases, so a GGUF written from these tensors loads in ajar and llama.cpp
 * as general.architecture "llama" and gives the same logits.
 *
 * Memory: the parameters are one allocation carved by a size table (the
 * order of struct train_model.tensors), the gradients a second allocation
 * of the same layout, and the activations a third, sized at create for
 * max_batch sequences of n_ctx tokens, so a training step allocates nothing.
 *
 * Not thread-safe: one model, one caller thread at a time. A step's matmuls
 * may run on the model's own thread pool (train_model_set_threads); the
 * gradients and loss are bit-identical for any thread count.
 */
#ifndef AJAR_TRAIN_MODEL_H
#define AJAR_TRAIN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"
#include "train/adamw.h"

struct threadpool;

struct train_config {
	int n_vocab;    /* rows of token_embd and output */
	int dim;        /* the residual stream's width (n_embd) */
	int n_layers;
	int n_heads;    /* query heads; head_dim = dim / n_heads, even */
	int n_kv_heads; /* key/value heads; divides n_heads (GQA when fewer) */
	int hidden;     /* the FFN's inner width (n_ff) */
	int n_ctx;      /* the longest sequence a batch may hold */
	float norm_eps; /* RMS norm epsilon */
	float rope_theta; /* RoPE frequency base */
};

/* Tensors per layer, in the order of the size table. */
enum train_layer_tensor {
	TRAIN_T_ATTN_NORM, /* (dim) */
	TRAIN_T_Q,         /* (dim, dim) */
	TRAIN_T_K,         /* (kv_dim, dim) */
	TRAIN_T_V,         /* (kv_dim, dim) */
	TRAIN_T_O,         /* (dim, dim) */
	TRAIN_T_FFN_NORM,  /* (dim) */
	TRAIN_T_GATE,      /* (hidden, dim) */
	TRAIN_T_UP,        /* (hidden, dim) */
	TRAIN_T_DOWN,      /* (dim, hidden) */
	TRAIN_T_PER_LAYER
};

/*
 * One parameter tensor. A matrix is `rows` rows of `cols` floats, the
 * layout of a GGUF tensor with ne = {cols, rows}; a norm has rows = 1.
 * Tensor order: token_embd.weight, then per layer the TRAIN_T_* order, then
 * output_norm.weight, output.weight.
 */
struct train_tensor {
	char name[48]; /* the GGUF tensor name, e.g. "blk.3.attn_q.weight" */
	float *data;   /* (rows, cols) into train_model.params */
	float *grad;   /* (rows, cols) into train_model.grads, same offset */
	size_t n;      /* rows * cols */
	int rows, cols;
	bool decay;    /* AdamW weight decay: matrices yes, norm gains no */
};

struct train_model {
	struct train_config cfg;
	int max_batch;               /* sequences of up to n_ctx tokens per step */
	size_t n_params;             /* floats in params (and in grads) */
	float *params;               /* (n_params) owned */
	float *grads;                /* (n_params) owned; written by train_forward_backward */
	size_t n_tensors;            /* 3 + TRAIN_T_PER_LAYER * n_layers */
	struct train_tensor *tensors; /* (n_tensors) owned */
	float *acts;                 /* activations and backward scratch, owned; see train_model.c */
	int32_t *ids;                /* (max_batch * n_ctx) the step's input tokens, owned */
	int32_t *targets;            /* (max_batch * n_ctx) the step's next tokens, owned */
	int32_t *pos;                /* (max_batch * n_ctx) each token's position in its sequence, owned */
	struct threadpool *pool;     /* owned; NULL = one thread (the default); used only inside a step */
};

/* A cap on the pool: far beyond any CPU this trains on, it only stops a
 * mistyped count from starting thousands of threads. */
#define TRAIN_MAX_THREADS 256

/*
 * Allocates a model for cfg whose steps take up to max_batch sequences, and
 * initializes its weights from seed (train_model_init_weights). INVALID for
 * a config that is not a valid Llama (non-positive sizes, dim not a
 * multiple of n_heads, odd or over-1024 head_dim, n_heads not a multiple of
 * n_kv_heads, eps or theta not positive), LIMIT if the sizes overflow,
 * NOMEM. Free with train_model_free.
 */
enum ajar_err train_model_create(const struct train_config *cfg, int max_batch, uint64_t seed,
				 struct train_model **out) AJAR_MUST_CHECK;
void train_model_free(struct train_model *m);

/*
 * Runs the step's matmuls on n_threads threads (the caller's plus
 * n_threads - 1 workers the model owns; 1 = no workers, today's default).
 * Results do not depend on n_threads. INVALID outside 1..TRAIN_MAX_THREADS,
 * or the threadpool's error (the previous setting then stays).
 */
enum ajar_err train_model_set_threads(struct train_model *m, int n_threads) AJAR_MUST_CHECK;
int train_model_threads(const struct train_model *m);

/*
 * Deterministic initialization from seed (splitmix64 -> Box-Muller, filled
 * in tensor order): matrices normal(0, 0.02), the residual projections
 * (attn_output, ffn_down) further scaled by 1 / sqrt(2 n_layers) so the
 * residual stream's variance does not grow with depth (GPT-2's scheme),
 * norm gains 1. The same seed gives bit-identical weights on every run.
 */
void train_model_init_weights(struct train_model *m, uint64_t seed);

/* The tensor of layer `layer` (0-based), which = TRAIN_T_*. */
struct train_tensor *train_model_layer_tensor(struct train_model *m, int layer, enum train_layer_tensor which);

/* Fills out (n_tensors entries, caller's array) with each tensor's
 * parameters, gradient, size and decay flag for adamw_step. */
void train_model_adamw_tensors(const struct train_model *m, struct adamw_tensor *out);

/*
 * One training step's gradients. tokens is (batch, seq + 1): row b's first
 * seq tokens are the input and row b's tokens 1..seq the targets (all in
 * 0..n_vocab-1; masking targets, as fine-tuning needs, is not here yet,
 * though train_cross_entropy_* support it). Runs the forward, keeping
 * what the backward needs, writes the mean cross-entropy to *loss, then
 * sets grads to d(dloss * loss)/d(params) (zeroing them first; dloss is 1
 * normally, 1/steps when accumulating with train_model_accumulate).
 * INVALID, before anything is computed, if batch > max_batch, seq > n_ctx,
 * either is < 1, or a token is out of range.
 */
enum ajar_err train_forward_backward(struct train_model *m, const int32_t *tokens, int batch, int seq,
				     float *loss) AJAR_MUST_CHECK;

/*
 * As train_forward_backward, but ADDS dloss * the gradient to grads without
 * zeroing them: gradient accumulation over several micro-batches (call
 * train_model_zero_grads first, pass dloss = 1 / micro-batches).
 */
enum ajar_err train_model_accumulate(struct train_model *m, const int32_t *tokens, int batch, int seq, float dloss,
				     float *loss) AJAR_MUST_CHECK;
void train_model_zero_grads(struct train_model *m);

/* The forward and loss only (validation, finite differences): grads are
 * left alone. Same checks as train_forward_backward. */
enum ajar_err train_forward(struct train_model *m, const int32_t *tokens, int batch, int seq,
			    float *loss) AJAR_MUST_CHECK;

/* The logits of the last forward, (batch * seq, n_vocab), row b * seq + i
 * for token i of sequence b; borrowed, valid until the next step. */
const float *train_model_logits(const struct train_model *m);

#endif
