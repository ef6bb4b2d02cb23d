/*
 * adamw.c - AdamW, gradient clipping and the learning-rate schedule
 * (adamw.h). The moments of all tensors live in one allocation, m of every
 * tensor first and then v, carved by an offset table; the per-element
 * update is a plain loop the compiler vectorizes.
 */
#include "train/adamw.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct adamw_params adamw_params_default(void)
{
	return (struct adamw_params){ .lr = 3e-4f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f };
}

enum ajar_err adamw_init(struct adamw *opt, const size_t *sizes, size_t n_tensors)
{
	size_t total = 0;

	memset(opt, 0, sizeof(*opt));
	for (size_t i = 0; i < n_tensors; i++) {
		if (sizes[i] > SIZE_MAX / 2 / sizeof(float) - total)
			return ajar_errf(AJAR_ERR_LIMIT, "adamw: %zu tensors' sizes overflow", n_tensors);
		total += sizes[i];
	}
	opt->offsets = malloc((n_tensors + 1) * sizeof(*opt->offsets));
	/* calloc: both moments start at zero, which is what the bias correction assumes. */
	opt->moments = calloc(total ? 2 * total : 1, sizeof(float));
	if (!opt->offsets || !opt->moments) {
		adamw_free(opt);
		return ajar_errf(AJAR_ERR_NOMEM, "adamw: state for %zu floats", total);
	}
	opt->offsets[0] = 0;
	for (size_t i = 0; i < n_tensors; i++)
		opt->offsets[i + 1] = opt->offsets[i] + sizes[i];
	opt->n_tensors = n_tensors;
	return AJAR_OK;
}

void adamw_free(struct adamw *opt)
{
	free(opt->offsets);
	free(opt->moments);
	memset(opt, 0, sizeof(*opt));
}

float *adamw_m(struct adamw *opt, size_t i)
{
	assert(i < opt->n_tensors);
	return opt->moments + opt->offsets[i];
}

float *adamw_v(struct adamw *opt, size_t i)
{
	assert(i < opt->n_tensors);
	return opt->moments + opt->offsets[opt->n_tensors] + opt->offsets[i];
}

/* The update of one tensor; corr1 and corr2 are 1 - beta^t. */
static void adamw_update(const struct adamw_params *hp, float wd, float corr1, float corr2, float *restrict p,
			 const float *restrict g, float *restrict m, float *restrict v, size_t n)
{
	const float b1 = hp->beta1, b2 = hp->beta2, lr = hp->lr, eps = hp->eps;

	for (size_t i = 0; i < n; i++) {
		m[i] = b1 * m[i] + (1.0f - b1) * g[i];
		v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
		float m_hat = m[i] / corr1;
		float v_hat = v[i] / corr2;
		/* Decoupled decay: it acts on the weight, not through the moments,
		 * so a large gradient history does not weaken it (Loshchilov & Hutter). */
		p[i] -= lr * (m_hat / (sqrtf(v_hat) + eps) + wd * p[i]);
	}
}

enum ajar_err adamw_step(struct adamw *opt, const struct adamw_params *hp, const struct adamw_tensor *tensors,
			 size_t n_tensors)
{
	if (n_tensors != opt->n_tensors)
		return ajar_errf(AJAR_ERR_INVALID, "adamw: %zu tensors given, state has %zu", n_tensors, opt->n_tensors);
	for (size_t i = 0; i < n_tensors; i++) {
		size_t want = opt->offsets[i + 1] - opt->offsets[i];
		if (tensors[i].n != want)
			return ajar_errf(AJAR_ERR_INVALID, "adamw: tensor %zu has %zu floats, state has %zu", i,
					 tensors[i].n, want);
	}
	uint64_t t = opt->step + 1;
	/* In double: 1 - 0.95^t in float loses digits for small t exactly where
	 * the correction matters most. */
	float corr1 = (float)(1.0 - pow(hp->beta1, (double)t));
	float corr2 = (float)(1.0 - pow(hp->beta2, (double)t));
	for (size_t i = 0; i < n_tensors; i++) {
		const struct adamw_tensor *x = &tensors[i];
		adamw_update(hp, x->decay ? hp->weight_decay : 0.0f, corr1, corr2, x->param, x->grad, adamw_m(opt, i),
			     adamw_v(opt, i), x->n);
	}
	opt->step = t;
	return AJAR_OK;
}

double grad_clip(float *const *grads, const size_t *sizes, size_t n_tensors, double max_norm)
{
	double sum = 0.0;

	/* A sequential double sum: the same order every run, so the same norm. */
	for (size_t i = 0; i < n_tensors; i++)
		for (size_t j = 0; j < sizes[i]; j++)
			sum += (double)grads[i][j] * grads[i][j];
	double norm = sqrt(sum);
	if (!isfinite(norm) || max_norm <= 0.0 || norm <= max_norm)
		return norm;
	float scale = (float)(max_norm / norm);
	for (size_t i = 0; i < n_tensors; i++)
		for (size_t j = 0; j < sizes[i]; j++)
			grads[i][j] *= scale;
	return norm;
}

float lr_at(uint64_t step, uint64_t warmup, uint64_t total, float lr_max, float lr_min)
{
	if (step < warmup)
		return (float)((double)lr_max * (double)(step + 1) / (double)warmup);
	if (step >= total)
		return lr_min;
	double r = (double)(step - warmup) / (double)(total - warmup);
	return (float)(lr_min + (lr_max - (double)lr_min) * 0.5 * (1.0 + cos(M_PI * r)));
}
