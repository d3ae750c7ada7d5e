/*
 * check_badinput: the bad-input battery of issue 5. Hostile and broken
 * requests against a daemon started in-process, each answered with the
 * right status and error code and each leaving everything as it was.
 *
 * Every test gets a fresh daemon (checked fixture, so a forked child) on
 * a free port with a FILE database in a private temp directory, seeded
 * with two models, a batch, a step, a finished train job and their loss
 * history (tests/testlib.h). The hostile requests go out as raw bytes
 * (tl_raw), so a test can send what curl will not: a 1 GB Content-Length
 * with a tiny body, a chunked body past the cap, a 100 KB URL or 100 KB
 * of headers, NUL and invalid UTF-8 bytes, and uploads cut off mid-body.
 *
 * "Unchanged" is checked after every rejected request against a baseline
 * taken once per test, in two independent ways:
 *   - the API view: GET /v1/models (all fields) and, for every model, the
 *     model, its weights, batches (with total_samples), jobs and loss
 *     history, plus the seeded job, all byte-identical;
 *   - the database: every row of every table (sqlite_master and
 *     sqlite_sequence included) dumped through a separate read-only
 *     SQLite connection, byte-identical, and that connection's
 *     PRAGMA data_version unchanged (any commit by the daemon bumps it).
 *
 * Each relevant case runs against every body-taking endpoint: POST
 * /v1/models, PUT weights, POST batches, step, train and predict.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "onnx.h"
#include "testlib.h"

/* XOR without blanks: the body lengths below are counted on it */
#define XOR_TIGHT "{\"inputs\":[[0,0],[0,1],[1,0],[1,1]]," \
	"\"targets\":[[0],[1],[1],[0]]}"
#define DEEP 10000         /* nesting depth of the deep documents */
#define BIG (100 * 1024)   /* the 100 KB URL and headers */
#define SMALL_CAP (64 * 1024) /* body cap of the chunked-cap fixture */

/* Expected code meaning "the body is not ours (libmicrohttpd's own
 * answer): do not look at it". */
#define NOT_OURS "-"

static sqlite3 *g_ro;       /* read-only view of the daemon's database */

static char g_a[32];        /* model A: [2,3,1], data, steps, a job */
static char g_b[32];        /* model B: [4,5,3] adam/cross_entropy, empty */
static char g_job[32];      /* A's finished train job */

/* The baseline every rejected request is compared with. */
static char *g_base_world;
static char *g_base_db;
static long long g_base_dv;

/* ---------------------------------------------------------------------
 * Request bytes, sent raw (tl_raw): one connection each, Connection: close
 * ------------------------------------------------------------------ */

/* A malloc'd copy of tmpl with its one '@' replaced by value. */
static char *
subst(const char *tmpl, const char *value)
{
	const char *at = strchr(tmpl, '@');
	tl_str s = { NULL, 0, 0 };

	ck_assert_ptr_nonnull(at);
	tl_str_addn(&s, tmpl, (size_t)(at - tmpl));
	tl_str_add(&s, value);
	tl_str_add(&s, at + 1);
	return s.p;
}

/* The bytes of a request: method path, Content-Type ct (NULL: none) and
 * body[0..blen) (body NULL: no body and no Content-Length). */
