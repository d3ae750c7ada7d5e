/*
 * fuzz_model_spec: the POST /v1/models body through codec_parse_object and
 * codec_model_spec, with the default daemon's limits.
 *
 * A spec that decodes must pass mlp_spec_validate, stay within the limits
 * and carry a name of at most CODEC_NAME_MAX bytes; and the model JSON the
 * API shows for it (codec_model_json, dumped as GET /v1/models/{id} does),
 * stripped of the read-only fields, must decode back to the same spec and
 * name: what a client reads it can post again.
 */
#include "fuzz.h"

static codec_limits lim;

/* The fields of codec_model_json that a create request does not take. */
static const char *const read_only[] = { "id", "step", "samples", "status",
	"last_loss", "created_at", "updated_at", NULL };

static void
same_spec(const mlp_spec *a, const mlp_spec *b)
{
	FUZZ_ASSERT(a->n_layers == b->n_layers, "%u vs %u layers",
	    a->n_layers, b->n_layers);
	for (uint32_t l = 0; l <= a->n_layers; l++)
		FUZZ_ASSERT(a->sizes[l] == b->sizes[l], "layers[%u]", l);
	for (uint32_t l = 0; l < a->n_layers; l++)
		FUZZ_ASSERT(a->act[l] == b->act[l], "activation[%u]", l);
	FUZZ_ASSERT(a->loss == b->loss, "loss");
	FUZZ_ASSERT(a->opt.kind == b->opt.kind, "optimizer");
	FUZZ_ASSERT(a->opt.lr == b->opt.lr, "learning_rate %.9g vs %.9g",
	    (double)a->opt.lr, (double)b->opt.lr);
	FUZZ_ASSERT(a->opt.momentum == b->opt.momentum, "momentum %.9g vs "
	    "%.9g", (double)a->opt.momentum, (double)b->opt.momentum);
	FUZZ_ASSERT(a->seed == b->seed, "seed");
}

/* The spec as GET shows it, posted again. */
static void
round_trip(const mlp_spec *spec, const char *name)
{
	registry_view cm = { .id = "m0123456789abcdef", .name = name,
		.spec = spec, .step = 3, .last_loss = NAN, .created_ms = 1,
		.updated_ms = 2 };
	json_t *doc;
	mlp_spec spec2;
	char *name2, *text;
	size_t len;
	apierr e;

	text = codec_dump(codec_model_json(&cm), &len);
	FUZZ_ASSERT(text != NULL, "codec_model_json/codec_dump failed");
	fuzz_err_reset(&e);
	doc = codec_parse_object(text, len, 0, &e);
	FUZZ_ASSERT(doc != NULL, "model JSON does not parse: %s (%s)", e.msg,
	    text);
	for (size_t i = 0; read_only[i]; i++)
		FUZZ_ASSERT(json_object_del(doc, read_only[i]) == 0,
		    "model JSON lacks %s", read_only[i]);
	fuzz_err_reset(&e);
	FUZZ_ASSERT(codec_model_spec(doc, 99, &lim, &spec2, &name2, &e) == 0,
	    "model JSON does not decode: %d %s (%s)", e.status, e.msg, text);
	same_spec(spec, &spec2);
	FUZZ_ASSERT(strcmp(name, name2) == 0, "name '%s' came back as '%s'",
	    name, name2);
	free(name2);
	json_decref(doc);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *obj;
	mlp_spec spec;
	char *name = (char *)"poison";
	apierr e;
	fault f;

	if (lim.max_params == 0) {
		fuzz_limits(&lim);
		fuzz_json_cap();
	}
	fuzz_err_reset(&e);
	obj = codec_parse_object((const char *)data, size, 0, &e);
	if (obj == NULL) {
		fuzz_check_err(&e, "codec_parse_object");
		return 0;
	}
	FUZZ_ASSERT(json_is_object(obj), "codec_parse_object: not an object");
	fuzz_err_reset(&e);
	if (codec_model_spec(obj, 42, &lim, &spec, &name, &e) < 0) {
		fuzz_check_err(&e, "codec_model_spec");
		FUZZ_ASSERT(name == NULL, "failed but left a name");
	} else {
		FUZZ_ASSERT(mlp_spec_validate(&spec, &f) == 0,
		    "decoded spec is invalid: %s", f.msg);
		for (uint32_t l = 0; l <= spec.n_layers; l++)
			FUZZ_ASSERT(spec.sizes[l] <= lim.max_layer_width,
			    "layers[%u] is %u", l, spec.sizes[l]);
		FUZZ_ASSERT(mlp_spec_params(&spec) <= lim.max_params,
		    "%zu parameters", mlp_spec_params(&spec));
		FUZZ_ASSERT(name != NULL, "no name");
		FUZZ_ASSERT(strlen(name) <= CODEC_NAME_MAX, "name of %zu bytes",
		    strlen(name));
		if (json_object_get(obj, "seed") == NULL)
			FUZZ_ASSERT(spec.seed == 42, "default seed not used");
		round_trip(&spec, name);
		free(name);
	}
	json_decref(obj);
	return 0;
}
