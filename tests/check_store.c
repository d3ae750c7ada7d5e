/*
 * check_store: Check unit tests of the store (server/store/), on SQLite,
 * and on PostgreSQL too when $MLPD_TEST_PG names a server
 * (tests/check_store_pg.sh starts a throwaway one): then every case that
 * is not SQLite's by nature (a file's bytes, permissions, page caps, the
 * lock file, old SQLite schema steps) runs on a fresh database of its own
 * (tests/pgtest.h), and the "postgresql" cases check what only PostgreSQL
 * has (connection strings, logins, migrations raced by two nodes).
 *
 * The store must create and version its schema (refusing a too-new, corrupt
 * or read-only file), round-trip models, batches, loss history and jobs,
 * keep every change atomic (a failed call leaves nothing behind), cascade a
 * model's deletion, recover after a crash, serve readers beside a writer,
 * and survive SIGKILL at any moment: a child process writes while the
 * parent kills it at random times, then reopens and checks that every
 * acknowledged write is there and that history matches the checkpoint.
 * Files live in a mkdtemp directory under /tmp, removed at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, mkdtemp, pwrite, strtok_r under -std=c11 */
#endif
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fault.h"
#include "expect.h"
#include "pgtest.h"
#include "store.h"

static char tmpdir[64]; /* made by main, removed by main */
static const char *pg;  /* $MLPD_TEST_PG: cases run on PostgreSQL; NULL:
                           on SQLite */
static char cur_db[512]; /* fresh_db's last database (each case runs in a
                            process of its own) */

/* path <- tmpdir/name */
static void
tpath(char *path, size_t len, const char *name)
{
	int n = snprintf(path, len, "%s/%s", tmpdir, name);

	ck_assert(n > 0 && (size_t)n < len);
}

/* Test data generator (xorshift64), seeded per test. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static store *
open_ok(const char *path)
{
	fault f;
	store *s;

	fault_clear(&f);
	s = store_open(path, &f);
	ck_assert_msg(s != NULL, "store_open(%s): %s", path, f.msg);
	return s;
}

/* A new, empty database into db (and cur_db): on PostgreSQL a fresh
 * database of the test server, else the file name in tmpdir (removed). */
static void
fresh_db(char *db, size_t len, const char *name)
{
	if (pg != NULL) {
		pgtest_fresh(db, len);
	} else {
		tpath(db, len, name);
		unlink(db);
	}
	snprintf(cur_db, sizeof cur_db, "%s", db);
}

/* _i of the loop tests: 0 a file in tmpdir, 1 ":memory:" (on PostgreSQL
 * only 0 runs: a fresh database). */
static store *
open_kind(int kind, const char *name)
{
	char db[512];

	if (kind == 1)
		return open_ok(":memory:");
	fresh_db(db, sizeof db, name);
	return open_ok(db);
}

/* On PostgreSQL before its history part is built
 * (server/store/postgres/pg_history_pending.c), the history entries fail
 * with "not built yet": a case that needs them says SKIP on stderr and
 * ends there. Always 0 on SQLite, and once the history is built. */
static int
no_history(store *s, const char *test)
{
	store_loss_point *v = NULL;
	size_t n;
	fault f;

	if (pg == NULL)
		return 0;
	fault_clear(&f);
	if (store_loss_query(s, "no-such-model", 0, 1, &v, &n, &f) == 0) {
		free(v);
		return 0;
	}
	if (strstr(f.msg, "not built yet") == NULL)
		return 0;
	fprintf(stderr, "check_store: SKIP %s on PostgreSQL: %s\n", test,
		f.msg);
	return 1;
}

/* Asserts that call failed (-1) with code and a message containing want. */
static void
add_model(store *s, const char *id, int64_t created, const void *blob,
	  size_t len)
{
	store_model m;
	fault f;

	memset(&m, 0, sizeof m);
	snprintf(m.id, sizeof m.id, "%s", id);
	m.name = id;
	m.created_ms = created;
	m.updated_ms = created;
	m.last_loss = NAN;
	m.blob = blob;
	m.blob_len = len;
	expect_ok(store_model_insert(s, &m, &f), f);
}

/* A copy of one store_model, for checks after the callback returns. */
typedef struct model_copy {
	char id[STORE_ID_MAX];
	char name[64];
	int64_t created_ms, updated_ms, samples;
	uint64_t step;
	double last_loss;
	unsigned char *blob;
	size_t blob_len;
} model_copy;

typedef struct model_list {
	model_copy v[16];
	int n;
	int stop_after; /* return 7 after this many rows; 0 never */
} model_list;

static int
collect_model(void *arg, const store_model *m)
{
	model_list *l = arg;
	model_copy *c;

	ck_assert_int_lt(l->n, 16);
	c = &l->v[l->n++];
	memset(c, 0, sizeof *c);
	memcpy(c->id, m->id, sizeof c->id);
	snprintf(c->name, sizeof c->name, "%s", m->name);
	c->created_ms = m->created_ms;
	c->updated_ms = m->updated_ms;
	c->samples = m->samples;
	c->step = m->step;
	c->last_loss = m->last_loss;
	c->blob_len = m->blob_len;
	if (m->blob_len) {
		c->blob = malloc(m->blob_len);
		ck_assert_ptr_nonnull(c->blob);
		memcpy(c->blob, m->blob, m->blob_len);
	}
	return l->stop_after && l->n == l->stop_after ? 7 : 0;
}

static void
models_free(model_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i].blob);
	l->n = 0;
}

static void
models_get(store *s, model_list *l)
{
	fault f;

	models_free(l);
	expect_ok(store_models_each(s, collect_model, l, &f), f);
}

/* The model with id in l; fails the test when missing. */
static const model_copy *
model_in(const model_list *l, const char *id)
{
	for (int i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].id, id) == 0)
			return &l->v[i];
	}
	ck_abort_msg("no model '%s' listed", id);
	return NULL;
}

typedef struct job_copy {
	store_job j;
	char error[64];
	char options[64];
	int has_error;
} job_copy;

typedef struct job_list {
	job_copy v[64];
	int n;
	int stop_after;
} job_list;

static int
collect_job(void *arg, const store_job *j)
{
	job_list *l = arg;
	job_copy *c;

	ck_assert_int_lt(l->n, 64);
	c = &l->v[l->n++];
	c->j = *j;
	c->has_error = j->error != NULL;
	snprintf(c->error, sizeof c->error, "%s", j->error ? j->error : "");
	ck_assert_ptr_nonnull(j->options);
	snprintf(c->options, sizeof c->options, "%s", j->options);
	c->j.error = NULL;
	c->j.options = NULL;
	return l->stop_after && l->n == l->stop_after ? 7 : 0;
}

static void
jobs_get(store *s, const char *model_id, job_list *l)
{
	fault f;

	l->n = 0;
	expect_ok(store_jobs_each(s, model_id, collect_job, l, &f), f);
}

static store_job
make_job(const char *id, const char *model_id, store_job_status st,
	 int64_t created)
{
	store_job j;

	memset(&j, 0, sizeof j);
	snprintf(j.id, sizeof j.id, "%s", id);
	snprintf(j.model_id, sizeof j.model_id, "%s", model_id);
	j.status = st;
	j.steps_total = 100;
	j.loss = NAN;
	j.options = "{}";
	j.created_ms = created;
	return j;
}

/* ---- direct SQLite looks at a closed (or WAL-shared) file ---- */

static int64_t
sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
					 NULL), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
		      "%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
					 SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK,
		      "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void
write_file(const char *path, const void *buf, size_t len, off_t at)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, len, at), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* ---- schema and migrations ---- */

START_TEST(test_schema_fresh)
{
	static const char *const tables[] = { "models", "batches",
					      "loss_chunk", "jobs" };
	char path[256], wal[300], sql[128];
	model_list l = { .n = 0 };
	store *s;
	fault f;

	tpath(path, sizeof path, "fresh.db");
	s = open_ok(path);
	ck_assert_int_ge(store_schema_version(), 1);
	ck_assert_int_eq(sql_int(path, "PRAGMA user_version"),
			 store_schema_version());
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_schema "
			 "WHERE type = 'table' AND name = '%s'", tables[i]);
		ck_assert_msg(sql_int(path, sql) == 1, "no table %s",
			      tables[i]);
	}
	ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sqlite_schema "
				 "WHERE type = 'index' AND name IN "
				 "('batches_model', 'jobs_model')"), 2);
	/* journal_mode = WAL persists in the file header. */
	ck_assert_int_eq(sql_int(path, "SELECT journal_mode = 'wal' FROM "
				 "pragma_journal_mode()"), 1);
	/* a new file has 16 KiB pages (SQLite's default is 4 KiB) */
	ck_assert_int_eq(sql_int(path, "PRAGMA page_size"), 16384);
	ck_assert_int_gt(store_size_bytes(s), 0);
	expect_ok(store_integrity_check(s, &f), f);
	add_model(s, "m", 1, "W", 1);
	store_close(s);
	/* Closing the last connection checkpoints and removes the WAL. */
	snprintf(wal, sizeof wal, "%s-wal", path);
	ck_assert_int_eq(access(wal, F_OK), -1);

	s = open_ok(path);
	ck_assert_int_eq(sql_int(path, "PRAGMA user_version"),
			 store_schema_version());
	models_get(s, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.v[0].id, "m");
	models_free(&l);
	store_close(s);
	store_close(NULL);
}
END_TEST

START_TEST(test_schema_too_new)
{
	char path[256], sql[64];
	int newer = store_schema_version() + 1;
	fault f;

	tpath(path, sizeof path, "newer.db");
	store_close(open_ok(path));
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", newer);
	sql_exec(path, sql);
	fault_clear(&f);
	ck_assert_ptr_null(store_open(path, &f));
	ck_assert_msg(strstr(f.msg, "newer") != NULL, "message: %s", f.msg);
	ck_assert_msg(strstr(f.msg, path) != NULL, "message: %s", f.msg);
	/* Refused before anything was written. */
	ck_assert_int_eq(sql_int(path, "PRAGMA user_version"), newer);
}
END_TEST

/* A failing migration leaves the file as it was: a foreign database whose
 * "models" table clashes with version 1 keeps user_version 0 and gains no
 * tables. */
START_TEST(test_schema_failed_migration)
{
	char path[256];
	fault f;

	tpath(path, sizeof path, "foreign.db");
	unlink(path);
	sql_exec(path, "CREATE TABLE models (x)");
	fault_clear(&f);
	ck_assert_ptr_null(store_open(path, &f));
	ck_assert_msg(strstr(f.msg, "version 1") != NULL, "message: %s",
		      f.msg);
	ck_assert_int_eq(sql_int(path, "PRAGMA user_version"), 0);
	ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sqlite_schema"),
			 1);
}
END_TEST

START_TEST(test_corrupt_file)
{
	unsigned char junk[8192];
	uint64_t seed = 0x9E3779B97F4A7C15u;
	char path[256];
	int64_t page, pages;
	store *s;
	fault f;

	/* Garbage: not a database at all. */
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)rnd(&seed);
	tpath(path, sizeof path, "garbage.db");
	write_file(path, junk, sizeof junk, 0);
	fault_clear(&f);
	ck_assert_ptr_null(store_open(path, &f));
	ck_assert_int_ne(f.code, FAULT_NONE);
	ck_assert_msg(strstr(f.msg, "not a database") != NULL, "message: %s",
		      f.msg);
	ck_assert_msg(strstr(f.msg, path) != NULL, "message: %s", f.msg);

	/* A real database whose b-tree pages were overwritten. */
	tpath(path, sizeof path, "damaged.db");
	s = open_ok(path);
	add_model(s, "m", 1, junk, sizeof junk);
	store_close(s);
	page = sql_int(path, "PRAGMA page_size");
	pages = sql_int(path, "PRAGMA page_count");
	ck_assert_int_gt(pages, 3);
	for (int64_t p = 1; p < pages; p++)
		for (int64_t at = 0; at < page; at += (int64_t)sizeof junk)
			write_file(path, junk, sizeof junk,
			    (off_t)(p * page + at));
	fault_clear(&f);
	s = store_open(path, &f);
	if (s)
		store_close(s);
	ck_assert_msg(s == NULL, "opened a damaged database");
	ck_assert_msg(strstr(f.msg, "corrupt") != NULL, "message: %s", f.msg);
}
END_TEST

/* Opening a file we may not write fails. Root writes through mode 0444,
 * so as root the open runs in a child that became "nobody" first. */
