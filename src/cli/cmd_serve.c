/*
 * cmd_serve.c - `ajar serve`: load a model and serve the OpenAI-compatible
 * HTTP API (src/server, docs/API.md) until SIGINT or SIGTERM.
 *
 * The signals are blocked before any thread starts, so every thread inherits
 * the mask and only the main thread, waiting in sigwait(), ever sees them:
 * shutdown then runs in ordinary code, not in a signal handler.
 */
#include "ajar/model.h"
#include "ajar/tensor.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "server/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char serve_help[] =
	"usage: ajar serve -m MODEL [options]\n"
	"  -m, --model PATH          GGUF model\n"
	"      --host HOST           address to listen on (default 127.0.0.1)\n"
	"      --port N              port (default 8080; 0 = any free port, printed at start)\n"
	"  -np, --parallel N         requests generated at once (slots; default 4)\n"
	"  -c, --ctx N               context positions per slot (default: the model's, at most 4096)\n"
	"  -t, --threads N           threads (default: all CPUs)\n"
	"  -b, --batch N             most tokens per forward pass (default 512)\n"
	"      --cache-type T        KV cache element type: f32 (default), f16, q8_0\n"
	"      --max-body BYTES      request body limit (default 8388608; larger is 413)\n"
	"      --max-connections N   simultaneous connections (default 256)\n"
	"      --timeout SECONDS     idle connection timeout (default 600)\n"
	"      --queue N             requests waiting for a slot before 503 (default 64)\n"
	"      --chat-template NAME  chat format instead of the model's (chatml, llama3, ...)\n"
	"      --policy FILE         access policy (docs/policy.md; default: the built-in one)\n"
	"      --store URI           sqlite:PATH (default: sqlite:$AJAR_DATA/ajar.db, else\n"
	"                            ~/.local/share/ajar/ajar.db)\n"
	"      --card FILE           model card for /transparency (default: the policy's)\n"
	"      --admin-key-file FILE where to write the admin key made when the store has none\n"
	"                            (default: shown once in the log)\n"
	"  -v, --verbose             log every request to stderr\n"
	"  SIGINT or SIGTERM stops the server gracefully: streams end with a final chunk.\n";

static void log_line(void *user, const char *line)
{
	(void)user;
	fprintf(stderr, "ajar serve: %s\n", line);
}

/* Parses options into p; returns 0 to go on, -1 after --help, else an exit status. */
static int parse_serve(struct args *a, struct server_params *p, const char **model)
{
	const char *v;
	long long ll;

	while (a->i < a->argc) {
		if (args_flag(a, "--help", "-h")) {
			fputs(serve_help, stdout);
			return -1;
		} else if (args_opt(a, "--model", "-m", &v)) {
			*model = v;
		} else if (args_opt(a, "--host", NULL, &v)) {
			p->host = v;
		} else if (args_opt(a, "--port", NULL, &v)) {
			if (!args_int(a, "--port", v, 0, 65535, &ll))
				return 2;
			p->port = (uint16_t)ll;
		} else if (args_opt(a, "--parallel", "-np", &v)) {
			if (!args_int(a, "--parallel", v, 1, 256, &ll))
				return 2;
			p->n_parallel = (uint32_t)ll;
		} else if (args_opt(a, "--ctx", "-c", &v)) {
			if (!args_int(a, "--ctx", v, 8, 1 << 20, &ll))
				return 2;
			p->n_ctx = (uint32_t)ll;
		} else if (args_opt(a, "--threads", "-t", &v)) {
			if (!args_int(a, "--threads", v, 1, 1024, &ll))
				return 2;
			p->n_threads = (int)ll;
		} else if (args_opt(a, "--batch", "-b", &v)) {
			if (!args_int(a, "--batch", v, 1, 1 << 16, &ll))
				return 2;
			p->n_batch = (uint32_t)ll;
		} else if (args_opt(a, "--cache-type", NULL, &v)) {
			if (strcmp(v, "f32") == 0) {
				p->cache_type = AJAR_TYPE_F32;
			} else if (strcmp(v, "f16") == 0) {
				p->cache_type = AJAR_TYPE_F16;
			} else if (strcmp(v, "q8_0") == 0) {
				p->cache_type = AJAR_TYPE_Q8_0;
			} else {
				args_error(a, "--cache-type: '%s' is not f32, f16 or q8_0", v);
				return 2;
			}
		} else if (args_opt(a, "--max-body", NULL, &v)) {
			if (!args_int(a, "--max-body", v, 1, (long long)1 << 32, &ll))
				return 2;
			p->max_body = (size_t)ll;
		} else if (args_opt(a, "--max-connections", NULL, &v)) {
			if (!args_int(a, "--max-connections", v, 1, 65536, &ll))
				return 2;
			p->max_connections = (unsigned)ll;
		} else if (args_opt(a, "--timeout", NULL, &v)) {
			if (!args_int(a, "--timeout", v, 1, 86400, &ll))
				return 2;
			p->timeout_s = (unsigned)ll;
		} else if (args_opt(a, "--queue", NULL, &v)) {
			if (!args_int(a, "--queue", v, 1, 1 << 20, &ll))
				return 2;
			p->max_queue = (uint32_t)ll;
		} else if (args_opt(a, "--chat-template", NULL, &v)) {
			p->chat_template = v;
		} else if (args_opt(a, "--policy", NULL, &v)) {
			p->policy_path = v;
		} else if (args_opt(a, "--store", NULL, &v)) {
			p->store_uri = v;
		} else if (args_opt(a, "--card", NULL, &v)) {
			p->card_path = v;
		} else if (args_opt(a, "--admin-key-file", NULL, &v)) {
			p->admin_key_file = v;
		} else if (args_flag(a, "--verbose", "-v")) {
			p->log_requests = true;
		} else {
			args_error(a, "unknown option '%s' (see --help)", a->argv[a->i]);
			return 2;
		}
	}
	if (!*model) {
		args_error(a, "-m MODEL is required (see --help)");
		return 2;
	}
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	struct args a;
	struct server_params p = { .port = 8080, .n_parallel = 4, .log = log_line };
	const char *model_path = NULL;
	struct ajar_model *model = NULL;
	struct server *srv = NULL;
	sigset_t stop_signals;
	int rc, sig = 0;

	args_init(&a, "serve", argc, argv);
	if ((rc = parse_serve(&a, &p, &model_path)))
		return rc < 0 ? 0 : rc;
	p.model_path = model_path;

	if (ajar_model_load(model_path, &model)) {
		args_fail(&a);
		return 1;
	}
	/* Loading may be interrupted as any command; from here the signals
	 * wait for sigwait(), blocked before the server's threads exist. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN); /* a client that vanishes must not kill the server */
	if (server_start(model, &p, &srv)) {
		args_fail(&a);
		ajar_model_free(model);
		return 1;
	}
	const char *host = p.host ? p.host : "127.0.0.1";
	bool v6 = strchr(host, ':') != NULL;
	printf("ajar: serving %s at http://%s%s%s:%u/ (open it in a browser)\n", model_path, v6 ? "[" : "", host,
	       v6 ? "]" : "", server_port(srv));
	printf("ajar: a key for the chat comes from /access; the admin console is /admin, the public record "
	       "/transparency\n");
	fflush(stdout);

	while (sigwait(&stop_signals, &sig) != 0)
		;
	fprintf(stderr, "ajar serve: %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	server_stop(srv);
	ajar_model_free(model);
	return 0;
}
