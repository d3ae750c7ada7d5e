/*
 * pg_history: the loss history's rows on PostgreSQL (loss_chunk of
 * schema/pg/), as the hist_io that the engine of hist_write.c and
 * hist_read.c works on (hist_io.h), and the history's writes that other
 * files call: trims (PUT weights, revert, crash recovery) and forgetting
 * a deleted model's rows.
 *
 * DESIGN. The engine reads and writes rows one at a time, which costs
 * nothing on SQLite but a round trip each on a server, so this io
 * batches. Writes (row upserts and deletes) are queued in the pgio and
 * sent together as one pipeline (libpq pipeline mode: every statement
 * sent, then one sync, one round trip) when the body reads again or
 * ends (pgio_flush). The last row of every level of both series (the
 * tails an append starts from) is read in one statement the first time
 * one is asked for, and kept up to date as rows are queued; a queued
 * delete forgets them (the next tail reads them again, after the flush).
 * Visits over a level read rows in growing batches (a query stops early
 * without reading the rest), and the visits of the raw level made from
 * inside another visit (a max_points group that straddles a bucket) read
 * ahead and keep the batch, so that a query costs a few round trips, not
 * one per group. A read-only io also keeps the levels' bounds (one
 * snapshot: they cannot change under it).
 *
 * A trainer's commit is then: the model row's update (which also locks
 * it, so that two writers of one model's history take turns), the tails,
 * one pipeline of row writes, and the job row: four round trips inside
 * BEGIN .. COMMIT, whatever the number of steps.
 *
 * Deletes: a model's history is a few rows per level (at most about
 * 12,000 of them for a 10^9-step model, and about 1,000 raw ones), and
 * deleting them locks nothing that other models' writes need (rows, not
 * a file), so store_model_delete drops them in its own transaction with
 * one DELETE (pg_history_forget).
 */
#include "pg_int.h"
#include "pg_hist.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows a visit reads in its first batch, and at most in one. */
#define BATCH_FIRST 4
#define BATCH_MAX 256

/* Raw rows an inner visit reads ahead (and keeps). */
#define READ_AHEAD 32

_Static_assert(HIST_TIERS == 6, "SQL_TAILS reads levels 0..5");

#define SQL_TAILS \
	"SELECT k.s, j.l, c.first_step, c.last_step, c.t0, c.data " \
	"FROM generate_series(0, 1) AS k(s) " \
	"CROSS JOIN generate_series(0, 5) AS j(l) " /* HIST_TIERS - 1 */ \
	"CROSS JOIN LATERAL (SELECT first_step, last_step, t0, data " \
	"FROM loss_chunk WHERE model_id = $1 AND series = k.s AND " \
	"level = j.l ORDER BY first_step DESC LIMIT 1) AS c"

#define SQL_AT \
	"SELECT first_step, last_step, t0, data FROM loss_chunk " \
	"WHERE model_id = $1 AND series = $2 AND level = $3 " \
	"AND first_step <= $4 ORDER BY first_step DESC LIMIT 1"

/* the rows from the one holding step $4 (or the first after it) to the
 * last that starts at or before $5 */
#define SQL_EACH \
	"SELECT first_step, last_step, t0, data FROM loss_chunk " \
	"WHERE model_id = $1 AND series = $2 AND level = $3 AND " \
	"first_step >= coalesce((SELECT max(first_step) FROM loss_chunk " \
	"WHERE model_id = $1 AND series = $2 AND level = $3 AND " \
	"first_step <= $4), 0) AND first_step <= $5 " \
	"ORDER BY first_step LIMIT $6"

/* the next batch: the rows that start after $4 */
#define SQL_EACH_NEXT \
	"SELECT first_step, last_step, t0, data FROM loss_chunk " \
	"WHERE model_id = $1 AND series = $2 AND level = $3 AND " \
	"first_step > $4 AND first_step <= $5 ORDER BY first_step LIMIT $6"

#define SQL_BOUNDS \
	"SELECT (SELECT min(first_step) FROM loss_chunk WHERE model_id = $1 " \
	"AND series = $2 AND level = $3), (SELECT last_step FROM loss_chunk " \
	"WHERE model_id = $1 AND series = $2 AND level = $3 " \
	"ORDER BY first_step DESC LIMIT 1)"

