/*
 * check_limits: the daemon's limits (README, "Limits"), each provoked
 * against a daemon started in-process with that limit set low.
 *
 * Each test case forks (Check's default) and starts its own daemon on a
 * free port with a ":memory:" database (tests/testlib.h). Requests go
 * through libcurl; what libcurl cannot do (hold a connection open, send a
 * request one byte a second, send a body in two halves) goes through raw
 * sockets. Every refused request must be answered with the documented
 * status and code, and change nothing: state() snapshots what the API
 * shows of every model (the list, each model's batches and weights)
 * before and after.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"
#include "mlp.h"

/* What state() shows of every model. */
static const char *const g_state[] = { "/batches", "/weights", NULL };

static char g_refused_retry[32]; /* Retry-After of the last refused() */

/* The settings every test starts from: a free port, an in-memory store,
 * two HTTP threads. */
static void
base_config(void)
{
	tl_config()->http_threads = 2;
}

/* Everything the API shows of the models, as one string (malloc'd). */
static char *
state(void)
{
	return tl_world(g_state, NULL);
}

/* method path body (of type ct, NULL: JSON) must be refused with status
 * and code, and change nothing; the message must name flag (when not
 * NULL). */
static void
refused(const char *method, const char *path, const char *ct,
	const char *body, long status, const char *code, const char *flag)
{
	char *before = state(), *after, *resp;
	long st = tl_req(method, path, ct ? ct : "application/json", body,
	    &resp);
	json_t *doc = json_loads(resp, 0, NULL);
	const char *got, *msg;

	snprintf(g_refused_retry, sizeof g_refused_retry, "%s",
	    tl_header("Retry-After"));

	ck_assert_msg(st == status, "%s %s: %ld, not %ld: %.300s", method,
	    path, st, status, resp);
	ck_assert_msg(doc != NULL, "not JSON: %.200s", resp);
	got = json_string_value(json_object_get(json_object_get(doc, "error"),
	    "code"));
	msg = json_string_value(json_object_get(json_object_get(doc, "error"),
	    "message"));
	ck_assert_msg(got && strcmp(got, code) == 0, "%s %s: code %s, not "
	    "%s", method, path, got ? got : "(none)", code);
	if (flag != NULL)
		ck_assert_msg(msg && strstr(msg, flag), "message '%s' does not "
		    "name %s", msg ? msg : "", flag);
	after = state();
	ck_assert_msg(strcmp(before, after) == 0, "%s %s changed the state:\n"
	    "%.600s\n%.600s", method, path, before, after);
	json_decref(doc);
	free(resp);
	free(before);
	free(after);
}

/* n rows of width w for a batch: "[[0.5,...],...]" (malloc'd). */
static char *
rows(size_t n, size_t w)
{
	size_t cap = n * (w * 4 + 3) + 8, o = 0;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	s[o++] = '[';
	for (size_t i = 0; i < n; i++) {
		s[o++] = '[';
		for (size_t j = 0; j < w; j++)
			o += (size_t)snprintf(s + o, cap - o, "%s0.5", j ?
			    "," : "");
		s[o++] = ']';
		if (i + 1 < n)
			s[o++] = ',';
	}
	s[o++] = ']';
	s[o] = '\0';
	return s;
}

/* {"inputs": n x nin, "targets": n x nout}, plus extra (a JSON member
 * list with a leading comma, or "") (malloc'd). */
static char *
batch(size_t n, size_t nin, size_t nout, const char *extra)
{
	char *x = rows(n, nin), *y = rows(n, nout);
	size_t len = strlen(x) + strlen(y) + strlen(extra) + 64;
	char *s = malloc(len);

	ck_assert_ptr_nonnull(s);
	snprintf(s, len, "{\"inputs\":%s,\"targets\":%s%s}", x, y, extra);
	free(x);
	free(y);
	return s;
}

