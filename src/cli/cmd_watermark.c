/*
 * cmd_watermark.c - `ajar watermark detect`: scores a text for the green-list
 * watermark (watermark.h) with the key and parameters the server uses, and
 * prints the same object as POST /v1/watermark/detect.
 *
 * Also the set-up shared with `ajar run --watermark` (cli_watermark_params):
 * parameters from the policy, the key from --key-file, else the policy's
 * watermark.key_file, else "<store file>.watermark" beside the default store,
 * where the server keeps it.
 */
#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "ajar/watermark.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "guard/policy.h"
#include "store/store.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The detector reads a text, not a corpus: 16 MiB is the tokenizer's own cap. */
#define DETECT_TEXT_MAX ((size_t)16 << 20)

/* The default detector cut-off when the policy gives none: z >= 4, a
 * one-sided p-value of about 3e-5. */
#define DEFAULT_Z_THRESHOLD 4.0

static const char detect_help[] =
	"usage: ajar watermark detect [--key-file F] [--policy P] [--json] -m MODEL FILE\n"
	"  Scores FILE ('-' = stdin) for ajar's watermark: the text is tokenized with MODEL's\n"
	"  vocabulary (no BOS) and each distinct (context, token) pair is tested against the\n"
	"  keyed green list. Prints z-score, p-value, tokens scored, green fraction and the\n"
	"  verdict at the policy's threshold (default z >= 4).\n"
	"  -m, --model PATH     GGUF model whose tokenizer made the text\n"
	"      --key-file F     watermark key (default: the policy's watermark.key_file, else\n"
	"                       <store file>.watermark beside the default store, as the server)\n"
	"      --policy P       policy file with the watermark parameters (default: built-in)\n"
	"      --json           print {\"z_score\",\"p_value\",\"tokens_scored\",\"green_fraction\",\"detected\"}\n";

/* "<default store file>.watermark": where the server keeps its key. */
static enum ajar_err default_key_path(char *out, size_t cap)
{
	char uri[PATH_MAX];
	enum ajar_err err = store_default_uri(uri, sizeof(uri));
	if (err)
		return err;
	const char *file = strncmp(uri, "sqlite:", 7) == 0 ? uri + 7 : uri;
	int n = snprintf(out, cap, "%s.watermark", file);
	if (n < 0 || (size_t)n >= cap)
		return ajar_errf(AJAR_ERR_LIMIT, "%s.watermark: path too long", file);
	return AJAR_OK;
}

int cli_watermark_params(const struct args *a, const char *policy_path, const char *key_file, bool create,
			 struct watermark_params *out, double *z_threshold)
{
	struct policy *pol = NULL;
	char path[PATH_MAX];
	enum ajar_err err;

	*out = watermark_params_default();
	if (policy_load(policy_path, &pol)) {
		args_fail(a);
		return 1;
	}
	out->gamma = pol->watermark_gamma;
	out->delta = pol->watermark_delta;
	out->context = pol->watermark_context;
	out->hash = pol->watermark_hash == 1 ? WATERMARK_SELF_HASH : WATERMARK_LEFT_HASH;
	/* 0 is "not given" in a policy that predates the threshold field. */
	*z_threshold = pol->watermark_z_threshold > 0 ? pol->watermark_z_threshold : DEFAULT_Z_THRESHOLD;
	if (key_file)
		err = snprintf(path, sizeof(path), "%s", key_file) < (int)sizeof(path)
			      ? AJAR_OK
			      : ajar_errf(AJAR_ERR_LIMIT, "--key-file: path too long");
	else if (pol->watermark_key_file)
		err = snprintf(path, sizeof(path), "%s", pol->watermark_key_file) < (int)sizeof(path)
			      ? AJAR_OK
			      : ajar_errf(AJAR_ERR_LIMIT, "watermark.key_file: path too long");
	else
		err = default_key_path(path, sizeof(path));
	policy_free(pol);
	if (!err)
		err = watermark_key_load(path, create, out->key);
	if (err == AJAR_ERR_NOT_FOUND)
		ajar_errf(AJAR_ERR_NOT_FOUND, "%s: no watermark key there (the server makes it on first start; "
			  "name another with --key-file)", path);
	if (err) {
		args_fail(a);
		return 1;
	}
	return 0;
}

