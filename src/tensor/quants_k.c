/*
 * quants_k.c - reference dequantizers and quantizers for the K-quants
 * (Q2_K .. Q6_K), Q8_K and IQ4_NL, one block at a time (layouts in
 * kquants_int.h). quants.c walks rows and dispatches here.
 *
 * Dequantizers compute exactly what ggml's dequantize_row_* compute, with
 * the same float expressions in the same order, so values agree bit for bit.
 *
 * Quantizers reproduce llama.cpp's (ggml-quants.c) for data without an
 * importance matrix, which is what llama-quantize writes in that case:
 *   Q2_K .. Q6_K   quantize_row_q*_K_ref
 *   Q8_K           quantize_row_q8_K_ref
 *   IQ4_NL         quantize_iq4_nl (its search over 15 scales); the
 *                  cheaper quantize_row_iq4_nl_ref is the ntry = -1 form.
 * Each searches for a sub-block scale (and min) that minimises a weighted
 * squared (or absolute) error, quantizes those scales against one f16
 * super-block scale, then re-quantizes the values with the scales as
 * stored. Matching bytes needs the same search, the same candidate order
 * and tie-breaking, and every float operation rounded as ggml rounds it:
 * a product and a sum are never fused into an FMA. GCC in ISO C mode (the
 * build's -std=c11) does not contract, but would in GNU mode with FMA
 * enabled, and clang contracts within an expression by default: the pragmas
 * below rule out both (checked: bytes equal llama.cpp's built either way;
 * only clang's -ffp-contract=fast overrides them). ggml's implicit
 * conversions (int * float, int -> int8_t) are written out as casts with
 * the same effect.
 */
#include "ajar/tensor.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "tensor/kquants_int.h"

/* No FMA contraction here, whatever the flags (see above). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* A sub-block whose largest magnitude is below this is all zeros to the
 * quantizers (ggml's GROUP_MAX_EPS): no scale is searched for it. */
#define GROUP_MAX_EPS 1e-15f

const int8_t iq4nl_values[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };

static inline int clamp_int(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The low byte of i, as a conversion of an int to uint8_t / int8_t keeps it
 * (ggml stores ints into byte fields without range checks). */
static inline uint8_t low_u8(int i)
{
	return (uint8_t)((unsigned)i & 0xffu);
}

static inline int8_t low_i8(int i)
{
	const int b = low_u8(i);
	return (int8_t)(b >= 128 ? b - 256 : b);
}

/* The value of largest magnitude with its sign, the first one on a tie;
 * *amax_out is its magnitude. */
static float absmax_signed(const float *x, int n, float *amax_out)
{
	float amax = 0.0f, max = 0.0f;
	for (int i = 0; i < n; i++) {
		const float ax = fabsf(x[i]);
		if (ax > amax) {
			amax = ax;
			max = x[i];
		}
	}
	*amax_out = amax;
	return max;
}

/* 2-bit fields: value 128*h + 32*k + l goes to bits 2k of byte 32*h + l
 * (Q2_K's and Q3_K's qs). L holds 256 values < 4. */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
	for (int h = 0; h < QK_K / 128; h++)
		for (int l = 0; l < 32; l++) {
			const uint8_t *v = L + 128 * h + l;
			qs[32 * h + l] = (uint8_t)(v[0] | v[32] << 2 | v[64] << 4 | v[96] << 6);
		}
}

/* ---- scale searches (ggml's make_q*_quants) ------------------------------ */

/*
 * Symmetric search for n values on levels -nmax .. nmax-1 with weights x^2
 * (ggml's make_qx_quants with rmse_type 1 and no importance weights; Q6_K).
 * Starts from the scale that maps the extreme value to -nmax, then tries 18
 * nearby scales, keeping the one with the best weighted least-squares fit.
 * L[i] = level + nmax. Returns the fitted scale (0 for an all-zero block).
 */
