/*
 * json_constraint_int.h - the byte automaton under the JSON constraint.
 *
 * Internal to src/sample; the unit test drives it directly on byte strings.
 * A state is a small value (no pointers: the container stack is a bit set),
 * so callers copy it freely: the token walk keeps one per byte position.
 */
#ifndef AJAR_SAMPLE_JSON_CONSTRAINT_INT_H
#define AJAR_SAMPLE_JSON_CONSTRAINT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "ajar/json_constraint.h"

_Static_assert(JSON_CONSTRAINT_MAX_DEPTH <= 64, "the container stack is one uint64_t");
_Static_assert(JSON_CONSTRAINT_MAX_WS < 256, "the whitespace run is a uint8_t");

/* Where the automaton is, between bytes. */
enum json_mode {
	JSON_MODE_START,     /* before the top-level object: ws or '{' */
	JSON_MODE_OBJ_FIRST, /* after '{': ws, '"' (a key) or '}' */
	JSON_MODE_OBJ_KEY,   /* after ',' in an object: ws or '"' */
	JSON_MODE_COLON,     /* after a key: ws or ':' */
	JSON_MODE_VALUE,     /* after ':', or ',' in an array: ws or a value */
	JSON_MODE_ARR_FIRST, /* after '[': ws, a value or ']' */
	JSON_MODE_AFTER,     /* after a value in a container: ws, ',' or its closer */
	JSON_MODE_DONE,      /* top-level object closed: ws only */
	JSON_MODE_STRING,    /* inside a string; sub is an enum json_str */
	JSON_MODE_NUMBER,    /* inside a number; sub is an enum json_num */
	JSON_MODE_LITERAL,   /* inside true/false/null */
};

enum json_str {
	JSON_STR_PLAIN,  /* ordinary content */
	JSON_STR_ESC,    /* after '\' */
	JSON_STR_HEX,    /* in the 4 hex digits of \u */
	JSON_STR_UTF8,   /* inside a multi-byte UTF-8 character */
	JSON_STR_LOW_BS, /* after a high surrogate \uD8xx: '\' of the low one due */
	JSON_STR_LOW_U,  /* ... its 'u' due */
};

enum json_num {
	JSON_NUM_MINUS,      /* "-" */
	JSON_NUM_ZERO,       /* "-0", "0": no more integer digits */
	JSON_NUM_INT,        /* "12" */
	JSON_NUM_DOT,        /* "1." */
	JSON_NUM_FRAC,       /* "1.5" */
	JSON_NUM_EXP,        /* "1e" */
	JSON_NUM_EXP_SIGN,   /* "1e+" */
	JSON_NUM_EXP_DIGITS, /* "1e5" */
};

/* Fields not used by the current mode are zero. */
struct json_state {
	uint64_t stack;  /* bit d-1 set: the container at depth d is an object, clear: an array */
	uint8_t depth;   /* open containers, 0..JSON_CONSTRAINT_MAX_DEPTH */
	uint8_t mode;    /* enum json_mode */
	uint8_t sub;     /* enum json_str / enum json_num */
	uint8_t ws;      /* whitespace bytes in the current run */
	uint8_t key;     /* STRING: it is an object key (a ':' follows) */
	uint8_t n;       /* STR_HEX: digits seen; STR_UTF8: bytes still due; LITERAL: bytes matched */
	uint8_t lo, hi;  /* STR_UTF8: range of the next byte */
	uint8_t low;     /* STR_HEX: the digits must make a low surrogate */
	uint8_t lit;     /* LITERAL: 0 true, 1 false, 2 null */
	uint16_t code;   /* STR_HEX: value of the digits so far */
};

/* Before the first byte. */
void json_state_init(struct json_state *s);
/* Feeds one byte. True if the output is still a prefix of a valid object;
 * false if b can not come next, and then *s is garbage (step a copy). */
bool json_state_step(struct json_state *s, unsigned char b);
/* The top-level object is complete (only whitespace may follow). */
bool json_state_complete(const struct json_state *s);

#endif
