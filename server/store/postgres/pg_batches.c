/*
 * pg_batches: training data on PostgreSQL. A batch is n rows stored as
 * two bytea of little-endian floats (inputs and targets, byte for byte
 * what SQLite keeps) plus its shape; the model's samples count moves with
 * its batches in the same transaction, under the model row's lock, so
 * that racing pushes from several nodes cannot pass --max-samples
 * together.
 *
 * Rows by number (store_rows_*): pg_rows_open snapshots the model's batch
 * list (ids and row counts); pg_rows_read turns the positions asked for
 * into runs of consecutive rows of one batch and reads them all in one
 * statement, each run a substring() of the batch's arrays. The arrays are
 * stored out of line and uncompressed (schema/pg/pg-1.sql), so a
 * substring fetches only the TOAST chunks that hold its bytes, not the
 * whole batch.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* snprintf */
#endif
#include "pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
pg_floats_le(void *p, size_t n)
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
	pg_floats_le(*copy, count);
	return *copy;
}

/* ---- insert ---- */

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
do_batch_insert(pg_conn *c, void *arg, fault *f)
{
	struct batch_insert *b = arg;
	pg_params p = { 0 }, q = { 0 }, r = { 0 };
	PGresult *res;

	/* The UPDATE locks the model's row: pushes to one model, from any
	 * node, count one after the other. */
	pg_p_text(&p, b->model_id);
	pg_p_i64(&p, b->n);
	pg_p_i64(&p, b->now_ms);
	res = pg_exec(c, "UPDATE models SET samples = samples + $2, "
		      "updated_ms = $3 WHERE id = $1 RETURNING samples", &p,
		      0, f, "counting samples");
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return pg_model_missing(b->model_id, f);
	}
	b->total = pg_i64(res, 0, 0);
	PQclear(res);
	if (b->max_samples > 0 && b->total > b->max_samples)
		return fault_set(f, FAULT_LIMIT, "model '%s' holds %" PRId64
				 " rows; %" PRId64 " more would pass the %"
				 PRId64 " --max-samples allows",
				 b->model_id, b->total - b->n, b->n,
				 b->max_samples);

	/* All of a model's rows have one shape, or they cannot be loaded. */
	pg_p_text(&q, b->model_id);
	res = pg_exec(c, "SELECT nin, nout FROM batches WHERE model_id = $1 "
		      "LIMIT 1", &q, 0, f, "checking the batch shape");
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0) {
		int64_t nin = pg_i64(res, 0, 0), nout = pg_i64(res, 0, 1);

		PQclear(res);
		if (nin != b->nin || nout != b->nout)
			return fault_set(f, FAULT_INVALID,
					 "model '%s' holds rows of %" PRId64
					 " inputs and %" PRId64 " outputs, "
					 "not %" PRIu32 " and %" PRIu32,
					 b->model_id, nin, nout, b->nin,
					 b->nout);
	} else {
		PQclear(res);
	}

	pg_p_text(&r, b->model_id);
	pg_p_i64(&r, b->n);
	pg_p_i64(&r, b->nin);
	pg_p_i64(&r, b->nout);
	pg_p_bytea(&r, b->x, b->xbytes);
	pg_p_bytea(&r, b->y, b->ybytes);
	pg_p_i64(&r, b->now_ms);
	res = pg_exec(c, "INSERT INTO batches (model_id, samples, nin, nout, "
		      "inputs, targets, created_ms) "
		      "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING batch_id",
		      &r, 0, f, "storing a batch");
	if (res == NULL)
		return -1;
	b->batch_id = pg_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int