#define SQL_PUT \
	"INSERT INTO loss_chunk (model_id, series, level, first_step, " \
	"last_step, t0, data) VALUES ($1, $2, $3, $4, $5, $6, $7) " \
	"ON CONFLICT (model_id, series, level, first_step) DO UPDATE SET " \
	"last_step = excluded.last_step, t0 = excluded.t0, " \
	"data = excluded.data"

#define SQL_DROP_PAST \
	"DELETE FROM loss_chunk WHERE model_id = $1 AND series = $2 AND " \
	"level = $3 AND first_step > $4"

#define SQL_DROP_BEFORE \
	"DELETE FROM loss_chunk WHERE model_id = $1 AND series = $2 AND " \
	"level = $3 AND first_step <= $4 AND last_step <= $4"

#define SQL_FORGET \
	"DELETE FROM loss_chunk WHERE model_id = $1"

#define SQL_FORGET_TRASH \
	"DELETE FROM loss_trash WHERE model_id = $1"

#define SQL_TRASH_ROWS \
	"DELETE FROM loss_chunk WHERE model_id IN " \
	"(SELECT model_id FROM loss_trash)"

#define SQL_TRASH_DONE \
	"DELETE FROM loss_trash"

#define SQL_MODEL_STEP \
	"SELECT step FROM models WHERE id = $1 FOR UPDATE"

#define SQL_MODEL_IDS \
	"SELECT id FROM models"

#define SQL_SET_LAST_LOSS \
	"UPDATE models SET last_loss = $2, " \
	"updated_ms = coalesce($3, updated_ms) WHERE id = $1"

/* ---- the queue of writes ---- */

enum pend_kind { PEND_PUT, PEND_DROP_PAST, PEND_DROP_BEFORE };

typedef struct pend {
	enum pend_kind kind;
	int series, level;
	uint64_t first, last; /* put: the row's; drops: the step */
	int64_t t0;
	size_t len;
	unsigned char *data;  /* put: a malloc'd copy of the row's bytes */
} pend;

/* A level's last row, as read or as queued. */
struct cached_tail {
	int have;
	hist_row r;
	unsigned char buf[HIST_ROW_BYTES];
};

struct pgio {
	pg_conn *c;
	const char *model_id;
	int readonly;          /* in a read transaction: bounds are kept */
	int tails_read;        /* tail[][] holds what is stored + queued */
	struct cached_tail tail[2][HIST_TIERS];
	pend *q;               /* queued writes, in order */
	size_t nq, capq;
	struct bound {
		int have;
		uint64_t first, last;
	} bound[2][HIST_TIERS];
	PGresult *ahead;       /* the raw rows an inner visit read ahead */
	int ahead_series;
	int ahead_all;         /* ahead holds every row to the level's end */
};

/* The statement parameters (model, series, level) every row query
 * starts with. */
static void
p_key(pg_params *p, const pgio *io, int series, int level)
{
	pg_p_text(p, io->model_id);
	pg_p_i64(p, series);
	pg_p_i64(p, level);
}

static int
series_ok(int series, int level, fault *f)
{
	if (series < 0 || series > 1 || level < 0 || level >= HIST_TIERS)
		return fault_set(f, FAULT_INTERNAL, "no history level %d/%d",
				 series, level);
	return 0;
}

static int
pend_add(pgio *io, const pend *p, fault *f)
{
	if (io->nq == io->capq) {
		size_t cap = io->capq ? io->capq * 2 : 16;
		pend *v = realloc(io->q, cap * sizeof *v);

		if (v == NULL)
			return fault_set(f, FAULT_NOMEM,
					 "out of memory storing loss history");
		io->q = v;
		io->capq = cap;
	}
	io->q[io->nq++] = *p;
	return 0;
}

static void
pend_clear(pgio *io)
{
	for (size_t i = 0; i < io->nq; i++)
		free(io->q[i].data);
	io->nq = 0;
}

