/*
 * bench_decode: the batch decoders in process, on bodies bench_ingest.sh
 * prepared, next to the old path in the same run: jansson's tree
 * (codec_parse_object + codec_batch, what a JSON batch went through
 * before matjson) against matjson's streaming decoder on the same JSON
 * body, and the CSV and .npy decoders. No HTTP, no store: the ratio says
 * what the decoders alone gained; bench_ingest.sh's HTTP figures say what
 * a client sees.
 *
 *   bench_decode ROWS_WIDTH_IN ROWS_WIDTH_OUT JSON_FILE [CSV_FILE [NPY_FILE]]
 *
 * For each decoder: the best of RUNS runs, as MB/s of body and rows/s;
 * then new/old for JSON. It prints figures; it never fails on them.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "csv.h"
#include "matjson.h"
#include "npy.h"

#define RUNS 5

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file at path, NUL-terminated, or NULL. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n + 1)) != NULL) {
		if (fread(b, 1, (size_t)n, f) != (size_t)n) {
			free(b);
			b = NULL;
		} else {
			b[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return b;
}

enum dec { D_TREE, D_MATJSON, D_CSV, D_NPY };

static const char *const dec_name[] = {
	"json (jansson tree, the old path)", "json (matjson, streaming)",
	"csv", "npy",
};

/* One decode of body by d: 0 with *rows, or -1. */
static int
decode(enum dec d, const char *body, size_t len, const mlp_spec *s,
       const codec_limits *lim, size_t *rows)
{
	float *x = NULL, *y = NULL;
	apierr e;
	int r = -1;

	memset(&e, 0, sizeof e);
	switch (d) {
	case D_TREE: {
		json_t *obj = codec_parse_object(body, len, 0, &e);

		if (obj != NULL) {
			r = codec_batch(obj, s, lim, &x, &y, rows, NULL, &e);
			json_decref(obj);
		}
		break;
	}
	case D_MATJSON:
		r = matjson_batch(body, len, s, lim, &x, &y, rows, &e);
		break;
	case D_CSV:
		r = csv_count(body, len, rows, &e) < 0 ? -1 :
		    csv_decode(body, len, s->sizes[0], s->sizes[s->n_layers],
		    &x, &y, rows, &e);
		break;
	case D_NPY:
		r = npy_batch(body, len, 0, s, lim, &x, &y, rows, &e);
		break;
	}
	if (r < 0)
		fprintf(stderr, "bench_decode: %s: %d %s: %s\n", dec_name[d],
		    e.status, e.code, e.msg);
	free(x);
	free(y);
	return r;
}

/* Best-of-RUNS MB/s of d on the file at path (0 when it cannot run). */
static double
bench(enum dec d, const char *path, const mlp_spec *s,
      const codec_limits *lim)
{
	size_t len = 0, rows = 0;
	char *body = slurp(path, &len);
	double best = 1e30;

	if (body == NULL) {
		fprintf(stderr, "bench_decode: cannot read %s\n", path);
		return 0;
	}
	for (int i = 0; i < RUNS; i++) {
		double t = now_s();

		if (decode(d, body, len, s, lim, &rows) < 0) {
			free(body);
			return 0;
		}
		t = now_s() - t;
		if (t < best)
			best = t;
	}
	printf("  decode  %-34s %8.1f MB/s %10.0f rows/s  (%zu rows, "
	    "%.1f MB, best of %d: %.1f ms)\n", dec_name[d], len / best / 1e6,
	    rows / best, rows, len / 1e6, RUNS, best * 1e3);
	free(body);
	return len / best / 1e6;
}

int
main(int argc, char **argv)
{
	mlp_spec s;
	codec_limits lim = { 65536, 16777216, 100000, 16777216 };
	double old, now;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_decode NIN NOUT JSON_FILE "
		    "[CSV_FILE [NPY_FILE]]\n");
		return 2;
	}
	memset(&s, 0, sizeof s);
	s.n_layers = 1;
	s.sizes[0] = (uint32_t)strtoul(argv[1], NULL, 10);
	s.sizes[1] = (uint32_t)strtoul(argv[2], NULL, 10);
	old = bench(D_TREE, argv[3], &s, &lim);
	now = bench(D_MATJSON, argv[3], &s, &lim);
	if (old > 0 && now > 0)
		printf("  decode  json matjson/tree %.2fx\n", now / old);
	if (argc > 4)
		bench(D_CSV, argv[4], &s, &lim);
	if (argc > 5)
		bench(D_NPY, argv[5], &s, &lim);
	return 0;
}