/* n CSV rows of w values (malloc'd). */
static char *
csv_rows(size_t n, size_t w)
{
	char *s = malloc(n * w * 4 + 1);
	size_t o = 0;

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < w; j++)
			o += (size_t)sprintf(s + o, "%s1%s", j ? "," : "",
			    j + 1 == w ? "\n" : "");
	s[o] = '\0';
	return s;
}

/* ---------------------------------------------------------------------
 * Raw sockets
 * ------------------------------------------------------------------ */

/* Sends all of s; 0, or -1 when the connection is gone. */
static int
send_str(int fd, const char *s)
{
	return tl_send_all(fd, s, strlen(s));
}

/* The status of a whole response that fd receives within ms, 0 when the
 * connection closes with none, -1 when nothing came. */
static int
read_status(int fd, int ms)
{
	char b[4096];
	ssize_t k = tl_read_some(fd, b, sizeof b, ms);

	if (k <= 0)
		return (int)k;
	ck_assert_msg(strncmp(b, "HTTP/1.1 ", 9) == 0, "not a response: %.80s",
	    b);
	return atoi(b + 9);
}

/* True when fd is closed by the server within ms (EOF or reset, with no
 * response first). */
static int
closed_within(int fd, int ms)
{
	char b[256];

	return tl_read_some(fd, b, sizeof b, ms) == 0;
}

/* ---------------------------------------------------------------------
 * Model shape and count
 * ------------------------------------------------------------------ */

START_TEST(test_layer_width)
{
	char id[64];

	base_config();
	tl_cfg()->lim.max_layer_width = 100;
	tl_start();
	tl_new_model("{\"layers\":[2,100,1]}", id);
	refused("POST", "/v1/models", NULL, "{\"layers\":[2,101,1]}", 422,
	    "limit_exceeded", "--max-layer-width");
	refused("POST", "/v1/models", NULL, "{\"layers\":[101,2]}", 422,
	    "limit_exceeded", "--max-layer-width");
	/* past the core's own maximum it is a plain bad value */
	refused("POST", "/v1/models", NULL, "{\"layers\":[2,65537,1]}", 422,
	    "invalid_value", NULL);
}
END_TEST

START_TEST(test_params_total)
{
	char a[64], b[64];

	base_config();
	tl_cfg()->lim.max_params = 1000;
	tl_start();
	/* [10, 50, 1]: 10*50 + 50 + 50*1 + 1 = 601 weights and biases */
	refused("POST", "/v1/models", NULL, "{\"layers\":[10,100,1]}", 422,
	    "limit_exceeded", "--max-params");
	tl_new_model("{\"layers\":[10,50,1]}", a);
	refused("POST", "/v1/models", NULL, "{\"layers\":[10,50,1]}", 422,
	    "limit_exceeded", "--max-params");
	tl_new_model("{\"layers\":[10,30,1]}", b); /* 361: 962 in all */
	refused("POST", "/v1/models", NULL, "{\"layers\":[2,10,1]}", 422,
	    "limit_exceeded", "--max-params"); /* 41 more: 1003 */
	/* deleting gives the room back */
	json_decref(tl_jexpect("DELETE", tl_mpath(a, ""), NULL, 204));
	tl_new_model("{\"layers\":[10,50,1]}", a);
}
END_TEST

START_TEST(test_models_count)
{
	char a[64], b[64];

	base_config();
	tl_cfg()->lim.max_models = 2;
	tl_start();
	tl_new_model("{\"layers\":[2,2,1]}", a);
	tl_new_model("{\"layers\":[2,2,1]}", b);
	refused("POST", "/v1/models", NULL, "{\"layers\":[2,2,1]}", 422,
	    "limit_exceeded", "--max-models");
	json_decref(tl_jexpect("DELETE", tl_mpath(b, ""), NULL, 204));
	tl_new_model("{\"layers\":[2,2,1]}", b);
}
END_TEST

/* ---------------------------------------------------------------------
 * Rows per request, values per request, samples per model
 * ------------------------------------------------------------------ */

