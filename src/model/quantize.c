/*
 * quantize.c - `ajar quantize` as a library call: a GGUF file in, the same
 * model with quantized weights out (include/ajar/quantize.h has the policy).
 *
 * Layout: the file-type table; the choice of each tensor's type (which
 * tensors, llama.cpp's mix policy, the fallbacks for row lengths); the
 * threaded row conversion; ajar_quantize_file, which ties them together and
 * hands everything to the GGUF writer.
 *
 * The mix policy follows llama.cpp's llama_tensor_get_type (src/llama-quant.cpp)
 * for the file types ajar produces. llama.cpp walks tensors sorted by layer
 * and counts attn_v / ffn_down tensors as it goes; for the one-tensor-per-layer
 * models ajar runs that count is the layer number, which is read here from the
 * "blk.N." prefix, so the choice does not depend on the order in the file.
 */
#include "ajar/quantize.h"

#include "ajar/tensor.h"
#include "ajar/threadpool.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* general.quantization_version: ggml's GGML_QNT_VERSION, the block layouts
 * of tensor.h. */
#define QNT_VERSION 2

/* ---- file types ----------------------------------------------------------- */

struct ftype_entry {
	const char *name;
	enum ajar_ftype ftype;
	enum ajar_type base; /* the type most weights get */
};

/* What ajar produces, in llama-quantize's order. */
static const struct ftype_entry ftypes[] = {
	{ "Q4_0", AJAR_FTYPE_MOSTLY_Q4_0, AJAR_TYPE_Q4_0 },
	{ "Q4_1", AJAR_FTYPE_MOSTLY_Q4_1, AJAR_TYPE_Q4_1 },
	{ "Q5_0", AJAR_FTYPE_MOSTLY_Q5_0, AJAR_TYPE_Q5_0 },
	{ "Q5_1", AJAR_FTYPE_MOSTLY_Q5_1, AJAR_TYPE_Q5_1 },
	{ "Q4_K_S", AJAR_FTYPE_MOSTLY_Q4_K_S, AJAR_TYPE_Q4_K },
	{ "Q4_K_M", AJAR_FTYPE_MOSTLY_Q4_K_M, AJAR_TYPE_Q4_K },
	{ "Q5_K_S", AJAR_FTYPE_MOSTLY_Q5_K_S, AJAR_TYPE_Q5_K },
	{ "Q5_K_M", AJAR_FTYPE_MOSTLY_Q5_K_M, AJAR_TYPE_Q5_K },
	{ "Q6_K", AJAR_FTYPE_MOSTLY_Q6_K, AJAR_TYPE_Q6_K },
	{ "Q8_0", AJAR_FTYPE_MOSTLY_Q8_0, AJAR_TYPE_Q8_0 },
	{ "F16", AJAR_FTYPE_MOSTLY_F16, AJAR_TYPE_F16 },
	{ "BF16", AJAR_FTYPE_MOSTLY_BF16, AJAR_TYPE_BF16 },
	{ "F32", AJAR_FTYPE_ALL_F32, AJAR_TYPE_F32 },
	/* llama-quantize's aliases */
	{ "Q4_K", AJAR_FTYPE_MOSTLY_Q4_K_M, AJAR_TYPE_Q4_K },
	{ "Q5_K", AJAR_FTYPE_MOSTLY_Q5_K_M, AJAR_TYPE_Q5_K },
};

#define N_FTYPES (sizeof(ftypes) / sizeof(ftypes[0]))

/* Every llama_ftype value, for describing files (llama.h). */
static const char *const ftype_names[] = {
	[0] = "F32",      [1] = "F16",       [2] = "Q4_0",     [3] = "Q4_1",     [7] = "Q8_0",
	[8] = "Q5_0",     [9] = "Q5_1",      [10] = "Q2_K",    [11] = "Q3_K_S",  [12] = "Q3_K_M",
	[13] = "Q3_K_L",  [14] = "Q4_K_S",   [15] = "Q4_K_M",  [16] = "Q5_K_S",  [17] = "Q5_K_M",
	[18] = "Q6_K",    [19] = "IQ2_XXS",  [20] = "IQ2_XS",  [21] = "Q2_K_S",  [22] = "IQ3_XS",
	[23] = "IQ3_XXS", [24] = "IQ1_S",    [25] = "IQ4_NL",  [26] = "IQ3_S",   [27] = "IQ3_M",
	[28] = "IQ2_S",   [29] = "IQ2_M",    [30] = "IQ4_XS",  [31] = "IQ1_M",   [32] = "BF16",
	[36] = "TQ1_0",   [37] = "TQ2_0",
};

