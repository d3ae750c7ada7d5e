/*
 * pg_history_read: the loss and validation queries on PostgreSQL
 * (store_loss_query, store_loss_windows, store_loss_range), with the
 * semantics of store.h: each one read transaction (one snapshot) running
 * hist_read.c's engine over pg_history.c's io, which reads rows in
 * batches, so that a query costs a few round trips and reads about as
 * many rows as it returns.
 */
#include "pg_hist.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct query {
	const char *model_id;
	int series;
	int range;            /* 1: hist_range, 0: hist_windows */
	uint64_t a, b;        /* every, since; or from, to */
	size_t limit;         /* limit; or max_points */
	store_loss_window *out; /* malloc'd */
	size_t n;
};

static int
do_query(pg_conn *c, void *arg, fault *f)
{
	struct query *q = arg;
	hist_io hio;
	pgio *io;
	int r;

	free(q->out); /* a retry starts over */
	q->out = NULL;
	q->n = 0;
	if (pg_model_need(c, q->model_id, 0, f) != 0)
		return -1;
	if ((io = pgio_open(c, q->model_id, 1, &hio, f)) == NULL)
		return -1;
	if (q->range)
		r = hist_range(&hio, q->series, q->a, q->b, q->limit, &q->out,
		    &q->n, f);
	else
		r = hist_windows(&hio, q->series, q->a, q->b, q->limit,
		    &q->out, &q->n, f);
	pgio_close(io);
	return r;
}

static int
run(store *s, struct query *q, store_loss_window **out, size_t *n, fault *f)
{
	if (pg_read_tx((pg_store *)s, do_query, q, f) != 0) {
		free(q->out);
		return -1;
	}
	*out = q->out;
	*n = q->n;
	return 0;
}

static int
series_check(const char *model_id, store_series series, fault *f)
{
	if (model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (series != STORE_SERIES_TRAIN && series != STORE_SERIES_VALIDATION)
		return fault_set(f, FAULT_INVALID, "no such history series");
	return 0;
}

int
pg_loss_windows(store *s, const char *model_id, store_series series,
		uint64_t every, uint64_t since, size_t limit,
		store_loss_window **out, size_t *n, fault *f)
{
	struct query q;

	*out = NULL;
	*n = 0;
	if (series_check(model_id, series, f) != 0)
		return -1;
	if (every == 0 || every > INT64_MAX)
		return fault_set(f, FAULT_INVALID, "a window of %" PRIu64
				 " steps is out of range", every);
	memset(&q, 0, sizeof q);
	q.model_id = model_id;
	q.series = series;
	q.a = every;
	q.b = since > INT64_MAX ? INT64_MAX : since;
	q.limit = (uint64_t)limit > INT64_MAX ? (size_t)INT64_MAX : limit;
	return run(s, &q, out, n, f);
}

int
pg_loss_range(store *s, const char *model_id, store_series series,
	      uint64_t from, uint64_t to, size_t max_points,
	      store_loss_window **out, size_t *n, fault *f)
{
	struct query q;

	*out = NULL;
	*n = 0;
	if (series_check(model_id, series, f) != 0)
		return -1;
	if (max_points == 0 || from == 0 || from > INT64_MAX)
		return fault_set(f, FAULT_INVALID, "max_points and from must "
				 "be at least 1");
	memset(&q, 0, sizeof q);
	q.model_id = model_id;
	q.series = series;
	q.range = 1;
	q.a = from;
	q.b = to < from ? from - 1 : to;
	q.limit = max_points;
	return run(s, &q, out, n, f);
}

int
pg_loss_query(store *s, const char *model_id, uint64_t since, size_t limit,
	      store_loss_point **out, size_t *n, fault *f)
{
	store_loss_window *w;
	size_t k;

	*out = NULL;
	*n = 0;
	if (pg_loss_windows(s, model_id, STORE_SERIES_TRAIN, 1, since, limit,
	    &w, &k, f) != 0 || hist_points(w, k, out, f) != 0)
		return -1;
	*n = k;
	return 0;
}
