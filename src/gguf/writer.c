/*
 * writer.c - building GGUF v3 files.
 *
 * The writer collects kvs (in order; setting a key again replaces it in place)
 * and tensors (in order), validating each as it is added, and writes them in
 * one pass in the canonical layout, the one llama.cpp and gguf-py write:
 *
 *   header; kvs; tensor infos; zero padding to the alignment;
 *   tensor 0 data; padding; tensor 1 data; padding; ... (the last one padded too)
 *
 * so that reading a canonical file and writing back every kv and tensor in
 * order gives the same bytes. A file without tensors ends after its tensor
 * infos, unpadded, as gguf-py writes vocab-only files. The alignment is the
 * general.alignment kv if one was set (by either setter), else 32.
 *
 * The output goes to "<path>.tmp.<pid>.<n>" in the same directory, is fsynced
 * and renamed over path, so readers see the old file or the whole new one.
 *
 * Ownership: keys, tensor names and the values of the typed setters are
 * copied; values given to gguf_writer_set and tensor data are borrowed until
 * gguf_writer_write returns.
 */
#include "gguf/gguf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <libgen.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ajar/tensor.h"

/* Numeric arrays and tensor data are written as they lie in memory. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF is little-endian; so must the host be");

struct writer_kv {
	char *key;               /* owned, NUL-terminated */
	struct gguf_value value; /* its pointers borrow the caller's memory or `owned` */
	void *owned;             /* copies made by the typed setters, or NULL; owned */
};

struct writer_tensor {
	char *name; /* owned */
	uint32_t type, n_dims;
	uint64_t ne[GGUF_MAX_DIMS];
	uint64_t size;    /* bytes */
	const void *data; /* borrowed until gguf_writer_write returns */
};

struct gguf_writer {
	struct writer_kv *kvs; /* [n_kv], capacity cap_kv; owned */
	size_t n_kv, cap_kv;
	struct writer_tensor *tensors; /* [n_tensors], capacity cap_tensors; owned */
	size_t n_tensors, cap_tensors;
};

enum ajar_err gguf_writer_new(struct gguf_writer **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? AJAR_OK : ajar_errf(AJAR_ERR_NOMEM, "gguf writer: no memory");
}

void gguf_writer_free(struct gguf_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_kv; i++) {
		free(w->kvs[i].key);
		free(w->kvs[i].owned);
	}
	for (size_t i = 0; i < w->n_tensors; i++)
		free(w->tensors[i].name);
	free(w->kvs);
	free(w->tensors);
	free(w);
}

/* Grows *arr (of elements of elem bytes) to hold one more than n. */
static enum ajar_err grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return AJAR_OK;
	size_t new_cap = *cap ? *cap * 2 : 16;
	if (new_cap > SIZE_MAX / elem)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf writer: too many entries");
	void *p = realloc(*arr, new_cap * elem);
	if (!p)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf writer: no memory");
	*arr = p;
	*cap = new_cap;
	return AJAR_OK;
}

static enum ajar_err check_name(const char *what, const char *name)
{
	size_t bad;

	if (!name)
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: %s is NULL", what);
	if (!gguf_name_valid((const uint8_t *)name, strlen(name), &bad))
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: %s is not valid UTF-8 (byte %zu)", what, bad);
	return AJAR_OK;
}

/* ---- value validation ----------------------------------------------------------- */

static enum ajar_err check_value(const char *key, const struct gguf_value *v, unsigned depth);

static enum ajar_err check_scalar(const char *key, const struct gguf_value *v)
{
	int64_t i = v->v.i64;
	uint64_t u = v->v.u64;
	bool ok = true;

	switch (v->type) {
	case GGUF_TYPE_UINT8: ok = u <= UINT8_MAX; break;
	case GGUF_TYPE_UINT16: ok = u <= UINT16_MAX; break;
	case GGUF_TYPE_UINT32: ok = u <= UINT32_MAX; break;
	case GGUF_TYPE_BOOL: ok = u <= 1; break;
	case GGUF_TYPE_INT8: ok = i >= INT8_MIN && i <= INT8_MAX; break;
	case GGUF_TYPE_INT16: ok = i >= INT16_MIN && i <= INT16_MAX; break;
	case GGUF_TYPE_INT32: ok = i >= INT32_MIN && i <= INT32_MAX; break;
	case GGUF_TYPE_FLOAT32: ok = !isfinite(v->v.f64) || fabs(v->v.f64) <= FLT_MAX; break;
	default: break; /* UINT64, INT64, FLOAT64 hold anything */
	}
	return ok ? AJAR_OK
		  : ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': value out of range for %s", key,
			      gguf_type_name(v->type));
}

