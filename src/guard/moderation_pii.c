/*
 * moderation_pii.c - the PII detectors, hand-written scanners over the
 * normalized text (lower case; fullwidth digits and dashes already ASCII).
 *
 *   email   anchored at each '@': the longest local part to the left (at
 *           most 64 bytes), a dotted domain to the right ending in a
 *           letters-only TLD
 *   numbers a "number run" is digits with separator groups of one or two
 *           of " -.()" between them, optionally led by '+' or '('; it must
 *           not touch a letter or digit on either side. A run is then an
 *           SSN (ddd-dd-dddd, valid ranges), an IPv4 address (four dotted
 *           octets), a card (13-19 digits, spaces or dashes, Luhn), or a
 *           phone (9-15 digits, '+' or grouped; not date-like)
 *   iban    two letters, two check digits, then alphanumerics in groups
 *           split by single spaces; the longest prefix of 15-34 that
 *           passes mod 97 wins
 *   ipv6    a run of hex digits, ':' and '.' with at least two colons and
 *           a digit that inet_pton accepts
 *
 * Every decision reads at most MOD_PII_SPAN bytes from where the form
 * starts plus one byte either side, so a stream may hold back a bounded
 * tail (moderation_int.h).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "guard/moderation_int.h"

#define EMAIL_LOCAL_MAX 64
#define RUN_MAX 48         /* a number run past this is not one number */
#define RUN_GROUPS_MAX 12
#define IBAN_MIN 15
#define IBAN_MAX 34
#define IPV6_TEXT_MAX 45   /* INET6_ADDRSTRLEN - 1 */

static const char *const pii_names[] = {"email", "phone", "card", "iban", "ssn", "ip"};
static const char *const pii_placeholders[] = {"[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[SSN]", "[IP]"};

static int pii_index(unsigned type)
{
	for (int i = 0; i < 6; i++)
		if (type == 1u << i)
			return i;
	return -1;
}

const char *mod_pii_name(unsigned type)
{
	int i = pii_index(type);
	return i < 0 ? NULL : pii_names[i];
}