enum ajar_err ajar_ftype_parse(const char *name, enum ajar_ftype *out)
{
	for (size_t i = 0; name && i < N_FTYPES; i++) {
		if (strcasecmp(name, ftypes[i].name) == 0) {
			*out = ftypes[i].ftype;
			return AJAR_OK;
		}
	}
	return ajar_errf(AJAR_ERR_INVALID, "unknown type '%s' (one of %s)", name ? name : "(null)", ajar_ftype_list());
}

const char *ajar_ftype_name(uint32_t ftype)
{
	if (ftype < sizeof(ftype_names) / sizeof(ftype_names[0]) && ftype_names[ftype])
		return ftype_names[ftype];
	return "unknown";
}

const char *ajar_ftype_list(void)
{
	return "Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, Q8_0, F16, BF16, F32 "
	       "(Q4_K = Q4_K_M, Q5_K = Q5_K_M)";
}

static const struct ftype_entry *ftype_entry(enum ajar_ftype ftype)
{
	for (size_t i = 0; i < N_FTYPES; i++)
		if (ftypes[i].ftype == ftype)
			return &ftypes[i];
	return NULL;
}

static bool type_is_quantized(enum ajar_type t)
{
	return t != AJAR_TYPE_F32 && t != AJAR_TYPE_F16 && t != AJAR_TYPE_BF16;
}

/* ---- names ------------------------------------------------------------------ */

static bool name_eq(struct gguf_str s, const char *c)
{
	return gguf_str_eq(s, c);
}

static bool name_has(struct gguf_str s, const char *needle)
{
	return memmem(s.data, (size_t)s.len, needle, strlen(needle)) != NULL;
}

static bool name_ends(struct gguf_str s, const char *suffix)
{
	size_t n = strlen(suffix);
	return s.len >= n && memcmp(s.data + s.len - n, suffix, n) == 0;
}

/* N of a "blk.N." name, or -1. */
static long name_layer(struct gguf_str s)
{
	long n = 0;
	size_t i = 4;

	if (s.len < 6 || memcmp(s.data, "blk.", 4) != 0)
		return -1;
	for (; i < s.len && s.data[i] >= '0' && s.data[i] <= '9' && i < 12; i++)
		n = n * 10 + (s.data[i] - '0');
	return i > 4 && i < s.len && s.data[i] == '.' ? n : -1;
}

/* ---- which type each tensor gets ----------------------------------------------- */

/* What the policy needs to know about the model. */
struct plan {
	enum ajar_ftype ftype;
	enum ajar_type base;
	bool pure;
	long n_layer;     /* {arch}.block_count, else 1 + the largest blk.N */
	long n_attn_v;    /* attention value tensors (attn_v, attn_qkv, attn_kv_b) */
	bool has_output;  /* output.weight present (else tied to token_embd) */
	bool is_70b;      /* llama.cpp's LLM_TYPE_70B for llama/qwen2 */
	uint32_t n_expert;
};

static uint32_t arch_u32(const struct gguf_file *f, struct gguf_str arch, const char *suffix, uint32_t dflt)
{
	char key[160];
	uint32_t v = dflt;
	snprintf(key, sizeof(key), "%.*s.%s", (int)(arch.len > 64 ? 64 : arch.len), arch.data, suffix);
	if (gguf_get_u32(f, key, &v) != AJAR_OK)
		v = dflt;
	return v;
}

