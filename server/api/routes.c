/*
 * routes: which handler answers which method and path.
 *
 * '*' stands for one path segment (an id); the last field lists the body
 * types a route takes. Order matters only for speed.
 */
#include "api.h"

static const http_route routes[] = {
	{ "POST", "/v1/models/*/predict", api_predict,
	    HTTP_BODY_JSON | HTTP_BODY_CSV },
	{ "GET", "/v1/models/*/loss", api_history_loss, 0 },
	{ "GET", "/v1/models", api_models_list, 0 },
	{ "POST", "/v1/models", api_models_create, HTTP_BODY_JSON },
	{ "GET", "/v1/models/*", api_models_get, 0 },
	{ "DELETE", "/v1/models/*", api_models_delete, 0 },
	{ "GET", "/v1/models/*/weights", api_models_weights_get, 0 },
	{ "PUT", "/v1/models/*/weights", api_models_weights_put, HTTP_BODY_JSON },
	{ "POST", "/v1/models/*/batches", api_data_push,
	    HTTP_BODY_JSON | HTTP_BODY_CSV },
	{ "GET", "/v1/models/*/batches", api_data_list, 0 },
	{ "DELETE", "/v1/models/*/batches", api_data_delete, 0 },
	{ "POST", "/v1/models/*/step", api_training_step, HTTP_BODY_JSON },
	{ "POST", "/v1/models/*/train", api_training_train, HTTP_BODY_JSON },
	{ "GET", "/v1/models/*/jobs", api_training_jobs, 0 },
	{ "GET", "/v1/jobs/*", api_training_job_get, 0 },
	{ "DELETE", "/v1/jobs/*", api_training_job_cancel, 0 },
	{ "GET", "/v1/models/*/events", api_events_model, 0 },
	{ "GET", "/v1/events", api_events_all, 0 },
	{ "GET", "/healthz", api_system_healthz, 0 },
	{ "GET", "/metrics", api_system_metrics, 0 },
	{ "GET", "/", api_system_page, 0 },
};

const http_route *
api_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
