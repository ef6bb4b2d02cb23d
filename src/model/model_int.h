/*
 * model_int.h - internals shared by the model files: the weight table, the
 * per-architecture hooks, the context's buffers and the primitive ops.
 */
#ifndef AJAR_MODEL_INT_H
#define AJAR_MODEL_INT_H

#include "ajar/gguf.h"
#include "ajar/model.h"
#include "ajar/tensor.h"
#include "ajar/threadpool.h"
#include "ajar/vocab.h"

/* A 2-D weight matrix (or 1-D vector, n_out = 1) viewed from the mapping:
 * n_out rows of n_in values, each row row_bytes long. Borrowed from the gguf
 * mapping, valid until the model is freed. */
struct weight {
	const void *data;   /* NULL when an optional tensor is absent */
	enum ajar_type type;
	int64_t n_in;       /* ne[0]: values per row */
	int64_t n_out;      /* ne[1]: rows */
	size_t row_bytes;
};

struct llama_layer {
	struct weight attn_norm; /* (n_embd) F32 */
	struct weight wq;        /* (n_head*head_dim rows, n_embd) */
	struct weight wk;        /* (n_head_kv*head_dim, n_embd) */
	struct weight wv;        /* (n_head_kv*head_dim, n_embd) */
	struct weight wo;        /* (n_embd, n_head*head_dim) */
	struct weight bq, bk, bv;/* qwen2 only: biases, F32 */
	struct weight ffn_norm;  /* (n_embd) F32 */
	struct weight ffn_gate;  /* (n_ff, n_embd) */
	struct weight ffn_up;    /* (n_ff, n_embd) */
	struct weight ffn_down;  /* (n_embd, n_ff) */
};

struct ajar_context;

/* One entry per architecture: how to read its weights and run its forward
 * pass. Adding an architecture is one file and one line in arch_table. */
struct arch_ops {
	const char *name;     /* general.architecture */
	enum ajar_arch arch;
	enum ajar_err (*load)(struct ajar_model *m);
	enum ajar_err (*forward)(struct ajar_context *ctx, const struct ajar_batch *b, float *logits);
};

struct ajar_model {
	struct gguf_file *gguf;       /* owned */
	struct ajar_vocab *vocab;     /* owned */
	const struct arch_ops *ops;
	struct ajar_hparams hp;
	uint64_t n_params;

	struct weight tok_embd;       /* (n_vocab rows, n_embd) */
	struct weight output_norm;    /* (n_embd) F32 */
	struct weight output;         /* (n_vocab, n_embd); == tok_embd when tied */
	struct weight rope_freqs;     /* optional (n_rot/2) F32 frequency factors */
	struct llama_layer *layers;   /* n_layer, owned */
};

struct ajar_context {
	const struct ajar_model *m;
	struct threadpool *pool;      /* owned */
	uint32_t n_ctx, n_seq, n_batch;
	uint32_t kv_dim;              /* n_head_kv * head_dim */
	enum ajar_type cache_type;    /* F32, F16 or Q8_0 */
	size_t kv_head_bytes;         /* one head's vector in the cache type */
	size_t kv_pos_bytes;          /* one position: n_head_kv heads */
	uint32_t *seq_len;            /* n_seq: cached positions per sequence */

	/* KV cache: [n_seq][n_layer][n_ctx][n_head_kv] rows of head_dim values
	 * in cache_type (kv_cache.c). Owned. */
	unsigned char *k_cache;
	unsigned char *v_cache;

	/* Scratch, all owned, sized for n_batch tokens: */
	float *x;       /* [n_batch][n_embd] residual stream */
	float *xb;      /* [n_batch][n_embd] normed input of a block */
	float *q;       /* [n_batch][n_head*head_dim] */
	float *k;       /* [n_batch][kv_dim] */
	float *v;       /* [n_batch][kv_dim] */
	float *att;     /* [n_batch][n_head*head_dim] attention output */
	float *hb;      /* [n_batch][n_ff] gate, then the gated product */
	float *hb2;     /* [n_batch][n_ff] up */
	float *scores;  /* [n_threads][n_ctx] attention scores */
	size_t max_in;  /* widest matrix input: max(n_embd, n_ff, q_dim) */
	void *act;      /* [n_batch][max_in floats] activation rows converted for the kernels */
	uint32_t *seq_next;   /* [n_seq] scratch for batch validation */
};

/* model.c */
enum ajar_err model_get_weight(struct ajar_model *m, const char *name, int64_t n_in, int64_t n_out,
			       bool optional, struct weight *out) AJAR_MUST_CHECK;
enum ajar_err model_get_norm(struct ajar_model *m, const char *name, int64_t n, bool optional,
			     struct weight *out) AJAR_MUST_CHECK;

/* kv_cache.c */
enum ajar_err kv_check_type(enum ajar_type type, uint32_t head_dim) AJAR_MUST_CHECK;
size_t kv_head_bytes(enum ajar_type type, uint32_t head_dim);
/* Stores n_heads vectors of head_dim floats at dst. */
void kv_store(enum ajar_type type, void *dst, const float *src, uint32_t n_heads, uint32_t head_dim);
/* dot(row, q) over n values of a cached head row. */
float kv_dot(enum ajar_type type, const void *row, const float *q, uint32_t n);
/* out += a * row; tmp holds n floats of scratch for quantized rows. */
void kv_axpy(enum ajar_type type, const void *row, float a, float *out, uint32_t n, float *tmp);
/* The same over n_rows cached rows `stride` bytes apart (attention over
 * positions): out[i] = scale * dot(row i, q); out += sum_i a[i] * row i.
 * Equal to kv_dot / kv_axpy row by row. */
void kv_dots(enum ajar_type type, const void *rows, size_t stride, int32_t n_rows, const float *q, uint32_t n,
	     float scale, float *out);
void kv_axpys(enum ajar_type type, const float *a, const void *rows, size_t stride, int32_t n_rows, float *out,
	      uint32_t n, float *tmp);

/* llama.c */
enum ajar_err llama_load(struct ajar_model *m) AJAR_MUST_CHECK;
enum ajar_err llama_forward(struct ajar_context *ctx, const struct ajar_batch *b, float *logits) AJAR_MUST_CHECK;

/* ops.c: the primitive operations of a forward pass. Shapes in comments. */
float ops_dot_f32(const float *a, const float *b, int64_t n);
/* y[t][o] = dot(row o of w, x[t]) (+ bias[o]) for t < n_tok; rows split over
 * the pool. x rows are x_stride floats apart, y rows y_stride. */
void ops_matmul(struct ajar_context *ctx, const struct weight *w, const float *x, size_t x_stride, float *y,
		size_t y_stride, uint32_t n_tok);
/* The same for n_w weights that take the same input x (all n_in wide):
 * ys[i] gets ws[i] x, with one conversion of x and one hand-off. */
void ops_matmul_multi(struct ajar_context *ctx, int n_w, const struct weight *const *ws, float *const *ys,
		      const size_t *y_strides, const float *x, size_t x_stride, uint32_t n_tok);
/* out = x / rms(x) * w, over n values; the sum of squares in double, as
 * llama.cpp does. out may equal x. */
void ops_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
/* Rotates the first n_rot dims of each of n_heads heads (head_dim apart) of
 * x for position pos. freq_factors: NULL or n_rot/2 divisors of theta. */
void ops_rope(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, float freq_base, float freq_scale,
	      enum ajar_rope_type type, const float *freq_factors);
/* In-place softmax over n values; the sum in double. */
void ops_softmax(float *x, int64_t n);
void ops_embed_row(const struct weight *w, int32_t row, float *out);

#endif
