/*
 * main.c - the `ajar` binary: dispatch to a subcommand.
 */
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "run", cmd_run, "generate text from a prompt" },
	{ "chat", cmd_chat, "talk to a chat model (its chat template), interactively or from stdin" },
	{ "logits", cmd_logits, "prompt token ids and the last position's logits, as JSON" },
	{ "tokenize", cmd_tokenize, "text to token ids" },
	{ "info", cmd_info, "architecture, parameters, tensor types, metadata, SHA-256 of a GGUF file" },
	{ "import-llama2c", cmd_import_llama2c, "convert a llama2.c checkpoint and tokenizer to GGUF" },
	{ "serve", cmd_serve, "serve the OpenAI-compatible HTTP API (and the chat page)" },
	{ "bench", cmd_bench, "prompt-processing and generation speed, like llama-bench" },
	{ "quantize", cmd_quantize, "write a copy of a model with quantized weights" },
	{ "keys", cmd_keys, "create, list, revoke and rotate API keys" },
	{ "access", cmd_access, "review access requests: list, show, approve, deny" },
	{ "audit", cmd_audit, "verify the audit chain, or export it as JSON lines" },
	{ "card", cmd_card, "the transparency record of a model (card, license, safeguards) as JSON" },
	{ "moderate", cmd_moderate, "check a text with a moderation profile of a policy (rules, PII, classifier), as JSON" },
	{ "watermark", cmd_watermark, "detect ajar's watermark in a text: ajar watermark detect -m MODEL FILE" },
	{ "provenance", cmd_provenance, "verify the signed provenance of a saved completion response, offline" },
	{ "train-tokenizer", cmd_train_tokenizer, "learn a byte-level BPE vocabulary from text files, as a GGUF" },
	{ "train", cmd_train, "train a Llama model from scratch on text files, written as a GGUF with its tokenizer" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: ajar COMMAND [options]   (ajar COMMAND --help for its options)\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "ajar: unknown command '%s' (ajar --help lists them)\n", argv[1]);
	return 2;
}
