/*
 * api_completions.c - POST /v1/completions (OpenAI's legacy text API): the
 * prompt is a string, an array of token ids, or an array holding one of
 * those; a string is tokenized with the model's BOS rule and special-token
 * parsing (as llama-server does), token ids are used as given. No chat
 * template and no template stop strings: the model continues the text.
 * logprobs is the legacy integer (0..5 alternatives per token); echo puts the
 * prompt before the output.
 */
#include "ajar/vocab.h"
#include "server/server_int.h"

#include <stdlib.h>
#include <string.h>

#define LEGACY_MAX_LOGPROBS 5

/* Token ids from a JSON array; each must be a valid id. */
static int parse_ids(struct server *srv, json_t *arr, int32_t **out, size_t *n, struct api_error *e)
{
	size_t k = json_array_size(arr);
	int32_t *ids = malloc((k ? k : 1) * sizeof(*ids));
	if (!ids)
		return api_fail_as(e, 500, "server_error", NULL, NULL, "out of memory");
	for (size_t i = 0; i < k; i++) {
		json_t *t = json_array_get(arr, i);
		if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) >= srv->n_vocab) {
			free(ids);
			return api_fail(e, "prompt", "prompt[%zu] is not a valid token id (0..%d)", i, srv->n_vocab - 1);
		}
		ids[i] = (int32_t)json_integer_value(t);
	}
	*out = ids;
	*n = k;
	return 0;
}

/* The text of token ids, for echo. */
static char *ids_text(struct server *srv, const int32_t *ids, size_t n)
{
	struct detok_stream ds;
	size_t room = detok_stream_max_out(srv->vocab), len = 0, cap = 0;
	char *s = NULL;

	detok_stream_init(&ds, srv->vocab, false, true);
	for (size_t i = 0; i <= n; i++) {
		if (len + room + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 256;
			while (ncap < len + room + 1)
				ncap *= 2;
			char *p = realloc(s, ncap);
			if (!p) {
				free(s);
				return NULL;
			}
			s = p;
			cap = ncap;
		}
		int k = i < n ? detok_stream_push(&ds, ids[i], s + len, cap - len)
			      : detok_stream_finish(&ds, s + len, cap - len);
		len += k > 0 ? (size_t)k : 0;
	}
	s[len] = '\0';
	return s;
}

/* The prompt as token ids, and its text when echo wants it. */
static int parse_prompt(struct server *srv, json_t *body, bool echo, int32_t **ids, size_t *n, char **echo_text,
			struct api_error *e)
{
	json_t *p = json_object_get(body, "prompt");

	*echo_text = NULL;
	if (!p || json_is_null(p))
		return api_fail(e, "prompt", "prompt is required");
	/* ["text"] and [[1, 2, 3]]: one prompt wrapped in an array. */
	if (json_is_array(p) && json_array_size(p) == 1 &&
	    (json_is_string(json_array_get(p, 0)) || json_is_array(json_array_get(p, 0))))
		p = json_array_get(p, 0);
	if (json_is_string(p)) {
		if (vocab_tokenize(srv->vocab, json_string_value(p), json_string_length(p), true, true, ids, n))
			return api_fail(e, "prompt", "%s", ajar_err_msg());
		if (echo && !(*echo_text = strdup(json_string_value(p)))) {
			free(*ids);
			return api_fail_as(e, 500, "server_error", NULL, NULL, "out of memory");
		}
		return 0;
	}
	if (!json_is_array(p))
		return api_fail(e, "prompt", "prompt must be a string or an array of token ids");
	if (json_array_size(p) == 0)
		return api_fail(e, "prompt", "prompt must not be empty");
	if (json_is_string(json_array_get(p, 0)) || json_is_array(json_array_get(p, 0)))
		return api_fail(e, "prompt", "only one prompt per request is supported (got %zu)", json_array_size(p));
	if (parse_ids(srv, p, ids, n, e))
		return -1;
	if (echo && !(*echo_text = ids_text(srv, *ids, *n))) {
		free(*ids);
		return api_fail_as(e, 500, "server_error", NULL, NULL, "out of memory");
	}
	return 0;
}

enum MHD_Result api_completions(struct http_ctx *c)
{
	struct server *srv = c->srv;
	struct api_error e;
	struct gen_opts o;
	bool echo = false;
	long long logprobs = -1;
	int32_t *ids = NULL;
	size_t n_ids = 0;
	char *echo_text = NULL;

	json_t *body = api_parse_body(c, &e);
	if (!body)
		return http_reply_error(c, &e);
	if (gen_opts_parse(srv, body, &o, &e) || jfield_bool(body, "echo", &echo, &e) ||
	    jfield_int(body, "logprobs", 0, LEGACY_MAX_LOGPROBS, &logprobs, &e))
		goto fail;
	json_t *best_of = json_object_get(body, "best_of");
	if (best_of && !json_is_null(best_of) && !(json_is_integer(best_of) && json_integer_value(best_of) == 1)) {
		api_fail(&e, "best_of", "best_of must be 1: only one choice per request is supported");
		goto fail;
	}
	o.n_logprobs = (int)logprobs;
	if (guard_gen_opts(c, &o, &e))
		goto fail;
	if (parse_prompt(srv, body, echo, &ids, &n_ids, &echo_text, &e))
		goto fail;
	enum MHD_Result ret = gen_run(c, GEN_API_COMPLETION, &o, ids, n_ids, NULL, 0, echo_text);
	free(echo_text);
	json_decref(body);
	return ret;
fail:
	json_decref(body);
	return http_reply_error(c, &e);
}
