/*
 * pg_cancel: cancels of a job from any node on one PostgreSQL database
 * (store.h, "job offers and cancels"; jobs.cancel_requested of
 * schema/pg/pg-4.sql): the cancel of a job nobody alive owns, the
 * request to the live owner of one, and the owner's look for its
 * requests.
 *
 * DESIGN. A cancel of a job no live node owns is one conditional UPDATE
 * (queued, and its owner none or not alive by the database's clock), so
 * it and a claim of the same job (pg_claims.c, FOR UPDATE of the row)
 * serialize on the row: either the claim sees the job cancelled and skips
 * it, or the cancel sees the claimer alive and changes nothing (the
 * caller then asks for a cancel). A request sets the flag on an
 * unfinished job whoever owns it and wakes the nodes (NOTIFY on the
 * claims' channel, the job id as payload) in the same transaction; the
 * owner's claimer looks for its own flagged jobs every round (index
 * jobs_cancel_asked), so a lost wake-up costs at most one poll. The flag
 * stays with the job: if it is handed back or taken over before its owner
 * acted, the node that claims it sees the request. Rows are copied out
 * and every callback runs after COMMIT, with no connection held.
 */
#include "pg_int.h"

#include <stdlib.h>
#include <string.h>

/* How many flagged ids one look returns (store.h). */
#define ASKED_MAX 64

static const char sql_cancel_unclaimed[] =
	"UPDATE jobs j SET status = 'cancelled', "
	"finished_ms = $2 "
	"WHERE j.id = $1 AND j.status = 'queued' "
	"AND (j.owner IS NULL OR NOT EXISTS (SELECT 1 FROM nodes n "
	"WHERE n.node_id = j.owner AND n.expires_at > clock_timestamp())) "
	"RETURNING " PG_JOB_COLUMNS;

static const char sql_cancel_request[] =
	"UPDATE jobs SET cancel_requested = true "
	"WHERE id = $1 AND status IN ('queued', 'running') "
	"RETURNING " PG_JOB_COLUMNS;

static const char sql_cancel_asked[] =
	"SELECT id FROM jobs WHERE owner = $1 AND cancel_requested "
	"AND status IN ('queued', 'running') ORDER BY id LIMIT 64";

/* One conditional write that may return the job's row. */
struct one_row {
	const char *id;
	int64_t now_ms;
	int got;       /* a row was changed, copied into j */
	store_job j;   /* error and options malloc'd when got */
};

static void
one_forget(struct one_row *a)
{
	if (!a->got)
		return;
	free((void *)a->j.error);
	free((void *)a->j.options);
	a->got = 0;
}

/* Fills a from the RETURNING of r (none: nothing changed). */
static int
one_take(struct one_row *a, PGresult *r, fault *f)
{
	int rc = 0;

	if (PQntuples(r) > 0) {
		rc = pg_job_fill(r, 0, &a->j, f);
		a->got = rc == 0;
	}
	PQclear(r);
	return rc;
}

/* Runs body, then cb with the changed row (after COMMIT): 1, 0 or -1. */
static int
one_run(store *s, pg_body body, struct one_row *a,
	int (*cb)(void *arg, const store_job *j), void *arg, fault *f)
{
	if (pg_check_id(a->id, "job", f) != 0)
		return -1;
	if (pg_write_tx((pg_store *)s, body, a, f) != 0) {
		one_forget(a);
		return -1;
	}
	if (!a->got)
		return 0;
	if (cb != NULL)
		(void)cb(arg, &a->j);
	one_forget(a);
	return 1;
}

static int
do_cancel_unclaimed(pg_conn *c, void *arg, fault *f)
{
	struct one_row *a = arg;
	pg_params p = { 0 };
	PGresult *r;

	one_forget(a); /* a run again */
	pg_p_text(&p, a->id);
	pg_p_i64(&p, a->now_ms);
	if ((r = pg_exec(c, sql_cancel_unclaimed, &p, 0, f,
	    "cancelling a job")) == NULL)
		return -1;
	return one_take(a, r, f);
}

int
pg_job_cancel_unclaimed(store *s, const char *job_id, int64_t now_ms,
			int (*cb)(void *arg, const store_job *j), void *arg,
			fault *f)
{
	struct one_row a;

	memset(&a, 0, sizeof a);
	a.id = job_id;
	a.now_ms = now_ms;
	return one_run(s, do_cancel_unclaimed, &a, cb, arg, f);
}

static int
do_cancel_request(pg_conn *c, void *arg, fault *f)
{
	struct one_row *a = arg;
	pg_params p = { 0 };
	PGresult *r;

	one_forget(a); /* a run again */
	pg_p_text(&p, a->id);
	if ((r = pg_exec(c, sql_cancel_request, &p, 0, f,
	    "asking for a job's cancel")) == NULL)
		return -1;
	if (one_take(a, r, f) != 0)
		return -1;
	return a->got ? pg_jobs_notify(c, a->id, f) : 0;
}

int
pg_job_cancel_request(store *s, const char *job_id,
		      int (*cb)(void *arg, const store_job *j), void *arg,
		      fault *f)
{
	struct one_row a;

	memset(&a, 0, sizeof a);
	a.id = job_id;
	return one_run(s, do_cancel_request, &a, cb, arg, f);
}

/* The ids of one look. */
struct asked {
	const char *node;
	int n;
	char ids[ASKED_MAX][STORE_ID_MAX];
};

static int
do_asked(pg_conn *c, void *arg, fault *f)
{
	struct asked *a = arg;
	pg_params p = { 0 };
	PGresult *r;
	int rc = 0;

	a->n = 0;
	pg_p_text(&p, a->node);
	if ((r = pg_exec(c, sql_cancel_asked, &p, 0, f,
	    "looking for cancel requests")) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r) && i < ASKED_MAX && rc == 0; i++)
		if ((rc = pg_copy_id(a->ids[i], r, i, 0, f)) == 0)
			a->n++;
	PQclear(r);
	return rc;
}

int
pg_jobs_cancel_asked(store *s, const char *node_id,
		     void (*cb)(void *arg, const char *job_id), void *arg,
		     fault *f)
{
	struct asked *a = calloc(1, sizeof *a);
	int n;

	if (a == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory");
	a->node = node_id;
	if (pg_read_tx((pg_store *)s, do_asked, a, f) != 0) {
		free(a);
		return -1;
	}
	for (int i = 0; i < a->n; i++)
		cb(arg, a->ids[i]);
	n = a->n;
	free(a);
	return n;
}
