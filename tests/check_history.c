/*
 * check_history: Check tests of the loss history a dashboard polls
 * (GET /v1/models/{id}/loss with every=K, format=csv and
 * series=validation), of the ETags on loss and model answers, and of the
 * validation sets of /train and /step, against a daemon started
 * in-process and spoken to with libcurl only (tests/testlib.h).
 *
 * Windows are checked against the raw points of the same history; CSV
 * against the JSON of the same query; validation points against the
 * model's own predictions on the validation rows; validation_split by
 * training twice from one seed, the second time with the held-out rows
 * poisoned: the weights come out bit for bit the same, so those rows were
 * never trained on.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testlib.h"

/* XOR with one-hot targets: class 0 = "equal", class 1 = "different" */
#define XOR_IN "[[0,0],[0,1],[1,0],[1,1]]"
#define XOR_1HOT "[[1,0],[0,1],[0,1],[1,0]]"

/* Requires status want and error code from method path body, and no
 * ETag on the error. */
static void
expect_error(const char *method, const char *path, const char *body,
	     long want, const char *code)
{
	char *resp, what[300];
	long st = tl_jreq(method, path, body, &resp);

	snprintf(what, sizeof what, "%s %s", method, path);
	ck_assert_msg(st == want, "%s: want %ld, got %ld %.300s", what, want,
	    st, resp);
	tl_check_error(resp, strlen(resp), code, what);
	ck_assert_msg(tl_header("ETag")[0] == '\0', "%s: an error with an "
	    "ETag", what);
	free(resp);
}

/* GET path with If-None-Match inm (NULL: none): the status; *resp (when
 * not NULL) gets the body. */
static long
get_inm(const char *path, const char *inm, char **resp)
{
	char hdr[256];

	snprintf(hdr, sizeof hdr, "If-None-Match: %s", inm ? inm : "");
	return tl_req_h("GET", path, NULL, NULL, inm ? hdr : NULL, resp);
}

/* The "points" of GET path (a new reference). */
static json_t *
points(const char *path)
{
	json_t *doc = tl_jget(path), *p = json_object_get(doc, "points");

	ck_assert_msg(json_is_array(p), "GET %s: no points", path);
	json_incref(p);
	json_decref(doc);
	return p;
}

/* Relative closeness for means computed in two places. */
static int
near(double a, double b, double rel)
{
	return fabs(a - b) <= rel * fmax(1e-12, fmax(fabs(a), fabs(b)));
}

/* ---------------------------------------------------------------------
 * every=K
 * ------------------------------------------------------------------ */

/* Checks one window against the raw points (raw[i] has step i + 1):
 * window w (1-based) of K steps. */
static void
check_window(json_t *raw, json_t *win, json_int_t w, json_int_t K)
{
	json_int_t first = (w - 1) * K + 1, last = w * K;
	json_int_t nraw = (json_int_t)json_array_size(raw);
	double sum = 0, mn = INFINITY, mx = -INFINITY;
	int cnt = 0;
	const char *t = NULL;

	if (last > nraw)
		last = nraw;
	for (json_int_t s = first; s <= last; s++) {
		json_t *p = json_array_get(raw, (size_t)(s - 1));
		double l = tl_jnum(p, "loss");

		ck_assert_int_eq(tl_jint(p, "step"), s);
		sum += l;
		mn = fmin(mn, l);
		mx = fmax(mx, l);
		cnt++;
		t = tl_jstr(p, "time");
	}
	ck_assert_int_gt(cnt, 0);
	ck_assert_msg(tl_jint(win, "step") == last, "K=%lld window %lld: step "
	    "%lld, want %lld", (long long)K, (long long)w,
	    (long long)tl_jint(win, "step"), (long long)last);
	ck_assert_msg(near(tl_jnum(win, "loss"), sum / cnt, 1e-6), "K=%lld "
	    "window %lld: mean %.9g, want %.9g", (long long)K, (long long)w,
	    tl_jnum(win, "loss"), sum / cnt);
	/* min and max are stored values, printed the same way: exact */
	ck_assert_msg(tl_jnum(win, "min") == mn && tl_jnum(win, "max") == mx,
	    "K=%lld window %lld: min/max %.9g/%.9g, want %.9g/%.9g",
	    (long long)K, (long long)w, tl_jnum(win, "min"),
	    tl_jnum(win, "max"), mn, mx);
	ck_assert_str_eq(tl_jstr(win, "time"), t);
	ck_assert_ptr_null(json_object_get(win, "accuracy"));
}

