/*
 * serve_load.c - load and robustness driver for an OpenAI-compatible server
 * (ajar serve, llama.cpp's llama-server).
 *
 * C client threads each send streaming requests (POST /v1/chat/completions
 * with stream: true, or /v1/completions) one after another, until N requests
 * have been sent in all (-n) or D seconds have passed (-d). Every request
 * asks for exactly --max-tokens tokens (ignore_eos, which both servers
 * honour), so runs are comparable. Reported:
 *   - aggregate completion tokens/s: all completion tokens / wall time from
 *     the first request's start to the last one's end;
 *   - time to first token (first non-empty content delta), p50 and p99;
 *   - request latency p50/p99 and mean per-request decode speed;
 *   - errors: non-200 status, transport failures, error events in the
 *     stream, streams without [DONE].
 * Completion tokens come from the usage chunk (stream_options.include_usage);
 * a server that sends none is counted by content chunks (one token each in
 * llama-server) and the report says so.
 *
 * --robust mixes in, after every normal request of every client, one probe
 * of a rotating kind: broken JSON, a body past the server's limit (413), a
 * content string with invalid UTF-8, wrong types, GET on a POST endpoint, an
 * unknown path, a stream aborted by the client after its first token, and a
 * request abandoned after 30 ms. Malformed requests must get a 4xx (a 5xx or
 * a dropped connection is a failure); aborted ones must not disturb anything
 * else. At the end the driver checks GET /health (200) and GET /metrics:
 * ajar_slots_busy (or llama-server's llamacpp:requests_processing) must be
 * back to 0 within 15 s, i.e. no aborted stream leaked a slot.
 *
 * Exit status: 0 when every request and probe went as expected, 1 otherwise,
 * 2 for bad arguments.
 *
 * Build: cc -O2 -std=c11 -D_GNU_SOURCE -o serve_load bench/serve_load.c -lcurl -lpthread -lm
 */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One SSE line is at most this long; longer lines are an error (a server
 * that sends one is broken, and the cap keeps memory bounded). */
#define LINE_CAP ((size_t)1 << 20)
/* Bodies of non-200 answers kept for the report. */
#define ERR_BODY_CAP 512
/* Most requests recorded (duration mode); more are counted, not timed. */
#define MAX_RECORDS ((size_t)1 << 20)
#define MAX_CLIENTS 1024

/* ---- options ----------------------------------------------------------- */

struct options {
	const char *url;      /* base, e.g. http://127.0.0.1:8080 */
	int clients;
	long requests;        /* total; 0 with duration */
	double duration;      /* seconds; 0 with requests */
	int max_tokens;
	int warmup;           /* untimed requests before the run */
	bool completions;     /* /v1/completions instead of chat */
	bool robust;
	bool json;
	const char *model;
	const char *key;      /* Authorization: Bearer */
	const char *prompt;
	double huge_mb;       /* body size of the too-large probe */
	double timeout;       /* per request, seconds */
};

