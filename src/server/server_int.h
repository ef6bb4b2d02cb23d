/*
 * server_int.h - what the files of the HTTP server share.
 *
 * Layout:
 *   server.c          server_start/stop, the scheduler behind a teardown lock
 *   http.c            libmicrohttpd glue: body buffering with a cap, struct
 *                     http_ctx, replies (JSON, errors, static files)
 *   router.c          route(): path + method -> endpoint (the place where the
 *                     guard layer of issue 6 goes, before dispatch)
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
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/chat.h"
#include "ajar/err.h"
#include "ajar/scheduler.h"
#include "server/server.h"

struct ajar_vocab;
struct metrics;
struct json_constraint;

/* ---- endpoints (for metrics labels and routing) ---- */

enum endpoint {
	EP_CHAT,
	EP_COMPLETIONS,
	EP_MODELS,
	EP_HEALTH,
	EP_TOKENIZE,
	EP_DETOKENIZE,
	EP_METRICS,
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
 * What a handler sees. Everything is valid until the request completes.
 * A guard layer (keys, tiers, quotas, audit) reads method, path and headers
 * here before route() dispatches, and may reply itself.
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

/* ---- endpoints ---- */

enum MHD_Result api_chat(struct http_ctx *c);
enum MHD_Result api_completions(struct http_ctx *c);
enum MHD_Result api_models(struct http_ctx *c);
enum MHD_Result api_health(struct http_ctx *c);
enum MHD_Result api_tokenize(struct http_ctx *c);
enum MHD_Result api_detokenize(struct http_ctx *c);
enum MHD_Result api_metrics(struct http_ctx *c);
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
