/*
 * api_guard.c - the guard around every request of `ajar serve`: the policy,
 * store, secrets, quota and audit chain the server opens at start, and what
 * happens to one request on its way through:
 *
 *   guard_admit      key -> tier (401), capability (403), requests/min (429)
 *   guard_gen_opts   logprobs and max_tokens against the tier (403)
 *   guard_reserve    max_context (403) and the token quota (429; a smaller
 *                    max_tokens, so a stream stops with "length")
 *   guard_settle     unused reserved tokens given back (engine thread)
 *   guard_audit      the audit row, durable before the reply is queued
 *
 * The guard modules themselves (src/guard, src/store) know nothing of HTTP;
 * this file is the glue, and the only place the server reads a key.
 */
#include "guard/audit.h"
#include "guard/keys.h"
#include "guard/policy.h"
#include "guard/quota.h"
#include "guard/transparency.h"
#include "server/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* With retention "full", the most output text an audit row keeps: a
 * runaway generation must not make a row of unbounded size. */
#define RETAIN_OUTPUT_MAX ((size_t)1 << 20)


static int64_t unix_now(void)
{
	return (int64_t)time(NULL);
}

/* ---- start and stop ---- */

/* True if st holds an admin key that is neither revoked nor expired. */
static enum ajar_err have_admin_key(struct store *st, bool *yes)
{
	struct store_key *keys = NULL;
	size_t n = 0;
	enum ajar_err err = store_key_list(st, &keys, &n);
	int64_t now = unix_now();

	*yes = false;
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].tier, "admin") == 0 && !keys[i].revoked &&
		    (!keys[i].expires || keys[i].expires > now))
			*yes = true;
	free(keys);
	return AJAR_OK;
}

