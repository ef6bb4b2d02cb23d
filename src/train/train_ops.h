/*
 * train_ops.h - the operations of a Llama-style forward pass, each with a
 * hand-written backward pass, for training on the CPU in float32.
 *
 * Conventions shared by every op:
 *   - all arrays are float32, row-major; each pointer's comment gives its
 *     shape, e.g. (n, d) is n rows of d floats.
 *   - a forward op OVERWRITES its output.
 *   - a backward op ACCUMULATES (+=) into the gradient buffers of its inputs,
 *     so a value used twice (a residual stream) simply gets both
 *     contributions; the caller zeroes gradients once per step. A gradient
 *     pointer that is NULL is not wanted and is skipped (documented per op).
 *   - the exception is rope, a pure rotation applied in place: its backward
 *     rotates the gradient buffer in place (see train_rope).
 *   - no op allocates or can fail; bad shapes and out-of-range token ids are
 *     caller bugs and assert. Callers validate data before it reaches here.
 *   - one call runs on the calling thread, except the *_mt matmuls, which
 *     split their outputs over a thread pool so that each output element
 *     has one writer and the same sum order as with one thread: results
 *     are bit-identical for any pool size.
 *
 * Every backward is checked against central finite differences in
 * tests/unit/test_train_ops.c.
 */
#ifndef AJAR_TRAIN_OPS_H
#define AJAR_TRAIN_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct threadpool;

/* The target id that contributes no loss (prompt tokens in fine-tuning). */
#define TRAIN_IGNORE_INDEX (-1)

/*
 * Linear layer without bias: y = x W^T, W stored as `out` rows of `in`
 * floats (GGUF's layout for a weight of ne = {in, out}).
 *   y:  (n, out)      x:  (n, in)      w:  (out, in)
 * Backward: dx += dy W (skipped if dx is NULL), dw += dy^T x (skipped if dw
 * is NULL).
 */
void train_matmul_forward(float *y, const float *x, const float *w, int n, int in, int out);
void train_matmul_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, int n, int in,
			   int out);
/* The same on pool's threads (borrowed; NULL runs on the caller): the
 * forward splits rows of w, the backward tokens for dx and rows for dw. */
void train_matmul_forward_mt(struct threadpool *pool, float *y, const float *x, const float *w, int n, int in,
			     int out);
void train_matmul_backward_mt(struct threadpool *pool, float *dx, float *dw, const float *dy, const float *x,
			      const float *w, int n, int in, int out);

/*
 * RMS norm over each row: y = x / sqrt(mean(x^2) + eps) * g.
 *   y, x, dx, dy: (n, d)      g, dg: (d)
 * Backward recomputes the row scale from x. dg may be NULL (frozen gain).
 */
void train_rmsnorm_forward(float *y, const float *x, const float *g, int n, int d, float eps);
void train_rmsnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *g, int n, int d,
			    float eps);

/*
 * Rotary position embedding, in place, on the first n_rot dims of each head.
 *   x: (n_tok, n_heads, head_dim)      pos: (n_tok)
 * neox false pairs dims (2i, 2i+1) as llama (ajar's AJAR_ROPE_NORM); true
 * pairs (i, i + n_rot/2) as NEOX/Qwen2. Angles are pos * base^(-2i/n_rot),
 * built by repeated float multiplication exactly as src/model/ops.c does so
 * a trained model sees the same rotations at inference (no frequency
 * scaling or per-dim factors: a model trained from scratch has none).
 * train_rope_backward turns the gradient with respect to the rotated values
 * into the gradient with respect to the inputs, in place (the inverse
 * rotation, since a rotation's transpose is its inverse).
 */
void train_rope_forward(float *x, const int32_t *pos, int n_tok, int n_heads, int head_dim, int n_rot,
			float freq_base, bool neox);
void train_rope_backward(float *dx, const int32_t *pos, int n_tok, int n_heads, int head_dim, int n_rot,
			 float freq_base, bool neox);

/*
 * Causal self-attention with grouped-query heads: query head h reads kv head
 * h / (n_heads / n_kv_heads). Scores q.k / sqrt(head_dim), token i sees
 * tokens 0..i, softmax, out = p v.
 *   q, out, dq, dout: (n_tok, n_heads, head_dim)
 *   k, v, dk, dv:     (n_tok, n_kv_heads, head_dim)
 *   att:              (n_heads, n_tok, n_tok) the probabilities, written by
 *                     the forward (entries j > i are 0), read by the backward
 * The backward also reads the forward's out: sum_j p_j dp_j = dout . out, so
 * the softmax backward needs no scratch row.
 */
void train_attention_forward(float *out, float *att, const float *q, const float *k, const float *v, int n_tok,
			     int n_heads, int n_kv_heads, int head_dim);
void train_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out, const float *att,
			      const float *q, const float *k, const float *v, int n_tok, int n_heads, int n_kv_heads,
			      int head_dim);

/*
 * SwiGLU gate: out = silu(a) * b, silu(a) = a / (1 + e^-a).
 *   out, a, b, dout, da, db: (n)
 */
void train_swiglu_forward(float *out, const float *a, const float *b, size_t n);
void train_swiglu_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t n);

/*
 * Embedding lookup: out row i = table row tokens[i].
 *   out, dout: (n, d)      table, dtable: (vocab, d)      tokens: (n)
 * Backward scatter-adds each dout row into its token's row of dtable.
 */
void train_embedding_forward(float *out, const float *table, const int32_t *tokens, int n, int d, int vocab);
void train_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int n, int d, int vocab);

/*
 * Cross-entropy of softmax(logits) against targets, the mean over the tokens
 * whose target is not TRAIN_IGNORE_INDEX (0 if there are none).
 *   logits, dlogits: (n, vocab)      targets: (n)
 * Backward: dlogits += dloss * (softmax - onehot) / count for counted rows;
 * dloss is the gradient of the final objective with respect to this mean
 * (1 normally, 1/steps under gradient accumulation). Both max-subtract, and
 * sum in double, so large logits neither overflow nor lose the small terms.
 */
float train_cross_entropy_forward(const float *logits, const int32_t *targets, int n, int vocab);
void train_cross_entropy_backward(float *dlogits, const float *logits, const int32_t *targets, int n, int vocab,
				  float dloss);

/* Residual add: y = a + b (y may alias a or b). Its backward is a plain
 * accumulate of dy into both inputs' gradients: train_add_to(da, dy, n). */
void train_add(float *y, const float *a, const float *b, size_t n);
void train_add_to(float *dst, const float *src, size_t n);

#endif
