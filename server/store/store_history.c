/*
 * store_history: the writes of the loss and validation series. The loss
 * of each step goes into the levels of hist_tiers.h (rows of store_chunks.c):
 * the raw window and every bucket level are appended to in the same
 * transaction, the raw window is trimmed to its length, and a trim past a
 * step (revert, PUT weights, crash recovery) rebuilds the buckets it cuts
 * from the level below. Validation points are one row each (one per epoch
 * or per /step). The migration from per-step rows (schema 4) is here too.
 */
#include "store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum q {
	Q_VAL_INSERT,
	Q_VAL_TRIM,
	Q_VACUUM,
	Q_OLD_ROWS,
	Q_OLD_DROP,
	Q_TRASH_ONE,
	Q_TRASH_ROWS,
	Q_TRASH_DONE,
	Q_COUNT_
};

static const char *const q_sql[Q_COUNT_] = {
	[Q_VAL_INSERT] =
		"INSERT OR REPLACE INTO validation (model_id, step, loss, "
		"accuracy, time_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_VAL_TRIM] =
		"DELETE FROM validation WHERE model_id = ?1 AND step > ?2",
	/* a few freed pages back to the file system per commit */
	[Q_VACUUM] = "PRAGMA incremental_vacuum(64)",
	[Q_OLD_ROWS] =
		"SELECT model_id, step, loss, time_ms FROM loss "
		"ORDER BY model_id, step",
	[Q_OLD_DROP] = "DROP TABLE loss",
	[Q_TRASH_ONE] = "SELECT model_id FROM loss_trash LIMIT 1",
	[Q_TRASH_ROWS] =
		"DELETE FROM loss_chunk WHERE rowid IN (SELECT rowid FROM "
		"loss_chunk WHERE model_id = ?1 LIMIT ?2)",
	[Q_TRASH_DONE] = "DELETE FROM loss_trash WHERE model_id = ?1",
};

#define ROW_BYTES (HIST_RAW_CHUNK * HIST_RAW_REC > \
	HIST_BUCKET_CHUNK * HIST_BUCKET_REC ? HIST_RAW_CHUNK * HIST_RAW_REC : \
	HIST_BUCKET_CHUNK * HIST_BUCKET_REC)

/* The last row of a level while points are appended to it. */
struct tail {
	chunk_row r;
	unsigned char buf[ROW_BYTES];
	int have;          /* r holds a row */
	int dirty;         /* r differs from the stored row */
	hist_bucket open;  /* level >= 1: r's last entry, unpacked */
};

/* Appending to one model's levels (about 20 KB: on the heap). */
typedef struct appender {
	const char *model_id;
	struct tail t[HIST_TIERS];
	uint64_t width[HIST_TIERS];
	uint64_t end;      /* the last step stored; 0 when none */
} appender;

static appender *
app_open(conn *c, const char *model_id, fault *f)
{
	appender *a = calloc(1, sizeof *a);
	int got;

	if (a == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory storing loss history");
		return NULL;
	}
	a->model_id = model_id;
	for (int k = 0; k < HIST_TIERS; k++) {
		struct tail *z = &a->t[k];

		a->width[k] = hist_width(k);
		z->r.level = k;
		z->r.data = z->buf;
		if ((got = chunk_tail(c, model_id, &z->r, f)) < 0) {
			free(a);
			return NULL;
		}
		z->have = got;
		if (got && k > 0 && z->r.n > 0)
			chunk_entry(&z->r, z->r.n - 1, &z->open);
		if (got && z->r.last > a->end && k <= 1)
			a->end = z->r.last;
	}
	return a;
}

/* Writes level k's tail row when it changed. */
static int
tail_flush(conn *c, appender *a, int k, fault *f)
{
	struct tail *z = &a->t[k];

	if (!z->dirty)
		return 0;
	if (k > 0) {
		hist_bucket_pack(&z->open, z->r.data + (z->r.n - 1) *
		    HIST_BUCKET_REC);
		z->r.last = z->open.last;
	}
	z->dirty = 0;
	return chunk_put(c, a->model_id, &z->r, f);
}

