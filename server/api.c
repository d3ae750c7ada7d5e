/*
 * api: helpers the resource handlers share (see api.h).
 */
#include "api.h"

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
api_etag(api_ctx *c, const http_request *rq, http_response *rs,
	 uint64_t version, uint64_t variant)
{
	char tag[64];

	snprintf(tag, sizeof tag, "\"%016llx-%llx-%llx\"",
	    (unsigned long long)registry_epoch(c->reg),
	    (unsigned long long)version, (unsigned long long)variant);
	return http_etag_check(rq, rs, tag);
}
