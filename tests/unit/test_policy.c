/*
 * test_policy.c - the policy file: the built-in default and its exact
 * values, the committed policy files (tests/data/policy_open.json,
 * policies/example.json), relative paths and text files, the license hash
 * against a recomputation, the public JSON (never the watermark key file),
 * every validation error naming its JSON path, and robustness: every
 * truncation and many one-byte mutations of the default text fail cleanly
 * or load, never crash or leak.
 */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "guard/policy.h"

static char tmp_dir[64];

static const char *tmp_path(const char *name)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "%s/%s", tmp_dir, name);
	return buf;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "wb");
	CHECK(fp != NULL);
	if (!fp)
		return;
	CHECK(fwrite(text, 1, len, fp) == len);
	fclose(fp);
}

static struct policy *parse(const char *text)
{
	struct policy *p = NULL;
	enum ajar_err err = policy_parse(text, strlen(text), "t.json", NULL, &p);
	CHECK_MSG(err == AJAR_OK, "%s", ajar_err_msg());
	return p;
}

/* text must fail with code, and the message must start with the source and
 * contain want (the JSON path, or "line N, column M"). */
static void expect_fail_len(int line, const char *text, size_t len, enum ajar_err code, const char *want)
{
	struct policy *p = (struct policy *)1;
	enum ajar_err err = policy_parse(text, len, "t.json", NULL, &p);
	const char *msg = ajar_err_msg();

	CHECK_MSG(err == code, "line %d: got %s, want %s: %s", line, ajar_err_name(err), ajar_err_name(code), msg);
	CHECK_MSG(p == NULL, "line %d: *out not NULL on failure", line);
	CHECK_MSG(strncmp(msg, "t.json: ", 8) == 0, "line %d: message lacks the source: %s", line, msg);
	CHECK_MSG(strstr(msg, want) != NULL, "line %d: message lacks \"%s\": %s", line, want, msg);
	if (err == AJAR_OK)
		policy_free(p);
}

#define EXPECT_FAIL(text, code, want) expect_fail_len(__LINE__, text, strlen(text), code, want)
#define EXPECT_INVALID(text, want) EXPECT_FAIL(text, AJAR_ERR_INVALID, want)

/* A minimal policy: tier "public" with body `tier` (the members inside its
 * braces), tier "r" that may do nothing, and `top` as more top-level
 * members. */
static const char *doc(const char *tier, const char *top)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf),
		 "{\"version\": 1, \"tiers\": {\"public\": {%s}, \"r\": {\"capabilities\": []}}%s%s}", tier,
		 *top ? ", " : "", top);
	return buf;
}

/* The same with chat granted and `tier_extra` after it. */
static const char *with(const char *tier_extra, const char *top)
{
	char body[1024];
	snprintf(body, sizeof(body), "\"capabilities\": [\"chat\"]%s%s", *tier_extra ? ", " : "", tier_extra);
	return doc(body, top);
}

/* The default's tiers, exactly as documented. */
static void test_default(void)
{
	struct policy *p = NULL;
	CHECK_OK(policy_load(NULL, &p));
	if (!p)
		return;
	CHECK_STR(p->source, "built-in default");
	CHECK_EQ_INT(p->n_tiers, 4);
	CHECK_STR(p->tiers[0].name, "public");
	CHECK_STR(p->tiers[1].name, "researcher");
	CHECK_STR(p->tiers[2].name, "partner");
	CHECK_STR(p->tiers[3].name, "admin");

	const struct policy_tier *t = policy_tier(p, "public");
	CHECK(t && t->caps == CAP_CHAT);
	CHECK(t && t->max_tokens == 256 && t->max_context == 2048);
	CHECK(t && t->requests_per_minute == 20 && t->tokens_per_minute == 10000 && t->tokens_per_day == 100000);
	CHECK(t && strcmp(t->moderation, "standard") == 0 && t->watermark);

	unsigned research = CAP_CHAT | CAP_COMPLETIONS | CAP_LOGPROBS | CAP_EMBEDDINGS | CAP_MODERATIONS |
			    CAP_TOKENIZE | CAP_WEIGHTS;
	t = policy_tier(p, "researcher");
	CHECK(t && t->caps == research);
	CHECK(t && t->max_tokens == 2048 && t->max_context == 0);
	CHECK(t && t->requests_per_minute == 60 && t->tokens_per_minute == 100000 && t->tokens_per_day == 2000000);
	CHECK(t && strcmp(t->moderation, "standard") == 0 && t->watermark);

	t = policy_tier(p, "partner");
	CHECK(t && t->caps == (research | CAP_FINETUNE));
	CHECK(t && t->max_tokens == 4096 && t->max_context == 0);
	CHECK(t && t->requests_per_minute == 600 && t->tokens_per_minute == 1000000 &&
	      t->tokens_per_day == 20000000);
	CHECK(t && strcmp(t->moderation, "standard") == 0 && !t->watermark);

	t = policy_tier(p, "admin");
	CHECK(t && t->caps == (1u << POLICY_CAP_COUNT) - 1 && (t->caps & CAP_ADMIN));
	CHECK(t && t->max_tokens == 0 && t->max_context == 0 && t->requests_per_minute == 0 &&
	      t->tokens_per_minute == 0 && t->tokens_per_day == 0);
	CHECK(t && strcmp(t->moderation, "none") == 0 && !t->watermark);
	CHECK(policy_tier(p, "nope") == NULL);
	CHECK(policy_tier(p, NULL) == NULL);
	policy_free(p);
}

/* The default's sections other than tiers. */
static void test_default_sections(void)
{
	struct policy *p = NULL;
	CHECK_OK(policy_load(NULL, &p));
	if (!p)
		return;
	CHECK_STR(p->anonymous_tier, "");
	CHECK_EQ_INT(p->n_access_required, 4);
	if (p->n_access_required == 4) {
		CHECK_STR(p->access_required[0], "name");
		CHECK_STR(p->access_required[1], "email");
		CHECK_STR(p->access_required[2], "affiliation");
		CHECK_STR(p->access_required[3], "intended_use");
	}
	CHECK_STR(p->access_default_tier, "public");
	CHECK_EQ_INT(p->n_auto_rules, 1);
	if (p->n_auto_rules == 1) {
		CHECK_STR(p->auto_rules[0].tier, "public");
		CHECK(p->auto_rules[0].any_email && p->auto_rules[0].n_email_domains == 0);
	}
	CHECK(!p->retain_content);

	CHECK_EQ_INT(p->n_profiles, 3);
	const struct policy_moderation_profile *mp = policy_profile(p, "none");
	CHECK(mp == &p->profiles[0] && mp->n_categories == 0);
	mp = policy_profile(p, "standard");
	CHECK(mp && mp->n_categories == 6);
	if (mp && mp->n_categories == 6) {
		const char *want[] = {"hate", "harassment", "self-harm", "sexual/minors", "violence", "illicit"};
		for (int i = 0; i < 6; i++)
			CHECK_STR(mp->categories[i], want[i]);
	}
	mp = policy_profile(p, "strict");
	CHECK(mp && mp->n_categories == 13);
	CHECK(policy_profile(p, "lenient") == NULL);

	CHECK_STR(p->watermark_scheme, "green-list");
	CHECK_NEAR(p->watermark_gamma, 0.25, 0);
	CHECK_NEAR(p->watermark_delta, 2.0, 0);
	CHECK_EQ_INT(p->watermark_context, 1);
	CHECK(p->watermark_key_file == NULL);
	CHECK(p->card_path == NULL);

	CHECK_STR(p->license_name, "ajar open model license");
	CHECK(strstr(p->license_text, "No warranty") != NULL);
	CHECK(strstr(p->license_text, "Redistribution") != NULL);
	CHECK(strstr(p->license_text, "Attribution") != NULL);
	CHECK(strstr(p->license_text, "acceptable-use") != NULL);
	CHECK(strlen(p->acceptable_use) > 100);
	policy_free(p);
}

