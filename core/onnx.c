/*
 * onnx: the bytes of an ONNX ModelProto -> an MLP (onnx_import; see onnx.h
 * for what is accepted; onnx_export.c writes the other way).
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

#include "le.h"
#include "onnx_int.h"
#include "pbwire.h"

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
		if (onnx_slice_eq(g->inits[i].name, name))
			return &g->inits[i];
	return NULL;
}

/* Prefix of node messages: node 3 (Gemm 'fc1'). */
static const char *
node_label(const node *n, int i, char buf[160])
{
	char a[64], b[64];

	snprintf(buf, 160, "node %d (%s '%s')", i, onnx_show(n->op, a),
	    onnx_show(n->name, b));
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
			ok |= onnx_slice_is(n->attr[a].name, allowed[k]);
		if (!ok)
			return fault_set(f, FAULT_INVALID, "%s has attribute "
			    "'%s', which mlpd does not support", label,
			    onnx_show(n->attr[a].name, b));
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
		if (!onnx_slice_is(n->attr[a].name, name))
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
		if (!onnx_slice_is(n->attr[a].name, name))
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
		    "weights only", label, onnx_show(n->in[k], b), k);
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
		    onnx_show(w->name, b), MLP_MAX_WIDTH, MLP_MAX_WIDTH);
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
	    "[%u] or [1, %u]", label, onnx_show(t->name, b), ls->out, ls->out);
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
		if (onnx_slice_is(op, ops[i].op)) {
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
		if (onnx_slice_eq(g->inputs[k].name, name))
			return 1;
	for (int k = 0; k < i; k++)
		if (onnx_slice_eq(g->nodes[k].out[0], name))
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
	if (n->domain.n != 0 && !onnx_slice_is(n->domain, "ai.onnx"))
		return fault_set(f, FAULT_INVALID, "%s is in domain '%s'; mlpd "
		    "supports the default ONNX domain only", label,
		    onnx_show(n->domain, b));
	/* the op first: an unsupported node is named as such wherever it
	 * sits in the graph */
	if (!onnx_slice_is(n->op, "Identity") && !onnx_slice_is(n->op, "Gemm") &&
	    !onnx_slice_is(n->op, "MatMul") && !onnx_slice_is(n->op, "Add") &&
	    act_of(n->op, &k) < 0)
		return fault_set(f, FAULT_INVALID, "%s is not supported: mlpd "
		    "imports Gemm, MatMul (+ Add), Sigmoid, Tanh, Relu, "
		    "Softmax and Identity", label);
	if (n->n_out != 1 || n->out[0].n == 0)
		return fault_set(f, FAULT_INVALID, "%s has %d outputs; mlpd "
		    "supports nodes with one", label, n->n_out);
	if (value_taken(g, i, n->out[0]))
		return fault_set(f, FAULT_INVALID, "%s writes '%s', which is "
		    "already a value of the graph", label, onnx_show(n->out[0], b));
	/* the chain: the node reads what the one before it wrote (an Add
	 * may take it as either operand) */
	if (n->n_in < 1 || (!onnx_slice_eq(n->in[0], *cur) &&
	    !(onnx_slice_is(n->op, "Add") && n->n_in == 2 &&
	    onnx_slice_eq(n->in[1], *cur))))
		return fault_set(f, FAULT_INVALID, "%s does not read '%s', the "
		    "%s: mlpd imports a chain of nodes from the graph input "
		    "to its output (%s)", label, onnx_show(*cur, b),
		    i == 0 ? "graph input" : "output of the node before it",
		    n->n_in < 1 ? "it reads nothing" : onnx_show(n->in[0], c));
	if (onnx_slice_is(n->op, "Identity")) {
		if (n->n_in != 1 || check_attrs(n, label, none, f) < 0)
			return fault_set(f, FAULT_INVALID, "%s must have one "
			    "input and no attributes", label);
	} else if (onnx_slice_is(n->op, "Gemm")) {
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
	} else if (onnx_slice_is(n->op, "MatMul")) {
		if (n->n_in != 2 || check_attrs(n, label, none, f) < 0)
			return fault_set(f, FAULT_INVALID, "%s must have two "
			    "inputs and no attributes", label);
		if (weight_input(g, n, 1, label, &t, f) < 0 ||
		    open_layer(mp, t, 1, label, f) < 0)
			return -1;
		*state = S_MATMUL;
	} else if (onnx_slice_is(n->op, "Add")) {
		layer_src *ls;
		int other = onnx_slice_eq(n->in[0], *cur) ? 1 : 0;

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
		    "tensors", what, onnx_show(v->name, b),
		    (unsigned long long)v->elem);
	if (v->ndims >= 0 && (v->ndims != 2 ||
	    (v->dims[1] >= 0 && v->dims[1] != width)))
		return fault_set(f, FAULT_INVALID, "the graph %s '%s' must be "
		    "[N, %u]", what, onnx_show(v->name, b), width);
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
			if (onnx_slice_eq(g->inits[i].name, g->inits[k].name))
				return fault_set(f, FAULT_INVALID, "two "
				    "initializers are named '%s'",
				    onnx_show(g->inits[i].name, b));
	for (int i = 0; i < g->n_inputs; i++) {
		if (find_init(g, g->inputs[i].name) != NULL)
			continue;
		if (input != NULL)
			return fault_set(f, FAULT_INVALID, "the graph has "
			    "inputs '%s' and '%s' besides its initializers; "
			    "an MLP has one", onnx_show(input->name, b),
			    onnx_show(g->inputs[i].name, c));
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
	if (!onnx_slice_eq(g->outputs[0].name, cur))
		return fault_set(f, FAULT_INVALID, "the graph output '%s' is "
		    "not the value its last node writes",
		    onnx_show(g->outputs[0].name, b));
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
		    onnx_show(t->name, b), (unsigned long long)t->dtype);
	if (t->other != NULL)
		return fault_set(f, FAULT_INVALID, "initializer '%s' uses "
		    "%s, which mlpd does not read", onnx_show(t->name, b),
		    t->other);
	if (t->has_raw && (t->n_float || t->n_double))
		return fault_set(f, FAULT_INVALID, "initializer '%s' has both "
		    "raw_data and typed data", onnx_show(t->name, b));
	if ((t->dtype == T_FLOAT && t->n_double) ||
	    (t->dtype == T_DOUBLE && t->n_float))
		return fault_set(f, FAULT_INVALID, "initializer '%s' has data "
		    "of the other float type", onnx_show(t->name, b));
	have = t->has_raw ? t->raw.n / es : t->n_float + t->n_double;
	if ((t->has_raw && t->raw.n % es != 0) || have != numel)
		return fault_set(f, FAULT_INVALID, "initializer '%s' holds "
		    "%zu%s values; its dims say %zu", onnx_show(t->name, b), have,
		    t->has_raw && t->raw.n % es ? "+" : "", numel);
	return 0;
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
			dst[i] = t->dtype == T_FLOAT ? le_getf32(t->raw.p + 4 * i)
			    : (float)le_getf64(t->raw.p + 8 * i);
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
			    "%s at [%zu][%zu] (as float)", onnx_show(ls->w->name, b),
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
			    "%s at [%u] (as float)", onnx_show(ls->b->name, b),
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
	if (onnx_parse_model(buf, len, g, f) < 0 || map_graph(g, &mp, f) < 0 ||
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
