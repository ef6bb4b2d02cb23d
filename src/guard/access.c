/*
 * access.c - access requests (access.h): submission with field checks and
 * auto-approval, the status token, manual decisions, and the one-time key.
 *
 * Ids are "req_" and 16 characters of base32 (80 random bits); tokens are
 * 43 characters of base64url (256 random bits), stored only as their keyed
 * digest, like API keys.
 *
 * Claiming the key must make at most one key per request even when two
 * claims race, in one process or two. The store's conditional update only
 * compares the status, which is "approved" for both racers, so it cannot
 * pick a winner; the store's unique key id can. The key id of a request is
 * therefore derived from the request id with the digest key (unguessable,
 * the same for every claimer):
 *
 *   1. the request records that key id (while still approved);
 *   2. whoever then inserts the key with that id first gets the key
 *      string; every other claimer finds the id taken and gets "".
 *
 * A claimer that dies between 1 and 2 leaves a request naming a key that
 * does not exist; the next claim sees that and makes it, so no crash can
 * lose the applicant's key, and no race can make two.
 */
#include "guard/access.h"

#include <assert.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "guard/keys.h"

#define ACCESS_ID_PREFIX "req_"
#define ACCESS_TOKEN_BYTES 32
#define ACCESS_TOKEN_LEN 43
/* Separates this derivation from every other use of the digest key. */
#define CLAIM_CONTEXT "ajar-access-claim-key-id-v1"

static_assert(ACCESS_TOKEN_LEN + 1 <= ACCESS_TOKEN_MAX, "a token fits ACCESS_TOKEN_MAX");
static_assert(sizeof(ACCESS_ID_PREFIX) - 1 + KEY_ID_LEN < STORE_ID_MAX, "a request id fits the store");

const char *access_status_name(int status)
{
	switch (status) {
	case STORE_ACCESS_PENDING: return "pending";
	case STORE_ACCESS_APPROVED: return "approved";
	case STORE_ACCESS_DENIED: return "denied";
	}
	return "unknown";
}

/* Copies a NUL-terminated s into out; the caller has checked it fits. */
static void copy_str(char *out, const char *s)
{
	memcpy(out, s, strlen(s) + 1);
}

static void set_param(char *param, size_t cap, const char *name)
{
	if (param && cap > 0)
		snprintf(param, cap, "%s", name);
}

/*
 * Length of the UTF-8 sequence at s (n bytes left), or 0 if it is not
 * valid (overlong forms, surrogates and values past U+10FFFF included);
 * the code point goes to *cp.
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (len == 0 || len > n || s[0] > 0xf4)
		return 0;
	uint32_t c = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (c < min_for_len[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* NULL if s[0..n) is valid UTF-8 without control characters (multiline
 * allows tab, CR and LF), else why not. */
static const char *text_problem(const char *s, size_t n, bool multiline)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		uint32_t cp = 0;
		size_t len = utf8_next(u + i, n - i, &cp);
		if (len == 0)
			return "is not valid UTF-8";
		bool allowed = multiline && (cp == '\n' || cp == '\r' || cp == '\t');
		if ((cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) && !allowed)
			return "contains a control character";
		i += len;
	}
	return NULL;
}

/*
 * Reads the optional string member name of body into out (cap bytes with
 * the NUL); absent or null leaves "". INVALID/LIMIT with param = name if it
 * is of the wrong type, too long or not clean text.
 */
static enum ajar_err read_text(json_t *body, const char *name, bool multiline, char *out, size_t cap,
			       char *param, size_t param_cap)
{
	json_t *v = json_object_get(body, name);
	out[0] = '\0';
	if (!v || json_is_null(v))
		return AJAR_OK;
	set_param(param, param_cap, name);
	if (!json_is_string(v))
		return ajar_errf(AJAR_ERR_INVALID, "'%s' must be a string", name);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n >= cap)
		return ajar_errf(AJAR_ERR_INVALID, "'%s' is too long (at most %zu bytes)", name, cap - 1);
	if (strlen(s) != n)
		return ajar_errf(AJAR_ERR_INVALID, "'%s' contains a NUL character", name);
	const char *why = text_problem(s, n, multiline);
	if (why)
		return ajar_errf(AJAR_ERR_INVALID, "'%s' %s", name, why);
	memcpy(out, s, n + 1);
	set_param(param, param_cap, "");
	return AJAR_OK;
}

