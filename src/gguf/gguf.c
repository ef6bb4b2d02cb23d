/*
 * gguf.c - the GGUF reader: maps a file (or takes an image in memory), parses
 * the header, the key/value metadata and the tensor infos, and checks every
 * count, length, offset and size against the bytes actually there before it
 * uses it. The file layout is the offset table in include/ajar/gguf.h.
 *
 * Layout of this file: a bounds-checked cursor (struct reader) and its
 * primitive reads; values (recursive for nested arrays, depth-capped); the kv
 * section; the tensor-info section and the data-section checks; duplicate and
 * overlap checks by sorting; then open/close.
 *
 * Decisions worth knowing:
 * - Counts are bounded by the bytes left times the smallest encoding of one
 *   element before anything is allocated, so no file can make us allocate
 *   more than a small multiple of its own size.
 * - Keys and tensor names must be UTF-8 without NUL and unique. String values
 *   are taken as raw bytes: tokenizer vocabularies hold byte-level tokens that
 *   are fragments of UTF-8 sequences, and llama.cpp accepts them too.
 * - BOOL values (scalars and array elements) must be 0 or 1, so that a file
 *   read and written back is unchanged.
 * - A tensor dimension may be 0 (an empty tensor, size 0): the format allows
 *   it, nothing in it is read, and refusing it would gain nothing. Dimensions
 *   and the element count must fit in int64 (ggml's ne are int64_t).
 * - Tensor data must lie inside the file, at offsets that are multiples of the
 *   alignment, and tensors must not overlap. Padding after the last tensor is
 *   not required. A file with no tensors may end right after its metadata.
 */
#include "gguf/gguf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ajar/tensor.h"

/* ---- arena: the items arrays of string and nested array values ---------- */

struct gguf_arena_chunk {
	struct gguf_arena_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char mem[];
};

/* Chunks of 64 KiB hold the many small arrays of nested values; a big array
 * (a 150k-token vocabulary) gets one chunk of its own. */
#define ARENA_CHUNK_BYTES (64u * 1024)

static void *arena_alloc(struct gguf_arena_chunk **head, size_t bytes)
{
	struct gguf_arena_chunk *c = *head;

	bytes = (bytes + 15) & ~(size_t)15;
	if (c && c->cap - c->used >= bytes) {
		void *p = c->mem + c->used;
		c->used += bytes;
		return p;
	}
	size_t cap = bytes > ARENA_CHUNK_BYTES ? bytes : ARENA_CHUNK_BYTES;
	c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
	c->cap = cap;
	c->used = bytes;
	/* A full-sized request goes behind the current chunk so that the
	 * current one keeps serving small requests. */
	if (*head && bytes >= ARENA_CHUNK_BYTES) {
		c->next = (*head)->next;
		(*head)->next = c;
	} else {
		c->next = *head;
		*head = c;
	}
	return c->mem;
}

