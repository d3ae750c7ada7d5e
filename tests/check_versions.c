/*
 * check_versions: Check tests of model versions and aliases (issue 13):
 * creating, listing, reading, exporting and deleting versions; aliases
 * set, moved and removed; predictions pinned to a version or an alias,
 * which stay bit-identical while the model trains, is restored or the
 * daemon restarts, and never answer from a third version while an alias
 * moves under them; restore in place; a model created from a version of
 * another; the refusals (which change nothing), the --max-versions cap
 * and the delete cascades; and the engine's cache of version nets on its
 * own (engine/versions.h: LRU eviction, deletes, aliases). A daemon runs in-process per test and is
 * spoken to with libcurl only (tests/testlib.h); the cascade test reads
 * the database file with SQLite after the daemon stopped.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apierr.h"
#include "blob.h"
#include "testlib.h"
#include "versions.h"

#define XOR_MODEL "{\"layers\": [2, 4, 1], \"seed\": 7, " \
	"\"learning_rate\": 2}"
#define PREDICT_BODY "{\"inputs\": [[0,0],[0,1],[1,0],[1,1]]}"

/* The subresources a refused request must leave as they were. */
static const char *const world_subs[] = { "", "/weights", "/versions",
	"/aliases", "/loss", NULL };
static const char *const busy_subs[] = { "/versions", "/aliases", NULL };

/* POST .../predict (target NULL: none, else ?version=target): 200
 * required; the outputs as text (malloc'd); *version (may be NULL) gets
 * the answer's version (0 when absent), *step its step. */
static char *
predict(const char *id, const char *target, json_int_t *version,
	json_int_t *step)
{
	char rest[128];
	json_t *doc, *v;
	char *out;

	snprintf(rest, sizeof rest, "/predict%s%s", target ? "?version=" : "",
	    target ? target : "");
	doc = tl_jexpect("POST", tl_mpath(id, rest), PREDICT_BODY, 200);
	out = json_dumps(json_object_get(doc, "outputs"), JSON_COMPACT);
	ck_assert_ptr_nonnull(out);
	v = json_object_get(doc, "version");
	if (version != NULL)
		*version = json_is_integer(v) ? json_integer_value(v) : 0;
	if (step != NULL)
		*step = tl_jint(doc, "step");
	json_decref(doc);
	return out;
}

/* POST .../versions with body (NULL: none): 201; the version's number. */
static json_int_t
save_version(const char *id, const char *body)
{
	json_t *doc = tl_jexpect("POST", tl_mpath(id, "/versions"), body, 201);
	json_int_t v = tl_jint(doc, "version");

	ck_assert_str_eq(tl_jstr(doc, "model_id"), id);
	json_decref(doc);
	return v;
}

/* PUT .../aliases/name -> version: 200. */
static void
set_alias(const char *id, const char *name, json_int_t version)
{
	char rest[96], body[64];
	json_t *doc;

	snprintf(rest, sizeof rest, "/aliases/%s", name);
	snprintf(body, sizeof body, "{\"version\": %lld", (long long)version);
	strcat(body, "}");
	doc = tl_jexpect("PUT", tl_mpath(id, rest), body, 200);
	ck_assert_int_eq(tl_jint(doc, "version"), version);
	ck_assert_str_eq(tl_jstr(doc, "name"), name);
	json_decref(doc);
}

/* method path body must answer want with error code; and the API's view
 * must be the same before and after. */
static void
refused_in(const char *const *subs, const char *method, const char *path,
	   const char *body, long want, const char *code)
{
	char *before = tl_world(subs, NULL), *after, *resp, what[300];
	long st = tl_jreq(method, path, body, &resp);

	snprintf(what, sizeof what, "%s %s %s", method, path,
	    body ? body : "");
	ck_assert_msg(st == want, "%s: want %ld, got %ld %.300s", what, want,
	    st, resp);
	tl_check_error(resp, strlen(resp), code, what);
	after = tl_world(subs, NULL);
	tl_same_world(before, after, what);
	free(resp);
	free(before);
	free(after);
}