START_TEST(test_every_windows)
{
	static const json_int_t ks[] = { 1, 2, 5, 7, 10, 52, 53, 60, 1000000 };
	char id[32], path[64];
	json_t *raw, *w, *doc;

	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 7, "
	    "\"learning_rate\": 0.5}", id);
	tl_push(id, XOR_BATCH);
	ck_assert_int_eq(tl_train(id, "{\"steps\": 53, \"batch_size\": 2}"),
	    53);
	raw = points(tl_mpath(id, "/loss?limit=10000"));
	ck_assert_int_eq(json_array_size(raw), 53);

	for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
		json_int_t K = ks[i], nwin = (53 + K - 1) / K;

		snprintf(path, sizeof path, "/loss?every=%lld&limit=10000",
		    (long long)K);
		doc = tl_jget(tl_mpath(id, path));
		w = json_object_get(doc, "points");
		ck_assert_int_eq(json_array_size(w), nwin);
		for (json_int_t k = 0; k < nwin; k++)
			check_window(raw, json_array_get(w, (size_t)k), k + 1,
			    K);
		ck_assert_int_eq(tl_jint(doc, "next_since"), 53);
		json_decref(doc);
	}

	/* since counts steps: the window holding step since+1 comes whole */
	doc = tl_jget(tl_mpath(id, "/loss?every=5&since=12&limit=2"));
	w = json_object_get(doc, "points");
	ck_assert_int_eq(json_array_size(w), 2);
	check_window(raw, json_array_get(w, 0), 3, 5);
	check_window(raw, json_array_get(w, 1), 4, 5);
	ck_assert_int_eq(tl_jint(doc, "next_since"), 20);
	json_decref(doc);
	/* paging on from next_since */
	doc = tl_jget(tl_mpath(id, "/loss?every=5&since=20&limit=1"));
	w = json_object_get(doc, "points");
	ck_assert_int_eq(json_array_size(w), 1);
	check_window(raw, json_array_get(w, 0), 5, 5);
	ck_assert_int_eq(tl_jint(doc, "next_since"), 25);
	json_decref(doc);
	/* the last, partial window: steps 51..53 */
	doc = tl_jget(tl_mpath(id, "/loss?every=5&since=50"));
	w = json_object_get(doc, "points");
	ck_assert_int_eq(json_array_size(w), 1);
	check_window(raw, json_array_get(w, 0), 11, 5);
	json_decref(doc);
	/* nothing after the last step */
	doc = tl_jget(tl_mpath(id, "/loss?every=5&since=53"));
	ck_assert_int_eq(json_array_size(json_object_get(doc, "points")), 0);
	ck_assert_int_eq(tl_jint(doc, "next_since"), 53);
	json_decref(doc);
	doc = tl_jget(tl_mpath(id, "/loss?every=5&limit=0"));
	ck_assert_int_eq(json_array_size(json_object_get(doc, "points")), 0);
	json_decref(doc);

	expect_error("GET", tl_mpath(id, "/loss?every=0"), NULL, 400,
	    "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?every=1000001"), NULL, 400,
	    "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?every=x"), NULL, 400,
	    "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?every=-5"), NULL, 400,
	    "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?format=xml"), NULL, 400,
	    "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?series=test"), NULL, 400,
	    "invalid_query");
	expect_error("GET", "/v1/models/m0000000000000000/loss?every=2", NULL,
	    404, "model_not_found");
	json_decref(raw);
}
END_TEST

/* ---------------------------------------------------------------------
 * format=csv
 * ------------------------------------------------------------------ */

/* Splits text into lines in place; returns how many (at most max). */
static int
lines(char *text, char **out, int max)
{
	int n = 0;

	for (char *p = text; *p && n < max;) {
		char *nl = strchr(p, '\n');

		ck_assert_msg(nl != NULL, "CSV line without newline: %s", p);
		*nl = '\0';
		out[n++] = p;
		p = nl + 1;
	}
	return n;
}

/* Requires the CSV line to hold the point p's fields in order keys. */
static void
check_csv_row(const char *line, json_t *p, const char *const *keys)
{
	char copy[256], *save = NULL, *f;
	int i = 0;

	snprintf(copy, sizeof copy, "%s", line);
	f = strtok_r(copy, ",", &save);
	ck_assert_int_eq(strtoll(f, NULL, 10), tl_jint(p, "step"));
	for (i = 0; keys[i]; i++) {
		json_t *v = json_object_get(p, keys[i]);

		f = strtok_r(NULL, ",", &save);
		ck_assert_msg(f != NULL, "CSV row '%s' is short", line);
		if (strcmp(keys[i], "time") == 0)
			ck_assert_str_eq(f, json_string_value(v));
		else
			ck_assert_msg(strtod(f, NULL) == json_number_value(v),
			    "CSV %s '%s' vs JSON %.9g", keys[i], f,
			    json_number_value(v));
	}
	ck_assert_ptr_null(strtok_r(NULL, ",", &save));
}

START_TEST(test_csv)
{
	static const char *const plain[] = { "loss", "time", "lr", NULL };
	static const char *const win[] = { "loss", "min", "max", "time",
		"lr", NULL };
	char id[32], *text, *ln[64];
	json_t *pts;
	int n;

	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 8}", id);
	tl_push(id, XOR_BATCH);
	tl_train(id, "{\"steps\": 12, \"batch_size\": 3}");

	text = tl_tget(tl_mpath(id, "/loss?format=csv"));
	ck_assert_msg(strncmp(tl_header("Content-Type"), "text/csv", 8) == 0,
	    "Content-Type %s", tl_header("Content-Type"));
	ck_assert(tl_header("ETag")[0] != '\0');
	n = lines(text, ln, 64);
	pts = points(tl_mpath(id, "/loss"));
	ck_assert_int_eq(n, 13);
	ck_assert_str_eq(ln[0], "step,loss,time,lr");
	for (int i = 1; i < n; i++)
		check_csv_row(ln[i], json_array_get(pts, (size_t)i - 1), plain);
	json_decref(pts);
	free(text);

	/* windows, paged */
	text = tl_tget(tl_mpath(id, "/loss?format=csv&every=5&since=3"));
	n = lines(text, ln, 64);
	pts = points(tl_mpath(id, "/loss?every=5&since=3"));
	ck_assert_int_eq(json_array_size(pts), 3);
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(ln[0], "step,loss,min,max,time,lr");
	for (int i = 1; i < n; i++)
		check_csv_row(ln[i], json_array_get(pts, (size_t)i - 1), win);
	json_decref(pts);
	free(text);

	/* an empty page is the header alone */
	text = tl_tget(tl_mpath(id, "/loss?format=csv&since=12"));
	ck_assert_str_eq(text, "step,loss,time,lr\n");
	free(text);
	text = tl_tget(tl_mpath(id, "/loss?format=json&limit=1"));
	ck_assert_msg(strncmp(tl_header("Content-Type"), "application/json", 16)
	    == 0, "Content-Type %s", tl_header("Content-Type"));
	free(text);
}
END_TEST

