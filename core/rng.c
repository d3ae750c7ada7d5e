/*
 * rng: xoshiro256** (Blackman & Vigna) seeded through splitmix64.
 */
#include "rng.h"

#include <math.h>

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void
rng_seed(rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

uint64_t
rng_next(rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double
rng_uniform(rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Lemire's nearly-divisionless method would do; rejection keeps it simple. */
uint64_t
rng_below(rng *r, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t v;

	do
		v = rng_next(r);
	while (v >= limit);
	return v % n;
}

void
rng_shuffle(rng *r, uint32_t *idx, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rng_below(r, i);
		uint32_t t = idx[i - 1];

		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

void
rng_glorot_uniform(rng *r, float *w, size_t n, size_t fan_in, size_t fan_out)
{
	double a = sqrt(6.0 / (double)(fan_in + fan_out));

	for (size_t i = 0; i < n; i++) {
		float v = (float)((2.0 * rng_uniform(r) - 1.0) * a);

		/* rounding to float may step just past the bound */
		if (v > (float)a)
			v = (float)a;
		if (v < -(float)a)
			v = -(float)a;
		w[i] = v;
	}
}
