/*
 * check_codec: the body decoders and the blob loader on the fuzzers' seed
 * corpora (tests/fuzz/corpus/<target>/), in a normal build.
 *
 * Each corpus file goes through the decoders the way its fuzz target (and
 * the API handler) calls them, with the default daemon's limits and JSON
 * memory cap: it must decode, or fail with a client error (400, 413, 415
 * or 422) that has a code and a message; under the ASan build nothing may
 * leak or overrun. The seeds hold the edge cases and every input a fuzzer
 * has crashed on, so this is also where those regressions stay tested;
 * the cases after the corpus ones pin the exact answer to particular
 * inputs, and the round trips the fuzz targets assert (what GET returns
 * can be sent back, bit for bit).
 */
#include <check.h>
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob.h"
#include "codec.h"
#include "config.h"
#include "csv.h"
#include "fuzz/matjson_diff.h"
#include "matjson.h"

/* The fuzzers' -max_len (FUZZ_MAX_LEN in tests/fuzz/fuzz.h): the JSON cap
 * is 24 times it, as the daemon's is 24 times its body cap. */
#define MAX_LEN 16384

static codec_limits g_lim;

/* The default daemon's limits and JSON cap, in each (forked) test. */
static void
setup(void)
{
	config c;

	config_default(&c);
	g_lim.max_layer_width = c.lim.max_layer_width;
	g_lim.max_params = c.lim.max_params;
	g_lim.max_batch_rows = c.lim.max_batch_rows;
	g_lim.max_batch_values = c.lim.max_batch_values;
	codec_json_cap(24 * (size_t)MAX_LEN);
}

static void
teardown(void)
{
}

/* A valid spec with the given sizes; sigmoid, mse, sgd. */
static void
spec_of(mlp_spec *s, uint32_t n_layers, const uint32_t *sizes)
{
	fault f;

	mlp_spec_default(s);
	s->n_layers = n_layers;
	for (uint32_t l = 0; l <= n_layers; l++)
		s->sizes[l] = sizes[l];
	ck_assert_msg(mlp_spec_validate(s, &f) == 0, "%s", f.msg);
}

/* e as a failed decoder must leave it; name is the corpus file. */
static void
client_error(const apierr *e, const char *what, const char *name)
{
	ck_assert_msg(e->status == 400 || e->status == 413 ||
	    e->status == 415 || e->status == 422, "%s: %s failed with %d "
	    "(%s: %s)", name, what, e->status, e->code ? e->code : "-",
	    e->msg);
	ck_assert_msg(e->code != NULL && e->code[0] != '\0',
	    "%s: %s failed without a code", name, what);
	ck_assert_msg(e->msg[0] != '\0', "%s: %s failed without a message",
	    name, what);
}

/* Counts of what a corpus did: every corpus must hold inputs that decode
 * and inputs that do not, or it tests less than it seems to. */
typedef struct tally {
	int files;
	int ok;
	int refused;
} tally;

typedef void (*corpus_fn)(const char *name, const char *data, size_t len,
			  tally *t);

/* Runs fn on every file of tests/fuzz/corpus/<target>, in name order. */
static tally
corpus_each(const char *target, corpus_fn fn)
{
	const char *srcdir = getenv("srcdir");
	char dir[4096];
	struct dirent **ents;
	tally t = { 0, 0, 0 };
	int n;

	snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s",
	    srcdir ? srcdir : ".", target);
	n = scandir(dir, &ents, NULL, alphasort);
	ck_assert_msg(n >= 0, "cannot read the corpus %s", dir);
	for (int i = 0; i < n; i++) {
		char path[8192];
		FILE *f;
		char *data;
		long len;

		if (ents[i]->d_name[0] == '.') {
			free(ents[i]);
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
		f = fopen(path, "rb");
		ck_assert_msg(f != NULL, "cannot open %s", path);
		ck_assert(fseek(f, 0, SEEK_END) == 0);
		len = ftell(f);
		ck_assert(len >= 0 && len <= MAX_LEN);
		rewind(f);
		/* exactly len bytes: ASan sees a decoder that reads past */
		data = malloc(len > 0 ? (size_t)len : 1);
		ck_assert_ptr_nonnull(data);
		ck_assert(fread(data, 1, (size_t)len, f) == (size_t)len);
		fclose(f);
		fn(ents[i]->d_name, data, (size_t)len, &t);
		t.files++;
		free(data);
		free(ents[i]);
	}
	free(ents);
	ck_assert_msg(t.files >= 5, "%s holds %d files", dir, t.files);
	ck_assert_msg(t.ok > 0 && t.refused > 0, "%s: %d decode, %d are "
	    "refused; a corpus needs both", dir, t.ok, t.refused);
	return t;
}

