/*
 * check_sched: Check tests of a train job's training control (issue 13):
 * learning-rate schedules (core/schedule.c's arithmetic, and a job's steps
 * against the seed's update with the rate the test computes itself),
 * early stopping on the validation series and on the training loss, and
 * restore_best.
 *
 * The reference here is ../shared/seed-math.md in double, written again
 * for this suite: a [2, H, 1] sigmoid network, the minibatch-mean MSE
 * loss, W <- W - lr dL/dW. The schedules' rates are the formulas of the
 * README, spelled out per case, not core/schedule.c's code.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedule.h"
#include "testlib.h"

#define XOR_IN "[[0,0],[0,1],[1,0],[1,1]]"
#define NROWS 4
#define MAXH 8

static const double xin[NROWS][2] = { {0, 0}, {0, 1}, {1, 0}, {1, 1} };
static const double yxor[NROWS] = { 0, 1, 1, 0 };

/* A [2, h, 1] network in double. */
typedef struct ref_net {
	size_t h;
	double w1[MAXH][2], b1[MAXH], w2[MAXH], b2;
} ref_net;

static double
sig(double f)
{
	return 1.0 / (1.0 + exp(-f));
}

/* GET .../weights into r. */
static void
ref_load_path(const char *path, ref_net *r)
{
	json_t *doc = tl_jget(path);
	json_t *l0 = json_array_get(json_object_get(doc, "layers"), 0);
	json_t *l1 = json_array_get(json_object_get(doc, "layers"), 1);
	json_t *w1 = json_object_get(l0, "weights");

	r->h = json_array_size(w1);
	ck_assert(r->h >= 1 && r->h <= MAXH);
	for (size_t i = 0; i < r->h; i++) {
		for (size_t j = 0; j < 2; j++)
			r->w1[i][j] = json_number_value(json_array_get(
			    json_array_get(w1, i), j));
		r->b1[i] = json_number_value(json_array_get(
		    json_object_get(l0, "biases"), i));
		r->w2[i] = json_number_value(json_array_get(json_array_get(
		    json_object_get(l1, "weights"), 0), i));
	}
	r->b2 = json_number_value(json_array_get(json_object_get(l1,
	    "biases"), 0));
	json_decref(doc);
}

/* The model's own weights into r. */
static void
ref_load(const char *id, ref_net *r)
{
	ref_load_path(tl_mpath(id, "/weights"), r);
}

/* The output of r for input row x. */
static double
ref_out(const ref_net *r, const double *x, double *g1)
{
	double f2 = r->b2;

	for (size_t i = 0; i < r->h; i++) {
		g1[i] = sig(r->w1[i][0] * x[0] + r->w1[i][1] * x[1] + r->b1[i]);
		f2 += r->w2[i] * g1[i];
	}
	return sig(f2);
}

/* The mean loss of r over the rows (targets y). */
static double
ref_loss(const ref_net *r, const double *y)
{
	double g1[MAXH], sum = 0;

	for (size_t k = 0; k < NROWS; k++) {
		double d = ref_out(r, xin[k], g1) - y[k];

		sum += d * d;
	}
	return sum / NROWS;
}

/* One seed update of r on all rows at rate lr; returns the loss before. */
static double
ref_step(ref_net *r, const double *y, double lr)
{
	double gw1[MAXH][2] = { { 0 } }, gb1[MAXH] = { 0 }, gw2[MAXH] = { 0 };
	double gb2 = 0, loss = 0;

	for (size_t k = 0; k < NROWS; k++) {
		double g1[MAXH], g2 = ref_out(r, xin[k], g1);
		/* dL/dg2 = (2/N2)(g2 - y), N2 = 1; the batch mean */
		double d2 = 2.0 * (g2 - y[k]) * g2 * (1 - g2) / NROWS;

		loss += (g2 - y[k]) * (g2 - y[k]) / NROWS;
		gb2 += d2;
		for (size_t i = 0; i < r->h; i++) {
			double d1 = d2 * r->w2[i] * g1[i] * (1 - g1[i]);

			gw2[i] += d2 * g1[i];
			gb1[i] += d1;
			gw1[i][0] += d1 * xin[k][0];
			gw1[i][1] += d1 * xin[k][1];
		}
	}
	for (size_t i = 0; i < r->h; i++) {
		r->w1[i][0] -= lr * gw1[i][0];
		r->w1[i][1] -= lr * gw1[i][1];
		r->b1[i] -= lr * gb1[i];
		r->w2[i] -= lr * gw2[i];
	}
	r->b2 -= lr * gb2;
	return loss;
}

