/*
 * check_onnx: Check unit tests of the protobuf wire codec (core/pbwire)
 * and the MLP <-> ONNX mapping (core/onnx).
 *
 * The wire codec must read back what it writes and refuse every
 * malformed encoding (overlong or overflowing varints, groups, field 0,
 * lengths past the end, truncated fixed fields). The mapping must carry a
 * model through ONNX and back bit for bit, accept the other ways an
 * exporter writes the same MLP (MatMul + Add, transB 0, alpha, double and
 * float_data tensors), and refuse everything else with the right fault
 * and a message naming what is wrong, with nothing left allocated. The
 * fuzzer's seed corpus runs through the same checks as fuzz_onnx.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "mlp.h"
#include "onnx.h"
#include "pbwire.h"

/* Test data generator (xorshift32): [lo, hi). */
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

/* ------------------------------------------------------------------ */
/* the wire codec                                                     */
/* ------------------------------------------------------------------ */

/* Reads one varint field from len bytes; the pb_next/pb_varint result. */
static int
read_varint(const uint8_t *b, size_t len, uint64_t *v, fault *f)
{
	pb_reader r;
	uint32_t field;
	int wt;

	pb_reader_init(&r, b, len);
	if (pb_next(&r, &field, &wt, f) != 1)
		return -1;
	return pb_varint(&r, v, f);
}

START_TEST(test_varint_round_trip)
{
	static const uint64_t vals[] = { 0, 1, 127, 128, 300, 16383, 16384,
		(uint64_t)1 << 35, INT64_MAX, (uint64_t)INT64_MAX + 1,
		UINT64_MAX };

	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		pb_writer w;
		void *out;
		size_t len;
		uint64_t v = 42;
		fault f;

		pb_writer_init(&w, 0);
		pb_put_varint(&w, 536870911u, vals[i]); /* the largest field */
		ck_assert_int_eq(pb_writer_finish(&w, &out, &len, &f), 0);
		ck_assert_int_eq(read_varint(out, len, &v, &f), 0);
		ck_assert_msg(v == vals[i], "%llu read back as %llu",
		    (unsigned long long)vals[i], (unsigned long long)v);
		free(out);
	}
}
END_TEST

START_TEST(test_varint_malformed)
{
	/* tag 8 (field 1, varint) then the value */
	static const uint8_t overflow[] = { 8, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0x02 };
	static const uint8_t eleven[] = { 8, 0x80, 0x80, 0x80, 0x80, 0x80,
		0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t cut[] = { 8, 0x80, 0x80 };
	uint64_t v;
	fault f;

	fault_clear(&f);
	ck_assert_int_eq(read_varint(overflow, sizeof overflow, &v, &f), -1);
	ck_assert_int_eq(f.code, FAULT_CORRUPT);
	ck_assert_ptr_nonnull(strstr(f.msg, "overflows"));
	ck_assert_int_eq(read_varint(eleven, sizeof eleven, &v, &f), -1);
	ck_assert_int_eq(f.code, FAULT_CORRUPT);
	ck_assert_int_eq(read_varint(cut, sizeof cut, &v, &f), -1);
	ck_assert_ptr_nonnull(strstr(f.msg, "cut off"));
}
END_TEST

START_TEST(test_tags_and_lengths)
{
	static const uint8_t group[] = { 0x0b };      /* field 1, type 3 */
	static const uint8_t type7[] = { 0x0f };      /* field 1, type 7 */
	static const uint8_t field0[] = { 0x00, 1 };  /* field 0 */
	static const uint8_t longlen[] = { 0x0a, 5, 'a', 'b' };
	static const uint8_t hugelen[] = { 0x0a, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0x7f, 'a' };
	static const uint8_t fix32[] = { 0x0d, 1, 2, 3 };
	static const uint8_t fix64[] = { 0x09, 1, 2, 3, 4, 5, 6, 7 };
	pb_reader r, sub;
	uint32_t field, u32;
	uint64_t u64;
	int wt;
	fault f;

	pb_reader_init(&r, group, sizeof group);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), -1);
	ck_assert_int_eq(f.code, FAULT_CORRUPT);
	pb_reader_init(&r, type7, sizeof type7);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), -1);
	pb_reader_init(&r, field0, sizeof field0);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), -1);
	ck_assert_ptr_nonnull(strstr(f.msg, "field number"));
	pb_reader_init(&r, longlen, sizeof longlen);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), 1);
	ck_assert_int_eq(pb_len(&r, &sub, &f), -1);
	pb_reader_init(&r, hugelen, sizeof hugelen);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), 1);
	ck_assert_int_eq(pb_skip(&r, wt, &f), -1);
	pb_reader_init(&r, fix32, sizeof fix32);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), 1);
	ck_assert_int_eq(wt, PB_I32);
	ck_assert_int_eq(pb_fixed32(&r, &u32, &f), -1);
	pb_reader_init(&r, fix64, sizeof fix64);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), 1);
	ck_assert_int_eq(pb_fixed64(&r, &u64, &f), -1);
	/* an empty message has no fields */
	pb_reader_init(&r, fix32, 0);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), 0);
}
END_TEST