static void arena_free(struct gguf_arena_chunk *c)
{
	while (c) {
		struct gguf_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
}

/* ---- the cursor ---------------------------------------------------------- */

struct reader {
	const uint8_t *base;
	size_t size;
	size_t pos;         /* next byte to read; invariant pos <= size */
	char ctx[160];      /* "kv 3", "key 'general.name'", "tensor 'x'": message context */
	struct gguf_file *f;
};

static size_t bytes_left(const struct reader *r)
{
	return r->size - r->pos;
}

/* Sets the error message "gguf: offset AT: CTX: TEXT" and returns err. */
static enum ajar_err fail(const struct reader *r, size_t at, enum ajar_err err, const char *fmt, ...)
	AJAR_PRINTF(4, 5);

static enum ajar_err fail(const struct reader *r, size_t at, enum ajar_err err, const char *fmt, ...)
{
	char text[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return ajar_errf(err, "gguf: offset %zu: %s%s%s", at, r->ctx, r->ctx[0] ? ": " : "", text);
}

static void set_ctx(struct reader *r, const char *fmt, ...) AJAR_PRINTF(2, 3);

static void set_ctx(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->ctx, sizeof(r->ctx), fmt, ap);
	va_end(ap);
}

/* A name for messages: at most 96 bytes of it (names are valid UTF-8 by the
 * time they are printed; cutting one mid-character only affects the text). */
#define NAME_FMT "'%.*s'"
#define NAME_ARG(s) (int)((s).len < 96 ? (s).len : 96), (s).data

static enum ajar_err read_bytes(struct reader *r, size_t n, const char *what, const uint8_t **out)
{
	if (n > bytes_left(r))
		return fail(r, r->pos, AJAR_ERR_FORMAT, "file ends inside %s (%zu bytes needed, %zu left)", what, n,
			    bytes_left(r));
	*out = r->base + r->pos;
	r->pos += n;
	return AJAR_OK;
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	while (n-- > 0)
		v = (v << 8) | p[n];
	return v;
}

static enum ajar_err read_u32(struct reader *r, const char *what, uint32_t *out)
{
	const uint8_t *p = NULL;
	enum ajar_err err = read_bytes(r, 4, what, &p);
	if (!err)
		*out = (uint32_t)load_le(p, 4);
	return err;
}

static enum ajar_err read_u64(struct reader *r, const char *what, uint64_t *out)
{
	const uint8_t *p = NULL;
	enum ajar_err err = read_bytes(r, 8, what, &p);
	if (!err)
		*out = load_le(p, 8);
	return err;
}

/* A gguf_string: u64 length, then that many bytes (checked against what is left). */
static enum ajar_err read_str(struct reader *r, const char *what, struct gguf_str *out)
{
	size_t at = r->pos;
	uint64_t len;
	enum ajar_err err = read_u64(r, what, &len);

	if (err)
		return err;
	if (len > bytes_left(r))
		return fail(r, at, AJAR_ERR_FORMAT, "%s length %llu exceeds the %zu bytes left", what,
			    (unsigned long long)len, bytes_left(r));
	out->data = (const char *)(r->base + r->pos);
	out->len = len;
	r->pos += (size_t)len;
	return AJAR_OK;
}

/* A key or tensor name: a string that is UTF-8 without NUL. */
static enum ajar_err read_name(struct reader *r, const char *what, struct gguf_str *out)
{
	size_t at = r->pos, bad;
	enum ajar_err err = read_str(r, what, out);

	if (err)
		return err;
	if (!gguf_name_valid((const uint8_t *)out->data, (size_t)out->len, &bad))
		return fail(r, at, AJAR_ERR_FORMAT, "%s of %llu bytes is not valid UTF-8 (bad byte 0x%02x at index %zu)",
			    what, (unsigned long long)out->len, (unsigned)(uint8_t)out->data[bad], bad);
	return AJAR_OK;
}

/* ---- values ---------------------------------------------------------------- */

/* Decodes one fixed-size scalar of type t at p (gguf_type_size(t) bytes). */
static void decode_scalar(enum gguf_type t, const uint8_t *p, struct gguf_value *out)
{
	uint64_t u = load_le(p, gguf_type_size(t));
	uint32_t bits32;
	float f;

	out->type = t;
	switch (t) {
	case GGUF_TYPE_INT8: out->v.i64 = (int8_t)(uint8_t)u; break;
	case GGUF_TYPE_INT16: out->v.i64 = (int16_t)(uint16_t)u; break;
	case GGUF_TYPE_INT32: out->v.i64 = (int32_t)(uint32_t)u; break;
	case GGUF_TYPE_INT64: out->v.i64 = (int64_t)u; break;
	case GGUF_TYPE_FLOAT32:
		bits32 = (uint32_t)u;
		memcpy(&f, &bits32, sizeof(f));
		out->v.f64 = f;
		break;
	case GGUF_TYPE_FLOAT64: memcpy(&out->v.f64, &u, sizeof(u)); break;
	default: out->v.u64 = u; break; /* UINT8/16/32/64, BOOL */
	}
}

static enum ajar_err read_type(struct reader *r, const char *what, uint32_t *out)
{
	size_t at = r->pos;
	enum ajar_err err = read_u32(r, what, out);

	if (!err && *out >= GGUF_TYPE_COUNT)
		err = fail(r, at, AJAR_ERR_FORMAT, "unknown %s %u (types are 0..%d)", what, *out, GGUF_TYPE_COUNT - 1);
	return err;
}

static enum ajar_err read_value(struct reader *r, enum gguf_type t, unsigned depth, struct gguf_value *out);

static enum ajar_err check_bools(struct reader *r, const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i] > 1)
			return fail(r, (size_t)(p + i - r->base), AJAR_ERR_FORMAT, "bool value %u is not 0 or 1",
				    (unsigned)p[i]);
	return AJAR_OK;
}

