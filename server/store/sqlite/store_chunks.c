/*
 * store_chunks: the rows of the loss_chunk table, the packed levels of the
 * loss and validation histories (layout in hist_tiers.h; a row's series
 * column says which, STORE_SERIES_TRAIN or _VALIDATION, and the size of its
 * entries), as the seven row operations of a hist_io (../hist_io.h). It
 * alone names loss_chunk: it reads and writes one row, visits the entries
 * of a level over a step range (seeking with the primary key, so a visit
 * reads about as many rows as it returns, stepping the statement as the
 * visitor asks), and deletes rows; the shared engine (hist_write.c,
 * hist_read.c) builds the history's writes and queries on them, called
 * from store_history.c and store_history_read.c.
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

#define IO_C(io) (((chunk_io *)(io))->c)
#define IO_ID(io) (((chunk_io *)(io))->model_id)

static int
chunk_put(void *io, const hist_row *r, fault *f)
{
	conn *c = IO_C(io);
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_PUT], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, IO_ID(io), &rc);
	db_bind_i64(st, 2, r->level, &rc);
	db_bind_i64(st, 3, (int64_t)r->first, &rc);
	db_bind_i64(st, 4, (int64_t)r->last, &rc);
	db_bind_i64(st, 5, r->t0, &rc);
	db_bind_blob(st, 6, r->data, r->n * hist_row_rec(r->series,
	    r->level), &rc);
	db_bind_i64(st, 7, r->series, &rc);
	if (db_bound(c, st, rc, f, "storing loss history") != 0)
		return -1;
	return db_run(c, st, f, "storing loss history");
}

/* Fills r from the current row of st (first, last, t0, data); r->data
 * must hold hist_row_cap entries. */
static int
row_of(sqlite3_stmt *st, hist_row *r, fault *f)
{
	const void *d = sqlite3_column_blob(st, 3);
	size_t len = (size_t)sqlite3_column_bytes(st, 3);
	size_t rec = hist_row_rec(r->series, r->level);

	if (len % rec != 0 || len / rec > hist_row_cap(r->series, r->level) ||
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
one_row(void *io, enum q q, uint64_t step, hist_row *r, fault *f)
{
	conn *c = IO_C(io);
	sqlite3_stmt *st = db_stmt(c, q_sql[q], f);
	int rc = SQLITE_OK, found = 0;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, IO_ID(io), &rc);
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

static int
chunk_tail(void *io, hist_row *r, fault *f)
{
	return one_row(io, Q_TAIL, 0, r, f);
}

static int
chunk_at(void *io, hist_row *r, uint64_t step, fault *f)
{
	return one_row(io, Q_AT, step, r, f);
}

/* The entries of a level that hold a step in [a, b], row by row as the
 * statement steps (a visit that stops early reads no further rows). */
static int
chunk_each(void *io, int series, int level, uint64_t a, uint64_t b,
	   int inner, hist_visit cb, void *arg, fault *f)
{
	conn *c = IO_C(io);
	unsigned char buf[HIST_ROW_BYTES];
	hist_row r = { .series = series, .level = level, .data = buf };
	sqlite3_stmt *st;
	int rc = SQLITE_OK, stop = 0;
	hist_bucket e;

	if (a > INT64_MAX || a > b)
		return 0;
	if (b > INT64_MAX)
		b = INT64_MAX;
	if ((st = db_stmt(c, q_sql[inner ? Q_EACH_INNER : Q_EACH], f)) == NULL)
		return -1;
	db_bind_text(st, 1, IO_ID(io), &rc);
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
			hist_row_entry(&r, i, &e);
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

static int
chunk_bounds(void *io, int series, int level, uint64_t *first,
	     uint64_t *last, fault *f)
{
	conn *c = IO_C(io);
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_BOUNDS], f);
	int rc = SQLITE_OK;

	*first = *last = 0;
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, IO_ID(io), &rc);
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
drop(void *io, enum q q, int series, int level, uint64_t step, fault *f)
{
	conn *c = IO_C(io);
	sqlite3_stmt *st = db_stmt(c, q_sql[q], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, IO_ID(io), &rc);
	db_bind_i64(st, 2, level, &rc);
	db_bind_i64(st, 3, step > INT64_MAX ? INT64_MAX : (int64_t)step, &rc);
	db_bind_i64(st, 4, series, &rc);
	if (db_bound(c, st, rc, f, "trimming loss history") != 0)
		return -1;
	return db_run(c, st, f, "trimming loss history");
}

static int
chunk_drop_past(void *io, int series, int level, uint64_t step, fault *f)
{
	return drop(io, Q_DROP_PAST, series, level, step, f);
}

static int
chunk_drop_before(void *io, int series, int level, uint64_t step, fault *f)
{
	return drop(io, Q_DROP_BEFORE, series, level, step, f);
}

static const hist_io_ops chunk_ops = {
	.tail = chunk_tail,
	.at = chunk_at,
	.each = chunk_each,
	.bounds = chunk_bounds,
	.put = chunk_put,
	.drop_past = chunk_drop_past,
	.drop_before = chunk_drop_before,
};

void
chunk_io_init(chunk_io *x, conn *c, const char *model_id)
{
	x->c = c;
	x->model_id = model_id;
	x->io.ops = &chunk_ops;
	x->io.arg = x;
	x->io.model_id = model_id;
	x->io.raw = c->hist_raw;
}