/* ---------------------------------------------------------------------
 * ETag and If-None-Match
 * ------------------------------------------------------------------ */

/* GET path, 200 required; its ETag into tag (non-empty, quoted). */
static void
etag_of(const char *path, char tag[128])
{
	char *body;
	long st = get_inm(path, NULL, &body);

	ck_assert_msg(st == 200, "GET %s: %ld %.200s", path, st, body);
	free(body);
	snprintf(tag, 128, "%s", tl_header("ETag"));
	ck_assert_msg(strlen(tag) > 2 && tag[0] == '"' &&
	    tag[strlen(tag) - 1] == '"', "GET %s: ETag '%s'", path, tag);
}

/* GET path with If-None-Match inm: want 304 (empty body, no
 * Content-Type, the same tag) or 200 (a body). */
static void
conditional(const char *path, const char *inm, long want)
{
	char *body;
	long st = get_inm(path, inm, &body);

	ck_assert_msg(st == want, "GET %s If-None-Match %s: want %ld, got %ld",
	    path, inm, want, st);
	ck_assert(tl_header("ETag")[0] != '\0');
	if (want == 304) {
		ck_assert_msg(body[0] == '\0', "a 304 with a body: %s", body);
		ck_assert_msg(tl_header("Content-Type")[0] == '\0',
		    "a 304 with Content-Type %s", tl_header("Content-Type"));
	} else {
		ck_assert(body[0] != '\0');
	}
	free(body);
}

/* The tags of the paths a dashboard polls, in a fixed order. */
#define NPOLL 6
static void
poll_tags(const char *id, char tags[NPOLL][128])
{
	const char *paths[NPOLL] = { "/v1/models", tl_mpath(id, ""),
		tl_mpath(id, "/loss"), tl_mpath(id, "/loss?every=2"),
		tl_mpath(id, "/loss?format=csv"),
		tl_mpath(id, "/loss?series=validation") };

	for (int i = 0; i < NPOLL; i++)
		etag_of(paths[i], tags[i]);
}

START_TEST(test_etag)
{
	char id[32], other[32], a[NPOLL][128], b[NPOLL][128], c[NPOLL][128];
	char list[300];
	struct timespec nap = { 0, 60 * 1000 * 1000 };

	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 9}", id);
	tl_new_model("{\"layers\": [2, 2, 1], \"seed\": 10}", other);
	tl_push(id, XOR_BATCH);
	tl_train(id, "{\"steps\": 5}");

	/* idle: the same tags, poll after poll */
	poll_tags(id, a);
	for (int k = 0; k < 3; k++) {
		nanosleep(&nap, NULL);
		poll_tags(id, b);
		for (int i = 0; i < NPOLL; i++)
			ck_assert_str_eq(a[i], b[i]);
	}
	/* each query has its own tag */
	for (int i = 2; i < NPOLL; i++)
		for (int j = i + 1; j < NPOLL; j++)
			ck_assert_str_ne(a[i], a[j]);
	ck_assert_str_ne(a[0], a[1]);

	/* If-None-Match with the current tag: 304, empty */
	conditional("/v1/models", a[0], 304);
	conditional(tl_mpath(id, ""), a[1], 304);
	conditional(tl_mpath(id, "/loss"), a[2], 304);
	conditional(tl_mpath(id, "/loss?every=2"), a[3], 304);
	conditional(tl_mpath(id, "/loss?format=csv"), a[4], 304);
	conditional(tl_mpath(id, "/loss?series=validation"), a[5], 304);
	snprintf(list, sizeof list, "\"nope\", W/%s", a[1]);
	conditional(tl_mpath(id, ""), list, 304);
	conditional(tl_mpath(id, ""), "*", 304);
	/* another query's tag, or a stale one, gets the body */
	conditional(tl_mpath(id, "/loss?every=3"), a[3], 200);
	conditional(tl_mpath(id, "/loss"), "\"nope\"", 200);
	conditional(tl_mpath(other, ""), a[1], 200);

	/* a step changes every tag of the model and the list */
	json_decref(tl_jexpect("POST", tl_mpath(id, "/step"), XOR_BATCH, 200));
	poll_tags(id, b);
	for (int i = 0; i < NPOLL; i++)
		ck_assert_msg(strcmp(a[i], b[i]) != 0, "tag %d kept after a "
		    "step: %s", i, a[i]);
	conditional(tl_mpath(id, "/loss"), a[2], 200);
	conditional(tl_mpath(id, "/loss"), b[2], 304);

	/* so does a new batch (samples changes) */
	tl_push(id, XOR_BATCH);
	poll_tags(id, c);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(strcmp(b[i], c[i]) != 0, "tag %d kept after a "
		    "batch", i);
	conditional(tl_mpath(id, ""), b[1], 200);
	/* another model's change leaves this model's tag alone */
	etag_of(tl_mpath(id, ""), b[1]);
	tl_push(other, "{\"inputs\": [[0,0]], \"targets\": [[0]]}");
	conditional(tl_mpath(id, ""), b[1], 304);
	conditional("/v1/models", c[0], 200);

	/* a train job changes them, and they settle once it is done */
	poll_tags(id, a);
	tl_train(id, "{\"steps\": 3}");
	poll_tags(id, b);
	for (int i = 0; i < NPOLL; i++)
		ck_assert_str_ne(a[i], b[i]);
	nanosleep(&nap, NULL);
	poll_tags(id, c);
	for (int i = 0; i < NPOLL; i++)
		ck_assert_str_eq(b[i], c[i]);

	/* a deleted model is gone, and so is its tag */
	ck_assert_int_eq(tl_jreq("DELETE", tl_mpath(other, ""), NULL, NULL),
	    204);
	conditional("/v1/models", c[0], 200);
	ck_assert_int_eq(get_inm(tl_mpath(other, ""), "*", NULL),
	    404);
}
END_TEST

