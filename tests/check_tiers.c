/*
 * check_tiers: Check tests of the loss history's levels (server/store/
 * hist_tiers.h) and of the store's history queries built on them.
 *
 * The arithmetic on its own: packing round trips, merges that add up,
 * widths that nest, group widths that keep to N groups. Then a synthetic
 * history (a known loss per step, with spikes) goes through the real store
 * with a short raw window, and every answer is checked against the same
 * aggregates computed here by brute force over the steps each answer says
 * it covers: windows of every=K (exact where the raw steps are kept or K is
 * a multiple of a bucket width, marked buckets elsewhere), plain paging
 * across the raw window's edge, max_points over ranges that span levels,
 * trims inside and before the raw window, and the migration of a file
 * written with the per-step rows of schema 3. The validation series (a
 * point every VEVERY steps, written with the loss) is checked the same
 * way over the points, and so is the migration of its rows (schema 5).
 *
 * With MLPD_TEST_PG set (tests/check_tiers_pg.sh), the cases through the
 * store run on PostgreSQL instead, each on a fresh database
 * (tests/pgtest.h), with the same assertions; the SQLite-only ones (the
 * migrations, the deletes in steps of loss_trash) give way to a
 * PostgreSQL delete case.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "dbfiles.h"
#include "fault.h"
#include "hist_tiers.h"
#include "expect.h"
#include "pgtest.h"
#include "store.h"

/* The loss of step s in the synthetic history: float32 values, a slow
 * decline with noise, and a spike every 7919 steps. */
static double
loss_of(uint64_t s)
{
	double v = 1.0 / (1.0 + (double)(s % 997)) + (double)(s % 13) / 64.0;

	if (s % 7919 == 0)
		v = 100.0 + (double)(s % 5);
	return (float)v;
}

/* Brute-force aggregates of steps a..b (all present). */
static void
brute(uint64_t a, uint64_t b, double *mean, double *min, double *max)
{
	double sum = 0;

	*min = INFINITY;
	*max = -INFINITY;
	for (uint64_t s = a; s <= b; s++) {
		double v = loss_of(s);

		sum += v;
		*min = fmin(*min, v);
		*max = fmax(*max, v);
	}
	*mean = sum / (double)(b - a + 1);
}

