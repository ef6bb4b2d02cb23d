/*
 * vocab.c - loading a vocabulary from tokenizer.ggml.* metadata, the token
 * text -> id map, and the accessors of include/ajar/vocab.h.
 *
 * The load follows llama.cpp (llama-vocab.cpp, llama_vocab::impl::load at
 * commit c392e50) wherever that decides what tokens come out:
 *   1. tokenizer.ggml.model picks the algorithm and its default special ids
 *      and flags ("llama": BOS 1, EOS 2, UNK 0, add BOS, add space prefix);
 *   2. tokens (string array), scores (f32/i32, optional, 0 when absent) and
 *      token_type (integers, optional, NORMAL when absent; unknown values
 *      become UNDEFINED);
 *   3. special ids from *_token_id keys, add_bos/add_eos/add_space_prefix;
 *   4. the fix-ups llama.cpp applies by token text: EOT/EOM detection, the
 *      end-of-generation set, control-type override of end markers, and the
 *      Phi-3 right-strip attribute;
 *   5. the list of special tokens the partition step searches for.
 * Where llama.cpp only warns we are stricter, because a wrong vocabulary
 * makes every later answer wrong: a special id out of range, a score or type
 * array whose count differs from the token count, a duplicate token text and
 * add_bos without a BOS id are errors. The value -1 (or 4294967295, how
 * converters write "none" as u32) for an id means "no such token".
 */
#include "text/vocab_int.h"

#include <stdlib.h>
#include <string.h>

#include "ajar/gguf.h"

/* ---- token map --------------------------------------------------------- */

/* FNV-1a, 32-bit: token texts are short and the table stores the hash, so a
 * simple byte hash is enough. */
static uint32_t text_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

int32_t vocab_lookup(const struct ajar_vocab *v, const char *s, size_t len)
{
	if (len == 0 || len > v->max_token_len)
		return -1;
	uint32_t h = text_hash(s, len);
	size_t mask = v->map.cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		int32_t id = v->map.slots[i];
		if (id < 0)
			return -1;
		if (v->map.hashes[i] == h && v->tokens[id].text_len == len &&
		    memcmp(vocab_text_of(v, id), s, len) == 0)
			return id;
	}
}

/* Builds the map; empty texts are left out (nothing can look them up). */
static enum ajar_err map_build(struct ajar_vocab *v)
{
	size_t cap = 16;
	while (cap < 2 * (size_t)v->n_tokens)
		cap *= 2;
	v->map.slots = malloc(cap * sizeof(*v->map.slots));
	v->map.hashes = malloc(cap * sizeof(*v->map.hashes));
	if (!v->map.slots || !v->map.hashes)
		return ajar_errf(AJAR_ERR_NOMEM, "vocab: token map of %zu slots", cap);
	v->map.cap = cap;
	memset(v->map.slots, 0xff, cap * sizeof(*v->map.slots));
	for (int32_t id = 0; id < v->n_tokens; id++) {
		const struct vocab_token *t = &v->tokens[id];
		if (t->text_len == 0)
			continue;
		const char *s = vocab_text_of(v, id);
		uint32_t h = text_hash(s, t->text_len);
		size_t i = h & (cap - 1);
		while (v->map.slots[i] >= 0) {
			int32_t other = v->map.slots[i];
			if (v->map.hashes[i] == h && v->tokens[other].text_len == t->text_len &&
			    memcmp(vocab_text_of(v, other), s, t->text_len) == 0)
				return ajar_errf(AJAR_ERR_FORMAT, "vocab: tokens %d and %d have the same text '%.64s'",
						 other, id, s);
			i = (i + 1) & (cap - 1);
		}
		v->map.slots[i] = id;
		v->map.hashes[i] = h;
	}
	return AJAR_OK;
}

/* ---- metadata ---------------------------------------------------------- */