/* Nested messages written back to front read forward with the right
 * lengths; the buffer grows past its first size. */
START_TEST(test_writer_nested)
{
	pb_writer w;
	pb_reader r, sub;
	uint32_t field, u32;
	uint64_t v;
	int wt;
	size_t m, len;
	void *out;
	char big[1000];
	fault f;

	memset(big, 'x', sizeof big);
	pb_writer_init(&w, 1);
	pb_put_varint(&w, 3, 7);
	m = pb_mark(&w);
	pb_put_fixed32(&w, 2, 0xdeadbeef);
	pb_put_bytes(&w, 1, big, sizeof big);
	pb_close(&w, 2, m);
	pb_put_string(&w, 1, "first");
	ck_assert_int_eq(pb_writer_finish(&w, &out, &len, &f), 0);
	pb_reader_init(&r, out, len);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), 1);
	ck_assert_uint_eq(field, 1);
	ck_assert_int_eq(pb_len(&r, &sub, &f), 0);
	ck_assert_int_eq((int)(sub.end - sub.p), 5);
	ck_assert_int_eq(memcmp(sub.p, "first", 5), 0);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), 1);
	ck_assert_uint_eq(field, 2);
	ck_assert_int_eq(pb_len(&r, &sub, &f), 0);
	{
		pb_reader in = sub, bytes;

		ck_assert_int_eq(pb_next(&in, &field, &wt, &f), 1);
		ck_assert_int_eq(pb_len(&in, &bytes, &f), 0);
		ck_assert_int_eq((int)(bytes.end - bytes.p), 1000);
		ck_assert_int_eq(pb_next(&in, &field, &wt, &f), 1);
		ck_assert_int_eq(pb_fixed32(&in, &u32, &f), 0);
		ck_assert_uint_eq(u32, 0xdeadbeef);
		ck_assert_int_eq(pb_next(&in, &field, &wt, &f), 0);
	}
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), 1);
	ck_assert_int_eq(pb_varint(&r, &v, &f), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(pb_next(&r, &field, &wt, &f), 0);
	free(out);
}
END_TEST

/* ------------------------------------------------------------------ */
/* the mapping: mlpd -> ONNX -> mlpd                                  */
/* ------------------------------------------------------------------ */

static float *
random_params(const mlp_spec *s, uint32_t seed)
{
	size_t n = mlp_spec_params(s);
	float *p = malloc(n * sizeof *p);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = frand(&seed, -3, 3);
	return p;
}

static const onnx_meta test_meta[] = {
	{ "name", "round trip" }, { "step", "12345" },
};

