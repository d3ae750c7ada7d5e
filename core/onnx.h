/*
 * onnx: a multilayer perceptron as an ONNX model, out and in.
 *
 * Pure data conversion (no I/O, no HTTP): a spec and its parameters in
 * mlp's layout become the bytes of an ONNX ModelProto, and the bytes of
 * an ONNX MLP become a spec and parameters again. The protobuf encoding
 * is core/pbwire's.
 *
 * Export: IR version ONNX_IR_VERSION, opset ONNX_OPSET of the default
 * domain; input "input" [N, N0] float, output "output" [N, NL] float
 * (N symbolic); per layer l a Gemm (transB = 1, so its B initializer
 * "layer<l>.weight" is W_l as mlp stores it, its C "layer<l>.bias" is
 * b_l) then the layer's activation (Sigmoid, Tanh, Relu, Softmax with
 * axis 1; nothing for linear). Producer "mlpd"; the caller's key/value
 * pairs go to metadata_props.
 *
 * Import takes a chain of nodes from the one graph input to the one
 * graph output: per layer a Gemm (transA 0, either transB, alpha and beta
 * folded into the weights) or a MatMul with an optional bias Add, then at
 * most one of Sigmoid, Tanh, Relu, Softmax (last layer, axis 1 or -1);
 * Identity nodes anywhere. Weights and biases are initializers of type
 * float or double, in raw_data, float_data or double_data. Everything
 * else is refused, naming the first node, tensor or field at fault,
 * before anything is allocated beyond the body's own size:
 *   FAULT_CORRUPT   the bytes are not a well-formed ModelProto
 *   FAULT_INVALID   well-formed, but not an MLP mlpd can run
 *   FAULT_NONFINITE a weight or bias is NaN or infinite (in float)
 *   FAULT_LIMIT     more layers, units or parameters than mlp allows
 *   FAULT_NOMEM     out of memory
 */
#ifndef MLPD_ONNX_H
#define MLPD_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "mlp.h"

#define ONNX_IR_VERSION 7 /* the IR of opset 13 (ONNX 1.8) */
#define ONNX_OPSET 13
#define ONNX_META_MAX 32       /* metadata_props entries, either way */
#define ONNX_META_KEY_MAX 128  /* bytes of a key */
#define ONNX_META_VALUE_MAX 4096 /* bytes of a value */

/* One metadata_props entry (NUL-terminated strings). */
typedef struct onnx_meta {
	char *key;
	char *value;
} onnx_meta;

/* What onnx_import found. Fill by onnx_import, free with onnx_net_free. */
typedef struct onnx_net {
	mlp_spec spec;   /* n_layers, sizes, act, loss (cross_entropy iff a
	                    Softmax ends the graph); the rest mlp's defaults */
	float *params;   /* mlp_spec_params(&spec) values, mlp's layout */
	size_t n_meta;
	onnx_meta meta[ONNX_META_MAX]; /* the model's metadata_props */
} onnx_net;

/* s (valid) and params (mlp_spec_params(s) values, mlp's layout) as an
 * ONNX model, with meta[0..n_meta) as its metadata_props; *out is
 * malloc'd (caller frees), *len its size. -1 with f set on no memory. */
int onnx_export(const mlp_spec *s, const float *params, const onnx_meta *meta,
		size_t n_meta, void **out, size_t *len, fault *f);

/* Reads an ONNX model from len bytes at buf into *net (see above for
 * what is accepted); 0, or -1 with f set and nothing left allocated. */
int onnx_import(const void *buf, size_t len, onnx_net *net, fault *f);

/* The value of metadata key in net, or NULL. Borrowed. */
const char *onnx_net_meta(const onnx_net *net, const char *key);

/* Frees what onnx_import allocated in net; NULL is a no-op. */
void onnx_net_free(onnx_net *net);

#endif