START_TEST(test_batch_rows)
{
	char id[64], *ok, *big, *csv, *val, *pred;

	base_config();
	tl_cfg()->lim.max_batch_rows = 10;
	tl_start();
	tl_new_model("{\"layers\":[2,3,1]}", id);
	ok = batch(10, 2, 1, "");
	big = batch(11, 2, 1, "");
	json_decref(tl_jexpect("POST", tl_mpath(id, "/batches"), ok, 201));
	refused("POST", tl_mpath(id, "/batches"), NULL, big, 422,
	    "limit_exceeded", "--max-batch-rows");
	csv = csv_rows(11, 3);
	refused("POST", tl_mpath(id, "/batches"), "text/csv", csv, 422,
	    "limit_exceeded", "--max-batch-rows");
	refused("POST", tl_mpath(id, "/step"), NULL, big, 422, "limit_exceeded",
	    "--max-batch-rows");
	free(big);
	big = rows(11, 2);
	pred = malloc(strlen(big) + 16);
	sprintf(pred, "{\"inputs\":%s}", big);
	refused("POST", tl_mpath(id, "/predict"), NULL, pred, 422,
	    "limit_exceeded", "--max-batch-rows");
	free(csv);
	csv = csv_rows(11, 2);
	refused("POST", tl_mpath(id, "/predict"), "text/csv", csv, 422,
	    "limit_exceeded", "--max-batch-rows");
	/* a validation set is one more matrix of the request */
	free(big);
	big = batch(11, 2, 1, "");
	val = malloc(strlen(big) + 64);
	sprintf(val, "{\"steps\":1,\"validation\":%s}", big);
	refused("POST", tl_mpath(id, "/train"), NULL, val, 422,
	    "limit_exceeded", "--max-batch-rows");
	free(ok);
	free(big);
	free(csv);
	free(val);
	free(pred);
}
END_TEST

START_TEST(test_batch_values)
{
	char id[64], *ok, *big;

	base_config();
	/* [2, 4, 1]: 7 values a row; 14 rows are 98 */
	tl_cfg()->lim.max_batch_values = 100;
	tl_start();
	tl_new_model("{\"layers\":[2,4,1]}", id);
	ok = batch(14, 2, 1, "");
	big = batch(15, 2, 1, "");
	json_decref(tl_jexpect("POST", tl_mpath(id, "/batches"), ok, 201));
	json_decref(tl_jexpect("POST", tl_mpath(id, "/step"), ok, 200));
	refused("POST", tl_mpath(id, "/batches"), NULL, big, 422,
	    "limit_exceeded", "--max-batch-values");
	refused("POST", tl_mpath(id, "/step"), NULL, big, 422, "limit_exceeded",
	    "--max-batch-values");
	/* a train job's step works on batch_size rows */
	refused("POST", tl_mpath(id, "/train"), NULL, "{\"batch_size\":15}",
	    422, "limit_exceeded", "--max-batch-values");
	/* a model one row of which is past it cannot be used at all */
	refused("POST", "/v1/models", NULL, "{\"layers\":[50,60]}", 422,
	    "limit_exceeded", "--max-batch-values");
	json_decref(tl_jexpect("POST", tl_mpath(id, "/train"),
	    "{\"batch_size\":14,\"steps\":1}", 202));
	free(ok);
	free(big);
}
END_TEST