/* Sends the queued write w (pipeline mode): 1, or 0 when libpq could
 * not (p.bad too). */
static int
pend_send(const pgio *io, const pend *w)
{
	PGconn *pq = io->c->pq;
	pg_params p = { 0 };

	p_key(&p, io, w->series, w->level);
	pg_p_i64(&p, (int64_t)w->first);
	if (w->kind == PEND_PUT) {
		pg_p_i64(&p, (int64_t)w->last);
		pg_p_i64(&p, w->t0);
		pg_p_bytea(&p, w->data, w->len);
	}
	if (p.bad)
		return 0;
	switch (w->kind) {
	case PEND_PUT:
		return PQsendQueryParams(pq, SQL_PUT, p.n, p.types, p.values,
		    p.lengths, p.formats, 1);
	case PEND_DROP_PAST:
		return PQsendQueryParams(pq, SQL_DROP_PAST, p.n, p.types,
		    p.values, p.lengths, p.formats, 1);
	case PEND_DROP_BEFORE:
	default:
		return PQsendQueryParams(pq, SQL_DROP_BEFORE, p.n, p.types,
		    p.values, p.lengths, p.formats, 1);
	}
}

/* Reads the results of a pipeline of n statements and its sync; the
 * first failure goes into f. */
static int
pipeline_results(pgio *io, size_t n, fault *f)
{
	PGconn *pq = io->c->pq;
	PGresult *r;
	int failed = 0;
	size_t nulls = 0;

	for (;;) {
		r = PQgetResult(pq);
		if (r == NULL) {
			/* one after each statement's results; more means
			 * the sync will not come */
			if (PQstatus(pq) == CONNECTION_BAD || ++nulls > n) {
				if (!failed)
					pg_fault(io->c, NULL, f,
						 "storing loss history");
				io->c->broken = 1;
				return -1;
			}
			continue;
		}
		switch (PQresultStatus(r)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(r);
			return failed ? -1 : 0;
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_PIPELINE_ABORTED:
			break;
		default:
			if (!failed)
				pg_fault(io->c, r, f, "storing loss history");
			failed = 1;
			break;
		}
		PQclear(r);
	}
}

int
pgio_flush(pgio *io, fault *f)
{
	PGconn *pq = io->c->pq;
	int r = -1;

	if (io->nq == 0)
		return 0;
	if (PQenterPipelineMode(pq) != 1) {
		pend_clear(io);
		return pg_fault(io->c, NULL, f, "storing loss history");
	}
	for (size_t i = 0; i < io->nq; i++) {
		if (pend_send(io, &io->q[i]) != 1) {
			pg_fault(io->c, NULL, f, "storing loss history");
			io->c->broken = 1; /* a pipeline left half sent */
			goto out;
		}
	}
	if (PQpipelineSync(pq) != 1) {
		pg_fault(io->c, NULL, f, "storing loss history");
		io->c->broken = 1;
		goto out;
	}
	r = pipeline_results(io, io->nq, f);
	if (PQexitPipelineMode(pq) != 1 && r == 0) {
		io->c->broken = 1;
		r = fault_set(f, FAULT_INTERNAL, "a loss history pipeline "
			      "did not end");
	}
out:
	if (r != 0 && PQpipelineStatus(pq) != PQ_PIPELINE_OFF)
		io->c->broken = 1;
	pend_clear(io);
	return r;
}

/* Forgets what reads kept (a write changed the rows under them). */
static void
forget_reads(pgio *io)
{
	memset(io->bound, 0, sizeof io->bound);
	PQclear(io->ahead);
	io->ahead = NULL;
}

/* ---- reading rows ---- */

/* Fills r (its series and level set) from row i of the result (first,
 * last, t0, data from column col on). */
static int
row_of(const PGresult *res, int i, int col, hist_row *r, fault *f)
{
	size_t len, rec = hist_row_rec(r->series, r->level);
	const void *d = pg_bytes(res, i, col + 3, &len);

	if (len % rec != 0 || len / rec > hist_row_cap(r->series, r->level) ||
	    (len > 0 && d == NULL))
		return fault_set(f, FAULT_INTERNAL, "a loss history row of %zu "
				 "bytes is damaged", len);
	r->first = (uint64_t)pg_i64(res, i, col);
	r->last = (uint64_t)pg_i64(res, i, col + 1);
	r->t0 = pg_i64(res, i, col + 2);
	r->n = len / rec;
	if (len > 0)
		memcpy(r->data, d, len);
	return 0;
}

