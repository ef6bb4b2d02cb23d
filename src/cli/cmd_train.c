/*
 * cmd_train.c - `ajar train`: train a Llama model from scratch on text files
 * (src/train/train_run.h says what a run does) and write it, with the
 * tokenizer trained on the same text, as an F32 llama GGUF. Progress goes to
 * stderr: one line redrawn in place on a terminal, a plain line at each
 * evaluation otherwise (so a log file stays readable).
 */
#include "ajar/err.h"
#include "ajar/threadpool.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "train/bpe_train.h"
#include "train/train_model.h"
#include "train/train_run.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Most data files one run takes (each is read whole). */
#define TRAIN_MAX_FILES 4096

static const char train_help[] =
	"usage: ajar train --data FILE... --out OUT.gguf [options]\n"
	"  Trains a Llama-architecture model from scratch on the text files (each a\n"
	"  document; the last 5% of tokens held out for validation) and writes it with\n"
	"  its tokenizer as an F32 GGUF that `ajar run -m OUT.gguf` loads. Checkpoints\n"
	"  go to OUT.gguf.ckpt. The result does not depend on --threads.\n"
	"  --data FILE...     text files (all arguments up to the next option)\n"
	"  --out PATH         the GGUF to write\n"
	"  --dim D            residual width (default 64)\n"
	"  --layers L         transformer blocks (default 2)\n"
	"  --heads H          attention heads; D/H must be even (default 4)\n"
	"  --ctx N            tokens per training window (default 64)\n"
	"  --vocab-size V     BPE tokens to train, 257..1048576 (default 512)\n"
	"  --vocab GGUF       use this GGUF's tokenizer instead of training one\n"
	"  --steps S          optimizer steps (default 200)\n"
	"  --batch B          windows per micro-batch (default 8)\n"
	"  --accum N          micro-batches per step, gradients accumulated (default 1)\n"
	"  --lr LR            peak learning rate; 5% warm-up, cosine to LR/10 (default 1e-3)\n"
	"  --seed S           weights and batch order (default 1)\n"
	"  --threads N        threads for the matmuls (default: all CPUs)\n"
	"  --eval-every K     validation loss every K steps and at the end (default S/10)\n"
	"  --ckpt-every K     checkpoint every K steps and at the end (default S/10)\n"
	"  --log LOSS.csv     write step,lr,train_loss,val_loss,tokens_per_s\n"
	"  --resume CKPT      continue from a checkpoint of a run with the same settings\n";

struct display {
	bool tty;
	int eval_every;
	bool drawn; /* a line is on the terminal without its newline */
};

static void show_step(void *user, const struct train_progress *p)
{
	struct display *d = user;
	char val[32] = "";
	if (!isnan(p->val_loss))
		snprintf(val, sizeof(val), "  val %.4f", (double)p->val_loss);
	if (!d->tty && isnan(p->val_loss))
		return;
	fprintf(stderr, "%sstep %llu/%llu  loss %.4f%s  lr %.2e  %.0f tok/s  ETA %.0fs%s", d->tty ? "\r" : "",
		(unsigned long long)p->step, (unsigned long long)p->total, (double)p->train_loss, val,
		(double)p->lr, p->tokens_per_s, p->eta_s, d->tty ? "\033[K" : "\n");
	d->drawn = d->tty;
	if (d->tty && !isnan(p->val_loss) && p->step % (unsigned)d->eval_every == 0) {
		fputc('\n', stderr); /* keep each evaluation's line on screen */
		d->drawn = false;
	}
	fflush(stderr);
}

/* --data takes every argument up to the next option. */
static bool take_files(struct args *a, const char **files, int *n)
{
	a->i++;
	while (a->i < a->argc && a->argv[a->i][0] != '-') {
		if (*n >= TRAIN_MAX_FILES) {
			args_error(a, "--data: more than %d files", TRAIN_MAX_FILES);
			return false;
		}
		files[(*n)++] = a->argv[a->i++];
	}
	return true;
}

/* An integer option name in min..max into *out; false if argv[i] is not
 * name. *bad is set when the value is wrong (its line already printed). */
static bool int_opt(struct args *a, const char *name, long long min, long long max, int *out, bool *bad)
{
	const char *v;
	long long x = 0;
	if (!args_opt(a, name, NULL, &v))
		return false;
	if (args_int(a, name, v, min, max, &x))
		*out = (int)x;
	else
		*bad = true;
	return true;
}