/* Parses a corpus body as the handlers do; NULL (checked) if refused. */
static json_t *
parse(const char *name, const char *data, size_t len, int empty_ok)
{
	apierr e;
	json_t *obj = codec_parse_object(data, len, empty_ok, &e);

	if (obj == NULL)
		client_error(&e, "codec_parse_object", name);
	return obj;
}

/* ---------------------------------------------------------------------
 * The corpora
 * ------------------------------------------------------------------ */

static void
one_model_spec(const char *name, const char *data, size_t len, tally *t)
{
	json_t *obj = parse(name, data, len, 0);
	mlp_spec spec;
	char *mname;
	apierr e;
	fault f;

	if (obj == NULL) {
		t->refused++;
		return;
	}
	if (codec_model_spec(obj, 42, &g_lim, &spec, &mname, &e) < 0) {
		client_error(&e, "codec_model_spec", name);
		ck_assert_ptr_null(mname);
		t->refused++;
	} else {
		ck_assert_msg(mlp_spec_validate(&spec, &f) == 0, "%s: %s",
		    name, f.msg);
		ck_assert_uint_le(mlp_spec_params(&spec), g_lim.max_params);
		ck_assert_uint_le(strlen(mname), CODEC_NAME_MAX);
		free(mname);
		t->ok++;
	}
	json_decref(obj);
}

START_TEST(test_corpus_model_spec)
{
	corpus_each("fuzz_model_spec", one_model_spec);
}
END_TEST

static void
one_batch_json(const char *name, const char *data, size_t len, tally *t)
{
	static const uint32_t small[] = { 3, 5, 2 }, wide[] = { 65536, 2 };
	json_t *obj = parse(name, data, len, 0);
	mlp_spec specs[2];

	if (obj == NULL) {
		t->refused++;
		return;
	}
	spec_of(&specs[0], 2, small);
	spec_of(&specs[1], 1, wide);
	for (int k = 0; k < 2; k++) {
		float *x, *y, *vx, *vy;
		size_t n, vn;
		double lr;
		int single;
		apierr e;

		if (codec_batch(obj, &specs[k], &g_lim, &x, &y, &n, &lr,
		    &e) < 0) {
			client_error(&e, "codec_batch", name);
			t->refused++;
		} else {
			ck_assert_uint_ge(n, 1);
			free(x);
			free(y);
			t->ok++;
		}
		if (codec_step(obj, &specs[k], &g_lim, &x, &y, &n, &lr, &vx,
		    &vy, &vn, &e) < 0) {
			client_error(&e, "codec_step", name);
		} else {
			free(x);
			free(y);
			free(vx);
			free(vy);
		}
		if (codec_predict_request(obj, &specs[k], &g_lim, &x, &n,
		    &single, &e) < 0) {
			client_error(&e, "codec_predict_request", name);
		} else {
			ck_assert_uint_ge(n, 1);
			free(x);
		}
	}
	json_decref(obj);
}

START_TEST(test_corpus_batch_json)
{
	corpus_each("fuzz_batch_json", one_batch_json);
}
END_TEST

/* The streaming decoder answers a body as the tree decoder does. */
static void
one_matjson(const char *name, const char *data, size_t len, tally *t)
{
	static const uint32_t small[] = { 3, 5, 2 }, wide[] = { 65536, 2 };
	mlp_spec specs[2];
	char why[1024];

	spec_of(&specs[0], 2, small);
	spec_of(&specs[1], 1, wide);
	for (int k = 0; k < 2; k++)
		ck_assert_msg(matjson_diff(data, len, &specs[k], &g_lim, why,
		    sizeof why) == 0, "%s, spec %d: %s", name, k, why);
	/* tally as the tree decoder does, for corpus_each's checks */
	one_batch_json(name, data, len, t);
}

START_TEST(test_corpus_matjson)
{
	corpus_each("fuzz_batch_json", one_matjson);
}
END_TEST