/* The points of GET .../loss (series "train" or "validation"), at most
 * cap, into step and loss; returns how many. */
static size_t
history(const char *id, const char *series, json_int_t *step, double *loss,
	size_t cap)
{
	char path[128];
	json_t *doc, *pts;
	size_t n;

	snprintf(path, sizeof path, "/loss?series=%s&limit=1000", series);
	doc = tl_jget(tl_mpath(id, path));
	pts = json_object_get(doc, "points");
	n = json_array_size(pts);
	ck_assert_uint_le(n, cap);
	for (size_t i = 0; i < n; i++) {
		step[i] = tl_jint(json_array_get(pts, i), "step");
		loss[i] = tl_jnum(json_array_get(pts, i), "loss");
	}
	json_decref(doc);
	return n;
}

/* ------------------------------------------------------------------ */

START_TEST(test_rate_formulas)
{
	schedule s;

	memset(&s, 0, sizeof s);
	ck_assert(schedule_rate(&s, 0.5, 10, 1) == 0.5);
	ck_assert(schedule_rate(&s, 0.5, 10, 10) == 0.5);
	s.kind = SCHEDULE_STEP;
	s.every = 3;
	s.factor = 0.5;
	/* steps 1-3 at base, 4-6 halved, 7-9 quartered */
	ck_assert(schedule_rate(&s, 0.8, 20, 3) == 0.8);
	ck_assert(schedule_rate(&s, 0.8, 20, 4) == 0.4);
	ck_assert(schedule_rate(&s, 0.8, 20, 7) == 0.2);
	s.warmup_steps = 4;
	/* warm-up 0.2, 0.4, 0.6, 0.8, then the decay counts from step 5 */
	ck_assert(fabs(schedule_rate(&s, 0.8, 20, 1) - 0.2) < 1e-15);
	ck_assert(fabs(schedule_rate(&s, 0.8, 20, 3) - 0.6) < 1e-15);
	ck_assert(schedule_rate(&s, 0.8, 20, 7) == 0.8);
	ck_assert(schedule_rate(&s, 0.8, 20, 8) == 0.4);
	memset(&s, 0, sizeof s);
	s.kind = SCHEDULE_COSINE;
	s.min_lr = 0.1;
	/* half way (j = 5 of 10) is the mean of base and floor */
	ck_assert(schedule_rate(&s, 1.0, 10, 1) == 1.0);
	ck_assert(fabs(schedule_rate(&s, 1.0, 10, 6) - 0.55) < 1e-12);
	ck_assert(schedule_rate(&s, 1.0, 10, 10) > 0.1);
	ck_assert(schedule_rate(&s, 1.0, 10, 10) < 0.2);
	/* past the end: the last step's rate */
	ck_assert(schedule_rate(&s, 1.0, 10, 50) ==
	    schedule_rate(&s, 1.0, 10, 10));
}
END_TEST