START_TEST(test_round_trip)
{
	static const struct {
		uint32_t n, sizes[5];
		act_kind act[4];
	} cases[] = {
		{ 2, { 2, 4, 1 }, { ACT_SIGMOID, ACT_SIGMOID } },
		{ 3, { 5, 7, 3, 2 }, { ACT_TANH, ACT_RELU, ACT_LINEAR } },
		{ 3, { 4, 6, 6, 3 }, { ACT_LINEAR, ACT_SIGMOID, ACT_SOFTMAX } },
		{ 1, { 3, 2 }, { ACT_LINEAR } },
		{ 4, { 1, 1, 9, 1, 2 }, { ACT_RELU, ACT_TANH, ACT_LINEAR,
		    ACT_SOFTMAX } },
	};
	mlp_spec s;
	onnx_net net;
	float *p;
	void *out;
	size_t len;
	fault f;

	mlp_spec_default(&s);
	s.n_layers = cases[_i].n;
	for (uint32_t l = 0; l <= s.n_layers; l++)
		s.sizes[l] = cases[_i].sizes[l];
	for (uint32_t l = 0; l < s.n_layers; l++)
		s.act[l] = cases[_i].act[l];
	if (s.act[s.n_layers - 1] == ACT_SOFTMAX)
		s.loss = MLP_LOSS_CROSS_ENTROPY;
	p = random_params(&s, 77u + (uint32_t)_i);
	ck_assert_msg(onnx_export(&s, p, test_meta, 2, &out, &len, &f) == 0,
	    "%s", f.msg);
	ck_assert_msg(onnx_import(out, len, &net, &f) == 0, "%s", f.msg);
	ck_assert_uint_eq(net.spec.n_layers, s.n_layers);
	for (uint32_t l = 0; l <= s.n_layers; l++)
		ck_assert_uint_eq(net.spec.sizes[l], s.sizes[l]);
	for (uint32_t l = 0; l < s.n_layers; l++)
		ck_assert_int_eq(net.spec.act[l], s.act[l]);
	ck_assert_int_eq(net.spec.loss, s.loss);
	ck_assert_int_eq(memcmp(net.params, p, mlp_spec_params(&s) *
	    sizeof *p), 0);
	ck_assert_uint_eq(net.n_meta, 2);
	ck_assert_str_eq(onnx_net_meta(&net, "name"), "round trip");
	ck_assert_str_eq(onnx_net_meta(&net, "step"), "12345");
	ck_assert_ptr_null(onnx_net_meta(&net, "seed"));
	onnx_net_free(&net);
	onnx_net_free(&net); /* freed twice: a no-op the second time */
	onnx_net_free(NULL);
	free(out);
	free(p);
}
END_TEST

/* Every prefix of an export is refused, or (cut between metadata
 * entries) read with fewer entries; never read wrongly. */
START_TEST(test_truncated)
{
	mlp_spec s;
	float *p;
	void *out;
	size_t len, accepted = 0;
	onnx_net net;
	fault f;

	mlp_spec_default(&s);
	s.n_layers = 2;
	s.sizes[0] = 3;
	s.sizes[1] = 4;
	s.sizes[2] = 2;
	p = random_params(&s, 5);
	ck_assert_int_eq(onnx_export(&s, p, test_meta, 2, &out, &len, &f), 0);
	for (size_t n = 0; n < len; n++) {
		fault_clear(&f);
		if (onnx_import(out, n, &net, &f) == 0) {
			ck_assert_uint_lt(net.n_meta, 2);
			ck_assert_int_eq(memcmp(net.params, p,
			    mlp_spec_params(&s) * sizeof *p), 0);
			onnx_net_free(&net);
			accepted++;
			continue;
		}
		ck_assert_msg(f.code == FAULT_CORRUPT || f.code == FAULT_INVALID,
		    "prefix %zu: %s: %s", n, fault_code_name(f.code), f.msg);
		ck_assert(f.msg[0] != '\0');
		ck_assert_ptr_null(net.params);
	}
	ck_assert_uint_le(accepted, 2);
	free(out);
	free(p);
}
END_TEST

/* Flipping any one byte never crashes, and what is still accepted has
 * finite parameters and a valid spec. */