static int
near(double a, double b)
{
	return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* Checks that w covers first..step exactly with the brute aggregates. */
static void
check_window(const store_loss_window *w, const char *what)
{
	double mean, min, max;

	ck_assert_msg(w->first >= 1 && w->first <= w->step, "%s: first %llu "
	    "step %llu", what, (unsigned long long)w->first,
	    (unsigned long long)w->step);
	ck_assert_msg(w->count == w->step - w->first + 1, "%s: count %llu "
	    "for %llu..%llu", what, (unsigned long long)w->count,
	    (unsigned long long)w->first, (unsigned long long)w->step);
	brute(w->first, w->step, &mean, &min, &max);
	ck_assert_msg(near(w->loss, mean), "%s %llu..%llu: mean %.12g, want "
	    "%.12g", what, (unsigned long long)w->first,
	    (unsigned long long)w->step, w->loss, mean);
	ck_assert_msg(w->min == min && w->max == max, "%s %llu..%llu: min "
	    "%g max %g, want %g %g", what, (unsigned long long)w->first,
	    (unsigned long long)w->step, w->min, w->max, min, max);
}

/* ---- the arithmetic ---- */

START_TEST(test_pack_round_trip)
{
	hist_bucket b, c, d;
	unsigned char buf[HIST_BUCKET_REC], raw[HIST_RAW_REC];
	double l;
	uint32_t dt;

	hist_point(&b, 1025, 0.5, 1700000000000LL);
	hist_point(&c, 1030, 0.25, 1700000000123LL);
	hist_merge(&b, &c);
	hist_point(&c, 1031, NAN, 1700000000124LL);
	hist_merge(&b, &c);
	hist_bucket_pack(&b, buf);
	hist_bucket_unpack(buf, &d);
	ck_assert_uint_eq(d.first, 1025);
	ck_assert_uint_eq(d.last, 1031);
	ck_assert_uint_eq(d.count, 3);
	ck_assert_uint_eq(d.nan, 1);
	ck_assert(d.sum == 0.75 && d.min == 0.25 && d.max == 0.5);
	ck_assert(isnan(d.lastv));
	ck_assert_int_eq(d.time_ms, 1700000000124LL);
	ck_assert(hist_mean(&d) == 0.375);
	hist_raw_pack(0.125, 4000000000u, raw);
	hist_raw_unpack(raw, &l, &dt);
	ck_assert(l == 0.125);
	ck_assert_uint_eq(dt, 4000000000u);
}
END_TEST

/* Validation points and buckets: the accuracy's count, sum and last value
 * merge and round-trip; a point without one counts in none of them. */
START_TEST(test_val_pack_round_trip)
{
	unsigned char buf[HIST_VAL_BUCKET_REC], raw[HIST_VAL_RAW_REC];
	hist_bucket a, b, d;
	double l, acc;
	uint32_t ds, dt;

	hist_point(&a, 3000, 0.5, 10);
	hist_point_acc(&a, 0.75);
	hist_point(&b, 6000, 0.25, 20);
	hist_point_acc(&b, NAN);
	ck_assert_uint_eq(b.acc_n, 0);
	hist_merge(&a, &b);
	ck_assert(a.acc_n == 1 && a.acc_sum == 0.75 && isnan(a.acc_last));
	ck_assert(hist_acc_mean(&a) == 0.75);
	hist_point(&b, 6001, 1.0, 30);
	hist_point_acc(&b, 0.5);
	hist_merge(&a, &b);
	hist_val_bucket_pack(&a, buf);
	memset(&d, 0, sizeof d);
	hist_val_bucket_unpack(buf, &d);
	ck_assert(d.first == 3000 && d.last == 6001 && d.count == 3);
	ck_assert(d.sum == 1.75 && d.min == 0.25 && d.max == 1.0);
	ck_assert(d.acc_n == 2 && d.acc_sum == 1.25 && d.acc_last == 0.5);
	ck_assert(hist_acc_mean(&d) == 0.625);
	/* a loss bucket carries no accuracy */
	hist_bucket_unpack(buf, &d);
	ck_assert(d.acc_n == 0 && isnan(hist_acc_mean(&d)));
	/* a bucket row and its key fit one 4 KB page (no overflow page,
	 * no page a quarter empty) */
	ck_assert_int_le(HIST_BUCKET_CHUNK * HIST_BUCKET_REC, 3900);
	ck_assert_int_le(HIST_VAL_BUCKET_CHUNK * HIST_VAL_BUCKET_REC, 3900);
	ck_assert_int_gt(HIST_BUCKET_CHUNK * HIST_BUCKET_REC, 3000);
	hist_val_raw_pack(4000000000u, 0.125, NAN, 7, raw);
	hist_val_raw_unpack(raw, &ds, &l, &acc, &dt);
	ck_assert(ds == 4000000000u && l == 0.125 && isnan(acc) && dt == 7);
}
END_TEST

/* Coarse buckets are the merges of the fine ones they cover: the min of a
 * level-2 bucket is the min of its 16 level-1 buckets, counts add up and
 * the means weight by count. */
START_TEST(test_levels_nest)
{
	enum { N = 3 * 16384 + 777 };
	static hist_bucket fine[N / 1024 + 2], coarse[N / 16384 + 2];
	size_t nf = 0, nc = 0;

	ck_assert_uint_eq(hist_width(0), 1);
	ck_assert_uint_eq(hist_width(1), HIST_BASE);
	for (int k = 2; k < HIST_TIERS; k++)
		ck_assert_uint_eq(hist_width(k), hist_width(k - 1) * HIST_FACTOR);
	memset(fine, 0, sizeof fine);
	memset(coarse, 0, sizeof coarse);
	for (uint64_t s = 1; s <= N; s++) {
		hist_bucket p;

		hist_point(&p, s, loss_of(s), (int64_t)s);
		nf = hist_index(1, s);
		nc = hist_index(2, s);
		hist_merge(&fine[nf], &p);
		hist_merge(&coarse[nc], &p);
	}
	for (size_t c = 0; c <= nc; c++) {
		hist_bucket m;
		double wsum = 0;

		memset(&m, 0, sizeof m);
		for (size_t i = c * 16; i < c * 16 + 16 && i <= nf; i++) {
			hist_merge(&m, &fine[i]);
			wsum += hist_mean(&fine[i]) * (double)fine[i].count;
		}
		ck_assert_uint_eq(m.count, coarse[c].count);
		ck_assert_uint_eq(m.first, coarse[c].first);
		ck_assert_uint_eq(m.last, coarse[c].last);
		ck_assert(m.min == coarse[c].min && m.max == coarse[c].max);
		ck_assert(m.lastv == coarse[c].lastv);
		ck_assert(near(hist_mean(&m), hist_mean(&coarse[c])));
		ck_assert(near(wsum / (double)m.count, hist_mean(&coarse[c])));
	}
	/* the last coarse bucket is partial: 777 steps past 3 * 16384 */
	ck_assert_uint_eq(coarse[nc].count, 777);
}
END_TEST

/* Group widths: multiples of the unit, never more than n aligned groups,
 * and not much wider than needed. */
START_TEST(test_group_width)
{
	static const uint64_t cases[][4] = {
		{ 1, 1000, 1000, 1 }, { 1, 1001, 1000, 1 },
		{ 5, 100000, 7, 1024 }, { 123456, 9999999, 1000, 1024 },
		{ 1, 1, 1, 1 }, { 17, 17, 5, 16384 }, { 1, 100000000, 1000, 65536 },
		{ 999, 1000000000000ULL, 3, 1024 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t from = cases[i][0], to = cases[i][1], n = cases[i][2];
		uint64_t unit = cases[i][3];
		uint64_t g = hist_group_width(from, to, n, unit);
		uint64_t groups = (to - 1) / g - (from - 1) / g + 1;

		ck_assert_uint_eq(g % unit, 0);
		ck_assert_msg(groups <= n, "case %zu: %llu groups", i,
		    (unsigned long long)groups);
		ck_assert_msg(g <= (to - from + 1) / n * 2 + 2 * unit,
		    "case %zu: width %llu", i, (unsigned long long)g);
	}
	ck_assert_int_eq(hist_level_dividing(1000), 0);
	ck_assert_int_eq(hist_level_dividing(2048), 1);
	ck_assert_int_eq(hist_level_dividing(16384 * 3), 2);
	ck_assert_int_eq(hist_level_within(1000), 1);
	ck_assert_int_eq(hist_level_within(16 * 16384 - 1), 1);
	ck_assert_int_eq(hist_level_within(16 * 16384), 2);
	ck_assert_int_eq(hist_level_within(1000000), 2);
	ck_assert_int_eq(hist_level_within(UINT64_MAX), HIST_TIERS - 1);
	ck_assert_int_eq(hist_level_for(1000, 1000, 8), 1);
	ck_assert_int_eq(hist_level_for(100000000, 1000, 8), 2);
	ck_assert_int_eq(hist_level_for(1000000000, 1000, 8), 3);
}
END_TEST

/* ---- through the store ---- */

/* The database the running case's store is on: ":memory:", or on
 * PostgreSQL the conninfo of its fresh database. */
static char test_db[512];

/* A new empty store for a case: SQLite in memory, or a fresh PostgreSQL
 * database when MLPD_TEST_PG is set. */
static store *
open_store(void)
{
	store *s;
	fault f;

	if (pgtest_server() != NULL)
		pgtest_fresh(test_db, sizeof test_db);
	else
		snprintf(test_db, sizeof test_db, ":memory:");
	s = store_open(test_db, &f);
	ck_assert_msg(s != NULL, "%s", f.msg);
	return s;
}

#define STEPS 40000
#define RAW 5000

/* The validation series of the synthetic history: a point every VEVERY
 * steps, its loss and accuracy (none every 11th step) float32 values. */
#define VEVERY 3

static double
vloss_of(uint64_t s)
{
	return (float)(loss_of(s) / 2 + (double)(s % 5) / 16.0);
}

static double
vacc_of(uint64_t s)
{
	return s % 11 == 0 ? NAN : (float)((double)(s % 7) / 8.0);
}

static store *
history_store(uint64_t steps, uint64_t raw)
{
	store_model m;
	store_progress p;
	store_loss_point *pts = calloc(4096, sizeof *pts);
	store_val_point *vps = calloc(4096, sizeof *vps);
	store *s;
	fault f;
	uint64_t done = 0;

	ck_assert_ptr_nonnull(pts);
	ck_assert_ptr_nonnull(vps);
	s = open_store();
	store_set_history_raw(s, raw);
	memset(&m, 0, sizeof m);
	snprintf(m.id, sizeof m.id, "m");
	m.name = "m";
	m.last_loss = NAN;
	m.blob = "W";
	m.blob_len = 1;
	expect_ok(store_model_insert(s, &m, &f), f);
	/* commits of uneven sizes, as a trainer's checkpoints are */
	while (done < steps) {
		size_t n = 1 + (size_t)((done * 7919) % 4096);

		if (n > steps - done)
			n = (size_t)(steps - done);
		memset(&p, 0, sizeof p);
		for (size_t i = 0; i < n; i++) {
			uint64_t st = done + i + 1;

			pts[i].step = st;
			pts[i].loss = loss_of(st);
			pts[i].time_ms = 1000 + (int64_t)(done + i);
			if (st % VEVERY == 0) {
				vps[p.nvpoints].step = st;
				vps[p.nvpoints].loss = vloss_of(st);
				vps[p.nvpoints].accuracy = vacc_of(st);
				vps[p.nvpoints++].time_ms = pts[i].time_ms;
			}
		}
		p.model_id = "m";
		p.points = pts;
		p.npoints = n;
		p.vpoints = vps;
		p.blob = "W";
		p.blob_len = 1;
		done += n;
		p.step = done;
		p.last_loss = pts[n - 1].loss;
		expect_ok(store_progress_commit(s, &p, &f), f);
	}
	free(pts);
	free(vps);
	return s;
}

/* every=K: exact windows of K where the raw steps are kept or K is a
 * multiple of 1024; elsewhere marked buckets that are still exact for
 * the steps they say they cover. */
START_TEST(test_every_windows)
{
	static const uint64_t ks[] = { 1024, 2048, 16384, 1000, 3000, 7 };
	store *s = history_store(STEPS, RAW);
	uint64_t rawfirst = STEPS - RAW; /* at most: whole raw rows stay */

	for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
		uint64_t k = ks[i], next = 1, since = 0;
		store_loss_window *w;
		size_t n;
		fault f;
		char what[64];

		snprintf(what, sizeof what, "every=%llu", (unsigned long long)k);
		for (;;) {
			expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN,
			    k, since, 500, &w, &n, &f), f);
			for (size_t j = 0; j < n; j++) {
				check_window(&w[j], what);
				ck_assert_msg(w[j].first == next, "%s: window "
				    "from %llu, want %llu", what,
				    (unsigned long long)w[j].first,
				    (unsigned long long)next);
				next = w[j].step + 1;
				if (!w[j].bucket) {
					ck_assert_uint_eq((w[j].first - 1) / k,
					    (w[j].step - 1) / k);
					ck_assert(w[j].step % k == 0 ||
					    w[j].step == STEPS);
				} else {
					ck_assert(k % 1024 != 0);
					ck_assert(w[j].first < rawfirst + 1024);
				}
			}
			if (n > 0)
				since = w[n - 1].step;
			free(w);
			if (n < 500)
				break;
		}
		ck_assert_msg(next == STEPS + 1, "%s: ends at %llu", what,
		    (unsigned long long)next - 1);
	}
	store_close(s);
}
END_TEST

