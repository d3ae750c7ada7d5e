/*
 * daemon: wiring and order of start and shutdown (see daemon.h).
 *
 * Threads: OpenBLAS runs single-threaded inside each trainer thread; the
 * parallelism comes from the trainers (--trainers) and the HTTP pool. The
 * minibatches mlpd trains on are small enough that one core per product
 * is the efficient choice, and it keeps trainers from fighting OpenBLAS's
 * own threads for the same cores.
 */
#include "daemon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "blob.h"
#include "http.h"
#include "log.h"
#include "mlp.h"

struct daemon_ctx {
	api_ctx api;
	http_server *http;
};

/* Store callback: one model row becomes a registry entry. */
static int
load_model(void *arg, const store_model *row)
{
	daemon_ctx *d = arg;
	fault f;
	mlp *live = blob_load(row->blob, row->blob_len, NULL, &f);
	model_entry *m;

	if (live == NULL) {
		log_error("model %s: weights unreadable, skipped: %s", row->id,
		    f.msg);
		return 0;
	}
	m = registry_entry_create(row->id, row->name, row->created_ms,
	    row->updated_ms, row->samples, row->last_loss, live, &f);
	if (m == NULL || registry_add(d->api.reg, m, &f) < 0) {
		registry_put(m);
		log_error("model %s: %s", row->id, f.msg);
		return -1;
	}
	registry_put(m);
	return 0;
}

daemon_ctx *
daemon_start(const config *c, fault *f)
{
	daemon_ctx *d = calloc(1, sizeof *d);
	trainer_config tc;
	const http_route *routes;
	size_t nroutes;

	if (d == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	mlp_blas_threads(1);
	d->api.cfg = c;
	atomic_init(&d->api.shutting_down, 0);
	if ((d->api.st = store_open(c->db_path, f)) == NULL)
		goto fail;
	if ((d->api.reg = registry_create(f)) == NULL)
		goto fail;
	if (store_models_each(d->api.st, load_model, d, f) != 0) {
		if (f->code == FAULT_NONE)
			fault_set(f, FAULT_INTERNAL, "cannot load models");
		goto fail;
	}
	if ((d->api.ev = events_create(EVENTS_CAPACITY, c->events_heartbeat,
	    f)) == NULL)
		goto fail;
	tc.events = d->api.ev;
	tc.threads = c->trainers;
	tc.checkpoint_every = c->checkpoint_every;
	tc.max_queue = c->max_queue;
	if ((d->api.tr = trainer_create(d->api.st, d->api.reg, &tc, f)) ==
	    NULL)
		goto fail;
	routes = api_routes(&nroutes);
	if ((d->api.mx = metrics_create(routes, nroutes, f)) == NULL)
		goto fail;
	d->http = http_start(c->host, c->port, c->http_threads, c->max_body,
	    routes, nroutes, &d->api, metrics_observe_http, d->api.mx, f);
	if (d->http == NULL)
		goto fail;
	return d;
fail:
	daemon_stop(d);
	return NULL;
}

unsigned
daemon_port(const daemon_ctx *d)
{
	return http_port(d->http);
}

events *
daemon_events(const daemon_ctx *d)
{
	return d->api.ev;
}

void
daemon_stop(daemon_ctx *d)
{
	if (d == NULL)
		return;
	atomic_store(&d->api.shutting_down, 1);
	http_quiesce(d->http);
	/* jobs checkpoint and end; waiting step requests get 503 */
	trainer_close(d->api.tr);
	/* event streams send what is due (the jobs' last events too) and
	 * end, so that no connection is left suspended for http_stop */
	events_shutdown(d->api.ev, 1.0);
	http_stop(d->http);
	events_destroy(d->api.ev);
	metrics_destroy(d->api.mx);
	trainer_destroy(d->api.tr);
	registry_destroy(d->api.reg);
	store_close(d->api.st);
	free(d);
}
