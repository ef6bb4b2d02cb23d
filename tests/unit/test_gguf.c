/*
 * test_gguf.c - the GGUF reader and writer on real files and on files the
 * writer builds: fixture metadata and shapes, every fixture opening, byte-for-
 * byte round trips, every value type (nested arrays included), the getters'
 * conversion rules, and the writer's refusals.
 *
 * With AJAR_GGUF_CORPUS=<dir> set, also writes the fuzz seed files there (see
 * tests/fuzz/README.md).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ajar/gguf.h"
#include "ajar/tensor.h"
#include "check.h"

static char tmp_dir[64];

/* tmp_dir/name in a static buffer. */
static const char *tmp_path(const char *name)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "%s/%s", tmp_dir, name);
	return buf;
}

/* The whole file, malloc'd (caller frees), or NULL. */
static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(fp);
	return buf;
}

/* A NUL-terminated copy of s (caller frees). */
static char *cstr(struct gguf_str s)
{
	char *c = malloc(s.len + 1);
	if (c) {
		memcpy(c, s.data, s.len);
		c[s.len] = '\0';
	}
	return c;
}

/* Writes every kv and tensor of f, in order, to path. */
static enum ajar_err copy_gguf(const struct gguf_file *f, const char *path)
{
	struct gguf_writer *w;
	enum ajar_err err = gguf_writer_new(&w);

	for (size_t i = 0; !err && i < gguf_n_kv(f); i++) {
		const struct gguf_kv *kv = gguf_kv_at(f, i);
		char *key = cstr(kv->key);
		err = gguf_writer_set(w, key, &kv->value);
		free(key);
	}
	for (size_t i = 0; !err && i < gguf_n_tensors(f); i++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(f, i);
		char *name = cstr(t->name);
		err = gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data);
		free(name);
	}
	if (!err)
		err = gguf_writer_write(w, path);
	gguf_writer_free(w);
	return err;
}

/* Deep equality of two values. */
static bool value_eq(const struct gguf_value *a, const struct gguf_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case GGUF_TYPE_STRING:
		return a->v.str.len == b->v.str.len && memcmp(a->v.str.data, b->v.str.data, a->v.str.len) == 0;
	case GGUF_TYPE_ARRAY: {
		if (a->v.arr.elem_type != b->v.arr.elem_type || a->v.arr.count != b->v.arr.count)
			return false;
		size_t es = gguf_type_size(a->v.arr.elem_type);
		if (es)
			return a->v.arr.count == 0 || memcmp(a->v.arr.raw, b->v.arr.raw, es * a->v.arr.count) == 0;
		for (uint64_t i = 0; i < a->v.arr.count; i++)
			if (!value_eq(&a->v.arr.items[i], &b->v.arr.items[i]))
				return false;
		return true;
	}
	case GGUF_TYPE_FLOAT32:
	case GGUF_TYPE_FLOAT64: return memcmp(&a->v.f64, &b->v.f64, sizeof(double)) == 0;
	default: return a->v.u64 == b->v.u64;
	}
}

/* Opens `rel` (a fixture), writes it back, and checks the copy. Returns true
 * if the whole file came back byte for byte. */
static bool round_trip(const char *path)
{
	struct gguf_file *f = NULL, *g = NULL;
	size_t n_src = 0, n_dst = 0;
	bool same = false;

	CHECK_OK(gguf_open(path, &f));
	if (!f)
		return false;
	CHECK_OK(copy_gguf(f, tmp_path("copy.gguf")));
	CHECK_OK(gguf_open(tmp_path("copy.gguf"), &g));
	if (g) {
		CHECK_EQ_INT(gguf_n_kv(g), gguf_n_kv(f));
		CHECK_EQ_INT(gguf_n_tensors(g), gguf_n_tensors(f));
		for (size_t i = 0; i < gguf_n_kv(f) && i < gguf_n_kv(g); i++) {
			CHECK(gguf_kv_at(f, i)->key.len == gguf_kv_at(g, i)->key.len);
			CHECK(value_eq(&gguf_kv_at(f, i)->value, &gguf_kv_at(g, i)->value));
		}
		/* The data section must match whatever layout the source used. */
		for (size_t i = 0; i < gguf_n_tensors(f) && i < gguf_n_tensors(g); i++) {
			const struct gguf_tensor_info *a = gguf_tensor_at(f, i), *b = gguf_tensor_at(g, i);
			CHECK(a->size == b->size && memcmp(a->data, b->data, a->size) == 0);
		}
		gguf_close(g);
	}
	uint8_t *src = read_all(path, &n_src), *dst = read_all(tmp_path("copy.gguf"), &n_dst);
	same = src && dst && n_src == n_dst && memcmp(src, dst, n_src) == 0;
	free(src);
	free(dst);
	gguf_close(f);
	unlink(tmp_path("copy.gguf"));
	return same;
}

/* ---- the fixture model --------------------------------------------------------------- */