START_TEST(test_samples)
{
	char id[64], *six, *five, *four;
	json_t *r;

	base_config();
	tl_cfg()->lim.max_samples = 10;
	tl_start();
	tl_new_model("{\"layers\":[2,3,1]}", id);
	six = batch(6, 2, 1, "");
	five = batch(5, 2, 1, "");
	four = batch(4, 2, 1, "");
	json_decref(tl_jexpect("POST", tl_mpath(id, "/batches"), six, 201));
	refused("POST", tl_mpath(id, "/batches"), NULL, five, 422,
	    "limit_exceeded", "--max-samples");
	r = tl_jexpect("POST", tl_mpath(id, "/batches"), four, 201);
	ck_assert_int_eq(json_integer_value(json_object_get(r,
	    "total_samples")), 10);
	json_decref(r);
	refused("POST", tl_mpath(id, "/batches"), "text/csv", "1,2,3\n", 422,
	    "limit_exceeded", "--max-samples");
	/* dropping the data makes room again */
	json_decref(tl_jexpect("DELETE", tl_mpath(id, "/batches"), NULL, 204));
	json_decref(tl_jexpect("POST", tl_mpath(id, "/batches"), six, 201));
	free(six);
	free(five);
	free(four);
}
END_TEST

/* ---------------------------------------------------------------------
 * Bodies in memory
 * ------------------------------------------------------------------ */

/* A JSON body whose tree would take more than 24 x --max-body while it is
 * decoded is refused, however small it is itself. */
START_TEST(test_json_memory)
{
	char id[64], *bomb, *ok;
	size_t n = 4000, o = 0;

	base_config();
	tl_cfg()->max_body = 8192; /* a JSON tree may take 192 KiB */
	tl_start();
	tl_new_model("{\"layers\":[20,3,1]}", id);
	/* [{},{},...]: some 230 bytes of tree for every 3 of text */
	bomb = malloc(n * 3 + 64);
	o = (size_t)sprintf(bomb, "{\"inputs\":[");
	for (size_t i = 0; i < 2000; i++)
		o += (size_t)sprintf(bomb + o, "%s{}", i ? "," : "");
	sprintf(bomb + o, "],\"targets\":[]}");
	ck_assert_uint_le(strlen(bomb), tl_cfg()->max_body);
	refused("POST", tl_mpath(id, "/batches"), NULL, bomb, 413,
	    "body_too_large", NULL);
	/* a body of numbers as big passes (some 90 KiB of tree) */
	ok = batch(80, 20, 1, "");
	ck_assert_uint_gt(strlen(ok), 6000);
	ck_assert_uint_le(strlen(ok), tl_cfg()->max_body);
	json_decref(tl_jexpect("POST", tl_mpath(id, "/batches"), ok, 201));
	free(bomb);
	free(ok);
}
END_TEST

/* The bodies being received share --max-body-memory: while one holds it,
 * another is answered 503 with Retry-After (from its Content-Length, or
 * as a chunked one grows), and is accepted once the first is done. */
