/*
 * Integration tests of `ajar serve` (the happy paths): a real server on a
 * free port, a real HTTP client (libcurl). The model is stories260K, whose
 * greedy continuations llama.cpp recorded in the fixtures
 * (reference/stories260K.json): the server must give exactly those texts,
 * streamed or not, alone or eight streams at once.
 *
 * Each test states the request it sends and checks the response's status,
 * shape and values as OpenAI / llama-server clients read them.
 */
#include "check.h"
#include "http_harness.h"

#include <sys/stat.h>

static struct test_server srv;
static json_t *reference; /* the fixture's cases */

/* POSTs obj (stolen) and returns the JSON reply, checking 200. */
static json_t *post_ok(const char *path, json_t *obj)
{
	struct http_resp r = http_post_json(&srv, path, obj);
	json_decref(obj);
	CHECK_MSG(r.status == 200, "POST %s: status %ld: %s", path, r.status, r.body);
	CHECK_MSG(strncmp(r.content_type, "application/json", 16) == 0, "content type %s", r.content_type);
	json_t *j = resp_json(&r);
	CHECK_MSG(j != NULL, "POST %s: not JSON: %s", path, r.body);
	http_resp_free(&r);
	return j;
}

static const char *str_at(json_t *j, const char *path)
{
	/* path: keys separated by '.', array indices as numbers */
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok(buf, "."); tok && j; tok = strtok(NULL, ".")) {
		if (json_is_array(j))
			j = json_array_get(j, strtoul(tok, NULL, 10));
		else
			j = json_object_get(j, tok);
	}
	return json_is_string(j) ? json_string_value(j) : NULL;
}

static json_t *at(json_t *j, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok(buf, "."); tok && j; tok = strtok(NULL, ".")) {
		if (json_is_array(j))
			j = json_array_get(j, strtoul(tok, NULL, 10));
		else
			j = json_object_get(j, tok);
	}
	return j;
}

static long long int_at(json_t *j, const char *path)
{
	json_t *v = at(j, path);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -12345;
}

static json_t *case_at(size_t i)
{
	return json_array_get(json_object_get(reference, "cases"), i);
}

/* {"prompt": prompt, "max_tokens": 48, "temperature": 0} */
static json_t *greedy_completion(const char *prompt)
{
	return json_pack("{s:s, s:i, s:f}", "prompt", prompt, "max_tokens", 48, "temperature", 0.0);
}

static void test_health(void)
{
	struct http_resp r = http_get(&srv, "/health");
	json_t *j = resp_json(&r);
	CHECK_EQ_INT(r.status, 200);
	CHECK(strncmp(r.content_type, "application/json", 16) == 0);
	CHECK(str_at(j, "status") && strcmp(str_at(j, "status"), "ok") == 0);
	json_decref(j);
	http_resp_free(&r);

	/* HEAD where GET is allowed: the headers, no body. */
	r = http_do(&srv, "HEAD", "/health", NULL, 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_INT(r.len, 0);
	http_resp_free(&r);
}

static void test_models(void)
{
	struct http_resp r = http_get(&srv, "/v1/models");
	json_t *j = resp_json(&r);
	CHECK_EQ_INT(r.status, 200);
	CHECK(str_at(j, "object") && strcmp(str_at(j, "object"), "list") == 0);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "data")), 1);
	CHECK(str_at(j, "data.0.id") && strlen(str_at(j, "data.0.id")) > 0);
	CHECK(str_at(j, "data.0.object") && strcmp(str_at(j, "data.0.object"), "model") == 0);
	CHECK(str_at(j, "data.0.owned_by") && strcmp(str_at(j, "data.0.owned_by"), "ajar") == 0);
	CHECK(json_is_integer(at(j, "data.0.created")));
	json_decref(j);
	http_resp_free(&r);
	/* llama-server's path without /v1 too */
	r = http_get(&srv, "/models");
	CHECK_EQ_INT(r.status, 200);
	http_resp_free(&r);
}

