/*
 * check_events: Check tests of the live event streams (server/engine/events.c,
 * server/api/api_events.c).
 *
 * The "hub" case drives the event hub alone, with fake park/wake hooks
 * that count calls: ring replay, resets, partial reads, filters, the
 * park/wake pairing and shutdown. The other cases start a daemon in
 * process (tests/testlib.h: a free port, a ":memory:" store, one daemon
 * per test in its own forked child) and read the streams with libcurl's
 * multi interface, which lets one thread hold hundreds of streams open:
 * events arrive for a training job, Last-Event-ID resumes without loss or
 * duplicates, a model filter sees only its model, 200 idle subscribers
 * cost no thread and no CPU and all get the next event, a subscriber
 * that goes away is freed, a heartbeat arrives, and daemon_stop with open
 * streams is quick.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"
#include "codec.h"
#include "events.h"

#define IDLE_SUBSCRIBERS 200
#define SMALL_MODEL "{\"layers\": [2, 4, 1]}"

static CURLM *g_multi;

/* ---------------------------------------------------------------------
 * Clocks and threads
 * ------------------------------------------------------------------ */

/* CPU seconds this process used (user + system, every thread). */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Threads of this process: the entries of /proc/self/task. */
static int
thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---------------------------------------------------------------------
 * Fixtures
 * ------------------------------------------------------------------ */

static void
start_daemon(double heartbeat)
{
	tl_config()->events_heartbeat = heartbeat;
	tl_start();
	g_multi = curl_multi_init();
	ck_assert_ptr_nonnull(g_multi);
}

/* The default 15 s heartbeat: none arrives during a test. */
static void
setup(void)
{
	start_daemon(15.0);
}

/* A 0.2 s heartbeat, for the heartbeat and disconnect tests. */
static void
setup_fast_heartbeat(void)
{
	start_daemon(0.2);
}

/* Starts a train job of steps steps on model id; its id goes to job.
 * (Streams still in g_multi at the end leak with the forked child.) */
static void
train(const char *id, long steps, char job[32])
{
	char body[96];

	snprintf(body, sizeof body, "{\"steps\": %ld}", steps);
	tl_start_job(id, body, job);
}

/* ---------------------------------------------------------------------
 * Streams: libcurl multi handles and an SSE parser
 * ------------------------------------------------------------------ */

typedef struct sse_event {
	uint64_t id;
	char type[16];
	char *data;
	json_t *doc;    /* data parsed (the hub only sends JSON) */
} sse_event;

typedef struct stream {
	CURL *h;
	struct curl_slist *hdrs;
	char *pend;     /* bytes not yet parsed */
	size_t npend;
	sse_event *ev;
	size_t nev, cap;
	int oks;        /* ": ok" comments */
	int heartbeats; /* ": heartbeat" comments */
	int done;       /* the transfer ended */
	CURLcode rc;
	char ctype[128];
} stream;

/* Parses one SSE block (the lines before a blank line). */
static void
parse_block(stream *s, char *block)
{
	sse_event e;
	char *line, *save = NULL;
	int any = 0;

	memset(&e, 0, sizeof e);
	for (line = strtok_r(block, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, ": ok") == 0) {
			s->oks++;
		} else if (strcmp(line, ": heartbeat") == 0) {
			s->heartbeats++;
		} else if (strncmp(line, "id: ", 4) == 0) {
			e.id = strtoull(line + 4, NULL, 10);
			any = 1;
		} else if (strncmp(line, "event: ", 7) == 0) {
			snprintf(e.type, sizeof e.type, "%s", line + 7);
			any = 1;
		} else if (strncmp(line, "data: ", 6) == 0) {
			ck_assert_msg(e.data == NULL, "two data lines");
			e.data = strdup(line + 6);
			any = 1;
		} else {
			ck_abort_msg("unexpected SSE line '%s'", line);
		}
	}
	if (!any)
		return;
	ck_assert_msg(e.id != 0 && e.type[0] && e.data, "incomplete event");
	e.doc = json_loads(e.data, 0, NULL);
	ck_assert_msg(e.doc != NULL, "event data is not JSON: %s", e.data);
	if (s->nev == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
		ck_assert_ptr_nonnull(s->ev);
	}
	s->ev[s->nev++] = e;
}

/* libcurl write callback: split the bytes into blocks and parse them. */
static size_t
on_stream(char *data, size_t size, size_t nmemb, void *arg)
{
	stream *s = arg;
	size_t n = size * nmemb;
	char *end;

	s->pend = realloc(s->pend, s->npend + n + 1);
	ck_assert_ptr_nonnull(s->pend);
	memcpy(s->pend + s->npend, data, n);
	s->npend += n;
	s->pend[s->npend] = '\0';
	while ((end = strstr(s->pend, "\n\n")) != NULL) {
		size_t used = (size_t)(end - s->pend) + 2;

		*end = '\0';
		parse_block(s, s->pend);
		memmove(s->pend, s->pend + used, s->npend - used + 1);
		s->npend -= used;
	}
	return n;
}

