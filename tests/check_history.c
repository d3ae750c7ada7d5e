/*
 * check_history: Check tests of the loss history a dashboard polls
 * (GET /v1/models/{id}/loss with every=K, format=csv and
 * series=validation), of the ETags on loss and model answers, and of the
 * validation sets of /train and /step, against a daemon started
 * in-process (config_default, port 0, ":memory:", daemon_start) and
 * spoken to with libcurl only.
 *
 * Windows are checked against the raw points of the same history; CSV
 * against the JSON of the same query; validation points against the
 * model's own predictions on the validation rows; validation_split by
 * training twice from one seed, the second time with the held-out rows
 * poisoned: the weights come out bit for bit the same, so those rows were
 * never trained on.
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "daemon.h"
#include "testhttp.h"
#include "log.h"

#define XOR_BATCH "{\"inputs\": [[0,0],[0,1],[1,0],[1,1]], " \
	"\"targets\": [[0],[1],[1],[0]]}"
/* XOR with one-hot targets: class 0 = "equal", class 1 = "different" */
#define XOR_IN "[[0,0],[0,1],[1,0],[1,1]]"
#define XOR_1HOT "[[1,0],[0,1],[0,1],[1,0]]"

static config g_cfg;
static daemon_ctx *g_d;
static unsigned g_port;

/* Headers of the last response. */
static struct {
	char etag[128];
	char content_type[128];
} g_hdr;

/* ---------------------------------------------------------------------
 * Fixture: one daemon per test
 * ------------------------------------------------------------------ */

static void
setup(void)
{
	fault f;

	config_default(&g_cfg);
	g_cfg.port = 0;
	g_cfg.db_path = ":memory:";
	g_cfg.checkpoint_every = 0.2;
	g_cfg.http_threads = 4;
	fault_clear(&f);
	g_d = daemon_start(&g_cfg, &f);
	ck_assert_msg(g_d != NULL, "daemon_start: %s", f.msg);
	g_port = daemon_port(g_d);
	ck_assert_uint_ne(g_port, 0);
}

static void
teardown(void)
{
	daemon_stop(g_d);
	g_d = NULL;
}

/* ---------------------------------------------------------------------
 * HTTP client
 * ------------------------------------------------------------------ */

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	size_t n = size * nmemb;

	(void)arg;
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		memset(&g_hdr, 0, sizeof g_hdr);
	testhttp_grab_header(data, n, "ETag", g_hdr.etag, sizeof g_hdr.etag);
	testhttp_grab_header(data, n, "Content-Type", g_hdr.content_type,
	    sizeof g_hdr.content_type);
	return n;
}

/* method path [JSON body] [If-None-Match value] -> status; *resp (when
 * not NULL) gets the malloc'd body, "" when empty. */
static long
request(const char *method, const char *path, const char *body,
	const char *inm, char **resp)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512], hdr[256];
	testhttp_buf b = { NULL, 0 };
	long status = 0;
	CURLcode rc;

	ck_assert_ptr_nonnull(c);
	memset(&g_hdr, 0, sizeof g_hdr);
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", g_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, testhttp_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (inm != NULL) {
		snprintf(hdr, sizeof hdr, "If-None-Match: %s", inm);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		free(b.p);
		ck_abort_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	}
	if (resp != NULL) {
		*resp = b.p ? b.p : strdup("");
		ck_assert_ptr_nonnull(*resp);
	} else {
		free(b.p);
	}
	return status;
}

static json_t *
jparse(const char *text)
{
	json_error_t err;
	json_t *doc = json_loads(text, 0, &err);

	ck_assert_msg(doc != NULL, "response is not JSON (%s): %.300s",
	    err.text, text);
	return doc;
}

/* method path body with the expected status; the parsed reply. */
static json_t *
jexpect(const char *method, const char *path, const char *body, long want)
{
	char *resp;
	long st = request(method, path, body, NULL, &resp);
	json_t *doc;

	ck_assert_msg(st == want, "%s %s: want %ld, got %ld %.300s", method,
	    path, want, st, resp);
	doc = jparse(resp);
	free(resp);
	return doc;
}

static json_t *
jget(const char *path)
{
	return jexpect("GET", path, NULL, 200);
}