static void test_tokenize_round_trip(void)
{
	json_t *cs = case_at(0);
	const char *prompt = json_string_value(json_object_get(cs, "prompt"));

	/* With add_special: llama.cpp's ids, BOS first. */
	json_t *j = post_ok("/tokenize", json_pack("{s:s, s:b}", "content", prompt, "add_special", 1));
	CHECK(json_equal(json_object_get(j, "tokens"), json_object_get(cs, "prompt_tokens")));
	json_t *ids = json_incref(json_object_get(j, "tokens"));
	json_decref(j);

	/* Back to the text (BOS renders as nothing, the SentencePiece space
	 * prefix is undone). */
	j = post_ok("/detokenize", json_pack("{s:O}", "tokens", ids));
	CHECK(str_at(j, "content") && strcmp(str_at(j, "content"), prompt) == 0);
	json_decref(j);
	json_decref(ids);

	/* Without add_special (llama-server's default): no BOS. */
	j = post_ok("/tokenize", json_pack("{s:s}", "content", prompt));
	json_t *toks = json_object_get(j, "tokens");
	CHECK_EQ_INT(json_array_size(toks), json_array_size(json_object_get(cs, "prompt_tokens")) - 1);
	CHECK_EQ_INT(json_integer_value(json_array_get(toks, 0)), 403);
	json_decref(j);

	/* with_pieces: [{"id", "piece"}] */
	j = post_ok("/tokenize", json_pack("{s:s, s:b, s:b}", "content", "Once upon", "add_special", 1, "with_pieces", 1));
	CHECK_EQ_INT(int_at(j, "tokens.0.id"), 1);
	CHECK(str_at(j, "tokens.1.piece") && strcmp(str_at(j, "tokens.1.piece"), " Once") == 0);
	json_decref(j);

	/* UTF-8 round trip through byte-fallback tokens. */
	const char *text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 done";
	j = post_ok("/tokenize", json_pack("{s:s}", "content", text));
	ids = json_incref(json_object_get(j, "tokens"));
	json_decref(j);
	j = post_ok("/detokenize", json_pack("{s:O}", "tokens", ids));
	CHECK(str_at(j, "content") && strcmp(str_at(j, "content"), text) == 0);
	json_decref(j);
	json_decref(ids);
}

/* The fixture's greedy continuation of every prompt, 48 tokens. */
static void test_completions_greedy(void)
{
	for (size_t i = 0; i < json_array_size(json_object_get(reference, "cases")); i++) {
		json_t *cs = case_at(i);
		json_t *j = post_ok("/v1/completions", greedy_completion(json_string_value(json_object_get(cs, "prompt"))));
		const char *text = str_at(j, "choices.0.text");
		const char *want = json_string_value(json_object_get(cs, "greedy_text"));
		CHECK_MSG(text && strcmp(text, want) == 0, "case %zu: got '%s', want '%s'", i, text ? text : "(null)",
			  want);
		CHECK(str_at(j, "object") && strcmp(str_at(j, "object"), "text_completion") == 0);
		CHECK(str_at(j, "id") && strncmp(str_at(j, "id"), "cmpl-", 5) == 0);
		CHECK(json_is_integer(json_object_get(j, "created")));
		CHECK(json_is_string(json_object_get(j, "model")));
		CHECK_EQ_INT(json_array_size(json_object_get(j, "choices")), 1);
		CHECK_EQ_INT(int_at(j, "choices.0.index"), 0);
		CHECK(json_is_null(at(j, "choices.0.logprobs")));
		CHECK(str_at(j, "choices.0.finish_reason") && strcmp(str_at(j, "choices.0.finish_reason"), "length") == 0);
		CHECK_EQ_INT(int_at(j, "usage.prompt_tokens"), json_array_size(json_object_get(cs, "prompt_tokens")));
		CHECK_EQ_INT(int_at(j, "usage.completion_tokens"), 48);
		CHECK_EQ_INT(int_at(j, "usage.total_tokens"),
			     int_at(j, "usage.prompt_tokens") + int_at(j, "usage.completion_tokens"));
		json_decref(j);
	}
}

/* A prompt given as token ids, as ["text"], with echo; the llama-server
 * path /completions. */