START_TEST(test_body_memory)
{
	char id[64], hdr[256], *half, *body, buf_[512];
	int fd, fd2;
	size_t len;

	base_config();
	tl_cfg()->max_body = 65536;
	tl_cfg()->lim.max_body_memory = 65536;
	tl_start();
	tl_new_model("{\"layers\":[2,3,1]}", id);
	body = batch(2600, 2, 1, "");
	len = strlen(body);
	ck_assert_uint_gt(len, 40000);
	ck_assert_uint_lt(len, 65536);
	/* the first upload stops half way: its buffer holds the memory */
	fd = tl_dial(NULL);
	snprintf(hdr, sizeof hdr, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	    tl_mpath(id, "/batches"), len);
	ck_assert_int_eq(send_str(fd, hdr), 0);
	half = strndup(body, len - 5000);
	ck_assert_int_eq(send_str(fd, half), 0);
	usleep(300000);
	refused("POST", tl_mpath(id, "/batches"), NULL, body, 503,
	    "out_of_memory", "--max-body-memory");
	ck_assert_str_eq(g_refused_retry, "1");
	/* chunked: no length to judge by, so it is cut as it grows */
	fd2 = tl_dial(NULL);
	snprintf(hdr, sizeof hdr, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n%zx\r\n", tl_mpath(id, "/batches"), len);
	ck_assert_int_eq(send_str(fd2, hdr), 0);
	ck_assert_int_eq(send_str(fd2, body), 0);
	ck_assert_int_eq(send_str(fd2, "\r\n0\r\n\r\n"), 0);
	ck_assert_int_eq(read_status(fd2, 5000), 503);
	close(fd2);
	/* the first one finishes and is stored; then there is room again */
	ck_assert_int_eq(send_str(fd, body + len - 5000), 0);
	ck_assert_int_eq(read_status(fd, 5000), 201);
	close(fd);
	json_decref(tl_jexpect("POST", tl_mpath(id, "/batches"), body, 201));
	(void)buf_;
	free(half);
	free(body);
}
END_TEST

/* A big answer waits for its reader counted against --max-body-memory:
 * while a client that does not read holds one, another as big gets 503
 * with Retry-After, small ones go on, and once it is read there is room. */
START_TEST(test_held_answer)
{
	char id[64], hdr[256], b[65536];
	int fd, rcv = 4096;
	size_t got = 0;
	ssize_t k;

	base_config();
	tl_cfg()->max_body = 1u << 20;
	tl_cfg()->lim.max_body_memory = 12u << 20;
	tl_start();
	/* half a million weights: some 7 MB of JSON, more than the socket
	 * buffers between the two ends hold (4 MiB for the sender) */
	tl_new_model("{\"layers\":[1000,500,1]}", id);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	{
		struct sockaddr_in a;

		memset(&a, 0, sizeof a);
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)tl_port());
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a),
		    0);
	}
	snprintf(hdr, sizeof hdr, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", tl_mpath(id, "/weights"));
	ck_assert_int_eq(send_str(fd, hdr), 0);
	/* it is encoded (slowly under a sanitizer: seconds) and waits,
	 * unread: /metrics counts it once it is queued, and from then on
	 * the next one is refused. (Not refused(): its snapshot reads the
	 * weights too.) */
	{
		static const char counted[] = "mlpd_http_requests_total{route="
		    "\"/v1/models/{id}/weights\",method=\"GET\",code=\"200\"} 1";
		char *resp = NULL;
		long st;
		int queued = 0;

		for (int i = 0; i < 1200 && !queued; i++) {
			char *m = tl_tget("/metrics");

			queued = strstr(m, counted) != NULL;
			free(m);
			if (!queued)
				usleep(100000);
		}
		ck_assert_msg(queued, "the first answer was never queued");
		st = tl_jreq("GET", tl_mpath(id, "/weights"), NULL, &resp);
		ck_assert_msg(st == 503 && strstr(resp, "\"out_of_memory\"") &&
		    strstr(resp, "--max-body-memory"), "%ld %.200s", st, resp);
		ck_assert_str_eq(tl_header("Retry-After"), "1");
		free(resp);
	}
	json_decref(tl_jexpect("GET", tl_mpath(id, ""), NULL, 200));
	/* read it all: then the next one fits */
	while ((k = tl_read_some(fd, b, sizeof b, 5000)) > 0)
		got += (size_t)k;
	close(fd);
	ck_assert_uint_gt(got, 6u << 20);
	usleep(100000);
	json_decref(tl_jexpect("GET", tl_mpath(id, "/weights"), NULL, 200));
}
END_TEST

/* ---------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------ */

/* At the limit libmicrohttpd stops accepting: a fifth connection waits
 * in the kernel's listen queue, unanswered, until one of the four ends. */
START_TEST(test_max_connections)
{
	const char *get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	int fd[5];

	base_config();
	tl_cfg()->lim.max_connections = 4;
	tl_start();
	for (int i = 0; i < 4; i++)
		fd[i] = tl_dial(NULL);
	usleep(200000);
	fd[4] = tl_dial(NULL);
	ck_assert_int_eq(send_str(fd[4], get), 0);
	ck_assert_msg(read_status(fd[4], 1500) == -1, "a fifth connection was "
	    "served");
	/* those within the limit are served */
	ck_assert_int_eq(send_str(fd[0], get), 0);
	ck_assert_int_eq(read_status(fd[0], 3000), 200);
	/* one gone, the waiting one gets in */
	close(fd[1]);
	ck_assert_int_eq(read_status(fd[4], 3000), 200);
	close(fd[0]);
	for (int i = 2; i < 5; i++)
		close(fd[i]);
}
END_TEST