static void usage(FILE *f)
{
	fputs("usage: serve_load -u URL [options]\n"
	      "  -u, --url URL         server base URL (http://127.0.0.1:8080)\n"
	      "  -c, --clients N       concurrent clients (default 1)\n"
	      "  -n, --requests N      requests in all (default 8 per client)\n"
	      "  -d, --duration S      instead: keep sending for S seconds\n"
	      "  -m, --max-tokens N    tokens per request (default 64; ignore_eos)\n"
	      "  -w, --warmup N        untimed requests first (default 1)\n"
	      "      --completions     use /v1/completions (default /v1/chat/completions)\n"
	      "      --model NAME      model field of the requests\n"
	      "      --key KEY         send Authorization: Bearer KEY\n"
	      "      --prompt TEXT     prompt (a request number is added to each)\n"
	      "      --robust          mix in malformed and aborted requests, then check /health and /metrics\n"
	      "      --huge-mb MB      size of the too-large body (default 9; ajar's limit is 8)\n"
	      "      --timeout S       per-request timeout (default 600)\n"
	      "      --json            print one JSON object instead of the report\n",
	      f);
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return false;
	*out = v;
	return true;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->clients = 1;
	o->max_tokens = 64;
	o->warmup = 1;
	o->prompt = "Write a short story about a robot who learns to paint.";
	o->huge_mb = 9.0;
	o->timeout = 600.0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long l;
		bool takes = true;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--completions")) {
			o->completions = true, takes = false;
		} else if (!strcmp(a, "--robust")) {
			o->robust = true, takes = false;
		} else if (!strcmp(a, "--json")) {
			o->json = true, takes = false;
		} else if (!v) {
			fprintf(stderr, "serve_load: %s needs a value\n", a);
			return 2;
		} else if (!strcmp(a, "-u") || !strcmp(a, "--url")) {
			o->url = v;
		} else if (!strcmp(a, "-c") || !strcmp(a, "--clients")) {
			if (!parse_long(v, 1, MAX_CLIENTS, &l))
				goto bad;
			o->clients = (int)l;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--requests")) {
			if (!parse_long(v, 1, 100000000, &o->requests))
				goto bad;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--duration")) {
			if (!parse_double(v, 0.001, 1e6, &o->duration))
				goto bad;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--max-tokens")) {
			if (!parse_long(v, 1, 1000000, &l))
				goto bad;
			o->max_tokens = (int)l;
		} else if (!strcmp(a, "-w") || !strcmp(a, "--warmup")) {
			if (!parse_long(v, 0, 1000, &l))
				goto bad;
			o->warmup = (int)l;
		} else if (!strcmp(a, "--model")) {
			o->model = v;
		} else if (!strcmp(a, "--key")) {
			o->key = v;
		} else if (!strcmp(a, "--prompt")) {
			o->prompt = v;
		} else if (!strcmp(a, "--huge-mb")) {
			if (!parse_double(v, 0.001, 1024, &o->huge_mb))
				goto bad;
		} else if (!strcmp(a, "--timeout")) {
			if (!parse_double(v, 0.1, 1e6, &o->timeout))
				goto bad;
		} else {
			fprintf(stderr, "serve_load: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
		if (takes)
			i++;
		continue;
bad:
		fprintf(stderr, "serve_load: bad value for %s: %s\n", a, v);
		return 2;
	}
	if (!o->url) {
		usage(stderr);
		return 2;
	}
	if (o->requests && o->duration > 0) {
		fprintf(stderr, "serve_load: give -n or -d, not both\n");
		return 2;
	}
	if (!o->requests && !(o->duration > 0))
		o->requests = 8L * o->clients;
	return 0;
}

/* ---- small utilities --------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A growable byte buffer with a hard cap. */
struct buf {
	char *p;
	size_t n, cap, limit;
};

static bool buf_add(struct buf *b, const char *s, size_t n)
{
	if (n > b->limit - b->n)
		return false;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return false;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	return true;
}

