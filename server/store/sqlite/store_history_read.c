/*
 * store_history_read: the queries of the loss and validation series:
 * their arguments checked, then the shared engine of ../hist_read.c
 * (which picks a level and streams its entries into groups) run over the
 * model's rows (store_chunks.c) in a read transaction.
 */
#include "store_int.h"

#include <inttypes.h>
#include <stdlib.h>

/* One query: windows of every = a steps past since = b, or at most limit
 * groups over the steps a..b (range). */
struct query {
	const char *model_id;
	store_series series;
	int range;
	uint64_t a, b;
	size_t limit;
	store_loss_window *out; /* malloc'd, n of them */
	size_t n;
};

static int
do_query(conn *c, void *arg, fault *f)
{
	struct query *q = arg;
	chunk_io x;

	free(q->out); /* a retry starts over */
	q->out = NULL;
	q->n = 0;
	if (model_need(c, q->model_id, f) != 0)
		return -1;
	chunk_io_init(&x, c, q->model_id);
	if (q->range)
		return hist_range(&x.io, q->series, q->a, q->b, q->limit,
				  &q->out, &q->n, f);
	return hist_windows(&x.io, q->series, q->a, q->b, q->limit, &q->out,
			    &q->n, f);
}

/* Runs q in a read transaction (model_id and series checked first). */
static int
run_query(store *s, struct query *q, store_loss_window **out, size_t *n,
	  fault *f)
{
	*out = NULL;
	*n = 0;
	if (q->model_id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (q->series != STORE_SERIES_TRAIN &&
	    q->series != STORE_SERIES_VALIDATION)
		return fault_set(f, FAULT_INVALID, "no such history series");
	if (db_read_tx(s, do_query, q, f) != 0) {
		free(q->out);
		return -1;
	}
	*out = q->out;
	*n = q->n;
	return 0;
}

int
sq_loss_windows(store *s, const char *model_id, store_series series,
		uint64_t every, uint64_t since, size_t limit,
		store_loss_window **out, size_t *n, fault *f)
{
	struct query q = { model_id, series, 0, every,
	    since > INT64_MAX ? INT64_MAX : since,
	    (uint64_t)limit > INT64_MAX ? INT64_MAX : limit, NULL, 0 };

	if (model_id != NULL && (every == 0 || every > INT64_MAX)) {
		*out = NULL;
		*n = 0;
		return fault_set(f, FAULT_INVALID, "a window of %" PRIu64
				 " steps is out of range", every);
	}
	return run_query(s, &q, out, n, f);
}

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

int
sq_loss_range(store *s, const char *model_id, store_series series,
	      uint64_t from, uint64_t to, size_t max_points,
	      store_loss_window **out, size_t *n, fault *f)
{
	struct query q = { model_id, series, 1, from,
	    to < from ? from - 1 : to, max_points, NULL, 0 };

	if (model_id != NULL && (series == STORE_SERIES_TRAIN ||
	    series == STORE_SERIES_VALIDATION) &&
	    (max_points == 0 || from == 0 || from > INT64_MAX)) {
		*out = NULL;
		*n = 0;
		return fault_set(f, FAULT_INVALID, "max_points and from must "
				 "be at least 1");
	}
	return run_query(s, &q, out, n, f);
}
