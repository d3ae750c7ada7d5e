/*
 * testlib (tl_*): the toolkit every API suite shares, so that a suite opens
 * with its first test and not with its own copy of the plumbing:
 *   - a daemon started in-process per test (config, start, stop, port),
 *     private temporary directories, and the main() of a Check program;
 *   - HTTP through libcurl: requests with any method, body, content type
 *     and header, the status, body and headers of the answer; a variant
 *     without assertions for client threads;
 *   - JSON getters that assert the type of what they get;
 *   - the API's nouns: create a model, push a batch, start a job, wait for
 *     a job or an idle model, train to the end; and a snapshot of all the
 *     API shows ("the world"), for "a refused request changes nothing";
 *   - raw sockets for what libcurl will not send, and a growable string;
 *   - for suites without a daemon, a model and its rows put straight into
 *     a store and a registry (the trainer's fixture).
 *
 * Everything that asserts (ck_assert) runs in the test's own thread; only
 * tl_perform(), tl_fetch_json() and tl_now() may be called from others.
 * Strings handed out are malloc'd and the caller frees them, unless the
 * comment says they live in a ring or until the next request.
 */
#ifndef MLPD_TESTLIB_H
#define MLPD_TESTLIB_H

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "registry.h"
#include "store.h"

#define XOR_BATCH "{\"inputs\": [[0,0],[0,1],[1,0],[1,1]], " \
	"\"targets\": [[0],[1],[1],[0]]}"
#define NO_MODEL "m0000000000000000"
#define NO_JOB "j0000000000000000"

/* ---------------------------------------------------------------------
 * The program, the daemon, temporary files
 * ------------------------------------------------------------------ */

/* Runs suite s: ignores SIGPIPE, sets the log level, initialises libcurl,
 * makes the root of tl_tmpdir() and removes it after the run. Returns the
 * process exit status (0 when every test passed). */
int tl_main(Suite *s, log_level level);

/* Resets the configuration of the next tl_start() to what most tests
 * use (a free port, a ":memory:" store, 4 HTTP threads, checkpoints every
 * 0.2 s) and returns it for the test to adjust. */
config *tl_config(void);

/* The configuration of the next (or the running) daemon. */
config *tl_cfg(void);

/* Starts the daemon of tl_cfg() in this process; asserts it started. */
void tl_start(void);

/* tl_config() and tl_start() in one, for a checked fixture. */
void tl_setup(void);

/* Stops the daemon (no-op when none runs); a checked fixture's teardown. */
void tl_stop(void);

/* The running daemon and its port. */
daemon_ctx *tl_daemon(void);
unsigned tl_port(void);

/* "http://127.0.0.1:<port><path>" in a ring of 8 buffers. */
const char *tl_url(const char *path);

/* A fresh private directory for this test (under the root that
 * tl_main() removes at the end), in a ring of 4 buffers. */
const char *tl_tmpdir(void);

/* Points tl_cfg()'s database at a fresh file in a tl_tmpdir(); returns
 * its path (static, until the next call). */
const char *tl_file_db(void);

/* Seconds on the monotonic clock. */
double tl_now(void);

/* ---------------------------------------------------------------------
 * HTTP through libcurl
 * ------------------------------------------------------------------ */

/* What one request sends. */
typedef struct tl_request {
	const char *method;
	const char *path;
	const char *ct;     /* Content-Type; NULL sends none at all */
	const char *body;   /* NULL: no body */
	size_t len;         /* bytes of body */
	int chunked;        /* send body with Transfer-Encoding: chunked */
	const char *header; /* one more header line ("Name: value"), or NULL */
	long timeout;       /* seconds; 0: tl_set_timeout()'s */
} tl_request;

/* What came back. */
typedef struct tl_response {
	long status;  /* 0 when no answer came */
	CURLcode rc;  /* of the transfer */
	char *body;   /* NUL-terminated, "" when empty (owned) */
	size_t len;
	char *head;   /* header lines of the final answer (owned) */
	size_t hlen;
} tl_response;

/* Sends rq on handle h (a fresh one when NULL) and fills r; asserts
 * nothing, so client threads may call it (each with its own h). */
void tl_perform(CURL *h, const tl_request *rq, tl_response *r);

void tl_response_free(tl_response *r);

/* Copies the value of header name of r into out (cap bytes), "" when
 * absent; returns out. */
char *tl_response_header(const tl_response *r, const char *name, char *out,
			 size_t cap);

/* The timeout of the requests that follow (default 30 s). */
void tl_set_timeout(long seconds);

/* Sends rq and requires an answer: the transfer went through, or the
 * server answered an error early (while the body was still going up).
 * Returns the status; *resp (when not NULL) gets the body. */
long tl_send(const tl_request *rq, char **resp);

/* method path, Content-Type ct (NULL: none), body (NULL: none). */
long tl_req(const char *method, const char *path, const char *ct,
	    const char *body, char **resp);

/* tl_req() with one more header line (NULL: none). */
long tl_req_h(const char *method, const char *path, const char *ct,
	      const char *body, const char *header, char **resp);

/* A JSON request: application/json when there is a body. */
long tl_jreq(const char *method, const char *path, const char *body,
	     char **resp);

/* The value of header name in the last answer of tl_send() and its
 * wrappers, "" when absent; valid until the next request. */
const char *tl_header(const char *name);

/* One request on handle h (a fresh one when NULL) with a JSON body (or
 * none): the status, 0 when the transfer failed; *out (when not NULL) the
 * parsed answer, NULL when it is not JSON. Asserts nothing. */
long tl_fetch_json(CURL *h, const char *method, const char *path,
		   const char *body, json_t **out);

/* ---------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------ */

/* Parses text, which must be JSON. */
json_t *tl_parse(const char *text);

