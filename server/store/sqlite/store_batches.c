/*
 * store_batches: training data. A batch is n rows stored as two blobs of
 * little-endian floats (inputs and targets) plus its shape; every row of a
 * model has one shape, and the model's samples count moves with its
 * batches in the same transaction (checked against --max-samples there, so
 * racing pushes cannot pass it together). The count lives in model_rows
 * (schema/mlpd-8.sql), not in the models row beside the weights: a push
 * then writes a few small pages besides its batch.
 */
#include "store_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum q {
	Q_MODEL_ADD_SAMPLES,
	Q_MODEL_ZERO_SAMPLES,
	Q_ROWS_ZERO,
	Q_BATCH_SHAPE,
	Q_BATCH_INSERT,
	Q_BATCH_LIST,
	Q_BATCH_TOTAL,
	Q_BATCH_LOAD,
	Q_BATCH_DELETE,
	Q_COUNT_
};

static const char *const q_sql[Q_COUNT_] = {
	/* no row when the model does not exist; the first push after
	 * migration 8 starts from the count models.samples kept */
	[Q_MODEL_ADD_SAMPLES] =
		"INSERT INTO model_rows (model_id, samples, pushed_ms) "
		"SELECT id, samples + ?2, ?3 FROM models WHERE id = ?1 "
		"ON CONFLICT (model_id) DO UPDATE SET "
		"samples = samples + ?2, pushed_ms = ?3 RETURNING samples",
	[Q_MODEL_ZERO_SAMPLES] = "UPDATE models SET samples = 0 WHERE id = ?1",
	/* pushed_ms stays: it is still the model's updated_ms */
	[Q_ROWS_ZERO] = "UPDATE model_rows SET samples = 0 WHERE model_id = ?1",
	[Q_BATCH_SHAPE] =
		"SELECT nin, nout FROM batches WHERE model_id = ?1 LIMIT 1",
	[Q_BATCH_INSERT] =
		"INSERT INTO batches (model_id, samples, nin, nout, inputs, "
		"targets, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_BATCH_LIST] =
		"SELECT batch_id, samples, created_ms FROM batches "
		"WHERE model_id = ?1 ORDER BY batch_id",
	[Q_BATCH_TOTAL] =
		"SELECT coalesce(sum(samples), 0) FROM batches "
		"WHERE model_id = ?1",
	[Q_BATCH_LOAD] =
		"SELECT batch_id, samples, nin, nout, inputs, targets "
		"FROM batches WHERE model_id = ?1 ORDER BY batch_id",
	[Q_BATCH_DELETE] = "DELETE FROM batches WHERE model_id = ?1",
};

struct batch_insert {
	const char *model_id;
	const void *x, *y;   /* little-endian floats */
	size_t xbytes, ybytes;
	int64_t n;
	uint32_t nin, nout;
	int64_t max_samples; /* 0: no cap */
	int64_t now_ms;
	int64_t batch_id, total; /* out */
};

