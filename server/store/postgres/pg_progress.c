/*
 * pg_progress: the trainer's commit and revert on PostgreSQL. One
 * transaction updates the model row (last_loss, updated_ms and, at a
 * checkpoint, the weights and step; the update also locks the row, so
 * the writes of one model's history take turns), appends the loss points
 * and validation points to their levels (hist_write.c over pg_history.c's
 * io: the tails in one statement, the rows in one pipeline) and updates
 * the job row, so a crash keeps all of it or none. A revert trims the
 * history back to the checkpointed step in one transaction too, fenced
 * by the epoch the same way (pg_lease_check). A checkpoint and a revert
 * announce the model to the other nodes (pg_models_notify, pg_listen.c)
 * in their transaction.
 */
#include "pg_hist.h"

#include <inttypes.h>
#include <math.h>

#define SQL_PROGRESS \
	"UPDATE models SET last_loss = $2, updated_ms = $3 WHERE id = $1"

#define SQL_CHECKPOINT \
	"UPDATE models SET last_loss = $2, updated_ms = $3, weights = $4, " \
	"step = $5 WHERE id = $1"

static int
do_progress(pg_conn *c, void *arg, fault *f)
{
	const store_progress *p = arg;
	pg_params q = { 0 };
	int64_t n;

	/* fenced (store.h, "leases"): a stale epoch changes nothing */
	if (pg_lease_check(c, p->model_id, p->epoch, f) != 0)
		return -1;
	pg_p_text(&q, p->model_id);
	pg_p_real(&q, p->last_loss);
	pg_p_i64(&q, p->now_ms);
	if (p->blob != NULL) {
		pg_p_bytea(&q, p->blob, p->blob_len);
		pg_p_i64(&q, (int64_t)p->step);
	}
	if (p->blob != NULL)
		n = pg_run(c, SQL_CHECKPOINT, &q, f, "storing progress");
	else
		n = pg_run(c, SQL_PROGRESS, &q, f, "storing progress");
	if (n < 0)
		return -1;
	if (n == 0)
		return pg_model_missing(p->model_id, f);
	/* a checkpoint: the other nodes' predictions follow (pg_listen.c) */
	if (p->blob != NULL && pg_models_notify(c, p->model_id, f) != 0)
		return -1;
	if (p->npoints > 0 || p->nvpoints > 0) {
		hist_io hio;
		pgio *io = pgio_open(c, p->model_id, 0, &hio, f);
		int r;

		if (io == NULL)
			return -1;
		r = hist_append(&hio, p, f);
		if (r == 0)
			r = pgio_flush(io, f);
		pgio_close(io);
		if (r != 0)
			return -1;
	}
	if (p->job != NULL)
		return pg_job_update_row(c, p->job, f);
	return 0;
}

int
pg_progress_commit(store *s, const store_progress *p, fault *f)
{
	if (p->model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (hist_check(p, f) != 0)
		return -1;
	if (p->blob != NULL && p->step > INT64_MAX)
		return fault_set(f, FAULT_INVALID,
				 "step %" PRIu64 " is out of range", p->step);
	if (p->job != NULL && pg_job_check(p->job, 0, f) != 0)
		return -1;
	return pg_write_tx((pg_store *)s, do_progress, (void *)p, f);
}

struct revert {
	const char *id;
	const store_job *job;
	int64_t now_ms;
	uint64_t epoch;   /* fenced by it; 0: unfenced */
	double last_loss; /* out */
};

static int
do_revert(pg_conn *c, void *arg, fault *f)
{
	struct revert *r = arg;

	if (pg_lease_check(c, r->id, r->epoch, f) != 0 ||
	    pg_history_to_checkpoint(c, r->id, r->now_ms, &r->last_loss,
	    f) != 0 || pg_models_notify(c, r->id, f) != 0)
		return -1;
	if (r->job != NULL)
		return pg_job_update_row(c, r->job, f);
	return 0;
}

int
pg_model_revert(store *s, const char *id, const store_job *job,
		int64_t now_ms, uint64_t epoch, double *last_loss, fault *f)
{
	struct revert r = { id, job, now_ms, epoch, NAN };

	if (id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (job != NULL && pg_job_check(job, 0, f) != 0)
		return -1;
	if (pg_write_tx((pg_store *)s, do_revert, &r, f) != 0)
		return -1;
	if (last_loss != NULL)
		*last_loss = r.last_loss;
	return 0;
}
