/*
 * cmd_quantize.c - `ajar quantize IN OUT TYPE`: write a copy of a model with
 * quantized weights (the policy is in include/ajar/quantize.h). One line per
 * tensor and a summary on stdout; errors as one line on stderr.
 */
#include "ajar/quantize.h"
#include "ajar/tensor.h"
#include "cli/args.h"
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char quantize_help[] =
	"usage: ajar quantize IN.gguf OUT.gguf TYPE [-t THREADS] [--pure] [-q]\n"
	"  TYPE            Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, F16, BF16, F32\n"
	"                  (Q4_K and Q5_K are aliases of Q4_K_M and Q5_K_M, as in llama-quantize)\n"
	"  -t, --threads N threads (default: all CPUs)\n"
	"      --pure      no mix: every quantized tensor gets TYPE (llama-quantize --pure); rows that\n"
	"                  TYPE's blocks do not divide still fall back\n"
	"  -q, --quiet     print only the summary line\n"
	"  Weights (2-D tensors named *.weight, not norms) are quantized; llama.cpp's mix policy gives\n"
	"  output.weight Q6_K and, in the _M types, attn_v/ffn_down Q6_K in some layers. A tensor whose\n"
	"  rows are not whole blocks of its type falls back (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, else\n"
	"  F16); every fallback is listed. OUT is written atomically.\n";

struct progress {
	bool quiet;
};

static void fmt_bytes(char *buf, size_t cap, uint64_t n)
{
	if (n < (1u << 20))
		snprintf(buf, cap, "%.1f KiB", (double)n / 1024.0);
	else if (n < (1ull << 30))
		snprintf(buf, cap, "%.2f MiB", (double)n / (1024.0 * 1024.0));
	else
		snprintf(buf, cap, "%.2f GiB", (double)n / (1024.0 * 1024.0 * 1024.0));
}

static void on_tensor(void *user, const struct ajar_quantize_tensor *t)
{
	const struct progress *pr = user;
	const struct gguf_tensor_info *in = t->info;
	char shape[96], from[32], to[32];
	size_t len = 0;

	if (pr->quiet)
		return;
	shape[0] = '\0';
	for (uint32_t d = 0; d < in->n_dims && len < sizeof(shape); d++)
		len += (size_t)snprintf(shape + len, sizeof(shape) - len, "%s%llu", d ? ", " : "",
					(unsigned long long)in->ne[d]);
	fmt_bytes(from, sizeof(from), in->size);
	fmt_bytes(to, sizeof(to), t->bytes_out);
	printf("[%4zu/%4zu] %-32.*s [%s] %-5s -> %-5s %10s -> %10s%s", t->index + 1, t->count, (int)in->name.len,
	       in->name.data, shape, ajar_type_name(in->type), ajar_type_name(t->to_type), from, to,
	       t->converted ? "" : " (copied)");
	if (t->fallback)
		printf("  fallback from %s: %s", ajar_type_name(t->wanted_type), t->fallback_reason);
	putchar('\n');
}

int cmd_quantize(int argc, char **argv)
{
	struct args a;
	const char *pos[3] = { 0 }, *v;
	int n_pos = 0;
	long long n_threads = 0;
	struct ajar_quantize_params qp = { 0 };
	struct ajar_quantize_stats st;
	struct progress pr = { 0 };
	char in_size[32], out_size[32];
	struct timespec t0, t1;

	args_init(&a, "quantize", argc, argv);
	while (a.i < a.argc) {
		if (args_flag(&a, "--help", "-h")) {
			fputs(quantize_help, stdout);
			return 0;
		} else if (args_opt(&a, "--threads", "-t", &v)) {
			if (!args_int(&a, "--threads", v, 1, 1024, &n_threads))
				return 2;
		} else if (args_flag(&a, "--pure", NULL)) {
			qp.pure = true;
		} else if (args_flag(&a, "--quiet", "-q")) {
			pr.quiet = true;
		} else if (a.argv[a.i][0] == '-' && a.argv[a.i][1] != '\0') {
			args_error(&a, "unknown option '%s' (see --help)", a.argv[a.i]);
			return 2;
		} else {
			if (n_pos == 3) {
				args_error(&a, "unexpected argument '%s': IN OUT TYPE are already given", a.argv[a.i]);
				return 2;
			}
			pos[n_pos++] = a.argv[a.i++];
		}
	}
	if (n_pos != 3) {
		args_error(&a, "IN OUT TYPE are required (see --help)");
		return 2;
	}
	if (ajar_ftype_parse(pos[2], &qp.ftype)) {
		args_fail(&a);
		return 2;
	}
	qp.n_threads = (int)n_threads;
	qp.on_tensor = on_tensor;
	qp.user = &pr;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ajar_quantize_file(pos[0], pos[1], &qp, &st)) {
		fflush(stdout);
		args_fail(&a);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fmt_bytes(in_size, sizeof(in_size), st.bytes_in);
	fmt_bytes(out_size, sizeof(out_size), st.bytes_out);
	printf("ajar quantize: %s -> %s (%s): %zu tensors, %zu converted, %zu copied; %s -> %s in %.2f s\n", pos[0],
	       pos[1], ajar_ftype_name(qp.ftype), st.n_tensors, st.n_converted, st.n_tensors - st.n_converted,
	       in_size, out_size, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
	if (st.n_fallback)
		printf("ajar quantize: %zu tensor(s) needed a fallback type (listed above)\n", st.n_fallback);
	return 0;
}
