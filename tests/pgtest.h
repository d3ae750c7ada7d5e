/*
 * pgtest: a fresh, empty PostgreSQL database per test, for the C suites
 * that run their cases against the PostgreSQL store too (check_store).
 *
 * The server is the one $MLPD_TEST_PG names (a libpq key=value string or
 * URI that can create databases; tests/pg_cluster.sh starts a throwaway
 * one and tests/check_store_pg.sh exports it). Unset or empty, or a
 * build without libpq (no MLPD_HAVE_PG): the suites run on SQLite only. Every database made is named
 * mlpd_test_<pid of pgtest_init's caller>_<n>, so that pgtest_cleanup,
 * called by that process after Check's forked tests ended, drops them
 * all. On any failure the helpers abort the test (Check's ck_abort).
 */
#ifndef MLPD_PGTEST_H
#define MLPD_PGTEST_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* The conninfo of $MLPD_TEST_PG, or NULL when the suite runs on SQLite
 * only. */
const char *pgtest_server(void);

/* Call once in main, before the tests fork: fixes the name prefix. */
void pgtest_init(void);

/* Creates a new empty database on the server and writes a conninfo for
 * it into buf (len bytes). */
void pgtest_fresh(char *buf, size_t len);

/* The first column of the first row sql gives on conninfo, as an integer
 * (-1 when there is no row). */
int64_t pgtest_int(const char *conninfo, const char *sql);

/* Runs sql (no rows wanted) on conninfo. */
void pgtest_exec(const char *conninfo, const char *sql);

/* Drops the databases pgtest_fresh made under this process's prefix. */
void pgtest_cleanup(void);

/* Runs suite s (its SRunner freed), then pgtest_cleanup: EXIT_SUCCESS when
 * no test failed, else EXIT_FAILURE. For a suite's main after
 * pgtest_init. */
int pgtest_run(Suite *s);

#endif
