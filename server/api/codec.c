/*
 * codec: JSON decoding with validation, and encoding (see codec.h).
 */
#include "codec.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec_int.h"
#include "ids.h"

/* The JSON memory cap: jansson allocates through capped_malloc, which
 * counts what one parse on this thread allocates (frees are not
 * subtracted, so this is an upper bound of the tree it builds). It never
 * refuses an allocation: jansson 2.14's lexer does not survive a NULL (a
 * string whose token buffer could not grow is then copied past the end of
 * that buffer, a heap overflow that tests/fuzz found). Instead the body
 * reaches jansson in PARSE_CHUNK pieces through read_body, which ends the
 * input once the count has passed json_cap; jansson handles that like any
 * truncated body. A parse can so overshoot the cap by what one chunk makes
 * it allocate, plus one doubling of a buffer or an array's table. Outside
 * codec_parse_object nothing is counted. */
#define PARSE_CHUNK 1024
static size_t json_cap;
static _Thread_local int parse_on;    /* a capped parse runs here */
static _Thread_local size_t parse_used;
static _Thread_local size_t parse_cap; /* this parse's cap */
static _Thread_local int parse_hit;   /* it ran into the cap */
/* codec_json_cap_rows: the next parse's own, smaller cap (0: none) and
 * what it allows, for the message */
static _Thread_local size_t rows_cap, rows_allowed, rows_width;

static void *
capped_malloc(size_t n)
{
	if (parse_on && !parse_hit) {
		if (n > parse_cap - parse_used)
			parse_hit = 1;
		else
			parse_used += n;
	}
	return malloc(n);
}

/* What is left of a body for read_body to hand jansson. */
typedef struct body_reader {
	const char *p;
	size_t left;
} body_reader;

/* json_load_callback's source: the next chunk, or the end of the input
 * once the parse ran into the cap ((size_t)-1, which jansson takes as
 * the end, like 0). */
