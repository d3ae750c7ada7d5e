/*
 * api_history: a model's loss history, paged by step or by range.
 *
 * GET /v1/models/{id}/loss serves the training loss of every step or
 * (series=validation) the validation points, one by one or (every=K) in
 * windows of K steps (store_loss_windows), or (max_points=N, from, to) in
 * at most N exact buckets over a range (store_loss_range), as JSON or
 * (format=csv) CSV. Points made of stored buckets (steps older than the
 * raw window) say so ("bucket": true, "first", "count"). Each answer carries an ETag made of the model's
 * registry version and a hash of the parsed query, so a poller that sends
 * it back in If-None-Match gets 304 without a single SQLite read while the
 * model does not change. Every point carries the learning rate its step
 * ran at ("lr", the CSV's last column), from the job records (lr_trace.h).
 */
#include "api.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "lr_trace.h"

#define LIMIT_DEFAULT 1000
#define LIMIT_MAX 10000
#define EVERY_MAX 1000000
#define MAX_POINTS_MAX 10000

/* A loss request, parsed. */
typedef struct loss_query {
	store_series series;
	uint64_t since, limit;
	uint64_t every; /* 0: point by point */
	uint64_t max_points; /* 0: paged by since/limit */
	uint64_t from, to;   /* the range of max_points (to 0: the end) */
	int csv;        /* format=csv */
} loss_query;

/* A decimal query value in [lo, max], or -1 after replying 400. */
static int
query_u64(const http_request *rq, http_response *rs, const char *key,
	  uint64_t dflt, uint64_t lo, uint64_t max, uint64_t *out)
{
	const char *v;
	char *end;
	apierr e;

	*out = dflt;
	if (api_query(rq, rs, key, &v) < 0)
		return -1;
	if (v == NULL)
		return 0;
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (*v == '\0' || *v == '-' || *v == '+' || *end != '\0' || errno ||
	    *out < lo || *out > max) {
		apierr_set(&e, 400, "invalid_query", "%s must be an integer "
		    "between %llu and %llu", key, (unsigned long long)lo,
		    (unsigned long long)max);
		api_reply_error(rs, &e);
		return -1;
	}
	return 0;
}

/* One of names (NULL-ended) as query value key, or dflt when absent: its
 * index in *out; -1 after replying 400. */
