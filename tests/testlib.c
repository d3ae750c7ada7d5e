/*
 * testlib: the toolkit of the API suites (see testlib.h). The state here
 * (the daemon, its configuration, the headers of the last answer) is the
 * one test's that runs in this forked child: Check forks per test.
 */
#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "wallclock.h"

static config g_cfg;
static daemon_ctx *g_d;
static unsigned g_port;
static long g_timeout = 30;
static char g_root[] = "/tmp/mlpd-tests.XXXXXX"; /* made by tl_main */
static tl_response g_last;   /* the last answer of tl_send() */
static int g_keep;           /* tl_world() keeps its connection */
static CURL *g_world_h;      /* that connection's handle */

/* ---------------------------------------------------------------------
 * The program, the daemon, temporary files
 * ------------------------------------------------------------------ */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
tl_main(Suite *s, log_level level)
{
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	log_set_level(level);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "curl_global_init failed\n");
		return 1;
	}
	if (mkdtemp(g_root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}

config *
tl_config(void)
{
	config_default(&g_cfg);
	g_cfg.port = 0;
	g_cfg.db_path = ":memory:";
	g_cfg.checkpoint_every = 0.2;
	g_cfg.http_threads = 4;
	return &g_cfg;
}

config *
tl_cfg(void)
{
	return &g_cfg;
}

void
tl_start(void)
{
	fault f;

	fault_clear(&f);
	g_d = daemon_start(&g_cfg, &f);
	ck_assert_msg(g_d != NULL, "daemon_start: %s", f.msg);
	g_port = daemon_port(g_d);
	ck_assert_uint_ne(g_port, 0);
}

void
tl_setup(void)
{
	tl_config();
	tl_start();
}

void
tl_stop(void)
{
	if (g_world_h != NULL)
		curl_easy_cleanup(g_world_h);
	g_world_h = NULL;
	g_keep = 0;
	daemon_stop(g_d);
	g_d = NULL;
	tl_response_free(&g_last);
}

daemon_ctx *
tl_daemon(void)
{
	return g_d;
}

unsigned
tl_port(void)
{
	return g_port;
}

const char *
tl_url(const char *path)
{
	static char u[8][1024];
	static int k;

	k = (k + 1) % 8;
	snprintf(u[k], sizeof u[k], "http://127.0.0.1:%u%s", g_port, path);
	return u[k];
}

const char *
tl_tmpdir(void)
{
	static char d[4][128];
	static int k, seq;

	k = (k + 1) % 4;
	snprintf(d[k], sizeof d[k], "%s/t%d-%d", g_root, (int)getpid(),
	    seq++);
	ck_assert_msg(mkdir(d[k], 0700) == 0, "mkdir %s: %s", d[k],
	    strerror(errno));
	return d[k];
}

const char *
tl_file_db(void)
{
	static char db[192];

	snprintf(db, sizeof db, "%s/mlpd.db", tl_tmpdir());
	g_cfg.db_path = db;
	return db;
}

double
tl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------
 * HTTP through libcurl
 * ------------------------------------------------------------------ */

/* libcurl write callback: appends to the tl_str in arg. */
static size_t
on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	tl_str *s = arg;
	size_t n = size * nmemb;
	char *p;

	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 256;

		while (cap < s->len + n + 1)
			cap *= 2;
		if ((p = realloc(s->p, cap)) == NULL)
			return 0;
		s->p = p;
		s->cap = cap;
	}
	memcpy(s->p + s->len, data, n);
	s->len += n;
	s->p[s->len] = '\0';
	return n;
}

/* libcurl header callback: keeps the header lines of the last answer (a
 * status line starts over, so a 100 Continue is forgotten). */
static size_t
on_head(char *data, size_t size, size_t nmemb, void *arg)
{
	tl_str *s = arg;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		s->len = 0;
	return on_data(data, size, nmemb, arg);
}

/* What the read callback of a chunked upload hands out. */
typedef struct upload {
	const char *p;
	size_t left;
	size_t piece; /* bytes per callback, to force several chunks */
} upload;