static bool buf_puts(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* Appends s as a JSON string literal (quotes included). */
static bool buf_add_json_string(struct buf *b, const char *s)
{
	if (!buf_add(b, "\"", 1))
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c;
			if (!buf_add(b, esc, 2))
				return false;
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			if (!buf_add(b, esc, 6))
				return false;
		} else if (!buf_add(b, s, 1)) {
			return false;
		}
	}
	return buf_add(b, "\"", 1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array; NAN when empty. */
static double percentile(const double *v, size_t n, double p)
{
	if (!n)
		return NAN;
	size_t k = (size_t)ceil(p * (double)n);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* ---- one streaming request --------------------------------------------- */

/* What one request saw. */
struct outcome {
	long status;           /* HTTP status, 0 if none */
	CURLcode curl;         /* transport result */
	bool done;             /* saw data: [DONE] */
	bool stream_error;     /* an {"error":...} event */
	bool aborted;          /* we stopped it on purpose */
	long usage_tokens;     /* from the usage chunk; -1 if none */
	long content_chunks;   /* data events with non-empty content */
	double t_start, t_first, t_end;
	char err_body[ERR_BODY_CAP];
};

struct stream_ctx {
	struct outcome *out;
	struct buf line;       /* the SSE line being assembled */
	struct buf body;       /* non-200 body, capped */
	bool abort_after_first; /* robustness: hang up after the first token */
	bool overflow;
};

/* Is there non-empty content after `"key":"` in s? */
static bool has_content(const char *s, const char *key)
{
	const char *p = strstr(s, key);
	return p && p[strlen(key)] != '"';
}

static void sse_line(struct stream_ctx *sc, const char *l)
{
	struct outcome *o = sc->out;
	if (strncmp(l, "data:", 5) != 0)
		return;
	l += 5;
	while (*l == ' ')
		l++;
	if (!strcmp(l, "[DONE]")) {
		o->done = true;
		return;
	}
	if (!strncmp(l, "{\"error\"", 8)) {
		o->stream_error = true;
		snprintf(o->err_body, sizeof(o->err_body), "%s", l);
		return;
	}
	/* Chat deltas carry "content":"...", legacy completions "text":"...". */
	if (has_content(l, "\"content\":\"") || has_content(l, "\"text\":\"")) {
		if (!o->content_chunks)
			o->t_first = now_s();
		o->content_chunks++;
	}
	const char *u = strstr(l, "\"completion_tokens\":");
	if (u && strstr(l, "\"usage\":{")) {
		char *end;
		long v = strtol(u + 20, &end, 10);
		if (end != u + 20 && v >= 0)
			o->usage_tokens = v;
	}
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *user)
{
	struct stream_ctx *sc = user;
	size_t n = size * nmemb;
	/* on_header has seen the status line before the first body byte. */
	if (sc->out->status != 200) {
		/* Keep the start of an error body for the report. */
		size_t room = sc->body.limit - sc->body.n;
		buf_add(&sc->body, p, n < room ? n : room);
		return n;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (sc->line.n && sc->line.p[sc->line.n - 1] == '\r')
				sc->line.p[--sc->line.n] = '\0';
			if (sc->line.n)
				sse_line(sc, sc->line.p);
			sc->line.n = 0;
			if (sc->line.p)
				sc->line.p[0] = '\0';
			if (sc->abort_after_first && sc->out->content_chunks) {
				sc->out->aborted = true;
				return 0; /* CURLE_WRITE_ERROR: curl drops the connection */
			}
		} else if (!buf_add(&sc->line, p + i, 1)) {
			sc->overflow = true;
			return 0;
		}
	}
	return n;
}

/* Header callback: the status line tells whether the body is a stream. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *user)
{
	struct stream_ctx *sc = user;
	size_t n = size * nmemb;
	if (n > 9 && !strncmp(p, "HTTP/", 5)) {
		const char *sp = memchr(p, ' ', n);
		if (sp)
			sc->out->status = strtol(sp + 1, NULL, 10);
	}
	return n;
}

struct request {
	const char *method;    /* "POST" or "GET" */
	const char *path;
	const char *body;      /* NULL for GET */
	size_t body_len;
	bool abort_after_first;
	long timeout_ms;       /* 0: the default */
};