static void test_stories260k(void)
{
	struct gguf_file *f = NULL;
	struct gguf_str s = { 0 };
	uint32_t u = 0;
	float eps = 0;

	CHECK_OK(gguf_open(fixture_path("models/stories260K.gguf"), &f));
	if (!f)
		return;
	CHECK_EQ_INT(gguf_version(f), 3);
	CHECK_EQ_INT(gguf_alignment(f), 32);
	CHECK_EQ_INT(gguf_file_size(f), 1185376);
	CHECK_EQ_INT(gguf_data_offset(f), 14176); /* metadata ends at 14152 */
	CHECK_EQ_INT(gguf_n_kv(f), 19);
	CHECK(gguf_str_eq(gguf_kv_at(f, 0)->key, "tokenizer.ggml.tokens"));
	CHECK(gguf_kv_at(f, 19) == NULL);

	CHECK_OK(gguf_get_str(f, "general.architecture", &s));
	CHECK(gguf_str_eq(s, "llama"));
	CHECK_OK(gguf_get_u32(f, "llama.context_length", &u));
	CHECK_EQ_INT(u, 128);
	CHECK_OK(gguf_get_u32(f, "llama.embedding_length", &u));
	CHECK_EQ_INT(u, 64);
	CHECK_OK(gguf_get_u32(f, "llama.block_count", &u));
	CHECK_EQ_INT(u, 5);
	CHECK_OK(gguf_get_u32(f, "tokenizer.ggml.padding_token_id", &u));
	CHECK_EQ_INT(u, 4294967295u);
	CHECK_OK(gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &eps));
	CHECK_NEAR(eps, 1e-5, 1e-12);

	/* absent key: NOT_FOUND and the default left alone */
	u = 10000;
	CHECK_EQ_INT(gguf_get_u32(f, "llama.rope.freq_base", &u), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(u, 10000);
	CHECK(gguf_find(f, "general.alignment") == NULL);
	CHECK(gguf_find(f, "llama") == NULL);
	CHECK(gguf_find(f, "") == NULL);
	/* wrong type */
	CHECK_EQ_INT(gguf_get_u32(f, "general.architecture", &u), AJAR_ERR_TYPE);
	CHECK(strstr(ajar_err_msg(), "general.architecture") != NULL);
	bool b;
	CHECK_EQ_INT(gguf_get_bool(f, "llama.block_count", &b), AJAR_ERR_TYPE);

	const struct gguf_value *tokens = NULL, *scores = NULL, *types = NULL;
	CHECK_OK(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tokens));
	CHECK_OK(gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, &scores));
	CHECK_OK(gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_TYPE_COUNT, &types));
	CHECK_EQ_INT(gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_TYPE_INT32, &types), AJAR_ERR_TYPE);
	if (tokens && scores && types) {
		CHECK_EQ_INT(tokens->v.arr.count, 512);
		CHECK(gguf_str_eq(tokens->v.arr.items[0].v.str, "<unk>"));
		CHECK(gguf_str_eq(tokens->v.arr.items[1].v.str, "<s>"));
		CHECK(gguf_str_eq(tokens->v.arr.items[2].v.str, "</s>"));
		CHECK(tokens->v.arr.items[511].type == GGUF_TYPE_STRING);
		CHECK_EQ_INT(scores->v.arr.count, 512);
		CHECK_EQ_INT(types->v.arr.elem_type, GGUF_TYPE_INT32);
		CHECK_EQ_INT(gguf_arr_i64(types, 0), 2); /* unknown */
		CHECK_EQ_INT(gguf_arr_i64(types, 1), 3); /* control */
		CHECK_EQ_INT(gguf_arr_i64(types, 3), 6); /* byte <0x00> */
		CHECK_NEAR(gguf_arr_f64(scores, 0), 0.0, 0);
	}

	CHECK_EQ_INT(gguf_n_tensors(f), 48);
	const struct gguf_tensor_info *t = gguf_find_tensor(f, "token_embd.weight");
	CHECK(t != NULL);
	if (t) {
		CHECK(t == gguf_tensor_at(f, 0));
		CHECK_EQ_INT(t->type, AJAR_TYPE_F32);
		CHECK_EQ_INT(t->n_dims, 2);
		CHECK_EQ_INT(t->ne[0], 64);
		CHECK_EQ_INT(t->ne[1], 512);
		CHECK_EQ_INT(t->ne[2], 1);
		CHECK_EQ_INT(t->ne[3], 1);
		CHECK_EQ_INT(t->size, 64 * 512 * 4);
		CHECK_EQ_INT(t->offset, 0);
	}
	t = gguf_find_tensor(f, "output_norm.weight");
	CHECK(t && t->n_dims == 1 && t->ne[0] == 64 && t->ne[1] == 1 && t->offset == 131072);
	t = gguf_find_tensor(f, "blk.4.ffn_norm.weight");
	CHECK(t && t == gguf_tensor_at(f, 47) && t->offset == 1170944);
	t = gguf_find_tensor(f, "blk.0.ffn_gate.weight");
	CHECK(t && t->ne[0] == 64 && t->ne[1] == 172);
	CHECK(gguf_find_tensor(f, "blk.5.ffn_gate.weight") == NULL);
	CHECK(gguf_tensor_at(f, 48) == NULL);

	const uint8_t *base = gguf_base(f), *end = base + gguf_file_size(f);
	for (size_t i = 0; i < gguf_n_tensors(f); i++) {
		t = gguf_tensor_at(f, i);
		const uint8_t *d = t->data;
		CHECK(d >= base + gguf_data_offset(f) && d + t->size <= end);
		CHECK(((uintptr_t)d % 32) == 0);
		char *name = cstr(t->name);
		CHECK(gguf_find_tensor(f, name) == t);
		free(name);
	}
	float first;
	memcpy(&first, gguf_find_tensor(f, "token_embd.weight")->data, sizeof(first));
	CHECK(isfinite(first) && first != 0);
	gguf_close(f);
}

/* Every .gguf in a fixture folder opens; returns how many. */
static int open_all_in(const char *rel, bool vocab_only)
{
	char dir[4096];
	int n = 0;

	snprintf(dir, sizeof(dir), "%s", fixture_path(rel));
	DIR *d = opendir(dir);
	CHECK_MSG(d != NULL, "%s", dir);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
			continue;
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct gguf_file *f = NULL;
		CHECK_OK(gguf_open(path, &f));
		if (!f)
			continue;
		n++;
		const struct gguf_value *tokens = NULL;
		struct gguf_str arch;
		CHECK_OK(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tokens));
		CHECK_OK(gguf_get_str(f, "general.architecture", &arch));
		CHECK(tokens && tokens->v.arr.count > 0);
		if (vocab_only) {
			CHECK_EQ_INT(gguf_n_tensors(f), 0);
			/* the file ends right after the metadata, before any padding */
			CHECK(gguf_data_offset(f) >= gguf_file_size(f));
		} else {
			CHECK(gguf_n_tensors(f) > 0);
			const struct gguf_tensor_info *last = gguf_tensor_at(f, gguf_n_tensors(f) - 1);
			CHECK((const uint8_t *)last->data + last->size <= (const uint8_t *)gguf_base(f) + gguf_file_size(f));
		}
		/* the same file as an in-memory image at an odd address */
		size_t len_img = 0;
		uint8_t *img = read_all(path, &len_img);
		if (img) {
			uint8_t *odd = malloc(len_img + 1);
			struct gguf_file *g = NULL;
			memcpy(odd + 1, img, len_img);
			CHECK_OK(gguf_open_memory(odd + 1, len_img, &g));
			if (g) {
				CHECK_EQ_INT(gguf_n_kv(g), gguf_n_kv(f));
				CHECK_EQ_INT(gguf_n_tensors(g), gguf_n_tensors(f));
				gguf_close(g);
			}
			free(odd);
			free(img);
		}
		gguf_close(f);
	}
	closedir(d);
	return n;
}

