/*
 * check_eval: Check unit tests of core/eval.c, the held-out metrics and
 * the validation split.
 *
 * Expected values come from the core's own entry points used another way
 * (mlp_evaluate over the whole set for the loss, mlp_predict's argmax
 * placed by hand for the accuracy) or from counting here; none is copied
 * from a run of the code under test.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "fault.h"
#include "mlp.h"

/* A model of nin inputs, 8 hidden tanh units and nout outputs (softmax
 * with cross entropy when softmax, else linear with mse). */
static mlp *
make_model(uint32_t nin, uint32_t nout, int softmax)
{
	mlp_spec s;
	fault f;
	mlp *m;

	mlp_spec_default(&s);
	s.n_layers = 2;
	s.sizes[0] = nin;
	s.sizes[1] = 8;
	s.sizes[2] = nout;
	s.act[0] = ACT_TANH;
	s.act[1] = softmax ? ACT_SOFTMAX : ACT_LINEAR;
	s.loss = softmax ? MLP_LOSS_CROSS_ENTROPY : MLP_LOSS_MSE;
	s.seed = 7;
	m = mlp_create(&s, &f);
	ck_assert_msg(m != NULL, "mlp_create failed: %s", f.msg);
	return m;
}

/* n values in [-1, 1] that look random enough for a loss (no RNG of
 * core's involved); *seed moves on so that two calls differ. */
static float *
random_floats(size_t n, uint32_t *seed)
{
	float *p = malloc(n * sizeof *p);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = sinf((float)(i + 1) * 12.9898f + (float)*seed * 78.233f);
	*seed += 1;
	return p;
}

static size_t
argmax(const float *v, size_t w)
{
	size_t best = 0;

	for (size_t k = 1; k < w; k++)
		if (v[k] > v[best])
			best = k;
	return best;
}

START_TEST(test_held_out)
{
	ck_assert_int_eq(eval_held_out(10, 0.2), 2);
	ck_assert_int_eq(eval_held_out(10, 0.25), 2);  /* rounded down */
	ck_assert_int_eq(eval_held_out(10, 0.01), 1);  /* at least one */
	ck_assert_int_eq(eval_held_out(1000, 0.5), 500);
	ck_assert_int_eq(eval_held_out(10, 0.0), 0);
	ck_assert_int_eq(eval_held_out(0, 0.5), 0);
	ck_assert_int_eq(eval_held_out(10, NAN), 0);
}
END_TEST

START_TEST(test_is_onehot)
{
	static const float good[] = { 0, 1, 0, 1, 0, 0 };
	static const float half[] = { 0, 1, 0, 0.5f, 0.5f, 0 };
	static const float two[] = { 0, 1, 0, 1, 1, 0 };
	static const float none[] = { 0, 1, 0, 0, 0, 0 };
	static const float one_col[] = { 1, 1 };

	ck_assert_int_eq(eval_is_onehot(good, 2, 3), 1);
	ck_assert_int_eq(eval_is_onehot(half, 2, 3), 0);
	ck_assert_int_eq(eval_is_onehot(two, 2, 3), 0);
	ck_assert_int_eq(eval_is_onehot(none, 2, 3), 0);
	/* one output column is never one-hot (a regression target) */
	ck_assert_int_eq(eval_is_onehot(one_col, 2, 1), 0);
}
END_TEST

/* Accuracy on one-hot targets: rows 0..hits-1 have their 1 where the
 * model's largest output is, the others one place further on. */
START_TEST(test_accuracy_onehot)
{
	const size_t n = 50, nin = 4, w = 3, hits = 17;
	uint32_t seed = 11;
	mlp *m = make_model(nin, w, 1);
	float *x = random_floats(n * nin, &seed);
	float *out = malloc(n * w * sizeof *out);
	float *y = calloc(n * w, sizeof *y);
	float *scratch = malloc(eval_scratch_floats(n, w) * sizeof *scratch);
	eval_result r, r2;
	fault f;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(y);
	ck_assert_ptr_nonnull(scratch);
	ck_assert_int_eq(mlp_predict(m, x, n, out, &f), 0);
	for (size_t i = 0; i < n; i++) {
		size_t k = argmax(out + i * w, w);

		y[i * w + (i < hits ? k : (k + 1) % w)] = 1.0f;
	}
	ck_assert_int_eq(eval_is_onehot(y, n, w), 1);
	ck_assert_int_eq(eval_measure(m, x, y, n, 1, scratch, &r, &f), 0);
	ck_assert_double_eq_tol(r.accuracy, (double)hits / (double)n, 1e-12);
	/* without scratch it allocates its own, same result */
	ck_assert_int_eq(eval_measure(m, x, y, n, 1, NULL, &r2, &f), 0);
	ck_assert_double_eq(r2.accuracy, r.accuracy);
	ck_assert_double_eq(r2.loss, r.loss);
	free(scratch);
	free(out);
	free(x);
	free(y);
	mlp_destroy(m);
}
END_TEST