static void test_completions_prompt_forms(void)
{
	json_t *cs = case_at(0);
	const char *want = json_string_value(json_object_get(cs, "greedy_text"));
	const char *prompt = json_string_value(json_object_get(cs, "prompt"));

	json_t *j = post_ok("/v1/completions", json_pack("{s:O, s:i, s:f}", "prompt", json_object_get(cs, "prompt_tokens"),
						     "max_tokens", 48, "temperature", 0.0));
	CHECK(str_at(j, "choices.0.text") && strcmp(str_at(j, "choices.0.text"), want) == 0);
	json_decref(j);

	j = post_ok("/completions", json_pack("{s:[s], s:i, s:f}", "prompt", prompt, "max_tokens", 48, "temperature", 0.0));
	CHECK(str_at(j, "choices.0.text") && strcmp(str_at(j, "choices.0.text"), want) == 0);
	json_decref(j);

	j = post_ok("/v1/completions", json_pack("{s:s, s:i, s:f, s:b}", "prompt", prompt, "max_tokens", 48, "temperature",
						 0.0, "echo", 1));
	const char *text = str_at(j, "choices.0.text");
	CHECK(text && strncmp(text, prompt, strlen(prompt)) == 0 && strcmp(text + strlen(prompt), want) == 0);
	json_decref(j);
}

static json_t *chat_request(const char *user, int max_tokens)
{
	return json_pack("{s:[{s:s, s:s}, {s:s, s:s}], s:i, s:f, s:s}", "messages", "role", "system", "content",
			 "You are a storyteller.", "role", "user", "content", user, "max_tokens", max_tokens, "temperature",
			 0.0, "user", "ignored-user-id");
}

static void test_chat(void)
{
	json_t *j = post_ok("/v1/chat/completions", chat_request("Tell me a story about a dog.", 40));
	CHECK(str_at(j, "object") && strcmp(str_at(j, "object"), "chat.completion") == 0);
	CHECK(str_at(j, "id") && strncmp(str_at(j, "id"), "chatcmpl-", 9) == 0);
	CHECK(json_is_integer(json_object_get(j, "created")));
	CHECK(json_is_string(json_object_get(j, "model")));
	CHECK_EQ_INT(int_at(j, "choices.0.index"), 0);
	CHECK(str_at(j, "choices.0.message.role") && strcmp(str_at(j, "choices.0.message.role"), "assistant") == 0);
	const char *content = str_at(j, "choices.0.message.content");
	CHECK(content != NULL);
	CHECK(json_is_null(at(j, "choices.0.logprobs")));
	const char *fr = str_at(j, "choices.0.finish_reason");
	CHECK(fr && (strcmp(fr, "stop") == 0 || strcmp(fr, "length") == 0));
	long long n_comp = int_at(j, "usage.completion_tokens");
	CHECK(n_comp >= 1 && n_comp <= 40);
	CHECK(strcmp(fr, "length") != 0 || n_comp == 40);
	CHECK(int_at(j, "usage.prompt_tokens") > 10);
	CHECK_EQ_INT(int_at(j, "usage.total_tokens"), int_at(j, "usage.prompt_tokens") + n_comp);

	/* The same conversation with content as text parts gives the same
	 * reply; max_completion_tokens is the newer name of max_tokens; unknown
	 * fields are ignored. */
	json_t *req = chat_request("Tell me a story about a dog.", 40);
	json_t *msg = json_array_get(json_object_get(req, "messages"), 1);
	json_object_set_new(msg, "content", json_pack("[{s:s, s:s}, {s:s, s:s}]", "type", "text", "text", "Tell me a story ",
						      "type", "text", "text", "about a dog."));
	json_object_del(req, "max_tokens");
	json_object_set_new(req, "max_completion_tokens", json_integer(40));
	json_object_set_new(req, "some_future_field", json_pack("{s:i}", "x", 1));
	json_t *j2 = post_ok("/chat/completions", req);
	CHECK(str_at(j2, "choices.0.message.content") && content &&
	      strcmp(str_at(j2, "choices.0.message.content"), content) == 0);
	json_decref(j2);
	json_decref(j);
}

/* Streams req (stolen, "stream" set here) and returns the events; checks
 * the SSE headers and that it ends with [DONE]. */
