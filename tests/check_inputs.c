/*
 * check_inputs: unit tests of what the codec and the CSV decoder accept
 * and echo for issue 12's smaller input defects.
 *
 * A model's hyper-parameters come back as the client wrote them (0.001,
 * not float32's 0.00100000005) and their ranges are judged on the value
 * sent; a CSV body may start with a UTF-8 byte-order mark; a model name
 * must not hold control or bidirectional formatting characters; the
 * single-row predict form, PUT weights' step and nested layer sizes
 * refuse wrong types with 400 wrong_type, as every other field does.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "csv.h"

/* Decodes the JSON object text into *obj; fails the test on an error. */
static json_t *
parse(const char *text)
{
	apierr e;
	json_t *obj = codec_parse_object(text, strlen(text), 0, &e);

	ck_assert_msg(obj != NULL, "%s: %s", text, e.msg);
	return obj;
}

/* POST /v1/models body text -> 0 or -1, spec, e; the name is freed. */
static int
model_spec(const char *text, mlp_spec *spec, apierr *e)
{
	json_t *obj = parse(text);
	char *name = NULL;
	int rc;

	memset(e, 0, sizeof *e);
	rc = codec_model_spec(obj, 1, NULL, spec, &name, e);
	json_decref(obj);
	if (rc < 0)
		ck_assert_ptr_null(name);
	free(name);
	return rc;
}

/* The body text must be refused with status, code and a message that
 * holds want. */
static void
model_refused(const char *text, int status, const char *code,
	      const char *want)
{
	mlp_spec spec;
	apierr e;

	ck_assert_msg(model_spec(text, &spec, &e) < 0, "accepted: %s", text);
	ck_assert_int_eq(e.status, status);
	ck_assert_str_eq(e.code, code);
	ck_assert_msg(strstr(e.msg, want) != NULL, "%s: message '%s' lacks "
	    "'%s'", text, e.msg, want);
}

/* The model JSON (compact, as the API sends it) of the spec that body
 * text creates; malloc'd. */
static char *
model_text(const char *text)
{
	mlp_spec spec;
	registry_view v;
	apierr e;
	size_t len;
	char *out;

	ck_assert_msg(model_spec(text, &spec, &e) == 0, "%s: %s", text, e.msg);
	memset(&v, 0, sizeof v);
	v.id = "m0123456789abcdef";
	v.name = "";
	v.spec = &spec;
	v.last_loss = NAN;
	out = codec_dump(codec_model_json(&v), &len);
	ck_assert_ptr_nonnull(out);
	return out;
}

/* The model JSON of body text must hold want. */
static void
echoes(const char *text, const char *want)
{
	char *out = model_text(text);

	ck_assert_msg(strstr(out, want) != NULL, "%s: '%s' lacks '%s'", text,
	    out, want);
	free(out);
}

START_TEST(test_hyper_echo)
{
	echoes("{\"layers\":[2,1],\"learning_rate\":0.001}",
	    "\"learning_rate\":0.001,");
	echoes("{\"layers\":[2,1],\"learning_rate\":0.3,\"momentum\":0.95}",
	    "\"learning_rate\":0.3,\"momentum\":0.95,");
	echoes("{\"layers\":[2,1],\"learning_rate\":1e-7}",
	    "\"learning_rate\":1e-7,");
	echoes("{\"layers\":[2,1],\"learning_rate\":123456}",
	    "\"learning_rate\":123456.0,");
	echoes("{\"layers\":[2,1],\"momentum\":0}", "\"momentum\":0.0,");
	/* the defaults, which the client did not send, read the same way */
	echoes("{\"layers\":[2,1]}", "\"learning_rate\":0.1,\"momentum\":0.9,");
	/* more digits than float32 holds: the value the model uses */
	echoes("{\"layers\":[2,1],\"learning_rate\":0.1234567891}",
	    "\"learning_rate\":0.12345679,");
}
END_TEST

