/*
 * api_safety.c - the safety layers around generation (issue 7), and their
 * endpoints:
 *
 *   moderation   each tier's moderation profile, compiled once at start
 *                (moderation.h); the prompt is checked before it reaches
 *                the model (a block is 400 content_filter, audited as
 *                "blocked" with its category), the output while it streams
 *                (api_gen.c, sse.c: redacted, or cut with finish_reason
 *                "content_filter")
 *   watermark    a green-list processor (watermark.h) on every generation
 *                of a tier whose policy says so; the key is a file beside
 *                the store, made on first start, never shown
 *   provenance   a signed record on every completion response
 *                (provenance.h), with the store's Ed25519 key
 *
 *   POST /v1/moderations        OpenAI's shape, plus ajar's hits
 *   POST /v1/watermark/detect   public: {"text"} -> z-score and verdict
 */
#include "ajar/vocab.h"
#include "ajar/watermark.h"
#include "guard/classifier.h"
#include "guard/moderation.h"
#include "guard/policy.h"
#include "guard/provenance.h"
#include "server/server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Inputs one /v1/moderations request may carry. */
#define MODERATION_MAX_INPUTS 32
/* Detections one client address may ask for per minute: each tokenizes a
 * text and the endpoint is public. */
#define DETECTS_PER_MINUTE 60

/* OpenAI's moderation categories: the "categories" object of a result
 * always has all of them. */
static const char *const openai_categories[] = {
	"harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
	"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence",
	"violence/graphic",
};

/* ---- start and stop ---- */

/* SHA-256 of the policy text in force: the file, or the built-in one. */
static enum ajar_err hash_policy(struct server *s)
{
	const char *path = s->p.policy_path;
	unsigned char h[crypto_hash_sha256_BYTES];

	if (!path) {
		const char *t = policy_default_text();
		crypto_hash_sha256(h, (const unsigned char *)t, strlen(t));
	} else {
		FILE *f = fopen(path, "rb");
		crypto_hash_sha256_state st;
		unsigned char buf[8192];
		size_t n;
		if (!f)
			return ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
		crypto_hash_sha256_init(&st);
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			crypto_hash_sha256_update(&st, buf, n);
		bool bad = ferror(f);
		fclose(f);
		if (bad)
			return ajar_errf(AJAR_ERR_IO, "%s: read error", path);
		crypto_hash_sha256_final(&st, h);
	}
	sodium_bin2hex(s->policy_sha256, sizeof(s->policy_sha256), h, sizeof(h));
	return AJAR_OK;
}

static enum ajar_err start_moderators(struct server *s)
{
	const struct policy *p = s->policy;
	enum ajar_err err;

	s->n_moderators = p->n_profiles;
	s->moderators = calloc(p->n_profiles ? p->n_profiles : 1, sizeof(*s->moderators));
	s->classifiers = calloc(p->n_profiles ? p->n_profiles : 1, sizeof(*s->classifiers));
	if (!s->moderators || !s->classifiers)
		return ajar_errf(AJAR_ERR_NOMEM, "moderation");
	for (size_t i = 0; i < p->n_profiles; i++) {
		const struct policy_moderation_profile *pr = &p->profiles[i];
		if (pr->classifier_model &&
		    (err = classifier_open(pr->classifier_model, pr->classifier_timeout_ms, &s->classifiers[i])))
			return ajar_err_wrap(err, "moderation profile '%s': guard model", pr->name);
		if ((err = moderator_new(p, pr->name, s->classifiers[i], &s->moderators[i])))
			return ajar_err_wrap(err, "moderation profile '%s'", pr->name);
	}
	return AJAR_OK;
}

/* The watermark's parameters and key, when some tier is watermarked. */
static enum ajar_err start_watermark(struct server *s)
{
	const struct policy *p = s->policy;
	char path[4096];
	bool any = false;
	enum ajar_err err;