static float make_qx_quants(int n, int nmax, const float *x, uint8_t *L)
{
	float amax;
	const float max = absmax_signed(x, n, &amax);
	if (amax < GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0.0f;
	}
	float iscale = (float)-nmax / max;
	float sumlx = 0.0f, suml2 = 0.0f;
	for (int i = 0; i < n; i++) {
		const int l = clamp_int(kquants_nearest_int(iscale * x[i]), -nmax, nmax - 1);
		const float w = x[i] * x[i];
		L[i] = (uint8_t)(l + nmax);
		sumlx += w * x[i] * (float)l;
		suml2 += w * (float)l * (float)l;
	}
	float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
	float best = scale * sumlx;
	for (int is = -9; is <= 9; is++) {
		if (is == 0)
			continue;
		iscale = -((float)nmax + 0.1f * (float)is) / max;
		sumlx = suml2 = 0.0f;
		for (int i = 0; i < n; i++) {
			const int l = clamp_int(kquants_nearest_int(iscale * x[i]), -nmax, nmax - 1);
			const float w = x[i] * x[i];
			sumlx += w * x[i] * (float)l;
			suml2 += w * (float)l * (float)l;
		}
		/* sumlx^2 / suml2 is the error reduction of the fitted scale */
		if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
			for (int i = 0; i < n; i++)
				L[i] = (uint8_t)(nmax + clamp_int(kquants_nearest_int(iscale * x[i]), -nmax, nmax - 1));
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

/*
 * Symmetric search for Q3_K (ggml's make_q3_quants with do_rmse): levels
 * -nmax .. nmax-1, weights x^2, then up to five passes of coordinate
 * descent that move one value to the level its leave-one-out scale prefers
 * when that improves the fit. L[i] = level + nmax.
 */
static float make_q3_quants(int n, int nmax, const float *x, uint8_t *L)
{
	int lv[16]; /* signed levels while searching */
	float amax;
	const float max = absmax_signed(x, n, &amax);
	assert(n <= 16);
	if (amax < GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0.0f;
	}
	const float iscale = (float)-nmax / max;
	float sumlx = 0.0f, suml2 = 0.0f;
	for (int i = 0; i < n; i++) {
		const int l = clamp_int(kquants_nearest_int(iscale * x[i]), -nmax, nmax - 1);
		const float w = x[i] * x[i];
		lv[i] = l;
		sumlx += w * x[i] * (float)l;
		suml2 += w * (float)l * (float)l;
	}
	for (int itry = 0; itry < 5; itry++) {
		int n_changed = 0;
		for (int i = 0; i < n; i++) {
			const float w = x[i] * x[i];
			float slx = sumlx - w * x[i] * (float)lv[i];
			if (slx > 0.0f) {
				float sl2 = suml2 - w * (float)lv[i] * (float)lv[i];
				const int new_l = clamp_int(kquants_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
				if (new_l != lv[i]) {
					slx += w * x[i] * (float)new_l;
					sl2 += w * (float)new_l * (float)new_l;
					if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
						lv[i] = new_l;
						sumlx = slx;
						suml2 = sl2;
						n_changed++;
					}
				}
			}
		}
		if (!n_changed)
			break;
	}
	for (int i = 0; i < n; i++)
		L[i] = (uint8_t)(lv[i] + nmax);
	return sumlx / suml2;
}

/*
 * Asymmetric search, x ~ scale * L - min with L in 0..nmax (ggml's
 * make_qkx2_quants; Q2_K, Q4_K, Q5_K). The minimum is clamped to <= 0 (so
 * the stored min, *the_min = -min, is >= 0). Starts from min..max mapped onto
 * the levels, then for nstep+1 scales (rmin + rdelta*is + nmax) / (max -
 * min) rounds the values and solves the weighted least-squares fit for scale
 * and min together, keeping the candidate with the smallest weighted error
 * (absolute if use_mad, else squared).
 */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
			      float rmin, float rdelta, int nstep, bool use_mad)
{
	uint8_t Laux[32];
	float min = x[0], max = x[0];
	float sum_w = weights[0];
	float sum_x = sum_w * x[0];
	assert(n <= 32);
	for (int i = 1; i < n; i++) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		sum_w += weights[i];
		sum_x += weights[i] * x[i];
	}
	if (min > 0.0f)
		min = 0.0f;
	if (max == min) {
		memset(L, 0, (size_t)n);
		*the_min = -min;
		return 0.0f;
	}
	float iscale = (float)nmax / (max - min);
	float scale = 1.0f / iscale;
	float best_mad = 0.0f;
	for (int i = 0; i < n; i++) {
		const int l = kquants_nearest_int(iscale * (x[i] - min));
		L[i] = (uint8_t)clamp_int(l, 0, nmax);
		float diff = scale * (float)L[i] + min - x[i];
		diff = use_mad ? fabsf(diff) : diff * diff;
		best_mad += weights[i] * diff;
	}
	for (int is = 0; is <= nstep; is++) {
		iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
		float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
		for (int i = 0; i < n; i++) {
			const int l = clamp_int(kquants_nearest_int(iscale * (x[i] - min)), 0, nmax);
			const float w = weights[i];
			Laux[i] = (uint8_t)l;
			sum_l += w * (float)l;
			sum_l2 += w * (float)l * (float)l;
			sum_xl += w * (float)l * x[i];
		}
		const float D = sum_w * sum_l2 - sum_l * sum_l;
		if (D > 0.0f) {
			float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
			float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
			if (this_min > 0.0f) {
				this_min = 0.0f;
				this_scale = sum_xl / sum_l2;
			}
			float mad = 0.0f;
			for (int i = 0; i < n; i++) {
				float diff = this_scale * (float)Laux[i] + this_min - x[i];
				diff = use_mad ? fabsf(diff) : diff * diff;
				mad += weights[i] * diff;
			}
			if (mad < best_mad) {
				memcpy(L, Laux, (size_t)n);
				best_mad = mad;
				scale = this_scale;
				min = this_min;
			}
		}
	}
	*the_min = -min;
	return scale;
}

