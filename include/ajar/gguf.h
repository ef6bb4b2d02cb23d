/*
 * gguf.h - reading and writing GGUF v2/v3 files.
 *
 * gguf_open() maps the file read-only and parses the header, the metadata
 * key/value pairs and the tensor infos, validating every count, length, offset
 * and size against the file size before it is used. Any malformed or hostile
 * file yields AJAR_ERR_FORMAT (or _UNSUPPORTED / _LIMIT) with a message naming
 * the problem and the byte offset; never a crash, a hang or a huge allocation.
 *
 * File layout (little-endian):
 *   offset  size  field
 *   0       4     magic "GGUF"
 *   4       4     u32 version (2 or 3; v1 used u32 counts and is refused)
 *   8       8     u64 tensor_count
 *   16      8     u64 kv_count
 *   24      ...   kv_count x { gguf_string key; u32 type; value }
 *   ...     ...   tensor_count x { gguf_string name; u32 n_dims (1..4);
 *                   u64 ne[n_dims]; u32 ggml_type; u64 offset }
 *   ...     pad   to general.alignment (default 32; must be a power of two)
 *   data    ...   tensor data; each tensor at data + offset, offset aligned
 *   gguf_string = u64 length; bytes (no terminator)
 *   array value = u32 element type; u64 count; elements
 *
 * All pointers returned below borrow the mapping: valid until gguf_close().
 * A struct gguf_file is immutable after open and may be read from any number
 * of threads at once.
 */
#ifndef AJAR_GGUF_H
#define AJAR_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

enum gguf_type {
	GGUF_TYPE_UINT8 = 0,
	GGUF_TYPE_INT8 = 1,
	GGUF_TYPE_UINT16 = 2,
	GGUF_TYPE_INT16 = 3,
	GGUF_TYPE_UINT32 = 4,
	GGUF_TYPE_INT32 = 5,
	GGUF_TYPE_FLOAT32 = 6,
	GGUF_TYPE_BOOL = 7,
	GGUF_TYPE_STRING = 8,
	GGUF_TYPE_ARRAY = 9,
	GGUF_TYPE_UINT64 = 10,
	GGUF_TYPE_INT64 = 11,
	GGUF_TYPE_FLOAT64 = 12,
	GGUF_TYPE_COUNT = 13,
};

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

/* A string inside the file: not NUL-terminated. */
struct gguf_str {
	const char *data;
	uint64_t len;
};

/*
 * One metadata value. Scalars are decoded; arrays keep their element type and
 * count. Arrays of fixed-size scalars point at the raw little-endian elements
 * in the mapping (possibly unaligned: read them with gguf_arr_* below); arrays
 * of strings and nested arrays are decoded into `items` (owned by the file).
 */
struct gguf_value {
	enum gguf_type type;
	union {
		uint64_t u64;   /* UINT8/16/32/64 and BOOL (0 or 1) */
		int64_t i64;    /* INT8/16/32/64 */
		double f64;     /* FLOAT32/64 */
		struct gguf_str str;
		struct {
			enum gguf_type elem_type;
			uint64_t count;
			const void *raw;                /* fixed-size element types */
			const struct gguf_value *items; /* STRING and ARRAY elements */
		} arr;
	} v;
};

struct gguf_kv {
	struct gguf_str key;
	struct gguf_value value;
};

struct gguf_tensor_info {
	struct gguf_str name;
	uint32_t n_dims;
	uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
	uint32_t type;              /* enum ajar_type number */
	uint64_t offset;            /* relative to the data section */
	uint64_t size;              /* bytes, from type and shape */
	const void *data;           /* into the mapping, or NULL for vocab-only files */
};

struct gguf_file;

/* Maps and parses path. On success *out is owned by the caller (gguf_close). */
enum ajar_err gguf_open(const char *path, struct gguf_file **out) AJAR_MUST_CHECK;

/* Parses an in-memory image (borrowed: must outlive the file). For fuzzing and
 * tests. */
enum ajar_err gguf_open_memory(const void *data, size_t size, struct gguf_file **out) AJAR_MUST_CHECK;

void gguf_close(struct gguf_file *f);

uint32_t gguf_version(const struct gguf_file *f);
uint64_t gguf_alignment(const struct gguf_file *f);
uint64_t gguf_data_offset(const struct gguf_file *f);  /* start of the data section */
const void *gguf_base(const struct gguf_file *f);       /* the whole mapping */
size_t gguf_file_size(const struct gguf_file *f);