START_TEST(test_check)
{
	schedule s;
	char why[128];

	memset(&s, 0, sizeof s);
	ck_assert_int_eq(schedule_check_job(&s, 0.1, 5, why, sizeof why), 0);
	s.kind = SCHEDULE_STEP;
	s.every = 2;
	s.factor = 0;
	ck_assert_int_eq(schedule_check(&s, why, sizeof why), -1);
	s.factor = -0.5;
	ck_assert_int_eq(schedule_check(&s, why, sizeof why), -1);
	s.factor = 1.5;
	ck_assert_int_eq(schedule_check(&s, why, sizeof why), -1);
	s.factor = 0.5;
	s.every = 0;
	ck_assert_int_eq(schedule_check(&s, why, sizeof why), -1);
	s.every = 2;
	ck_assert_int_eq(schedule_check(&s, why, sizeof why), 0);
	s.warmup_steps = 5;
	ck_assert_int_eq(schedule_check_job(&s, 0.1, 5, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "warmup_steps") != NULL, "%s", why);
	ck_assert_int_eq(schedule_check_job(&s, 0.1, 6, why, sizeof why), 0);
	memset(&s, 0, sizeof s);
	s.kind = SCHEDULE_COSINE;
	s.min_lr = 0.2;
	ck_assert_int_eq(schedule_check_job(&s, 0.1, 6, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "min_lr") != NULL, "%s", why);
	s.min_lr = NAN;
	ck_assert_int_eq(schedule_check(&s, why, sizeof why), -1);
	s.min_lr = 0;
	s.kind = (schedule_kind)7;
	ck_assert_int_eq(schedule_check(&s, why, sizeof why), -1);
}
END_TEST

START_TEST(test_tracker)
{
	/* patience 2, min_delta 0.1: 1.0 best; 0.95 is a new best but not
	 * better by 0.1 (the count goes on); 0.85 is (it restarts); then
	 * two without improvement stop it */
	static const double v[] = { 1.0, 0.95, 0.85, 0.9, NAN, 0.1 };
	static const schedule_verdict want[] = { SCHEDULE_BETTER,
		SCHEDULE_BETTER, SCHEDULE_BETTER, SCHEDULE_WORSE,
		SCHEDULE_STOP };
	schedule_stop_opts o = { 2, 0.1 };
	schedule_stop st;

	schedule_stop_init(&st);
	for (size_t i = 0; i < 5; i++)
		ck_assert_int_eq(schedule_stop_update(&st, &o, (int64_t)i + 1,
		    v[i]), want[i]);
	ck_assert_int_eq(st.best_step, 3);
	ck_assert(st.best == 0.85);
	ck_assert_int_eq(st.waited, 2);
	/* 0.96 after 1.0 does not restart the count: patience 2 stops at
	 * the second value even though it is a new best */
	schedule_stop_init(&st);
	ck_assert_int_eq(schedule_stop_update(&st, &o, 1, 1.0),
	    SCHEDULE_BETTER);
	ck_assert_int_eq(schedule_stop_update(&st, &o, 2, 1.5),
	    SCHEDULE_WORSE);
	ck_assert_int_eq(schedule_stop_update(&st, &o, 3, 0.96),
	    SCHEDULE_STOP);
	ck_assert_int_eq(st.best_step, 3);
	/* a non-finite first value is no best */
	schedule_stop_init(&st);
	ck_assert_int_eq(schedule_stop_update(&st, &o, 1, INFINITY),
	    SCHEDULE_WORSE);
	ck_assert_int_eq(st.best_step, 0);
	ck_assert_int_eq(schedule_stop_update(&st, &o, 2, 3.0),
	    SCHEDULE_BETTER);
}
END_TEST

/* ------------------------------------------------------------------ */

#define BASE 2.0
#define T 9

/* A job of T full-batch steps on XOR under schedule (JSON) matches the
 * seed's T updates at rates rate[0..T): every step's loss and the final
 * weights; the job shows the last rate. */
