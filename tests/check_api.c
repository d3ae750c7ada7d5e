/*
 * check_api: black-box Check tests of the HTTP API v1 (/tmp/api_contract.md
 * as the lead wrote it), run against a daemon started in-process.
 *
 * Every test case gets a fresh daemon on a free port with a ":memory:"
 * database (a checked fixture, so each test runs in its own forked child)
 * and talks to it with libcurl only (tests/testlib.h): nothing here
 * reaches into server/ beyond starting and stopping the daemon. The happy
 * path of every endpoint is driven end to end (XOR is trained to
 * convergence through a job), and every error status of the contract is
 * provoked with its named code. A rejected request must change nothing:
 * reject() snapshots the whole visible state (every model, its weights,
 * batches, jobs and loss history) before and after and requires the two
 * to be identical.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testlib.h"

/* The Allow header of the last reject_ct() request (the last answer is
 * the state snapshot's that follows it). */
static char g_rej_allow[256];

/* ---------------------------------------------------------------------
 * Fixtures: one daemon per test
 * ------------------------------------------------------------------ */

/* A 4096-byte body cap, for the 413 tests. */
static void
setup_small_body(void)
{
	tl_config()->max_body = 4096;
	tl_start();
}

/* At most one queued train job, for queue_full. */
static void
setup_small_queue(void)
{
	tl_config()->max_queue = 1;
	tl_start();
}

/* ---------------------------------------------------------------------
 * Helpers of these tests
 * ------------------------------------------------------------------ */

/* "2026-11-27T23:59:01.123Z" */
static int
is_time(json_t *v)
{
	const char *s = json_string_value(v);
	const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";

	if (s == NULL || strlen(s) != strlen(shape))
		return 0;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') :
		    s[i] != shape[i])
			return 0;
	return 1;
}

/* Does arr hold exactly the n strings that follow, in order? */
static int
str_list_is(json_t *arr, int n, ...)
{
	va_list ap;
	int ok;

	if (!json_is_array(arr) || json_array_size(arr) != (size_t)n)
		return 0;
	ok = 1;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *w = va_arg(ap, const char *);
		const char *s = json_string_value(json_array_get(arr, i));

		if (s == NULL || strcmp(s, w) != 0)
			ok = 0;
	}
	va_end(ap);
	return ok;
}

/* Does arr hold exactly the n integers that follow, in order? */
static int
int_list_is(json_t *arr, int n, ...)
{
	va_list ap;
	int ok;

	if (!json_is_array(arr) || json_array_size(arr) != (size_t)n)
		return 0;
	ok = 1;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		int w = va_arg(ap, int);
		json_t *v = json_array_get(arr, i);

		if (!json_is_integer(v) || json_integer_value(v) != w)
			ok = 0;
	}
	va_end(ap);
	return ok;
}

/* Checks that text is exactly {"error": {"code": code, "message": "..."}}
 * (code NULL takes any code), served as JSON. */
static void
check_error_body(const char *text, const char *code, int line)
{
	char what[32];

	snprintf(what, sizeof what, "line %d", line);
	tl_check_error(text, strlen(text), code, what);
	ck_assert_msg(strncmp(tl_header("Content-Type"), "application/json",
	    16) == 0, "line %d: error Content-Type '%s'", line,
	    tl_header("Content-Type"));
}

/* Sends the request, requires status and code, and requires that the
 * daemon's visible state did not change. */
static void
reject_ct(const char *method, const char *path, const char *ct,
	  const char *body, int chunked, long want, const char *code,
	  int line)
{
	char *before, *after, *resp, where[256], what[300];
	tl_request rq = { method, where, ct, body, body ? strlen(body) : 0,
		chunked, NULL, 0 };
	long st;

	/* path may live in tl_mpath()'s ring: keep a copy */
	snprintf(where, sizeof where, "%s", path);
	before = tl_world(NULL, NULL);
	st = tl_send(&rq, &resp);

	ck_assert_msg(st == want, "line %d: %s %s %.200s: want %ld, got %ld "
	    "%.300s", line, method, where, body ? body : "", want, st, resp);
	check_error_body(resp, code, line);
	snprintf(g_rej_allow, sizeof g_rej_allow, "%s", tl_header("Allow"));
	free(resp);
	after = tl_world(NULL, NULL);
	snprintf(what, sizeof what, "line %d: %s %s", line, method, where);
	tl_same_world(before, after, what);
	free(before);
	free(after);
}

#define REJECT(method, path, body, want, code) \
	reject_ct((method), (path), "application/json", (body), 0, (want), \
	    (code), __LINE__)

/* A batch of n rows of width w for inputs and targets, as JSON text. */
static char *
big_batch(int n, int w)
{
	size_t cap = (size_t)n * (size_t)w * 2 * 12 + 64;
	char *s = malloc(cap);
	size_t k = 0;

	ck_assert_ptr_nonnull(s);
	for (int part = 0; part < 2; part++) {
		k += (size_t)snprintf(s + k, cap - k, "%s\"%s\":[",
		    part ? "," : "{", part ? "targets" : "inputs");
		for (int i = 0; i < n; i++) {
			s[k++] = i ? ',' : '[';
			if (i)
				s[k++] = '[';
			for (int j = 0; j < w; j++)
				k += (size_t)snprintf(s + k, cap - k, "%s%.3f",
				    j ? "," : "", part ? 0.5 :
				    (double)((i * 31 + j * 7) % 100) / 100.0);
			s[k++] = ']';
		}
		s[k++] = ']';
	}
	s[k++] = '}';
	s[k] = '\0';
	return s;
}

/* A model whose train steps take a few milliseconds each, with data, so
 * that a long job is really running while a test pokes at it. */
static void
slow_model(char id[32])
{
	char *batch = big_batch(512, 16);

	tl_new_model("{\"layers\": [16, 128, 128, 16], \"seed\": 3}", id);
	tl_push(id, batch);
	free(batch);
}

/* ---------------------------------------------------------------------
 * Happy paths
 * ------------------------------------------------------------------ */

START_TEST(test_healthz)
{
	json_t *doc = tl_jget("/healthz");

	ck_assert_str_eq(tl_jstr(doc, "status"), "ok");
	ck_assert_uint_eq(json_object_size(doc), 1);
	ck_assert_str_eq(tl_header("Content-Type"), "application/json");
	json_decref(doc);
}
END_TEST

/* On SQLite (the file is this daemon's) no thread follows other nodes:
 * the store is not shared and no peer thread started. */
START_TEST(test_sqlite_no_peers)
{
	ck_assert_ptr_null(daemon_peers(tl_daemon()));
	ck_assert_int_eq(tl_req("GET", "/v1/models/m0123456789abcdef", NULL,
	    NULL, NULL), 404);
}
END_TEST

START_TEST(test_create_defaults)
{
	char id[32], *resp;
	json_t *m = tl_create_model("{\"layers\": [2, 3, 1]}", id), *got, *list;
	json_int_t seed;

	ck_assert_str_eq(tl_jstr(m, "name"), "");
	ck_assert(int_list_is(json_object_get(m, "layers"), 3, 2, 3, 1));
	ck_assert(str_list_is(json_object_get(m, "activation"), 2, "sigmoid",
	    "sigmoid"));
	ck_assert_str_eq(tl_jstr(m, "loss"), "mse");
	ck_assert_str_eq(tl_jstr(m, "optimizer"), "sgd");
	ck_assert_float_eq((float)tl_jnum(m, "learning_rate"), 0.1f);
	ck_assert_float_eq((float)tl_jnum(m, "momentum"), 0.9f);
	seed = tl_jint(m, "seed");
	ck_assert(seed >= 0 && seed <= ((json_int_t)1 << 53));
	ck_assert_int_eq(tl_jint(m, "step"), 0);
	ck_assert_int_eq(tl_jint(m, "samples"), 0);
	ck_assert_str_eq(tl_jstr(m, "status"), "idle");
	ck_assert(json_is_null(json_object_get(m, "last_loss")));
	ck_assert(is_time(json_object_get(m, "created_at")));
	ck_assert(is_time(json_object_get(m, "updated_at")));
	ck_assert_uint_eq(json_object_size(m), 15);

	/* GET returns the same document */
	ck_assert_int_eq(tl_jreq("GET", tl_mpath(id, ""), NULL, &resp), 200);
	got = tl_parse(resp);
	free(resp);
	ck_assert(json_equal(m, got));
	json_decref(got);

	list = tl_jget("/v1/models");
	ck_assert_uint_eq(json_array_size(json_object_get(list, "models")), 1);
	ck_assert(json_equal(json_array_get(json_object_get(list, "models"),
	    0), m));
	json_decref(list);

	/* a charset parameter is fine; the seed is random without one */
	ck_assert_int_eq(tl_req("POST", "/v1/models",
	    "application/json; charset=utf-8", "{\"layers\": [2, 3, 1]}",
	    &resp), 201);
	got = tl_parse(resp);
	free(resp);
	ck_assert_str_ne(tl_jstr(got, "id"), id);
	json_decref(got);
	json_decref(m);
}
END_TEST