/* GET path, 200 required: the body as text (malloc'd). */
static char *
tget(const char *path)
{
	char *resp;
	long st = request("GET", path, NULL, NULL, &resp);

	ck_assert_msg(st == 200, "GET %s: %ld %.300s", path, st, resp);
	return resp;
}

/* Requires status want and error code from method path body. */
static void
expect_error(const char *method, const char *path, const char *body,
	     long want, const char *code)
{
	json_t *doc = jexpect(method, path, body, want);
	json_t *err = json_object_get(doc, "error");

	ck_assert_msg(json_is_object(err), "%s %s: no error body", method,
	    path);
	ck_assert_msg(strcmp(json_string_value(json_object_get(err, "code")),
	    code) == 0, "%s %s: want code %s, got %s", method, path, code,
	    json_string_value(json_object_get(err, "code")));
	ck_assert_msg(g_hdr.etag[0] == '\0', "%s %s: an error with an ETag",
	    method, path);
	json_decref(doc);
}

static json_int_t
jint(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static double
jnum(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_number(v), "%s is not a number", key);
	return json_number_value(v);
}

static const char *
jstr(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

/* "/v1/models/<id><rest>" from a ring of 8 buffers. */
static const char *
mpath(const char *id, const char *fmt, ...)
{
	static char p[8][512];
	static int k;
	char rest[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rest, sizeof rest, fmt, ap);
	va_end(ap);
	k = (k + 1) % 8;
	snprintf(p[k], sizeof p[k], "/v1/models/%s%s", id, rest);
	return p[k];
}

/* POST /v1/models body, 201: the id into id. */
static void
new_model(const char *body, char id[32])
{
	json_t *m = jexpect("POST", "/v1/models", body, 201);

	snprintf(id, 32, "%s", jstr(m, "id"));
	json_decref(m);
}

static void
push(const char *id, const char *batch)
{
	json_decref(jexpect("POST", mpath(id, "/batches"), batch, 201));
}

/* POST .../train with opts, 202; waits until the job succeeded and
 * returns its steps_total. */
static json_int_t
train(const char *id, const char *opts)
{
	json_t *j = jexpect("POST", mpath(id, "/train"), opts, 202);
	char path[64];
	json_int_t total = jint(j, "steps_total");
	struct timespec nap = { 0, 10 * 1000 * 1000 };

	snprintf(path, sizeof path, "/v1/jobs/%s", jstr(j, "id"));
	json_decref(j);
	for (int i = 0; i < 3000; i++) {
		json_t *s = jget(path);
		const char *st = jstr(s, "status");

		if (strcmp(st, "succeeded") == 0) {
			json_decref(s);
			/* the model turns idle right after its job ends */
			for (int k = 0; k < 500; k++) {
				json_t *m = jget(mpath(id, ""));
				int idle = strcmp(jstr(m, "status"),
				    "idle") == 0;

				json_decref(m);
				if (idle)
					return total;
				nanosleep(&nap, NULL);
			}
			ck_abort_msg("model %s never idle", id);
		}
		ck_assert_msg(strcmp(st, "queued") == 0 ||
		    strcmp(st, "running") == 0, "job %s ended %s", path, st);
		json_decref(s);
		nanosleep(&nap, NULL);
	}
	ck_abort_msg("job %s did not end", path);
	return 0;
}

/* The "points" of GET path (a new reference). */
static json_t *
points(const char *path)
{
	json_t *doc = jget(path), *p = json_object_get(doc, "points");

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
		double l = jnum(p, "loss");

		ck_assert_int_eq(jint(p, "step"), s);
		sum += l;
		mn = fmin(mn, l);
		mx = fmax(mx, l);
		cnt++;
		t = jstr(p, "time");
	}
	ck_assert_int_gt(cnt, 0);
	ck_assert_msg(jint(win, "step") == last, "K=%lld window %lld: step "
	    "%lld, want %lld", (long long)K, (long long)w,
	    (long long)jint(win, "step"), (long long)last);
	ck_assert_msg(near(jnum(win, "loss"), sum / cnt, 1e-6), "K=%lld "
	    "window %lld: mean %.9g, want %.9g", (long long)K, (long long)w,
	    jnum(win, "loss"), sum / cnt);
	/* min and max are stored values, printed the same way: exact */
	ck_assert_msg(jnum(win, "min") == mn && jnum(win, "max") == mx,
	    "K=%lld window %lld: min/max %.9g/%.9g, want %.9g/%.9g",
	    (long long)K, (long long)w, jnum(win, "min"), jnum(win, "max"),
	    mn, mx);
	ck_assert_str_eq(jstr(win, "time"), t);
	ck_assert_ptr_null(json_object_get(win, "accuracy"));
}