static void
check_schedule(const char *sched_json, const double rate[T])
{
	char id[32], body[512], job[32];
	ref_net r, got;
	json_int_t step[T + 1];
	double loss[T + 1];
	json_t *j;
	size_t n;

	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 7, "
	    "\"learning_rate\": 0.01}", id);
	tl_push(id, "{\"inputs\": " XOR_IN ", \"targets\": [[0],[1],[1],[0]]}");
	ref_load(id, &r);
	snprintf(body, sizeof body, "{\"steps\": %d, \"batch_size\": 4, "
	    "\"shuffle\": false, \"learning_rate\": %g, \"schedule\": %s}", T,
	    BASE, sched_json);
	j = tl_jexpect("POST", tl_mpath(id, "/train"), body, 202);
	snprintf(job, sizeof job, "%s", tl_jstr(j, "id"));
	json_decref(j);
	tl_wait_job_succeeded(job, 30);
	tl_wait_model_idle(id, 5);
	n = history(id, "train", step, loss, T + 1);
	ck_assert_uint_eq(n, T);
	for (size_t k = 0; k < T; k++) {
		double want = ref_step(&r, yxor, rate[k]);

		ck_assert_int_eq(step[k], (json_int_t)k + 1);
		/* the loss of step k + 1 is measured on the weights that
		 * step k's rate made */
		ck_assert_msg(fabs(loss[k] - want) < 2e-6, "%s: step %zu loss "
		    "%.9g, the seed's %.9g", sched_json, k + 1, loss[k], want);
	}
	ref_load(id, &got);
	for (size_t i = 0; i < r.h; i++) {
		ck_assert_msg(fabs(got.w1[i][0] - r.w1[i][0]) < 1e-5 &&
		    fabs(got.w1[i][1] - r.w1[i][1]) < 1e-5 &&
		    fabs(got.b1[i] - r.b1[i]) < 1e-5 &&
		    fabs(got.w2[i] - r.w2[i]) < 1e-5, "%s: unit %zu",
		    sched_json, i);
	}
	ck_assert(fabs(got.b2 - r.b2) < 1e-5);
	j = tl_jget(tl_jpath(job));
	ck_assert_msg(fabs(tl_jnum(j, "learning_rate") - rate[T - 1]) <
	    1e-6 * rate[T - 1], "%s: job shows rate %g, last step's %g",
	    sched_json, tl_jnum(j, "learning_rate"), rate[T - 1]);
	json_decref(j);
}

START_TEST(test_job_constant)
{
	double rate[T];

	for (size_t k = 0; k < T; k++)
		rate[k] = BASE;
	check_schedule("{\"type\": \"constant\"}", rate);
}
END_TEST

START_TEST(test_job_step)
{
	/* every 2 steps times 0.5: 2 2 1 1 .5 .5 .25 .25 .125 */
	static const double rate[T] = { 2, 2, 1, 1, 0.5, 0.5, 0.25, 0.25,
		0.125 };

	check_schedule("{\"type\": \"step\", \"every\": 2, \"factor\": 0.5}",
	    rate);
}
END_TEST

START_TEST(test_job_cosine_warmup)
{
	/* 3 warm-up steps (2/3, 4/3, 2), then 6 steps of a cosine from 2 to
	 * 0.2: 0.2 + 1.8 (1 + cos(pi j / 6)) / 2, j = 0..5 */
	double rate[T];

	for (int k = 1; k <= T; k++)
		rate[k - 1] = k <= 3 ? BASE * k / 3.0 : 0.2 + (BASE - 0.2) *
		    (1 + cos(acos(-1.0) * (k - 4) / 6.0)) / 2;
	check_schedule("{\"type\": \"cosine\", \"min_lr\": 0.2, "
	    "\"warmup_steps\": 3}", rate);
}
END_TEST

START_TEST(test_job_step_warmup)
{
	/* warm-up of 4 (0.5 1 1.5 2), then every 3 times 0.1 counted from
	 * step 5: steps 5-7 at 2, 8-10 at 0.2 */
	static const double rate[T] = { 0.5, 1, 1.5, 2, 2, 2, 2, 0.2, 0.2 };

	check_schedule("{\"type\": \"step\", \"every\": 3, \"factor\": 0.1, "
	    "\"warmup_steps\": 4}", rate);
}
END_TEST

/* ------------------------------------------------------------------ */

