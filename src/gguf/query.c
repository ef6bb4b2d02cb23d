/*
 * query.c - reading a parsed GGUF file: accessors, lookup by key and tensor
 * name (binary search over the indexes the parser sorted), the typed getters
 * with their conversion rules, element reads from raw arrays, and the small
 * helpers on types and strings that the reader and writer share.
 */
#include "gguf/gguf_int.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <string.h>

/* ---- types and strings ---------------------------------------------------------- */

size_t gguf_type_size(enum gguf_type t)
{
	switch (t) {
	case GGUF_TYPE_UINT8:
	case GGUF_TYPE_INT8:
	case GGUF_TYPE_BOOL: return 1;
	case GGUF_TYPE_UINT16:
	case GGUF_TYPE_INT16: return 2;
	case GGUF_TYPE_UINT32:
	case GGUF_TYPE_INT32:
	case GGUF_TYPE_FLOAT32: return 4;
	case GGUF_TYPE_UINT64:
	case GGUF_TYPE_INT64:
	case GGUF_TYPE_FLOAT64: return 8;
	default: return 0; /* STRING, ARRAY, unknown */
	}
}

const char *gguf_type_name(enum gguf_type t)
{
	static const char *const names[GGUF_TYPE_COUNT] = {
		[GGUF_TYPE_UINT8] = "UINT8",     [GGUF_TYPE_INT8] = "INT8",       [GGUF_TYPE_UINT16] = "UINT16",
		[GGUF_TYPE_INT16] = "INT16",     [GGUF_TYPE_UINT32] = "UINT32",   [GGUF_TYPE_INT32] = "INT32",
		[GGUF_TYPE_FLOAT32] = "FLOAT32", [GGUF_TYPE_BOOL] = "BOOL",       [GGUF_TYPE_STRING] = "STRING",
		[GGUF_TYPE_ARRAY] = "ARRAY",     [GGUF_TYPE_UINT64] = "UINT64",   [GGUF_TYPE_INT64] = "INT64",
		[GGUF_TYPE_FLOAT64] = "FLOAT64",
	};
	return (unsigned)t < GGUF_TYPE_COUNT ? names[t] : "unknown";
}

bool gguf_str_eq(struct gguf_str s, const char *c)
{
	size_t n = strlen(c);
	return s.len == n && (n == 0 || memcmp(s.data, c, n) == 0);
}

int gguf_str_cmp(struct gguf_str a, struct gguf_str b)
{
	uint64_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.data, b.data, (size_t)n) : 0;
	if (c)
		return c;
	return (a.len > b.len) - (a.len < b.len);
}

bool gguf_name_valid(const uint8_t *s, size_t n, size_t *bad_at)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp, min;

		if (c == 0)
			goto bad;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2, cp = c & 0x1fu, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3, cp = c & 0x0fu, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4, cp = c & 0x07u, min = 0x10000;
		} else {
			goto bad; /* a continuation byte, 0xc0/0xc1 (overlong) or past 0xf4 */
		}
		if (len > n - i)
			goto bad;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		i += len;
	}
	return true;
bad:
	*bad_at = i;
	return false;
}

/* ---- accessors ------------------------------------------------------------------- */

uint32_t gguf_version(const struct gguf_file *f) { return f->version; }
uint64_t gguf_alignment(const struct gguf_file *f) { return f->alignment; }
uint64_t gguf_data_offset(const struct gguf_file *f) { return f->data_offset; }
const void *gguf_base(const struct gguf_file *f) { return f->base; }
size_t gguf_file_size(const struct gguf_file *f) { return f->size; }
size_t gguf_n_kv(const struct gguf_file *f) { return f->n_kv; }
size_t gguf_n_tensors(const struct gguf_file *f) { return f->n_tensors; }

const struct gguf_kv *gguf_kv_at(const struct gguf_file *f, size_t i)
{
	return i < f->n_kv ? &f->kvs[i] : NULL;
}

const struct gguf_tensor_info *gguf_tensor_at(const struct gguf_file *f, size_t i)
{
	return i < f->n_tensors ? &f->tensors[i] : NULL;
}

/* ---- lookup ------------------------------------------------------------------------ */

/* Binary search of a sorted index of n entries for the name `key`. The index
 * holds pointers to structs whose name is the gguf_str at byte `name_at`. */