/* every=K with K not a multiple of 1024 and at least 16 * 16384: before
 * the raw window its windows are made of level-2 buckets (16 or more to a
 * window, so a window reads about 16 entries), still exact for the steps
 * they say they cover, contiguous and marked. */
START_TEST(test_every_coarse)
{
	enum { BIG = 700000 };
	uint64_t k = 16 * 16384 + 1000, next = 1, since = 0;
	store *s = history_store(BIG, RAW);
	store_loss_window *w;
	size_t n, buckets = 0;
	fault f;

	do {
		expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, k,
		    since, 2, &w, &n, &f), f);
		for (size_t j = 0; j < n; j++) {
			check_window(&w[j], "coarse every");
			ck_assert_uint_eq(w[j].first, next);
			next = w[j].step + 1;
			if (w[j].bucket) {
				/* level-2 edges (or the end), each within
				 * 16384 before the window's own */
				ck_assert(w[j].step == BIG ||
				    (w[j].step % 16384 == 0 &&
				    (k - w[j].step % k) % k < 16384));
				buckets++;
			}
		}
		if (n > 0)
			since = w[n - 1].step;
		free(w);
	} while (n == 2);
	ck_assert_uint_eq(next, BIG + 1);
	ck_assert_uint_ge(buckets, 1);
	store_close(s);
}
END_TEST