/* ---------------------------------------------------------------------
 * Validation sets
 * ------------------------------------------------------------------ */

/* The mse of outputs (from predict) against targets, both n x k JSON
 * rows, and the share of rows whose argmax agree. */
static void
score(json_t *outs, json_t *targets, double *mse, double *acc)
{
	size_t n = json_array_size(targets), hits = 0, total = 0;
	double sum = 0;

	ck_assert_int_eq(json_array_size(outs), n);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(outs, i);
		json_t *y = json_array_get(targets, i);
		size_t k = json_array_size(y), bo = 0, by = 0;

		for (size_t j = 0; j < k; j++) {
			double ov = json_number_value(json_array_get(o, j));
			double yv = json_number_value(json_array_get(y, j));

			sum += (ov - yv) * (ov - yv);
			total++;
			if (ov > json_number_value(json_array_get(o, bo)))
				bo = j;
			if (yv > json_number_value(json_array_get(y, by)))
				by = j;
		}
		hits += bo == by;
	}
	*mse = sum / (double)total;
	*acc = (double)hits / (double)n;
}

START_TEST(test_validation_series)
{
	char id[32], flat[32], *text, *ln[16];
	json_t *v, *p, *pred, *targets, *doc, *win;
	double mse, acc;

	/* one-hot targets: accuracy; 8 rows, batches of 4: 2 steps/epoch */
	tl_new_model("{\"layers\": [2, 4, 2], \"seed\": 3, "
	    "\"learning_rate\": 2}", id);
	tl_push(id, "{\"inputs\": " XOR_IN ", \"targets\": " XOR_1HOT "}");
	tl_push(id, "{\"inputs\": " XOR_IN ", \"targets\": " XOR_1HOT "}");
	ck_assert_int_eq(tl_train(id, "{\"epochs\": 5, \"batch_size\": 4, "
	    "\"validation\": {\"inputs\": " XOR_IN ", \"targets\": " XOR_1HOT
	    "}}"), 10);
	v = points(tl_mpath(id, "/loss?series=validation"));
	/* one per epoch; the job's end is the last epoch's end */
	ck_assert_int_eq(json_array_size(v), 5);
	for (size_t i = 0; i < 5; i++) {
		double a;

		p = json_array_get(v, i);
		ck_assert_int_eq(tl_jint(p, "step"), 2 * (json_int_t)(i + 1));
		ck_assert(isfinite(tl_jnum(p, "loss")) &&
		    tl_jnum(p, "loss") > 0);
		a = tl_jnum(p, "accuracy");
		ck_assert_msg(a >= 0 && a <= 1 && a * 4 == floor(a * 4),
		    "accuracy %g", a);
		ck_assert(json_is_string(json_object_get(p, "time")));
		ck_assert_ptr_null(json_object_get(p, "min"));
	}
	/* the last point is the final model on the validation rows */
	doc = tl_jexpect("POST", tl_mpath(id, "/predict"), "{\"inputs\": "
	    XOR_IN "}", 200);
	targets = tl_parse(XOR_1HOT);
	pred = json_object_get(doc, "outputs");
	score(pred, targets, &mse, &acc);
	p = json_array_get(v, 4);
	ck_assert_msg(near(tl_jnum(p, "loss"), mse, 1e-5), "validation loss "
	    "%.9g, predictions give %.9g", tl_jnum(p, "loss"), mse);
	ck_assert_msg(tl_jnum(p, "accuracy") == acc, "accuracy %g, want %g",
	    tl_jnum(p, "accuracy"), acc);
	json_decref(targets);
	json_decref(doc);
	/* the training series is untouched: one point per step */
	doc = tl_jget(tl_mpath(id, "/loss"));
	ck_assert_int_eq(json_array_size(json_object_get(doc, "points")), 10);
	json_decref(doc);

	/* every=K on the validation series: mean loss and accuracy */
	doc = tl_jget(tl_mpath(id, "/loss?series=validation&every=4"));
	win = json_object_get(doc, "points");
	ck_assert_int_eq(json_array_size(win), 3);
	for (size_t w = 0; w < 3; w++) {
		json_t *a = json_array_get(v, 2 * w), *b = json_array_get(v,
		    2 * w + 1), *x = json_array_get(win, w);
		double la = tl_jnum(a, "loss");
		double lb = w < 2 ? tl_jnum(b, "loss") : la;
		double aa = tl_jnum(a, "accuracy");
		double ab = w < 2 ? tl_jnum(b, "accuracy") : aa;

		ck_assert_int_eq(tl_jint(x, "step"),
		    w < 2 ? 4 * (json_int_t)w + 4 : 10);
		ck_assert(near(tl_jnum(x, "loss"), (la + lb) / 2, 1e-6));
		ck_assert(tl_jnum(x, "min") == fmin(la, lb));
		ck_assert(tl_jnum(x, "max") == fmax(la, lb));
		ck_assert(near(tl_jnum(x, "accuracy"), (aa + ab) / 2, 1e-9));
	}
	ck_assert_int_eq(tl_jint(doc, "next_since"), 10);
	json_decref(doc);
	/* and as CSV */
	text = tl_tget(tl_mpath(id, "/loss?series=validation&format=csv"));
	ck_assert_int_eq(lines(text, ln, 16), 6);
	ck_assert_str_eq(ln[0], "step,loss,accuracy,time,lr");
	{
		static const char *const keys[] = { "loss", "accuracy", "time",
			"lr", NULL };

		for (int i = 1; i < 6; i++)
			check_csv_row(ln[i], json_array_get(v, (size_t)i - 1),
			    keys);
	}
	free(text);
	text = tl_tget(tl_mpath(id, "/loss?series=validation&format=csv"
	    "&every=4"));
	ck_assert_int_eq(lines(text, ln, 16), 4);
	ck_assert_str_eq(ln[0], "step,loss,min,max,accuracy,time,lr");
	free(text);
	json_decref(v);

	/* a /step whose validation set is larger than one forward pass
	 * (4096 rows): XOR 1024 times, then XOR with the targets swapped, so
	 * the last chunk counts and must be read at the right place */
	{
		size_t cap = 2 * 1025 * 24 + 128, k = 0;
		char *body = malloc(cap);
		json_t *step, *vp, *swapped;
		double mse2, acc2;

		ck_assert_ptr_nonnull(body);
		k += (size_t)snprintf(body + k, cap - k,
		    "{\"inputs\": [[0,0]], \"targets\": [[1,0]], "
		    "\"validation\": {\"inputs\": [");
		for (int r = 0; r < 1025; r++)
			k += (size_t)snprintf(body + k, cap - k, "%s%s",
			    r ? "," : "", "[0,0],[0,1],[1,0],[1,1]");
		k += (size_t)snprintf(body + k, cap - k, "], \"targets\": [");
		for (int r = 0; r < 1025; r++)
			k += (size_t)snprintf(body + k, cap - k, "%s%s",
			    r ? "," : "", r < 1024 ? "[1,0],[0,1],[0,1],[1,0]" :
			    "[0,1],[1,0],[1,0],[0,1]");
		snprintf(body + k, cap - k, "]}}");
		step = tl_jexpect("POST", tl_mpath(id, "/step"), body, 200);
		free(body);
		vp = json_object_get(step, "validation");
		doc = tl_jexpect("POST", tl_mpath(id, "/predict"),
		    "{\"inputs\": " XOR_IN "}", 200);
		targets = tl_parse(XOR_1HOT);
		swapped = tl_parse("[[0,1],[1,0],[1,0],[0,1]]");
		score(json_object_get(doc, "outputs"), targets, &mse, &acc);
		score(json_object_get(doc, "outputs"), swapped, &mse2, &acc2);
		mse = (4096 * mse + 4 * mse2) / 4100;
		acc = (4096 * acc + 4 * acc2) / 4100;
		ck_assert_msg(near(tl_jnum(vp, "loss"), mse, 1e-5),
		    "validation loss %.9g, want %.9g", tl_jnum(vp, "loss"),
		    mse);
		ck_assert_msg(near(tl_jnum(vp, "accuracy"), acc, 1e-9),
		    "accuracy %.9g, want %.9g", tl_jnum(vp, "accuracy"), acc);
		json_decref(swapped);
		json_decref(targets);
		json_decref(doc);
		json_decref(step);
	}

	/* targets that are not one-hot: accuracy is null; 4 rows in
	 * batches of 2, 3 steps: the epoch's end (2) and the job's (3) */
	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 4}", flat);
	tl_push(flat, XOR_BATCH);
	ck_assert_int_eq(tl_train(flat, "{\"steps\": 3, \"batch_size\": 2, "
	    "\"validation\": " XOR_BATCH "}"), 3);
	v = points(tl_mpath(flat, "/loss?series=validation"));
	ck_assert_int_eq(json_array_size(v), 2);
	ck_assert_int_eq(tl_jint(json_array_get(v, 0), "step"), 2);
	ck_assert_int_eq(tl_jint(json_array_get(v, 1), "step"), 3);
	for (size_t i = 0; i < 2; i++)
		ck_assert(json_is_null(json_object_get(json_array_get(v, i),
		    "accuracy")));
	json_decref(v);

	/* /step with a validation set: one point after its update */
	doc = tl_jexpect("POST", tl_mpath(flat, "/step"), "{\"inputs\": " XOR_IN
	    ", \"targets\": [[0],[1],[1],[0]], \"validation\": " XOR_BATCH
	    "}", 200);
	ck_assert_int_eq(tl_jint(doc, "step"), 4);
	p = json_object_get(doc, "validation");
	ck_assert(json_is_object(p));
	ck_assert(json_is_null(json_object_get(p, "accuracy")));
	v = points(tl_mpath(flat, "/loss?series=validation&since=3"));
	ck_assert_int_eq(json_array_size(v), 1);
	ck_assert_int_eq(tl_jint(json_array_get(v, 0), "step"), 4);
	ck_assert(tl_jnum(json_array_get(v, 0), "loss") == tl_jnum(p, "loss"));
	/* measured after the update: the model as it is now */
	pred = tl_jexpect("POST", tl_mpath(flat, "/predict"), "{\"inputs\": "
	    XOR_IN "}", 200);
	targets = tl_parse("[[0],[1],[1],[0]]");
	score(json_object_get(pred, "outputs"), targets, &mse, &acc);
	ck_assert(near(tl_jnum(p, "loss"), mse, 1e-5));
	json_decref(targets);
	json_decref(pred);
	json_decref(v);
	json_decref(doc);
	/* a step without one adds no point */
	json_decref(tl_jexpect("POST", tl_mpath(flat, "/step"), XOR_BATCH,
	    200));
	v = points(tl_mpath(flat, "/loss?series=validation"));
	ck_assert_int_eq(json_array_size(v), 3);
	json_decref(v);
}
END_TEST