static size_t
read_body(void *buf, size_t buflen, void *data)
{
	body_reader *r = data;
	size_t n = r->left < buflen ? r->left : buflen;

	if (parse_hit)
		return (size_t)-1;
	if (n > PARSE_CHUNK)
		n = PARSE_CHUNK;
	memcpy(buf, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

void
codec_json_cap(size_t bytes)
{
	json_cap = bytes;
	json_set_alloc_funcs(capped_malloc, free);
}

/* Bytes jansson allocates (as capped_malloc counts them) for one row of
 * w numbers, at most: 24 a number, 40 for the row's array, and its
 * tables (8 slots, doubled as it fills: at most 32 w + 64 bytes counting
 * each table it had), plus the outer array's tables (32 a row). Measured
 * with jansson 2.14 for w = 1..70 (worst just past a power of two). */
#define ROW_TREE(w) (120 + 56 * (size_t)(w))
/* What else a body the rows fit in may make jansson allocate: the
 * object, its keys, the lexer's buffer. */
#define ROWS_SLACK ((size_t)1 << 20)

static size_t row_values(const mlp_spec *s);

void
codec_json_cap_rows(const mlp_spec *s, const codec_limits *lim)
{
	size_t rows, rv, w;

	rows_cap = 0;
	if (s == NULL || lim == NULL)
		return;
	w = s->sizes[0];
	rv = row_values(s);
	rows = lim->max_batch_rows;
	if (rv > 0 && lim->max_batch_values / rv < rows)
		rows = lim->max_batch_values / rv;
	if (rows == 0)
		rows = 1; /* a single input is always decoded */
	if (rows > (SIZE_MAX - ROWS_SLACK) / ROW_TREE(w))
		return;
	rows_cap = rows * ROW_TREE(w) + ROWS_SLACK;
	rows_allowed = rows;
	rows_width = w;
}

json_t *
codec_parse_object(const char *body, size_t len, int empty_ok, apierr *e)
{
	json_error_t err;
	json_t *doc;
	body_reader r = { body, len };
	size_t i = 0, cap = json_cap, by_rows = rows_cap;
	const char *nul;

	while (i < len && (body[i] == ' ' || body[i] == '\n' ||
	    body[i] == '\r' || body[i] == '\t'))
		i++;
	if (i == len) {
		if (empty_ok)
			return json_object();
		apierr_set(e, 400, "malformed_json", "the request body is "
		    "empty; a JSON object is required");
		return NULL;
	}
	rows_cap = 0; /* for this parse only */
	if (by_rows > 0 && (cap == 0 || by_rows < cap))
		cap = by_rows;
	else
		by_rows = 0;
	parse_cap = cap;
	parse_on = cap > 0;
	parse_used = 0;
	parse_hit = 0;
	doc = json_load_callback(read_body, &r, JSON_REJECT_DUPLICATES, &err);
	parse_on = 0;
	/* A raw NUL byte is never JSON (a string's must be escaped), but
	 * jansson's lexer drops one that follows a number or a literal (its
	 * lookahead is put back into a buffer NUL-terminated, and lost), so
	 * {"a":1<NUL>} parsed. Refused here, unless jansson stopped on an
	 * error before reaching it: the streaming decoder answers alike. */
	if ((nul = memchr(body, '\0', len)) != NULL && !parse_hit &&
	    (doc != NULL || (size_t)err.position > (size_t)(nul - body))) {
		json_decref(doc);
		apierr_set(e, 400, "malformed_json", "malformed JSON: a NUL "
		    "byte at offset %zu", (size_t)(nul - body));
		return NULL;
	}
	if (parse_hit && by_rows > 0) {
		json_decref(doc);
		apierr_set(e, 422, "limit_exceeded", "decoding this JSON body "
		    "would take more memory than the %zu rows of %zu inputs "
		    "that --max-batch-rows and --max-batch-values allow in one "
		    "request need (%zu bytes); send fewer rows at a time",
		    rows_allowed, rows_width, by_rows);
		return NULL;
	}
	if (parse_hit) {
		/* a document that parsed anyway saw only part of the body */
		json_decref(doc);
		apierr_set(e, 413, "body_too_large", "decoding this JSON body "
		    "would take more than %zu bytes of memory; send fewer rows "
		    "at a time, or CSV", json_cap);
		return NULL;
	}
	if (doc == NULL) {
		switch (json_error_code(&err)) {
		case json_error_duplicate_key:
			apierr_set(e, 400, "duplicate_key", "%s (line %d, "
			    "column %d)", err.text, err.line, err.column);
			break;
		case json_error_numeric_overflow:
			apierr_set(e, 422, "non_finite", "a number is too "
			    "large to represent (line %d, column %d)",
			    err.line, err.column);
			break;
		case json_error_out_of_memory:
			apierr_set(e, 503, "out_of_memory", "out of memory "
			    "parsing the body");
			e->retry_after = 5;
			break;
		default:
			apierr_set(e, 400, "malformed_json", "malformed JSON: "
			    "%s (line %d, column %d)", err.text, err.line,
			    err.column);
			break;
		}
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		apierr_set(e, 400, "wrong_type", "the request body must be a "
		    "JSON object");
		return NULL;
	}
	return doc;
}

int
codec_check_keys(json_t *obj, const char *const *allowed, apierr *e)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		int ok = 0;

		for (size_t i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				ok = 1;
		if (!ok)
			return apierr_set(e, 400, "unknown_field",
			    "unknown field '%.100s'", key);
	}
	return 0;
}

/* A JSON number as a finite double, or an error naming field. */
int
codec_number(json_t *v, const char *field, double *out, apierr *e)
{
	if (!json_is_number(v))
		return apierr_set(e, 400, "wrong_type", "%s must be a number",
		    field);
	*out = json_number_value(v);
	if (!isfinite(*out))
		return apierr_set(e, 422, "non_finite", "%s is not finite",
		    field);
	return 0;
}

/* An integer field in [lo, hi]. */
int
codec_integer(json_t *v, const char *field, int64_t lo, int64_t hi,
	      int64_t *out, apierr *e)
{
	if (!json_is_integer(v))
		return apierr_set(e, 400, "wrong_type",
		    "%s must be an integer", field);
	*out = json_integer_value(v);
	if (*out < lo || *out > hi)
		return apierr_set(e, 422, "invalid_value", "%s must be between "
		    "%lld and %lld", field, (long long)lo, (long long)hi);
	return 0;
}

/* A learning rate: finite, > 0, <= 1e6. */
int
codec_learning_rate(json_t *v, double *out, apierr *e)
{
	if (codec_number(v, "learning_rate", out, e) < 0)
		return -1;
	if (fabs(*out) > FLT_MAX)
		return apierr_set(e, 422, "non_finite", "learning_rate is "
		    "beyond the float32 range");
	if (!(*out > 0.0 && *out <= 1e6))
		return apierr_set(e, 422, "invalid_value", "learning_rate must "
		    "be > 0 and <= 1e6");
	/* in range as sent, but the model computes in float32 */
	if ((float)*out == 0.0f)
		return apierr_set(e, 422, "invalid_value", "learning_rate %.15g "
		    "rounds to 0 in float32, the precision the model computes "
		    "in; it must be at least %g", *out, (double)FLT_TRUE_MIN);
	return 0;
}

/* The largest momentum the core takes (mlp_spec_validate), in float32. */
#define MOMENTUM_MAX 0.999999f

/* A momentum: in [0, 1) as sent, and at most MOMENTUM_MAX once in
 * float32 (a momentum that close to 1 is refused by the core). */
static int
momentum(json_t *v, double *out, apierr *e)
{
	if (codec_number(v, "momentum", out, e) < 0)
		return -1;
	if (!(*out >= 0.0 && *out < 1.0))
		return apierr_set(e, 422, "invalid_value",
		    "momentum must be in [0, 1)");
	if ((float)*out > MOMENTUM_MAX)
		return apierr_set(e, 422, "invalid_value", "momentum %.15g "
		    "is beyond 0.999999, the largest the model takes in "
		    "float32, the precision it computes in", *out);
	return 0;
}

/* 1-based character position of the first code point of the UTF-8 text
 * s that a model name must not hold (C0 and C1 controls, DEL and the
 * bidirectional formatting characters, which let a name display as
 * another), its code point in *cp; 0 when there is none. jansson hands
 * over valid UTF-8 only. */
static size_t
name_bad_char(const unsigned char *s, uint32_t *cp)
{
	size_t pos = 0;

	while (*s) {
		uint32_t c = *s;
		int more = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;

		if (more > 0)
			c &= 0x3fu >> more;
		s++;
		for (int k = 0; k < more && (*s & 0xc0) == 0x80; k++, s++)
			c = c << 6 | (*s & 0x3fu);
		pos++;
		if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x061c ||
		    c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
		    (c >= 0x2066 && c <= 0x2069)) {
			*cp = c;
			return pos;
		}
	}
	return 0;
}

