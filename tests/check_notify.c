/*
 * check_notify: Check tests of the store's "following other nodes" calls
 * (store.h): the weight notifications a node waits for
 * (store_models_wait) and the read of the jobs written since a cursor
 * (store_jobs_changed); and of one SQLSTATE mapping of the PostgreSQL
 * backend (pg_db.c: a protocol violation is a bug, not an outage). On
 * SQLite (one node) both calls answer FAULT_INVALID "not a shared store".
 * With MLPD_TEST_PG (tests/check_notify_pg.sh starts a throwaway server)
 * each case runs on a fresh PostgreSQL database (tests/pgtest.h), with one
 * store handle per "node", and a raw libpq session where a case needs a
 * transaction held open.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* nanosleep, clock_gettime */
#endif
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autoconf.h" /* MLPD_HAVE_PG */
#include "expect.h"
#include "fault.h"
#include "pgtest.h"
#include "store.h"

#ifdef MLPD_HAVE_PG
#include <libpq-fe.h>
/* the backend's own, for the SQLSTATE mapping case */
#define MLPD_STORE_INTERNAL 1
#include "pg_int.h"
#endif

/* $MLPD_TEST_PG's server, or NULL: SQLite only. */
static const char *pg;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static store *
open_ok(const char *conn)
{
	fault f;
	store *s;

	fault_clear(&f);
	s = store_open(conn, &f);
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

/* What one read of changed jobs gave: ids and steps_done, in order. */
typedef struct seen {
	char id[16][STORE_ID_MAX];
	int64_t done[16];
	int n;
} seen;

static int
see(void *arg, const store_job *j)
{
	seen *k = arg;

	ck_assert_int_lt(k->n, 16);
	snprintf(k->id[k->n], STORE_ID_MAX, "%s", j->id);
	k->done[k->n] = j->steps_done;
	k->n++;
	return 0;
}

/* The jobs written since *cursor, into k (zeroed first). */
static void
changed(store *s, uint64_t *cursor, seen *k)
{
	fault f;

	memset(k, 0, sizeof *k);
	expect_ok(store_jobs_changed(s, cursor, see, k, &f), f);
}

/* Index of id in k, or -1. */
static int
has(const seen *k, const char *id)
{
	for (int i = 0; i < k->n; i++)
		if (strcmp(k->id[i], id) == 0)
			return i;
	return -1;
}

/* ---- SQLite: one node ---- */

static int
never(void *arg, const char *id)
{
	(void)arg;
	(void)id;
	ck_abort_msg("called on SQLite");
	return 0;
}

static int
never_job(void *arg, const store_job *j)
{
	(void)arg;
	(void)j;
	ck_abort_msg("called on SQLite");
	return 0;
}

START_TEST(test_sqlite_not_shared)
{
	store *s = open_ok(":memory:");
	uint64_t cursor = 0;
	fault f;

	ck_assert_int_eq(store_shared(s), 0);
	expect_fail(store_models_wait(s, 10, -1, never, NULL, &f), f,
		    FAULT_INVALID, "not a shared store");
	expect_fail(store_jobs_changed(s, &cursor, never_job, NULL, &f), f,
		    FAULT_INVALID, "not a shared store");
	store_close(s);
}
END_TEST

#ifdef MLPD_HAVE_PG

/* ---- PostgreSQL: the jobs written since a cursor ---- */

/* A raw session on conn, its notices quiet. */
static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static PGconn *
raw_open(const char *conn)
{
	PGconn *c = PQconnectdb(conn);

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

static void
raw_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQerrorMessage(c));
	PQclear(r);
}

/* The first read takes every job; later ones only the rows written since
 * (insert, update, claim, hand-back), each once; a read with nothing
 * written takes nothing; and a row whose writer had not committed when a
 * read ran (a transaction held open on a raw session, older than a write
 * committed meanwhile) comes in the read after its commit: a cursor that
 * were simply the highest number read would have skipped it. */
