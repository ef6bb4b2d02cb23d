/*
 * cmd_info.c - `ajar info MODEL`: what a GGUF file holds. Works on any valid
 * GGUF (vocab-only files and architectures ajar cannot run included), since
 * it reads the file, not a loaded model.
 */
#include "ajar/gguf.h"
#include "ajar/tensor.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "guard/transparency.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strings and arrays are shortened in the listing; --json has everything. */
#define SHOW_STR 120
#define SHOW_ARR 8

static void print_str(struct gguf_str s, size_t max)
{
	size_t n = s.len < max ? s.len : max;
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.data[i];
		if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
	if (s.len > max)
		printf("... (%" PRIu64 " bytes)", s.len);
}

static void print_value(const struct gguf_value *v, int depth)
{
	switch (v->type) {
	case GGUF_TYPE_UINT8: case GGUF_TYPE_UINT16: case GGUF_TYPE_UINT32: case GGUF_TYPE_UINT64:
		printf("%" PRIu64, v->v.u64);
		break;
	case GGUF_TYPE_INT8: case GGUF_TYPE_INT16: case GGUF_TYPE_INT32: case GGUF_TYPE_INT64:
		printf("%" PRId64, v->v.i64);
		break;
	case GGUF_TYPE_FLOAT32: case GGUF_TYPE_FLOAT64:
		printf("%.9g", v->v.f64);
		break;
	case GGUF_TYPE_BOOL:
		fputs(v->v.u64 ? "true" : "false", stdout);
		break;
	case GGUF_TYPE_STRING:
		print_str(v->v.str, SHOW_STR);
		break;
	case GGUF_TYPE_ARRAY: {
		uint64_t n = v->v.arr.count, shown = n < SHOW_ARR ? n : SHOW_ARR;
		printf("[%s x %" PRIu64 ": ", gguf_type_name(v->v.arr.elem_type), n);
		for (uint64_t i = 0; i < shown; i++) {
			if (i)
				fputs(", ", stdout);
			if (v->v.arr.items) {
				if (depth < 4)
					print_value(&v->v.arr.items[i], depth + 1);
			} else if (v->v.arr.elem_type == GGUF_TYPE_FLOAT32 || v->v.arr.elem_type == GGUF_TYPE_FLOAT64) {
				printf("%.6g", gguf_arr_f64(v, i));
			} else {
				printf("%" PRId64, gguf_arr_i64(v, i));
			}
		}
		fputs(n > shown ? ", ...]" : "]", stdout);
		break;
	}
	default:
		fputs("?", stdout);
	}
}

int cmd_info(int argc, char **argv)
{
	struct args a;
	const char *path = NULL;
	struct gguf_file *f = NULL;
	uint64_t n_params = 0, type_count[AJAR_TYPE_COUNT] = { 0 }, type_bytes[AJAR_TYPE_COUNT] = { 0 };
	char hex[65];
	int rc = 1;

	args_init(&a, "info", argc, argv);
	while (a.i < a.argc) {
		if (args_flag(&a, "--help", "-h")) {
			puts("usage: ajar info MODEL\n  architecture, parameter count, context length, tensor type histogram,\n"
			     "  all metadata and the SHA-256 of a GGUF file");
			return 0;
		} else if (!path && a.argv[a.i][0] != '-') {
			path = a.argv[a.i++];
		} else {
			args_error(&a, "unexpected argument '%s' (see --help)", a.argv[a.i]);
			return 2;
		}
	}
	if (!path) {
		args_error(&a, "MODEL is required (see --help)");
		return 2;
	}
	if (sodium_init() < 0) {
		args_error(&a, "libsodium failed to initialize");
		return 1;
	}
	if (gguf_open(path, &f)) {
		args_fail(&a);
		return 1;
	}
	for (size_t i = 0; i < gguf_n_tensors(f); i++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(f, i);
		n_params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
		if (t->type < AJAR_TYPE_COUNT) {
			type_count[t->type]++;
			type_bytes[t->type] += t->size;
		}
	}
	struct gguf_str arch = { "", 0 };
	if (gguf_get_str(f, "general.architecture", &arch))
		arch = (struct gguf_str){ "(none)", 6 };
	char key[160];
	uint32_t ctx_len = 0;
	snprintf(key, sizeof(key), "%.*s.context_length", (int)(arch.len < 100 ? arch.len : 100), arch.data);
	bool has_ctx = gguf_get_u32(f, key, &ctx_len) == AJAR_OK;
	transparency_file_sha256(f, hex);

	printf("file:          %s\n", path);
	printf("size:          %zu bytes\n", gguf_file_size(f));
	printf("sha256:        %s\n", hex);
	printf("gguf version:  %u\n", gguf_version(f));
	printf("architecture:  %.*s\n", (int)arch.len, arch.data);
	printf("parameters:    %" PRIu64 " (%.2f M)\n", n_params, (double)n_params / 1e6);
	if (has_ctx)
		printf("context:       %u\n", ctx_len);
	else
		printf("context:       (not given)\n");
	printf("tensors:       %zu\n", gguf_n_tensors(f));
	for (int t = 0; t < AJAR_TYPE_COUNT; t++)
		if (type_count[t])
			printf("  %-8s %6" PRIu64 " tensors, %" PRIu64 " bytes\n", ajar_type_name((uint32_t)t), type_count[t],
			       type_bytes[t]);
	printf("metadata:      %zu keys\n", gguf_n_kv(f));
	for (size_t i = 0; i < gguf_n_kv(f); i++) {
		const struct gguf_kv *kv = gguf_kv_at(f, i);
		printf("  %.*s = ", (int)kv->key.len, kv->key.data);
		print_value(&kv->value, 0);
		putchar('\n');
	}
	rc = 0;
	gguf_close(f);
	return rc;
}
