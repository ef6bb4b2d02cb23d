/*
 * test_guard.c - the hybrid access layer end to end: a real `ajar serve`
 * with a SQLite store and a test policy, driven by a real HTTP client
 * (libcurl), plus the `ajar` admin commands on the same store.
 *
 * The policy (written below) has two tiers with small limits so every path
 * is reached quickly: public (chat only, max_tokens 16, max_context 256,
 * 3 requests/min) and researcher (completions, logprobs, tokenize, weights;
 * 300 tokens/day), researcher auto-approved for emails at uni.example.
 *
 * What is checked:
 *   - the life of a key: access request -> pending -> admin approves ->
 *     applicant retrieves the key once -> uses it -> token quota runs out
 *     (a stream cut to "length", then 429) -> revoked -> 401;
 *   - every refusal: 401 (none, malformed, unknown, revoked, expired),
 *     403 (capability, max_tokens, logprobs, max_context, admin API,
 *     weights), 429 (requests/min with Retry-After and x-ratelimit-*);
 *   - auto-approval by email domain (and not by a look-alike domain), and
 *     the per-address limit on access requests;
 *   - a revocation made by `ajar keys revoke` while the server runs is in
 *     force on the very next request;
 *   - weights download with and without permission, whole and by Range;
 *   - the transparency record's aggregates and that no secret is in it;
 *   - after the mixed workload the audit chain verifies, each refused
 *     request has its row, and editing, deleting, inserting or reordering
 *     a row in the SQLite file makes `ajar audit verify` fail naming it.
 */
#include "check.h"
#include "http_harness.h"
#include "spawn_util.h"
#include "guard_util.h"

#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

static struct test_server srv;
static char policy_path[512];
static char model_id[256];

static const char test_policy[] =
	"{\n"
	"  \"version\": 1,\n"
	"  \"license\": {\"name\": \"test license\", \"text\": \"Use this model kindly.\"},\n"
	"  \"acceptable_use\": \"No harm.\",\n"
	"  \"tiers\": {\n"
	"    \"public\": {\"capabilities\": [\"chat\"], \"max_tokens\": 16, \"max_context\": 256,\n"
	"      \"rate_limits\": {\"requests_per_minute\": 3, \"tokens_per_minute\": 0, \"tokens_per_day\": 0},\n"
	"      \"moderation\": \"none\", \"watermark\": false},\n"
	"    \"researcher\": {\"capabilities\": [\"chat\", \"completions\", \"logprobs\", \"tokenize\", \"weights\"],\n"
	"      \"max_tokens\": 64, \"max_context\": 512,\n"
	"      \"rate_limits\": {\"requests_per_minute\": 1000, \"tokens_per_minute\": 0, \"tokens_per_day\": 300},\n"
	"      \"moderation\": \"none\", \"watermark\": false}\n"
	"  },\n"
	"  \"access_requests\": {\"required_fields\": [\"name\", \"email\", \"intended_use\"],\n"
	"    \"default_tier\": \"public\",\n"
	"    \"auto_approve\": [{\"tier\": \"researcher\", \"email_domains\": [\"uni.example\"]}]},\n"
	"  \"retention\": {\"content\": \"digest\"}\n"
	"}\n";

/* ---- helpers ---- */

/* The error code of an OpenAI-shaped error body, "" if none. */
static const char *err_code(json_t *j)
{
	return jstr(json_object_get(j, "error"), "code");
}

/* A request as key, expecting status (and, if non-NULL, the error code). */
static void expect(const char *key, const char *method, const char *path, const char *body, long status,
		   const char *code)
{
	struct http_resp r = http_do_as(&srv, key, method, path, body);
	CHECK_MSG(r.status == status, "%s %s: got %ld, want %ld: %s", method, path, r.status, status, r.body);
	if (code) {
		json_t *j = body_json(&r);
		CHECK_MSG(strcmp(err_code(j), code) == 0, "%s %s: code '%s', want '%s'", method, path, err_code(j),
			  code);
		json_decref(j);
	}
	http_resp_free(&r);
}

static struct run_result cli(const char *const *args)
{
	return ajar_spawn(args, NULL, 0);
}

/* Submits an access request; returns the response JSON (id, token, status). */
static json_t *request_access(const char *email, const char *tier)
{
	json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "name", "Ada Tester", "email", email, "affiliation",
			      "Test Lab", "intended_use", "evaluating refusal paths", "tier", tier, "accept_license", 1);
	char *s = json_dumps(b, JSON_COMPACT);
	struct http_resp r = http_do_as(&srv, "", "POST", "/v1/access/requests", s);
	free(s);
	json_decref(b);
	CHECK_MSG(r.status == 201, "access request: %ld %s", r.status, r.body);
	json_t *j = body_json(&r);
	http_resp_free(&r);
	return j;
}

