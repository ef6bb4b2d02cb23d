/*
 * policy.c - loads and validates the policy file (format: docs/policy.md).
 *
 * jansson parses the whole text (duplicate keys refused), then the tree is
 * walked once, section by section, into a struct policy. Every value is
 * checked as it is read and the first problem ends the load with the JSON
 * path of the field:
 *
 *     policy.json: tiers.public.max_tokens: expected an integer from 0 to 2147483647
 *
 * Sections are read in dependency order: moderation profiles, then tiers
 * (which name profiles), then anonymous_tier and access_requests (which name
 * tiers), so each reference is checked against what is already loaded. An
 * unknown field anywhere is an error: a misspelt limit must not silently
 * leave a tier unlimited. The built-in "admin" tier is appended last and the
 * implicit moderation profile "none" is profiles[0].
 *
 * Layout: small helpers (messages, paths, typed getters), one function per
 * section, policy_build() that runs them, then the public entry points and
 * policy_public_json().
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sodium.h>

#include "guard/policy.h"
#include "guard/policy_int.h"

/* A policy is a few KB; 4 MiB leaves room for a long inline license while
 * keeping a wrong --policy argument (a model file, say) from being slurped. */
#define POLICY_FILE_MAX (4u << 20)
/* license.text_file: licenses are tens of KB at most. */
#define POLICY_TEXT_FILE_MAX (1u << 20)
/* Caps on counts, so a generated or hostile file cannot make the server
 * allocate without bound; each is far above any real policy. */
#define POLICY_MAX_TIERS 64
#define POLICY_MAX_PROFILES 32
#define POLICY_MAX_RULES 64
#define POLICY_MAX_DOMAINS 256
#define POLICY_NAME_MAX 31          /* fits char[32] in the structs */
#define POLICY_LICENSE_NAME_MAX 200 /* one line on a page */
#define POLICY_DOMAIN_MAX 253       /* RFC 1035 */
#define POLICY_DELTA_MAX 100.0      /* a logit bias past this just forces green tokens */
#define POLICY_CONTEXT_MAX 8        /* previous tokens hashed into a green-list seed */
#define POLICY_MAX_TERMS 10000     /* per rule category */
#define POLICY_MAX_PATTERNS 256    /* per rule category */
#define POLICY_TERM_MAX 200        /* bytes; a phrase, not a paragraph */
#define POLICY_PATTERN_MAX 1000    /* bytes of PCRE2 source */
#define POLICY_TIMEOUT_MAX 600000  /* ms: a guard model slower than this is not a guard */
#define POLICY_Z_MAX 1000.0        /* far past any useful detector threshold */
#define PATH_CAP 192                /* a JSON path in a message; names in it are cut */

#define ALL_CAPS ((1u << POLICY_CAP_COUNT) - 1)

/* By bit index; NULL-terminated for messages that list them. */
const char *const policy_cap_names[POLICY_CAP_COUNT + 1] = {
	"chat", "completions", "logprobs", "embeddings", "moderations",
	"tokenize", "weights", "finetune", "admin", NULL,
};

/* OpenAI's moderation categories: the only names a profile may list, so a
 * misspelt category cannot quietly block nothing. */
static const char *const known_categories[] = {
	"harassment", "harassment/threatening", "hate", "hate/threatening",
	"illicit", "illicit/violent", "self-harm", "self-harm/instructions",
	"self-harm/intent", "sexual", "sexual/minors", "violence",
	"violence/graphic", NULL,
};

/* The fields of an access request (guard/access.h) a policy may require. */
static const char *const access_fields[] = {"name", "email", "affiliation", "intended_use", NULL};

/* Actions of a moderation detector by value (enum mod_action), and the PII
 * types by bit (moderation_int.h). */
const char *const policy_action_names[] = {"off", "flag", "redact", "block", NULL};
const char *const policy_pii_type_names[] = {"email", "phone", "card", "iban", "ssn", "ip", NULL};
#define PII_ALL 63u

static const char *const default_required[] = {"name", "email", "intended_use", NULL};

/* While one policy is being built. */
struct pctx {
	const char *source;   /* file name for messages; borrowed */
	const char *base_dir; /* resolves relative paths; borrowed */
	bool ints_as_real;    /* second pass after jansson refused an integer as too big */
	struct policy *p;     /* being filled; freed by the caller on error */
};

const char *policy_cap_name(unsigned cap)
{
	if (cap == 0 || (cap & (cap - 1)) != 0)
		return NULL;
	for (unsigned i = 0; i < POLICY_CAP_COUNT; i++)
		if (cap == 1u << i)
			return policy_cap_names[i];
	return NULL;
}

unsigned policy_cap_parse(const char *name)
{
	if (!name)
		return 0;
	for (unsigned i = 0; i < POLICY_CAP_COUNT; i++)
		if (strcmp(name, policy_cap_names[i]) == 0)
			return 1u << i;
	return 0;
}

/* ---- messages and paths ------------------------------------------------ */

static enum ajar_err perr(const struct pctx *c, const char *path, const char *fmt, ...) AJAR_PRINTF(3, 4);

/* "source: path: what", AJAR_ERR_INVALID. */
static enum ajar_err perr(const struct pctx *c, const char *path, const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return ajar_errf(AJAR_ERR_INVALID, "%s: %s: %s", c->source, path, what);
}

static enum ajar_err nomem(const struct pctx *c)
{
	return ajar_errf(AJAR_ERR_NOMEM, "%s: out of memory", c->source);
}

/* A name from the file made safe to quote in a one-line message: at most
 * 40 bytes, cut on a UTF-8 boundary, control bytes shown as '?'. */
static const char *shown(const char *s, char buf[static 48])
{
	size_t n = strlen(s), k = n > 40 ? 40 : n;

	while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	for (size_t i = 0; i < k; i++) {
		unsigned char ch = (unsigned char)s[i];
		buf[i] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
	}
	if (k < n) {
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k] = '\0';
	return buf;
}

/* dst = parent.key ("key" at the top level); the key is shown() so the
 * path stays one bounded line even for a junk key. */
static void path_key(char *dst, const char *parent, const char *key)
{
	char b[48];
	/* Cannot be cut in practice (names are shown() at 43 bytes and nesting is
	 * shallow); if it were, a cut path in a message would still do. */
	if (snprintf(dst, PATH_CAP, "%s%s%s", parent, *parent ? "." : "", shown(key, b)) >= PATH_CAP)
		dst[PATH_CAP - 1] = '\0';
}

