/*
 * api: helpers the resource handlers share (see api.h).
 */
#include "api.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "ids.h"

void
api_reply_json(http_response *rs, int status, json_t *doc)
{
	size_t len = 0;
	char *text = codec_dump(doc, &len);

	if (text == NULL) {
		apierr e;

		apierr_set(&e, 500, "internal_error", "the response could not "
		    "be encoded");
		http_reply_error(rs, &e);
		return;
	}
	http_reply(rs, status, text, len);
}

void
api_reply_error(http_response *rs, const apierr *e)
{
	http_reply_error(rs, e);
}

model_entry *
api_model(api_ctx *c, const http_request *rq, http_response *rs)
{
	const char *id = rq->params[0];
	model_entry *m = ids_valid(id) ? registry_get(c->reg, id) : NULL;

	/* a shared store: another node may have just created it */
	if (m == NULL && c->peers != NULL && ids_valid(id))
		m = peers_fetch(c->peers, id);
	if (m == NULL) {
		apierr e;

		apierr_set(&e, 404, "model_not_found", "no model with id "
		    "'%.60s'", id);
		http_reply_error(rs, &e);
	}
	return m;
}

json_t *
api_body(const http_request *rq, http_response *rs, int empty_ok)
{
	apierr e;
	json_t *doc = codec_parse_object(rq->body, rq->body_len, empty_ok, &e);

	if (doc == NULL)
		http_reply_error(rs, &e);
	return doc;
}

int
api_check_open(api_ctx *c, http_response *rs)
{
	apierr e;

	if (!atomic_load(&c->shutting_down))
		return 0;
	apierr_set(&e, 503, "shutting_down", "mlpd is shutting down");
	e.retry_after = 5;
	http_reply_error(rs, &e);
	return -1;
}

int
api_models_reserve(api_ctx *c, size_t params, apierr *e)
{
	size_t max_models = c->max_models;
	size_t max_params = c->max_params;
	size_t had;

	/* add first, then look: two requests racing for the last slot
	 * cannot both get it (one may fail that a moment later would not) */
	had = atomic_fetch_add(&c->models_held, 1);
	if (had >= max_models) {
		atomic_fetch_sub(&c->models_held, 1);
		return apierr_set(e, 422, "limit_exceeded", "mlpd holds %zu "
		    "models; --max-models allows %zu: delete one first", had,
		    max_models);
	}
	had = atomic_fetch_add(&c->params_held, params);
	if (params > max_params || had > max_params - params) {
		atomic_fetch_sub(&c->params_held, params);
		atomic_fetch_sub(&c->models_held, 1);
		return apierr_set(e, 422, "limit_exceeded", "the models hold "
		    "%zu weights and biases; %zu more would pass the %zu "
		    "--max-params allows for all of them together", had,
		    params, max_params);
	}
	return 0;
}

void
api_models_release(api_ctx *c, size_t params)
{
	atomic_fetch_sub(&c->params_held, params);
	atomic_fetch_sub(&c->models_held, 1);
}

int
api_etag(api_ctx *c, const http_request *rq, http_response *rs,
	 uint64_t version, uint64_t variant)
{
	char tag[64];

	snprintf(tag, sizeof tag, "\"%016llx-%llx-%llx\"",
	    (unsigned long long)registry_epoch(c->reg),
	    (unsigned long long)version, (unsigned long long)variant);
	return http_etag_check(rq, rs, tag);
}

/* What count_key counts: the occurrences of key among the arguments. */
struct key_count {
	const char *key;
	unsigned n;
};

static enum MHD_Result
count_key(void *arg, enum MHD_ValueKind kind, const char *key,
	  const char *value)
{
	struct key_count *k = arg;

	(void)kind;
	(void)value;
	if (key != NULL && strcmp(key, k->key) == 0)
		k->n++;
	return MHD_YES;
}

int
api_query(const http_request *rq, http_response *rs, const char *key,
	  const char **value)
{
	struct key_count k = { key, 0 };
	apierr e;

	*value = NULL;
	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, count_key,
	    &k);
	if (k.n > 1) {
		apierr_set(&e, 400, "invalid_query", "the query parameter "
		    "'%s' is given %u times: give it once", key, k.n);
		http_reply_error(rs, &e);
		return -1;
	}
	*value = http_query(rq, key);
	return 0;
}

int
api_version_number(api_ctx *c, model_entry *m, const char *target,
		   const char *what, http_response *rs, uint64_t *version)
{
	const char *alias;
	apierr e;

	if (codec_version_target(target, what, version, &alias, &e) < 0) {
		http_reply_error(rs, &e);
		return -1;
	}
	if (alias != NULL && !versions_alias_get(c->vs, m->id, alias,
	    version)) {
		apierr_set(&e, 404, "alias_not_found", "model %s has no alias "
		    "'%s'", m->id, alias);
		http_reply_error(rs, &e);
		return -1;
	}
	return 0;
}

int
api_no_version(apierr *e, const char *model_id, uint64_t ver)
{
	return apierr_set(e, 404, "version_not_found", "model %s has no "
	    "version %llu", model_id, (unsigned long long)ver);
}
