/*
 * store_history_read: the queries of the loss and validation series:
 * their arguments checked, then the shared engine of ../hist_read.c
 * (which picks a level and streams its entries into groups) run over the
 * model's rows (store_chunks.c) in a read transaction.
 */
#include "store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- windows of every steps ---- */

struct loss_windows {
	const char *model_id;
	store_series series;
	int64_t every, since, limit;
	db_array rows; /* out: store_loss_window */
};

static int
do_loss_windows(conn *c, void *arg, fault *f)
{
	struct loss_windows *w = arg;
	store_loss_window *out;
	chunk_io x;
	size_t n;

	free(w->rows.v); /* a retry starts over */
	memset(&w->rows, 0, sizeof w->rows);
	w->rows.elem = sizeof(store_loss_window);
	if (model_need(c, w->model_id, f) != 0)
		return -1;
	chunk_io_init(&x, c, w->model_id);
	if (hist_windows(&x.io, w->series, (uint64_t)w->every,
	    (uint64_t)w->since, (size_t)w->limit, &out, &n, f) != 0)
		return -1;
	w->rows.v = out;
	w->rows.n = w->rows.cap = n;
	return 0;
}

int
sq_loss_windows(store *s, const char *model_id, store_series series,
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

/* ---- the points one by one ---- */

int
sq_loss_query(store *s, const char *model_id, uint64_t since,
	      size_t limit, store_loss_point **out, size_t *n, fault *f)
{
	store_loss_window *w;
	size_t k;

	*out = NULL;
	*n = 0;
	if (sq_loss_windows(s, model_id, STORE_SERIES_TRAIN, 1, since, limit,
	    &w, &k, f) != 0 || hist_points(w, k, out, f) != 0)
		return -1;
	*n = k;
	return 0;
}

/* ---- at most N points over a range ---- */

struct loss_range {
	const char *model_id;
	store_series series;
	uint64_t from, to;
	size_t max;
	db_array rows; /* out: store_loss_window */
};

static int
do_loss_range(conn *c, void *arg, fault *f)
{
	struct loss_range *r = arg;
	store_loss_window *out;
	chunk_io x;
	size_t n;

	free(r->rows.v); /* a retry starts over */
	memset(&r->rows, 0, sizeof r->rows);
	r->rows.elem = sizeof(store_loss_window);
	if (model_need(c, r->model_id, f) != 0)
		return -1;
	chunk_io_init(&x, c, r->model_id);
	if (hist_range(&x.io, r->series, r->from, r->to, r->max, &out, &n,
	    f) != 0)
		return -1;
	r->rows.v = out;
	r->rows.n = r->rows.cap = n;
	return 0;
}

int
sq_loss_range(store *s, const char *model_id, store_series series,
	      uint64_t from, uint64_t to, size_t max_points,
	      store_loss_window **out, size_t *n, fault *f)
{
	struct loss_range r;

	*out = NULL;
	*n = 0;
	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (series != STORE_SERIES_TRAIN && series != STORE_SERIES_VALIDATION)
		return fault_set(f, FAULT_INVALID, "no such history series");
	if (max_points == 0 || from == 0 || from > INT64_MAX)
		return fault_set(f, FAULT_INVALID, "max_points and from must "
				 "be at least 1");
	memset(&r, 0, sizeof r);
	r.model_id = model_id;
	r.series = series;
	r.from = from;
	r.to = to < from ? from - 1 : to;
	r.max = max_points;
	r.rows.elem = sizeof(store_loss_window);
	if (db_read_tx(s, do_loss_range, &r, f) != 0) {
		free(r.rows.v);
		return -1;
	}
	*out = r.rows.v;
	*n = r.rows.n;
	return 0;
}