/* Plain paging: bucket points before the raw window, then every raw step
 * one by one, each step covered once. */
START_TEST(test_paging_across_edge)
{
	store *s = history_store(STEPS, RAW);
	uint64_t since = 0, next = 1, buckets = 0, raws = 0;
	store_loss_window *w;
	store_loss_point *v;
	size_t n;
	fault f;

	do {
		expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 1,
		    since, 333, &w, &n, &f), f);
		for (size_t j = 0; j < n; j++) {
			check_window(&w[j], "paging");
			ck_assert_uint_eq(w[j].first, next);
			next = w[j].step + 1;
			if (w[j].bucket) {
				ck_assert_uint_eq(raws, 0);
				buckets++;
			} else {
				ck_assert_uint_eq(w[j].count, 1);
				ck_assert(w[j].loss == loss_of(w[j].step));
				ck_assert_int_eq(w[j].time_ms,
				    1000 + (int64_t)w[j].step - 1);
				raws++;
			}
		}
		if (n > 0)
			since = w[n - 1].step;
		free(w);
	} while (n == 333);
	ck_assert_uint_eq(next, STEPS + 1);
	ck_assert_uint_ge(raws, RAW);
	ck_assert_uint_lt(raws, RAW + 2 * 1024);
	ck_assert_uint_gt(buckets, 0);
	/* the raw window's edge is at a level-1 boundary */
	ck_assert_uint_eq((STEPS - raws) % 1024, 0);
	/* store_loss_query sees the same steps */
	expect_ok(store_loss_query(s, "m", STEPS - 3, 10, &v, &n, &f), f);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(v[2].step, STEPS);
	ck_assert(v[2].loss == loss_of(STEPS));
	free(v);
	store_close(s);
}
END_TEST

/* max_points over ranges inside the raw window, before it, and spanning
 * levels: at most N groups, contiguous, exact, covering the range, and
 * the spikes are never lost. */
START_TEST(test_max_points_ranges)
{
	static const uint64_t cases[][3] = {
		{ 1, UINT64_MAX, 100 }, { 1, STEPS, 1000 },
		{ STEPS - 2000, STEPS, 500 }, { STEPS - 100, STEPS, 1000 },
		{ 7000, 9000, 50 }, { 30000, 38000, 20 }, { 1, 10, 3 },
		{ 33333, 33333, 1 }, { 1, STEPS, 1 }, { 39000, 50000, 10 },
		{ STEPS - 3000, STEPS - 2501, 1000 },
		{ STEPS - 3000, STEPS - 1001, 7 },
	};

	store *s = history_store(STEPS, RAW);

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t from = cases[i][0], to = cases[i][1];
		uint64_t end = to > STEPS ? STEPS : to, spikes = 0, seen = 0;
		store_loss_window *w;
		size_t n;
		fault f;
		char what[64];

		snprintf(what, sizeof what, "case %zu", i);
		expect_ok(store_loss_range(s, "m", STORE_SERIES_TRAIN, from, to,
		    (size_t)cases[i][2], &w, &n, &f), f);
		ck_assert_msg(n >= 1 && n <= cases[i][2], "%s: %zu points",
		    what, n);
		ck_assert_msg(w[0].first <= from && w[0].step >= from,
		    "%s: starts at %llu", what,
		    (unsigned long long)w[0].first);
		ck_assert_msg(w[n - 1].step >= end, "%s: ends at %llu", what,
		    (unsigned long long)w[n - 1].step);
		for (size_t j = 0; j < n; j++) {
			check_window(&w[j], what);
			if (j > 0)
				ck_assert_uint_eq(w[j].first, w[j - 1].step + 1);
			if (w[j].max >= 100.0)
				spikes++;
			/* a group reaches past the range by less than a
			 * bucket of the level it was read from */
			ck_assert(w[j].first + hist_width(HIST_TIERS - 1) >
			    from);
		}
		/* inside the raw window the range is met exactly */
		if (from > STEPS - RAW) {
			ck_assert_uint_eq(w[0].first, from);
			ck_assert_uint_eq(w[n - 1].step, end);
		}
		for (uint64_t st = w[0].first; st <= w[n - 1].step; st++)
			seen += st % 7919 == 0;
		ck_assert_uint_eq(spikes > 0, seen > 0);
		free(w);
	}
	store_close(s);
}
END_TEST

/* A trim inside the raw window ends the history at the step exactly; one
 * before it ends at the last whole level-1 bucket; appends go on after. */
