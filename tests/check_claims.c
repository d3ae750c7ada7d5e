/*
 * check_claims: Check tests of the store's job claims (store.h, "job
 * claims": several nodes on one shared store). On SQLite (one node) every
 * claim call but store_job_get answers FAULT_INVALID "not a shared store".
 * With MLPD_TEST_PG (tests/check_claims_pg.sh starts a throwaway server)
 * each case runs on a fresh PostgreSQL database (tests/pgtest.h), with one
 * store handle per "node": the claim's rules (oldest first; a live
 * owner's job is not claimable, an expired, joined-again or departed
 * owner's is; hand-back; a model's jobs in order; another node's live
 * lease), steps_done back to the checkpoint, takeovers, two nodes
 * claiming at once from two threads never taking one job twice, the
 * index the claim walks, and the wake-ups (LISTEN/NOTIFY) a waiting node
 * gets from another node's insert, hand-back or leave. Then the offers
 * and cancels (store.h, "job offers and cancels"): a new job kept by its
 * node or offered, the cancel of an unclaimed job, and cancel requests
 * seen by a job's owner.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp under -std=c11 */
#endif
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autoconf.h" /* MLPD_HAVE_PG */
#include "fault.h"
#include "expect.h"
#include "pgtest.h"
#include "store.h"

#ifdef MLPD_HAVE_PG
#include <libpq-fe.h>
#endif

/* $MLPD_TEST_PG's server, or NULL: SQLite only. */
static const char *pg;

/* Long enough to stay alive through any case; short enough to expire
 * within one. */
#define TTL_LONG 600000
#define TTL_SHORT 1

/* Jobs and threads of the concurrent claim. */
#define RACE_JOBS 40

/* Asserts call answered want (0, 1: not a failure). */
#define expect_rc(call, f, want)                                              \
	do {                                                                  \
		int rc_;                                                      \
		fault_clear(&(f));                                            \
		rc_ = (call);                                                 \
		ck_assert_msg(rc_ == (want), "%s: %d, not %d (%s)", #call,    \
			      rc_, (want), (f).msg);                          \
	} while (0)

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The database of a case: a fresh PostgreSQL one, or a SQLite file in
 * a directory of its own. */
typedef struct db {
	char dir[64];
	char conn[512];
} db;

