/*
 * cmd_access.c - `ajar access list | show | approve | deny`: reviewing the
 * access requests applicants sent to POST /v1/access/requests
 * (src/guard/access.h).
 *
 * Approving makes no key: the applicant retrieves it once with the status
 * token they hold, so no key secret ever passes through this command. Each
 * decision is appended to the audit chain ("access.approve",
 * "access.deny", reason "by cli: ID ...").
 */
#include "cli/args.h"
#include "cli/commands.h"
#include "guard/access.h"
#include "guard/audit.h"
#include "guard/policy.h"
#include "guard/secrets.h"
#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char access_help[] =
	"usage: ajar access list [--status pending|approved|denied|all] [--store URI] [--json]\n"
	"       ajar access show ID [--store URI] [--json]\n"
	"       ajar access approve ID [--tier T] [--policy P] [--store URI] [--json]\n"
	"       ajar access deny ID --reason R [--store URI] [--json]\n"
	"  list      requests with the given status (default all), oldest first\n"
	"  show      one request in full\n"
	"  approve   grant a pending request, with the tier asked for or --tier T; the\n"
	"            applicant then retrieves their key once with their status token\n"
	"  deny      refuse a pending request; the reason is shown to the applicant\n"
	"  --policy P    policy file naming the tiers (default: the built-in policy)\n"
	"  --store URI   sqlite:PATH (default: $AJAR_DATA/ajar.db, else ~/.local/share/ajar/ajar.db)\n"
	"  --json        machine-readable output\n"
	"Decisions are appended to the audit log (see `ajar audit verify`).\n";

struct access_opts {
	const char *sub, *id, *status, *tier, *reason, *policy, *store;
	bool json;
};

