/*
 * commands.h - the ajar subcommands. Each returns the process exit status:
 * 0 success, 1 failure (one clear line on stderr), 2 usage error.
 */
#ifndef AJAR_CLI_COMMANDS_H
#define AJAR_CLI_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_import_llama2c(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_access(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_card(int argc, char **argv);
int cmd_moderate(int argc, char **argv);
int cmd_watermark(int argc, char **argv);
int cmd_provenance(int argc, char **argv);
int cmd_train_tokenizer(int argc, char **argv);
int cmd_train(int argc, char **argv);

/*
 * Shared by the admin commands (keys, access, audit), defined in
 * cmd_audit.c. Each prints its own one-line error ("ajar CMD: ...") and
 * returns NULL or false, so a command only has to exit 1.
 */
struct args;
struct audit;
struct guard_secrets;
struct store;

/* Opens the store at uri (NULL = store_default_uri()). Caller closes. */
struct store *admin_store_open(const struct args *a, const char *uri);
/* Loads the secrets beside st into *sec (creating them the first time) and
 * opens the audit chain writer with the signing key. Caller closes it and
 * wipes *sec. */
struct audit *admin_audit_open(const struct args *a, struct store *st, struct guard_secrets *sec);
/* Appends the row of an admin action: kind "admin", endpoint ("keys.revoke",
 * ...), the key acted on, its tier, outcome "ok", reason "by cli[: detail]". */
bool admin_audit_record(const struct args *a, struct audit *au, const char *endpoint, const char *key_id,
			const char *tier, const char *detail);
/* YYYY-MM-DD[THH:MM:SS[Z]] (UTC) as Unix seconds; false if malformed. */
bool cli_parse_iso_time(const char *s, int64_t *out);
/* The same or Unix seconds, for option opt; prints why on failure. */
bool cli_parse_time(const struct args *a, const char *opt, const char *s, int64_t *out);
/* Unix seconds as "YYYY-MM-DDTHH:MM:SSZ". */
void cli_format_time(int64_t t, char out[32]);
/* Prints v (stolen; NULL = out of memory) as JSON and a newline; 0 or 1. */
int cli_print_json(const struct args *a, json_t *v, size_t flags);

/* Watermark parameters from the policy at policy_path (NULL = built-in) and
 * its key from key_file, else the policy's watermark.key_file, else beside
 * the default store, as the server does (cmd_watermark.c); with create, a
 * missing key file is made. Prints its error; returns 0 or the exit status.
 * *out holds the key: wipe it after use. */
struct watermark_params;
int cli_watermark_params(const struct args *a, const char *policy_path, const char *key_file, bool create,
			 struct watermark_params *out, double *z_threshold);

#endif
