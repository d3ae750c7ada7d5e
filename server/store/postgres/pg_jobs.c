/*
 * pg_jobs: the jobs table on PostgreSQL. Insert, update and list (pages
 * of rows read in short transactions, the callback called with no
 * connection held); and, for the other files, the checks of a job row and
 * its update inside their own transaction. A job's training control lives
 * in its options JSON under "control", as on SQLite (jsonb functions
 * here; options stays a text column holding the same JSON).
 *
 * Owner (schema/pg/pg-3.sql, store.h "job claims"): store_job_insert
 * makes the job's node (j->node) its owner when one is set, and else
 * leaves it unowned, so claimable by any node (and wakes the others);
 * store_job_insert_owned (pg_claims.c) names the owner itself. An update
 * keeps the owner and the takeovers.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup */
#endif
#include "pg_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Jobs pg_jobs_each reads per transaction. */
#define JOBS_PAGE 64

int
pg_job_update_row(pg_conn *c, const store_job *j, fault *f)
{
	pg_params p = { 0 };
	int64_t n;

	pg_p_text(&p, j->id);
	pg_p_text(&p, store_job_status_name(j->status));
	pg_p_i64(&p, j->steps_done);
	pg_p_real(&p, j->loss);
	pg_p_text(&p, j->error);
	pg_p_time(&p, j->started_ms);
	pg_p_time(&p, j->finished_ms);
	/* the control object only once the job has a rate or a best */
	pg_p_real(&p, j->lr > 0 ? j->lr : NAN);
	pg_p_time(&p, j->best_step > 0 ? j->best_step : 0);
	pg_p_real(&p, isfinite(j->best_value) ? j->best_value : NAN);
	pg_p_i64(&p, j->stopped_step);
	pg_p_i64(&p, j->stop_waited);
	pg_p_real(&p, isfinite(j->stop_mark) ? j->stop_mark : NAN);
	pg_p_i64(&p, j->start_step);
	pg_p_i64(&p, j->ckpt_steps);
	pg_p_i64(&p, j->best_version);
	pg_p_text(&p, j->node);
	n = pg_run(c, "UPDATE jobs SET status = $2, steps_done = $3, "
		   "loss = $4, error = $5, started_ms = $6, finished_ms = $7, "
		   "options = CASE WHEN $8::float8 IS NULL AND "
		   "$9::bigint IS NULL THEN options "
		   "ELSE jsonb_set(options::jsonb, '{control}', "
		   "jsonb_build_object('lr', $8::float8, 'best_step', "
		   "$9::bigint, 'best_value', $10::float8, 'stopped_step', "
		   "$11::bigint, 'waited', $12::bigint, 'mark', $13::float8, "
		   "'start_step', $14::bigint, 'ckpt_steps', $15::bigint, "
		   "'best_version', $16::bigint))::text END, "
		   "node = coalesce(nullif($17, ''), node) "
		   "WHERE id = $1", &p, f, "updating a job");
	if (n < 0)
		return -1;
	if (n == 0)
		return fault_set(f, FAULT_INVALID, "no job with id '%.*s'",
				 STORE_ID_MAX, j->id);
	return 0;
}

int
pg_job_check(const store_job *j, int insert, fault *f)
{
	if (pg_check_id(j->id, "job", f) != 0)
		return -1;
	if (insert && pg_check_id(j->model_id, "model", f) != 0)
		return -1;
	if (store_job_status_name(j->status) == NULL)
		return fault_set(f, FAULT_INVALID, "job '%s' has a bad status",
				 j->id);
	if (j->steps_total < 0 || j->steps_done < 0)
		return fault_set(f, FAULT_INVALID,
				 "job '%s' has a negative step count", j->id);
	return 0;
}