static void path_index(char *dst, const char *parent, size_t i)
{
	if (snprintf(dst, PATH_CAP, "%s[%zu]", parent, i) >= PATH_CAP)
		dst[PATH_CAP - 1] = '\0';
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static void join_list(char *dst, size_t cap, const char *const *list)
{
	size_t at = 0;
	dst[0] = '\0';
	for (; *list && at < cap; list++) {
		int n = snprintf(dst + at, cap - at, "%s%s", at ? ", " : "", *list);
		if (n < 0)
			break;
		at += (size_t)n;
	}
}

/* Refuses the first member of obj not named in allowed. */
static enum ajar_err check_fields(const struct pctx *c, json_t *obj, const char *path,
				  const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		if (!in_list(key, allowed)) {
			char p[PATH_CAP], list[256];
			path_key(p, path, key);
			join_list(list, sizeof(list), allowed);
			return perr(c, p, "unknown field (expected one of: %s)", list);
		}
	}
	return AJAR_OK;
}

/* ---- typed getters ------------------------------------------------------ */

static void range_text(char *dst, size_t cap, int64_t min, int64_t max)
{
	if (max == INT64_MAX)
		snprintf(dst, cap, ">= %lld", (long long)min);
	else
		snprintf(dst, cap, "from %lld to %lld", (long long)min, (long long)max);
}

/* An integer in [min, max]. A real is never taken for an integer (20.0 is
 * refused), except in the second pass, where every number is a real. */
static enum ajar_err get_int(const struct pctx *c, json_t *v, const char *path, int64_t min, int64_t max,
			     int64_t *out)
{
	char range[64];
	int64_t x;

	range_text(range, sizeof(range), min, max);
	if (json_is_integer(v)) {
		x = json_integer_value(v);
	} else if (c->ints_as_real && json_is_real(v) && json_real_value(v) == floor(json_real_value(v))) {
		double d = json_real_value(v);
		/* 2^63 is exact in a double; anything at or past it overflows int64. */
		if (d >= 9223372036854775808.0 || d < -9223372036854775808.0)
			return perr(c, path, "integer too large (expected an integer %s)", range);
		x = (int64_t)d;
	} else {
		return perr(c, path, "expected an integer %s", range);
	}
	if (x < min || x > max)
		return perr(c, path, "expected an integer %s, got %lld", range, (long long)x);
	*out = x;
	return AJAR_OK;
}

/* A number (integer or real) with lo < x < hi, or lo <= x <= hi when closed. */
static enum ajar_err get_number(const struct pctx *c, json_t *v, const char *path, double lo, double hi,
				bool closed, double *out)
{
	double x;

	char range[64];

	snprintf(range, sizeof(range), closed ? "from %g to %g" : "strictly between %g and %g", lo, hi);
	if (!json_is_number(v))
		return perr(c, path, "expected a number %s", range);
	x = json_number_value(v);
	if (!isfinite(x) || (closed ? (x < lo || x > hi) : (x <= lo || x >= hi)))
		return perr(c, path, "expected a number %s, got %g", range, x);
	*out = x;
	return AJAR_OK;
}

static enum ajar_err get_bool(const struct pctx *c, json_t *v, const char *path, bool *out)
{
	if (!json_is_boolean(v))
		return perr(c, path, "expected true or false");
	*out = json_is_true(v);
	return AJAR_OK;
}

/* A string (borrowed from v). jansson has already refused invalid UTF-8
 * and \u0000, so only the content rules remain. */
static enum ajar_err get_str(const struct pctx *c, json_t *v, const char *path, const char **out)
{
	*out = "";
	if (!json_is_string(v))
		return perr(c, path, "expected a string");
	*out = json_string_value(v);
	return AJAR_OK;
}

/* A copy of a string field (caller frees); one-line ones refuse control
 * characters, since they end up in headers, logs and page titles. */
static enum ajar_err get_text(const struct pctx *c, json_t *v, const char *path, bool one_line, size_t max,
			      char **out)
{
	const char *s;
	enum ajar_err err = get_str(c, v, path, &s);

	if (err)
		return err;
	if (strlen(s) > max)
		return perr(c, path, "longer than %zu bytes", max);
	for (const char *q = s; one_line && *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7F)
			return perr(c, path, "control characters are not allowed here");
	*out = strdup(s);
	return *out ? AJAR_OK : nomem(c);
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > POLICY_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* A tier or profile name: 1-31 of [a-z0-9_-]. */
static enum ajar_err check_name(const struct pctx *c, const char *s, const char *path, const char *what)
{
	char b[48];
	if (!name_ok(s))
		return perr(c, path, "%s \"%s\": expected 1 to %d characters of a-z, 0-9, _ and -", what,
			    shown(s, b), POLICY_NAME_MAX);
	return AJAR_OK;
}

/* ---- files -------------------------------------------------------------- */

/* path resolved against base_dir unless absolute (caller frees). */
static enum ajar_err resolve_path(const struct pctx *c, const char *rel, const char *jpath, char **out)
{
	const char *base = c->base_dir ? c->base_dir : ".";
	size_t n;

	if (!*rel)
		return perr(c, jpath, "expected a non-empty file path");
	if (rel[0] == '/') {
		*out = strdup(rel);
		return *out ? AJAR_OK : nomem(c);
	}
	n = strlen(base) + 1 + strlen(rel) + 1;
	*out = malloc(n);
	if (!*out)
		return nomem(c);
	snprintf(*out, n, "%s/%s", base, rel);
	return AJAR_OK;
}

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
 * Returns the offset of the first bad byte, or n if all is well. */
static size_t utf8_check(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char b = s[i];
		size_t len;
		uint32_t cp;
		if (b < 0x80) {
			i++;
			continue;
		} else if (b >= 0xC2 && b <= 0xDF) {
			len = 2, cp = b & 0x1F;
		} else if (b >= 0xE0 && b <= 0xEF) {
			len = 3, cp = b & 0x0F;
		} else if (b >= 0xF0 && b <= 0xF4) {
			len = 4, cp = b & 0x07;
		} else {
			return i;
		}
		if (n - i < len)
			return i;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			return i;
		i += len;
	}
	return n;
}

/* The whole of a file of at most cap bytes, NUL-terminated (caller frees).
 * Errors name `what` (the file, or the JSON path that named it). */
