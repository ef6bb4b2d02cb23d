/*
 * gguf_int.h - what the reader (gguf.c), the lookups (query.c) and the writer
 * (writer.c) share: the layout of struct gguf_file, format constants and the
 * byte-level helpers both directions use.
 */
#ifndef AJAR_GGUF_INT_H
#define AJAR_GGUF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/gguf.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_HEADER_SIZE 24 /* magic, version, tensor_count, kv_count */

/*
 * Deepest nesting of arrays: an ARRAY value is level 1, an array of arrays
 * level 2, and so on. Real files use level 1 (level 2 appears in a few merges
 * tables); 8 leaves room while keeping the recursive parser's stack small.
 */
#define GGUF_MAX_DEPTH 8

/* Smallest encodings, used to bound counts by the bytes left before anything
 * is allocated: a kv is a key length, a type and at least a one-byte value; a
 * tensor info a name length, n_dims, one ne, a type and an offset. */
#define GGUF_MIN_KV_BYTES (8 + 4 + 1)
#define GGUF_MIN_TENSOR_BYTES (8 + 4 + 8 + 4 + 8)
#define GGUF_MIN_STRING_BYTES 8    /* its length */
#define GGUF_MIN_ARRAY_BYTES (4 + 8) /* element type and count */

struct gguf_arena_chunk;

/*
 * A parsed file. Everything below is written once by the parser and read-only
 * afterwards, so any number of threads may read it at once.
 */
struct gguf_file {
	const uint8_t *base; /* the mapping (owned if mapped) or the caller's image */
	size_t size;         /* bytes at base */
	bool mapped;         /* gguf_close munmaps base */
	uint32_t version;    /* 2 or 3 */
	uint64_t alignment;  /* general.alignment or 32; a power of two */
	uint64_t data_offset; /* end of tensor infos rounded up to alignment; may be
			       * past the end of a file with no tensors */

	size_t n_kv;
	struct gguf_kv *kvs;               /* [n_kv] in file order; owned */
	const struct gguf_kv **kv_sorted;  /* [n_kv] by key bytes, for lookup; owned */

	size_t n_tensors;
	struct gguf_tensor_info *tensors;                 /* [n_tensors] in file order; owned */
	const struct gguf_tensor_info **tensor_sorted;    /* [n_tensors] by name; owned */

	struct gguf_arena_chunk *arena; /* the `items` of string and nested arrays; owned */
};

/* Byte order of two strings: memcmp over the common prefix, then length. */
int gguf_str_cmp(struct gguf_str a, struct gguf_str b);

/*
 * True if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF) and holds no NUL byte: keys and tensor names are looked
 * up by C strings, so a name with a NUL in it could never be found. Otherwise
 * false, with the index of the first bad byte in *bad_at.
 */
bool gguf_name_valid(const uint8_t *s, size_t n, size_t *bad_at);

#endif
