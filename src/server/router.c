/*
 * router.c - route(): one table of (path, method, endpoint, handler), and the
 * single place a complete request passes before its handler runs.
 *
 * Paths are matched exactly. Like llama-server, the OpenAI endpoints answer
 * with and without the /v1 prefix. A path in the table with another method
 * is 405 (with Allow); a path that is neither in the table nor an embedded
 * web file is 404. HEAD is accepted wherever GET is (MHD sends no body).
 * Each route says who may call it (public, any key, a tier with a
 * capability, admin); guard_admit enforces it before the handler runs.
 */
#include "guard/policy.h"
#include "server/server_int.h"

#include <stdio.h>
#include <string.h>

typedef enum MHD_Result (*http_handler)(struct http_ctx *c);

struct route_entry {
	const char *path;   /* exact, or with '*' segments: one non-empty segment, the {id} */
	const char *method; /* "GET" (HEAD too) or "POST" */
	enum endpoint ep;
	enum route_access acc;
	unsigned cap;       /* enum policy_cap, for ACCESS_CAP */
	http_handler fn;
};

#define CAP(x) ACCESS_CAP, CAP_##x
#define ADMIN ACCESS_CAP, CAP_ADMIN

static const struct route_entry routes[] = {
	{ "/v1/chat/completions", "POST", EP_CHAT, CAP(CHAT), api_chat },
	{ "/chat/completions", "POST", EP_CHAT, CAP(CHAT), api_chat },
	{ "/v1/completions", "POST", EP_COMPLETIONS, CAP(COMPLETIONS), api_completions },
	{ "/completions", "POST", EP_COMPLETIONS, CAP(COMPLETIONS), api_completions },
	{ "/v1/models", "GET", EP_MODELS, ACCESS_KEY, 0, api_models },
	{ "/models", "GET", EP_MODELS, ACCESS_KEY, 0, api_models },
	{ "/v1/models/*/weights", "GET", EP_WEIGHTS, CAP(WEIGHTS), api_weights },
	{ "/health", "GET", EP_HEALTH, ACCESS_PUBLIC, 0, api_health },
	{ "/v1/health", "GET", EP_HEALTH, ACCESS_PUBLIC, 0, api_health },
	{ "/tokenize", "POST", EP_TOKENIZE, CAP(TOKENIZE), api_tokenize },
	{ "/detokenize", "POST", EP_DETOKENIZE, CAP(TOKENIZE), api_detokenize },
	{ "/metrics", "GET", EP_METRICS, ADMIN, api_metrics },
	{ "/v1/access/requests", "POST", EP_ACCESS, ACCESS_PUBLIC, 0, api_access_submit },
	{ "/v1/access/requests/*", "GET", EP_ACCESS, ACCESS_PUBLIC, 0, api_access_status },
	{ "/v1/transparency", "GET", EP_TRANSPARENCY, ACCESS_PUBLIC, 0, api_transparency },
	{ "/v1/moderations", "POST", EP_MODERATIONS, CAP(MODERATIONS), api_moderations },
	{ "/moderations", "POST", EP_MODERATIONS, CAP(MODERATIONS), api_moderations },
	{ "/v1/watermark/detect", "POST", EP_WATERMARK, ACCESS_PUBLIC, 0, api_watermark_detect },
	{ "/transparency", "GET", EP_TRANSPARENCY, ACCESS_PUBLIC, 0, api_transparency_page },
	{ "/admin/keys", "GET", EP_ADMIN, ADMIN, api_admin_keys },
	{ "/admin/keys", "POST", EP_ADMIN, ADMIN, api_admin_key_create },
	{ "/admin/keys/*/revoke", "POST", EP_ADMIN, ADMIN, api_admin_key_revoke },
	{ "/admin/keys/*/rotate", "POST", EP_ADMIN, ADMIN, api_admin_key_rotate },
	{ "/admin/access", "GET", EP_ADMIN, ADMIN, api_admin_access_list },
	{ "/admin/access/*", "GET", EP_ADMIN, ADMIN, api_admin_access_show },
	{ "/admin/access/*/approve", "POST", EP_ADMIN, ADMIN, api_admin_access_approve },
	{ "/admin/access/*/deny", "POST", EP_ADMIN, ADMIN, api_admin_access_deny },
	{ "/admin/usage", "GET", EP_ADMIN, ADMIN, api_admin_usage },
	{ "/admin/audit", "GET", EP_ADMIN, ADMIN, api_admin_audit },
	{ "/admin/audit/verify", "GET", EP_ADMIN, ADMIN, api_admin_audit_verify },
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

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
	case EP_ACCESS: return "/v1/access/requests";
	case EP_TRANSPARENCY: return "/v1/transparency";
	case EP_WEIGHTS: return "/v1/models/{id}/weights";
	case EP_ADMIN: return "/admin";
	case EP_MODERATIONS: return "/v1/moderations";
	case EP_WATERMARK: return "/v1/watermark/detect";
	case EP_STATIC: return "static";
	case EP_OTHER:
	case EP_COUNT: break;
	}
	return "other";
}