static void test_cap_names(void)
{
	for (unsigned i = 0; i < POLICY_CAP_COUNT; i++) {
		const char *name = policy_cap_name(1u << i);
		CHECK(name != NULL);
		CHECK_EQ_INT(policy_cap_parse(name), 1u << i);
	}
	CHECK_STR(policy_cap_name(CAP_WEIGHTS), "weights");
	CHECK_STR(policy_cap_name(CAP_ADMIN), "admin");
	CHECK(policy_cap_name(0) == NULL);
	CHECK(policy_cap_name(CAP_CHAT | CAP_COMPLETIONS) == NULL);
	CHECK(policy_cap_name(1u << POLICY_CAP_COUNT) == NULL);
	CHECK_EQ_INT(policy_cap_parse("Chat"), 0);
	CHECK_EQ_INT(policy_cap_parse(""), 0);
	CHECK_EQ_INT(policy_cap_parse(NULL), 0);
}

static void test_license_sha(void)
{
	unsigned char d[crypto_hash_sha256_BYTES];
	char hex[65];
	struct policy *p = NULL;

	CHECK_OK(policy_load(NULL, &p));
	if (!p)
		return;
	CHECK(sodium_init() >= 0);
	crypto_hash_sha256(d, (const unsigned char *)p->license_text, strlen(p->license_text));
	sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
	CHECK_STR(p->license_sha256, hex);
	policy_free(p);

	/* The FIPS 180-2 "abc" vector, so the hash is not merely self-consistent. */
	p = parse(with("", "\"license\": {\"name\": \"L\", \"text\": \"abc\"}"));
	if (p)
		CHECK_STR(p->license_sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	policy_free(p);
	/* No license: empty name and text, the hash of "". */
	p = parse(with("", ""));
	if (p) {
		CHECK_STR(p->license_name, "");
		CHECK_STR(p->license_text, "");
		CHECK_STR(p->acceptable_use, "");
		CHECK_STR(p->license_sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	}
	policy_free(p);
}

static void test_defaults_of_fields(void)
{
	struct policy *p = parse(with("", ""));
	if (!p)
		return;
	const struct policy_tier *t = policy_tier(p, "public");
	CHECK(t && t->max_tokens == 0 && t->max_context == 0 && t->requests_per_minute == 0 &&
	      t->tokens_per_minute == 0 && t->tokens_per_day == 0 && !t->watermark);
	CHECK(t && strcmp(t->moderation, "none") == 0);
	t = policy_tier(p, "r");
	CHECK(t && t->caps == 0);
	CHECK_EQ_INT(p->n_tiers, 3);
	CHECK_STR(p->tiers[2].name, "admin");
	CHECK_EQ_INT(p->n_access_required, 3);
	CHECK_STR(p->access_default_tier, "");
	CHECK_EQ_INT(p->n_auto_rules, 0);
	CHECK_EQ_INT(p->n_profiles, 1);
	CHECK(!p->retain_content);
	CHECK_STR(p->watermark_scheme, "green-list");
	CHECK_NEAR(p->watermark_gamma, 0.25, 0);
	CHECK_NEAR(p->watermark_delta, 2.0, 0);
	CHECK_EQ_INT(p->watermark_context, 1);
	policy_free(p);

	/* Domains are lowercased; retention full; integer delta; nulls. */
	p = parse(with("", "\"access_requests\": {\"auto_approve\": [{\"tier\": \"r\", \"email_domains\": "
			   "[\"Example.EDU\", \"a-b.c\"]}]}, \"retention\": {\"content\": \"full\"}, "
			   "\"watermark\": {\"delta\": 3, \"gamma\": 0.5, \"context\": 4, \"key_file\": null}, "
			   "\"anonymous_tier\": null, \"model_card\": null"));
	if (p) {
		CHECK(p->n_auto_rules == 1 && p->auto_rules[0].n_email_domains == 2);
		if (p->n_auto_rules == 1 && p->auto_rules[0].n_email_domains == 2) {
			CHECK_STR(p->auto_rules[0].email_domains[0], "example.edu");
			CHECK_STR(p->auto_rules[0].email_domains[1], "a-b.c");
		}
		CHECK(p->retain_content);
		CHECK_NEAR(p->watermark_delta, 3.0, 0);
		CHECK_NEAR(p->watermark_gamma, 0.5, 0);
		CHECK_EQ_INT(p->watermark_context, 4);
		CHECK(p->watermark_key_file == NULL && p->card_path == NULL);
		CHECK_STR(p->anonymous_tier, "");
	}
	policy_free(p);
}

static void test_public_json(void)
{
	struct policy *p = parse(with("\"watermark\": true, \"moderation\": \"m\"",
				      "\"moderation\": {\"profiles\": {\"m\": {\"categories\": [\"hate\"]}}}, "
				      "\"anonymous_tier\": \"public\", "
				      "\"license\": {\"name\": \"L\", \"text\": \"secret-ish license body\"}, "
				      "\"watermark\": {\"key_file\": \"/very/private/wm.key\"}"));
	if (!p)
		return;
	CHECK_STR(p->watermark_key_file, "/very/private/wm.key");
	json_t *j = policy_public_json(p);
	CHECK(j != NULL);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	CHECK(s != NULL);
	if (s) {
		CHECK(strstr(s, "key_file") == NULL);
		CHECK(strstr(s, "private") == NULL);
		CHECK(strstr(s, "wm.key") == NULL);
		CHECK(strstr(s, "license body") == NULL);
		CHECK(strstr(s, p->license_sha256) != NULL);
	}
	free(s);
	json_t *tiers = json_object_get(j, "tiers");
	CHECK(json_is_array(tiers) && json_array_size(tiers) == 3);
	json_t *t0 = json_array_get(tiers, 0);
	CHECK_STR(json_string_value(json_object_get(t0, "name")), "public");
	CHECK(json_array_size(json_object_get(t0, "capabilities")) == 1);
	CHECK_STR(json_string_value(json_array_get(json_object_get(t0, "capabilities"), 0)), "chat");
	CHECK(json_is_true(json_object_get(t0, "watermark")));
	CHECK_STR(json_string_value(json_object_get(t0, "moderation")), "m");
	CHECK(json_is_object(json_object_get(t0, "rate_limits")));
	json_t *admin = json_array_get(tiers, 2);
	CHECK_STR(json_string_value(json_object_get(admin, "name")), "admin");
	CHECK(json_array_size(json_object_get(admin, "capabilities")) == POLICY_CAP_COUNT);
	CHECK_STR(json_string_value(json_object_get(j, "anonymous_tier")), "public");
	json_t *wm = json_object_get(j, "watermark");
	CHECK_STR(json_string_value(json_object_get(wm, "scheme")), "green-list");
	CHECK_NEAR(json_number_value(json_object_get(wm, "gamma")), 0.25, 0);
	CHECK_NEAR(json_number_value(json_object_get(wm, "delta")), 2.0, 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(wm, "context")), 1);
	CHECK_STR(json_string_value(json_object_get(wm, "hash")), "left");
	CHECK_NEAR(json_number_value(json_object_get(wm, "z_threshold")), 4.0, 0);
	CHECK_EQ_INT(json_object_size(wm), 6);
	json_t *prof = json_object_get(json_object_get(j, "moderation"), "profiles");
	CHECK(json_is_object(json_object_get(prof, "none")));
	CHECK_STR(json_string_value(json_array_get(json_object_get(json_object_get(prof, "m"), "categories"), 0)),
		  "hate");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "retention"), "content")), "digest");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "license"), "name")), "L");
	json_t *acc = json_object_get(j, "access_requests");
	CHECK(json_is_null(json_object_get(acc, "default_tier")));
	CHECK(json_array_size(json_object_get(acc, "required_fields")) == 3);
	json_decref(j);
	policy_free(p);

	/* The default's view: researcher's limits and the auto-approval rule. */
	CHECK_OK(policy_load(NULL, &p));
	if (!p)
		return;
	j = policy_public_json(p);
	json_t *r = json_array_get(json_object_get(j, "tiers"), 1);
	CHECK_STR(json_string_value(json_object_get(r, "name")), "researcher");
	CHECK_EQ_INT(json_integer_value(json_object_get(r, "max_tokens")), 2048);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r, "rate_limits"), "tokens_per_day")), 2000000);
	acc = json_object_get(j, "access_requests");
	CHECK_STR(json_string_value(json_object_get(acc, "default_tier")), "public");
	json_t *rule = json_array_get(json_object_get(acc, "auto_approve"), 0);
	CHECK_STR(json_string_value(json_object_get(rule, "tier")), "public");
	CHECK(json_is_true(json_object_get(rule, "any_email")));
	CHECK(json_is_null(json_object_get(j, "anonymous_tier")));
	json_decref(j);
	policy_free(p);
}

