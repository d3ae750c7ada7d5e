/*
 * api_predict: outputs for inputs, from the model's published snapshot.
 * Never touches SQLite and never waits for training. The inputs come as
 * JSON or as text/csv rows; the outputs go out as JSON, or as CSV rows
 * when the request's Accept header asks for text/csv.
 */
#include "api.h"

#include <stdlib.h>

#include "codec.h"
#include "csv.h"
#include "matjson.h"

void
api_predict(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	float *x = NULL, *out = NULL;
	size_t n, width;
	int single;
	mlp_snapshot *s = NULL;
	apierr e;
	fault f;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	if (rq->body_type == HTTP_BODY_CSV) {
		single = 0;
		/* the row caps apply before anything is allocated */
		if (csv_count(rq->body, rq->body_len, &n, &e) < 0 ||
		    codec_check_rows(&m->spec, n, &c->limits, "the CSV body",
		    &e) < 0 ||
		    csv_decode(rq->body, rq->body_len, m->spec.sizes[0], 0, &x,
		    NULL, &n, &e) < 0)
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
	s = registry_snapshot(m);
	if (mlp_snapshot_predict(s, x, n, out, &f) < 0) {
		apierr_from_fault(&e, &f);
		goto fail;
	}
	if (csv_accepted(http_header(rq, "Accept"))) {
		size_t len;
		char *text = csv_encode(out, n, width, &len);

		if (text == NULL) {
			apierr_set(&e, 503, "out_of_memory", "out of memory");
			goto fail;
		}
		http_reply(rs, 200, text, len);
		rs->content_type = "text/csv; charset=utf-8";
		goto out;
	}
	api_reply_json(rs, 200, codec_predict_response(out, n, width, single,
	    mlp_snapshot_step(s)));
	goto out;
fail:
	api_reply_error(rs, &e);
out:
	mlp_snapshot_unref(s);
	free(x);
	free(out);
	registry_put(m);
}