START_TEST(test_flipped_bytes)
{
	mlp_spec s;
	float *p;
	uint8_t *out;
	void *o;
	size_t len;
	onnx_net net;
	fault f;

	mlp_spec_default(&s);
	s.n_layers = 2;
	s.sizes[0] = 2;
	s.sizes[1] = 3;
	s.sizes[2] = 2;
	s.act[1] = ACT_SOFTMAX;
	s.loss = MLP_LOSS_CROSS_ENTROPY;
	p = random_params(&s, 9);
	ck_assert_int_eq(onnx_export(&s, p, test_meta, 2, &o, &len, &f), 0);
	out = o;
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			out[i] ^= (uint8_t)(1u << bit);
			if (onnx_import(out, len, &net, &f) == 0) {
				ck_assert_int_eq(mlp_spec_validate(&net.spec,
				    &f), 0);
				for (size_t k = 0; k < mlp_spec_params(
				    &net.spec); k++)
					ck_assert(isfinite(net.params[k]));
				onnx_net_free(&net);
			} else {
				ck_assert(f.msg[0] != '\0');
			}
			out[i] ^= (uint8_t)(1u << bit);
		}
	free(out);
	free(p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* the mapping: graphs other exporters write, and hostile ones        */
/* ------------------------------------------------------------------ */

/* Encoded bytes of one message. */
typedef struct msg {
	void *p;
	size_t n;
} msg;

static msg
done(pb_writer *w)
{
	msg m;
	fault f;

	ck_assert_int_eq(pb_writer_finish(w, &m.p, &m.n, &f), 0);
	return m;
}

/* value encodings; SPLIT_F: packed float_data after an empty packed
 * float_data field and an empty packed dims field (legal protobuf) */
enum { RAW_F, RAW_D, PACKED_F, LOOSE_F, PACKED_D, SPLIT_F };

/* A TensorProto named name of dims d[0..nd) holding v (n values) in the
 * given encoding. */
static msg
tensor(const char *name, int nd, const int64_t *d, const double *v, size_t n,
       int enc)
{
	pb_writer w;
	size_t m;
	uint8_t *b;

	pb_writer_init(&w, 0);
	if (enc == LOOSE_F) {
		for (size_t i = n; i-- > 0;) {
			float x = (float)v[i];
			uint32_t u;

			memcpy(&u, &x, 4);
			pb_put_fixed32(&w, 4, u);
		}
	} else {
		size_t es = enc == RAW_D || enc == PACKED_D ? 8 : 4;

		m = pb_mark(&w);
		b = pb_put_raw(&w, n * es);
		for (size_t i = 0; i < n; i++) {
			float x = (float)v[i];

			if (es == 8)
				memcpy(b + 8 * i, &v[i], 8);
			else
				memcpy(b + 4 * i, &x, 4);
		}
		pb_close(&w, enc == RAW_F || enc == RAW_D ? 9 :
		    enc == PACKED_F || enc == SPLIT_F ? 4 : 10, m);
		if (enc == SPLIT_F) {
			pb_put_bytes(&w, 4, "", 0);
			pb_put_bytes(&w, 1, "", 0);
		}
	}
	pb_put_string(&w, 8, name);
	pb_put_varint(&w, 2, enc == RAW_D || enc == PACKED_D ? 11 : 1);
	for (int i = nd; i-- > 0;)
		pb_put_varint(&w, 1, (uint64_t)d[i]);
	return done(&w);
}

/* A NodeProto; ins NULL-ended; attrs "name=i:V" or "name=f:V". */
static msg
node(const char *op, const char *const *ins, const char *out,
     const char *const *attrs)
{
	pb_writer w;
	size_t n = 0, m;

	pb_writer_init(&w, 0);
	for (n = 0; attrs != NULL && attrs[n] != NULL; n++)
		;
	while (n-- > 0) {
		char name[32];
		const char *eq = strchr(attrs[n], '=');

		snprintf(name, sizeof name, "%.*s", (int)(eq - attrs[n]),
		    attrs[n]);
		m = pb_mark(&w);
		if (eq[1] == 'i') {
			pb_put_varint(&w, 20, 2);
			pb_put_varint(&w, 3, (uint64_t)strtoll(eq + 3, NULL,
			    10));
		} else {
			float x = strtof(eq + 3, NULL);
			uint32_t u;

			memcpy(&u, &x, 4);
			pb_put_varint(&w, 20, 1);
			pb_put_fixed32(&w, 2, u);
		}
		pb_put_string(&w, 1, name);
		pb_close(&w, 5, m);
	}
	pb_put_string(&w, 4, op);
	pb_put_string(&w, 3, op);
	pb_put_string(&w, 2, out);
	for (n = 0; ins[n] != NULL; n++)
		;
	while (n-- > 0)
		pb_put_string(&w, 1, ins[n]);
	return done(&w);
}

/* A ValueInfoProto named name without a type. */
static msg
value(const char *name)
{
	pb_writer w;

	pb_writer_init(&w, 0);
	pb_put_string(&w, 1, name);
	return done(&w);
}

/* A ModelProto (IR 8, opset 14) of a graph with the given nodes and
 * initializers, input "x" (and extra_input when not NULL), output out.
 * Frees the parts. */
static msg
model(msg *nodes, int nn, msg *inits, int ni, const char *out,
      const char *extra_input)
{
	pb_writer w;
	size_t mg, m;
	msg v;

	pb_writer_init(&w, 0);
	m = pb_mark(&w);
	pb_put_varint(&w, 2, 14);
	pb_close(&w, 8, m);
	mg = pb_mark(&w);
	v = value(out);
	pb_put_bytes(&w, 12, v.p, v.n);
	free(v.p);
	if (extra_input != NULL) {
		v = value(extra_input);
		pb_put_bytes(&w, 11, v.p, v.n);
		free(v.p);
	}
	v = value("x");
	pb_put_bytes(&w, 11, v.p, v.n);
	free(v.p);
	for (int i = ni; i-- > 0;) {
		pb_put_bytes(&w, 5, inits[i].p, inits[i].n);
		free(inits[i].p);
	}
	for (int i = nn; i-- > 0;) {
		pb_put_bytes(&w, 1, nodes[i].p, nodes[i].n);
		free(nodes[i].p);
	}
	pb_close(&w, 7, mg);
	pb_put_varint(&w, 1, 8);
	return done(&w);
}

/* W as [in=2, out=3] (MatMul's layout) and b [3]. */
static const double w23[6] = { 0.5, -1, 2, 0.25, 3, -0.75 };
static const double b3[3] = { 0.1, -0.2, 0.3 };

/* mlp's W (out x in) of w23: W[i][j] = w23[j][i]. */
static void
expect_layer(const onnx_net *net, double scale)
{
	ck_assert_uint_eq(net->spec.n_layers, 1);
	ck_assert_uint_eq(net->spec.sizes[0], 2);
	ck_assert_uint_eq(net->spec.sizes[1], 3);
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 2; j++)
			ck_assert_float_eq(net->params[i * 2 + j],
			    (float)(scale * w23[j * 3 + i]));
		ck_assert_float_eq(net->params[6 + i], (float)b3[i]);
	}
}

