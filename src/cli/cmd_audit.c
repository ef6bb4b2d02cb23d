/*
 * cmd_audit.c - `ajar audit verify | export`: check the hash chain of the
 * audit log with the store's public key, and write its rows as JSON lines.
 *
 * It also holds what the admin commands (keys, access) share: opening the
 * store named by --store, opening the chain writer with the signing key
 * kept beside the store, appending the row of an admin action, and reading
 * a time given as Unix seconds or an ISO date. Each prints its own one-line
 * error, so a command only has to return 1.
 */
#include "cli/args.h"
#include "cli/commands.h"
#include "guard/audit.h"
#include "guard/secrets.h"
#include "store/store.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The last second of year 9999: ISO dates have four-digit years, and the
 * microseconds of any second up to it fit in int64. */
#define TIME_MAX 253402300799LL

/* ---- shared by the admin commands ---------------------------------------- */

struct store *admin_store_open(const struct args *a, const char *uri)
{
	char def[4096];
	struct store *st = NULL;

	if (!uri) {
		if (store_default_uri(def, sizeof(def))) {
			args_fail(a);
			return NULL;
		}
		uri = def;
	}
	if (sodium_init() < 0) {
		args_error(a, "libsodium failed to initialize");
		return NULL;
	}
	if (store_open(uri, &st)) {
		args_fail(a);
		return NULL;
	}
	return st;
}

struct audit *admin_audit_open(const struct args *a, struct store *st, struct guard_secrets *sec)
{
	struct audit *au = NULL;

	if (secrets_load(store_file(st), true, sec)) {
		args_fail(a);
		return NULL;
	}
	if (!sec->have_sk) {
		args_error(a, "%s.secret: the audit signing key is missing (only %s.pub could be read)", store_file(st),
			   store_file(st));
		return NULL;
	}
	if (audit_open(st, sec, &au)) {
		args_fail(a);
		return NULL;
	}
	return au;
}

/* Copies src into dst (cap bytes with the NUL), cutting at a character
 * boundary: a row's text must stay valid UTF-8 to be exported as JSON. */
static void copy_utf8(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

bool admin_audit_record(const struct args *a, struct audit *au, const char *endpoint, const char *key_id,
			const char *tier, const char *detail)
{
	struct store_audit_row row = { 0 };
	char reason[512];

	/* The same shape as the server's admin rows: who acted in the reason
	 * ("by cli: ..."), the key acted on in key_id. */
	snprintf(reason, sizeof(reason), "by cli%s%s", detail ? ": " : "", detail ? detail : "");
	copy_utf8(row.kind, sizeof(row.kind), "admin");
	copy_utf8(row.endpoint, sizeof(row.endpoint), endpoint);
	copy_utf8(row.key_id, sizeof(row.key_id), key_id ? key_id : "");
	copy_utf8(row.tier, sizeof(row.tier), tier ? tier : "");
	copy_utf8(row.outcome, sizeof(row.outcome), "ok");
	copy_utf8(row.reason, sizeof(row.reason), reason);
	if (audit_append(au, &row)) {
		args_error(a, "recording %s in the audit log: %s", endpoint, ajar_err_msg());
		return false;
	}
	return true;
}

/* n decimal digits at s into *out. */
static bool take_digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

bool cli_parse_iso_time(const char *s, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	size_t n = strlen(s);

	if (n < 10 || !take_digits(s, 4, &y) || s[4] != '-' || !take_digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !take_digits(s + 8, 2, &d))
		return false;
	if (n > 10) {
		if (n < 19 || s[10] != 'T' || !take_digits(s + 11, 2, &h) || s[13] != ':' ||
		    !take_digits(s + 14, 2, &mi) || s[16] != ':' || !take_digits(s + 17, 2, &sec))
			return false;
		if (!(n == 19 || (n == 20 && s[19] == 'Z')))
			return false;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return false;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return true;
}

bool cli_parse_time(const struct args *a, const char *opt, const char *s, int64_t *out)
{
	long long v;

	if (cli_parse_iso_time(s, out))
		return true;
	if (s[0] >= '0' && s[0] <= '9' && !strchr(s, '-')) {
		if (!args_int(a, opt, s, 0, TIME_MAX, &v))
			return false;
		*out = v;
		return true;
	}
	args_error(a, "%s: '%s' is neither Unix seconds nor a date YYYY-MM-DD[THH:MM:SS[Z]] (UTC)", opt, s);
	return false;
}

void cli_format_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "%lld", (long long)t);
}

