/*
 * keys.c - API keys (keys.h).
 *
 * The key string, 65 characters:
 *
 *     offset  size  content
 *          0     5  "ajar_"
 *          5    16  id: lowercase base32 (RFC 4648 alphabet) of 10 random bytes
 *         21     1  "_"
 *         22    43  secret: unpadded base64url of 32 random bytes
 *
 * The store keeps the keyed BLAKE2b-256 digest of all 65 characters, never
 * the string. keys_check parses strictly (a string that is not exactly of
 * this shape is MALFORMED without touching the store), then reads the row
 * by id on every call: revocations and expiries made by another process
 * are seen at once. Buffers that held a secret are wiped before return.
 */
#include "guard/keys.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

#define KEY_PREFIX "ajar_"
#define KEY_PREFIX_LEN 5
#define KEY_ID_BYTES 10      /* 80 bits: ids never collide in practice */
#define KEY_SECRET_BYTES 32  /* 256 bits: the part that must not be guessed */
#define KEY_SECRET_LEN 43    /* unpadded base64 of 32 bytes */
#define KEY_SEP (KEY_PREFIX_LEN + KEY_ID_LEN)
#define KEY_LEN (KEY_SEP + 1 + KEY_SECRET_LEN)

static_assert(KEY_LEN + 1 <= KEY_STRING_MAX, "KEY_STRING_MAX holds a key");
static_assert(KEY_ID_LEN * 5 == KEY_ID_BYTES * 8, "the id is whole base32 characters");
static_assert(KEY_ID_LEN + 1 <= STORE_ID_MAX, "a key id fits the store");
static_assert(sodium_base64_ENCODED_LEN(KEY_SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
		      KEY_SECRET_LEN + 1,
	      "the secret is 43 base64 characters");

static const char base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

const char *key_verdict_message(enum key_verdict v)
{
	switch (v) {
	case KEY_OK: return "API key valid";
	case KEY_MALFORMED: return "malformed API key (expected ajar_...)";
	case KEY_UNKNOWN: return "incorrect API key";
	case KEY_REVOKED: return "API key revoked";
	case KEY_EXPIRED: return "API key expired";
	}
	return "incorrect API key";
}

void keys_base32_id(const uint8_t raw[10], char out[KEY_ID_LEN + 1])
{
	uint64_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < KEY_ID_BYTES; i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = base32_alphabet[(acc >> bits) & 31];
		}
	}
	out[o] = '\0';
}

