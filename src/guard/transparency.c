/*
 * transparency.c - the public record of a served model (transparency.h):
 * facts read from the GGUF file, the card and license, the safeguards of
 * the policy, usage aggregates from the store, and the same as an HTML page.
 *
 * Layout: small JSON helpers; model facts (one pass over the tensor infos,
 * one chunked SHA-256 over the mapping); usage (counters, keys, access
 * requests); the record; then the page: an escaping, capped text buffer, a
 * generic renderer of JSON values as tables and lists (so the safeguards
 * and usage sections follow whatever policy_public_json and the store
 * report, without a second copy of their shape here), and the sections.
 */
#include "guard/transparency.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ajar/gguf.h"
#include "ajar/tensor.h"

/* A model card is Markdown meant to be read by people; a larger file is
 * almost certainly the wrong path, and it would be copied into every
 * /v1/transparency reply. */
#define CARD_MAX ((size_t)1 << 20)
/* The page is built from the record, whose large texts (card, license) are
 * capped where they are read; this cap only stops a runaway. */
#define HTML_MAX ((size_t)64 << 20)
/* Nested JSON deeper than this is shown as "..." on the page. */
#define HTML_DEPTH_MAX 8
/* SHA-256 input per update: pages of a large mapping are read in order. */
#define SHA_CHUNK ((size_t)1 << 24)

/* ---- JSON helpers -------------------------------------------------------- */

/* Sets o[k] = v (stealing v); counts a failure (v NULL = out of memory) in
 * *bad so a builder checks once at the end. */
static void put(json_t *o, const char *k, json_t *v, int *bad)
{
	if (!v || json_object_set_new(o, k, v) != 0)
		(*bad)++;
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* A string from a file's bytes: as is when valid UTF-8, else every byte
 * outside ASCII becomes '?' (a GGUF's metadata strings are raw bytes, and
 * one odd name must not make the whole record fail). */
static json_t *string_lossy(const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);
	if (v)
		return v;
	char *copy = malloc(len + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < len; i++)
		copy[i] = (unsigned char)s[i] < 0x80 && s[i] != '\0' ? s[i] : '?';
	v = json_stringn(copy, len);
	free(copy);
	return v;
}

/* ---- model facts --------------------------------------------------------- */