static void
refused(const char *method, const char *path, const char *body, long want,
	const char *code)
{
	refused_in(world_subs, method, path, body, want, code);
}

/* A trained XOR model. */
static void
trained_model(char id[32], const char *opts)
{
	tl_new_model(XOR_MODEL, id);
	tl_push(id, XOR_BATCH);
	tl_train(id, opts);
}

START_TEST(test_version_fields)
{
	char id[32];
	json_t *model, *v, *w, *mw;
	char *a, *b;

	trained_model(id, "{\"steps\": 40, \"batch_size\": 4}");
	model = tl_jget(tl_mpath(id, ""));
	v = tl_jexpect("POST", tl_mpath(id, "/versions"),
	    "{\"name\": \"first try\"}", 201);
	ck_assert_int_eq(tl_jint(v, "version"), 1);
	ck_assert_int_eq(tl_jint(v, "step"), 40);
	ck_assert_str_eq(tl_jstr(v, "name"), "first try");
	/* the loss at the version's step is the model's last loss */
	ck_assert_double_eq(tl_jnum(v, "loss"), tl_jnum(model, "last_loss"));
	ck_assert(json_is_null(json_object_get(v, "validation")));
	ck_assert_str_eq(tl_header("Location"), tl_mpath(id, "/versions/1"));
	/* the export reads as the model's own weights at that step */
	w = tl_jget(tl_mpath(id, "/versions/1/weights"));
	mw = tl_jget(tl_mpath(id, "/weights"));
	a = json_dumps(w, JSON_SORT_KEYS);
	b = json_dumps(mw, JSON_SORT_KEYS);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	json_decref(w);
	json_decref(mw);
	json_decref(v);
	/* unnamed, then by number and by list */
	ck_assert_int_eq(save_version(id, NULL), 2);
	v = tl_jget(tl_mpath(id, "/versions/2"));
	ck_assert(json_is_null(json_object_get(v, "name")));
	json_decref(v);
	v = tl_jget(tl_mpath(id, "/versions?limit=1"));
	ck_assert_int_eq(json_array_size(json_object_get(v, "versions")), 1);
	ck_assert_int_eq(tl_jint(v, "next_after"), 1);
	json_decref(v);
	v = tl_jget(tl_mpath(id, "/versions?after=1"));
	ck_assert_int_eq(json_array_size(json_object_get(v, "versions")), 1);
	ck_assert_ptr_null(json_object_get(v, "next_after"));
	json_decref(v);
	json_decref(model);
}
END_TEST

START_TEST(test_validation_metrics)
{
	char id[32];
	json_t *v, *val;

	tl_new_model(XOR_MODEL, id);
	tl_push(id, XOR_BATCH);
	tl_train(id, "{\"steps\": 20, \"batch_size\": 4, \"validation\": "
	    XOR_BATCH "}");
	v = tl_jexpect("POST", tl_mpath(id, "/versions"), NULL, 201);
	val = json_object_get(v, "validation");
	ck_assert_msg(json_is_object(val), "a version of a model with "
	    "validation points carries the last one");
	ck_assert_int_eq(tl_jint(val, "step"), 20);
	ck_assert(tl_jnum(val, "loss") >= 0);
	json_decref(v);
}
END_TEST

/* Pinned predictions stay the same while the model trains on; the
 * unpinned ones move. */
