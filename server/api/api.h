/*
 * api: the REST handlers of API v1 and what they share.
 *
 * One file per resource implements its handlers (api_models.c, api_data.c,
 * api_training.c, api_predict.c, api_history.c, api_system.c, api_onnx.c
 * for models as ONNX files, api_versions.c); routes.c
 * binds them to paths. Handlers decode and validate the whole request with
 * codec before touching any state, then call registry, trainer and store;
 * they never call each other. api.c holds the few helpers they share.
 */
#ifndef MLPD_API_H
#define MLPD_API_H

#include <jansson.h>
#include <stdatomic.h>

#include "apierr.h"
#include "codec.h"
#include "events.h"
#include "http.h"
#include "metrics.h"
#include "peers.h"
#include "registry.h"
#include "store.h"
#include "trainer.h"
#include "versions.h"

typedef struct api_ctx {
	size_t max_models;        /* --max-models */
	size_t max_params;        /* --max-params, over all models */
	size_t max_samples;       /* --max-samples, rows per model */
	store *st;
	registry *reg;
	trainer *tr;
	events *ev;               /* live event hub */
	metrics *mx;              /* HTTP counters; NULL: none kept */
	/* the server, once http_start has returned (requests may arrive
	 * before): read by /metrics for the connections it closed */
	_Atomic(const http_server *) http;
	atomic_int shutting_down; /* set once shutdown begins: 503 */
	codec_limits limits;      /* cfg's caps, as the decoders take them */
	atomic_size_t models_held; /* models counted against --max-models */
	atomic_size_t params_held; /* and their parameters (--max-params) */
	versions *vs;             /* aliases and loaded version nets */
	size_t max_versions;      /* --max-versions, per model */
	peers *peers;             /* other nodes' changes (shared store);
	                             NULL on SQLite */
} api_ctx;

/* The route table for http_start. */
const http_route *api_routes(size_t *n);

/* Sends doc (consumed) with status. */
void api_reply_json(http_response *rs, int status, json_t *doc);

/* Sends the error e. */
void api_reply_error(http_response *rs, const apierr *e);

/* The model named by the first path parameter, referenced; NULL after
 * replying 404. The caller registry_put()s it. */
model_entry *api_model(api_ctx *c, const http_request *rq,
		       http_response *rs);

/* The request body as a JSON object, or NULL after replying 400. */
json_t *api_body(const http_request *rq, http_response *rs, int empty_ok);

/* 503 while shutting down; returns -1 after replying. */
int api_check_open(api_ctx *c, http_response *rs);

/* Counts one more model of params weights and biases against
 * --max-models and --max-params; 422 limit_exceeded, with nothing
 * counted, when it does not fit. */
int api_models_reserve(api_ctx *c, size_t params, apierr *e);

/* Gives back what api_models_reserve counted: the model was deleted, or
 * not created after all. */
void api_models_release(api_ctx *c, size_t params);

/* Query parameter key of rq: *value is its value, or NULL when absent;
 * 0. Given more than once (e.g. format=csv&format=json), -1 after
 * replying 400 invalid_query naming it: a repeat is never resolved
 * silently. Every handler reads its query parameters through this;
 * parameters no handler reads are ignored. */
int api_query(const http_request *rq, http_response *rs, const char *key,
	      const char **value);

/* Tags rs with an ETag made of the registry's epoch, version (a registry
 * or model version) and variant (0, or a hash of the query parameters
 * that shape the body); returns 1 after answering 304 when the request's
 * If-None-Match holds that tag, else 0. Read the version before the data
 * the body is built from (see registry.h). */
int api_etag(api_ctx *c, const http_request *rq, http_response *rs,
	     uint64_t version, uint64_t variant);

/* The version a path segment or query value names in m (a number, or an
 * alias resolved now); -1 after replying 400 or 404 (version_not_found,
 * alias_not_found). A number is not checked to exist. */
int api_version_number(api_ctx *c, model_entry *m, const char *target,
		       const char *what, http_response *rs,
		       uint64_t *version);

/* Fills e with 404 version_not_found for version ver of model_id;
 * returns -1. */
int api_no_version(apierr *e, const char *model_id, uint64_t ver);

/* handlers, by resource */
void api_models_create(void *ctx, const http_request *rq, http_response *rs);
void api_models_list(void *ctx, const http_request *rq, http_response *rs);
void api_models_get(void *ctx, const http_request *rq, http_response *rs);
void api_models_delete(void *ctx, const http_request *rq, http_response *rs);
void api_models_weights_get(void *ctx, const http_request *rq,
			    http_response *rs);
void api_models_weights_put(void *ctx, const http_request *rq,
			    http_response *rs);
void api_data_push(void *ctx, const http_request *rq, http_response *rs);
void api_data_list(void *ctx, const http_request *rq, http_response *rs);
void api_data_delete(void *ctx, const http_request *rq, http_response *rs);
void api_training_step(void *ctx, const http_request *rq, http_response *rs);
void api_training_train(void *ctx, const http_request *rq,
			http_response *rs);
void api_training_jobs(void *ctx, const http_request *rq, http_response *rs);
void api_training_job_get(void *ctx, const http_request *rq,
			  http_response *rs);
void api_training_job_cancel(void *ctx, const http_request *rq,
			     http_response *rs);
void api_models_restore(void *ctx, const http_request *rq,
			http_response *rs);
void api_versions_create(void *ctx, const http_request *rq,
			 http_response *rs);
void api_versions_list(void *ctx, const http_request *rq, http_response *rs);
void api_versions_get(void *ctx, const http_request *rq, http_response *rs);
void api_versions_delete(void *ctx, const http_request *rq,
			 http_response *rs);
void api_versions_weights(void *ctx, const http_request *rq,
			  http_response *rs);
void api_aliases_list(void *ctx, const http_request *rq, http_response *rs);
void api_aliases_put(void *ctx, const http_request *rq, http_response *rs);
void api_aliases_delete(void *ctx, const http_request *rq,
			http_response *rs);
void api_predict(void *ctx, const http_request *rq, http_response *rs);
void api_onnx_get(void *ctx, const http_request *rq, http_response *rs);
void api_versions_onnx(void *ctx, const http_request *rq,
		       http_response *rs);

/* Answers 200 with params (spec's layout) at step as an ONNX file whose
 * metadata names the model, its settings and, when version > 0, the
 * version (api_onnx.c). */
void api_onnx_reply(http_response *rs, const char *name, const mlp_spec *sp,
		    const float *params, uint64_t step, uint64_t version);

/* POST /v1/models with an ONNX body (api_onnx.c): the spec and name as
 * codec_model_spec gives them for a JSON body (c's limits), *params the
 * imported weights and biases (mlp_spec_params(spec) values, malloc'd)
 * and *step the model's step from its metadata; the caller frees *name
 * and *params. -1 with e filled (and nothing to free) on a bad body. */
int api_onnx_decode(api_ctx *c, const http_request *rq, mlp_spec *spec,
		    char **name, float **params, uint64_t *step, apierr *e);
void api_history_loss(void *ctx, const http_request *rq, http_response *rs);
void api_events_all(void *ctx, const http_request *rq, http_response *rs);
void api_events_model(void *ctx, const http_request *rq,
		      http_response *rs);
void api_system_healthz(void *ctx, const http_request *rq,
			http_response *rs);
void api_system_metrics(void *ctx, const http_request *rq,
			http_response *rs);
void api_system_page(void *ctx, const http_request *rq, http_response *rs);

#endif