static int
do_batch_insert(conn *c, void *arg, fault *f)
{
	struct batch_insert *b = arg;
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_MODEL_ADD_SAMPLES], f);
	int rc = SQLITE_OK, found = 0;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, b->model_id, &rc);
	db_bind_i64(st, 2, b->n, &rc);
	db_bind_i64(st, 3, b->now_ms, &rc);
	if (db_bound(c, st, rc, f, "counting samples") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		b->total = sqlite3_column_int64(st, 0);
		found = 1;
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		db_fault(c, rc, f, "counting samples");
	db_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (!found)
		return model_missing(b->model_id, f);
	/* checked inside the transaction, so racing pushes cannot pass it */
	if (b->max_samples > 0 && b->total > b->max_samples)
		return fault_set(f, FAULT_LIMIT, "model '%s' holds %" PRId64
				 " rows; %" PRId64 " more would pass the %"
				 PRId64 " --max-samples allows",
				 b->model_id, b->total - b->n, b->n,
				 b->max_samples);

	/* All of a model's rows have one shape, or they cannot be loaded. */
	if ((st = db_stmt(c, q_sql[Q_BATCH_SHAPE], f)) == NULL)
		return -1;
	rc = SQLITE_OK;
	db_bind_text(st, 1, b->model_id, &rc);
	if (db_bound(c, st, rc, f, "checking the batch shape") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t nin = sqlite3_column_int64(st, 0);
		int64_t nout = sqlite3_column_int64(st, 1);

		db_done(st);
		if (nin != b->nin || nout != b->nout)
			return fault_set(f, FAULT_INVALID,
					 "model '%s' holds rows of %" PRId64
					 " inputs and %" PRId64 " outputs, "
					 "not %" PRIu32 " and %" PRIu32,
					 b->model_id, nin, nout, b->nin,
					 b->nout);
	} else {
		if (rc != SQLITE_DONE)
			db_fault(c, rc, f, "checking the batch shape");
		db_done(st);
		if (rc != SQLITE_DONE)
			return -1;
	}

	if ((st = db_stmt(c, q_sql[Q_BATCH_INSERT], f)) == NULL)
		return -1;
	rc = SQLITE_OK;
	db_bind_text(st, 1, b->model_id, &rc);
	db_bind_i64(st, 2, b->n, &rc);
	db_bind_i64(st, 3, b->nin, &rc);
	db_bind_i64(st, 4, b->nout, &rc);
	db_bind_blob(st, 5, b->x, b->xbytes, &rc);
	db_bind_blob(st, 6, b->y, b->ybytes, &rc);
	db_bind_i64(st, 7, b->now_ms, &rc);
	if (db_bound(c, st, rc, f, "storing a batch") != 0 ||
	    db_run(c, st, f, "storing a batch") != 0)
		return -1;
	b->batch_id = sqlite3_last_insert_rowid(c->db);
	return 0;
}

/* Floats as stored: x itself on a little-endian host, else a swapped copy
 * in *copy (freed by the caller). */
static const void *
le_view(const float *x, size_t count, void **copy, fault *f)
{
	const uint16_t one = 1;

	*copy = NULL;
	if (*(const unsigned char *)&one == 1)
		return x;
	if ((*copy = malloc(count * sizeof(float))) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory storing a batch");
		return NULL;
	}
	memcpy(*copy, x, count * sizeof(float));
	floats_le(*copy, count);
	return *copy;
}

int
sq_batch_insert(store *s, const char *model_id, const float *x,
		const float *y, size_t n, uint32_t nin, uint32_t nout,
		int64_t max_samples, int64_t now_ms, int64_t *batch_id,
		int64_t *total_samples, fault *f)
{
	struct batch_insert b;
	void *xc = NULL, *yc = NULL;
	int r = -1;

	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (n == 0 || nin == 0 || nout == 0)
		return fault_set(f, FAULT_INVALID,
				 "a batch needs at least one row, input and "
				 "output");
	if (x == NULL || y == NULL)
		return fault_set(f, FAULT_INVALID, "the batch has no data");
	if (n > INT64_MAX || n > SIZE_MAX / sizeof(float) / nin ||
	    n > SIZE_MAX / sizeof(float) / nout)
		return fault_set(f, FAULT_INVALID, "the batch is too large");
	memset(&b, 0, sizeof b);
	b.model_id = model_id;
	b.n = (int64_t)n;
	b.nin = nin;
	b.nout = nout;
	b.max_samples = max_samples;
	b.xbytes = n * nin * sizeof(float);
	b.ybytes = n * nout * sizeof(float);
	b.now_ms = now_ms;
	if ((b.x = le_view(x, n * nin, &xc, f)) == NULL ||
	    (b.y = le_view(y, n * nout, &yc, f)) == NULL)
		goto out;
	if ((r = db_write_tx(s, do_batch_insert, &b, f)) != 0)
		goto out;
	if (batch_id != NULL)
		*batch_id = b.batch_id;
	if (total_samples != NULL)
		*total_samples = b.total;
out:
	free(xc);
	free(yc);
	return r;
}

