/*
 * Integration tests of `ajar serve` on bad input and under pressure: every
 * malformed request gets the exact status and the OpenAI error shape
 * {"error":{"message","type","param","code"}} naming the problem, and the
 * server stays up. Then the hard cases: bodies over the cap (413, with and
 * without Content-Length), a client that hangs up mid-stream (the slot is
 * freed at once), a full queue (503 with Retry-After), and SIGTERM while a
 * stream runs (the stream ends properly, the process exits 0).
 *
 * Two servers: a quick one (--max-body 65536) for the request cases, and a
 * slow one (--parallel 1 --queue 1, a 4096-position context, one thread) on
 * which a long generation takes many seconds, so that a freed slot can only
 * mean a cancelled generation.
 */
#include "check.h"
#include "http_harness.h"

static struct test_server srv, slow;

#define MAX_BODY 65536

#define CHECK_ERROR(r, status, root) check_error_shape((r), (status), (root), __FILE__, __LINE__)

struct bad_case {
	const char *method;
	const char *path;
	const char *body;     /* NULL: none */
	long status;
	const char *param;    /* expected error.param; NULL: null */
	const char *needle;   /* must appear in error.message */
};

static const struct bad_case bad_cases[] = {
	/* malformed bodies */
	{ "POST", "/v1/chat/completions", "{\"messages\": [", 400, NULL, "line 1, column" },
	{ "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\",\n \"content\": \"hi\"}],\n \"x\": tru}", 400,
	  NULL, "line 3" },
	{ "POST", "/v1/completions", "", 400, NULL, "empty" },
	{ "POST", "/v1/completions", "[1, 2]", 400, NULL, "JSON object" },
	{ "POST", "/v1/completions", "\"prompt\"", 400, NULL, "malformed JSON" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\\u0000b\"}", 400, NULL, "malformed JSON" },
	{ "POST", "/tokenize", "{\"content\": 'x'}", 400, NULL, "malformed JSON" },
	/* wrong types */
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"temperature\": \"hot\"}", 400, "temperature",
	  "temperature must be a number" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"top_p\": [1]}", 400, "top_p", "top_p must be a number" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": \"10\"}", 400, "max_tokens",
	  "max_tokens must be an integer" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": 1.5}", 400, "max_tokens",
	  "max_tokens must be an integer" },
	{ "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"max_completion_tokens\": true}",
	  400, "max_completion_tokens", "max_completion_tokens must be an integer" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"stream\": \"yes\"}", 400, "stream", "stream must be a boolean" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"seed\": \"42\"}", 400, "seed", "seed must be an integer" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"stop\": 5}", 400, "stop", "stop must be a string or an array" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"stop\": [\"x\", 1]}", 400, "stop", "stop[1] must be a string" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"n\": \"1\"}", 400, "n", "n must be an integer" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"presence_penalty\": null, \"frequency_penalty\": {}}", 400,
	  "frequency_penalty", "frequency_penalty must be a number" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"logprobs\": true}", 400, "logprobs", "logprobs must be an integer" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"echo\": 1}", 400, "echo", "echo must be a boolean" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"stream\": true, \"stream_options\": 3}", 400, "stream_options",
	  "stream_options must be an object" },
	{ "POST", "/v1/completions", "{\"prompt\": 5}", 400, "prompt", "prompt must be a string or an array" },
	{ "POST", "/v1/completions", "{\"prompt\": [1, \"x\"]}", 400, "prompt", "prompt[1] is not a valid token id" },
	{ "POST", "/v1/chat/completions", "{\"messages\": \"hi\"}", 400, "messages", "messages must be an array" },
	{ "POST", "/v1/chat/completions", "{\"messages\": [5]}", 400, "messages", "messages[0] must be an object" },
	{ "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": 5, \"content\": \"a\"}]}", 400, "messages",
	  "messages[0].role must be a string" },
	{ "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400, "messages",
	  "messages[0].content must be a string" },
	{ "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\"}]}", 400, "messages",
	  "messages[0].content must be a string" },
	{ "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"logprobs\": \"yes\"}",
	  400, "logprobs", "logprobs must be a boolean" },
	{ "POST", "/v1/chat/completions",
	  "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"logprobs\": true, \"top_logprobs\": \"3\"}", 400,
	  "top_logprobs", "top_logprobs must be an integer" },
	{ "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"response_format\": \"json\"}",
	  400, "response_format", "response_format must be an object" },
	{ "POST", "/tokenize", "{\"content\": 5}", 400, "content", "content must be a string" },
	{ "POST", "/tokenize", "{\"content\": \"a\", \"add_special\": \"yes\"}", 400, "add_special",
	  "add_special must be a boolean" },
	{ "POST", "/detokenize", "{\"tokens\": \"1 2\"}", 400, "tokens", "tokens must be an array" },
	{ "POST", "/detokenize", "{\"tokens\": [1, 2.5]}", 400, "tokens", "tokens[1] is not a valid token id" },
	/* out of range */
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"temperature\": -0.1}", 400, "temperature",
	  "temperature must be between 0 and 2" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"temperature\": 2.5}", 400, "temperature",
	  "temperature must be between 0 and 2" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"top_p\": 1.01}", 400, "top_p", "top_p must be between 0 and 1" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"top_p\": -1}", 400, "top_p", "top_p must be between 0 and 1" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": 0}", 400, "max_tokens", "max_tokens must be between 1" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": -5}", 400, "max_tokens", "max_tokens must be between 1" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"presence_penalty\": 2.5}", 400, "presence_penalty",
	  "presence_penalty must be between -2 and 2" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"frequency_penalty\": -3}", 400, "frequency_penalty",
	  "frequency_penalty must be between -2 and 2" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"temperature\": 1e999}", 400, NULL, "malformed JSON" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"logprobs\": 6}", 400, "logprobs", "logprobs must be between 0 and 5" },
	{ "POST", "/v1/chat/completions",
	  "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"logprobs\": true, \"top_logprobs\": 21}", 400,
	  "top_logprobs", "top_logprobs must be between 0 and 20" },
	{ "POST", "/v1/chat/completions",
	  "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"logprobs\": true, \"top_logprobs\": -1}", 400,
	  "top_logprobs", "top_logprobs must be between 0 and 20" },
	{ "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"top_logprobs\": 2}", 400,
	  "top_logprobs", "requires logprobs" },
	{ "POST", "/v1/completions", "{\"prompt\": [1, 99999]}", 400, "prompt", "prompt[1] is not a valid token id" },
	{ "POST", "/v1/completions", "{\"prompt\": [1, -1]}", 400, "prompt", "prompt[1] is not a valid token id" },
	{ "POST", "/detokenize", "{\"tokens\": [1, 512]}", 400, "tokens", "tokens[1] is not a valid token id" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", 400, "stop",
	  "at most 4" },
	/* missing or empty */
	{ "POST", "/v1/chat/completions", "{\"model\": \"x\"}", 400, "messages", "messages is required" },
	{ "POST", "/v1/chat/completions", "{\"messages\": []}", 400, "messages", "messages must not be empty" },
	{ "POST", "/v1/completions", "{\"max_tokens\": 3}", 400, "prompt", "prompt is required" },
	{ "POST", "/v1/completions", "{\"prompt\": []}", 400, "prompt", "prompt must not be empty" },
	{ "POST", "/tokenize", "{}", 400, "content", "content is required" },
	{ "POST", "/detokenize", "{}", 400, "tokens", "tokens is required" },
	/* unsupported */
	{ "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"n\": 2}", 400, "n",
	  "n must be 1" },
	{ "POST", "/v1/completions", "{\"prompt\": \"a\", \"best_of\": 3}", 400, "best_of", "best_of must be 1" },
	{ "POST", "/v1/completions", "{\"prompt\": [\"a\", \"b\"]}", 400, "prompt", "only one prompt" },
	{ "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"tool\", \"content\": \"a\"}]}", 400, "messages",
	  "role must be system, user or assistant" },
	{ "POST", "/v1/chat/completions",
	  "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}]}", 400,
	  "messages", "only text parts" },
	{ "POST", "/v1/chat/completions",
	  "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"response_format\": {\"type\": \"json_schema\"}}", 400,
	  "response_format", "not supported" },
	/* unknown paths, wrong methods */
	{ "GET", "/v1/nope", NULL, 404, NULL, "Invalid URL (GET /v1/nope)" },
	{ "POST", "/v1/chat", "{}", 404, NULL, "Invalid URL" },
	{ "GET", "/v1/chat/completions/../models", NULL, 404, NULL, "Invalid URL" },
	{ "GET", "/v1/chat/completions", NULL, 405, NULL, "not allowed" },
	{ "POST", "/health", "{}", 405, NULL, "not allowed" },
	{ "DELETE", "/v1/models", NULL, 405, NULL, "not allowed" },
	{ "PUT", "/v1/completions", "{}", 405, NULL, "not allowed" },
	{ "POST", "/metrics", "{}", 405, NULL, "not allowed" },
};

