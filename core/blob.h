/*
 * blob: the versioned binary form of a model (weights + optimizer state).
 *
 * Layout (all integers little-endian, floats IEEE-754 binary32 LE):
 *   "MLPDBLOB" magic (8) | u32 version | u32 header bytes | header | params |
 *   optimizer state | u32 CRC-32 of everything before it.
 * The header carries the spec (layer sizes, activations, loss, optimizer and
 * its hyper-parameters, seed), the step, the RNG state and both counts.
 * Loading checks magic, version, length, CRC, spec, counts and the RNG
 * state (never all zero) before it builds anything, and says which check
 * failed.
 */
#ifndef MLPD_BLOB_H
#define MLPD_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "mlp.h"

#define BLOB_MAGIC "MLPDBLOB"
#define BLOB_VERSION 1u

/* Serializes m into a new malloc'd buffer (*buf, *len); caller frees. */
int blob_save(const mlp *m, void **buf, size_t *len, fault *f);

/* Builds a model from buf; NULL with FAULT_CORRUPT (or FAULT_NOMEM) and a
 * message naming the failed check. When expect is not NULL, the blob's
 * layer sizes must equal expect's. Caller destroys the model. */
mlp *blob_load(const void *buf, size_t len, const mlp_spec *expect,
	       fault *f);

/* CRC-32 (IEEE 802.3, as zlib) of len bytes. */
uint32_t blob_crc32(const void *buf, size_t len);

#endif
