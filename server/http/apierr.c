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

int
apierr_from_fault(apierr *e, const fault *f)
{
	switch (f->code) {
	case FAULT_INVALID:
		return apierr_set(e, 422, "invalid_value", "%s", f->msg);
	case FAULT_NONFINITE:
		return apierr_set(e, 422, "non_finite", "%s", f->msg);
	case FAULT_NOMEM:
		apierr_set(e, 503, "out_of_memory", "%s", f->msg);
		e->retry_after = 5;
		return -1;
	case FAULT_DIVERGED:
		return apierr_set(e, 422, "diverged", "%s", f->msg);
	case FAULT_FULL:
		return apierr_set(e, 507, "insufficient_storage", "%s",
		    f->msg);
	case FAULT_LIMIT:
		return apierr_set(e, 422, "limit_exceeded", "%s", f->msg);
	default:
		return apierr_set(e, 500, "internal_error", "%s",
		    f->msg[0] ? f->msg : "internal error");
	}
}