/* Validation targets between the training targets and 0.5: the outputs
 * approach them first, then pass them on the way to the training
 * targets, so the validation loss falls, then rises (over-fitting). */
#define VAL_BODY "\"validation\": {\"inputs\": " XOR_IN ", " \
	"\"targets\": [[0.35],[0.65],[0.65],[0.35]]}"
#define VAL_Y { 0.35, 0.65, 0.65, 0.35 }
#define MAXPTS 400

/* Trains a fresh model (same seed every time) on XOR with the
 * validation set and extra options; returns the finished job. */
static json_t *
overfit_job(const char *extra, char id[32])
{
	char body[1024], job[32];
	json_t *j;

	tl_new_model("{\"layers\": [2, 4, 1], \"seed\": 21, "
	    "\"learning_rate\": 3}", id);
	tl_push(id, "{\"inputs\": " XOR_IN ", \"targets\": [[0],[1],[1],[0]]}");
	snprintf(body, sizeof body, "{\"steps\": 300, \"batch_size\": 4, "
	    "\"shuffle\": false, " VAL_BODY "%s}", extra);
	j = tl_jexpect("POST", tl_mpath(id, "/train"), body, 202);
	snprintf(job, sizeof job, "%s", tl_jstr(j, "id"));
	json_decref(j);
	tl_wait_job_succeeded(job, 60);
	tl_wait_model_idle(id, 5);
	return tl_jget(tl_jpath(job));
}

START_TEST(test_early_stopping_validation)
{
	static const double vy[NROWS] = VAL_Y;
	char ref[32], id[32], want_reason[128];
	json_int_t step[MAXPTS];
	double loss[MAXPTS], best = INFINITY, mark = INFINITY;
	json_int_t best_step = 0, stop_step = 0, since = 0;
	const int patience = 5;
	const double min_delta = 1e-4;
	size_t n;
	json_t *j;
	ref_net r;

	/* the run without early stopping: one validation point per step
	 * (an epoch is one step) */
	j = overfit_job("", ref);
	json_decref(j);
	n = history(ref, "validation", step, loss, MAXPTS);
	ck_assert_uint_eq(n, 300);
	/* where early stopping must fire, computed from that series */
	for (size_t i = 0; i < n && stop_step == 0; i++) {
		/* the best is the lowest; patience counts from the last
		 * improvement by more than min_delta */
		if (loss[i] < best) {
			best = loss[i];
			best_step = step[i];
		}
		if (loss[i] < mark - min_delta) {
			mark = loss[i];
			since = 0;
		} else if (++since >= patience) {
			stop_step = step[i];
		}
	}
	ck_assert_msg(stop_step > best_step && best_step > 1 &&
	    stop_step < 300, "the case does not over-fit: best %lld, "
	    "stop %lld", (long long)best_step, (long long)stop_step);
	j = overfit_job(", \"early_stopping\": {\"patience\": 5, "
	    "\"min_delta\": 0.0001}, \"restore_best\": true", id);
	ck_assert_str_eq(tl_jstr(j, "status"), "succeeded");
	ck_assert_int_eq(tl_jint(j, "steps_done"), stop_step);
	ck_assert_int_eq(tl_jint(j, "steps_total"), 300);
	ck_assert_int_eq(tl_jint(j, "best_step"), best_step);
	ck_assert(fabs(tl_jnum(j, "best_value") - best) < 1e-7);
	snprintf(want_reason, sizeof want_reason, "stopped early at step "
	    "%lld: no improvement since the best step %lld",
	    (long long)stop_step, (long long)best_step);
	ck_assert_msg(strncmp(tl_jstr(j, "reason"), want_reason,
	    strlen(want_reason)) == 0, "reason: %s", tl_jstr(j, "reason"));
	json_decref(j);
	/* the best kept has the lowest validation loss of the run */
	n = history(id, "validation", step, loss, MAXPTS);
	ck_assert_uint_eq(n, (size_t)stop_step);
	for (size_t i = 0; i < n; i++)
		ck_assert(loss[i] >= best - 1e-9);
	/* and the model holds it: its weights give that loss (its step
	 * stays where the job stopped) */
	ref_load(id, &r);
	ck_assert_msg(fabs(ref_loss(&r, vy) - best) < 1e-6, "restored "
	    "weights give %.9g, best %.9g", ref_loss(&r, vy), best);
	j = tl_jget(tl_mpath(id, ""));
	ck_assert_int_eq(tl_jint(j, "step"), stop_step);
	json_decref(j);
}
END_TEST

