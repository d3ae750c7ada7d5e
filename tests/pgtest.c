/*
 * pgtest: fresh PostgreSQL databases for the C suites (see pgtest.h).
 * Talks to the server with libpq directly, not through the store, so that
 * what it sets up and checks does not depend on the code under test.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* getpid */
#endif
#include "autoconf.h" /* MLPD_HAVE_PG */
#include "pgtest.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef MLPD_HAVE_PG
#include <libpq-fe.h>

static long prefix_pid; /* pgtest_init's process */
static int made;        /* databases this process made */

const char *
pgtest_server(void)
{
	const char *s = getenv("MLPD_TEST_PG");

	return s != NULL && s[0] != '\0' ? s : NULL;
}

void
pgtest_init(void)
{
	prefix_pid = (long)getpid();
}

/* conninfo with dbname replaced by db (or kept when db is NULL), as a
 * key=value string in buf. */
static void
with_dbname(const char *conninfo, const char *db, char *buf, size_t len)
{
	PQconninfoOption *opts, *o;
	char *err = NULL;
	size_t at = 0;

	opts = PQconninfoParse(conninfo, &err);
	ck_assert_msg(opts != NULL, "MLPD_TEST_PG: %s", err ? err : "?");
	buf[0] = '\0';
	for (o = opts; o->keyword != NULL; o++) {
		const char *v = o->val;
		int n;

		if (strcmp(o->keyword, "dbname") == 0 && db != NULL)
			v = db;
		if (v == NULL || v[0] == '\0')
			continue;
		/* values of ours and of the test server: no quotes inside */
		ck_assert_msg(strchr(v, '\'') == NULL && strchr(v, '\\') ==
			      NULL, "a quote in MLPD_TEST_PG's %s",
			      o->keyword);
		n = snprintf(buf + at, len - at, "%s%s='%s'", at ? " " : "",
			     o->keyword, v);
		ck_assert(n > 0 && (size_t)n < len - at);
		at += (size_t)n;
	}
	if (db != NULL && strstr(buf, "dbname=") == NULL) {
		int n = snprintf(buf + at, len - at, " dbname='%s'", db);

		ck_assert(n > 0 && (size_t)n < len - at);
	}
	PQconninfoFree(opts);
}

/* NOTICEs (DROP .. IF EXISTS and the like) are not the test's output. */
static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static PGconn *
connect_to(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "pgtest: %s",
		      PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

static PGresult *
run(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);

	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK,
		      "pgtest: %s: %s", sql, PQerrorMessage(c));
	return r;
}

void
pgtest_fresh(char *buf, size_t len)
{
	const char *server = pgtest_server();
	char name[64], sql[128];
	PGconn *c;

	ck_assert_msg(server != NULL, "pgtest_fresh without MLPD_TEST_PG");
	snprintf(name, sizeof name, "mlpd_test_%ld_%ld_%d", prefix_pid,
		 (long)getpid(), made++);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	c = connect_to(server);
	PQclear(run(c, sql));
	PQfinish(c);
	with_dbname(server, name, buf, len);
}

int64_t
pgtest_int(const char *conninfo, const char *sql)
{
	PGconn *c = connect_to(conninfo);
	PGresult *r = run(c, sql);
	int64_t v = -1;

	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return v;
}

void
pgtest_exec(const char *conninfo, const char *sql)
{
	PGconn *c = connect_to(conninfo);

	PQclear(run(c, sql));
	PQfinish(c);
}

void
pgtest_cleanup(void)
{
	const char *server = pgtest_server();
	char like[64], sql[128];
	PGconn *c;
	PGresult *r;

	if (server == NULL)
		return;
	c = PQconnectdb(server);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return;
	}
	snprintf(like, sizeof like, "mlpd_test_%ld_%%", prefix_pid);
	{
		const char *v[1] = { like };

		r = PQexecParams(c, "SELECT datname FROM pg_database "
				 "WHERE datname LIKE $1", 1, NULL, v, NULL,
				 NULL, 0);
	}
	for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK &&
	     i < PQntuples(r); i++) {
		/* FORCE (13+): a connection a killed child left behind */
		snprintf(sql, sizeof sql, "DROP DATABASE %s%s",
			 PQgetvalue(r, i, 0), PQserverVersion(c) >= 130000 ?
			 " WITH (FORCE)" : "");
		PQclear(PQexec(c, sql));
	}
	PQclear(r);
	PQfinish(c);
}

#else /* !MLPD_HAVE_PG: built without libpq, the suites run on SQLite */

const char *
pgtest_server(void)
{
	return NULL;
}

void
pgtest_init(void)
{
}

void
pgtest_fresh(char *buf, size_t len)
{
	(void)buf;
	(void)len;
	ck_abort_msg("pgtest_fresh: built without PostgreSQL");
}

int64_t
pgtest_int(const char *conninfo, const char *sql)
{
	(void)conninfo;
	(void)sql;
	ck_abort_msg("pgtest_int: built without PostgreSQL");
	return -1;
}

void
pgtest_exec(const char *conninfo, const char *sql)
{
	(void)conninfo;
	(void)sql;
	ck_abort_msg("pgtest_exec: built without PostgreSQL");
}

void
pgtest_cleanup(void)
{
}

#endif

int
pgtest_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	pgtest_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