static void test_bad_requests(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct http_resp r = http_do(&srv, bc->method, bc->path, bc->body, bc->body ? strlen(bc->body) : 0);
		json_t *root;
		int before = check_failures;
		json_t *err = CHECK_ERROR(&r, bc->status, &root);
		const char *msg = json_string_value(json_object_get(err, "message"));
		const char *param = json_string_value(json_object_get(err, "param"));
		CHECK_MSG(msg && strstr(msg, bc->needle), "message lacks '%s': %s", bc->needle, msg ? msg : "(none)");
		if (bc->param)
			CHECK_MSG(param && strcmp(param, bc->param) == 0, "param %s, want %s", param ? param : "null", bc->param);
		else
			CHECK(json_is_null(json_object_get(err, "param")));
		if (bc->status == 405)
			CHECK_MSG(r.allow[0] != '\0', "405 without Allow");
		if (bc->status == 400)
			CHECK(strcmp(json_string_value(json_object_get(err, "type")), "invalid_request_error") == 0);
		if (check_failures != before)
			fprintf(stderr, "  in case %zu: %s %s %s\n", i, bc->method, bc->path, bc->body ? bc->body : "");
		json_decref(root);
		http_resp_free(&r);
	}
	/* ... and the server is fine. */
	struct http_resp r = http_get(&srv, "/health");
	CHECK_EQ_INT(r.status, 200);
	http_resp_free(&r);
}

