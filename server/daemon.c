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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "blob.h"
#include "claims.h"
#include "http.h"
#include "log.h"
#include "mlp.h"
#include "tls.h"

/* Version nets kept loaded for pinned predictions (engine/versions.h). */
#define DAEMON_VERSION_NETS 32

struct daemon_ctx {
	api_ctx api;
	leases *leases; /* this node's model leases (engine/lease.h) */
	claims *claims; /* several nodes: the job claimer (engine/claims.h),
	                   NULL on SQLite */
	http_server *http;
	auth *auth;     /* the --token-file token, or NULL */
	origin_policy origin; /* the Host and Origin rules in force */
	tls_creds *tls; /* the --tls-cert/--tls-key PEM, or NULL */
};

/* Store callback: one model row becomes a registry entry. */
static int
load_model(void *arg, const store_model *row)
{
	daemon_ctx *d = arg;
	fault f;
	model_entry *m = registry_entry_from_row(row, &f);

	if (m == NULL && f.code != FAULT_NOMEM) {
		log_error("model %s: weights unreadable, skipped: %s", row->id,
		    f.msg);
		return 0;
	}
	if (m == NULL || registry_add(d->api.reg, m, &f) < 0) {
		registry_put(m);
		log_error("model %s: %s", row->id, f.msg);
		return -1;
	}
	/* counted, never refused: the limits bind new models only */
	atomic_fetch_add(&d->api.models_held, 1);
	atomic_fetch_add(&d->api.params_held, mlp_spec_params(&m->spec));
	registry_put(m);
	return 0;
}

/* peers' hook: models other nodes created or deleted, counted as
 * load_model counts them (never refused). */
static void
peer_held(void *arg, const mlp_spec *spec, int delta)
{
	api_ctx *c = arg;

	if (delta > 0) {
		atomic_fetch_add(&c->models_held, 1);
		atomic_fetch_add(&c->params_held, mlp_spec_params(spec));
	} else {
		api_models_release(c, mlp_spec_params(spec));
	}
}

/* trainer's hook (several nodes): a claimed job's stored options (as
 * codec_train_opts_text rendered them), read back with the API's
 * decoder; the training control the store keeps under "control" is not
 * an option, a null "learning_rate" means the model's, and "validation"
 * only says a set was given (the trainer's mark; its rows are not
 * stored). */
static int
parse_job_opts(void *arg, const char *options, train_opts *o,
	       int *validation, char *why, size_t whylen)
{
	json_error_t je;
	json_t *doc = json_loads(options, 0, &je);
	apierr e;
	int rc = -1;

	(void)arg;
	memset(o, 0, sizeof *o);
	if (!json_is_object(doc)) {
		snprintf(why, whylen, "not a JSON object: %s", doc ? "" :
		    je.text);
		goto out;
	}
	json_object_del(doc, "control");
	/* rendered null when the job uses the model's rate */
	if (json_is_null(json_object_get(doc, "learning_rate")))
		json_object_del(doc, "learning_rate");
	*validation = json_object_get(doc, "validation") != NULL;
	json_object_del(doc, "validation");
	if ((rc = codec_train_opts(doc, o, &e)) < 0)
		snprintf(why, whylen, "%s", e.msg);
out:
	json_decref(doc);
	return rc;
}

/* claims' hook: the model of a claimed job, from the registry or, when
 * this node has not loaded it yet, from the store (peers' miss path). */
static model_entry *
claimed_model(void *arg, const char *id)
{
	api_ctx *c = arg;
	model_entry *m = registry_get(c->reg, id);

	return m != NULL ? m : peers_fetch(c->peers, id);
}

/* Says on the log who may come in, and warns when that is anyone or the
 * token travels in clear text. */
static void
warn_exposure(const config *c)
{
	int lo = auth_host_is_loopback(c->host);

	if (c->token_file != NULL)
		log_info("access: a bearer token is required on all but / and "
		    "/healthz");
	if (c->token_file == NULL && !lo)
		log_warn("access: %s is served without a token (--insecure): "
		    "anyone who reaches it may read, change and delete every "
		    "model", c->host);
	else if (c->token_file != NULL && c->tls_cert == NULL && !lo)
		log_warn("access: the token crosses the network in clear text; "
		    "use --tls-cert/--tls-key or a TLS proxy");
}

