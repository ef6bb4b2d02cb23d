/*
 * llama2c.h - converting a llama2.c checkpoint and tokenizer to GGUF.
 *
 * Checkpoint (llama2.c "legacy" export), little-endian:
 *   offset  size            field
 *   0       7 x i32         dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *                           vocab_size (negative: separate classifier), seq_len
 *   28      f32 arrays      token_embedding [vocab][dim]
 *                           rms_att [layer][dim], wq [layer][dim][dim],
 *                           wk, wv [layer][kv_dim][dim], wo [layer][dim][dim],
 *                           rms_ffn [layer][dim], w1 [layer][hidden][dim],
 *                           w2 [layer][dim][hidden], w3 [layer][hidden][dim],
 *                           rms_final [dim], freq_cis_real, freq_cis_imag
 *                           [seq_len][head_size/2] (unused),
 *                           classifier [vocab][dim] only if vocab_size < 0
 * Tokenizer: i32 max_token_length, then per token f32 score, i32 length, bytes.
 *
 * llama2.c rotates adjacent pairs, which is GGUF llama's normal RoPE, so the
 * matrices are copied unpermuted. Spaces in pieces become U+2581; "\n<s>\n"
 * and "\n</s>\n" become the control tokens <s> and </s>.
 */
#ifndef AJAR_LLAMA2C_H
#define AJAR_LLAMA2C_H

#include "ajar/err.h"

enum ajar_err llama2c_import(const char *model_path, const char *tokenizer_path, const char *out_path) AJAR_MUST_CHECK;

#endif
