/*
 * check_storeif: Check tests of the store's interface (server/store/store.c):
 * which backend a --db text selects (store_is_pg on URIs, libpq key=value
 * strings, paths, ":memory:", empty), that a build without libpq refuses
 * a PostgreSQL --db with a clear FAULT_INVALID (and creates no file in its
 * place), that a SQLite path with '=' inside stays SQLite, and that a store
 * store_open makes carries a full table of entries (white box: this suite
 * alone reads store_backend.h, for the head of struct store).
 * Files live in a mkdtemp directory under /tmp, removed at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp under -std=c11 */
#endif
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "autoconf.h" /* MLPD_HAVE_PG */
#include "fault.h"
#include "store.h"
#define MLPD_STORE_INTERNAL /* white box: struct store's ops */
#include "store_backend.h"

#include "dbfiles.h"

static char tmpdir[64]; /* made by main, removed by main */

/* The files test_path_with_equals makes under tmpdir. */
#define EQ_DIR "a=b"
#define EQ_DB EQ_DIR "/db.sqlite"

/* An in-memory store, through store_open. */
static store *
open_memory(void)
{
	fault f = { FAULT_NONE, "" };
	store *s = store_open(":memory:", &f);

	ck_assert_msg(s != NULL, "%s", f.msg);
	return s;
}

static const struct {
	const char *db;
	int pg;
} cases[] = {
	/* libpq URIs: the exact lowercase prefixes */
	{ "postgresql://mlpd@db.example:5432/mlpd?sslmode=require", 1 },
	{ "postgres://localhost/mlpd", 1 },
	{ "postgresql://", 1 },
	{ "postgresql:///mlpd?host=/tmp", 1 },
	{ "PostgreSQL://localhost/mlpd", 0 },
	{ "postgresql:/localhost/mlpd", 0 },
	{ "postgresqlx://localhost/mlpd", 0 },
	{ " postgresql://localhost/mlpd", 0 },
	/* libpq key=value strings: a lowercase first word, then '=' */
	{ "host=/tmp dbname=x", 1 },
	{ "dbname=mlpd", 1 },
	{ "dbname = mlpd user=me", 1 },
	{ "  host=db port=5432", 1 },
	{ "\thost=db", 1 },
	{ "service=mlpd", 1 },
	{ "target_session_attrs=read-write host=a,b", 1 },
	{ "a=b/db.sqlite", 1 }, /* documented: write ./a=b/db.sqlite */
	/* SQLite paths */
	{ ":memory:", 0 },
	{ "", 0 },
	{ "mlpd.db", 0 },
	{ "/var/lib/mlpd/mlpd.db", 0 },
	{ "./mlpd.db", 0 },
	{ "../data/mlpd.db", 0 },
	{ "./a=b/db.sqlite", 0 },
	{ "/srv/a=b/db.sqlite", 0 },
	{ "data/x=1.db", 0 },
	{ "Host=db", 0 },
	{ "db-1=x", 0 },
	{ "host", 0 },
	{ "host db=x", 0 },
	{ "=x", 0 },
	{ " ", 0 },
	{ "mlpd.db?host=x", 0 },
};

START_TEST(test_is_pg)
{
	const char *db = cases[_i].db;

	ck_assert_msg(store_is_pg(db) == cases[_i].pg,
		      "store_is_pg(\"%s\") should be %d", db, cases[_i].pg);
}
END_TEST

START_TEST(test_is_pg_null)
{
	ck_assert_int_eq(store_is_pg(NULL), 0);
}
END_TEST

#ifndef MLPD_HAVE_PG
/* Every PostgreSQL form fails at once with the one clear reason, and
 * nothing falls through to SQLite: no file appears under its name. */
START_TEST(test_pg_without_libpq)
{
	static const char *const dbs[] = {
		"postgresql://mlpd@localhost:5432/mlpd",
		"postgres://localhost/mlpd",
		"host=/tmp dbname=mlpd",
		"dbname=mlpd",
	};
	char cwd[PATH_MAX];
	struct stat sb;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_int_eq(chdir(tmpdir), 0);
	for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
		fault f = { FAULT_NONE, "" };
		store *s = store_open(dbs[i], &f);

		ck_assert_msg(s == NULL, "%s opened", dbs[i]);
		ck_assert_int_eq(f.code, FAULT_INVALID);
		ck_assert_str_eq(f.msg, "this mlpd was built without "
				 "PostgreSQL support (libpq)");
		ck_assert_msg(stat(dbs[i], &sb) != 0,
			      "a file named '%s' was created", dbs[i]);
	}
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST
#endif

/* A path with '=' past its first word is a SQLite file, relative or
 * absolute, and store_open makes it there. */