/* GET the status of a request with its token. */
static json_t *access_status(json_t *req)
{
	char path[256];
	snprintf(path, sizeof(path), "/v1/access/requests/%s", jstr(req, "id"));
	struct http_resp r = http_do_as(&srv, jstr(req, "token"), "GET", path, NULL);
	CHECK_MSG(r.status == 200, "status: %ld %s", r.status, r.body);
	json_t *j = body_json(&r);
	http_resp_free(&r);
	return j;
}

/* A completion as key; returns the response (caller frees). */
static struct http_resp complete(const char *key, int max_tokens, bool stream)
{
	char body[256];
	snprintf(body, sizeof(body),
		 "{\"prompt\":\"Once upon a time\",\"max_tokens\":%d,\"ignore_eos\":true,\"temperature\":0%s}", max_tokens,
		 stream ? ",\"stream\":true" : "");
	return http_do_as(&srv, key, "POST", "/v1/completions", body);
}

/* Waits until at least 12 s remain in the current UTC minute, so a test of
 * a per-minute window does not straddle its reset. */
static void avoid_minute_edge(void)
{
	while (time(NULL) % 60 >= 48)
		harness_pause_ms(250);
}

/* ---- the life of a key ---- */

static char researcher_key[128];
static char researcher_key_id[64];

static void test_key_lifecycle(void)
{
	json_t *req = request_access("ada@corp.example", "researcher");
	CHECK_STR(jstr(req, "status"), "pending");
	CHECK(strlen(jstr(req, "token")) >= 40);

	/* Pending: no key yet; a wrong token looks like no request at all. */
	json_t *st = access_status(req);
	CHECK_STR(jstr(st, "status"), "pending");
	CHECK(json_object_get(st, "key") == NULL);
	json_decref(st);
	char path[256];
	snprintf(path, sizeof(path), "/v1/access/requests/%s", jstr(req, "id"));
	expect("wrongtoken", "GET", path, NULL, 404, "not_found");

	/* The admin sees it pending and approves it. */
	struct http_resp r = http_do_as(&srv, srv.admin_key, "GET", "/admin/access?status=pending", NULL);
	CHECK_EQ_INT(r.status, 200);
	CHECK(strstr(r.body, jstr(req, "id")) != NULL);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "/admin/access/%s/approve", jstr(req, "id"));
	r = http_do_as(&srv, srv.admin_key, "POST", path, "{}");
	CHECK_MSG(r.status == 200, "approve: %ld %s", r.status, r.body);
	http_resp_free(&r);
	/* Approving twice is refused. */
	expect(srv.admin_key, "POST", path, "{}", 400, NULL);

	/* The applicant gets the key once. */
	st = access_status(req);
	CHECK_STR(jstr(st, "status"), "approved");
	const char *key = jstr(st, "key");
	CHECK_MSG(strncmp(key, "ajar_", 5) == 0, "key '%s'", key);
	snprintf(researcher_key, sizeof(researcher_key), "%s", key);
	snprintf(researcher_key_id, sizeof(researcher_key_id), "%s", jstr(st, "key_id"));
	json_decref(st);
	st = access_status(req);
	CHECK(json_object_get(st, "key") == NULL);
	CHECK_STR(jstr(st, "key_id"), researcher_key_id);
	json_decref(st);
	json_decref(req);

	/* It works, with the researcher's capabilities and token headers. */
	r = complete(researcher_key, 4, false);
	CHECK_MSG(r.status == 200, "completion: %ld %s", r.status, r.body);
	CHECK_STR(r.rl_limit_tokens, "300");
	CHECK(r.request_id[0] != '\0');
	http_resp_free(&r);
}

