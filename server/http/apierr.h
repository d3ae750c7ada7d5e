/*
 * apierr: the error a request ends with, ready to become a JSON body.
 *
 * Every layer of the daemon that can reject a request fills one of these:
 * an HTTP status, a stable snake_case code and a sentence that names the
 * field or row at fault. http turns it into
 *   {"error": {"code": ..., "message": ...}}.
 */
#ifndef MLPD_APIERR_H
#define MLPD_APIERR_H

#include "fault.h"

typedef struct apierr {
	int status;       /* HTTP status, 4xx or 5xx */
	const char *code; /* static snake_case string */
	char msg[FAULT_MSG_MAX + 64];
	int retry_after;  /* seconds for a Retry-After header, 0 for none */
} apierr;

/* Fills e and returns -1, so handlers can `return apierr_set(...)`. */
int apierr_set(apierr *e, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Maps a core/store fault to a status and code (invalid -> 422
 * invalid_value, nonfinite -> 422 non_finite, nomem -> 503, full -> 507
 * insufficient_storage, limit -> 422 limit_exceeded, anything else -> 500
 * internal_error) and copies
 * its message; returns -1. */
int apierr_from_fault(apierr *e, const fault *f);

#endif
