/*
 * fault: filling the caller-owned error value (see fault.h).
 */
#include "fault.h"

#include <stdarg.h>
#include <stdio.h>

int
fault_set(fault *f, fault_code code, const char *fmt, ...)
{
	va_list ap;

	if (f == NULL)
		return -1;
	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
	return -1;
}

void
fault_clear(fault *f)
{
	if (f == NULL)
		return;
	f->code = FAULT_NONE;
	f->msg[0] = '\0';
}

const char *
fault_code_name(fault_code code)
{
	switch (code) {
	case FAULT_NONE:
		return "none";
	case FAULT_INVALID:
		return "invalid";
	case FAULT_NONFINITE:
		return "nonfinite";
	case FAULT_NOMEM:
		return "no_memory";
	case FAULT_CORRUPT:
		return "corrupt";
	case FAULT_DIVERGED:
		return "diverged";
	case FAULT_FULL:
		return "storage_full";
	case FAULT_LIMIT:
		return "limit";
	case FAULT_INTERNAL:
		return "internal";
	case FAULT_NO_MODEL:
		return "no_model";
	case FAULT_NO_JOB:
		return "no_job";
	case FAULT_BUSY:
		return "busy";
	case FAULT_NO_DATA:
		return "no_data";
	case FAULT_FINISHED:
		return "finished";
	case FAULT_QUEUE_FULL:
		return "queue_full";
	case FAULT_CLOSED:
		return "closed";
	case FAULT_UNAVAILABLE:
		return "unavailable";
	case FAULT_FENCED:
		return "fenced";
	}
	return "internal";
}
