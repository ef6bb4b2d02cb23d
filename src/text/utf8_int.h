/*
 * utf8_int.h - UTF-8 helpers shared by the tokenizers and the detokenizer.
 *
 * Two views of UTF-8 live here on purpose:
 *   - utf8_lead_len() is llama.cpp's unicode_len_utf8(): the length a byte
 *     *claims* from its top four bits, with no check of what follows. The SPM
 *     tokenizer splits text into characters this way so that its output on
 *     malformed input is the same as llama.cpp's.
 *   - utf8_decode() is strict RFC 3629 (no overlongs, no surrogates, nothing
 *     above U+10FFFF) and reports the "maximal subpart" of an ill-formed
 *     sequence, the unit the Unicode standard (ch. 3, U+FFFD substitution)
 *     recommends replacing with one U+FFFD. The detokenizer uses it so that
 *     what it emits is always valid UTF-8.
 */
#ifndef AJAR_TEXT_UTF8_INT_H
#define AJAR_TEXT_UTF8_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* U+FFFD REPLACEMENT CHARACTER, 3 bytes. */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"
#define UTF8_REPLACEMENT_LEN 3

/* The longest valid sequence, and so the most bytes a decoder may hold. */
#define UTF8_MAX_LEN 4

/* 1 for 0x00-0xBF (ASCII and stray continuation bytes), 2 for 0xC0-0xDF,
 * 3 for 0xE0-0xEF, 4 for 0xF0-0xFF. Never 0. */
static inline size_t utf8_lead_len(unsigned char c)
{
	static const unsigned char len_by_high_nibble[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
	return len_by_high_nibble[c >> 4];
}

/*
 * Decodes the character at s[0..len):
 *   > 0  a valid character of that many bytes; *cp is its code point;
 *   = 0  len is 0, or s[0..len) is a proper prefix of a valid sequence (more
 *        bytes are needed to tell);
 *   < 0  ill-formed: the first -r bytes (1..3) are the maximal subpart that
 *        one U+FFFD replaces; decoding resumes at s + (-r).
 * cp may be NULL.
 */
int utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Writes cp as UTF-8 to out (room for 4 bytes) and returns the byte count;
 * surrogates and values above U+10FFFF are written as U+FFFD. */
size_t utf8_encode(uint32_t cp, char *out);

/* True if s[0..len) is entirely well-formed UTF-8. */
bool utf8_valid(const char *s, size_t len);

/*
 * Copies s[0..len) to out, replacing each ill-formed maximal subpart, and a
 * truncated sequence at the end, with U+FFFD. Returns the length of the
 * result, which is at most 3 * len; out may be NULL to measure only.
 */
size_t utf8_sanitize(const char *s, size_t len, char *out);

#endif
