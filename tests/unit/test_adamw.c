/*
 * test_adamw.c - the optimizer of `ajar train` (src/train/adamw.h): AdamW
 * against values worked out by hand, convergence on a quadratic, global-norm
 * clipping, the warm-up + cosine schedule, and bit-for-bit determinism.
 */
#include "ajar/err.h"
#include "check.h"
#include "train/adamw.h"

#include <stdint.h>

/* Float math against double references: a few float roundings per step. */
#define STEP_TOL 1e-6

/*
 * Two steps on three scalars, lr 0.01, beta1 0.9, beta2 0.95, eps 1e-8,
 * weight decay 0.1, worked out in double:
 *
 * a: p = 0.5, decayed, g = 0.2 then -0.4.
 *    t=1: m = 0.1*0.2 = 0.02, v = 0.05*0.04 = 0.002, m_hat = 0.2, v_hat = 0.04,
 *         p = 0.5 - 0.01*(0.2/(0.2+1e-8) + 0.1*0.5) = 0.4895000005
 *    t=2: m = 0.9*0.02 - 0.04 = -0.022, v = 0.95*0.002 + 0.05*0.16 = 0.0099,
 *         m_hat = -0.022/0.19, v_hat = 0.0099/0.0975,
 *         p = 0.4895000005 - 0.01*(m_hat/(sqrt(v_hat)+1e-8) + 0.1*0.4895000005)
 *           = 0.4926442398902382
 * b: p = -1.5, not decayed, g = -3 then 0: the decay must not touch it, and a
 *    zero gradient still moves it by the momentum.  -1.49000000003, -1.4832135226
 * c: p = 2, decayed, g = 0 then 1e-3: a zero first gradient leaves m = v = 0,
 *    so only the decay acts (eps keeps 0/0 away).  1.998, 1.9886525026
 */
static void test_step_by_hand(void)
{
	struct adamw_params hp = adamw_params_default();
	hp.lr = 0.01f;
	float a = 0.5f, b = -1.5f, c = 2.0f;
	float ga[2] = { 0.2f, -0.4f }, gb[2] = { -3.0f, 0.0f }, gc[2] = { 0.0f, 1e-3f };
	size_t sizes[3] = { 1, 1, 1 };
	struct adamw opt;

	CHECK_OK(adamw_init(&opt, sizes, 3));
	for (int s = 0; s < 2; s++) {
		struct adamw_tensor t[3] = {
			{ &a, &ga[s], 1, true }, { &b, &gb[s], 1, false }, { &c, &gc[s], 1, true },
		};
		CHECK_OK(adamw_step(&opt, &hp, t, 3));
		if (s == 0) {
			CHECK_NEAR(a, 0.5 - 0.01 * (0.2 / (0.2 + 1e-8) + 0.1 * 0.5), STEP_TOL);
			CHECK_NEAR(adamw_m(&opt, 0)[0], 0.02, STEP_TOL);
			CHECK_NEAR(adamw_v(&opt, 0)[0], 0.002, STEP_TOL);
			CHECK_NEAR(b, -1.4900000000333333, STEP_TOL);
			CHECK_NEAR(c, 1.998, STEP_TOL);
		}
	}
	double m_hat = -0.022 / 0.19, v_hat = 0.0099 / 0.0975;
	double a2 = 0.4895000005 - 0.01 * (m_hat / (sqrt(v_hat) + 1e-8) + 0.1 * 0.4895000005);
	CHECK_NEAR(a2, 0.4926442398902382, 1e-12); /* the hand arithmetic itself */
	CHECK_NEAR(a, a2, STEP_TOL);
	CHECK_NEAR(adamw_m(&opt, 0)[0], -0.022, STEP_TOL);
	CHECK_NEAR(adamw_v(&opt, 0)[0], 0.0099, STEP_TOL);
	CHECK_NEAR(b, -1.4832135225976355, STEP_TOL);
	CHECK_NEAR(c, 1.9886525026071096, STEP_TOL);
	CHECK_EQ_INT(opt.step, 2);
	adamw_free(&opt);
}