START_TEST(test_create_all_options)
{
	char id[32], id2[32];
	json_t *m, *w1, *w2;

	m = tl_create_model("{\"name\": \"net one\", \"layers\": [3, 5, 4, 2], "
	    "\"activation\": [\"tanh\", \"relu\", \"linear\"], \"loss\": "
	    "\"mse\", \"optimizer\": \"adam\", \"learning_rate\": 0.01, "
	    "\"momentum\": 0.5, \"seed\": 42}", id);
	ck_assert_str_eq(tl_jstr(m, "name"), "net one");
	ck_assert(int_list_is(json_object_get(m, "layers"), 4, 3, 5, 4, 2));
	ck_assert(str_list_is(json_object_get(m, "activation"), 3, "tanh",
	    "relu", "linear"));
	ck_assert_str_eq(tl_jstr(m, "loss"), "mse");
	ck_assert_str_eq(tl_jstr(m, "optimizer"), "adam");
	ck_assert_float_eq((float)tl_jnum(m, "learning_rate"), 0.01f);
	ck_assert_float_eq((float)tl_jnum(m, "momentum"), 0.5f);
	ck_assert_int_eq(tl_jint(m, "seed"), 42);
	json_decref(m);

	/* the same seed gives the same initial weights */
	tl_new_model("{\"layers\": [3, 5, 4, 2], \"activation\": [\"tanh\", "
	    "\"relu\", \"linear\"], \"optimizer\": \"adam\", \"seed\": 42}",
	    id2);
	w1 = tl_jget(tl_mpath(id, "/weights"));
	w2 = tl_jget(tl_mpath(id2, "/weights"));
	ck_assert(json_equal(w1, w2));
	json_decref(w1);
	json_decref(w2);

	/* cross_entropy: a single name applies to hidden layers */
	m = tl_create_model("{\"layers\": [2, 3, 3, 4], \"loss\": "
	    "\"cross_entropy\", \"activation\": \"relu\", \"optimizer\": "
	    "\"momentum\", \"seed\": 9007199254740992}", id);
	ck_assert(str_list_is(json_object_get(m, "activation"), 3, "relu",
	    "relu", "softmax"));
	ck_assert_str_eq(tl_jstr(m, "loss"), "cross_entropy");
	ck_assert_str_eq(tl_jstr(m, "optimizer"), "momentum");
	ck_assert_int_eq(tl_jint(m, "seed"), (json_int_t)1 << 53);
	json_decref(m);

	/* ... and a list ends with softmax */
	m = tl_create_model("{\"layers\": [2, 3, 4], \"loss\": "
	    "\"cross_entropy\", \"activation\": [\"tanh\", \"softmax\"]}", id);
	ck_assert(str_list_is(json_object_get(m, "activation"), 2, "tanh",
	    "softmax"));
	json_decref(m);

	/* cross_entropy with no activation: sigmoid hidden, softmax out */
	m = tl_create_model("{\"layers\": [2, 3, 4], \"loss\": "
	    "\"cross_entropy\"}", id);
	ck_assert(str_list_is(json_object_get(m, "activation"), 2, "sigmoid",
	    "softmax"));
	json_decref(m);

	/* the largest learning rate, a 200-byte name */
	m = tl_create_model("{\"layers\": [1, 1], \"learning_rate\": 1e6, "
	    "\"momentum\": 0, \"name\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", id);
	ck_assert_uint_eq(strlen(tl_jstr(m, "name")), 200);
	ck_assert_float_eq((float)tl_jnum(m, "learning_rate"), 1e6f);
	ck_assert_float_eq((float)tl_jnum(m, "momentum"), 0.0f);
	json_decref(m);
}
END_TEST

START_TEST(test_list_and_delete)
{
	char a[32], b[32], c[32], *resp;
	json_t *list, *models;

	tl_new_model("{\"layers\": [2, 1], \"name\": \"a\"}", a);
	tl_new_model("{\"layers\": [2, 1], \"name\": \"b\"}", b);
	tl_new_model("{\"layers\": [2, 1], \"name\": \"c\"}", c);
	tl_push(b, "{\"inputs\": [[1, 2]], \"targets\": [[3]]}");
	json_decref(tl_jexpect("POST", tl_mpath(b, "/step"), "{\"inputs\": "
	    "[[1, 2]], \"targets\": [[0.5]]}", 200));

	list = tl_jget("/v1/models");
	models = json_object_get(list, "models");
	ck_assert_uint_eq(json_array_size(models), 3);
	ck_assert_str_eq(tl_jstr(json_array_get(models, 0), "id"), a);
	ck_assert_str_eq(tl_jstr(json_array_get(models, 1), "id"), b);
	ck_assert_str_eq(tl_jstr(json_array_get(models, 2), "id"), c);
	json_decref(list);

	ck_assert_int_eq(tl_jreq("DELETE", tl_mpath(b, ""), NULL, &resp), 204);
	ck_assert_str_eq(resp, "");
	free(resp);
	list = tl_jget("/v1/models");
	models = json_object_get(list, "models");
	ck_assert_uint_eq(json_array_size(models), 2);
	ck_assert_str_eq(tl_jstr(json_array_get(models, 0), "id"), a);
	ck_assert_str_eq(tl_jstr(json_array_get(models, 1), "id"), c);
	json_decref(list);

	/* its weights, data and history went with it */
	REJECT("GET", tl_mpath(b, ""), NULL, 404, "model_not_found");
	REJECT("GET", tl_mpath(b, "/weights"), NULL, 404, "model_not_found");
	REJECT("GET", tl_mpath(b, "/batches"), NULL, 404, "model_not_found");
	REJECT("GET", tl_mpath(b, "/loss"), NULL, 404, "model_not_found");
	REJECT("DELETE", tl_mpath(b, ""), NULL, 404, "model_not_found");
}
END_TEST

/* Exact float32 values through PUT and GET of the weights, and a linear
 * model whose predictions are known exactly. */
START_TEST(test_weights_round_trip)
{
	static const float special[] = { 0.0f, -1.5f, 3.0f, FLT_MIN,
		1.40129846e-45f, 1e38f, -2.5e-7f, 0.1f, 1.0f / 3.0f,
		-123456.789f };
	char id[32], body[8192], *resp;
	size_t k = 0, n = 0;
	float vals[64];
	json_t *m, *w, *layers;
	const int sizes[] = { 3, 4, 2 };

	tl_new_model("{\"layers\": [3, 4, 2], \"seed\": 5}", id);
	/* 3*4+4 + 4*2+2 = 26 parameters */
	for (int i = 0; i < 26; i++)
		vals[i] = i < 10 ? special[i] :
		    (float)(sin((double)i * 1.7) * pow(10.0, i % 7 - 3));
	k += (size_t)snprintf(body + k, sizeof body - k, "{\"step\": 77, "
	    "\"layers\": [");
	for (int l = 0; l < 2; l++) {
		k += (size_t)snprintf(body + k, sizeof body - k,
		    "%s{\"weights\": [", l ? "," : "");
		for (int i = 0; i < sizes[l + 1]; i++) {
			body[k++] = i ? ',' : ' ';
			body[k++] = '[';
			for (int j = 0; j < sizes[l]; j++)
				k += (size_t)snprintf(body + k, sizeof body - k,
				    "%s%.9g", j ? "," : "", (double)vals[n++]);
			body[k++] = ']';
		}
		k += (size_t)snprintf(body + k, sizeof body - k,
		    "], \"biases\": [");
		for (int i = 0; i < sizes[l + 1]; i++)
			k += (size_t)snprintf(body + k, sizeof body - k,
			    "%s%.9g", i ? "," : "", (double)vals[n++]);
		k += (size_t)snprintf(body + k, sizeof body - k, "]}");
	}
	snprintf(body + k, sizeof body - k, "]}");
	ck_assert_uint_eq(n, 26);

	ck_assert_int_eq(tl_jreq("PUT", tl_mpath(id, "/weights"), body, &resp),
	    200);
	m = tl_parse(resp);
	free(resp);
	ck_assert_str_eq(tl_jstr(m, "id"), id);
	/* "step" in the body ignored */
	ck_assert_int_eq(tl_jint(m, "step"), 0);
	json_decref(m);

	w = tl_jget(tl_mpath(id, "/weights"));
	ck_assert_int_eq(tl_jint(w, "step"), 0);
	layers = json_object_get(w, "layers");
	ck_assert_uint_eq(json_array_size(layers), 2);
	n = 0;
	for (int l = 0; l < 2; l++) {
		json_t *ly = json_array_get(layers, (size_t)l);
		json_t *rows = json_object_get(ly, "weights");
		json_t *b = json_object_get(ly, "biases");

		ck_assert_uint_eq(json_array_size(rows), (size_t)sizes[l + 1]);
		for (int i = 0; i < sizes[l + 1]; i++) {
			json_t *r = json_array_get(rows, (size_t)i);

			ck_assert_uint_eq(json_array_size(r), (size_t)sizes[l]);
			for (int j = 0; j < sizes[l]; j++, n++)
				ck_assert_msg((float)json_number_value(
				    json_array_get(r, (size_t)j)) == vals[n],
				    "W%d[%d][%d]: %.9g != %.9g", l, i, j,
				    json_number_value(json_array_get(r,
				    (size_t)j)), (double)vals[n]);
		}
		ck_assert_uint_eq(json_array_size(b), (size_t)sizes[l + 1]);
		for (int i = 0; i < sizes[l + 1]; i++, n++)
			ck_assert_msg((float)json_number_value(json_array_get(b,
			    (size_t)i)) == vals[n], "b%d[%d]", l, i);
	}
	json_decref(w);

	/* GET -> PUT of the same document changes no value */
	ck_assert_int_eq(tl_jreq("GET", tl_mpath(id, "/weights"), NULL, &resp),
	    200);
	ck_assert_int_eq(tl_jreq("PUT", tl_mpath(id, "/weights"), resp, NULL),
	    200);
	{
		char *again;

		ck_assert_int_eq(tl_jreq("GET", tl_mpath(id, "/weights"), NULL,
		    &again), 200);
		ck_assert_str_eq(again, resp);
		free(again);
	}
	free(resp);
}
END_TEST

