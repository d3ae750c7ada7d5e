/*
 * csv: text/csv bodies <-> the float blocks the API handlers work on.
 *
 * The CSV twin of codec's row decoding, for POST /v1/models/{id}/batches
 * and /predict, and of its output encoding, for predict's Accept: text/csv.
 * A body is one sample per line: nx input values, then (for batches) ny
 * target values, separated by commas. A UTF-8 byte-order mark at the
 * start is skipped (Excel's "CSV UTF-8"). Lines end with \n or \r\n; the last
 * line's terminator is optional and blank lines at the end are ignored.
 * Line 1 is a header, and skipped, when none of its fields is a number
 * (a first line that mixes names and numbers is a row with a bad value).
 * Each field is one number for strtod, spaces and tabs around it allowed,
 * nothing else: no quotes, no empty fields, finite and within float32.
 *
 * Errors name the line (1-based, the header included) and the column
 * (1-based): 400 malformed_csv for structure (an empty body, a blank line
 * between rows), 422 invalid_value for a wrong column count, a field that
 * is not a number or too many rows, 422 non_finite for NaN, Inf or a value
 * beyond float32. Like codec, csv fills its outputs completely or fills an
 * apierr and leaves nothing allocated. It knows neither HTTP nor JSON.
 */
#ifndef MLPD_CSV_H
#define MLPD_CSV_H

#include <stddef.h>

#include "apierr.h"

/* The number of rows in body[0..len) (the header not counted), from a
 * quick pass that checks only the structure: for a caller that caps rows
 * before anything is allocated. 0, or -1 with e filled (an empty body, a
 * blank line between rows, a header and no rows, more than MLP_MAX_BATCH
 * rows). */
int csv_count(const char *body, size_t len, size_t *rows, apierr *e);

/* Decodes body[0..len) into rows of nx inputs and ny targets: *x gets a
 * malloc'd n x nx block and, when ny > 0, *y a malloc'd n x ny block (the
 * caller frees both; with ny == 0, y may be NULL and is not touched).
 * 1 <= n <= MLP_MAX_BATCH. Returns 0, or -1 with e filled and nothing
 * allocated. body need not be NUL-terminated. */
int csv_decode(const char *body, size_t len, size_t nx, size_t ny,
	       float **x, float **y, size_t *n, apierr *e);

/* n rows of width values as CSV text: %.9g, comma-separated, one row per
 * line ending in \n, no header; a non-finite value is an empty field.
 * Returns malloc'd text (caller frees) and its length, or NULL when out
 * of memory. */
char *csv_encode(const float *v, size_t n, size_t width, size_t *len);

/* True when an Accept header value asks for text/csv rather than JSON:
 * text/csv is listed with q > 0 and application/json is absent or has a
 * lower q. Wildcards do not count (JSON stays the default); NULL is 0. */
int csv_accepted(const char *accept);

/* The highest q an Accept header value gives the media type type (exact
 * match, case-insensitive; wildcards do not count), or -1 when it is not
 * listed; NULL is -1. For choosing among predict's output formats. */
double csv_accept_q(const char *accept, const char *type);

#endif