START_TEST(test_every_windows)
{
	static const json_int_t ks[] = { 1, 2, 5, 7, 10, 52, 53, 60, 1000000 };
	char id[32];
	json_t *raw, *w, *doc;

	new_model("{\"layers\": [2, 3, 1], \"seed\": 7, "
	    "\"learning_rate\": 0.5}", id);
	push(id, XOR_BATCH);
	ck_assert_int_eq(train(id, "{\"steps\": 53, \"batch_size\": 2}"), 53);
	raw = points(mpath(id, "/loss?limit=10000"));
	ck_assert_int_eq(json_array_size(raw), 53);

	for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
		json_int_t K = ks[i], nwin = (53 + K - 1) / K;

		doc = jget(mpath(id, "/loss?every=%lld&limit=10000",
		    (long long)K));
		w = json_object_get(doc, "points");
		ck_assert_int_eq(json_array_size(w), nwin);
		for (json_int_t k = 0; k < nwin; k++)
			check_window(raw, json_array_get(w, (size_t)k), k + 1,
			    K);
		ck_assert_int_eq(jint(doc, "next_since"), 53);
		json_decref(doc);
	}

	/* since counts steps: the window holding step since+1 comes whole */
	doc = jget(mpath(id, "/loss?every=5&since=12&limit=2"));
	w = json_object_get(doc, "points");
	ck_assert_int_eq(json_array_size(w), 2);
	check_window(raw, json_array_get(w, 0), 3, 5);
	check_window(raw, json_array_get(w, 1), 4, 5);
	ck_assert_int_eq(jint(doc, "next_since"), 20);
	json_decref(doc);
	/* paging on from next_since */
	doc = jget(mpath(id, "/loss?every=5&since=20&limit=1"));
	w = json_object_get(doc, "points");
	ck_assert_int_eq(json_array_size(w), 1);
	check_window(raw, json_array_get(w, 0), 5, 5);
	ck_assert_int_eq(jint(doc, "next_since"), 25);
	json_decref(doc);
	/* the last, partial window: steps 51..53 */
	doc = jget(mpath(id, "/loss?every=5&since=50"));
	w = json_object_get(doc, "points");
	ck_assert_int_eq(json_array_size(w), 1);
	check_window(raw, json_array_get(w, 0), 11, 5);
	json_decref(doc);
	/* nothing after the last step */
	doc = jget(mpath(id, "/loss?every=5&since=53"));
	ck_assert_int_eq(json_array_size(json_object_get(doc, "points")), 0);
	ck_assert_int_eq(jint(doc, "next_since"), 53);
	json_decref(doc);
	doc = jget(mpath(id, "/loss?every=5&limit=0"));
	ck_assert_int_eq(json_array_size(json_object_get(doc, "points")), 0);
	json_decref(doc);

	expect_error("GET", mpath(id, "/loss?every=0"), NULL, 400,
	    "invalid_query");
	expect_error("GET", mpath(id, "/loss?every=1000001"), NULL, 400,
	    "invalid_query");
	expect_error("GET", mpath(id, "/loss?every=x"), NULL, 400,
	    "invalid_query");
	expect_error("GET", mpath(id, "/loss?every=-5"), NULL, 400,
	    "invalid_query");
	expect_error("GET", mpath(id, "/loss?format=xml"), NULL, 400,
	    "invalid_query");
	expect_error("GET", mpath(id, "/loss?series=test"), NULL, 400,
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
	ck_assert_int_eq(strtoll(f, NULL, 10), jint(p, "step"));
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
	static const char *const plain[] = { "loss", "time", NULL };
	static const char *const win[] = { "loss", "min", "max", "time",
		NULL };
	char id[32], *text, *ln[64];
	json_t *pts;
	int n;

	new_model("{\"layers\": [2, 3, 1], \"seed\": 8}", id);
	push(id, XOR_BATCH);
	train(id, "{\"steps\": 12, \"batch_size\": 3}");

	text = tget(mpath(id, "/loss?format=csv"));
	ck_assert_msg(strncmp(g_hdr.content_type, "text/csv", 8) == 0,
	    "Content-Type %s", g_hdr.content_type);
	ck_assert(g_hdr.etag[0] != '\0');
	n = lines(text, ln, 64);
	pts = points(mpath(id, "/loss"));
	ck_assert_int_eq(n, 13);
	ck_assert_str_eq(ln[0], "step,loss,time");
	for (int i = 1; i < n; i++)
		check_csv_row(ln[i], json_array_get(pts, (size_t)i - 1), plain);
	json_decref(pts);
	free(text);

	/* windows, paged */
	text = tget(mpath(id, "/loss?format=csv&every=5&since=3"));
	n = lines(text, ln, 64);
	pts = points(mpath(id, "/loss?every=5&since=3"));
	ck_assert_int_eq(json_array_size(pts), 3);
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(ln[0], "step,loss,min,max,time");
	for (int i = 1; i < n; i++)
		check_csv_row(ln[i], json_array_get(pts, (size_t)i - 1), win);
	json_decref(pts);
	free(text);

	/* an empty page is the header alone */
	text = tget(mpath(id, "/loss?format=csv&since=12"));
	ck_assert_str_eq(text, "step,loss,time\n");
	free(text);
	text = tget(mpath(id, "/loss?format=json&limit=1"));
	ck_assert_msg(strncmp(g_hdr.content_type, "application/json", 16) == 0,
	    "Content-Type %s", g_hdr.content_type);
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
	long st = request("GET", path, NULL, NULL, &body);

	ck_assert_msg(st == 200, "GET %s: %ld %.200s", path, st, body);
	free(body);
	ck_assert_msg(strlen(g_hdr.etag) > 2 && g_hdr.etag[0] == '"' &&
	    g_hdr.etag[strlen(g_hdr.etag) - 1] == '"', "GET %s: ETag '%s'",
	    path, g_hdr.etag);
	snprintf(tag, 128, "%s", g_hdr.etag);
}