	for (size_t i = 0; i < p->n_tiers; i++)
		any |= p->tiers[i].watermark;
	if (!any)
		return AJAR_OK;
	if (p->watermark_key_file) {
		snprintf(path, sizeof(path), "%s", p->watermark_key_file);
	} else {
		if (!store_file(s->store)[0])
			return ajar_errf(AJAR_ERR_INVALID, "watermark: a store without a file needs the policy's key_file");
		snprintf(path, sizeof(path), "%s.watermark", store_file(s->store));
	}
	struct watermark_params *wm = malloc(sizeof(*wm));
	if (!wm)
		return ajar_errf(AJAR_ERR_NOMEM, "watermark");
	*wm = watermark_params_default();
	if (p->watermark_gamma > 0)
		wm->gamma = p->watermark_gamma;
	if (p->watermark_delta > 0)
		wm->delta = p->watermark_delta;
	if (p->watermark_context > 0)
		wm->context = p->watermark_context;
	wm->hash = p->watermark_hash ? WATERMARK_SELF_HASH : WATERMARK_LEFT_HASH;
	if ((err = watermark_key_load(path, true, wm->key))) {
		sodium_memzero(wm, sizeof(*wm));
		free(wm);
		return ajar_err_wrap(err, "watermark key");
	}
	s->wm = wm;
	watermark_scheme_id(wm, s->wm_scheme, sizeof(s->wm_scheme));
	return AJAR_OK;
}

enum ajar_err safety_start(struct server *s)
{
	enum ajar_err err;

	if ((err = hash_policy(s)) || (err = start_moderators(s)) || (err = start_watermark(s)))
		return err;
	return AJAR_OK;
}

void safety_stop(struct server *s)
{
	for (size_t i = 0; i < s->n_moderators; i++) {
		if (s->moderators)
			moderator_free(s->moderators[i]);
		if (s->classifiers)
			classifier_free(s->classifiers[i]);
	}
	free(s->moderators);
	free(s->classifiers);
	s->moderators = NULL;
	s->classifiers = NULL;
	s->n_moderators = 0;
	if (s->wm)
		sodium_memzero(s->wm, sizeof(*s->wm));
	free(s->wm);
	s->wm = NULL;
}

/* ---- per request ---- */

/* The moderator of profile name, or NULL. */
static const struct moderator *moderator_named(const struct server *s, const char *name)
{
	const struct policy_moderation_profile *pr = policy_profile(s->policy, name);
	if (!pr || !s->moderators)
		return NULL;
	size_t i = (size_t)(pr - s->policy->profiles);
	return i < s->n_moderators ? s->moderators[i] : NULL;
}

const struct moderator *safety_moderator(const struct http_ctx *c)
{
	if (!c->g.tier)
		return NULL;
	const struct moderator *m = moderator_named(c->srv, c->g.tier->moderation);
	return m && moderator_active(m) ? m : NULL;
}

bool safety_has_classifier(const struct http_ctx *c)
{
	const struct policy_moderation_profile *pr =
		c->g.tier ? policy_profile(c->srv->policy, c->g.tier->moderation) : NULL;
	return pr && pr->classifier_model;
}

void safety_note_hits(struct http_ctx *c, const struct mod_result *r)
{
	if (r->blocked) {
		c->g.outcome = "blocked";
		snprintf(c->g.reason, sizeof(c->g.reason), "%s", r->block_category);
	} else if (r->flagged && r->n_hits && !c->g.flagged[0]) {
		/* Served, with the category noted (guard_audit): flagged:CATEGORY. */
		snprintf(c->g.flagged, sizeof(c->g.flagged), "%s", r->hits[0].category);
	} else if (r->classifier_failed && !c->g.reason[0]) {
		snprintf(c->g.reason, sizeof(c->g.reason), "classifier_failed");
	}
}

int safety_check_prompt(struct http_ctx *c, const int32_t *ids, size_t n_ids, struct api_error *e)
{
	const struct moderator *m = safety_moderator(c);
	struct mod_result r;
	size_t len = 0;

	if (!m)
		return 0;
	char *text = srv_detokenize(c->srv, ids, n_ids, &len);
	if (!text)
		return api_fail(e, "messages", "%s", ajar_err_msg());
	enum ajar_err err = moderator_check(m, text, len, &r);
	/* Stored content keeps no PII either: with retention "full" the audit
	 * row gets the prompt with the redact hits replaced. */
	if (!err && c->srv->policy->retain_content && !c->g.stored_prompt) {
		size_t n = 0;
		c->g.stored_prompt = moderator_redact(text, len, &r, &n);
	}
	free(text);
	if (err) {
		/* A moderation that cannot run lets nothing through. */
		srv_log(c->srv, "moderation failed: %s", ajar_err_msg());
		c->g.outcome = "blocked";
		snprintf(c->g.reason, sizeof(c->g.reason), "moderation_failed");
		return api_fail_as(e, 503, "unavailable_error", "moderation_failed", NULL,
				   "the prompt could not be moderated; it was not processed");
	}
	safety_note_hits(c, &r);
	if (!r.blocked)
		return 0;
	return api_fail_as(e, 400, "invalid_request_error", "content_filter", NULL,
			   "the prompt was blocked by this server's moderation policy (category: %s)",
			   r.block_category);
}

