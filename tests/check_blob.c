/*
 * check_blob: Check unit tests of the model blob (blob_save / blob_load).
 *
 * A blob must round-trip a model exactly (spec, step, RNG, parameters and
 * optimizer state, so that training goes on as if never saved), follow the
 * layout documented in blob.h, and be refused with FAULT_CORRUPT and a
 * message whenever it is damaged, truncated, foreign or of another version.
 */
#include <check.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "fault.h"
#include "mlp.h"

/* Test data generator (xorshift32), apart from core's rng: [lo, hi). */
static float
frand(uint32_t *s, float lo, float hi)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return lo + (hi - lo) * (float)(x >> 8) / 16777216.0f;
}

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* Rewrites the trailing CRC so that only the edit under test is wrong. */
static void
fix_crc(unsigned char *b, size_t len)
{
	put_le32(b + len - 4, blob_crc32(b, len - 4));
}

/* Whether s contains the lower-case word w, ignoring the case of s. */
static int
has_word(const char *s, const char *w)
{
	size_t n = strlen(w), i;

	for (; *s; s++) {
		for (i = 0; i < n && s[i]; i++)
			if (tolower((unsigned char)s[i]) != w[i])
				break;
		if (i == n)
			return 1;
	}
	return 0;
}

/* Whether s names w1 or (when given) w2. */
static int
mentions(const char *s, const char *w1, const char *w2)
{
	return has_word(s, w1) || (w2 && has_word(s, w2));
}

#define NX 3
#define NY 2
#define NB 6

/* Training data shared by the tests. */
static float data_x[NB * NX], data_y[NB * NY];

static void
make_data(void)
{
	uint32_t s = 12345;
	size_t i;

	for (i = 0; i < NB * NX; i++)
		data_x[i] = frand(&s, -1.0f, 1.0f);
	for (i = 0; i < NB * NY; i++)
		data_y[i] = frand(&s, 0.0f, 1.0f);
}

/* A [3, 5, 4, 2] tanh/relu/sigmoid model with optimizer kind, trained a
 * few steps so its parameters, state, step and RNG are not initial. */
static mlp *
make_trained(optim_kind kind, uint64_t seed)
{
	mlp_spec s;
	mlp *m;
	fault f;
	float loss;
	int k;

	mlp_spec_default(&s);
	s.n_layers = 3;
	s.sizes[0] = NX;
	s.sizes[1] = 5;
	s.sizes[2] = 4;
	s.sizes[3] = NY;
	s.act[0] = ACT_TANH;
	s.act[1] = ACT_RELU;
	s.act[2] = ACT_SIGMOID;
	s.opt.kind = kind;
	s.opt.lr = kind == OPTIM_ADAM ? 0.01f : 0.2f;
	s.opt.momentum = 0.75f;
	s.opt.beta1 = 0.85f;
	s.opt.beta2 = 0.995f;
	s.opt.eps = 1e-7f;
	s.seed = seed;
	m = mlp_create(&s, &f);
	ck_assert_msg(m != NULL, "mlp_create: %s", f.msg);
	make_data();
	for (k = 0; k < 4; k++)
		ck_assert_int_eq(mlp_train_step(m, data_x, data_y, NB, 0.0f,
						&loss, &f), 0);
	/* Advance the RNG too, as the trainer's shuffles would. */
	(void)rng_next(mlp_rng(m));
	return m;
}

static void *
save(const mlp *m, size_t *len)
{
	void *buf = NULL;
	fault f;

	fault_clear(&f);
	ck_assert_msg(blob_save(m, &buf, len, &f) == 0, "blob_save: %s",
		      f.msg);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_gt(*len, 20);
	return buf;
}

static void
assert_same_spec(const mlp_spec *a, const mlp_spec *b)
{
	uint32_t l;

	ck_assert_uint_eq(a->n_layers, b->n_layers);
	for (l = 0; l <= a->n_layers; l++)
		ck_assert_uint_eq(a->sizes[l], b->sizes[l]);
	for (l = 0; l < a->n_layers; l++)
		ck_assert_int_eq(a->act[l], b->act[l]);
	ck_assert_int_eq(a->loss, b->loss);
	ck_assert_int_eq(a->opt.kind, b->opt.kind);
	ck_assert(memcmp(&a->opt.lr, &b->opt.lr, sizeof(float)) == 0);
	ck_assert(memcmp(&a->opt.momentum, &b->opt.momentum,
			 sizeof(float)) == 0);
	ck_assert(memcmp(&a->opt.beta1, &b->opt.beta1, sizeof(float)) == 0);
	ck_assert(memcmp(&a->opt.beta2, &b->opt.beta2, sizeof(float)) == 0);
	ck_assert(memcmp(&a->opt.eps, &b->opt.eps, sizeof(float)) == 0);
	ck_assert(a->seed == b->seed);
}