static int
query_choice(const http_request *rq, http_response *rs, const char *key,
	     const char *const *names, int dflt, int *out)
{
	const char *v;
	apierr e;

	*out = dflt;
	if (api_query(rq, rs, key, &v) < 0)
		return -1;
	if (v == NULL)
		return 0;
	for (int i = 0; names[i]; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	apierr_set(&e, 400, "invalid_query", "%s must be %s or %s", key,
	    names[0], names[1]);
	api_reply_error(rs, &e);
	return -1;
}

/* Whether the query string has key (its value was checked already). */
static int
has_query(const http_request *rq, const char *key)
{
	return http_query(rq, key) != NULL;
}

/* Parses since, limit, every, format, series, max_points, from and to;
 * -1 after replying 400. */
static int
parse_query(const http_request *rq, http_response *rs, loss_query *q)
{
	static const char *const formats[] = { "json", "csv", NULL };
	static const char *const series[] = { "train", "validation", NULL };
	int fmt, ser;

	memset(q, 0, sizeof *q);
	if (query_u64(rq, rs, "since", 0, 0, (uint64_t)INT64_MAX,
	    &q->since) < 0 ||
	    query_u64(rq, rs, "limit", LIMIT_DEFAULT, 0, LIMIT_MAX,
	    &q->limit) < 0 ||
	    query_u64(rq, rs, "every", 0, 1, EVERY_MAX, &q->every) < 0 ||
	    query_choice(rq, rs, "format", formats, 0, &fmt) < 0 ||
	    query_choice(rq, rs, "series", series, 0, &ser) < 0 ||
	    query_u64(rq, rs, "max_points", 0, 1, MAX_POINTS_MAX,
	    &q->max_points) < 0 ||
	    query_u64(rq, rs, "from", 1, 1, (uint64_t)INT64_MAX,
	    &q->from) < 0 ||
	    query_u64(rq, rs, "to", 0, 1, (uint64_t)INT64_MAX, &q->to) < 0)
		return -1;
	if (q->max_points > 0 ? q->every > 0 || has_query(rq, "since") ||
	    has_query(rq, "limit") : has_query(rq, "from") ||
	    has_query(rq, "to")) {
		apierr e;

		apierr_set(&e, 400, "invalid_query", "max_points (with from "
		    "and to) cannot be combined with every, since or limit");
		api_reply_error(rs, &e);
		return -1;
	}
	if (q->to > 0 && q->to < q->from) {
		apierr e;

		apierr_set(&e, 400, "invalid_query", "to must not be less "
		    "than from");
		api_reply_error(rs, &e);
		return -1;
	}
	q->csv = fmt == 1;
	q->series = ser == 1 ? STORE_SERIES_VALIDATION : STORE_SERIES_TRAIN;
	return 0;
}

/* FNV-1a over the parsed query: the ETag tells its answers apart. */
static uint64_t
query_hash(const loss_query *q)
{
	uint64_t v[8] = { (uint64_t)q->series, q->since, q->limit, q->every,
		(uint64_t)q->csv, q->max_points, q->from, q->to };
	const unsigned char *b = (const unsigned char *)v;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < sizeof v; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The points q asks for, as windows (a single point is a window of one
 * step); 0, or -1 after replying. */
static int
fetch(api_ctx *c, const model_entry *m, const loss_query *q,
      store_loss_window **out, size_t *n, http_response *rs)
{
	apierr e;
	fault f;
	int rc;

	*out = NULL;
	*n = 0;
	if (q->max_points > 0)
		rc = store_loss_range(c->st, m->id, q->series, q->from,
		    q->to ? q->to : UINT64_MAX, (size_t)q->max_points, out, n,
		    &f);
	else
		rc = store_loss_windows(c->st, m->id, q->series,
		    q->every ? q->every : 1, q->since, (size_t)q->limit, out, n,
		    &f);
	if (rc == 0)
		return 0;
	apierr_from_fault(&e, &f);
	api_reply_error(rs, &e);
	return -1;
}

static json_t *
points_json(const loss_query *q, const store_loss_window *w, size_t n,
	    const lr_trace *lr)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *p = json_pack("{s:I,s:o}", "step",
		    (json_int_t)w[i].step, "loss", codec_real(w[i].loss));

		if (q->every > 0 || q->max_points > 0 || w[i].bucket) {
			json_object_set_new(p, "min", codec_real(w[i].min));
			json_object_set_new(p, "max", codec_real(w[i].max));
			json_object_set_new(p, "first",
			    json_integer((json_int_t)w[i].first));
			json_object_set_new(p, "count",
			    json_integer((json_int_t)w[i].count));
		}
		if (w[i].bucket)
			json_object_set_new(p, "bucket", json_true());
		if (q->series == STORE_SERIES_VALIDATION)
			json_object_set_new(p, "accuracy",
			    codec_real(w[i].accuracy));
		json_object_set_new(p, "time", codec_time_json(w[i].time_ms));
		json_object_set_new(p, "lr", codec_real(lr_trace_rate(lr,
		    w[i].step, w[i].time_ms)));
		json_array_append_new(arr, p);
	}
	return arr;
}

/* Appends a CSV field: %.9g, or nothing for a non-finite value. */
static size_t
csv_real(char *p, size_t cap, double v)
{
	int k = isfinite(v) ? snprintf(p, cap, ",%.9g", v) :
	    snprintf(p, cap, ",");

	return k > 0 ? (size_t)k : 0;
}

/* The points as CSV with a header line; malloc'd, NULL when out of
 * memory. */