static json_t *stream_events(const char *path, json_t *req)
{
	json_object_set_new(req, "stream", json_true());
	struct http_resp r = http_post_json(&srv, path, req);
	json_decref(req);
	CHECK_EQ_INT(r.status, 200);
	CHECK_MSG(strncmp(r.content_type, "text/event-stream", 17) == 0, "content type %s", r.content_type);
	CHECK_MSG(strcmp(r.cache_control, "no-cache") == 0, "cache-control %s", r.cache_control);
	json_t *ev = sse_events(r.body);
	size_t n = json_array_size(ev);
	CHECK(n >= 3);
	CHECK(n > 0 && strcmp(json_string_value(json_array_get(ev, n - 1)), "[DONE]") == 0);
	CHECK_MSG(r.len >= 2 && strcmp(r.body + r.len - 2, "\n\n") == 0, "stream does not end with a blank line");
	http_resp_free(&r);
	return ev;
}

static void test_chat_stream(void)
{
	json_t *full = post_ok("/v1/chat/completions", chat_request("Once upon a time", 30));
	const char *want = str_at(full, "choices.0.message.content");

	json_t *req = chat_request("Once upon a time", 30);
	json_object_set_new(req, "stream_options", json_pack("{s:b}", "include_usage", 1));
	json_t *ev = stream_events("/v1/chat/completions", req);
	size_t n = json_array_size(ev);
	char text[8192] = "";
	int n_finish = 0;
	json_t *usage = NULL;
	for (size_t i = 0; i + 1 < n; i++) {
		json_t *c = json_loads(json_string_value(json_array_get(ev, i)), 0, NULL);
		CHECK_MSG(c != NULL, "event %zu is not JSON: %s", i, json_string_value(json_array_get(ev, i)));
		if (!c)
			continue;
		CHECK(str_at(c, "object") && strcmp(str_at(c, "object"), "chat.completion.chunk") == 0);
		CHECK(json_object_get(c, "usage") != NULL); /* null, or the usage in the last chunk */
		json_t *choices = json_object_get(c, "choices");
		if (json_array_size(choices) == 0) {
			usage = json_incref(json_object_get(c, "usage"));
			CHECK_MSG(i == n - 2, "the usage chunk must be the last before [DONE]");
		} else {
			if (i == 0)
				CHECK(str_at(c, "choices.0.delta.role") && strcmp(str_at(c, "choices.0.delta.role"), "assistant") == 0);
			const char *piece = str_at(c, "choices.0.delta.content");
			if (piece)
				strncat(text, piece, sizeof(text) - strlen(text) - 1);
			if (str_at(c, "choices.0.finish_reason")) {
				n_finish++;
				CHECK(strcmp(str_at(c, "choices.0.finish_reason"), str_at(full, "choices.0.finish_reason")) == 0);
			}
		}
		json_decref(c);
	}
	CHECK_EQ_INT(n_finish, 1);
	CHECK_MSG(want && strcmp(text, want) == 0, "streamed '%s' vs '%s'", text, want ? want : "(null)");
	CHECK(usage && json_equal(usage, json_object_get(full, "usage")));
	json_decref(usage);
	json_decref(ev);
	json_decref(full);
}

static void test_completions_stream(void)
{
	json_t *cs = case_at(0);
	json_t *ev = stream_events("/v1/completions", greedy_completion(json_string_value(json_object_get(cs, "prompt"))));
	char text[8192] = "";
	size_t n = json_array_size(ev);
	const char *last_reason = NULL;
	for (size_t i = 0; i + 1 < n; i++) {
		json_t *c = json_loads(json_string_value(json_array_get(ev, i)), 0, NULL);
		CHECK(c != NULL);
		CHECK(str_at(c, "object") && strcmp(str_at(c, "object"), "text_completion") == 0);
		CHECK(json_object_get(c, "usage") == NULL); /* no include_usage: no usage key */
		if (str_at(c, "choices.0.text"))
			strncat(text, str_at(c, "choices.0.text"), sizeof(text) - strlen(text) - 1);
		if (str_at(c, "choices.0.finish_reason")) {
			CHECK_MSG(i == n - 2, "finish_reason only in the last chunk");
			last_reason = "length";
			CHECK(strcmp(str_at(c, "choices.0.finish_reason"), "length") == 0);
		}
		json_decref(c);
	}
	CHECK(last_reason != NULL);
	CHECK_STR(text, json_string_value(json_object_get(cs, "greedy_text")));
	json_decref(ev);
}

