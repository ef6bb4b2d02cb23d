/*
 * transparency.h - the public record of a served model: its card (a card
 * file named in the policy, plus facts read from the GGUF file), the
 * safeguards in force (from the policy: tiers and limits, moderation
 * categories, watermark scheme and parameters but never its key,
 * retention), and live aggregates from the store (requests and tokens per
 * tier, refusals per reason, blocks per category, keys active and revoked,
 * access requests approved, denied and pending).
 *
 * GET /v1/transparency returns transparency_record() as JSON and
 * /transparency the same as a readable page; `ajar card MODEL` prints the
 * record offline (no store: no "usage" member).
 */
#ifndef AJAR_GUARD_TRANSPARENCY_H
#define AJAR_GUARD_TRANSPARENCY_H

#include <jansson.h>

#include "ajar/err.h"
#include "guard/policy.h"
#include "store/store.h"

/*
 * Facts from a GGUF file, without loading the model: {"file": basename,
 * "name": general.name or null, "architecture", "parameters" (sum of tensor
 * elements), "context_length", "embedding_length", "block_count",
 * "vocab_size", "tensor_types": {"q4_0": count, ...}, "file_size",
 * "sha256"}. Reading the whole file for its SHA-256 takes about a second per
 * 500 MB, so a server computes this once at start. Caller decrefs *out.
 */
enum ajar_err transparency_model_facts(const char *gguf_path, json_t **out) AJAR_MUST_CHECK;

struct gguf_file;
/* SHA-256 of the whole mapped file as 64 hex digits and a NUL (the
 * "sha256" of the facts; `ajar info` prints it too). */
void transparency_file_sha256(const struct gguf_file *f, char hex[65]);

/* The aggregates from the store: {"requests_by_tier": {tier: {"requests",
 * "tokens"}}, "refusals_by_reason": {...}, "blocked_by_category": {...},
 * "keys": {"active","revoked","expired"}, "access_requests": {"pending",
 * "approved","denied"}}. Caller decrefs *out. */
enum ajar_err transparency_usage(struct store *st, int64_t now, json_t **out) AJAR_MUST_CHECK;

/*
 * The whole record: {"model": facts (borrowed: a reference is taken),
 * "card": {"source": path, "text": Markdown} or null, "license": {"name",
 * "sha256", "text"}, "acceptable_use", "safeguards": policy_public_json(p),
 * "usage": transparency_usage() when st is non-NULL, "generated_at"}.
 * card_path overrides the policy's card file (NULL = the policy's). A card
 * file that cannot be read is an error naming it (IO). Caller decrefs.
 */
enum ajar_err transparency_record(json_t *facts, const struct policy *p, const char *card_path, struct store *st,
				  int64_t now, json_t **out) AJAR_MUST_CHECK;

/* The record as a self-contained HTML page (every text escaped). Caller
 * frees. NULL when out of memory. */
char *transparency_html(json_t *record);

#endif
