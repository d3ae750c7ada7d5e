/*
 * check_lease: Check tests of one writer per model (issue 10): the
 * store's leases (take, renew, release, epochs), the fenced writes that
 * change nothing on a stale epoch, and the trainer that stops a job at
 * once, writing nothing more, when its lease is taken away, and hands its
 * leases back at stop. Through the SQLite backend (a store on a temporary
 * file, a registry, leases and a trainer made directly, no HTTP), so they
 * run everywhere; the trainer's path is the same on PostgreSQL. With
 * MLPD_TEST_PG (tests/check_lease_pg.sh) the store's cases run on a
 * fresh PostgreSQL database instead (tests/pgtest.h), all but SQLite's
 * recovery case.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autoconf.h" /* MLPD_HAVE_PG */
#include "dbfiles.h"
#include "expect.h"
#include "apierr.h"
#include "blob.h"
#include "fault.h"
#include "lease.h"
#include "pgtest.h"
#include "registry.h"
#include "store.h"
#include "testlib.h"
#include "trainer.h"
#include "wallclock.h"
/* the store's ops table, for the slow-renew wrapper of the last case */
#define MLPD_STORE_INTERNAL 1
#include "store_backend.h"
#ifdef MLPD_HAVE_PG
/* the backend's own transactions, for the stalled-writer case */
#include <libpq-fe.h>
#include "pg_int.h"
#endif

/* A store on a fresh file, a registry, this node's leases ("A"), a
 * trainer and a model "m1" with rows. */
typedef struct bench {
	char dir[64];
	char path[512];         /* the file, or the PostgreSQL conninfo */
	store *st;
	registry *reg;
	leases *ls;
	trainer *tr;
	model_entry *m;
} bench;

#define NODE "A"

