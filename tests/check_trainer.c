/*
 * check_trainer: Check tests of the trainer on its own: a store on a
 * temporary file, a registry and a trainer made directly, no HTTP.
 *
 * The faults the trainer ends calls with (and the statuses the API maps
 * them to), and deleting a model's rows atomically with respect to
 * submissions: a job is never accepted over rows being deleted.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "dbfiles.h"
#include "apierr.h"
#include "fault.h"
#include "registry.h"
#include "store.h"
#include "testlib.h"
#include "trainer.h"

/* One trainer over a fresh database file and a model "m1" with rows. */
typedef struct bench {
	char dir[64];
	char path[96];
	store *st;
	registry *reg;
	trainer *tr;
	model_entry *m;
} bench;

#define expect_fault(call, f, want)                                           \
	do {                                                                  \
		fault_clear(&(f));                                            \
		ck_assert_int_eq((call), -1);                                 \
		ck_assert_msg((f).code == (want), "%s: %s (%s), not %s",      \
			      #call, fault_code_name((f).code), (f).msg,      \
			      fault_code_name(want));                         \
	} while (0)

static void
bench_open(bench *b, size_t max_queue)
{
	trainer_config c;
	fault f;

	memset(b, 0, sizeof *b);
	snprintf(b->dir, sizeof b->dir, "%s/check_trainer.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(b->dir));
	snprintf(b->path, sizeof b->path, "%s/mlpd.db", b->dir);
	b->st = store_open(b->path, &f);
	ck_assert_msg(b->st != NULL, "store_open: %s", f.msg);
	b->reg = registry_create(&f);
	ck_assert_ptr_nonnull(b->reg);
	memset(&c, 0, sizeof c);
	c.threads = 1;
	c.checkpoint_every = 1.0;
	c.max_queue = max_queue;
	b->tr = trainer_create(b->st, b->reg, &c, &f);
	ck_assert_msg(b->tr != NULL, "trainer_create: %s", f.msg);
	b->m = tl_trainer_model(b->st, b->reg, "m1");
	tl_trainer_rows(b->st, b->m, 64);
}

static void
bench_close(bench *b)
{
	trainer_destroy(b->tr);
	registry_put(b->m);
	registry_destroy(b->reg);
	store_close(b->st);
	test_unlink_db(b->path);
	rmdir(b->dir);
}

static int64_t
samples_of(model_entry *m)
{
	return registry_samples(m);
}

static train_opts
long_job(void)
{
	train_opts o;

	memset(&o, 0, sizeof o);
	o.steps = 1000000;
	o.batch_size = 8;
	o.shuffle = 1;
	return o;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

typedef struct delete_arg {
	bench *b;
	int rc;
	fault f;
} delete_arg;

static void *
delete_rows(void *arg)
{
	delete_arg *d = arg;

	d->rc = trainer_delete_data(d->b->tr, d->b->m, &d->f);
	return NULL;
}

typedef struct lock_arg {
	sqlite3 *db;
	long hold_ms;
} lock_arg;

static void *
release_later(void *arg)
{
	lock_arg *l = arg;

	sleep_ms(l->hold_ms);
	ck_assert_int_eq(sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	return NULL;
}

/* The defect: DELETE .../batches checked for jobs, then deleted the rows;
 * a job submitted in between was accepted and failed with "no training
 * data". Another connection holds the database's write lock so that the
 * delete is seen in progress: a submission meanwhile must be refused
 * (model_busy), and one after it finds no rows (no_training_data). */
START_TEST(test_delete_data_atomic_with_submit)
{
	bench b;
	sqlite3 *db;
	pthread_t del, rel;
	delete_arg d;
	lock_arg l;
	train_opts o = long_job();
	trainer_job_view v;
	fault f;
	int rc;

	bench_open(&b, 8);
	ck_assert_int_eq(samples_of(b.m), 64);
	ck_assert_int_eq(sqlite3_open(b.path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	d.b = &b;
	d.rc = 99;
	fault_clear(&d.f);
	ck_assert_int_eq(pthread_create(&del, NULL, delete_rows, &d), 0);
	/* the delete now waits for the write lock (the store's busy
	 * timeout is 5 s); the lock goes in 1.5 s */
	sleep_ms(500);
	l.db = db;
	l.hold_ms = 1000;
	ck_assert_int_eq(pthread_create(&rel, NULL, release_later, &l), 0);
	fault_clear(&f);
	rc = trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f);
	if (rc == 0) {
		fault cf;

		trainer_cancel(b.tr, v.row.id, &v, &cf);
	}
	ck_assert_msg(rc == -1 && f.code == FAULT_BUSY, "a job was %s while "
	    "the model's rows were being deleted (%s: %s)", rc == 0 ?
	    "accepted" : "refused otherwise", fault_code_name(f.code), f.msg);
	ck_assert_int_eq(pthread_join(rel, NULL), 0);
	ck_assert_int_eq(pthread_join(del, NULL), 0);
	ck_assert_msg(d.rc == 0, "trainer_delete_data: %s", d.f.msg);
	ck_assert_int_eq(samples_of(b.m), 0);
	expect_fault(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f), f,
	    FAULT_NO_DATA);
	ck_assert_int_eq(trainer_queue_depth(b.tr), 0);
	sqlite3_close(db);
	bench_close(&b);
}
END_TEST

/* While a job is queued or running the rows stay: model_busy. */
START_TEST(test_delete_data_refused_while_training)
{
	bench b;
	train_opts o = long_job();
	trainer_job_view v;
	fault f;

	bench_open(&b, 8);
	ck_assert_msg(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f) == 0,
	    "%s", f.msg);
	expect_fault(trainer_delete_data(b.tr, b.m, &f), f, FAULT_BUSY);
	ck_assert_int_eq(samples_of(b.m), 64);
	ck_assert_int_eq(trainer_cancel(b.tr, v.row.id, &v, &f), 0);
	ck_assert_int_eq(v.row.status, STORE_JOB_CANCELLED);
	ck_assert_msg(trainer_delete_data(b.tr, b.m, &f) == 0, "%s", f.msg);
	ck_assert_int_eq(samples_of(b.m), 0);
	bench_close(&b);
}
END_TEST

/* The trainer's faults: one code per kind of refusal. */
START_TEST(test_faults)
{
	bench b;
	train_opts o = long_job();
	trainer_job_view v;
	uint64_t step;
	float loss, x[2] = { 0.5f, 0.25f }, y[1] = { 1.0f };
	fault f;

	bench_open(&b, 8);
	expect_fault(trainer_cancel(b.tr, "jnosuchjob", &v, &f), f,
	    FAULT_NO_JOB);
	/* a job that ran to the end cannot be cancelled */
	o.steps = 3;
	ck_assert_msg(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f) == 0,
	    "%s", f.msg);
	for (int i = 0; i < 500; i++) {
		trainer_job_view w;

		ck_assert_int_eq(trainer_job_get(b.tr, v.row.id, &w), 0);
		if (w.row.status == STORE_JOB_SUCCEEDED)
			break;
		sleep_ms(10);
	}
	expect_fault(trainer_cancel(b.tr, v.row.id, &v, &f), f,
	    FAULT_FINISHED);
	ck_assert_int_eq(v.row.status, STORE_JOB_SUCCEEDED);
	/* a step while a job holds the model */
	o = long_job();
	ck_assert_msg(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f) == 0,
	    "%s", f.msg);
	expect_fault(trainer_step(b.tr, b.m, x, y, 1, 0.0f, NULL, &step, &loss,
	    NULL, &f), f, FAULT_BUSY);
	/* shutting down: the running job ends interrupted */
	trainer_close(b.tr);
	ck_assert_int_eq(trainer_job_get(b.tr, v.row.id, &v), 0);
	ck_assert_int_eq(v.row.status, STORE_JOB_INTERRUPTED);
	expect_fault(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f), f,
	    FAULT_CLOSED);
	expect_fault(trainer_step(b.tr, b.m, x, y, 1, 0.0f, NULL, &step, &loss,
	    NULL, &f), f, FAULT_CLOSED);
	expect_fault(trainer_delete_data(b.tr, b.m, &f), f, FAULT_CLOSED);
	bench_close(&b);
}
END_TEST

