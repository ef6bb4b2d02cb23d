/*
 * api_misc.c - the endpoints that do not generate: GET /health,
 * GET /v1/models, POST /tokenize and /detokenize (llama-server's shapes),
 * GET /metrics, and the files of web/ embedded in the binary.
 */
#include "ajar/vocab.h"
#include "server/server_int.h"
#include "server/web_assets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Detokenized text of one request is capped: the body cap bounds the ids,
 * and a piece is at most a few hundred bytes, but a vocabulary could have
 * long user-defined pieces. */
#define DETOK_MAX ((size_t)64 << 20)

enum MHD_Result api_health(struct http_ctx *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_string("ok"));
	return http_reply_json(c, 200, o);
}

enum MHD_Result api_models(struct http_ctx *c)
{
	json_t *root = json_object(), *data = json_array(), *m = json_object();

	json_object_set_new(m, "id", json_string(c->srv->model_id));
	json_object_set_new(m, "object", json_string("model"));
	json_object_set_new(m, "created", json_integer(c->srv->started));
	json_object_set_new(m, "owned_by", json_string("ajar"));
	json_array_append_new(data, m);
	json_object_set_new(root, "object", json_string("list"));
	json_object_set_new(root, "data", data);
	return http_reply_json(c, 200, root);
}

/* A piece as llama-server's with_pieces shows it: a string when it is valid
 * UTF-8, else the array of its bytes. */
static json_t *piece_json(const struct ajar_vocab *v, int32_t id)
{
	char buf[256];
	int n = vocab_token_to_piece(v, id, true, buf, sizeof(buf));
	char *p = buf;
	json_t *j;

	if (n < 0)
		return json_null();
	if ((size_t)n >= sizeof(buf)) {
		p = malloc((size_t)n);
		if (!p)
			return NULL;
		n = vocab_token_to_piece(v, id, true, p, (size_t)n);
	}
	if (api_utf8_valid(p, (size_t)n) && !memchr(p, '\0', (size_t)n)) {
		j = json_stringn(p, (size_t)n);
	} else {
		j = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(j, json_integer((unsigned char)p[i]));
	}
	if (p != buf)
		free(p);
	return j;
}

enum MHD_Result api_tokenize(struct http_ctx *c)
{
	struct api_error e;
	bool add_special = false, parse_special = true, with_pieces = false;
	int32_t *ids = NULL;
	size_t n_ids = 0;

	json_t *body = api_parse_body(c, &e);
	if (!body)
		return http_reply_error(c, &e);
	json_t *content = json_object_get(body, "content");
	if (!content) {
		api_fail(&e, "content", "content is required");
		goto fail;
	}
	if (!json_is_string(content)) {
		api_fail(&e, "content", "content must be a string");
		goto fail;
	}
	if (jfield_bool(body, "add_special", &add_special, &e) || jfield_bool(body, "parse_special", &parse_special, &e) ||
	    jfield_bool(body, "with_pieces", &with_pieces, &e))
		goto fail;
	if (vocab_tokenize(c->srv->vocab, json_string_value(content), json_string_length(content), add_special,
			   parse_special, &ids, &n_ids)) {
		api_fail(&e, "content", "%s", ajar_err_msg());
		goto fail;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n_ids; i++) {
		if (with_pieces) {
			json_t *t = json_object();
			json_object_set_new(t, "id", json_integer(ids[i]));
			json_object_set_new(t, "piece", piece_json(c->srv->vocab, ids[i]));
			json_array_append_new(arr, t);
		} else {
			json_array_append_new(arr, json_integer(ids[i]));
		}
	}
	free(ids);
	json_decref(body);
	json_t *root = json_object();
	json_object_set_new(root, "tokens", arr);
	return http_reply_json(c, 200, root);
fail:
	json_decref(body);
	return http_reply_error(c, &e);
}