/* save_best: the weights of the best evaluation become version "best" at
 * the best step (the model itself keeps its last weights), and the job
 * names the version; a full --max-versions leaves the job's end alone. */
START_TEST(test_save_best)
{
	static const double vy[NROWS] = VAL_Y;
	char id[32], path[96];
	json_int_t best_step, ver;
	double best;
	json_t *j, *v;
	ref_net r;

	j = overfit_job(", \"early_stopping\": {\"patience\": 5, "
	    "\"min_delta\": 0.0001}, \"save_best\": true", id);
	ck_assert_str_eq(tl_jstr(j, "status"), "succeeded");
	best_step = tl_jint(j, "best_step");
	best = tl_jnum(j, "best_value");
	ver = tl_jint(j, "best_version");
	ck_assert_int_ge(ver, 1);
	ck_assert_int_lt(best_step, tl_jint(j, "steps_done"));
	json_decref(j);
	snprintf(path, sizeof path, "/versions/%lld", (long long)ver);
	v = tl_jget(tl_mpath(id, path));
	ck_assert_int_eq(tl_jint(v, "step"), best_step);
	ck_assert_str_eq(tl_jstr(v, "name"), "best");
	ck_assert(fabs(json_number_value(json_object_get(json_object_get(v,
	    "validation"), "loss")) - best) < 1e-7);
	json_decref(v);
	snprintf(path, sizeof path, "/versions/%lld/weights", (long long)ver);
	ref_load_path(tl_mpath(id, path), &r);
	ck_assert_msg(fabs(ref_loss(&r, vy) - best) < 1e-6, "the version "
	    "gives %.9g, best %.9g", ref_loss(&r, vy), best);
	/* without restore_best the model keeps the weights it stopped at */
	j = tl_jget(tl_mpath(id, ""));
	ck_assert_int_gt(tl_jint(j, "step"), best_step);
	json_decref(j);
}
END_TEST

START_TEST(test_save_best_capped)
{
	char id[32];
	json_t *j;

	tl_config()->lim.max_versions = 1;
	tl_start();
	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 3}", id);
	tl_push(id, "{\"inputs\": " XOR_IN ", \"targets\": [[0],[1],[1],[0]]}");
	j = tl_jexpect("POST", tl_mpath(id, "/versions"), "{}", 201);
	json_decref(j);
	tl_train(id, "{\"steps\": 20, \"batch_size\": 4, \"eval_every\": 5, "
	    "\"save_best\": true}");
	j = tl_jget(tl_mpath(id, "/jobs"));
	ck_assert_str_eq(tl_jstr(json_array_get(json_object_get(j, "jobs"), 0),
	    "status"), "succeeded");
	ck_assert(json_is_null(json_object_get(json_array_get(json_object_get(j,
	    "jobs"), 0), "best_version")));
	json_decref(j);
	j = tl_jget(tl_mpath(id, "/versions"));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "versions")), 1);
	json_decref(j);
	tl_stop();
}
END_TEST

