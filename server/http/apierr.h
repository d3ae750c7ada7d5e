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

/* Maps a fault to a status, code and Retry-After, and copies its message;
 * returns -1. The one place where fault codes become statuses:
 *   invalid -> 422 invalid_value      nonfinite -> 422 non_finite
 *   nomem -> 503 out_of_memory (5 s)  diverged -> 422 diverged
 *   full -> 507 insufficient_storage  limit -> 422 limit_exceeded
 *   no_model -> 404 model_not_found   no_job -> 404 job_not_found
 *   busy -> 409 model_busy            no_data -> 409 no_training_data
 *   finished -> 409 job_finished      queue_full -> 503 queue_full (1 s)
 *   closed -> 503 shutting_down (5 s) anything else -> 500 internal_error */
int apierr_from_fault(apierr *e, const fault *f);

#endif
