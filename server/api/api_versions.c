/*
 * api_versions: a model's versions (immutable copies of its weights) and
 * aliases (names for versions): create, list, read, export and delete
 * versions; list, set, move and remove aliases. Predictions pinned to a
 * version or an alias are api_predict's; restoring a model to a version
 * and creating a model from one are api_models'.
 */
#include "api.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "codec.h"
#include "log.h"
#include "wallclock.h"

#define LIST_LIMIT_DEFAULT 100 /* versions per page */
#define LIST_LIMIT_MAX 1000

/* A blob (core/blob.h) of the weights and step of snapshot s, with the
 * optimizer state zeroed: what a version keeps. */
static int
snapshot_blob(const mlp_snapshot *s, void **blob, size_t *len, fault *f)
{
	mlp *m = mlp_create(mlp_snapshot_spec(s), f);
	size_t n;
	int rc;

	if (m == NULL)
		return -1;
	memcpy(mlp_params(m, &n), mlp_snapshot_params(s, NULL),
	    mlp_spec_params(mlp_snapshot_spec(s)) * sizeof(float));
	mlp_set_step(m, mlp_snapshot_step(s));
	rc = blob_save(m, blob, len, f);
	mlp_destroy(m);
	return rc;
}

/* Answers status with version row v of m (and the aliases naming it). */
static void
reply_version(api_ctx *c, http_response *rs, int status, model_entry *m,
	      const store_version *v)
{
	size_t n;
	store_alias *al = versions_aliases_of(c->vs, m->id, &n);

	api_reply_json(rs, status, codec_version_json(v, al, n));
	free(al);
}

/* POST /v1/models/{id}/versions: saves the weights predictions see now.
 * The snapshot holds weights and their step together (the registry
 * publishes both at once), so a version taken while a job trains is
 * never torn. */
void
api_versions_create(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	json_t *doc = NULL;
	const char *name;
	mlp_snapshot *s = NULL;
	void *blob = NULL;
	size_t len = 0;
	store_version_new nv;
	store_version row;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if ((doc = api_body(rq, rs, 1)) == NULL)
		goto out;
	if (codec_version_request(doc, &name, &e) < 0)
		goto fail;
	s = registry_snapshot(m);
	if (snapshot_blob(s, &blob, &len, &f) < 0)
		goto fault;
	memset(&nv, 0, sizeof nv);
	nv.model_id = m->id;
	nv.blob = blob;
	nv.blob_len = len;
	nv.step = mlp_snapshot_step(s);
	nv.from_history = 1;
	nv.name = name;
	nv.max_versions = c->max_versions;
	nv.now_ms = wallclock_ms();
	if (store_version_create(c->st, &nv, &row, &f) < 0)
		goto fault;
	log_info("model %s: version %llu saved at step %llu", m->id,
	    (unsigned long long)row.version, (unsigned long long)row.step);
	snprintf(rs->location, sizeof rs->location, "/v1/models/%s/versions/"
	    "%llu", m->id, (unsigned long long)row.version);
	reply_version(c, rs, 201, m, &row);
	goto out;
fault:
	apierr_from_fault(&e, &f);
fail:
	api_reply_error(rs, &e);
out:
	free(blob);
	mlp_snapshot_unref(s);
	json_decref(doc);
	registry_put(m);
}

/* Parses ?limit and ?after (a version number); -1 after replying 400. */
static int
list_parse(const http_request *rq, http_response *rs, size_t *limit,
	   uint64_t *after)
{
	const char *l, *a;
	char *end;
	unsigned long long v;
	apierr e;

	*limit = LIST_LIMIT_DEFAULT;
	*after = 0;
	if (api_query(rq, rs, "limit", &l) < 0 ||
	    api_query(rq, rs, "after", &a) < 0)
		return -1;
	if (l != NULL) {
		errno = 0;
		v = strtoull(l, &end, 10);
		if (*l < '0' || *l > '9' || *end != '\0' || errno || v < 1 ||
		    v > LIST_LIMIT_MAX) {
			apierr_set(&e, 400, "invalid_query", "limit must be "
			    "an integer between 1 and %d", LIST_LIMIT_MAX);
			goto fail;
		}
		*limit = (size_t)v;
	}
	if (a != NULL) {
		errno = 0;
		v = strtoull(a, &end, 10);
		if (*a < '0' || *a > '9' || *end != '\0' || errno ||
		    v > INT64_MAX) {
			apierr_set(&e, 400, "invalid_query", "after must be a "
			    "version number");
			goto fail;
		}
		*after = v;
	}
	return 0;
fail:
	api_reply_error(rs, &e);
	return -1;
}