/* Whatever is echoed decodes to the very float the model holds. */
START_TEST(test_hyper_echo_round_trip)
{
	static const double lrs[] = { 0.001, 1e-6, 0.5, 3e-4, 0.0123456789,
		1e6, 1.5e-45, 0.7, 2.2e-38 };

	for (size_t i = 0; i < sizeof lrs / sizeof lrs[0]; i++) {
		char body[128], *out;
		mlp_spec a, b;
		json_t *obj;
		apierr e;

		snprintf(body, sizeof body, "{\"layers\":[2,1],"
		    "\"learning_rate\":%.17g,\"momentum\":%.17g}", lrs[i],
		    lrs[i] < 1 ? lrs[i] : 0.25);
		ck_assert_msg(model_spec(body, &a, &e) == 0, "%s", e.msg);
		out = model_text(body);
		obj = parse(out);
		snprintf(body, sizeof body, "{\"layers\":[2,1],"
		    "\"learning_rate\":%.17g,\"momentum\":%.17g}",
		    json_number_value(json_object_get(obj, "learning_rate")),
		    json_number_value(json_object_get(obj, "momentum")));
		ck_assert_msg(model_spec(body, &b, &e) == 0, "%s", e.msg);
		ck_assert_msg(a.opt.lr == b.opt.lr, "%s", out);
		ck_assert_msg(a.opt.momentum == b.opt.momentum, "%s", out);
		json_decref(obj);
		free(out);
	}
}
END_TEST

/* Ranges are judged on the value sent, and a value in range that float32
 * cannot keep in range says so. */
START_TEST(test_hyper_ranges)
{
	model_refused("{\"layers\":[2,1],\"learning_rate\":1e-50}", 422,
	    "invalid_value", "learning_rate 1e-50 rounds to 0 in float32");
	model_refused("{\"layers\":[2,1],\"learning_rate\":0}", 422,
	    "invalid_value", "learning_rate must be > 0 and <= 1e6");
	model_refused("{\"layers\":[2,1],\"learning_rate\":1000000.0001}", 422,
	    "invalid_value", "learning_rate must be > 0 and <= 1e6");
	model_refused("{\"layers\":[2,1],\"momentum\":0.99999999999}", 422,
	    "invalid_value", "momentum 0.99999999999 is beyond 0.999999");
	model_refused("{\"layers\":[2,1],\"momentum\":0.9999995}", 422,
	    "invalid_value", "momentum 0.9999995 is beyond "
	    "0.999999, the largest the model takes in float32");
	model_refused("{\"layers\":[2,1],\"momentum\":1}", 422,
	    "invalid_value", "momentum must be in [0, 1)");
	model_refused("{\"layers\":[2,1],\"momentum\":-1e-300}", 422,
	    "invalid_value", "momentum must be in [0, 1)");
	echoes("{\"layers\":[2,1],\"momentum\":0.999999}",
	    "\"momentum\":0.999999,");
	echoes("{\"layers\":[2,1],\"learning_rate\":1e6}",
	    "\"learning_rate\":1000000.0,");
}
END_TEST

/* A list of layer sizes nested in a list is a type error, as the schema
 * says, not a count error. */
START_TEST(test_layers_types)
{
	model_refused("{\"layers\":[[2,4,1]]}", 400, "wrong_type",
	    "layers[0] must be an integer");
	model_refused("{\"layers\":[2,4,\"1\"]}", 400, "wrong_type",
	    "layers[2] must be an integer");
	model_refused("{\"layers\":[2]}", 422, "invalid_value",
	    "between 2 and 17 sizes");
	model_refused("{\"layers\":[2,0]}", 422, "invalid_value",
	    "layers[1] must be between 1 and 65536");
}
END_TEST

/* XOR, two inputs then one target, after a byte-order mark. */
START_TEST(test_csv_bom)
{
	static const char *const bodies[] = {
		"\xef\xbb\xbf" "0,0,0\n0,1,1\n1,0,1\n1,1,0\n",
		"\xef\xbb\xbf" "x1,x2,y\r\n0,0,0\r\n0,1,1\r\n1,0,1\r\n1,1,0\r\n",
	};
	static const float wx[] = { 0, 0, 0, 1, 1, 0, 1, 1 };
	static const float wy[] = { 0, 1, 1, 0 };

	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		const char *b = bodies[i];
		float *x, *y;
		size_t n;
		apierr e;

		ck_assert_msg(csv_count(b, strlen(b), &n, &e) == 0, "%s",
		    e.msg);
		ck_assert_uint_eq(n, 4);
		ck_assert_msg(csv_decode(b, strlen(b), 2, 1, &x, &y, &n,
		    &e) == 0, "body %zu: %s", i, e.msg);
		ck_assert_uint_eq(n, 4);
		ck_assert_mem_eq(x, wx, sizeof wx);
		ck_assert_mem_eq(y, wy, sizeof wy);
		free(x);
		free(y);
	}
}
END_TEST

