/*
 * pg_claims: job claims by several nodes on one PostgreSQL database
 * (store.h, "job claims"; tables nodes and jobs.owner/takeovers of
 * schema/pg/pg-3.sql): the nodes' beats and leaving, the insert of an
 * owned job, the offer of a new job (kept by the node that accepts it
 * only when it can start it at once: no other unfinished job of its
 * model, no other node's live lease on it, decided under a transaction
 * lock on the model's offers), the claim, the hand-back, the counts of
 * unfinished jobs, and the wake-up channel that lets a waiting node know
 * there may be a job to claim.
 *
 * DESIGN. Every time is the database's (clock_timestamp()), so the nodes'
 * clocks need not agree. A claim is one write transaction of two
 * statements: a SELECT of the oldest claimable job (the rules of store.h
 * in its WHERE, ORDER BY created_ms, seq over the partial index jobs_claim)
 * FOR UPDATE SKIP LOCKED LIMIT 1, so two nodes claiming at once lock two
 * different rows and neither waits for the other; then the UPDATE that
 * makes it ours, RETURNING the row for the callback (run after COMMIT,
 * with no connection held). Under READ COMMITTED a row changed by a
 * transaction that committed meanwhile is locked in its new version and
 * the whole WHERE checked again on it, so a job another node claimed
 * first is never claimed twice. The rule "oldest unfinished job of its
 * model" keeps a model's jobs in order and one at a time across nodes: a
 * later job of a model is not claimable while an earlier one is queued or
 * running anywhere (even locked by another claim in flight).
 *
 * Wake-ups. Inserting a claimable job, a hand-back, a join that frees
 * jobs, and a node leaving run pg_notify('mlpd_jobs', id or '') in their
 * own transaction, so the notification goes out when (and only if) the
 * change commits. store_jobs_wait listens on a connection of its own
 * (s->listener, outside the pool: a pooled connection would take a slot
 * for the whole wait, and LISTEN is a session's), opened by the first
 * wait and opened again after the server dropped it; a wait is
 * PQconsumeInput + poll() on its socket and on the caller's wake fd until
 * a notification, the wake fd readable (this node's own wake-up: a
 * trainer freed a worker, or the claimer stops) or the timeout. A notification sent while no listener was open is lost, so a
 * listener opened again after a drop answers 1 (woken) at once, and the
 * caller looks; the caller's poll covers the first one (it claims before
 * it waits). Payloads are ids, never data, and only wake: the claim
 * decides.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include "pg_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The channel of the wake-ups (store.h). */
#define CHANNEL "mlpd_jobs"

/* A job's steps at its last checkpoint, from its control JSON (0 when it
 * has none: it never checkpointed). */
#define CKPT_STEPS \
	"coalesce((options::jsonb #>> '{control,ckpt_steps}')::numeric" \
	"::bigint, 0)"

static const char sql_beat[] =
	"INSERT INTO nodes (node_id, expires_at) "
	"VALUES ($1, clock_timestamp() + $2 * interval '1 millisecond') "
	"ON CONFLICT (node_id) DO UPDATE SET expires_at = excluded.expires_at";

static const char sql_join[] =
	"UPDATE jobs SET owner = NULL "
	"WHERE owner = $1 AND status IN ('queued', 'running')";

static const char sql_leave[] =
	"DELETE FROM nodes WHERE node_id = $1";

/* The oldest claimable job for node $1 (store.h's rules, one a line). */
static const char sql_pick[] =
	"SELECT j.id FROM jobs j "
	"WHERE j.status IN ('queued', 'running') "
	"AND (j.owner IS NULL OR NOT EXISTS (SELECT 1 FROM nodes n "
	"WHERE n.node_id = j.owner AND n.expires_at > clock_timestamp())) "
	"AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.model_id = j.model_id "
	"AND o.status IN ('queued', 'running') "
	"AND (o.created_ms, o.seq) < (j.created_ms, j.seq)) "
	"AND NOT EXISTS (SELECT 1 FROM lease l WHERE l.model_id = j.model_id "
	"AND l.node_id <> '' AND l.node_id <> $1 "
	"AND l.expires_at > clock_timestamp()) "
	"ORDER BY j.created_ms, j.seq LIMIT 1 FOR UPDATE OF j SKIP LOCKED";