static void perform(CURL *h, const struct options *opt, const struct request *rq, struct outcome *out)
{
	char url[2048];
	struct curl_slist *hdr = NULL;
	char auth[1024];
	struct stream_ctx sc = { .out = out, .abort_after_first = rq->abort_after_first };

	memset(out, 0, sizeof(*out));
	out->usage_tokens = -1;
	sc.line.limit = LINE_CAP;
	sc.body.limit = ERR_BODY_CAP - 1;
	snprintf(url, sizeof(url), "%s%s", opt->url, rq->path);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Accept: text/event-stream");
	hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip */
	if (opt->key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", opt->key);
		hdr = curl_slist_append(hdr, auth);
	}
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sc);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &sc);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms ? rq->timeout_ms : (long)(opt->timeout * 1000));
	if (!strcmp(rq->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	}
	out->t_start = now_s();
	out->curl = curl_easy_perform(h);
	out->t_end = now_s();
	if (out->status == 0)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	if (sc.body.n)
		snprintf(out->err_body, sizeof(out->err_body), "%s", sc.body.p);
	if (sc.overflow)
		snprintf(out->err_body, sizeof(out->err_body), "an SSE line longer than %zu bytes", LINE_CAP);
	curl_slist_free_all(hdr);
	free(sc.line.p);
	free(sc.body.p);
}

/* The body of normal request number i. Caller frees b->p. */
static bool generation_body(const struct options *o, long i, int max_tokens, struct buf *b)
{
	char num[256];
	char prompt[4096];
	b->limit = (size_t)64 << 20;
	snprintf(prompt, sizeof(prompt), "(%ld) %s", i, o->prompt);
	if (!buf_puts(b, "{"))
		return false;
	if (o->model) {
		if (!buf_puts(b, "\"model\":") || !buf_add_json_string(b, o->model) || !buf_puts(b, ","))
			return false;
	}
	if (o->completions) {
		if (!buf_puts(b, "\"prompt\":") || !buf_add_json_string(b, prompt))
			return false;
	} else {
		if (!buf_puts(b, "\"messages\":[{\"role\":\"user\",\"content\":") || !buf_add_json_string(b, prompt) ||
		    !buf_puts(b, "}]"))
			return false;
	}
	int n = snprintf(num, sizeof(num),
			 ",\"max_tokens\":%d,\"seed\":%ld,\"ignore_eos\":true,\"stream\":true,"
			 "\"stream_options\":{\"include_usage\":true}}",
			 max_tokens, i);
	return buf_add(b, num, (size_t)n);
}

/* ---- robustness probes ------------------------------------------------- */

enum probe {
	PROBE_BAD_JSON,
	PROBE_TOO_LARGE,
	PROBE_BAD_UTF8,
	PROBE_BAD_TYPES,
	PROBE_WRONG_METHOD,
	PROBE_NOT_FOUND,
	PROBE_ABORT_STREAM,
	PROBE_ABANDON,
	PROBE_COUNT,
};

static const char *const probe_names[PROBE_COUNT] = {
	"broken JSON", "body too large", "invalid UTF-8", "wrong types",
	"wrong method", "unknown path", "stream aborted", "abandoned at 30 ms",
};

/* Shared, read-only after main() builds it. */
static char *huge_body;
static size_t huge_len;