/* Bodies at every edge of the grammar and of the checks, each answered
 * by matjson exactly as by the tree (spec [3, 5, 2]; the width-2 rows
 * are the targets). */
START_TEST(test_matjson_edges)
{
	static const char *const bodies[] = {
		"{\"inputs\":[[1,2,3]],\"targets\":[[0,1]]}",
		" {\"targets\" : [ [ 0 , 1 ] ] , \"inputs\" : [[1,2,3]] } ",
		"{\"inputs\":[[1,2,3],[4,5,6]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,3]]}",
		"{\"targets\":[[0,1]]}",
		"{}",
		"",
		"   ",
		"[]",
		"null",
		"{\"inputs\":[[1,2,3]],\"targets\":[[0,1]],\"x\":1}",
		"{\"x\":{\"a\":1,\"a\":2},\"inputs\":[[1,2,3]]}",
		"{\"inputs\":[[1,2,3]],\"inputs\":[[1,2,3]]}",
		"{\"inp\\u0075ts\":[[1,2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,3,4]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,\"3\"]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,null]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,[3]]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,{}]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,1e39]],\"targets\":[[0,\"a\"]]}",
		"{\"inputs\":[[1,2,1e39],[1]],\"targets\":[[0,1],[0,1]]}",
		"{\"inputs\":[[1,2,1e999]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,1e999-]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,9223372036854775807]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,9223372036854775808]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,-9223372036854775808]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[-0,-0.0,0e-999]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[01,2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1.,2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[.5,2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[+1,2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1e,2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[NaN,2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,3],],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,3]],\"targets\":[[0,1]],}",
		"{\"inputs\":[[1,2,3]],\"targets\":[[0,1]]} x",
		"{\"inputs\":[[1,2,3]],\"targets\":[[0,1]]",
		"{\"inputs\":[[1,2,3]],\"targets\":[[0,1]]}}",
		"{\"inputs\":[],\"targets\":[]}",
		"{\"inputs\":[[]],\"targets\":[[]]}",
		"{\"inputs\":7,\"targets\":[[0,1]]}",
		"{\"inputs\":[7],\"targets\":[[0,1]]}",
		"{\"inputs\":[[1,2,3]],\"targets\":[[0,1]],\"s\":\"\\ud800\"}",
		"{\"inputs\":[[\"\\ud800\",2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[\"\\ud83d\\ude00\",2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[\"\\u0000\",2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[\"\xc3\x28\",2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[\"\xe2\x82\xac\",2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[\"\xed\xa0\x80\",2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[\"\xc0\xaf\",2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[\"a\x01\",2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[\"\\q\",2,3]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[true,false,null]],\"targets\":[[0,1]]}",
		"{\"inputs\":[[tru,2,3]],\"targets\":[[0,1]]}",
		"{\"input\":[1,2,3]}",
		"{\"input\":[1,2]}",
		"{\"input\":[1,\"a\",3,4]}",
		"{\"input\":[1,2,1e39]}",
		"{\"input\":[[1],2,3]}",
		"{\"input\":3}",
		"{\"input\":[1,2,3],\"inputs\":[[1,2,3]]}",
		"{\"inputs\":[[0.1,0.2,0.30000000000000004]]}",
		"{\"inputs\":[[3.4028235e38,-3.4028235e38,3.40282357e38]]}",
		"{\"inputs\":[[1.17549435e-38,1.4e-45,7e-46]]}",
		"{\"inputs\":[[123456789012345678901234567890,1e-400,"
		    "0.000000000000000000000000000001]]}",
		"{\"inputs\":[[1,2,3]]}\n\r\t ",
		"{\"inputs\":[[1,2,3]]\x00}",
		/* jansson lexes the next token before it finds it misplaced */
		"{\"inputs\":[[]1e999]}",
		"{\"inputs\":[[1,2,3]1e999]}",
		"{1e999:1}",
		"{\"inputs\"1e999}",
		"{\"inputs\":[[1,2,3]]} 1e999",
		"{\"inputs\":[[true1e999]]}",
		"{\"inputs\":[[1,2,3]]} -1e999\xc3",
		"{\"inputs\":[[1,2,3]]} 1e999\xc3\xa9",
	};
	static const uint32_t small[] = { 3, 5, 2 };
	mlp_spec spec;
	char why[1024];
	/* nesting past jansson's 2048 levels, inside a row */
	size_t deep = 2100, len;
	char *body = malloc(64 + 2 * deep);

	spec_of(&spec, 2, small);
	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++)
		ck_assert_msg(matjson_diff(bodies[i], strlen(bodies[i]), &spec,
		    &g_lim, why, sizeof why) == 0, "%s: %s", bodies[i], why);
	/* the NUL inside the last body */
	ck_assert_msg(matjson_diff("{\"inputs\":[[1,2,3]]\0}", 21, &spec,
	    &g_lim, why, sizeof why) == 0, "NUL: %s", why);
	ck_assert_ptr_nonnull(body);
	for (size_t d = 2040; d <= deep; d += 3) {
		len = (size_t)sprintf(body, "{\"inputs\":[[1,2,");
		memset(body + len, '[', d);
		memset(body + len + d, ']', d);
		len += 2 * d;
		len += (size_t)sprintf(body + len, "]]}");
		ck_assert_msg(matjson_diff(body, len, &spec, &g_lim, why,
		    sizeof why) == 0, "depth %zu: %s", d, why);
	}
	free(body);
}
END_TEST

