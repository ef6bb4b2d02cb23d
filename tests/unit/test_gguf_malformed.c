/*
 * test_gguf_malformed.c - hostile and truncated GGUF files must be refused
 * with an error and a message naming the problem and the byte offset: never a
 * crash, a hang or a huge allocation. Run under ASan+UBSan too.
 *
 * A small valid file is built by hand here (so every field's offset is known)
 * and each case patches one field of a copy; others are built whole (the
 * nesting bomb) or come from the writer and the fixtures (truncations). Every
 * image is copied into a buffer of exactly its size, so that reading one byte
 * too far is an ASan error.
 */
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#include "ajar/gguf.h"
#include "ajar/tensor.h"
#include "check.h"

/* ---- building images --------------------------------------------------------------- */

struct image {
	uint8_t p[4096];
	size_t len;
};

static void put(struct image *im, const void *p, size_t n)
{
	if (im->len + n > sizeof(im->p)) {
		fprintf(stderr, "test image too large\n");
		abort();
	}
	memcpy(im->p + im->len, p, n);
	im->len += n;
}

static void put_u32(struct image *im, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	put(im, b, 4);
}

static void put_u64(struct image *im, uint64_t v)
{
	put_u32(im, (uint32_t)v);
	put_u32(im, (uint32_t)(v >> 32));
}

static void put_str(struct image *im, const char *s)
{
	put_u64(im, strlen(s));
	put(im, s, strlen(s));
}

static void patch_u32(struct image *im, size_t at, uint32_t v)
{
	struct image tmp = { .len = 0 };
	put_u32(&tmp, v);
	memcpy(im->p + at, tmp.p, 4);
}

static void patch_u64(struct image *im, size_t at, uint64_t v)
{
	struct image tmp = { .len = 0 };
	put_u64(&tmp, v);
	memcpy(im->p + at, tmp.p, 8);
}

/* Where the fields of the base image are. */
struct layout {
	size_t version, n_tensors, n_kv;
	size_t key0, type0, str0;         /* kv 0: general.architecture = "llama" */
	size_t key1, type1, align;        /* kv 1: general.alignment = 32 (UINT32) */
	size_t key2, type2, elem2, count2; /* kv 2: key.bbb = ["a","bc","d"] */
	size_t item2;                      /* the length of the second string */
	size_t name0, n_dims0, ne0, type_t0, off0; /* tensor 0: a.weight F32 [4, 2] at 0 */
	size_t name1, n_dims1, ne1, type_t1, off1; /* tensor 1: b.weight F32 [8] at 32 */
	size_t data;                               /* start of the data section (64 bytes) */
};

/* The base image: header, 3 kvs, 2 tensor infos, padding, 64 bytes of data.
 * 2 tensors, canonical layout, nothing after the last tensor. */
static void build_base(struct image *im, struct layout *l)
{
	im->len = 0;
	put(im, "GGUF", 4);
	l->version = im->len;
	put_u32(im, 3);
	l->n_tensors = im->len;
	put_u64(im, 2);
	l->n_kv = im->len;
	put_u64(im, 3);

	l->key0 = im->len;
	put_str(im, "general.architecture");
	l->type0 = im->len;
	put_u32(im, GGUF_TYPE_STRING);
	l->str0 = im->len;
	put_str(im, "llama");

	l->key1 = im->len;
	put_str(im, "general.alignment");
	l->type1 = im->len;
	put_u32(im, GGUF_TYPE_UINT32);
	l->align = im->len;
	put_u32(im, 32);

	l->key2 = im->len;
	put_str(im, "key.bbb");
	l->type2 = im->len;
	put_u32(im, GGUF_TYPE_ARRAY);
	l->elem2 = im->len;
	put_u32(im, GGUF_TYPE_STRING);
	l->count2 = im->len;
	put_u64(im, 3);
	put_str(im, "a");
	l->item2 = im->len;
	put_str(im, "bc");
	put_str(im, "d");

	l->name0 = im->len;
	put_str(im, "a.weight");
	l->n_dims0 = im->len;
	put_u32(im, 2);
	l->ne0 = im->len;
	put_u64(im, 4);
	put_u64(im, 2);
	l->type_t0 = im->len;
	put_u32(im, AJAR_TYPE_F32);
	l->off0 = im->len;
	put_u64(im, 0);

	l->name1 = im->len;
	put_str(im, "b.weight");
	l->n_dims1 = im->len;
	put_u32(im, 1);
	l->ne1 = im->len;
	put_u64(im, 8);
	l->type_t1 = im->len;
	put_u32(im, AJAR_TYPE_F32);
	l->off1 = im->len;
	put_u64(im, 32);

	static const uint8_t zeros[32];
	put(im, zeros, (32 - im->len % 32) % 32);
	l->data = im->len;
	for (int i = 0; i < 64; i++) {
		uint8_t b = (uint8_t)i;
		put(im, &b, 1);
	}
}

