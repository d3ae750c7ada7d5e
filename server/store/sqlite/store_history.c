/*
 * store_history: the writes of the loss and validation series. The loss
 * of each step, and each validation point, goes into its series' levels
 * of hist_tiers.h (rows of store_chunks.c): the raw window and every
 * bucket level are appended to in the same transaction, the raw window is
 * trimmed to its length (in steps), and a trim past a step (revert, PUT
 * weights, crash recovery) rebuilds the buckets it cuts from the level
 * below. The migration from per-row series (schema 6) is here too.
 */
#include "store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum q {
	Q_VACUUM,
	Q_OLD_LOSS_TABLE,
	Q_OLD_ROWS,
	Q_OLD_DROP,
	Q_OLD_VAL_ROWS,
	Q_OLD_VAL_DROP,
	Q_TRASH_ONE,
	Q_TRASH_ROWS,
	Q_TRASH_DONE,
	Q_COUNT_
};

static const char *const q_sql[Q_COUNT_] = {
	/* a few freed pages back to the file system per commit */
	[Q_VACUUM] = "PRAGMA incremental_vacuum(64)",
	[Q_OLD_LOSS_TABLE] =
		"SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
		"name = 'loss'",
	[Q_OLD_ROWS] =
		"SELECT model_id, step, loss, time_ms, NULL FROM loss "
		"ORDER BY model_id, step",
	[Q_OLD_DROP] = "DROP TABLE loss",
	[Q_OLD_VAL_ROWS] =
		"SELECT model_id, step, loss, time_ms, accuracy "
		"FROM validation ORDER BY model_id, step",
	[Q_OLD_VAL_DROP] = "DROP TABLE validation",
	[Q_TRASH_ONE] = "SELECT model_id FROM loss_trash LIMIT 1",
	[Q_TRASH_ROWS] =
		"DELETE FROM loss_chunk WHERE rowid IN (SELECT rowid FROM "
		"loss_chunk WHERE model_id = ?1 LIMIT ?2)",
	[Q_TRASH_DONE] = "DELETE FROM loss_trash WHERE model_id = ?1",
};

/* The last row of a level while points are appended to it. */
struct tail {
	chunk_row r;
	unsigned char buf[CHUNK_ROW_BYTES];
	int have;          /* r holds a row */
	int dirty;         /* r differs from the stored row */
	hist_bucket open;  /* level >= 1: r's last entry, unpacked */
};

/* Appending to one model's levels of one series (about 100 KB: on the
 * heap). */
typedef struct appender {
	const char *model_id;
	int series;        /* a store_series */
	struct tail t[HIST_TIERS];
	uint64_t width[HIST_TIERS];
	uint64_t bound[HIST_TIERS]; /* level >= 1: the last step of the
	                               open bucket's width (0: none) */
	uint64_t end;      /* the last step stored; 0 when none */
} appender;

static appender *
app_open(conn *c, const char *model_id, int series, fault *f)
{
	appender *a = calloc(1, sizeof *a);
	int got;

	if (a == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory storing loss history");
		return NULL;
	}
	a->model_id = model_id;
	a->series = series;
	for (int k = 0; k < HIST_TIERS; k++) {
		struct tail *z = &a->t[k];

		a->width[k] = hist_width(k);
		z->r.series = series;
		z->r.level = k;
		z->r.data = z->buf;
		if ((got = chunk_tail(c, model_id, &z->r, f)) < 0) {
			free(a);
			return NULL;
		}
		z->have = got;
		if (got && k > 0 && z->r.n > 0) {
			chunk_entry(&z->r, z->r.n - 1, &z->open);
			a->bound[k] = (hist_index(k, z->open.last) + 1) *
			    a->width[k];
		}
		if (got && z->r.last > a->end && k <= 1)
			a->end = z->r.last;
	}
	return a;
}