START_TEST(test_jobs_changed)
{
	char conn[512];
	store *a, *b;
	store_job j;
	uint64_t cursor = 0, before;
	seen k;
	PGconn *raw;
	fault f;

	pgtest_fresh(conn, sizeof conn);
	a = open_ok(conn);
	b = open_ok(conn);
	add_model(a, "m1");
	add_model(a, "m2");
	j = make_job("j1", "m1", 10);
	expect_ok(store_job_insert(a, &j, &f), f);
	j = make_job("j2", "m2", 20);
	expect_ok(store_job_insert(a, &j, &f), f);
	changed(b, &cursor, &k);
	ck_assert_int_eq(k.n, 2);
	ck_assert_int_ge(has(&k, "j1"), 0);
	ck_assert_int_ge(has(&k, "j2"), 0);
	ck_assert_uint_gt(cursor, 0);
	/* nothing written since */
	changed(b, &cursor, &k);
	ck_assert_int_eq(k.n, 0);
	/* an update of j1 on a: j1 alone, as it now is */
	j = make_job("j1", "m1", 10);
	j.status = STORE_JOB_RUNNING;
	j.steps_done = 7;
	expect_ok(store_job_update(a, &j, &f), f);
	changed(b, &cursor, &k);
	ck_assert_int_eq(k.n, 1);
	ck_assert_str_eq(k.id[0], "j1");
	ck_assert_int_eq(k.done[0], 7);
	/* a claim (pg_claims.c's SQL) numbers its row too */
	expect_ok(store_node_beat(a, "A", 600000, 1, &f), f);
	{
		seen c;

		memset(&c, 0, sizeof c);
		fault_clear(&f);
		ck_assert_int_eq(store_job_claim(a, "A", see, &c, &f), 1);
	}
	changed(b, &cursor, &k);
	ck_assert_int_eq(k.n, 1);
	/* a writer that has not committed yet ... */
	raw = raw_open(conn);
	raw_exec(raw, "BEGIN");
	raw_exec(raw, "UPDATE jobs SET steps_done = 42 WHERE id = 'j2'");
	/* ... while a younger one commits */
	j = make_job("j1", "m1", 10);
	j.status = STORE_JOB_RUNNING;
	j.steps_done = 8;
	expect_ok(store_job_update(a, &j, &f), f);
	before = cursor;
	changed(b, &cursor, &k);
	ck_assert_int_eq(k.n, 1);
	ck_assert_str_eq(k.id[0], "j1");
	ck_assert_int_eq(has(&k, "j2"), -1);
	/* the cursor stays at or before the open writer */
	ck_assert_uint_ge(cursor, before);
	raw_exec(raw, "COMMIT");
	PQfinish(raw);
	changed(b, &cursor, &k);
	ck_assert_int_ge(has(&k, "j2"), 0);
	ck_assert_int_eq(k.done[has(&k, "j2")], 42);
	/* and then nothing more */
	changed(b, &cursor, &k);
	ck_assert_int_eq(k.n, 0);
	store_close(a);
	store_close(b);
}
END_TEST

/* Stops a read at the first row. */
static int
stop_at_first(void *arg, const store_job *j)
{
	(void)j;
	(*(int *)arg)++;
	return 7;
}

/* How many times each of the jobs j000.. was read. */
typedef struct tally {
	int seen[200];
	int n;
} tally;

static int
count_job(void *arg, const store_job *j)
{
	tally *t = arg;
	int i = atoi(j->id + 1);

	ck_assert(j->id[0] == 'j' && i >= 0 && i < 200);
	t->seen[i]++;
	t->n++;
	return 0;
}

/* More rows than a page (64) come, each once; a callback's non-zero
 * answer stops the read, is returned, and leaves the cursor as it was;
 * the index of pg-5.sql is there; bad arguments are refused. */
