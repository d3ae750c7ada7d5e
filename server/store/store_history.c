/*
 * store_history: the loss and validation series of each model, and the
 * only file that names their tables (loss, validation). Readers get the
 * points one by one (store_loss_query) or in windows that SQLite computes
 * (store_loss_windows); the other store files append points inside a
 * progress commit, trim the series back to a step, and read the loss at a
 * step, through the history_* calls of store_int.h.
 */
#include "store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum q {
	Q_LOSS_INSERT,
	Q_LOSS_TRIM,
	Q_LOSS_AT,
	Q_LOSS_QUERY,
	Q_LOSS_WINDOWS,
	Q_LOSS_NEXT_STEP,
	Q_VAL_INSERT,
	Q_VAL_TRIM,
	Q_VAL_WINDOWS,
	Q_VAL_NEXT_STEP,
	Q_COUNT_
};

static const char *const q_sql[Q_COUNT_] = {
	[Q_LOSS_INSERT] =
		"INSERT INTO loss (model_id, step, loss, time_ms) "
		"VALUES (?1, ?2, ?3, ?4)",
	[Q_LOSS_TRIM] = "DELETE FROM loss WHERE model_id = ?1 AND step > ?2",
	[Q_LOSS_AT] =
		"SELECT loss FROM loss WHERE model_id = ?1 AND step <= ?2 "
		"ORDER BY step DESC LIMIT 1",
	[Q_LOSS_QUERY] =
		"SELECT step, loss, time_ms FROM loss "
		"WHERE model_id = ?1 AND step > ?2 ORDER BY step LIMIT ?3",
	/* Windows of ?4 steps over the steps in (?2, ?3] (?2 a window's
	 * start): HAVING drops a first window that ends at or before ?5. */
	[Q_LOSS_WINDOWS] =
		"SELECT max(step), avg(loss), min(loss), max(loss), NULL, "
		"max(time_ms) FROM loss "
		"WHERE model_id = ?1 AND step > ?2 AND step <= ?3 "
		"GROUP BY (step - 1) / ?4 HAVING max(step) > ?5 "
		"ORDER BY max(step) LIMIT ?6",
	[Q_LOSS_NEXT_STEP] =
		"SELECT min(step) FROM loss WHERE model_id = ?1 AND step > ?2",
	[Q_VAL_INSERT] =
		"INSERT OR REPLACE INTO validation (model_id, step, loss, "
		"accuracy, time_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_VAL_TRIM] =
		"DELETE FROM validation WHERE model_id = ?1 AND step > ?2",
	[Q_VAL_WINDOWS] =
		"SELECT max(step), avg(loss), min(loss), max(loss), "
		"avg(accuracy), max(time_ms) FROM validation "
		"WHERE model_id = ?1 AND step > ?2 AND step <= ?3 "
		"GROUP BY (step - 1) / ?4 HAVING max(step) > ?5 "
		"ORDER BY max(step) LIMIT ?6",
	[Q_VAL_NEXT_STEP] =
		"SELECT min(step) FROM validation "
		"WHERE model_id = ?1 AND step > ?2",
};

/* ---- for the other store files ---- */

int
history_check(const store_progress *p, fault *f)
{
	if (p->npoints > 0 && p->points == NULL)
		return fault_set(f, FAULT_INVALID, "no loss points given");
	for (size_t i = 0; i < p->npoints; i++) {
		if (p->points[i].step == 0 || p->points[i].step > INT64_MAX)
			return fault_set(f, FAULT_INVALID,
					 "loss step %" PRIu64 " is out of "
					 "range", p->points[i].step);
	}
	if (p->nvpoints > 0 && p->vpoints == NULL)
		return fault_set(f, FAULT_INVALID,
				 "no validation points given");
	for (size_t i = 0; i < p->nvpoints; i++) {
		const store_val_point *vp = &p->vpoints[i];

		if (vp->step == 0 || vp->step > INT64_MAX)
			return fault_set(f, FAULT_INVALID,
					 "validation step %" PRIu64 " is out "
					 "of range", vp->step);
		if (!isnan(vp->accuracy) &&
		    !(vp->accuracy >= 0.0 && vp->accuracy <= 1.0))
			return fault_set(f, FAULT_INVALID,
					 "validation accuracy %g is not in "
					 "[0, 1]", vp->accuracy);
	}
	return 0;
}

