/*
 * router.c - route(): one table of (path, method, endpoint, handler), and the
 * single place a complete request passes before its handler runs.
 *
 * Paths are matched exactly. Like llama-server, the OpenAI endpoints answer
 * with and without the /v1 prefix. A path in the table with another method
 * is 405 (with Allow); a path that is neither in the table nor an embedded
 * web file is 404. HEAD is accepted wherever GET is (MHD sends no body).
 */
#include "server/server_int.h"

#include <stdio.h>
#include <string.h>

typedef enum MHD_Result (*http_handler)(struct http_ctx *c);

struct route_entry {
	const char *path;
	const char *method; /* "GET" (HEAD too) or "POST" */
	enum endpoint ep;
	http_handler fn;
};

static const struct route_entry routes[] = {
	{ "/v1/chat/completions", "POST", EP_CHAT, api_chat },
	{ "/chat/completions", "POST", EP_CHAT, api_chat },
	{ "/v1/completions", "POST", EP_COMPLETIONS, api_completions },
	{ "/completions", "POST", EP_COMPLETIONS, api_completions },
	{ "/v1/models", "GET", EP_MODELS, api_models },
	{ "/models", "GET", EP_MODELS, api_models },
	{ "/health", "GET", EP_HEALTH, api_health },
	{ "/v1/health", "GET", EP_HEALTH, api_health },
	{ "/tokenize", "POST", EP_TOKENIZE, api_tokenize },
	{ "/detokenize", "POST", EP_DETOKENIZE, api_detokenize },
	{ "/metrics", "GET", EP_METRICS, api_metrics },
};

const char *endpoint_label(enum endpoint ep)
{
	switch (ep) {
	case EP_CHAT: return "/v1/chat/completions";
	case EP_COMPLETIONS: return "/v1/completions";
	case EP_MODELS: return "/v1/models";
	case EP_HEALTH: return "/health";
	case EP_TOKENIZE: return "/tokenize";
	case EP_DETOKENIZE: return "/detokenize";
	case EP_METRICS: return "/metrics";
	case EP_STATIC: return "static";
	case EP_OTHER:
	case EP_COUNT: break;
	}
	return "other";
}

enum endpoint route_endpoint(const char *path)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(path, routes[i].path) == 0)
			return routes[i].ep;
	return api_static_exists(path) ? EP_STATIC : EP_OTHER;
}

static bool method_is(const struct http_ctx *c, const char *m)
{
	if (strcmp(c->method, m) == 0)
		return true;
	return strcmp(m, "GET") == 0 && strcmp(c->method, "HEAD") == 0;
}

enum MHD_Result route(struct http_ctx *c)
{
	struct api_error e;
	const struct route_entry *r = NULL;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(c->path, routes[i].path) == 0) {
			r = &routes[i];
			break;
		}
	if (!r) {
		if (api_static_exists(c->path)) {
			c->ep = EP_STATIC;
			if (method_is(c, "GET"))
				return api_static(c);
			api_fail_as(&e, 405, "invalid_request_error", "method_not_allowed", NULL,
				    "method %s is not allowed on %s (use GET)", c->method, c->path);
			e.allow = "GET, HEAD";
			return http_reply_error(c, &e);
		}
		api_fail_as(&e, 404, "invalid_request_error", "not_found", NULL, "Invalid URL (%s %s)", c->method,
			    c->path);
		return http_reply_error(c, &e);
	}
	c->ep = r->ep;
	if (!method_is(c, r->method)) {
		api_fail_as(&e, 405, "invalid_request_error", "method_not_allowed", NULL,
			    "method %s is not allowed on %s (use %s)", c->method, c->path, r->method);
		e.allow = strcmp(r->method, "GET") == 0 ? "GET, HEAD" : r->method;
		return http_reply_error(c, &e);
	}
	/* Issue 6: the guard (API key -> tier -> permission -> quota, audit)
	 * is called here, with c and r->ep, and may reply in place of the
	 * handler. */
	return r->fn(c);
}
