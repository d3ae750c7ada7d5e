/*
 * onnx_int: what the two halves of ONNX import share: onnx_parse.c walks
 * the body into the small fixed arrays below (slices into the body,
 * nothing copied, counts capped), onnx.c maps and converts them. Private
 * to core/onnx*.c.
 */
#ifndef MLPD_ONNX_INT_H
#define MLPD_ONNX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "onnx.h" /* ONNX_META_MAX */

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
const char *onnx_show(slice s, char buf[64]);

/* True when s holds exactly the characters of lit. */
int onnx_slice_is(slice s, const char *lit);

/* True when a and b hold the same bytes. */
int onnx_slice_eq(slice a, slice b);

/* The parse pass: buf (a ModelProto) into *g; -1 with f set (FAULT_CORRUPT
 * for malformed bytes, FAULT_INVALID past a cap) otherwise. */
int onnx_parse_model(const void *buf, size_t len, parsed *g, fault *f);

#endif
