/*
 * eval: held-out metrics of a model: the loss and accuracy on a
 * validation set, and the seeded split that holds rows out of a training
 * set for one.
 *
 * Pure numerics on core types, no I/O and no clock: the caller stamps a
 * result with its step and time. A model measured is written to (its
 * scratch), so only the thread that owns it may measure it.
 */
#ifndef MLPD_EVAL_H
#define MLPD_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "mlp.h"

/* Rows of one forward pass in eval_measure: bounds the model's scratch
 * (and stays under MLP_MAX_BATCH) however many rows a set holds. */
#define EVAL_CHUNK ((size_t)4096)

typedef struct eval_result {
	double loss;     /* the model's loss over every row of the set */
	double accuracy; /* share of rows whose largest output is where the
	                    target's 1 is; NAN when targets are not one-hot */
} eval_result;

/* Rows a validation split holds out of n: that fraction of them, rounded
 * down, but at least one; 0 when split <= 0 or n <= 0. */
int64_t eval_held_out(int64_t n, double split);

/* 1 when every row of y (n x w) has one 1 and w - 1 zeros and w >= 2. */
int eval_is_onehot(const float *y, size_t n, size_t w);

/* Floats of scratch eval_measure needs for n rows of w outputs. */
size_t eval_scratch_floats(size_t n, size_t w);

/* Measures m on x (n x N0) and y (n x NL): the loss as mlp_evaluate gives
 * it over all n rows (computed in chunks of EVAL_CHUNK rows and weighted
 * by rows), and, when onehot, the accuracy. scratch holds
 * eval_scratch_floats(n, NL) floats, or is NULL and then allocated here
 * when needed. 0, or -1 with f set (FAULT_INVALID for n == 0 or bad
 * shapes, FAULT_NONFINITE, FAULT_NOMEM). */
int eval_measure(mlp *m, const float *x, const float *y, size_t n,
		 int onehot, float *scratch, eval_result *r, fault *f);

/* Holds rows out of a training set x (*n x nin) and y (*n x nout): the
 * eval_held_out(*n, split) rows that come last in a shuffle seeded with
 * seed (so the same rows and seed always hold out the same ones) move to
 * *vx and *vy (malloc'd, the caller frees them; *vn rows, in that
 * shuffle's order); the rows left close up in x and y in their order and
 * *n becomes their count. FAULT_INVALID when split is not in (0, 1), a
 * width is 0, or no row would be left to train on; nothing changes then. */
int eval_hold_out(float *x, float *y, size_t *n, size_t nin, size_t nout,
		  double split, uint64_t seed, float **vx, float **vy,
		  size_t *vn, fault *f);

#endif
