/*
 * moderation_norm.c - the normalized copy of a text that the moderation
 * detectors match against, with a map from every normalized byte back to
 * the original bytes it came from.
 *
 * Two passes. The first decodes the input (ill-formed bytes as U+FFFD, one
 * byte each) and replaces each character by utf8proc's decomposition with
 * compatibility mappings, case folding, marks and default-ignorable
 * characters (zero-width joiners, soft hyphens) removed and punctuation
 * lumped to ASCII. Each character is decomposed on its own, so the result
 * at one place never depends on far text; with the marks gone this reads
 * the same as NFKC for matching (terms go through the same function).
 * The second pass drops the separators inside a run of three or more
 * single letters ("k.i.l.l", "k i l l") and writes whitespace runs as one
 * space, then encodes to UTF-8 with the byte map.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "guard/moderation_int.h"

#define NORM_OPTIONS                                                                                        \
	(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE |  \
	 UTF8PROC_LUMP)
/* The longest decomposition of one character is 18 code points (U+FDFA). */
#define DECOMP_MAX 32
/* Separator characters a run of single letters may have between letters. */
#define GLUE_GAP_MAX 3

/* One code point of the first pass and the original span it came from. */
struct cp_item {
	int32_t cp;
	size_t start, end;
};

struct cp_vec {
	struct cp_item *v; /* owned; n used of cap */
	size_t n, cap;
};

static bool cp_push(struct cp_vec *a, int32_t cp, size_t start, size_t end)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		struct cp_item *v;
		if (cap > MOD_TEXT_MAX * 4u)
			return false;
		v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return false;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = (struct cp_item){cp, start, end};
	return true;
}

static bool is_space(int32_t cp)
{
	if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D))
		return true;
	utf8proc_category_t c = utf8proc_category(cp);
	return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