static const void *search(const void *const *index, size_t n, size_t name_at, const char *key)
{
	struct gguf_str want = { key, strlen(key) };
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct gguf_str have;
		memcpy(&have, (const char *)index[mid] + name_at, sizeof(have));
		int c = gguf_str_cmp(have, want);
		if (c == 0)
			return index[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct gguf_value *gguf_find(const struct gguf_file *f, const char *key)
{
	const struct gguf_kv *kv =
		search((const void *const *)f->kv_sorted, f->n_kv, offsetof(struct gguf_kv, key), key);
	return kv ? &kv->value : NULL;
}

const struct gguf_tensor_info *gguf_find_tensor(const struct gguf_file *f, const char *name)
{
	return search((const void *const *)f->tensor_sorted, f->n_tensors, offsetof(struct gguf_tensor_info, name),
		      name);
}

/* ---- typed getters ------------------------------------------------------------------- */

static bool is_unsigned(enum gguf_type t)
{
	return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_UINT64;
}

static bool is_signed(enum gguf_type t)
{
	return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}

static enum ajar_err lookup(const struct gguf_file *f, const char *key, const struct gguf_value **v)
{
	*v = gguf_find(f, key);
	if (!*v)
		return ajar_errf(AJAR_ERR_NOT_FOUND, "gguf: key '%s' not found", key);
	return AJAR_OK;
}

static enum ajar_err wrong_type(const char *key, const struct gguf_value *v, const char *want)
{
	return ajar_errf(AJAR_ERR_TYPE, "gguf: key '%s' is %s, expected %s", key, gguf_type_name(v->type), want);
}

/* The integer value of key as a sign and a magnitude, if it lies in [lo, hi]
 * (any integer type; AJAR_ERR_TYPE for other types or values out of range). */
static enum ajar_err get_int_in(const struct gguf_file *f, const char *key, int64_t lo, uint64_t hi, bool *neg,
				uint64_t *mag)
{
	const struct gguf_value *v;
	enum ajar_err err = lookup(f, key, &v);

	if (err)
		return err;
	if (is_unsigned(v->type)) {
		*neg = false;
		*mag = v->v.u64;
	} else if (is_signed(v->type)) {
		*neg = v->v.i64 < 0;
		/* magnitude of a negative without overflow at INT64_MIN */
		*mag = *neg ? (uint64_t)(-(v->v.i64 + 1)) + 1 : (uint64_t)v->v.i64;
	} else {
		return wrong_type(key, v, "an integer");
	}
	uint64_t lo_mag = lo < 0 ? (uint64_t)(-(lo + 1)) + 1 : 0;
	if ((*neg && *mag > lo_mag) || (!*neg && *mag > hi))
		return ajar_errf(AJAR_ERR_TYPE, "gguf: key '%s': %s%llu does not fit the requested type", key,
				 *neg ? "-" : "", (unsigned long long)*mag);
	return AJAR_OK;
}

enum ajar_err gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out)
{
	bool neg;
	uint64_t mag;
	enum ajar_err err = get_int_in(f, key, 0, UINT32_MAX, &neg, &mag);
	if (!err)
		*out = (uint32_t)mag;
	return err;
}

enum ajar_err gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out)
{
	bool neg;
	uint64_t mag;
	enum ajar_err err = get_int_in(f, key, INT64_MIN, INT64_MAX, &neg, &mag);
	if (!err)
		*out = neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
	return err;
}

enum ajar_err gguf_get_f32(const struct gguf_file *f, const char *key, float *out)
{
	const struct gguf_value *v;
	enum ajar_err err = lookup(f, key, &v);

	if (err)
		return err;
	if (v->type != GGUF_TYPE_FLOAT32 && v->type != GGUF_TYPE_FLOAT64)
		return wrong_type(key, v, "FLOAT32 or FLOAT64");
	/* Converting a finite double beyond float's range is undefined in C. */
	if (isfinite(v->v.f64) && fabs(v->v.f64) > FLT_MAX)
		return ajar_errf(AJAR_ERR_TYPE, "gguf: key '%s': %g does not fit a float", key, v->v.f64);
	*out = (float)v->v.f64;
	return AJAR_OK;
}