struct watermark *safety_watermark_for(struct http_ctx *c, bool *failed)
{
	struct watermark *w = NULL;

	*failed = false;
	if (!c->g.tier || !c->g.tier->watermark || !c->srv->wm)
		return NULL;
	if (watermark_new(c->srv->wm, c->srv->n_vocab, &w)) {
		*failed = true;
		return NULL;
	}
	return w;
}

json_t *safety_provenance(struct server *s, const char *response_id, long long created, const char *text,
			  size_t len, bool watermarked)
{
	struct provenance_fields f = {
		.response_id = response_id,
		.model_sha256 = s->weights_sha256,
		.policy_sha256 = s->policy_sha256,
		.created = (int64_t)created,
		.watermark = watermarked ? s->wm_scheme : "none",
		.text = text ? text : "",
		.text_len = text ? len : 0,
	};
	return provenance_sign(&f, s->secrets.audit_sk, s->secrets.audit_pk);
}

/* ---- POST /v1/moderations ---- */

/* The profile a moderation request is judged by: the tier's, else the
 * first profile that moderates anything. */
static const struct moderator *moderations_moderator(const struct http_ctx *c, const char **name)
{
	const struct policy *p = c->srv->policy;
	const struct moderator *m = safety_moderator(c);
	if (m) {
		*name = c->g.tier->moderation;
		return m;
	}
	for (size_t i = 0; i < c->srv->n_moderators; i++)
		if (moderator_active(c->srv->moderators[i])) {
			*name = p->profiles[i].name;
			return c->srv->moderators[i];
		}
	*name = "none";
	return c->srv->n_moderators ? c->srv->moderators[0] : NULL;
}

static json_t *moderation_result(const struct mod_result *r, const char *text, size_t len)
{
	json_t *cats = json_object(), *scores = json_object(), *hits = json_array();
	for (size_t i = 0; i < sizeof(openai_categories) / sizeof(openai_categories[0]); i++) {
		json_object_set_new(cats, openai_categories[i], json_false());
		json_object_set_new(scores, openai_categories[i], json_real(0.0));
	}
	for (size_t i = 0; i < r->n_hits; i++) {
		const struct mod_hit *h = &r->hits[i];
		json_object_set_new(cats, h->category, json_true());
		json_object_set_new(scores, h->category, json_real(1.0));
		json_t *o = json_object();
		json_object_set_new(o, "category", json_string(h->category));
		json_object_set_new(o, "source", json_string(mod_source_name(h->source)));
		json_object_set_new(o, "action", json_string(mod_action_name(h->action)));
		if (h->source != MOD_SOURCE_CLASSIFIER) {
			json_object_set_new(o, "start", json_integer((json_int_t)h->start));
			json_object_set_new(o, "end", json_integer((json_int_t)h->end));
		}
		json_array_append_new(hits, o);
	}
	json_t *res = json_object();
	json_object_set_new(res, "flagged", json_boolean(r->flagged));
	json_object_set_new(res, "categories", cats);
	json_object_set_new(res, "category_scores", scores);
	json_t *ajar = json_object();
	json_object_set_new(ajar, "blocked", json_boolean(r->blocked));
	json_object_set_new(ajar, "hits", hits);
	json_object_set_new(ajar, "classifier_failed", json_boolean(r->classifier_failed));
	size_t n = 0;
	char *red = moderator_redact(text, len, r, &n);
	json_object_set_new(ajar, "redacted", red ? json_string_lossy(red, n) : json_null());
	free(red);
	json_object_set_new(res, "ajar", ajar);
	return res;
}

/* With retention "full", what the audit row keeps of a moderation request
 * is its inputs redacted, one per line (never the raw body). */
static void keep_redacted(struct http_ctx *c, const char *text, size_t len, const struct mod_result *r)
{
	size_t n = 0, old;
	if (!c->srv->policy->retain_content)
		return;
	char *red = moderator_redact(text, len, r, &n);
	if (!red)
		return;
	old = c->g.stored_prompt ? strlen(c->g.stored_prompt) : 0;
	char *p = realloc(c->g.stored_prompt, old + n + 2);
	if (p) {
		if (old)
			p[old++] = '\n';
		memcpy(p + old, red, n);
		p[old + n] = '\0';
		c->g.stored_prompt = p;
	}
	free(red);
}

