/*
 * onnx_export: an MLP -> the bytes of an ONNX ModelProto (see onnx.h for
 * what is written): a Gemm per layer, then its activation, written with
 * pbwire's writer back to front so the weights are copied once.
 */
#include "onnx.h"

#include <stdio.h>
#include <string.h>

#include "autoconf.h" /* PACKAGE_VERSION */
#include "le.h"
#include "pbwire.h"

#define T_FLOAT 1 /* TensorProto.DataType, as in onnx_int.h */
#define A_INT 2   /* AttributeProto.AttributeType */


static const char *const act_op[ACT_COUNT_] = {
	[ACT_SIGMOID] = "Sigmoid", [ACT_TANH] = "Tanh", [ACT_RELU] = "Relu",
	[ACT_LINEAR] = NULL, [ACT_SOFTMAX] = "Softmax",
};

/* The name of the value layer l outputs. */
static void
value_name(const mlp_spec *s, uint32_t l, char *buf, size_t n)
{
	if (l == s->n_layers - 1)
		snprintf(buf, n, "output");
	else if (s->act[l] == ACT_LINEAR)
		snprintf(buf, n, "layer%u.linear", l);
	else
		snprintf(buf, n, "layer%u.out", l);
}

/* An AttributeProto of type INT as field 5 of a NodeProto. */
static void
put_attr_int(pb_writer *w, const char *name, int64_t v)
{
	size_t m = pb_mark(w);

	pb_put_varint(w, 20, A_INT);
	pb_put_varint(w, 3, (uint64_t)v);
	pb_put_string(w, 1, name);
	pb_close(w, 5, m);
}

/* A NodeProto (GraphProto field 1) with n_in inputs, one output and at
 * most one INT attribute (attr NULL: none). */
static void
put_node(pb_writer *w, const char *op, const char *name,
	 const char *const *in, int n_in, const char *out, const char *attr,
	 int64_t attr_v)
{
	size_t m = pb_mark(w);

	if (attr != NULL)
		put_attr_int(w, attr, attr_v);
	pb_put_string(w, 4, op);
	pb_put_string(w, 3, name);
	pb_put_string(w, 2, out);
	for (int i = n_in - 1; i >= 0; i--)
		pb_put_string(w, 1, in[i]);
	pb_close(w, 1, m);
}

/* A float TensorProto initializer (GraphProto field 5) of shape [d0] or
 * [d0, d1] (d1 0: one dimension), values little-endian in raw_data. */
static void
put_tensor(pb_writer *w, const char *name, const float *v, uint32_t d0,
	   uint32_t d1)
{
	size_t m = pb_mark(w), mr, n = d1 ? (size_t)d0 * d1 : d0;
	uint8_t *p;

	mr = pb_mark(w);
	if ((p = pb_put_raw(w, n * 4)) != NULL)
		for (size_t i = 0; i < n; i++)
			le_putf32(p + 4 * i, v[i]);
	pb_close(w, 9, mr);
	pb_put_string(w, 8, name);
	pb_put_varint(w, 2, T_FLOAT);
	if (d1)
		pb_put_varint(w, 1, d1);
	pb_put_varint(w, 1, d0);
	pb_close(w, 5, m);
}

/* A ValueInfoProto as field of the graph: a float tensor [N, width]. */
static void
put_value_info(pb_writer *w, uint32_t field, const char *name,
	       uint32_t width)
{
	size_t mv = pb_mark(w), mt = mv, mtt = mv, ms = mv, md;

	md = pb_mark(w);
	pb_put_varint(w, 1, width);
	pb_close(w, 1, md);
	md = pb_mark(w);
	pb_put_string(w, 2, "N");
	pb_close(w, 1, md);
	pb_close(w, 2, ms);          /* TypeProto.Tensor.shape */
	pb_put_varint(w, 1, T_FLOAT); /* elem_type */
	pb_close(w, 1, mtt);         /* TypeProto.tensor_type */
	pb_close(w, 2, mt);          /* ValueInfoProto.type */
	pb_put_string(w, 1, name);
	pb_close(w, field, mv);
}

static void
put_graph(pb_writer *w, const mlp_spec *s, const float *params)
{
	size_t mg = pb_mark(w), off[MLP_MAX_LAYERS], o = 0;
	uint32_t L = s->n_layers;
	char name[48], bname[48], in[48], lin[48], out[48];

	for (uint32_t l = 0; l < L; l++) {
		off[l] = o;
		o += (size_t)s->sizes[l + 1] * (s->sizes[l] + 1);
	}
	put_value_info(w, 12, "output", s->sizes[L]);
	put_value_info(w, 11, "input", s->sizes[0]);
	for (uint32_t l = L; l-- > 0;) {
		uint32_t ni = s->sizes[l], no = s->sizes[l + 1];

		snprintf(name, sizeof name, "layer%u.bias", l);
		put_tensor(w, name, params + off[l] + (size_t)no * ni, no, 0);
		snprintf(name, sizeof name, "layer%u.weight", l);
		put_tensor(w, name, params + off[l], no, ni);
	}
	pb_put_string(w, 2, "mlpd");
	for (uint32_t l = L; l-- > 0;) {
		const char *op = act_op[s->act[l]];
		const char *ins[3] = { in, name, bname };

		if (l == 0)
			snprintf(in, sizeof in, "input");
		else
			value_name(s, l - 1, in, sizeof in);
		value_name(s, l, out, sizeof out);
		if (op != NULL) {
			const char *a[1] = { lin };
			char nn[48];

			snprintf(lin, sizeof lin, "layer%u.linear", l);
			snprintf(nn, sizeof nn, "layer%u.%s", l,
			    act_name(s->act[l]));
			put_node(w, op, nn, a, 1, out,
			    s->act[l] == ACT_SOFTMAX ? "axis" : NULL, 1);
		} else {
			snprintf(lin, sizeof lin, "%s", out);
		}
		snprintf(name, sizeof name, "layer%u.weight", l);
		snprintf(bname, sizeof bname, "layer%u.bias", l);
		{
			char nn[48];

			snprintf(nn, sizeof nn, "layer%u.gemm", l);
			put_node(w, "Gemm", nn, ins, 3, lin, "transB", 1);
		}
	}
	pb_close(w, 7, mg);
}

int
onnx_export(const mlp_spec *s, const float *params, const onnx_meta *meta,
	    size_t n_meta, void **out, size_t *len, fault *f)
{
	pb_writer w;
	size_t m;

	if (mlp_spec_validate(s, f) < 0)
		return -1;
	pb_writer_init(&w, mlp_spec_params(s) * 4 + 4096 +
	    (size_t)s->n_layers * 512);
	for (size_t i = n_meta; i-- > 0;) {
		m = pb_mark(&w);
		pb_put_string(&w, 2, meta[i].value);
		pb_put_string(&w, 1, meta[i].key);
		pb_close(&w, 14, m);
	}
	m = pb_mark(&w);
	pb_put_varint(&w, 2, ONNX_OPSET);
	pb_put_string(&w, 1, "");
	pb_close(&w, 8, m);
	put_graph(&w, s, params);
	pb_put_string(&w, 3, PACKAGE_VERSION);
	pb_put_string(&w, 2, "mlpd");
	pb_put_varint(&w, 1, ONNX_IR_VERSION);
	return pb_writer_finish(&w, out, len, f);
}
