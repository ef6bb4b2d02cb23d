/*
 * cmd_import.c - `ajar import-llama2c MODEL.bin TOKENIZER.bin -o OUT.gguf`.
 */
#include "ajar/llama2c.h"
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>

int cmd_import_llama2c(int argc, char **argv)
{
	struct args a;
	const char *in[2] = { NULL, NULL }, *out = NULL, *v;
	int n_in = 0;

	args_init(&a, "import-llama2c", argc, argv);
	while (a.i < a.argc) {
		if (args_flag(&a, "--help", "-h")) {
			puts("usage: ajar import-llama2c MODEL.bin TOKENIZER.bin -o OUT.gguf\n"
			     "  converts a llama2.c checkpoint and its tokenizer to a GGUF llama model (F32)");
			return 0;
		} else if (args_opt(&a, "--output", "-o", &v)) {
			out = v;
		} else if (a.argv[a.i][0] != '-' && n_in < 2) {
			in[n_in++] = a.argv[a.i++];
		} else {
			args_error(&a, "unexpected argument '%s' (see --help)", a.argv[a.i]);
			return 2;
		}
	}
	if (n_in != 2 || !out) {
		args_error(&a, "MODEL.bin, TOKENIZER.bin and -o OUT.gguf are required (see --help)");
		return 2;
	}
	if (llama2c_import(in[0], in[1], out)) {
		args_fail(&a);
		return 1;
	}
	return 0;
}
