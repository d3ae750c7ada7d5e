/*
 * hist_write: the history's writes over a hist_io (hist_io.h): appending
 * loss and validation points to every level of their series at once,
 * trimming the raw window to its length, trimming a series past a step
 * (rebuilding the buckets the cut goes through from the level below), and
 * the last point at or before a step. No SQL: the rows come and go
 * through the io's operations.
 */
#include "hist_io.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TAIL(io, r, f) ((io)->ops->tail((io)->arg, (r), (f)))
#define PUT(io, r, f) ((io)->ops->put((io)->arg, (r), (f)))

/* The last row of a level while points are appended to it. */
struct tail {
	hist_row r;
	unsigned char buf[HIST_ROW_BYTES];
	int have;          /* r holds a row */
	int dirty;         /* r differs from the stored row */
	hist_bucket open;  /* level >= 1: r's last entry, unpacked */
};

/* Appending to one model's levels of one series (about 100 KB: on the
 * heap). */
typedef struct appender {
	const hist_io *io;
	int series;        /* a store_series */
	struct tail t[HIST_TIERS];
	uint64_t width[HIST_TIERS];
	uint64_t bound[HIST_TIERS]; /* level >= 1: the last step of the
	                               open bucket's width (0: none) */
	uint64_t end;      /* the last step stored; 0 when none */
} appender;

static appender *
app_open(const hist_io *io, int series, fault *f)
{
	appender *a = calloc(1, sizeof *a);
	int got;

	if (a == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory storing loss history");
		return NULL;
	}
	a->io = io;
	a->series = series;
	for (int k = 0; k < HIST_TIERS; k++) {
		struct tail *z = &a->t[k];

		a->width[k] = hist_width(k);
		z->r.series = series;
		z->r.level = k;
		z->r.data = z->buf;
		if ((got = TAIL(io, &z->r, f)) < 0) {
			free(a);
			return NULL;
		}
		z->have = got;
		if (got && k > 0 && z->r.n > 0) {
			hist_row_entry(&z->r, z->r.n - 1, &z->open);
			a->bound[k] = (hist_index(k, z->open.last) + 1) *
			    a->width[k];
		}
		if (got && z->r.last > a->end && k <= 1)
			a->end = z->r.last;
	}
	return a;
}

/* Writes level k's tail row when it changed. */
static int
tail_flush(appender *a, int k, fault *f)
{
	struct tail *z = &a->t[k];

	if (!z->dirty)
		return 0;
	if (k > 0) {
		hist_row_pack(&z->r, z->r.n - 1, &z->open);
		z->r.last = z->open.last;
	}
	z->dirty = 0;
	return PUT(a->io, &z->r, f);
}

/* Appends the raw point pt to level 0: a loss row holds consecutive
 * steps of one aligned block, a validation row any points whose steps
 * are within 2^32 of its first. */
static int
add_raw(appender *a, const hist_bucket *pt, fault *f)
{
	struct tail *z = &a->t[0];
	uint64_t step = pt->first;
	int64_t t = pt->time_ms;
	int val = a->series == STORE_SERIES_VALIDATION;
	int fits = z->have && z->r.n < HIST_RAW_CHUNK &&
	    (val ? step - z->r.first <= UINT32_MAX :
	    step == z->r.first + z->r.n && (step - 1) / HIST_RAW_CHUNK ==
	    (z->r.first - 1) / HIST_RAW_CHUNK) &&
	    (t < z->r.t0 || (uint64_t)(t - z->r.t0) <= UINT32_MAX);

	if (!fits) {
		if (tail_flush(a, 0, f) != 0)
			return -1;
		z->have = 1;
		z->r.first = step;
		z->r.n = 0;
		z->r.t0 = t;
	}
	if (val)
		hist_val_raw_pack((uint32_t)(step - z->r.first), pt->lastv,
		    pt->acc_last, t < z->r.t0 ? 0 : (uint32_t)(t - z->r.t0),
		    z->r.data + z->r.n * HIST_VAL_RAW_REC);
	else
		hist_raw_pack(pt->lastv, t < z->r.t0 ? 0 :
		    (uint32_t)(t - z->r.t0), z->r.data + z->r.n * HIST_RAW_REC);
	z->r.n++;
	z->r.last = step;
	z->dirty = 1;
	return 0;
}

/* Adds the point to the open bucket of level k, or opens the next one. */
static int
add_bucket(appender *a, int k, const hist_bucket *pt, fault *f)
{
	struct tail *z = &a->t[k];

	/* pt comes after the open bucket's last step: it belongs to that
	 * bucket when it is within its width (no division per step) */
	if (z->have && z->r.n > 0 && pt->first <= a->bound[k]) {
		hist_merge(&z->open, pt);
		z->dirty = 1;
		return 0;
	}
	a->bound[k] = (hist_index(k, pt->first) + 1) * a->width[k];
	if (z->have && z->r.n < hist_row_cap(a->series, k)) {
		if (z->r.n > 0)
			hist_row_pack(&z->r, z->r.n - 1, &z->open);
		z->open = *pt;
		z->r.n++;
	} else {
		if (tail_flush(a, k, f) != 0)
			return -1;
		z->have = 1;
		z->r.first = pt->first;
		z->r.t0 = 0;
		z->r.n = 1;
		z->open = *pt;
	}
	z->dirty = 1;
	return 0;
}

