/*
 * check_registry: Check unit tests of the registry (server/engine/) with
 * an in-memory store beside it.
 *
 * The registry's counts must follow what the store committed whatever
 * order the commits' callers report them in (two pushes of one model
 * finishing out of order, a batch delete between pushes); a model put
 * back after a failed delete must be whole again (not deleted, in its
 * place in the list); a view copies every field the API shows.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "fault.h"
#include "mlp.h"
#include "registry.h"
#include "store.h"

#define NIN 2
#define NOUT 1

static store *st;     /* each test's, in memory (setup, teardown) */
static registry *reg;

static void
setup(void)
{
	fault f;

	st = store_open(":memory:", &f);
	ck_assert_msg(st != NULL, "%s", f.msg);
	reg = registry_create(&f);
	ck_assert_ptr_nonnull(reg);
}

static void
teardown(void)
{
	registry_destroy(reg);
	store_close(st);
}

/* A small spec: 2 inputs, 3 hidden, 1 output. */
static void
small_spec(mlp_spec *s)
{
	mlp_spec_default(s);
	s->n_layers = 2;
	s->sizes[0] = NIN;
	s->sizes[1] = 3;
	s->sizes[2] = NOUT;
	s->seed = 7;
}

/* A model id in the store and an entry for it (not yet in a registry). */
static model_entry *
new_model(const char *id, int64_t created_ms)
{
	mlp_spec spec;
	store_model row;
	void *blob = NULL;
	size_t len = 0;
	model_entry *e;
	mlp *live;
	fault f;

	small_spec(&spec);
	live = mlp_create(&spec, &f);
	ck_assert_msg(live != NULL, "%s", f.msg);
	ck_assert_msg(blob_save(live, &blob, &len, &f) == 0, "%s", f.msg);
	memset(&row, 0, sizeof row);
	snprintf(row.id, sizeof row.id, "%s", id);
	row.name = id;
	row.created_ms = row.updated_ms = created_ms;
	row.last_loss = NAN;
	row.blob = blob;
	row.blob_len = len;
	ck_assert_msg(store_model_insert(st, &row, &f) == 0, "%s", f.msg);
	free(blob);
	e = registry_entry_create(id, id, created_ms, created_ms, 0, NAN, live,
	    &f);
	ck_assert_msg(e != NULL, "%s", f.msg);
	return e;
}

/* Commits a batch of n rows for e; *added gets what the registry is to
 * be told (the rows the commit added). */
static void
push(model_entry *e, size_t n, int64_t *added)
{
	float x[16 * NIN], y[16 * NOUT];
	int64_t batch_id, total;
	fault f;

	ck_assert_uint_le(n, 16);
	for (size_t i = 0; i < n * NIN; i++)
		x[i] = (float)i / 10.0f;
	for (size_t i = 0; i < n * NOUT; i++)
		y[i] = (float)i;
	ck_assert_msg(store_batch_insert(st, e->id, x, y, n, NIN, NOUT, 0, 1,
	    &batch_id, &total, &f) == 0, "%s", f.msg);
	*added = (int64_t)n;
}

/* The rows the store holds for id. */
static int64_t
stored_rows(const char *id)
{
	store_batch_info *b = NULL;
	size_t n = 0;
	int64_t total = 0;
	fault f;

	ck_assert_msg(store_batch_list(st, id, &b, &n, &f) == 0, "%s", f.msg);
	for (size_t i = 0; i < n; i++)
		total += b[i].samples;
	free(b);
	return total;
}

/* Two pushes commit in one order and report in the other (as two
 * POST .../batches may on two HTTP threads); a batch delete commits
 * between two more pushes and reports first. The count must end where
 * the store is. */
