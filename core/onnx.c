/*
 * onnx: an MLP <-> the bytes of an ONNX ModelProto (see onnx.h for what
 * is written and what is accepted).
 *
 * Import runs in three passes over a hostile body: parse (every message
 * mlpd reads is walked with pbwire's bounds-checked reader into small
 * fixed arrays of slices that point into the body: nothing is copied and
 * counts are capped), map (the nodes must form one chain from the graph
 * input to the graph output; shapes, types and value counts are checked
 * against each other), and only then convert (allocate the parameters,
 * whose values the body itself holds, so the allocation is bounded by
 * its size, and check each is finite). Field numbers are onnx.proto's
 * (ONNX 1.12).
 */
#include "onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconf.h" /* PACKAGE_VERSION */
#include "pbwire.h"

#define T_FLOAT 1  /* TensorProto.DataType */
#define T_DOUBLE 11
#define A_FLOAT 1  /* AttributeProto.AttributeType */
#define A_INT 2

/* Caps of the parse: an MLP of MLP_MAX_LAYERS layers needs far fewer. */
#define MAX_NODES 128
#define MAX_INITS 128
#define MAX_INPUTS (MAX_INITS + 8) /* old exporters list initializers */
#define MAX_OUTPUTS 8
#define MAX_OPSETS 16
#define MAX_NODE_IO 4
#define MAX_ATTRS 8
#define MAX_DIMS 8

/* ------------------------------------------------------------------ */
/* export                                                             */
/* ------------------------------------------------------------------ */

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
		for (size_t i = 0; i < n; i++) {
			uint32_t u;

			memcpy(&u, &v[i], 4);
			for (int k = 0; k < 4; k++)
				p[4 * i + k] = (uint8_t)(u >> (8 * k));
		}
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

/* ------------------------------------------------------------------ */
/* import: parse                                                      */
/* ------------------------------------------------------------------ */

/* Bytes inside the body (not NUL-terminated). */
typedef struct slice {
	const uint8_t *p;
	size_t n;
} slice;

typedef struct tensor {
	slice name;
	slice msg;          /* the whole TensorProto, for a second pass */
	int ndims;
	int64_t dims[MAX_DIMS];
	uint64_t dtype;
	int has_raw;
	slice raw;
	size_t n_float;     /* values in float_data */
	size_t n_double;    /* values in double_data */
	const char *other;  /* a field mlpd does not read values from */
} tensor;

typedef struct attr {
	slice name;
	uint64_t type;
	int has_f, has_i;
	float f;
	int64_t i;
} attr;

typedef struct node {
	slice name, op, domain;
	int n_in, n_out, n_attr;
	slice in[MAX_NODE_IO], out[MAX_NODE_IO];
	attr attr[MAX_ATTRS];
} node;

typedef struct vinfo {
	slice name;
	int has_type;   /* a tensor type was given */
	uint64_t elem;
	int ndims;      /* -1: no shape given */
	int64_t dims[MAX_DIMS]; /* -1: symbolic or unknown */
} vinfo;

typedef struct parsed {
	uint64_t ir;    /* ir_version */
	int64_t opset;  /* of the default domain; 0: none */
	int has_graph;
	int n_nodes, n_inits, n_inputs, n_outputs;
	node nodes[MAX_NODES];
	tensor inits[MAX_INITS];
	vinfo inputs[MAX_INPUTS];
	vinfo outputs[MAX_OUTPUTS];
	size_t n_meta;
	slice meta_key[ONNX_META_MAX], meta_value[ONNX_META_MAX];
} parsed;

/* s printable for a message: at most 60 bytes, others than printable
 * ASCII shown as '?', so the message stays valid UTF-8. */
static const char *
show(slice s, char buf[64])
{
	size_t n = s.n > 60 ? 60 : s.n;

	for (size_t i = 0; i < n; i++)
		buf[i] = s.p[i] >= 0x20 && s.p[i] < 0x7f ? (char)s.p[i] : '?';
	buf[n] = '\0';
	return buf;
}