static enum ajar_err check_array(const char *key, const struct gguf_value *v, unsigned depth)
{
	enum gguf_type et = v->v.arr.elem_type;
	uint64_t n = v->v.arr.count;
	size_t es = gguf_type_size(et);
	enum ajar_err err;

	if ((unsigned)et >= GGUF_TYPE_COUNT)
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': unknown array element type %u", key,
				 (unsigned)et);
	if (et == GGUF_TYPE_ARRAY && depth >= GGUF_MAX_DEPTH)
		return ajar_errf(AJAR_ERR_LIMIT, "gguf writer: key '%s': arrays nested more than %d deep", key,
				 GGUF_MAX_DEPTH);
	if (es) {
		if (n > SIZE_MAX / es || (n && !v->v.arr.raw))
			return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': bad array of %llu %s", key,
					 (unsigned long long)n, gguf_type_name(et));
		if (et == GGUF_TYPE_BOOL)
			for (uint64_t k = 0; k < n; k++)
				if (((const uint8_t *)v->v.arr.raw)[k] > 1)
					return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': bool %llu is not 0 or 1",
							 key, (unsigned long long)k);
		return AJAR_OK;
	}
	if (n && !v->v.arr.items)
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': array of %llu %s without items", key,
				 (unsigned long long)n, gguf_type_name(et));
	for (uint64_t k = 0; k < n; k++) {
		const struct gguf_value *item = &v->v.arr.items[k];
		if (item->type != et)
			return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': item %llu is %s in an array of %s", key,
					 (unsigned long long)k, gguf_type_name(item->type), gguf_type_name(et));
		if ((err = check_value(key, item, depth + 1)))
			return err;
	}
	return AJAR_OK;
}

/* `depth` is the nesting level an ARRAY value would have (1 at the top). */
static enum ajar_err check_value(const char *key, const struct gguf_value *v, unsigned depth)
{
	if ((unsigned)v->type >= GGUF_TYPE_COUNT)
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': unknown value type %u", key,
				 (unsigned)v->type);
	if (v->type == GGUF_TYPE_STRING) {
		if (v->v.str.len && !v->v.str.data)
			return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': NULL string", key);
		return AJAR_OK;
	}
	if (v->type == GGUF_TYPE_ARRAY)
		return check_array(key, v, depth);
	return check_scalar(key, v);
}

/* ---- setters ------------------------------------------------------------------------ */

/* Validates and stores key = value, taking ownership of `owned` (the memory
 * the value points into, or NULL) whatever the outcome. */
static enum ajar_err put(struct gguf_writer *w, const char *key, const struct gguf_value *value, void *owned)
{
	enum ajar_err err;
	char *copy = NULL;

	if ((err = check_name("key", key)) || (err = check_value(key, value, 1)))
		goto fail;
	if (strcmp(key, "general.alignment") == 0 &&
	    (value->type != GGUF_TYPE_UINT32 || value->v.u64 == 0 || (value->v.u64 & (value->v.u64 - 1)))) {
		err = ajar_errf(AJAR_ERR_INVALID, "gguf writer: general.alignment must be a UINT32 power of two");
		goto fail;
	}
	for (size_t i = 0; i < w->n_kv; i++) {
		if (strcmp(w->kvs[i].key, key) == 0) {
			free(w->kvs[i].owned);
			w->kvs[i].value = *value;
			w->kvs[i].owned = owned;
			return AJAR_OK;
		}
	}
	if ((err = grow((void **)&w->kvs, &w->cap_kv, w->n_kv, sizeof(*w->kvs))))
		goto fail;
	if (!(copy = strdup(key))) {
		err = ajar_errf(AJAR_ERR_NOMEM, "gguf writer: no memory");
		goto fail;
	}
	w->kvs[w->n_kv++] = (struct writer_kv){ .key = copy, .value = *value, .owned = owned };
	return AJAR_OK;
fail:
	free(owned);
	return err;
}

enum ajar_err gguf_writer_set(struct gguf_writer *w, const char *key, const struct gguf_value *value)
{
	return put(w, key, value, NULL);
}

enum ajar_err gguf_writer_set_u32(struct gguf_writer *w, const char *key, uint32_t v)
{
	struct gguf_value val = { .type = GGUF_TYPE_UINT32, .v.u64 = v };
	return put(w, key, &val, NULL);
}

enum ajar_err gguf_writer_set_i32(struct gguf_writer *w, const char *key, int32_t v)
{
	struct gguf_value val = { .type = GGUF_TYPE_INT32, .v.i64 = v };
	return put(w, key, &val, NULL);
}

