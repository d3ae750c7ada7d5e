/*
 * api_models: create, list, read and delete models; read and replace
 * their weights. A model may also start from a version of another
 * ("from"), or go back to one of its own versions (restore).
 */
#include "api.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "codec.h"
#include "ids.h"
#include "log.h"
#include "wallclock.h"

#define LIST_LIMIT_DEFAULT 100 /* models per page of GET /v1/models */
#define LIST_LIMIT_MAX 1000

/* The model as GET shows it. On a shared store a model another node
 * trains shows `training` here too, and `node` names the node training
 * it (this one or another; absent while none does). */
static json_t *
model_json(api_ctx *c, model_entry *m)
{
	registry_view v;
	json_t *doc;
	char node[STORE_NODE_MAX];
	const char *me = peers_node(c->peers);

	registry_view_of(m, &v);
	doc = codec_model_json(&v);
	if (v.jobs_running && me[0] != '\0')
		json_object_set_new(doc, "node", json_string(me));
	else if (!v.jobs_running && peers_training_elsewhere(c->peers, m->id,
	    node, sizeof node)) {
		json_object_set_new(doc, "status", json_string("training"));
		json_object_set_new(doc, "node", json_string(node));
	}
	return doc;
}

/* Answers status with m as GET shows it, and tells the event streams. */
static void
reply_model(api_ctx *c, http_response *rs, int status, model_entry *m)
{
	registry_view v;

	registry_view_of(m, &v);
	api_reply_json(rs, status, codec_model_json(&v));
	events_model(c->ev, &v);
}

/* For POST /v1/models {"from": {"model": id, "version": N or alias},
 * "name": ...}: the source's spec and a net holding the version's
 * weights, at step 0 with a fresh optimizer (the history starts over). */
static int
from_version(api_ctx *c, json_t *doc, mlp_spec *spec, char **name,
	     mlp **live, apierr *e)
{
	static const char *const keys[] = { "from", "name", NULL };
	const char *src_id, *alias;
	uint64_t ver;
	model_entry *src = NULL;
	void *blob = NULL;
	size_t len;
	fault f;
	int rc = -1, found;

	*live = NULL;
	if (codec_from_request(json_object_get(doc, "from"), &src_id, &ver,
	    &alias, e) < 0 || codec_check_keys(doc, keys, e) < 0 ||
	    codec_model_name(doc, name, e) < 0)
		return -1;
	if ((src = registry_get(c->reg, src_id)) == NULL) {
		apierr_set(e, 404, "model_not_found", "from.model: no model "
		    "with id '%s'", src_id);
		goto out;
	}
	if (alias != NULL && !versions_alias_get(c->vs, src_id, alias, &ver)) {
		apierr_set(e, 404, "alias_not_found", "model %s has no alias "
		    "'%s'", src_id, alias);
		goto out;
	}
	found = store_version_get(c->st, src_id, ver, NULL, &blob, &len, &f);
	if (found == 0)
		api_no_version(e, src_id, ver);
	if (found <= 0) {
		if (found < 0)
			apierr_from_fault(e, &f);
		goto out;
	}
	*spec = src->spec;
	if (c->limits.max_params > 0 &&
	    mlp_spec_params(spec) > c->limits.max_params) {
		apierr_set(e, 422, "limit_exceeded", "the model has %zu "
		    "weights and biases; --max-params allows %zu",
		    mlp_spec_params(spec), c->limits.max_params);
		goto out;
	}
	if ((*live = blob_load(blob, len, &src->spec, &f)) == NULL) {
		apierr_from_fault(e, &f);
		goto out;
	}
	mlp_set_step(*live, 0);
	mlp_reset_optim(*live);
	rc = 0;
out:
	if (rc < 0) {
		free(*name);
		*name = NULL;
	}
	free(blob);
	registry_put(src);
	return rc;
}