/* libcurl read callback of a chunked upload. */
static size_t
on_read(char *out, size_t size, size_t nmemb, void *arg)
{
	upload *u = arg;
	size_t n = size * nmemb;

	if (n > u->piece)
		n = u->piece;
	if (n > u->left)
		n = u->left;
	memcpy(out, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

void
tl_perform(CURL *h, const tl_request *rq, tl_response *r)
{
	CURL *c = h ? h : curl_easy_init();
	struct curl_slist *hl = NULL;
	tl_str body = { NULL, 0, 0 }, head = { NULL, 0, 0 };
	char url[1024], ct[192];
	upload u;

	memset(r, 0, sizeof *r);
	if (c == NULL) {
		r->rc = CURLE_FAILED_INIT;
		goto out;
	}
	if (h != NULL)
		curl_easy_reset(c);
	/* not tl_url(): its ring is not for threads */
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", g_port, rq->path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, rq->timeout ? rq->timeout :
	    g_timeout);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &head);
	if (rq->header != NULL)
		hl = curl_slist_append(hl, rq->header);
	/* no curl default content type: only what the test asks for */
	snprintf(ct, sizeof ct, "Content-Type:%s%s", rq->ct ? " " : "",
	    rq->ct ? rq->ct : "");
	hl = curl_slist_append(hl, ct);
	if (rq->chunked) {
		u.p = rq->body;
		u.left = rq->len;
		u.piece = 1000;
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &u);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (rq->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)rq->len);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	/* the handle must not keep pointers to this frame */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	if (h == NULL)
		curl_easy_cleanup(c);
out:
	r->body = body.p ? body.p : strdup("");
	r->len = body.len;
	r->head = head.p ? head.p : strdup("");
	r->hlen = head.len;
}

void
tl_response_free(tl_response *r)
{
	free(r->body);
	free(r->head);
	memset(r, 0, sizeof *r);
}

char *
tl_response_header(const tl_response *r, const char *name, char *out,
		   size_t cap)
{
	size_t k = strlen(name);
	const char *p = r->head;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n > k && strncasecmp(p, name, k) == 0 && p[k] == ':') {
			const char *v = p + k + 1;

			n -= k + 1;
			while (n > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				n--;
			}
			while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == ' '))
				n--;
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return out;
		}
		p = e ? e + 1 : NULL;
	}
	return out;
}

void
tl_set_timeout(long seconds)
{
	g_timeout = seconds;
}

long
tl_send(const tl_request *rq, char **resp)
{
	tl_response_free(&g_last);
	tl_perform(NULL, rq, &g_last);
	ck_assert_ptr_nonnull(g_last.body);
	ck_assert_ptr_nonnull(g_last.head);
	/* a server may answer an error early and close while the upload
	 * goes on: the status counts when one arrived */
	ck_assert_msg(g_last.rc == CURLE_OK || g_last.status >= 400,
	    "%s %s: %s (status %ld)", rq->method, rq->path,
	    curl_easy_strerror(g_last.rc), g_last.status);
	if (resp != NULL) {
		*resp = strdup(g_last.body);
		ck_assert_ptr_nonnull(*resp);
	}
	return g_last.status;
}

long
tl_req_h(const char *method, const char *path, const char *ct,
	 const char *body, const char *header, char **resp)
{
	tl_request rq = { method, path, ct, body, body ? strlen(body) : 0, 0,
		header, 0 };

	return tl_send(&rq, resp);
}

long
tl_req(const char *method, const char *path, const char *ct,
       const char *body, char **resp)
{
	return tl_req_h(method, path, ct, body, NULL, resp);
}

long
tl_jreq(const char *method, const char *path, const char *body, char **resp)
{
	return tl_req(method, path, body ? "application/json" : NULL, body,
	    resp);
}

const char *
tl_header(const char *name)
{
	static char v[8][512];
	static int k;

	k = (k + 1) % 8;
	return tl_response_header(&g_last, name, v[k], sizeof v[k]);
}

long
tl_fetch_json(CURL *h, const char *method, const char *path,
	      const char *body, json_t **out)
{
	tl_request rq = { method, path, body ? "application/json" : NULL,
		body, body ? strlen(body) : 0, 0, NULL, 0 };
	tl_response r;
	long status;

	tl_perform(h, &rq, &r);
	status = r.rc == CURLE_OK ? r.status : 0;
	if (out != NULL)
		*out = json_loads(r.body, 0, NULL);
	tl_response_free(&r);
	return status;
}

/* ---------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------ */

