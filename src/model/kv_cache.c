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
#include "tensor/f16_int.h"

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
		return ops_dot_f32(row, q, n);
	case AJAR_TYPE_F16: {
		const unsigned char *p = row;
		float acc[8] = { 0 }, sum = 0;
		uint32_t i = 0;
		for (; i + 8 <= n; i += 8)
			for (int j = 0; j < 8; j++) {
				uint16_t h;
				memcpy(&h, p + 2 * (i + j), 2);
				acc[j] += f16_to_f32_fast(h) * q[i + j];
			}
		for (; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			sum += f16_to_f32_fast(h) * q[i];
		}
		for (int j = 0; j < 8; j++)
			sum += acc[j];
		return sum;
	}
	default:
		return ajar_vec_dot_f32(type, row, q, n);
	}
}

void kv_axpy(enum ajar_type type, const void *row, float a, float *out, uint32_t n, float *tmp)
{
	const float *v = row;
	switch (type) {
	case AJAR_TYPE_F32:
		break;
	case AJAR_TYPE_F16: {
		const unsigned char *p = row;
		for (uint32_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			out[i] += a * f16_to_f32_fast(h);
		}
		return;
	}
	default:
		ajar_dequantize_row(type, row, tmp, n);
		v = tmp;
		break;
	}
	for (uint32_t i = 0; i < n; i++)
		out[i] += a * v[i];
}