START_TEST(test_predict_exact)
{
	char id[32];
	json_t *r, *out;

	tl_new_model("{\"layers\": [2, 2], \"activation\": \"linear\"}", id);
	json_decref(tl_jexpect("PUT", tl_mpath(id, "/weights"), "{\"layers\": "
	    "[{\"weights\": [[1, 2], [3, 4]], \"biases\": [0.5, -1]}]}", 200));

	r = tl_jexpect("POST", tl_mpath(id, "/predict"), "{\"input\": [1, 1]}",
	    200);
	out = json_object_get(r, "output");
	ck_assert_uint_eq(json_array_size(out), 2);
	ck_assert_double_eq(json_number_value(json_array_get(out, 0)), 3.5);
	ck_assert_double_eq(json_number_value(json_array_get(out, 1)), 6.0);
	ck_assert_int_eq(tl_jint(r, "step"), 0);
	ck_assert_ptr_null(json_object_get(r, "outputs"));
	json_decref(r);

	r = tl_jexpect("POST", tl_mpath(id, "/predict"),
	    "{\"inputs\": [[1, 1], [0.5, -2], [0, 0]]}", 200);
	out = json_object_get(r, "outputs");
	ck_assert_uint_eq(json_array_size(out), 3);
	ck_assert_double_eq(json_number_value(json_array_get(
	    json_array_get(out, 1), 0)), -3.0);
	ck_assert_double_eq(json_number_value(json_array_get(
	    json_array_get(out, 1), 1)), -7.5);
	ck_assert_double_eq(json_number_value(json_array_get(
	    json_array_get(out, 2), 0)), 0.5);
	ck_assert_double_eq(json_number_value(json_array_get(
	    json_array_get(out, 2), 1)), -1.0);
	ck_assert_int_eq(tl_jint(r, "step"), 0);
	json_decref(r);
}
END_TEST

START_TEST(test_batches)
{
	char id[32], *resp;
	json_t *r, *list, *b;
	json_int_t b1, b2;

	tl_new_model("{\"layers\": [2, 3, 1]}", id);
	r = tl_jexpect("POST", tl_mpath(id, "/batches"),
	    "{\"inputs\": [[0, 0], [1, 1]], \"targets\": [[0], [1]]}", 201);
	b1 = tl_jint(r, "batch_id");
	ck_assert_int_eq(tl_jint(r, "samples"), 2);
	ck_assert_int_eq(tl_jint(r, "total_samples"), 2);
	json_decref(r);
	r = tl_jexpect("POST", tl_mpath(id, "/batches"), XOR_BATCH, 201);
	b2 = tl_jint(r, "batch_id");
	ck_assert_int_ne(b1, b2);
	ck_assert_int_eq(tl_jint(r, "samples"), 4);
	ck_assert_int_eq(tl_jint(r, "total_samples"), 6);
	json_decref(r);

	list = tl_jget(tl_mpath(id, "/batches"));
	ck_assert_int_eq(tl_jint(list, "total_samples"), 6);
	ck_assert_uint_eq(json_array_size(json_object_get(list, "batches")),
	    2);
	b = json_array_get(json_object_get(list, "batches"), 0);
	ck_assert_int_eq(tl_jint(b, "batch_id"), b1);
	ck_assert_int_eq(tl_jint(b, "samples"), 2);
	ck_assert(is_time(json_object_get(b, "created_at")));
	b = json_array_get(json_object_get(list, "batches"), 1);
	ck_assert_int_eq(tl_jint(b, "batch_id"), b2);
	ck_assert_int_eq(tl_jint(b, "samples"), 4);
	json_decref(list);

	r = tl_jget(tl_mpath(id, ""));
	ck_assert_int_eq(tl_jint(r, "samples"), 6);
	json_decref(r);

	ck_assert_int_eq(tl_jreq("DELETE", tl_mpath(id, "/batches"), NULL,
	    &resp), 204);
	ck_assert_str_eq(resp, "");
	free(resp);
	list = tl_jget(tl_mpath(id, "/batches"));
	ck_assert_int_eq(tl_jint(list, "total_samples"), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(list, "batches")),
	    0);
	json_decref(list);
	r = tl_jget(tl_mpath(id, ""));
	ck_assert_int_eq(tl_jint(r, "samples"), 0);
	json_decref(r);

	/* and the model takes data again */
	r = tl_jexpect("POST", tl_mpath(id, "/batches"), XOR_BATCH, 201);
	ck_assert_int_eq(tl_jint(r, "total_samples"), 4);
	json_decref(r);
}
END_TEST

START_TEST(test_step_and_loss_history)
{
	char id[32];
	double losses[6];
	json_t *r, *pts, *m;

	tl_new_model("{\"layers\": [2, 2, 1], \"seed\": 11}", id);
	for (int i = 1; i <= 5; i++) {
		r = tl_jexpect("POST", tl_mpath(id, "/step"), i == 3 ?
		    "{\"inputs\": [[0,0],[0,1],[1,0],[1,1]], \"targets\": "
		    "[[0],[1],[1],[0]], \"learning_rate\": 0.5}" : XOR_BATCH,
		    200);
		ck_assert_int_eq(tl_jint(r, "step"), i);
		losses[i] = tl_jnum(r, "loss");
		ck_assert(isfinite(losses[i]) && losses[i] >= 0);
		ck_assert_uint_eq(json_object_size(r), 2);
		json_decref(r);
	}
	m = tl_jget(tl_mpath(id, ""));
	ck_assert_int_eq(tl_jint(m, "step"), 5);
	ck_assert_double_eq(tl_jnum(m, "last_loss"), losses[5]);
	ck_assert_str_eq(tl_jstr(m, "status"), "idle");
	json_decref(m);
	r = tl_jget(tl_mpath(id, "/weights"));
	ck_assert_int_eq(tl_jint(r, "step"), 5);
	json_decref(r);

	/* everything, ascending */
	r = tl_jget(tl_mpath(id, "/loss"));
	pts = json_object_get(r, "points");
	ck_assert_uint_eq(json_array_size(pts), 5);
	for (int i = 0; i < 5; i++) {
		json_t *p = json_array_get(pts, (size_t)i);

		ck_assert_int_eq(tl_jint(p, "step"), i + 1);
		ck_assert_double_eq(tl_jnum(p, "loss"), losses[i + 1]);
		ck_assert(is_time(json_object_get(p, "time")));
	}
	ck_assert_int_eq(tl_jint(r, "next_since"), 5);
	json_decref(r);

	/* since is exclusive */
	r = tl_jget(tl_mpath(id, "/loss?since=2"));
	pts = json_object_get(r, "points");
	ck_assert_uint_eq(json_array_size(pts), 3);
	ck_assert_int_eq(tl_jint(json_array_get(pts, 0), "step"), 3);
	ck_assert_int_eq(tl_jint(r, "next_since"), 5);
	json_decref(r);

	/* limit, and next_since pages on */
	r = tl_jget(tl_mpath(id, "/loss?limit=2"));
	pts = json_object_get(r, "points");
	ck_assert_uint_eq(json_array_size(pts), 2);
	ck_assert_int_eq(tl_jint(json_array_get(pts, 0), "step"), 1);
	ck_assert_int_eq(tl_jint(json_array_get(pts, 1), "step"), 2);
	ck_assert_int_eq(tl_jint(r, "next_since"), 2);
	json_decref(r);
	r = tl_jget(tl_mpath(id, "/loss?since=2&limit=2"));
	pts = json_object_get(r, "points");
	ck_assert_uint_eq(json_array_size(pts), 2);
	ck_assert_int_eq(tl_jint(json_array_get(pts, 0), "step"), 3);
	ck_assert_int_eq(tl_jint(json_array_get(pts, 1), "step"), 4);
	ck_assert_int_eq(tl_jint(r, "next_since"), 4);
	json_decref(r);
	r = tl_jget(tl_mpath(id, "/loss?since=4&limit=2"));
	pts = json_object_get(r, "points");
	ck_assert_uint_eq(json_array_size(pts), 1);
	ck_assert_int_eq(tl_jint(json_array_get(pts, 0), "step"), 5);
	ck_assert_int_eq(tl_jint(r, "next_since"), 5);
	json_decref(r);

	/* none left: next_since stays at since */
	r = tl_jget(tl_mpath(id, "/loss?since=5"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "points")), 0);
	ck_assert_int_eq(tl_jint(r, "next_since"), 5);
	json_decref(r);
	r = tl_jget(tl_mpath(id, "/loss?since=100&limit=10000"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "points")), 0);
	ck_assert_int_eq(tl_jint(r, "next_since"), 100);
	json_decref(r);
	r = tl_jget(tl_mpath(id, "/loss?since=9223372036854775807"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "points")), 0);
	ck_assert_int_eq(tl_jint(r, "next_since"), INT64_MAX);
	json_decref(r);
	REJECT("GET", tl_mpath(id, "/loss?since=9223372036854775808"), NULL,
	    400, "invalid_query");

	/* a step whose loss overflows is refused and changes nothing (the
	 * contract names no code for it; the daemon says "diverged") */
	REJECT("POST", tl_mpath(id, "/step"), "{\"inputs\": [[3e38, 3e38]], "
	    "\"targets\": [[-3e38]], \"learning_rate\": 1e6}", 422, NULL);
}
END_TEST