static int
read_tails(pgio *io, fault *f)
{
	pg_params p = { 0 };
	PGresult *res;
	int rows;

	if (pgio_flush(io, f) != 0)
		return -1;
	pg_p_text(&p, io->model_id);
	if ((res = pg_exec(io->c, SQL_TAILS, &p, 1, f,
	    "reading loss history")) == NULL)
		return -1;
	for (int s = 0; s < 2; s++) {
		for (int k = 0; k < HIST_TIERS; k++) {
			io->tail[s][k].have = 0;
			io->tail[s][k].r.series = s;
			io->tail[s][k].r.level = k;
			io->tail[s][k].r.data = io->tail[s][k].buf;
		}
	}
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		int64_t s = pg_i64(res, i, 0), k = pg_i64(res, i, 1);
		struct cached_tail *t;

		if (s < 0 || s > 1 || k < 0 || k >= HIST_TIERS)
			continue;
		t = &io->tail[s][k];
		if (row_of(res, i, 2, &t->r, f) != 0) {
			PQclear(res);
			return -1;
		}
		t->have = 1;
	}
	PQclear(res);
	io->tails_read = 1;
	return 0;
}

static int
io_tail(void *arg, hist_row *r, fault *f)
{
	pgio *io = arg;
	struct cached_tail *t;

	if (series_ok(r->series, r->level, f) != 0)
		return -1;
	if (!io->tails_read && read_tails(io, f) != 0)
		return -1;
	t = &io->tail[r->series][r->level];
	if (!t->have)
		return 0;
	r->first = t->r.first;
	r->last = t->r.last;
	r->t0 = t->r.t0;
	r->n = t->r.n;
	memcpy(r->data, t->r.data, r->n * hist_row_rec(r->series, r->level));
	return 1;
}

static int
io_at(void *arg, hist_row *r, uint64_t step, fault *f)
{
	pgio *io = arg;
	pg_params p = { 0 };
	PGresult *res;
	int found;

	if (series_ok(r->series, r->level, f) != 0 || pgio_flush(io, f) != 0)
		return -1;
	p_key(&p, io, r->series, r->level);
	pg_p_i64(&p, step > INT64_MAX ? INT64_MAX : (int64_t)step);
	if ((res = pg_exec(io->c, SQL_AT, &p, 1, f,
	    "reading loss history")) == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found && row_of(res, 0, 0, r, f) != 0)
		found = -1;
	PQclear(res);
	return found;
}

/* The rows of the level from the one holding a to the last starting at or
 * before b, at most limit of them; after (when not 0): those that start
 * past it instead. */
static PGresult *
rows_from(pgio *io, int series, int level, uint64_t a, uint64_t after,
	  uint64_t b, int limit, fault *f)
{
	pg_params p = { 0 };

	p_key(&p, io, series, level);
	pg_p_i64(&p, (int64_t)(after ? after : a));
	pg_p_i64(&p, (int64_t)b);
	pg_p_i64(&p, limit);
	if (after)
		return pg_exec(io->c, SQL_EACH_NEXT, &p, 1, f,
			       "reading loss history");
	return pg_exec(io->c, SQL_EACH, &p, 1, f, "reading loss history");
}

/* Visits the entries of rows [from, n) of res that hold a step in
 * [a, b]: 0 goes on, 1 stopped (cb, or past b), -1 failed. */
static int
visit_rows(const PGresult *res, int from, int n, int series, int level,
	   uint64_t a, uint64_t b, hist_visit cb, void *arg, fault *f)
{
	unsigned char buf[HIST_ROW_BYTES];
	hist_row r = { .series = series, .level = level, .data = buf };
	hist_bucket e;
	int stop;

	for (int i = from; i < n; i++) {
		if (row_of(res, i, 0, &r, f) != 0)
			return -1;
		if (r.last < a)
			continue;
		for (size_t j = 0; j < r.n; j++) {
			hist_row_entry(&r, j, &e);
			if (e.last < a)
				continue;
			if (e.first > b)
				return 1;
			if ((stop = cb(arg, &e, f)) != 0)
				return stop;
		}
	}
	return 0;
}