START_TEST(test_trim)
{
	store *s = history_store(STEPS, RAW);
	store_loss_window *w;
	store_loss_point pt;
	store_progress p;
	size_t n;
	fault f;

	expect_ok(store_model_set_weights(s, "m", "W", 1, STEPS - 100, 5, &f),
	    f);
	expect_ok(store_loss_range(s, "m", STORE_SERIES_TRAIN, 1, UINT64_MAX,
	    50, &w, &n, &f), f);
	ck_assert_uint_eq(w[n - 1].step, STEPS - 100);
	for (size_t j = 0; j < n; j++)
		check_window(&w[j], "trim in raw");
	free(w);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 16384, 0, 10,
	    &w, &n, &f), f);
	for (size_t j = 0; j < n; j++)
		check_window(&w[j], "trim in raw, level 2");
	ck_assert_uint_eq(w[n - 1].step, STEPS - 100);
	free(w);
	/* step 10000 is long out of the raw window: back to 9216 */
	expect_ok(store_model_set_weights(s, "m", "W", 1, 10000, 6, &f), f);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 1024, 0, 100,
	    &w, &n, &f), f);
	ck_assert_uint_eq(n, 9);
	ck_assert_uint_eq(w[n - 1].step, 9216);
	for (size_t j = 0; j < n; j++)
		check_window(&w[j], "trim before raw");
	free(w);
	/* training goes on from the checkpoint: step 10001 appends */
	pt.step = 10001;
	pt.loss = loss_of(10001);
	pt.time_ms = 7;
	memset(&p, 0, sizeof p);
	p.model_id = "m";
	p.points = &pt;
	p.npoints = 1;
	p.last_loss = pt.loss;
	expect_ok(store_progress_commit(s, &p, &f), f);
	expect_ok(store_loss_range(s, "m", STORE_SERIES_TRAIN, 9000, 20000,
	    1000, &w, &n, &f), f);
	ck_assert_uint_eq(w[n - 1].step, 10001);
	ck_assert(w[n - 1].loss == loss_of(10001));
	free(w);
	store_close(s);
}
END_TEST

/* ---- the validation series ---- */

/* Checks that w aggregates exactly the validation points in first..step,
 * which are points themselves; returns the points it holds. */
static uint64_t
check_val_window(const store_loss_window *w, const char *what)
{
	double sum = 0, asum = 0, min = INFINITY, max = -INFINITY;
	uint64_t n = 0, an = 0;

	ck_assert_msg(w->first % VEVERY == 0 && w->step % VEVERY == 0 &&
	    w->first <= w->step, "%s: %llu..%llu are not points", what,
	    (unsigned long long)w->first, (unsigned long long)w->step);
	for (uint64_t s = w->first; s <= w->step; s += VEVERY) {
		sum += vloss_of(s);
		min = fmin(min, vloss_of(s));
		max = fmax(max, vloss_of(s));
		n++;
		if (!isnan(vacc_of(s))) {
			asum += vacc_of(s);
			an++;
		}
	}
	ck_assert_msg(w->count == n, "%s %llu..%llu: count %llu, want %llu",
	    what, (unsigned long long)w->first, (unsigned long long)w->step,
	    (unsigned long long)w->count, (unsigned long long)n);
	ck_assert_msg(near(w->loss, sum / (double)n) && w->min == min &&
	    w->max == max, "%s %llu..%llu: %g [%g, %g], want %g [%g, %g]",
	    what, (unsigned long long)w->first, (unsigned long long)w->step,
	    w->loss, w->min, w->max, sum / (double)n, min, max);
	if (an == 0)
		ck_assert_msg(isnan(w->accuracy), "%s: accuracy", what);
	else
		ck_assert_msg(near(w->accuracy, asum / (double)an),
		    "%s %llu..%llu: accuracy %.12g, want %.12g", what,
		    (unsigned long long)w->first, (unsigned long long)w->step,
		    w->accuracy, asum / (double)an);
	return n;
}

/* The validation series in levels: every=K windows and max_points ranges
 * are exact over the points they say they cover, cover each point once,
 * and a point read one by one in the raw window is the point stored. */
START_TEST(test_val_series)
{
	static const uint64_t ks[] = { 1, 3, 1000, 1024, 2048, 7 };
	static const uint64_t ranges[][3] = {
		{ 1, UINT64_MAX, 100 }, { STEPS - 2000, STEPS, 500 },
		{ 7000, 9000, 50 }, { 1, STEPS, 1 }, { 39000, 50000, 10 },
	};
	store *s = history_store(STEPS, RAW);
	uint64_t rawfirst = STEPS - RAW - 1024 * VEVERY;

	for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
		uint64_t k = ks[i], next = 1, since = 0, pts = 0;
		store_loss_window *w;
		size_t n;
		fault f;
		char what[64];

		snprintf(what, sizeof what, "val every=%llu",
		    (unsigned long long)k);
		do {
			expect_ok(store_loss_windows(s, "m",
			    STORE_SERIES_VALIDATION, k, since, 400, &w, &n,
			    &f), f);
			for (size_t j = 0; j < n; j++) {
				pts += check_val_window(&w[j], what);
				ck_assert_msg(w[j].first >= next &&
				    w[j].first < next + VEVERY, "%s: from %llu "
				    "after %llu", what,
				    (unsigned long long)w[j].first,
				    (unsigned long long)next);
				next = w[j].step + 1;
				if (!w[j].bucket)
					ck_assert_uint_eq((w[j].first - 1) / k,
					    (w[j].step - 1) / k);
				else
					ck_assert(k % 1024 != 0 &&
					    w[j].first < rawfirst + 1024);
				if (k == 1 && !w[j].bucket)
					ck_assert(w[j].count == 1 &&
					    w[j].time_ms == 1000 +
					    (int64_t)w[j].step - 1);
			}
			if (n > 0)
				since = w[n - 1].step;
			free(w);
		} while (n == 400);
		ck_assert_uint_eq(pts, STEPS / VEVERY);
	}
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		uint64_t from = ranges[i][0], to = ranges[i][1], spikes = 0;
		store_loss_window *w;
		size_t n;
		fault f;
		char what[64];

		snprintf(what, sizeof what, "val range %zu", i);
		expect_ok(store_loss_range(s, "m", STORE_SERIES_VALIDATION,
		    from, to, (size_t)ranges[i][2], &w, &n, &f), f);
		ck_assert_msg(n >= 1 && n <= ranges[i][2], "%s: %zu", what, n);
		ck_assert(w[0].first < from + VEVERY);
		ck_assert(w[n - 1].step + VEVERY > (to > STEPS ? STEPS : to));
		for (size_t j = 0; j < n; j++) {
			check_val_window(&w[j], what);
			if (j > 0)
				ck_assert(w[j].first > w[j - 1].step &&
				    w[j].first <= w[j - 1].step + VEVERY);
			spikes += w[j].max >= 50.0;
		}
		/* the spike at step 3 * 7919 = 23757 is never lost */
		ck_assert_uint_eq(spikes > 0, w[0].first <= 23757 &&
		    w[n - 1].step >= 23757);
		free(w);
	}
	store_close(s);
}
END_TEST

