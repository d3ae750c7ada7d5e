/*
 * store_jobs: the jobs table. Insert, update, list (one short read per
 * row, so a callback may call back into the store) and read one by id;
 * and, for the other store files, the checks of a job row, its update
 * inside their own transaction (a progress commit, a revert) and the crash
 * recovery that interrupts unfinished jobs. (The job claims of store.h are
 * a shared store's: SQLite has only store_job_get of them.)
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup */
#endif
#include "store_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum q {
	Q_JOB_INSERT,
	Q_JOB_UPDATE,
	Q_JOB_NEXT,
	Q_JOB_NEXT_OF_MODEL,
	Q_JOB_INTERRUPT,
	Q_JOB_GET,
	Q_COUNT_
};

/* A job's training control lives in its options JSON under "control"
 * (SQLite's JSON functions; no column of its own). */
#define JOB_COLUMNS \
	"rowid, id, model_id, status, steps_total, steps_done, loss, error, " \
	"options, created_ms, started_ms, finished_ms, " \
	"json_extract(options, '$.control.lr'), " \
	"json_extract(options, '$.control.best_step'), " \
	"json_extract(options, '$.control.best_value'), " \
	"json_extract(options, '$.control.stopped_step'), " \
	"json_extract(options, '$.control.waited'), " \
	"json_extract(options, '$.control.mark'), " \
	"json_extract(options, '$.control.start_step'), " \
	"json_extract(options, '$.control.ckpt_steps'), " \
	"json_extract(options, '$.control.best_version'), node"

static const char *const q_sql[Q_COUNT_] = {
	[Q_JOB_INSERT] =
		"INSERT INTO jobs (id, model_id, status, steps_total, "
		"steps_done, loss, error, options, created_ms, started_ms, "
		"finished_ms) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[Q_JOB_UPDATE] =
		"UPDATE jobs SET status = ?2, steps_done = ?3, loss = ?4, "
		"error = ?5, started_ms = ?6, finished_ms = ?7, "
		"options = CASE WHEN coalesce(?8, ?9) IS NULL THEN options "
		"ELSE json_set(options, '$.control', json_object('lr', ?8, "
		"'best_step', ?9, 'best_value', ?10, 'stopped_step', ?11, "
		"'waited', ?12, 'mark', ?13, 'start_step', ?14, "
		"'ckpt_steps', ?15, 'best_version', ?16)) END, "
		"node = coalesce(nullif(?17, ''), node) "
		"WHERE id = ?1",
	[Q_JOB_NEXT] =
		"SELECT " JOB_COLUMNS " FROM jobs "
		"WHERE (created_ms, rowid) > (?1, ?2) "
		"ORDER BY created_ms, rowid LIMIT 1",
	[Q_JOB_NEXT_OF_MODEL] =
		"SELECT " JOB_COLUMNS " FROM jobs "
		"WHERE model_id = ?3 AND (created_ms, rowid) > (?1, ?2) "
		"ORDER BY created_ms, rowid LIMIT 1",
	[Q_JOB_INTERRUPT] =
		"UPDATE jobs SET status = 'interrupted', finished_ms = ?1 "
		"WHERE status IN ('queued', 'running')",
	[Q_JOB_GET] =
		"SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1",
};

int
job_update_row(conn *c, const store_job *j, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_JOB_UPDATE], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, j->id, &rc);
	db_bind_text(st, 2, store_job_status_name(j->status), &rc);
	db_bind_i64(st, 3, j->steps_done, &rc);
	db_bind_real(st, 4, j->loss, &rc);
	db_bind_text(st, 5, j->error, &rc);
	db_bind_time(st, 6, j->started_ms, &rc);
	db_bind_time(st, 7, j->finished_ms, &rc);
	/* the control object only once the job has a rate or a best */
	db_bind_real(st, 8, j->lr > 0 ? j->lr : NAN, &rc);
	db_bind_real(st, 9, j->best_step > 0 ? (double)j->best_step : NAN, &rc);
	db_bind_real(st, 10, isfinite(j->best_value) ? j->best_value : NAN,
		     &rc);
	db_bind_i64(st, 11, j->stopped_step, &rc);
	db_bind_i64(st, 12, j->stop_waited, &rc);
	db_bind_real(st, 13, isfinite(j->stop_mark) ? j->stop_mark : NAN, &rc);
	db_bind_i64(st, 14, j->start_step, &rc);
	db_bind_i64(st, 15, j->ckpt_steps, &rc);
	db_bind_i64(st, 16, j->best_version, &rc);
	db_bind_text(st, 17, j->node, &rc);
	if (db_bound(c, st, rc, f, "updating a job") != 0 ||
	    db_run(c, st, f, "updating a job") != 0)
		return -1;
	if (sqlite3_changes(c->db) == 0)
		return fault_set(f, FAULT_INVALID, "no job with id '%.*s'",
				 STORE_ID_MAX, j->id);
	return 0;
}