START_TEST(test_train_xor)
{
	char id[32], job_id[32], *resp;
	json_t *j, *r, *outs, *jobs, *pts;
	static const int want[4] = { 0, 1, 1, 0 };

	tl_new_model("{\"layers\": [2, 4, 1], \"learning_rate\": 2, \"seed\": "
	    "1}", id);
	tl_push(id, XOR_BATCH);
	j = tl_jexpect("POST", tl_mpath(id, "/train"), "{\"steps\": 3000, "
	    "\"batch_size\": 4}", 202);
	snprintf(job_id, sizeof job_id, "%s", tl_jstr(j, "id"));
	ck_assert(tl_is_hex_id(job_id, 'j'));
	ck_assert_str_eq(tl_header("Location"), tl_jpath(job_id));
	ck_assert_str_eq(tl_jstr(j, "model_id"), id);
	ck_assert(strcmp(tl_jstr(j, "status"), "queued") == 0 ||
	    strcmp(tl_jstr(j, "status"), "running") == 0);
	ck_assert_int_eq(tl_jint(j, "steps_total"), 3000);
	ck_assert(is_time(json_object_get(j, "created_at")));
	ck_assert(json_is_null(json_object_get(j, "finished_at")));
	ck_assert(json_is_null(json_object_get(j, "error")));
	/* training control (issue 13): nothing run, no best, no reason */
	ck_assert(json_is_null(json_object_get(j, "learning_rate")));
	ck_assert(json_is_null(json_object_get(j, "best_step")));
	ck_assert(json_is_null(json_object_get(j, "best_value")));
	ck_assert(json_is_null(json_object_get(j, "reason")));
	ck_assert(json_is_null(json_object_get(j, "best_version")));
	/* never taken over (several nodes, issue 10) */
	ck_assert_int_eq(tl_jint(j, "takeovers"), 0);
	ck_assert_uint_eq(json_object_size(j), 17);
	json_decref(j);

	j = tl_wait_job(job_id, "succeeded", "failed", 10.0);
	ck_assert_str_eq(tl_jstr(j, "status"), "succeeded");
	/* the node that ran it (issue 10) */
	ck_assert_str_eq(tl_jstr(j, "node"), tl_cfg()->node_id);
	ck_assert_int_eq(tl_jint(j, "steps_done"), 3000);
	ck_assert(isfinite(tl_jnum(j, "loss")));
	/* no schedule: the rate in force is the model's */
	ck_assert(tl_jnum(j, "learning_rate") == 2.0);
	ck_assert(json_is_null(json_object_get(j, "reason")));
	ck_assert(json_is_null(json_object_get(j, "error")));
	ck_assert(is_time(json_object_get(j, "started_at")));
	ck_assert(is_time(json_object_get(j, "finished_at")));
	json_decref(j);

	r = tl_jexpect("POST", tl_mpath(id, "/predict"), "{\"inputs\": [[0,0],"
	    "[0,1],[1,0],[1,1]]}", 200);
	ck_assert_int_eq(tl_jint(r, "step"), 3000);
	outs = json_object_get(r, "outputs");
	ck_assert_uint_eq(json_array_size(outs), 4);
	for (size_t i = 0; i < 4; i++) {
		double o = json_number_value(json_array_get(json_array_get(outs,
		    i), 0));

		ck_assert_msg(lround(o) == want[i], "XOR row %zu: %g", i, o);
	}
	json_decref(r);

	r = tl_jget(tl_mpath(id, ""));
	ck_assert_int_eq(tl_jint(r, "step"), 3000);
	ck_assert_str_eq(tl_jstr(r, "status"), "idle");
	ck_assert(isfinite(tl_jnum(r, "last_loss")));
	json_decref(r);

	/* every step left one loss point */
	r = tl_jget(tl_mpath(id, "/loss?limit=10000"));
	pts = json_object_get(r, "points");
	ck_assert_uint_eq(json_array_size(pts), 3000);
	ck_assert_int_eq(tl_jint(json_array_get(pts, 0), "step"), 1);
	ck_assert_int_eq(tl_jint(json_array_get(pts, 2999), "step"), 3000);
	ck_assert_int_eq(tl_jint(r, "next_since"), 3000);
	ck_assert(tl_jnum(json_array_get(pts, 2999), "loss") <
	    tl_jnum(json_array_get(pts, 0), "loss"));
	json_decref(r);
	r = tl_jget(tl_mpath(id, "/loss"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "points")), 1000);
	ck_assert_int_eq(tl_jint(r, "next_since"), 1000);
	json_decref(r);

	/* the job list, and the job itself */
	r = tl_jget(tl_mpath(id, "/jobs"));
	jobs = json_object_get(r, "jobs");
	ck_assert_uint_eq(json_array_size(jobs), 1);
	ck_assert_str_eq(tl_jstr(json_array_get(jobs, 0), "id"), job_id);
	ck_assert_str_eq(tl_jstr(json_array_get(jobs, 0), "status"),
	    "succeeded");
	json_decref(r);

	/* a finished job cannot be cancelled */
	REJECT("DELETE", tl_jpath(job_id), NULL, 409, "job_finished");

	/* an empty body and {} train with the defaults: one epoch */
	ck_assert_int_eq(tl_req("POST", tl_mpath(id, "/train"), NULL, NULL,
	    &resp), 202);
	j = tl_parse(resp);
	free(resp);
	ck_assert_int_eq(tl_jint(j, "steps_total"), 1);
	snprintf(job_id, sizeof job_id, "%s", tl_jstr(j, "id"));
	json_decref(j);
	json_decref(tl_wait_job(job_id, "succeeded", NULL, 10.0));
	j = tl_jexpect("POST", tl_mpath(id, "/train"), "{}", 202);
	snprintf(job_id, sizeof job_id, "%s", tl_jstr(j, "id"));
	json_decref(j);
	json_decref(tl_wait_job(job_id, "succeeded", NULL, 10.0));
	/* epochs x ceil(rows / batch_size) steps */
	j = tl_jexpect("POST", tl_mpath(id, "/train"), "{\"epochs\": 3, "
	    "\"batch_size\": 3, \"shuffle\": false, \"learning_rate\": 0.5}",
	    202);
	ck_assert_int_eq(tl_jint(j, "steps_total"), 6);
	snprintf(job_id, sizeof job_id, "%s", tl_jstr(j, "id"));
	json_decref(j);
	json_decref(tl_wait_job(job_id, "succeeded", NULL, 10.0));
	tl_wait_model_idle(id, 10.0);
	r = tl_jget(tl_mpath(id, ""));
	ck_assert_int_eq(tl_jint(r, "step"), 3000 + 1 + 1 + 6);
	json_decref(r);
	r = tl_jget(tl_mpath(id, "/jobs"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 4);
	ck_assert_str_eq(tl_jstr(json_array_get(json_object_get(r, "jobs"), 3),
	    "id"), job_id);
	json_decref(r);
}
END_TEST

/* A long job: running status, the model is busy for step, weights and
 * data, a second job waits queued, and cancelling works once. */