START_TEST(test_read_only_file)
{
	char dir[256], path[300], msg[FAULT_MSG_MAX + 1] = "";
	int fds[2], status;
	ssize_t r;
	pid_t pid;
	fault f;

	tpath(dir, sizeof dir, "ro");
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(chmod(tmpdir, 0711), 0);
	snprintf(path, sizeof path, "%s/ro.db", dir);
	store_close(open_ok(path));
	ck_assert_int_eq(chmod(path, 0444), 0);
	if (geteuid() != 0) {
		fault_clear(&f);
		ck_assert_ptr_null(store_open(path, &f));
		ck_assert_msg(strstr(f.msg, "read-only") != NULL,
			      "message: %s", f.msg);
		return;
	}
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		store *s;

		close(fds[0]);
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(77);
		fault_clear(&f);
		s = store_open(path, &f);
		if (write(fds[1], f.msg, strlen(f.msg)) < 0)
			_exit(2);
		_exit(s == NULL ? 0 : 1);
	}
	close(fds[1]);
	r = read(fds[0], msg, sizeof msg - 1);
	msg[r > 0 ? r : 0] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		fprintf(stderr, "check_store: read-only test skipped "
			"(cannot become nobody)\n");
		return;
	}
	ck_assert_msg(WEXITSTATUS(status) == 0, "a read-only file opened");
	ck_assert_msg(strstr(msg, "read-only") != NULL, "message: %s", msg);
}
END_TEST

START_TEST(test_bad_open)
{
	fault f;

	fault_clear(&f);
	ck_assert_ptr_null(store_open("", &f));
	ck_assert_int_eq(f.code, FAULT_INVALID);
	fault_clear(&f);
	ck_assert_ptr_null(store_open("/nonexistent-dir/x/y.db", &f));
	ck_assert_int_ne(f.code, FAULT_NONE);
	ck_assert_msg(strstr(f.msg, "/nonexistent-dir/x/y.db") != NULL,
		      "message: %s", f.msg);
}
END_TEST

/* Two in-memory stores are two databases. */
START_TEST(test_memory_separate)
{
	store *a = open_ok(":memory:"), *b = open_ok(":memory:");
	model_list l = { .n = 0 };
	fault f;

	add_model(a, "x", 1, "A", 1);
	models_get(a, &l);
	ck_assert_int_eq(l.n, 1);
	models_get(b, &l);
	ck_assert_int_eq(l.n, 0);
	add_model(b, "x", 1, "B", 1);
	expect_ok(store_integrity_check(a, &f), f);
	ck_assert_int_gt(store_size_bytes(b), 0);
	store_close(a);
	store_close(b);
}
END_TEST

/* ---- round trips (each on a file, _i == 0, and in memory, _i == 1) ---- */

START_TEST(test_models)
{
	store *s = open_kind(_i, "models.db");
	model_list l = { .n = 0 };
	store_model m;
	const model_copy *c;
	char longid[STORE_ID_MAX + 8];
	fault f;

	add_model(s, "a", 1000, "AAAA", 4);
	add_model(s, "b", 2000, NULL, 0);
	memset(&m, 0, sizeof m);
	snprintf(m.id, sizeof m.id, "c");
	m.name = "third \"model\" ? é";
	m.created_ms = 1500;
	m.updated_ms = 1600;
	m.step = 42;
	m.samples = 0;
	m.last_loss = 0.125;
	m.blob = "CCC";
	m.blob_len = 3;
	expect_ok(store_model_insert(s, &m, &f), f);

	/* Duplicate and malformed ids. */
	expect_fail(store_model_insert(s, &m, &f), f, FAULT_INVALID,
		    "already exists");
	snprintf(m.id, sizeof m.id, "%s", "");
	expect_fail(store_model_insert(s, &m, &f), f, FAULT_INVALID, "empty");
	memset(m.id, 'x', sizeof m.id);
	expect_fail(store_model_insert(s, &m, &f), f, FAULT_INVALID,
		    "longer");

	/* Oldest first, every field back as stored. */
	models_get(s, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.v[0].id, "a");
	ck_assert_str_eq(l.v[1].id, "c");
	ck_assert_str_eq(l.v[2].id, "b");
	ck_assert(isnan(l.v[0].last_loss));
	ck_assert_uint_eq(l.v[0].blob_len, 4);
	ck_assert_mem_eq(l.v[0].blob, "AAAA", 4);
	ck_assert_uint_eq(l.v[2].blob_len, 0);
	c = &l.v[1];
	ck_assert_str_eq(c->name, "third \"model\" ? é");
	ck_assert_int_eq(c->created_ms, 1500);
	ck_assert_int_eq(c->updated_ms, 1600);
	ck_assert_uint_eq(c->step, 42);
	ck_assert_double_eq(c->last_loss, 0.125);
	ck_assert_mem_eq(c->blob, "CCC", 3);

	/* A callback's non-zero value stops the walk and comes back. */
	models_free(&l);
	l.stop_after = 2;
	ck_assert_int_eq(store_models_each(s, collect_model, &l, &f), 7);
	ck_assert_int_eq(l.n, 2);
	l.stop_after = 0;

	/* PUT weights. */
	expect_ok(store_model_set_weights(s, "a", "NEWWEIGHTS", 10, 9, 3000,
					  &f), f);
	models_get(s, &l);
	c = model_in(&l, "a");
	ck_assert_uint_eq(c->step, 9);
	ck_assert_int_eq(c->updated_ms, 3000);
	ck_assert_uint_eq(c->blob_len, 10);
	ck_assert_mem_eq(c->blob, "NEWWEIGHTS", 10);
	expect_fail(store_model_set_weights(s, "zzz", "W", 1, 1, 1, &f), f,
		    FAULT_NO_MODEL, "no model with id 'zzz'");

	/* Delete. */
	expect_fail(store_model_delete(s, "zzz", &f), f, FAULT_NO_MODEL,
		    "no model with id 'zzz'");
	expect_ok(store_model_delete(s, "c", &f), f);
	models_get(s, &l);
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.v[0].id, "a");
	ck_assert_str_eq(l.v[1].id, "b");
	models_free(&l);

	snprintf(longid, sizeof longid, "%0*d", STORE_ID_MAX + 4, 1);
	expect_fail(store_model_delete(s, longid, &f), f, FAULT_NO_MODEL,
		    "no model");
	store_close(s);
}
END_TEST

/* A batch of more WAL pages than the auto-checkpoint's 1,000 reaches the
 * database file with no further write (store_ckpt.c's thread copies it
 * after the commit), and the rows read back whole. */
START_TEST(test_checkpoint_thread)
{
	char path[256], wal[300];
	enum { N = 1200, NIN = 1000 }; /* ~4.8 MB of inputs */
	float *x = malloc((size_t)N * NIN * sizeof(float)), y[N];
	float *bx, *by;
	int64_t id, total;
	struct stat st;
	sqlite3 *db;
	int logp = -1, ckp = -2;
	size_t n;
	store *s;
	fault f;
	int i;

	ck_assert_ptr_nonnull(x);
	for (i = 0; i < N * NIN; i++)
		x[i] = (float)i;
	for (i = 0; i < N; i++)
		y[i] = (float)-i;
	tpath(path, sizeof path, "ckpt.db");
	snprintf(wal, sizeof wal, "%s-wal", path);
	s = open_ok(path);
	add_model(s, "m", 1, "W", 1);
	expect_ok(store_batch_insert(s, "m", x, y, N, NIN, 1, 0, 100, &id,
				     &total, &f), f);
	/* the file holds the batch within 10 s, without another commit */
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(stat(path, &st), 0);
		if (st.st_size >= (off_t)N * NIN * (off_t)sizeof(float))
			break;
		usleep(10000);
	}
	ck_assert_int_ge(st.st_size, (off_t)N * NIN * (off_t)sizeof(float));
	/* once no checkpoint runs (not busy), every frame is in the file */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	for (i = 0; i < 1000; i++) {
		int rc = sqlite3_wal_checkpoint_v2(db, "main",
			SQLITE_CHECKPOINT_PASSIVE, &logp, &ckp);

		if (rc == SQLITE_OK && logp == ckp)
			break;
		ck_assert_int_eq(rc, SQLITE_BUSY);
		usleep(10000);
	}
	ck_assert_int_eq(logp, ckp);
	sqlite3_close(db);
	/* a second batch after the checkpoint: both read back whole */
	expect_ok(store_batch_insert(s, "m", x, y, N, NIN, 1, 0, 200, &id,
				     &total, &f), f);
	ck_assert_int_eq(total, 2 * N);
	expect_ok(store_batches_load(s, "m", NIN, 1, &bx, &by, &n, &f), f);
	ck_assert_uint_eq(n, 2 * N);
	ck_assert_int_eq(memcmp(bx, x, (size_t)N * NIN * sizeof(float)), 0);
	ck_assert_int_eq(memcmp(bx + (size_t)N * NIN, x,
				(size_t)N * NIN * sizeof(float)), 0);
	ck_assert_int_eq(memcmp(by + N, y, sizeof y), 0);
	free(bx);
	free(by);
	store_close(s);
	/* closing still checkpoints and removes the WAL */
	ck_assert_int_eq(access(wal, F_OK), -1);
	free(x);
}
END_TEST

START_TEST(test_batches)
{
	store *s = open_kind(_i, "batches.db");
	float x1[3 * 2] = { 1, 2, 3, 4, 5, 6 }, y1[3] = { -1, -2, -3 };
	float x2[2 * 2] = { 0.5f, -0.25f, 1e30f, -0.0f }, y2[2] = { 7, 8 };
	float *x, *y;
	int64_t id1, id2, id3, total;
	store_batch_info *bi;
	model_list l = { .n = 0 };
	size_t n;
	fault f;

	add_model(s, "m", 1, "W", 1);
	add_model(s, "other", 2, "W", 1);
	expect_ok(store_batch_insert(s, "m", x1, y1, 3, 2, 1, 0, 100, &id1,
				     &total, &f), f);
	ck_assert_int_eq(total, 3);
	expect_ok(store_batch_insert(s, "m", x2, y2, 2, 2, 1, 0, 200, &id2,
				     &total, &f), f);
	ck_assert_int_gt(id2, id1);
	ck_assert_int_eq(total, 5);

	/* Refusals change nothing. */
	expect_fail(store_batch_insert(s, "m", x1, y1, 2, 3, 1, 0, 300, &id3,
				       &total, &f), f, FAULT_INVALID,
		    "inputs");
	expect_fail(store_batch_insert(s, "nope", x1, y1, 3, 2, 1, 0, 300, &id3,
				       &total, &f), f, FAULT_NO_MODEL,
		    "no model with id 'nope'");
	expect_fail(store_batch_insert(s, "m", x1, y1, 0, 2, 1, 0, 300, &id3,
				       &total, &f), f, FAULT_INVALID,
		    "at least one row");

	expect_ok(store_batch_list(s, "m", &bi, &n, &f), f);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(bi[0].batch_id, id1);
	ck_assert_int_eq(bi[0].samples, 3);
	ck_assert_int_eq(bi[0].created_ms, 100);
	ck_assert_int_eq(bi[1].batch_id, id2);
	ck_assert_int_eq(bi[1].samples, 2);
	ck_assert_int_eq(bi[1].created_ms, 200);
	free(bi);
	expect_ok(store_batch_list(s, "other", &bi, &n, &f), f);
	ck_assert_uint_eq(n, 0);
	free(bi);
	expect_fail(store_batch_list(s, "nope", &bi, &n, &f), f,
		    FAULT_NO_MODEL, "no model");

	models_get(s, &l);
	ck_assert_int_eq(model_in(&l, "m")->samples, 5);
	ck_assert_int_eq(model_in(&l, "other")->samples, 0);
	models_free(&l);

	/* Rows come back bit for bit, in batch order. */
	expect_ok(store_batches_load(s, "m", 2, 1, &x, &y, &n, &f), f);
	ck_assert_uint_eq(n, 5);
	ck_assert_mem_eq(x, x1, sizeof x1);
	ck_assert_mem_eq(x + 6, x2, sizeof x2);
	ck_assert_mem_eq(y, y1, sizeof y1);
	ck_assert_mem_eq(y + 3, y2, sizeof y2);
	free(x);
	free(y);
	expect_fail(store_batches_load(s, "m", 3, 1, &x, &y, &n, &f), f,
		    FAULT_INVALID, "inputs");
	ck_assert_ptr_null(x);
	expect_fail(store_batches_load(s, "nope", 2, 1, &x, &y, &n, &f), f,
		    FAULT_NO_MODEL, "no model");
	expect_ok(store_batches_load(s, "other", 2, 1, &x, &y, &n, &f), f);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(x);
	ck_assert_ptr_null(y);

	/* Delete all, then ids go on (never reused). */
	expect_ok(store_batches_delete(s, "m", NULL, &f), f);
	expect_fail(store_batches_delete(s, "nope", NULL, &f), f, FAULT_NO_MODEL,
		    "no model");
	expect_ok(store_batch_list(s, "m", &bi, &n, &f), f);
	ck_assert_uint_eq(n, 0);
	free(bi);
	models_get(s, &l);
	ck_assert_int_eq(model_in(&l, "m")->samples, 0);
	models_free(&l);
	expect_ok(store_batches_load(s, "m", 2, 1, &x, &y, &n, &f), f);
	ck_assert_uint_eq(n, 0);
	/* With no rows left, another shape is fine. */
	expect_ok(store_batch_insert(s, "m", x1, y1, 1, 3, 3, 0, 400, &id3,
				     &total, &f), f);
	ck_assert_int_gt(id3, id2);
	ck_assert_int_eq(total, 1);
	store_close(s);
}
END_TEST

