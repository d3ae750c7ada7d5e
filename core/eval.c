/*
 * eval: held-out loss and accuracy, and the validation split (see eval.h).
 */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

int64_t
eval_held_out(int64_t n, double split)
{
	int64_t k;

	if (!(split > 0.0) || n <= 0)
		return 0;
	k = (int64_t)((double)n * split);
	return k < 1 ? 1 : k;
}

int
eval_is_onehot(const float *y, size_t n, size_t w)
{
	if (w < 2 || y == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t ones = 0;

		for (size_t k = 0; k < w; k++) {
			float v = y[i * w + k];

			if (v == 1.0f)
				ones++;
			else if (v != 0.0f)
				return 0;
		}
		if (ones != 1)
			return 0;
	}
	return 1;
}

size_t
eval_scratch_floats(size_t n, size_t w)
{
	return (n < EVAL_CHUNK ? n : EVAL_CHUNK) * w;
}

/* The index of the largest of v[0..w). */
static size_t
argmax(const float *v, size_t w)
{
	size_t best = 0;

	for (size_t k = 1; k < w; k++)
		if (v[k] > v[best])
			best = k;
	return best;
}

int
eval_measure(mlp *m, const float *x, const float *y, size_t n, int onehot,
	     float *scratch, eval_result *r, fault *f)
{
	const mlp_spec *s = mlp_get_spec(m);
	size_t n0 = s->sizes[0], w = s->sizes[s->n_layers], hits = 0;
	float *owned = NULL;
	double sum = 0.0;
	int rc = -1;

	if (n == 0 || x == NULL || y == NULL)
		return fault_set(f, FAULT_INVALID, "a validation set needs at "
		    "least one row");
	if (onehot && scratch == NULL) {
		owned = malloc(eval_scratch_floats(n, w) * sizeof(float));
		if (owned == NULL)
			return fault_set(f, FAULT_NOMEM, "out of memory "
			    "validating");
		scratch = owned;
	}
	for (size_t i = 0; i < n; i += EVAL_CHUNK) {
		size_t c = n - i < EVAL_CHUNK ? n - i : EVAL_CHUNK;
		float loss;

		if (mlp_evaluate(m, x + i * n0, y + i * w, c, &loss, f) < 0)
			goto out;
		sum += (double)loss * (double)c;
		if (!onehot)
			continue;
		if (mlp_predict(m, x + i * n0, c, scratch, f) < 0)
			goto out;
		for (size_t k = 0; k < c; k++)
			hits += argmax(scratch + k * w, w) ==
			    argmax(y + (i + k) * w, w);
	}
	r->loss = sum / (double)n;
	r->accuracy = onehot ? (double)hits / (double)n : NAN;
	rc = 0;
out:
	free(owned);
	return rc;
}

int
eval_hold_out(float *x, float *y, size_t *n, size_t nin, size_t nout,
	      double split, uint64_t seed, float **vx, float **vy, size_t *vn,
	      fault *f)
{
	size_t rows = *n, k, keep = 0;
	uint32_t *perm = NULL;
	unsigned char *held = NULL;
	float *hx = NULL, *hy = NULL;
	rng r;
	int rc = -1;

	if (!(split > 0.0 && split < 1.0))
		return fault_set(f, FAULT_INVALID, "validation_split must be "
		    "> 0 and < 1");
	if (nin == 0 || nout == 0 || rows > UINT32_MAX)
		return fault_set(f, FAULT_INVALID, "a validation split needs "
		    "rows of at least one input and one output, and at most "
		    "%u rows", (unsigned)UINT32_MAX);
	k = (size_t)eval_held_out((int64_t)rows, split);
	if (k >= rows)
		return fault_set(f, FAULT_INVALID, "validation_split holds "
		    "out all %zu rows; none is left to train on", rows);
	if (k > SIZE_MAX / sizeof(float) / nin ||
	    k > SIZE_MAX / sizeof(float) / nout)
		return fault_set(f, FAULT_NOMEM, "the validation rows are too "
		    "large");
	perm = malloc(rows * sizeof *perm);
	held = calloc(rows, 1);
	hx = malloc(k * nin * sizeof(float));
	hy = malloc(k * nout * sizeof(float));
	if (perm == NULL || held == NULL || hx == NULL || hy == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory for the validation "
		    "rows");
		goto out;
	}
	for (size_t i = 0; i < rows; i++)
		perm[i] = (uint32_t)i;
	rng_seed(&r, seed);
	rng_shuffle(&r, perm, rows);
	for (size_t v = 0; v < k; v++) {
		size_t i = perm[rows - k + v];

		held[i] = 1;
		memcpy(hx + v * nin, x + i * nin, nin * sizeof(float));
		memcpy(hy + v * nout, y + i * nout, nout * sizeof(float));
	}
	for (size_t i = 0; i < rows; i++) {
		if (held[i])
			continue;
		if (keep != i) {
			memmove(x + keep * nin, x + i * nin,
			    nin * sizeof(float));
			memmove(y + keep * nout, y + i * nout,
			    nout * sizeof(float));
		}
		keep++;
	}
	*n = keep;
	*vx = hx;
	*vy = hy;
	*vn = k;
	hx = hy = NULL;
	rc = 0;
out:
	free(perm);
	free(held);
	free(hx);
	free(hy);
	return rc;
}