/* ---- opening images ------------------------------------------------------------------- */

/* Opens a copy of p[0..n) in a buffer of exactly n bytes. On success the
 * copy is returned in *copy (free after gguf_close). */
static enum ajar_err open_exact(const uint8_t *p, size_t n, struct gguf_file **f, uint8_t **copy)
{
	*copy = malloc(n ? n : 1);
	if (!*copy)
		abort();
	if (n)
		memcpy(*copy, p, n);
	enum ajar_err err = gguf_open_memory(*copy, n, f);
	if (err) {
		free(*copy);
		*copy = NULL;
	}
	return err;
}

static bool opens(const uint8_t *p, size_t n)
{
	struct gguf_file *f = NULL;
	uint8_t *copy;
	enum ajar_err err = open_exact(p, n, &f, &copy);
	if (!err) {
		gguf_close(f);
		free(copy);
	}
	return err == AJAR_OK;
}

/*
 * Checks that p[0..n) is refused with `want` (0: any error) and a message
 * holding each of the NULL-terminated needles. `line` is the caller's.
 */
static void refuse_at(int line, const uint8_t *p, size_t n, enum ajar_err want, ...)
{
	struct gguf_file *f = (struct gguf_file *)&f; /* must be reset to NULL */
	uint8_t *copy;
	enum ajar_err err = open_exact(p, n, &f, &copy);
	const char *msg = ajar_err_msg();
	va_list ap;

	if (err == AJAR_OK) {
		fprintf(stderr, "%s:%d: CHECK failed: a malformed image opened\n", __FILE__, line);
		check_failures++;
		gguf_close(f);
		free(copy);
		return;
	}
	if (getenv("AJAR_TEST_VERBOSE"))
		printf("line %d: %s: %s\n", line, ajar_err_name(err), msg);
	CHECK_MSG(f == NULL, "line %d: *out not NULL after an error", line);
	CHECK_MSG(msg[0] != '\0', "line %d: empty message", line);
	if (want != AJAR_OK && err != want) {
		fprintf(stderr, "%s:%d: CHECK failed: error %s, expected %s (%s)\n", __FILE__, line, ajar_err_name(err),
			ajar_err_name(want), msg);
		check_failures++;
	}
	va_start(ap, want);
	for (const char *needle; (needle = va_arg(ap, const char *));) {
		if (!strstr(msg, needle)) {
			fprintf(stderr, "%s:%d: CHECK failed: message lacks \"%s\": %s\n", __FILE__, line, needle, msg);
			check_failures++;
		}
	}
	va_end(ap);
}

#define REFUSE(im, want, ...) refuse_at(__LINE__, (im)->p, (im)->len, want, __VA_ARGS__, (const char *)NULL)

/* A fresh copy of the base image for one mutation. */
static struct image base;
static struct layout L;

static struct image *fresh(void)
{
	static struct image im;
	im = base;
	return &im;
}

