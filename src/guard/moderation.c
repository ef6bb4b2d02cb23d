/*
 * moderation.c - the moderator: rules (terms and PCRE2 patterns by
 * category), PII (moderation_pii.c) and the classifier (classifier.h),
 * on a normalized copy of the text (moderation_norm.c); results, redaction
 * and output streams.
 *
 * moderator_new compiles each rule category of the profile into one regex
 * for its terms (escaped literals, longest first, between non-word
 * characters) and one per pattern; the compiled code is shared read-only
 * by every thread, match data is made per call. A scan finds, for each
 * regex, the match at every position where one starts (a match at a is the
 * same whatever came before a), so the hits at a place depend only on
 * text near it. That is what lets mod_stream hold back a bounded tail and
 * release exactly what moderator_redact gives for the whole text.
 *
 * Layout: names, compile (moderator_new/free), scan, results and
 * redaction, check, streams.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/classifier.h"
#include "guard/moderation.h"
#include "guard/moderation_int.h"

#define RX_OPTIONS (PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS)
/* Backtracking budget per match: a policy pattern that goes exponential
 * fails the check instead of stalling a request. */
#define RX_MATCH_LIMIT 200000
/* Normalized bytes a stream keeps before its release point, so that what
 * it matches there has the context the whole text would give. */
#define STREAM_CONTEXT 1024

/* One compiled regex: a category's terms, or one of its patterns. */
struct mod_regex {
	pcre2_code *code;      /* owned */
	const char *category;  /* borrowed from the policy */
	bool terms;            /* literals: matches are short by construction */
	char path[160];        /* its place in the policy, for messages */
};

struct moderator {
	/* All fields are set in moderator_new and read-only after. */
	const struct policy_moderation_profile *profile; /* borrowed from the policy */
	struct mod_regex *rx;  /* owned, n_rx */
	size_t n_rx;
	enum mod_action rules_action, pii_action, cls_action, cls_on_failure;
	unsigned pii_types;
	struct classifier *cls; /* borrowed */
	pcre2_match_context *mctx; /* owned; only read by pcre2_match */
	size_t hold;           /* normalized bytes a stream holds back */
};

const char *mod_action_name(enum mod_action a)
{
	switch (a) {
	case MOD_ACTION_NONE: return "none";
	case MOD_ACTION_FLAG: return "flag";
	case MOD_ACTION_REDACT: return "redact";
	case MOD_ACTION_BLOCK: return "block";
	}
	return "none";
}

const char *mod_source_name(enum mod_source s)
{
	switch (s) {
	case MOD_SOURCE_RULES: return "rules";
	case MOD_SOURCE_PII: return "pii";
	case MOD_SOURCE_CLASSIFIER: return "classifier";
	}
	return "rules";
}

static enum mod_action to_action(int v)
{
	return v >= MOD_ACTION_FLAG && v <= MOD_ACTION_BLOCK ? (enum mod_action)v : MOD_ACTION_NONE;
}

/* ---- compile -------------------------------------------------------------- */

static const struct policy_rule_category *find_rules(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_rule_categories; i++)
		if (strcmp(p->rule_categories[i].name, name) == 0)
			return &p->rule_categories[i];
	return NULL;
}

static enum ajar_err compile_one(struct moderator *m, const char *src, size_t len, const char *category,
				 bool terms, const char *path)
{
	int code;
	PCRE2_SIZE at;
	struct mod_regex *r = &m->rx[m->n_rx];
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)src, len, RX_OPTIONS, &code, &at, NULL);

	if (!c) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return ajar_errf(AJAR_ERR_FORMAT, "%s: does not compile at offset %zu: %s", path, (size_t)at,
				 (const char *)msg);
	}
	/* JIT is only a speed-up; without it the interpreter gives the same. */
	(void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
	r->code = c;
	r->category = category;
	r->terms = terms;
	snprintf(r->path, sizeof(r->path), "%s", path);
	m->n_rx++;
	return AJAR_OK;
}

static bool buf_add(char **b, size_t *n, size_t *cap, const char *s, size_t k)
{
	if (*n + k + 1 > *cap) {
		size_t c = (*n + k + 1) * 2;
		char *t = realloc(*b, c);
		if (!t)
			return false;
		*b = t;
		*cap = c;
	}
	memcpy(*b + *n, s, k);
	*n += k;
	(*b)[*n] = '\0';
	return true;
}