static size_t
on_stream_header(char *data, size_t size, size_t nmemb, void *arg)
{
	stream *s = arg;
	size_t n = size * nmemb;

	if (n > 13 && strncasecmp(data, "Content-Type:", 13) == 0) {
		size_t k = n - 13;
		const char *v = data + 13;

		while (k > 0 && *v == ' ') {
			v++;
			k--;
		}
		while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n'))
			k--;
		if (k >= sizeof s->ctype)
			k = sizeof s->ctype - 1;
		memcpy(s->ctype, v, k);
		s->ctype[k] = '\0';
	}
	return n;
}

/* Opens a stream on path (with a Last-Event-ID header when not NULL). */
static stream *
stream_open(const char *path, const char *last_event_id)
{
	stream *s = calloc(1, sizeof *s);
	char hdr[96];

	ck_assert_ptr_nonnull(s);
	s->h = curl_easy_init();
	ck_assert_ptr_nonnull(s->h);
	curl_easy_setopt(s->h, CURLOPT_URL, tl_url(path));
	curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->h, CURLOPT_HEADERFUNCTION, on_stream_header);
	curl_easy_setopt(s->h, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
	if (last_event_id != NULL) {
		snprintf(hdr, sizeof hdr, "Last-Event-ID: %s", last_event_id);
		s->hdrs = curl_slist_append(s->hdrs, hdr);
		curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdrs);
	}
	ck_assert_int_eq(curl_multi_add_handle(g_multi, s->h), CURLM_OK);
	return s;
}

/* Closes s (the connection goes down if the stream was open). */
static void
stream_close(stream *s)
{
	curl_multi_remove_handle(g_multi, s->h);
	curl_easy_cleanup(s->h);
	curl_slist_free_all(s->hdrs);
	for (size_t i = 0; i < s->nev; i++) {
		free(s->ev[i].data);
		json_decref(s->ev[i].doc);
	}
	free(s->ev);
	free(s->pend);
	free(s);
}

/* Runs the transfers for up to ms milliseconds. */
static void
pump(int ms)
{
	double until = tl_now() + ms / 1000.0;
	int running, left;
	CURLMsg *msg;

	do {
		curl_multi_perform(g_multi, &running);
		while ((msg = curl_multi_info_read(g_multi, &left)) != NULL) {
			stream *s = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&s);
			s->done = 1;
			s->rc = msg->data.result;
		}
		curl_multi_poll(g_multi, NULL, 0, 10, NULL);
	} while (tl_now() < until);
}

/* Pumps until pred(arg) holds or seconds pass; returns pred's value. */
static int
pump_until(int (*pred)(void *), void *arg, double seconds)
{
	double until = tl_now() + seconds;

	while (!pred(arg)) {
		if (tl_now() > until)
			return 0;
		pump(20);
	}
	return 1;
}

static int
is_open(void *arg)
{
	stream *s = arg;

	return s->oks > 0 || s->nev > 0 || s->done;
}

/* Pumps until s shows it is subscribed (": ok" or an event). */
static void
wait_open(stream *s)
{
	ck_assert_msg(pump_until(is_open, s, 10), "the stream did not open");
	ck_assert_msg(!s->done, "the stream ended at once");
	ck_assert_str_eq(s->ctype, "text/event-stream");
}

/* The last event of s of type whose data has key == value, or NULL. */
static sse_event *
find_event(stream *s, const char *type, const char *key, const char *value)
{
	for (size_t i = s->nev; i-- > 0;) {
		sse_event *e = &s->ev[i];
		const char *v = json_string_value(json_object_get(e->doc, key));

		if (strcmp(e->type, type) == 0 && v && strcmp(v, value) == 0)
			return e;
	}
	return NULL;
}

/* What has_job_status waits for. */
typedef struct job_wait {
	stream *s;
	const char *job;
	const char *status;
} job_wait;

static int
has_job_status(void *arg)
{
	job_wait *w = arg;

	for (size_t i = 0; i < w->s->nev; i++) {
		sse_event *e = &w->s->ev[i];
		const char *id = json_string_value(json_object_get(e->doc,
		    "id"));
		const char *st = json_string_value(json_object_get(e->doc,
		    "status"));

		if (strcmp(e->type, "job") == 0 && id && st &&
		    strcmp(id, w->job) == 0 && strcmp(st, w->status) == 0)
			return 1;
	}
	return 0;
}

/* Pumps until s got the job event of job with status. */
static void
wait_job(stream *s, const char *job, const char *status, double seconds)
{
	job_wait w = { s, job, status };

	ck_assert_msg(pump_until(has_job_status, &w, seconds), "no job event "
	    "%s %s after %.0f s", job, status, seconds);
}

typedef struct id_wait {
	stream *s;
	uint64_t id;
} id_wait;

static int
has_id(void *arg)
{
	id_wait *w = arg;

	return w->s->nev > 0 && w->s->ev[w->s->nev - 1].id >= w->id;
}

/* Ids strictly increase along s. */
static void
check_increasing(const stream *s)
{
	for (size_t i = 1; i < s->nev; i++)
		ck_assert_msg(s->ev[i].id > s->ev[i - 1].id, "event %zu: id "
		    "%llu after %llu", i, (unsigned long long)s->ev[i].id,
		    (unsigned long long)s->ev[i - 1].id);
}

/* ---------------------------------------------------------------------
 * The hub alone
 * ------------------------------------------------------------------ */