static void test_vocab_fixtures(void)
{
	CHECK_EQ_INT(open_all_in("vocab", true), 12);

	struct gguf_file *f = NULL;
	CHECK_OK(gguf_open(fixture_path("vocab/ggml-vocab-qwen2.gguf"), &f));
	if (f) {
		const struct gguf_value *tokens = NULL;
		CHECK_OK(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tokens));
		CHECK(tokens && tokens->v.arr.count == 151936);
		gguf_close(f);
	}
}

static void test_arch_fixtures(void)
{
	CHECK_EQ_INT(open_all_in("arch", false), 4);
}

/* ---- round trips ------------------------------------------------------------------------ */

/*
 * Every fixture is written in the canonical layout (llama.cpp's C writer for
 * stories260K, gguf-py for the others: tensors in order, each padded to the
 * alignment, vocab-only files unpadded), so writing back every kv and tensor
 * in order must reproduce each whole file byte for byte.
 */
static void test_round_trip_fixtures(void)
{
	CHECK_MSG(round_trip(fixture_path("models/stories260K.gguf")), "stories260K.gguf");
	const char *arch[] = { "tiny-gpt2", "tiny-bloom", "tiny-bert", "tiny-t5" };
	for (size_t i = 0; i < sizeof(arch) / sizeof(arch[0]); i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "arch/%s.gguf", arch[i]);
		CHECK_MSG(round_trip(fixture_path(rel)), "%s", rel);
	}
	const char *vocab[] = { "llama-spm", "llama-bpe", "qwen2", "gpt-2", "bert-bge", "phi-3" };
	for (size_t i = 0; i < sizeof(vocab) / sizeof(vocab[0]); i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "vocab/ggml-vocab-%s.gguf", vocab[i]);
		CHECK_MSG(round_trip(fixture_path(rel)), "%s", rel);
	}
}

/* ---- a file with every value type ------------------------------------------------------- */

static const uint8_t u8s[] = { 0, 1, 255 };
static const int8_t i8s[] = { -128, 0, 127 };
static const uint16_t u16s[] = { 0, 65535 };
static const int16_t i16s[] = { -32768, 32767 };
static const uint32_t u32s[] = { 0, 4294967295u, 7 };
static const int32_t i32s[] = { INT32_MIN, -1, INT32_MAX };
static const float f32s[] = { 1.5f, -0.0f, 3.4028235e38f };
static const uint8_t bools[] = { 1, 0, 1, 1 };
static const uint64_t u64s[] = { UINT64_MAX, 0, 1 };
static const int64_t i64s[] = { INT64_MIN, INT64_MAX, -5 };
static const double f64s[] = { 0.1, -1e300, 2.0 };

/* Builds a writer with one key per value type and a few tensors; tensor data
 * lives in `data` (at least 4096 bytes, caller's). */
static struct gguf_writer *build_everything(uint8_t *data, uint32_t alignment)
{
	struct gguf_writer *w = NULL;
	CHECK_OK(gguf_writer_new(&w));
	if (!w)
		return NULL;
	if (alignment)
		CHECK_OK(gguf_writer_set_alignment(w, alignment));
	CHECK_OK(gguf_writer_set_str(w, "general.architecture", "test"));
	CHECK_OK(gguf_writer_set_str(w, "empty.string", ""));

	/* every scalar type through gguf_writer_set */
	struct gguf_value v[] = {
		{ .type = GGUF_TYPE_UINT8, .v.u64 = 200 },       { .type = GGUF_TYPE_INT8, .v.i64 = -100 },
		{ .type = GGUF_TYPE_UINT16, .v.u64 = 60000 },    { .type = GGUF_TYPE_INT16, .v.i64 = -30000 },
		{ .type = GGUF_TYPE_UINT32, .v.u64 = 4000000000u }, { .type = GGUF_TYPE_INT32, .v.i64 = -2000000000 },
		{ .type = GGUF_TYPE_FLOAT32, .v.f64 = 0.25 },    { .type = GGUF_TYPE_BOOL, .v.u64 = 1 },
		{ .type = GGUF_TYPE_STRING, .v.str = { "h\xc3\xa9llo\0x", 8 } },
		{ .type = GGUF_TYPE_UINT64, .v.u64 = UINT64_MAX }, { .type = GGUF_TYPE_INT64, .v.i64 = INT64_MIN },
		{ .type = GGUF_TYPE_FLOAT64, .v.f64 = -1.0 / 3.0 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char key[64];
		snprintf(key, sizeof(key), "scalar.%s", gguf_type_name(v[i].type));
		CHECK_OK(gguf_writer_set(w, key, &v[i]));
	}
	CHECK_OK(gguf_writer_set_u32(w, "typed.u32", 123));
	CHECK_OK(gguf_writer_set_i32(w, "typed.i32", -123));
	CHECK_OK(gguf_writer_set_f32(w, "typed.f32", 1.25f));
	CHECK_OK(gguf_writer_set_bool(w, "typed.bool", false));

	/* every fixed-size array type */
	CHECK_OK(gguf_writer_set_arr(w, "arr.u8", GGUF_TYPE_UINT8, u8s, 3));
	CHECK_OK(gguf_writer_set_arr(w, "arr.i8", GGUF_TYPE_INT8, i8s, 3));
	CHECK_OK(gguf_writer_set_arr(w, "arr.u16", GGUF_TYPE_UINT16, u16s, 2));
	CHECK_OK(gguf_writer_set_arr(w, "arr.i16", GGUF_TYPE_INT16, i16s, 2));
	CHECK_OK(gguf_writer_set_arr(w, "arr.u32", GGUF_TYPE_UINT32, u32s, 3));
	CHECK_OK(gguf_writer_set_arr(w, "arr.i32", GGUF_TYPE_INT32, i32s, 3));
	CHECK_OK(gguf_writer_set_arr(w, "arr.f32", GGUF_TYPE_FLOAT32, f32s, 3));
	CHECK_OK(gguf_writer_set_arr(w, "arr.bool", GGUF_TYPE_BOOL, bools, 4));
	CHECK_OK(gguf_writer_set_arr(w, "arr.u64", GGUF_TYPE_UINT64, u64s, 3));
	CHECK_OK(gguf_writer_set_arr(w, "arr.i64", GGUF_TYPE_INT64, i64s, 3));
	CHECK_OK(gguf_writer_set_arr(w, "arr.f64", GGUF_TYPE_FLOAT64, f64s, 3));
	CHECK_OK(gguf_writer_set_arr(w, "arr.empty", GGUF_TYPE_UINT32, NULL, 0));
	struct gguf_str strs[] = { { "a", 1 }, { "", 0 }, { "\xe2\x96\x81the", 6 }, { "\xff\xfe", 2 } };
	CHECK_OK(gguf_writer_set_arr_str(w, "arr.str", strs, 4));
	CHECK_OK(gguf_writer_set_arr_str(w, "arr.str.empty", NULL, 0));

