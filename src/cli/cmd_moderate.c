/*
 * cmd_moderate.c - `ajar moderate`: one text through a moderation profile
 * of a policy, offline, printed as JSON: whether it is flagged and
 * blocked, every category of the profile with whether it was hit, the hits
 * with their byte spans, and the text as redaction would leave it.
 */
#include "cli/args.h"
#include "cli/commands.h"
#include "guard/classifier.h"
#include "guard/moderation.h"
#include "guard/policy.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A prompt file past this is not something to moderate in one piece. */
#define MODERATE_FILE_MAX (8u << 20)

static const char moderate_help[] =
	"usage: ajar moderate (-p TEXT | -f FILE) [--policy P] [--profile NAME] [--json]\n"
	"  checks TEXT with a moderation profile and prints JSON:\n"
	"  {\"flagged\", \"blocked\", \"categories\": {name: bool}, \"hits\": [{category, source,\n"
	"   action, start, end}], \"redacted\": text}; exits 0 whatever the verdict\n"
	"  -p TEXT         the text\n"
	"  -f FILE         the text from a file\n"
	"  --policy P      policy file (default: the built-in policy)\n"
	"  --profile NAME  moderation profile (default: the public tier's, else \"standard\")\n"
	"  --json          one line instead of indented\n";

static const char *const pii_names[] = {"email", "phone", "card", "iban", "ssn", "ip"};

static const char *default_profile(const struct policy *p)
{
	const struct policy_tier *t = policy_tier(p, "public");
	if (t)
		return t->moderation;
	return policy_profile(p, "standard") ? "standard" : "none";
}

/* Every category the profile can report, false until hit. */
static json_t *categories_json(const struct policy_moderation_profile *mp, const struct mod_result *r)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	char name[MOD_CATEGORY_MAX];

	for (size_t i = 0; ok && mp->rules_action && i < mp->n_categories; i++)
		ok = json_object_set_new(o, mp->categories[i], json_false()) == 0;
	for (unsigned k = 0; ok && mp->pii_action && k < 6; k++) {
		snprintf(name, sizeof(name), "pii/%s", pii_names[k]);
		if (mp->pii_types & (1u << k))
			ok = json_object_set_new(o, name, json_false()) == 0;
	}
	for (size_t i = 0; ok && i < r->n_hits; i++)
		ok = json_object_set_new(o, r->hits[i].category, json_true()) == 0;
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
		   : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	for (size_t k = 1; k < len; k++)
		if ((s[k] & 0xC0) != 0x80)
			return 0;
	if ((len == 3 && s[0] == 0xE0 && s[1] < 0xA0) || (len == 3 && s[0] == 0xED && s[1] >= 0xA0) ||
	    (len == 4 && s[0] == 0xF0 && s[1] < 0x90) || (len == 4 && s[0] == 0xF4 && s[1] >= 0x90))
		return 0;
	return len;
}

/* The text as a JSON string, ill-formed bytes as U+FFFD (JSON holds only
 * Unicode). NULL when out of memory. */
static json_t *text_json(const char *text, size_t n)
{
	char *buf = malloc(n * 3 + 1);
	size_t at = 0;
	json_t *v;

	if (!buf)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)text + i, n - i);
		if (k) {
			memcpy(buf + at, text + i, k);
			at += k;
			i += k;
		} else {
			memcpy(buf + at, "\xEF\xBF\xBD", 3);
			at += 3;
			i++;
		}
	}
	v = json_stringn(buf, at);
	free(buf);
	return v;
}