/* Wrong JSON types: each error names its JSON path. */
static void test_type_errors(void)
{
	/* wrong types */
	EXPECT_INVALID(with("\"max_tokens\": \"256\"", ""), "tiers.public.max_tokens: expected an integer");
	EXPECT_INVALID(with("\"max_tokens\": 256.0", ""), "tiers.public.max_tokens: expected an integer");
	EXPECT_INVALID(with("\"max_tokens\": true", ""), "tiers.public.max_tokens");
	EXPECT_INVALID(with("\"watermark\": 1", ""), "tiers.public.watermark: expected true or false");
	EXPECT_INVALID(with("\"rate_limits\": []", ""), "tiers.public.rate_limits: expected an object");
	EXPECT_INVALID(with("\"moderation\": null", ""), "tiers.public.moderation: expected a string");
	EXPECT_INVALID("{\"version\": 1, \"tiers\": []}", "tiers: expected an object");
	EXPECT_INVALID("{\"version\": 1, \"tiers\": {\"public\": 3}}", "tiers.public: expected an object");
	EXPECT_INVALID("{\"version\": \"1\", \"tiers\": {}}", "version: expected an integer");
	EXPECT_INVALID(with("", "\"acceptable_use\": 5"), "acceptable_use: expected a string");
	EXPECT_INVALID(with("", "\"model_card\": 5"), "model_card: expected a string");
	EXPECT_INVALID(with("", "\"model_card\": \"\""), "model_card: expected a non-empty file path");
	EXPECT_INVALID(with("", "\"license\": \"MIT\""), "license: expected an object");
	EXPECT_INVALID(with("", "\"retention\": \"full\""), "retention: expected an object");
	EXPECT_INVALID(with("", "\"watermark\": true"), "watermark: expected an object");
	EXPECT_INVALID(with("", "\"moderation\": []"), "moderation: expected an object");
	EXPECT_INVALID(with("", "\"access_requests\": []"), "access_requests: expected an object");

}

/* Limits and capabilities inside a tier. */
static void test_tier_errors(void)
{
	/* limits: negative, too large for their field */
	EXPECT_INVALID(with("\"rate_limits\": {\"requests_per_minute\": -1}", ""),
		       "tiers.public.rate_limits.requests_per_minute: expected an integer >= 0");
	EXPECT_INVALID(with("\"rate_limits\": {\"tokens_per_day\": -5}", ""),
		       "tiers.public.rate_limits.tokens_per_day");
	EXPECT_INVALID(with("\"max_context\": -1", ""), "tiers.public.max_context");
	EXPECT_INVALID(with("\"max_tokens\": 2147483648", ""),
		       "tiers.public.max_tokens: expected an integer from 0 to 2147483647");

	/* capabilities */
	EXPECT_INVALID(doc("\"capabilities\": [\"chatt\"]", ""),
		       "tiers.public.capabilities[0]: unknown capability \"chatt\" (known: chat, completions");
	EXPECT_INVALID(doc("\"capabilities\": [\"chat\", \"admin\"]", ""),
		       "tiers.public.capabilities[1]: \"admin\" cannot be granted");
	EXPECT_INVALID(doc("\"capabilities\": [\"chat\", \"chat\"]", ""), "tiers.public.capabilities[1]: capability");
	EXPECT_INVALID(doc("\"capabilities\": [7]", ""), "tiers.public.capabilities[0]: expected a string");
	EXPECT_INVALID(doc("\"capabilities\": \"chat\"", ""), "tiers.public.capabilities: expected an array");
	EXPECT_INVALID(doc("\"max_tokens\": 5", ""), "tiers.public.capabilities: missing");

}