static enum ajar_err load_tokens(struct ajar_vocab *v, const struct gguf_file *f)
{
	const struct gguf_value *toks;
	enum ajar_err err = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks);
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: tokenizer.ggml.tokens is missing");
	if (err)
		return ajar_err_wrap(err, "vocab: tokenizer.ggml.tokens");
	uint64_t n = toks->v.arr.count;
	if (n == 0)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: tokenizer.ggml.tokens is empty");
	if (n > VOCAB_MAX_TOKENS)
		return ajar_errf(AJAR_ERR_LIMIT, "vocab: %llu tokens, more than the %d allowed",
				 (unsigned long long)n, VOCAB_MAX_TOKENS);

	uint64_t total = 0;
	for (uint64_t i = 0; i < n; i++) {
		const struct gguf_value *item = &toks->v.arr.items[i];
		if (item->type != GGUF_TYPE_STRING)
			return ajar_errf(AJAR_ERR_TYPE, "vocab: token %llu is a %s, not a string",
					 (unsigned long long)i, gguf_type_name(item->type));
		if (item->v.str.len > VOCAB_MAX_TOKEN_LEN)
			return ajar_errf(AJAR_ERR_LIMIT, "vocab: token %llu is %llu bytes long, more than %d",
					 (unsigned long long)i, (unsigned long long)item->v.str.len, VOCAB_MAX_TOKEN_LEN);
		total += item->v.str.len + 1;
		if (total > UINT32_MAX)
			return ajar_errf(AJAR_ERR_LIMIT, "vocab: token texts exceed 4 GiB");
	}

	v->n_tokens = (int32_t)n;
	v->tokens = calloc(n, sizeof(*v->tokens));
	v->text = malloc(total);
	if (!v->tokens || !v->text)
		return ajar_errf(AJAR_ERR_NOMEM, "vocab: %llu tokens", (unsigned long long)n);
	v->text_size = total;
	size_t off = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct gguf_str s = toks->v.arr.items[i].v.str;
		struct vocab_token *t = &v->tokens[i];
		t->text_off = (uint32_t)off;
		t->text_len = (uint32_t)s.len;
		t->type = AJAR_TOKEN_NORMAL;
		t->byte = -1;
		if (s.len)
			memcpy(v->text + off, s.data, s.len);
		v->text[off + s.len] = '\0';
		off += s.len + 1;
		if (s.len > v->max_token_len)
			v->max_token_len = (uint32_t)s.len;
	}
	return AJAR_OK;
}

/* An optional per-token array: absent is fine, anything else must be an
 * array of one of the element types allowed and have one entry per token. */
static enum ajar_err get_token_array(const struct ajar_vocab *v, const struct gguf_file *f, const char *key,
				     enum gguf_type t1, enum gguf_type t2, const struct gguf_value **out)
{
	*out = NULL;
	const struct gguf_value *arr;
	enum ajar_err err = gguf_get_arr(f, key, GGUF_TYPE_COUNT, &arr);
	if (err == AJAR_ERR_NOT_FOUND)
		return AJAR_OK;
	if (err)
		return ajar_err_wrap(err, "vocab: %s", key);
	if (arr->v.arr.elem_type != t1 && arr->v.arr.elem_type != t2)
		return ajar_errf(AJAR_ERR_TYPE, "vocab: %s is an array of %s, expected %s", key,
				 gguf_type_name(arr->v.arr.elem_type), gguf_type_name(t1));
	if (arr->v.arr.count != (uint64_t)v->n_tokens)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: %s has %llu entries for %d tokens", key,
				 (unsigned long long)arr->v.arr.count, v->n_tokens);
	*out = arr;
	return AJAR_OK;
}