/* Packs the bucket b as entry i of the bucket row r. */
static void
pack_bucket(chunk_row *r, size_t i, const hist_bucket *b)
{
	if (r->series == STORE_SERIES_VALIDATION)
		hist_val_bucket_pack(b, r->data + i * HIST_VAL_BUCKET_REC);
	else
		hist_bucket_pack(b, r->data + i * HIST_BUCKET_REC);
}

/* Writes level k's tail row when it changed. */
static int
tail_flush(conn *c, appender *a, int k, fault *f)
{
	struct tail *z = &a->t[k];

	if (!z->dirty)
		return 0;
	if (k > 0) {
		pack_bucket(&z->r, z->r.n - 1, &z->open);
		z->r.last = z->open.last;
	}
	z->dirty = 0;
	return chunk_put(c, a->model_id, &z->r, f);
}

/* Appends the raw point pt to level 0: a loss row holds consecutive
 * steps of one aligned block, a validation row any points whose steps
 * are within 2^32 of its first. */
static int
add_raw(conn *c, appender *a, const hist_bucket *pt, fault *f)
{
	struct tail *z = &a->t[0];
	uint64_t step = pt->first;
	int64_t t = pt->time_ms;
	int val = a->series == STORE_SERIES_VALIDATION;
	int fits = z->have && z->r.n < HIST_RAW_CHUNK &&
	    (val ? step - z->r.first <= UINT32_MAX :
	    step == z->r.first + z->r.n && (step - 1) / HIST_RAW_CHUNK ==
	    (z->r.first - 1) / HIST_RAW_CHUNK) &&
	    (t < z->r.t0 || (uint64_t)(t - z->r.t0) <= UINT32_MAX);

	if (!fits) {
		if (tail_flush(c, a, 0, f) != 0)
			return -1;
		z->have = 1;
		z->r.first = step;
		z->r.n = 0;
		z->r.t0 = t;
	}
	if (val)
		hist_val_raw_pack((uint32_t)(step - z->r.first), pt->lastv,
		    pt->acc_last, t < z->r.t0 ? 0 : (uint32_t)(t - z->r.t0),
		    z->r.data + z->r.n * HIST_VAL_RAW_REC);
	else
		hist_raw_pack(pt->lastv, t < z->r.t0 ? 0 :
		    (uint32_t)(t - z->r.t0), z->r.data + z->r.n * HIST_RAW_REC);
	z->r.n++;
	z->r.last = step;
	z->dirty = 1;
	return 0;
}

/* Adds the point to the open bucket of level k, or opens the next one. */
static int
add_bucket(conn *c, appender *a, int k, const hist_bucket *pt, fault *f)
{
	struct tail *z = &a->t[k];

	/* pt comes after the open bucket's last step: it belongs to that
	 * bucket when it is within its width (no division per step) */
	if (z->have && z->r.n > 0 && pt->first <= a->bound[k]) {
		hist_merge(&z->open, pt);
		z->dirty = 1;
		return 0;
	}
	a->bound[k] = (hist_index(k, pt->first) + 1) * a->width[k];
	if (z->have && z->r.n < chunk_cap(a->series, k)) {
		if (z->r.n > 0)
			pack_bucket(&z->r, z->r.n - 1, &z->open);
		z->open = *pt;
		z->r.n++;
	} else {
		if (tail_flush(c, a, k, f) != 0)
			return -1;
		z->have = 1;
		z->r.first = pt->first;
		z->r.t0 = 0;
		z->r.n = 1;
		z->open = *pt;
	}
	z->dirty = 1;
	return 0;
}

/* Appends the point pt (a bucket of one step, past a->end). */
static int
app_add(conn *c, appender *a, const hist_bucket *pt, fault *f)
{
	if (pt->first <= a->end)
		return fault_set(f, FAULT_INVALID, "the loss of step %" PRIu64
				 " of model '%s' is already stored", pt->first,
				 a->model_id);
	if (add_raw(c, a, pt, f) != 0)
		return -1;
	for (int k = 1; k < HIST_TIERS; k++) {
		if (add_bucket(c, a, k, pt, f) != 0)
			return -1;
	}
	a->end = pt->first;
	return 0;
}

