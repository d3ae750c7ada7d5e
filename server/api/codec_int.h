/*
 * codec_int: the field checks codec.c, codec_train.c and codec_versions.c
 * share. Private to those files; handlers use codec.h.
 */
#ifndef MLPD_CODEC_INT_H
#define MLPD_CODEC_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "apierr.h"

/* A JSON number as a finite double, or an error naming field. */
int codec_number(json_t *v, const char *field, double *out, apierr *e);

/* An integer field in [lo, hi]. */
int codec_integer(json_t *v, const char *field, int64_t lo, int64_t hi,
		  int64_t *out, apierr *e);

/* A learning rate: finite, > 0, <= 1e6. */
int codec_learning_rate(json_t *v, double *out, apierr *e);

/* Checks a name field v (NULL: absent) of at most max bytes. */
int codec_name_field(json_t *v, size_t max, apierr *e);

#endif