const char *mod_pii_placeholder(unsigned type)
{
	int i = pii_index(type);
	return i < 0 ? "[REDACTED]" : pii_placeholders[i];
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

/* Any letter or digit, a non-ASCII byte counted as a letter (it is part of
 * some word in the normalized text). */
static bool is_word(char c)
{
	return is_digit(c) || is_lower(c) || (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80;
}

bool mod_luhn_ok(const char *digits, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(digits[n - 1 - i] - '0');
		if (d > 9)
			return false;
		if (i & 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return n > 0 && sum % 10 == 0;
}

/* ISO 13616: move the first four characters to the end, letters as
 * 10..35, the number mod 97 must be 1. */
bool mod_iban_ok(const char *s, size_t n)
{
	unsigned rem = 0;
	if (n < IBAN_MIN || n > IBAN_MAX)
		return false;
	for (size_t k = 0; k < n; k++) {
		char c = s[(k + 4) % n];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (is_digit(c))
			rem = (rem * 10 + (unsigned)(c - '0')) % 97;
		else if (is_lower(c))
			rem = (rem * 100 + (unsigned)(c - 'a' + 10)) % 97;
		else
			return false;
	}
	return rem == 1;
}

/* ---- email ---- */

static bool local_char(char c)
{
	return is_digit(c) || is_lower(c) || (c && strchr("._%+-", c));
}

static bool domain_char(char c)
{
	return is_digit(c) || is_lower(c) || c == '.' || c == '-';
}

/* The domain right of at+1; its end, or 0 if it is not one. */
static size_t email_domain(const char *s, size_t len, size_t from)
{
	size_t end = from, label = from, dots = 0;
	while (end < len && end - from < MOD_PII_SPAN && domain_char(s[end]))
		end++;
	if (end < len && domain_char(s[end]))
		return 0; /* too long */
	while (end > from && (s[end - 1] == '.' || s[end - 1] == '-'))
		end--;
	for (size_t i = from; i <= end; i++) {
		if (i < end && s[i] != '.')
			continue;
		if (i == label || s[label] == '-' || s[i - 1] == '-')
			return 0; /* empty label or one starting or ending with '-' */
		if (i < end) {
			dots++;
			label = i + 1;
		}
	}
	if (dots == 0 || end - label < 2)
		return 0;
	for (size_t i = label; i < end; i++)
		if (!is_lower(s[i]))
			return 0;
	return end;
}

static bool scan_email(const char *s, size_t len, size_t at, mod_pii_fn fn, void *ctx)
{
	size_t start = at, end;
	while (start > 0 && at - start < EMAIL_LOCAL_MAX + 1 && local_char(s[start - 1]))
		start--;
	if (at - start > EMAIL_LOCAL_MAX)
		return true;
	while (start < at && s[start] == '.')
		start++;
	if (start == at || s[at - 1] == '.')
		return true;
	end = email_domain(s, len, at + 1);
	if (!end || end - start > MOD_PII_SPAN || (end < len && is_word(s[end])))
		return true;
	return fn(ctx, start, end, MOD_PII_EMAIL);
}

/* ---- number runs ---- */

struct num_run {
	size_t start, end;        /* bytes of the run */
	bool plus, parens;
	char digits[RUN_MAX + 1]; /* the digits alone */
	size_t nd;
	size_t group[RUN_GROUPS_MAX]; /* digits per group */
	char sep[RUN_GROUPS_MAX][3];  /* the separator before group k (k >= 1), NUL-ended */
	size_t ng;
};

static bool sep_char(char c)
{
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

/* Reads the run that starts at i (a digit, or '+'/'(' before one) to its
 * natural end (*end), whatever its length, so that a long stretch is never
 * read again from its middle. False if it is not one number: too long,
 * too many groups, or it touches a word. */
static bool read_run(const char *s, size_t len, size_t i, struct num_run *r, size_t *end)
{
	size_t p = i, groups = 0, digits = 0;
	memset(r, 0, sizeof(*r));
	r->start = i;
	if (s[p] == '+')
		r->plus = true, p++;
	if (s[p] == '(')
		r->parens = true, p++;
	for (;;) {
		size_t g = 0;
		while (p < len && is_digit(s[p])) {
			if (digits < RUN_MAX)
				r->digits[digits] = s[p];
			digits++, g++, p++;
		}
		if (groups < RUN_GROUPS_MAX)
			r->group[groups] = g;
		groups++;
		size_t q = p;
		while (q < len && q - p < 2 && sep_char(s[q]))
			q++;
		if (q == p || q >= len || !is_digit(s[q]))
			break;
		if (groups < RUN_GROUPS_MAX)
			memcpy(r->sep[groups], s + p, q - p);
		for (size_t k = p; k < q; k++)
			if (s[k] == '(' || s[k] == ')')
				r->parens = true;
		p = q;
	}
	r->end = p;
	*end = p > i ? p : i + 1;
	if (digits > RUN_MAX || groups > RUN_GROUPS_MAX || p - i > RUN_MAX)
		return false;
	r->nd = digits;
	r->ng = groups;
	return !(p < len && (is_word(s[p]) || s[p] == '@'));
}

static bool all_seps(const struct num_run *r, const char *want)
{
	for (size_t k = 1; k < r->ng; k++)
		if (strcmp(r->sep[k], want) != 0)
			return false;
	return true;
}

static bool run_ssn(const struct num_run *r)
{
	const char *d = r->digits;
	if (r->plus || r->parens || r->ng != 3 || r->group[0] != 3 || r->group[1] != 2 || r->group[2] != 4)
		return false;
	if (!all_seps(r, "-") && !all_seps(r, " "))
		return false;
	if (memcmp(d, "000", 3) == 0 || memcmp(d, "666", 3) == 0 || d[0] == '9')
		return false;
	return memcmp(d + 3, "00", 2) != 0 && memcmp(d + 5, "0000", 4) != 0;
}

/* 1 a valid IPv4 address, -1 shaped like one but not valid, 0 neither. */
static int run_ipv4(const struct num_run *r)
{
	if (r->plus || r->parens || r->ng != 4 || !all_seps(r, "."))
		return 0;
	size_t at = 0;
	for (size_t k = 0; k < 4; k++) {
		unsigned v = 0;
		if (r->group[k] < 1 || r->group[k] > 3)
			return -1;
		for (size_t j = 0; j < r->group[k]; j++)
			v = v * 10 + (unsigned)(r->digits[at + j] - '0');
		if (v > 255 || (r->group[k] > 1 && r->digits[at] == '0'))
			return -1;
		at += r->group[k];
	}
	return 1;
}

static bool run_card(const struct num_run *r)
{
	if (r->plus || r->parens || r->nd < 13 || r->nd > 19)
		return false;
	if (!all_seps(r, " ") && !all_seps(r, "-"))
		return false;
	return mod_luhn_ok(r->digits, r->nd);
}

static bool run_phone(const struct num_run *r)
{
	if (r->nd < 9 || r->nd > 15)
		return false;
	if (r->plus)
		return true;
	if (r->ng < 2 || (r->ng == 2 && all_seps(r, ".")))
		return false; /* a plain number, or a decimal */
	for (size_t k = 1; k < r->ng; k++)
		if (r->group[k] < 2)
			return false;
	/* 2024-01-15 10: a date and an hour, not a phone */
	if (r->group[0] == 4 && r->ng >= 3 && r->group[1] == 2 && r->group[2] == 2 &&
	    (memcmp(r->digits, "19", 2) == 0 || memcmp(r->digits, "20", 2) == 0))
		return false;
	return true;
}

static bool run_start(const char *s, size_t len, size_t i)
{
	char c = s[i];
	if (i > 0 && (is_word(s[i - 1]) || s[i - 1] == ':' || s[i - 1] == '.' || s[i - 1] == '@' ||
		      s[i - 1] == '+' || s[i - 1] == '-'))
		return false;
	if (is_digit(c))
		return true;
	if (c == '+' && i + 1 < len && (is_digit(s[i + 1]) || (s[i + 1] == '(' && i + 2 < len && is_digit(s[i + 2]))))
		return true;
	return c == '(' && i + 1 < len && is_digit(s[i + 1]);
}

/* Classifies one run; false if fn stopped. */
static bool emit_run(const struct num_run *r, unsigned types, mod_pii_fn fn, void *ctx)
{
	unsigned type = 0;
	int ip = run_ipv4(r);
	if (run_ssn(r))
		type = MOD_PII_SSN;
	else if (ip)
		type = ip > 0 ? MOD_PII_IP : 0;
	else if (run_card(r))
		type = MOD_PII_CARD;
	else if (run_phone(r))
		type = MOD_PII_PHONE;
	if (!(type & types))
		return true;
	return fn(ctx, r->start, r->end, type);
}

/* ---- IBAN ---- */

static bool scan_iban(const char *s, size_t len, size_t i, mod_pii_fn fn, void *ctx)
{
	char alnum[IBAN_MAX + 1];
	size_t ends[IBAN_MAX + 2] = {0}, n = 0, p = i;

	if (i + 4 > len || !is_lower(s[i]) || !is_lower(s[i + 1]) || !is_digit(s[i + 2]) || !is_digit(s[i + 3]))
		return true;
	if (i > 0 && is_word(s[i - 1]))
		return true;
	/* ends[k]: the byte after the k-th character, when a group ends there */
	while (p < len && n < IBAN_MAX + 1) {
		if (is_digit(s[p]) || is_lower(s[p])) {
			alnum[n++] = s[p++];
			if (p == len || !(is_digit(s[p]) || is_lower(s[p])))
				ends[n] = p;
			else
				ends[n] = 0;
		} else if (s[p] == ' ' && p + 1 < len && (is_digit(s[p + 1]) || is_lower(s[p + 1])) && n >= 4) {
			p++;
		} else {
			break;
		}
	}
	for (size_t k = n > IBAN_MAX ? IBAN_MAX : n; k >= IBAN_MIN; k--) {
		if (!ends[k] || (ends[k] < len && is_word(s[ends[k]])))
			continue;
		if (mod_iban_ok(alnum, k))
			return fn(ctx, i, ends[k], MOD_PII_IBAN);
	}
	return true;
}

/* ---- IPv6 ---- */

static bool v6_char(char c)
{
	return is_hex(c) || c == ':' || c == '.';
}

static bool scan_ipv6(const char *s, size_t len, size_t i, mod_pii_fn fn, void *ctx, size_t *next)
{
	char buf[IPV6_TEXT_MAX + 1];
	struct in6_addr addr;
	size_t e = i, colons = 0;

	*next = i + 1;
	if (i > 0 && (is_word(s[i - 1]) || v6_char(s[i - 1])))
		return true;
	while (e < len && v6_char(s[e]))
		colons += s[e++] == ':';
	*next = e > i ? e : i + 1;
	while (e > i && s[e - 1] == '.')
		e--;
	if (colons < 2 || e - i > IPV6_TEXT_MAX || (e < len && is_word(s[e])))
		return true;
	/* "a::b" is more often C++ than an address: ask for a digit */
	bool digit = false;
	for (size_t k = i; k < e; k++)
		digit = digit || is_digit(s[k]);
	if (!digit)
		return true;
	memcpy(buf, s + i, e - i);
	buf[e - i] = '\0';
	if (inet_pton(AF_INET6, buf, &addr) != 1)
		return true;
	/* "::" alone is the unspecified address, not anyone's */
	if (e - i == 2)
		return true;
	return fn(ctx, i, e, MOD_PII_IP);
}

bool mod_pii_scan(const char *s, size_t len, unsigned types, mod_pii_fn fn, void *ctx)
{
	size_t next_num = 0, next_v6 = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '@' && (types & MOD_PII_EMAIL) && !scan_email(s, len, i, fn, ctx))
			return false;
		if ((types & MOD_PII_IBAN) && is_lower(c) && !scan_iban(s, len, i, fn, ctx))
			return false;
		if ((types & MOD_PII_IP) && i >= next_v6 && (is_hex(c) || c == ':')) {
			if (!scan_ipv6(s, len, i, fn, ctx, &next_v6))
				return false;
		}
		if (i >= next_num && (types & (MOD_PII_PHONE | MOD_PII_CARD | MOD_PII_SSN | MOD_PII_IP)) &&
		    run_start(s, len, i)) {
			struct num_run r;
			if (read_run(s, len, i, &r, &next_num) && !emit_run(&r, types, fn, ctx))
				return false;
		}
	}
	return true;
}