/* A trim ends the validation series where it ends the loss; a point at
 * the last step stored replaces it; appends go on after a trim. */
START_TEST(test_val_trim_replace)
{
	store *s = history_store(STEPS, RAW);
	store_val_point vp = { STEPS - 100, 0.5, 0.25, 90000 };
	store_loss_window *w;
	store_progress p;
	size_t n;
	fault f;

	expect_ok(store_model_set_weights(s, "m", "W", 1, STEPS - 100, 5, &f),
	    f);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1,
	    STEPS - 200, 100, &w, &n, &f), f);
	ck_assert_uint_eq(w[n - 1].step, STEPS - 100); /* 3 * 13300 */
	ck_assert(w[n - 1].loss == vloss_of(STEPS - 100));
	free(w);
	/* the same step again: replaced, not added */
	memset(&p, 0, sizeof p);
	p.model_id = "m";
	p.vpoints = &vp;
	p.nvpoints = 1;
	p.last_loss = NAN;
	expect_ok(store_progress_commit(s, &p, &f), f);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1,
	    STEPS - 110, 100, &w, &n, &f), f);
	ck_assert_uint_eq(n, 4); /* 39891, 39894, 39897, 39900 */
	ck_assert(w[3].step == STEPS - 100 && w[3].count == 1 &&
	    w[3].loss == 0.5 && w[3].accuracy == 0.25 && w[3].time_ms == 90000);
	ck_assert(w[2].loss == vloss_of(STEPS - 103));
	free(w);
	expect_ok(store_loss_range(s, "m", STORE_SERIES_VALIDATION, 1,
	    UINT64_MAX, 1, &w, &n, &f), f);
	ck_assert(n == 1 && w[0].count == (STEPS - 100) / VEVERY);
	free(w);
	/* out of the raw window: back to the last whole level-1 bucket */
	expect_ok(store_model_set_weights(s, "m", "W", 1, 10000, 6, &f), f);
	expect_ok(store_loss_range(s, "m", STORE_SERIES_VALIDATION, 1,
	    UINT64_MAX, 1000, &w, &n, &f), f);
	ck_assert_uint_eq(w[n - 1].step, 9216);
	for (size_t j = 0; j < n; j++)
		check_val_window(&w[j], "val trim before raw");
	free(w);
	vp.step = 10002;
	expect_ok(store_progress_commit(s, &p, &f), f);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1,
	    9000, 100, &w, &n, &f), f);
	ck_assert(w[n - 1].step == 10002 && w[n - 1].loss == 0.5);
	free(w);
	store_close(s);
}
END_TEST

/* ---- deletes ---- */

