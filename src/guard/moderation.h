/*
 * moderation.h - moderation of prompts and outputs: three kinds of
 * detector, each with an action set per tier (through the tier's
 * moderation profile in the policy):
 *
 *   rules       categories of terms and PCRE2 patterns from the policy,
 *               matched on a normalized copy of the text (Unicode NFKC,
 *               case folding, diacritics removed, and separators between
 *               single letters dropped, so "K.i.l.l", "kíll" and "KILL"
 *               all match "kill"); a hit maps back to the original bytes
 *   pii         email addresses, phone numbers, payment card numbers (Luhn
 *               checked), IBANs (mod-97 checked), US SSNs, IPv4/IPv6
 *               addresses; redact replaces them with [EMAIL], [PHONE],
 *               [CARD], [IBAN], [SSN], [IP]
 *   classifier  a guard model (Llama Guard 3 and similar; classifier.h),
 *               its verdict in the MLCommons hazard categories S1-S14
 *
 * Actions: "flag" (reported and audited, text unchanged), "redact" (the
 * span replaced; for rules by [REDACTED]), "block" (a prompt is refused
 * before it reaches the model; an output stream is cut with
 * finish_reason "content_filter").
 *
 * Categories are named as OpenAI's moderation API names them ("violence",
 * "self-harm", ...), PII as "pii/email" etc., classifier hazards as
 * "S1: violent crimes" etc.
 *
 * A struct moderator is compiled once from the policy and is immutable:
 * any number of threads may check texts with it at once.
 */
#ifndef AJAR_GUARD_MODERATION_H
#define AJAR_GUARD_MODERATION_H

#include <stdbool.h>
#include <stddef.h>

#include "ajar/err.h"
#include "guard/policy.h"

enum mod_action {
	MOD_ACTION_NONE = 0,
	MOD_ACTION_FLAG,
	MOD_ACTION_REDACT,
	MOD_ACTION_BLOCK,
};

enum mod_source {
	MOD_SOURCE_RULES,
	MOD_SOURCE_PII,
	MOD_SOURCE_CLASSIFIER,
};

/* "none", "flag", "redact", "block"; "rules", "pii", "classifier". */
const char *mod_action_name(enum mod_action a);
const char *mod_source_name(enum mod_source s);

#define MOD_MAX_HITS 32
#define MOD_CATEGORY_MAX 48

struct mod_hit {
	char category[MOD_CATEGORY_MAX];
	enum mod_source source;
	enum mod_action action;    /* what the profile does with this detector */
	size_t start, end;         /* byte span in the checked text; 0, 0 for the classifier */
};

struct mod_result {
	bool flagged;              /* any hit */
	bool blocked;              /* a hit whose action is block */
	char block_category[MOD_CATEGORY_MAX]; /* the first blocking hit's */
	bool classifier_failed;    /* the classifier failed or its verdict could not be
	                              parsed; its on_failure decided the rest */
	size_t n_hits;             /* at most MOD_MAX_HITS kept (flagged and blocked
	                              count all) */
	struct mod_hit hits[MOD_MAX_HITS];
};

struct moderator;
struct classifier;

/*
 * Compiles the moderation profile named profile of policy p ("none" gives a
 * moderator that never flags). cls: the guard model for the profile's
 * classifier detector, or NULL when the profile has none (a profile that
 * needs one and gets NULL is AJAR_ERR_INVALID). A pattern that does not
 * compile is AJAR_ERR_FORMAT naming the policy path of it. *out: caller
 * frees with moderator_free (cls is borrowed and must outlive it).
 */
enum ajar_err moderator_new(const struct policy *p, const char *profile, struct classifier *cls,
			    struct moderator **out) AJAR_MUST_CHECK;
void moderator_free(struct moderator *m);

/* True if the profile has any detector enabled. */
bool moderator_active(const struct moderator *m);

/* Checks text (UTF-8; ill-formed bytes are treated as U+FFFD). Runs every
 * detector the profile enables, the classifier last and only if nothing
 * blocked already. */
enum ajar_err moderator_check(const struct moderator *m, const char *text, size_t len,
			      struct mod_result *out) AJAR_MUST_CHECK;

/* The same, judging text as the assistant's reply to prompt (prompt may be
 * NULL): only the classifier reads it differently (its as_output prompt).
 * Additive to the issue 7 interface, for the server's output check. */
enum ajar_err moderator_check_output(const struct moderator *m, const char *prompt, const char *text, size_t len,
				     struct mod_result *out) AJAR_MUST_CHECK;

/* A copy of text with the spans of redact hits replaced by their
 * placeholders ([EMAIL], ..., [REDACTED]). Caller frees; NULL when out of
 * memory. */
char *moderator_redact(const char *text, size_t len, const struct mod_result *r, size_t *out_len);

/* ---- output streams ---- */

/*
 * The output of a generation arrives in pieces. A stream holds back the
 * last bytes that a match could still grow into (a rule's longest term, a
 * PII form's longest), so a redaction or a block never lets part of the
 * span out first, even when it is split across tokens.
 */
struct mod_stream;

enum ajar_err mod_stream_new(const struct moderator *m, struct mod_stream **out) AJAR_MUST_CHECK;
void mod_stream_free(struct mod_stream *s);

/*
 * Adds n bytes of output; final: no more will come (release everything).
 * *out and *n_out: the text that may go to the client now, redacted (owned by
 * the stream, valid until the next call). When a blocking hit appears,
 * *blocked is set, res says why, nothing of the hit is released, and later
 * calls release nothing. res accumulates every hit so far (may be NULL).
 */
enum ajar_err mod_stream_push(struct mod_stream *s, const char *text, size_t n, bool final, const char **out,
			      size_t *n_out, bool *blocked, struct mod_result *res) AJAR_MUST_CHECK;

#endif
