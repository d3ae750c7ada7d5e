/*
 * fuzz: what every libFuzzer target in tests/fuzz shares.
 *
 * A target feeds its input to one decoder and checks the decoder's
 * promises: it either succeeds with outputs of consistent sizes (read in
 * full, so AddressSanitizer sees any short block) or fails with a client
 * error (400, 413, 415 or 422) that has a code and a message, and leaves
 * nothing allocated (LeakSanitizer). A broken promise aborts, which
 * libFuzzer reports as a crash with the input that caused it.
 */
#ifndef MLPD_FUZZ_H
#define MLPD_FUZZ_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apierr.h"
#include "codec.h"
#include "config.h"
#include "mlp.h"

/* The longest input run.sh lets libFuzzer make (-max_len). */
#define FUZZ_MAX_LEN 16384

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message when cond is false. */
#define FUZZ_ASSERT(cond, ...)                                          \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "%s:%d: invariant '%s' broken: ", \
			    __FILE__, __LINE__, #cond);                 \
			fprintf(stderr, __VA_ARGS__);                   \
			fputc('\n', stderr);                            \
			abort();                                        \
		}                                                       \
	} while (0)

/* An apierr as a failed decoder must leave it: a 4xx a client can act on,
 * a code and a message. */
static inline void
fuzz_check_err(const apierr *e, const char *where)
{
	FUZZ_ASSERT(e->status == 400 || e->status == 413 ||
	    e->status == 415 || e->status == 422,
	    "%s failed with status %d (%s: %s)", where, e->status,
	    e->code ? e->code : "(no code)", e->msg);
	FUZZ_ASSERT(e->code != NULL && e->code[0] != '\0',
	    "%s failed without a code", where);
	FUZZ_ASSERT(e->msg[0] != '\0' &&
	    memchr(e->msg, '\0', sizeof e->msg) != NULL,
	    "%s failed without a message (%s)", where, e->code);
}

/* A poisoned apierr, so a decoder that fails without filling it shows. */
static inline void
fuzz_err_reset(apierr *e)
{
	memset(e, 0, sizeof *e);
	e->status = -1;
}

/* Reads every value of an n x width block and checks it is finite: a
 * block shorter than the decoder claims is an ASan report here. */
static inline void
fuzz_check_finite(const float *v, size_t n, size_t width, const char *what)
{
	FUZZ_ASSERT(n == 0 || v != NULL, "%s: %zu rows but no block", what,
	    n);
	for (size_t i = 0; i < n * width; i++)
		FUZZ_ASSERT(isfinite(v[i]), "%s[%zu][%zu] is %g", what,
		    i / width, i % width, (double)v[i]);
}

/* A valid spec with the given sizes (n_layers + 1 of them), sigmoid
 * everywhere, mse and sgd; aborts if mlp_spec_validate disagrees. */
static inline void
fuzz_spec(mlp_spec *s, uint32_t n_layers, const uint32_t *sizes)
{
	fault f;

	mlp_spec_default(s);
	s->n_layers = n_layers;
	for (uint32_t l = 0; l <= n_layers; l++)
		s->sizes[l] = sizes[l];
	FUZZ_ASSERT(mlp_spec_validate(s, &f) == 0, "fixed spec: %s", f.msg);
}

/* The limits a daemon with the default flags hands the decoders (as
 * daemon.c copies them from its config). */
static inline void
fuzz_limits(codec_limits *lim)
{
	config c;

	config_default(&c);
	lim->max_layer_width = c.lim.max_layer_width;
	lim->max_params = c.lim.max_params;
	lim->max_batch_rows = c.lim.max_batch_rows;
	lim->max_batch_values = c.lim.max_batch_values;
}

/* jansson's memory cap as the daemon sets it, 24 times the body cap, for
 * bodies of at most FUZZ_MAX_LEN bytes: the fuzzer can reach it, so the
 * 413 path and jansson's cleanup after a refused allocation are tried. */
static inline void
fuzz_json_cap(void)
{
	codec_json_cap(24 * (size_t)FUZZ_MAX_LEN);
}

#endif