static int
activations(json_t *v, mlp_spec *s, apierr *e)
{
	uint32_t L = s->n_layers;
	act_kind k;

	if (json_is_string(v)) {
		const char *name = json_string_value(v);

		if (act_from_name(name, &k) < 0 || k == ACT_SOFTMAX)
			return apierr_set(e, 422, "invalid_value", "activation "
			    "'%.40s' is not one of sigmoid, tanh, relu, linear",
			    name);
		for (uint32_t l = 0; l < L; l++)
			s->act[l] = k;
		return 0;
	}
	if (!json_is_array(v))
		return apierr_set(e, 400, "wrong_type", "activation must be a "
		    "name or a list of names");
	if (json_array_size(v) != L)
		return apierr_set(e, 422, "invalid_value", "activation lists "
		    "%zu names; the model has %u weight layers",
		    json_array_size(v), L);
	for (uint32_t l = 0; l < L; l++) {
		json_t *item = json_array_get(v, l);

		if (!json_is_string(item))
			return apierr_set(e, 400, "wrong_type",
			    "activation[%u] must be a string", l);
		if (act_from_name(json_string_value(item), &k) < 0)
			return apierr_set(e, 422, "invalid_value",
			    "activation[%u] '%.40s' is unknown", l,
			    json_string_value(item));
		s->act[l] = k;
	}
	return 0;
}

/* Values one row takes through s: the sum of all its layer sizes. */
static size_t
row_values(const mlp_spec *s)
{
	size_t v = 0;

	for (uint32_t l = 0; l <= s->n_layers; l++)
		v += s->sizes[l];
	return v;
}

size_t
codec_row_values(const mlp_spec *s)
{
	return row_values(s);
}

int
codec_check_rows(const mlp_spec *s, size_t rows, const codec_limits *lim,
		 const char *field, apierr *e)
{
	size_t rv = row_values(s);

	if (lim == NULL)
		return 0;
	if (rows > lim->max_batch_rows)
		return apierr_set(e, 422, "limit_exceeded", "%s has %zu rows; "
		    "--max-batch-rows allows %zu in one request", field, rows,
		    lim->max_batch_rows);
	if (rv > 0 && rows > lim->max_batch_values / rv)
		return apierr_set(e, 422, "limit_exceeded", "%s: %zu rows of "
		    "%zu values each (the sum of the layer sizes) are more "
		    "than the %zu --max-batch-values allows at once; send at "
		    "most %zu rows", field, rows, rv, lim->max_batch_values,
		    lim->max_batch_values / rv);
	return 0;
}

/* The daemon's caps on a new model's shape, once spec is valid except
 * for its parameter count. */
static int
spec_limits(const mlp_spec *s, const codec_limits *lim, apierr *e)
{
	if (lim == NULL)
		return 0;
	for (uint32_t l = 0; l <= s->n_layers; l++)
		if (s->sizes[l] > lim->max_layer_width)
			return apierr_set(e, 422, "limit_exceeded", "layers[%u] "
			    "has %u units; --max-layer-width allows %zu", l,
			    s->sizes[l], lim->max_layer_width);
	if (row_values(s) > lim->max_batch_values)
		return apierr_set(e, 422, "limit_exceeded", "one row through "
		    "this model is %zu values (the sum of the layer sizes); "
		    "--max-batch-values allows %zu", row_values(s),
		    lim->max_batch_values);
	return 0;
}