/* Invalid UTF-8 inside a JSON string, and as bare bytes. */
static void test_invalid_utf8(void)
{
	static const char *const bodies[] = {
		"{\"prompt\": \"caf\xe9\"}",            /* Latin-1 byte */
		"{\"prompt\": \"\xc0\xaf\"}",            /* overlong */
		"{\"prompt\": \"\xed\xa0\x80\"}",        /* surrogate */
		"{\"prompt\": \"ok\", \"x\": \"\xff\"}", /* in an ignored field too */
		"\xff{}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct http_resp r = http_post(&srv, "/v1/completions", bodies[i]);
		json_t *root;
		json_t *err = CHECK_ERROR(&r, 400, &root);
		const char *msg = json_string_value(json_object_get(err, "message"));
		CHECK_MSG(msg && strcmp(msg, "request body is not valid UTF-8") == 0, "case %zu: %s", i, msg ? msg : "");
		json_decref(root);
		http_resp_free(&r);
	}
}

/* The prompt's token count from /tokenize (with BOS, as generation uses). */
static long long count_tokens(const char *text)
{
	json_t *req = json_pack("{s:s, s:b}", "content", text, "add_special", 1);
	struct http_resp r = http_post_json(&srv, "/tokenize", req);
	json_t *j = resp_json(&r);
	long long n = (long long)json_array_size(json_object_get(j, "tokens"));
	json_decref(j);
	json_decref(req);
	http_resp_free(&r);
	return n;
}

