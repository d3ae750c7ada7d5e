/*
 * store_lease: the lease table (schema/mlpd-7.sql) of the SQLite backend:
 * take, renew and release a model's lease (sq_lease_*), and the epoch
 * check that the fenced writes run inside their own transaction
 * (lease_check, for store_progress.c, store_models.c, store_jobs.c and
 * store_versions.c), and the
 * release of a past run's leases at open (lease_free_all: the owner lock
 * file says that run is dead, so they are free whatever node id this run
 * has). store.h, "leases", has the contract; times are the local clock
 * here, since one node owns a SQLite file.
 */
#include "store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "wallclock.h"

enum q { Q_GET, Q_PUT, Q_RELEASE, Q_FREE_ALL, Q_COUNT_ };

static const char *const q_sql[Q_COUNT_] = {
	[Q_GET] = "SELECT node_id, epoch, expires_ms FROM lease "
		"WHERE model_id = ?1",
	[Q_PUT] = "INSERT INTO lease (model_id, node_id, epoch, expires_ms) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT (model_id) DO UPDATE SET "
		"node_id = excluded.node_id, epoch = excluded.epoch, "
		"expires_ms = excluded.expires_ms",
	[Q_RELEASE] = "UPDATE lease SET node_id = '', expires_ms = 0 "
		"WHERE model_id = ?1 AND node_id = ?2 AND epoch = ?3",
	[Q_FREE_ALL] = "UPDATE lease SET node_id = '', expires_ms = 0 "
		"WHERE node_id <> ''",
};

/* A model's lease row as read (found 0: the model was never leased). */
typedef struct lease_row {
	int found;
	char node[STORE_NODE_MAX];
	uint64_t epoch;
	int64_t expires_ms;
} lease_row;

static int
lease_get(conn *c, const char *model_id, lease_row *r, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_GET], f);
	int rc = SQLITE_OK;

	memset(r, 0, sizeof *r);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	if (db_bound(c, st, rc, f, "reading a lease") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *n = sqlite3_column_text(st, 0);

		r->found = 1;
		snprintf(r->node, sizeof r->node, "%s", n ? (const char *)n :
		    "");
		r->epoch = (uint64_t)sqlite3_column_int64(st, 1);
		r->expires_ms = sqlite3_column_int64(st, 2);
	} else if (rc != SQLITE_DONE) {
		db_fault(c, rc, f, "reading a lease");
	}
	db_done(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int
lease_put(conn *c, const char *model_id, const char *node, uint64_t epoch,
	  int64_t expires_ms, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_PUT], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	db_bind_text(st, 2, node, &rc);
	db_bind_i64(st, 3, (int64_t)epoch, &rc);
	db_bind_i64(st, 4, expires_ms, &rc);
	if (db_bound(c, st, rc, f, "storing a lease") != 0)
		return -1;
	return db_run(c, st, f, "storing a lease");
}

/* What a take, renew or release is about, and its answer. */
typedef struct lease_arg {
	const char *model_id, *node;
	int64_t ttl_ms;
	uint64_t epoch;      /* renew, release: the caller's; take: out */
	char holder[STORE_NODE_MAX];
	int result;          /* 1 or 0, as the public calls answer */
} lease_arg;

static int
live(const lease_row *r, int64_t now)
{
	return r->found && r->node[0] != '\0' && r->expires_ms > now;
}

static int
do_take(conn *c, void *arg, fault *f)
{
	lease_arg *a = arg;
	lease_row r;
	int64_t now = wallclock_ms();

	if (lease_get(c, a->model_id, &r, f) != 0)
		return -1;
	if (live(&r, now) && strcmp(r.node, a->node) != 0) {
		snprintf(a->holder, sizeof a->holder, "%s", r.node);
		a->result = 0;
		return 0;
	}
	/* ours and live: the same epoch; else the lease changes hands */
	a->epoch = live(&r, now) ? r.epoch : r.epoch + 1;
	snprintf(a->holder, sizeof a->holder, "%s", a->node);
	a->result = 1;
	return lease_put(c, a->model_id, a->node, a->epoch, now + a->ttl_ms, f);
}

int
sq_lease_take(store *s, const char *model_id, const char *node_id,
	      int64_t ttl_ms, uint64_t *epoch, char *holder,
	      size_t holder_len, fault *f)
{
	lease_arg a = { model_id, node_id, ttl_ms, 0, "", 0 };

	if (db_write_tx(s, do_take, &a, f) != 0)
		return -1;
	if (a.result == 1)
		*epoch = a.epoch;
	if (holder != NULL && holder_len > 0)
		snprintf(holder, holder_len, "%s", a.holder);
	return a.result;
}

static int
do_renew(conn *c, void *arg, fault *f)
{
	lease_arg *a = arg;
	lease_row r;
	int64_t now = wallclock_ms();

	if (lease_get(c, a->model_id, &r, f) != 0)
		return -1;
	if (!r.found || r.epoch != a->epoch || strcmp(r.node, a->node) != 0) {
		snprintf(a->holder, sizeof a->holder, "%s", live(&r, now) ?
		    r.node : "");
		a->result = 0;
		return 0;
	}
	a->result = 1;
	return lease_put(c, a->model_id, a->node, a->epoch, now + a->ttl_ms, f);
}

int
sq_lease_renew(store *s, const char *model_id, const char *node_id,
	       uint64_t epoch, int64_t ttl_ms, char *holder,
	       size_t holder_len, fault *f)
{
	lease_arg a = { model_id, node_id, ttl_ms, epoch, "", 0 };

	if (db_write_tx(s, do_renew, &a, f) != 0)
		return -1;
	if (holder != NULL && holder_len > 0)
		snprintf(holder, holder_len, "%s", a.holder);
	return a.result;
}

static int
do_release(conn *c, void *arg, fault *f)
{
	lease_arg *a = arg;
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_RELEASE], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, a->model_id, &rc);
	db_bind_text(st, 2, a->node, &rc);
	db_bind_i64(st, 3, (int64_t)a->epoch, &rc);
	if (db_bound(c, st, rc, f, "releasing a lease") != 0 ||
	    db_run(c, st, f, "releasing a lease") != 0)
		return -1;
	a->result = sqlite3_changes(c->db) > 0;
	return 0;
}

int
sq_lease_release(store *s, const char *model_id, const char *node_id,
		 uint64_t epoch, fault *f)
{
	lease_arg a = { model_id, node_id, 0, epoch, "", 0 };

	if (db_write_tx(s, do_release, &a, f) != 0)
		return -1;
	return a.result;
}

int
lease_check(conn *c, const char *model_id, uint64_t epoch, fault *f)
{
	lease_row r;

	if (epoch == 0)
		return 0;
	if (lease_get(c, model_id, &r, f) != 0)
		return -1;
	if (r.found && r.epoch == epoch && r.node[0] != '\0')
		return 0;
	return fault_set(f, FAULT_FENCED, "model '%s' is leased to %s%s%s "
			 "(epoch %" PRIu64 "): this write of epoch %" PRIu64
			 " changed nothing", model_id, r.node[0] ? "node '" :
			 "no node", r.node, r.node[0] ? "'" : "", r.epoch,
			 epoch);
}

int
lease_free_all(conn *c, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_FREE_ALL], f);

	if (st == NULL)
		return -1;
	return db_run(c, st, f, "releasing the leases of a past run");
}