static enum ajar_err read_file(const char *path, size_t cap, const char *what, char **out, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;
	enum ajar_err err = AJAR_OK;

	if (!fp)
		return ajar_errf(AJAR_ERR_IO, "%s: %s", what, strerror(errno));
	buf = malloc(cap + 1);
	if (!buf) {
		err = ajar_errf(AJAR_ERR_NOMEM, "%s: out of memory", what);
		goto out;
	}
	/* Read one byte past the cap: getting it means the file is too big. */
	n = fread(buf, 1, cap + 1, fp);
	if (ferror(fp)) {
		err = ajar_errf(AJAR_ERR_IO, "%s: read failed", what);
		goto out;
	}
	if (n > cap) {
		err = ajar_errf(AJAR_ERR_LIMIT, "%s: larger than %zu bytes", what, cap);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	fclose(fp);
	return err;
}

/* A text file named by the policy: valid UTF-8 without NUL bytes. */
static enum ajar_err read_text_file(const struct pctx *c, const char *rel, const char *jpath, char **out)
{
	char *path = NULL, *text = NULL, what[PATH_CAP + 600];
	size_t len = 0, bad;
	enum ajar_err err = resolve_path(c, rel, jpath, &path);

	if (err)
		return err;
	snprintf(what, sizeof(what), "%s: %s: %s", c->source, jpath, path);
	err = read_file(path, POLICY_TEXT_FILE_MAX, what, &text, &len);
	if (err)
		goto out;
	if (memchr(text, '\0', len)) {
		err = ajar_errf(AJAR_ERR_INVALID, "%s: contains a NUL byte", what);
		goto out;
	}
	bad = utf8_check((const unsigned char *)text, len);
	if (bad != len) {
		err = ajar_errf(AJAR_ERR_INVALID, "%s: not valid UTF-8 (byte %zu)", what, bad);
		goto out;
	}
	*out = text;
	text = NULL;
out:
	free(text);
	free(path);
	return err;
}

static bool all_blank(const char *text, size_t len);

/* ---- sections ------------------------------------------------------------ */

static const struct policy_moderation_profile *find_profile(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_profiles; i++)
		if (strcmp(p->profiles[i].name, name) == 0)
			return &p->profiles[i];
	return NULL;
}

const struct policy_moderation_profile *policy_profile(const struct policy *p, const char *name)
{
	return p && name ? find_profile(p, name) : NULL;
}

static enum ajar_err parse_categories(const struct pctx *c, json_t *v, const char *path,
				      struct policy_moderation_profile *mp)
{
	size_t i;
	json_t *item;
	char ip[PATH_CAP], b[48], list[320];

	if (!json_is_array(v))
		return perr(c, path, "expected an array of category names");
	mp->categories = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!mp->categories)
		return nomem(c);
	json_array_foreach(v, i, item) {
		const char *s;
		path_index(ip, path, i);
		enum ajar_err err = get_str(c, item, ip, &s);
		if (err)
			return err;
		if (!in_list(s, known_categories)) {
			join_list(list, sizeof(list), known_categories);
			return perr(c, ip, "unknown category \"%s\" (known: %s)", shown(s, b), list);
		}
		for (size_t k = 0; k < mp->n_categories; k++)
			if (strcmp(mp->categories[k], s) == 0)
				return perr(c, ip, "category \"%s\" listed twice", s);
		mp->categories[mp->n_categories] = strdup(s);
		if (!mp->categories[mp->n_categories])
			return nomem(c);
		mp->n_categories++;
	}
	return AJAR_OK;
}

/* A string from names (policy_action_names, ...): its index in *out. */
static enum ajar_err get_choice(const struct pctx *c, json_t *v, const char *path, const char *const *names,
				const char *const *allowed, int *out)
{
	const char *s;
	char b[48], list[160];
	enum ajar_err err = get_str(c, v, path, &s);

	if (err)
		return err;
	if (in_list(s, allowed))
		for (int i = 0; names[i]; i++)
			if (strcmp(s, names[i]) == 0) {
				*out = i;
				return AJAR_OK;
			}
	join_list(list, sizeof(list), allowed);
	return perr(c, path, "expected one of: %s, got \"%s\"", list, shown(s, b));
}

/* An array of strings at most max bytes each (one line, not blank),
 * copied into *out. */
static enum ajar_err get_string_list(const struct pctx *c, json_t *v, const char *path, size_t cap, size_t max,
				     char ***out, size_t *n)
{
	size_t i;
	json_t *item;
	char ip[PATH_CAP];
	enum ajar_err err;

	if (!json_is_array(v))
		return perr(c, path, "expected an array of strings");
	if (json_array_size(v) > cap)
		return perr(c, path, "more than %zu entries", cap);
	if (!(*out = calloc(json_array_size(v) + 1, sizeof(char *))))
		return nomem(c);
	json_array_foreach(v, i, item) {
		path_index(ip, path, i);
		if ((err = get_text(c, item, ip, true, max, &(*out)[i])))
			return err;
		(*n)++;
		if (all_blank((*out)[i], strlen((*out)[i])))
			return perr(c, ip, "expected a non-blank string");
	}
	return AJAR_OK;
}

/* Each pattern must compile the way the moderator compiles it. */
static enum ajar_err check_patterns(const struct pctx *c, const struct policy_rule_category *rc, const char *path)
{
	for (size_t i = 0; i < rc->n_patterns; i++) {
		int code;
		PCRE2_SIZE at;
		char ip[PATH_CAP];
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)rc->patterns[i], PCRE2_ZERO_TERMINATED,
					       PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &code, &at, NULL);
		if (!re) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(code, msg, sizeof(msg));
			path_index(ip, path, i);
			return perr(c, ip, "pattern does not compile (PCRE2, at offset %zu): %s", (size_t)at,
				    (const char *)msg);
		}
		pcre2_code_free(re);
	}
	return AJAR_OK;
}

/* moderation.rules: {category: {"terms": [...], "patterns": [...]}}. */
static enum ajar_err parse_rules(const struct pctx *c, json_t *v)
{
	static const char *const fields[] = {"terms", "patterns", NULL};
	struct policy *p = c->p;
	const char *name;
	json_t *cv, *f;
	char b[48], list[320];
	enum ajar_err err;