	/* nested: [[1,2,3] as u8, ["x","yz"], [], [[-1,-2]]] (borrowed, copied at write) */
	static const int16_t inner_i16[] = { -1, -2 };
	static struct gguf_value innermost[1], str_items[2], level2[4];
	innermost[0] = (struct gguf_value){ .type = GGUF_TYPE_ARRAY,
					    .v.arr = { .elem_type = GGUF_TYPE_INT16, .count = 2, .raw = inner_i16 } };
	str_items[0] = (struct gguf_value){ .type = GGUF_TYPE_STRING, .v.str = { "x", 1 } };
	str_items[1] = (struct gguf_value){ .type = GGUF_TYPE_STRING, .v.str = { "yz", 2 } };
	level2[0] = (struct gguf_value){ .type = GGUF_TYPE_ARRAY,
					 .v.arr = { .elem_type = GGUF_TYPE_UINT8, .count = 3, .raw = u8s } };
	level2[1] = (struct gguf_value){ .type = GGUF_TYPE_ARRAY,
					 .v.arr = { .elem_type = GGUF_TYPE_STRING, .count = 2, .items = str_items } };
	level2[2] = (struct gguf_value){ .type = GGUF_TYPE_ARRAY, .v.arr = { .elem_type = GGUF_TYPE_FLOAT64 } };
	level2[3] = (struct gguf_value){ .type = GGUF_TYPE_ARRAY,
					 .v.arr = { .elem_type = GGUF_TYPE_ARRAY, .count = 1, .items = innermost } };
	struct gguf_value nested = { .type = GGUF_TYPE_ARRAY,
				     .v.arr = { .elem_type = GGUF_TYPE_ARRAY, .count = 4, .items = level2 } };
	CHECK_OK(gguf_writer_set(w, "arr.nested", &nested));

