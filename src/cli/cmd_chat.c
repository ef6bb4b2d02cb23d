/*
 * cmd_chat.c - `ajar chat`: a conversation with a chat model on stdin/stdout.
 *
 * Each turn reads one user line, renders the whole conversation with the
 * model's chat template and the generation prompt (include/ajar/chat.h),
 * tokenizes it with special-token parsing (so the template's markers become
 * control tokens), and streams the reply until an end-of-generation token,
 * the family's end-of-turn string, -n tokens or the end of the context.
 *
 * The KV cache survives between turns. `cached` mirrors what sequence 0
 * holds (the last prompt and the reply tokens decoded after it); before a
 * turn it is cut back to the longest common prefix with the new prompt, so
 * only the new user turn (and whatever of the last reply re-tokenizes
 * differently) is decoded. When the conversation outgrows the context, the
 * oldest exchanges after the system message are dropped.
 *
 * Lines: "/exit" or end of input ends, "/reset" forgets the conversation
 * (the system message stays); a line ending in '\' continues on the next.
 * The "> " prompt and the banner appear only when stdin is a terminal.
 */
#include "ajar/chat.h"
#include "ajar/generate.h"
#include "ajar/model.h"
#include "ajar/sampler.h"
#include "ajar/vocab.h"
#include "cli/args.h"
#include "cli/commands.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* One user message (after joining continued lines) may be this long. */
#define CHAT_LINE_MAX ((size_t)1 << 20)

struct chat_opts {
	const char *model;
	const char *template_name; /* NULL: from the model */
	const char *system;
	long long n_predict;       /* per reply; -1: until the end of the turn or context */
	long long n_ctx;
	long long n_threads;
	bool no_reuse;             /* re-decode the whole conversation every turn */
	struct sampler_params sp;
	bool seed_given;
};

static const char chat_help[] =
	"usage: ajar chat -m MODEL [options]\n"
	"  Talk to a chat model: one user message per line on stdin, each reply on stdout.\n"
	"  /reset forgets the conversation, /exit (or end of input) ends; a line ending in '\\'\n"
	"  continues on the next.\n"
	"  -m, --model PATH         GGUF model\n"
	"      --chat-template NAME use this format instead of the model's (see below)\n"
	"      --system TEXT        system message\n"
	"  -n, --n-predict N        most tokens per reply (default -1: until the end of the turn)\n"
	"      --ctx N              context size (default: the model's context_length)\n"
	"  -t, --threads N          threads (default: all CPUs)\n"
	"      --temp T             temperature (default 0.8; 0 = greedy)\n"
	"      --top-k K            (default 40; 0 = off)\n"
	"      --top-p P            (default 0.95; 1 = off)\n"
	"      --min-p P            (default 0.05; 0 = off)\n"
	"      --seed S             RNG seed (default: random)\n"
	"      --no-prefix-reuse    decode the whole conversation every turn (for testing)\n"
	"  Chat templates: ";

static void print_help(void)
{
	fputs(chat_help, stdout);
	for (int f = 0; f < CHAT_FAMILY_COUNT; f++)
		printf("%s%s", f ? ", " : "", chat_family_name((enum chat_family)f));
	fputs("\n  Without --chat-template the format is recognised from the model's tokenizer.chat_template;\n"
	      "  a model without one, or with one not recognised, gets chatml (with a warning).\n",
	      stdout);
}

