/*
 * onnx_parse: the first pass of ONNX import over a hostile body: every
 * message mlpd reads is walked with pbwire's bounds-checked reader into
 * onnx_int.h's fixed arrays of slices that point into the body. Field
 * numbers are onnx.proto's (ONNX 1.12).
 */
#include "onnx.h"

#include <stdio.h>
#include <string.h>

#include "onnx_int.h"
#include "pbwire.h"

/* s printable for a message: at most 60 bytes, others than printable
 * ASCII shown as '?', so the message stays valid UTF-8. */
const char *
onnx_show(slice s, char buf[64])
{
	size_t n = s.n > 60 ? 60 : s.n;

	for (size_t i = 0; i < n; i++)
		buf[i] = s.p[i] >= 0x20 && s.p[i] < 0x7f ? (char)s.p[i] : '?';
	buf[n] = '\0';
	return buf;
}

int
onnx_slice_is(slice s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

int
onnx_slice_eq(slice a, slice b)
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
		    "with a NUL byte", onnx_show(p->s, b), ONNX_META_KEY_MAX,
		    ONNX_META_VALUE_MAX);
	for (size_t i = 0; i < g->n_meta; i++)
		if (onnx_slice_eq(g->meta_key[i], p->s))
			return fault_set(f, FAULT_INVALID, "metadata_props: "
			    "key '%s' appears twice", onnx_show(p->s, b));
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
		if (p.s.n == 0 || onnx_slice_is(p.s, "ai.onnx"))
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

int
onnx_parse_model(const void *buf, size_t len, parsed *g, fault *f)
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
