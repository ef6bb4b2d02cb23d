/*
 * fuzz_guard.c - libFuzzer target for the two guard parsers that read
 * outside text: the policy file (policy_parse) and the body of a public
 * access request (POST /v1/access/requests -> access_submit, against an
 * in-memory SQLite store and the built-in default policy).
 *
 * The first byte picks the parser; the rest is the input. A policy that
 * loads must give a public JSON whose watermark names no key file; an access request
 * that is accepted must read back from the store unchanged and pass its own
 * token check, and a refused object must name a field. Any crash, leak or
 * sanitizer report fails.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/access.h"
#include "guard/policy.h"
#include "guard/secrets.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *store;
static struct policy *policy;
static struct guard_secrets secrets;

static void setup_once(void)
{
	if (store)
		return;
	if (sodium_init() < 0 || store_open("sqlite::memory:", &store) || policy_load(NULL, &policy))
		__builtin_trap();
	randombytes_buf(secrets.digest_key, sizeof(secrets.digest_key));
	secrets.have_sk = true;
}

static void fuzz_policy(const char *text, size_t len)
{
	struct policy *p = NULL;
	if (policy_parse(text, len, "fuzz", NULL, &p))
		return;
	json_t *pub = policy_public_json(p);
	if (!pub)
		__builtin_trap();
	/* The watermark's parameters are public, its key file never. */
	json_t *wm = json_object_get(pub, "watermark");
	if (wm && json_object_get(wm, "key_file"))
		__builtin_trap();
	json_decref(pub);
	policy_free(p);
}

static void fuzz_access(const char *text, size_t len)
{
	struct store_access rec, back;
	char token[ACCESS_TOKEN_MAX], param[64] = "";
	json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!body)
		return;
	bool is_object = json_is_object(body);
	enum ajar_err err = access_submit(store, &secrets, policy, body, 1700000000, &rec, token, sizeof(token), param,
					  sizeof(param));
	json_decref(body);
	if (err == AJAR_ERR_INVALID || err == AJAR_ERR_LIMIT) {
		if (is_object && !param[0])
			__builtin_trap(); /* a refusal of an object names its field */
		return;
	}
	if (err)
		__builtin_trap();
	if (access_check_token(store, &secrets, rec.id, token, &back) || strcmp(back.email, rec.email) != 0 ||
	    strcmp(back.intended_use, rec.intended_use) != 0)
		__builtin_trap();
	json_t *j = access_json(&back);
	if (!j)
		__builtin_trap();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup_once();
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	if (data[0] & 1)
		fuzz_policy(text, size - 1);
	else
		fuzz_access(text, size - 1);
	return 0;
}
