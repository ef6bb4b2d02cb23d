/*
 * http.c - the libmicrohttpd glue: the access handler that buffers a request
 * body up to a cap and hands a complete request to route(), the completion
 * callback that records metrics, and the reply helpers every endpoint uses.
 *
 * MHD runs one thread per connection (MHD_USE_THREAD_PER_CONNECTION), so a
 * handler may block while a generation runs. The access handler is called
 * once when the headers are in (an early 413 for a Content-Length above the
 * cap is queued then, so the body is never read), then once per chunk of
 * body, then once more with no data: the request is complete.
 */
#include "server/server_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>

/* A client that keeps sending after the body passed the cap is cut off
 * once it has sent this much more: we read and discard up to it so the
 * client can see the 413, but never buffer any of it. */
#define DISCARD_MAX ((size_t)4 << 20)

/* Memory MHD may use per connection: request headers must fit in it (a
 * larger header block gets 431), and it also holds the read buffer and a
 * streamed response's block. */
#define HTTP_CONNECTION_MEMORY ((size_t)128 << 10)

/* Most of a declared Content-Length reserved before any body arrives. */
#define BODY_FIRST_BLOCK ((size_t)64 << 10)

/* Per-request state: MHD's *con_cls. */
struct http_request {
	struct http_ctx ctx;
	char *body;          /* owned; NUL-terminated; grows up to max_body */
	size_t len, cap;
	size_t discarded;    /* bytes dropped after the cap was passed */
	bool too_large;
	bool replied;
};

const char *http_header(const struct http_ctx *c, const char *name)
{
	return MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_ctx *c, const char *name)
{
	return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_socket(const struct http_ctx *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	return ci ? ci->connect_fd : -1;
}

bool http_peer_closed(int fd)
{
	char b;
	if (fd < 0)
		return false;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0)
		return false; /* a pipelined request is waiting: still there */
	if (n == 0)
		return true;
	return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

enum MHD_Result http_reply(struct http_ctx *c, unsigned status, const char *content_type, const void *data,
			   size_t len, const char *const *extra)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (size_t i = 0; extra && extra[i]; i += 2)
		MHD_add_response_header(r, extra[i], extra[i + 1]);
	guard_headers(c, r);
	/* The audit row is on disk before the first byte of the reply. */
	if (!c->g.audit_at_close)
		guard_audit(c, status);
	enum MHD_Result ret = MHD_queue_response(c->conn, status, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES)
		c->status = status;
	return ret;
}

enum MHD_Result http_reply_json(struct http_ctx *c, unsigned status, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	json_decref(obj);
	if (!s) {
		static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
					  "\"param\":null,\"code\":null}}";
		return http_reply(c, 500, "application/json", oom, sizeof(oom) - 1, NULL);
	}
	enum MHD_Result ret = http_reply(c, status, "application/json", s, strlen(s), NULL);
	free(s);
	return ret;
}

enum MHD_Result http_reply_error(struct http_ctx *c, const struct api_error *e)
{
	json_t *err = json_object();
	json_t *root = json_object();
	char retry[16];
	const char *extra[5];
	size_t n_extra = 0;

	if (e->code && !c->g.reason[0])
		snprintf(c->g.reason, sizeof(c->g.reason), "%s", e->code);
	json_object_set_new(err, "message", json_string_lossy(e->message, strlen(e->message)));
	json_object_set_new(err, "type", json_string(e->type ? e->type : "invalid_request_error"));
	json_object_set_new(err, "param", e->param[0] ? json_string(e->param) : json_null());
	json_object_set_new(err, "code", e->code ? json_string(e->code) : json_null());
	json_object_set_new(root, "error", err);
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!s)
		return MHD_NO;
	snprintf(retry, sizeof(retry), "%u", e->retry_after);
	if (e->retry_after) {
		extra[n_extra++] = "Retry-After";
		extra[n_extra++] = retry;
	}
	if (e->allow) {
		extra[n_extra++] = "Allow";
		extra[n_extra++] = e->allow;
	}
	extra[n_extra] = NULL;
	enum MHD_Result ret = http_reply(c, e->status ? e->status : 500, "application/json", s, strlen(s), extra);
	free(s);
	return ret;
}

static enum MHD_Result reply_too_large(struct http_request *rq)
{
	struct api_error e;
	api_fail_as(&e, 413, "invalid_request_error", "request_too_large", NULL,
		    "request body is larger than the server's limit of %zu bytes", rq->ctx.srv->p.max_body);
	rq->replied = true;
	/* MHD closes the connection after this reply without reading the rest
	 * of the body, and the client's unread bytes then make the kernel
	 * reset it: the 413 must leave at once, before the client has sent
	 * much more, so its audit row is written as the connection closes. */
	rq->ctx.g.audit_at_close = true;
	return http_reply_error(&rq->ctx, &e);
}