START_TEST(test_early_stopping_train_loss)
{
	char id[32];
	json_t *doc, *j;
	json_int_t step[32], best_step = 0;
	double loss[32], best = INFINITY;

	/* without validation data the mean training loss over each period
	 * of eval_every steps is watched; an enormous min_delta never sees
	 * an improvement after the first, so it stops at 1 + patience
	 * periods */
	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 3}", id);
	tl_push(id, "{\"inputs\": " XOR_IN ", \"targets\": [[0],[1],[1],[0]]}");
	tl_train(id, "{\"steps\": 100, \"batch_size\": 4, \"eval_every\": 5, "
	    "\"early_stopping\": {\"patience\": 3, \"min_delta\": 10}}");
	doc = tl_jget(tl_mpath(id, "/jobs"));
	j = json_array_get(json_object_get(doc, "jobs"), 0);
	ck_assert_int_eq(tl_jint(j, "steps_done"), 20);
	/* the best is the period of the lowest mean loss */
	ck_assert_uint_eq(history(id, "train", step, loss, 32), 20);
	for (size_t p = 0; p < 4; p++) {
		double mean = 0;

		for (size_t k = 0; k < 5; k++)
			mean += loss[5 * p + k] / 5;
		if (mean < best) {
			best = mean;
			best_step = step[5 * p + 4];
		}
	}
	ck_assert_int_eq(tl_jint(j, "best_step"), best_step);
	ck_assert_msg(fabs(tl_jnum(j, "best_value") - best) < 1e-6,
	    "best_value %.9g, the periods' lowest mean %.9g",
	    tl_jnum(j, "best_value"), best);
	ck_assert_str_eq(tl_jstr(j, "status"), "succeeded");
	ck_assert_ptr_nonnull(strstr(tl_jstr(j, "reason"), "step 20"));
	json_decref(doc);
}
END_TEST

/* The job's control fields are stored with it: after a restart the job
 * (now history) shows the same rate, best and reason. */
START_TEST(test_control_survives_restart)
{
	static const char *const keys[] = { "learning_rate", "best_step",
		"best_value", "reason", "status", "steps_done" };
	char id[32], job[32];
	json_t *before, *after, *j;

	tl_config();
	tl_file_db();
	tl_start();
	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 3}", id);
	tl_push(id, "{\"inputs\": " XOR_IN ", \"targets\": [[0],[1],[1],[0]]}");
	j = tl_jexpect("POST", tl_mpath(id, "/train"), "{\"steps\": 100, "
	    "\"batch_size\": 4, \"eval_every\": 5, \"learning_rate\": 0.8, "
	    "\"schedule\": {\"type\": \"step\", \"every\": 4, "
	    "\"factor\": 0.5}, \"early_stopping\": {\"patience\": 3, "
	    "\"min_delta\": 10}}", 202);
	snprintf(job, sizeof job, "%s", tl_jstr(j, "id"));
	json_decref(j);
	tl_wait_job_succeeded(job, 30);
	before = tl_jget(tl_jpath(job));
	/* step 20 ran at 0.8 * 0.5^floor(19 / 4) */
	ck_assert(tl_jnum(before, "learning_rate") == 0.05);
	ck_assert_int_eq(tl_jint(before, "steps_done"), 20);
	tl_stop();
	tl_start();
	after = tl_jget(tl_jpath(job));
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		ck_assert_msg(json_equal(json_object_get(before, keys[i]),
		    json_object_get(after, keys[i])), "%s differs after the "
		    "restart", keys[i]);
	ck_assert_ptr_nonnull(strstr(tl_jstr(after, "reason"), "step 20"));
	json_decref(before);
	json_decref(after);
	tl_stop();
}
END_TEST

/* The rate of step k of the resume test's schedule: 0.8, halved every
 * 100000 steps. */
static double
resume_rate(json_int_t k)
{
	return 0.8 * pow(0.5, (double)((k - 1) / 100000));
}

#define RESUME_OPTS "\"steps\": 300000, \"batch_size\": 4, " \
	"\"shuffle\": false, \"learning_rate\": 0.8, \"schedule\": " \
	"{\"type\": \"step\", \"every\": 100000, \"factor\": 0.5}"

/* A job interrupted by a shutdown, resumed after the restart, continues
 * its schedule from its checkpoint: its first rate is the one of the step
 * after the checkpoint, and it runs only the steps left. */