/* ---- the cases ------------------------------------------------------------------------- */

static void test_base_is_valid(void)
{
	struct gguf_file *f = NULL;
	uint8_t *copy = NULL;

	build_base(&base, &L);
	CHECK_OK(open_exact(base.p, base.len, &f, &copy));
	if (!f)
		return;
	CHECK_EQ_INT(gguf_n_kv(f), 3);
	CHECK_EQ_INT(gguf_n_tensors(f), 2);
	CHECK_EQ_INT(gguf_data_offset(f), L.data);
	CHECK(gguf_tensor_at(f, 1)->data == copy + L.data + 32);
	gguf_close(f);
	free(copy);
	/* version 2 is the same layout and accepted */
	struct image *im = fresh();
	patch_u32(im, L.version, 2);
	CHECK(opens(im->p, im->len));
}

static void test_magic_and_version(void)
{
	struct image *im = fresh();
	memcpy(im->p, "GGML", 4);
	REFUSE(im, AJAR_ERR_FORMAT, "offset 0", "magic");
	im = fresh();
	memcpy(im->p, "\0\0\0\0", 4);
	REFUSE(im, AJAR_ERR_FORMAT, "magic");

	uint32_t versions[] = { 0, 1, 4, 0x03000000, 0xffffffff };
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		im = fresh();
		patch_u32(im, L.version, versions[i]);
		REFUSE(im, AJAR_ERR_UNSUPPORTED, "offset 4", "version");
	}
	im = fresh();
	patch_u32(im, L.version, 1);
	REFUSE(im, AJAR_ERR_UNSUPPORTED, "version 1");
	im = fresh();
	patch_u32(im, L.version, 0x03000000);
	REFUSE(im, AJAR_ERR_UNSUPPORTED, "big-endian");

	/* too short for a header, with and without the magic */
	static const struct image short_gguf = { .p = "GGUF\3\0\0\0", .len = 8 };
	static const struct image zip = { .p = "PK\3\4", .len = 4 };
	static const struct image empty = { .len = 0 };
	REFUSE(&short_gguf, AJAR_ERR_FORMAT, "offset 8");
	REFUSE(&zip, AJAR_ERR_FORMAT, "not a GGUF file");
	REFUSE(&empty, AJAR_ERR_FORMAT, "offset 0");
}

static void test_counts(void)
{
	const uint64_t huge[] = { 1ull << 60, 1ull << 63, UINT64_MAX, UINT64_MAX / 13 };
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		struct image *im = fresh();
		patch_u64(im, L.n_kv, huge[i]);
		REFUSE(im, AJAR_ERR_FORMAT, "offset 16", "kv count");
		im = fresh();
		patch_u64(im, L.n_tensors, huge[i]);
		REFUSE(im, AJAR_ERR_FORMAT, "offset 8", "tensor count");
	}
	/* a count one too many runs into the next section, or off the end */
	struct image *im = fresh();
	patch_u64(im, L.n_kv, 4);
	REFUSE(im, 0, "offset");
	im = fresh();
	patch_u64(im, L.n_tensors, 3);
	REFUSE(im, 0, "offset");
	/* one too few leaves bytes that do not parse as the next section */
	im = fresh();
	patch_u64(im, L.n_kv, 2);
	REFUSE(im, 0, "offset");
}