void
api_models_create(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	json_t *doc;
	mlp_spec spec;
	char *name = NULL;
	char id[STORE_ID_MAX];
	model_entry *m = NULL;
	mlp *live;
	void *blob = NULL;
	size_t len;
	store_model row;
	int64_t now = wallclock_ms();
	size_t params = 0;
	int reserved = 0; /* counted against --max-models/--max-params */
	float *imported = NULL; /* weights of an ONNX body (api_onnx.c) */
	uint64_t step = 0;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0)
		return;
	live = NULL;
	if (rq->body_type == HTTP_BODY_ONNX) {
		doc = NULL;
		if (api_onnx_decode(c, rq, &spec, &name, &imported, &step,
		    &e) < 0)
			goto fail;
	} else if ((doc = api_body(rq, rs, 0)) == NULL) {
		return;
	} else if (json_object_get(doc, "from") != NULL) {
		/* the spec and weights come from a version */
		if (from_version(c, doc, &spec, &name, &live, &e) < 0)
			goto fail;
	} else if (codec_model_spec(doc, ids_random_u64() >> 11, &c->limits,
	    &spec, &name, &e) < 0) {
		goto fail;
	}
	params = mlp_spec_params(&spec);
	if (api_models_reserve(c, params, &e) < 0) {
		mlp_destroy(live);
		goto fail;
	}
	reserved = 1;
	if (live == NULL) {
		live = mlp_create(&spec, &f);
		if (live != NULL && imported != NULL) {
			memcpy(mlp_params(live, NULL), imported,
			    params * sizeof *imported);
			mlp_set_step(live, step);
		}
	}
	if (live == NULL || blob_save(live, &blob, &len, &f) < 0) {
		mlp_destroy(live);
		apierr_from_fault(&e, &f);
		goto fail;
	}
	ids_new('m', id);
	m = registry_entry_create(id, name, now, now, 0, NAN, live, &f);
	if (m == NULL) {
		apierr_from_fault(&e, &f);
		goto fail;
	}
	row.name = name;
	snprintf(row.id, sizeof row.id, "%s", id);
	row.created_ms = row.updated_ms = now;
	row.step = mlp_step(live);
	row.samples = 0;
	row.last_loss = NAN;
	row.blob = blob;
	row.blob_len = len;
	/* durable first, visible second */
	if (store_model_insert(c->st, &row, &f) < 0 ||
	    registry_add(c->reg, m, &f) < 0) {
		apierr_from_fault(&e, &f);
		goto fail;
	}
	reserved = 0; /* the model holds it now */
	log_info("model %s created: %u layers, %zu parameters", id,
	    spec.n_layers, mlp_spec_params(&spec));
	snprintf(rs->location, sizeof rs->location, "/v1/models/%s", id);
	reply_model(c, rs, 201, m);
	goto out;
fail:
	if (reserved)
		api_models_release(c, params);
	api_reply_error(rs, &e);
out:
	registry_put(m);
	free(blob);
	free(name);
	free(imported);
	json_decref(doc);
}

/* A page of the list: at most limit models, those created after the
 * model `after` (NULL: from the first). */
typedef struct list_query {
	unsigned long limit;
	const char *after;
} list_query;

/* Parses limit and after; -1 after replying 400. */
static int
list_parse(const http_request *rq, http_response *rs, list_query *q)
{
	const char *v;
	char *end;
	apierr e;

	q->limit = LIST_LIMIT_DEFAULT;
	if (api_query(rq, rs, "limit", &v) < 0 ||
	    api_query(rq, rs, "after", &q->after) < 0)
		return -1;
	if (v != NULL) {
		errno = 0;
		q->limit = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end != '\0' || errno ||
		    q->limit < 1 || q->limit > LIST_LIMIT_MAX) {
			apierr_set(&e, 400, "invalid_query", "limit must be "
			    "an integer between 1 and %d", LIST_LIMIT_MAX);
			api_reply_error(rs, &e);
			return -1;
		}
	}
	if (q->after != NULL && !ids_valid(q->after)) {
		apierr_set(&e, 400, "invalid_query", "after must be a model id");
		api_reply_error(rs, &e);
		return -1;
	}
	return 0;
}

/* FNV-1a over the query (a variant never 0 or 1, the tags of a model and
 * of the unpaged list): the ETag tells pages apart. */