	/* tensors of several types and shapes */
	for (int i = 0; i < 4096; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	uint64_t ne_f32[] = { 3, 5 };         /* 60 bytes */
	uint64_t ne_q4[] = { 64, 2, 1, 2 };   /* 4 rows of 2 blocks of 18 bytes = 144 */
	uint64_t ne_f16[] = { 7 };            /* 14 bytes */
	uint64_t ne_q8[] = { 32, 3, 2 };      /* 6 blocks of 34 = 204 */
	uint64_t ne_empty[] = { 0, 4 };       /* 0 bytes */
	CHECK_OK(gguf_writer_add_tensor(w, "t.f32", AJAR_TYPE_F32, 2, ne_f32, data));
	CHECK_OK(gguf_writer_add_tensor(w, "t.q4_0", AJAR_TYPE_Q4_0, 4, ne_q4, data + 100));
	CHECK_OK(gguf_writer_add_tensor(w, "t.f16", AJAR_TYPE_F16, 1, ne_f16, data + 1000));
	CHECK_OK(gguf_writer_add_tensor(w, "t.empty", AJAR_TYPE_F32, 2, ne_empty, NULL));
	CHECK_OK(gguf_writer_add_tensor(w, "t.q8_0", AJAR_TYPE_Q8_0, 3, ne_q8, data + 2000));
	return w;
}

static void check_everything(const struct gguf_file *f, const uint8_t *data, uint64_t alignment)
{
	const struct gguf_value *v;
	struct gguf_str s;
	uint32_t u;
	int64_t i;
	float x;
	bool b;

	CHECK_EQ_INT(gguf_version(f), 3);
	CHECK_EQ_INT(gguf_alignment(f), alignment);
	CHECK_OK(gguf_get_str(f, "general.architecture", &s));
	CHECK(gguf_str_eq(s, "test"));
	CHECK_OK(gguf_get_str(f, "empty.string", &s));
	CHECK(s.len == 0);
	CHECK_OK(gguf_get_u32(f, "scalar.UINT8", &u));
	CHECK_EQ_INT(u, 200);
	CHECK_OK(gguf_get_i64(f, "scalar.INT8", &i));
	CHECK_EQ_INT(i, -100);
	CHECK_OK(gguf_get_u32(f, "scalar.UINT16", &u));
	CHECK_EQ_INT(u, 60000);
	CHECK_OK(gguf_get_i64(f, "scalar.INT16", &i));
	CHECK_EQ_INT(i, -30000);
	CHECK_OK(gguf_get_u32(f, "scalar.UINT32", &u));
	CHECK_EQ_INT(u, 4000000000u);
	CHECK_OK(gguf_get_i64(f, "scalar.INT32", &i));
	CHECK_EQ_INT(i, -2000000000);
	CHECK_OK(gguf_get_f32(f, "scalar.FLOAT32", &x));
	CHECK(x == 0.25f);
	CHECK_OK(gguf_get_bool(f, "scalar.BOOL", &b));
	CHECK(b);
	CHECK_OK(gguf_get_str(f, "scalar.STRING", &s));
	CHECK(s.len == 8 && memcmp(s.data, "h\xc3\xa9llo\0x", 8) == 0);
	v = gguf_find(f, "scalar.UINT64");
	CHECK(v && v->type == GGUF_TYPE_UINT64 && v->v.u64 == UINT64_MAX);
	CHECK_OK(gguf_get_i64(f, "scalar.INT64", &i));
	CHECK(i == INT64_MIN);
	v = gguf_find(f, "scalar.FLOAT64");
	CHECK(v && v->type == GGUF_TYPE_FLOAT64 && v->v.f64 == -1.0 / 3.0);
	CHECK_OK(gguf_get_f32(f, "scalar.FLOAT64", &x));
	CHECK(x == (float)(-1.0 / 3.0));
	CHECK_OK(gguf_get_u32(f, "typed.u32", &u));
	CHECK_EQ_INT(u, 123);
	CHECK_OK(gguf_get_i64(f, "typed.i32", &i));
	CHECK_EQ_INT(i, -123);
	CHECK_OK(gguf_get_f32(f, "typed.f32", &x));
	CHECK(x == 1.25f);
	CHECK_OK(gguf_get_bool(f, "typed.bool", &b));
	CHECK(!b);

	/* fixed-size arrays: every element back, converted both ways */
	struct {
		const char *key;
		enum gguf_type t;
		uint64_t n;
		int64_t i0, ilast;
		double flast;
	} arrs[] = {
		{ "arr.u8", GGUF_TYPE_UINT8, 3, 0, 255, 255 },
		{ "arr.i8", GGUF_TYPE_INT8, 3, -128, 127, 127 },
		{ "arr.u16", GGUF_TYPE_UINT16, 2, 0, 65535, 65535 },
		{ "arr.i16", GGUF_TYPE_INT16, 2, -32768, 32767, 32767 },
		{ "arr.u32", GGUF_TYPE_UINT32, 3, 0, 7, 7 },
		{ "arr.i32", GGUF_TYPE_INT32, 3, INT32_MIN, INT32_MAX, INT32_MAX },
		{ "arr.f32", GGUF_TYPE_FLOAT32, 3, 1, INT64_MAX, 3.4028235e38f },
		{ "arr.bool", GGUF_TYPE_BOOL, 4, 1, 1, 1 },
		{ "arr.u64", GGUF_TYPE_UINT64, 3, INT64_MAX, 1, 1 }, /* UINT64_MAX saturates */
		{ "arr.i64", GGUF_TYPE_INT64, 3, INT64_MIN, -5, -5 },
		{ "arr.f64", GGUF_TYPE_FLOAT64, 3, 0, 2, 2.0 },
		{ "arr.empty", GGUF_TYPE_UINT32, 0, 0, 0, 0 },
	};
	for (size_t k = 0; k < sizeof(arrs) / sizeof(arrs[0]); k++) {
		v = NULL;
		CHECK_OK(gguf_get_arr(f, arrs[k].key, arrs[k].t, &v));
		if (!v)
			continue;
		CHECK_MSG(v->v.arr.count == arrs[k].n, "%s", arrs[k].key);
		if (!arrs[k].n)
			continue;
		CHECK_MSG(gguf_arr_i64(v, 0) == arrs[k].i0, "%s", arrs[k].key);
		CHECK_MSG(gguf_arr_i64(v, arrs[k].n - 1) == arrs[k].ilast, "%s", arrs[k].key);
		CHECK_MSG(gguf_arr_f64(v, arrs[k].n - 1) == arrs[k].flast, "%s", arrs[k].key);
	}
	v = gguf_find(f, "arr.f64");
	CHECK(v && gguf_arr_f64(v, 0) == 0.1 && gguf_arr_f64(v, 1) == -1e300);
	CHECK(v && gguf_arr_i64(v, 1) == INT64_MIN); /* saturated */
	v = gguf_find(f, "arr.u64");
	CHECK(v && gguf_arr_f64(v, 0) == 18446744073709551615.0);

	v = NULL;
	CHECK_OK(gguf_get_arr(f, "arr.str", GGUF_TYPE_STRING, &v));
	if (v && v->v.arr.count == 4) {
		CHECK(gguf_str_eq(v->v.arr.items[0].v.str, "a"));
		CHECK(v->v.arr.items[1].v.str.len == 0);
		CHECK(gguf_str_eq(v->v.arr.items[2].v.str, "\xe2\x96\x81the"));
		CHECK(gguf_str_eq(v->v.arr.items[3].v.str, "\xff\xfe")); /* not UTF-8: kept as bytes */
	}
	v = NULL;
	CHECK_OK(gguf_get_arr(f, "arr.str.empty", GGUF_TYPE_STRING, &v));
	CHECK(v && v->v.arr.count == 0);

	v = NULL;
	CHECK_OK(gguf_get_arr(f, "arr.nested", GGUF_TYPE_ARRAY, &v));
	if (v && v->v.arr.count == 4) {
		const struct gguf_value *l2 = v->v.arr.items;
		CHECK(l2[0].type == GGUF_TYPE_ARRAY && l2[0].v.arr.elem_type == GGUF_TYPE_UINT8 && l2[0].v.arr.count == 3);
		CHECK(gguf_arr_i64(&l2[0], 2) == 255);
		CHECK(l2[1].v.arr.elem_type == GGUF_TYPE_STRING && l2[1].v.arr.count == 2);
		CHECK(l2[1].v.arr.count == 2 && gguf_str_eq(l2[1].v.arr.items[1].v.str, "yz"));
		CHECK(l2[2].v.arr.elem_type == GGUF_TYPE_FLOAT64 && l2[2].v.arr.count == 0);
		CHECK(l2[3].v.arr.elem_type == GGUF_TYPE_ARRAY && l2[3].v.arr.count == 1);
		if (l2[3].v.arr.count == 1) {
			const struct gguf_value *l3 = &l2[3].v.arr.items[0];
			CHECK(l3->v.arr.elem_type == GGUF_TYPE_INT16 && l3->v.arr.count == 2);
			CHECK(gguf_arr_i64(l3, 1) == -2);
		}
	}

	/* tensors in order, laid out back to back at the alignment */
	const char *names[] = { "t.f32", "t.q4_0", "t.f16", "t.empty", "t.q8_0" };
	const uint64_t sizes[] = { 60, 144, 14, 0, 204 };
	const size_t src[] = { 0, 100, 1000, 0, 2000 };
	uint64_t off = 0;
	CHECK_EQ_INT(gguf_n_tensors(f), 5);
	for (size_t k = 0; k < 5 && k < gguf_n_tensors(f); k++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(f, k);
		CHECK(gguf_str_eq(t->name, names[k]));
		CHECK(gguf_find_tensor(f, names[k]) == t);
		CHECK_EQ_INT(t->size, sizes[k]);
		CHECK_EQ_INT(t->offset, off);
		CHECK(t->size == 0 || memcmp(t->data, data + src[k], t->size) == 0);
		off += (t->size + alignment - 1) / alignment * alignment;
	}
	const struct gguf_tensor_info *q4 = gguf_find_tensor(f, "t.q4_0");
	CHECK(q4 && q4->n_dims == 4 && q4->ne[0] == 64 && q4->ne[1] == 2 && q4->ne[2] == 1 && q4->ne[3] == 2);
	CHECK_EQ_INT(gguf_file_size(f), gguf_data_offset(f) + off); /* the last tensor is padded too */
}

static void test_writer_every_type(void)
{
	static uint8_t data[4096];
	const uint32_t aligns[] = { 0, 1, 64, 4096 };

	for (size_t a = 0; a < 4; a++) {
		struct gguf_writer *w = build_everything(data, aligns[a]);
		struct gguf_file *f = NULL;
		if (!w)
			return;
		CHECK_OK(gguf_writer_write(w, tmp_path("every.gguf")));
		gguf_writer_free(w);
		CHECK_OK(gguf_open(tmp_path("every.gguf"), &f));
		if (!f)
			continue;
		check_everything(f, data, aligns[a] ? aligns[a] : 32);
		/* written back from the read file: the same bytes */
		CHECK(round_trip(tmp_path("every.gguf")));
		gguf_close(f);
		unlink(tmp_path("every.gguf"));
	}
}

/* Setting a key again replaces its value where it was. */
static void test_writer_replace(void)
{
	struct gguf_writer *w = NULL;
	struct gguf_file *f = NULL;
	uint32_t u = 0;

	CHECK_OK(gguf_writer_new(&w));
	if (!w)
		return;
	CHECK_OK(gguf_writer_set_u32(w, "a", 1));
	CHECK_OK(gguf_writer_set_str(w, "b", "two"));
	CHECK_OK(gguf_writer_set_u32(w, "c", 3));
	CHECK_OK(gguf_writer_set_str(w, "b", "zwei"));
	CHECK_OK(gguf_writer_set_u32(w, "a", 11));
	CHECK_OK(gguf_writer_set_alignment(w, 16));
	CHECK_OK(gguf_writer_set_alignment(w, 8));
	CHECK_OK(gguf_writer_write(w, tmp_path("replace.gguf")));
	gguf_writer_free(w);
	CHECK_OK(gguf_open(tmp_path("replace.gguf"), &f));
	if (!f)
		return;
	CHECK_EQ_INT(gguf_n_kv(f), 4);
	CHECK(gguf_str_eq(gguf_kv_at(f, 0)->key, "a") && gguf_kv_at(f, 0)->value.v.u64 == 11);
	CHECK(gguf_str_eq(gguf_kv_at(f, 1)->key, "b") && gguf_str_eq(gguf_kv_at(f, 1)->value.v.str, "zwei"));
	CHECK(gguf_str_eq(gguf_kv_at(f, 3)->key, "general.alignment"));
	CHECK_OK(gguf_get_u32(f, "c", &u));
	CHECK_EQ_INT(u, 3);
	CHECK_EQ_INT(gguf_alignment(f), 8);
	/* no tensors: the file ends after the metadata, unpadded */
	CHECK_EQ_INT(gguf_n_tensors(f), 0);
	gguf_close(f);
	unlink(tmp_path("replace.gguf"));
}

static void test_writer_refuses(void)
{
	struct gguf_writer *w = NULL;
	uint64_t ne[4] = { 32, 2, 1, 1 };
	static float data[64];

	CHECK_OK(gguf_writer_new(&w));
	if (!w)
		return;
	CHECK(gguf_writer_set_u32(w, "bad\xff", 1) != AJAR_OK);
	CHECK(gguf_writer_set_u32(w, "\xc0\x80", 1) != AJAR_OK); /* overlong NUL */
	CHECK(gguf_writer_set_u32(w, NULL, 1) != AJAR_OK);
	CHECK(gguf_writer_set_alignment(w, 0) != AJAR_OK);
	CHECK(gguf_writer_set_alignment(w, 48) != AJAR_OK);
	CHECK(gguf_writer_set_i32(w, "general.alignment", 32) != AJAR_OK);
	CHECK(gguf_writer_set_arr(w, "x", GGUF_TYPE_STRING, data, 1) != AJAR_OK);
	CHECK(gguf_writer_set_str(w, "x", NULL) != AJAR_OK);
	struct gguf_value bad = { .type = (enum gguf_type)13 };
	CHECK(gguf_writer_set(w, "x", &bad) != AJAR_OK);
	bad = (struct gguf_value){ .type = GGUF_TYPE_UINT8, .v.u64 = 256 };
	CHECK(gguf_writer_set(w, "x", &bad) != AJAR_OK);
	bad = (struct gguf_value){ .type = GGUF_TYPE_FLOAT32, .v.f64 = 1e300 };
	CHECK(gguf_writer_set(w, "x", &bad) != AJAR_OK);
	/* mixed item types and arrays nested 9 deep */
	struct gguf_value items[2] = { { .type = GGUF_TYPE_STRING }, { .type = GGUF_TYPE_UINT8 } };
	bad = (struct gguf_value){ .type = GGUF_TYPE_ARRAY,
				   .v.arr = { .elem_type = GGUF_TYPE_STRING, .count = 2, .items = items } };
	CHECK(gguf_writer_set(w, "x", &bad) != AJAR_OK);
	struct gguf_value chain[10];
	chain[9] = (struct gguf_value){ .type = GGUF_TYPE_ARRAY, .v.arr = { .elem_type = GGUF_TYPE_UINT8 } };
	for (int k = 8; k >= 0; k--)
		chain[k] = (struct gguf_value){ .type = GGUF_TYPE_ARRAY,
						.v.arr = { .elem_type = GGUF_TYPE_ARRAY, .count = 1, .items = &chain[k + 1] } };
	CHECK_OK(gguf_writer_set(w, "deep", &chain[2])); /* 8 levels of arrays: the most allowed */
	CHECK_EQ_INT(gguf_writer_set(w, "deeper", &chain[1]), AJAR_ERR_LIMIT);

	CHECK(gguf_writer_add_tensor(w, "t", AJAR_TYPE_F32, 0, ne, data) != AJAR_OK);
	CHECK(gguf_writer_add_tensor(w, "t", AJAR_TYPE_F32, 5, ne, data) != AJAR_OK);
	CHECK_EQ_INT(gguf_writer_add_tensor(w, "t", 99, 2, ne, data), AJAR_ERR_UNSUPPORTED);
	CHECK(gguf_writer_add_tensor(w, "t", AJAR_TYPE_Q4_0, 1, (uint64_t[]){ 33 }, data) != AJAR_OK);
	CHECK(gguf_writer_add_tensor(w, "t", AJAR_TYPE_F32, 2, ne, NULL) != AJAR_OK);
	CHECK(gguf_writer_add_tensor(w, "t\xff", AJAR_TYPE_F32, 2, ne, data) != AJAR_OK);
	uint64_t huge[4] = { 1ull << 40, 1ull << 40, 1, 1 };
	CHECK(gguf_writer_add_tensor(w, "t", AJAR_TYPE_F32, 2, huge, data) != AJAR_OK);
	CHECK_OK(gguf_writer_add_tensor(w, "t", AJAR_TYPE_F32, 2, ne, data));
	CHECK(gguf_writer_add_tensor(w, "t", AJAR_TYPE_F32, 2, ne, data) != AJAR_OK);

	/* into a folder that does not exist: IO, and no temp file left anywhere */
	CHECK_EQ_INT(gguf_writer_write(w, tmp_path("no/such/dir.gguf")), AJAR_ERR_IO);
	CHECK(ajar_err_msg()[0] != '\0');
	gguf_writer_free(w);
}

/* The atomic write leaves no temp file, replaces an existing file, and a
 * failed write keeps the old one. */
static void test_writer_atomic(void)
{
	struct gguf_writer *w = NULL;
	struct gguf_file *f = NULL;
	uint32_t u = 0;

	CHECK_OK(gguf_writer_new(&w));
	if (!w)
		return;
	CHECK_OK(gguf_writer_set_u32(w, "v", 1));
	CHECK_OK(gguf_writer_write(w, tmp_path("atomic.gguf")));
	CHECK_OK(gguf_writer_set_u32(w, "v", 2));
	CHECK_OK(gguf_writer_write(w, tmp_path("atomic.gguf")));
	gguf_writer_free(w);
	CHECK_OK(gguf_open(tmp_path("atomic.gguf"), &f));
	if (f) {
		CHECK_OK(gguf_get_u32(f, "v", &u));
		CHECK_EQ_INT(u, 2);
		gguf_close(f);
	}
	DIR *d = opendir(tmp_dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	CHECK_EQ_INT(n, 1);
	unlink(tmp_path("atomic.gguf"));
}

static void test_open_errors(void)
{
	struct gguf_file *f = (struct gguf_file *)1;

	CHECK_EQ_INT(gguf_open(tmp_path("missing.gguf"), &f), AJAR_ERR_IO);
	CHECK(f == NULL);
	CHECK(strstr(ajar_err_msg(), "missing.gguf") != NULL);
	CHECK_EQ_INT(gguf_open(tmp_dir, &f), AJAR_ERR_IO);
	FILE *fp = fopen(tmp_path("empty.gguf"), "wb");
	if (fp)
		fclose(fp);
	CHECK_EQ_INT(gguf_open(tmp_path("empty.gguf"), &f), AJAR_ERR_FORMAT);
	CHECK(strstr(ajar_err_msg(), "0 bytes") != NULL);
	unlink(tmp_path("empty.gguf"));
	CHECK_EQ_INT(gguf_open_memory(NULL, 0, &f), AJAR_ERR_FORMAT);
	CHECK(f == NULL);
}

static void test_types_and_strings(void)
{
	CHECK_EQ_INT(gguf_type_size(GGUF_TYPE_UINT8), 1);
	CHECK_EQ_INT(gguf_type_size(GGUF_TYPE_BOOL), 1);
	CHECK_EQ_INT(gguf_type_size(GGUF_TYPE_INT16), 2);
	CHECK_EQ_INT(gguf_type_size(GGUF_TYPE_FLOAT32), 4);
	CHECK_EQ_INT(gguf_type_size(GGUF_TYPE_FLOAT64), 8);
	CHECK_EQ_INT(gguf_type_size(GGUF_TYPE_STRING), 0);
	CHECK_EQ_INT(gguf_type_size(GGUF_TYPE_ARRAY), 0);
	CHECK_EQ_INT(gguf_type_size((enum gguf_type)77), 0);
	CHECK_STR(gguf_type_name(GGUF_TYPE_FLOAT32), "FLOAT32");
	CHECK_STR(gguf_type_name((enum gguf_type)13), "unknown");
	CHECK(gguf_str_eq((struct gguf_str){ "abc", 3 }, "abc"));
	CHECK(!gguf_str_eq((struct gguf_str){ "abc", 2 }, "abc"));
	CHECK(!gguf_str_eq((struct gguf_str){ "abcd", 4 }, "abc"));
	CHECK(gguf_str_eq((struct gguf_str){ NULL, 0 }, ""));
}

/* Getter conversions: an integer getter takes any integer type that fits. */
static void test_getter_conversions(void)
{
	struct gguf_writer *w = NULL;
	struct gguf_file *f = NULL;
	struct gguf_value big_u = { .type = GGUF_TYPE_UINT64, .v.u64 = 1ull << 40 };
	struct gguf_value max_u = { .type = GGUF_TYPE_UINT64, .v.u64 = UINT64_MAX };
	struct gguf_value neg = { .type = GGUF_TYPE_INT8, .v.i64 = -1 };
	struct gguf_value small_i = { .type = GGUF_TYPE_INT64, .v.i64 = 42 };
	struct gguf_value huge_d = { .type = GGUF_TYPE_FLOAT64, .v.f64 = 1e300 };
	struct gguf_value inf_d = { .type = GGUF_TYPE_FLOAT64, .v.f64 = INFINITY };

	CHECK_OK(gguf_writer_new(&w));
	if (!w)
		return;
	CHECK_OK(gguf_writer_set(w, "big_u", &big_u));
	CHECK_OK(gguf_writer_set(w, "max_u", &max_u));
	CHECK_OK(gguf_writer_set(w, "neg", &neg));
	CHECK_OK(gguf_writer_set(w, "small_i", &small_i));
	CHECK_OK(gguf_writer_set(w, "huge_d", &huge_d));
	CHECK_OK(gguf_writer_set(w, "inf_d", &inf_d));
	CHECK_OK(gguf_writer_set_bool(w, "flag", true));
	CHECK_OK(gguf_writer_write(w, tmp_path("conv.gguf")));
	gguf_writer_free(w);
	CHECK_OK(gguf_open(tmp_path("conv.gguf"), &f));
	if (!f)
		return;
	uint32_t u = 7;
	int64_t i = 7;
	float x = 7;
	bool b = false;
	struct gguf_str s;
	CHECK_EQ_INT(gguf_get_u32(f, "big_u", &u), AJAR_ERR_TYPE);
	CHECK_EQ_INT(u, 7);
	CHECK_OK(gguf_get_i64(f, "big_u", &i));
	CHECK_EQ_INT(i, 1ll << 40);
	CHECK_EQ_INT(gguf_get_i64(f, "max_u", &i), AJAR_ERR_TYPE);
	CHECK_EQ_INT(gguf_get_u32(f, "neg", &u), AJAR_ERR_TYPE);
	CHECK_OK(gguf_get_i64(f, "neg", &i));
	CHECK_EQ_INT(i, -1);
	CHECK_OK(gguf_get_u32(f, "small_i", &u));
	CHECK_EQ_INT(u, 42);
	CHECK_EQ_INT(gguf_get_f32(f, "huge_d", &x), AJAR_ERR_TYPE);
	CHECK_OK(gguf_get_f32(f, "inf_d", &x));
	CHECK(isinf(x));
	CHECK_EQ_INT(gguf_get_f32(f, "small_i", &x), AJAR_ERR_TYPE);
	CHECK_EQ_INT(gguf_get_u32(f, "flag", &u), AJAR_ERR_TYPE);
	CHECK_OK(gguf_get_bool(f, "flag", &b));
	CHECK(b);
	CHECK_EQ_INT(gguf_get_str(f, "flag", &s), AJAR_ERR_TYPE);
	const struct gguf_value *arr;
	CHECK_EQ_INT(gguf_get_arr(f, "flag", GGUF_TYPE_COUNT, &arr), AJAR_ERR_TYPE);
	CHECK_EQ_INT(gguf_get_arr(f, "nope", GGUF_TYPE_COUNT, &arr), AJAR_ERR_NOT_FOUND);
	CHECK(strstr(ajar_err_msg(), "nope") != NULL);
	gguf_close(f);
	unlink(tmp_path("conv.gguf"));
}

/* Writes small seed files for the fuzzer into $AJAR_GGUF_CORPUS, if set. */
static void write_corpus(void)
{
	const char *dir = getenv("AJAR_GGUF_CORPUS");
	static uint8_t data[4096];
	char path[4096];

	if (!dir)
		return;
	/* every value type, nested arrays and five small tensors */
	struct gguf_writer *w = build_everything(data, 0);
	snprintf(path, sizeof(path), "%s/every-type.gguf", dir);
	CHECK_OK(gguf_writer_write(w, path));
	gguf_writer_free(w);

	/* a tiny model: a few kvs, two F32 tensors, alignment 16 */
	CHECK_OK(gguf_writer_new(&w));
	CHECK_OK(gguf_writer_set_str(w, "general.architecture", "llama"));
	CHECK_OK(gguf_writer_set_u32(w, "llama.context_length", 128));
	CHECK_OK(gguf_writer_set_alignment(w, 16));
	struct gguf_str toks[] = { { "<unk>", 5 }, { "<s>", 3 }, { "\xe2\x96\x81" "a", 4 }, { "<0x0A>", 6 } };
	CHECK_OK(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 4));
	float scores[4] = { 0, 0, -1.5f, -2 };
	CHECK_OK(gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, 4));
	CHECK_OK(gguf_writer_add_tensor(w, "token_embd.weight", AJAR_TYPE_F32, 2, (uint64_t[]){ 4, 4 }, data));
	CHECK_OK(gguf_writer_add_tensor(w, "output_norm.weight", AJAR_TYPE_F16, 1, (uint64_t[]){ 4 }, data + 64));
	snprintf(path, sizeof(path), "%s/tiny-model.gguf", dir);
	CHECK_OK(gguf_writer_write(w, path));
	gguf_writer_free(w);