/* An inner visit of the raw level: from the rows read ahead when they
 * hold [a, b], else from READ_AHEAD rows read now (and kept). */
static int
each_ahead(pgio *io, int series, uint64_t a, uint64_t b, hist_visit cb,
	   void *arg, fault *f)
{
	int n = io->ahead ? PQntuples(io->ahead) : 0, from = 0, r;

	if (n > 0 && io->ahead_series == series &&
	    (uint64_t)pg_i64(io->ahead, 0, 0) <= a &&
	    (io->ahead_all || b <= (uint64_t)pg_i64(io->ahead, n - 1, 1))) {
		/* skip the rows that end before a (no query) */
		while (from < n - 1 &&
		    (uint64_t)pg_i64(io->ahead, from, 1) < a)
			from++;
	} else {
		PQclear(io->ahead);
		io->ahead = rows_from(io, series, 0, a, 0, INT64_MAX,
		    READ_AHEAD, f);
		if (io->ahead == NULL)
			return -1;
		io->ahead_series = series;
		n = PQntuples(io->ahead);
		io->ahead_all = n < READ_AHEAD;
		if (n > 0 && !io->ahead_all &&
		    b > (uint64_t)pg_i64(io->ahead, n - 1, 1)) {
			/* wider than the read-ahead: a plain visit */
			PQclear(io->ahead);
			io->ahead = NULL;
			return 2;
		}
	}
	r = visit_rows(io->ahead, from, n, series, 0, a, b, cb, arg, f);
	return r < 0 ? -1 : 0;
}

static int
io_each(void *arg, int series, int level, uint64_t a, uint64_t b, int inner,
	hist_visit cb, void *cbarg, fault *f)
{
	pgio *io = arg;
	uint64_t after = 0;
	int limit = BATCH_FIRST, r;

	if (series_ok(series, level, f) != 0 || pgio_flush(io, f) != 0)
		return -1;
	if (a > b)
		return 0;
	if (inner && level == 0 &&
	    (r = each_ahead(io, series, a, b, cb, cbarg, f)) != 2)
		return r;
	for (;;) {
		PGresult *res = rows_from(io, series, level, a, after, b,
		    limit, f);
		int n;

		if (res == NULL)
			return -1;
		n = PQntuples(res);
		r = visit_rows(res, 0, n, series, level, a, b, cb, cbarg, f);
		if (n > 0)
			after = (uint64_t)pg_i64(res, n - 1, 0);
		PQclear(res);
		if (r != 0)
			return r < 0 ? -1 : 0;
		if (n < limit)
			return 0;
		if (limit < BATCH_MAX)
			limit *= 4;
	}
}

static int
io_bounds(void *arg, int series, int level, uint64_t *first,
	  uint64_t *last, fault *f)
{
	pgio *io = arg;
	pg_params p = { 0 };
	PGresult *res;

	*first = *last = 0;
	if (series_ok(series, level, f) != 0 || pgio_flush(io, f) != 0)
		return -1;
	if (io->bound[series][level].have) {
		*first = io->bound[series][level].first;
		*last = io->bound[series][level].last;
		return 0;
	}
	p_key(&p, io, series, level);
	if ((res = pg_exec(io->c, SQL_BOUNDS, &p, 1, f,
	    "reading loss history")) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		*first = (uint64_t)pg_i64(res, 0, 0); /* NULL: 0 */
		*last = (uint64_t)pg_i64(res, 0, 1);
	}
	PQclear(res);
	if (io->readonly) {
		io->bound[series][level].have = 1;
		io->bound[series][level].first = *first;
		io->bound[series][level].last = *last;
	}
	return 0;
}

