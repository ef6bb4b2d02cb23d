/*
 * train_run.h - the training loop of `ajar train`: text files -> tokens ->
 * a Llama model trained from scratch -> an F32 llama GGUF with its tokenizer.
 *
 * What one run does, in order:
 *   1. The tokenizer: a byte-level BPE of vocab_size tokens trained on the
 *      data files (bpe_train.h), or the one in the vocab_path GGUF. Either
 *      way it is a GGUF vocabulary that ajar's own vocab_tokenize applies,
 *      so the model sees exactly the ids inference will give it.
 *   2. The data: each file tokenized as one document followed by EOS, all
 *      concatenated; the last 5% of tokens are the validation split.
 *   3. Each step: batch rows of n_ctx + 1 contiguous tokens at random
 *      starts in the training split (splitmix64 from seed), accum
 *      micro-batches accumulated, global-norm clipping to 1.0, AdamW at
 *      lr_at(step, 5% warm-up, steps, lr, lr / 10).
 *   4. Every eval_every steps and at the end: the validation loss over
 *      fixed windows of the validation split. Every ckpt_every steps and at
 *      the end: a checkpoint at OUT.ckpt (weights, AdamW m and v, step, RNG
 *      state, token count, hyperparameters).
 *   5. The model and tokenizer written to out as an F32 llama GGUF.
 *
 * Resume: a run given resume_path loads everything a checkpoint holds and
 * continues; since the batches come only from the RNG state and the step,
 * and every kernel is deterministic, the continued run's losses equal an
 * uninterrupted run's bit for bit. The checkpoint's hyperparameters must
 * equal the run's (INVALID otherwise).
 *
 * Single-threaded in this version. Library code: it prints nothing; the
 * caller sees progress through on_step.
 */
#ifndef AJAR_TRAIN_RUN_H
#define AJAR_TRAIN_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

struct gguf_file;
struct train_model;

/* What on_step is told after each optimizer step. */
struct train_progress {
	uint64_t step;       /* steps done, 1..total */
	uint64_t total;      /* the run's steps */
	float lr;            /* the step's learning rate */
	float train_loss;    /* mean over the step's micro-batches */
	float val_loss;      /* NAN unless evaluated after this step */
	double tokens_per_s; /* training tokens per second so far in this process */
	double eta_s;        /* seconds left at that rate */
};

struct train_run_opts {
	const char *const *data; /* (n_data) text files; borrowed */
	int n_data;
	const char *out;         /* the GGUF to write; the checkpoint is out + ".ckpt" */
	const char *vocab_path;  /* a GGUF whose tokenizer to use, or NULL to train one */
	const char *log_path;    /* CSV step,lr,train_loss,val_loss,tokens_per_s, or NULL */
	const char *resume_path; /* a checkpoint to continue from, or NULL */
	int dim, n_layers, n_heads, n_ctx;
	int vocab_size;          /* tokens of the trained BPE (ignored with vocab_path) */
	int steps;               /* total optimizer steps; the schedule's length */
	int stop_at;             /* stop (checkpointed) after this step, 0 = steps; for tests */
	int batch, accum;        /* rows per micro-batch, micro-batches per step */
	int eval_every, ckpt_every; /* in steps, >= 1 */
	float lr;                /* peak learning rate */
	uint64_t seed;           /* weights and batches */
	int n_threads;           /* threads for the step's matmuls (0 or 1: the caller's alone); results do
				  * not depend on it, so a run may resume with another count */
	bool write_gguf;         /* false: stop after the checkpoint (tests) */
	float *losses;           /* (steps) caller's; losses[s - 1] = train loss of step s, or NULL */
	void (*on_step)(void *user, const struct train_progress *p); /* or NULL */
	void *user;
};

/* dim 64, 2 layers, 4 heads, ctx 64, vocab 512, 200 steps, batch 8, accum 1,
 * lr 1e-3, seed 1, eval/ckpt every steps/10 (at least 1), write_gguf. */
void train_run_opts_default(struct train_run_opts *o);

struct train_run_result {
	uint64_t n_train_tokens, n_val_tokens;
	int n_vocab;          /* the tokenizer's size (BPE may stop short of vocab_size) */
	size_t n_params;
	float first_val_loss; /* the first evaluation (before step 1 unless resumed) */
	float last_val_loss;  /* the last */
	float last_train_loss;
	double tokens_per_s;  /* training tokens per second, evaluation excluded */
};

/* Runs training as described above. INVALID for bad options or data too
 * small for one window in each split; IO / FORMAT / NOMEM from the files. */
enum ajar_err train_run(const struct train_run_opts *o, struct train_run_result *res) AJAR_MUST_CHECK;

/*
 * Writes m as an F32 llama GGUF at path (atomically), with the llama.*
 * hyperparameters ajar's loader and llama.cpp read and every "tokenizer."
 * key copied from vocab (whose vocabulary must have m's n_vocab tokens).
 */
enum ajar_err train_gguf_write(const struct train_model *m, const struct gguf_file *vocab,
			       const char *path) AJAR_MUST_CHECK;

#endif