/* Asserts that a and b hold the same step, parameters, state and RNG. */
static void
assert_same_model(mlp *a, mlp *b)
{
	size_t na, nb;
	const float *pa, *pb;

	assert_same_spec(mlp_get_spec(a), mlp_get_spec(b));
	ck_assert(mlp_step(a) == mlp_step(b));
	pa = mlp_params(a, &na);
	pb = mlp_params(b, &nb);
	ck_assert_uint_eq(na, nb);
	ck_assert_mem_eq(pa, pb, na * sizeof(float));
	pa = mlp_optim_state(a, &na);
	pb = mlp_optim_state(b, &nb);
	ck_assert_uint_eq(na, nb);
	if (na)
		ck_assert_mem_eq(pa, pb, na * sizeof(float));
	ck_assert_mem_eq(mlp_rng(a)->s, mlp_rng(b)->s, sizeof(uint64_t) * 4);
}

/* Asserts that blob_load refuses (buf, len) with FAULT_CORRUPT and a
 * message; returns the message's fault for more checks. */
static fault
expect_corrupt(const void *buf, size_t len, const mlp_spec *expect,
	       const char *what)
{
	fault f;
	mlp *m;

	fault_clear(&f);
	m = blob_load(buf, len, expect, &f);
	if (m)
		mlp_destroy(m);
	ck_assert_msg(m == NULL, "blob_load took %s", what);
	ck_assert_msg(f.code == FAULT_CORRUPT, "%s: code %s", what,
		      fault_code_name(f.code));
	ck_assert_msg(f.msg[0] != '\0', "%s: no message", what);
	return f;
}

START_TEST(test_crc32)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";

	ck_assert_uint_eq(blob_crc32("123456789", 9), 0xCBF43926u);
	ck_assert_uint_eq(blob_crc32(fox, strlen(fox)), 0x414FA339u);
	ck_assert_uint_eq(blob_crc32("a", 1), 0xE8B7BE43u);
	ck_assert_uint_eq(blob_crc32("", 0), 0u);
}
END_TEST

START_TEST(test_layout)
{
	mlp *m = make_trained(OPTIM_ADAM, 7);
	size_t len, np, ns, off, i;
	unsigned char *b = save(m, &len);
	const float *p = mlp_params(m, &np);
	const float *st = mlp_optim_state(m, &ns);
	uint32_t hdr;

	ck_assert_mem_eq(b, BLOB_MAGIC, 8);
	ck_assert_uint_eq(get_le32(b + 8), BLOB_VERSION);
	hdr = get_le32(b + 12);
	ck_assert_uint_eq(len, 16 + (size_t)hdr + 4 * (np + ns) + 4);
	ck_assert_uint_eq(get_le32(b + len - 4), blob_crc32(b, len - 4));
	/* Parameters then state, as little-endian binary32. */
	off = 16 + hdr;
	for (i = 0; i < np; i++) {
		uint32_t bits;

		memcpy(&bits, &p[i], 4);
		ck_assert_msg(get_le32(b + off + 4 * i) == bits, "param %zu", i);
	}
	off += 4 * np;
	for (i = 0; i < ns; i++) {
		uint32_t bits;

		memcpy(&bits, &st[i], 4);
		ck_assert_msg(get_le32(b + off + 4 * i) == bits, "state %zu", i);
	}
	free(b);
	mlp_destroy(m);
}
END_TEST

