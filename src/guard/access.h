/*
 * access.h - gated access: requests for a tier, their automatic or manual
 * review, and the key an approved applicant retrieves once.
 *
 * A request names the applicant (name, email, affiliation), the intended
 * use, the tier wanted, and accepts the license: the SHA-256 of the license
 * text in force is recorded with it. The applicant gets a request id and a
 * status token (256 random bits; the store keeps its keyed digest). The
 * policy's auto-approval rules are applied at submission; otherwise an
 * admin approves or denies. The key itself is made when the applicant first
 * asks with the token after approval, and is shown that once: no key
 * secret ever waits in the store.
 */
#ifndef AJAR_GUARD_ACCESS_H
#define AJAR_GUARD_ACCESS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"
#include "guard/policy.h"
#include "guard/secrets.h"
#include "store/store.h"

#define ACCESS_TOKEN_MAX 64  /* 43 characters of base64url and a NUL */

/* "pending", "approved", "denied". */
const char *access_status_name(int status);

/*
 * Validates a request body and stores the request. Fields: name, email,
 * affiliation, intended_use (strings), tier (string, default the policy's
 * access default tier; must be a tier of the policy other than "admin"),
 * accept_license (must be true), license_sha256 (optional; if present it
 * must equal the policy's, so an applicant cannot accept a stale text).
 * The policy's required fields must be non-empty; every string must be
 * valid UTF-8 without control characters (intended_use may have newlines)
 * and fit its field. A bad field is AJAR_ERR_INVALID with the field's name
 * in param (cap 64) and the reason in ajar_err_msg(). On success *out is
 * the stored record (approved already if a rule matched) and token_out
 * (cap >= ACCESS_TOKEN_MAX) the status token.
 */
enum ajar_err access_submit(struct store *st, const struct guard_secrets *sec, const struct policy *p,
			    json_t *body, int64_t now, struct store_access *out, char *token_out, size_t token_cap,
			    char *param, size_t param_cap) AJAR_MUST_CHECK;

/* Checks the status token of request id: NOT_FOUND for no such id or a
 * wrong token (the same answer, so ids cannot be probed). */
enum ajar_err access_check_token(struct store *st, const struct guard_secrets *sec, const char *id,
				 const char *token, struct store_access *out) AJAR_MUST_CHECK;

/* Approves a pending request with tier (NULL = the tier asked for; must be
 * a policy tier other than "admin"). INVALID if it is not pending. */
enum ajar_err access_approve(struct store *st, const struct policy *p, const char *id, const char *tier,
			     const char *decided_by, int64_t now, struct store_access *out) AJAR_MUST_CHECK;
/* Denies a pending request with a reason (non-empty). */
enum ajar_err access_deny(struct store *st, const char *id, const char *reason, const char *decided_by,
			  int64_t now, struct store_access *out) AJAR_MUST_CHECK;

/*
 * After access_check_token: if the request is approved and its key was not
 * yet retrieved, creates the key (tier = granted_tier, owner = email,
 * access_id = id), records its id in the request and writes the key string
 * to key_out (cap >= KEY_STRING_MAX); otherwise key_out gets "". *out is
 * the request as it is now.
 */
enum ajar_err access_claim_key(struct store *st, const struct guard_secrets *sec, const char *id, int64_t now,
			       char *key_out, size_t cap, struct store_access *out) AJAR_MUST_CHECK;

/* The request as JSON for the applicant and admins (no token digest). */
json_t *access_json(const struct store_access *a);

#endif