START_TEST(test_progress_and_loss)
{
	store *s = open_kind(_i, "progress.db");
	store_loss_point pts[4], *v;
	store_progress p;
	store_job j = make_job("j", "m", STORE_JOB_RUNNING, 50);
	job_list jl = { .n = 0 };
	model_list l = { .n = 0 };
	const model_copy *c;
	size_t n;
	fault f;

	if (no_history(s, __func__)) {
		store_close(s);
		return;
	}
	add_model(s, "m", 1, "W0", 2);
	expect_ok(store_job_insert(s, &j, &f), f);

	/* Loss rows only: the checkpoint stays. */
	for (int i = 0; i < 3; i++)
		pts[i] = (store_loss_point){ (uint64_t)i + 1, 3.0 - i,
					     100 + i };
	memset(&p, 0, sizeof p);
	p.model_id = "m";
	p.points = pts;
	p.npoints = 3;
	p.last_loss = 1.0;
	p.now_ms = 110;
	j.steps_done = 3;
	j.started_ms = 60;
	j.loss = 1.0;
	p.job = &j;
	expect_ok(store_progress_commit(s, &p, &f), f);
	models_get(s, &l);
	c = model_in(&l, "m");
	ck_assert_uint_eq(c->step, 0);
	ck_assert_mem_eq(c->blob, "W0", 2);
	ck_assert_double_eq(c->last_loss, 1.0);
	ck_assert_int_eq(c->updated_ms, 110);

	/* Loss rows, checkpoint and job together. */
	for (int i = 0; i < 3; i++)
		pts[i] = (store_loss_point){ (uint64_t)i + 4, 0.5 / (i + 1),
					     200 + i };
	p.blob = "CKPT6";
	p.blob_len = 5;
	p.step = 6;
	p.last_loss = pts[2].loss;
	p.now_ms = 210;
	j.status = STORE_JOB_SUCCEEDED;
	j.steps_done = 6;
	j.finished_ms = 220;
	expect_ok(store_progress_commit(s, &p, &f), f);
	models_get(s, &l);
	c = model_in(&l, "m");
	ck_assert_uint_eq(c->step, 6);
	ck_assert_uint_eq(c->blob_len, 5);
	ck_assert_mem_eq(c->blob, "CKPT6", 5);
	ck_assert_int_eq(c->updated_ms, 210);
	jobs_get(s, "m", &jl);
	ck_assert_int_eq(jl.n, 1);
	ck_assert_int_eq(jl.v[0].j.status, STORE_JOB_SUCCEEDED);
	ck_assert_int_eq(jl.v[0].j.steps_done, 6);
	ck_assert_int_eq(jl.v[0].j.started_ms, 60);
	ck_assert_int_eq(jl.v[0].j.finished_ms, 220);

	/* A duplicate step fails the whole commit: no row 7, no checkpoint. */
	pts[0] = (store_loss_point){ 7, 0.1, 300 };
	pts[1] = (store_loss_point){ 6, 0.1, 300 };
	p.npoints = 2;
	p.blob = "BAD";
	p.blob_len = 3;
	p.step = 7;
	p.job = NULL;
	expect_fail(store_progress_commit(s, &p, &f), f, FAULT_INVALID,
		    "already stored");
	/* So does an unknown job, and an unknown model. */
	p.npoints = 1;
	j = make_job("ghost", "m", STORE_JOB_RUNNING, 1);
	p.job = &j;
	expect_fail(store_progress_commit(s, &p, &f), f, FAULT_INVALID,
		    "no job with id 'ghost'");
	p.job = NULL;
	p.model_id = "nope";
	expect_fail(store_progress_commit(s, &p, &f), f, FAULT_NO_MODEL,
		    "no model with id 'nope'");
	p.model_id = "m";
	models_get(s, &l);
	c = model_in(&l, "m");
	ck_assert_uint_eq(c->step, 6);
	ck_assert_mem_eq(c->blob, "CKPT6", 5);
	models_free(&l);

	/* A NaN loss is kept as "no number". */
	pts[0] = (store_loss_point){ 7, NAN, 400 };
	p.blob = NULL;
	p.last_loss = NAN;
	expect_ok(store_progress_commit(s, &p, &f), f);

	expect_ok(store_loss_query(s, "m", 0, 100, &v, &n, &f), f);
	ck_assert_uint_eq(n, 7);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(v[i].step, i + 1);
	ck_assert_double_eq(v[0].loss, 3.0);
	ck_assert_int_eq(v[0].time_ms, 100);
	ck_assert_double_eq(v[4].loss, 0.25);
	ck_assert(isnan(v[6].loss));
	free(v);
	expect_ok(store_loss_query(s, "m", 3, 2, &v, &n, &f), f);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(v[0].step, 4);
	ck_assert_uint_eq(v[1].step, 5);
	free(v);
	expect_ok(store_loss_query(s, "m", 7, 10, &v, &n, &f), f);
	ck_assert_uint_eq(n, 0);
	free(v);
	expect_ok(store_loss_query(s, "m", 0, 0, &v, &n, &f), f);
	ck_assert_uint_eq(n, 0);
	free(v);
	expect_ok(store_loss_query(s, "m", UINT64_MAX, SIZE_MAX, &v, &n, &f),
		  f);
	ck_assert_uint_eq(n, 0);
	free(v);
	expect_fail(store_loss_query(s, "nope", 0, 10, &v, &n, &f), f,
		    FAULT_NO_MODEL, "no model");

	/* PUT weights at step 4 drops rows 5..7; last_loss follows. */
	expect_ok(store_model_set_weights(s, "m", "W4", 2, 4, 500, &f), f);
	expect_ok(store_loss_query(s, "m", 0, 100, &v, &n, &f), f);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(v[3].step, 4);
	models_get(s, &l);
	ck_assert_double_eq(model_in(&l, "m")->last_loss, v[3].loss);
	models_free(&l);
	free(v);
	expect_ok(store_model_set_weights(s, "m", "W0", 2, 0, 600, &f), f);
	models_get(s, &l);
	ck_assert(isnan(model_in(&l, "m")->last_loss));
	models_free(&l);
	store_close(s);
}
END_TEST

START_TEST(test_jobs)
{
	store *s = open_kind(_i, "jobs.db");
	store_job j1 = make_job("j1", "m1", STORE_JOB_QUEUED, 10);
	store_job j2 = make_job("j2", "m2", STORE_JOB_QUEUED, 20);
	store_job j3 = make_job("j3", "m1", STORE_JOB_QUEUED, 30);
	store_job bad;
	job_list l = { .n = 0 };
	fault f;

	add_model(s, "m1", 1, "W", 1);
	add_model(s, "m2", 2, "W", 1);
	j1.options = "{\"steps\":5}";
	j1.steps_total = 5;
	j3.options = NULL;
	expect_ok(store_job_insert(s, &j1, &f), f);
	expect_ok(store_job_insert(s, &j2, &f), f);
	expect_ok(store_job_insert(s, &j3, &f), f);
	expect_fail(store_job_insert(s, &j1, &f), f, FAULT_INVALID,
		    "already exists");
	bad = make_job("j4", "nope", STORE_JOB_QUEUED, 40);
	expect_fail(store_job_insert(s, &bad, &f), f, FAULT_NO_MODEL,
		    "no model with id 'nope'");
	bad = make_job("j4", "m1", STORE_JOB_STATUS_COUNT_, 40);
	expect_fail(store_job_insert(s, &bad, &f), f, FAULT_INVALID,
		    "status");
	bad = make_job("j9", "m1", STORE_JOB_RUNNING, 40);
	expect_fail(store_job_update(s, &bad, &f), f, FAULT_INVALID,
		    "no job with id 'j9'");

	j1.status = STORE_JOB_RUNNING;
	j1.started_ms = 15;
	j1.steps_done = 2;
	j1.loss = 0.25;
	expect_ok(store_job_update(s, &j1, &f), f);
	j3.status = STORE_JOB_FAILED;
	j3.error = "diverged: loss is NaN";
	j3.finished_ms = 45;
	expect_ok(store_job_update(s, &j3, &f), f);

	jobs_get(s, "m1", &l);
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.v[0].j.id, "j1");
	ck_assert_str_eq(l.v[0].j.model_id, "m1");
	ck_assert_int_eq(l.v[0].j.status, STORE_JOB_RUNNING);
	ck_assert_int_eq(l.v[0].j.steps_total, 5);
	ck_assert_int_eq(l.v[0].j.steps_done, 2);
	ck_assert_double_eq(l.v[0].j.loss, 0.25);
	ck_assert_int_eq(l.v[0].has_error, 0);
	ck_assert_str_eq(l.v[0].options, "{\"steps\":5}");
	ck_assert_int_eq(l.v[0].j.created_ms, 10);
	ck_assert_int_eq(l.v[0].j.started_ms, 15);
	ck_assert_int_eq(l.v[0].j.finished_ms, 0);
	ck_assert_str_eq(l.v[1].j.id, "j3");
	ck_assert_int_eq(l.v[1].j.status, STORE_JOB_FAILED);
	ck_assert_int_eq(l.v[1].has_error, 1);
	ck_assert_str_eq(l.v[1].error, "diverged: loss is NaN");
	ck_assert_str_eq(l.v[1].options, "{}");
	ck_assert(isnan(l.v[1].j.loss));
	ck_assert_int_eq(l.v[1].j.started_ms, 0);
	ck_assert_int_eq(l.v[1].j.finished_ms, 45);

	jobs_get(s, NULL, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.v[0].j.id, "j1");
	ck_assert_str_eq(l.v[1].j.id, "j2");
	ck_assert_str_eq(l.v[2].j.id, "j3");
	l.n = 0;
	l.stop_after = 1;
	ck_assert_int_eq(store_jobs_each(s, NULL, collect_job, &l, &f), 7);
	ck_assert_int_eq(l.n, 1);
	l.n = 0;
	expect_fail(store_jobs_each(s, "nope", collect_job, &l, &f), f,
		    FAULT_NO_MODEL, "no model");
	ck_assert_int_eq(l.n, 0);

	for (int i = 0; i < STORE_JOB_STATUS_COUNT_; i++)
		ck_assert_ptr_nonnull(store_job_status_name(i));
	ck_assert_str_eq(store_job_status_name(STORE_JOB_INTERRUPTED),
			 "interrupted");
	ck_assert_ptr_null(store_job_status_name(STORE_JOB_STATUS_COUNT_));
	store_close(s);
}
END_TEST

START_TEST(test_delete_cascades)
{
	store *s = open_kind(_i, "cascade.db");
	float x[2] = { 1, 2 }, y[1] = { 3 };
	store_loss_point pt = { 1, 0.5, 1 };
	store_progress p;
	store_job j;
	job_list jl = { .n = 0 };
	int64_t id, total;
	store_batch_info *bi;
	store_loss_point *v;
	size_t n;
	fault f;
	char path[256];

	if (no_history(s, __func__)) {
		store_close(s);
		return;
	}
	for (int k = 0; k < 2; k++) {
		const char *mid = k ? "b" : "a";

		add_model(s, mid, k, "W", 1);
		expect_ok(store_batch_insert(s, mid, x, y, 1, 2, 1, 0, 5, &id,
					     &total, &f), f);
		memset(&p, 0, sizeof p);
		p.model_id = mid;
		p.points = &pt;
		p.npoints = 1;
		p.last_loss = 0.5;
		expect_ok(store_progress_commit(s, &p, &f), f);
		j = make_job(k ? "jb" : "ja", mid, STORE_JOB_QUEUED, k);
		expect_ok(store_job_insert(s, &j, &f), f);
	}
	expect_ok(store_model_delete(s, "a", &f), f);
	jobs_get(s, NULL, &jl);
	ck_assert_int_eq(jl.n, 1);
	ck_assert_str_eq(jl.v[0].j.id, "jb");
	expect_fail(store_batch_list(s, "a", &bi, &n, &f), f, FAULT_NO_MODEL,
		    "no model");
	expect_ok(store_batch_list(s, "b", &bi, &n, &f), f);
	ck_assert_uint_eq(n, 1);
	free(bi);
	expect_ok(store_loss_query(s, "b", 0, 10, &v, &n, &f), f);
	ck_assert_uint_eq(n, 1);
	free(v);
	/* A new "a" starts empty: no rows of the old one came back. */
	add_model(s, "a", 9, "W", 1);
	expect_ok(store_batch_list(s, "a", &bi, &n, &f), f);
	ck_assert_uint_eq(n, 0);
	free(bi);
	expect_ok(store_loss_query(s, "a", 0, 10, &v, &n, &f), f);
	ck_assert_uint_eq(n, 0);
	free(v);
	expect_ok(store_model_delete(s, "a", &f), f);
	expect_ok(store_integrity_check(s, &f), f);
	store_close(s);
	if (pg != NULL) {
		/* And in the database itself. */
		ck_assert_int_eq(pgtest_int(cur_db, "SELECT count(*) FROM "
					    "batches WHERE model_id = 'a'"), 0);
		ck_assert_int_eq(pgtest_int(cur_db, "SELECT count(*) FROM "
					    "jobs WHERE model_id = 'a'"), 0);
		ck_assert_int_eq(pgtest_int(cur_db, "SELECT count(*) FROM "
					    "batches"), 1);
	} else if (_i == 0) {
		/* And in the file itself. */
		tpath(path, sizeof path, "cascade.db");
		ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM batches "
					 "WHERE model_id = 'a'"), 0);
		ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM loss_chunk "
					 "WHERE model_id = 'a'"), 0);
		ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM jobs "
					 "WHERE model_id = 'a'"), 0);
		ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM batches"),
				 1);
	}
}
END_TEST