static void
db_fresh(db *d)
{
	memset(d, 0, sizeof *d);
	if (pg != NULL) {
		pgtest_fresh(d->conn, sizeof d->conn);
		return;
	}
	snprintf(d->dir, sizeof d->dir, "%s/check_claims.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(d->dir));
	snprintf(d->conn, sizeof d->conn, "%s/mlpd.db", d->dir);
}

static void
db_done(db *d)
{
	char p[600];

	if (d->dir[0] == '\0')
		return;
	snprintf(p, sizeof p, "%s-wal", d->conn);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", d->conn);
	unlink(p);
	snprintf(p, sizeof p, "%s.lock", d->conn);
	unlink(p);
	unlink(d->conn);
	rmdir(d->dir);
}

/* A store handle on d: one "node". */
static store *
node_open(const db *d)
{
	fault f;
	store *s;

	fault_clear(&f);
	s = store_open(d->conn, &f);
	ck_assert_msg(s != NULL, "store_open: %s", f.msg);
	return s;
}

static void
add_model(store *s, const char *id)
{
	store_model m;
	fault f;

	memset(&m, 0, sizeof m);
	snprintf(m.id, sizeof m.id, "%s", id);
	m.name = id;
	m.created_ms = m.updated_ms = 1;
	m.last_loss = NAN;
	m.blob = "W";
	m.blob_len = 1;
	expect_ok(store_model_insert(s, &m, &f), f);
}

static store_job
make_job(const char *id, const char *model_id, int64_t created)
{
	store_job j;

	memset(&j, 0, sizeof j);
	snprintf(j.id, sizeof j.id, "%s", id);
	snprintf(j.model_id, sizeof j.model_id, "%s", model_id);
	j.status = STORE_JOB_QUEUED;
	j.steps_total = 100;
	j.loss = NAN;
	j.options = "{}";
	j.created_ms = created;
	return j;
}

/* Inserts a queued job owned by owner (NULL: none). */
static void
add_job(store *s, const char *id, const char *model_id, int64_t created,
	const char *owner)
{
	store_job j = make_job(id, model_id, created);
	fault f;

	expect_ok(store_job_insert_owned(s, &j, owner, &f), f);
}

/* A copy of a job row, its strings kept. */
typedef struct job_copy {
	store_job j;
	char options[256];
	int calls;
} job_copy;

static int
copy_job(void *arg, const store_job *j)
{
	job_copy *c = arg;

	c->calls++;
	c->j = *j;
	snprintf(c->options, sizeof c->options, "%s", j->options);
	c->j.options = c->options;
	c->j.error = NULL;
	return 0;
}

/* node claims one job: its row into c (zeroed when none); the answer. */
static int
claim(store *s, const char *node, job_copy *c)
{
	fault f;
	int rc;

	memset(c, 0, sizeof *c);
	fault_clear(&f);
	rc = store_job_claim(s, node, copy_job, c, &f);
	ck_assert_msg(rc >= 0, "store_job_claim(%s): %s", node, f.msg);
	ck_assert_int_eq(c->calls, rc);
	return rc;
}

/* node claims, and it must be job id. */
static void
claim_is(store *s, const char *node, const char *id)
{
	job_copy c;

	ck_assert_msg(claim(s, node, &c) == 1, "%s claimed nothing, not %s",
		      node, id);
	ck_assert_str_eq(c.j.id, id);
	ck_assert_str_eq(c.j.node, node);
	ck_assert_int_eq(c.j.status, STORE_JOB_QUEUED);
}

/* node claims nothing. */
static void
claim_none(store *s, const char *node)
{
	job_copy c;

	ck_assert_msg(claim(s, node, &c) == 0, "%s claimed %s", node,
		      c.j.id);
}

static void
get_job(store *s, const char *id, job_copy *c)
{
	fault f;

	memset(c, 0, sizeof *c);
	expect_rc(store_job_get(s, id, copy_job, c, &f), f, 1);
}

static void
beat(store *s, const char *node, int64_t ttl, int join)
{
	fault f;

	expect_ok(store_node_beat(s, node, ttl, join, &f), f);
}

/* Two nodes on a fresh database: a and b, alive (joined) as na and
 * nb, and the models m1 and m2. */
static void
two_nodes(db *d, store **a, const char *na, store **b, const char *nb)
{
	db_fresh(d);
	*a = node_open(d);
	*b = node_open(d);
	add_model(*a, "m1");
	add_model(*a, "m2");
	beat(*a, na, TTL_LONG, 1);
	beat(*b, nb, TTL_LONG, 1);
}

/* Marks job id started by its claimer: running, steps_done done, its
 * checkpoint at ckpt. */
static void
start_job(store *s, const char *id, int64_t done, int64_t ckpt)
{
	job_copy c;
	fault f;

	get_job(s, id, &c);
	c.j.status = STORE_JOB_RUNNING;
	c.j.started_ms = 1000;
	c.j.steps_done = done;
	c.j.ckpt_steps = ckpt;
	c.j.lr = 0.1; /* the control object is stored with a rate */
	expect_ok(store_job_update(s, &c.j, &f), f);
}

static void
finish_job(store *s, const char *id)
{
	job_copy c;
	fault f;

	get_job(s, id, &c);
	c.j.status = STORE_JOB_SUCCEEDED;
	c.j.finished_ms = 2000;
	expect_ok(store_job_update(s, &c.j, &f), f);
}

/* store_jobs_cancel_asked callback: counts the ids, keeps the last. */
static void
note_asked(void *arg, const char *job_id)
{
	job_copy *c = arg;

	c->calls++;
	snprintf(c->j.id, sizeof c->j.id, "%s", job_id);
}

/* node's jobs with a cancel request: how many, the last in c. */
static int
asked(store *s, const char *node, job_copy *c)
{
	fault f;
	int n;

	memset(c, 0, sizeof *c);
	fault_clear(&f);
	n = store_jobs_cancel_asked(s, node, note_asked, c, &f);
	ck_assert_msg(n >= 0, "store_jobs_cancel_asked(%s): %s", node, f.msg);
	ck_assert_int_eq(c->calls, n);
	return n;
}

/* Offers job id of model_id (keep asked): the answer (1 kept, 0). */
static int
offer(store *s, const char *id, const char *model_id, int64_t created,
      const char *node, int keep)
{
	store_job j = make_job(id, model_id, created);
	fault f;
	int rc;

	fault_clear(&f);
	rc = store_job_offer(s, &j, node, keep, &f);
	ck_assert_msg(rc >= 0, "store_job_offer(%s): %s", id, f.msg);
	return rc;
}

/* ---- SQLite: one node ---- */

/* Every claim call but store_job_get is a shared store's; store_job_get
 * reads one job by id (takeovers 0), 0 for none, cb's value when not 0. */
START_TEST(test_sqlite_not_shared)
{
	db d;
	store *s;
	store_job j;
	job_copy c;
	int64_t n;
	fault f;

	db_fresh(&d);
	s = node_open(&d);
	ck_assert_int_eq(store_shared(s), 0);
	add_model(s, "m1");
	j = make_job("j1", "m1", 10);
	j.options = "{\"steps\":7}";
	j.steps_total = 7;
	expect_ok(store_job_insert(s, &j, &f), f);
	expect_fail(store_node_beat(s, "A", 1000, 1, &f), f, FAULT_INVALID,
		    "not a shared store");
	expect_fail(store_node_leave(s, "A", &f), f, FAULT_INVALID,
		    "not a shared store");
	j = make_job("j2", "m1", 20);
	expect_fail(store_job_insert_owned(s, &j, NULL, &f), f, FAULT_INVALID,
		    "not a shared store");
	expect_fail(store_job_claim(s, "A", copy_job, &c, &f), f,
		    FAULT_INVALID, "not a shared store");
	expect_fail(store_job_handback(s, "j1", "A", &f), f, FAULT_INVALID,
		    "not a shared store");
	expect_fail(store_jobs_wait(s, 10, -1, &f), f, FAULT_INVALID,
		    "not a shared store");
	expect_fail(store_jobs_unfinished(s, NULL, 1, &n, &f), f,
		    FAULT_INVALID, "not a shared store");
	/* offers and cancels too */
	j = make_job("j2", "m1", 20);
	expect_fail(store_job_offer(s, &j, "A", 1, &f), f, FAULT_INVALID,
		    "not a shared store");
	expect_fail(store_job_cancel_unclaimed(s, "j1", 5, copy_job, &c, &f),
		    f, FAULT_INVALID, "not a shared store");
	expect_fail(store_job_cancel_request(s, "j1", copy_job, &c, &f), f,
		    FAULT_INVALID, "not a shared store");
	expect_fail(store_jobs_cancel_asked(s, "A", note_asked, &c, &f), f,
		    FAULT_INVALID, "not a shared store");
	get_job(s, "j1", &c);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_str_eq(c.j.id, "j1");
	ck_assert_str_eq(c.j.model_id, "m1");
	ck_assert_int_eq(c.j.steps_total, 7);
	ck_assert_str_eq(c.options, "{\"steps\":7}");
	ck_assert_int_eq(c.j.takeovers, 0);
	memset(&c, 0, sizeof c);
	expect_rc(store_job_get(s, "j2", copy_job, &c, &f), f, 0);
	ck_assert_int_eq(c.calls, 0);
	store_close(s);
	db_done(&d);
}
END_TEST

/* ---- PostgreSQL: several nodes ---- */

/* Jobs go oldest first (created_ms, then insertion order), each once,
 * and come back as the claimer's: its node, queued. */
START_TEST(test_oldest_first)
{
	db d;
	store *a;

	db_fresh(&d);
	a = node_open(&d);
	ck_assert_int_eq(store_shared(a), 1);
	add_model(a, "m1");
	add_model(a, "m2");
	add_model(a, "m3");
	add_model(a, "m4");
	add_job(a, "j3", "m3", 30, NULL);
	add_job(a, "j1", "m1", 10, NULL);
	add_job(a, "j2", "m2", 20, NULL);
	add_job(a, "j2b", "m4", 20, NULL); /* same time: inserted later */
	beat(a, "A", TTL_LONG, 1);
	claim_is(a, "A", "j1");
	claim_is(a, "A", "j2");
	claim_is(a, "A", "j2b");
	claim_is(a, "A", "j3");
	claim_none(a, "A");
	store_close(a);
}
END_TEST

/* A job whose owner is alive is not claimable; once its beat expired, or
 * when its owner never beat, it is. */
START_TEST(test_owner_alive)
{
	db d;
	store *a, *b;

	two_nodes(&d, &a, "A", &b, "B");
	add_job(a, "j1", "m1", 10, "A");
	claim_none(b, "B");
	beat(a, "A", TTL_SHORT, 0);
	sleep_ms(20);
	claim_is(b, "B", "j1");
	/* an owner that never beat is not alive */
	add_job(a, "j2", "m2", 20, "ghost");
	claim_is(b, "B", "j2");
	store_close(a);
	store_close(b);
}
END_TEST

/* A node's first beat (join) frees the jobs an earlier run of the same
 * node id left owned; a beat that is not a join does not. */
START_TEST(test_join_frees)
{
	db d;
	store *a, *b;
	job_copy c;
	fault f;

	two_nodes(&d, &a, "A", &b, "B");
	add_job(a, "j1", "m1", 10, "A");
	add_job(a, "j2", "m2", 20, "A");
	/* finished jobs stay as they are */
	finish_job(a, "j2");
	beat(a, "A", TTL_LONG, 0);
	claim_none(b, "B");
	beat(a, "A", TTL_LONG, 1);
	claim_is(b, "B", "j1");
	claim_none(b, "B");
	get_job(b, "j2", &c);
	ck_assert_int_eq(c.j.status, STORE_JOB_SUCCEEDED);
	expect_rc(store_job_handback(b, "j2", "A", &f), f, 0);
	store_close(a);
	store_close(b);
}
END_TEST

/* A node that leaves makes what it owns claimable at once. */
START_TEST(test_leave)
{
	db d;
	store *a, *b;
	fault f;

	two_nodes(&d, &a, "A", &b, "B");
	add_job(a, "j1", "m1", 10, "A");
	claim_none(b, "B");
	expect_ok(store_node_leave(a, "A", &f), f);
	claim_is(b, "B", "j1");
	/* B is alive: A (back, joined again) cannot take it from B */
	beat(a, "A", TTL_LONG, 1);
	claim_none(a, "A");
	store_close(a);
	store_close(b);
}
END_TEST

/* A hand-back by the owner: no owner, queued, steps_done back to the
 * checkpoint, the node kept; by another node, or of a finished job,
 * nothing changes. The next claim counts a takeover (it had started). */
START_TEST(test_handback)
{
	db d;
	store *a, *b;
	job_copy c;
	fault f;

	two_nodes(&d, &a, "A", &b, "B");
	add_job(a, "j1", "m1", 10, NULL);
	claim_is(a, "A", "j1");
	start_job(a, "j1", 50, 30);
	claim_none(b, "B");
	expect_rc(store_job_handback(b, "j1", "B", &f), f, 0);
	expect_rc(store_job_handback(a, "nope", "A", &f), f, 0);
	get_job(a, "j1", &c);
	ck_assert_int_eq(c.j.status, STORE_JOB_RUNNING);
	ck_assert_int_eq(c.j.steps_done, 50);
	expect_rc(store_job_handback(a, "j1", "A", &f), f, 1);
	get_job(a, "j1", &c);
	ck_assert_int_eq(c.j.status, STORE_JOB_QUEUED);
	ck_assert_int_eq(c.j.steps_done, 30);
	ck_assert_int_eq(c.j.ckpt_steps, 30);
	ck_assert_str_eq(c.j.node, "A");
	ck_assert_int_eq(c.j.takeovers, 0);
	/* handed back: A no longer owns it */
	expect_rc(store_job_handback(a, "j1", "A", &f), f, 0);
	claim_is(b, "B", "j1");
	get_job(b, "j1", &c);
	ck_assert_int_eq(c.j.takeovers, 1);
	ck_assert_int_eq(c.j.started_ms, 1000);
	/* a finished job is not handed back */
	finish_job(b, "j1");
	expect_rc(store_job_handback(b, "j1", "B", &f), f, 0);
	get_job(b, "j1", &c);
	ck_assert_int_eq(c.j.status, STORE_JOB_SUCCEEDED);
	claim_none(a, "A");
	expect_fail(store_job_handback(a, NULL, "A", &f), f, FAULT_INVALID,
		    "job id");
	expect_fail(store_job_handback(a, "j1", "", &f), f, FAULT_INVALID,
		    "node id");
	store_close(a);
	store_close(b);
}
END_TEST

/* Only the oldest unfinished job of a model is claimable: a later one
 * waits while an earlier one is queued or running anywhere, and becomes
 * claimable once it finished. */
START_TEST(test_model_order)
{
	db d;
	store *a, *b;

	two_nodes(&d, &a, "A", &b, "B");
	add_job(a, "j1", "m1", 10, NULL);
	add_job(a, "j2", "m1", 20, NULL);
	add_job(a, "k1", "m2", 30, NULL);
	claim_is(a, "A", "j1");
	claim_is(b, "B", "k1"); /* not j2: j1 of m1 is unfinished */
	claim_none(b, "B");
	start_job(a, "j1", 10, 10);
	claim_none(b, "B");
	finish_job(a, "j1");
	claim_is(b, "B", "j2");
	store_close(a);
	store_close(b);
}
END_TEST

/* Another node's live lease on the model blocks the claim; the
 * claimer's own lease does not, nor an expired or released one. */
START_TEST(test_lease_blocks)
{
	db d;
	store *a, *c;
	uint64_t epoch = 0;
	fault f;

	two_nodes(&d, &a, "A", &c, "C");
	expect_rc(store_lease_take(c, "m1", "C", TTL_LONG, &epoch, NULL, 0,
		  &f), f, 1);
	add_job(a, "j1", "m1", 10, NULL);
	claim_none(a, "A");
	claim_is(c, "C", "j1"); /* its own lease */
	expect_rc(store_lease_take(c, "m2", "C", TTL_SHORT, &epoch, NULL, 0,
		  &f), f, 1);
	sleep_ms(20);
	add_job(a, "j2", "m2", 20, NULL);
	claim_is(a, "A", "j2"); /* C's lease on m2 expired */
	expect_rc(store_lease_take(c, "m1", "C", TTL_LONG, &epoch, NULL, 0,
		  &f), f, 1);
	finish_job(c, "j1");
	add_job(a, "j3", "m1", 30, NULL);
	claim_none(a, "A");
	expect_rc(store_lease_release(c, "m1", "C", epoch, &f), f, 1);
	claim_is(a, "A", "j3");
	store_close(a);
	store_close(c);
}
END_TEST

/* A takeover counts only for a job that had started; a claim puts
 * steps_done back to the checkpoint, and updates keep the count (also
 * through store_jobs_each). */
START_TEST(test_takeovers)
{
	db d;
	store *a, *b;
	job_copy c;
	fault f;

	two_nodes(&d, &a, "A", &b, "B");
	add_job(a, "j1", "m1", 10, NULL);
	claim_is(a, "A", "j1");
	expect_ok(store_node_leave(a, "A", &f), f);
	claim_is(b, "B", "j1"); /* not started: no takeover */
	get_job(b, "j1", &c);
	ck_assert_int_eq(c.j.takeovers, 0);
	start_job(b, "j1", 40, 20);
	expect_ok(store_node_leave(b, "B", &f), f);
	beat(a, "A", TTL_LONG, 1);
	claim_is(a, "A", "j1");
	get_job(a, "j1", &c);
	ck_assert_int_eq(c.j.takeovers, 1);
	ck_assert_int_eq(c.j.steps_done, 20);
	ck_assert_int_eq(c.j.status, STORE_JOB_QUEUED);
	ck_assert_str_eq(c.j.node, "A");
	/* an update keeps it, and owner: B cannot claim A's job */
	start_job(a, "j1", 60, 50);
	beat(b, "B", TTL_LONG, 1);
	claim_none(b, "B");
	get_job(a, "j1", &c);
	ck_assert_int_eq(c.j.takeovers, 1);
	ck_assert_int_eq(c.j.steps_done, 60);
	beat(a, "A", TTL_SHORT, 0);
	sleep_ms(20);
	claim_is(b, "B", "j1");
	get_job(b, "j1", &c);
	ck_assert_int_eq(c.j.takeovers, 2);
	ck_assert_int_eq(c.j.steps_done, 50);
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_jobs_each(b, "m1", copy_job, &c, &f), 0);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_eq(c.j.takeovers, 2);
	store_close(a);
	store_close(b);
}
END_TEST

