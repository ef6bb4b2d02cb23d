/*
 * cmd_keys.c - `ajar keys create | list | revoke | rotate`: API keys in the
 * store, from the command line (src/guard/keys.h).
 *
 * A key string is printed once, when it is made (create, rotate), and is
 * never stored: only its keyed digest is. Every change is appended to the
 * audit chain as an admin row before the command reports success; if that
 * append fails, a key just made is revoked again, so no key exists that the
 * audit log does not know about.
 */
#include "cli/args.h"
#include "cli/commands.h"
#include "guard/audit.h"
#include "guard/keys.h"
#include "guard/policy.h"
#include "guard/secrets.h"
#include "store/store.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --expires in days: up to a hundred years, beyond which "never" is meant. */
#define EXPIRES_DAYS_MAX 36500

static const char keys_help[] =
	"usage: ajar keys create --tier T [--owner O] [--expires D] [--policy P] [--store URI] [--json]\n"
	"       ajar keys list [--store URI] [--json]\n"
	"       ajar keys revoke ID [--store URI] [--json]\n"
	"       ajar keys rotate ID [--store URI] [--json]\n"
	"  create   make a key for tier T (a tier of the policy) and print it once\n"
	"  list     every key: id, tier, owner, created, expires, status (never a secret)\n"
	"  revoke   revoke key ID at once (the server refuses it on its next request)\n"
	"  rotate   revoke key ID and make its replacement (same tier, owner, expiry)\n"
	"  --owner O      who the key is for (free text)\n"
	"  --expires D    a number of days (30d) or a date YYYY-MM-DD (UTC midnight)\n"
	"  --policy P     policy file naming the tiers (default: the built-in policy)\n"
	"  --store URI    sqlite:PATH (default: $AJAR_DATA/ajar.db, else ~/.local/share/ajar/ajar.db)\n"
	"  --json         machine-readable output\n"
	"Every change is appended to the audit log (see `ajar audit verify`).\n";

struct keys_opts {
	const char *sub, *id, *tier, *owner, *expires, *policy, *store;
	bool json;
};

static const char *key_status(const struct store_key *k, int64_t now)
{
	if (k->revoked)
		return "revoked";
	if (k->expires && k->expires <= now)
		return "expired";
	return "active";
}

/* "30d" or a date (or date and time) in the future; false after a message. */
static bool parse_expires(const struct args *a, const char *s, int64_t now, int64_t *out)
{
	size_t n = strlen(s);
	long long days;

	if (n >= 2 && s[n - 1] == 'd' && s[0] >= '0' && s[0] <= '9') {
		char num[24];
		if (n - 1 >= sizeof(num)) {
			args_error(a, "--expires: '%s' is too many days", s);
			return false;
		}
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		if (!args_int(a, "--expires", num, 1, EXPIRES_DAYS_MAX, &days))
			return false;
		*out = now + days * 86400;
		return true;
	}
	if (!cli_parse_iso_time(s, out)) {
		args_error(a, "--expires: '%s' is neither a number of days (30d) nor a date YYYY-MM-DD", s);
		return false;
	}
	if (*out <= now) {
		args_error(a, "--expires: %s is in the past", s);
		return false;
	}
	return true;
}

/* The tier names of p, comma-separated, for a message. */
static void tier_names(const struct policy *p, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < p->n_tiers && n < cap; i++) {
		int w = snprintf(out + n, cap - n, "%s%s", i ? ", " : "", p->tiers[i].name);
		n += w > 0 ? (size_t)w : 0;
	}
}

static json_t *key_json(const struct store_key *k, int64_t now)
{
	return json_pack("{s:s,s:s,s:s?,s:s?,s:I,s:o,s:o,s:s}", "id", k->id, "tier", k->tier, "owner",
			 k->owner[0] ? k->owner : NULL, "access_id", k->access_id[0] ? k->access_id : NULL, "created",
			 (json_int_t)k->created, "expires", k->expires ? json_integer(k->expires) : json_null(),
			 "revoked", k->revoked ? json_integer(k->revoked) : json_null(), "status", key_status(k, now));
}

