/*
 * http_int.h: what the files of the HTTP glue share (http.c: the daemon,
 * replies, the request's life on libmicrohttpd's and the workers'
 * threads; http_admit.c: what the headers alone decide). Nothing outside
 * server/http/ includes it.
 */
#ifndef MLPD_HTTP_INT_H
#define MLPD_HTTP_INT_H

#include <microhttpd.h>

#include <pthread.h>
#include <stdatomic.h>

#include "http.h"
#include "http_pool.h"
#include "http_watch.h"
#include "origin.h"

struct http_server {
	struct MHD_Daemon *d;
	const http_route *routes;
	size_t nroutes;
	size_t max_body;
	size_t max_body_memory; /* all bodies being received, bytes */
	atomic_size_t body_bytes; /* what their buffers hold now */
	atomic_flag trimming;   /* a give_back trim is queued or runs, or
	                           http_stop has begun */
	http_watch *watch;      /* closes slow requests; NULL: none */
	http_pool *pool;        /* runs the handlers that may wait */
	void *ctx;
	http_observer observe; /* NULL: nobody watches */
	void *octx;
	unsigned port;
	const auth *auth; /* NULL: no token needed */
	const origin_policy *origin; /* Host and Origin rules; NULL: none */
	/* libmicrohttpd's last message while MHD_start_daemon runs (e.g.
	 * why GnuTLS refused a certificate), for the start-up error */
	atomic_int capturing;
	pthread_mutex_t start_lock; /* guards start_msg */
	char start_msg[200];
};

/* Where a request is between libmicrohttpd's calls. */
enum conn_phase {
	PHASE_RECEIVING = 0, /* headers checked, body arriving */
	PHASE_ON_WORKER,     /* suspended; a request worker runs its handler */
	PHASE_READY          /* the worker is done: rs waits to be sent */
};

/* What one request carries between libmicrohttpd's calls. */
typedef struct conn_state {
	http_server *hs;
	struct MHD_Connection *conn;
	atomic_int phase; /* enum conn_phase; the worker publishes READY */
	http_request rq;  /* for the handler on a worker */
	http_response rs; /* what the worker's handler filled */
	http_handler work; /* the handler the worker runs */
	const http_route *route;
	char *path;     /* copy of the URL path; params point into it */
	const char *params[HTTP_MAX_PARAMS];
	char *buf;      /* body so far, NUL-terminated */
	size_t len;
	size_t cap;
	int buf_huge;   /* buf is hugemem_alloc(cap), never realloc'd */
	int too_big;    /* the body passed the cap: answer 413 at the end */
	int no_memory;  /* it would pass max_body_memory: 503 at the end */
	int answered;   /* an error went out from the headers alone */
	int started;    /* on_request has seen the request's headers */
	int encoded_slash; /* the raw path holds %2F (see on_uri) */
	size_t held;    /* the most its body buffer or its answer took */
	double t0;      /* wallclock_mono() at the first callback */
} conn_state;

/* http.c: queues rs on the connection and frees its parts; with hs, an
 * answer of 64 KiB or more counts against max_body_memory while it waits
 * for its reader (503 out_of_memory when there is no room). */
enum MHD_Result http_send(http_server *hs, struct MHD_Connection *conn,
			  http_response *rs, const char *allow);

/* http.c: a JSON error (a 400 also closes the connection). */
enum MHD_Result http_send_error(http_server *hs, struct MHD_Connection *conn,
				int status, const char *code, const char *msg,
				const char *allow);

/* http.c: 503 out_of_memory with Retry-After: the bodies being received
 * fill max_body_memory. */
enum MHD_Result http_send_busy(http_server *hs, struct MHD_Connection *conn);

/* http_admit.c: everything the headers alone decide, in order (framing,
 * the path, Host and Origin, the token, the route, the body's size and
 * type); sets cs->route. 0 when the request may go on, else the status of
 * the answer it queued in *ret. */
int http_admit_headers(http_server *hs, struct MHD_Connection *conn,
		       const char *url, const char *method, conn_state *cs,
		       enum MHD_Result *ret);

/* http_admit.c: the HTTP_BODY_* kind of a content type, 0 for others. */
unsigned http_admit_body_type(const char *ct);

#endif