static uint64_t
list_variant(const list_query *q)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *a = q->after ? q->after : "";

	for (unsigned long l = q->limit; l != 0; l >>= 8) {
		h ^= l & 0xff;
		h *= 0x100000001b3ULL;
	}
	for (h ^= '/', h *= 0x100000001b3ULL; *a; a++) {
		h ^= (unsigned char)*a;
		h *= 0x100000001b3ULL;
	}
	return h < 2 ? h + 2 : h;
}

void
api_models_list(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	list_query q;
	size_t n, from = 0, to;
	model_entry **all;
	json_t *arr, *doc;
	apierr e;

	if (list_parse(rq, rs, &q) < 0)
		return;
	/* the version first, then the data (see registry.h) */
	if (api_etag(c, rq, rs, registry_version(c->reg), list_variant(&q)))
		return;
	if ((all = registry_list(c->reg, &n)) == NULL) {
		apierr_set(&e, 500, "internal_error", "out of memory");
		api_reply_error(rs, &e);
		rs->etag[0] = '\0';
		return;
	}
	if (q.after != NULL) {
		while (from < n && strcmp(all[from]->id, q.after) != 0)
			from++;
		if (from == n) {
			apierr_set(&e, 400, "invalid_query", "after: no model "
			    "with id '%.60s' (deleted meanwhile? list again "
			    "from the start)", q.after);
			api_reply_error(rs, &e);
			rs->etag[0] = '\0';
			goto out;
		}
		from++;
	}
	to = n - from > q.limit ? from + q.limit : n;
	arr = json_array();
	for (size_t i = from; i < to; i++)
		json_array_append_new(arr, model_json(c, all[i]));
	doc = json_pack("{s:o}", "models", arr);
	/* only when there is a next page: the last one reads as before */
	if (to < n && to > from)
		json_object_set_new(doc, "next_after",
		    json_string(all[to - 1]->id));
	api_reply_json(rs, 200, doc);
out:
	for (size_t i = 0; i < n; i++)
		registry_put(all[i]);
	free(all);
}

void
api_models_get(void *ctx, const http_request *rq, http_response *rs)
{
	model_entry *m = api_model(ctx, rq, rs);

	if (m == NULL)
		return;
	if (!api_etag(ctx, rq, rs, registry_model_version(m), 0))
		api_reply_json(rs, 200, model_json(ctx, m));
	registry_put(m);
}

/* Cancels m's queued and running jobs and waits until they have stopped,
 * as POST /v1/jobs/{id}/cancel does: each ends "cancelled" in memory and
 * in the store. (A job that ended meanwhile answers 404 or 409: fine.) */
static void
cancel_jobs(api_ctx *c, model_entry *m)
{
	size_t n = 0;
	trainer_job_view *jobs = trainer_jobs_of(c->tr, m->id, &n), v;
	fault f;

	for (size_t i = 0; jobs != NULL && i < n; i++) {
		if (jobs[i].row.status != STORE_JOB_QUEUED &&
		    jobs[i].row.status != STORE_JOB_RUNNING)
			continue;
		if (trainer_cancel(c->tr, jobs[i].row.id, &v, &f) < 0)
			log_debug("model %s: job %s: %s", m->id,
			    jobs[i].row.id, f.msg);
	}
	free(jobs);
}

/* DELETE /v1/models/{id}. The model leaves the registry first (marked
 * deleted, so no new job or step is admitted), its jobs end as
 * cancelled, and only then is it deleted from the store: when the store
 * refuses, the model goes back whole (listed, not deleted, idle) and its
 * jobs read the same in memory and in the store. */