/* Chat logprobs: one entry per token, chosen token first among the top
 * alternatives for a greedy pick, alternatives sorted, all <= 0. */
static void test_chat_logprobs(void)
{
	json_t *req = chat_request("Once upon a time", 12);
	json_object_set_new(req, "logprobs", json_true());
	json_object_set_new(req, "top_logprobs", json_integer(3));
	json_t *j = post_ok("/v1/chat/completions", req);
	json_t *content = at(j, "choices.0.logprobs.content");
	CHECK(json_is_array(content));
	CHECK_EQ_INT(json_array_size(content), int_at(j, "usage.completion_tokens"));
	char joined[4096] = "";
	for (size_t i = 0; i < json_array_size(content); i++) {
		json_t *e = json_array_get(content, i);
		double lp = json_number_value(json_object_get(e, "logprob"));
		CHECK(json_is_string(json_object_get(e, "token")));
		CHECK(json_is_number(json_object_get(e, "logprob")) && lp <= 0);
		CHECK(json_is_array(json_object_get(e, "bytes")));
		strncat(joined, json_string_value(json_object_get(e, "token")), sizeof(joined) - strlen(joined) - 1);
		json_t *top = json_object_get(e, "top_logprobs");
		CHECK_EQ_INT(json_array_size(top), 3);
		double prev = 1;
		for (size_t k = 0; k < json_array_size(top); k++) {
			double v = json_number_value(json_object_get(json_array_get(top, k), "logprob"));
			CHECK(v <= 0 && v <= prev);
			prev = v;
		}
		/* greedy: the chosen token is the best alternative */
		CHECK(json_equal(json_object_get(json_array_get(top, 0), "token"), json_object_get(e, "token")));
		CHECK_NEAR(json_number_value(json_object_get(json_array_get(top, 0), "logprob")), lp, 1e-6);
	}
	CHECK(str_at(j, "choices.0.message.content") && strcmp(joined, str_at(j, "choices.0.message.content")) == 0);
	json_decref(j);

	/* logprobs without top_logprobs: chosen token only, empty alternatives */
	req = chat_request("Once upon a time", 4);
	json_object_set_new(req, "logprobs", json_true());
	j = post_ok("/v1/chat/completions", req);
	CHECK_EQ_INT(json_array_size(at(j, "choices.0.logprobs.content")), 4);
	CHECK_EQ_INT(json_array_size(at(j, "choices.0.logprobs.content.0.top_logprobs")), 0);
	json_decref(j);
}

/* Legacy logprobs: tokens, token_logprobs, top_logprobs (dicts), text_offset. */
static void test_completions_logprobs(void)
{
	json_t *cs = case_at(0);
	json_t *req = greedy_completion(json_string_value(json_object_get(cs, "prompt")));
	json_object_set_new(req, "logprobs", json_integer(2));
	json_t *j = post_ok("/v1/completions", req);
	json_t *lp = at(j, "choices.0.logprobs");
	json_t *tokens = json_object_get(lp, "tokens");
	json_t *token_lps = json_object_get(lp, "token_logprobs");
	json_t *tops = json_object_get(lp, "top_logprobs");
	json_t *offsets = json_object_get(lp, "text_offset");
	CHECK_EQ_INT(json_array_size(tokens), 48);
	CHECK_EQ_INT(json_array_size(token_lps), 48);
	CHECK_EQ_INT(json_array_size(tops), 48);
	CHECK_EQ_INT(json_array_size(offsets), 48);
	char joined[4096] = "";
	long long prev_off = -1;
	for (size_t i = 0; i < json_array_size(tokens); i++) {
		CHECK_STR(json_string_value(json_array_get(tokens, i)),
			  json_string_value(json_array_get(json_object_get(cs, "greedy_pieces"), i)));
		strncat(joined, json_string_value(json_array_get(tokens, i)), sizeof(joined) - strlen(joined) - 1);
		CHECK(json_number_value(json_array_get(token_lps, i)) <= 0);
		json_t *top = json_array_get(tops, i);
		CHECK(json_object_size(top) >= 1 && json_object_size(top) <= 2);
		/* the greedy token is among the alternatives, with its logprob */
		json_t *mine = json_object_get(top, json_string_value(json_array_get(tokens, i)));
		CHECK(mine && fabs(json_number_value(mine) - json_number_value(json_array_get(token_lps, i))) < 1e-6);
		long long off = (long long)json_integer_value(json_array_get(offsets, i));
		CHECK(off >= prev_off);
		prev_off = off;
	}
	CHECK_STR(joined, json_string_value(json_object_get(cs, "greedy_text")));
	CHECK_EQ_INT(json_integer_value(json_array_get(offsets, 0)), 0);
	json_decref(j);
}

