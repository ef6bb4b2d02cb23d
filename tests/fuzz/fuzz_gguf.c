/*
 * fuzz_gguf.c - libFuzzer target for the GGUF reader.
 *
 * Any input must either be refused with an error and a message, or open into
 * a file whose every part can be walked: each kv (nested arrays and string
 * arrays included, every element of every numeric array read through the
 * gguf_arr_* getters), each typed getter on each key, each tensor info, and
 * the first and last byte of each tensor's data. Invariants the reader
 * promises are checked with __builtin_trap so they count as crashes.
 * See tests/fuzz/README.md for how to run it and where the seeds came from.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ajar/gguf.h"
#include "ajar/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                     \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

/* Something the optimizer cannot drop: every byte read lands here. */
static volatile uint64_t sink;

/* `depth` is the nesting level v would have as an array (1 at the top). */
static void walk_value(const struct gguf_value *v, unsigned depth)
{
	REQUIRE((unsigned)v->type < GGUF_TYPE_COUNT);
	REQUIRE(v->type != GGUF_TYPE_ARRAY || depth <= 8);
	switch (v->type) {
	case GGUF_TYPE_STRING:
		if (v->v.str.len) {
			sink += (uint8_t)v->v.str.data[0];
			sink += (uint8_t)v->v.str.data[v->v.str.len - 1];
		}
		break;
	case GGUF_TYPE_ARRAY: {
		enum gguf_type et = v->v.arr.elem_type;
		REQUIRE((unsigned)et < GGUF_TYPE_COUNT);
		if (gguf_type_size(et)) {
			for (uint64_t i = 0; i < v->v.arr.count; i++) {
				sink += (uint64_t)gguf_arr_i64(v, i);
				double d = gguf_arr_f64(v, i);
				sink += d == d;
			}
		} else {
			REQUIRE(v->v.arr.count == 0 || v->v.arr.items != NULL);
			for (uint64_t i = 0; i < v->v.arr.count; i++) {
				REQUIRE(v->v.arr.items[i].type == et);
				walk_value(&v->v.arr.items[i], depth + 1);
			}
		}
		break;
	}
	case GGUF_TYPE_BOOL: REQUIRE(v->v.u64 <= 1); break;
	default: sink += v->v.u64; break;
	}
}

/* Every getter on one key: each either succeeds or says why. */
static void try_getters(const struct gguf_file *f, const char *key)
{
	uint32_t u;
	int64_t i;
	float x;
	bool b;
	struct gguf_str s;
	const struct gguf_value *arr;

	sink += gguf_get_u32(f, key, &u) == AJAR_OK;
	sink += gguf_get_i64(f, key, &i) == AJAR_OK;
	sink += gguf_get_f32(f, key, &x) == AJAR_OK;
	sink += gguf_get_bool(f, key, &b) == AJAR_OK;
	sink += gguf_get_str(f, key, &s) == AJAR_OK;
	sink += gguf_get_arr(f, key, GGUF_TYPE_COUNT, &arr) == AJAR_OK;
	sink += gguf_get_arr(f, key, GGUF_TYPE_STRING, &arr) == AJAR_OK;
}

/* A NUL-terminated copy of a key or name (these never hold NUL). */
static char *cstr(struct gguf_str s)
{
	char *c = malloc(s.len + 1);
	REQUIRE(c != NULL);
	memcpy(c, s.data, s.len);
	c[s.len] = '\0';
	REQUIRE(strlen(c) == s.len);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gguf_file *f = NULL;

	if (gguf_open_memory(data, size, &f) != AJAR_OK) {
		REQUIRE(f == NULL);
		REQUIRE(ajar_err_msg()[0] != '\0');
		return 0;
	}
	REQUIRE(gguf_version(f) == 2 || gguf_version(f) == 3);
	uint64_t align = gguf_alignment(f);
	REQUIRE(align != 0 && (align & (align - 1)) == 0);
	REQUIRE(gguf_base(f) == data && gguf_file_size(f) == size);

	for (size_t i = 0; i < gguf_n_kv(f); i++) {
		const struct gguf_kv *kv = gguf_kv_at(f, i);
		walk_value(&kv->value, 1);
		char *key = cstr(kv->key);
		REQUIRE(gguf_find(f, key) == &kv->value); /* keys are unique */
		try_getters(f, key);
		free(key);
	}
	REQUIRE(gguf_kv_at(f, gguf_n_kv(f)) == NULL);
	try_getters(f, "general.architecture");

	const uint8_t *base = data, *end = data + size;
	for (size_t i = 0; i < gguf_n_tensors(f); i++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(f, i);
		REQUIRE(t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS);
		REQUIRE(ajar_type_traits(t->type) != NULL);
		REQUIRE(t->offset % align == 0);
		const uint8_t *d = t->data;
		REQUIRE(d == base + gguf_data_offset(f) + t->offset);
		REQUIRE(d <= end && t->size <= (uint64_t)(end - d));
		if (t->size) {
			sink += d[0];
			sink += d[t->size - 1];
		}
		char *name = cstr(t->name);
		REQUIRE(gguf_find_tensor(f, name) == t); /* names are unique */
		free(name);
	}
	REQUIRE(gguf_tensor_at(f, gguf_n_tensors(f)) == NULL);
	gguf_close(f);
	return 0;
}