/* tokens_per_day 300: full requests, then one cut short, then 429. */
static void test_token_quota(void)
{
	long long used = 0;
	int full = 0;
	struct http_resp r;

	/* The usage so far (the request of test_key_lifecycle) from the store. */
	r = http_do_as(&srv, srv.admin_key, "GET", "/admin/usage?days=1", NULL);
	json_t *u = body_json(&r);
	http_resp_free(&r);
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(u, "data"), i, row)
		if (strcmp(jstr(row, "key_id"), researcher_key_id) == 0)
			used += json_integer_value(json_object_get(row, "tokens_in")) +
				json_integer_value(json_object_get(row, "tokens_out"));
	json_decref(u);
	CHECK(used > 0 && used < 100);

	/* Whole requests of 64 tokens while they fit. */
	for (;;) {
		r = complete(researcher_key, 64, false);
		CHECK_MSG(r.status == 200, "completion: %ld %s", r.status, r.body);
		json_t *j = body_json(&r);
		http_resp_free(&r);
		long long pt = json_integer_value(json_object_get(json_object_get(j, "usage"), "prompt_tokens"));
		long long ct = json_integer_value(json_object_get(json_object_get(j, "usage"), "completion_tokens"));
		json_decref(j);
		used += pt + ct;
		if (ct < 64) {
			/* This one was cut by the quota: exactly what was left. */
			CHECK_EQ_INT(used, 300);
			break;
		}
		full++;
		CHECK(full < 10);
		if (full >= 10 || 300 - used < 64 + pt)
			break;
	}
	/* A stream that would pass the quota stops with "length" at it. */
	if (used < 300) {
		r = complete(researcher_key, 64, true);
		CHECK_MSG(r.status == 200, "stream: %ld %s", r.status, r.body);
		CHECK(strstr(r.body, "\"finish_reason\":\"length\"") != NULL);
		CHECK(strstr(r.body, "data: [DONE]") != NULL);
		http_resp_free(&r);
	}
	/* Nothing left: 429 with the headers and Retry-After. */
	r = complete(researcher_key, 8, false);
	CHECK_MSG(r.status == 429, "after the quota: %ld %s", r.status, r.body);
	json_t *j = body_json(&r);
	CHECK_STR(err_code(j), "rate_limit_exceeded");
	CHECK_STR(jstr(json_object_get(j, "error"), "type"), "tokens");
	json_decref(j);
	CHECK(atoi(r.retry_after) > 0);
	CHECK_STR(r.rl_limit_tokens, "300");
	CHECK_STR(r.rl_remaining_tokens, "0");
	CHECK(r.rl_reset_tokens[0] != '\0');
	http_resp_free(&r);

	/* The store's usage counts every token served: in + out == 300. */
	r = http_do_as(&srv, srv.admin_key, "GET", "/admin/usage?days=1", NULL);
	u = body_json(&r);
	http_resp_free(&r);
	long long total = 0;
	json_array_foreach(json_object_get(u, "data"), i, row)
		if (strcmp(jstr(row, "key_id"), researcher_key_id) == 0)
			total += json_integer_value(json_object_get(row, "tokens_in")) +
				 json_integer_value(json_object_get(row, "tokens_out"));
	json_decref(u);
	CHECK_EQ_INT(total, 300);
}

static void test_revoke_via_admin_api(void)
{
	char path[256];
	snprintf(path, sizeof(path), "/admin/keys/%s/revoke", researcher_key_id);
	struct http_resp r = http_do_as(&srv, srv.admin_key, "POST", path, NULL);
	CHECK_MSG(r.status == 200, "revoke: %ld %s", r.status, r.body);
	CHECK(strstr(r.body, "\"status\":\"revoked\"") != NULL);
	http_resp_free(&r);
	expect(researcher_key, "GET", "/v1/models", NULL, 401, "revoked_api_key");
	expect(srv.admin_key, "POST", "/admin/keys/nosuchkey/revoke", NULL, 404, NULL);
}

/* ---- refusals ---- */

/* A new key of tier through the admin API; its string in key, id in id. */
static void admin_create_key(const char *tier, char *key, size_t cap, char *id, size_t id_cap)
{
	char body[128];
	snprintf(body, sizeof(body), "{\"tier\":\"%s\",\"owner\":\"test\"}", tier);
	struct http_resp r = http_do_as(&srv, srv.admin_key, "POST", "/admin/keys", body);
	CHECK_MSG(r.status == 201, "create key: %ld %s", r.status, r.body);
	json_t *j = body_json(&r);
	snprintf(key, cap, "%s", jstr(j, "key"));
	snprintf(id, id_cap, "%s", jstr(j, "id"));
	json_decref(j);
	http_resp_free(&r);
}

