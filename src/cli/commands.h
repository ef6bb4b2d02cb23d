/*
 * commands.h - the ajar subcommands. Each returns the process exit status:
 * 0 success, 1 failure (one clear line on stderr), 2 usage error.
 */
#ifndef AJAR_CLI_COMMANDS_H
#define AJAR_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_import_llama2c(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

#endif