struct norm_term {
	char *text; /* owned, normalized, trimmed */
	size_t len;
};

static int term_cmp(const void *a, const void *b)
{
	const struct norm_term *x = a, *y = b;
	return x->len < y->len ? 1 : x->len > y->len ? -1 : strcmp(x->text, y->text);
}

/* The normalized, trimmed terms of rc, longest first (*out; caller frees
 * each text and the array). *max_len: the longest. */
static enum ajar_err normalize_terms(const struct policy_rule_category *rc, struct norm_term **out, size_t *max_len)
{
	struct norm_term *t = calloc(rc->n_terms + 1, sizeof(*t));
	enum ajar_err err = AJAR_OK;

	if (!t)
		return ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
	for (size_t i = 0; i < rc->n_terms; i++) {
		struct mod_norm n;
		if ((err = mod_normalize(rc->terms[i], strlen(rc->terms[i]), &n)))
			break;
		size_t a = 0, b = n.len;
		while (a < b && n.text[a] == ' ')
			a++;
		while (b > a && n.text[b - 1] == ' ')
			b--;
		t[i].text = strndup(n.text + a, b - a);
		t[i].len = b - a;
		mod_norm_free(&n);
		if (!t[i].text) {
			err = ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
			break;
		}
		if (t[i].len == 0) {
			err = ajar_errf(AJAR_ERR_FORMAT, "moderation.rules.%s.terms[%zu]: nothing left to match once normalized",
					rc->name, i);
			break;
		}
		if (t[i].len > *max_len)
			*max_len = t[i].len;
	}
	if (err) {
		for (size_t i = 0; i < rc->n_terms; i++)
			free(t[i].text);
		free(t);
		return err;
	}
	qsort(t, rc->n_terms, sizeof(*t), term_cmp);
	*out = t;
	return AJAR_OK;
}

/* One regex for all the terms of rc: escaped literals between characters
 * that are not letters or digits. */
static enum ajar_err compile_terms(struct moderator *m, const struct policy_rule_category *rc, size_t *max_len)
{
	struct norm_term *t = NULL;
	char *src = NULL, path[160];
	size_t n = 0, cap = 0;
	enum ajar_err err;

	if ((err = normalize_terms(rc, &t, max_len)))
		return err;
	static const char head[] = "(?<![\\p{L}\\p{N}])(?:", tail[] = ")(?![\\p{L}\\p{N}])";
	bool ok = buf_add(&src, &n, &cap, head, strlen(head));
	for (size_t i = 0; ok && i < rc->n_terms; i++) {
		if (i > 0)
			ok = buf_add(&src, &n, &cap, "|", 1);
		for (size_t k = 0; ok && k < t[i].len; k++) {
			unsigned char ch = (unsigned char)t[i].text[k];
			bool plain = ch >= 0x80 || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				     (ch >= '0' && ch <= '9');
			ok = (plain || buf_add(&src, &n, &cap, "\\", 1)) && buf_add(&src, &n, &cap, t[i].text + k, 1);
		}
	}
	ok = ok && buf_add(&src, &n, &cap, tail, strlen(tail));
	snprintf(path, sizeof(path), "moderation.rules.%s.terms", rc->name);
	if (!ok)
		err = ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
	else
		err = compile_one(m, src, n, rc->name, true, path);
	for (size_t i = 0; i < rc->n_terms; i++)
		free(t[i].text);
	free(t);
	free(src);
	return err;
}

/* The regexes of every rule category the profile applies. */
static enum ajar_err compile_rules(struct moderator *m, const struct policy *p, size_t *max_term, bool *patterns)
{
	const struct policy_moderation_profile *mp = m->profile;
	size_t count = 0;
	enum ajar_err err;

	for (size_t i = 0; i < mp->n_categories; i++) {
		const struct policy_rule_category *rc = find_rules(p, mp->categories[i]);
		if (rc)
			count += (rc->n_terms > 0) + rc->n_patterns;
	}
	if (!(m->rx = calloc(count + 1, sizeof(*m->rx))))
		return ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
	for (size_t i = 0; i < mp->n_categories; i++) {
		const struct policy_rule_category *rc = find_rules(p, mp->categories[i]);
		if (!rc)
			continue; /* a category without rules matches nothing by rules */
		if (rc->n_terms && (err = compile_terms(m, rc, max_term)))
			return err;
		for (size_t k = 0; k < rc->n_patterns; k++) {
			char path[160];
			snprintf(path, sizeof(path), "moderation.rules.%s.patterns[%zu]", rc->name, k);
			if ((err = compile_one(m, rc->patterns[k], strlen(rc->patterns[k]), rc->name, false, path)))
				return err;
			*patterns = true;
		}
	}
	return AJAR_OK;
}