START_TEST(test_pinned_while_training)
{
	char id[32], job[32];
	char *pinned, *p, *latest;
	json_int_t ver, step;

	trained_model(id, "{\"steps\": 30, \"batch_size\": 4}");
	ck_assert_int_eq(save_version(id, NULL), 1);
	set_alias(id, "production", 1);
	pinned = predict(id, "1", &ver, &step);
	ck_assert_int_eq(ver, 1);
	ck_assert_int_eq(step, 30);
	tl_start_job(id, "{\"steps\": 20000, \"batch_size\": 4}", job);
	for (int i = 0; i < 20; i++) {
		p = predict(id, i % 2 ? "1" : "production", &ver, &step);
		ck_assert_str_eq(p, pinned);
		ck_assert_int_eq(ver, 1);
		ck_assert_int_eq(step, 30);
		free(p);
	}
	tl_wait_job_succeeded(job, 60);
	latest = predict(id, NULL, &ver, &step);
	ck_assert_int_eq(ver, 0);
	ck_assert_int_eq(step, 20030);
	ck_assert_str_ne(latest, pinned);
	p = predict(id, "production", NULL, NULL);
	ck_assert_str_eq(p, pinned);
	free(p);
	free(latest);
	free(pinned);
}
END_TEST

/* One thread moves an alias between versions 1 and 2 while three predict
 * through it: every answer is version 1's or version 2's, whole. */
struct mover {
	const char *id;
	const char *want[3]; /* outputs of versions 1 and 2 */
	int bad, answers;
	int stop; /* atomic: set by the test, read by the predictors */
};

static void *
predictor(void *arg)
{
	struct mover *mv = arg;
	CURL *h = curl_easy_init();
	char path[128];

	snprintf(path, sizeof path, "/v1/models/%s/predict?version=live",
	    mv->id);
	while (!__atomic_load_n(&mv->stop, __ATOMIC_ACQUIRE)) {
		json_t *doc = NULL;
		long st = tl_fetch_json(h, "POST", path, PREDICT_BODY, &doc);
		json_t *v = json_object_get(doc, "version");
		char *out = json_dumps(json_object_get(doc, "outputs"),
		    JSON_COMPACT);
		json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;

		if (st != 200 || (n != 1 && n != 2) || out == NULL ||
		    strcmp(out, mv->want[n]) != 0)
			__atomic_add_fetch(&mv->bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&mv->answers, 1, __ATOMIC_RELAXED);
		free(out);
		json_decref(doc);
	}
	curl_easy_cleanup(h);
	return NULL;
}

START_TEST(test_alias_move_atomic)
{
	char id[32];
	char *o1, *o2, *o3;
	pthread_t th[3];
	struct mover mv;

	tl_new_model(XOR_MODEL, id);
	tl_push(id, XOR_BATCH);
	tl_train(id, "{\"steps\": 10, \"batch_size\": 4}");
	save_version(id, NULL);
	tl_train(id, "{\"steps\": 10, \"batch_size\": 4}");
	save_version(id, NULL);
	tl_train(id, "{\"steps\": 10, \"batch_size\": 4}");
	save_version(id, NULL);
	o1 = predict(id, "1", NULL, NULL);
	o2 = predict(id, "2", NULL, NULL);
	o3 = predict(id, "3", NULL, NULL);
	/* a third version exists, differs, and must never answer */
	ck_assert_str_ne(o1, o2);
	ck_assert_str_ne(o3, o1);
	ck_assert_str_ne(o3, o2);
	set_alias(id, "live", 1);
	memset(&mv, 0, sizeof mv);
	mv.id = id;
	mv.want[1] = o1;
	mv.want[2] = o2;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, predictor, &mv),
		    0);
	/* at least 60 moves, and on until the predictors have answered 60
	 * times (a loaded machine may run every move before the threads
	 * start), within 30 s */
	for (int i = 0; i < 60 || (__atomic_load_n(&mv.answers,
	    __ATOMIC_RELAXED) < 60 && i < 60000); i++) {
		set_alias(id, "live", 1 + (i % 2));
		if (i >= 60)
			usleep(500);
	}
	__atomic_store_n(&mv.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	ck_assert_msg(mv.answers > 0, "no prediction was answered");
	ck_assert_msg(mv.bad == 0, "%d of %d answers were not version 1's "
	    "or 2's whole", mv.bad, mv.answers);
	free(o1);
	free(o2);
	free(o3);
}
END_TEST

