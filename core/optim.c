/*
 * optim: sgd, momentum and adam updates over flat parameter blocks.
 */
#include "optim.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static const char *const names[OPTIM_COUNT_] = {
	[OPTIM_SGD] = "sgd",
	[OPTIM_MOMENTUM] = "momentum",
	[OPTIM_ADAM] = "adam",
};

void
optim_params_default(optim_params *p)
{
	p->kind = OPTIM_SGD;
	p->lr = 0.1f;
	p->momentum = 0.9f;
	p->beta1 = 0.9f;
	p->beta2 = 0.999f;
	p->eps = 1e-8f;
}

const char *
optim_name(optim_kind k)
{
	if ((unsigned)k >= OPTIM_COUNT_)
		return NULL;
	return names[k];
}

int
optim_from_name(const char *name, optim_kind *k)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < OPTIM_COUNT_; i++) {
		if (strcmp(name, names[i]) == 0) {
			*k = (optim_kind)i;
			return 0;
		}
	}
	return -1;
}

size_t
optim_state_floats(optim_kind k, size_t nparams)
{
	switch (k) {
	case OPTIM_MOMENTUM:
		return nparams;
	case OPTIM_ADAM:
		return 2 * nparams;
	default:
		return 0;
	}
}

void
optim_update(const optim_params *p, float lr, uint64_t t, float *w,
	     const float *g, float *state, size_t n)
{
	switch (p->kind) {
	case OPTIM_SGD:
		cblas_saxpy((int)n, -lr, g, 1, w, 1);
		break;
	case OPTIM_MOMENTUM: {
		float mu = p->momentum;

		for (size_t i = 0; i < n; i++) {
			state[i] = mu * state[i] + g[i];
			w[i] -= lr * state[i];
		}
		break;
	}
	case OPTIM_ADAM: {
		float *m = state, *v = state + n;
		float b1 = p->beta1, b2 = p->beta2;
		/* bias corrections folded into the step size */
		double c1 = 1.0 - pow((double)b1, (double)t);
		double c2 = 1.0 - pow((double)b2, (double)t);
		float step = (float)(lr * sqrt(c2) / c1);
		float eps = (float)(p->eps * sqrt(c2));

		for (size_t i = 0; i < n; i++) {
			m[i] = b1 * m[i] + (1.0f - b1) * g[i];
			v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
			w[i] -= step * m[i] / (sqrtf(v[i]) + eps);
		}
		break;
	}
	default:
		break;
	}
}
