/*
 * lr_trace: the learning rate in force at each step of a model's history,
 * from its job records (see lr_trace.h). The table is built per request
 * from the store and used by one thread: no locks.
 */
#include "lr_trace.h"

#include <float.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

struct lr_trace {
	float model_lr;     /* the rate of steps no job trained */
	lr_trace_job *jobs; /* oldest first */
	size_t n, cap;
};

lr_trace *
lr_trace_create(float model_lr)
{
	lr_trace *t = calloc(1, sizeof *t);

	if (t != NULL)
		t->model_lr = model_lr;
	return t;
}

void
lr_trace_destroy(lr_trace *t)
{
	if (t == NULL)
		return;
	free(t->jobs);
	free(t);
}

int
lr_trace_add(lr_trace *t, const lr_trace_job *j, fault *f)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		lr_trace_job *p = cap > SIZE_MAX / sizeof *p ? NULL :
		    realloc(t->jobs, cap * sizeof *p);

		if (p == NULL)
			return fault_set(f, FAULT_NOMEM, "out of memory for "
			    "the learning-rate trace");
		t->jobs = p;
		t->cap = cap;
	}
	t->jobs[t->n++] = *j;
	return 0;
}

/* The rate the trainer applies at job step k of j (trainer_loop's
 * step_rate): the schedule's, as a float, never 0. */
static float
job_rate(const lr_trace_job *j, int64_t k)
{
	float r = (float)schedule_rate(&j->sched, j->base, j->total, k);

	return r > 0.0f ? r : FLT_TRUE_MIN;
}

double
lr_trace_rate(const lr_trace *t, uint64_t step, int64_t time_ms)
{
	for (size_t i = t->n; i-- > 0;) {
		const lr_trace_job *j = &t->jobs[i];
		int64_t k = (int64_t)step - j->start_step;

		if (k > j->first && k <= j->done && time_ms >= j->started_ms &&
		    (j->finished_ms == 0 || time_ms <= j->finished_ms))
			return codec_shortest(job_rate(j, k));
	}
	return codec_shortest(t->model_lr);
}

/* A job row as store_jobs_each hands it: what the loader keeps of every
 * row (to find the checkpoint a resumed job starts at). */
typedef struct seen_job {
	char id[STORE_ID_MAX];
	int64_t ckpt_steps;
} seen_job;

typedef struct load_ctx {
	lr_trace *t;
	seen_job *seen;
	size_t nseen, capseen;
	fault *f;
} load_ctx;

/* The checkpoint step count of the job id loaded before; 0 when none. */
static int64_t
seen_ckpt(const load_ctx *c, const char *id)
{
	for (size_t i = c->nseen; i-- > 0;)
		if (strcmp(c->seen[i].id, id) == 0)
			return c->seen[i].ckpt_steps;
	return 0;
}

/* The schedule in a stored options document (codec_train_opts_text's
 * "schedule"; absent: constant). Stored options were checked when the
 * job was made; a field that does not read leaves the default. */
static void
options_schedule(json_t *v, schedule *s)
{
	json_t *k;

	memset(s, 0, sizeof *s);
	if (!json_is_object(v))
		return;
	if ((k = json_object_get(v, "type")) != NULL && json_is_string(k) &&
	    schedule_from_name(json_string_value(k), &s->kind) < 0)
		s->kind = SCHEDULE_CONSTANT;
	if ((k = json_object_get(v, "every")) != NULL && json_is_integer(k))
		s->every = json_integer_value(k);
	if ((k = json_object_get(v, "factor")) != NULL && json_is_number(k))
		s->factor = json_number_value(k);
	if ((k = json_object_get(v, "min_lr")) != NULL && json_is_number(k))
		s->min_lr = json_number_value(k);
	if ((k = json_object_get(v, "warmup_steps")) != NULL &&
	    json_is_integer(k))
		s->warmup_steps = json_integer_value(k);
	if (s->kind == SCHEDULE_STEP && (s->every < 1 || !(s->factor > 0.0)))
		memset(s, 0, sizeof *s);
}

/* store_jobs_each's callback: one job row into the trace. */
static int
load_job(void *arg, const store_job *r)
{
	load_ctx *c = arg;
	lr_trace_job j;
	json_t *doc, *v;

	if (c->nseen == c->capseen) {
		size_t cap = c->capseen ? 2 * c->capseen : 16;
		seen_job *p = cap > SIZE_MAX / sizeof *p ? NULL :
		    realloc(c->seen, cap * sizeof *p);

		if (p == NULL)
			return fault_set(c->f, FAULT_NOMEM, "out of memory for "
			    "the learning-rate trace");
		c->seen = p;
		c->capseen = cap;
	}
	memcpy(c->seen[c->nseen].id, r->id, sizeof r->id);
	c->seen[c->nseen++].ckpt_steps = r->ckpt_steps;
	if (r->started_ms == 0 || r->steps_done <= 0)
		return 0;
	memset(&j, 0, sizeof j);
	j.start_step = r->start_step;
	j.done = r->steps_done;
	j.total = r->steps_total;
	j.base = c->t->model_lr;
	j.started_ms = r->started_ms;
	j.finished_ms = r->finished_ms;
	if ((doc = json_loads(r->options, 0, NULL)) != NULL) {
		v = json_object_get(doc, "learning_rate");
		if (json_is_number(v) && json_number_value(v) > 0.0)
			j.base = (float)json_number_value(v);
		options_schedule(json_object_get(doc, "schedule"), &j.sched);
		v = json_object_get(doc, "resume");
		if (json_is_string(v))
			j.first = seen_ckpt(c, json_string_value(v));
		json_decref(doc);
	}
	return lr_trace_add(c->t, &j, c->f) < 0 ? -1 : 0;
}

lr_trace *
lr_trace_load(store *st, const char *model_id, float model_lr, fault *f)
{
	load_ctx c;

	memset(&c, 0, sizeof c);
	c.f = f;
	if ((c.t = lr_trace_create(model_lr)) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory for the "
		    "learning-rate trace");
		return NULL;
	}
	if (store_jobs_each(st, model_id, load_job, &c, f) != 0) {
		lr_trace_destroy(c.t);
		c.t = NULL;
	}
	free(c.seen);
	return c.t;
}