/* A predict body: the inputs only. */
START_TEST(test_csv_bom_predict)
{
	static const char b[] = "\xef\xbb\xbf" "1,0\n";
	float *x;
	size_t n;
	apierr e;

	ck_assert_msg(csv_decode(b, strlen(b), 2, 0, &x, NULL, &n, &e) == 0,
	    "%s", e.msg);
	ck_assert_uint_eq(n, 1);
	ck_assert(x[0] == 1.0f && x[1] == 0.0f);
	free(x);
}
END_TEST

/* Only one mark, only at the start; positions still count from it. */
START_TEST(test_csv_bom_only_first)
{
	static const char twice[] = "\xef\xbb\xbf\xef\xbb\xbf" "0,0,0\n";
	static const char later[] = "0,0,0\n\xef\xbb\xbf" "1,1,0\n";
	float *x = NULL, *y = NULL;
	size_t n;
	apierr e;

	ck_assert_int_eq(csv_decode(twice, strlen(twice), 2, 1, &x, &y, &n,
	    &e), -1);
	ck_assert_str_eq(e.code, "invalid_value");
	ck_assert_msg(strstr(e.msg, "line 1, column 1") != NULL, "%s", e.msg);
	ck_assert_int_eq(csv_decode(later, strlen(later), 2, 1, &x, &y, &n,
	    &e), -1);
	ck_assert_msg(strstr(e.msg, "line 2, column 1") != NULL, "%s", e.msg);
	ck_assert_ptr_null(x);
}
END_TEST

START_TEST(test_name_refused)
{
	static const struct {
		const char *name; /* as JSON string text */
		const char *want;
	} cases[] = {
		{ "ab\\u202ec", "U+202E at character 3" },
		{ "\\u0001", "U+0001 at character 1" },
		{ "tab\\there", "U+0009 at character 4" },
		{ "new\\nline", "U+000A at character 4" },
		{ "del\\u007f", "U+007F at character 4" },
		{ "r\\u00e9s\\u0085", "U+0085 at character 4" },
		{ "\\u00e9\\u009f", "U+009F at character 2" },
		{ "x\\u061c", "U+061C at character 2" },
		{ "\\u200e", "U+200E at character 1" },
		{ "\\u200f", "U+200F at character 1" },
		{ "\\u202a", "U+202A at character 1" },
		{ "\\u202d", "U+202D at character 1" },
		{ "\\u2066", "U+2066 at character 1" },
		{ "\\u2069", "U+2069 at character 1" },
		{ "\\ud83d\\ude00\\u2067", "U+2067 at character 2" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char body[128];

		snprintf(body, sizeof body, "{\"layers\":[2,1],\"name\":\"%s\"}",
		    cases[i].name);
		model_refused(body, 422, "invalid_value", cases[i].want);
	}
	model_refused("{\"layers\":[2,1],\"name\":\"ab\\u202ec\"}", 422,
	    "invalid_value", "not allowed in a name");
}
END_TEST

START_TEST(test_name_accepted)
{
	static const char *const names[] = { "", "xor net", "r\\u00e9seau",
		"\\u6a21\\u578b", "\\u00a0x", "a\\u200db", "\\u2065\\u206a",
		"\\u202f", "\\u061b\\u061d", "\\ud83d\\ude00" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char body[128];
		mlp_spec spec;
		apierr e;

		snprintf(body, sizeof body, "{\"layers\":[2,1],\"name\":\"%s\"}",
		    names[i]);
		ck_assert_msg(model_spec(body, &spec, &e) == 0, "%s: %s", body,
		    e.msg);
	}
}
END_TEST

/* The predict body text for a 2-input model: 0 or -1, e. */
static int
predict(const char *text, apierr *e)
{
	json_t *obj = parse(text);
	mlp_spec s;
	float *x = NULL;
	size_t n;
	int single, rc;

	mlp_spec_default(&s);
	s.n_layers = 1;
	s.sizes[0] = 2;
	s.sizes[1] = 1;
	memset(e, 0, sizeof *e);
	rc = codec_predict_request(obj, &s, NULL, &x, &n, &single, e);
	json_decref(obj);
	if (rc < 0)
		ck_assert_ptr_null(x);
	free(x);
	return rc;
}

START_TEST(test_predict_single_types)
{
	static const struct {
		const char *body;
		int status;
		const char *code;
	} cases[] = {
		{ "{\"input\":[[0,0]]}", 400, "wrong_type" },
		{ "{\"input\":[[0],[0]]}", 400, "wrong_type" },
		{ "{\"input\":[0,\"1\"]}", 400, "wrong_type" },
		{ "{\"input\":[\"a\"]}", 400, "wrong_type" },
		{ "{\"input\":{\"a\":1}}", 400, "wrong_type" },
		{ "{\"input\":5}", 400, "wrong_type" },
		{ "{\"input\":[0]}", 422, "invalid_value" },
		{ "{\"input\":[0,0,0]}", 422, "invalid_value" },
	};
	apierr e;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_msg(predict(cases[i].body, &e) < 0, "accepted %s",
		    cases[i].body);
		ck_assert_msg(e.status == cases[i].status &&
		    strcmp(e.code, cases[i].code) == 0, "%s: %d %s (%s)",
		    cases[i].body, e.status, e.code, e.msg);
	}
	ck_assert_int_eq(predict("{\"input\":[[0,0]]}", &e), -1);
	ck_assert_msg(strstr(e.msg, "input[0] must be a number") != NULL,
	    "%s", e.msg);
	ck_assert_msg(predict("{\"input\":[0,1.5]}", &e) == 0, "%s", e.msg);
	ck_assert_msg(predict("{\"inputs\":[[0,1.5]]}", &e) == 0, "%s", e.msg);
}
END_TEST

