/*
 * http: libmicrohttpd glue (see http.h for the DESIGN): the daemon, the
 * replies, and a request's life from its last header to its answer,
 * inline or on a request worker. What the headers alone decide is in
 * http_admit.c.
 */
#include "http.h"

#include <microhttpd.h>

#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_int.h"
#include "http_pool.h"
#include "origin.h"
#include "http_watch.h"
#include "hugemem.h"
#include "log.h"
#include "wallclock.h"


void
http_reply(http_response *rs, int status, char *body, size_t len)
{
	free(rs->body);
	rs->status = status;
	rs->body = body;
	rs->len = len;
}

void
http_reply_error(http_response *rs, const apierr *e)
{
	json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", e->code,
	    "message", e->msg);
	char *text;

	if (doc == NULL) {
		/* the message quotes invalid UTF-8 (e.g. an id of %ff):
		 * keep status and code, and '?' for each non-ASCII byte */
		char msg[sizeof e->msg];
		size_t i;

		for (i = 0; i + 1 < sizeof msg && e->msg[i]; i++)
			msg[i] = (unsigned char)e->msg[i] >= 0x80 ? '?' :
			    e->msg[i];
		msg[i] = '\0';
		doc = json_pack("{s:{s:s,s:s}}", "error", "code", e->code,
		    "message", msg);
	}
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (text == NULL) {
		/* a message that jansson cannot encode: fall back to plain */
		text = strdup("{\"error\":{\"code\":\"internal_error\","
		    "\"message\":\"error message could not be encoded\"}}");
	}
	http_reply(rs, e->status, text, text ? strlen(text) : 0);
	rs->retry_after = e->retry_after;
	rs->content_type = "application/json";
	rs->etag[0] = '\0';
}

/* True when the If-None-Match value inm lists tag (weak comparison). */
static int
etag_listed(const char *inm, const char *tag)
{
	size_t tl = strlen(tag);

	for (const char *p = inm; *p;) {
		const char *q;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p != '"')
			return 0; /* malformed: nothing matches */
		q = strchr(p + 1, '"');
		if (q == NULL)
			return 0;
		if ((size_t)(q + 1 - p) == tl && memcmp(p, tag, tl) == 0)
			return 1;
		p = q + 1;
	}
	return 0;
}

int
http_etag_check(const http_request *rq, http_response *rs, const char *tag)
{
	const char *inm = http_header(rq, "If-None-Match");

	snprintf(rs->etag, sizeof rs->etag, "%s", tag);
	if (inm == NULL || !etag_listed(inm, rs->etag))
		return 0;
	http_reply(rs, 304, NULL, 0);
	return 1;
}

/* Answers of at least this many bytes wait for their reader counted
 * against max_body_memory; smaller ones are bounded by the connections. */
#define HELD_ANSWER_MIN (64u * 1024)

/* A counted answer, until libmicrohttpd is done with it. */
typedef struct held_answer {
	http_server *hs;
	char *body;
	size_t len;
} held_answer;

static int body_reserve(http_server *hs, size_t n);

/* libmicrohttpd's free callback of a counted answer. */
static void
held_free(void *cls)
{
	held_answer *h = cls;

	free(h->body);
	atomic_fetch_sub(&h->hs->body_bytes, h->len);
	free(h);
}

/* Queues rs on the connection and frees its parts. With hs, an answer of
 * HELD_ANSWER_MIN bytes or more counts against max_body_memory while it
 * waits for its reader, and becomes 503 out_of_memory when there is no
 * room (answers that change state are small: only reads are that big). */