static void test_stop_strings(void)
{
	json_t *cs = case_at(0);
	const char *prompt = json_string_value(json_object_get(cs, "prompt"));
	const char *want = json_string_value(json_object_get(cs, "greedy_text"));
	const char *cut = strstr(want, "girl");

	/* stop as an array: the text ends before it, finish_reason stop */
	json_t *req = greedy_completion(prompt);
	json_object_set_new(req, "stop", json_pack("[s, s]", "never-appears", "girl"));
	json_t *j = post_ok("/v1/completions", req);
	CHECK(cut && str_at(j, "choices.0.text") && strlen(str_at(j, "choices.0.text")) == (size_t)(cut - want) &&
	      strncmp(str_at(j, "choices.0.text"), want, (size_t)(cut - want)) == 0);
	CHECK(str_at(j, "choices.0.finish_reason") && strcmp(str_at(j, "choices.0.finish_reason"), "stop") == 0);
	CHECK(int_at(j, "usage.completion_tokens") < 48);
	json_decref(j);

	/* stop as a string, streamed: no part of it is ever sent */
	req = greedy_completion(prompt);
	json_object_set_new(req, "stop", json_string(". She"));
	json_t *ev = stream_events("/v1/completions", req);
	char text[4096] = "";
	for (size_t i = 0; i + 1 < json_array_size(ev); i++) {
		json_t *c = json_loads(json_string_value(json_array_get(ev, i)), 0, NULL);
		if (str_at(c, "choices.0.text"))
			strncat(text, str_at(c, "choices.0.text"), sizeof(text) - strlen(text) - 1);
		json_decref(c);
	}
	const char *cut2 = strstr(want, ". She");
	CHECK_MSG(cut2 && strlen(text) == (size_t)(cut2 - want) && strncmp(text, want, strlen(text)) == 0, "got '%s'", text);
	json_decref(ev);
}

static char *sampled_text(long long seed, int n)
{
	json_t *j = post_ok("/v1/completions", json_pack("{s:s, s:i, s:f, s:I}", "prompt", "Once upon a time", "max_tokens", n,
						      "temperature", 1.0, "seed", (json_int_t)seed));
	const char *t = str_at(j, "choices.0.text");
	char *s = strdup(t ? t : "");
	json_decref(j);
	return s;
}

static void test_seed(void)
{
	char *a = sampled_text(42, 40), *b = sampled_text(42, 40);
	CHECK_MSG(strcmp(a, b) == 0, "same seed, different text: '%s' vs '%s'", a, b);
	/* Some other seed gives another text (the model is not that sure). */
	bool differs = false;
	for (long long s = 1; s <= 5 && !differs; s++) {
		char *c = sampled_text(s, 40);
		differs = strcmp(a, c) != 0;
		free(c);
	}
	CHECK(differs);
	free(a);
	free(b);
}