static void test_401_paths(void)
{
	expect("", "POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 401,
	       "missing_api_key");
	expect("not-a-key", "GET", "/v1/models", NULL, 401, "invalid_api_key");
	/* Well-formed but unknown. */
	expect("ajar_aaaaaaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "GET", "/v1/models", NULL, 401,
	       "invalid_api_key");
	/* A real id with a wrong secret. */
	char key[128], id[64];
	admin_create_key("public", key, sizeof(key), id, sizeof(id));
	char forged[128];
	snprintf(forged, sizeof(forged), "%s", key);
	size_t n = strlen(forged);
	forged[n - 1] = forged[n - 1] == 'A' ? 'B' : 'A';
	expect(forged, "GET", "/v1/models", NULL, 401, "invalid_api_key");
	expect(key, "GET", "/v1/models", NULL, 200, NULL);

	/* Expired: the key's expiry moved into the past in the store file (the
	 * server reads the row on every request). */
	sqlite3 *db = NULL;
	char file[512], sql[256];
	snprintf(file, sizeof(file), "%s/store.db", srv.dir);
	CHECK(sqlite3_open(file, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	snprintf(sql, sizeof(sql), "UPDATE keys SET expires = 1000 WHERE id = '%s'", id);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	CHECK_EQ_INT(sqlite3_changes(db), 1);
	sqlite3_close(db);
	expect(key, "GET", "/v1/models", NULL, 401, "expired_api_key");
}

static void test_403_paths(void)
{
	char key[128], id[64];
	admin_create_key("public", key, sizeof(key), id, sizeof(id));
	/* Capability: public is chat only; the message names what is missing. */
	struct http_resp r = http_do_as(&srv, key, "POST", "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2}");
	CHECK_EQ_INT(r.status, 403);
	json_t *j = body_json(&r);
	CHECK_STR(err_code(j), "insufficient_tier");
	CHECK(strstr(jstr(json_object_get(j, "error"), "message"), "completions") != NULL);
	json_decref(j);
	http_resp_free(&r);
	/* A parameter above the tier's limit names it. */
	r = http_do_as(&srv, key, "POST", "/v1/chat/completions",
		       "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":100}");
	CHECK_EQ_INT(r.status, 403);
	j = body_json(&r);
	CHECK_STR(jstr(json_object_get(j, "error"), "param"), "max_tokens");
	CHECK(strstr(jstr(json_object_get(j, "error"), "message"), "16") != NULL);
	json_decref(j);
	http_resp_free(&r);
	expect(key, "POST", "/v1/chat/completions",
	       "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4,\"logprobs\":true}", 403,
	       "insufficient_tier");
	expect(key, "POST", "/tokenize", "{\"content\":\"hi\"}", 403, "insufficient_tier");
	expect(key, "GET", "/admin/keys", NULL, 403, "insufficient_tier");
	expect(key, "GET", "/metrics", NULL, 403, "insufficient_tier");
	char path[512];
	snprintf(path, sizeof(path), "/v1/models/%s/weights", model_id);
	expect(key, "GET", path, NULL, 403, "insufficient_tier");

	/* max_context 256: a longer prompt is refused, naming the limit. Its
	 * length (about 320 tokens, under the server's context of 512) is
	 * found with /tokenize. */
	int words = 100;
	struct http_resp t;
	{
		char probe[1024];
		size_t k = (size_t)snprintf(probe, sizeof(probe), "{\"content\":\"");
		for (int i = 0; i < 100; i++)
			k += (size_t)snprintf(probe + k, sizeof(probe) - k, "tree ");
		snprintf(probe + k, sizeof(probe) - k, "\"}");
		t = http_do_as(&srv, srv.admin_key, "POST", "/tokenize", probe);
		json_t *tj = body_json(&t);
		size_t per100 = json_array_size(json_object_get(tj, "tokens"));
		json_decref(tj);
		http_resp_free(&t);
		CHECK(per100 >= 50);
		if (per100)
			words = (int)(320 * 100 / per100);
	}
	size_t n = 0;
	char *big = malloc(16384);
	n += (size_t)snprintf(big, 16384, "{\"messages\":[{\"role\":\"user\",\"content\":\"");
	for (int i = 0; i < words && n < 16000; i++)
		n += (size_t)snprintf(big + n, 16384 - n, "tree ");
	snprintf(big + n, 16384 - n, "\"}],\"max_tokens\":4}");
	r = http_do_as(&srv, key, "POST", "/v1/chat/completions", big);
	free(big);
	CHECK_EQ_INT(r.status, 403);
	j = body_json(&r);
	CHECK_STR(jstr(json_object_get(j, "error"), "param"), "max_context");
	json_decref(j);
	http_resp_free(&r);
}

static char rate_limited_request_id[64];

static void test_429_requests(void)
{
	char key[128], id[64];
	admin_create_key("public", key, sizeof(key), id, sizeof(id));
	avoid_minute_edge();
	const char *chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}";
	for (int i = 0; i < 3; i++) {
		struct http_resp r = http_do_as(&srv, key, "POST", "/v1/chat/completions", chat);
		CHECK_MSG(r.status == 200, "request %d: %ld %s", i, r.status, r.body);
		CHECK_STR(r.rl_limit_requests, "3");
		CHECK_EQ_INT(atoi(r.rl_remaining_requests), 2 - i);
		http_resp_free(&r);
	}
	struct http_resp r = http_do_as(&srv, key, "POST", "/v1/chat/completions", chat);
	CHECK_EQ_INT(r.status, 429);
	json_t *j = body_json(&r);
	CHECK_STR(err_code(j), "rate_limit_exceeded");
	CHECK_STR(jstr(json_object_get(j, "error"), "type"), "requests");
	json_decref(j);
	int retry = atoi(r.retry_after);
	CHECK_MSG(retry >= 1 && retry <= 60, "Retry-After '%s'", r.retry_after);
	CHECK_STR(r.rl_limit_requests, "3");
	CHECK_STR(r.rl_remaining_requests, "0");
	CHECK(r.rl_reset_requests[0] != '\0');
	snprintf(rate_limited_request_id, sizeof(rate_limited_request_id), "%s", r.request_id);
	http_resp_free(&r);
}

/* ---- auto-approval ---- */

static void test_auto_approval(void)
{
	json_t *req = request_access("bob@lab.uni.example", "researcher");
	CHECK_STR(jstr(req, "status"), "approved");
	json_t *st = access_status(req);
	const char *key = jstr(st, "key");
	CHECK(strncmp(key, "ajar_", 5) == 0);
	expect(key, "POST", "/tokenize", "{\"content\":\"hello\"}", 200, NULL);
	json_decref(st);
	json_decref(req);

	/* A look-alike domain is not the allowed one: pending. */
	req = request_access("eve@notuni.example", "researcher");
	CHECK_STR(jstr(req, "status"), "pending");
	char path[256];
	snprintf(path, sizeof(path), "/admin/access/%s/deny", jstr(req, "id"));
	expect(srv.admin_key, "POST", path, "{}", 400, NULL); /* a reason is required */
	struct http_resp r = http_do_as(&srv, srv.admin_key, "POST", path, "{\"reason\":\"not a researcher\"}");
	CHECK_EQ_INT(r.status, 200);
	http_resp_free(&r);
	st = access_status(req);
	CHECK_STR(jstr(st, "status"), "denied");
	CHECK(json_object_get(st, "key") == NULL);
	json_decref(st);
	json_decref(req);

	/* Bad requests name the field. */
	r = http_do_as(&srv, "", "POST", "/v1/access/requests",
		       "{\"name\":\"x\",\"email\":\"not-an-email\",\"intended_use\":\"y\",\"accept_license\":true}");
	CHECK_EQ_INT(r.status, 400);
	json_t *j = body_json(&r);
	CHECK_STR(jstr(json_object_get(j, "error"), "param"), "email");
	json_decref(j);
	http_resp_free(&r);
	r = http_do_as(&srv, "", "POST", "/v1/access/requests",
		       "{\"name\":\"x\",\"email\":\"x@y.example\",\"intended_use\":\"y\",\"accept_license\":false}");
	CHECK_EQ_INT(r.status, 400);
	j = body_json(&r);
	CHECK_STR(jstr(json_object_get(j, "error"), "param"), "accept_license");
	json_decref(j);
	http_resp_free(&r);
	expect("", "POST", "/v1/access/requests",
	       "{\"name\":\"x\",\"email\":\"x@y.example\",\"intended_use\":\"y\",\"accept_license\":true,\"tier\":\"admin\"}",
	       400, NULL);
}

/* The public endpoint is limited per client address (10 per minute): a
 * flood of submissions gets 429, not rows without end. */
static void test_access_flood(void)
{
	int accepted = 0, limited = 0;
	avoid_minute_edge();
	for (int i = 0; i < 12 && !limited; i++) {
		struct http_resp r = http_do_as(&srv, "", "POST", "/v1/access/requests", "{}");
		if (r.status == 429) {
			limited = 1;
			CHECK(atoi(r.retry_after) >= 1);
			json_t *j = body_json(&r);
			CHECK_STR(err_code(j), "rate_limit_exceeded");
			json_decref(j);
		} else {
			CHECK_EQ_INT(r.status, 400); /* "{}" lacks every field */
			accepted++;
		}
		http_resp_free(&r);
	}
	CHECK(limited);
	CHECK(accepted <= 10);
}

/* ---- a revocation by the CLI, while the server runs ---- */

static void test_cli_revoke(void)
{
	char key[128], id[64];
	admin_create_key("public", key, sizeof(key), id, sizeof(id));
	expect(key, "GET", "/v1/models", NULL, 200, NULL);
	const char *args[] = { "keys", "revoke", id, "--store", srv.store, NULL };
	struct run_result rr = cli(args);
	CHECK_MSG(rr.status == 0, "keys revoke: %d %s", rr.status, rr.err);
	free(rr.out);
	expect(key, "GET", "/v1/models", NULL, 401, "revoked_api_key");
}

/* ---- weights ---- */

static unsigned char *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *b = malloc((size_t)len + 1);
	*n = fread(b, 1, (size_t)len, f);
	fclose(f);
	return b;
}

