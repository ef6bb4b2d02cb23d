/*
 * model.c - loading a model: open the GGUF file, read the hyper-parameters of
 * its architecture, bind every weight (checking name, type and shape), load
 * the vocabulary. Weights stay in the read-only mapping.
 */
#include "model_int.h"
#include "ajar/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct arch_ops arch_table[] = {
	{ "llama", AJAR_ARCH_LLAMA, llama_load, llama_forward },
	{ "qwen2", AJAR_ARCH_QWEN2, llama_load, llama_forward },
};

/* Reads "{arch}.{suffix}" as u32; a missing optional key leaves *out alone. */
static enum ajar_err arch_u32(struct ajar_model *m, const char *suffix, bool required, uint32_t *out)
{
	char key[128];
	snprintf(key, sizeof(key), "%s.%s", m->hp.arch_name, suffix);
	enum ajar_err err = gguf_get_u32(m->gguf, key, out);
	if (err == AJAR_ERR_NOT_FOUND && !required)
		return AJAR_OK;
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(err, "missing metadata key %s", key);
	if (err)
		return ajar_err_wrap(err, "metadata %s", key);
	return AJAR_OK;
}

static enum ajar_err arch_f32(struct ajar_model *m, const char *suffix, float *out)
{
	char key[128];
	snprintf(key, sizeof(key), "%s.%s", m->hp.arch_name, suffix);
	enum ajar_err err = gguf_get_f32(m->gguf, key, out);
	if (err == AJAR_ERR_NOT_FOUND)
		return AJAR_OK;
	if (err)
		return ajar_err_wrap(err, "metadata %s", key);
	return AJAR_OK;
}

static enum ajar_err read_rope_scaling(struct ajar_model *m)
{
	char key[128];
	struct gguf_str type = { 0 };
	float factor = 0;
	enum ajar_err err;

	snprintf(key, sizeof(key), "%s.rope.scaling.type", m->hp.arch_name);
	err = gguf_get_str(m->gguf, key, &type);
	if (err && err != AJAR_ERR_NOT_FOUND)
		return ajar_err_wrap(err, "metadata %s", key);
	if ((err = arch_f32(m, "rope.scaling.factor", &factor)))
		return err;
	if (factor == 0) /* older files: rope.scale_linear */
		if ((err = arch_f32(m, "rope.scale_linear", &factor)))
			return err;
	if (type.len && !gguf_str_eq(type, "linear") && !gguf_str_eq(type, "none"))
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "rope scaling type '%.*s' is not supported (only linear)",
				 (int)type.len, type.data);
	if (gguf_str_eq(type, "none") || factor == 0)
		factor = 1;
	if (!(factor > 0 && factor < 1e6f))
		return ajar_errf(AJAR_ERR_FORMAT, "rope scaling factor %g is out of range", (double)factor);
	m->hp.rope_freq_scale = 1.0f / factor;
	return AJAR_OK;
}

static enum ajar_err read_hparams(struct ajar_model *m)
{
	struct ajar_hparams *hp = &m->hp;
	enum ajar_err err;

	hp->rope_freq_base = 10000.0f;
	hp->norm_eps = 1e-5f;
	if ((err = arch_u32(m, "context_length", true, &hp->n_ctx_train)) ||
	    (err = arch_u32(m, "embedding_length", true, &hp->n_embd)) ||
	    (err = arch_u32(m, "block_count", true, &hp->n_layer)) ||
	    (err = arch_u32(m, "feed_forward_length", true, &hp->n_ff)) ||
	    (err = arch_u32(m, "attention.head_count", true, &hp->n_head)))
		return err;
	hp->n_head_kv = hp->n_head;
	if ((err = arch_u32(m, "attention.head_count_kv", false, &hp->n_head_kv)) ||
	    (err = arch_f32(m, "attention.layer_norm_rms_epsilon", &hp->norm_eps)) ||
	    (err = arch_f32(m, "rope.freq_base", &hp->rope_freq_base)) || (err = read_rope_scaling(m)))
		return err;

	/* Bounds keep every later size computation far from overflow. */
	if (hp->n_embd == 0 || hp->n_embd > 65536 || hp->n_layer == 0 || hp->n_layer > 512 || hp->n_ff == 0 ||
	    hp->n_ff > 1 << 20 || hp->n_head == 0 || hp->n_head > 1024 || hp->n_ctx_train == 0)
		return ajar_errf(AJAR_ERR_FORMAT,
				 "implausible hyper-parameters: n_embd %u, n_layer %u, n_ff %u, n_head %u, context %u",
				 hp->n_embd, hp->n_layer, hp->n_ff, hp->n_head, hp->n_ctx_train);
	if (hp->n_embd % hp->n_head != 0)
		return ajar_errf(AJAR_ERR_FORMAT, "embedding length %u is not a multiple of head count %u", hp->n_embd,
				 hp->n_head);
	if (hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv != 0)
		return ajar_errf(AJAR_ERR_FORMAT, "head count %u is not a multiple of KV head count %u", hp->n_head,
				 hp->n_head_kv);
	hp->head_dim = hp->n_embd / hp->n_head;
	hp->n_rot = hp->head_dim;
	if ((err = arch_u32(m, "rope.dimension_count", false, &hp->n_rot)))
		return err;
	/* ops_rope keeps n_rot/2 sines on the stack: 1024 covers every model. */
	if (hp->n_rot == 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0 || hp->n_rot > 1024)
		return ajar_errf(AJAR_ERR_FORMAT, "rope dimension count %u must be even and at most the head size %u",
				 hp->n_rot, hp->head_dim);
	if (!(hp->rope_freq_base > 0) || !(hp->norm_eps >= 0) || hp->norm_eps > 1)
		return ajar_errf(AJAR_ERR_FORMAT, "rope freq base %g or norm epsilon %g out of range",
				 (double)hp->rope_freq_base, (double)hp->norm_eps);
	hp->rope_type = hp->arch == AJAR_ARCH_QWEN2 ? AJAR_ROPE_NEOX : AJAR_ROPE_NORM;
	return AJAR_OK;
}