/* Bad validation sets are refused before anything changes. */
START_TEST(test_validation_errors)
{
	char id[32], one[32];
	json_t *v, *jobs;

	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 5}", id);
	tl_push(id, XOR_BATCH);
	expect_error("POST", tl_mpath(id, "/train"), "{\"validation\": "
	    "{\"inputs\": [[0,0,0]], \"targets\": [[1]]}}", 422,
	    "invalid_value");
	expect_error("POST", tl_mpath(id, "/train"), "{\"validation\": "
	    "{\"inputs\": [[0,0]], \"targets\": [[1],[0]]}}", 422,
	    "invalid_value");
	expect_error("POST", tl_mpath(id, "/train"), "{\"validation\": "
	    "{\"inputs\": [[0,1e39]], \"targets\": [[1]]}}", 422,
	    "non_finite");
	expect_error("POST", tl_mpath(id, "/train"), "{\"validation\": [1]}",
	    400, "wrong_type");
	expect_error("POST", tl_mpath(id, "/train"), "{\"validation\": "
	    "{\"inputs\": [[0,0]]}}", 400, "missing_field");
	expect_error("POST", tl_mpath(id, "/train"), "{\"validation\": "
	    "{\"inputs\": [[0,0]], \"targets\": [[1]], \"x\": 1}}", 400,
	    "unknown_field");
	expect_error("POST", tl_mpath(id, "/train"),
	    "{\"validation_split\": 0}", 422, "invalid_value");
	expect_error("POST", tl_mpath(id, "/train"),
	    "{\"validation_split\": 1}", 422, "invalid_value");
	expect_error("POST", tl_mpath(id, "/train"),
	    "{\"validation_split\": \"0.1\"}", 400, "wrong_type");
	expect_error("POST", tl_mpath(id, "/train"),
	    "{\"validation_split\": 0.5, \"validation\": " XOR_BATCH "}",
	    422, "invalid_value");
	/* one row: any split holds it out and leaves none to train on */
	tl_new_model("{\"layers\": [2, 1]}", one);
	tl_push(one, "{\"inputs\": [[0,0]], \"targets\": [[0]]}");
	expect_error("POST", tl_mpath(one, "/train"),
	    "{\"validation_split\": 0.1}", 422, "invalid_value");
	expect_error("POST", tl_mpath(one, "/train"),
	    "{\"validation_split\": 0.9}", 422, "invalid_value");
	expect_error("POST", tl_mpath(id, "/step"), "{\"inputs\": [[0,0]], "
	    "\"targets\": [[0]], \"validation_split\": 0.5}", 400,
	    "unknown_field");
	expect_error("POST", tl_mpath(id, "/step"), "{\"inputs\": [[0,0]], "
	    "\"targets\": [[0]], \"validation\": {\"inputs\": [[0]], "
	    "\"targets\": [[0]]}}", 422, "invalid_value");
	/* nothing happened */
	jobs = tl_jget(tl_mpath(id, "/jobs"));
	ck_assert_int_eq(json_array_size(json_object_get(jobs, "jobs")), 0);
	json_decref(jobs);
	v = tl_jget(tl_mpath(id, ""));
	ck_assert_int_eq(tl_jint(v, "step"), 0);
	json_decref(v);
	v = points(tl_mpath(id, "/loss?series=validation"));
	ck_assert_int_eq(json_array_size(v), 0);
	json_decref(v);
}
END_TEST