char *srv_detokenize(const struct server *srv, const int32_t *ids, size_t n_ids, size_t *len_out)
{
	struct detok_stream ds;
	char *out = NULL;
	size_t len = 0, cap = 0;
	size_t room = detok_stream_max_out(srv->vocab);

	/* Control tokens render as nothing and the SentencePiece space prefix
	 * is undone, so detokenize(tokenize(x)) == x. */
	detok_stream_init(&ds, srv->vocab, false, true);
	for (size_t i = 0; i <= n_ids; i++) {
		if (len + room + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			while (ncap < len + room + 1)
				ncap *= 2;
			char *p = ncap <= DETOK_MAX ? realloc(out, ncap) : NULL;
			if (!p) {
				free(out);
				ajar_errf(AJAR_ERR_LIMIT, "the detokenized text is too large");
				return NULL;
			}
			out = p;
			cap = ncap;
		}
		int n = i == n_ids ? detok_stream_finish(&ds, out + len, cap - len)
				   : detok_stream_push(&ds, ids[i], out + len, cap - len);
		if (n < 0) {
			free(out);
			ajar_errf(AJAR_ERR_INVALID, "tokens[%zu] cannot be detokenized", i);
			return NULL;
		}
		len += (size_t)n;
	}
	out[len] = '\0';
	*len_out = len;
	return out;
}

enum MHD_Result api_detokenize(struct http_ctx *c)
{
	struct api_error e;
	int32_t *ids = NULL;
	size_t len = 0;

	json_t *body = api_parse_body(c, &e);
	if (!body)
		return http_reply_error(c, &e);
	json_t *tokens = json_object_get(body, "tokens");
	if (!tokens) {
		api_fail(&e, "tokens", "tokens is required");
		goto fail;
	}
	if (!json_is_array(tokens)) {
		api_fail(&e, "tokens", "tokens must be an array of token ids");
		goto fail;
	}
	ids = malloc((json_array_size(tokens) + 1) * sizeof(*ids));
	if (!ids) {
		api_fail_as(&e, 500, "server_error", NULL, NULL, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(tokens); i++) {
		json_t *t = json_array_get(tokens, i);
		json_int_t id = json_is_integer(t) ? json_integer_value(t) : -1;
		if (!json_is_integer(t) || id < 0 || id >= c->srv->n_vocab) {
			api_fail(&e, "tokens", "tokens[%zu] is not a valid token id (0..%d)", i, c->srv->n_vocab - 1);
			goto fail;
		}
		ids[i] = (int32_t)id;
	}
	char *out = srv_detokenize(c->srv, ids, json_array_size(tokens), &len);
	if (!out) {
		api_fail(&e, "tokens", "%s", ajar_err_msg());
		goto fail;
	}
	free(ids);
	json_decref(body);
	json_t *root = json_object();
	json_object_set_new(root, "content", json_string_lossy(out, len));
	free(out);
	return http_reply_json(c, 200, root);
fail:
	free(ids);
	json_decref(body);
	return http_reply_error(c, &e);
}

enum MHD_Result api_metrics(struct http_ctx *c)
{
	struct sched_stats st;
	size_t len = 0;

	srv_stats(c->srv, &st);
	char *text = metrics_render(c->srv->metrics, &st, &len);
	if (!text) {
		struct api_error e;
		api_fail_as(&e, 500, "server_error", NULL, NULL, "out of memory");
		return http_reply_error(c, &e);
	}
	enum MHD_Result ret = http_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL);
	free(text);
	return ret;
}

static const struct web_asset *asset_find(const char *path)
{
	/* The pages have short names: / is the chat, /access the access
	 * request form, /admin the admin console. */
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	else if (strcmp(path, "/access") == 0)
		path = "/access.html";
	else if (strcmp(path, "/admin") == 0)
		path = "/admin.html";
	for (const struct web_asset *a = ajar_web_assets; a->path; a++)
		if (strcmp(a->path, path) == 0)
			return a;
	return NULL;
}

bool api_static_exists(const char *path)
{
	return asset_find(path) != NULL;
}

enum MHD_Result api_static(struct http_ctx *c)
{
	const struct web_asset *a = asset_find(c->path);
	static const char *const extra[] = { "Cache-Control", "no-cache", "X-Content-Type-Options", "nosniff", NULL };

	if (!a) {
		struct api_error e;
		api_fail_as(&e, 404, "invalid_request_error", "not_found", NULL, "Invalid URL (%s %s)", c->method,
			    c->path);
		return http_reply_error(c, &e);
	}
	/* The assets are static for the life of the process: no copy. */
	struct MHD_Response *r = MHD_create_response_from_buffer(a->size, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
	for (size_t i = 0; extra[i]; i += 2)
		MHD_add_response_header(r, extra[i], extra[i + 1]);
	enum MHD_Result ret = MHD_queue_response(c->conn, 200, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES)
		c->status = 200;
	return ret;
}