static bool is_base32(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

static bool is_base64url(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static bool valid_id(const char *id)
{
	if (!id || strnlen(id, KEY_ID_LEN + 1) != KEY_ID_LEN)
		return false;
	for (size_t i = 0; i < KEY_ID_LEN; i++)
		if (!is_base32(id[i]))
			return false;
	return true;
}

/*
 * True if s is exactly a key string; its id goes to id. The secret must
 * also decode canonically (the unused low bits of the last character
 * zero), so one key has one spelling.
 */
static bool key_parse(const char *s, char id[KEY_ID_LEN + 1])
{
	uint8_t secret[KEY_SECRET_BYTES];
	size_t got = 0;
	const char *end = NULL;

	if (!s || strnlen(s, KEY_LEN + 1) != KEY_LEN || memcmp(s, KEY_PREFIX, KEY_PREFIX_LEN) != 0 ||
	    s[KEY_SEP] != '_')
		return false;
	memcpy(id, s + KEY_PREFIX_LEN, KEY_ID_LEN);
	id[KEY_ID_LEN] = '\0';
	if (!valid_id(id))
		return false;
	for (size_t i = KEY_SEP + 1; i < KEY_LEN; i++)
		if (!is_base64url(s[i]))
			return false;
	int rc = sodium_base642bin(secret, sizeof(secret), s + KEY_SEP + 1, KEY_SECRET_LEN, NULL, &got, &end,
				   sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(secret, sizeof(secret));
	return rc == 0 && got == KEY_SECRET_BYTES && end == s + KEY_LEN;
}

/* Checks the text arguments of a key record and copies them into k. */
static enum ajar_err fill_record(struct store_key *k, const char *id, const char *tier, const char *owner,
				 int64_t expires, const char *access_id, int64_t now)
{
	memset(k, 0, sizeof(*k));
	if (!valid_id(id))
		return ajar_errf(AJAR_ERR_INVALID, "key id must be %d characters of lowercase base32", KEY_ID_LEN);
	if (!tier || !*tier)
		return ajar_errf(AJAR_ERR_INVALID, "a key needs a tier");
	if (expires < 0)
		return ajar_errf(AJAR_ERR_INVALID, "key expiry %lld is before 1970", (long long)expires);
	owner = owner ? owner : "";
	access_id = access_id ? access_id : "";
	if (strlen(tier) >= sizeof(k->tier))
		return ajar_errf(AJAR_ERR_LIMIT, "tier name longer than %zu bytes", sizeof(k->tier) - 1);
	if (strlen(owner) >= sizeof(k->owner))
		return ajar_errf(AJAR_ERR_LIMIT, "owner longer than %zu bytes", sizeof(k->owner) - 1);
	if (strlen(access_id) >= sizeof(k->access_id))
		return ajar_errf(AJAR_ERR_LIMIT, "access request id longer than %zu bytes", sizeof(k->access_id) - 1);
	memcpy(k->id, id, KEY_ID_LEN + 1);
	memcpy(k->tier, tier, strlen(tier) + 1);
	memcpy(k->owner, owner, strlen(owner) + 1);
	memcpy(k->access_id, access_id, strlen(access_id) + 1);
	k->created = now;
	k->expires = expires;
	return AJAR_OK;
}

enum ajar_err keys_create_as(struct store *st, const struct guard_secrets *sec, const char *id, const char *tier,
			     const char *owner, int64_t expires, const char *access_id, int64_t now, char *key_out,
			     size_t cap, struct store_key *rec)
{
	uint8_t secret[KEY_SECRET_BYTES];
	char key[KEY_STRING_MAX];
	struct store_key k;
	enum ajar_err err;

	if (key_out && cap > 0)
		key_out[0] = '\0';
	if (!key_out || cap < KEY_LEN + 1)
		return ajar_errf(AJAR_ERR_LIMIT, "key buffer of %zu bytes; a key needs %d", cap, KEY_LEN + 1);
	if (!sec->have_sk)
		return ajar_errf(AJAR_ERR_INVALID, "making a key needs the store's secret file");
	err = fill_record(&k, id, tier, owner, expires, access_id, now);
	if (err)
		return err;

	randombytes_buf(secret, sizeof(secret));
	memcpy(key, KEY_PREFIX, KEY_PREFIX_LEN);
	memcpy(key + KEY_PREFIX_LEN, k.id, KEY_ID_LEN);
	key[KEY_SEP] = '_';
	sodium_bin2base64(key + KEY_SEP + 1, sizeof(key) - KEY_SEP - 1, secret, sizeof(secret),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	secrets_digest(sec, key, KEY_LEN, k.digest);

	err = store_key_insert(st, &k);
	if (!err) {
		memcpy(key_out, key, KEY_LEN + 1);
		if (rec)
			*rec = k;
	}
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(key, sizeof(key));
	return err;
}

enum ajar_err keys_create(struct store *st, const struct guard_secrets *sec, const char *tier, const char *owner,
			  int64_t expires, const char *access_id, int64_t now, char *key_out, size_t cap,
			  struct store_key *rec)
{
	uint8_t raw[KEY_ID_BYTES];
	char id[KEY_ID_LEN + 1];

	/* 80 random bits: a clash with an existing id (INVALID from the
	 * store) is not a case worth a retry loop. */
	randombytes_buf(raw, sizeof(raw));
	keys_base32_id(raw, id);
	return keys_create_as(st, sec, id, tier, owner, expires, access_id, now, key_out, cap, rec);
}

enum ajar_err keys_check(struct store *st, const struct guard_secrets *sec, const char *presented, int64_t now,
			 enum key_verdict *verdict, struct store_key *rec)
{
	char id[KEY_ID_LEN + 1];
	uint8_t digest[32];
	struct store_key k;

	*verdict = KEY_MALFORMED;
	if (!key_parse(presented, id))
		return AJAR_OK;
	*verdict = KEY_UNKNOWN;
	/* The digest is taken before the lookup so an unknown id and a wrong
	 * secret cost the same (the id is public anyway). */
	secrets_digest(sec, presented, KEY_LEN, digest);
	enum ajar_err err = store_key_get(st, id, &k);
	if (err == AJAR_ERR_NOT_FOUND)
		return AJAR_OK;
	if (err)
		return err;
	if (rec)
		*rec = k;
	if (crypto_verify_32(digest, k.digest) != 0)
		*verdict = KEY_UNKNOWN;
	else if (k.revoked != 0)
		*verdict = KEY_REVOKED;
	else if (k.expires != 0 && now >= k.expires)
		*verdict = KEY_EXPIRED;
	else
		*verdict = KEY_OK;
	return AJAR_OK;
}

enum ajar_err keys_revoke(struct store *st, const char *id, int64_t now)
{
	if (!id || !*id || strnlen(id, STORE_ID_MAX) == STORE_ID_MAX)
		return ajar_errf(AJAR_ERR_NOT_FOUND, "no key with id '%.*s'", STORE_ID_MAX - 1, id ? id : "");
	return store_key_revoke(st, id, now);
}

/*
 * The old key is revoked before the new one is made: a rotation is often
 * a reaction to a leak, and if making the replacement fails the leaked key
 * must be dead anyway (the error says so).
 */
enum ajar_err keys_rotate(struct store *st, const struct guard_secrets *sec, const char *id, int64_t now,
			  char *key_out, size_t cap, struct store_key *rec)
{
	struct store_key old;
	enum ajar_err err;

	if (key_out && cap > 0)
		key_out[0] = '\0';
	if (!id || !*id || strnlen(id, STORE_ID_MAX) == STORE_ID_MAX)
		return ajar_errf(AJAR_ERR_NOT_FOUND, "no key with id '%.*s'", STORE_ID_MAX - 1, id ? id : "");
	if (!key_out || cap < KEY_LEN + 1)
		return ajar_errf(AJAR_ERR_LIMIT, "key buffer of %zu bytes; a key needs %d", cap, KEY_LEN + 1);
	err = store_key_get(st, id, &old);
	if (err)
		return err;
	if (old.revoked != 0)
		return ajar_errf(AJAR_ERR_INVALID, "key %s is revoked and cannot be rotated", old.id);
	err = store_key_revoke(st, old.id, now);
	if (err)
		return err;
	err = keys_create(st, sec, old.tier, old.owner, old.expires, old.access_id, now, key_out, cap, rec);
	if (err)
		return ajar_err_wrap(err, "key %s was revoked but its replacement could not be made", old.id);
	return AJAR_OK;
}