/* _i: 0 sgd, 1 momentum, 2 adam. */
START_TEST(test_round_trip)
{
	mlp *m = make_trained((optim_kind)_i, 40 + (uint64_t)_i);
	size_t len, len2;
	void *buf = save(m, &len), *buf2;
	mlp *l;
	fault f;
	int k;

	fault_clear(&f);
	l = blob_load(buf, len, NULL, &f);
	ck_assert_msg(l != NULL, "blob_load: %s", f.msg);
	ck_assert_uint_eq(mlp_step(l), 4);
	assert_same_model(m, l);

	/* Saving the loaded model gives the same bytes. */
	buf2 = save(l, &len2);
	ck_assert_uint_eq(len, len2);
	ck_assert_mem_eq(buf, buf2, len);

	/* Training goes on identically after the load. */
	for (k = 0; k < 6; k++) {
		float la, lb;

		ck_assert_int_eq(mlp_train_step(m, data_x, data_y, NB, 0.0f,
						&la, &f), 0);
		ck_assert_int_eq(mlp_train_step(l, data_x, data_y, NB, 0.0f,
						&lb, &f), 0);
		ck_assert(memcmp(&la, &lb, sizeof la) == 0);
		ck_assert(rng_next(mlp_rng(m)) == rng_next(mlp_rng(l)));
	}
	assert_same_model(m, l);
	ck_assert_uint_eq(mlp_step(l), 10);
	free(buf);
	free(buf2);
	mlp_destroy(m);
	mlp_destroy(l);
}
END_TEST

START_TEST(test_expect_spec)
{
	mlp *m = make_trained(OPTIM_MOMENTUM, 3);
	size_t len;
	void *buf = save(m, &len);
	mlp_spec e = *mlp_get_spec(m);
	mlp *l;
	fault f;

	/* Only the layer sizes are compared. */
	e.opt.lr = 0.5f;
	e.seed = 99;
	l = blob_load(buf, len, &e, &f);
	ck_assert_msg(l != NULL, "same sizes refused: %s", f.msg);
	assert_same_model(m, l);
	mlp_destroy(l);

	e = *mlp_get_spec(m);
	e.sizes[2] = 7;
	expect_corrupt(buf, len, &e, "a different hidden size");
	e = *mlp_get_spec(m);
	e.sizes[0] = 4;
	expect_corrupt(buf, len, &e, "a different input size");
	e = *mlp_get_spec(m);
	e.n_layers = 2;
	e.sizes[2] = NY;
	expect_corrupt(buf, len, &e, "fewer layers");
	free(buf);
	mlp_destroy(m);
}
END_TEST

START_TEST(test_flipped_bytes)
{
	/* Every byte, header, parameters, state and CRC alike, with a low and
	 * a high bit flipped. */
	mlp *m = make_trained(OPTIM_ADAM, 5);
	size_t len, i;
	unsigned char *b = save(m, &len);
	unsigned char *c = malloc(len);
	const unsigned char flips[2] = {0x01, 0x80};
	int k;
	mlp *l;
	fault f;

	ck_assert_ptr_nonnull(c);
	for (i = 0; i < len; i++) {
		for (k = 0; k < 2; k++) {
			char what[64];

			memcpy(c, b, len);
			c[i] ^= flips[k];
			snprintf(what, sizeof what, "byte %zu ^ 0x%02x", i,
				 flips[k]);
			expect_corrupt(c, len, NULL, what);
		}
	}
	/* A flipped parameter byte is the CRC's to catch. */
	memcpy(c, b, len);
	c[len - 10] ^= 0x10;
	f = expect_corrupt(c, len, NULL, "a parameter byte");
	ck_assert_msg(mentions(f.msg, "crc", "checksum"), "message: %s", f.msg);
	/* And the untouched blob still loads. */
	l = blob_load(b, len, NULL, &f);
	ck_assert_ptr_nonnull(l);
	mlp_destroy(l);
	free(b);
	free(c);
	mlp_destroy(m);
}
END_TEST

START_TEST(test_truncated)
{
	mlp *m = make_trained(OPTIM_SGD, 6);
	size_t len, i;
	unsigned char *b = save(m, &len);
	unsigned char *c;
	size_t cuts[] = {0, 4, 7, 8, 12, 15, 16, 17, 0, 0, 0, 0};
	char what[64];

	cuts[8] = len / 2;
	cuts[9] = len - 5;
	cuts[10] = len - 4;
	cuts[11] = len - 1;
	for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		/* A copy of exactly the cut length, so reading past it shows
		 * under a memory checker. */
		c = malloc(cuts[i] ? cuts[i] : 1);
		ck_assert_ptr_nonnull(c);
		memcpy(c, b, cuts[i]);
		snprintf(what, sizeof what, "%zu of %zu bytes", cuts[i], len);
		expect_corrupt(c, cuts[i], NULL, what);
		free(c);
	}
	/* One byte too many. */
	c = malloc(len + 1);
	ck_assert_ptr_nonnull(c);
	memcpy(c, b, len);
	c[len] = 0;
	expect_corrupt(c, len + 1, NULL, "a trailing byte");
	free(c);
	free(b);
	mlp_destroy(m);
}
END_TEST