static enum ajar_err load_scores_types(struct ajar_vocab *v, const struct gguf_file *f)
{
	const struct gguf_value *scores, *types;
	enum ajar_err err = get_token_array(v, f, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, GGUF_TYPE_INT32, &scores);
	if (err)
		return err;
	err = get_token_array(v, f, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, GGUF_TYPE_UINT32, &types);
	if (err)
		return err;
	for (int32_t i = 0; i < v->n_tokens; i++) {
		struct vocab_token *t = &v->tokens[i];
		if (scores)
			t->score = (float)gguf_arr_f64(scores, (uint64_t)i);
		if (types) {
			int64_t ty = gguf_arr_i64(types, (uint64_t)i);
			t->type = ty >= AJAR_TOKEN_NORMAL && ty <= AJAR_TOKEN_BYTE ? (uint8_t)ty : AJAR_TOKEN_UNDEFINED;
		}
	}
	return AJAR_OK;
}

/* Reads an optional token id; keeps *id when the key is absent. */
static enum ajar_err read_id(const struct ajar_vocab *v, const struct gguf_file *f, const char *key, int32_t *id)
{
	int64_t x;
	enum ajar_err err = gguf_get_i64(f, key, &x);
	if (err == AJAR_ERR_NOT_FOUND)
		return AJAR_OK;
	if (err)
		return ajar_err_wrap(err, "vocab: %s", key);
	if (x == -1 || x == (int64_t)UINT32_MAX) {
		*id = -1;
		return AJAR_OK;
	}
	if (x < 0 || x >= v->n_tokens)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: %s = %lld is out of range (%d tokens)", key, (long long)x,
				 v->n_tokens);
	*id = (int32_t)x;
	return AJAR_OK;
}

static enum ajar_err read_flag(const struct gguf_file *f, const char *key, bool *flag)
{
	enum ajar_err err = gguf_get_bool(f, key, flag);
	if (err == AJAR_ERR_NOT_FOUND)
		return AJAR_OK;
	if (err)
		return ajar_err_wrap(err, "vocab: %s", key);
	return AJAR_OK;
}

static void set_defaults(struct ajar_vocab *v)
{
	v->bos = v->eos = v->unk = v->sep = v->pad = v->mask = v->eot = v->eom = -1;
	switch (v->model) {
	case VOCAB_MODEL_SPM:
		v->bos = 1;
		v->eos = 2;
		v->unk = 0;
		v->add_bos = true;
		v->add_space_prefix = true;
		break;
	case VOCAB_MODEL_BPE:
		v->bos = 11;
		v->eos = 11;
		break;
	case VOCAB_MODEL_WPM:
		v->bos = 101;
		v->unk = 100;
		v->sep = 102;
		v->pad = 0;
		v->mask = 103;
		v->add_bos = true;
		v->add_sep = true;
		break;
	}
	/* A default that the vocabulary is too small for means "none". */
	int32_t *ids[] = { &v->bos, &v->eos, &v->unk, &v->sep, &v->pad, &v->mask };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (*ids[i] >= v->n_tokens)
			*ids[i] = -1;
}

static enum ajar_err load_special(struct ajar_vocab *v, const struct gguf_file *f)
{
	static const struct {
		const char *key;
		size_t field;
	} keys[] = {
		{ "tokenizer.ggml.bos_token_id", offsetof(struct ajar_vocab, bos) },
		{ "tokenizer.ggml.eos_token_id", offsetof(struct ajar_vocab, eos) },
		{ "tokenizer.ggml.unknown_token_id", offsetof(struct ajar_vocab, unk) },
		{ "tokenizer.ggml.seperator_token_id", offsetof(struct ajar_vocab, sep) }, /* sic, as GGUF spells it */
		{ "tokenizer.ggml.padding_token_id", offsetof(struct ajar_vocab, pad) },
		{ "tokenizer.ggml.mask_token_id", offsetof(struct ajar_vocab, mask) },
		{ "tokenizer.ggml.eot_token_id", offsetof(struct ajar_vocab, eot) },
		{ "tokenizer.ggml.eom_token_id", offsetof(struct ajar_vocab, eom) },
	};
	enum ajar_err err;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		err = read_id(v, f, keys[i].key, (int32_t *)((char *)v + keys[i].field));
		if (err)
			return err;
	}
	if ((err = read_flag(f, "tokenizer.ggml.add_bos_token", &v->add_bos)) ||
	    (err = read_flag(f, "tokenizer.ggml.add_eos_token", &v->add_eos)) ||
	    (err = read_flag(f, "tokenizer.ggml.add_sep_token", &v->add_sep)) ||
	    (err = read_flag(f, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix)))
		return err;
	if (v->add_bos && v->bos < 0)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: add_bos_token is true but there is no BOS token");
	if (v->add_eos && v->eos < 0)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: add_eos_token is true but there is no EOS token");
	if (v->add_sep && v->sep < 0)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: add_sep_token is true but there is no SEP token");
	return AJAR_OK;
}