/* matjson_number gives strtod's double, bit for bit, for random doubles
 * printed every way a client prints them, and for random digit strings
 * (long mantissas and wide exponents take its slow path). */
START_TEST(test_matjson_numbers)
{
	uint64_t r = 88172645463325252ull;
	char buf[128];
	double a, b;
	int of;

	for (int i = 0; i < 200000; i++) {
		uint64_t bits;
		int len;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		bits = r;
		memcpy(&a, &bits, sizeof a);
		if (!isfinite(a))
			continue;
		switch (i % 5) {
		case 0: len = snprintf(buf, sizeof buf, "%.17g", a); break;
		case 1: len = snprintf(buf, sizeof buf, "%.9g",
		    (double)(float)(a * 1e-300)); break;
		case 2: len = snprintf(buf, sizeof buf, "%.6f",
		    (double)(r % 2000000) / 1000.0 - 1000.0); break;
		case 3: len = snprintf(buf, sizeof buf, "%.*e",
		    (int)(r % 25), (double)(r >> 11) * 0x1p-53); break;
		default: len = snprintf(buf, sizeof buf, "%llu.%llue%d",
		    (unsigned long long)(r % 100000000000ull),
		    (unsigned long long)(r >> 40), (int)(r % 40) - 20); break;
		}
		/* %e prints 1e+07 style exponents: JSON takes them; a
		 * number without fraction or exponent is an int64 */
		b = strpbrk(buf, ".eE") ? strtod(buf, NULL) :
		    (double)strtoll(buf, NULL, 10);
		ck_assert_msg(matjson_number(buf, (size_t)len, &a, &of) == 0,
		    "%s refused", buf);
		ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "%s: %.17g, "
		    "strtod %.17g", buf, a, b);
	}
	/* integers are int64 first, as jansson reads them */
	ck_assert_int_eq(matjson_number("-0", 2, &a, &of), 0);
	ck_assert_msg(!signbit(a), "-0 is the integer 0");
	ck_assert_int_eq(matjson_number("-0.0", 4, &a, &of), 0);
	ck_assert_msg(signbit(a), "-0.0 is a negative zero");
	ck_assert_int_eq(matjson_number("9223372036854775808", 19, &a, &of),
	    -1);
	ck_assert_int_eq(of, 1);
	ck_assert_int_eq(matjson_number("1e309", 5, &a, &of), -1);
	ck_assert_int_eq(of, 1);
	ck_assert_int_eq(matjson_number("1e", 2, &a, &of), -1);
	ck_assert_int_eq(of, 0);
	ck_assert_int_eq(matjson_number("1 ", 2, &a, &of), -1);
	ck_assert_int_eq(matjson_number("0.1", 3, &a, &of), 0);
	ck_assert(a == 0.1);
}
END_TEST