START_TEST(test_cancel_and_busy)
{
	char id[32], job[32], job2[32], other[32], *w, *before, *after;
	json_t *j, *m, *r;

	slow_model(id);
	tl_new_model("{\"layers\": [2, 1]}", other);
	tl_start_job(id, "{\"steps\": 1000000000, \"batch_size\": 512}", job);
	json_decref(tl_wait_job(job, "running", NULL, 10.0));
	m = tl_jget(tl_mpath(id, ""));
	ck_assert_str_eq(tl_jstr(m, "status"), "training");
	json_decref(m);

	/* another model is not held up */
	json_decref(tl_jexpect("POST", tl_mpath(other, "/step"), "{\"inputs\": "
	    "[[1, 0]], \"targets\": [[1]]}", 200));

	/* a second job on the same model waits behind the first */
	tl_start_job(id, "{\"steps\": 5}", job2);
	j = tl_jget(tl_jpath(job2));
	ck_assert_str_eq(tl_jstr(j, "status"), "queued");
	ck_assert(json_is_null(json_object_get(j, "started_at")));
	json_decref(j);

	/* busy: step, weights, drop data; the data stays */
	w = NULL;
	ck_assert_int_eq(tl_jreq("GET", tl_mpath(id, "/weights"), NULL, &w),
	    200);
	before = NULL;
	ck_assert_int_eq(tl_jreq("GET", tl_mpath(id, "/batches"), NULL,
	    &before), 200);
	{
		char *batch = big_batch(2, 16), *resp;

		ck_assert_int_eq(tl_jreq("POST", tl_mpath(id, "/step"), batch,
		    &resp), 409);
		check_error_body(resp, "model_busy", __LINE__);
		free(resp);
		free(batch);
		ck_assert_int_eq(tl_jreq("PUT", tl_mpath(id, "/weights"), w,
		    &resp), 409);
		check_error_body(resp, "model_busy", __LINE__);
		free(resp);
		ck_assert_int_eq(tl_jreq("DELETE", tl_mpath(id, "/batches"),
		    NULL, &resp), 409);
		check_error_body(resp, "model_busy", __LINE__);
		free(resp);
	}
	free(w);
	ck_assert_int_eq(tl_jreq("GET", tl_mpath(id, "/batches"), NULL, &after),
	    200);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	r = tl_jget("/v1/models");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "models")), 2);
	json_decref(r);
	r = tl_jget(tl_mpath(id, "/jobs"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 2);
	ck_assert_str_eq(tl_jstr(json_array_get(json_object_get(r, "jobs"), 0),
	    "id"), job);
	ck_assert_str_eq(tl_jstr(json_array_get(json_object_get(r, "jobs"), 0),
	    "status"), "running");
	json_decref(r);
	/* cancel the queued one: it never started */
	j = tl_jexpect("DELETE", tl_jpath(job2), NULL, 200);
	ck_assert_str_eq(tl_jstr(j, "status"), "cancelled");
	ck_assert(json_is_null(json_object_get(j, "started_at")));
	ck_assert(is_time(json_object_get(j, "finished_at")));
	ck_assert_int_eq(tl_jint(j, "steps_done"), 0);
	json_decref(j);

	/* cancel the running one */
	j = tl_jexpect("DELETE", tl_jpath(job), NULL, 200);
	ck_assert_str_eq(tl_jstr(j, "status"), "cancelled");
	ck_assert(is_time(json_object_get(j, "started_at")));
	ck_assert(is_time(json_object_get(j, "finished_at")));
	ck_assert_int_lt(tl_jint(j, "steps_done"), 1000000000);
	ck_assert_int_eq(tl_jint(j, "steps_total"), 1000000000);
	json_decref(j);
	j = tl_jget(tl_jpath(job));
	ck_assert_str_eq(tl_jstr(j, "status"), "cancelled");
	json_decref(j);
	REJECT("DELETE", tl_jpath(job), NULL, 409, "job_finished");
	REJECT("DELETE", tl_jpath(job2), NULL, 409, "job_finished");

	/* the model is free again and its step matches its history */
	m = tl_jget(tl_mpath(id, ""));
	ck_assert_str_eq(tl_jstr(m, "status"), "idle");
	r = tl_jget(tl_mpath(id, "/loss?limit=10000"));
	ck_assert_int_eq(tl_jint(r, "next_since"), tl_jint(m, "step"));
	json_decref(r);
	json_decref(m);
	ck_assert_int_eq(tl_jreq("DELETE", tl_mpath(id, "/batches"), NULL,
	    NULL), 204);
}
END_TEST

/* Deleting a model while it trains stops the job and forgets it. */
START_TEST(test_delete_while_training)
{
	char id[32], job[32];
	json_t *r;

	slow_model(id);
	tl_start_job(id, "{\"steps\": 1000000000}", job);
	json_decref(tl_wait_job(job, "running", NULL, 10.0));
	ck_assert_int_eq(tl_jreq("DELETE", tl_mpath(id, ""), NULL, NULL), 204);
	REJECT("GET", tl_jpath(job), NULL, 404, "job_not_found");
	REJECT("GET", tl_mpath(id, "/jobs"), NULL, 404, "model_not_found");
	r = tl_jget("/v1/models");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "models")), 0);
	json_decref(r);
}
END_TEST

/* A job whose loss overflows ends "failed" with the step in its error,
 * and leaves the model as it was. */
START_TEST(test_job_failed)
{
	char id[32], job[32];
	json_t *j, *m;

	tl_new_model("{\"layers\": [1, 1], \"activation\": \"linear\"}", id);
	json_decref(tl_jexpect("PUT", tl_mpath(id, "/weights"), "{\"layers\": "
	    "[{\"weights\": [[1e20]], \"biases\": [0]}]}", 200));
	tl_push(id, "{\"inputs\": [[1e30]], \"targets\": [[0]]}");
	tl_start_job(id, "{\"steps\": 10}", job);
	j = tl_wait_job(job, "failed", "succeeded", 10.0);
	ck_assert_str_eq(tl_jstr(j, "status"), "failed");
	ck_assert_msg(strncmp(tl_jstr(j, "error"), "diverged at step 1",
	    18) == 0, "error: %s", tl_jstr(j, "error"));
	ck_assert_int_eq(tl_jint(j, "steps_done"), 0);
	ck_assert(is_time(json_object_get(j, "finished_at")));
	json_decref(j);
	tl_wait_model_idle(id, 10.0);
	m = tl_jget(tl_mpath(id, ""));
	ck_assert_int_eq(tl_jint(m, "step"), 0);
	json_decref(m);
	REJECT("DELETE", tl_jpath(job), NULL, 409, "job_finished");
}
END_TEST

/* Regression: a second job of a model waits until the first ends
 * (trainer.h: "tasks of one model run in the order they came"), even when
 * the first yields its slices to another model's task, and that other
 * task is not starved by the yielding job. */
START_TEST(test_job_order)
{
	char id[32], other[32], job[32], job2[32];
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	json_t *j;

	slow_model(id);
	tl_new_model("{\"layers\": [2, 1]}", other);
	tl_start_job(id, "{\"steps\": 1000000000}", job);
	json_decref(tl_wait_job(job, "running", NULL, 10.0));
	tl_start_job(id, "{\"steps\": 5}", job2);
	/* a task of another model makes the running job yield */
	json_decref(tl_jexpect("POST", tl_mpath(other, "/step"), "{\"inputs\": "
	    "[[1, 0]], \"targets\": [[1]]}", 200));
	for (int i = 0; i < 25; i++) {
		nanosleep(&nap, NULL);
		j = tl_jget(tl_jpath(job2));
		ck_assert_msg(strcmp(tl_jstr(j, "status"), "queued") == 0,
		    "job %s of model %s is %s while job %s of the same model "
		    "is still running", job2, id, tl_jstr(j, "status"), job);
		json_decref(j);
	}
	json_decref(tl_jexpect("DELETE", tl_jpath(job), NULL, 200));
}
END_TEST

/* Regression: once a job reads "succeeded", its result is visible: the
 * model's step, status, loss history and predictions (the final status is
 * stored with the last checkpoint and shown only after it). Tight polling
 * would catch a window. */
START_TEST(test_job_result)
{
	char id[32], job[32];
	json_int_t want = 0;

	tl_new_model("{\"layers\": [2, 4, 1], \"seed\": 1}", id);
	tl_push(id, XOR_BATCH);
	for (int i = 0; i < 20; i++) {
		json_t *j, *m;

		tl_start_job(id, "{\"steps\": 300}", job);
		want += 300;
		for (;;) {
			const char *st;

			j = tl_jget(tl_jpath(job));
			st = tl_jstr(j, "status");
			if (strcmp(st, "queued") != 0 &&
			    strcmp(st, "running") != 0)
				break;
			json_decref(j);
		}
		ck_assert_str_eq(tl_jstr(j, "status"), "succeeded");
		json_decref(j);
		m = tl_jget(tl_mpath(id, ""));
		ck_assert_msg(tl_jint(m, "step") == want && strcmp(tl_jstr(m,
		    "status"), "idle") == 0, "job %s succeeded but model %s "
		    "is at step %lld (want %lld), status %s", job, id,
		    (long long)tl_jint(m, "step"), (long long)want,
		    tl_jstr(m, "status"));
		json_decref(m);
	}
}
END_TEST

/* Regression: GET .../weights prints FLT_MAX as 3.40282347e38 (%.9g),
 * which is a little above FLT_MAX as a double yet rounds to it: PUT must
 * take that text back. */