static void test_prompt_too_long(void)
{
	/* 600 words is well past 512 positions */
	char *prompt = malloc(600 * 6 + 1);
	prompt[0] = '\0';
	for (int i = 0; i < 600; i++)
		strcat(prompt, "hello ");
	long long n = count_tokens(prompt);
	CHECK(n > 512);

	json_t *req = json_pack("{s:s}", "prompt", prompt);
	struct http_resp r = http_post_json(&srv, "/v1/completions", req);
	json_t *root;
	json_t *err = CHECK_ERROR(&r, 400, &root);
	char want[64];
	const char *msg = json_string_value(json_object_get(err, "message"));
	snprintf(want, sizeof(want), "%lld", n);
	CHECK(json_string_value(json_object_get(err, "code")) &&
	      strcmp(json_string_value(json_object_get(err, "code")), "context_length_exceeded") == 0);
	CHECK_MSG(msg && strstr(msg, "512") && strstr(msg, want), "message should name 512 and %s: %s", want,
		  msg ? msg : "");
	json_decref(root);
	json_decref(req);
	http_resp_free(&r);

	/* the same through chat, and streamed: an error before any event */
	req = json_pack("{s:[{s:s, s:s}], s:b}", "messages", "role", "user", "content", prompt, "stream", 1);
	r = http_post_json(&srv, "/v1/chat/completions", req);
	err = CHECK_ERROR(&r, 400, &root);
	CHECK_STR(json_string_value(json_object_get(err, "param")) ? json_string_value(json_object_get(err, "param")) : "",
		  "messages");
	json_decref(root);
	json_decref(req);
	http_resp_free(&r);
	free(prompt);
}

/* Bodies over --max-body: 413 whether the size is declared or not, and the
 * server reads none of it into memory. */
static void test_body_too_large(void)
{
	size_t n = (size_t)MAX_BODY + 1;
	char *big = malloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, "{\"prompt\": \"", 12);
	big[n - 2] = '"';
	big[n - 1] = '}';
	big[n] = '\0';

	/* Content-Length above the cap: refused before the body is read. */
	struct http_resp r = http_post(&srv, "/v1/completions", big);
	json_t *root;
	json_t *err = CHECK_ERROR(&r, 413, &root);
	CHECK(json_string_value(json_object_get(err, "message")) &&
	      strstr(json_string_value(json_object_get(err, "message")), "65536"));
	json_decref(root);
	http_resp_free(&r);

	/* Chunked, no length: refused once the cap is passed. */
	struct curl_slist *hdrs;
	CURL *c = http_easy(&srv, "POST", "/v1/completions", big, n, &r, &hdrs);
	hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	r.curl = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	CHECK_ERROR(&r, 413, &root);
	json_decref(root);
	http_resp_free(&r);

	/* Exactly at the cap is fine (it is then just a long prompt). */
	big[n - 1] = '\0';
	big[n - 2] = '}';
	big[n - 3] = '"';
	r = http_post(&srv, "/tokenize", big);
	CHECK_ERROR(&r, 400, &root); /* no "content": but not 413 */
	json_decref(root);
	http_resp_free(&r);
	free(big);

	r = http_get(&srv, "/health");
	CHECK_EQ_INT(r.status, 200);
	http_resp_free(&r);
}

/* Errors are counted by endpoint and status. */
static void test_error_metrics(void)
{
	CHECK(server_metric(&srv, "ajar_requests_total{endpoint=\"/v1/completions\",status=\"400\"}") >= 20);
	CHECK(server_metric(&srv, "ajar_requests_total{endpoint=\"/v1/completions\",status=\"413\"}") >= 2);
	CHECK(server_metric(&srv, "ajar_requests_total{endpoint=\"other\",status=\"404\"}") >= 2);
	CHECK(server_metric(&srv, "ajar_requests_total{endpoint=\"/v1/chat/completions\",status=\"405\"}") >= 1);
}

/* ---- the slow server ---- */

/* A generation that would take many seconds: 4000 tokens, EOS ignored. */
static const char *long_request(bool stream)
{
	return stream ? "{\"prompt\": \"Once upon a time\", \"max_tokens\": 4000, \"ignore_eos\": true, \"stream\": true}"
		      : "{\"prompt\": \"Once upon a time\", \"max_tokens\": 4000, \"ignore_eos\": true}";
}

struct hangup_state {
	int chunks;
	size_t bytes;
};

/* Takes the first piece of the stream, then hangs up (returning 0 makes
 * curl abort the transfer and close the connection). */
static size_t hangup_write(char *p, size_t sz, size_t n, void *user)
{
	struct hangup_state *h = user;
	(void)p;
	h->bytes += sz * n;
	return h->chunks++ == 0 ? sz * n : 0;
}