/* $MLPD_TEST_PG's server, or NULL: SQLite only. */
static const char *pg;

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
store_only(bench *b)
{
	fault f;

	memset(b, 0, sizeof *b);
	snprintf(b->dir, sizeof b->dir, "%s/check_lease.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(b->dir));
	if (pg != NULL)
		pgtest_fresh(b->path, sizeof b->path);
	else
		snprintf(b->path, sizeof b->path, "%s/mlpd.db", b->dir);
	b->st = store_open(b->path, &f);
	ck_assert_msg(b->st != NULL, "store_open: %s", f.msg);
}

/* Adds model id to the store and the registry (none: store only, NULL);
 * n rows for m (testlib.h, the trainer's fixture). */
static model_entry *
add_model(bench *b, const char *id)
{
	return tl_trainer_model(b->st, b->reg, id);
}

static void
add_rows(bench *b, model_entry *m, size_t n)
{
	tl_trainer_rows(b->st, m, n);
}

/* The adopted jobs' options, as the daemon's parser would read "{}" of a
 * job of 20 steps of 8 rows (trainer_config.parse_opts). */
static int
short_opts(void *arg, const char *options, train_opts *o, int *validation,
	   char *why, size_t whylen)
{
	(void)arg;
	(void)options;
	(void)why;
	(void)whylen;
	memset(o, 0, sizeof *o);
	o->steps = 20;
	o->batch_size = 8;
	o->shuffle = 1;
	*validation = 0;
	return 0;
}

/* The whole bench; leases of ttl_ms, checkpoints every ckpt seconds. */
static void
bench_open(bench *b, int64_t ttl_ms, double ckpt)
{
	trainer_config c;
	fault f;

	store_only(b);
	b->reg = registry_create(&f);
	ck_assert_ptr_nonnull(b->reg);
	b->ls = leases_create(b->st, NODE, ttl_ms, &f);
	ck_assert_msg(b->ls != NULL, "leases_create: %s", f.msg);
	memset(&c, 0, sizeof c);
	c.threads = 1;
	c.checkpoint_every = ckpt;
	c.max_queue = 16;
	c.leases = b->ls;
	c.parse_opts = short_opts;
	b->tr = trainer_create(b->st, b->reg, &c, &f);
	ck_assert_msg(b->tr != NULL, "trainer_create: %s", f.msg);
	b->m = add_model(b, "m1");
	add_rows(b, b->m, 256);
}

static void
bench_close(bench *b)
{
	trainer_destroy(b->tr);
	leases_destroy(b->ls);
	registry_put(b->m);
	registry_destroy(b->reg);
	store_close(b->st);
	if (pg == NULL)
		test_unlink_db(b->path);
	rmdir(b->dir);
}

/* ---- the store's leases ---- */

START_TEST(test_take_renew_release)
{
	bench b;
	uint64_t e = 0, e2 = 0;
	char who[STORE_NODE_MAX];
	fault f;

	store_only(&b);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "A", 60000, &e, who,
	    sizeof who, &f), 1);
	ck_assert_uint_eq(e, 1);
	/* the holder again: the same epoch (its own writes stay valid) */
	ck_assert_int_eq(store_lease_take(b.st, "m1", "A", 60000, &e2, who,
	    sizeof who, &f), 1);
	ck_assert_uint_eq(e2, 1);
	/* another node: refused while live, naming the holder */
	ck_assert_int_eq(store_lease_take(b.st, "m1", "B", 60000, &e2, who,
	    sizeof who, &f), 0);
	ck_assert_str_eq(who, "A");
	ck_assert_int_eq(store_lease_renew(b.st, "m1", "A", 1, 60000, who,
	    sizeof who, &f), 1);
	ck_assert_int_eq(store_lease_renew(b.st, "m1", "B", 1, 60000, who,
	    sizeof who, &f), 0);
	ck_assert_str_eq(who, "A");
	ck_assert_int_eq(store_lease_renew(b.st, "m1", "A", 2, 60000, who,
	    sizeof who, &f), 0);
	ck_assert_int_eq(store_lease_release(b.st, "m1", "B", 1, &f), 0);
	ck_assert_int_eq(store_lease_release(b.st, "m1", "A", 2, &f), 0);
	/* released: free for another node at once, with a new epoch */
	ck_assert_int_eq(store_lease_release(b.st, "m1", "A", 1, &f), 1);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "B", 60000, &e, who,
	    sizeof who, &f), 1);
	ck_assert_uint_eq(e, 2);
	ck_assert_int_eq(store_lease_renew(b.st, "m1", "A", 1, 60000, who,
	    sizeof who, &f), 0);
	ck_assert_str_eq(who, "B");
	/* an expired lease changes hands, and the epoch grows */
	ck_assert_int_eq(store_lease_take(b.st, "m2", "A", 30, &e, who,
	    sizeof who, &f), 1);
	ck_assert_uint_eq(e, 1);
	sleep_ms(80);
	ck_assert_int_eq(store_lease_take(b.st, "m2", "B", 60000, &e, who,
	    sizeof who, &f), 1);
	ck_assert_uint_eq(e, 2);
	ck_assert_int_eq(store_lease_renew(b.st, "m2", "A", 1, 60000, who,
	    sizeof who, &f), 0);
	ck_assert_str_eq(who, "B");
	/* its own expired lease: taken anew, a new epoch */
	ck_assert_int_eq(store_lease_take(b.st, "m3", "A", 30, &e, who,
	    sizeof who, &f), 1);
	sleep_ms(80);
	ck_assert_int_eq(store_lease_take(b.st, "m3", "A", 60000, &e2, who,
	    sizeof who, &f), 1);
	ck_assert_uint_eq(e2, e + 1);
	/* bad arguments */
	ck_assert_int_eq(store_lease_take(b.st, "m1", "", 1000, &e, who,
	    sizeof who, &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "A", 0, &e, who,
	    sizeof who, &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	bench_close(&b);
}
END_TEST

/* The job row's status and steps_done as stored. */
typedef struct job_seen {
	store_job_status status;
	int64_t steps_done;
	char node[STORE_NODE_MAX];
	int n;
} job_seen;

static int
see_job(void *arg, const store_job *j)
{
	job_seen *s = arg;

	s->status = j->status;
	s->steps_done = j->steps_done;
	memcpy(s->node, j->node, sizeof s->node);
	s->n++;
	return 0;
}

/* Stores job "j1" of m1 with status st. */
static void
insert_job(store *st, store_job *job, store_job_status status)
{
	fault f;

	memset(job, 0, sizeof *job);
	snprintf(job->id, sizeof job->id, "j1");
	snprintf(job->model_id, sizeof job->model_id, "m1");
	job->status = status;
	job->steps_total = 100;
	job->loss = NAN;
	job->options = "{}";
	job->created_ms = wallclock_ms();
	job->started_ms = status == STORE_JOB_RUNNING ? job->created_ms : 0;
	job->stop_mark = NAN;
	ck_assert_msg(store_job_insert(st, job, &f) == 0, "%s", f.msg);
}

/* What the store holds of m1: step, history length, the job row. */
typedef struct held {
	uint64_t step;
	size_t points;
	job_seen job;
} held;

static void
read_held(store *st, const char *id, held *h)
{
	void *blob = NULL;
	size_t len = 0;
	store_loss_point *pts = NULL;
	fault f;

	memset(h, 0, sizeof *h);
	ck_assert_msg(store_model_checkpoint(st, id, &blob, &len, &h->step,
	    &f) == 0, "%s", f.msg);
	free(blob);
	ck_assert_msg(store_loss_query(st, id, 0, 100000000, &pts, &h->points,
	    &f) == 0, "%s", f.msg);
	free(pts);
	ck_assert_int_eq(store_jobs_each(st, id, see_job, &h->job, &f), 0);
}

/* A progress record of step (blob's step) with its loss point and a job
 * row, fenced by epoch. */
static int
commit_at(store *st, const void *blob, size_t len, uint64_t step,
	  store_job *job, uint64_t epoch, fault *f)
{
	store_progress p;
	store_loss_point pt = { step, 0.5, wallclock_ms() };

	memset(&p, 0, sizeof p);
	p.model_id = "m1";
	p.points = &pt;
	p.npoints = 1;
	p.blob = blob;
	p.blob_len = len;
	p.step = step;
	p.last_loss = 0.5;
	p.now_ms = wallclock_ms();
	p.job = job;
	p.epoch = epoch;
	job->steps_done = (int64_t)step;
	return store_progress_commit(st, &p, f);
}

START_TEST(test_stale_epoch_changes_nothing)
{
	bench b;
	uint64_t e1 = 0, e2 = 0;
	char who[STORE_NODE_MAX];
	void *blob = NULL;
	size_t len = 0;
	store_job job;
	held before, after;
	apierr ae;
	fault f;

	store_only(&b);
	add_model(&b, "m1");
	ck_assert_int_eq(store_model_checkpoint(b.st, "m1", &blob, &len, NULL,
	    &f), 0);
	insert_job(b.st, &job, STORE_JOB_RUNNING);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "A", 60000, &e1, who,
	    sizeof who, &f), 1);
	ck_assert_msg(commit_at(b.st, blob, len, 1, &job, e1, &f) == 0, "%s",
	    f.msg);
	/* B takes the model over */
	ck_assert_int_eq(store_lease_release(b.st, "m1", "A", e1, &f), 1);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "B", 60000, &e2, who,
	    sizeof who, &f), 1);
	ck_assert_uint_gt(e2, e1);
	read_held(b.st, "m1", &before);
	ck_assert_uint_eq(before.step, 1);
	/* A's stale commit: nothing of it lands */
	fault_clear(&f);
	ck_assert_int_eq(commit_at(b.st, blob, len, 2, &job, e1, &f), -1);
	ck_assert_msg(f.code == FAULT_FENCED, "%s", fault_code_name(f.code));
	ck_assert_msg(strstr(f.msg, "'B'") != NULL, "%s", f.msg);
	read_held(b.st, "m1", &after);
	ck_assert_uint_eq(after.step, before.step);
	ck_assert_uint_eq(after.points, before.points);
	ck_assert_int_eq(after.job.steps_done, before.job.steps_done);
	/* and its weights */
	fault_clear(&f);
	ck_assert_int_eq(store_model_set_weights_fenced(b.st, "m1", blob, len,
	    7, wallclock_ms(), e1, &f), -1);
	ck_assert_int_eq(f.code, FAULT_FENCED);
	read_held(b.st, "m1", &after);
	ck_assert_uint_eq(after.step, before.step);
	/* the API answers it 409 */
	ck_assert_int_eq(apierr_from_fault(&ae, &f), -1);
	ck_assert_int_eq(ae.status, 409);
	ck_assert_str_eq(ae.code, "lease_lost");
	/* B's epoch writes; an unfenced write (0) is not checked */
	ck_assert_msg(commit_at(b.st, blob, len, 2, &job, e2, &f) == 0, "%s",
	    f.msg);
	ck_assert_msg(store_model_set_weights_fenced(b.st, "m1", blob, len,
	    5, wallclock_ms(), e2, &f) == 0, "%s", f.msg);
	ck_assert_msg(store_model_set_weights_fenced(b.st, "m1", blob, len,
	    4, wallclock_ms(), 0, &f) == 0, "%s", f.msg);
	read_held(b.st, "m1", &after);
	ck_assert_uint_eq(after.step, 4);
	free(blob);
	bench_close(&b);
}
END_TEST

