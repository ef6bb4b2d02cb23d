/*
 * classifier.h - a guard model as a moderation detector: any GGUF model
 * that answers a Llama Guard 3 style prompt with "safe", or "unsafe" and a
 * line of hazard codes ("S1,S10"), run by ajar's own engine.
 *
 * The prompt (Llama Guard 3's format, documented in docs/SAFETY.md) lists
 * the MLCommons hazard categories S1-S14 and the conversation, and asks
 * for the assessment of the last turn (the user's prompt, or the model's
 * output). Generation is greedy and stops after a few tokens. The verdict
 * is parsed strictly: anything else is a failure, handled as the policy
 * says (fail closed - block - by default) and audited as such.
 *
 * One classifier serves one request at a time (a mutex inside); it is
 * safe to call from any thread.
 */
#ifndef AJAR_GUARD_CLASSIFIER_H
#define AJAR_GUARD_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>

#include "ajar/err.h"

#define CLASSIFIER_MAX_CODES 14

/* "S1" .. "S14" to their MLCommons names ("violent crimes", ...); NULL if
 * not a code. */
const char *classifier_hazard_name(int code);

struct classifier_verdict {
	bool safe;
	int codes[CLASSIFIER_MAX_CODES];  /* 1..14, in the order given */
	size_t n_codes;
};

/* Parses a model's answer: "safe", or "unsafe" then a line of
 * comma-separated codes (surrounding whitespace allowed, nothing else).
 * AJAR_ERR_FORMAT for anything else. */
enum ajar_err classifier_parse_verdict(const char *text, size_t len, struct classifier_verdict *out) AJAR_MUST_CHECK;

/* Builds the Llama Guard 3 prompt for judging `text` as the user's turn
 * (as_output false) or as the assistant's reply to `prompt` (as_output
 * true; prompt may be NULL). Caller frees. NULL when out of memory. */
char *classifier_prompt(const char *prompt, const char *text, bool as_output);

struct classifier;

/* Loads the guard model from path (the policy's classifier model).
 * timeout_ms: the most a check may take (0 = 10 s). *out: caller frees. */
enum ajar_err classifier_open(const char *path, int timeout_ms, struct classifier **out) AJAR_MUST_CHECK;
void classifier_free(struct classifier *c);

/* Runs the model on the prompt for text and parses its answer. A model
 * that fails, times out or answers something unparsable is an error
 * (FORMAT for the answer, LIMIT for the time), with the answer in the
 * message. */
enum ajar_err classifier_check(struct classifier *c, const char *prompt, const char *text, bool as_output,
			       struct classifier_verdict *out) AJAR_MUST_CHECK;

/* For tests: the clock the timeout reads (milliseconds, any fixed origin),
 * so a timeout can be provoked at an exact point; NULL restores the
 * monotonic clock. Not for use while a check runs. */
void classifier_set_clock(struct classifier *c, long long (*now_ms)(void *user), void *user);

#endif