static void test_client_disconnect(void)
{
	struct hangup_state h = { 0 };
	struct http_resp dummy;
	struct curl_slist *hdrs;
	const char *body = long_request(true);
	CURL *c = http_easy(&slow, "POST", "/v1/completions", body, strlen(body), &dummy, &hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hangup_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &h);
	double t0 = harness_now();
	CURLcode rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	http_resp_free(&dummy);
	CHECK_EQ_INT(rc, CURLE_WRITE_ERROR);
	CHECK(h.bytes > 0);
	/* The slot is free within a few seconds, long before 4000 tokens. */
	CHECK_MSG(wait_metric(&slow, "ajar_slots_busy", 0, 5.0), "slot still busy %.1f s after the hang-up",
		  harness_now() - t0);
	CHECK(server_metric(&slow, "ajar_completion_tokens_total") < 4000);

	/* Same for a non-streaming request whose client gives up. */
	c = http_easy(&slow, "POST", "/v1/completions", long_request(false), strlen(long_request(false)), &dummy, &hdrs);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 500L);
	rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	http_resp_free(&dummy);
	CHECK_EQ_INT(rc, CURLE_OPERATION_TIMEDOUT);
	CHECK_MSG(wait_metric(&slow, "ajar_slots_busy", 0, 5.0), "slot still busy after a non-streaming client left");
	CHECK(server_metric(&slow, "ajar_completion_tokens_total") < 4000);

	/* The server is healthy and generates again. */
	struct http_resp r = http_post(&slow, "/v1/completions", "{\"prompt\": \"The dog\", \"max_tokens\": 5}");
	CHECK_EQ_INT(r.status, 200);
	http_resp_free(&r);
}

/* --parallel 1 --queue 1: of several long requests at once, one runs, one
 * waits, the rest get 503 with Retry-After. Then the waiting ones are
 * abandoned (the transfers are cut), which cancels them. */
static void test_queue_full(void)
{
	enum { N = 6 };
	CURLM *m = curl_multi_init();
	CURL *h[N];
	struct http_resp r[N];
	struct curl_slist *hdrs[N];
	const char *body = long_request(false);

	for (int i = 0; i < N; i++) {
		h[i] = http_easy(&slow, "POST", "/v1/completions", body, strlen(body), &r[i], &hdrs[i]);
		curl_multi_add_handle(m, h[i]);
	}
	/* Run until every request is accounted for: refused (503), running
	 * (slots_busy) or waiting (queue_depth). At most one runs and one
	 * waits; whether the second is refused too depends on whether the
	 * engine has taken the first from the queue yet. */
	int n_503 = 0, running = N;
	double busy = -1, queued = -1;
	double t0 = harness_now();
	while (harness_now() - t0 < 30) {
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE) {
				long st = 0;
				curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &st);
				n_503 += st == 503;
			}
		busy = server_metric(&slow, "ajar_slots_busy");
		queued = server_metric(&slow, "ajar_queue_depth");
		if (n_503 + busy + queued == N)
			break;
		curl_multi_poll(m, NULL, 0, 20, NULL);
	}
	CHECK_MSG(n_503 + busy + queued == N, "503: %d, busy %g, queued %g", n_503, busy, queued);
	CHECK(n_503 >= N - 2);
	CHECK_EQ_INT(busy, 1);
	CHECK(queued <= 1);
	int checked = 0;
	for (int i = 0; i < N; i++) {
		long st = 0;
		curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &st);
		if (st == 503) {
			r[i].status = st;
			json_t *root;
			json_t *err = CHECK_ERROR(&r[i], 503, &root);
			CHECK(json_string_value(json_object_get(err, "code")) &&
			      strcmp(json_string_value(json_object_get(err, "code")), "overloaded") == 0);
			CHECK_MSG(strcmp(r[i].retry_after, "1") == 0, "Retry-After '%s'", r[i].retry_after);
			json_decref(root);
			checked++;
		}
		curl_multi_remove_handle(m, h[i]); /* cuts the running and the queued one */
		curl_easy_cleanup(h[i]);
		curl_slist_free_all(hdrs[i]);
		http_resp_free(&r[i]);
	}
	curl_multi_cleanup(m);
	CHECK(checked == n_503);
	/* Both abandoned requests are cancelled: nothing runs or waits. */
	CHECK(wait_metric(&slow, "ajar_slots_busy", 0, 5.0));
	CHECK(wait_metric(&slow, "ajar_queue_depth", 0, 5.0));
	CHECK(server_metric(&slow, "ajar_requests_total{endpoint=\"/v1/completions\",status=\"503\"}") == n_503);
}

