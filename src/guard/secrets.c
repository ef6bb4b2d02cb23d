/*
 * secrets.c - the server's own secrets in DB.secret and DB.pub (secrets.h).
 *
 * Loading: DB.secret is read (refused if group or others have any
 * permission on it), parsed and checked: the Ed25519 secret key is the
 * 32-byte seed followed by the public key, and the public key derived from
 * the seed must equal both that half and DB.pub's, so an edited file is
 * FORMAT rather than a server that signs with one key and publishes
 * another.
 *
 * Creating: a fresh DB.secret is written to a temporary file (0600),
 * fsync'd and then link()ed to its name: link, unlike rename, fails when
 * the name exists, so two processes starting on a new store at once (the
 * server and a CLI command) cannot each install different keys; the loser
 * reads the winner's file. DB.pub is derived from DB.secret, so it is
 * (re)written with rename whenever it is missing. A DB.pub without a
 * DB.secret is never "repaired" by making new keys: that would orphan the
 * existing audit chain's signature and every API key, so it is refused.
 *
 * Secret text is formatted by hand into stack buffers (not json_dumps) so
 * every copy can be wiped; jansson's parsed copies are wiped in place.
 */
#include "guard/secrets.h"
#include "core/small_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Both files are a few hundred bytes; anything past this is not ours. */
#define SECRETS_FILE_MAX 4096

/* path + suffix into out, LIMIT if it does not fit. */
static enum ajar_err path_with_suffix(const char *path, const char *suffix, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%s", path, suffix);
	if (n < 0 || (size_t)n >= cap)
		return ajar_errf(AJAR_ERR_LIMIT, "%s%s: path too long", path, suffix);
	return AJAR_OK;
}

/* Decodes the object member name of root, exactly n bytes as hex, into out. */
static enum ajar_err hex_member(json_t *root, const char *name, uint8_t *out, size_t n, const char *path)
{
	json_t *v = json_object_get(root, name);
	if (!json_is_string(v))
		return ajar_errf(AJAR_ERR_FORMAT, "%s: \"%s\" missing or not a string", path, name);
	char *hex = (char *)json_string_value(v); /* wiped in place below: it is secret */
	size_t hex_len = json_string_length(v);
	size_t got = 0;
	int rc = -1;
	if (hex_len == 2 * n)
		rc = sodium_hex2bin(out, n, hex, hex_len, NULL, &got, NULL);
	sodium_memzero(hex, hex_len);
	if (rc != 0 || got != n)
		return ajar_errf(AJAR_ERR_FORMAT, "%s: \"%s\" must be %zu hex digits", path, name, 2 * n);
	return AJAR_OK;
}

/* Parses the JSON text of DB.secret into s. text is wiped by the caller. */
static enum ajar_err parse_secret(const char *path, const char *text, size_t len, struct guard_secrets *s)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	enum ajar_err err;

	if (!json_is_object(root)) {
		err = ajar_errf(AJAR_ERR_FORMAT, "%s: not a JSON object (%s)", path, root ? "wrong type" : jerr.text);
		goto out;
	}
	err = hex_member(root, "digest_key", s->digest_key, sizeof(s->digest_key), path);
	if (!err)
		err = hex_member(root, "audit_sk", s->audit_sk, sizeof(s->audit_sk), path);
	if (err)
		goto out;

	/* The secret key is seed || public key; both halves must agree. */
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	crypto_sign_seed_keypair(pk, sk, s->audit_sk);
	int same = sodium_memcmp(sk, s->audit_sk, sizeof(sk));
	sodium_memzero(sk, sizeof(sk));
	if (same != 0) {
		err = ajar_errf(AJAR_ERR_FORMAT, "%s: \"audit_sk\" is not a valid Ed25519 key (its halves disagree)",
				path);
		goto out;
	}
	memcpy(s->audit_pk, pk, sizeof(pk));
	s->have_sk = true;
out:
	json_decref(root);
	return err;
}

static enum ajar_err parse_pub(const char *path, const char *text, size_t len, uint8_t pk[32])
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	enum ajar_err err;

	if (!json_is_object(root))
		err = ajar_errf(AJAR_ERR_FORMAT, "%s: not a JSON object (%s)", path, root ? "wrong type" : jerr.text);
	else
		err = hex_member(root, "audit_pk", pk, 32, path);
	json_decref(root);
	return err;
}

/*
 * Makes DB.secret with fresh keys unless it exists. Losing the race to
 * another process is fine: its file is then the one loaded.
 */
static enum ajar_err create_secret(const char *path)
{
	uint8_t digest_key[32], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char dhex[2 * sizeof(digest_key) + 1], shex[2 * sizeof(sk) + 1];
	char text[256];
	enum ajar_err err;