enum ajar_err model_get_weight(struct ajar_model *m, const char *name, int64_t n_in, int64_t n_out, bool optional,
			       struct weight *out)
{
	const struct gguf_tensor_info *t = gguf_find_tensor(m->gguf, name);
	const struct ajar_type_traits *tr;

	memset(out, 0, sizeof(*out));
	if (!t) {
		if (optional)
			return AJAR_OK;
		return ajar_errf(AJAR_ERR_FORMAT, "missing tensor '%s'", name);
	}
	tr = ajar_type_traits(t->type);
	/* Matrices need a matrix-product kernel; vectors only dequantization. */
	if (!tr || !tr->has_kernels || (n_out > 1 && !ajar_gemm_supports((enum ajar_type)t->type)))
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "tensor '%s' has type %s (%u), which ajar cannot compute with yet",
				 name, ajar_type_name(t->type), t->type);
	if ((int64_t)t->ne[0] != n_in || (int64_t)t->ne[1] != n_out || t->ne[2] != 1 || t->ne[3] != 1)
		return ajar_errf(AJAR_ERR_FORMAT, "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%lld, %lld]",
				 name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
				 (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], (long long)n_in,
				 (long long)n_out);
	if (!t->data)
		return ajar_errf(AJAR_ERR_FORMAT, "tensor '%s' has no data (vocab-only file?)", name);
	out->data = t->data;
	out->type = (enum ajar_type)t->type;
	out->n_in = n_in;
	out->n_out = n_out;
	out->row_bytes = ajar_row_size(out->type, n_in);
	return AJAR_OK;
}

enum ajar_err model_get_norm(struct ajar_model *m, const char *name, int64_t n, bool optional, struct weight *out)
{
	enum ajar_err err = model_get_weight(m, name, n, 1, optional, out);
	if (err)
		return err;
	if (out->data && out->type != AJAR_TYPE_F32)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "tensor '%s' is %s; vectors must be F32", name,
				 ajar_type_name(out->type));
	return AJAR_OK;
}

enum ajar_err ajar_model_load(const char *path, struct ajar_model **out)
{
	struct ajar_model *m;
	struct gguf_str arch;
	enum ajar_err err;

	m = calloc(1, sizeof(*m));
	if (!m)
		return ajar_errf(AJAR_ERR_NOMEM, "model");
	if ((err = gguf_open(path, &m->gguf)))
		goto fail;
	err = gguf_get_str(m->gguf, "general.architecture", &arch);
	if (err) {
		err = ajar_errf(AJAR_ERR_FORMAT, "%s: no general.architecture string", path);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(arch_table) / sizeof(arch_table[0]); i++)
		if (gguf_str_eq(arch, arch_table[i].name))
			m->ops = &arch_table[i];
	if (!m->ops) {
		err = ajar_errf(AJAR_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not supported (ajar runs llama, qwen2)",
				path, (int)(arch.len > 64 ? 64 : arch.len), arch.data);
		goto fail;
	}
	snprintf(m->hp.arch_name, sizeof(m->hp.arch_name), "%s", m->ops->name);
	m->hp.arch = m->ops->arch;
	if ((err = read_hparams(m)) || (err = vocab_load(m->gguf, &m->vocab)) || (err = m->ops->load(m)))
		goto fail_wrap;
	for (size_t i = 0; i < gguf_n_tensors(m->gguf); i++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(m->gguf, i);
		m->n_params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
	}
	*out = m;
	return AJAR_OK;
fail_wrap:
	err = ajar_err_wrap(err, "%s", path);
fail:
	ajar_model_free(m);
	return err;
}

void ajar_model_free(struct ajar_model *m)
{
	if (!m)
		return;
	free(m->layers);
	vocab_free(m->vocab);
	gguf_close(m->gguf);
	free(m);
}

const struct ajar_hparams *ajar_model_hparams(const struct ajar_model *m) { return &m->hp; }
const struct ajar_vocab *ajar_model_vocab(const struct ajar_model *m) { return m->vocab; }
const struct gguf_file *ajar_model_gguf(const struct ajar_model *m) { return m->gguf; }
uint64_t ajar_model_n_params(const struct ajar_model *m) { return m->n_params; }