static void plan_init(struct plan *pl, const struct gguf_file *f, const struct ftype_entry *fe, bool pure)
{
	struct gguf_str arch = { "", 0 };
	long max_layer = -1;

	memset(pl, 0, sizeof(*pl));
	pl->ftype = fe->ftype;
	pl->base = fe->base;
	pl->pure = pure;
	if (gguf_get_str(f, "general.architecture", &arch) != AJAR_OK)
		arch = (struct gguf_str){ "", 0 };
	for (size_t i = 0; i < gguf_n_tensors(f); i++) {
		struct gguf_str nm = gguf_tensor_at(f, i)->name;
		long l = name_layer(nm);
		if (l > max_layer)
			max_layer = l;
		if (name_has(nm, "attn_v.weight") || name_has(nm, "attn_qkv.weight") || name_has(nm, "attn_kv_b.weight"))
			pl->n_attn_v++;
		else if (name_eq(nm, "output.weight"))
			pl->has_output = true;
	}
	pl->n_layer = arch_u32(f, arch, "block_count", (uint32_t)(max_layer + 1));
	pl->n_expert = arch_u32(f, arch, "expert_count", 0);
	uint32_t n_head = arch_u32(f, arch, "attention.head_count", 0);
	uint32_t n_head_kv = arch_u32(f, arch, "attention.head_count_kv", n_head);
	if (pl->n_layer == 80 && pl->n_expert != 8)
		pl->is_70b = gguf_str_eq(arch, "qwen2") || (gguf_str_eq(arch, "llama") && n_head != n_head_kv);
}

/* llama.cpp's quantize filter: 2-D (or 3-D expert) weights, not norms, not
 * the few small tensors it keeps in full precision. */
static bool should_quantize(const struct gguf_tensor_info *t)
{
	struct gguf_str s = t->name;
	return name_ends(s, "weight") && t->n_dims >= 2 && !name_has(s, "_norm.weight") &&
	       !name_has(s, "ffn_gate_inp.weight") && !name_eq(s, "position_embd.weight") &&
	       !name_eq(s, "token_types.weight") && !name_has(s, "ssm_conv1d.weight") &&
	       !name_has(s, "time_mix_first.weight") && !name_has(s, "time_mix_w1.weight") &&
	       !name_has(s, "time_mix_w2.weight") && !name_has(s, "time_mix_decay_w1.weight") &&
	       !name_has(s, "time_mix_decay_w2.weight") && !name_has(s, "time_mix_lerp_fused.weight") &&
	       !name_has(s, "attn_rel_b.weight");
}

/* Layers that get more bits in the _M mixes: the first and last eighth and
 * every third one between. */