	randombytes_buf(digest_key, sizeof(digest_key));
	crypto_sign_keypair(pk, sk);
	sodium_bin2hex(dhex, sizeof(dhex), digest_key, sizeof(digest_key));
	sodium_bin2hex(shex, sizeof(shex), sk, sizeof(sk));
	int n = snprintf(text, sizeof(text), "{\"digest_key\": \"%s\", \"audit_sk\": \"%s\"}\n", dhex, shex);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		err = ajar_errf(AJAR_ERR_LIMIT, "%s: secret text too long", path);
		goto out;
	}
	/* Exclusive: losing the race to another process keeps its file. */
	err = small_file_write(path, text, (size_t)n, 0600, true, NULL);
out:
	sodium_memzero(digest_key, sizeof(digest_key));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(dhex, sizeof(dhex));
	sodium_memzero(shex, sizeof(shex));
	sodium_memzero(text, sizeof(text));
	return err;
}

/* (Re)writes DB.pub for pk: derived data, so a plain atomic rename. */
static enum ajar_err create_pub(const char *path, const uint8_t pk[32])
{
	char hex[65], text[128];

	sodium_bin2hex(hex, sizeof(hex), pk, 32);
	int n = snprintf(text, sizeof(text), "{\"audit_pk\": \"%s\"}\n", hex);
	if (n < 0 || (size_t)n >= sizeof(text))
		return ajar_errf(AJAR_ERR_LIMIT, "%s: text too long", path);
	return small_file_write(path, text, (size_t)n, 0644, false, NULL);
}

/* Loads DB.secret into out (have_sk set); NOT_FOUND if it is missing. */
static enum ajar_err load_secret(const char *path, struct guard_secrets *out)
{
	char text[SECRETS_FILE_MAX];
	size_t len = 0;
	enum ajar_err err = small_file_read(path, true, text, sizeof(text), &len);
	if (!err)
		err = parse_secret(path, text, len, out);
	sodium_memzero(text, sizeof(text));
	return err;
}

/* Loads DB.pub's key into pk; NOT_FOUND if it is missing. */
static enum ajar_err load_pub(const char *path, uint8_t pk[32])
{
	char text[SECRETS_FILE_MAX];
	size_t len = 0;
	enum ajar_err err = small_file_read(path, false, text, sizeof(text), &len);
	if (!err)
		err = parse_pub(path, text, len, pk);
	return err;
}

enum ajar_err secrets_load(const char *db_path, bool create, struct guard_secrets *out)
{
	char secret_path[PATH_MAX], pub_path[PATH_MAX];
	uint8_t pk[32];
	enum ajar_err err;

	memset(out, 0, sizeof(*out));
	if (sodium_init() < 0)
		return ajar_errf(AJAR_ERR_IO, "libsodium failed to initialize");
	if (!db_path || !*db_path)
		return ajar_errf(AJAR_ERR_INVALID, "secrets: the store has no file to keep them beside");
	err = path_with_suffix(db_path, ".secret", secret_path, sizeof(secret_path));
	if (!err)
		err = path_with_suffix(db_path, ".pub", pub_path, sizeof(pub_path));
	if (err)
		return err;

	err = load_secret(secret_path, out);
	if (err == AJAR_ERR_NOT_FOUND) {
		enum ajar_err pub_err = load_pub(pub_path, pk);
		if (pub_err == AJAR_OK && !create) {
			memcpy(out->audit_pk, pk, sizeof(pk));
			return AJAR_OK; /* enough to verify the audit chain */
		}
		if (pub_err == AJAR_OK)
			return ajar_errf(AJAR_ERR_NOT_FOUND,
					 "%s is missing but %s exists: the signing and digest keys were lost or moved; "
					 "restore %s (new keys would void every API key and the audit chain's signature)",
					 secret_path, pub_path, secret_path);
		if (pub_err != AJAR_ERR_NOT_FOUND)
			return pub_err;
		if (!create)
			return ajar_errf(AJAR_ERR_NOT_FOUND, "%s: no such file (nor %s)", secret_path, pub_path);
		err = create_secret(secret_path);
		if (!err)
			err = load_secret(secret_path, out);
	}
	if (err)
		goto fail;

	err = load_pub(pub_path, pk);
	if (err == AJAR_ERR_NOT_FOUND && create)
		err = create_pub(pub_path, out->audit_pk);
	else if (!err && sodium_memcmp(pk, out->audit_pk, sizeof(pk)) != 0)
		err = ajar_errf(AJAR_ERR_FORMAT, "%s: \"audit_pk\" does not match the key in %s", pub_path, secret_path);
	else if (err == AJAR_ERR_NOT_FOUND)
		err = AJAR_OK; /* the public key is derived from the secret one anyway */
	if (err)
		goto fail;
	return AJAR_OK;
fail:
	secrets_wipe(out);
	return err;
}

void secrets_digest(const struct guard_secrets *s, const char *secret, size_t len, uint8_t out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)secret, len, s->digest_key, sizeof(s->digest_key));
}

void secrets_wipe(struct guard_secrets *s)
{
	sodium_memzero(s, sizeof(*s));
}
