/*
 * api_onnx: models as ONNX files, out (GET /v1/models/{id}/onnx) and in
 * (POST /v1/models with Content-Type: application/onnx).
 *
 * The conversion itself is core/onnx.c's; here the model's name, step
 * and training settings travel as metadata_props (keys "name", "step",
 * "loss", "optimizer", "learning_rate", "momentum"), and an imported
 * file goes through the same spec decoder and limits as a JSON body
 * (codec_model_spec), so both ways of creating a model refuse the same
 * things with the same messages. A separate route rather than an Accept
 * header on .../weights: a URL that names the file format can be
 * fetched with plain `curl -o model.onnx`, and the weights document
 * keeps one representation.
 */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "onnx.h"

/* The metadata an exported model carries (and a version its number). */
#define META_KEYS 7

void
api_onnx_reply(http_response *rs, const char *name, const mlp_spec *sp,
	       const float *params, uint64_t step, uint64_t version)
{
	char st[24], lr[32], mom[32], ver[24];
	onnx_meta meta[META_KEYS];
	size_t nmeta = 6;
	void *out;
	size_t len;
	apierr e;
	fault f;

	snprintf(st, sizeof st, "%" PRIu64, step);
	snprintf(lr, sizeof lr, "%.9g", (double)sp->opt.lr);
	snprintf(mom, sizeof mom, "%.9g", (double)sp->opt.momentum);
	meta[0] = (onnx_meta){ "name", (char *)name };
	meta[1] = (onnx_meta){ "step", st };
	meta[2] = (onnx_meta){ "loss", (char *)mlp_loss_name(sp->loss) };
	meta[3] = (onnx_meta){ "optimizer",
	    (char *)optim_name(sp->opt.kind) };
	meta[4] = (onnx_meta){ "learning_rate", lr };
	meta[5] = (onnx_meta){ "momentum", mom };
	if (version > 0) {
		snprintf(ver, sizeof ver, "%" PRIu64, version);
		meta[nmeta++] = (onnx_meta){ "version", ver };
	}
	if (onnx_export(sp, params, meta, nmeta, &out, &len, &f) < 0) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		return;
	}
	rs->content_type = "application/onnx";
	http_reply(rs, 200, out, len);
}

void
api_onnx_get(void *ctx, const http_request *rq, http_response *rs)
{
	model_entry *m = api_model(ctx, rq, rs);
	mlp_snapshot *s;

	if (m == NULL)
		return;
	s = registry_snapshot(m);
	api_onnx_reply(rs, m->name, mlp_snapshot_spec(s),
	    mlp_snapshot_params(s, NULL), mlp_snapshot_step(s), 0);
	mlp_snapshot_unref(s);
	registry_put(m);
}

/* An import fault as a client error: malformed bytes are 400, a graph
 * mlpd cannot run 422; the rest as everywhere else. */
static int
import_error(apierr *e, const fault *f)
{
	if (f->code == FAULT_CORRUPT)
		return apierr_set(e, 400, "invalid_onnx", "the body is not a "
		    "well-formed ONNX model: %s", f->msg);
	if (f->code == FAULT_INVALID)
		return apierr_set(e, 422, "unsupported_onnx", "%s", f->msg);
	return apierr_from_fault(e, f);
}

/* Metadata value key of net, as a JSON number set on doc: 0, or -1
 * after filling e when it is not one. */
static int
meta_number(json_t *doc, const onnx_net *net, const char *key, apierr *e)
{
	const char *v = onnx_net_meta(net, key);
	char *end;
	double d;

	if (v == NULL)
		return 0;
	errno = 0;
	d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || errno != 0)
		return apierr_set(e, 422, "invalid_value", "metadata_props "
		    "%s '%.40s' is not a number", key, v);
	json_object_set_new(doc, key, json_real(d));
	return 0;
}

/* The step in the metadata (0 without one). */
static int
meta_step(const onnx_net *net, uint64_t *step, apierr *e)
{
	const char *v = onnx_net_meta(net, "step");
	char *end;

	*step = 0;
	if (v == NULL)
		return 0;
	errno = 0;
	*step = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0)
		return apierr_set(e, 422, "invalid_value", "metadata_props "
		    "step '%.40s' is not a whole number", v);
	return 0;
}

/* The JSON body that describes net as POST /v1/models takes it. */
static json_t *
spec_doc(const onnx_net *net, apierr *e)
{
	const mlp_spec *s = &net->spec;
	json_t *doc = json_object(), *layers = json_array(),
	    *acts = json_array();
	const char *v;

	json_object_set_new(doc, "layers", layers);
	json_object_set_new(doc, "activation", acts);
	for (uint32_t l = 0; l <= s->n_layers; l++)
		json_array_append_new(layers, json_integer(s->sizes[l]));
	for (uint32_t l = 0; l < s->n_layers; l++)
		json_array_append_new(acts, json_string(act_name(s->act[l])));
	json_object_set_new(doc, "loss",
	    json_string(mlp_loss_name(s->loss)));
	/* name and optimizer are strings as the JSON body has them; a
	 * value that is not valid UTF-8 fails here (json_string NULL) */
	if ((v = onnx_net_meta(net, "name")) != NULL &&
	    json_object_set_new(doc, "name", json_string(v)) < 0)
		goto bad_utf8;
	if ((v = onnx_net_meta(net, "optimizer")) != NULL &&
	    json_object_set_new(doc, "optimizer", json_string(v)) < 0)
		goto bad_utf8;
	if (meta_number(doc, net, "learning_rate", e) < 0 ||
	    meta_number(doc, net, "momentum", e) < 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
bad_utf8:
	json_decref(doc);
	apierr_set(e, 422, "invalid_value", "metadata_props name and "
	    "optimizer must be UTF-8 text");
	return NULL;
}

int
api_onnx_decode(api_ctx *c, const http_request *rq, mlp_spec *spec,
		char **name, float **params, uint64_t *step, apierr *e)
{
	onnx_net net;
	json_t *doc = NULL;
	fault f;
	int rc = -1;

	*name = NULL;
	*params = NULL;
	if (rq->body_len == 0)
		return apierr_set(e, 400, "invalid_onnx", "the body is empty; "
		    "send the bytes of an .onnx file");
	if (onnx_import(rq->body, rq->body_len, &net, &f) < 0)
		return import_error(e, &f);
	if (meta_step(&net, step, e) < 0 || (doc = spec_doc(&net, e)) == NULL)
		goto out;
	if (codec_model_spec(doc, ids_random_u64() >> 11, &c->limits, spec,
	    name, e) < 0)
		goto out;
	*params = net.params; /* the spec's layout: mlp_spec_params values */
	net.params = NULL;
	rc = 0;
out:
	json_decref(doc);
	onnx_net_free(&net);
	return rc;
}