/* The detector's answer, the same object as the HTTP endpoint's. */
static int print_score(const struct args *a, const struct watermark_score *s, bool json, double z_threshold)
{
	if (!json) {
		printf("%s: z = %.3f (p = %.3g) over %zu tokens, %.1f%% green (threshold z >= %g)\n",
		       s->detected ? "watermarked" : "not watermarked", s->z_score, s->p_value, s->tokens_scored,
		       100.0 * s->green_fraction, z_threshold);
		return 0;
	}
	json_t *o = json_object();
	if (o) {
		json_object_set_new(o, "z_score", json_real(s->z_score));
		json_object_set_new(o, "p_value", json_real(s->p_value));
		json_object_set_new(o, "tokens_scored", json_integer((json_int_t)s->tokens_scored));
		json_object_set_new(o, "green_fraction", json_real(s->green_fraction));
		json_object_set_new(o, "detected", json_boolean(s->detected));
	}
	return cli_print_json(a, o, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/* Tokenizes text with the model's vocabulary alone (the weights are not
 * needed), without BOS, as the generated text was. *ids: caller frees. */
static enum ajar_err tokenize_text(const char *model, const char *text, size_t len, int32_t **ids, size_t *n)
{
	struct gguf_file *g = NULL;
	struct ajar_vocab *v = NULL;
	enum ajar_err err = gguf_open(model, &g);
	if (!err)
		err = vocab_load(g, &v);
	gguf_close(g);
	if (!err)
		err = vocab_tokenize(v, text, len, false, false, ids, n);
	vocab_free(v);
	return err;
}

static int watermark_detect_cmd(int argc, char **argv)
{
	struct args a;
	const char *model = NULL, *file = NULL, *key_file = NULL, *policy = NULL, *v;
	bool json = false;
	char *text = NULL;
	int32_t *ids = NULL;
	size_t len = 0, n = 0;
	struct watermark_params p;
	struct watermark_score s;
	double z_threshold;
	int rc = 1;

	args_init(&a, "watermark detect", argc, argv);
	while (a.i < a.argc) {
		if (args_flag(&a, "--help", "-h")) {
			fputs(detect_help, stdout);
			return 0;
		} else if (args_opt(&a, "--model", "-m", &v)) {
			model = v;
		} else if (args_opt(&a, "--key-file", NULL, &v)) {
			key_file = v;
		} else if (args_opt(&a, "--policy", NULL, &v)) {
			policy = v;
		} else if (args_flag(&a, "--json", NULL)) {
			json = true;
		} else if ((a.argv[a.i][0] != '-' || strcmp(a.argv[a.i], "-") == 0) && !file) {
			file = a.argv[a.i++];
		} else {
			args_error(&a, "unknown option or extra argument '%s' (see --help)", a.argv[a.i]);
			return 2;
		}
	}
	if (!model || !file) {
		args_error(&a, "-m MODEL and FILE are required (see --help)");
		return 2;
	}
	if ((rc = cli_watermark_params(&a, policy, key_file, false, &p, &z_threshold)))
		goto out;
	rc = 1;
	if (read_file(strcmp(file, "-") == 0 ? "/dev/stdin" : file, DETECT_TEXT_MAX, &text, &len) ||
	    tokenize_text(model, text, len, &ids, &n) || watermark_detect(&p, ids, n, z_threshold, &s)) {
		args_fail(&a);
		goto out;
	}
	rc = print_score(&a, &s, json, z_threshold);
out:
	sodium_memzero(p.key, sizeof(p.key));
	free(ids);
	free(text);
	return rc;
}

int cmd_watermark(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "detect") == 0)
		return watermark_detect_cmd(argc - 1, argv + 1);
	if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
		fputs(detect_help, stdout);
		return 0;
	}
	fprintf(stderr, "ajar watermark: expected 'detect' (see ajar watermark detect --help)\n");
	return 2;
}