static bool text_in(const struct ajar_vocab *v, int32_t id, const char *const *list)
{
	const struct vocab_token *t = &v->tokens[id];
	for (; *list; list++)
		if (strlen(*list) == t->text_len && memcmp(*list, vocab_text_of(v, id), t->text_len) == 0)
			return true;
	return false;
}

/*
 * llama.cpp recognises end markers by their text because converters often
 * do not record them (ref. llama.cpp issue 9606). These are its lists at
 * c392e50; tokens found this way are made CONTROL if they were not.
 */
static const char *const eot_texts[] = {
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
	"<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", /* DeepSeek "<｜end▁of▁sentence｜>" */
	NULL,
};
static const char *const eom_texts[] = { "<|eom_id|>", NULL };
static const char *const eog_texts[] = {
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", NULL,
};

static void mark_control(struct ajar_vocab *v, int32_t id)
{
	v->tokens[id].type = AJAR_TOKEN_CONTROL;
}

static void detect_eog(struct ajar_vocab *v)
{
	for (int32_t id = 0; id < v->n_tokens; id++) {
		if (v->eot < 0 && text_in(v, id, eot_texts)) {
			v->eot = id;
			mark_control(v, id);
		}
		if (v->eom < 0 && text_in(v, id, eom_texts)) {
			v->eom = id;
			mark_control(v, id);
		}
		if (text_in(v, id, eog_texts)) {
			v->tokens[id].flags |= VOCAB_FLAG_EOG;
			mark_control(v, id);
		}
	}
	int32_t ends[] = { v->eos, v->eot, v->eom };
	for (size_t i = 0; i < 3; i++)
		if (ends[i] >= 0)
			v->tokens[ends[i]].flags |= VOCAB_FLAG_EOG;
}

/*
 * Fill-in-the-middle markers, as llama.cpp c392e50 finds them: from the
 * tokenizer.ggml.fim_*_token_id keys (prefix/suffix/middle_token_id are the
 * older names), else by text, the first id whose text is in the list, made
 * CONTROL like the end markers. FIM pad, repo and file separator end
 * generation.
 */
static const char *const fim_texts[6][6] = {
	{ "<|fim_prefix|>", "<fim-prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
	  "\xe2\x96\x81<PRE>", NULL },
	{ "<|fim_suffix|>", "<fim-suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>", "<SUF>",
	  "\xe2\x96\x81<SUF>", NULL },
	{ "<|fim_middle|>", "<fim-middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
	  "\xe2\x96\x81<MID>", NULL },
	{ "<|fim_pad|>", "<fim-pad>", "<PAD>", NULL },
	{ "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", NULL },
	{ "<|file_sep|>", NULL },
};