static void
build(tl_str *s, const char *method, const char *path, const char *ct,
      const char *body, size_t blen)
{
	char num[64];

	tl_str_add(s, method);
	tl_str_add(s, " ");
	tl_str_add(s, path);
	tl_str_add(s, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
	if (ct != NULL) {
		tl_str_add(s, "Content-Type: ");
		tl_str_add(s, ct);
		tl_str_add(s, "\r\n");
	}
	if (body != NULL) {
		snprintf(num, sizeof num, "Content-Length: %zu\r\n\r\n", blen);
		tl_str_add(s, num);
		tl_str_addn(s, body, blen);
	} else {
		tl_str_add(s, "\r\n");
	}
}

/* One request; the reply in r (tl_response_free it). */
static void
http(const char *method, const char *path, const char *ct, const char *body,
     size_t blen, tl_response *r)
{
	tl_str s = { NULL, 0, 0 };

	build(&s, method, path, ct, body, blen);
	tl_raw(s.p, s.len, r);
	free(s.p);
}

/* A printable excerpt of n bytes of p, for messages (static). */
static const char *
excerpt(const char *p, size_t n)
{
	static char out[2][200];
	static int k;
	size_t o = 0, i = 0;

	k ^= 1;
	/* room for one more escape (4) and then "..." and its NUL (4) */
	for (; p && i < n && o + 8 <= sizeof out[k]; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f) {
			out[k][o++] = (char)c;
		} else {
			snprintf(out[k] + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	if (p && i < n)
		memcpy(out[k] + o, "...", 4);
	else
		out[k][o] = '\0';
	return out[k];
}

/* ---------------------------------------------------------------------
 * What "unchanged" means
 * ------------------------------------------------------------------ */

/* The API view of everything: the model list and, for every model, the
 * model, weights, batches, jobs and loss history; and the seeded job. */
static char *
world(void)
{
	return tl_world(NULL, g_job[0] ? tl_jpath(g_job) : NULL);
}

/* Every row of every table, through the read-only connection. */
static char *
db_dump(void)
{
	tl_str s = { NULL, 0, 0 };
	sqlite3_stmt *tables, *rows;

	ck_assert_int_eq(sqlite3_prepare_v2(g_ro, "SELECT name FROM "
	    "sqlite_master WHERE type = 'table' UNION ALL SELECT "
	    "'sqlite_master' ORDER BY 1", -1, &tables, NULL), SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(tables, 0);
		char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", t);
		int rc;

		ck_assert_ptr_nonnull(sql);
		rc = sqlite3_prepare_v2(g_ro, sql, -1, &rows, NULL);
		ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql,
		    sqlite3_errmsg(g_ro));
		sqlite3_free(sql);
		tl_str_add(&s, "table ");
		tl_str_add(&s, t);
		tl_str_add(&s, "\n");
		while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
			int nc = sqlite3_column_count(rows);

			for (int c = 0; c < nc; c++) {
				char num[64];
				const unsigned char *b;
				int n;

				switch (sqlite3_column_type(rows, c)) {
				case SQLITE_INTEGER:
					snprintf(num, sizeof num, "i%lld|",
					    (long long)sqlite3_column_int64(
					    rows, c));
					tl_str_add(&s, num);
					break;
				case SQLITE_FLOAT:
					snprintf(num, sizeof num, "f%.17g|",
					    sqlite3_column_double(rows, c));
					tl_str_add(&s, num);
					break;
				case SQLITE_NULL:
					tl_str_add(&s, "null|");
					break;
				default: /* text and blobs: length and hex */
					b = sqlite3_column_blob(rows, c);
					n = sqlite3_column_bytes(rows, c);
					snprintf(num, sizeof num, "b%d:", n);
					tl_str_add(&s, num);
					for (int k = 0; k < n; k++) {
						snprintf(num, sizeof num,
						    "%02x", b[k]);
						tl_str_addn(&s, num, 2);
					}
					tl_str_add(&s, "|");
					break;
				}
			}
			tl_str_add(&s, "\n");
		}
		ck_assert_msg(rc == SQLITE_DONE, "reading %s: %s", t,
		    sqlite3_errmsg(g_ro));
		sqlite3_finalize(rows);
	}
	sqlite3_finalize(tables);
	return s.p;
}

/* PRAGMA data_version of the read-only connection. */
static long long
data_version(void)
{
	sqlite3_stmt *st;
	long long v;

	ck_assert_int_eq(sqlite3_prepare_v2(g_ro, "PRAGMA data_version", -1,
	    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Takes the baseline that later requests must leave as it is. */
static void
baseline(void)
{
	free(g_base_world);
	free(g_base_db);
	g_base_world = world();
	g_base_db = db_dump();
	g_base_dv = data_version();
}

/* Where a and b first differ, for messages. */
static void
diff_abort(int line, const char *what, const char *kind, const char *a,
	   const char *b)
{
	size_t d = 0;

	while (a[d] && a[d] == b[d])
		d++;
	d = d > 60 ? d - 60 : 0;
	ck_abort_msg("line %d: %s was rejected but changed the %s: before "
	    "...%.200s... after ...%.200s...", line, what, kind, a + d, b + d);
}

/* Requires the API view and the database to equal the baseline. */
static void
unchanged(int line, const char *what)
{
	char *w = world(), *db = db_dump();
	long long dv = data_version();

	if (strcmp(w, g_base_world) != 0)
		diff_abort(line, what, "API view", g_base_world, w);
	if (strcmp(db, g_base_db) != 0)
		diff_abort(line, what, "database", g_base_db, db);
	ck_assert_msg(dv == g_base_dv, "line %d: %s was rejected but the "
	    "database saw a commit (data_version %lld -> %lld)", line, what,
	    g_base_dv, dv);
	free(w);
	free(db);
}

/* Checks r against want and code (NULL: any error code; NOT_OURS: a
 * libmicrohttpd answer, body not looked at). */
static void
check_reply(int line, const char *what, const tl_response *r, int want,
	    const char *code)
{
	char where[400];

	ck_assert_msg(r->status == want, "line %d: %s: want %d, got %ld "
	    "%.300s", line, what, want, r->status, r->body ? r->body : "");
	if (code != NULL && strcmp(code, NOT_OURS) == 0)
		return;
	snprintf(where, sizeof where, "line %d: %s", line, what);
	tl_check_error(r->body, r->len, code, where);
}

/* Sends raw request bytes; requires want/code and no change. */
static void
rej_raw(int line, const char *req, size_t len, int want, const char *code)
{
	char what[300];
	tl_response r;

	snprintf(what, sizeof what, "%s", excerpt(req, len < 160 ? len : 160));
	tl_raw(req, len, &r);
	check_reply(line, what, &r, want, code);
	tl_response_free(&r);
	unchanged(line, what);
}

/* method path (Content-Type ct, body[0..blen)): want/code, no change. */
static void
rej(int line, const char *method, const char *path, const char *ct,
    const char *body, size_t blen, int want, const char *code)
{
	char what[400], allow[256];
	tl_response r;

	snprintf(what, sizeof what, "%s %.120s [%s] %s", method,
	    excerpt(path, strlen(path)), ct ? ct : "no type",
	    excerpt(body, body ? blen : 0));
	http(method, path, ct, body, blen, &r);
	check_reply(line, what, &r, want, code);
	if (want == 405)
		ck_assert_msg(tl_response_header(&r, "Allow", allow,
		    sizeof allow)[0] != '\0', "line %d: %s: 405 without "
		    "Allow", line, what);
	tl_response_free(&r);
	unchanged(line, what);
}

/* rej() with a NUL-terminated body, or none. */
static void
rej_ct(int line, const char *method, const char *path, const char *ct,
       const char *body, int want, const char *code)
{
	rej(line, method, path, ct, body, body ? strlen(body) : 0, want,
	    code);
}

#define REJ(method, path, body, want, code) \
	rej(__LINE__, (method), (path), "application/json", (body), \
	    strlen(body), (want), (code))
#define REJ_CT(method, path, ct, body, want, code) \
	rej_ct(__LINE__, (method), (path), (ct), (body), (want), (code))

/* ---------------------------------------------------------------------
 * Fixtures
 * ------------------------------------------------------------------ */

static void
start(size_t max_body)
{
	const char *db;
	json_t *doc;
	int rc;

	tl_config();
	db = tl_file_db();
	if (max_body)
		tl_cfg()->max_body = max_body;
	tl_start();
	/* hundreds of snapshots a test: no connect for each GET */
	tl_world_keepalive(1);
	rc = sqlite3_open_v2(db, &g_ro, SQLITE_OPEN_READONLY, NULL);
	ck_assert_msg(rc == SQLITE_OK, "read-only open of %s: %s", db,
	    sqlite3_errmsg(g_ro));
	sqlite3_busy_timeout(g_ro, 5000);

	/* the seeded world: every kind of row there is */
	g_job[0] = '\0';
	tl_new_model("{\"layers\":[2,3,1],\"name\":\"a\",\"seed\":1,"
	    "\"learning_rate\":0.5}", g_a);
	tl_push(g_a, XOR_TIGHT);
	json_decref(tl_jexpect("POST", tl_mpath(g_a, "/step"), XOR_TIGHT,
	    200));
	doc = tl_jexpect("POST", tl_mpath(g_a, "/train"),
	    "{\"steps\":3,\"batch_size\":4}", 202);
	snprintf(g_job, sizeof g_job, "%s", tl_jstr(doc, "id"));
	json_decref(doc);
	tl_wait_job_succeeded(g_job, 10);
	tl_new_model("{\"layers\":[4,5,3],\"name\":\"b\",\"loss\":"
	    "\"cross_entropy\",\"optimizer\":\"adam\",\"seed\":2}", g_b);
	baseline();
}

static void
setup(void)
{
	start(0);
}

static void
setup_small(void)
{
	start(SMALL_CAP);
}

static void
teardown(void)
{
	sqlite3_close(g_ro);
	g_ro = NULL;
	tl_stop();
	free(g_base_world);
	free(g_base_db);
	g_base_world = g_base_db = NULL;
}

/* ---------------------------------------------------------------------
 * The body-taking endpoints, with bodies shaped for model A ([2,3,1])
 * ------------------------------------------------------------------ */

#define W_BODY "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4],[0.5,0.6]]," \
	"\"biases\":[0.1,0.2,0.3]},{\"weights\":[[0.7,0.8,0.9]]," \
	"\"biases\":[0.5]}]}"

/* Kinds of number slot: what a value there should get. */
enum { K_DATA, K_RANGED, K_INT, K_NKINDS };

typedef struct endpoint {
	const char *name;
	const char *method;
	const char *rest;    /* NULL: POST /v1/models; else after the id */
	const char *valid;   /* a body the endpoint takes for model A */
	const char *dup;     /* a body with a duplicate key */
	const char *key;     /* a key of valid, for the deep documents */
	const char *slots[7]; /* bodies with one '@' where a number goes */
	int kinds[7];
	const char *bad_methods[4];
} endpoint;

static const endpoint endpoints[] = {
	{ "create", "POST", NULL,
	    "{\"layers\":[2,3,1],\"name\":\"new\",\"learning_rate\":0.5}",
	    "{\"layers\":[2,3,1],\"name\":\"x\",\"layers\":[2,3,1]}",
	    "layers",
	    { "{\"layers\":[2,@,1]}", "{\"layers\":[@,3,1]}",
	      "{\"layers\":[2,3,1],\"learning_rate\":@}", NULL },
	    { K_INT, K_INT, K_RANGED },
	    { "PUT", "DELETE", "PATCH", NULL } },
	{ "weights", "PUT", "/weights", W_BODY,
	    "{\"layers\":[],\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4],"
	    "[0.5,0.6]],\"biases\":[0.1,0.2,0.3]},{\"weights\":[[0.7,0.8,"
	    "0.9]],\"biases\":[0.5]}]}",
	    "layers",
	    { "{\"layers\":[{\"weights\":[[0.1,@],[0.3,0.4],[0.5,0.6]],"
	      "\"biases\":[0.1,0.2,0.3]},{\"weights\":[[0.7,0.8,0.9]],"
	      "\"biases\":[0.5]}]}",
	      "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4],[0.5,0.6]],"
	      "\"biases\":[0.1,0.2,0.3]},{\"weights\":[[0.7,0.8,0.9]],"
	      "\"biases\":[@]}]}", NULL },
	    { K_DATA, K_DATA },
	    { "POST", "PATCH", "DELETE", NULL } },
	{ "batches", "POST", "/batches", XOR_TIGHT,
	    "{\"inputs\":[[0,0]],\"targets\":[[0]],\"inputs\":[[1,1]]}",
	    "inputs",
	    { "{\"inputs\":[[0,@],[1,1]],\"targets\":[[0],[1]]}",
	      "{\"inputs\":[[0,0]],\"targets\":[[@]]}", NULL },
	    { K_DATA, K_DATA },
	    { "PUT", "PATCH", NULL } },
	{ "step", "POST", "/step",
	    "{\"inputs\":[[0,0],[0,1],[1,0],[1,1]],\"targets\":[[0],[1],[1],"
	    "[0]],\"learning_rate\":0.5}",
	    "{\"inputs\":[[0,0]],\"targets\":[[0]],\"targets\":[[1]]}",
	    "inputs",
	    { "{\"inputs\":[[@,0]],\"targets\":[[1]]}",
	      "{\"inputs\":[[0,0]],\"targets\":[[@]]}",
	      "{\"inputs\":[[0,0]],\"targets\":[[1]],\"learning_rate\":@}",
	      NULL },
	    { K_DATA, K_DATA, K_RANGED },
	    { "GET", "PUT", "DELETE", NULL } },
	{ "train", "POST", "/train",
	    "{\"epochs\":1,\"batch_size\":4,\"learning_rate\":0.5,"
	    "\"shuffle\":true}",
	    "{\"epochs\":1,\"batch_size\":4,\"epochs\":2}",
	    "epochs",
	    { "{\"epochs\":@}", "{\"steps\":@}", "{\"batch_size\":@}",
	      "{\"learning_rate\":@}", "{\"validation_split\":@}",
	      "{\"validation\":{\"inputs\":[[0,@]],\"targets\":[[1]]}}",
	      NULL },
	    { K_INT, K_INT, K_INT, K_RANGED, K_RANGED, K_DATA },
	    { "GET", "PUT", "DELETE", NULL } },
	{ "predict", "POST", "/predict", "{\"inputs\":[[0,1],[1,0]]}",
	    "{\"inputs\":[[0,1]],\"inputs\":[[1,0]]}",
	    "inputs",
	    { "{\"inputs\":[[0,@]]}", "{\"input\":[@,1]}", NULL },
	    { K_DATA, K_DATA },
	    { "GET", "PUT", "DELETE", NULL } },
};
#define NENDPOINTS (sizeof endpoints / sizeof endpoints[0])

/* The path of endpoint e on model id (ignored by create). */
static const char *
ep_path(const endpoint *e, const char *id)
{
	return e->rest ? tl_mpath(id, e->rest) : "/v1/models";
}

/* Sends body to endpoint e on model A with application/json. */
static void
ep_rej(int line, const endpoint *e, const char *body, size_t blen, int want,
       const char *code)
{
	char path[256];

	snprintf(path, sizeof path, "%s", ep_path(e, g_a));
	rej(line, e->method, path, "application/json", body, blen, want,
	    code);
}

#define EP_REJ(e, body, want, code) \
	ep_rej(__LINE__, (e), (body), strlen(body), (want), (code))

/* ---------------------------------------------------------------------
 * Malformed documents, on every endpoint
 * ------------------------------------------------------------------ */

START_TEST(test_truncated)
{
	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];
		size_t n = strlen(e->valid);
		size_t cuts[] = { 1, 2, n / 3, n / 2, n - 2, n - 1 };

		for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++)
			ep_rej(__LINE__, e, e->valid, cuts[k], 400,
			    "malformed_json");
		/* an unterminated string and an unterminated escape */
		EP_REJ(e, "{\"inputs", 400, "malformed_json");
		EP_REJ(e, "{\"a\":\"\\u00", 400, "malformed_json");
	}
}
END_TEST

START_TEST(test_trailing_garbage)
{
	static const char *const tails[] = { "x", "{}", ",", "]", "}",
		" null", "\n{\"a\":1}", " 1", "\"", "\xff", "/*c*/" };

	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];

		for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
			char *body = NULL;

			ck_assert_int_ge(asprintf(&body, "%s%s", e->valid,
			    tails[k]), 0);
			EP_REJ(e, body, 400, "malformed_json");
			free(body);
		}
		/* a NUL byte after the document */
		{
			size_t n = strlen(e->valid);
			char *body = malloc(n + 2);

			ck_assert_ptr_nonnull(body);
			memcpy(body, e->valid, n);
			body[n] = '\0';
			body[n + 1] = '1';
			ep_rej(__LINE__, e, body, n + 2, 400,
			    "malformed_json");
			free(body);
		}
		/* leading garbage */
		{
			char *body = NULL;

			ck_assert_int_ge(asprintf(&body, "x%s", e->valid), 0);
			EP_REJ(e, body, 400, "malformed_json");
			free(body);
		}
	}
}
END_TEST

START_TEST(test_duplicate_keys)
{
	for (size_t i = 0; i < NENDPOINTS; i++)
		EP_REJ(&endpoints[i], endpoints[i].dup, 400, "duplicate_key");
	/* duplicates one level down */
	REJ("PUT", tl_mpath(g_a, "/weights"), "{\"layers\":[{\"weights\":[[0.1,"
	    "0.2],[0.3,0.4],[0.5,0.6]],\"biases\":[0.1,0.2,0.3],\"biases\":"
	    "[0.1,0.2,0.3]},{\"weights\":[[0.7,0.8,0.9]],\"biases\":[0.5]}]}",
	    400, "duplicate_key");
	REJ("POST", tl_mpath(g_a, "/train"), "{\"validation\":{\"inputs\":"
	    "[[0,0]],\"targets\":[[1]],\"inputs\":[[1,1]]}}", 400,
	    "duplicate_key");
	REJ("POST", tl_mpath(g_a, "/step"), XOR_TIGHT ",\"validation\":{"
	    "\"targets\":[[1]],\"targets\":[[1]],\"inputs\":[[1,1]]}}", 400,
	    "malformed_json");
	/* the same key spelled with an escape is the same key */
	REJ("POST", tl_mpath(g_a, "/batches"),
	    "{\"inputs\":[[0,0]],\"targets\":"
	    "[[0]],\"\\u0069nputs\":[[1,1]]}", 400, "duplicate_key");
}
END_TEST

/* Training control (issue 13): schedules that make no sense, patience 0,
 * a negative min_delta, non-finite numbers; each refused before anything
 * is written (model A: learning rate 0.5, 4 rows). */