/* An unknown field at any level is an error naming it. */
static void test_unknown_fields(void)
{
	EXPECT_INVALID(with("", "\"tier\": {}"), "t.json: tier: unknown field (expected one of: version,");
	EXPECT_INVALID(with("\"max_tokns\": 5", ""), "tiers.public.max_tokns: unknown field");
	EXPECT_INVALID(with("\"rate_limits\": {\"requests_per_hour\": 5}", ""),
		       "tiers.public.rate_limits.requests_per_hour: unknown field (expected one of: "
		       "requests_per_minute, tokens_per_minute, tokens_per_day)");
	EXPECT_INVALID(with("", "\"license\": {\"name\": \"L\", \"txt\": \"x\"}"), "license.txt: unknown field");
	EXPECT_INVALID(with("", "\"retention\": {\"prompts\": \"full\"}"), "retention.prompts: unknown field");
	EXPECT_INVALID(with("", "\"watermark\": {\"key\": \"abc\"}"), "watermark.key: unknown field");
	EXPECT_INVALID(with("", "\"moderation\": {\"profile\": {}}"), "moderation.profile: unknown field");
	EXPECT_INVALID(with("", "\"moderation\": {\"profiles\": {\"m\": {\"categories\": [], \"x\": 1}}}"),
		       "moderation.profiles.m.x: unknown field");
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto\": []}"), "access_requests.auto: unknown field");
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto_approve\": [{\"tier\": \"r\", \"any_email\": true, "
				"\"domains\": []}]}"),
		       "access_requests.auto_approve[0].domains: unknown field");
	/* a junk key is quoted safely: cut, control bytes as '?' */
	EXPECT_INVALID(with("", "\"a\\nb\": 1"), "a?b: unknown field");
	EXPECT_INVALID(with("", "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\": 1"),
		       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: unknown field");

}

/* Names, and every reference from one section to another. */
static void test_names_and_refs(void)
{
	/* tier names */
	EXPECT_INVALID("{\"version\": 1, \"tiers\": {\"admin\": {\"capabilities\": []}}}",
		       "tiers.admin: \"admin\" is the built-in administrator tier");
	EXPECT_INVALID("{\"version\": 1, \"tiers\": {\"Public\": {\"capabilities\": []}}}",
		       "tiers: tier name \"Public\": expected 1 to 31 characters");
	EXPECT_INVALID("{\"version\": 1, \"tiers\": {\"\": {\"capabilities\": []}}}", "tiers: tier name \"\"");
	EXPECT_INVALID("{\"version\": 1, \"tiers\": {\"abcdefghijabcdefghijabcdefghijab\": {\"capabilities\": []}}}",
		       "tiers: tier name");
	struct policy *p = parse("{\"version\": 1, \"tiers\": {\"abcdefghijabcdefghijabcdefghija\": "
				 "{\"capabilities\": []}, \"a_b-9\": {\"capabilities\": []}}}");
	CHECK(p && p->n_tiers == 3);
	policy_free(p);

	/* moderation */
	EXPECT_INVALID(with("\"moderation\": \"standard\"", ""),
		       "tiers.public.moderation: unknown moderation profile \"standard\" (defined: none)");
	EXPECT_INVALID(with("", "\"moderation\": {\"profiles\": {\"none\": {\"categories\": []}}}"),
		       "moderation.profiles.none: \"none\" is built in");
	EXPECT_INVALID(with("", "\"moderation\": {\"profiles\": {\"m\": {\"categories\": [\"hate\", \"violance\"]}}}"),
		       "moderation.profiles.m.categories[1]: unknown category \"violance\"");
	EXPECT_INVALID(with("", "\"moderation\": {\"profiles\": {\"m\": {\"categories\": [\"hate\", \"hate\"]}}}"),
		       "moderation.profiles.m.categories[1]: category \"hate\" listed twice");
	EXPECT_INVALID(with("", "\"moderation\": {\"profiles\": {\"m\": {}}}"),
		       "moderation.profiles.m.categories: missing");
	EXPECT_INVALID(with("", "\"moderation\": {\"profiles\": {\"M\": {\"categories\": []}}}"),
		       "moderation.profiles: profile name \"M\"");

	/* references to tiers */
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto_approve\": [{\"tier\": \"gold\", \"any_email\": true}]}"),
		       "access_requests.auto_approve[0].tier: unknown tier \"gold\"");
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto_approve\": [{\"tier\": \"admin\", \"any_email\": true}]}"),
		       "access_requests.auto_approve[0].tier: the admin tier");
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto_approve\": [{\"any_email\": true}]}"),
		       "access_requests.auto_approve[0].tier: missing");
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto_approve\": [{\"tier\": \"r\"}]}"),
		       "access_requests.auto_approve[0]: a rule needs");
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto_approve\": [{\"tier\": \"r\", \"any_email\": true, "
				"\"email_domains\": [\"a.b\"]}]}"),
		       "access_requests.auto_approve[0]: \"any_email\": true with");
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto_approve\": [{\"tier\": \"r\", "
				"\"email_domains\": [\"ok.edu\", \"@example.edu\"]}]}"),
		       "access_requests.auto_approve[0].email_domains[1]: \"@example.edu\" is not a domain");
	const char *bad_domains[] = {"", ".edu", "edu.", "a..b", "-a.b", "a-.b", "a b.c", "\\u00e9.fr"};
	for (size_t i = 0; i < sizeof(bad_domains) / sizeof(bad_domains[0]); i++) {
		char top[256];
		snprintf(top, sizeof(top),
			 "\"access_requests\": {\"auto_approve\": [{\"tier\": \"r\", \"email_domains\": [\"%s\"]}]}",
			 bad_domains[i]);
		EXPECT_INVALID(with("", top), "access_requests.auto_approve[0].email_domains[0]");
	}
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto_approve\": [{\"tier\": \"r\", "
				"\"email_domains\": [\"a.b\", \"A.B\"]}]}"),
		       "access_requests.auto_approve[0].email_domains[1]: domain listed twice");
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto_approve\": {}}"),
		       "access_requests.auto_approve: expected an array");
	EXPECT_INVALID(with("", "\"access_requests\": {\"auto_approve\": [5]}"),
		       "access_requests.auto_approve[0]: expected an object");
	EXPECT_INVALID(with("", "\"access_requests\": {\"default_tier\": \"gold\"}"),
		       "access_requests.default_tier: unknown tier");
	EXPECT_INVALID(with("", "\"access_requests\": {\"default_tier\": \"admin\"}"),
		       "access_requests.default_tier: the admin tier");
	EXPECT_INVALID(with("", "\"access_requests\": {\"required_fields\": [\"name\", \"phone\"]}"),
		       "access_requests.required_fields[1]: unknown field \"phone\" (known: name, email");
	EXPECT_INVALID(with("", "\"access_requests\": {\"required_fields\": [\"name\", \"name\"]}"),
		       "access_requests.required_fields[1]: \"name\" listed twice");
	EXPECT_INVALID(with("", "\"anonymous_tier\": \"gold\""), "anonymous_tier: unknown tier \"gold\"");
	EXPECT_INVALID(with("", "\"anonymous_tier\": \"admin\""), "anonymous_tier: the admin tier");
	EXPECT_INVALID(with("", "\"anonymous_tier\": 1"), "anonymous_tier: expected a string");

}

