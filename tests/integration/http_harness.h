/*
 * http_harness.h - what the server integration tests share: start
 * `$AJAR_BIN serve` on a free port as a child process (its first stdout line
 * names the URL), talk to it with libcurl, parse JSON, SSE and Prometheus
 * text, poll for a condition instead of sleeping, and stop the server with
 * SIGTERM checking that it exits 0.
 *
 * Each server gets a fresh store in a temporary folder (--store) and the
 * admin key made at its start (--admin-key-file), which /metrics needs.
 * Unless the test passes its own --policy, the server runs
 * tests/data/policy_open.json: requests without a key get a tier with
 * every capability and no limits, so tests of the API itself need no keys.
 * s->key, when set, is sent as the bearer key of every request.
 *
 * Include after check.h, in one test file per binary (everything is static).
 */
#ifndef AJAR_TESTS_HTTP_HARNESS_H
#define AJAR_TESTS_HTTP_HARNESS_H

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Limits for a server that hangs: the tests fail rather than wait forever. */
#define HARNESS_START_TIMEOUT_S 60.0
#define HARNESS_STOP_TIMEOUT_S 30.0

struct test_server {
	pid_t pid;
	int out_fd;        /* the child's stdout */
	char url[128];     /* "http://127.0.0.1:PORT" (no trailing slash) */
	char dir[256];     /* the temporary folder of its store */
	char store[320];   /* "sqlite:DIR/store.db" */
	char admin_key[128]; /* read from DIR/admin.key after start */
	char key[128];     /* sent as "Authorization: Bearer KEY" when non-empty */
};

/* Reads the first line of a small file into out; false if unreadable. */
static inline bool harness_read_line(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool ok = fgets(out, (int)cap, f) != NULL;
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return ok && out[0];
}

static inline bool harness_has_arg(const char *const *args, const char *name)
{
	for (int i = 0; args && args[i]; i++)
		if (strcmp(args[i], name) == 0)
			return true;
	return false;
}

/* Removes the server's store folder (the files SQLite and the server made). */
static inline void harness_remove_dir(struct test_server *s)
{
	static const char *const names[] = { "store.db", "store.db-wal", "store.db-shm", "store.db.secret",
					     "store.db.pub", "store.db.watermark", "admin.key", NULL };
	char p[512];
	if (!s->dir[0])
		return;
	for (int i = 0; names[i]; i++) {
		snprintf(p, sizeof(p), "%s/%s", s->dir, names[i]);
		unlink(p);
	}
	rmdir(s->dir);
	s->dir[0] = '\0';
}

static inline double harness_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void harness_pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/*
 * Starts `ajar serve -m stories260K.gguf --port 0 ARGS...` and waits for the
 * "serving ... at http://HOST:PORT/" line. Returns false (with a message)
 * if the binary is missing or no such line comes in time.
 */
