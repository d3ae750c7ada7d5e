/*
 * store_chunks: the rows of the loss_chunk table, the packed levels of the
 * loss and validation histories (layout in hist_tiers.h; a row's series
 * column says which, STORE_SERIES_TRAIN or _VALIDATION, and the size of its
 * entries). It alone names loss_chunk: it
 * reads and writes one row, visits the entries of a level over a step
 * range (seeking with the primary key, so a visit reads about as many rows
 * as it returns), and deletes rows; store_history.c builds the history's
 * writes on it and store_history_read.c its queries.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

enum q {
	Q_PUT,
	Q_TAIL,
	Q_AT,
	Q_EACH,
	Q_EACH_INNER,
	Q_BOUNDS,
	Q_DROP_PAST,
	Q_DROP_BEFORE,
	Q_COUNT_
};

static const char *const q_sql[Q_COUNT_] = {
	[Q_PUT] =
		"INSERT INTO loss_chunk (model_id, level, first_step, "
		"last_step, t0, data, series) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
		"?7) ON CONFLICT (model_id, series, level, first_step) "
		"DO UPDATE SET "
		"last_step = excluded.last_step, t0 = excluded.t0, "
		"data = excluded.data",
	[Q_TAIL] =
		"SELECT first_step, last_step, t0, data FROM loss_chunk "
		"WHERE model_id = ?1 AND series = ?3 AND level = ?2 "
		"ORDER BY first_step DESC LIMIT 1",
	/* the row that starts last at or before step ?4 */
	[Q_AT] =
		"SELECT first_step, last_step, t0, data FROM loss_chunk "
		"WHERE model_id = ?1 AND series = ?3 AND level = ?2 "
		"AND first_step <= ?4 ORDER BY first_step DESC LIMIT 1",
	/* The rows from the one holding step ?3 (or the first after it) to
	 * the last that starts at or before ?4. */
	[Q_EACH] =
		"SELECT first_step, last_step, t0, data FROM loss_chunk "
		"WHERE model_id = ?1 AND series = ?5 AND level = ?2 AND "
		"first_step >= coalesce((SELECT max(first_step) FROM "
		"loss_chunk WHERE model_id = ?1 AND series = ?5 AND "
		"level = ?2 AND first_step <= ?3), 0) "
		"AND first_step <= ?4 ORDER BY first_step",
	/* the same, for a visit inside a visit's callback (a different
	 * text: the statement cache is keyed by the text's address, and a
	 * compiler may merge equal literals) */
	[Q_EACH_INNER] =
		"SELECT first_step, last_step, t0, data FROM loss_chunk AS i "
		"WHERE model_id = ?1 AND series = ?5 AND level = ?2 AND "
		"first_step >= coalesce((SELECT max(first_step) FROM "
		"loss_chunk WHERE model_id = ?1 AND series = ?5 AND "
		"level = ?2 AND first_step <= ?3), 0) "
		"AND first_step <= ?4 ORDER BY first_step",
	[Q_BOUNDS] =
		"SELECT (SELECT min(first_step) FROM loss_chunk "
		"WHERE model_id = ?1 AND series = ?3 AND level = ?2), "
		"(SELECT last_step FROM loss_chunk WHERE model_id = ?1 AND "
		"series = ?3 AND level = ?2 ORDER BY first_step DESC LIMIT 1)",
	[Q_DROP_PAST] =
		"DELETE FROM loss_chunk WHERE model_id = ?1 AND series = ?4 "
		"AND level = ?2 AND first_step > ?3",
	[Q_DROP_BEFORE] =
		"DELETE FROM loss_chunk WHERE model_id = ?1 AND series = ?4 "
		"AND level = ?2 AND first_step <= ?3 AND last_step <= ?3",
};

