/*
 * api_chat.c - POST /v1/chat/completions: messages rendered with the model's
 * chat template, tokenized with special-token parsing and the model's BOS
 * rule, generated until an end-of-generation token, the template's
 * end-of-turn strings, the request's stop strings or a token limit.
 *
 * Message content is a string or an array of {"type":"text","text":...}
 * parts (joined without separator); an assistant message may have null
 * content. "developer" is OpenAI's newer name for "system".
 */
#include "ajar/vocab.h"
#include "server/server_int.h"

#include <stdlib.h>
#include <string.h>

/* Messages and their owned texts (joined content parts). */
struct chat_input {
	struct chat_msg *msgs;
	char **owned;
	size_t n;
};

static void chat_input_free(struct chat_input *in)
{
	for (size_t i = 0; in->owned && i < in->n; i++)
		free(in->owned[i]);
	free(in->owned);
	free(in->msgs);
}

/* The text of a content array: every part must be {"type":"text","text":str}. */
static int join_parts(json_t *parts, size_t mi, char **out, struct api_error *e)
{
	size_t len = 0;
	for (size_t k = 0; k < json_array_size(parts); k++) {
		json_t *p = json_array_get(parts, k);
		json_t *type = json_object_get(p, "type");
		json_t *text = json_object_get(p, "text");
		if (!json_is_object(p) || !json_is_string(type))
			return api_fail(e, "messages", "messages[%zu].content[%zu] must be an object with a type", mi, k);
		if (strcmp(json_string_value(type), "text") != 0)
			return api_fail(e, "messages", "messages[%zu].content[%zu]: only text parts are supported (got %s)",
					mi, k, json_string_value(type));
		if (!json_is_string(text))
			return api_fail(e, "messages", "messages[%zu].content[%zu].text must be a string", mi, k);
		len += json_string_length(text);
	}
	char *s = malloc(len + 1);
	if (!s)
		return api_fail_as(e, 500, "server_error", NULL, NULL, "out of memory");
	len = 0;
	for (size_t k = 0; k < json_array_size(parts); k++) {
		json_t *text = json_object_get(json_array_get(parts, k), "text");
		memcpy(s + len, json_string_value(text), json_string_length(text));
		len += json_string_length(text);
	}
	s[len] = '\0';
	*out = s;
	return 0;
}

static int parse_messages(json_t *body, struct chat_input *in, struct api_error *e)
{
	json_t *msgs = json_object_get(body, "messages");

	memset(in, 0, sizeof(*in));
	if (!msgs || json_is_null(msgs))
		return api_fail(e, "messages", "messages is required");
	if (!json_is_array(msgs))
		return api_fail(e, "messages", "messages must be an array");
	if (json_array_size(msgs) == 0)
		return api_fail(e, "messages", "messages must not be empty");
	size_t n = json_array_size(msgs);
	in->msgs = calloc(n, sizeof(*in->msgs));
	in->owned = calloc(n, sizeof(*in->owned));
	if (!in->msgs || !in->owned)
		return api_fail_as(e, 500, "server_error", NULL, NULL, "out of memory");
	in->n = n;
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_array_get(msgs, i);
		if (!json_is_object(m))
			return api_fail(e, "messages", "messages[%zu] must be an object", i);
		json_t *role = json_object_get(m, "role");
		if (!json_is_string(role))
			return api_fail(e, "messages", "messages[%zu].role must be a string", i);
		const char *r = json_string_value(role);
		if (strcmp(r, "developer") == 0)
			r = "system";
		if (strcmp(r, "system") != 0 && strcmp(r, "user") != 0 && strcmp(r, "assistant") != 0)
			return api_fail(e, "messages", "messages[%zu].role must be system, user or assistant (got '%s')",
					i, r);
		in->msgs[i].role = r;
		json_t *content = json_object_get(m, "content");
		if (json_is_string(content)) {
			in->msgs[i].content = json_string_value(content);
		} else if (json_is_array(content)) {
			if (join_parts(content, i, &in->owned[i], e))
				return -1;
			in->msgs[i].content = in->owned[i];
		} else if ((!content || json_is_null(content)) && strcmp(r, "assistant") == 0) {
			in->msgs[i].content = "";
		} else {
			return api_fail(e, "messages", "messages[%zu].content must be a string or an array of text parts",
					i);
		}
	}
	return 0;
}

static int parse_chat_logprobs(json_t *body, struct gen_opts *o, struct api_error *e)
{
	bool want = false;
	long long top = -1;

	if (jfield_bool(body, "logprobs", &want, e) ||
	    jfield_int(body, "top_logprobs", 0, SCHED_MAX_TOP_LOGPROBS, &top, e))
		return -1;
	if (top > 0 && !want)
		return api_fail(e, "top_logprobs", "top_logprobs requires logprobs to be true");
	o->n_logprobs = want ? (top > 0 ? (int)top : 0) : -1;
	return 0;
}

static int parse_response_format(json_t *body, struct gen_opts *o, struct api_error *e)
{
	json_t *rf = json_object_get(body, "response_format");
	if (!rf || json_is_null(rf))
		return 0;
	if (!json_is_object(rf) || !json_is_string(json_object_get(rf, "type")))
		return api_fail(e, "response_format", "response_format must be an object with a type");
	const char *type = json_string_value(json_object_get(rf, "type"));
	if (strcmp(type, "text") == 0)
		return 0;
	if (strcmp(type, "json_object") == 0) {
		o->json_object = true;
		return 0;
	}
	return api_fail(e, "response_format", "response_format type '%s' is not supported (use text or json_object)",
			type);
}

enum MHD_Result api_chat(struct http_ctx *c)
{
	struct server *srv = c->srv;
	struct api_error e;
	struct gen_opts o;
	struct chat_input in = { 0 };
	char *text = NULL;
	size_t len = 0, n_ids = 0, n_fam = 0;
	int32_t *ids = NULL;
	enum ajar_err err;

	json_t *body = api_parse_body(c, &e);
	if (!body)
		return http_reply_error(c, &e);
	if (gen_opts_parse(srv, body, &o, &e) || parse_chat_logprobs(body, &o, &e) ||
	    parse_response_format(body, &o, &e) || guard_gen_opts(c, &o, &e) || parse_messages(body, &in, &e))
		goto fail;
	if ((err = chat_render(srv->family, in.msgs, in.n, true, &text, &len))) {
		if (err == AJAR_ERR_NOMEM)
			api_fail_as(&e, 500, "server_error", NULL, NULL, "%s", ajar_err_msg());
		else
			api_fail(&e, "messages", "%s", ajar_err_msg());
		goto fail;
	}
	if ((err = vocab_tokenize(srv->vocab, text, len, true, true, &ids, &n_ids))) {
		api_fail(&e, "messages", "%s", ajar_err_msg());
		goto fail;
	}
	free(text);
	chat_input_free(&in);
	const char *const *fam_stop = chat_stop_strings(srv->family, &n_fam);
	enum MHD_Result ret = gen_run(c, GEN_API_CHAT, &o, ids, n_ids, fam_stop, n_fam, NULL);
	json_decref(body);
	return ret;
fail:
	free(text);
	chat_input_free(&in);
	json_decref(body);
	return http_reply_error(c, &e);
}
