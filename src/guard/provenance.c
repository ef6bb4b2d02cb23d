/*
 * provenance.c - the signed provenance record of a generated text
 * (provenance.h).
 *
 * Layout: the field table (name, kind) that both the canonical form and
 * the shape check walk, so the two can never disagree on order or
 * membership; the canonical text; signing; verifying.
 *
 * The canonical form is the signed fields as "name=value\n" lines in table
 * order. Values are refused if they hold a newline or a NUL: either would
 * let two different records share one canonical text (a response_id of
 * "x\nmodel_sha256=..." could pose as two fields), and a signature over an
 * ambiguous text proves nothing.
 */
#include "guard/provenance.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROV_VERSION 1
/* A response id or scheme id is tens of bytes; the cap bounds the
 * canonical text built from a file someone hands us. */
#define PROV_VALUE_MAX 1024
#define PROV_KEY_ID_HEX 16
#define PROV_SHA_HEX 64

enum prov_kind {
	PROV_INT,     /* JSON integer */
	PROV_STRING,  /* any string without newline or NUL */
	PROV_SHA256,  /* 64 lowercase hex digits */
	PROV_KEY_ID,  /* 16 lowercase hex digits */
};

/* The signed fields, in canonical order; "signature" is not among them. */
static const struct {
	const char *name;
	enum prov_kind kind;
} prov_fields[] = {
	{ "version", PROV_INT },
	{ "response_id", PROV_STRING },
	{ "model_sha256", PROV_SHA256 },
	{ "policy_sha256", PROV_SHA256 },
	{ "created", PROV_INT },
	{ "watermark", PROV_STRING },
	{ "text_sha256", PROV_SHA256 },
	{ "key_id", PROV_KEY_ID },
};
#define N_PROV_FIELDS (sizeof(prov_fields) / sizeof(prov_fields[0]))

static bool is_lower_hex(const char *s, size_t len, size_t want)
{
	if (len != want)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Checks one string value for its kind; AJAR_ERR_FORMAT names the field. */
static enum ajar_err check_string(const char *name, enum prov_kind kind, const char *s, size_t len)
{
	if (len > PROV_VALUE_MAX)
		return ajar_errf(AJAR_ERR_FORMAT, "provenance: %s is longer than %d bytes", name, PROV_VALUE_MAX);
	if (memchr(s, '\n', len) || memchr(s, '\0', len))
		return ajar_errf(AJAR_ERR_FORMAT, "provenance: %s holds a newline or NUL", name);
	if (kind == PROV_SHA256 && !is_lower_hex(s, len, PROV_SHA_HEX))
		return ajar_errf(AJAR_ERR_FORMAT, "provenance: %s is not 64 lowercase hex digits", name);
	if (kind == PROV_KEY_ID && !is_lower_hex(s, len, PROV_KEY_ID_HEX))
		return ajar_errf(AJAR_ERR_FORMAT, "provenance: %s is not 16 lowercase hex digits", name);
	return AJAR_OK;
}

/* Checks the signed fields of prov: each present with its kind, and
 * version 1. */
static enum ajar_err check_fields(json_t *prov)
{
	json_t *v;
	enum ajar_err err;

	if (!json_is_object(prov))
		return ajar_errf(AJAR_ERR_FORMAT, "provenance: not a JSON object");
	for (size_t i = 0; i < N_PROV_FIELDS; i++) {
		v = json_object_get(prov, prov_fields[i].name);
		if (!v)
			return ajar_errf(AJAR_ERR_FORMAT, "provenance: missing field '%s'", prov_fields[i].name);
		if (prov_fields[i].kind == PROV_INT) {
			if (!json_is_integer(v))
				return ajar_errf(AJAR_ERR_FORMAT, "provenance: %s is not an integer", prov_fields[i].name);
		} else if (!json_is_string(v)) {
			return ajar_errf(AJAR_ERR_FORMAT, "provenance: %s is not a string", prov_fields[i].name);
		} else if ((err = check_string(prov_fields[i].name, prov_fields[i].kind, json_string_value(v),
					       json_string_length(v)))) {
			return err;
		}
	}
	json_int_t ver = json_integer_value(json_object_get(prov, "version"));
	if (ver != PROV_VERSION)
		return ajar_errf(AJAR_ERR_FORMAT, "provenance: version %" JSON_INTEGER_FORMAT " is not supported (only %d)",
				 ver, PROV_VERSION);
	return AJAR_OK;
}

/* The whole record: the signed fields, a string signature, nothing else. */
static enum ajar_err check_shape(json_t *prov)
{
	const char *key;
	json_t *v;
	enum ajar_err err;

	if ((err = check_fields(prov)))
		return err;
	if (!json_is_string(json_object_get(prov, "signature")))
		return ajar_errf(AJAR_ERR_FORMAT, "provenance: missing field 'signature' (a base64 string)");
	/* Unsigned extra fields would read as vouched for when they are not. */
	json_object_foreach(prov, key, v) {
		bool known = strcmp(key, "signature") == 0;
		for (size_t i = 0; i < N_PROV_FIELDS && !known; i++)
			known = strcmp(key, prov_fields[i].name) == 0;
		if (!known)
			return ajar_errf(AJAR_ERR_FORMAT, "provenance: unknown field '%s' (not covered by the signature)",
					 key);
	}
	return AJAR_OK;
}

/*
 * The canonical text of a prov object whose shape has been checked (or
 * that provenance_sign built): malloc'd, *len bytes, caller frees. NULL
 * when out of memory.
 */
static char *canonical_text(json_t *prov, size_t *len)
{
	size_t cap = 0, n = 0;
	char num[32];

	for (size_t i = 0; i < N_PROV_FIELDS; i++)
		cap += strlen(prov_fields[i].name) + 2 + PROV_VALUE_MAX;
	char *buf = malloc(cap + 1);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < N_PROV_FIELDS; i++) {
		json_t *v = json_object_get(prov, prov_fields[i].name);
		const char *val = num;
		size_t vlen;
		if (prov_fields[i].kind == PROV_INT) {
			int w = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			vlen = (size_t)w;
		} else {
			val = json_string_value(v);
			vlen = json_string_length(v);
		}
		size_t nlen = strlen(prov_fields[i].name);
		memcpy(buf + n, prov_fields[i].name, nlen);
		buf[n + nlen] = '=';
		memcpy(buf + n + nlen + 1, val, vlen);
		buf[n + nlen + 1 + vlen] = '\n';
		n += nlen + vlen + 2;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* First 16 hex digits of SHA-256(pk), NUL-terminated. */
static void key_id_of(const uint8_t pk[32], char out[PROV_KEY_ID_HEX + 1])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];

	crypto_hash_sha256(h, pk, 32);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	memcpy(out, hex, PROV_KEY_ID_HEX);
	out[PROV_KEY_ID_HEX] = '\0';
}

