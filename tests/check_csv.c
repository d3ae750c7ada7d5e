/*
 * check_csv: unit tests of server/api/csv.c, the text/csv decoder and encoder.
 *
 * The decoder must produce exactly the blocks codec produces for the same
 * rows, with or without a header, with \n or \r\n, with or without a final
 * newline; every malformed body must fail with the right status and code,
 * a message that names the line and column, and nothing allocated.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "hugemem.h"
#include "mlp.h"

/* Decodes the NUL-terminated body s for nx inputs and ny targets. */
static int
dec(const char *s, size_t nx, size_t ny, float **x, float **y, size_t *n,
    apierr *e)
{
	return csv_decode(s, strlen(s), nx, ny, x, y, n, e);
}

/* Checks that body s fails with status and code and that the message
 * holds want; x and y must be left NULL. */
static void
reject(const char *s, size_t nx, size_t ny, int status, const char *code,
       const char *want)
{
	float *x = (float *)1, *y = (float *)1;
	size_t n = 99;
	apierr e;

	memset(&e, 0, sizeof e);
	ck_assert_msg(dec(s, nx, ny, &x, &y, &n, &e) == -1, "accepted: %s", s);
	ck_assert_int_eq(e.status, status);
	ck_assert_str_eq(e.code, code);
	ck_assert_msg(strstr(e.msg, want) != NULL, "message '%s' lacks '%s'",
	    e.msg, want);
	ck_assert_ptr_null(x);
	if (ny > 0)
		ck_assert_ptr_null(y);
}

/* XOR as two inputs then one target, in several spellings. */
static void
xor_ok(const char *s)
{
	static const float wx[] = { 0, 0, 0, 1, 1, 0, 1, 1 };
	static const float wy[] = { 0, 1, 1, 0 };
	float *x, *y;
	size_t n;
	apierr e;

	ck_assert_msg(dec(s, 2, 1, &x, &y, &n, &e) == 0, "%s: %s", s, e.msg);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(x, wx, sizeof wx);
	ck_assert_mem_eq(y, wy, sizeof wy);
	free(x);
	free(y);
}

START_TEST(test_rows)
{
	xor_ok("0,0,0\n0,1,1\n1,0,1\n1,1,0\n");
	xor_ok("0,0,0\n0,1,1\n1,0,1\n1,1,0");
	xor_ok("0,0,0\r\n0,1,1\r\n1,0,1\r\n1,1,0\r\n");
	xor_ok("0,0,0\r\n0,1,1\r\n1,0,1\r\n1,1,0");
	xor_ok("a,b,xor\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n");
	xor_ok("a,b,xor\r\n0,0,0\r\n0,1,1\r\n1,0,1\r\n1,1,0\r\n");
	xor_ok("\"in, a\",\"in \"\"b\"\"\",xor\n0,0,0\n0,1,1\n1,0,1\n1,1,0");
	xor_ok(" 0 ,\t0, 0\n0.0,1e0,+1\n1,0e5,0x1p0\n1.,1,.0\n");
	/* blank lines at the end are ignored */
	xor_ok("0,0,0\n0,1,1\n1,0,1\n1,1,0\n\n\r\n  \n");
}
END_TEST

