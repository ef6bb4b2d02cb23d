/*
 * server_int.h - what the files of the HTTP server share.
 *
 * Layout:
 *   server.c          server_start/stop, the scheduler behind a teardown lock
 *   http.c            libmicrohttpd glue: body buffering with a cap, struct
 *                     http_ctx, replies (JSON, errors, static files)
 *   router.c          route(): path + method -> endpoint, and the guard's
 *                     admission (key, tier, capability, rate) before dispatch
 *   api_guard.c       the guard around a request: the policy, store, quota
 *                     and audit chain of the server; admission, limits on
 *                     generation fields, token reservations, the audit row
 *   api_admin.c       /admin/...: keys, access requests, usage, audit
 *   api_public.c      access requests, transparency, gated weights
 *   api_safety.c      moderation of prompts and outputs, the watermark,
 *                     signed provenance; /v1/moderations and
 *                     /v1/watermark/detect
 *   api_gen.c         what chat and completions share: sampling fields, the
 *                     generation job, blocking and streaming (SSE) replies
 *   api_chat.c        POST /v1/chat/completions
 *   api_completions.c POST /v1/completions
 *   api_misc.c        /health, /v1/models, /tokenize, /detokenize, static files
 *   metrics.c         counters and histograms, Prometheus text
 *   sse.c             the stream reader that MHD pulls SSE bytes from
 *   json_util.c       request-field parsing helpers and UTF-8 repair
 */
#ifndef AJAR_SERVER_INT_H
#define AJAR_SERVER_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/chat.h"
#include "ajar/err.h"
#include "ajar/scheduler.h"
#include "guard/secrets.h"
#include "store/store.h"
#include "server/server.h"

struct ajar_vocab;
struct metrics;
struct json_constraint;
struct policy;
struct policy_tier;
struct store;
struct audit;
struct quota;
struct watermark;
struct watermark_params;
struct moderator;
struct classifier;

/* ---- endpoints (for metrics labels and routing) ---- */

enum endpoint {
	EP_CHAT,
	EP_COMPLETIONS,
	EP_MODELS,
	EP_HEALTH,
	EP_TOKENIZE,
	EP_DETOKENIZE,
	EP_METRICS,
	EP_ACCESS,        /* /v1/access/requests[/{id}] */
	EP_TRANSPARENCY,  /* /v1/transparency, /transparency */
	EP_WEIGHTS,       /* /v1/models/{id}/weights */
	EP_ADMIN,         /* /admin/... API */
	EP_MODERATIONS,   /* /v1/moderations */
	EP_WATERMARK,     /* /v1/watermark/detect */
	EP_STATIC,
	EP_OTHER, /* unknown paths */
	EP_COUNT
};

/* The label /metrics uses ("/v1/chat/completions", "static", "other"). */
const char *endpoint_label(enum endpoint ep);

/* ---- the server ---- */

struct server {
	const struct ajar_model *model;   /* borrowed */
	const struct ajar_vocab *vocab;   /* borrowed from model */
	struct server_params p;           /* strings borrowed from the caller */
	char model_id[256];
	long long started;                /* Unix seconds; the model's "created" */
	enum chat_family family;
	uint32_t n_ctx;                   /* positions per slot */
	int32_t n_vocab;
	struct MHD_Daemon *mhd;
	uint16_t port;
	struct metrics *metrics;

	/* The scheduler may be used by any connection thread while sched_lock
	 * is held for reading; server_stop takes it for writing to set sched to
	 * NULL and free it, so no thread ever uses a freed scheduler. */
	pthread_rwlock_t sched_lock;
	struct sched *sched;              /* guarded by sched_lock */
	atomic_bool closing;              /* set first thing in server_stop */

	/* The JSON constraint of response_format json_object, built once at
	 * start (it walks the whole vocabulary); each request gets a clone,
	 * which shares its tables. NULL if it could not be built. */
	struct json_constraint *jc_proto;