START_TEST(test_training_control)
{
	static const struct {
		const char *body;
		int want;
		const char *code;
	} cases[] = {
		{ "{\"schedule\":\"cosine\"}", 400, "wrong_type" },
		{ "{\"schedule\":{\"type\":\"linear\"}}", 422,
		    "invalid_value" },
		{ "{\"schedule\":{\"type\":3}}", 400, "wrong_type" },
		{ "{\"schedule\":{\"type\":\"step\",\"every\":2,"
		    "\"factor\":0}}", 422, "invalid_value" },
		{ "{\"schedule\":{\"type\":\"step\",\"every\":2,"
		    "\"factor\":-0.5}}", 422, "invalid_value" },
		{ "{\"schedule\":{\"type\":\"step\",\"every\":2,"
		    "\"factor\":1.5}}", 422, "invalid_value" },
		{ "{\"schedule\":{\"type\":\"step\",\"every\":0,"
		    "\"factor\":0.5}}", 422, "invalid_value" },
		{ "{\"schedule\":{\"type\":\"step\",\"factor\":0.5}}", 422,
		    "invalid_value" },
		{ "{\"schedule\":{\"type\":\"step\",\"every\":2,"
		    "\"factor\":1e999}}", 422, "non_finite" },
		{ "{\"schedule\":{\"type\":\"constant\",\"factor\":0.5}}",
		    422, "invalid_value" },
		{ "{\"schedule\":{\"type\":\"step\",\"every\":2,"
		    "\"factor\":0.5,\"min_lr\":0.1}}", 422, "invalid_value" },
		{ "{\"schedule\":{\"type\":\"cosine\",\"min_lr\":0.6}}",
		    422, "invalid_value" },
		{ "{\"learning_rate\":0.01,\"schedule\":{\"type\":"
		    "\"cosine\",\"min_lr\":0.02}}", 422, "invalid_value" },
		{ "{\"schedule\":{\"type\":\"cosine\",\"min_lr\":-0.1}}",
		    422, "invalid_value" },
		{ "{\"schedule\":{\"type\":\"cosine\",\"min_lr\":-1e999}}",
		    422, "non_finite" },
		{ "{\"steps\":3,\"schedule\":{\"warmup_steps\":3}}", 422,
		    "invalid_value" },
		{ "{\"epochs\":2,\"batch_size\":4,\"schedule\":{"
		    "\"type\":\"cosine\",\"warmup_steps\":5}}", 422,
		    "invalid_value" },
		{ "{\"schedule\":{\"warmup_steps\":-1}}", 422,
		    "invalid_value" },
		{ "{\"schedule\":{\"warmup\":3}}", 400, "unknown_field" },
		{ "{\"early_stopping\":{\"patience\":0}}", 422,
		    "invalid_value" },
		{ "{\"early_stopping\":{}}", 422, "invalid_value" },
		{ "{\"early_stopping\":{\"patience\":2.5}}", 400,
		    "wrong_type" },
		{ "{\"early_stopping\":{\"patience\":3,\"min_delta\":-0.1}}",
		    422, "invalid_value" },
		{ "{\"early_stopping\":{\"patience\":3,\"min_delta\":1e999}}",
		    422, "non_finite" },
		{ "{\"early_stopping\":{\"patience\":3,\"delta\":0}}", 400,
		    "unknown_field" },
		{ "{\"early_stopping\":true}", 400, "wrong_type" },
		{ "{\"eval_every\":0}", 422, "invalid_value" },
		{ "{\"restore_best\":1}", 400, "wrong_type" },
		{ "{\"save_best\":\"yes\"}", 400, "wrong_type" },
		{ "{\"resume\":5}", 400, "wrong_type" },
		{ "{\"resume\":\"\"}", 422, "invalid_value" },
		{ "{\"resume\":\"j0123456789ABCDEF\"}", 422,
		    "invalid_value" },
		{ "{\"resume\":\"" NO_JOB "\"}", 404, "job_not_found" },
	};

	char body[96];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		rej(__LINE__ * 1000 + (int)i, "POST", tl_mpath(g_a, "/train"),
		    "application/json", cases[i].body, strlen(cases[i].body),
		    cases[i].want, cases[i].code);
	/* A's job succeeded: nothing to resume; B has no such job */
	snprintf(body, sizeof body, "{\"resume\":\"%s\"}", g_job);
	REJ("POST", tl_mpath(g_a, "/train"), body, 422, "invalid_value");
	REJ("POST", tl_mpath(g_b, "/train"), body, 409, "no_training_data");
}
END_TEST

/* "{"key":" + depth opening brackets + closing ones (or none) + "}". */
static char *
deep(const char *key, char open, char close, int closed)
{
	tl_str s = { NULL, 0, 0 };

	tl_str_add(&s, "{\"");
	tl_str_add(&s, key);
	tl_str_add(&s, "\":");
	if (open == '{') {
		for (int i = 0; i < DEEP; i++)
			tl_str_add(&s, "{\"a\":");
		tl_str_add(&s, "1");
	} else {
		tl_str_rep(&s, open, DEEP);
	}
	if (closed)
		tl_str_rep(&s, close, DEEP);
	tl_str_add(&s, "}");
	return s.p;
}

START_TEST(test_deep_nesting)
{
	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];
		char *body;
		tl_str top = { NULL, 0, 0 };

		body = deep(e->key, '[', ']', 1);
		EP_REJ(e, body, 400, "malformed_json");
		free(body);
		body = deep(e->key, '{', '}', 1);
		EP_REJ(e, body, 400, "malformed_json");
		free(body);
		body = deep(e->key, '[', ']', 0);
		EP_REJ(e, body, 400, "malformed_json");
		free(body);
		/* nesting at the top, arrays and objects */
		tl_str_rep(&top, '[', DEEP);
		tl_str_rep(&top, ']', DEEP);
		EP_REJ(e, top.p, 400, "malformed_json");
		free(top.p);
		top.p = NULL;
		top.len = top.cap = 0;
		for (int k = 0; k < DEEP; k++)
			tl_str_add(&top, "{\"x\":");
		tl_str_add(&top, "0");
		tl_str_rep(&top, '}', DEEP);
		EP_REJ(e, top.p, 400, "malformed_json");
		free(top.p);
	}
}
END_TEST

START_TEST(test_not_an_object)
{
	/* jansson takes only arrays and objects at the top */
	static const char *const bodies[] = { "[]", "[{}]", "[1]" };
	static const char *const scalars[] = { "1", "\"x\"", "null",
		"true" };
	static const char *const empty[] = { "", " ", "\r\n\t " };

	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];

		for (size_t k = 0; k < sizeof bodies / sizeof bodies[0]; k++)
			EP_REJ(e, bodies[k], 400, "wrong_type");
		for (size_t k = 0; k < sizeof scalars / sizeof scalars[0]; k++)
			EP_REJ(e, scalars[k], 400, "malformed_json");
		/* train takes an empty body as {} (and would run a job) */
		if (strcmp(e->name, "train") == 0)
			continue;
		for (size_t k = 0; k < sizeof empty / sizeof empty[0]; k++)
			EP_REJ(e, empty[k], 400, "malformed_json");
	}
}
END_TEST

START_TEST(test_unknown_fields)
{
	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];
		char *body = NULL;

		ck_assert_int_ge(asprintf(&body, "{\"bogus\":1,%s",
		    e->valid + 1), 0);
		EP_REJ(e, body, 400, "unknown_field");
		free(body);
	}
}
END_TEST

/* ---------------------------------------------------------------------
 * Strings: invalid UTF-8 and NUL
 * ------------------------------------------------------------------ */

START_TEST(test_bad_strings)
{
	/* each a key or a string value jansson must refuse */
	static const char *const bad[] = {
		"\xff",              /* never valid */
		"\x80",              /* a lone continuation byte */
		"\xc3\x28",          /* a lead byte without continuation */
		"ab\xe2\x82",        /* a sequence cut short */
		"\xc0\xaf",          /* overlong '/' */
		"\xc0\x80",          /* overlong NUL */
		"\xed\xa0\x80",      /* a UTF-16 surrogate in UTF-8 */
		"\xf4\x90\x80\x80",  /* past U+10FFFF */
		"\xf8\x88\x80\x80\x80", /* a 5-byte form */
		"\\u0000", "a\\u0000b", /* NUL, escaped */
		"\\ud800", "\\ud800\\u0041", "\\udc00", /* lone surrogates */
		("a\x01" "b"),        /* a raw control character */
		"\\x41", "\\u12",     /* escapes JSON does not have */
	};

	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];

		for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
			char *body = NULL;

			/* as a key, in front of a valid body */
			ck_assert_int_ge(asprintf(&body, "{\"%s\":1,%s", bad[k],
			    e->valid + 1), 0);
			EP_REJ(e, body, 400, "malformed_json");
			free(body);
			/* as a value where a string or a number belongs */
			ck_assert_int_ge(asprintf(&body, "{\"%s\":\"%s\"}",
			    e->key, bad[k]), 0);
			EP_REJ(e, body, 400, "malformed_json");
			free(body);
		}
		/* a raw NUL byte inside a string */
		{
			char body[] = "{\"name\":\"a_b\"}";

			body[10] = '\0';
			ep_rej(__LINE__, e, body, sizeof body - 1, 400,
			    "malformed_json");
		}
	}
	/* in the model's string fields, where they would be stored */
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		static const char *const fields[] = { "name", "activation",
			"loss", "optimizer" };

		for (size_t f = 0; f < 4; f++) {
			char *body = NULL;

			ck_assert_int_ge(asprintf(&body, "{\"layers\":[2,3,1],"
			    "\"%s\":\"x%s\"}", fields[f], bad[k]), 0);
			REJ("POST", "/v1/models", body, 400,
			    "malformed_json");
			free(body);
		}
	}
	/* a NUL byte that is valid JSON text everywhere but in C */
	REJ("POST", "/v1/models", "{\"layers\":[2,3,1],\"name\":\"a\\u0000"
	    "b\",\"activation\":\"relu\"}", 400, "malformed_json");
}
END_TEST

/* ---------------------------------------------------------------------
 * Numbers: NaN, Infinity, 1e999, past 2^63, strings and other types
 * ------------------------------------------------------------------ */

typedef struct number_case {
	const char *v;
	int st[K_NKINDS];          /* 0: a valid value in that kind of slot */
	const char *code[K_NKINDS]; /* NULL: any code */
} number_case;

#define ALL(s, c) { (s), (s), (s) }, { (c), (c), (c) }
static const number_case numbers[] = {
	{ "NaN", ALL(400, "malformed_json") },
	{ "nan", ALL(400, "malformed_json") },
	{ "Infinity", ALL(400, "malformed_json") },
	{ "-Infinity", ALL(400, "malformed_json") },
	{ "inf", ALL(400, "malformed_json") },
	{ "0x10", ALL(400, "malformed_json") },
	{ "01", ALL(400, "malformed_json") },
	{ ".5", ALL(400, "malformed_json") },
	{ "+1", ALL(400, "malformed_json") },
	{ "1e999", ALL(422, "non_finite") },
	{ "-1e999", ALL(422, "non_finite") },
	{ "9223372036854775808", ALL(422, "non_finite") },
	{ "-9223372036854775809", ALL(422, "non_finite") },
	{ "99999999999999999999999999999999", ALL(422, "non_finite") },
	{ "1e39", { 422, 422, 400 }, { "non_finite", NULL, "wrong_type" } },
	{ "-3.5e38", { 422, 422, 400 }, { "non_finite", NULL, "wrong_type" } },
	{ "1e308", { 422, 422, 400 }, { "non_finite", NULL, "wrong_type" } },
	{ "-1", { 0, 422, 422 }, { NULL, "invalid_value", "invalid_value" } },
	{ "0", { 0, 422, 422 }, { NULL, "invalid_value", "invalid_value" } },
	{ "4294967296", { 0, 422, 422 },
	    { NULL, "invalid_value", "invalid_value" } },
	{ "9007199254740993", { 0, 422, 422 },
	    { NULL, "invalid_value", "invalid_value" } },
	{ "2.5", { 0, 0, 400 }, { NULL, NULL, "wrong_type" } },
	{ "\"0.5\"", ALL(400, "wrong_type") },
	{ "\"NaN\"", ALL(400, "wrong_type") },
	{ "null", ALL(400, "wrong_type") },
	{ "true", ALL(400, "wrong_type") },
	{ "[]", ALL(400, "wrong_type") },
	{ "{}", ALL(400, "wrong_type") },
};

START_TEST(test_numbers)
{
	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];

		for (size_t s = 0; s < 7 && e->slots[s]; s++) {
			int kind = e->kinds[s];

			for (size_t k = 0; k < sizeof numbers /
			    sizeof numbers[0]; k++) {
				const number_case *c = &numbers[k];
				char *body;

				if (c->st[kind] == 0)
					continue;
				body = subst(e->slots[s], c->v);
				EP_REJ(e, body, c->st[kind], c->code[kind]);
				free(body);
			}
		}
	}
}
END_TEST