/* GET /v1/models/{id}/versions: a page of versions, oldest first, and
 * all the model's aliases. */
void
api_versions_list(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	store_version *v = NULL;
	store_alias *al = NULL;
	size_t n = 0, nal = 0, limit;
	uint64_t after;
	json_t *arr, *doc;
	apierr e;
	fault f;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	if (list_parse(rq, rs, &limit, &after) < 0)
		goto out;
	/* one more than asked: is there a next page? */
	if (store_versions_list(c->st, m->id, after, limit + 1, &v, &n,
	    &f) < 0) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		goto out;
	}
	al = versions_aliases_of(c->vs, m->id, &nal);
	arr = json_array();
	for (size_t i = 0; i < n && i < limit; i++)
		json_array_append_new(arr, codec_version_json(&v[i], al, nal));
	doc = json_pack("{s:o, s:o}", "versions", arr, "aliases",
	    codec_aliases_json(al, nal));
	if (n > limit)
		json_object_set_new(doc, "next_after", json_integer(
		    (json_int_t)v[limit - 1].version));
	api_reply_json(rs, 200, doc);
out:
	free(v);
	free(al);
	registry_put(m);
}

/* The version row named by the second path parameter: 1 with *row (and
 * *blob when blob is not NULL), else 0 after replying. */
static int
version_of(api_ctx *c, const http_request *rq, http_response *rs,
	   model_entry *m, store_version *row, void **blob, size_t *len)
{
	uint64_t ver;
	apierr e;
	fault f;
	int rc;

	if (api_version_number(c, m, rq->params[1], "the version in the path",
	    rs, &ver) < 0)
		return 0;
	rc = store_version_get(c->st, m->id, ver, row, blob, len, &f);
	if (rc < 0)
		apierr_from_fault(&e, &f);
	else if (rc == 0)
		api_no_version(&e, m->id, ver);
	if (rc <= 0)
		api_reply_error(rs, &e);
	return rc > 0;
}

void
api_versions_get(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	store_version row;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	if (version_of(c, rq, rs, m, &row, NULL, NULL))
		reply_version(c, rs, 200, m, &row);
	registry_put(m);
}

/* The net of version {v} of m, loaded from its blob; NULL after replying
 * (no such version, or a damaged blob). */
static mlp *
version_net(api_ctx *c, const http_request *rq, http_response *rs,
	    model_entry *m, store_version *row)
{
	void *blob = NULL;
	size_t len = 0;
	mlp *net;
	apierr e;
	fault f;

	if (!version_of(c, rq, rs, m, row, &blob, &len))
		return NULL;
	if ((net = blob_load(blob, len, &m->spec, &f)) == NULL) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
	}
	free(blob);
	return net;
}

/* GET .../versions/{v}/onnx: the version as GET .../onnx exports the
 * model, its number in the metadata. */
void
api_versions_onnx(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	store_version row;
	mlp *net;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	if ((net = version_net(c, rq, rs, m, &row)) != NULL) {
		api_onnx_reply(rs, m->name, &m->spec, mlp_params_const(net,
		    NULL), mlp_step(net), row.version);
		mlp_destroy(net);
	}
	registry_put(m);
}

/* GET .../versions/{v}/weights: as GET .../weights shows the model's. */
void
api_versions_weights(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	store_version row;
	mlp *net;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	if ((net = version_net(c, rq, rs, m, &row)) != NULL) {
		api_reply_json(rs, 200, codec_weights_encode(&m->spec,
		    mlp_params_const(net, NULL), mlp_step(net)));
		mlp_destroy(net);
	}
	registry_put(m);
}

