/*
 * fuzz_batch_npy: NumPy bodies as POST .../batches and .../predict decode
 * them (npy_batch for an .npy of rows and for an .npz of inputs and
 * targets, npy_predict for an .npy), with the default daemon's limits,
 * for models [3, 5, 2], [1, 1] (where a 1-D array is a column) and
 * [65536, 2] (the widest input: a small body must not reserve rows of
 * that width).
 *
 * A decoded batch has 1..max_batch_rows rows within max_batch_values,
 * finite values that core's mlp_check_batch accepts, and the .npy form
 * agrees with itself: what npy_encode makes of the decoded inputs decodes
 * through npy_predict to the same bits.
 */
#include "fuzz.h"

#include "npy.h"

static mlp_spec specs[3];
static codec_limits lim;

/* Rows decoded for spec s pass what the handlers and core promise. */
static void
check_rows(const mlp_spec *s, const float *x, const float *y, size_t n,
	   const char *where)
{
	fault f;

	FUZZ_ASSERT(n >= 1 && n <= lim.max_batch_rows, "%s: %zu rows", where,
	    n);
	FUZZ_ASSERT(n <= lim.max_batch_values / codec_row_values(s),
	    "%s: %zu rows past max_batch_values", where, n);
	fuzz_check_finite(x, n, s->sizes[0], "inputs");
	if (y != NULL)
		fuzz_check_finite(y, n, s->sizes[s->n_layers], "targets");
	FUZZ_ASSERT(mlp_check_batch(s, x, y, n, &f) == 0, "%s: core rejects "
	    "what npy accepted: %s", where, f.msg);
}

/* npy_encode of x, back through npy_predict: the same bits. */
static void
round_trip(const mlp_spec *s, const float *x, size_t n)
{
	size_t w = s->sizes[0], len, n2 = 0;
	char *bytes = npy_encode(x, n, w, 0, &len);
	float *x2 = NULL;
	int single = -1;
	apierr e;

	FUZZ_ASSERT(bytes != NULL, "npy_encode failed");
	fuzz_err_reset(&e);
	FUZZ_ASSERT(npy_predict(bytes, len, s, &lim, &x2, &n2, &single,
	    &e) == 0, "npy_encode's bytes refused: %s", e.msg);
	FUZZ_ASSERT(n2 == n && single == 0 && memcmp(x, x2, n * w *
	    sizeof(float)) == 0, "round trip changed %zu rows", n);
	free(bytes);
	free(x2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t small[] = { 3, 5, 2 }, one[] = { 1, 1 },
	    wide[] = { 65536, 2 };

	if (specs[0].n_layers == 0) {
		fuzz_spec(&specs[0], 2, small);
		fuzz_spec(&specs[1], 1, one);
		fuzz_spec(&specs[2], 1, wide);
		fuzz_limits(&lim);
	}
	for (size_t k = 0; k < 3; k++) {
		const mlp_spec *s = &specs[k];

		for (int npz = 0; npz < 2; npz++) {
			float *x = (float *)1, *y = (float *)1;
			size_t n = 0;
			apierr e;

			fuzz_err_reset(&e);
			if (npy_batch(data, size, npz, s, &lim, &x, &y, &n,
			    &e) < 0) {
				fuzz_check_err(&e, "npy_batch");
				FUZZ_ASSERT(x == NULL && y == NULL, "failed "
				    "but left blocks");
				continue;
			}
			check_rows(s, x, y, n, npz ? "npz" : "npy");
			free(x);
			free(y);
		}
		{
			float *x = (float *)1;
			size_t n = 0;
			int single = -1;
			apierr e;

			fuzz_err_reset(&e);
			if (npy_predict(data, size, s, &lim, &x, &n, &single,
			    &e) < 0) {
				fuzz_check_err(&e, "npy_predict");
				FUZZ_ASSERT(x == NULL, "failed but left a "
				    "block");
				continue;
			}
			FUZZ_ASSERT(single == 0 || (single == 1 && n == 1),
			    "single %d with %zu rows", single, n);
			check_rows(s, x, NULL, n, "predict");
			round_trip(s, x, n);
			free(x);
		}
	}
	return 0;
}