/* Appends the point pt (a bucket of one step, past a->end). */
static int
app_add(appender *a, const hist_bucket *pt, fault *f)
{
	if (pt->first <= a->end)
		return fault_set(f, FAULT_INVALID, "the loss of step %" PRIu64
				 " of model '%s' is already stored", pt->first,
				 a->io->model_id);
	if (add_raw(a, pt, f) != 0)
		return -1;
	for (int k = 1; k < HIST_TIERS; k++) {
		if (add_bucket(a, k, pt, f) != 0)
			return -1;
	}
	a->end = pt->first;
	return 0;
}

/* Writes the changed tails and trims the raw window; frees a. */
static int
app_close(appender *a, fault *f)
{
	const hist_io *io = a->io;
	int r = -1;

	for (int k = 0; k < HIST_TIERS; k++) {
		if (tail_flush(a, k, f) != 0)
			goto out;
	}
	if (io->raw > 0 && a->end > io->raw &&
	    io->ops->drop_before(io->arg, a->series, 0, a->end - io->raw,
	    f) != 0)
		goto out;
	r = 0;
out:
	free(a);
	return r;
}

int
hist_check(const store_progress *p, fault *f)
{
	if (p->npoints > 0 && p->points == NULL)
		return fault_set(f, FAULT_INVALID, "no loss points given");
	for (size_t i = 0; i < p->npoints; i++) {
		if (p->points[i].step == 0 || p->points[i].step > INT64_MAX)
			return fault_set(f, FAULT_INVALID,
					 "loss step %" PRIu64 " is out of "
					 "range", p->points[i].step);
	}
	if (p->nvpoints > 0 && p->vpoints == NULL)
		return fault_set(f, FAULT_INVALID,
				 "no validation points given");
	for (size_t i = 0; i < p->nvpoints; i++) {
		const store_val_point *vp = &p->vpoints[i];

		if (vp->step == 0 || vp->step > INT64_MAX)
			return fault_set(f, FAULT_INVALID,
					 "validation step %" PRIu64 " is out "
					 "of range", vp->step);
		if (!isnan(vp->accuracy) &&
		    !(vp->accuracy >= 0.0 && vp->accuracy <= 1.0))
			return fault_set(f, FAULT_INVALID,
					 "validation accuracy %g is not in "
					 "[0, 1]", vp->accuracy);
	}
	return 0;
}

static int trim_series(const hist_io *io, int series, uint64_t step,
		       fault *f);

/* Appends the validation points; one at or before the last step stored
 * first trims the series to the step before it (so it replaces). */
static int
append_val(const hist_io *io, const store_progress *p, fault *f)
{
	appender *a = app_open(io, STORE_SERIES_VALIDATION, f);
	hist_bucket pt;

	if (a == NULL)
		return -1;
	for (size_t i = 0; i < p->nvpoints; i++) {
		const store_val_point *vp = &p->vpoints[i];

		hist_point(&pt, vp->step, vp->loss, vp->time_ms);
		hist_point_acc(&pt, vp->accuracy);
		if (pt.first <= a->end) {
			if (app_close(a, f) != 0 ||
			    trim_series(io, STORE_SERIES_VALIDATION,
			    pt.first - 1, f) != 0 ||
			    (a = app_open(io, STORE_SERIES_VALIDATION,
			    f)) == NULL)
				return -1;
		}
		if (app_add(a, &pt, f) != 0) {
			free(a);
			return -1;
		}
	}
	return app_close(a, f);
}

int
hist_append(const hist_io *io, const store_progress *p, fault *f)
{
	hist_bucket pt;

	if (p->npoints > 0) {
		appender *a = app_open(io, STORE_SERIES_TRAIN, f);

		if (a == NULL)
			return -1;
		for (size_t i = 0; i < p->npoints; i++) {
			const store_loss_point *lp = &p->points[i];

			hist_point(&pt, lp->step, lp->loss, lp->time_ms);
			if (app_add(a, &pt, f) != 0) {
				free(a);
				return -1;
			}
		}
		if (app_close(a, f) != 0)
			return -1;
	}
	if (p->nvpoints > 0)
		return append_val(io, p, f);
	return 0;
}

/* ---- trimming ---- */

/* A visitor that keeps the first entry it sees. */
static int
take_first(void *arg, const hist_bucket *e, fault *f)
{
	(void)f;
	*(hist_bucket *)arg = *e;
	return 1;
}