static int
slice_is(slice s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static int
slice_eq(slice a, slice b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static int
get_slice(pb_reader *r, int wt, slice *s, const char *what, fault *f)
{
	pb_reader sub;

	if (pb_want(wt, PB_LEN, what, f) < 0 || pb_len(r, &sub, f) < 0)
		return -1;
	s->p = sub.p;
	s->n = (size_t)(sub.end - sub.p);
	return 0;
}

static int
get_varint(pb_reader *r, int wt, uint64_t *v, const char *what, fault *f)
{
	if (pb_want(wt, PB_VARINT, what, f) < 0)
		return -1;
	return pb_varint(r, v, f);
}

/* One value of a tensor's dims, appended. */
static int
one_dim(pb_reader *r, tensor *t, fault *f)
{
	uint64_t v;

	if (pb_varint(r, &v, f) < 0)
		return -1;
	if (t->ndims == MAX_DIMS)
		return fault_set(f, FAULT_INVALID, "a tensor has more than %d "
		    "dimensions", MAX_DIMS);
	t->dims[t->ndims++] = (int64_t)v;
	return 0;
}

/* A repeated int64 field (dims), packed or not. */
static int
get_dims(pb_reader *r, int wt, tensor *t, fault *f)
{
	pb_reader sub;

	if (wt != PB_LEN) {
		if (pb_want(wt, PB_VARINT, "a tensor's dims", f) < 0)
			return -1;
		return one_dim(r, t, f);
	}
	if (pb_len(r, &sub, f) < 0)
		return -1;
	while (sub.p < sub.end)
		if (one_dim(&sub, t, f) < 0)
			return -1;
	return 0;
}

/* Counts the values of a float (size 4) or double (size 8) data field,
 * packed or one by one. */
static int
count_values(pb_reader *r, int wt, size_t size, size_t *count,
	     const char *what, fault *f)
{
	pb_reader sub;

	if (wt == PB_LEN) {
		if (pb_len(r, &sub, f) < 0)
			return -1;
		if ((size_t)(sub.end - sub.p) % size != 0)
			return fault_set(f, FAULT_CORRUPT, "%s is packed in "
			    "%zu bytes, not a multiple of %zu", what,
			    (size_t)(sub.end - sub.p), size);
		*count += (size_t)(sub.end - sub.p) / size;
		return 0;
	}
	if (pb_want(wt, size == 4 ? PB_I32 : PB_I64, what, f) < 0)
		return -1;
	(*count)++;
	return pb_skip(r, wt, f);
}

/* TensorProto */
static int
tensor_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	static const char *const other[] = { [3] = "segment",
		[5] = "int32_data", [6] = "string_data", [7] = "int64_data",
		[11] = "uint64_data", [13] = "external_data" };
	tensor *t = ctx;
	uint64_t loc;

	switch (field) {
	case 1:
		return get_dims(r, wt, t, f);
	case 2:
		return get_varint(r, wt, &t->dtype, "a tensor's data_type", f);
	case 3: case 5: case 6: case 7: case 11: case 13:
		t->other = other[field];
		return pb_skip(r, wt, f);
	case 4:
		return count_values(r, wt, 4, &t->n_float,
		    "a tensor's float_data", f);
	case 8:
		return get_slice(r, wt, &t->name, "a tensor's name", f);
	case 9:
		t->has_raw = 1;
		return get_slice(r, wt, &t->raw, "a tensor's raw_data", f);
	case 10:
		return count_values(r, wt, 8, &t->n_double,
		    "a tensor's double_data", f);
	case 14:
		if (get_varint(r, wt, &loc, "a tensor's data_location", f) < 0)
			return -1;
		if (loc != 0)
			t->other = "external_data";
		return 0;
	default:
		return pb_skip(r, wt, f);
	}
}

static int
parse_tensor(pb_reader *r, int wt, tensor *t, fault *f)
{
	pb_reader sub;

	memset(t, 0, sizeof *t);
	if (pb_want(wt, PB_LEN, "an initializer", f) < 0 ||
	    pb_len(r, &sub, f) < 0)
		return -1;
	t->msg.p = sub.p;
	t->msg.n = (size_t)(sub.end - sub.p);
	return pb_each(&sub, tensor_field, t, f);
}

/* AttributeProto */
static int
attr_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	attr *a = ctx;
	uint32_t u32;
	uint64_t v;

	switch (field) {
	case 1:
		return get_slice(r, wt, &a->name, "an attribute's name", f);
	case 2:
		if (pb_want(wt, PB_I32, "an attribute's f", f) < 0 ||
		    pb_fixed32(r, &u32, f) < 0)
			return -1;
		memcpy(&a->f, &u32, 4);
		a->has_f = 1;
		return 0;
	case 3:
		if (get_varint(r, wt, &v, "an attribute's i", f) < 0)
			return -1;
		a->i = (int64_t)v;
		a->has_i = 1;
		return 0;
	case 20:
		return get_varint(r, wt, &a->type, "an attribute's type", f);
	default:
		return pb_skip(r, wt, f);
	}
}

/* One more input or output name of a node. */
static int
io_name(pb_reader *r, int wt, slice *names, int *n, const char *what,
	fault *f)
{
	if (*n == MAX_NODE_IO)
		return fault_set(f, FAULT_INVALID, "a node has more than %d %s",
		    MAX_NODE_IO, what);
	return get_slice(r, wt, &names[(*n)++], "a node's input or output", f);
}

/* NodeProto */
static int
node_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	node *n = ctx;
	attr *a;

	switch (field) {
	case 1:
		return io_name(r, wt, n->in, &n->n_in, "inputs", f);
	case 2:
		return io_name(r, wt, n->out, &n->n_out, "outputs", f);
	case 3:
		return get_slice(r, wt, &n->name, "a node's name", f);
	case 4:
		return get_slice(r, wt, &n->op, "a node's op_type", f);
	case 5:
		if (n->n_attr == MAX_ATTRS)
			return fault_set(f, FAULT_INVALID, "a node has more "
			    "than %d attributes", MAX_ATTRS);
		a = &n->attr[n->n_attr++];
		memset(a, 0, sizeof *a);
		return pb_message(r, wt, "a node's attribute", attr_field, a,
		    f);
	case 7:
		return get_slice(r, wt, &n->domain, "a node's domain", f);
	default:
		return pb_skip(r, wt, f);
	}
}

/* TensorShapeProto.Dimension: its dim_value, or -1. */
static int
dim_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	int64_t *d = ctx;
	uint64_t v;

	if (field != 1)
		return pb_skip(r, wt, f);
	if (get_varint(r, wt, &v, "a dim_value", f) < 0)
		return -1;
	*d = (int64_t)v;
	return 0;
}