enum ajar_err moderator_new(const struct policy *p, const char *profile, struct classifier *cls,
			    struct moderator **out)
{
	struct moderator *m;
	size_t max_term = 0;
	bool patterns = false;
	enum ajar_err err;

	*out = NULL;
	if (!p || !profile)
		return ajar_errf(AJAR_ERR_INVALID, "moderation: no policy or profile");
	const struct policy_moderation_profile *mp = policy_profile(p, profile);
	if (!mp)
		return ajar_errf(AJAR_ERR_NOT_FOUND, "moderation: no profile \"%.40s\" in the policy", profile);
	if (mp->classifier_model && !cls)
		return ajar_errf(AJAR_ERR_INVALID, "moderation: profile \"%s\" needs its classifier (%s) and got none",
				 mp->name, mp->classifier_model);
	if (!(m = calloc(1, sizeof(*m))))
		return ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
	m->profile = mp;
	m->rules_action = to_action(mp->rules_action);
	m->pii_action = to_action(mp->pii_action);
	m->pii_types = m->pii_action ? mp->pii_types & MOD_PII_ALL : 0;
	m->cls = mp->classifier_model ? cls : NULL;
	m->cls_action = to_action(mp->classifier_action);
	m->cls_on_failure = to_action(mp->classifier_on_failure);
	if (!(m->mctx = pcre2_match_context_create(NULL))) {
		err = ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
		goto fail;
	}
	pcre2_set_match_limit(m->mctx, RX_MATCH_LIMIT);
	if (m->rules_action && (err = compile_rules(m, p, &max_term, &patterns)))
		goto fail;
	/* Hold back what a match could still grow into, and the normalizer's
	 * reach on top. */
	m->hold = 2 * max_term + 8;
	if (patterns && m->hold < MOD_PATTERN_SPAN + 8)
		m->hold = MOD_PATTERN_SPAN + 8;
	if (m->pii_types && m->hold < MOD_PII_SPAN + 8)
		m->hold = MOD_PII_SPAN + 8;
	m->hold += MOD_NORM_RADIUS;
	*out = m;
	return AJAR_OK;
fail:
	moderator_free(m);
	return err;
}

void moderator_free(struct moderator *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_rx; i++)
		pcre2_code_free(m->rx[i].code);
	free(m->rx);
	pcre2_match_context_free(m->mctx);
	free(m);
}

bool moderator_active(const struct moderator *m)
{
	return m && (m->n_rx > 0 || m->pii_types || m->cls);
}

/* ---- scan ------------------------------------------------------------------- */

/* One hit while scanning; spans are in the scanned text. */
struct found {
	size_t start, end;     /* original bytes */
	size_t nstart;         /* normalized offset of the start */
	enum mod_source source;
	enum mod_action action;
	unsigned pii;          /* the PII type, 0 for rules */
	const char *category;  /* static or borrowed from the policy */
};

struct found_vec {
	struct found *v;       /* owned; n used of cap */
	size_t n, cap;
};

struct scan_ctx {
	const struct moderator *m;
	const struct mod_norm *norm;
	struct found_vec *out;
};

static const char *const pii_categories[] = {"pii/email", "pii/phone", "pii/card", "pii/iban", "pii/ssn", "pii/ip"};

static const char *pii_category(unsigned type)
{
	for (int i = 0; i < 6; i++)
		if (type == 1u << i)
			return pii_categories[i];
	return "pii";
}

static bool found_add(struct found_vec *f, const struct found *h)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct found *v = realloc(f->v, cap * sizeof(*v));
		if (!v)
			return false;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n++] = *h;
	return true;
}

/* A hit at normalized [a, b) mapped back to the original bytes. */
static bool add_norm_span(struct scan_ctx *c, size_t a, size_t b, enum mod_source src, enum mod_action act,
			  unsigned pii, const char *category)
{
	struct found h = {.start = c->norm->src_start[a], .end = c->norm->src_end[b - 1], .nstart = a,
			  .source = src, .action = act, .pii = pii, .category = category};
	return found_add(c->out, &h);
}

