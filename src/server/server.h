/*
 * server.h - `ajar serve`: the OpenAI-compatible HTTP API over one model.
 *
 * server_start() creates the scheduler (continuous batching over n_parallel
 * slots) and starts libmicrohttpd with one thread per connection; it returns
 * once the socket is listening. server_stop() shuts down gracefully: it stops
 * accepting connections, cancels every queued and running generation (a
 * stream then ends with its final chunk and [DONE]; a waiting non-streaming
 * request gets 503), waits for every connection to finish, and frees
 * everything. The endpoints and their fields are documented in docs/API.md.
 */
#ifndef AJAR_SERVER_SERVER_H
#define AJAR_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

struct ajar_model;

struct server_params {
	const char *model_path;    /* for the model id when general.name is absent; borrowed */
	const char *host;          /* numeric address or name to bind; NULL = 127.0.0.1 */
	uint16_t port;             /* 0 = any free port (see server_port) */
	uint32_t n_parallel;       /* scheduler slots; >= 1 */
	uint32_t n_ctx;            /* positions per slot; 0 = min(model's context, 4096) */
	uint32_t n_batch;          /* most tokens per step; 0 = 512 */
	int n_threads;             /* 0 = all CPUs */
	int cache_type;            /* enum ajar_type of the KV cache */
	uint32_t max_queue;        /* requests waiting beyond the slots; 0 = 64 */
	size_t max_body;           /* request body cap in bytes; 0 = 8 MiB */
	unsigned max_connections;  /* 0 = 256 */
	unsigned timeout_s;        /* idle connection timeout; 0 = 600 */
	const char *chat_template; /* family name overriding the model's; NULL = detect */
	const char *policy_path;   /* policy file; NULL = the built-in default */
	const char *store_uri;     /* "sqlite:PATH"; NULL = store_default_uri() */
	const char *card_path;     /* model card overriding the policy's; NULL = the policy's */
	/* When the store has no admin key, one is made at start: written to
	 * this file (mode 0600) if set, else shown once in the log. */
	const char *admin_key_file;
	/* Optional: warnings, and with log_requests one line per finished
	 * request ("POST /v1/completions 200 0.123 s"); called from any thread. */
	void (*log)(void *user, const char *line);
	bool log_requests;
	void *log_user;
};

struct server;

/* Starts serving model (borrowed: must outlive the server). *out is owned by
 * the caller (server_stop). Fails with a message for a bad address, a port
 * in use, an unknown chat template, or a scheduler that cannot be made. */
enum ajar_err server_start(const struct ajar_model *model, const struct server_params *p,
			   struct server **out) AJAR_MUST_CHECK;

/* The port actually listened on (the one chosen when port was 0). */
uint16_t server_port(const struct server *s);
/* The model id the API reports (general.name, else the file's basename).
 * Borrowed, valid until server_stop. */
const char *server_model_id(const struct server *s);
/* The chat template family in use, by name ("chatml", "llama2", ...). */
const char *server_chat_template(const struct server *s);

/* Graceful shutdown as described above; s is freed. NULL is a no-op. */
void server_stop(struct server *s);

#endif
