/*
 * api_public.c - the endpoints anyone may call, and the gated weights:
 *
 *   POST /v1/access/requests        ask for a tier (access.c validates)
 *   GET  /v1/access/requests/{id}   its status, with the request's token
 *                                   (Authorization: Bearer TOKEN or
 *                                   ?token=); an approved request's key is
 *                                   in the first answer after approval only
 *   GET  /v1/transparency           the transparency record (JSON)
 *   GET  /transparency              the same as a page
 *   GET  /v1/models/{id}/weights    the GGUF file, with HTTP Range, to tiers
 *                                   with the weights capability
 */
#include "guard/access.h"
#include "guard/keys.h"
#include "guard/transparency.h"
#include "server/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Access requests one client address may submit per minute: the endpoint
 * is public, and each request is a row in the store. */
#define ACCESS_SUBMITS_PER_MINUTE 10

static enum MHD_Result fail_store(struct http_ctx *c, const char *what)
{
	struct api_error e;
	srv_log(c->srv, "%s: %s", what, ajar_err_msg());
	api_fail_as(&e, 500, "server_error", "store_error", NULL, "%s failed; see the server log", what);
	return http_reply_error(c, &e);
}

enum MHD_Result api_access_submit(struct http_ctx *c)
{
	struct server *s = c->srv;
	struct api_error e;
	struct store_access rec;
	char token[ACCESS_TOKEN_MAX], param[64] = "";

	if (!guard_limit_public(c, "access", ACCESS_SUBMITS_PER_MINUTE))
		return MHD_YES;
	json_t *body = api_parse_body(c, &e);
	if (!body)
		return http_reply_error(c, &e);
	enum ajar_err err = access_submit(s->store, &s->secrets, s->policy, body, (int64_t)time(NULL), &rec, token,
					  sizeof(token), param, sizeof(param));
	json_decref(body);
	if (err == AJAR_ERR_INVALID || err == AJAR_ERR_LIMIT) {
		api_fail(&e, param, "%s", ajar_err_msg());
		return http_reply_error(c, &e);
	}
	if (err)
		return fail_store(c, "storing the access request");
	if (rec.status == STORE_ACCESS_APPROVED)
		guard_audit_admin(c, "access.approve", NULL, rec.id);
	json_t *o = access_json(&rec);
	json_object_set_new(o, "token", json_string(token));
	char url[128];
	snprintf(url, sizeof(url), "/v1/access/requests/%s", rec.id);
	json_object_set_new(o, "status_url", json_string(url));
	sodium_memzero(token, sizeof(token));
	return http_reply_json(c, 201, o);
}

enum MHD_Result api_access_status(struct http_ctx *c)
{
	struct server *s = c->srv;
	struct api_error e;
	struct store_access rec;
	char key[KEY_STRING_MAX] = "";
	const char *token = NULL;
	const char *h = http_header(c, MHD_HTTP_HEADER_AUTHORIZATION);

	if (h && strncasecmp(h, "Bearer ", 7) == 0)
		token = h + 7;
	if (!token)
		token = http_query(c, "token");
	if (!token || !*token) {
		api_fail_as(&e, 401, "invalid_request_error", "missing_token", NULL,
			    "send the request's token: 'Authorization: Bearer TOKEN' or ?token=TOKEN");
		return http_reply_error(c, &e);
	}
	enum ajar_err err = access_check_token(s->store, &s->secrets, c->path_arg, token, &rec);
	if (err == AJAR_ERR_NOT_FOUND) {
		/* One answer for a wrong id and a wrong token: ids cannot be probed. */
		api_fail_as(&e, 404, "invalid_request_error", "not_found", NULL,
			    "no access request with that id and token");
		return http_reply_error(c, &e);
	}
	if (err)
		return fail_store(c, "reading the access request");
	if ((err = access_claim_key(s->store, &s->secrets, c->path_arg, (int64_t)time(NULL), key, sizeof(key), &rec)))
		return fail_store(c, "issuing the key");
	json_t *o = access_json(&rec);
	if (key[0]) {
		guard_audit_admin(c, "keys.create", rec.key_id, rec.id);
		json_object_set_new(o, "key", json_string(key));
		json_object_set_new(o, "key_notice", json_string("shown once: store it now"));
		sodium_memzero(key, sizeof(key));
	}
	return http_reply_json(c, 200, o);
}

/* The record, or NULL with a 500 queued. */
static json_t *record(struct http_ctx *c, enum MHD_Result *ret)
{
	struct server *s = c->srv;
	json_t *rec = NULL;

	if (transparency_record(s->model_facts, s->policy, s->p.card_path, s->store, (int64_t)time(NULL), &rec)) {
		*ret = fail_store(c, "building the transparency record");
		return NULL;
	}
	/* What a reader needs to check this server's statements: the key
	 * that signs provenance records (and the audit head), and the
	 * watermark scheme in force (never its key). */
	char pk[65], kid[65];
	unsigned char h[crypto_hash_sha256_BYTES];
	sodium_bin2hex(pk, sizeof(pk), s->secrets.audit_pk, sizeof(s->secrets.audit_pk));
	crypto_hash_sha256(h, s->secrets.audit_pk, sizeof(s->secrets.audit_pk));
	sodium_bin2hex(kid, sizeof(kid), h, sizeof(h));
	kid[16] = '\0';
	json_t *prov = json_object();
	json_object_set_new(prov, "signature", json_string("ed25519"));
	json_object_set_new(prov, "public_key", json_string(pk));
	json_object_set_new(prov, "key_id", json_string(kid));
	json_object_set_new(prov, "policy_sha256", json_string(s->policy_sha256));
	json_object_set_new(rec, "provenance", prov);
	json_object_set_new(rec, "watermark_scheme", s->wm ? json_string(s->wm_scheme) : json_null());
	return rec;
}