/* A callback may call back into the store (reads and writes). */
struct nested {
	store *s;
	int calls;
};

static int
nested_cb(void *arg, const store_model *m)
{
	struct nested *n = arg;
	store_loss_point *v;
	store_job j;
	size_t k;
	fault f;
	char id[STORE_ID_MAX];

	expect_ok(store_loss_query(n->s, m->id, 0, 10, &v, &k, &f), f);
	free(v);
	snprintf(id, sizeof id, "job-%.8s", m->id);
	j = make_job(id, m->id, STORE_JOB_QUEUED, 1);
	expect_ok(store_job_insert(n->s, &j, &f), f);
	n->calls++;
	return 0;
}

START_TEST(test_nested_callbacks)
{
	struct nested n = { open_kind(_i, "nested.db"), 0 };
	job_list jl = { .n = 0 };
	fault f;

	if (no_history(n.s, __func__)) {
		store_close(n.s);
		return;
	}
	add_model(n.s, "a", 1, "W", 1);
	add_model(n.s, "b", 2, "W", 1);
	expect_ok(store_models_each(n.s, nested_cb, &n, &f), f);
	ck_assert_int_eq(n.calls, 2);
	jobs_get(n.s, NULL, &jl);
	ck_assert_int_eq(jl.n, 2);
	store_close(n.s);
}
END_TEST

/* ---- crash recovery ---- */

START_TEST(test_recovery_on_open)
{
	char path[512];
	store *s;
	store_loss_point pts[5], *v;
	store_progress p;
	store_job j1 = make_job("j1", "m", STORE_JOB_RUNNING, 1);
	store_job j2 = make_job("j2", "m", STORE_JOB_QUEUED, 2);
	store_job j3 = make_job("j3", "m", STORE_JOB_SUCCEEDED, 3);
	job_list jl = { .n = 0 };
	model_list ml = { .n = 0 };
	int64_t before;
	size_t n;
	fault f;

	fresh_db(path, sizeof path, "recover.db");
	s = open_ok(path);
	if (no_history(s, __func__)) {
		store_close(s);
		return;
	}
	add_model(s, "m", 1, "W", 1);
	j3.finished_ms = 50;
	expect_ok(store_job_insert(s, &j1, &f), f);
	expect_ok(store_job_insert(s, &j2, &f), f);
	expect_ok(store_job_insert(s, &j3, &f), f);
	for (int i = 0; i < 5; i++)
		pts[i] = (store_loss_point){ (uint64_t)i + 1, 1.0 / (i + 1),
					     i };
	memset(&p, 0, sizeof p);
	p.model_id = "m";
	p.points = pts;
	p.npoints = 5;
	p.blob = "CK3";
	p.blob_len = 3;
	p.step = 3;
	p.last_loss = pts[4].loss;
	p.now_ms = 77;
	expect_ok(store_progress_commit(s, &p, &f), f);
	expect_ok(store_loss_query(s, "m", 0, 10, &v, &n, &f), f);
	ck_assert_uint_eq(n, 5);
	free(v);
	store_close(s);

	before = (int64_t)time(NULL) * 1000 - 1000;
	s = open_ok(path);
	expect_ok(store_loss_query(s, "m", 0, 10, &v, &n, &f), f);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(v[2].step, 3);
	free(v);
	jobs_get(s, "m", &jl);
	ck_assert_int_eq(jl.n, 3);
	ck_assert_int_eq(jl.v[0].j.status, STORE_JOB_INTERRUPTED);
	ck_assert_int_ge(jl.v[0].j.finished_ms, before);
	ck_assert_int_eq(jl.v[1].j.status, STORE_JOB_INTERRUPTED);
	ck_assert_int_ge(jl.v[1].j.finished_ms, before);
	ck_assert_int_eq(jl.v[2].j.status, STORE_JOB_SUCCEEDED);
	ck_assert_int_eq(jl.v[2].j.finished_ms, 50);
	/* last_loss is the loss at the checkpoint; updated_ms is kept */
	models_get(s, &ml);
	/* (history keeps losses as float32, as the trainer makes them) */
	ck_assert_double_eq(model_in(&ml, "m")->last_loss,
			    (float)pts[2].loss);
	ck_assert_int_eq(model_in(&ml, "m")->updated_ms, 77);
	models_free(&ml);
	expect_ok(store_integrity_check(s, &f), f);
	store_close(s);
}
END_TEST

/* Revert: history back to the checkpoint (both series), last_loss from
 * it, updated_ms and the job row set, all in one transaction. */
START_TEST(test_revert)
{
	store *s = open_kind(_i, "revert.db");
	store_loss_point pts[5], *v;
	store_val_point vp[2] = { { 2, 1, 0.25, 1 }, { 5, 2, 0.75, 2 } };
	store_job j = make_job("j", "m", STORE_JOB_RUNNING, 5);
	store_loss_window *w;
	store_progress p;
	job_list jl = { .n = 0 };
	model_list ml = { .n = 0 };
	double last = 0;
	size_t n;
	fault f;

	if (no_history(s, __func__)) {
		store_close(s);
		return;
	}
	add_model(s, "m", 1, "W", 1);
	expect_ok(store_job_insert(s, &j, &f), f);
	for (int i = 0; i < 5; i++)
		pts[i] = (store_loss_point){ (uint64_t)i + 1, 10.0 - i, i };
	memset(&p, 0, sizeof p);
	p.model_id = "m";
	p.points = pts;
	p.npoints = 3;
	p.vpoints = vp;
	p.nvpoints = 1;
	p.blob = "CK3";
	p.blob_len = 3;
	p.step = 3;
	p.last_loss = pts[2].loss;
	p.now_ms = 10;
	expect_ok(store_progress_commit(s, &p, &f), f);
	p.points = &pts[3];
	p.npoints = 2;
	p.vpoints = &vp[1];
	p.blob = NULL;
	p.last_loss = pts[4].loss;
	p.now_ms = 20;
	expect_ok(store_progress_commit(s, &p, &f), f);

	/* An unknown job fails the whole revert: nothing is trimmed. */
	j = make_job("ghost", "m", STORE_JOB_FAILED, 5);
	expect_fail(store_model_revert(s, "m", &j, 30, &last, &f), f,
		    FAULT_INVALID, "no job with id 'ghost'");
	expect_ok(store_loss_query(s, "m", 0, 10, &v, &n, &f), f);
	ck_assert_uint_eq(n, 5);
	free(v);
	expect_fail(store_model_revert(s, "nope", NULL, 30, &last, &f), f,
		    FAULT_NO_MODEL, "no model with id 'nope'");

	j = make_job("j", "m", STORE_JOB_FAILED, 5);
	j.finished_ms = 40;
	expect_ok(store_model_revert(s, "m", &j, 40, &last, &f), f);
	ck_assert_double_eq(last, pts[2].loss);
	expect_ok(store_loss_query(s, "m", 0, 10, &v, &n, &f), f);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(v[2].step, 3);
	free(v);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1, 0, 10,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 1);
	ck_assert(w[0].step == 2 && w[0].accuracy == 0.25);
	free(w);
	models_get(s, &ml);
	/* (history keeps losses as float32, as the trainer makes them) */
	ck_assert_double_eq(model_in(&ml, "m")->last_loss,
			    (float)pts[2].loss);
	ck_assert_int_eq(model_in(&ml, "m")->updated_ms, 40);
	ck_assert_uint_eq(model_in(&ml, "m")->step, 3);
	models_free(&ml);
	jobs_get(s, "m", &jl);
	ck_assert_int_eq(jl.n, 1);
	ck_assert_int_eq(jl.v[0].j.status, STORE_JOB_FAILED);
	ck_assert_int_eq(jl.v[0].j.finished_ms, 40);

	/* At step 0 there is no loss to go back to: NaN, no job given. */
	expect_ok(store_model_set_weights(s, "m", "W0", 2, 0, 50, &f), f);
	last = 0;
	expect_ok(store_model_revert(s, "m", NULL, 60, &last, &f), f);
	ck_assert(isnan(last));
	store_close(s);
}
END_TEST

#define CRASH_ROUNDS 12
#define CRASH_NIN 8
#define CRASH_CKPT_EVERY 3

/* A checkpoint blob that names its step and has a step-dependent length,
 * so that a torn or mismatched checkpoint shows. */
static size_t
crash_blob(uint64_t step, unsigned char *b, size_t cap)
{
	size_t len = 16 + (size_t)(step * 37 % 3000);

	ck_assert_uint_le(len, cap);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(step >> (8 * i));
	for (size_t i = 8; i < len; i++)
		b[i] = (unsigned char)(step + i);
	return len;
}

static int
blob_matches(uint64_t step, const unsigned char *b, size_t len)
{
	unsigned char want[4096];

	return len == crash_blob(step, want, sizeof want) &&
	       memcmp(b, want, len) == 0;
}

static int
note_step(void *arg, const store_model *m)
{
	*(uint64_t *)arg = m->step;
	return 0;
}

/* Writes one acknowledgement line to fd (atomic: < PIPE_BUF). */
static void
ack(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
ack(int fd, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0 && write(fd, buf, (size_t)n) != n)
		_exit(5);
}

/* The child: trains "m" for ever (until SIGKILL), acknowledging each
 * write on fd only after the call returned. */
static void
crash_child(const char *path, int fd, int round)
{
	float x[500 * CRASH_NIN], y[500];
	unsigned char blob[4096];
	store_loss_point pt;
	store_progress p;
	store_job j;
	uint64_t step = 0;
	int64_t id, total;
	fault f;
	store *s;
	char jid[STORE_ID_MAX];

	fault_clear(&f);
	alarm(20); /* never outlive a parent that died */
	if ((s = store_open(path, &f)) == NULL)
		goto fail;
	if (store_models_each(s, note_step, &step, &f) != 0)
		goto fail;
	snprintf(jid, sizeof jid, "job-%d", round);
	j = make_job(jid, "m", STORE_JOB_RUNNING, 1);
	j.started_ms = 1;
	if (store_job_insert(s, &j, &f) != 0)
		goto fail;
	ack(fd, "j %s\n", jid);
	for (int i = 0; i < (int)(sizeof x / sizeof x[0]); i++)
		x[i] = (float)i;
	for (int i = 0; i < (int)(sizeof y / sizeof y[0]); i++)
		y[i] = (float)-i;
	for (int i = 1; i < 1000000; i++) {
		size_t rows = i % 10 == 0 ? 500 : 1 + (size_t)i % 7;

		if (store_batch_insert(s, "m", x, y, rows, CRASH_NIN, 1, 0, i,
				       &id, &total, &f) != 0)
			goto fail;
		ack(fd, "b %" PRId64 " %zu\n", id, rows);
		step++;
		pt = (store_loss_point){ step, 1.0 / (double)step, i };
		memset(&p, 0, sizeof p);
		p.model_id = "m";
		p.points = &pt;
		p.npoints = 1;
		p.last_loss = pt.loss;
		p.now_ms = i;
		if (step % CRASH_CKPT_EVERY == 0) {
			p.blob = blob;
			p.blob_len = crash_blob(step, blob, sizeof blob);
			p.step = step;
		}
		j.steps_done = i;
		j.loss = pt.loss;
		p.job = &j;
		if (store_progress_commit(s, &p, &f) != 0)
			goto fail;
		if (p.blob != NULL)
			ack(fd, "c %" PRIu64 "\n", step);
	}
	_exit(0);
fail:
	ack(fd, "e %s\n", f.msg);
	_exit(3);
}

typedef struct crash_acks {
	int64_t *batches; /* acknowledged batch ids */
	size_t nbatches, cap;
	uint64_t ckpt;    /* highest acknowledged checkpoint step */
	char job[STORE_ID_MAX];
	char error[256];
} crash_acks;

/* Reads the first line the child writes into line (cap bytes). */
static void
read_line(int fd, char *line, size_t cap)
{
	size_t len = 0;
	char ch;

	while (len + 1 < cap && read(fd, &ch, 1) == 1) {
		line[len++] = ch;
		if (ch == '\n')
			break;
	}
	line[len] = '\0';
}

