/*
 * api_predict: outputs for inputs, from the model's published snapshot.
 * Never touches SQLite and never waits for training. The inputs come as
 * JSON, text/csv rows or a NumPy .npy; the outputs go out as JSON, or as
 * CSV rows or an .npy when the request's Accept header prefers text/csv
 * or application/x-npy to application/json.
 *
 * ?version=N or ?version=ALIAS pins the prediction to a saved version:
 * its net comes from the versions cache (engine/versions.h) and the JSON
 * answer names the version (and the alias) besides the step. When the
 * net is not loaded yet, the request moves to a request worker
 * (http_defer) before it reads the body, since loading reads SQLite.
 * Without it, the latest weights answer, as always.
 */
#include "api.h"

#include <stdlib.h>

#include "codec.h"
#include "csv.h"
#include "matjson.h"
#include "npy.h"

/* The body type the outputs go out as for an Accept header: JSON unless
 * text/csv or application/x-npy has a higher q than application/json
 * (the higher of the two, CSV on a tie; wildcards do not count). */
static unsigned
output_format(const char *accept)
{
	double json = csv_accept_q(accept, "application/json");
	double csv = csv_accept_q(accept, "text/csv");
	double npy = csv_accept_q(accept, NPY_TYPE);

	if (npy > 0.0 && npy > json && npy > csv)
		return HTTP_BODY_NPY;
	if (csv > 0.0 && csv > json)
		return HTTP_BODY_CSV;
	return HTTP_BODY_JSON;
}

static void predict_on_worker(void *ctx, const http_request *rq,
			      http_response *rs);

/* The handler; may_defer: 1 on an HTTP thread, which hands a pinned
 * request whose net must be read from the store to a worker. */
static void
do_predict(void *ctx, const http_request *rq, http_response *rs,
	   int may_defer)
{
	api_ctx *c = ctx;
	model_entry *m;
	float *x = NULL, *out = NULL;
	size_t n, width;
	int single;
	unsigned fmt;
	mlp_snapshot *s = NULL;
	const char *target, *alias = NULL;
	uint64_t version = 0;
	apierr e;
	fault f;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	if (api_query(rq, rs, "version", &target) < 0)
		goto out;
	if (target != NULL && codec_version_target(target, "the version query "
	    "parameter", &version, &alias, &e) < 0)
		goto fail;
	if (target != NULL && may_defer &&
	    !versions_loaded(c->vs, m->id, alias, version)) {
		http_defer(rs, predict_on_worker);
		goto out;
	}
	if (rq->body_type == HTTP_BODY_CSV) {
		single = 0;
		/* the row caps apply before anything is allocated */
		if (csv_count(rq->body, rq->body_len, &n, &e) < 0 ||
		    codec_check_rows(&m->spec, n, &c->limits, "the CSV body",
		    &e) < 0 ||
		    csv_decode(rq->body, rq->body_len, m->spec.sizes[0], 0, &x,
		    NULL, &n, &e) < 0)
			goto fail;
	} else if (rq->body_type == HTTP_BODY_NPY) {
		if (npy_predict(rq->body, rq->body_len, &m->spec, &c->limits,
		    &x, &n, &single, &e) < 0)
			goto fail;
	} else {
		/* streamed into the float block: no tree (matjson.h) */
		if (matjson_predict(rq->body, rq->body_len, &m->spec,
		    &c->limits, &x, &n, &single, &e) < 0)
			goto fail;
	}
	width = m->spec.sizes[m->spec.n_layers];
	out = malloc(n * width * sizeof(float));
	if (out == NULL) {
		apierr_set(&e, 503, "out_of_memory", "out of memory");
		goto fail;
	}
	if (target == NULL) {
		s = registry_snapshot(m);
	} else {
		/* alias -> version and its net at one instant */
		int rc = versions_resolve(c->vs, m->id, &m->spec, alias,
		    version, &s, &version, &f);

		if (rc == 0)
			apierr_set(&e, 404, alias ? "alias_not_found" :
			    "version_not_found", "%s", f.msg);
		else if (rc < 0)
			apierr_from_fault(&e, &f);
		if (rc <= 0)
			goto fail;
	}
	if (mlp_snapshot_predict(s, x, n, out, &f) < 0) {
		apierr_from_fault(&e, &f);
		goto fail;
	}
	fmt = output_format(http_header(rq, "Accept"));
	if (fmt != HTTP_BODY_JSON) {
		size_t len;
		char *bytes = fmt == HTTP_BODY_NPY ? npy_encode(out, n, width,
		    single, &len) : csv_encode(out, n, width, &len);

		if (bytes == NULL) {
			apierr_set(&e, 503, "out_of_memory", "out of memory");
			goto fail;
		}
		http_reply(rs, 200, bytes, len);
		rs->content_type = fmt == HTTP_BODY_NPY ? NPY_TYPE :
		    "text/csv; charset=utf-8";
		goto out;
	}
	{
		json_t *doc_out = codec_predict_response(out, n, width, single,
		    mlp_snapshot_step(s));

		if (target != NULL) {
			json_object_set_new(doc_out, "version",
			    json_integer((json_int_t)version));
			if (alias != NULL)
				json_object_set_new(doc_out, "alias",
				    json_string(alias));
		}
		api_reply_json(rs, 200, doc_out);
	}
	goto out;
fail:
	api_reply_error(rs, &e);
out:
	mlp_snapshot_unref(s);
	free(x);
	free(out);
	registry_put(m);
}

static void
predict_on_worker(void *ctx, const http_request *rq, http_response *rs)
{
	do_predict(ctx, rq, rs, 0);
}

void
api_predict(void *ctx, const http_request *rq, http_response *rs)
{
	do_predict(ctx, rq, rs, 1);
}
