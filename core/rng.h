/*
 * rng: the seeded pseudo-random generator each model owns.
 *
 * xoshiro256** seeded through splitmix64. No global state: two models with
 * the same seed draw the same numbers whatever other threads do, which is
 * what makes training runs bit-reproducible.
 */
#ifndef MLPD_RNG_H
#define MLPD_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rng {
	uint64_t s[4]; /* xoshiro256** state; never all zero */
} rng;

/* Seeds r from any 64-bit value (0 included). */
void rng_seed(rng *r, uint64_t seed);

/* The next 64 random bits. */
uint64_t rng_next(rng *r);

/* A double uniform in [0, 1), with 53 random bits. */
double rng_uniform(rng *r);

/* An integer uniform in [0, n) without modulo bias; n must be > 0. */
uint64_t rng_below(rng *r, uint64_t n);

/* Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle(rng *r, uint32_t *idx, size_t n);

/* Fills w[0..n) with Xavier/Glorot uniform values for a layer with the
 * given fan-in and fan-out: U(-a, a), a = sqrt(6 / (fan_in + fan_out)). */
void rng_glorot_uniform(rng *r, float *w, size_t n, size_t fan_in,
			size_t fan_out);

#endif
