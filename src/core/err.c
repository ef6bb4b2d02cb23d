/*
 * err.c - the per-thread error message behind ajar_errf() and ajar_err_msg().
 */
#include "ajar/err.h"

#include <stdio.h>
#include <string.h>

/* 512 bytes holds a path, a tensor name and a reason; longer text is cut. */
static _Thread_local char err_msg[512];

const char *ajar_err_name(enum ajar_err err)
{
	switch (err) {
	case AJAR_OK: return "ok";
	case AJAR_ERR_NOMEM: return "out of memory";
	case AJAR_ERR_IO: return "i/o";
	case AJAR_ERR_FORMAT: return "format";
	case AJAR_ERR_UNSUPPORTED: return "unsupported";
	case AJAR_ERR_INVALID: return "invalid argument";
	case AJAR_ERR_NOT_FOUND: return "not found";
	case AJAR_ERR_TYPE: return "type";
	case AJAR_ERR_LIMIT: return "limit";
	}
	return "unknown";
}

enum ajar_err ajar_verrf(enum ajar_err err, const char *fmt, va_list ap)
{
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	return err;
}

enum ajar_err ajar_errf(enum ajar_err err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ajar_verrf(err, fmt, ap);
	va_end(ap);
	return err;
}

enum ajar_err ajar_err_wrap(enum ajar_err err, const char *fmt, ...)
{
	char prefix[256];
	char old[sizeof(err_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err_msg, sizeof(old));
	/* Truncation is fine: the message is for people and stays NUL-terminated. */
	size_t n = strlen(prefix);
	if (n > sizeof(err_msg) - 3)
		n = sizeof(err_msg) - 3;
	memcpy(err_msg, prefix, n);
	memcpy(err_msg + n, ": ", 2);
	size_t rest = sizeof(err_msg) - n - 3;
	size_t m = strnlen(old, rest);
	memcpy(err_msg + n + 2, old, m);
	err_msg[n + 2 + m] = '\0';
	return err;
}

const char *ajar_err_msg(void)
{
	return err_msg;
}