static long long
count_of(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Makes the models "big" and "other" in s (which keeps every raw step)
 * and commits 50,000 steps to big, with a validation point every 10
 * steps (so that rows of both series are there to delete); pts and vps
 * hold 50,000 and 5,000 points. */
static void
big_and_other(store *s, store_loss_point *pts, store_val_point *vps)
{
	store_model m;
	store_progress p;
	fault f;

	store_set_history_raw(s, 0);
	memset(&m, 0, sizeof m);
	m.name = "m";
	m.last_loss = NAN;
	m.blob = "W";
	m.blob_len = 1;
	snprintf(m.id, sizeof m.id, "big");
	expect_ok(store_model_insert(s, &m, &f), f);
	snprintf(m.id, sizeof m.id, "other");
	expect_ok(store_model_insert(s, &m, &f), f);
	for (int i = 0; i < 50000; i++) {
		pts[i].step = (uint64_t)i + 1;
		pts[i].loss = loss_of((uint64_t)i + 1);
		pts[i].time_ms = i;
	}
	for (int i = 0; i < 5000; i++) {
		vps[i].step = 10 * (uint64_t)i + 10;
		vps[i].loss = vloss_of(vps[i].step);
		vps[i].accuracy = NAN;
		vps[i].time_ms = i;
	}
	memset(&p, 0, sizeof p);
	p.model_id = "big";
	p.points = pts;
	p.npoints = 50000;
	p.vpoints = vps;
	p.nvpoints = 5000;
	expect_ok(store_progress_commit(s, &p, &f), f);
}

/* Deleting a model does not drop its history rows in the same
 * transaction: they go a bounded number per later commit, and all of
 * them by the time the store closes. */
START_TEST(test_delete_in_steps)
{
	char path[] = "/tmp/check_tiers_del_XXXXXX";
	store_progress p;
	store_loss_point *pts = calloc(50000, sizeof *pts);
	store_val_point *vps = calloc(5000, sizeof *vps);
	long long rows, left;
	store *s;
	fault f;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(path);
	ck_assert_ptr_nonnull(pts);
	ck_assert_ptr_nonnull(vps);
	s = store_open(path, &f);
	ck_assert_msg(s != NULL, "%s", f.msg);
	big_and_other(s, pts, vps);
	rows = count_of(path, "SELECT count(*) FROM loss_chunk");
	ck_assert_int_gt(count_of(path, "SELECT count(*) FROM loss_chunk "
	    "WHERE series = 1"), 5000 / 1024);
	ck_assert_int_gt(rows, 50000 / 1024);
	expect_ok(store_model_delete(s, "big", &f), f);
	/* the delete noted the id; the rows are still there */
	ck_assert_int_eq(count_of(path, "SELECT count(*) FROM loss_trash"), 1);
	ck_assert_int_eq(count_of(path, "SELECT count(*) FROM loss_chunk"),
	    rows);
	/* a commit of another model drops a bounded number of them */
	memset(&p, 0, sizeof p);
	p.model_id = "other";
	p.points = pts;
	p.npoints = 10;
	expect_ok(store_progress_commit(s, &p, &f), f);
	left = count_of(path, "SELECT count(*) FROM loss_chunk "
	    "WHERE model_id = 'big'");
	ck_assert_int_eq(left, rows - 32);
	store_close(s);
	ck_assert_int_eq(count_of(path, "SELECT count(*) FROM loss_chunk "
	    "WHERE model_id = 'big'"), 0);
	ck_assert_int_eq(count_of(path, "SELECT count(*) FROM loss_trash"), 0);
	ck_assert_int_gt(count_of(path, "SELECT count(*) FROM loss_chunk "
	    "WHERE model_id = 'other'"), 0);
	free(pts);
	free(vps);
	test_unlink_db(path);
}
END_TEST

/* ---- migration ---- */

extern const char store_schema_sql[];
extern const char store_schema_2_sql[];
extern const char store_schema_3_sql[];
extern const char store_schema_4_sql[];
extern const char store_schema_5_sql[];


/* Makes path a file of an older schema, version (its DDL run step by
 * step), with models 'm' (at step) and 'e' (empty), inside an open
 * transaction; *st gets the statement insert prepared. */
static sqlite3 *
old_file(const char *path, int version, int64_t step, const char *insert,
	 sqlite3_stmt **st)
{
	const char *ddl[] = { store_schema_sql, store_schema_2_sql,
		store_schema_3_sql, store_schema_4_sql, store_schema_5_sql };
	char sql[320];
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	for (int i = 0; i < version; i++)
		ck_assert_int_eq(sqlite3_exec(db, ddl[i], NULL, NULL, NULL),
		    SQLITE_OK);
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d;"
	    "INSERT INTO models (id, name, created_ms, updated_ms, step, "
	    "samples, last_loss, weights) VALUES ('m', 'old', 1, 2, %lld, 0, "
	    "0.5, x'57'), ('e', 'empty', 1, 2, 0, 0, NULL, x'57');BEGIN",
	    version, (long long)step);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, insert, -1, st, NULL),
	    SQLITE_OK);
	return db;
}

/* Ends old_file's transaction and closes it. */
static void
old_file_done(sqlite3 *db, sqlite3_stmt *st)
{
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
}

/* A file of schema 3 (per-step loss rows) opens as schema 4: its rows
 * become raw rows and buckets, and the old table goes. */
START_TEST(test_migrate_rows)
{
	char path[] = "/tmp/check_tiers_XXXXXX", sql[160];
	sqlite3 *db;
	sqlite3_stmt *st;
	store_loss_window *w;
	size_t n;
	store *s;
	fault f;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	db = old_file(path, 3, 5000, "INSERT INTO loss VALUES "
	    "('m', ?1, ?2, ?3)", &st);
	for (int i = 1; i <= 5000; i++) {
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_double(st, 2, loss_of((uint64_t)i));
		sqlite3_bind_int(st, 3, 100 + i);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	old_file_done(db, st);

	s = store_open(path, &f);
	ck_assert_msg(s != NULL, "%s", f.msg);
	ck_assert_int_ge(store_schema_version(), 5);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 1, 0, 10000,
	    &w, &n, &f), f);
	ck_assert_uint_eq(n, 5000);
	for (size_t j = 0; j < n; j++) {
		ck_assert_uint_eq(w[j].step, j + 1);
		ck_assert(!w[j].bucket);
		ck_assert(w[j].loss == loss_of(j + 1));
		ck_assert_int_eq(w[j].time_ms, 100 + (int64_t)j + 1);
	}
	free(w);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_TRAIN, 2048, 0, 10,
	    &w, &n, &f), f);
	ck_assert_uint_eq(n, 3);
	for (size_t j = 0; j < n; j++)
		check_window(&w[j], "migrated");
	free(w);
	expect_ok(store_loss_windows(s, "e", STORE_SERIES_TRAIN, 1, 0, 10,
	    &w, &n, &f), f);
	ck_assert_uint_eq(n, 0);
	free(w);
	expect_ok(store_integrity_check(s, &f), f);
	store_close(s);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'loss'");
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA auto_vacuum", -1, &st,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 2); /* incremental */
	sqlite3_finalize(st);
	sqlite3_close(db);
	test_unlink_db(path);
}
END_TEST

/* A file of schema 5 (validation points one row each) opens as schema 6:
 * its points become the validation series' levels, every one of them
 * read back exactly, and the old table goes. */