daemon_ctx *
daemon_start(const config *c, fault *f)
{
	daemon_ctx *d = calloc(1, sizeof *d);
	trainer_config tc;
	http_guard guard;
	http_limits hl;
	const http_route *routes;
	size_t nroutes;

	if (d == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	mlp_blas_threads(1);
	/* the access files first: a bad one stops us before the database */
	if (c->token_file != NULL &&
	    (d->auth = auth_create(c->token_file, f)) == NULL)
		goto fail;
	if (c->tls_cert != NULL && (d->tls = tls_creds_load(c->tls_cert,
	    c->tls_key, f)) == NULL)
		goto fail;
	d->api.max_models = c->lim.max_models;
	d->api.max_params = c->lim.max_params;
	d->api.max_samples = c->lim.max_samples;
	d->api.max_versions = c->lim.max_versions;
	atomic_init(&d->api.shutting_down, 0);
	d->api.limits.max_layer_width = c->lim.max_layer_width;
	d->api.limits.max_params = c->lim.max_params;
	d->api.limits.max_batch_rows = c->lim.max_batch_rows;
	d->api.limits.max_batch_values = c->lim.max_batch_values;
	atomic_init(&d->api.models_held, 0);
	atomic_init(&d->api.params_held, 0);
	atomic_init(&d->api.http, NULL);
	/* one JSON body may take 24 times the body cap while it is decoded
	 * (README, "Limits"); jansson's hooks are set before any thread */
	codec_json_cap(c->max_body > SIZE_MAX / 24 ? SIZE_MAX :
	    24 * c->max_body);
	if ((d->api.st = store_open(c->db_path, f)) == NULL)
		goto fail;
	store_set_history_raw(d->api.st, c->history_raw_steps);
	if (c->max_db_size > 0) {
		int64_t cap;

		if (store_set_max_size(d->api.st, c->max_db_size, &cap, f) < 0)
			goto fail;
		if (cap > c->max_db_size)
			log_warn("the database is already %lld bytes, more than "
			    "--max-db-size %lld: writes that would grow it "
			    "fail with 507", (long long)cap,
			    (long long)c->max_db_size);
	}
	if ((d->api.reg = registry_create(f)) == NULL)
		goto fail;
	if ((d->api.vs = versions_create(d->api.st, DAEMON_VERSION_NETS,
	    f)) == NULL)
		goto fail;
	if (store_models_each(d->api.st, load_model, d, f) != 0) {
		if (f->code == FAULT_NONE)
			fault_set(f, FAULT_INTERNAL, "cannot load models");
		goto fail;
	}
	if ((d->api.ev = events_create(EVENTS_CAPACITY, c->events_heartbeat,
	    codec_event, f)) == NULL ||
	    events_persist(d->api.ev, d->api.st, f) != 0)
		goto fail;
	tc.events = d->api.ev;
	tc.threads = c->trainers;
	tc.checkpoint_every = c->checkpoint_every;
	tc.max_queue = c->max_queue;
	tc.max_versions = c->lim.max_versions;
	tc.job_memory = c->lim.job_memory;
	/* one writer per model: the leases the trainer takes (on SQLite
	 * always this node's, their epochs fencing the writes the same) */
	if ((d->leases = leases_create(d->api.st, c->node_id,
	    (int64_t)c->lease_ttl * 1000, f)) == NULL)
		goto fail;
	tc.leases = d->leases;
	tc.parse_opts = parse_job_opts;
	tc.parse_arg = NULL;
	log_info("node '%s': model leases last %u s", c->node_id,
	    c->lease_ttl);
	if ((d->api.tr = trainer_create(d->api.st, d->api.reg, &tc, f)) ==
	    NULL)
		goto fail;
	if (store_shared(d->api.st)) {
		peers_config pc = { d->api.st, d->api.reg, d->api.tr,
		    d->api.vs, d->api.ev, c->peer_sync, peer_held, &d->api,
		    c->node_id };

		claims_config cc = { d->api.st, d->api.tr, c->node_id,
		    (int64_t)c->lease_ttl * 1000, c->peer_sync, claimed_model,
		    &d->api };

		if ((d->api.peers = peers_start(&pc, f)) == NULL ||
		    (d->claims = claims_start(&cc, f)) == NULL)
			goto fail;
	}
	routes = api_routes(&nroutes);
	if ((d->api.mx = metrics_create(routes, nroutes, f)) == NULL)
		goto fail;
	metrics_set_node(d->api.mx, c->node_id);
	d->origin = c->origin;
	d->origin.host_free = d->auth != NULL;
	d->origin.tls = d->tls != NULL;
	guard.auth = d->auth;
	guard.origin = &d->origin;
	guard.tls_cert = d->tls ? d->tls->cert_pem : NULL;
	guard.tls_key = d->tls ? d->tls->key_pem : NULL;
	hl.max_body = c->max_body;
	hl.max_body_memory = c->lim.max_body_memory;
	hl.max_connections = (unsigned)c->lim.max_connections;
	hl.max_per_ip = (unsigned)c->lim.max_per_ip;
	hl.max_idle_per_ip = (unsigned)c->lim.max_idle_per_ip;
	hl.timeout = (unsigned)c->lim.conn_timeout;
	d->http = http_start(c->host, c->port, c->http_threads,
	    c->http_workers, &hl, routes, nroutes, &d->api,
	    metrics_observe_http, d->api.mx, &guard, f);
	if (d->http == NULL)
		goto fail;
	atomic_store(&d->api.http, d->http);
	warn_exposure(c);
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

peers *
daemon_peers(const daemon_ctx *d)
{
	return d->api.peers;
}

void
daemon_stop(daemon_ctx *d)
{
	if (d == NULL)
		return;
	atomic_store(&d->api.shutting_down, 1);
	http_quiesce(d->http);
	/* no more claims (nor beats) while the jobs stop */
	claims_stop(d->claims);
	peers_stop(d->api.peers);
	d->api.peers = NULL;
	/* jobs checkpoint and end (several nodes: are handed back); waiting
	 * step requests get 503 */
	trainer_close(d->api.tr);
	/* several nodes: this node left; the others take what it handed
	 * back at once */
	claims_destroy(d->claims);
	d->claims = NULL;
	/* event streams send what is due (the jobs' last events too) and
	 * end, so that no connection is left suspended for http_stop */
	events_shutdown(d->api.ev, 1.0);
	http_stop(d->http);
	events_destroy(d->api.ev);
	metrics_destroy(d->api.mx);
	trainer_destroy(d->api.tr);
	/* after the jobs checkpointed and put theirs: hands back any lease
	 * left at once, for another node to take without waiting */
	leases_destroy(d->leases);
	registry_destroy(d->api.reg);
	versions_destroy(d->api.vs);
	store_close(d->api.st);
	tls_creds_destroy(d->tls);
	auth_destroy(d->auth);
	free(d);
}