struct batch_list {
	const char *model_id;
	db_array rows; /* out: store_batch_info */
};

static int
fill_batch_info(sqlite3_stmt *st, void *row, fault *f)
{
	store_batch_info *b = row;

	(void)f;
	b->batch_id = sqlite3_column_int64(st, 0);
	b->samples = sqlite3_column_int64(st, 1);
	b->created_ms = sqlite3_column_int64(st, 2);
	return 0;
}

static int
do_batch_list(conn *c, void *arg, fault *f)
{
	struct batch_list *l = arg;
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	l->rows.n = 0; /* a retry starts over */
	if (model_need(c, l->model_id, f) != 0)
		return -1;
	if ((st = db_stmt(c, q_sql[Q_BATCH_LIST], f)) == NULL)
		return -1;
	db_bind_text(st, 1, l->model_id, &rc);
	if (db_bound(c, st, rc, f, "listing batches") != 0)
		return -1;
	return db_rows(c, st, &l->rows, fill_batch_info, f,
		       "listing batches");
}

int
sq_batch_list(store *s, const char *model_id, store_batch_info **out,
	      size_t *n, fault *f)
{
	struct batch_list l = { model_id,
				{ .elem = sizeof(store_batch_info) } };

	*out = NULL;
	*n = 0;
	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (db_read_tx(s, do_batch_list, &l, f) != 0) {
		free(l.rows.v);
		return -1;
	}
	*out = l.rows.v;
	*n = l.rows.n;
	return 0;
}

/* The rows of model id's batches into *total. */
static int
batch_total(conn *c, const char *id, int64_t *total, fault *f,
	    const char *what)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_BATCH_TOTAL], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, id, &rc);
	if (db_bound(c, st, rc, f, what) != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		db_fault(c, rc, f, what);
		db_done(st);
		return -1;
	}
	*total = sqlite3_column_int64(st, 0);
	db_done(st);
	return 0;
}

struct batches_delete {
	const char *model_id;
	int64_t rows; /* out: the rows deleted */
};

static int
do_batches_delete(conn *c, void *arg, fault *f)
{
	struct batches_delete *d = arg;

	if (db_run_text(c, q_sql[Q_MODEL_ZERO_SAMPLES], d->model_id, f,
			"deleting batches") != 0)
		return -1;
	if (sqlite3_changes(c->db) == 0)
		return model_missing(d->model_id, f);
	if (db_run_text(c, q_sql[Q_ROWS_ZERO], d->model_id, f,
			"deleting batches") != 0)
		return -1;
	if (batch_total(c, d->model_id, &d->rows, f, "deleting batches") != 0)
		return -1;
	return db_run_text(c, q_sql[Q_BATCH_DELETE], d->model_id, f,
			   "deleting batches");
}

int
sq_batches_delete(store *s, const char *model_id, int64_t *rows,
		  fault *f)
{
	struct batches_delete d = { model_id, 0 };

	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (db_write_tx(s, do_batches_delete, &d, f) != 0)
		return -1;
	if (rows != NULL)
		*rows = d.rows;
	return 0;
}

struct batch_load {
	const char *model_id;
	uint32_t nin, nout;
	float *x, *y; /* out, malloc'd */
	size_t n;
};