/* method path body must answer want; the parsed answer (NULL for a 204
 * with no body). */
json_t *tl_jexpect(const char *method, const char *path, const char *body,
		   long want);

/* GET path, 200 required, parsed. */
json_t *tl_jget(const char *path);

/* GET path, 200 required, the body as text. */
char *tl_tget(const char *path);

/* obj's member key, which must be a string / integer / number. */
const char *tl_jstr(json_t *obj, const char *key);
json_int_t tl_jint(json_t *obj, const char *key);
double tl_jnum(json_t *obj, const char *key);

/* Is s prefix and 16 lowercase hex digits, like "m0123456789abcdef"? */
int tl_is_hex_id(const char *s, char prefix);

/* Checks that text is exactly {"error": {"code": code, "message": "..."}}
 * with a non-empty code and message; code NULL takes any code. what
 * names the request in messages. */
void tl_check_error(const char *text, size_t len, const char *code,
		    const char *what);

/* ---------------------------------------------------------------------
 * The API's nouns
 * ------------------------------------------------------------------ */

/* "/v1/models/<id><rest>" in a ring of 16 buffers (a helper that makes
 * many requests copies its path). */
const char *tl_mpath(const char *id, const char *rest);

/* "/v1/jobs/<id>", from a ring of 8. */
const char *tl_jpath(const char *id);

/* POST /v1/models body: 201, a model id, Location naming it. The id goes
 * to id; returns the answer. */
json_t *tl_create_model(const char *body, char id[32]);

/* tl_create_model() with the answer dropped. */
void tl_new_model(const char *body, char id[32]);

/* POST .../batches, 201 required. */
void tl_push(const char *id, const char *batch);

/* POST .../train with opts: 202, a job id, Location naming it. The id
 * goes to job. */
void tl_start_job(const char *id, const char *opts, char job[32]);

/* Polls the job until its status is s1 or s2 (NULL: none) and returns it;
 * fails after timeout seconds. */
json_t *tl_wait_job(const char *job, const char *s1, const char *s2,
		    double timeout);

/* Polls the job until it is neither queued nor running, which must have
 * happened within timeout seconds; fails unless it then is "succeeded". */
void tl_wait_job_succeeded(const char *job, double timeout);

/* Polls the model until it is "idle"; fails after timeout seconds. */
void tl_wait_model_idle(const char *id, double timeout);

/* Lets job (of model id, running or queued) reach steps steps, restarts
 * the daemon (the same tl_cfg(), a file database) so that it ends
 * "interrupted", checks that, and returns the model's step after the
 * restart: the job's last checkpoint. Fails after 90 s. */
json_int_t tl_interrupt_job(const char *id, const char *job,
			    json_int_t steps);

/* Trains model id with opts to the end: the job must succeed (seen only
 * queued or running before) and the model turn idle. Returns the job's
 * steps_total. */
json_int_t tl_train(const char *id, const char *opts);

/* Everything the API shows, as text: GET /v1/models, then for every
 * model each of the paths in subs (NULL-terminated) after
 * "/v1/models/<id>", then extra (NULL: none). Each GET must answer 200.
 * subs NULL: the whole view (the model, its weights, batches, jobs and
 * loss history). */
char *tl_world(const char *const *subs, const char *extra);

/* The world's GETs on one kept-alive connection (on: 1), for suites that
 * snapshot it hundreds of times; off (0) by default, since a connection
 * held open counts against connection limits. */
void tl_world_keepalive(int on);

/* Fails with where the two snapshots first differ. */
void tl_same_world(const char *before, const char *after, const char *what);

/* ---------------------------------------------------------------------
 * Raw sockets
 * ------------------------------------------------------------------ */

/* A TCP connection to the daemon from source address src (NULL: any),
 * with 10 s send and receive timeouts. */
int tl_dial(const char *src);

/* Sends n bytes of p; 0, or -1 when the connection is gone (the server
 * may answer early and close). */
int tl_send_all(int fd, const char *p, size_t n);

/* Reads what fd has within ms milliseconds into out (NUL-terminated).
 * Returns the bytes read, 0 when the peer closed (or reset) the
 * connection, -1 when nothing came in time. */
ssize_t tl_read_some(int fd, char *out, size_t cap, int ms);

/* Sends n raw bytes (a whole request) on a fresh connection, reads the
 * answer until the server closes and parses it into r: status (0 when no
 * status line came back), head, body (dechunked, or cut at its
 * Content-Length). For what libcurl will not send. */
void tl_raw(const char *bytes, size_t n, tl_response *r);

/* Reads an answer on fd until the server closes, parsed as tl_raw(). */
void tl_raw_read(int fd, tl_response *r);

/* ---------------------------------------------------------------------
 * The trainer's fixture (no daemon): suites that make a store, a registry
 * and a trainer directly (check_trainer, check_lease)
 * ------------------------------------------------------------------ */

/* Stores model id (2 inputs, 1 output, fresh weights) in st as a create
 * does and, when reg is not NULL, adds its entry to reg and returns it
 * (the caller's reference: registry_put it); NULL when reg is NULL. */
model_entry *tl_trainer_model(store *st, registry *reg, const char *id);

/* Stores n rows for m (2 inputs, 1 output) in st as a push does, and
 * counts them in m. */
void tl_trainer_rows(store *st, model_entry *m, size_t n);

/* ---------------------------------------------------------------------
 * A growable string
 * ------------------------------------------------------------------ */

typedef struct tl_str {
	char *p;    /* NUL-terminated (owned); NULL until the first add */
	size_t len;
	size_t cap;
} tl_str;

void tl_str_addn(tl_str *s, const char *p, size_t n);
void tl_str_add(tl_str *s, const char *p);

/* Appends c n times. */
void tl_str_rep(tl_str *s, char c, size_t n);

#endif