/* Returns 0 to go on, -1 after --help, else an exit status. */
static int parse_chat_opts(struct args *a, struct chat_opts *o)
{
	const char *v;
	double d;
	long long ll;

	memset(o, 0, sizeof(*o));
	o->n_predict = -1;
	o->sp = sampler_params_default();
	while (a->i < a->argc) {
		if (args_flag(a, "--help", "-h")) {
			print_help();
			return -1;
		} else if (args_opt(a, "--model", "-m", &v)) {
			o->model = v;
		} else if (args_opt(a, "--chat-template", NULL, &v)) {
			o->template_name = v;
		} else if (args_opt(a, "--system", NULL, &v)) {
			o->system = v;
		} else if (args_opt(a, "--n-predict", "-n", &v)) {
			if (!args_int(a, "-n", v, -1, 1 << 24, &o->n_predict))
				return 2;
		} else if (args_opt(a, "--ctx", "-c", &v)) {
			if (!args_int(a, "--ctx", v, 1, 1 << 20, &o->n_ctx))
				return 2;
		} else if (args_opt(a, "--threads", "-t", &v)) {
			if (!args_int(a, "--threads", v, 1, 1024, &o->n_threads))
				return 2;
		} else if (args_opt(a, "--temp", NULL, &v)) {
			if (!args_float(a, "--temp", v, 0, 100, &d))
				return 2;
			o->sp.temp = (float)d;
		} else if (args_opt(a, "--top-k", NULL, &v)) {
			if (!args_int(a, "--top-k", v, 0, 1 << 24, &ll))
				return 2;
			o->sp.top_k = (int32_t)ll;
		} else if (args_opt(a, "--top-p", NULL, &v)) {
			if (!args_float(a, "--top-p", v, 0, 1, &d))
				return 2;
			o->sp.top_p = (float)d;
		} else if (args_opt(a, "--min-p", NULL, &v)) {
			if (!args_float(a, "--min-p", v, 0, 1, &d))
				return 2;
			o->sp.min_p = (float)d;
		} else if (args_opt(a, "--seed", "-s", &v)) {
			if (!args_int(a, "--seed", v, 0, INT64_MAX, &ll))
				return 2;
			o->sp.seed = (uint64_t)ll;
			o->seed_given = true;
		} else if (args_flag(a, "--no-prefix-reuse", NULL)) {
			o->no_reuse = true;
		} else {
			args_error(a, "unknown option '%s' (see --help)", a->argv[a->i]);
			return 2;
		}
	}
	if (!o->model) {
		args_error(a, "-m MODEL is required (see --help)");
		return 2;
	}
	if (o->template_name) {
		enum chat_family f;
		if (chat_family_from_name(o->template_name, &f)) {
			args_fail(a);
			return 2;
		}
	}
	if (!o->seed_given && getrandom(&o->sp.seed, sizeof(o->sp.seed), 0) != sizeof(o->sp.seed))
		o->sp.seed = (uint64_t)time(NULL);
	return 0;
}

/* ---- the conversation ---- */

/* Messages with owned content; roles are static strings. */
struct history {
	struct chat_msg *msgs;
	size_t n, cap;
	size_t n_fixed; /* leading messages /reset keeps (the system message) */
};

static enum ajar_err history_push(struct history *h, const char *role, const char *text, size_t len)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct chat_msg *p = realloc(h->msgs, cap * sizeof(*p));
		if (!p)
			return ajar_errf(AJAR_ERR_NOMEM, "conversation history");
		h->msgs = p;
		h->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return ajar_errf(AJAR_ERR_NOMEM, "conversation history");
	memcpy(copy, text, len);
	copy[len] = '\0';
	h->msgs[h->n].role = role;
	h->msgs[h->n].content = copy;
	h->n++;
	return AJAR_OK;
}

/* Frees messages [from, from + count) and closes the gap. */
static void history_remove(struct history *h, size_t from, size_t count)
{
	if (count == 0)
		return;
	for (size_t i = from; i < from + count; i++)
		free((char *)h->msgs[i].content);
	memmove(h->msgs + from, h->msgs + from + count, (h->n - from - count) * sizeof(*h->msgs));
	h->n -= count;
}

static void history_free(struct history *h)
{
	history_remove(h, 0, h->n);
	free(h->msgs);
}

/* Drops the oldest exchange after the fixed messages: a user message and the
 * replies up to the next user message. Never the last user message (the one
 * being answered). Returns false if there is nothing to drop. */
static bool history_drop_oldest(struct history *h)
{
	size_t from = h->n_fixed, to = from + 1;
	if (from + 1 >= h->n)
		return false;
	while (to < h->n && strcmp(h->msgs[to].role, "user") != 0)
		to++;
	if (to >= h->n)
		return false;
	history_remove(h, from, to - from);
	return true;
}

