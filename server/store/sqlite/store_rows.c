/*
 * store_rows: a model's stored rows read by position, for a trainer that
 * streams them instead of loading them all (engine/dataset.c).
 *
 * store_rows_open takes a snapshot of the model's batch list (ids and row
 * counts, oldest first): the rows are numbered 0..count-1 in that order,
 * the order store_batches_load gives them. store_rows_read then copies any
 * rows by number through SQLite's incremental blob I/O
 * (sqlite3_blob_open/reopen/read), one read transaction per call and one
 * blob read per run of consecutive rows of a batch, so reading one row of
 * a large batch costs about one page, not the batch. Batches pushed after
 * the snapshot are not seen; a batch deleted since fails the read
 * (FAULT_CORRUPT, "changed since the job started").
 */
#include "store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
floats_le(void *p, size_t n)
{
	const uint16_t one = 1;
	unsigned char *b = p, t;

	if (*(const unsigned char *)&one == 1)
		return;
	for (size_t i = 0; i < n; i++, b += 4) {
		t = b[0], b[0] = b[3], b[3] = t;
		t = b[1], b[1] = b[2], b[2] = t;
	}
}

/* SQLite's rows: the store_rows head (the store, borrowed), then the
 * snapshot. */
typedef struct sq_rows {
	struct store_rows head;
	char model_id[STORE_ID_MAX];
	uint32_t nin, nout;
	size_t nb;              /* batches */
	int64_t *ids;           /* their batch ids */
	uint64_t *first;        /* nb + 1 entries: the number of each batch's
	                           first row, then the row count */
} sq_rows;

int
sq_rows_open(store *s, const char *model_id, uint32_t nin, uint32_t nout,
	     store_rows **out, fault *f)
{
	store_batch_info *b = NULL;
	sq_rows *r;
	size_t n = 0;

	*out = NULL;
	if (nin == 0 || nout == 0)
		return fault_set(f, FAULT_INVALID,
				 "rows need at least one input and output");
	if (db_check_id(model_id, "model", f) != 0)
		return -1;
	if (sq_batch_list(s, model_id, &b, &n, f) != 0)
		return -1;
	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->ids = malloc((n ? n : 1) * sizeof *r->ids)) == NULL ||
	    (r->first = malloc((n + 1) * sizeof *r->first)) == NULL) {
		free(b);
		sq_rows_destroy(r ? &r->head : NULL);
		return fault_set(f, FAULT_NOMEM, "out of memory listing the "
				 "rows of model '%s'", model_id);
	}
	r->head.st = s;
	snprintf(r->model_id, sizeof r->model_id, "%s", model_id);
	r->nin = nin;
	r->nout = nout;
	r->nb = n;
	r->first[0] = 0;
	for (size_t i = 0; i < n; i++) {
		r->ids[i] = b[i].batch_id;
		r->first[i + 1] = r->first[i] + (uint64_t)b[i].samples;
	}
	free(b);
	*out = &r->head;
	return 0;
}

uint64_t
sq_rows_count(const store_rows *head)
{
	const sq_rows *r = (const sq_rows *)head;

	return r->first[r->nb];
}

void
sq_rows_destroy(store_rows *head)
{
	sq_rows *r = (sq_rows *)head;

	if (r == NULL)
		return;
	free(r->ids);
	free(r->first);
	free(r);
}

/* The batch that holds row p (p < count): binary search of first. */
static size_t
batch_of(const sq_rows *r, uint64_t p)
{
	size_t lo = 0, hi = r->nb;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->first[mid] <= p)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

struct rows_read {
	const sq_rows *r;
	const uint64_t *pos;
	size_t n;
	float *x, *y;
};

/* Points *b at column col of batch row id: opened, or moved (reopen). */
static int
blob_at(conn *c, const sq_rows *r, sqlite3_blob **b, const char *col,
	int64_t id, size_t want, fault *f)
{
	int rc;

	if (*b == NULL)
		rc = sqlite3_blob_open(c->db, "main", "batches", col, id, 0, b);
	else
		rc = sqlite3_blob_reopen(*b, id);
	if (rc != SQLITE_OK) {
		if (rc == SQLITE_ERROR)
			return fault_set(f, FAULT_CORRUPT, "batch %" PRId64
					 " of model '%s' changed since the "
					 "job started", id, r->model_id);
		return db_fault(c, rc, f, "reading rows");
	}
	if ((size_t)sqlite3_blob_bytes(*b) != want)
		return fault_set(f, FAULT_CORRUPT, "batch %" PRId64 " of model "
				 "'%s' does not match its sample count", id,
				 r->model_id);
	return 0;
}

/* Reads run rows of batch k, from its row `at`, into x and y. */
static int
read_run(conn *c, const sq_rows *r, sqlite3_blob **bx, sqlite3_blob **by,
	 size_t k, uint64_t at, size_t run, float *x, float *y, fault *f)
{
	uint64_t rows = r->first[k + 1] - r->first[k];
	size_t xw = r->nin * sizeof(float), yw = r->nout * sizeof(float);
	int rc;

	if (blob_at(c, r, bx, "inputs", r->ids[k], (size_t)rows * xw, f) != 0 ||
	    blob_at(c, r, by, "targets", r->ids[k], (size_t)rows * yw, f) != 0)
		return -1;
	if ((rc = sqlite3_blob_read(*bx, x, (int)(run * xw),
	    (int)(at * xw))) != SQLITE_OK ||
	    (rc = sqlite3_blob_read(*by, y, (int)(run * yw),
	    (int)(at * yw))) != SQLITE_OK)
		return db_fault(c, rc, f, "reading rows");
	floats_le(x, run * r->nin);
	floats_le(y, run * r->nout);
	return 0;
}

static int
do_rows_read(conn *c, void *arg, fault *f)
{
	struct rows_read *a = arg;
	const sq_rows *r = a->r;
	sqlite3_blob *bx = NULL, *by = NULL;
	size_t i = 0;
	int rc = 0;

	while (i < a->n && rc == 0) {
		uint64_t p = a->pos[i];
		size_t k = batch_of(r, p), run = 1;

		/* a run: the rows after p, in order, in the same batch */
		while (i + run < a->n && a->pos[i + run] == p + run &&
		       p + run < r->first[k + 1])
			run++;
		rc = read_run(c, r, &bx, &by, k, p - r->first[k], run,
			      a->x + i * r->nin, a->y + i * r->nout, f);
		i += run;
	}
	sqlite3_blob_close(bx);
	sqlite3_blob_close(by);
	return rc;
}

int
sq_rows_read(store_rows *head, const uint64_t *pos, size_t n, float *x,
	     float *y, fault *f)
{
	const sq_rows *r = (const sq_rows *)head;
	struct rows_read a = { r, pos, n, x, y };

	for (size_t i = 0; i < n; i++)
		if (pos[i] >= sq_rows_count(head))
			return fault_set(f, FAULT_INVALID, "row %" PRIu64 " of "
					 "model '%s' is past its %" PRIu64
					 " rows", pos[i], r->model_id,
					 sq_rows_count(head));
	if (n == 0)
		return 0;
	return db_read_tx(head->st, do_rows_read, &a, f);
}