/* Targets that are not one-hot: no accuracy, the loss still. */
START_TEST(test_accuracy_not_onehot)
{
	const size_t n = 20, nin = 3, w = 2;
	uint32_t seed = 5;
	mlp *m = make_model(nin, w, 0);
	float *x = random_floats(n * nin, &seed);
	float *y = random_floats(n * w, &seed);
	eval_result r;
	fault f;

	ck_assert_int_eq(eval_is_onehot(y, n, w), 0);
	ck_assert_int_eq(eval_measure(m, x, y, n, 0, NULL, &r, &f), 0);
	ck_assert(isnan(r.accuracy));
	ck_assert(isfinite(r.loss) && r.loss > 0.0);
	free(x);
	free(y);
	mlp_destroy(m);
}
END_TEST

/* The loss is the core's: exactly mlp_evaluate's in one chunk, and its
 * row-weighted mean over chunks, as one pass over all rows gives. */
START_TEST(test_loss_is_core_loss)
{
	const size_t nin = 3, w = 2, small = 100, big = EVAL_CHUNK + 904;
	uint32_t seed = 9;
	mlp *m = make_model(nin, w, 0);
	float *x = random_floats(big * nin, &seed);
	float *y = random_floats(big * w, &seed);
	eval_result r;
	float loss;
	fault f;

	ck_assert_int_eq(mlp_evaluate(m, x, y, small, &loss, &f), 0);
	ck_assert_int_eq(eval_measure(m, x, y, small, 0, NULL, &r, &f), 0);
	ck_assert_double_eq(r.loss, (double)loss);
	ck_assert_int_eq(mlp_evaluate(m, x, y, big, &loss, &f), 0);
	ck_assert_int_eq(eval_measure(m, x, y, big, 0, NULL, &r, &f), 0);
	ck_assert_double_eq_tol(r.loss, (double)loss, 1e-6 * fabs(loss));
	free(x);
	free(y);
	mlp_destroy(m);
}
END_TEST