/* ---- one turn ---- */

struct chat_state {
	struct args *a;
	const struct chat_opts *o;
	struct ajar_model *model;
	const struct ajar_vocab *vocab;
	struct ajar_context *ctx;
	struct sampler *smp;
	enum chat_family family;
	struct history hist;
	int32_t *cached;  /* the tokens sequence 0 holds, n_cached of them */
	size_t n_cached;
	char *reply;      /* the reply being streamed */
	size_t n_reply, cap_reply;
	bool oom;
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int on_reply_text(void *user, const char *text, size_t len)
{
	struct chat_state *s = user;
	if (interrupted)
		return 1;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	if (s->n_reply + len + 1 > s->cap_reply) {
		size_t cap = (s->n_reply + len + 1) * 2;
		char *p = cap <= CHAT_RENDER_MAX ? realloc(s->reply, cap) : NULL;
		if (!p) {
			s->oom = true;
			return 1;
		}
		s->reply = p;
		s->cap_reply = cap;
	}
	memcpy(s->reply + s->n_reply, text, len);
	s->n_reply += len;
	s->reply[s->n_reply] = '\0';
	return 0;
}

/* Renders and tokenizes the conversation, BOS first where the model wants
 * one (never EOS: the prompt ends with the generation prompt). */
static enum ajar_err render_tokens(struct chat_state *s, int32_t **ids, size_t *n)
{
	char *text = NULL;
	size_t len;
	int32_t *raw = NULL;
	size_t n_raw;
	enum ajar_err err;