int
history_append(conn *c, const store_progress *p, fault *f)
{
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_OK;

	if (p->npoints > 0 &&
	    (st = db_stmt(c, q_sql[Q_LOSS_INSERT], f)) == NULL)
		return -1;
	for (size_t i = 0; i < p->npoints; i++) {
		const store_loss_point *pt = &p->points[i];

		db_bind_text(st, 1, p->model_id, &rc);
		db_bind_i64(st, 2, (int64_t)pt->step, &rc);
		db_bind_real(st, 3, pt->loss, &rc);
		db_bind_i64(st, 4, pt->time_ms, &rc);
		if (db_bound(c, st, rc, f, "storing loss history") != 0)
			return -1;
		if (db_run(c, st, f, "storing loss history") != 0) {
			if (c->rc == SQLITE_CONSTRAINT_PRIMARYKEY)
				return fault_set(f, FAULT_INVALID,
						 "the loss of step %" PRIu64
						 " of model '%s' is already "
						 "stored", pt->step,
						 p->model_id);
			return -1;
		}
	}
	if (p->nvpoints > 0 &&
	    (st = db_stmt(c, q_sql[Q_VAL_INSERT], f)) == NULL)
		return -1;
	for (size_t i = 0; i < p->nvpoints; i++) {
		const store_val_point *vp = &p->vpoints[i];

		db_bind_text(st, 1, p->model_id, &rc);
		db_bind_i64(st, 2, (int64_t)vp->step, &rc);
		db_bind_real(st, 3, vp->loss, &rc);
		db_bind_real(st, 4, vp->accuracy, &rc);
		db_bind_i64(st, 5, vp->time_ms, &rc);
		if (db_bound(c, st, rc, f, "storing validation history") != 0 ||
		    db_run(c, st, f, "storing validation history") != 0)
			return -1;
	}
	return 0;
}

/* Runs q (a *_TRIM statement) for the model, past step. */
static int
trim_past(conn *c, enum q q, const char *model_id, int64_t step, fault *f,
	  const char *what)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[q], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	db_bind_i64(st, 2, step, &rc);
	if (db_bound(c, st, rc, f, what) != 0)
		return -1;
	return db_run(c, st, f, what);
}

int
history_trim(conn *c, const char *model_id, int64_t step, fault *f)
{
	if (trim_past(c, Q_LOSS_TRIM, model_id, step, f,
		      "trimming loss history") != 0)
		return -1;
	return trim_past(c, Q_VAL_TRIM, model_id, step, f,
			 "trimming validation history");
}

