/*
 * codec: JSON <-> the daemon's values, with all input validation in one
 * place.
 *
 * Decoders take a parsed request object and either fill their outputs
 * completely or fill an apierr (400 for wrong JSON types, missing,
 * duplicate or unknown fields; 422 for well-formed but wrong values) and
 * leave nothing allocated. Encoders build jansson values the caller dumps
 * with codec_dump, which prints reals with 9 significant digits (enough to
 * round-trip a float32). codec knows core's types, the store's plain
 * rows and the engine's plain views (registry_view, events_item: it is
 * the events hub's renderer), never HTTP or SQLite.
 */
#ifndef MLPD_CODEC_H
#define MLPD_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "apierr.h"
#include "events.h"
#include "mlp.h"
#include "registry.h"
#include "store.h"
#include "trainer_opts.h"

#define CODEC_NAME_MAX 200 /* bytes of a model name */

/* The caps a daemon puts on what one request may ask for (its --max-*
 * flags; config.h). A decoder that takes one answers a request past a cap
 * with 422 limit_exceeded naming the flag, before it allocates anything
 * for the request's rows; NULL means the core's own maxima. */
typedef struct codec_limits {
	size_t max_layer_width;  /* units in any layer of a new model */
	size_t max_params;       /* weights + biases of one new model */
	size_t max_batch_rows;   /* rows in one matrix of a request */
	size_t max_batch_values; /* rows x the sum of the layer sizes */
} codec_limits;


/* Caps the memory jansson may allocate while codec_parse_object decodes
 * one body (0: no cap); past it the parse fails with 413 body_too_large.
 * It installs jansson's allocator hooks, which are process-wide: call it
 * before any thread uses jansson (daemon_start does). */
void codec_json_cap(size_t bytes);

/* Caps the memory of the next codec_parse_object on this thread at what
 * a body of as many rows of s's inputs as lim allows takes (a predict
 * body); past it the parse fails with 422 limit_exceeded, early, before
 * the tree of a body far past the caps is built. s NULL: no such cap.
 * The cap holds for that one parse only. */
void codec_json_cap_rows(const mlp_spec *s, const codec_limits *lim);

/* Parses a request body that must be one JSON object. Empty bodies are an
 * error unless empty_ok, which yields an empty object. */
json_t *codec_parse_object(const char *body, size_t len, int empty_ok,
			   apierr *e);

/* 400 unknown_field unless every key of obj is in allowed (NULL-ended). */
int codec_check_keys(json_t *obj, const char *const *allowed, apierr *e);

/* POST /v1/models body -> spec and name (malloc'd, caller frees). lim
 * (may be NULL) caps the layer widths and the parameters of the model. */
int codec_model_spec(json_t *obj, uint64_t default_seed,
		     const codec_limits *lim, mlp_spec *spec, char **name,
		     apierr *e);

/* Values one row takes through s: the sum of its layer sizes (what
 * max_batch_values counts per row). */
size_t codec_row_values(const mlp_spec *s);

/* 422 limit_exceeded unless rows rows of a request for spec s stay within
 * lim's max_batch_rows and max_batch_values (NULL: always 0); field names
 * the rows in the message. For decoders that do not go through codec
 * (CSV bodies, a train job's batch_size). */
int codec_check_rows(const mlp_spec *s, size_t rows, const codec_limits *lim,
		     const char *field, apierr *e);

/* A JSON array of rows of width numbers -> a malloc'd rows x width block;
 * field names the array in messages. */
int codec_matrix(json_t *arr, const char *field, size_t width, float **out,
		 size_t *rows, apierr *e);

/* {"inputs", "targets"[, "learning_rate"]} for spec s: two malloc'd
 * blocks with equal row counts. lr (when not NULL) accepts the optional
 * learning_rate and gets 0 when it is absent. */
int codec_batch(json_t *obj, const mlp_spec *s, const codec_limits *lim,
		float **x, float **y, size_t *n, double *lr, apierr *e);

/* {"inputs": [[...]]} or {"input": [...]}; *single says which. */
int codec_predict_request(json_t *obj, const mlp_spec *s,
			  const codec_limits *lim, float **x, size_t *n,
			  int *single, apierr *e);

json_t *codec_predict_response(const float *out, size_t n, size_t width,
			       int single, uint64_t step);

/* Train options; obj may be an empty object. It may also hold a
 * "validation" set, which codec_validation decodes. */
int codec_train_opts(json_t *obj, train_opts *o, apierr *e);

