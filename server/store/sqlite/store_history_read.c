/*
 * store_history_read: the queries of the loss and validation series.
 *
 * A query picks one level of the history (hist_tiers.h) and streams its
 * entries, ascending, into groups: windows of every = K steps, or at most
 * N aligned groups over a range (max_points). Level 0 means "raw where it
 * is kept": the level-1 buckets before the raw window's first step, then
 * the raw points. Each group is the exact merge of whole entries, so its
 * count, mean, min and max are exact for the steps first..step it reports;
 * the stream stops once the answer is full, so a query reads about as many
 * rows as it returns. The validation series has the same levels and the
 * same queries (its groups also carry the mean accuracy).
 */
#include "store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Raw points a max_points query may read (about a millisecond's worth)
 * when they give it finer groups than the buckets would. */
#define RAW_READ_MAX 65536

/* ---- grouping a stream of entries ---- */

typedef struct grouper {
	int series;        /* a store_series */
	int pre;           /* the level read before the raw window (>= 1) */
	uint64_t g;        /* group width: group i holds ((i)g, (i+1)g] */
	uint64_t lo, hi;   /* entries count in the group of their last step
	                      clamped to [lo, hi] */
	uint64_t since;    /* only groups that end past since */
	size_t limit;
	int exact_tiers;   /* buckets of a level whose width divides g */
	int have;
	uint64_t gi;       /* the open group's index */
	hist_bucket acc;
	int tiered;        /* the open group holds a bucket */
	uint64_t seen;     /* the last step of the last entry added */
	db_array out;      /* store_loss_window */
} grouper;

static int
emit(grouper *gr, fault *f)
{
	store_loss_window *w;

	if (!gr->have || gr->acc.last <= gr->since)
		return 0;
	if (gr->out.n == gr->out.cap) {
		size_t cap = gr->out.cap ? gr->out.cap * 2 : 64;
		void *v = realloc(gr->out.v, cap * sizeof *w);

		if (v == NULL)
			return fault_set(f, FAULT_NOMEM,
					 "out of memory reading loss history");
		gr->out.v = v;
		gr->out.cap = cap;
	}
	w = (store_loss_window *)gr->out.v + gr->out.n++;
	memset(w, 0, sizeof *w);
	w->step = gr->acc.last;
	w->first = gr->acc.first;
	w->count = gr->acc.count;
	w->loss = hist_mean(&gr->acc);
	w->min = gr->acc.min;
	w->max = gr->acc.max;
	w->accuracy = hist_acc_mean(&gr->acc);
	w->time_ms = gr->acc.time_ms;
	w->bucket = gr->tiered && !gr->exact_tiers;
	return 0;
}

static int
group_add(void *arg, const hist_bucket *e, fault *f)
{
	grouper *gr = arg;
	uint64_t at = e->last < gr->lo ? gr->lo : e->last > gr->hi ? gr->hi :
	    e->last;
	uint64_t gi = (at - 1) / gr->g;

	if (gr->have && gi != gr->gi) {
		if (emit(gr, f) != 0)
			return -1;
		gr->have = 0;
		if (gr->out.n >= gr->limit)
			return 1;
	}
	if (!gr->have) {
		memset(&gr->acc, 0, sizeof gr->acc);
		gr->have = 1;
		gr->gi = gi;
		gr->tiered = 0;
	}
	hist_merge(&gr->acc, e);
	gr->seen = e->last;
	return 0;
}

/* Visits a level-1 bucket as a tiered entry even when it holds one step. */
static int
group_add_bucket(void *arg, const hist_bucket *e, fault *f)
{
	grouper *gr = arg;
	int r = group_add(arg, e, f);

	if (r == 0)
		gr->tiered = 1;
	return r;
}

/* Where the raw steps are kept: a level-1 bucket that lies in one group
 * (and past the stream's start) goes in whole, exactly as its raw points
 * would; one that straddles a group's edge goes in as its raw points. */
struct split {
	grouper *gr;
	conn *c;
	const char *model_id;
	uint64_t from, to; /* the steps the stream still needs */
};

static uint64_t
group_of(const grouper *gr, uint64_t step)
{
	uint64_t at = step < gr->lo ? gr->lo : step > gr->hi ? gr->hi : step;

	return (at - 1) / gr->g;
}

static int
split_visit(void *arg, const hist_bucket *e, fault *f)
{
	struct split *sp = arg;

	if (e->first >= sp->from && e->last <= sp->to &&
	    group_of(sp->gr, e->first) == group_of(sp->gr, e->last))
		return group_add(sp->gr, e, f);
	if (chunk_each_inner(sp->c, sp->model_id, sp->gr->series, 0,
	    e->first > sp->from ? e->first : sp->from,
	    e->last < sp->to ? e->last : sp->to, group_add, sp->gr, f) != 0)
		return -1;
	return sp->gr->out.n >= sp->gr->limit ? 1 : 0;
}

/* Streams the entries of level (0: raw where kept) that hold steps in
 * [a, b] into gr, then closes its last group. */