START_TEST(test_samples_out_of_order)
{
	model_entry *e;
	int64_t a, b, c, d, dropped;
	fault f;

	e = new_model("m1", 1);
	ck_assert_int_eq(registry_add(reg, e, &f), 0);
	push(e, 3, &a);
	push(e, 5, &b);
	/* b's handler reports before a's */
	registry_add_samples(e, b);
	registry_add_samples(e, a);
	ck_assert_int_eq(stored_rows("m1"), 8);
	ck_assert_int_eq(registry_samples(e), 8);
	/* c commits, the delete commits, d commits; d reports first, then
	 * the delete, then c */
	push(e, 2, &c);
	ck_assert_msg(store_batches_delete(st, "m1", &dropped, &f) == 0, "%s",
	    f.msg);
	ck_assert_int_eq(dropped, 10);
	push(e, 4, &d);
	registry_add_samples(e, d);
	registry_add_samples(e, -dropped);
	registry_add_samples(e, c);
	ck_assert_int_eq(stored_rows("m1"), 4);
	ck_assert_int_eq(registry_samples(e), 4);
	registry_put(e);
}
END_TEST

/* A model whose delete failed comes back whole: not deleted, in
 * creation order, and the registry's clock moved (GET /v1/models
 * changed twice). */
START_TEST(test_restore_after_failed_delete)
{
	model_entry *m[3], *gone, **all;
	registry_view v;
	uint64_t before;
	size_t n;
	fault f;

	for (int i = 0; i < 3; i++) {
		char id[8];

		snprintf(id, sizeof id, "m%d", i);
		m[i] = new_model(id, 10 + i);
		ck_assert_int_eq(registry_add(reg, m[i], &f), 0);
	}
	before = registry_version(reg);
	gone = registry_remove(reg, "m1");
	ck_assert_ptr_eq(gone, m[1]);
	ck_assert_int_eq(registry_deleted(gone), 1);
	ck_assert_ptr_null(registry_get(reg, "m1"));
	ck_assert_uint_gt(registry_version(reg), before);
	before = registry_version(reg);
	ck_assert_int_eq(registry_restore(reg, gone, &f), 0);
	ck_assert_uint_gt(registry_version(reg), before);
	ck_assert_int_eq(registry_deleted(m[1]), 0);
	registry_view_of(m[1], &v);
	ck_assert_int_eq(v.deleted, 0);
	ck_assert_ptr_eq(registry_get(reg, "m1"), m[1]);
	registry_put(m[1]);
	all = registry_list(reg, &n);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_eq(all[i], m[i]);
		registry_put(all[i]);
	}
	free(all);
	for (int i = 0; i < 3; i++)
		registry_put(m[i]);
}
END_TEST

/* The view and the accessors agree with what was set. */
START_TEST(test_view_and_counts)
{
	model_entry *e;
	registry_view v;
	int q = -1, r = -1;
	uint64_t ver;
	fault f;

	e = new_model("m1", 5);
	ck_assert_int_eq(registry_add(reg, e, &f), 0);
	ver = registry_model_version(e);
	registry_add_jobs(e, 1, 0);
	ck_assert_uint_gt(registry_model_version(e), ver);
	ck_assert_int_eq(registry_job_counts(e, &q, &r), 1);
	ck_assert_int_eq(q, 1);
	ck_assert_int_eq(r, 0);
	registry_add_jobs(e, -1, 1);
	registry_add_trained(e, 3, 30);
	ck_assert_int_eq(registry_publish(e, 0.25, 99, &f), 0);
	registry_view_of(e, &v);
	ck_assert_str_eq(v.id, "m1");
	ck_assert_str_eq(v.name, "m1");
	ck_assert_uint_eq(v.spec->sizes[1], 3);
	ck_assert_int_eq(v.jobs_queued, 0);
	ck_assert_int_eq(v.jobs_running, 1);
	ck_assert(v.last_loss == 0.25);
	ck_assert(registry_last_loss(e) == 0.25);
	ck_assert_int_eq(v.created_ms, 5);
	ck_assert_int_eq(v.updated_ms, 99);
	ck_assert_uint_eq(v.trained_steps, 3);
	ck_assert_uint_eq(v.trained_samples, 30);
	ck_assert_int_eq(v.deleted, 0);
	registry_put(e);
}
END_TEST

static Suite *
registry_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("registry");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_samples_out_of_order);
	tcase_add_test(tc, test_restore_after_failed_delete);
	tcase_add_test(tc, test_view_and_counts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(registry_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
