/*
 * fuzz_weights: PUT /v1/models/{id}/weights bodies through
 * codec_weights_decode, against a few model shapes.
 *
 * The parameter block is allocated at exactly mlp_spec_params floats, so a
 * decoder that writes past it is an ASan report, and filled with NaN, so
 * one that leaves a parameter unwritten is caught too. Decoded weights are
 * finite, and encoding them as GET .../weights does (codec_weights_encode,
 * codec_dump's 9 digits) and decoding that text gives the same bits back.
 */
#include "fuzz.h"

#define N_SPECS 3

static mlp_spec specs[N_SPECS];

static void
setup(void)
{
	static const uint32_t a[] = { 2, 3, 1 }, b[] = { 1, 1 },
	    c[] = { 3, 2, 2, 4 };

	fuzz_spec(&specs[0], 2, a);
	fuzz_spec(&specs[1], 1, b);
	fuzz_spec(&specs[2], 3, c);
}

/* GET's form of params, decoded again: the same floats, bit for bit. */
static void
round_trip(const mlp_spec *s, const float *params, size_t np)
{
	float *back = malloc(np * sizeof(float));
	json_t *doc;
	size_t len;
	char *text;
	apierr e;

	FUZZ_ASSERT(back != NULL, "out of memory");
	text = codec_dump(codec_weights_encode(s, params, 12), &len);
	FUZZ_ASSERT(text != NULL, "codec_weights_encode/codec_dump failed");
	fuzz_err_reset(&e);
	doc = codec_parse_object(text, len, 0, &e);
	FUZZ_ASSERT(doc != NULL, "encoded weights do not parse: %s", e.msg);
	FUZZ_ASSERT(codec_weights_decode(doc, s, back, &e) == 0,
	    "encoded weights do not decode: %s (%s)", e.msg, text);
	for (size_t i = 0; i < np; i++)
		FUZZ_ASSERT(memcmp(&params[i], &back[i], sizeof(float)) == 0,
		    "parameter %zu: %.9g came back as %.9g", i,
		    (double)params[i], (double)back[i]);
	json_decref(doc);
	free(text);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *obj;
	apierr e;

	if (specs[0].n_layers == 0) {
		setup();
		fuzz_json_cap();
	}
	fuzz_err_reset(&e);
	obj = codec_parse_object((const char *)data, size, 0, &e);
	if (obj == NULL) {
		fuzz_check_err(&e, "codec_parse_object");
		return 0;
	}
	for (int k = 0; k < N_SPECS; k++) {
		const mlp_spec *s = &specs[k];
		size_t np = mlp_spec_params(s);
		float *params = malloc(np * sizeof(float));

		FUZZ_ASSERT(params != NULL, "out of memory");
		/* NaN everywhere: a parameter left unwritten shows below */
		for (size_t i = 0; i < np; i++)
			params[i] = NAN;
		fuzz_err_reset(&e);
		if (codec_weights_decode(obj, s, params, &e) < 0) {
			fuzz_check_err(&e, "codec_weights_decode");
		} else {
			fuzz_check_finite(params, np, 1, "params");
			round_trip(s, params, np);
		}
		free(params);
	}
	json_decref(obj);
	return 0;
}
