/*
 * fuzz_batch_csv: text/csv bodies as POST .../batches and .../predict
 * decode them (csv_count, then codec_check_rows with the default daemon's
 * limits, then csv_decode) for a few models, among them the widest input
 * the API allows; and the same bytes as an Accept header through
 * csv_accepted.
 *
 * csv_count finds the rows csv_decode then decodes, and fails wherever it
 * must. A body decodes with nx inputs and ny targets exactly when it
 * decodes as nx + ny inputs alone, to the same values: the split is only
 * where the row is cut. Decoded values are finite, and what csv_encode
 * makes of them (the predict response's CSV) decodes to the same bits.
 */
#include "fuzz.h"

#include "csv.h"

/* A model and how its rows come: batches (inputs then targets) or
 * predict (inputs only). */
typedef struct shape {
	uint32_t n_layers;
	uint32_t sizes[3];
	int predict;
} shape;

static const shape shapes[] = {
	{ 2, { 3, 4, 2 }, 0 },
	{ 1, { 1, 1 }, 0 },
	{ 1, { 1, 3 }, 1 },
	{ 1, { 65535, 1 }, 0 },
	{ 1, { 65536, 2 }, 1 },
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static mlp_spec specs[N_SHAPES];
static codec_limits lim;

/* csv_decode with the invariants of one call; 1 if it decoded. */
static int
decode(const char *body, size_t len, size_t nx, size_t ny, float **x,
       float **y, size_t *n)
{
	apierr e;

	*x = (float *)1;
	*y = (float *)1;
	*n = 99;
	fuzz_err_reset(&e);
	if (csv_decode(body, len, nx, ny, x, ny > 0 ? y : NULL, n, &e) < 0) {
		fuzz_check_err(&e, "csv_decode");
		FUZZ_ASSERT(*x == NULL && (ny == 0 || *y == NULL),
		    "failed but left blocks");
		FUZZ_ASSERT(*n == 0, "failed with %zu rows", *n);
		if (ny == 0)
			*y = NULL;
		return 0;
	}
	FUZZ_ASSERT(*n >= 1 && *n <= MLP_MAX_BATCH, "%zu rows", *n);
	fuzz_check_finite(*x, *n, nx, "x");
	if (ny > 0)
		fuzz_check_finite(*y, *n, ny, "y");
	else
		FUZZ_ASSERT(*y == (float *)1, "y touched with ny == 0");
	if (ny == 0)
		*y = NULL;
	return 1;
}

/* csv_encode's text of x decodes to the same bits. */
static void
round_trip(const float *x, size_t n, size_t nx)
{
	float *x2, *y2;
	size_t n2, len;
	char *text = csv_encode(x, n, nx, &len);

	FUZZ_ASSERT(text != NULL, "csv_encode failed");
	FUZZ_ASSERT(strlen(text) == len, "csv_encode length");
	FUZZ_ASSERT(decode(text, len, nx, 0, &x2, &y2, &n2),
	    "csv_encode's text does not decode: %s", text);
	FUZZ_ASSERT(n2 == n, "%zu rows came back as %zu", n, n2);
	FUZZ_ASSERT(memcmp(x, x2, n * nx * sizeof(float)) == 0,
	    "values changed in the round trip: %s", text);
	free(x2);
	free(text);
}

/* The body of rows rows (as csv_count found) as the handler for model k
 * takes it: the row caps, and only then csv_decode. */
static void
one_shape(const char *body, size_t size, size_t rows, size_t k)
{
	const mlp_spec *s = &specs[k];
	size_t nx = s->sizes[0];
	size_t ny = shapes[k].predict ? 0 : s->sizes[s->n_layers];
	size_t n, nw;
	float *x, *y, *w, *unused;
	int split, whole;
	apierr e;

	fuzz_err_reset(&e);
	if (codec_check_rows(s, rows, &lim, "the CSV body", &e) < 0) {
		fuzz_check_err(&e, "codec_check_rows");
		return;
	}
	/* a row of nx + ny values takes at least 2 (nx + ny) - 1 bytes:
	 * when none fits, csv_decode can only refuse line 1 after it has
	 * allocated the rows (up to --max-batch-values floats, a slow path
	 * under ASan that finds nothing), so the wide models stop here */
	if (size < 2 * (nx + ny) - 1)
		return;
	split = decode(body, size, nx, ny, &x, &y, &n);
	if (split)
		FUZZ_ASSERT(n == rows, "csv_count %zu rows, csv_decode %zu",
		    rows, n);
	if (ny == 0) {
		if (split) {
			round_trip(x, n, nx);
			free(x);
		}
		return;
	}
	whole = decode(body, size, nx + ny, 0, &w, &unused, &nw);
	FUZZ_ASSERT(split == whole, "(%zu, %zu) decodes: %d, (%zu, 0): %d",
	    nx, ny, split, nx + ny, whole);
	if (!split)
		return;
	FUZZ_ASSERT(n == nw, "%zu rows vs %zu", n, nw);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(memcmp(w + i * (nx + ny), x + i * nx,
		    nx * sizeof(float)) == 0, "row %zu inputs", i);
		FUZZ_ASSERT(memcmp(w + i * (nx + ny) + nx, y + i * ny,
		    ny * sizeof(float)) == 0, "row %zu targets", i);
	}
	round_trip(w, nw, nx + ny);
	free(x);
	free(y);
	free(w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	size_t rows = 99, n;
	float *x, *y;
	char *accept;
	apierr e;

	if (specs[0].n_layers == 0) {
		for (size_t k = 0; k < N_SHAPES; k++)
			fuzz_spec(&specs[k], shapes[k].n_layers,
			    shapes[k].sizes);
		fuzz_limits(&lim);
	}
	fuzz_err_reset(&e);
	if (csv_count(body, size, &rows, &e) < 0) {
		fuzz_check_err(&e, "csv_count");
		FUZZ_ASSERT(rows == 0, "csv_count failed with %zu rows", rows);
		/* what it refuses is structure, whatever the row width */
		FUZZ_ASSERT(!decode(body, size, 1, 0, &x, &y, &n),
		    "csv_count refused a body that csv_decode takes");
	} else {
		FUZZ_ASSERT(rows >= 1 && rows <= MLP_MAX_BATCH,
		    "csv_count: %zu rows", rows);
		for (size_t k = 0; k < N_SHAPES; k++)
			one_shape(body, size, rows, k);
	}
	/* the same bytes as an Accept header (a C string there) */
	accept = malloc(size + 1);
	FUZZ_ASSERT(accept != NULL, "out of memory");
	memcpy(accept, data, size);
	accept[size] = '\0';
	FUZZ_ASSERT(csv_accepted(accept) == 0 || csv_accepted(accept) == 1,
	    "csv_accepted is not a truth value");
	free(accept);
	return 0;
}