static void test_max_tokens(void)
{
	json_t *j = post_ok("/v1/chat/completions", chat_request("Hello", 3));
	CHECK(str_at(j, "choices.0.finish_reason") && strcmp(str_at(j, "choices.0.finish_reason"), "length") == 0);
	CHECK_EQ_INT(int_at(j, "usage.completion_tokens"), 3);
	json_decref(j);
	/* n_predict, llama-server's name */
	j = post_ok("/v1/completions", json_pack("{s:s, s:i, s:f}", "prompt", "The dog", "n_predict", 5, "temperature", 0.0));
	CHECK_EQ_INT(int_at(j, "usage.completion_tokens"), 5);
	json_decref(j);
}

/* response_format json_object: the output is constrained to one JSON
 * object; when it finishes by itself (not by length), it parses as one. */
static void test_json_object(void)
{
	json_t *req = chat_request("Describe a cat as JSON.", 200);
	json_object_set_new(req, "response_format", json_pack("{s:s}", "type", "json_object"));
	struct http_resp r = http_post_json(&srv, "/v1/chat/completions", req);
	json_decref(req);
	json_t *j = resp_json(&r);
	CHECK_MSG(r.status == 200, "json_object: %ld %s", r.status, r.body);
	const char *content = str_at(j, "choices.0.message.content");
	const char *fr = str_at(j, "choices.0.finish_reason");
	CHECK(content != NULL);
	if (content && fr && strcmp(fr, "stop") == 0) {
		json_t *obj = json_loads(content, JSON_DECODE_ANY, NULL);
		CHECK_MSG(json_is_object(obj), "not a JSON object: %s", content);
		json_decref(obj);
	} else if (content) {
		/* cut by max_tokens: at least it opens an object */
		size_t k = strspn(content, " \t\r\n");
		CHECK_MSG(content[k] == '{' || content[k] == '\0', "does not start an object: %s", content);
	}
	json_decref(j);
	http_resp_free(&r);
	/* "text" is the default and accepted */
	req = chat_request("Hi", 2);
	json_object_set_new(req, "response_format", json_pack("{s:s}", "type", "text"));
	json_decref(post_ok("/v1/chat/completions", req));
}

/* Concatenated text of a completions SSE body. */
static void sse_completion_text(const char *body, char *text, size_t cap)
{
	json_t *ev = sse_events(body);
	text[0] = '\0';
	for (size_t i = 0; i < json_array_size(ev); i++) {
		json_t *c = json_loads(json_string_value(json_array_get(ev, i)), 0, NULL);
		if (c && str_at(c, "choices.0.text"))
			strncat(text, str_at(c, "choices.0.text"), cap - strlen(text) - 1);
		json_decref(c);
	}
	json_decref(ev);
}

/* Eight streaming clients at once (curl multi) on eight slots, batched into
 * shared forward passes: each gets exactly the greedy text llama.cpp gives
 * that prompt alone (the fixture's greedy_text; six prompts, two reused). */
static void test_concurrent(void)
{
	enum { N = 8 };
	CURLM *m = curl_multi_init();
	CURL *h[N];
	struct http_resp r[N];
	struct curl_slist *hdrs[N];
	char *bodies[N];

	for (int i = 0; i < N; i++) {
		json_t *cs = case_at((size_t)i % 6);
		json_t *req = greedy_completion(json_string_value(json_object_get(cs, "prompt")));
		json_object_set_new(req, "stream", json_true());
		bodies[i] = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		h[i] = http_easy(&srv, "POST", "/v1/completions", bodies[i], strlen(bodies[i]), &r[i], &hdrs[i]);
		curl_multi_add_handle(m, h[i]);
	}
	int running = N;
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (int i = 0; i < N; i++) {
		char text[8192];
		curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &r[i].status);
		CHECK_EQ_INT(r[i].status, 200);
		sse_completion_text(r[i].body ? r[i].body : "", text, sizeof(text));
		CHECK_STR(text, json_string_value(json_object_get(case_at((size_t)i % 6), "greedy_text")));
		CHECK(r[i].body && strstr(r[i].body, "data: [DONE]") != NULL);
		curl_multi_remove_handle(m, h[i]);
		curl_easy_cleanup(h[i]);
		curl_slist_free_all(hdrs[i]);
		http_resp_free(&r[i]);
		free(bodies[i]);
	}
	curl_multi_cleanup(m);
}

