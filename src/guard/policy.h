/*
 * policy.h - the policy file: who may do what with the model (tiers and
 * their capabilities, limits and rate limits), the license and acceptable
 * use, access-request rules, retention, and the moderation and watermark
 * settings. One JSON document, documented in docs/policy.md.
 *
 * policy_load(NULL) gives the built-in default: tiers "public" (chat only,
 * max_tokens 256, 20 requests/min, watermarked), "researcher" (adds
 * completions, logprobs, embeddings, moderations, tokenize, weights),
 * "partner" (adds fine-tuning, higher limits), plus the built-in "admin"
 * tier, which every policy has and which alone may use /admin and
 * /metrics. A loaded file is validated whole before use; the first problem
 * is reported with the JSON path of the bad field:
 *
 *     policy.json: tiers.public.rate_limits.requests_per_minute: expected an integer >= 0
 *
 * A struct policy is immutable after loading and may be read from any
 * thread.
 */
#ifndef AJAR_GUARD_POLICY_H
#define AJAR_GUARD_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

/* What a tier may do: a bit set. */
enum policy_cap {
	CAP_CHAT = 1u << 0,        /* POST /v1/chat/completions */
	CAP_COMPLETIONS = 1u << 1, /* POST /v1/completions */
	CAP_LOGPROBS = 1u << 2,    /* logprobs / top_logprobs on either */
	CAP_EMBEDDINGS = 1u << 3,  /* POST /v1/embeddings */
	CAP_MODERATIONS = 1u << 4, /* POST /v1/moderations */
	CAP_TOKENIZE = 1u << 5,    /* POST /tokenize and /detokenize */
	CAP_WEIGHTS = 1u << 6,     /* GET /v1/models/{id}/weights */
	CAP_FINETUNE = 1u << 7,    /* fine-tuning jobs */
	CAP_ADMIN = 1u << 8,       /* /admin, /metrics: only the built-in admin tier */
};
#define POLICY_CAP_COUNT 9

/* The policy-file name of one capability bit ("chat", "weights", ...), or
 * NULL for a value that is not a single known bit. */
const char *policy_cap_name(unsigned cap);
/* The bit a name stands for, 0 if unknown. */
unsigned policy_cap_parse(const char *name);

struct policy_tier {
	char name[32];
	unsigned caps;              /* enum policy_cap bits */
	int32_t max_tokens;         /* most completion tokens per request; 0 = no limit */
	int32_t max_context;        /* most prompt + completion tokens; 0 = no limit */
	/* Rate limits; 0 = no limit. */
	int64_t requests_per_minute;
	int64_t tokens_per_minute;
	int64_t tokens_per_day;
	char moderation[32];        /* a profile in moderation.profiles, or "none" */
	bool watermark;             /* outputs carry the watermark */
};

/* Auto-approval of an access request: a request for `tier` is approved at
 * once when its email's domain is one of email_domains (a domain matches
 * itself and its subdomains) or when any_email is set. */
struct policy_auto_rule {
	char tier[32];
	bool any_email;
	char **email_domains;       /* owned, lowercase */
	size_t n_email_domains;
};

/* A rule category of the policy's moderation.rules (issue 7): terms
 * (matched as whole words on normalized text) and PCRE2 patterns. */
struct policy_rule_category {
	char name[48];              /* an OpenAI moderation category name */
	char **terms;               /* owned */
	size_t n_terms;
	char **patterns;            /* owned, PCRE2 syntax, checked to compile at load */
	size_t n_patterns;
};

/* Actions of a profile's detectors: values of enum mod_action
 * (moderation.h): 0 off, 1 flag, 2 redact, 3 block. */
struct policy_moderation_profile {
	char name[32];
	char **categories;          /* owned: the rule categories this profile applies */
	size_t n_categories;
	int rules_action;           /* for rule hits (default block when categories are given) */
	int pii_action;             /* for PII (default off) */
	unsigned pii_types;         /* bit set: 1 email, 2 phone, 4 card, 8 iban, 16 ssn, 32 ip */
	char *classifier_model;     /* guard model GGUF path (resolved like card_path); NULL = none */
	int classifier_action;      /* for an unsafe verdict (default block) */
	int classifier_on_failure;  /* when the classifier fails or its verdict cannot be
	                               parsed: block (default, fail closed) or flag */
	int classifier_timeout_ms;  /* default 10000 */
};

struct policy {
	/* The strings below are never NULL ("" when the file gives none), except
	 * card_path and watermark_key_file. */
	char *source;               /* the file it came from, or "built-in default" */
	char *license_name;         /* e.g. "ajar open model license" */
	char *license_text;         /* the full text applicants accept */
	char license_sha256[65];    /* hex SHA-256 of license_text */
	char *acceptable_use;       /* acceptable-use text */
	char *card_path;            /* model card file (Markdown), resolved against the
	                               policy file's folder; NULL = none */
	char anonymous_tier[32];    /* tier of requests without a key; "" = 401 */

	struct policy_tier *tiers;  /* n_tiers, the built-in "admin" last */
	size_t n_tiers;

	/* Access requests. */
	char **access_required;     /* field names that must be non-empty */
	size_t n_access_required;
	char access_default_tier[32]; /* when the request names none; "" = it must name one */
	struct policy_auto_rule *auto_rules;
	size_t n_auto_rules;

	bool retain_content;        /* audit keeps prompts and outputs, not only digests */

	struct policy_rule_category *rule_categories; /* moderation.rules */
	size_t n_rule_categories;
	struct policy_moderation_profile *profiles; /* profiles[0] is the built-in "none"
	                                               (no categories), then the file's */
	size_t n_profiles;

	/* Watermark parameters; the key is read from key_file, never stored here. */
	char watermark_scheme[32];  /* e.g. "green-list" */
	double watermark_gamma;     /* fraction of the vocabulary in the green list */
	double watermark_delta;     /* logit bias added to green tokens */
	int watermark_context;      /* previous tokens hashed into the seed */
	int watermark_hash;         /* 0 left-hash, 1 self-hash (enum watermark_hash) */
	double watermark_z_threshold; /* detector verdict cut-off; default 4 */
	char *watermark_key_file;   /* NULL = a key file beside the store */
};

/* Loads and validates path; NULL = the built-in default. On failure the
 * message says the file and the JSON path of the first bad field.
 * *out: caller frees with policy_free. */
enum ajar_err policy_load(const char *path, struct policy **out) AJAR_MUST_CHECK;
/* The same from text in memory; base_dir resolves relative paths (NULL = "."),
 * source names it in messages. */
enum ajar_err policy_parse(const char *text, size_t len, const char *source, const char *base_dir,
			   struct policy **out) AJAR_MUST_CHECK;
void policy_free(struct policy *p);

/* The built-in default policy as JSON text (static). */
const char *policy_default_text(void);

/* The tier named name, or NULL. */
const struct policy_tier *policy_tier(const struct policy *p, const char *name);

/* The moderation profile named name ("none" included), or NULL. */
const struct policy_moderation_profile *policy_profile(const struct policy *p, const char *name);

/* The public part of the policy as JSON (for /v1/transparency): tiers with
 * their capabilities and limits, moderation profiles, watermark scheme and
 * parameters (never the key or its file), retention, license name and
 * SHA-256, access-request rules. Caller decrefs; NULL only when out of
 * memory. */
json_t *policy_public_json(const struct policy *p);

#endif