static void test_section_errors(void)
{
	/* retention, watermark, version, license */
	EXPECT_INVALID(with("", "\"retention\": {\"content\": \"none\"}"),
		       "retention.content: expected \"digest\" or \"full\"");
	EXPECT_INVALID(with("", "\"watermark\": {\"gamma\": 1}"), "watermark.gamma: expected a number strictly between 0 and 1");
	EXPECT_INVALID(with("", "\"watermark\": {\"gamma\": 0}"), "watermark.gamma");
	EXPECT_INVALID(with("", "\"watermark\": {\"gamma\": \"0.5\"}"), "watermark.gamma");
	EXPECT_INVALID(with("", "\"watermark\": {\"delta\": -0.5}"), "watermark.delta: expected a number from 0 to 100");
	EXPECT_INVALID(with("", "\"watermark\": {\"delta\": 1e300}"), "watermark.delta");
	EXPECT_INVALID(with("", "\"watermark\": {\"context\": 0}"), "watermark.context: expected an integer from 1 to 8");
	EXPECT_INVALID(with("", "\"watermark\": {\"scheme\": \"red-list\"}"), "watermark.scheme: unknown scheme");
	EXPECT_INVALID(with("", "\"watermark\": {\"key_file\": 3}"), "watermark.key_file: expected a string");
	EXPECT_INVALID("{\"tiers\": {}}", "version: missing");
	EXPECT_INVALID("{\"version\": 2, \"tiers\": {}}", "version: expected an integer from 1 to 1, got 2");
	EXPECT_INVALID("{\"version\": 1}", "tiers: missing");
	EXPECT_INVALID(with("", "\"license\": {\"text\": \"x\"}"), "license.name: missing");
	EXPECT_INVALID(with("", "\"license\": {\"name\": \"\", \"text\": \"x\"}"), "license.name: expected a non-empty");
	EXPECT_INVALID(with("", "\"license\": {\"name\": \"a\\nb\", \"text\": \"x\"}"),
		       "license.name: control characters");
	EXPECT_INVALID(with("", "\"license\": {\"name\": \"L\"}"), "license.text: missing");
	EXPECT_INVALID(with("", "\"license\": {\"name\": \"L\", \"text\": \"x\", \"text_file\": \"l.txt\"}"),
		       "license: give \"text\" or \"text_file\", not both");
	EXPECT_FAIL(with("", "\"license\": {\"name\": \"L\", \"text_file\": \"/nonexistent/ajar-license.txt\"}"),
		    AJAR_ERR_IO, "license.text_file: /nonexistent/ajar-license.txt: No such file");

	/* the top level */
	EXPECT_INVALID("[1, 2]", "t.json: (top level): expected a JSON object");
	EXPECT_INVALID("{}", "version: missing");
}

/* Syntax errors say line and column; a huge integer still names its field. */
static void test_syntax_errors(void)
{
	EXPECT_FAIL("{\n  \"version\": 1,\n  \"tiers\": {,}\n}", AJAR_ERR_FORMAT, "t.json: line 3, column");
	EXPECT_FAIL("", AJAR_ERR_FORMAT, "line 1, column 1: empty file");
	EXPECT_FAIL(" \n\t\r\n", AJAR_ERR_FORMAT, "empty file");
	EXPECT_FAIL("42", AJAR_ERR_FORMAT, "line 1");
	EXPECT_FAIL("\"policy\"", AJAR_ERR_FORMAT, "line 1");
	EXPECT_FAIL("{\"version\": 1, \"version\": 1, \"tiers\": {}}", AJAR_ERR_FORMAT, "duplicate");
	EXPECT_FAIL("{\"version\": 1, \"tiers\": {}} x", AJAR_ERR_FORMAT, "line 1");
	EXPECT_FAIL("{\"version\": 1, \"tiers\": {}, \"acceptable_use\": \"a\\u0000b\"}", AJAR_ERR_FORMAT, "line 1");
	/* a lone surrogate escape */
	EXPECT_FAIL("{\"version\": 1, \"tiers\": {}, \"acceptable_use\": \"\\ud800\"}", AJAR_ERR_FORMAT, "line 1");

	/* invalid UTF-8 in a string and in a key: jansson refuses it while
	 * parsing, before any path exists, so the place is line and column */
	EXPECT_FAIL("{\"version\": 1,\n \"tiers\": {},\n \"acceptable_use\": \"ab\xff\"}", AJAR_ERR_FORMAT,
		    "line 3, column");
	EXPECT_FAIL("{\"version\": 1,\n \"tiers\": {\"p\xc3\x28\": {}}}", AJAR_ERR_FORMAT, "line 2, column");
	EXPECT_FAIL("{\"version\": 1, \"tiers\": {}, \"acceptable_use\": \"\xed\xa0\x80\"}", AJAR_ERR_FORMAT,
		    "line 1");
	EXPECT_FAIL("{\"version\": 1, \"tiers\": {}, \"acceptable_use\": \"\xc0\xaf\"}", AJAR_ERR_FORMAT, "line 1");

	/* a NUL byte inside the text */
	const char nul[] = "{\"version\": 1, \"tiers\": {}, \"acceptable_use\": \"a\0b\"}";
	expect_fail_len(__LINE__, nul, sizeof(nul) - 1, AJAR_ERR_FORMAT, "line 1");

	/* huge numbers: past int64 (jansson's overflow, then the second pass
	 * names the field), past int32 for a per-request limit, reals where an
	 * integer belongs, past double */
	EXPECT_INVALID(with("\"rate_limits\": {\"requests_per_minute\": 99999999999999999999}", ""),
		       "tiers.public.rate_limits.requests_per_minute: integer too large");
	EXPECT_INVALID(with("\"rate_limits\": {\"tokens_per_day\": -99999999999999999999}", ""),
		       "tiers.public.rate_limits.tokens_per_day: integer too large");
	EXPECT_INVALID(with("\"max_tokens\": 99999999999999999999999999999999999999", ""),
		       "tiers.public.max_tokens: integer too large");
	EXPECT_INVALID(with("\"max_tokens\": 1e20", ""), "tiers.public.max_tokens: expected an integer");
	EXPECT_INVALID(with("\"rate_limits\": {\"tokens_per_minute\": 9223372036854775808}", ""),
		       "tiers.public.rate_limits.tokens_per_minute: integer too large");
	/* in the second pass an earlier problem is still reported first */
	EXPECT_INVALID(with("\"max_tokens\": -1, \"max_context\": 99999999999999999999", ""), "tiers.public.max_tokens");
	/* a huge integer where any number is fine: validation passes, so the
	 * syntax error stands */
	EXPECT_FAIL(with("", "\"watermark\": {\"delta\": 100000000000000000000000}"), AJAR_ERR_INVALID, "watermark.delta");
	EXPECT_FAIL(with("", "\"watermark\": {\"delta\": 1e999}"), AJAR_ERR_FORMAT, "line 1, column");
	struct policy *p = parse(with("\"rate_limits\": {\"tokens_per_day\": 9223372036854775807}", ""));
	CHECK(p && policy_tier(p, "public")->tokens_per_day == INT64_MAX);
	policy_free(p);
	p = parse(with("\"max_tokens\": 2147483647", ""));
	CHECK(p && policy_tier(p, "public")->max_tokens == INT32_MAX);
	policy_free(p);
}

