/*
 * api_data: training data of a model: push a batch (a JSON object decoded
 * by matjson, text/csv rows decoded by csv, or a NumPy .npy / .npz decoded
 * by npy), list, drop all.
 */
#include "api.h"

#include <stdlib.h>

#include "codec.h"
#include "csv.h"
#include "hugemem.h"
#include "log.h"
#include "matjson.h"
#include "npy.h"
#include "wallclock.h"

void
api_data_push(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	float *x = NULL, *y = NULL;
	size_t n = 0;
	int64_t batch_id, total;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if (rq->body_type == HTTP_BODY_CSV) {
		/* the row caps apply before anything is allocated */
		if (csv_count(rq->body, rq->body_len, &n, &e) < 0 ||
		    codec_check_rows(&m->spec, n, &c->limits, "the CSV body",
		    &e) < 0 ||
		    csv_decode(rq->body, rq->body_len, m->spec.sizes[0],
		    m->spec.sizes[m->spec.n_layers], &x, &y, &n, &e) < 0)
			goto fail;
	} else if (rq->body_type == HTTP_BODY_NPY ||
	    rq->body_type == HTTP_BODY_NPZ) {
		if (npy_batch(rq->body, rq->body_len,
		    rq->body_type == HTTP_BODY_NPZ, &m->spec, &c->limits, &x,
		    &y, &n, &e) < 0)
			goto fail;
	} else {
		/* streamed into the float blocks: no tree (matjson.h) */
		if (matjson_batch(rq->body, rq->body_len, &m->spec, &c->limits,
		    &x, &y, &n, &e) < 0)
			goto fail;
	}
	/* the peers poll leaves the count alone while the push runs */
	registry_rows_begin(m);
	if (store_batch_insert(c->st, m->id, x, y, n, m->spec.sizes[0],
	    m->spec.sizes[m->spec.n_layers], (int64_t)c->max_samples,
	    wallclock_ms(), &batch_id, &total, &f) < 0) {
		registry_rows_done(m, 0);
		if (registry_deleted(m))
			apierr_set(&e, 404, "model_not_found", "model '%s' was "
			    "deleted", m->id);
		else
			apierr_from_fault(&e, &f);
		goto fail;
	}
	/* what this commit added: pushes that finish out of order still
	 * add up (a total read back could be older than the last one) */
	registry_rows_done(m, (int64_t)n);
	log_debug("model %s: batch %lld of %zu rows", m->id,
	    (long long)batch_id, n);
	api_reply_json(rs, 201, json_pack("{s:I,s:I,s:I}", "batch_id",
	    (json_int_t)batch_id, "samples", (json_int_t)n, "total_samples",
	    (json_int_t)total));
	goto out;
fail:
	api_reply_error(rs, &e);
out:
	if (x == NULL || !(rq->body_type & (HTTP_BODY_CSV | HTTP_BODY_NPY |
	    HTTP_BODY_NPZ))) {
		free(x);
		free(y);
	} else {
		/* csv's and npy's blocks are hugemem's (hugemem_free
		 * keeps them for the next push) */
		hugemem_free(x, n * m->spec.sizes[0] * sizeof(float));
		hugemem_free(y, n * m->spec.sizes[m->spec.n_layers] *
		    sizeof(float));
	}
	registry_put(m);
}

void
api_data_list(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	store_batch_info *b = NULL;
	size_t n = 0;
	int64_t total = 0;
	json_t *arr;
	apierr e;
	fault f;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	if (store_batch_list(c->st, m->id, &b, &n, &f) < 0) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		registry_put(m);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, json_pack("{s:I,s:I,s:o}",
		    "batch_id", (json_int_t)b[i].batch_id, "samples",
		    (json_int_t)b[i].samples, "created_at",
		    codec_time_json(b[i].created_ms)));
		total += b[i].samples;
	}
	free(b);
	api_reply_json(rs, 200, json_pack("{s:o,s:I}", "batches", arr,
	    "total_samples", (json_int_t)total));
	registry_put(m);
}

void
api_data_delete(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	/* 409 model_busy while a job is queued or running; a job submitted
	 * meanwhile is refused the same way (trainer_delete_data) */
	if (trainer_delete_data(c->tr, m, &f) < 0) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
	} else {
		http_reply(rs, 204, NULL, 0);
	}
	registry_put(m);
}