/* Writes key and a newline to a new file only its owner can read. */
static enum ajar_err write_key_file(const char *path, const char *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
	size_t n = strlen(key);
	bool ok = fchmod(fd, 0600) == 0 && write(fd, key, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
	ok = close(fd) == 0 && ok;
	return ok ? AJAR_OK : ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
}

/* A store with no admin key gets one, shown once in the log: without it
 * nobody could approve an access request or revoke a key over HTTP. */
static enum ajar_err bootstrap_admin_key(struct server *s)
{
	char key[KEY_STRING_MAX];
	struct store_key rec;
	bool have;
	enum ajar_err err;

	if ((err = have_admin_key(s->store, &have)) || have)
		return err;
	if ((err = keys_create(s->store, &s->secrets, "admin", "bootstrap", 0, NULL, unix_now(), key, sizeof(key),
			       &rec)))
		return err;
	struct store_audit_row row = { 0 };
	snprintf(row.kind, sizeof(row.kind), "admin");
	snprintf(row.endpoint, sizeof(row.endpoint), "keys.create");
	snprintf(row.key_id, sizeof(row.key_id), "%s", rec.id);
	snprintf(row.tier, sizeof(row.tier), "admin");
	snprintf(row.outcome, sizeof(row.outcome), "ok");
	snprintf(row.reason, sizeof(row.reason), "server start: no admin key");
	if ((err = audit_append(s->audit, &row)))
		goto out;
	if (s->p.admin_key_file) {
		err = write_key_file(s->p.admin_key_file, key);
		if (!err)
			srv_log(s, "created admin key %s; the key is in %s", rec.id, s->p.admin_key_file);
	} else {
		srv_log(s, "created an admin key (shown once; keep it, revoke with `ajar keys revoke %s`): %s", rec.id,
			key);
	}
out:
	sodium_memzero(key, sizeof(key));
	return err;
}

enum ajar_err guard_start(struct server *s)
{
	char uri[4096];
	const char *u = s->p.store_uri;
	enum ajar_err err;

	if ((err = policy_load(s->p.policy_path, &s->policy)))
		return err;
	if (!u) {
		if ((err = store_default_uri(uri, sizeof(uri))))
			return err;
		u = uri;
	}
	if ((err = store_open(u, &s->store)))
		return err;
	if ((err = secrets_load(store_file(s->store), true, &s->secrets)))
		return ajar_err_wrap(err, "store secrets");
	if ((err = audit_open(s->store, &s->secrets, &s->audit)))
		return ajar_err_wrap(err, "audit chain");
	if ((err = quota_new(&s->quota)))
		return err;
	if (s->p.model_path) {
		if ((err = transparency_model_facts(s->p.model_path, &s->model_facts)))
			return err;
		const char *h = json_string_value(json_object_get(s->model_facts, "sha256"));
		snprintf(s->weights_sha256, sizeof(s->weights_sha256), "%s", h ? h : "");
	}
	/* The card file is read per request; a missing one is a start-up error
	 * rather than a broken transparency page later. */
	json_t *rec = NULL;
	if ((err = transparency_record(s->model_facts, s->policy, s->p.card_path, NULL, unix_now(), &rec)))
		return err;
	json_decref(rec);
	return bootstrap_admin_key(s);
}

void guard_stop(struct server *s)
{
	audit_close(s->audit);
	quota_free(s->quota);
	store_close(s->store);
	policy_free(s->policy);
	json_decref(s->model_facts);
	secrets_wipe(&s->secrets);
	s->audit = NULL;
	s->quota = NULL;
	s->store = NULL;
	s->policy = NULL;
	s->model_facts = NULL;
}

/* ---- admission ---- */

static enum MHD_Result refuse(struct http_ctx *c, unsigned status, const char *type, const char *code,
			      const char *param, const char *msg)
{
	struct api_error e;
	api_fail_as(&e, status, type, code, param, "%s", msg);
	return http_reply_error(c, &e);
}

/* The bearer token of the Authorization header, or NULL. */
static const char *bearer(const struct http_ctx *c)
{
	const char *h = http_header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h)
		return NULL;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

static void limits_of(const struct policy_tier *t, struct quota_limits *lim)
{
	lim->requests_per_minute = t->requests_per_minute;
	lim->tokens_per_minute = t->tokens_per_minute;
	lim->tokens_per_day = t->tokens_per_day;
}

static bool has_limits(const struct policy_tier *t)
{
	return t->requests_per_minute || t->tokens_per_minute || t->tokens_per_day;
}

/* "ip:ADDRESS" of the client, for limits on requests without a key. */
static void client_bucket(const struct http_ctx *c, char *out, size_t cap)
{
	char host[64] = "unknown";
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		if (getnameinfo(sa, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
			snprintf(host, sizeof(host), "unknown");
	}
	snprintf(out, cap, "ip:%s", host);
}

/* A key's limits are its own; requests without a key (the anonymous tier)
 * are limited per client address. */
static const char *bucket_of(struct http_ctx *c)
{
	if (c->g.has_key)
		return c->g.key.id;
	if (!c->g.bucket[0])
		client_bucket(c, c->g.bucket, sizeof(c->g.bucket));
	return c->g.bucket;
}

bool guard_limit_public(struct http_ctx *c, const char *what, int per_minute)
{
	struct quota_limits lim = { .requests_per_minute = per_minute };
	struct quota_state st;
	struct api_error e;
	char bucket[96];

	client_bucket(c, bucket, sizeof(bucket));
	/* Its own bucket: the anonymous tier's limits are another matter. */
	size_t n = strlen(bucket);
	snprintf(bucket + n, sizeof(bucket) - n, "/%s", what);
	if (quota_admit_request(c->srv->quota, bucket, &lim, unix_now(), &st) == QUOTA_OK)
		return true;
	api_fail_as(&e, 429, "requests", "rate_limit_exceeded", NULL,
		    "too many %s requests from this address: %d per minute; retry in %lld s", what, per_minute,
		    (long long)st.reset_requests_s);
	e.retry_after = st.reset_requests_s > 0 ? (unsigned)st.reset_requests_s : 1;
	http_reply_error(c, &e);
	return false;
}

static void keep_state(struct http_ctx *c, const struct quota_state *st)
{
	c->g.has_limits = true;
	c->g.rl_limit_req = st->limit_requests;
	c->g.rl_left_req = st->remaining_requests;
	c->g.rl_limit_tok = st->limit_tokens;
	c->g.rl_left_tok = st->remaining_tokens;
	c->g.rl_reset_req = st->reset_requests_s;
	c->g.rl_reset_tok = st->reset_tokens_s;
}

/* The day's tokens of a key not seen since start come from the store, so a
 * restart does not hand out a fresh daily quota. */
static void seed_quota(struct http_ctx *c)
{
	struct server *s = c->srv;
	const char *id = bucket_of(c);

	if (!c->g.has_key)
		return; /* no stored usage: the store counts per key */
	struct store_usage u;
	int64_t day = unix_now() / 86400;

	if (quota_known(s->quota, id))
		return;
	if (store_usage_get(s->store, id, day, &u) == AJAR_OK)
		quota_seed_day(s->quota, id, day, u.tokens_in + u.tokens_out);
}

/* Sets c->g.key and tier from the Authorization header; replies 401 and
 * returns false when there is no acceptable key. */
static bool authenticate(struct http_ctx *c, enum MHD_Result *ret)
{
	struct server *s = c->srv;
	const char *presented = bearer(c);
	enum key_verdict v;

	if (!presented) {
		if (s->policy->anonymous_tier[0]) {
			c->g.tier = policy_tier(s->policy, s->policy->anonymous_tier);
			return c->g.tier != NULL;
		}
		*ret = refuse(c, 401, "invalid_request_error", "missing_api_key", NULL,
			      "no API key: send the header 'Authorization: Bearer KEY' (request access at /access)");
		return false;
	}
	if (keys_check(s->store, &s->secrets, presented, unix_now(), &v, &c->g.key)) {
		srv_log(s, "key check failed: %s", ajar_err_msg());
		*ret = refuse(c, 500, "server_error", "store_error", NULL, "the key store could not be read");
		return false;
	}
	if (v != KEY_OK) {
		static const char *const codes[] = { "", "invalid_api_key", "invalid_api_key", "revoked_api_key",
						     "expired_api_key" };
		/* The id is named only for a key that exists: it helps the owner
		 * and tells a guesser nothing. */
		if (v == KEY_REVOKED || v == KEY_EXPIRED)
			c->g.has_key = true;
		*ret = refuse(c, 401, "invalid_request_error", codes[v], NULL, key_verdict_message(v));
		return false;
	}
	c->g.has_key = true;
	c->g.tier = policy_tier(s->policy, c->g.key.tier);
	if (!c->g.tier) {
		char msg[160];
		snprintf(msg, sizeof(msg), "this key's tier '%s' is not in the server's policy", c->g.key.tier);
		*ret = refuse(c, 403, "permission_error", "tier_unavailable", NULL, msg);
		return false;
	}
	return true;
}

bool guard_admit(struct http_ctx *c, enum route_access acc, unsigned cap)
{
	struct server *s = c->srv;
	enum MHD_Result ret = MHD_YES;
	struct quota_limits lim;
	struct quota_state st;
	char msg[256];

	if (acc == ACCESS_PUBLIC)
		return true;
	if (!authenticate(c, &ret))
		return false;
	const struct policy_tier *t = c->g.tier;
	if (acc == ACCESS_CAP && !(t->caps & cap)) {
		if (cap == CAP_ADMIN)
			snprintf(msg, sizeof(msg), "%s %s needs an admin key", c->method, c->path);
		else
			snprintf(msg, sizeof(msg), "the %s tier does not allow %s", t->name, policy_cap_name(cap));
		refuse(c, 403, "permission_error", "insufficient_tier", NULL, msg);
		return false;
	}
	if (!has_limits(t))
		return true;
	seed_quota(c);
	limits_of(t, &lim);
	if (quota_admit_request(s->quota, bucket_of(c), &lim, unix_now(), &st) != QUOTA_OK) {
		struct api_error e;
		keep_state(c, &st);
		api_fail_as(&e, 429, "requests", "rate_limit_exceeded", NULL,
			    "rate limit reached: %lld requests per minute for the %s tier; retry in %lld s",
			    (long long)t->requests_per_minute, t->name, (long long)st.reset_requests_s);
		e.retry_after = st.reset_requests_s > 0 ? (unsigned)st.reset_requests_s : 1;
		http_reply_error(c, &e);
		return false;
	}
	keep_state(c, &st);
	return true;
}

/* ---- generation limits ---- */

int guard_gen_opts(struct http_ctx *c, struct gen_opts *o, struct api_error *e)
{
	const struct policy_tier *t = c->g.tier;

	if (!t)
		return 0;
	if (o->n_logprobs >= 0 && !(t->caps & CAP_LOGPROBS))
		return api_fail_as(e, 403, "permission_error", "insufficient_tier", "logprobs",
				   "the %s tier does not allow logprobs", t->name);
	if (t->max_tokens > 0) {
		if (o->max_tokens > t->max_tokens)
			return api_fail_as(e, 403, "permission_error", "limit_exceeded", "max_tokens",
					   "max_tokens %d exceeds the %s tier's limit of %d", (int)o->max_tokens,
					   t->name, (int)t->max_tokens);
		if (o->max_tokens < 0)
			o->max_tokens = t->max_tokens;
	}
	return 0;
}

int guard_reserve(struct http_ctx *c, size_t n_prompt, int32_t *max_tokens, struct guard_reservation *r,
		  struct api_error *e)
{
	struct server *s = c->srv;
	const struct policy_tier *t = c->g.tier;
	struct quota_limits lim;
	struct quota_state st;
	int64_t granted = 0;

	memset(r, 0, sizeof(*r));
	if (!t)
		return 0;
	if (t->max_context > 0) {
		if (n_prompt >= (size_t)t->max_context)
			return api_fail_as(e, 403, "permission_error", "limit_exceeded", "max_context",
					   "the prompt has %zu tokens; the %s tier's max_context is %d", n_prompt,
					   t->name, (int)t->max_context);
		int32_t room = t->max_context - (int32_t)n_prompt;
		if (*max_tokens < 0 || *max_tokens > room)
			*max_tokens = room;
	}
	if (!t->tokens_per_minute && !t->tokens_per_day)
		return 0;
	limits_of(t, &lim);
	int64_t now = unix_now();
	if (quota_reserve_tokens(s->quota, bucket_of(c), &lim, now, (int64_t)n_prompt, *max_tokens, &granted, &st) !=
	    QUOTA_OK) {
		keep_state(c, &st);
		api_fail_as(e, 429, "tokens", "rate_limit_exceeded", NULL,
			    "token quota reached for the %s tier (%lld left, the prompt needs %zu); retry in %lld s",
			    t->name, (long long)st.remaining_tokens, n_prompt, (long long)st.reset_tokens_s);
		e->retry_after = st.reset_tokens_s > 0 ? (unsigned)st.reset_tokens_s : 1;
		return -1;
	}
	keep_state(c, &st);
	if (*max_tokens < 0 || granted < *max_tokens)
		*max_tokens = (int32_t)granted;
	snprintf(r->key_id, sizeof(r->key_id), "%s", bucket_of(c));
	r->at = now;
	r->n_prompt = (int64_t)n_prompt;
	r->reserved = (int64_t)n_prompt + granted;
	r->active = true;
	return 0;
}

void guard_settle(struct server *s, struct guard_reservation *r, int64_t n_completion)
{
	if (!r->active)
		return;
	r->active = false;
	quota_settle(s->quota, r->key_id, r->at, r->reserved, r->n_prompt + n_completion);
}

/* ---- the audit row ---- */

void guard_output(struct http_ctx *c, const char *text, size_t n)
{
	struct req_guard *g = &c->g;

	if (!g->out_any) {
		crypto_hash_sha256_init(&g->out_hash);
		g->out_any = true;
	}
	crypto_hash_sha256_update(&g->out_hash, (const unsigned char *)text, n);
	if (!c->srv->policy || !c->srv->policy->retain_content)
		return;
	if (g->n_out_text + n > RETAIN_OUTPUT_MAX)
		n = RETAIN_OUTPUT_MAX - g->n_out_text;
	if (n == 0)
		return;
	if (g->n_out_text + n + 1 > g->cap_out_text) {
		size_t cap = g->cap_out_text ? g->cap_out_text : 4096;
		while (cap < g->n_out_text + n + 1)
			cap *= 2;
		char *p = realloc(g->out_text, cap);
		if (!p)
			return;
		g->out_text = p;
		g->cap_out_text = cap;
	}
	memcpy(g->out_text + g->n_out_text, text, n);
	g->n_out_text += n;
	g->out_text[g->n_out_text] = '\0';
}

static const char *outcome_of(const struct http_ctx *c, unsigned status)
{
	if (c->g.outcome)
		return c->g.outcome;
	if (status < 400)
		return c->g.flagged[0] ? "flagged" : "ok";
	if (status == 401 || status == 403 || status == 429)
		return "refused";
	return "error";
}

/* With retention "full": {"request": body, "output": text}, or with
 * moderation {"prompt": the prompt with its PII redacted, "output": the
 * output as sent (redacted)}; else NULL. */
static char *retained_content(const struct http_ctx *c)
{
	if (!c->srv->policy->retain_content)
		return NULL;
	json_t *o = json_object();
	if (c->g.stored_prompt)
		json_object_set_new(o, "prompt", json_string_lossy(c->g.stored_prompt, strlen(c->g.stored_prompt)));
	else
		json_object_set_new(o, "request", json_string_lossy(c->body, c->body_len));
	json_object_set_new(o, "output", c->g.out_text ? json_string_lossy(c->g.out_text, c->g.n_out_text)
						       : json_null());
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

void guard_audit(struct http_ctx *c, unsigned status)
{
	struct server *s = c->srv;
	struct req_guard *g = &c->g;
	struct store_audit_row row = { 0 };
	unsigned char h[crypto_hash_sha256_BYTES];

	if (g->audit_done || !g->audited_kind || !s->audit)
		return;
	g->audit_done = true;
	snprintf(row.kind, sizeof(row.kind), "request");
	snprintf(row.request_id, sizeof(row.request_id), "%s", g->request_id);
	if (g->has_key)
		snprintf(row.key_id, sizeof(row.key_id), "%s", g->key.id);
	if (g->tier)
		snprintf(row.tier, sizeof(row.tier), "%s", g->tier->name);
	if (g->endpoint[0])
		snprintf(row.endpoint, sizeof(row.endpoint), "%s", g->endpoint);
	else
		snprintf(row.endpoint, sizeof(row.endpoint), "%s %.80s", c->method, c->path);
	snprintf(row.model, sizeof(row.model), "%s", s->model_id);
	row.tokens_in = g->tokens_in;
	row.tokens_out = g->tokens_out;
	row.status = (int)status;
	snprintf(row.outcome, sizeof(row.outcome), "%s", outcome_of(c, status));
	if (!g->outcome && status < 400 && g->flagged[0])
		snprintf(row.reason, sizeof(row.reason), "%s", g->flagged);
	else
		snprintf(row.reason, sizeof(row.reason), "%s", g->reason);
	row.latency_us = (int64_t)((mono_now() - c->t_start) * 1e6);
	if (c->body_len)
		audit_sha256_hex(c->body, c->body_len, row.prompt_sha256);
	if (g->out_any) {
		crypto_hash_sha256_final(&g->out_hash, h);
		sodium_bin2hex(row.output_sha256, sizeof(row.output_sha256), h, sizeof(h));
	}
	row.content = retained_content(c);
	if (audit_append(s->audit, &row))
		srv_log(s, "audit: could not append the row of %s %s: %s", c->method, c->path, ajar_err_msg());
	free(row.content);
	free(g->out_text);
	g->out_text = NULL;
	g->n_out_text = g->cap_out_text = 0;
}

void guard_audit_admin(struct http_ctx *c, const char *action, const char *subject_id, const char *detail)
{
	struct server *s = c->srv;
	struct store_audit_row row = { 0 };

	snprintf(row.kind, sizeof(row.kind), "admin");
	snprintf(row.request_id, sizeof(row.request_id), "%s", c->g.request_id);
	snprintf(row.key_id, sizeof(row.key_id), "%s", subject_id ? subject_id : "");
	snprintf(row.endpoint, sizeof(row.endpoint), "%s", action);
	snprintf(row.model, sizeof(row.model), "%s", s->model_id);
	snprintf(row.outcome, sizeof(row.outcome), "ok");
	snprintf(row.reason, sizeof(row.reason), "by %s%s%s", c->g.has_key ? c->g.key.id : "?", detail ? ": " : "",
		 detail ? detail : "");
	row.status = 200;
	if (audit_append(s->audit, &row))
		srv_log(s, "audit: could not append admin action %s: %s", action, ajar_err_msg());
}

static void add_int_header(struct MHD_Response *r, const char *name, int64_t v)
{
	char b[32];
	snprintf(b, sizeof(b), "%lld", (long long)v);
	MHD_add_response_header(r, name, b);
}

static void add_reset_header(struct MHD_Response *r, const char *name, int64_t s)
{
	char b[32];
	snprintf(b, sizeof(b), "%llds", (long long)(s > 0 ? s : 0));
	MHD_add_response_header(r, name, b);
}

void guard_headers(const struct http_ctx *c, struct MHD_Response *r)
{
	const struct req_guard *g = &c->g;

	if (g->audited_kind && g->request_id[0])
		MHD_add_response_header(r, "x-request-id", g->request_id);
	if (!g->has_limits)
		return;
	if (g->rl_limit_req >= 0) {
		add_int_header(r, "x-ratelimit-limit-requests", g->rl_limit_req);
		add_int_header(r, "x-ratelimit-remaining-requests", g->rl_left_req);
		add_reset_header(r, "x-ratelimit-reset-requests", g->rl_reset_req);
	}
	if (g->rl_limit_tok >= 0) {
		add_int_header(r, "x-ratelimit-limit-tokens", g->rl_limit_tok);
		add_int_header(r, "x-ratelimit-remaining-tokens", g->rl_left_tok);
		add_reset_header(r, "x-ratelimit-reset-tokens", g->rl_reset_tok);
	}
}