/* Parses prefix (lines already read) and everything left on fd. */
static void
read_acks(int fd, const char *prefix, crash_acks *a)
{
	char *buf, *line, *save = NULL;
	size_t len = strlen(prefix), cap = len + 65536;
	ssize_t r;

	buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, prefix, len);
	for (;;) {
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == 'b') {
			if (a->nbatches == a->cap) {
				a->cap = a->cap ? 2 * a->cap : 256;
				a->batches = realloc(a->batches,
						     a->cap * sizeof(int64_t));
				ck_assert_ptr_nonnull(a->batches);
			}
			a->batches[a->nbatches++] = strtoll(line + 2, NULL, 10);
		} else if (line[0] == 'c') {
			uint64_t c = strtoull(line + 2, NULL, 10);

			if (c > a->ckpt)
				a->ckpt = c;
		} else if (line[0] == 'j') {
			snprintf(a->job, sizeof a->job, "%s", line + 2);
		} else if (line[0] == 'e') {
			snprintf(a->error, sizeof a->error, "%s", line + 2);
		}
	}
	free(buf);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* After a kill: the file is sound, every acknowledged write is there and
 * history is exactly 1..step. */
static void
crash_verify(const char *path, const crash_acks *a, int round)
{
	store *s = open_ok(path);
	model_list ml = { .n = 0 };
	job_list jl = { .n = 0 };
	const model_copy *m;
	store_batch_info *bi;
	store_loss_point *v;
	int64_t sum = 0;
	size_t n, nv;
	fault f;

	expect_ok(store_integrity_check(s, &f), f);
	models_get(s, &ml);
	ck_assert_int_eq(ml.n, 1);
	m = model_in(&ml, "m");
	ck_assert_msg(m->step >= a->ckpt, "round %d: step %" PRIu64
		      " < acknowledged checkpoint %" PRIu64, round, m->step,
		      a->ckpt);
	ck_assert_msg(m->step == 0 ? m->blob_len == 1
				   : blob_matches(m->step, m->blob,
						  m->blob_len),
		      "round %d: the blob does not belong to step %" PRIu64,
		      round, m->step);

	expect_ok(store_batch_list(s, "m", &bi, &n, &f), f);
	for (size_t i = 0; i < n; i++)
		sum += bi[i].samples;
	ck_assert_int_eq(sum, m->samples);
	for (size_t i = 0; i < a->nbatches; i++) {
		int64_t id = a->batches[i];

		ck_assert_msg(bsearch(&id, bi, n, sizeof *bi, cmp_i64) != NULL,
			      "round %d: acknowledged batch %" PRId64
			      " is missing", round, id);
	}
	free(bi);

	expect_ok(store_loss_query(s, "m", 0, SIZE_MAX, &v, &nv, &f), f);
	ck_assert_msg(nv == m->step, "round %d: %zu loss rows for step %"
		      PRIu64, round, nv, m->step);
	for (size_t i = 0; i < nv; i++) {
		ck_assert_uint_eq(v[i].step, i + 1);
		ck_assert_double_eq(v[i].loss, (float)(1.0 / (i + 1)));
	}
	free(v);

	jobs_get(s, NULL, &jl);
	for (int i = 0; i < jl.n; i++) {
		ck_assert_msg(jl.v[i].j.status == STORE_JOB_INTERRUPTED,
			      "round %d: job %s is %s", round, jl.v[i].j.id,
			      store_job_status_name(jl.v[i].j.status));
		ck_assert_int_gt(jl.v[i].j.finished_ms, 0);
	}
	if (a->job[0] != '\0') {
		int found = 0;

		for (int i = 0; i < jl.n; i++)
			found |= strcmp(jl.v[i].j.id, a->job) == 0;
		ck_assert_msg(found, "round %d: job %s is missing", round,
			      a->job);
	}
	models_free(&ml);
	store_close(s);
}

START_TEST(test_crash_sigkill)
{
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	char path[512];
	size_t acked = 0;
	int progressed = 0;
	store *s;

	seed |= 1;
	fprintf(stderr, "check_store: crash test seed %" PRIu64 "\n", seed);
	fresh_db(path, sizeof path, "crash.db");
	s = open_ok(path);
	if (no_history(s, __func__)) {
		store_close(s);
		return;
	}
	add_model(s, "m", 1, "0", 1);
	store_close(s);

	for (int round = 0; round < CRASH_ROUNDS; round++) {
		struct timespec ts;
		crash_acks a;
		long delay = 5 + (long)(rnd(&seed) % 96);
		char first[256];
		int fds[2], status;
		pid_t pid;

		memset(&a, 0, sizeof a);
		ck_assert_int_eq(pipe(fds), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(path, fds[1], round);
			_exit(4);
		}
		close(fds[1]);
		/* Odd rounds start the clock once the child is running, so
		 * that some kills surely land mid-run however slow the host;
		 * even rounds may kill it while it opens the store. */
		first[0] = '\0';
		if (round % 2 == 1)
			read_line(fds[0], first, sizeof first);
		ts.tv_sec = 0;
		ts.tv_nsec = delay * 1000000L;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		read_acks(fds[0], first, &a);
		close(fds[0]);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			      "round %d: the child ended by itself: %s", round,
			      a.error);
		crash_verify(path, &a, round);
		acked += a.nbatches;
		progressed += a.nbatches > 0;
		free(a.batches);
	}
	fprintf(stderr, "check_store: %d crash rounds, %d with writes "
		"acknowledged, %zu acknowledged batches verified\n",
		CRASH_ROUNDS, progressed, acked);
	/* Otherwise the kills all came before any work and proved nothing. */
	ck_assert_int_gt(progressed, 0);
}
END_TEST

/* Caps every connection opened while registered at 64 pages, so that
 * writes past that fail with SQLITE_FULL as on a full disk. */
static int
cap_pages(sqlite3 *db, const char **err, const void *api)
{
	(void)err;
	(void)api;
	return sqlite3_exec(db, "PRAGMA max_page_count = 64", NULL, NULL,
			    NULL);
}

/* A full disk fails the write with a message saying so, rolls it back,
 * and leaves the store usable. */
START_TEST(test_disk_full)
{
	static float x[1024 * 8], y[1024];
	char path[256];
	int64_t id, total, ok = 0;
	store_batch_info *bi;
	store *s;
	size_t n;
	fault f;

	tpath(path, sizeof path, "full.db");
	unlink(path);
	s = open_ok(path);
	add_model(s, "m", 1, "W", 1);
	store_close(s);

	ck_assert_int_eq(sqlite3_auto_extension((void (*)(void))cap_pages),
			 SQLITE_OK);
	s = open_ok(path);
	sqlite3_cancel_auto_extension((void (*)(void))cap_pages);
	for (int i = 0; i < 100; i++) {
		fault_clear(&f);
		if (store_batch_insert(s, "m", x, y, 1024, 8, 1, 0, i, &id,
				       &total, &f) != 0)
			break;
		ok++;
	}
	ck_assert_int_gt(ok, 0);
	ck_assert_int_lt(ok, 100);
	ck_assert_int_eq(f.code, FAULT_FULL);
	ck_assert_msg(strstr(f.msg, "disk is full") != NULL,
		      "message: %s", f.msg);
	/* Rolled back: the rows counted are the rows stored. */
	expect_ok(store_batch_list(s, "m", &bi, &n, &f), f);
	ck_assert_int_eq((int64_t)n, ok);
	free(bi);
	expect_ok(store_batches_delete(s, "m", NULL, &f), f);
	expect_ok(store_batch_insert(s, "m", x, y, 1024, 8, 1, 0, 0, &id,
				     &total, &f), f);
	ck_assert_int_eq(total, 1024);
	expect_ok(store_integrity_check(s, &f), f);
	store_close(s);
}
END_TEST

/* ---- concurrency ---- */

struct reader {
	store *s;
	atomic_int *stop;
	long iterations;
	char error[FAULT_MSG_MAX]; /* empty while all is well */
};

static int
count_model(void *arg, const store_model *m)
{
	(void)m;
	(*(int *)arg)++;
	return 0;
}

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	store_loss_point *v;
	store_batch_info *bi;
	size_t n;
	fault f;

	fault_clear(&f);
	/* At least one round, even if the writer is done before we start. */
	do {
		int models = 0;

		if (store_loss_query(r->s, "m", 0, 100000, &v, &n, &f) != 0)
			break;
		/* Every snapshot holds a contiguous history. */
		for (size_t i = 0; i < n; i++) {
			if (v[i].step != i + 1) {
				fault_set(&f, FAULT_INTERNAL, "gap at %zu", i);
				free(v);
				goto out;
			}
		}
		free(v);
		if (store_batch_list(r->s, "m", &bi, &n, &f) != 0)
			break;
		free(bi);
		if (store_models_each(r->s, count_model, &models, &f) != 0)
			break;
		r->iterations++;
	} while (!atomic_load(r->stop));
out:
	snprintf(r->error, sizeof r->error, "%s", f.msg);
	return NULL;
}

/* Readers run beside the writer and never see an error (no SQLITE_BUSY). */
START_TEST(test_readers_beside_writer)
{
	enum { NREADERS = 6, NWRITES = 300 };
	struct reader r[NREADERS];
	pthread_t t[NREADERS];
	atomic_int stop = 0;
	store *s = open_kind(_i, "threads.db");
	unsigned char blob[4096];
	float x[4] = { 1, 2, 3, 4 }, y[2] = { 5, 6 };
	store_loss_point pt, *v;
	store_progress p;
	int64_t id, total;
	size_t n;
	fault f;

	if (no_history(s, __func__)) {
		store_close(s);
		return;
	}
	add_model(s, "m", 1, "W", 1);
	for (int i = 0; i < NREADERS; i++) {
		memset(&r[i], 0, sizeof r[i]);
		r[i].s = s;
		r[i].stop = &stop;
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader_main,
						&r[i]), 0);
	}
	for (int i = 1; i <= NWRITES; i++) {
		pt = (store_loss_point){ (uint64_t)i, 1.0 / i, i };
		memset(&p, 0, sizeof p);
		p.model_id = "m";
		p.points = &pt;
		p.npoints = 1;
		p.last_loss = pt.loss;
		if (i % 10 == 0) {
			p.blob = blob;
			p.blob_len = crash_blob((uint64_t)i, blob,
						sizeof blob);
			p.step = (uint64_t)i;
		}
		expect_ok(store_progress_commit(s, &p, &f), f);
		if (i % 3 == 0)
			expect_ok(store_batch_insert(s, "m", x, y, 2, 2, 1, 0,
						     i, &id, &total, &f), f);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < NREADERS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_msg(r[i].error[0] == '\0', "reader %d: %s", i,
			      r[i].error);
		ck_assert_int_gt(r[i].iterations, 0);
	}
	expect_ok(store_loss_query(s, "m", 0, SIZE_MAX, &v, &n, &f), f);
	ck_assert_uint_eq(n, NWRITES);
	free(v);
	store_close(s);
}
END_TEST

struct writer {
	store *s;
	const char *model;
	int ok;
	char error[FAULT_MSG_MAX];
	const char *path; /* foreign_writer_main: the file it writes */
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	float x[2] = { 1, 2 }, y[1] = { 3 };
	store_loss_point pt;
	store_progress p;
	int64_t id, total;
	fault f;

	fault_clear(&f);
	for (int i = 1; i <= 100; i++) {
		if (store_batch_insert(w->s, w->model, x, y, 1, 2, 1, 0, i, &id,
				       &total, &f) != 0)
			goto out;
		pt = (store_loss_point){ (uint64_t)i, 1.0, i };
		memset(&p, 0, sizeof p);
		p.model_id = w->model;
		p.points = &pt;
		p.npoints = 1;
		p.last_loss = 1.0;
		p.blob = "W";
		p.blob_len = 1;
		p.step = (uint64_t)i;
		if (store_progress_commit(w->s, &p, &f) != 0)
			goto out;
		w->ok++;
	}
out:
	snprintf(w->error, sizeof w->error, "%s", f.msg);
	return NULL;
}

/* Another process's writes to the file (a second connection, as the
 * sqlite3 shell or a backup tool would make them): 100 short write
 * transactions of its own. */