/* An array value at nesting level `depth` (1 for a top-level array). */
static enum ajar_err read_array(struct reader *r, unsigned depth, struct gguf_value *out)
{
	uint32_t et;
	uint64_t count;
	size_t at_count;
	enum ajar_err err = read_type(r, "array element type", &et);

	if (err)
		return err;
	if (et == GGUF_TYPE_ARRAY && depth >= GGUF_MAX_DEPTH)
		return fail(r, r->pos - 4, AJAR_ERR_LIMIT, "arrays nested more than %d deep", GGUF_MAX_DEPTH);
	at_count = r->pos;
	if ((err = read_u64(r, "array count", &count)))
		return err;

	size_t es = gguf_type_size((enum gguf_type)et);
	size_t min = es ? es : et == GGUF_TYPE_STRING ? GGUF_MIN_STRING_BYTES : GGUF_MIN_ARRAY_BYTES;
	if (count > bytes_left(r) / min)
		return fail(r, at_count, AJAR_ERR_FORMAT,
			    "array count %llu of %s elements (at least %zu bytes each) exceeds the %zu bytes left",
			    (unsigned long long)count, gguf_type_name((enum gguf_type)et), min, bytes_left(r));

	out->type = GGUF_TYPE_ARRAY;
	out->v.arr.elem_type = (enum gguf_type)et;
	out->v.arr.count = count;
	out->v.arr.raw = NULL;
	out->v.arr.items = NULL;
	if (es) {
		out->v.arr.raw = r->base + r->pos;
		if (et == GGUF_TYPE_BOOL && (err = check_bools(r, r->base + r->pos, count)))
			return err;
		r->pos += (size_t)count * es; /* fits: checked against bytes_left above */
		return AJAR_OK;
	}
	if (count == 0)
		return AJAR_OK;
	/* count <= size / 8, so this product cannot overflow size_t. */
	struct gguf_value *items = arena_alloc(&r->f->arena, (size_t)count * sizeof(*items));
	if (!items)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf: no memory for an array of %llu values", (unsigned long long)count);
	for (uint64_t i = 0; i < count; i++) {
		if ((err = read_value(r, (enum gguf_type)et, depth + 1, &items[i])))
			return err;
	}
	out->v.arr.items = items;
	return AJAR_OK;
}

/* A value of type t (already validated as < GGUF_TYPE_COUNT). `depth` is the
 * nesting level an ARRAY value would have. */
static enum ajar_err read_value(struct reader *r, enum gguf_type t, unsigned depth, struct gguf_value *out)
{
	enum ajar_err err;
	size_t es = gguf_type_size(t);

	if (t == GGUF_TYPE_STRING) {
		out->type = t;
		return read_str(r, "string value", &out->v.str);
	}
	if (t == GGUF_TYPE_ARRAY)
		return read_array(r, depth, out);

	const uint8_t *p = NULL;
	if ((err = read_bytes(r, es, gguf_type_name(t), &p)))
		return err;
	if (t == GGUF_TYPE_BOOL && (err = check_bools(r, p, 1)))
		return err;
	decode_scalar(t, p, out);
	return AJAR_OK;
}

/* ---- the kv section --------------------------------------------------------- */

static enum ajar_err check_alignment_kv(struct reader *r, size_t at, const struct gguf_value *v)
{
	if (v->type != GGUF_TYPE_UINT32)
		return fail(r, at, AJAR_ERR_FORMAT, "has type %s, expected UINT32",
			    gguf_type_name(v->type));
	if (v->v.u64 == 0 || (v->v.u64 & (v->v.u64 - 1)) != 0)
		return fail(r, at, AJAR_ERR_FORMAT, "value %llu is not a power of two",
			    (unsigned long long)v->v.u64);
	r->f->alignment = v->v.u64;
	return AJAR_OK;
}

static enum ajar_err read_kvs(struct reader *r, uint64_t n_kv)
{
	struct gguf_file *f = r->f;
	enum ajar_err err;