void
api_models_delete(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	apierr e;
	fault f, rf;

	if (api_check_open(c, rs) < 0)
		return;
	m = registry_remove(c->reg, rq->params[0]);
	if (m == NULL) {
		apierr_set(&e, 404, "model_not_found", "no model with id "
		    "'%.60s'", rq->params[0]);
		api_reply_error(rs, &e);
		return;
	}
	cancel_jobs(c, m);
	if (store_model_delete(c->st, m->id, &f) < 0) {
		log_error("model %s: delete failed: %s", m->id, f.msg);
		apierr_from_fault(&e, &f);
		/* the model stays: put it back (with the reference
		 * registry_remove gave us) so a retry can delete it */
		if (registry_restore(c->reg, m, &rf) < 0)
			log_error("model %s: not put back: %s", rq->params[0],
			    rf.msg);
		api_reply_error(rs, &e);
		return;
	}
	trainer_forget_model(c->tr, m);
	/* its versions and aliases went with it in the store */
	versions_forget_model(c->vs, m->id);
	log_info("model %s deleted", m->id);
	api_models_release(c, mlp_spec_params(&m->spec));
	events_model_deleted(c->ev, m->id);
	registry_put(m);
	http_reply(rs, 204, NULL, 0);
}

void
api_models_weights_get(void *ctx, const http_request *rq, http_response *rs)
{
	model_entry *m = api_model(ctx, rq, rs);
	mlp_snapshot *s;

	if (m == NULL)
		return;
	s = registry_snapshot(m);
	api_reply_json(rs, 200, codec_weights_encode(mlp_snapshot_spec(s),
	    mlp_snapshot_params(s, NULL), mlp_snapshot_step(s)));
	mlp_snapshot_unref(s);
	registry_put(m);
}

void
api_models_weights_put(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	json_t *doc = NULL;
	float *params = NULL;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if ((doc = api_body(rq, rs, 0)) == NULL)
		goto out;
	params = malloc(mlp_spec_params(&m->spec) * sizeof(float));
	if (params == NULL) {
		apierr_set(&e, 503, "out_of_memory", "out of memory");
		api_reply_error(rs, &e);
		goto out;
	}
	if (codec_weights_decode(doc, &m->spec, params, &e) < 0) {
		api_reply_error(rs, &e);
		goto out;
	}
	if (trainer_set_weights(c->tr, m, params, &f) < 0) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		goto out;
	}
	reply_model(c, rs, 200, m);
out:
	free(params);
	json_decref(doc);
	registry_put(m);
}

/* POST /v1/models/{id}/restore {"version": N or alias}: the model's
 * weights and step go back to the version's (its loss history past that
 * step is dropped, as PUT .../weights does); 409 while a job runs. */
void
api_models_restore(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	json_t *doc = NULL, *v;
	static const char *const keys[] = { "version", NULL };
	store_version row;
	void *blob = NULL;
	size_t len = 0;
	mlp *net = NULL;
	uint64_t ver;
	const char *alias;
	int found;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if ((doc = api_body(rq, rs, 0)) == NULL)
		goto out;
	if (codec_check_keys(doc, keys, &e) < 0)
		goto fail;
	if ((v = json_object_get(doc, "version")) == NULL) {
		apierr_set(&e, 400, "missing_field", "version is required: "
		    "a version number or an alias");
		goto fail;
	}
	if (codec_version_value(v, "version", &ver, &alias, &e) < 0)
		goto fail;
	if (alias != NULL && !versions_alias_get(c->vs, m->id, alias, &ver)) {
		apierr_set(&e, 404, "alias_not_found", "model %s has no alias "
		    "'%s'", m->id, alias);
		goto fail;
	}
	found = store_version_get(c->st, m->id, ver, &row, &blob, &len, &f);
	if (found < 0)
		goto fault;
	if (found == 0) {
		api_no_version(&e, m->id, ver);
		goto fail;
	}
	if ((net = blob_load(blob, len, &m->spec, &f)) == NULL ||
	    trainer_restore_weights(c->tr, m, mlp_params_const(net, NULL),
	    row.step, row.loss, &f) < 0)
		goto fault;
	log_info("model %s restored to version %llu (step %llu)", m->id,
	    (unsigned long long)ver, (unsigned long long)row.step);
	reply_model(c, rs, 200, m);
	goto out;
fault:
	apierr_from_fault(&e, &f);
fail:
	api_reply_error(rs, &e);
out:
	mlp_destroy(net);
	free(blob);
	json_decref(doc);
	registry_put(m);
}