static void test_lengths(void)
{
	char want[64];
	const uint64_t huge[] = { 1ull << 63, UINT64_MAX, 1000000 };

	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		struct image *im = fresh();
		patch_u64(im, L.key0, huge[i]);
		snprintf(want, sizeof(want), "offset 24: kv 0: key length %llu exceeds the %zu bytes left",
			 (unsigned long long)huge[i], base.len - 32);
		REFUSE(im, AJAR_ERR_FORMAT, want);

		im = fresh();
		patch_u64(im, L.str0, huge[i]);
		snprintf(want, sizeof(want), "offset %zu", L.str0);
		REFUSE(im, AJAR_ERR_FORMAT, want, "general.architecture", "string value length");

		im = fresh();
		patch_u64(im, L.item2, huge[i]);
		REFUSE(im, AJAR_ERR_FORMAT, "key.bbb", "length");

		im = fresh();
		patch_u64(im, L.name1, huge[i]);
		snprintf(want, sizeof(want), "offset %zu: tensor 1: tensor name length", L.name1);
		REFUSE(im, AJAR_ERR_FORMAT, want);
	}
	/* a huge array count in a tiny file: refused before allocating */
	const uint64_t counts[] = { 1ull << 61, UINT64_MAX, 1ull << 40, 1000 };
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct image *im = fresh();
		patch_u64(im, L.count2, counts[i]);
		snprintf(want, sizeof(want), "offset %zu", L.count2);
		REFUSE(im, AJAR_ERR_FORMAT, want, "array count");
		im = fresh();
		patch_u32(im, L.elem2, GGUF_TYPE_UINT64);
		patch_u64(im, L.count2, counts[i]);
		REFUSE(im, AJAR_ERR_FORMAT, want, "array count");
		im = fresh();
		patch_u32(im, L.elem2, GGUF_TYPE_ARRAY);
		patch_u64(im, L.count2, counts[i]);
		REFUSE(im, 0, "offset");
	}
}

static void test_value_types(void)
{
	char want[64];
	const uint32_t bad[] = { 13, 14, 0x80000000u, UINT32_MAX };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct image *im = fresh();
		patch_u32(im, L.type0, bad[i]);
		snprintf(want, sizeof(want), "offset %zu", L.type0);
		REFUSE(im, AJAR_ERR_FORMAT, want, "unknown value type");
		im = fresh();
		patch_u32(im, L.elem2, bad[i]);
		REFUSE(im, AJAR_ERR_FORMAT, "unknown array element type");
	}
	/* a bool that is neither 0 nor 1 */
	struct image *im = fresh();
	patch_u32(im, L.type1, GGUF_TYPE_BOOL);
	patch_u32(im, L.align, 2); /* first byte 2 */
	REFUSE(im, AJAR_ERR_FORMAT, "bool");
}

static void test_alignment(void)
{
	const uint32_t bad[] = { 0, 3, 48, 0x80000001u, UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct image *im = fresh();
		patch_u32(im, L.align, bad[i]);
		REFUSE(im, AJAR_ERR_FORMAT, "general.alignment", "power of two");
	}
	/* the wrong type (same width, so the file still parses up to there) */
	struct image *im = fresh();
	patch_u32(im, L.type1, GGUF_TYPE_INT32);
	REFUSE(im, AJAR_ERR_FORMAT, "general.alignment': has type INT32");
	im = fresh();
	patch_u32(im, L.type1, GGUF_TYPE_FLOAT32);
	REFUSE(im, AJAR_ERR_FORMAT, "general.alignment': has type FLOAT32");
	/* a larger alignment moves the data section past the end */
	im = fresh();
	patch_u32(im, L.align, 1u << 20);
	REFUSE(im, AJAR_ERR_FORMAT, "tensor 'b.weight': data offset 32 is not a multiple of the alignment 1048576");
	patch_u64(im, L.off1, 1u << 20);
	REFUSE(im, AJAR_ERR_FORMAT, "data section", "would start at offset 1048576, past the end");
	/* a smaller one moves the data section to another start, where both
	 * tensors still fit: valid */
	im = fresh();
	patch_u32(im, L.align, 16);
	CHECK(opens(im->p, im->len));
}