/* DELETE .../versions/{v}[?drop_aliases=true]: 409 version_aliased while
 * an alias names it, unless the request drops those aliases too. */
void
api_versions_delete(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	const char *drop;
	uint64_t ver;
	store_vdel what;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if (api_query(rq, rs, "drop_aliases", &drop) < 0)
		goto out;
	if (drop != NULL && strcmp(drop, "true") != 0 &&
	    strcmp(drop, "false") != 0) {
		apierr_set(&e, 400, "invalid_query", "drop_aliases must be "
		    "true or false");
		goto fail;
	}
	if (api_version_number(c, m, rq->params[1], "the version in the path",
	    rs, &ver) < 0)
		goto out;
	if (versions_delete(c->vs, m->id, ver, drop != NULL &&
	    strcmp(drop, "true") == 0, &what, &f) < 0) {
		apierr_from_fault(&e, &f);
		goto fail;
	}
	if (what == STORE_VDEL_MISSING) {
		api_no_version(&e, m->id, ver);
		goto fail;
	}
	if (what == STORE_VDEL_ALIASED) {
		apierr_set(&e, 409, "version_aliased", "an alias names version "
		    "%llu of model %s: move or remove it first, or delete "
		    "with ?drop_aliases=true", (unsigned long long)ver, m->id);
		goto fail;
	}
	log_info("model %s: version %llu deleted", m->id,
	    (unsigned long long)ver);
	http_reply(rs, 204, NULL, 0);
	goto out;
fail:
	api_reply_error(rs, &e);
out:
	registry_put(m);
}

/* GET /v1/models/{id}/aliases, from memory. */
void
api_aliases_list(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	store_alias *al;
	size_t n;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	al = versions_aliases_of(c->vs, m->id, &n);
	api_reply_json(rs, 200, json_pack("{s:o}", "aliases",
	    codec_aliases_json(al, n)));
	free(al);
	registry_put(m);
}

/* The alias in the path after checking its syntax; NULL after 400. */
static const char *
alias_param(const http_request *rq, http_response *rs)
{
	apierr e;

	if (codec_alias_check(rq->params[1], &e) < 0) {
		api_reply_error(rs, &e);
		return NULL;
	}
	return rq->params[1];
}

/* PUT /v1/models/{id}/aliases/{name} {"version": N}: sets or moves it in
 * one step; predictions through it switch from one version to the other
 * at one instant. */
void
api_aliases_put(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	json_t *doc = NULL;
	const char *name;
	store_alias a;
	uint64_t ver;
	int rc;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if ((name = alias_param(rq, rs)) == NULL ||
	    (doc = api_body(rq, rs, 0)) == NULL)
		goto out;
	if (codec_alias_request(doc, &ver, &e) < 0)
		goto fail;
	memset(&a, 0, sizeof a);
	snprintf(a.model_id, sizeof a.model_id, "%s", m->id);
	snprintf(a.name, sizeof a.name, "%s", name);
	a.version = ver;
	a.updated_ms = wallclock_ms();
	rc = versions_alias_set(c->vs, m->id, name, ver, a.updated_ms, &f);
	if (rc < 0) {
		apierr_from_fault(&e, &f);
		goto fail;
	}
	if (rc == 0) {
		api_no_version(&e, m->id, ver);
		goto fail;
	}
	log_info("model %s: alias %s -> version %llu", m->id, name,
	    (unsigned long long)ver);
	api_reply_json(rs, 200, codec_alias_json(&a));
	goto out;
fail:
	api_reply_error(rs, &e);
out:
	json_decref(doc);
	registry_put(m);
}

void
api_aliases_delete(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	const char *name;
	int rc;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if ((name = alias_param(rq, rs)) == NULL)
		goto out;
	rc = versions_alias_delete(c->vs, m->id, name, &f);
	if (rc < 0)
		apierr_from_fault(&e, &f);
	else if (rc == 0)
		apierr_set(&e, 404, "alias_not_found", "model %s has no alias "
		    "'%s'", m->id, name);
	if (rc <= 0)
		api_reply_error(rs, &e);
	else
		http_reply(rs, 204, NULL, 0);
out:
	registry_put(m);
}