	if (!v)
		return AJAR_OK;
	if (!json_is_object(v))
		return perr(c, "moderation.rules", "expected an object of rule categories by name");
	if (!(p->rule_categories = calloc(json_object_size(v) + 1, sizeof(*p->rule_categories))))
		return nomem(c);
	json_object_foreach(v, name, cv) {
		char path[PATH_CAP], fp[PATH_CAP];
		struct policy_rule_category *rc = &p->rule_categories[p->n_rule_categories];
		path_key(path, "moderation.rules", name);
		if (!in_list(name, known_categories)) {
			join_list(list, sizeof(list), known_categories);
			return perr(c, path, "unknown category \"%s\" (known: %s)", shown(name, b), list);
		}
		if (!json_is_object(cv))
			return perr(c, path, "expected an object");
		if ((err = check_fields(c, cv, path, fields)))
			return err;
		snprintf(rc->name, sizeof(rc->name), "%s", name);
		p->n_rule_categories++;
		path_key(fp, path, "terms");
		if ((f = json_object_get(cv, "terms")) &&
		    (err = get_string_list(c, f, fp, POLICY_MAX_TERMS, POLICY_TERM_MAX, &rc->terms, &rc->n_terms)))
			return err;
		path_key(fp, path, "patterns");
		if ((f = json_object_get(cv, "patterns")) &&
		    ((err = get_string_list(c, f, fp, POLICY_MAX_PATTERNS, POLICY_PATTERN_MAX, &rc->patterns,
					    &rc->n_patterns)) ||
		     (err = check_patterns(c, rc, fp))))
			return err;
	}
	return AJAR_OK;
}

/* A profile's "pii": {"action", "types"}. */
static enum ajar_err parse_pii(const struct pctx *c, json_t *v, const char *path, struct policy_moderation_profile *mp)
{
	static const char *const fields[] = {"action", "types", NULL};
	char fp[PATH_CAP], ip[PATH_CAP], b[48], list[160];
	json_t *f, *item;
	size_t i;
	enum ajar_err err;

	if (!json_is_object(v))
		return perr(c, path, "expected an object");
	if ((err = check_fields(c, v, path, fields)))
		return err;
	path_key(fp, path, "action");
	if ((f = json_object_get(v, "action")) &&
	    (err = get_choice(c, f, fp, policy_action_names, policy_action_names, &mp->pii_action)))
		return err;
	path_key(fp, path, "types");
	if (!(f = json_object_get(v, "types")))
		return AJAR_OK;
	if (!json_is_array(f))
		return perr(c, fp, "expected an array of PII types");
	mp->pii_types = 0;
	json_array_foreach(f, i, item) {
		int t = -1;
		const char *s;
		path_index(ip, fp, i);
		if ((err = get_str(c, item, ip, &s)))
			return err;
		for (int k = 0; policy_pii_type_names[k]; k++)
			if (strcmp(s, policy_pii_type_names[k]) == 0)
				t = k;
		if (t < 0) {
			join_list(list, sizeof(list), policy_pii_type_names);
			return perr(c, ip, "unknown PII type \"%s\" (known: %s)", shown(s, b), list);
		}
		if (mp->pii_types & (1u << t))
			return perr(c, ip, "PII type \"%s\" listed twice", s);
		mp->pii_types |= 1u << t;
	}
	return AJAR_OK;
}

/* A profile's "classifier": {"model", "action", "on_failure", "timeout_ms"}. */
static enum ajar_err parse_classifier(const struct pctx *c, json_t *v, const char *path,
				      struct policy_moderation_profile *mp)
{
	static const char *const fields[] = {"model", "action", "on_failure", "timeout_ms", NULL};
	static const char *const verdicts[] = {"flag", "block", NULL};
	char fp[PATH_CAP];
	const char *s;
	json_t *f;
	int64_t x;
	enum ajar_err err;

	if (json_is_null(v))
		return AJAR_OK;
	if (!json_is_object(v))
		return perr(c, path, "expected an object (or null for none)");
	if ((err = check_fields(c, v, path, fields)))
		return err;
	path_key(fp, path, "model");
	if (!(f = json_object_get(v, "model")))
		return perr(c, fp, "missing (required: the guard model's GGUF file)");
	if ((err = get_str(c, f, fp, &s)) || (err = resolve_path(c, s, fp, &mp->classifier_model)))
		return err;
	path_key(fp, path, "action");
	if ((f = json_object_get(v, "action")) &&
	    (err = get_choice(c, f, fp, policy_action_names, verdicts, &mp->classifier_action)))
		return err;
	path_key(fp, path, "on_failure");
	if ((f = json_object_get(v, "on_failure")) &&
	    (err = get_choice(c, f, fp, policy_action_names, verdicts, &mp->classifier_on_failure)))
		return err;
	path_key(fp, path, "timeout_ms");
	if ((f = json_object_get(v, "timeout_ms"))) {
		if ((err = get_int(c, f, fp, 1, POLICY_TIMEOUT_MAX, &x)))
			return err;
		mp->classifier_timeout_ms = (int)x;
	}
	return AJAR_OK;
}

/* One profile; path is "moderation.profiles.NAME". */
static enum ajar_err parse_profile(const struct pctx *c, json_t *pv, const char *path,
				   struct policy_moderation_profile *mp)
{
	static const char *const fields[] = {"categories", "rules", "pii", "classifier", NULL};
	char fp[PATH_CAP];
	json_t *f;
	enum ajar_err err;

	if (!json_is_object(pv))
		return perr(c, path, "expected an object");
	if ((err = check_fields(c, pv, path, fields)))
		return err;
	mp->pii_types = PII_ALL;
	mp->classifier_action = 3;
	mp->classifier_on_failure = 3; /* fail closed */
	mp->classifier_timeout_ms = 10000;
	path_key(fp, path, "categories");
	if (!json_object_get(pv, "categories"))
		return perr(c, fp, "missing (required)");
	if ((err = parse_categories(c, json_object_get(pv, "categories"), fp, mp)))
		return err;
	mp->rules_action = mp->n_categories ? 3 : 0;
	path_key(fp, path, "rules");
	if ((f = json_object_get(pv, "rules")) &&
	    (err = get_choice(c, f, fp, policy_action_names, policy_action_names, &mp->rules_action)))
		return err;
	path_key(fp, path, "pii");
	if ((f = json_object_get(pv, "pii")) && (err = parse_pii(c, f, fp, mp)))
		return err;
	path_key(fp, path, "classifier");
	if ((f = json_object_get(pv, "classifier")) && (err = parse_classifier(c, f, fp, mp)))
		return err;
	return AJAR_OK;
}

/* moderation: {"rules": {...}, "profiles": {name: {...}}}; "none" first. */
static enum ajar_err parse_moderation(const struct pctx *c, json_t *v)
{
	static const char *const top[] = {"profiles", "rules", NULL};
	struct policy *p = c->p;
	json_t *profiles = v ? json_object_get(v, "profiles") : NULL, *pv;
	const char *name;
	enum ajar_err err;