/* The same rows decode to the very floats codec makes of JSON numbers. */
START_TEST(test_values)
{
	const char *s = "3.4028234663852886e38,-1e-45,0.1,1.17549435e-38\n";
	float *x, *y = NULL;
	size_t n;
	apierr e;

	ck_assert_int_eq(dec(s, 4, 0, &x, &y, &n, &e), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(x[0] == FLT_MAX);
	ck_assert(x[1] == (float)-1e-45);
	ck_assert(x[2] == 0.1f);
	ck_assert(x[3] == FLT_MIN);
	ck_assert_ptr_null(y); /* untouched with ny == 0 */
	free(x);
}
END_TEST

/* Predict: ny == 0 and y may be NULL; a single column works. */
START_TEST(test_predict)
{
	float *x;
	size_t n;
	apierr e;

	ck_assert_int_eq(dec("x\n1\n2\n3\n", 1, 0, &x, NULL, &n, &e), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert(x[0] == 1 && x[1] == 2 && x[2] == 3);
	free(x);
	ck_assert_int_eq(dec("7", 1, 0, &x, NULL, &n, &e), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(x[0] == 7);
	free(x);
}
END_TEST

START_TEST(test_structure)
{
	reject("", 2, 1, 400, "malformed_csv", "empty");
	reject("\n\r\n \n", 2, 1, 400, "malformed_csv", "empty");
	reject("0,0,0\n\n1,1,0\n", 2, 1, 400, "malformed_csv",
	    "line 2 is blank");
	reject("\n0,0,0\n", 2, 1, 400, "malformed_csv", "line 1 is blank");
	reject("0,0,0\r\n0,1,1\r\n\r\n1,1,0\r\n", 2, 1, 400, "malformed_csv",
	    "line 3 is blank");
	reject("a,b,y\n", 2, 1, 422, "invalid_value", "no rows");
	reject("a,b\n0,0,0\n", 2, 1, 422, "invalid_value",
	    "line 1 (the header) has 2 columns; expected 3 (2 inputs then 1 "
	    "target)");
}
END_TEST

START_TEST(test_columns)
{
	reject("0,0,0\n0,1\n", 2, 1, 422, "invalid_value",
	    "line 2 has 2 columns; expected 3 (2 inputs then 1 target)");
	reject("0,0,0,0\n", 2, 1, 422, "invalid_value",
	    "line 1 has 4 columns; expected 3");
	reject("1,2\n3\n", 2, 0, 422, "invalid_value",
	    "line 2 has 1 column; expected 2 (the model's inputs)");
	reject("a,b,y\n0,0,0\n1,1,0,\n", 2, 1, 422, "invalid_value",
	    "line 3 has 4 columns");
}
END_TEST

START_TEST(test_numbers)
{
	reject("a,b,y\n0,0,0\n0,1,1\n1,0,abc\n", 2, 1, 422, "invalid_value",
	    "line 4, column 3: 'abc' is not a number");
	reject("0,0,0\n0,,1\n", 2, 1, 422, "invalid_value",
	    "line 2, column 2 is empty");
	reject("0,0,0\n0, ,1\n", 2, 1, 422, "invalid_value",
	    "line 2, column 2 is empty");
	reject("0,0,0\n0,1 2,1\n", 2, 1, 422, "invalid_value",
	    "line 2, column 2: '1 2' is not a number");
	reject("0,0,0\n0,\"1\",1\n", 2, 1, 422, "invalid_value",
	    "line 2, column 2: '\"1\"' is not a number");
	reject("0,0,0\n0,1x,1\n", 2, 1, 422, "invalid_value",
	    "line 2, column 2: '1x' is not a number");
	/* a first line mixing numbers and names is a row, not a header */
	reject("1,abc,0\n0,1,1\n", 2, 1, 422, "invalid_value",
	    "line 1, column 2: 'abc' is not a number (a header line");
	/* strange bytes are shown as '?' and long fields are cut */
	reject("0,0,0\n0,\xff\x01,1\n", 2, 1, 422, "invalid_value",
	    "'?\?' is not a number");
	reject("0,0,0\n0,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,1\n",
	    2, 1, 422, "invalid_value",
	    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is not a number");
	/* a NUL byte inside a field */
	{
		static const char s[] = "0,0,0\n0,1\0002,1\n";
		float *x, *y;
		size_t n;
		apierr e;

		ck_assert_int_eq(csv_decode(s, sizeof s - 1, 2, 1, &x, &y, &n,
		    &e), -1);
		ck_assert_int_eq(e.status, 422);
		ck_assert_ptr_nonnull(strstr(e.msg, "line 2, column 2"));
	}
}
END_TEST

START_TEST(test_nonfinite)
{
	reject("0,0,0\n0,1,nan\n", 2, 1, 422, "non_finite",
	    "line 2, column 3: 'nan' is not a finite float32");
	reject("0,0,0\n-inf,1,1\n", 2, 1, 422, "non_finite",
	    "line 2, column 1: '-inf'");
	reject("0,0,0\n0,1e39,1\n", 2, 1, 422, "non_finite",
	    "line 2, column 2: '1e39'");
	reject("0,0,0\n0,1e999,1\n", 2, 1, 422, "non_finite",
	    "line 2, column 2");
	/* "nan" alone on line 1 is a number, so not a header */
	reject("nan\n1\n", 1, 0, 422, "non_finite", "line 1, column 1");
}
END_TEST

/* More rows than one request may carry: refused before any allocation
 * of the blocks. */
START_TEST(test_row_cap)
{
	size_t rows = (size_t)MLP_MAX_BATCH + 1;
	char *s = malloc(rows * 2 + 1);

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < rows; i++)
		memcpy(s + 2 * i, "1\n", 2);
	s[rows * 2] = '\0';
	reject(s, 1, 0, 422, "invalid_value", "at most");
	/* exactly the cap is fine */
	{
		float *x;
		size_t n;
		apierr e;

		ck_assert_int_eq(csv_decode(s, (rows - 1) * 2, 1, 0, &x, NULL,
		    &n, &e), 0);
		ck_assert_uint_eq(n, MLP_MAX_BATCH);
		free(x);
	}
	free(s);
}
END_TEST

/* A block of 2 MiB or more comes on 2 MiB pages (hugemem_alloc: one
 * fault per 2 MiB as it fills), with every value in place. */
START_TEST(test_huge_block)
{
	enum { ROWS = 1100, NX = 500 }; /* 2.2 MB of inputs */
	char *s = malloc((size_t)ROWS * (NX * 2 + 2) + 1), *w = s;
	float *x, *y;
	size_t n;
	apierr e;

	ck_assert_ptr_nonnull(s);
	for (size_t r = 0; r < ROWS; r++) {
		for (size_t c = 0; c < NX; c++) {
			*w++ = (char)('0' + (r + c) % 10);
			*w++ = ',';
		}
		*w++ = '7';
		*w++ = '\n';
	}
	*w = '\0';
	ck_assert_int_eq(csv_decode(s, (size_t)(w - s), NX, 1, &x, &y, &n,
	    &e), 0);
	ck_assert_uint_eq(n, ROWS);
	ck_assert_uint_eq((uintptr_t)x % ((uintptr_t)2 << 20), 0);
	ck_assert_float_eq(x[(size_t)(ROWS - 1) * NX + NX - 1],
	    (float)((ROWS - 1 + NX - 1) % 10));
	ck_assert_float_eq(x[12345], (float)((12345 / NX + 12345 % NX) % 10));
	ck_assert_float_eq(y[ROWS - 1], 7.0f);
	free(x);
	free(y);
	free(s);
}
END_TEST

/* A hugemem block given back with hugemem_free serves the next big
 * buffer of about its size (no fresh pages to fault and zero), still on a
 * 2 MiB boundary; one of under half its size, or over it, is another. */
START_TEST(test_hugemem_keep)
{
	const size_t mb = (size_t)1 << 20;
	char *p = hugemem_alloc(3 * mb), *q, *r;

	ck_assert_ptr_nonnull(p);
	memset(p, 7, 3 * mb);
	hugemem_free(p, 3 * mb);
	q = hugemem_alloc(3 * mb + mb / 2);
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_eq((uintptr_t)q % (2 * mb), 0);
	ck_assert_int_eq(q[3 * mb - 1], 7); /* its pages stayed */
	hugemem_free(q, 3 * mb + mb / 2);
	r = hugemem_alloc(9 * mb);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_ne(r, p);
	ck_assert_uint_eq((uintptr_t)r % (2 * mb), 0);
	free(r); /* free stays correct */
	r = hugemem_alloc(mb + mb / 2); /* below 2 MiB: plain malloc */
	ck_assert_ptr_ne(r, p);
	free(r);
	q = hugemem_alloc(2 * mb);
	ck_assert_ptr_eq(q, p);
	hugemem_free(q, 2 * mb);
	hugemem_free(NULL, mb);
}
END_TEST

/* A body of rows rows (a header, then row r holding r + c / 8 in column
 * c of width, with \r\n), big enough that csv parses it in parts. */
static char *
big_body(size_t rows, size_t width, size_t *len)
{
	size_t cap = rows * width * 12 + width * 8 + 8, o = 0;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	for (size_t c = 0; c < width; c++)
		o += (size_t)snprintf(s + o, cap - o, "h%zu%s", c,
		    c + 1 < width ? "," : "\r\n");
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < width; c++)
			o += (size_t)snprintf(s + o, cap - o, "%zu.%03zu%s", r,
			    c % 8 * 125, c + 1 < width ? "," : "\r\n");
	o += (size_t)snprintf(s + o, cap - o, "\n\n");
	*len = o;
	return s;
}

/* Puts text over the field of row r, column 0 of a big_body, padding
 * with spaces: the field is "r.000". */
static void
spoil(char *s, size_t r, const char *text)
{
	char key[32];
	char *p;

	snprintf(key, sizeof key, "\n%zu.000,", r);
	p = strstr(s, key);
	ck_assert_ptr_nonnull(p);
	p++;
	memset(p, ' ', strlen(key) - 2);
	memcpy(p, text, strlen(text));
}

/* A body of several MB is parsed in parts on threads: every value lands
 * in its row, and an error is the first a single pass would meet: the
 * earliest line, whichever part holds it. */
START_TEST(test_parts)
{
	enum { ROWS = 3000, NX = 99 };
	size_t len, n;
	char *s = big_body(ROWS, NX + 1, &len);
	float *x, *y;
	apierr e;

	ck_assert_uint_gt(len, (size_t)2 << 20);
	ck_assert_int_eq(csv_decode(s, len, NX, 1, &x, &y, &n, &e), 0);
	ck_assert_uint_eq(n, ROWS);
	for (size_t r = 0; r < ROWS; r++) {
		for (size_t c = 0; c < NX; c++)
			ck_assert_msg(x[r * NX + c] == (float)r +
			    (float)(c % 8) / 8, "row %zu col %zu", r, c);
		ck_assert(y[r] == (float)r + (float)(NX % 8) / 8);
	}
	free(x);
	free(y);
	/* the last row only (line ROWS + 1, after the header) */
	spoil(s, ROWS - 1, "x");
	x = y = (float *)1;
	ck_assert_int_eq(csv_decode(s, len, NX, 1, &x, &y, &n, &e), -1);
	ck_assert_msg(strstr(e.msg, "line 3001, column 1: 'x'") != NULL, "%s",
	    e.msg);
	ck_assert_ptr_null(x);
	/* a later part's error gives way to an earlier line's */
	spoil(s, 10, "1e999");
	ck_assert_int_eq(csv_decode(s, len, NX, 1, &x, &y, &n, &e), -1);
	ck_assert_str_eq(e.code, "non_finite");
	ck_assert_msg(strstr(e.msg, "line 12, column 1") != NULL, "%s", e.msg);
	ck_assert_ptr_null(x);
	free(s);
}
END_TEST

static int
count(const char *s, size_t *rows, apierr *e)
{
	return csv_count(s, strlen(s), rows, e);
}

/* csv_count: the rows a decode would give, from the structure alone. */
START_TEST(test_count)
{
	size_t rows = 99;
	apierr e;

	ck_assert_int_eq(count("a,b\n1,2\n3,4\n", &rows, &e), 0);
	ck_assert_uint_eq(rows, 2);
	ck_assert_int_eq(count("1,2\r\n3,x\r\n\r\n", &rows, &e), 0);
	ck_assert_uint_eq(rows, 2); /* values are not looked at */
	ck_assert_int_eq(count("1\n\n2\n", &rows, &e), -1);
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.code, "malformed_csv");
	ck_assert_int_eq(count("", &rows, &e), -1);
	ck_assert_int_eq(e.status, 400);
	ck_assert_int_eq(count("x,y\n", &rows, &e), -1);
	ck_assert_int_eq(e.status, 422);
}
END_TEST

START_TEST(test_encode)
{
	const float v[] = { 0.5f, 1.0f / 3.0f, -FLT_MAX, 1e-45f, 0.0f, NAN };
	size_t len;
	char *t = csv_encode(v, 3, 2, &len);
	float *x;
	size_t n;
	apierr e;

	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t, "0.5,0.333333343\n-3.40282347e+38,1.40129846e-45\n"
	    "0,\n");
	ck_assert_uint_eq(len, strlen(t));
	free(t);
	/* what it writes, the decoder reads back bit for bit */
	t = csv_encode(v, 2, 2, &len);
	ck_assert_int_eq(csv_decode(t, len, 2, 0, &x, NULL, &n, &e), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(x, v, 4 * sizeof(float));
	free(x);
	free(t);
	t = csv_encode(v, 0, 2, &len);
	ck_assert_str_eq(t, "");
	free(t);
}
END_TEST

START_TEST(test_accept)
{
	ck_assert(!csv_accepted(NULL));
	ck_assert(!csv_accepted(""));
	ck_assert(!csv_accepted("*/*"));
	ck_assert(!csv_accepted("application/json"));
	ck_assert(!csv_accepted("text/*"));
	ck_assert(csv_accepted("text/csv"));
	ck_assert(csv_accepted("TEXT/CSV; charset=utf-8"));
	ck_assert(csv_accepted("application/json;q=0.5, text/csv"));
	ck_assert(csv_accepted("text/csv;q=0.9,application/json;q=0.8,*/*"));
	ck_assert(!csv_accepted("text/csv, application/json"));
	ck_assert(!csv_accepted("text/csv;q=0"));
	ck_assert(!csv_accepted("text/csv;q=0.5, application/json"));
	ck_assert(!csv_accepted("text/csvx"));
	/* the q of any one type, for predict's choice among formats */
	ck_assert(csv_accept_q(NULL, "application/x-npy") < 0);
	ck_assert(csv_accept_q("text/csv", "application/x-npy") < 0);
	ck_assert(csv_accept_q("application/x-npy", "application/x-npy") == 1);
	ck_assert(csv_accept_q("application/json;q=0.9, Application/X-Npy;"
	    "q=0.5", "application/x-npy") == 0.5);
	ck_assert(csv_accept_q("application/x-npy;q=0.2, application/x-npy",
	    "application/x-npy") == 1);
	ck_assert(csv_accept_q("application/x-npyz", "application/x-npy") < 0);
}
END_TEST

/* Fields decode to what strtod makes of them, rounded to float32, bit
 * for bit, in every spelling strtod takes: the exact fast parser for
 * plain decimals must agree with it (-0 stays negative, as strtod has
 * it). */
START_TEST(test_numbers_exact)
{
	static const char *const odd[] = { "-0", "0", "-0.0", ".5", "+1", "1.",
		"1e5", "1E-5", "0x1p-3", "007", "123456789012345678901234567890",
		"1e-46", "-1.17549435e-38", "3.40282346e38", "0.1", "4.9e-324" };
	uint64_t r = 0x9e3779b97f4a7c15ull;
	char body[64];
	float *x, *y;
	size_t n;
	apierr e;

	for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
		float want = (float)strtod(odd[i], NULL);

		snprintf(body, sizeof body, "%s,1\n", odd[i]);
		ck_assert_msg(dec(body, 1, 1, &x, &y, &n, &e) == 0, "%s: %s",
		    odd[i], e.msg);
		ck_assert_msg(memcmp(x, &want, sizeof want) == 0, "%s: %a, "
		    "strtod %a", odd[i], (double)x[0], (double)want);
		free(x);
		free(y);
	}
	for (int i = 0; i < 100000; i++) {
		double d;
		float want;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		d = (double)(r >> 11) * 0x1p-53 * (i % 2 ? 1e-3 : 1e6);
		snprintf(body, sizeof body, i % 3 ? "%.17g,1\n" : "%.9g,1\n",
		    i % 5 ? d : -d);
		want = (float)strtod(body, NULL);
		ck_assert_msg(dec(body, 1, 1, &x, &y, &n, &e) == 0, "%s: %s",
		    body, e.msg);
		ck_assert_msg(memcmp(x, &want, sizeof want) == 0, "%s: %a, "
		    "strtod %a", body, (double)x[0], (double)want);
		free(x);
		free(y);
	}
}
END_TEST

static Suite *
csv_suite(void)
{
	Suite *s = suite_create("csv");
	TCase *tc = tcase_create("csv");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_rows);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_predict);
	tcase_add_test(tc, test_structure);
	tcase_add_test(tc, test_columns);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_nonfinite);
	tcase_add_test(tc, test_row_cap);
	tcase_add_test(tc, test_huge_block);
	tcase_add_test(tc, test_parts);
	tcase_add_test(tc, test_hugemem_keep);
	tcase_add_test(tc, test_count);
	tcase_add_test(tc, test_encode);
	tcase_add_test(tc, test_accept);
	tcase_add_test(tc, test_numbers_exact);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(csv_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