/* Mismatched tensors are refused before anything changes. */
static void test_step_mismatch(void)
{
	size_t sizes[2] = { 4, 3 };
	float p[4] = { 1, 2, 3, 4 }, g[4] = { 1, 1, 1, 1 };
	struct adamw_params hp = adamw_params_default();
	struct adamw opt;

	CHECK_OK(adamw_init(&opt, sizes, 2));
	struct adamw_tensor t[2] = { { p, g, 4, true }, { p, g, 4, true } };
	CHECK_EQ_INT(adamw_step(&opt, &hp, t, 2), AJAR_ERR_INVALID);
	CHECK_EQ_INT(adamw_step(&opt, &hp, t, 1), AJAR_ERR_INVALID);
	CHECK(p[0] == 1 && p[3] == 4 && opt.step == 0 && adamw_m(&opt, 0)[0] == 0);
	adamw_free(&opt);
}

/*
 * f(x) = sum a_i (x_i - c_i)^2 with curvatures over four decades: Adam's
 * per-coordinate scaling must bring every coordinate to its minimum, with
 * the schedule annealing the step so it settles rather than oscillates.
 */
static void test_quadratic(void)
{
	enum { N = 8, STEPS = 3000 };
	float x[N] = { 0 }, g[N];
	double a[N], c[N];
	size_t sizes[1] = { N };
	struct adamw_params hp = adamw_params_default();
	struct adamw opt;

	hp.weight_decay = 0.0f;
	for (int i = 0; i < N; i++) {
		a[i] = pow(10.0, -2.0 + 4.0 * i / (N - 1));
		c[i] = (i % 2 ? -1.0 : 1.0) * (0.5 + 0.25 * i);
	}
	CHECK_OK(adamw_init(&opt, sizes, 1));
	for (int s = 0; s < STEPS; s++) {
		for (int i = 0; i < N; i++)
			g[i] = (float)(2.0 * a[i] * (x[i] - c[i]));
		hp.lr = lr_at((uint64_t)s, 100, STEPS, 0.05f, 1e-5f);
		struct adamw_tensor t = { x, g, N, false };
		CHECK_OK(adamw_step(&opt, &hp, &t, 1));
	}
	for (int i = 0; i < N; i++)
		CHECK_NEAR(x[i], c[i], 1e-3);
	adamw_free(&opt);
}

static void test_clip(void)
{
	float g0[2] = { 3.0f, 0.0f }, g1[3] = { 0.0f, 4.0f, 0.0f };
	float *grads[2] = { g0, g1 };
	size_t sizes[2] = { 2, 3 };

	/* norm 5 across both tensors, clipped to 1: every element scaled by 1/5. */
	CHECK_NEAR(grad_clip(grads, sizes, 2, 1.0), 5.0, 1e-12);
	CHECK_NEAR(g0[0], 0.6, 1e-7);
	CHECK_NEAR(g1[1], 0.8, 1e-7);
	CHECK_NEAR(grad_clip(grads, sizes, 2, 0.0), 1.0, 1e-7);

	/* Many odd values: after clipping the global norm is max_norm up to float rounding. */
	float big[1000];
	float *bp[1] = { big };
	size_t bn[1] = { 1000 };
	for (int i = 0; i < 1000; i++)
		big[i] = (float)sin(i * 0.37) * (float)(1 + i % 7);
	double before = grad_clip(bp, bn, 1, 0.25);
	CHECK(before > 0.25);
	CHECK_NEAR(grad_clip(bp, bn, 1, 0.0), 0.25, 0.25 * 1e-6);

	/* Under the limit: untouched, bit for bit. */
	float small[3] = { 0.1f, -0.2f, 0.3f };
	float *sp[1] = { small };
	size_t sn[1] = { 3 };
	CHECK_NEAR(grad_clip(sp, sn, 1, 1.0), sqrt(0.01 + 0.04 + 0.09), 1e-7);
	CHECK(small[0] == 0.1f && small[1] == -0.2f && small[2] == 0.3f);

	/* A NaN gradient: reported, nothing scaled (the caller skips the step). */
	small[1] = NAN;
	CHECK(isnan(grad_clip(sp, sn, 1, 0.01)));
	CHECK(small[0] == 0.1f && small[2] == 0.3f);
}