START_TEST(test_per_ip)
{
	int fd[4], other;

	base_config();
	tl_cfg()->lim.max_per_ip = 3;
	tl_start();
	for (int i = 0; i < 3; i++)
		fd[i] = tl_dial("127.0.0.1");
	usleep(200000);
	fd[3] = tl_dial("127.0.0.1");
	send_str(fd[3], "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
	ck_assert_msg(closed_within(fd[3], 3000), "a fourth connection from "
	    "one address was served");
	close(fd[3]);
	/* another address is not held back by the first one's */
	other = tl_dial("127.0.0.2");
	ck_assert_int_eq(send_str(other, "GET /healthz HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\n\r\n"), 0);
	ck_assert_int_eq(read_status(other, 3000), 200);
	ck_assert_int_eq(send_str(fd[2], "GET /healthz HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\n\r\n"), 0);
	ck_assert_int_eq(read_status(fd[2], 3000), 200);
	close(other);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
}
END_TEST

/* A client that sends its headers one byte a second is closed after
 * --connection-timeout, while other clients are served all along. */
START_TEST(test_slowloris_headers)
{
	const char *req_ = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
	double t0, closed = 0, worst = 0;
	int fd, served = 0;

	base_config();
	tl_cfg()->lim.conn_timeout = 3;
	tl_start();
	fd = tl_dial(NULL);
	t0 = tl_now();
	for (size_t i = 0; req_[i] && tl_now() - t0 < 10; i++) {
		char b[64], one[2] = { req_[i], '\0' };
		double t1;

		if (send_str(fd, one) < 0 || closed_within(fd, 1)) {
			closed = tl_now() - t0;
			break;
		}
		/* a normal client meanwhile */
		t1 = tl_now();
		ck_assert_int_eq(tl_jreq("GET", "/healthz", NULL, NULL),
		    200);
		served++;
		if (tl_now() - t1 > worst)
			worst = tl_now() - t1;
		/* the rest of the second, watching for the close */
		if (tl_read_some(fd, b, sizeof b, (int)(1000 * (1 - (tl_now() -
		    t1)))) == 0) {
			closed = tl_now() - t0;
			break;
		}
	}
	close(fd);
	ck_assert_msg(closed >= 2.9 && closed < 5.0, "the slow client was "
	    "closed after %.2f s (timeout 3 s)", closed);
	ck_assert_int_ge(served, 2);
	ck_assert_msg(worst < 1.0, "a normal request took %.2f s", worst);
}
END_TEST

/* The same for a body that trickles in after quick headers; and the
 * wait for a request on a kept-alive connection counts apart from the
 * time the request then takes. */
START_TEST(test_slowloris_body)
{
	char id[64], hdr[256];
	double t0, closed = 0;
	int fd;

	base_config();
	tl_cfg()->lim.conn_timeout = 2;
	tl_start();
	tl_new_model("{\"layers\":[2,3,1]}", id);
	fd = tl_dial(NULL);
	snprintf(hdr, sizeof hdr, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
	    tl_mpath(id, "/batches"));
	t0 = tl_now();
	ck_assert_int_eq(send_str(fd, hdr), 0);
	while (tl_now() - t0 < 8) {
		if (send_str(fd, " ") < 0 || closed_within(fd, 500)) {
			closed = tl_now() - t0;
			break;
		}
	}
	close(fd);
	ck_assert_msg(closed >= 1.9 && closed < 4.0, "the slow body was "
	    "closed after %.2f s (timeout 2 s)", closed);

	/* idle 1.3 s, then a request that takes 1.3 s: 2.6 s in all, but
	 * neither wait alone passes 2 s */
	fd = tl_dial(NULL);
	ck_assert_int_eq(send_str(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "\r\n"), 0);
	ck_assert_int_eq(read_status(fd, 3000), 200);
	usleep(1300000);
	ck_assert_int_eq(send_str(fd, "GET /healthz HTTP/1.1\r\n"), 0);
	usleep(650000);
	ck_assert_int_eq(send_str(fd, "Host: 127.0.0.1\r\n"), 0);
	usleep(650000);
	ck_assert_int_eq(send_str(fd, "\r\n"), 0);
	ck_assert_int_eq(read_status(fd, 3000), 200);
	close(fd);
}
END_TEST

/* ---------------------------------------------------------------------
 * Flags
 * ------------------------------------------------------------------ */

START_TEST(test_flags)
{
	config c;
	fault f;
	char *ok[] = { "mlpd", "--max-connections", "9",
		"--max-connections-per-ip=0", "--connection-timeout", "5",
		"--max-body-memory", "2048", "--max-layer-width", "7",
		"--max-params", "11", "--max-models", "3", "--max-batch-rows",
		"13", "--max-batch-values", "17", "--max-samples", "19", NULL };
	const char *bad[][2] = {
		{ "--max-connections", "0" }, { "--max-connections", "65537" },
		{ "--max-connections-per-ip", "-1" },
		{ "--connection-timeout", "0" }, { "--max-body-memory", "10" },
		{ "--max-layer-width", "65537" }, { "--max-params", "0" },
		{ "--max-models", "x" }, { "--max-batch-rows", "1048577" },
		{ "--max-batch-values", "" }, { "--max-samples", "0" },
	};

	config_default(&c);
	ck_assert_uint_eq(c.lim.max_connections, 1024);
	ck_assert_uint_eq(c.lim.max_per_ip, 256);
	ck_assert_uint_eq(c.lim.conn_timeout, 60);
	ck_assert_uint_eq(c.lim.max_layer_width, 65536);
	ck_assert_uint_eq(c.lim.max_params, 16u << 20);
	ck_assert_uint_eq(c.lim.max_batch_rows, 100000);
	ck_assert_uint_eq(c.lim.max_samples, 1000000);
	ck_assert_msg(config_parse(&c, 20, ok, &f) == CONFIG_RUN, "%s", f.msg);
	ck_assert_uint_eq(c.lim.max_connections, 9);
	ck_assert_uint_eq(c.lim.max_per_ip, 0);
	ck_assert_uint_eq(c.lim.conn_timeout, 5);
	ck_assert_uint_eq(c.lim.max_body_memory, 2048);
	ck_assert_uint_eq(c.lim.max_layer_width, 7);
	ck_assert_uint_eq(c.lim.max_params, 11);
	ck_assert_uint_eq(c.lim.max_models, 3);
	ck_assert_uint_eq(c.lim.max_batch_rows, 13);
	ck_assert_uint_eq(c.lim.max_batch_values, 17);
	ck_assert_uint_eq(c.lim.max_samples, 19);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *argv[] = { "mlpd", (char *)bad[i][0], (char *)bad[i][1],
			NULL };

		config_default(&c);
		fault_clear(&f);
		ck_assert_msg(config_parse(&c, 3, argv, &f) == CONFIG_ERROR,
		    "%s %s accepted", bad[i][0], bad[i][1]);
		ck_assert_msg(strstr(f.msg, bad[i][0]) != NULL, "'%s' does not "
		    "name %s", f.msg, bad[i][0]);
	}
}
END_TEST