int cli_print_json(const struct args *a, json_t *v, size_t flags)
{
	char *s = v ? json_dumps(v, flags) : NULL;
	json_decref(v);
	if (!s) {
		args_error(a, "out of memory printing JSON");
		return 1;
	}
	puts(s);
	free(s);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- ajar audit ---------------------------------------------------------- */

static const char audit_help[] =
	"usage: ajar audit verify [--store URI] [--json]\n"
	"       ajar audit export [--store URI] [--since T]\n"
	"  verify   check every row's hash, the links between rows and the signed head\n"
	"           with the public key beside the store (STORE.pub); exit 0 when the\n"
	"           chain is intact, 1 naming the first bad row\n"
	"  export   the rows as JSON lines on stdout, oldest first\n"
	"  --store URI   sqlite:PATH (default: $AJAR_DATA/ajar.db, see `ajar serve --help`)\n"
	"  --since T     only rows from T on: Unix seconds or YYYY-MM-DD[THH:MM:SS[Z]] (UTC)\n"
	"  --json        verify prints {\"ok\", \"rows\", \"bad_seq\", \"reason\"}\n";

/* The public key, or all zeros and *none set when the store has no key files
 * at all (a store nothing was ever audited in). */
static bool load_public_key(const struct args *a, struct store *st, uint8_t pk[32], bool *none)
{
	struct guard_secrets sec;

	*none = false;
	enum ajar_err err = secrets_load(store_file(st), false, &sec);
	if (err == AJAR_ERR_NOT_FOUND) {
		*none = true;
		memset(pk, 0, 32);
		return true;
	}
	if (err) {
		args_fail(a);
		return false;
	}
	memcpy(pk, sec.audit_pk, 32);
	secrets_wipe(&sec);
	return true;
}

static int audit_verify_cmd(const struct args *a, struct store *st, bool json)
{
	struct audit_verdict v = { 0 };
	struct store_audit_head head;
	uint8_t pk[32];
	bool no_keys;

	if (!load_public_key(a, st, pk, &no_keys))
		return 1;
	if (no_keys) {
		/* Without key files there may be no rows either; rows without a
		 * key to check them with are a failure, not a pass. */
		enum ajar_err err = store_audit_head_get(st, &head);
		if (err != AJAR_ERR_NOT_FOUND) {
			if (err)
				args_fail(a);
			else
				args_error(a, "%s.pub: missing, so the chain's signature cannot be checked", store_file(st));
			return 1;
		}
		v.ok = true;
	} else if (audit_verify(st, pk, &v)) {
		args_fail(a);
		return 1;
	}
	if (json) {
		json_t *o = json_pack("{s:b,s:I,s:I,s:s}", "ok", v.ok, "rows", (json_int_t)v.n_rows, "bad_seq",
				      (json_int_t)v.bad_seq, "reason", v.reason);
		if (cli_print_json(a, o, JSON_COMPACT))
			return 1;
	} else if (v.ok) {
		printf("audit chain ok: %lld rows verified\n", (long long)v.n_rows);
	}
	if (!v.ok) {
		char row[40];
		snprintf(row, sizeof(row), "row %lld", (long long)v.bad_seq);
		/* The reason usually names the row itself; say it once. */
		if (strstr(v.reason, row))
			args_error(a, "audit chain broken: %s (%lld rows checked)", v.reason, (long long)v.n_rows);
		else
			args_error(a, "audit chain broken at %s: %s (%lld rows checked)", row, v.reason,
				   (long long)v.n_rows);
		return 1;
	}
	return 0;
}

int cmd_audit(int argc, char **argv)
{
	struct args a;
	const char *sub = NULL, *uri = NULL, *v;
	int64_t since = 0;
	bool json = false, have_since = false;

	args_init(&a, "audit", argc, argv);
	while (a.i < a.argc) {
		if (args_flag(&a, "--help", "-h")) {
			fputs(audit_help, stdout);
			return 0;
		} else if (args_opt(&a, "--store", NULL, &v)) {
			uri = v;
		} else if (args_opt(&a, "--since", NULL, &v)) {
			if (!cli_parse_time(&a, "--since", v, &since))
				return 2;
			have_since = true;
		} else if (args_flag(&a, "--json", NULL)) {
			json = true;
		} else if (!sub && a.argv[a.i][0] != '-') {
			sub = a.argv[a.i++];
		} else {
			args_error(&a, "unexpected argument '%s' (see --help)", a.argv[a.i]);
			return 2;
		}
	}
	if (!sub || (strcmp(sub, "verify") != 0 && strcmp(sub, "export") != 0)) {
		if (sub)
			args_error(&a, "unknown subcommand '%s' (verify or export; see --help)", sub);
		else
			args_error(&a, "verify or export is required (see --help)");
		return 2;
	}
	if (have_since && strcmp(sub, "export") != 0) {
		args_error(&a, "--since applies to export only");
		return 2;
	}
	struct store *st = admin_store_open(&a, uri);
	if (!st)
		return 1;
	int rc = 0;
	if (strcmp(sub, "verify") == 0) {
		rc = audit_verify_cmd(&a, st, json);
	} else if (audit_export(st, since * 1000000, stdout) || fflush(stdout) != 0) {
		args_fail(&a);
		rc = 1;
	}
	store_close(st);
	return rc;
}
