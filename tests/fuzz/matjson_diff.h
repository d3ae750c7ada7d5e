/*
 * matjson_diff: the streaming decoder (matjson) against codec's tree
 * decoder on one body, for fuzz_batch_json and check_codec.
 *
 * Both must give the same answer: the same status and code when they
 * refuse the body, the same row count and bit-identical floats when they
 * decode it. The one allowed difference is the tree's own memory cap
 * (413 body_too_large, or a predict body refused while parsed), which the
 * streaming decoder does not need.
 */
#ifndef MLPD_MATJSON_DIFF_H
#define MLPD_MATJSON_DIFF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "matjson.h"

/* The tree's answer was its memory cap, not the body's content. */
static int
matjson_diff_capped(const apierr *e)
{
	return e->status == 413 || strncmp(e->msg, "decoding this JSON",
	    18) == 0;
}

static int
matjson_diff_blocks(const float *a, const float *b, size_t n, size_t w)
{
	return n * w == 0 || memcmp(a, b, n * w * sizeof(float)) == 0;
}

/* 0 when matjson and the tree agree on body for s (why untouched), -1
 * with why filled when they do not. */
static int
matjson_diff(const char *body, size_t len, const mlp_spec *s,
	     const codec_limits *lim, char *why, size_t whylen)
{
	float *x1 = NULL, *y1 = NULL, *x2 = NULL, *y2 = NULL;
	size_t n1 = 0, n2 = 0, w = s->sizes[0], wy = s->sizes[s->n_layers];
	int rc1, rc2, single1 = -1, single2 = -1, bad = 0;
	apierr e1, e2;
	json_t *doc;

	memset(&e1, 0, sizeof e1);
	memset(&e2, 0, sizeof e2);
	rc1 = matjson_batch(body, len, s, lim, &x1, &y1, &n1, &e1);
	doc = codec_parse_object(body, len, 0, &e2);
	rc2 = doc ? codec_batch(doc, s, lim, &x2, &y2, &n2, NULL, &e2) : -1;
	json_decref(doc);
	if (rc2 < 0 && matjson_diff_capped(&e2))
		;
	else if (rc1 != rc2 || (rc1 < 0 && (e1.status != e2.status ||
	    strcmp(e1.code, e2.code) != 0)) || (rc1 == 0 && (n1 != n2 ||
	    !matjson_diff_blocks(x1, x2, n1, w) ||
	    !matjson_diff_blocks(y1, y2, n1, wy)))) {
		snprintf(why, whylen, "batch: stream %d %d %s (%s), tree %d "
		    "%d %s (%s), rows %zu / %zu", rc1, e1.status,
		    rc1 < 0 ? e1.code : "-", rc1 < 0 ? e1.msg : "", rc2,
		    e2.status, rc2 < 0 ? e2.code : "-", rc2 < 0 ? e2.msg : "",
		    n1, n2);
		bad = 1;
	}
	free(x1);
	free(y1);
	free(x2);
	free(y2);
	if (bad)
		return -1;
	x1 = x2 = NULL;
	n1 = n2 = 0;
	memset(&e1, 0, sizeof e1);
	memset(&e2, 0, sizeof e2);
	rc1 = matjson_predict(body, len, s, lim, &x1, &n1, &single1, &e1);
	codec_json_cap_rows(s, lim);
	doc = codec_parse_object(body, len, 0, &e2);
	rc2 = doc ? codec_predict_request(doc, s, lim, &x2, &n2, &single2,
	    &e2) : -1;
	json_decref(doc);
	if (rc2 < 0 && matjson_diff_capped(&e2))
		;
	else if (rc1 != rc2 || (rc1 < 0 && (e1.status != e2.status ||
	    strcmp(e1.code, e2.code) != 0)) || (rc1 == 0 && (n1 != n2 ||
	    single1 != single2 || !matjson_diff_blocks(x1, x2, n1, w)))) {
		snprintf(why, whylen, "predict: stream %d %d %s (%s), tree %d "
		    "%d %s (%s), rows %zu / %zu", rc1, e1.status,
		    rc1 < 0 ? e1.code : "-", rc1 < 0 ? e1.msg : "", rc2,
		    e2.status, rc2 < 0 ? e2.code : "-", rc2 < 0 ? e2.msg : "",
		    n1, n2);
		bad = 1;
	}
	free(x1);
	free(x2);
	return bad ? -1 : 0;
}

#endif
