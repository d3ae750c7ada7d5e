/*
 * fuzz_batch_json: JSON batch and predict bodies through codec_batch
 * (POST .../batches, with and without a learning_rate), codec_step (POST
 * .../step, with its optional validation set) and codec_predict_request
 * (POST .../predict), with the default daemon's limits, for two fixed
 * models: layers [3, 5, 2], and [65536, 2] (the widest input the API
 * allows: a body of short wrong rows must not make the decoder reserve
 * memory for rows of that width).
 *
 * A decoded batch has 1..max_batch_rows rows, as many as the body's inputs
 * list, within max_batch_values, with finite values that core's own
 * mlp_check_batch accepts, and the three batch decoders agree with each
 * other where their rules overlap. The streaming decoder the handlers use
 * (matjson) answers every body as the tree decoders do (matjson_diff.h).
 */
#include "fuzz.h"
#include "matjson_diff.h"

static mlp_spec specs[2];
static const mlp_spec *spec; /* the one being tried */
static codec_limits lim;

/* Values of one row through the model: the sum of its layer sizes. */
static size_t
row_values(const mlp_spec *s)
{
	size_t v = 0;

	for (uint32_t l = 0; l <= s->n_layers; l++)
		v += s->sizes[l];
	return v;
}

/* Checks a decoded batch of n rows against the body it came from. */
static void
check_rows(json_t *obj, const char *key, const float *x, const float *y,
	   size_t n, const char *where)
{
	json_t *rows = json_object_get(obj, key);
	fault f;

	FUZZ_ASSERT(n >= 1 && n <= lim.max_batch_rows, "%s: %zu rows", where,
	    n);
	FUZZ_ASSERT(n * row_values(spec) <= lim.max_batch_values,
	    "%s: %zu rows of %zu values", where, n, row_values(spec));
	FUZZ_ASSERT(json_is_array(rows) && json_array_size(rows) == n,
	    "%s: %zu rows from a list of %zu", where, n,
	    json_array_size(rows));
	fuzz_check_finite(x, n, spec->sizes[0], "inputs");
	if (y != NULL)
		fuzz_check_finite(y, n, spec->sizes[spec->n_layers],
		    "targets");
	FUZZ_ASSERT(mlp_check_batch(spec, x, y, n, &f) == 0,
	    "%s: core rejects what codec accepted: %s", where, f.msg);
}

/* codec_batch with or without a learning_rate; 1 if it decoded. */
static int
batch(json_t *obj, int with_lr)
{
	float *x = (float *)1, *y = (float *)1;
	size_t n = 0;
	double lr = -1.0;
	apierr e;

	fuzz_err_reset(&e);
	if (codec_batch(obj, spec, &lim, &x, &y, &n, with_lr ? &lr : NULL,
	    &e) < 0) {
		fuzz_check_err(&e, "codec_batch");
		FUZZ_ASSERT(x == NULL && y == NULL, "failed but left blocks");
		return 0;
	}
	check_rows(obj, "inputs", x, y, n, "codec_batch");
	if (with_lr)
		FUZZ_ASSERT(lr == 0.0 || (lr > 0.0 && lr <= 1e6),
		    "learning_rate %g", lr);
	free(x);
	free(y);
	return 1;
}

/* codec_step; 1 if it decoded. */
static int
step(json_t *obj)
{
	float *x = (float *)1, *y = (float *)1, *vx = (float *)1,
	    *vy = (float *)1;
	size_t n = 0, vn = 7;
	double lr = -1.0;
	apierr e;

	fuzz_err_reset(&e);
	if (codec_step(obj, spec, &lim, &x, &y, &n, &lr, &vx, &vy, &vn,
	    &e) < 0) {
		fuzz_check_err(&e, "codec_step");
		FUZZ_ASSERT(x == NULL && y == NULL && vx == NULL && vy == NULL,
		    "failed but left blocks");
		return 0;
	}
	check_rows(obj, "inputs", x, y, n, "codec_step");
	if (vn == 0) {
		FUZZ_ASSERT(vx == NULL && vy == NULL, "no validation rows but "
		    "blocks");
		FUZZ_ASSERT(json_object_get(obj, "validation") == NULL,
		    "validation given but no rows decoded");
	} else {
		check_rows(json_object_get(obj, "validation"), "inputs", vx,
		    vy, vn, "codec_step validation");
	}
	free(x);
	free(y);
	free(vx);
	free(vy);
	return 1;
}

static void
predict(json_t *obj)
{
	float *x = (float *)1;
	size_t n = 0;
	int single = -1;
	apierr e;

	fuzz_err_reset(&e);
	if (codec_predict_request(obj, spec, &lim, &x, &n, &single, &e) < 0) {
		fuzz_check_err(&e, "codec_predict_request");
		FUZZ_ASSERT(x == NULL, "failed but left a block");
		return;
	}
	FUZZ_ASSERT(single == 0 || single == 1, "single is %d", single);
	if (single) {
		FUZZ_ASSERT(n == 1, "single input gave %zu rows", n);
		fuzz_check_finite(x, 1, spec->sizes[0], "input");
	} else {
		check_rows(obj, "inputs", x, NULL, n, "codec_predict_request");
	}
	free(x);
}

/* Every decoder on obj for the current spec. */
static void
decode_all(json_t *obj)
{
	int with_lr, without_lr, stepped;

	with_lr = batch(obj, 1);
	without_lr = batch(obj, 0);
	stepped = step(obj);
	/* without a learning_rate the two batch forms are the same, and a
	 * body that decodes where none is allowed decodes where one is */
	if (json_object_get(obj, "learning_rate") == NULL)
		FUZZ_ASSERT(with_lr == without_lr, "learning_rate absent, yet "
		    "codec_batch %d with lr, %d without", with_lr, without_lr);
	if (without_lr)
		FUZZ_ASSERT(with_lr, "codec_batch takes it without lr only");
	/* a step body is a batch body plus an optional validation set */
	if (json_object_get(obj, "validation") == NULL)
		FUZZ_ASSERT(stepped == with_lr, "codec_step %d, codec_batch %d",
		    stepped, with_lr);
	else
		FUZZ_ASSERT(!with_lr, "codec_batch took a validation field");
	predict(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t small[] = { 3, 5, 2 }, wide[] = { 65536, 2 };
	json_t *obj;
	apierr e;

	if (specs[0].n_layers == 0) {
		fuzz_spec(&specs[0], 2, small);
		fuzz_spec(&specs[1], 1, wide);
		fuzz_limits(&lim);
		fuzz_json_cap();
	}
	for (int k = 0; k < 2; k++) {
		char why[1024];

		FUZZ_ASSERT(matjson_diff((const char *)data, size, &specs[k],
		    &lim, why, sizeof why) == 0, "spec %d: %s", k, why);
	}
	fuzz_err_reset(&e);
	obj = codec_parse_object((const char *)data, size, 0, &e);
	if (obj == NULL) {
		fuzz_check_err(&e, "codec_parse_object");
		return 0;
	}
	for (int k = 0; k < 2; k++) {
		spec = &specs[k];
		decode_all(obj);
	}
	json_decref(obj);
	return 0;
}