/* The job row's updates, the revert to the checkpoint and a saved
 * version are fenced like the progress commit: with a stale epoch each
 * fails FAULT_FENCED and changes nothing; with the holder's epoch, or
 * unfenced (0), each goes through. (Before they took an epoch, A's
 * writes landed over B's.) */
START_TEST(test_stale_epoch_fences_rows)
{
	bench b;
	uint64_t e1 = 0, e2 = 0;
	char who[STORE_NODE_MAX];
	void *blob = NULL;
	size_t len = 0, nv = 9;
	store_job job, stale;
	store_loss_point pt = { 2, 0.25, 0 };
	store_progress p;
	store_version_new vn;
	store_version *vs = NULL;
	double last = 0;
	held before, after;
	fault f;

	store_only(&b);
	add_model(&b, "m1");
	ck_assert_int_eq(store_model_checkpoint(b.st, "m1", &blob, &len, NULL,
	    &f), 0);
	insert_job(b.st, &job, STORE_JOB_RUNNING);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "A", 60000, &e1, who,
	    sizeof who, &f), 1);
	ck_assert_msg(commit_at(b.st, blob, len, 1, &job, e1, &f) == 0, "%s",
	    f.msg);
	/* a loss point past the checkpoint, for a revert to drop */
	memset(&p, 0, sizeof p);
	pt.time_ms = wallclock_ms();
	p.model_id = "m1";
	p.points = &pt;
	p.npoints = 1;
	p.last_loss = 0.25;
	p.now_ms = wallclock_ms();
	p.epoch = e1;
	ck_assert_msg(store_progress_commit(b.st, &p, &f) == 0, "%s", f.msg);
	ck_assert_int_eq(store_lease_release(b.st, "m1", "A", e1, &f), 1);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "B", 60000, &e2, who,
	    sizeof who, &f), 1);
	read_held(b.st, "m1", &before);
	ck_assert_uint_eq(before.step, 1);
	ck_assert_uint_eq(before.points, 2);
	/* A's job row at its end */
	stale = job;
	stale.status = STORE_JOB_SUCCEEDED;
	stale.steps_done = 50;
	stale.finished_ms = wallclock_ms();
	snprintf(stale.node, sizeof stale.node, "A");
	expect_fail(store_job_update_fenced(b.st, &stale, e1, &f), f,
	    FAULT_FENCED, "'B'");
	/* A's revert of a failed job */
	stale.status = STORE_JOB_FAILED;
	expect_fail(store_model_revert_fenced(b.st, "m1", &stale,
	    wallclock_ms(), e1, &last, &f), f, FAULT_FENCED, "changed nothing");
	/* A's save_best */
	memset(&vn, 0, sizeof vn);
	vn.model_id = "m1";
	vn.blob = blob;
	vn.blob_len = len;
	vn.step = 1;
	vn.loss = 0.5;
	vn.val_loss = NAN;
	vn.val_accuracy = NAN;
	vn.name = "best";
	vn.now_ms = wallclock_ms();
	vn.epoch = e1;
	expect_fail(store_version_create(b.st, &vn, NULL, &f), f, FAULT_FENCED,
	    "'B'");
	read_held(b.st, "m1", &after);
	ck_assert_uint_eq(after.step, before.step);
	ck_assert_uint_eq(after.points, before.points);
	ck_assert_int_eq(after.job.status, STORE_JOB_RUNNING);
	ck_assert_int_eq(after.job.steps_done, before.job.steps_done);
	expect_ok(store_versions_list(b.st, "m1", 0, 10, &vs, &nv, &f), f);
	ck_assert_uint_eq(nv, 0);
	free(vs);
	vs = NULL;
	/* B's epoch writes them all; so does an unfenced write */
	vn.epoch = e2;
	expect_ok(store_version_create(b.st, &vn, NULL, &f), f);
	expect_ok(store_model_revert_fenced(b.st, "m1", &stale,
	    wallclock_ms(), e2, &last, &f), f);
	read_held(b.st, "m1", &after);
	ck_assert_uint_eq(after.points, 1);
	ck_assert_int_eq(after.job.status, STORE_JOB_FAILED);
	stale.status = STORE_JOB_SUCCEEDED;
	expect_ok(store_job_update_fenced(b.st, &stale, e2, &f), f);
	stale.status = STORE_JOB_CANCELLED;
	expect_ok(store_job_update_fenced(b.st, &stale, 0, &f), f);
	read_held(b.st, "m1", &after);
	ck_assert_int_eq(after.job.status, STORE_JOB_CANCELLED);
	expect_ok(store_versions_list(b.st, "m1", 0, 10, &vs, &nv, &f), f);
	ck_assert_uint_eq(nv, 1);
	free(vs);
	free(blob);
	bench_close(&b);
}
END_TEST

/* SQLite: the leases a past run left held (a crash) are free at the next
 * open, whatever node id the new run has; their epochs go on. */