/* A full queue, a model without rows, a split leaving none, a deleted
 * model. */
START_TEST(test_submit_refusals)
{
	bench b;
	train_opts o = long_job();
	trainer_job_view v;
	model_entry *m2, *gone;
	uint64_t step;
	float loss, x[2] = { 0.5f, 0.25f }, y[1] = { 1.0f };
	fault f;

	bench_open(&b, 0);
	expect_fault(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f), f,
	    FAULT_QUEUE_FULL);
	m2 = tl_trainer_model(b.st, b.reg, "m2");
	expect_fault(trainer_submit(b.tr, m2, &o, "{}", NULL, &v, &f), f,
	    FAULT_NO_DATA);
	tl_trainer_rows(b.st, m2, 1);
	o.validation_split = 0.5;
	expect_fault(trainer_submit(b.tr, m2, &o, "{}", NULL, &v, &f), f,
	    FAULT_INVALID);
	gone = registry_remove(b.reg, "m2");
	ck_assert_ptr_eq(gone, m2);
	expect_fault(trainer_step(b.tr, m2, x, y, 1, 0.0f, NULL, &step, &loss,
	    NULL, &f), f, FAULT_NO_MODEL);
	expect_fault(trainer_delete_data(b.tr, m2, &f), f, FAULT_NO_MODEL);
	registry_put(gone);
	registry_put(m2);
	bench_close(&b);
}
END_TEST