/* TensorShapeProto */
static int
shape_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	vinfo *v = ctx;

	if (field != 1)
		return pb_skip(r, wt, f);
	if (v->ndims == MAX_DIMS)
		return fault_set(f, FAULT_INVALID, "a shape has more than %d "
		    "dimensions", MAX_DIMS);
	v->dims[v->ndims] = -1;
	return pb_message(r, wt, "a dim", dim_field, &v->dims[v->ndims++], f);
}

/* TypeProto.Tensor */
static int
tensor_type_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	vinfo *v = ctx;

	if (field == 1)
		return get_varint(r, wt, &v->elem, "an elem_type", f);
	if (field != 2)
		return pb_skip(r, wt, f);
	v->ndims = 0;
	return pb_message(r, wt, "a shape", shape_field, v, f);
}

/* TypeProto: a tensor type, or another (sequence, map, ...) */
static int
type_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	vinfo *v = ctx;

	v->has_type = 1;
	if (field == 1)
		return pb_message(r, wt, "a tensor_type", tensor_type_field, v,
		    f);
	v->elem = 0;
	return pb_skip(r, wt, f);
}

/* ValueInfoProto */
static int
vinfo_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	vinfo *v = ctx;

	if (field == 1)
		return get_slice(r, wt, &v->name, "a value's name", f);
	if (field == 2)
		return pb_message(r, wt, "a value's type", type_field, v, f);
	return pb_skip(r, wt, f);
}

/* A graph input or output: the next of *n slots of at most max. */
static int
parse_vinfo(pb_reader *r, int wt, vinfo *slots, int *n, int max,
	    const char *what, fault *f)
{
	vinfo *v;

	if (*n == max)
		return fault_set(f, FAULT_INVALID, "the graph has more than %d "
		    "%s; an MLP has one", max, what);
	v = &slots[(*n)++];
	memset(v, 0, sizeof *v);
	v->ndims = -1;
	return pb_message(r, wt, what, vinfo_field, v, f);
}

/* GraphProto */
static int
graph_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	parsed *g = ctx;
	node *n;

	switch (field) {
	case 1:
		if (g->n_nodes == MAX_NODES)
			return fault_set(f, FAULT_INVALID, "the graph has more "
			    "than %d nodes; an MLP of %d layers needs far "
			    "fewer", MAX_NODES, MLP_MAX_LAYERS);
		n = &g->nodes[g->n_nodes++];
		memset(n, 0, sizeof *n);
		return pb_message(r, wt, "a graph's node", node_field, n, f);
	case 5:
		if (g->n_inits == MAX_INITS)
			return fault_set(f, FAULT_INVALID, "the graph has more "
			    "than %d initializers", MAX_INITS);
		return parse_tensor(r, wt, &g->inits[g->n_inits++], f);
	case 11:
		return parse_vinfo(r, wt, g->inputs, &g->n_inputs, MAX_INPUTS,
		    "inputs", f);
	case 12:
		return parse_vinfo(r, wt, g->outputs, &g->n_outputs,
		    MAX_OUTPUTS, "outputs", f);
	case 15:
		return fault_set(f, FAULT_INVALID, "the graph has a "
		    "sparse_initializer; mlpd reads dense float initializers "
		    "only");
	default:
		return pb_skip(r, wt, f);
	}
}

/* OperatorSetIdProto and StringStringEntryProto: two fields each. */
typedef struct pair {
	slice s;    /* domain, or key */
	slice v;    /* value (metadata) */
	uint64_t n; /* version (opset) */
} pair;

static int
opset_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	pair *p = ctx;

	if (field == 1)
		return get_slice(r, wt, &p->s, "an opset's domain", f);
	if (field == 2)
		return get_varint(r, wt, &p->n, "an opset's version", f);
	return pb_skip(r, wt, f);
}

static int
meta_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	pair *p = ctx;

	if (field == 1)
		return get_slice(r, wt, &p->s, "a metadata key", f);
	if (field == 2)
		return get_slice(r, wt, &p->v, "a metadata value", f);
	return pb_skip(r, wt, f);
}

/* Adds a metadata entry (key p->s, value p->v) to g. */
static int
add_meta(parsed *g, const pair *p, fault *f)
{
	char b[64];

	if (g->n_meta == ONNX_META_MAX)
		return fault_set(f, FAULT_INVALID, "the model has more than %d "
		    "metadata_props", ONNX_META_MAX);
	if (p->s.n == 0 || p->s.n > ONNX_META_KEY_MAX ||
	    p->v.n > ONNX_META_VALUE_MAX || memchr(p->s.p, 0, p->s.n) ||
	    (p->v.n && memchr(p->v.p, 0, p->v.n)))
		return fault_set(f, FAULT_INVALID, "metadata_props: key '%s' "
		    "must be 1 to %d bytes and its value at most %d, neither "
		    "with a NUL byte", show(p->s, b), ONNX_META_KEY_MAX,
		    ONNX_META_VALUE_MAX);
	for (size_t i = 0; i < g->n_meta; i++)
		if (slice_eq(g->meta_key[i], p->s))
			return fault_set(f, FAULT_INVALID, "metadata_props: "
			    "key '%s' appears twice", show(p->s, b));
	g->meta_key[g->n_meta] = p->s;
	g->meta_value[g->n_meta++] = p->v;
	return 0;
}

