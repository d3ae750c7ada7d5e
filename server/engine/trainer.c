/*
 * trainer: the scheduler: the task queue, the workers, the job list and
 * the calls that submit, cancel, list and forget jobs (see trainer.h for
 * the DESIGN, trainer_int.h for the locks; a job's loop is in
 * trainer_loop.c, steps and weights in trainer_sync.c, a job taken from
 * another node and the claimer's hooks in trainer_adopt.c).
 */
#include "trainer_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "ids.h"
#include "log.h"
#include "wallclock.h"

typedef struct worker_arg {
	trainer *t;
	unsigned slot;
} worker_arg;

/* True when a worker runs a task of m. */
static int
do_model_running(trainer *t, const model_entry *m)
{
	for (unsigned i = 0; i < t->started; i++)
		if (t->current[i] == m)
			return 1;
	return 0;
}

/* trainer_has_room's answer: a worker free and no task waiting. */
int
do_has_room(trainer *t)
{
	size_t busy = 0;

	for (unsigned i = 0; i < t->started; i++)
		if (t->current[i] != NULL)
			busy++;
	for (task *tk = t->head; tk; tk = tk->next)
		busy++;
	return !t->closed && busy < t->started;
}

/* A worker freed (or a waiting task left): calls the room hook when the
 * claimer found no room since its last call and there is room now
 * (trainer_on_room). */
static void
do_room_freed(trainer *t)
{
	if (t->on_room != NULL && t->room_wanted && do_has_room(t)) {
		t->room_wanted = 0;
		t->on_room(t->on_room_arg);
	}
}

/* Appends tk; a new task gets the next arrival number, a requeued slice
 * keeps its own, so do_take still runs its model's tasks in order. */
void
do_enqueue(trainer *t, task *tk)
{
	if (tk->seq == 0)
		tk->seq = ++t->next_seq;
	tk->next = NULL;
	if (t->tail)
		t->tail->next = tk;
	else
		t->head = tk;
	t->tail = tk;
	pthread_cond_signal(&t->work);
}

/* Unlinks tk from the queue (which must hold it). */
static void
do_unlink_task(trainer *t, task *tk)
{
	task **pp = &t->head, *prev = NULL;

	while (*pp && *pp != tk) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = tk->next;
	if (t->tail == tk)
		t->tail = prev;
	tk->next = NULL;
}

/* True when a queued task of tk's model arrived before tk. */
static int
do_has_elder(trainer *t, const task *tk)
{
	for (task *o = t->head; o; o = o->next)
		if (o != tk && o->model == tk->model && o->seq < tk->seq)
			return 1;
	return 0;
}

/* The first task in queue order whose model no worker is running and
 * which is its model's oldest, unlinked. Yielded slices go to the back of
 * the queue (fair to other models) yet keep their place in their model's
 * own order. */
static task *
do_take(trainer *t)
{
	for (task *tk = t->head; tk; tk = tk->next) {
		if (!do_model_running(t, tk->model) && !do_has_elder(t, tk)) {
			do_unlink_task(t, tk);
			return tk;
		}
	}
	return NULL;
}

int
do_others_waiting(trainer *t, const model_entry *m)
{
	for (task *tk = t->head; tk; tk = tk->next)
		if (tk->model != m && !do_model_running(t, tk->model))
			return 1;
	return 0;
}

/* Under trainer.mu, so that a check of the counts under trainer.mu (as
 * do_admit's) sees every job queued, reserved or running. */
void
do_count_jobs(model_entry *m, int dq, int dr)
{
	registry_add_jobs(m, dq, dr);
}

/* A copy of j for the API (see trainer_job_view). */
static void
do_view(const job *j, trainer_job_view *v)
{
	v->row = j->row;
	memcpy(v->error, j->error, sizeof v->error);
	v->row.error = j->row.error ? v->error : NULL;
	v->row.options = NULL;
}

void
job_free(job *j)
{
	if (j == NULL)
		return;
	trainer_loop_free(&j->rs);
	free(j->options);
	free(j);
}

const char *
trainer_cluster_node(const trainer *t)
{
	if (t->cfg.leases == NULL || !store_shared(t->st))
		return NULL;
	return leases_node(t->cfg.leases);
}

int
trainer_job_resumes(const job *j)
{
	return j->adopted || j->opts.resume[0] != '\0';
}

