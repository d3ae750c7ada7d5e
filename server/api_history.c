/*
 * api_history: a model's loss history, paged by step.
 */
#include "api.h"

#include <errno.h>
#include <stdlib.h>

#include "codec.h"

#define LIMIT_DEFAULT 1000
#define LIMIT_MAX 10000

/* A non-negative decimal query value, or -1 after replying 400. */
static int
query_u64(const http_request *rq, http_response *rs, const char *key,
	  uint64_t dflt, uint64_t max, uint64_t *out)
{
	const char *v = http_query(rq, key);
	char *end;
	apierr e;

	*out = dflt;
	if (v == NULL)
		return 0;
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (*v == '\0' || *v == '-' || *v == '+' || *end != '\0' || errno ||
	    *out > max) {
		apierr_set(&e, 400, "invalid_query", "%s must be an integer "
		    "between 0 and %llu", key, (unsigned long long)max);
		api_reply_error(rs, &e);
		return -1;
	}
	return 0;
}

void
api_history_loss(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	uint64_t since, limit;
	store_loss_point *pts = NULL;
	size_t n = 0;
	json_t *arr;
	apierr e;
	fault f;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	if (query_u64(rq, rs, "since", 0, (uint64_t)INT64_MAX, &since) < 0 ||
	    query_u64(rq, rs, "limit", LIMIT_DEFAULT, LIMIT_MAX, &limit) < 0)
		goto out;
	if (store_loss_query(c->st, m->id, since, (size_t)limit, &pts, &n,
	    &f) < 0) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:I,s:o,s:o}", "step",
		    (json_int_t)pts[i].step, "loss", codec_real(pts[i].loss),
		    "time", codec_time_json(pts[i].time_ms)));
	api_reply_json(rs, 200, json_pack("{s:o,s:I}", "points", arr,
	    "next_since", (json_int_t)(n ? pts[n - 1].step : since)));
out:
	free(pts);
	registry_put(m);
}