/* Appends the raw point to level 0. */
static int
add_raw(conn *c, appender *a, uint64_t step, double loss, int64_t t,
	fault *f)
{
	struct tail *z = &a->t[0];
	int fits = z->have && z->r.n < HIST_RAW_CHUNK &&
	    step == z->r.first + z->r.n &&
	    (step - 1) / HIST_RAW_CHUNK == (z->r.first - 1) / HIST_RAW_CHUNK &&
	    (t < z->r.t0 || (uint64_t)(t - z->r.t0) <= UINT32_MAX);

	if (!fits) {
		if (tail_flush(c, a, 0, f) != 0)
			return -1;
		z->have = 1;
		z->r.first = step;
		z->r.n = 0;
		z->r.t0 = t;
	}
	hist_raw_pack(loss, t < z->r.t0 ? 0 : (uint32_t)(t - z->r.t0),
	    z->r.data + z->r.n * HIST_RAW_REC);
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

	if (z->have && z->r.n > 0 &&
	    (pt->first - 1) / a->width[k] == (z->open.last - 1) / a->width[k]) {
		hist_merge(&z->open, pt);
	} else if (z->have && z->r.n < HIST_BUCKET_CHUNK) {
		if (z->r.n > 0)
			hist_bucket_pack(&z->open, z->r.data + (z->r.n - 1) *
			    HIST_BUCKET_REC);
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

static int
app_add(conn *c, appender *a, uint64_t step, double loss, int64_t t,
	fault *f)
{
	hist_bucket pt;

	if (step <= a->end)
		return fault_set(f, FAULT_INVALID, "the loss of step %" PRIu64
				 " of model '%s' is already stored", step,
				 a->model_id);
	if (add_raw(c, a, step, loss, t, f) != 0)
		return -1;
	hist_point(&pt, step, loss, t);
	for (int k = 1; k < HIST_TIERS; k++) {
		if (add_bucket(c, a, k, &pt, f) != 0)
			return -1;
	}
	a->end = step;
	return 0;
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
	    chunk_drop_before(c, a->model_id, 0, a->end - c->hist_raw,
	    f) != 0)
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

int
history_append(conn *c, const store_progress *p, fault *f)
{
	sqlite3_stmt *st;
	int rc = SQLITE_OK, more;

	if (p->npoints > 0) {
		appender *a = app_open(c, p->model_id, f);

		if (a == NULL)
			return -1;
		for (size_t i = 0; i < p->npoints; i++) {
			const store_loss_point *pt = &p->points[i];

			if (app_add(c, a, pt->step, pt->loss, pt->time_ms,
			    f) != 0) {
				free(a);
				return -1;
			}
		}
		if (app_close(c, a, f) != 0 ||
		    history_purge(c, HIST_PURGE_ROWS, &more, f) != 0 ||
		    vacuum_some(c, f) != 0)
			return -1;
	}
	if (p->nvpoints == 0)
		return 0;
	if ((st = db_stmt(c, q_sql[Q_VAL_INSERT], f)) == NULL)
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
cut_level(conn *c, const char *model_id, int k, uint64_t end, fault *f)
{
	unsigned char buf[ROW_BYTES];
	chunk_row r = { .level = k, .data = buf };
	hist_bucket e;
	int got;

	if (chunk_drop_past(c, model_id, k, end, f) != 0 ||
	    (got = chunk_tail(c, model_id, &r, f)) < 0)
		return -1;
	if (!got || r.last <= end)
		return 0;
	if (k == 0) {
		r.n = (size_t)(end - r.first + 1);
		r.last = end;
		return chunk_put(c, model_id, &r, f);
	}
	for (;;) {
		chunk_entry(&r, r.n - 1, &e);
		if (e.first <= end)
			break;
		r.n--; /* r.first <= end: some entry starts at or before it */
	}
	if (e.last > end) {
		hist_bucket m;

		memset(&m, 0, sizeof m);
		if (chunk_each(c, model_id, k - 1, e.first, end, merge_all, &m,
		    f) != 0)
			return -1;
		if (m.count == 0)
			r.n--;
		else
			hist_bucket_pack(&m, r.data + (r.n - 1) *
			    HIST_BUCKET_REC);
	}
	if (r.n == 0)
		return chunk_drop_past(c, model_id, k, r.first - 1, f);
	chunk_entry(&r, r.n - 1, &e);
	r.last = e.last;
	return chunk_put(c, model_id, &r, f);
}

static int
trim_loss(conn *c, const char *model_id, uint64_t step, fault *f)
{
	uint64_t rfirst, rlast, bfirst, blast, end = step;
	hist_bucket b;

	if (chunk_bounds(c, model_id, 0, &rfirst, &rlast, f) != 0 ||
	    chunk_bounds(c, model_id, 1, &bfirst, &blast, f) != 0)
		return -1;
	if (rlast <= step && blast <= step)
		return 0;
	/* The level-1 bucket that holds step needs the raw steps it kept
	 * up to step; when they are gone, it goes whole. */
	memset(&b, 0, sizeof b);
	if (chunk_each(c, model_id, 1, step, step, take_first, &b, f) != 0)
		return -1;
	if (b.count > 0 && b.first <= step && b.last > step &&
	    (rfirst == 0 || rfirst > b.first))
		end = b.first - 1;
	for (int k = 0; k < HIST_TIERS; k++) {
		if (cut_level(c, model_id, k, end, f) != 0)
			return -1;
	}
	return 0;
}

int
history_trim(conn *c, const char *model_id, int64_t step, fault *f)
{
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (trim_loss(c, model_id, step < 0 ? 0 : (uint64_t)step, f) != 0)
		return -1;
	if ((st = db_stmt(c, q_sql[Q_VAL_TRIM], f)) == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	db_bind_i64(st, 2, step, &rc);
	if (db_bound(c, st, rc, f, "trimming validation history") != 0)
		return -1;
	return db_run(c, st, f, "trimming validation history");
}

/* A visitor that keeps the last entry that ends at or before a step. */
struct last_before {
	uint64_t step;
	hist_bucket e;
	int have;
};

static int
keep_last_before(void *arg, const hist_bucket *e, fault *f)
{
	struct last_before *l = arg;

	(void)f;
	if (e->last > l->step)
		return 1;
	l->e = *e;
	l->have = 1;
	return 0;
}

int
history_loss_at(conn *c, const char *model_id, int64_t step, double *loss,
		fault *f)
{
	struct last_before l;
	uint64_t s = step < 1 ? 0 : (uint64_t)step;

	*loss = NAN;
	if (s == 0)
		return 0;
	/* raw first, then level by level: the finest entry that ends at or
	 * before step, looked for in the stretch that ends at step */
	for (int k = 0; k < HIST_TIERS; k++) {
		uint64_t back = hist_width(k) * (uint64_t)chunk_cap(k);

		memset(&l, 0, sizeof l);
		l.step = s;
		if (chunk_each(c, model_id, k, s > back ? s - back : 1, s,
		    keep_last_before, &l, f) != 0)
			return -1;
		if (l.have) {
			*loss = l.e.lastv;
			return 0;
		}
	}
	return 0;
}

/* ---- migration ---- */

int
history_migrate_rows(conn *c, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_OLD_ROWS], f);
	char id[STORE_ID_MAX] = "";
	appender *a = NULL;
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *m = (const char *)sqlite3_column_text(st, 0);

		if (m == NULL || strlen(m) >= sizeof id) {
			fault_set(f, FAULT_INTERNAL, "a loss row has a bad "
				  "model id");
			goto fail;
		}
		if (a == NULL || strcmp(m, id) != 0) {
			if (a != NULL && app_close(c, a, f) != 0) {
				a = NULL;
				goto fail;
			}
			memcpy(id, m, strlen(m) + 1);
			if ((a = app_open(c, id, f)) == NULL)
				goto fail;
		}
		if (app_add(c, a, (uint64_t)sqlite3_column_int64(st, 1),
		    db_real(st, 2), sqlite3_column_int64(st, 3), f) != 0)
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		db_fault(c, rc, f, "reading the old loss rows");
		goto fail;
	}
	db_done(st);
	if (a != NULL && app_close(c, a, f) != 0)
		return -1;
	if ((st = db_stmt(c, q_sql[Q_OLD_DROP], f)) == NULL)
		return -1;
	return db_run(c, st, f, "dropping the old loss rows");
fail:
	free(a);
	db_done(st);
	return -1;
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