static int
io_put(void *arg, const hist_row *r, fault *f)
{
	pgio *io = arg;
	size_t len = r->n * hist_row_rec(r->series, r->level);
	pend w = { .kind = PEND_PUT, .series = r->series, .level = r->level,
		   .first = r->first, .last = r->last, .t0 = r->t0,
		   .len = len };
	struct cached_tail *t;

	if (series_ok(r->series, r->level, f) != 0)
		return -1;
	if ((w.data = malloc(len ? len : 1)) == NULL)
		return fault_set(f, FAULT_NOMEM,
				 "out of memory storing loss history");
	memcpy(w.data, r->data, len);
	if (pend_add(io, &w, f) != 0) {
		free(w.data);
		return -1;
	}
	forget_reads(io);
	t = &io->tail[r->series][r->level];
	if (io->tails_read && (!t->have || r->first >= t->r.first)) {
		t->have = 1;
		t->r.first = r->first;
		t->r.last = r->last;
		t->r.t0 = r->t0;
		t->r.n = r->n;
		memcpy(t->buf, r->data, len);
	}
	return 0;
}

static int
drop(pgio *io, enum pend_kind kind, int series, int level, uint64_t step,
     fault *f)
{
	pend w = { .kind = kind, .series = series, .level = level,
		   .first = step > INT64_MAX ? INT64_MAX : step };

	if (series_ok(series, level, f) != 0 || pend_add(io, &w, f) != 0)
		return -1;
	forget_reads(io);
	io->tails_read = 0;
	return 0;
}

static int
io_drop_past(void *arg, int series, int level, uint64_t step, fault *f)
{
	return drop(arg, PEND_DROP_PAST, series, level, step, f);
}

static int
io_drop_before(void *arg, int series, int level, uint64_t step, fault *f)
{
	pgio *io = arg;
	struct cached_tail *t = &io->tail[series][level];

	if (series_ok(series, level, f) != 0)
		return -1;
	/* the raw window's trim at each commit: it never reaches the tail
	 * (the last row holds the last step, past step), so the tails stay
	 * as they are (no read again) */
	if (io->tails_read && t->have && t->r.last > step) {
		pend w = { .kind = PEND_DROP_BEFORE, .series = series,
			   .level = level,
			   .first = step > INT64_MAX ? INT64_MAX : step };

		if (pend_add(io, &w, f) != 0)
			return -1;
		forget_reads(io);
		return 0;
	}
	return drop(io, PEND_DROP_BEFORE, series, level, step, f);
}

static const hist_io_ops pg_hist_ops = {
	.tail = io_tail,
	.at = io_at,
	.each = io_each,
	.bounds = io_bounds,
	.put = io_put,
	.drop_past = io_drop_past,
	.drop_before = io_drop_before,
};

pgio *
pgio_open(pg_conn *c, const char *model_id, int readonly, hist_io *hio,
	  fault *f)
{
	pgio *io = calloc(1, sizeof *io);

	if (io == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory reading loss history");
		return NULL;
	}
	io->c = c;
	io->model_id = model_id;
	io->readonly = readonly;
	hio->ops = &pg_hist_ops;
	hio->arg = io;
	hio->model_id = model_id;
	hio->raw = pg_hist_raw(c->st);
	return io;
}

void
pgio_close(pgio *io)
{
	if (io == NULL)
		return;
	pend_clear(io);
	free(io->q);
	PQclear(io->ahead);
	free(io);
}

/* ---- for the other files ---- */

/* Runs fn on a fresh io of the model, then flushes what it queued. */
static int
with_io(pg_conn *c, const char *model_id, int (*fn)(const hist_io *hio,
	void *arg, fault *f), void *arg, fault *f)
{
	hist_io hio;
	pgio *io = pgio_open(c, model_id, 0, &hio, f);
	int r;

	if (io == NULL)
		return -1;
	r = fn(&hio, arg, f);
	if (r == 0)
		r = pgio_flush(io, f);
	pgio_close(io);
	return r;
}

static int
trim_fn(const hist_io *hio, void *arg, fault *f)
{
	return hist_trim(hio, *(const uint64_t *)arg, f);
}