int
pg_job_insert_row(pg_conn *c, const store_job *j, const char *owner,
		  fault *f)
{
	pg_params p = { 0 };
	int64_t n;

	if (pg_model_need(c, j->model_id, 0, f) != 0)
		return -1;
	pg_p_text(&p, j->id);
	pg_p_text(&p, j->model_id);
	pg_p_text(&p, store_job_status_name(j->status));
	pg_p_i64(&p, j->steps_total);
	pg_p_i64(&p, j->steps_done);
	pg_p_real(&p, j->loss);
	pg_p_text(&p, j->error);
	pg_p_text(&p, j->options ? j->options : "{}");
	pg_p_i64(&p, j->created_ms);
	pg_p_time(&p, j->started_ms);
	pg_p_time(&p, j->finished_ms);
	pg_p_text(&p, owner);
	n = pg_run(c, "INSERT INTO jobs (id, model_id, status, steps_total, "
		   "steps_done, loss, error, options, created_ms, started_ms, "
		   "finished_ms, owner) "
		   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
		   "ON CONFLICT (id) DO NOTHING", &p, f, "storing a job");
	if (n < 0)
		return -1;
	if (n == 0)
		return fault_set(f, FAULT_INVALID,
				 "a job with id '%s' already exists", j->id);
	if (owner == NULL && (j->status == STORE_JOB_QUEUED ||
	    j->status == STORE_JOB_RUNNING))
		return pg_jobs_notify(c, j->id, f);
	return 0;
}

static int
do_job_insert(pg_conn *c, void *arg, fault *f)
{
	const store_job *j = arg;

	return pg_job_insert_row(c, j, j->node[0] ? j->node : NULL, f);
}

int
pg_job_insert(store *s, const store_job *j, fault *f)
{
	if (pg_job_check(j, 1, f) != 0)
		return -1;
	return pg_write_tx((pg_store *)s, do_job_insert, (void *)j, f);
}

/* A job row to update, fenced by epoch (0: unfenced). */
struct job_update {
	const store_job *j;
	uint64_t epoch;
};

static int
do_job_update(pg_conn *c, void *arg, fault *f)
{
	const struct job_update *u = arg;

	if (pg_lease_check(c, u->j->model_id, u->epoch, f) != 0)
		return -1;
	return pg_job_update_row(c, u->j, f);
}

int
pg_job_update(store *s, const store_job *j, uint64_t epoch, fault *f)
{
	struct job_update u = { j, epoch };

	if (pg_job_check(j, 0, f) != 0)
		return -1;
	return pg_write_tx((pg_store *)s, do_job_update, &u, f);
}

/* Where pg_jobs_each is, and copies of the page of rows read last. */
struct job_page {
	const char *model_id;    /* NULL for all models */
	int64_t created_ms, seq; /* the last row read */
	int first;               /* no page read yet: check the model */
	int more;                /* the page was full: read on */
	size_t n;                /* rows in j */
	store_job j[JOBS_PAGE];  /* errors and options malloc'd */
};

static void
job_page_clear(struct job_page *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free((void *)k->j[i].error);
		free((void *)k->j[i].options);
	}
	k->n = 0;
}

static int
job_status_from_name(const char *name, store_job_status *s)
{
	for (int i = 0; i < STORE_JOB_STATUS_COUNT_; i++) {
		if (strcmp(name, store_job_status_name(
		    (store_job_status)i)) == 0) {
			*s = (store_job_status)i;
			return 0;
		}
	}
	return -1;
}

int
pg_job_fill(const PGresult *r, int i, store_job *j, fault *f)
{
	memset(j, 0, sizeof *j);
	if (pg_copy_id(j->id, r, i, 1, f) != 0 ||
	    pg_copy_id(j->model_id, r, i, 2, f) != 0)
		return -1;
	if (job_status_from_name(pg_text(r, i, 3), &j->status) != 0)
		return fault_set(f, FAULT_INTERNAL,
				 "job '%s' has an unknown status", j->id);
	j->steps_total = pg_i64(r, i, 4);
	j->steps_done = pg_i64(r, i, 5);
	j->loss = pg_real(r, i, 6);
	if (!pg_null(r, i, 7) && (j->error = pg_copy_text(r, i, 7, f)) == NULL)
		return -1;
	if ((j->options = pg_copy_text(r, i, 8, f)) == NULL) {
		free((void *)j->error);
		return -1;
	}
	j->created_ms = pg_i64(r, i, 9);
	j->started_ms = pg_i64(r, i, 10);   /* NULL is 0 */
	j->finished_ms = pg_i64(r, i, 11);
	j->lr = pg_null(r, i, 12) ? 0 : pg_real(r, i, 12);
	j->best_step = pg_i64(r, i, 13);    /* NULL is 0 */
	j->best_value = pg_real(r, i, 14);
	j->stopped_step = pg_i64(r, i, 15);
	j->stop_waited = pg_i64(r, i, 16);
	j->stop_mark = pg_real(r, i, 17);
	j->start_step = pg_i64(r, i, 18);
	j->ckpt_steps = pg_i64(r, i, 19);
	j->best_version = pg_i64(r, i, 20); /* NULL is 0 */
	snprintf(j->node, sizeof j->node, "%s", pg_text(r, i, 21));
	j->takeovers = pg_i64(r, i, 22);
	return 0;
}

