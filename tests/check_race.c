/*
 * check_race: the daemon's threads against each other, meant to run under
 * ThreadSanitizer (configure --enable-tsan; CI runs it so, with
 * halt_on_error=1), where a data race or a use after free aborts the test.
 * Without TSan it still checks every answer.
 *
 * DESIGN. Each test starts a daemon in-process (tests/testlib.h: a file
 * database in a private directory, several HTTP threads and two
 * trainers, so that a training job and a weight swap really run at once)
 * and drives it with libcurl from several client threads (each with its
 * own handle, through tl_fetch_json(), which asserts nothing):
 *   - swaps: a linear model's weights are replaced over and over (PUT),
 *     alternating between two sets A and B, while four threads predict
 *     and read the weights. With every weight of A equal (and of B), any
 *     mix of the two would give an output that is neither A's nor B's, so
 *     every prediction must be exactly one of the two (and all rows of one
 *     answer the same one), every GET weights all A or all B. Meanwhile
 *     another model trains, so snapshots are published by training too;
 *   - delete while training: a model trains while client threads predict
 *     on it, read its loss history, model and jobs, and push batches; then
 *     it is deleted. Every answer must be a success, 404 (it is gone) or
 *     409 (it is busy), never a 5xx; afterwards it and its job are gone and
 *     the daemon stops cleanly.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#define PREDICTORS 4
#define SWAPS 150 /* weight replacements in the swap test */

/* ---------------------------------------------------------------------
 * Fixture: a daemon on a file database
 * ------------------------------------------------------------------ */

static void
setup(void)
{
	config *c = tl_config();

	tl_file_db();
	c->http_threads = 8;
	c->trainers = 2;
	c->checkpoint_every = 0.05;
	tl_start();
}

/* ---------------------------------------------------------------------
 * Helpers of these tests
 * ------------------------------------------------------------------ */

/* rows rows of w inputs and one target each, as a batch body. */
static char *
batch_body(size_t rows, size_t w, unsigned salt)
{
	size_t cap = rows * (w + 1) * 16 + 64, len = 0;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	len += (size_t)snprintf(s + len, cap - len, "{\"inputs\": [");
	for (size_t i = 0; i < rows; i++) {
		len += (size_t)snprintf(s + len, cap - len, "%s[", i ? "," :
		    "");
		for (size_t j = 0; j < w; j++)
			len += (size_t)snprintf(s + len, cap - len, "%s%.3f",
			    j ? "," : "",
			    (double)((i * 37 + j * 11 + salt) % 101) / 100.0);
		len += (size_t)snprintf(s + len, cap - len, "]");
	}
	len += (size_t)snprintf(s + len, cap - len, "], \"targets\": [");
	for (size_t i = 0; i < rows; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s[%.3f]",
		    i ? "," : "", (double)((i * 53 + salt) % 97) / 96.0);
	snprintf(s + len, cap - len, "]}");
	return s;
}

/* Starts a long train job on model id; waits until it runs; its id into
 * job. */
static void
start_long_job(const char *id, char job[64])
{
	tl_start_job(id, "{\"steps\": 100000000, \"batch_size\": 16}", job);
	for (int i = 0; i < 2000; i++) {
		json_t *j = tl_jget(tl_jpath(job));
		const char *st = tl_jstr(j, "status");
		int running = strcmp(st, "running") == 0;

		ck_assert_msg(running || strcmp(st, "queued") == 0,
		    "job %s is %s", job, st);
		json_decref(j);
		if (running)
			return;
		usleep(10000);
	}
	ck_abort_msg("job %s never ran", job);
}

/* ---------------------------------------------------------------------
 * Weight swaps: every prediction from a whole snapshot
 * ------------------------------------------------------------------ */

/* Layers 32 -> 16 -> 1, linear. Set A: every weight 0.5, biases 0, so an
 * input of ones gives 16 at each hidden unit and 16 * 16 * 0.5 = 128. Set
 * B: weights 0.25, biases 0.5: 8.5 each, then 16 * 8.5 * 0.25 + 0.5 =
 * 34.5. All exact in float; a mix of the two sets gives something else. */
#define N_IN 32
#define N_HID 16
#define OUT_A 128.0
#define OUT_B 34.5

