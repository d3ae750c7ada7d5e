/*
 * pg_listen: following other nodes on one PostgreSQL database (store.h,
 * "following other nodes"): the models' channel, on which every commit
 * that changes a model's weights or checkpoint announces the model's id,
 * and the read of the job rows written since a cursor
 * (jobs.changed_tx, schema/pg/pg-5.sql).
 *
 * DESIGN. pg_models_notify runs pg_notify('mlpd_models', id) inside the
 * writer's transaction (pg_progress.c's checkpoint and revert,
 * pg_models.c's weights), so the notification goes out when, and only if,
 * the commit does. store_models_wait listens on a connection of its own
 * (s->mlistener, outside the pool, as pg_claims.c's job listener: a
 * pooled connection would hold a slot through the whole wait, and LISTEN
 * belongs to a session), opened by a wait and opened again by the next
 * wait after the server dropped it; a wait is PQconsumeInput + poll() on
 * its socket and on the caller's cancel fd until a notification, the
 * cancel or the timeout. A notification sent while no listener was open
 * is lost, so a wait that opens the listener answers 2 at once and the
 * caller looks at every model. Payloads are ids, never data: the caller
 * reads the model's row.
 *
 * Changed jobs. A trigger numbers every write of a job row with its
 * transaction's id (changed_tx). A read runs in pages, each a REPEATABLE
 * READ transaction, keyed by (changed_tx, seq) from the cursor; the next
 * cursor is the oldest transaction the first page's snapshot did not see
 * (txid_snapshot_xmin): any write that snapshot missed, committed or not
 * yet, has a transaction id at or past it, so the next read has it.
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

/* The channel of the weight notifications (store.h). */
#define CHANNEL "mlpd_models"

/* Job rows read per transaction. */
#define CHANGED_PAGE 64

/* Longest single poll(): a wait of any length wakes at least this often
 * to look at its connection. */
#define POLL_SLICE_MS 60000

int
pg_models_notify(pg_conn *c, const char *model_id, fault *f)
{
	pg_params p = { 0 };
	PGresult *r;

	pg_p_text(&p, model_id);
	r = pg_exec(c, "SELECT pg_notify('" CHANNEL "', $1)", &p, 0, f,
		    "announcing new weights");
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

/* ---- the wait ---- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Opens s->mlistener and LISTENs (see DESIGN). */
static int
listener_open(pg_store *s, fault *f)
{
	pg_conn *c = pg_conn_open(s, f);
	PGresult *r;

	if (c == NULL)
		return -1;
	r = PQexec(c->pq, "LISTEN " CHANNEL);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_fault(c, r, f, "listening for new weights");
		PQclear(r);
		pg_conn_close(c);
		return -1;
	}
	PQclear(r);
	s->mlistener = c;
	return 0;
}

/* The listener was lost: closed, to be opened again by the next wait. */
static int
listener_lost(pg_store *s, fault *f)
{
	char msg[160];

	snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->mlistener->pq));
	pg_scrub(s, msg);
	pg_listen_close(s);
	return fault_set(f, FAULT_UNAVAILABLE, "waiting for new weights: "
			 "PostgreSQL is unavailable (%s)", msg[0] ? msg :
			 "connection lost");
}

/* Gives every notification waiting on pq to cb: 1 when there was one. */
static int
hand_out(PGconn *pq, int (*cb)(void *arg, const char *model_id), void *arg)
{
	PGnotify *n;
	int any = 0;

	while ((n = PQnotifies(pq)) != NULL) {
		any = 1;
		if (n->extra != NULL && n->extra[0] != '\0')
			(void)cb(arg, n->extra);
		PQfreemem(n);
	}
	return any;
}