START_TEST(test_flt_max)
{
	char id[32], *w;

	tl_new_model("{\"layers\": [1, 1], \"activation\": \"linear\"}", id);
	ck_assert_int_eq(tl_jreq("PUT", tl_mpath(id, "/weights"),
	    "{\"layers\": "
	    "[{\"weights\": [[3.4028234e38]], \"biases\": [0]}]}", NULL),
	    200);
	ck_assert_int_eq(tl_jreq("GET", tl_mpath(id, "/weights"), NULL, &w),
	    200);
	ck_assert_int_eq(tl_jreq("PUT", tl_mpath(id, "/weights"), w, NULL),
	    200);
	free(w);
	ck_assert_int_eq(tl_jreq("PUT", tl_mpath(id, "/weights"),
	    "{\"layers\": "
	    "[{\"weights\": [[3.40282347e+38]], \"biases\": [0]}]}", NULL),
	    200);
}
END_TEST

/* ---------------------------------------------------------------------
 * Errors; every one of them must leave the state as it was
 * ------------------------------------------------------------------ */

/* A model with data, a step and a finished job, so that the state the
 * rejections must not touch is not trivial. */
static void
busy_world(char id[32])
{
	char job[32];

	tl_new_model("{\"layers\": [2, 3, 1], \"name\": \"w\", \"seed\": 4}",
	    id);
	tl_push(id, XOR_BATCH);
	json_decref(tl_jexpect("POST", tl_mpath(id, "/step"), XOR_BATCH, 200));
	tl_start_job(id, "{\"steps\": 10}", job);
	json_decref(tl_wait_job(job, "succeeded", NULL, 10.0));
}

START_TEST(test_400_malformed)
{
	char id[32];

	busy_world(id);
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1]", 400,
	    "malformed_json");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1]} x", 400,
	    "malformed_json");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1]}{}", 400,
	    "malformed_json");
	REJECT("POST", "/v1/models", "{layers: [2, 1]}", 400,
	    "malformed_json");
	REJECT("POST", "/v1/models", "{\"name\": \"\xff\xfe\", \"layers\": "
	    "[2, 1]}", 400, "malformed_json");
	REJECT("POST", "/v1/models", " ", 400, "malformed_json");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 0]], "
	    "\"targets\": [[1]],}", 400, "malformed_json");
	REJECT("POST", tl_mpath(id, "/step"), "{\"inputs\": [[0, 0]] "
	    "\"targets\": [[1]]}", 400, "malformed_json");
	REJECT("POST", tl_mpath(id, "/train"), "{\"steps\": 5} ]", 400,
	    "malformed_json");
	REJECT("PUT", tl_mpath(id, "/weights"), "{", 400, "malformed_json");
	REJECT("POST", tl_mpath(id, "/predict"), "{\"input\": [0, 0]", 400,
	    "malformed_json");
}
END_TEST

START_TEST(test_400_fields)
{
	char id[32];

	busy_world(id);
	/* wrong_type */
	REJECT("POST", "/v1/models", "[2, 1]", 400, "wrong_type");
	REJECT("POST", "/v1/models", "{\"layers\": \"2,1\"}", 400,
	    "wrong_type");
	REJECT("POST", "/v1/models", "{\"layers\": [2, \"1\"]}", 400,
	    "wrong_type");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1.5]}", 400,
	    "wrong_type");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], \"name\": 5}", 400,
	    "wrong_type");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], \"seed\": \"1\"}",
	    400, "wrong_type");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], \"learning_rate\": "
	    "\"fast\"}", 400, "wrong_type");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": \"x\", "
	    "\"targets\": [[1]]}", 400, "wrong_type");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, \"0\"]], "
	    "\"targets\": [[1]]}", 400, "wrong_type");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [5], "
	    "\"targets\": [[1]]}", 400, "wrong_type");
	REJECT("POST", tl_mpath(id, "/train"), "{\"shuffle\": 1}", 400,
	    "wrong_type");
	REJECT("POST", tl_mpath(id, "/train"), "{\"steps\": 2.5}", 400,
	    "wrong_type");
	REJECT("POST", tl_mpath(id, "/train"), "[]", 400, "wrong_type");
	REJECT("PUT", tl_mpath(id, "/weights"), "{\"layers\": {}}", 400,
	    "wrong_type");
	REJECT("POST", tl_mpath(id, "/predict"), "{\"input\": [null, 0]}", 400,
	    "wrong_type");

	/* unknown_field */
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], \"colour\": "
	    "\"red\"}", 400, "unknown_field");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 0]], "
	    "\"targets\": [[1]], \"learning_rate\": 0.1}", 400,
	    "unknown_field");
	REJECT("POST", tl_mpath(id, "/step"), "{\"inputs\": [[0, 0]], "
	    "\"targets\": [[1]], \"lr\": 0.1}", 400, "unknown_field");
	REJECT("POST", tl_mpath(id, "/train"), "{\"epoch\": 1}", 400,
	    "unknown_field");
	REJECT("POST", tl_mpath(id, "/predict"), "{\"input\": [0, 0], "
	    "\"x\": 1}", 400, "unknown_field");

	/* duplicate_key */
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], \"layers\": "
	    "[2, 1]}", 400, "duplicate_key");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 0]], "
	    "\"targets\": [[1]], \"targets\": [[0]]}", 400, "duplicate_key");
	REJECT("POST", tl_mpath(id, "/train"), "{\"steps\": 1, \"steps\": 2}",
	    400, "duplicate_key");

	/* missing_field */
	REJECT("POST", "/v1/models", "{}", 400, "missing_field");
	REJECT("POST", "/v1/models", "{\"name\": \"no layers\"}", 400,
	    "missing_field");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 0]]}", 400,
	    "missing_field");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"targets\": [[0]]}", 400,
	    "missing_field");
	REJECT("POST", tl_mpath(id, "/step"), "{}", 400, "missing_field");
	REJECT("PUT", tl_mpath(id, "/weights"), "{\"step\": 1}", 400,
	    "missing_field");
	REJECT("POST", tl_mpath(id, "/predict"), "{}", 400, "missing_field");

	/* invalid_query */
	REJECT("GET", tl_mpath(id, "/loss?limit=abc"), NULL, 400,
	    "invalid_query");
	REJECT("GET", tl_mpath(id, "/loss?limit=10001"), NULL, 400,
	    "invalid_query");
	REJECT("GET", tl_mpath(id, "/loss?limit=-1"), NULL, 400,
	    "invalid_query");
	REJECT("GET", tl_mpath(id, "/loss?since=x"), NULL, 400,
	    "invalid_query");
	REJECT("GET", tl_mpath(id, "/loss?since=-1"), NULL, 400,
	    "invalid_query");
	REJECT("GET", tl_mpath(id, "/loss?since=1&limit="), NULL, 400,
	    "invalid_query");
}
END_TEST

START_TEST(test_404)
{
	static const struct {
		const char *method, *rest, *body;
	} sub[] = {
		{ "GET", "", NULL },
		{ "DELETE", "", NULL },
		{ "GET", "/weights", NULL },
		{ "PUT", "/weights", "{\"layers\": []}" },
		{ "POST", "/batches", XOR_BATCH },
		{ "GET", "/batches", NULL },
		{ "DELETE", "/batches", NULL },
		{ "POST", "/step", XOR_BATCH },
		{ "POST", "/train", "{}" },
		{ "GET", "/jobs", NULL },
		{ "POST", "/predict", "{\"input\": [0, 0]}" },
		{ "GET", "/loss", NULL },
	};
	char id[32];

	busy_world(id);
	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		REJECT(sub[i].method, tl_mpath(NO_MODEL, sub[i].rest),
		    sub[i].body, 404, "model_not_found");
		REJECT(sub[i].method, tl_mpath("not-an-id", sub[i].rest),
		    sub[i].body, 404, "model_not_found");
	}
	REJECT("GET", tl_jpath(NO_JOB), NULL, 404, "job_not_found");
	REJECT("DELETE", tl_jpath(NO_JOB), NULL, 404, "job_not_found");
	REJECT("GET", tl_jpath(id), NULL, 404, "job_not_found");
	REJECT("GET", "/v1/nothing", NULL, 404, "route_not_found");
	REJECT("GET", "/no/such/route", NULL, 404, "route_not_found");
	REJECT("GET", "/v2/models", NULL, 404, "route_not_found");
	REJECT("GET", tl_mpath(id, "/weights/extra"), NULL, 404,
	    "route_not_found");
	REJECT("POST", "/v1/models/", "{\"layers\": [2, 1]}", 404,
	    "route_not_found");
	REJECT("GET", "/v1/jobs", NULL, 404, "route_not_found");
}
END_TEST

/* Allow lists exactly the methods in want (any order): a path with GET
 * takes HEAD too. */
static void
check_allow(const char *allow, int n, ...)
{
	va_list ap;
	char copy[256], *save = NULL;
	int count = 0;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *m = va_arg(ap, const char *);
		int found = 0;

		snprintf(copy, sizeof copy, "%s", allow);
		for (char *t = strtok_r(copy, ", ", &save); t;
		    t = strtok_r(NULL, ", ", &save))
			if (strcmp(t, m) == 0)
				found = 1;
		ck_assert_msg(found, "Allow '%s' lacks %s", allow, m);
	}
	va_end(ap);
	snprintf(copy, sizeof copy, "%s", allow);
	for (char *t = strtok_r(copy, ", ", &save); t;
	    t = strtok_r(NULL, ", ", &save))
		count++;
	ck_assert_msg(count == n, "Allow '%s' should list %d methods", allow,
	    n);
}