/* ModelProto */
static int
model_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	parsed *g = ctx;
	pair p = { { NULL, 0 }, { NULL, 0 }, 0 };

	switch (field) {
	case 1:
		return get_varint(r, wt, &g->ir, "ir_version", f);
	case 7:
		if (g->has_graph)
			return fault_set(f, FAULT_INVALID, "the model has two "
			    "graphs");
		g->has_graph = 1;
		return pb_message(r, wt, "graph", graph_field, g, f);
	case 8:
		if (pb_message(r, wt, "opset_import", opset_field, &p, f) < 0)
			return -1;
		if (p.s.n == 0 || slice_is(p.s, "ai.onnx"))
			g->opset = p.n > INT64_MAX ? INT64_MAX : (int64_t)p.n;
		return 0;
	case 14:
		if (pb_message(r, wt, "metadata_props", meta_field, &p, f) < 0)
			return -1;
		return add_meta(g, &p, f);
	default:
		return pb_skip(r, wt, f);
	}
}

static int
parse_model(const void *buf, size_t len, parsed *g, fault *f)
{
	pb_reader r;

	pb_reader_init(&r, buf, len);
	if (pb_each(&r, model_field, g, f) < 0)
		return -1;
	if (!g->has_graph)
		return fault_set(f, FAULT_INVALID, "the model has no graph "
		    "(is this an ONNX file?)");
	if (g->ir < 3)
		return fault_set(f, FAULT_INVALID, "ir_version %llu: mlpd "
		    "reads ONNX IR versions 3 and later",
		    (unsigned long long)g->ir);
	if (g->opset < 7)
		return fault_set(f, FAULT_INVALID, "the model imports opset "
		    "%lld of the default domain; mlpd reads opsets 7 and "
		    "later", (long long)g->opset);
	return 0;
}

/* ------------------------------------------------------------------ */
/* import: map                                                        */
/* ------------------------------------------------------------------ */

/* Where layer l's parameters come from. */
typedef struct layer_src {
	const tensor *w;
	int w_in_out;     /* w is [in, out] (MatMul, Gemm transB 0) */
	const tensor *b;  /* NULL: zero bias */
	float alpha, beta;
	uint32_t in, out;
} layer_src;

typedef struct mapping {
	uint32_t n_layers;
	layer_src layer[MLP_MAX_LAYERS];
	act_kind act[MLP_MAX_LAYERS];
} mapping;

static const tensor *
find_init(const parsed *g, slice name)
{
	for (int i = 0; i < g->n_inits; i++)
		if (slice_eq(g->inits[i].name, name))
			return &g->inits[i];
	return NULL;
}

/* Prefix of node messages: node 3 (Gemm 'fc1'). */
static const char *
node_label(const node *n, int i, char buf[160])
{
	char a[64], b[64];

	snprintf(buf, 160, "node %d (%s '%s')", i, show(n->op, a),
	    show(n->name, b));
	return buf;
}

/* Checks the attributes of n against allowed (NULL-ended): a name not
 * listed is refused. */
static int
check_attrs(const node *n, const char *label, const char *const *allowed,
	    fault *f)
{
	char b[64];

	for (int a = 0; a < n->n_attr; a++) {
		int ok = 0;

		for (int k = 0; allowed[k] != NULL; k++)
			ok |= slice_is(n->attr[a].name, allowed[k]);
		if (!ok)
			return fault_set(f, FAULT_INVALID, "%s has attribute "
			    "'%s', which mlpd does not support", label,
			    show(n->attr[a].name, b));
	}
	return 0;
}

/* The value of INT attribute name of n, or def. */
static int
attr_int(const node *n, const char *name, int64_t def, int64_t *v,
	 const char *label, fault *f)
{
	*v = def;
	for (int a = 0; a < n->n_attr; a++) {
		if (!slice_is(n->attr[a].name, name))
			continue;
		if ((n->attr[a].type != A_INT && n->attr[a].type != 0) ||
		    (n->attr[a].type == 0 && !n->attr[a].has_i))
			return fault_set(f, FAULT_INVALID, "%s: attribute %s "
			    "must be an int", label, name);
		*v = n->attr[a].i;
	}
	return 0;
}

static int
attr_float(const node *n, const char *name, float def, float *v,
	   const char *label, fault *f)
{
	*v = def;
	for (int a = 0; a < n->n_attr; a++) {
		if (!slice_is(n->attr[a].name, name))
			continue;
		if ((n->attr[a].type != A_FLOAT && n->attr[a].type != 0) ||
		    (n->attr[a].type == 0 && !n->attr[a].has_f))
			return fault_set(f, FAULT_INVALID, "%s: attribute %s "
			    "must be a float", label, name);
		*v = n->attr[a].f;
		if (!isfinite(*v))
			return fault_set(f, FAULT_NONFINITE, "%s: attribute "
			    "%s is not finite", label, name);
	}
	return 0;
}

/* The initializer n reads as its input k, or -1 naming what it reads. */
static int
weight_input(const parsed *g, const node *n, int k, const char *label,
	     const tensor **t, fault *f)
{
	char b[64];

	*t = find_init(g, n->in[k]);
	if (*t == NULL)
		return fault_set(f, FAULT_INVALID, "%s reads '%s' as its input "
		    "%d, which is not an initializer: mlpd imports constant "
		    "weights only", label, show(n->in[k], b), k);
	return 0;
}

