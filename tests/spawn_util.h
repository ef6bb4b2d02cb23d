/*
 * spawn_util.h - running the `ajar` binary ($AJAR_BIN) from a test and
 * collecting what it did: exit status, stdout and stderr. Shared by the CLI
 * tests (test_cli.c, test_bench_cli.c, test_chat_template.c). Include after
 * check.h.
 */
#ifndef AJAR_TESTS_SPAWN_UTIL_H
#define AJAR_TESTS_SPAWN_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

struct run_result {
	int status;   /* exit code; 128+signal if killed; -1 if it could not run */
	char *out;    /* stdout, NUL-terminated; caller frees */
	char err[8192];
};

/* Everything readable from fd, NUL-terminated; caller frees. */
static inline char *read_all(int fd)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n + 4096 >= cap) {
			char *p = realloc(buf, cap *= 2);
			if (!p)
				break;
			buf = p;
		}
		ssize_t got = read(fd, buf + n, cap - n - 1);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * Runs $AJAR_BIN with args (NULL-terminated). input: NULL leaves stdin as
 * the test's own; otherwise stdin is a pipe carrying input, then EOF (input
 * must fit the pipe: it is written before stdout is read). fsize_limit > 0
 * caps the size of files the child may write (RLIMIT_FSIZE, SIGXFSZ ignored
 * so write() fails with EFBIG): a disk that fills up part-way through.
 */
static inline struct run_result ajar_spawn(const char *const *args, const char *input, rlim_t fsize_limit)
{
	struct run_result r = { .status = -1 };
	const char *bin = getenv("AJAR_BIN");
	char errpath[] = "/tmp/ajar-test-err-XXXXXX";
	const char *argv[40];
	int n = 0, in[2] = { -1, -1 }, out[2];

	argv[n++] = bin;
	for (int i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int errfd = mkstemp(errpath);
	if (!bin || errfd < 0 || (input && pipe(in) != 0) || pipe(out) != 0) {
		r.out = calloc(1, 1);
		return r;
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (input) {
			dup2(in[0], 0);
			close(in[1]);
		}
		dup2(out[1], 1);
		dup2(errfd, 2);
		close(out[0]);
		if (fsize_limit) {
			struct rlimit rl = { fsize_limit, fsize_limit };
			signal(SIGXFSZ, SIG_IGN);
			setrlimit(RLIMIT_FSIZE, &rl);
		}
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	if (input) {
		close(in[0]);
		if (write(in[1], input, strlen(input)) < 0)
			perror("write");
		close(in[1]);
	}
	r.out = read_all(out[0]);
	close(out[0]);
	int st;
	waitpid(pid, &st, 0);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	lseek(errfd, 0, SEEK_SET);
	ssize_t got = read(errfd, r.err, sizeof(r.err) - 1);
	r.err[got > 0 ? got : 0] = '\0';
	close(errfd);
	unlink(errpath);
	return r;
}

static inline int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* A failure: status 1 or 2, one line on stderr containing `needle`. */
#define CHECK_FAILS_WITH(r, needle)                                                                           \
	do {                                                                                                  \
		CHECK_MSG((r).status == 1 || (r).status == 2, "status %d, stderr: %s", (r).status, (r).err); \
		CHECK_MSG(count_lines((r).err) == 1, "stderr should be one line: %s", (r).err);               \
		CHECK_MSG(strstr((r).err, needle) != NULL, "stderr lacks '%s': %s", needle, (r).err);         \
	} while (0)

#endif