static const char sql_take[] =
	"UPDATE jobs SET owner = $2, node = $2, status = 'queued', "
	"steps_done = " CKPT_STEPS ", "
	"takeovers = takeovers + (started_ms IS NOT NULL)::int "
	"WHERE id = $1 RETURNING " PG_JOB_COLUMNS;

static const char sql_handback[] =
	"UPDATE jobs SET owner = NULL, status = 'queued', "
	"steps_done = " CKPT_STEPS " "
	"WHERE id = $1 AND owner = $2 AND status IN ('queued', 'running')";

int
pg_jobs_notify(pg_conn *c, const char *payload, fault *f)
{
	pg_params p = { 0 };
	PGresult *r;

	pg_p_text(&p, payload);
	r = pg_exec(c, "SELECT pg_notify('" CHANNEL "', $1)", &p, 0, f,
		    "waking the other nodes");
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

/* ---- beats ---- */

/* A beat or a leave. */
struct node_arg {
	const char *node;
	int64_t ttl_ms;
	int join;
};

static int
do_beat(pg_conn *c, void *arg, fault *f)
{
	const struct node_arg *a = arg;
	pg_params p = { 0 }, q = { 0 };
	int64_t freed = 0;

	pg_p_text(&p, a->node);
	if (a->join && (freed = pg_run(c, sql_join, &p, f,
	    "freeing a node's jobs")) < 0)
		return -1;
	if (freed > 0 && pg_jobs_notify(c, "", f) != 0)
		return -1;
	pg_p_text(&q, a->node);
	pg_p_i64(&q, a->ttl_ms);
	return pg_run(c, sql_beat, &q, f, "marking a node alive") < 0 ? -1 :
	    0;
}

int
pg_node_beat(store *s, const char *node_id, int64_t ttl_ms, int join,
	     fault *f)
{
	struct node_arg a = { node_id, ttl_ms, join };

	return pg_write_tx((pg_store *)s, do_beat, &a, f);
}

static int
do_leave(pg_conn *c, void *arg, fault *f)
{
	const struct node_arg *a = arg;
	pg_params p = { 0 };

	pg_p_text(&p, a->node);
	if (pg_run(c, sql_leave, &p, f, "marking a node gone") < 0)
		return -1;
	return pg_jobs_notify(c, "", f);
}

int
pg_node_leave(store *s, const char *node_id, fault *f)
{
	struct node_arg a = { node_id, 0, 0 };

	return pg_write_tx((pg_store *)s, do_leave, &a, f);
}

/* ---- insert, claim, hand-back ---- */

struct owned_arg {
	const store_job *j;
	const char *owner; /* NULL: none */
};

static int
do_insert_owned(pg_conn *c, void *arg, fault *f)
{
	const struct owned_arg *a = arg;

	return pg_job_insert_row(c, a->j, a->owner, f);
}

int
pg_job_insert_owned(store *s, const store_job *j, const char *owner,
		    fault *f)
{
	struct owned_arg a = { j, owner != NULL && owner[0] ? owner : NULL };

	if (pg_job_check(j, 1, f) != 0)
		return -1;
	return pg_write_tx((pg_store *)s, do_insert_owned, &a, f);
}

/* ---- the offer of a new job (store_job_offer) ---- */

/* Serializes the offers of one model's jobs (two int keys: apart from the
 * bigint keys of pg_open.c), until the transaction ends. */
static const char sql_model_lock[] =
	"SELECT pg_advisory_xact_lock(1835823204, hashtext($1))";

/* Whether node $2 may keep a new job of model $1 (store.h). */
static const char sql_may_keep[] =
	"SELECT NOT EXISTS (SELECT 1 FROM jobs o WHERE o.model_id = $1 "
	"AND o.status IN ('queued', 'running')) "
	"AND NOT EXISTS (SELECT 1 FROM lease l WHERE l.model_id = $1 "
	"AND l.node_id <> '' AND l.node_id <> $2 "
	"AND l.expires_at > clock_timestamp())";

struct offer_arg {
	const store_job *j;
	const char *node;
	int keep;      /* in: asked; out: kept */
	int asked;
};

static int
do_offer(pg_conn *c, void *arg, fault *f)
{
	struct offer_arg *a = arg;
	pg_params p = { 0 }, q = { 0 };
	PGresult *r;

	a->keep = a->asked; /* a run again */
	if (a->keep) {
		pg_p_text(&p, a->j->model_id);
		if (pg_run(c, sql_model_lock, &p, f, "offering a job") < 0)
			return -1;
		pg_p_text(&q, a->j->model_id);
		pg_p_text(&q, a->node);
		if ((r = pg_exec(c, sql_may_keep, &q, 0, f, "offering a job")) ==
		    NULL)
			return -1;
		a->keep = PQntuples(r) == 1 && strcmp(pg_text(r, 0, 0), "t") ==
		    0;
		PQclear(r);
	}
	return pg_job_insert_row(c, a->j, a->keep ? a->node : NULL, f);
}

int
pg_job_offer(store *s, const store_job *j, const char *node_id, int keep,
	     fault *f)
{
	struct offer_arg a = { j, node_id, 0, keep != 0 };

	if (pg_job_check(j, 1, f) != 0 ||
	    pg_write_tx((pg_store *)s, do_offer, &a, f) != 0)
		return -1;
	return a.keep;
}

/* A claim: for whom, and a copy of the row it claimed. */
struct claim_arg {
	const char *node;
	int got;       /* a row was claimed into j */
	store_job j;   /* error and options malloc'd when got */
};

static void
claim_forget(struct claim_arg *a)
{
	if (!a->got)
		return;
	free((void *)a->j.error);
	free((void *)a->j.options);
	a->got = 0;
}

static int
do_claim(pg_conn *c, void *arg, fault *f)
{
	struct claim_arg *a = arg;
	pg_params p = { 0 }, q = { 0 };
	PGresult *r;
	char id[STORE_ID_MAX];
	int rc;

	claim_forget(a); /* a run again */
	pg_p_text(&p, a->node);
	if ((r = pg_exec(c, sql_pick, &p, 0, f, "claiming a job")) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	rc = pg_copy_id(id, r, 0, 0, f);
	PQclear(r);
	if (rc != 0)
		return -1;
	pg_p_text(&q, id);
	pg_p_text(&q, a->node);
	if ((r = pg_exec(c, sql_take, &q, 0, f, "claiming a job")) == NULL)
		return -1;
	if (PQntuples(r) != 1) { /* locked above: cannot happen */
		PQclear(r);
		return fault_set(f, FAULT_INTERNAL, "claiming a job: job '%s' "
				 "went away", id);
	}
	rc = pg_job_fill(r, 0, &a->j, f);
	PQclear(r);
	if (rc != 0)
		return -1;
	a->got = 1;
	return 0;
}

int
pg_job_claim(store *s, const char *node_id,
	     int (*cb)(void *arg, const store_job *j), void *arg, fault *f)
{
	struct claim_arg a;

	memset(&a, 0, sizeof a);
	a.node = node_id;
	if (pg_write_tx((pg_store *)s, do_claim, &a, f) != 0) {
		claim_forget(&a);
		return -1;
	}
	if (!a.got)
		return 0;
	/* committed: the job is node_id's whatever cb answers */
	(void)cb(arg, &a.j);
	claim_forget(&a);
	return 1;
}

struct handback_arg {
	const char *job, *node;
	int done;      /* 1: handed back */
};

static int
do_handback(pg_conn *c, void *arg, fault *f)
{
	struct handback_arg *a = arg;
	pg_params p = { 0 };
	int64_t n;

	pg_p_text(&p, a->job);
	pg_p_text(&p, a->node);
	if ((n = pg_run(c, sql_handback, &p, f, "handing a job back")) < 0)
		return -1;
	a->done = n > 0;
	return a->done ? pg_jobs_notify(c, a->job, f) : 0;
}

int
pg_job_handback(store *s, const char *job_id, const char *node_id,
		fault *f)
{
	struct handback_arg a = { job_id, node_id, 0 };

	if (pg_check_id(job_id, "job", f) != 0 ||
	    pg_write_tx((pg_store *)s, do_handback, &a, f) != 0)
		return -1;
	return a.done;
}

/* ---- counts ---- */

/* The unfinished jobs of model $1 (every model's when NULL); with $2 <>
 * 0 only those no live node owns. */
static const char sql_unfinished[] =
	"SELECT count(*) FROM jobs j "
	"WHERE j.status IN ('queued', 'running') "
	"AND ($1::text IS NULL OR j.model_id = $1) "
	"AND ($2 = 0 OR j.owner IS NULL OR NOT EXISTS (SELECT 1 FROM nodes n "
	"WHERE n.node_id = j.owner AND n.expires_at > clock_timestamp()))";

struct count_arg {
	const char *model;
	int64_t unclaimed;
	int64_t n;
};

static int
do_count(pg_conn *c, void *arg, fault *f)
{
	struct count_arg *a = arg;
	pg_params p = { 0 };
	PGresult *r;

	pg_p_text(&p, a->model);
	pg_p_i64(&p, a->unclaimed);
	if ((r = pg_exec(c, sql_unfinished, &p, 0, f, "counting jobs")) ==
	    NULL)
		return -1;
	a->n = pg_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

int
pg_jobs_unfinished(store *s, const char *model_id, int unclaimed,
		   int64_t *n, fault *f)
{
	struct count_arg a = { model_id, unclaimed != 0, 0 };

	if (model_id != NULL && pg_check_id(model_id, "model", f) != 0)
		return -1;
	if (pg_read_tx((pg_store *)s, do_count, &a, f) != 0)
		return -1;
	*n = a.n;
	return 0;
}

/* ---- the wake-up channel ---- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Opens s->listener and LISTENs (see DESIGN). */
static int
listen_open(pg_store *s, fault *f)
{
	pg_conn *c = pg_conn_open(s, f);
	PGresult *r;

	if (c == NULL)
		return -1;
	r = PQexec(c->pq, "LISTEN " CHANNEL);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_fault(c, r, f, "listening for jobs");
		PQclear(r);
		pg_conn_close(c);
		return -1;
	}
	PQclear(r);
	s->listener = c;
	return 0;
}

/* The listener was lost: closed, to be opened again by the next wait. */
static int
listen_lost(pg_store *s, fault *f)
{
	char msg[160];

	snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->listener->pq));
	pg_scrub(s, msg);
	pg_conn_close(s->listener);
	s->listener = NULL;
	return fault_set(f, FAULT_UNAVAILABLE, "waiting for jobs: "
			 "PostgreSQL is unavailable (%s)", msg[0] ? msg :
			 "connection lost");
}