enum ajar_err gguf_get_bool(const struct gguf_file *f, const char *key, bool *out)
{
	const struct gguf_value *v;
	enum ajar_err err = lookup(f, key, &v);

	if (err)
		return err;
	if (v->type != GGUF_TYPE_BOOL)
		return wrong_type(key, v, "BOOL");
	*out = v->v.u64 != 0;
	return AJAR_OK;
}

enum ajar_err gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *out)
{
	const struct gguf_value *v;
	enum ajar_err err = lookup(f, key, &v);

	if (err)
		return err;
	if (v->type != GGUF_TYPE_STRING)
		return wrong_type(key, v, "STRING");
	*out = v->v.str;
	return AJAR_OK;
}

enum ajar_err gguf_get_arr(const struct gguf_file *f, const char *key, enum gguf_type elem_type,
			   const struct gguf_value **out)
{
	const struct gguf_value *v;
	enum ajar_err err = lookup(f, key, &v);

	if (err)
		return err;
	if (v->type != GGUF_TYPE_ARRAY)
		return wrong_type(key, v, "ARRAY");
	if (elem_type != GGUF_TYPE_COUNT && v->v.arr.elem_type != elem_type)
		return ajar_errf(AJAR_ERR_TYPE, "gguf: key '%s' is an array of %s, expected an array of %s", key,
				 gguf_type_name(v->v.arr.elem_type), gguf_type_name(elem_type));
	*out = v;
	return AJAR_OK;
}

/* ---- elements of raw arrays ----------------------------------------------------------- */

/* Element i of a fixed-size array, decoded; elements may be unaligned, so the
 * bytes are assembled one at a time (little-endian on any host). */
static struct gguf_value arr_elem(const struct gguf_value *arr, uint64_t i)
{
	enum gguf_type t = arr->v.arr.elem_type;
	size_t es = gguf_type_size(t);
	struct gguf_value out = { .type = t };

	assert(arr->type == GGUF_TYPE_ARRAY && es != 0 && i < arr->v.arr.count);
	const uint8_t *p = (const uint8_t *)arr->v.arr.raw + i * es;
	uint64_t u = 0;
	for (size_t k = es; k-- > 0;)
		u = (u << 8) | p[k];
	switch (t) {
	case GGUF_TYPE_INT8: out.v.i64 = (int8_t)(uint8_t)u; break;
	case GGUF_TYPE_INT16: out.v.i64 = (int16_t)(uint16_t)u; break;
	case GGUF_TYPE_INT32: out.v.i64 = (int32_t)(uint32_t)u; break;
	case GGUF_TYPE_INT64: out.v.i64 = (int64_t)u; break;
	case GGUF_TYPE_FLOAT32: {
		uint32_t bits = (uint32_t)u;
		float f;
		memcpy(&f, &bits, sizeof(f));
		out.v.f64 = f;
		break;
	}
	case GGUF_TYPE_FLOAT64: memcpy(&out.v.f64, &u, sizeof(u)); break;
	default: out.v.u64 = u; break;
	}
	return out;
}

int64_t gguf_arr_i64(const struct gguf_value *arr, uint64_t i)
{
	struct gguf_value e = arr_elem(arr, i);

	if (is_signed(e.type))
		return e.v.i64;
	if (e.type == GGUF_TYPE_FLOAT32 || e.type == GGUF_TYPE_FLOAT64) {
		/* truncated toward zero and saturated; NaN reads as 0 */
		if (isnan(e.v.f64))
			return 0;
		if (e.v.f64 >= 0x1p63)
			return INT64_MAX;
		if (e.v.f64 < -0x1p63)
			return INT64_MIN;
		return (int64_t)e.v.f64;
	}
	return e.v.u64 > INT64_MAX ? INT64_MAX : (int64_t)e.v.u64; /* unsigned, bool: saturated */
}

double gguf_arr_f64(const struct gguf_value *arr, uint64_t i)
{
	struct gguf_value e = arr_elem(arr, i);

	if (is_signed(e.type))
		return (double)e.v.i64;
	if (e.type == GGUF_TYPE_FLOAT32 || e.type == GGUF_TYPE_FLOAT64)
		return e.v.f64;
	return (double)e.v.u64;
}