static json_t *result_json(const struct policy_moderation_profile *mp, const struct mod_result *r,
			   const char *redacted, size_t n_redacted)
{
	json_t *o = json_object(), *hits = json_array(), *cats = categories_json(mp, r);
	bool ok = o && hits && cats;

	for (size_t i = 0; ok && i < r->n_hits; i++) {
		const struct mod_hit *h = &r->hits[i];
		json_t *hj = json_pack("{s:s, s:s, s:s, s:I, s:I}", "category", h->category, "source",
				       mod_source_name(h->source), "action", mod_action_name(h->action), "start",
				       (json_int_t)h->start, "end", (json_int_t)h->end);
		ok = hj && json_array_append_new(hits, hj) == 0;
	}
	ok = ok && json_object_set_new(o, "profile", json_string(mp->name)) == 0 &&
	     json_object_set_new(o, "flagged", json_boolean(r->flagged)) == 0 &&
	     json_object_set_new(o, "blocked", json_boolean(r->blocked)) == 0 &&
	     json_object_set_new(o, "categories", json_incref(cats)) == 0 &&
	     json_object_set_new(o, "hits", json_incref(hits)) == 0 &&
	     json_object_set_new(o, "redacted", text_json(redacted, n_redacted)) == 0;
	if (ok && r->classifier_failed)
		ok = json_object_set_new(o, "classifier_failed", json_true()) == 0;
	json_decref(hits);
	json_decref(cats);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Loads the policy, the profile's classifier if it has one, and checks. */
static int moderate(const struct args *a, const char *policy_path, const char *profile, const char *text,
		    size_t len, bool compact)
{
	struct policy *p = NULL;
	struct classifier *cls = NULL;
	struct moderator *m = NULL;
	const struct policy_moderation_profile *mp;
	struct mod_result r;
	char *redacted = NULL;
	size_t n_redacted = 0;
	int rc = 1;

	if (policy_load(policy_path, &p)) {
		args_fail(a);
		goto out;
	}
	if (!profile)
		profile = default_profile(p);
	if (!(mp = policy_profile(p, profile))) {
		args_error(a, "no moderation profile \"%s\" in the policy", profile);
		goto out;
	}
	if ((mp->classifier_model && classifier_open(mp->classifier_model, mp->classifier_timeout_ms, &cls)) ||
	    moderator_new(p, profile, cls, &m) || moderator_check(m, text, len, &r)) {
		args_fail(a);
		goto out;
	}
	if (!(redacted = moderator_redact(text, len, &r, &n_redacted))) {
		args_error(a, "out of memory");
		goto out;
	}
	rc = cli_print_json(a, result_json(mp, &r, redacted, n_redacted), compact ? JSON_COMPACT : JSON_INDENT(2));
out:
	free(redacted);
	moderator_free(m);
	classifier_free(cls);
	policy_free(p);
	return rc;
}

int cmd_moderate(int argc, char **argv)
{
	struct args a;
	const char *text = NULL, *file = NULL, *policy_path = NULL, *profile = NULL, *v;
	char *buf = NULL;
	size_t len = 0;
	bool compact = false;
	int rc;

	args_init(&a, "moderate", argc, argv);
	while (a.i < a.argc) {
		if (args_flag(&a, "--help", "-h")) {
			fputs(moderate_help, stdout);
			return 0;
		} else if (args_opt(&a, "--prompt", "-p", &v)) {
			text = v;
		} else if (args_opt(&a, "--file", "-f", &v)) {
			file = v;
		} else if (args_opt(&a, "--policy", NULL, &v)) {
			policy_path = v;
		} else if (args_opt(&a, "--profile", NULL, &v)) {
			profile = v;
		} else if (args_flag(&a, "--json", NULL)) {
			compact = true;
		} else {
			args_error(&a, "unexpected argument '%s' (see --help)", a.argv[a.i]);
			return 2;
		}
	}
	if (!text == !file) {
		args_error(&a, "give the text with -p TEXT or -f FILE (one of them; see --help)");
		return 2;
	}
	if (file) {
		if (read_file(file, MODERATE_FILE_MAX, &buf, &len)) {
			args_fail(&a);
			return 1;
		}
		text = buf;
	} else {
		len = strlen(text);
	}
	rc = moderate(&a, policy_path, profile, text, len, compact);
	free(buf);
	return rc;
}