/* 40 rows of a [40, 1] linear model, row i is the unit vector e_i with
 * target 1, or poison for the rows whose index is in held (NULL: none).
 * With one-hot inputs, weight i moves only when row i is trained on. */
static char *
unit_rows(const int *held, double poison)
{
	size_t cap = 40 * 200 + 64, k = 0;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	k += (size_t)snprintf(s + k, cap - k, "{\"inputs\": [");
	for (int i = 0; i < 40; i++) {
		k += (size_t)snprintf(s + k, cap - k, "%s[", i ? "," : "");
		for (int j = 0; j < 40; j++)
			k += (size_t)snprintf(s + k, cap - k, "%s%d",
			    j ? "," : "", i == j);
		k += (size_t)snprintf(s + k, cap - k, "]");
	}
	k += (size_t)snprintf(s + k, cap - k, "], \"targets\": [");
	for (int i = 0; i < 40; i++)
		k += (size_t)snprintf(s + k, cap - k, "%s[%g]", i ? "," : "",
		    held && held[i] ? poison : 1.0);
	snprintf(s + k, cap - k, "]}");
	return s;
}

/* The 40 weights and the bias of a [40, 1] model. */
static void
weights(const char *id, double w[41])
{
	json_t *doc = tl_jget(tl_mpath(id, "/weights"));
	json_t *l = json_array_get(json_object_get(doc, "layers"), 0);
	json_t *row = json_array_get(json_object_get(l, "weights"), 0);

	ck_assert_int_eq(json_array_size(row), 40);
	for (size_t i = 0; i < 40; i++)
		w[i] = json_number_value(json_array_get(row, i));
	w[40] = json_number_value(json_array_get(json_object_get(l,
	    "biases"), 0));
	json_decref(doc);
}