START_TEST(test_matmul_add)
{
	static const int64_t dw[2] = { 2, 3 }, db[2] = { 1, 3 };
	static const char *const mm[] = { "x", "W", NULL };
	static const char *const add[] = { "b", "h", NULL }; /* bias first */
	static const char *const sig[] = { "z", NULL };
	msg nodes[3], inits[2], bytes;
	onnx_net net;
	fault f;

	nodes[0] = node("MatMul", mm, "h", NULL);
	nodes[1] = node("Add", add, "z", NULL);
	nodes[2] = node("Tanh", sig, "y", NULL);
	inits[0] = tensor("W", 2, dw, w23, 6, RAW_D);
	inits[1] = tensor("b", 2, db, b3, 3, PACKED_D);
	bytes = model(nodes, 3, inits, 2, "y", NULL);
	ck_assert_msg(onnx_import(bytes.p, bytes.n, &net, &f) == 0, "%s",
	    f.msg);
	expect_layer(&net, 1);
	ck_assert_int_eq(net.spec.act[0], ACT_TANH);
	ck_assert_int_eq(net.spec.loss, MLP_LOSS_MSE);
	onnx_net_free(&net);
	free(bytes.p);
}
END_TEST

START_TEST(test_gemm_variants)
{
	static const int64_t dw[2] = { 2, 3 }, db[1] = { 3 };
	static const char *const gemm[] = { "x", "W", "b", NULL };
	static const char *const id[] = { "g", NULL };
	static const char *const attrs[] = { "transB=i:0", "alpha=f:2",
		NULL };
	msg nodes[2], inits[2], bytes;
	onnx_net net;
	fault f;

	/* transB 0 (W is [in, out]), alpha 2, float_data one by one and
	 * packed (after empty packed fields), an Identity at the end */
	nodes[0] = node("Gemm", gemm, "g", attrs);
	nodes[1] = node("Identity", id, "y", NULL);
	inits[0] = tensor("W", 2, dw, w23, 6, LOOSE_F);
	inits[1] = tensor("b", 1, db, b3, 3, SPLIT_F);
	bytes = model(nodes, 2, inits, 2, "y", NULL);
	ck_assert_msg(onnx_import(bytes.p, bytes.n, &net, &f) == 0, "%s",
	    f.msg);
	expect_layer(&net, 2);
	ck_assert_int_eq(net.spec.act[0], ACT_LINEAR);
	onnx_net_free(&net);
	free(bytes.p);
}
END_TEST