START_TEST(test_jobs_changed_pages)
{
	char conn[512];
	store *s;
	uint64_t cursor = 0;
	int calls = 0;
	seen k;
	fault f;

	pgtest_fresh(conn, sizeof conn);
	s = open_ok(conn);
	add_model(s, "m1");
	for (int i = 0; i < 150; i++) {
		char id[16];
		store_job j;

		snprintf(id, sizeof id, "j%03d", i);
		j = make_job(id, "m1", i);
		j.status = STORE_JOB_SUCCEEDED;
		expect_ok(store_job_insert(s, &j, &f), f);
	}
	fault_clear(&f);
	ck_assert_int_eq(store_jobs_changed(s, &cursor, stop_at_first,
					    &calls, &f), 7);
	ck_assert_int_eq(calls, 1);
	ck_assert_uint_eq(cursor, 0);
	/* all 150, each once */
	{
		tally t;

		memset(&t, 0, sizeof t);
		fault_clear(&f);
		ck_assert_int_eq(store_jobs_changed(s, &cursor, count_job, &t,
						    &f), 0);
		ck_assert_int_eq(t.n, 150);
		for (int i = 0; i < 150; i++)
			ck_assert_msg(t.seen[i] == 1, "j%03d read %d times", i,
				      t.seen[i]);
		ck_assert_uint_gt(cursor, 0);
	}
	changed(s, &cursor, &k);
	ck_assert_int_eq(k.n, 0);
	ck_assert_int_eq(pgtest_int(conn, "SELECT count(*) FROM pg_indexes "
				    "WHERE indexname = 'jobs_changed_tx'"), 1);
	expect_fail(store_jobs_changed(s, NULL, see, &k, &f), f,
		    FAULT_INVALID, "cursor");
	expect_fail(store_jobs_changed(s, &cursor, NULL, &k, &f), f,
		    FAULT_INVALID, "callback");
	store_close(s);
}
END_TEST

/* ---- PostgreSQL: the weight notifications ---- */

/* The ids one wait heard. */
typedef struct heard {
	char id[8][STORE_ID_MAX];
	int n;
} heard;

static int
hear(void *arg, const char *id)
{
	heard *h = arg;

	if (h->n < 8)
		snprintf(h->id[h->n++], STORE_ID_MAX, "%s", id);
	return 0;
}

/* One wait of w up to ms, into h (zeroed first): its answer. */
static int
wait_for(store *w, int64_t ms, int fd, heard *h, int64_t *took, fault *f)
{
	int64_t t0 = mono_ms();
	int rc;

	memset(h, 0, sizeof *h);
	fault_clear(f);
	rc = store_models_wait(w, ms, fd, hear, h, f);
	*took = mono_ms() - t0;
	return rc;
}

/* A checkpoint commit of model id at step on s. */
static void
checkpoint(store *s, const char *id, uint64_t step, int with_blob)
{
	store_progress p;
	store_loss_point pt = { step, 0.5, 1000 + (int64_t)step };
	fault f;

	memset(&p, 0, sizeof p);
	p.model_id = id;
	p.points = &pt;
	p.npoints = 1;
	if (with_blob) {
		p.blob = "W2";
		p.blob_len = 2;
		p.step = step;
	}
	p.last_loss = 0.5;
	p.now_ms = 1000 + (int64_t)step;
	expect_ok(store_progress_commit(s, &p, &f), f);
}

/* A waiting node hears the id of every model another node checkpoints,
 * sets the weights of or reverts, once the commit is done; not a
 * progress commit without weights, nor a failed write; the first wait
 * says it just started listening (2); a cancel fd ends a wait at once;
 * a listener the server dropped fails one wait and is back, saying so,
 * the next. */
