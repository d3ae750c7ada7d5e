/*
 * fault: the error value every mlpd function fills when it fails.
 *
 * A fault is caller-owned (usually on the stack): a code that tells the
 * caller what kind of failure it was (a server maps it to an HTTP status)
 * and a one-sentence message meant to be handed to a client as it is.
 * The core uses the codes up to FAULT_INTERNAL; the last group is for the
 * daemon's engine (the trainer), whose API layer maps every code to a
 * status in one place (server/http/apierr.c, apierr_from_fault).
 */
#ifndef MLPD_FAULT_H
#define MLPD_FAULT_H

#include <stddef.h>

typedef enum fault_code {
	FAULT_NONE = 0,
	FAULT_INVALID,   /* an argument is out of range or shapes disagree */
	FAULT_NONFINITE, /* an input or target holds NaN or Inf */
	FAULT_NOMEM,     /* an allocation failed or a size would overflow */
	FAULT_CORRUPT,   /* a stored blob is damaged, truncated or foreign */
	FAULT_DIVERGED,  /* training produced a non-finite loss */
	FAULT_FULL,      /* storage is full: the disk, or a size limit */
	FAULT_LIMIT,     /* a configured limit would be passed */
	FAULT_INTERNAL,  /* anything else: a bug or an I/O failure */
	/* the daemon's engine: the state of a model, a job or the server */
	FAULT_NO_MODEL,  /* no such model, or it was deleted meanwhile */
	FAULT_NO_JOB,    /* no such job */
	FAULT_BUSY,      /* the model has a train job queued or running, or
	                    its training data is being deleted */
	FAULT_NO_DATA,   /* the model has no training data to train on */
	FAULT_FINISHED,  /* the job has already ended */
	FAULT_QUEUE_FULL, /* the job queue is full: try again later */
	FAULT_CLOSED,    /* the server is shutting down */
	FAULT_UNAVAILABLE, /* the database server cannot be reached for now
	                    (PostgreSQL restarting, a network failure):
	                    try again later */
	FAULT_FENCED     /* a write carried a lease epoch that is no longer
	                    the model's (another node took the model over):
	                    it changed nothing, and the work that made it
	                    stops (server/engine/lease.h) */
} fault_code;

#define FAULT_MSG_MAX 256

typedef struct fault {
	fault_code code;
	char msg[FAULT_MSG_MAX];
} fault;

/* Sets f (which may be NULL) to code and a printf-style message; returns -1
 * so that callers can write `return fault_set(f, ...);`. */
int fault_set(fault *f, fault_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Resets f (which may be NULL) to FAULT_NONE with an empty message. */
void fault_clear(fault *f);

/* A stable snake_case name for code, e.g. "invalid" or "nonfinite". */
const char *fault_code_name(fault_code code);

#endif