START_TEST(test_reopen_frees)
{
	bench b;
	uint64_t e = 0;
	char who[STORE_NODE_MAX];
	fault f;

	store_only(&b);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "A", 600000, &e, who,
	    sizeof who, &f), 1);
	store_close(b.st);
	b.st = store_open(b.path, &f);
	ck_assert_msg(b.st != NULL, "store_open: %s", f.msg);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "B", 600000, &e, who,
	    sizeof who, &f), 1);
	ck_assert_uint_eq(e, 2);
	bench_close(&b);
}
END_TEST

/* A stale epoch's weights write changes nothing (both backends). */
START_TEST(test_stale_weights_write)
{
	bench b;
	uint64_t e1 = 0, e2 = 0, step = 9;
	char who[STORE_NODE_MAX];
	void *blob = NULL, *now = NULL;
	size_t len = 0, nlen = 0;
	fault f;

	store_only(&b);
	add_model(&b, "m1");
	ck_assert_int_eq(store_model_checkpoint(b.st, "m1", &blob, &len, NULL,
	    &f), 0);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "A", 60000, &e1, who,
	    sizeof who, &f), 1);
	ck_assert_msg(store_model_set_weights_fenced(b.st, "m1", blob, len, 3,
	    wallclock_ms(), e1, &f) == 0, "%s", f.msg);
	ck_assert_int_eq(store_lease_release(b.st, "m1", "A", e1, &f), 1);
	/* released: its epoch writes nothing any more */
	fault_clear(&f);
	ck_assert_int_eq(store_model_set_weights_fenced(b.st, "m1", blob, len,
	    4, wallclock_ms(), e1, &f), -1);
	ck_assert_int_eq(f.code, FAULT_FENCED);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "B", 60000, &e2, who,
	    sizeof who, &f), 1);
	ck_assert_uint_eq(e2, e1 + 1);
	fault_clear(&f);
	ck_assert_int_eq(store_model_set_weights_fenced(b.st, "m1", blob, len,
	    5, wallclock_ms(), e1, &f), -1);
	ck_assert_int_eq(f.code, FAULT_FENCED);
	ck_assert_msg(strstr(f.msg, "node 'B'") != NULL, "%s", f.msg);
	ck_assert_int_eq(store_model_checkpoint(b.st, "m1", &now, &nlen, &step,
	    &f), 0);
	ck_assert_uint_eq(step, 3);
	ck_assert_msg(store_model_set_weights_fenced(b.st, "m1", blob, len, 6,
	    wallclock_ms(), e2, &f) == 0, "%s", f.msg);
	free(now);
	free(blob);
	bench_close(&b);
}
END_TEST

/* A job row keeps the node that ran it; an update without one keeps it. */
START_TEST(test_job_node_round_trip)
{
	bench b;
	store_job job;
	job_seen seen;
	fault f;

	store_only(&b);
	add_model(&b, "m1");
	insert_job(b.st, &job, STORE_JOB_QUEUED);
	memset(&seen, 0, sizeof seen);
	ck_assert_int_eq(store_jobs_each(b.st, "m1", see_job, &seen, &f), 0);
	ck_assert_str_eq(seen.node, "");
	job.status = STORE_JOB_RUNNING;
	job.started_ms = wallclock_ms();
	snprintf(job.node, sizeof job.node, "node-a:8080");
	ck_assert_msg(store_job_update(b.st, &job, &f) == 0, "%s", f.msg);
	job.node[0] = '\0';
	job.steps_done = 3;
	ck_assert_msg(store_job_update(b.st, &job, &f) == 0, "%s", f.msg);
	memset(&seen, 0, sizeof seen);
	ck_assert_int_eq(store_jobs_each(b.st, "m1", see_job, &seen, &f), 0);
	ck_assert_int_eq(seen.steps_done, 3);
	ck_assert_str_eq(seen.node, "node-a:8080");
	bench_close(&b);
}
END_TEST

/* ---- the trainer ---- */

static train_opts
long_job(void)
{
	train_opts o;

	memset(&o, 0, sizeof o);
	o.steps = 100000000;
	o.batch_size = 8;
	o.shuffle = 1;
	return o;
}

/* Waits (up to ms) until job id's view satisfies done; returns it. */
static trainer_job_view
wait_job(trainer *tr, const char *id, int terminal, long ms)
{
	trainer_job_view v;
	double until = wallclock_mono() + (double)ms / 1000.0;

	for (;;) {
		ck_assert_int_eq(trainer_job_get(tr, id, &v), 0);
		if (terminal ? (v.row.status != STORE_JOB_QUEUED &&
		    v.row.status != STORE_JOB_RUNNING) :
		    v.row.status == STORE_JOB_RUNNING && v.row.ckpt_steps > 0)
			return v;
		ck_assert_msg(wallclock_mono() < until, "job %s: still %s", id,
		    store_job_status_name(v.row.status));
		sleep_ms(10);
	}
}

/* The test steals m1's lease from node A for node B through the store;
 * returns B's epoch. */
static uint64_t
steal(store *st, uint64_t *old)
{
	char who[STORE_NODE_MAX];
	uint64_t e = 0, e2 = 0;
	fault f;

	ck_assert_int_eq(store_lease_take(st, "m1", NODE, 60000, &e, who,
	    sizeof who, &f), 1);
	ck_assert_int_eq(store_lease_release(st, "m1", NODE, e, &f), 1);
	ck_assert_int_eq(store_lease_take(st, "m1", "B", 600000, &e2, who,
	    sizeof who, &f), 1);
	*old = e;
	return e2;
}

/* A fenced commit finds the lease gone (the renewer would not notice
 * for a minute): the job stops at once and nothing is written after. */