/* The optional "validation": {"inputs", "targets"} of obj (a train or
 * step request) for spec s, checked like a batch: two malloc'd blocks of
 * *n rows, or *n == 0 and NULL blocks when obj has none. */
int codec_validation(json_t *obj, const mlp_spec *s,
		     const codec_limits *lim, float **x, float **y, size_t *n,
		     apierr *e);

/* A /step body: codec_batch's {"inputs", "targets", "learning_rate"?}
 * plus an optional validation set as codec_validation decodes it. */
int codec_step(json_t *obj, const mlp_spec *s, const codec_limits *lim,
	       float **x, float **y, size_t *n, double *lr, float **vx,
	       float **vy, size_t *vn, apierr *e);

/* Train options as compact JSON text (malloc'd) for the job row. */
char *codec_train_opts_text(const train_opts *o);

/* {"step", "layers": [{"weights": [[...]], "biases": [...]}]} */
json_t *codec_weights_encode(const mlp_spec *s, const float *params,
			     uint64_t step);

/* The same shape -> params (mlp_spec_params(s) floats, caller-owned). */
int codec_weights_decode(json_t *obj, const mlp_spec *s, float *params,
			 apierr *e);

/* A model as GET /v1/models/{id} shows it; its "status" is "training"
 * while a job runs, "queued" while one waits, else "idle". */
json_t *codec_model_json(const registry_view *m);

/* A job as GET /v1/jobs/{id} shows it. */
json_t *codec_job_json(const store_job *j);

/* The data text of an event's SSE frame (the events hub's renderer, see
 * events_render): compact JSON, malloc'd, its length in *len; NULL when
 * out of memory. */
char *codec_event(const events_item *it, size_t *len);

/* A real, or null for NaN/Inf. */
json_t *codec_real(double v);

/* f as the double with the fewest significant digits (at most 9) that
 * rounds to f in float32 (0.001 rather than 0.00100000005); a non-finite
 * f as it is. */
double codec_shortest(float f);

/* RFC 3339 UTC with milliseconds, e.g. 2026-11-27T23:59:01.123Z. */
void codec_time(int64_t ms, char out[32]);

/* A time value, or null for 0. */
json_t *codec_time_json(int64_t ms);

/* Dumps and releases doc; malloc'd text and its length, NULL on failure. */
char *codec_dump(json_t *doc, size_t *len);

/* ---- versions and aliases ---- */

/* Checks an alias's syntax: 1 to 63 of [A-Za-z0-9_.-], starting with a
 * letter (so that it never reads as a version number); 400
 * invalid_alias. */
int codec_alias_check(const char *name, apierr *e);

/* A version target as a path segment or query value: a number >= 1
 * (*version set, *alias NULL) or an alias (*alias = s); 400 otherwise,
 * naming what (e.g. "the version query parameter"). */
int codec_version_target(const char *s, const char *what, uint64_t *version,
			 const char **alias, apierr *e);

/* The body of POST .../versions: {} or {"name": "..."} (at most 128
 * bytes, checked as a model's name); *name is borrowed from obj or
 * NULL. */
int codec_version_request(json_t *obj, const char **name, apierr *e);

/* The body of PUT .../aliases/{name}: {"version": N} (N >= 1). */
int codec_alias_request(json_t *obj, uint64_t *version, apierr *e);

/* The name field of obj (a model's: at most CODEC_NAME_MAX bytes, no
 * control or bidirectional formatting characters), as a malloc'd copy in
 * *name ("" when absent). */
int codec_model_name(json_t *obj, char **name, apierr *e);

/* The "from" object of POST /v1/models: {"model": id, "version": N or
 * alias}; *model and *alias are borrowed from from. */
int codec_from_request(json_t *from, const char **model, uint64_t *version,
		       const char **alias, apierr *e);

/* A JSON version value v: an integer >= 1 (*version) or an alias string
 * (*alias, borrowed from v); errors name field. */
int codec_version_value(json_t *v, const char *field, uint64_t *version,
			const char **alias, apierr *e);

/* A version as the API shows it; aliases (n of them, any model's) name
 * the ones that point to it. */
json_t *codec_version_json(const store_version *v, const store_alias *aliases,
			   size_t n);

/* An alias as the API shows it. */
json_t *codec_alias_json(const store_alias *a);

/* n aliases as a JSON array. */
json_t *codec_aliases_json(const store_alias *a, size_t n);

#endif