/* The two committed policy files. */
static void test_files(void)
{
	struct policy *p = NULL;

	CHECK_OK(policy_load(AJAR_SOURCE_DIR "/tests/data/policy_open.json", &p));
	if (p) {
		unsigned all = (1u << POLICY_CAP_COUNT) - 1;
		const struct policy_tier *t = policy_tier(p, "open");
		CHECK_STR(p->anonymous_tier, "open");
		CHECK(t && t->caps == (all & ~(unsigned)CAP_ADMIN));
		CHECK(t && t->max_tokens == 0 && t->max_context == 0 && t->requests_per_minute == 0 &&
		      t->tokens_per_minute == 0 && t->tokens_per_day == 0);
		CHECK(t && strcmp(t->moderation, "none") == 0 && !t->watermark);
		CHECK_EQ_INT(p->n_tiers, 2);
		CHECK_STR(p->source, AJAR_SOURCE_DIR "/tests/data/policy_open.json");
	}
	policy_free(p);

	p = NULL;
	CHECK_OK(policy_load(AJAR_SOURCE_DIR "/policies/example.json", &p));
	if (p) {
		CHECK_STR(p->anonymous_tier, "trial");
		CHECK_EQ_INT(p->n_tiers, 5);
		CHECK_EQ_INT(p->n_auto_rules, 2);
		CHECK(p->n_auto_rules == 2 && p->auto_rules[1].n_email_domains == 2);
		CHECK(policy_tier(p, "trial") && strcmp(policy_tier(p, "trial")->moderation, "strict") == 0);
		CHECK(p->card_path == NULL);
	}
	policy_free(p);

}

/* Relative paths resolve against the policy's folder; a license text file. */
static void test_paths(void)
{
	struct policy *p = NULL;

	/* relative paths resolve against the policy's folder */
	const char lic[] = "Test license\nline two \xc3\xa9\n";
	write_file(tmp_path("LICENSE.txt"), lic, sizeof(lic) - 1);
	const char *text = "{\"version\": 1, \"tiers\": {}, \"model_card\": \"card.md\", "
			   "\"license\": {\"name\": \"T\", \"text_file\": \"LICENSE.txt\"}, "
			   "\"watermark\": {\"key_file\": \"keys/wm.key\"}}";
	write_file(tmp_path("p.json"), text, strlen(text));
	p = NULL;
	CHECK_OK(policy_load(tmp_path("p.json"), &p));
	if (p) {
		char want[256];
		snprintf(want, sizeof(want), "%s/card.md", tmp_dir);
		CHECK_STR(p->card_path, want);
		snprintf(want, sizeof(want), "%s/keys/wm.key", tmp_dir);
		CHECK_STR(p->watermark_key_file, want);
		CHECK_STR(p->license_text, lic);
		unsigned char d[crypto_hash_sha256_BYTES];
		char hex[65];
		crypto_hash_sha256(d, (const unsigned char *)lic, sizeof(lic) - 1);
		sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
		CHECK_STR(p->license_sha256, hex);
	}
	policy_free(p);
	unlink(tmp_path("LICENSE.txt"));
	unlink(tmp_path("p.json"));

	/* policy_parse: base_dir NULL is ".", absolute paths stay */
	p = parse("{\"version\": 1, \"tiers\": {}, \"model_card\": \"c.md\", "
		  "\"watermark\": {\"key_file\": \"/abs/k\"}}");
	if (p) {
		CHECK_STR(p->card_path, "./c.md");
		CHECK_STR(p->watermark_key_file, "/abs/k");
	}
	policy_free(p);

}

/* Bad license files, a missing policy, a folder, an empty file. */
static void test_file_errors(void)
{
	struct policy *p = NULL;

	/* a license file that is not UTF-8, has a NUL, or is too big */
	const char *lic_policy = "{\"version\": 1, \"tiers\": {}, "
				 "\"license\": {\"name\": \"T\", \"text_file\": \"bad.txt\"}}";
	write_file(tmp_path("q.json"), lic_policy, strlen(lic_policy));
	const char *bad[] = {"ok \xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(tmp_path("bad.txt"), bad[i], strlen(bad[i]));
		p = NULL;
		CHECK(policy_load(tmp_path("q.json"), &p) == AJAR_ERR_INVALID && p == NULL);
		CHECK_MSG(strstr(ajar_err_msg(), "license.text_file") && strstr(ajar_err_msg(), "not valid UTF-8"),
			  "%s", ajar_err_msg());
	}
	write_file(tmp_path("bad.txt"), "a\0b", 3);
	CHECK(policy_load(tmp_path("q.json"), &p) == AJAR_ERR_INVALID);
	CHECK_MSG(strstr(ajar_err_msg(), "license.text_file") && strstr(ajar_err_msg(), "NUL"), "%s", ajar_err_msg());
	size_t big = (1u << 20) + 1;
	char *huge = malloc(big);
	if (huge) {
		memset(huge, 'a', big);
		write_file(tmp_path("bad.txt"), huge, big);
		CHECK(policy_load(tmp_path("q.json"), &p) == AJAR_ERR_LIMIT);
		CHECK_MSG(strstr(ajar_err_msg(), "license.text_file"), "%s", ajar_err_msg());
		/* exactly the cap is fine */
		write_file(tmp_path("bad.txt"), huge, big - 1);
		p = NULL;
		CHECK_OK(policy_load(tmp_path("q.json"), &p));
		CHECK(p && strlen(p->license_text) == big - 1);
		policy_free(p);
		free(huge);
	}

	/* missing file, a folder, an empty file */
	p = (struct policy *)1;
	CHECK(policy_load("/nonexistent/ajar/policy.json", &p) == AJAR_ERR_IO && p == NULL);
	CHECK(strstr(ajar_err_msg(), "/nonexistent/ajar/policy.json") != NULL);
	CHECK(policy_load(tmp_dir, &p) != AJAR_OK && p == NULL);
	write_file(tmp_path("empty.json"), "", 0);
	CHECK(policy_load(tmp_path("empty.json"), &p) == AJAR_ERR_FORMAT && p == NULL);
	CHECK(strstr(ajar_err_msg(), "empty.json: line 1, column 1: empty file") != NULL);

	unlink(tmp_path("q.json"));
	unlink(tmp_path("bad.txt"));
	unlink(tmp_path("empty.json"));
}