	if ((err = chat_render(s->family, s->hist.msgs, s->hist.n, true, &text, &len)))
		return err;
	err = vocab_tokenize(s->vocab, text, len, false, true, &raw, &n_raw);
	free(text);
	if (err)
		return err;
	int32_t bos = vocab_bos(s->vocab);
	bool add_bos = vocab_add_bos(s->vocab) && bos >= 0 && (n_raw == 0 || raw[0] != bos);
	*ids = malloc((n_raw + 1) * sizeof(**ids));
	if (!*ids) {
		free(raw);
		return ajar_errf(AJAR_ERR_NOMEM, "prompt tokens");
	}
	if (add_bos)
		(*ids)[0] = bos;
	memcpy(*ids + add_bos, raw, n_raw * sizeof(*raw));
	*n = n_raw + add_bos;
	free(raw);
	return AJAR_OK;
}

/* The prompt for this turn, dropping old exchanges until the reply has room
 * (-n tokens, or a quarter of the context when -n is -1). */
static int fit_prompt(struct chat_state *s, int32_t **ids, size_t *n)
{
	size_t n_ctx = ajar_context_n_ctx(s->ctx);
	size_t room = s->o->n_predict >= 0 ? (size_t)s->o->n_predict : n_ctx / 4;
	bool dropped = false;

	if (room > n_ctx / 2)
		room = n_ctx / 2;
	for (;;) {
		if (render_tokens(s, ids, n)) {
			args_fail(s->a);
			return 1;
		}
		if (*n + room <= n_ctx || !history_drop_oldest(&s->hist))
			break;
		free(*ids);
		dropped = true;
	}
	if (dropped)
		fprintf(stderr, "ajar chat: note: dropped the oldest messages to fit the context of %zu tokens\n",
			n_ctx);
	if (*n >= n_ctx) {
		args_error(s->a, "the message needs %zu tokens with the template; the context holds %zu (raise --ctx)",
			   *n, n_ctx);
		free(*ids);
		return 1;
	}
	return 0;
}

/* Makes `cached` the prompt plus the reply tokens the sequence now holds. */
static int remember_cache(struct chat_state *s, int32_t *prompt, size_t n_prompt, const struct gen_result *res)
{
	size_t held = ajar_seq_len(s->ctx, 0);
	size_t n_gen = held > n_prompt ? held - n_prompt : 0;
	if (n_gen > res->n_tokens)
		n_gen = res->n_tokens;
	if (held < n_prompt)
		n_prompt = held;
	int32_t *p = realloc(prompt, (n_prompt + n_gen + 1) * sizeof(*p));
	if (!p) {
		free(prompt);
		return -1;
	}
	memcpy(p + n_prompt, res->tokens, n_gen * sizeof(*p));
	free(s->cached);
	s->cached = p;
	s->n_cached = n_prompt + n_gen;
	ajar_seq_truncate(s->ctx, 0, (uint32_t)s->n_cached);
	return 0;
}

/* Answers the last user message. Returns 0, or 1 when this turn failed (the
 * message is then taken back). */
static int chat_turn(struct chat_state *s)
{
	int32_t *ids = NULL;
	size_t n_ids = 0, keep = 0;
	struct gen_result res = { 0 };
	size_t n_stop;
	const char *const *stops = chat_stop_strings(s->family, &n_stop);
	struct gen_params gp = { .n_predict = (int32_t)s->o->n_predict, .stop = stops, .n_stop = n_stop };

	if (fit_prompt(s, &ids, &n_ids))
		goto fail;
	if (!s->o->no_reuse)
		while (keep < s->n_cached && keep < n_ids && s->cached[keep] == ids[keep])
			keep++;
	ajar_seq_truncate(s->ctx, 0, (uint32_t)keep);
	s->n_reply = 0;
	s->oom = false;
	enum ajar_err err = generate(s->ctx, 0, s->smp, ids, n_ids, &gp, on_reply_text, s, &res);
	interrupted = 0;
	fputc('\n', stdout);
	fflush(stdout);
	if (err || s->oom) {
		if (!err)
			ajar_errf(AJAR_ERR_NOMEM, "the reply is too long to keep");
		args_fail(s->a);
		free(ids);
		free(res.tokens);
		s->n_cached = 0; /* the cache is in an unknown state: start over */
		ajar_seq_truncate(s->ctx, 0, 0);
		goto fail;
	}
	if (res.finish == GEN_FINISH_CONTEXT)
		fprintf(stderr, "ajar chat: note: the context is full; older messages will be dropped\n");
	int bad = remember_cache(s, ids, n_ids, &res);
	free(res.tokens);
	if (bad || history_push(&s->hist, "assistant", s->reply ? s->reply : "", s->n_reply)) {
		args_error(s->a, "out of memory");
		return -1;
	}
	return 0;
fail:
	history_remove(&s->hist, s->hist.n - 1, 1);
	return 1;
}

/* ---- input ---- */

/*
 * Reads one message: a line without its end ("\n" or "\r\n"), joined with
 * the next while it ends in '\'. NUL bytes are dropped. Returns 1 with
 * *line (owned by the caller) set, 0 at the end of input (or Ctrl-C at the
 * prompt), -1 if the message is longer than CHAT_LINE_MAX (the rest of its
 * line is read and discarded).
 */
static int read_message(char **line, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	bool any = false, too_long = false;

	for (;;) {
		int c = getc(stdin);
		if (c == EOF) {
			if (!any || interrupted) {
				free(buf);
				return 0;
			}
			break; /* a last line without its end */
		}
		any = true;
		if (c == '\n') {
			if (n > 0 && buf[n - 1] == '\r')
				n--;
			if (n > 0 && buf[n - 1] == '\\') {
				buf[n - 1] = '\n';
				continue;
			}
			break;
		}
		if (c == '\0' || too_long)
			continue;
		if (n + 2 > CHAT_LINE_MAX) {
			too_long = true;
			continue;
		}
		if (n + 2 > cap) {
			size_t ncap = cap ? cap * 2 : 256;
			char *p = realloc(buf, ncap);
			if (!p) {
				too_long = true;
				continue;
			}
			buf = p;
			cap = ncap;
		}
		buf[n++] = (char)c;
	}
	if (too_long) {
		free(buf);
		return -1;
	}
	if (!buf && !(buf = malloc(1)))
		return -1;
	buf[n] = '\0';
	*line = buf;
	*len = n;
	return 1;
}

/* ---- the command ---- */

static int chat_setup(struct chat_state *s)
{
	struct ajar_context_params cp = { 0 };
	enum ajar_err err;

	if (ajar_model_load(s->o->model, &s->model)) {
		args_fail(s->a);
		return 1;
	}
	s->vocab = ajar_model_vocab(s->model);
	err = chat_template_for_model(ajar_model_gguf(s->model), s->o->template_name, &s->family);
	if (err == AJAR_ERR_NOT_FOUND || err == AJAR_ERR_UNSUPPORTED) {
		fprintf(stderr, "ajar chat: warning: %s\n", ajar_err_msg());
	} else if (err) {
		args_fail(s->a);
		return 2;
	}
	cp.n_ctx = (uint32_t)s->o->n_ctx;
	cp.n_seq = 1;
	cp.n_threads = (int)s->o->n_threads;
	if (s->o->n_ctx > (long long)ajar_model_hparams(s->model)->n_ctx_train)
		fprintf(stderr, "ajar chat: warning: --ctx %lld is larger than the model's training context %u\n",
			s->o->n_ctx, ajar_model_hparams(s->model)->n_ctx_train);
	if (ajar_context_new(s->model, &cp, &s->ctx) ||
	    sampler_new(&s->o->sp, (int32_t)ajar_model_hparams(s->model)->n_vocab, &s->smp)) {
		args_fail(s->a);
		return 1;
	}
	if (s->o->system) {
		if (history_push(&s->hist, "system", s->o->system, strlen(s->o->system))) {
			args_fail(s->a);
			return 1;
		}
		s->hist.n_fixed = 1;
	}
	return 0;
}

/* The read-answer loop. Returns the exit status. */
static int chat_loop(struct chat_state *s, bool tty)
{
	int rc = 0;

	for (;;) {
		char *line;
		size_t len;
		if (tty) {
			fputs("> ", stdout);
			fflush(stdout);
		}
		int got = read_message(&line, &len);
		if (got == 0)
			break;
		if (got < 0) {
			args_error(s->a, "a message is longer than %zu bytes; skipped", CHAT_LINE_MAX);
			rc = 1;
			continue;
		}
		if (strcmp(line, "/exit") == 0) {
			free(line);
			break;
		}
		if (strcmp(line, "/reset") == 0 || len == 0) {
			if (len > 0)
				history_remove(&s->hist, s->hist.n_fixed, s->hist.n - s->hist.n_fixed);
			free(line);
			continue;
		}
		enum ajar_err err = history_push(&s->hist, "user", line, len);
		free(line);
		if (err) {
			args_fail(s->a);
			return 1;
		}
		int t = chat_turn(s);
		if (t < 0)
			return 1;
		if (t > 0)
			rc = 1;
	}
	if (tty)
		fputc('\n', stdout);
	return rc;
}

int cmd_chat(int argc, char **argv)
{
	struct args a;
	struct chat_opts o;
	struct chat_state s;
	int rc;

	args_init(&a, "chat", argc, argv);
	if ((rc = parse_chat_opts(&a, &o)))
		return rc < 0 ? 0 : rc;
	memset(&s, 0, sizeof(s));
	s.a = &a;
	s.o = &o;
	if ((rc = chat_setup(&s)))
		goto out;
	bool tty = isatty(STDIN_FILENO);
	if (tty) {
		/* Ctrl-C stops a reply; at the prompt it ends the chat. No
		 * SA_RESTART, so a pending read returns. */
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigint;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		fprintf(stderr, "ajar chat: %s template; /reset clears the conversation, /exit or Ctrl-D ends\n",
			chat_family_name(s.family));
	}
	rc = chat_loop(&s, tty);
out:
	history_free(&s.hist);
	free(s.cached);
	free(s.reply);
	sampler_free(s.smp);
	ajar_context_free(s.ctx);
	ajar_model_free(s.model);
	return rc;
}