json_t *
tl_parse(const char *text)
{
	json_error_t err;
	json_t *doc = json_loads(text, 0, &err);

	ck_assert_msg(doc != NULL, "response is not JSON (%s): %.300s",
	    err.text, text);
	return doc;
}

json_t *
tl_jexpect(const char *method, const char *path, const char *body,
	   long want)
{
	char *resp;
	long st = tl_jreq(method, path, body, &resp);
	json_t *doc = NULL;

	ck_assert_msg(st == want, "%s %s: want %ld, got %ld %.300s", method,
	    path, want, st, resp);
	if (want != 204 || resp[0] != '\0')
		doc = tl_parse(resp);
	free(resp);
	return doc;
}

json_t *
tl_jget(const char *path)
{
	return tl_jexpect("GET", path, NULL, 200);
}

char *
tl_tget(const char *path)
{
	char *resp;
	long st = tl_jreq("GET", path, NULL, &resp);

	ck_assert_msg(st == 200, "GET %s: %ld %.300s", path, st, resp);
	return resp;
}

const char *
tl_jstr(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

json_int_t
tl_jint(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

double
tl_jnum(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_number(v), "%s is not a number", key);
	return json_number_value(v);
}

int
tl_is_hex_id(const char *s, char prefix)
{
	if (s[0] != prefix || strlen(s) != 17)
		return 0;
	for (size_t i = 1; i < 17; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return 1;
}

void
tl_check_error(const char *text, size_t len, const char *code,
	       const char *what)
{
	json_t *doc = json_loadb(text, len, 0, NULL);
	json_t *err = json_object_get(doc, "error");
	json_t *c = json_object_get(err, "code");
	json_t *m = json_object_get(err, "message");

	ck_assert_msg(json_is_object(doc) && json_object_size(doc) == 1 &&
	    json_is_object(err) && json_object_size(err) == 2 &&
	    json_is_string(c) && json_is_string(m),
	    "%s: error body has the wrong shape: %.300s", what, text);
	ck_assert_msg(code == NULL || strcmp(json_string_value(c), code) == 0,
	    "%s: want code %s, got %.300s", what, code, text);
	ck_assert_msg(json_string_value(c)[0] != '\0', "%s: empty code",
	    what);
	ck_assert_msg(json_string_value(m)[0] != '\0', "%s: empty message",
	    what);
	json_decref(doc);
}

/* ---------------------------------------------------------------------
 * The API's nouns
 * ------------------------------------------------------------------ */

const char *
tl_mpath(const char *id, const char *rest)
{
	static char p[16][512];
	static int k;

	k = (k + 1) % 16;
	snprintf(p[k], sizeof p[k], "/v1/models/%s%s", id, rest);
	return p[k];
}

const char *
tl_jpath(const char *id)
{
	static char p[8][128];
	static int k;

	k = (k + 1) % 8;
	snprintf(p[k], sizeof p[k], "/v1/jobs/%s", id);
	return p[k];
}

json_t *
tl_create_model(const char *body, char id[32])
{
	char *resp, want[64];
	long st = tl_jreq("POST", "/v1/models", body, &resp);
	json_t *doc;

	ck_assert_msg(st == 201, "create %s: %ld %.300s", body, st, resp);
	doc = tl_parse(resp);
	free(resp);
	snprintf(id, 32, "%s", tl_jstr(doc, "id"));
	ck_assert_msg(tl_is_hex_id(id, 'm'), "model id %s", id);
	snprintf(want, sizeof want, "/v1/models/%s", id);
	ck_assert_str_eq(tl_header("Location"), want);
	return doc;
}

void
tl_new_model(const char *body, char id[32])
{
	json_decref(tl_create_model(body, id));
}

void
tl_push(const char *id, const char *batch)
{
	json_decref(tl_jexpect("POST", tl_mpath(id, "/batches"), batch, 201));
}

void
tl_start_job(const char *id, const char *opts, char job[32])
{
	json_t *j = tl_jexpect("POST", tl_mpath(id, "/train"), opts, 202);
	char want[64];

	snprintf(job, 32, "%s", tl_jstr(j, "id"));
	ck_assert_msg(tl_is_hex_id(job, 'j'), "job id %s", job);
	snprintf(want, sizeof want, "/v1/jobs/%s", job);
	ck_assert_str_eq(tl_header("Location"), want);
	json_decref(j);
}

/* The statuses poll_job() waits for: s1 or s2, or (both NULL) any end. */
typedef struct job_wait {
	const char *s1, *s2;
} job_wait;

static int
job_done(const char *s, const job_wait *w)
{
	if (w->s1 == NULL)
		return strcmp(s, "queued") != 0 && strcmp(s, "running") != 0;
	return strcmp(s, w->s1) == 0 || (w->s2 && strcmp(s, w->s2) == 0);
}

/* Polls the job every 10 ms until job_done(); returns it, or fails after
 * timeout seconds, times CK_TIMEOUT_MULTIPLIER when set (as Check scales
 * its own timeouts: under the sanitizers a job runs several times slower,
 * and these waits only detect hangs). */
static json_t *
poll_job(const char *job, const job_wait *w, double timeout)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	double t0 = tl_now();
	const char *mul = getenv("CK_TIMEOUT_MULTIPLIER");

	if (mul != NULL && atof(mul) > 1)
		timeout *= atof(mul);

	for (;;) {
		json_t *j = tl_jget(tl_jpath(job));
		const char *s = tl_jstr(j, "status");

		if (job_done(s, w))
			return j;
		if (tl_now() - t0 > timeout)
			ck_abort_msg("job %s still %s after %.0f s", job, s,
			    timeout);
		json_decref(j);
		nanosleep(&nap, NULL);
	}
}

json_t *
tl_wait_job(const char *job, const char *s1, const char *s2, double timeout)
{
	job_wait w = { s1, s2 };

	return poll_job(job, &w, timeout);
}

void
tl_wait_job_succeeded(const char *job, double timeout)
{
	job_wait w = { NULL, NULL };
	json_t *j = poll_job(job, &w, timeout);

	ck_assert_msg(strcmp(tl_jstr(j, "status"), "succeeded") == 0, "job %s "
	    "ended %s", job, tl_jstr(j, "status"));
	json_decref(j);
}

void
tl_wait_model_idle(const char *id, double timeout)
{
	struct timespec nap = { 0, 5 * 1000 * 1000 };
	double t0 = tl_now();

	for (;;) {
		json_t *m = tl_jget(tl_mpath(id, ""));
		int idle = strcmp(tl_jstr(m, "status"), "idle") == 0;

		json_decref(m);
		if (idle)
			return;
		ck_assert_msg(tl_now() - t0 <= timeout, "model %s not idle "
		    "after %.0f s", id, timeout);
		nanosleep(&nap, NULL);
	}
}

json_int_t
tl_interrupt_job(const char *id, const char *job, json_int_t steps)
{
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	double t0 = tl_now();
	json_int_t at;
	json_t *j;

	for (;;) {
		j = tl_jget(tl_jpath(job));
		if (tl_jint(j, "steps_done") >= steps)
			break;
		ck_assert_msg(strcmp(tl_jstr(j, "status"), "running") == 0 ||
		    strcmp(tl_jstr(j, "status"), "queued") == 0, "job %s",
		    tl_jstr(j, "status"));
		ck_assert_msg(tl_now() - t0 < 90, "the job is too slow");
		json_decref(j);
		nanosleep(&nap, NULL);
	}
	json_decref(j);
	tl_stop();
	tl_start();
	j = tl_jget(tl_jpath(job));
	ck_assert_str_eq(tl_jstr(j, "status"), "interrupted");
	json_decref(j);
	j = tl_jget(tl_mpath(id, ""));
	at = tl_jint(j, "step");
	json_decref(j);
	return at;
}

json_int_t
tl_train(const char *id, const char *opts)
{
	char job[32];
	json_t *j = tl_jexpect("POST", tl_mpath(id, "/train"), opts, 202);
	json_int_t total = tl_jint(j, "steps_total");

	snprintf(job, sizeof job, "%s", tl_jstr(j, "id"));
	json_decref(j);
	tl_wait_job_succeeded(job, 30);
	/* the model turns idle right after its job ends */
	tl_wait_model_idle(id, 5);
	return total;
}

/* GET path, 200 required, appended to s with the path. */
static void
world_get(tl_str *s, const char *path)
{
	tl_request rq = { "GET", path, NULL, NULL, 0, 0, NULL, 0 };
	tl_response r;

	if (g_keep && g_world_h == NULL) {
		g_world_h = curl_easy_init();
		ck_assert_ptr_nonnull(g_world_h);
	}
	tl_perform(g_keep ? g_world_h : NULL, &rq, &r);
	ck_assert_msg(r.rc == CURLE_OK && r.status == 200, "GET %s: %ld "
	    "%s %.300s (is the daemon still serving?)", path, r.status,
	    curl_easy_strerror(r.rc), r.body);
	tl_str_add(s, path);
	tl_str_add(s, "\n");
	tl_str_addn(s, r.body, r.len);
	tl_str_add(s, "\n");
	tl_response_free(&r);
}

char *
tl_world(const char *const *subs, const char *extra)
{
	static const char *const all[] = { "", "/weights", "/batches",
		"/jobs", "/loss?limit=10000", NULL };
	tl_str s = { NULL, 0, 0 };
	json_t *doc, *models, *m;
	size_t i;

	if (subs == NULL)
		subs = all;
	world_get(&s, "/v1/models");
	doc = tl_parse(strchr(s.p, '\n') + 1);
	models = json_object_get(doc, "models");
	ck_assert(json_is_array(models));
	json_array_foreach(models, i, m) {
		for (size_t k = 0; subs[k] != NULL; k++) {
			char path[256];

			snprintf(path, sizeof path, "/v1/models/%s%s",
			    tl_jstr(m, "id"), subs[k]);
			world_get(&s, path);
		}
	}
	json_decref(doc);
	if (extra != NULL)
		world_get(&s, extra);
	return s.p;
}

void
tl_world_keepalive(int on)
{
	g_keep = on;
}

void
tl_same_world(const char *before, const char *after, const char *what)
{
	size_t d = 0;

	if (strcmp(before, after) == 0)
		return;
	while (before[d] && before[d] == after[d])
		d++;
	d = d > 60 ? d - 60 : 0;
	ck_abort_msg("%s was rejected but changed the state: before "
	    "...%.200s... after ...%.200s...", what, before + d, after + d);
}

/* ---------------------------------------------------------------------
 * Raw sockets
 * ------------------------------------------------------------------ */

int
tl_dial(const char *src)
{
	struct sockaddr_in a;
	struct timeval tv = { 10, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	if (src != NULL) {
		memset(&a, 0, sizeof a);
		a.sin_family = AF_INET;
		inet_pton(AF_INET, src, &a.sin_addr);
		ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof a) == 0,
		    "bind %s: %s", src, strerror(errno));
	}
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)g_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0,
	    "connect: %s", strerror(errno));
	return fd;
}