/* ---------------------------------------------------------------------
 * Shapes: ragged rows, wrong widths, empty batches, layer sizes
 * ------------------------------------------------------------------ */

/* Ragged, mis-sized, empty and mistyped rows on batches and step, as
 * validation sets of train and step, and on predict. */
START_TEST(test_rows)
{
	/* {inputs, targets} bodies for A (2 inputs, 1 output) */
	static const struct {
		const char *body;
		int st;
		const char *code;
	} cases[] = {
		/* ragged */
		{ "{\"inputs\":[[0,0],[1]],\"targets\":[[0],[1]]}", 422,
		    "invalid_value" },
		{ "{\"inputs\":[[0,0],[1,1,1]],\"targets\":[[0],[1]]}", 422,
		    "invalid_value" },
		{ "{\"inputs\":[[0,0],[1,1]],\"targets\":[[0],[1,1]]}", 422,
		    "invalid_value" },
		{ "{\"inputs\":[[0,0],[]],\"targets\":[[0],[1]]}", 422,
		    "invalid_value" },
		/* wrong width everywhere */
		{ "{\"inputs\":[[0,0,0]],\"targets\":[[0]]}", 422,
		    "invalid_value" },
		{ "{\"inputs\":[[0]],\"targets\":[[0]]}", 422,
		    "invalid_value" },
		{ "{\"inputs\":[[0,0]],\"targets\":[[0,0]]}", 422,
		    "invalid_value" },
		{ "{\"inputs\":[[0,0]],\"targets\":[[]]}", 422,
		    "invalid_value" },
		/* row counts that differ */
		{ "{\"inputs\":[[0,0],[1,1]],\"targets\":[[0]]}", 422,
		    "invalid_value" },
		{ "{\"inputs\":[[0,0]],\"targets\":[[0],[1]]}", 422,
		    "invalid_value" },
		/* empty */
		{ "{\"inputs\":[],\"targets\":[]}", 422, "invalid_value" },
		{ "{\"inputs\":[[]],\"targets\":[[]]}", 422, "invalid_value" },
		{ "{\"inputs\":[],\"targets\":[[0]]}", 422, "invalid_value" },
		{ "{}", 400, "missing_field" },
		{ "{\"inputs\":[[0,0]]}", 400, "missing_field" },
		{ "{\"targets\":[[0]]}", 400, "missing_field" },
		/* not rows */
		{ "{\"inputs\":[0,0],\"targets\":[0]}", 400, "wrong_type" },
		{ "{\"inputs\":[[0,0]],\"targets\":[0]}", 400, "wrong_type" },
		{ "{\"inputs\":\"0,0\",\"targets\":[[0]]}", 400, "wrong_type" },
		{ "{\"inputs\":{\"0\":[0,0]},\"targets\":[[0]]}", 400,
		    "wrong_type" },
		{ "{\"inputs\":[[[0],[0]]],\"targets\":[[0]]}", 400,
		    "wrong_type" },
		{ "{\"inputs\":[[0,0]],\"targets\":null}", 400, "wrong_type" },
		/* strings where numbers belong */
		{ "{\"inputs\":[[\"0\",\"1\"]],\"targets\":[[1]]}", 400,
		    "wrong_type" },
		{ "{\"inputs\":[[0,1]],\"targets\":[[\"1\"]]}", 400,
		    "wrong_type" },
		{ "{\"inputs\":[[0,\"\"]],\"targets\":[[1]]}", 400,
		    "wrong_type" },
	};
	static const char *const data[] = { "/batches", "/step" };

	for (size_t d = 0; d < 2; d++)
		for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
			REJ("POST", tl_mpath(g_a, data[d]), cases[k].body,
			    cases[k].st, cases[k].code);
	/* the same shapes as a validation set of /train and /step */
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char *body = NULL;
		int want = cases[k].st;
		const char *code = cases[k].code;

		if (strcmp(cases[k].body, "{}") == 0)
			continue; /* {"validation": {}}: same missing_field */
		ck_assert_int_ge(asprintf(&body, "{\"steps\":1,\"validation\":"
		    "%s}", cases[k].body), 0);
		REJ("POST", tl_mpath(g_a, "/train"), body, want, code);
		free(body);
		ck_assert_int_ge(asprintf(&body, "{\"inputs\":[[0,0]],"
		    "\"targets\":[[1]],\"validation\":%s}", cases[k].body), 0);
		REJ("POST", tl_mpath(g_a, "/step"), body, want, code);
		free(body);
	}
	/* predict: the inputs alone */
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"inputs\":[[0,0],[1]]}", 422,
	    "invalid_value");
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"inputs\":[[0,0,0]]}", 422,
	    "invalid_value");
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"inputs\":[[0]]}", 422,
	    "invalid_value");
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"inputs\":[]}", 422,
	    "invalid_value");
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"inputs\":[[]]}", 422,
	    "invalid_value");
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"input\":[]}", 422,
	    "invalid_value");
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"input\":[0,1,2]}", 422,
	    "invalid_value");
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"input\":[[0],[1]]}", 400,
	    "wrong_type");
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"inputs\":[0,1]}", 400,
	    "wrong_type");
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"inputs\":[[\"0\",1]]}", 400,
	    "wrong_type");
	REJ("POST", tl_mpath(g_a, "/predict"), "{}", 400, "missing_field");
	REJ("POST", tl_mpath(g_a, "/predict"), "{\"input\":[0,1],\"inputs\":"
	    "[[0,1]]}", 400, "unknown_field");
	/* model B has 4 inputs and 3 outputs: A's rows do not fit */
	REJ("POST", tl_mpath(g_b, "/batches"), XOR_TIGHT, 422, "invalid_value");
	REJ("POST", tl_mpath(g_b, "/step"), XOR_TIGHT, 422, "invalid_value");
	REJ("POST", tl_mpath(g_b, "/predict"), "{\"inputs\":[[0,1]]}", 422,
	    "invalid_value");
}
END_TEST

START_TEST(test_weights_shapes)
{
	static const struct {
		const char *body;
		int st;
		const char *code;
	} cases[] = {
		{ "{\"layers\":[]}", 422, "invalid_value" },
		{ "{}", 400, "missing_field" },
		{ "{\"layers\":{}}", 400, "wrong_type" },
		{ "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4],[0.5,0.6]],"
		    "\"biases\":[0.1,0.2,0.3]}]}", 422, "invalid_value" },
		/* ragged weight rows */
		{ "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3],[0.5,0.6]],"
		    "\"biases\":[0.1,0.2,0.3]},{\"weights\":[[0.7,0.8,0.9]],"
		    "\"biases\":[0.5]}]}", 422, "invalid_value" },
		/* too few rows, too wide, biases too short and too long */
		{ "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4]],"
		    "\"biases\":[0.1,0.2,0.3]},{\"weights\":[[0.7,0.8,0.9]],"
		    "\"biases\":[0.5]}]}", 422, "invalid_value" },
		{ "{\"layers\":[{\"weights\":[[0.1,0.2,0],[0.3,0.4,0],[0.5,0.6,"
		   
		    "0]],\"biases\":[0.1,0.2,0.3]},{\"weights\":[[0.7,0.8,0.9]],"
		    "\"biases\":[0.5]}]}", 422, "invalid_value" },
		{ "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4],[0.5,0.6]],"
		    "\"biases\":[0.1,0.2]},{\"weights\":[[0.7,0.8,0.9]],"
		    "\"biases\":[0.5]}]}", 422, "invalid_value" },
		{ "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4],[0.5,0.6]],"
		    "\"biases\":[0.1,0.2,0.3]},{\"weights\":[[0.7,0.8,0.9]],"
		    "\"biases\":[0.5,0.5]}]}", 422, "invalid_value" },
		{ "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4],[0.5,0.6]],"
		    "\"biases\":[0.1,0.2,0.3]},{\"weights\":[],"
		    "\"biases\":[0.5]}]}", 422, "invalid_value" },
		/* missing parts, wrong types */
		{ "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4],[0.5,0.6]]},"
		    "{\"weights\":[[0.7,0.8,0.9]],\"biases\":[0.5]}]}", 400,
		    "missing_field" },
		{ "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4],[0.5,0.6]],"
		    "\"biases\":0.1},{\"weights\":[[0.7,0.8,0.9]],"
		    "\"biases\":[0.5]}]}", 400, "wrong_type" },
		{ "{\"layers\":[[0.1,0.2],{\"weights\":[[0.7,0.8,0.9]],"
		    "\"biases\":[0.5]}]}", 400, "wrong_type" },
		{ "{\"layers\":[{\"weights\":[[0.1,0.2],[0.3,0.4],[0.5,0.6]],"
		    "\"biases\":[0.1,0.2,0.3],\"extra\":1},{\"weights\":[[0.7,"
		    "0.8,0.9]],\"biases\":[0.5]}]}", 400, "unknown_field" },
		{ "{\"layers\":[{\"weights\":[[\"0.1\",0.2],[0.3,0.4],[0.5,"
		    "0.6]],\"biases\":[0.1,0.2,0.3]},{\"weights\":[[0.7,0.8,"
		    "0.9]],\"biases\":[0.5]}]}", 400, "wrong_type" },
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
		REJ("PUT", tl_mpath(g_a, "/weights"), cases[k].body,
		    cases[k].st, cases[k].code);
	/* A's weights do not fit B */
	REJ("PUT", tl_mpath(g_b, "/weights"), W_BODY, 422, "invalid_value");
}
END_TEST

START_TEST(test_layer_sizes)
{
	static const struct {
		const char *layers;
		int st;
		const char *code;
	} cases[] = {
		{ "[]", 422, "invalid_value" },
		{ "[2]", 422, "invalid_value" },
		{ "[2,-1]", 422, "invalid_value" },
		{ "[-5,2]", 422, "invalid_value" },
		{ "[0,2]", 422, "invalid_value" },
		{ "[2,0]", 422, "invalid_value" },
		{ "[2,0,1]", 422, "invalid_value" },
		{ "[2,-0]", 422, "invalid_value" },
		{ "[2,65537]", 422, "invalid_value" },
		{ "[2,4294967297]", 422, "invalid_value" },
		{ "[2,2147483648]", 422, "invalid_value" },
		{ "[2,-2147483649]", 422, "invalid_value" },
		{ "[2,9223372036854775807]", 422, "invalid_value" },
		{ "[2,-9223372036854775808]", 422, "invalid_value" },
		{ "[2,9223372036854775808]", 422, "non_finite" },
		/* over the parameter cap, each width allowed */
		{ "[65536,65536]", 422, "invalid_value" },
		{ "[65536,1024,65536]", 422, "invalid_value" },
		{ "[4096,4096,4096,4096,4096]", 422, "invalid_value" },
		/* 18 sizes: one too many */
		{ "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", 422,
		    "invalid_value" },
		{ "[2,1e9]", 400, "wrong_type" },
		{ "[2,2.5]", 400, "wrong_type" },
		{ "[2,3.0]", 400, "wrong_type" },
		{ "[\"2\",\"3\"]", 400, "wrong_type" },
		{ "\"2,3\"", 400, "wrong_type" },
		{ "{\"0\":2}", 400, "wrong_type" },
		{ "[[2],[3]]", 400, "wrong_type" },
		{ "null", 400, "wrong_type" },
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char *body = NULL;

		ck_assert_int_ge(asprintf(&body, "{\"layers\":%s}",
		    cases[k].layers), 0);
		REJ("POST", "/v1/models", body, cases[k].st, cases[k].code);
		free(body);
	}
	REJ("POST", "/v1/models", "{\"name\":\"no layers\"}", 400,
	    "missing_field");
	/* the other model fields: out of range or of the wrong kind */
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"momentum\":1}", 422,
	    "invalid_value");
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"momentum\":-0.1}",
	    422, "invalid_value");
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"momentum\":1e999}",
	    422, "non_finite");
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"seed\":-1}", 422,
	    "invalid_value");
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"seed\":"
	    "9007199254740993}", 422, "invalid_value");
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"seed\":"
	    "18446744073709551615}", 422, "non_finite");
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"seed\":1.5}", 400,
	    "wrong_type");
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"activation\":"
	    "\"softmax\"}", 422, "invalid_value");
	REJ("POST", "/v1/models", "{\"layers\":[2,3,1],\"activation\":"
	    "[\"relu\"]}", 422, "invalid_value");
	REJ("POST", "/v1/models", "{\"layers\":[2,3,1],\"activation\":"
	    "[\"relu\",7]}", 400, "wrong_type");
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"loss\":\"mae\"}", 422,
	    "invalid_value");
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"optimizer\":5}", 400,
	    "wrong_type");
	REJ("POST", "/v1/models", "{\"layers\":[2,1],\"loss\":"
	    "\"cross_entropy\"}", 422, "invalid_value");
	{
		tl_str body = { NULL, 0, 0 };

		tl_str_add(&body, "{\"layers\":[2,1],\"name\":\"");
		tl_str_rep(&body, 'n', 201);
		tl_str_add(&body, "\"}");
		REJ("POST", "/v1/models", body.p, 422, "invalid_value");
		free(body.p);
	}
}
END_TEST