static void test_static(void)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/web/index.html", AJAR_SOURCE_DIR);
	bool have_page = stat(path, &st) == 0;
	struct http_resp r = http_get(&srv, "/");
	if (have_page) {
		CHECK_EQ_INT(r.status, 200);
		CHECK(strncmp(r.content_type, "text/html", 9) == 0);
		CHECK(r.len == (size_t)st.st_size);
		http_resp_free(&r);
		r = http_get(&srv, "/index.html");
		CHECK_EQ_INT(r.status, 200);
	} else {
		CHECK_EQ_INT(r.status, 404);
	}
	http_resp_free(&r);
}

/* After everything above, the counters show it. */
static void test_metrics(void)
{
	/* /metrics needs the admin key: without one it is refused. */
	struct http_resp r = http_get(&srv, "/metrics");
	CHECK_EQ_INT(r.status, 403);
	http_resp_free(&r);
	r = http_do_as(&srv, srv.admin_key, "GET", "/metrics", NULL);
	CHECK_EQ_INT(r.status, 200);
	CHECK(strncmp(r.content_type, "text/plain", 10) == 0);
	const char *t = r.body;
	CHECK(metric_value(t, "ajar_requests_total{endpoint=\"/v1/completions\",status=\"200\"}") >= 10);
	CHECK(metric_value(t, "ajar_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}") >= 5);
	CHECK(metric_value(t, "ajar_requests_total{endpoint=\"/health\",status=\"200\"}") >= 1);
	CHECK(metric_value(t, "ajar_prompt_tokens_total") > 0);
	CHECK(metric_value(t, "ajar_completion_tokens_total") >= 48 * 6);
	CHECK(metric_value(t, "ajar_request_duration_seconds_count") >= 20);
	CHECK(metric_value(t, "ajar_request_duration_seconds_sum") > 0);
	CHECK(metric_value(t, "ajar_request_duration_seconds_bucket{le=\"+Inf\"}") ==
	      metric_value(t, "ajar_request_duration_seconds_count"));
	CHECK(metric_value(t, "ajar_time_to_first_token_seconds_count") >= 10);
	CHECK(metric_value(t, "ajar_time_to_first_token_seconds_bucket{le=\"+Inf\"}") ==
	      metric_value(t, "ajar_time_to_first_token_seconds_count"));
	CHECK(strstr(t, "# TYPE ajar_request_duration_seconds histogram") != NULL);
	CHECK(strstr(t, "# TYPE ajar_requests_total counter") != NULL);
	CHECK_EQ_INT(metric_value(t, "ajar_queue_depth"), 0);
	CHECK(metric_value(t, "ajar_slots_busy") >= 0);
	CHECK_EQ_INT(metric_value(t, "ajar_slots_total"), 8);
	http_resp_free(&r);
}

/* SIGTERM: a clean exit with status 0. */
static void test_shutdown(void)
{
	int st = server_stop_wait(&srv);
	CHECK_MSG(st == 0, "server exit status %d after SIGTERM", st);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	reference = json_load_file(fixture_path("reference/stories260K.json"), 0, NULL);
	if (!reference) {
		fprintf(stderr, "cannot read %s\n", fixture_path("reference/stories260K.json"));
		return 1;
	}
	const char *args[] = { "--parallel", "8", "--ctx", "512", "--threads", "2", NULL };
	if (!server_start_args(&srv, args)) {
		fprintf(stderr, "could not start the server\n");
		server_stop_wait(&srv);
		return 1;
	}
	RUN(test_health);
	RUN(test_models);
	RUN(test_tokenize_round_trip);
	RUN(test_completions_greedy);
	RUN(test_completions_prompt_forms);
	RUN(test_chat);
	RUN(test_chat_stream);
	RUN(test_completions_stream);
	RUN(test_chat_logprobs);
	RUN(test_completions_logprobs);
	RUN(test_stop_strings);
	RUN(test_seed);
	RUN(test_max_tokens);
	RUN(test_json_object);
	RUN(test_concurrent);
	RUN(test_static);
	RUN(test_metrics);
	RUN(test_shutdown);
	json_decref(reference);
	curl_global_cleanup();
	return check_summary();
}