static void *
foreign_writer_main(void *arg)
{
	struct writer *w = arg;
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(w->path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		snprintf(w->error, sizeof w->error, "open: %s",
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 30000);
	for (int i = 1; i <= 100; i++) {
		char *err = NULL;

		if (sqlite3_exec(db, "BEGIN IMMEDIATE; "
		    "INSERT INTO foreign_rows (x) VALUES (1); COMMIT", NULL,
		    NULL, &err) != SQLITE_OK) {
			snprintf(w->error, sizeof w->error, "%s", err);
			sqlite3_free(err);
			break;
		}
		w->ok++;
	}
	sqlite3_close(db);
	return NULL;
}

/* One store per file: a second store_open of a file that a store holds
 * is refused, naming the file's lock and our pid (one daemon per database
 * file). Another process's connection may still write the file, and the
 * store's writer waits for it instead of failing with SQLITE_BUSY. */
START_TEST(test_two_writers_one_file)
{
	char path[256], pidtext[32];
	struct writer w[2];
	pthread_t t[2];
	store *a, *b;
	model_list l = { .n = 0 };
	fault f;
	sqlite3 *db;

	tpath(path, sizeof path, "two.db");
	unlink(path);
	a = open_ok(path);
	add_model(a, "m1", 1, "W", 1);
	b = store_open(path, &f);
	ck_assert_msg(b == NULL, "a second store opened %s", path);
	snprintf(pidtext, sizeof pidtext, "pid %ld", (long)getpid());
	ck_assert_msg(strstr(f.msg, "in use by another mlpd") != NULL &&
	    strstr(f.msg, pidtext) != NULL && strstr(f.msg, path) != NULL,
	    "message: %s", f.msg);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE foreign_rows (x)",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	w[0] = (struct writer){ a, "m1", 0, "", NULL };
	w[1] = (struct writer){ NULL, NULL, 0, "", path };
	ck_assert_int_eq(pthread_create(&t[0], NULL, writer_main, &w[0]), 0);
	ck_assert_int_eq(pthread_create(&t[1], NULL, foreign_writer_main,
	    &w[1]), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_msg(w[i].ok == 100, "writer %d: %s", i, w[i].error);
	}
	models_get(a, &l);
	ck_assert_int_eq(model_in(&l, "m1")->samples, 100);
	ck_assert_uint_eq(model_in(&l, "m1")->step, 100);
	models_free(&l);
	expect_ok(store_integrity_check(a, &f), f);
	store_close(a);
	/* closed, the file is free for the next store */
	b = open_ok(path);
	store_close(b);
}
END_TEST

/* The DDL of schema version 1, as the binary embeds it. */
extern const char store_schema_sql[];

/* A version-1 file (the schema of the first release, with a model and
 * its loss history) opens, migrates to the current version, gains the
 * validation series and keeps every row. */
START_TEST(test_schema_migrate_1_to_2)
{
	char path[256];
	model_list l = { .n = 0 };
	store_loss_point *v = NULL;
	store_loss_window *w = NULL;
	store_val_point vp[2] = { { 2, 0.25, 0.5, 20 }, { 3, 0.125, NAN, 21 } };
	store_progress p;
	size_t n;
	store *s;
	fault f;

	ck_assert_int_ge(store_schema_version(), 2);
	tpath(path, sizeof path, "v1.db");
	unlink(path);
	sql_exec(path, store_schema_sql);
	sql_exec(path, "PRAGMA user_version = 1;"
		 "INSERT INTO models (id, name, created_ms, updated_ms, step, "
		 "samples, last_loss, weights) VALUES ('m', 'old', 1, 2, 3, 0, "
		 "0.5, x'5757');"
		 "INSERT INTO loss VALUES ('m', 1, 0.875, 10), "
		 "('m', 2, 0.75, 11), ('m', 3, 0.5, 12);");
	ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sqlite_schema "
				 "WHERE name = 'validation'"), 0);
	ck_assert_int_eq(sql_int(path, "PRAGMA page_size"), 4096);

	s = open_ok(path);
	ck_assert_int_eq(sql_int(path, "PRAGMA user_version"),
			 store_schema_version());
	/* an older file keeps its pages (and works) */
	ck_assert_int_eq(sql_int(path, "PRAGMA page_size"), 4096);
	/* the validation table of step 2 lives on in loss_chunk (step 6) */
	ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sqlite_schema "
				 "WHERE type = 'table' AND name = "
				 "'validation'"), 0);
	models_get(s, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.v[0].name, "old");
	ck_assert_uint_eq(l.v[0].step, 3);
	ck_assert(l.v[0].last_loss == 0.5);
	ck_assert_int_eq(l.v[0].blob_len, 2);
	models_free(&l);
	expect_ok(store_loss_query(s, "m", 0, 10, &v, &n, &f), f);
	ck_assert_int_eq(n, 3);
	ck_assert(v[0].loss == 0.875 && v[2].loss == 0.5);
	ck_assert_int_eq(v[2].time_ms, 12);
	free(v);
	/* windows of 2 steps over the old rows: (0, 2] and (2, 4] */
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 2, 0, 10, &w,
				     &n, &f), f);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(w[0].step, 2);
	ck_assert(w[0].loss == 0.8125 && w[0].min == 0.75 &&
		  w[0].max == 0.875);
	ck_assert_int_eq(w[0].time_ms, 11);
	ck_assert(isnan(w[0].accuracy));
	ck_assert_uint_eq(w[1].step, 3);
	ck_assert(w[1].loss == 0.5 && w[1].min == 0.5 && w[1].max == 0.5);
	free(w);
	/* the new table works */
	memset(&p, 0, sizeof p);
	p.model_id = "m";
	p.last_loss = 0.5;
	p.now_ms = 30;
	p.vpoints = vp;
	p.nvpoints = 2;
	expect_ok(store_progress_commit(s, &p, &f), f);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1, 0, 10,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 2);
	ck_assert(w[0].step == 2 && w[0].loss == 0.25 && w[0].accuracy == 0.5);
	ck_assert(w[1].step == 3 && isnan(w[1].accuracy));
	free(w);
	expect_ok(store_integrity_check(s, &f), f);
	store_close(s);
	/* and stays at the current version */
	s = open_ok(path);
	ck_assert_int_eq(sql_int(path, "PRAGMA user_version"),
			 store_schema_version());
	store_close(s);
}
END_TEST

/* A model's row count leaves the models row (step 8): a database from
 * before it keeps its count and times, a push adds to that count without
 * writing the models row (which holds the weights), the model's
 * updated_ms is its last write of either kind, and deleting the rows
 * zeroes the count and keeps that time. */
START_TEST(test_schema_migrate_row_count)
{
	const float x[2] = { 1, 2 }, y[1] = { 3 };
	char path[256];
	model_list l = { .n = 0 };
	store_progress p;
	int64_t id, total;
	store *s;
	fault f;

	ck_assert_int_ge(store_schema_version(), 8);
	tpath(path, sizeof path, "rowcount.db");
	unlink(path);
	sql_exec(path, store_schema_sql);
	sql_exec(path, "PRAGMA user_version = 1;"
		 "INSERT INTO models (id, name, created_ms, updated_ms, step, "
		 "samples, last_loss, weights) VALUES ('m', 'old', 1, 20, 0, 7, "
		 "NULL, x'5757');");
	s = open_ok(path);
	models_get(s, &l);
	ck_assert_int_eq(model_in(&l, "m")->samples, 7);
	ck_assert_int_eq(model_in(&l, "m")->updated_ms, 20);
	models_free(&l);

	expect_ok(store_batch_insert(s, "m", x, y, 1, 2, 1, 0, 50, &id, &total,
				     &f), f);
	ck_assert_int_eq(total, 8);
	/* the cap counts the old rows too */
	expect_fail(store_batch_insert(s, "m", x, y, 1, 2, 1, 8, 60, &id,
				       &total, &f), f, FAULT_LIMIT,
		    "holds 8 rows");
	models_get(s, &l);
	ck_assert_int_eq(model_in(&l, "m")->samples, 8);
	ck_assert_int_eq(model_in(&l, "m")->updated_ms, 50);
	models_free(&l);
	/* the push left the models row (and its weights) alone */
	ck_assert_int_eq(sql_int(path, "SELECT samples * 1000 + updated_ms "
				 "FROM models"), 7020);

	/* a later progress write is the newer time */
	memset(&p, 0, sizeof p);
	p.model_id = "m";
	p.last_loss = 0.5;
	p.now_ms = 70;
	expect_ok(store_progress_commit(s, &p, &f), f);
	models_get(s, &l);
	ck_assert_int_eq(model_in(&l, "m")->updated_ms, 70);
	models_free(&l);

	expect_ok(store_batches_delete(s, "m", NULL, &f), f);
	models_get(s, &l);
	ck_assert_int_eq(model_in(&l, "m")->samples, 0);
	ck_assert_int_eq(model_in(&l, "m")->updated_ms, 70);
	models_free(&l);
	expect_ok(store_batch_insert(s, "m", x, y, 1, 2, 1, 1, 80, &id, &total,
				     &f), f);
	ck_assert_int_eq(total, 1);
	models_get(s, &l);
	ck_assert_int_eq(model_in(&l, "m")->samples, 1);
	ck_assert_int_eq(model_in(&l, "m")->updated_ms, 80);
	models_free(&l);

	/* the count goes with its model */
	expect_ok(store_model_delete(s, "m", &f), f);
	ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM model_rows"), 0);
	expect_ok(store_integrity_check(s, &f), f);
	store_close(s);
}
END_TEST

/* store_loss_windows: since counts steps and keeps the window that holds
 * step since + 1 whole; limit counts windows; empty windows are skipped;
 * bad arguments are refused. Validation points go with the model. */
START_TEST(test_loss_windows)
{
	store *s = open_kind(_i, "windows.db");
	store_loss_point pts[20];
	store_val_point vp = { 12, 1.5, 1.0, 5 };
	store_loss_window *w;
	store_progress p;
	size_t n;
	fault f;

	if (no_history(s, __func__)) {
		store_close(s);
		return;
	}
	add_model(s, "m", 1, "W", 1);
	/* steps 1..10 and 31..40: a gap of two 10-step windows */
	for (int i = 0; i < 20; i++)
		pts[i] = (store_loss_point){
			(uint64_t)(i < 10 ? i + 1 : i + 21), (double)(i % 7),
			100 + i };
	memset(&p, 0, sizeof p);
	p.model_id = "m";
	p.points = pts;
	p.npoints = 20;
	p.last_loss = 1;
	p.now_ms = 1;
	p.vpoints = &vp;
	p.nvpoints = 1;
	expect_ok(store_progress_commit(s, &p, &f), f);

	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 10, 0, 100,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 2);
	ck_assert(w[0].step == 10 && w[1].step == 40);
	/* losses 0..6, 0..2 (mean 2.4), then 3..6, 0..5 (mean 3.3) */
	ck_assert(fabs(w[0].loss - 2.4) < 1e-12);
	ck_assert(fabs(w[1].loss - 3.3) < 1e-12);
	ck_assert(w[0].min == 0 && w[0].max == 6);
	ck_assert_int_eq(w[1].time_ms, 119);
	free(w);
	/* since = 35: the window (30, 40] comes whole */
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 10, 35, 100,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 1);
	ck_assert(w[0].step == 40 && w[0].min == 0 && w[0].max == 6);
	free(w);
	/* since = 10: that window ends at 10 and is left out */
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 10, 10, 1,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(w[0].step, 40);
	free(w);
	/* limit counts windows */
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 3, 0, 2,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 2);
	ck_assert(w[0].step == 3 && w[1].step == 6);
	free(w);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 1, 39,
				     SIZE_MAX, &w, &n, &f), f);
	ck_assert_int_eq(n, 1);
	ck_assert(w[0].step == 40 && w[0].loss == w[0].min);
	free(w);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION,
				     UINT64_MAX / 2, 0, 10, &w, &n, &f), f);
	ck_assert_int_eq(n, 1);
	ck_assert(w[0].step == 12 && w[0].accuracy == 1.0);
	free(w);

	expect_fail(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 0, 0, 1,
				       &w, &n, &f), f, FAULT_INVALID,
		    "out of range");
	expect_fail(store_loss_windows(s, "x", STORE_SERIES_TRAIN, 1, 0, 1,
				       &w, &n, &f), f, FAULT_NO_MODEL,
		    "no model");
	vp.accuracy = 1.5;
	expect_fail(store_progress_commit(s, &p, &f), f, FAULT_INVALID,
		    "accuracy");
	vp.accuracy = NAN;
	vp.step = 0;
	expect_fail(store_progress_commit(s, &p, &f), f, FAULT_INVALID,
		    "out of range");
	/* deleting the model takes its validation points along */
	expect_ok(store_model_delete(s, "m", &f), f);
	add_model(s, "m", 2, "W", 1);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1, 0, 10,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 0);
	free(w);
	store_close(s);
}
END_TEST

/* PUT weights at step k drops validation points past k, with the loss
 * rows past k, in the same transaction: history holds steps 1..k. */
START_TEST(test_set_weights_trims_validation)
{
	store *s = open_kind(_i, "setweights.db");
	store_loss_point pts[6];
	store_val_point vp[3] = { { 2, 1, 0.5, 1 }, { 4, 2, NAN, 2 },
				  { 6, 3, 1.0, 3 } };
	store_loss_window *w;
	store_progress p;
	size_t n;
	fault f;

	if (no_history(s, __func__)) {
		store_close(s);
		return;
	}
	add_model(s, "m", 1, "W", 1);
	for (int i = 0; i < 6; i++)
		pts[i] = (store_loss_point){ (uint64_t)i + 1, 1.0 + i, 10 + i };
	memset(&p, 0, sizeof p);
	p.model_id = "m";
	p.points = pts;
	p.npoints = 6;
	p.vpoints = vp;
	p.nvpoints = 3;
	p.blob = "W6";
	p.blob_len = 2;
	p.step = 6;
	p.last_loss = 6;
	p.now_ms = 20;
	expect_ok(store_progress_commit(s, &p, &f), f);

	expect_ok(store_model_set_weights(s, "m", "W3", 2, 3, 30, &f), f);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 1, 0, 10,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(w[2].step, 3);
	free(w);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1, 0, 10,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(w[0].step, 2);
	ck_assert(w[0].accuracy == 0.5);
	free(w);

	/* A failed PUT (no such model) trims nothing of another model. */
	expect_fail(store_model_set_weights(s, "zzz", "W", 1, 0, 40, &f), f,
		    FAULT_NO_MODEL, "no model");
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1, 0, 10,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 1);
	free(w);
	/* Back to step 0: no history of either kind is left. */
	expect_ok(store_model_set_weights(s, "m", "W0", 2, 0, 50, &f), f);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1, 0, 10,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 0);
	free(w);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 1, 0, 10,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 0);
	free(w);
	store_close(s);
}
END_TEST