/* ---------------------------------------------------------------------
 * Learning rates, and a step that diverges
 * ------------------------------------------------------------------ */

START_TEST(test_learning_rates)
{
	static const struct {
		const char *lr;
		int st;
		const char *code;
	} cases[] = {
		{ "0", 422, "invalid_value" },
		{ "0.0", 422, "invalid_value" },
		{ "-0", 422, "invalid_value" },
		{ "-0.0", 422, "invalid_value" },
		{ "-0.1", 422, "invalid_value" },
		{ "-1e308", 422, "non_finite" },
		{ "1e308", 422, "non_finite" },
		{ "1e39", 422, "non_finite" },
		{ "1e7", 422, "invalid_value" },
		{ "1000000.5", 422, "invalid_value" },
		{ "1e-50", 422, "invalid_value" },
		{ "4.9e-324", 422, "invalid_value" },
		{ "1e999", 422, "non_finite" },
		{ "NaN", 400, "malformed_json" },
		{ "Infinity", 400, "malformed_json" },
		{ "\"0.1\"", 400, "wrong_type" },
		{ "null", 400, "wrong_type" },
	};
	static const char *const tmpl[] = {
		"{\"layers\":[2,1],\"learning_rate\":@}",
		"{\"inputs\":[[0,0]],\"targets\":[[1]],\"learning_rate\":@}",
		"{\"steps\":1,\"learning_rate\":@}",
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		for (size_t t = 0; t < 3; t++) {
			char *body = subst(tmpl[t], cases[k].lr);

			REJ("POST", t == 0 ? "/v1/models" : tl_mpath(g_a, t == 1
			    ? "/step" : "/train"), body, cases[k].st,
			    cases[k].code);
			free(body);
		}
	}
}
END_TEST

START_TEST(test_diverging_step)
{
	char d[32];
	json_t *w;

	/* one linear unit: the loss is (w x + b)^2, its gradient 2 x (w x
	 * + b) */
	tl_new_model("{\"layers\":[1,1],\"activation\":\"linear\",\"seed\":5}",
	    d);
	json_decref(tl_jexpect("POST", tl_mpath(d, "/step"),
	    "{\"inputs\":[[1]],"
	    "\"targets\":[[0]]}", 200));
	baseline();
	/* a finite loss whose update overflows the weights: x = 1e18 gives
	 * a gradient near 1e36, times a learning rate of 1e6 */
	REJ("POST", tl_mpath(d, "/step"), "{\"inputs\":[[1e18]],\"targets\":"
	    "[[0]],\"learning_rate\":1000000}", 422, "diverged");
	REJ("POST", tl_mpath(d, "/step"), "{\"inputs\":[[1e18],[-1e18]],"
	    "\"targets\":[[0],[0]],\"learning_rate\":1000000}", 422,
	    "diverged");
	/* a loss that is not finite itself: (w 3e38)^2 */
	REJ("POST", tl_mpath(d, "/step"), "{\"inputs\":[[3e38]],\"targets\":"
	    "[[0]]}", 422, "diverged");
	REJ("POST", tl_mpath(d, "/step"), "{\"inputs\":[[1e30]],\"targets\":"
	    "[[-1e30]],\"learning_rate\":1000000}", 422, "diverged");
	/* and the model still trains from where it was */
	w = tl_jexpect("POST", tl_mpath(d, "/step"), "{\"inputs\":[[1]],"
	    "\"targets\":[[0]]}", 200);
	ck_assert_int_eq(json_integer_value(json_object_get(w, "step")), 2);
	json_decref(w);
}
END_TEST

/* ---------------------------------------------------------------------
 * HTTP: content types, methods, sizes
 * ------------------------------------------------------------------ */

START_TEST(test_content_types)
{
	static const char *const json_only[] = { "text/plain",
		"application/x-www-form-urlencoded", "application/jsonx",
		"application/json-patch+json", "application/javascript",
		"multipart/form-data; boundary=xyz", "json", "", "*/*",
		"text/json", "application/", "application/json\x01" };

	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];
		char path[256];
		const char *csv_ok = strcmp(e->name, "batches") == 0 ||
		    strcmp(e->name, "predict") == 0 ? "" : NULL;

		snprintf(path, sizeof path, "%s", ep_path(e, g_a));
		/* no Content-Type at all */
		REJ_CT(e->method, path, NULL, e->valid, 415,
		    "unsupported_media_type");
		for (size_t k = 0; k < sizeof json_only / sizeof json_only[0];
		    k++)
			REJ_CT(e->method, path, json_only[k], e->valid, 415,
			    "unsupported_media_type");
		if (csv_ok == NULL)
			REJ_CT(e->method, path, "text/csv", e->valid, 415,
			    "unsupported_media_type");
	}
	/* a JSON body sent as CSV: a CSV error, nothing stored */
	REJ_CT("POST", tl_mpath(g_a, "/batches"), "text/csv", XOR_TIGHT, 422,
	    "invalid_value");
	REJ_CT("POST", tl_mpath(g_a, "/predict"), "text/csv",
	    "{\"inputs\":[[0,1]]}", 422, "invalid_value");
}
END_TEST

START_TEST(test_csv_bodies)
{
	static const struct {
		const char *body;
		int st;
		const char *code;
	} batch[] = {
		{ "", 400, "malformed_csv" },
		{ "x1,x2,y\n", 422, "invalid_value" },
		{ "0,0,0\n1,1\n", 422, "invalid_value" },
		{ "0,0,0\n1,1,1,1\n", 422, "invalid_value" },
		{ "0,0\n", 422, "invalid_value" },
		{ "0,0,0\n\n1,1,0\n", 400, "malformed_csv" },
		{ "0,nan,0\n", 422, "non_finite" },
		{ "0,inf,0\n", 422, "non_finite" },
		{ "0,1e999,0\n", 422, "non_finite" },
		{ "0,1e39,0\n", 422, "non_finite" },
		{ "0,\"1\",0\n", 422, "invalid_value" },
		{ "0,,0\n", 422, "invalid_value" },
		{ "0,0x,0\n", 422, "invalid_value" },
		{ "0,\xff,0\n", 422, "invalid_value" },
		{ "0,1,0\n0,1,\xc3\x28\n", 422, "invalid_value" },
	};
	static const struct {
		const char *body;
		int st;
		const char *code;
	} pred[] = {
		{ "", 400, "malformed_csv" },
		{ "0,0\n1\n", 422, "invalid_value" },
		{ "0,0,0\n", 422, "invalid_value" },
		{ "0,NaN\n", 422, "non_finite" },
		{ "0,-Infinity\n", 422, "non_finite" },
	};

	for (size_t k = 0; k < sizeof batch / sizeof batch[0]; k++)
		REJ_CT("POST", tl_mpath(g_a, "/batches"), "text/csv",
		    batch[k].body, batch[k].st, batch[k].code);
	for (size_t k = 0; k < sizeof pred / sizeof pred[0]; k++)
		REJ_CT("POST", tl_mpath(g_a, "/predict"), "text/csv",
		    pred[k].body, pred[k].st, pred[k].code);
	/* a NUL byte inside a row */
	rej(__LINE__, "POST", tl_mpath(g_a, "/batches"), "text/csv",
	    "0,1\0,1\n", 7, 422, "invalid_value");
}
END_TEST

/* An ONNX file of a [2,3,1] sigmoid model without metadata (so every
 * proper prefix of it lacks its opset or is cut off), with params[k]
 * set to v when k < the parameter count; *len gets its size. */
static uint8_t *
onnx_file(size_t k, float v, size_t *len)
{
	mlp_spec s;
	float p[13];
	void *out;
	fault f;

	mlp_spec_default(&s);
	s.n_layers = 2;
	s.sizes[0] = 2;
	s.sizes[1] = 3;
	s.sizes[2] = 1;
	for (size_t i = 0; i < 13; i++)
		p[i] = i == k ? v : 0.125f * (float)i;
	ck_assert_int_eq(onnx_export(&s, p, NULL, 0, &out, len, &f), 0);
	return out;
}

/* POST /v1/models with hostile application/onnx bodies, and ONNX bodies
 * where the route takes none. */
START_TEST(test_onnx_bodies)
{
	static const struct {
		const char *body;
		size_t len;
		int st;
		const char *code;
	} raw[] = {
		{ "", 0, 400, "invalid_onnx" },
		/* field 1 as a varint that overflows 64 bits */
		{ "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11, 400,
		  "invalid_onnx" },
		/* a varint of 11 bytes */
		{ "\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 12,
		  400, "invalid_onnx" },
		/* the graph (field 7) as a varint: a wrong wire type */
		{ "\x38\x01", 2, 400, "invalid_onnx" },
		/* the graph said to be 2^35 bytes long */
		{ "\x3a\x80\x80\x80\x80\x80\x01", 7, 400, "invalid_onnx" },
		/* a group (wire type 3) */
		{ "\x0b\x0c", 2, 400, "invalid_onnx" },
		/* a well-formed message without a graph */
		{ "\x08\x07", 2, 422, "unsupported_onnx" },
		{ "{\"layers\":[2,3,1]}", 18, 400, "invalid_onnx" },
	};
	size_t len, cut;
	uint8_t *good = onnx_file(99, 0, &len), *nan = onnx_file(4, NAN, &cut);

	for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
		rej(__LINE__, "POST", "/v1/models", "application/onnx",
		    raw[i].body, raw[i].len, raw[i].st, raw[i].code);
	/* prefixes of a good file, every 9th length: cut inside a field
	 * (400), or whole fields without the graph or the opset (422) */
	for (cut = 1; cut < len; cut += 9) {
		onnx_net net;
		fault f;

		ck_assert_int_eq(onnx_import(good, cut, &net, &f), -1);
		rej(__LINE__, "POST", "/v1/models", "application/onnx",
		    (const char *)good, cut, f.code == FAULT_CORRUPT ? 400 :
		    422, f.code == FAULT_CORRUPT ? "invalid_onnx" :
		    "unsupported_onnx");
	}
	rej(__LINE__, "POST", "/v1/models", "application/onnx",
	    (const char *)nan, len, 422, "non_finite");
	/* the good file as JSON, and where no ONNX body is taken */
	rej(__LINE__, "POST", "/v1/models", "application/json",
	    (const char *)good, len, 400, NULL);
	for (size_t i = 0; i < NENDPOINTS; i++)
		if (endpoints[i].rest != NULL)
			rej(__LINE__, endpoints[i].method,
			    ep_path(&endpoints[i], g_a), "application/onnx",
			    (const char *)good, len, 415,
			    "unsupported_media_type");
	free(good);
	free(nan);
}
END_TEST