int
codec_model_spec(json_t *obj, uint64_t default_seed, const codec_limits *lim,
		 mlp_spec *spec, char **name, apierr *e)
{
	static const char *const keys[] = { "layers", "name", "activation",
		"loss", "optimizer", "learning_rate", "momentum", "seed", NULL };
	json_t *layers, *v;
	size_t nl;
	fault f;
	double d;
	int64_t i64;

	*name = NULL;
	if (codec_check_keys(obj, keys, e) < 0)
		return -1;
	mlp_spec_default(spec);
	spec->seed = default_seed;
	layers = json_object_get(obj, "layers");
	if (layers == NULL)
		return apierr_set(e, 400, "missing_field", "layers is required");
	if (!json_is_array(layers))
		return apierr_set(e, 400, "wrong_type", "layers must be a list "
		    "of layer sizes");
	nl = json_array_size(layers);
	for (size_t l = 0; l < nl; l++)
		if (!json_is_integer(json_array_get(layers, l)))
			return apierr_set(e, 400, "wrong_type", "layers[%zu] "
			    "must be an integer", l);
	if (nl < 2 || nl > MLP_MAX_LAYERS + 1)
		return apierr_set(e, 422, "invalid_value", "layers must list "
		    "between 2 and %d sizes, got %zu", MLP_MAX_LAYERS + 1, nl);
	spec->n_layers = (uint32_t)nl - 1;
	for (size_t l = 0; l < nl; l++) {
		char field[32];

		snprintf(field, sizeof field, "layers[%zu]", l);
		if (codec_integer(json_array_get(layers, l), field, 1,
		    MLP_MAX_WIDTH, &i64, e) < 0)
			return -1;
		spec->sizes[l] = (uint32_t)i64;
	}
	if ((v = json_object_get(obj, "loss")) != NULL) {
		if (!json_is_string(v))
			return apierr_set(e, 400, "wrong_type",
			    "loss must be a string");
		if (mlp_loss_from_name(json_string_value(v), &spec->loss) < 0)
			return apierr_set(e, 422, "invalid_value", "loss "
			    "'%.40s' is not one of mse, cross_entropy",
			    json_string_value(v));
	}
	if ((v = json_object_get(obj, "activation")) != NULL) {
		if (activations(v, spec, e) < 0)
			return -1;
	}
	/* cross_entropy puts softmax on the output unless a list said so */
	if (spec->loss == MLP_LOSS_CROSS_ENTROPY &&
	    (v == NULL || json_is_string(v)))
		spec->act[spec->n_layers - 1] = ACT_SOFTMAX;
	if ((v = json_object_get(obj, "optimizer")) != NULL) {
		if (!json_is_string(v))
			return apierr_set(e, 400, "wrong_type",
			    "optimizer must be a string");
		if (optim_from_name(json_string_value(v), &spec->opt.kind) < 0)
			return apierr_set(e, 422, "invalid_value", "optimizer "
			    "'%.40s' is not one of sgd, momentum, adam",
			    json_string_value(v));
	}
	if ((v = json_object_get(obj, "learning_rate")) != NULL) {
		if (codec_learning_rate(v, &d, e) < 0)
			return -1;
		spec->opt.lr = (float)d;
	}
	if ((v = json_object_get(obj, "momentum")) != NULL) {
		if (momentum(v, &d, e) < 0)
			return -1;
		spec->opt.momentum = (float)d;
	}
	if ((v = json_object_get(obj, "seed")) != NULL) {
		if (codec_integer(v, "seed", 0, (int64_t)1 << 53, &i64, e) < 0)
			return -1;
		spec->seed = (uint64_t)i64;
	}
	if (spec_limits(spec, lim, e) < 0)
		return -1;
	if (mlp_spec_validate(spec, &f) < 0)
		return apierr_from_fault(e, &f);
	if (lim != NULL && mlp_spec_params(spec) > lim->max_params)
		return apierr_set(e, 422, "limit_exceeded", "the model has %zu "
		    "weights and biases; --max-params allows %zu",
		    mlp_spec_params(spec), lim->max_params);
	return codec_model_name(obj, name, e);
}