START_TEST(test_delete_and_aliases)
{
	char id[32];
	json_t *v;

	trained_model(id, "{\"steps\": 5, \"batch_size\": 4}");
	save_version(id, NULL);
	save_version(id, NULL);
	set_alias(id, "production", 2);
	set_alias(id, "canary", 2);
	v = tl_jget(tl_mpath(id, "/versions/production"));
	ck_assert_int_eq(tl_jint(v, "version"), 2);
	ck_assert_int_eq(json_array_size(json_object_get(v, "aliases")), 2);
	json_decref(v);
	/* an aliased version stays unless the aliases go too */
	refused("DELETE", tl_mpath(id, "/versions/2"), NULL, 409,
	    "version_aliased");
	json_decref(tl_jexpect("DELETE", tl_mpath(id, "/versions/1"), NULL,
	    204));
	refused("GET", tl_mpath(id, "/versions/1"), NULL, 404,
	    "version_not_found");
	json_decref(tl_jexpect("DELETE", tl_mpath(id, "/aliases/canary"),
	    NULL, 204));
	refused("DELETE", tl_mpath(id, "/aliases/canary"), NULL, 404,
	    "alias_not_found");
	json_decref(tl_jexpect("DELETE",
	    tl_mpath(id, "/versions/2?drop_aliases=true"), NULL, 204));
	v = tl_jget(tl_mpath(id, "/aliases"));
	ck_assert_int_eq(json_array_size(json_object_get(v, "aliases")), 0);
	json_decref(v);
	refused("POST", tl_mpath(id, "/predict?version=production"),
	    PREDICT_BODY, 404, "alias_not_found");
	refused("POST", tl_mpath(id, "/predict?version=2"), PREDICT_BODY, 404,
	    "version_not_found");
	/* numbers are never given out again */
	ck_assert_int_eq(save_version(id, NULL), 3);
}
END_TEST

START_TEST(test_refusals)
{
	char id[32];

	trained_model(id, "{\"steps\": 5, \"batch_size\": 4}");
	save_version(id, NULL);
	set_alias(id, "production", 1);
	/* alias syntax */
	refused("PUT", tl_mpath(id, "/aliases/9lives"), "{\"version\": 1}",
	    400, "invalid_alias");
	refused("PUT", tl_mpath(id, "/aliases/a%20b"), "{\"version\": 1}",
	    400, "invalid_alias");
	refused("PUT", tl_mpath(id, "/aliases/"
	    "a123456789012345678901234567890123456789012345678901234567890123"),
	    "{\"version\": 1}", 400, "invalid_alias");
	refused("DELETE", tl_mpath(id, "/aliases/-x"), NULL, 400,
	    "invalid_alias");
	/* bodies */
	refused("PUT", tl_mpath(id, "/aliases/production"), "{\"version\": 9}",
	    404, "version_not_found");
	refused("PUT", tl_mpath(id, "/aliases/production"), "{}", 400,
	    "missing_field");
	refused("PUT", tl_mpath(id, "/aliases/production"),
	    "{\"version\": \"1\"}", 400, "wrong_type");
	refused("PUT", tl_mpath(id, "/aliases/production"),
	    "{\"version\": 0}", 422, "invalid_value");
	refused("PUT", tl_mpath(id, "/aliases/production"),
	    "{\"version\": 1, \"x\": 1}", 400, "unknown_field");
	refused("POST", tl_mpath(id, "/versions"), "{\"name\": 5}", 400,
	    "wrong_type");
	refused("POST", tl_mpath(id, "/versions"), "{\"nam\": \"x\"}", 400,
	    "unknown_field");
	refused("POST", tl_mpath(id, "/versions"), "{\"name\": \"a\\tb\"}",
	    422, "invalid_value");
	/* targets */
	refused("POST", tl_mpath(id, "/predict?version=0"), PREDICT_BODY, 400,
	    "invalid_version");
	refused("POST", tl_mpath(id, "/predict?version=1x"), PREDICT_BODY,
	    400, "invalid_version");
	refused("POST", tl_mpath(id, "/predict?version=_a"), PREDICT_BODY,
	    400, "invalid_version");
	refused("POST", tl_mpath(id, "/predict?version=1&version=1"),
	    PREDICT_BODY, 400, "invalid_query");
	refused("POST", tl_mpath(id, "/predict?version=staging"),
	    PREDICT_BODY, 404, "alias_not_found");
	refused("GET", tl_mpath(id, "/versions/99999999999999999999"), NULL,
	    400, "invalid_version");
	refused("GET", tl_mpath(id, "/versions/staging/weights"), NULL, 404,
	    "alias_not_found");
	refused("DELETE", tl_mpath(id, "/versions/1?drop_aliases=yes"), NULL,
	    400, "invalid_query");
	refused("GET", tl_mpath(id, "/versions?limit=0"), NULL, 400,
	    "invalid_query");
	refused("GET", tl_mpath(id, "/versions?after=x"), NULL, 400,
	    "invalid_query");
	refused("POST", tl_mpath(id, "/restore"), "{\"version\": 7}", 404,
	    "version_not_found");
	refused("POST", tl_mpath(id, "/restore"), "{}", 400, "missing_field");
	refused("POST", tl_mpath(id, "/restore"), "{\"version\": 1.5}", 400,
	    "wrong_type");
	refused("POST", tl_mpath(id, "/restore"), "{\"version\": \"_x\"}", 400,
	    "invalid_alias");
	/* an unknown model */
	refused("POST", tl_mpath(NO_MODEL, "/versions"), NULL, 404,
	    "model_not_found");
	refused("PUT", tl_mpath(NO_MODEL, "/aliases/production"),
	    "{\"version\": 1}", 404, "model_not_found");
}
END_TEST