static enum ajar_err detect_fim(struct ajar_vocab *v, const struct gguf_file *f)
{
	static const char *const keys[6] = {
		"tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.fim_mid_token_id",
		"tokenizer.ggml.fim_pad_token_id", "tokenizer.ggml.fim_rep_token_id", "tokenizer.ggml.fim_sep_token_id",
	};
	static const char *const old_keys[3] = {
		"tokenizer.ggml.prefix_token_id", "tokenizer.ggml.suffix_token_id", "tokenizer.ggml.middle_token_id",
	};
	int32_t ids[6];
	enum ajar_err err;
	for (size_t k = 0; k < 6; k++) {
		ids[k] = -1;
		if ((err = read_id(v, f, keys[k], &ids[k])) || (k < 3 && (err = read_id(v, f, old_keys[k], &ids[k]))))
			return err;
	}
	for (int32_t id = 0; id < v->n_tokens; id++)
		for (size_t k = 0; k < 6; k++)
			if (ids[k] < 0 && text_in(v, id, fim_texts[k])) {
				ids[k] = id;
				mark_control(v, id);
			}
	for (size_t k = 3; k < 6; k++)
		if (ids[k] >= 0)
			v->tokens[ids[k]].flags |= VOCAB_FLAG_EOG;
	return AJAR_OK;
}

static bool is_special_type(uint8_t type)
{
	return type == AJAR_TOKEN_CONTROL || type == AJAR_TOKEN_USER_DEFINED || type == AJAR_TOKEN_UNKNOWN;
}

/* llama.cpp sets per-token strip attributes by model name; of its rules only
 * Phi-3's concerns the tokenizers here: every special token, and "</s>",
 * eats the whitespace after it, except <unk>, <s> and <|endoftext|>. */
static void apply_name_rules(struct ajar_vocab *v, const struct gguf_file *f)
{
	struct gguf_str name;
	if (gguf_get_str(f, "general.name", &name) != AJAR_OK)
		return;
	bool phi3 = false;
	for (uint64_t i = 0; i < name.len && !phi3; i++) {
		static const char *const pats[] = { "phi-3", "phi3" };
		for (size_t p = 0; p < 2; p++) {
			size_t n = strlen(pats[p]);
			if (name.len - i < n)
				continue;
			size_t k = 0;
			while (k < n) {
				char c = name.data[i + k];
				if (c >= 'A' && c <= 'Z')
					c = (char)(c - 'A' + 'a');
				if (c != pats[p][k])
					break;
				k++;
			}
			if (k == n)
				phi3 = true;
		}
	}
	if (!phi3)
		return;
	for (int32_t id = 0; id < v->n_tokens; id++)
		if (is_special_type(v->tokens[id].type))
			v->tokens[id].flags |= VOCAB_FLAG_RSTRIP;
	static const char *const on[] = { "</s>", NULL };
	static const char *const off[] = { "<unk>", "<s>", "<|endoftext|>", NULL };
	for (int32_t id = 0; id < v->n_tokens; id++) {
		if (text_in(v, id, on))
			v->tokens[id].flags |= VOCAB_FLAG_RSTRIP;
		if (text_in(v, id, off))
			v->tokens[id].flags &= (uint8_t)~VOCAB_FLAG_RSTRIP;
	}
}

struct special_key {
	uint32_t len;
	int32_t id;
};

