/*
 * api_training: single steps, train jobs, and the jobs themselves.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>

#include "codec.h"
#include "ids.h"

void
api_training_step(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	json_t *doc = NULL;
	float *x = NULL, *y = NULL;
	size_t n;
	double lr;
	uint64_t step;
	float loss;
	trainer_valset val = { NULL, NULL, 0 };
	store_val_point vp;
	json_t *reply;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if ((doc = api_body(rq, rs, 0)) == NULL)
		goto out;
	if (codec_step(doc, &m->spec, &c->limits, &x, &y, &n, &lr, &val.x,
	    &val.y, &val.n, &e) < 0) {
		api_reply_error(rs, &e);
		goto out;
	}
	if (trainer_step(c->tr, m, x, y, n, (float)lr, &val, &step, &loss, &vp,
	    &f) < 0) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		goto out;
	}
	reply = json_pack("{s:I,s:o}", "step", (json_int_t)step, "loss",
	    codec_real(loss));
	if (val.n > 0)
		json_object_set_new(reply, "validation", json_pack("{s:o,s:o}",
		    "loss", codec_real(vp.loss), "accuracy",
		    codec_real(vp.accuracy)));
	api_reply_json(rs, 200, reply);
out:
	free(x);
	free(y);
	free(val.x);
	free(val.y);
	json_decref(doc);
	registry_put(m);
}

void
api_training_train(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	json_t *doc = NULL;
	train_opts o;
	trainer_job_view v;
	trainer_valset val = { NULL, NULL, 0 };
	char *options = NULL;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if ((doc = api_body(rq, rs, 1)) == NULL)
		goto out;
	if (codec_train_opts(doc, &o, &e) < 0 ||
	    codec_check_rows(&m->spec, (size_t)o.batch_size, &c->limits,
	    "batch_size", &e) < 0 ||
	    codec_validation(doc, &m->spec, &c->limits, &val.x, &val.y,
	    &val.n, &e) < 0) {
		api_reply_error(rs, &e);
		goto out;
	}
	/* a validation set can be large: drop the JSON tree first */
	json_decref(doc);
	doc = NULL;
	/* the job's row shows its options as JSON: rendered here, the
	 * engine stores the text */
	if ((options = codec_train_opts_text(&o)) == NULL) {
		fault_set(&f, FAULT_NOMEM, "out of memory");
		goto fail;
	}
	if (trainer_submit(c->tr, m, &o, options, &val, &v, &f) < 0)
		goto fail;
	snprintf(rs->location, sizeof rs->location, "/v1/jobs/%s", v.row.id);
	api_reply_json(rs, 202, codec_job_json(&v.row));
	goto out;
fail:
	apierr_from_fault(&e, &f);
	api_reply_error(rs, &e);
out:
	free(options);
	/* NULL unless the job did not take them */
	free(val.x);
	free(val.y);
	json_decref(doc);
	registry_put(m);
}

void
api_training_jobs(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	trainer_job_view *v;
	size_t n;
	json_t *arr;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	v = trainer_jobs_of(c->tr, m->id, &n);
	arr = json_array();
	for (size_t i = 0; v && i < n; i++)
		json_array_append_new(arr, codec_job_json(&v[i].row));
	free(v);
	api_reply_json(rs, 200, json_pack("{s:o}", "jobs", arr));
	registry_put(m);
}

static void
job_not_found(const char *id, http_response *rs)
{
	apierr e;

	apierr_set(&e, 404, "job_not_found", "no job with id '%.60s'", id);
	api_reply_error(rs, &e);
}

void
api_training_job_get(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	trainer_job_view v;

	if (!ids_valid(rq->params[0]) ||
	    trainer_job_get(c->tr, rq->params[0], &v) < 0) {
		job_not_found(rq->params[0], rs);
		return;
	}
	api_reply_json(rs, 200, codec_job_json(&v.row));
}

void
api_training_job_cancel(void *ctx, const http_request *rq,
			http_response *rs)
{
	api_ctx *c = ctx;
	trainer_job_view v;
	apierr e;
	fault f;

	if (!ids_valid(rq->params[0])) {
		job_not_found(rq->params[0], rs);
		return;
	}
	if (trainer_cancel(c->tr, rq->params[0], &v, &f) < 0) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		return;
	}
	api_reply_json(rs, 200, codec_job_json(&v.row));
}
