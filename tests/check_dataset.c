/*
 * check_dataset: a train job's rows in bounded memory (engine/dataset.c)
 * over a real store file. Rows carry their own number (inputs i and -i,
 * target i), so a test sees which stored row each step got: streamed
 * with a small cap, every row comes once an epoch, the order follows from
 * the seeds alone (a resumed or released dataset goes on identically),
 * validation rows never train and are measured like eval_measure; in
 * memory, the steps and weights are those of a whole load (the trainer
 * before datasets: store_batches_load, eval_hold_out, the model's
 * generator shuffling an index).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbfiles.h"
#include "dataset.h"
#include "eval.h"
#include "mlp.h"
#include "store.h"

#define ROWS 1000
/* batch sizes of the stored rows (they add up to ROWS) */
static const size_t parts[] = { 1, 99, 300, 150, 250, 100, 100 };

typedef struct fixture {
	char dir[64];
	char path[96];
	store *st;
	mlp_spec spec;
} fixture;

/* A model row (its blob is not read here). */
static void
add_model(store *st, const char *id)
{
	store_model row;
	fault f;

	memset(&row, 0, sizeof row);
	snprintf(row.id, sizeof row.id, "%s", id);
	row.name = id;
	row.last_loss = NAN;
	row.blob = "W";
	row.blob_len = 1;
	ck_assert_msg(store_model_insert(st, &row, &f) == 0, "%s", f.msg);
}

