/*
 * adamw.h - the optimizer of `ajar train`: AdamW with bias correction and
 * decoupled weight decay, global-norm gradient clipping, and the learning
 * rate schedule (linear warm-up, then cosine decay).
 *
 * A training step is, in order:
 *
 *     norm = grad_clip(grads, sizes, n, max_norm);   // optional
 *     hp.lr = lr_at(step, warmup, total, lr_max, lr_min);
 *     err = adamw_step(&opt, &hp, tensors, n);
 *
 * The optimizer state (m, v per parameter tensor, and the step count) is
 * what a checkpoint must carry besides the weights for a resumed run to
 * continue exactly where it stopped: adamw_m / adamw_v give it out, and the
 * step is the public field `step`.
 *
 * Everything here is element-wise or a sequential sum in double, so the
 * same inputs give bit-identical outputs on every run.
 */
#ifndef AJAR_TRAIN_ADAMW_H
#define AJAR_TRAIN_ADAMW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

struct adamw_params {
	float lr;           /* step size; usually lr_at() of the step */
	float beta1;        /* decay of the first moment m */
	float beta2;        /* decay of the second moment v */
	float eps;          /* added to sqrt(v_hat) so a zero gradient divides safely */
	float weight_decay; /* decoupled: p -= lr * weight_decay * p on decayed tensors */
};

/* lr 3e-4, beta1 0.9, beta2 0.95, eps 1e-8, weight_decay 0.1: the values
 * GPT-style small models are usually trained with. */
struct adamw_params adamw_params_default(void);

/* One parameter tensor handed to adamw_step. */
struct adamw_tensor {
	float *param;      /* (n) updated in place; borrowed */
	const float *grad; /* (n) this step's gradient; borrowed */
	size_t n;
	bool decay;        /* false for norms and biases: decay pulls them toward 0, not toward "small" */
};

/* The optimizer state. Fields other than step are private to adamw.c. */
struct adamw {
	uint64_t step;     /* steps taken; the bias correction uses step + 1 for the next one */
	size_t n_tensors;
	size_t *offsets;   /* (n_tensors + 1) start of tensor i in moments; owned */
	float *moments;    /* (2 * offsets[n_tensors]) m of every tensor, then v; owned, zeroed at init */
};

/* Sets up zeroed state for n_tensors tensors of sizes[i] floats. Free with
 * adamw_free. NOMEM, or LIMIT if the sizes overflow. */
enum ajar_err adamw_init(struct adamw *opt, const size_t *sizes, size_t n_tensors) AJAR_MUST_CHECK;
void adamw_free(struct adamw *opt);

/* The first and second moments of tensor i ((n) floats each); borrowed,
 * valid until adamw_free. Writable so a resumed run can load them. */
float *adamw_m(struct adamw *opt, size_t i);
float *adamw_v(struct adamw *opt, size_t i);

/*
 * One AdamW step over tensors (the same count and sizes as adamw_init, in
 * the same order; INVALID otherwise, before anything changes). For each
 * element, with t = step + 1:
 *
 *     m = beta1 m + (1 - beta1) g          v = beta2 v + (1 - beta2) g^2
 *     p -= lr * ( m / (1 - beta1^t) / (sqrt(v / (1 - beta2^t)) + eps)  +  wd * p )
 *
 * where wd is weight_decay on tensors with decay set and 0 on the others.
 */
enum ajar_err adamw_step(struct adamw *opt, const struct adamw_params *hp, const struct adamw_tensor *tensors,
			 size_t n_tensors) AJAR_MUST_CHECK;

/*
 * Global-norm clipping: the L2 norm of all n_tensors gradients taken as one
 * vector (summed in double); if it exceeds max_norm > 0, every gradient is
 * scaled by max_norm / norm so the global norm becomes max_norm. Returns the
 * norm before clipping. A non-finite norm (an overflowed or NaN gradient)
 * is returned as is and nothing is scaled: the caller should skip the step.
 * max_norm <= 0 only measures.
 */
double grad_clip(float *const *grads, const size_t *sizes, size_t n_tensors, double max_norm);

/*
 * The learning rate at step (counted from 0):
 *   step < warmup:           lr_max * (step + 1) / warmup  (step 0 already learns;
 *                            the last warm-up step reaches lr_max)
 *   warmup <= step < total:  lr_min + (lr_max - lr_min) * (1 + cos(pi * r)) / 2,
 *                            r = (step - warmup) / (total - warmup)
 *   step >= total:           lr_min
 */
float lr_at(uint64_t step, uint64_t warmup, uint64_t total, float lr_max, float lr_min);

#endif
