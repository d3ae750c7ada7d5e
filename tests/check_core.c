/*
 * check_core: Check unit tests of the numeric core (rng, act, optim, mlp).
 *
 * Every expected value is computed here, independently of core/, in long
 * double straight from ../shared/seed-math.md or from the update rules
 * documented in optim.h; none is copied from a run of the code under test.
 * Gradients are also checked against central differences of mlp_evaluate
 * for every activation and both losses, with a guard that the gradient
 * checked is not all zero (STYLE.md, "Numerics").
 */
#include <cblas.h>
#include <check.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "blas_tune.h"
#include "autoconf.h" /* MLPD_HAVE_DNNL */
#include "fault.h"
#include "gemm.h"
#include "mlp.h"
#include "optim.h"
#include "rng.h"

/* Test data generator (xorshift32), kept apart from core's rng so that the
 * data does not depend on the code under test. Uniform in [lo, hi). */
static float
frand(uint32_t *s, float lo, float hi)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return lo + (hi - lo) * (float)(x >> 8) / 16777216.0f;
}

/* The tolerance of the hand-computed checks: 1e-6 relative to the long
 * double reference b, with an absolute floor of 1e-9 (1e-6 of 1e-3) so
 * that values near zero are not held to a relative bound float32 cannot
 * meet. */
static int
close6(long double a, long double b)
{
	return fabsl(a - b) <= 1e-6L * fmaxl(fabsl(b), 1e-3L);
}

/* The same for a gradient entry: a batch-mean gradient is a sum of terms
 * that may cancel (terms of 0.5 summing to 1e-3 lose ~1e-7 in float32), so
 * the floor is 1e-6 of scale, the largest reference gradient entry of the
 * model, rather than of 1e-3. */
static int
close6_grad(long double a, long double b, long double scale)
{
	return fabsl(a - b) <= 1e-6L * fmaxl(fabsl(b), fmaxl(scale, 1e-3L));
}

static long double
sigl(long double f)
{
	return 1.0L / (1.0L + expl(-f));
}

/* A new model with the given layers, loss and optimizer; fails the test
 * when mlp_create refuses. */
static mlp *
make_model(uint32_t nl, const uint32_t *sizes, const act_kind *act,
	   mlp_loss loss, optim_kind ok, float lr, uint64_t seed)
{
	mlp_spec s;
	fault f;
	mlp *m;
	uint32_t i;

	mlp_spec_default(&s);
	s.n_layers = nl;
	for (i = 0; i <= nl; i++)
		s.sizes[i] = sizes[i];
	for (i = 0; i < nl; i++)
		s.act[i] = act[i];
	s.loss = loss;
	s.opt.kind = ok;
	s.opt.lr = lr;
	s.seed = seed;
	fault_clear(&f);
	m = mlp_create(&s, &f);
	ck_assert_msg(m != NULL, "mlp_create failed: %s", f.msg);
	ck_assert_int_eq(f.code, FAULT_NONE);
	return m;
}

static float *
copy_floats(const float *p, size_t n)
{
	float *c = malloc((n ? n : 1) * sizeof(float));

	ck_assert_ptr_nonnull(c);
	if (n)
		memcpy(c, p, n * sizeof(float));
	return c;
}

/* Accessors that never pass a count and its own output in one argument
 * list (C leaves the order of evaluation of arguments unspecified). */
static size_t
n_params(const mlp *m)
{
	size_t n = 0;

	(void)mlp_params_const(m, &n);
	return n;
}

static float *
params(mlp *m)
{
	size_t n;

	return mlp_params(m, &n);
}

static size_t
n_state(mlp *m)
{
	size_t n = 0;

	(void)mlp_optim_state(m, &n);
	return n;
}

static float *
state(mlp *m)
{
	size_t n;

	return mlp_optim_state(m, &n);
}

static const float *
grads(const mlp *m)
{
	size_t n;

	return mlp_grads(m, &n);
}

/* Whether a and b hold byte-identical parameters (and optimizer state). */
static int
same_params(mlp *a, mlp *b)
{
	return n_params(a) == n_params(b) &&
	       memcmp(params(a), params(b), n_params(a) * sizeof(float)) == 0;
}

static int
same_state(mlp *a, mlp *b)
{
	return n_state(a) == n_state(b) &&
	       (n_state(a) == 0 ||
		memcmp(state(a), state(b), n_state(a) * sizeof(float)) == 0);
}

/* Whether m's parameters are byte-identical to ref. */
static int
params_are(mlp *m, const float *ref)
{
	return memcmp(params(m), ref, n_params(m) * sizeof(float)) == 0;
}

/* Fills x (n x nin) and y (n x nout) with test data: inputs in [-1, 1),
 * targets in [0, 1), or for cross-entropy one-hot rows except row 0, a
 * proper distribution (positive, summing to 1), and row 1, all 0.5: the
 * loss -sum y log p is defined for any y >= 0, and its gradient then is
 * p sum(y) - y, not the usual p - y. */
static void
make_data(uint32_t seed, float *x, size_t nin, float *y, size_t nout,
	  size_t n, mlp_loss loss)
{
	uint32_t st = seed * 2654435761u + 1;
	size_t r, c;

	for (r = 0; r < n * nin; r++)
		x[r] = frand(&st, -1.0f, 1.0f);
	for (r = 0; r < n; r++) {
		if (loss == MLP_LOSS_MSE) {
			for (c = 0; c < nout; c++)
				y[r * nout + c] = frand(&st, 0.0f, 1.0f);
		} else if (r == 0) {
			float sum = 0.0f;

			for (c = 0; c < nout; c++) {
				y[c] = frand(&st, 0.1f, 1.0f);
				sum += y[c];
			}
			for (c = 0; c < nout; c++)
				y[c] /= sum;
		} else if (r == 1) {
			for (c = 0; c < nout; c++)
				y[r * nout + c] = 0.5f;
		} else {
			for (c = 0; c < nout; c++)
				y[r * nout + c] = (c == r % nout) ? 1.0f : 0.0f;
		}
	}
}

/* ------------------------------------------------------------------ */
/* rng */