/* ---- Q2_K ---------------------------------------------------------------- */

void kquants_dequantize_q2_K(const uint8_t *src, float *y)
{
	struct block_q2_K b;
	memcpy(&b, src, sizeof(b));
	const float d = ajar_f16_to_f32(b.d);
	const float dmin = ajar_f16_to_f32(b.dmin);
	for (int v = 0; v < QK_K; v += 16) {
		/* values v .. v+15: sub-block v/16, byte 32*h + l, bits 2k */
		const int h = v / 128, k = (v / 32) % 4, l0 = v % 32;
		const uint8_t sc = b.scales[v / 16];
		const float dl = d * (float)(sc & 0x0f);
		const float ml = dmin * (float)(sc >> 4);
		for (int l = 0; l < 16; l++) {
			const int q = (b.qs[32 * h + l0 + l] >> (2 * k)) & 3;
			y[v + l] = dl * (float)q - ml;
		}
	}
}

/*
 * quantize_row_q2_K_ref: per sub-block of 16 an asymmetric fit on 4 levels
 * (weights |x|, absolute error); scales and mins as 4-bit multiples of
 * max/15; then the values re-quantized with the stored scale and min.
 */
void kquants_quantize_q2_K(const float *x, uint8_t *dst)
{
	struct block_q2_K b;
	uint8_t L[QK_K];
	float weights[16], scales[QK_K / 16], mins[QK_K / 16];
	float max_scale = 0.0f, max_min = 0.0f; /* scales and mins are >= 0 here */

	for (int j = 0; j < QK_K / 16; j++) {
		for (int l = 0; l < 16; l++)
			weights[l] = fabsf(x[16 * j + l]);
		scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, true);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}

	memset(b.scales, 0, sizeof(b.scales));
	b.d = ajar_f32_to_f16(0.0f);
	if (max_scale > 0.0f) {
		const float iscale = 15.0f / max_scale;
		for (int j = 0; j < QK_K / 16; j++)
			b.scales[j] = low_u8(kquants_nearest_int(iscale * scales[j]));
		b.d = ajar_f32_to_f16(max_scale / 15.0f);
	}
	b.dmin = ajar_f32_to_f16(0.0f);
	if (max_min > 0.0f) {
		const float iscale = 15.0f / max_min;
		for (int j = 0; j < QK_K / 16; j++)
			b.scales[j] |= (uint8_t)(((unsigned)kquants_nearest_int(iscale * mins[j]) << 4) & 0xffu);
		b.dmin = ajar_f32_to_f16(max_min / 15.0f);
	}

	const float d_all = ajar_f16_to_f32(b.d), dmin_all = ajar_f16_to_f32(b.dmin);
	for (int j = 0; j < QK_K / 16; j++) {
		const float d = d_all * (float)(b.scales[j] & 0x0f);
		if (d == 0.0f) /* keep the search's levels */
			continue;
		const float dm = dmin_all * (float)(b.scales[j] >> 4);
		for (int i = 0; i < 16; i++) {
			const int l = kquants_nearest_int((x[16 * j + i] + dm) / d);
			L[16 * j + i] = (uint8_t)clamp_int(l, 0, 3);
		}
	}
	pack_2bit(L, b.qs);
	memcpy(dst, &b, sizeof(b));
}