/* Checks a weight tensor's shape and opens layer l from it. */
static int
open_layer(mapping *mp, const tensor *w, int in_out, const char *label,
	   fault *f)
{
	layer_src *ls;
	char b[64];
	uint32_t l = mp->n_layers;

	if (l == MLP_MAX_LAYERS)
		return fault_set(f, FAULT_LIMIT, "%s would be layer %d; mlpd "
		    "models have at most %d", label, l + 1, MLP_MAX_LAYERS);
	if (w->ndims != 2 || w->dims[0] < 1 || w->dims[1] < 1 ||
	    w->dims[0] > MLP_MAX_WIDTH || w->dims[1] > MLP_MAX_WIDTH)
		return fault_set(f, w->ndims == 2 && w->dims[0] > 0 &&
		    w->dims[1] > 0 ? FAULT_LIMIT : FAULT_INVALID, "%s: weight "
		    "'%s' must be a matrix of 1 to %d by 1 to %d", label,
		    show(w->name, b), MLP_MAX_WIDTH, MLP_MAX_WIDTH);
	ls = &mp->layer[l];
	memset(ls, 0, sizeof *ls);
	ls->w = w;
	ls->w_in_out = in_out;
	ls->alpha = ls->beta = 1.0f;
	ls->in = (uint32_t)w->dims[in_out ? 0 : 1];
	ls->out = (uint32_t)w->dims[in_out ? 1 : 0];
	if (l > 0 && ls->in != mp->layer[l - 1].out)
		return fault_set(f, FAULT_INVALID, "%s takes %u values per "
		    "row; the layer before gives %u", label, ls->in,
		    mp->layer[l - 1].out);
	mp->act[l] = ACT_LINEAR;
	mp->n_layers++;
	return 0;
}

/* A bias tensor of layer ls: [out], [1, out], or one value for all. */
static int
check_bias(const layer_src *ls, const tensor *t, const char *label, fault *f)
{
	int64_t numel = 1;
	char b[64];

	for (int d = 0; d < t->ndims; d++) {
		if (t->dims[d] < 1 || t->dims[d] > MLP_MAX_WIDTH)
			numel = -1;
		if (numel > 0)
			numel *= t->dims[d];
	}
	if ((t->ndims <= 2 && numel == 1) ||
	    (t->ndims == 1 && numel == ls->out) ||
	    (t->ndims == 2 && t->dims[0] == 1 && numel == ls->out))
		return 0;
	return fault_set(f, FAULT_INVALID, "%s: bias '%s' must have shape "
	    "[%u] or [1, %u]", label, show(t->name, b), ls->out, ls->out);
}

/* The op of an activation node, or -1. */
static int
act_of(slice op, act_kind *k)
{
	static const struct { const char *op; act_kind k; } ops[] = {
		{ "Sigmoid", ACT_SIGMOID }, { "Tanh", ACT_TANH },
		{ "Relu", ACT_RELU }, { "Softmax", ACT_SOFTMAX },
	};

	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (slice_is(op, ops[i].op)) {
			*k = ops[i].k;
			return 0;
		}
	return -1;
}

/* 1 when name is already a value of the graph: an initializer, a graph
 * input or the output of one of the first i nodes. */
static int
value_taken(const parsed *g, int i, slice name)
{
	if (find_init(g, name) != NULL)
		return 1;
	for (int k = 0; k < g->n_inputs; k++)
		if (slice_eq(g->inputs[k].name, name))
			return 1;
	for (int k = 0; k < i; k++)
		if (slice_eq(g->nodes[k].out[0], name))
			return 1;
	return 0;
}

enum { S_START, S_MATMUL, S_LINEAR, S_ACT };