/* One "node" of the race: claims until nothing is left. */
typedef struct racer {
	store *s;
	const char *node;
	pthread_barrier_t *go;
	char ids[RACE_JOBS][STORE_ID_MAX];
	int n;
	int failed;
} racer;

static int
note_id(void *arg, const store_job *j)
{
	racer *r = arg;

	if (r->n < RACE_JOBS)
		snprintf(r->ids[r->n], sizeof r->ids[r->n], "%s", j->id);
	r->n++;
	return 0;
}

static void *
race_main(void *arg)
{
	racer *r = arg;
	fault f;
	int rc;

	pthread_barrier_wait(r->go);
	do {
		fault_clear(&f);
		rc = store_job_claim(r->s, r->node, note_id, r, &f);
	} while (rc == 1);
	r->failed = rc < 0;
	return NULL;
}

/* Two nodes claiming from two threads at once over RACE_JOBS jobs (of
 * as many models, all claimable): every job claimed exactly once, by the
 * node its row names. */
START_TEST(test_concurrent_claims)
{
	db d;
	store *a, *b;
	pthread_barrier_t go;
	pthread_t ta, tb;
	racer *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
	int seen[RACE_JOBS] = { 0 };

	ck_assert(ra != NULL && rb != NULL);
	db_fresh(&d);
	a = node_open(&d);
	b = node_open(&d);
	for (int i = 0; i < RACE_JOBS; i++) {
		char m[16], j[16];

		snprintf(m, sizeof m, "m%02d", i);
		snprintf(j, sizeof j, "j%02d", i);
		add_model(a, m);
		add_job(a, j, m, 100 + i, NULL);
	}
	beat(a, "A", TTL_LONG, 1);
	beat(b, "B", TTL_LONG, 1);
	ck_assert_int_eq(pthread_barrier_init(&go, NULL, 2), 0);
	ra->s = a;
	ra->node = "A";
	ra->go = &go;
	rb->s = b;
	rb->node = "B";
	rb->go = &go;
	ck_assert_int_eq(pthread_create(&ta, NULL, race_main, ra), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, race_main, rb), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&go);
	ck_assert(!ra->failed && !rb->failed);
	ck_assert_int_eq(ra->n + rb->n, RACE_JOBS);
	for (int k = 0; k < 2; k++) {
		racer *r = k == 0 ? ra : rb;

		for (int i = 0; i < r->n; i++) {
			job_copy c;
			int at = atoi(r->ids[i] + 1);

			ck_assert(at >= 0 && at < RACE_JOBS);
			ck_assert_msg(seen[at] == 0, "%s claimed twice",
				      r->ids[i]);
			seen[at] = 1;
			get_job(a, r->ids[i], &c);
			ck_assert_str_eq(c.j.node, r->node);
		}
	}
	fprintf(stderr, "check_claims: the race: A claimed %d, B %d\n",
		ra->n, rb->n);
	free(ra);
	free(rb);
	store_close(a);
	store_close(b);
}
END_TEST