/* Checks a name field v (NULL: absent) of at most max bytes. */
int
codec_name_field(json_t *v, size_t max, apierr *e)
{
	size_t pos;
	uint32_t cp;

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return apierr_set(e, 400, "wrong_type",
		    "name must be a string");
	if (json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return apierr_set(e, 422, "invalid_value", "name must "
		    "be at most %zu bytes", max);
	if ((pos = name_bad_char((const unsigned char *)
	    json_string_value(v), &cp)) > 0)
		return apierr_set(e, 422, "invalid_value", "name holds "
		    "U+%04X at character %zu: control characters and "
		    "bidirectional formatting characters are not "
		    "allowed in a name", (unsigned)cp, pos);
	return 0;
}

int
codec_model_name(json_t *obj, char **name, apierr *e)
{
	json_t *v = json_object_get(obj, "name");

	*name = NULL;
	if (codec_name_field(v, CODEC_NAME_MAX, e) < 0)
		return -1;
	*name = strdup(v ? json_string_value(v) : "");
	if (*name == NULL)
		return apierr_set(e, 503, "out_of_memory", "out of memory");
	return 0;
}

/* Copies one row of numbers into dst, checking type, width and range. */
static int
row(json_t *r, const char *field, size_t i, size_t width, float *dst,
    apierr *e)
{
	if (!json_is_array(r))
		return apierr_set(e, 400, "wrong_type", "%s[%zu] must be a list "
		    "of numbers", field, i);
	if (json_array_size(r) != width)
		return apierr_set(e, 422, "invalid_value", "%s[%zu] has %zu "
		    "values; expected %zu", field, i, json_array_size(r),
		    width);
	for (size_t j = 0; j < width; j++) {
		json_t *v = json_array_get(r, j);
		double d;

		if (json_is_real(v))
			d = json_real_value(v);
		else if (json_is_integer(v))
			d = (double)json_integer_value(v);
		else
			return apierr_set(e, 400, "wrong_type", "%s[%zu][%zu] "
			    "must be a number", field, i, j);
		/* below 2^128 (1 - 2^-25) a double still rounds to a finite
		 * float: FLT_MAX printed with 9 digits must come back */
		if (!(fabs(d) < 0x1.ffffffp127))
			return apierr_set(e, 422, "non_finite", "%s[%zu][%zu] "
			    "is not a finite float32", field, i, j);
		dst[j] = (float)d;
	}
	return 0;
}

int
codec_matrix(json_t *arr, const char *field, size_t width, float **out,
	     size_t *rows, apierr *e)
{
	size_t n;
	float *m;

	*out = NULL;
	*rows = 0;
	if (arr == NULL)
		return apierr_set(e, 400, "missing_field", "%s is required",
		    field);
	if (!json_is_array(arr))
		return apierr_set(e, 400, "wrong_type", "%s must be a list of "
		    "rows", field);
	n = json_array_size(arr);
	if (n == 0)
		return apierr_set(e, 422, "invalid_value", "%s is empty",
		    field);
	if (n > MLP_MAX_BATCH)
		return apierr_set(e, 422, "invalid_value", "%s has %zu rows; "
		    "at most %u are allowed in one request", field, n,
		    MLP_MAX_BATCH);
	/* shapes first: a few bytes of JSON must not allocate n x width
	 * floats for a wide model before the first bad row is seen */
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(arr, i);

		if (!json_is_array(r))
			return apierr_set(e, 400, "wrong_type", "%s[%zu] must be "
			    "a list of numbers", field, i);
		if (json_array_size(r) != width)
			return apierr_set(e, 422, "invalid_value", "%s[%zu] has "
			    "%zu values; expected %zu", field, i,
			    json_array_size(r), width);
	}
	m = malloc(n * width * sizeof(float));
	if (m == NULL)
		return apierr_set(e, 503, "out_of_memory", "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (row(json_array_get(arr, i), field, i, width,
		    m + i * width, e) < 0) {
			free(m);
			return -1;
		}
	}
	*out = m;
	*rows = n;
	return 0;
}

/* codec_check_rows for the JSON array arr (nothing to check unless it
 * is an array: codec_matrix then says what is wrong). */
static int
check_array_rows(json_t *arr, const mlp_spec *s, const codec_limits *lim,
		 const char *field, apierr *e)
{
	if (!json_is_array(arr))
		return 0;
	return codec_check_rows(s, json_array_size(arr), lim, field, e);
}

int
codec_batch(json_t *obj, const mlp_spec *s, const codec_limits *lim,
	    float **x, float **y, size_t *n, double *lr, apierr *e)
{
	static const char *const keys[] = { "inputs", "targets",
		"learning_rate", NULL };
	static const char *const keys_nolr[] = { "inputs", "targets", NULL };
	size_t nx, ny;
	json_t *v;

	*x = *y = NULL;
	if (codec_check_keys(obj, lr ? keys : keys_nolr, e) < 0)
		return -1;
	if (lr != NULL) {
		*lr = 0.0;
		v = json_object_get(obj, "learning_rate");
		if (v != NULL && codec_learning_rate(v, lr, e) < 0)
			return -1;
	}
	if (json_object_get(obj, "targets") == NULL)
		return apierr_set(e, 400, "missing_field",
		    "targets is required");
	if (check_array_rows(json_object_get(obj, "inputs"), s, lim,
	    "inputs", e) < 0 || check_array_rows(json_object_get(obj,
	    "targets"), s, lim, "targets", e) < 0)
		return -1;
	if (codec_matrix(json_object_get(obj, "inputs"), "inputs",
	    s->sizes[0], x, &nx, e) < 0)
		return -1;
	if (codec_matrix(json_object_get(obj, "targets"), "targets",
	    s->sizes[s->n_layers], y, &ny, e) < 0)
		goto fail;
	if (nx != ny) {
		apierr_set(e, 422, "invalid_value", "inputs has %zu rows but "
		    "targets has %zu", nx, ny);
		goto fail;
	}
	*n = nx;
	return 0;
fail:
	free(*x);
	free(*y);
	*x = *y = NULL;
	return -1;
}