/* Caps on counts. */
static void test_caps(void)
{
	char *buf = malloc(1 << 16);
	size_t at = 0;
	if (!buf)
		return;
	at += (size_t)snprintf(buf + at, 64, "{\"version\": 1, \"tiers\": {");
	for (int i = 0; i < 65; i++)
		at += (size_t)snprintf(buf + at, 64, "%s\"t%d\": {\"capabilities\": []}", i ? ", " : "", i);
	snprintf(buf + at, 8, "}}");
	EXPECT_INVALID(buf, "tiers: more than 64 tiers");
	/* 64 is fine */
	char *cut = strstr(buf, ", \"t64\"");
	if (cut)
		memcpy(cut, "}}", 3);
	struct policy *p = parse(buf);
	CHECK(p && p->n_tiers == 65);
	policy_free(p);
	free(buf);

	/* a text past the file cap */
	size_t n = (4u << 20) + 1;
	char *big = malloc(n);
	if (big) {
		memset(big, ' ', n);
		expect_fail_len(__LINE__, big, n, AJAR_ERR_LIMIT, "larger than");
		free(big);
	}
}

/* Every prefix of the default, and one-byte changes at every offset: each
 * loads or fails with a message naming the source, never crashes or leaks
 * (run under ASan to mean it). */
static void test_robustness(void)
{
	const char *def = policy_default_text();
	size_t n = strlen(def), ok = 0;
	char *buf = malloc(n + 1);
	static const char subst[] = {'"', '}', ']', ',', '0', '-', 'x', '\\', (char)0xff, ' '};

	if (!buf)
		return;
	for (size_t len = 0; len <= n; len++) {
		struct policy *p = NULL;
		memcpy(buf, def, len);
		enum ajar_err err = policy_parse(buf, len, "t.json", NULL, &p);
		if (err == AJAR_OK) {
			ok++;
			CHECK(p != NULL);
			policy_free(p);
		} else {
			CHECK(p == NULL && strncmp(ajar_err_msg(), "t.json: ", 8) == 0);
		}
	}
	/* only the whole text and the text without its final newline load */
	CHECK_EQ_INT(ok, 2);

	size_t loaded = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < sizeof(subst); k++) {
			struct policy *p = NULL;
			memcpy(buf, def, n + 1);
			buf[i] = subst[k];
			if (policy_parse(buf, n, "t.json", NULL, &p) == AJAR_OK) {
				loaded++;
				json_t *j = policy_public_json(p);
				CHECK(j != NULL);
				json_decref(j);
				policy_free(p);
			} else {
				CHECK(p == NULL && strncmp(ajar_err_msg(), "t.json: ", 8) == 0);
			}
		}
	}
	/* Some changes are harmless (inside the license text, say). */
	CHECK(loaded > 0);
	free(buf);
}

/* issue 7: moderation.rules, the profile's detector actions, PII types and
 * classifier, and the watermark's hash and threshold. */
static void test_moderation_fields(void)
{
	struct policy *p = parse(with("\"moderation\": \"m\"",
		"\"moderation\": {\"rules\": {\"violence\": {\"terms\": [\"kill you\", \"stab you\"], "
		"\"patterns\": [\"\\\\bshoot\\\\w*\"]}, \"hate\": {\"patterns\": []}}, "
		"\"profiles\": {\"m\": {\"categories\": [\"violence\"], \"rules\": \"redact\", "
		"\"pii\": {\"action\": \"flag\", \"types\": [\"email\", \"ip\"]}, "
		"\"classifier\": {\"model\": \"guard.gguf\", \"action\": \"flag\", \"on_failure\": \"flag\", "
		"\"timeout_ms\": 500}}, \"d\": {\"categories\": [\"hate\"]}, \"e\": {\"categories\": []}}}, "
		"\"watermark\": {\"hash\": \"self\", \"z_threshold\": 2.5}"));
	if (!p)
		return;
	CHECK_EQ_INT(p->n_rule_categories, 2);
	if (p->n_rule_categories == 2) {
		CHECK_STR(p->rule_categories[0].name, "violence");
		CHECK_EQ_INT(p->rule_categories[0].n_terms, 2);
		CHECK_STR(p->rule_categories[0].terms[1], "stab you");
		CHECK_EQ_INT(p->rule_categories[0].n_patterns, 1);
		CHECK_STR(p->rule_categories[0].patterns[0], "\\bshoot\\w*");
		CHECK_EQ_INT(p->rule_categories[1].n_patterns, 0);
	}
	const struct policy_moderation_profile *mp = policy_profile(p, "m");
	CHECK(mp && mp->rules_action == 2 && mp->pii_action == 1 && mp->pii_types == (1 | 32));
	CHECK(mp && mp->classifier_model && strcmp(mp->classifier_model, "./guard.gguf") == 0);
	CHECK(mp && mp->classifier_action == 1 && mp->classifier_on_failure == 1 && mp->classifier_timeout_ms == 500);
	/* defaults: rules block when categories are given, PII off (all types),
	 * no classifier, and a classifier fails closed */
	mp = policy_profile(p, "d");
	CHECK(mp && mp->rules_action == 3 && mp->pii_action == 0 && mp->pii_types == 63 && !mp->classifier_model);
	CHECK(mp && mp->classifier_action == 3 && mp->classifier_on_failure == 3 && mp->classifier_timeout_ms == 10000);
	mp = policy_profile(p, "e");
	CHECK(mp && mp->rules_action == 0);
	CHECK_EQ_INT(p->watermark_hash, 1);
	CHECK_NEAR(p->watermark_z_threshold, 2.5, 0);

	/* public view: actions, types, the model's file name, counts not terms */
	json_t *j = policy_public_json(p);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	CHECK(s && strstr(s, "kill you") == NULL && strstr(s, "shoot") == NULL && strstr(s, "./guard") == NULL);
	free(s);
	json_t *mod = json_object_get(j, "moderation");
	json_t *m = json_object_get(json_object_get(mod, "profiles"), "m");
	CHECK_STR(json_string_value(json_object_get(m, "rules")), "redact");
	CHECK_STR(json_string_value(json_object_get(json_object_get(m, "pii"), "action")), "flag");
	CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(m, "pii"), "types")), 2);
	CHECK_STR(json_string_value(json_object_get(json_object_get(m, "classifier"), "model")), "guard.gguf");
	CHECK(json_is_null(json_object_get(json_object_get(json_object_get(mod, "profiles"), "d"), "classifier")));
	json_t *v = json_object_get(json_object_get(mod, "rules"), "violence");
	CHECK_EQ_INT(json_integer_value(json_object_get(v, "terms")), 2);
	CHECK_EQ_INT(json_integer_value(json_object_get(v, "patterns")), 1);
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "watermark"), "hash")), "self");
	json_decref(j);
	policy_free(p);

	/* the default: illustrative rules, standard blocks them and redacts PII */
	CHECK_OK(policy_load(NULL, &p));
	if (!p)
		return;
	CHECK(p->n_rule_categories >= 4);
	mp = policy_profile(p, "standard");
	CHECK(mp && mp->rules_action == 3 && mp->pii_action == 2 && mp->pii_types == 63 && !mp->classifier_model);
	mp = policy_profile(p, "strict");
	CHECK(mp && mp->rules_action == 3 && mp->pii_action == 2);
	CHECK_EQ_INT(p->watermark_hash, 0);
	CHECK_NEAR(p->watermark_z_threshold, 4.0, 0);
	policy_free(p);
}