enum MHD_Result api_moderations(struct http_ctx *c)
{
	struct api_error e;
	const char *profile = "none";
	json_t *body = api_parse_body(c, &e);
	if (!body)
		return http_reply_error(c, &e);
	json_t *input = json_object_get(body, "input");
	size_t n = json_is_array(input) ? json_array_size(input) : 1;
	if (!json_is_string(input) && !json_is_array(input)) {
		api_fail(&e, "input", "input must be a string or an array of strings");
		goto fail;
	}
	if (n == 0 || n > MODERATION_MAX_INPUTS) {
		api_fail(&e, "input", "input must have 1 to %d strings", MODERATION_MAX_INPUTS);
		goto fail;
	}
	const struct moderator *m = moderations_moderator(c, &profile);
	json_t *results = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_is_array(input) ? json_array_get(input, i) : input;
		struct mod_result r;
		if (!json_is_string(s)) {
			json_decref(results);
			api_fail(&e, "input", "input[%zu] must be a string", i);
			goto fail;
		}
		memset(&r, 0, sizeof(r));
		if (m && moderator_check(m, json_string_value(s), json_string_length(s), &r)) {
			json_decref(results);
			api_fail_as(&e, 500, "server_error", "moderation_failed", NULL, "%s", ajar_err_msg());
			goto fail;
		}
		json_array_append_new(results, moderation_result(&r, json_string_value(s), json_string_length(s)));
		keep_redacted(c, json_string_value(s), json_string_length(s), &r);
	}
	char id[48], model[96];
	api_make_id(id, sizeof(id), "modr-");
	snprintf(model, sizeof(model), "ajar-moderation/%s", profile);
	json_t *root = json_object();
	json_object_set_new(root, "id", json_string(id));
	json_object_set_new(root, "model", json_string(model));
	json_object_set_new(root, "results", results);
	json_decref(body);
	return http_reply_json(c, 200, root);
fail:
	json_decref(body);
	return http_reply_error(c, &e);
}

/* ---- POST /v1/watermark/detect ---- */

enum MHD_Result api_watermark_detect(struct http_ctx *c)
{
	struct server *s = c->srv;
	struct api_error e;
	struct watermark_score sc;
	int32_t *ids = NULL;
	size_t n_ids = 0;

	if (!guard_limit_public(c, "detect", DETECTS_PER_MINUTE))
		return MHD_YES;
	if (!s->wm) {
		api_fail_as(&e, 404, "invalid_request_error", "not_found", NULL,
			    "this server does not watermark its outputs (no tier of its policy has the watermark on)");
		return http_reply_error(c, &e);
	}
	json_t *body = api_parse_body(c, &e);
	if (!body)
		return http_reply_error(c, &e);
	json_t *text = json_object_get(body, "text");
	if (!json_is_string(text)) {
		json_decref(body);
		api_fail(&e, "text", "text is required: the text to test, a string");
		return http_reply_error(c, &e);
	}
	/* Scored as generated: the text's tokens without BOS or specials. */
	enum ajar_err err = vocab_tokenize(s->vocab, json_string_value(text), json_string_length(text), false, false,
					   &ids, &n_ids);
	json_decref(body);
	if (!err) {
		double z = s->policy->watermark_z_threshold > 0 ? s->policy->watermark_z_threshold : 4.0;
		err = watermark_detect(s->wm, ids, n_ids, z, &sc);
	}
	free(ids);
	if (err) {
		api_fail(&e, "text", "%s", ajar_err_msg());
		return http_reply_error(c, &e);
	}
	json_t *o = json_object();
	json_object_set_new(o, "z_score", json_real(sc.z_score));
	json_object_set_new(o, "p_value", json_real(sc.p_value));
	json_object_set_new(o, "tokens_scored", json_integer((json_int_t)sc.tokens_scored));
	json_object_set_new(o, "green_fraction", json_real(sc.green_fraction));
	json_object_set_new(o, "detected", json_boolean(sc.detected));
	json_object_set_new(o, "scheme", json_string(s->wm_scheme));
	return http_reply_json(c, 200, o);
}
