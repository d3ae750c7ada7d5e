/*
 * act: activation functions applied to whole row-major blocks.
 *
 * The sigmoid is 1 / (1 + exp(-z)) as the seed writes it. With SLEEF
 * (Debian's libsleef-dev) on an x86-64 CPU with AVX, exp comes from
 * Sleef_expf8_u10, 8 lanes at a time and within 1 ULP like libm's expf,
 * and with AVX-512 F from Sleef_expf16_u10, 16 lanes at a time (the tail
 * through masked loads and stores, so every element takes the same path);
 * the sigmoid's derivative runs 16 lanes at a time there too, in the same
 * operations and order as the scalar loop, so its results are the same.
 * The choice is made once, at first use, from the CPU. A hand-written
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
__attribute__((target("avx512f"))) __m512 Sleef_expf16_u10(__m512 x);
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

static void
sigmoid_back_scalar(const float *g, float *delta, size_t n)
{
	for (size_t i = 0; i < n; i++)
		delta[i] *= g[i] * (1.0f - g[i]);
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

/* 1/(1 + exp(-z)) 16 lanes at a time; the tail of n % 16 under a mask. */
__attribute__((target("avx512f"))) static void
sigmoid_avx512(float *z, size_t n)
{
	const __m512 one = _mm512_set1_ps(1.0f);
	const __m512 zero = _mm512_setzero_ps();

	for (size_t i = 0; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? (__mmask16)0xffff :
		    (__mmask16)((1u << (n - i)) - 1u);
		__m512 e = Sleef_expf16_u10(_mm512_sub_ps(zero,
		    _mm512_maskz_loadu_ps(k, z + i)));

		_mm512_mask_storeu_ps(z + i, k, _mm512_div_ps(one,
		    _mm512_add_ps(one, e)));
	}
}

/* delta *= g (1 - g), 16 lanes at a time: the scalar loop's operations in
 * its order, so the same results. */
__attribute__((target("avx512f"))) static void
sigmoid_back_avx512(const float *g, float *delta, size_t n)
{
	const __m512 one = _mm512_set1_ps(1.0f);
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m512 gv = _mm512_loadu_ps(g + i);
		__m512 d = _mm512_mul_ps(gv, _mm512_sub_ps(one, gv));

		_mm512_storeu_ps(delta + i, _mm512_mul_ps(
		    _mm512_loadu_ps(delta + i), d));
	}
	sigmoid_back_scalar(g + i, delta + i, n - i);
}

/* The widest vector unit the CPU (and OS) offers for the sigmoid: 2 for
 * AVX-512 F, 1 for AVX, 0 for none. Every thread that looks first finds
 * the same answer. */
static int
vector_level(void)
{
	static atomic_int level = -1;
	int a = atomic_load_explicit(&level, memory_order_relaxed);

	if (a < 0) {
		a = __builtin_cpu_supports("avx512f") ? 2 :
		    __builtin_cpu_supports("avx") ? 1 : 0;
		atomic_store_explicit(&level, a, memory_order_relaxed);
	}
	return a;
}

static void
sigmoid(float *z, size_t n)
{
	switch (vector_level()) {
	case 2:
		sigmoid_avx512(z, n);
		break;
	case 1:
		sigmoid_avx(z, n);
		break;
	default:
		sigmoid_scalar(z, n);
		break;
	}
}

static void
sigmoid_back(const float *g, float *delta, size_t n)
{
	if (vector_level() == 2)
		sigmoid_back_avx512(g, delta, n);
	else
		sigmoid_back_scalar(g, delta, n);
}
#else
#define sigmoid sigmoid_scalar
#define sigmoid_back sigmoid_back_scalar
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
		sigmoid_back(g, delta, n);
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
