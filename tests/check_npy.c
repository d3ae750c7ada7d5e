/*
 * check_npy: unit tests of server/api/npy.c, the NumPy .npy / .npz
 * decoder and .npy encoder, on files NumPy itself wrote (the fuzz seed
 * corpus tests/fuzz/corpus/fuzz_batch_npy, made with np.save, np.savez
 * and np.savez_compressed) and on headers edited by hand.
 *
 * Every seed decodes to the values NumPy saved, or fails with the status
 * and code its defect calls for and nothing allocated; npy_encode's bytes
 * are a valid version 1.0 file (64-byte aligned header) that decodes back
 * bit for bit.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "npy.h"

static mlp_spec g_spec; /* [3, 5, 2] */
static mlp_spec g_one;  /* [1, 1] */
static codec_limits g_lim;

/* The values the seeds hold: x = arange(6).reshape(2, 3) / 4 and
 * y = [[0, 1], [1, 0]]. */
static const float want_x[] = { 0, 0.25f, 0.5f, 0.75f, 1, 1.25f };
static const float want_y[] = { 0, 1, 1, 0 };

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

static void
setup(void)
{
	static const uint32_t small[] = { 3, 5, 2 }, one[] = { 1, 1 };
	config c;

	spec_of(&g_spec, 2, small);
	spec_of(&g_one, 1, one);
	config_default(&c);
	g_lim.max_layer_width = c.lim.max_layer_width;
	g_lim.max_params = c.lim.max_params;
	g_lim.max_batch_rows = c.lim.max_batch_rows;
	g_lim.max_batch_values = c.lim.max_batch_values;
}