enum MHD_Result api_transparency(struct http_ctx *c)
{
	enum MHD_Result ret = MHD_NO;
	json_t *rec = record(c, &ret);
	return rec ? http_reply_json(c, 200, rec) : ret;
}

enum MHD_Result api_transparency_page(struct http_ctx *c)
{
	enum MHD_Result ret = MHD_NO;
	json_t *rec = record(c, &ret);
	if (!rec)
		return ret;
	char *html = transparency_html(rec);
	json_decref(rec);
	if (!html) {
		struct api_error e;
		api_fail_as(&e, 500, "server_error", NULL, NULL, "out of memory");
		return http_reply_error(c, &e);
	}
	ret = http_reply(c, 200, "text/html; charset=utf-8", html, strlen(html), NULL);
	free(html);
	return ret;
}

/* ---- weights ---- */

/*
 * Parses a Range header against a file of size bytes: one range of the
 * forms bytes=A-B, bytes=A- and bytes=-N. Returns 1 with [*from, *to]
 * (inclusive) for a satisfiable range, 0 to send the whole file (no header,
 * another unit, several ranges: RFC 9110 lets a server ignore those), -1
 * for a range that cannot be satisfied (416).
 */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
	unsigned long long a = 0, b = 0;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		errno = 0;
		b = strtoull(h + 1, &end, 10);
		if (errno || end == h + 1 || *end || b == 0)
			return -1;
		if (size == 0)
			return -1;
		*from = b >= size ? 0 : size - b;
		*to = size - 1;
		return 1;
	}
	errno = 0;
	a = strtoull(h, &end, 10);
	if (errno || end == h || *end != '-')
		return -1;
	h = end + 1;
	if (*h) {
		b = strtoull(h, &end, 10);
		if (errno || end == h || *end || b < a)
			return -1;
	} else {
		b = size ? size - 1 : 0;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = b >= size ? size - 1 : b;
	return 1;
}

static enum MHD_Result reply_range_bad(struct http_ctx *c, uint64_t size)
{
	char cr[64];
	snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
	const char *extra[] = { "Content-Range", cr, NULL };
	static const char body[] = "{\"error\":{\"message\":\"the requested range is not satisfiable\","
				   "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"range_not_satisfiable\"}}";
	snprintf(c->g.reason, sizeof(c->g.reason), "range_not_satisfiable");
	return http_reply(c, 416, "application/json", body, sizeof(body) - 1, extra);
}

enum MHD_Result api_weights(struct http_ctx *c)
{
	struct server *s = c->srv;
	struct api_error e;
	struct stat sb;
	uint64_t from = 0, to = 0;

	if (strcmp(c->path_arg, s->model_id) != 0) {
		api_fail_as(&e, 404, "invalid_request_error", "model_not_found", NULL,
			    "no model '%s' here (this server has '%s')", c->path_arg, s->model_id);
		return http_reply_error(c, &e);
	}
	int fd = open(s->p.model_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		api_fail_as(&e, 500, "server_error", NULL, NULL, "the weights file cannot be read");
		return http_reply_error(c, &e);
	}
	uint64_t size = (uint64_t)sb.st_size;
	int range = parse_range(http_header(c, "Range"), size, &from, &to);
	if (range < 0) {
		close(fd);
		return reply_range_bad(c, size);
	}
	if (range == 0) {
		from = 0;
		to = size ? size - 1 : 0;
	}
	uint64_t len = size ? to - from + 1 : 0;
	/* MHD owns fd from here and closes it with the response. */
	struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, from);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	const char *base = strrchr(s->p.model_path, '/');
	base = base ? base + 1 : s->p.model_path;
	char disp[320], cr[96];
	snprintf(disp, sizeof(disp), "attachment; filename=\"%.256s\"", base);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
	MHD_add_response_header(r, "Content-Disposition", disp);
	MHD_add_response_header(r, "Accept-Ranges", "bytes");
	MHD_add_response_header(r, "X-Content-SHA256", s->weights_sha256);
	unsigned status = 200;
	if (range > 0) {
		status = 206;
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)from, (unsigned long long)to,
			 (unsigned long long)size);
		MHD_add_response_header(r, "Content-Range", cr);
	}
	snprintf(c->g.reason, sizeof(c->g.reason), "bytes %llu-%llu", (unsigned long long)from,
		 (unsigned long long)(from + len - (len ? 1 : 0)));
	guard_headers(c, r);
	guard_audit(c, status);
	enum MHD_Result ret = MHD_queue_response(c->conn, status, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES)
		c->status = status;
	return ret;
}
