/*
 * api_admin.c - the admin API (admin keys only; the router checks):
 *
 *   GET  /admin/keys                 every key, never a secret
 *   POST /admin/keys                 {"tier", "owner"?, "expires_in_days"?}: a new key, shown once
 *   POST /admin/keys/{id}/revoke     refused on its very next request
 *   POST /admin/keys/{id}/rotate     revoke and replace (same tier, owner, expiry)
 *   GET  /admin/access[?status=pending|approved|denied|all]
 *   GET  /admin/access/{id}
 *   POST /admin/access/{id}/approve  {"tier"?}
 *   POST /admin/access/{id}/deny     {"reason"}
 *   GET  /admin/usage[?days=N]       requests and tokens per key and day
 *   GET  /admin/audit[?limit=N]      the newest audit rows
 *   GET  /admin/audit/verify         the chain's verification
 *
 * Every change is also an admin row in the audit chain (guard_audit_admin),
 * besides the row of the HTTP request itself.
 */
#include "guard/access.h"
#include "guard/audit.h"
#include "guard/keys.h"
#include "guard/policy.h"
#include "server/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUDIT_LIMIT_MAX 1000
#define USAGE_DAYS_MAX 366

static int64_t unix_now(void)
{
	return (int64_t)time(NULL);
}

static enum MHD_Result fail(struct http_ctx *c, unsigned status, const char *code, const char *param,
			    const char *msg)
{
	struct api_error e;
	api_fail_as(&e, status, status >= 500 ? "server_error" : "invalid_request_error", code, param, "%s", msg);
	return http_reply_error(c, &e);
}

/* A store error: NOT_FOUND is the client's 404, INVALID its 400, the rest ours. */
static enum MHD_Result fail_err(struct http_ctx *c, enum ajar_err err, const char *what)
{
	if (err == AJAR_ERR_NOT_FOUND)
		return fail(c, 404, "not_found", NULL, ajar_err_msg());
	if (err == AJAR_ERR_INVALID || err == AJAR_ERR_LIMIT)
		return fail(c, 400, NULL, NULL, ajar_err_msg());
	srv_log(c->srv, "admin %s: %s", what, ajar_err_msg());
	return fail(c, 500, "store_error", NULL, "the store failed; see the server log");
}

static json_t *time_or_null(int64_t t)
{
	return t ? json_integer((json_int_t)t) : json_null();
}

static json_t *key_json(const struct store_key *k, int64_t now)
{
	json_t *o = json_object();
	const char *status = k->revoked ? "revoked" : (k->expires && now >= k->expires) ? "expired" : "active";
	json_object_set_new(o, "id", json_string(k->id));
	json_object_set_new(o, "tier", json_string(k->tier));
	json_object_set_new(o, "owner", json_string_lossy(k->owner, strlen(k->owner)));
	json_object_set_new(o, "created", json_integer((json_int_t)k->created));
	json_object_set_new(o, "expires", time_or_null(k->expires));
	json_object_set_new(o, "revoked", time_or_null(k->revoked));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "access_id", k->access_id[0] ? json_string(k->access_id) : json_null());
	return o;
}

static json_t *list_of(json_t *data)
{
	json_t *o = json_object();
	json_object_set_new(o, "object", json_string("list"));
	json_object_set_new(o, "data", data);
	return o;
}

/* A body that may be empty: {} then. NULL with a 400 queued if malformed. */
static json_t *optional_body(struct http_ctx *c, enum MHD_Result *ret)
{
	struct api_error e;
	if (c->body_len == 0)
		return json_object();
	json_t *b = api_parse_body(c, &e);
	if (!b)
		*ret = http_reply_error(c, &e);
	return b;
}

/* ---- keys ---- */

enum MHD_Result api_admin_keys(struct http_ctx *c)
{
	struct store_key *keys = NULL;
	size_t n = 0;
	enum ajar_err err = store_key_list(c->srv->store, &keys, &n);
	if (err)
		return fail_err(c, err, "keys");
	json_t *data = json_array();
	int64_t now = unix_now();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(data, key_json(&keys[i], now));
	free(keys);
	return http_reply_json(c, 200, list_of(data));
}

/* The new key's answer: the record plus the key string, shown once. */
static enum MHD_Result reply_new_key(struct http_ctx *c, const struct store_key *rec, char *key,
				     const char *replaces)
{
	json_t *o = key_json(rec, unix_now());
	json_object_set_new(o, "key", json_string(key));
	if (replaces)
		json_object_set_new(o, "replaces", json_string(replaces));
	sodium_memzero(key, KEY_STRING_MAX);
	return http_reply_json(c, 201, o);
}

