/*
 * kv_cache.c - the element formats of the KV cache: F32 (exact), F16 (half
 * the memory), Q8_0 (about a quarter; head size must be a multiple of 32).
 *
 * The cache is [seq][layer][pos][kv head][head_dim] with each head's vector
 * stored as one row of the cache type, so attention reads one head of one
 * position as a unit. Storing rounds as the tensor module's quantizers;
 * reading happens inside the attention loops below, one row at a time.
 */
#include "model_int.h"
#include "ajar/kernels.h"

#include <string.h>

enum ajar_err kv_check_type(enum ajar_type type, uint32_t head_dim)
{
	switch (type) {
	case AJAR_TYPE_F32:
	case AJAR_TYPE_F16:
		return AJAR_OK;
	case AJAR_TYPE_Q8_0:
		if (head_dim % 32 != 0)
			return ajar_errf(AJAR_ERR_INVALID, "cache type q8_0 needs a head size that is a multiple of 32 (this model's is %u)",
					 head_dim);
		return AJAR_OK;
	default:
		return ajar_errf(AJAR_ERR_INVALID, "cache type %s is not supported (f32, f16, q8_0)", ajar_type_name(type));
	}
}

size_t kv_head_bytes(enum ajar_type type, uint32_t head_dim)
{
	return ajar_row_size(type, head_dim);
}

void kv_store(enum ajar_type type, void *dst, const float *src, uint32_t n_heads, uint32_t head_dim)
{
	size_t hb = kv_head_bytes(type, head_dim);
	if (type == AJAR_TYPE_F32) {
		memcpy(dst, src, (size_t)n_heads * head_dim * sizeof(float));
		return;
	}
	for (uint32_t h = 0; h < n_heads; h++)
		ajar_quantize_row(type, src + (size_t)h * head_dim, (char *)dst + h * hb, head_dim);
}

float kv_dot(enum ajar_type type, const void *row, const float *q, uint32_t n)
{
	switch (type) {
	case AJAR_TYPE_F32:
		return ajar_dot_f32(row, q, n);
	case AJAR_TYPE_F16:
		return ajar_dot_f16(row, q, n);
	default:
		return ajar_vec_dot_f32(type, row, q, n);
	}
}

void kv_axpy(enum ajar_type type, const void *row, float a, float *out, uint32_t n, float *tmp)
{
	switch (type) {
	case AJAR_TYPE_F32:
		ajar_axpy_f32(a, row, out, n);
		return;
	case AJAR_TYPE_F16:
		ajar_axpy_f16(a, row, out, n);
		return;
	default:
		ajar_dequantize_row(type, row, tmp, n);
		ajar_axpy_f32(a, tmp, out, n);
		return;
	}
}

void kv_dots(enum ajar_type type, const void *rows, size_t stride, int32_t n_rows, const float *q, uint32_t n,
	     float scale, float *out)
{
	const unsigned char *p = rows;
	switch (type) {
	case AJAR_TYPE_F32:
		ajar_dots_f32(rows, stride, n_rows, q, n, scale, out);
		return;
	case AJAR_TYPE_F16:
		ajar_dots_f16(rows, stride, n_rows, q, n, scale, out);
		return;
	default:
		for (int32_t i = 0; i < n_rows; i++)
			out[i] = kv_dot(type, p + (size_t)i * stride, q, n) * scale;
		return;
	}
}

void kv_axpys(enum ajar_type type, const float *a, const void *rows, size_t stride, int32_t n_rows, float *out,
	      uint32_t n, float *tmp)
{
	const unsigned char *p = rows;
	switch (type) {
	case AJAR_TYPE_F32:
		ajar_axpys_f32(a, rows, stride, n_rows, out, n);
		return;
	case AJAR_TYPE_F16:
		ajar_axpys_f16(a, rows, stride, n_rows, out, n);
		return;
	default:
		for (int32_t i = 0; i < n_rows; i++)
			kv_axpy(type, p + (size_t)i * stride, a[i], out, n, tmp);
		return;
	}
}