START_TEST(test_resume_continues_schedule)
{
	char id[32], job[32], job2[32], body[512];
	json_int_t ckpt;
	json_t *j;

	tl_config();
	tl_file_db();
	tl_start();
	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 3}", id);
	tl_push(id, "{\"inputs\": " XOR_IN ", \"targets\": [[0],[1],[1],[0]]}");
	tl_start_job(id, "{" RESUME_OPTS "}", job);
	/* past the first decay; the model is at the job's checkpoint */
	ckpt = tl_interrupt_job(id, job, 120000);
	ck_assert_int_ge(ckpt, 120000);
	ck_assert_int_lt(ckpt, 300000);
	snprintf(body, sizeof body, "{" RESUME_OPTS ", \"resume\": \"%s\"}",
	    job);
	j = tl_jexpect("POST", tl_mpath(id, "/train"), body, 202);
	snprintf(job2, sizeof job2, "%s", tl_jstr(j, "id"));
	ck_assert_int_eq(tl_jint(j, "steps_total"), 300000);
	ck_assert_int_eq(tl_jint(j, "steps_done"), ckpt);
	/* not 0.8, the first step's: the step after the checkpoint's */
	ck_assert_msg(tl_jnum(j, "learning_rate") == resume_rate(ckpt + 1),
	    "resumed at %g, step %lld runs at %g", tl_jnum(j, "learning_rate"),
	    (long long)ckpt + 1, resume_rate(ckpt + 1));
	json_decref(j);
	tl_wait_job_succeeded(job2, 90);
	tl_wait_model_idle(id, 5);
	j = tl_jget(tl_jpath(job2));
	ck_assert_int_eq(tl_jint(j, "steps_done"), 300000);
	ck_assert(tl_jnum(j, "learning_rate") == resume_rate(300000));
	json_decref(j);
	/* the job ran the steps left, not all of them again */
	j = tl_jget(tl_mpath(id, ""));
	ck_assert_int_eq(tl_jint(j, "step"), 300000);
	json_decref(j);
	/* refusals: a job that ended otherwise, an unknown one, a job of
	 * another model; and the same job again fails: the model moved */
	snprintf(body, sizeof body, "{\"resume\": \"%s\"}", job2);
	json_decref(tl_jexpect("POST", tl_mpath(id, "/train"), body, 422));
	json_decref(tl_jexpect("POST", tl_mpath(id, "/train"),
	    "{\"resume\": \"" NO_JOB "\"}", 404));
	snprintf(body, sizeof body, "{\"resume\": \"%s\"}", job);
	j = tl_jexpect("POST", tl_mpath(id, "/train"), body, 202);
	snprintf(job2, sizeof job2, "%s", tl_jstr(j, "id"));
	json_decref(j);
	j = tl_wait_job(job2, "failed", "succeeded", 30);
	ck_assert_str_eq(tl_jstr(j, "status"), "failed");
	ck_assert_ptr_nonnull(strstr(tl_jstr(j, "error"), "changed since"));
	json_decref(j);
	tl_stop();
}
END_TEST

static Suite *
sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("sched");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_rate_formulas);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_tracker);
	suite_add_tcase(s, tc);
	tc = tcase_create("jobs");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, tl_setup, tl_stop);
	tcase_add_test(tc, test_job_constant);
	tcase_add_test(tc, test_job_step);
	tcase_add_test(tc, test_job_cosine_warmup);
	tcase_add_test(tc, test_job_step_warmup);
	tcase_add_test(tc, test_early_stopping_validation);
	tcase_add_test(tc, test_early_stopping_train_loss);
	tcase_add_test(tc, test_save_best);
	suite_add_tcase(s, tc);
	tc = tcase_create("restart");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_control_survives_restart);
	tcase_add_test(tc, test_resume_continues_schedule);
	tcase_add_test(tc, test_save_best_capped);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_main(sched_suite(), LOG_ERROR);
}
