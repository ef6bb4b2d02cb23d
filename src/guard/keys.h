/*
 * keys.h - API keys: creation, checking, revocation, rotation.
 *
 * A key is the string "ajar_" ID "_" SECRET: ID is 16 characters of
 * lowercase base32 (80 random bits, public: it names the key in lists and
 * in the audit log) and SECRET is 43 characters of unpadded base64url (256
 * random bits from libsodium). The store keeps only the keyed digest of the
 * whole key string, so the key is shown once, at creation, and never again.
 * Checking compares digests in constant time (crypto_verify_32) and reads
 * the key's row on every call, so a revocation or expiry made by any
 * process is in force on the very next request.
 */
#ifndef AJAR_GUARD_KEYS_H
#define AJAR_GUARD_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"
#include "guard/secrets.h"
#include "store/store.h"

#define KEY_STRING_MAX 72   /* "ajar_" + 16 + "_" + 43 + NUL = 66 */
#define KEY_ID_LEN 16       /* base32 characters of a key id (80 bits) */

enum key_verdict {
	KEY_OK = 0,
	KEY_MALFORMED,   /* not of the ajar_ID_SECRET shape */
	KEY_UNKNOWN,     /* no such id, or the secret does not match */
	KEY_REVOKED,
	KEY_EXPIRED,
};

/* The message a client is told for a verdict ("API key revoked", ...). */
const char *key_verdict_message(enum key_verdict v);

/*
 * Creates and stores a key. tier must be non-empty; owner and access_id
 * may be NULL; expires is Unix seconds, 0 = never. The key string goes to
 * key_out (cap >= KEY_STRING_MAX) and the stored record to *rec (may be
 * NULL).
 */
enum ajar_err keys_create(struct store *st, const struct guard_secrets *sec, const char *tier, const char *owner,
			  int64_t expires, const char *access_id, int64_t now, char *key_out, size_t cap,
			  struct store_key *rec) AJAR_MUST_CHECK;

/*
 * As keys_create, with the id given by the caller (KEY_ID_LEN characters of
 * lowercase base32) instead of a random one. INVALID if a key with that id
 * exists already: the store's unique insert then decides between two
 * callers making the same key (access_claim_key relies on it).
 */
enum ajar_err keys_create_as(struct store *st, const struct guard_secrets *sec, const char *id, const char *tier,
			     const char *owner, int64_t expires, const char *access_id, int64_t now, char *key_out,
			     size_t cap, struct store_key *rec) AJAR_MUST_CHECK;

/* The KEY_ID_LEN lowercase base32 characters (and a NUL) of 10 bytes: the
 * form of key ids and of access request ids. */
void keys_base32_id(const uint8_t raw[10], char out[KEY_ID_LEN + 1]);

/* Checks a presented key at time now. Returns AJAR_OK with *verdict set
 * (and *rec filled when the id exists); an error only if the store fails. */
enum ajar_err keys_check(struct store *st, const struct guard_secrets *sec, const char *presented, int64_t now,
			 enum key_verdict *verdict, struct store_key *rec) AJAR_MUST_CHECK;

/* Revokes id (NOT_FOUND if absent; revoking twice is OK). */
enum ajar_err keys_revoke(struct store *st, const char *id, int64_t now) AJAR_MUST_CHECK;

/* Revokes id and creates its replacement with the same tier, owner and
 * expiry; the new key string in key_out, its record in *rec. A key that is
 * already revoked cannot be rotated (INVALID). */
enum ajar_err keys_rotate(struct store *st, const struct guard_secrets *sec, const char *id, int64_t now,
			  char *key_out, size_t cap, struct store_key *rec) AJAR_MUST_CHECK;

#endif