static bool on_pii(void *ctx, size_t start, size_t end, unsigned type)
{
	struct scan_ctx *c = ctx;
	if (end <= start)
		return true;
	return add_norm_span(c, start, end, MOD_SOURCE_PII, c->m->pii_action, type, pii_category(type));
}

static size_t next_char(const char *s, size_t len, size_t i)
{
	i++;
	while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
		i++;
	return i;
}

/* The start of the character that holds byte i (i itself on a boundary). */
static size_t char_floor(const char *s, size_t i)
{
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

/* Every match of one regex, one per start position (see the top). A
 * pattern's match is taken on the text cut MOD_PATTERN_SPAN bytes after
 * its start, so it never depends on text further on. */
static enum ajar_err scan_regex(struct scan_ctx *c, const struct mod_regex *r, pcre2_match_data *md)
{
	const char *s = c->norm->text;
	size_t len = c->norm->len, from = 0, last_end = 0;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

	while (from < len) {
		int rc = pcre2_match(r->code, (PCRE2_SPTR)s, len, from, PCRE2_NO_UTF_CHECK, md, c->m->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0)
			return ajar_errf(AJAR_ERR_LIMIT, "moderation: %s: match failed (%d)", r->path, rc);
		size_t a = ov[0], b = ov[1];
		if (!r->terms) {
			size_t cut = len - a > MOD_PATTERN_SPAN ? char_floor(s, a + MOD_PATTERN_SPAN) : len;
			rc = pcre2_match(r->code, (PCRE2_SPTR)s, cut, a, PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED, md,
					 c->m->mctx);
			if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
				return ajar_errf(AJAR_ERR_LIMIT, "moderation: %s: match failed (%d)", r->path, rc);
			b = rc >= 0 ? ov[1] : a;
		}
		/* An empty match says nothing; one inside the last hit adds nothing. */
		if (b > a && b > last_end) {
			if (!add_norm_span(c, a, b, MOD_SOURCE_RULES, c->m->rules_action, 0, r->category))
				return ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
			last_end = b;
		}
		from = next_char(s, len, a);
	}
	return AJAR_OK;
}

static int found_cmp(const void *x, const void *y)
{
	const struct found *a = x, *b = y;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	if (a->source != b->source)
		return a->source < b->source ? -1 : 1;
	return strcmp(a->category, b->category);
}

/* Normalizes text into *norm (caller frees) and appends the rule and PII
 * hits to *out, sorted by span. */
static enum ajar_err mod_scan(const struct moderator *m, const char *text, size_t len, struct mod_norm *norm,
			      struct found_vec *out)
{
	struct scan_ctx c = {.m = m, .norm = norm, .out = out};
	pcre2_match_data *md = NULL;
	enum ajar_err err;

	if ((err = mod_normalize(text, len, norm)))
		return err;
	if (m->n_rx && !(md = pcre2_match_data_create(4, NULL)))
		return ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
	for (size_t i = 0; i < m->n_rx; i++)
		if ((err = scan_regex(&c, &m->rx[i], md)))
			goto out;
	if (m->pii_types && !mod_pii_scan(norm->text, norm->len, m->pii_types, on_pii, &c))
		err = ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
	if (!err && out->n > 1) {
		size_t k = 1;
		qsort(out->v, out->n, sizeof(*out->v), found_cmp);
		/* a term and a pattern of one category on one span are one hit */
		for (size_t i = 1; i < out->n; i++)
			if (found_cmp(&out->v[i], &out->v[k - 1]) != 0)
				out->v[k++] = out->v[i];
		out->n = k;
	}
out:
	pcre2_match_data_free(md);
	return err;
}

/* ---- results and redaction ---------------------------------------------------- */

static void result_add(struct mod_result *r, const char *category, enum mod_source src, enum mod_action act,
		       size_t start, size_t end)
{
	if (act == MOD_ACTION_NONE)
		return;
	r->flagged = true;
	if (act == MOD_ACTION_BLOCK && !r->blocked) {
		r->blocked = true;
		snprintf(r->block_category, sizeof(r->block_category), "%s", category);
	}
	if (r->n_hits == MOD_MAX_HITS)
		return;
	struct mod_hit *h = &r->hits[r->n_hits++];
	snprintf(h->category, sizeof(h->category), "%s", category);
	h->source = src;
	h->action = act;
	h->start = start;
	h->end = end;
}

/* Fills r from the sorted hits, offset by base. When there are more than
 * MOD_MAX_HITS, the ones that change or stop the text come first, so a
 * redaction from r stays whole as long as it can. */
static void result_fill(struct mod_result *r, const struct found *f, size_t n, size_t base)
{
	size_t text_changing = 0;
	for (size_t i = 0; i < n; i++)
		text_changing += f[i].action >= MOD_ACTION_REDACT;
	bool crowded = r->n_hits + n > MOD_MAX_HITS && text_changing > 0;
	for (size_t i = 0; i < n; i++) {
		if (crowded && f[i].action < MOD_ACTION_REDACT) {
			/* counted in flagged, listed only if room is left at the end */
			r->flagged = r->flagged || f[i].action != MOD_ACTION_NONE;
			continue;
		}
		result_add(r, f[i].category, f[i].source, f[i].action, base + f[i].start, base + f[i].end);
	}
	for (size_t i = 0; crowded && i < n; i++)
		if (f[i].action < MOD_ACTION_REDACT)
			result_add(r, f[i].category, f[i].source, f[i].action, base + f[i].start, base + f[i].end);
}

static const char *placeholder_of(const char *category)
{
	for (unsigned i = 0; i < 6; i++)
		if (strcmp(category, pii_categories[i]) == 0)
			return mod_pii_placeholder(1u << i);
	return "[REDACTED]";
}

/* A span to replace; sorted by start, then end. */
struct redact_span {
	size_t start, end;
	const char *placeholder;
};

static int span_cmp(const void *x, const void *y)
{
	const struct redact_span *a = x, *b = y;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->end < b->end ? -1 : a->end > b->end;
}

/* Appends text[0, len) to *b with the spans (sorted, within len) replaced;
 * overlapping spans become one, under the first one's placeholder. */
static bool redact_into(char **b, size_t *n, size_t *cap, const char *text, size_t len,
			const struct redact_span *sp, size_t ns)
{
	size_t at = 0;
	for (size_t i = 0; i < ns;) {
		size_t start = sp[i].start, end = sp[i].end;
		const char *ph = sp[i].placeholder;
		for (i++; i < ns && sp[i].start < end; i++)
			if (sp[i].end > end)
				end = sp[i].end;
		if (start < at)
			start = at;
		if (!buf_add(b, n, cap, text + at, start - at) || !buf_add(b, n, cap, ph, strlen(ph)))
			return false;
		at = end > at ? end : at;
	}
	return buf_add(b, n, cap, text + at, len - at);
}

char *moderator_redact(const char *text, size_t len, const struct mod_result *r, size_t *out_len)
{
	struct redact_span sp[MOD_MAX_HITS];
	size_t ns = 0, n = 0, cap = 0;
	char *b = NULL;

	if (!text)
		len = 0;
	for (size_t i = 0; r && i < r->n_hits && i < MOD_MAX_HITS; i++) {
		const struct mod_hit *h = &r->hits[i];
		/* A hit from another text must not reach outside this one. */
		if (h->action != MOD_ACTION_REDACT || h->start >= h->end || h->end > len)
			continue;
		sp[ns++] = (struct redact_span){h->start, h->end, placeholder_of(h->category)};
	}
	qsort(sp, ns, sizeof(*sp), span_cmp);
	if (!buf_add(&b, &n, &cap, "", 0) || !redact_into(&b, &n, &cap, text ? text : "", len, sp, ns)) {
		free(b);
		return NULL;
	}
	if (out_len)
		*out_len = n;
	return b;
}

/* ---- check -------------------------------------------------------------------- */

/* The classifier's verdict on text as hits (0, 0 spans). */
static void run_classifier(const struct moderator *m, const char *prompt, const char *text, size_t len,
			   bool as_output, struct mod_result *out)
{
	struct classifier_verdict v;
	char *copy = malloc(len + 1);
	enum ajar_err err;

	/* classifier_check takes a C string; a NUL inside the text cuts it there,
	 * which the rules and PII passes have already seen whole. */
	if (!copy) {
		err = ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
	} else {
		memcpy(copy, text, len);
		copy[len] = '\0';
		err = classifier_check(m->cls, prompt, copy, as_output, &v);
	}
	free(copy);
	if (err) {
		out->classifier_failed = true;
		result_add(out, "classifier: failed", MOD_SOURCE_CLASSIFIER, m->cls_on_failure, 0, 0);
		return;
	}
	for (size_t i = 0; !v.safe && i < v.n_codes && i < CLASSIFIER_MAX_CODES; i++) {
		char cat[MOD_CATEGORY_MAX];
		const char *name = classifier_hazard_name(v.codes[i]);
		snprintf(cat, sizeof(cat), "S%d: %s", v.codes[i], name ? name : "unknown");
		result_add(out, cat, MOD_SOURCE_CLASSIFIER, m->cls_action, 0, 0);
	}
	if (!v.safe && v.n_codes == 0)
		result_add(out, "classifier: unsafe", MOD_SOURCE_CLASSIFIER, m->cls_action, 0, 0);
}

static enum ajar_err check_any(const struct moderator *m, const char *prompt, const char *text, size_t len,
			       bool as_output, struct mod_result *out)
{
	struct mod_norm norm = {0};
	struct found_vec f = {0};
	enum ajar_err err;

	memset(out, 0, sizeof(*out));
	if (!m || (!text && len))
		return ajar_errf(AJAR_ERR_INVALID, "moderation: no moderator or text");
	if (!text)
		text = "";
	if ((err = mod_scan(m, text, len, &norm, &f)))
		goto out;
	result_fill(out, f.v, f.n, 0);
	if (m->cls && !out->blocked)
		run_classifier(m, prompt, text, len, as_output, out);
out:
	mod_norm_free(&norm);
	free(f.v);
	return err;
}

enum ajar_err moderator_check(const struct moderator *m, const char *text, size_t len, struct mod_result *out)
{
	return check_any(m, NULL, text, len, false, out);
}

enum ajar_err moderator_check_output(const struct moderator *m, const char *prompt, const char *text, size_t len,
				     struct mod_result *out)
{
	return check_any(m, prompt, text, len, true, out);
}

/* ---- streams -------------------------------------------------------------------- */

struct mod_stream {
	const struct moderator *m; /* borrowed */
	char *buf;                 /* owned: the text from base on, blen of bcap */
	size_t blen, bcap;
	size_t base;               /* offset of buf[0] in the whole output */
	size_t released;           /* bytes of the whole output released (redacted) */
	size_t reported;           /* hits starting before this are in acc */
	bool blocked, done;
	char *out;                 /* owned: the last release, olen of ocap */
	size_t olen, ocap;
	struct mod_result acc;     /* every final hit so far */
};

enum ajar_err mod_stream_new(const struct moderator *m, struct mod_stream **out)
{
	*out = NULL;
	if (!m)
		return ajar_errf(AJAR_ERR_INVALID, "moderation: no moderator");
	if (!(*out = calloc(1, sizeof(**out))))
		return ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
	(*out)->m = m;
	return AJAR_OK;
}

void mod_stream_free(struct mod_stream *s)
{
	if (!s)
		return;
	free(s->buf);
	free(s->out);
	free(s);
}

/* Where hits stop being final: hits that start before it are decided for
 * good (their neighbourhood is all here), the rest may still change. */
static size_t final_point(const struct mod_stream *s, const struct mod_norm *norm, bool final, size_t rel)
{
	size_t r = 0;
	if (final)
		r = s->blen;
	else if (norm->len > s->m->hold)
		r = norm->src_start[norm->len - s->m->hold];
	return r < rel ? rel : r;
}

/* The release point: rfin moved back before any text-changing hit that
 * crosses it and before the first final blocking hit (*block). */
static size_t release_point(const struct found_vec *f, size_t rel, size_t rfin, bool *block)
{
	size_t r = rfin;
	bool moved = true;

	*block = false;
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].action == MOD_ACTION_BLOCK && f->v[i].start >= rel && f->v[i].start < rfin) {
			*block = true;
			r = f->v[i].start;
			break; /* sorted by start: this is the first */
		}
	while (moved) {
		moved = false;
		for (size_t i = 0; i < f->n; i++) {
			const struct found *h = &f->v[i];
			if (h->action >= MOD_ACTION_REDACT && h->start >= rel && h->start < r && h->end > r) {
				r = h->start;
				moved = true;
			}
		}
	}
	return r;
}