enum MHD_Result api_admin_key_create(struct http_ctx *c)
{
	struct server *s = c->srv;
	enum MHD_Result ret = MHD_NO;
	struct api_error e;
	struct store_key rec;
	char key[KEY_STRING_MAX];
	long long days = 0;

	json_t *b = optional_body(c, &ret);
	if (!b)
		return ret;
	json_t *tier = json_object_get(b, "tier");
	json_t *owner = json_object_get(b, "owner");
	if (!json_is_string(tier) || !policy_tier(s->policy, json_string_value(tier))) {
		json_decref(b);
		return fail(c, 400, NULL, "tier", "tier must name a tier of the policy");
	}
	if (owner && !json_is_null(owner) && !json_is_string(owner)) {
		json_decref(b);
		return fail(c, 400, NULL, "owner", "owner must be a string");
	}
	if (jfield_int(b, "expires_in_days", 1, 36500, &days, &e)) {
		json_decref(b);
		return http_reply_error(c, &e);
	}
	int64_t now = unix_now();
	enum ajar_err err = keys_create(s->store, &s->secrets, json_string_value(tier),
					json_is_string(owner) ? json_string_value(owner) : "", days ? now + days * 86400 : 0,
					NULL, now, key, sizeof(key), &rec);
	json_decref(b);
	if (err)
		return fail_err(c, err, "keys.create");
	guard_audit_admin(c, "keys.create", rec.id, rec.tier);
	return reply_new_key(c, &rec, key, NULL);
}

enum MHD_Result api_admin_key_revoke(struct http_ctx *c)
{
	struct server *s = c->srv;
	struct store_key rec;
	enum ajar_err err = keys_revoke(s->store, c->path_arg, unix_now());
	if (!err)
		err = store_key_get(s->store, c->path_arg, &rec);
	if (err)
		return fail_err(c, err, "keys.revoke");
	guard_audit_admin(c, "keys.revoke", rec.id, NULL);
	return http_reply_json(c, 200, key_json(&rec, unix_now()));
}

enum MHD_Result api_admin_key_rotate(struct http_ctx *c)
{
	struct server *s = c->srv;
	struct store_key rec;
	char key[KEY_STRING_MAX];
	enum ajar_err err = keys_rotate(s->store, &s->secrets, c->path_arg, unix_now(), key, sizeof(key), &rec);
	if (err)
		return fail_err(c, err, "keys.rotate");
	guard_audit_admin(c, "keys.revoke", c->path_arg, "rotated");
	guard_audit_admin(c, "keys.create", rec.id, "rotation");
	return reply_new_key(c, &rec, key, c->path_arg);
}

/* ---- access requests ---- */

enum MHD_Result api_admin_access_list(struct http_ctx *c)
{
	const char *q = http_query(c, "status");
	int status = STORE_ACCESS_PENDING;
	struct store_access *reqs = NULL;
	size_t n = 0;

	if (q) {
		if (strcmp(q, "all") == 0)
			status = -1;
		else if (strcmp(q, "approved") == 0)
			status = STORE_ACCESS_APPROVED;
		else if (strcmp(q, "denied") == 0)
			status = STORE_ACCESS_DENIED;
		else if (strcmp(q, "pending") != 0)
			return fail(c, 400, NULL, "status", "status must be pending, approved, denied or all");
	}
	enum ajar_err err = store_access_list(c->srv->store, status, &reqs, &n);
	if (err)
		return fail_err(c, err, "access.list");
	json_t *data = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(data, access_json(&reqs[i]));
	free(reqs);
	return http_reply_json(c, 200, list_of(data));
}

enum MHD_Result api_admin_access_show(struct http_ctx *c)
{
	struct store_access rec;
	enum ajar_err err = store_access_get(c->srv->store, c->path_arg, &rec);
	if (err)
		return fail_err(c, err, "access.show");
	return http_reply_json(c, 200, access_json(&rec));
}

enum MHD_Result api_admin_access_approve(struct http_ctx *c)
{
	struct server *s = c->srv;
	enum MHD_Result ret = MHD_NO;
	struct store_access rec;