/* The point of a validation measurement. */
static void
val_point(hist_bucket *b, const store_val_point *vp)
{
	hist_point(b, vp->step, vp->loss, vp->time_ms);
	hist_point_acc(b, vp->accuracy);
}

/* Writes the changed tails, trims the raw window, returns a few pages. */
static int
app_close(conn *c, appender *a, fault *f)
{
	int r = -1;

	for (int k = 0; k < HIST_TIERS; k++) {
		if (tail_flush(c, a, k, f) != 0)
			goto out;
	}
	if (c->hist_raw > 0 && a->end > c->hist_raw &&
	    chunk_drop_before(c, a->model_id, a->series, 0,
	    a->end - c->hist_raw, f) != 0)
		goto out;
	r = 0;
out:
	free(a);
	return r;
}

/* Runs an incremental vacuum step (the file gives back pages that deletes
 * freed, a few per commit). */
static int
vacuum_some(conn *c, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_VACUUM], f);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		db_fault(c, rc, f, "returning free pages");
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- deleted models' rows ---- */

int
history_purge(conn *c, int64_t rows, int *more, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_TRASH_ONE], f);
	char id[STORE_ID_MAX];
	int rc = SQLITE_OK;

	*more = 0;
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		db_done(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_fault(c, rc, f, "reading deleted histories");
		db_done(st);
		return -1;
	}
	if (db_copy_id(id, st, 0, f) != 0) {
		db_done(st);
		return -1;
	}
	db_done(st);
	if ((st = db_stmt(c, q_sql[Q_TRASH_ROWS], f)) == NULL)
		return -1;
	rc = SQLITE_OK;
	db_bind_text(st, 1, id, &rc);
	db_bind_i64(st, 2, rows, &rc);
	if (db_bound(c, st, rc, f, "dropping a deleted history") != 0 ||
	    db_run(c, st, f, "dropping a deleted history") != 0)
		return -1;
	*more = 1;
	if (sqlite3_changes(c->db) < rows &&
	    db_run_text(c, q_sql[Q_TRASH_DONE], id, f,
	    "dropping a deleted history") != 0)
		return -1;
	return 0;
}

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

static int trim_series(conn *c, const char *model_id, int series,
		       uint64_t step, fault *f);

/* Appends the validation points; one at or before the last step stored
 * first trims the series to the step before it (so it replaces). */
static int
append_val(conn *c, const store_progress *p, fault *f)
{
	appender *a = app_open(c, p->model_id, STORE_SERIES_VALIDATION, f);
	hist_bucket pt;

	if (a == NULL)
		return -1;
	for (size_t i = 0; i < p->nvpoints; i++) {
		val_point(&pt, &p->vpoints[i]);
		if (pt.first <= a->end) {
			if (app_close(c, a, f) != 0 ||
			    trim_series(c, p->model_id,
			    STORE_SERIES_VALIDATION, pt.first - 1, f) != 0 ||
			    (a = app_open(c, p->model_id,
			    STORE_SERIES_VALIDATION, f)) == NULL)
				return -1;
		}
		if (app_add(c, a, &pt, f) != 0) {
			free(a);
			return -1;
		}
	}
	return app_close(c, a, f);
}

int
history_append(conn *c, const store_progress *p, fault *f)
{
	hist_bucket pt;
	int more;

	if (p->npoints > 0) {
		appender *a = app_open(c, p->model_id, STORE_SERIES_TRAIN, f);

		if (a == NULL)
			return -1;
		for (size_t i = 0; i < p->npoints; i++) {
			const store_loss_point *lp = &p->points[i];

			hist_point(&pt, lp->step, lp->loss, lp->time_ms);
			if (app_add(c, a, &pt, f) != 0) {
				free(a);
				return -1;
			}
		}
		if (app_close(c, a, f) != 0)
			return -1;
	}
	if (p->nvpoints > 0 && append_val(c, p, f) != 0)
		return -1;
	if (p->npoints == 0 && p->nvpoints == 0)
		return 0;
	if (history_purge(c, HIST_PURGE_ROWS, &more, f) != 0)
		return -1;
	return vacuum_some(c, f);
}

