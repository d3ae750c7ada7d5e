/*
 * schedule: learning-rate schedules and the early-stopping tracker (see
 * schedule.h). Pure arithmetic in double; the caller rounds the rate to the
 * float the core's update takes.
 */
#include "schedule.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* pi, which -std=c11 leaves out of math.h */
#define SCHEDULE_PI 3.14159265358979323846

static const char *const names[SCHEDULE_COUNT_] = {
	[SCHEDULE_CONSTANT] = "constant",
	[SCHEDULE_STEP] = "step",
	[SCHEDULE_COSINE] = "cosine",
};

const char *
schedule_name(schedule_kind k)
{
	return (unsigned)k < SCHEDULE_COUNT_ ? names[k] : NULL;
}

int
schedule_from_name(const char *name, schedule_kind *k)
{
	for (int i = 0; i < SCHEDULE_COUNT_; i++) {
		if (strcmp(name, names[i]) == 0) {
			*k = (schedule_kind)i;
			return 0;
		}
	}
	return -1;
}

int
schedule_check(const schedule *s, char *why, size_t len)
{
	if (schedule_name(s->kind) == NULL) {
		snprintf(why, len, "unknown schedule type");
		return -1;
	}
	if (s->warmup_steps < 0) {
		snprintf(why, len, "warmup_steps must be >= 0");
		return -1;
	}
	if (s->kind == SCHEDULE_STEP) {
		if (s->every < 1) {
			snprintf(why, len, "a step schedule needs every >= 1");
			return -1;
		}
		if (!(s->factor > 0.0 && s->factor <= 1.0)) {
			snprintf(why, len, "a step schedule needs a factor "
			    "> 0 and <= 1");
			return -1;
		}
	}
	if (s->kind == SCHEDULE_COSINE && !(s->min_lr >= 0.0 &&
	    isfinite(s->min_lr))) {
		snprintf(why, len, "min_lr must be a finite number >= 0");
		return -1;
	}
	return 0;
}

int
schedule_check_job(const schedule *s, double base, int64_t total, char *why,
		size_t len)
{
	if (schedule_check(s, why, len) < 0)
		return -1;
	if (s->kind == SCHEDULE_COSINE && s->min_lr > base) {
		snprintf(why, len, "min_lr %g is above the job's learning rate "
		    "%g", s->min_lr, base);
		return -1;
	}
	if (s->warmup_steps > 0 && s->warmup_steps >= total) {
		snprintf(why, len, "warmup_steps %lld is not shorter than the "
		    "job's %lld steps", (long long)s->warmup_steps,
		    (long long)total);
		return -1;
	}
	return 0;
}

double
schedule_rate(const schedule *s, double base, int64_t total, int64_t k)
{
	int64_t j, span;

	if (k < 1)
		k = 1;
	if (total >= 1 && k > total)
		k = total;
	if (k <= s->warmup_steps)
		return base * (double)k / (double)s->warmup_steps;
	j = k - 1 - s->warmup_steps;
	switch (s->kind) {
	case SCHEDULE_STEP:
		return base * pow(s->factor, (double)(j / s->every));
	case SCHEDULE_COSINE:
		span = total - s->warmup_steps;
		if (span < 1)
			return base;
		return s->min_lr + (base - s->min_lr) *
		    (1.0 + cos(SCHEDULE_PI * (double)j / (double)span)) / 2.0;
	case SCHEDULE_CONSTANT:
	default:
		return base;
	}
}

void
schedule_stop_init(schedule_stop *st)
{
	st->best_step = 0;
	st->best = INFINITY;
	st->mark = INFINITY;
	st->waited = 0;
}

schedule_verdict
schedule_stop_update(schedule_stop *st, const schedule_stop_opts *o,
		     int64_t step, double v)
{
	int better = isfinite(v) && (st->best_step == 0 || v < st->best);

	if (better) {
		st->best_step = step;
		st->best = v;
	}
	if (isfinite(v) && (!isfinite(st->mark) || v < st->mark -
	    o->min_delta)) {
		st->mark = v;
		st->waited = 0;
	} else if (o->patience > 0 && ++st->waited >= o->patience) {
		return SCHEDULE_STOP;
	}
	return better ? SCHEDULE_BETTER : SCHEDULE_WORSE;
}
