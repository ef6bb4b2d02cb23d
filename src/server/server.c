/*
 * server.c - server_start/server_stop, and the scheduler behind a lock that
 * makes shutdown safe while connection threads are still submitting and
 * cancelling.
 *
 * Shutdown order (server_stop):
 *   1. closing = true: a request that arrives from now on gets 503.
 *   2. MHD_quiesce_daemon: the listening socket is closed.
 *   3. The scheduler is detached under the write lock and freed: it cancels
 *      every queued and running request, whose on_done wakes the waiting
 *      handler or ends the stream with its final chunk.
 *   4. Wait (bounded) for requests still sending their last bytes.
 *   5. MHD_stop_daemon joins every connection thread; then free the rest.
 */
#include "ajar/gguf.h"
#include "ajar/json_constraint.h"
#include "ajar/model.h"
#include "server/server_int.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY ((size_t)8 << 20)
#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_TIMEOUT_S 600 /* llama-server's --timeout default */
#define DEFAULT_CTX_CAP 4096  /* per slot, when --ctx is not given */
/* How long shutdown waits for cancelled streams to send their final chunk. */
#define DRAIN_WAIT_S 5.0

void srv_log(struct server *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!s->p.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Paths come from clients: no control characters into the log. */
	for (char *c = line; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	s->p.log(s->p.log_user, line);
}

enum ajar_err srv_submit(struct server *s, struct sched_request *req, uint64_t *id)
{
	enum ajar_err err;

	pthread_rwlock_rdlock(&s->sched_lock);
	if (!s->sched || atomic_load(&s->closing))
		err = ajar_errf(AJAR_ERR_UNSUPPORTED, "the server is shutting down");
	else
		err = sched_submit(s->sched, req, id);
	pthread_rwlock_unlock(&s->sched_lock);
	return err;
}

void srv_cancel(struct server *s, uint64_t id)
{
	pthread_rwlock_rdlock(&s->sched_lock);
	if (s->sched)
		sched_cancel(s->sched, id);
	pthread_rwlock_unlock(&s->sched_lock);
}

void srv_stats(struct server *s, struct sched_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&s->sched_lock);
	if (s->sched)
		sched_stats(s->sched, out);
	pthread_rwlock_unlock(&s->sched_lock);
}

struct json_constraint *srv_jc_new(struct server *s)
{
	struct json_constraint *jc = NULL;

	if (!s->jc_proto) {
		ajar_errf(AJAR_ERR_UNSUPPORTED, "response_format json_object is not available for this model");
		return NULL;
	}
	if (json_constraint_clone(s->jc_proto, &jc))
		return NULL;
	return jc;
}

/* general.name when the model has a non-empty one, else the file name. */
static void model_id_init(struct server *s)
{
	struct gguf_str name = { 0 };
	const char *path = s->p.model_path ? s->p.model_path : "model";
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (gguf_get_str(ajar_model_gguf(s->model), "general.name", &name) == AJAR_OK && name.len > 0 &&
	    name.len < sizeof(s->model_id) && api_utf8_valid(name.data, (size_t)name.len) &&
	    !memchr(name.data, '\0', (size_t)name.len)) {
		memcpy(s->model_id, name.data, (size_t)name.len);
		s->model_id[name.len] = '\0';
		return;
	}
	if (*base && api_utf8_valid(base, strlen(base)))
		snprintf(s->model_id, sizeof(s->model_id), "%s", base);
	else
		snprintf(s->model_id, sizeof(s->model_id), "model");
}

static void params_defaults(struct server_params *p, const struct ajar_hparams *hp)
{
	if (!p->host)
		p->host = "127.0.0.1";
	if (!p->n_parallel)
		p->n_parallel = 1;
	if (!p->n_ctx)
		p->n_ctx = hp->n_ctx_train && hp->n_ctx_train < DEFAULT_CTX_CAP ? hp->n_ctx_train : DEFAULT_CTX_CAP;
	if (!p->max_body)
		p->max_body = DEFAULT_MAX_BODY;
	if (!p->max_connections)
		p->max_connections = DEFAULT_MAX_CONNECTIONS;
	if (!p->timeout_s)
		p->timeout_s = DEFAULT_TIMEOUT_S;
}

