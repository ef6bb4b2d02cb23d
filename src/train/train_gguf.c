/*
 * train_gguf.c - writes a model trained by train_model as an F32 llama
 * GGUF: the llama.* hyperparameters ajar's loader (and llama.cpp) read, the
 * tokenizer keys copied from a vocabulary GGUF, and the tensors in the
 * model's own order under their GGUF names (a matrix of `rows` rows of
 * `cols` floats is ne = {cols, rows}; a norm gain is 1-D).
 */
#include "train/train_run.h"

#include <string.h>

#include "ajar/gguf.h"
#include "ajar/tensor.h"
#include "train/train_model.h"

/* Copies every "tokenizer." key of vocab into w. The values borrow vocab's
 * mapping, which the caller keeps open until the writer has written. */
static enum ajar_err copy_tokenizer(struct gguf_writer *w, const struct gguf_file *vocab)
{
	static const char prefix[] = "tokenizer.";
	char key[256];

	for (size_t i = 0; i < gguf_n_kv(vocab); i++) {
		const struct gguf_kv *kv = gguf_kv_at(vocab, i);
		if (kv->key.len < sizeof(prefix) - 1 || memcmp(kv->key.data, prefix, sizeof(prefix) - 1) != 0)
			continue;
		if (kv->key.len >= sizeof(key))
			return ajar_errf(AJAR_ERR_LIMIT, "vocabulary key of %llu bytes is too long",
					 (unsigned long long)kv->key.len);
		memcpy(key, kv->key.data, kv->key.len);
		key[kv->key.len] = '\0';
		enum ajar_err err = gguf_writer_set(w, key, &kv->value);
		if (err)
			return err;
	}
	return AJAR_OK;
}

static enum ajar_err set_hparams(struct gguf_writer *w, const struct train_config *c)
{
	enum ajar_err err;
	if ((err = gguf_writer_set_str(w, "general.architecture", "llama")) ||
	    (err = gguf_writer_set_str(w, "general.name", "ajar trained model")) ||
	    (err = gguf_writer_set_u32(w, "llama.context_length", (uint32_t)c->n_ctx)) ||
	    (err = gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)c->dim)) ||
	    (err = gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden)) ||
	    (err = gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads)) ||
	    (err = gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads)) ||
	    (err = gguf_writer_set_u32(w, "llama.block_count", (uint32_t)c->n_layers)) ||
	    (err = gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)(c->dim / c->n_heads))) ||
	    (err = gguf_writer_set_u32(w, "llama.vocab_size", (uint32_t)c->n_vocab)) ||
	    (err = gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps)) ||
	    (err = gguf_writer_set_f32(w, "llama.rope.freq_base", c->rope_theta)) ||
	    (err = gguf_writer_set_u32(w, "general.file_type", 0))) /* ALL_F32 */
		return err;
	return AJAR_OK;
}

enum ajar_err train_gguf_write(const struct train_model *m, const struct gguf_file *vocab, const char *path)
{
	struct gguf_writer *w = NULL;
	const struct gguf_value *tokens = NULL;
	enum ajar_err err;

	if ((err = gguf_get_arr(vocab, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tokens)))
		return ajar_errf(err, "the vocabulary has no tokenizer.ggml.tokens");
	if (tokens->v.arr.count != (uint64_t)m->cfg.n_vocab)
		return ajar_errf(AJAR_ERR_INVALID, "the vocabulary has %llu tokens, the model %d",
				 (unsigned long long)tokens->v.arr.count, m->cfg.n_vocab);
	if ((err = gguf_writer_new(&w)))
		return err;
	if ((err = set_hparams(w, &m->cfg)) || (err = copy_tokenizer(w, vocab)))
		goto out;
	for (size_t i = 0; i < m->n_tensors; i++) {
		const struct train_tensor *t = &m->tensors[i];
		uint64_t ne[2] = { (uint64_t)t->cols, (uint64_t)t->rows };
		if ((err = gguf_writer_add_tensor(w, t->name, AJAR_TYPE_F32, t->rows == 1 ? 1 : 2, ne, t->data)))
			goto out;
	}
	err = gguf_writer_write(w, path);
out:
	gguf_writer_free(w);
	return err;
}