START_TEST(test_validation_split)
{
	const char *spec = "{\"layers\": [40, 1], \"activation\": "
	    "\"linear\", \"learning_rate\": 0.1, \"seed\": 11}";
	const char *opts = "{\"epochs\": 3, \"batch_size\": 4, "
	    "\"validation_split\": 0.25}";
	char a[32], b[32], *rows;
	double w0[41], wa[41], wb[41], sum = 0;
	int held[40], nheld = 0;
	json_t *va, *vb, *p;

	/* 40 rows, 10 held out, 30 trained on in batches of 4: 8 a epoch */
	tl_new_model(spec, a);
	weights(a, w0);
	rows = unit_rows(NULL, 0);
	tl_push(a, rows);
	free(rows);
	ck_assert_int_eq(tl_train(a, opts), 24);
	weights(a, wa);
	for (int i = 0; i < 40; i++) {
		held[i] = wa[i] == w0[i];
		nheld += held[i];
	}
	ck_assert_int_eq(nheld, 10);
	ck_assert(wa[40] != w0[40]);
	va = points(tl_mpath(a, "/loss?series=validation"));
	ck_assert_int_eq(json_array_size(va), 3);
	for (size_t i = 0; i < 3; i++) {
		p = json_array_get(va, i);
		ck_assert_int_eq(tl_jint(p, "step"), 8 * (json_int_t)(i + 1));
		ck_assert(json_is_null(json_object_get(p, "accuracy")));
	}
	/* the held-out rows' loss under the final weights */
	for (int i = 0; i < 40; i++)
		if (held[i])
			sum += (wa[i] + wa[40] - 1.0) * (wa[i] + wa[40] - 1.0);
	ck_assert_msg(near(tl_jnum(json_array_get(va, 2), "loss"), sum / 10,
	    1e-5), "validation loss %.9g, want %.9g",
	    tl_jnum(json_array_get(va, 2), "loss"), sum / 10);

	/* the same seed and rows, the held-out ones poisoned: they are
	 * held out again, so training is bit for bit the same */
	tl_new_model(spec, b);
	rows = unit_rows(held, -50.0);
	tl_push(b, rows);
	free(rows);
	ck_assert_int_eq(tl_train(b, opts), 24);
	weights(b, wb);
	for (int i = 0; i <= 40; i++)
		ck_assert_msg(wa[i] == wb[i], "weight %d: %.9g vs %.9g (row "
		    "%s)", i, wa[i], wb[i], i < 40 && held[i] ? "held out" :
		    "trained");
	/* while the validation loss sees the poison */
	vb = points(tl_mpath(b, "/loss?series=validation"));
	ck_assert_int_eq(json_array_size(vb), 3);
	sum = 0;
	for (int i = 0; i < 40; i++)
		if (held[i])
			sum += (wb[i] + wb[40] + 50) * (wb[i] + wb[40] + 50);
	ck_assert(near(tl_jnum(json_array_get(vb, 2), "loss"), sum / 10, 1e-5));
	ck_assert(tl_jnum(json_array_get(vb, 2), "loss") > 100 *
	    tl_jnum(json_array_get(va, 2), "loss"));
	json_decref(va);
	json_decref(vb);
}
END_TEST

/* ---------------------------------------------------------------------
 * max_points, from, to, and the raw window's edge
 * ------------------------------------------------------------------ */

/* Checks that the points of path are contiguous buckets from from to
 * to; returns the sum of their counts. */
static json_int_t
check_buckets(const char *path, json_int_t from, json_int_t to,
	      size_t most)
{
	json_t *pts = points(path);
	json_int_t next = -1, total = 0;
	size_t n = json_array_size(pts);

	ck_assert_msg(n >= 1 && n <= most, "GET %s: %zu points", path, n);
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(pts, i);
		json_int_t first = tl_jint(p, "first"), step = tl_jint(p, "step");

		ck_assert_msg(first <= step, "GET %s: first %lld > step %lld",
		    path, (long long)first, (long long)step);
		ck_assert_int_eq(tl_jint(p, "count"), step - first + 1);
		ck_assert(tl_jnum(p, "min") <= tl_jnum(p, "loss") &&
		    tl_jnum(p, "loss") <= tl_jnum(p, "max"));
		if (next >= 0)
			ck_assert_int_eq(first, next);
		else
			ck_assert_msg(first <= from, "GET %s: starts at %lld",
			    path, (long long)first);
		next = step + 1;
		total += tl_jint(p, "count");
	}
	ck_assert_msg(next - 1 >= to, "GET %s: ends at %lld", path,
	    (long long)next - 1);
	json_decref(pts);
	return total;
}

