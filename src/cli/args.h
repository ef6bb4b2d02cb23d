/*
 * args.h - command-line parsing helpers for the ajar subcommands.
 *
 * Each subcommand walks argv with args_next(); values are converted with
 * strict parsers that reject trailing garbage and out-of-range numbers with a
 * one-line message (no atoi). Errors print "ajar CMD: message" and make the
 * command exit 2 (usage) or 1 (failure).
 */
#ifndef AJAR_CLI_ARGS_H
#define AJAR_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

struct args {
	const char *cmd; /* subcommand name, for messages */
	int argc;
	char **argv;
	int i;           /* next index */
};

void args_init(struct args *a, const char *cmd, int argc, char **argv);
/* True if argv[i] equals one of the names (NULL-terminated list), consuming it. */
bool args_flag(struct args *a, const char *name, const char *alias);
/* For an option taking a value: consumes name and value; false if argv[i] is
 * not this option. Exits via usage error when the value is missing. */
bool args_opt(struct args *a, const char *name, const char *alias, const char **value);

/* Strict conversions; print "ajar CMD: OPTION: why" and return false. */
bool args_int(const struct args *a, const char *opt, const char *s, long long min, long long max, long long *out);
bool args_float(const struct args *a, const char *opt, const char *s, double min, double max, double *out);

/* Prints "ajar CMD: " + message to stderr. */
void args_error(const struct args *a, const char *fmt, ...) AJAR_PRINTF(2, 3);
/* Prints "ajar CMD: " + ajar_err_msg(). */
void args_fail(const struct args *a);

/* Reads a whole file (capped at max bytes) into a NUL-terminated buffer the
 * caller frees. */
enum ajar_err read_file(const char *path, size_t max, char **out, size_t *len) AJAR_MUST_CHECK;

#endif
