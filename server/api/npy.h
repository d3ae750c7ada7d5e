/*
 * npy: NumPy .npy and .npz bodies <-> the float blocks the API handlers
 * work on.
 *
 * The NumPy twin of codec's and csv's row decoding, for POST
 * /v1/models/{id}/batches and /predict, and of their output encoding, for
 * predict's Accept: application/x-npy. An .npy (format versions 1.0, 2.0
 * and 3.0) must hold little-endian float32 or float64 ('<f4', '<f8') in C
 * order, 2-D of shape (rows, width); a 1-D array is one row in a predict
 * body, or a column when the width is 1. An .npz is a zip archive (as
 * np.savez writes it, or np.savez_compressed with deflate) of inputs.npy
 * and targets.npy; other members are refused. A batch comes as an .npz,
 * or as one .npy of rows of inputs then targets, as a CSV row is.
 *
 * Errors: 400 malformed_npy for bytes that are not an .npy or .npz (a bad
 * magic, header or zip structure, a CRC or a data length that disagrees
 * with the header); 422 unsupported_npy for what is well-formed but not
 * taken (big-endian, object and other dtypes, Fortran order, more than 2
 * dimensions); 422 invalid_value for shapes that disagree with the model
 * or each other, or overflow; 422 non_finite for NaN, Inf or a float64
 * beyond float32, naming the row and column. Like codec and csv, npy
 * fills its outputs completely or fills an apierr and leaves nothing
 * allocated. Stored .npy data is converted straight from the body (no
 * copy); a deflated member is inflated once into a buffer of its own
 * size. It knows neither HTTP nor JSON.
 */
#ifndef MLPD_NPY_H
#define MLPD_NPY_H

#include <stddef.h>

#include "apierr.h"
#include "codec.h"
#include "mlp.h"

#define NPY_TYPE "application/x-npy"
#define NPZ_TYPE "application/x-npz"

/* A batch for spec s from an .npy of rows of nx + ny values (npz == 0)
 * or an .npz of inputs and targets (npz == 1): *x gets n x nx and *y
 * n x ny malloc'd floats (the caller frees both). lim (may be NULL) caps
 * the rows before anything is allocated. Returns 0, or -1 with e filled
 * and nothing allocated. */
int npy_batch(const void *body, size_t len, int npz, const mlp_spec *s,
	      const codec_limits *lim, float **x, float **y, size_t *n,
	      apierr *e);

/* Predict inputs for spec s from an .npy: *x gets n x sizes[0] malloc'd
 * floats; *single is 1 when the array was 1-D (one row). As npy_batch. */
int npy_predict(const void *body, size_t len, const mlp_spec *s,
		const codec_limits *lim, float **x, size_t *n, int *single,
		apierr *e);

/* n rows of width float32 values as an .npy (version 1.0, '<f4', C
 * order, shape (n, width), or (width,) when single). Returns malloc'd
 * bytes (caller frees) and their count, or NULL when out of memory. */
char *npy_encode(const float *v, size_t n, size_t width, int single,
		 size_t *len);

#endif