#ifdef MLPD_HAVE_PG
/* Other sessions on d's database than the asker's own and skip's. */
static int64_t
others_on(const db *d)
{
	return pgtest_int(d->conn, "SELECT count(*) FROM pg_stat_activity "
			  "WHERE datname = current_database() AND "
			  "pid <> pg_backend_pid() AND "
			  "query NOT LIKE '%pg_advisory_lock_shared%'");
}

/* What pg_stat_user_indexes counts of jobs_claim: its scans, or the
 * index entries they read (tuples). */
static int64_t
claim_scans(const db *d, int tuples)
{
	return pgtest_int(d->conn, tuples ?
			  "SELECT idx_tup_read FROM pg_stat_user_indexes "
			  "WHERE indexrelname = 'jobs_claim'" :
			  "SELECT idx_scan FROM pg_stat_user_indexes "
			  "WHERE indexrelname = 'jobs_claim'");
}

/* Waits (5 s at most) until the store's sessions on d ended: each
 * flushes its statistics as it exits. */
static void
sessions_gone(const db *d)
{
	for (int i = 0; i < 100 && others_on(d) > 0; i++)
		sleep_ms(50);
	ck_assert_int_eq(others_on(d), 0);
}

/* The claim walks the partial index jobs_claim in its ORDER BY
 * created_ms, seq over the unfinished jobs: with many finished jobs and a
 * queue of a few hundred (with two, the planner may as well sort them),
 * the node that claims scans it and reads only the head of the queue from
 * it, not the whole queue to sort it (pg_stat_user_indexes, counted once
 * that node's sessions ended). The test holds a node's presence lock itself,
 * so the claiming node's open does not recover (which would scan the
 * jobs too). */
