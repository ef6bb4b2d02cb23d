/*
 * metrics.c - the server's counters and histograms, and their Prometheus
 * text exposition (format 0.0.4) for GET /metrics.
 *
 * Every field of struct metrics is guarded by its one mutex; updates are a
 * few additions, so contention is negligible next to a forward pass.
 * Requests are counted by endpoint and status; statuses are kept in a table
 * indexed by code (100..599), so any status a handler or MHD produces shows
 * up without a list to maintain.
 */
#include "server/server_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_MIN 100
#define STATUS_MAX 599
#define N_STATUS (STATUS_MAX - STATUS_MIN + 1)

/* Upper bounds in seconds. Requests range from a millisecond (/health) to
 * minutes (long generations); first tokens from milliseconds to the time a
 * long prompt or a full queue takes. */
static const double duration_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 };
static const double ttft_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
#define N_DURATION (sizeof(duration_bounds) / sizeof(duration_bounds[0]))
#define N_TTFT (sizeof(ttft_bounds) / sizeof(ttft_bounds[0]))

struct histogram {
	uint64_t buckets[16]; /* non-cumulative; the last one past every bound (+Inf) */
	uint64_t count;
	double sum;
};

struct metrics {
	pthread_mutex_t lock;
	uint64_t requests[EP_COUNT][N_STATUS];
	struct histogram duration;
	struct histogram ttft;
	uint64_t prompt_tokens, completion_tokens;
	int in_flight;
};

_Static_assert(N_DURATION < 16 && N_TTFT < 16, "histogram bucket arrays hold 16");

enum ajar_err metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return ajar_errf(AJAR_ERR_NOMEM, "metrics");
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return AJAR_OK;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static void observe(struct histogram *h, const double *bounds, size_t n, double v)
{
	size_t i = 0;
	while (i < n && v > bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum += v;
}

void metrics_request_begin(struct metrics *m)
{
	pthread_mutex_lock(&m->lock);
	m->in_flight++;
	pthread_mutex_unlock(&m->lock);
}

int metrics_in_flight(struct metrics *m)
{
	pthread_mutex_lock(&m->lock);
	int n = m->in_flight;
	pthread_mutex_unlock(&m->lock);
	return n;
}

void metrics_request(struct metrics *m, enum endpoint ep, unsigned status, double seconds)
{
	if (status < STATUS_MIN || status > STATUS_MAX)
		status = 500;
	if ((unsigned)ep >= EP_COUNT)
		ep = EP_OTHER;
	pthread_mutex_lock(&m->lock);
	m->requests[ep][status - STATUS_MIN]++;
	observe(&m->duration, duration_bounds, N_DURATION, seconds);
	if (m->in_flight > 0)
		m->in_flight--;
	pthread_mutex_unlock(&m->lock);
}

void metrics_ttft(struct metrics *m, double seconds)
{
	pthread_mutex_lock(&m->lock);
	observe(&m->ttft, ttft_bounds, N_TTFT, seconds);
	pthread_mutex_unlock(&m->lock);
}

void metrics_tokens(struct metrics *m, uint64_t prompt, uint64_t completion)
{
	pthread_mutex_lock(&m->lock);
	m->prompt_tokens += prompt;
	m->completion_tokens += completion;
	pthread_mutex_unlock(&m->lock);
}

/* A growable text buffer; out of memory sticks and is reported at the end. */
struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void text_printf(struct text *t, const char *fmt, ...) AJAR_PRINTF(2, 3);
static void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(t->buf, cap);
		if (!p) {
			t->oom = true;
			return;
		}
		t->buf = p;
		t->cap = cap;
	}
}

static void render_histogram(struct text *t, const char *name, const char *help, const struct histogram *h,
			     const double *bounds, size_t n)
{
	uint64_t cum = 0;
	text_printf(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < n; i++) {
		cum += h->buckets[i];
		text_printf(t, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
	}
	cum += h->buckets[n];
	text_printf(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	text_printf(t, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

static void render_gauge(struct text *t, const char *name, const char *type, const char *help, unsigned long long v)
{
	text_printf(t, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

char *metrics_render(struct metrics *m, const struct sched_stats *st, size_t *len)
{
	struct text t = { 0 };
	struct metrics snap;

	pthread_mutex_lock(&m->lock);
	memcpy(&snap, m, sizeof(snap));
	pthread_mutex_unlock(&m->lock);

	text_printf(&t, "# HELP ajar_requests_total HTTP requests by endpoint and status.\n"
			"# TYPE ajar_requests_total counter\n");
	for (int ep = 0; ep < EP_COUNT; ep++)
		for (int s = 0; s < N_STATUS; s++)
			if (snap.requests[ep][s])
				text_printf(&t, "ajar_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
					    endpoint_label((enum endpoint)ep), s + STATUS_MIN,
					    (unsigned long long)snap.requests[ep][s]);
	render_gauge(&t, "ajar_requests_in_flight", "gauge", "HTTP requests being handled.",
		     (unsigned long long)(snap.in_flight > 0 ? snap.in_flight : 0));
	render_gauge(&t, "ajar_prompt_tokens_total", "counter", "Prompt tokens of finished generations.",
		     (unsigned long long)snap.prompt_tokens);
	render_gauge(&t, "ajar_completion_tokens_total", "counter", "Tokens generated.",
		     (unsigned long long)snap.completion_tokens);
	render_histogram(&t, "ajar_request_duration_seconds", "Time from request headers to the last byte sent.",
			 &snap.duration, duration_bounds, N_DURATION);
	render_histogram(&t, "ajar_time_to_first_token_seconds", "Time from request to the first generated token.",
			 &snap.ttft, ttft_bounds, N_TTFT);
	render_gauge(&t, "ajar_queue_depth", "gauge", "Requests waiting for a slot.", st->queue_depth);
	render_gauge(&t, "ajar_slots_busy", "gauge", "Slots generating.", st->slots_busy);
	render_gauge(&t, "ajar_slots_total", "gauge", "Slots (--parallel).", st->n_slots);
	render_gauge(&t, "ajar_cached_prompt_tokens_total", "counter", "Prompt tokens reused from a slot's cache.",
		     (unsigned long long)st->cached_tokens);
	render_gauge(&t, "ajar_scheduler_steps_total", "counter", "Batched forward passes.",
		     (unsigned long long)st->steps);
	if (t.oom) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}