	json_t *b = optional_body(c, &ret);
	if (!b)
		return ret;
	json_t *tier = json_object_get(b, "tier");
	if (tier && !json_is_null(tier) && !json_is_string(tier)) {
		json_decref(b);
		return fail(c, 400, NULL, "tier", "tier must be a string");
	}
	enum ajar_err err = access_approve(s->store, s->policy, c->path_arg,
					   json_is_string(tier) ? json_string_value(tier) : NULL, c->g.key.id,
					   unix_now(), &rec);
	json_decref(b);
	if (err)
		return fail_err(c, err, "access.approve");
	guard_audit_admin(c, "access.approve", NULL, rec.id);
	return http_reply_json(c, 200, access_json(&rec));
}

enum MHD_Result api_admin_access_deny(struct http_ctx *c)
{
	struct server *s = c->srv;
	enum MHD_Result ret = MHD_NO;
	struct store_access rec;

	json_t *b = optional_body(c, &ret);
	if (!b)
		return ret;
	json_t *reason = json_object_get(b, "reason");
	if (!json_is_string(reason) || json_string_length(reason) == 0) {
		json_decref(b);
		return fail(c, 400, NULL, "reason", "reason is required: a non-empty string");
	}
	enum ajar_err err = access_deny(s->store, c->path_arg, json_string_value(reason), c->g.key.id, unix_now(),
					&rec);
	json_decref(b);
	if (err)
		return fail_err(c, err, "access.deny");
	guard_audit_admin(c, "access.deny", NULL, rec.id);
	return http_reply_json(c, 200, access_json(&rec));
}

/* ---- usage and audit ---- */

/* A positive integer query argument in [1, max], else def; -1 if malformed. */
static long long query_int(const struct http_ctx *c, const char *name, long long def, long long max)
{
	const char *v = http_query(c, name);
	char *end;
	if (!v)
		return def;
	long long n = strtoll(v, &end, 10);
	if (end == v || *end || n < 1 || n > max)
		return -1;
	return n;
}

enum MHD_Result api_admin_usage(struct http_ctx *c)
{
	struct store_usage *u = NULL;
	size_t n = 0;
	long long days = query_int(c, "days", 7, USAGE_DAYS_MAX);
	if (days < 0)
		return fail(c, 400, NULL, "days", "days must be an integer from 1 to 366");
	int64_t today = unix_now() / 86400;
	enum ajar_err err = store_usage_list(c->srv->store, today - days + 1, &u, &n);
	if (err)
		return fail_err(c, err, "usage");
	json_t *data = json_array();
	for (size_t i = 0; i < n; i++) {
		char date[16];
		time_t t = (time_t)(u[i].day * 86400);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d", &tm);
		json_t *o = json_object();
		json_object_set_new(o, "key_id", json_string(u[i].key_id));
		json_object_set_new(o, "date", json_string(date));
		json_object_set_new(o, "requests", json_integer((json_int_t)u[i].requests));
		json_object_set_new(o, "tokens_in", json_integer((json_int_t)u[i].tokens_in));
		json_object_set_new(o, "tokens_out", json_integer((json_int_t)u[i].tokens_out));
		json_array_append_new(data, o);
	}
	free(u);
	return http_reply_json(c, 200, list_of(data));
}

enum MHD_Result api_admin_audit(struct http_ctx *c)
{
	struct store_audit_row *rows = NULL;
	size_t n = 0;
	long long limit = query_int(c, "limit", 50, AUDIT_LIMIT_MAX);
	if (limit < 0)
		return fail(c, 400, NULL, "limit", "limit must be an integer from 1 to 1000");
	enum ajar_err err = store_audit_recent(c->srv->store, (size_t)limit, &rows, &n);
	if (err)
		return fail_err(c, err, "audit");
	json_t *data = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(data, audit_row_json(&rows[i]));
	store_audit_rows_free(rows, n);
	return http_reply_json(c, 200, list_of(data));
}

enum MHD_Result api_admin_audit_verify(struct http_ctx *c)
{
	struct audit_verdict v;
	enum ajar_err err = audit_verify(c->srv->store, c->srv->secrets.audit_pk, &v);
	if (err)
		return fail_err(c, err, "audit.verify");
	json_t *o = json_object();
	json_object_set_new(o, "ok", json_boolean(v.ok));
	json_object_set_new(o, "rows", json_integer((json_int_t)v.n_rows));
	json_object_set_new(o, "bad_seq", v.ok ? json_null() : json_integer((json_int_t)v.bad_seq));
	json_object_set_new(o, "reason", v.ok ? json_null() : json_string_lossy(v.reason, strlen(v.reason)));
	return http_reply_json(c, 200, o);
}
