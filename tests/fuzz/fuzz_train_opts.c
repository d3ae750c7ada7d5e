/*
 * fuzz_train_opts: POST /v1/models/{id}/train bodies (an empty body is
 * allowed there) through codec_train_opts and codec_validation, for a model
 * with layers [2, 3, 1] and the default daemon's limits.
 *
 * Decoded options are within their documented ranges, never hold both a
 * validation set and a validation_split, and codec_train_opts_text (the
 * job row's copy) is a JSON object. A decoded validation set has rows of
 * the model's widths that core accepts, or is empty exactly when the body
 * has no "validation".
 */
#include "fuzz.h"

static mlp_spec spec;
static codec_limits lim;

static void
check_opts(json_t *obj, const train_opts *o)
{
	json_t *doc;
	char *text;

	FUZZ_ASSERT(o->epochs >= 1 && o->epochs <= 1000000, "epochs %lld",
	    (long long)o->epochs);
	FUZZ_ASSERT(o->steps >= 0 && o->steps <= 1000000000, "steps %lld",
	    (long long)o->steps);
	FUZZ_ASSERT(o->batch_size >= 1 && o->batch_size <= 65536,
	    "batch_size %lld", (long long)o->batch_size);
	FUZZ_ASSERT(o->lr == 0.0 || (o->lr > 0.0 && o->lr <= 1e6 &&
	    (float)o->lr > 0.0f), "learning_rate %g", o->lr);
	FUZZ_ASSERT(o->shuffle == 0 || o->shuffle == 1, "shuffle %d",
	    o->shuffle);
	FUZZ_ASSERT(o->validation_split == 0.0 || (o->validation_split > 0.0 &&
	    o->validation_split < 1.0), "validation_split %g",
	    o->validation_split);
	FUZZ_ASSERT(o->validation_split == 0.0 ||
	    json_object_get(obj, "validation") == NULL,
	    "both validation and validation_split");
	/* training control: a schedule core/schedule.h accepts, early
	 * stopping with patience >= 1 and min_delta >= 0 when on */
	{
		char why[160];

		FUZZ_ASSERT(schedule_check(&o->sched, why, sizeof why) == 0,
		    "schedule: %s", why);
	}
	FUZZ_ASSERT(o->stop.patience >= 0 && o->stop.min_delta >= 0.0 &&
	    isfinite(o->stop.min_delta), "early_stopping %lld %g",
	    (long long)o->stop.patience, o->stop.min_delta);
	FUZZ_ASSERT(o->eval_every >= 0 && (o->restore_best == 0 ||
	    o->restore_best == 1) && (o->save_best == 0 || o->save_best == 1),
	    "eval_every %lld restore_best %d save_best %d",
	    (long long)o->eval_every, o->restore_best, o->save_best);
	FUZZ_ASSERT(o->resume[0] == '\0' || (strlen(o->resume) == 17 &&
	    o->resume[0] == 'j' && strspn(o->resume + 1,
	    "0123456789abcdef") == 16), "resume '%s'", o->resume);
	text = codec_train_opts_text(o);
	FUZZ_ASSERT(text != NULL, "codec_train_opts_text failed");
	doc = json_loads(text, 0, NULL);
	FUZZ_ASSERT(json_is_object(doc), "job options text: %s", text);
	json_decref(doc);
	free(text);
}

static void
validation(json_t *obj)
{
	float *x = (float *)1, *y = (float *)1;
	size_t n = 7;
	apierr e;
	fault f;

	fuzz_err_reset(&e);
	if (codec_validation(obj, &spec, &lim, &x, &y, &n, &e) < 0) {
		fuzz_check_err(&e, "codec_validation");
		FUZZ_ASSERT(x == NULL && y == NULL && n == 0,
		    "failed but left blocks or rows");
		return;
	}
	if (n == 0) {
		FUZZ_ASSERT(x == NULL && y == NULL, "no rows but blocks");
		FUZZ_ASSERT(json_object_get(obj, "validation") == NULL,
		    "validation given but no rows decoded");
		return;
	}
	FUZZ_ASSERT(n <= lim.max_batch_rows, "%zu rows", n);
	FUZZ_ASSERT(json_array_size(json_object_get(json_object_get(obj,
	    "validation"), "inputs")) == n, "%zu rows from another count", n);
	fuzz_check_finite(x, n, spec.sizes[0], "validation.inputs");
	fuzz_check_finite(y, n, spec.sizes[spec.n_layers],
	    "validation.targets");
	FUZZ_ASSERT(mlp_check_batch(&spec, x, y, n, &f) == 0,
	    "core rejects the validation set codec accepted: %s", f.msg);
	free(x);
	free(y);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t sizes[] = { 2, 3, 1 };
	json_t *obj;
	train_opts o;
	apierr e;

	if (spec.n_layers == 0) {
		fuzz_spec(&spec, 2, sizes);
		fuzz_limits(&lim);
		fuzz_json_cap();
	}
	fuzz_err_reset(&e);
	obj = codec_parse_object((const char *)data, size, 1, &e);
	if (obj == NULL) {
		fuzz_check_err(&e, "codec_parse_object");
		return 0;
	}
	fuzz_err_reset(&e);
	if (codec_train_opts(obj, &o, &e) < 0) {
		fuzz_check_err(&e, "codec_train_opts");
	} else {
		check_opts(obj, &o);
		/* the train handler caps batch_size like a batch's rows */
		fuzz_err_reset(&e);
		if (codec_check_rows(&spec, (size_t)o.batch_size, &lim,
		    "batch_size", &e) < 0)
			fuzz_check_err(&e, "codec_check_rows");
	}
	validation(obj);
	json_decref(obj);
	return 0;
}