enum ajar_err gguf_writer_set_f32(struct gguf_writer *w, const char *key, float v)
{
	struct gguf_value val = { .type = GGUF_TYPE_FLOAT32, .v.f64 = v };
	return put(w, key, &val, NULL);
}

enum ajar_err gguf_writer_set_bool(struct gguf_writer *w, const char *key, bool v)
{
	struct gguf_value val = { .type = GGUF_TYPE_BOOL, .v.u64 = v };
	return put(w, key, &val, NULL);
}

enum ajar_err gguf_writer_set_str(struct gguf_writer *w, const char *key, const char *v)
{
	if (!v)
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': NULL string", key ? key : "(null)");
	size_t n = strlen(v);
	char *copy = malloc(n ? n : 1);
	if (!copy)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf writer: no memory");
	memcpy(copy, v, n);
	struct gguf_value val = { .type = GGUF_TYPE_STRING, .v.str = { copy, n } };
	return put(w, key, &val, copy);
}

enum ajar_err gguf_writer_set_arr(struct gguf_writer *w, const char *key, enum gguf_type elem_type, const void *data,
				  uint64_t n)
{
	size_t es = gguf_type_size(elem_type);

	if (!es)
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': %s is not a fixed-size element type",
				 key ? key : "(null)", gguf_type_name(elem_type));
	if (n > SIZE_MAX / es || (n && !data))
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': bad array of %llu %s", key ? key : "(null)",
				 (unsigned long long)n, gguf_type_name(elem_type));
	void *copy = malloc(n ? (size_t)n * es : 1);
	if (!copy)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf writer: no memory for %llu array elements", (unsigned long long)n);
	if (n)
		memcpy(copy, data, (size_t)n * es);
	struct gguf_value val = { .type = GGUF_TYPE_ARRAY, .v.arr = { .elem_type = elem_type, .count = n, .raw = copy } };
	return put(w, key, &val, copy);
}

enum ajar_err gguf_writer_set_arr_str(struct gguf_writer *w, const char *key, const struct gguf_str *strs, uint64_t n)
{
	/* One block: n values, then the bytes of every string. */
	size_t bytes;
	if (n > SIZE_MAX / sizeof(struct gguf_value) || (n && !strs))
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': bad array of %llu strings",
				 key ? key : "(null)", (unsigned long long)n);
	bytes = (size_t)n * sizeof(struct gguf_value);
	for (uint64_t i = 0; i < n; i++) {
		if (strs[i].len > SIZE_MAX - bytes || (strs[i].len && !strs[i].data))
			return ajar_errf(AJAR_ERR_INVALID, "gguf writer: key '%s': bad string %llu", key ? key : "(null)",
					 (unsigned long long)i);
		bytes += (size_t)strs[i].len;
	}
	struct gguf_value *items = malloc(bytes ? bytes : 1);
	if (!items)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf writer: no memory for %llu strings", (unsigned long long)n);
	char *text = (char *)(items + n);
	for (uint64_t i = 0; i < n; i++) {
		if (strs[i].len)
			memcpy(text, strs[i].data, (size_t)strs[i].len);
		items[i] = (struct gguf_value){ .type = GGUF_TYPE_STRING, .v.str = { text, strs[i].len } };
		text += strs[i].len;
	}
	struct gguf_value val = {
		.type = GGUF_TYPE_ARRAY,
		.v.arr = { .elem_type = GGUF_TYPE_STRING, .count = n, .items = n ? items : NULL },
	};
	return put(w, key, &val, items);
}

enum ajar_err gguf_writer_set_alignment(struct gguf_writer *w, uint32_t alignment)
{
	return gguf_writer_set_u32(w, "general.alignment", alignment);
}