/* One hostile or unsupported graph and what its import must say. */
typedef struct bad_case {
	const char *what;
	fault_code code;
	const char *says;
} bad_case;

static void
expect_refused(msg bytes, const bad_case *c)
{
	onnx_net net;
	fault f;

	fault_clear(&f);
	ck_assert_msg(onnx_import(bytes.p, bytes.n, &net, &f) == -1,
	    "%s: accepted", c->what);
	ck_assert_msg(f.code == c->code, "%s: %s (%s), want %s", c->what,
	    fault_code_name(f.code), f.msg, fault_code_name(c->code));
	ck_assert_msg(strstr(f.msg, c->says) != NULL, "%s: '%s' does not "
	    "say '%s'", c->what, f.msg, c->says);
	ck_assert_ptr_null(net.params);
	free(bytes.p);
}

START_TEST(test_refused_graphs)
{
	static const int64_t dw[2] = { 3, 2 }, db[1] = { 3 },
	    dhuge[2] = { 3, (int64_t)1 << 40 }, dneg[2] = { -3, 2 };
	static const char *const gemm[] = { "x", "W", "b", NULL };
	static const char *const gemm_unknown[] = { "x", "W", "nope", NULL };
	static const char *const conv[] = { "x", "W", NULL };
	static const char *const relu_in[] = { "x", NULL };
	static const char *const self[] = { "g", NULL };
	static const char *const sm[] = { "g", NULL };
	static const char *const gemm2[] = { "s", "W", "b", NULL };
	static const char *const tb[] = { "transB=i:1", NULL };
	static const char *const bcast[] = { "transB=i:1", "broadcast=i:1",
		NULL };
	static const char *const ta[] = { "transA=i:1", NULL };
	double nan_w[6];
	msg n[3], in[2];

	memcpy(nan_w, w23, sizeof nan_w);
	nan_w[4] = NAN;
#define W_OK() tensor("W", 2, dw, w23, 6, RAW_F)
#define B_OK() tensor("b", 1, db, b3, 3, RAW_F)
	n[0] = node("Conv", conv, "y", NULL);
	in[0] = W_OK();
	expect_refused(model(n, 1, in, 1, "y", NULL), &(bad_case){
	    "unsupported op", FAULT_INVALID, "node 0 (Conv 'Conv') is not "
	    "supported" });

	/* named as unsupported even where it breaks the chain too */
	n[0] = node("LSTM", self, "y", NULL);
	expect_refused(model(n, 1, NULL, 0, "y", NULL), &(bad_case){
	    "an unsupported op off the chain", FAULT_INVALID,
	    "node 0 (LSTM 'LSTM') is not supported" });

	n[0] = node("Gemm", gemm_unknown, "y", tb);
	in[0] = W_OK();
	expect_refused(model(n, 1, in, 1, "y", NULL), &(bad_case){
	    "unknown bias input", FAULT_INVALID, "'nope'" });

	n[0] = node("Gemm", gemm, "g", tb);
	n[1] = node("Sigmoid", self, "g", NULL);
	in[0] = W_OK();
	in[1] = B_OK();
	expect_refused(model(n, 2, in, 2, "g", NULL), &(bad_case){
	    "a node writing a value that exists (a cycle)", FAULT_INVALID,
	    "already a value" });

	n[0] = node("Relu", relu_in, "r", NULL);
	expect_refused(model(n, 1, NULL, 0, "r", NULL), &(bad_case){
	    "an activation before any layer", FAULT_INVALID,
	    "does not follow" });

	n[0] = node("Gemm", gemm2, "y", tb);
	in[0] = W_OK();
	in[1] = B_OK();
	expect_refused(model(n, 1, in, 2, "y", NULL), &(bad_case){
	    "a node reading an unknown value", FAULT_INVALID,
	    "does not read 'x'" });

	n[0] = node("Gemm", gemm, "g", bcast);
	in[0] = W_OK();
	in[1] = B_OK();
	expect_refused(model(n, 1, in, 2, "g", NULL), &(bad_case){
	    "an unknown attribute", FAULT_INVALID, "'broadcast'" });

	n[0] = node("Gemm", gemm, "g", ta);
	in[0] = W_OK();
	in[1] = B_OK();
	expect_refused(model(n, 1, in, 2, "g", NULL), &(bad_case){
	    "transA", FAULT_INVALID, "transA 1" });

	n[0] = node("Gemm", gemm, "g", tb);
	n[1] = node("Softmax", sm, "s", NULL);
	n[2] = node("Gemm", gemm2, "y", tb);
	in[0] = W_OK();
	in[1] = B_OK();
	expect_refused(model(n, 3, in, 2, "y", NULL), &(bad_case){
	    "softmax before the last layer (and shapes that disagree)",
	    FAULT_INVALID, "takes 2 values per row" });

	n[0] = node("Gemm", gemm, "g", tb);
	in[0] = tensor("W", 2, dw, w23, 5, RAW_F);
	in[1] = B_OK();
	expect_refused(model(n, 1, in, 2, "g", NULL), &(bad_case){
	    "values that disagree with dims", FAULT_INVALID,
	    "holds 5 values; its dims say 6" });

	n[0] = node("Gemm", gemm, "g", tb);
	in[0] = tensor("W", 2, dhuge, w23, 6, RAW_F);
	in[1] = B_OK();
	expect_refused(model(n, 1, in, 2, "g", NULL), &(bad_case){
	    "huge dims", FAULT_LIMIT, "must be a matrix" });

	n[0] = node("Gemm", gemm, "g", tb);
	in[0] = tensor("W", 2, dneg, w23, 6, RAW_F);
	in[1] = B_OK();
	expect_refused(model(n, 1, in, 2, "g", NULL), &(bad_case){
	    "negative dims", FAULT_INVALID, "must be a matrix" });

	n[0] = node("Gemm", gemm, "g", tb);
	in[0] = tensor("W", 2, dw, nan_w, 6, RAW_D);
	in[1] = B_OK();
	expect_refused(model(n, 1, in, 2, "g", NULL), &(bad_case){
	    "a NaN weight", FAULT_NONFINITE, "NaN at [2][0]" });

	n[0] = node("Gemm", gemm, "g", tb);
	in[0] = W_OK();
	in[1] = B_OK();
	expect_refused(model(n, 1, in, 2, "g", "x2"), &(bad_case){
	    "two graph inputs", FAULT_INVALID, "an MLP has one" });

	n[0] = node("Gemm", gemm, "g", tb);
	in[0] = W_OK();
	in[1] = B_OK();
	expect_refused(model(n, 1, in, 2, "elsewhere", NULL), &(bad_case){
	    "an output no node writes", FAULT_INVALID, "'elsewhere'" });

	expect_refused(model(NULL, 0, NULL, 0, "x", NULL), &(bad_case){
	    "no layer at all", FAULT_INVALID, "no Gemm or MatMul" });
#undef W_OK
#undef B_OK
}
END_TEST