static int print_access(const struct args *a, const struct access_opts *o, const struct store_access *r)
{
	json_t *v = access_json(r);
	const char *k;
	json_t *m;

	if (o->json || !v)
		return cli_print_json(a, v, 0);
	/* One "member: value" line each; values printed as JSON text except
	 * strings, which are printed as they are. */
	json_object_foreach(v, k, m) {
		if (json_is_string(m)) {
			printf("%s: %s\n", k, json_string_value(m));
		} else {
			char *s = json_dumps(m, JSON_ENCODE_ANY | JSON_COMPACT);
			printf("%s: %s\n", k, s ? s : "?");
			free(s);
		}
	}
	json_decref(v);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int access_list_cmd(const struct args *a, const struct access_opts *o, struct store *st, int status)
{
	struct store_access *r = NULL;
	size_t n = 0;
	int rc;

	if (store_access_list(st, status, &r, &n)) {
		args_fail(a);
		return 1;
	}
	if (o->json) {
		json_t *arr = json_array();
		for (size_t i = 0; arr && i < n; i++)
			if (json_array_append_new(arr, access_json(&r[i])) != 0) {
				json_decref(arr);
				arr = NULL;
			}
		rc = cli_print_json(a, arr ? json_pack("{s:o}", "requests", arr) : NULL, 0);
	} else {
		if (n)
			printf("%-16s  %-8s  %-12s  %-20s  %-24s  %s\n", "ID", "STATUS", "TIER", "CREATED", "NAME", "EMAIL");
		for (size_t i = 0; i < n; i++) {
			char created[32];
			cli_format_time(r[i].created, created);
			printf("%-16s  %-8s  %-12s  %-20s  %-24s  %s\n", r[i].id, access_status_name(r[i].status),
			       r[i].status == STORE_ACCESS_APPROVED ? r[i].granted_tier : r[i].tier, created, r[i].name,
			       r[i].email);
		}
		rc = fflush(stdout) == 0 ? 0 : 1;
	}
	free(r);
	return rc;
}

/* An error from the access module, with NOT_FOUND said plainly. */
static void access_fail(const struct args *a, enum ajar_err err, const char *id)
{
	if (err == AJAR_ERR_NOT_FOUND)
		args_error(a, "no access request with id '%.64s' (see `ajar access list`)", id);
	else
		args_fail(a);
}

static int access_decide_cmd(const struct args *a, const struct access_opts *o, struct store *st)
{
	struct guard_secrets sec;
	struct store_access r;
	struct policy *p = NULL;
	struct audit *au = NULL;
	char detail[STORE_ID_MAX + STORE_NAME_MAX + 16];
	enum ajar_err err;
	int rc = 1;
	bool approve = strcmp(o->sub, "approve") == 0;

	memset(&sec, 0, sizeof(sec));
	if (approve && policy_load(o->policy, &p)) {
		args_fail(a);
		return 1;
	}
	/* The chain writer first: a decision that could not be audited is not
	 * made at all. */
	if (!(au = admin_audit_open(a, st, &sec)))
		goto out;
	if (approve)
		err = access_approve(st, p, o->id, o->tier, "cli", time(NULL), &r);
	else
		err = access_deny(st, o->id, o->reason, "cli", time(NULL), &r);
	if (err) {
		access_fail(a, err, o->id);
		goto out;
	}
	if (approve)
		snprintf(detail, sizeof(detail), "%s", r.id);
	else
		snprintf(detail, sizeof(detail), "%s: %s", r.id, r.reason);
	if (!admin_audit_record(a, au, approve ? "access.approve" : "access.deny", "",
				approve ? r.granted_tier : r.tier, detail))
		goto out;
	if (o->json)
		rc = print_access(a, o, &r);
	else if (approve)
		rc = printf("approved %s as tier %s (the applicant retrieves the key with their status token)\n", r.id,
			    r.granted_tier) < 0;
	else
		rc = printf("denied %s: %s\n", r.id, r.reason) < 0;
out:
	if (au)
		audit_close(au);
	secrets_wipe(&sec);
	if (p)
		policy_free(p);
	return rc;
}

/* Parses argv into o; returns -1 to go on, else an exit status. */
static int parse_access(struct args *a, struct access_opts *o)
{
	const char *v;

	while (a->i < a->argc) {
		if (args_flag(a, "--help", "-h")) {
			fputs(access_help, stdout);
			return 0;
		} else if (args_opt(a, "--status", NULL, &v)) {
			o->status = v;
		} else if (args_opt(a, "--tier", NULL, &v)) {
			o->tier = v;
		} else if (args_opt(a, "--reason", NULL, &v)) {
			o->reason = v;
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
		args_error(a, "list, show, approve or deny is required (see --help)");
		return 2;
	}
	bool list = strcmp(o->sub, "list") == 0, approve = strcmp(o->sub, "approve") == 0,
	     deny = strcmp(o->sub, "deny") == 0;
	if (!list && !approve && !deny && strcmp(o->sub, "show") != 0) {
		args_error(a, "unknown subcommand '%s' (list, show, approve or deny)", o->sub);
		return 2;
	}
	if (list == (o->id != NULL)) {
		if (list)
			args_error(a, "list takes no ID");
		else
			args_error(a, "%s needs a request ID (see `ajar access list`)", o->sub);
		return 2;
	}
	if ((o->status && !list) || ((o->tier || o->policy) && !approve) || (o->reason && !deny)) {
		args_error(a, "--status is for list, --tier and --policy for approve, --reason for deny");
		return 2;
	}
	if (deny && (!o->reason || !o->reason[0])) {
		args_error(a, "deny needs --reason R (the applicant is told it)");
		return 2;
	}
	return -1;
}

int cmd_access(int argc, char **argv)
{
	struct args a;
	struct access_opts o = { 0 };
	struct store_access r;
	int status = -1, rc;

	args_init(&a, "access", argc, argv);
	if ((rc = parse_access(&a, &o)) >= 0)
		return rc;
	if (o.status) {
		static const char *const names[] = { "pending", "approved", "denied" };
		status = -2;
		for (int i = 0; i < 3; i++)
			if (strcmp(o.status, names[i]) == 0)
				status = i;
		if (strcmp(o.status, "all") == 0)
			status = -1;
		if (status == -2) {
			args_error(&a, "--status: '%s' is not pending, approved, denied or all", o.status);
			return 2;
		}
	}
	struct store *st = admin_store_open(&a, o.store);
	if (!st)
		return 1;
	if (strcmp(o.sub, "list") == 0) {
		rc = access_list_cmd(&a, &o, st, status);
	} else if (strcmp(o.sub, "show") == 0) {
		enum ajar_err err = store_access_get(st, o.id, &r);
		if (err)
			access_fail(&a, err, o.id);
		rc = err ? 1 : print_access(&a, &o, &r);
	} else {
		rc = access_decide_cmd(&a, &o, st);
	}
	store_close(st);
	return rc;
}