static void sha256_hex(const char *text, size_t len, char out[PROV_SHA_HEX + 1])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)(text ? text : ""), text ? len : 0);
	sodium_bin2hex(out, PROV_SHA_HEX + 1, h, sizeof(h));
}

/* The unsigned record of f; NULL when out of memory. */
static json_t *record_of(const struct provenance_fields *f, const uint8_t pk[32])
{
	char text_hex[PROV_SHA_HEX + 1], key_id[PROV_KEY_ID_HEX + 1];
	json_t *o = json_object();

	sha256_hex(f->text, f->text_len, text_hex);
	key_id_of(pk, key_id);
	if (!o || json_object_set_new(o, "version", json_integer(PROV_VERSION)) ||
	    json_object_set_new(o, "response_id", json_string(f->response_id ? f->response_id : "")) ||
	    json_object_set_new(o, "model_sha256", json_string(f->model_sha256 ? f->model_sha256 : "")) ||
	    json_object_set_new(o, "policy_sha256", json_string(f->policy_sha256 ? f->policy_sha256 : "")) ||
	    json_object_set_new(o, "created", json_integer(f->created)) ||
	    json_object_set_new(o, "watermark", json_string(f->watermark ? f->watermark : "none")) ||
	    json_object_set_new(o, "text_sha256", json_string(text_hex)) ||
	    json_object_set_new(o, "key_id", json_string(key_id))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *provenance_sign(const struct provenance_fields *f, const uint8_t sk[64], const uint8_t pk[32])
{
	uint8_t sig[crypto_sign_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	char *canon = NULL;
	size_t n_canon;

	if (sodium_init() < 0)
		return NULL;
	json_t *o = record_of(f, pk);
	/* A malformed field (a newline in the response id, a model digest
	 * that is not hex) would make a record no verifier accepts. */
	if (!o || check_fields(o) != AJAR_OK || !(canon = canonical_text(o, &n_canon)))
		goto fail;
	crypto_sign_detached(sig, NULL, (const unsigned char *)canon, n_canon, sk);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	if (json_object_set_new(o, "signature", json_string(b64)))
		goto fail;
	free(canon);
	return o;
fail:
	free(canon);
	json_decref(o);
	return NULL;
}

enum ajar_err provenance_verify(json_t *prov, const char *text, size_t text_len, const uint8_t pk[32])
{
	uint8_t sig[crypto_sign_BYTES];
	char key_id[PROV_KEY_ID_HEX + 1], text_hex[PROV_SHA_HEX + 1];
	const char *b64_end = NULL;
	size_t n_sig = 0, n_canon;
	enum ajar_err err;

	if ((err = check_shape(prov)))
		return err;
	if (sodium_init() < 0)
		return ajar_errf(AJAR_ERR_INVALID, "libsodium failed to initialize");
	const char *b64 = json_string_value(json_object_get(prov, "signature"));
	size_t n_b64 = json_string_length(json_object_get(prov, "signature"));
	if (sodium_base642bin(sig, sizeof(sig), b64, n_b64, NULL, &n_sig, &b64_end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n_sig != sizeof(sig) || b64_end != b64 + n_b64)
		return ajar_errf(AJAR_ERR_FORMAT, "provenance: signature is not %zu bytes of base64", sizeof(sig));

	/* Key first: with another key the signature fails too, but "not this
	 * key's" tells the user what to fix. Then the signature, which covers
	 * text_sha256, and only then the text against that digest. */
	key_id_of(pk, key_id);
	if (strcmp(json_string_value(json_object_get(prov, "key_id")), key_id) != 0)
		return ajar_errf(AJAR_ERR_INVALID, "key_id is not this key's (record %s, key %s)",
				 json_string_value(json_object_get(prov, "key_id")), key_id);
	char *canon = canonical_text(prov, &n_canon);
	if (!canon)
		return ajar_errf(AJAR_ERR_NOMEM, "provenance: canonical text");
	int bad = crypto_sign_verify_detached(sig, (const unsigned char *)canon, n_canon, pk);
	free(canon);
	if (bad)
		return ajar_errf(AJAR_ERR_INVALID, "signature does not verify");
	sha256_hex(text, text_len, text_hex);
	if (strcmp(json_string_value(json_object_get(prov, "text_sha256")), text_hex) != 0)
		return ajar_errf(AJAR_ERR_INVALID, "text_sha256 does not match the text");
	return AJAR_OK;
}