/* A key just made: the string once, then its record. */
static int print_new_key(const struct args *a, const struct keys_opts *o, const char *key, const struct store_key *k,
			 const char *replaces)
{
	char when[32] = "never";

	if (o->json) {
		json_t *v = json_pack("{s:s,s:s,s:s,s:s?,s:o}", "id", k->id, "key", key, "tier", k->tier, "owner",
				      k->owner[0] ? k->owner : NULL, "expires",
				      k->expires ? json_integer(k->expires) : json_null());
		if (v && replaces && json_object_set_new(v, "replaces", json_string(replaces)) != 0) {
			json_decref(v);
			v = NULL;
		}
		return cli_print_json(a, v, 0);
	}
	if (k->expires)
		cli_format_time(k->expires, when);
	printf("key: %s (shown once; store it now)\nid: %s\ntier: %s\nowner: %s\nexpires: %s\n", key, k->id, k->tier,
	       k->owner, when);
	if (replaces)
		printf("replaces: %s (revoked)\n", replaces);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int keys_create_cmd(const struct args *a, const struct keys_opts *o, struct store *st, struct audit *au,
			   const struct guard_secrets *sec, int64_t expires)
{
	char key[KEY_STRING_MAX];
	struct store_key rec;
	int rc = 1;

	if (keys_create(st, sec, o->tier, o->owner, expires, NULL, time(NULL), key, sizeof(key), &rec)) {
		args_fail(a);
		return 1;
	}
	if (!admin_audit_record(a, au, "keys.create", rec.id, rec.tier, NULL)) {
		if (keys_revoke(st, rec.id, time(NULL)))
			args_error(a, "and revoking the unrecorded key %s failed: %s", rec.id, ajar_err_msg());
		goto out;
	}
	rc = print_new_key(a, o, key, &rec, NULL);
out:
	sodium_memzero(key, sizeof(key));
	return rc;
}

static int keys_list_cmd(const struct args *a, const struct keys_opts *o, struct store *st)
{
	struct store_key *k = NULL;
	size_t n = 0;
	int64_t now = time(NULL);
	int rc = 0;

	if (store_key_list(st, &k, &n)) {
		args_fail(a);
		return 1;
	}
	if (o->json) {
		json_t *arr = json_array();
		for (size_t i = 0; arr && i < n; i++)
			if (json_array_append_new(arr, key_json(&k[i], now)) != 0) {
				json_decref(arr);
				arr = NULL;
			}
		rc = cli_print_json(a, arr ? json_pack("{s:o}", "keys", arr) : NULL, 0);
	} else {
		if (n)
			printf("%-16s  %-12s  %-8s  %-20s  %-20s  %s\n", "ID", "TIER", "STATUS", "CREATED", "EXPIRES",
			       "OWNER");
		for (size_t i = 0; i < n; i++) {
			char created[32], expires[32] = "never";
			cli_format_time(k[i].created, created);
			if (k[i].expires)
				cli_format_time(k[i].expires, expires);
			printf("%-16s  %-12s  %-8s  %-20s  %-20s  %s\n", k[i].id, k[i].tier, key_status(&k[i], now),
			       created, expires, k[i].owner);
		}
		rc = fflush(stdout) == 0 ? 0 : 1;
	}
	free(k);
	return rc;
}

/* The key named on the command line, or a one-line "no key" message. */
static bool get_key(const struct args *a, struct store *st, const char *id, struct store_key *k)
{
	enum ajar_err err = store_key_get(st, id, k);
	if (err == AJAR_ERR_NOT_FOUND)
		args_error(a, "no key with id '%.64s' (see `ajar keys list`)", id);
	else if (err)
		args_fail(a);
	return err == AJAR_OK;
}

static int keys_revoke_cmd(const struct args *a, const struct keys_opts *o, struct store *st, struct audit *au)
{
	struct store_key k;
	bool was_revoked;

	if (!get_key(a, st, o->id, &k))
		return 1;
	/* Revoking twice changes nothing, so it is not recorded twice. */
	was_revoked = k.revoked != 0;
	if (!was_revoked) {
		/* Read back into k from a copy of the id: the read clears k first. */
		char id[STORE_ID_MAX];
		memcpy(id, k.id, sizeof(id));
		if (keys_revoke(st, id, time(NULL)) || store_key_get(st, id, &k)) {
			args_fail(a);
			return 1;
		}
		if (!admin_audit_record(a, au, "keys.revoke", k.id, k.tier, NULL))
			return 1;
	}
	if (o->json)
		return cli_print_json(a, key_json(&k, time(NULL)), 0);
	char when[32];
	cli_format_time(k.revoked, when);
	printf("%s key %s (tier %s) at %s\n", was_revoked ? "already revoked:" : "revoked", k.id, k.tier, when);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int keys_rotate_cmd(const struct args *a, const struct keys_opts *o, struct store *st, struct audit *au,
			   const struct guard_secrets *sec)
{
	char key[KEY_STRING_MAX], detail[96];
	struct store_key old, rec;
	int rc = 1;

	if (!get_key(a, st, o->id, &old))
		return 1;
	if (old.revoked) {
		args_error(a, "key %s is revoked; make a new one with `ajar keys create --tier %s`", old.id, old.tier);
		return 1;
	}
	if (keys_rotate(st, sec, old.id, time(NULL), key, sizeof(key), &rec)) {
		args_fail(a);
		return 1;
	}
	snprintf(detail, sizeof(detail), "replaced by %s", rec.id);
	if (!admin_audit_record(a, au, "keys.rotate", old.id, old.tier, detail)) {
		if (keys_revoke(st, rec.id, time(NULL)))
			args_error(a, "and revoking the unrecorded key %s failed: %s", rec.id, ajar_err_msg());
		goto out;
	}
	rc = print_new_key(a, o, key, &rec, old.id);
out:
	sodium_memzero(key, sizeof(key));
	return rc;
}

/* Parses argv into o; returns -1 to go on, else an exit status. */
static int parse_keys(struct args *a, struct keys_opts *o)
{
	const char *v;

	while (a->i < a->argc) {
		if (args_flag(a, "--help", "-h")) {
			fputs(keys_help, stdout);
			return 0;
		} else if (args_opt(a, "--tier", NULL, &v)) {
			o->tier = v;
		} else if (args_opt(a, "--owner", NULL, &v)) {
			o->owner = v;
		} else if (args_opt(a, "--expires", NULL, &v)) {
			o->expires = v;
		} else if (args_opt(a, "--policy", NULL, &v)) {
			o->policy = v;
		} else if (args_opt(a, "--store", NULL, &v)) {
			o->store = v;
		} else if (args_flag(a, "--json", NULL)) {
			o->json = true;
		} else if (a->argv[a->i][0] != '-' && (!o->sub || !o->id)) {
			*(o->sub ? &o->id : &o->sub) = a->argv[a->i++];
		} else {
			args_error(a, "unexpected argument '%s' (see --help)", a->argv[a->i]);
			return 2;
		}
	}
	if (!o->sub) {
		args_error(a, "create, list, revoke or rotate is required (see --help)");
		return 2;
	}
	bool create = strcmp(o->sub, "create") == 0, list = strcmp(o->sub, "list") == 0;
	if (!create && !list && strcmp(o->sub, "revoke") != 0 && strcmp(o->sub, "rotate") != 0) {
		args_error(a, "unknown subcommand '%s' (create, list, revoke or rotate)", o->sub);
		return 2;
	}
	if (create && !o->tier) {
		args_error(a, "create needs --tier T (see --help)");
		return 2;
	}
	if (!create && (o->tier || o->owner || o->expires || o->policy)) {
		args_error(a, "--tier, --owner, --expires and --policy apply to create only");
		return 2;
	}
	if ((create || list) == (o->id != NULL)) {
		args_error(a, o->id ? "%s takes no ID" : "%s needs a key ID (see `ajar keys list`)", o->sub);
		return 2;
	}
	return -1;
}

/* create: the tier must be one of the policy's. */
static bool check_tier(const struct args *a, const struct keys_opts *o)
{
	struct policy *p = NULL;
	char names[512];

	if (policy_load(o->policy, &p)) {
		args_fail(a);
		return false;
	}
	bool ok = policy_tier(p, o->tier) != NULL;
	if (!ok) {
		tier_names(p, names, sizeof(names));
		args_error(a, "unknown tier '%s' (the policy has: %s)", o->tier, names);
	}
	policy_free(p);
	return ok;
}

int cmd_keys(int argc, char **argv)
{
	struct args a;
	struct keys_opts o = { 0 };
	struct guard_secrets sec;
	struct audit *au = NULL;
	int64_t expires = 0;
	int rc;

	args_init(&a, "keys", argc, argv);
	if ((rc = parse_keys(&a, &o)) >= 0)
		return rc;
	if (o.expires && !parse_expires(&a, o.expires, time(NULL), &expires))
		return 2;
	if (o.tier && !check_tier(&a, &o))
		return 1;
	struct store *st = admin_store_open(&a, o.store);
	if (!st)
		return 1;
	if (strcmp(o.sub, "list") == 0) {
		rc = keys_list_cmd(&a, &o, st);
		store_close(st);
		return rc;
	}
	memset(&sec, 0, sizeof(sec));
	if (!(au = admin_audit_open(&a, st, &sec)))
		rc = 1;
	else if (strcmp(o.sub, "create") == 0)
		rc = keys_create_cmd(&a, &o, st, au, &sec, expires);
	else if (strcmp(o.sub, "revoke") == 0)
		rc = keys_revoke_cmd(&a, &o, st, au);
	else
		rc = keys_rotate_cmd(&a, &o, st, au, &sec);
	if (au)
		audit_close(au);
	secrets_wipe(&sec);
	store_close(st);
	return rc;
}