START_TEST(test_measure_refuses)
{
	const size_t nin = 2, w = 2;
	mlp *m = make_model(nin, w, 0);
	float x[] = { 0.5f, NAN }, y[] = { 1.0f, 0.0f };
	eval_result r;
	fault f;

	fault_clear(&f);
	ck_assert_int_eq(eval_measure(m, x, y, 0, 0, NULL, &r, &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	fault_clear(&f);
	ck_assert_int_eq(eval_measure(m, NULL, y, 1, 0, NULL, &r, &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	fault_clear(&f);
	ck_assert_int_eq(eval_measure(m, x, y, 1, 0, NULL, &r, &f), -1);
	ck_assert_int_eq(f.code, FAULT_NONFINITE);
	mlp_destroy(m);
}
END_TEST

/* n rows of nin inputs whose first is the row's number, and nout targets
 * whose first is minus it. */
static void
numbered_rows(size_t n, size_t nin, size_t nout, float **x, float **y)
{
	*x = calloc(n * nin, sizeof **x);
	*y = calloc(n * nout, sizeof **y);
	ck_assert_ptr_nonnull(*x);
	ck_assert_ptr_nonnull(*y);
	for (size_t i = 0; i < n; i++) {
		(*x)[i * nin] = (float)i;
		(*x)[i * nin + nin - 1] += 0.5f;
		(*y)[i * nout] = -(float)i;
	}
}

/* One split of 100 numbered rows with seed; *held gets which were held. */
static void
split(uint64_t seed, unsigned char held[100], float **vx, size_t *vn,
      float **x_left, size_t *n_left)
{
	const size_t nin = 3, nout = 2;
	float *x, *y, *vy;
	size_t n = 100;
	fault f;

	numbered_rows(n, nin, nout, &x, &y);
	ck_assert_int_eq(eval_hold_out(x, y, &n, nin, nout, 0.2, seed, vx, &vy,
	    vn, &f), 0);
	ck_assert_uint_eq(*vn, 20);
	ck_assert_uint_eq(n, 80);
	memset(held, 0, 100);
	for (size_t v = 0; v < *vn; v++) {
		size_t id = (size_t)(*vx)[v * nin];

		ck_assert_uint_lt(id, 100);
		ck_assert_msg(!held[id], "row %zu held out twice", id);
		held[id] = 1;
		/* the row moved whole: its other input and its target */
		ck_assert_float_eq((*vx)[v * nin + nin - 1], 0.5f);
		ck_assert_float_eq(vy[v * nout], -(float)id);
	}
	/* the rows left are the others, in their stored order */
	for (size_t i = 0, prev = 0; i < n; i++) {
		size_t id = (size_t)x[i * nin];

		ck_assert_msg(!held[id], "row %zu both held out and kept", id);
		ck_assert(i == 0 || id > prev);
		ck_assert_float_eq(y[i * nout], -(float)id);
		prev = id;
	}
	free(vy);
	free(y);
	*x_left = x;
	*n_left = n;
}

START_TEST(test_hold_out_split)
{
	unsigned char a[100], b[100], c[100];
	float *va, *vb, *vc, *xa, *xb, *xc;
	size_t na, nb, nc, la, lb, lc;

	split(42, a, &va, &na, &xa, &la);
	split(42, b, &vb, &nb, &xb, &lb);
	/* the same seed holds out the same rows, in the same order */
	ck_assert_mem_eq(a, b, sizeof a);
	ck_assert_mem_eq(va, vb, na * 3 * sizeof(float));
	ck_assert_mem_eq(xa, xb, la * 3 * sizeof(float));
	/* another seed, other rows */
	split(43, c, &vc, &nc, &xc, &lc);
	ck_assert_msg(memcmp(a, c, sizeof a) != 0, "seeds 42 and 43 held "
	    "out the same rows");
	free(va);
	free(vb);
	free(vc);
	free(xa);
	free(xb);
	free(xc);
}
END_TEST

START_TEST(test_hold_out_refuses)
{
	float *x, *y, *vx = NULL, *vy = NULL, *x0;
	size_t n = 1, vn = 0;
	fault f;

	numbered_rows(4, 2, 2, &x, &y);
	x0 = malloc(4 * 2 * sizeof *x0);
	ck_assert_ptr_nonnull(x0);
	memcpy(x0, x, 4 * 2 * sizeof *x0);
	/* one row: holding out any leaves none to train on */
	fault_clear(&f);
	ck_assert_int_eq(eval_hold_out(x, y, &n, 2, 2, 0.5, 1, &vx, &vy, &vn,
	    &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	n = 4;
	fault_clear(&f);
	ck_assert_int_eq(eval_hold_out(x, y, &n, 2, 2, 0.0, 1, &vx, &vy, &vn,
	    &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	fault_clear(&f);
	ck_assert_int_eq(eval_hold_out(x, y, &n, 2, 2, 1.0, 1, &vx, &vy, &vn,
	    &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	fault_clear(&f);
	ck_assert_int_eq(eval_hold_out(x, y, &n, 0, 2, 0.5, 1, &vx, &vy, &vn,
	    &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	/* nothing changed */
	ck_assert_uint_eq(n, 4);
	ck_assert_ptr_null(vx);
	ck_assert_ptr_null(vy);
	ck_assert_uint_eq(vn, 0);
	ck_assert_mem_eq(x, x0, 4 * 2 * sizeof *x0);
	free(x0);
	free(x);
	free(y);
}
END_TEST

static Suite *
eval_suite(void)
{
	Suite *s = suite_create("eval");
	TCase *tc = tcase_create("eval");

	tcase_add_test(tc, test_held_out);
	tcase_add_test(tc, test_is_onehot);
	tcase_add_test(tc, test_accuracy_onehot);
	tcase_add_test(tc, test_accuracy_not_onehot);
	tcase_add_test(tc, test_loss_is_core_loss);
	tcase_add_test(tc, test_measure_refuses);
	tcase_add_test(tc, test_hold_out_split);
	tcase_add_test(tc, test_hold_out_refuses);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(eval_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
