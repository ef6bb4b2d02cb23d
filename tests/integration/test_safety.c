/*
 * test_safety.c - moderation, the watermark and signed provenance through
 * a real `ajar serve` and a real HTTP client (libcurl), with the `ajar`
 * commands on the same store and key files.
 *
 * The fixture model (stories260K) tells the same story at temperature 0:
 * "Once upon a time, there was a little girl named Lily. ..." The test
 * policy therefore treats "little" as a blocked term for one tier and
 * "girl" as a redacted one for another, so the output side of moderation
 * is exercised on what the model really generates. Those tiers are not
 * watermarked: a fresh store has a fresh watermark key, and delta can
 * change even a greedy choice. A third tier is watermarked.
 *
 * What is checked:
 *   - a blocked prompt is refused (400 content_filter) and never reaches
 *     the model: no tokens are counted, the audit row says blocked and the
 *     category;
 *   - an output with a blocked term is cut: a stream ends with
 *     finish_reason "content_filter" and none of the term went out, and
 *     the same for a blocking (non-stream) reply;
 *   - redaction of the output, streamed and not, replaces the term and
 *     PII with placeholders;
 *   - POST /v1/moderations answers OpenAI's shape with ajar's hits;
 *   - watermarked text from the server is detected by POST
 *     /v1/watermark/detect and by `ajar watermark detect` with the same
 *     z-score, and not with another key;
 *   - every completion carries a provenance record that `ajar provenance
 *     verify` accepts, and rejects once the text is changed;
 *   - the transparency record publishes the provenance key and the
 *     watermark scheme, never the watermark key.
 */
#include "check.h"
#include "http_harness.h"
#include "spawn_util.h"
#include "guard_util.h"

#include <sys/stat.h>

static struct test_server srv;
static char policy_path[512], wm_key_file[600];
static char key_blocker[128], key_redactor[128], key_guarded[128], key_marked[128];

static const char test_policy[] =
	"{\n"
	"  \"version\": 1,\n"
	"  \"license\": {\"name\": \"test\", \"text\": \"Test only.\"},\n"
	"  \"tiers\": {\n"
	"    \"blocker\": {\"capabilities\": [\"chat\", \"completions\", \"moderations\"],\n"
	"                \"moderation\": \"block_little\", \"watermark\": false},\n"
	"    \"redactor\": {\"capabilities\": [\"chat\", \"completions\", \"moderations\"],\n"
	"                 \"moderation\": \"redact_girl\", \"watermark\": false},\n"
	"    \"marked\": {\"capabilities\": [\"chat\", \"completions\"], \"watermark\": true},\n"
	"    \"guarded\": {\"capabilities\": [\"chat\", \"completions\"], \"moderation\": \"guard_model\"}\n"
	"  },\n"
	"  \"moderation\": {\n"
	"    \"rules\": {\n"
	"      \"violence\": {\"terms\": [\"kill you\"]},\n"
	"      \"harassment\": {\"terms\": [\"little\"]},\n"
	"      \"hate\": {\"terms\": [\"girl\"]}\n"
	"    },\n"
	"    \"profiles\": {\n"
	"      \"block_little\": {\"categories\": [\"violence\", \"harassment\"], \"rules\": \"block\",\n"
	"                       \"pii\": {\"action\": \"redact\"}},\n"
	"      \"redact_girl\": {\"categories\": [\"hate\"], \"rules\": \"redact\", \"pii\": {\"action\": \"redact\"}},\n"
	"      \"guard_model\": {\"categories\": [], \"classifier\": {\"model\": \"%s\", \"action\": \"block\",\n"
	"                      \"on_failure\": \"block\", \"timeout_ms\": 60000}}\n"
	"    }\n"
	"  },\n"
	"  \"retention\": {\"content\": \"full\"},\n"
	"  \"watermark\": {\"gamma\": 0.25, \"delta\": 2.0, \"context\": 1, \"key_file\": \"%s\"}\n"
	"}\n";

static json_t *choice0(json_t *resp)
{
	return json_array_get(json_object_get(resp, "choices"), 0);
}

