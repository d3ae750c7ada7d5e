/*
 * store_progress: the trainer's commit. One transaction updates the model
 * row (last_loss, updated_ms and, at a checkpoint, the weights and step),
 * appends the loss rows and validation points (store_history.c) and
 * updates the job row (store_jobs.c), so a crash keeps all of it or none.
 */
#include "store_int.h"

#include <inttypes.h>

enum q { Q_MODEL_PROGRESS, Q_MODEL_CHECKPOINT, Q_COUNT_ };

static const char *const q_sql[Q_COUNT_] = {
	[Q_MODEL_PROGRESS] =
		"UPDATE models SET last_loss = ?2, updated_ms = ?3 WHERE id = ?1",
	[Q_MODEL_CHECKPOINT] =
		"UPDATE models SET last_loss = ?2, updated_ms = ?3, "
		"weights = ?4, step = ?5 WHERE id = ?1",
};

static int
do_progress(conn *c, void *arg, fault *f)
{
	const store_progress *p = arg;
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	/* fenced: a stale epoch changes nothing */
	if (lease_check(c, p->model_id, p->epoch, f) != 0)
		return -1;
	st = db_stmt(c, q_sql[p->blob ? Q_MODEL_CHECKPOINT : Q_MODEL_PROGRESS],
		     f);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, p->model_id, &rc);
	db_bind_real(st, 2, p->last_loss, &rc);
	db_bind_i64(st, 3, p->now_ms, &rc);
	if (p->blob != NULL) {
		db_bind_blob(st, 4, p->blob, p->blob_len, &rc);
		db_bind_i64(st, 5, (int64_t)p->step, &rc);
	}
	if (db_bound(c, st, rc, f, "storing progress") != 0 ||
	    db_run(c, st, f, "storing progress") != 0)
		return -1;
	if (sqlite3_changes(c->db) == 0)
		return model_missing(p->model_id, f);
	if (history_append(c, p, f) != 0)
		return -1;
	if (p->job != NULL)
		return job_update_row(c, p->job, f);
	return 0;
}

int
sq_progress_commit(store *s, const store_progress *p, fault *f)
{
	if (p->model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (history_check(p, f) != 0)
		return -1;
	if (p->blob != NULL && p->step > INT64_MAX)
		return fault_set(f, FAULT_INVALID,
				 "step %" PRIu64 " is out of range", p->step);
	if (p->job != NULL && job_check(p->job, 0, f) != 0)
		return -1;
	return db_write_tx(s, do_progress, (void *)p, f);
}
