/*
 * check_lrtrace: Check tests of the learning rate the loss history shows
 * (issue 13): api/lr_trace.c's attribution of steps to jobs by step and
 * time, and GET /v1/models/{id}/loss's "lr" (JSON) and last CSV column
 * after a warm-up + cosine job, its resumption after a restart, a restore
 * to a version, a later constant job and synchronous steps.
 *
 * The rates are the README's formulas, written again here in double and
 * rounded to a float as the trainer applies them; not core/schedule.c's
 * code.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lr_trace.h"
#include "testlib.h"

#define XOR_IN "[[0,0],[0,1],[1,0],[1,1]]"
#define PI 3.14159265358979323846
#define XOR_BODY "{\"inputs\": " XOR_IN ", \"targets\": [[0],[1],[1],[0]]}"

/* The README's rate of job step k (1-based) of T at base b (which the
 * trainer holds as a float): a linear warm-up over W steps, then a cosine
 * from b down to floor R; as the float the trainer applies. */
static float
cosine_rate(double b, double R, long long W, long long T, long long k)
{
	double j = (double)(k - 1 - W);

	b = (double)(float)b;
	if (k <= W)
		return (float)(b * (double)k / (double)W);
	return (float)(R + (b - R) * (1.0 + cos(PI * j / (double)(T - W))) /
	    2.0);
}

/* The trace's rate as the float it stands for. */
static float
traced(const lr_trace *t, uint64_t step, int64_t ms)
{
	return (float)lr_trace_rate(t, step, ms);
}

/* The pure part: the newest job that covered a step, and ran at the
 * point's time, gives its rate; else the model's. */
START_TEST(test_trace_attribution)
{
	lr_trace *t = lr_trace_create(0.1f);
	lr_trace_job a, a2, b;
	fault f;

	ck_assert_ptr_nonnull(t);
	/* A: steps 1..650 of 1000 (checkpoint 600), interrupted */
	memset(&a, 0, sizeof a);
	a.done = 650;
	a.total = 1000;
	a.base = 0.5;
	a.sched.kind = SCHEDULE_COSINE;
	a.sched.min_lr = 0.01;
	a.sched.warmup_steps = 100;
	a.started_ms = 100;
	a.finished_ms = 200;
	/* A2 resumes A at its checkpoint, at another base rate */
	a2 = a;
	a2.first = 600;
	a2.done = 1000;
	a2.base = (float)0.4;
	a2.started_ms = 300;
	a2.finished_ms = 400;
	/* restored to step 500 at 450; B: 200 steps at a constant 0.3 */
	memset(&b, 0, sizeof b);
	b.start_step = 500;
	b.done = 200;
	b.total = 200;
	b.base = (float)0.3;
	b.started_ms = 500;
	b.finished_ms = 600;
	ck_assert_int_eq(lr_trace_add(t, &a, &f), 0);
	ck_assert_int_eq(lr_trace_add(t, &a2, &f), 0);
	ck_assert_int_eq(lr_trace_add(t, &b, &f), 0);

	/* warm-up, cosine, the step at the checkpoint, A2 after it */
	ck_assert(traced(t, 50, 150) == cosine_rate(0.5, 0.01, 100, 1000, 50));
	ck_assert(traced(t, 100, 150) == 0.5f);
	ck_assert(traced(t, 101, 150) == 0.5f);
	ck_assert(traced(t, 450, 190) == cosine_rate(0.5, 0.01, 100, 1000,
	    450));
	ck_assert(traced(t, 600, 200) == cosine_rate(0.5, 0.01, 100, 1000,
	    600));
	ck_assert(traced(t, 601, 350) == cosine_rate(0.4, 0.01, 100, 1000,
	    601));
	ck_assert(traced(t, 1000, 400) == cosine_rate(0.4, 0.01, 100, 1000,
	    1000));
	/* a step A trained past its checkpoint, before the restart: A's */
	ck_assert(traced(t, 640, 199) == cosine_rate(0.5, 0.01, 100, 1000,
	    640));
	/* after the restore B trains 501..700 again */
	ck_assert(traced(t, 501, 500) == 0.3f);
	ck_assert(traced(t, 700, 600) == 0.3f);
	ck_assert(traced(t, 500, 190) == cosine_rate(0.5, 0.01, 100, 1000,
	    500));
	/* /step calls: past every job, and over B's steps after B ended */
	ck_assert(traced(t, 701, 700) == 0.1f);
	ck_assert(traced(t, 501, 800) == 0.1f);
	/* the shortest decimal of the float, not its binary expansion */
	ck_assert(lr_trace_rate(t, 501, 500) == 0.3);
	ck_assert(lr_trace_rate(t, 501, 800) == 0.1);
	lr_trace_destroy(t);
	lr_trace_destroy(NULL);
}
END_TEST

/* A running job (not finished) takes the points made since it began; a
 * step schedule and a zero rate (the smallest float) as the trainer. */