/* 1 when notifications were waiting (all taken), else 0. */
static int
take_notifies(PGconn *pq)
{
	PGnotify *n;
	int any = 0;

	while ((n = PQnotifies(pq)) != NULL) {
		any = 1;
		PQfreemem(n);
	}
	return any;
}

int
pg_jobs_wait(store *st, int64_t timeout_ms, int wake_fd, fault *f)
{
	pg_store *s = (pg_store *)st;
	int64_t until = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	if (s->listener == NULL) {
		int again = s->listened;

		if (listen_open(s, f) != 0)
			return -1;
		s->listened = 1;
		if (again)
			return 1; /* wake-ups may have been missed meanwhile */
	}
	for (;;) {
		PGconn *pq = s->listener->pq;
		struct pollfd pfd[2];
		int64_t left;
		int n;

		if (!PQconsumeInput(pq) || PQstatus(pq) != CONNECTION_OK)
			return listen_lost(s, f);
		if (take_notifies(pq))
			return 1;
		if ((left = until - mono_ms()) <= 0)
			return 0;
		pfd[0].fd = PQsocket(pq);
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = wake_fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		if (pfd[0].fd < 0)
			return listen_lost(s, f);
		n = poll(pfd, wake_fd >= 0 ? 2 : 1, left > 60000 ? 60000 :
			 (int)left);
		if (n < 0 && errno != EINTR)
			return fault_set(f, FAULT_INTERNAL, "waiting for jobs: "
					 "poll: %s", strerror(errno));
		if (n > 0 && wake_fd >= 0 && pfd[1].revents != 0)
			return 1;
	}
}

void
pg_claims_close(pg_store *s)
{
	pg_conn_close(s->listener);
	s->listener = NULL;
}
