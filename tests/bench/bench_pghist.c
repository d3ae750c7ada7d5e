/*
 * bench_pghist: what the trainer's commits cost on PostgreSQL against
 * SQLite, measured in the same run through the real store (store.h, so
 * the same calls the trainer makes). For each backend it makes a model
 * and a job, then commits as a trainer does: loss rows every 250 ms
 * (as many points as steps a model makes in that time) and, every
 * fourth commit, a checkpoint (a weights blob of BLOB bytes) too, with
 * the job row each time. It prints, per backend, the mean and p50/p99
 * wall time of a loss-rows commit and of a checkpoint commit, the cost
 * per step recorded, p50/p99 of max_points=1000 over the history made
 * (whole, and its last 1%), and PostgreSQL's over SQLite's as ratios, for
 * a slow model (1,000 steps a commit, 200 commits) and for XOR at full
 * speed (145,000, 40 commits).
 *
 * SQLite: a file in argv[1] (default /tmp). PostgreSQL: the conninfo in
 * MLPD_BENCH_PG (an empty database; tests/bench/bench_pghist.sh starts
 * a throwaway server and sets it); without it only SQLite runs. It
 * prints figures; it never fails on them.
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

#include "../dbfiles.h"
#include "store.h"

#define COMMITS 200  /* at most per pattern: a quarter checkpoints */
#define BLOB 4096    /* the weights of a small model, bytes */
#define QUERIES 50   /* timed reads of each kind */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The figures of one backend and pattern, in ms. */
struct fig {
	double rows_mean, rows_p50, rows_p99; /* loss-rows commits */
	double ck_mean, ck_p50, ck_p99;       /* checkpoint commits */
	double per_step_us;                   /* all commits / steps */
	double q_p50, q_p99;   /* max_points=1000 over the whole history */
	double z_p50, z_p99;   /* max_points=1000 over the last 1% */
};

static void
stats(double *t, int n, double *mean, double *p50, double *p99)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += t[i];
	qsort(t, (size_t)n, sizeof t[0], cmp_d);
	*mean = sum / n;
	*p50 = t[n / 2];
	*p99 = t[n * 99 / 100];
}

/* Commits n (<= COMMITS) times pace points to model id (with its
 * job). */
static int
run(store *s, const char *id, size_t pace, int n, store_loss_point *pts,
    struct fig *fg)
{
	static unsigned char blob[BLOB];
	double trows[COMMITS], tck[COMMITS], total = 0;
	int nrows = 0, nck = 0;
	store_model m;
	store_job j;
	store_progress p;
	uint64_t done = 0;
	fault f;

	memset(&m, 0, sizeof m);
	snprintf(m.id, sizeof m.id, "%s", id);
	m.name = id;
	m.last_loss = NAN;
	m.blob = blob;
	m.blob_len = sizeof blob;
	memset(&j, 0, sizeof j);
	snprintf(j.id, sizeof j.id, "%s-job", id);
	snprintf(j.model_id, sizeof j.model_id, "%s", id);
	j.status = STORE_JOB_RUNNING;
	j.steps_total = (int64_t)((size_t)n * pace);
	j.loss = NAN;
	j.options = "{}";
	j.created_ms = j.started_ms = 1;
	j.stop_mark = NAN;
	if (store_model_insert(s, &m, &f) != 0 ||
	    store_job_insert(s, &j, &f) != 0) {
		fprintf(stderr, "bench_pghist: %s\n", f.msg);
		return -1;
	}
	for (int c = 0; c < n; c++) {
		double t0, dt;

		for (size_t i = 0; i < pace; i++) {
			uint64_t st = done + i + 1;

			pts[i].step = st;
			pts[i].loss = (float)(1.0 / sqrt((double)st));
			pts[i].time_ms = 1700000000000LL + (int64_t)st;
		}
		done += pace;
		memset(&p, 0, sizeof p);
		p.model_id = id;
		p.points = pts;
		p.npoints = pace;
		p.last_loss = pts[pace - 1].loss;
		p.now_ms = pts[pace - 1].time_ms;
		if (c % 4 == 3) {
			p.blob = blob;
			p.blob_len = sizeof blob;
			p.step = done;
		}
		j.steps_done = (int64_t)done;
		j.loss = p.last_loss;
		p.job = &j;
		t0 = now_s();
		if (store_progress_commit(s, &p, &f) != 0) {
			fprintf(stderr, "bench_pghist: %s\n", f.msg);
			return -1;
		}
		dt = (now_s() - t0) * 1e3;
		total += dt;
		if (p.blob != NULL)
			tck[nck++] = dt;
		else
			trows[nrows++] = dt;
	}
	stats(trows, nrows, &fg->rows_mean, &fg->rows_p50, &fg->rows_p99);
	stats(tck, nck, &fg->ck_mean, &fg->ck_p50, &fg->ck_p99);
	fg->per_step_us = total * 1e3 / (double)done;
	/* the dashboard's reads of that history: the whole of it, and a
	 * zoom on its last 1% */
	for (int zoom = 0; zoom < 2; zoom++) {
		double tq[QUERIES], mean;

		for (int i = 0; i < QUERIES; i++) {
			store_loss_window *w;
			size_t k;
			double t0 = now_s();

			if (store_loss_range(s, id, STORE_SERIES_TRAIN, zoom ?
			    done - done / 100 : 1, done, 1000, &w, &k,
			    &f) != 0) {
				fprintf(stderr, "bench_pghist: %s\n", f.msg);
				return -1;
			}
			tq[i] = (now_s() - t0) * 1e3;
			free(w);
		}
		stats(tq, QUERIES, &mean, zoom ? &fg->z_p50 : &fg->q_p50,
		    zoom ? &fg->z_p99 : &fg->q_p99);
	}
	return 0;
}