	if (v && !json_is_object(v))
		return perr(c, "moderation", "expected an object");
	if (v && (err = check_fields(c, v, "moderation", top)))
		return err;
	if (v && (err = parse_rules(c, json_object_get(v, "rules"))))
		return err;
	if (profiles && !json_is_object(profiles))
		return perr(c, "moderation.profiles", "expected an object of profiles by name");
	if (profiles && json_object_size(profiles) > POLICY_MAX_PROFILES - 1)
		return perr(c, "moderation.profiles", "more than %d profiles", POLICY_MAX_PROFILES - 1);
	p->profiles = calloc(1 + (profiles ? json_object_size(profiles) : 0), sizeof(*p->profiles));
	if (!p->profiles)
		return nomem(c);
	snprintf(p->profiles[0].name, sizeof(p->profiles[0].name), "none");
	p->profiles[0].pii_types = PII_ALL;
	p->n_profiles = 1;
	if (!profiles)
		return AJAR_OK;
	json_object_foreach(profiles, name, pv) {
		char path[PATH_CAP];
		struct policy_moderation_profile *mp = &p->profiles[p->n_profiles];
		path_key(path, "moderation.profiles", name);
		if ((err = check_name(c, name, "moderation.profiles", "profile name")))
			return err;
		if (strcmp(name, "none") == 0)
			return perr(c, path, "\"none\" is built in (it blocks nothing) and cannot be defined");
		snprintf(mp->name, sizeof(mp->name), "%s", name);
		/* counted first so policy_free releases a half-read profile */
		p->n_profiles++;
		if ((err = parse_profile(c, pv, path, mp)))
			return err;
	}
	return AJAR_OK;
}

static enum ajar_err parse_caps(const struct pctx *c, json_t *v, const char *path, unsigned *caps)
{
	size_t i;
	json_t *item;
	char ip[PATH_CAP], b[48], list[160];

	if (!json_is_array(v))
		return perr(c, path, "expected an array of capability names");
	*caps = 0;
	json_array_foreach(v, i, item) {
		const char *s;
		unsigned bit;
		path_index(ip, path, i);
		enum ajar_err err = get_str(c, item, ip, &s);
		if (err)
			return err;
		bit = policy_cap_parse(s);
		if (bit == CAP_ADMIN)
			return perr(c, ip, "\"admin\" cannot be granted in a policy file (only the built-in admin tier has it)");
		if (!bit) {
			join_list(list, sizeof(list), policy_cap_names);
			/* cut ", admin" off the end: it is not grantable */
			char *tail = strstr(list, ", admin");
			if (tail)
				*tail = '\0';
			return perr(c, ip, "unknown capability \"%s\" (known: %s)", shown(s, b), list);
		}
		if (*caps & bit)
			return perr(c, ip, "capability \"%s\" listed twice", s);
		*caps |= bit;
	}
	return AJAR_OK;
}

static enum ajar_err parse_rate_limits(const struct pctx *c, json_t *v, const char *path, struct policy_tier *t)
{
	static const char *const fields[] = {"requests_per_minute", "tokens_per_minute", "tokens_per_day", NULL};
	int64_t *dst[] = {&t->requests_per_minute, &t->tokens_per_minute, &t->tokens_per_day};
	enum ajar_err err;

	if (!json_is_object(v))
		return perr(c, path, "expected an object");
	if ((err = check_fields(c, v, path, fields)))
		return err;
	for (size_t i = 0; i < 3; i++) {
		json_t *f = json_object_get(v, fields[i]);
		char fp[PATH_CAP];
		path_key(fp, path, fields[i]);
		if (f && (err = get_int(c, f, fp, 0, INT64_MAX, dst[i])))
			return err;
	}
	return AJAR_OK;
}

/* One tier; path is "tiers.NAME". Absent limits are 0 (no limit). */
static enum ajar_err parse_tier(const struct pctx *c, json_t *v, const char *path, struct policy_tier *t)
{
	static const char *const fields[] = {"capabilities", "max_tokens", "max_context", "rate_limits",
					     "moderation", "watermark", NULL};
	char fp[PATH_CAP], b[48], list[256];
	json_t *f;
	int64_t x;
	enum ajar_err err;

	if (!json_is_object(v))
		return perr(c, path, "expected an object");
	if ((err = check_fields(c, v, path, fields)))
		return err;
	path_key(fp, path, "capabilities");
	if (!(f = json_object_get(v, "capabilities")))
		return perr(c, fp, "missing (required; [] for a tier that may do nothing)");
	if ((err = parse_caps(c, f, fp, &t->caps)))
		return err;
	path_key(fp, path, "max_tokens");
	if ((f = json_object_get(v, "max_tokens")) && (err = get_int(c, f, fp, 0, INT32_MAX, &x)))
		return err;
	t->max_tokens = f ? (int32_t)x : 0;
	path_key(fp, path, "max_context");
	if ((f = json_object_get(v, "max_context")) && (err = get_int(c, f, fp, 0, INT32_MAX, &x)))
		return err;
	t->max_context = f ? (int32_t)x : 0;
	path_key(fp, path, "rate_limits");
	if ((f = json_object_get(v, "rate_limits")) && (err = parse_rate_limits(c, f, fp, t)))
		return err;
	snprintf(t->moderation, sizeof(t->moderation), "none");
	path_key(fp, path, "moderation");
	if ((f = json_object_get(v, "moderation"))) {
		const char *s;
		if ((err = get_str(c, f, fp, &s)))
			return err;
		if (!find_profile(c->p, s)) {
			size_t at = 0;
			list[0] = '\0';
			for (size_t i = 0; i < c->p->n_profiles && at < sizeof(list); i++)
				at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "",
						       c->p->profiles[i].name);
			return perr(c, fp, "unknown moderation profile \"%s\" (defined: %s)", shown(s, b), list);
		}
		snprintf(t->moderation, sizeof(t->moderation), "%s", s);
	}
	path_key(fp, path, "watermark");
	if ((f = json_object_get(v, "watermark")) && (err = get_bool(c, f, fp, &t->watermark)))
		return err;
	return AJAR_OK;
}

/* tiers: {name: tier, ...} in file order, then the built-in admin. */
static enum ajar_err parse_tiers(const struct pctx *c, json_t *v)
{
	struct policy *p = c->p;
	const char *name;
	json_t *tv;
	enum ajar_err err;