/* PUT weights body text for a 2-1 model with the given step member
 * (JSON text, or NULL for none): 0 or -1, e. */
static int
weights(const char *step, apierr *e)
{
	char body[160];
	mlp_spec s;
	float params[3];
	json_t *obj;
	int rc;

	snprintf(body, sizeof body, "{%s%s%s\"layers\":[{\"weights\":[[1,2]],"
	    "\"biases\":[3]}]}", step ? "\"step\":" : "", step ? step : "",
	    step ? "," : "");
	obj = parse(body);
	mlp_spec_default(&s);
	s.n_layers = 1;
	s.sizes[0] = 2;
	s.sizes[1] = 1;
	memset(e, 0, sizeof *e);
	rc = codec_weights_decode(obj, &s, params, e);
	json_decref(obj);
	if (rc == 0)
		ck_assert(params[0] == 1 && params[1] == 2 && params[2] == 3);
	return rc;
}

START_TEST(test_weights_step)
{
	static const char *const wrong_type[] = { "\"abc\"", "\"7\"", "1.5",
		"true", "null", "[1]", "{}" };
	apierr e;

	for (size_t i = 0; i < sizeof wrong_type / sizeof wrong_type[0]; i++) {
		ck_assert_msg(weights(wrong_type[i], &e) < 0, "step %s accepted",
		    wrong_type[i]);
		ck_assert_int_eq(e.status, 400);
		ck_assert_str_eq(e.code, "wrong_type");
		ck_assert_msg(strstr(e.msg, "step must be an integer") != NULL,
		    "%s", e.msg);
	}
	ck_assert_int_eq(weights("-1", &e), -1);
	ck_assert_int_eq(e.status, 422);
	ck_assert_str_eq(e.code, "invalid_value");
	ck_assert_msg(weights(NULL, &e) == 0, "%s", e.msg);
	ck_assert_msg(weights("0", &e) == 0, "%s", e.msg);
	ck_assert_msg(weights("12345", &e) == 0, "%s", e.msg);
}
END_TEST

static Suite *
inputs_suite(void)
{
	Suite *s = suite_create("inputs");
	TCase *tc = tcase_create("inputs");

	tcase_add_test(tc, test_hyper_echo);
	tcase_add_test(tc, test_hyper_echo_round_trip);
	tcase_add_test(tc, test_hyper_ranges);
	tcase_add_test(tc, test_layers_types);
	tcase_add_test(tc, test_csv_bom);
	tcase_add_test(tc, test_csv_bom_predict);
	tcase_add_test(tc, test_csv_bom_only_first);
	tcase_add_test(tc, test_name_refused);
	tcase_add_test(tc, test_name_accepted);
	tcase_add_test(tc, test_predict_single_types);
	tcase_add_test(tc, test_weights_step);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(inputs_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