	if (n_kv > bytes_left(r) / GGUF_MIN_KV_BYTES)
		return fail(r, 16, AJAR_ERR_FORMAT, "kv count %llu (at least %d bytes each) exceeds the %zu bytes left",
			    (unsigned long long)n_kv, GGUF_MIN_KV_BYTES, bytes_left(r));
	if (n_kv == 0)
		return AJAR_OK;
	f->kvs = calloc((size_t)n_kv, sizeof(*f->kvs));
	if (!f->kvs)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf: no memory for %llu kvs", (unsigned long long)n_kv);
	f->n_kv = (size_t)n_kv;

	for (size_t i = 0; i < f->n_kv; i++) {
		struct gguf_kv *kv = &f->kvs[i];
		uint32_t type;
		size_t at;

		set_ctx(r, "kv %zu", i);
		if ((err = read_name(r, "key", &kv->key)))
			return err;
		set_ctx(r, "key " NAME_FMT, NAME_ARG(kv->key));
		if ((err = read_type(r, "value type", &type)))
			return err;
		at = r->pos;
		if ((err = read_value(r, (enum gguf_type)type, 1, &kv->value)))
			return err;
		if (gguf_str_eq(kv->key, "general.alignment") && (err = check_alignment_kv(r, at, &kv->value)))
			return err;
	}
	r->ctx[0] = '\0';
	return AJAR_OK;
}

/* ---- the tensor infos --------------------------------------------------------- */

/* Offset of the name field of a tensor info (for messages after parsing). */
static size_t name_offset(const struct reader *r, struct gguf_str name)
{
	return (size_t)((const uint8_t *)name.data - r->base) - 8;
}

/* Shape, type and byte size of one tensor info; r->pos is at its n_dims. */
static enum ajar_err read_tensor_shape(struct reader *r, struct gguf_tensor_info *t)
{
	enum ajar_err err;
	size_t at = r->pos;

	if ((err = read_u32(r, "n_dims", &t->n_dims)))
		return err;
	if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
		return fail(r, at, AJAR_ERR_FORMAT, "n_dims %u is not in 1..%d", t->n_dims, GGUF_MAX_DIMS);
	/* The product of the dimensions, a zero counted as one, must fit int64:
	 * then the element count and every partial product do too. */
	uint64_t n_elem = 1;
	for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
		t->ne[d] = 1;
		if (d >= t->n_dims)
			continue;
		at = r->pos;
		if ((err = read_u64(r, "dimension", &t->ne[d])))
			return err;
		if (t->ne[d] > INT64_MAX)
			return fail(r, at, AJAR_ERR_FORMAT, "dimension %u is %llu, more than int64 holds", d,
				    (unsigned long long)t->ne[d]);
		if (t->ne[d] != 0 && n_elem > (uint64_t)INT64_MAX / t->ne[d])
			return fail(r, at, AJAR_ERR_FORMAT, "element count overflows int64 at dimension %u", d);
		if (t->ne[d] != 0)
			n_elem *= t->ne[d];
	}

	at = r->pos;
	if ((err = read_u32(r, "tensor type", &t->type)))
		return err;
	if (!ajar_type_traits(t->type))
		return fail(r, at, AJAR_ERR_UNSUPPORTED, "unknown tensor type %u%s", t->type,
			    (t->type == 4 || t->type == 5 || (t->type >= 31 && t->type <= 33))
				    ? " (a type since removed from GGUF)" : "");

	size_t row;
	if ((err = ajar_row_size_checked(t->type, t->ne[0], &row)))
		return ajar_err_wrap(err, "gguf: offset %zu: %s", at, r->ctx);
	uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3]; /* <= n_elem, so no overflow */
	if (rows != 0 && (uint64_t)row > UINT64_MAX / rows)
		return fail(r, at, AJAR_ERR_LIMIT, "byte size of %llu rows of %zu bytes overflows",
			    (unsigned long long)rows, row);
	t->size = (uint64_t)row * rows;
	return AJAR_OK;
}

static enum ajar_err read_tensor_infos(struct reader *r, uint64_t n_tensors)
{
	struct gguf_file *f = r->f;
	enum ajar_err err;

	if (n_tensors > bytes_left(r) / GGUF_MIN_TENSOR_BYTES)
		return fail(r, 8, AJAR_ERR_FORMAT,
			    "tensor count %llu (at least %d bytes each) exceeds the %zu bytes left after the metadata",
			    (unsigned long long)n_tensors, GGUF_MIN_TENSOR_BYTES, bytes_left(r));
	if (n_tensors == 0)
		return AJAR_OK;
	f->tensors = calloc((size_t)n_tensors, sizeof(*f->tensors));
	if (!f->tensors)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf: no memory for %llu tensor infos", (unsigned long long)n_tensors);
	f->n_tensors = (size_t)n_tensors;