int
chunk_put(conn *c, const char *model_id, const chunk_row *r, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_PUT], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	db_bind_i64(st, 2, r->level, &rc);
	db_bind_i64(st, 3, (int64_t)r->first, &rc);
	db_bind_i64(st, 4, (int64_t)r->last, &rc);
	db_bind_i64(st, 5, r->t0, &rc);
	db_bind_blob(st, 6, r->data, r->n * chunk_rec(r->series, r->level),
	    &rc);
	db_bind_i64(st, 7, r->series, &rc);
	if (db_bound(c, st, rc, f, "storing loss history") != 0)
		return -1;
	return db_run(c, st, f, "storing loss history");
}

size_t
chunk_rec(int series, int level)
{
	if (series == STORE_SERIES_VALIDATION)
		return level == 0 ? HIST_VAL_RAW_REC : HIST_VAL_BUCKET_REC;
	return level == 0 ? HIST_RAW_REC : HIST_BUCKET_REC;
}

size_t
chunk_cap(int series, int level)
{
	if (level == 0)
		return HIST_RAW_CHUNK;
	return series == STORE_SERIES_VALIDATION ? HIST_VAL_BUCKET_CHUNK :
	    HIST_BUCKET_CHUNK;
}

/* Fills r from the current row of st (first, last, t0, data); r->data
 * must hold chunk_cap entries. */
static int
row_of(sqlite3_stmt *st, chunk_row *r, fault *f)
{
	const void *d = sqlite3_column_blob(st, 3);
	size_t len = (size_t)sqlite3_column_bytes(st, 3);
	size_t rec = chunk_rec(r->series, r->level);

	if (len % rec != 0 || len / rec > chunk_cap(r->series, r->level) ||
	    (len > 0 && d == NULL))
		return fault_set(f, FAULT_INTERNAL, "a loss history row of %zu "
				 "bytes is damaged", len);
	r->first = (uint64_t)sqlite3_column_int64(st, 0);
	r->last = (uint64_t)sqlite3_column_int64(st, 1);
	r->t0 = sqlite3_column_int64(st, 2);
	r->n = len / rec;
	if (len > 0)
		memcpy(r->data, d, len);
	return 0;
}

/* Reads the one row that q_sql[q] selects (?4 = step for Q_AT) into r:
 * 1, 0 when none, -1. */
static int
one_row(conn *c, enum q q, const char *model_id, uint64_t step, chunk_row *r,
	fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[q], f);
	int rc = SQLITE_OK, found = 0;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	db_bind_i64(st, 2, r->level, &rc);
	db_bind_i64(st, 3, r->series, &rc);
	if (q == Q_AT)
		db_bind_i64(st, 4, step > INT64_MAX ? INT64_MAX :
		    (int64_t)step, &rc);
	if (db_bound(c, st, rc, f, "reading loss history") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		found = 1;
		if (row_of(st, r, f) != 0) {
			db_done(st);
			return -1;
		}
	} else if (rc != SQLITE_DONE) {
		db_fault(c, rc, f, "reading loss history");
	}
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	return found;
}

int
chunk_tail(conn *c, const char *model_id, chunk_row *r, fault *f)
{
	return one_row(c, Q_TAIL, model_id, 0, r, f);
}

int
chunk_at(conn *c, const char *model_id, chunk_row *r, uint64_t step,
	 fault *f)
{
	return one_row(c, Q_AT, model_id, step, r, f);
}

void
chunk_entry(const chunk_row *r, size_t i, hist_bucket *b)
{
	const unsigned char *p = r->data + i * chunk_rec(r->series, r->level);
	double loss, acc;
	uint32_t dt, ds;

	if (r->series == STORE_SERIES_VALIDATION) {
		if (r->level > 0) {
			hist_val_bucket_unpack(p, b);
			return;
		}
		hist_val_raw_unpack(p, &ds, &loss, &acc, &dt);
		hist_point(b, r->first + ds, loss, r->t0 + dt);
		hist_point_acc(b, acc);
	} else if (r->level == 0) {
		hist_raw_unpack(p, &loss, &dt);
		hist_point(b, r->first + i, loss, r->t0 + dt);
	} else {
		hist_bucket_unpack(p, b);
	}
}

