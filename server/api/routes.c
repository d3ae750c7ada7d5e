/*
 * routes: which handler answers which method and path.
 *
 * '*' stands for one path segment (an id); then the body types a route
 * takes, and HTTP_WORKER for a handler that may wait (it writes the store
 * and waits for the fsync, waits for a trainer, or reads rows from
 * SQLite), which then runs on a request worker instead of an HTTP thread
 * (http.h). The others answer from memory in microseconds. GET .../loss
 * answers a conditional request inline and hands the read to a worker
 * itself (http_defer); so does predict pinned to a version not loaded. Order matters only for speed.
 */
#include "api.h"

static const http_route routes[] = {
	{ "POST", "/v1/models/*/predict", api_predict,
	    HTTP_BODY_JSON | HTTP_BODY_CSV | HTTP_BODY_NPY, 0 },
	{ "GET", "/v1/models/*/loss", api_history_loss, 0, 0 },
	{ "GET", "/v1/models", api_models_list, 0, 0 },
	{ "POST", "/v1/models", api_models_create,
	    HTTP_BODY_JSON | HTTP_BODY_ONNX, HTTP_WORKER },
	{ "GET", "/v1/models/*", api_models_get, 0, 0 },
	{ "DELETE", "/v1/models/*", api_models_delete, 0, HTTP_WORKER },
	{ "GET", "/v1/models/*/weights", api_models_weights_get, 0, 0 },
	/* a worker: encoding a large model's file takes milliseconds */
	{ "GET", "/v1/models/*/onnx", api_onnx_get, 0, HTTP_WORKER },
	{ "PUT", "/v1/models/*/weights", api_models_weights_put,
	    HTTP_BODY_JSON, HTTP_WORKER },
	{ "POST", "/v1/models/*/batches", api_data_push,
	    HTTP_BODY_JSON | HTTP_BODY_CSV | HTTP_BODY_NPY | HTTP_BODY_NPZ,
	    HTTP_WORKER },
	{ "GET", "/v1/models/*/batches", api_data_list, 0, HTTP_WORKER },
	{ "DELETE", "/v1/models/*/batches", api_data_delete, 0, HTTP_WORKER },
	{ "POST", "/v1/models/*/step", api_training_step, HTTP_BODY_JSON,
	    HTTP_WORKER },
	{ "POST", "/v1/models/*/train", api_training_train, HTTP_BODY_JSON,
	    HTTP_WORKER },
	{ "GET", "/v1/models/*/jobs", api_training_jobs, 0, 0 },
	{ "GET", "/v1/jobs/*", api_training_job_get, 0, 0 },
	{ "DELETE", "/v1/jobs/*", api_training_job_cancel, 0, HTTP_WORKER },
	{ "GET", "/v1/models/*/events", api_events_model, 0, 0 },
	{ "GET", "/v1/events", api_events_all, 0, 0 },
	{ "POST", "/v1/models/*/versions", api_versions_create,
	    HTTP_BODY_JSON, HTTP_WORKER },
	{ "GET", "/v1/models/*/versions", api_versions_list, 0, HTTP_WORKER },
	{ "GET", "/v1/models/*/versions/*", api_versions_get, 0, HTTP_WORKER },
	{ "DELETE", "/v1/models/*/versions/*", api_versions_delete, 0,
	    HTTP_WORKER },
	{ "GET", "/v1/models/*/versions/*/weights", api_versions_weights, 0,
	    HTTP_WORKER },
	{ "GET", "/v1/models/*/versions/*/onnx", api_versions_onnx, 0,
	    HTTP_WORKER },
	{ "POST", "/v1/models/*/restore", api_models_restore, HTTP_BODY_JSON,
	    HTTP_WORKER },
	{ "GET", "/v1/models/*/aliases", api_aliases_list, 0, 0 },
	{ "PUT", "/v1/models/*/aliases/*", api_aliases_put, HTTP_BODY_JSON,
	    HTTP_WORKER },
	{ "DELETE", "/v1/models/*/aliases/*", api_aliases_delete, 0,
	    HTTP_WORKER },
	{ "GET", "/healthz", api_system_healthz, 0, 0 },
	{ "GET", "/metrics", api_system_metrics, 0, 0 },
	{ "GET", "/", api_system_page, 0, 0 },
};

const http_route *
api_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