/* An .npy of the header dict text and the data bytes: version major (1
 * or 2), the dict padded to a 64-byte boundary, as NumPy writes it. */
static size_t
npy_bytes(char *out, size_t cap, int major, const char *dict,
	  const void *data, size_t dlen)
{
	size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
	size_t hl = (pre + dl + 1 + 63) / 64 * 64 - pre;

	ck_assert_uint_le(pre + hl + dlen, cap);
	memcpy(out, "\x93NUMPY", 6);
	out[6] = (char)major;
	out[7] = 0;
	out[8] = (char)(hl & 0xff);
	out[9] = (char)(hl >> 8);
	if (major > 1)
		out[10] = out[11] = 0;
	memcpy(out + pre, dict, dl);
	memset(out + pre + dl, ' ', hl - dl - 1);
	out[pre + hl - 1] = '\n';
	memcpy(out + pre + hl, data, dlen);
	return pre + hl + dlen;
}

/* NumPy bodies (model A: [2, 3, 1], so a batch row is 3 values and a
 * predict row 2): every defect of header, dtype, order, shape and value
 * refused with a 4xx and its code, nothing stored. */
START_TEST(test_npy_bodies)
{
	static const struct {
		const char *dict;
		size_t nvals; /* float32 values of data */
		float bad;    /* the first value, or 0 */
		int predict;
		int st;
		const char *code;
	} cases[] = {
		{ "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
		    6, 0, 0, 422, "unsupported_npy" },
		{ "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
		    6, 0, 0, 422, "unsupported_npy" },
		{ "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }",
		    6, 0, 0, 422, "unsupported_npy" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
		    6, 0, 0, 422, "unsupported_npy" },
		{ "{'descr': [('a', '<f4')], 'fortran_order': False, "
		    "'shape': (2, 3), }", 6, 0, 0, 422, "unsupported_npy" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }",
		    8, 0, 0, 422, "invalid_value" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }",
		    6, 0, 0, 400, "malformed_npy" },
		{ "{'descr': '<f4', 'fortran_order': False, "
		    "'shape': (4611686018427387904, 3), }", 6, 0, 0, 422,
		    "invalid_value" },
		{ "{'descr': '<f4', 'fortran_order': False, "
		    "'shape': (99999999999999999999999, 3), }", 6, 0, 0, 422,
		    "invalid_value" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }",
		    0, 0, 0, 422, "invalid_value" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
		    6, NAN, 0, 422, "non_finite" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
		    6, INFINITY, 0, 422, "non_finite" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)",
		    6, 0, 0, 400, "malformed_npy" },
		{ "{'descr': '<f4', 'shape': (2, 3), }", 6, 0, 0, 400,
		    "malformed_npy" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
		    "'x': 1}", 6, 0, 0, 400, "malformed_npy" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
		    6, 0, 1, 422, "invalid_value" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
		    2, NAN, 1, 422, "non_finite" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
		    3, 0, 1, 422, "invalid_value" },
	};
	char body[1024];
	float vals[8] = { 0 };
	size_t len;

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		vals[0] = cases[k].bad;
		for (int major = 1; major <= 2; major++) {
			len = npy_bytes(body, sizeof body, major, cases[k].dict,
			    vals, cases[k].nvals * sizeof(float));
			rej(__LINE__, "POST", tl_mpath(g_a, cases[k].predict ?
			    "/predict" : "/batches"), "application/x-npy", body,
			    len, cases[k].st, cases[k].code);
		}
	}
	/* not an .npy at all, cut short, a version NumPy never wrote */
	len = npy_bytes(body, sizeof body, 1, "{'descr': '<f4', "
	    "'fortran_order': False, 'shape': (2, 3), }", vals, 24);
	rej(__LINE__, "POST", tl_mpath(g_a, "/batches"), "application/x-npy",
	    body, len - 1, 400, "malformed_npy");
	rej(__LINE__, "POST", tl_mpath(g_a, "/batches"), "application/x-npy",
	    body, 9, 400, "malformed_npy");
	body[6] = 4;
	rej(__LINE__, "POST", tl_mpath(g_a, "/batches"), "application/x-npy",
	    body, len, 400, "malformed_npy");
	REJ_CT("POST", tl_mpath(g_a, "/batches"), "application/x-npy",
	    XOR_TIGHT, 400, "malformed_npy");
	/* an .npz must be a zip of inputs and targets */
	REJ_CT("POST", tl_mpath(g_a, "/batches"), "application/x-npz",
	    XOR_TIGHT, 400, "malformed_npy");
	rej(__LINE__, "POST", tl_mpath(g_a, "/batches"), "application/x-npz",
	    "PK\x05\x06\0\0\0\0\x01\0\x01\0\xff\xff\0\0\0\0\0\0\0\0", 22,
	    400, "malformed_npy");
	/* predict takes no .npz; the JSON-only routes take neither */
	REJ_CT("POST", tl_mpath(g_a, "/predict"), "application/x-npz",
	    XOR_TIGHT, 415, "unsupported_media_type");
	REJ_CT("POST", tl_mpath(g_a, "/step"), "application/x-npy",
	    XOR_TIGHT, 415, "unsupported_media_type");
	REJ_CT("PUT", tl_mpath(g_a, "/weights"), "application/x-npy",
	    XOR_TIGHT, 415, "unsupported_media_type");
}
END_TEST

START_TEST(test_wrong_methods)
{
	static const char *const odd[] = { "PATCH", "OPTIONS", "BREW",
		"post", "HEAD" };

	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];
		char path[256];

		snprintf(path, sizeof path, "%s", ep_path(e, g_a));
		for (size_t k = 0; k < 4 && e->bad_methods[k]; k++) {
			/* DELETE of a model path would be allowed */
			REJ(e->bad_methods[k], path, e->valid, 405,
			    "method_not_allowed");
		}
		for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
			tl_response r;

			if (strcmp(odd[k], "HEAD") == 0) {
				int get;

				/* HEAD answers where GET does (and as GET
				 * does), else 405; no body comes back to
				 * look at, and it changes nothing */
				http("GET", path, NULL, NULL, 0, &r);
				get = r.status;
				tl_response_free(&r);
				http("HEAD", path, "application/json",
				    e->valid, strlen(e->valid), &r);
				ck_assert_int_eq(r.status, get);
				ck_assert_msg(get == 405 || get == 200,
				    "GET %s: %d", path, get);
				tl_response_free(&r);
				unchanged(__LINE__, "HEAD");
				continue;
			}
			REJ(odd[k], path, e->valid, 405, "method_not_allowed");
		}
	}
	REJ("DELETE", "/v1/models", "{}", 405, "method_not_allowed");
	REJ("POST", "/healthz", "{}", 405, "method_not_allowed");
	REJ("PUT", tl_mpath(g_a, ""), W_BODY, 405, "method_not_allowed");
	REJ("POST", tl_mpath(g_a, ""), XOR_TIGHT, 405, "method_not_allowed");
	REJ("POST", "/v1/jobs/" NO_JOB, "{}", 405, "method_not_allowed");
}
END_TEST

/* "POST path" with a Content-Length of cl and body as the only bytes. */
static char *
lying_request(const char *method, const char *path, const char *cl,
	      const char *body)
{
	char *req = NULL;

	ck_assert_int_ge(asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\nContent-Type: application/json\r\n"
	    "Content-Length: %s\r\n\r\n%s", method, path, cl, body), 0);
	return req;
}

START_TEST(test_huge_content_length)
{
	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];
		char path[256];
		char *req;

		snprintf(path, sizeof path, "%s", ep_path(e, g_a));
		/* 1 GB announced, a few bytes sent: answered from the
		 * headers, before any wait for the rest */
		req = lying_request(e->method, path, "1073741824", e->valid);
		rej_raw(__LINE__, req, strlen(req), 413, "body_too_large");
		free(req);
		req = lying_request(e->method, path, "1073741824", "");
		rej_raw(__LINE__, req, strlen(req), 413, "body_too_large");
		free(req);
		/* just over the 64 MiB default cap */
		req = lying_request(e->method, path, "67108865", e->valid);
		rej_raw(__LINE__, req, strlen(req), 413, "body_too_large");
		free(req);
		/* lengths that do not fit 64 bits, or are not numbers:
		 * libmicrohttpd refuses those itself */
		req = lying_request(e->method, path, "18446744073709551616",
		    e->valid);
		rej_raw(__LINE__, req, strlen(req), 413, NOT_OURS);
		free(req);
		req = lying_request(e->method, path, "-1", e->valid);
		rej_raw(__LINE__, req, strlen(req), 400, NOT_OURS);
		free(req);
		req = lying_request(e->method, path, "12abc", e->valid);
		rej_raw(__LINE__, req, strlen(req), 400, NOT_OURS);
		free(req);
	}
}
END_TEST

/* Sends a body chunked, in pieces of piece bytes, then the last chunk. */
static void
chunked(const char *method, const char *path, const char *body, size_t n,
	size_t piece, tl_response *r)
{
	tl_str s = { NULL, 0, 0 };
	int fd;

	tl_str_add(&s, method);
	tl_str_add(&s, " ");
	tl_str_add(&s, path);
	tl_str_add(&s, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n");
	for (size_t off = 0; off < n; off += piece) {
		char hdr[32];
		size_t k = n - off < piece ? n - off : piece;

		snprintf(hdr, sizeof hdr, "%zx\r\n", k);
		tl_str_add(&s, hdr);
		tl_str_addn(&s, body + off, k);
		tl_str_add(&s, "\r\n");
	}
	tl_str_add(&s, "0\r\n\r\n");
	fd = tl_dial(NULL);
	(void)tl_send_all(fd, s.p, s.len);
	tl_raw_read(fd, r);
	close(fd);
	free(s.p);
}

/* valid with pad bytes of whitespace before its last '}': still a valid
 * document, only bigger. */
static char *
padded(const char *valid, size_t pad)
{
	tl_str s = { NULL, 0, 0 };
	size_t n = strlen(valid);

	tl_str_addn(&s, valid, n - 1);
	tl_str_rep(&s, ' ', pad);
	tl_str_add(&s, "}");
	return s.p;
}

START_TEST(test_chunked_past_cap)
{
	char *w;

	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];
		char path[256], what[300];
		char *body = padded(e->valid, 2 * SMALL_CAP);
		size_t n = strlen(body);
		tl_response r;

		snprintf(path, sizeof path, "%s", ep_path(e, g_a));
		snprintf(what, sizeof what, "%s %s chunked, %zu bytes",
		    e->method, path, n);
		chunked(e->method, path, body, n, 4096, &r);
		check_reply(__LINE__, what, &r, 413, "body_too_large");
		tl_response_free(&r);
		unchanged(__LINE__, what);
		/* in one chunk */
		chunked(e->method, path, body, n, n, &r);
		check_reply(__LINE__, what, &r, 413, "body_too_large");
		tl_response_free(&r);
		unchanged(__LINE__, what);
		/* with a Content-Length: refused from the headers */
		rej(__LINE__, e->method, path, "application/json", body, n,
		    413, "body_too_large");
		/* one byte over the cap */
		free(body);
		body = padded(e->valid, SMALL_CAP + 1 - strlen(e->valid));
		ck_assert_uint_eq(strlen(body), SMALL_CAP + 1);
		chunked(e->method, path, body, strlen(body), 1000, &r);
		check_reply(__LINE__, what, &r, 413, "body_too_large");
		tl_response_free(&r);
		unchanged(__LINE__, what);
		free(body);
	}
	/* the padding is no trick: at the cap exactly, chunked, the same
	 * documents go through and change what they should */
	{
		char *body = padded(XOR_TIGHT, SMALL_CAP - strlen(XOR_TIGHT));
		tl_response r;

		ck_assert_uint_eq(strlen(body), SMALL_CAP);
		chunked("POST", tl_mpath(g_a, "/batches"), body, strlen(body),
		    1000, &r);
		ck_assert_msg(r.status == 201, "batch at the cap: %ld %s",
		    r.status, r.body);
		tl_response_free(&r);
		free(body);
	}
	w = world();
	ck_assert_msg(strcmp(w, g_base_world) != 0, "a stored batch left the "
	    "API view as it was: the comparison sees nothing");
	free(w);
	w = db_dump();
	ck_assert_msg(strcmp(w, g_base_db) != 0, "a stored batch left the "
	    "database dump as it was: the comparison sees nothing");
	free(w);
	ck_assert_int_ne(data_version(), g_base_dv);
}
END_TEST

