/*
 * secrets.h - the server's own secrets, kept in files beside the store and
 * never in it: the key of the keyed digests (API keys and access-request
 * tokens are stored only as keyed BLAKE2b-256 digests) and the Ed25519 key
 * pair that signs the audit chain's head.
 *
 * Files, for a store at DB:
 *   DB.secret   mode 0600, JSON {"digest_key": hex32, "audit_sk": hex64}
 *   DB.pub      JSON {"audit_pk": hex32}: what `ajar audit verify` needs,
 *               safe to publish
 * They are created together with fresh random keys the first time (create
 * set), written to a temporary file, fsync'd and renamed, so a crash never
 * leaves half a file.
 */
#ifndef AJAR_GUARD_SECRETS_H
#define AJAR_GUARD_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

struct guard_secrets {
	uint8_t digest_key[32];
	uint8_t audit_pk[32];
	uint8_t audit_sk[64];
	bool have_sk;            /* false when only DB.pub could be read */
};

/*
 * Loads the secrets of the store file db_path. With create, missing files
 * are made; without it a missing DB.secret leaves have_sk false if DB.pub
 * exists (enough to verify), else NOT_FOUND. A malformed file is FORMAT,
 * naming it; a DB.secret readable by others is refused (INVALID) unless
 * create made it just now.
 */
enum ajar_err secrets_load(const char *db_path, bool create, struct guard_secrets *out) AJAR_MUST_CHECK;

/* Keyed BLAKE2b-256 of a secret string (API key or request token). */
void secrets_digest(const struct guard_secrets *s, const char *secret, size_t len, uint8_t out[32]);

/* Wipes out (sodium_memzero). */
void secrets_wipe(struct guard_secrets *s);

#endif