/* Bytes that are not an ONNX model at all. */
START_TEST(test_not_onnx)
{
	static const uint8_t wrong_wt[] = { 0x3a, 0x00, 0x08 }; /* graph,
		then field 1 with its value cut off */
	static const uint8_t graph_varint[] = { 0x38, 0x01 }; /* graph as
		a varint */
	onnx_net net;
	fault f;

	ck_assert_int_eq(onnx_import("", 0, &net, &f), -1);
	ck_assert_int_eq(f.code, FAULT_INVALID);
	ck_assert_ptr_nonnull(strstr(f.msg, "no graph"));
	ck_assert_int_eq(onnx_import(wrong_wt, sizeof wrong_wt, &net, &f), -1);
	ck_assert_int_eq(f.code, FAULT_CORRUPT);
	ck_assert_int_eq(onnx_import(graph_varint, sizeof graph_varint, &net,
	    &f), -1);
	ck_assert_int_eq(f.code, FAULT_CORRUPT);
	ck_assert_ptr_nonnull(strstr(f.msg, "wire type 0"));
	ck_assert_int_eq(onnx_import("{\"layers\": [2, 1]}", 18, &net, &f),
	    -1);
	ck_assert(f.code == FAULT_CORRUPT || f.code == FAULT_INVALID);
}
END_TEST

