/*
 * store_state: the daemon_state table (schema/mlpd-3.sql), small integers
 * the daemon keeps across restarts by name, such as the event ids it has
 * reserved (server/engine/events.c).
 */
#include "store_int.h"

enum q { Q_STATE_GET, Q_STATE_SET, Q_COUNT_ };

static const char *const q_sql[Q_COUNT_] = {
	[Q_STATE_GET] = "SELECT value FROM daemon_state WHERE name = ?1",
	[Q_STATE_SET] =
		"INSERT INTO daemon_state (name, value) VALUES (?1, ?2) "
		"ON CONFLICT (name) DO UPDATE SET value = excluded.value",
};

/* What a get or set is about. */
typedef struct state_arg {
	const char *name;
	int64_t value;
	int found;
} state_arg;

static int
do_state_get(conn *c, void *arg, fault *f)
{
	state_arg *a = arg;
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_STATE_GET], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, a->name, &rc);
	if (db_bound(c, st, rc, f, "reading the daemon's state") != 0)
		return -1;
	rc = sqlite3_step(st);
	a->found = rc == SQLITE_ROW;
	if (a->found)
		a->value = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		db_fault(c, rc, f, "reading the daemon's state");
	db_done(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
sq_state_get(store *s, const char *name, int64_t *value, fault *f)
{
	state_arg a = { name, 0, 0 };

	if (db_read_tx(s, do_state_get, &a, f) != 0)
		return -1;
	*value = a.value;
	return a.found;
}

static int
do_state_set(conn *c, void *arg, fault *f)
{
	const state_arg *a = arg;
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_STATE_SET], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, a->name, &rc);
	db_bind_i64(st, 2, a->value, &rc);
	if (db_bound(c, st, rc, f, "storing the daemon's state") != 0 ||
	    db_run(c, st, f, "storing the daemon's state") != 0)
		return -1;
	return 0;
}

int
sq_state_set(store *s, const char *name, int64_t value, fault *f)
{
	state_arg a = { name, value, 0 };

	return db_write_tx(s, do_state_set, &a, f);
}