size_t gguf_n_kv(const struct gguf_file *f);
const struct gguf_kv *gguf_kv_at(const struct gguf_file *f, size_t i);
/* NULL if the key is absent. Keys are compared as exact bytes. */
const struct gguf_value *gguf_find(const struct gguf_file *f, const char *key);

size_t gguf_n_tensors(const struct gguf_file *f);
const struct gguf_tensor_info *gguf_tensor_at(const struct gguf_file *f, size_t i);
const struct gguf_tensor_info *gguf_find_tensor(const struct gguf_file *f, const char *name);

/*
 * Typed getters. AJAR_ERR_NOT_FOUND if the key is absent (*out untouched, so
 * callers may preload a default and ignore that code); AJAR_ERR_TYPE if the
 * value has another type or does not fit (any integer type is accepted for an
 * integer getter when the value fits; FLOAT32/64 for a float getter).
 */
enum ajar_err gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out) AJAR_MUST_CHECK;
enum ajar_err gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out) AJAR_MUST_CHECK;
enum ajar_err gguf_get_f32(const struct gguf_file *f, const char *key, float *out) AJAR_MUST_CHECK;
enum ajar_err gguf_get_bool(const struct gguf_file *f, const char *key, bool *out) AJAR_MUST_CHECK;
enum ajar_err gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *out) AJAR_MUST_CHECK;
/* An array value; elem_type must match unless it is GGUF_TYPE_COUNT (any). */
enum ajar_err gguf_get_arr(const struct gguf_file *f, const char *key, enum gguf_type elem_type,
			   const struct gguf_value **out) AJAR_MUST_CHECK;

/* Element i (< count) of a fixed-size numeric array, converted. */
int64_t gguf_arr_i64(const struct gguf_value *arr, uint64_t i);
double gguf_arr_f64(const struct gguf_value *arr, uint64_t i);

/* Byte size of one element of a fixed-size type; 0 for STRING/ARRAY/unknown. */
size_t gguf_type_size(enum gguf_type t);
const char *gguf_type_name(enum gguf_type t);

/* True if s equals the NUL-terminated c string. */
bool gguf_str_eq(struct gguf_str s, const char *c);

/*
 * Writer. Builds a GGUF v3 file from metadata and tensors added in order.
 * Strings and tensor data passed in are borrowed until gguf_writer_write()
 * returns (so a writer can copy straight from an open gguf_file). Tensor data
 * is laid out in the order added, each tensor padded to the alignment.
 */
struct gguf_writer;

enum ajar_err gguf_writer_new(struct gguf_writer **out) AJAR_MUST_CHECK;
void gguf_writer_free(struct gguf_writer *w);

/* Adds a key; a key already present is replaced in place. `value` may be any
 * value read from a file, including arrays (deep-borrowed). */
enum ajar_err gguf_writer_set(struct gguf_writer *w, const char *key, const struct gguf_value *value) AJAR_MUST_CHECK;
enum ajar_err gguf_writer_set_u32(struct gguf_writer *w, const char *key, uint32_t v) AJAR_MUST_CHECK;
enum ajar_err gguf_writer_set_i32(struct gguf_writer *w, const char *key, int32_t v) AJAR_MUST_CHECK;
enum ajar_err gguf_writer_set_f32(struct gguf_writer *w, const char *key, float v) AJAR_MUST_CHECK;
enum ajar_err gguf_writer_set_bool(struct gguf_writer *w, const char *key, bool v) AJAR_MUST_CHECK;
enum ajar_err gguf_writer_set_str(struct gguf_writer *w, const char *key, const char *v) AJAR_MUST_CHECK;
/* Numeric array of n elements of elem_type at data (copied). */
enum ajar_err gguf_writer_set_arr(struct gguf_writer *w, const char *key, enum gguf_type elem_type,
				  const void *data, uint64_t n) AJAR_MUST_CHECK;
/* Array of n strings (copied). */
enum ajar_err gguf_writer_set_arr_str(struct gguf_writer *w, const char *key, const struct gguf_str *strs,
				      uint64_t n) AJAR_MUST_CHECK;
enum ajar_err gguf_writer_set_alignment(struct gguf_writer *w, uint32_t alignment) AJAR_MUST_CHECK;

/* Adds a tensor of the given type and shape; data must hold exactly its size
 * in bytes and stay valid until gguf_writer_write(). */
enum ajar_err gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
				     const uint64_t *ne, const void *data) AJAR_MUST_CHECK;

/* Writes to path atomically (temp file + rename). */
enum ajar_err gguf_writer_write(struct gguf_writer *w, const char *path) AJAR_MUST_CHECK;

#endif
