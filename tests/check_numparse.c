/*
 * check_numparse: matjson's number parser (matjson_number) against strtod,
 * bit for bit. Its exact 128-bit path (up to 19 significant digits and
 * decimal exponents within +-19) and Clinger's fast path must give
 * strtod's double for every input; the generators aim at the inputs that
 * catch a wrong rounding: 17 to 19 digit mantissas, halfway and
 * near-halfway decimals of doubles, digits with every placement of the
 * point, and exponents at the edges of each path.
 */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matjson.h"

/* xorshift64*: a fixed sequence, so a failure is reproducible */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static size_t checked;

/* s must parse as one number, to strtod's double bit for bit. */
static void
same(const char *s)
{
	double a, b;
	int of;

	ck_assert_msg(matjson_number(s, strlen(s), &a, &of) == 0,
		      "refused %s", s);
	b = strtod(s, NULL);
	ck_assert_msg(memcmp(&a, &b, sizeof a) == 0,
		      "%s: %.17g, strtod %.17g", s, a, b);
	checked++;
}

/* ndig random digits (first nonzero) with the point after lead of them
 * (none when lead >= ndig) and exponent exp (none when noexp). */
static void
random_decimal(int ndig, int lead, int exp, int noexp)
{
	char buf[96];
	int o = 0;

	if (noexp && lead >= ndig && ndig > 1)
		lead = ndig - 1; /* a real: an integer past int64 is refused */
	if (rnd() & 1)
		buf[o++] = '-';
	if (lead <= 0) {
		buf[o++] = '0';
		buf[o++] = '.';
		for (int i = 0; i < -lead; i++)
			buf[o++] = '0';
	}
	for (int i = 0; i < ndig; i++) {
		if (i == lead && lead > 0)
			buf[o++] = '.';
		buf[o++] = (char)('0' + (i == 0 ? 1 + rnd() % 9 : rnd() % 10));
	}
	if (!noexp)
		o += snprintf(buf + o, sizeof buf - (size_t)o, "e%d", exp);
	buf[o] = '\0';
	same(buf);
}

START_TEST(test_random_digits)
{
	for (int i = 0; i < 400000; i++) {
		int ndig = 1 + (int)(rnd() % 20);
		int lead = (int)(rnd() % 26) - 5;
		int exp = (int)(rnd() % 51) - 25;

		random_decimal(ndig, lead, exp, (rnd() & 3) == 0);
	}
	ck_assert_uint_gt(checked, 400000 - 1);
}
END_TEST

/* The shortest and longer decimals of random doubles, and the decimals
 * just around the halfway point between two neighbouring doubles. */
START_TEST(test_random_doubles)
{
	char buf[64];

	for (int i = 0; i < 200000; i++) {
		double d;
		uint64_t bits = rnd();
		int prec = 1 + (int)(rnd() % 19);

		/* magnitudes from 1e-25 to 1e25: both the exact and the
		 * strtod paths */
		d = ldexp(1.0 + (double)(bits >> 12) / 4503599627370496.0,
			  (int)(rnd() % 166) - 83);
		snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
		same(buf);
		snprintf(buf, sizeof buf, "%.17g", d);
		same(buf);
		/* the midpoint of d and its upper neighbour, to 19 and 25
		 * digits: a tie or a near-tie */
		{
			long double mid = ((long double)d +
			    (long double)nextafter(d, INFINITY)) / 2;

			snprintf(buf, sizeof buf, "%.18Le", mid);
			same(buf);
			snprintf(buf, sizeof buf, "%.24Le", mid);
			same(buf);
		}
	}
	/* pixel values k/255 as Python writes them */
	for (int k = 0; k < 256; k++) {
		snprintf(buf, sizeof buf, "%.17g", k / 255.0);
		same(buf);
		snprintf(buf, sizeof buf, "%.9g", k / 255.0);
		same(buf);
	}
}
END_TEST

/* A number read where it stands (matjson_number_at) ends at the first
 * byte that is not a digit, whatever that byte is and wherever it falls in
 * the eight bytes read at once, with the digits before it exact. */
START_TEST(test_digits_then_any_byte)
{
	char buf[40], want[40];

	for (int b = 0; b < 256; b++) {
		if (b >= '0' && b <= '9')
			continue;
		for (int k = 1; k <= 20; k++) {
			const char *stop;
			double d, w;
			int o = snprintf(buf, sizeof buf, "0.");

			for (int i = 0; i < k; i++)
				buf[o++] = (char)('1' + (i * 7 + k) % 9);
			memcpy(want, buf, (size_t)o);
			want[o] = '\0';
			buf[o] = (char)b;
			memcpy(buf + o + 1, "98765432", 8);
			ck_assert_int_eq(matjson_number_at(buf, buf + o + 9, &d,
			    &stop), b == 'e' || b == 'E' ? -1 : 0);
			if (b == 'e' || b == 'E')
				continue;
			ck_assert_ptr_eq(stop, buf + o);
			w = strtod(want, NULL);
			ck_assert_msg(memcmp(&d, &w, sizeof d) == 0, "%s then "
			    "byte %d: %.17g, strtod %.17g", want, b, d, w);
		}
	}
}
END_TEST

START_TEST(test_edges)
{
	static const char *const v[] = {
		"9007199254740993", "9007199254740993.0", "9007199254740995.0",
		"9007199254740992.5", "9007199254740993e0", "18446744073709551615.0",
		"1844674407370955161.5", "9999999999999999999.0",
		"0.9999999999999999999", "9999999999999999999e19",
		"9999999999999999999e-19", "1e-19", "1.0e-19", "1e19", "1.0e19",
		"1e20", "1e-20", "1e22", "1e23", "1e-22", "1e-23",
		"0.1", "0.2", "0.3", "0.7", "2.2250738585072014e-308",
		"2.2250738585072011e-308", "4.9406564584124654e-324",
		"1.7976931348623157e308", "0.5019607843137255",
		"0.25098039215686274", "0.0039215686274509803",
		"1.00000000000000011102230246251565404236316680908203125",
		"1.00000000000000011102230246251565404236316680908203124",
		"1.00000000000000011102230246251565404236316680908203126",
		"123456789012345678.9", "1234567890123456789e-10",
		"7.450580596923828125e-9", "3.4028235677973366e38",
		"3.4028234663852886e38", "1.1754943508222875e-38",
		"0.000000000000000000123", "-0.0000001", "5e-1", "25e-2",
		"4503599627370497.5", "4503599627370496.5",
	};

	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		same(v[i]);
	/* every digit count and every point position around 2^53 to 2^64 */
	for (int ndig = 15; ndig <= 20; ndig++)
		for (int lead = -3; lead <= ndig + 1; lead++)
			for (int j = 0; j < 200; j++)
				random_decimal(ndig, lead, 0, 1);
}
END_TEST

static Suite *
numparse_suite(void)
{
	Suite *s = suite_create("numparse");
	TCase *tc = tcase_create("numparse");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_edges);
	tcase_add_test(tc, test_digits_then_any_byte);
	tcase_add_test(tc, test_random_digits);
	tcase_add_test(tc, test_random_doubles);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(numparse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