START_TEST(test_max_versions)
{
	char id[32], *before, *after;
	json_t *v;

	tl_config()->lim.max_versions = 2;
	tl_start();
	trained_model(id, "{\"steps\": 5, \"batch_size\": 4}");
	save_version(id, NULL);
	save_version(id, NULL);
	before = tl_world(world_subs, NULL);
	refused("POST", tl_mpath(id, "/versions"), NULL, 422,
	    "limit_exceeded");
	after = tl_world(world_subs, NULL);
	tl_same_world(before, after, "a version past the cap");
	/* room again after a delete */
	json_decref(tl_jexpect("DELETE", tl_mpath(id, "/versions/1"), NULL,
	    204));
	ck_assert_int_eq(save_version(id, NULL), 3);
	v = tl_jget(tl_mpath(id, "/versions"));
	ck_assert_int_eq(json_array_size(json_object_get(v, "versions")), 2);
	json_decref(v);
	free(before);
	free(after);
}
END_TEST

START_TEST(test_restore)
{
	char id[32], job[32];
	char *at30, *p;
	json_t *m, *loss, *pts;
	json_int_t step;

	trained_model(id, "{\"steps\": 30, \"batch_size\": 4}");
	save_version(id, "{\"name\": \"good\"}");
	set_alias(id, "good", 1);
	at30 = predict(id, NULL, NULL, NULL);
	tl_train(id, "{\"steps\": 30, \"batch_size\": 4}");
	m = tl_jexpect("POST", tl_mpath(id, "/restore"),
	    "{\"version\": \"good\"}", 200);
	ck_assert_int_eq(tl_jint(m, "step"), 30);
	json_decref(m);
	p = predict(id, NULL, NULL, &step);
	ck_assert_str_eq(p, at30);
	ck_assert_int_eq(step, 30);
	free(p);
	/* the history past step 30 is gone */
	loss = tl_jget(tl_mpath(id, "/loss?since=0&limit=1000"));
	pts = json_object_get(loss, "points");
	ck_assert_int_eq(json_array_size(pts), 30);
	ck_assert_int_eq(tl_jint(json_array_get(pts, 29), "step"), 30);
	json_decref(loss);
	/* refused while a job runs; the job moves the weights and the loss
	 * meanwhile, so only what a restore alone could change is compared,
	 * and the history after the job must still be whole (a restore
	 * would have cut it at step 30) */
	tl_start_job(id, "{\"steps\": 200000, \"batch_size\": 4}", job);
	json_decref(tl_wait_job(job, "running", NULL, 30));
	refused_in(busy_subs, "POST", tl_mpath(id, "/restore"),
	    "{\"version\": 1}", 409, "model_busy");
	json_decref(tl_jexpect("DELETE", tl_jpath(job), NULL, 200));
	json_decref(tl_wait_job(job, "cancelled", NULL, 30));
	m = tl_jget(tl_mpath(id, ""));
	step = tl_jint(m, "step");
	json_decref(m);
	ck_assert_int_gt(step, 30);
	loss = tl_jget(tl_mpath(id, "/loss?max_points=1"));
	pts = json_object_get(loss, "points");
	ck_assert_int_eq(json_array_size(pts), 1);
	ck_assert_int_eq(tl_jint(json_array_get(pts, 0), "count"), step);
	json_decref(loss);
	free(at30);
}
END_TEST