int
pg_models_wait(store *st, int64_t timeout_ms, int cancel_fd,
	       int (*cb)(void *arg, const char *model_id), void *arg,
	       fault *f)
{
	pg_store *s = (pg_store *)st;
	int64_t until = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	if (s->mlistener == NULL)
		return listener_open(s, f) == 0 ? 2 : -1;
	for (;;) {
		PGconn *pq = s->mlistener->pq;
		struct pollfd pfd[2];
		int64_t left;
		int n;

		if (!PQconsumeInput(pq) || PQstatus(pq) != CONNECTION_OK)
			return listener_lost(s, f);
		if (hand_out(pq, cb, arg))
			return 1;
		if ((left = until - mono_ms()) <= 0)
			return 0;
		pfd[0].fd = PQsocket(pq);
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = cancel_fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		if (pfd[0].fd < 0)
			return listener_lost(s, f);
		n = poll(pfd, cancel_fd >= 0 ? 2 : 1, left > POLL_SLICE_MS ?
			 POLL_SLICE_MS : (int)left);
		if (n < 0 && errno != EINTR)
			return fault_set(f, FAULT_INTERNAL, "waiting for new "
					 "weights: poll: %s", strerror(errno));
		if (n > 0 && cancel_fd >= 0 && pfd[1].revents != 0)
			return 0;
	}
}

void
pg_listen_close(pg_store *s)
{
	pg_conn_close(s->mlistener);
	s->mlistener = NULL;
}

/* ---- the jobs written since a cursor ---- */

/* Where a read is, and copies of the page of rows read last. */
struct changed {
	int64_t since;           /* the caller's cursor */
	int64_t next;            /* the next cursor (the first page's) */
	int64_t tx, seq;         /* the last row read */
	int first;               /* no page read yet */
	int more;                /* the page was full: read on */
	size_t n;                /* rows in j */
	store_job j[CHANGED_PAGE]; /* errors and options malloc'd */
};

static void
changed_clear(struct changed *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free((void *)k->j[i].error);
		free((void *)k->j[i].options);
	}
	k->n = 0;
}

static int
do_changed_page(pg_conn *c, void *arg, fault *f)
{
	struct changed *k = arg;
	pg_params p = { 0 };
	PGresult *r;
	int rows;

	changed_clear(k);
	if (k->first) {
		r = pg_exec(c, "SELECT txid_snapshot_xmin("
			    "txid_current_snapshot())", NULL, 0, f,
			    "reading the jobs changed");
		if (r == NULL)
			return -1;
		k->next = pg_i64(r, 0, 0);
		PQclear(r);
	}
	pg_p_i64(&p, k->tx);
	pg_p_i64(&p, k->seq);
	pg_p_i64(&p, CHANGED_PAGE);
	r = pg_exec(c, "SELECT " PG_JOB_COLUMNS ", changed_tx FROM jobs "
		    "WHERE (changed_tx, seq) > ($1, $2) "
		    "ORDER BY changed_tx, seq LIMIT $3", &p, 0, f,
		    "reading the jobs changed");
	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	for (int i = 0; i < rows; i++) {
		if (pg_job_fill(r, i, &k->j[k->n], f) != 0) {
			PQclear(r);
			changed_clear(k);
			return -1;
		}
		k->n++;
		k->seq = pg_i64(r, i, 0);
		k->tx = pg_i64(r, i, PQnfields(r) - 1);
	}
	k->more = rows == CHANGED_PAGE;
	PQclear(r);
	return 0;
}

int
pg_jobs_changed(store *s, uint64_t *cursor,
		int (*cb)(void *arg, const store_job *j), void *arg,
		fault *f)
{
	struct changed *k;
	int r = 0;

	if (*cursor > (uint64_t)INT64_MAX)
		return fault_set(f, FAULT_INVALID, "cursor %llu is out of "
				 "range", (unsigned long long)*cursor);
	if ((k = calloc(1, sizeof *k)) == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory reading the "
				 "jobs changed");
	k->since = (int64_t)*cursor;
	/* from (since, any seq) on: every row with changed_tx >= since */
	k->tx = k->since;
	k->seq = INT64_MIN;
	k->first = 1;
	do {
		if (pg_read_tx((pg_store *)s, do_changed_page, k, f) != 0) {
			r = -1;
			break;
		}
		k->first = 0;
		for (size_t i = 0; i < k->n && r == 0; i++)
			r = cb(arg, &k->j[i]);
	} while (r == 0 && k->more);
	if (r == 0)
		*cursor = (uint64_t)k->next;
	changed_clear(k);
	free(k);
	return r;
}