/* ---- Q3_K ---------------------------------------------------------------- */

void kquants_dequantize_q3_K(const uint8_t *src, float *y)
{
	struct block_q3_K b;
	int8_t sc[16];
	memcpy(&b, src, sizeof(b));
	kquants_scales_q3_K(b.scales, sc);
	const float d_all = ajar_f16_to_f32(b.d);
	for (int v = 0; v < QK_K; v += 16) {
		const int h = v / 128, k = (v / 32) % 4, l0 = v % 32;
		const float dl = d_all * (float)sc[v / 16];
		for (int l = 0; l < 16; l++) {
			const int lo = (b.qs[32 * h + l0 + l] >> (2 * k)) & 3;
			const int hi = (b.hmask[l0 + l] >> (v / 32)) & 1;
			y[v + l] = dl * (float)(lo - (hi ? 0 : 4));
		}
	}
}

/*
 * quantize_row_q3_K_ref: per sub-block of 16 a symmetric fit on 8 levels
 * (make_q3_quants); the 16 signed scales as 6-bit multiples of max/-32
 * (the extreme scale takes the level -32); values re-quantized with the
 * stored scales.
 */
void kquants_quantize_q3_K(const float *x, uint8_t *dst)
{
	struct block_q3_K b;
	uint8_t L[QK_K];
	float scales[QK_K / 16];
	float max_scale = 0.0f, amax = 0.0f;

	for (int j = 0; j < QK_K / 16; j++) {
		scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
		if (fabsf(scales[j]) > amax) {
			amax = fabsf(scales[j]);
			max_scale = scales[j];
		}
	}

	memset(b.scales, 0, sizeof(b.scales));
	b.d = ajar_f32_to_f16(0.0f);
	if (max_scale != 0.0f) {
		const float iscale = -32.0f / max_scale;
		for (int j = 0; j < QK_K / 16; j++) {
			/* ggml narrows to int8_t before clamping */
			const int l = clamp_int(low_i8(kquants_nearest_int(iscale * scales[j])), -32, 31) + 32;
			if (j < 8)
				b.scales[j] = (uint8_t)(l & 0x0f);
			else
				b.scales[j - 8] |= (uint8_t)((l & 0x0f) << 4);
			b.scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
		}
		b.d = ajar_f32_to_f16(1.0f / iscale);
	}

	int8_t sc[16];
	kquants_scales_q3_K(b.scales, sc);
	const float d_all = ajar_f16_to_f32(b.d);
	for (int j = 0; j < QK_K / 16; j++) {
		const float d = d_all * (float)sc[j];
		if (d == 0.0f)
			continue;
		for (int i = 0; i < 16; i++) {
			const int l = kquants_nearest_int(x[16 * j + i] / d);
			L[16 * j + i] = (uint8_t)(clamp_int(l, -4, 3) + 4);
		}
	}

	/* bit 2 of value v to hmask byte v % 32, bit v / 32 */
	memset(b.hmask, 0, sizeof(b.hmask));
	for (int v = 0; v < QK_K; v++) {
		if (L[v] > 3) {
			b.hmask[v % 32] |= (uint8_t)(1u << (v / 32));
			L[v] -= 4;
		}
	}
	pack_2bit(L, b.qs);
	memcpy(dst, &b, sizeof(b));
}

/* ---- Q4_K and Q5_K ------------------------------------------------------- */

static void dequantize_q45_K(const uint8_t *scales, uint16_t d16, uint16_t dmin16, const uint8_t *qs,
			     const uint8_t *qh, float *y)
{
	const float d = ajar_f16_to_f32(d16);
	const float dmin = ajar_f16_to_f32(dmin16);
	for (int s = 0; s < QK_K / 32; s++) {
		uint8_t sc, mn;
		kquants_scale_min_k4(s, scales, &sc, &mn);
		const float ds = d * (float)sc;
		const float ms = dmin * (float)mn;
		const uint8_t *q = qs + 32 * (s / 2);
		const int shift = 4 * (s % 2);
		for (int l = 0; l < 32; l++) {
			int v = (q[l] >> shift) & 0x0f;
			if (qh)
				v += (qh[l] >> s) & 1 ? 16 : 0;
			y[32 * s + l] = ds * (float)v - ms;
		}
	}
}