void transparency_file_sha256(const struct gguf_file *f, char hex[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	const unsigned char *p = gguf_base(f);
	size_t n = gguf_file_size(f);

	crypto_hash_sha256_init(&st);
	for (size_t off = 0; off < n; off += SHA_CHUNK)
		crypto_hash_sha256_update(&st, p + off, n - off < SHA_CHUNK ? n - off : SHA_CHUNK);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

/* ARCH.suffix as an integer, or null when absent or not an integer. */
static json_t *arch_int(const struct gguf_file *f, struct gguf_str arch, const char *suffix)
{
	char key[192];
	int64_t v;

	if (arch.len == 0 || arch.len > 128)
		return json_null();
	snprintf(key, sizeof(key), "%.*s.%s", (int)arch.len, arch.data, suffix);
	if (gguf_get_i64(f, key, &v) != AJAR_OK)
		return json_null();
	return json_integer(v);
}

/* ARCH.vocab_size, else the length of the tokenizer's token list. */
static json_t *vocab_size(const struct gguf_file *f, struct gguf_str arch)
{
	json_t *v = arch_int(f, arch, "vocab_size");
	const struct gguf_value *tokens;

	if (!json_is_null(v))
		return v;
	json_decref(v);
	if (gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_COUNT, &tokens) != AJAR_OK)
		return json_null();
	return json_integer((json_int_t)tokens->v.arr.count);
}

/* Parameter count and tensors per type ("f32": n, lowercase as llama.cpp
 * prints them). Element counts saturate rather than wrap. */
static json_t *tensor_types(const struct gguf_file *f, uint64_t *n_params)
{
	json_t *types = json_object();
	char name[32];

	*n_params = 0;
	for (size_t i = 0; types && i < gguf_n_tensors(f); i++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(f, i);
		uint64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
		*n_params = *n_params + n < *n_params ? UINT64_MAX : *n_params + n;

		snprintf(name, sizeof(name), "%s", ajar_type_name(t->type));
		for (char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		json_t *count = json_object_get(types, name);
		json_int_t was = count ? json_integer_value(count) : 0;
		if (json_object_set_new(types, name, json_integer(was + 1)) != 0) {
			json_decref(types);
			return NULL;
		}
	}
	return types;
}

enum ajar_err transparency_model_facts(const char *gguf_path, json_t **out)
{
	struct gguf_file *f = NULL;
	struct gguf_str arch = { "", 0 }, name;
	uint64_t n_params;
	char hex[65];
	int bad = 0;

	*out = NULL;
	if (sodium_init() < 0)
		return ajar_errf(AJAR_ERR_IO, "libsodium failed to initialize");
	enum ajar_err err = gguf_open(gguf_path, &f);
	if (err)
		return err;
	json_t *o = json_object();
	if (!o) {
		gguf_close(f);
		return ajar_errf(AJAR_ERR_NOMEM, "%s: no memory for the model facts", gguf_path);
	}
	const char *base = strrchr(gguf_path, '/');
	put(o, "file", string_lossy(base ? base + 1 : gguf_path, strlen(base ? base + 1 : gguf_path)), &bad);
	if (gguf_get_str(f, "general.name", &name) == AJAR_OK)
		put(o, "name", string_lossy(name.data, name.len), &bad);
	else
		put(o, "name", json_null(), &bad);
	if (gguf_get_str(f, "general.architecture", &arch) == AJAR_OK)
		put(o, "architecture", string_lossy(arch.data, arch.len), &bad);
	else
		put(o, "architecture", json_null(), &bad);
	json_t *types = tensor_types(f, &n_params);
	put(o, "parameters", json_integer(n_params > INT64_MAX ? INT64_MAX : (json_int_t)n_params), &bad);
	put(o, "context_length", arch_int(f, arch, "context_length"), &bad);
	put(o, "embedding_length", arch_int(f, arch, "embedding_length"), &bad);
	put(o, "block_count", arch_int(f, arch, "block_count"), &bad);
	put(o, "vocab_size", vocab_size(f, arch), &bad);
	put(o, "tensor_count", json_integer((json_int_t)gguf_n_tensors(f)), &bad);
	put(o, "tensor_types", types, &bad);
	put(o, "file_size", json_integer((json_int_t)gguf_file_size(f)), &bad);
	transparency_file_sha256(f, hex);
	put(o, "sha256", json_string(hex), &bad);
	gguf_close(f);
	if (bad) {
		json_decref(o);
		return ajar_errf(AJAR_ERR_NOMEM, "%s: no memory for the model facts", gguf_path);
	}
	*out = o;
	return AJAR_OK;
}

/* ---- usage --------------------------------------------------------------- */

/* Adds value to obj[name] (an integer member, 0 when absent). */
static int add_count(json_t *obj, const char *name, int64_t value)
{
	json_t *was = json_object_get(obj, name);
	return json_object_set_new(obj, name, json_integer((was ? json_integer_value(was) : 0) + value));
}

/* requests_by_tier[tier][field] += value, creating the tier's object with
 * both members so every tier shows requests and tokens. */
static int add_tier(json_t *by_tier, const char *tier, const char *field, int64_t value)
{
	json_t *t = json_object_get(by_tier, tier);
	if (!t) {
		t = json_pack("{s:I,s:I}", "requests", (json_int_t)0, "tokens", (json_int_t)0);
		if (!t || json_object_set_new(by_tier, tier, t) != 0)
			return -1;
	}
	return add_count(t, field, value);
}

/* The counters named in store.h (store_audit_append) into usage's
 * aggregate objects; other counter names are not part of the report. */
static enum ajar_err usage_counters(struct store *st, json_t *usage)
{
	struct store_counter *c = NULL;
	size_t n = 0;
	json_t *by_tier = json_object(), *refused = json_object(), *blocked = json_object(),
	       *flagged = json_object();
	int bad = 0;

	enum ajar_err err = store_counters(st, &c, &n);
	for (size_t i = 0; !err && i < n; i++) {
		const char *name = c[i].name;
		if (strncmp(name, "requests:tier:", 14) == 0)
			bad |= add_tier(by_tier, name + 14, "requests", c[i].value);
		else if (strncmp(name, "tokens:tier:", 12) == 0)
			bad |= add_tier(by_tier, name + 12, "tokens", c[i].value);
		else if (strncmp(name, "refused:", 8) == 0)
			bad |= add_count(refused, name + 8, c[i].value);
		else if (strncmp(name, "blocked:", 8) == 0)
			bad |= add_count(blocked, name + 8, c[i].value);
		else if (strncmp(name, "flagged:", 8) == 0)
			bad |= add_count(flagged, name + 8, c[i].value);
	}
	free(c);
	put(usage, "requests_by_tier", by_tier, &bad);
	put(usage, "refusals_by_reason", refused, &bad);
	put(usage, "blocked_by_category", blocked, &bad);
	put(usage, "flagged_by_category", flagged, &bad);
	if (!err && bad)
		err = ajar_errf(AJAR_ERR_NOMEM, "transparency: no memory for the usage counters");
	return err;
}

static enum ajar_err usage_keys(struct store *st, int64_t now, json_t *usage)
{
	struct store_key *k = NULL;
	size_t n = 0;
	int64_t active = 0, revoked = 0, expired = 0;
	int bad = 0;

	enum ajar_err err = store_key_list(st, &k, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (k[i].revoked)
			revoked++;
		else if (k[i].expires && k[i].expires <= now)
			expired++;
		else
			active++;
	}
	free(k);
	put(usage, "keys",
	    json_pack("{s:I,s:I,s:I}", "active", (json_int_t)active, "revoked", (json_int_t)revoked, "expired",
		      (json_int_t)expired),
	    &bad);
	return bad ? ajar_errf(AJAR_ERR_NOMEM, "transparency: no memory for the key counts") : AJAR_OK;
}

static enum ajar_err usage_access(struct store *st, json_t *usage)
{
	struct store_access *a = NULL;
	size_t n = 0;
	int64_t count[3] = { 0, 0, 0 };
	int bad = 0;

	enum ajar_err err = store_access_list(st, -1, &a, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		if (a[i].status >= 0 && a[i].status < 3)
			count[a[i].status]++;
	free(a);
	put(usage, "access_requests",
	    json_pack("{s:I,s:I,s:I}", "pending", (json_int_t)count[STORE_ACCESS_PENDING], "approved",
		      (json_int_t)count[STORE_ACCESS_APPROVED], "denied", (json_int_t)count[STORE_ACCESS_DENIED]),
	    &bad);
	return bad ? ajar_errf(AJAR_ERR_NOMEM, "transparency: no memory for the access counts") : AJAR_OK;
}

enum ajar_err transparency_usage(struct store *st, int64_t now, json_t **out)
{
	json_t *usage = json_object();
	enum ajar_err err;

	*out = NULL;
	if (!usage)
		return ajar_errf(AJAR_ERR_NOMEM, "transparency: no memory for the usage");
	err = usage_counters(st, usage);
	if (!err)
		err = usage_keys(st, now, usage);
	if (!err)
		err = usage_access(st, usage);
	if (err) {
		json_decref(usage);
		return ajar_err_wrap(err, "transparency usage");
	}
	*out = usage;
	return AJAR_OK;
}

/* ---- the record ---------------------------------------------------------- */

/* {"source": path, "text": the file's text}; IO naming the file when it
 * cannot be read, LIMIT past CARD_MAX, FORMAT when it is not UTF-8. */
static enum ajar_err card_json(const char *path, json_t **out)
{
	FILE *f = fopen(path, "rb");
	char ebuf[128];
	char *text = NULL;
	size_t n = 0;

	*out = NULL;
	if (!f)
		return ajar_errf(AJAR_ERR_IO, "model card %s: %s", path, strerror_r(errno, ebuf, sizeof(ebuf)));
	text = malloc(CARD_MAX + 1);
	if (!text) {
		fclose(f);
		return ajar_errf(AJAR_ERR_NOMEM, "model card %s: no memory", path);
	}
	n = fread(text, 1, CARD_MAX + 1, f);
	bool failed = ferror(f) != 0;
	fclose(f);
	enum ajar_err err = AJAR_OK;
	if (failed)
		err = ajar_errf(AJAR_ERR_IO, "model card %s: read error", path);
	else if (n > CARD_MAX)
		err = ajar_errf(AJAR_ERR_LIMIT, "model card %s: larger than %zu bytes", path, CARD_MAX);
	if (!err) {
		json_t *t = json_stringn(text, n);
		if (!t)
			err = ajar_errf(AJAR_ERR_FORMAT, "model card %s: not UTF-8 text", path);
		else if (!(*out = json_pack("{s:o,s:o}", "source", string_lossy(path, strlen(path)), "text", t)))
			err = ajar_errf(AJAR_ERR_NOMEM, "model card %s: no memory", path);
	}
	free(text);
	return err;
}

enum ajar_err transparency_record(json_t *facts, const struct policy *p, const char *card_path, struct store *st,
				  int64_t now, json_t **out)
{
	json_t *rec = json_object(), *card = NULL, *usage = NULL;
	enum ajar_err err = AJAR_OK;
	int bad = 0;

	*out = NULL;
	if (!rec)
		return ajar_errf(AJAR_ERR_NOMEM, "transparency: no memory for the record");
	if (!card_path)
		card_path = p->card_path;
	if (card_path && (err = card_json(card_path, &card)))
		goto fail;
	if (st && (err = transparency_usage(st, now, &usage)))
		goto fail;
	put(rec, "model", facts ? json_incref(facts) : json_null(), &bad);
	put(rec, "card", card ? card : json_null(), &bad);
	put(rec, "license",
	    json_pack("{s:o,s:s,s:o}", "name", string_or_null(p->license_name), "sha256", p->license_sha256, "text",
		      string_or_null(p->license_text)),
	    &bad);
	put(rec, "acceptable_use", string_or_null(p->acceptable_use), &bad);
	put(rec, "safeguards", policy_public_json(p), &bad);
	if (usage)
		put(rec, "usage", usage, &bad);
	put(rec, "generated_at", json_integer(now), &bad);
	if (bad) {
		json_decref(rec);
		return ajar_errf(AJAR_ERR_NOMEM, "transparency: no memory for the record");
	}
	*out = rec;
	return AJAR_OK;
fail:
	json_decref(card);
	json_decref(rec);
	return err;
}

/* ---- the page ------------------------------------------------------------ */

/* Text being built; once anything fails (no memory, past HTML_MAX) every
 * later append is a no-op and the page is dropped at the end. */
struct page {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void page_raw(struct page *pg, const char *s, size_t n)
{
	if (pg->failed)
		return;
	if (pg->len + n + 1 > pg->cap) {
		size_t cap = pg->cap ? pg->cap : 16384;
		while (cap < pg->len + n + 1)
			cap *= 2;
		char *b = cap <= HTML_MAX ? realloc(pg->buf, cap) : NULL;
		if (!b) {
			pg->failed = true;
			return;
		}
		pg->buf = b;
		pg->cap = cap;
	}
	memcpy(pg->buf + pg->len, s, n);
	pg->len += n;
	pg->buf[pg->len] = '\0';
}

/* Markup: only for literal tags written here, never for record text. */
static void page_tag(struct page *pg, const char *s)
{
	page_raw(pg, s, strlen(s));
}

/* Record text: the five characters that mean something in HTML escaped. */
static void page_text(struct page *pg, const char *s, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		page_raw(pg, s + from, i - from);
		page_tag(pg, rep);
		from = i + 1;
	}
	page_raw(pg, s + from, n - from);
}

static void page_str(struct page *pg, const char *s)
{
	page_text(pg, s, strlen(s));
}

static void page_fmt(struct page *pg, const char *fmt, ...) AJAR_PRINTF(2, 3);
/* Formatted text (numbers, dates), escaped like any other. */
static void page_fmt(struct page *pg, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		page_text(pg, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A member name as a label: "requests_per_minute" -> "requests per minute". */
static void page_label(struct page *pg, const char *name)
{
	char tmp[128];
	size_t n = strlen(name) < sizeof(tmp) - 1 ? strlen(name) : sizeof(tmp) - 1;
	for (size_t i = 0; i < n; i++)
		tmp[i] = name[i] == '_' ? ' ' : name[i];
	page_text(pg, tmp, n);
}

/* An integer with thousands separators: 1234567 -> 1,234,567. */
static void page_int(struct page *pg, json_int_t v)
{
	char digits[32], out[48];
	int n = snprintf(digits, sizeof(digits), "%" JSON_INTEGER_FORMAT, v), o = 0;
	for (int i = 0; i < n; i++) {
		if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	page_text(pg, out, (size_t)o);
}

static bool is_scalar(const json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

static void render_value(struct page *pg, const json_t *v, int depth);
static void render_member(struct page *pg, const char *name, const json_t *v, int depth);

static void render_scalar(struct page *pg, const json_t *v)
{
	if (json_is_string(v))
		page_text(pg, json_string_value(v), json_string_length(v));
	else if (json_is_integer(v))
		page_int(pg, json_integer_value(v));
	else if (json_is_real(v))
		page_fmt(pg, "%.6g", json_real_value(v));
	else if (json_is_true(v))
		page_tag(pg, "yes");
	else if (json_is_false(v))
		page_tag(pg, "no");
	else
		page_tag(pg, "<span class=\"none\">none</span>");
}

/* Rows of objects as one table: a column per member name (in order of first
 * appearance), a first column with the row's name when the rows are the
 * members of an object (tiers by name). */
static void render_rows(struct page *pg, const json_t *rows, int depth)
{
	json_t *cols = json_array(); /* member names, as strings */
	const char *k;
	json_t *row, *cell;
	size_t i, c;

	if (!cols) {
		pg->failed = true;
		return;
	}
	for (i = 0; i < json_array_size(rows); i++) {
		row = json_array_get(rows, i);
		json_object_foreach(row, k, cell) {
			bool seen = false;
			for (c = 0; c < json_array_size(cols) && !seen; c++)
				seen = strcmp(json_string_value(json_array_get(cols, c)), k) == 0;
			if (!seen && json_array_append_new(cols, json_string(k)) != 0)
				pg->failed = true;
		}
	}
	page_tag(pg, "<table class=\"rows\"><thead><tr>");
	for (c = 0; c < json_array_size(cols); c++) {
		page_tag(pg, "<th>");
		page_label(pg, json_string_value(json_array_get(cols, c)));
		page_tag(pg, "</th>");
	}
	page_tag(pg, "</tr></thead><tbody>");
	for (i = 0; i < json_array_size(rows); i++) {
		row = json_array_get(rows, i);
		page_tag(pg, "<tr>");
		for (c = 0; c < json_array_size(cols); c++) {
			page_tag(pg, "<td>");
			cell = json_object_get(row, json_string_value(json_array_get(cols, c)));
			if (cell)
				render_member(pg, json_string_value(json_array_get(cols, c)), cell, depth + 1);
			page_tag(pg, "</td>");
		}
		page_tag(pg, "</tr>");
	}
	page_tag(pg, "</tbody></table>");
	json_decref(cols);
}

/* True when every member (object) or element (array) is an object, and
 * there is at least one: such a value reads best as one table, a row each.
 * Except an object whose only member is itself a collection of objects
 * (moderation: {profiles: {...}}): that reads better as a name and its
 * own table than as a table of one row holding a table. */
static bool all_objects(const json_t *v)
{
	const char *k;
	json_t *m, *only = NULL;
	size_t i, n = 0;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, m) {
			if (!json_is_object(m))
				return false;
			only = m;
			n++;
		}
		if (n == 1) {
			json_object_foreach(only, k, m) {
				if (json_is_object(m))
					return false;
			}
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if (!json_is_object(m))
				return false;
			n++;
		}
	}
	return n > 0;
}

/* {name: {...}, ...} as rows with a leading "name" column. */
static void render_named_rows(struct page *pg, const json_t *obj, int depth)
{
	json_t *rows = json_array();
	const char *k;
	json_t *m;

	json_object_foreach((json_t *)obj, k, m) {
		json_t *row = json_pack("{s:s}", "name", k);
		if (!row || json_object_update(row, m) != 0 || json_array_append_new(rows, row) != 0)
			pg->failed = true;
	}
	if (rows)
		render_rows(pg, rows, depth);
	else
		pg->failed = true;
	json_decref(rows);
}

static void render_object(struct page *pg, const json_t *obj, int depth)
{
	const char *k;
	json_t *m;

	if (json_object_size(obj) == 0) {
		page_tag(pg, "<span class=\"none\">none</span>");
		return;
	}
	if (all_objects(obj)) {
		render_named_rows(pg, obj, depth);
		return;
	}
	page_tag(pg, "<table class=\"kv\"><tbody>");
	json_object_foreach((json_t *)obj, k, m) {
		page_tag(pg, "<tr><th>");
		page_label(pg, k);
		page_tag(pg, "</th><td>");
		render_member(pg, k, m, depth + 1);
		page_tag(pg, "</td></tr>");
	}
	page_tag(pg, "</tbody></table>");
}

static void render_array(struct page *pg, const json_t *arr, int depth)
{
	size_t i;
	json_t *m;
	bool scalars = true;

	json_array_foreach(arr, i, m) {
		if (!is_scalar(m))
			scalars = false;
	}
	if (json_array_size(arr) == 0) {
		page_tag(pg, "<span class=\"none\">none</span>");
	} else if (scalars) {
		json_array_foreach(arr, i, m) {
			if (i)
				page_tag(pg, ", ");
			render_scalar(pg, m);
		}
	} else if (all_objects(arr)) {
		render_rows(pg, arr, depth);
	} else {
		page_tag(pg, "<ul>");
		json_array_foreach(arr, i, m) {
			page_tag(pg, "<li>");
			render_value(pg, m, depth + 1);
			page_tag(pg, "</li>");
		}
		page_tag(pg, "</ul>");
	}
}

/* The policy's limits, where 0 means "no limit" (policy.h): printed as
 * "0" a reader would take "0 requests per minute" for none at all. */
static bool is_limit(const char *name)
{
	static const char *const limits[] = { "max_tokens", "max_context", "requests_per_minute",
					      "tokens_per_minute", "tokens_per_day" };
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (strcmp(name, limits[i]) == 0)
			return true;
	return false;
}

static void render_member(struct page *pg, const char *name, const json_t *v, int depth)
{
	if (is_limit(name) && json_is_integer(v) && json_integer_value(v) == 0)
		page_tag(pg, "no limit");
	else
		render_value(pg, v, depth);
}

static void render_value(struct page *pg, const json_t *v, int depth)
{
	if (depth > HTML_DEPTH_MAX)
		page_tag(pg, "...");
	else if (json_is_object(v))
		render_object(pg, v, depth);
	else if (json_is_array(v))
		render_array(pg, v, depth);
	else
		render_scalar(pg, v);
}

static const char page_style[] =
	"body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d1d1f;background:#fafafa}"
	"main{max-width:60rem;margin:0 auto;padding:1.5rem}"
	"h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}"
	"h3{font-size:1.05rem;margin-bottom:.3rem}"
	".sub{color:#666;margin-top:0}nav a{margin-right:1rem}"
	"table{border-collapse:collapse;margin:.4rem 0;background:#fff}"
	"th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}"
	"table.kv>tbody>tr>th{background:#f3f3f3;font-weight:600;white-space:nowrap}"
	"table.rows thead th{background:#f3f3f3}"
	"pre{white-space:pre-wrap;background:#fff;border:1px solid #ddd;padding:.75rem;overflow-x:auto}"
	"code{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}"
	".none{color:#888}details{margin:.5rem 0}summary{cursor:pointer}";

/* A string member of obj as text, or "none". */
static void page_member(struct page *pg, const json_t *obj, const char *name)
{
	render_scalar(pg, json_object_get(obj, name) ? json_object_get(obj, name) : json_null());
}

static void page_row(struct page *pg, const char *label, const json_t *value)
{
	page_tag(pg, "<tr><th>");
	page_str(pg, label);
	page_tag(pg, "</th><td>");
	render_value(pg, value ? value : json_null(), 1);
	page_tag(pg, "</td></tr>");
}

static void section_model(struct page *pg, const json_t *m)
{
	static const struct {
		const char *label, *member;
	} rows[] = {
		{ "Name", "name" }, { "File", "file" }, { "Architecture", "architecture" },
		{ "Parameters", "parameters" }, { "Context length", "context_length" },
		{ "Embedding length", "embedding_length" }, { "Layers", "block_count" },
		{ "Vocabulary", "vocab_size" }, { "Tensors", "tensor_count" }, { "Tensor types", "tensor_types" },
		{ "File size (bytes)", "file_size" },
	};

	page_tag(pg, "<section id=\"model\"><h2>Model</h2>");
	if (!json_is_object(m)) {
		page_tag(pg, "<p class=\"none\">No model facts.</p></section>");
		return;
	}
	page_tag(pg, "<table class=\"kv\"><tbody>");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		page_row(pg, rows[i].label, json_object_get(m, rows[i].member));
	page_tag(pg, "<tr><th>SHA-256</th><td><code>");
	page_member(pg, m, "sha256");
	page_tag(pg, "</code></td></tr></tbody></table></section>");
}

static void section_card(struct page *pg, const json_t *card)
{
	page_tag(pg, "<section id=\"card\"><h2>Model card</h2>");
	if (!json_is_object(card)) {
		page_tag(pg, "<p class=\"none\">The operator has not published a model card.</p></section>");
		return;
	}
	page_tag(pg, "<p class=\"sub\">From <code>");
	page_member(pg, card, "source");
	page_tag(pg, "</code></p><pre>");
	page_member(pg, card, "text");
	page_tag(pg, "</pre></section>");
}

static void section_license(struct page *pg, const json_t *lic, const json_t *use)
{
	page_tag(pg, "<section id=\"license\"><h2>License</h2><table class=\"kv\"><tbody><tr><th>Name</th><td>");
	page_member(pg, lic, "name");
	page_tag(pg, "</td></tr><tr><th>SHA-256 of the text</th><td><code>");
	page_member(pg, lic, "sha256");
	page_tag(pg, "</code></td></tr></tbody></table>");
	if (json_string_length(json_object_get(lic, "text")) > 0) {
		page_tag(pg, "<details><summary>Full license text</summary><pre>");
		page_member(pg, lic, "text");
		page_tag(pg, "</pre></details>");
	}
	if (json_string_length(use) > 0) {
		page_tag(pg, "<h3>Acceptable use</h3><pre>");
		render_scalar(pg, use);
		page_tag(pg, "</pre>");
	}
	page_tag(pg, "</section>");
}

/* One <h3> and its rendering per member: the safeguards and usage sections. */
static void section_members(struct page *pg, const char *id, const char *title, const json_t *obj,
			    const char *empty)
{
	const char *k;
	json_t *m;

	page_tag(pg, "<section id=\"");
	page_tag(pg, id);
	page_tag(pg, "\"><h2>");
	page_tag(pg, title);
	page_tag(pg, "</h2>");
	if (!json_is_object(obj)) {
		page_tag(pg, "<p class=\"none\">");
		page_tag(pg, empty);
		page_tag(pg, "</p>");
	}
	json_object_foreach((json_t *)obj, k, m) {
		page_tag(pg, "<h3>");
		page_label(pg, k);
		page_tag(pg, "</h3>");
		render_member(pg, k, m, 1);
	}
	page_tag(pg, "</section>");
}

static void page_head(struct page *pg, const json_t *record)
{
	const json_t *m = json_object_get(record, "model");
	const json_t *title = json_object_get(m, "name");
	if (!json_is_string(title))
		title = json_object_get(m, "file");

	page_tag(pg, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		     "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Transparency: ");
	render_scalar(pg, title ? title : json_null());
	page_tag(pg, "</title><style>");
	page_tag(pg, page_style);
	page_tag(pg, "</style></head><body><main><h1>");
	render_scalar(pg, title ? title : json_null());
	page_tag(pg, "</h1><p class=\"sub\">Transparency record");
	json_t *at = json_object_get(record, "generated_at");
	if (json_is_integer(at)) {
		time_t t = (time_t)json_integer_value(at);
		struct tm tm;
		char when[64];
		if (gmtime_r(&t, &tm) && strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm)) {
			page_tag(pg, ", generated ");
			page_str(pg, when);
		}
	}
	page_tag(pg, "</p><nav><a href=\"#model\">Model</a><a href=\"#card\">Card</a><a href=\"#license\">License</a>"
		     "<a href=\"#safeguards\">Safeguards</a><a href=\"#usage\">Usage</a></nav>");
}

char *transparency_html(json_t *record)
{
	struct page pg = { 0 };

	page_head(&pg, record);
	section_model(&pg, json_object_get(record, "model"));
	section_card(&pg, json_object_get(record, "card"));
	section_license(&pg, json_object_get(record, "license"), json_object_get(record, "acceptable_use"));
	section_members(&pg, "safeguards", "Safeguards", json_object_get(record, "safeguards"),
			"No safeguards are described.");
	section_members(&pg, "usage", "Usage", json_object_get(record, "usage"),
			"Usage figures are published by the running server.");
	page_tag(&pg, "</main></body></html>\n");
	if (pg.failed) {
		free(pg.buf);
		return NULL;
	}
	return pg.buf;
}