enum ajar_err server_start(const struct ajar_model *model, const struct server_params *p, struct server **out)
{
	enum ajar_err err;
	struct server *s;
	/* Warnings wait until the server is up: a failed start prints only
	 * its one error line. */
	char warn_template[256] = "", warn_json[256] = "";

	*out = NULL;
	if (sodium_init() < 0)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "libsodium could not be initialised");
	s = calloc(1, sizeof(*s));
	if (!s)
		return ajar_errf(AJAR_ERR_NOMEM, "server");
	s->model = model;
	s->vocab = ajar_model_vocab(model);
	s->n_vocab = (int32_t)ajar_model_hparams(model)->n_vocab;
	s->p = *p;
	params_defaults(&s->p, ajar_model_hparams(model));
	s->n_ctx = s->p.n_ctx;
	pthread_rwlock_init(&s->sched_lock, NULL);
	model_id_init(s);
	s->started = (long long)time(NULL);

	err = chat_template_for_model(ajar_model_gguf(model), s->p.chat_template, &s->family);
	if (err == AJAR_ERR_INVALID)
		goto fail;
	if (err)
		snprintf(warn_template, sizeof(warn_template), "%s", ajar_err_msg());

	if (json_constraint_new(s->vocab, &s->jc_proto))
		snprintf(warn_json, sizeof(warn_json), "%s", ajar_err_msg());
	if ((err = metrics_new(&s->metrics)))
		goto fail;
	if ((err = guard_start(s)) || (err = safety_start(s)))
		goto fail;
	struct sched_params sp = {
		.n_slots = s->p.n_parallel,
		.n_ctx = s->n_ctx,
		.n_batch = s->p.n_batch,
		.n_threads = s->p.n_threads,
		.cache_type = s->p.cache_type,
		.max_queue = s->p.max_queue,
	};
	if ((err = sched_new(model, &sp, &s->sched))) {
		err = ajar_err_wrap(err, "scheduler");
		goto fail;
	}
	if ((err = http_listen(s)))
		goto fail;
	if (warn_template[0])
		srv_log(s, "warning: %s", warn_template);
	if (warn_json[0])
		srv_log(s, "warning: response_format json_object disabled: %s", warn_json);
	*out = s;
	return AJAR_OK;
fail:
	sched_free(s->sched);
	safety_stop(s);
	guard_stop(s);
	metrics_free(s->metrics);
	json_constraint_free(s->jc_proto);
	pthread_rwlock_destroy(&s->sched_lock);
	free(s);
	return err;
}

uint16_t server_port(const struct server *s)
{
	return s->port;
}

const char *server_model_id(const struct server *s)
{
	return s->model_id;
}

const char *server_chat_template(const struct server *s)
{
	return chat_family_name(s->family);
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	atomic_store(&s->closing, true);
	MHD_socket lfd = MHD_quiesce_daemon(s->mhd);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);

	pthread_rwlock_wrlock(&s->sched_lock);
	struct sched *sched = s->sched;
	s->sched = NULL;
	pthread_rwlock_unlock(&s->sched_lock);
	sched_free(sched);

	/* Cancelled streams now send their final chunk and [DONE]; give them
	 * a moment before the connections are closed under them. */
	double t0 = mono_now();
	while (metrics_in_flight(s->metrics) > 0 && mono_now() - t0 < DRAIN_WAIT_S) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(s->mhd);

	json_constraint_free(s->jc_proto);
	metrics_free(s->metrics);
	safety_stop(s);
	guard_stop(s);
	pthread_rwlock_destroy(&s->sched_lock);
	free(s);
}