static char *
weights_body(double w, double b)
{
	size_t cap = 16384, len = 0;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	len += (size_t)snprintf(s + len, cap - len,
	    "{\"layers\": [{\"weights\": [");
	for (int i = 0; i < N_HID; i++) {
		len += (size_t)snprintf(s + len, cap - len, "%s[", i ? "," :
		    "");
		for (int j = 0; j < N_IN; j++)
			len += (size_t)snprintf(s + len, cap - len, "%s%g",
			    j ? "," : "", w);
		len += (size_t)snprintf(s + len, cap - len, "]");
	}
	len += (size_t)snprintf(s + len, cap - len, "], \"biases\": [");
	for (int i = 0; i < N_HID; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%g",
		    i ? "," : "", b);
	len += (size_t)snprintf(s + len, cap - len,
	    "]}, {\"weights\": [[");
	for (int j = 0; j < N_HID; j++)
		len += (size_t)snprintf(s + len, cap - len, "%s%g",
		    j ? "," : "", w);
	snprintf(s + len, cap - len, "]], \"biases\": [%g]}]}", b);
	return s;
}

typedef struct swap_ctx {
	char model[64];        /* the swapped model */
	char trained[64];      /* a model training meanwhile */
	atomic_int stop;       /* the swaps are over */
	atomic_long predictions, seen_a, seen_b, weight_reads;
	atomic_long bad;       /* answers that were neither A nor B */
	char first_bad[256];   /* what the first one was */
	pthread_mutex_t mu;    /* guards first_bad */
} swap_ctx;