	/* The guard (api_guard.c); set at start, read-only after, each safe
	 * for use from any thread. */
	struct policy *policy;
	struct store *store;
	struct guard_secrets secrets;
	struct audit *audit;
	struct quota *quota;
	json_t *model_facts;              /* transparency_model_facts of the model file */
	char weights_sha256[65];

	/* Safety (api_safety.c); set at start, read-only after. */
	struct watermark_params *wm;      /* NULL when no tier is watermarked */
	char wm_scheme[64];               /* watermark_scheme_id of wm */
	struct moderator **moderators;    /* one per policy profile (policy->profiles order) */
	struct classifier **classifiers;  /* per profile: its guard model, or NULL */
	size_t n_moderators;
	char policy_sha256[65];           /* of the policy text in force */
};

/* Scheduler access that is safe against shutdown. srv_submit returns
 * AJAR_ERR_UNSUPPORTED (with a message) once the server is closing. */
enum ajar_err srv_submit(struct server *s, struct sched_request *req, uint64_t *id) AJAR_MUST_CHECK;
void srv_cancel(struct server *s, uint64_t id);
void srv_stats(struct server *s, struct sched_stats *out);

/* A fresh JSON constraint for one request (caller frees with
 * json_constraint_free); NULL with a message when unavailable. */
struct json_constraint *srv_jc_new(struct server *s);

/* Writes a line through p.log if set. */
void srv_log(struct server *s, const char *fmt, ...) AJAR_PRINTF(2, 3);

/* ---- one HTTP request ---- */

/*
 * The guard's view of one request (api_guard.c): who made it, what it may
 * do, what it used, and whether its audit row is written. Touched only by
 * the request's connection thread.
 */
struct req_guard {
	bool audited_kind;      /* the request gets an audit row (not static, not /health) */
	bool audit_done;        /* its row is written */
	bool audit_at_close;    /* written when the connection ends, not before the reply */
	bool has_key;
	struct store_key key;   /* the key used, when has_key */
	const struct policy_tier *tier; /* NULL until admitted */
	char request_id[STORE_ID_MAX];
	bool has_limits;        /* rl holds the key's rate-limit state for headers */
	int64_t rl_limit_req, rl_left_req, rl_limit_tok, rl_left_tok, rl_reset_req, rl_reset_tok;
	int64_t tokens_in, tokens_out;
	char reason[128];       /* error code of a refusal or failure */
	const char *outcome;    /* static; NULL: from the status */
	crypto_hash_sha256_state out_hash; /* of the output text, when out_any */
	bool out_any;
	char *out_text;         /* retention "full": the output kept (owned, capped) */
	size_t n_out_text, cap_out_text;
	char endpoint[96];      /* what the audit row names; "" = method + path */
	char bucket[72];        /* quota bucket of a request without a key: "ip:ADDRESS" */
	char flagged[48];       /* the first moderation category of a hit that only flags */
	char *stored_prompt;    /* retention "full" with moderation: the prompt as text, its
	                           PII and redacted terms replaced (owned); NULL = the body */
};

/*
 * What a handler sees. Everything is valid until the request completes.
 * route() runs the guard's admission (key, tier, capability, rate) on it
 * before dispatch; the guard may reply itself.
 */
struct http_ctx {
	struct server *srv;
	struct MHD_Connection *conn;
	const char *method;     /* "GET", "POST", ... (borrowed from MHD) */
	const char *path;       /* URL path, query removed (borrowed from MHD) */
	const char *body;       /* NUL-terminated; "" when there is none */
	size_t body_len;
	enum endpoint ep;       /* set by route() */
	unsigned status;        /* status queued; 0 until a reply */
	double t_start;         /* monotonic seconds at the first byte */
	char path_arg[STORE_ID_MAX * 2]; /* the {id} of a path pattern, "" if none */
	struct req_guard g;
};

/* A request header's value (case-insensitive name), or NULL. */
const char *http_header(const struct http_ctx *c, const char *name);
/* The connection's socket, for noticing a client that went away. */
int http_socket(const struct http_ctx *c);
/* True if the peer has closed the connection (checked without blocking and
 * without consuming data). */
bool http_peer_closed(int fd);