START_TEST(test_job_stops_on_fenced_commit)
{
	bench b;
	train_opts o = long_job();
	trainer_job_view v;
	held at, later;
	registry_view rv;
	uint64_t old;
	fault f;

	bench_open(&b, 180000, 0.02);
	ck_assert_msg(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f) == 0,
	    "%s", f.msg);
	wait_job(b.tr, v.row.id, 0, 10000);
	steal(b.st, &old);
	read_held(b.st, "m1", &at);
	ck_assert_uint_gt(at.step, 0);
	v = wait_job(b.tr, v.row.id, 1, 5000);
	ck_assert_int_eq(v.row.status, STORE_JOB_INTERRUPTED);
	/* (v is a copy: its message is v.error; the holder it names is B,
	 * or no node when the commit came between the test's release and
	 * B's take) */
	ck_assert_msg(strstr(v.error, "changed nothing") != NULL, "%s",
	    v.error);
	sleep_ms(100);
	read_held(b.st, "m1", &later);
	ck_assert_uint_eq(later.step, at.step);
	ck_assert_uint_eq(later.points, at.points);
	ck_assert_int_eq(later.job.status, STORE_JOB_RUNNING);
	ck_assert_int_eq(later.job.steps_done, at.job.steps_done);
	/* the live weights went back to the stored checkpoint */
	registry_view_of(b.m, &rv);
	ck_assert_uint_eq(rv.step, at.step);
	ck_assert_uint_eq(leases_held(b.ls), 0);
	bench_close(&b);
}
END_TEST

/* No commit is due for minutes: the renewer finds the lease gone and the
 * job stops at once, having written nothing. */
START_TEST(test_job_stops_on_lost_renew)
{
	bench b;
	train_opts o = long_job();
	trainer_job_view v;
	held at, later;
	uint64_t old;
	fault f;

	bench_open(&b, 150, 600);
	ck_assert_msg(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f) == 0,
	    "%s", f.msg);
	for (int i = 0; i < 500; i++) {
		ck_assert_int_eq(trainer_job_get(b.tr, v.row.id, &v), 0);
		if (v.row.steps_done > 0)
			break;
		sleep_ms(10);
	}
	ck_assert_int_gt(v.row.steps_done, 0);
	steal(b.st, &old);
	read_held(b.st, "m1", &at);
	v = wait_job(b.tr, v.row.id, 1, 3000);
	ck_assert_int_eq(v.row.status, STORE_JOB_INTERRUPTED);
	sleep_ms(100);
	read_held(b.st, "m1", &later);
	ck_assert_uint_eq(later.step, at.step);
	ck_assert_uint_eq(later.step, 0);
	ck_assert_uint_eq(later.points, at.points);
	ck_assert_int_eq(later.job.status, STORE_JOB_RUNNING);
	bench_close(&b);
}
END_TEST

/* A /step or weight replacement on a model another node holds: busy
 * (409), nothing written. */
START_TEST(test_sync_refused_when_leased_elsewhere)
{
	bench b;
	float x[2] = { 0.5f, 0.25f }, y[1] = { 1.0f }, loss, p[3] = { 0 };
	uint64_t step, old;
	held at, later;
	apierr ae;
	fault f;

	bench_open(&b, 180000, 1.0);
	ck_assert_msg(trainer_step(b.tr, b.m, x, y, 1, 0.1f, NULL, &step,
	    &loss, NULL, &f) == 0, "%s", f.msg);
	ck_assert_uint_eq(step, 1);
	steal(b.st, &old);
	read_held(b.st, "m1", &at);
	fault_clear(&f);
	ck_assert_int_eq(trainer_step(b.tr, b.m, x, y, 1, 0.1f, NULL, &step,
	    &loss, NULL, &f), -1);
	ck_assert_int_eq(f.code, FAULT_BUSY);
	ck_assert_msg(strstr(f.msg, "node 'B'") != NULL, "%s", f.msg);
	ck_assert_int_eq(apierr_from_fault(&ae, &f), -1);
	ck_assert_int_eq(ae.status, 409);
	fault_clear(&f);
	ck_assert_int_eq(trainer_set_weights(b.tr, b.m, p, &f), -1);
	ck_assert_int_eq(f.code, FAULT_BUSY);
	read_held(b.st, "m1", &later);
	ck_assert_uint_eq(later.step, at.step);
	ck_assert_uint_eq(later.points, at.points);
	bench_close(&b);
}
END_TEST

/* Stop (what SIGTERM does): the job checkpoints, then the lease is
 * handed back, so another node takes it at once (no expiry wait). On a
 * shared store the job itself is handed back too (queued, at its
 * checkpoint, for another node to claim); on SQLite it ends interrupted. */
START_TEST(test_stop_releases)
{
	bench b;
	train_opts o = long_job();
	trainer_job_view v;
	char who[STORE_NODE_MAX];
	uint64_t e = 0;
	held at;
	fault f;

	bench_open(&b, 180000, 0.05);
	ck_assert_msg(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f) == 0,
	    "%s", f.msg);
	wait_job(b.tr, v.row.id, 0, 10000);
	ck_assert_uint_eq(leases_held(b.ls), 1);
	trainer_close(b.tr);
	leases_destroy(b.ls);
	b.ls = NULL;
	read_held(b.st, "m1", &at);
	ck_assert_int_eq(at.job.status, store_shared(b.st) ?
	    STORE_JOB_QUEUED : STORE_JOB_INTERRUPTED);
	ck_assert_int_eq(at.job.steps_done, (int64_t)at.step);
	/* the job row names the node that ran it */
	ck_assert_str_eq(at.job.node, NODE);
	ck_assert_int_eq(store_lease_take(b.st, "m1", "B", 60000, &e, who,
	    sizeof who, &f), 1);
	ck_assert_uint_eq(e, 2);
	bench_close(&b);
}
END_TEST

/* ---- a job claimed before it ever ran ---- */

static int
copy_job(void *arg, const store_job *j)
{
	store_job *out = arg;

	*out = *j;
	out->options = "{}";
	out->error = NULL;
	return 0;
}

/* A job that never started (queued on a node that stopped or died, then
 * claimed) is a new job where it is taken: it starts at the model's step,
 * whatever that is, not "at the checkpoint" of a start it never had. It
 * failed with "model 'm1' is at step 20, not at the checkpoint of job
 * ... (step 0)" when every claimed job was resumed. */