START_TEST(test_long_url_and_headers)
{
	tl_str path = { NULL, 0, 0 };
	tl_str req = { NULL, 0, 0 };
	tl_response r;

	/* a 100 KB id on every endpoint */
	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];

		path.len = 0;
		tl_str_add(&path, "/v1/models/m");
		tl_str_rep(&path, 'a', BIG);
		tl_str_add(&path, e->rest ? e->rest : "");
		REJ(e->method, path.p, e->valid, 414, NOT_OURS);
	}
	/* a 100 KB query string */
	path.len = 0;
	tl_str_add(&path, "/v1/models?x=");
	tl_str_rep(&path, 'q', BIG);
	REJ("POST", path.p, endpoints[0].valid, 414, NOT_OURS);
	/* one 100 KB header */
	tl_str_add(&req, "POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\nContent-Type: application/json\r\n"
	    "X-Big: ");
	tl_str_rep(&req, 'h', BIG);
	tl_str_add(&req, "\r\nContent-Length: 17\r\n\r\n{\"layers\":[2,1]}");
	rej_raw(__LINE__, req.p, req.len, 431, NOT_OURS);
	/* 100 KB of small headers */
	req.len = 0;
	tl_str_add(&req, "POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\nContent-Type: application/json\r\n");
	for (int k = 0; k < BIG / 25; k++) {
		char h[32];

		snprintf(h, sizeof h, "X-H%05d: 0123456789ab\r\n", k);
		tl_str_add(&req, h);
	}
	tl_str_add(&req, "Content-Length: 17\r\n\r\n{\"layers\":[2,1]}");
	rej_raw(__LINE__, req.p, req.len, 431, NOT_OURS);
	/* a 100 KB Content-Type */
	req.len = 0;
	tl_str_add(&req, "POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\nContent-Type: application/json; x=");
	tl_str_rep(&req, 'c', BIG);
	tl_str_add(&req, "\r\nContent-Length: 17\r\n\r\n{\"layers\":[2,1]}");
	rej_raw(__LINE__, req.p, req.len, 431, NOT_OURS);
	/* broken request lines and headers */
	/* a request line with no target: libmicrohttpd hangs up */
	tl_raw("GARBAGE\r\n\r\n", 11, &r);
	ck_assert_msg(r.status == 0 || r.status == 400, "GARBAGE: %ld",
	    r.status);
	tl_response_free(&r);
	unchanged(__LINE__, "GARBAGE");
	req.len = 0;
	tl_str_add(&req, "POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "no colon here\r\nContent-Length: 2\r\n\r\n{}");
	rej_raw(__LINE__, req.p, req.len, 400, NOT_OURS);
	/* still serving small requests */
	ck_assert_int_eq(tl_jreq("GET", "/healthz", NULL, NULL), 200);
	free(path.p);
	free(req.p);
}
END_TEST

/* ---------------------------------------------------------------------
 * Unknown things, traversal and junk in ids
 * ------------------------------------------------------------------ */

START_TEST(test_unknown)
{
	static const char *const junk[] = {
		NO_MODEL, "M0000000000000000", "m000000000000000g", "m",
		"x", "%ff", "%ff%fe%fd", "%c0%af", "%2e%2e", "..", ".",
		"%2e", "%20", "%25", "%", "%zz", "%2", "%0d%0aX-Evil:%20yes",
		"%3Cscript%3E", "m0000000000000000%20", "%u0041",
		"m0000000000000000%00", "%00", "%00m", "m%00x",
	};
	tl_str longid = { NULL, 0, 0 };

	tl_str_add(&longid, "m");
	tl_str_rep(&longid, '0', 5000);
	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];

		if (e->rest == NULL)
			continue;
		for (size_t k = 0; k < sizeof junk / sizeof junk[0]; k++)
			REJ(e->method, tl_mpath(junk[k], e->rest), e->valid,
			    404, NULL);
		{
			char *p = NULL;

			ck_assert_int_ge(asprintf(&p, "/v1/models/%s%s",
			    longid.p, e->rest), 0);
			REJ(e->method, p, e->valid, 404, "model_not_found");
			free(p);
		}
		/* the real id with junk after it */
		{
			char id[64];

			snprintf(id, sizeof id, "%s%%00", g_a);
			REJ(e->method, tl_mpath(id, e->rest), e->valid, 404,
			    NULL);
			snprintf(id, sizeof id, "%s%%ff", g_a);
			REJ(e->method, tl_mpath(id, e->rest), e->valid, 404,
			    "model_not_found");
			/* an encoded slash is no separator: refused */
			snprintf(id, sizeof id, "%s%%2f", g_a);
			REJ(e->method, tl_mpath(id, e->rest), e->valid, 400,
			    "invalid_path");
		}
	}
	/* a NUL must not cut a path short into another route: DELETE of
	 * "<A>\0x" is not a DELETE of A */
	{
		char id[64];

		snprintf(id, sizeof id, "%s%%00x", g_a);
		REJ_CT("DELETE", tl_mpath(id, ""), NULL, NULL, 404, NULL);
		snprintf(id, sizeof id, "%s%%00/batches", g_a);
		REJ_CT("DELETE", tl_mpath(id, ""), NULL, NULL, 404, NULL);
	}
	REJ_CT("DELETE", tl_mpath(NO_MODEL, ""), NULL, NULL, 404,
	    "model_not_found");
	REJ_CT("DELETE", tl_mpath(NO_MODEL, "/batches"), NULL, NULL, 404,
	    "model_not_found");
	REJ_CT("GET", tl_mpath(NO_MODEL, ""), NULL, NULL, 404,
	    "model_not_found");
	/* jobs */
	REJ_CT("GET", "/v1/jobs/" NO_JOB, NULL, NULL, 404, "job_not_found");
	REJ_CT("DELETE", "/v1/jobs/" NO_JOB, NULL, NULL, 404,
	    "job_not_found");
	REJ_CT("GET", "/v1/jobs/%ff%00", NULL, NULL, 404, NULL);
	REJ_CT("DELETE", "/v1/jobs/..", NULL, NULL, 404, "job_not_found");
	REJ_CT("DELETE", "/v1/jobs/%2e%2e", NULL, NULL, 404,
	    "job_not_found");
	{
		char *p = NULL;

		ck_assert_int_ge(asprintf(&p, "/v1/jobs/j%s", longid.p), 0);
		REJ_CT("DELETE", p, NULL, NULL, 404, "job_not_found");
		free(p);
		/* A's finished job cannot be cancelled */
		ck_assert_int_ge(asprintf(&p, "/v1/jobs/%s", g_job), 0);
		REJ_CT("DELETE", p, NULL, NULL, 409, "job_finished");
		free(p);
	}
	/* routes */
	REJ("POST", "/v1/model", "{\"layers\":[2,1]}", 404, "route_not_found");
	REJ("POST", "/v1/models/", "{\"layers\":[2,1]}", 404,
	    "route_not_found");
	REJ("POST", "/v1/models//batches", XOR_TIGHT, 404,
	    "route_not_found");
	REJ("POST", tl_mpath(g_a, "/batches/"), XOR_TIGHT, 404,
	    "route_not_found");
	REJ("POST", tl_mpath(g_a, "/batches/1"), XOR_TIGHT, 404,
	    "route_not_found");
	REJ("POST", tl_mpath(g_a, "/nope"), XOR_TIGHT, 404, "route_not_found");
	REJ("POST", "/v2/models", "{\"layers\":[2,1]}", 404,
	    "route_not_found");
	REJ("POST", "/V1/MODELS", "{\"layers\":[2,1]}", 404,
	    "route_not_found");
	REJ("POST", "/v1/models%2f", "{\"layers\":[2,1]}", 400,
	    "invalid_path");
	REJ("POST", "*", "{\"layers\":[2,1]}", 404, "route_not_found");
	/* train on a model with no data: 409, no job */
	REJ("POST", tl_mpath(g_b, "/train"), "{}", 409, "no_training_data");
	free(longid.p);
}
END_TEST

START_TEST(test_traversal)
{
	static const char *const paths[] = {
		"/v1/models/../../etc/passwd",
		"/v1/models/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"/v1/models/..%2f..%2fetc%2fpasswd",
		"/v1/models/%2e%2e/%2e%2e/etc/passwd",
		"/v1/models/%252e%252e%252fetc%252fpasswd",
		"/v1/models/..%5c..%5cetc%5cpasswd",
		"/v1/models/%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
		"/../../../../etc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
		"//etc/passwd",
		"/v1/models/" NO_MODEL "/../../../etc/passwd",
		"/v1/models/..%00/weights",
		"/v1/jobs/../../etc/passwd",
		"/v1/jobs/..%2f..%2fetc%2fpasswd",
		"/v1/models/%2e%2e/weights",
		"/v1/models/../models",
		"/./v1/models",
		"/v1/./models",
	};

	for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
		const char *const methods[] = { "GET", "DELETE" };

		for (size_t m = 0; m < 2; m++) {
			tl_response r;

			http(methods[m], paths[k], NULL, NULL, 0, &r);
			/* 405: "/v1/models/../weights" is the weights of a
			 * model named "..", which take no DELETE */
			/* 400: an encoded slash inside a segment is refused
			 * before any route is matched */
			ck_assert_msg(r.status == 404 || r.status == 405 ||
			    (r.status == 400 && strstr(paths[k], "%2f") &&
			    strstr(r.body, "\"invalid_path\"")),
			    "%s %s: want 404, got %ld %.300s", methods[m],
			    paths[k], r.status, r.body);
			ck_assert_msg(strstr(r.body, "root:") == NULL,
			    "%s %s: %s", methods[m], paths[k], r.body);
			check_reply(__LINE__, paths[k], &r, r.status, NULL);
			tl_response_free(&r);
			unchanged(__LINE__, paths[k]);
		}
	}
	/* and as body-taking requests */
	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];
		char *p = NULL;

		if (e->rest == NULL)
			continue;
		ck_assert_int_ge(asprintf(&p, "/v1/models/..%%2f..%%2f%s%s",
		    g_a, e->rest), 0);
		REJ(e->method, p, e->valid, 400, "invalid_path");
		free(p);
		ck_assert_int_ge(asprintf(&p, "/v1/models/../models/%s%s",
		    g_a, e->rest), 0);
		REJ(e->method, p, e->valid, 404, NULL);
		free(p);
	}
}
END_TEST