/* GET path with If-None-Match inm: want 304 (empty body, no
 * Content-Type, the same tag) or 200 (a body). */
static void
conditional(const char *path, const char *inm, long want)
{
	char *body;
	long st = request("GET", path, NULL, inm, &body);

	ck_assert_msg(st == want, "GET %s If-None-Match %s: want %ld, got %ld",
	    path, inm, want, st);
	ck_assert(g_hdr.etag[0] != '\0');
	if (want == 304) {
		ck_assert_msg(body[0] == '\0', "a 304 with a body: %s", body);
		ck_assert_msg(g_hdr.content_type[0] == '\0', "a 304 with "
		    "Content-Type %s", g_hdr.content_type);
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
	const char *paths[NPOLL] = { "/v1/models", mpath(id, ""),
		mpath(id, "/loss"), mpath(id, "/loss?every=2"),
		mpath(id, "/loss?format=csv"),
		mpath(id, "/loss?series=validation") };

	for (int i = 0; i < NPOLL; i++)
		etag_of(paths[i], tags[i]);
}

START_TEST(test_etag)
{
	char id[32], other[32], a[NPOLL][128], b[NPOLL][128], c[NPOLL][128];
	char list[300];
	struct timespec nap = { 0, 60 * 1000 * 1000 };

	new_model("{\"layers\": [2, 3, 1], \"seed\": 9}", id);
	new_model("{\"layers\": [2, 2, 1], \"seed\": 10}", other);
	push(id, XOR_BATCH);
	train(id, "{\"steps\": 5}");

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
	conditional(mpath(id, ""), a[1], 304);
	conditional(mpath(id, "/loss"), a[2], 304);
	conditional(mpath(id, "/loss?every=2"), a[3], 304);
	conditional(mpath(id, "/loss?format=csv"), a[4], 304);
	conditional(mpath(id, "/loss?series=validation"), a[5], 304);
	snprintf(list, sizeof list, "\"nope\", W/%s", a[1]);
	conditional(mpath(id, ""), list, 304);
	conditional(mpath(id, ""), "*", 304);
	/* another query's tag, or a stale one, gets the body */
	conditional(mpath(id, "/loss?every=3"), a[3], 200);
	conditional(mpath(id, "/loss"), "\"nope\"", 200);
	conditional(mpath(other, ""), a[1], 200);

	/* a step changes every tag of the model and the list */
	json_decref(jexpect("POST", mpath(id, "/step"), XOR_BATCH, 200));
	poll_tags(id, b);
	for (int i = 0; i < NPOLL; i++)
		ck_assert_msg(strcmp(a[i], b[i]) != 0, "tag %d kept after a "
		    "step: %s", i, a[i]);
	conditional(mpath(id, "/loss"), a[2], 200);
	conditional(mpath(id, "/loss"), b[2], 304);

	/* so does a new batch (samples changes) */
	push(id, XOR_BATCH);
	poll_tags(id, c);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(strcmp(b[i], c[i]) != 0, "tag %d kept after a "
		    "batch", i);
	conditional(mpath(id, ""), b[1], 200);
	/* another model's change leaves this model's tag alone */
	etag_of(mpath(id, ""), b[1]);
	push(other, "{\"inputs\": [[0,0]], \"targets\": [[0]]}");
	conditional(mpath(id, ""), b[1], 304);
	conditional("/v1/models", c[0], 200);

	/* a train job changes them, and they settle once it is done */
	poll_tags(id, a);
	train(id, "{\"steps\": 3}");
	poll_tags(id, b);
	for (int i = 0; i < NPOLL; i++)
		ck_assert_str_ne(a[i], b[i]);
	nanosleep(&nap, NULL);
	poll_tags(id, c);
	for (int i = 0; i < NPOLL; i++)
		ck_assert_str_eq(b[i], c[i]);

	/* a deleted model is gone, and so is its tag */
	ck_assert_int_eq(request("DELETE", mpath(other, ""), NULL, NULL, NULL),
	    204);
	conditional("/v1/models", c[0], 200);
	ck_assert_int_eq(request("GET", mpath(other, ""), NULL, "*", NULL),
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
	new_model("{\"layers\": [2, 4, 2], \"seed\": 3, "
	    "\"learning_rate\": 2}", id);
	push(id, "{\"inputs\": " XOR_IN ", \"targets\": " XOR_1HOT "}");
	push(id, "{\"inputs\": " XOR_IN ", \"targets\": " XOR_1HOT "}");
	ck_assert_int_eq(train(id, "{\"epochs\": 5, \"batch_size\": 4, "
	    "\"validation\": {\"inputs\": " XOR_IN ", \"targets\": " XOR_1HOT
	    "}}"), 10);
	v = points(mpath(id, "/loss?series=validation"));
	/* one per epoch; the job's end is the last epoch's end */
	ck_assert_int_eq(json_array_size(v), 5);
	for (size_t i = 0; i < 5; i++) {
		double a;

		p = json_array_get(v, i);
		ck_assert_int_eq(jint(p, "step"), 2 * (json_int_t)(i + 1));
		ck_assert(isfinite(jnum(p, "loss")) && jnum(p, "loss") > 0);
		a = jnum(p, "accuracy");
		ck_assert_msg(a >= 0 && a <= 1 && a * 4 == floor(a * 4),
		    "accuracy %g", a);
		ck_assert(json_is_string(json_object_get(p, "time")));
		ck_assert_ptr_null(json_object_get(p, "min"));
	}
	/* the last point is the final model on the validation rows */
	doc = jexpect("POST", mpath(id, "/predict"), "{\"inputs\": " XOR_IN
	    "}", 200);
	targets = jparse(XOR_1HOT);
	pred = json_object_get(doc, "outputs");
	score(pred, targets, &mse, &acc);
	p = json_array_get(v, 4);
	ck_assert_msg(near(jnum(p, "loss"), mse, 1e-5), "validation loss "
	    "%.9g, predictions give %.9g", jnum(p, "loss"), mse);
	ck_assert_msg(jnum(p, "accuracy") == acc, "accuracy %g, want %g",
	    jnum(p, "accuracy"), acc);
	json_decref(targets);
	json_decref(doc);
	/* the training series is untouched: one point per step */
	doc = jget(mpath(id, "/loss"));
	ck_assert_int_eq(json_array_size(json_object_get(doc, "points")), 10);
	json_decref(doc);

	/* every=K on the validation series: mean loss and accuracy */
	doc = jget(mpath(id, "/loss?series=validation&every=4"));
	win = json_object_get(doc, "points");
	ck_assert_int_eq(json_array_size(win), 3);
	for (size_t w = 0; w < 3; w++) {
		json_t *a = json_array_get(v, 2 * w), *b = json_array_get(v,
		    2 * w + 1), *x = json_array_get(win, w);
		double la = jnum(a, "loss"), lb = w < 2 ? jnum(b, "loss") : la;
		double aa = jnum(a, "accuracy");
		double ab = w < 2 ? jnum(b, "accuracy") : aa;

		ck_assert_int_eq(jint(x, "step"), w < 2 ? 4 * (json_int_t)w + 4
		    : 10);
		ck_assert(near(jnum(x, "loss"), (la + lb) / 2, 1e-6));
		ck_assert(jnum(x, "min") == fmin(la, lb));
		ck_assert(jnum(x, "max") == fmax(la, lb));
		ck_assert(near(jnum(x, "accuracy"), (aa + ab) / 2, 1e-9));
	}
	ck_assert_int_eq(jint(doc, "next_since"), 10);
	json_decref(doc);
	/* and as CSV */
	text = tget(mpath(id, "/loss?series=validation&format=csv"));
	ck_assert_int_eq(lines(text, ln, 16), 6);
	ck_assert_str_eq(ln[0], "step,loss,accuracy,time");
	{
		static const char *const keys[] = { "loss", "accuracy", "time",
			NULL };

		for (int i = 1; i < 6; i++)
			check_csv_row(ln[i], json_array_get(v, (size_t)i - 1),
			    keys);
	}
	free(text);
	text = tget(mpath(id, "/loss?series=validation&format=csv&every=4"));
	ck_assert_int_eq(lines(text, ln, 16), 4);
	ck_assert_str_eq(ln[0], "step,loss,min,max,accuracy,time");
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
		k += (size_t)snprintf(body + k, cap - k, "{\"inputs\": [[0,0]], "
		    "\"targets\": [[1,0]], \"validation\": {\"inputs\": [");
		for (int r = 0; r < 1025; r++)
			k += (size_t)snprintf(body + k, cap - k, "%s%s",
			    r ? "," : "", "[0,0],[0,1],[1,0],[1,1]");
		k += (size_t)snprintf(body + k, cap - k, "], \"targets\": [");
		for (int r = 0; r < 1025; r++)
			k += (size_t)snprintf(body + k, cap - k, "%s%s",
			    r ? "," : "", r < 1024 ? "[1,0],[0,1],[0,1],[1,0]" :
			    "[0,1],[1,0],[1,0],[0,1]");
		snprintf(body + k, cap - k, "]}}");
		step = jexpect("POST", mpath(id, "/step"), body, 200);
		free(body);
		vp = json_object_get(step, "validation");
		doc = jexpect("POST", mpath(id, "/predict"), "{\"inputs\": "
		    XOR_IN "}", 200);
		targets = jparse(XOR_1HOT);
		swapped = jparse("[[0,1],[1,0],[1,0],[0,1]]");
		score(json_object_get(doc, "outputs"), targets, &mse, &acc);
		score(json_object_get(doc, "outputs"), swapped, &mse2, &acc2);
		mse = (4096 * mse + 4 * mse2) / 4100;
		acc = (4096 * acc + 4 * acc2) / 4100;
		ck_assert_msg(near(jnum(vp, "loss"), mse, 1e-5), "validation "
		    "loss %.9g, want %.9g", jnum(vp, "loss"), mse);
		ck_assert_msg(near(jnum(vp, "accuracy"), acc, 1e-9),
		    "accuracy %.9g, want %.9g", jnum(vp, "accuracy"), acc);
		json_decref(swapped);
		json_decref(targets);
		json_decref(doc);
		json_decref(step);
	}

	/* targets that are not one-hot: accuracy is null; 4 rows in
	 * batches of 2, 3 steps: the epoch's end (2) and the job's (3) */
	new_model("{\"layers\": [2, 3, 1], \"seed\": 4}", flat);
	push(flat, XOR_BATCH);
	ck_assert_int_eq(train(flat, "{\"steps\": 3, \"batch_size\": 2, "
	    "\"validation\": " XOR_BATCH "}"), 3);
	v = points(mpath(flat, "/loss?series=validation"));
	ck_assert_int_eq(json_array_size(v), 2);
	ck_assert_int_eq(jint(json_array_get(v, 0), "step"), 2);
	ck_assert_int_eq(jint(json_array_get(v, 1), "step"), 3);
	for (size_t i = 0; i < 2; i++)
		ck_assert(json_is_null(json_object_get(json_array_get(v, i),
		    "accuracy")));
	json_decref(v);

	/* /step with a validation set: one point after its update */
	doc = jexpect("POST", mpath(flat, "/step"), "{\"inputs\": " XOR_IN
	    ", \"targets\": [[0],[1],[1],[0]], \"validation\": " XOR_BATCH
	    "}", 200);
	ck_assert_int_eq(jint(doc, "step"), 4);
	p = json_object_get(doc, "validation");
	ck_assert(json_is_object(p));
	ck_assert(json_is_null(json_object_get(p, "accuracy")));
	v = points(mpath(flat, "/loss?series=validation&since=3"));
	ck_assert_int_eq(json_array_size(v), 1);
	ck_assert_int_eq(jint(json_array_get(v, 0), "step"), 4);
	ck_assert(jnum(json_array_get(v, 0), "loss") == jnum(p, "loss"));
	/* measured after the update: the model as it is now */
	pred = jexpect("POST", mpath(flat, "/predict"), "{\"inputs\": "
	    XOR_IN "}", 200);
	targets = jparse("[[0],[1],[1],[0]]");
	score(json_object_get(pred, "outputs"), targets, &mse, &acc);
	ck_assert(near(jnum(p, "loss"), mse, 1e-5));
	json_decref(targets);
	json_decref(pred);
	json_decref(v);
	json_decref(doc);
	/* a step without one adds no point */
	json_decref(jexpect("POST", mpath(flat, "/step"), XOR_BATCH, 200));
	v = points(mpath(flat, "/loss?series=validation"));
	ck_assert_int_eq(json_array_size(v), 3);
	json_decref(v);
}
END_TEST

/* Bad validation sets are refused before anything changes. */
START_TEST(test_validation_errors)
{
	char id[32], one[32];
	json_t *v, *jobs;

	new_model("{\"layers\": [2, 3, 1], \"seed\": 5}", id);
	push(id, XOR_BATCH);
	expect_error("POST", mpath(id, "/train"), "{\"validation\": "
	    "{\"inputs\": [[0,0,0]], \"targets\": [[1]]}}", 422,
	    "invalid_value");
	expect_error("POST", mpath(id, "/train"), "{\"validation\": "
	    "{\"inputs\": [[0,0]], \"targets\": [[1],[0]]}}", 422,
	    "invalid_value");
	expect_error("POST", mpath(id, "/train"), "{\"validation\": "
	    "{\"inputs\": [[0,1e39]], \"targets\": [[1]]}}", 422,
	    "non_finite");
	expect_error("POST", mpath(id, "/train"), "{\"validation\": [1]}",
	    400, "wrong_type");
	expect_error("POST", mpath(id, "/train"), "{\"validation\": "
	    "{\"inputs\": [[0,0]]}}", 400, "missing_field");
	expect_error("POST", mpath(id, "/train"), "{\"validation\": "
	    "{\"inputs\": [[0,0]], \"targets\": [[1]], \"x\": 1}}", 400,
	    "unknown_field");
	expect_error("POST", mpath(id, "/train"), "{\"validation_split\": 0}",
	    422, "invalid_value");
	expect_error("POST", mpath(id, "/train"), "{\"validation_split\": 1}",
	    422, "invalid_value");
	expect_error("POST", mpath(id, "/train"),
	    "{\"validation_split\": \"0.1\"}", 400, "wrong_type");
	expect_error("POST", mpath(id, "/train"), "{\"validation_split\": 0.5,"
	    " \"validation\": " XOR_BATCH "}", 422, "invalid_value");
	/* one row: any split holds it out and leaves none to train on */
	new_model("{\"layers\": [2, 1]}", one);
	push(one, "{\"inputs\": [[0,0]], \"targets\": [[0]]}");
	expect_error("POST", mpath(one, "/train"),
	    "{\"validation_split\": 0.1}", 422, "invalid_value");
	expect_error("POST", mpath(one, "/train"),
	    "{\"validation_split\": 0.9}", 422, "invalid_value");
	expect_error("POST", mpath(id, "/step"), "{\"inputs\": [[0,0]], "
	    "\"targets\": [[0]], \"validation_split\": 0.5}", 400,
	    "unknown_field");
	expect_error("POST", mpath(id, "/step"), "{\"inputs\": [[0,0]], "
	    "\"targets\": [[0]], \"validation\": {\"inputs\": [[0]], "
	    "\"targets\": [[0]]}}", 422, "invalid_value");
	/* nothing happened */
	jobs = jget(mpath(id, "/jobs"));
	ck_assert_int_eq(json_array_size(json_object_get(jobs, "jobs")), 0);
	json_decref(jobs);
	v = jget(mpath(id, ""));
	ck_assert_int_eq(jint(v, "step"), 0);
	json_decref(v);
	v = points(mpath(id, "/loss?series=validation"));
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
	json_t *doc = jget(mpath(id, "/weights"));
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
	new_model(spec, a);
	weights(a, w0);
	rows = unit_rows(NULL, 0);
	push(a, rows);
	free(rows);
	ck_assert_int_eq(train(a, opts), 24);
	weights(a, wa);
	for (int i = 0; i < 40; i++) {
		held[i] = wa[i] == w0[i];
		nheld += held[i];
	}
	ck_assert_int_eq(nheld, 10);
	ck_assert(wa[40] != w0[40]);
	va = points(mpath(a, "/loss?series=validation"));
	ck_assert_int_eq(json_array_size(va), 3);
	for (size_t i = 0; i < 3; i++) {
		p = json_array_get(va, i);
		ck_assert_int_eq(jint(p, "step"), 8 * (json_int_t)(i + 1));
		ck_assert(json_is_null(json_object_get(p, "accuracy")));
	}
	/* the held-out rows' loss under the final weights */
	for (int i = 0; i < 40; i++)
		if (held[i])
			sum += (wa[i] + wa[40] - 1.0) * (wa[i] + wa[40] - 1.0);
	ck_assert_msg(near(jnum(json_array_get(va, 2), "loss"), sum / 10,
	    1e-5), "validation loss %.9g, want %.9g",
	    jnum(json_array_get(va, 2), "loss"), sum / 10);

	/* the same seed and rows, the held-out ones poisoned: they are
	 * held out again, so training is bit for bit the same */
	new_model(spec, b);
	rows = unit_rows(held, -50.0);
	push(b, rows);
	free(rows);
	ck_assert_int_eq(train(b, opts), 24);
	weights(b, wb);
	for (int i = 0; i <= 40; i++)
		ck_assert_msg(wa[i] == wb[i], "weight %d: %.9g vs %.9g (row "
		    "%s)", i, wa[i], wb[i], i < 40 && held[i] ? "held out" :
		    "trained");
	/* while the validation loss sees the poison */
	vb = points(mpath(b, "/loss?series=validation"));
	ck_assert_int_eq(json_array_size(vb), 3);
	sum = 0;
	for (int i = 0; i < 40; i++)
		if (held[i])
			sum += (wb[i] + wb[40] + 50) * (wb[i] + wb[40] + 50);
	ck_assert(near(jnum(json_array_get(vb, 2), "loss"), sum / 10, 1e-5));
	ck_assert(jnum(json_array_get(vb, 2), "loss") > 100 *
	    jnum(json_array_get(va, 2), "loss"));
	json_decref(va);
	json_decref(vb);
}
END_TEST

static Suite *
history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("history");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_every_windows);
	tcase_add_test(tc, test_csv);
	tcase_add_test(tc, test_etag);
	tcase_add_test(tc, test_validation_series);
	tcase_add_test(tc, test_validation_errors);
	tcase_add_test(tc, test_validation_split);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "check_history: curl_global_init failed\n");
		return 1;
	}
	sr = srunner_create(history_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
