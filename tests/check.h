/*
 * check.h - the unit tests' tiny harness.
 *
 * A test file defines static void test_x(void) functions and a main() that
 * calls RUN(test_x) for each and returns check_summary(). A failed CHECK prints
 * file:line and the expression (and values) and counts; the test goes on so
 * one run shows every failure. The summary line is "N passed, N failed".
 */
#ifndef AJAR_TESTS_CHECK_H
#define AJAR_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_tests_run;
static int check_tests_failed;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                            \
		}                                                                    \
	} while (0)

#define CHECK_MSG(cond, ...)                                                         \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                \
			fputc('\n', stderr);                                         \
			check_failures++;                                            \
		}                                                                    \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                           \
	do {                                                                         \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);      \
		if (check_a_ != check_b_) {                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_);     \
			check_failures++;                                            \
		}                                                                    \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                        \
	do {                                                                         \
		double check_a_ = (double)(a), check_b_ = (double)(b);               \
		if (!(fabs(check_a_ - check_b_) <= (tol))) {                         \
			fprintf(stderr, "%s:%d: CHECK failed: |%s - %s| <= %g (%.9g vs %.9g)\n", \
				__FILE__, __LINE__, #a, #b, (double)(tol), check_a_, check_b_); \
			check_failures++;                                            \
		}                                                                    \
	} while (0)

#define CHECK_STR(a, b)                                                              \
	do {                                                                         \
		const char *check_a_ = (a), *check_b_ = (b);                         \
		if (strcmp(check_a_, check_b_) != 0) {                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" vs \"%s\")\n", \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_);     \
			check_failures++;                                            \
		}                                                                    \
	} while (0)

/* Checks that an enum ajar_err call returned AJAR_OK, printing ajar_err_msg(). */
#define CHECK_OK(expr)                                                               \
	do {                                                                         \
		int check_e_ = (int)(expr);                                          \
		if (check_e_ != 0) {                                                 \
			fprintf(stderr, "%s:%d: %s failed (%d): %s\n", __FILE__, __LINE__, #expr, \
				check_e_, ajar_err_msg());                           \
			check_failures++;                                            \
		}                                                                    \
	} while (0)

#define RUN(fn)                                                                      \
	do {                                                                         \
		int check_before_ = check_failures;                                  \
		fn();                                                                \
		check_tests_run++;                                                   \
		if (check_failures != check_before_) {                               \
			check_tests_failed++;                                        \
			fprintf(stderr, "FAIL %s\n", #fn);                           \
		}                                                                    \
	} while (0)

static inline int check_summary(void)
{
	printf("%d passed, %d failed\n", check_tests_run - check_tests_failed, check_tests_failed);
	return check_tests_failed ? 1 : 0;
}

/* Path of a fixture file: $AJAR_FIXTURES/rel (static buffer). */
static inline const char *fixture_path(const char *rel)
{
	static char buf[4096];
	const char *dir = getenv("AJAR_FIXTURES");
	snprintf(buf, sizeof(buf), "%s/%s", dir ? dir : "../shared/fixtures", rel);
	return buf;
}

#endif