/* True if path matches pattern; the segment a '*' matched goes to arg
 * (when non-NULL; a segment longer than arg_cap - 1 does not match). */
static bool path_match(const char *pattern, const char *path, char *arg, size_t arg_cap)
{
	while (*pattern && *path) {
		if (*pattern == '*') {
			size_t n = strcspn(path, "/");
			if (n == 0 || n >= arg_cap)
				return false;
			if (arg) {
				memcpy(arg, path, n);
				arg[n] = '\0';
			}
			path += n;
			pattern++;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}

enum endpoint route_endpoint(const char *path)
{
	char arg[STORE_ID_MAX * 2];
	for (size_t i = 0; i < N_ROUTES; i++)
		if (path_match(routes[i].path, path, arg, sizeof(arg)))
			return routes[i].ep;
	return api_static_exists(path) ? EP_STATIC : EP_OTHER;
}

static bool method_is(const struct http_ctx *c, const char *m)
{
	if (strcmp(c->method, m) == 0)
		return true;
	return strcmp(m, "GET") == 0 && strcmp(c->method, "HEAD") == 0;
}

/* 405 naming the methods the path has. */
static enum MHD_Result reply_bad_method(struct http_ctx *c, bool get, bool post)
{
	struct api_error e;
	const char *use = get && post ? "GET or POST" : get ? "GET" : "POST";
	api_fail_as(&e, 405, "invalid_request_error", "method_not_allowed", NULL,
		    "method %s is not allowed on %s (use %s)", c->method, c->path, use);
	e.allow = get && post ? "GET, HEAD, POST" : get ? "GET, HEAD" : "POST";
	return http_reply_error(c, &e);
}

enum MHD_Result route(struct http_ctx *c)
{
	struct api_error e;
	bool any_get = false, any_post = false;

	for (size_t i = 0; i < N_ROUTES; i++) {
		const struct route_entry *r = &routes[i];
		if (!path_match(r->path, c->path, c->path_arg, sizeof(c->path_arg)))
			continue;
		c->ep = r->ep;
		if (!method_is(c, r->method)) {
			any_get |= strcmp(r->method, "GET") == 0;
			any_post |= strcmp(r->method, "POST") == 0;
			continue;
		}
		/* The guard: key -> tier -> capability -> rate, or its refusal. */
		if (!guard_admit(c, r->acc, r->cap))
			return c->status ? MHD_YES : MHD_NO;
		return r->fn(c);
	}
	if (any_get || any_post)
		return reply_bad_method(c, any_get, any_post);
	c->path_arg[0] = '\0';
	if (api_static_exists(c->path)) {
		c->ep = EP_STATIC;
		if (method_is(c, "GET"))
			return api_static(c);
		return reply_bad_method(c, true, false);
	}
	api_fail_as(&e, 404, "invalid_request_error", "not_found", NULL, "Invalid URL (%s %s)", c->method, c->path);
	return http_reply_error(c, &e);
}