enum ajar_err gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
				     const uint64_t *ne, const void *data)
{
	struct writer_tensor t = { .type = type, .n_dims = n_dims };
	enum ajar_err err;
	size_t row;

	if ((err = check_name("tensor name", name)))
		return err;
	for (size_t i = 0; i < w->n_tensors; i++)
		if (strcmp(w->tensors[i].name, name) == 0)
			return ajar_errf(AJAR_ERR_INVALID, "gguf writer: tensor '%s' added twice", name);
	if (n_dims < 1 || n_dims > GGUF_MAX_DIMS || !ne)
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: tensor '%s': n_dims %u is not in 1..%d", name, n_dims,
				 GGUF_MAX_DIMS);
	uint64_t n_elem = 1; /* zeros counted as one, as the reader does */
	for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
		t.ne[d] = d < n_dims ? ne[d] : 1;
		if (t.ne[d] > INT64_MAX || (t.ne[d] && n_elem > (uint64_t)INT64_MAX / t.ne[d]))
			return ajar_errf(AJAR_ERR_INVALID, "gguf writer: tensor '%s': shape overflows int64", name);
		if (t.ne[d])
			n_elem *= t.ne[d];
	}
	if ((err = ajar_row_size_checked(type, t.ne[0], &row)))
		return ajar_err_wrap(err, "gguf writer: tensor '%s'", name);
	uint64_t rows = t.ne[1] * t.ne[2] * t.ne[3];
	if (rows && row > UINT64_MAX / rows)
		return ajar_errf(AJAR_ERR_LIMIT, "gguf writer: tensor '%s': byte size overflows", name);
	t.size = (uint64_t)row * rows;
	if (t.size && !data)
		return ajar_errf(AJAR_ERR_INVALID, "gguf writer: tensor '%s': NULL data", name);
	t.data = data;
	if ((err = grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof(*w->tensors))))
		return err;
	if (!(t.name = strdup(name)))
		return ajar_errf(AJAR_ERR_NOMEM, "gguf writer: no memory");
	w->tensors[w->n_tensors++] = t;
	return AJAR_OK;
}

/* ---- output -------------------------------------------------------------------------- */

/* A buffered file with a sticky error: after the first failure every put is
 * a no-op and the error is reported once at the end. */
struct sink {
	int fd;
	const char *path; /* for messages */
	uint8_t *buf;     /* [cap]; owned */
	size_t len, cap;
	uint64_t total; /* bytes put so far: the file offset of the next byte */
	enum ajar_err err;
};

#define SINK_BYTES (1u << 20)

static void write_all(struct sink *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	char ebuf[128];

	while (n > 0 && !s->err) {
		/* Linux writes at most ~2 GiB per call; chunk to stay well inside it. */
		ssize_t k = write(s->fd, b, n < (1u << 30) ? n : (1u << 30));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			s->err = ajar_errf(AJAR_ERR_IO, "%s: write: %s", s->path,
					   k < 0 ? strerror_r(errno, ebuf, sizeof(ebuf)) : "no progress");
			return;
		}
		b += k;
		n -= (size_t)k;
	}
}

static void sink_flush(struct sink *s)
{
	write_all(s, s->buf, s->len);
	s->len = 0;
}

static void sink_put(struct sink *s, const void *p, size_t n)
{
	if (s->err)
		return;
	s->total += n;
	if (n > s->cap - s->len)
		sink_flush(s);
	if (n >= s->cap) {
		write_all(s, p, n); /* big tensors go straight through */
		return;
	}
	if (n) {
		memcpy(s->buf + s->len, p, n);
		s->len += n;
	}
}

static void sink_le(struct sink *s, uint64_t v, size_t n)
{
	uint8_t b[8];
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	sink_put(s, b, n);
}

static void sink_zeros(struct sink *s, uint64_t n)
{
	static const uint8_t zeros[4096];
	while (n > 0) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		sink_put(s, zeros, k);
		n -= k;
	}
}

static void sink_str(struct sink *s, const char *p, uint64_t n)
{
	sink_le(s, n, 8);
	sink_put(s, p, (size_t)n);
}

/* Values were validated when set, so the recursion is at most GGUF_MAX_DEPTH. */
static void put_value(struct sink *s, const struct gguf_value *v)
{
	size_t es = gguf_type_size(v->type);

	if (v->type == GGUF_TYPE_STRING) {
		sink_str(s, v->v.str.data, v->v.str.len);
	} else if (v->type == GGUF_TYPE_ARRAY) {
		enum gguf_type et = v->v.arr.elem_type;
		size_t ees = gguf_type_size(et);
		sink_le(s, (uint32_t)et, 4);
		sink_le(s, v->v.arr.count, 8);
		if (ees)
			sink_put(s, v->v.arr.raw, (size_t)v->v.arr.count * ees);
		else
			for (uint64_t i = 0; i < v->v.arr.count; i++)
				put_value(s, &v->v.arr.items[i]);
	} else if (v->type == GGUF_TYPE_FLOAT32) {
		float f = (float)v->v.f64;
		uint32_t bits;
		memcpy(&bits, &f, sizeof(bits));
		sink_le(s, bits, 4);
	} else if (v->type == GGUF_TYPE_FLOAT64) {
		uint64_t bits;
		memcpy(&bits, &v->v.f64, sizeof(bits));
		sink_le(s, bits, 8);
	} else {
		/* integers and bool: the low es bytes of the two's complement value */
		sink_le(s, v->v.u64, es);
	}
}