/* Starts MHD on srv->p.host:port; sets srv->mhd and srv->port. */
enum ajar_err http_listen(struct server *srv) AJAR_MUST_CHECK;

/* The endpoint a path names (EP_OTHER if none), for labelling requests
 * answered before routing (413). */
enum endpoint route_endpoint(const char *path);

/* Dispatches a complete request to its endpoint (router.c). */
enum MHD_Result route(struct http_ctx *c);

/* ---- replies (http.c); each queues exactly one response ---- */

/* Copies len bytes of data. extra: NULL or a NULL-terminated list of
 * header name, value pairs. */
enum MHD_Result http_reply(struct http_ctx *c, unsigned status, const char *content_type, const void *data,
			   size_t len, const char *const *extra);
/* Serializes obj (stolen: decref'd here). */
enum MHD_Result http_reply_json(struct http_ctx *c, unsigned status, json_t *obj);

/* An OpenAI-shaped error, filled by the parsers and sent by http_reply_error. */
struct api_error {
	unsigned status;
	const char *type;   /* static: "invalid_request_error", ... */
	const char *code;   /* static or NULL */
	char param[64];     /* the offending field, "" for none */
	char message[512];
	unsigned retry_after; /* seconds, for 503; 0 = no header */
	const char *allow;    /* static: the Allow header of a 405; NULL = none */
};

/* Fills e (400, invalid_request_error, code NULL) and returns -1. */
int api_fail(struct api_error *e, const char *param, const char *fmt, ...) AJAR_PRINTF(3, 4);
/* Same with a chosen status, type and code. */
int api_fail_as(struct api_error *e, unsigned status, const char *type, const char *code, const char *param,
		const char *fmt, ...) AJAR_PRINTF(6, 7);
enum MHD_Result http_reply_error(struct http_ctx *c, const struct api_error *e);

/* ---- request parsing helpers (json_util.c) ---- */

/* Parses c->body as a JSON object; NULL with e filled (400 naming the line
 * and column, or "request body is not valid UTF-8"). Caller decrefs. */
json_t *api_parse_body(const struct http_ctx *c, struct api_error *e);

/* Optional fields: absent or null leaves *out alone and returns 0; a value
 * of the wrong type or out of [min, max] fills e and returns -1. */
int jfield_number(json_t *obj, const char *name, double min, double max, double *out, struct api_error *e);
int jfield_int(json_t *obj, const char *name, long long min, long long max, long long *out, struct api_error *e);
int jfield_bool(json_t *obj, const char *name, bool *out, struct api_error *e);

/* A JSON string from bytes that may not be valid UTF-8: ill-formed
 * sequences become U+FFFD. Never NULL unless out of memory. */
json_t *json_string_lossy(const char *s, size_t len);
/* True if s[0..len) is well-formed UTF-8. */
bool api_utf8_valid(const char *s, size_t len);
/* Random id: prefix + 24 alphanumerics, NUL-terminated in out (cap >= 40). */
void api_make_id(char *out, size_t cap, const char *prefix);

/* ---- generation shared by chat and completions (api_gen.c) ---- */

#define API_MAX_STOP 4        /* OpenAI's limit on request stop strings */
#define API_MAX_STOP_LEN 1024 /* bytes per stop string */

enum gen_api { GEN_API_CHAT, GEN_API_COMPLETION };

/* Fields of a generation request, after validation. */
struct gen_opts {
	struct sampler_params sp;
	int32_t max_tokens;            /* < 0: until the context is full */
	const char *stop[API_MAX_STOP]; /* borrowed from the request JSON */
	size_t n_stop;
	int n_logprobs;                /* -1 none; else the scheduler's n_logprobs */
	bool stream;
	bool include_usage;
	bool json_object;              /* response_format {"type":"json_object"} */
	bool ignore_eos;
};

/* Parses the fields both APIs share (sampling, max_tokens, stop, n, stream,
 * stream_options). Returns 0, or -1 with e filled. */
int gen_opts_parse(struct server *srv, json_t *body, struct gen_opts *o, struct api_error *e);