pg_batch_insert(store *s, const char *model_id, const float *x,
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
	if ((r = pg_write_tx((pg_store *)s, do_batch_insert, &b, f)) != 0)
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

/* ---- list, delete ---- */

struct batch_list {
	const char *model_id;
	store_batch_info *v; /* out, malloc'd */
	size_t n;
};

static int
do_batch_list(pg_conn *c, void *arg, fault *f)
{
	struct batch_list *l = arg;
	pg_params p = { 0 };
	PGresult *r;
	size_t rows;

	free(l->v); /* a retry starts over */
	l->v = NULL;
	l->n = 0;
	if (pg_model_need(c, l->model_id, 0, f) != 0)
		return -1;
	pg_p_text(&p, l->model_id);
	r = pg_exec(c, "SELECT batch_id, samples, created_ms FROM batches "
		    "WHERE model_id = $1 ORDER BY batch_id", &p, 1, f,
		    "listing batches");
	if (r == NULL)
		return -1;
	rows = (size_t)PQntuples(r);
	if ((l->v = malloc((rows ? rows : 1) * sizeof *l->v)) == NULL) {
		PQclear(r);
		return fault_set(f, FAULT_NOMEM, "out of memory listing "
				 "batches");
	}
	for (size_t i = 0; i < rows; i++) {
		l->v[i].batch_id = pg_i64(r, (int)i, 0);
		l->v[i].samples = pg_i64(r, (int)i, 1);
		l->v[i].created_ms = pg_i64(r, (int)i, 2);
	}
	l->n = rows;
	PQclear(r);
	return 0;
}

int
pg_batch_list(store *s, const char *model_id, store_batch_info **out,
	      size_t *n, fault *f)
{
	struct batch_list l = { model_id, NULL, 0 };

	*out = NULL;
	*n = 0;
	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (pg_read_tx((pg_store *)s, do_batch_list, &l, f) != 0) {
		free(l.v);
		return -1;
	}
	if (l.n == 0) {
		free(l.v);
		l.v = NULL;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

struct batches_delete {
	const char *model_id;
	int64_t rows; /* out: the rows deleted */
};

static int
do_batches_delete(pg_conn *c, void *arg, fault *f)
{
	struct batches_delete *d = arg;
	pg_params p = { 0 }, q = { 0 };
	PGresult *r;
	int64_t n;

	pg_p_text(&p, d->model_id);
	if ((n = pg_run(c, "UPDATE models SET samples = 0 WHERE id = $1", &p,
			f, "deleting batches")) < 0)
		return -1;
	if (n == 0)
		return pg_model_missing(d->model_id, f);
	pg_p_text(&q, d->model_id);
	r = pg_exec(c, "WITH d AS (DELETE FROM batches WHERE model_id = $1 "
		    "RETURNING samples) "
		    "SELECT coalesce(sum(samples), 0)::bigint FROM d", &q, 0,
		    f, "deleting batches");
	if (r == NULL)
		return -1;
	d->rows = pg_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

int
pg_batches_delete(store *s, const char *model_id, int64_t *rows, fault *f)
{
	struct batches_delete d = { model_id, 0 };

	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (pg_write_tx((pg_store *)s, do_batches_delete, &d, f) != 0)
		return -1;
	if (rows != NULL)
		*rows = d.rows;
	return 0;
}

/* ---- load all ---- */

struct batch_load {
	const char *model_id;
	uint32_t nin, nout;
	float *x, *y; /* out, malloc'd */
	size_t n;
};

/* Copies batch row i of r into l at row *off, after checking it. */
static int
load_row(const struct batch_load *l, const PGresult *r, int i, size_t *off,
	 fault *f)
{
	int64_t id = pg_i64(r, i, 0), rows = pg_i64(r, i, 1);
	int64_t nin = pg_i64(r, i, 2), nout = pg_i64(r, i, 3);
	size_t xb, yb;
	const void *x = pg_bytes(r, i, 4, &xb), *y = pg_bytes(r, i, 5, &yb);

	if (nin != l->nin || nout != l->nout)
		return fault_set(f, FAULT_INVALID,
				 "batch %" PRId64 " of model '%s' has %" PRId64
				 " inputs and %" PRId64 " outputs, not %" PRIu32
				 " and %" PRIu32, id, l->model_id, nin, nout,
				 l->nin, l->nout);
	if (rows <= 0 || (uint64_t)rows > l->n - *off || x == NULL ||
	    y == NULL || xb != (size_t)rows * l->nin * sizeof(float) ||
	    yb != (size_t)rows * l->nout * sizeof(float))
		return fault_set(f, FAULT_CORRUPT,
				 "batch %" PRId64 " of model '%s' does not "
				 "match its sample count", id, l->model_id);
	memcpy(l->x + *off * l->nin, x, xb);
	memcpy(l->y + *off * l->nout, y, yb);
	pg_floats_le(l->x + *off * l->nin, (size_t)rows * l->nin);
	pg_floats_le(l->y + *off * l->nout, (size_t)rows * l->nout);
	*off += (size_t)rows;
	return 0;
}

static int
do_batches_load(pg_conn *c, void *arg, fault *f)
{
	struct batch_load *l = arg;
	pg_params p = { 0 };
	PGresult *r = NULL;
	size_t off = 0, total = 0;
	int rows;

	free(l->x); /* a retry starts over */
	free(l->y);
	l->x = l->y = NULL;
	l->n = 0;
	if (pg_model_need(c, l->model_id, 0, f) != 0)
		return -1;
	pg_p_text(&p, l->model_id);
	r = pg_exec(c, "SELECT batch_id, samples, nin, nout, inputs, targets "
		    "FROM batches WHERE model_id = $1 ORDER BY batch_id", &p,
		    1, f, "loading batches");
	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	for (int i = 0; i < rows; i++) {
		int64_t k = pg_i64(r, i, 1);

		if (k <= 0 || (uint64_t)k > SIZE_MAX - total) {
			fault_set(f, FAULT_CORRUPT, "a batch of model '%s' "
				  "has a bad row count", l->model_id);
			goto fail;
		}
		total += (size_t)k;
	}
	if (total == 0) {
		PQclear(r);
		return 0;
	}
	if (total > SIZE_MAX / sizeof(float) / l->nin ||
	    total > SIZE_MAX / sizeof(float) / l->nout) {
		fault_set(f, FAULT_NOMEM, "model '%s' has too many rows to "
			  "load", l->model_id);
		goto fail;
	}
	l->n = total;
	l->x = malloc(total * l->nin * sizeof(float));
	l->y = malloc(total * l->nout * sizeof(float));
	if (l->x == NULL || l->y == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory loading %zu rows of "
			  "model '%s'", total, l->model_id);
		goto fail;
	}
	for (int i = 0; i < rows; i++)
		if (load_row(l, r, i, &off, f) != 0)
			goto fail;
	PQclear(r);
	return 0;
fail:
	PQclear(r);
	free(l->x);
	free(l->y);
	l->x = l->y = NULL;
	l->n = 0;
	return -1;
}

int
pg_batches_load(store *s, const char *model_id, uint32_t nin, uint32_t nout,
		float **x, float **y, size_t *n, fault *f)
{
	struct batch_load l = { model_id, nin, nout, NULL, NULL, 0 };

	*x = *y = NULL;
	*n = 0;
	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (nin == 0 || nout == 0)
		return fault_set(f, FAULT_INVALID,
				 "rows need at least one input and output");
	if (pg_read_tx((pg_store *)s, do_batches_load, &l, f) != 0)
		return -1;
	*x = l.x;
	*y = l.y;
	*n = l.n;
	return 0;
}

/* ---- rows by number ---- */

typedef struct pg_rows {
	store_rows head;        /* first: head.st is the store */
	char model_id[STORE_ID_MAX];
	uint32_t nin, nout;
	size_t nb;              /* batches */
	int64_t *ids;           /* their batch ids */
	uint64_t *first;        /* nb + 1 entries: the number of each batch's
	                           first row, then the row count */
} pg_rows;

int
pg_rows_open(store *s, const char *model_id, uint32_t nin, uint32_t nout,
	     store_rows **out, fault *f)
{
	store_batch_info *b = NULL;
	pg_rows *r;
	size_t n = 0;

	*out = NULL;
	if (nin == 0 || nout == 0)
		return fault_set(f, FAULT_INVALID,
				 "rows need at least one input and output");
	if (pg_check_id(model_id, "model", f) != 0)
		return -1;
	if (pg_batch_list(s, model_id, &b, &n, f) != 0)
		return -1;
	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->ids = malloc((n ? n : 1) * sizeof *r->ids)) == NULL ||
	    (r->first = malloc((n + 1) * sizeof *r->first)) == NULL) {
		free(b);
		pg_rows_destroy(r ? &r->head : NULL);
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
pg_rows_count(const store_rows *h)
{
	const pg_rows *r = (const pg_rows *)h;

	return r->first[r->nb];
}

void
pg_rows_destroy(store_rows *h)
{
	pg_rows *r = (pg_rows *)h;

	if (r == NULL)
		return;
	free(r->ids);
	free(r->first);
	free(r);
}

/* The batch that holds row p (p < count): binary search of first. */
static size_t
batch_of(const pg_rows *r, uint64_t p)
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

/* One run: rows at..at+n-1 of batch k, landing at row `to` of the output. */
struct run {
	size_t k;
	uint64_t at;
	size_t n, to;
};

struct rows_read {
	const pg_rows *r;
	const struct run *runs;
	size_t nruns;
	char *ids, *ats, *ns; /* the runs as int8[] literals */
	float *x, *y;
};

/* Appends the decimal v to the array literal being built at *p. */
static void
append(char **p, int64_t v, int last)
{
	*p += sprintf(*p, "%" PRId64 "%c", v, last ? '}' : ',');
}

static int
do_rows_read(pg_conn *c, void *arg, fault *f)
{
	struct rows_read *a = arg;
	const pg_rows *r = a->r;
	size_t xw = r->nin * sizeof(float), yw = r->nout * sizeof(float);
	pg_params p = { 0 };
	PGresult *res;
	int rows;

	pg_p_text(&p, a->ids);
	pg_p_text(&p, a->ats);
	pg_p_text(&p, a->ns);
	pg_p_i64(&p, (int64_t)xw);
	pg_p_i64(&p, (int64_t)yw);
	/* One row per run, in the runs' order; a batch deleted since the
	 * snapshot leaves its runs out. */
	res = pg_exec(c, "SELECT u.i, b.samples, octet_length(b.inputs), "
		      "octet_length(b.targets), "
		      "substring(b.inputs FROM (u.at * $4 + 1)::int "
		      "FOR (u.n * $4)::int), "
		      "substring(b.targets FROM (u.at * $5 + 1)::int "
		      "FOR (u.n * $5)::int) "
		      "FROM unnest($1::text::bigint[], $2::text::bigint[], "
		      "$3::text::bigint[]) WITH ORDINALITY AS u(id, at, n, i) "
		      "JOIN batches b ON b.batch_id = u.id ORDER BY u.i", &p,
		      1, f, "reading rows");
	if (res == NULL)
		return -1;
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		int64_t k = pg_i64(res, i, 0) - 1;
		const struct run *u;
		uint64_t want;
		size_t xb, yb;
		const void *xs, *ys;

		if (k != i) { /* run i has no row: its batch went */
			rows = i;
			break;
		}
		u = &a->runs[k];
		want = r->first[u->k + 1] - r->first[u->k];
		xs = pg_bytes(res, i, 4, &xb);
		ys = pg_bytes(res, i, 5, &yb);
		if ((uint64_t)pg_i64(res, i, 1) != want ||
		    (uint64_t)pg_i64(res, i, 2) != want * xw ||
		    (uint64_t)pg_i64(res, i, 3) != want * yw ||
		    xs == NULL || ys == NULL || xb != u->n * xw ||
		    yb != u->n * yw) {
			PQclear(res);
			return fault_set(f, FAULT_CORRUPT, "batch %" PRId64
					 " of model '%s' does not match its "
					 "sample count", r->ids[u->k],
					 r->model_id);
		}
		memcpy(a->x + u->to * r->nin, xs, xb);
		memcpy(a->y + u->to * r->nout, ys, yb);
		pg_floats_le(a->x + u->to * r->nin, u->n * r->nin);
		pg_floats_le(a->y + u->to * r->nout, u->n * r->nout);
	}
	PQclear(res);
	if ((size_t)rows < a->nruns)
		return fault_set(f, FAULT_CORRUPT, "batch %" PRId64 " of model "
				 "'%s' changed since the job started",
				 r->ids[a->runs[rows].k], r->model_id);
	return 0;
}

int
pg_rows_read(store_rows *h, const uint64_t *pos, size_t n, float *x,
	     float *y, fault *f)
{
	pg_rows *r = (pg_rows *)h;
	struct rows_read a = { r, NULL, 0, NULL, NULL, NULL, x, y };
	struct run *runs = NULL;
	char *pi, *pa, *pn;
	size_t i = 0, nr = 0;
	int rc = -1;

	for (size_t j = 0; j < n; j++)
		if (pos[j] >= pg_rows_count(h))
			return fault_set(f, FAULT_INVALID, "row %" PRIu64 " of "
					 "model '%s' is past its %" PRIu64
					 " rows", pos[j], r->model_id,
					 pg_rows_count(h));
	if (n == 0)
		return 0;
	/* at most n runs, each at most 21 characters per array */
	if (n > SIZE_MAX / 22 - 2 ||
	    (runs = malloc(n * sizeof *runs)) == NULL ||
	    (a.ids = malloc(n * 22 + 2)) == NULL ||
	    (a.ats = malloc(n * 22 + 2)) == NULL ||
	    (a.ns = malloc(n * 22 + 2)) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory reading rows");
		goto out;
	}
	while (i < n) {
		uint64_t p = pos[i];
		size_t k = batch_of(r, p), run = 1;

		/* a run: the rows after p, in order, in the same batch */
		while (i + run < n && pos[i + run] == p + run &&
		       p + run < r->first[k + 1])
			run++;
		runs[nr].k = k;
		runs[nr].at = p - r->first[k];
		runs[nr].n = run;
		runs[nr].to = i;
		nr++;
		i += run;
	}
	pi = a.ids, pa = a.ats, pn = a.ns;
	*pi++ = '{', *pa++ = '{', *pn++ = '{';
	for (size_t k = 0; k < nr; k++) {
		append(&pi, r->ids[runs[k].k], k + 1 == nr);
		append(&pa, (int64_t)runs[k].at, k + 1 == nr);
		append(&pn, (int64_t)runs[k].n, k + 1 == nr);
	}
	a.runs = runs;
	a.nruns = nr;
	rc = pg_read_tx((pg_store *)r->head.st, do_rows_read, &a, f);
out:
	free(runs);
	free(a.ids);
	free(a.ats);
	free(a.ns);
	return rc;
}