void
do_hand_back(trainer *t, job *j)
{
	char id[STORE_ID_MAX];
	int64_t at = j->row.ckpt_steps;
	fault f;
	int rc;

	snprintf(id, sizeof id, "%s", j->row.id);
	j->row.status = STORE_JOB_QUEUED;
	j->row.steps_done = j->row.ckpt_steps;
	j->terminal = 1;
	events_job(t->cfg.events, &j->row);
	pthread_cond_broadcast(&t->done);
	pthread_mutex_unlock(&t->mu);
	rc = store_job_handback(t->st, id, trainer_cluster_node(t), &f);
	if (rc < 0)
		log_error("job %s: not handed back (another node takes it once "
		    "this node's beat expires): %s", id, f.msg);
	else if (rc == 1)
		log_info("job %s: handed back to the cluster at its step %lld",
		    id, (long long)at);
	pthread_mutex_lock(&t->mu);
}

void
do_finish(trainer *t, job *j, store_job_status st, const char *error)
{
	j->row.status = st;
	if (j->row.finished_ms == 0)
		j->row.finished_ms = wallclock_ms();
	if (error) {
		snprintf(j->error, sizeof j->error, "%s", error);
		j->row.error = j->error;
	}
	j->terminal = 1;
	events_job(t->cfg.events, &j->row);
	pthread_cond_broadcast(&t->done);
}