int
codec_predict_request(json_t *obj, const mlp_spec *s, const codec_limits *lim,
		      float **x, size_t *n, int *single, apierr *e)
{
	static const char *const keys[] = { "inputs", "input", NULL };
	json_t *one = json_object_get(obj, "input");
	json_t *many = json_object_get(obj, "inputs");

	*x = NULL;
	if (codec_check_keys(obj, keys, e) < 0)
		return -1;
	if ((one == NULL) == (many == NULL))
		return apierr_set(e, 400, one ? "unknown_field" :
		    "missing_field", "give exactly one of input or inputs");
	*single = one != NULL;
	if (many != NULL) {
		if (check_array_rows(many, s, lim, "inputs", e) < 0)
			return -1;
		return codec_matrix(many, "inputs", s->sizes[0], x, n, e);
	}
	if (!json_is_array(one))
		return apierr_set(e, 400, "wrong_type", "input must be one row, "
		    "a list of numbers");
	for (size_t j = 0; j < json_array_size(one); j++)
		if (!json_is_number(json_array_get(one, j)))
			return apierr_set(e, 400, "wrong_type", "input[%zu] must "
			    "be a number: input is one row (send several rows "
			    "as inputs)", j);
	if (codec_check_rows(s, 1, lim, "input", e) < 0)
		return -1;
	*x = malloc(s->sizes[0] * sizeof(float));
	if (*x == NULL)
		return apierr_set(e, 503, "out_of_memory", "out of memory");
	if (row(one, "input", 0, s->sizes[0], *x, e) < 0) {
		/* messages name input[0]; close enough and still precise */
		free(*x);
		*x = NULL;
		return -1;
	}
	*n = 1;
	return 0;
}

static json_t *
real_row(const float *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, codec_real(v[i]));
	return a;
}

json_t *
codec_predict_response(const float *out, size_t n, size_t width, int single,
		       uint64_t step)
{
	json_t *doc = json_object();

	if (single) {
		json_object_set_new(doc, "output", real_row(out, width));
	} else {
		json_t *rows = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(rows, real_row(out + i * width,
			    width));
		json_object_set_new(doc, "outputs", rows);
	}
	json_object_set_new(doc, "step", json_integer((json_int_t)step));
	return doc;
}

int
codec_validation(json_t *obj, const mlp_spec *s, const codec_limits *lim,
		 float **x, float **y, size_t *n, apierr *e)
{
	json_t *v = json_object_get(obj, "validation");
	const char *key;
	json_t *item;
	size_t ny;

	*x = *y = NULL;
	*n = 0;
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return apierr_set(e, 400, "wrong_type", "validation must be an "
		    "object with inputs and targets");
	json_object_foreach(v, key, item) {
		if (strcmp(key, "inputs") != 0 && strcmp(key, "targets") != 0)
			return apierr_set(e, 400, "unknown_field", "unknown "
			    "field 'validation.%.100s'", key);
	}
	if (json_object_get(v, "targets") == NULL)
		return apierr_set(e, 400, "missing_field",
		    "validation.targets is required");
	if (check_array_rows(json_object_get(v, "inputs"), s, lim,
	    "validation.inputs", e) < 0 || check_array_rows(
	    json_object_get(v, "targets"), s, lim, "validation.targets",
	    e) < 0)
		return -1;
	if (codec_matrix(json_object_get(v, "inputs"), "validation.inputs",
	    s->sizes[0], x, n, e) < 0)
		return -1;
	if (codec_matrix(json_object_get(v, "targets"), "validation.targets",
	    s->sizes[s->n_layers], y, &ny, e) < 0)
		goto fail;
	if (*n != ny) {
		apierr_set(e, 422, "invalid_value", "validation.inputs has %zu "
		    "rows but validation.targets has %zu", *n, ny);
		goto fail;
	}
	return 0;
fail:
	free(*x);
	free(*y);
	*x = *y = NULL;
	*n = 0;
	return -1;
}

int
codec_step(json_t *obj, const mlp_spec *s, const codec_limits *lim,
	   float **x, float **y, size_t *n, double *lr, float **vx,
	   float **vy, size_t *vn, apierr *e)
{
	json_t *rest;
	int rc;

	*vx = *vy = NULL;
	*vn = 0;
	if (json_object_get(obj, "validation") == NULL)
		return codec_batch(obj, s, lim, x, y, n, lr, e);
	/* the batch without its validation set, checked as any batch */
	if ((rest = json_copy(obj)) == NULL)
		return apierr_set(e, 503, "out_of_memory", "out of memory");
	json_object_del(rest, "validation");
	rc = codec_batch(rest, s, lim, x, y, n, lr, e);
	json_decref(rest);
	if (rc < 0)
		return -1;
	if (codec_validation(obj, s, lim, vx, vy, vn, e) < 0) {
		free(*x);
		free(*y);
		*x = *y = NULL;
		return -1;
	}
	return 0;
}

json_t *
codec_weights_encode(const mlp_spec *s, const float *params, uint64_t step)
{
	json_t *doc = json_object(), *layers = json_array();
	const float *p = params;

	for (uint32_t l = 0; l < s->n_layers; l++) {
		size_t ni = s->sizes[l], no = s->sizes[l + 1];
		json_t *w = json_array();

		for (size_t i = 0; i < no; i++)
			json_array_append_new(w, real_row(p + i * ni, ni));
		p += ni * no;
		json_array_append_new(layers, json_pack("{s:o,s:o}",
		    "weights", w, "biases", real_row(p, no)));
		p += no;
	}
	json_object_set_new(doc, "step", json_integer((json_int_t)step));
	json_object_set_new(doc, "layers", layers);
	return doc;
}