START_TEST(test_405)
{
	char id[32];

	busy_world(id);
	REJECT("PATCH", "/v1/models", NULL, 405, "method_not_allowed");
	check_allow(g_rej_allow, 3, "GET", "HEAD", "POST");
	REJECT("DELETE", "/healthz", NULL, 405, "method_not_allowed");
	check_allow(g_rej_allow, 2, "GET", "HEAD");
	REJECT("DELETE", "/v1/models", NULL, 405, "method_not_allowed");
	check_allow(g_rej_allow, 3, "GET", "HEAD", "POST");
	REJECT("PUT", tl_mpath(id, ""), "{\"layers\": [2, 1]}", 405,
	    "method_not_allowed");
	check_allow(g_rej_allow, 3, "GET", "HEAD", "DELETE");
	REJECT("POST", tl_mpath(id, "/weights"), "{}", 405,
	    "method_not_allowed");
	check_allow(g_rej_allow, 3, "GET", "HEAD", "PUT");
	REJECT("GET", tl_mpath(id, "/step"), NULL, 405, "method_not_allowed");
	check_allow(g_rej_allow, 1, "POST");
	REJECT("PUT", tl_mpath(id, "/batches"), XOR_BATCH, 405,
	    "method_not_allowed");
	check_allow(g_rej_allow, 4, "GET", "HEAD", "POST",
	    "DELETE");
	REJECT("POST", tl_jpath(NO_JOB), NULL, 405, "method_not_allowed");
	check_allow(g_rej_allow, 3, "GET", "HEAD", "DELETE");
	REJECT("DELETE", tl_mpath(id, "/loss"), NULL, 405,
	    "method_not_allowed");
	check_allow(g_rej_allow, 2, "GET", "HEAD");
}
END_TEST

START_TEST(test_409)
{
	char id[32], fresh[32], job[32];

	busy_world(id);
	tl_new_model("{\"layers\": [2, 1]}", fresh);
	REJECT("POST", tl_mpath(fresh, "/train"), "{}", 409,
	    "no_training_data");
	REJECT("POST", tl_mpath(fresh, "/train"), NULL, 409,
	    "no_training_data");

	/* no data again after the data is dropped */
	tl_push(fresh, "{\"inputs\": [[1, 1]], \"targets\": [[1]]}");
	ck_assert_int_eq(tl_jreq("DELETE", tl_mpath(fresh, "/batches"), NULL,
	    NULL), 204);
	REJECT("POST", tl_mpath(fresh, "/train"), "{\"steps\": 3}", 409,
	    "no_training_data");

	/* finished jobs cannot be cancelled */
	tl_push(fresh, "{\"inputs\": [[1, 1]], \"targets\": [[1]]}");
	tl_start_job(fresh, "{\"steps\": 3}", job);
	json_decref(tl_wait_job(job, "succeeded", NULL, 10.0));
	tl_wait_model_idle(fresh, 10.0);
	REJECT("DELETE", tl_jpath(job), NULL, 409, "job_finished");
}
END_TEST

START_TEST(test_415)
{
	char id[32];

	busy_world(id);
	reject_ct("POST", "/v1/models", "text/plain", "{\"layers\": [2, 1]}",
	    0, 415, "unsupported_media_type", __LINE__);
	reject_ct("POST", "/v1/models", "application/x-www-form-urlencoded",
	    "{\"layers\": [2, 1]}", 0, 415, "unsupported_media_type",
	    __LINE__);
	reject_ct("POST", "/v1/models", NULL, "{\"layers\": [2, 1]}", 0, 415,
	    "unsupported_media_type", __LINE__);
	reject_ct("POST", "/v1/models", "application/jsonx",
	    "{\"layers\": [2, 1]}", 0, 415, "unsupported_media_type",
	    __LINE__);
	reject_ct("POST", tl_mpath(id, "/batches"), "text/plain", XOR_BATCH, 0,
	    415, "unsupported_media_type", __LINE__);
	reject_ct("POST", tl_mpath(id, "/step"), "text/csv", XOR_BATCH, 0, 415,
	    "unsupported_media_type", __LINE__);
	reject_ct("PUT", tl_mpath(id, "/weights"), "text/plain", "{}", 0, 415,
	    "unsupported_media_type", __LINE__);
	reject_ct("POST", tl_mpath(id, "/train"), "text/plain", "{}", 0, 415,
	    "unsupported_media_type", __LINE__);
	reject_ct("POST", tl_mpath(id, "/predict"), "text/plain",
	    "{\"input\": [0, 0]}", 0, 415, "unsupported_media_type", __LINE__);
}
END_TEST

START_TEST(test_422_models)
{
	char id[32];

	busy_world(id);
	REJECT("POST", "/v1/models", "{\"layers\": [2, 0, 1]}", 422,
	    "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 65537, 1]}", 422,
	    "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, -3, 1]}", 422,
	    "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2]}", 422,
	    "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": []}", 422,
	    "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [1, 1, 1, 1, 1, 1, 1, 1, "
	    "1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"learning_rate\": 0}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"learning_rate\": -0.5}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"learning_rate\": 1000001}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"momentum\": 1}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"momentum\": -0.1}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"seed\": -1}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"seed\": 9007199254740993}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"activation\": \"softplus\"}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 3, 1], "
	    "\"activation\": [\"tanh\"]}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"loss\": \"hinge\"}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"optimizer\": \"lbfgs\"}", 422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 3, 2], \"loss\": "
	    "\"cross_entropy\", \"activation\": [\"relu\", \"sigmoid\"]}",
	    422, "invalid_value");
	REJECT("POST", "/v1/models", "{\"layers\": [1, 1], \"name\": "
	    "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxx\"}", 422, "invalid_value");
	/* a number past float32 and one past double */
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"learning_rate\": 1e39}", 422, "non_finite");
	REJECT("POST", "/v1/models", "{\"layers\": [2, 1], "
	    "\"learning_rate\": 1e400}", 422, "non_finite");
}
END_TEST

START_TEST(test_422_data)
{
	char id[32];

	busy_world(id);
	/* ragged rows, wrong widths, empty, count mismatch */
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 0], [1]], "
	    "\"targets\": [[0], [1]]}", 422, "invalid_value");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 0, 0]], "
	    "\"targets\": [[0]]}", 422, "invalid_value");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 0]], "
	    "\"targets\": [[0, 1]]}", 422, "invalid_value");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 0]], "
	    "\"targets\": [[]]}", 422, "invalid_value");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [], "
	    "\"targets\": []}", 422, "invalid_value");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 0], "
	    "[1, 1]], \"targets\": [[0]]}", 422, "invalid_value");
	/* non-finite values */
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 1e39]], "
	    "\"targets\": [[0]]}", 422, "non_finite");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 0]], "
	    "\"targets\": [[-1e39]]}", 422, "non_finite");
	REJECT("POST", tl_mpath(id, "/batches"), "{\"inputs\": [[0, 1e400]], "
	    "\"targets\": [[0]]}", 422, "non_finite");

	/* the same for a step, plus its learning rate */
	REJECT("POST", tl_mpath(id, "/step"), "{\"inputs\": [[0, 0], [1]], "
	    "\"targets\": [[0], [1]]}", 422, "invalid_value");
	REJECT("POST", tl_mpath(id, "/step"), "{\"inputs\": [], "
	    "\"targets\": []}", 422, "invalid_value");
	REJECT("POST", tl_mpath(id, "/step"), "{\"inputs\": [[0, 0]], "
	    "\"targets\": [[0], [1]]}", 422, "invalid_value");
	REJECT("POST", tl_mpath(id, "/step"), "{\"inputs\": [[1e39, 0]], "
	    "\"targets\": [[0]]}", 422, "non_finite");
	REJECT("POST", tl_mpath(id, "/step"), "{\"inputs\": [[0, 0]], "
	    "\"targets\": [[0]], \"learning_rate\": 0}", 422, "invalid_value");
	REJECT("POST", tl_mpath(id, "/step"), "{\"inputs\": [[0, 0]], "
	    "\"targets\": [[0]], \"learning_rate\": -1}", 422,
	    "invalid_value");

	/* train options */
	REJECT("POST", tl_mpath(id, "/train"), "{\"learning_rate\": 0}", 422,
	    "invalid_value");
	REJECT("POST", tl_mpath(id, "/train"), "{\"learning_rate\": -2}", 422,
	    "invalid_value");
	REJECT("POST", tl_mpath(id, "/train"), "{\"epochs\": 0}", 422,
	    "invalid_value");
	REJECT("POST", tl_mpath(id, "/train"), "{\"epochs\": 1000001}", 422,
	    "invalid_value");
	REJECT("POST", tl_mpath(id, "/train"), "{\"steps\": 0}", 422,
	    "invalid_value");
	REJECT("POST", tl_mpath(id, "/train"), "{\"steps\": 1000000001}", 422,
	    "invalid_value");
	REJECT("POST", tl_mpath(id, "/train"), "{\"batch_size\": 0}", 422,
	    "invalid_value");
	REJECT("POST", tl_mpath(id, "/train"), "{\"batch_size\": 65537}", 422,
	    "invalid_value");

	/* predict */
	REJECT("POST", tl_mpath(id, "/predict"), "{\"input\": [0]}", 422,
	    "invalid_value");
	REJECT("POST", tl_mpath(id, "/predict"), "{\"inputs\": [[0, 0], [1]]}",
	    422, "invalid_value");
	REJECT("POST", tl_mpath(id, "/predict"), "{\"inputs\": []}", 422,
	    "invalid_value");
	REJECT("POST", tl_mpath(id, "/predict"), "{\"input\": [1e39, 0]}", 422,
	    "non_finite");
}
END_TEST