/* Appends a chunk of body, growing geometrically but never past the cap. */
static bool body_append(struct http_request *rq, const char *data, size_t n, size_t max)
{
	if (rq->len + n + 1 > rq->cap) {
		size_t cap = rq->cap ? rq->cap : 4096;
		while (cap < rq->len + n + 1)
			cap *= 2;
		if (cap > max + 1)
			cap = max + 1;
		char *p = realloc(rq->body, cap);
		if (!p)
			return false;
		rq->body = p;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	rq->body[rq->len] = '\0';
	return true;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct server *srv = cls;
	char line[512];

	/* MHD reports every client that hangs up mid-response; only worth
	 * seeing when asked for request logs. */
	if (!srv->p.log || !srv->p.log_requests)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	srv_log(srv, "http: %s", line);
}

/* First call: the headers are in. */
static enum MHD_Result request_begin(struct server *srv, struct MHD_Connection *conn, const char *url,
				     const char *method, void **con_cls)
{
	struct http_request *rq = calloc(1, sizeof(*rq));
	if (!rq)
		return MHD_NO;
	rq->ctx.srv = srv;
	rq->ctx.conn = conn;
	rq->ctx.method = method;
	rq->ctx.path = url;
	rq->ctx.body = "";
	rq->ctx.ep = route_endpoint(url);
	rq->ctx.t_start = mono_now();
	/* Every request but the web files and health checks gets an audit row,
	 * refusals and malformed requests included. */
	rq->ctx.g.audited_kind = rq->ctx.ep != EP_STATIC && rq->ctx.ep != EP_HEALTH;
	api_make_id(rq->ctx.g.request_id, sizeof(rq->ctx.g.request_id), "req_");
	*con_cls = rq;
	metrics_request_begin(srv->metrics);

	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno || end == cl || n > srv->p.max_body) {
			rq->too_large = true;
			return reply_too_large(rq);
		}
		/* Reserve the declared size, up to a first block: memory follows
		 * the bytes that actually arrive, not what a client promises. */
		size_t first = n < BODY_FIRST_BLOCK ? (size_t)n : BODY_FIRST_BLOCK;
		if (first > 0) {
			rq->body = malloc(first + 1);
			if (!rq->body)
				return MHD_NO;
			rq->cap = first + 1;
			rq->body[0] = '\0';
		}
	}
	return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				 const char *version, const char *upload_data, size_t *upload_data_size,
				 void **con_cls)
{
	struct server *srv = cls;
	struct http_request *rq = *con_cls;

	if (!rq)
		return request_begin(srv, conn, url, method, con_cls);
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (rq->replied)
			return MHD_YES;
		if (!rq->too_large && rq->len + n > srv->p.max_body) {
			rq->too_large = true;
			free(rq->body);
			rq->body = NULL;
			rq->len = rq->cap = 0;
		}
		if (rq->too_large) {
			rq->discarded += n;
			return rq->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
		}
		return body_append(rq, upload_data, n, srv->p.max_body) ? MHD_YES : MHD_NO;
	}
	if (rq->replied)
		return MHD_YES;
	rq->replied = true;
	if (rq->too_large)
		return reply_too_large(rq);
	if (rq->body) {
		rq->ctx.body = rq->body;
		rq->ctx.body_len = rq->len;
	}
	return route(&rq->ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct http_request *rq = *con_cls;

	if (!rq)
		return;
	double dt = mono_now() - rq->ctx.t_start;
	/* A request that ended before any reply (client gone, MHD error) counts
	 * as 499, nginx's "client closed request". */
	unsigned status = rq->ctx.status ? rq->ctx.status : 499;
	if (!rq->ctx.g.audit_done && !rq->ctx.g.audit_at_close) {
		/* Ended without its row: the client left before a reply, or in
		 * the middle of a stream. */
		if (!rq->ctx.g.reason[0])
			snprintf(rq->ctx.g.reason, sizeof(rq->ctx.g.reason), "client_closed");
		rq->ctx.g.outcome = "error";
	}
	guard_audit(&rq->ctx, status);
	free(rq->ctx.g.out_text);
	free(rq->ctx.g.stored_prompt);
	metrics_request(srv->metrics, rq->ctx.ep, status, dt);
	if (srv->p.log_requests)
		srv_log(srv, "%s %s %u %.3f s%s", rq->ctx.method, rq->ctx.path, status, dt,
			toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
	free(rq->body);
	free(rq);
	*con_cls = NULL;
}

/* Resolves host (numeric or a name) to the first address getaddrinfo gives. */
static enum ajar_err resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, bool *v6)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char port_s[8];

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port_s, sizeof(port_s), "%u", port);
	int rc = getaddrinfo(host, port_s, &hints, &res);
	if (rc != 0 || !res)
		return ajar_errf(AJAR_ERR_INVALID, "cannot resolve host '%s': %s", host, gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*v6 = res->ai_family == AF_INET6;
	freeaddrinfo(res);
	return AJAR_OK;
}

enum ajar_err http_listen(struct server *srv)
{
	struct sockaddr_storage ss;
	bool v6 = false;
	enum ajar_err err;

	if ((err = resolve(srv->p.host, srv->p.port, &ss, &v6)))
		return err;
	/* One thread per connection, so handlers may block on a generation;
	 * ITC so that MHD_quiesce_daemon can stop the listener at shutdown. */
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	srv->mhd = MHD_start_daemon(flags, srv->p.port, NULL, NULL, on_access, srv,
				    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
				    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)srv->p.max_connections,
				    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)srv->p.timeout_s,
				    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
				    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
				    MHD_OPTION_END);
	if (!srv->mhd)
		return ajar_errf(AJAR_ERR_IO, "cannot listen on %s:%u (address in use or not available?)",
				 srv->p.host, srv->p.port);
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di && di->port ? di->port : srv->p.port;
	return AJAR_OK;
}
