/*
 * hist_io: the loss history's writes (hist_write.c) and queries
 * (hist_read.c) over the rows of its levels, whatever keeps them. A
 * backend hands the engine a hist_io: seven row operations on one
 * model's loss_chunk rows, run inside the backend's transaction (so a
 * commit's appends, trims and reads see one another). The layout and its
 * arithmetic are hist_tiers.h; the PostgreSQL store uses this engine
 * (postgres/pg_history.c implements the operations, buffering its writes
 * so that a commit costs a few round trips), and the SQLite store keeps
 * the same algorithms over its chunk_* calls.
 *
 * Semantics (the store.h contract): appends go into the raw window and
 * every bucket level at once, the raw window is trimmed to its length in
 * steps; a trim past a step rebuilds the buckets it cuts from the level
 * below (or, where the raw steps of the level-1 bucket holding the step
 * are gone, ends the history at the bucket before it); queries read one
 * level, about as many rows as they return.
 */
#ifndef MLPD_HIST_IO_H
#define MLPD_HIST_IO_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "hist_tiers.h"
#include "store.h"

/* Called for each entry, ascending: 0 goes on, 1 stops, -1 fails. */
typedef int (*hist_visit)(void *arg, const hist_bucket *e, fault *f);

/* One model's rows. Each operation returns -1 with f set on a failure. */
typedef struct hist_io_ops {
	/* the last row of r->series and r->level into r (r->data holds
	 * HIST_ROW_BYTES): 1, 0 when none */
	int (*tail)(void *io, hist_row *r, fault *f);
	/* the row of r->series and r->level that starts last at or before
	 * step: 1, 0 when none */
	int (*at)(void *io, hist_row *r, uint64_t step, fault *f);
	/* cb for the entries of the level that hold a step in [a, b]
	 * (a <= b <= INT64_MAX); inner: called from another each's cb */
	int (*each)(void *io, int series, int level, uint64_t a, uint64_t b,
		    int inner, hist_visit cb, void *arg, fault *f);
	/* the first step of the level's first row and the last step of
	 * its last (0, 0 when none) */
	int (*bounds)(void *io, int series, int level, uint64_t *first,
		      uint64_t *last, fault *f);
	/* inserts or replaces r (keyed by series, level, first) */
	int (*put)(void *io, const hist_row *r, fault *f);
	/* deletes the level's rows that start past step, or that end at or
	 * before step */
	int (*drop_past)(void *io, int series, int level, uint64_t step,
			 fault *f);
	int (*drop_before)(void *io, int series, int level, uint64_t step,
			   fault *f);
} hist_io_ops;

typedef struct hist_io {
	const hist_io_ops *ops;
	void *arg;            /* the backend's handle, passed as io */
	const char *model_id; /* for messages */
	uint64_t raw;         /* raw steps kept (0: all) */
} hist_io;

/* ---- hist_write.c ---- */

/* Checks the points of p (steps in range, accuracies in [0, 1]). */
int hist_check(const store_progress *p, fault *f);

/* Appends p's loss points (a step already stored fails, FAULT_INVALID)
 * and validation points (one at or before the last step stored replaces
 * the points from its step on). */
int hist_append(const hist_io *io, const store_progress *p, fault *f);

/* Drops both series past step (where the raw steps of the bucket holding
 * step are gone, at the last whole level-1 bucket before it). */
int hist_trim(const hist_io *io, uint64_t step, fault *f);

/* *loss gets the loss of the last step at or before step; NAN when none. */
int hist_loss_at(const hist_io *io, uint64_t step, double *loss, fault *f);

/* *vp gets the last validation point at or before step (step 0 and NANs
 * when there is none). */
int hist_val_at(const hist_io *io, uint64_t step, store_val_point *vp,
		fault *f);

/* ---- hist_read.c ---- */

/* store_loss_windows and store_loss_range over io (arguments checked by
 * the caller; every >= 1, from >= 1, max_points >= 1). *out is malloc'd
 * (NULL when *n is 0 and nothing was allocated). */
int hist_windows(const hist_io *io, int series, uint64_t every,
		 uint64_t since, size_t limit, store_loss_window **out,
		 size_t *n, fault *f);
int hist_range(const hist_io *io, int series, uint64_t from, uint64_t to,
	       size_t max_points, store_loss_window **out, size_t *n,
	       fault *f);

/* The points of store_loss_query from the windows of every = 1 (w, n; w
 * is freed): *out malloc'd (n of them). */
int hist_points(store_loss_window *w, size_t n, store_loss_point **out,
		fault *f);

#endif