/* Fake hooks: count parks and wakes, and check they alternate. */
typedef struct hooks {
	int parks, wakes;
	int parked;
} hooks;

static void
fake_park(void *arg)
{
	hooks *h = arg;

	ck_assert_int_eq(h->parked, 0);
	h->parked = 1;
	h->parks++;
}

static void
fake_wake(void *arg)
{
	hooks *h = arg;

	ck_assert_int_eq(h->parked, 1);
	h->parked = 0;
	h->wakes++;
}

/* Reads everything due for s, max bytes per call, into out. */
static ssize_t
drain(events_sub *s, size_t max, char *out, size_t cap)
{
	char tmp[4096];
	size_t n = 0;
	ssize_t k;

	ck_assert_uint_le(max, sizeof tmp);
	while ((k = events_read(s, tmp, max)) > 0) {
		ck_assert_uint_lt(n + (size_t)k, cap);
		memcpy(out + n, tmp, (size_t)k);
		n += (size_t)k;
	}
	out[n] = '\0';
	return k < 0 ? -1 : (ssize_t)n;
}

/* Publishes "x" events with data {"n":i} for model, returning the id. */
static uint64_t
pub(events *ev, const char *model, int i)
{
	char data[32];
	uint64_t id;

	snprintf(data, sizeof data, "{\"n\":%d}", i);
	id = events_publish(ev, "x", model, data, strlen(data));
	ck_assert_uint_ne(id, 0);
	return id;
}

START_TEST(test_hub_replay_and_reset)
{
	fault f;
	events *ev = events_create(4, 60, codec_event, &f);
	hooks h = { 0, 0, 0 };
	events_sub *s;
	uint64_t first, id[6];
	char out[8192], want[512];

	ck_assert_ptr_nonnull(ev);
	first = events_last_id(ev) + 1;
	for (int i = 0; i < 6; i++)
		id[i] = pub(ev, "m1", i);
	ck_assert_uint_eq(id[0], first);
	ck_assert_uint_eq(id[5], first + 5);
	/* the ring holds the last 4: resuming after id[1] loses nothing */
	s = events_subscribe(ev, NULL, 1, id[1], fake_park, fake_wake, &h, &f);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(drain(s, 7, out, sizeof out), (ssize_t)strlen(out));
	snprintf(want, sizeof want,
	    "id: %llu\nevent: x\ndata: {\"n\":2}\n\n"
	    "id: %llu\nevent: x\ndata: {\"n\":3}\n\n"
	    "id: %llu\nevent: x\ndata: {\"n\":4}\n\n"
	    "id: %llu\nevent: x\ndata: {\"n\":5}\n\n",
	    (unsigned long long)id[2], (unsigned long long)id[3],
	    (unsigned long long)id[4], (unsigned long long)id[5]);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(h.parks, 1);
	events_unsubscribe(s);
	/* (a parked connection goes away without a wake) */
	memset(&h, 0, sizeof h);
	/* after id[0], id[1] is gone: reset, then only new events */
	s = events_subscribe(ev, NULL, 1, id[0], fake_park, fake_wake, &h, &f);
	drain(s, 4096, out, sizeof out);
	snprintf(want, sizeof want, "id: %llu\nevent: reset\ndata: "
	    "{\"last_event_id\":%llu,\"oldest_id\":%llu}\n\n",
	    (unsigned long long)id[5], (unsigned long long)id[0],
	    (unsigned long long)id[2]);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(h.parks, 1);
	pub(ev, "m1", 6);
	ck_assert_int_eq(h.wakes, 1);
	drain(s, 4096, out, sizeof out);
	ck_assert_ptr_nonnull(strstr(out, "data: {\"n\":6}"));
	ck_assert_ptr_null(strstr(out, "data: {\"n\":5}"));
	events_unsubscribe(s);
	memset(&h, 0, sizeof h);
	/* an id from the future (another run) is a reset too */
	s = events_subscribe(ev, NULL, 1, id[5] + 100, fake_park, fake_wake,
	    &h, &f);
	drain(s, 4096, out, sizeof out);
	ck_assert_ptr_nonnull(strstr(out, "event: reset\n"));
	events_unsubscribe(s);
	memset(&h, 0, sizeof h);
	/* caught up: nothing but the opening comment */
	s = events_subscribe(ev, NULL, 1, events_last_id(ev), fake_park,
	    fake_wake, &h, &f);
	drain(s, 4096, out, sizeof out);
	ck_assert_str_eq(out, ": ok\n\n");
	events_unsubscribe(s);
	ck_assert_uint_eq(events_subscribers(ev), 0);
	events_destroy(ev);
}
END_TEST