static bool use_more_bits(long i, long n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* llama_tensor_get_type's choice for the file types above, before the
 * row-length check. `counter` stands in for the layer when a name has none. */
static enum ajar_type mix_type(const struct plan *pl, const struct gguf_tensor_info *t, long counter)
{
	struct gguf_str s = t->name;
	enum ajar_type type = pl->base;
	enum ajar_ftype ft = pl->ftype;
	bool k_m = ft == AJAR_FTYPE_MOSTLY_Q4_K_M, k_s = ft == AJAR_FTYPE_MOSTLY_Q4_K_S;
	long layer = name_layer(s) >= 0 ? name_layer(s) : counter;

	if (name_eq(s, "output.weight") || (!pl->has_output && name_eq(s, "token_embd.weight"))) {
		const struct ajar_type_traits *bt = ajar_type_traits(pl->base);
		if (t->ne[0] % bt->block_size != 0)
			return AJAR_TYPE_Q8_0;
		return pl->base != AJAR_TYPE_Q8_0 ? AJAR_TYPE_Q6_K : pl->base;
	}
	if (name_eq(s, "token_embd.weight"))
		return type;
	if (name_has(s, "attn_v.weight")) {
		if ((k_m || ft == AJAR_FTYPE_MOSTLY_Q5_K_M) && use_more_bits(layer, pl->n_attn_v))
			type = AJAR_TYPE_Q6_K;
		else if (k_s && layer < 4)
			type = AJAR_TYPE_Q5_K;
		if (pl->is_70b && (type == AJAR_TYPE_Q3_K || type == AJAR_TYPE_Q4_K))
			type = AJAR_TYPE_Q5_K;
		if (pl->n_expert == 8)
			type = AJAR_TYPE_Q8_0;
	} else if (name_has(s, "attn_k.weight")) {
		if (pl->n_expert == 8)
			type = AJAR_TYPE_Q8_0;
	} else if (name_has(s, "ffn_down")) {
		if ((k_m || ft == AJAR_FTYPE_MOSTLY_Q5_K_M) && use_more_bits(layer, pl->n_layer))
			type = AJAR_TYPE_Q6_K;
		else if (k_s && layer < pl->n_layer / 8)
			type = AJAR_TYPE_Q5_K;
	} else if (name_has(s, "attn_output.weight")) {
		if (pl->n_expert == 8 && (k_m || k_s))
			type = AJAR_TYPE_Q5_K;
	} else if (name_has(s, "attn_qkv.weight")) {
		if (k_m)
			type = AJAR_TYPE_Q5_K;
		else if (ft == AJAR_FTYPE_MOSTLY_Q5_K_M)
			type = AJAR_TYPE_Q6_K;
	}
	return type;
}

/* llama.cpp's fallback for a type whose block does not divide the row. It
 * throws for the 32-value types; ajar goes on to F16, llama.cpp's own last
 * resort for the K types. */
static enum ajar_type fallback_of(enum ajar_type t)
{
	switch (t) {
	case AJAR_TYPE_Q4_K: return AJAR_TYPE_Q5_0;
	case AJAR_TYPE_Q5_K: return AJAR_TYPE_Q5_1;
	case AJAR_TYPE_Q6_K: return AJAR_TYPE_Q8_0;
	case AJAR_TYPE_Q2_K:
	case AJAR_TYPE_Q3_K: return AJAR_TYPE_IQ4_NL;
	default: return AJAR_TYPE_F16;
	}
}

struct choice {
	bool quantize;            /* false: copy unchanged */
	enum ajar_type wanted, to;
	char reason[160];         /* why `to` differs from `wanted` */
};

static void choose(const struct plan *pl, const struct gguf_tensor_info *t, long counter, struct choice *c)
{
	size_t rl = 0;

	memset(c, 0, sizeof(*c));
	c->wanted = c->to = (enum ajar_type)t->type;
	if (!should_quantize(t))
		return;
	c->wanted = pl->base;
	if (!pl->pure && type_is_quantized(pl->base))
		c->wanted = mix_type(pl, t, counter);
	/* Walk the fallback chain until a type fits the row and has a
	 * quantizer; F16 always does. */
	c->to = c->wanted;
	for (;;) {
		const struct ajar_type_traits *tr = ajar_type_traits(c->to);
		const char *why = NULL;
		char buf[96];
		if (t->ne[0] % tr->block_size != 0) {
			snprintf(buf, sizeof(buf), "rows of %llu are not whole %s blocks of %u",
				 (unsigned long long)t->ne[0], tr->name, tr->block_size);
			why = buf;
		} else if (!tr->has_kernels) {
			snprintf(buf, sizeof(buf), "this build cannot quantize to %s yet", tr->name);
			why = buf;
		}
		if (!why)
			break;
		if (rl < sizeof(c->reason))
			rl += (size_t)snprintf(c->reason + rl, sizeof(c->reason) - rl, "%s%s", rl ? "; " : "", why);
		c->to = fallback_of(c->to);
	}
	c->quantize = c->to != (enum ajar_type)t->type;
}

/* ---- conversion ---------------------------------------------------------------- */

/* Rows of one tensor, converted by the pool's threads. */
struct convert_task {
	const uint8_t *src;       /* rows of in_row bytes; borrowed from the mapping */
	enum ajar_type from, to;
	int64_t n_per_row;
	long n_rows;
	size_t in_row, out_row;
	uint8_t *dst;             /* rows of out_row bytes */
	float *bufs;              /* [n_threads][n_per_row] scratch */
	atomic_long bad_row;      /* first row found with a non-finite value, or LONG_MAX */
};

static void convert_rows(void *arg, int ith, int nth)
{
	struct convert_task *ct = arg;
	float *buf = ct->bufs + (size_t)ith * (size_t)ct->n_per_row;
	long b, e;

	threadpool_split(ct->n_rows, ith, nth, &b, &e);
	for (long r = b; r < e; r++) {
		bool finite = true;
		ajar_dequantize_row(ct->from, ct->src + (size_t)r * ct->in_row, buf, ct->n_per_row);
		for (int64_t i = 0; i < ct->n_per_row; i++)
			finite &= isfinite(buf[i]) != 0;
		if (!finite) {
			long seen = atomic_load(&ct->bad_row);
			while (r < seen && !atomic_compare_exchange_weak(&ct->bad_row, &seen, r))
				;
			continue;
		}
		ajar_quantize_row(ct->to, buf, ct->dst + (size_t)r * ct->out_row, ct->n_per_row);
	}
}

/* Converts tensor t to c->to into *out (caller frees). */
static enum ajar_err convert_tensor(struct threadpool *pool, float *bufs, const struct gguf_tensor_info *t,
				    const struct choice *c, uint8_t **out, uint64_t *out_bytes)
{
	const struct ajar_type_traits *from = ajar_type_traits(t->type);
	uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
	struct convert_task ct = {
		.src = t->data, .from = (enum ajar_type)t->type, .to = c->to, .n_per_row = (int64_t)t->ne[0],
		.n_rows = (long)rows, .in_row = ajar_row_size((enum ajar_type)t->type, (int64_t)t->ne[0]),
		.out_row = ajar_row_size(c->to, (int64_t)t->ne[0]), .bufs = bufs,
	};

	*out = NULL;
	if (!from || !from->has_kernels)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "tensor '%.*s': cannot convert from %s (ajar has no kernels for it)",
				 (int)t->name.len, t->name.data, ajar_type_name(t->type));
	if (!t->data)
		return ajar_errf(AJAR_ERR_FORMAT, "tensor '%.*s' has no data (vocab-only file?)", (int)t->name.len,
				 t->name.data);
	if (rows && ct.out_row > SIZE_MAX / rows)
		return ajar_errf(AJAR_ERR_LIMIT, "tensor '%.*s' is too large", (int)t->name.len, t->name.data);
	*out_bytes = (uint64_t)ct.out_row * rows;
	ct.dst = malloc(*out_bytes ? (size_t)*out_bytes : 1);
	if (!ct.dst)
		return ajar_errf(AJAR_ERR_NOMEM, "tensor '%.*s': no memory for %llu bytes", (int)t->name.len, t->name.data,
				 (unsigned long long)*out_bytes);
	atomic_init(&ct.bad_row, LONG_MAX);
	threadpool_run(pool, convert_rows, &ct);
	long bad = atomic_load(&ct.bad_row);
	if (bad != LONG_MAX) {
		free(ct.dst);
		return ajar_errf(AJAR_ERR_FORMAT, "tensor '%.*s': row %ld has a value that is not finite", (int)t->name.len,
				 t->name.data, bad);
	}
	*out = ct.dst;
	return AJAR_OK;
}

