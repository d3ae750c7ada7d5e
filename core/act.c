/*
 * act: activation functions applied to whole row-major blocks.
 *
 * The sigmoid is 1 / (1 + exp(-z)) as the seed writes it. With SLEEF
 * (Debian's libsleef-dev) on an x86-64 CPU with AVX, exp comes from
 * Sleef_expf8_u10, 8 lanes at a time and within 1 ULP like libm's expf;
 * the choice is made once, at first use, from the CPU. A hand-written
 * polynomial would be faster still but is one more thing to get wrong;
 * SLEEF is kept and tested by others.
 */
#ifdef HAVE_CONFIG_H
#include "autoconf.h" /* HAVE_SLEEF */
#endif

#include "act.h"

#include <math.h>
#include <string.h>

#if defined(HAVE_SLEEF) && defined(__x86_64__) && defined(__GNUC__)
#define ACT_SLEEF_AVX 1
#include <immintrin.h>
#include <stdatomic.h>
/* sleef.h declares its 8-lane functions only where __AVX__ is defined
 * (a file built for AVX as a whole); this one is built for the baseline
 * and calls the function from AVX code alone, so it declares it, as
 * libsleef exports it, for that target (gcc and clang alike) */
__attribute__((target("avx"))) __m256 Sleef_expf8_u10(__m256 x);
#endif

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

static void
sigmoid_scalar(float *z, size_t n)
{
	for (size_t i = 0; i < n; i++)
		z[i] = 1.0f / (1.0f + expf(-z[i]));
}

#ifdef ACT_SLEEF_AVX
__attribute__((target("avx"))) static void
sigmoid_avx(float *z, size_t n)
{
	const __m256 one = _mm256_set1_ps(1.0f);
	const __m256 zero = _mm256_setzero_ps();
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 e = Sleef_expf8_u10(_mm256_sub_ps(zero,
		    _mm256_loadu_ps(z + i)));

		_mm256_storeu_ps(z + i, _mm256_div_ps(one,
		    _mm256_add_ps(one, e)));
	}
	sigmoid_scalar(z + i, n - i);
}

static void
sigmoid(float *z, size_t n)
{
	/* every thread that looks first finds the same answer */
	static atomic_int avx = -1;
	int a = atomic_load_explicit(&avx, memory_order_relaxed);

	if (a < 0) {
		a = __builtin_cpu_supports("avx") ? 1 : 0;
		atomic_store_explicit(&avx, a, memory_order_relaxed);
	}
	if (a)
		sigmoid_avx(z, n);
	else
		sigmoid_scalar(z, n);
}
#else
#define sigmoid sigmoid_scalar
#endif

void
act_forward(act_kind k, float *z, size_t rows, size_t cols)
{
	size_t n = rows * cols;

	switch (k) {
	case ACT_SIGMOID:
		sigmoid(z, n);
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