static void test_names(void)
{
	/* duplicate keys, in a file of three small kvs */
	struct image *im;
	struct image dup = { .len = 0 };
	put(&dup, "GGUF", 4);
	put_u32(&dup, 3);
	put_u64(&dup, 0);
	put_u64(&dup, 3);
	put_str(&dup, "a");
	put_u32(&dup, GGUF_TYPE_UINT8);
	put(&dup, "\1", 1);
	size_t second = dup.len;
	put_str(&dup, "dup");
	put_u32(&dup, GGUF_TYPE_UINT8);
	put(&dup, "\1", 1);
	size_t third = dup.len;
	put_str(&dup, "dup");
	put_u32(&dup, GGUF_TYPE_STRING);
	put_str(&dup, "x");
	char want[64];
	snprintf(want, sizeof(want), "offset %zu: key 'dup' appears twice", third);
	REFUSE(&dup, AJAR_ERR_FORMAT, want);
	memcpy(dup.p + second + 8, "dUp", 3); /* keys are compared as exact bytes */
	CHECK(opens(dup.p, dup.len));

	/* duplicate tensor names */
	im = fresh();
	im->p[L.name1 + 8] = 'a';
	snprintf(want, sizeof(want), "offset %zu", L.name1);
	REFUSE(im, AJAR_ERR_FORMAT, want, "'a.weight' appears twice");

	/* keys and names that are not UTF-8, or hold a NUL */
	const uint8_t bad[][2] = { { 0xff, 0 }, { 0xc0, 0 }, { 0x80, 0 }, { 0, 0 }, { 0xed, 0xa0 }, { 0xf4, 0x90 } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		im = fresh();
		memcpy(im->p + L.key0 + 8 + 3, bad[i], bad[i][1] ? 2 : 1);
		snprintf(want, sizeof(want), "offset %zu: kv 0: key", L.key0);
		REFUSE(im, AJAR_ERR_FORMAT, want, "not valid UTF-8");
		im = fresh();
		memcpy(im->p + L.name0 + 8 + 1, bad[i], bad[i][1] ? 2 : 1);
		snprintf(want, sizeof(want), "offset %zu: tensor 0: tensor name", L.name0);
		REFUSE(im, AJAR_ERR_FORMAT, want, "not valid UTF-8");
	}
	/* a multi-byte sequence cut by the end of the key */
	im = fresh();
	im->p[L.key2 + 8 + 6] = 0xe2;
	REFUSE(im, AJAR_ERR_FORMAT, "not valid UTF-8");
	/* string values need not be UTF-8 (byte-level tokens) */
	im = fresh();
	im->p[L.item2 + 8] = 0xff;
	im->p[L.str0 + 8] = 0x80;
	CHECK(opens(im->p, im->len));
}

static void test_tensor_shapes(void)
{
	char want[80];
	const uint32_t dims[] = { 0, 5, 64, UINT32_MAX };

	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		struct image *im = fresh();
		patch_u32(im, L.n_dims0, dims[i]);
		snprintf(want, sizeof(want), "offset %zu: tensor 'a.weight': n_dims %u", L.n_dims0, dims[i]);
		REFUSE(im, AJAR_ERR_FORMAT, want);
	}
	/* a dimension beyond int64, and products that overflow */
	struct image *im = fresh();
	patch_u64(im, L.ne0, 1ull << 63);
	REFUSE(im, AJAR_ERR_FORMAT, "dimension 0", "int64");
	im = fresh();
	patch_u64(im, L.ne0, UINT64_MAX);
	REFUSE(im, AJAR_ERR_FORMAT, "dimension 0");
	im = fresh();
	patch_u64(im, L.ne0, 1ull << 62);
	patch_u64(im, L.ne0 + 8, 4);
	snprintf(want, sizeof(want), "offset %zu", L.ne0 + 8);
	REFUSE(im, AJAR_ERR_FORMAT, want, "overflows");
	/* fits int64 as elements, but not as F32 bytes in this file */
	im = fresh();
	patch_u64(im, L.ne0, 1ull << 40);
	patch_u64(im, L.ne0 + 8, 1ull << 20);
	REFUSE(im, AJAR_ERR_FORMAT, "a.weight", "past the end");
	/* ... and as F64 bytes not even in 64 bits */
	im = fresh();
	patch_u64(im, L.ne0, 1ull << 31);
	patch_u64(im, L.ne0 + 8, 1ull << 31);
	patch_u32(im, L.type_t0, AJAR_TYPE_F64);
	REFUSE(im, 0, "a.weight");
	im = fresh();
	patch_u64(im, L.ne0, 1ull << 62);
	patch_u64(im, L.ne0 + 8, 1);
	patch_u32(im, L.type_t0, AJAR_TYPE_F64);
	REFUSE(im, 0, "a.weight");

	/* a zero dimension is an empty tensor */
	im = fresh();
	patch_u64(im, L.ne0, 0);
	CHECK(opens(im->p, im->len));
	/* a row that is not whole blocks */
	im = fresh();
	patch_u32(im, L.type_t0, AJAR_TYPE_Q4_0);
	snprintf(want, sizeof(want), "offset %zu: tensor 'a.weight'", L.type_t0);
	REFUSE(im, AJAR_ERR_FORMAT, want, "block size");
}