START_TEST(test_422_weights)
{
	char id[32];

	busy_world(id); /* layers [2, 3, 1] */
	/* one layer too few */
	REJECT("PUT", tl_mpath(id, "/weights"), "{\"layers\": [{\"weights\": "
	    "[[1, 2], [3, 4], [5, 6]], \"biases\": [1, 2, 3]}]}", 422,
	    "invalid_value");
	/* a weight row too few */
	REJECT("PUT", tl_mpath(id, "/weights"), "{\"layers\": [{\"weights\": "
	    "[[1, 2], [3, 4]], \"biases\": [1, 2, 3]}, {\"weights\": "
	    "[[1, 2, 3]], \"biases\": [0]}]}", 422, "invalid_value");
	/* a row too wide */
	REJECT("PUT", tl_mpath(id, "/weights"), "{\"layers\": [{\"weights\": "
	    "[[1, 2], [3, 4], [5, 6, 7]], \"biases\": [1, 2, 3]}, "
	    "{\"weights\": [[1, 2, 3]], \"biases\": [0]}]}", 422,
	    "invalid_value");
	/* biases too short, in the last layer */
	REJECT("PUT", tl_mpath(id, "/weights"), "{\"layers\": [{\"weights\": "
	    "[[1, 2], [3, 4], [5, 6]], \"biases\": [1, 2, 3]}, "
	    "{\"weights\": [[1, 2, 3]], \"biases\": []}]}", 422,
	    "invalid_value");
	/* transposed */
	REJECT("PUT", tl_mpath(id, "/weights"), "{\"layers\": [{\"weights\": "
	    "[[1, 2, 3], [4, 5, 6]], \"biases\": [1, 2, 3]}, "
	    "{\"weights\": [[1], [2], [3]], \"biases\": [0]}]}", 422,
	    "invalid_value");
	/* the right shape with an overflowing value */
	REJECT("PUT", tl_mpath(id, "/weights"), "{\"layers\": [{\"weights\": "
	    "[[1, 2], [3, 4], [5, 6]], \"biases\": [1, 2, 3]}, "
	    "{\"weights\": [[1, 2, 3]], \"biases\": [1e39]}]}", 422,
	    "non_finite");
	/* ... which is accepted once it is finite */
	json_decref(tl_jexpect("PUT", tl_mpath(id, "/weights"), "{\"layers\": "
	    "[{\"weights\": [[1, 2], [3, 4], [5, 6]], \"biases\": [1, 2, 3]}, "
	    "{\"weights\": [[1, 2, 3]], \"biases\": [1e38]}]}", 200));
}
END_TEST

/* Bodies over the cap, with and without a Content-Length. */
START_TEST(test_413)
{
	char id[32], *big, *resp;
	tl_request rq = { "POST", "/v1/models", "application/json", NULL, 0,
		1, NULL, 0 };
	json_t *m;
	size_t n = 5000;

	busy_world(id);
	/* a valid body padded with blanks to n bytes */
	big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', n);
	memcpy(big, "{\"layers\": [2, 1]", 17);
	big[n - 1] = '}';
	big[n] = '\0';
	REJECT("POST", "/v1/models", big, 413, "body_too_large");
	reject_ct("POST", "/v1/models", "application/json", big, 1, 413,
	    "body_too_large", __LINE__);
	REJECT("POST", tl_mpath(id, "/batches"), big, 413, "body_too_large");
	/* with Expect: 100-continue the answer comes from the headers alone
	 * (curl sends no body); without it the body is sent and dropped */
	for (int expect = 0; expect < 2; expect++) {
		const char *h = expect ? "Expect: 100-continue" : "Expect:";
		char *before = tl_world(NULL, NULL), *after;

		ck_assert_int_eq(tl_req_h("PUT", tl_mpath(id, "/weights"),
		    "application/json", big, h, &resp), 413);
		check_error_body(resp, "body_too_large", __LINE__);
		free(resp);
		after = tl_world(NULL, NULL);
		ck_assert_str_eq(before, after);
		free(before);
		free(after);
	}

	/* exactly at the cap is fine, chunked or not */
	big[4096] = '\0';
	big[4095] = '}';
	ck_assert_int_eq(tl_jreq("POST", "/v1/models", big, &resp), 201);
	free(resp);
	rq.body = big;
	rq.len = strlen(big);
	ck_assert_int_eq(tl_send(&rq, &resp), 201);
	m = tl_parse(resp);
	free(resp);
	ck_assert(int_list_is(json_object_get(m, "layers"), 2, 2, 1));
	json_decref(m);
	free(big);
}
END_TEST

/* 503 queue_full with Retry-After: 1 once max_queue jobs wait. */
START_TEST(test_503_queue_full)
{
	char id[32], small[32], job[32], job2[32], *resp;
	json_t *r;

	slow_model(id);
	tl_new_model("{\"layers\": [2, 1]}", small);
	tl_push(small, "{\"inputs\": [[1, 1]], \"targets\": [[1]]}");
	tl_start_job(id, "{\"steps\": 1000000000}", job);
	json_decref(tl_wait_job(job, "running", NULL, 10.0));
	tl_start_job(id, "{\"steps\": 1}", job2); /* queued behind job */
	/* a job is running, so the state moves: check the parts that must
	 * not (the job lists) by hand */
	ck_assert_int_eq(tl_req("POST", tl_mpath(small, "/train"),
	    "application/json", "{}", &resp), 503);
	ck_assert_str_eq(tl_header("Retry-After"), "1");
	check_error_body(resp, "queue_full", __LINE__);
	free(resp);
	ck_assert_int_eq(tl_req("POST", tl_mpath(id, "/train"),
	    "application/json", "{\"steps\": 2}", &resp), 503);
	ck_assert_str_eq(tl_header("Retry-After"), "1");
	check_error_body(resp, "queue_full", __LINE__);
	free(resp);
	r = tl_jget(tl_mpath(id, "/jobs"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 2);
	json_decref(r);
	r = tl_jget(tl_mpath(small, "/jobs"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 0);
	json_decref(r);
	/* room again once the queued job is gone */
	json_decref(tl_jexpect("DELETE", tl_jpath(job2), NULL, 200));
	tl_start_job(small, "{\"steps\": 1}", job2);
	json_decref(tl_wait_job(job2, "succeeded", NULL, 10.0));
	json_decref(tl_jexpect("DELETE", tl_jpath(job), NULL, 200));
}
END_TEST

static Suite *
api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc;

	tc = tcase_create("happy");
	tcase_add_checked_fixture(tc, tl_setup, tl_stop);
	tcase_add_test(tc, test_healthz);
	tcase_add_test(tc, test_sqlite_no_peers);
	tcase_add_test(tc, test_create_defaults);
	tcase_add_test(tc, test_create_all_options);
	tcase_add_test(tc, test_list_and_delete);
	tcase_add_test(tc, test_weights_round_trip);
	tcase_add_test(tc, test_predict_exact);
	tcase_add_test(tc, test_batches);
	tcase_add_test(tc, test_step_and_loss_history);
	tcase_add_test(tc, test_train_xor);
	tcase_add_test(tc, test_cancel_and_busy);
	tcase_add_test(tc, test_delete_while_training);
	tcase_add_test(tc, test_job_failed);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, tl_setup, tl_stop);
	tcase_add_test(tc, test_400_malformed);
	tcase_add_test(tc, test_400_fields);
	tcase_add_test(tc, test_404);
	tcase_add_test(tc, test_405);
	tcase_add_test(tc, test_409);
	tcase_add_test(tc, test_415);
	tcase_add_test(tc, test_422_models);
	tcase_add_test(tc, test_422_data);
	tcase_add_test(tc, test_422_weights);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("body_cap");
	tcase_add_checked_fixture(tc, setup_small_body, tl_stop);
	tcase_add_test(tc, test_413);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("queue");
	tcase_add_checked_fixture(tc, setup_small_queue, tl_stop);
	tcase_add_test(tc, test_503_queue_full);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	/* regressions: job order, job results, float32 edge values */
	tc = tcase_create("regressions");
	tcase_add_checked_fixture(tc, tl_setup, tl_stop);
	tcase_add_test(tc, test_job_order);
	tcase_add_test(tc, test_job_result);
	tcase_add_test(tc, test_flt_max);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_main(api_suite(), LOG_ERROR);
}