static bool build_huge_body(double mb)
{
	size_t n = (size_t)(mb * 1024 * 1024);
	static const char head[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"";
	static const char tail[] = "\"}],\"max_tokens\":1}";
	if (n < sizeof(head) + sizeof(tail))
		n = sizeof(head) + sizeof(tail);
	huge_body = malloc(n + 1);
	if (!huge_body)
		return false;
	memcpy(huge_body, head, sizeof(head) - 1);
	memset(huge_body + sizeof(head) - 1, 'a', n - (sizeof(head) - 1) - (sizeof(tail) - 1));
	memcpy(huge_body + n - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	huge_body[n] = '\0';
	huge_len = n;
	return true;
}

/* Runs probe k; true if the server answered as it should. why gets the
 * reason otherwise. */
static bool run_probe(CURL *h, const struct options *o, enum probe k, long i, char *why, size_t why_cap)
{
	static const char bad_json[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}";
	static const char bad_utf8[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"caf\xc3\x28 \xff\xfe\"}],\"max_tokens\":4}";
	static const char bad_types[] = "{\"messages\":\"hello\",\"max_tokens\":\"many\",\"temperature\":[1]}";
	const char *chat = o->completions ? "/v1/completions" : "/v1/chat/completions";
	struct request rq = { .method = "POST", .path = chat };
	struct outcome out;
	struct buf gen = { 0 };
	bool ok = false;

	switch (k) {
	case PROBE_BAD_JSON:
		rq.body = bad_json, rq.body_len = sizeof(bad_json) - 1;
		break;
	case PROBE_TOO_LARGE:
		rq.body = huge_body, rq.body_len = huge_len;
		break;
	case PROBE_BAD_UTF8:
		rq.body = bad_utf8, rq.body_len = sizeof(bad_utf8) - 1;
		break;
	case PROBE_BAD_TYPES:
		rq.body = bad_types, rq.body_len = sizeof(bad_types) - 1;
		break;
	case PROBE_WRONG_METHOD:
		rq.method = "GET";
		break;
	case PROBE_NOT_FOUND:
		rq.path = "/v1/no/such/endpoint";
		rq.body = "{}", rq.body_len = 2;
		break;
	case PROBE_ABORT_STREAM:
	case PROBE_ABANDON:
		if (!generation_body(o, i, 100000, &gen)) {
			snprintf(why, why_cap, "out of memory");
			return false;
		}
		rq.body = gen.p, rq.body_len = gen.n;
		if (k == PROBE_ABORT_STREAM)
			rq.abort_after_first = true;
		else
			rq.timeout_ms = 30;
		break;
	case PROBE_COUNT:
		break;
	}
	perform(h, o, &rq, &out);
	free(gen.p);

	switch (k) {
	case PROBE_ABORT_STREAM:
		/* Must have started streaming (200, a token) before we hung up. */
		ok = out.status == 200 && out.aborted;
		if (!ok)
			snprintf(why, why_cap, "status %ld, %s, %ld content chunks", out.status, curl_easy_strerror(out.curl),
				 out.content_chunks);
		break;
	case PROBE_ABANDON:
		/* Anything but a server error: the point is what happens after. */
		ok = out.status < 500;
		if (!ok)
			snprintf(why, why_cap, "status %ld", out.status);
		break;
	default:
		/* A 4xx answer. For the large body the server may close the
		 * connection as soon as it has answered 413, while we still send. */
		ok = out.status >= 400 && out.status < 500;
		if (!ok)
			snprintf(why, why_cap, "status %ld, %s: %.200s", out.status, curl_easy_strerror(out.curl),
				 out.err_body);
		break;
	}
	return ok;
}

/* ---- the run ----------------------------------------------------------- */

struct record {
	double ttft, latency, decode_tps; /* seconds, seconds, tokens/s (NAN if one token) */
	long tokens;
};

struct shared {
	const struct options *opt;
	atomic_long next;      /* next request number */
	double t_stop;         /* duration mode: no new request after this */
	pthread_mutex_t mu;    /* guards everything below */
	struct record *rec;
	size_t n_rec;
	long ok, errors, tokens, chunks_only, requests_sent;
	double t_first_start, t_last_end;
	long probe_ok[PROBE_COUNT], probe_bad[PROBE_COUNT];
	int errors_shown;
};

static bool claim(struct shared *s, long *i)
{
	if (s->opt->requests) {
		long k = atomic_fetch_add(&s->next, 1);
		if (k >= s->opt->requests)
			return false;
		*i = k;
		return true;
	}
	if (now_s() >= s->t_stop)
		return false;
	*i = atomic_fetch_add(&s->next, 1);
	return true;
}

/* Runs one normal request and records it; returns false on error. */
static bool one_request(CURL *h, struct shared *s, long i, bool timed)
{
	const struct options *o = s->opt;
	struct buf body = { 0 };
	struct outcome out;
	if (!generation_body(o, i, o->max_tokens, &body))
		return false;
	struct request rq = { .method = "POST", .path = o->completions ? "/v1/completions" : "/v1/chat/completions",
			      .body = body.p, .body_len = body.n };
	perform(h, o, &rq, &out);
	free(body.p);

	bool ok = out.curl == CURLE_OK && out.status == 200 && out.done && !out.stream_error && out.content_chunks > 0;
	if (!timed)
		return ok;
	long tokens = out.usage_tokens >= 0 ? out.usage_tokens : out.content_chunks;
	pthread_mutex_lock(&s->mu);
	s->requests_sent++;
	if (ok) {
		s->ok++;
		s->tokens += tokens;
		if (out.usage_tokens < 0)
			s->chunks_only++;
		if (s->n_rec < MAX_RECORDS) {
			struct record *r = &s->rec[s->n_rec++];
			r->ttft = out.t_first - out.t_start;
			r->latency = out.t_end - out.t_start;
			r->tokens = tokens;
			r->decode_tps = tokens > 1 && out.t_end > out.t_first ? (double)(tokens - 1) / (out.t_end - out.t_first)
									 : NAN;
		}
	} else {
		s->errors++;
		if (s->errors_shown++ < 5)
			fprintf(stderr, "serve_load: request %ld failed: status %ld, %s%s%s, %ld chunks: %.300s\n", i,
				out.status, curl_easy_strerror(out.curl), out.done ? "" : ", no [DONE]",
				out.stream_error ? ", error event" : "", out.content_chunks, out.err_body);
	}
	if (s->t_first_start == 0 || out.t_start < s->t_first_start)
		s->t_first_start = out.t_start;
	if (out.t_end > s->t_last_end)
		s->t_last_end = out.t_end;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

struct client {
	struct shared *s;
	int index;
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct shared *s = c->s;
	CURL *h = curl_easy_init();
	long i;
	int probe = c->index % PROBE_COUNT;
	char why[512];

	if (!h)
		return NULL;
	while (claim(s, &i)) {
		one_request(h, s, i, true);
		if (s->opt->robust) {
			bool ok = run_probe(h, s->opt, (enum probe)probe, i, why, sizeof(why));
			pthread_mutex_lock(&s->mu);
			if (ok) {
				s->probe_ok[probe]++;
			} else {
				s->probe_bad[probe]++;
				fprintf(stderr, "serve_load: probe '%s' failed: %s\n", probe_names[probe], why);
			}
			pthread_mutex_unlock(&s->mu);
			probe = (probe + 1) % PROBE_COUNT;
		}
	}
	curl_easy_cleanup(h);
	return NULL;
}

static size_t on_plain(char *p, size_t size, size_t nmemb, void *user)
{
	struct buf *b = user;
	size_t n = size * nmemb;
	return buf_add(b, p, n) ? n : 0;
}

/* GET path into body (at most 4 MiB; perform() keeps only the start of a
 * body, /metrics needs all of it). Returns the status, 0 on failure. */
static long http_get(const struct options *o, const char *path, struct buf *body)
{
	char url[2048];
	CURL *h = curl_easy_init();
	if (!h)
		return 0;
	snprintf(url, sizeof(url), "%s%s", o->url, path);
	body->limit = (size_t)4 << 20;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	struct curl_slist *hdr = NULL;
	char auth[1024];
	if (o->key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->key);
		hdr = curl_slist_append(hdr, auth);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_plain);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	long status = 0;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return status;
}

/* The value of a Prometheus sample `name value` (no labels), or -1. */
static double metric_value(const char *text, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, name, len) && (p[len] == ' ' || p[len] == '\t'))
			return strtod(p + len + 1, NULL);
	}
	return -1;
}