START_TEST(test_claim_uses_index)
{
	db d;
	store *a;
	PGconn *holder;
	PGresult *r;
	int64_t before, after, read0, read;

	db_fresh(&d);
	a = node_open(&d);
	add_model(a, "m1");
	add_model(a, "m2");
	store_close(a);
	pgtest_exec(d.conn, "INSERT INTO jobs (id, model_id, status, "
		    "steps_total, created_ms) SELECT 'old' || i, 'm1', "
		    "'succeeded', 1, i FROM generate_series(1, 5000) i");
	pgtest_exec(d.conn, "INSERT INTO jobs (id, model_id, status, "
		    "steps_total, created_ms) SELECT 'j' || i, 'm2', "
		    "'queued', 1, 9000 + i FROM generate_series(1, 300) i");
	pgtest_exec(d.conn, "ANALYZE jobs");
	holder = PQconnectdb(d.conn);
	ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
	/* LOCK_NODE of server/store/postgres/pg_open.c */
	r = PQexec(holder, "SELECT pg_advisory_lock_shared("
		   "x'6d6c706400000002'::bigint)");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	sessions_gone(&d);
	before = claim_scans(&d, 0);
	read0 = claim_scans(&d, 1);
	a = node_open(&d);
	beat(a, "A", TTL_LONG, 1);
	claim_is(a, "A", "j1");
	store_close(a);
	sessions_gone(&d);
	after = claim_scans(&d, 0);
	read = claim_scans(&d, 1) - read0;
	PQfinish(holder);
	ck_assert_msg(after > before, "jobs_claim scans: %lld before, %lld "
		      "after", (long long)before, (long long)after);
	ck_assert_msg(read >= 1 && read < 10, "the claim read %lld entries "
		      "of jobs_claim", (long long)read);
	/* the open did not recover: the jobs are still queued */
	ck_assert_int_eq(pgtest_int(d.conn, "SELECT count(*) FROM jobs WHERE "
				    "status = 'queued'"), 300);
}
END_TEST
#endif

/* Waits on w up to ms, and on fd when >= 0: its answer; *took the time
 * it took. */
static int
wait_on(store *w, int64_t ms, int fd, int64_t *took, fault *f)
{
	int64_t t0 = mono_ms();
	int rc;

	fault_clear(f);
	rc = store_jobs_wait(w, ms, fd, f);
	*took = mono_ms() - t0;
	return rc;
}

/* wait_on without a wake fd. */
static int
wait_for(store *w, int64_t ms, int64_t *took, fault *f)
{
	return wait_on(w, ms, -1, took, f);
}