void kquants_dequantize_q4_K(const uint8_t *src, float *y)
{
	struct block_q4_K b;
	memcpy(&b, src, sizeof(b));
	dequantize_q45_K(b.scales, b.d, b.dmin, b.qs, NULL, y);
}

void kquants_dequantize_q5_K(const uint8_t *src, float *y)
{
	struct block_q5_K b;
	memcpy(&b, src, sizeof(b));
	dequantize_q45_K(b.scales, b.d, b.dmin, b.qs, b.qh, y);
}

/*
 * The shared part of quantize_row_q4_K_ref and quantize_row_q5_K_ref: per
 * sub-block of 32 an asymmetric fit on nmax+1 levels with weights
 * rms(sub-block) + |x| (squared error); scales and mins as 6-bit multiples
 * of max/63 packed as kquants_scale_min_k4 reads them; then the values
 * re-quantized with the stored scale and min into L (0..nmax).
 */
static void quantize_q45_K(const float *x, int nmax, float rmin, int nstep, uint8_t scales_out[12], uint16_t *d_out,
			   uint16_t *dmin_out, uint8_t *L)
{
	float weights[32], scales[QK_K / 32], mins[QK_K / 32];
	float max_scale = 0.0f, max_min = 0.0f;

	for (int j = 0; j < QK_K / 32; j++) {
		const float *xb = x + 32 * j;
		float sum_x2 = 0.0f;
		for (int l = 0; l < 32; l++)
			sum_x2 += xb[l] * xb[l];
		const float av_x = sqrtf(sum_x2 / 32.0f);
		for (int l = 0; l < 32; l++)
			weights[l] = av_x + fabsf(xb[l]);
		scales[j] = make_qkx2_quants(32, nmax, xb, weights, L + 32 * j, &mins[j], rmin, 0.1f, nstep, false);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}

	const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
	const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
	uint8_t *sb = scales_out;
	memset(sb, 0, 12);
	for (int j = 0; j < QK_K / 32; j++) {
		uint8_t ls = low_u8(kquants_nearest_int(inv_scale * scales[j]));
		uint8_t lm = low_u8(kquants_nearest_int(inv_min * mins[j]));
		ls = ls < 63 ? ls : 63;
		lm = lm < 63 ? lm : 63;
		if (j < 4) {
			sb[j] = ls;
			sb[j + 4] = lm;
		} else {
			sb[j + 4] = (uint8_t)((ls & 0x0f) | (lm & 0x0f) << 4);
			sb[j - 4] |= (uint8_t)((ls >> 4) << 6);
			sb[j] |= (uint8_t)((lm >> 4) << 6);
		}
	}
	*d_out = ajar_f32_to_f16(max_scale / 63.0f);
	*dmin_out = ajar_f32_to_f16(max_min / 63.0f);

	const float d_all = ajar_f16_to_f32(*d_out), dmin_all = ajar_f16_to_f32(*dmin_out);
	for (int j = 0; j < QK_K / 32; j++) {
		uint8_t sc, mn;
		kquants_scale_min_k4(j, sb, &sc, &mn);
		const float d = d_all * (float)sc;
		if (d == 0.0f)
			continue;
		const float dm = dmin_all * (float)mn;
		for (int i = 0; i < 32; i++) {
			const int l = kquants_nearest_int((x[32 * j + i] + dm) / d);
			L[32 * j + i] = (uint8_t)clamp_int(l, 0, nmax);
		}
	}
}

void kquants_quantize_q4_K(const float *x, uint8_t *dst)
{
	struct block_q4_K b;
	uint8_t L[QK_K];
	quantize_q45_K(x, 15, -1.0f, 20, b.scales, &b.d, &b.dmin, L);
	for (int k = 0; k < QK_K / 64; k++)
		for (int l = 0; l < 32; l++)
			b.qs[32 * k + l] = (uint8_t)(L[64 * k + l] | L[64 * k + 32 + l] << 4);
	memcpy(dst, &b, sizeof(b));
}