/* ---- the file ------------------------------------------------------------------ */

/* A NUL-terminated copy of s (caller frees), or NULL. */
static char *str_dup(struct gguf_str s)
{
	char *p = malloc((size_t)s.len + 1);
	if (p) {
		memcpy(p, s.data, (size_t)s.len);
		p[s.len] = '\0';
	}
	return p;
}

/* Every kv of f but split.*, then the file type and quantization version. */
static enum ajar_err copy_metadata(struct gguf_writer *w, const struct gguf_file *f, enum ajar_ftype ftype)
{
	enum ajar_err err;
	uint32_t n_split = 1;

	if (gguf_get_u32(f, "split.count", &n_split) == AJAR_OK && n_split > 1)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "the input is one of %u split files; merge them first", n_split);
	for (size_t i = 0; i < gguf_n_kv(f); i++) {
		const struct gguf_kv *kv = gguf_kv_at(f, i);
		if (kv->key.len >= 6 && memcmp(kv->key.data, "split.", 6) == 0)
			continue;
		char *key = str_dup(kv->key);
		if (!key)
			return ajar_errf(AJAR_ERR_NOMEM, "metadata");
		err = gguf_writer_set(w, key, &kv->value);
		free(key);
		if (err)
			return err;
	}
	if ((err = gguf_writer_set_u32(w, "general.quantization_version", QNT_VERSION)) ||
	    (err = gguf_writer_set_u32(w, "general.file_type", (uint32_t)ftype)))
		return err;
	return AJAR_OK;
}

/* State of one run, shared by the steps below. */
struct quantize_run {
	const struct ajar_quantize_params *p;
	const struct gguf_file *f;
	struct gguf_writer *w;
	struct threadpool *pool;
	struct plan pl;
	float *bufs;      /* [n_threads][longest row] scratch; owned */
	uint8_t **outs;   /* [n_tensors] converted data, owned; NULL where copied */
	long counter_v, counter_down;
	struct ajar_quantize_stats st;
};

/* Chooses tensor i's type, converts it if needed, adds it to the writer
 * and reports it. */
static enum ajar_err add_tensor(struct quantize_run *q, size_t i)
{
	const struct gguf_tensor_info *t = gguf_tensor_at(q->f, i);
	const void *data = t->data;
	uint64_t bytes = t->size;
	struct choice c;
	enum ajar_err err;