START_TEST(test_hub_filter_overflow_shutdown)
{
	fault f;
	events *ev = events_create(8, 60, codec_event, &f);
	hooks h1 = { 0, 0, 0 }, h2 = { 0, 0, 0 };
	events_sub *s1, *s2;
	char out[65536];

	ck_assert_ptr_nonnull(ev);
	s1 = events_subscribe(ev, "m1", 0, 0, fake_park, fake_wake, &h1, &f);
	s2 = events_subscribe(ev, NULL, 0, 0, fake_park, fake_wake, &h2, &f);
	ck_assert_uint_eq(events_subscribers(ev), 2);
	ck_assert_str_eq((drain(s1, 3, out, sizeof out), out), ": ok\n\n");
	drain(s2, 3, out, sizeof out);
	ck_assert_int_eq(h1.parks, 1);
	/* another model's event wakes only the unfiltered one */
	pub(ev, "m2", 1);
	ck_assert_int_eq(h1.wakes, 0);
	ck_assert_int_eq(h2.wakes, 1);
	pub(ev, "m1", 2);
	ck_assert_int_eq(h1.wakes, 1);
	drain(s1, 5, out, sizeof out);
	ck_assert_ptr_null(strstr(out, "{\"n\":1}"));
	ck_assert_ptr_nonnull(strstr(out, "{\"n\":2}"));
	/* s2 reads nothing while 20 events pass through an 8-slot ring:
	 * it gets a reset, then goes on with new events */
	for (int i = 0; i < 20; i++)
		pub(ev, "m2", 100 + i);
	drain(s2, 4096, out, sizeof out);
	ck_assert_ptr_nonnull(strstr(out, "event: reset\n"));
	ck_assert_ptr_null(strstr(out, "{\"n\":119}"));
	pub(ev, "m2", 200);
	drain(s2, 4096, out, sizeof out);
	ck_assert_ptr_nonnull(strstr(out, "{\"n\":200}"));
	/* a deleted model's event ends the streams filtered on it (and
	 * the m2 events that went by did not reset s1) */
	events_model_deleted(ev, "m1");
	ck_assert_int_eq(drain(s1, 4096, out, sizeof out), -1);
	ck_assert_ptr_nonnull(strstr(out, "\"deleted\":true"));
	ck_assert_ptr_null(strstr(out, "reset"));
	/* shutdown wakes the parked and ends every stream */
	ck_assert_int_gt(drain(s2, 4096, out, sizeof out), 0);
	ck_assert_int_eq(h2.parked, 1);
	events_shutdown(ev, 0.05);
	ck_assert_int_eq(h2.parked, 0);
	ck_assert_int_eq(drain(s2, 4096, out, sizeof out), -1);
	ck_assert_ptr_null(events_subscribe(ev, NULL, 0, 0, fake_park,
	    fake_wake, &h1, &f));
	events_unsubscribe(s1);
	events_unsubscribe(s2);
	ck_assert_uint_eq(events_subscribers(ev), 0);
	events_destroy(ev);
}
END_TEST

/* Newlines in data become several data lines. */
START_TEST(test_hub_multiline)
{
	fault f;
	events *ev = events_create(4, 60, codec_event, &f);
	hooks h = { 0, 0, 0 };
	events_sub *s = events_subscribe(ev, NULL, 0, 0, fake_park, fake_wake,
	    &h, &f);
	char out[1024];
	uint64_t id;

	drain(s, 64, out, sizeof out);
	id = events_publish(ev, "x", NULL, "a\nb", 3);
	drain(s, 64, out, sizeof out);
	ck_assert_ptr_nonnull(strstr(out, "event: x\ndata: a\ndata: b\n\n"));
	ck_assert_uint_eq(id, events_last_id(ev));
	events_unsubscribe(s);
	events_destroy(ev);
}
END_TEST

/* A heartbeat that comes due before a new stream's first read does not
 * take the place of its ": ok" (the documented first line): a stream on
 * a slow server used to open with ": heartbeat" and never say ": ok". */
START_TEST(test_hub_ok_before_heartbeat)
{
	fault f;
	events *ev = events_create(4, 0.005, codec_event, &f);
	hooks h = { 0, 0, 0 };
	events_sub *s;
	char out[1024];

	ck_assert_ptr_nonnull(ev);
	s = events_subscribe(ev, NULL, 0, 0, fake_park, fake_wake, &h, &f);
	ck_assert_ptr_nonnull(s);
	usleep(100 * 1000); /* about 20 heartbeat periods */
	drain(s, 64, out, sizeof out);
	ck_assert_msg(strncmp(out, ": ok\n\n", 6) == 0, "the stream opened "
	    "with '%s'", out);
	events_unsubscribe(s);
	events_destroy(ev);
}
END_TEST

/* ---------------------------------------------------------------------
 * Streams from a daemon
 * ------------------------------------------------------------------ */

/* Milliseconds since the epoch of an RFC 3339 time of the API. */
static double
time_ms(json_t *v)
{
	struct tm tm;
	int ms = 0;
	const char *s = json_string_value(v);

	ck_assert_ptr_nonnull(s);
	memset(&tm, 0, sizeof tm);
	ck_assert_int_eq(sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	    &ms), 7);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) * 1000.0 + ms;
}

/* How long a finished job ran, from its JSON. */
static double
job_seconds(json_t *job)
{
	return (time_ms(json_object_get(job, "finished_at")) -
	    time_ms(json_object_get(job, "started_at"))) / 1000.0;
}

/* Steps of the short training job: a second or so on a shared core. */
#define JOB_STEPS 150000