	if (!v)
		return perr(c, "tiers", "missing (required)");
	if (!json_is_object(v))
		return perr(c, "tiers", "expected an object of tiers by name");
	if (json_object_size(v) > POLICY_MAX_TIERS)
		return perr(c, "tiers", "more than %d tiers", POLICY_MAX_TIERS);
	p->tiers = calloc(json_object_size(v) + 1, sizeof(*p->tiers));
	if (!p->tiers)
		return nomem(c);
	json_object_foreach(v, name, tv) {
		char path[PATH_CAP];
		struct policy_tier *t = &p->tiers[p->n_tiers];
		if ((err = check_name(c, name, "tiers", "tier name")))
			return err;
		path_key(path, "tiers", name);
		if (strcmp(name, "admin") == 0)
			return perr(c, path, "\"admin\" is the built-in administrator tier and cannot be defined");
		snprintf(t->name, sizeof(t->name), "%s", name);
		p->n_tiers++;
		if ((err = parse_tier(c, tv, path, t)))
			return err;
	}
	/* Every policy has the same admin: everything, unmetered, unfiltered,
	 * so an operator cannot lock themselves out with a tight file. */
	struct policy_tier *admin = &p->tiers[p->n_tiers++];
	snprintf(admin->name, sizeof(admin->name), "admin");
	admin->caps = ALL_CAPS;
	snprintf(admin->moderation, sizeof(admin->moderation), "none");
	admin->watermark = false;
	return AJAR_OK;
}

/* A tier named by another section: defined in the file, not admin. */
static enum ajar_err check_tier_ref(const struct pctx *c, json_t *v, const char *path, char out[32])
{
	const char *s;
	char b[48];
	enum ajar_err err = get_str(c, v, path, &s);

	if (err)
		return err;
	if (strcmp(s, "admin") == 0)
		return perr(c, path, "the admin tier cannot be given this way");
	if (!policy_tier(c->p, s))
		return perr(c, path, "unknown tier \"%s\"", shown(s, b));
	snprintf(out, 32, "%s", s);
	return AJAR_OK;
}

/* A domain as applicants' emails end: lowercased labels of [a-z0-9-]. */
static enum ajar_err parse_domain(const struct pctx *c, json_t *v, const char *path, char **out)
{
	const char *s;
	char b[48], *d;
	size_t n, label = 0;
	enum ajar_err err = get_str(c, v, path, &s);

	if (err)
		return err;
	n = strlen(s);
	if (n == 0 || n > POLICY_DOMAIN_MAX)
		return perr(c, path, "expected a domain name of 1 to %d characters", POLICY_DOMAIN_MAX);
	if (!(d = strdup(s)))
		return nomem(c);
	for (size_t i = 0; i <= n; i++) {
		char ch = d[i];
		if (ch >= 'A' && ch <= 'Z')
			d[i] = ch = (char)(ch - 'A' + 'a');
		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || d[i - 1] == '-' || d[i - label] == '-')
				break;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-') {
			label++;
		} else {
			break;
		}
		if (ch == '\0') {
			*out = d;
			return AJAR_OK;
		}
	}
	free(d);
	return perr(c, path, "\"%s\" is not a domain name (like \"example.edu\", without \"@\")", shown(s, b));
}

static enum ajar_err parse_rule(const struct pctx *c, json_t *v, const char *path, struct policy_auto_rule *r)
{
	static const char *const fields[] = {"tier", "any_email", "email_domains", NULL};
	char fp[PATH_CAP], ip[PATH_CAP];
	json_t *f, *item;
	size_t i;
	enum ajar_err err;

	if (!json_is_object(v))
		return perr(c, path, "expected an object");
	if ((err = check_fields(c, v, path, fields)))
		return err;
	path_key(fp, path, "tier");
	if (!(f = json_object_get(v, "tier")))
		return perr(c, fp, "missing (required)");
	if ((err = check_tier_ref(c, f, fp, r->tier)))
		return err;
	path_key(fp, path, "any_email");
	if ((f = json_object_get(v, "any_email")) && (err = get_bool(c, f, fp, &r->any_email)))
		return err;
	path_key(fp, path, "email_domains");
	if ((f = json_object_get(v, "email_domains"))) {
		if (!json_is_array(f))
			return perr(c, fp, "expected an array of domain names");
		if (json_array_size(f) > POLICY_MAX_DOMAINS)
			return perr(c, fp, "more than %d domains", POLICY_MAX_DOMAINS);
		if (!(r->email_domains = calloc(json_array_size(f) + 1, sizeof(char *))))
			return nomem(c);
		json_array_foreach(f, i, item) {
			path_index(ip, fp, i);
			if ((err = parse_domain(c, item, ip, &r->email_domains[r->n_email_domains])))
				return err;
			r->n_email_domains++;
			for (size_t k = 0; k + 1 < r->n_email_domains; k++)
				if (strcmp(r->email_domains[k], r->email_domains[r->n_email_domains - 1]) == 0)
					return perr(c, ip, "domain listed twice");
		}
	}
	/* A rule that can never match, or whose domains would never matter, is
	 * almost surely a mistake in what the operator meant to allow. */
	if (!r->any_email && r->n_email_domains == 0)
		return perr(c, path, "a rule needs \"any_email\": true or a non-empty \"email_domains\"");
	if (r->any_email && r->n_email_domains > 0)
		return perr(c, path, "\"any_email\": true with \"email_domains\": the domains would have no effect");
	return AJAR_OK;
}

static enum ajar_err parse_required(const struct pctx *c, json_t *v, const char *path)
{
	struct policy *p = c->p;
	size_t i;
	json_t *item;
	char ip[PATH_CAP], b[48], list[128];
	enum ajar_err err;

	if (!json_is_array(v))
		return perr(c, path, "expected an array of field names");
	if (!(p->access_required = calloc(json_array_size(v) + 1, sizeof(char *))))
		return nomem(c);
	json_array_foreach(v, i, item) {
		const char *s;
		path_index(ip, path, i);
		if ((err = get_str(c, item, ip, &s)))
			return err;
		if (!in_list(s, access_fields)) {
			join_list(list, sizeof(list), access_fields);
			return perr(c, ip, "unknown field \"%s\" (known: %s)", shown(s, b), list);
		}
		for (size_t k = 0; k < p->n_access_required; k++)
			if (strcmp(p->access_required[k], s) == 0)
				return perr(c, ip, "\"%s\" listed twice", s);
		if (!(p->access_required[p->n_access_required] = strdup(s)))
			return nomem(c);
		p->n_access_required++;
	}
	return AJAR_OK;
}

/* access_requests: required fields, default tier, auto-approval rules. */
static enum ajar_err parse_access(const struct pctx *c, json_t *v)
{
	static const char *const fields[] = {"required_fields", "default_tier", "auto_approve", NULL};
	struct policy *p = c->p;
	json_t *f, *item;
	size_t i;
	char ip[PATH_CAP];
	enum ajar_err err;

