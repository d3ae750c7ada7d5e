/*
 * act: the activation functions a layer can apply, by name and in bulk.
 *
 * Every derivative is written in terms of the activation's output g (the
 * seed's sigma' = sigma (1 - sigma) form), so the forward pass can overwrite
 * pre-activations in place and backward needs nothing else. softmax is only
 * valid on the output layer together with the cross_entropy loss, whose
 * gradient mlp computes directly.
 */
#ifndef MLPD_ACT_H
#define MLPD_ACT_H

#include <stddef.h>

typedef enum act_kind {
	ACT_SIGMOID = 0, /* the seed's, and the default */
	ACT_TANH,
	ACT_RELU,
	ACT_LINEAR,
	ACT_SOFTMAX, /* output layer with cross_entropy only */
	ACT_COUNT_
} act_kind;

/* "sigmoid", "tanh", "relu", "linear", "softmax"; NULL for a bad kind. */
const char *act_name(act_kind k);

/* Parses a name; returns 0 and sets *k, or -1 for an unknown name. */
int act_from_name(const char *name, act_kind *k);

/* Applies k in place to a rows x cols row-major block. */
void act_forward(act_kind k, float *z, size_t rows, size_t cols);

/* delta[i] *= k'(f) computed from the outputs g[i], for n elements.
 * Not defined for ACT_SOFTMAX (mlp handles that case through the loss). */
void act_backward(act_kind k, const float *g, float *delta, size_t n);

#endif
