/*
 * pg_state: the daemon_state table on PostgreSQL, small integers the
 * daemon keeps across restarts by name, such as the event ids it has
 * reserved (server/engine/events.c).
 */
#include "pg_int.h"

/* What a get or set is about. */
typedef struct state_arg {
	const char *name;
	int64_t value;
	int found;
} state_arg;

static int
do_state_get(pg_conn *c, void *arg, fault *f)
{
	state_arg *a = arg;
	pg_params p = { 0 };
	PGresult *r;

	pg_p_text(&p, a->name);
	r = pg_exec(c, "SELECT value FROM daemon_state WHERE name = $1", &p,
		    0, f, "reading the daemon's state");
	if (r == NULL)
		return -1;
	a->found = PQntuples(r) > 0;
	a->value = a->found ? pg_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

int
pg_state_get(store *s, const char *name, int64_t *value, fault *f)
{
	state_arg a = { name, 0, 0 };

	if (pg_read_tx((pg_store *)s, do_state_get, &a, f) != 0)
		return -1;
	*value = a.value;
	return a.found;
}

static int
do_state_set(pg_conn *c, void *arg, fault *f)
{
	const state_arg *a = arg;
	pg_params p = { 0 };

	pg_p_text(&p, a->name);
	pg_p_i64(&p, a->value);
	return pg_run(c, "INSERT INTO daemon_state (name, value) "
		      "VALUES ($1, $2) ON CONFLICT (name) DO UPDATE "
		      "SET value = excluded.value", &p, f,
		      "storing the daemon's state") < 0 ? -1 : 0;
}

int
pg_state_set(store *s, const char *name, int64_t value, fault *f)
{
	state_arg a = { name, value, 0 };

	return pg_write_tx((pg_store *)s, do_state_set, &a, f);
}
