/*
 * json_util.c - parsing request bodies and their fields with messages that
 * name the field, UTF-8 repair for text that goes into JSON, and ids.
 *
 * jansson refuses invalid UTF-8 and NUL escapes in strings, so every string
 * a handler takes from a request is well-formed UTF-8 without NUL and can be
 * used as a C string.
 */
#include "server/server_int.h"

#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int api_vfail(struct api_error *e, unsigned status, const char *type, const char *code, const char *param,
		     const char *fmt, va_list ap)
{
	e->status = status;
	e->type = type;
	e->code = code;
	e->retry_after = 0;
	e->allow = NULL;
	snprintf(e->param, sizeof(e->param), "%s", param ? param : "");
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	return -1;
}

int api_fail(struct api_error *e, const char *param, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	api_vfail(e, 400, "invalid_request_error", NULL, param, fmt, ap);
	va_end(ap);
	return -1;
}

int api_fail_as(struct api_error *e, unsigned status, const char *type, const char *code, const char *param,
		const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	api_vfail(e, status, type, code, param, fmt, ap);
	va_end(ap);
	return -1;
}

json_t *api_parse_body(const struct http_ctx *c, struct api_error *e)
{
	json_error_t je;

	if (c->body_len == 0) {
		api_fail(e, NULL, "request body is empty; a JSON object is expected");
		return NULL;
	}
	json_t *root = json_loadb(c->body, c->body_len, 0, &je);
	if (!root) {
		if (json_error_code(&je) == json_error_invalid_utf8)
			api_fail(e, NULL, "request body is not valid UTF-8");
		else
			api_fail(e, NULL, "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		api_fail(e, NULL, "request body must be a JSON object");
		return NULL;
	}
	return root;
}

int jfield_number(json_t *obj, const char *name, double min, double max, double *out, struct api_error *e)
{
	json_t *v = json_object_get(obj, name);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return api_fail(e, name, "%s must be a number", name);
	double d = json_number_value(v);
	if (!isfinite(d) || d < min || d > max)
		return api_fail(e, name, "%s must be between %g and %g (got %g)", name, min, max, d);
	*out = d;
	return 0;
}

int jfield_int(json_t *obj, const char *name, long long min, long long max, long long *out, struct api_error *e)
{
	json_t *v = json_object_get(obj, name);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return api_fail(e, name, "%s must be an integer", name);
	long long i = (long long)json_integer_value(v);
	if (i < min || i > max)
		return api_fail(e, name, "%s must be between %lld and %lld (got %lld)", name, min, max, i);
	*out = i;
	return 0;
}

int jfield_bool(json_t *obj, const char *name, bool *out, struct api_error *e)
{
	json_t *v = json_object_get(obj, name);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return api_fail(e, name, "%s must be a boolean", name);
	*out = json_is_true(v);
	return 0;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, surrogates or code points past U+10FFFF), 0 if ill-formed. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

bool api_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq_len(p + i, len - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

json_t *json_string_lossy(const char *s, size_t len)
{
	if (api_utf8_valid(s, len) && !memchr(s, '\0', len))
		return json_stringn(s, len);
	/* Each bad byte becomes U+FFFD (3 bytes) and NUL becomes U+FFFD too, so
	 * the result fits in 3 * len. */
	char *buf = malloc(3 * len + 1);
	if (!buf)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t k = p[i] ? utf8_seq_len(p + i, len - i) : 0;
		if (k) {
			memcpy(buf + o, p + i, k);
			o += k;
			i += k;
		} else {
			memcpy(buf + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	json_t *j = json_stringn(buf, o);
	free(buf);
	return j;
}

void api_make_id(char *out, size_t cap, const char *prefix)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char rnd[24];
	char tail[25];

	randombytes_buf(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		tail[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
	tail[24] = '\0';
	snprintf(out, cap, "%s%s", prefix, tail);
}