START_TEST(test_adopt_never_started)
{
	bench b;
	train_opts o = long_job();
	trainer_job_view v;
	store_job row, got;
	fault f;

	bench_open(&b, 60000, 0.05);
	o.steps = 20;
	ck_assert_msg(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f) == 0,
	    "%s", f.msg);
	v = wait_job(b.tr, v.row.id, 1, 20000);
	ck_assert_int_eq(v.row.status, STORE_JOB_SUCCEEDED);
	ck_assert_uint_eq(mlp_step(b.m->live), 20);
	memset(&row, 0, sizeof row);
	snprintf(row.id, sizeof row.id, "jqueued0000000001");
	snprintf(row.model_id, sizeof row.model_id, "m1");
	row.status = STORE_JOB_QUEUED;
	row.steps_total = 20;
	row.loss = NAN;
	row.options = "{}";
	row.created_ms = wallclock_ms();
	ck_assert_msg(store_job_insert_owned(b.st, &row, NULL, &f) == 0, "%s",
	    f.msg);
	ck_assert_int_eq(store_job_claim(b.st, NODE, copy_job, &got, &f), 1);
	ck_assert_str_eq(got.id, row.id);
	ck_assert_int_eq(got.takeovers, 0);
	ck_assert_msg(trainer_adopt(b.tr, b.m, &got, &f) == 0, "%s", f.msg);
	v = wait_job(b.tr, row.id, 1, 20000);
	ck_assert_msg(v.row.status == STORE_JOB_SUCCEEDED, "the claimed job "
	    "ended %s: %s", store_job_status_name(v.row.status),
	    v.row.error ? v.row.error : "");
	ck_assert_int_eq(v.row.start_step, 20);
	ck_assert_int_eq(v.row.steps_done, 20);
	ck_assert_uint_eq(mlp_step(b.m->live), 40);
	bench_close(&b);
}
END_TEST

/* A claim reads the job row; the node that lost the job (its lease
 * expired, nobody had taken it yet, so its epoch still held) commits a
 * checkpoint after that read and before the new owner's take, which waits
 * for it. The job goes on from that later checkpoint. It failed with
 * "model 'm1' is at step 20, not at the checkpoint of job 'j1' (step 10)"
 * when the adopted job kept the row the claim had read (seen once in
 * cluster_failover.sh's SIGSTOP case). */
/* blob (a stored model) at step: *out is its copy with that step. */
static void
blob_at(const void *blob, size_t len, uint64_t step, void **out,
	size_t *outlen)
{
	fault f;
	mlp *m = blob_load(blob, len, NULL, &f);

	ck_assert_msg(m != NULL, "%s", f.msg);
	mlp_set_step(m, step);
	ck_assert_msg(blob_save(m, out, outlen, &f) == 0, "%s", f.msg);
	mlp_destroy(m);
}

START_TEST(test_adopt_after_late_commit)
{
	bench b;
	char who[STORE_NODE_MAX];
	uint64_t ez = 0;
	void *blob = NULL, *b10 = NULL, *b20 = NULL;
	size_t len = 0, l10 = 0, l20 = 0;
	store_job job, got;
	trainer_job_view v;
	fault f;

	bench_open(&b, 60000, 0.05);
	ck_assert_int_eq(store_model_checkpoint(b.st, "m1", &blob, &len, NULL,
	    &f), 0);
	blob_at(blob, len, 10, &b10, &l10);
	blob_at(blob, len, 20, &b20, &l20);
	insert_job(b.st, &job, STORE_JOB_RUNNING); /* owner none: claimable */
	ck_assert_int_eq(store_lease_take(b.st, "m1", "Z", 50, &ez, who,
	    sizeof who, &f), 1);
	/* the row a checkpoint stores (trainer_loop.c): with a rate, the
	 * control fields are kept */
	job.lr = 0.1;
	job.ckpt_steps = 10;
	ck_assert_msg(commit_at(b.st, b10, l10, 10, &job, ez, &f) == 0, "%s",
	    f.msg);
	sleep_ms(120); /* Z's lease expires; nobody takes it */
	ck_assert_int_eq(store_job_claim(b.st, NODE, copy_job, &got, &f), 1);
	ck_assert_str_eq(got.id, "j1");
	ck_assert_int_eq(got.ckpt_steps, 10);
	/* Z's late checkpoint: its epoch is still the lease's */
	job.ckpt_steps = 20;
	ck_assert_msg(commit_at(b.st, b20, l20, 20, &job, ez, &f) == 0, "%s",
	    f.msg);
	ck_assert_msg(trainer_adopt(b.tr, b.m, &got, &f) == 0, "%s", f.msg);
	v = wait_job(b.tr, "j1", 1, 20000);
	ck_assert_msg(v.row.status == STORE_JOB_SUCCEEDED, "the adopted job "
	    "ended %s: %s", store_job_status_name(v.row.status),
	    v.row.error ? v.row.error : "");
	ck_assert_int_eq(v.row.steps_done, 100);
	ck_assert_uint_eq(mlp_step(b.m->live), 100);
	free(blob);
	free(b10);
	free(b20);
	bench_close(&b);
}
END_TEST

/* ---- the renewer does not hold the list lock across the store ---- */

/* The store's own ops, and a copy whose renew of model "y" sleeps 1.5 s
 * once armed (a renew with the database away lasts a connect timeout). */
static const store_ops *real_ops;
static store_ops slow_ops;
static atomic_int slow_armed;
static atomic_int slow_state;   /* 1 inside the slow renew, 2 after */

static int
slow_renew(store *s, const char *model_id, const char *node_id,
	   uint64_t epoch, int64_t ttl_ms, char *holder, size_t holder_len,
	   fault *f)
{
	if (strcmp(model_id, "y") == 0 && atomic_exchange(&slow_armed, 0)) {
		atomic_store(&slow_state, 1);
		sleep_ms(1500);
		atomic_store(&slow_state, 2);
	}
	return real_ops->lease_renew(s, model_id, node_id, epoch, ttl_ms,
	    holder, holder_len, f);
}

/* While the renew of model y hangs, a take of model x goes through at
 * once; a take of y itself waits for that renew to end. (With the list
 * lock held across the store calls, the take of x waited 1.5 s.) */
