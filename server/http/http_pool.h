/*
 * http_pool: the worker threads that finish requests whose handlers may
 * wait (a store write and its fsync, a trainer, a database lock another
 * process holds), so that libmicrohttpd's own threads never do.
 *
 * DESIGN. A FIFO of jobs, a fixed set of threads, one mutex and one
 * condition variable (work to do, or the end). http.c submits a job
 * after it has suspended the job's connection; the job's function runs
 * the handler and resumes the connection, after which libmicrohttpd calls
 * http.c again on one of its threads to send the answer. The queue needs
 * no cap of its own: each job is a suspended connection, and those are
 * bounded by the connection limit. The pool knows nothing of HTTP: it
 * runs functions.
 *
 * Ending: http_pool_close refuses new jobs (submit returns -1, and the
 * caller answers the request itself); http_pool_destroy also lets the
 * threads run every job already queued and joins them, so that no
 * connection stays suspended when libmicrohttpd is stopped.
 *
 * The pool's mutex is a leaf: nothing else is locked while it is held,
 * and jobs run without it.
 */
#ifndef MLPD_HTTP_POOL_H
#define MLPD_HTTP_POOL_H

#include <stddef.h>

#include "fault.h"

typedef struct http_pool http_pool;

/* Starts threads (>= 1) workers. NULL with f set on failure. */
http_pool *http_pool_create(unsigned threads, fault *f);

/* Queues fn(arg) for a worker. 0, or -1 once the pool is closing (fn is
 * then not called: the caller still owns arg). */
int http_pool_submit(http_pool *p, void (*fn)(void *arg), void *arg);

/* Refuses new jobs from now on; queued and running ones go on. Safe to
 * call more than once. */
void http_pool_close(http_pool *p);

/* Closes the pool, waits until every queued and running job is done,
 * joins the threads and frees the pool; NULL is a no-op. */
void http_pool_destroy(http_pool *p);

/* Jobs queued or running now (for tests and metrics). */
size_t http_pool_pending(http_pool *p);

#endif