int
job_check(const store_job *j, int insert, fault *f)
{
	if (db_check_id(j->id, "job", f) != 0)
		return -1;
	if (insert && db_check_id(j->model_id, "model", f) != 0)
		return -1;
	if (store_job_status_name(j->status) == NULL)
		return fault_set(f, FAULT_INVALID, "job '%s' has a bad status",
				 j->id);
	if (j->steps_total < 0 || j->steps_done < 0)
		return fault_set(f, FAULT_INVALID,
				 "job '%s' has a negative step count", j->id);
	return 0;
}

static int
do_job_insert(conn *c, void *arg, fault *f)
{
	const store_job *j = arg;
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (model_need(c, j->model_id, f) != 0)
		return -1;
	if ((st = db_stmt(c, q_sql[Q_JOB_INSERT], f)) == NULL)
		return -1;
	db_bind_text(st, 1, j->id, &rc);
	db_bind_text(st, 2, j->model_id, &rc);
	db_bind_text(st, 3, store_job_status_name(j->status), &rc);
	db_bind_i64(st, 4, j->steps_total, &rc);
	db_bind_i64(st, 5, j->steps_done, &rc);
	db_bind_real(st, 6, j->loss, &rc);
	db_bind_text(st, 7, j->error, &rc);
	db_bind_text(st, 8, j->options ? j->options : "{}", &rc);
	db_bind_i64(st, 9, j->created_ms, &rc);
	db_bind_time(st, 10, j->started_ms, &rc);
	db_bind_time(st, 11, j->finished_ms, &rc);
	if (db_bound(c, st, rc, f, "storing a job") != 0)
		return -1;
	if (db_run(c, st, f, "storing a job") != 0) {
		if (c->rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return fault_set(f, FAULT_INVALID,
					 "a job with id '%s' already exists",
					 j->id);
		return -1;
	}
	return 0;
}

int
sq_job_insert(store *s, const store_job *j, fault *f)
{
	if (job_check(j, 1, f) != 0)
		return -1;
	return db_write_tx(s, do_job_insert, (void *)j, f);
}

/* A job row to update, fenced by epoch (0: unfenced). */
struct job_update {
	const store_job *j;
	uint64_t epoch;
};

static int
do_job_update(conn *c, void *arg, fault *f)
{
	const struct job_update *u = arg;

	if (lease_check(c, u->j->model_id, u->epoch, f) != 0)
		return -1;
	return job_update_row(c, u->j, f);
}

int
sq_job_update(store *s, const store_job *j, uint64_t epoch, fault *f)
{
	struct job_update u = { j, epoch };

	if (job_check(j, 0, f) != 0)
		return -1;
	return db_write_tx(s, do_job_update, &u, f);
}

/* Where store_jobs_each is, and a copy of the row it read last. */
struct job_cursor {
	const char *model_id;      /* NULL for all models */
	const char *job_id;        /* sq_job_get: the one job to read */
	int64_t created_ms, rowid; /* the last row delivered */
	int first;                 /* no row read yet: check the model */
	int found;                 /* a row was read into j */
	store_job j;               /* its error and options are malloc'd */
};

static void
job_cursor_clear(struct job_cursor *k)
{
	free((void *)k->j.error);
	free((void *)k->j.options);
	k->j.error = NULL;
	k->j.options = NULL;
	k->found = 0;
}

static int
job_status_from_name(const char *name, store_job_status *s)
{
	for (int i = 0; name != NULL && i < STORE_JOB_STATUS_COUNT_; i++) {
		if (strcmp(name, store_job_status_name((store_job_status)i))
		    == 0) {
			*s = (store_job_status)i;
			return 0;
		}
	}
	return -1;
}

/* Copies the job row st stands on (JOB_COLUMNS) into j (error and
 * options malloc'd; both freed again on failure). */
static int
read_job_row(sqlite3_stmt *st, store_job *j, fault *f)
{
	const char *status;

	if (db_copy_id(j->id, st, 1, f) != 0 ||
	    db_copy_id(j->model_id, st, 2, f) != 0)
		return -1;
	status = (const char *)sqlite3_column_text(st, 3);
	if (job_status_from_name(status, &j->status) != 0)
		return fault_set(f, FAULT_INTERNAL, "job '%s' has an unknown "
				 "status", j->id);
	j->steps_total = sqlite3_column_int64(st, 4);
	j->steps_done = sqlite3_column_int64(st, 5);
	j->loss = db_real(st, 6);
	if (sqlite3_column_type(st, 7) != SQLITE_NULL &&
	    (j->error = db_copy_text(st, 7, f)) == NULL)
		return -1;
	if ((j->options = db_copy_text(st, 8, f)) == NULL) {
		free((void *)j->error);
		j->error = NULL;
		return -1;
	}
	j->created_ms = sqlite3_column_int64(st, 9);
	j->started_ms = sqlite3_column_int64(st, 10);   /* NULL is 0 */
	j->finished_ms = sqlite3_column_int64(st, 11);
	j->lr = sqlite3_column_type(st, 12) == SQLITE_NULL ? 0 :
	    sqlite3_column_double(st, 12);
	j->best_step = sqlite3_column_int64(st, 13);   /* NULL is 0 */
	j->best_value = db_real(st, 14);
	j->stopped_step = sqlite3_column_int64(st, 15);
	j->stop_waited = sqlite3_column_int64(st, 16);
	j->stop_mark = db_real(st, 17);
	j->start_step = sqlite3_column_int64(st, 18);
	j->ckpt_steps = sqlite3_column_int64(st, 19);
	j->best_version = sqlite3_column_int64(st, 20); /* NULL is 0 */
	if (sqlite3_column_type(st, 21) != SQLITE_NULL)
		snprintf(j->node, sizeof j->node, "%s",
			 (const char *)sqlite3_column_text(st, 21));
	else
		j->node[0] = '\0';
	j->takeovers = 0; /* one node: no takeovers */
	return 0;
}

/* Reads (a copy of) the next job after the cursor. */
static int
do_job_next(conn *c, void *arg, fault *f)
{
	struct job_cursor *k = arg;
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	job_cursor_clear(k);
	if (k->first && k->model_id != NULL &&
	    model_need(c, k->model_id, f) != 0)
		return -1;
	st = db_stmt(c, q_sql[k->model_id ? Q_JOB_NEXT_OF_MODEL : Q_JOB_NEXT],
		     f);
	if (st == NULL)
		return -1;
	db_bind_i64(st, 1, k->created_ms, &rc);
	db_bind_i64(st, 2, k->rowid, &rc);
	if (k->model_id != NULL)
		db_bind_text(st, 3, k->model_id, &rc);
	if (db_bound(c, st, rc, f, "listing jobs") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		db_done(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_fault(c, rc, f, "listing jobs");
		goto fail;
	}
	k->rowid = sqlite3_column_int64(st, 0);
	if (read_job_row(st, &k->j, f) != 0)
		goto fail;
	k->created_ms = k->j.created_ms;
	k->found = 1;
	db_done(st);
	return 0;
fail:
	db_done(st);
	job_cursor_clear(k);
	return -1;
}

int
sq_jobs_each(store *s, const char *model_id,
	     int (*cb)(void *arg, const store_job *j), void *arg, fault *f)
{
	struct job_cursor k;
	int r;

	memset(&k, 0, sizeof k);
	k.model_id = model_id;
	k.created_ms = INT64_MIN;
	k.rowid = INT64_MIN;
	k.first = 1;
	for (;;) {
		if (db_read_tx(s, do_job_next, &k, f) != 0)
			return -1;
		k.first = 0;
		if (!k.found)
			return 0;
		r = cb(arg, &k.j);
		job_cursor_clear(&k);
		if (r != 0)
			return r;
	}
}

/* Reads (a copy of) the job k->job_id. */
static int
do_job_one(conn *c, void *arg, fault *f)
{
	struct job_cursor *k = arg;
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_JOB_GET], f);
	int rc = SQLITE_OK;

	job_cursor_clear(k);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, k->job_id, &rc);
	if (db_bound(c, st, rc, f, "reading a job") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && read_job_row(st, &k->j, f) == 0) {
		k->found = 1;
		rc = SQLITE_DONE;
	} else if (rc == SQLITE_ROW) {
		db_done(st);
		job_cursor_clear(k);
		return -1;
	}
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fault(c, rc, f, "reading a job");
	return 0;
}

int
sq_job_get(store *s, const char *job_id,
	   int (*cb)(void *arg, const store_job *j), void *arg, fault *f)
{
	struct job_cursor k;
	int r;

	if (db_check_id(job_id, "job", f) != 0)
		return -1;
	memset(&k, 0, sizeof k);
	k.job_id = job_id;
	if (db_read_tx(s, do_job_one, &k, f) != 0)
		return -1;
	if (!k.found)
		return 0;
	/* the callback runs with no transaction open */
	r = cb(arg, &k.j);
	job_cursor_clear(&k);
	return r == 0 ? 1 : r;
}

int
job_interrupt_all(conn *c, int64_t now_ms, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_JOB_INTERRUPT], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_i64(st, 1, now_ms, &rc);
	if (db_bound(c, st, rc, f, "interrupting jobs") != 0)
		return -1;
	return db_run(c, st, f, "interrupting jobs");
}