static void
one_batch_csv(const char *name, const char *data, size_t len, tally *t)
{
	/* nx, ny as the batches and predict handlers of a few models */
	static const uint32_t shapes[][3] = { { 3, 4, 2 }, { 1, 1, 1 },
		{ 65535, 1, 1 }, { 65536, 2, 0 } };
	size_t rows;
	apierr e;
	char *accept;

	if (csv_count(data, len, &rows, &e) < 0) {
		client_error(&e, "csv_count", name);
		t->refused++;
		return;
	}
	for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
		uint32_t sizes[2] = { shapes[k][0], shapes[k][1] };
		size_t nx = sizes[0], ny = shapes[k][2] ? sizes[1] : 0, n;
		mlp_spec s;
		float *x, *y;

		spec_of(&s, 1, sizes);
		if (codec_check_rows(&s, rows, &g_lim, "the CSV body",
		    &e) < 0) {
			client_error(&e, "codec_check_rows", name);
			continue;
		}
		if (csv_decode(data, len, nx, ny, &x, ny ? &y : NULL, &n,
		    &e) < 0) {
			client_error(&e, "csv_decode", name);
			t->refused++;
			continue;
		}
		ck_assert_uint_eq(n, rows);
		free(x);
		if (ny)
			free(y);
		t->ok++;
	}
	accept = strndup(data, len);
	ck_assert_ptr_nonnull(accept);
	ck_assert_int_le(csv_accepted(accept), 1);
	free(accept);
}

START_TEST(test_corpus_batch_csv)
{
	corpus_each("fuzz_batch_csv", one_batch_csv);
}
END_TEST

static void
one_weights(const char *name, const char *data, size_t len, tally *t)
{
	static const uint32_t a[] = { 2, 3, 1 }, b[] = { 1, 1 },
	    c[] = { 3, 2, 2, 4 };
	json_t *obj = parse(name, data, len, 0);
	mlp_spec specs[3];

	if (obj == NULL) {
		t->refused++;
		return;
	}
	spec_of(&specs[0], 2, a);
	spec_of(&specs[1], 1, b);
	spec_of(&specs[2], 3, c);
	for (int k = 0; k < 3; k++) {
		size_t np = mlp_spec_params(&specs[k]);
		float *p = malloc(np * sizeof(float));
		apierr e;

		ck_assert_ptr_nonnull(p);
		if (codec_weights_decode(obj, &specs[k], p, &e) < 0) {
			client_error(&e, "codec_weights_decode", name);
			t->refused++;
		} else {
			for (size_t i = 0; i < np; i++)
				ck_assert(isfinite(p[i]));
			t->ok++;
		}
		free(p);
	}
	json_decref(obj);
}

START_TEST(test_corpus_weights)
{
	corpus_each("fuzz_weights", one_weights);
}
END_TEST

static void
one_train_opts(const char *name, const char *data, size_t len, tally *t)
{
	static const uint32_t sizes[] = { 2, 3, 1 };
	json_t *obj = parse(name, data, len, 1);
	mlp_spec spec;
	train_opts o;
	float *x, *y;
	size_t n;
	apierr e;

	if (obj == NULL) {
		t->refused++;
		return;
	}
	spec_of(&spec, 2, sizes);
	if (codec_train_opts(obj, &o, &e) < 0) {
		client_error(&e, "codec_train_opts", name);
		t->refused++;
	} else {
		char *text = codec_train_opts_text(&o);

		ck_assert_ptr_nonnull(text);
		free(text);
		t->ok++;
	}
	if (codec_validation(obj, &spec, &g_lim, &x, &y, &n, &e) < 0) {
		client_error(&e, "codec_validation", name);
	} else {
		free(x);
		free(y);
	}
	json_decref(obj);
}

START_TEST(test_corpus_train_opts)
{
	corpus_each("fuzz_train_opts", one_train_opts);
}
END_TEST

static void
one_blob(const char *name, const char *data, size_t len, tally *t)
{
	fault f;
	mlp *m = blob_load(data, len, NULL, &f);
	void *buf;
	size_t blen;

	if (m == NULL) {
		ck_assert_msg(f.code == FAULT_CORRUPT, "%s: %s", name, f.msg);
		ck_assert(f.msg[0] != '\0');
		t->refused++;
		return;
	}
	/* a blob that loads saves back to the very same bytes */
	ck_assert_msg(blob_save(m, &buf, &blen, &f) == 0, "%s", f.msg);
	ck_assert_uint_eq(blen, len);
	ck_assert_msg(memcmp(buf, data, len) == 0, "%s saves back "
	    "differently", name);
	free(buf);
	mlp_destroy(m);
	t->ok++;
}