static inline bool server_start_args(struct test_server *s, const char *const *args)
{
	const char *bin = getenv("AJAR_BIN");
	static char model[4096], policy[4096], keyfile[512];
	const char *argv[56];
	int n = 0, pipefd[2];

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/ajar-itest-XXXXXX");
	if (!mkdtemp(s->dir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		s->dir[0] = '\0';
		return false;
	}
	snprintf(s->store, sizeof(s->store), "sqlite:%s/store.db", s->dir);
	snprintf(keyfile, sizeof(keyfile), "%s/admin.key", s->dir);
	snprintf(policy, sizeof(policy), "%s/tests/data/policy_open.json", AJAR_SOURCE_DIR);
	snprintf(model, sizeof(model), "%s", fixture_path("models/stories260K.gguf"));
	if (!bin) {
		fprintf(stderr, "AJAR_BIN is not set\n");
		return false;
	}
	argv[n++] = bin;
	argv[n++] = "serve";
	argv[n++] = "-m";
	argv[n++] = model;
	argv[n++] = "--port";
	argv[n++] = "0";
	if (!harness_has_arg(args, "--store")) {
		argv[n++] = "--store";
		argv[n++] = s->store;
	}
	if (!harness_has_arg(args, "--policy")) {
		argv[n++] = "--policy";
		argv[n++] = policy;
	}
	argv[n++] = "--admin-key-file";
	argv[n++] = keyfile;
	for (int i = 0; args && args[i] && n < 54; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe(pipefd) != 0)
		return false;
	s->pid = fork();
	if (s->pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	s->out_fd = pipefd[0];

	char line[1024];
	size_t len = 0;
	double t0 = harness_now();
	while (harness_now() - t0 < HARNESS_START_TIMEOUT_S && len < sizeof(line) - 1) {
		struct pollfd pfd = { s->out_fd, POLLIN, 0 };
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		ssize_t got = read(s->out_fd, line + len, sizeof(line) - 1 - len);
		if (got <= 0)
			break;
		len += (size_t)got;
		line[len] = '\0';
		char *nl = strchr(line, '\n');
		if (!nl)
			continue;
		*nl = '\0';
		const char *u = strstr(line, "http://");
		if (!u || !strstr(line, "ajar: serving "))
			break;
		size_t k = strcspn(u, " ");
		if (k > 0 && u[k - 1] == '/')
			k--;
		snprintf(s->url, sizeof(s->url), "%.*s", (int)k, u);
		/* A store given by the test may have its admin key already. */
		harness_read_line(keyfile, s->admin_key, sizeof(s->admin_key));
		return true;
	}
	fprintf(stderr, "server did not print its URL; stdout so far: %.*s\n", (int)len, line);
	return false;
}

/* Sends SIGTERM and waits for the exit; returns the exit status, 128+signal
 * if killed, or -1 if it did not exit in time (then it is killed). */
static inline int server_stop_wait(struct test_server *s)
{
	int st = 0;
	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	double t0 = harness_now();
	for (;;) {
		pid_t r = waitpid(s->pid, &st, WNOHANG);
		if (r == s->pid)
			break;
		if (harness_now() - t0 > HARNESS_STOP_TIMEOUT_S) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
			close(s->out_fd);
			s->pid = -1;
			harness_remove_dir(s);
			return -1;
		}
		harness_pause_ms(10);
	}
	close(s->out_fd);
	s->pid = -1;
	harness_remove_dir(s);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- HTTP ---- */

struct http_resp {
	long status;
	char *body;           /* NUL-terminated, caller frees (http_resp_free) */
	size_t len;
	char content_type[128];
	char retry_after[32];
	char allow[64];
	char cache_control[64];
	char request_id[64];  /* x-request-id */
	char rl_limit_requests[24], rl_remaining_requests[24], rl_reset_requests[24];
	char rl_limit_tokens[24], rl_remaining_tokens[24], rl_reset_tokens[24];
	char content_range[96];
	char content_sha256[80];
	CURLcode curl;        /* transport result */
};

static inline void http_resp_free(struct http_resp *r)
{
	free(r->body);
	r->body = NULL;
}

static inline size_t harness_write(char *p, size_t sz, size_t n, void *user)
{
	struct http_resp *r = user;
	size_t k = sz * n;
	char *b = realloc(r->body, r->len + k + 1);
	if (!b)
		return 0;
	r->body = b;
	memcpy(r->body + r->len, p, k);
	r->len += k;
	r->body[r->len] = '\0';
	return k;
}

/* Copies the value of header "Name: value" if this line is it. */
static inline void harness_header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	const char *v = line + nl + 1;
	size_t vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
		vl--;
	snprintf(out, cap, "%.*s", (int)vl, v);
}

static inline size_t harness_header(char *p, size_t sz, size_t n, void *user)
{
	struct http_resp *r = user;
	size_t k = sz * n;
	harness_header_value(p, k, "Content-Type", r->content_type, sizeof(r->content_type));
	harness_header_value(p, k, "Retry-After", r->retry_after, sizeof(r->retry_after));
	harness_header_value(p, k, "Allow", r->allow, sizeof(r->allow));
	harness_header_value(p, k, "Cache-Control", r->cache_control, sizeof(r->cache_control));
	harness_header_value(p, k, "x-request-id", r->request_id, sizeof(r->request_id));
	harness_header_value(p, k, "x-ratelimit-limit-requests", r->rl_limit_requests, sizeof(r->rl_limit_requests));
	harness_header_value(p, k, "x-ratelimit-remaining-requests", r->rl_remaining_requests,
			     sizeof(r->rl_remaining_requests));
	harness_header_value(p, k, "x-ratelimit-reset-requests", r->rl_reset_requests, sizeof(r->rl_reset_requests));
	harness_header_value(p, k, "x-ratelimit-limit-tokens", r->rl_limit_tokens, sizeof(r->rl_limit_tokens));
	harness_header_value(p, k, "x-ratelimit-remaining-tokens", r->rl_remaining_tokens,
			     sizeof(r->rl_remaining_tokens));
	harness_header_value(p, k, "x-ratelimit-reset-tokens", r->rl_reset_tokens, sizeof(r->rl_reset_tokens));
	harness_header_value(p, k, "Content-Range", r->content_range, sizeof(r->content_range));
	harness_header_value(p, k, "X-Content-SHA256", r->content_sha256, sizeof(r->content_sha256));
	return k;
}

/* Sets up an easy handle for METHOD url+path with body (NULL: none). The
 * caller keeps *hdrs to free with curl_slist_free_all. */
static inline CURL *http_easy(const struct test_server *s, const char *method, const char *path, const char *body,
		       size_t body_len, struct http_resp *r, struct curl_slist **hdrs)
{
	char url[512];
	CURL *c = curl_easy_init();

	memset(r, 0, sizeof(*r));
	r->body = calloc(1, 1);
	snprintf(url, sizeof(url), "%s%s", s->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, harness_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	*hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	/* Send bodies at once, without waiting for "100 Continue". */
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	if (s->key[0]) {
		char auth[192];
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->key);
		*hdrs = curl_slist_append(*hdrs, auth);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	return c;
}

static inline struct http_resp http_do(const struct test_server *s, const char *method, const char *path, const char *body,
				size_t body_len)
{
	struct http_resp r;
	struct curl_slist *hdrs;
	CURL *c = http_easy(s, method, path, body, body_len, &r, &hdrs);
	r.curl = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return r;
}

static inline struct http_resp http_get(const struct test_server *s, const char *path)
{
	return http_do(s, "GET", path, NULL, 0);
}

static inline struct http_resp http_post(const struct test_server *s, const char *path, const char *body)
{
	return http_do(s, "POST", path, body, strlen(body));
}

/* POSTs a JSON object (borrowed) and returns the response. */
static inline struct http_resp http_post_json(const struct test_server *s, const char *path, const json_t *obj)
{
	char *body = json_dumps(obj, JSON_COMPACT);
	struct http_resp r = http_post(s, path, body);
	free(body);
	return r;
}

/* The response body as JSON, or NULL (caller decrefs). */
static inline json_t *resp_json(const struct http_resp *r)
{
	return r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
}

/* ---- Server-Sent Events ---- */

/* The data: payloads of an SSE body, in order, as a JSON array of strings
 * (the raw payload, e.g. "[DONE]" or a JSON text). */
static inline json_t *sse_events(const char *body)
{
	json_t *out = json_array();
	const char *p = body;
	while (p && *p) {
		const char *end = strstr(p, "\n\n");
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n >= 6 && strncmp(p, "data: ", 6) == 0)
			json_array_append_new(out, json_stringn(p + 6, n - 6));
		else if (n > 0)
			json_array_append_new(out, json_string("<malformed event>"));
		p = end ? end + 2 : NULL;
	}
	return out;
}

/* ---- Prometheus text ---- */

/* The value of the first sample whose line starts with name (a metric name
 * with or without labels, e.g. "ajar_slots_busy" or
 * "ajar_requests_total{endpoint=\"/health\",status=\"200\"}"); -1 if absent. */
static inline double metric_value(const char *text, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = text; p && *p;) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
			return strtod(p + nl + 1, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* The same request with another bearer key ("" for none). */
static inline struct http_resp http_do_as(const struct test_server *s, const char *key, const char *method,
					  const char *path, const char *body)
{
	struct test_server as = *s;
	snprintf(as.key, sizeof(as.key), "%s", key ? key : "");
	return http_do(&as, method, path, body, body ? strlen(body) : 0);
}

static inline double server_metric(const struct test_server *s, const char *name)
{
	struct http_resp r = http_do_as(s, s->admin_key, "GET", "/metrics", NULL);
	double v = r.status == 200 ? metric_value(r.body, name) : -1;
	http_resp_free(&r);
	return v;
}

/* Polls until metric == want or timeout_s passes; true if it got there. */
static inline bool wait_metric(const struct test_server *s, const char *name, double want, double timeout_s)
{
	double t0 = harness_now();
	while (harness_now() - t0 < timeout_s) {
		if (server_metric(s, name) == want)
			return true;
		harness_pause_ms(20);
	}
	return false;
}

/* ---- the OpenAI error shape ---- */

/* Checks status, JSON content type and {"error":{"message","type","param","code"}}
 * with exactly those keys, message a non-empty string, type a string, param
 * and code string or null; returns the error object (borrowed from *root). */
static inline json_t *check_error_shape(const struct http_resp *r, long status, json_t **root, const char *file, int line)
{
	*root = resp_json(r);
	json_t *err = json_object_get(*root, "error");
	bool ok = r->status == status && strncmp(r->content_type, "application/json", 16) == 0 && json_is_object(err) &&
		  json_object_size(*root) == 1 && json_object_size(err) == 4 &&
		  json_is_string(json_object_get(err, "message")) &&
		  json_string_length(json_object_get(err, "message")) > 0 &&
		  json_is_string(json_object_get(err, "type")) &&
		  (json_is_string(json_object_get(err, "param")) || json_is_null(json_object_get(err, "param"))) &&
		  (json_is_string(json_object_get(err, "code")) || json_is_null(json_object_get(err, "code")));
	if (!ok) {
		fprintf(stderr, "%s:%d: expected a %ld error in the OpenAI shape, got %ld (%s): %.400s\n", file, line,
			status, r->status, r->content_type, r->body ? r->body : "");
		check_failures++;
	}
	return err;
}

#endif