int
pg_history_trim(pg_conn *c, const char *model_id, int64_t step, fault *f)
{
	uint64_t s = step < 0 ? 0 : (uint64_t)step;

	return with_io(c, model_id, trim_fn, &s, f);
}

struct loss_at {
	uint64_t step;
	double loss;
};

static int
loss_at_fn(const hist_io *hio, void *arg, fault *f)
{
	struct loss_at *la = arg;

	return hist_loss_at(hio, la->step, &la->loss, f);
}

int
pg_history_loss_at(pg_conn *c, const char *model_id, int64_t step,
		   double *loss, fault *f)
{
	struct loss_at la = { step < 1 ? 0 : (uint64_t)step, NAN };
	int r = with_io(c, model_id, loss_at_fn, &la, f);

	*loss = la.loss;
	return r;
}

struct val_at {
	uint64_t step;
	store_val_point vp;
};

static int
val_at_fn(const hist_io *hio, void *arg, fault *f)
{
	struct val_at *va = arg;

	return hist_val_at(hio, va->step, &va->vp, f);
}

int
pg_history_val_at(pg_conn *c, const char *model_id, int64_t step,
		  store_val_point *vp, fault *f)
{
	struct val_at va = { step < 1 ? 0 : (uint64_t)step,
			     { 0, NAN, NAN, 0 } };
	int r = with_io(c, model_id, val_at_fn, &va, f);

	*vp = va.vp;
	return r;
}

int
pg_history_forget(pg_conn *c, const char *model_id, fault *f)
{
	pg_params p = { 0 };

	pg_p_text(&p, model_id);
	if (pg_run(c, SQL_FORGET, &p, f, "dropping a deleted history") < 0)
		return -1;
	return pg_run(c, SQL_FORGET_TRASH, &p, f,
		      "dropping a deleted history") < 0 ? -1 : 0;
}

int
pg_history_to_checkpoint(pg_conn *c, const char *model_id, int64_t now_ms,
			 double *last_loss, fault *f)
{
	pg_params p = { 0 };
	PGresult *res;
	int64_t step;
	double loss;

	pg_p_text(&p, model_id);
	if ((res = pg_exec(c, SQL_MODEL_STEP, &p, 1, f,
	    "reading a checkpoint")) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return pg_model_missing(model_id, f);
	}
	step = pg_i64(res, 0, 0);
	PQclear(res);
	if (pg_history_trim(c, model_id, step, f) != 0 ||
	    pg_history_loss_at(c, model_id, step, &loss, f) != 0)
		return -1;
	memset(&p, 0, sizeof p);
	pg_p_text(&p, model_id);
	pg_p_real(&p, loss);
	pg_p_time(&p, now_ms);
	if (pg_run(c, SQL_SET_LAST_LOSS, &p, f,
	    "restoring the last loss") < 0)
		return -1;
	if (last_loss != NULL)
		*last_loss = loss;
	return 0;
}

int
pg_history_recover(pg_conn *c, fault *f)
{
	PGresult *res;
	char (*ids)[STORE_ID_MAX] = NULL;
	int n, r = -1;

	if (pg_run(c, SQL_TRASH_ROWS, NULL, f, "dropping deleted histories") <
	    0 || pg_run(c, SQL_TRASH_DONE, NULL, f,
	    "dropping deleted histories") < 0)
		return -1;
	/* all ids first: the result is not held while rows change */
	if ((res = pg_exec(c, SQL_MODEL_IDS, NULL, 0, f,
	    "listing models")) == NULL)
		return -1;
	n = PQntuples(res);
	if (n > 0 && (ids = calloc((size_t)n, sizeof *ids)) == NULL) {
		PQclear(res);
		return fault_set(f, FAULT_NOMEM, "out of memory recovering");
	}
	for (int i = 0; i < n; i++) {
		if (pg_copy_id(ids[i], res, i, 0, f) != 0) {
			PQclear(res);
			goto out;
		}
	}
	PQclear(res);
	for (int i = 0; i < n; i++) {
		if (pg_history_to_checkpoint(c, ids[i], 0, NULL, f) != 0)
			goto out;
	}
	r = 0;
out:
	free(ids);
	return r;
}