/* Reference splitmix64 and xoshiro256** (Vigna), for known-answer checks. */
static uint64_t
ref_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t
rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
ref_xoshiro(uint64_t s[4])
{
	uint64_t result = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

START_TEST(test_rng_xoshiro_known_answer)
{
	rng r;
	uint64_t ref[4] = {1, 2, 3, 4};
	int i;

	memcpy(r.s, ref, sizeof ref);
	for (i = 0; i < 100; i++) {
		uint64_t want = ref_xoshiro(ref);

		ck_assert_msg(rng_next(&r) == want, "draw %d differs", i);
	}
	ck_assert_mem_eq(r.s, ref, sizeof ref);
}
END_TEST

START_TEST(test_rng_seed_splitmix)
{
	uint64_t seeds[] = {0, 1, 42, 0xdeadbeefcafef00dull};
	size_t k;
	int i;

	for (k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
		rng r;
		uint64_t x = seeds[k];

		rng_seed(&r, seeds[k]);
		for (i = 0; i < 4; i++)
			ck_assert_msg(r.s[i] == ref_splitmix64(&x),
				      "seed %zu word %d", k, i);
		ck_assert(r.s[0] | r.s[1] | r.s[2] | r.s[3]);
	}
}
END_TEST

START_TEST(test_rng_determinism)
{
	rng a, b, c;
	int i, differ = 0;

	rng_seed(&a, 7);
	rng_seed(&b, 7);
	rng_seed(&c, 8);
	for (i = 0; i < 1000; i++) {
		uint64_t va = rng_next(&a);

		ck_assert(va == rng_next(&b));
		differ += va != rng_next(&c);
	}
	ck_assert_int_gt(differ, 990);
}
END_TEST

START_TEST(test_rng_uniform)
{
	rng r;
	double sum = 0.0, lo = 1.0, hi = 0.0;
	int i, n = 100000, out = 0, coarse = 0;

	/* violations are counted and asserted once after the loop: each
	 * ck_assert is a write(2) to Check's parent (_mark_point), and 200,000
	 * of them outran the timeout under ASan on a loaded machine */
	rng_seed(&r, 3);
	for (i = 0; i < n; i++) {
		double u = rng_uniform(&r);
		double scaled = u * 9007199254740992.0; /* 2^53 */

		out += !(u >= 0.0 && u < 1.0);
		coarse += scaled != floor(scaled);
		sum += u;
		lo = fmin(lo, u);
		hi = fmax(hi, u);
	}
	ck_assert_msg(out == 0, "%d values outside [0, 1)", out);
	ck_assert_msg(coarse == 0, "%d values not 53-bit", coarse);
	ck_assert_double_eq_tol(sum / n, 0.5, 0.01);
	ck_assert(lo < 0.001 && hi > 0.999);
}
END_TEST

START_TEST(test_rng_below)
{
	rng r;
	unsigned counts[7] = {0};
	int i, n = 70000;
	uint64_t big = (1ull << 63) + 12345;

	rng_seed(&r, 11);
	for (i = 0; i < n; i++) {
		uint64_t v = rng_below(&r, 7);

		if (v >= 7)
			ck_abort_msg("rng_below(7) gave %llu",
				     (unsigned long long)v);
		counts[v]++;
	}
	for (i = 0; i < 7; i++)
		ck_assert_msg(counts[i] > 9000 && counts[i] < 11000,
			      "bucket %d has %u of %d", i, counts[i], n);
	for (i = 0; i < 100; i++)
		ck_assert(rng_below(&r, 1) == 0);
	for (i = 0; i < 1000; i++)
		ck_assert(rng_below(&r, big) < big);
}
END_TEST

START_TEST(test_rng_shuffle)
{
	rng a, b;
	uint32_t x[50], y[50];
	int seen[50] = {0};
	uint32_t i, moved = 0;

	for (i = 0; i < 50; i++)
		x[i] = y[i] = i;
	rng_seed(&a, 5);
	rng_seed(&b, 5);
	rng_shuffle(&a, x, 50);
	rng_shuffle(&b, y, 50);
	ck_assert_mem_eq(x, y, sizeof x);
	for (i = 0; i < 50; i++) {
		ck_assert(x[i] < 50);
		ck_assert_int_eq(seen[x[i]], 0);
		seen[x[i]] = 1;
		moved += x[i] != i;
	}
	ck_assert_uint_gt(moved, 10);
	/* Degenerate sizes must not touch memory or crash. */
	rng_shuffle(&a, NULL, 0);
	x[0] = 9;
	rng_shuffle(&a, x, 1);
	ck_assert_uint_eq(x[0], 9);
}
END_TEST

START_TEST(test_rng_glorot)
{
	rng r;
	float w[600];
	size_t i;
	double a = sqrt(6.0 / (20 + 30));
	float mx = 0.0f;
	int neg = 0, pos = 0;

	rng_seed(&r, 99);
	rng_glorot_uniform(&r, w, 600, 20, 30);
	for (i = 0; i < 600; i++) {
		ck_assert_msg(fabs(w[i]) <= a * (1 + 1e-6), "w[%zu] = %g", i,
			      (double)w[i]);
		mx = fmaxf(mx, fabsf(w[i]));
		neg += w[i] < 0;
		pos += w[i] > 0;
	}
	ck_assert(mx > 0.9 * a);
	ck_assert_int_gt(neg, 200);
	ck_assert_int_gt(pos, 200);
}
END_TEST

/* ------------------------------------------------------------------ */
/* act */

START_TEST(test_act_forward)
{
	float v[6] = {-100.0f, -2.0f, 0.0f, 0.5f, 3.0f, 100.0f};
	float z[6];
	int i;

	memcpy(z, v, sizeof v);
	act_forward(ACT_SIGMOID, z, 2, 3);
	for (i = 0; i < 6; i++)
		ck_assert_msg(fabsl(z[i] - sigl(v[i])) <=
				      1e-6L * sigl(v[i]) + 1e-9L,
			      "sigmoid(%g) = %g", (double)v[i], (double)z[i]);
	memcpy(z, v, sizeof v);
	act_forward(ACT_TANH, z, 3, 2);
	for (i = 0; i < 6; i++)
		ck_assert(fabsl(z[i] - tanhl(v[i])) <=
			  1e-6L * fabsl(tanhl(v[i])) + 1e-9L);
	memcpy(z, v, sizeof v);
	act_forward(ACT_RELU, z, 1, 6);
	for (i = 0; i < 6; i++)
		ck_assert(z[i] == (v[i] > 0 ? v[i] : 0.0f));
	memcpy(z, v, sizeof v);
	act_forward(ACT_LINEAR, z, 6, 1);
	ck_assert_mem_eq(z, v, sizeof v);
}
END_TEST

/* Long blocks take the vector path where there is one (SLEEF on AVX):
 * every lane and the scalar tail stay within the seed's float precision,
 * over the whole range, saturation included. */
START_TEST(test_act_sigmoid_block)
{
	enum { N = 4099 };
	static float v[N], z[N];

	for (int i = 0; i < N; i++)
		v[i] = -95.0f + 190.0f * (float)i / (float)(N - 1);
	memcpy(z, v, sizeof v);
	act_forward(ACT_SIGMOID, z, 1, N);
	for (int i = 0; i < N; i++)
		ck_assert_msg(fabsl(z[i] - sigl(v[i])) <=
				      1e-6L * sigl(v[i]) + 1e-30L,
			      "sigmoid(%.9g) = %.9g", (double)v[i],
			      (double)z[i]);
}
END_TEST

/* The sigmoid's derivative over a long block (the vector path where there
 * is one, and a tail): every element exactly delta (g (1 - g)) in float,
 * as the scalar loop computes it. */
START_TEST(test_act_sigmoid_backward_block)
{
	enum { N = 4099 };
	static float g[N], d[N], want[N];
	uint32_t seed = 7;

	for (int i = 0; i < N; i++) {
		g[i] = frand(&seed, 0.0f, 1.0f);
		d[i] = frand(&seed, -3.0f, 3.0f);
		want[i] = d[i] * (g[i] * (1.0f - g[i]));
	}
	act_backward(ACT_SIGMOID, g, d, N);
	for (int i = 0; i < N; i++)
		ck_assert_msg(memcmp(&d[i], &want[i], sizeof(float)) == 0,
			      "element %d: %.9g, want %.9g", i, (double)d[i],
			      (double)want[i]);
}
END_TEST

START_TEST(test_act_softmax)
{
	/* The second row is the first plus 1000: exp() would overflow without
	 * the max shift, and softmax is shift-invariant. */
	float z[9] = {1.0f, 2.0f, 3.0f, 1000.0f, 1001.0f, 1002.0f,
		      -5.0f, 0.0f, 5.0f};
	int r, c;

	act_forward(ACT_SOFTMAX, z, 3, 3);
	for (r = 0; r < 3; r++) {
		long double base[3][3] = {{1, 2, 3}, {0, 1, 2}, {-5, 0, 5}};
		long double sum = 0;

		for (c = 0; c < 3; c++)
			sum += expl(base[r][c]);
		for (c = 0; c < 3; c++) {
			long double p = expl(base[r][c]) / sum;

			ck_assert_msg(close6(z[r * 3 + c], p),
				      "softmax[%d][%d] = %g", r, c,
				      (double)z[r * 3 + c]);
		}
	}
}
END_TEST

START_TEST(test_act_backward)
{
	float g[5] = {0.0f, 0.1f, 0.5f, 0.9f, 1.0f};
	float gr[5] = {0.0f, 0.0f, 0.25f, 2.0f, 7.0f};
	float d0[5] = {1.0f, -2.0f, 0.5f, 3.0f, -1.5f};
	float d[5];
	int i;

	memcpy(d, d0, sizeof d);
	act_backward(ACT_SIGMOID, g, d, 5);
	for (i = 0; i < 5; i++)
		ck_assert(close6(d[i], (long double)d0[i] * g[i] *
					       (1.0L - g[i])));
	memcpy(d, d0, sizeof d);
	act_backward(ACT_TANH, g, d, 5);
	for (i = 0; i < 5; i++)
		ck_assert(close6(d[i], (long double)d0[i] *
					       (1.0L - (long double)g[i] * g[i])));
	memcpy(d, d0, sizeof d);
	act_backward(ACT_RELU, gr, d, 5);
	for (i = 0; i < 5; i++)
		ck_assert(d[i] == (gr[i] > 0 ? d0[i] : 0.0f));
	memcpy(d, d0, sizeof d);
	act_backward(ACT_LINEAR, g, d, 5);
	ck_assert_mem_eq(d, d0, sizeof d);
}
END_TEST

START_TEST(test_names)
{
	act_kind a;
	optim_kind o;
	mlp_loss l;
	int k;

	for (k = 0; k < ACT_COUNT_; k++) {
		const char *n = act_name((act_kind)k);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(act_from_name(n, &a), 0);
		ck_assert_int_eq(a, k);
	}
	for (k = 0; k < OPTIM_COUNT_; k++) {
		const char *n = optim_name((optim_kind)k);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(optim_from_name(n, &o), 0);
		ck_assert_int_eq(o, k);
	}
	for (k = 0; k < MLP_LOSS_COUNT_; k++) {
		const char *n = mlp_loss_name((mlp_loss)k);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(mlp_loss_from_name(n, &l), 0);
		ck_assert_int_eq(l, k);
	}
	ck_assert_str_eq(act_name(ACT_SIGMOID), "sigmoid");
	ck_assert_str_eq(act_name(ACT_SOFTMAX), "softmax");
	ck_assert_str_eq(optim_name(OPTIM_ADAM), "adam");
	ck_assert_str_eq(mlp_loss_name(MLP_LOSS_CROSS_ENTROPY),
			 "cross_entropy");
	ck_assert_ptr_null(act_name(ACT_COUNT_));
	ck_assert_ptr_null(optim_name(OPTIM_COUNT_));
	ck_assert_ptr_null(mlp_loss_name(MLP_LOSS_COUNT_));

	a = ACT_TANH;
	o = OPTIM_MOMENTUM;
	l = MLP_LOSS_CROSS_ENTROPY;
	ck_assert_int_eq(act_from_name("gelu", &a), -1);
	ck_assert_int_eq(act_from_name("", &a), -1);
	ck_assert_int_eq(act_from_name("sigmoidx", &a), -1);
	ck_assert_int_eq(optim_from_name("rmsprop", &o), -1);
	ck_assert_int_eq(optim_from_name("", &o), -1);
	ck_assert_int_eq(mlp_loss_from_name("hinge", &l), -1);
	ck_assert_int_eq(mlp_loss_from_name("", &l), -1);
	/* A refused name leaves the output alone. */
	ck_assert_int_eq(a, ACT_TANH);
	ck_assert_int_eq(o, OPTIM_MOMENTUM);
	ck_assert_int_eq(l, MLP_LOSS_CROSS_ENTROPY);
}
END_TEST

START_TEST(test_fault)
{
	fault f;

	ck_assert_int_eq(fault_set(&f, FAULT_INVALID, "bad %d", 7), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	ck_assert_str_eq(f.msg, "bad 7");
	fault_clear(&f);
	ck_assert_int_eq(f.code, FAULT_NONE);
	ck_assert_str_eq(f.msg, "");
	ck_assert_int_eq(fault_set(NULL, FAULT_INVALID, "x"), -1);
	fault_clear(NULL);
	ck_assert_str_eq(fault_code_name(FAULT_INVALID), "invalid");
	ck_assert_str_eq(fault_code_name(FAULT_NONFINITE), "nonfinite");
}
END_TEST

/* ------------------------------------------------------------------ */
/* optim */

START_TEST(test_optim_defaults)
{
	optim_params p;
	mlp_spec s;
	int l;

	optim_params_default(&p);
	ck_assert_int_eq(p.kind, OPTIM_SGD);
	ck_assert(p.lr == 0.1f && p.momentum == 0.9f && p.beta1 == 0.9f &&
		  p.beta2 == 0.999f && p.eps == 1e-8f);
	ck_assert_uint_eq(optim_state_floats(OPTIM_SGD, 10), 0);
	ck_assert_uint_eq(optim_state_floats(OPTIM_MOMENTUM, 10), 10);
	ck_assert_uint_eq(optim_state_floats(OPTIM_ADAM, 10), 20);

	mlp_spec_default(&s);
	ck_assert_uint_eq(s.n_layers, 0);
	ck_assert_int_eq(s.loss, MLP_LOSS_MSE);
	ck_assert_int_eq(s.opt.kind, OPTIM_SGD);
	ck_assert(s.opt.lr == 0.1f);
	ck_assert(s.seed == 0);
	for (l = 0; l < MLP_MAX_LAYERS; l++)
		ck_assert_int_eq(s.act[l], ACT_SIGMOID);
}
END_TEST

/* Gradients fed to the explicit optimizer checks: 4 steps of 3 parameters;
 * the last parameter's gradient is always 0 so it must never move. */
static const float opt_g[4][3] = {
	{0.3f, -0.8f, 0.0f},
	{-0.1f, -0.5f, 0.0f},
	{0.7f, 0.2f, 0.0f},
	{0.05f, -1.2f, 0.0f},
};

START_TEST(test_optim_sgd)
{
	optim_params p;
	float w[3] = {0.5f, -1.0f, 2.0f};
	int t, i;

	optim_params_default(&p);
	p.lr = 0.5f; /* the lr argument must win */
	for (t = 0; t < 4; t++) {
		float want[3];

		for (i = 0; i < 3; i++)
			want[i] = w[i] - 0.05f * opt_g[t][i];
		optim_update(&p, 0.05f, (uint64_t)t + 1, w, opt_g[t], NULL, 3);
		for (i = 0; i < 3; i++)
			ck_assert(fabsf(w[i] - want[i]) <=
				  FLT_EPSILON * (fabsf(want[i]) + 0.1f));
	}
	ck_assert(w[2] == 2.0f);
}
END_TEST

/* sgd's fused update (w = fma(-lr, g, w) with a finiteness check) must
 * round once, at every length (vector body and scalar tail), stay within
 * an ulp of cblas_saxpy, and say whether a weight went non-finite. */
START_TEST(test_optim_sgd_fused)
{
	const size_t lens[] = {1, 7, 8, 9, 15, 16, 17, 33, 1003};
	optim_params p;
	rng r;

	optim_params_default(&p);
	rng_seed(&r, 42);
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		size_t n = lens[k];
		float *w = malloc(n * sizeof(float));
		float *v = malloc(n * sizeof(float));
		float *g = malloc(n * sizeof(float));
		int rc;

		ck_assert(w != NULL && v != NULL && g != NULL);
		for (size_t i = 0; i < n; i++) {
			w[i] = v[i] = (float)(rng_uniform(&r) - 0.5);
			g[i] = (float)(rng_uniform(&r) - 0.5) * 0.01f;
		}
		rc = optim_update(&p, 0.1f, 1, w, g, NULL, n);
		ck_assert_int_ne(rc, 0); /* all finite, or not looked at */
		for (size_t i = 0; i < n; i++) {
			float want = fmaf(-0.1f, g[i], v[i]), ulp;

			/* rc < 0: no FMA here, the update is cblas_saxpy */
			ulp = nextafterf(fabsf(want), INFINITY) - fabsf(want);
			ck_assert_msg(rc < 0 ? fabsf(w[i] - want) <= ulp :
				      memcmp(&w[i], &want, sizeof want) == 0,
				      "length %zu, weight %zu: %.9g want %.9g",
				      n, i, (double)w[i], (double)want);
		}
		cblas_saxpy((int)n, -0.1f, g, 1, v, 1);
		for (size_t i = 0; i < n; i++)
			ck_assert(fabsf(w[i] - v[i]) <=
				  2 * FLT_EPSILON * fabsf(v[i]));
		if (rc < 0)
			goto next;
		ck_assert_int_eq(rc, 1);
		/* overflow the last weight (the tail when n is not a multiple of the lanes), then
		 * the first (the vector body when n >= 8) */
		w[n - 1] = FLT_MAX;
		g[n - 1] = -FLT_MAX;
		ck_assert_int_eq(optim_update(&p, 4.0f, 2, w, g, NULL, n), 0);
		ck_assert(isinf(w[n - 1]));
		w[n - 1] = g[n - 1] = 0.0f;
		ck_assert_int_eq(optim_update(&p, 0.1f, 3, w, g, NULL, n), 1);
		w[0] = NAN;
		ck_assert_int_eq(optim_update(&p, 0.1f, 4, w, g, NULL, n), 0);
next:
		free(w);
		free(v);
		free(g);
	}
}
END_TEST

/* The update notes whether the weights are finite; mlp_params_finite
 * answers from that note until a writable pointer is taken again. */
START_TEST(test_params_finite_after_update)
{
	const uint32_t sizes[] = {1, 1};
	const act_kind act[] = {ACT_LINEAR};
	const float x[1] = {1.0f}, y[1] = {0.0f};
	mlp *m = make_model(1, sizes, act, MLP_LOSS_MSE, OPTIM_SGD, 0.1f, 3);
	float loss;
	fault f;

	ck_assert_int_eq(mlp_params_finite(m), 1);
	mlp_weights(m, 0)[0] = 1.0f;
	mlp_biases(m, 0)[0] = 0.0f;
	ck_assert_int_eq(mlp_train_step(m, x, y, 1, 0.1f, &loss, &f), 0);
	ck_assert_int_eq(mlp_params_finite(m), 1);
	/* a NaN written after the step, through a pointer taken then */
	mlp_params(m, NULL)[1] = NAN;
	ck_assert_int_eq(mlp_params_finite(m), 0);
	mlp_biases(m, 0)[0] = 0.0f;
	ck_assert_int_eq(mlp_params_finite(m), 1);
	mlp_weights(m, 0)[0] = 1.0f;
	/* output 1, target 0: dL/dw = 2, so lr FLT_MAX sends w to -Inf */
	ck_assert_int_eq(mlp_gradients(m, x, y, 1, &loss, &f), 0);
	ck_assert(isfinite(loss));
	ck_assert_int_eq(mlp_apply(m, FLT_MAX, &f), 0);
	ck_assert(isinf(mlp_params_const(m, NULL)[0]));
	ck_assert_int_eq(mlp_params_finite(m), 0);
	mlp_destroy(m);
}
END_TEST

START_TEST(test_optim_momentum)
{
	optim_params p;
	float w[3] = {0.5f, -1.0f, 2.0f};
	float state[3] = {0};
	long double rw[3] = {0.5L, -1.0L, 2.0L}, v[3] = {0};
	const long double lr = 0.05L, mu = 0.8L;
	int t, i;

	optim_params_default(&p);
	p.kind = OPTIM_MOMENTUM;
	p.momentum = 0.8f;
	p.lr = 0.5f;
	for (t = 0; t < 4; t++) {
		optim_update(&p, 0.05f, (uint64_t)t + 1, w, opt_g[t], state, 3);
		for (i = 0; i < 3; i++) {
			v[i] = mu * v[i] + opt_g[t][i];
			rw[i] -= lr * v[i];
			ck_assert_msg(close6(w[i], rw[i]),
				      "t %d w[%d] %.9g want %.9Lg", t + 1, i,
				      (double)w[i], rw[i]);
		}
	}
	ck_assert(w[2] == 2.0f);
}
END_TEST

START_TEST(test_optim_adam)
{
	optim_params p;
	float w[3] = {0.5f, -1.0f, 2.0f};
	float state[6] = {0};
	long double rw[3] = {0.5L, -1.0L, 2.0L}, m[3] = {0}, v[3] = {0};
	const long double lr = 0.01L, eps = 1e-8L;
	int t, i;

	optim_params_default(&p);
	p.kind = OPTIM_ADAM;
	p.lr = 0.5f;
	ck_assert(p.beta1 == 0.9f && p.beta2 == 0.999f);
	for (t = 1; t <= 4; t++) {
		optim_update(&p, 0.01f, (uint64_t)t, w, opt_g[t - 1], state, 3);
		for (i = 0; i < 3; i++) {
			long double g = opt_g[t - 1][i];
			long double mh, vh;

			/* Use the float hyper-parameters the code sees. */
			m[i] = (long double)p.beta1 * m[i] +
			       (1.0L - (long double)p.beta1) * g;
			v[i] = (long double)p.beta2 * v[i] +
			       (1.0L - (long double)p.beta2) * g * g;
			mh = m[i] / (1.0L - powl(p.beta1, t));
			vh = v[i] / (1.0L - powl(p.beta2, t));
			rw[i] -= lr * mh / (sqrtl(vh) + eps);
			ck_assert_msg(close6(w[i], rw[i]),
				      "t %d w[%d] %.9g want %.9Lg", t, i,
				      (double)w[i], rw[i]);
		}
	}
	ck_assert(w[2] == 2.0f);
	/* The first adam step moves each parameter by lr against the sign of
	 * its gradient, whatever the gradient's size. */
	{
		float w1[2] = {1.0f, 1.0f};
		float g1[2] = {1e-3f, -50.0f};
		float s1[4] = {0};

		optim_update(&p, 0.01f, 1, w1, g1, s1, 2);
		ck_assert(fabsf(w1[0] - 0.99f) < 1e-6f);
		ck_assert(fabsf(w1[1] - 1.01f) < 1e-6f);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* mlp: the seed's network, by hand */

static const float seed_x[3][3] = {
	{0.5f, -1.0f, 2.0f},
	{1.5f, 0.25f, -0.75f},
	{-2.0f, 1.0f, 0.5f},
};
static const float seed_y[3][2] = {
	{1.0f, 0.0f},
	{0.0f, 1.0f},
	{0.25f, 0.75f},
};
static const float seed_w0[4][3] = {
	{0.2f, -0.4f, 0.1f},
	{-0.3f, 0.5f, 0.25f},
	{0.6f, 0.1f, -0.2f},
	{-0.1f, -0.7f, 0.35f},
};
static const float seed_b0[4] = {0.1f, -0.2f, 0.05f, 0.3f};
static const float seed_w1[2][4] = {
	{0.5f, -0.6f, 0.4f, 0.3f},
	{-0.45f, 0.2f, 0.7f, -0.5f},
};
static const float seed_b1[2] = {-0.1f, 0.2f};

/* The seed network's outputs, loss and batch-mean gradients. */
struct seed_ref {
	long double out[3][2];
	long double loss;
	long double gw0[4][3], gb0[4], gw1[2][4], gb1[2];
	long double gscale; /* largest |gradient entry| */
};

/* Forward and backward of the seed network in long double, written out
 * from seed-math.md's component formulas. */
static void
seed_reference(struct seed_ref *r)
{
	const long double B = 3.0L, N2 = 2.0L;
	int s, i, j, k;

	memset(r, 0, sizeof *r);
	for (s = 0; s < 3; s++) {
		long double g1[4], g2[2], d2[2], d1[4], ls = 0;

		for (i = 0; i < 4; i++) {
			long double f = seed_b0[i];

			for (j = 0; j < 3; j++)
				f += (long double)seed_w0[i][j] * seed_x[s][j];
			g1[i] = sigl(f);
		}
		for (k = 0; k < 2; k++) {
			long double f = seed_b1[k];

			for (i = 0; i < 4; i++)
				f += (long double)seed_w1[k][i] * g1[i];
			g2[k] = sigl(f);
			r->out[s][k] = g2[k];
			ls += (g2[k] - seed_y[s][k]) * (g2[k] - seed_y[s][k]);
		}
		r->loss += ls / N2 / B;
		/* dL/dg2 = 2/N2 (g2 - y); dL/df2 = dL/dg2 g2 (1 - g2); the
		 * 1/B makes every gradient a batch mean. */
		for (k = 0; k < 2; k++) {
			d2[k] = 2.0L / N2 * (g2[k] - seed_y[s][k]) * g2[k] *
				(1.0L - g2[k]) / B;
			r->gb1[k] += d2[k];
			for (i = 0; i < 4; i++)
				r->gw1[k][i] += d2[k] * g1[i];
		}
		for (i = 0; i < 4; i++) {
			long double dg = 0;

			for (k = 0; k < 2; k++)
				dg += d2[k] * seed_w1[k][i];
			d1[i] = dg * g1[i] * (1.0L - g1[i]);
			r->gb0[i] += d1[i];
			for (j = 0; j < 3; j++)
				r->gw0[i][j] += d1[i] * seed_x[s][j];
		}
	}
	for (i = 0; i < 4; i++) {
		r->gscale = fmaxl(r->gscale, fabsl(r->gb0[i]));
		for (j = 0; j < 3; j++)
			r->gscale = fmaxl(r->gscale, fabsl(r->gw0[i][j]));
		for (k = 0; k < 2; k++)
			r->gscale = fmaxl(r->gscale, fabsl(r->gw1[k][i]));
	}
	for (k = 0; k < 2; k++)
		r->gscale = fmaxl(r->gscale, fabsl(r->gb1[k]));
}

static mlp *
make_seed_net(void)
{
	const uint32_t sizes[] = {3, 4, 2};
	const act_kind act[] = {ACT_SIGMOID, ACT_SIGMOID};
	mlp *m = make_model(2, sizes, act, MLP_LOSS_MSE, OPTIM_SGD, 0.1f, 1);

	memcpy(mlp_weights(m, 0), seed_w0, sizeof seed_w0);
	memcpy(mlp_biases(m, 0), seed_b0, sizeof seed_b0);
	memcpy(mlp_weights(m, 1), seed_w1, sizeof seed_w1);
	memcpy(mlp_biases(m, 1), seed_b1, sizeof seed_b1);
	return m;
}

START_TEST(test_seed_net)
{
	struct seed_ref r;
	mlp *m = make_seed_net();
	float out[3][2], loss = -1.0f, eloss = -1.0f;
	const float *gw0, *gb0, *gw1, *gb1;
	fault f;
	int s, i, j, k;

	seed_reference(&r);
	/* The reference must have something to check. */
	ck_assert(fabsl(r.gw0[0][0]) > 1e-4L && fabsl(r.gw1[1][2]) > 1e-3L);

	ck_assert_int_eq(mlp_predict(m, &seed_x[0][0], 3, &out[0][0], &f), 0);
	for (s = 0; s < 3; s++)
		for (k = 0; k < 2; k++)
			ck_assert_msg(close6(out[s][k], r.out[s][k]),
				      "out[%d][%d] %.9g want %.9Lg", s, k,
				      (double)out[s][k], r.out[s][k]);

	ck_assert_int_eq(mlp_evaluate(m, &seed_x[0][0], &seed_y[0][0], 3,
				      &eloss, &f), 0);
	ck_assert_msg(close6(eloss, r.loss), "evaluate %.9g want %.9Lg",
		      (double)eloss, r.loss);

	ck_assert_int_eq(mlp_gradients(m, &seed_x[0][0], &seed_y[0][0], 3,
				       &loss, &f), 0);
	ck_assert_msg(close6(loss, r.loss), "loss %.9g want %.9Lg",
		      (double)loss, r.loss);
	ck_assert_uint_eq(mlp_step(m), 0);

	gw0 = mlp_grad_weights(m, 0);
	gb0 = mlp_grad_biases(m, 0);
	gw1 = mlp_grad_weights(m, 1);
	gb1 = mlp_grad_biases(m, 1);
	for (i = 0; i < 4; i++) {
		for (j = 0; j < 3; j++)
			ck_assert_msg(close6_grad(gw0[i * 3 + j], r.gw0[i][j],
						 r.gscale),
				      "dW0[%d][%d] %.9g want %.9Lg", i, j,
				      (double)gw0[i * 3 + j], r.gw0[i][j]);
		ck_assert_msg(close6_grad(gb0[i], r.gb0[i], r.gscale),
			      "db0[%d] %.9g want %.9Lg", i, (double)gb0[i],
			      r.gb0[i]);
	}
	for (k = 0; k < 2; k++) {
		for (i = 0; i < 4; i++)
			ck_assert_msg(close6_grad(gw1[k * 4 + i], r.gw1[k][i],
						 r.gscale),
				      "dW1[%d][%d] %.9g want %.9Lg", k, i,
				      (double)gw1[k * 4 + i], r.gw1[k][i]);
		ck_assert_msg(close6_grad(gb1[k], r.gb1[k], r.gscale),
			      "db1[%d] %.9g want %.9Lg", k, (double)gb1[k],
			      r.gb1[k]);
	}
	/* The weights were not moved by computing gradients. */
	ck_assert_mem_eq(mlp_weights(m, 0), seed_w0, sizeof seed_w0);
	ck_assert_mem_eq(mlp_biases(m, 1), seed_b1, sizeof seed_b1);
	mlp_destroy(m);
}
END_TEST

START_TEST(test_seed_net_single_rows)
{
	/* Each sample alone gives the same output as in the batch, and a
	 * one-row batch's loss is that sample's mean over outputs. */
	struct seed_ref r;
	mlp *m = make_seed_net();
	fault f;
	int s, k;

	seed_reference(&r);
	for (s = 0; s < 3; s++) {
		float out[2], loss;
		long double ls = 0;

		ck_assert_int_eq(mlp_predict(m, seed_x[s], 1, out, &f), 0);
		for (k = 0; k < 2; k++) {
			ck_assert(close6(out[k], r.out[s][k]));
			ls += (r.out[s][k] - seed_y[s][k]) *
			      (r.out[s][k] - seed_y[s][k]) / 2.0L;
		}
		ck_assert_int_eq(mlp_evaluate(m, seed_x[s], seed_y[s], 1,
					      &loss, &f), 0);
		ck_assert(close6(loss, ls));
	}
	mlp_destroy(m);
}
END_TEST

START_TEST(test_layout)
{
	const uint32_t sizes[] = {3, 4, 2};
	const act_kind act[] = {ACT_TANH, ACT_SIGMOID};
	mlp *m = make_model(2, sizes, act, MLP_LOSS_MSE, OPTIM_ADAM, 0.01f, 3);
	mlp_spec s = *mlp_get_spec(m);
	size_t n = 0, ng = 0, ns = 0;
	float *p = mlp_params(m, &n);
	const float *g = mlp_grads(m, &ng);
	float *st = mlp_optim_state(m, &ns);

	ck_assert_uint_eq(mlp_spec_params(&s), 3 * 4 + 4 + 4 * 2 + 2);
	ck_assert_uint_eq(n, 26);
	ck_assert_uint_eq(ng, 26);
	ck_assert_uint_eq(ns, 52);
	ck_assert_ptr_nonnull(st);
	ck_assert_ptr_eq(mlp_params_const(m, &n), p);
	ck_assert_ptr_eq(mlp_weights(m, 0), p);
	ck_assert_ptr_eq(mlp_biases(m, 0), p + 12);
	ck_assert_ptr_eq(mlp_weights(m, 1), p + 16);
	ck_assert_ptr_eq(mlp_biases(m, 1), p + 24);
	ck_assert_ptr_eq(mlp_grad_weights(m, 0), g);
	ck_assert_ptr_eq(mlp_grad_biases(m, 0), g + 12);
	ck_assert_ptr_eq(mlp_grad_weights(m, 1), g + 16);
	ck_assert_ptr_eq(mlp_grad_biases(m, 1), g + 24);
	ck_assert_uint_eq(s.sizes[1], 4);
	ck_assert_int_eq(s.act[0], ACT_TANH);
	ck_assert(s.seed == 3);
	mlp_set_step(m, 12345);
	ck_assert(mlp_step(m) == 12345);
	ck_assert(mlp_train_flops(&s, 1) > 0.0);
	ck_assert(mlp_train_flops(&s, 10) > mlp_train_flops(&s, 1));
	mlp_destroy(m);
}
END_TEST

START_TEST(test_predict_rows_and_growth)
{
	/* A batch's outputs equal the outputs of its rows one at a time,
	 * across scratch growth (1, then 64, then 5 rows) and mse loss agrees
	 * with the mean of (out - y)^2 over the predicted outputs. */
	const uint32_t sizes[] = {5, 7, 6, 3};
	const act_kind act[] = {ACT_TANH, ACT_RELU, ACT_SIGMOID};
	mlp *m = make_model(3, sizes, act, MLP_LOSS_MSE, OPTIM_SGD, 0.1f, 17);
	float x[64 * 5], y[64 * 3], out[64 * 3], one[3], loss;
	long double ref = 0;
	fault f;
	size_t r, c;

	make_data(4, x, 5, y, 3, 64, MLP_LOSS_MSE);
	ck_assert_int_eq(mlp_predict(m, x, 1, one, &f), 0);
	ck_assert_int_eq(mlp_predict(m, x, 64, out, &f), 0);
	for (c = 0; c < 3; c++)
		ck_assert(close6(out[c], one[c]));
	for (r = 0; r < 64; r++) {
		ck_assert_int_eq(mlp_predict(m, x + r * 5, 1, one, &f), 0);
		for (c = 0; c < 3; c++) {
			ck_assert_msg(close6(out[r * 3 + c], one[c]),
				      "row %zu col %zu", r, c);
			ref += ((long double)out[r * 3 + c] - y[r * 3 + c]) *
			       ((long double)out[r * 3 + c] - y[r * 3 + c]);
		}
	}
	ref /= 64 * 3;
	ck_assert_int_eq(mlp_evaluate(m, x, y, 64, &loss, &f), 0);
	ck_assert_msg(fabsl(loss - ref) <= 1e-5L * ref, "loss %g want %Lg",
		      (double)loss, ref);
	ck_assert_int_eq(mlp_predict(m, x + 5, 5, out, &f), 0);
	ck_assert_int_eq(mlp_predict(m, x + 5, 1, one, &f), 0);
	for (c = 0; c < 3; c++)
		ck_assert(close6(out[c], one[c]));
	mlp_destroy(m);
}
END_TEST

START_TEST(test_cross_entropy_by_hand)
{
	/* [2, 3] softmax layer, cross-entropy: loss = batch mean of
	 * -sum y log p, and the gradient for W is the batch mean of
	 * (p - y) x^T (y summing to 1). */
	const uint32_t sizes[] = {2, 3};
	const act_kind act[] = {ACT_SOFTMAX};
	const float w[6] = {0.5f, -0.3f, 0.2f, 0.8f, -0.6f, 0.1f};
	const float b[3] = {0.1f, -0.2f, 0.3f};
	const float x[4] = {1.0f, -0.5f, -1.5f, 2.0f};
	const float y[6] = {0.0f, 1.0f, 0.0f, 0.2f, 0.3f, 0.5f};
	mlp *m = make_model(1, sizes, act, MLP_LOSS_CROSS_ENTROPY, OPTIM_SGD,
			    0.1f, 1);
	long double loss = 0, gw[6] = {0}, gb[3] = {0}, gscale = 0;
	float out[6], l;
	const float *g;
	fault f;
	int s, i, j;

	memcpy(mlp_weights(m, 0), w, sizeof w);
	memcpy(mlp_biases(m, 0), b, sizeof b);
	ck_assert_int_eq(mlp_predict(m, x, 2, out, &f), 0);
	for (s = 0; s < 2; s++) {
		long double z[3], sum = 0;

		for (i = 0; i < 3; i++) {
			z[i] = b[i] + (long double)w[i * 2] * x[s * 2] +
			       (long double)w[i * 2 + 1] * x[s * 2 + 1];
			sum += expl(z[i]);
		}
		for (i = 0; i < 3; i++) {
			long double p = expl(z[i]) / sum;

			ck_assert(close6(out[s * 3 + i], p));
			loss -= y[s * 3 + i] * logl(p) / 2.0L;
			gb[i] += (p - y[s * 3 + i]) / 2.0L;
			for (j = 0; j < 2; j++)
				gw[i * 2 + j] +=
					(p - y[s * 3 + i]) * x[s * 2 + j] / 2.0L;
		}
	}
	for (i = 0; i < 6; i++)
		gscale = fmaxl(gscale, fabsl(gw[i]));
	for (i = 0; i < 3; i++)
		gscale = fmaxl(gscale, fabsl(gb[i]));
	ck_assert_int_eq(mlp_gradients(m, x, y, 2, &l, &f), 0);
	ck_assert_msg(close6(l, loss), "loss %.9g want %.9Lg", (double)l, loss);
	g = mlp_grad_weights(m, 0);
	for (i = 0; i < 6; i++)
		ck_assert_msg(close6_grad(g[i], gw[i], gscale),
			      "dW[%d] %.9g want %.9Lg", i,
			      (double)g[i], gw[i]);
	g = mlp_grad_biases(m, 0);
	for (i = 0; i < 3; i++)
		ck_assert_msg(close6_grad(g[i], gb[i], gscale), "db[%d]", i);
	mlp_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* mlp: central-difference gradient checks */

struct gc_case {
	const char *name;
	uint32_t nl;
	uint32_t sizes[5];
	act_kind act[4];
	mlp_loss loss;
	int tame;     /* keep relu pre-activations away from the kink */
	size_t batch;
};

static const struct gc_case gc_cases[] = {
	{"sigmoid,sigmoid mse", 2, {3, 5, 2}, {ACT_SIGMOID, ACT_SIGMOID},
	 MLP_LOSS_MSE, 0, 4},
	{"tanh,tanh,linear mse", 3, {3, 4, 3, 2},
	 {ACT_TANH, ACT_TANH, ACT_LINEAR}, MLP_LOSS_MSE, 0, 5},
	{"relu,relu,linear mse", 3, {3, 6, 5, 2},
	 {ACT_RELU, ACT_RELU, ACT_LINEAR}, MLP_LOSS_MSE, 1, 4},
	{"linear,tanh mse", 2, {4, 3, 3}, {ACT_LINEAR, ACT_TANH},
	 MLP_LOSS_MSE, 0, 3},
	{"sigmoid,relu mse", 2, {3, 4, 4}, {ACT_SIGMOID, ACT_RELU},
	 MLP_LOSS_MSE, 1, 3},
	{"linear,sigmoid,linear,sigmoid mse", 4, {2, 3, 4, 3, 2},
	 {ACT_LINEAR, ACT_SIGMOID, ACT_LINEAR, ACT_SIGMOID}, MLP_LOSS_MSE, 0,
	 6},
	{"tanh,softmax cross_entropy", 2, {4, 6, 3},
	 {ACT_TANH, ACT_SOFTMAX}, MLP_LOSS_CROSS_ENTROPY, 0, 4},
	{"relu,sigmoid,softmax cross_entropy", 3, {3, 5, 4, 3},
	 {ACT_RELU, ACT_SIGMOID, ACT_SOFTMAX}, MLP_LOSS_CROSS_ENTROPY, 1, 3},
	{"softmax cross_entropy", 1, {3, 4}, {ACT_SOFTMAX},
	 MLP_LOSS_CROSS_ENTROPY, 0, 5},
};

/* Rescales weight rows so |W x| <= 0.5 for any input the layer can see
 * (inputs bounded by xmax) and sets relu biases to +1 and -1 in turn: each
 * relu unit is then on or off by a margin of 0.5, far more than a
 * perturbation of h = 1e-2 can move its pre-activation, so central
 * differences never straddle the kink while both branches are exercised. */
static void
tame(mlp *m, float xmax)
{
	const mlp_spec *s = mlp_get_spec(m);
	float bound = xmax;
	uint32_t l, i, j;

	for (l = 0; l < s->n_layers; l++) {
		uint32_t in = s->sizes[l], out = s->sizes[l + 1];
		float *w = mlp_weights(m, l), *b = mlp_biases(m, l);

		for (i = 0; i < out; i++) {
			float sum = 0.0f;

			for (j = 0; j < in; j++)
				sum += fabsf(w[i * in + j]);
			if (sum * bound > 0.45f)
				for (j = 0; j < in; j++)
					w[i * in + j] *= 0.45f / (sum * bound);
			if (s->act[l] == ACT_RELU)
				b[i] = (i % 2 == 0) ? 1.0f : -1.0f;
			else
				b[i] = 0.1f * (float)((int)(i % 3) - 1);
		}
		switch (s->act[l]) {
		case ACT_RELU:
			bound = 1.5f;
			break;
		case ACT_LINEAR:
			bound = 0.6f;
			break;
		default:
			bound = 1.0f;
			break;
		}
	}
}

START_TEST(test_gradcheck)
{
	const struct gc_case *c = &gc_cases[_i];
	const float h = 1e-2f;
	mlp *m = make_model(c->nl, c->sizes, c->act, c->loss, OPTIM_SGD, 0.1f,
			    100 + (uint64_t)_i);
	size_t nin = c->sizes[0], nout = c->sizes[c->nl], B = c->batch;
	float *x = malloc(B * nin * sizeof(float));
	float *y = malloc(B * nout * sizeof(float));
	float *p, *ga, loss, eloss, gmax = 0.0f;
	size_t np, ng, i;
	uint32_t l, st = 777 + (uint32_t)_i;
	fault f;

	ck_assert(x && y);
	make_data(31 + (uint32_t)_i, x, nin, y, nout, B, c->loss);
	if (c->tame) {
		tame(m, 1.0f);
	} else {
		for (l = 0; l < c->nl; l++)
			for (i = 0; i < c->sizes[l + 1]; i++)
				mlp_biases(m, l)[i] = frand(&st, -0.3f, 0.3f);
	}
	ck_assert_int_eq(mlp_gradients(m, x, y, B, &loss, &f), 0);
	ck_assert_int_eq(mlp_evaluate(m, x, y, B, &eloss, &f), 0);
	ck_assert(isfinite(loss) && loss > 0.0f);
	ck_assert_msg(fabsf(loss - eloss) <= 1e-6f * loss,
		      "%s: gradients loss %g, evaluate %g", c->name,
		      (double)loss, (double)eloss);
	p = mlp_params(m, &np);
	ng = n_params(m);
	ga = copy_floats(grads(m), ng);
	ck_assert_uint_eq(np, ng);
	for (i = 0; i < np; i++)
		gmax = fmaxf(gmax, fabsf(ga[i]));
	ck_assert_msg(gmax > 1e-2f, "%s: gradient all but zero (max %g)",
		      c->name, (double)gmax);
	for (i = 0; i < np; i++) {
		float p0 = p[i], lp, lm, hp, hm;
		double num, tol;

		p[i] = p0 + h;
		hp = p[i] - p0;
		ck_assert_int_eq(mlp_evaluate(m, x, y, B, &lp, &f), 0);
		p[i] = p0 - h;
		hm = p0 - p[i];
		ck_assert_int_eq(mlp_evaluate(m, x, y, B, &lm, &f), 0);
		p[i] = p0;
		num = ((double)lp - (double)lm) / ((double)hp + (double)hm);
		/* 2e-2 relative, floor 1e-4: float32 loss rounding over
		 * 2h = 2e-2 and the O(h^2) truncation are each ~1e-5 (the
		 * worst seen over these cases is 4e-5 absolute). */
		tol = 2e-2 * fmax(fabs(num), fabs((double)ga[i])) + 1e-4;
		ck_assert_msg(fabs(num - (double)ga[i]) <= tol,
			      "%s: param %zu analytic %.6g numeric %.6g",
			      c->name, i, (double)ga[i], num);
	}
	/* Every weight layer got a gradient well above that floor. */
	for (l = 0; l < c->nl; l++) {
		const float *gw = mlp_grad_weights(m, l);
		float lmax = 0.0f;

		for (i = 0; i < (size_t)c->sizes[l] * c->sizes[l + 1]; i++)
			lmax = fmaxf(lmax, fabsf(gw[i]));
		ck_assert_msg(lmax > 5e-4f, "%s: layer %u gradient max %g",
			      c->name, l, (double)lmax);
	}
	free(ga);
	free(x);
	free(y);
	mlp_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* mlp: training */

START_TEST(test_sgd_step_exact)
{
	const uint32_t sizes[] = {3, 5, 4, 2};
	const act_kind act[] = {ACT_TANH, ACT_SIGMOID, ACT_LINEAR};
	const float lr = 0.37f;
	mlp *a = make_model(3, sizes, act, MLP_LOSS_MSE, OPTIM_SGD, 0.1f, 5);
	mlp *b = make_model(3, sizes, act, MLP_LOSS_MSE, OPTIM_SGD, 0.1f, 5);
	float x[6 * 3], y[6 * 2], la, lb, le, *before, *ga;
	const float *pb;
	size_t n, i, moved = 0;
	fault f;

	make_data(8, x, 3, y, 2, 6, MLP_LOSS_MSE);
	n = n_params(b);
	before = copy_floats(params(b), n);
	ck_assert(params_are(a, before));
	ck_assert_int_eq(mlp_gradients(a, x, y, 6, &la, &f), 0);
	ga = copy_floats(grads(a), n);
	ck_assert_int_eq(mlp_evaluate(b, x, y, 6, &le, &f), 0);
	ck_assert_uint_eq(mlp_step(b), 0);
	ck_assert_int_eq(mlp_train_step(b, x, y, 6, lr, &lb, &f), 0);
	ck_assert_uint_eq(mlp_step(b), 1);
	/* The returned loss is the loss before the update. */
	ck_assert_msg(fabsf(lb - le) <= 1e-6f * le, "step loss %g, before %g",
		      (double)lb, (double)le);
	ck_assert(fabsf(lb - la) <= 1e-6f * la);
	ck_assert_mem_eq(grads(b), ga, n * sizeof(float));
	pb = params(b);
	for (i = 0; i < n; i++) {
		float want = before[i] - lr * ga[i];

		/* Within about one rounding of the operands (an FMA or an
		 * axpy with -lr may round once less than this expression). */
		ck_assert_msg(fabsf(pb[i] - want) <=
				      FLT_EPSILON * (fabsf(before[i]) +
						     fabsf(lr * ga[i])),
			      "param %zu: %.9g want %.9g", i, (double)pb[i],
			      (double)want);
		moved += pb[i] != before[i];
	}
	ck_assert_uint_gt(moved, n / 2);
	free(before);
	free(ga);
	mlp_destroy(a);
	mlp_destroy(b);
}
END_TEST

START_TEST(test_train_step_spec_lr)
{
	/* lr <= 0 means the spec's lr; mlp_apply with an explicit lr equals
	 * mlp_train_step with the same lr. */
	const uint32_t sizes[] = {2, 3, 1};
	const act_kind act[] = {ACT_TANH, ACT_LINEAR};
	mlp *a = make_model(2, sizes, act, MLP_LOSS_MSE, OPTIM_MOMENTUM, 0.25f,
			    9);
	mlp *b = make_model(2, sizes, act, MLP_LOSS_MSE, OPTIM_MOMENTUM, 0.25f,
			    9);
	mlp *c = make_model(2, sizes, act, MLP_LOSS_MSE, OPTIM_MOMENTUM, 0.25f,
			    9);
	float x[8], y[4], loss;
	int k;
	fault f;

	make_data(2, x, 2, y, 1, 4, MLP_LOSS_MSE);
	for (k = 0; k < 3; k++) {
		ck_assert_int_eq(mlp_train_step(a, x, y, 4, 0.0f, &loss, &f), 0);
		ck_assert_int_eq(mlp_train_step(b, x, y, 4, 0.25f, &loss, &f),
				 0);
		ck_assert_int_eq(mlp_gradients(c, x, y, 4, &loss, &f), 0);
		ck_assert_int_eq(mlp_apply(c, 0.25f, &f), 0);
	}
	ck_assert_uint_eq(mlp_step(a), 3);
	ck_assert_uint_eq(mlp_step(c), 3);
	ck_assert(same_params(a, b));
	ck_assert(same_params(a, c));
	ck_assert(same_state(a, c));
	ck_assert_int_eq(mlp_train_step(a, x, y, 4, -1.0f, &loss, &f), 0);
	ck_assert_int_eq(mlp_train_step(b, x, y, 4, 0.5f, &loss, &f), 0);
	ck_assert(!same_params(a, b));
	mlp_destroy(a);
	mlp_destroy(b);
	mlp_destroy(c);
}
END_TEST

static const float xor_x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
static const float xor_y[4] = {0, 1, 1, 0};

/* Trains the seed's [2, 4, 1] sigmoid/mse/sgd net on XOR until the loss is
 * under 0.01; returns the steps taken (0 if it never got there). */
static unsigned
train_xor(uint64_t seed, float lr, mlp **out)
{
	const uint32_t sizes[] = {2, 4, 1};
	const act_kind act[] = {ACT_SIGMOID, ACT_SIGMOID};
	mlp *m = make_model(2, sizes, act, MLP_LOSS_MSE, OPTIM_SGD, lr, seed);
	unsigned step;
	float loss;
	fault f;

	for (step = 1; step <= 50000; step++) {
		ck_assert_int_eq(mlp_train_step(m, xor_x, xor_y, 4, 0.0f, &loss,
						&f), 0);
		if (loss < 0.01f)
			break;
	}
	*out = m;
	return step <= 50000 ? step : 0;
}

START_TEST(test_xor)
{
	mlp *a, *b;
	unsigned sa = train_xor(1, 3.0f, &a), sb = train_xor(1, 3.0f, &b);
	float out[4], loss;
	fault f;
	int i;

	ck_assert_msg(sa > 0, "XOR did not reach loss 0.01 in 50000 steps");
	ck_assert_uint_eq(mlp_step(a), sa);
	ck_assert_int_eq(mlp_evaluate(a, xor_x, xor_y, 4, &loss, &f), 0);
	ck_assert(loss < 0.01f);
	ck_assert_int_eq(mlp_predict(a, xor_x, 4, out, &f), 0);
	for (i = 0; i < 4; i++)
		ck_assert_msg(fabsf(out[i] - xor_y[i]) < 0.2f, "xor row %d: %g",
			      i, (double)out[i]);
	/* Deterministic: the same seed takes the same path. */
	ck_assert_uint_eq(sa, sb);
	ck_assert(same_params(a, b));
	mlp_destroy(a);
	mlp_destroy(b);
}
END_TEST

START_TEST(test_optimizers_decrease_loss)
{
	/* y = 0.5 x0 - 0.3 x1 + 0.4 x0 x1 on 32 points; each optimizer cuts
	 * the loss by 4x within 300 full-batch steps. */
	static const struct {
		optim_kind kind;
		float lr;
	} cases[] = {{OPTIM_SGD, 0.2f}, {OPTIM_MOMENTUM, 0.05f},
		     {OPTIM_ADAM, 0.02f}};
	const uint32_t sizes[] = {2, 8, 1};
	const act_kind act[] = {ACT_TANH, ACT_LINEAR};
	mlp *m = make_model(2, sizes, act, MLP_LOSS_MSE, cases[_i].kind,
			    cases[_i].lr, 21);
	float x[64], y[32], first = 0.0f, loss = 0.0f, *st;
	size_t i, ns;
	int k;
	fault f;
	uint32_t s = 5;

	for (i = 0; i < 32; i++) {
		x[2 * i] = frand(&s, -1.0f, 1.0f);
		x[2 * i + 1] = frand(&s, -1.0f, 1.0f);
		y[i] = 0.5f * x[2 * i] - 0.3f * x[2 * i + 1] +
		       0.4f * x[2 * i] * x[2 * i + 1];
	}
	for (k = 0; k < 300; k++) {
		ck_assert_int_eq(mlp_train_step(m, x, y, 32, 0.0f, &loss, &f),
				 0);
		ck_assert(isfinite(loss));
		if (k == 0)
			first = loss;
	}
	ck_assert_int_eq(mlp_evaluate(m, x, y, 32, &loss, &f), 0);
	ck_assert_msg(loss < 0.25f * first, "%s: loss %g from %g",
		      optim_name(cases[_i].kind), (double)loss,
		      (double)first);
	st = mlp_optim_state(m, &ns);
	ck_assert_uint_eq(ns, optim_state_floats(cases[_i].kind, 33));
	if (ns) {
		int nonzero = 0;

		for (i = 0; i < ns; i++)
			nonzero += st[i] != 0.0f;
		ck_assert_int_gt(nonzero, 0);
		mlp_reset_optim(m);
		st = mlp_optim_state(m, &ns);
		for (i = 0; i < ns; i++)
			ck_assert(st[i] == 0.0f);
	}
	mlp_destroy(m);
}
END_TEST

START_TEST(test_determinism)
{
	const uint32_t sizes[] = {3, 6, 2};
	const act_kind act[] = {ACT_RELU, ACT_SIGMOID};
	static const optim_kind kinds[] = {OPTIM_SGD, OPTIM_MOMENTUM,
					   OPTIM_ADAM};
	mlp *a = make_model(2, sizes, act, MLP_LOSS_MSE, kinds[_i], 0.05f, 77);
	mlp *b = make_model(2, sizes, act, MLP_LOSS_MSE, kinds[_i], 0.05f, 77);
	mlp *c = make_model(2, sizes, act, MLP_LOSS_MSE, kinds[_i], 0.05f, 78);
	float x[10 * 3], y[10 * 2], loss;
	int k;
	fault f;

	make_data(6, x, 3, y, 2, 10, MLP_LOSS_MSE);
	ck_assert_mem_eq(mlp_rng(a)->s, mlp_rng(b)->s, sizeof(uint64_t) * 4);
	ck_assert(memcmp(mlp_rng(a)->s, mlp_rng(c)->s,
			 sizeof(uint64_t) * 4) != 0);
	ck_assert(!same_params(a, c));
	for (k = 0; k < 40; k++) {
		ck_assert_int_eq(mlp_train_step(a, x, y, 10, 0.0f, &loss, &f),
				 0);
		ck_assert_int_eq(mlp_train_step(b, x, y, 10, 0.0f, &loss, &f),
				 0);
		ck_assert_int_eq(mlp_train_step(c, x, y, 10, 0.0f, &loss, &f),
				 0);
	}
	ck_assert(same_params(a, b));
	ck_assert(same_state(a, b));
	ck_assert(!same_params(a, c));
	ck_assert_uint_eq(n_state(a), optim_state_floats(kinds[_i], 38));
	ck_assert_uint_eq(mlp_step(a), 40);
	mlp_destroy(a);
	mlp_destroy(b);
	mlp_destroy(c);
}
END_TEST

/* A checked step skips only the scan: the same nets, bit for bit, for every
 * optimizer; the data-set check names rows past MLP_MAX_BATCH; and a
 * checked step still refuses a row count out of range. */
START_TEST(test_checked_step)
{
	const uint32_t sizes[] = {3, 6, 2};
	const act_kind act[] = {ACT_SIGMOID, ACT_SIGMOID};
	static const optim_kind kinds[] = {OPTIM_SGD, OPTIM_MOMENTUM,
					   OPTIM_ADAM};
	mlp *a = make_model(2, sizes, act, MLP_LOSS_MSE, kinds[_i], 0.05f, 9);
	mlp *b = make_model(2, sizes, act, MLP_LOSS_MSE, kinds[_i], 0.05f, 9);
	size_t big = (size_t)MLP_MAX_BATCH + 5;
	float x[10 * 3], y[10 * 2], la, lb, *bx, *by;
	fault f;

	make_data(4, x, 3, y, 2, 10, MLP_LOSS_MSE);
	for (int k = 0; k < 25; k++) {
		ck_assert_int_eq(mlp_train_step(a, x, y, 10, 0.0f, &la, &f), 0);
		ck_assert_int_eq(mlp_train_step_checked(b, x, y, 10, 0.0f, &lb,
							&f), 0);
		ck_assert(la == lb);
	}
	ck_assert(same_params(a, b));
	ck_assert(same_state(a, b));
	ck_assert_uint_eq(mlp_step(b), 25);
	ck_assert_int_eq(mlp_train_step_checked(b, x, y, 0, 0.0f, &lb, &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	ck_assert_int_eq(mlp_train_step_checked(b, x, NULL, 2, 0.0f, &lb, &f),
			 -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	ck_assert_uint_eq(mlp_step(b), 25);

	bx = calloc(big * 3, sizeof(float));
	by = calloc(big * 2, sizeof(float));
	ck_assert(bx && by);
	ck_assert_int_eq(mlp_check_data(mlp_get_spec(a), bx, by, big, &f), 0);
	by[(big - 2) * 2 + 1] = NAN;
	ck_assert_int_eq(mlp_check_data(mlp_get_spec(a), bx, by, big, &f), -1);
	ck_assert_int_eq(f.code, FAULT_NONFINITE);
	{
		char want[64];

		snprintf(want, sizeof want, "targets[%zu][1]", big - 2);
		ck_assert_ptr_nonnull(strstr(f.msg, want));
	}
	bx[(big - 1) * 3] = INFINITY;
	ck_assert_int_eq(mlp_check_data(mlp_get_spec(a), bx, by, big, &f), -1);
	ck_assert_ptr_nonnull(strstr(f.msg, "inputs["));
	free(bx);
	free(by);
	mlp_destroy(a);
	mlp_destroy(b);
}
END_TEST

/* The fused step (the trainer's) against the checked step it replaces:
 * with sgd the weights agree to float rounding over many steps on nets
 * wide enough for the BLAS's vector kernels, the losses likewise and the
 * bias gradients are this step's; with momentum and adam it is the checked
 * step bit for bit. Case _i: 0 sigmoid mse, 1 relu/tanh/softmax ce, 2
 * momentum, 3 adam. */
START_TEST(test_fused_step)
{
	const uint32_t sizes[] = {40, 33, 17, 6};
	const act_kind acts[2][3] = {
		{ACT_SIGMOID, ACT_SIGMOID, ACT_SIGMOID},
		{ACT_RELU, ACT_TANH, ACT_SOFTMAX},
	};
	static const optim_kind kinds[] = {OPTIM_SGD, OPTIM_SGD,
					   OPTIM_MOMENTUM, OPTIM_ADAM};
	mlp_loss loss = _i == 1 ? MLP_LOSS_CROSS_ENTROPY : MLP_LOSS_MSE;
	const act_kind *act = acts[_i == 1];
	mlp *a = make_model(3, sizes, act, loss, kinds[_i], 0.2f, 21);
	mlp *b = make_model(3, sizes, act, loss, kinds[_i], 0.2f, 21);
	enum { ROWS = 37 };
	float x[ROWS * 40], y[ROWS * 6], la, lb;
	const float *pa, *pb;
	double worst = 0.0;
	size_t n;
	fault f;

	make_data(11, x, 40, y, 6, ROWS, loss);
	for (int k = 0; k < 60; k++) {
		/* batches of 37 and 5 rows: the scratch is carved for 37 */
		size_t rows = k % 3 == 2 ? 5 : ROWS;

		ck_assert_int_eq(mlp_train_step_checked(a, x, y, rows, 0.0f,
							&la, &f), 0);
		ck_assert_int_eq(mlp_train_step_fused(b, x, y, rows, 0.0f, &lb,
						      &f), 0);
		ck_assert_msg(fabsf(la - lb) <= 1e-5f * (1.0f + fabsf(la)),
			      "step %d: loss %.9g vs %.9g", k, la, lb);
		ck_assert_int_eq(mlp_params_finite(b), 1);
	}
	ck_assert_uint_eq(mlp_step(b), 60);
	pa = mlp_params_const(a, &n);
	pb = mlp_params_const(b, NULL);
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)pa[i] - pb[i]) / (1.0 + fabs(pa[i]));

		worst = d > worst ? d : worst;
	}
	if (kinds[_i] != OPTIM_SGD) {
		ck_assert(same_params(a, b));
		ck_assert(same_state(a, b));
	} else {
		ck_assert_msg(worst <= 1e-5, "weights apart by %g", worst);
	}
	/* and the steps did move the weights a long way from the start */
	{
		mlp *c = make_model(3, sizes, act, loss, kinds[_i], 0.2f, 21);
		const float *pc = mlp_params_const(c, NULL);
		double moved = 0.0;

		for (size_t i = 0; i < n; i++)
			moved += fabs((double)pb[i] - pc[i]);
		ck_assert_msg(moved > 1000.0 * worst + 1e-2,
			      "moved %g, apart %g", moved, worst);
		mlp_destroy(c);
	}
	for (uint32_t l = 0; l < 3; l++)
		for (uint32_t c = 0; c < sizes[l + 1]; c++)
			ck_assert_msg(fabsf(mlp_grad_biases(a, l)[c] -
					    mlp_grad_biases(b, l)[c]) <= 1e-6f,
				      "bias gradient %u/%u", l, c);
	mlp_destroy(a);
	mlp_destroy(b);
}
END_TEST

/* A fused step whose loss is not finite changes nothing; one that sends a
 * weight to Inf with a finite loss is seen by mlp_params_finite even right
 * after a step that had noted the weights finite. */
START_TEST(test_fused_step_divergence)
{
	const uint32_t sizes[] = {1, 1};
	const act_kind act[] = {ACT_LINEAR};
	const float x[1] = {1.0f}, y[1] = {0.0f};
	mlp *m = make_model(1, sizes, act, MLP_LOSS_MSE, OPTIM_SGD, 0.1f, 3);
	float loss, *before;
	fault f;

	mlp_weights(m, 0)[0] = 1.0f;
	mlp_biases(m, 0)[0] = 0.0f;
	ck_assert_int_eq(mlp_train_step(m, x, y, 1, 0.1f, &loss, &f), 0);
	ck_assert_int_eq(mlp_params_finite(m), 1);
	/* output about 0.8, target 0: lr FLT_MAX sends w to -Inf */
	ck_assert_int_eq(mlp_train_step_fused(m, x, y, 1, FLT_MAX, &loss, &f),
			 0);
	ck_assert(isfinite(loss));
	ck_assert(isinf(mlp_params_const(m, NULL)[0]));
	ck_assert_int_eq(mlp_params_finite(m), 0);
	ck_assert_uint_eq(mlp_step(m), 2);
	/* now the output is Inf: the loss is not finite, nothing moves */
	before = copy_floats(mlp_params_const(m, NULL), n_params(m));
	fault_clear(&f);
	ck_assert_int_eq(mlp_train_step_fused(m, x, y, 1, 0.1f, &loss, &f),
			 -1);
	ck_assert_int_eq(f.code, FAULT_DIVERGED);
	ck_assert(!isfinite(loss));
	ck_assert(params_are(m, before));
	ck_assert_uint_eq(mlp_step(m), 2);
	/* and a bad batch is refused before anything */
	ck_assert_int_eq(mlp_train_step_fused(m, x, NULL, 1, 0.1f, &loss, &f),
			 -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	ck_assert_int_eq(mlp_train_step_fused(m, x, y, 0, 0.1f, &loss, &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	free(before);
	mlp_destroy(m);
}
END_TEST

START_TEST(test_glorot_init)
{
	const uint32_t sizes[] = {5, 40, 30, 9};
	const act_kind act[] = {ACT_TANH, ACT_RELU, ACT_LINEAR};
	mlp *m = make_model(3, sizes, act, MLP_LOSS_MSE, OPTIM_SGD, 0.1f,
			    (uint64_t)_i);
	uint32_t l, i;

	for (l = 0; l < 3; l++) {
		double a = sqrt(6.0 / (sizes[l] + sizes[l + 1]));
		const float *w = mlp_weights(m, l), *b = mlp_biases(m, l);
		uint32_t nw = sizes[l] * sizes[l + 1];
		float mx = 0.0f;
		int neg = 0;

		for (i = 0; i < nw; i++) {
			ck_assert_msg(fabs(w[i]) <= a * (1 + 1e-6),
				      "layer %u w[%u] = %g > %g", l, i,
				      (double)w[i], a);
			mx = fmaxf(mx, fabsf(w[i]));
			neg += w[i] < 0.0f;
		}
		/* Spread over the range, both signs (P(fail) < 2^-44). */
		ck_assert(mx > 0.5 * a);
		ck_assert(neg > 0 && (uint32_t)neg < nw);
		for (i = 0; i < sizes[l + 1]; i++)
			ck_assert(b[i] == 0.0f);
	}
	mlp_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* mlp: snapshots */

START_TEST(test_snapshot)
{
	const uint32_t sizes[] = {4, 6, 3};
	const act_kind act[] = {ACT_TANH, ACT_SOFTMAX};
	mlp *m = make_model(2, sizes, act, MLP_LOSS_CROSS_ENTROPY, OPTIM_ADAM,
			    0.05f, 13);
	float x[8 * 4], y[8 * 3], out[8 * 3], sout[8 * 3], loss, *saved;
	const mlp_spec *ss;
	mlp_snapshot *s, *r;
	size_t n, sn;
	int k;
	fault f;

	make_data(9, x, 4, y, 3, 8, MLP_LOSS_CROSS_ENTROPY);
	for (k = 0; k < 3; k++)
		ck_assert_int_eq(mlp_train_step(m, x, y, 8, 0.0f, &loss, &f), 0);
	s = mlp_snapshot_create(m, &f);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(mlp_snapshot_step(s), 3);
	ss = mlp_snapshot_spec(s);
	ck_assert_uint_eq(ss->n_layers, 2);
	ck_assert_uint_eq(ss->sizes[0], 4);
	ck_assert_uint_eq(ss->sizes[1], 6);
	ck_assert_uint_eq(ss->sizes[2], 3);
	ck_assert_int_eq(ss->act[1], ACT_SOFTMAX);
	ck_assert_int_eq(ss->loss, MLP_LOSS_CROSS_ENTROPY);
	ck_assert(ss->seed == 13);
	n = n_params(m);
	saved = copy_floats(params(m), n);
	ck_assert_mem_eq(mlp_snapshot_params(s, &sn), saved, n * sizeof(float));
	ck_assert_uint_eq(sn, n);
	ck_assert_ptr_ne(mlp_snapshot_params(s, &sn), params(m));

	ck_assert_int_eq(mlp_predict(m, x, 8, out, &f), 0);
	ck_assert_int_eq(mlp_snapshot_predict(s, x, 8, sout, &f), 0);
	ck_assert_mem_eq(out, sout, sizeof out);

	/* Training the model does not reach the snapshot. */
	for (k = 0; k < 5; k++)
		ck_assert_int_eq(mlp_train_step(m, x, y, 8, 0.0f, &loss, &f), 0);
	ck_assert(!params_are(m, saved));
	ck_assert_mem_eq(mlp_snapshot_params(s, &sn), saved, n * sizeof(float));
	ck_assert_uint_eq(mlp_snapshot_step(s), 3);
	ck_assert_int_eq(mlp_snapshot_predict(s, x, 8, sout, &f), 0);
	ck_assert_mem_eq(out, sout, sizeof out);
	ck_assert_int_eq(mlp_predict(m, x, 8, out, &f), 0);
	ck_assert(memcmp(out, sout, sizeof out) != 0);

	/* A second reference keeps it alive past the first unref and past
	 * the model. */
	r = mlp_snapshot_ref(s);
	ck_assert_ptr_eq(r, s);
	mlp_snapshot_unref(s);
	mlp_destroy(m);
	memset(sout, 0, sizeof sout);
	ck_assert_int_eq(mlp_snapshot_predict(r, x, 8, sout, &f), 0);
	ck_assert_mem_eq(mlp_snapshot_params(r, &sn), saved, n * sizeof(float));
	for (k = 0; k < 8; k++) {
		float sum = sout[k * 3] + sout[k * 3 + 1] + sout[k * 3 + 2];

		ck_assert(fabsf(sum - 1.0f) < 1e-5f);
	}
	mlp_snapshot_unref(r);
	mlp_snapshot_unref(NULL);
	free(saved);
}
END_TEST

/* One reader thread of test_snapshot_threads: predicts the same batch many
 * times and counts the results that differ from the expected outputs. */
struct reader {
	mlp_snapshot *snap; /* one reference, owned by the test */
	const float *x;
	const float *want;
	size_t n, nout;
	int bad; /* failed calls plus differing outputs */
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	float *out = malloc(r->n * r->nout * sizeof(float));
	fault f;
	int k;

	if (out == NULL) {
		r->bad++;
		return NULL;
	}
	for (k = 0; k < 200; k++) {
		if (mlp_snapshot_predict(r->snap, r->x, r->n, out, &f) != 0 ||
		    memcmp(out, r->want, r->n * r->nout * sizeof(float)) != 0)
			r->bad++;
	}
	free(out);
	return NULL;
}

START_TEST(test_snapshot_threads)
{
	/* Four threads predict from one snapshot at once while the model
	 * keeps training; each gets the single-threaded answer every time. */
	const uint32_t sizes[] = {6, 16, 4};
	const act_kind act[] = {ACT_RELU, ACT_SIGMOID};
	mlp *m = make_model(2, sizes, act, MLP_LOSS_MSE, OPTIM_ADAM, 0.01f, 23);
	float x[32 * 6], y[32 * 4], want[32 * 4], loss;
	struct reader rd[4];
	pthread_t th[4];
	mlp_snapshot *s;
	fault f;
	int k;

	make_data(12, x, 6, y, 4, 32, MLP_LOSS_MSE);
	s = mlp_snapshot_create(m, &f);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(mlp_snapshot_predict(s, x, 32, want, &f), 0);
	for (k = 0; k < 4; k++) {
		rd[k].snap = mlp_snapshot_ref(s);
		rd[k].x = x;
		rd[k].want = want;
		rd[k].n = 32;
		rd[k].nout = 4;
		rd[k].bad = 0;
		ck_assert_int_eq(pthread_create(&th[k], NULL, reader_main,
						&rd[k]), 0);
	}
	for (k = 0; k < 50; k++)
		ck_assert_int_eq(mlp_train_step(m, x, y, 32, 0.0f, &loss, &f), 0);
	for (k = 0; k < 4; k++) {
		ck_assert_int_eq(pthread_join(th[k], NULL), 0);
		ck_assert_int_eq(rd[k].bad, 0);
		mlp_snapshot_unref(rd[k].snap);
	}
	mlp_snapshot_unref(s);
	mlp_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* mlp: bad arguments */

/* Asserts that both mlp_spec_validate and mlp_create refuse s with
 * FAULT_INVALID and a message. */
static void
expect_bad_spec(const mlp_spec *s, const char *what)
{
	fault f;
	mlp *m;

	fault_clear(&f);
	ck_assert_msg(mlp_spec_validate(s, &f) == -1, "validate took %s",
		      what);
	ck_assert_msg(f.code == FAULT_INVALID, "%s: code %d", what, f.code);
	ck_assert_msg(f.msg[0] != '\0', "%s: no message", what);
	fault_clear(&f);
	m = mlp_create(s, &f);
	if (m)
		mlp_destroy(m);
	ck_assert_msg(m == NULL, "mlp_create took %s", what);
	ck_assert_msg(f.code == FAULT_INVALID, "%s: code %d", what, f.code);
	ck_assert_msg(f.msg[0] != '\0', "%s: no message", what);
}

static void
small_spec(mlp_spec *s)
{
	mlp_spec_default(s);
	s->n_layers = 2;
	s->sizes[0] = 3;
	s->sizes[1] = 4;
	s->sizes[2] = 2;
}

START_TEST(test_bad_specs)
{
	mlp_spec s;
	fault f;
	mlp *m;
	uint32_t l;

	mlp_spec_default(&s);
	expect_bad_spec(&s, "the default (no layers)");
	small_spec(&s);
	ck_assert_int_eq(mlp_spec_validate(&s, &f), 0);
	s.n_layers = 0;
	expect_bad_spec(&s, "n_layers 0");
	small_spec(&s);
	s.n_layers = MLP_MAX_LAYERS + 1;
	for (l = 0; l <= MLP_MAX_LAYERS; l++)
		s.sizes[l] = 2;
	expect_bad_spec(&s, "n_layers MAX+1");
	small_spec(&s);
	s.sizes[1] = 0;
	expect_bad_spec(&s, "a hidden size 0");
	small_spec(&s);
	s.sizes[0] = 0;
	expect_bad_spec(&s, "input size 0");
	small_spec(&s);
	s.sizes[2] = MLP_MAX_WIDTH + 1;
	expect_bad_spec(&s, "size 65537");
	small_spec(&s);
	s.sizes[0] = s.sizes[1] = s.sizes[2] = MLP_MAX_WIDTH;
	expect_bad_spec(&s, "[65536, 65536, 65536] over MLP_MAX_PARAMS");
	small_spec(&s);
	s.act[0] = ACT_SOFTMAX;
	s.act[1] = ACT_SOFTMAX;
	s.loss = MLP_LOSS_CROSS_ENTROPY;
	expect_bad_spec(&s, "softmax on a hidden layer");
	small_spec(&s);
	s.act[1] = ACT_SOFTMAX;
	expect_bad_spec(&s, "mse with softmax");
	small_spec(&s);
	s.loss = MLP_LOSS_CROSS_ENTROPY;
	expect_bad_spec(&s, "cross_entropy without softmax");
	small_spec(&s);
	s.act[0] = ACT_COUNT_;
	expect_bad_spec(&s, "an unknown activation");
	small_spec(&s);
	s.loss = MLP_LOSS_COUNT_;
	expect_bad_spec(&s, "an unknown loss");
	small_spec(&s);
	s.opt.kind = OPTIM_COUNT_;
	expect_bad_spec(&s, "an unknown optimizer");
	small_spec(&s);
	s.opt.lr = 0.0f;
	expect_bad_spec(&s, "lr 0");
	s.opt.lr = -0.1f;
	expect_bad_spec(&s, "lr < 0");
	s.opt.lr = NAN;
	expect_bad_spec(&s, "lr NaN");
	s.opt.lr = INFINITY;
	expect_bad_spec(&s, "lr Inf");
	small_spec(&s);
	s.opt.kind = OPTIM_MOMENTUM;
	s.opt.momentum = 1.0f;
	expect_bad_spec(&s, "momentum 1");
	s.opt.momentum = -0.1f;
	expect_bad_spec(&s, "momentum < 0");
	small_spec(&s);
	s.opt.kind = OPTIM_ADAM;
	s.opt.beta1 = 1.0f;
	expect_bad_spec(&s, "beta1 1");
	small_spec(&s);
	s.opt.kind = OPTIM_ADAM;
	s.opt.beta2 = 1.0f;
	expect_bad_spec(&s, "beta2 1");
	small_spec(&s);
	s.opt.kind = OPTIM_ADAM;
	s.opt.eps = 0.0f;
	expect_bad_spec(&s, "eps 0");

	/* The limits themselves are allowed. */
	small_spec(&s);
	s.n_layers = 1;
	s.sizes[0] = MLP_MAX_WIDTH;
	s.sizes[1] = 1;
	ck_assert_int_eq(mlp_spec_validate(&s, &f), 0);
	m = mlp_create(&s, &f);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(mlp_spec_params(&s), MLP_MAX_WIDTH + 1);
	mlp_destroy(m);
	s.n_layers = MLP_MAX_LAYERS;
	for (l = 0; l <= MLP_MAX_LAYERS; l++)
		s.sizes[l] = 2;
	m = mlp_create(&s, &f);
	ck_assert_ptr_nonnull(m);
	mlp_destroy(m);

	mlp_destroy(NULL);
	mlp_snapshot_unref(NULL);
}
END_TEST

/* Asserts that every batch entry point refuses (x, y, n) with code, leaving
 * the model as it was; predictors too when with_predict (x or n is bad). */
static void
expect_bad_batch(mlp *m, const float *x, const float *y, size_t n,
		 fault_code code, int with_predict, const char *what)
{
	const mlp_spec *s = mlp_get_spec(m);
	size_t np = n_params(m), nout = s->sizes[s->n_layers];
	float *before = copy_floats(params(m), np);
	float *out = calloc((n ? n : 1) * nout, sizeof(float));
	uint64_t step = mlp_step(m);
	mlp_snapshot *snap;
	float loss;
	fault f;

	ck_assert_ptr_nonnull(out);
	fault_clear(&f);
	ck_assert_msg(mlp_check_batch(s, x, y, n, &f) == -1, "check %s", what);
	ck_assert_msg(f.code == code && f.msg[0], "check %s: %d", what, f.code);
	fault_clear(&f);
	ck_assert_msg(mlp_gradients(m, x, y, n, &loss, &f) == -1, "%s", what);
	ck_assert_msg(f.code == code && f.msg[0], "gradients %s", what);
	fault_clear(&f);
	ck_assert_msg(mlp_train_step(m, x, y, n, 0.1f, &loss, &f) == -1, "%s",
		      what);
	ck_assert_msg(f.code == code && f.msg[0], "train %s", what);
	fault_clear(&f);
	ck_assert_msg(mlp_evaluate(m, x, y, n, &loss, &f) == -1, "%s", what);
	ck_assert_msg(f.code == code && f.msg[0], "evaluate %s", what);
	ck_assert(params_are(m, before));
	ck_assert(mlp_step(m) == step);
	if (with_predict) {
		fault_clear(&f);
		ck_assert_msg(mlp_predict(m, x, n, out, &f) == -1,
			      "predict %s", what);
		ck_assert_msg(f.code == code && f.msg[0], "predict %s", what);
		snap = mlp_snapshot_create(m, &f);
		ck_assert_ptr_nonnull(snap);
		fault_clear(&f);
		ck_assert_msg(mlp_snapshot_predict(snap, x, n, out, &f) == -1,
			      "snapshot predict %s", what);
		ck_assert_msg(f.code == code && f.msg[0],
			      "snapshot predict %s", what);
		mlp_snapshot_unref(snap);
	}
	free(out);
	free(before);
}

START_TEST(test_bad_batches)
{
	const uint32_t sizes[] = {3, 4, 1};
	const act_kind act[] = {ACT_TANH, ACT_LINEAR};
	mlp *m = make_model(2, sizes, act, MLP_LOSS_MSE, OPTIM_SGD, 0.1f, 1);
	const float bad[3] = {NAN, INFINITY, -INFINITY};
	float x[2 * 3], y[2], out[2], loss;
	float *bigx, *bigy;
	fault f;
	int k;

	make_data(3, x, 3, y, 1, 2, MLP_LOSS_MSE);
	expect_bad_batch(m, x, y, 0, FAULT_INVALID, 1, "n = 0");
	/* Big enough to be read in full, should the size check come late. */
	bigx = calloc((size_t)(MLP_MAX_BATCH + 1) * 3, sizeof(float));
	bigy = calloc((size_t)MLP_MAX_BATCH + 1, sizeof(float));
	ck_assert(bigx && bigy);
	expect_bad_batch(m, bigx, bigy, MLP_MAX_BATCH + 1, FAULT_INVALID, 1,
			 "n > MLP_MAX_BATCH");
	free(bigx);
	free(bigy);
	for (k = 0; k < 3; k++) {
		float xb[2 * 3], yb[2];

		memcpy(xb, x, sizeof x);
		xb[1 * 3 + 2] = bad[k];
		expect_bad_batch(m, xb, y, 2, FAULT_NONFINITE, 1, "bad x row 1");
		expect_bad_batch(m, xb + 3, y + 1, 1, FAULT_NONFINITE, 1,
				 "bad x, one row");
		memcpy(yb, y, sizeof y);
		yb[1] = bad[k];
		expect_bad_batch(m, x, yb, 2, FAULT_NONFINITE, 0, "bad y row 1");
		expect_bad_batch(m, x + 3, yb + 1, 1, FAULT_NONFINITE, 0,
				 "bad y, one row");
	}
	/* Without y only x is checked; good batches still work. */
	ck_assert_int_eq(mlp_check_batch(mlp_get_spec(m), x, NULL, 2, &f), 0);
	ck_assert_int_eq(mlp_check_batch(mlp_get_spec(m), x, y, 2, &f), 0);
	ck_assert_int_eq(mlp_predict(m, x, 2, out, &f), 0);
	ck_assert_int_eq(mlp_train_step(m, x, y, 2, 0.1f, &loss, &f), 0);
	mlp_destroy(m);
}
END_TEST

START_TEST(test_bad_apply)
{
	const uint32_t sizes[] = {2, 3, 1};
	const act_kind act[] = {ACT_SIGMOID, ACT_SIGMOID};
	mlp *m = make_model(2, sizes, act, MLP_LOSS_MSE, OPTIM_SGD, 0.1f, 1);
	const float lrs[] = {NAN, -0.5f, 0.0f, INFINITY, -INFINITY};
	float loss, *before;
	size_t n, k;
	fault f;

	ck_assert_int_eq(mlp_gradients(m, xor_x, xor_y, 4, &loss, &f), 0);
	n = n_params(m);
	before = copy_floats(params(m), n);
	for (k = 0; k < sizeof lrs / sizeof lrs[0]; k++) {
		fault_clear(&f);
		ck_assert_msg(mlp_apply(m, lrs[k], &f) == -1, "lr %g taken",
			      (double)lrs[k]);
		ck_assert_int_eq(f.code, FAULT_INVALID);
		ck_assert(f.msg[0] != '\0');
		ck_assert(params_are(m, before));
		ck_assert_uint_eq(mlp_step(m), 0);
	}
	ck_assert_int_eq(mlp_apply(m, 0.5f, &f), 0);
	ck_assert_uint_eq(mlp_step(m), 1);
	ck_assert(!params_are(m, before));
	free(before);
	mlp_destroy(m);
}
END_TEST

START_TEST(test_divergence)
{
	/* A linear net stepped with lr 1e30 (the spec caps its own lr, the
	 * argument is free): its outputs blow up to Inf within a few steps;
	 * that step must fail and leave everything as it was. */
	const uint32_t sizes[] = {2, 3, 1};
	const act_kind act[] = {ACT_LINEAR, ACT_LINEAR};
	mlp *m = make_model(2, sizes, act, MLP_LOSS_MSE, OPTIM_MOMENTUM, 0.1f,
			    4);
	const float x[4] = {1.0f, 2.0f, -1.0f, 0.5f};
	const float y[2] = {10.0f, -10.0f};
	float loss = 0.0f, *before, *sbefore;
	size_t n, ns;
	int k, rc = 0;
	uint64_t step = 0;
	fault f;

	before = NULL;
	sbefore = NULL;
	for (k = 0; k < 20; k++) {
		free(before);
		free(sbefore);
		n = n_params(m);
		ns = n_state(m);
		before = copy_floats(params(m), n);
		sbefore = copy_floats(state(m), ns);
		step = mlp_step(m);
		fault_clear(&f);
		rc = mlp_train_step(m, x, y, 2, 1e30f, &loss, &f);
		if (rc != 0)
			break;
		ck_assert(isfinite(loss));
	}
	ck_assert_msg(rc == -1, "never diverged");
	ck_assert_int_gt(k, 0);
	ck_assert_int_eq(f.code, FAULT_DIVERGED);
	ck_assert(f.msg[0] != '\0');
	ck_assert(params_are(m, before));
	ck_assert(memcmp(state(m), sbefore, ns * sizeof(float)) == 0);
	ck_assert(mlp_step(m) == step);
	free(before);
	free(sbefore);
	mlp_destroy(m);
}
END_TEST

/* gemm_run against cblas_sgemm on the same arguments: every transpose,
 * alpha and beta of the core's products, the step's shapes of [784, 128,
 * 10] at batch 64 and odd ones, with leading dimensions wider than the
 * rows. Through oneDNN (when built in) the sums may round differently:
 * within 1e-5 of the largest magnitude; forced to OpenBLAS, bit for bit.
 * Calling threads of their own agree too (oneDNN's OpenMP count is per
 * thread). */
struct gemm_case { int ta, tb, m, n, k; float alpha, beta; };

static const struct gemm_case gemm_cases[] = {
	{ 0, 1, 64, 128, 784, 1.0f, 1.0f },    /* forward, bias in C */
	{ 0, 0, 64, 128, 10, 1.0f, 0.0f },     /* delta below */
	{ 1, 0, 128, 784, 64, -0.1f, 1.0f },   /* fused weight update */
	{ 1, 0, 10, 128, 64, 1.0f, 0.0f },     /* weight gradient */
	{ 1, 1, 7, 5, 3, 0.5f, -2.0f },
	{ 0, 1, 1, 1, 1, 1.0f, 0.0f },
	{ 0, 0, 33, 17, 65, 2.0f, 0.25f },
};

/* Largest |c - want| over the case, against the largest |want|. */
static double
gemm_diff(const struct gemm_case *g, uint64_t seed, int pad)
{
	int ra = g->ta ? g->k : g->m, ca = g->ta ? g->m : g->k;
	int rb = g->tb ? g->n : g->k, cb = g->tb ? g->k : g->n;
	int lda = ca + pad, ldb = cb + pad, ldc = g->n + pad;
	float *a = malloc(sizeof(float) * (size_t)ra * (size_t)lda);
	float *b = malloc(sizeof(float) * (size_t)rb * (size_t)ldb);
	float *c = malloc(sizeof(float) * (size_t)g->m * (size_t)ldc);
	float *want = malloc(sizeof(float) * (size_t)g->m * (size_t)ldc);
	double worst = 0.0, big = 0.0;
	rng r;

	ck_assert(a && b && c && want);
	rng_seed(&r, seed);
	for (int i = 0; i < ra * lda; i++)
		a[i] = (float)rng_uniform(&r) - 0.5f;
	for (int i = 0; i < rb * ldb; i++)
		b[i] = (float)rng_uniform(&r) - 0.5f;
	for (int i = 0; i < g->m * ldc; i++)
		c[i] = want[i] = (float)rng_uniform(&r);
	cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
	    g->tb ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, g->alpha, a,
	    lda, b, ldb, g->beta, want, ldc);
	gemm_run(g->ta, g->tb, g->m, g->n, g->k, g->alpha, a, lda, b, ldb,
	    g->beta, c, ldc);
	for (int i = 0; i < g->m; i++)
		for (int j = 0; j < ldc; j++) {
			double d = fabs((double)c[i * ldc + j] -
			    want[i * ldc + j]);

			if (j >= g->n) /* padding: never written */
				ck_assert(d == 0.0);
			worst = d > worst ? d : worst;
			big = fmax(big, fabs((double)want[i * ldc + j]));
		}
	free(a);
	free(b);
	free(c);
	free(want);
	return worst / (big > 1.0 ? big : 1.0);
}

static void *
gemm_thread(void *arg)
{
	double *out = arg;

	*out = 0.0;
	for (size_t i = 0; i < sizeof gemm_cases / sizeof gemm_cases[0]; i++)
		*out = fmax(*out, gemm_diff(&gemm_cases[i], 100 + i, 3));
	return NULL;
}

START_TEST(test_gemm_matches_cblas)
{
	size_t nc = sizeof gemm_cases / sizeof gemm_cases[0];
	double t[2];
	pthread_t th[2];

#ifdef MLPD_HAVE_DNNL
	ck_assert_msg(strncmp(gemm_name(), "oneDNN ", 7) == 0, "%s",
	    gemm_name());
#else
	ck_assert_str_eq(gemm_name(), "OpenBLAS");
#endif
	for (size_t i = 0; i < nc; i++)
		for (int pad = 0; pad <= 3; pad += 3) {
			double d = gemm_diff(&gemm_cases[i], i + 1, pad);

			ck_assert_msg(d <= 1e-5, "case %zu pad %d: off by "
			    "%g", i, pad, d);
		}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, gemm_thread,
		    &t[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(t[i] <= 1e-5, "thread %d: off by %g", i, t[i]);
	}
	gemm_force_blas(1);
	ck_assert_str_eq(gemm_name(), "OpenBLAS");
	for (size_t i = 0; i < nc; i++)
		ck_assert_msg(gemm_diff(&gemm_cases[i], i + 1, 3) == 0.0,
		    "case %zu through OpenBLAS is not cblas_sgemm's", i);
	gemm_force_blas(0);
}
END_TEST

/* The kernel choice: only an unset OPENBLAS_CORETYPE, an AVX2 core and an
 * AVX-512 CPU together ask for a re-exec; a user's variable, whatever its
 * value, never does, so the executed process cannot execute again. */
START_TEST(test_blas_tune_decision)
{
	ck_assert_int_eq(blas_tune_wanted(NULL, "Haswell", 1), 1);
	ck_assert_int_eq(blas_tune_wanted(NULL, "ZEN", 1), 1);
	ck_assert_int_eq(blas_tune_wanted(NULL, "Haswell", 0), 0);
	ck_assert_int_eq(blas_tune_wanted(NULL, "SkylakeX", 1), 0);
	ck_assert_int_eq(blas_tune_wanted(NULL, "Cooperlake", 1), 0);
	ck_assert_int_eq(blas_tune_wanted(NULL, "unknown", 1), 0);
	ck_assert_int_eq(blas_tune_wanted(NULL, NULL, 1), 0);
	ck_assert_int_eq(blas_tune_wanted("Haswell", "Haswell", 1), 0);
	ck_assert_int_eq(blas_tune_wanted("", "Haswell", 1), 0);
	ck_assert_int_eq(blas_tune_wanted(BLAS_TUNE_CORETYPE, "Haswell", 1),
	    0);

	ck_assert_int_eq(blas_tune_classify(NULL, NULL), BLAS_TUNE_DEFAULT);
	ck_assert_int_eq(blas_tune_classify(NULL, "1"), BLAS_TUNE_DEFAULT);
	ck_assert_int_eq(blas_tune_classify("Haswell", NULL), BLAS_TUNE_USER);
	ck_assert_int_eq(blas_tune_classify(BLAS_TUNE_CORETYPE, NULL),
	    BLAS_TUNE_USER);
	ck_assert_int_eq(blas_tune_classify("Haswell", "1"), BLAS_TUNE_USER);
	ck_assert_int_eq(blas_tune_classify(BLAS_TUNE_CORETYPE, "1"),
	    BLAS_TUNE_AUTO);
	ck_assert_str_eq(blas_tune_state_name(BLAS_TUNE_AUTO), "auto");
	ck_assert_str_eq(blas_tune_state_name(BLAS_TUNE_USER), "user");
	ck_assert(blas_tune_core() != NULL && blas_tune_core()[0] != '\0');
}
END_TEST

static Suite *
core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc;

	tc = tcase_create("rng");
	tcase_add_test(tc, test_rng_xoshiro_known_answer);
	tcase_add_test(tc, test_rng_seed_splitmix);
	tcase_add_test(tc, test_rng_determinism);
	tcase_add_test(tc, test_rng_uniform);
	tcase_add_test(tc, test_rng_below);
	tcase_add_test(tc, test_rng_shuffle);
	tcase_add_test(tc, test_rng_glorot);
	suite_add_tcase(s, tc);

	tc = tcase_create("act");
	tcase_add_test(tc, test_act_forward);
	tcase_add_test(tc, test_act_sigmoid_block);
	tcase_add_test(tc, test_act_sigmoid_backward_block);
	tcase_add_test(tc, test_act_softmax);
	tcase_add_test(tc, test_act_backward);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_fault);
	tcase_add_test(tc, test_blas_tune_decision);
	tcase_add_test(tc, test_gemm_matches_cblas);
	suite_add_tcase(s, tc);

	tc = tcase_create("optim");
	tcase_add_test(tc, test_optim_defaults);
	tcase_add_test(tc, test_optim_sgd);
	tcase_add_test(tc, test_optim_sgd_fused);
	tcase_add_test(tc, test_params_finite_after_update);
	tcase_add_test(tc, test_optim_momentum);
	tcase_add_test(tc, test_optim_adam);
	suite_add_tcase(s, tc);

	tc = tcase_create("mlp_math");
	tcase_add_test(tc, test_seed_net);
	tcase_add_test(tc, test_seed_net_single_rows);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_predict_rows_and_growth);
	tcase_add_test(tc, test_cross_entropy_by_hand);
	tcase_add_loop_test(tc, test_gradcheck, 0,
			    (int)(sizeof gc_cases / sizeof gc_cases[0]));
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("mlp_train");
	tcase_add_test(tc, test_sgd_step_exact);
	tcase_add_test(tc, test_train_step_spec_lr);
	tcase_add_test(tc, test_xor);
	tcase_add_loop_test(tc, test_checked_step, 0, 3);
	tcase_add_loop_test(tc, test_fused_step, 0, 4);
	tcase_add_test(tc, test_fused_step_divergence);
	tcase_add_loop_test(tc, test_optimizers_decrease_loss, 0, 3);
	tcase_add_loop_test(tc, test_determinism, 0, 3);
	tcase_add_loop_test(tc, test_glorot_init, 0, 4);
	tcase_add_test(tc, test_divergence);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("mlp_api");
	tcase_add_test(tc, test_snapshot);
	tcase_add_test(tc, test_snapshot_threads);
	tcase_add_test(tc, test_bad_specs);
	tcase_add_test(tc, test_bad_batches);
	tcase_add_test(tc, test_bad_apply);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(core_suite());
	int failed;

	mlp_blas_threads(1);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