	/* Counters stand in for a layer number missing from the name. */
	long counter = name_has(t->name, "attn_v.weight") ? q->counter_v++
		       : name_has(t->name, "ffn_down") ? q->counter_down++ : 0;
	choose(&q->pl, t, counter, &c);
	if (c.quantize) {
		if ((err = convert_tensor(q->pool, q->bufs, t, &c, &q->outs[i], &bytes)))
			return err;
		data = q->outs[i];
		q->st.n_converted++;
	} else if (!t->data && t->size) {
		return ajar_errf(AJAR_ERR_FORMAT, "tensor '%.*s' has no data (vocab-only file?)", (int)t->name.len,
				 t->name.data);
	}
	char *name = str_dup(t->name);
	if (!name)
		return ajar_errf(AJAR_ERR_NOMEM, "tensor name");
	err = gguf_writer_add_tensor(q->w, name, c.to, t->n_dims, t->ne, data);
	free(name);
	if (err)
		return err;
	bool fallback = c.to != c.wanted;
	q->st.n_fallback += fallback;
	q->st.bytes_in += t->size;
	q->st.bytes_out += bytes;
	if (q->p->on_tensor) {
		struct ajar_quantize_tensor rep = {
			.index = i, .count = gguf_n_tensors(q->f), .info = t, .to_type = c.to, .wanted_type = c.wanted,
			.converted = c.quantize, .fallback = fallback, .fallback_reason = fallback ? c.reason : NULL,
			.bytes_out = bytes,
		};
		q->p->on_tensor(q->p->user, &rep);
	}
	return AJAR_OK;
}

enum ajar_err ajar_quantize_file(const char *in_path, const char *out_path, const struct ajar_quantize_params *p,
				 struct ajar_quantize_stats *stats)
{
	const struct ftype_entry *fe = ftype_entry(p->ftype);
	struct quantize_run q = { .p = p };
	struct gguf_file *f = NULL;
	enum ajar_err err;
	size_t n = 0;

	if (!fe)
		return ajar_errf(AJAR_ERR_INVALID, "file type %d is not one ajar can produce", (int)p->ftype);
	if (!ajar_type_traits(fe->base)->has_kernels)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "%s needs %s quantization, which this build does not have yet",
				 ajar_ftype_name(fe->ftype), ajar_type_name(fe->base));
	if ((err = gguf_open(in_path, &f)))
		return err;
	q.f = f;
	n = gguf_n_tensors(f);
	if (n == 0) {
		err = ajar_errf(AJAR_ERR_FORMAT, "%s has no tensors (vocab-only file?)", in_path);
		goto out;
	}
	plan_init(&q.pl, f, fe, p->pure);

	int n_threads = p->n_threads > 0 ? p->n_threads : threadpool_ncpu();
	uint64_t max_row = 0;
	for (size_t i = 0; i < n; i++)
		if (gguf_tensor_at(f, i)->ne[0] > max_row)
			max_row = gguf_tensor_at(f, i)->ne[0];
	if (max_row > (SIZE_MAX / sizeof(float)) / (size_t)n_threads) {
		err = ajar_errf(AJAR_ERR_LIMIT, "rows of %llu values are too long", (unsigned long long)max_row);
		goto out;
	}
	q.outs = calloc(n, sizeof(*q.outs));
	q.bufs = malloc((size_t)n_threads * (size_t)max_row * sizeof(float) + 1);
	if (!q.outs || !q.bufs) {
		err = ajar_errf(AJAR_ERR_NOMEM, "quantize buffers");
		goto out;
	}
	if ((err = threadpool_new(n_threads, &q.pool)) || (err = gguf_writer_new(&q.w)) ||
	    (err = copy_metadata(q.w, f, fe->ftype)))
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((err = add_tensor(&q, i)))
			goto out;
	q.st.n_tensors = n;
	if ((err = gguf_writer_write(q.w, out_path)))
		goto out;
	if (stats)
		*stats = q.st;
out:
	if (q.outs)
		for (size_t i = 0; i < n; i++)
			free(q.outs[i]);
	free(q.outs);
	free(q.bufs);
	gguf_writer_free(q.w);
	threadpool_free(q.pool);
	gguf_close(f);
	return err;
}