struct end_check {
	long health;
	const char *metric;   /* which gauge was read, NULL if none */
	double busy;          /* its last value */
	double waited;        /* seconds until it read 0 */
};

/* /health must answer 200, and the busy-slots gauge must reach 0. */
static bool check_end(const struct options *o, struct end_check *e)
{
	static const char *const gauges[] = { "ajar_slots_busy", "llamacpp:requests_processing" };
	struct buf b = { 0 };
	memset(e, 0, sizeof(*e));
	e->busy = -1;
	e->health = http_get(o, "/health", &b);
	free(b.p);
	double t0 = now_s();
	for (;;) {
		struct buf m = { 0 };
		long st = http_get(o, "/metrics", &m);
		e->metric = NULL;
		if (st == 200 && m.p) {
			for (size_t k = 0; k < sizeof(gauges) / sizeof(gauges[0]); k++) {
				double v = metric_value(m.p, gauges[k]);
				if (v >= 0) {
					e->metric = gauges[k];
					e->busy = v;
					break;
				}
			}
		}
		free(m.p);
		e->waited = now_s() - t0;
		if (!e->metric || e->busy == 0 || e->waited > 15)
			break;
		usleep(100 * 1000);
	}
	return e->health == 200 && (!e->metric || e->busy == 0);
}