/* A store with model "m" of 2 inputs and 1 output and ROWS rows. */
static void
fixture_open(fixture *x)
{
	int64_t batch, total;
	size_t at = 0;
	fault f;

	memset(x, 0, sizeof *x);
	snprintf(x->dir, sizeof x->dir, "%s/check_dataset.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(x->dir));
	snprintf(x->path, sizeof x->path, "%s/mlpd.db", x->dir);
	x->st = store_open(x->path, &f);
	ck_assert_msg(x->st != NULL, "store_open: %s", f.msg);
	mlp_spec_default(&x->spec);
	x->spec.n_layers = 2;
	x->spec.sizes[0] = 2;
	x->spec.sizes[1] = 3;
	x->spec.sizes[2] = 1;
	x->spec.seed = 5;
	add_model(x->st, "m");
	for (size_t p = 0; p < sizeof parts / sizeof *parts; p++) {
		float xs[2 * 300], ys[300];

		for (size_t i = 0; i < parts[p]; i++) {
			xs[2 * i] = (float)(at + i);
			xs[2 * i + 1] = -(float)(at + i);
			ys[i] = (float)(at + i);
		}
		ck_assert_msg(store_batch_insert(x->st, "m", xs, ys, parts[p], 2,
		    1, 0, 1, &batch, &total, &f) == 0, "%s", f.msg);
		at += parts[p];
	}
	ck_assert_uint_eq(at, ROWS);
}

static void
fixture_close(fixture *x)
{
	store_close(x->st);
	test_unlink_db(x->path);
	rmdir(x->dir);
}

static dataset *
open_ds_read(fixture *x, size_t cap, double split, size_t bs, int shuffle,
	     uint64_t key, size_t read_bytes)
{
	dataset_opts o;
	dataset *d;
	fault f;

	memset(&o, 0, sizeof o);
	o.spec = &x->spec;
	o.order_key = key;
	o.split = split;
	o.batch_size = bs;
	o.shuffle = shuffle;
	o.cap = cap;
	o.read_bytes = read_bytes;
	ck_assert_msg(dataset_open(x->st, "m", &o, &d, &f) == 0, "%s", f.msg);
	return d;
}

static dataset *
open_ds(fixture *x, size_t cap, double split, size_t bs, int shuffle,
	uint64_t key)
{
	return open_ds_read(x, cap, split, bs, shuffle, key, 0);
}

/* Step s of d: its rows' numbers into out (checked against the inputs);
 * the number of rows. */
static size_t
step_rows(dataset *d, rng *r, int64_t s, int *out)
{
	const float *xb, *yb;
	size_t n;
	fault f;

	ck_assert_msg(dataset_batch(d, r, s, &xb, &yb, &n, &f) == 0, "%s",
	    f.msg);
	for (size_t i = 0; i < n; i++) {
		ck_assert(xb[2 * i] == yb[i] && xb[2 * i + 1] == -yb[i]);
		out[i] = (int)yb[i];
	}
	return n;
}

/* The cap of the streamed tests: far under the 24,000 bytes of the rows
 * and their bookkeeping. */
#define SMALL_CAP ((size_t)4096)

START_TEST(test_stream_every_row_once)
{
	fixture x;
	dataset *d;
	int rows[16], first[ROWS], k = 0, moved = 0, differs = 0, runs = 0;
	int64_t s = 0;

	fixture_open(&x);
	d = open_ds(&x, SMALL_CAP, 0, 16, 1, 0);
	ck_assert(dataset_streamed(d));
	ck_assert_uint_eq(dataset_rows(d), ROWS);
	ck_assert_uint_eq(dataset_val_rows(d), 0);
	ck_assert_uint_eq(dataset_per_epoch(d), (ROWS + 15) / 16);
	for (int e = 0; e < 3; e++) {
		int seen[ROWS] = { 0 };

		k = 0;
		for (size_t p = 0; p < dataset_per_epoch(d); p++, s++) {
			size_t n = step_rows(d, NULL, s, rows);

			/* what it holds stays under the cap plus the step's
			 * own rows (16 rows of 12 bytes, read and as read,
			 * and 16 bytes of bookkeeping each) */
			ck_assert_uint_le(dataset_bytes(d), SMALL_CAP +
			    16 * (2 * 12 + 16));
			for (size_t i = 0; i < n; i++, k++) {
				ck_assert_int_lt(rows[i], ROWS);
				seen[rows[i]]++;
				if (e == 0)
					first[k] = rows[i];
				else
					differs += first[k] != rows[i];
				moved += e == 0 && rows[i] != k;
				/* rows shuffled within the window too, not
				 * only whole blocks */
				runs += i > 0 && rows[i] == rows[i - 1] + 1;
			}
		}
		ck_assert_int_eq(k, ROWS);
		for (int i = 0; i < ROWS; i++)
			ck_assert_msg(seen[i] == 1, "epoch %d: row %d seen %d "
			    "times", e, i, seen[i]);
	}
	/* shuffled, and differently every epoch */
	ck_assert_int_gt(moved, ROWS / 2);
	ck_assert_int_gt(differs, ROWS / 2);
	ck_assert_int_lt(runs, ROWS / 10);
	dataset_destroy(d);
	fixture_close(&x);
}
END_TEST

/* Without shuffle, streamed rows come in stored order. */
START_TEST(test_stream_unshuffled)
{
	fixture x;
	dataset *d;
	int rows[16], k = 0;

	fixture_open(&x);
	d = open_ds(&x, SMALL_CAP, 0, 16, 0, 0);
	ck_assert(dataset_streamed(d));
	for (int64_t s = 0; s < (int64_t)dataset_per_epoch(d); s++) {
		size_t n = step_rows(d, NULL, s, rows);

		for (size_t i = 0; i < n; i++, k++)
			ck_assert_int_eq(rows[i], k);
	}
	ck_assert_int_eq(k, ROWS);
	dataset_destroy(d);
	fixture_close(&x);
}
END_TEST

/* The order of any step follows from the seeds: a dataset opened at a
 * later step (a resumed job), or one whose rows were released now and
 * then (a job that yielded), gets the same rows; another order key
 * another order. */
START_TEST(test_stream_resume_and_release)
{
	fixture x;
	dataset *a, *b, *c, *other;
	size_t per;
	int ra[16], rb[16], differs = 0;

	fixture_open(&x);
	a = open_ds(&x, SMALL_CAP, 0.1, 16, 1, 42);
	c = open_ds(&x, SMALL_CAP, 0.1, 16, 1, 42);
	other = open_ds(&x, SMALL_CAP, 0.1, 16, 1, 43);
	per = dataset_per_epoch(a);
	b = NULL;
	for (int64_t s = 0; s < 2 * (int64_t)per; s++) {
		size_t n = step_rows(a, NULL, s, ra);

		if (s == (int64_t)per + 7)
			b = open_ds(&x, SMALL_CAP, 0.1, 16, 1, 42);
		if (b != NULL) {
			ck_assert_uint_eq(step_rows(b, NULL, s, rb), n);
			ck_assert(memcmp(ra, rb, n * sizeof *ra) == 0);
		}
		if (s % 5 == 3)
			dataset_release(c);
		ck_assert_uint_eq(step_rows(c, NULL, s, rb), n);
		ck_assert(memcmp(ra, rb, n * sizeof *ra) == 0);
		ck_assert_uint_eq(step_rows(other, NULL, s, rb), n);
		for (size_t i = 0; i < n; i++)
			differs += ra[i] != rb[i];
	}
	ck_assert_int_gt(differs, (int)per);
	dataset_destroy(a);
	dataset_destroy(b);
	dataset_destroy(c);
	dataset_destroy(other);
	fixture_close(&x);
}
END_TEST

/* Streamed validation_split: the held-out rows never train, the others
 * once an epoch, and the measure is eval_measure's over the held rows. */
START_TEST(test_stream_split)
{
	fixture x;
	dataset *d;
	int rows[16], seen[ROWS] = { 0 };
	float hx[2 * ROWS], hy[ROWS];
	size_t held = 0;
	eval_result got, want;
	mlp *m;
	fault f;

	fixture_open(&x);
	d = open_ds(&x, SMALL_CAP, 0.2, 16, 1, 0);
	ck_assert(dataset_streamed(d));
	ck_assert_uint_eq(dataset_rows(d) + dataset_val_rows(d), ROWS);
	ck_assert_uint_ge(dataset_val_rows(d), 120);
	ck_assert_uint_le(dataset_val_rows(d), 280);
	for (int64_t s = 0; s < (int64_t)dataset_per_epoch(d); s++) {
		size_t n = step_rows(d, NULL, s, rows);

		for (size_t i = 0; i < n; i++)
			seen[rows[i]]++;
	}
	for (int i = 0; i < ROWS; i++) {
		ck_assert_int_le(seen[i], 1);
		if (seen[i] == 0) {
			hx[2 * held] = (float)i;
			hx[2 * held + 1] = -(float)i;
			hy[held++] = (float)i;
		}
	}
	ck_assert_uint_eq(held, dataset_val_rows(d));
	m = mlp_create(&x.spec, &f);
	ck_assert_ptr_nonnull(m);
	ck_assert_msg(dataset_measure(d, m, &got, &f) == 0, "%s", f.msg);
	ck_assert_int_eq(eval_measure(m, hx, hy, held, 0, NULL, &want, &f), 0);
	ck_assert_msg(fabs(got.loss - want.loss) <= 1e-5 * fabs(want.loss),
	    "%g vs %g", got.loss, want.loss);
	ck_assert(isnan(got.accuracy));
	mlp_destroy(m);
	dataset_destroy(d);
	fixture_close(&x);
}
END_TEST

/* The trainer before datasets, as it was: every row loaded, eval_hold_out,
 * an index reshuffled by the model's generator each epoch; trains m for
 * steps steps of bs rows and measures it on the held-out rows. */
static void
whole_load(fixture *x, mlp *m, double split, size_t bs, int shuffle,
	   int64_t steps, eval_result *r)
{
	float *xs, *ys, *vx = NULL, *vy = NULL, xb[16 * 2], yb[16];
	size_t n, vn = 0, per;
	uint32_t *idx;
	fault f;

	ck_assert_int_eq(store_batches_load(x->st, "m", 2, 1, &xs, &ys, &n,
	    &f), 0);
	if (split > 0)
		ck_assert_int_eq(eval_hold_out(xs, ys, &n, 2, 1, split,
		    x->spec.seed, &vx, &vy, &vn, &f), 0);
	idx = malloc(n * sizeof *idx);
	ck_assert_ptr_nonnull(idx);
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	bs = bs < n ? bs : n;
	per = (n + bs - 1) / bs;
	for (int64_t s = 0; s < steps; s++) {
		size_t pos = (size_t)(s % (int64_t)per);
		size_t rows = n - pos * bs < bs ? n - pos * bs : bs;
		float loss;

		if (pos == 0 && shuffle)
			rng_shuffle(mlp_rng(m), idx, n);
		for (size_t i = 0; i < rows; i++) {
			size_t k = idx[pos * bs + i];

			memcpy(xb + 2 * i, xs + 2 * k, 2 * sizeof(float));
			yb[i] = ys[k];
		}
		ck_assert_int_eq(mlp_train_step_checked(m, xb, yb, rows, 1e-4f,
		    &loss, &f), 0);
	}
	if (vn > 0)
		ck_assert_int_eq(eval_measure(m, vx, vy, vn, 0, NULL, r, &f),
		    0);
	free(xs);
	free(ys);
	free(vx);
	free(vy);
	free(idx);
}

/* In memory (the default cap): the same weights and validation loss as
 * the whole load, step for step, with or without shuffle and split, and
 * after a release in the middle; with the rows in one loader chunk, and
 * in chunks of 10 rows that the loader thread and the trainer race for
 * (_i: 0 and 1). */
START_TEST(test_memory_same_as_whole_load)
{
	static const double splits[] = { 0, 0.25 };
	size_t read_bytes = _i ? 10 * 3 * sizeof(float) : 0;
	fixture x;

	fixture_open(&x);
	for (int shuffle = 0; shuffle <= 1; shuffle++) {
		for (size_t k = 0; k < 2; k++) {
			dataset *d = open_ds_read(&x, (size_t)256 << 20,
			    splits[k], 16, shuffle, 0, read_bytes);
			mlp *a, *b;
			eval_result ra, rb;
			int64_t steps;
			size_t na, nb;
			float *pa, *pb;
			fault f;

			ck_assert(!dataset_streamed(d));
			a = mlp_create(&x.spec, &f);
			b = mlp_create(&x.spec, &f);
			ck_assert(a != NULL && b != NULL);
			steps = 3 * (int64_t)dataset_per_epoch(d) + 5;
			for (int64_t s = 0; s < steps; s++) {
				const float *xb, *yb;
				size_t n;
				float loss;

				if (s == 40)
					dataset_release(d);
				ck_assert_int_eq(dataset_batch(d, mlp_rng(a), s,
				    &xb, &yb, &n, &f), 0);
				ck_assert_int_eq(mlp_train_step_checked(a, xb,
				    yb, n, 1e-4f, &loss, &f), 0);
			}
			whole_load(&x, b, splits[k], 16, shuffle, steps, &rb);
			pa = mlp_params(a, &na);
			pb = mlp_params(b, &nb);
			ck_assert_uint_eq(na, nb);
			ck_assert_msg(memcmp(pa, pb, na * sizeof *pa) == 0,
			    "weights differ (shuffle %d, split %g)", shuffle,
			    splits[k]);
			if (splits[k] > 0) {
				ck_assert_uint_eq(dataset_val_rows(d),
				    (size_t)eval_held_out(ROWS, splits[k]));
				ck_assert_int_eq(dataset_measure(d, a, &ra, &f),
				    0);
				ck_assert(ra.loss == rb.loss);
			}
			mlp_destroy(a);
			mlp_destroy(b);
			dataset_destroy(d);
		}
	}
	fixture_close(&x);
}
END_TEST

START_TEST(test_refusals)
{
	fixture x;
	dataset_opts o;
	dataset *d;
	fault f;

	fixture_open(&x);
	memset(&o, 0, sizeof o);
	o.spec = &x.spec;
	o.batch_size = 16;
	o.cap = SMALL_CAP;
	add_model(x.st, "empty");
	ck_assert_int_eq(dataset_open(x.st, "empty", &o, &d, &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(dataset_open(x.st, "nope", &o, &d, &f), -1);
	ck_assert_ptr_null(d);
	dataset_destroy(NULL);
	fixture_close(&x);
}
END_TEST

static Suite *
dataset_suite(void)
{
	Suite *s = suite_create("dataset");
	TCase *tc = tcase_create("dataset");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_stream_every_row_once);
	tcase_add_test(tc, test_stream_unshuffled);
	tcase_add_test(tc, test_stream_resume_and_release);
	tcase_add_test(tc, test_stream_split);
	tcase_add_loop_test(tc, test_memory_same_as_whole_load, 0, 2);
	tcase_add_test(tc, test_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dataset_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