START_TEST(test_take_not_behind_slow_renew)
{
	bench b;
	leases *ls;
	lease_hold *hy = NULL, *hx = NULL, *hy2 = NULL;
	double t0, dt;
	fault f;

	store_only(&b);
	add_model(&b, "x");
	add_model(&b, "y");
	ls = leases_create(b.st, NODE, 300, &f);
	ck_assert_msg(ls != NULL, "leases_create: %s", f.msg);
	ck_assert_msg(lease_acquire(ls, "y", &hy, &f) == 0, "%s", f.msg);
	real_ops = b.st->ops;
	slow_ops = *real_ops;
	slow_ops.lease_renew = slow_renew;
	atomic_store(&slow_state, 0);
	b.st->ops = &slow_ops;
	atomic_store(&slow_armed, 1);
	for (int i = 0; i < 200 && atomic_load(&slow_state) == 0; i++)
		sleep_ms(10);
	ck_assert_int_eq(atomic_load(&slow_state), 1);
	t0 = wallclock_mono();
	ck_assert_msg(lease_acquire(ls, "x", &hx, &f) == 0, "%s", f.msg);
	dt = wallclock_mono() - t0;
	ck_assert_msg(dt < 0.5, "the take of x waited %.3f s for the renew "
	    "of y", dt);
	ck_assert_int_eq(atomic_load(&slow_state), 1);
	ck_assert_msg(lease_acquire(ls, "y", &hy2, &f) == 0, "%s", f.msg);
	ck_assert_int_eq(atomic_load(&slow_state), 2);
	lease_put(ls, hy2);
	lease_put(ls, hx);
	lease_put(ls, hy);
	leases_destroy(ls);
	b.st->ops = real_ops;
	bench_close(&b);
}
END_TEST

/* ---- the lease stolen between a job's start and its end ---- */

/* Where a store op wrapped below lets node B take m1 over: at the job's
 * start (its row stored running), at its final commit (which then fails
 * as on a full disk, so the job reverts to its checkpoint), or at its
 * save_best version. */
enum hook_at { HOOK_NONE, HOOK_START, HOOK_FINAL, HOOK_VERSION };
static store_ops hook_ops;
static atomic_int hook_at;
static atomic_int hook_fired;

/* B takes m1's lease and writes the row of m1's last job as its new
 * owner would: queued, on node B, no steps done. */
static void
take_over(store *s)
{
	store_job row;
	uint64_t old, e2 = steal(s, &old);
	fault f;

	memset(&row, 0, sizeof row);
	ck_assert_int_eq(store_jobs_each(s, "m1", copy_job, &row, &f), 0);
	ck_assert_str_ne(row.id, "");
	row.status = STORE_JOB_QUEUED;
	row.steps_done = 0;
	row.finished_ms = 0;
	snprintf(row.node, sizeof row.node, "B");
	ck_assert_msg(store_job_update_fenced(s, &row, e2, &f) == 0, "%s",
	    f.msg);
	atomic_store(&hook_fired, 1);
}

/* 1 once: the hook is armed at where (and is disarmed). */
static int
hook_due(enum hook_at where)
{
	int want = where;

	return atomic_compare_exchange_strong(&hook_at, &want, HOOK_NONE);
}

static int
hook_job_update(store *s, const store_job *j, uint64_t epoch, fault *f)
{
	if (j->status == STORE_JOB_RUNNING && hook_due(HOOK_START))
		take_over(s);
	return real_ops->job_update(s, j, epoch, f);
}

static int
hook_progress(store *s, const store_progress *p, fault *f)
{
	if (p->job != NULL && p->job->status != STORE_JOB_RUNNING &&
	    hook_due(HOOK_FINAL)) {
		take_over(s);
		return fault_set(f, FAULT_FULL, "the disk is full (test)");
	}
	return real_ops->progress_commit(s, p, f);
}

static int
hook_version(store *s, const store_version_new *v, store_version *out,
	     fault *f)
{
	if (hook_due(HOOK_VERSION))
		take_over(s);
	return real_ops->version_create(s, v, out, f);
}

/* The bench with the hooks in its store, armed at where. */
static void
hook_open(bench *b, double ckpt, enum hook_at where)
{
	bench_open(b, 180000, ckpt);
	real_ops = b->st->ops;
	hook_ops = *real_ops;
	hook_ops.job_update = hook_job_update;
	hook_ops.progress_commit = hook_progress;
	hook_ops.version_create = hook_version;
	atomic_store(&hook_fired, 0);
	atomic_store(&hook_at, where);
	b->st->ops = &hook_ops;
}

/* The job ended interrupted on a lost lease, and the store holds B's row
 * of it as B wrote it. */
static void
expect_taken_over(bench *b, const char *id)
{
	trainer_job_view v = wait_job(b->tr, id, 1, 20000);
	held h;

	ck_assert_int_eq(atomic_load(&hook_fired), 1);
	ck_assert_msg(v.row.status == STORE_JOB_INTERRUPTED, "ended %s: %s",
	    store_job_status_name(v.row.status), v.error);
	ck_assert_msg(strstr(v.error, "changed nothing") != NULL, "%s",
	    v.error);
	sleep_ms(100);
	read_held(b->st, "m1", &h);
	ck_assert_int_eq(h.job.n, 1);
	ck_assert_msg(h.job.status == STORE_JOB_QUEUED, "B's row was "
	    "overwritten: %s", store_job_status_name(h.job.status));
	ck_assert_str_eq(h.job.node, "B");
	ck_assert_int_eq(h.job.steps_done, 0);
	ck_assert_uint_eq(leases_held(b->ls), 0);
	b->st->ops = real_ops;
}

/* Taken over as the job's start is stored: the lease comes first and the
 * start is fenced by it, so nothing of A lands. (With the start stored
 * before the lease was taken, A's row, running and then failed
 * model_busy, overwrote B's.) */
START_TEST(test_takeover_at_start)
{
	bench b;
	train_opts o = long_job();
	trainer_job_view v;
	fault f;

	hook_open(&b, 0.05, HOOK_START);
	ck_assert_msg(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f) == 0,
	    "%s", f.msg);
	expect_taken_over(&b, v.row.id);
	bench_close(&b);
}
END_TEST

/* Taken over at the final commit of a cancelled job, which fails (a full
 * disk): the revert to the checkpoint is fenced and writes nothing. (It
 * stored A's row, failed, over B's.) */