/* True if s has nothing but spaces. */
static bool is_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

/*
 * Checks the shape of an email address: one '@', a non-empty local part,
 * a domain with a dot, no dot at its ends or two in a row, no spaces. The
 * domain, lowercased, goes to domain (cap >= STORE_NAME_MAX).
 */
static bool email_parse(const char *email, char *domain, size_t cap)
{
	const char *at = strchr(email, '@');
	if (!at || at == email || strchr(at + 1, '@'))
		return false;
	const char *d = at + 1;
	size_t n = strlen(d);
	if (n == 0 || n >= cap || !strchr(d, '.') || d[0] == '.' || d[n - 1] == '.' || strstr(d, ".."))
		return false;
	for (const char *c = email; *c; c++)
		if (isspace((unsigned char)*c))
			return false;
	for (size_t i = 0; i <= n; i++)
		domain[i] = (char)tolower((unsigned char)d[i]);
	return true;
}

/* A domain rule matches the domain itself and its subdomains, on label
 * boundaries: x.example.edu matches example.edu, badexample.edu does not. */
static bool domain_matches(const char *domain, const char *rule)
{
	size_t n = strlen(domain), m = strlen(rule);
	if (m == 0 || m > n)
		return false;
	if (strcmp(domain + (n - m), rule) != 0)
		return false;
	return n == m || domain[n - m - 1] == '.';
}

/* NULL if tier may be requested or granted, else why not. */
static const char *tier_problem(const struct policy *p, const char *tier)
{
	const struct policy_tier *t = policy_tier(p, tier);
	if (!t)
		return "is not a tier of this server";
	if (strcmp(tier, "admin") == 0 || (t->caps & CAP_ADMIN))
		return "cannot be requested (admin access is not granted through access requests)";
	return NULL;
}

/* The value of the request field name (for the policy's required list);
 * NULL for a field access requests do not store. */
static const char *field_value(const struct store_access *a, const char *name)
{
	if (strcmp(name, "name") == 0)
		return a->name;
	if (strcmp(name, "email") == 0)
		return a->email;
	if (strcmp(name, "affiliation") == 0)
		return a->affiliation;
	if (strcmp(name, "intended_use") == 0)
		return a->intended_use;
	if (strcmp(name, "tier") == 0)
		return a->tier;
	return NULL;
}

/* The text fields of a submission into a. */
static enum ajar_err read_fields(json_t *body, const struct policy *p, struct store_access *a, char *param,
				 size_t param_cap)
{
	enum ajar_err err;

	if ((err = read_text(body, "name", false, a->name, sizeof(a->name), param, param_cap)) ||
	    (err = read_text(body, "email", false, a->email, sizeof(a->email), param, param_cap)) ||
	    (err = read_text(body, "affiliation", false, a->affiliation, sizeof(a->affiliation), param,
			     param_cap)) ||
	    (err = read_text(body, "intended_use", true, a->intended_use, sizeof(a->intended_use), param,
			     param_cap)) ||
	    (err = read_text(body, "tier", false, a->tier, sizeof(a->tier), param, param_cap)))
		return err;

	for (size_t i = 0; i < p->n_access_required; i++) {
		const char *name = p->access_required[i];
		const char *v = field_value(a, name);
		json_t *raw = json_object_get(body, name);
		bool empty = v ? is_blank(v) : !json_is_string(raw) || is_blank(json_string_value(raw));
		if (empty) {
			set_param(param, param_cap, name);
			return ajar_errf(AJAR_ERR_INVALID, "'%s' is required", name);
		}
	}
	char domain[STORE_NAME_MAX];
	if (a->email[0] && !email_parse(a->email, domain, sizeof(domain))) {
		set_param(param, param_cap, "email");
		return ajar_errf(AJAR_ERR_INVALID, "'email' is not an email address (name@domain.tld)");
	}
	return AJAR_OK;
}