	for (size_t i = 0; i < f->n_tensors; i++) {
		struct gguf_tensor_info *t = &f->tensors[i];
		size_t at;

		set_ctx(r, "tensor %zu", i);
		if ((err = read_name(r, "tensor name", &t->name)))
			return err;
		set_ctx(r, "tensor " NAME_FMT, NAME_ARG(t->name));
		if ((err = read_tensor_shape(r, t)))
			return err;
		at = r->pos;
		if ((err = read_u64(r, "data offset", &t->offset)))
			return err;
		if (t->offset % f->alignment != 0)
			return fail(r, at, AJAR_ERR_FORMAT, "data offset %llu is not a multiple of the alignment %llu",
				    (unsigned long long)t->offset, (unsigned long long)f->alignment);
	}
	r->ctx[0] = '\0';
	return AJAR_OK;
}

/* Places every tensor's data inside the file: [data_offset + offset, + size). */
static enum ajar_err place_tensor_data(struct reader *r)
{
	struct gguf_file *f = r->f;

	if (f->n_tensors == 0)
		return AJAR_OK; /* a vocab-only file may stop before the padding */
	if (f->data_offset > f->size)
		return ajar_errf(AJAR_ERR_FORMAT,
				 "gguf: the data section of %zu tensors would start at offset %llu, past the end of the "
				 "file (size %zu)", f->n_tensors, (unsigned long long)f->data_offset, f->size);
	uint64_t data_bytes = f->size - f->data_offset;
	for (size_t i = 0; i < f->n_tensors; i++) {
		struct gguf_tensor_info *t = &f->tensors[i];
		if (t->offset > data_bytes || t->size > data_bytes - t->offset) {
			/* Saturating: the offsets are hostile and may be near 2^64. */
			uint64_t start = t->offset > UINT64_MAX - f->data_offset ? UINT64_MAX : f->data_offset + t->offset;
			uint64_t end = t->size > UINT64_MAX - start ? UINT64_MAX : start + t->size;
			return ajar_errf(AJAR_ERR_FORMAT,
					 "gguf: offset %zu: tensor " NAME_FMT ": data [%llu, %llu) lies past the end of "
					 "the file (size %zu)", name_offset(r, t->name), NAME_ARG(t->name),
					 (unsigned long long)start, (unsigned long long)end, f->size);
		}
		t->data = f->base + f->data_offset + t->offset;
	}
	return AJAR_OK;
}

/* ---- duplicates and overlaps, found by sorting (O(n log n) whatever the input) -- */

static int cmp_kv_key(const void *a, const void *b)
{
	const struct gguf_kv *x = *(const struct gguf_kv *const *)a, *y = *(const struct gguf_kv *const *)b;
	int c = gguf_str_cmp(x->key, y->key);
	return c ? c : (x > y) - (x < y); /* equal keys stay in file order */
}

static int cmp_tensor_name(const void *a, const void *b)
{
	const struct gguf_tensor_info *x = *(const struct gguf_tensor_info *const *)a;
	const struct gguf_tensor_info *y = *(const struct gguf_tensor_info *const *)b;
	int c = gguf_str_cmp(x->name, y->name);
	return c ? c : (x > y) - (x < y);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
	const struct gguf_tensor_info *x = *(const struct gguf_tensor_info *const *)a;
	const struct gguf_tensor_info *y = *(const struct gguf_tensor_info *const *)b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return (x > y) - (x < y);
}

static enum ajar_err index_kvs(struct reader *r)
{
	struct gguf_file *f = r->f;

	if (f->n_kv == 0)
		return AJAR_OK;
	f->kv_sorted = malloc(f->n_kv * sizeof(*f->kv_sorted));
	if (!f->kv_sorted)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf: no memory for the key index");
	for (size_t i = 0; i < f->n_kv; i++)
		f->kv_sorted[i] = &f->kvs[i];
	qsort(f->kv_sorted, f->n_kv, sizeof(*f->kv_sorted), cmp_kv_key);
	for (size_t i = 1; i < f->n_kv; i++) {
		const struct gguf_kv *a = f->kv_sorted[i - 1], *b = f->kv_sorted[i];
		if (gguf_str_cmp(a->key, b->key) == 0)
			return ajar_errf(AJAR_ERR_FORMAT, "gguf: offset %zu: key " NAME_FMT " appears twice (kv %zu and %zu)",
					 name_offset(r, b->key), NAME_ARG(b->key), (size_t)(a - f->kvs),
					 (size_t)(b - f->kvs));
	}
	return AJAR_OK;
}