/* The statuses, codes and Retry-After the API gives for each fault. */
START_TEST(test_fault_statuses)
{
	static const struct {
		fault_code code;
		int status;
		const char *name;
		int retry_after;
	} want[] = {
		{ FAULT_INVALID, 422, "invalid_value", 0 },
		{ FAULT_NOMEM, 503, "out_of_memory", 5 },
		{ FAULT_NO_MODEL, 404, "model_not_found", 0 },
		{ FAULT_NO_JOB, 404, "job_not_found", 0 },
		{ FAULT_BUSY, 409, "model_busy", 0 },
		{ FAULT_NO_DATA, 409, "no_training_data", 0 },
		{ FAULT_FINISHED, 409, "job_finished", 0 },
		{ FAULT_QUEUE_FULL, 503, "queue_full", 1 },
		{ FAULT_CLOSED, 503, "shutting_down", 5 },
		{ FAULT_INTERNAL, 500, "internal_error", 0 },
	};

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		fault f;
		apierr e;

		fault_set(&f, want[i].code, "why %zu", i);
		ck_assert_int_eq(apierr_from_fault(&e, &f), -1);
		ck_assert_int_eq(e.status, want[i].status);
		ck_assert_str_eq(e.code, want[i].name);
		ck_assert_int_eq(e.retry_after, want[i].retry_after);
		ck_assert_ptr_nonnull(strstr(e.msg, "why"));
		ck_assert_str_ne(fault_code_name(want[i].code), "");
	}
}
END_TEST

static Suite *
trainer_suite(void)
{
	Suite *s = suite_create("trainer");
	TCase *tc = tcase_create("trainer");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_delete_data_atomic_with_submit);
	tcase_add_test(tc, test_delete_data_refused_while_training);
	tcase_add_test(tc, test_faults);
	tcase_add_test(tc, test_submit_refusals);
	tcase_add_test(tc, test_fault_statuses);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(trainer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