/* The tier and the license of a submission into a. */
static enum ajar_err read_terms(json_t *body, const struct policy *p, struct store_access *a, char *param,
				size_t param_cap)
{
	if (!a->tier[0]) {
		if (strlen(p->access_default_tier) >= sizeof(a->tier))
			return ajar_errf(AJAR_ERR_LIMIT, "the policy's default tier name is too long");
		copy_str(a->tier, p->access_default_tier);
	}
	const char *why = tier_problem(p, a->tier);
	if (why) {
		set_param(param, param_cap, "tier");
		return ajar_errf(AJAR_ERR_INVALID, "tier '%s' %s", a->tier, why);
	}
	if (!json_is_true(json_object_get(body, "accept_license"))) {
		set_param(param, param_cap, "accept_license");
		return ajar_errf(AJAR_ERR_INVALID, "the license must be accepted (\"accept_license\": true)");
	}
	json_t *sha = json_object_get(body, "license_sha256");
	if (sha && !json_is_null(sha) &&
	    (!json_is_string(sha) || strcasecmp(json_string_value(sha), p->license_sha256) != 0)) {
		set_param(param, param_cap, "license_sha256");
		return ajar_errf(AJAR_ERR_INVALID,
				 "'license_sha256' is not the license in force (SHA-256 %s); read it again and accept that",
				 p->license_sha256);
	}
	static_assert(sizeof(a->license_sha256) == sizeof(p->license_sha256), "both hold 64 hex digits");
	memcpy(a->license_sha256, p->license_sha256, sizeof(a->license_sha256));
	a->license_sha256[sizeof(a->license_sha256) - 1] = '\0';
	return AJAR_OK;
}

/* Applies the first auto-approval rule for the requested tier that matches. */
static void auto_approve(const struct policy *p, struct store_access *a, int64_t now)
{
	char domain[STORE_NAME_MAX] = "";
	bool have_domain = a->email[0] && email_parse(a->email, domain, sizeof(domain));

	for (size_t i = 0; i < p->n_auto_rules; i++) {
		const struct policy_auto_rule *r = &p->auto_rules[i];
		bool match = r->any_email;
		if (strcmp(r->tier, a->tier) != 0)
			continue;
		for (size_t j = 0; !match && have_domain && j < r->n_email_domains; j++)
			match = domain_matches(domain, r->email_domains[j]);
		if (!match)
			continue;
		a->status = STORE_ACCESS_APPROVED;
		copy_str(a->granted_tier, a->tier);
		/* Rules are numbered from 1 in the order of the policy file. */
		snprintf(a->reason, sizeof(a->reason), "auto-approved: rule %zu", i + 1);
		copy_str(a->decided_by, "auto");
		a->decided = now;
		return;
	}
}

