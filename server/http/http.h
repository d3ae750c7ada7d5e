/*
 * http: the libmicrohttpd glue. It owns the listening daemon, collects each
 * request body under a byte cap, matches the route table, checks content
 * types, calls a handler and sends what the handler filled in.
 *
 * DESIGN. libmicrohttpd runs a pool of threads (--http-threads) that
 * read requests and send answers; they never wait for anything slower
 * than memory. A handler sees a whole request (method, path captures,
 * complete body) and fills an http_response. It runs either inline, on
 * the libmicrohttpd thread (health, metrics, predictions from a
 * snapshot, reads of in-memory state, 304s: microseconds each), or on one
 * of http_pool's request workers (--http-workers) when its route is
 * marked HTTP_WORKER or when an inline handler hands the rest of its
 * work over with http_defer (a history read after its ETag check):
 * anything that writes the store (and waits for its fsync), waits for a
 * trainer, or may wait on a database lock another process holds. http
 * then suspends the connection (MHD_suspend_connection), the worker runs
 * the handler and resumes it, and libmicrohttpd calls back on one of its
 * threads to send the answer. A slow request thus holds a worker, never
 * an HTTP thread: unrelated requests are never queued behind it. Slow
 * requests queue only behind each other, FIFO, when every worker is busy.
 *
 * Why suspend/resume and a pool rather than a thread per connection
 * (measured: tests/load/headofline.py, and thread counts with 240 idle
 * kept-alive connections, same machine, same hour): both keep /healthz
 * and predictions fast under the mixed load (p99 4.1 ms here, 5.4 ms with
 * a thread per connection), but a thread per connection held 246 threads
 * and 43 MB RSS for those 240 idle connections where the pool held 15
 * threads and 26 MB, and it grows with --max-connections (1024 by
 * default) where the pool is fixed. Event streams also park their
 * connections with suspend/resume, which libmicrohttpd does not offer in
 * thread-per-connection mode.
 *
 * Everything decided from the headers alone is answered before any body
 * byte is read: first a missing or wrong access token (401, see
 * http_guard), then unknown route (404), wrong method (405 with Allow),
 * Content-Length over the cap (413), a content type the route does not
 * accept (415). A chunked body is counted as it arrives and cut off at
 * the cap. A client that disconnects mid-upload never reaches its
 * handler, so no partial request can change anything.
 *
 * Shutdown. libmicrohttpd 0.9.75's MHD_quiesce_daemon can abort the
 * process with a thread pool and epoll ("Failed to remove listen FD from
 * epoll set": it races with pool threads that drop the listen socket
 * from their epoll sets at the connection limit), so it is never called:
 * http_quiesce closes the worker pool instead (requests that would need a
 * worker get 503 shutting_down, the others are refused by the API's own
 * shutting-down check), and http_stop waits for the workers to resume
 * every connection they hold before it stops libmicrohttpd.
 *
 * Limits (http_limits). The bodies being received, and the answers of
 * 64 KiB or more that libmicrohttpd still holds for their readers, hold at
 * most max_body_memory bytes together: a body that would pass it is
 * answered 503 out_of_memory with Retry-After (from Content-Length at
 * once, or when a chunked one grows into it), and so is a request whose
 * answer would (only reads have answers that big). libmicrohttpd caps the connections,
 * in all and per client address, and closes idle ones after the timeout;
 * http_watch closes those whose request takes longer than the timeout to
 * arrive, however slowly it trickles in.
 */
#ifndef MLPD_HTTP_H
#define MLPD_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "apierr.h"
#include "auth.h"
#include "fault.h"
#include "origin.h"

struct MHD_Connection;
struct http_request;
struct http_response;

#define HTTP_MAX_PARAMS 2

/* Body types a route accepts (a bitmask in http_route.accepts). */
#define HTTP_BODY_JSON 1u /* application/json */
#define HTTP_BODY_CSV 2u  /* text/csv */
#define HTTP_BODY_ONNX 4u /* application/onnx (a binary ONNX model) */
#define HTTP_BODY_NPY 8u  /* application/x-npy (NumPy .npy) */
#define HTTP_BODY_NPZ 16u /* application/x-npz (NumPy .npz) */

typedef struct http_request {
	unsigned body_type;  /* an HTTP_BODY_* when there is a body */
	const char *method;
	const char *path;                     /* without the query string */
	const char *params[HTTP_MAX_PARAMS]; /* the '*' segments of the route */
	const char *body;                     /* NUL-terminated; "" when none */
	size_t body_len;
	struct MHD_Connection *conn;
} http_request;

typedef struct http_response {
	int status;
	char *body;               /* malloc'd, freed by http; NULL for none */
	size_t len;
	const char *content_type; /* static; default application/json */
	char location[128];       /* Location header when non-empty */
	char etag[80];            /* ETag header when non-empty */
	int retry_after;          /* Retry-After seconds when > 0 */
	const char *cache_control; /* static Cache-Control value, or NULL */
	const char *www_authenticate; /* static WWW-Authenticate, or NULL */
	int close;                /* send Connection: close and end it */
	int cors_preflight;       /* add the CORS preflight headers */
	/* A streamed body (e.g. server-sent events) instead of body/len:
	 * when stream_read is set, http answers with a response whose bytes
	 * come from stream_read(stream_ctx, pos, buf, max) (the contract of
	 * libmicrohttpd's MHD_ContentReaderCallback), and calls
	 * stream_free(stream_ctx) when the response is done. */
	ssize_t (*stream_read)(void *ctx, uint64_t pos, char *buf, size_t max);
	void (*stream_free)(void *ctx);
	void *stream_ctx;
	/* set through http_defer: the handler that finishes the request on
	 * a request worker */
	void (*defer)(void *ctx, const struct http_request *rq,
		      struct http_response *rs);
} http_response;