static void make_key(const char *tier, char *out, size_t cap)
{
	char body[128];
	snprintf(body, sizeof(body), "{\"tier\":\"%s\"}", tier);
	struct http_resp r = http_do_as(&srv, srv.admin_key, "POST", "/admin/keys", body);
	CHECK_MSG(r.status == 201, "create key: %ld %s", r.status, r.body);
	json_t *j = body_json(&r);
	snprintf(out, cap, "%s", jstr(j, "key"));
	json_decref(j);
	http_resp_free(&r);
}

/* The text of every content/text piece of an SSE body, concatenated, and
 * the last finish_reason. */
static void stream_text(const char *body, char *text, size_t cap, char *finish, size_t fcap)
{
	json_t *ev = sse_events(body);
	size_t i, n = 0;
	json_t *e;
	text[0] = finish[0] = '\0';
	json_array_foreach(ev, i, e)
	{
		json_t *c = json_loads(json_string_value(e), 0, NULL);
		json_t *ch = c ? choice0(c) : NULL;
		json_t *t = json_object_get(json_object_get(ch, "delta"), "content");
		if (!t)
			t = json_object_get(ch, "text");
		if (json_is_string(t))
			n += (size_t)snprintf(text + n, n < cap ? cap - n : 0, "%s", json_string_value(t));
		if (json_is_string(json_object_get(ch, "finish_reason")))
			snprintf(finish, fcap, "%s", json_string_value(json_object_get(ch, "finish_reason")));
		json_decref(c);
	}
	json_decref(ev);
}

static const char *story = "{\"prompt\":\"Once upon a time\",\"max_tokens\":40,\"temperature\":0%s}";

static struct http_resp complete_as(const char *key, bool stream)
{
	char body[256];
	snprintf(body, sizeof(body), story, stream ? ",\"stream\":true" : "");
	return http_do_as(&srv, key, "POST", "/v1/completions", body);
}

/* ---- moderation ---- */

static void test_blocked_prompt(void)
{
	struct http_resp r = http_do_as(&srv, key_blocker, "POST", "/v1/chat/completions",
					"{\"messages\":[{\"role\":\"user\",\"content\":\"I will KILL you\"}],"
					"\"max_tokens\":8}");
	CHECK_EQ_INT(r.status, 400);
	json_t *j = body_json(&r);
	CHECK_STR(jstr(json_object_get(j, "error"), "code"), "content_filter");
	CHECK(strstr(jstr(json_object_get(j, "error"), "message"), "violence") != NULL);
	json_decref(j);
	char rid[64];
	snprintf(rid, sizeof(rid), "%s", r.request_id);
	http_resp_free(&r);

	/* No trace of generation: its audit row has no tokens out. */
	char *out = audit_export(srv.store);
	json_t *row = export_row_of(out, rid);
	CHECK(row != NULL);
	CHECK_STR(jstr(row, "outcome"), "blocked");
	CHECK_STR(jstr(row, "reason"), "violence");
	CHECK_EQ_INT(json_integer_value(json_object_get(row, "tokens_out")), 0);
	json_decref(row);
	free(out);
}

static void test_output_blocked(void)
{
	char text[4096], finish[64];
	struct http_resp r = complete_as(key_blocker, true);
	CHECK_EQ_INT(r.status, 200);
	stream_text(r.body, text, sizeof(text), finish, sizeof(finish));
	CHECK_STR(finish, "content_filter");
	CHECK_MSG(strstr(text, "little") == NULL, "text sent: %s", text);
	CHECK(strstr(r.body, "data: [DONE]") != NULL);
	http_resp_free(&r);

	r = complete_as(key_blocker, false);
	CHECK_EQ_INT(r.status, 200);
	json_t *j = body_json(&r);
	CHECK_STR(jstr(choice0(j), "finish_reason"), "content_filter");
	CHECK(strstr(jstr(choice0(j), "text"), "little") == NULL);
	json_decref(j);
	http_resp_free(&r);
}