int
codec_weights_decode(json_t *obj, const mlp_spec *s, float *params,
		     apierr *e)
{
	static const char *const keys[] = { "layers", "step", NULL };
	static const char *const lkeys[] = { "weights", "biases", NULL };
	json_t *layers = json_object_get(obj, "layers");
	float *p = params;
	json_t *step = json_object_get(obj, "step");
	int64_t ignored;

	if (codec_check_keys(obj, keys, e) < 0)
		return -1;
	/* optional and ignored, so that a GET body can be PUT back, but it
	 * must be what GET gives: a step count */
	if (step != NULL && codec_integer(step, "step", 0, INT64_MAX, &ignored,
	    e) < 0)
		return -1;
	if (layers == NULL)
		return apierr_set(e, 400, "missing_field", "layers is required");
	if (!json_is_array(layers))
		return apierr_set(e, 400, "wrong_type", "layers must be a list");
	if (json_array_size(layers) != s->n_layers)
		return apierr_set(e, 422, "invalid_value", "layers has %zu "
		    "entries; the model has %u weight layers",
		    json_array_size(layers), s->n_layers);
	for (uint32_t l = 0; l < s->n_layers; l++) {
		size_t ni = s->sizes[l], no = s->sizes[l + 1];
		json_t *layer = json_array_get(layers, l), *w, *b;
		char field[48];

		if (!json_is_object(layer))
			return apierr_set(e, 400, "wrong_type", "layers[%u] "
			    "must be an object", l);
		if (codec_check_keys(layer, lkeys, e) < 0)
			return -1;
		w = json_object_get(layer, "weights");
		b = json_object_get(layer, "biases");
		if (w == NULL || b == NULL)
			return apierr_set(e, 400, "missing_field", "layers[%u] "
			    "needs weights and biases", l);
		if (!json_is_array(w))
			return apierr_set(e, 400, "wrong_type", "layers[%u]."
			    "weights must be a list of rows", l);
		if (json_array_size(w) != no)
			return apierr_set(e, 422, "invalid_value", "layers[%u]."
			    "weights has %zu rows; expected %zu", l,
			    json_array_size(w), no);
		snprintf(field, sizeof field, "layers[%u].weights", l);
		for (size_t i = 0; i < no; i++)
			if (row(json_array_get(w, i), field, i, ni,
			    p + i * ni, e) < 0)
				return -1;
		p += ni * no;
		snprintf(field, sizeof field, "layers[%u]", l);
		if (!json_is_array(b) || json_array_size(b) != no) {
			if (!json_is_array(b))
				return apierr_set(e, 400, "wrong_type",
				    "layers[%u].biases must be a list", l);
			return apierr_set(e, 422, "invalid_value", "layers[%u]."
			    "biases has %zu values; expected %zu", l,
			    json_array_size(b), no);
		}
		{
			/* biases are one row; reuse the row checks */
			apierr sub;

			if (row(b, "biases", 0, no, p, &sub) < 0)
				return apierr_set(e, sub.status, sub.code,
				    "%s.%s", field, sub.msg);
		}
		p += no;
	}
	return 0;
}

