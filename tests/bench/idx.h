/*
 * idx: reads IDX files (the MNIST / Fashion-MNIST format) for the benchmark.
 *
 * An IDX file is a big-endian header (two zero bytes, a type byte, a
 * dimension count, then one u32 per dimension) followed by the data. Only
 * the unsigned-byte type (0x08) is supported: that is what the MNIST
 * family uses. A path ending in ".gz" is read through popen("gzip -dc"), so
 * nothing here needs zlib. idx_fashion_load turns the training images and
 * labels into the float matrices core/mlp expects: pixels scaled to [0, 1]
 * and labels one-hot, one sample per row.
 *
 * This is test support, not part of core/: it does I/O, which core never
 * does. It reports failures through core's fault type.
 */
#ifndef MLPD_IDX_H
#define MLPD_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"

#define IDX_MAX_DIMS 8
#define IDX_MAX_BYTES ((size_t)1 << 31) /* refuse larger payloads */

/* The Debian package dataset-fashion-mnist installs the files here. */
#define IDX_FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define IDX_FASHION_INPUTS (28 * 28) /* pixels per image */
#define IDX_FASHION_CLASSES 10

/* One IDX array of unsigned bytes, dims[0] x ... x dims[ndims - 1]. */
typedef struct idx_array {
	uint32_t ndims;
	uint32_t dims[IDX_MAX_DIMS];
	size_t count;  /* product of dims: bytes in data */
	uint8_t *data; /* row-major, owned; idx_array_free releases it */
} idx_array;

/* A supervised data set, one sample per row. */
typedef struct idx_dataset {
	size_t n;     /* samples */
	size_t n_in;  /* inputs per sample (28 * 28 for Fashion-MNIST) */
	size_t n_out; /* one-hot width (10 classes) */
	float *x;     /* n x n_in, owned */
	float *y;     /* n x n_out, owned */
} idx_dataset;

/* Reads the IDX file at path (gzip'd when it ends in ".gz") into a, which
 * the caller then frees with idx_array_free. 0, or -1 with f set and a
 * zeroed; FAULT_CORRUPT for a bad header, a truncated payload or trailing
 * bytes, FAULT_INTERNAL when the file cannot be read. */
int idx_read(const char *path, idx_array *a, fault *f);

/* Frees a's data and zeroes it; NULL is a no-op. */
void idx_array_free(idx_array *a);

/* Allocates d for n samples (x and y zeroed); 0, or -1 with FAULT_NOMEM
 * when a size product overflows or memory runs out. */
int idx_dataset_alloc(idx_dataset *d, size_t n, size_t n_in, size_t n_out,
		      fault *f);

/* Loads Fashion-MNIST's training set from dir (train-images-idx3-ubyte and
 * train-labels-idx1-ubyte, each with or without ".gz"), keeping the first
 * max_n samples (0 keeps all): d->n_in is IDX_FASHION_INPUTS and d->n_out
 * IDX_FASHION_CLASSES (other shapes are FAULT_CORRUPT). The caller frees d
 * with idx_dataset_free. */
int idx_fashion_load(const char *dir, size_t max_n, idx_dataset *d, fault *f);

/* Frees d's matrices and zeroes it; NULL is a no-op. */
void idx_dataset_free(idx_dataset *d);

#endif