/* The seed file name, malloc'd bytes (exactly its length). */
static char *
seed(const char *name, size_t *len)
{
	const char *srcdir = getenv("srcdir");
	char path[4096];
	FILE *f;
	char *data;
	long n;

	snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fuzz_batch_npy/%s",
	    srcdir ? srcdir : ".", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	ck_assert(n > 0);
	rewind(f);
	data = malloc((size_t)n);
	ck_assert_ptr_nonnull(data);
	ck_assert(fread(data, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return data;
}

/* Decodes seed name as a batch (.npz when npz) and checks the values. */
static void
batch_ok(const char *name, int npz)
{
	size_t len, n;
	char *data = seed(name, &len);
	float *x, *y;
	apierr e;

	ck_assert_msg(npy_batch(data, len, npz, &g_spec, &g_lim, &x, &y, &n,
	    &e) == 0, "%s: %s", name, e.msg);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(x, want_x, sizeof want_x);
	ck_assert_mem_eq(y, want_y, sizeof want_y);
	free(x);
	free(y);
	free(data);
}

/* Seed name refused as a batch (npz) or, when predict, as predict
 * inputs, with status and code; nothing left allocated. */
static void
refused(const char *name, int predict, int npz, int status,
	const char *code)
{
	size_t len, n = 0;
	char *data = seed(name, &len);
	float *x = (float *)1, *y = (float *)1;
	int single;
	apierr e;
	int rc;

	memset(&e, 0, sizeof e);
	rc = predict ? npy_predict(data, len, &g_spec, &g_lim, &x, &n,
	    &single, &e) : npy_batch(data, len, npz, &g_spec, &g_lim, &x, &y,
	    &n, &e);
	ck_assert_msg(rc == -1, "%s accepted", name);
	ck_assert_msg(e.status == status && strcmp(e.code, code) == 0,
	    "%s: want %d %s, got %d %s (%s)", name, status, code, e.status,
	    e.code, e.msg);
	ck_assert_ptr_null(x);
	if (!predict)
		ck_assert_ptr_null(y);
	free(data);
}

START_TEST(test_numpy_files)
{
	batch_ok("batch_f4.npy", 0);
	batch_ok("batch_f8.npy", 0);
	batch_ok("batch_v2.npy", 0);
	batch_ok("batch_v3.npy", 0);
	batch_ok("savez.npz", 1);
	batch_ok("savez_compressed.npz", 1);
}
END_TEST

START_TEST(test_predict_files)
{
	size_t len, n;
	char *data = seed("predict_f4.npy", &len);
	float *x;
	int single;
	apierr e;

	ck_assert_msg(npy_predict(data, len, &g_spec, &g_lim, &x, &n, &single,
	    &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(single, 0);
	ck_assert_mem_eq(x, want_x, sizeof want_x);
	free(x);
	free(data);
	/* a 1-D array is one row */
	data = seed("predict_row.npy", &len);
	ck_assert_msg(npy_predict(data, len, &g_spec, &g_lim, &x, &n, &single,
	    &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(single, 1);
	ck_assert_mem_eq(x, want_x, 3 * sizeof(float));
	free(x);
	free(data);
	/* ... unless the model's input is 1 wide: then it is a column */
	data = seed("column_f4.npy", &len);
	ck_assert_msg(npy_predict(data, len, &g_one, &g_lim, &x, &n, &single,
	    &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(single, 0);
	ck_assert(x[0] == 1 && x[1] == 2 && x[2] == 3);
	free(x);
	free(data);
}
END_TEST

START_TEST(test_refused)
{
	refused("fortran.npy", 0, 0, 422, "unsupported_npy");
	refused("bigendian.npy", 0, 0, 422, "unsupported_npy");
	refused("object.npy", 0, 0, 422, "unsupported_npy");
	refused("int64.npy", 0, 0, 422, "unsupported_npy");
	refused("three_d.npy", 0, 0, 422, "unsupported_npy");
	refused("scalar.npy", 1, 0, 422, "unsupported_npy");
	refused("nan.npy", 0, 0, 422, "non_finite");
	refused("inf_f8.npy", 0, 0, 422, "non_finite");
	refused("empty.npy", 0, 0, 422, "invalid_value");
	refused("truncated.npy", 0, 0, 400, "malformed_npy");
	refused("trailing.npy", 0, 0, 400, "malformed_npy");
	refused("bad_magic.npy", 0, 0, 400, "malformed_npy");
	refused("bad_version.npy", 0, 0, 400, "malformed_npy");
	refused("shape_overflow.npy", 0, 0, 422, "invalid_value");
	refused("shape_overflow2.npy", 0, 0, 422, "invalid_value");
	/* a batch .npy's rows are inputs then targets: 5 values */
	refused("predict_f4.npy", 0, 0, 422, "invalid_value");
	/* the predict body is the inputs alone */
	refused("batch_f4.npy", 1, 0, 422, "invalid_value");
	refused("no_targets.npz", 0, 1, 400, "missing_field");
	refused("rows_differ.npz", 0, 1, 422, "invalid_value");
	refused("extra_member.npz", 0, 1, 422, "invalid_value");
	refused("corrupt.npz", 0, 1, 400, "malformed_npy");
	/* each form is not the other */
	refused("savez.npz", 0, 0, 400, "malformed_npy");
	refused("batch_f4.npy", 0, 1, 400, "malformed_npy");
}
END_TEST

/* A predict body past --max-batch-rows is refused before it is copied. */
START_TEST(test_row_caps)
{
	codec_limits lim = g_lim;
	size_t len, n;
	char *data = seed("predict_f4.npy", &len);
	float *x = (float *)1;
	int single;
	apierr e;

	lim.max_batch_rows = 1;
	ck_assert_int_eq(npy_predict(data, len, &g_spec, &lim, &x, &n,
	    &single, &e), -1);
	ck_assert_int_eq(e.status, 422);
	ck_assert_str_eq(e.code, "limit_exceeded");
	ck_assert_ptr_null(x);
	free(data);
}
END_TEST

START_TEST(test_encode)
{
	static const float v[] = { 1.5f, -2, 0, 3e38f, 1e-45f, 7 };
	size_t len, n, hl;
	char *b = npy_encode(v, 2, 3, 0, &len);
	float *x;
	int single;
	apierr e;

	ck_assert_ptr_nonnull(b);
	ck_assert_mem_eq(b, "\x93NUMPY\x01\x00", 8);
	hl = (unsigned char)b[8] | (size_t)(unsigned char)b[9] << 8;
	ck_assert_uint_eq((10 + hl) % 64, 0);
	ck_assert_int_eq(b[10 + hl - 1], '\n');
	ck_assert_msg(strstr(b + 10, "'shape': (2, 3)") != NULL, "%.*s",
	    (int)hl, b + 10);
	ck_assert_uint_eq(len, 10 + hl + sizeof v);
	ck_assert_int_eq(npy_predict(b, len, &g_spec, &g_lim, &x, &n, &single,
	    &e), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(x, v, sizeof v);
	free(x);
	free(b);
	b = npy_encode(v, 1, 3, 1, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_msg(strstr(b + 10, "'shape': (3,)") != NULL, "1-D shape");
	free(b);
}
END_TEST

/* Every seed either decodes or is refused with a 4xx and a code, for
 * each decoder and form; and the corpus holds both kinds. */
START_TEST(test_corpus)
{
	static const char *const names[] = { "batch_f4.npy", "savez.npz",
		"corrupt.npz", "trailing.npy", "object.npy", "scalar.npy" };

	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		size_t len, n;
		char *data = seed(names[i], &len);

		for (int npz = 0; npz < 2; npz++) {
			float *x, *y;
			apierr e;

			memset(&e, 0, sizeof e);
			if (npy_batch(data, len, npz, &g_spec, &g_lim, &x, &y,
			    &n, &e) == 0) {
				free(x);
				free(y);
				continue;
			}
			ck_assert_msg(e.status == 400 || e.status == 422,
			    "%s: %d", names[i], e.status);
			ck_assert_msg(e.code != NULL && e.msg[0] != '\0',
			    "%s: no code or message", names[i]);
		}
		free(data);
	}
}
END_TEST

static Suite *
npy_suite(void)
{
	Suite *s = suite_create("npy");
	TCase *tc = tcase_create("npy");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_numpy_files);
	tcase_add_test(tc, test_predict_files);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_row_caps);
	tcase_add_test(tc, test_encode);
	tcase_add_test(tc, test_corpus);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(npy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