/* Reads (copies of) the next page of jobs after the cursor. Text
 * results: the control values come out of the JSON as text. */
static int
do_job_page(pg_conn *c, void *arg, fault *f)
{
	struct job_page *k = arg;
	pg_params p = { 0 };
	PGresult *r;
	int rows;

	job_page_clear(k);
	if (k->first && k->model_id != NULL &&
	    pg_model_need(c, k->model_id, 0, f) != 0)
		return -1;
	pg_p_i64(&p, k->created_ms);
	pg_p_i64(&p, k->seq);
	pg_p_i64(&p, JOBS_PAGE);
	if (k->model_id != NULL)
		pg_p_text(&p, k->model_id);
	if (k->model_id != NULL)
		r = pg_exec(c, "SELECT " PG_JOB_COLUMNS " FROM jobs "
			    "WHERE model_id = $4 AND (created_ms, seq) > ($1, $2) "
			    "ORDER BY created_ms, seq LIMIT $3", &p, 0, f,
			    "listing jobs");
	else
		r = pg_exec(c, "SELECT " PG_JOB_COLUMNS " FROM jobs "
			    "WHERE (created_ms, seq) > ($1, $2) "
			    "ORDER BY created_ms, seq LIMIT $3", &p, 0, f,
			    "listing jobs");
	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	for (int i = 0; i < rows; i++) {
		if (pg_job_fill(r, i, &k->j[k->n], f) != 0) {
			PQclear(r);
			job_page_clear(k);
			return -1;
		}
		k->n++;
		k->seq = pg_i64(r, i, 0);
		k->created_ms = k->j[i].created_ms;
	}
	k->more = rows == JOBS_PAGE;
	PQclear(r);
	return 0;
}

int
pg_jobs_each(store *s, const char *model_id,
	     int (*cb)(void *arg, const store_job *j), void *arg, fault *f)
{
	struct job_page *k = calloc(1, sizeof *k);
	int r = 0;

	if (k == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory listing jobs");
	k->model_id = model_id;
	k->created_ms = INT64_MIN;
	k->seq = INT64_MIN;
	k->first = 1;
	do {
		if (pg_read_tx((pg_store *)s, do_job_page, k, f) != 0) {
			r = -1;
			break;
		}
		k->first = 0;
		for (size_t i = 0; i < k->n && r == 0; i++)
			r = cb(arg, &k->j[i]);
	} while (r == 0 && k->more);
	job_page_clear(k);
	free(k);
	return r;
}

/* What pg_job_get looks for, and a copy of the row it read. */
struct job_one {
	const char *id;
	int found;
	store_job j;           /* error and options malloc'd when found */
};

static int
do_job_one(pg_conn *c, void *arg, fault *f)
{
	struct job_one *k = arg;
	pg_params p = { 0 };
	PGresult *r;
	int rc = 0;

	if (k->found) { /* a run again: forget the first one's row */
		free((void *)k->j.error);
		free((void *)k->j.options);
		k->found = 0;
	}
	pg_p_text(&p, k->id);
	r = pg_exec(c, "SELECT " PG_JOB_COLUMNS " FROM jobs WHERE id = $1",
		    &p, 0, f, "reading a job");
	if (r == NULL)
		return -1;
	if (PQntuples(r) > 0) {
		rc = pg_job_fill(r, 0, &k->j, f);
		k->found = rc == 0;
	}
	PQclear(r);
	return rc;
}

int
pg_job_get(store *s, const char *job_id,
	   int (*cb)(void *arg, const store_job *j), void *arg, fault *f)
{
	struct job_one k;
	int rc;

	memset(&k, 0, sizeof k);
	k.id = job_id;
	if (pg_check_id(job_id, "job", f) != 0)
		return -1;
	if (pg_read_tx((pg_store *)s, do_job_one, &k, f) != 0)
		return -1;
	if (!k.found)
		return 0;
	/* the callback runs with no connection held */
	rc = cb(arg, &k.j);
	free((void *)k.j.error);
	free((void *)k.j.options);
	return rc == 0 ? 1 : rc;
}