int
history_loss_at(conn *c, const char *model_id, int64_t step, double *loss,
		fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_LOSS_AT], f);
	int rc = SQLITE_OK;

	*loss = NAN;
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	db_bind_i64(st, 2, step, &rc);
	if (db_bound(c, st, rc, f, "reading the last loss") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*loss = db_real(st, 0);
	else if (rc != SQLITE_DONE)
		db_fault(c, rc, f, "reading the last loss");
	db_done(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* ---- the points one by one ---- */

struct loss_query {
	const char *model_id;
	int64_t since, limit;
	db_array rows; /* out: store_loss_point */
};

static int
fill_loss_point(sqlite3_stmt *st, void *row, fault *f)
{
	store_loss_point *p = row;

	(void)f;
	p->step = (uint64_t)sqlite3_column_int64(st, 0);
	p->loss = db_real(st, 1);
	p->time_ms = sqlite3_column_int64(st, 2);
	return 0;
}

static int
do_loss_query(conn *c, void *arg, fault *f)
{
	struct loss_query *q = arg;
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	q->rows.n = 0; /* a retry starts over */
	if (model_need(c, q->model_id, f) != 0)
		return -1;
	if ((st = db_stmt(c, q_sql[Q_LOSS_QUERY], f)) == NULL)
		return -1;
	db_bind_text(st, 1, q->model_id, &rc);
	db_bind_i64(st, 2, q->since, &rc);
	db_bind_i64(st, 3, q->limit, &rc);
	if (db_bound(c, st, rc, f, "reading loss history") != 0)
		return -1;
	return db_rows(c, st, &q->rows, fill_loss_point, f,
		       "reading loss history");
}

int
store_loss_query(store *s, const char *model_id, uint64_t since,
		 size_t limit, store_loss_point **out, size_t *n, fault *f)
{
	struct loss_query q;

	*out = NULL;
	*n = 0;
	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	memset(&q, 0, sizeof q);
	q.model_id = model_id;
	q.since = since > INT64_MAX ? INT64_MAX : (int64_t)since;
	q.limit = (uint64_t)limit > INT64_MAX ? INT64_MAX : (int64_t)limit;
	q.rows.elem = sizeof(store_loss_point);
	if (db_read_tx(s, do_loss_query, &q, f) != 0) {
		free(q.rows.v);
		return -1;
	}
	*out = q.rows.v;
	*n = q.rows.n;
	return 0;
}

/* ---- windows ---- */

struct loss_windows {
	const char *model_id;
	store_series series;
	int64_t every, since, limit;
	db_array rows; /* out: store_loss_window */
};

/* Where a scan from lo for k more windows may stop: k + 1 windows on (a
 * first one that ends at or before since does not count), saturating. */
static int64_t
windows_end(int64_t lo, int64_t every, int64_t k)
{
	uint64_t span = (uint64_t)k + 1 > (uint64_t)INT64_MAX /
	    (uint64_t)every ? (uint64_t)INT64_MAX :
	    ((uint64_t)k + 1) * (uint64_t)every;

	return span > (uint64_t)(INT64_MAX - lo) ? INT64_MAX :
	    lo + (int64_t)span;
}

static int
fill_window(sqlite3_stmt *st, void *row, fault *f)
{
	store_loss_window *o = row;

	(void)f;
	o->step = (uint64_t)sqlite3_column_int64(st, 0);
	o->loss = db_real(st, 1);
	o->min = db_real(st, 2);
	o->max = db_real(st, 3);
	o->accuracy = db_real(st, 4);
	o->time_ms = sqlite3_column_int64(st, 5);
	return 0;
}

/* Appends the windows of the points with step in (lo, hi]. */
static int
windows_in(conn *c, struct loss_windows *w, int64_t lo, int64_t hi,
	   fault *f)
{
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	st = db_stmt(c, q_sql[w->series == STORE_SERIES_TRAIN ?
			      Q_LOSS_WINDOWS : Q_VAL_WINDOWS], f);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, w->model_id, &rc);
	db_bind_i64(st, 2, lo, &rc);
	db_bind_i64(st, 3, hi, &rc);
	db_bind_i64(st, 4, w->every, &rc);
	db_bind_i64(st, 5, w->since, &rc);
	db_bind_i64(st, 6, w->limit - (int64_t)w->rows.n, &rc);
	if (db_bound(c, st, rc, f, "reading history windows") != 0)
		return -1;
	return db_rows(c, st, &w->rows, fill_window, f,
		       "reading history windows");
}

/* The first step of the series past after into *next; 0 when none. */
static int
next_step(conn *c, const struct loss_windows *w, int64_t after,
	  int64_t *next, fault *f)
{
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	st = db_stmt(c, q_sql[w->series == STORE_SERIES_TRAIN ?
			      Q_LOSS_NEXT_STEP : Q_VAL_NEXT_STEP], f);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, w->model_id, &rc);
	db_bind_i64(st, 2, after, &rc);
	if (db_bound(c, st, rc, f, "reading history windows") != 0)
		return -1;
	rc = sqlite3_step(st);
	*next = 0;
	if (rc == SQLITE_ROW)
		*next = sqlite3_column_int64(st, 0); /* NULL: none, 0 */
	else
		db_fault(c, rc, f, "reading history windows");
	db_done(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Scans a bounded stretch of windows at a time (so that a page never
 * reads much more than it returns); when a stretch comes up short, jumps
 * over the gap to the window of the next stored step. */
static int
do_loss_windows(conn *c, void *arg, fault *f)
{
	struct loss_windows *w = arg;
	int64_t lo = w->since / w->every * w->every, hi, next;

	w->rows.n = 0; /* a retry starts over */
	if (model_need(c, w->model_id, f) != 0)
		return -1;
	while ((int64_t)w->rows.n < w->limit) {
		hi = windows_end(lo, w->every, w->limit - (int64_t)w->rows.n);
		if (windows_in(c, w, lo, hi, f) != 0)
			return -1;
		if ((int64_t)w->rows.n >= w->limit || hi == INT64_MAX)
			break;
		if (next_step(c, w, hi, &next, f) != 0)
			return -1;
		if (next == 0)
			break;
		lo = (next - 1) / w->every * w->every;
	}
	return 0;
}

int
store_loss_windows(store *s, const char *model_id, store_series series,
		   uint64_t every, uint64_t since, size_t limit,
		   store_loss_window **out, size_t *n, fault *f)
{
	struct loss_windows w;

	*out = NULL;
	*n = 0;
	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (every == 0 || every > INT64_MAX)
		return fault_set(f, FAULT_INVALID, "a window of %" PRIu64
				 " steps is out of range", every);
	if (series != STORE_SERIES_TRAIN && series != STORE_SERIES_VALIDATION)
		return fault_set(f, FAULT_INVALID, "no such history series");
	memset(&w, 0, sizeof w);
	w.model_id = model_id;
	w.series = series;
	w.every = (int64_t)every;
	w.since = since > INT64_MAX ? INT64_MAX : (int64_t)since;
	w.limit = (uint64_t)limit > INT64_MAX ? INT64_MAX : (int64_t)limit;
	w.rows.elem = sizeof(store_loss_window);
	if (db_read_tx(s, do_loss_windows, &w, f) != 0) {
		free(w.rows.v);
		return -1;
	}
	*out = w.rows.v;
	*n = w.rows.n;
	return 0;
}

/* ---- the last validation point at a step (versions, issue 13) ---- */

int
history_val_at(conn *c, const char *model_id, int64_t step,
	       store_val_point *vp, fault *f)
{
	/* a literal here, apart from q_sql, so the versions code only adds
	 * lines to this file */
	sqlite3_stmt *st = db_stmt(c, "SELECT step, loss, accuracy FROM "
	    "validation WHERE model_id = ?1 AND step <= ?2 "
	    "ORDER BY step DESC LIMIT 1", f);
	int rc = SQLITE_OK;

	vp->step = 0;
	vp->loss = vp->accuracy = NAN;
	vp->time_ms = 0;
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	db_bind_i64(st, 2, step, &rc);
	if (db_bound(c, st, rc, f, "reading a validation point") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		vp->step = (uint64_t)sqlite3_column_int64(st, 0);
		vp->loss = db_real(st, 1);
		vp->accuracy = db_real(st, 2);
	} else if (rc != SQLITE_DONE)
		db_fault(c, rc, f, "reading a validation point");
	db_done(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}