struct stream_capture {
	char *buf;
	size_t len;
};

static size_t capture_write(char *p, size_t sz, size_t n, void *user)
{
	struct stream_capture *s = user;
	char *b = realloc(s->buf, s->len + sz * n + 1);
	if (!b)
		return 0;
	s->buf = b;
	memcpy(s->buf + s->len, p, sz * n);
	s->len += sz * n;
	s->buf[s->len] = '\0';
	return sz * n;
}

/* SIGTERM while a stream runs: the stream gets its final chunk and [DONE],
 * the process exits 0 well before the generation would have ended. */
static void test_shutdown_mid_stream(void)
{
	struct stream_capture cap = { 0 };
	struct http_resp dummy;
	struct curl_slist *hdrs;
	const char *chat = "{\"messages\": [{\"role\": \"user\", \"content\": \"Once upon a time\"}], \"max_tokens\": 4000, "
			   "\"ignore_eos\": true, \"stream\": true}";
	CURLM *m = curl_multi_init();
	CURL *c = http_easy(&slow, "POST", "/v1/chat/completions", chat, strlen(chat), &dummy, &hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, capture_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &cap);
	curl_multi_add_handle(m, c);

	int running = 1;
	bool signalled = false;
	int status = -2;
	double t0 = harness_now();
	while (running && harness_now() - t0 < 60) {
		curl_multi_perform(m, &running);
		/* Once content flows (past the role chunk), stop the server. */
		if (!signalled && cap.buf && strstr(cap.buf, "\"content\":\"") &&
		    strstr(strstr(cap.buf, "\"content\":\"") + 1, "\"content\":")) {
			kill(slow.pid, SIGTERM);
			signalled = true;
		}
		if (running)
			curl_multi_poll(m, NULL, 0, 20, NULL);
	}
	long st = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	CHECK(signalled);
	CHECK_EQ_INT(st, 200);
	CHECK_MSG(harness_now() - t0 < 10, "the stream took %.1f s to end after SIGTERM", harness_now() - t0);
	json_t *ev = sse_events(cap.buf ? cap.buf : "");
	size_t n = json_array_size(ev);
	CHECK(n >= 3);
	if (n >= 3) {
		CHECK_STR(json_string_value(json_array_get(ev, n - 1)), "[DONE]");
		json_t *last = json_loads(json_string_value(json_array_get(ev, n - 2)), 0, NULL);
		json_t *fr = json_object_get(json_array_get(json_object_get(last, "choices"), 0), "finish_reason");
		CHECK_MSG(json_is_string(fr), "last chunk has no finish_reason: %s", json_string_value(json_array_get(ev, n - 2)));
		json_decref(last);
	}
	json_decref(ev);
	curl_multi_remove_handle(m, c);
	curl_easy_cleanup(c);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	http_resp_free(&dummy);
	free(cap.buf);
	status = server_stop_wait(&slow); /* already signalled: just waits */
	CHECK_MSG(status == 0, "exit status %d", status);
}

static void test_shutdown(void)
{
	int st = server_stop_wait(&srv);
	CHECK_MSG(st == 0, "server exit status %d after SIGTERM", st);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char max_body[32];
	snprintf(max_body, sizeof(max_body), "%d", MAX_BODY);
	const char *args[] = { "--parallel", "2", "--ctx", "512", "--threads", "2", "--max-body", max_body, NULL };
	const char *slow_args[] = { "--parallel", "1", "--queue", "1", "--ctx", "4096", "--threads", "1", NULL };
	if (!server_start_args(&srv, args) || !server_start_args(&slow, slow_args)) {
		fprintf(stderr, "could not start the servers\n");
		server_stop_wait(&srv);
		server_stop_wait(&slow);
		return 1;
	}
	RUN(test_bad_requests);
	RUN(test_invalid_utf8);
	RUN(test_prompt_too_long);
	RUN(test_body_too_large);
	RUN(test_error_metrics);
	RUN(test_client_disconnect);
	RUN(test_queue_full);
	RUN(test_shutdown_mid_stream);
	RUN(test_shutdown);
	curl_global_cleanup();
	return check_summary();
}