	if (v && !json_is_object(v))
		return perr(c, "access_requests", "expected an object");
	if (v && (err = check_fields(c, v, "access_requests", fields)))
		return err;
	if (v && (f = json_object_get(v, "required_fields"))) {
		if ((err = parse_required(c, f, "access_requests.required_fields")))
			return err;
	} else {
		json_t *def = json_array();
		for (i = 0; def && default_required[i]; i++)
			json_array_append_new(def, json_string(default_required[i]));
		err = def ? parse_required(c, def, "access_requests.required_fields") : nomem(c);
		json_decref(def);
		if (err)
			return err;
	}
	if (v && (f = json_object_get(v, "default_tier")) &&
	    (err = check_tier_ref(c, f, "access_requests.default_tier", p->access_default_tier)))
		return err;
	if (!v || !(f = json_object_get(v, "auto_approve")))
		return AJAR_OK;
	if (!json_is_array(f))
		return perr(c, "access_requests.auto_approve", "expected an array of rules");
	if (json_array_size(f) > POLICY_MAX_RULES)
		return perr(c, "access_requests.auto_approve", "more than %d rules", POLICY_MAX_RULES);
	if (!(p->auto_rules = calloc(json_array_size(f) + 1, sizeof(*p->auto_rules))))
		return nomem(c);
	json_array_foreach(f, i, item) {
		path_index(ip, "access_requests.auto_approve", i);
		/* counted first so policy_free releases a half-read rule */
		p->n_auto_rules++;
		if ((err = parse_rule(c, item, ip, &p->auto_rules[i])))
			return err;
	}
	return AJAR_OK;
}

/* license: {"name", "text"} or {"name", "text_file"}; absent = no license. */
static enum ajar_err parse_license(const struct pctx *c, json_t *v)
{
	static const char *const fields[] = {"name", "text", "text_file", NULL};
	struct policy *p = c->p;
	json_t *text, *file, *name;
	const char *rel;
	enum ajar_err err;

	if (!v) {
		p->license_name = strdup("");
		p->license_text = strdup("");
		return p->license_name && p->license_text ? AJAR_OK : nomem(c);
	}
	if (!json_is_object(v))
		return perr(c, "license", "expected an object");
	if ((err = check_fields(c, v, "license", fields)))
		return err;
	if (!(name = json_object_get(v, "name")))
		return perr(c, "license.name", "missing (required)");
	if ((err = get_text(c, name, "license.name", true, POLICY_LICENSE_NAME_MAX, &p->license_name)))
		return err;
	if (!*p->license_name)
		return perr(c, "license.name", "expected a non-empty name");
	text = json_object_get(v, "text");
	file = json_object_get(v, "text_file");
	if (text && file)
		return perr(c, "license", "give \"text\" or \"text_file\", not both");
	if (!text && !file)
		return perr(c, "license.text", "missing (give \"text\" or \"text_file\")");
	if (text)
		return get_text(c, text, "license.text", false, POLICY_FILE_MAX, &p->license_text);
	if ((err = get_str(c, file, "license.text_file", &rel)))
		return err;
	return read_text_file(c, rel, "license.text_file", &p->license_text);
}

static enum ajar_err parse_retention(const struct pctx *c, json_t *v)
{
	static const char *const fields[] = {"content", NULL};
	json_t *f;
	const char *s;
	char b[48];
	enum ajar_err err;

	c->p->retain_content = false;
	if (!v)
		return AJAR_OK;
	if (!json_is_object(v))
		return perr(c, "retention", "expected an object");
	if ((err = check_fields(c, v, "retention", fields)))
		return err;
	if (!(f = json_object_get(v, "content")))
		return AJAR_OK;
	if ((err = get_str(c, f, "retention.content", &s)))
		return err;
	if (strcmp(s, "digest") != 0 && strcmp(s, "full") != 0)
		return perr(c, "retention.content", "expected \"digest\" or \"full\", got \"%s\"", shown(s, b));
	c->p->retain_content = strcmp(s, "full") == 0;
	return AJAR_OK;
}

static enum ajar_err parse_watermark(const struct pctx *c, json_t *v)
{
	static const char *const fields[] = {"scheme", "gamma", "delta", "context", "hash", "z_threshold",
					     "key_file", NULL};
	static const char *const hashes[] = {"left", "self", NULL};
	struct policy *p = c->p;
	json_t *f;
	const char *s;
	char b[48];
	int64_t x;
	enum ajar_err err;

	snprintf(p->watermark_scheme, sizeof(p->watermark_scheme), "green-list");
	p->watermark_gamma = 0.25;
	p->watermark_delta = 2.0;
	p->watermark_context = 1;
	p->watermark_hash = 0;
	p->watermark_z_threshold = 4.0;
	if (!v)
		return AJAR_OK;
	if (!json_is_object(v))
		return perr(c, "watermark", "expected an object");
	if ((err = check_fields(c, v, "watermark", fields)))
		return err;
	if ((f = json_object_get(v, "scheme"))) {
		if ((err = get_str(c, f, "watermark.scheme", &s)))
			return err;
		if (strcmp(s, "green-list") != 0)
			return perr(c, "watermark.scheme", "unknown scheme \"%s\" (known: green-list)", shown(s, b));
	}
	if ((f = json_object_get(v, "gamma")) &&
	    (err = get_number(c, f, "watermark.gamma", 0.0, 1.0, false, &p->watermark_gamma)))
		return err;
	if ((f = json_object_get(v, "delta")) &&
	    (err = get_number(c, f, "watermark.delta", 0.0, POLICY_DELTA_MAX, true, &p->watermark_delta)))
		return err;
	if ((f = json_object_get(v, "context"))) {
		if ((err = get_int(c, f, "watermark.context", 1, POLICY_CONTEXT_MAX, &x)))
			return err;
		p->watermark_context = (int)x;
	}
	if ((f = json_object_get(v, "hash")) &&
	    (err = get_choice(c, f, "watermark.hash", hashes, hashes, &p->watermark_hash)))
		return err;
	if ((f = json_object_get(v, "z_threshold")) &&
	    (err = get_number(c, f, "watermark.z_threshold", 0.0, POLICY_Z_MAX, false, &p->watermark_z_threshold)))
		return err;
	if ((f = json_object_get(v, "key_file")) && !json_is_null(f)) {
		if ((err = get_str(c, f, "watermark.key_file", &s)))
			return err;
		return resolve_path(c, s, "watermark.key_file", &p->watermark_key_file);
	}
	return AJAR_OK;
}

/* acceptable_use, model_card, anonymous_tier: the small fields. */
static enum ajar_err parse_small(const struct pctx *c, json_t *root)
{
	struct policy *p = c->p;
	json_t *f;
	const char *s;
	enum ajar_err err;