START_TEST(test_corpus_blob)
{
	tally t = corpus_each("fuzz_blob", one_blob);

	/* three real models; the rest damaged copies of one */
	ck_assert_int_eq(t.ok, 3);
}
END_TEST

/* ---------------------------------------------------------------------
 * Particular inputs
 * ------------------------------------------------------------------ */

/* A JSON body that stays within the body cap but whose parse tree would
 * not: 413 from the memory cap, not 503, and nothing left allocated. */
/* jansson drops a NUL byte that follows a number or a literal: such a
 * body parsed before; it is malformed JSON, as the streaming decoder
 * says. */
START_TEST(test_json_nul)
{
	static const char after_num[] = "{\"a\": 1\0, \"b\": 2}";
	static const char after_lit[] = "{\"a\": true\0}";
	static const char inner[] = "{\"a\": \"x\0y\"}";
	static const char late_overflow[] = "{\"a\": [1\0, 1e999]}";
	static const char *const bodies[] = { after_num, after_lit, inner,
		late_overflow };
	static const size_t lens[] = { sizeof after_num - 1,
		sizeof after_lit - 1, sizeof inner - 1,
		sizeof late_overflow - 1 };
	apierr e;

	for (size_t i = 0; i < 4; i++) {
		memset(&e, 0, sizeof e);
		ck_assert_msg(codec_parse_object(bodies[i], lens[i], 0, &e) ==
		    NULL, "body %zu parsed", i);
		ck_assert_int_eq(e.status, 400);
		ck_assert_str_eq(e.code, "malformed_json");
	}
	/* an error jansson meets before the NUL is still its own */
	memset(&e, 0, sizeof e);
	ck_assert_ptr_null(codec_parse_object("{\"a\": 1e999\0}", 13, 0,
	    &e));
	ck_assert_int_eq(e.status, 422);
	ck_assert_str_eq(e.code, "non_finite");
}
END_TEST

START_TEST(test_json_cap)
{
	size_t len = 0, cap = 16 + 3 * 2000;
	char *body = malloc(cap);
	apierr e;

	ck_assert_ptr_nonnull(body);
	len += (size_t)sprintf(body, "{\"inputs\":[");
	for (int i = 0; i < 1900; i++)
		len += (size_t)sprintf(body + len, "{},");
	memcpy(body + len - 1, "]}", 2);
	len++;
	ck_assert_uint_lt(len, MAX_LEN);
	ck_assert_ptr_null(codec_parse_object(body, len, 0, &e));
	ck_assert_int_eq(e.status, 413);
	ck_assert_str_eq(e.code, "body_too_large");
	free(body);
}
END_TEST

/* fuzz_batch_json's first crash: bodies that run into the JSON memory
 * cap while jansson lexes a long string. When the cap made jansson's
 * allocations fail, its lexer lost the closing quote and copied the
 * string past the end of its buffer (a heap overflow; an assertion in
 * jansson builds that keep them). Each of these must be refused with 413
 * or decode, for every point of the string where the cap can strike. */
START_TEST(test_json_cap_in_string)
{
	size_t cap = 64 + 3 * 1900 + 2000;
	char *body = malloc(cap);
	int last = 0;

	ck_assert_ptr_nonnull(body);
	for (int n = 1600; n <= 1900; n++) {
		size_t len = (size_t)sprintf(body, "{\"inputs\":[");
		json_t *obj;
		apierr e;

		for (int i = 0; i < n; i++)
			len += (size_t)sprintf(body + len, "{},");
		len += (size_t)sprintf(body + len, "{\"");
		memset(body + len, 'k', 2000);
		len += 2000;
		len += (size_t)sprintf(body + len, "\":1}]}");
		ck_assert_uint_le(len, cap);
		obj = codec_parse_object(body, len, 0, &e);
		if (obj != NULL) {
			json_decref(obj);
			last = 200;
			continue;
		}
		ck_assert_msg(e.status == 413, "%d {}: %d %s", n, e.status,
		    e.msg);
		ck_assert_str_eq(e.code, "body_too_large");
		last = 413;
	}
	/* the range ends past the cap */
	ck_assert_int_eq(last, 413);
	free(body);
}
END_TEST