static enum ajar_err index_tensors(struct reader *r)
{
	struct gguf_file *f = r->f;
	enum ajar_err err = AJAR_OK;

	if (f->n_tensors == 0)
		return AJAR_OK;
	f->tensor_sorted = malloc(f->n_tensors * sizeof(*f->tensor_sorted));
	if (!f->tensor_sorted)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf: no memory for the tensor index");
	for (size_t i = 0; i < f->n_tensors; i++)
		f->tensor_sorted[i] = &f->tensors[i];

	/* Overlaps first, borrowing the array, then sort it by name for good. */
	qsort(f->tensor_sorted, f->n_tensors, sizeof(*f->tensor_sorted), cmp_tensor_offset);
	const struct gguf_tensor_info *last = NULL; /* the nonempty tensor ending furthest so far */
	for (size_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor_info *t = f->tensor_sorted[i];
		if (t->size == 0)
			continue;
		if (last && t->offset < last->offset + last->size) {
			err = ajar_errf(AJAR_ERR_FORMAT,
					"gguf: offset %zu: tensor " NAME_FMT ": data at [%llu, %llu) overlaps tensor " NAME_FMT
					" at [%llu, %llu) (offsets within the data section)",
					name_offset(r, t->name), NAME_ARG(t->name), (unsigned long long)t->offset,
					(unsigned long long)(t->offset + t->size), NAME_ARG(last->name),
					(unsigned long long)last->offset, (unsigned long long)(last->offset + last->size));
			return err;
		}
		if (!last || t->offset + t->size > last->offset + last->size)
			last = t;
	}

	qsort(f->tensor_sorted, f->n_tensors, sizeof(*f->tensor_sorted), cmp_tensor_name);
	for (size_t i = 1; i < f->n_tensors; i++) {
		const struct gguf_tensor_info *a = f->tensor_sorted[i - 1], *b = f->tensor_sorted[i];
		if (gguf_str_cmp(a->name, b->name) == 0)
			return ajar_errf(AJAR_ERR_FORMAT,
					 "gguf: offset %zu: tensor name " NAME_FMT " appears twice (tensor %zu and %zu)",
					 name_offset(r, b->name), NAME_ARG(b->name), (size_t)(a - f->tensors),
					 (size_t)(b - f->tensors));
	}
	return AJAR_OK;
}

/* ---- header and the whole parse --------------------------------------------- */

static enum ajar_err read_header(struct reader *r, uint64_t *n_tensors, uint64_t *n_kv)
{
	const uint8_t *magic = NULL;
	enum ajar_err err;

	if (r->size < GGUF_HEADER_SIZE && r->size >= 4 && memcmp(r->base, GGUF_MAGIC, 4) != 0)
		return fail(r, 0, AJAR_ERR_FORMAT, "not a GGUF file (%zu bytes, no \"GGUF\" magic)", r->size);
	if ((err = read_bytes(r, 4, "the magic", &magic)))
		return err;
	if (memcmp(magic, GGUF_MAGIC, 4) != 0)
		return fail(r, 0, AJAR_ERR_FORMAT,
			    "bad magic %02x %02x %02x %02x: not a GGUF file (it starts with \"GGUF\")", magic[0],
			    magic[1], magic[2], magic[3]);
	if ((err = read_u32(r, "the version", &r->f->version)))
		return err;
	uint32_t v = r->f->version;
	if (v == 1)
		return fail(r, 4, AJAR_ERR_UNSUPPORTED,
			    "GGUF version 1 is not supported (it used 32-bit counts); convert the file to version 3");
	if (v == 0x02000000 || v == 0x03000000)
		return fail(r, 4, AJAR_ERR_UNSUPPORTED, "version %u is %u byte-swapped: big-endian GGUF files are not supported",
			    v, v >> 24);
	if (v != 2 && v != 3)
		return fail(r, 4, AJAR_ERR_UNSUPPORTED, "GGUF version %u is not supported (only 2 and 3)", v);
	if ((err = read_u64(r, "the tensor count", n_tensors)))
		return err;
	return read_u64(r, "the kv count", n_kv);
}