/* One node of the chain; *cur is the value the chain has reached. */
static int
map_node(const parsed *g, int i, mapping *mp, int *state, slice *cur,
	 fault *f)
{
	static const char *const gemm_attrs[] = { "alpha", "beta", "transA",
		"transB", NULL };
	static const char *const softmax_attrs[] = { "axis", NULL };
	static const char *const none[] = { NULL };
	const node *n = &g->nodes[i];
	char label[160], b[64], c[64];
	const tensor *t;
	act_kind k;
	int64_t v;

	node_label(n, i, label);
	if (n->domain.n != 0 && !slice_is(n->domain, "ai.onnx"))
		return fault_set(f, FAULT_INVALID, "%s is in domain '%s'; mlpd "
		    "supports the default ONNX domain only", label,
		    show(n->domain, b));
	/* the op first: an unsupported node is named as such wherever it
	 * sits in the graph */
	if (!slice_is(n->op, "Identity") && !slice_is(n->op, "Gemm") &&
	    !slice_is(n->op, "MatMul") && !slice_is(n->op, "Add") &&
	    act_of(n->op, &k) < 0)
		return fault_set(f, FAULT_INVALID, "%s is not supported: mlpd "
		    "imports Gemm, MatMul (+ Add), Sigmoid, Tanh, Relu, "
		    "Softmax and Identity", label);
	if (n->n_out != 1 || n->out[0].n == 0)
		return fault_set(f, FAULT_INVALID, "%s has %d outputs; mlpd "
		    "supports nodes with one", label, n->n_out);
	if (value_taken(g, i, n->out[0]))
		return fault_set(f, FAULT_INVALID, "%s writes '%s', which is "
		    "already a value of the graph", label, show(n->out[0], b));
	/* the chain: the node reads what the one before it wrote (an Add
	 * may take it as either operand) */
	if (n->n_in < 1 || (!slice_eq(n->in[0], *cur) &&
	    !(slice_is(n->op, "Add") && n->n_in == 2 &&
	    slice_eq(n->in[1], *cur))))
		return fault_set(f, FAULT_INVALID, "%s does not read '%s', the "
		    "%s: mlpd imports a chain of nodes from the graph input "
		    "to its output (%s)", label, show(*cur, b),
		    i == 0 ? "graph input" : "output of the node before it",
		    n->n_in < 1 ? "it reads nothing" : show(n->in[0], c));
	if (slice_is(n->op, "Identity")) {
		if (n->n_in != 1 || check_attrs(n, label, none, f) < 0)
			return fault_set(f, FAULT_INVALID, "%s must have one "
			    "input and no attributes", label);
	} else if (slice_is(n->op, "Gemm")) {
		float alpha, beta;
		int64_t ta, tb;
		layer_src *ls;

		if (n->n_in < 2 || n->n_in > 3)
			return fault_set(f, FAULT_INVALID, "%s has %d inputs, "
			    "not 2 or 3", label, n->n_in);
		if (check_attrs(n, label, gemm_attrs, f) < 0 ||
		    attr_float(n, "alpha", 1, &alpha, label, f) < 0 ||
		    attr_float(n, "beta", 1, &beta, label, f) < 0 ||
		    attr_int(n, "transA", 0, &ta, label, f) < 0 ||
		    attr_int(n, "transB", 0, &tb, label, f) < 0)
			return -1;
		if (ta != 0 || (tb != 0 && tb != 1))
			return fault_set(f, FAULT_INVALID, "%s has transA %lld, "
			    "transB %lld; mlpd supports transA 0 and transB 0 "
			    "or 1", label, (long long)ta, (long long)tb);
		if (weight_input(g, n, 1, label, &t, f) < 0 ||
		    open_layer(mp, t, tb == 0, label, f) < 0)
			return -1;
		ls = &mp->layer[mp->n_layers - 1];
		ls->alpha = alpha;
		ls->beta = beta;
		if (n->n_in == 3 && n->in[2].n > 0) {
			if (weight_input(g, n, 2, label, &ls->b, f) < 0 ||
			    check_bias(ls, ls->b, label, f) < 0)
				return -1;
		}
		*state = S_LINEAR;
	} else if (slice_is(n->op, "MatMul")) {
		if (n->n_in != 2 || check_attrs(n, label, none, f) < 0)
			return fault_set(f, FAULT_INVALID, "%s must have two "
			    "inputs and no attributes", label);
		if (weight_input(g, n, 1, label, &t, f) < 0 ||
		    open_layer(mp, t, 1, label, f) < 0)
			return -1;
		*state = S_MATMUL;
	} else if (slice_is(n->op, "Add")) {
		layer_src *ls;
		int other = slice_eq(n->in[0], *cur) ? 1 : 0;

		if (*state != S_MATMUL)
			return fault_set(f, FAULT_INVALID, "%s is not the bias "
			    "of a MatMul: mlpd supports Add only right after "
			    "MatMul", label);
		ls = &mp->layer[mp->n_layers - 1];
		if (n->n_in != 2 || check_attrs(n, label, none, f) < 0)
			return fault_set(f, FAULT_INVALID, "%s must have two "
			    "inputs and no attributes", label);
		if (weight_input(g, n, other, label, &ls->b, f) < 0 ||
		    check_bias(ls, ls->b, label, f) < 0)
			return -1;
		*state = S_LINEAR;
	} else if (act_of(n->op, &k) == 0) {
		if (*state != S_LINEAR && *state != S_MATMUL)
			return fault_set(f, FAULT_INVALID, "%s does not follow "
			    "a Gemm, MatMul or Add: mlpd layers apply one "
			    "activation after their weights", label);
		if (n->n_in != 1)
			return fault_set(f, FAULT_INVALID, "%s has %d inputs, "
			    "not 1", label, n->n_in);
		if (check_attrs(n, label, k == ACT_SOFTMAX ? softmax_attrs :
		    none, f) < 0 ||
		    attr_int(n, "axis", -1, &v, label, f) < 0)
			return -1;
		if (k == ACT_SOFTMAX && v != 1 && v != -1)
			return fault_set(f, FAULT_INVALID, "%s has axis %lld; "
			    "mlpd's softmax runs over axis 1 of [N, units]",
			    label, (long long)v);
		mp->act[mp->n_layers - 1] = k;
		*state = S_ACT;
	} else {
		return fault_set(f, FAULT_INTERNAL, "%s: op checked above",
		    label);
	}
	*cur = n->out[0];
	return 0;
}

/* Checks a graph input or output's declared type against width. */
static int
check_io(const vinfo *v, const char *what, uint32_t width, fault *f)
{
	char b[64];

	if (v->has_type && v->elem != T_FLOAT && v->elem != T_DOUBLE)
		return fault_set(f, FAULT_INVALID, "the graph %s '%s' has "
		    "element type %llu; mlpd reads float (1) or double (11) "
		    "tensors", what, show(v->name, b),
		    (unsigned long long)v->elem);
	if (v->ndims >= 0 && (v->ndims != 2 ||
	    (v->dims[1] >= 0 && v->dims[1] != width)))
		return fault_set(f, FAULT_INVALID, "the graph %s '%s' must be "
		    "[N, %u]", what, show(v->name, b), width);
	return 0;
}

