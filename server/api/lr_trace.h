/*
 * lr_trace: the learning rate each step of a model's loss history was
 * trained with, derived from the model's job records (no history format
 * of its own, so any store backend serves it).
 *
 * A job's rate is a pure function of its own step count (core/schedule.h:
 * schedule_rate from its options' schedule and base rate, over its
 * steps_total), so a model step k that job J trained ran at J's rate of
 * job step k - J's start step. Which job trained step k: the newest job
 * that covered it, by step (after its first own step and up to steps_done;
 * a resumed job's own steps begin at the checkpoint of the job it
 * continues) and by time (the point was made while the job ran, started
 * <= time <= finished). A restore or PUT weights trims the history and a
 * later job trains those steps again: the newest covering job is then the
 * one whose points the history holds, and the time tells apart the steps
 * of a synchronous /step taken after a restore over steps an older job
 * once covered. A step no job trained is a /step's, at the model's own
 * rate (a /step's own "learning_rate" is not recorded, so the trace shows
 * the model's rate there too).
 *
 * Rates are what the trainer applies: the schedule's rate rounded to a
 * float (the smallest positive float when it is 0), handed out as the
 * shortest decimal that rounds to that float.
 */
#ifndef MLPD_LR_TRACE_H
#define MLPD_LR_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "schedule.h"
#include "store.h"

typedef struct lr_trace lr_trace;

/* What the trace keeps of one job. */
typedef struct lr_trace_job {
	int64_t start_step;  /* the model's step before its job step 1 */
	int64_t first;       /* job steps it did not run itself: a resumed
	                        job starts after the checkpoint of the job
	                        it continues; 0 otherwise */
	int64_t done;        /* its steps_done */
	int64_t total;       /* its steps_total (the schedule's T) */
	double base;         /* its base rate (> 0), as the trainer holds
	                        it (rounded to a float) */
	schedule sched;
	int64_t started_ms;  /* when it began running */
	int64_t finished_ms; /* when it ended; 0: it still runs */
} lr_trace_job;

/* An empty trace for a model whose own learning rate is model_lr; NULL
 * when out of memory. */
lr_trace *lr_trace_create(float model_lr);

/* Frees t; NULL is a no-op. */
void lr_trace_destroy(lr_trace *t);

/* Adds a job; jobs are added oldest first (a later one is newer). 0, or
 * -1 with FAULT_NOMEM. */
int lr_trace_add(lr_trace *t, const lr_trace_job *j, fault *f);

/* The rate the model's step (>= 1) made at time_ms was trained with. */
double lr_trace_rate(const lr_trace *t, uint64_t step, int64_t time_ms);

/* The trace of a model from its job records in the store (jobs that
 * never ran are left out); NULL with f set on failure. Read it after the
 * history points it is to describe, so that no point is newer than the
 * job rows. */
lr_trace *lr_trace_load(store *st, const char *model_id, float model_lr,
			fault *f);

#endif