/* Copies one batch row of st into l at row *off, after checking it. */
static int
load_row(const struct batch_load *l, sqlite3_stmt *st, size_t *off,
	 fault *f)
{
	int64_t id = sqlite3_column_int64(st, 0);
	int64_t rows = sqlite3_column_int64(st, 1);
	int64_t nin = sqlite3_column_int64(st, 2);
	int64_t nout = sqlite3_column_int64(st, 3);
	const void *x = sqlite3_column_blob(st, 4);
	size_t xb = (size_t)sqlite3_column_bytes(st, 4);
	const void *y = sqlite3_column_blob(st, 5);
	size_t yb = (size_t)sqlite3_column_bytes(st, 5);

	if (nin != l->nin || nout != l->nout)
		return fault_set(f, FAULT_INVALID,
				 "batch %" PRId64 " of model '%s' has %" PRId64
				 " inputs and %" PRId64 " outputs, not %" PRIu32
				 " and %" PRIu32, id, l->model_id, nin, nout,
				 l->nin, l->nout);
	if (rows <= 0 || (uint64_t)rows > l->n - *off ||
	    xb != (size_t)rows * l->nin * sizeof(float) ||
	    yb != (size_t)rows * l->nout * sizeof(float))
		return fault_set(f, FAULT_CORRUPT,
				 "batch %" PRId64 " of model '%s' does not "
				 "match its sample count", id, l->model_id);
	memcpy(l->x + *off * l->nin, x, xb);
	memcpy(l->y + *off * l->nout, y, yb);
	floats_le(l->x + *off * l->nin, (size_t)rows * l->nin);
	floats_le(l->y + *off * l->nout, (size_t)rows * l->nout);
	*off += (size_t)rows;
	return 0;
}

static int
do_batches_load(conn *c, void *arg, fault *f)
{
	struct batch_load *l = arg;
	sqlite3_stmt *st;
	int64_t total;
	size_t off = 0;
	int rc = SQLITE_OK;

	l->x = l->y = NULL;
	l->n = 0;
	if (model_need(c, l->model_id, f) != 0)
		return -1;
	if (batch_total(c, l->model_id, &total, f, "loading batches") != 0)
		return -1;
	if (total <= 0)
		return 0;
	if ((uint64_t)total > SIZE_MAX / sizeof(float) / l->nin ||
	    (uint64_t)total > SIZE_MAX / sizeof(float) / l->nout)
		return fault_set(f, FAULT_NOMEM, "model '%s' has too many "
				 "rows to load", l->model_id);
	l->n = (size_t)total;
	l->x = malloc(l->n * l->nin * sizeof(float));
	l->y = malloc(l->n * l->nout * sizeof(float));
	if (l->x == NULL || l->y == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory loading %" PRId64
			  " rows of model '%s'", total, l->model_id);
		goto fail_nost;
	}
	if ((st = db_stmt(c, q_sql[Q_BATCH_LOAD], f)) == NULL)
		goto fail_nost;
	rc = SQLITE_OK;
	db_bind_text(st, 1, l->model_id, &rc);
	if (db_bound(c, st, rc, f, "loading batches") != 0)
		goto fail_nost;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (load_row(l, st, &off, f) != 0)
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		db_fault(c, rc, f, "loading batches");
		goto fail;
	}
	db_done(st);
	if (off != l->n) {
		fault_set(f, FAULT_CORRUPT, "model '%s' has fewer rows than "
			  "its batches count", l->model_id);
		goto fail_nost;
	}
	return 0;
fail:
	db_done(st);
fail_nost:
	free(l->x);
	free(l->y);
	l->x = l->y = NULL;
	l->n = 0;
	return -1;
}

int
sq_batches_load(store *s, const char *model_id, uint32_t nin,
		uint32_t nout, float **x, float **y, size_t *n, fault *f)
{
	struct batch_load l = { model_id, nin, nout, NULL, NULL, 0 };

	*x = *y = NULL;
	*n = 0;
	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (nin == 0 || nout == 0)
		return fault_set(f, FAULT_INVALID,
				 "rows need at least one input and output");
	if (db_read_tx(s, do_batches_load, &l, f) != 0)
		return -1;
	*x = l.x;
	*y = l.y;
	*n = l.n;
	return 0;
}