START_TEST(test_migrate_val)
{
	char path[] = "/tmp/check_tiers_val_XXXXXX";
	sqlite3 *db;
	sqlite3_stmt *st;
	store_loss_window *w;
	size_t n;
	store *s;
	fault f;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	db = old_file(path, 5, 6000, "INSERT INTO validation "
	    "VALUES ('m', ?1, ?2, ?3, ?4)", &st);
	/* a file at 5 has its loss rows in loss_chunk already */
	ck_assert_int_eq(sqlite3_exec(db, "DROP TABLE loss", NULL, NULL,
	    NULL), SQLITE_OK);
	for (int i = VEVERY; i <= 6000; i += VEVERY) {
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_double(st, 2, vloss_of((uint64_t)i));
		if (isnan(vacc_of((uint64_t)i)))
			sqlite3_bind_null(st, 3);
		else
			sqlite3_bind_double(st, 3, vacc_of((uint64_t)i));
		sqlite3_bind_int(st, 4, 100 + i);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	old_file_done(db, st);

	s = store_open(path, &f);
	ck_assert_msg(s != NULL, "%s", f.msg);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 1, 0,
	    10000, &w, &n, &f), f);
	ck_assert_uint_eq(n, 6000 / VEVERY);
	for (size_t j = 0; j < n; j++) {
		ck_assert_uint_eq(w[j].step, (j + 1) * VEVERY);
		ck_assert(!w[j].bucket);
		check_val_window(&w[j], "migrated point");
		ck_assert_int_eq(w[j].time_ms, 100 + (int64_t)w[j].step);
	}
	free(w);
	expect_ok(store_loss_windows(s, "m", STORE_SERIES_VALIDATION, 2048, 0,
	    10, &w, &n, &f), f);
	ck_assert_uint_eq(n, 3);
	for (size_t j = 0; j < n; j++)
		check_val_window(&w[j], "migrated window");
	free(w);
	expect_ok(store_loss_windows(s, "e", STORE_SERIES_VALIDATION, 1, 0,
	    10, &w, &n, &f), f);
	ck_assert_uint_eq(n, 0);
	free(w);
	expect_ok(store_integrity_check(s, &f), f);
	store_close(s);
	ck_assert_int_eq(count_of(path, "SELECT count(*) FROM sqlite_schema "
	    "WHERE name = 'validation'"), 0);
	ck_assert_int_eq(count_of(path, "PRAGMA user_version"),
	    store_schema_version());
	ck_assert_int_eq(count_of(path, "SELECT count(*) FROM loss_chunk "
	    "WHERE series = 1 AND level = 0"), 2); /* 2000 points */
	test_unlink_db(path);
}
END_TEST

/* On PostgreSQL a delete drops the model's history rows at once (one
 * DELETE, which locks no other model's rows): none is left, none waits in
 * loss_trash, and another model's history is whole. */
START_TEST(test_delete_pg)
{
	store_progress p;
	store_loss_point *pts = calloc(50000, sizeof *pts);
	store_val_point *vps = calloc(5000, sizeof *vps);
	store_loss_window *w;
	size_t n;
	store *s;
	fault f;

	ck_assert_ptr_nonnull(pts);
	ck_assert_ptr_nonnull(vps);
	s = open_store();
	big_and_other(s, pts, vps);
	memset(&p, 0, sizeof p);
	p.model_id = "other";
	p.points = pts;
	p.npoints = 10;
	expect_ok(store_progress_commit(s, &p, &f), f);
	ck_assert_int_gt(pgtest_int(test_db, "SELECT count(*) FROM loss_chunk "
	    "WHERE model_id = 'big' AND series = 1"), 5000 / 1024);
	ck_assert_int_gt(pgtest_int(test_db, "SELECT count(*) FROM loss_chunk "
	    "WHERE model_id = 'big'"), 50000 / 1024);
	expect_ok(store_model_delete(s, "big", &f), f);
	ck_assert_int_eq(pgtest_int(test_db, "SELECT count(*) FROM loss_chunk "
	    "WHERE model_id = 'big'"), 0);
	ck_assert_int_eq(pgtest_int(test_db, "SELECT count(*) FROM "
	    "loss_trash"), 0);
	expect_ok(store_loss_windows(s, "other", STORE_SERIES_TRAIN, 1, 0,
	    100, &w, &n, &f), f);
	ck_assert_uint_eq(n, 10);
	ck_assert_uint_eq(w[9].step, 10);
	ck_assert(w[9].loss == loss_of(10));
	free(w);
	store_close(s);
	free(pts);
	free(vps);
}
END_TEST

/* The cases through the store that run on either backend. */
static TCase *
store_cases(void)
{
	TCase *q = tcase_create("store");

	tcase_set_timeout(q, 120);
	tcase_add_test(q, test_every_windows);
	tcase_add_test(q, test_every_coarse);
	tcase_add_test(q, test_paging_across_edge);
	tcase_add_test(q, test_max_points_ranges);
	tcase_add_test(q, test_trim);
	tcase_add_test(q, test_val_series);
	tcase_add_test(q, test_val_trim_replace);
	return q;
}

/* The cases through the store on PostgreSQL (MLPD_TEST_PG): the same
 * ones, but for the SQLite files' own. */
static Suite *
tiers_pg_suite(void)
{
	Suite *s = suite_create("tiers_pg");
	TCase *q = store_cases();

	tcase_add_test(q, test_delete_pg);
	suite_add_tcase(s, q);
	return s;
}

static Suite *
tiers_suite(void)
{
	Suite *s = suite_create("tiers");
	TCase *a = tcase_create("arithmetic");
	TCase *q = store_cases();

	tcase_add_test(a, test_pack_round_trip);
	tcase_add_test(a, test_val_pack_round_trip);
	tcase_add_test(a, test_levels_nest);
	tcase_add_test(a, test_group_width);
	suite_add_tcase(s, a);
	tcase_add_test(q, test_migrate_rows);
	tcase_add_test(q, test_migrate_val);
	tcase_add_test(q, test_delete_in_steps);
	suite_add_tcase(s, q);
	return s;
}

int
main(void)
{
	pgtest_init();
	return pgtest_run(pgtest_server() != NULL ? tiers_pg_suite() :
	    tiers_suite());
}