static void note_bad(swap_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Counts a wrong answer; the first one's description is kept. */
static void
note_bad(swap_ctx *c, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&c->mu);
	if (atomic_fetch_add(&c->bad, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(c->first_bad, sizeof c->first_bad, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&c->mu);
}

/* Checks a GET weights answer: every weight of every layer is A's or
 * every one is B's. */
static void
check_weights(swap_ctx *c, json_t *doc)
{
	json_t *layers = json_object_get(doc, "layers"), *l, *row, *v;
	size_t i, j, k;
	double want = NAN;

	if (json_array_size(layers) != 2) {
		note_bad(c, "weights with %g layers",
		    (double)json_array_size(layers));
		return;
	}
	json_array_foreach(layers, i, l) {
		json_array_foreach(json_object_get(l, "weights"), j, row) {
			json_array_foreach(row, k, v) {
				double x = json_number_value(v);

				if (isnan(want))
					want = x;
				if (x != want || (x != 0.5 && x != 0.25)) {
					note_bad(c, "a torn weight %g", x);
					return;
				}
			}
		}
	}
}

/* A predicting thread: four rows of ones at a time from the swapped
 * model (each answer all A or all B), a weights read every 8th time and a
 * prediction from the training model every 4th. */
static void *
predictor(void *arg)
{
	swap_ctx *c = arg;
	CURL *h = curl_easy_init();
	char path[160], tpath[160], wpath[160], body[1024];
	size_t len = 0;

	if (h == NULL)
		return NULL;
	len += (size_t)snprintf(body + len, sizeof body - len,
	    "{\"inputs\": [");
	for (int r = 0; r < 4; r++) {
		len += (size_t)snprintf(body + len, sizeof body - len, "%s[",
		    r ? "," : "");
		for (int j = 0; j < N_IN; j++)
			len += (size_t)snprintf(body + len, sizeof body - len,
			    "%s1", j ? "," : "");
		len += (size_t)snprintf(body + len, sizeof body - len, "]");
	}
	snprintf(body + len, sizeof body - len, "]}");
	snprintf(path, sizeof path, "/v1/models/%s/predict", c->model);
	snprintf(wpath, sizeof wpath, "/v1/models/%s/weights", c->model);
	snprintf(tpath, sizeof tpath, "/v1/models/%s/predict", c->trained);
	for (long n = 0; !atomic_load(&c->stop); n++) {
		json_t *doc = NULL, *outs, *row;
		size_t i;
		double first = NAN;
		long st = tl_fetch_json(h, "POST", path, body, &doc);

		if (st != 200 || (outs = json_object_get(doc, "outputs")) ==
		    NULL || json_array_size(outs) != 4) {
			note_bad(c, "predict answered HTTP %g", (double)st);
			json_decref(doc);
			break;
		}
		json_array_foreach(outs, i, row) {
			double v = json_number_value(json_array_get(row, 0));

			if (i == 0)
				first = v;
			if (v != first || (v != OUT_A && v != OUT_B))
				note_bad(c, "a prediction of %.9g", v);
		}
		atomic_fetch_add(first == OUT_A ? &c->seen_a : &c->seen_b, 1);
		atomic_fetch_add(&c->predictions, 1);
		json_decref(doc);
		if (n % 8 == 0) {
			doc = NULL;
			if (tl_fetch_json(h, "GET", wpath, NULL, &doc) != 200)
				note_bad(c, "GET weights failed");
			else
				check_weights(c, doc);
			atomic_fetch_add(&c->weight_reads, 1);
			json_decref(doc);
		}
		if (n % 4 == 0) {
			doc = NULL;
			st = tl_fetch_json(h, "POST", tpath,
			    "{\"input\": [0.5, 0.25, 0.125, 1]}", &doc);
			if (st != 200 || !isfinite(json_number_value(
			    json_array_get(json_object_get(doc, "output"), 0))))
				note_bad(c, "predict on the training model: "
				    "HTTP %g", (double)st);
			json_decref(doc);
		}
	}
	curl_easy_cleanup(h);
	return NULL;
}

START_TEST(test_swaps)
{
	pthread_t th[PREDICTORS];
	swap_ctx c;
	char path[160], job[64], spec[160], *wa, *wb, *data;
	json_t *doc;

	memset(&c, 0, sizeof c);
	pthread_mutex_init(&c.mu, NULL);
	snprintf(spec, sizeof spec, "{\"name\": \"swapped\", \"layers\": "
	    "[%d, %d, 1], \"activation\": \"linear\"}", N_IN, N_HID);
	tl_new_model(spec, c.model);
	tl_new_model("{\"name\": \"trained\", \"layers\": [4, 32, 1], "
	    "\"seed\": 3}", c.trained);
	wa = weights_body(0.5, 0);
	wb = weights_body(0.25, 0.5);
	snprintf(path, sizeof path, "/v1/models/%s/weights", c.model);
	json_decref(tl_jexpect("PUT", path, wa, 200));
	data = batch_body(256, 4, 1);
	snprintf(path, sizeof path, "/v1/models/%s/batches", c.trained);
	json_decref(tl_jexpect("POST", path, data, 201));
	free(data);
	start_long_job(c.trained, job);

	for (int i = 0; i < PREDICTORS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, predictor, &c),
		    0);
	snprintf(path, sizeof path, "/v1/models/%s/weights", c.model);
	for (int i = 1; i <= SWAPS; i++)
		json_decref(tl_jexpect("PUT", path, i % 2 ? wb : wa, 200));
	atomic_store(&c.stop, 1);
	for (int i = 0; i < PREDICTORS; i++)
		pthread_join(th[i], NULL);

	snprintf(path, sizeof path, "/v1/jobs/%s", job);
	json_decref(tl_jexpect("DELETE", path, NULL, 200));
	doc = tl_jexpect("GET", path, NULL, 200);
	ck_assert_str_eq(tl_jstr(doc, "status"), "cancelled");
	json_decref(doc);
	fprintf(stderr, "check_race: %ld predictions (%ld A, %ld B), %ld "
	    "weight reads during %d swaps\n", atomic_load(&c.predictions),
	    atomic_load(&c.seen_a), atomic_load(&c.seen_b),
	    atomic_load(&c.weight_reads), SWAPS);
	ck_assert_msg(atomic_load(&c.bad) == 0, "%ld answers were no whole "
	    "snapshot; the first: %s", atomic_load(&c.bad), c.first_bad);
	/* the swaps really happened under the predictions */
	ck_assert_int_gt(atomic_load(&c.seen_a), 0);
	ck_assert_int_gt(atomic_load(&c.seen_b), 0);
	free(wa);
	free(wb);
	pthread_mutex_destroy(&c.mu);
}
END_TEST

/* ---------------------------------------------------------------------
 * Delete while training
 * ------------------------------------------------------------------ */

typedef struct del_ctx {
	char model[64];
	char job[64];
	int kind;              /* what this thread does, 0..3 */
	atomic_int *stop;
	atomic_long *bad;      /* answers that were not allowed */
	atomic_long *gone;     /* 404s seen (the model was deleted) */
	atomic_long *answers;
	long last_bad;         /* the status of this thread's last bad one */
} del_ctx;

/* Hits the model in one of four ways until told to stop: 0 predict,
 * 1 loss history and the model, 2 its jobs and the job, 3 push batches.
 * Allowed: 200/201, 404 once deleted, 409 (push during delete is fine,
 * but a busy model says so). */
static void *
hitter(void *arg)
{
	del_ctx *c = arg;
	CURL *h = curl_easy_init();
	char p1[160], p2[160];
	char *data = batch_body(8, 4, (unsigned)c->kind);

	if (h == NULL)
		return NULL;
	switch (c->kind) {
	case 0:
		snprintf(p1, sizeof p1, "/v1/models/%s/predict", c->model);
		snprintf(p2, sizeof p2, "/v1/models/%s/weights", c->model);
		break;
	case 1:
		snprintf(p1, sizeof p1, "/v1/models/%s/loss?limit=100",
		    c->model);
		snprintf(p2, sizeof p2, "/v1/models/%s", c->model);
		break;
	case 2:
		snprintf(p1, sizeof p1, "/v1/models/%s/jobs", c->model);
		snprintf(p2, sizeof p2, "/v1/jobs/%s", c->job);
		break;
	default:
		snprintf(p1, sizeof p1, "/v1/models/%s/batches", c->model);
		snprintf(p2, sizeof p2, "/v1/models/%s/batches", c->model);
		break;
	}
	while (!atomic_load(c->stop)) {
		long s1, s2;

		if (c->kind == 0)
			s1 = tl_fetch_json(h, "POST", p1,
			    "{\"input\": [1, 0, 1, 0]}", NULL);
		else if (c->kind == 3)
			s1 = tl_fetch_json(h, "POST", p1, data, NULL);
		else
			s1 = tl_fetch_json(h, "GET", p1, NULL, NULL);
		s2 = tl_fetch_json(h, "GET", p2, NULL, NULL);
		atomic_fetch_add(c->answers, 2);
		for (int i = 0; i < 2; i++) {
			long s = i ? s2 : s1;

			if (s == 404)
				atomic_fetch_add(c->gone, 1);
			else if (s != 200 && s != 201 && s != 409) {
				atomic_fetch_add(c->bad, 1);
				c->last_bad = s;
			}
		}
	}
	free(data);
	curl_easy_cleanup(h);
	return NULL;
}

START_TEST(test_delete_while_training)
{
	pthread_t th[8];
	del_ctx dc[8];
	atomic_int stop;
	atomic_long bad, gone, answers;
	char id[64], job[64], path[160], *data;
	json_t *doc;
	long before;

	atomic_init(&stop, 0);
	atomic_init(&bad, 0);
	atomic_init(&gone, 0);
	atomic_init(&answers, 0);
	tl_new_model("{\"name\": \"doomed\", \"layers\": [4, 64, 64, 1], "
	    "\"seed\": 9}", id);
	data = batch_body(512, 4, 2);
	snprintf(path, sizeof path, "/v1/models/%s/batches", id);
	json_decref(tl_jexpect("POST", path, data, 201));
	free(data);
	start_long_job(id, job);

	for (int i = 0; i < 8; i++) {
		memset(&dc[i], 0, sizeof dc[i]);
		snprintf(dc[i].model, sizeof dc[i].model, "%s", id);
		snprintf(dc[i].job, sizeof dc[i].job, "%s", job);
		dc[i].kind = i % 4;
		dc[i].stop = &stop;
		dc[i].bad = &bad;
		dc[i].gone = &gone;
		dc[i].answers = &answers;
		ck_assert_int_eq(pthread_create(&th[i], NULL, hitter, &dc[i]),
		    0);
	}
	/* let them hit the training model for a while, then delete it */
	while (atomic_load(&answers) < 200)
		usleep(10000);
	snprintf(path, sizeof path, "/v1/models/%s", id);
	json_decref(tl_jexpect("DELETE", path, NULL, 204));
	/* and go on until every thread has seen it gone */
	before = atomic_load(&gone);
	while (atomic_load(&gone) < before + 16)
		usleep(10000);
	atomic_store(&stop, 1);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "check_race: %ld answers around a delete, %ld of "
	    "them 404\n", atomic_load(&answers), atomic_load(&gone));
	for (int i = 0; i < 8; i++)
		ck_assert_msg(dc[i].last_bad == 0, "thread %d (kind %d) got "
		    "HTTP %ld", i, dc[i].kind, dc[i].last_bad);
	ck_assert_int_eq(atomic_load(&bad), 0);

	json_decref(tl_jexpect("GET", path, NULL, 404));
	snprintf(path, sizeof path, "/v1/jobs/%s", job);
	json_decref(tl_jexpect("GET", path, NULL, 404));
	doc = tl_jexpect("GET", "/v1/models", NULL, 200);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "models")), 0);
	json_decref(doc);
}
END_TEST

static Suite *
race_suite(void)
{
	Suite *s = suite_create("race");
	TCase *tc = tcase_create("threads");

	tcase_add_checked_fixture(tc, setup, tl_stop);
	/* slow under TSan on two shared cores */
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_swaps);
	tcase_add_test(tc, test_delete_while_training);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	tl_set_timeout(120);
	return tl_main(race_suite(), LOG_WARN);
}