START_TEST(test_magic_version_length)
{
	mlp *m = make_trained(OPTIM_MOMENTUM, 8);
	size_t len;
	unsigned char *b = save(m, &len);
	unsigned char *c = malloc(len);
	const uint32_t hdrs[] = {0, 1, 0x7fffffffu, 0xfffffff0u, 0xffffffffu};
	uint32_t hdr = get_le32(b + 12);
	size_t i;
	fault f;

	ck_assert_ptr_nonnull(c);
	/* Wrong magic, CRC made good again so the magic check must fire. */
	memcpy(c, b, len);
	c[0] = 'X';
	fix_crc(c, len);
	f = expect_corrupt(c, len, NULL, "a wrong magic");
	ck_assert_msg(mentions(f.msg, "magic", NULL), "message: %s", f.msg);
	memcpy(c, b, len);
	memcpy(c, "KANNBLOB", 8);
	fix_crc(c, len);
	expect_corrupt(c, len, NULL, "a foreign magic");

	/* Versions 0, 2 and 0xffffffff, CRC made good. */
	memcpy(c, b, len);
	put_le32(c + 8, BLOB_VERSION + 1);
	fix_crc(c, len);
	f = expect_corrupt(c, len, NULL, "version 2");
	ck_assert_msg(mentions(f.msg, "version", NULL), "message: %s", f.msg);
	put_le32(c + 8, 0);
	fix_crc(c, len);
	f = expect_corrupt(c, len, NULL, "version 0");
	ck_assert_msg(mentions(f.msg, "version", NULL), "message: %s", f.msg);
	put_le32(c + 8, 0xffffffffu);
	fix_crc(c, len);
	expect_corrupt(c, len, NULL, "version 0xffffffff");

	/* Header lengths that do not fit the blob, CRC made good: the length
	 * check must catch them without reading out of bounds. */
	for (i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
		char what[64];

		memcpy(c, b, len);
		put_le32(c + 12, hdrs[i]);
		fix_crc(c, len);
		snprintf(what, sizeof what, "header length %u", hdrs[i]);
		expect_corrupt(c, len, NULL, what);
	}
	memcpy(c, b, len);
	put_le32(c + 12, hdr + 4);
	fix_crc(c, len);
	expect_corrupt(c, len, NULL, "header length + 4");
	memcpy(c, b, len);
	put_le32(c + 12, hdr - 4);
	fix_crc(c, len);
	expect_corrupt(c, len, NULL, "header length - 4");

	/* A zeroed header body with a good CRC fails the spec checks. */
	memcpy(c, b, len);
	memset(c + 16, 0, hdr);
	fix_crc(c, len);
	expect_corrupt(c, len, NULL, "a zeroed header");
	free(b);
	free(c);
	mlp_destroy(m);
}
END_TEST

/* An all-zero RNG state (core/rng.h forbids it: xoshiro would draw only
 * zeros) is refused, CRC made good; a state with one word set loads. */
START_TEST(test_zero_rng)
{
	mlp *m = make_trained(OPTIM_SGD, 9), *back;
	size_t len;
	unsigned char *b = save(m, &len);
	/* the RNG's four u64 come just before the two u64 counts that end
	 * the header (blob.h) */
	size_t at = 16 + get_le32(b + 12) - 32 - 16;
	fault f;

	memset(b + at, 0, 32);
	fix_crc(b, len);
	f = expect_corrupt(b, len, NULL, "an all-zero RNG state");
	ck_assert_msg(mentions(f.msg, "rng", "random"), "message: %s", f.msg);
	b[at + 24] = 1;
	fix_crc(b, len);
	fault_clear(&f);
	back = blob_load(b, len, NULL, &f);
	ck_assert_msg(back != NULL, "blob_load: %s", f.msg);
	ck_assert(mlp_rng(back)->s[0] == 0 && mlp_rng(back)->s[3] == 1);
	mlp_destroy(back);
	free(b);
	mlp_destroy(m);
}
END_TEST

static Suite *
blob_suite(void)
{
	Suite *s = suite_create("blob");
	TCase *tc = tcase_create("blob");

	tcase_add_test(tc, test_crc32);
	tcase_add_test(tc, test_layout);
	tcase_add_loop_test(tc, test_round_trip, 0, 3);
	tcase_add_test(tc, test_expect_spec);
	tcase_add_test(tc, test_flipped_bytes);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_magic_version_length);
	tcase_add_test(tc, test_zero_rng);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(blob_suite());
	int failed;

	mlp_blas_threads(1);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