/* Recovery drops validation points past the checkpoint, like loss rows. */
START_TEST(test_validation_recovery)
{
	char path[512];
	store_val_point vp[3] = { { 2, 1, NAN, 1 }, { 4, 2, NAN, 2 },
				  { 6, 3, NAN, 3 } };
	store_progress p;
	store_loss_window *w;
	size_t n;
	store *s;
	fault f;

	fresh_db(path, sizeof path, "vrecover.db");
	s = open_ok(path);
	if (no_history(s, __func__)) {
		store_close(s);
		return;
	}
	add_model(s, "m", 1, "W", 1);
	memset(&p, 0, sizeof p);
	p.model_id = "m";
	p.blob = "CK4";
	p.blob_len = 3;
	p.step = 4;
	p.last_loss = 1;
	p.now_ms = 1;
	p.vpoints = vp;
	p.nvpoints = 2;
	expect_ok(store_progress_commit(s, &p, &f), f);
	/* past the checkpoint: a crash loses it */
	p.blob = NULL;
	p.vpoints = &vp[2];
	p.nvpoints = 1;
	expect_ok(store_progress_commit(s, &p, &f), f);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1, 0, 10,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 3);
	free(w);
	store_close(s);

	s = open_ok(path);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1, 0, 10,
				     &w, &n, &f), f);
	ck_assert_int_eq(n, 2);
	ck_assert(w[0].step == 2 && w[1].step == 4);
	free(w);
	store_close(s);
}
END_TEST

/* ---- what every backend has beside the cases above ---- */

/* Rows read by number (runs inside a batch, across batches, any order),
 * versions (numbers never reused, caps), aliases (sorted bytewise, moved,
 * refused past the cap, blocking a delete) and the daemon's state. */
START_TEST(test_rows_versions_state)
{
	store *s = open_kind(_i, "rvs.db");
	float x[3 * 2 * 5], y[5], rx[6 * 2], ry[6];
	const uint64_t pos[6] = { 0, 1, 2, 14, 7, 8 };
	store_version_new vn;
	store_version row, *vl;
	store_alias *al;
	store_rows *rows;
	store_vdel what;
	int64_t id, total, value;
	void *blob;
	size_t len, n;
	fault f;

	add_model(s, "m", 1, "W", 1);
	/* three batches of 5 rows: row r holds x = (r, -r), y = r / 2 */
	for (int b = 0; b < 3; b++) {
		for (int r = 0; r < 5; r++) {
			x[2 * r] = (float)(5 * b + r);
			x[2 * r + 1] = -(float)(5 * b + r);
			y[r] = (float)(5 * b + r) / 2;
		}
		expect_ok(store_batch_insert(s, "m", x, y, 5, 2, 1, 0, 1, &id,
					     &total, &f), f);
	}
	ck_assert_int_eq(total, 15);
	expect_ok(store_rows_open(s, "m", 2, 1, &rows, &f), f);
	ck_assert_uint_eq(store_rows_count(rows), 15);
	expect_ok(store_rows_read(rows, pos, 6, rx, ry, &f), f);
	for (int i = 0; i < 6; i++) {
		ck_assert_float_eq(rx[2 * i], (float)pos[i]);
		ck_assert_float_eq(rx[2 * i + 1], -(float)pos[i]);
		ck_assert_float_eq(ry[i], (float)pos[i] / 2);
	}
	{
		const uint64_t past = 15;

		expect_fail(store_rows_read(rows, &past, 1, rx, ry, &f), f,
			    FAULT_INVALID, "past its 15 rows");
	}
	/* a batch deleted since the snapshot */
	expect_ok(store_batches_delete(s, "m", &total, &f), f);
	ck_assert_int_eq(total, 15);
	expect_fail(store_rows_read(rows, pos, 6, rx, ry, &f), f,
		    FAULT_CORRUPT, "changed since the job started");
	store_rows_destroy(rows);
	store_rows_destroy(NULL);

	memset(&vn, 0, sizeof vn);
	vn.model_id = "m";
	vn.blob = "V1";
	vn.blob_len = 2;
	vn.step = 0;
	vn.loss = vn.val_loss = vn.val_accuracy = NAN;
	vn.name = "first";
	vn.max_versions = 2;
	vn.now_ms = 5;
	expect_ok(store_version_create(s, &vn, &row, &f), f);
	ck_assert_uint_eq(row.version, 1);
	vn.name = NULL;
	vn.blob = "V2";
	vn.loss = 0.25;
	expect_ok(store_version_create(s, &vn, &row, &f), f);
	ck_assert_uint_eq(row.version, 2);
	expect_fail(store_version_create(s, &vn, NULL, &f), f, FAULT_LIMIT,
		    "--max-versions");
	ck_assert_int_eq(store_version_get(s, "m", 2, &row, &blob, &len, &f),
			 1);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(memcmp(blob, "V2", 2), 0);
	ck_assert_double_eq(row.loss, 0.25);
	ck_assert_str_eq(row.name, "");
	free(blob);
	ck_assert_int_eq(store_version_get(s, "m", 3, &row, NULL, NULL, &f),
			 0);

	/* aliases: bytewise order ('B' < 'a'), a move, the cap */
	ck_assert_int_eq(store_alias_set(s, "m", "a", 1, 2, 6, &f), 1);
	ck_assert_int_eq(store_alias_set(s, "m", "B", 2, 2, 7, &f), 1);
	ck_assert_int_eq(store_alias_set(s, "m", "a", 2, 2, 8, &f), 1);
	expect_fail(store_alias_set(s, "m", "c", 1, 2, 9, &f), f, FAULT_LIMIT,
		    "aliases");
	ck_assert_int_eq(store_alias_set(s, "m", "c", 9, 0, 9, &f), 0);
	ck_assert_int_eq(store_alias_set(s, "nope", "c", 1, 0, 9, &f), 0);
	expect_ok(store_aliases_list(s, "m", &al, &n, &f), f);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(al[0].name, "B");
	ck_assert_str_eq(al[1].name, "a");
	ck_assert_uint_eq(al[1].version, 2);
	ck_assert_int_eq(al[1].updated_ms, 8);
	free(al);
	expect_ok(store_version_delete(s, "m", 2, 0, &what, &f), f);
	ck_assert_int_eq(what, STORE_VDEL_ALIASED);
	expect_ok(store_version_delete(s, "m", 2, 1, &what, &f), f);
	ck_assert_int_eq(what, STORE_VDEL_DONE);
	expect_ok(store_version_delete(s, "m", 2, 1, &what, &f), f);
	ck_assert_int_eq(what, STORE_VDEL_MISSING);
	ck_assert_int_eq(store_alias_delete(s, "m", "a", &f), 0);
	/* a deleted number is never given again */
	expect_ok(store_version_create(s, &vn, &row, &f), f);
	ck_assert_uint_eq(row.version, 3);
	expect_ok(store_versions_list(s, "m", 0, 10, &vl, &n, &f), f);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(vl[0].version, 1);
	ck_assert_str_eq(vl[0].name, "first");
	ck_assert_uint_eq(vl[1].version, 3);
	free(vl);

	ck_assert_int_eq(store_state_get(s, "k", &value, &f), 0);
	expect_ok(store_state_set(s, "k", INT64_C(1) << 40, &f), f);
	expect_ok(store_state_set(s, "k", -7, &f), f);
	ck_assert_int_eq(store_state_get(s, "k", &value, &f), 1);
	ck_assert_int_eq(value, -7);
	ck_assert_int_gt(store_size_bytes(s), 0);
	expect_ok(store_integrity_check(s, &f), f);
	store_close(s);
}
END_TEST

/* ---- PostgreSQL only ---- */

/* A malformed connection string: a clear one-line fault, at once, and no
 * password in it. */
START_TEST(test_pg_bad_conninfo)
{
	static const char *const bad[] = {
		"postgresql://u:hunter2secret@[::1/db",
		"host=localhost bogus_option=hunter2secret",
		"postgresql://u:hunter2secret@h/db?nosuchparam=1",
	};
	fault f;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fault_clear(&f);
		ck_assert_ptr_null(store_open(bad[i], &f));
		ck_assert_msg(f.code == FAULT_INVALID, "%s: %s", bad[i],
			      f.msg);
		ck_assert_msg(strstr(f.msg, "not a valid PostgreSQL "
			      "connection string") != NULL, "%s", f.msg);
		ck_assert_msg(strstr(f.msg, "hunter2") == NULL,
			      "the password shows: %s", f.msg);
		ck_assert_ptr_null(strchr(f.msg, '\n'));
	}
}
END_TEST

/* A port nobody listens on fails fast (refused), naming why. */
START_TEST(test_pg_unreachable)
{
	struct timespec a, b;
	char db[256];
	fault f;
	int fd, one = 1;
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	double secs;

	/* a free port: bound, read, closed */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	snprintf(db, sizeof db, "postgresql://mlpd:hunter2secret@127.0.0.1:"
		 "%d/mlpd", ntohs(sa.sin_port));
	clock_gettime(CLOCK_MONOTONIC, &a);
	fault_clear(&f);
	ck_assert_ptr_null(store_open(db, &f));
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert_msg(f.code == FAULT_UNAVAILABLE, "%s", f.msg);
	ck_assert_msg(strstr(f.msg, "cannot connect") != NULL &&
		      strstr(f.msg, "refused") != NULL, "%s", f.msg);
	ck_assert_msg(strstr(f.msg, "hunter2") == NULL, "%s", f.msg);
	ck_assert_ptr_null(strchr(f.msg, '\n'));
	ck_assert_msg(secs < 5, "took %.1f s", secs);
}
END_TEST

/* $MLPD_TEST_PG's port on 127.0.0.1 (tests/pg_cluster.sh listens there
 * with password logins) into *port. */
static void
server_port(char *port, size_t len)
{
	const char *p = strstr(pg, "port=");

	ck_assert_msg(p != NULL, "MLPD_TEST_PG names no port: %s", pg);
	p += 5;
	p += *p == '\'';
	snprintf(port, len, "%.*s", (int)strspn(p, "0123456789"), p);
	ck_assert_msg(port[0] != '\0', "MLPD_TEST_PG's port: %s", pg);
}

/* A wrong password: a clear fault that says so, without the password,
 * given in the string or in PGPASSWORD. */
START_TEST(test_pg_bad_password)
{
	char role[64], sql[160], port[16], db[512];
	fault f;

	snprintf(role, sizeof role, "mlpd_pw_%ld", (long)getpid());
	snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN PASSWORD "
		 "'the-right-one'", role);
	pgtest_exec(pg, sql);
	server_port(port, sizeof port);
	snprintf(db, sizeof db, "postgresql://%s:hunter2wrong@127.0.0.1:%s/"
		 "postgres", role, port);
	fault_clear(&f);
	ck_assert_ptr_null(store_open(db, &f));
	ck_assert_msg(f.code == FAULT_UNAVAILABLE, "%s", f.msg);
	ck_assert_msg(strstr(f.msg, "password authentication failed") !=
		      NULL, "%s", f.msg);
	ck_assert_msg(strstr(f.msg, "hunter2") == NULL, "%s", f.msg);
	snprintf(db, sizeof db, "host=127.0.0.1 port=%s user=%s "
		 "dbname=postgres", port, role);
	setenv("PGPASSWORD", "hunter2wrong", 1);
	fault_clear(&f);
	ck_assert_ptr_null(store_open(db, &f));
	unsetenv("PGPASSWORD");
	ck_assert_msg(strstr(f.msg, "password authentication failed") !=
		      NULL, "%s", f.msg);
	ck_assert_msg(strstr(f.msg, "hunter2") == NULL, "%s", f.msg);
	snprintf(sql, sizeof sql, "DROP ROLE %s", role);
	pgtest_exec(pg, sql);
}
END_TEST

static void *
open_thread(void *arg)
{
	fault f;

	fault_clear(&f);
	return store_open(arg, &f);
}

/* Two stores (two nodes) opening an empty database at once: both open,
 * the schema is made once (the other waited on the migrations' lock and
 * found it made), and a store opened beside a live one leaves its running
 * job alone; alone again, recovery interrupts it. */
