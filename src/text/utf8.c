/*
 * utf8.c - strict UTF-8 decoding, encoding, validation and U+FFFD repair.
 *
 * Well-formed sequences (Unicode table 3-7):
 *   first      second     third   fourth
 *   00..7F
 *   C2..DF     80..BF
 *   E0         A0..BF     80..BF
 *   E1..EC     80..BF     80..BF
 *   ED         80..9F     80..BF          (no surrogates)
 *   EE..EF     80..BF     80..BF
 *   F0         90..BF     80..BF  80..BF  (no overlongs)
 *   F1..F3     80..BF     80..BF  80..BF
 *   F4         80..8F     80..BF  80..BF  (nothing above U+10FFFF)
 * Anything else is ill-formed; C0, C1 and F5..FF never appear.
 */
#include "text/utf8_int.h"

#include <string.h>

int utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	if (len == 0)
		return 0;
	unsigned char b0 = s[0];
	if (b0 < 0x80) {
		if (cp)
			*cp = b0;
		return 1;
	}
	size_t need;            /* continuation bytes that follow */
	unsigned char lo = 0x80; /* allowed range of the second byte */
	unsigned char hi = 0xBF;
	uint32_t c;
	if (b0 >= 0xC2 && b0 <= 0xDF) {
		need = 1;
		c = b0 & 0x1F;
	} else if (b0 >= 0xE0 && b0 <= 0xEF) {
		need = 2;
		c = b0 & 0x0F;
		if (b0 == 0xE0)
			lo = 0xA0;
		else if (b0 == 0xED)
			hi = 0x9F;
	} else if (b0 >= 0xF0 && b0 <= 0xF4) {
		need = 3;
		c = b0 & 0x07;
		if (b0 == 0xF0)
			lo = 0x90;
		else if (b0 == 0xF4)
			hi = 0x8F;
	} else {
		return -1;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= len)
			return 0;
		unsigned char b = s[i];
		if (b < lo || b > hi)
			return -(int)i;
		c = (c << 6) | (b & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	if (cp)
		*cp = c;
	return (int)need + 1;
}

size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
		memcpy(out, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
		return UTF8_REPLACEMENT_LEN;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		int r = utf8_decode(p + i, len - i, NULL);
		if (r <= 0)
			return false;
		i += (size_t)r;
	}
	return true;
}

size_t utf8_sanitize(const char *s, size_t len, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0;
	while (i < len) {
		int r = utf8_decode(p + i, len - i, NULL);
		if (r > 0) {
			if (out)
				memcpy(out + n, s + i, (size_t)r);
			n += (size_t)r;
			i += (size_t)r;
			continue;
		}
		/* r == 0 here means a truncated tail: it is the last subpart. */
		if (out)
			memcpy(out + n, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
		n += UTF8_REPLACEMENT_LEN;
		i = r < 0 ? i + (size_t)-r : len;
	}
	return n;
}