	if ((f = json_object_get(root, "acceptable_use"))) {
		if ((err = get_text(c, f, "acceptable_use", false, POLICY_FILE_MAX, &p->acceptable_use)))
			return err;
	} else if (!(p->acceptable_use = strdup(""))) {
		return nomem(c);
	}
	if ((f = json_object_get(root, "model_card")) && !json_is_null(f)) {
		if ((err = get_str(c, f, "model_card", &s)))
			return err;
		if ((err = resolve_path(c, s, "model_card", &p->card_path)))
			return err;
	}
	if ((f = json_object_get(root, "anonymous_tier")) && !json_is_null(f) &&
	    (err = check_tier_ref(c, f, "anonymous_tier", p->anonymous_tier)))
		return err;
	return AJAR_OK;
}

/* The whole document into a new policy (*out; caller frees). */
static enum ajar_err policy_build(json_t *root, struct pctx *c, struct policy **out)
{
	static const char *const fields[] = {"version", "license", "acceptable_use", "model_card",
					     "anonymous_tier", "tiers", "access_requests", "retention",
					     "moderation", "watermark", NULL};
	struct policy *p;
	json_t *f;
	int64_t version;
	enum ajar_err err;

	if (!json_is_object(root))
		return perr(c, "(top level)", "expected a JSON object");
	if (!(p = calloc(1, sizeof(*p))))
		return nomem(c);
	c->p = p;
	if (!(p->source = strdup(c->source))) {
		err = nomem(c);
		goto out;
	}
	if ((err = check_fields(c, root, "", fields)))
		goto out;
	if (!(f = json_object_get(root, "version"))) {
		err = perr(c, "version", "missing (required; this format is version 1)");
		goto out;
	}
	if ((err = get_int(c, f, "version", 1, 1, &version)))
		goto out;
	if ((err = parse_moderation(c, json_object_get(root, "moderation"))) ||
	    (err = parse_tiers(c, json_object_get(root, "tiers"))) ||
	    (err = parse_small(c, root)) ||
	    (err = parse_access(c, json_object_get(root, "access_requests"))) ||
	    (err = parse_license(c, json_object_get(root, "license"))) ||
	    (err = parse_retention(c, json_object_get(root, "retention"))) ||
	    (err = parse_watermark(c, json_object_get(root, "watermark"))))
		goto out;
	/* Before hashing: a text of any length is hashed in one call. */
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(digest, (const unsigned char *)p->license_text, strlen(p->license_text));
	sodium_bin2hex(p->license_sha256, sizeof(p->license_sha256), digest, sizeof(digest));
	*out = p;
	return AJAR_OK;
out:
	policy_free(p);
	return err;
}

static bool all_blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
			return false;
	return true;
}

enum ajar_err policy_parse(const char *text, size_t len, const char *source, const char *base_dir,
			   struct policy **out)
{
	struct pctx c = {.source = source ? source : "policy", .base_dir = base_dir};
	json_error_t je;
	json_t *root;
	enum ajar_err err;

	*out = NULL;
	if (!text && len)
		return ajar_errf(AJAR_ERR_INVALID, "%s: no text", c.source);
	if (sodium_init() < 0)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "%s: libsodium failed to initialise", c.source);
	if (len > POLICY_FILE_MAX)
		return ajar_errf(AJAR_ERR_LIMIT, "%s: larger than %u bytes", c.source, POLICY_FILE_MAX);
	if (!text || all_blank(text, len))
		return ajar_errf(AJAR_ERR_FORMAT, "%s: line 1, column 1: empty file (expected a JSON object)", c.source);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root) {
		err = policy_build(root, &c, out);
		json_decref(root);
		return err;
	}
	err = ajar_errf(AJAR_ERR_FORMAT, "%s: line %d, column %d: %s", c.source, je.line, je.column, je.text);
	/* jansson refuses integers past int64 before we see where they are. Read
	 * the text again with every number as a double: validation then names
	 * the field (or finds an earlier problem). The load fails either way. */
	if (json_error_code(&je) == json_error_numeric_overflow) {
		json_error_t je2;
		struct policy *tmp = NULL;
		root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je2);
		if (root) {
			c.ints_as_real = true;
			enum ajar_err err2 = policy_build(root, &c, &tmp);
			json_decref(root);
			if (err2)
				return err2;
			policy_free(tmp);
			/* passed anyway: the real message again, then */
			err = ajar_errf(AJAR_ERR_FORMAT, "%s: line %d, column %d: %s", c.source, je.line, je.column,
					je.text);
		}
	}
	return err;
}

enum ajar_err policy_load(const char *path, struct policy **out)
{
	char *text = NULL, *dir = NULL;
	const char *slash;
	size_t len = 0;
	enum ajar_err err;

	*out = NULL;
	if (!path) {
		const char *def = policy_default_text();
		return policy_parse(def, strlen(def), "built-in default", NULL, out);
	}
	if ((err = read_file(path, POLICY_FILE_MAX, path, &text, &len)))
		return err;
	slash = strrchr(path, '/');
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		err = ajar_errf(AJAR_ERR_NOMEM, "%s: out of memory", path);
	else
		err = policy_parse(text, len, path, dir, out);
	free(dir);
	free(text);
	return err;
}

static void free_strings(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->source);
	free(p->license_name);
	free(p->license_text);
	free(p->acceptable_use);
	free(p->card_path);
	free(p->tiers);
	free_strings(p->access_required, p->n_access_required);
	for (size_t i = 0; p->auto_rules && i < p->n_auto_rules; i++)
		free_strings(p->auto_rules[i].email_domains, p->auto_rules[i].n_email_domains);
	free(p->auto_rules);
	for (size_t i = 0; p->profiles && i < p->n_profiles; i++) {
		free_strings(p->profiles[i].categories, p->profiles[i].n_categories);
		free(p->profiles[i].classifier_model);
	}
	free(p->profiles);
	for (size_t i = 0; p->rule_categories && i < p->n_rule_categories; i++) {
		free_strings(p->rule_categories[i].terms, p->rule_categories[i].n_terms);
		free_strings(p->rule_categories[i].patterns, p->rule_categories[i].n_patterns);
	}
	free(p->rule_categories);
	free(p->watermark_key_file);
	free(p);
}

const struct policy_tier *policy_tier(const struct policy *p, const char *name)
{
	if (!p || !name)
		return NULL;
	for (size_t i = 0; i < p->n_tiers; i++)
		if (strcmp(p->tiers[i].name, name) == 0)
			return &p->tiers[i];
	return NULL;
}