START_TEST(test_models_wait)
{
	char conn[512];
	store *w, *x;
	heard h;
	int64_t took;
	int fds[2];
	fault f;

	pgtest_fresh(conn, sizeof conn);
	w = open_ok(conn);
	x = open_ok(conn);
	add_model(x, "m1");
	add_model(x, "m2");
	ck_assert_int_eq(wait_for(w, 100, -1, &h, &took, &f), 2);
	ck_assert_int_eq(h.n, 0);
	ck_assert_int_eq(wait_for(w, 100, -1, &h, &took, &f), 0);
	ck_assert_int_ge(took, 100);
	/* a checkpoint */
	checkpoint(x, "m1", 1, 1);
	ck_assert_int_eq(wait_for(w, 10000, -1, &h, &took, &f), 1);
	ck_assert_int_lt(took, 5000);
	ck_assert_int_eq(h.n, 1);
	ck_assert_str_eq(h.id[0], "m1");
	/* loss rows only: nothing */
	checkpoint(x, "m1", 2, 0);
	ck_assert_int_eq(wait_for(w, 200, -1, &h, &took, &f), 0);
	/* PUT weights, and a version restored (the same call) */
	expect_ok(store_model_set_weights(x, "m2", "W3", 2, 0, 2000, &f), f);
	ck_assert_int_eq(wait_for(w, 10000, -1, &h, &took, &f), 1);
	ck_assert_str_eq(h.id[0], "m2");
	/* a revert */
	expect_ok(store_model_revert(x, "m1", NULL, 3000, NULL, &f), f);
	ck_assert_int_eq(wait_for(w, 10000, -1, &h, &took, &f), 1);
	ck_assert_str_eq(h.id[0], "m1");
	/* a failed write announces nothing */
	expect_fail(store_model_set_weights(x, "nope", "W", 1, 0, 1, &f), f,
		    FAULT_NO_MODEL, "nope");
	ck_assert_int_eq(wait_for(w, 200, -1, &h, &took, &f), 0);
	/* the cancel fd */
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], "x", 1), 1);
	ck_assert_int_eq(wait_for(w, 10000, fds[0], &h, &took, &f), 0);
	ck_assert_int_lt(took, 5000);
	close(fds[0]);
	close(fds[1]);
	/* the listener dropped by the server */
	pgtest_exec(conn, "SELECT pg_terminate_backend(pid) FROM "
		    "pg_stat_activity WHERE datname = current_database() AND "
		    "query LIKE 'LISTEN mlpd_models%'");
	ck_assert_int_eq(wait_for(w, 10000, -1, &h, &took, &f), -1);
	ck_assert_int_eq(f.code, FAULT_UNAVAILABLE);
	ck_assert_int_eq(wait_for(w, 100, -1, &h, &took, &f), 2);
	checkpoint(x, "m2", 3, 1);
	ck_assert_int_eq(wait_for(w, 10000, -1, &h, &took, &f), 1);
	ck_assert_str_eq(h.id[0], "m2");
	store_close(w);
	store_close(x);
}
END_TEST

/* ---- PostgreSQL: SQLSTATE class 08 ---- */

/* A protocol violation (08P01: here a statement given fewer parameters
 * than it uses) is a bug of ours, not an outage: FAULT_INTERNAL (500),
 * not FAULT_UNAVAILABLE (503, "retry"), and the connection stays usable. */
START_TEST(test_protocol_violation)
{
	char conn[512];
	store *s;
	pg_store *ps;
	pg_conn *c;
	pg_params p = { 0 };
	PGresult *r;
	fault f;

	pgtest_fresh(conn, sizeof conn);
	s = open_ok(conn);
	ps = (pg_store *)s;
	fault_clear(&f);
	ck_assert_ptr_nonnull(c = pg_conn_get(ps, &f));
	pg_p_i64(&p, 1);
	r = pg_exec(c, "SELECT $1::bigint + $2::bigint", &p, 0, &f,
		    "adding");
	ck_assert_ptr_null(r);
	ck_assert_str_eq(c->sqlstate, "08P01");
	ck_assert_msg(f.code == FAULT_INTERNAL, "code %s (%s)",
		      fault_code_name(f.code), f.msg);
	ck_assert(!c->broken);
	ck_assert(!c->retry);
	/* the same connection answers the next statement */
	r = pg_exec(c, "SELECT 1", NULL, 0, &f, "one");
	ck_assert_ptr_nonnull(r);
	PQclear(r);
	pg_conn_put(ps, c);
	store_close(s);
}
END_TEST

#endif /* MLPD_HAVE_PG */

static Suite *
notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_set_timeout(tc, 60);
	if (pg == NULL) {
		tcase_add_test(tc, test_sqlite_not_shared);
	} else {
#ifdef MLPD_HAVE_PG
		tcase_add_test(tc, test_jobs_changed);
		tcase_add_test(tc, test_jobs_changed_pages);
		tcase_add_test(tc, test_models_wait);
		tcase_add_test(tc, test_protocol_violation);
#endif
	}
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	pg = pgtest_server();
	pgtest_init();
	return pgtest_run(notify_suite());
}