	/* vocab-only: no tensors, no padding */
	CHECK_OK(gguf_writer_new(&w));
	CHECK_OK(gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"));
	CHECK_OK(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 4));
	struct gguf_str merges[] = { { "\xc4\xa0 t", 4 }, { "a b", 3 } };
	CHECK_OK(gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 2));
	snprintf(path, sizeof(path), "%s/vocab-only.gguf", dir);
	CHECK_OK(gguf_writer_write(w, path));
	gguf_writer_free(w);

	/* arrays nested 8 deep (the most allowed), with strings at the bottom */
	struct gguf_value chain[8];
	struct gguf_value leaf[2] = { { .type = GGUF_TYPE_STRING, .v.str = { "deep", 4 } },
				      { .type = GGUF_TYPE_STRING, .v.str = { "", 0 } } };
	chain[7] = (struct gguf_value){ .type = GGUF_TYPE_ARRAY,
					.v.arr = { .elem_type = GGUF_TYPE_STRING, .count = 2, .items = leaf } };
	for (int k = 6; k >= 0; k--)
		chain[k] = (struct gguf_value){ .type = GGUF_TYPE_ARRAY,
						.v.arr = { .elem_type = GGUF_TYPE_ARRAY, .count = 1, .items = &chain[k + 1] } };
	CHECK_OK(gguf_writer_new(&w));
	CHECK_OK(gguf_writer_set(w, "nested", &chain[0]));
	CHECK_OK(gguf_writer_add_tensor(w, "i8", AJAR_TYPE_I8, 3, (uint64_t[]){ 2, 3, 4 }, data));
	snprintf(path, sizeof(path), "%s/nested-8.gguf", dir);
	CHECK_OK(gguf_writer_write(w, path));
	gguf_writer_free(w);

	/* the tiny model as version 2 (same layout, only the version differs) */
	snprintf(path, sizeof(path), "%s/tiny-model.gguf", dir);
	size_t len = 0;
	uint8_t *img = read_all(path, &len);
	CHECK(img && len > 8);
	if (img) {
		img[4] = 2;
		snprintf(path, sizeof(path), "%s/tiny-model-v2.gguf", dir);
		FILE *fp = fopen(path, "wb");
		CHECK(fp && fwrite(img, 1, len, fp) == len);
		if (fp)
			fclose(fp);
		free(img);
	}
}

int main(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ajar-test-gguf-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_types_and_strings);
	RUN(test_stories260k);
	RUN(test_vocab_fixtures);
	RUN(test_arch_fixtures);
	RUN(test_round_trip_fixtures);
	RUN(test_writer_every_type);
	RUN(test_writer_replace);
	RUN(test_writer_refuses);
	RUN(test_writer_atomic);
	RUN(test_open_errors);
	RUN(test_getter_conversions);
	RUN(write_corpus);
	rmdir(tmp_dir);
	return check_summary();
}