START_TEST(test_create_from)
{
	char a[32], b[32];
	char *pa, *pb, body[256];
	json_t *m, *w1, *w2, *v;

	trained_model(a, "{\"steps\": 25, \"batch_size\": 4}");
	save_version(a, NULL);
	set_alias(a, "best", 1);
	pa = predict(a, "best", NULL, NULL);
	snprintf(body, sizeof body, "{\"from\": {\"model\": \"%s\", "
	    "\"version\": \"best\"}, \"name\": \"fork\"}", a);
	m = tl_create_model(body, b);
	ck_assert_int_eq(tl_jint(m, "step"), 0);
	ck_assert_int_eq(tl_jint(m, "samples"), 0);
	ck_assert_str_eq(tl_jstr(m, "name"), "fork");
	ck_assert_int_eq(tl_jint(m, "seed"), 7);
	json_decref(m);
	pb = predict(b, NULL, NULL, NULL);
	ck_assert_str_eq(pa, pb);
	/* the weights are the version's; the history starts fresh */
	w1 = tl_jget(tl_mpath(a, "/versions/1/weights"));
	w2 = tl_jget(tl_mpath(b, "/weights"));
	ck_assert(json_equal(json_object_get(w1, "layers"),
	    json_object_get(w2, "layers")));
	json_decref(w1);
	json_decref(w2);
	v = tl_jget(tl_mpath(b, "/versions"));
	ck_assert_int_eq(json_array_size(json_object_get(v, "versions")), 0);
	ck_assert_int_eq(json_array_size(json_object_get(v, "aliases")), 0);
	json_decref(v);
	v = tl_jget(tl_mpath(b, "/loss"));
	ck_assert_int_eq(json_array_size(json_object_get(v, "points")), 0);
	json_decref(v);
	/* refusals */
	snprintf(body, sizeof body, "{\"from\": {\"model\": \"%s\", "
	    "\"version\": 5}}", a);
	refused("POST", "/v1/models", body, 404, "version_not_found");
	snprintf(body, sizeof body, "{\"from\": {\"model\": \"%s\", "
	    "\"version\": \"nope\"}}", a);
	refused("POST", "/v1/models", body, 404, "alias_not_found");
	refused("POST", "/v1/models", "{\"from\": {\"model\": \"" NO_MODEL
	    "\", \"version\": 1}}", 404, "model_not_found");
	snprintf(body, sizeof body, "{\"from\": {\"model\": \"%s\", "
	    "\"version\": 1}, \"layers\": [2, 1]}", a);
	refused("POST", "/v1/models", body, 400, "unknown_field");
	refused("POST", "/v1/models", "{\"from\": 5}", 400, "wrong_type");
	snprintf(body, sizeof body, "{\"from\": {\"model\": \"%s\"}}", a);
	refused("POST", "/v1/models", body, 400, "missing_field");
	free(pa);
	free(pb);
}
END_TEST