/* chunk_each on the statement q. */
static int
each(conn *c, enum q q, const char *model_id, int series, int level,
     uint64_t a, uint64_t b, chunk_visit cb, void *arg, fault *f)
{
	unsigned char buf[CHUNK_ROW_BYTES];
	chunk_row r = { .series = series, .level = level, .data = buf };
	sqlite3_stmt *st;
	int rc = SQLITE_OK, stop = 0;
	hist_bucket e;

	if (a > INT64_MAX || a > b)
		return 0;
	if (b > INT64_MAX)
		b = INT64_MAX;
	if ((st = db_stmt(c, q_sql[q], f)) == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	db_bind_i64(st, 2, level, &rc);
	db_bind_i64(st, 3, (int64_t)a, &rc);
	db_bind_i64(st, 4, (int64_t)b, &rc);
	db_bind_i64(st, 5, series, &rc);
	if (db_bound(c, st, rc, f, "reading loss history") != 0)
		return -1;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row_of(st, &r, f) != 0) {
			db_done(st);
			return -1;
		}
		for (size_t i = 0; i < r.n && !stop; i++) {
			chunk_entry(&r, i, &e);
			if (e.last < a)
				continue;
			if (e.first > b) {
				stop = 1;
				break;
			}
			if ((stop = cb(arg, &e, f)) < 0) {
				db_done(st);
				return -1;
			}
		}
	}
	if (!stop && rc != SQLITE_DONE) {
		db_fault(c, rc, f, "reading loss history");
		db_done(st);
		return -1;
	}
	db_done(st);
	return 0;
}

int
chunk_each(conn *c, const char *model_id, int series, int level, uint64_t a,
	   uint64_t b, chunk_visit cb, void *arg, fault *f)
{
	return each(c, Q_EACH, model_id, series, level, a, b, cb, arg, f);
}

int
chunk_each_inner(conn *c, const char *model_id, int series, int level,
		 uint64_t a, uint64_t b, chunk_visit cb, void *arg, fault *f)
{
	return each(c, Q_EACH_INNER, model_id, series, level, a, b, cb, arg,
		    f);
}

int
chunk_bounds(conn *c, const char *model_id, int series, int level,
	     uint64_t *first, uint64_t *last, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_BOUNDS], f);
	int rc = SQLITE_OK;

	*first = *last = 0;
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	db_bind_i64(st, 2, level, &rc);
	db_bind_i64(st, 3, series, &rc);
	if (db_bound(c, st, rc, f, "reading loss history") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*first = (uint64_t)sqlite3_column_int64(st, 0); /* NULL: 0 */
		*last = (uint64_t)sqlite3_column_int64(st, 1);
	} else {
		db_fault(c, rc, f, "reading loss history");
	}
	db_done(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Runs a DELETE of q_sql[q] for the model's level with ?3 = step. */
static int
drop(conn *c, enum q q, const char *model_id, int series, int level,
     uint64_t step, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[q], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, model_id, &rc);
	db_bind_i64(st, 2, level, &rc);
	db_bind_i64(st, 3, step > INT64_MAX ? INT64_MAX : (int64_t)step, &rc);
	db_bind_i64(st, 4, series, &rc);
	if (db_bound(c, st, rc, f, "trimming loss history") != 0)
		return -1;
	return db_run(c, st, f, "trimming loss history");
}

int
chunk_drop_past(conn *c, const char *model_id, int series, int level,
		uint64_t step, fault *f)
{
	return drop(c, Q_DROP_PAST, model_id, series, level, step, f);
}

int
chunk_drop_before(conn *c, const char *model_id, int series, int level,
		  uint64_t step, fault *f)
{
	return drop(c, Q_DROP_BEFORE, model_id, series, level, step, f);
}