START_TEST(test_training_events)
{
	stream *s = stream_open("/v1/events", NULL);
	char model[32], job[32];
	const char *want[] = { "queued", "running", "succeeded" };
	size_t nj = 0, nsteps = 0, job_at = 0, ok_at = 0;
	json_int_t last_step = 0;
	sse_event *e;
	double secs;

	wait_open(s);
	tl_new_model(SMALL_MODEL, model);
	tl_push(model, XOR_BATCH);
	train(model, JOB_STEPS, job);
	wait_job(s, job, "succeeded", 60);
	check_increasing(s);
	/* the model's creation came first */
	e = find_event(s, "model", "id", model);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->id, s->ev[0].id);
	ck_assert_int_eq(json_integer_value(json_object_get(e->doc, "step")),
	    0);
	for (size_t i = 0; i < s->nev; i++) {
		json_t *d = s->ev[i].doc;

		if (strcmp(s->ev[i].type, "job") == 0) {
			ck_assert_str_eq(json_string_value(json_object_get(d,
			    "id")), job);
			ck_assert_uint_lt(nj, 3);
			ck_assert_str_eq(json_string_value(json_object_get(d,
			    "status")), want[nj]);
			ck_assert_str_eq(json_string_value(json_object_get(d,
			    "model_id")), model);
			if (nj == 1)
				job_at = i;
			if (nj == 2)
				ok_at = i;
			nj++;
		} else if (strcmp(s->ev[i].type, "step") == 0) {
			json_int_t st = json_integer_value(json_object_get(d,
			    "step"));
			json_t *steps = json_object_get(d, "steps");

			ck_assert_str_eq(json_string_value(json_object_get(d,
			    "model_id")), model);
			ck_assert_msg(st > last_step, "step %lld after %lld",
			    (long long)st, (long long)last_step);
			ck_assert(json_is_number(json_object_get(d, "loss")));
			ck_assert(json_is_string(json_object_get(d, "time")));
			if (steps != NULL) {
				/* every step since the last event */
				json_t *lastp = json_array_get(steps,
				    json_array_size(steps) - 1);

				ck_assert_int_eq((json_int_t)json_array_size(
				    steps), st - last_step);
				ck_assert_int_eq(json_integer_value(
				    json_array_get(lastp, 0)), st);
			}
			ck_assert_uint_gt(i, job_at);
			last_step = st;
			nsteps++;
		}
	}
	ck_assert_uint_eq(nj, 3);
	/* the last batch is the job's end, before "succeeded" */
	ck_assert_int_eq(last_step, JOB_STEPS);
	/* one event per commit: every checkpoint (the checkpoint period,
	 * tl_cfg()'s 0.2 s, counted from each commit's start) and at the
	 * end, so never one per step, and two or more for a job that ran
	 * past its first checkpoint */
	secs = job_seconds(s->ev[ok_at].doc);
	ck_assert_msg((double)nsteps <= secs / tl_cfg()->checkpoint_every + 2,
	    "%zu step events in %.3f s", nsteps, secs);
	if (secs > 0.3)
		ck_assert_uint_ge(nsteps, 2);
	ck_assert_uint_ge(nsteps, 1);
	ck_assert_str_eq(s->ev[ok_at - 1].type, "step");
	stream_close(s);
}
END_TEST

/* Job events show the rate in force (issue 13): the first step's when the
 * job starts, the last step's when it ends, under a warm-up then a step
 * decay. */
START_TEST(test_job_events_show_rate)
{
	stream *s = stream_open("/v1/events", NULL);
	char model[32], job[32];
	sse_event *e;

	wait_open(s);
	tl_new_model(SMALL_MODEL, model);
	tl_push(model, XOR_BATCH);
	/* warm-up 0.2 0.4 0.6 0.8, then 0.8 for steps 5-7, 0.4 for 8-10 */
	tl_start_job(model, "{\"steps\": 10, \"batch_size\": 4, "
	    "\"learning_rate\": 0.8, \"schedule\": {\"type\": \"step\", "
	    "\"every\": 3, \"factor\": 0.5, \"warmup_steps\": 4}}", job);
	wait_job(s, job, "succeeded", 30);
	e = find_event(s, "job", "status", "running");
	ck_assert_ptr_nonnull(e);
	ck_assert(json_real_value(json_object_get(e->doc, "learning_rate")) ==
	    0.2);
	e = find_event(s, "job", "status", "succeeded");
	ck_assert_ptr_nonnull(e);
	ck_assert(json_real_value(json_object_get(e->doc, "learning_rate")) ==
	    0.4);
	ck_assert_int_eq(json_integer_value(json_object_get(e->doc,
	    "steps_done")), 10);
	stream_close(s);
}
END_TEST

START_TEST(test_step_event)
{
	stream *s;
	char model[32], path[96];
	json_t *r;
	sse_event *e;
	id_wait w;

	tl_new_model(SMALL_MODEL, model);
	s = stream_open("/v1/events", NULL);
	wait_open(s);
	snprintf(path, sizeof path, "/v1/models/%s/step", model);
	r = tl_jexpect("POST", path, XOR_BATCH, 200);
	w.s = s;
	w.id = events_last_id(daemon_events(tl_daemon()));
	ck_assert(pump_until(has_id, &w, 10));
	ck_assert_uint_eq(s->nev, 1);
	e = &s->ev[0];
	ck_assert_str_eq(e->type, "step");
	ck_assert_int_eq(json_integer_value(json_object_get(e->doc, "step")),
	    1);
	ck_assert_double_eq(json_number_value(json_object_get(e->doc,
	    "loss")), json_number_value(json_object_get(r, "loss")));
	ck_assert_uint_eq(json_array_size(json_object_get(e->doc, "steps")),
	    1);
	json_decref(r);
	stream_close(s);
}
END_TEST