enum MHD_Result
http_send(http_server *hs, struct MHD_Connection *conn,
	      http_response *rs, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char num[32];
	held_answer *h = NULL;

	if (hs != NULL && rs->stream_read == NULL && rs->body != NULL &&
	    rs->len >= HELD_ANSWER_MIN) {
		h = malloc(sizeof *h);
		if (h != NULL && body_reserve(hs, rs->len) < 0) {
			free(h);
			h = NULL;
		}
		if (h == NULL) {
			apierr e;

			apierr_set(&e, 503, "out_of_memory", "the answers "
			    "waiting for their readers and the bodies being "
			    "received fill the %zu bytes --max-body-memory "
			    "allows; try again shortly", hs->max_body_memory);
			e.retry_after = 1;
			rs->location[0] = '\0';
			rs->cache_control = NULL;
			http_reply_error(rs, &e);
		} else {
			h->hs = hs;
			h->body = rs->body;
			h->len = rs->len;
		}
	}

	if (rs->stream_read != NULL) {
		free(rs->body);
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
		    rs->stream_read, rs->stream_ctx, rs->stream_free);
		if (r == NULL) {
			if (rs->stream_free)
				rs->stream_free(rs->stream_ctx);
			return MHD_NO;
		}
	} else if (h != NULL) {
		r = MHD_create_response_from_buffer_with_free_callback_cls(
		    h->len, h->body, held_free, h);
		if (r == NULL) {
			held_free(h);
			rs->body = NULL;
			return MHD_NO;
		}
	} else {
		r = MHD_create_response_from_buffer(rs->body ? rs->len : 0,
		    rs->body ? rs->body : (void *)"", rs->body ?
		    MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		if (r == NULL) {
			free(rs->body);
			return MHD_NO;
		}
	}
	rs->body = NULL;
	if (rs->status != 204 && rs->status != 304)
		MHD_add_response_header(r, "Content-Type", rs->content_type ?
		    rs->content_type : "application/json");
	if (rs->location[0])
		MHD_add_response_header(r, "Location", rs->location);
	if (rs->etag[0])
		MHD_add_response_header(r, "ETag", rs->etag);
	if (rs->cache_control)
		MHD_add_response_header(r, "Cache-Control", rs->cache_control);
	if (rs->www_authenticate)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    rs->www_authenticate);
	if (allow && allow[0])
		MHD_add_response_header(r, "Allow", allow);
	if (rs->retry_after > 0) {
		snprintf(num, sizeof num, "%d", rs->retry_after);
		MHD_add_response_header(r, "Retry-After", num);
	}
	if (rs->close)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	if (rs->cors_preflight) {
		MHD_add_response_header(r, "Access-Control-Allow-Methods",
		    "GET, HEAD, POST, PUT, DELETE");
		MHD_add_response_header(r, "Access-Control-Allow-Headers",
		    "Authorization, Content-Type, If-None-Match, "
		    "Last-Event-ID");
		MHD_add_response_header(r, "Access-Control-Max-Age", "600");
	}
	if (hs != NULL && hs->origin != NULL && hs->origin->norigins > 0) {
		const char *o = MHD_lookup_connection_value(conn,
		    MHD_HEADER_KIND, "Origin");

		if (origin_listed(hs->origin, o)) {
			MHD_add_response_header(r,
			    "Access-Control-Allow-Origin", o);
			MHD_add_response_header(r, "Vary", "Origin");
		}
	}
	ret = MHD_queue_response(conn, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result
http_send_error(http_server *hs, struct MHD_Connection *conn, int status,
	   const char *code, const char *msg, const char *allow)
{
	http_response rs;
	apierr e;

	memset(&rs, 0, sizeof rs);
	apierr_set(&e, status, code, "%s", msg);
	http_reply_error(&rs, &e);
	/* a framing error leaves the rest of the stream meaningless */
	rs.close = status == 400;
	return http_send(hs, conn, &rs, allow);
}

/* 503 out_of_memory with Retry-After: the bodies being received fill
 * max_body_memory. */
enum MHD_Result
http_send_busy(http_server *hs, struct MHD_Connection *conn)
{
	http_response rs;
	apierr e;

	memset(&rs, 0, sizeof rs);
	apierr_set(&e, 503, "out_of_memory", "the request bodies being "
	    "received fill the %zu bytes --max-body-memory allows; try again "
	    "shortly", hs->max_body_memory);
	e.retry_after = 1;
	http_reply_error(&rs, &e);
	return http_send(NULL, conn, &rs, NULL);
}

/* Counts n more bytes of body buffers against max_body_memory; -1 (and
 * nothing counted) when they do not fit. */
static int
body_reserve(http_server *hs, size_t n)
{
	size_t cur = atomic_load(&hs->body_bytes);

	do {
		if (n > hs->max_body_memory - cur)
			return -1;
	} while (!atomic_compare_exchange_weak(&hs->body_bytes, &cur,
	    cur + n));
	return 0;
}

/* Frees cs's body buffer and gives its bytes back. */
static void
body_drop(http_server *hs, conn_state *cs)
{
	if (cs->cap > cs->held)
		cs->held = cs->cap;
	/* kept for the next big body when it is a hugemem block */
	if (cs->buf_huge)
		hugemem_free(cs->buf, cs->cap);
	else
		free(cs->buf);
	atomic_fetch_sub(&hs->body_bytes, cs->cap);
	cs->buf = NULL;
	cs->len = cs->cap = 0;
	cs->buf_huge = 0;
}

/* Tells the observer that cs was answered with status. */
static void
observe(const http_server *hs, const conn_state *cs, const char *method,
	int status)
{
	if (hs->observe != NULL)
		hs->observe(hs->octx, cs->route ? (int)(cs->route - hs->routes)
		    : -1, method, status, wallclock_mono() - cs->t0);
}

/* Sends what the handler filled in cs->rs, drops the body and tells the
 * observer. */
static enum MHD_Result
answer(http_server *hs, struct MHD_Connection *conn, conn_state *cs,
       const char *method)
{
	enum MHD_Result ret;
	int status = cs->rs.status;

	/* the body is no longer needed; free it before sending */
	body_drop(hs, cs);
	if (cs->rs.len > cs->held)
		cs->held = cs->rs.len;
	ret = http_send(hs, conn, &cs->rs, NULL);
	observe(hs, cs, method, status);
	return ret;
}

/* On a request worker: runs the handler, then hands the connection back
 * to libmicrohttpd, which calls on_request again to send the answer. */
static void
run_on_worker(void *arg)
{
	conn_state *cs = arg;

	cs->work(cs->hs->ctx, &cs->rq, &cs->rs);
	cs->rs.defer = NULL; /* a worker's handler finishes the request */
	atomic_store(&cs->phase, PHASE_READY);
	MHD_resume_connection(cs->conn);
}

/* Suspends conn and queues its handler for a request worker; while the
 * server shuts down, answers 503 shutting_down instead. */
static enum MHD_Result
to_worker(http_server *hs, struct MHD_Connection *conn, conn_state *cs,
	  const char *method)
{
	apierr e;

	cs->hs = hs;
	cs->conn = conn;
	cs->work = cs->rs.defer;
	cs->rs.defer = NULL;
	atomic_store(&cs->phase, PHASE_ON_WORKER);
	/* suspended before it is queued: the worker may resume it at once */
	MHD_suspend_connection(conn);
	if (http_pool_submit(hs->pool, run_on_worker, cs) == 0)
		return MHD_YES;
	MHD_resume_connection(conn);
	atomic_store(&cs->phase, PHASE_RECEIVING);
	apierr_set(&e, 503, "shutting_down", "mlpd is shutting down");
	e.retry_after = 5;
	http_reply_error(&cs->rs, &e);
	return answer(hs, conn, cs, method);
}

void
http_defer(http_response *rs, http_handler fn)
{
	rs->defer = fn;
}

size_t
http_pending(http_server *s)
{
	return http_pool_pending(s->pool);
}

/* libmicrohttpd's URI log callback: starts the request's clock
 * (http_watch), and notes a path holding an encoded slash, which the
 * unescaped path no longer shows. Returns the request's first con_cls. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	http_server *hs = cls;
	conn_state *cs;
	size_t plen = strcspn(uri, "?");

	http_watch_uri(hs->watch, uri, conn);
	for (size_t i = 0; i + 2 < plen; i++) {
		if (uri[i] == '%' && uri[i + 1] == '2' &&
		    (uri[i + 2] == 'F' || uri[i + 2] == 'f')) {
			if ((cs = calloc(1, sizeof *cs)) != NULL)
				cs->encoded_slash = 1;
			return cs;
		}
	}
	return NULL;
}

/* Content-Length + 1 when it gives the body's size within the cap (as
 * early_checks saw), else 0. The first buffer takes that size at once:
 * growing by doubling, realloc copied the body again at each step (it
 * is on the arena's heap, below glibc's raised mmap threshold), and each
 * copy faulted in fresh 4 KiB pages before hugemem_advise could apply:
 * ~30% of a 31 MB predict's CPU (perf, issue 11). The reservation is
 * what early_checks already allowed for; the pages are touched only as
 * the bytes come. */
static size_t
body_hint(const http_server *hs, struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long v;
	char *end;

	if (cl == NULL || *cl < '0' || *cl > '9')
		return 0;
	v = strtoull(cl, &end, 10);
	if (*end != '\0' || v > hs->max_body)
		return 0;
	return (size_t)v + 1;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
	   const char *method, const char *version, const char *upload,
	   size_t *upload_size, void **con_cls)
{
	http_server *hs = cls;
	conn_state *cs = *con_cls;
	enum MHD_Result ret;
	int status;

	/* resumed by the worker that ran its handler: send the answer */
	if (cs != NULL && atomic_load(&cs->phase) == PHASE_READY) {
		atomic_store(&cs->phase, PHASE_RECEIVING);
		return answer(hs, conn, cs, method);
	}
	/* a later call with no data is the last: the request is in */
	if (cs != NULL && cs->started && *upload_size == 0)
		http_watch_arrived(conn);
	if (cs == NULL || !cs->started) {
		if (cs == NULL && (cs = calloc(1, sizeof *cs)) == NULL)
			return MHD_NO;
		*con_cls = cs;
		cs->started = 1;
		cs->t0 = wallclock_mono();
		cs->answered = 1;
		if ((status = http_admit_headers(hs, conn, url, method, cs,
		    &ret)) != 0) {
			observe(hs, cs, method, status);
			return ret;
		}
		cs->answered = 0;
		/* without a token, a request is what proves a client (with
		 * one, check_auth saw the token) */
		if (hs->auth == NULL)
			http_watch_trust(conn);
		return MHD_YES;
	}
	if (cs->answered) {
		/* an early error is queued: drop whatever body still comes */
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (cs->no_memory)
			return MHD_YES;
		if (cs->too_big || n > hs->max_body - cs->len) {
			cs->too_big = 1;
			return MHD_YES;
		}
		if (cs->len + n + 1 > cs->cap) {
			size_t cap = cs->cap ? cs->cap : 4096;
			size_t hint = body_hint(hs, conn);
			char *p;

			while (cap < cs->len + n + 1)
				cap *= 2;
			if (cap > hs->max_body + 1)
				cap = hs->max_body + 1;
			if (hint >= cs->len + n + 1 && (cs->cap == 0 ||
			    cap > hint))
				cap = hint;
			if (body_reserve(hs, cap - cs->cap) < 0) {
				/* give back what it holds: others may fit */
				body_drop(hs, cs);
				cs->no_memory = 1;
				return MHD_YES;
			}
			/* the first block on 2 MiB pages (hugemem.h) */
			p = cs->buf == NULL ? hugemem_alloc(cap) :
			    realloc(cs->buf, cap);
			if (p == NULL) {
				atomic_fetch_sub(&hs->body_bytes, cap - cs->cap);
				cs->too_big = 1;
				return MHD_YES;
			}
			cs->buf_huge = cs->buf == NULL;
			cs->buf = p;
			cs->cap = cap;
			hugemem_advise(p, cap);
		}
		memcpy(cs->buf + cs->len, upload, n);
		cs->len += n;
		cs->buf[cs->len] = '\0';
		return MHD_YES;
	}
	if (cs->no_memory) {
		ret = http_send_busy(hs, conn);
		observe(hs, cs, method, 503);
		return ret;
	}
	if (cs->too_big) {
		char msg[96];

		snprintf(msg, sizeof msg, "the request body is over the %zu "
		    "byte limit", hs->max_body);
		ret = http_send_error(hs, conn, 413, "body_too_large", msg, NULL);
		observe(hs, cs, method, 413);
		return ret;
	}
	memset(&cs->rq, 0, sizeof cs->rq);
	cs->rq.method = method;
	cs->rq.path = url;
	memcpy(cs->rq.params, cs->params, sizeof cs->rq.params);
	cs->rq.body = cs->buf ? cs->buf : "";
	cs->rq.body_len = cs->len;
	cs->rq.conn = conn;
	cs->rq.body_type = http_admit_body_type(MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
	memset(&cs->rs, 0, sizeof cs->rs);
	cs->rs.status = 500;
	if (cs->route->flags & HTTP_WORKER)
		http_defer(&cs->rs, cs->route->handler);
	else
		cs->route->handler(hs->ctx, &cs->rq, &cs->rs);
	(void)version;
	if (cs->rs.defer != NULL)
		return to_worker(hs, conn, cs, method);
	return answer(hs, conn, cs, method);
}

/* A request whose body or answer took this many bytes gives the memory
 * it freed back to the system when it ends (give_back). */
#define GIVE_BACK_AFTER ((size_t)1 << 20)

#ifdef __GLIBC__
/* A request worker's job: the trim itself (it walks every arena, with
 * each one's lock held in turn: not for an event thread). */
static void
trim_job(void *arg)
{
	http_server *hs = arg;

	malloc_trim(0);
	atomic_flag_clear(&hs->trimming);
}
#endif

/* Returns the heap's free pages to the system. glibc keeps what free()
 * gets in its arenas, and the JSON tree of a big body is millions of
 * small blocks spread over them: without this, a refused 66 MB body left
 * the daemon 1.6 GB bigger for good (issue 12, tests/memory.sh). The trim
 * runs on a request worker, one queued at a time: a request that finds
 * one queued leaves its frees to it. */
static void
give_back(http_server *hs)
{
#ifdef __GLIBC__
	if (atomic_flag_test_and_set(&hs->trimming))
		return;
	if (http_pool_submit(hs->pool, trim_job, hs) < 0)
		atomic_flag_clear(&hs->trimming); /* shutting down */
#else
	(void)hs;
#endif
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	http_server *hs = cls;
	conn_state *cs = *con_cls;

	(void)toe;
	/* kept alive, the connection now waits for its next request */
	http_watch_done(conn);
	if (cs == NULL)
		return;
	body_drop(hs, cs);
	if (cs->held >= GIVE_BACK_AFTER)
		give_back(hs);
	free(cs->path);
	free(cs);
	*con_cls = NULL;
}

#define HTTP_LOG_LINE 512

/* Appends n bytes of src to out (holding *o bytes), as far as they fit. */
static void
append(char *out, size_t *o, const char *src, size_t n)
{
	if (n > HTTP_LOG_LINE - 1 - *o)
		n = HTTP_LOG_LINE - 1 - *o;
	memcpy(out + *o, src, n);
	*o += n;
}

/* Replaces what follows each key in line (up to a space, quote, '&' or
 * the end) with "[redacted]", in place. */
static void
redact(char line[HTTP_LOG_LINE], const char *key)
{
	char out[HTTP_LOG_LINE];
	size_t kl = strlen(key), o = 0;
	const char *p = line, *k;

	while ((k = strcasestr(p, key)) != NULL) {
		const char *v = k + kl;
		size_t n = strcspn(v, " \t&\"'");

		append(out, &o, p, (size_t)(v - p));
		if (n > 0)
			append(out, &o, "[redacted]", 10);
		p = v + n;
	}
	append(out, &o, p, strlen(p));
	out[o] = '\0';
	memcpy(line, out, o + 1);
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	http_server *hs = cls;
	char line[HTTP_LOG_LINE];

	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	/* no token reaches the log, whatever libmicrohttpd quotes */
	redact(line, "access_token=");
	redact(line, "Bearer ");
	if (atomic_load(&hs->capturing)) {
		size_t n = strnlen(line, sizeof hs->start_msg - 1);

		pthread_mutex_lock(&hs->start_lock);
		memcpy(hs->start_msg, line, n);
		hs->start_msg[n] = '\0';
		pthread_mutex_unlock(&hs->start_lock);
	}
	log_debug("http: %s", line);
}

/* Hex digit value, or -1. */
static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* libmicrohttpd's percent-decoding of paths and query arguments, less
 * one thing: "%00" stays as it is. A decoded NUL would cut the C string
 * short into another route ("DELETE /v1/models/<id>%00/batches" would
 * delete the model); kept encoded, it is just a bad id. Returns the new
 * length of s, decoded in place. */
static size_t
unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s;

	(void)cls;
	(void)conn;
	for (const char *r = s; *r;) {
		if (r[0] == '%' && hex_digit(r[1]) >= 0 &&
		    hex_digit(r[2]) >= 0 && (r[1] != '0' || r[2] != '0')) {
			*w++ = (char)(hex_digit(r[1]) * 16 + hex_digit(r[2]));
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

http_server *
http_start(const char *host, unsigned port, unsigned threads,
	   unsigned workers, const http_limits *lim, const http_route *routes,
	   size_t nroutes,
	   void *ctx, http_observer observe_fn, void *octx,
	   const http_guard *guard, fault *f)
{
	struct addrinfo hints, *ai = NULL;
	int tls = guard != NULL && guard->tls_cert != NULL;
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0,
		    tls ? (void *)(uintptr_t)guard->tls_cert : NULL },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0,
		    tls ? (void *)(uintptr_t)guard->tls_key : NULL },
		{ MHD_OPTION_END, 0, NULL }
	};
	char portstr[16];
	http_server *hs;
	unsigned flags;
	const union MHD_DaemonInfo *info;
	int rc;

	hs = calloc(1, sizeof *hs);
	if (hs == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	hs->routes = routes;
	hs->nroutes = nroutes;
	hs->max_body = lim->max_body;
	hs->max_body_memory = lim->max_body_memory > lim->max_body ?
	    lim->max_body_memory : lim->max_body;
	atomic_init(&hs->body_bytes, 0);
	atomic_flag_clear(&hs->trimming);
	hs->ctx = ctx;
	hs->observe = observe_fn;
	hs->octx = octx;
	hs->auth = guard ? guard->auth : NULL;
	hs->origin = guard ? guard->origin : NULL;
	atomic_init(&hs->capturing, 1);
	pthread_mutex_init(&hs->start_lock, NULL);
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		fault_set(f, FAULT_INTERNAL, "--tls-cert: this libmicrohttpd "
		    "was built without TLS (GnuTLS) support");
		pthread_mutex_destroy(&hs->start_lock);
		free(hs);
		return NULL;
	}
	if ((hs->pool = http_pool_create(workers, f)) == NULL) {
		pthread_mutex_destroy(&hs->start_lock);
		free(hs);
		return NULL;
	}
	if ((hs->watch = http_watch_create(lim->timeout, lim->max_per_ip,
	    lim->max_idle_per_ip, f)) == NULL) {
		http_pool_destroy(hs->pool);
		pthread_mutex_destroy(&hs->start_lock);
		free(hs);
		return NULL;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc != 0) {
		fault_set(f, FAULT_INVALID, "cannot resolve listen host "
		    "'%s': %s", host, gai_strerror(rc));
		http_watch_destroy(hs->watch);
		http_pool_destroy(hs->pool);
		pthread_mutex_destroy(&hs->start_lock);
		free(hs);
		return NULL;
	}
	/* suspend/resume: idle event streams park their connection
	 * (api_events.c) instead of holding a pool thread */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	hs->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
	    on_request, hs,
	    /* first, so that every message goes through it */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, hs,
	    MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, hs,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, lim->timeout,
	    MHD_OPTION_CONNECTION_LIMIT, lim->max_connections,
	    /* http_watch keeps max_per_ip (see the DESIGN in
	     * http_watch.h); this counts the sockets it shut down too */
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, lim->max_per_ip > 32768 ?
	    65536u : 2 * lim->max_per_ip,
	    MHD_OPTION_NOTIFY_CONNECTION, http_watch_notify, hs->watch,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, hs,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
	    MHD_OPTION_ARRAY, tls ? tls_opts : &tls_opts[2],
	    MHD_OPTION_END);
	freeaddrinfo(ai);
	atomic_store(&hs->capturing, 0);
	if (hs->d == NULL) {
		if (tls && hs->start_msg[0])
			fault_set(f, FAULT_INTERNAL, "cannot serve HTTPS on "
			    "%s:%u: %s (check --tls-cert and --tls-key)", host,
			    port, hs->start_msg);
		else
			fault_set(f, FAULT_INTERNAL, "cannot listen on %s:%u "
			    "(address in use or not available)%s%s", host,
			    port, hs->start_msg[0] ? ": " : "",
			    hs->start_msg);
		http_watch_destroy(hs->watch);
		http_pool_destroy(hs->pool);
		pthread_mutex_destroy(&hs->start_lock);
		free(hs);
		return NULL;
	}
	info = MHD_get_daemon_info(hs->d, MHD_DAEMON_INFO_BIND_PORT);
	hs->port = info ? info->port : port;
	return hs;
}

unsigned
http_port(const http_server *s)
{
	return s->port;
}

void
http_closed_counts(const http_server *s, unsigned long *slow,
		   unsigned long *idle)
{
	http_watch_closed(s->watch, slow, idle);
}

void
http_quiesce(http_server *s)
{
	/* not MHD_quiesce_daemon: see the DESIGN in http.h */
	if (s != NULL)
		http_pool_close(s->pool);
}

void
http_stop(http_server *s)
{
	if (s == NULL)
		return;
	/* no trim may be queued on the pool once it is gone: give_back's
	 * flag is taken for good, once a trim in flight has run */
	while (atomic_flag_test_and_set(&s->trimming))
		usleep(1000);
	/* every suspended request is resumed before libmicrohttpd stops */
	http_pool_destroy(s->pool);
	if (s->d)
		MHD_stop_daemon(s->d);
	/* after the daemon: its connections are closed, their records gone */
	http_watch_destroy(s->watch);
	pthread_mutex_destroy(&s->start_lock);
	free(s);
}

const char *
http_query(const http_request *rq, const char *key)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND,
	    key);
}

const char *
http_header(const http_request *rq, const char *key)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, key);
}