/* ---------------------------------------------------------------------
 * Clients that go away mid-upload
 * ------------------------------------------------------------------ */

/* Sends head and n bytes of body, then closes without reading. */
static void
hang_up(const char *method, const char *path, const char *headers,
	const char *body, size_t n)
{
	tl_str s = { NULL, 0, 0 };
	int fd = tl_dial(NULL);

	tl_str_add(&s, method);
	tl_str_add(&s, " ");
	tl_str_add(&s, path);
	tl_str_add(&s, " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\n");
	tl_str_add(&s, headers);
	tl_str_add(&s, "\r\n");
	tl_str_addn(&s, body, n);
	ck_assert_int_eq(tl_send_all(fd, s.p, s.len), 0);
	free(s.p);
	/* give the server time to read every byte, then drop */
	{
		struct timespec nap = { 0, 20 * 1000 * 1000 };

		nanosleep(&nap, NULL);
	}
	close(fd);
}

/* Waits until the daemon has dealt with the dropped connections. */
static void
settle(void)
{
	struct timespec nap = { 0, 100 * 1000 * 1000 };

	nanosleep(&nap, NULL);
}

START_TEST(test_disconnect_mid_upload)
{
	/* a big valid batch: half of it, and all of it under a bigger
	 * Content-Length */
	tl_str big = { NULL, 0, 0 };

	tl_str_add(&big, "{\"inputs\":[");
	for (int i = 0; i < 4000; i++)
		tl_str_add(&big, i ? ",[0.25,0.75]" : "[0.25,0.75]");
	tl_str_add(&big, "],\"targets\":[");
	for (int i = 0; i < 4000; i++)
		tl_str_add(&big, i ? ",[1]" : "[1]");
	tl_str_add(&big, "]}");
	for (size_t i = 0; i < NENDPOINTS; i++) {
		const endpoint *e = &endpoints[i];
		char path[256];
		const char *body = strcmp(e->name, "batches") == 0 ||
		    strcmp(e->name, "step") == 0 ? big.p : e->valid;
		size_t n = strlen(body);
		char *chunk = NULL;

		snprintf(path, sizeof path, "%s", ep_path(e, g_a));
		hang_up(e->method, path, "Content-Length: 1000000\r\n", body,
		    n / 2);
		hang_up(e->method, path, "Content-Length: 1000000\r\n", body,
		    n);
		/* a chunked upload with the whole document in its first
		 * chunk but no last chunk */
		ck_assert_int_ge(asprintf(&chunk, "%zx\r\n%s\r\n", n, body), 0);
		hang_up(e->method, path, "Transfer-Encoding: chunked\r\n",
		    chunk, strlen(chunk));
		free(chunk);
		/* the headers only */
		hang_up(e->method, path, "Content-Length: 1000000\r\n", "", 0);
		settle();
		unchanged(__LINE__, e->name);
	}
	/* a positive control: the same batch, whole, is stored */
	json_decref(tl_jexpect("POST", tl_mpath(g_a, "/batches"), big.p, 201));
	free(big.p);
}
END_TEST

/* ---------------------------------------------------------------------
 * Versions and aliases (issue 13): targets, alias syntax, bodies
 * ------------------------------------------------------------------ */

START_TEST(test_versions_input)
{
	static const char *const bad_alias[] = {
		"9lives", "-x", "_x", ".x", "a%20b", "a%2Fb", "a%00b", "%ff",
		"a%3Bdrop", "caf%C3%A9",
		"a123456789012345678901234567890123456789012345678901234567890123",
	};
	static const char *const bad_target[] = {
		"0", "-1", "1x", "01x", "1.5", "%20", "_a", "99999999999999999999",
		"9223372036854775808", "a%00", "%ff",
	};
	char path[256];

	/* a version and an alias to leave alone */
	json_decref(tl_jexpect("POST", tl_mpath(g_a, "/versions"),
	    "{\"name\":\"v\"}", 201));
	json_decref(tl_jexpect("PUT", tl_mpath(g_a, "/aliases/prod"),
	    "{\"version\":1}", 200));
	baseline();
	for (size_t i = 0; i < sizeof bad_alias / sizeof bad_alias[0]; i++) {
		snprintf(path, sizeof path, "/v1/models/%s/aliases/%s", g_a,
		    bad_alias[i]);
		REJ("PUT", path, "{\"version\":1}", 400, NULL);
		REJ_CT("DELETE", path, NULL, NULL, 400, NULL);
	}
	for (size_t i = 0; i < sizeof bad_target / sizeof bad_target[0];
	    i++) {
		snprintf(path, sizeof path, "/v1/models/%s/predict?version=%s",
		    g_a, bad_target[i]);
		REJ("POST", path, "{\"inputs\":[[0,1]]}", 400, NULL);
		snprintf(path, sizeof path, "/v1/models/%s/versions/%s", g_a,
		    bad_target[i]);
		REJ_CT("DELETE", path, NULL, NULL, 400, NULL);
		REJ_CT("GET", path, NULL, NULL, 400, NULL);
	}
	/* unknown versions and aliases */
	REJ("POST", tl_mpath(g_a, "/predict?version=2"), "{\"inputs\":[[0,1]]}",
	    404, "version_not_found");
	REJ("POST", tl_mpath(g_a, "/predict?version=canary"),
	    "{\"inputs\":[[0,1]]}", 404, "alias_not_found");
	REJ_CT("DELETE", tl_mpath(g_a, "/versions/2"), NULL, NULL, 404,
	    "version_not_found");
	REJ_CT("DELETE", tl_mpath(g_a, "/aliases/canary"), NULL, NULL, 404,
	    "alias_not_found");
	REJ("PUT", tl_mpath(g_a, "/aliases/canary"), "{\"version\":2}", 404,
	    "version_not_found");
	REJ("POST", tl_mpath(g_a, "/restore"), "{\"version\":2}", 404,
	    "version_not_found");
	REJ("POST", tl_mpath(g_b, "/restore"), "{\"version\":\"prod\"}", 404,
	    "alias_not_found");
	REJ("POST", "/v1/models", "{\"from\":{\"model\":\"" NO_MODEL
	    "\",\"version\":1}}", 404, "model_not_found");
	/* an aliased version */
	REJ_CT("DELETE", tl_mpath(g_a, "/versions/1"), NULL, NULL, 409,
	    "version_aliased");
	REJ_CT("DELETE", tl_mpath(g_a, "/versions/prod?drop_aliases=1"), NULL,
	    NULL, 400, "invalid_query");
	/* bodies */
	REJ("PUT", tl_mpath(g_a, "/aliases/prod"), "{\"version\":1e400}", 422,
	    NULL);
	REJ("PUT", tl_mpath(g_a, "/aliases/prod"), "{\"version\":-1}", 422,
	    "invalid_value");
	REJ("PUT", tl_mpath(g_a, "/aliases/prod"), "{\"version\":null}", 400,
	    "wrong_type");
	REJ("PUT", tl_mpath(g_a, "/aliases/prod"), "{\"version\":[1]}", 400,
	    "wrong_type");
	REJ("PUT", tl_mpath(g_a, "/aliases/prod"), "[1]", 400, "wrong_type");
	REJ("PUT", tl_mpath(g_a, "/aliases/prod"), "", 400, NULL);
	REJ("PUT", tl_mpath(g_a, "/aliases/prod"),
	    "{\"version\":1,\"version\":2}", 400, "duplicate_key");
	REJ("POST", tl_mpath(g_a, "/versions"), "{\"name\":\"a\\u202eb\"}",
	    422, "invalid_value");
	REJ("POST", tl_mpath(g_a, "/versions"), "{\"name\":{}}", 400,
	    "wrong_type");
	REJ("POST", tl_mpath(g_a, "/restore"), "{\"version\":{}}", 400,
	    "wrong_type");
	REJ("POST", tl_mpath(g_a, "/restore"), "{\"version\":1,\"x\":0}", 400,
	    "unknown_field");
	REJ("POST", "/v1/models", "{\"from\":[]}", 400, "wrong_type");
	REJ("POST", "/v1/models", "{\"from\":{\"model\":1,\"version\":1}}",
	    400, "wrong_type");
	REJ("POST", "/v1/models", "{\"from\":{\"model\":\"x\",\"version\":1}}",
	    404, "model_not_found");
	{
		char body[256];

		snprintf(body, sizeof body, "{\"from\":{\"model\":\"%s\","
		    "\"version\":1,\"step\":3}}", g_a);
		REJ("POST", "/v1/models", body, 400, "unknown_field");
		snprintf(body, sizeof body, "{\"from\":{\"model\":\"%s\","
		    "\"version\":1},\"seed\":3}", g_a);
		REJ("POST", "/v1/models", body, 400, "unknown_field");
		snprintf(body, sizeof body, "{\"from\":{\"model\":\"%s\","
		    "\"version\":1},\"name\":\"a\\tb\"}", g_a);
		REJ("POST", "/v1/models", body, 422, "invalid_value");
	}
}
END_TEST

/* ---------------------------------------------------------------------
 * The harness sees a change when there is one
 * ------------------------------------------------------------------ */

START_TEST(test_harness_sees_changes)
{
	char *w, *db;

	/* a predict changes nothing */
	json_decref(tl_jexpect("POST", tl_mpath(g_a, "/predict"),
	    "{\"inputs\":[[0,1]]}", 200));
	unchanged(__LINE__, "predict");
	json_decref(tl_jexpect("POST", tl_mpath(g_a, "/step"), XOR_TIGHT, 200));
	w = world();
	db = db_dump();
	ck_assert_msg(strcmp(w, g_base_world) != 0, "a step left the API "
	    "view as it was");
	ck_assert_msg(strcmp(db, g_base_db) != 0, "a step left the database "
	    "dump as it was");
	ck_assert_int_ne(data_version(), g_base_dv);
	free(w);
	free(db);
}
END_TEST

/* ---------------------------------------------------------------------
 * Runner
 * ------------------------------------------------------------------ */

static Suite *
badinput_suite(void)
{
	Suite *s = suite_create("badinput");
	TCase *tc;

	tc = tcase_create("documents");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_harness_sees_changes);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_trailing_garbage);
	tcase_add_test(tc, test_duplicate_keys);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_not_an_object);
	tcase_add_test(tc, test_unknown_fields);
	tcase_add_test(tc, test_bad_strings);
	tcase_add_test(tc, test_numbers);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rows);
	tcase_add_test(tc, test_weights_shapes);
	tcase_add_test(tc, test_layer_sizes);
	tcase_add_test(tc, test_learning_rates);
	tcase_add_test(tc, test_training_control);
	tcase_add_test(tc, test_diverging_step);
	tcase_add_test(tc, test_csv_bodies);
	tcase_add_test(tc, test_onnx_bodies);
	suite_add_tcase(s, tc);

	tc = tcase_create("http");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_content_types);
	tcase_add_test(tc, test_wrong_methods);
	tcase_add_test(tc, test_huge_content_length);
	tcase_add_test(tc, test_long_url_and_headers);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_traversal);
	tcase_add_test(tc, test_npy_bodies);
	tcase_add_test(tc, test_disconnect_mid_upload);
	tcase_add_test(tc, test_versions_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("cap");
	tcase_add_checked_fixture(tc, setup_small, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_chunked_past_cap);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_main(badinput_suite(), LOG_ERROR);
}