/* Short wrong rows for the widest model: the row caps answer first. */
START_TEST(test_wide_rows)
{
	static const uint32_t wide[] = { 65536, 2 };
	char body[4096];
	size_t len = 0;
	mlp_spec s;
	json_t *obj;
	float *x, *y;
	size_t n;
	apierr e;

	spec_of(&s, 1, wide);
	len += (size_t)sprintf(body, "{\"inputs\":[");
	for (int i = 0; i < 257; i++)
		len += (size_t)sprintf(body + len, "[],");
	len--; /* the last comma */
	len += (size_t)sprintf(body + len, "],\"targets\":[[0,1]]}");
	obj = codec_parse_object(body, len, 0, &e);
	ck_assert_msg(obj != NULL, "%s", e.msg);
	ck_assert_int_eq(codec_batch(obj, &s, &g_lim, &x, &y, &n, NULL, &e),
	    -1);
	ck_assert_int_eq(e.status, 422);
	ck_assert_str_eq(e.code, "limit_exceeded");
	ck_assert_ptr_null(x);
	ck_assert_ptr_null(y);
	json_decref(obj);
}
END_TEST

/* The sanitizers reserve terabytes of address space: no limit on it. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NO_AS_LIMIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NO_AS_LIMIT 1
#endif
#endif

#ifndef NO_AS_LIMIT
/* A predict body of one row for the widest model (65,536 zeros, 128 KB
 * of text), decoded by a child allowed 4 MB of address space more than it
 * has: it decodes. (The streaming decoder reserved 64 rows of 65,536
 * floats, 16 MB, whatever the body's size: out of memory here, and a
 * 16 MB allocation for every such body; fuzz_batch_json ran at 92
 * inputs a second on its short bodies.) */