/* The default --node-id names the port --listen gave, and with port 0
 * (the kernel picks one) the process: two nodes started on port 0 on one
 * host must not share an id (they would share leases and jobs). */
START_TEST(test_node_id_default)
{
	config c;
	fault f;
	char want[64];
	char *fixed[] = { "mlpd", "--listen", "127.0.0.1:8123", NULL };
	char *any[] = { "mlpd", "--listen", "127.0.0.1:0", NULL };
	char *given[] = { "mlpd", "--listen", "127.0.0.1:0", "--node-id",
		"n1", NULL };
	size_t n;

	config_default(&c);
	ck_assert_msg(config_parse(&c, 3, fixed, &f) == CONFIG_RUN, "%s",
	    f.msg);
	n = strlen(c.node_id);
	ck_assert_msg(n > 5 && strcmp(c.node_id + n - 5, ":8123") == 0,
	    "node id '%s' for port 8123", c.node_id);
	config_default(&c);
	ck_assert_msg(config_parse(&c, 3, any, &f) == CONFIG_RUN, "%s", f.msg);
	snprintf(want, sizeof want, ":pid-%ld", (long)getpid());
	n = strlen(c.node_id);
	ck_assert_msg(n > strlen(want) &&
	    strcmp(c.node_id + n - strlen(want), want) == 0,
	    "node id '%s' for port 0, not ending in '%s'", c.node_id, want);
	config_default(&c);
	ck_assert_msg(config_parse(&c, 5, given, &f) == CONFIG_RUN, "%s",
	    f.msg);
	ck_assert_str_eq(c.node_id, "n1");
}
END_TEST