/* Counts rows of table in the database file (the daemon stopped). */
static long
rows_in(const char *db, const char *table)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	char sql[96];
	long n = -1;

	ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

START_TEST(test_restart_and_cascade)
{
	char id[32], other[32], db[512];
	char *before, *p;
	json_int_t ver, step;

	tl_config();
	snprintf(db, sizeof db, "%s", tl_file_db());
	tl_start();
	trained_model(id, "{\"steps\": 15, \"batch_size\": 4}");
	save_version(id, NULL);
	set_alias(id, "production", 1);
	trained_model(other, "{\"steps\": 5, \"batch_size\": 4}");
	save_version(other, NULL);
	before = predict(id, "production", NULL, NULL);
	tl_train(id, "{\"steps\": 15, \"batch_size\": 4}");
	tl_stop();
	tl_start();
	/* the alias and the version came back from the file */
	p = predict(id, "production", &ver, &step);
	ck_assert_str_eq(p, before);
	ck_assert_int_eq(ver, 1);
	ck_assert_int_eq(step, 15);
	free(p);
	/* deleting the model deletes its versions and aliases */
	json_decref(tl_jexpect("DELETE", tl_mpath(id, ""), NULL, 204));
	tl_stop();
	ck_assert_int_eq(rows_in(db, "versions"), 1); /* other's */
	ck_assert_int_eq(rows_in(db, "aliases"), 0);
	ck_assert_int_eq(rows_in(db, "version_seq"), 1);
	free(before);
}
END_TEST

/* The engine's cache on its own: at most max_nets nets stay loaded, the
 * least recently used goes first, a deleted version is dropped and no
 * longer answers, and an alias resolves from memory. */
