/*
 * schedule: learning-rate schedules and the early-stopping tracker of a
 * train job, as pure functions of the job's own step count.
 *
 * A schedule is plain data (the API decodes it, the job carries it): the
 * rate of a job's step k (1-based: the k-th update the job applies) is
 * schedule_rate(s, base, total, k). Nothing is kept between steps, so a job
 * that knows how many steps it has run knows its rate, whichever thread,
 * slice or run takes it up.
 *
 * The tracker (schedule_stop) follows a monitored series (validation loss,
 * or the mean training loss between evaluations) and says when it has
 * improved and when it has stopped improving for long enough; its state
 * is three numbers the job can store with its progress.
 */
#ifndef MLPD_SCHEDULE_H
#define MLPD_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

typedef enum schedule_kind {
	SCHEDULE_CONSTANT = 0, /* base throughout */
	SCHEDULE_STEP,         /* base * factor^floor(j / every) */
	SCHEDULE_COSINE,       /* min_lr + (base - min_lr)(1 + cos(pi j / T))/2 */
	SCHEDULE_COUNT_
} schedule_kind;

/* A schedule; all zero is constant without warm-up. j counts the steps
 * after the warm-up (0 for the first of them), T the steps after it. */
typedef struct schedule {
	schedule_kind kind;
	int64_t every;        /* SCHEDULE_STEP: steps between decays, >= 1 */
	double factor;        /* SCHEDULE_STEP: multiplier per decay, (0, 1] */
	double min_lr;        /* SCHEDULE_COSINE: the floor, [0, base] */
	int64_t warmup_steps; /* linear warm-up first: step k <= warmup_steps
	                         runs at base * k / warmup_steps; 0: none */
} schedule;

/* "constant", "step", "cosine"; NULL for a bad kind. */
const char *schedule_name(schedule_kind k);
/* 0 and *k for a known name, -1 otherwise. */
int schedule_from_name(const char *name, schedule_kind *k);

/* Checks the fields that do not depend on the job: 0, or -1 with a
 * sentence in why (size len). */
int schedule_check(const schedule *s, char *why, size_t len);

/* Checks s for a job of total steps at base rate base (> 0): the floor
 * not above base, the warm-up shorter than the job. 0 or -1 and why. */
int schedule_check_job(const schedule *s, double base, int64_t total, char *why,
		    size_t len);

/* The rate of the job's step k (1-based) out of total, base > 0. Steps
 * past total keep the rate of the last. */
double schedule_rate(const schedule *s, double base, int64_t total, int64_t k);

/* Early stopping: options (patience 0 means off) and state. */
typedef struct schedule_stop_opts {
	int64_t patience;  /* evaluations without improvement before the job
	                      stops, >= 1; 0: never stop early */
	double min_delta;  /* an improvement is a value below best - min_delta
	                      (>= 0) */
} schedule_stop_opts;

typedef struct schedule_stop {
	int64_t best_step;  /* the step of the lowest value; 0: none yet */
	double best;        /* the lowest value seen */
	double mark;        /* the value of the last improvement by more than
	                       min_delta, which patience counts from */
	int64_t waited;     /* evaluations since that improvement */
} schedule_stop;

/* The tracker's start: no best yet. */
void schedule_stop_init(schedule_stop *st);

typedef enum schedule_verdict {
	SCHEDULE_WORSE = 0,    /* no new lowest value, go on */
	SCHEDULE_BETTER,       /* a new lowest value (at step): keep it */
	SCHEDULE_STOP          /* no improvement by more than min_delta for
	                          patience evaluations */
} schedule_verdict;

/* Takes the value v measured at step (a non-finite v never improves).
 * The first finite value is always a new best. The best is the lowest
 * value, whatever min_delta; patience counts the evaluations since the
 * last value below mark - min_delta (a new best that improves less than
 * that restarts no count), as Keras' EarlyStopping does. */
schedule_verdict schedule_stop_update(schedule_stop *st, const schedule_stop_opts *o,
				int64_t step, double v);

#endif