json_t *
codec_real(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

void
codec_time(int64_t ms, char out[32])
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	char base[24];

	gmtime_r(&sec, &tm);
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

json_t *
codec_time_json(int64_t ms)
{
	char buf[32];

	if (ms <= 0)
		return json_null();
	codec_time(ms, buf);
	return json_string(buf);
}

/* f as the number with the fewest significant digits (at most 9) that
 * reads back as f in float32: the value a client sent when it sent one
 * float32 can hold (any of up to 6 digits, most of 7 and more), and
 * otherwise the value the model uses, rather than f's binary expansion
 * (0.001 rather than 0.00100000005). The same before and after a
 * restart, since it needs only the float the model blob keeps. */
double
codec_shortest(float f)
{
	char buf[32];

	if (!isfinite(f))
		return (double)f;
	for (int digits = 1; digits < 9; digits++) {
		double d;

		snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
		d = strtod(buf, NULL);
		if ((float)d == f)
			return d;
	}
	return (double)f;
}

/* codec_shortest as JSON; null when not finite. */
static json_t *
shortest_json(float f)
{
	return isfinite(f) ? json_real(codec_shortest(f)) : json_null();
}

json_t *
codec_model_json(const registry_view *m)
{
	const mlp_spec *s = m->spec;
	json_t *doc = json_object(), *layers = json_array(),
	    *acts = json_array();

	for (uint32_t l = 0; l <= s->n_layers; l++)
		json_array_append_new(layers, json_integer(s->sizes[l]));
	for (uint32_t l = 0; l < s->n_layers; l++)
		json_array_append_new(acts, json_string(act_name(s->act[l])));
	json_object_set_new(doc, "id", json_string(m->id));
	json_object_set_new(doc, "name", json_string(m->name));
	json_object_set_new(doc, "layers", layers);
	json_object_set_new(doc, "activation", acts);
	json_object_set_new(doc, "loss", json_string(mlp_loss_name(s->loss)));
	json_object_set_new(doc, "optimizer",
	    json_string(optim_name(s->opt.kind)));
	json_object_set_new(doc, "learning_rate", shortest_json(s->opt.lr));
	json_object_set_new(doc, "momentum", shortest_json(s->opt.momentum));
	json_object_set_new(doc, "seed", json_integer((json_int_t)s->seed));
	json_object_set_new(doc, "step", json_integer((json_int_t)m->step));
	json_object_set_new(doc, "samples", json_integer(m->samples));
	json_object_set_new(doc, "status", json_string(m->jobs_running ?
	    "training" : m->jobs_queued ? "queued" : "idle"));
	json_object_set_new(doc, "last_loss", codec_real(m->last_loss));
	json_object_set_new(doc, "created_at", codec_time_json(m->created_ms));
	json_object_set_new(doc, "updated_at", codec_time_json(m->updated_ms));
	return doc;
}

/* A job's training control: the rate in force, its best evaluation, and
 * why it ended early (null when it did not). */
static void
job_control_json(json_t *doc, const store_job *j)
{
	json_object_set_new(doc, "learning_rate", j->lr > 0 ?
	    shortest_json((float)j->lr) : json_null());
	json_object_set_new(doc, "best_step", j->best_step > 0 ?
	    json_integer(j->best_step) : json_null());
	json_object_set_new(doc, "best_value", j->best_step > 0 ?
	    codec_real(j->best_value) : json_null());
	json_object_set_new(doc, "best_version", j->best_version > 0 ?
	    json_integer(j->best_version) : json_null());
	json_object_set_new(doc, "reason", j->stopped_step > 0 ? json_sprintf(
	    "stopped early at step %lld: no improvement since the best step "
	    "%lld (%.6g)", (long long)j->stopped_step,
	    (long long)j->best_step, j->best_value) : json_null());
}

json_t *
codec_job_json(const store_job *j)
{
	json_t *doc = json_object();

	json_object_set_new(doc, "id", json_string(j->id));
	json_object_set_new(doc, "model_id", json_string(j->model_id));
	json_object_set_new(doc, "status",
	    json_string(store_job_status_name(j->status)));
	json_object_set_new(doc, "steps_total", json_integer(j->steps_total));
	json_object_set_new(doc, "steps_done", json_integer(j->steps_done));
	json_object_set_new(doc, "loss", codec_real(j->loss));
	json_object_set_new(doc, "error",
	    j->error ? json_string(j->error) : json_null());
	json_object_set_new(doc, "created_at", codec_time_json(j->created_ms));
	json_object_set_new(doc, "started_at", codec_time_json(j->started_ms));
	json_object_set_new(doc, "finished_at",
	    codec_time_json(j->finished_ms));
	json_object_set_new(doc, "node", j->node[0] ? json_string(j->node) :
	    json_null());
	json_object_set_new(doc, "takeovers", json_integer(j->takeovers));
	job_control_json(doc, j);
	return doc;
}

/* A step event: the last point's step, loss and time, and every point
 * ([[step, loss], ...]) when there are at most EVENTS_STEPS_MAX. */
static json_t *
step_event_json(const char *model_id, const store_loss_point *pts,
		size_t n)
{
	const store_loss_point *last = &pts[n - 1];
	char when[32];
	json_t *doc;

	codec_time(last->time_ms, when);
	doc = json_pack("{s:s,s:I,s:o,s:s}", "model_id", model_id, "step",
	    (json_int_t)last->step, "loss", codec_real(last->loss), "time",
	    when);
	if (doc != NULL && n <= EVENTS_STEPS_MAX) {
		json_t *steps = json_array();

		for (size_t i = 0; steps && i < n; i++)
			json_array_append_new(steps, json_pack("[I,o]",
			    (json_int_t)pts[i].step, codec_real(pts[i].loss)));
		json_object_set_new(doc, "steps", steps);
	}
	return doc;
}

char *
codec_event(const events_item *it, size_t *len)
{
	json_t *doc = NULL;

	switch (it->kind) {
	case EVENTS_STEP:
		if (it->npts > 0)
			doc = step_event_json(it->model_id, it->pts, it->npts);
		break;
	case EVENTS_JOB:
		doc = codec_job_json(it->job);
		break;
	case EVENTS_MODEL:
		doc = codec_model_json(it->model);
		break;
	case EVENTS_MODEL_DELETED:
		doc = json_pack("{s:s,s:b}", "id", it->model_id, "deleted", 1);
		break;
	}
	return codec_dump(doc, len);
}

char *
codec_dump(json_t *doc, size_t *len)
{
	char *text;

	if (doc == NULL)
		return NULL;
	text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(doc);
	if (text)
		*len = strlen(text);
	return text;
}
