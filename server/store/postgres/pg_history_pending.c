/*
 * pg_history_pending: placeholders for the PostgreSQL store's history
 * (pg_int.h, "history"), which the history part of issue 10 (branch
 * pghist: pg_history*.c, pg_progress.c) replaces; it deletes this file.
 * Until then the history entries fail with FAULT_INVALID "not built yet",
 * so that the backend links and everything but training and history
 * works. The hooks other writes call (trim, forget, recover, loss_at,
 * val_at) succeed with "no history": nothing can write a history row
 * without pg_progress_commit, so there is none to trim or read.
 */
#include "pg_int.h"

#include <math.h>

static int
not_built(fault *f)
{
	return fault_set(f, FAULT_INVALID, "the PostgreSQL store's training "
			 "history is not built yet");
}

int
pg_progress_commit(store *s, const store_progress *p, fault *f)
{
	(void)s;
	(void)p;
	return not_built(f);
}

int
pg_loss_query(store *s, const char *model_id, uint64_t since, size_t limit,
	      store_loss_point **out, size_t *n, fault *f)
{
	(void)s, (void)model_id, (void)since, (void)limit;
	*out = NULL;
	*n = 0;
	return not_built(f);
}

int
pg_loss_windows(store *s, const char *model_id, store_series series,
		uint64_t every, uint64_t since, size_t limit,
		store_loss_window **out, size_t *n, fault *f)
{
	(void)s, (void)model_id, (void)series, (void)every, (void)since;
	(void)limit;
	*out = NULL;
	*n = 0;
	return not_built(f);
}

int
pg_loss_range(store *s, const char *model_id, store_series series,
	      uint64_t from, uint64_t to, size_t max_points,
	      store_loss_window **out, size_t *n, fault *f)
{
	(void)s, (void)model_id, (void)series, (void)from, (void)to;
	(void)max_points;
	*out = NULL;
	*n = 0;
	return not_built(f);
}

int
pg_model_revert(store *s, const char *id, const store_job *job,
		int64_t now_ms, double *last_loss, fault *f)
{
	(void)s, (void)id, (void)job, (void)now_ms;
	if (last_loss != NULL)
		*last_loss = NAN;
	return not_built(f);
}

int
pg_history_trim(pg_conn *c, const char *model_id, int64_t step, fault *f)
{
	(void)c, (void)model_id, (void)step, (void)f;
	return 0;
}

int
pg_history_forget(pg_conn *c, const char *model_id, fault *f)
{
	(void)c, (void)model_id, (void)f;
	return 0;
}

int
pg_history_recover(pg_conn *c, fault *f)
{
	(void)c, (void)f;
	return 0;
}

int
pg_history_loss_at(pg_conn *c, const char *model_id, int64_t step,
		   double *loss, fault *f)
{
	(void)c, (void)model_id, (void)step, (void)f;
	*loss = NAN;
	return 0;
}

int
pg_history_val_at(pg_conn *c, const char *model_id, int64_t step,
		  store_val_point *vp, fault *f)
{
	(void)c, (void)model_id, (void)step, (void)f;
	vp->step = 0;
	vp->loss = NAN;
	vp->accuracy = NAN;
	vp->time_ms = 0;
	return 0;
}