static int
map_graph(const parsed *g, mapping *mp, fault *f)
{
	const vinfo *input = NULL;
	slice cur;
	int state = S_START;
	char b[64], c[64];

	for (int i = 0; i < g->n_inits; i++)
		for (int k = 0; k < i; k++)
			if (slice_eq(g->inits[i].name, g->inits[k].name))
				return fault_set(f, FAULT_INVALID, "two "
				    "initializers are named '%s'",
				    show(g->inits[i].name, b));
	for (int i = 0; i < g->n_inputs; i++) {
		if (find_init(g, g->inputs[i].name) != NULL)
			continue;
		if (input != NULL)
			return fault_set(f, FAULT_INVALID, "the graph has "
			    "inputs '%s' and '%s' besides its initializers; "
			    "an MLP has one", show(input->name, b),
			    show(g->inputs[i].name, c));
		input = &g->inputs[i];
	}
	if (input == NULL)
		return fault_set(f, FAULT_INVALID, "the graph has no input "
		    "besides its initializers");
	if (g->n_outputs != 1)
		return fault_set(f, FAULT_INVALID, "the graph has %d outputs; "
		    "an MLP has one", g->n_outputs);
	cur = input->name;
	memset(mp, 0, sizeof *mp);
	for (int i = 0; i < g->n_nodes; i++)
		if (map_node(g, i, mp, &state, &cur, f) < 0)
			return -1;
	if (mp->n_layers == 0)
		return fault_set(f, FAULT_INVALID, "the graph has no Gemm or "
		    "MatMul node: not an MLP");
	if (!slice_eq(g->outputs[0].name, cur))
		return fault_set(f, FAULT_INVALID, "the graph output '%s' is "
		    "not the value its last node writes",
		    show(g->outputs[0].name, b));
	if (check_io(input, "input", mp->layer[0].in, f) < 0 ||
	    check_io(&g->outputs[0], "output",
	    mp->layer[mp->n_layers - 1].out, f) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* import: convert                                                    */
/* ------------------------------------------------------------------ */

/* Checks that t holds numel float or double values somewhere. */
static int
check_values(const tensor *t, size_t numel, fault *f)
{
	char b[64];
	size_t es = t->dtype == T_DOUBLE ? 8 : 4, have;

	if (t->dtype != T_FLOAT && t->dtype != T_DOUBLE)
		return fault_set(f, FAULT_INVALID, "initializer '%s' has data "
		    "type %llu; mlpd reads float (1) and double (11)",
		    show(t->name, b), (unsigned long long)t->dtype);
	if (t->other != NULL)
		return fault_set(f, FAULT_INVALID, "initializer '%s' uses "
		    "%s, which mlpd does not read", show(t->name, b),
		    t->other);
	if (t->has_raw && (t->n_float || t->n_double))
		return fault_set(f, FAULT_INVALID, "initializer '%s' has both "
		    "raw_data and typed data", show(t->name, b));
	if ((t->dtype == T_FLOAT && t->n_double) ||
	    (t->dtype == T_DOUBLE && t->n_float))
		return fault_set(f, FAULT_INVALID, "initializer '%s' has data "
		    "of the other float type", show(t->name, b));
	have = t->has_raw ? t->raw.n / es : t->n_float + t->n_double;
	if ((t->has_raw && t->raw.n % es != 0) || have != numel)
		return fault_set(f, FAULT_INVALID, "initializer '%s' holds "
		    "%zu%s values; its dims say %zu", show(t->name, b), have,
		    t->has_raw && t->raw.n % es ? "+" : "", numel);
	return 0;
}

static float
le_float(const uint8_t *p)
{
	uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	float v;

	memcpy(&v, &u, 4);
	return v;
}

static double
le_double(const uint8_t *p)
{
	uint64_t u = 0;
	double v;

	for (int i = 7; i >= 0; i--)
		u = u << 8 | p[i];
	memcpy(&v, &u, 8);
	return v;
}

/* Where read_values puts a tensor's values. */
typedef struct values {
	float *dst;
	size_t k;     /* values read so far */
	size_t numel; /* room in dst */
} values;

/* One float_data (field 4) or double_data (10) value from r. */
static int
one_value(pb_reader *r, uint32_t field, values *vs, fault *f)
{
	uint32_t u32;
	uint64_t u64;
	double d;

	if (vs->k == vs->numel) /* counted before: cannot happen */
		return fault_set(f, FAULT_INTERNAL, "tensor values miscounted");
	if (field == 4) {
		if (pb_fixed32(r, &u32, f) < 0)
			return -1;
		memcpy(&vs->dst[vs->k++], &u32, 4);
		return 0;
	}
	if (pb_fixed64(r, &u64, f) < 0)
		return -1;
	memcpy(&d, &u64, 8);
	vs->dst[vs->k++] = (float)d;
	return 0;
}

/* TensorProto again, for the values (wire types checked on the first
 * pass, tensor_field). */
static int
value_field(pb_reader *r, uint32_t field, int wt, void *ctx, fault *f)
{
	pb_reader sub;

	if (field != 4 && field != 10)
		return pb_skip(r, wt, f);
	if (wt != PB_LEN)
		return one_value(r, field, ctx, f);
	if (pb_len(r, &sub, f) < 0)
		return -1;
	while (sub.p < sub.end)
		if (one_value(&sub, field, ctx, f) < 0)
			return -1;
	return 0;
}

/* Copies the numel values of t (checked by check_values) into dst as
 * floats. */
static int
read_values(const tensor *t, float *dst, size_t numel, fault *f)
{
	pb_reader r;
	values vs = { dst, 0, numel };

	if (t->has_raw) {
		for (size_t i = 0; i < numel; i++)
			dst[i] = t->dtype == T_FLOAT ? le_float(t->raw.p + 4 * i)
			    : (float)le_double(t->raw.p + 8 * i);
		return 0;
	}
	pb_reader_init(&r, t->msg.p, t->msg.n);
	return pb_each(&r, value_field, &vs, f);
}

/* Fills layer l's weights and biases in params from its tensors. */
static int
convert_layer(const layer_src *ls, float *w, float *bias, fault *f)
{
	size_t nw = (size_t)ls->in * ls->out, nb;
	float *tmp;
	char b[64];

	if (check_values(ls->w, nw, f) < 0)
		return -1;
	if ((tmp = malloc(nw * sizeof *tmp)) == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory");
	if (read_values(ls->w, tmp, nw, f) < 0) {
		free(tmp);
		return -1;
	}
	for (uint32_t i = 0; i < ls->out; i++)
		for (uint32_t j = 0; j < ls->in; j++)
			w[(size_t)i * ls->in + j] = ls->alpha * (ls->w_in_out ?
			    tmp[(size_t)j * ls->out + i] :
			    tmp[(size_t)i * ls->in + j]);
	free(tmp);
	for (size_t i = 0; i < nw; i++)
		if (!isfinite(w[i]))
			return fault_set(f, FAULT_NONFINITE, "weight '%s' holds "
			    "%s at [%zu][%zu] (as float)", show(ls->w->name, b),
			    isnan(w[i]) ? "NaN" : "an infinity", i / ls->in,
			    i % ls->in);
	memset(bias, 0, ls->out * sizeof *bias);
	if (ls->b == NULL)
		return 0;
	nb = 1;
	for (int d = 0; d < ls->b->ndims; d++)
		nb *= (size_t)ls->b->dims[d];
	if (check_values(ls->b, nb, f) < 0 || read_values(ls->b, bias, nb,
	    f) < 0)
		return -1;
	for (uint32_t i = 0; i < ls->out; i++) {
		bias[i] = ls->beta * bias[nb == 1 ? 0 : i];
		if (!isfinite(bias[i]))
			return fault_set(f, FAULT_NONFINITE, "bias '%s' holds "
			    "%s at [%u] (as float)", show(ls->b->name, b),
			    isnan(bias[i]) ? "NaN" : "an infinity", i);
	}
	return 0;
}

/* The parameters of mp as net's spec and block. */
static int
convert(const mapping *mp, onnx_net *net, fault *f)
{
	mlp_spec *s = &net->spec;
	size_t n = 0, off = 0;

	mlp_spec_default(s);
	s->n_layers = mp->n_layers;
	s->sizes[0] = mp->layer[0].in;
	for (uint32_t l = 0; l < mp->n_layers; l++) {
		s->sizes[l + 1] = mp->layer[l].out;
		s->act[l] = mp->act[l];
		n += (size_t)mp->layer[l].out * (mp->layer[l].in + 1);
	}
	s->loss = s->act[s->n_layers - 1] == ACT_SOFTMAX ?
	    MLP_LOSS_CROSS_ENTROPY : MLP_LOSS_MSE;
	if (n > MLP_MAX_PARAMS)
		return fault_set(f, FAULT_LIMIT, "the model has %zu weights "
		    "and biases; mlpd models have at most %u", n,
		    MLP_MAX_PARAMS);
	if (mlp_spec_validate(s, f) < 0)
		return -1;
	if ((net->params = malloc(n * sizeof(float))) == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory");
	for (uint32_t l = 0; l < mp->n_layers; l++) {
		const layer_src *ls = &mp->layer[l];

		if (convert_layer(ls, net->params + off, net->params + off +
		    (size_t)ls->in * ls->out, f) < 0)
			return -1;
		off += (size_t)ls->out * (ls->in + 1);
	}
	return 0;
}

static int
copy_meta(const parsed *g, onnx_net *net, fault *f)
{
	for (size_t i = 0; i < g->n_meta; i++) {
		onnx_meta *m = &net->meta[i];

		m->key = strndup((const char *)g->meta_key[i].p,
		    g->meta_key[i].n);
		m->value = strndup(g->meta_value[i].n ?
		    (const char *)g->meta_value[i].p : "",
		    g->meta_value[i].n);
		net->n_meta = i + 1;
		if (m->key == NULL || m->value == NULL)
			return fault_set(f, FAULT_NOMEM, "out of memory");
	}
	return 0;
}

int
onnx_import(const void *buf, size_t len, onnx_net *net, fault *f)
{
	parsed *g = calloc(1, sizeof *g);
	mapping mp;
	int rc = -1;

	memset(net, 0, sizeof *net);
	if (g == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory");
	if (parse_model(buf, len, g, f) < 0 || map_graph(g, &mp, f) < 0 ||
	    convert(&mp, net, f) < 0 || copy_meta(g, net, f) < 0)
		goto out;
	rc = 0;
out:
	free(g);
	if (rc < 0)
		onnx_net_free(net);
	return rc;
}

const char *
onnx_net_meta(const onnx_net *net, const char *key)
{
	for (size_t i = 0; i < net->n_meta; i++)
		if (strcmp(net->meta[i].key, key) == 0)
			return net->meta[i].value;
	return NULL;
}

void
onnx_net_free(onnx_net *net)
{
	if (net == NULL)
		return;
	for (size_t i = 0; i < net->n_meta; i++) {
		free(net->meta[i].key);
		free(net->meta[i].value);
	}
	free(net->params);
	memset(net, 0, sizeof *net);
}