static void test_moderation_errors(void)
{
#define MOD(body) with("", "\"moderation\": " body)
	EXPECT_INVALID(MOD("{\"rules\": []}"), "moderation.rules: expected an object");
	EXPECT_INVALID(MOD("{\"rules\": {\"violance\": {}}}"), "moderation.rules.violance: unknown category");
	EXPECT_INVALID(MOD("{\"rules\": {\"hate\": {\"words\": []}}}"), "moderation.rules.hate.words: unknown field");
	EXPECT_INVALID(MOD("{\"rules\": {\"hate\": {\"terms\": \"x\"}}}"), "moderation.rules.hate.terms: expected an array");
	EXPECT_INVALID(MOD("{\"rules\": {\"hate\": {\"terms\": [\"ok\", 3]}}}"), "moderation.rules.hate.terms[1]: expected a string");
	EXPECT_INVALID(MOD("{\"rules\": {\"hate\": {\"terms\": [\" \"]}}}"), "moderation.rules.hate.terms[0]: expected a non-blank");
	EXPECT_INVALID(MOD("{\"rules\": {\"hate\": {\"terms\": [\"a\\nb\"]}}}"), "moderation.rules.hate.terms[0]: control characters");
	EXPECT_INVALID(MOD("{\"rules\": {\"hate\": {\"patterns\": [\"ok\", \"(unclosed\"]}}}"),
		       "moderation.rules.hate.patterns[1]: pattern does not compile");
	EXPECT_INVALID(MOD("{\"profiles\": {\"m\": {\"categories\": [], \"rules\": \"deny\"}}}"),
		       "moderation.profiles.m.rules: expected one of: off, flag, redact, block");
	EXPECT_INVALID(MOD("{\"profiles\": {\"m\": {\"categories\": [], \"pii\": {\"action\": \"x\"}}}}"),
		       "moderation.profiles.m.pii.action: expected one of");
	EXPECT_INVALID(MOD("{\"profiles\": {\"m\": {\"categories\": [], \"pii\": {\"types\": [\"email\", \"fax\"]}}}}"),
		       "moderation.profiles.m.pii.types[1]: unknown PII type \"fax\"");
	EXPECT_INVALID(MOD("{\"profiles\": {\"m\": {\"categories\": [], \"pii\": {\"types\": [\"ip\", \"ip\"]}}}}"),
		       "moderation.profiles.m.pii.types[1]: PII type \"ip\" listed twice");
	EXPECT_INVALID(MOD("{\"profiles\": {\"m\": {\"categories\": [], \"pii\": {\"kinds\": []}}}}"),
		       "moderation.profiles.m.pii.kinds: unknown field");
	EXPECT_INVALID(MOD("{\"profiles\": {\"m\": {\"categories\": [], \"classifier\": {}}}}"),
		       "moderation.profiles.m.classifier.model: missing");
	EXPECT_INVALID(MOD("{\"profiles\": {\"m\": {\"categories\": [], \"classifier\": {\"model\": \"g\", \"action\": \"redact\"}}}}"),
		       "moderation.profiles.m.classifier.action: expected one of: flag, block");
	EXPECT_INVALID(MOD("{\"profiles\": {\"m\": {\"categories\": [], \"classifier\": {\"model\": \"g\", \"on_failure\": \"off\"}}}}"),
		       "moderation.profiles.m.classifier.on_failure: expected one of: flag, block");
	EXPECT_INVALID(MOD("{\"profiles\": {\"m\": {\"categories\": [], \"classifier\": {\"model\": \"g\", \"timeout_ms\": 0}}}}"),
		       "moderation.profiles.m.classifier.timeout_ms: expected an integer from 1");
	EXPECT_INVALID(MOD("{\"profiles\": {\"m\": {\"categories\": [], \"classifier\": {\"model\": \"\"}}}}"),
		       "moderation.profiles.m.classifier.model: expected a non-empty file path");
#undef MOD
	EXPECT_INVALID(with("", "\"watermark\": {\"hash\": \"right\"}"), "watermark.hash: expected one of: left, self");
	EXPECT_INVALID(with("", "\"watermark\": {\"z_threshold\": 0}"), "watermark.z_threshold: expected a number");
	EXPECT_INVALID(with("", "\"watermark\": {\"z_threshold\": \"4\"}"), "watermark.z_threshold: expected a number");
	/* a classifier given as null is none */
	struct policy *p = parse(with("", "\"moderation\": {\"profiles\": {\"m\": {\"categories\": [], \"classifier\": null}}}"));
	CHECK(p && policy_profile(p, "m") && !policy_profile(p, "m")->classifier_model);
	policy_free(p);
}

int main(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ajar_test_policy_XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_default);
	RUN(test_default_sections);
	RUN(test_cap_names);
	RUN(test_license_sha);
	RUN(test_defaults_of_fields);
	RUN(test_public_json);
	RUN(test_type_errors);
	RUN(test_tier_errors);
	RUN(test_unknown_fields);
	RUN(test_names_and_refs);
	RUN(test_section_errors);
	RUN(test_syntax_errors);
	RUN(test_files);
	RUN(test_paths);
	RUN(test_file_errors);
	RUN(test_caps);
	RUN(test_robustness);
	RUN(test_moderation_fields);
	RUN(test_moderation_errors);
	rmdir(tmp_dir);
	return check_summary();
}