static bool is_letter(int32_t cp)
{
	utf8proc_category_t c = utf8proc_category(cp);
	return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

static bool is_alnum(int32_t cp)
{
	utf8proc_category_t c = utf8proc_category(cp);
	return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
	       (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

/* What may stand between spelt-out letters. Not '@' or ':', which would
 * glue "a@b.c" or hexadecimal IPv6 groups. */
static bool is_glue_sep(int32_t cp)
{
	if (is_space(cp))
		return true;
	if (cp < 0x80)
		return cp != 0 && strchr(".-_*/\\|+~'`,^=#", (int)cp) != NULL;
	return utf8proc_category(cp) == UTF8PROC_CATEGORY_PD || cp == 0x00B7 || cp == 0x2022 || cp == 0x2027;
}

/* First pass: the decomposed code points with their original spans. */
static enum ajar_err decompose_all(const char *text, size_t len, struct cp_vec *out)
{
	const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
	size_t i = 0;

	while (i < len) {
		utf8proc_int32_t cp, buf[DECOMP_MAX];
		utf8proc_ssize_t step = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
		int boundclass = 0;
		if (step <= 0) {
			cp = 0xFFFD;
			step = 1;
		}
		utf8proc_ssize_t k = utf8proc_decompose_char(cp, buf, DECOMP_MAX, NORM_OPTIONS, &boundclass);
		if (k < 0 || k > DECOMP_MAX) {
			/* Cannot happen for a valid code point; keep the character. */
			buf[0] = cp;
			k = 1;
		}
		for (utf8proc_ssize_t j = 0; j < k; j++)
			if (!cp_push(out, buf[j], i, i + (size_t)step))
				return ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory normalizing");
		i += (size_t)step;
	}
	return AJAR_OK;
}

static bool single_letter(const struct cp_vec *a, size_t i)
{
	return is_letter(a->v[i].cp) && (i == 0 || !is_alnum(a->v[i - 1].cp)) &&
	       (i + 1 == a->n || !is_alnum(a->v[i + 1].cp));
}

/* The single letter that follows the single letter at i across 1 to
 * GLUE_GAP_MAX separators, or SIZE_MAX; *kind: 1 if the gap is all
 * whitespace, 2 if it has punctuation. */
static size_t next_single(const struct cp_vec *a, size_t i, int *kind)
{
	size_t j = i + 1;
	*kind = 1;
	while (j < a->n && j - i - 1 < GLUE_GAP_MAX && is_glue_sep(a->v[j].cp)) {
		if (!is_space(a->v[j].cp))
			*kind = 2;
		j++;
	}
	if (j == i + 1 || j >= a->n || !single_letter(a, j))
		return SIZE_MAX;
	return j;
}

/* Marks (drop[]) the separators inside runs of three or more single
 * letters whose gaps are of one kind, so "k i l l" and "k.i.l.l" glue but
 * "k.i.l.l y.o.u" stays two words. A gap i->j is dropped when a gap of the
 * same kind leads into i or out of j, except that a whitespace gap next to
 * a punctuation gap is the space between two spelt words and stays. That
 * decides from a few characters around the gap. */
static void mark_glue(const struct cp_vec *a, bool *drop)
{
	size_t prev_to = SIZE_MAX; /* the letter the last gap reached */
	int prev_kind = 0;

	for (size_t i = 0; i < a->n; i++) {
		int kind, next_kind;
		if (!single_letter(a, i))
			continue;
		size_t j = next_single(a, i, &kind);
		if (j == SIZE_MAX)
			continue;
		bool has_prev = prev_to == i, has_next = next_single(a, j, &next_kind) != SIZE_MAX;
		bool joined = ((has_prev && prev_kind == kind) || (has_next && next_kind == kind)) &&
			      !(kind == 1 && ((has_prev && prev_kind == 2) || (has_next && next_kind == 2)));
		if (joined)
			for (size_t k = i + 1; k < j; k++)
				drop[k] = true;
		prev_to = j;
		prev_kind = kind;
	}
}

static bool out_reserve(struct mod_norm *n, size_t *cap, size_t need)
{
	if (n->len + need <= *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 256;
	while (c < n->len + need)
		c *= 2;
	char *t = realloc(n->text, c + 1);
	if (!t)
		return false;
	n->text = t;
	size_t *a = realloc(n->src_start, c * sizeof(size_t));
	if (!a)
		return false;
	n->src_start = a;
	size_t *b = realloc(n->src_end, c * sizeof(size_t));
	if (!b)
		return false;
	n->src_end = b;
	*cap = c;
	return true;
}

/* Second pass: UTF-8 with the byte map, whitespace runs as one space. */
static enum ajar_err encode_all(const struct cp_vec *a, const bool *drop, struct mod_norm *n)
{
	size_t cap = 0;

	for (size_t i = 0; i < a->n; i++) {
		utf8proc_uint8_t enc[4];
		size_t start = a->v[i].start, end = a->v[i].end, k;
		if (drop[i])
			continue;
		if (is_space(a->v[i].cp)) {
			while (i + 1 < a->n && (drop[i + 1] || is_space(a->v[i + 1].cp))) {
				i++;
				end = a->v[i].end;
			}
			enc[0] = ' ';
			k = 1;
		} else {
			k = (size_t)utf8proc_encode_char(a->v[i].cp, enc);
			if (k == 0) {
				k = (size_t)utf8proc_encode_char(0xFFFD, enc);
			}
		}
		if (!out_reserve(n, &cap, k))
			return ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory normalizing");
		for (size_t b = 0; b < k; b++) {
			n->text[n->len] = (char)enc[b];
			n->src_start[n->len] = start;
			n->src_end[n->len] = end;
			n->len++;
		}
	}
	if (!out_reserve(n, &cap, 1))
		return ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory normalizing");
	n->text[n->len] = '\0';
	return AJAR_OK;
}

enum ajar_err mod_normalize(const char *text, size_t len, struct mod_norm *out)
{
	struct cp_vec a = {0};
	bool *drop = NULL;
	enum ajar_err err;

	memset(out, 0, sizeof(*out));
	if (len > MOD_TEXT_MAX)
		return ajar_errf(AJAR_ERR_LIMIT, "moderation: text of %zu bytes is over the %u-byte limit", len,
				 MOD_TEXT_MAX);
	if ((err = decompose_all(text, len, &a)))
		goto out;
	if (!(drop = calloc(a.n + 1, sizeof(bool)))) {
		err = ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory normalizing");
		goto out;
	}
	mark_glue(&a, drop);
	err = encode_all(&a, drop, out);
out:
	if (err)
		mod_norm_free(out);
	free(drop);
	free(a.v);
	return err;
}

void mod_norm_free(struct mod_norm *n)
{
	if (!n)
		return;
	free(n->text);
	free(n->src_start);
	free(n->src_end);
	memset(n, 0, sizeof(*n));
}