static int
stream(conn *c, const char *model_id, int level, uint64_t a, uint64_t b,
       grouper *gr, fault *f)
{
	uint64_t rfirst, rlast, from;

	if (a < 1)
		a = 1;
	if (level > 0) {
		if (chunk_each(c, model_id, gr->series, level, a, b,
		    group_add_bucket, gr, f) != 0)
			return -1;
	} else {
		if (chunk_bounds(c, model_id, gr->series, 0, &rfirst, &rlast,
		    f) != 0)
			return -1;
		if (rfirst == 0)
			rfirst = UINT64_MAX; /* no raw steps: buckets only */
		from = a;
		if (a < rfirst) {
			if (chunk_each(c, model_id, gr->series, gr->pre, a,
			    b < rfirst - 1 ? b : rfirst - 1, group_add_bucket,
			    gr, f) != 0)
				return -1;
			if (gr->out.n >= gr->limit)
				return 0;
			from = gr->seen + 1 > rfirst ? gr->seen + 1 : rfirst;
		}
		if (rfirst != UINT64_MAX) {
			struct split sp = { gr, c, model_id, from, b };

			if (chunk_each(c, model_id, gr->series, 1, from, b,
			    split_visit, &sp, f) != 0)
				return -1;
		}
	}
	if (gr->out.n < gr->limit)
		return emit(gr, f);
	return 0;
}

/* ---- windows of every steps ---- */

struct loss_windows {
	const char *model_id;
	store_series series;
	int64_t every, since, limit;
	db_array rows; /* out: store_loss_window */
};

/* The coarsest level whose width divides every, so that its buckets nest
 * in the windows; else raw where kept, and before the raw window marked
 * buckets: of level 1, or of the coarsest level with at least 16 buckets
 * to a window (so a window costs about 16 entries, not every / 1024). */
static int
do_loss_windows(conn *c, void *arg, fault *f)
{
	struct loss_windows *w = arg;
	grouper gr;
	uint64_t every = (uint64_t)w->every;
	int level;

	free(w->rows.v); /* a retry starts over */
	memset(&w->rows, 0, sizeof w->rows);
	w->rows.elem = sizeof(store_loss_window);
	if (model_need(c, w->model_id, f) != 0)
		return -1;
	if (w->limit == 0)
		return 0;
	memset(&gr, 0, sizeof gr);
	gr.series = w->series;
	gr.g = every;
	gr.lo = 1;
	gr.hi = UINT64_MAX;
	gr.since = (uint64_t)w->since;
	gr.limit = (size_t)w->limit;
	level = hist_level_dividing(every);
	gr.pre = hist_level_within(every);
	gr.exact_tiers = level > 0;
	gr.out.elem = sizeof(store_loss_window);
	if (stream(c, w->model_id, level, (uint64_t)w->since / every * every +
	    1, UINT64_MAX, &gr, f) != 0) {
		free(gr.out.v);
		return -1;
	}
	w->rows = gr.out;
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
	store_loss_point *p;
	size_t k;

	*out = NULL;
	*n = 0;
	if (sq_loss_windows(s, model_id, STORE_SERIES_TRAIN, 1, since, limit,
	    &w, &k, f) != 0)
		return -1;
	if ((p = calloc(k ? k : 1, sizeof *p)) == NULL) {
		free(w);
		return fault_set(f, FAULT_NOMEM,
				 "out of memory reading loss history");
	}
	for (size_t i = 0; i < k; i++) {
		p[i].step = w[i].step;
		p[i].loss = w[i].loss;
		p[i].time_ms = w[i].time_ms;
	}
	free(w);
	*out = p;
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

/* The last step of the series; 0 when none. */
static int
loss_end(conn *c, const char *model_id, int series, uint64_t *end, fault *f)
{
	uint64_t a, b0, b1;

	if (chunk_bounds(c, model_id, series, 0, &a, &b0, f) != 0 ||
	    chunk_bounds(c, model_id, series, 1, &a, &b1, f) != 0)
		return -1;
	*end = b0 > b1 ? b0 : b1;
	return 0;
}

/* The finest level that gives about max_points * 8 entries or fewer over
 * the range; raw (with level-1 buckets before the raw window) when its
 * points there are that few. */
static int
do_loss_range(conn *c, void *arg, fault *f)
{
	struct loss_range *r = arg;
	uint64_t end, rfirst, rlast, to, span, rawn, per = 8;
	grouper gr;
	int level;

	free(r->rows.v); /* a retry starts over */
	memset(&r->rows, 0, sizeof r->rows);
	r->rows.elem = sizeof(store_loss_window);
	if (model_need(c, r->model_id, f) != 0)
		return -1;
	if (loss_end(c, r->model_id, r->series, &end, f) != 0 ||
	    chunk_bounds(c, r->model_id, r->series, 0, &rfirst, &rlast,
	    f) != 0)
		return -1;
	to = r->to < end ? r->to : end;
	if (to < r->from)
		return 0;
	span = to - r->from + 1;
	/* raw points in the range, and level-1 buckets before them */
	rawn = rfirst == 0 ? UINT64_MAX : to < rfirst ? 0 :
	    to - (r->from > rfirst ? r->from : rfirst) + 1;
	if (rawn != UINT64_MAX && r->from < rfirst)
		rawn += (rfirst - r->from) / HIST_BASE + 1;
	level = rfirst != 0 && to >= rfirst && rawn <= (per * r->max >
	    RAW_READ_MAX ? per * r->max : RAW_READ_MAX) ? 0 :
	    hist_level_for(span, r->max, per);
	memset(&gr, 0, sizeof gr);
	gr.series = r->series;
	gr.pre = 1;
	gr.g = hist_group_width(r->from, to, r->max, level == 0 &&
	    r->from >= rfirst ? 1 : hist_width(level ? level : 1));
	gr.lo = r->from;
	gr.hi = to;
	gr.limit = r->max;
	gr.exact_tiers = 0;
	gr.out.elem = sizeof(store_loss_window);
	if (stream(c, r->model_id, level, r->from, to, &gr, f) != 0) {
		free(gr.out.v);
		return -1;
	}
	r->rows = gr.out;
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