static void test_weights(void)
{
	char key[128], id[64], path[512], range[64];
	admin_create_key("researcher", key, sizeof(key), id, sizeof(id));
	size_t n = 0;
	unsigned char *file = read_file(fixture_path("models/stories260K.gguf"), &n);
	CHECK(file && n > 1000);
	if (!file)
		return;
	unsigned char h[32];
	char hex[65];
	crypto_hash_sha256(h, file, n);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));

	snprintf(path, sizeof(path), "/v1/models/%s/weights", model_id);
	struct http_resp r = http_do_as(&srv, key, "GET", path, NULL);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_INT(r.len, n);
	CHECK(r.len == n && memcmp(r.body, file, n) == 0);
	CHECK_STR(r.content_sha256, hex);
	http_resp_free(&r);

	/* Ranges: the first 100 bytes, the last 10, and one past the end. */
	struct test_server as = srv;
	snprintf(as.key, sizeof(as.key), "%s", key);
	struct curl_slist *hdrs;
	CURL *c = http_easy(&as, "GET", path, NULL, 0, &r, &hdrs);
	curl_easy_setopt(c, CURLOPT_RANGE, "0-99");
	r.curl = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	CHECK_EQ_INT(r.status, 206);
	CHECK_EQ_INT(r.len, 100);
	CHECK(r.len == 100 && memcmp(r.body, file, 100) == 0);
	char want[96];
	snprintf(want, sizeof(want), "bytes 0-99/%zu", n);
	CHECK_STR(r.content_range, want);
	http_resp_free(&r);

	c = http_easy(&as, "GET", path, NULL, 0, &r, &hdrs);
	curl_easy_setopt(c, CURLOPT_RANGE, "-10");
	r.curl = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	CHECK_EQ_INT(r.status, 206);
	CHECK(r.len == 10 && memcmp(r.body, file + n - 10, 10) == 0);
	http_resp_free(&r);

	c = http_easy(&as, "GET", path, NULL, 0, &r, &hdrs);
	snprintf(range, sizeof(range), "%zu-", n);
	curl_easy_setopt(c, CURLOPT_RANGE, range);
	r.curl = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	CHECK_EQ_INT(r.status, 416);
	http_resp_free(&r);

	expect(key, "GET", "/v1/models/not-this-model/weights", NULL, 404, NULL);
	expect("", "GET", path, NULL, 401, "missing_api_key");
	free(file);
}