enum ajar_err access_submit(struct store *st, const struct guard_secrets *sec, const struct policy *p,
			    json_t *body, int64_t now, struct store_access *out, char *token_out, size_t token_cap,
			    char *param, size_t param_cap)
{
	uint8_t raw[ACCESS_TOKEN_BYTES];
	char token[ACCESS_TOKEN_MAX], key_id[KEY_ID_LEN + 1];
	struct store_access a;
	enum ajar_err err;

	set_param(param, param_cap, "");
	if (token_out && token_cap > 0)
		token_out[0] = '\0';
	if (!token_out || token_cap < ACCESS_TOKEN_MAX)
		return ajar_errf(AJAR_ERR_LIMIT, "token buffer of %zu bytes; a token needs %d", token_cap,
				 ACCESS_TOKEN_MAX);
	if (!sec->have_sk)
		return ajar_errf(AJAR_ERR_INVALID, "access requests need the store's secret file");
	if (!json_is_object(body))
		return ajar_errf(AJAR_ERR_INVALID, "the request body must be a JSON object");
	memset(&a, 0, sizeof(a));
	err = read_fields(body, p, &a, param, param_cap);
	if (!err)
		err = read_terms(body, p, &a, param, param_cap);
	if (err)
		return err;

	randombytes_buf(raw, KEY_ID_LEN * 5 / 8);
	keys_base32_id(raw, key_id);
	snprintf(a.id, sizeof(a.id), "%s%s", ACCESS_ID_PREFIX, key_id);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(token, sizeof(token), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	secrets_digest(sec, token, strlen(token), a.token_digest);
	a.status = STORE_ACCESS_PENDING;
	a.created = now;
	auto_approve(p, &a, now);

	err = store_access_insert(st, &a);
	if (!err) {
		copy_str(token_out, token);
		if (out)
			*out = a;
	}
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(token, sizeof(token));
	return err;
}

static bool id_fits(const char *id)
{
	return id && *id && strnlen(id, STORE_ID_MAX) < STORE_ID_MAX;
}

enum ajar_err access_check_token(struct store *st, const struct guard_secrets *sec, const char *id,
				 const char *token, struct store_access *out)
{
	struct store_access a;
	uint8_t digest[32];
	size_t n = token ? strnlen(token, ACCESS_TOKEN_MAX) : 0;

	/* One message for every failure: a wrong token must not tell that the
	 * id exists. */
	secrets_digest(sec, token ? token : "", n, digest);
	if (!id_fits(id) || !token || n >= ACCESS_TOKEN_MAX)
		return ajar_errf(AJAR_ERR_NOT_FOUND, "no access request with this id and token");
	enum ajar_err err = store_access_get(st, id, &a);
	if (err == AJAR_ERR_NOT_FOUND || (!err && crypto_verify_32(digest, a.token_digest) != 0))
		return ajar_errf(AJAR_ERR_NOT_FOUND, "no access request with this id and token");
	if (err)
		return err;
	if (out)
		*out = a;
	return AJAR_OK;
}

/* Reads request id for a decision: NOT_FOUND, or INVALID if it is decided. */
static enum ajar_err get_pending(struct store *st, const char *id, const char *decided_by, struct store_access *a)
{
	if (!id_fits(id))
		return ajar_errf(AJAR_ERR_NOT_FOUND, "no access request '%.*s'", STORE_ID_MAX - 1, id ? id : "");
	if (!decided_by || !*decided_by || strlen(decided_by) >= sizeof(a->decided_by))
		return ajar_errf(AJAR_ERR_INVALID, "a decision needs who made it (at most %zu bytes)",
				 sizeof(a->decided_by) - 1);
	enum ajar_err err = store_access_get(st, id, a);
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(AJAR_ERR_NOT_FOUND, "no access request '%s'", id);
	if (err)
		return err;
	if (a->status != STORE_ACCESS_PENDING)
		return ajar_errf(AJAR_ERR_INVALID, "access request %s is already %s", id,
				 access_status_name(a->status));
	return AJAR_OK;
}

enum ajar_err access_approve(struct store *st, const struct policy *p, const char *id, const char *tier,
			     const char *decided_by, int64_t now, struct store_access *out)
{
	struct store_access a;
	enum ajar_err err = get_pending(st, id, decided_by, &a);
	if (err)
		return err;
	tier = tier ? tier : a.tier;
	const char *why = strlen(tier) < sizeof(a.granted_tier) ? tier_problem(p, tier) : "is too long";
	if (why)
		return ajar_errf(AJAR_ERR_INVALID, "tier '%.*s' %s", STORE_TIER_MAX, tier, why);
	a.status = STORE_ACCESS_APPROVED;
	copy_str(a.granted_tier, tier);
	a.reason[0] = '\0';
	copy_str(a.decided_by, decided_by);
	a.decided = now;
	/* Conditional on "pending": of two admins deciding at once, one wins. */
	err = store_access_update(st, &a, STORE_ACCESS_PENDING);
	if (err)
		return err;
	if (out)
		*out = a;
	return AJAR_OK;
}

enum ajar_err access_deny(struct store *st, const char *id, const char *reason, const char *decided_by,
			  int64_t now, struct store_access *out)
{
	struct store_access a;
	enum ajar_err err = get_pending(st, id, decided_by, &a);
	if (err)
		return err;
	if (!reason || is_blank(reason))
		return ajar_errf(AJAR_ERR_INVALID, "a denial needs a reason");
	size_t n = strlen(reason);
	if (n >= sizeof(a.reason))
		return ajar_errf(AJAR_ERR_LIMIT, "the reason is too long (at most %zu bytes)", sizeof(a.reason) - 1);
	const char *why = text_problem(reason, n, false);
	if (why)
		return ajar_errf(AJAR_ERR_INVALID, "the reason %s", why);
	a.status = STORE_ACCESS_DENIED;
	a.granted_tier[0] = '\0';
	copy_str(a.reason, reason);
	copy_str(a.decided_by, decided_by);
	a.decided = now;
	err = store_access_update(st, &a, STORE_ACCESS_PENDING);
	if (err)
		return err;
	if (out)
		*out = a;
	return AJAR_OK;
}

/* The key id every claim of request id uses (see the top of the file). */
static void claim_key_id(const struct guard_secrets *sec, const char *id, char out[KEY_ID_LEN + 1])
{
	uint8_t h[crypto_generichash_BYTES_MIN];
	crypto_generichash_state s;

	crypto_generichash_init(&s, sec->digest_key, sizeof(sec->digest_key), sizeof(h));
	crypto_generichash_update(&s, (const unsigned char *)CLAIM_CONTEXT, sizeof(CLAIM_CONTEXT));
	crypto_generichash_update(&s, (const unsigned char *)id, strlen(id));
	crypto_generichash_final(&s, h, sizeof(h));
	static_assert(sizeof(h) >= KEY_ID_LEN * 5 / 8, "enough bytes for an id");
	keys_base32_id(h, out);
}

enum ajar_err access_claim_key(struct store *st, const struct guard_secrets *sec, const char *id, int64_t now,
			       char *key_out, size_t cap, struct store_access *out)
{
	char kid[KEY_ID_LEN + 1];
	struct store_access a;
	struct store_key k;
	enum ajar_err err;

	if (key_out && cap > 0)
		key_out[0] = '\0';
	if (!key_out || cap < KEY_STRING_MAX)
		return ajar_errf(AJAR_ERR_LIMIT, "key buffer of %zu bytes; a key needs %d", cap, KEY_STRING_MAX);
	if (!id_fits(id))
		return ajar_errf(AJAR_ERR_NOT_FOUND, "no access request '%.*s'", STORE_ID_MAX - 1, id ? id : "");
	err = store_access_get(st, id, &a);
	if (err || a.status != STORE_ACCESS_APPROVED)
		goto done;
	claim_key_id(sec, a.id, kid);
	if (!a.key_id[0]) {
		copy_str(a.key_id, kid);
		err = store_access_update(st, &a, STORE_ACCESS_APPROVED);
		if (err == AJAR_ERR_INVALID) /* no longer approved: show it as it is */
			err = store_access_get(st, id, &a);
		if (err || a.status != STORE_ACCESS_APPROVED)
			goto done;
	} else if (strcmp(a.key_id, kid) != 0) {
		goto done; /* a key was issued by other means */
	}
	err = store_key_get(st, kid, &k);
	if (err != AJAR_ERR_NOT_FOUND)
		goto done; /* retrieved already (or the store failed) */
	err = keys_create_as(st, sec, kid, a.granted_tier, a.email, 0, a.id, now, key_out, cap, NULL);
	if (err == AJAR_ERR_INVALID && store_key_get(st, kid, &k) == AJAR_OK)
		err = AJAR_OK; /* another claim inserted it first: it got the key */
done:
	if (!err && out)
		*out = a;
	return err;
}

/* name: s as a JSON string. Text the store holds was checked on the way
 * in, but a hand-edited row may not be UTF-8: its other bytes become '?'
 * rather than the field going missing. */
static int set_text(json_t *obj, const char *name, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	json_t *v = json_stringn(s, n);
	if (!v) {
		char copy[STORE_TEXT_MAX];
		n = n < sizeof(copy) ? n : sizeof(copy) - 1;
		for (size_t i = 0; i < n; i++)
			copy[i] = (s[i] & 0x80) ? '?' : s[i];
		v = json_stringn(copy, n);
	}
	return json_object_set_new(obj, name, v);
}

json_t *access_json(const struct store_access *a)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int bad = set_text(o, "id", a->id, sizeof(a->id)) |
		  json_object_set_new(o, "status", json_string(access_status_name(a->status))) |
		  set_text(o, "name", a->name, sizeof(a->name)) | set_text(o, "email", a->email, sizeof(a->email)) |
		  set_text(o, "affiliation", a->affiliation, sizeof(a->affiliation)) |
		  set_text(o, "intended_use", a->intended_use, sizeof(a->intended_use)) |
		  set_text(o, "tier", a->tier, sizeof(a->tier)) |
		  set_text(o, "license_sha256", a->license_sha256, sizeof(a->license_sha256)) |
		  set_text(o, "granted_tier", a->granted_tier, sizeof(a->granted_tier)) |
		  set_text(o, "reason", a->reason, sizeof(a->reason)) |
		  set_text(o, "decided_by", a->decided_by, sizeof(a->decided_by)) |
		  set_text(o, "key_id", a->key_id, sizeof(a->key_id)) |
		  json_object_set_new(o, "created", json_integer(a->created)) |
		  json_object_set_new(o, "decided", json_integer(a->decided));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