static uint64_t writer_alignment(const struct gguf_writer *w)
{
	for (size_t i = 0; i < w->n_kv; i++)
		if (strcmp(w->kvs[i].key, "general.alignment") == 0)
			return w->kvs[i].value.v.u64; /* validated by put() */
	return GGUF_DEFAULT_ALIGNMENT;
}

static uint64_t pad_to(uint64_t n, uint64_t align)
{
	return (align - n % align) % align;
}

/* Writes the whole file to s; the first error is left in s->err. */
static void put_file(const struct gguf_writer *w, struct sink *s)
{
	uint64_t align = writer_alignment(w);
	uint64_t offset = 0;              /* of the next tensor, within the data section */

	sink_put(s, GGUF_MAGIC, 4);
	sink_le(s, 3, 4);
	sink_le(s, w->n_tensors, 8);
	sink_le(s, w->n_kv, 8);
	for (size_t i = 0; i < w->n_kv; i++) {
		sink_str(s, w->kvs[i].key, strlen(w->kvs[i].key));
		sink_le(s, (uint32_t)w->kvs[i].value.type, 4);
		put_value(s, &w->kvs[i].value);
	}
	for (size_t i = 0; i < w->n_tensors; i++) {
		const struct writer_tensor *t = &w->tensors[i];
		uint64_t padded = t->size + pad_to(t->size, align);
		if (padded < t->size || offset > UINT64_MAX - padded) {
			s->err = ajar_errf(AJAR_ERR_LIMIT, "gguf writer: data section overflows at tensor '%s'", t->name);
			return;
		}
		sink_str(s, t->name, strlen(t->name));
		sink_le(s, t->n_dims, 4);
		for (uint32_t d = 0; d < t->n_dims; d++)
			sink_le(s, t->ne[d], 8);
		sink_le(s, t->type, 4);
		sink_le(s, offset, 8);
		offset += padded;
	}
	if (w->n_tensors == 0)
		return;
	sink_zeros(s, pad_to(s->total, align));
	for (size_t i = 0; i < w->n_tensors; i++) {
		const struct writer_tensor *t = &w->tensors[i];
		sink_put(s, t->data, (size_t)t->size);
		sink_zeros(s, pad_to(t->size, align));
	}
}

/* Creates "<path>.tmp.<pid>.<n>" with O_EXCL, so that the umask applies and
 * two writers never share a temp file. *tmp is owned by the caller. */
static enum ajar_err create_temp(const char *path, char **tmp, int *fd)
{
	static atomic_uint counter;
	char ebuf[128];
	size_t cap = strlen(path) + 64;

	*tmp = malloc(cap);
	if (!*tmp)
		return ajar_errf(AJAR_ERR_NOMEM, "gguf writer: no memory");
	for (int attempt = 0; attempt < 100; attempt++) {
		snprintf(*tmp, cap, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
		*fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (*fd >= 0)
			return AJAR_OK;
		if (errno != EEXIST)
			break;
	}
	enum ajar_err err = ajar_errf(AJAR_ERR_IO, "%s: %s", *tmp, strerror_r(errno, ebuf, sizeof(ebuf)));
	free(*tmp);
	*tmp = NULL;
	return err;
}

/* Makes the rename durable; best effort, as the data itself is already safe. */
static void sync_dir(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

enum ajar_err gguf_writer_write(struct gguf_writer *w, const char *path)
{
	struct sink s = { .fd = -1, .path = path, .cap = SINK_BYTES };
	char *tmp = NULL;
	char ebuf[128];
	enum ajar_err err;

	if (!(s.buf = malloc(s.cap)))
		return ajar_errf(AJAR_ERR_NOMEM, "gguf writer: no memory");
	if ((err = create_temp(path, &tmp, &s.fd)))
		goto out;
	s.path = tmp;
	put_file(w, &s);
	sink_flush(&s);
	if ((err = s.err))
		goto out;
	if (fsync(s.fd) != 0) {
		err = ajar_errf(AJAR_ERR_IO, "%s: fsync: %s", tmp, strerror_r(errno, ebuf, sizeof(ebuf)));
		goto out;
	}
	int fd = s.fd;
	s.fd = -1;
	if (close(fd) != 0) {
		err = ajar_errf(AJAR_ERR_IO, "%s: close: %s", tmp, strerror_r(errno, ebuf, sizeof(ebuf)));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		err = ajar_errf(AJAR_ERR_IO, "rename %s to %s: %s", tmp, path, strerror_r(errno, ebuf, sizeof(ebuf)));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	sync_dir(path);
out:
	if (s.fd >= 0)
		close(s.fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(s.buf);
	return err;
}