START_TEST(test_cache_engine)
{
	fault f;
	store *st = store_open(":memory:", &f);
	versions *vs;
	mlp_spec spec;
	mlp *net;
	void *blob;
	size_t len;
	store_model row;
	store_version_new nv;
	store_version out;
	mlp_snapshot *s1, *s;
	uint64_t got;
	store_vdel what;
	apierr e;

	ck_assert_msg(st != NULL, "%s", f.msg);
	mlp_spec_default(&spec);
	spec.n_layers = 1;
	spec.sizes[0] = 2;
	spec.sizes[1] = 1;
	net = mlp_create(&spec, &f);
	ck_assert_ptr_nonnull(net);
	ck_assert_int_eq(blob_save(net, &blob, &len, &f), 0);
	memset(&row, 0, sizeof row);
	strcpy(row.id, "m0000000000000001");
	row.name = "";
	row.blob = blob;
	row.blob_len = len;
	ck_assert_int_eq(store_model_insert(st, &row, &f), 0);
	memset(&nv, 0, sizeof nv);
	nv.model_id = row.id;
	nv.blob = blob;
	nv.blob_len = len;
	nv.from_history = 1;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(store_version_create(st, &nv, &out, &f), 0);
	ck_assert_int_eq(out.version, 3);
	/* a model deleted while its version is saved is "not found" (404),
	 * not a bad request (it was 422) */
	nv.model_id = "m0000000000000999";
	ck_assert_int_eq(store_version_create(st, &nv, &out, &f), -1);
	ck_assert_int_eq(f.code, FAULT_NO_MODEL);
	ck_assert_int_eq(apierr_from_fault(&e, &f), -1);
	ck_assert_int_eq(e.status, 404);
	ck_assert_str_eq(e.code, "model_not_found");
	nv.model_id = row.id;
	ck_assert_int_eq(store_alias_set(st, row.id, "prod", 2, 0, 1, &f), 1);
	vs = versions_create(st, 2, &f);
	ck_assert_msg(vs != NULL, "%s", f.msg);
	/* the alias came from the store; nothing is loaded yet */
	ck_assert_int_eq(versions_alias_get(vs, row.id, "prod", &got), 1);
	ck_assert_int_eq(got, 2);
	ck_assert_int_eq(versions_loaded(vs, row.id, "prod", 0), 0);
	ck_assert_int_eq(versions_resolve(vs, row.id, &spec, NULL, 1, &s1,
	    &got, &f), 1);
	ck_assert_int_eq(versions_resolve(vs, row.id, &spec, "prod", 0, &s,
	    &got, &f), 1);
	ck_assert_int_eq(got, 2);
	mlp_snapshot_unref(s);
	ck_assert_int_eq(versions_loaded(vs, row.id, "prod", 0), 1);
	ck_assert_uint_eq(versions_cached(vs), 2);
	/* version 1 again, then 3: 2 is the least recently used */
	mlp_snapshot_unref(s1);
	ck_assert_int_eq(versions_resolve(vs, row.id, &spec, NULL, 1, &s1,
	    &got, &f), 1);
	ck_assert_int_eq(versions_resolve(vs, row.id, &spec, NULL, 3, &s,
	    &got, &f), 1);
	mlp_snapshot_unref(s);
	ck_assert_uint_eq(versions_cached(vs), 2);
	ck_assert_int_eq(versions_loaded(vs, row.id, NULL, 1), 1);
	ck_assert_int_eq(versions_loaded(vs, row.id, NULL, 3), 1);
	ck_assert_int_eq(versions_loaded(vs, row.id, NULL, 2), 0);
	/* a deleted version is dropped from the cache and answers no more;
	 * a reference taken before stays valid */
	ck_assert_int_eq(versions_delete(vs, row.id, 1, 0, &what, &f), 0);
	ck_assert_int_eq(what, STORE_VDEL_DONE);
	ck_assert_int_eq(versions_loaded(vs, row.id, NULL, 1), 0);
	ck_assert_int_eq(versions_resolve(vs, row.id, &spec, NULL, 1, &s,
	    &got, &f), 0);
	ck_assert_uint_eq(mlp_snapshot_step(s1), 0);
	mlp_snapshot_unref(s1);
	/* an aliased version is refused; with its alias it goes */
	ck_assert_int_eq(versions_delete(vs, row.id, 2, 0, &what, &f), 0);
	ck_assert_int_eq(what, STORE_VDEL_ALIASED);
	ck_assert_int_eq(versions_delete(vs, row.id, 2, 1, &what, &f), 0);
	ck_assert_int_eq(what, STORE_VDEL_DONE);
	ck_assert_int_eq(versions_alias_get(vs, row.id, "prod", &got), 0);
	versions_forget_model(vs, row.id);
	ck_assert_uint_eq(versions_cached(vs), 0);
	versions_destroy(vs);
	versions_destroy(NULL);
	store_close(st);
	mlp_destroy(net);
	free(blob);
}
END_TEST

static Suite *
versions_suite(void)
{
	Suite *s = suite_create("versions");
	TCase *tc = tcase_create("api");
	TCase *own = tcase_create("own daemon");
	TCase *engine = tcase_create("engine cache");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, tl_setup, tl_stop);
	tcase_add_test(tc, test_version_fields);
	tcase_add_test(tc, test_validation_metrics);
	tcase_add_test(tc, test_pinned_while_training);
	tcase_add_test(tc, test_alias_move_atomic);
	tcase_add_test(tc, test_delete_and_aliases);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_restore);
	tcase_add_test(tc, test_create_from);
	suite_add_tcase(s, tc);
	tcase_set_timeout(own, 120);
	tcase_add_checked_fixture(own, NULL, tl_stop);
	tcase_add_test(own, test_max_versions);
	tcase_add_test(own, test_restart_and_cascade);
	suite_add_tcase(s, own);
	tcase_add_test(engine, test_cache_engine);
	suite_add_tcase(s, engine);
	return s;
}

int
main(void)
{
	return tl_main(versions_suite(), LOG_ERROR);
}