/* ---- transparency ---- */

static void test_transparency(void)
{
	struct http_resp r = http_do_as(&srv, "", "GET", "/v1/transparency", NULL);
	CHECK_EQ_INT(r.status, 200);
	/* No key and no secret of any kind is in the public record. */
	CHECK(strstr(r.body, "ajar_") == NULL);
	CHECK(strstr(r.body, srv.admin_key) == NULL);
	CHECK(strstr(r.body, "key_file") == NULL);
	json_t *j = body_json(&r);
	http_resp_free(&r);
	json_t *model = json_object_get(j, "model");
	CHECK_EQ_INT(strlen(jstr(model, "sha256")), 64);
	json_t *usage = json_object_get(j, "usage");
	CHECK(usage != NULL);
	json_t *keys = json_object_get(usage, "keys");
	CHECK(json_integer_value(json_object_get(keys, "revoked")) >= 2);
	json_t *acc = json_object_get(usage, "access_requests");
	CHECK(json_integer_value(json_object_get(acc, "approved")) >= 2);
	CHECK(json_integer_value(json_object_get(acc, "denied")) >= 1);
	json_t *refusals = json_object_get(usage, "refusals_by_reason");
	CHECK(json_integer_value(json_object_get(refusals, "rate_limit_exceeded")) >= 2);
	CHECK(json_integer_value(json_object_get(refusals, "revoked_api_key")) >= 2);
	json_decref(j);

	r = http_do_as(&srv, "", "GET", "/transparency", NULL);
	CHECK_EQ_INT(r.status, 200);
	CHECK(strncmp(r.content_type, "text/html", 9) == 0);
	CHECK(strstr(r.body, "public") != NULL);
	http_resp_free(&r);
}

/* ---- the audit chain after the workload ---- */