/*
 * Runs one generation and replies: a JSON body when !o->stream (blocking
 * until done, cancelling if the client goes away), else an SSE stream.
 * prompt (n_prompt ids) is stolen. extra_stop are added to o's stop strings
 * (the chat family's). echo_text (completions' echo, may be NULL) is put
 * before the output. Errors (prompt too long, queue full, shutting down)
 * become the matching error reply.
 */
enum MHD_Result gen_run(struct http_ctx *c, enum gen_api api, const struct gen_opts *o, int32_t *prompt,
			size_t n_prompt, const char *const *extra_stop, size_t n_extra_stop, const char *echo_text);

/* ---- the guard (api_guard.c) ---- */

/* Loads the policy, opens the store, its secrets and the audit chain,
 * reads the model file's facts; creates an admin key (logged once) when the
 * store has no active one. Undone by guard_stop. */
enum ajar_err guard_start(struct server *s) AJAR_MUST_CHECK;
void guard_stop(struct server *s);

/* Who may call a route. */
enum route_access {
	ACCESS_PUBLIC,   /* anyone; not audited when quiet is set on the route */
	ACCESS_KEY,      /* any valid key (or the anonymous tier) */
	ACCESS_CAP,      /* a key whose tier has the route's capability */
};

/* Admission of a routed request: key (401), tier and capability (403),
 * requests per minute (429). Returns true to go on to the handler; false
 * once it has queued the refusal. */
bool guard_admit(struct http_ctx *c, enum route_access acc, unsigned cap);

struct gen_opts;
/* After gen_opts_parse: logprobs need the capability (403); max_tokens
 * above the tier's is 403 naming it; no max_tokens means the tier's.
 * 0, or -1 with e filled. */
int guard_gen_opts(struct http_ctx *c, struct gen_opts *o, struct api_error *e);
/* After tokenizing: the tier's max_context (403), then the token quota:
 * reserves n_prompt + *max_tokens and lowers *max_tokens to what is left
 * (429 when not even the prompt fits). On success r is filled for
 * guard_settle. 0, or -1 with e filled. */
struct guard_reservation {
	char key_id[72];           /* the quota bucket: a key id or "ip:ADDRESS" */
	int64_t at, reserved, n_prompt;
	bool active;
};
int guard_reserve(struct http_ctx *c, size_t n_prompt, int32_t *max_tokens, struct guard_reservation *r,
		  struct api_error *e);
/* The generation is over: gives back the unused part (any thread). */
void guard_settle(struct server *s, struct guard_reservation *r, int64_t n_completion);
/* Records the output for the audit row: its digest, and with retention
 * "full" the request and output text. */
void guard_output(struct http_ctx *c, const char *text, size_t n);
/* Writes the request's audit row once, durably: http_reply calls it before
 * queueing, the SSE stream before its final chunk, and request completion
 * for a request that ended without (the client left). */
void guard_audit(struct http_ctx *c, unsigned status);
/* Appends an admin action's row (kind "admin"). */
void guard_audit_admin(struct http_ctx *c, const char *action, const char *subject_id, const char *detail);
/* The per-address limit of a public endpoint (what: "access", "detect"):
 * per_minute requests a minute from one client address. True to go on,
 * false once it has replied 429. */
bool guard_limit_public(struct http_ctx *c, const char *what, int per_minute);
/* Adds the x-ratelimit-* headers of an admitted request to r. */
void guard_headers(const struct http_ctx *c, struct MHD_Response *r);

/* ---- safety (api_safety.c) ---- */

/* Compiles the policy's moderation profiles (opening their guard models),
 * loads or makes the watermark key when a tier is watermarked, hashes the
 * policy text. Undone by safety_stop. */
enum ajar_err safety_start(struct server *s) AJAR_MUST_CHECK;
void safety_stop(struct server *s);

/* The moderator of the request's tier, or NULL when it moderates nothing. */
const struct moderator *safety_moderator(const struct http_ctx *c);
/* True if the tier's moderation profile has a guard model. */
bool safety_has_classifier(const struct http_ctx *c);
/* Moderates a prompt (its token ids, as text) before it reaches the model:
 * 0 to go on (hits that only flag are noted for the audit row); -1 with e
 * filled (400, code content_filter, the category named) when blocked. */
