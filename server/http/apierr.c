/*
 * apierr: filling request errors (see apierr.h).
 */
#include "apierr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
apierr_set(apierr *e, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->status = status;
	e->code = code;
	e->retry_after = 0;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* Fills e with status, code and f's message, and Retry-After seconds. */
static int
from_fault(apierr *e, int status, const char *code, int retry_after,
	   const fault *f)
{
	apierr_set(e, status, code, "%s", f->msg);
	e->retry_after = retry_after;
	return -1;
}

int
apierr_from_fault(apierr *e, const fault *f)
{
	switch (f->code) {
	case FAULT_INVALID:
		return from_fault(e, 422, "invalid_value", 0, f);
	case FAULT_NONFINITE:
		return from_fault(e, 422, "non_finite", 0, f);
	case FAULT_NOMEM:
		return from_fault(e, 503, "out_of_memory", 5, f);
	case FAULT_DIVERGED:
		return from_fault(e, 422, "diverged", 0, f);
	case FAULT_FULL:
		return from_fault(e, 507, "insufficient_storage", 0, f);
	case FAULT_LIMIT:
		return from_fault(e, 422, "limit_exceeded", 0, f);
	case FAULT_NO_MODEL:
		return from_fault(e, 404, "model_not_found", 0, f);
	case FAULT_NO_JOB:
		return from_fault(e, 404, "job_not_found", 0, f);
	case FAULT_BUSY:
		return from_fault(e, 409, "model_busy", 0, f);
	case FAULT_NO_DATA:
		return from_fault(e, 409, "no_training_data", 0, f);
	case FAULT_FINISHED:
		return from_fault(e, 409, "job_finished", 0, f);
	case FAULT_QUEUE_FULL:
		return from_fault(e, 503, "queue_full", 1, f);
	case FAULT_CLOSED:
		return from_fault(e, 503, "shutting_down", 5, f);
	case FAULT_UNAVAILABLE:
		return from_fault(e, 503, "database_unavailable", 2, f);
	case FAULT_FENCED:
		return from_fault(e, 409, "lease_lost", 0, f);
	default:
		return apierr_set(e, 500, "internal_error", "%s",
		    f->msg[0] ? f->msg : "internal error");
	}
}