static void test_tensor_types(void)
{
	char want[80];
	const uint32_t bad[] = { 4, 5, 31, 32, 33, 36, 99, UINT32_MAX };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct image *im = fresh();
		patch_u32(im, L.type_t1, bad[i]);
		snprintf(want, sizeof(want), "tensor 'b.weight': unknown tensor type %u", bad[i]);
		REFUSE(im, AJAR_ERR_UNSUPPORTED, want);
	}
	struct image *im = fresh();
	patch_u32(im, L.type_t1, 4);
	REFUSE(im, AJAR_ERR_UNSUPPORTED, "removed");
	/* every known type is accepted with a shape that fits (here 8 I8 values) */
	im = fresh();
	patch_u32(im, L.type_t1, AJAR_TYPE_I8);
	CHECK(opens(im->p, im->len));
}

static void test_tensor_offsets(void)
{
	char want[128];
	struct image *im;

	/* misaligned */
	const uint64_t mis[] = { 1, 16, 33, UINT64_MAX };
	for (size_t i = 0; i < sizeof(mis) / sizeof(mis[0]); i++) {
		im = fresh();
		patch_u64(im, L.off1, mis[i]);
		snprintf(want, sizeof(want), "offset %zu: tensor 'b.weight': data offset", L.off1);
		REFUSE(im, AJAR_ERR_FORMAT, want, "not a multiple of the alignment 32");
	}
	/* past the end, including offsets where offset + size wraps around */
	const uint64_t past[] = { 64, 96, 1ull << 40, 1ull << 63, UINT64_MAX - 31 };
	for (size_t i = 0; i < sizeof(past) / sizeof(past[0]); i++) {
		im = fresh();
		patch_u64(im, L.off1, past[i]);
		snprintf(want, sizeof(want), "offset %zu: tensor 'b.weight': data [", L.name1);
		char size[48];
		snprintf(size, sizeof(size), "lies past the end of the file (size %zu)", base.len);
		REFUSE(im, AJAR_ERR_FORMAT, want, size);
	}
	im = fresh();
	patch_u64(im, L.off1, 64);
	snprintf(want, sizeof(want), "data [%zu, %zu) lies past the end", L.data + 64, L.data + 96);
	REFUSE(im, AJAR_ERR_FORMAT, want);
	/* overlapping */
	im = fresh();
	patch_u64(im, L.off1, 0);
	REFUSE(im, AJAR_ERR_FORMAT, "overlaps");
	im = fresh();
	patch_u64(im, L.off0, 32);
	patch_u64(im, L.off1, 32);
	REFUSE(im, AJAR_ERR_FORMAT, "'b.weight'", "overlaps tensor 'a.weight'");
	/* out of order but disjoint is fine */
	im = fresh();
	patch_u64(im, L.off0, 32);
	patch_u64(im, L.off1, 0);
	CHECK(opens(im->p, im->len));
	/* the file ends inside the data: truncated by one byte */
	im = fresh();
	im->len--;
	REFUSE(im, AJAR_ERR_FORMAT, "past the end");
}

