/*
 * err.h - error codes and the per-thread error message.
 *
 * Every fallible function in libajar returns an enum ajar_err. AJAR_OK is 0, so
 * `if (err) goto out;` reads naturally. The human-readable reason for the most
 * recent failure on the calling thread is kept in a thread-local buffer:
 * ajar_errf() sets it and returns the code, so a failure site is one line:
 *
 *     return ajar_errf(AJAR_ERR_FORMAT, "tensor '%s': offset %llu past end", ...);
 *
 * Library code never prints; the caller decides what to do with ajar_err_msg().
 */
#ifndef AJAR_ERR_H
#define AJAR_ERR_H

#include <stdarg.h>

#define AJAR_MUST_CHECK __attribute__((warn_unused_result))
#define AJAR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

enum ajar_err {
	AJAR_OK = 0,
	AJAR_ERR_NOMEM,       /* an allocation failed */
	AJAR_ERR_IO,          /* open/read/write/mmap failed; errno text in message */
	AJAR_ERR_FORMAT,      /* input file or data is malformed */
	AJAR_ERR_UNSUPPORTED, /* well-formed but not something ajar can run */
	AJAR_ERR_INVALID,     /* a caller-supplied argument is out of range */
	AJAR_ERR_NOT_FOUND,   /* a key, tensor or token that was asked for is absent */
	AJAR_ERR_TYPE,        /* a metadata value has a different type than expected */
	AJAR_ERR_LIMIT,       /* a size or count cap was exceeded */
};

/* Short stable name of a code ("format", "io", ...). Never NULL. */
const char *ajar_err_name(enum ajar_err err);

/* Sets the calling thread's message and returns err. */
enum ajar_err ajar_errf(enum ajar_err err, const char *fmt, ...) AJAR_PRINTF(2, 3);
enum ajar_err ajar_verrf(enum ajar_err err, const char *fmt, va_list ap);

/* Prefixes the current message with "prefix: " and returns err; used to add
 * context while an error travels up ("loading vocab: token 17: ..."). */
enum ajar_err ajar_err_wrap(enum ajar_err err, const char *fmt, ...) AJAR_PRINTF(2, 3);

/* The calling thread's last message; "" if none. Borrowed, valid until the
 * next ajar_errf on this thread. */
const char *ajar_err_msg(void);

#endif