int safety_check_prompt(struct http_ctx *c, const int32_t *ids, size_t n_ids, struct api_error *e);
/* A watermark processor for the request when its tier is watermarked,
 * else NULL (also when out of memory: then the request is refused by the
 * caller). *failed tells the two apart. */
struct watermark *safety_watermark_for(struct http_ctx *c, bool *failed);
/* The signed provenance object of a response whose returned text is
 * text[0..len). NULL when out of memory. */
json_t *safety_provenance(struct server *s, const char *response_id, long long created, const char *text,
			  size_t len, bool watermarked);
/* Notes moderation hits of an output for the audit row (blocked sets the
 * outcome). */
struct mod_result;
void safety_note_hits(struct http_ctx *c, const struct mod_result *r);

/* The text of token ids (control tokens as nothing). Caller frees; NULL
 * with a message when too large or an id cannot be detokenized. */
char *srv_detokenize(const struct server *srv, const int32_t *ids, size_t n_ids, size_t *len_out);

/* ---- endpoints ---- */

enum MHD_Result api_chat(struct http_ctx *c);
enum MHD_Result api_completions(struct http_ctx *c);
enum MHD_Result api_models(struct http_ctx *c);
enum MHD_Result api_health(struct http_ctx *c);
enum MHD_Result api_tokenize(struct http_ctx *c);
enum MHD_Result api_detokenize(struct http_ctx *c);
enum MHD_Result api_metrics(struct http_ctx *c);
/* api_public.c */
enum MHD_Result api_access_submit(struct http_ctx *c);
enum MHD_Result api_access_status(struct http_ctx *c);
enum MHD_Result api_transparency(struct http_ctx *c);
enum MHD_Result api_transparency_page(struct http_ctx *c);
enum MHD_Result api_weights(struct http_ctx *c);
/* api_safety.c */
enum MHD_Result api_moderations(struct http_ctx *c);
enum MHD_Result api_watermark_detect(struct http_ctx *c);
/* api_admin.c */
enum MHD_Result api_admin_keys(struct http_ctx *c);
enum MHD_Result api_admin_key_create(struct http_ctx *c);
enum MHD_Result api_admin_key_revoke(struct http_ctx *c);
enum MHD_Result api_admin_key_rotate(struct http_ctx *c);
enum MHD_Result api_admin_access_list(struct http_ctx *c);
enum MHD_Result api_admin_access_show(struct http_ctx *c);
enum MHD_Result api_admin_access_approve(struct http_ctx *c);
enum MHD_Result api_admin_access_deny(struct http_ctx *c);
enum MHD_Result api_admin_usage(struct http_ctx *c);
enum MHD_Result api_admin_audit(struct http_ctx *c);
enum MHD_Result api_admin_audit_verify(struct http_ctx *c);
/* The value of a query argument, or NULL. */
const char *http_query(const struct http_ctx *c, const char *name);
/* GET of a file embedded from web/; false if there is no such file. */
bool api_static_exists(const char *path);
enum MHD_Result api_static(struct http_ctx *c);

/* ---- metrics (metrics.c); all functions thread-safe ---- */

enum ajar_err metrics_new(struct metrics **out) AJAR_MUST_CHECK;
void metrics_free(struct metrics *m);
/* A request began (its headers are in); metrics_request ends it. */
void metrics_request_begin(struct metrics *m);
void metrics_request(struct metrics *m, enum endpoint ep, unsigned status, double seconds);
/* Requests begun and not yet ended. */
int metrics_in_flight(struct metrics *m);
void metrics_ttft(struct metrics *m, double seconds);
void metrics_tokens(struct metrics *m, uint64_t prompt, uint64_t completion);
/* The Prometheus text exposition; caller frees. NULL when out of memory. */
char *metrics_render(struct metrics *m, const struct sched_stats *st, size_t *len);

/* Monotonic seconds. */
double mono_now(void);

#endif
