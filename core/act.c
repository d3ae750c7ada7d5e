/*
 * act: activation functions applied to whole row-major blocks.
 */
#include "act.h"

#include <math.h>
#include <string.h>

static const char *const names[ACT_COUNT_] = {
	[ACT_SIGMOID] = "sigmoid",
	[ACT_TANH] = "tanh",
	[ACT_RELU] = "relu",
	[ACT_LINEAR] = "linear",
	[ACT_SOFTMAX] = "softmax",
};

const char *
act_name(act_kind k)
{
	if ((unsigned)k >= ACT_COUNT_)
		return NULL;
	return names[k];
}

int
act_from_name(const char *name, act_kind *k)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < ACT_COUNT_; i++) {
		if (strcmp(name, names[i]) == 0) {
			*k = (act_kind)i;
			return 0;
		}
	}
	return -1;
}

/* Row-wise softmax, shifted by the row maximum so exp never overflows. */
static void
softmax_rows(float *z, size_t rows, size_t cols)
{
	for (size_t r = 0; r < rows; r++) {
		float *row = z + r * cols;
		float max = row[0];
		double sum = 0.0;

		for (size_t c = 1; c < cols; c++)
			if (row[c] > max)
				max = row[c];
		for (size_t c = 0; c < cols; c++) {
			row[c] = expf(row[c] - max);
			sum += row[c];
		}
		for (size_t c = 0; c < cols; c++)
			row[c] = (float)(row[c] / sum);
	}
}

void
act_forward(act_kind k, float *z, size_t rows, size_t cols)
{
	size_t n = rows * cols;

	switch (k) {
	case ACT_SIGMOID:
		for (size_t i = 0; i < n; i++)
			z[i] = 1.0f / (1.0f + expf(-z[i]));
		break;
	case ACT_TANH:
		for (size_t i = 0; i < n; i++)
			z[i] = tanhf(z[i]);
		break;
	case ACT_RELU:
		for (size_t i = 0; i < n; i++)
			z[i] = z[i] > 0.0f ? z[i] : 0.0f;
		break;
	case ACT_LINEAR:
		break;
	case ACT_SOFTMAX:
		softmax_rows(z, rows, cols);
		break;
	default:
		break;
	}
}

void
act_backward(act_kind k, const float *g, float *delta, size_t n)
{
	switch (k) {
	case ACT_SIGMOID:
		for (size_t i = 0; i < n; i++)
			delta[i] *= g[i] * (1.0f - g[i]);
		break;
	case ACT_TANH:
		for (size_t i = 0; i < n; i++)
			delta[i] *= 1.0f - g[i] * g[i];
		break;
	case ACT_RELU:
		for (size_t i = 0; i < n; i++)
			delta[i] = g[i] > 0.0f ? delta[i] : 0.0f;
		break;
	default:
		break;
	}
}
