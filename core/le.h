/*
 * le.h: little-endian loads and stores, byte by byte, whatever the host's
 * byte order and the pointer's alignment. Every byte format mlpd reads or
 * writes keeps its numbers this way: model blobs (blob.c), ONNX raw tensor
 * data and fixed-width fields (onnx*.c, pbwire.c), .npy and .npz headers
 * (server/api/npy.c), history buckets (server/store/hist_tiers.c).
 *
 * le_getN(p) reads the N-bit unsigned integer at p[0..N/8), least
 * significant byte first; le_putN(p, v) writes it. le_getf32/le_putf32 and
 * le_getf64/le_putf64 do the same with an IEEE-754 float or double's bits.
 * p must point at N/8 readable (or writable) bytes: the callers check the
 * length. Header-only (static inline), no state, no allocation.
 */
#ifndef MLPD_LE_H
#define MLPD_LE_H

#include <stdint.h>
#include <string.h>

static inline uint16_t
le_get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
le_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
le_get64(const unsigned char *p)
{
	return le_get32(p) | (uint64_t)le_get32(p + 4) << 32;
}

static inline void
le_put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline void
le_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline void
le_put64(unsigned char *p, uint64_t v)
{
	le_put32(p, (uint32_t)v);
	le_put32(p + 4, (uint32_t)(v >> 32));
}

static inline float
le_getf32(const unsigned char *p)
{
	uint32_t u = le_get32(p);
	float v;

	memcpy(&v, &u, sizeof v);
	return v;
}

static inline double
le_getf64(const unsigned char *p)
{
	uint64_t u = le_get64(p);
	double v;

	memcpy(&v, &u, sizeof v);
	return v;
}

static inline void
le_putf32(unsigned char *p, float v)
{
	uint32_t u;

	memcpy(&u, &v, sizeof u);
	le_put32(p, u);
}

static inline void
le_putf64(unsigned char *p, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof u);
	le_put64(p, u);
}

#endif