/* A visitor that merges every entry into one bucket. */
static int
merge_all(void *arg, const hist_bucket *e, fault *f)
{
	(void)f;
	hist_merge(arg, e);
	return 0;
}

/* Cuts level k at end: rows past it go, and the entry that holds end is
 * rebuilt from the level below (already cut). */
static int
cut_level(const hist_io *io, int series, int k, uint64_t end, fault *f)
{
	unsigned char buf[HIST_ROW_BYTES];
	hist_row r = { .series = series, .level = k, .data = buf };
	hist_bucket e;
	int got;

	if (io->ops->drop_past(io->arg, series, k, end, f) != 0 ||
	    (got = TAIL(io, &r, f)) < 0)
		return -1;
	if (!got || r.last <= end)
		return 0;
	for (;;) {
		hist_row_entry(&r, r.n - 1, &e);
		if (e.first <= end)
			break;
		r.n--; /* r.first <= end: some entry starts at or before it */
	}
	if (e.last > end) {
		hist_bucket m;

		memset(&m, 0, sizeof m);
		if (io->ops->each(io->arg, series, k - 1, e.first, end, 0,
		    merge_all, &m, f) != 0)
			return -1;
		if (m.count == 0)
			r.n--;
		else
			hist_row_pack(&r, r.n - 1, &m);
	}
	if (r.n == 0)
		return io->ops->drop_past(io->arg, series, k, r.first - 1, f);
	hist_row_entry(&r, r.n - 1, &e);
	r.last = e.last;
	return PUT(io, &r, f);
}

/* Ends the series at step (or, where the raw steps of the level-1 bucket
 * holding step are gone, at the bucket before it). */
static int
trim_series(const hist_io *io, int series, uint64_t step, fault *f)
{
	uint64_t rfirst, rlast, bfirst, blast, end = step;
	hist_bucket b;

	if (io->ops->bounds(io->arg, series, 0, &rfirst, &rlast, f) != 0 ||
	    io->ops->bounds(io->arg, series, 1, &bfirst, &blast, f) != 0)
		return -1;
	if (rlast <= step && blast <= step)
		return 0;
	/* The level-1 bucket that holds step needs the raw steps it kept
	 * up to step; when they are gone, it goes whole. */
	memset(&b, 0, sizeof b);
	if (step > 0 && io->ops->each(io->arg, series, 1, step, step, 0,
	    take_first, &b, f) != 0)
		return -1;
	if (b.count > 0 && b.first <= step && b.last > step &&
	    (rfirst == 0 || rfirst > b.first))
		end = b.first - 1;
	for (int k = 0; k < HIST_TIERS; k++) {
		if (cut_level(io, series, k, end, f) != 0)
			return -1;
	}
	return 0;
}

int
hist_trim(const hist_io *io, uint64_t step, fault *f)
{
	if (trim_series(io, STORE_SERIES_TRAIN, step, f) != 0)
		return -1;
	return trim_series(io, STORE_SERIES_VALIDATION, step, f);
}

/* *e gets the series' last entry that ends at or before step, from the
 * finest level that has one (*have 0 when none): at each level, the row
 * that starts last at or before step, or the one before it when that
 * row's first entry reaches past step. */
static int
last_at(const hist_io *io, int series, uint64_t step, hist_bucket *e,
	int *have, fault *f)
{
	unsigned char buf[HIST_ROW_BYTES];
	hist_row r = { .series = series, .data = buf };
	hist_bucket x;
	uint64_t at;
	int got;

	*have = 0;
	for (int k = 0; k < HIST_TIERS && step > 0; k++) {
		r.level = k;
		for (at = step; at > 0; at = r.first - 1) {
			if ((got = io->ops->at(io->arg, &r, at, f)) < 0)
				return -1;
			if (!got)
				break;
			for (size_t i = 0; i < r.n; i++) {
				hist_row_entry(&r, i, &x);
				if (x.last > step)
					break;
				*e = x;
				*have = 1;
			}
			if (*have)
				return 0;
		}
	}
	return 0;
}

int
hist_loss_at(const hist_io *io, uint64_t step, double *loss, fault *f)
{
	hist_bucket e;
	int have;

	*loss = NAN;
	if (last_at(io, STORE_SERIES_TRAIN, step, &e, &have, f) != 0)
		return -1;
	if (have)
		*loss = e.lastv;
	return 0;
}

int
hist_val_at(const hist_io *io, uint64_t step, store_val_point *vp, fault *f)
{
	hist_bucket e;
	int have;

	vp->step = 0;
	vp->loss = vp->accuracy = NAN;
	vp->time_ms = 0;
	if (last_at(io, STORE_SERIES_VALIDATION, step, &e, &have, f) != 0)
		return -1;
	if (have) {
		vp->step = e.last;
		vp->loss = e.lastv;
		vp->accuracy = e.acc_last;
		vp->time_ms = e.time_ms;
	}
	return 0;
}
