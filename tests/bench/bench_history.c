/*
 * bench_history: the loss history through the real store, at 10^6, 10^7
 * and 10^8 steps (BENCH_HISTORY_MAX caps the largest, and
 * BENCH_HISTORY_MAX=1000000000 adds the opt-in 10^9, about ten minutes;
 * BENCH_HISTORY_MIN skips the smaller sizes; argv[1] the file's folder,
 * default /tmp). For each size it synthesises the steps into a fresh
 * database file, committed as a trainer does (one commit of 580,000
 * points with a checkpoint blob, about a second of XOR at full speed), and
 * prints: bytes per model (the file, and the history rows' own bytes),
 * write cost per step (wall time of the commits, and the process's CPU
 * time in them: on a loaded machine the wall time is mostly waiting for
 * the disk), and p50/p99 of max_points=1000 over the whole
 * history, every=K (K = steps/1000, limit 1000) and max_points=1000 over a
 * zoomed range (1% of the steps in the middle). It prints figures; it
 * never fails on them.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../dbfiles.h"
#include "store.h"

#define COMMIT_POINTS 580000
#define RUNS 50

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* p50 and p99 of RUNS timings of one query, in ms. */
typedef int (*query_fn)(store *s, uint64_t steps, size_t *n);

static void
time_query(store *s, uint64_t steps, query_fn q, const char *what)
{
	double t[RUNS];
	size_t n = 0;

	for (int i = 0; i < RUNS; i++) {
		double t0 = now_s();

		if (q(s, steps, &n) != 0) {
			printf("  %-28s failed\n", what);
			return;
		}
		t[i] = (now_s() - t0) * 1e3;
	}
	qsort(t, RUNS, sizeof t[0], cmp_d);
	printf("  %-28s %6zu points  p50 %8.3f ms  p99 %8.3f ms\n", what, n,
	    t[RUNS / 2], t[RUNS * 99 / 100]);
}

static int
q_range_all(store *s, uint64_t steps, size_t *n)
{
	store_loss_window *w;
	fault f;
	int rc = store_loss_range(s, "m", STORE_SERIES_TRAIN, 1, steps, 1000,
	    &w, n, &f);

	free(w);
	return rc;
}

static int
q_every(store *s, uint64_t steps, size_t *n)
{
	store_loss_window *w;
	fault f;
	int rc = store_loss_windows(s, "m", STORE_SERIES_TRAIN, steps / 1000,
	    0, 1000, &w, n, &f);

	free(w);
	return rc;
}

static int
q_zoom(store *s, uint64_t steps, size_t *n)
{
	store_loss_window *w;
	fault f;
	int rc = store_loss_range(s, "m", STORE_SERIES_TRAIN, steps / 2,
	    steps / 2 + steps / 100, 1000, &w, n, &f);

	free(w);
	return rc;
}

/* The value of sql (one integer) on the closed file. */
static long long
file_value(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}


static int
bench(const char *dir, uint64_t steps, store_loss_point *pts)
{
	char path[512];
	store_model m;
	store_progress p;
	store *s;
	fault f;
	uint64_t done = 0;
	int64_t size0, size1;
	long long rows, freed;
	double t0, c0, tw = 0, cw = 0;
	unsigned char blob[64];

	snprintf(path, sizeof path, "%s/bench_history.db", dir);
	test_unlink_db(path);
	if ((s = store_open(path, &f)) == NULL) {
		fprintf(stderr, "bench_history: %s\n", f.msg);
		return -1;
	}
	memset(&m, 0, sizeof m);
	snprintf(m.id, sizeof m.id, "m");
	m.name = "m";
	m.last_loss = NAN;
	memset(blob, 0x55, sizeof blob);
	m.blob = blob;
	m.blob_len = sizeof blob;
	if (store_model_insert(s, &m, &f) != 0)
		goto fail;
	size0 = store_size_bytes(s);
	while (done < steps) {
		size_t n = steps - done < COMMIT_POINTS ? (size_t)(steps - done) :
		    COMMIT_POINTS;

		for (size_t i = 0; i < n; i++) {
			uint64_t st = done + i + 1;

			pts[i].step = st;
			pts[i].loss = (float)(1.0 / sqrt((double)st) +
			    (double)(st % 61) / 1e4 + (st % 99991 == 0 ? 5 : 0));
			pts[i].time_ms = 1700000000000LL + (int64_t)(st / 580);
		}
		memset(&p, 0, sizeof p);
		p.model_id = "m";
		p.points = pts;
		p.npoints = n;
		p.blob = blob;
		p.blob_len = sizeof blob;
		done += n;
		p.step = done;
		p.last_loss = pts[n - 1].loss;
		p.now_ms = pts[n - 1].time_ms;
		t0 = now_s();
		c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		if (store_progress_commit(s, &p, &f) != 0)
			goto fail;
		tw += now_s() - t0;
		cw += clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	}
	size1 = store_size_bytes(s);
	printf("%llu steps (commits of %d points):\n",
	    (unsigned long long)steps, COMMIT_POINTS);
	printf("  write (commits only)         %.1f ns/step (%.2f s), CPU "
	    "%.1f ns/step\n", tw / (double)steps * 1e9, tw,
	    cw / (double)steps * 1e9);
	time_query(s, steps, q_range_all, "max_points=1000");
	time_query(s, steps, q_every, "every=steps/1000");
	time_query(s, steps, q_zoom, "max_points=1000, 1% zoom");
	store_close(s);
	/* the history's own rows (blobs plus keys), and the file's free
	 * pages (what the last commits freed, reused by the next ones) */
	rows = file_value(path, "SELECT sum(length(data) + 40) FROM "
	    "loss_chunk");
	freed = file_value(path, "SELECT freelist_count * page_size FROM "
	    "pragma_freelist_count(), pragma_page_size()");
	printf("  bytes: file grew %lld (%.2f MB; %.2f MB of it free pages), "
	    "history rows %lld (%.2f MB)\n", (long long)(size1 - size0),
	    (double)(size1 - size0) / 1e6, (double)freed / 1e6, rows,
	    (double)rows / 1e6);
	test_unlink_db(path);
	fflush(stdout);
	return 0;
fail:
	fprintf(stderr, "bench_history: %s\n", f.msg);
	store_close(s);
	test_unlink_db(path);
	return -1;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	const char *cap = getenv("BENCH_HISTORY_MAX");
	const char *low = getenv("BENCH_HISTORY_MIN");
	uint64_t most = cap ? strtoull(cap, NULL, 10) : 100000000ULL;
	uint64_t least = low ? strtoull(low, NULL, 10) : 0;
	store_loss_point *pts = malloc(COMMIT_POINTS * sizeof *pts);
	int rc = 0;

	if (pts == NULL)
		return 1;
	printf("bench_history: the loss history through the store "
	    "(raw window %d steps)\n", STORE_HISTORY_RAW_DEFAULT);
	for (uint64_t n = 1000000; n <= most && rc == 0; n *= 10) {
		if (n >= least)
			rc = bench(dir, n, pts);
	}
	free(pts);
	return rc == 0 ? 0 : 1;
}