static void sha256_hex_of(const char *s, char hex[65])
{
	unsigned char h[32];
	crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

static void test_audit_rows(void)
{
	struct http_resp r = http_do_as(&srv, srv.admin_key, "GET", "/admin/audit/verify", NULL);
	CHECK_EQ_INT(r.status, 200);
	CHECK(strstr(r.body, "\"ok\":true") != NULL);
	http_resp_free(&r);

	char *out = audit_export(srv.store);
	/* The refused request has its row, with the reason, and no key secret
	 * appears anywhere in the log. */
	CHECK(rate_limited_request_id[0] && strstr(out, rate_limited_request_id) != NULL);
	json_t *row = export_row_of(out, rate_limited_request_id);
	CHECK(row != NULL);
	CHECK_STR(jstr(row, "outcome"), "refused");
	CHECK_STR(jstr(row, "reason"), "rate_limit_exceeded");
	CHECK_STR(jstr(row, "tier"), "public");
	json_decref(row);
	CHECK(strstr(out, researcher_key) == NULL);
	CHECK(strstr(out, srv.admin_key) == NULL);
	CHECK(count_lines(out) > 30);
	free(out);
}

/* Retention "digest" (this server): a row keeps the SHA-256 of the request
 * body and of the output, never the texts. */
static void test_audit_digests(void)
{
	char key[128], id[64], want[65];
	admin_create_key("public", key, sizeof(key), id, sizeof(id));
	const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"a secret prompt\"}],\"max_tokens\":4}";
	struct http_resp r = http_do_as(&srv, key, "POST", "/v1/chat/completions", body);
	CHECK_EQ_INT(r.status, 200);
	json_t *j = body_json(&r);
	const char *output = jstr(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message"),
				  "content");
	char out_hash[65];
	sha256_hex_of(output, out_hash);
	char rid[64];
	snprintf(rid, sizeof(rid), "%s", r.request_id);
	http_resp_free(&r);

	char *exp = audit_export(srv.store);
	json_t *row = export_row_of(exp, rid);
	CHECK(row != NULL);
	sha256_hex_of(body, want);
	CHECK_STR(jstr(row, "prompt_sha256"), want);
	CHECK_STR(jstr(row, "output_sha256"), out_hash);
	CHECK(json_integer_value(json_object_get(row, "tokens_out")) >= 1);
	CHECK_STR(jstr(row, "key_id"), id);
	CHECK(strstr(exp, "a secret prompt") == NULL);
	json_decref(row);
	json_decref(j);
	free(exp);
}

/* Retention "full": a server whose policy keeps content has the request
 * body and the output in the row. */
static void test_audit_full_retention(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/policy_full.json", srv.dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("{\"version\":1,\"anonymous_tier\":\"open\",\"tiers\":{\"open\":{\"capabilities\":[\"chat\"]}},"
	      "\"retention\":{\"content\":\"full\"}}",
	      f);
	fclose(f);
	struct test_server full;
	const char *args[] = { "--policy", path, "--threads", "1", "--ctx", "256", NULL };
	CHECK(server_start_args(&full, args));
	struct http_resp r = http_do_as(&full, "", "POST", "/v1/chat/completions",
					"{\"messages\":[{\"role\":\"user\",\"content\":\"keep this prompt\"}],"
					"\"max_tokens\":3}");
	CHECK_EQ_INT(r.status, 200);
	json_t *j = body_json(&r);
	const char *output = jstr(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message"),
				  "content");
	char rid[64];
	snprintf(rid, sizeof(rid), "%s", r.request_id);
	http_resp_free(&r);
	char *exp = audit_export(full.store);
	json_t *row = export_row_of(exp, rid);
	CHECK(row != NULL);
	json_t *content = json_loads(jstr(row, "content"), 0, NULL);
	CHECK_MSG(content != NULL, "content: %s", jstr(row, "content"));
	CHECK(strstr(jstr(content, "request"), "keep this prompt") != NULL);
	CHECK_STR(jstr(content, "output"), output);
	json_decref(content);
	json_decref(row);
	json_decref(j);
	free(exp);
	CHECK_EQ_INT(server_stop_wait(&full), 0);
	unlink(path);
}

/* Copies the stopped server's store (and its public key) to NAME. */
static void copy_store(const char *name, char *uri, size_t cap)
{
	static const char *const sfx[] = { "", ".pub", NULL };
	for (int i = 0; sfx[i]; i++) {
		char from[512], to[512];
		snprintf(from, sizeof(from), "%s/store.db%s", srv.dir, sfx[i]);
		snprintf(to, sizeof(to), "%s/%s%s", srv.dir, name, sfx[i]);
		size_t n = 0;
		unsigned char *b = read_file(from, &n);
		CHECK_MSG(b != NULL, "read %s", from);
		FILE *f = fopen(to, "wb");
		if (b && f)
			fwrite(b, 1, n, f);
		if (f)
			fclose(f);
		free(b);
	}
	snprintf(uri, cap, "sqlite:%s/%s", srv.dir, name);
}

static void remove_copy(const char *name)
{
	static const char *const sfx[] = { "", ".pub", "-wal", "-shm", NULL };
	for (int i = 0; sfx[i]; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%s%s", srv.dir, name, sfx[i]);
		unlink(p);
	}
}

/* Applies sql to a copy of the store; `ajar audit verify` must fail and
 * name row bad. */
static void tamper_case(const char *what, const char *sql, int bad)
{
	char uri[600], file[512];
	copy_store("tampered.db", uri, sizeof(uri));
	snprintf(file, sizeof(file), "%s/tampered.db", srv.dir);
	sqlite3 *db = NULL;
	CHECK(sqlite3_open(file, &db) == SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	CHECK_MSG(rc == SQLITE_OK, "%s: %s", what, msg ? msg : "");
	sqlite3_free(msg);
	CHECK_MSG(sqlite3_changes(db) >= 1, "%s: no row changed", what);
	sqlite3_close(db);

	const char *args[] = { "audit", "verify", "--json", "--store", uri, NULL };
	struct run_result rr = cli(args);
	CHECK_MSG(rr.status == 1, "%s: audit verify exit %d (want 1): %s %s", what, rr.status, rr.out, rr.err);
	json_t *j = json_loads(rr.out, 0, NULL);
	CHECK_MSG(j != NULL, "%s: verify --json output: %s", what, rr.out);
	CHECK_MSG(json_integer_value(json_object_get(j, "bad_seq")) == bad, "%s: bad_seq %lld, want %d: %s", what,
		  (long long)json_integer_value(json_object_get(j, "bad_seq")), bad, rr.out);
	json_decref(j);
	free(rr.out);
	remove_copy("tampered.db");
}

static void test_audit_tampering(void)
{
	char uri[600];
	/* The untouched copy verifies. */
	copy_store("clean.db", uri, sizeof(uri));
	const char *args[] = { "audit", "verify", "--store", uri, NULL };
	struct run_result rr = cli(args);
	CHECK_MSG(rr.status == 0, "verify: %d %s %s", rr.status, rr.out, rr.err);
	free(rr.out);
	remove_copy("clean.db");

	tamper_case("edit", "UPDATE audit SET tokens_out = tokens_out + 1 WHERE seq = 5", 5);
	tamper_case("delete", "DELETE FROM audit WHERE seq = 7", 7);
	tamper_case("insert",
		    "UPDATE audit SET seq = seq + 1000000 WHERE seq >= 9;"
		    "UPDATE audit SET seq = seq - 1000000 + 1 WHERE seq >= 1000000;"
		    "CREATE TEMP TABLE forged AS SELECT * FROM audit WHERE seq = 3;"
		    "UPDATE forged SET seq = 9;"
		    "INSERT INTO audit SELECT * FROM forged;", 9);
	tamper_case("reorder",
		    "UPDATE audit SET seq = -1 WHERE seq = 11; UPDATE audit SET seq = 11 WHERE seq = 12;"
		    "UPDATE audit SET seq = 12 WHERE seq = -1;", 11);
}

int main(void)
{
	char path[512];
	FILE *f;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (sodium_init() < 0)
		return 1;
	snprintf(path, sizeof(path), "/tmp/ajar-guard-policy-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		return 1;
	fputs(test_policy, f);
	fclose(f);
	snprintf(policy_path, sizeof(policy_path), "%s", path);

	const char *args[] = { "--policy", policy_path, "--parallel", "2", "--threads", "1", "--ctx", "512", NULL };
	if (!server_start_args(&srv, args)) {
		unlink(policy_path);
		return 1;
	}
	CHECK(srv.admin_key[0] != '\0');
	struct http_resp r = http_do_as(&srv, srv.admin_key, "GET", "/v1/models", NULL);
	json_t *j = resp_json(&r);
	/* The id goes into paths: percent-encoded (MHD decodes it). */
	char *esc = curl_easy_escape(NULL, jstr(json_array_get(json_object_get(j, "data"), 0), "id"), 0);
	snprintf(model_id, sizeof(model_id), "%s", esc ? esc : "");
	curl_free(esc);
	json_decref(j);
	http_resp_free(&r);

	RUN(test_key_lifecycle);
	RUN(test_token_quota);
	RUN(test_revoke_via_admin_api);
	RUN(test_401_paths);
	RUN(test_403_paths);
	RUN(test_429_requests);
	RUN(test_auto_approval);
	RUN(test_access_flood);
	RUN(test_cli_revoke);
	RUN(test_weights);
	RUN(test_transparency);
	RUN(test_audit_rows);
	RUN(test_audit_digests);
	RUN(test_audit_full_retention);

	/* Tampering works on copies of the store once the server is gone (its
	 * last connection checkpoints the WAL into the file). */
	char keep_dir[256];
	snprintf(keep_dir, sizeof(keep_dir), "%s", srv.dir);
	srv.dir[0] = '\0'; /* keep the folder past server_stop_wait */
	CHECK_EQ_INT(server_stop_wait(&srv), 0);
	snprintf(srv.dir, sizeof(srv.dir), "%s", keep_dir);
	RUN(test_audit_tampering);
	harness_remove_dir(&srv);
	unlink(policy_path);
	curl_global_cleanup();
	return check_summary();
}