/* A waiting node is woken by another node's insert of a claimable job,
 * hand-back and leave, not by an owned insert; it times out otherwise;
 * its listening connection, dropped by the server, comes back. */
START_TEST(test_wait)
{
	db d;
	store *w, *x;
	store_job j;
	int64_t took;
	int fds[2];
	char byte;
	fault f;

	db_fresh(&d);
	w = node_open(&d);
	x = node_open(&d);
	add_model(x, "m1");
	add_model(x, "m2");
	beat(x, "X", TTL_LONG, 1);
	/* the first wait opens the listener, and times out */
	ck_assert_int_eq(wait_for(w, 100, &took, &f), 0);
	ck_assert_int_ge(took, 100);
	add_job(x, "j1", "m1", 10, NULL);
	ck_assert_int_eq(wait_for(w, 10000, &took, &f), 1);
	ck_assert_int_lt(took, 5000);
	ck_assert_int_eq(wait_for(w, 100, &took, &f), 0); /* all taken */
	add_job(x, "j2", "m2", 20, "X");
	ck_assert_int_eq(wait_for(w, 200, &took, &f), 0);
	claim_is(x, "X", "j1");
	ck_assert_int_eq(wait_for(w, 100, &took, &f), 0);
	expect_rc(store_job_handback(x, "j1", "X", &f), f, 1);
	ck_assert_int_eq(wait_for(w, 10000, &took, &f), 1);
	expect_ok(store_node_leave(x, "X", &f), f);
	ck_assert_int_eq(wait_for(w, 10000, &took, &f), 1);
	/* store_job_insert of a job without a node: claimable, wakes */
	j = make_job("j3", "m2", 30);
	expect_ok(store_job_insert(x, &j, &f), f);
	ck_assert_int_eq(wait_for(w, 10000, &took, &f), 1);
	/* 0 ms: only what is there */
	ck_assert_int_eq(wait_for(w, 0, &took, &f), 0);
	/* the caller's own wake fd: quiet, it times out; readable, it
	 * wakes the wait at once (and stays readable: the caller drains) */
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(wait_on(w, 100, fds[0], &took, &f), 0);
	ck_assert_int_ge(took, 100);
	ck_assert_int_eq(write(fds[1], "x", 1), 1);
	ck_assert_int_eq(wait_on(w, 10000, fds[0], &took, &f), 1);
	ck_assert_int_lt(took, 1000);
	ck_assert_int_eq(read(fds[0], &byte, 1), 1);
	ck_assert_int_eq(wait_on(w, 100, fds[0], &took, &f), 0);
	close(fds[0]);
	close(fds[1]);
	/* the server drops the listener: a failure, then woken at once by
	 * the new one (it may have missed some), then as before */
	pgtest_exec(d.conn, "SELECT pg_terminate_backend(pid) FROM "
		    "pg_stat_activity WHERE datname = current_database() AND "
		    "query = 'LISTEN mlpd_jobs'");
	sleep_ms(100);
	fault_clear(&f);
	ck_assert_int_eq(wait_for(w, 1000, &took, &f), -1);
	ck_assert_int_eq(f.code, FAULT_UNAVAILABLE);
	ck_assert_int_eq(wait_for(w, 1000, &took, &f), 1);
	ck_assert_int_lt(took, 1000);
	ck_assert_int_eq(wait_for(w, 100, &took, &f), 0);
	expect_ok(store_node_leave(x, "X", &f), f);
	ck_assert_int_eq(wait_for(w, 10000, &took, &f), 1);
	store_close(w);
	store_close(x);
}
END_TEST

/* An offer keeps the job for its node only when asked and its model has
 * no other unfinished job and no other node's live lease; otherwise the
 * job has no owner: any node may claim it (in its model's order), and
 * waiting nodes are woken. */
START_TEST(test_offer)
{
	db d;
	store *a, *b;
	job_copy c;
	uint64_t epoch = 0;
	int64_t took;
	fault f;

	two_nodes(&d, &a, "A", &b, "B");
	add_model(a, "m3");
	ck_assert_int_eq(wait_for(b, 50, &took, &f), 0); /* listening */
	ck_assert_int_eq(offer(a, "j1", "m1", 10, "A", 1), 1);
	ck_assert_int_eq(wait_for(b, 200, &took, &f), 0); /* owned: quiet */
	claim_none(b, "B"); /* A's, and A is alive */
	/* m1 has j1 unfinished: j2 is offered, and waits for j1 */
	ck_assert_int_eq(offer(a, "j2", "m1", 20, "A", 1), 0);
	ck_assert_int_eq(wait_for(b, 10000, &took, &f), 1);
	get_job(a, "j2", &c);
	ck_assert_str_eq(c.j.node, "");
	ck_assert_int_eq(c.j.status, STORE_JOB_QUEUED);
	claim_none(b, "B");
	/* not asked to keep: offered even on an idle model */
	ck_assert_int_eq(offer(a, "k1", "m2", 30, "A", 0), 0);
	claim_is(b, "B", "k1");
	/* another node's live lease on m3: offered; A's own lease: kept */
	expect_rc(store_lease_take(b, "m3", "B", TTL_LONG, &epoch, NULL, 0,
		  &f), f, 1);
	ck_assert_int_eq(offer(a, "l1", "m3", 40, "A", 1), 0);
	claim_is(b, "B", "l1"); /* B's own lease does not block B */
	finish_job(b, "l1");
	expect_rc(store_lease_release(b, "m3", "B", epoch, &f), f, 1);
	expect_rc(store_lease_take(a, "m3", "A", TTL_LONG, &epoch, NULL, 0,
		  &f), f, 1);
	ck_assert_int_eq(offer(a, "l2", "m3", 50, "A", 1), 1);
	/* j1 ends: j2 goes to whoever claims first */
	finish_job(a, "j1");
	claim_is(b, "B", "j2");
	/* an unknown model: nothing stored */
	expect_fail(store_job_offer(a, &(store_job){ .id = "x1",
		    .model_id = "nope", .options = "{}", .loss = NAN }, "A", 1,
		    &f), f, FAULT_NO_MODEL, "no model");
	expect_rc(store_job_get(a, "x1", copy_job, &c, &f), f, 0);
	store_close(a);
	store_close(b);
}
END_TEST

