/*
 * optim: the update rules (sgd, momentum, adam) and the size of their state.
 *
 * The state is a flat float array owned by the model (and saved with it):
 * none for sgd, one velocity per parameter for momentum, first and second
 * moments (2 per parameter) for adam.
 */
#ifndef MLPD_OPTIM_H
#define MLPD_OPTIM_H

#include <stddef.h>
#include <stdint.h>

typedef enum optim_kind {
	OPTIM_SGD = 0, /* the seed's: w -= lr * g */
	OPTIM_MOMENTUM, /* v = mu v + g; w -= lr * v */
	OPTIM_ADAM,     /* Kingma & Ba with bias correction */
	OPTIM_COUNT_
} optim_kind;

typedef struct optim_params {
	optim_kind kind;
	float lr;       /* learning rate, > 0 */
	float momentum; /* mu for OPTIM_MOMENTUM, in [0, 1) */
	float beta1;    /* adam first-moment decay, in [0, 1) */
	float beta2;    /* adam second-moment decay, in [0, 1) */
	float eps;      /* adam denominator guard, > 0 */
} optim_params;

/* Defaults: sgd, lr 0.1, momentum 0.9, beta1 0.9, beta2 0.999, eps 1e-8. */
void optim_params_default(optim_params *p);

/* "sgd", "momentum", "adam"; NULL for a bad kind. */
const char *optim_name(optim_kind k);
int optim_from_name(const char *name, optim_kind *k);

/* How many floats of state kind needs for nparams parameters (0, n or 2n). */
size_t optim_state_floats(optim_kind k, size_t nparams);

/* One update of w[0..n) from gradient g with learning rate lr; state holds
 * optim_state_floats(kind, n) floats; t is the 1-based step number (adam's
 * bias correction). Returns 1 when every w[i] is finite afterwards, 0 when
 * one is not, and -1 when it did not look (sgd on a CPU without FMA, where
 * the update is cblas_saxpy). */
int optim_update(const optim_params *p, float lr, uint64_t t, float *w,
		 const float *g, float *state, size_t n);

#endif