START_TEST(test_path_with_equals)
{
	char cwd[PATH_MAX], abs[256], dir[128];
	const char *rel = "./" EQ_DB;
	struct stat sb;
	fault f = { FAULT_NONE, "" };
	store *s;

	snprintf(dir, sizeof dir, "%s/" EQ_DIR, tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(abs, sizeof abs, "%s/" EQ_DB, tmpdir);

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_int_eq(chdir(tmpdir), 0);
	s = store_open(rel, &f);
	ck_assert_msg(s != NULL, "%s: %s", rel, f.msg);
	ck_assert_str_eq(s->ops->name, "sqlite");
	ck_assert_int_eq(stat(abs, &sb), 0);
	store_close(s);
	ck_assert_int_eq(chdir(cwd), 0);

	s = store_open(abs, &f);
	ck_assert_msg(s != NULL, "%s: %s", abs, f.msg);
	ck_assert_str_eq(s->ops->name, "sqlite");
	store_close(s);
}
END_TEST

/* store_open hands out a store whose head names a table with every
 * entry set (store_backend.h: no entry is NULL), and the NULL cases of
 * close and rows_destroy stay no-ops. */
START_TEST(test_sqlite_table)
{
	store *s = open_memory();
	const store_ops *o = s->ops;

	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(o->name, "sqlite");
#define ENTRY(x) ck_assert_msg(o->x != NULL, "sqlite_ops." #x " is NULL")
	ENTRY(close); ENTRY(size_bytes); ENTRY(set_max_size);
	ENTRY(integrity_check); ENTRY(set_history_raw);
	ENTRY(model_insert); ENTRY(models_each); ENTRY(model_delete);
	ENTRY(model_set_weights); ENTRY(model_checkpoint);
	ENTRY(model_revert);
	ENTRY(batch_insert); ENTRY(batch_list); ENTRY(batches_delete);
	ENTRY(batches_load); ENTRY(rows_open); ENTRY(rows_count);
	ENTRY(rows_read); ENTRY(rows_destroy);
	ENTRY(progress_commit); ENTRY(loss_query); ENTRY(loss_windows);
	ENTRY(loss_range);
	ENTRY(job_insert); ENTRY(job_update); ENTRY(jobs_each);
	ENTRY(state_get); ENTRY(state_set);
	ENTRY(version_create); ENTRY(versions_list); ENTRY(version_get);
	ENTRY(version_delete); ENTRY(alias_set); ENTRY(alias_delete);
	ENTRY(aliases_list);
#undef ENTRY
	store_close(s);
	store_close(NULL);
	store_rows_destroy(NULL);
}
END_TEST

/* A rows snapshot names the store it came from, and the calls on it go
 * through that store's table: one pushed batch reads back whole. */
START_TEST(test_rows_head)
{
	fault f = { FAULT_NONE, "" };
	store *s = open_memory();
	store_model m = { .id = "m1", .name = "m", .created_ms = 1,
			  .updated_ms = 1, .last_loss = 0.5,
			  .blob = "blob", .blob_len = 4 };
	const float x[4] = { 1, 2, 3, 4 }, y[2] = { 5, 6 };
	float rx[2], ry[1];
	int64_t id, total;
	store_rows *r;
	uint64_t pos = 1;

	ck_assert_msg(store_model_insert(s, &m, &f) == 0, "%s", f.msg);
	ck_assert_msg(store_batch_insert(s, "m1", x, y, 2, 2, 1, 0, 2, &id,
					 &total, &f) == 0, "%s", f.msg);
	ck_assert_int_eq(total, 2);
	ck_assert_msg(store_rows_open(s, "m1", 2, 1, &r, &f) == 0, "%s",
		      f.msg);
	ck_assert_ptr_eq(r->st, s);
	ck_assert_uint_eq(store_rows_count(r), 2);
	ck_assert_msg(store_rows_read(r, &pos, 1, rx, ry, &f) == 0, "%s",
		      f.msg);
	ck_assert(rx[0] == 3 && rx[1] == 4 && ry[0] == 6);
	store_rows_destroy(r);
	store_close(s);
}
END_TEST

static Suite *
storeif_suite(void)
{
	Suite *s = suite_create("storeif");
	TCase *pick = tcase_create("pick");
	TCase *open = tcase_create("open");

	tcase_add_loop_test(pick, test_is_pg, 0,
			    (int)(sizeof cases / sizeof cases[0]));
	tcase_add_test(pick, test_is_pg_null);
	suite_add_tcase(s, pick);
#ifndef MLPD_HAVE_PG
	tcase_add_test(open, test_pg_without_libpq);
#endif
	tcase_add_test(open, test_path_with_equals);
	tcase_add_test(open, test_sqlite_table);
	tcase_add_test(open, test_rows_head);
	suite_add_tcase(s, open);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	snprintf(tmpdir, sizeof tmpdir, "/tmp/check_storeif.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("check_storeif: mkdtemp");
		return 1;
	}
	sr = srunner_create(storeif_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (chdir(tmpdir) == 0) {
		test_unlink_db(EQ_DB);
		rmdir(EQ_DIR);
	}
	if (chdir("/") != 0 || rmdir(tmpdir) != 0)
		perror("check_storeif: removing its directory");
	return failed ? 1 : 0;
}
