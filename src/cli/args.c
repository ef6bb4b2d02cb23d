/*
 * args.c - strict argument parsing for the CLI.
 */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void args_init(struct args *a, const char *cmd, int argc, char **argv)
{
	a->cmd = cmd;
	a->argc = argc;
	a->argv = argv;
	a->i = 0;
}

bool args_flag(struct args *a, const char *name, const char *alias)
{
	const char *s = a->argv[a->i];
	if (strcmp(s, name) == 0 || (alias && strcmp(s, alias) == 0)) {
		a->i++;
		return true;
	}
	return false;
}

bool args_opt(struct args *a, const char *name, const char *alias, const char **value)
{
	const char *s = a->argv[a->i];
	size_t nl = strlen(name);
	/* --name=value form */
	if (strncmp(s, name, nl) == 0 && s[nl] == '=') {
		*value = s + nl + 1;
		a->i++;
		return true;
	}
	if (strcmp(s, name) != 0 && !(alias && strcmp(s, alias) == 0))
		return false;
	if (a->i + 1 >= a->argc) {
		args_error(a, "%s needs a value", s);
		exit(2);
	}
	*value = a->argv[a->i + 1];
	a->i += 2;
	return true;
}

void args_error(const struct args *a, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "ajar %s: ", a->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void args_fail(const struct args *a)
{
	args_error(a, "%s", ajar_err_msg());
}

bool args_int(const struct args *a, const char *opt, const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0') {
		args_error(a, "%s: '%s' is not an integer", opt, s);
		return false;
	}
	if (v < min || v > max) {
		args_error(a, "%s: %lld is outside %lld..%lld", opt, v, min, max);
		return false;
	}
	*out = v;
	return true;
}

bool args_float(const struct args *a, const char *opt, const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || isnan(v)) {
		args_error(a, "%s: '%s' is not a number", opt, s);
		return false;
	}
	if (v < min || v > max) {
		args_error(a, "%s: %g is outside %g..%g", opt, v, min, max);
		return false;
	}
	*out = v;
	return true;
}

enum ajar_err read_file(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return ajar_errf(AJAR_ERR_NOMEM, "%s: reading", path);
			}
			buf = p;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (n > max) {
			free(buf);
			fclose(f);
			return ajar_errf(AJAR_ERR_LIMIT, "%s: larger than %zu bytes", path, max);
		}
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return ajar_errf(AJAR_ERR_IO, "%s: read error", path);
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return AJAR_OK;
}