/* store_jobs_unfinished of model (NULL: all) with unclaimed: *n. */
static int64_t
unfinished(store *s, const char *model, int unclaimed)
{
	int64_t n = -1;
	fault f;

	expect_ok(store_jobs_unfinished(s, model, unclaimed, &n, &f), f);
	return n;
}

/* The counts of unfinished jobs: of a model or all, on any node, or only
 * those no live node owns (offered, or a dead node's); ended jobs are
 * not counted. */
START_TEST(test_unfinished)
{
	db d;
	store *a, *b;
	fault f;

	two_nodes(&d, &a, "A", &b, "B");
	add_model(a, "m3");
	ck_assert_int_eq(unfinished(a, NULL, 0), 0);
	ck_assert_int_eq(offer(a, "j1", "m1", 10, "A", 1), 1); /* A's */
	ck_assert_int_eq(offer(a, "j2", "m1", 20, "A", 1), 0); /* offered */
	ck_assert_int_eq(offer(a, "k1", "m2", 30, "A", 0), 0); /* offered */
	ck_assert_int_eq(unfinished(b, "m1", 0), 2);
	ck_assert_int_eq(unfinished(b, "m1", 1), 1);
	ck_assert_int_eq(unfinished(b, "m2", 0), 1);
	ck_assert_int_eq(unfinished(b, "m3", 0), 0);
	ck_assert_int_eq(unfinished(b, NULL, 0), 3);
	ck_assert_int_eq(unfinished(b, NULL, 1), 2);
	claim_is(b, "B", "k1"); /* B's now: claimed */
	ck_assert_int_eq(unfinished(a, NULL, 1), 1);
	ck_assert_int_eq(unfinished(a, "m2", 0), 1);
	finish_job(b, "k1");
	ck_assert_int_eq(unfinished(a, "m2", 0), 0);
	/* A gone: its j1 waits for a claim too */
	expect_ok(store_node_leave(a, "A", &f), f);
	ck_assert_int_eq(unfinished(b, NULL, 1), 2);
	expect_fail(store_jobs_unfinished(b, "", 0, &(int64_t){ 0 }, &f), f,
		    FAULT_INVALID, "the model id is empty");
	store_close(a);
	store_close(b);
}
END_TEST

/* A queued job with no owner, or a dead one, is cancelled in the store
 * at once (status, finished_ms, the row given back), and then neither
 * claimed nor cancelled again; a live node's job, a running one and a
 * finished one are left alone. */
START_TEST(test_cancel_unclaimed)
{
	db d;
	store *a, *b;
	job_copy c;
	fault f;

	two_nodes(&d, &a, "A", &b, "B");
	add_job(a, "j1", "m1", 10, NULL);
	memset(&c, 0, sizeof c);
	expect_rc(store_job_cancel_unclaimed(b, "j1", 777, copy_job, &c, &f),
		  f, 1);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_str_eq(c.j.id, "j1");
	ck_assert_int_eq(c.j.status, STORE_JOB_CANCELLED);
	ck_assert_int_eq(c.j.finished_ms, 777);
	get_job(a, "j1", &c);
	ck_assert_int_eq(c.j.status, STORE_JOB_CANCELLED);
	ck_assert_int_eq(c.j.finished_ms, 777);
	claim_none(a, "A");
	expect_rc(store_job_cancel_unclaimed(b, "j1", 888, NULL, NULL, &f), f,
		  0);
	get_job(a, "j1", &c);
	ck_assert_int_eq(c.j.finished_ms, 777);
	/* a live owner's: not cancelled here */
	add_job(a, "j2", "m1", 20, "A");
	expect_rc(store_job_cancel_unclaimed(b, "j2", 900, NULL, NULL, &f), f,
		  0);
	get_job(b, "j2", &c);
	ck_assert_int_eq(c.j.status, STORE_JOB_QUEUED);
	/* once A's beat expired it is */
	beat(a, "A", TTL_SHORT, 0);
	sleep_ms(20);
	expect_rc(store_job_cancel_unclaimed(b, "j2", 900, NULL, NULL, &f), f,
		  1);
	get_job(b, "j2", &c);
	ck_assert_int_eq(c.j.status, STORE_JOB_CANCELLED);
	/* running (started, handed back to nobody yet), finished, none */
	beat(a, "A", TTL_LONG, 0);
	add_job(a, "k1", "m2", 30, NULL);
	claim_is(b, "B", "k1");
	start_job(b, "k1", 5, 0);
	expect_rc(store_job_cancel_unclaimed(a, "k1", 950, NULL, NULL, &f), f,
		  0);
	finish_job(b, "k1");
	expect_rc(store_job_cancel_unclaimed(a, "k1", 950, NULL, NULL, &f), f,
		  0);
	get_job(b, "k1", &c);
	ck_assert_int_eq(c.j.status, STORE_JOB_SUCCEEDED);
	expect_rc(store_job_cancel_unclaimed(a, "nope", 950, NULL, NULL, &f),
		  f, 0);
	expect_fail(store_job_cancel_unclaimed(a, "", 950, NULL, NULL, &f), f,
		    FAULT_INVALID, "job id");
	store_close(a);
	store_close(b);
}
END_TEST