/* An idle model gives its batch scratch back (the trainer trims it after
 * each task), and training goes on exactly as without the trim. */
START_TEST(test_trim)
{
	mlp_spec s;
	mlp *a, *b;
	fault f;
	size_t n = 500, np, np2;
	float *x = malloc(n * 8 * sizeof(float));
	float *y = malloc(n * 2 * sizeof(float));
	float la, lb;
	const float *pa, *pb;

	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(y);
	for (size_t i = 0; i < n * 8; i++)
		x[i] = (float)((i * 7919) % 101) / 101.0f;
	for (size_t i = 0; i < n * 2; i++)
		y[i] = (float)(i % 2);
	mlp_spec_default(&s);
	s.n_layers = 2;
	s.sizes[0] = 8;
	s.sizes[1] = 32;
	s.sizes[2] = 2;
	s.seed = 7;
	a = mlp_create(&s, &f);
	b = mlp_create(&s, &f);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(mlp_train_step(a, x, y, n, 0.1f, &la, &f), 0);
		mlp_trim(a, 0);
		mlp_trim(a, 0); /* twice: a no-op */
		ck_assert_int_eq(mlp_train_step(b, x, y, n, 0.1f, &lb, &f), 0);
		mlp_trim(b, SIZE_MAX); /* never */
		ck_assert(la == lb);
	}
	pa = mlp_params_const(a, &np);
	pb = mlp_params_const(b, &np2);
	ck_assert_uint_eq(np, np2);
	ck_assert_int_eq(memcmp(pa, pb, np * sizeof(float)), 0);
	mlp_destroy(a);
	mlp_destroy(b);
	free(x);
	free(y);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_add_checked_fixture(tc, NULL, tl_stop);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_layer_width);
	tcase_add_test(tc, test_params_total);
	tcase_add_test(tc, test_models_count);
	tcase_add_test(tc, test_batch_rows);
	tcase_add_test(tc, test_batch_values);
	tcase_add_test(tc, test_samples);
	tcase_add_test(tc, test_json_memory);
	tcase_add_test(tc, test_body_memory);
	tcase_add_test(tc, test_held_answer);
	tcase_add_test(tc, test_max_connections);
	tcase_add_test(tc, test_per_ip);
	tcase_add_test(tc, test_slowloris_headers);
	tcase_add_test(tc, test_slowloris_body);
	suite_add_tcase(s, tc);
	tc = tcase_create("flags");
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_node_id_default);
	tcase_add_test(tc, test_trim);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	tl_set_timeout(60);
	return tl_main(limits_suite(), LOG_ERROR);
}