/* Every seed of tests/fuzz/corpus/fuzz_onnx (the crashes the fuzzer
 * ever found join it) through onnx_import as fuzz_onnx checks it, in
 * every build: refused with a message, or read and carried through an
 * export and back unchanged. The corpus holds both kinds. */
START_TEST(test_corpus)
{
	const char *srcdir = getenv("srcdir");
	char dir[4096];
	struct dirent **ents;
	int n, ok = 0, refused = 0;

	snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/fuzz_onnx",
	    srcdir ? srcdir : ".");
	n = scandir(dir, &ents, NULL, alphasort);
	ck_assert_msg(n >= 0, "cannot read the corpus %s", dir);
	for (int i = 0; i < n; i++) {
		char path[8192];
		FILE *fp;
		uint8_t *data;
		long len;
		onnx_net net, again;
		void *out;
		size_t olen;
		fault f;

		snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
		if (ents[i]->d_name[0] == '.' || (fp = fopen(path, "rb")) ==
		    NULL) {
			free(ents[i]);
			continue;
		}
		ck_assert(fseek(fp, 0, SEEK_END) == 0);
		len = ftell(fp);
		rewind(fp);
		data = malloc(len > 0 ? (size_t)len : 1);
		ck_assert_ptr_nonnull(data);
		ck_assert(fread(data, 1, (size_t)len, fp) == (size_t)len);
		fclose(fp);
		if (onnx_import(data, (size_t)len, &net, &f) < 0) {
			ck_assert_msg(f.msg[0] != '\0', "%s", path);
			refused++;
		} else {
			ck_assert_int_eq(onnx_export(&net.spec, net.params,
			    net.meta, net.n_meta, &out, &olen, &f), 0);
			ck_assert_msg(onnx_import(out, olen, &again, &f) == 0,
			    "%s: %s", path, f.msg);
			ck_assert_int_eq(memcmp(again.params, net.params,
			    mlp_spec_params(&net.spec) * sizeof(float)), 0);
			onnx_net_free(&again);
			onnx_net_free(&net);
			free(out);
			ok++;
		}
		free(data);
		free(ents[i]);
	}
	free(ents);
	ck_assert_msg(ok > 0 && refused > 0, "%s: %d read, %d refused", dir,
	    ok, refused);
}
END_TEST

static Suite *
onnx_suite(void)
{
	Suite *s = suite_create("onnx");
	TCase *tc = tcase_create("onnx");

	tcase_add_test(tc, test_varint_round_trip);
	tcase_add_test(tc, test_varint_malformed);
	tcase_add_test(tc, test_tags_and_lengths);
	tcase_add_test(tc, test_writer_nested);
	tcase_add_loop_test(tc, test_round_trip, 0, 5);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_flipped_bytes);
	tcase_add_test(tc, test_matmul_add);
	tcase_add_test(tc, test_gemm_variants);
	tcase_add_test(tc, test_refused_graphs);
	tcase_add_test(tc, test_not_onnx);
	tcase_add_test(tc, test_corpus);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(onnx_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