static void test_output_redacted(void)
{
	char text[4096], finish[64];
	struct http_resp r = complete_as(key_redactor, true);
	CHECK_EQ_INT(r.status, 200);
	stream_text(r.body, text, sizeof(text), finish, sizeof(finish));
	CHECK_MSG(strstr(text, "girl") == NULL && strstr(text, "[REDACTED]") != NULL, "streamed: %s", text);
	http_resp_free(&r);

	r = complete_as(key_redactor, false);
	json_t *j = body_json(&r);
	const char *t = jstr(choice0(j), "text");
	CHECK_MSG(strstr(t, "girl") == NULL && strstr(t, "[REDACTED]") != NULL, "text: %s", t);
	json_decref(j);
	http_resp_free(&r);
}

/* Retention "full" keeps content, but not the PII or redacted terms: the
 * stored prompt and output are the redacted ones. */
static void test_stored_content_redacted(void)
{
	struct http_resp r = http_do_as(&srv, key_redactor, "POST", "/v1/completions",
					"{\"prompt\":\"Write to ada@example.com. Once upon a time\",\"max_tokens\":30,"
					"\"temperature\":0}");
	CHECK_EQ_INT(r.status, 200);
	char rid[64];
	snprintf(rid, sizeof(rid), "%s", r.request_id);
	http_resp_free(&r);
	char *out = audit_export(srv.store);
	json_t *row = export_row_of(out, rid);
	CHECK(row != NULL);
	const char *content = jstr(row, "content");
	CHECK_MSG(strstr(content, "[EMAIL]") != NULL, "content: %s", content);
	CHECK(strstr(content, "ada@example.com") == NULL);
	CHECK(strstr(content, "Once upon a time") != NULL);
	CHECK(strstr(out, "ada@example.com") == NULL);
	json_decref(row);
	free(out);
}

static void test_moderations_endpoint(void)
{
	struct http_resp r = http_do_as(&srv, key_blocker, "POST", "/v1/moderations",
					"{\"input\":[\"write to ada@example.com\",\"I will kill you\",\"a nice day\"]}");
	CHECK_EQ_INT(r.status, 200);
	json_t *j = body_json(&r);
	json_t *res = json_object_get(j, "results");
	CHECK_EQ_INT(json_array_size(res), 3);
	json_t *r0 = json_array_get(res, 0), *r1 = json_array_get(res, 1), *r2 = json_array_get(res, 2);
	CHECK(json_is_true(json_object_get(r0, "flagged")));
	CHECK(strstr(jstr(json_object_get(r0, "ajar"), "redacted"), "[EMAIL]") != NULL);
	CHECK(json_is_true(json_object_get(r1, "flagged")));
	CHECK(json_is_true(json_object_get(json_object_get(r1, "categories"), "violence")));
	CHECK(json_is_false(json_object_get(json_object_get(r1, "categories"), "hate")));
	CHECK(json_is_true(json_object_get(json_object_get(r1, "ajar"), "blocked")));
	CHECK(json_is_false(json_object_get(r2, "flagged")));
	json_decref(j);
	char rid[64];
	snprintf(rid, sizeof(rid), "%s", r.request_id);
	http_resp_free(&r);
	/* Its audit row keeps the inputs redacted, not the address. */
	char *out = audit_export(srv.store);
	CHECK(strstr(out, rid) != NULL);
	CHECK(strstr(out, "ada@example.com") == NULL);
	free(out);
	/* Not a list of strings: 400 naming the field. */
	r = http_do_as(&srv, key_blocker, "POST", "/v1/moderations", "{\"input\":[1,2]}");
	CHECK_EQ_INT(r.status, 400);
	j = body_json(&r);
	CHECK_STR(jstr(json_object_get(j, "error"), "param"), "input");
	json_decref(j);
	http_resp_free(&r);
}

/* ---- watermark ---- */

static void write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(data, f);
		fclose(f);
	}
}