START_TEST(test_pg_two_nodes)
{
	char db[512];
	pthread_t t[2];
	void *r[2];
	store *a;
	store_job j = make_job("j", "m", STORE_JOB_RUNNING, 1);
	job_list jl = { .n = 0 };
	fault f;

	fresh_db(db, sizeof db, NULL);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, open_thread, db),
				 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(t[i], &r[i]), 0);
		ck_assert_ptr_nonnull(r[i]);
	}
	ck_assert_int_eq(pgtest_int(db, "SELECT count(*) FROM mlpd_schema"), 1);
	ck_assert_int_ge(pgtest_int(db, "SELECT version FROM mlpd_schema"), 1);
	ck_assert_int_eq(pgtest_int(db, "SELECT count(*) FROM pg_class "
				    "WHERE relname = 'models'"), 1);
	a = r[0];
	add_model(a, "m", 1, "W", 1);
	expect_ok(store_job_insert(a, &j, &f), f);
	store_close(r[1]);
	r[1] = open_ok(db); /* beside a */
	jobs_get(r[1], "m", &jl);
	ck_assert_int_eq(jl.n, 1);
	ck_assert_int_eq(jl.v[0].j.status, STORE_JOB_RUNNING);
	store_close(r[1]);
	store_close(a);
	a = open_ok(db); /* alone */
	jobs_get(a, "m", &jl);
	ck_assert_int_eq(jl.v[0].j.status, STORE_JOB_INTERRUPTED);
	ck_assert_int_gt(jl.v[0].j.finished_ms, 0);
	store_close(a);
}
END_TEST

/* A database a newer mlpd migrated is refused, saying so. */
START_TEST(test_pg_newer_schema)
{
	char db[512];
	fault f;

	fresh_db(db, sizeof db, NULL);
	store_close(open_ok(db));
	pgtest_exec(db, "UPDATE mlpd_schema SET version = 99");
	fault_clear(&f);
	ck_assert_ptr_null(store_open(db, &f));
	ck_assert_msg(strstr(f.msg, "schema version 99 is newer than this "
			     "build's") != NULL, "%s", f.msg);
	ck_assert_msg(strstr(f.msg, "use a newer mlpd") != NULL, "%s", f.msg);
}
END_TEST

/* The connections of a store dropped by the server (a restart, an
 * administrator): the next calls reconnect on their own, and the node's
 * presence lock is taken again. --max-db-size is refused. */
START_TEST(test_pg_reconnect)
{
	char db[512];
	store *s;
	model_list l = { .n = 0 };
	int64_t effective = 1;
	fault f;

	fresh_db(db, sizeof db, NULL);
	s = open_ok(db);
	add_model(s, "a", 1, "W", 1);
	pgtest_exec(db, "SELECT pg_terminate_backend(pid) FROM "
		    "pg_stat_activity WHERE datname = current_database() "
		    "AND pid <> pg_backend_pid()");
	/* (the backends end a moment after their signal) */
	for (int i = 0; i < 100 && pgtest_int(db, "SELECT count(*) FROM "
	     "pg_locks WHERE locktype = 'advisory'") > 0; i++)
		nanosleep(&(struct timespec){ 0, 50000000L }, NULL);
	ck_assert_int_eq(pgtest_int(db, "SELECT count(*) FROM pg_locks "
				    "WHERE locktype = 'advisory'"), 0);
	add_model(s, "b", 2, "W", 1);
	models_get(s, &l);
	ck_assert_int_eq(l.n, 2);
	models_free(&l);
	ck_assert_int_eq(pgtest_int(db, "SELECT count(*) FROM pg_locks "
				    "WHERE locktype = 'advisory'"), 1);
	expect_fail(store_set_max_size(s, 1 << 20, &effective, &f), f,
		    FAULT_INVALID, "cap a PostgreSQL database on the server");
	ck_assert_int_eq(effective, 0);
	expect_ok(store_set_max_size(s, 0, NULL, &f), f);
	store_close(s);
}
END_TEST

/* ---- several nodes on one store (store_shared, stamps, one model) ---- */

typedef struct stamp_list {
	store_model_stamp v[8];
	int n;
} stamp_list;

static int
collect_stamp(void *arg, const store_model_stamp *m)
{
	stamp_list *l = arg;

	ck_assert_int_lt(l->n, 8);
	l->v[l->n++] = *m;
	return 0;
}

static int
refuse_one(void *arg, const store_model *m)
{
	(void)arg;
	(void)m;
	return 5;
}

/* SQLite is one daemon's (not shared), PostgreSQL is shared; the stamps
 * list every model oldest first with its step and time, and a model reads
 * back whole, 0 when there is none. */
START_TEST(test_shared_stamps_get)
{
	store *s = open_kind(_i, "stamps");
	stamp_list st = { .n = 0 };
	model_list one = { .n = 0 };
	store_model m;
	fault f;

	ck_assert_int_eq(store_shared(s), pg != NULL);
	add_model(s, "a", 1000, "AAAA", 4);
	memset(&m, 0, sizeof m);
	snprintf(m.id, sizeof m.id, "c");
	m.name = "cee";
	m.created_ms = 500;
	m.updated_ms = 1600;
	m.step = 42;
	m.samples = 3;
	m.last_loss = 0.125;
	m.blob = "CCC";
	m.blob_len = 3;
	expect_ok(store_model_insert(s, &m, &f), f);
	expect_ok(store_models_stamps(s, collect_stamp, &st, &f), f);
	ck_assert_int_eq(st.n, 2);
	ck_assert_str_eq(st.v[0].id, "c");
	ck_assert_uint_eq(st.v[0].step, 42);
	ck_assert_int_eq(st.v[0].updated_ms, 1600);
	ck_assert_int_eq(st.v[0].samples, 3);
	ck_assert(st.v[0].last_loss == 0.125);
	ck_assert_str_eq(st.v[1].id, "a");
	ck_assert_uint_eq(st.v[1].step, 0);
	ck_assert(isnan(st.v[1].last_loss));
	fault_clear(&f);
	ck_assert_int_eq(store_model_get(s, "c", collect_model, &one, &f), 1);
	ck_assert_int_eq(one.n, 1);
	ck_assert_str_eq(one.v[0].name, "cee");
	ck_assert_uint_eq(one.v[0].step, 42);
	ck_assert_uint_eq(one.v[0].blob_len, 3);
	ck_assert_mem_eq(one.v[0].blob, "CCC", 3);
	ck_assert_int_eq(store_model_get(s, "zz", collect_model, &one, &f), 0);
	ck_assert_int_eq(one.n, 1);
	ck_assert_int_eq(store_model_get(s, "a", refuse_one, NULL, &f), 5);
	models_free(&one);
	store_close(s);
}
END_TEST

static int
refuse_job(void *arg, const store_job *j)
{
	(void)arg;
	(void)j;
	return 6;
}

/* store_job_get reads one job by id, on both backends, the same row
 * store_jobs_each gives (takeovers 0 for a job never claimed); 0 and no
 * call for an unknown id, cb's value when it is not 0. */
START_TEST(test_job_get)
{
	store *s = open_kind(_i, "jobget.db");
	store_job j1 = make_job("j1", "m1", STORE_JOB_QUEUED, 10);
	store_job j2 = make_job("j2", "m1", STORE_JOB_QUEUED, 20);
	job_list one = { .n = 0 }, all = { .n = 0 };
	fault f;

	add_model(s, "m1", 1, "W", 1);
	j1.options = "{\"steps\":9}";
	expect_ok(store_job_insert(s, &j1, &f), f);
	expect_ok(store_job_insert(s, &j2, &f), f);
	j2.status = STORE_JOB_FAILED;
	j2.steps_done = 4;
	j2.started_ms = 21;
	j2.finished_ms = 25;
	j2.error = "diverged";
	j2.lr = 0.5;
	j2.ckpt_steps = 3;
	snprintf(j2.node, sizeof j2.node, "n1");
	expect_ok(store_job_update(s, &j2, &f), f);
	fault_clear(&f);
	ck_assert_int_eq(store_job_get(s, "j2", collect_job, &one, &f), 1);
	ck_assert_int_eq(one.n, 1);
	jobs_get(s, "m1", &all);
	ck_assert_int_eq(all.n, 2);
	ck_assert_str_eq(one.v[0].j.id, "j2");
	ck_assert_str_eq(one.v[0].j.model_id, "m1");
	ck_assert_int_eq(one.v[0].j.status, STORE_JOB_FAILED);
	ck_assert_int_eq(one.v[0].j.steps_done, 4);
	ck_assert_int_eq(one.v[0].j.started_ms, 21);
	ck_assert_int_eq(one.v[0].j.finished_ms, 25);
	ck_assert_str_eq(one.v[0].error, "diverged");
	ck_assert_double_eq(one.v[0].j.lr, 0.5);
	ck_assert_int_eq(one.v[0].j.ckpt_steps, 3);
	ck_assert_str_eq(one.v[0].j.node, "n1");
	ck_assert_int_eq(one.v[0].j.takeovers, 0);
	ck_assert_str_eq(one.v[0].options, all.v[1].options);
	ck_assert_int_eq(all.v[1].j.takeovers, 0);
	ck_assert_int_eq(store_job_get(s, "j1", collect_job, &one, &f), 1);
	ck_assert_int_eq(one.n, 2);
	ck_assert_str_eq(one.v[1].options, "{\"steps\":9}");
	ck_assert_int_eq(one.v[1].has_error, 0);
	ck_assert_int_eq(store_job_get(s, "j9", collect_job, &one, &f), 0);
	ck_assert_int_eq(one.n, 2);
	ck_assert_int_eq(store_job_get(s, "j1", refuse_job, NULL, &f), 6);
	expect_fail(store_job_get(s, "", collect_job, &one, &f), f,
		    FAULT_INVALID, "job id");
	store_close(s);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *rt = tcase_create("round_trips");
	TCase *crash = tcase_create("crash");
	TCase *conc = tcase_create("concurrency");
	TCase *schema, *pgc;
	/* the loop cases: a file and ":memory:" on SQLite, one fresh
	 * database on PostgreSQL */
	int kinds = pg != NULL ? 1 : 2;

	/* SQLite's by nature: a file's bytes and permissions, its old
	 * schema steps, ":memory:" (the PostgreSQL schema cases are in
	 * "postgresql" below) */
	if (pg == NULL) {
		schema = tcase_create("schema");
		tcase_add_test(schema, test_schema_fresh);
		tcase_add_test(schema, test_schema_too_new);
		tcase_add_test(schema, test_schema_failed_migration);
		tcase_add_test(schema, test_corrupt_file);
		tcase_add_test(schema, test_read_only_file);
		tcase_add_test(schema, test_bad_open);
		tcase_add_test(schema, test_memory_separate);
		tcase_add_test(schema, test_schema_migrate_1_to_2);
		tcase_add_test(schema, test_schema_migrate_row_count);
		tcase_add_test(schema, test_checkpoint_thread);
		suite_add_tcase(s, schema);
	}

	tcase_add_loop_test(rt, test_models, 0, kinds);
	tcase_add_loop_test(rt, test_batches, 0, kinds);
	tcase_add_loop_test(rt, test_progress_and_loss, 0, kinds);
	tcase_add_loop_test(rt, test_jobs, 0, kinds);
	tcase_add_loop_test(rt, test_delete_cascades, 0, kinds);
	tcase_add_loop_test(rt, test_nested_callbacks, 0, kinds);
	tcase_add_loop_test(rt, test_loss_windows, 0, kinds);
	tcase_add_loop_test(rt, test_set_weights_trims_validation, 0, kinds);
	tcase_add_loop_test(rt, test_revert, 0, kinds);
	tcase_add_loop_test(rt, test_rows_versions_state, 0, kinds);
	tcase_add_loop_test(rt, test_shared_stamps_get, 0, kinds);
	tcase_add_loop_test(rt, test_job_get, 0, kinds);
	tcase_set_timeout(rt, 60);
	suite_add_tcase(s, rt);

	tcase_add_test(crash, test_recovery_on_open);
	tcase_add_test(crash, test_validation_recovery);
	tcase_add_test(crash, test_crash_sigkill);
	/* SQLite's: a page cap stands in for a full disk */
	if (pg == NULL)
		tcase_add_test(crash, test_disk_full);
	tcase_set_timeout(crash, 300);
	suite_add_tcase(s, crash);

	tcase_add_loop_test(conc, test_readers_beside_writer, 0, kinds);
	/* SQLite's: one daemon per file (its lock file); on PostgreSQL
	 * several stores share a database (test_pg_two_nodes) */
	if (pg == NULL)
		tcase_add_test(conc, test_two_writers_one_file);
	tcase_set_timeout(conc, 300);
	suite_add_tcase(s, conc);

	if (pg != NULL) {
		pgc = tcase_create("postgresql");
		tcase_add_test(pgc, test_pg_bad_conninfo);
		tcase_add_test(pgc, test_pg_unreachable);
		tcase_add_test(pgc, test_pg_bad_password);
		tcase_add_test(pgc, test_pg_two_nodes);
		tcase_add_test(pgc, test_pg_newer_schema);
		tcase_add_test(pgc, test_pg_reconnect);
		tcase_set_timeout(pgc, 60);
		suite_add_tcase(s, pgc);
	}
	return s;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	SRunner *sr;
	int failed;

	snprintf(tmpdir, sizeof tmpdir, "/tmp/check_store.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("check_store: mkdtemp");
		return 1;
	}
	pg = pgtest_server();
	pgtest_init();
	if (pg != NULL)
		fprintf(stderr, "check_store: on PostgreSQL (MLPD_TEST_PG); "
			"not run there, being SQLite's: the schema cases, "
			"test_disk_full, test_two_writers_one_file\n");
	sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	pgtest_cleanup();
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed ? 1 : 0;
}
