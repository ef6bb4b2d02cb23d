/*
 * cmd_card.c - `ajar card MODEL`: the transparency record of a model as the
 * server would publish it at /v1/transparency (src/guard/transparency.h),
 * made offline: facts from the GGUF file, the card and license, and the
 * safeguards of the policy. There is no store here, so no usage member.
 */
#include "cli/args.h"
#include "cli/commands.h"
#include "guard/policy.h"
#include "guard/transparency.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char card_help[] =
	"usage: ajar card MODEL [--card CARD] [--policy P] [--html]\n"
	"  the transparency record of MODEL (a GGUF file) as JSON: model facts and\n"
	"  SHA-256, the model card, license, acceptable use and the safeguards of the\n"
	"  policy (tiers, limits, moderation, watermark parameters, retention)\n"
	"  --card CARD   model card (Markdown) instead of the one the policy names\n"
	"  --policy P    policy file (default: the built-in policy)\n"
	"  --html        the same as the page the server shows at /transparency\n";

int cmd_card(int argc, char **argv)
{
	struct args a;
	const char *model = NULL, *card = NULL, *policy_path = NULL, *v;
	struct policy *p = NULL;
	json_t *facts = NULL, *rec = NULL;
	bool html = false;
	int rc = 1;

	args_init(&a, "card", argc, argv);
	while (a.i < a.argc) {
		if (args_flag(&a, "--help", "-h")) {
			fputs(card_help, stdout);
			return 0;
		} else if (args_opt(&a, "--card", NULL, &v)) {
			card = v;
		} else if (args_opt(&a, "--policy", NULL, &v)) {
			policy_path = v;
		} else if (args_flag(&a, "--html", NULL)) {
			html = true;
		} else if (!model && a.argv[a.i][0] != '-') {
			model = a.argv[a.i++];
		} else {
			args_error(&a, "unexpected argument '%s' (see --help)", a.argv[a.i]);
			return 2;
		}
	}
	if (!model) {
		args_error(&a, "MODEL is required (see --help)");
		return 2;
	}
	if (policy_load(policy_path, &p) || transparency_model_facts(model, &facts) ||
	    transparency_record(facts, p, card, NULL, time(NULL), &rec)) {
		args_fail(&a);
		goto out;
	}
	if (html) {
		char *page = transparency_html(rec);
		if (!page)
			args_error(&a, "out of memory making the page");
		else if (fputs(page, stdout) >= 0 && fflush(stdout) == 0)
			rc = 0;
		free(page);
	} else {
		rc = cli_print_json(&a, json_incref(rec), JSON_INDENT(2));
	}
out:
	json_decref(rec);
	json_decref(facts);
	if (p)
		policy_free(p);
	return rc;
}