/* Arrays nested `levels` deep, innermost an empty UINT8 array. */
static void build_nested(struct image *im, int levels)
{
	im->len = 0;
	put(im, "GGUF", 4);
	put_u32(im, 3);
	put_u64(im, 0);
	put_u64(im, 1);
	put_str(im, "nest");
	put_u32(im, GGUF_TYPE_ARRAY);
	for (int i = 1; i < levels; i++) {
		put_u32(im, GGUF_TYPE_ARRAY);
		put_u64(im, 1);
	}
	put_u32(im, GGUF_TYPE_UINT8);
	put_u64(im, 0);
}

static void test_nesting(void)
{
	struct image im;

	build_nested(&im, 8);
	CHECK(opens(im.p, im.len));
	build_nested(&im, 9);
	REFUSE(&im, AJAR_ERR_LIMIT, "nested more than 8 deep");
	/* the bomb: 300 levels in 3.6 KB, refused at level 9 */
	build_nested(&im, 300);
	REFUSE(&im, AJAR_ERR_LIMIT, "nested");
	/* and one that claims to be deep but ends */
	build_nested(&im, 300);
	im.len = 100;
	REFUSE(&im, 0, "offset");
}

/* Every proper prefix of img must be refused, except prefixes that still hold
 * every tensor's data (only padding after the last tensor is optional).
 * Prefixes are tried at every byte below `dense`, then every `stride`. */
static int truncations(const uint8_t *img, size_t len, size_t keep_from, size_t dense, size_t stride)
{
	int n = 0;
	for (size_t cut = 0; cut < len; cut = cut < dense ? cut + 1 : cut + stride) {
		struct gguf_file *f = NULL;
		uint8_t *copy;
		enum ajar_err err = open_exact(img, cut, &f, &copy);
		n++;
		if (cut < keep_from) {
			CHECK_MSG(err != AJAR_OK, "prefix of %zu bytes opened", cut);
			CHECK_MSG(strstr(ajar_err_msg(), "offset") != NULL, "prefix %zu: %s", cut, ajar_err_msg());
		}
		if (!err) {
			gguf_close(f);
			free(copy);
		}
	}
	return n;
}

static void test_truncated_base(void)
{
	CHECK(truncations(base.p, base.len, base.len, base.len, 1) == (int)base.len);
	/* a vocab-only image: the whole file is metadata */
	struct image im;
	build_nested(&im, 3);
	truncations(im.p, im.len, im.len, im.len, 1);
}

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

/* The fixture model cut at every byte of its metadata and the first data,
 * then every 4099 bytes: all refused (its last tensor ends the file). */
static void test_truncated_stories(void)
{
	size_t len = 0;
	uint8_t *img = read_all(fixture_path("models/stories260K.gguf"), &len);
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK(opens(img, len));
	truncations(img, len, len, 14176 + 64, 4099);
	free(img);
}

/* A writer-built file with every value type, truncated everywhere; its last
 * tensor is followed by padding, and cuts in that padding still open. */