static void *
worker(void *arg)
{
	worker_arg *wa = arg;
	trainer *t = wa->t;
	unsigned slot = wa->slot;

	free(wa);
	pthread_mutex_lock(&t->mu);
	for (;;) {
		task *tk = NULL;

		while (!t->stop && (tk = do_take(t)) == NULL)
			pthread_cond_wait(&t->work, &t->mu);
		if (tk == NULL)
			break;
		task_kind kind = tk->kind;

		t->current[slot] = tk->model;
		pthread_mutex_unlock(&t->mu);
		/* trainer_loop_run frees or requeues tk: read nothing of it
		 * after */
		if (kind == TASK_TRAIN)
			trainer_loop_run(t, tk);
		else
			trainer_sync_run(t, tk);
		pthread_mutex_lock(&t->mu);
		t->current[slot] = NULL;
		if (kind != TASK_TRAIN) {
			/* tk lives on the waiting thread's stack */
			tk->done = 1;
		}
		pthread_cond_broadcast(&t->done);
		pthread_cond_broadcast(&t->work);
		do_room_freed(t);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* Makes room in the job list for one more job (njobs + reserved + 1). */
int
do_grow_jobs(trainer *t, fault *f)
{
	if (t->njobs + t->reserved == t->capjobs) {
		size_t cap = t->capjobs ? 2 * t->capjobs : 64;
		job **p = realloc(t->jobs, cap * sizeof *p);

		if (p == NULL)
			return fault_set(f, FAULT_NOMEM, "out of memory");
		t->jobs = p;
		t->capjobs = cap;
	}
	return 0;
}

job *
do_find_job(trainer *t, const char *id)
{
	for (size_t i = 0; i < t->njobs; i++)
		if (strcmp(t->jobs[i]->row.id, id) == 0)
			return t->jobs[i];
	return NULL;
}

/* Store callback: a job from an earlier run, as history (before the
 * workers start: nobody else holds the trainer yet). */
static int
load_job(void *arg, const store_job *sj)
{
	trainer *t = arg;
	job *j = calloc(1, sizeof *j);
	fault f;

	if (j == NULL)
		return -1;
	j->row = *sj;
	j->options = strdup(sj->options ? sj->options : "{}");
	j->row.options = j->options;
	if (sj->error) {
		snprintf(j->error, sizeof j->error, "%s", sj->error);
		j->row.error = j->error;
	}
	j->terminal = 1;
	if (j->options == NULL || do_grow_jobs(t, &f) < 0) {
		job_free(j);
		return -1;
	}
	t->jobs[t->njobs++] = j;
	return 0;
}

trainer *
trainer_create(store *st, registry *reg, const trainer_config *c, fault *f)
{
	trainer *t = calloc(1, sizeof *t);

	if (t == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	t->st = st;
	t->reg = reg;
	t->cfg = *c;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->work, NULL);
	pthread_cond_init(&t->done, NULL);
	if (store_jobs_each(st, NULL, load_job, t, f) != 0) {
		if (f && f->code == FAULT_NONE)
			fault_set(f, FAULT_NOMEM, "out of memory loading jobs");
		trainer_destroy(t);
		return NULL;
	}
	t->threads = calloc(c->threads, sizeof *t->threads);
	t->current = calloc(c->threads, sizeof *t->current);
	if (t->threads == NULL || t->current == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		trainer_destroy(t);
		return NULL;
	}
	for (unsigned i = 0; i < c->threads; i++) {
		worker_arg *wa = malloc(sizeof *wa);

		if (wa == NULL) {
			fault_set(f, FAULT_NOMEM, "out of memory");
			trainer_destroy(t);
			return NULL;
		}
		wa->t = t;
		wa->slot = i;
		pthread_mutex_lock(&t->mu);
		if (pthread_create(&t->threads[i], NULL, worker, wa) != 0) {
			pthread_mutex_unlock(&t->mu);
			free(wa);
			fault_set(f, FAULT_INTERNAL, "cannot start a trainer "
			    "thread");
			trainer_destroy(t);
			return NULL;
		}
		t->started++;
		pthread_mutex_unlock(&t->mu);
	}
	return t;
}

/* Ends a queued train task's job interrupted at shutdown; a job between
 * slices checkpoints first. Takes and frees tk. The store calls run
 * without trainer.mu, which is dropped and taken again. */
static void
do_interrupt(trainer *t, task *tk)
{
	job *j = tk->job;
	lease_hold *hold = j->hold;
	store_job row;
	fault f;
	int lost = lease_lost(hold);
	/* several nodes: it goes back to the cluster rather than ending */
	int back = trainer_cluster_node(t) != NULL && !j->cancel &&
	    !j->forget;

	fault_clear(&f);
	if (j->rs.started) {
		/* a sliced job: checkpoint what it did, unless its lease
		 * went to another node (then nothing more is written) */
		pthread_mutex_unlock(&t->mu);
		if (!lost && trainer_loop_flush(t, j, tk->model, 1, NULL,
		    &f) < 0 && f.code == FAULT_FENCED) {
			lease_mark_lost(t->cfg.leases, hold, f.msg);
			lost = 1;
		}
		pthread_mutex_lock(&t->mu);
		do_count_jobs(tk->model, 0, -1);
	} else {
		t->queued_jobs--;
		do_count_jobs(tk->model, -1, 0);
	}
	j->hold = NULL;
	if (back && !lost) {
		/* the lease first, so the node that claims it can take it */
		pthread_mutex_unlock(&t->mu);
		lease_put(t->cfg.leases, hold);
		pthread_mutex_lock(&t->mu);
		do_hand_back(t, j);
	} else {
		do_finish(t, j, STORE_JOB_INTERRUPTED, NULL);
		row = j->row;
		pthread_mutex_unlock(&t->mu);
		/* fenced: a node whose lease is gone leaves the row
		 * alone */
		if (!lost && store_job_update_fenced(t->st, &row,
		    lease_epoch(hold), &f) < 0) {
			if (f.code == FAULT_FENCED)
				lease_mark_lost(t->cfg.leases, hold, f.msg);
			else
				log_error("job %s: %s", row.id, f.msg);
		}
		lease_put(t->cfg.leases, hold);
		pthread_mutex_lock(&t->mu);
	}
	trainer_loop_free(&j->rs);
	registry_put(tk->model);
	free(tk);
}

void
trainer_close(trainer *t)
{
	task *tk;

	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	if (t->closed && t->stop) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	t->closed = 1;
	t->stop = 1;
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->mu);
	for (unsigned i = 0; i < t->started; i++)
		pthread_join(t->threads[i], NULL);
	/* what is still queued will not run: fail it or interrupt it */
	pthread_mutex_lock(&t->mu);
	while ((tk = t->head) != NULL) {
		do_unlink_task(t, tk);
		if (tk->kind == TASK_TRAIN) {
			do_interrupt(t, tk);
		} else {
			fault_set(&tk->err, FAULT_CLOSED, "mlpd is shutting "
			    "down");
			tk->rc = -1;
			tk->done = 1;
		}
	}
	pthread_cond_broadcast(&t->done);
	pthread_mutex_unlock(&t->mu);
}

void
trainer_destroy(trainer *t)
{
	if (t == NULL)
		return;
	trainer_close(t);
	for (size_t i = 0; i < t->njobs; i++)
		job_free(t->jobs[i]);
	free(t->jobs);
	free(t->holds);
	free(t->threads);
	free(t->current);
	pthread_cond_destroy(&t->work);
	pthread_cond_destroy(&t->done);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* FAULT_BUSY: m has a train job queued or running. */
static int
busy_fault(const model_entry *m, fault *f)
{
	return fault_set(f, FAULT_BUSY, "model '%s' has a training job "
	    "queued or running; cancel it or wait", m->id);
}

int
do_admit(trainer *t, model_entry *m, int busy_check, fault *f)
{
	int deleted, busy;

	if (t->closed)
		return fault_set(f, FAULT_CLOSED, "mlpd is shutting down");
	deleted = registry_deleted(m);
	busy = registry_job_counts(m, NULL, NULL);
	if (deleted)
		return fault_set(f, FAULT_NO_MODEL, "no model with id '%s'",
		    m->id);
	if (busy_check && busy)
		return busy_fault(m, f);
	return 0;
}

/* True when a trainer_delete_data of m is running. */
static int
do_held(trainer *t, const model_entry *m)
{
	for (size_t i = 0; i < t->nholds; i++)
		if (t->holds[i] == m)
			return 1;
	return 0;
}

/* The steps a job of options o runs over samples stored rows; FAULT_NO_DATA
 * without rows, FAULT_INVALID when the split leaves none or the job would
 * run too many steps. */
static int
plan_steps(const model_entry *m, const train_opts *o, int64_t samples,
	   int64_t *total, fault *f)
{
	int64_t per_epoch;
	size_t bs;

	if (samples <= 0)
		return fault_set(f, FAULT_NO_DATA, "model '%s' has no "
		    "training data; POST batches first", m->id);
	if (o->validation_split > 0) {
		/* steps count the rows left to train on (eval_hold_out) */
		int64_t k = eval_held_out(samples, o->validation_split);

		if (k >= samples)
			return fault_set(f, FAULT_INVALID, "validation_split "
			    "%g holds out all %lld rows of model '%s'; none "
			    "is left to train on", o->validation_split,
			    (long long)samples, m->id);
		samples -= k;
	}
	bs = (size_t)o->batch_size < (size_t)samples ? (size_t)o->batch_size
	    : (size_t)samples;
	per_epoch = (samples + (int64_t)bs - 1) / (int64_t)bs;
	*total = o->steps ? o->steps : o->epochs * per_epoch;
	if (*total > TRAINER_MAX_JOB_STEPS)
		return fault_set(f, FAULT_INVALID, "the job would run %lld "
		    "steps; at most %lld are allowed", (long long)*total,
		    TRAINER_MAX_JOB_STEPS);
	return 0;
}

/* FAULT_INVALID when o's schedule makes no sense for a job of total
 * steps at its base rate (the floor above it, a warm-up as long as the
 * job). */
static int
check_schedule(const model_entry *m, const train_opts *o, int64_t total,
	       fault *f)
{
	char why[FAULT_MSG_MAX];
	double base = o->lr > 0 ? o->lr : m->spec.opt.lr;

	if (schedule_check_job(&o->sched, base, total, why, sizeof why) < 0)
		return fault_set(f, FAULT_INVALID, "schedule: %s", why);
	return 0;
}

/* For a job j that resumes another (j->opts.resume): FAULT_NO_JOB unless
 * that is a job of m, FAULT_INVALID unless it ended interrupted after it
 * ran; then j takes its steps_total, its start, its step count at its
 * last checkpoint and its tracker (the worker checks that the model is
 * still at that checkpoint). */
static int
do_resume_from(trainer *t, const model_entry *m, job *j, fault *f)
{
	const job *o = do_find_job(t, j->opts.resume);

	if (o == NULL || strcmp(o->row.model_id, m->id) != 0)
		return fault_set(f, FAULT_NO_JOB, "model '%s' has no job with "
		    "id '%s' to resume", m->id, j->opts.resume);
	if (o->row.status != STORE_JOB_INTERRUPTED || o->row.lr <= 0)
		return fault_set(f, FAULT_INVALID, "job '%s' %s; only a job "
		    "interrupted after it ran resumes", o->row.id,
		    o->row.status != STORE_JOB_INTERRUPTED ? "was not "
		    "interrupted" : "never ran");
	j->row.steps_total = o->row.steps_total;
	j->row.steps_done = o->row.ckpt_steps;
	j->row.start_step = o->row.start_step;
	j->row.ckpt_steps = o->row.ckpt_steps;
	j->row.best_step = o->row.best_step;
	j->row.best_value = o->row.best_value;
	j->row.stop_waited = o->row.stop_waited;
	j->row.stop_mark = o->row.stop_mark;
	/* the rate of its next step, shown from the start */
	j->row.lr = (float)schedule_rate(&j->opts.sched, j->opts.lr > 0 ?
	    j->opts.lr : m->spec.opt.lr, j->row.steps_total,
	    j->row.ckpt_steps + 1);
	return 0;
}

/* Admits a new job j of m: checks the trainer and the model, plans its
 * steps, and reserves its place (counted as queued, a slot in the job
 * list) while its row is written without the lock. */
static int
do_reserve(trainer *t, model_entry *m, job *j, fault *f)
{
	int64_t samples;

	if (do_admit(t, m, 0, f) < 0)
		return -1;
	if (do_held(t, m))
		return fault_set(f, FAULT_BUSY, "model '%s' is deleting its "
		    "training data; try again when that is done", m->id);
	samples = registry_samples(m);
	if (plan_steps(m, &j->opts, samples, &j->row.steps_total, f) < 0 ||
	    (j->opts.resume[0] != '\0' && do_resume_from(t, m, j, f) < 0) ||
	    check_schedule(m, &j->opts, j->row.steps_total, f) < 0)
		return -1;
	if (t->queued_jobs >= t->cfg.max_queue)
		return fault_set(f, FAULT_QUEUE_FULL, "the job queue is full "
		    "(%zu jobs); try again later", t->cfg.max_queue);
	if (do_grow_jobs(t, f) < 0)
		return -1;
	t->reserved++;
	t->queued_jobs++;
	do_count_jobs(m, 1, 0);
	return 0;
}

/* Gives back what do_reserve took, for a job that is not queued after
 * all. */
static void
do_unreserve(trainer *t, model_entry *m)
{
	t->reserved--;
	t->queued_jobs--;
	do_count_jobs(m, -1, 0);
	pthread_cond_broadcast(&t->done);
}

/* Several nodes: options (compact JSON object text, as the API renders
 * it) with "validation": {"rows": n, "stored": false} first, so that a
 * node that adopts the job knows a validation set was given (its rows
 * are not stored); malloc'd, NULL when out of memory. */
static char *
mark_validation(const char *options, size_t n)
{
	const char *rest = options[0] == '{' ? options + 1 : "}";
	size_t len = strlen(rest) + 64;
	char *out = malloc(len);

	if (out != NULL)
		snprintf(out, len, "{\"validation\":{\"rows\":%zu,"
		    "\"stored\":false}%s%s", n, rest[0] == '}' ? "" : ",",
		    rest);
	return out;
}

/* Whether this node can start m's new job (reserved by do_reserve) at
 * once: a worker free for it (counting the submissions still being
 * written) and no other job of m queued or running here. */
static int
do_can_start(trainer *t, model_entry *m)
{
	size_t busy = t->reserved > 0 ? t->reserved - 1 : 0;
	int q = 0, r = 0;

	for (unsigned i = 0; i < t->started; i++)
		if (t->current[i] != NULL)
			busy++;
	for (task *tk = t->head; tk; tk = tk->next)
		busy++;
	registry_job_counts(m, &q, &r);
	return !t->closed && busy < t->started && q + r <= 1;
}

/* Several nodes: whether a job may run on another node than the one that
 * accepts it. Not one with a validation set (its rows are not stored) nor
 * a resume (the job it continues is in this node's list). */
static int
offerable(const train_opts *o, const trainer_valset *val)
{
	return (val == NULL || val->n == 0) && o->resume[0] == '\0';
}

/* The end of trainer_submit for a job the store offered to every node
 * (node is not its owner): it leaves this node's trainer (do_reserve
 * given back), shown and announced as stored. Takes and frees j and tk. */
static int
do_offered(trainer *t, model_entry *m, job *j, task *tk,
	   trainer_job_view *out, fault *f)
{
	int rc = 0;

	do_unreserve(t, m);
	/* deleted meanwhile: its row goes with the model's */
	if (registry_deleted(m)) {
		rc = fault_set(f, FAULT_NO_MODEL, "no model with id '%s'",
		    m->id);
	} else {
		do_view(j, out);
		events_job(t->cfg.events, &j->row);
		/* announced here: not again by the peers poll */
		snprintf(t->offered[t->offered_next], STORE_ID_MAX, "%s",
		    j->row.id);
		t->offered_next = (t->offered_next + 1) % TRAINER_OFFERED_KEPT;
	}
	pthread_mutex_unlock(&t->mu);
	if (rc == 0)
		log_info("job %s of model %s: offered to every node (it "
		    "cannot start here at once)", j->row.id, m->id);
	job_free(j);
	free(tk);
	return rc;
}

int
trainer_submit(trainer *t, model_entry *m, const train_opts *o,
	       const char *options, trainer_valset *val,
	       trainer_job_view *out, fault *f)
{
	job *j = calloc(1, sizeof *j);
	task *tk = calloc(1, sizeof *tk);
	const char *node = trainer_cluster_node(t);
	int interrupted, rc, offer = node != NULL && offerable(o, val);
	int keep = 1;
	int64_t unclaimed = 0;

	if (options == NULL)
		options = "{}";
	if (j == NULL || tk == NULL || (j->options = node != NULL &&
	    val != NULL && val->n > 0 ? mark_validation(options, val->n) :
	    strdup(options)) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		goto fail;
	}
	ids_new('j', j->row.id);
	snprintf(j->row.model_id, sizeof j->row.model_id, "%s", m->id);
	j->row.status = STORE_JOB_QUEUED;
	j->row.loss = NAN;
	j->row.options = j->options;
	j->row.created_ms = wallclock_ms();
	j->opts = *o;
	tk->kind = TASK_TRAIN;
	tk->job = j;
	/* several nodes: the jobs offered and not yet claimed count in this
	 * node's --max-queue when this one is offered too */
	if (offer && store_jobs_unfinished(t->st, NULL, 1, &unclaimed, f) < 0)
		goto fail;
	pthread_mutex_lock(&t->mu);
	rc = do_reserve(t, m, j, f);
	if (rc == 0 && offer)
		keep = do_can_start(t, m);
	if (rc == 0 && !keep && t->queued_jobs - 1 + (size_t)unclaimed >=
	    t->cfg.max_queue) {
		do_unreserve(t, m);
		rc = fault_set(f, FAULT_QUEUE_FULL, "the job queue is full "
		    "(%zu jobs, %lld of them offered to every node and not "
		    "yet claimed); try again later", t->cfg.max_queue,
		    (long long)unclaimed);
	}
	pthread_mutex_unlock(&t->mu);
	if (rc < 0)
		goto fail;
	/* the durable row first, without the lock; several nodes: owned
	 * by this node, so that no other claims it while it lives, when it
	 * starts here at once (or cannot run elsewhere), else offered to
	 * whichever node has a free trainer (store_job_offer) */
	if (offer) {
		rc = store_job_offer(t->st, &j->row, node, keep, f);
		keep = rc == 1;
		rc = rc < 0 ? -1 : 0;
	} else {
		rc = node != NULL ? store_job_insert_owned(t->st, &j->row, node,
		    f) : store_job_insert(t->st, &j->row, f);
	}
	pthread_mutex_lock(&t->mu);
	if (rc == 0 && !keep)
		return do_offered(t, m, j, tk, out, f) < 0 ? -1 : 0;
	if (rc == 0) {
		/* deleted meanwhile: its row goes with the model's */
		if (registry_deleted(m))
			rc = fault_set(f, FAULT_NO_MODEL, "no model with id "
			    "'%s'", m->id);
	}
	if (rc < 0) {
		do_unreserve(t, m);
		pthread_mutex_unlock(&t->mu);
		goto fail;
	}
	interrupted = t->closed;
	t->reserved--;
	t->jobs[t->njobs++] = j;
	if (val != NULL && val->n > 0) {
		/* the job owns the set from here on */
		j->rs.vx = val->x;
		j->rs.vy = val->y;
		j->rs.vn = val->n;
		val->x = val->y = NULL;
		val->n = 0;
	}
	if (interrupted) {
		/* accepted and written, but the workers are gone: it ends
		 * at once, as the queued jobs did in trainer_close */
		store_job row;
		fault uf;

		t->queued_jobs--;
		do_count_jobs(m, -1, 0);
		trainer_loop_free(&j->rs);
		if (node != NULL) {
			/* several nodes: another one runs it */
			do_hand_back(t, j);
			do_view(j, out);
			pthread_mutex_unlock(&t->mu);
			free(tk);
			return 0;
		}
		do_finish(t, j, STORE_JOB_INTERRUPTED, NULL);
		row = j->row;
		do_view(j, out);
		pthread_mutex_unlock(&t->mu);
		if (store_job_update(t->st, &row, &uf) < 0)
			log_error("job %s: %s", row.id, uf.msg);
		free(tk);
		return 0;
	}
	tk->model = registry_ref(m);
	do_view(j, out);
	events_job(t->cfg.events, &j->row);
	do_enqueue(t, tk);
	pthread_mutex_unlock(&t->mu);
	return 0;
fail:
	job_free(j);
	free(tk);
	return -1;
}

/* Several nodes: FAULT_BUSY when m has an unfinished job in the store
 * (do_admit's answer for one here). No lock held. */
static int
busy_elsewhere(trainer *t, model_entry *m, fault *f)
{
	int64_t n = 0;

	if (store_jobs_unfinished(t->st, m->id, 0, &n, f) < 0)
		return -1;
	return n > 0 ? busy_fault(m, f) : 0;
}

int
trainer_delete_data(trainer *t, model_entry *m, fault *f)
{
	int64_t dropped = 0;
	int rc;

	pthread_mutex_lock(&t->mu);
	if (do_admit(t, m, 1, f) < 0) {
		pthread_mutex_unlock(&t->mu);
		return -1;
	}
	if (t->nholds == t->capholds) {
		size_t cap = t->capholds ? 2 * t->capholds : 4;
		model_entry **p = realloc(t->holds, cap * sizeof *p);

		if (p == NULL) {
			pthread_mutex_unlock(&t->mu);
			return fault_set(f, FAULT_NOMEM, "out of memory");
		}
		t->holds = p;
		t->capholds = cap;
	}
	/* from here until the count is 0, trainer_submit refuses m */
	t->holds[t->nholds++] = m;
	pthread_mutex_unlock(&t->mu);
	/* several nodes: a job of m offered and not yet claimed, or running
	 * on another node, is m's as much as one queued here */
	rc = trainer_cluster_node(t) != NULL ? busy_elsewhere(t, m, f) : 0;
	if (rc == 0)
		rc = store_batches_delete(t->st, m->id, &dropped, f);
	/* the rows it dropped, not 0: a push that committed after it may
	 * have counted its own already */
	if (rc == 0)
		registry_add_samples(m, -dropped);
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->nholds; i++) {
		if (t->holds[i] == m) {
			t->holds[i] = t->holds[--t->nholds];
			break;
		}
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

/* The queued task of job j, or NULL. */
static task *
do_task_of(trainer *t, const job *j)
{
	for (task *tk = t->head; tk; tk = tk->next)
		if (tk->kind == TASK_TRAIN && tk->job == j)
			return tk;
	return NULL;
}

/* trainer_cancel, and trainer_cancel_soon without wait: 1 when the
 * cancel was asked now, 0 when it had been already (a running job), -1
 * with f. */
static int
cancel(trainer *t, const char *job_id, int wait, trainer_job_view *out,
       fault *f)
{
	job *j;
	task *tk;
	store_job row;
	fault uf;
	int asked;

	pthread_mutex_lock(&t->mu);
	j = do_find_job(t, job_id);
	if (j == NULL) {
		pthread_mutex_unlock(&t->mu);
		return fault_set(f, FAULT_NO_JOB, "no job with id '%s'",
		    job_id);
	}
	if (j->terminal) {
		do_view(j, out);
		pthread_mutex_unlock(&t->mu);
		return fault_set(f, FAULT_FINISHED, "job '%s' already ended "
		    "%s", job_id, store_job_status_name(j->row.status));
	}
	tk = do_task_of(t, j);
	if (tk != NULL && !j->rs.started) {
		/* still waiting: it never ran */
		do_unlink_task(t, tk);
		t->queued_jobs--;
		do_count_jobs(tk->model, -1, 0);
		do_finish(t, j, STORE_JOB_CANCELLED, NULL);
		trainer_loop_free(&j->rs); /* its validation set, if any */
		do_room_freed(t);
		row = j->row;
		do_view(j, out);
		pthread_mutex_unlock(&t->mu);
		if (store_job_update(t->st, &row, &uf) < 0)
			log_error("job %s: %s", job_id, uf.msg);
		registry_put(tk->model);
		free(tk);
		return 1;
	}
	asked = !j->cancel;
	j->cancel = 1;
	if (tk != NULL) {
		/* sliced out: let a worker pick it up now to stop it */
		pthread_cond_broadcast(&t->work);
	}
	while (wait && !j->terminal)
		pthread_cond_wait(&t->done, &t->mu);
	do_view(j, out);
	pthread_mutex_unlock(&t->mu);
	return asked;
}

int
trainer_cancel(trainer *t, const char *job_id, trainer_job_view *out,
	       fault *f)
{
	return cancel(t, job_id, 1, out, f) < 0 ? -1 : 0;
}

int
trainer_cancel_soon(trainer *t, const char *job_id, fault *f)
{
	trainer_job_view v;

	return cancel(t, job_id, 0, &v, f);
}

int
trainer_job_get(trainer *t, const char *job_id, trainer_job_view *out)
{
	job *j;

	pthread_mutex_lock(&t->mu);
	j = do_find_job(t, job_id);
	if (j)
		do_view(j, out);
	pthread_mutex_unlock(&t->mu);
	return j ? 0 : -1;
}

trainer_job_view *
trainer_jobs_of(trainer *t, const char *model_id, size_t *n)
{
	trainer_job_view *out;
	size_t k = 0;

	pthread_mutex_lock(&t->mu);
	out = malloc((t->njobs ? t->njobs : 1) * sizeof *out);
	if (out != NULL) {
		for (size_t i = 0; i < t->njobs; i++)
			if (strcmp(t->jobs[i]->row.model_id, model_id) == 0)
				do_view(t->jobs[i], &out[k++]);
	}
	pthread_mutex_unlock(&t->mu);
	/* do_view pointed error at the element it filled; still valid */
	*n = k;
	return out;
}

void
trainer_forget_model(trainer *t, model_entry *m)
{
	task *tk, *next;
	size_t k = 0;

	pthread_mutex_lock(&t->mu);
	for (tk = t->head; tk; tk = next) {
		next = tk->next;
		if (tk->model != m)
			continue;
		do_unlink_task(t, tk);
		if (tk->kind == TASK_TRAIN) {
			if (tk->job->rs.started) {
				do_count_jobs(m, 0, -1);
			} else {
				t->queued_jobs--;
				do_count_jobs(m, -1, 0);
			}
			tk->job->forget = 1;
			do_finish(t, tk->job, STORE_JOB_CANCELLED, NULL);
			registry_put(tk->model);
			free(tk);
		} else {
			fault_set(&tk->err, FAULT_NO_MODEL, "model '%s' was "
			    "deleted", m->id);
			tk->rc = -1;
			tk->done = 1;
		}
	}
	for (size_t i = 0; i < t->njobs; i++) {
		job *j = t->jobs[i];

		if (strcmp(j->row.model_id, m->id) == 0 && !j->terminal) {
			j->forget = 1;
			j->cancel = 1;
		}
	}
	pthread_cond_broadcast(&t->done);
	while (do_model_running(t, m))
		pthread_cond_wait(&t->done, &t->mu);
	for (size_t i = 0; i < t->njobs; i++) {
		if (strcmp(t->jobs[i]->row.model_id, m->id) == 0)
			job_free(t->jobs[i]);
		else
			t->jobs[k++] = t->jobs[i];
	}
	t->njobs = k;
	pthread_mutex_unlock(&t->mu);
}

int
trainer_model_busy(trainer *t, const model_entry *m)
{
	int busy;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	busy = do_model_running(t, m);
	pthread_mutex_unlock(&t->mu);
	return busy;
}

size_t
trainer_queue_depth(trainer *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->queued_jobs;
	pthread_mutex_unlock(&t->mu);
	return n;
}

void
trainer_job_counts(trainer *t, size_t counts[STORE_JOB_STATUS_COUNT_])
{
	memset(counts, 0, STORE_JOB_STATUS_COUNT_ * sizeof counts[0]);
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->njobs; i++)
		if ((unsigned)t->jobs[i]->row.status < STORE_JOB_STATUS_COUNT_)
			counts[t->jobs[i]->row.status]++;
	pthread_mutex_unlock(&t->mu);
}