/* ---- trimming ---- */

/* A visitor that keeps the first entry it sees. */
static int
take_first(void *arg, const hist_bucket *e, fault *f)
{
	(void)f;
	*(hist_bucket *)arg = *e;
	return 1;
}

/* A visitor that merges every entry into one bucket. */
static int
merge_all(void *arg, const hist_bucket *e, fault *f)
{
	(void)f;
	hist_merge(arg, e);
	return 0;
}

/* Cuts level k at end: rows past it go, and the entry that holds end is
 * rebuilt from the level below (already cut). */
static int
cut_level(conn *c, const char *model_id, int series, int k, uint64_t end,
	  fault *f)
{
	unsigned char buf[CHUNK_ROW_BYTES];
	chunk_row r = { .series = series, .level = k, .data = buf };
	hist_bucket e;
	int got;

	if (chunk_drop_past(c, model_id, series, k, end, f) != 0 ||
	    (got = chunk_tail(c, model_id, &r, f)) < 0)
		return -1;
	if (!got || r.last <= end)
		return 0;
	for (;;) {
		chunk_entry(&r, r.n - 1, &e);
		if (e.first <= end)
			break;
		r.n--; /* r.first <= end: some entry starts at or before it */
	}
	if (e.last > end) {
		hist_bucket m;

		memset(&m, 0, sizeof m);
		if (chunk_each(c, model_id, series, k - 1, e.first, end,
		    merge_all, &m, f) != 0)
			return -1;
		if (m.count == 0)
			r.n--;
		else
			pack_bucket(&r, r.n - 1, &m);
	}
	if (r.n == 0)
		return chunk_drop_past(c, model_id, series, k, r.first - 1, f);
	chunk_entry(&r, r.n - 1, &e);
	r.last = e.last;
	return chunk_put(c, model_id, &r, f);
}

/* Ends the series at step (or, where the raw steps of the level-1 bucket
 * holding step are gone, at the bucket before it). */
static int
trim_series(conn *c, const char *model_id, int series, uint64_t step,
	    fault *f)
{
	uint64_t rfirst, rlast, bfirst, blast, end = step;
	hist_bucket b;

	if (chunk_bounds(c, model_id, series, 0, &rfirst, &rlast, f) != 0 ||
	    chunk_bounds(c, model_id, series, 1, &bfirst, &blast, f) != 0)
		return -1;
	if (rlast <= step && blast <= step)
		return 0;
	/* The level-1 bucket that holds step needs the raw steps it kept
	 * up to step; when they are gone, it goes whole. */
	memset(&b, 0, sizeof b);
	if (chunk_each(c, model_id, series, 1, step, step, take_first, &b,
	    f) != 0)
		return -1;
	if (b.count > 0 && b.first <= step && b.last > step &&
	    (rfirst == 0 || rfirst > b.first))
		end = b.first - 1;
	for (int k = 0; k < HIST_TIERS; k++) {
		if (cut_level(c, model_id, series, k, end, f) != 0)
			return -1;
	}
	return 0;
}

int
history_trim(conn *c, const char *model_id, int64_t step, fault *f)
{
	uint64_t s = step < 0 ? 0 : (uint64_t)step;

	if (trim_series(c, model_id, STORE_SERIES_TRAIN, s, f) != 0)
		return -1;
	return trim_series(c, model_id, STORE_SERIES_VALIDATION, s, f);
}

/* *e gets the series' last entry that ends at or before step, from the
 * finest level that has one (*have 0 when none): at each level, the row
 * that starts last at or before step, or the one before it when that
 * row's first entry reaches past step. */
