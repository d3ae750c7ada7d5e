/*
 * optim: sgd, momentum and adam updates over flat parameter blocks.
 *
 * Each update also tells whether every weight it wrote is finite, so that
 * the owner need not scan the weights again after each step. For sgd on a
 * CPU with FMA that is one fused pass, w = fma(-lr, g, w) 8 lanes at a
 * time: the seed's w - lr g rounded once, as exact as a float update can
 * be. (OpenBLAS's saxpy, used before, mixes FMA blocks with a multiply
 * and an add elsewhere, so results move by an ulp at some weights; the
 * update is the same every run on one machine.) With AVX-512 F the same
 * fused pass runs 16 lanes at a time, the same results (one rounding per
 * weight either way). Without FMA, sgd stays cblas_saxpy and the answer is
 * "not checked".
 */
#include "optim.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define OPTIM_FMA 1
#include <immintrin.h>
#include <stdatomic.h>
#endif

#define EXP_BITS 0x7f800000u /* all ones: Inf or NaN */

/* 1 when the float's exponent is all ones (not finite). */
static inline uint32_t
nonfinite_bit(float v)
{
	uint32_t u;

	memcpy(&u, &v, sizeof u);
	return (u & EXP_BITS) == EXP_BITS;
}

#ifdef OPTIM_FMA
/* w += a g with one rounding per weight; 1 when all of w is finite. */
__attribute__((target("avx2,fma"))) static int
sgd_fma(float *w, const float *g, float a, size_t n)
{
	const __m256 va = _mm256_set1_ps(a);
	const __m256i ex = _mm256_set1_epi32((int)EXP_BITS);
	__m256i bad = _mm256_setzero_si256();
	uint32_t tail = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_fmadd_ps(va, _mm256_loadu_ps(g + i),
		    _mm256_loadu_ps(w + i));
		__m256i e = _mm256_and_si256(_mm256_castps_si256(v), ex);

		bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(e, ex));
		_mm256_storeu_ps(w + i, v);
	}
	for (; i < n; i++) {
		w[i] = __builtin_fmaf(a, g[i], w[i]);
		tail |= nonfinite_bit(w[i]);
	}
	return !tail && _mm256_testz_si256(bad, bad);
}

/* sgd_fma 16 lanes at a time, the tail under a mask. */
__attribute__((target("avx512f"))) static int
sgd_fma512(float *w, const float *g, float a, size_t n)
{
	const __m512 va = _mm512_set1_ps(a);
	const __m512i ex = _mm512_set1_epi32((int)EXP_BITS);
	__mmask16 bad = 0;

	for (size_t i = 0; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? (__mmask16)0xffff :
		    (__mmask16)((1u << (n - i)) - 1u);
		__m512 v = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(k, g + i),
		    _mm512_maskz_loadu_ps(k, w + i));
		__m512i e = _mm512_and_si512(_mm512_castps_si512(v), ex);

		bad |= _mm512_mask_cmpeq_epi32_mask(k, e, ex);
		_mm512_mask_storeu_ps(w + i, k, v);
	}
	return bad == 0;
}

/* 2 when the CPU has AVX-512 F, 1 for AVX2 and FMA, else 0; asked once
 * (every thread finds the same). */
static int
have_fma(void)
{
	static atomic_int fma = -1;
	int a = atomic_load_explicit(&fma, memory_order_relaxed);

	if (a < 0) {
		a = __builtin_cpu_supports("avx512f") ? 2 :
		    __builtin_cpu_supports("avx2") &&
		    __builtin_cpu_supports("fma") ? 1 : 0;
		atomic_store_explicit(&fma, a, memory_order_relaxed);
	}
	return a;
}
#endif

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

int
optim_update(const optim_params *p, float lr, uint64_t t, float *w,
	     const float *g, float *state, size_t n)
{
	uint32_t bad = 0;

	switch (p->kind) {
	case OPTIM_SGD:
#ifdef OPTIM_FMA
		switch (have_fma()) {
		case 2:
			return sgd_fma512(w, g, -lr, n);
		case 1:
			return sgd_fma(w, g, -lr, n);
		default:
			break;
		}
#endif
		cblas_saxpy((int)n, -lr, g, 1, w, 1);
		return -1;
	case OPTIM_MOMENTUM: {
		float mu = p->momentum;

		for (size_t i = 0; i < n; i++) {
			state[i] = mu * state[i] + g[i];
			w[i] -= lr * state[i];
			bad |= nonfinite_bit(w[i]);
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
			bad |= nonfinite_bit(w[i]);
		}
		break;
	}
	default:
		return -1;
	}
	return !bad;
}