static void test_schedule(void)
{
	const float hi = 1e-3f, lo = 1e-4f;
	/* The rate is a float: a relative 1e-6 of lr_max. */
	const double tol = 1e-9;

	CHECK_NEAR(lr_at(0, 100, 1000, hi, lo), 1e-5, tol);        /* first step already learns */
	CHECK_NEAR(lr_at(49, 100, 1000, hi, lo), 5e-4, tol);       /* mid warm-up */
	CHECK_NEAR(lr_at(99, 100, 1000, hi, lo), 1e-3, tol);       /* end of warm-up */
	CHECK_NEAR(lr_at(100, 100, 1000, hi, lo), 1e-3, tol);      /* cosine starts at the top */
	CHECK_NEAR(lr_at(550, 100, 1000, hi, lo), 5.5e-4, tol);    /* middle of the decay */
	CHECK_NEAR(lr_at(325, 100, 1000, hi, lo), lo + (hi - lo) * 0.5 * (1 + cos(M_PI / 4)), tol);
	CHECK_NEAR(lr_at(1000, 100, 1000, hi, lo), 1e-4, tol);     /* end */
	CHECK_NEAR(lr_at(999999, 100, 1000, hi, lo), 1e-4, tol);   /* past the end */
	CHECK_NEAR(lr_at(0, 0, 1000, hi, lo), 1e-3, tol);          /* no warm-up */
	CHECK_NEAR(lr_at(5, 10, 10, hi, lo), 6e-4, tol);           /* all warm-up */
	CHECK_NEAR(lr_at(10, 10, 10, hi, lo), 1e-4, tol);

	float prev = hi;
	for (uint64_t s = 100; s <= 1000; s++) {
		float lr = lr_at(s, 100, 1000, hi, lo);
		CHECK_MSG(lr <= prev && lr >= lo, "step %llu: %g after %g", (unsigned long long)s, lr, prev);
		prev = lr;
	}
}

/* Fifty steps of clip + schedule + AdamW on pseudo-random gradients. */
static void run_training(float *p, size_t n, float *m_out)
{
	float *g = malloc(n * sizeof(float));
	size_t sizes[2] = { n / 2, n - n / 2 };
	struct adamw_params hp = adamw_params_default();
	struct adamw opt;
	uint64_t rng = 42;

	CHECK_OK(adamw_init(&opt, sizes, 2));
	for (uint64_t s = 0; s < 50; s++) {
		for (size_t i = 0; i < n; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			g[i] = (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5) + 0.01f * p[i];
		}
		float *grads[2] = { g, g + n / 2 };
		(void)grad_clip(grads, sizes, 2, 1.0);
		hp.lr = lr_at(s, 5, 50, 1e-2f, 1e-3f);
		struct adamw_tensor t[2] = { { p, g, n / 2, true }, { p + n / 2, g + n / 2, n - n / 2, false } };
		CHECK_OK(adamw_step(&opt, &hp, t, 2));
	}
	memcpy(m_out, adamw_m(&opt, 0), n / 2 * sizeof(float));
	adamw_free(&opt);
	free(g);
}

static void test_determinism(void)
{
	enum { N = 4099 };
	static float p1[N], p2[N], m1[N], m2[N];

	for (int i = 0; i < N; i++)
		p1[i] = p2[i] = (float)cos(i);
	run_training(p1, N, m1);
	run_training(p2, N, m2);
	CHECK(memcmp(p1, p2, sizeof(p1)) == 0);
	CHECK(memcmp(m1, m2, N / 2 * sizeof(float)) == 0);
}

int main(void)
{
	RUN(test_step_by_hand);
	RUN(test_step_mismatch);
	RUN(test_quadratic);
	RUN(test_clip);
	RUN(test_schedule);
	RUN(test_determinism);
	return check_summary();
}