static int special_key_cmp(const void *a, const void *b)
{
	const struct special_key *x = a, *y = b;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static enum ajar_err build_special_list(struct ajar_vocab *v)
{
	size_t n = 0;
	for (int32_t id = 0; id < v->n_tokens; id++)
		if (is_special_type(v->tokens[id].type) && v->tokens[id].text_len > 0)
			n++;
	if (n == 0)
		return AJAR_OK;
	struct special_key *keys = malloc(n * sizeof(*keys));
	v->special_ids = malloc(n * sizeof(*v->special_ids));
	if (!keys || !v->special_ids) {
		free(keys);
		return ajar_errf(AJAR_ERR_NOMEM, "vocab: special token list");
	}
	size_t k = 0;
	for (int32_t id = 0; id < v->n_tokens; id++)
		if (is_special_type(v->tokens[id].type) && v->tokens[id].text_len > 0)
			keys[k++] = (struct special_key){ v->tokens[id].text_len, id };
	qsort(keys, n, sizeof(*keys), special_key_cmp);
	for (size_t i = 0; i < n; i++)
		v->special_ids[i] = keys[i].id;
	v->n_special = n;
	free(keys);
	return AJAR_OK;
}

enum ajar_err vocab_load(const struct gguf_file *f, struct ajar_vocab **out)
{
	*out = NULL;
	struct gguf_str model;
	enum ajar_err err = gguf_get_str(f, "tokenizer.ggml.model", &model);
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(AJAR_ERR_FORMAT, "vocab: tokenizer.ggml.model is missing");
	if (err)
		return ajar_err_wrap(err, "vocab: tokenizer.ggml.model");

	struct ajar_vocab *v = calloc(1, sizeof(*v));
	if (!v)
		return ajar_errf(AJAR_ERR_NOMEM, "vocab");
	if (gguf_str_eq(model, "llama")) {
		v->model = VOCAB_MODEL_SPM;
	} else if (gguf_str_eq(model, "gpt2")) {
		v->model = VOCAB_MODEL_BPE;
	} else if (gguf_str_eq(model, "bert")) {
		v->model = VOCAB_MODEL_WPM;
	} else {
		err = ajar_errf(AJAR_ERR_UNSUPPORTED, "vocab: tokenizer model '%.*s' is not supported",
				(int)(model.len > 64 ? 64 : model.len), model.data);
		goto fail;
	}

	if ((err = load_tokens(v, f)) || (err = load_scores_types(v, f)) || (err = map_build(v)))
		goto fail;
	set_defaults(v);
	if ((err = load_special(v, f)))
		goto fail;
	detect_eog(v);
	if ((err = detect_fim(v, f)))
		goto fail;
	apply_name_rules(v, f);
	if ((err = build_special_list(v)))
		goto fail;

	switch (v->model) {
	case VOCAB_MODEL_SPM:
		err = spm_init(v);
		break;
	case VOCAB_MODEL_BPE:
		err = bpe_init(v, f);
		break;
	case VOCAB_MODEL_WPM:
		err = wpm_init(v);
		break;
	}
	if (err)
		goto fail;
	*out = v;
	return AJAR_OK;
fail:
	vocab_free(v);
	return err;
}

void vocab_free(struct ajar_vocab *v)
{
	if (!v)
		return;
	if (v->model == VOCAB_MODEL_BPE)
		bpe_free(v);
	free(v->tokens);
	free(v->text);
	free(v->map.slots);
	free(v->map.hashes);
	free(v->special_ids);
	free(v);
}

/* ---- accessors --------------------------------------------------------- */

static bool valid_id(const struct ajar_vocab *v, int32_t id)
{
	return id >= 0 && id < v->n_tokens;
}

int32_t vocab_n_tokens(const struct ajar_vocab *v)
{
	return v->n_tokens;
}

int32_t vocab_bos(const struct ajar_vocab *v)
{
	return v->bos;
}

int32_t vocab_eos(const struct ajar_vocab *v)
{
	return v->eos;
}

bool vocab_add_bos(const struct ajar_vocab *v)
{
	return v->add_bos;
}

bool vocab_add_eos(const struct ajar_vocab *v)
{
	return v->add_eos;
}

int32_t vocab_sep(const struct ajar_vocab *v)
{
	return v->sep;
}

bool vocab_add_sep(const struct ajar_vocab *v)
{
	/* Only WordPiece appends it (llama.cpp c392e50 reads no add_sep_token). */
	return v->model == VOCAB_MODEL_WPM && v->add_sep;
}

bool vocab_is_eog(const struct ajar_vocab *v, int32_t id)
{
	return valid_id(v, id) && (v->tokens[id].flags & VOCAB_FLAG_EOG);
}

enum ajar_token_type vocab_token_type(const struct ajar_vocab *v, int32_t id)
{
	return valid_id(v, id) ? (enum ajar_token_type)v->tokens[id].type : AJAR_TOKEN_UNDEFINED;
}

const char *vocab_token_text(const struct ajar_vocab *v, int32_t id)
{
	return valid_id(v, id) ? vocab_text_of(v, id) : NULL;
}