/* Writes buf[rel, r) redacted into s->out. */
static bool release(struct mod_stream *s, const struct found_vec *f, size_t rel, size_t r)
{
	struct redact_span *sp = calloc(f->n + 1, sizeof(*sp));
	size_t ns = 0;
	bool ok;

	if (!sp)
		return false;
	for (size_t i = 0; i < f->n; i++) {
		const struct found *h = &f->v[i];
		if (h->action == MOD_ACTION_REDACT && h->start >= rel && h->end <= r)
			sp[ns++] = (struct redact_span){h->start - rel, h->end - rel, placeholder_of(h->category)};
	}
	qsort(sp, ns, sizeof(*sp), span_cmp);
	s->olen = 0;
	ok = buf_add(&s->out, &s->olen, &s->ocap, "", 0) && redact_into(&s->out, &s->olen, &s->ocap, s->buf + rel, r - rel, sp, ns);
	free(sp);
	return ok;
}

/* Drops what is no longer needed: all but STREAM_CONTEXT normalized bytes
 * before the release point r. */
static void trim(struct mod_stream *s, const struct mod_norm *norm, size_t r)
{
	size_t ctx = STREAM_CONTEXT > 2 * s->m->hold ? STREAM_CONTEXT : 2 * s->m->hold;
	size_t lo = 0, hi = norm->len, keep;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (norm->src_start[mid] < r)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo <= ctx)
		return;
	keep = norm->src_start[lo - ctx];
	if (keep == 0 || keep > r)
		return;
	memmove(s->buf, s->buf + keep, s->blen - keep);
	s->blen -= keep;
	s->base += keep;
}