/* The events of a after id k equal b's, in order, with nothing more. */
static void
check_same_after(const stream *a, uint64_t k, const stream *b)
{
	size_t i = 0, j = 0;

	while (i < a->nev && a->ev[i].id <= k)
		i++;
	ck_assert_uint_gt(a->nev - i, 0);
	ck_assert_msg(b->nev == a->nev - i, "resumed stream got %zu events, "
	    "%zu were missed", b->nev, a->nev - i);
	for (; i < a->nev; i++, j++) {
		ck_assert_uint_eq(b->ev[j].id, a->ev[i].id);
		ck_assert_str_eq(b->ev[j].type, a->ev[i].type);
		ck_assert_str_eq(b->ev[j].data, a->ev[i].data);
	}
}

START_TEST(test_resume)
{
	stream *a = stream_open("/v1/events", NULL), *b, *c, *d;
	char model[32], job[32], q[96], num[32];
	uint64_t k1, k2, last;
	id_wait w;

	wait_open(a);
	tl_new_model(SMALL_MODEL, model);
	tl_push(model, XOR_BATCH);
	train(model, JOB_STEPS, job);
	wait_job(a, job, "succeeded", 60);
	ck_assert_uint_ge(a->nev, 5);
	last = a->ev[a->nev - 1].id;
	ck_assert_uint_eq(last, events_last_id(daemon_events(tl_daemon())));
	/* as if the client had dropped after the "running" event */
	k1 = find_event(a, "job", "status", "running")->id;
	snprintf(num, sizeof num, "%llu", (unsigned long long)k1);
	b = stream_open("/v1/events", num);
	/* and after the model's creation, by the query parameter */
	k2 = a->ev[0].id;
	snprintf(q, sizeof q, "/v1/events?last_event_id=%llu",
	    (unsigned long long)k2);
	c = stream_open(q, NULL);
	/* caught up: nothing to replay */
	snprintf(num, sizeof num, "%llu", (unsigned long long)last);
	d = stream_open("/v1/events", num);
	w.id = last;
	w.s = b;
	ck_assert(pump_until(has_id, &w, 10));
	w.s = c;
	ck_assert(pump_until(has_id, &w, 10));
	wait_open(d);
	pump(200);
	check_same_after(a, k1, b);
	check_same_after(a, k2, c);
	ck_assert_uint_eq(d->nev, 0);
	ck_assert_int_eq(b->oks + c->oks, 0);
	/* then all go on with the same new events */
	snprintf(q, sizeof q, "/v1/models/%s", model);
	ck_assert_int_eq(tl_jreq("DELETE", q, NULL, NULL), 204);
	w.id = last + 1;
	w.s = a;
	ck_assert(pump_until(has_id, &w, 10));
	w.s = b;
	ck_assert(pump_until(has_id, &w, 10));
	w.s = d;
	ck_assert(pump_until(has_id, &w, 10));
	ck_assert_uint_eq(d->nev, 1);
	ck_assert_str_eq(d->ev[0].type, "model");
	ck_assert(json_is_true(json_object_get(d->ev[0].doc, "deleted")));
	check_same_after(a, k1, b);
	check_increasing(b);
	stream_close(a);
	stream_close(b);
	stream_close(c);
	stream_close(d);
}
END_TEST

START_TEST(test_reset_and_bad_id)
{
	stream *s = stream_open("/v1/events", "1");
	char model[32], *body;
	id_wait w;

	/* id 1 is long gone (ids start at the clock in ms) */
	ck_assert(pump_until(is_open, s, 10));
	ck_assert_uint_eq(s->nev, 1);
	ck_assert_str_eq(s->ev[0].type, "reset");
	ck_assert_uint_eq(s->ev[0].id,
	    events_last_id(daemon_events(tl_daemon())));
	ck_assert_int_eq(json_integer_value(json_object_get(s->ev[0].doc,
	    "last_event_id")), 1);
	tl_new_model(SMALL_MODEL, model);
	w.s = s;
	w.id = events_last_id(daemon_events(tl_daemon()));
	ck_assert(pump_until(has_id, &w, 10));
	ck_assert_uint_eq(s->nev, 2);
	ck_assert_str_eq(s->ev[1].type, "model");
	stream_close(s);
	/* a malformed id is refused */
	ck_assert_int_eq(tl_jreq("GET", "/v1/events?last_event_id=abc", NULL,
	    &body), 400);
	ck_assert_ptr_nonnull(strstr(body, "invalid_query"));
	free(body);
	ck_assert_int_eq(tl_jreq("GET", "/v1/events?last_event_id=-1", NULL,
	    &body), 400);
	free(body);
	/* an empty one is none: a plain new stream */
	s = stream_open("/v1/events?last_event_id=", NULL);
	wait_open(s);
	ck_assert_int_eq(s->oks, 1);
	ck_assert_uint_eq(s->nev, 0);
	stream_close(s);
}
END_TEST