static enum ajar_err parse(struct gguf_file *f)
{
	struct reader r = { .base = f->base, .size = f->size, .f = f };
	uint64_t n_tensors, n_kv;
	enum ajar_err err;

	f->alignment = GGUF_DEFAULT_ALIGNMENT;
	if ((err = read_header(&r, &n_tensors, &n_kv)))
		return err;
	/* Both counts at once, so that a file claiming 2^60 tensors fails here
	 * rather than after parsing megabytes of metadata. */
	if (n_tensors > bytes_left(&r) / GGUF_MIN_TENSOR_BYTES)
		return fail(&r, 8, AJAR_ERR_FORMAT, "tensor count %llu (at least %d bytes each) exceeds the %zu bytes left",
			    (unsigned long long)n_tensors, GGUF_MIN_TENSOR_BYTES, bytes_left(&r));
	if ((err = read_kvs(&r, n_kv)))
		return err;
	if ((err = read_tensor_infos(&r, n_tensors)))
		return err;
	/* pos <= size and alignment <= 2^31, so this cannot overflow. */
	f->data_offset = ((uint64_t)r.pos + f->alignment - 1) & ~(f->alignment - 1);
	if ((err = place_tensor_data(&r)))
		return err;
	if ((err = index_kvs(&r)))
		return err;
	return index_tensors(&r);
}

/* Takes base[0..size) (mapped or borrowed) and parses it. */
static enum ajar_err open_image(const void *base, size_t size, bool mapped, struct gguf_file **out)
{
	struct gguf_file *f = calloc(1, sizeof(*f));
	enum ajar_err err;

	*out = NULL;
	if (!f)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf: no memory");
	f->base = base;
	f->size = size;
	if ((err = parse(f))) {
		gguf_close(f); /* does not unmap: f->mapped is still false */
		return err;
	}
	f->mapped = mapped;
	*out = f;
	return AJAR_OK;
}

enum ajar_err gguf_open_memory(const void *data, size_t size, struct gguf_file **out)
{
	static const uint8_t empty[1];
	return open_image(size ? data : empty, size, false, out);
}

enum ajar_err gguf_open(const char *path, struct gguf_file **out)
{
	char ebuf[128];
	struct stat st;
	void *base;
	enum ajar_err err;

	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror_r(errno, ebuf, sizeof(ebuf)));
	if (fstat(fd, &st) != 0) {
		err = ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror_r(errno, ebuf, sizeof(ebuf)));
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return ajar_errf(AJAR_ERR_IO, "%s: not a regular file", path);
	}
	if (st.st_size < GGUF_HEADER_SIZE) {
		close(fd);
		return ajar_errf(AJAR_ERR_FORMAT, "%s: gguf: file is %lld bytes, smaller than the %d-byte GGUF header",
				 path, (long long)st.st_size, GGUF_HEADER_SIZE);
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return ajar_errf(AJAR_ERR_LIMIT, "%s: file of %lld bytes is too large to map", path,
				 (long long)st.st_size);
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (base == MAP_FAILED) {
		err = ajar_errf(AJAR_ERR_IO, "%s: mmap: %s", path, strerror_r(errno, ebuf, sizeof(ebuf)));
		close(fd);
		return err;
	}
	close(fd); /* the mapping keeps the file */
#ifdef MADV_HUGEPAGE
	/* Weights are streamed whole for every token: pages the file still has
	 * to read in come as 2 MB folios where the kernel can, one TLB entry
	 * instead of 512. Advice only; failure changes nothing. */
	(void)madvise(base, (size_t)st.st_size, MADV_HUGEPAGE);
#endif
	if ((err = open_image(base, (size_t)st.st_size, true, out))) {
		munmap(base, (size_t)st.st_size);
		return ajar_err_wrap(err, "%s", path);
	}
	return AJAR_OK;
}

void gguf_close(struct gguf_file *f)
{
	if (!f)
		return;
	if (f->mapped)
		munmap((void *)f->base, f->size);
	free(f->kvs);
	free(f->kv_sorted);
	free(f->tensors);
	free(f->tensor_sorted);
	arena_free(f->arena);
	free(f);
}
