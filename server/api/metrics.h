/*
 * metrics: what GET /metrics shows, in the Prometheus text exposition
 * format (version 0.0.4).
 *
 * DESIGN. HTTP request counts and durations are recorded here, by the
 * HTTP thread that answered the request (http calls metrics_observe_http
 * once per request, after queueing the response). Every counter is a
 * relaxed atomic in arrays sized once at creation from the route table,
 * so recording takes no lock and allocates nothing. The route label is
 * the route's pattern with "{id}" for each '*' ("/v1/models/{id}/predict"),
 * never the raw path, and requests no route took count as "unmatched" with
 * their method folded into a fixed set: the number of series stays bounded
 * whatever clients send.
 *
 * Everything else is read when rendering, from the rooms that own it: the
 * per-model training counters (atomics the trainer adds to at each commit)
 * and last loss from the registry, jobs by state and the queue depth from
 * the trainer, the database size from the store. A scrape takes each of
 * their locks briefly, one at a time, and never holds one across another.
 */
#ifndef MLPD_METRICS_H
#define MLPD_METRICS_H

#include <stddef.h>

#include "fault.h"
#include "http.h"
#include "registry.h"
#include "store.h"
#include "trainer.h"

/* The Content-Type of the rendered text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct metrics metrics;

/* A registry of HTTP counters for the nroutes routes of routes (borrowed;
 * they must outlive it). NULL with f set on failure. */
metrics *metrics_create(const http_route *routes, size_t nroutes, fault *f);

/* Frees m; NULL is a no-op. */
void metrics_destroy(metrics *m);

/* The http observer (ctx is the metrics): counts one answered request.
 * route is an index into the route table or -1 when none matched; method
 * the request's; seconds from its arrival to the response. Thread-safe,
 * lock-free. */
void metrics_observe_http(void *ctx, int route, const char *method,
			  int status, double seconds);

/* Names this node in the exposition (mlpd_node_info{node="..."} 1); at
 * start, before any render. */
void metrics_set_node(metrics *m, const char *node_id);

/* The whole exposition text: malloc'd and NUL-terminated, its length in
 * *len; the caller frees it. NULL when out of memory. reg, tr, st and hs
 * are read, not changed; any may be NULL (its families are left out). */
char *metrics_render(metrics *m, registry *reg, trainer *tr, store *st,
		     const http_server *hs, size_t *len);

#endif