void kquants_quantize_q5_K(const float *x, uint8_t *dst)
{
	struct block_q5_K b;
	uint8_t L[QK_K];
	quantize_q45_K(x, 31, -0.5f, 15, b.scales, &b.d, &b.dmin, L);
	memset(b.qh, 0, sizeof(b.qh));
	for (int s = 0; s < QK_K / 32; s++)
		for (int l = 0; l < 32; l++)
			b.qh[l] |= (uint8_t)((L[32 * s + l] >> 4) << s);
	for (int k = 0; k < QK_K / 64; k++)
		for (int l = 0; l < 32; l++)
			b.qs[32 * k + l] = (uint8_t)((L[64 * k + l] & 0x0f) | (L[64 * k + 32 + l] & 0x0f) << 4);
	memcpy(dst, &b, sizeof(b));
}

/* ---- Q6_K ---------------------------------------------------------------- */

void kquants_dequantize_q6_K(const uint8_t *src, float *y)
{
	struct block_q6_K b;
	memcpy(&b, src, sizeof(b));
	const float d = ajar_f16_to_f32(b.d);
	for (int v = 0; v < QK_K; v += 16) {
		const int h = v / 128, k = (v / 32) % 4, l0 = v % 32;
		const float ds = d * (float)b.scales[v / 16];
		const uint8_t *ql = b.ql + 64 * h + 32 * (k & 1) + l0;
		const uint8_t *qh = b.qh + 32 * h + l0;
		for (int l = 0; l < 16; l++) {
			const int lo = (ql[l] >> (4 * (k >> 1))) & 0x0f;
			const int hi = (qh[l] >> (2 * k)) & 3;
			y[v + l] = ds * (float)((lo | hi << 4) - 32);
		}
	}
}

/*
 * quantize_row_q6_K_ref: per sub-block of 16 a symmetric fit on 64 levels
 * (make_qx_quants); the signed scales as 8-bit multiples of max/-128;
 * values re-quantized with the stored scales.
 */
void kquants_quantize_q6_K(const float *x, uint8_t *dst)
{
	struct block_q6_K b;
	uint8_t L[QK_K];
	float scales[QK_K / 16];
	float max_scale = 0.0f, max_abs_scale = 0.0f;

	for (int j = 0; j < QK_K / 16; j++) {
		scales[j] = make_qx_quants(16, 32, x + 16 * j, L + 16 * j);
		if (fabsf(scales[j]) > max_abs_scale) {
			max_abs_scale = fabsf(scales[j]);
			max_scale = scales[j];
		}
	}
	memset(&b, 0, sizeof(b));
	if (max_abs_scale < GROUP_MAX_EPS) { /* all zeros: every byte 0 */
		memcpy(dst, &b, sizeof(b));
		return;
	}

	const float iscale = -128.0f / max_scale;
	b.d = ajar_f32_to_f16(1.0f / iscale);
	for (int j = 0; j < QK_K / 16; j++) {
		const int l = kquants_nearest_int(iscale * scales[j]);
		b.scales[j] = low_i8(l < 127 ? l : 127);
	}

	const float d_all = ajar_f16_to_f32(b.d);
	for (int j = 0; j < QK_K / 16; j++) {
		const float d = d_all * (float)b.scales[j];
		if (d == 0.0f)
			continue;
		for (int i = 0; i < 16; i++) {
			const int l = kquants_nearest_int(x[16 * j + i] / d);
			L[16 * j + i] = (uint8_t)(clamp_int(l, -32, 31) + 32);
		}
	}

	for (int h = 0; h < QK_K / 128; h++) {
		for (int l = 0; l < 32; l++) {
			const uint8_t *v = L + 128 * h + l; /* v[32*k], k < 4 */
			b.ql[64 * h + l] = (uint8_t)((v[0] & 0x0f) | (v[64] & 0x0f) << 4);
			b.ql[64 * h + 32 + l] = (uint8_t)((v[32] & 0x0f) | (v[96] & 0x0f) << 4);
			b.qh[32 * h + l] = (uint8_t)(v[0] >> 4 | (v[32] >> 4) << 2 | (v[64] >> 4) << 4 | (v[96] >> 4) << 6);
		}
	}
	memcpy(dst, &b, sizeof(b));
}

/* ---- Q8_K ---------------------------------------------------------------- */

void kquants_dequantize_q8_K(const uint8_t *src, float *y)
{
	struct block_q8_K b;
	memcpy(&b, src, sizeof(b));
	for (int i = 0; i < QK_K; i++)
		y[i] = b.d * (float)b.qs[i];
}

void kquants_quantize_q8_K(const float *x, uint8_t *dst)
{
	kquants_quantize_row_q8_K(x, dst, QK_K);
}