static void
print_fig(const char *name, const struct fig *g)
{
	printf("  %-10s loss rows mean %7.3f p50 %7.3f p99 %7.3f ms | "
	    "checkpoint mean %7.3f p50 %7.3f p99 %7.3f ms | %8.4f us/step\n",
	    name, g->rows_mean, g->rows_p50, g->rows_p99, g->ck_mean,
	    g->ck_p50, g->ck_p99, g->per_step_us);
	printf("  %-10s max_points=1000 all p50 %7.3f p99 %7.3f ms | last 1%% "
	    "p50 %7.3f p99 %7.3f ms\n", "", g->q_p50, g->q_p99, g->z_p50,
	    g->z_p99);
}

int
main(int argc, char **argv)
{
	static const size_t paces[] = { 1000, 145000 };
	static const int commits[] = { COMMITS, 40 };
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	const char *pg = getenv("MLPD_BENCH_PG");
	store_loss_point *pts = calloc(145000, sizeof *pts);
	char path[512];
	store *sq = NULL, *sp = NULL;
	fault f;
	int rc = 1;

	if (pts == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/bench_pghist.db", dir);
	test_unlink_db(path);
	if ((sq = store_open(path, &f)) == NULL) {
		fprintf(stderr, "bench_pghist: %s\n", f.msg);
		goto out;
	}
	if (pg != NULL && *pg != '\0' && (sp = store_open(pg, &f)) == NULL) {
		fprintf(stderr, "bench_pghist: %s\n", f.msg);
		goto out;
	}
	printf("trainer commits, SQLite (%s) against PostgreSQL (%s); "
	    "a checkpoint (%d bytes) every fourth commit; measured under "
	    "load:\n", path, sp ? "MLPD_BENCH_PG" :
	    "not run: set MLPD_BENCH_PG", BLOB);
	for (size_t i = 0; i < sizeof paces / sizeof paces[0]; i++) {
		struct fig a, b;
		char id[32];

		snprintf(id, sizeof id, "m%zu", paces[i]);
		printf("%zu steps a commit, %d commits:\n", paces[i],
		    commits[i]);
		if (run(sq, id, paces[i], commits[i], pts, &a) != 0)
			goto out;
		print_fig("sqlite", &a);
		if (sp == NULL)
			continue;
		if (run(sp, id, paces[i], commits[i], pts, &b) != 0)
			goto out;
		print_fig("postgresql", &b);
		printf("  %-10s loss rows x%.2f (p50), checkpoint x%.2f (p50), "
		    "per step x%.2f, reads x%.2f and x%.2f (p50)\n", "ratio",
		    b.rows_p50 / a.rows_p50, b.ck_p50 / a.ck_p50,
		    b.per_step_us / a.per_step_us, b.q_p50 / a.q_p50,
		    b.z_p50 / a.z_p50);
	}
	rc = 0;
out:
	store_close(sq);
	store_close(sp);
	test_unlink_db(path);
	free(pts);
	return rc;
}
