/*
 * policy_public.c - policy_public_json: the part of a policy that the
 * transparency record publishes (tiers and limits, moderation profiles and
 * the counts of their rules, watermark parameters, retention, license and
 * access rules), and never what must stay private: watermark key files,
 * other paths, the rule terms themselves (a published list teaches
 * evasion; docs/policy.md).
 */
#include "guard/policy.h"
#include "guard/policy_int.h"

#include <string.h>

/* ---- the public view -------------------------------------------------------- */

/* Sets obj[key] = v (stolen); false if v is NULL or the set fails, so a
 * builder can run to the end and check once. */
static bool put(json_t *obj, const char *key, json_t *v)
{
	return v && json_object_set_new(obj, key, v) == 0;
}

static json_t *string_list(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *tier_json(const struct policy_tier *t)
{
	json_t *o = json_object(), *caps = json_array(), *rl = json_object();
	bool ok = o && caps && rl;

	for (unsigned i = 0; ok && i < POLICY_CAP_COUNT; i++)
		if (t->caps & (1u << i))
			ok = json_array_append_new(caps, json_string(policy_cap_names[i])) == 0;
	ok = ok && put(rl, "requests_per_minute", json_integer(t->requests_per_minute));
	ok = ok && put(rl, "tokens_per_minute", json_integer(t->tokens_per_minute));
	ok = ok && put(rl, "tokens_per_day", json_integer(t->tokens_per_day));
	ok = ok && put(o, "name", json_string(t->name));
	ok = ok && put(o, "capabilities", json_incref(caps));
	ok = ok && put(o, "max_tokens", json_integer(t->max_tokens));
	ok = ok && put(o, "max_context", json_integer(t->max_context));
	ok = ok && put(o, "rate_limits", json_incref(rl));
	ok = ok && put(o, "moderation", json_string(t->moderation));
	ok = ok && put(o, "watermark", json_boolean(t->watermark));
	json_decref(caps);
	json_decref(rl);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *access_json_public(const struct policy *p)
{
	json_t *o = json_object(), *rules = json_array();
	bool ok = o && rules;

	for (size_t i = 0; ok && i < p->n_auto_rules; i++) {
		const struct policy_auto_rule *r = &p->auto_rules[i];
		json_t *rj = json_object();
		ok = rj && put(rj, "tier", json_string(r->tier)) && put(rj, "any_email", json_boolean(r->any_email)) &&
		     put(rj, "email_domains", string_list(r->email_domains, r->n_email_domains)) &&
		     json_array_append(rules, rj) == 0;
		json_decref(rj);
	}
	ok = ok && put(o, "required_fields", string_list(p->access_required, p->n_access_required));
	ok = ok && put(o, "default_tier", *p->access_default_tier ? json_string(p->access_default_tier) : json_null());
	ok = ok && put(o, "auto_approve", json_incref(rules));
	json_decref(rules);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* One profile: its categories and detector actions, the PII types, and
 * the classifier's model by file name only (where it lives is the
 * operator's business). */
static json_t *profile_json(const struct policy_moderation_profile *mp)
{
	json_t *o = json_object(), *pii = json_object(), *types = json_array(), *cls;
	bool ok = o && pii && types;

	for (int k = 0; ok && policy_pii_type_names[k]; k++)
		if (mp->pii_types & (1u << k))
			ok = json_array_append_new(types, json_string(policy_pii_type_names[k])) == 0;
	ok = ok && put(pii, "action", json_string(policy_action_names[mp->pii_action & 3])) &&
	     put(pii, "types", json_incref(types));
	if (mp->classifier_model) {
		const char *slash = strrchr(mp->classifier_model, '/');
		cls = json_object();
		ok = ok && cls && put(cls, "model", json_string(slash ? slash + 1 : mp->classifier_model)) &&
		     put(cls, "action", json_string(policy_action_names[mp->classifier_action & 3])) &&
		     put(cls, "on_failure", json_string(policy_action_names[mp->classifier_on_failure & 3])) &&
		     put(cls, "timeout_ms", json_integer(mp->classifier_timeout_ms));
	} else {
		cls = json_null();
	}
	ok = ok && put(o, "categories", string_list(mp->categories, mp->n_categories)) &&
	     put(o, "rules", json_string(policy_action_names[mp->rules_action & 3])) && put(o, "pii", json_incref(pii));
	if (ok)
		ok = put(o, "classifier", cls); /* stolen either way */
	else
		json_decref(cls);
	json_decref(pii);
	json_decref(types);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* moderation.rules without the terms and patterns themselves: they are not
 * secret, but a published list is a list of what to misspell. */
static json_t *rules_json(const struct policy *p)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	for (size_t i = 0; ok && i < p->n_rule_categories; i++) {
		const struct policy_rule_category *rc = &p->rule_categories[i];
		json_t *cj = json_object();
		ok = cj && put(cj, "terms", json_integer((json_int_t)rc->n_terms)) &&
		     put(cj, "patterns", json_integer((json_int_t)rc->n_patterns)) && json_object_set(o, rc->name, cj) == 0;
		json_decref(cj);
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The pieces that are not tiers or access rules. */
static bool public_rest(const struct policy *p, json_t *o)
{
	json_t *profiles = json_object(), *mod = json_object(), *wm = json_object();
	json_t *ret = json_object(), *lic = json_object();
	bool ok = profiles && mod && wm && ret && lic;

	for (size_t i = 0; ok && i < p->n_profiles; i++) {
		json_t *pj = profile_json(&p->profiles[i]);
		ok = pj && json_object_set(profiles, p->profiles[i].name, pj) == 0;
		json_decref(pj);
	}
	ok = ok && put(mod, "profiles", json_incref(profiles)) && put(mod, "rules", rules_json(p));
	/* The key and where it lives stay private: knowing the key lets anyone
	 * forge or strip the watermark. */
	ok = ok && put(wm, "scheme", json_string(p->watermark_scheme)) &&
	     put(wm, "gamma", json_real(p->watermark_gamma)) && put(wm, "delta", json_real(p->watermark_delta)) &&
	     put(wm, "context", json_integer(p->watermark_context)) &&
	     put(wm, "hash", json_string(p->watermark_hash ? "self" : "left")) &&
	     put(wm, "z_threshold", json_real(p->watermark_z_threshold));
	ok = ok && put(ret, "content", json_string(p->retain_content ? "full" : "digest"));
	ok = ok && put(lic, "name", json_string(p->license_name)) && put(lic, "sha256", json_string(p->license_sha256));
	ok = ok && put(o, "moderation", json_incref(mod)) && put(o, "watermark", json_incref(wm)) &&
	     put(o, "retention", json_incref(ret)) && put(o, "license", json_incref(lic));
	json_decref(profiles);
	json_decref(mod);
	json_decref(wm);
	json_decref(ret);
	json_decref(lic);
	return ok;
}

json_t *policy_public_json(const struct policy *p)
{
	json_t *o = json_object(), *tiers = json_array();
	bool ok = o && tiers && p;

	for (size_t i = 0; ok && i < p->n_tiers; i++)
		ok = json_array_append_new(tiers, tier_json(&p->tiers[i])) == 0;
	ok = ok && put(o, "version", json_integer(1));
	ok = ok && put(o, "anonymous_tier", *p->anonymous_tier ? json_string(p->anonymous_tier) : json_null());
	ok = ok && put(o, "tiers", json_incref(tiers));
	ok = ok && put(o, "access_requests", access_json_public(p));
	ok = ok && public_rest(p, o);
	json_decref(tiers);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}