START_TEST(test_takeover_at_revert)
{
	bench b;
	train_opts o = long_job();
	trainer_job_view v;
	held at, later;
	fault f;

	hook_open(&b, 0.05, HOOK_NONE);
	ck_assert_msg(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f) == 0,
	    "%s", f.msg);
	wait_job(b.tr, v.row.id, 0, 10000);
	atomic_store(&hook_at, HOOK_FINAL);
	ck_assert_msg(trainer_cancel(b.tr, v.row.id, &v, &f) == 0, "%s",
	    f.msg);
	read_held(b.st, "m1", &at);
	expect_taken_over(&b, v.row.id);
	read_held(b.st, "m1", &later);
	ck_assert_uint_eq(later.step, at.step);
	ck_assert_uint_eq(later.points, at.points);
	bench_close(&b);
}
END_TEST

/* Taken over as save_best stores its version: no version is stored, and
 * the job ends there, writing nothing more. (The version was stored.) */
START_TEST(test_takeover_at_save_best)
{
	bench b;
	train_opts o = long_job();
	trainer_job_view v;
	store_version *vs = NULL;
	size_t nv = 9;
	fault f;

	hook_open(&b, 0.05, HOOK_VERSION);
	o.steps = 20;
	o.eval_every = 5;
	o.save_best = 1;
	ck_assert_msg(trainer_submit(b.tr, b.m, &o, "{}", NULL, &v, &f) == 0,
	    "%s", f.msg);
	expect_taken_over(&b, v.row.id);
	expect_ok(store_versions_list(b.st, "m1", 0, 10, &vs, &nv, &f), f);
	ck_assert_uint_eq(nv, 0);
	free(vs);
	bench_close(&b);
}
END_TEST

#ifdef MLPD_HAVE_PG
/* ---- a writer stalled inside its fenced transaction ---- */

/* Node A's fenced write that stops after its epoch check, as a node
 * SIGSTOPped there would, its transaction open with the lease row locked
 * FOR SHARE. */
typedef struct stalled {
	store *st;
	uint64_t epoch;
	atomic_int checked;     /* 1 once the check ran */
	int rc;                 /* pg_write_tx's */
} stalled;

static int
stall_body(pg_conn *c, void *arg, fault *f)
{
	stalled *w = arg;

	if (pg_lease_check(c, "m1", w->epoch, f) != 0)
		return -1;
	if (atomic_exchange(&w->checked, 1) == 0)
		sleep_ms(4000);
	return 0;
}

static void *
stall_run(void *arg)
{
	stalled *w = arg;
	fault f;

	w->rc = pg_write_tx((pg_store *)w->st, stall_body, w, &f);
	return NULL;
}

/* A node stalled inside a fenced transaction past its lease does not
 * keep the lease from the others: the server ends that transaction once
 * it has been idle for the lease's TTL, so B's take goes through as soon
 * as the lease expired, and A's write does not commit. (Without a limit
 * the take waited for A's transaction, as long as A stayed stopped.) */
START_TEST(test_stalled_writer_frees_lease)
{
	bench b;
	store *sb;
	stalled w;
	pthread_t t;
	char who[STORE_NODE_MAX];
	uint64_t eb = 0;
	double t0, dt;
	fault f;

	store_only(&b);
	add_model(&b, "m1");
	memset(&w, 0, sizeof w);
	w.st = b.st;
	ck_assert_int_eq(store_lease_take(b.st, "m1", NODE, 1000, &w.epoch,
	    who, sizeof who, &f), 1);
	sb = store_open(b.path, &f);
	ck_assert_msg(sb != NULL, "store_open: %s", f.msg);
	ck_assert_int_eq(pthread_create(&t, NULL, stall_run, &w), 0);
	for (int i = 0; i < 500 && atomic_load(&w.checked) == 0; i++)
		sleep_ms(10);
	ck_assert_int_eq(atomic_load(&w.checked), 1);
	sleep_ms(1200); /* A's lease has expired */
	t0 = wallclock_mono();
	ck_assert_int_eq(store_lease_take(sb, "m1", "B", 60000, &eb, who,
	    sizeof who, &f), 1);
	dt = wallclock_mono() - t0;
	ck_assert_msg(dt < 1.5, "B's take waited %.3f s for A's stalled "
	    "transaction", dt);
	ck_assert_uint_gt(eb, w.epoch);
	pthread_join(t, NULL);
	ck_assert_msg(w.rc != 0, "A's stalled write committed");
	store_close(sb);
	store_close(b.st);
	rmdir(b.dir);
}
END_TEST
#endif /* MLPD_HAVE_PG */

static Suite *
lease_suite(void)
{
	Suite *s = suite_create("lease");
	TCase *tc = tcase_create("lease");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_take_renew_release);
	tcase_add_test(tc, test_stale_weights_write);
	tcase_add_test(tc, test_job_node_round_trip);
	tcase_add_test(tc, test_stale_epoch_changes_nothing);
	tcase_add_test(tc, test_stale_epoch_fences_rows);
	if (pg == NULL)
		tcase_add_test(tc, test_reopen_frees); /* SQLite's recovery */
	tcase_add_test(tc, test_job_stops_on_fenced_commit);
	tcase_add_test(tc, test_job_stops_on_lost_renew);
	tcase_add_test(tc, test_sync_refused_when_leased_elsewhere);
	tcase_add_test(tc, test_stop_releases);
	tcase_add_test(tc, test_take_not_behind_slow_renew);
	tcase_add_test(tc, test_takeover_at_start);
	tcase_add_test(tc, test_takeover_at_revert);
	tcase_add_test(tc, test_takeover_at_save_best);
	if (pg != NULL) { /* claims */
		tcase_add_test(tc, test_adopt_never_started);
		tcase_add_test(tc, test_adopt_after_late_commit);
	}
#ifdef MLPD_HAVE_PG
	if (pg != NULL)
		tcase_add_test(tc, test_stalled_writer_frees_lease);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	pg = pgtest_server();
	pgtest_init();
	return pgtest_run(lease_suite());
}