/* ---- IQ4_NL -------------------------------------------------------------- */

void kquants_dequantize_iq4_nl(const uint8_t *src, float *y)
{
	struct block_iq4_nl b;
	memcpy(&b, src, sizeof(b));
	const float d = ajar_f16_to_f32(b.d);
	for (int j = 0; j < QK_IQ4 / 2; j++) {
		y[j] = d * (float)iq4nl_values[b.qs[j] & 0x0f];
		y[j + QK_IQ4 / 2] = d * (float)iq4nl_values[b.qs[j] >> 4];
	}
}

/* Index of the level nearest x (the upper one on a tie), as ggml's
 * best_index_int8; NaN gives the last index. */
static int iq4nl_nearest(float x)
{
	const int8_t *val = iq4nl_values;
	if (x <= (float)val[0])
		return 0;
	if (x >= (float)val[15])
		return 15;
	int lo = 0, hi = 15;
	while (hi - lo > 1) {
		const int mid = (lo + hi) / 2;
		if (x < (float)val[mid])
			hi = mid;
		else
			lo = mid;
	}
	return x - (float)val[hi - 1] < (float)val[hi] - x ? hi - 1 : hi;
}

/* Weighted sums for scale 1/id: sum w*q*x and sum w*q^2 over the block,
 * where q is the level nearest id*x and w = x^2. */
static void iq4nl_fit(const float *x, float id, uint8_t *L, float *sumqx_out, float *sumq2_out)
{
	float sumqx = 0.0f, sumq2 = 0.0f;
	for (int j = 0; j < QK_IQ4; j++) {
		const int l = iq4nl_nearest(id * x[j]);
		const float q = (float)iq4nl_values[l];
		const float w = x[j] * x[j];
		if (L)
			L[j] = (uint8_t)l;
		sumqx += w * q * x[j];
		sumq2 += w * q * q;
	}
	*sumqx_out = sumqx;
	*sumq2_out = sumq2;
}

/*
 * ggml's quantize_row_iq4_nl_impl for one block of 32 without importance
 * weights (w = x^2): start from the scale that puts the extreme value on
 * level 127 (ntry > 0; the top level is 113, so it lands there) or on -127
 * (ntry <= 0, the _ref form), and fit the scale to the levels chosen by
 * weighted least squares. With ntry > 0, also try the scales that put the
 * extreme on -127 + t, t = -ntry..ntry, keep the best fit, and finally
 * round every value to the level nearest x / d.
 */
void kquants_quantize_iq4_nl_ntry(const float *x, uint8_t *dst, int ntry)
{
	struct block_iq4_nl b;
	uint8_t L[QK_IQ4];
	float amax, d = 0.0f;
	const float max = absmax_signed(x, QK_IQ4, &amax);
	const float v0 = (float)iq4nl_values[0];

	memset(L, 0, sizeof(L));
	if (amax >= GROUP_MAX_EPS) {
		float sumqx, sumq2;
		d = ntry > 0 ? -max / v0 : max / v0;
		iq4nl_fit(x, 1.0f / d, L, &sumqx, &sumq2);
		d = sumqx / sumq2;
		float best = d * sumqx;
		for (int t = -ntry; t <= ntry; t++) {
			const float id = (float)(t + iq4nl_values[0]) / max;
			iq4nl_fit(x, id, NULL, &sumqx, &sumq2);
			if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
				d = sumqx / sumq2;
				best = d * sumqx;
			}
		}
	}
	/* ggml's _ref form (ntry <= 0) keeps the first pass's levels and leaves
	 * an all-zero block's levels unset (its d is 0, so they read back as 0
	 * whatever they are); here they are 0 then. */
	b.d = ajar_f32_to_f16(d);
	if (ntry > 0) {
		const float id = d != 0.0f ? 1.0f / d : 0.0f;
		for (int j = 0; j < QK_IQ4; j++)
			L[j] = (uint8_t)iq4nl_nearest(id * x[j]);
	}
	for (int j = 0; j < QK_IQ4 / 2; j++)
		b.qs[j] = (uint8_t)(L[j] | L[j + QK_IQ4 / 2] << 4);
	memcpy(dst, &b, sizeof(b));
}

void kquants_quantize_iq4_nl(const float *x, uint8_t *dst)
{
	kquants_quantize_iq4_nl_ntry(x, dst, 7);
}
