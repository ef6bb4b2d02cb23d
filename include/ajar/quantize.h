/*
 * quantize.h - converting a GGUF model's weights to a quantized type, as
 * llama.cpp's llama-quantize does.
 *
 * ajar_quantize_file() reads IN, copies every metadata key (setting
 * general.file_type to the chosen file type and general.quantization_version
 * to 2, dropping split.* keys), and writes every tensor in IN's order:
 *
 *   - a tensor is quantized if its name ends in "weight", it has 2 or more
 *     dimensions, and it is not a norm ("_norm.weight") or one of the small
 *     tensors llama.cpp keeps (ffn_gate_inp, position/token-type embeddings,
 *     ssm_conv1d, time_mix_*, attn_rel_b); everything else is copied as is;
 *   - its type is the file type's base type, adjusted by llama.cpp's mix
 *     policy (llama_tensor_get_type) unless `pure` is set:
 *       output.weight (or token_embd.weight when the output is tied):
 *           Q8_0 if its rows are not whole blocks of the base type, else
 *           Q6_K unless the base type is Q8_0;
 *       Q4_K_M / Q5_K_M: attn_v.weight and ffn_down.weight are Q6_K in the
 *           "more bits" layers i (i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2);
 *       Q4_K_S: attn_v.weight Q5_K in layers 0..3, ffn_down.weight Q5_K in
 *           the first n/8 layers;
 *       70B models (80 layers with grouped-query attention): attn_v.weight
 *           Q5_K instead of Q4_K; 8-expert models: attn_v and attn_k Q8_0,
 *           attn_output Q5_K for Q4_K_S/M.
 *     token_embd.weight otherwise keeps the base type;
 *   - a type whose block does not divide the row length falls back as
 *     llama.cpp does (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0), and to F16
 *     when that does not fit either. Where llama.cpp gives up (a Q4_0..Q8_0
 *     base type on a row that is not a multiple of 32) ajar also uses F16.
 *     A type this build cannot quantize to yet falls back the same way.
 *     Each fallback is reported (struct ajar_quantize_tensor.fallback).
 *   - the source row is dequantized to F32 first, so any type ajar can
 *     dequantize is accepted (requantizing a quantized model loses
 *     precision; it is allowed, as with llama-quantize --allow-requantize);
 *     a tensor already of its target type is copied unchanged. Rows with
 *     non-finite values are refused (llama.cpp's validation does the same).
 *
 * Rows are split over a thread pool. The quantized tensors are held in
 * memory until the file is written (atomically: temp file + rename), so peak
 * memory is about the size of the output plus the mapped input.
 */
#ifndef AJAR_QUANTIZE_H
#define AJAR_QUANTIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"
#include "ajar/gguf.h"

/* llama.cpp's enum llama_ftype: the value written to general.file_type. */
enum ajar_ftype {
	AJAR_FTYPE_ALL_F32 = 0,
	AJAR_FTYPE_MOSTLY_F16 = 1,
	AJAR_FTYPE_MOSTLY_Q4_0 = 2,
	AJAR_FTYPE_MOSTLY_Q4_1 = 3,
	AJAR_FTYPE_MOSTLY_Q8_0 = 7,
	AJAR_FTYPE_MOSTLY_Q5_0 = 8,
	AJAR_FTYPE_MOSTLY_Q5_1 = 9,
	AJAR_FTYPE_MOSTLY_Q4_K_S = 14,
	AJAR_FTYPE_MOSTLY_Q4_K_M = 15,
	AJAR_FTYPE_MOSTLY_Q5_K_S = 16,
	AJAR_FTYPE_MOSTLY_Q5_K_M = 17,
	AJAR_FTYPE_MOSTLY_Q6_K = 18,
	AJAR_FTYPE_MOSTLY_BF16 = 32,
};

/* Parses a file type as llama-quantize names it, case-insensitively:
 * "Q4_0", "q8_0", "Q4_K_M", ... "Q4_K" and "Q5_K" are llama-quantize's
 * aliases for Q4_K_M and Q5_K_M. AJAR_ERR_INVALID (message lists the names)
 * for anything else. */
enum ajar_err ajar_ftype_parse(const char *name, enum ajar_ftype *out) AJAR_MUST_CHECK;

/* Name of a general.file_type value ("Q4_K_M"), including llama.cpp file
 * types ajar cannot produce; "unknown" for numbers llama.cpp does not define. */
const char *ajar_ftype_name(uint32_t ftype);

/* The file types ajar_ftype_parse accepts, comma-separated, for messages. */
const char *ajar_ftype_list(void);

/* One tensor as written, for progress reports. Pointers are borrowed for the
 * duration of the callback. */
struct ajar_quantize_tensor {
	size_t index, count;         /* index among count tensors, from 0 */
	const struct gguf_tensor_info *info; /* the input tensor */
	uint32_t to_type;            /* enum ajar_type written */
	uint32_t wanted_type;        /* the policy's choice before any fallback */
	bool converted;              /* false: copied unchanged */
	bool fallback;               /* to_type != wanted_type */
	const char *fallback_reason; /* why, when fallback; else NULL */
	uint64_t bytes_out;
};

struct ajar_quantize_params {
	enum ajar_ftype ftype;
	int n_threads; /* 0 = all CPUs */
	bool pure;     /* no mix policy: every quantized tensor gets the base
	                * type (fallbacks for row lengths still apply) */
	/* Called on the calling thread after each tensor is converted or
	 * copied; may be NULL. */
	void (*on_tensor)(void *user, const struct ajar_quantize_tensor *t);
	void *user;
};

struct ajar_quantize_stats {
	size_t n_tensors;
	size_t n_converted; /* tensors whose type or data changed */
	size_t n_fallback;  /* tensors written in a fallback type */
	uint64_t bytes_in;  /* tensor data of IN */
	uint64_t bytes_out; /* tensor data of OUT */
};

/* Converts in_path to out_path (see above). On failure nothing is written at
 * out_path (an existing file there is left as it was). stats may be NULL. */
enum ajar_err ajar_quantize_file(const char *in_path, const char *out_path, const struct ajar_quantize_params *p,
				 struct ajar_quantize_stats *stats) AJAR_MUST_CHECK;

#endif