int main(int argc, char **argv)
{
	struct options o;
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "serve_load: curl_global_init failed\n");
		return 1;
	}
	if (o.robust && !build_huge_body(o.huge_mb)) {
		fprintf(stderr, "serve_load: out of memory\n");
		return 1;
	}

	struct shared s;
	memset(&s, 0, sizeof(s));
	s.opt = &o;
	pthread_mutex_init(&s.mu, NULL);
	size_t cap = o.requests ? (size_t)o.requests : MAX_RECORDS;
	if (cap > MAX_RECORDS)
		cap = MAX_RECORDS;
	s.rec = calloc(cap, sizeof(*s.rec));
	if (!s.rec) {
		fprintf(stderr, "serve_load: out of memory\n");
		return 1;
	}

	/* Warm-up: untimed, one at a time (loads caches, JITs nothing). */
	CURL *h = curl_easy_init();
	int warm_failed = 0;
	for (int k = 0; k < o.warmup && h; k++)
		warm_failed += !one_request(h, &s, -1 - k, false);
	curl_easy_cleanup(h);
	if (warm_failed)
		fprintf(stderr, "serve_load: %d warm-up request(s) failed\n", warm_failed);

	pthread_t *tids = calloc((size_t)o.clients, sizeof(*tids));
	struct client *cl = calloc((size_t)o.clients, sizeof(*cl));
	if (!tids || !cl) {
		fprintf(stderr, "serve_load: out of memory\n");
		return 1;
	}
	double t0 = now_s();
	s.t_stop = t0 + o.duration;
	int started = 0;
	for (int k = 0; k < o.clients; k++) {
		cl[k].s = &s;
		cl[k].index = k;
		if (pthread_create(&tids[k], NULL, client_main, &cl[k]) != 0) {
			fprintf(stderr, "serve_load: pthread_create failed\n");
			break;
		}
		started++;
	}
	for (int k = 0; k < started; k++)
		pthread_join(tids[k], NULL);
	double wall = s.t_last_end > s.t_first_start ? s.t_last_end - s.t_first_start : now_s() - t0;

	double *ttft = malloc((s.n_rec + 1) * sizeof(*ttft));
	double *lat = malloc((s.n_rec + 1) * sizeof(*lat));
	double tps_sum = 0;
	long tps_n = 0;
	for (size_t k = 0; k < s.n_rec; k++) {
		ttft[k] = s.rec[k].ttft;
		lat[k] = s.rec[k].latency;
		if (!isnan(s.rec[k].decode_tps))
			tps_sum += s.rec[k].decode_tps, tps_n++;
	}
	qsort(ttft, s.n_rec, sizeof(*ttft), cmp_double);
	qsort(lat, s.n_rec, sizeof(*lat), cmp_double);
	double agg = wall > 0 ? (double)s.tokens / wall : 0;

	long probes_ok = 0, probes_bad = 0;
	for (int k = 0; k < PROBE_COUNT; k++)
		probes_ok += s.probe_ok[k], probes_bad += s.probe_bad[k];
	struct end_check end = { 0 };
	bool end_ok = true;
	if (o.robust)
		end_ok = check_end(&o, &end);

	bool pass = s.errors == 0 && s.ok > 0 && probes_bad == 0 && end_ok && warm_failed == 0;
	if (o.json) {
		printf("{\"url\":\"%s\",\"clients\":%d,\"requests\":%ld,\"ok\":%ld,\"errors\":%ld,\"max_tokens\":%d,"
		       "\"completion_tokens\":%ld,\"tokens_counted_by_chunks\":%ld,\"wall_s\":%.4f,\"tokens_per_s\":%.3f,"
		       "\"ttft_p50_ms\":%.2f,\"ttft_p99_ms\":%.2f,\"latency_p50_ms\":%.2f,\"latency_p99_ms\":%.2f,"
		       "\"decode_tps_mean\":%.3f",
		       o.url, o.clients, s.requests_sent, s.ok, s.errors, o.max_tokens, s.tokens, s.chunks_only, wall, agg,
		       percentile(ttft, s.n_rec, 0.5) * 1e3, percentile(ttft, s.n_rec, 0.99) * 1e3,
		       percentile(lat, s.n_rec, 0.5) * 1e3, percentile(lat, s.n_rec, 0.99) * 1e3,
		       tps_n ? tps_sum / (double)tps_n : 0.0);
		if (o.robust) {
			printf(",\"probes_ok\":%ld,\"probes_failed\":%ld,\"health\":%ld,\"busy_metric\":%s%s%s,"
			       "\"busy_after\":%.0f",
			       probes_ok, probes_bad, end.health, end.metric ? "\"" : "", end.metric ? end.metric : "null",
			       end.metric ? "\"" : "", end.busy);
		}
		printf(",\"pass\":%s}\n", pass ? "true" : "false");
	} else {
		printf("serve_load: %s, %d client%s, %ld requests (%d warm-up before), max_tokens %d, %s\n", o.url,
		       o.clients, o.clients == 1 ? "" : "s", s.requests_sent, o.warmup, o.max_tokens,
		       o.completions ? "/v1/completions" : "/v1/chat/completions");
		printf("  ok %ld, errors %ld\n", s.ok, s.errors);
		printf("  completion tokens %ld in %.2f s: %.1f tokens/s aggregate%s\n", s.tokens, wall, agg,
		       s.chunks_only ? " (some counted by content chunks: no usage chunk)" : "");
		printf("  time to first token: p50 %.1f ms, p99 %.1f ms\n", percentile(ttft, s.n_rec, 0.5) * 1e3,
		       percentile(ttft, s.n_rec, 0.99) * 1e3);
		printf("  request latency: p50 %.1f ms, p99 %.1f ms; per-request decode %.1f tokens/s (mean)\n",
		       percentile(lat, s.n_rec, 0.5) * 1e3, percentile(lat, s.n_rec, 0.99) * 1e3,
		       tps_n ? tps_sum / (double)tps_n : 0.0);
		if (o.robust) {
			printf("  robustness probes: %ld as expected, %ld not\n", probes_ok, probes_bad);
			for (int k = 0; k < PROBE_COUNT; k++)
				printf("    %-20s %ld/%ld\n", probe_names[k], s.probe_ok[k], s.probe_ok[k] + s.probe_bad[k]);
			printf("  end: /health %ld; %s %s%.0f after %.1f s\n", end.health,
			       end.metric ? end.metric : "(no busy-slots gauge in /metrics)", end.metric ? "= " : "",
			       end.metric ? end.busy : 0.0, end.waited);
		}
		printf("  %s\n", pass ? "PASS" : "FAIL");
	}
	free(ttft);
	free(lat);
	free(tids);
	free(cl);
	free(s.rec);
	free(huge_body);
	pthread_mutex_destroy(&s.mu);
	curl_global_cleanup();
	return pass ? 0 : 1;
}