START_TEST(test_max_points)
{
	char id[32], path[128], tag[128];
	json_t *pts, *raw;
	json_int_t buckets = 0;
	char *text;

	/* a raw window of 1500 steps: 6000 steps leave buckets behind */
	tl_stop();
	tl_config()->history_raw_steps = 1500;
	tl_start();
	tl_new_model("{\"layers\": [2, 3, 1], \"seed\": 5, "
	    "\"learning_rate\": 0.5}", id);
	tl_push(id, XOR_BATCH);
	ck_assert_int_eq(tl_train(id, "{\"steps\": 6000}"), 6000);

	/* the whole history in at most 10 exact buckets */
	ck_assert_int_eq(check_buckets(tl_mpath(id, "/loss?max_points=10"), 1,
	    6000, 10), 6000);
	/* paged one by one: buckets (marked) before the window, then every
	 * raw step; each step once */
	raw = points(tl_mpath(id, "/loss?limit=10000"));
	for (size_t i = 0; i < json_array_size(raw); i++) {
		json_t *p = json_array_get(raw, i);

		if (json_is_true(json_object_get(p, "bucket"))) {
			ck_assert_int_eq(buckets, (json_int_t)i);
			ck_assert_int_eq(tl_jint(p, "count"), 1024);
			buckets++;
		} else {
			ck_assert_ptr_null(json_object_get(p, "count"));
		}
	}
	ck_assert_int_ge(buckets, 1);
	ck_assert_int_le(buckets, (6000 - 1500) / 1024);
	ck_assert_int_eq(tl_jint(json_array_get(raw, json_array_size(raw) - 1),
	    "step"), 6000);
	ck_assert_int_eq(json_array_size(raw), buckets + 6000 - 1024 * buckets);
	/* a zoom into the raw window: every step, equal to the raw points */
	pts = points(tl_mpath(id, "/loss?max_points=1000&from=5001&to=5100"));
	ck_assert_int_eq(json_array_size(pts), 100);
	for (size_t i = 0; i < 100; i++) {
		json_t *p = json_array_get(pts, i);
		json_t *r = json_array_get(raw, json_array_size(raw) - 1000 + i);

		ck_assert_int_eq(tl_jint(p, "step"), 5001 + (json_int_t)i);
		ck_assert_int_eq(tl_jint(p, "count"), 1);
		ck_assert_int_eq(tl_jint(r, "step"), 5001 + (json_int_t)i);
		ck_assert(tl_jnum(p, "loss") == tl_jnum(r, "loss"));
		ck_assert(tl_jnum(p, "min") == tl_jnum(r, "loss"));
		ck_assert_ptr_null(json_object_get(p, "bucket"));
	}
	json_decref(pts);
	json_decref(raw);
	/* a range across the edge, and one before it */
	check_buckets(tl_mpath(id, "/loss?max_points=7&from=3000&to=5000"),
	    3000, 5000, 7);
	check_buckets(tl_mpath(id, "/loss?max_points=3&from=100&to=2000"),
	    100, 2000, 3);
	/* validation has no points here: an empty answer */
	pts = points(tl_mpath(id, "/loss?max_points=5&series=validation"));
	ck_assert_int_eq(json_array_size(pts), 0);
	json_decref(pts);

	/* CSV of the same query */
	text = tl_tget(tl_mpath(id, "/loss?max_points=2&format=csv"));
	ck_assert_msg(strncmp(text, "step,first,count,loss,min,max,time,"
	    "bucket,lr\n", 45) == 0, "CSV: %.80s", text);
	free(text);

	/* ETags tell ranges apart; a repeat is 304 */
	snprintf(path, sizeof path, "%s", tl_mpath(id, "/loss?max_points=5"));
	ck_assert_int_eq(get_inm(path, NULL, NULL), 200);
	snprintf(tag, sizeof tag, "%s", tl_header("ETag"));
	ck_assert_int_eq(get_inm(path, tag, NULL), 304);
	ck_assert_int_eq(get_inm(tl_mpath(id, "/loss?max_points=5&from=2"),
	    tag, NULL), 200);
	ck_assert_str_ne(tl_header("ETag"), tag);

	/* what is refused */
	expect_error("GET", tl_mpath(id, "/loss?max_points=0"), NULL, 400,
	    "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?max_points=10001"), NULL, 400,
	    "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?max_points=5&every=2"), NULL,
	    400, "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?max_points=5&since=2"), NULL,
	    400, "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?from=2"), NULL, 400,
	    "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?max_points=5&from=9&to=8"),
	    NULL, 400, "invalid_query");
	expect_error("GET", tl_mpath(id, "/loss?max_points=5&from=0"), NULL,
	    400, "invalid_query");
}
END_TEST

static Suite *
history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("history");

	tcase_add_checked_fixture(tc, tl_setup, tl_stop);
	tcase_add_test(tc, test_every_windows);
	tcase_add_test(tc, test_csv);
	tcase_add_test(tc, test_etag);
	tcase_add_test(tc, test_validation_series);
	tcase_add_test(tc, test_validation_errors);
	tcase_add_test(tc, test_validation_split);
	tcase_add_test(tc, test_max_points);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_main(history_suite(), LOG_ERROR);
}