START_TEST(test_trace_running_step)
{
	lr_trace *t = lr_trace_create(0.25f);
	lr_trace_job a;
	fault f;

	memset(&a, 0, sizeof a);
	a.start_step = 10;
	a.done = 40;
	a.total = 100;
	a.base = (float)0.8;
	a.sched.kind = SCHEDULE_STEP;
	a.sched.every = 10;
	a.sched.factor = 0.5;
	a.started_ms = 1000;
	ck_assert_int_eq(lr_trace_add(t, &a, &f), 0);
	ck_assert(traced(t, 10, 900) == 0.25f);
	ck_assert(traced(t, 11, 1000) == 0.8f);
	ck_assert(traced(t, 20, 5000) == 0.8f);
	ck_assert(traced(t, 21, 5000) == 0.4f);
	ck_assert(traced(t, 50, 99999) == 0.1f);
	/* not yet trained by it */
	ck_assert(traced(t, 51, 99999) == 0.25f);
	a.start_step = 50;
	a.sched.factor = 1e-30;
	a.sched.kind = SCHEDULE_STEP;
	ck_assert_int_eq(lr_trace_add(t, &a, &f), 0);
	ck_assert(traced(t, 51, 2000) == 0.8f);
	ck_assert(traced(t, 61, 2000) == (float)(0.8f * 1e-30));
	ck_assert((float)lr_trace_rate(t, 90, 2000) == 0x1p-149f);
	lr_trace_destroy(t);
}
END_TEST

/* ---- through the API ---- */

/* Job A's and A2's schedule: 0.8 (A) or 0.6 (A2) with a warm-up of 1000
 * steps, then a cosine down to 0.05, over A's steps_total. */
#define A_TOTAL 300000
#define A_OPTS "\"steps\": 300000, \"batch_size\": 4, \"shuffle\": false, " \
	"\"schedule\": {\"type\": \"cosine\", \"min_lr\": 0.05, " \
	"\"warmup_steps\": 1000}"

/* What the test expects of the history: the rate of each model step. */
typedef struct expect {
	long long ckpt;   /* A's checkpoint, where A2 took over */
	long long top;    /* the last step of A2 (0: before the restore) */
	long long b_end;  /* the last step of B (0: none yet) */
	long long sync_end; /* the last /step's step (0: none) */
} expect;

static float
expected_rate(const expect *e, long long k)
{
	if (k <= e->ckpt)
		return cosine_rate(0.8, 0.05, 1000, A_TOTAL, k);
	if (e->b_end == 0)
		return cosine_rate(0.6, 0.05, 1000, A_TOTAL, k);
	if (k <= e->b_end)
		return 0.3f;
	return 0.25f; /* the model's, of the /step calls */
}

/* Every point of the history (paged) has the rate e expects at its step;
 * returns the number of points (the last step). */
static long long
check_history(const char *id, const expect *e)
{
	char path[128];
	long long since = 0, seen = 0;

	for (;;) {
		json_t *doc, *pts;
		size_t n;

		snprintf(path, sizeof path, "/loss?since=%lld&limit=10000",
		    since);
		doc = tl_jget(tl_mpath(id, path));
		pts = json_object_get(doc, "points");
		n = json_array_size(pts);
		for (size_t i = 0; i < n; i++) {
			json_t *p = json_array_get(pts, i);
			long long k = tl_jint(p, "step");
			float want = expected_rate(e, k);

			ck_assert_msg((float)tl_jnum(p, "lr") == want,
			    "step %lld: lr %.9g, want %.9g", k,
			    tl_jnum(p, "lr"), (double)want);
			ck_assert_int_eq(k, seen + 1);
			seen = k;
		}
		since = tl_jint(doc, "next_since");
		json_decref(doc);
		if (n == 0)
			break;
	}
	/* the exact buckets of a range show the rate of their last step */
	{
		json_t *doc = tl_jget(tl_mpath(id, "/loss?max_points=37"));
		json_t *pts = json_object_get(doc, "points");

		ck_assert_int_gt(json_array_size(pts), 1);
		for (size_t i = 0; i < json_array_size(pts); i++) {
			json_t *p = json_array_get(pts, i);

			ck_assert((float)tl_jnum(p, "lr") ==
			    expected_rate(e, tl_jint(p, "step")));
		}
		json_decref(doc);
	}
	return seen;
}

/* GET path's ETag into out. */
static void
etag_of(const char *path, char *out, size_t cap)
{
	ck_assert_int_eq(tl_req("GET", path, NULL, NULL, NULL), 200);
	snprintf(out, cap, "%s", tl_header("ETag"));
	ck_assert(out[0] != '\0');
}

/* GET path with If-None-Match etag: the status. */
static long
get_if(const char *path, const char *etag)
{
	char hdr[160];

	snprintf(hdr, sizeof hdr, "If-None-Match: %s", etag);
	return tl_req_h("GET", path, NULL, NULL, hdr, NULL);
}

