/*
 * pg_lease: the lease table (schema/pg/pg-2.sql) of the PostgreSQL
 * backend: take, renew and release a model's lease (pg_lease_*), the epoch
 * check the fenced writes run inside their own transaction
 * (pg_lease_check). store.h, "leases", has the contract. Every time is the
 * database's (clock_timestamp()), so the nodes' clocks need not agree.
 *
 * DESIGN. A take is one statement: an upsert whose DO UPDATE applies only
 * when the lease is ours, released or expired, and gives the new epoch
 * (the same one when the lease is ours and live); the conflicting row is
 * locked either way, so two nodes taking at once are serialized by the
 * row lock and exactly one of them wins. pg_lease_check locks the row FOR
 * SHARE: a take (an UPDATE) waits for the fenced writes in flight, and the
 * writes after it read the new epoch; so a stale epoch never commits.
 * A writer stalled with that row locked is ended by the server after a
 * TTL idle (pg_idle_limit, "Stalls" in pg_int.h), so the take waits at
 * most that long.
 */
#include "pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char sql_take[] =
	"INSERT INTO lease (model_id, node_id, epoch, expires_at) "
	"VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond') "
	"ON CONFLICT (model_id) DO UPDATE SET "
	"epoch = CASE WHEN lease.node_id = excluded.node_id AND "
	"lease.expires_at > clock_timestamp() THEN lease.epoch "
	"ELSE lease.epoch + 1 END, "
	"node_id = excluded.node_id, expires_at = excluded.expires_at "
	"WHERE lease.node_id = excluded.node_id OR lease.node_id = '' OR "
	"lease.expires_at <= clock_timestamp() "
	"RETURNING epoch";

static const char sql_holder[] =
	"SELECT node_id FROM lease WHERE model_id = $1 AND node_id <> '' AND "
	"expires_at > clock_timestamp()";

static const char sql_renew[] =
	"UPDATE lease SET expires_at = clock_timestamp() + $4 * "
	"interval '1 millisecond' "
	"WHERE model_id = $1 AND node_id = $2 AND epoch = $3";

static const char sql_release[] =
	"UPDATE lease SET node_id = '', expires_at = '-infinity' "
	"WHERE model_id = $1 AND node_id = $2 AND epoch = $3";

static const char sql_check[] =
	"SELECT node_id, epoch FROM lease WHERE model_id = $1 FOR SHARE";

/* What a take, renew or release is about, and its answer. */
typedef struct lease_arg {
	const char *model_id, *node;
	int64_t ttl_ms;
	uint64_t epoch;      /* renew, release: the caller's; take: out */
	char holder[STORE_NODE_MAX];
	int result;          /* 1 or 0, as the public calls answer */
} lease_arg;

/* a->holder gets the live holder of a->model_id ("" when none). */
static int
read_holder(pg_conn *c, lease_arg *a, fault *f)
{
	pg_params p = { 0 };
	PGresult *r;

	pg_p_text(&p, a->model_id);
	if ((r = pg_exec(c, sql_holder, &p, 0, f, "reading a lease")) == NULL)
		return -1;
	snprintf(a->holder, sizeof a->holder, "%s", PQntuples(r) > 0 ?
	    pg_text(r, 0, 0) : "");
	PQclear(r);
	return 0;
}

static int
do_take(pg_conn *c, void *arg, fault *f)
{
	lease_arg *a = arg;
	pg_params p = { 0 };
	PGresult *r;

	pg_p_text(&p, a->model_id);
	pg_p_text(&p, a->node);
	pg_p_i64(&p, a->ttl_ms);
	if ((r = pg_exec(c, sql_take, &p, 0, f, "taking a lease")) == NULL)
		return -1;
	a->result = PQntuples(r) > 0;
	if (a->result)
		a->epoch = (uint64_t)pg_i64(r, 0, 0);
	PQclear(r);
	if (a->result) {
		snprintf(a->holder, sizeof a->holder, "%s", a->node);
		return 0;
	}
	return read_holder(c, a, f);
}

int
pg_lease_take(store *s, const char *model_id, const char *node_id,
	      int64_t ttl_ms, uint64_t *epoch, char *holder,
	      size_t holder_len, fault *f)
{
	lease_arg a = { model_id, node_id, ttl_ms, 0, "", 0 };

	pg_idle_limit((pg_store *)s, ttl_ms);
	if (pg_write_tx((pg_store *)s, do_take, &a, f) != 0)
		return -1;
	if (a.result == 1)
		*epoch = a.epoch;
	if (holder != NULL && holder_len > 0)
		snprintf(holder, holder_len, "%s", a.holder);
	return a.result;
}

static int
do_renew(pg_conn *c, void *arg, fault *f)
{
	lease_arg *a = arg;
	pg_params p = { 0 };
	int64_t n;

	pg_p_text(&p, a->model_id);
	pg_p_text(&p, a->node);
	pg_p_i64(&p, (int64_t)a->epoch);
	pg_p_i64(&p, a->ttl_ms);
	if ((n = pg_run(c, sql_renew, &p, f, "renewing a lease")) < 0)
		return -1;
	a->result = n > 0;
	return a->result ? 0 : read_holder(c, a, f);
}

int
pg_lease_renew(store *s, const char *model_id, const char *node_id,
	       uint64_t epoch, int64_t ttl_ms, char *holder,
	       size_t holder_len, fault *f)
{
	lease_arg a = { model_id, node_id, ttl_ms, epoch, "", 0 };

	pg_idle_limit((pg_store *)s, ttl_ms);
	if (pg_write_tx((pg_store *)s, do_renew, &a, f) != 0)
		return -1;
	if (holder != NULL && holder_len > 0)
		snprintf(holder, holder_len, "%s", a.holder);
	return a.result;
}

static int
do_release(pg_conn *c, void *arg, fault *f)
{
	lease_arg *a = arg;
	pg_params p = { 0 };
	int64_t n;

	pg_p_text(&p, a->model_id);
	pg_p_text(&p, a->node);
	pg_p_i64(&p, (int64_t)a->epoch);
	if ((n = pg_run(c, sql_release, &p, f, "releasing a lease")) < 0)
		return -1;
	a->result = n > 0;
	return 0;
}

int
pg_lease_release(store *s, const char *model_id, const char *node_id,
		 uint64_t epoch, fault *f)
{
	lease_arg a = { model_id, node_id, 0, epoch, "", 0 };

	if (pg_write_tx((pg_store *)s, do_release, &a, f) != 0)
		return -1;
	return a.result;
}

int
pg_lease_check(pg_conn *c, const char *model_id, uint64_t epoch, fault *f)
{
	pg_params p = { 0 };
	PGresult *r;
	char node[STORE_NODE_MAX] = "";
	uint64_t now = 0;

	if (epoch == 0)
		return 0;
	pg_p_text(&p, model_id);
	if ((r = pg_exec(c, sql_check, &p, 0, f, "checking a lease")) == NULL)
		return -1;
	if (PQntuples(r) > 0) {
		snprintf(node, sizeof node, "%s", pg_text(r, 0, 0));
		now = (uint64_t)pg_i64(r, 0, 1);
	}
	PQclear(r);
	if (now == epoch && node[0] != '\0')
		return 0;
	return fault_set(f, FAULT_FENCED, "model '%s' is leased to %s%s%s "
			 "(epoch %" PRIu64 "): this write of epoch %" PRIu64
			 " changed nothing", model_id, node[0] ? "node '" :
			 "no node", node, node[0] ? "'" : "", now, epoch);
}