START_TEST(test_model_filter)
{
	char m1[32], m2[32], path[96];
	stream *s1, *s2, *all;
	id_wait w;

	tl_new_model(SMALL_MODEL, m1);
	tl_new_model(SMALL_MODEL, m2);
	snprintf(path, sizeof path, "/v1/models/%s/events", m1);
	s1 = stream_open(path, NULL);
	snprintf(path, sizeof path, "/v1/models/%s/events", m2);
	s2 = stream_open(path, NULL);
	all = stream_open("/v1/events", NULL);
	wait_open(s1);
	wait_open(s2);
	wait_open(all);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "/v1/models/%s/step", m2);
		json_decref(tl_jexpect("POST", path, XOR_BATCH, 200));
		snprintf(path, sizeof path, "/v1/models/%s/step", m1);
		json_decref(tl_jexpect("POST", path, XOR_BATCH, 200));
	}
	snprintf(path, sizeof path, "/v1/models/%s", m2);
	ck_assert_int_eq(tl_jreq("DELETE", path, NULL, NULL), 204);
	w.id = events_last_id(daemon_events(tl_daemon()));
	w.s = all;
	ck_assert(pump_until(has_id, &w, 10));
	/* s2 ends after its model's deletion */
	ck_assert(pump_until(is_open, s2, 0));
	for (int i = 0; i < 100 && !s2->done; i++)
		pump(20);
	ck_assert_msg(s2->done, "the deleted model's stream did not end");
	ck_assert_uint_eq(all->nev, 7);
	ck_assert_uint_eq(s1->nev, 3);
	ck_assert_uint_eq(s2->nev, 4);
	for (size_t i = 0; i < s1->nev; i++) {
		ck_assert_str_eq(s1->ev[i].type, "step");
		ck_assert_str_eq(json_string_value(json_object_get(
		    s1->ev[i].doc, "model_id")), m1);
		ck_assert_int_eq(json_integer_value(json_object_get(
		    s1->ev[i].doc, "step")), (json_int_t)i + 1);
	}
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(json_string_value(json_object_get(
		    s2->ev[i].doc, "model_id")), m2);
	ck_assert_str_eq(s2->ev[3].type, "model");
	ck_assert_str_eq(json_string_value(json_object_get(s2->ev[3].doc,
	    "id")), m2);
	/* unknown or deleted models have no stream */
	ck_assert_int_eq(tl_jreq("GET", path, NULL, NULL), 404);
	snprintf(path, sizeof path, "/v1/models/%s/events", m2);
	ck_assert_int_eq(tl_jreq("GET", path, NULL, NULL), 404);
	stream_close(s1);
	stream_close(s2);
	stream_close(all);
}
END_TEST

typedef struct many {
	stream **s;
	size_t n;
	const char *model; /* the model event each must get, or NULL */
} many;

/* Every stream is open (and, with model, got that model's event). */
static int
all_ready(void *arg)
{
	many *m = arg;

	for (size_t i = 0; i < m->n; i++) {
		if (m->s[i]->done)
			return 0;
		if (m->model ? find_event(m->s[i], "model", "id", m->model) ==
		    NULL : !is_open(m->s[i]))
			return 0;
	}
	return 1;
}

START_TEST(test_many_idle_subscribers)
{
	stream *s[IDLE_SUBSCRIBERS];
	many m = { s, IDLE_SUBSCRIBERS, NULL };
	events *ev = daemon_events(tl_daemon());
	int before, after;
	double cpu0, cpu1;
	char model[32];

	/* one request first, so the pool has run once */
	ck_assert_int_eq(tl_jreq("GET", "/v1/models", NULL, NULL), 200);
	before = thread_count();
	for (size_t i = 0; i < IDLE_SUBSCRIBERS; i++)
		s[i] = stream_open("/v1/events", NULL);
	ck_assert_msg(pump_until(all_ready, &m, 30), "not every stream "
	    "opened");
	ck_assert_uint_eq(events_subscribers(ev), IDLE_SUBSCRIBERS);
	after = thread_count();
	ck_assert_msg(after <= before, "threads: %d before, %d with %d "
	    "streams", before, after, IDLE_SUBSCRIBERS);
	/* idle streams cost no CPU: nothing spins while they wait */
	cpu0 = cpu_s();
	usleep(1000000);
	cpu1 = cpu_s();
	ck_assert_msg(cpu1 - cpu0 < 0.2, "%.3f s of CPU in 1 s with %d idle "
	    "streams", cpu1 - cpu0, IDLE_SUBSCRIBERS);
	/* and every one of them gets the next event */
	tl_new_model(SMALL_MODEL, model);
	m.model = model;
	ck_assert_msg(pump_until(all_ready, &m, 30), "not every stream got "
	    "the event");
	ck_assert_int_le(thread_count(), before);
	for (size_t i = 0; i < IDLE_SUBSCRIBERS; i++)
		stream_close(s[i]);
}
END_TEST

START_TEST(test_heartbeat)
{
	stream *s = stream_open("/v1/events", NULL);
	double t0 = tl_now();

	wait_open(s);
	while (s->heartbeats < 2 && tl_now() - t0 < 5)
		pump(20);
	ck_assert_int_ge(s->heartbeats, 2);
	ck_assert_uint_eq(s->nev, 0);
	stream_close(s);
}
END_TEST

