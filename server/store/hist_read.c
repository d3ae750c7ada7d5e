/*
 * hist_read: the history's queries over a hist_io (hist_io.h).
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
#include "hist_io.h"

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
	store_loss_window *out; /* malloc'd */
	size_t n, cap;
} grouper;

static int
emit(grouper *gr, fault *f)
{
	store_loss_window *w;

	if (!gr->have || gr->acc.last <= gr->since)
		return 0;
	if (gr->n == gr->cap) {
		size_t cap = gr->cap ? gr->cap * 2 : 64;
		void *v = realloc(gr->out, cap * sizeof *w);

		if (v == NULL)
			return fault_set(f, FAULT_NOMEM,
					 "out of memory reading loss history");
		gr->out = v;
		gr->cap = cap;
	}
	w = gr->out + gr->n++;
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

static uint64_t
group_of(const grouper *gr, uint64_t step)
{
	uint64_t at = step < gr->lo ? gr->lo : step > gr->hi ? gr->hi : step;

	return (at - 1) / gr->g;
}

static int
group_add(void *arg, const hist_bucket *e, fault *f)
{
	grouper *gr = arg;
	uint64_t gi = group_of(gr, e->last);

	if (gr->have && gi != gr->gi) {
		if (emit(gr, f) != 0)
			return -1;
		gr->have = 0;
		if (gr->n >= gr->limit)
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
	const hist_io *io;
	uint64_t from, to; /* the steps the stream still needs */
};

static int
split_visit(void *arg, const hist_bucket *e, fault *f)
{
	struct split *sp = arg;

	if (e->first >= sp->from && e->last <= sp->to &&
	    group_of(sp->gr, e->first) == group_of(sp->gr, e->last))
		return group_add(sp->gr, e, f);
	if (sp->io->ops->each(sp->io->arg, sp->gr->series, 0,
	    e->first > sp->from ? e->first : sp->from,
	    e->last < sp->to ? e->last : sp->to, 1, group_add, sp->gr,
	    f) != 0)
		return -1;
	return sp->gr->n >= sp->gr->limit ? 1 : 0;
}

/* io's each over [a, b] clamped to the steps a row may hold. */
static int
each(const hist_io *io, int series, int level, uint64_t a, uint64_t b,
     hist_visit cb, void *arg, fault *f)
{
	if (a > INT64_MAX || a > b)
		return 0;
	if (b > INT64_MAX)
		b = INT64_MAX;
	return io->ops->each(io->arg, series, level, a, b, 0, cb, arg, f);
}

/* Streams the entries of level (0: raw where kept) that hold steps in
 * [a, b] into gr, then closes its last group. */
static int
stream(const hist_io *io, int level, uint64_t a, uint64_t b, grouper *gr,
       fault *f)
{
	uint64_t rfirst, rlast, from;

	if (a < 1)
		a = 1;
	if (level > 0) {
		if (each(io, gr->series, level, a, b, group_add_bucket, gr,
		    f) != 0)
			return -1;
	} else {
		if (io->ops->bounds(io->arg, gr->series, 0, &rfirst, &rlast,
		    f) != 0)
			return -1;
		if (rfirst == 0)
			rfirst = UINT64_MAX; /* no raw steps: buckets only */
		from = a;
		if (a < rfirst) {
			if (each(io, gr->series, gr->pre, a, b < rfirst - 1 ?
			    b : rfirst - 1, group_add_bucket, gr, f) != 0)
				return -1;
			if (gr->n >= gr->limit)
				return 0;
			from = gr->seen + 1 > rfirst ? gr->seen + 1 : rfirst;
		}
		if (rfirst != UINT64_MAX) {
			struct split sp = { gr, io, from, b };

			if (each(io, gr->series, 1, from, b, split_visit, &sp,
			    f) != 0)
				return -1;
		}
	}
	if (gr->n < gr->limit)
		return emit(gr, f);
	return 0;
}

/* Runs the stream and hands its groups out (or frees them). */
static int
run(const hist_io *io, int level, uint64_t a, uint64_t b, grouper *gr,
    store_loss_window **out, size_t *n, fault *f)
{
	if (stream(io, level, a, b, gr, f) != 0) {
		free(gr->out);
		return -1;
	}
	*out = gr->out;
	*n = gr->n;
	return 0;
}

/* The coarsest level whose width divides every, so that its buckets nest
 * in the windows; else raw where kept, and before the raw window marked
 * buckets: of level 1, or of the coarsest level with at least 16 buckets
 * to a window (so a window costs about 16 entries, not every / 1024). */
int
hist_windows(const hist_io *io, int series, uint64_t every, uint64_t since,
	     size_t limit, store_loss_window **out, size_t *n, fault *f)
{
	grouper gr;
	int level;

	*out = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	memset(&gr, 0, sizeof gr);
	gr.series = series;
	gr.g = every;
	gr.lo = 1;
	gr.hi = UINT64_MAX;
	gr.since = since;
	gr.limit = limit;
	level = hist_level_dividing(every);
	gr.pre = hist_level_within(every);
	gr.exact_tiers = level > 0;
	return run(io, level, since / every * every + 1, UINT64_MAX, &gr, out,
		   n, f);
}

/* The last step of the series; 0 when none. */
static int
series_end(const hist_io *io, int series, uint64_t *end, fault *f)
{
	uint64_t a, b0, b1;

	if (io->ops->bounds(io->arg, series, 0, &a, &b0, f) != 0 ||
	    io->ops->bounds(io->arg, series, 1, &a, &b1, f) != 0)
		return -1;
	*end = b0 > b1 ? b0 : b1;
	return 0;
}

/* The finest level that gives about max_points * 8 entries or fewer over
 * the range; raw (with level-1 buckets before the raw window) when its
 * points there are that few. */
int
hist_range(const hist_io *io, int series, uint64_t from, uint64_t to,
	   size_t max_points, store_loss_window **out, size_t *n, fault *f)
{
	uint64_t end, rfirst, rlast, span, rawn, per = 8;
	grouper gr;
	int level;

	*out = NULL;
	*n = 0;
	if (series_end(io, series, &end, f) != 0 ||
	    io->ops->bounds(io->arg, series, 0, &rfirst, &rlast, f) != 0)
		return -1;
	if (to > end)
		to = end;
	if (to < from)
		return 0;
	span = to - from + 1;
	/* raw points in the range, and level-1 buckets before them */
	rawn = rfirst == 0 ? UINT64_MAX : to < rfirst ? 0 :
	    to - (from > rfirst ? from : rfirst) + 1;
	if (rawn != UINT64_MAX && from < rfirst)
		rawn += (rfirst - from) / HIST_BASE + 1;
	level = rfirst != 0 && to >= rfirst && rawn <= (per * max_points >
	    RAW_READ_MAX ? per * max_points : RAW_READ_MAX) ? 0 :
	    hist_level_for(span, max_points, per);
	memset(&gr, 0, sizeof gr);
	gr.series = series;
	gr.pre = 1;
	gr.g = hist_group_width(from, to, max_points, level == 0 &&
	    from >= rfirst ? 1 : hist_width(level ? level : 1));
	gr.lo = from;
	gr.hi = to;
	gr.limit = max_points;
	gr.exact_tiers = 0;
	return run(io, level, from, to, &gr, out, n, f);
}

int
hist_points(store_loss_window *w, size_t n, store_loss_point **out,
	    fault *f)
{
	store_loss_point *p = calloc(n ? n : 1, sizeof *p);

	*out = NULL;
	if (p == NULL) {
		free(w);
		return fault_set(f, FAULT_NOMEM,
				 "out of memory reading loss history");
	}
	for (size_t i = 0; i < n; i++) {
		p[i].step = w[i].step;
		p[i].loss = w[i].loss;
		p[i].time_ms = w[i].time_ms;
	}
	free(w);
	*out = p;
	return 0;
}