/* Parses argv into o and files; 0 to go on, else the exit status. */
static int parse(struct args *a, struct train_run_opts *o, const char **files)
{
	const char *v;
	bool bad = false, every_set[2] = { false, false };
	double x;
	long long seed;

	while (a->i < a->argc && !bad) {
		if (args_flag(a, "--help", "-h")) {
			fputs(train_help, stdout);
			return -1;
		} else if (strcmp(a->argv[a->i], "--data") == 0) {
			if (!take_files(a, files, &o->n_data))
				return 2;
		} else if (args_opt(a, "--out", "-o", &v)) {
			o->out = v;
		} else if (args_opt(a, "--vocab", NULL, &v)) {
			o->vocab_path = v;
		} else if (args_opt(a, "--log", NULL, &v)) {
			o->log_path = v;
		} else if (args_opt(a, "--resume", NULL, &v)) {
			o->resume_path = v;
		} else if (args_opt(a, "--lr", NULL, &v)) {
			bad = !args_float(a, "--lr", v, 1e-9, 0.999, &x);
			o->lr = (float)x;
		} else if (args_opt(a, "--seed", NULL, &v)) {
			bad = !args_int(a, "--seed", v, 0, INT64_MAX, &seed);
			o->seed = (uint64_t)seed;
		} else if (int_opt(a, "--dim", 2, 65536, &o->dim, &bad) || int_opt(a, "--layers", 1, 1024, &o->n_layers, &bad) ||
			   int_opt(a, "--heads", 1, 1024, &o->n_heads, &bad) || int_opt(a, "--ctx", 1, 65536, &o->n_ctx, &bad) ||
			   int_opt(a, "--vocab-size", BPE_TRAIN_MIN_VOCAB, BPE_TRAIN_MAX_VOCAB, &o->vocab_size, &bad) ||
			   int_opt(a, "--steps", 1, 100000000, &o->steps, &bad) ||
			   int_opt(a, "--batch", 1, 65536, &o->batch, &bad) || int_opt(a, "--accum", 1, 65536, &o->accum, &bad) ||
			   int_opt(a, "--threads", 1, TRAIN_MAX_THREADS, &o->n_threads, &bad)) {
		} else if (int_opt(a, "--eval-every", 1, 100000000, &o->eval_every, &bad)) {
			every_set[0] = true;
		} else if (int_opt(a, "--ckpt-every", 1, 100000000, &o->ckpt_every, &bad)) {
			every_set[1] = true;
		} else {
			args_error(a, "unknown option '%s' (see --help)", a->argv[a->i]);
			return 2;
		}
	}
	if (bad)
		return 2;
	if (!o->out || o->n_data == 0) {
		args_error(a, "--data FILE... and --out PATH are required (see --help)");
		return 2;
	}
	int tenth = o->steps / 10 ? o->steps / 10 : 1;
	if (!every_set[0])
		o->eval_every = tenth;
	if (!every_set[1])
		o->ckpt_every = tenth;
	return 0;
}

int cmd_train(int argc, char **argv)
{
	static const char *files[TRAIN_MAX_FILES];
	struct args a;
	struct train_run_opts o;
	struct train_run_result res;
	struct display d = { .tty = isatty(STDERR_FILENO) };

	args_init(&a, "train", argc, argv);
	train_run_opts_default(&o);
	/* the library defaults to one thread; the command uses the machine */
	o.n_threads = threadpool_ncpu() < TRAIN_MAX_THREADS ? threadpool_ncpu() : TRAIN_MAX_THREADS;
	o.data = files;
	int rc = parse(&a, &o, files);
	if (rc)
		return rc < 0 ? 0 : rc;
	d.eval_every = o.eval_every;
	o.on_step = show_step;
	o.user = &d;
	enum ajar_err err = train_run(&o, &res);
	if (d.drawn)
		fputc('\n', stderr);
	if (err) {
		args_fail(&a);
		return 1;
	}
	printf("data: %llu training tokens, %llu validation tokens; vocabulary %d tokens\n",
	       (unsigned long long)res.n_train_tokens, (unsigned long long)res.n_val_tokens, res.n_vocab);
	printf("model: %zu parameters; validation loss %.4f -> %.4f; %.0f tokens/s\n", res.n_params,
	       (double)res.first_val_loss, (double)res.last_val_loss, res.tokens_per_s);
	printf("wrote %s\n", o.out);
	return 0;
}