static int
no_subscribers(void *arg)
{
	(void)arg;
	return events_subscribers(daemon_events(tl_daemon())) == 0;
}

START_TEST(test_disconnect_frees)
{
	stream *s[3];
	events *ev = daemon_events(tl_daemon());
	char model[32], path[96];

	tl_new_model(SMALL_MODEL, model);
	snprintf(path, sizeof path, "/v1/models/%s/events", model);
	s[0] = stream_open("/v1/events", NULL);
	s[1] = stream_open(path, NULL);
	s[2] = stream_open("/v1/events", NULL);
	for (int i = 0; i < 3; i++)
		wait_open(s[i]);
	ck_assert_uint_eq(events_subscribers(ev), 3);
	for (int i = 0; i < 3; i++)
		stream_close(s[i]);
	/* a parked stream sees the close at its next heartbeat write */
	ck_assert_msg(pump_until(no_subscribers, NULL, 5), "%zu subscribers "
	    "left", events_subscribers(ev));
}
END_TEST

static int
all_done(void *arg)
{
	many *m = arg;

	for (size_t i = 0; i < m->n; i++)
		if (!m->s[i]->done)
			return 0;
	return 1;
}

START_TEST(test_stop_with_open_streams)
{
	stream *s[6];
	many m = { s, 6, NULL };
	char model[32], job[32], path[96];
	double t0, took;

	tl_new_model(SMALL_MODEL, model);
	tl_push(model, XOR_BATCH);
	snprintf(path, sizeof path, "/v1/models/%s/events", model);
	for (int i = 0; i < 6; i++)
		s[i] = stream_open(i % 2 ? path : "/v1/events", NULL);
	for (int i = 0; i < 6; i++)
		wait_open(s[i]);
	/* a job that would run for minutes: stop interrupts it */
	train(model, 100000000, job);
	wait_job(s[0], job, "running", 10);
	t0 = tl_now();
	tl_stop();
	took = tl_now() - t0;
	ck_assert_msg(took < 5.0, "daemon_stop took %.2f s", took);
	ck_assert_msg(pump_until(all_done, &m, 5), "streams still open after "
	    "daemon_stop");
	/* the streams got the job's last event before they ended */
	for (int i = 0; i < 6; i++)
		wait_job(s[i], job, "interrupted", 0);
	for (int i = 0; i < 6; i++)
		stream_close(s[i]);
}
END_TEST

/* Deleting a model ends its running job "cancelled" (a client asked for
 * it), not "interrupted" (which means shutdown or a crash), and the
 * streams see that before the model's "deleted" event. */
START_TEST(test_delete_cancels_job)
{
	stream *s;
	char model[32], job[32], path[96];
	const sse_event *j, *d;

	tl_new_model(SMALL_MODEL, model);
	tl_push(model, XOR_BATCH);
	s = stream_open("/v1/events", NULL);
	wait_open(s);
	train(model, 100000000, job);
	wait_job(s, job, "running", 10);
	snprintf(path, sizeof path, "/v1/models/%s", model);
	ck_assert_int_eq(tl_jreq("DELETE", path, NULL, NULL), 204);
	wait_job(s, job, "cancelled", 10);
	ck_assert_ptr_null(find_event(s, "job", "status", "interrupted"));
	j = find_event(s, "job", "status", "cancelled");
	for (int i = 0; i < 200; i++) {
		d = find_event(s, "model", "id", model);
		if (d != NULL && json_is_true(json_object_get(d->doc,
		    "deleted")))
			break;
		d = NULL;
		pump(50);
	}
	ck_assert_msg(d != NULL, "no deleted event for %s", model);
	ck_assert_uint_lt(j->id, d->id);
	stream_close(s);
}
END_TEST

static Suite *
events_suite(void)
{
	Suite *st = suite_create("events");
	TCase *tc;

	tc = tcase_create("hub");
	tcase_add_test(tc, test_hub_replay_and_reset);
	tcase_add_test(tc, test_hub_filter_overflow_shutdown);
	tcase_add_test(tc, test_hub_multiline);
	tcase_add_test(tc, test_hub_ok_before_heartbeat);
	suite_add_tcase(st, tc);

	tc = tcase_create("streams");
	tcase_add_checked_fixture(tc, setup, tl_stop);
	tcase_add_test(tc, test_training_events);
	tcase_add_test(tc, test_job_events_show_rate);
	tcase_add_test(tc, test_step_event);
	tcase_add_test(tc, test_resume);
	tcase_add_test(tc, test_reset_and_bad_id);
	tcase_add_test(tc, test_model_filter);
	tcase_add_test(tc, test_many_idle_subscribers);
	tcase_add_test(tc, test_stop_with_open_streams);
	tcase_add_test(tc, test_delete_cancels_job);
	tcase_set_timeout(tc, 90);
	suite_add_tcase(st, tc);

	tc = tcase_create("heartbeat");
	tcase_add_checked_fixture(tc, setup_fast_heartbeat, tl_stop);
	tcase_add_test(tc, test_heartbeat);
	tcase_add_test(tc, test_disconnect_frees);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(st, tc);
	return st;
}

int
main(void)
{
	return tl_main(events_suite(), LOG_ERROR);
}