/* A cancel request on a live node's job is stored (the row given back,
 * waiting nodes woken) and seen by its owner only; it follows the job
 * to the node that claims it after a hand-back; a finished job takes
 * none, and an owner sees none for a job that ended. */
START_TEST(test_cancel_request)
{
	db d;
	store *a, *b;
	job_copy c;
	int64_t took;
	fault f;

	two_nodes(&d, &a, "A", &b, "B");
	add_job(a, "j1", "m1", 10, NULL);
	add_job(a, "k1", "m2", 20, NULL);
	claim_is(a, "A", "j1");
	claim_is(a, "A", "k1");
	start_job(a, "j1", 40, 20);
	ck_assert_int_eq(asked(a, "A", &c), 0);
	ck_assert_int_eq(wait_for(a, 50, &took, &f), 0); /* listening */
	memset(&c, 0, sizeof c);
	expect_rc(store_job_cancel_request(b, "j1", copy_job, &c, &f), f, 1);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_eq(c.j.status, STORE_JOB_RUNNING);
	ck_assert_str_eq(c.j.node, "A");
	ck_assert_int_eq(wait_for(a, 10000, &took, &f), 1);
	ck_assert_int_eq(asked(a, "A", &c), 1);
	ck_assert_str_eq(c.j.id, "j1");
	ck_assert_int_eq(asked(b, "B", &c), 0);
	/* handed back before A acted: B, which claims it, sees it */
	expect_rc(store_job_handback(a, "j1", "A", &f), f, 1);
	ck_assert_int_eq(asked(a, "A", &c), 0);
	claim_is(b, "B", "j1");
	ck_assert_int_eq(asked(b, "B", &c), 1);
	ck_assert_str_eq(c.j.id, "j1");
	/* ended: no request seen, and none taken */
	finish_job(b, "j1");
	ck_assert_int_eq(asked(b, "B", &c), 0);
	memset(&c, 0, sizeof c);
	expect_rc(store_job_cancel_request(a, "j1", copy_job, &c, &f), f, 0);
	ck_assert_int_eq(c.calls, 0);
	get_job(a, "j1", &c);
	ck_assert_int_eq(c.j.status, STORE_JOB_SUCCEEDED);
	/* a queued one (k1, A's) takes one too; an unknown id none */
	expect_rc(store_job_cancel_request(b, "k1", NULL, NULL, &f), f, 1);
	ck_assert_int_eq(asked(a, "A", &c), 1);
	ck_assert_str_eq(c.j.id, "k1");
	expect_rc(store_job_cancel_request(b, "nope", NULL, NULL, &f), f, 0);
	expect_fail(store_jobs_cancel_asked(a, "", note_asked, &c, &f), f,
		    FAULT_INVALID, "node id");
	store_close(a);
	store_close(b);
}
END_TEST

/* What store.c checks before any backend runs. */
START_TEST(test_bad_args)
{
	db d;
	store *a;
	store_job j;
	job_copy c;
	fault f;
	char longid[STORE_NODE_MAX + 8];

	memset(longid, 'n', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	db_fresh(&d);
	a = node_open(&d);
	add_model(a, "m1");
	expect_fail(store_node_beat(a, "", 1000, 0, &f), f, FAULT_INVALID,
		    "node id");
	expect_fail(store_node_beat(a, longid, 1000, 0, &f), f,
		    FAULT_INVALID, "node id");
	expect_fail(store_node_beat(a, "A", 0, 0, &f), f, FAULT_INVALID,
		    "1 ms");
	expect_fail(store_node_leave(a, NULL, &f), f, FAULT_INVALID,
		    "node id");
	expect_fail(store_job_claim(a, "A", NULL, NULL, &f), f,
		    FAULT_INVALID, "callback");
	j = make_job("j1", "m1", 10);
	expect_fail(store_job_insert_owned(a, &j, longid, &f), f,
		    FAULT_INVALID, "node id");
	j = make_job("j1", "nope", 10);
	expect_fail(store_job_insert_owned(a, &j, NULL, &f), f,
		    FAULT_NO_MODEL, "no model");
	expect_fail(store_job_get(a, "", copy_job, &c, &f), f, FAULT_INVALID,
		    "job id");
	/* nothing of the refused ones was stored */
	claim_none(a, "A");
	store_close(a);
}
END_TEST

static Suite *
claims_suite(void)
{
	Suite *s = suite_create("claims");
	TCase *tc = tcase_create("claims");

	tcase_set_timeout(tc, 60);
	if (pg == NULL) {
		tcase_add_test(tc, test_sqlite_not_shared);
	} else {
		tcase_add_test(tc, test_oldest_first);
		tcase_add_test(tc, test_owner_alive);
		tcase_add_test(tc, test_join_frees);
		tcase_add_test(tc, test_leave);
		tcase_add_test(tc, test_handback);
		tcase_add_test(tc, test_model_order);
		tcase_add_test(tc, test_lease_blocks);
		tcase_add_test(tc, test_takeovers);
		tcase_add_test(tc, test_concurrent_claims);
#ifdef MLPD_HAVE_PG
		tcase_add_test(tc, test_claim_uses_index);
#endif
		tcase_add_test(tc, test_wait);
		tcase_add_test(tc, test_offer);
		tcase_add_test(tc, test_unfinished);
		tcase_add_test(tc, test_cancel_unclaimed);
		tcase_add_test(tc, test_cancel_request);
		tcase_add_test(tc, test_bad_args);
	}
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	pg = pgtest_server();
	pgtest_init();
	return pgtest_run(claims_suite());
}
