/*
 * moderation_int.h - what the moderation files share: the normalizer
 * (moderation_norm.c), the PII scanners (moderation_pii.c) and the limits
 * that make a stream's verdicts equal the whole text's (moderation.c).
 *
 * Every detector looks at the normalized text. Each decision at a
 * normalized offset depends only on a bounded neighbourhood of it (the
 * normalizer's single-letter gluing looks a few characters either way; a
 * term is a literal with one character of context; a pattern match is cut
 * at MOD_PATTERN_SPAN; a PII form at MOD_PII_SPAN). That locality is what
 * lets a stream hold back a bounded tail and still release exactly what
 * the whole text's redaction would give.
 */
#ifndef AJAR_GUARD_MODERATION_INT_H
#define AJAR_GUARD_MODERATION_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "ajar/err.h"

/* Longest span a pattern may match, in normalized bytes: a longer match is
 * cut (the pattern sees no more text than this from its start). */
#define MOD_PATTERN_SPAN 256
/* Longest PII form, in normalized bytes (an email is capped here). */
#define MOD_PII_SPAN 128
/* How far, in normalized bytes, the normalizer's output at one place can
 * depend on text around it (three single letters and their gaps either
 * side, each character up to 4 bytes). */
#define MOD_NORM_RADIUS 64
/* Largest text one check takes. */
#define MOD_TEXT_MAX (8u << 20)

/* The normalized copy of a text and the map back to the original. */
struct mod_norm {
	char *text;        /* owned; normalized UTF-8, NUL-terminated */
	size_t len;
	size_t *src_start; /* owned; (len): for each normalized byte, the original
	                      span [src_start, src_end) of the character it came from */
	size_t *src_end;   /* owned; (len) */
};

/* NFKD + case fold + marks and default-ignorables stripped + lumped
 * punctuation, separators between three or more single letters dropped,
 * whitespace runs as one space. Ill-formed bytes read as U+FFFD. */
enum ajar_err mod_normalize(const char *text, size_t len, struct mod_norm *out) AJAR_MUST_CHECK;
void mod_norm_free(struct mod_norm *n);

/* PII types: the bits of policy_moderation_profile.pii_types. */
enum mod_pii {
	MOD_PII_EMAIL = 1,
	MOD_PII_PHONE = 2,
	MOD_PII_CARD = 4,
	MOD_PII_IBAN = 8,
	MOD_PII_SSN = 16,
	MOD_PII_IP = 32,
};
#define MOD_PII_ALL 63

/* "email", ... for one bit; NULL otherwise. */
const char *mod_pii_name(unsigned type);
/* "[EMAIL]", ... */
const char *mod_pii_placeholder(unsigned type);

/* Called for each PII span found (normalized offsets); false stops the scan
 * (out of memory). */
typedef bool (*mod_pii_fn)(void *ctx, size_t start, size_t end, unsigned type);

/* Finds the PII of the given types in normalized text s. False if fn
 * stopped it. */
bool mod_pii_scan(const char *s, size_t len, unsigned types, mod_pii_fn fn, void *ctx);

/* Validators, exposed for the tests. */
bool mod_luhn_ok(const char *digits, size_t n);
bool mod_iban_ok(const char *alnum, size_t n); /* no spaces; any case */

#endif