/* POST .../step n times: the model's own rate. */
static void
sync_steps(const char *id, int n)
{
	for (int i = 0; i < n; i++)
		json_decref(tl_jexpect("POST", tl_mpath(id, "/step"),
		    "{\"inputs\": [[0,1]], \"targets\": [[1]]}", 200));
}

/* A warm-up + cosine job interrupted by a shutdown, resumed at another
 * base rate, restored to a version at its checkpoint, then a constant
 * job and /step calls, and a restore under them: each step shows the
 * rate it ran at, and the ETag moves with the history. */
START_TEST(test_history_lr)
{
	char id[32], job[32], job2[32], body[512], tag[128], tag2[128];
	const char *csv_path;
	expect e = { 0, 0, 0, 0 };
	char *text, *line, *last;

	tl_config();
	tl_file_db();
	tl_start();
	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 3, "
	    "\"learning_rate\": 0.25}", id);
	tl_push(id, XOR_BODY);
	tl_start_job(id, "{" A_OPTS ", \"learning_rate\": 0.8}", job);
	e.ckpt = tl_interrupt_job(id, job, 3000);
	ck_assert_int_ge(e.ckpt, 3000);
	ck_assert_int_lt(e.ckpt, A_TOTAL);
	/* the history so far: A's rates, warm-up included */
	ck_assert_int_eq(check_history(id, &e), e.ckpt);
	/* version 1 at the checkpoint, then A2 */
	json_decref(tl_jexpect("POST", tl_mpath(id, "/versions"), NULL, 201));
	snprintf(body, sizeof body, "{" A_OPTS ", \"learning_rate\": 0.6, "
	    "\"resume\": \"%s\"}", job);
	tl_start_job(id, body, job2);
	tl_wait_job_succeeded(job2, 120);
	tl_wait_model_idle(id, 5);
	ck_assert_int_eq(check_history(id, &e), A_TOTAL);
	csv_path = tl_mpath(id, "/loss?since=0&limit=5&format=csv");
	etag_of(csv_path, tag, sizeof tag);
	ck_assert_int_eq(get_if(csv_path, tag), 304);

	/* back to the checkpoint; B: 500 steps at 0.3; two /steps */
	json_decref(tl_jexpect("POST", tl_mpath(id, "/restore"),
	    "{\"version\": 1}", 200));
	tl_start_job(id, "{\"steps\": 500, \"batch_size\": 4, "
	    "\"learning_rate\": 0.3}", job2);
	tl_wait_job_succeeded(job2, 60);
	tl_wait_model_idle(id, 5);
	usleep(20000); /* the /steps' times come after B's end */
	sync_steps(id, 2);
	e.b_end = e.ckpt + 500;
	e.sync_end = e.b_end + 2;
	ck_assert_int_eq(check_history(id, &e), e.sync_end);

	/* the CSV: lr is the last name of its header and the last column
	 * (of step 3 here) */
	text = tl_tget(tl_mpath(id, "/loss?since=0&limit=3&format=csv"));
	line = strchr(text, '\n');
	ck_assert_ptr_nonnull(line);
	*line = '\0';
	ck_assert_str_eq(text, "step,loss,time,lr");
	last = strrchr(line + 1, ',');
	ck_assert_ptr_nonnull(last);
	ck_assert(strtof(last + 1, NULL) == cosine_rate(0.8, 0.05, 1000,
	    A_TOTAL, 3));
	free(text);
	snprintf(body, sizeof body, "/loss?since=%lld&limit=1&format=csv",
	    e.b_end);
	text = tl_tget(tl_mpath(id, body));
	ck_assert_ptr_nonnull(strstr(text, ",0.25\n"));
	free(text);

	/* restored again, a /step over steps B trained: the model's rate */
	etag_of(tl_mpath(id, "/loss?since=0&limit=10000"), tag, sizeof tag);
	json_decref(tl_jexpect("POST", tl_mpath(id, "/restore"),
	    "{\"version\": 1}", 200));
	usleep(20000);
	sync_steps(id, 1);
	e.b_end = e.ckpt;
	e.sync_end = e.ckpt + 1;
	ck_assert_int_eq(check_history(id, &e), e.ckpt + 1);
	ck_assert_int_eq(get_if(tl_mpath(id, "/loss?since=0&limit=10000"),
	    tag), 200);
	etag_of(tl_mpath(id, "/loss?since=0&limit=10000"), tag2, sizeof tag2);
	ck_assert_str_ne(tag, tag2);
	ck_assert_int_eq(get_if(tl_mpath(id, "/loss?since=0&limit=10000"),
	    tag2), 304);
	tl_stop();
}
END_TEST

static Suite *
lrtrace_suite(void)
{
	Suite *s = suite_create("lrtrace");
	TCase *tc = tcase_create("trace");

	tcase_add_test(tc, test_trace_attribution);
	tcase_add_test(tc, test_trace_running_step);
	suite_add_tcase(s, tc);
	tc = tcase_create("history");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_history_lr);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_main(lrtrace_suite(), LOG_WARN);
}