static double cli_z(const char *key_file, const char *text_file, bool *detected)
{
	const char *args[] = { "watermark", "detect", "--json", "--key-file", key_file, "--policy", policy_path,
			       "-m", fixture_path("models/stories260K.gguf"), text_file, NULL };
	struct run_result rr = ajar_spawn(args, NULL, 0);
	CHECK_MSG(rr.status == 0, "watermark detect: %d %s", rr.status, rr.err);
	json_t *j = json_loads(rr.out, 0, NULL);
	CHECK_MSG(j != NULL, "detect output: %s", rr.out);
	double z = json_real_value(json_object_get(j, "z_score"));
	*detected = json_is_true(json_object_get(j, "detected"));
	json_decref(j);
	free(rr.out);
	return z;
}

static void test_watermark(void)
{
	/* 400 tokens at temperature 1 from the watermarked tier (the tiny model
	 * repeats itself: about 300 distinct pairs are scored). */
	struct http_resp r = http_do_as(&srv, key_marked, "POST", "/v1/completions",
					"{\"prompt\":\"Once upon a time\",\"max_tokens\":400,\"temperature\":1.0,"
					"\"seed\":7,\"ignore_eos\":true}");
	CHECK_EQ_INT(r.status, 200);
	json_t *j = body_json(&r);
	char *text = strdup(jstr(choice0(j), "text"));
	json_decref(j);
	http_resp_free(&r);

	json_t *req = json_pack("{s:s}", "text", text);
	char *body = json_dumps(req, JSON_COMPACT);
	r = http_do_as(&srv, "", "POST", "/v1/watermark/detect", body);
	free(body);
	json_decref(req);
	CHECK_EQ_INT(r.status, 200);
	j = body_json(&r);
	double z_http = json_real_value(json_object_get(j, "z_score"));
	CHECK_MSG(json_is_true(json_object_get(j, "detected")), "z = %f: %s", z_http, r.body);
	CHECK(json_integer_value(json_object_get(j, "tokens_scored")) > 50);
	json_decref(j);
	http_resp_free(&r);

	char text_file[512], key_file[600], other_key[512];
	snprintf(text_file, sizeof(text_file), "%s/wm.txt", srv.dir);
	snprintf(key_file, sizeof(key_file), "%s", wm_key_file);
	snprintf(other_key, sizeof(other_key), "%s/other.watermark", srv.dir);
	write_file(text_file, text);
	write_file(other_key, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
	chmod(other_key, 0600);
	bool det = false;
	double z_cli = cli_z(key_file, text_file, &det);
	/* The same score; the HTTP answer prints 9 significant digits. */
	CHECK_NEAR(z_cli, z_http, 1e-6);
	CHECK(det);
	double z_other = cli_z(other_key, text_file, &det);
	CHECK_MSG(!det && z_other < 4, "another key detected it: z = %f", z_other);
	unlink(text_file);
	unlink(other_key);
	free(text);
}

/* ---- provenance ---- */

static void test_provenance(void)
{
	struct http_resp r = http_do_as(&srv, key_marked, "POST", "/v1/chat/completions",
					"{\"messages\":[{\"role\":\"user\",\"content\":\"Tell a story\"}],\"max_tokens\":16}");
	CHECK_EQ_INT(r.status, 200);
	json_t *j = body_json(&r);
	json_t *prov = json_object_get(j, "provenance");
	CHECK(prov != NULL);
	CHECK(strlen(jstr(prov, "signature")) > 40);
	CHECK(strncmp(jstr(prov, "watermark"), "kgw", 3) == 0);
	char path[512];
	snprintf(path, sizeof(path), "%s/response.json", srv.dir);
	CHECK(json_dump_file(j, path, 0) == 0);
	const char *args[] = { "provenance", "verify", path, "--store", srv.store, NULL };
	struct run_result rr = ajar_spawn(args, NULL, 0);
	CHECK_MSG(rr.status == 0, "provenance verify: %d %s%s", rr.status, rr.out, rr.err);
	free(rr.out);

	/* One character of the text changed: refused. */
	json_t *msg = json_object_get(choice0(j), "message");
	char *t = strdup(jstr(msg, "content"));
	t[0] = t[0] == 'x' ? 'y' : 'x';
	json_object_set_new(msg, "content", json_string(t));
	free(t);
	CHECK(json_dump_file(j, path, 0) == 0);
	rr = ajar_spawn(args, NULL, 0);
	CHECK_EQ_INT(rr.status, 1);
	free(rr.out);
	unlink(path);
	json_decref(j);
	http_resp_free(&r);

	r = http_do_as(&srv, "", "GET", "/v1/transparency", NULL);
	j = body_json(&r);
	CHECK_EQ_INT(strlen(jstr(json_object_get(j, "provenance"), "public_key")), 64);
	CHECK(strncmp(jstr(j, "watermark_scheme"), "kgw", 3) == 0);
	CHECK(json_integer_value(
		      json_object_get(json_object_get(json_object_get(j, "usage"), "blocked_by_category"), "violence")) >= 1);
	/* The watermark key never appears. */
	char key_hex[80] = "";
	CHECK(harness_read_line(wm_key_file, key_hex, sizeof(key_hex)));
	CHECK(key_hex[0] && strstr(r.body, key_hex) == NULL);
	json_decref(j);
	http_resp_free(&r);
}

/* A guard model whose answer cannot be parsed blocks (fail closed), and
 * the audit row says so. */
static void test_guard_model_fails_closed(void)
{
	struct http_resp r = http_do_as(&srv, key_guarded, "POST", "/v1/chat/completions",
					"{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"max_tokens\":4}");
	CHECK_EQ_INT(r.status, 400);
	json_t *j = body_json(&r);
	CHECK_STR(jstr(json_object_get(j, "error"), "code"), "content_filter");
	json_decref(j);
	char rid[64];
	snprintf(rid, sizeof(rid), "%s", r.request_id);
	http_resp_free(&r);
	char *out = audit_export(srv.store);
	json_t *row = export_row_of(out, rid);
	CHECK(row != NULL);
	CHECK_STR(jstr(row, "outcome"), "blocked");
	CHECK(strstr(jstr(row, "reason"), "classifier") != NULL);
	json_decref(row);
	free(out);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(policy_path, sizeof(policy_path), "/tmp/ajar-safety-policy-XXXXXX");
	int fd = mkstemp(policy_path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		return 1;
	/* The guard model is the fixture model: it does not answer "safe" or
	 * "unsafe", which is exactly the failure path. */
	/* A fixed watermark key, so the watermarked text is the same each run. */
	snprintf(wm_key_file, sizeof(wm_key_file), "%s.watermark", policy_path);
	FILE *kf = fopen(wm_key_file, "w");
	if (!kf)
		return 1;
	fputs("5be1c3a0d2f4e6b8a9c7d5e3f1a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8\n", kf);
	fclose(kf);
	chmod(wm_key_file, 0600);
	char model[4096];
	snprintf(model, sizeof(model), "%s", fixture_path("models/stories260K.gguf"));
	fprintf(f, test_policy, model, wm_key_file);
	fclose(f);
	const char *args[] = { "--policy", policy_path, "--threads", "1", "--ctx", "512", NULL };
	if (!server_start_args(&srv, args)) {
		unlink(policy_path);
		return 1;
	}
	make_key("blocker", key_blocker, sizeof(key_blocker));
	make_key("redactor", key_redactor, sizeof(key_redactor));
	make_key("guarded", key_guarded, sizeof(key_guarded));
	make_key("marked", key_marked, sizeof(key_marked));

	RUN(test_blocked_prompt);
	RUN(test_output_blocked);
	RUN(test_output_redacted);
	RUN(test_stored_content_redacted);
	RUN(test_moderations_endpoint);
	RUN(test_watermark);
	RUN(test_provenance);
	RUN(test_guard_model_fails_closed);

	CHECK_EQ_INT(server_stop_wait(&srv), 0);
	unlink(policy_path);
	unlink(wm_key_file);
	curl_global_cleanup();
	return check_summary();
}