static enum ajar_err stream_append(struct mod_stream *s, const char *text, size_t n)
{
	if (n > MOD_TEXT_MAX - s->blen)
		return ajar_errf(AJAR_ERR_LIMIT, "moderation: stream holds more than %u bytes", MOD_TEXT_MAX);
	if (s->blen + n + 1 > s->bcap) {
		size_t cap = (s->blen + n + 1) * 2;
		char *b = realloc(s->buf, cap);
		if (!b)
			return ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
		s->buf = b;
		s->bcap = cap;
	}
	if (n)
		memcpy(s->buf + s->blen, text, n);
	s->blen += n;
	return AJAR_OK;
}

enum ajar_err mod_stream_push(struct mod_stream *s, const char *text, size_t n, bool final, const char **out,
			      size_t *n_out, bool *blocked, struct mod_result *res)
{
	struct mod_norm norm = {0};
	struct found_vec f = {0};
	size_t rel, rfin, r, i0 = 0, i1;
	bool block;
	enum ajar_err err = AJAR_OK;

	*out = "";
	*n_out = 0;
	if (!s || (!text && n))
		return ajar_errf(AJAR_ERR_INVALID, "moderation: no stream or text");
	if (s->done && n && !s->blocked)
		return ajar_errf(AJAR_ERR_INVALID, "moderation: text pushed after the final push");
	if (s->blocked || s->done)
		goto done;
	if ((err = stream_append(s, text, n)) || (err = mod_scan(s->m, s->buf, s->blen, &norm, &f)))
		goto done;
	rel = s->released - s->base;
	rfin = final_point(s, &norm, final, rel);
	r = release_point(&f, rel, rfin, &block);
	/* Report the hits that are final now and were not reported before. */
	while (i0 < f.n && f.v[i0].start + s->base < s->reported)
		i0++;
	for (i1 = i0; i1 < f.n && f.v[i1].start < rfin; i1++)
		;
	if (i1 > i0)
		result_fill(&s->acc, f.v + i0, i1 - i0, s->base);
	s->reported = s->base + rfin;
	if (!release(s, &f, rel, r)) {
		err = ajar_errf(AJAR_ERR_NOMEM, "moderation: out of memory");
		goto done;
	}
	*out = s->out;
	*n_out = s->olen;
	s->released = s->base + r;
	s->blocked = block;
	s->done = final;
	trim(s, &norm, r);
done:
	*blocked = s->blocked;
	if (res)
		*res = s->acc;
	mod_norm_free(&norm);
	free(f.v);
	return err;
}