typedef void (*http_handler)(void *ctx, const http_request *rq,
			     http_response *rs);

/* Route flags (http_route.flags). */
#define HTTP_WORKER 1u /* the handler may wait: it runs on a request worker */

typedef struct http_route {
	const char *method;  /* "GET", "POST", "PUT", "DELETE" */
	const char *pattern; /* "/v1/models/x/weights": '*' is one segment */
	http_handler handler;
	unsigned accepts;    /* HTTP_BODY_* a non-empty body may be; 0: any */
	unsigned flags;      /* HTTP_WORKER, or 0: inline */
} http_route;

typedef struct http_server http_server;

/* Told once per answered request, on the thread that answered it, right
 * after the response was queued: route is the index in the route table or
 * -1 when none matched (404, 405); seconds run from the request's first
 * callback to the send. Must be thread-safe and cheap (e.g. metrics). */
typedef void (*http_observer)(void *octx, int route, const char *method,
			      int status, double seconds);

/* Who may come in, and over what (all borrowed; must outlive the
 * server). With auth set, every request whose path auth_path_protected()
 * names must carry the token (auth.h), or it is answered 401
 * unauthorized with WWW-Authenticate right after routing, before 404,
 * 405, 413 or 415 and before any body byte is read. */
typedef struct http_guard {
	const auth *auth;     /* NULL: every route is open */
	const origin_policy *origin; /* Host and Origin rules (origin.h);
	                                NULL: none checked */
	const char *tls_cert; /* PEM certificate (chain): HTTPS; NULL: HTTP */
	const char *tls_key;  /* PEM private key, set with tls_cert */
} http_guard;

/* What clients may make the server hold (config.h's limits). */
typedef struct http_limits {
	size_t max_body;        /* bytes of one request body: 413 past it */
	size_t max_body_memory; /* bytes of all bodies being received
	                           (raised to max_body): 503 past it */
	unsigned max_connections; /* open connections in all */
	unsigned max_per_ip;    /* open connections from one address; 0: any */
	unsigned max_idle_per_ip; /* of those, ones that have not sent a
	                           request (with a token, one carrying it)
	                           (http_watch.h); 0: 1 */
	unsigned timeout;       /* seconds a connection may idle, and that a
	                           request may take to arrive */
} http_limits;

/* Starts serving on host:port with a pool of threads and workers request
 * workers (both >= 1); routes, ctx, octx and guard are borrowed and must
 * outlive the server; observe and guard may be NULL. NULL with f set on
 * failure. */
http_server *http_start(const char *host, unsigned port, unsigned threads,
			unsigned workers, const http_limits *lim,
			const http_route *routes,
			size_t nroutes, void *ctx, http_observer observe,
			void *octx, const http_guard *guard, fault *f);

/* The port actually bound (useful with port 0). */
unsigned http_port(const http_server *s);

/* Connections the server shut down itself so far: *slow for a request
 * slower than --connection-timeout, *idle past --max-idle-per-ip. */
void http_closed_counts(const http_server *s, unsigned long *slow,
			unsigned long *idle);

/* Shutdown begins: from now on a request that needs a worker is answered
 * 503 shutting_down; those the workers hold finish. Connections are
 * still accepted (see the DESIGN). NULL is a no-op. */
void http_quiesce(http_server *s);

/* Waits for the request workers to finish what they hold, then stops the
 * server and frees it; NULL is a no-op. */
void http_stop(http_server *s);

/* From an inline handler: the rest of the request runs fn(ctx, rq, rs)
 * on a request worker, with the same rq and rs (what the handler already
 * put in rs, such as an ETag, stays). The handler returns right after. */
void http_defer(http_response *rs, http_handler fn);

/* Requests queued for or running on a request worker now. */
size_t http_pending(http_server *s);

/* A query-string argument, or NULL. */
const char *http_query(const http_request *rq, const char *key);

/* A request header, or NULL. */
const char *http_header(const http_request *rq, const char *key);

/* Sets rs to status with body (malloc'd, ownership passes to rs). */
void http_reply(http_response *rs, int status, char *body, size_t len);

/* Sets rs to the JSON error body for e (and Retry-After when set); an
 * error carries no ETag. */
void http_reply_error(http_response *rs, const apierr *e);

/* Sets rs's ETag to tag (a quoted entity tag, e.g. "\"a-1\""); then, when
 * the request's If-None-Match lists that tag (compared weakly: a W/ prefix
 * is ignored) or is "*", answers 304 with no body and returns 1. Else 0:
 * the caller builds the full response. */
int http_etag_check(const http_request *rq, http_response *rs,
		    const char *tag);

#endif