START_TEST(test_wide_short_body)
{
	static const uint32_t wide[] = { 65536, 2 };
	size_t len = 0, cap = 2 * 65536 + 64;
	char *body = malloc(cap), got[512] = "";
	int fd[2], st = 0;
	pid_t pid;
	mlp_spec s;

	ck_assert_ptr_nonnull(body);
	spec_of(&s, 1, wide);
	len += (size_t)sprintf(body, "{\"inputs\":[[");
	for (int i = 0; i < 65536; i++)
		len += (size_t)sprintf(body + len, i ? ",0" : "0");
	len += (size_t)sprintf(body + len, "]]}");
	ck_assert_int_eq(pipe(fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		unsigned long pages = 0;
		FILE *statm = fopen("/proc/self/statm", "r");
		struct rlimit rl;
		float *x = NULL;
		size_t n = 0;
		int single = 0;
		apierr e;

		if (statm == NULL || fscanf(statm, "%lu", &pages) != 1)
			_exit(3);
		fclose(statm);
		rl.rlim_cur = rl.rlim_max = pages * 4096 + (4u << 20);
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(4);
		memset(&e, 0, sizeof e);
		if (matjson_predict(body, len, &s, &g_lim, &x, &n, &single,
		    &e) == 0)
			snprintf(got, sizeof got, "decoded %zu rows", n);
		else
			snprintf(got, sizeof got, "%d %s", e.status, e.msg);
		if (write(fd[1], got, strlen(got)) < 0)
			_exit(5);
		_exit(0);
	}
	close(fd[1]);
	ck_assert_int_ge(read(fd[0], got, sizeof got - 1), 0);
	close(fd[0]);
	free(body);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", st);
	ck_assert_str_eq(got, "decoded 1 rows");
}
END_TEST
#endif

/* Weights at the edges of float32, through GET's encoding and back. */
START_TEST(test_weights_round_trip)
{
	static const uint32_t sizes[] = { 2, 3, 1 };
	const float edge[13] = { FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN,
		0x1p-149f, -0.0f, 0.0f, 1.0f / 3, -2.0f / 3, 16777217.0f,
		0.1f, 1e-7f, 123456.789f };
	float back[13];
	mlp_spec s;
	json_t *obj;
	size_t len;
	char *text;
	apierr e;

	spec_of(&s, 2, sizes);
	ck_assert_uint_eq(mlp_spec_params(&s), 13);
	text = codec_dump(codec_weights_encode(&s, edge, 5), &len);
	ck_assert_ptr_nonnull(text);
	obj = codec_parse_object(text, len, 0, &e);
	ck_assert_msg(obj != NULL, "%s", e.msg);
	ck_assert_msg(codec_weights_decode(obj, &s, back, &e) == 0, "%s",
	    e.msg);
	ck_assert_mem_eq(back, edge, sizeof edge);
	json_decref(obj);
	free(text);
}
END_TEST

/* The same values as predict's CSV output and back. */
START_TEST(test_csv_round_trip)
{
	const float edge[6] = { FLT_MAX, -0.0f, 0x1p-149f, 1.0f / 3,
		-FLT_MIN, 16777217.0f };
	float *x;
	size_t n, len;
	char *text = csv_encode(edge, 2, 3, &len);
	apierr e;

	ck_assert_ptr_nonnull(text);
	ck_assert_msg(csv_decode(text, len, 3, 0, &x, NULL, &n, &e) == 0,
	    "%s", e.msg);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(x, edge, sizeof edge);
	free(x);
	free(text);
}
END_TEST

/* A model as GET shows it, posted again: the same spec and name. */
START_TEST(test_model_round_trip)
{
	static const char body[] = "{\"name\":\"r\\u00e9t\",\"layers\":[4,16,"
	    "3],\"loss\":\"cross_entropy\",\"activation\":\"tanh\","
	    "\"optimizer\":\"momentum\",\"momentum\":0.999998,"
	    "\"learning_rate\":0.0123456789,\"seed\":9007199254740992}";
	static const char *const read_only[] = { "id", "step", "samples",
		"status", "last_loss", "created_at", "updated_at" };
	mlp_spec a, b;
	registry_view cm;
	json_t *obj;
	char *name, *name2, *text;
	size_t len;
	apierr e;

	obj = codec_parse_object(body, sizeof body - 1, 0, &e);
	ck_assert_msg(obj != NULL, "%s", e.msg);
	ck_assert_msg(codec_model_spec(obj, 1, &g_lim, &a, &name, &e) == 0,
	    "%s", e.msg);
	json_decref(obj);
	memset(&cm, 0, sizeof cm);
	cm.id = "m1";
	cm.name = name;
	cm.spec = &a;
	cm.last_loss = NAN;
	text = codec_dump(codec_model_json(&cm), &len);
	ck_assert_ptr_nonnull(text);
	obj = codec_parse_object(text, len, 0, &e);
	ck_assert_msg(obj != NULL, "%s", e.msg);
	for (size_t i = 0; i < sizeof read_only / sizeof read_only[0]; i++)
		ck_assert_int_eq(json_object_del(obj, read_only[i]), 0);
	ck_assert_msg(codec_model_spec(obj, 2, &g_lim, &b, &name2, &e) == 0,
	    "%s: %s", text, e.msg);
	ck_assert_uint_eq(a.n_layers, b.n_layers);
	ck_assert_mem_eq(a.sizes, b.sizes, sizeof a.sizes);
	ck_assert_mem_eq(a.act, b.act, sizeof a.act[0] * a.n_layers);
	ck_assert_int_eq(a.loss, b.loss);
	ck_assert_int_eq(a.opt.kind, b.opt.kind);
	ck_assert(a.opt.lr == b.opt.lr);
	ck_assert(a.opt.momentum == b.opt.momentum);
	ck_assert_uint_eq(a.seed, b.seed);
	ck_assert_str_eq(name, name2);
	json_decref(obj);
	free(text);
	free(name);
	free(name2);
}
END_TEST

static Suite *
codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("corpus");
	TCase *tp = tcase_create("inputs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_corpus_model_spec);
	tcase_add_test(tc, test_corpus_batch_json);
	tcase_add_test(tc, test_corpus_matjson);
	tcase_add_test(tc, test_corpus_batch_csv);
	tcase_add_test(tc, test_corpus_weights);
	tcase_add_test(tc, test_corpus_train_opts);
	tcase_add_test(tc, test_corpus_blob);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_set_timeout(tp, 30);
	tcase_add_test(tp, test_json_nul);
	tcase_add_test(tp, test_json_cap);
	tcase_add_test(tp, test_json_cap_in_string);
	tcase_add_test(tp, test_wide_rows);
#ifndef NO_AS_LIMIT
	tcase_add_test(tp, test_wide_short_body);
#endif
	tcase_add_test(tp, test_weights_round_trip);
	tcase_add_test(tp, test_csv_round_trip);
	tcase_add_test(tp, test_model_round_trip);
	tcase_add_test(tp, test_matjson_edges);
	tcase_add_test(tp, test_matjson_numbers);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