static int
last_at(conn *c, const char *model_id, int series, uint64_t step,
	hist_bucket *e, int *have, fault *f)
{
	unsigned char buf[CHUNK_ROW_BYTES];
	chunk_row r = { .series = series, .data = buf };
	hist_bucket x;
	uint64_t at;
	int got;

	*have = 0;
	for (int k = 0; k < HIST_TIERS && step > 0; k++) {
		r.level = k;
		for (at = step; at > 0; at = r.first - 1) {
			if ((got = chunk_at(c, model_id, &r, at, f)) < 0)
				return -1;
			if (!got)
				break;
			for (size_t i = 0; i < r.n; i++) {
				chunk_entry(&r, i, &x);
				if (x.last > step)
					break;
				*e = x;
				*have = 1;
			}
			if (*have)
				return 0;
		}
	}
	return 0;
}

int
history_loss_at(conn *c, const char *model_id, int64_t step, double *loss,
		fault *f)
{
	hist_bucket e;
	int have;

	*loss = NAN;
	if (last_at(c, model_id, STORE_SERIES_TRAIN, step < 1 ? 0 :
	    (uint64_t)step, &e, &have, f) != 0)
		return -1;
	if (have)
		*loss = e.lastv;
	return 0;
}

int
history_val_at(conn *c, const char *model_id, int64_t step,
	       store_val_point *vp, fault *f)
{
	hist_bucket e;
	int have;

	vp->step = 0;
	vp->loss = vp->accuracy = NAN;
	vp->time_ms = 0;
	if (last_at(c, model_id, STORE_SERIES_VALIDATION, step < 1 ? 0 :
	    (uint64_t)step, &e, &have, f) != 0)
		return -1;
	if (have) {
		vp->step = e.last;
		vp->loss = e.lastv;
		vp->accuracy = e.acc_last;
		vp->time_ms = e.time_ms;
	}
	return 0;
}

/* ---- migration ---- */

/* Packs the rows of q_sql[rows] (model id, step, loss, time, accuracy,
 * by model and step) into the series' levels, then runs q_sql[drop]. */
static int
migrate(conn *c, int series, enum q rows, enum q drop, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[rows], f);
	char id[STORE_ID_MAX] = "";
	appender *a = NULL;
	hist_bucket pt;
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *m = (const char *)sqlite3_column_text(st, 0);

		if (m == NULL || strlen(m) >= sizeof id) {
			fault_set(f, FAULT_INTERNAL, "a history row has a bad "
				  "model id");
			goto fail;
		}
		if (a == NULL || strcmp(m, id) != 0) {
			if (a != NULL && app_close(c, a, f) != 0) {
				a = NULL;
				goto fail;
			}
			memcpy(id, m, strlen(m) + 1);
			if ((a = app_open(c, id, series, f)) == NULL)
				goto fail;
		}
		hist_point(&pt, (uint64_t)sqlite3_column_int64(st, 1),
		    db_real(st, 2), sqlite3_column_int64(st, 3));
		if (series == STORE_SERIES_VALIDATION)
			hist_point_acc(&pt, db_real(st, 4));
		if (app_add(c, a, &pt, f) != 0)
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		db_fault(c, rc, f, "reading the old history rows");
		goto fail;
	}
	db_done(st);
	if (a != NULL && app_close(c, a, f) != 0)
		return -1;
	if ((st = db_stmt(c, q_sql[drop], f)) == NULL)
		return -1;
	return db_run(c, st, f, "dropping the old history rows");
fail:
	free(a);
	db_done(st);
	return -1;
}

int
history_migrate_rows(conn *c, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_OLD_LOSS_TABLE], f);
	int rc, old;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	old = rc == SQLITE_ROW;
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fault(c, rc, f, "reading the schema");
	if (old && migrate(c, STORE_SERIES_TRAIN, Q_OLD_ROWS, Q_OLD_DROP,
	    f) != 0)
		return -1;
	return migrate(c, STORE_SERIES_VALIDATION, Q_OLD_VAL_ROWS,
		       Q_OLD_VAL_DROP, f);
}
