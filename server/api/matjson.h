/*
 * matjson: the JSON bodies of POST /v1/models/{id}/batches and /predict,
 * decoded in one streaming pass straight into float blocks, without a
 * jansson tree.
 *
 * The body is scanned once, as strictly as jansson reads it (RFC 8259
 * numbers, strings with valid UTF-8 and escapes, no \u0000, nesting at
 * most 2048 deep, duplicate keys refused), and the rows of "inputs" and
 * "targets" (or predict's "inputs" / "input") go into float blocks as
 * they are read. Numbers are parsed exactly and independently of the
 * locale: the same double jansson's strtod gives, then rounded to float32
 * as codec does, so a decoded block is bit for bit codec's. The answer to
 * a body, a decoded block or an error, is the one codec_batch /
 * codec_predict_request give for the parsed body (codes and the order in
 * which problems are reported; parse errors name the line and column).
 * Bodies that can only be wrong in ways a tree tells best (a top level
 * that is not an object, an unknown key, an object inside a matrix) are
 * handed to codec's tree decoder, which answers them as it always did,
 * under its memory caps.
 *
 * Memory: the floats of the rows as far as the caps allow (the block
 * grows by doubling, and glibc moves a large block without copying), and
 * a few hundred bytes of stack; never anything per number.
 */
#ifndef MLPD_MATJSON_H
#define MLPD_MATJSON_H

#include <stddef.h>

#include "apierr.h"
#include "codec.h"
#include "mlp.h"

/* A batch body {"inputs": [[...]], "targets": [[...]]} for spec s:
 * *x gets n x sizes[0] and *y n x sizes[L] malloc'd floats (the caller
 * frees both). lim (may be NULL) caps the rows. Returns 0, or -1 with e
 * filled and nothing allocated. body need not be NUL-terminated. */
int matjson_batch(const char *body, size_t len, const mlp_spec *s,
		  const codec_limits *lim, float **x, float **y, size_t *n,
		  apierr *e);

/* A predict body {"inputs": [[...]]} or {"input": [...]}; *single says
 * which. *x gets n x sizes[0] malloc'd floats. As matjson_batch. */
int matjson_predict(const char *body, size_t len, const mlp_spec *s,
		    const codec_limits *lim, float **x, size_t *n,
		    int *single, apierr *e);

/* One JSON number token at s[0..len) as jansson reads it into a double:
 * 0, or -1 when the token is not exactly one number (*overflow then says
 * whether it is a well-formed number out of range: an integer beyond
 * int64 or a real beyond double). Exact and locale independent. For
 * tests and the other decoders. */
int matjson_number(const char *s, size_t len, double *out, int *overflow);

/* The longest JSON number at s[0..end) (matjson_number's reading):
 * 0 with *out and *stop just past it, or -1 when none starts at s or it
 * is out of range. For the CSV decoder's one-pass rows. */
int matjson_number_at(const char *s, const char *end, double *out,
		      const char **stop);

#endif