static void test_truncated_writer_file(void)
{
	char dir[] = "/tmp/ajar-test-gguf-malformed-XXXXXX", path[96];
	struct gguf_writer *w = NULL;
	static uint8_t data[256];

	if (!mkdtemp(dir))
		return;
	snprintf(path, sizeof(path), "%s/w.gguf", dir);
	CHECK_OK(gguf_writer_new(&w));
	CHECK_OK(gguf_writer_set_str(w, "general.architecture", "x"));
	static const uint16_t u16s[3] = { 1, 2, 3 };
	CHECK_OK(gguf_writer_set_arr(w, "a.u16", GGUF_TYPE_UINT16, u16s, 3));
	struct gguf_str strs[2] = { { "ab", 2 }, { "c", 1 } };
	CHECK_OK(gguf_writer_set_arr_str(w, "a.str", strs, 2));
	struct gguf_value items[2] = {
		{ .type = GGUF_TYPE_ARRAY, .v.arr = { .elem_type = GGUF_TYPE_STRING, .count = 2, .items = NULL } },
		{ .type = GGUF_TYPE_ARRAY, .v.arr = { .elem_type = GGUF_TYPE_UINT16, .count = 3, .raw = u16s } },
	};
	struct gguf_value str_items[2] = { { .type = GGUF_TYPE_STRING, .v.str = { "p", 1 } },
					   { .type = GGUF_TYPE_STRING, .v.str = { "qr", 2 } } };
	items[0].v.arr.items = str_items;
	struct gguf_value nested = { .type = GGUF_TYPE_ARRAY,
				     .v.arr = { .elem_type = GGUF_TYPE_ARRAY, .count = 2, .items = items } };
	CHECK_OK(gguf_writer_set(w, "a.nested", &nested));
	CHECK_OK(gguf_writer_set_f32(w, "f", 0.5f));
	CHECK_OK(gguf_writer_set_bool(w, "b", true));
	CHECK_OK(gguf_writer_add_tensor(w, "t0", AJAR_TYPE_F32, 1, (uint64_t[]){ 5 }, data));
	CHECK_OK(gguf_writer_add_tensor(w, "t1", AJAR_TYPE_Q8_0, 1, (uint64_t[]){ 32 }, data + 20));
	CHECK_OK(gguf_writer_write(w, path));
	gguf_writer_free(w);

	size_t len = 0;
	uint8_t *img = read_all(path, &len);
	struct gguf_file *f = NULL;
	CHECK_OK(gguf_open(path, &f));
	if (img && f) {
		const struct gguf_tensor_info *last = gguf_tensor_at(f, 1);
		size_t end = (size_t)(gguf_data_offset(f) + last->offset + last->size);
		CHECK(end < len); /* 34 bytes of Q8_0, padded to 64 */
		truncations(img, len, end, len, 1);
		/* and one byte changed anywhere, to every value: no crash either way */
		uint8_t *mut = malloc(len);
		for (size_t i = 0; mut && i < len; i++) {
			static const uint8_t vals[] = { 0x00, 0x01, 0x09, 0x0d, 0x7f, 0x80, 0xff };
			for (size_t k = 0; k < sizeof(vals); k++) {
				memcpy(mut, img, len);
				mut[i] = vals[k];
				(void)opens(mut, len);
			}
		}
		free(mut);
	}
	gguf_close(f);
	free(img);
	unlink(path);
	rmdir(dir);
}

/* Every byte of the base image set to a few values: no crash either way. */
static void test_byte_mutations(void)
{
	static const uint8_t vals[] = { 0x00, 0x01, 0x02, 0x08, 0x09, 0x0c, 0x0d, 0x20, 0x7f, 0x80, 0xfe, 0xff };
	for (size_t i = 0; i < base.len; i++) {
		for (size_t k = 0; k < sizeof(vals); k++) {
			struct image *im = fresh();
			im->p[i] = vals[k];
			(void)opens(im->p, im->len);
		}
	}
}

int main(void)
{
	RUN(test_base_is_valid);
	RUN(test_magic_and_version);
	RUN(test_counts);
	RUN(test_lengths);
	RUN(test_value_types);
	RUN(test_alignment);
	RUN(test_names);
	RUN(test_tensor_shapes);
	RUN(test_tensor_types);
	RUN(test_tensor_offsets);
	RUN(test_nesting);
	RUN(test_truncated_base);
	RUN(test_truncated_stories);
	RUN(test_truncated_writer_file);
	RUN(test_byte_mutations);
	return check_summary();
}