static char *
points_csv(const loss_query *q, const store_loss_window *w, size_t n,
	   const lr_trace *lr, size_t *len)
{
	/* a row: a step, five reals, a time, separators; generously */
	const size_t row = 3 * 20 + 5 * 18 + 32 + 16;
	size_t cap, k;
	char *out, t[32];

	if (n > (SIZE_MAX - 64) / row)
		return NULL;
	cap = 64 + n * row;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	k = (size_t)snprintf(out, cap, "step%s,loss%s%s,time%s,lr\n",
	    q->max_points > 0 ? ",first,count" : "",
	    q->every > 0 || q->max_points > 0 ? ",min,max" : "",
	    q->series == STORE_SERIES_VALIDATION ? ",accuracy" : "",
	    q->max_points > 0 ? ",bucket" : "");
	for (size_t i = 0; i < n; i++) {
		k += (size_t)snprintf(out + k, cap - k, "%llu",
		    (unsigned long long)w[i].step);
		if (q->max_points > 0)
			k += (size_t)snprintf(out + k, cap - k, ",%llu,%llu",
			    (unsigned long long)w[i].first,
			    (unsigned long long)w[i].count);
		k += csv_real(out + k, cap - k, w[i].loss);
		if (q->every > 0 || q->max_points > 0) {
			k += csv_real(out + k, cap - k, w[i].min);
			k += csv_real(out + k, cap - k, w[i].max);
		}
		if (q->series == STORE_SERIES_VALIDATION)
			k += csv_real(out + k, cap - k, w[i].accuracy);
		codec_time(w[i].time_ms, t);
		k += (size_t)snprintf(out + k, cap - k, ",%s%s", t,
		    q->max_points == 0 ? "" : w[i].bucket ? ",true" : ",false");
		k += csv_real(out + k, cap - k, lr_trace_rate(lr, w[i].step,
		    w[i].time_ms));
		out[k++] = '\n';
	}
	*len = k;
	return out;
}

/* The rates of m's steps (lr_trace.h), read after the points; NULL
 * after replying. */
static lr_trace *
trace(api_ctx *c, model_entry *m, http_response *rs)
{
	lr_trace *lr;
	apierr e;
	fault f;

	if ((lr = lr_trace_load(c->st, m->id, m->spec.opt.lr, &f)) == NULL) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
	}
	return lr;
}

/* On a request worker: reads and renders the rows, after
 * api_history_loss checked the ETag (which stays in rs). */
static void
history_read(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	loss_query q;
	store_loss_window *w = NULL;
	size_t n = 0;
	lr_trace *lr = NULL;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	if (parse_query(rq, rs, &q) < 0 || fetch(c, m, &q, &w, &n, rs) < 0 ||
	    (lr = trace(c, m, rs)) == NULL)
		goto out;
	if (q.csv) {
		size_t len = 0;
		char *text = points_csv(&q, w, n, lr, &len);

		if (text == NULL) {
			apierr e;

			apierr_set(&e, 503, "out_of_memory", "out of memory");
			api_reply_error(rs, &e);
			goto out;
		}
		http_reply(rs, 200, text, len);
		rs->content_type = "text/csv";
		goto out;
	}
	api_reply_json(rs, 200, json_pack("{s:o,s:I}", "points",
	    points_json(&q, w, n, lr), "next_since",
	    (json_int_t)(n ? w[n - 1].step : q.since)));
out:
	lr_trace_destroy(lr);
	free(w);
	registry_put(m);
}

/* Inline: the query and the ETag (a 304 reads nothing); the rows are read
 * on a request worker. */
void
api_history_loss(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	loss_query q;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	/* the version before the rows (see registry.h) */
	if (parse_query(rq, rs, &q) == 0 &&
	    !api_etag(c, rq, rs, registry_model_version(m), query_hash(&q)))
		http_defer(rs, history_read);
	registry_put(m);
}
