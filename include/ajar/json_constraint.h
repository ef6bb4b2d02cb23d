/*
 * json_constraint.h - constrained decoding for response_format
 * {"type":"json_object"}: a logits processor that lets the model produce only
 * a JSON object (RFC 8259), then end.
 *
 * The constraint is a byte-level pushdown automaton over the text the
 * generated tokens stand for (vocab_token_to_piece, special = false). Each
 * step, apply() masks (sets to -INFINITY) every token whose bytes would take
 * the automaton into a state from which no valid JSON object can be
 * completed; accept() feeds the chosen token's bytes. Every state the
 * automaton can be in is live, so the unmasked tokens are exactly those
 * that keep the output a prefix of some valid object.
 *
 * What it accepts: whitespace, one object, whitespace. Inside it the whole
 * RFC 8259 grammar: objects, arrays, strings with every escape, \uXXXX
 * escapes (a high surrogate must be followed by \u and a low surrogate; a
 * lone low surrogate is refused, so the text is always valid Unicode),
 * numbers (-0.5e+10 yes, 01 / +1 / .5 / 1. no), true, false, null. String
 * content must be well-formed UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF) with no control characters below U+0020.
 * Two caps keep generation from stalling where JSON allows unbounded
 * repetition of nothing useful: a whitespace run is at most
 * JSON_CONSTRAINT_MAX_WS bytes, and containers nest at most
 * JSON_CONSTRAINT_MAX_DEPTH deep (the top-level object counts as 1).
 * Strings and numbers are not capped: n_predict bounds them.
 *
 * Tokens: end-of-generation tokens (vocab_is_eog) are allowed only once the
 * top-level object is complete, and from then on only they and whitespace
 * are allowed. Tokens whose piece is empty (control, unknown, unused) are
 * never allowed. Ids at or past vocab_n_tokens() are masked.
 *
 * If accept() is given a token that apply() masked (a caller that ignored the
 * mask, or a sampler that fell back to argmax of an all -inf vector), the
 * constraint is broken: from then on apply() allows only EOG tokens, and
 * json_constraint_complete() is false.
 *
 * Cost of apply(): the tokens are walked in byte-sorted order, and each one
 * resumes from the state after the prefix it shares with the one before, so
 * a step costs O(n_vocab + bytes of the vocabulary's trie that are still
 * valid); a token whose shared prefix already failed costs O(1). Neither
 * apply() nor accept() allocates.
 *
 * Threads: one constraint belongs to one sequence; apply/accept from one
 * thread at a time (the logits_proc contract). The vocab is only read in
 * json_constraint_new() and may be freed afterwards.
 *
 * A server builds one constraint per model at start-up (tens of ms for a
 * 128k vocabulary) and gives each request a json_constraint_clone() of it
 * (microseconds: the token tables are shared, read-only and
 * reference-counted; each clone has its own state and scratch).
 */
#ifndef AJAR_JSON_CONSTRAINT_H
#define AJAR_JSON_CONSTRAINT_H

#include <stdbool.h>
#include <stddef.h>

#include "ajar/err.h"
#include "ajar/logits_proc.h"

struct ajar_vocab;
struct json_constraint;

/* Longest run of whitespace bytes allowed anywhere (before, inside and after
 * the object). */
#define JSON_CONSTRAINT_MAX_WS 16
/* Deepest nesting of objects and arrays; the top-level object is depth 1. */
#define JSON_CONSTRAINT_MAX_DEPTH 32

/* Builds the per-token tables from v (every token's piece, the sorted walk
 * order). *out is owned by the caller (json_constraint_free) and starts
 * before the first byte of output. AJAR_ERR_NOMEM, or AJAR_ERR_LIMIT for a
 * vocabulary whose pieces exceed 1 GiB in all. */
enum ajar_err json_constraint_new(const struct ajar_vocab *v, struct json_constraint **out) AJAR_MUST_CHECK;
/* A new constraint, at the start, sharing proto's token tables. proto is
 * only read (its state is not copied); clones may be made from any thread
 * while other clones are in use, and proto may be freed before its clones.
 * *out owned by the caller. AJAR_ERR_NOMEM only. */
enum ajar_err json_constraint_clone(const struct json_constraint *proto, struct json_constraint **out) AJAR_MUST_CHECK;
/* Frees c (and the shared tables with the last of their users). NULL ok. */
void json_constraint_free(struct json_constraint *c);

/* Back to the start (no output yet), for reuse by another request. */
void json_constraint_reset(struct json_constraint *c);

/* The processor view: state is c, borrowed (c must outlive its use). */
struct logits_proc json_constraint_proc(struct json_constraint *c);

/* True when the output so far is one complete JSON object (plus whitespace)
 * and no masked token was accepted. */
bool json_constraint_complete(const struct json_constraint *c);

#endif