int
tl_send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

ssize_t
tl_read_some(int fd, char *out, size_t cap, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t k;

	out[0] = '\0';
	if (poll(&p, 1, ms) <= 0)
		return -1;
	k = recv(fd, out, cap - 1, 0);
	if (k < 0)
		return errno == ECONNRESET ? 0 : -1;
	out[k] = '\0';
	return k;
}

/* Undoes chunked transfer coding in place; returns the new length. */
static size_t
dechunk(char *b, size_t n)
{
	size_t in = 0, out = 0;

	while (in < n) {
		unsigned long sz = strtoul(b + in, NULL, 16);
		char *crlf = strstr(b + in, "\r\n");

		if (crlf == NULL || sz == 0)
			break;
		in = (size_t)(crlf - b) + 2;
		if (in + sz > n)
			sz = n - in;
		memmove(b + out, b + in, sz);
		out += sz;
		in += sz + 2;
	}
	b[out] = '\0';
	return out;
}

void
tl_raw_read(int fd, tl_response *r)
{
	tl_str raw = { NULL, 0, 0 };
	char buf[8192], *sep, v[64];

	memset(r, 0, sizeof *r);
	for (;;) {
		ssize_t k = recv(fd, buf, sizeof buf, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		tl_str_addn(&raw, buf, (size_t)k);
	}
	tl_str_addn(&raw, "", 0);
	sep = strstr(raw.p, "\r\n\r\n");
	if (strncmp(raw.p, "HTTP/1.", 7) != 0 || sep == NULL) {
		free(raw.p);
		r->head = strdup("");
		r->body = strdup("");
		ck_assert_ptr_nonnull(r->head);
		ck_assert_ptr_nonnull(r->body);
		return;
	}
	r->status = atol(raw.p + 9);
	r->hlen = (size_t)(sep - raw.p) + 2;
	r->head = malloc(r->hlen + 1);
	r->len = raw.len - (size_t)(sep + 4 - raw.p);
	r->body = malloc(r->len + 1);
	ck_assert_ptr_nonnull(r->head);
	ck_assert_ptr_nonnull(r->body);
	memcpy(r->head, raw.p, r->hlen);
	r->head[r->hlen] = '\0';
	memcpy(r->body, sep + 4, r->len);
	r->body[r->len] = '\0';
	free(raw.p);
	if (strcasecmp(tl_response_header(r, "Transfer-Encoding", v, sizeof v),
	    "chunked") == 0) {
		r->len = dechunk(r->body, r->len);
	} else if (tl_response_header(r, "Content-Length", v, sizeof v)[0]) {
		size_t want = (size_t)strtoull(v, NULL, 10);

		if (want < r->len) {
			r->len = want;
			r->body[want] = '\0';
		}
	}
}

void
tl_raw(const char *bytes, size_t n, tl_response *r)
{
	int fd = tl_dial(NULL);

	(void)tl_send_all(fd, bytes, n);
	tl_raw_read(fd, r);
	close(fd);
}

/* ---------------------------------------------------------------------
 * The trainer's fixture
 * ------------------------------------------------------------------ */

model_entry *
tl_trainer_model(store *st, registry *reg, const char *id)
{
	mlp_spec s;
	store_model row;
	void *blob = NULL;
	size_t len = 0;
	model_entry *m;
	mlp *live;
	fault f;

	mlp_spec_default(&s);
	s.n_layers = 1;
	s.sizes[0] = 2;
	s.sizes[1] = 1;
	live = mlp_create(&s, &f);
	ck_assert_msg(live != NULL, "mlp_create: %s", f.msg);
	ck_assert_int_eq(blob_save(live, &blob, &len, &f), 0);
	memset(&row, 0, sizeof row);
	snprintf(row.id, sizeof row.id, "%s", id);
	row.name = id;
	row.created_ms = row.updated_ms = wallclock_ms();
	row.last_loss = NAN;
	row.blob = blob;
	row.blob_len = len;
	ck_assert_msg(store_model_insert(st, &row, &f) == 0, "%s", f.msg);
	free(blob);
	if (reg == NULL) {
		mlp_destroy(live);
		return NULL;
	}
	m = registry_entry_create(id, id, row.created_ms, row.updated_ms, 0,
	    NAN, live, &f);
	ck_assert_msg(m != NULL, "registry_entry_create: %s", f.msg);
	ck_assert_int_eq(registry_add(reg, m, &f), 0);
	return m;
}

void
tl_trainer_rows(store *st, model_entry *m, size_t n)
{
	float *x = calloc(2 * n, sizeof *x), *y = calloc(n, sizeof *y);
	int64_t batch, total;
	fault f;

	ck_assert(x != NULL && y != NULL);
	for (size_t i = 0; i < n; i++) {
		x[2 * i] = (float)(i % 7) / 7.0f;
		x[2 * i + 1] = (float)(i % 3) / 3.0f;
		y[i] = x[2 * i] > x[2 * i + 1] ? 1.0f : 0.0f;
	}
	registry_rows_begin(m);
	ck_assert_msg(store_batch_insert(st, m->id, x, y, n, 2, 1, 0,
	    wallclock_ms(), &batch, &total, &f) == 0, "%s", f.msg);
	registry_rows_done(m, (int64_t)n);
	free(x);
	free(y);
}

/* ---------------------------------------------------------------------
 * A growable string
 * ------------------------------------------------------------------ */

void
tl_str_addn(tl_str *s, const char *p, size_t n)
{
	/* allocates even for n == 0: s->p is a string after any add. No
	 * ck_assert on this hot path: each passing one writes to Check's
	 * log, and a database dump adds tens of thousands of pieces. */
	if (on_data((char *)p, 1, n, s) != n || s->p == NULL)
		ck_abort_msg("out of memory growing a string");
}

void
tl_str_add(tl_str *s, const char *p)
{
	tl_str_addn(s, p, strlen(p));
}

void
tl_str_rep(tl_str *s, char c, size_t n)
{
	char chunk[1024];

	memset(chunk, c, sizeof chunk);
	while (n > 0) {
		size_t k = n < sizeof chunk ? n : sizeof chunk;

		tl_str_addn(s, chunk, k);
		n -= k;
	}
}
