/*
 * trainer_loop: a train job on a worker (see trainer.h for the DESIGN and
 * trainer_int.h for the locks).
 *
 * A job runs in slices: after each progress commit (every 250 ms) a job
 * that sees a waiting task of another model goes back to the end of the
 * queue with its loop state kept in the job, so one worker serves every
 * model fairly and a single step never waits for someone else's whole
 * job. Every commit and every store call here runs without trainer.mu;
 * the lock is taken only to read or update the job's row and flags.
 */
#include "trainer_int.h"

#include <float.h>
#include <stdio.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "eval.h"
#include "log.h"
#include "wallclock.h"

void
trainer_loop_free(run_state *rs)
{
	if (rs->budget != NULL)
		*rs->budget -= rs->kept;
	dataset_destroy(rs->ds);
	free(rs->pts);
	free(rs->vx);
	free(rs->vy);
	free(rs->vout);
	free(rs->vpts);
	free(rs->best);
	memset(rs, 0, sizeof *rs);
}

int
trainer_loop_flush(trainer *t, job *j, model_entry *m, int checkpoint,
		   const store_job *final, fault *f)
{
	run_state *rs = &j->rs;
	store_progress p;
	store_job row;
	void *blob = NULL;
	size_t len = 0;
	double last = rs->npts ? rs->pts[rs->npts - 1].loss : j->row.loss;
	int64_t now = wallclock_ms();
	double began = wallclock_mono();
	size_t committed;
	int rc;

	if (!checkpoint && final == NULL) {
		/* between checkpoints nothing is stored: the loss points
		 * wait in rs->pts for the checkpoint, so that the model's
		 * step, its history's last step and the job's steps_done
		 * are committed together; the snapshot still goes out */
		registry_add_trained(m, rs->new_steps, rs->new_rows);
		rs->new_steps = rs->new_rows = 0;
		return registry_publish(m, last, now, f);
	}
	if (blob_save(m->live, &blob, &len, f) < 0)
		return -1;
	if (final != NULL) {
		row = *final;
	} else {
		pthread_mutex_lock(&t->mu);
		row = j->row;
		pthread_mutex_unlock(&t->mu);
	}
	/* every commit stores the weights (with the points, the step and
	 * steps_done): those after the job's rs->s steps, where a resumed
	 * job starts */
	row.ckpt_steps = rs->s;
	memset(&p, 0, sizeof p);
	p.model_id = m->id;
	p.points = rs->pts;
	p.npoints = rs->npts;
	p.blob = blob;
	p.blob_len = len;
	p.step = mlp_step(m->live);
	p.last_loss = last;
	p.now_ms = now;
	p.job = &row;
	p.vpoints = rs->vpts;
	p.nvpoints = rs->nvpts;
	p.epoch = lease_epoch(j->hold);
	rc = store_progress_commit(t->st, &p, f);
	free(blob);
	if (rc < 0)
		return -1;
	committed = rs->npts;
	rs->npts = 0;
	rs->nvpts = 0;
	/* the period counts from the start of this commit, so checkpoints
	 * come every checkpoint_every, not that plus the commit's time */
	rs->last_ckpt = began;
	pthread_mutex_lock(&t->mu);
	j->row.ckpt_steps = row.ckpt_steps;
	pthread_mutex_unlock(&t->mu);
	registry_add_trained(m, rs->new_steps, rs->new_rows);
	rs->new_steps = rs->new_rows = 0;
	/* every commit, checkpoint or not, publishes a snapshot */
	rc = registry_publish(m, last, now, f);
	/* the points stay in rs->pts until the next push_point */
	events_step(t->cfg.events, m->id, rs->pts, committed);
	return rc;
}

int
trainer_loop_measure(mlp *live, const float *x, const float *y, size_t n,
		     int onehot, float *scratch, store_val_point *p, fault *f)
{
	eval_result r;

	if (eval_measure(live, x, y, n, onehot, scratch, &r, f) < 0)
		return -1;
	p->step = mlp_step(live);
	p->loss = r.loss;
	p->accuracy = r.accuracy;
	p->time_ms = wallclock_ms();
	return 0;
}

/* Room for one more element of size elem in buf, a buffer of *cap
 * elements with n used: buf itself, or buf doubled (or started at first)
 * with *cap updated; NULL with f set when out of memory (buf stays). */
static void *
grow(void *buf, size_t *cap, size_t n, size_t elem, size_t first, fault *f)
{
	size_t c;
	void *p;

	if (n < *cap)
		return buf;
	c = *cap ? 2 * *cap : first;
	if (c > SIZE_MAX / elem || (p = realloc(buf, c * elem)) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	*cap = c;
	return p;
}

/* Measures the job's model on its validation set; buffers the point. */
static int
push_validation(run_state *rs, mlp *live, fault *f)
{
	store_val_point *vp = grow(rs->vpts, &rs->capvpts, rs->nvpts,
	    sizeof *vp, 16, f);

	if (vp == NULL)
		return -1;
	rs->vpts = vp;
	if (rs->vx != NULL) {
		if (trainer_loop_measure(live, rs->vx, rs->vy, rs->vn,
		    rs->onehot, rs->vout, &rs->vpts[rs->nvpts], f) < 0)
			return -1;
	} else {
		eval_result r;

		/* validation_split's rows, read from the store */
		if (dataset_measure(rs->ds, live, &r, f) < 0)
			return -1;
		vp = &rs->vpts[rs->nvpts];
		vp->step = mlp_step(live);
		vp->loss = r.loss;
		vp->accuracy = r.accuracy;
		vp->time_ms = wallclock_ms();
	}
	rs->last_val_step = rs->vpts[rs->nvpts++].step;
	return 0;
}

/* The rate of the job's next step (its rs->s + 1-th) under its schedule,
 * never rounded to 0 (which the core would read as "the model's"). */
static float
step_rate(const job *j, int64_t total)
{
	float r = (float)schedule_rate(&j->opts.sched, j->rs.lr, total,
	    j->rs.s + 1);

	return r > 0.0f ? r : FLT_TRUE_MIN;
}

/* True when the job's step count s ends an evaluation period: every
 * eval_every steps, else every epoch. */
static int
eval_due(const job *j)
{
	int64_t every = j->opts.eval_every ? j->opts.eval_every :
	    (int64_t)j->rs.per_epoch;

	return j->rs.s % every == 0;
}

/* Feeds the value v measured at the model's current step to the job's
 * tracker: a new best is recorded in the row and, with restore_best, its
 * parameters copied (the one place a best snapshot is taken: saving it
 * as a durable version belongs here too). Sets rs->stopped when early
 * stopping says so. */
static int
track(trainer *t, job *j, model_entry *m, double v, fault *f)
{
	run_state *rs = &j->rs;
	int64_t step = (int64_t)mlp_step(m->live);
	int64_t before = rs->stop.best_step;
	schedule_verdict vd = schedule_stop_update(&rs->stop, &j->opts.stop,
	    step, v);

	/* a new best (even on the evaluation that stops the job) */
	if (rs->stop.best_step != before &&
	    (j->opts.restore_best || j->opts.save_best)) {
		size_t n;
		const float *p = mlp_params_const(m->live, &n);

		if (rs->best == NULL &&
		    (rs->best = malloc(n * sizeof(float))) == NULL)
			return fault_set(f, FAULT_NOMEM, "out of memory for the "
			    "best weights");
		memcpy(rs->best, p, n * sizeof(float));
	}
	pthread_mutex_lock(&t->mu);
	j->row.best_step = rs->stop.best_step;
	j->row.best_value = rs->stop.best;
	j->row.stop_waited = rs->stop.waited;
	j->row.stop_mark = rs->stop.mark;
	if (vd == SCHEDULE_STOP)
		j->row.stopped_step = step;
	pthread_mutex_unlock(&t->mu);
	if (vd == SCHEDULE_STOP)
		rs->stopped = 1;
	return 0;
}

/* After a step with loss: an evaluation when one is due (a validation
 * point, or the mean training loss since the last), fed to the tracker. */
static int
evaluate(trainer *t, job *j, model_entry *m, float loss, fault *f)
{
	run_state *rs = &j->rs;
	double v;

	if (rs->vn == 0) {
		rs->mon_sum += loss;
		rs->mon_n++;
	}
	if (!eval_due(j))
		return 0;
	if (rs->vn > 0) {
		if (push_validation(rs, m->live, f) < 0)
			return -1;
		v = rs->vpts[rs->nvpts - 1].loss;
	} else {
		v = rs->mon_sum / (double)rs->mon_n;
		rs->mon_sum = 0.0;
		rs->mon_n = 0;
	}
	return rs->track ? track(t, j, m, v, f) : 0;
}

/* A resumed job (opts.resume) starts where the job it continues was at
 * its last checkpoint: its step count, its steps_total and its tracker
 * (copied into j's row at submission); the model must still be at that
 * checkpoint. So does an adopted job (trainer_adopt), from its own row.
 * The weights of a best from before are not kept. */
static int
job_resume(trainer *t, job *j, model_entry *m, int64_t *total, fault *f)
{
	run_state *rs = &j->rs;
	int64_t at = (int64_t)mlp_step(m->live);
	store_job row;

	pthread_mutex_lock(&t->mu);
	row = j->row;
	pthread_mutex_unlock(&t->mu);
	if (at != row.start_step + row.ckpt_steps)
		return fault_set(f, FAULT_INVALID, "model '%s' is at step %lld, "
		    "not at the checkpoint of job '%s' (step %lld): it changed "
		    "since; start a new job", m->id, (long long)at,
		    j->adopted ? j->row.id : j->opts.resume,
		    (long long)(row.start_step +
		    row.ckpt_steps));
	*total = row.steps_total;
	rs->s = row.ckpt_steps;
	if (row.best_step > 0) {
		rs->stop.best_step = row.best_step;
		rs->stop.best = row.best_value;
	}
	rs->stop.waited = row.stop_waited;
	if (isfinite(row.stop_mark))
		rs->stop.mark = row.stop_mark;
	return 0;
}

/* The bytes of rows a job may hold (--job-memory). */
static size_t
job_memory(const trainer *t)
{
	return t->cfg.job_memory ? t->cfg.job_memory :
	    TRAINER_JOB_MEMORY_DEFAULT;
}

/* Plans the rows and sizes the buffers on a job's first slice; no row is
 * read before the first step asks for its own (dataset.h). The rows
 * validation_split holds out are core/eval.h's split seeded with the
 * model's seed (streamed: a hash of it), so every job on the same rows
 * holds out the same ones. */
static int
job_start(trainer *t, job *j, model_entry *m, fault *f)
{
	run_state *rs = &j->rs;
	const mlp_spec *s = &m->spec;
	size_t nl = s->sizes[s->n_layers];
	dataset_opts o;
	int64_t total;
	double t0 = wallclock_mono();

	memset(&o, 0, sizeof o);
	o.spec = s;
	o.order_key = (uint64_t)j->row.start_step;
	o.split = rs->vx == NULL ? j->opts.validation_split : 0;
	o.batch_size = (size_t)j->opts.batch_size;
	o.shuffle = j->opts.shuffle;
	o.cap = job_memory(t);
	if (dataset_open(t->st, m->id, &o, &rs->ds, f) < 0)
		return -1;
	rs->budget = &t->kept_bytes;
	rs->n = dataset_rows(rs->ds);
	if (rs->vx == NULL)
		rs->vn = dataset_val_rows(rs->ds);
	log_info("job %s: %zu rows to train on, %zu held out, %s (planned in "
	    "%.3f s)", j->row.id, rs->n, rs->vx == NULL ? rs->vn : 0,
	    dataset_streamed(rs->ds) ? "streamed in blocks (past "
	    "--job-memory)" : "in memory", wallclock_mono() - t0);
	if (rs->vx != NULL) {
		rs->onehot = eval_is_onehot(rs->vy, rs->vn, nl);
		if (rs->onehot && (rs->vout = malloc(eval_scratch_floats(
		    rs->vn, nl) * sizeof(float))) == NULL)
			return fault_set(f, FAULT_NOMEM, "out of memory for "
			    "the validation rows");
	}
	rs->bs = dataset_batch_rows(rs->ds);
	rs->per_epoch = dataset_per_epoch(rs->ds);
	total = j->opts.steps ? j->opts.steps :
	    j->opts.epochs * (int64_t)rs->per_epoch;
	if (total > TRAINER_MAX_JOB_STEPS)
		total = TRAINER_MAX_JOB_STEPS;
	rs->lr = j->opts.lr > 0 ? (float)j->opts.lr : s->opt.lr;
	rs->track = rs->vn > 0 || j->opts.stop.patience > 0 ||
	    j->opts.restore_best || j->opts.save_best;
	schedule_stop_init(&rs->stop);
	if (trainer_job_resumes(j) && job_resume(t, j, m, &total, f) < 0)
		return -1;
	rs->last_ckpt = wallclock_mono();
	rs->started = 1;
	pthread_mutex_lock(&t->mu);
	j->row.steps_total = total;
	j->row.steps_done = rs->s;
	j->row.lr = step_rate(j, total);
	j->row.stop_mark = isfinite(rs->stop.mark) ? rs->stop.mark : NAN;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

/* Appends a loss row to the buffer. */
static int
push_point(run_state *rs, uint64_t step, float loss, fault *f)
{
	store_loss_point *p = grow(rs->pts, &rs->cappts, rs->npts, sizeof *p,
	    1024, f);

	if (p == NULL)
		return -1;
	rs->pts = p;
	rs->pts[rs->npts].step = step;
	rs->pts[rs->npts].loss = loss;
	rs->pts[rs->npts].time_ms = wallclock_ms();
	rs->npts++;
	return 0;
}

typedef enum slice_end {
	SLICE_YIELD,    /* others wait: requeue */
	SLICE_DONE,     /* every step ran */
	SLICE_STOPPED,  /* cancel, delete or shutdown */
	SLICE_FAILED,   /* f says why */
	SLICE_LOST      /* the model's lease went to another node: stop,
	                   write nothing more (f says why, FAULT_FENCED) */
} slice_end;

/* 1 when the job should stop (cancel, delete, shutdown); 0 otherwise.
 * SLICE_LOST's check is the caller's. */
static int
job_stopping(trainer *t, const job *j)
{
	int stop;

	pthread_mutex_lock(&t->mu);
	stop = j->cancel || j->forget || t->stop;
	pthread_mutex_unlock(&t->mu);
	return stop;
}

/* A checkpoint found the database away (FAULT_UNAVAILABLE: PostgreSQL
 * restarting, its connections dropped). The job does not fail: training
 * pauses with the uncommitted points kept in rs->pts, and the checkpoint
 * is tried again 0.25 s later, then up to every 2 s, until it is stored
 * (0: training goes on from where it was, nothing lost) or the job must
 * end (-1, *end set): stopped (its final commit then tries once more), its
 * lease lost or its commit fenced (another node took the model over while
 * this one could not renew), or another failure. */
static int
commit_retry(trainer *t, job *j, model_entry *m, fault *f, slice_end *end)
{
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	double delay = 0.25;

	log_warn("job %s: the database is away (%s); training waits and the "
	    "checkpoint is tried again", j->row.id, f->msg);
	for (;;) {
		double until = wallclock_mono() + delay;

		while (wallclock_mono() < until) {
			if (job_stopping(t, j)) {
				*end = SLICE_STOPPED;
				return -1;
			}
			if (lease_lost(j->hold)) {
				fault_set(f, FAULT_FENCED, "the lease on model "
				    "'%s' went to another node", m->id);
				*end = SLICE_LOST;
				return -1;
			}
			nanosleep(&nap, NULL);
		}
		fault_clear(f);
		if (trainer_loop_flush(t, j, m, 1, NULL, f) == 0) {
			log_info("job %s: the database is back; the checkpoint "
			    "is stored and training goes on", j->row.id);
			return 0;
		}
		if (f->code != FAULT_UNAVAILABLE) {
			*end = f->code == FAULT_FENCED ? SLICE_LOST :
			    SLICE_FAILED;
			return -1;
		}
		if (delay < 2)
			delay *= 2;
	}
}

/* Runs steps until the job ends or, after a commit, others are waiting.
 * A step whose loss is not finite changes nothing (core) and ends the
 * job at the step before it; one that leaves a weight not finite (an
 * update that overflowed) ends it at the stored checkpoint (rs->revert).
 * Either way the job's error is "diverged at step N". */
static slice_end
run_slice(trainer *t, job *j, model_entry *m, fault *f)
{
	run_state *rs = &j->rs;
	double last_flush = wallclock_mono();

	for (;;) {
		int64_t total, stop;
		size_t rows;
		const float *xb, *yb;
		float loss, rate;
		double now;

		if (lease_lost(j->hold)) {
			fault_set(f, FAULT_FENCED, "the lease on model '%s' "
			    "went to another node", m->id);
			return SLICE_LOST;
		}
		pthread_mutex_lock(&t->mu);
		total = j->row.steps_total;
		stop = j->cancel || j->forget || t->stop;
		pthread_mutex_unlock(&t->mu);
		if (stop)
			return SLICE_STOPPED;
		if (rs->s >= total)
			return SLICE_DONE;
		if (dataset_batch(rs->ds, mlp_rng(m->live), rs->s, &xb, &yb,
		    &rows, f) < 0)
			return SLICE_FAILED;
		rate = step_rate(j, total);
		if (mlp_train_step_fused(m->live, xb, yb, rows, rate,
		    &loss, f) < 0) {
			if (f->code == FAULT_DIVERGED)
				fault_set(f, FAULT_DIVERGED, "diverged at step "
				    "%llu", (unsigned long long)
				    mlp_step(m->live) + 1);
			return SLICE_FAILED;
		}
		if (!mlp_params_finite(m->live)) {
			rs->revert = 1;
			fault_set(f, FAULT_DIVERGED, "diverged at step %llu",
			    (unsigned long long)mlp_step(m->live));
			return SLICE_FAILED;
		}
		if (rs->began > 0) {
			log_info("job %s: first step %.3f s after its start",
			    j->row.id, wallclock_mono() - rs->began);
			rs->began = 0;
		}
		rs->s++;
		rs->new_steps++;
		rs->new_rows += rows;
		if (push_point(rs, mlp_step(m->live), loss, f) < 0)
			return SLICE_FAILED;
		/* an evaluation period (by default the epoch) ended:
		 * measure on the validation set, track the best */
		if (evaluate(t, j, m, loss, f) < 0)
			return SLICE_FAILED;
		pthread_mutex_lock(&t->mu);
		j->row.steps_done = rs->s;
		j->row.loss = loss;
		j->row.lr = rate;
		pthread_mutex_unlock(&t->mu);
		if (rs->stopped)
			return SLICE_DONE;
		now = wallclock_mono();
		if (now - last_flush >= TRAINER_FLUSH_SECONDS ||
		    now - rs->last_ckpt >= t->cfg.checkpoint_every ||
		    rs->npts >= TRAINER_POINTS_MAX) {
			int others;

			if (trainer_loop_flush(t, j, m, now - rs->last_ckpt >=
			    t->cfg.checkpoint_every ||
			    rs->npts >= TRAINER_POINTS_MAX, NULL, f) < 0) {
				slice_end end;

				if (f->code != FAULT_UNAVAILABLE)
					return f->code == FAULT_FENCED ?
					    SLICE_LOST : SLICE_FAILED;
				if (commit_retry(t, j, m, f, &end) < 0)
					return end;
			}
			last_flush = wallclock_mono();
			pthread_mutex_lock(&t->mu);
			others = do_others_waiting(t, m);
			pthread_mutex_unlock(&t->mu);
			if (others)
				return SLICE_YIELD;
		}
	}
}

int
trainer_loop_refresh(trainer *t, model_entry *m, fault *f)
{
	void *blob = NULL;
	size_t len = 0;
	uint64_t step;
	mlp *fresh;

	if (!store_shared(t->st))
		return 0;
	if (store_model_checkpoint(t->st, m->id, &blob, &len, &step, f) < 0)
		return -1;
	fresh = blob_load(blob, len, &m->spec, f);
	free(blob);
	if (fresh == NULL)
		return -1;
	if (step != mlp_step(m->live))
		log_info("model %s: goes on from the checkpoint another node "
		    "stored at step %llu (this node had step %llu)", m->id,
		    (unsigned long long)step,
		    (unsigned long long)mlp_step(m->live));
	mlp_destroy(m->live);
	m->live = fresh;
	return 0;
}

void
trainer_loop_reload(trainer *t, model_entry *m)
{
	void *blob = NULL;
	size_t len = 0;
	mlp *old;
	fault f;

	if (store_model_checkpoint(t->st, m->id, &blob, &len, NULL, &f) < 0 ||
	    (old = blob_load(blob, len, &m->spec, &f)) == NULL) {
		log_warn("model %s: its stored checkpoint was not reloaded: %s",
		    m->id, f.msg);
		free(blob);
		return;
	}
	free(blob);
	mlp_destroy(m->live);
	m->live = old;
	if (registry_publish(m, registry_last_loss(m), wallclock_ms(), &f) < 0)
		log_warn("model %s: snapshot not published: %s", m->id, f.msg);
}

/* Puts m back to its stored checkpoint after training that cannot be
 * kept (weights gone non-finite, or a last commit that failed, e.g. on a
 * full disk): live is reloaded from the store; history past the
 * checkpoint is dropped and final (the job's last row) stored in one
 * transaction; the checkpoint is published either way. */
static int
revert(trainer *t, job *j, model_entry *m, const store_job *final, fault *f)
{
	void *blob = NULL;
	size_t len = 0;
	int64_t now = wallclock_ms();
	double last;
	mlp *old;
	int rc;

	j->rs.npts = 0;
	j->rs.nvpts = 0;
	if (store_model_checkpoint(t->st, m->id, &blob, &len, NULL, f) < 0)
		return -1;
	old = blob_load(blob, len, &m->spec, f);
	free(blob);
	if (old == NULL)
		return -1;
	mlp_destroy(m->live);
	m->live = old;
	last = registry_last_loss(m);
	/* fenced: a node whose lease is gone trims nothing and leaves the
	 * row the new owner writes alone */
	rc = store_model_revert_fenced(t->st, m->id, final, now,
	    lease_epoch(j->hold), &last, f);
	if (registry_publish(m, last, now, rc < 0 ? NULL : f) < 0)
		rc = -1;
	return rc;
}

/* Marks j running (its first slice) in memory; *row gets the row to
 * store (job_begin stores it, fenced, with no lock held). */
static void
job_running(trainer *t, job *j, model_entry *m, store_job *row)
{
	/* the base rate now, so that the running event shows the first
	 * step's rate (job_start sets the same) */
	j->rs.lr = j->opts.lr > 0 ? (float)j->opts.lr : m->spec.opt.lr;
	pthread_mutex_lock(&t->mu);
	j->row.status = STORE_JOB_RUNNING;
	/* an adopted job keeps the time it first started */
	if (!j->adopted || j->row.started_ms == 0)
		j->row.started_ms = wallclock_ms();
	if (t->cfg.leases != NULL)
		snprintf(j->row.node, sizeof j->row.node, "%s",
		    leases_node(t->cfg.leases));
	/* a resumed job keeps the start of the job it continues, and its
	 * first step is the one after that job's checkpoint */
	if (!trainer_job_resumes(j))
		j->row.start_step = (int64_t)mlp_step(m->live);
	else
		j->rs.s = j->row.ckpt_steps;
	j->row.lr = step_rate(j, j->row.steps_total);
	t->queued_jobs--;
	do_count_jobs(m, -1, 1);
	*row = j->row;
	events_job(t->cfg.events, row);
	pthread_mutex_unlock(&t->mu);
}

/* An adopted job's row as the store holds it now (its numbers: the
 * borrowed strings are not kept). */
static int
reread_row(void *arg, const store_job *row)
{
	store_job *out = arg;

	*out = *row;
	out->options = NULL;
	out->error = NULL;
	return 1;
}

/* An adopted job's progress, read again once its lease is held: the
 * claim read the row before, and a commit of the node that lost the job
 * may have landed between (its lease had expired but nobody had taken it
 * yet, so its epoch still held: the take waited for that commit). The
 * row and the checkpoint change in one transaction, so after the take
 * they agree. */
static int
adopt_reread(trainer *t, job *j, fault *f)
{
	store_job now;
	int rc;

	pthread_mutex_lock(&t->mu);
	now = j->row;
	pthread_mutex_unlock(&t->mu);
	rc = store_job_get(t->st, now.id, reread_row, &now, f);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return fault_set(f, FAULT_NO_JOB, "job '%s' is gone",
		    now.id);
	pthread_mutex_lock(&t->mu);
	j->row.steps_total = now.steps_total;
	j->row.ckpt_steps = now.ckpt_steps;
	j->row.steps_done = now.ckpt_steps;
	j->row.start_step = now.start_step;
	j->row.best_step = now.best_step;
	j->row.best_value = now.best_value;
	j->row.best_version = now.best_version;
	j->row.stop_waited = now.stop_waited;
	j->row.stop_mark = now.stop_mark;
	j->row.lr = now.lr;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

/* A job's first slice up to its first step: the model's lease first, then
 * live refreshed from the stored checkpoint (another node may have moved
 * it on), then the start stored with the lease's epoch checked in the
 * same transaction (so the start step it names is the step the job
 * really starts at, and a node whose lease went meanwhile writes
 * nothing: FAULT_FENCED), then the plan (job_start). The job is marked
 * running even when the lease or the refresh failed: its end counts it
 * as a running job. */
static int
job_begin(trainer *t, job *j, model_entry *m, fault *f)
{
	store_job row;
	int rc = lease_acquire(t->cfg.leases, m->id, &j->hold, f);

	if (rc == 0)
		rc = trainer_loop_refresh(t, m, f);
	if (rc == 0 && j->adopted)
		rc = adopt_reread(t, j, f);
	job_running(t, j, m, &row);
	if (rc == 0)
		rc = store_job_update_fenced(t->st, &row, lease_epoch(j->hold),
		    f);
	if (rc == 0)
		rc = job_start(t, j, m, f);
	return rc;
}

/* The last commit of a job that ends final (row: the row it ends with),
 * or the revert to the checkpoint when what was trained cannot be kept.
 * final and row change when that last commit fails. Every write here is
 * fenced by the job's lease: one that finds the lease gone changes
 * nothing, and the job ends interrupted with nothing more written. */
static void
job_settle(trainer *t, job *j, model_entry *m, store_job_status *final,
	   store_job *row, fault *f)
{
	fault ff;
	int rc = -1;

	fault_clear(&ff);
	if (!j->rs.started)
		rc = store_job_update_fenced(t->st, row, lease_epoch(j->hold),
		    &ff);
	else if (!j->rs.revert)
		rc = trainer_loop_flush(t, j, m, 1, row, &ff);
	if (rc < 0 && j->rs.started && ff.code != FAULT_FENCED) {
		/* what was trained cannot be kept: a commit that failed
		 * fails the job with its reason; the model goes back to its
		 * stored checkpoint */
		if (!j->rs.revert) {
			log_error("job %s: final commit failed: %s", j->row.id,
			    ff.msg);
			*f = ff;
			*final = STORE_JOB_FAILED;
			row->status = *final;
			row->error = f->msg;
		}
		rc = revert(t, j, m, row, &ff);
	}
	if (rc < 0 && ff.code == FAULT_FENCED) {
		/* another node has the model: write nothing more */
		lease_mark_lost(t->cfg.leases, j->hold, ff.msg);
		*f = ff;
		*final = STORE_JOB_INTERRUPTED;
		row->status = *final;
		row->error = f->msg;
		trainer_loop_reload(t, m);
		return;
	}
	if (rc < 0)
		log_error("job %s: %s: %s", j->row.id, j->rs.started ?
		    "going back to the checkpoint failed" :
		    "final commit failed", ff.msg);
}

/* row (the row the job ends with) gets the job's training-control
 * fields as they are now (after its last evaluation). */
static void
control_fields(trainer *t, const job *j, store_job *row)
{
	pthread_mutex_lock(&t->mu);
	row->lr = j->row.lr;
	row->best_step = j->row.best_step;
	row->best_value = j->row.best_value;
	row->stopped_step = j->row.stopped_step;
	row->stop_waited = j->row.stop_waited;
	row->stop_mark = j->row.stop_mark;
	pthread_mutex_unlock(&t->mu);
}

/* restore_best: live gets back the parameters of the job's best
 * evaluation (its step, optimizer state and history stay), before the
 * final commit stores them. */
static void
restore_best(job *j, model_entry *m)
{
	run_state *rs = &j->rs;

	if (rs->best != NULL && rs->stop.best_step != (int64_t)mlp_step(
	    m->live)) {
		size_t n;
		float *p = mlp_params(m->live, &n);

		memcpy(p, rs->best, n * sizeof(float));
		log_info("job %s: model %s restored to the weights of its best "
		    "step %lld", j->row.id, m->id,
		    (long long)rs->stop.best_step);
	}
}

/* save_best: the weights of the job's best evaluation become a version of
 * the model named "best", at the best step, with its value (the
 * validation loss, or the training loss without validation). Runs on the
 * model's worker with no lock held; one durable write, fenced by the
 * job's lease: -1 with *lost filled (FAULT_FENCED, nothing stored) when
 * the lease is gone, and the job must write nothing more. Any other
 * failure (the --max-versions cap, say) is logged and leaves the job's
 * end alone (0). */
static int
save_best(trainer *t, job *j, model_entry *m, store_job *row, fault *lost)
{
	run_state *rs = &j->rs;
	store_version_new v;
	store_version out;
	mlp *copy;
	float *p;
	void *blob = NULL;
	size_t n, len = 0;
	fault f;

	if (rs->best == NULL || rs->stop.best_step <= 0)
		return 0;
	fault_clear(&f);
	if ((copy = mlp_create(mlp_get_spec(m->live), &f)) == NULL)
		goto fail;
	p = mlp_params(copy, &n);
	memcpy(p, rs->best, n * sizeof(float));
	mlp_set_step(copy, (uint64_t)rs->stop.best_step);
	if (blob_save(copy, &blob, &len, &f) < 0) {
		mlp_destroy(copy);
		goto fail;
	}
	mlp_destroy(copy);
	memset(&v, 0, sizeof v);
	v.model_id = m->id;
	v.blob = blob;
	v.blob_len = len;
	v.step = (uint64_t)rs->stop.best_step;
	v.loss = rs->vn > 0 ? NAN : rs->stop.best;
	v.val_loss = rs->vn > 0 ? rs->stop.best : NAN;
	v.val_accuracy = NAN;
	v.val_step = rs->vn > 0 ? (uint64_t)rs->stop.best_step : 0;
	v.name = "best";
	v.max_versions = t->cfg.max_versions;
	v.now_ms = wallclock_ms();
	v.epoch = lease_epoch(j->hold);
	if (store_version_create(t->st, &v, &out, &f) < 0) {
		if (f.code == FAULT_FENCED) {
			free(blob);
			*lost = f;
			return -1;
		}
		goto fail;
	}
	free(blob);
	row->best_version = (int64_t)out.version;
	pthread_mutex_lock(&t->mu);
	j->row.best_version = row->best_version;
	pthread_mutex_unlock(&t->mu);
	log_info("job %s: best step %lld saved as version %llu of model %s",
	    j->row.id, (long long)rs->stop.best_step,
	    (unsigned long long)out.version, m->id);
	return 0;
fail:
	free(blob);
	log_warn("job %s: the best step %lld was not saved as a version: %s",
	    j->row.id, (long long)rs->stop.best_step, f.msg);
	return 0;
}

/* A job that yields keeps its rows while the rows kept by all the queued
 * jobs stay within one --job-memory, and frees them otherwise (reading
 * them again gives the same rows in the same order): so memory is about
 * one cap per worker plus one, however many jobs have started. */
static void
job_yield(trainer *t, job *j)
{
	size_t cap = job_memory(t);
	size_t b = dataset_bytes(j->rs.ds);

	pthread_mutex_lock(&t->mu);
	if (t->kept_bytes + b <= cap) {
		t->kept_bytes += b;
		j->rs.kept = b;
	}
	pthread_mutex_unlock(&t->mu);
	if (j->rs.kept == 0) {
		log_debug("job %s: yields; its %zu bytes of rows are freed",
		    j->row.id, b);
		dataset_release(j->rs.ds);
	}
}

/* The last checkpoint of a job about to be handed back (row: its row,
 * still running). A commit fenced off means the model is another node's:
 * no hand-back (*back = 0), the job ends interrupted here. Any other
 * failure hands it back all the same: it goes on from the checkpoint
 * before, to which live returns. */
static void
back_checkpoint(trainer *t, job *j, model_entry *m, int *back,
		store_job_status *final, store_job *row, fault *f)
{
	fault bf;

	fault_clear(&bf);
	if (trainer_loop_flush(t, j, m, 1, row, &bf) == 0)
		return;
	if (bf.code == FAULT_FENCED) {
		lease_mark_lost(t->cfg.leases, j->hold, bf.msg);
		*f = bf;
		*back = 0;
		*final = STORE_JOB_INTERRUPTED;
		row->status = *final;
		row->error = f->msg;
	} else {
		log_warn("job %s: its last checkpoint before the hand-back "
		    "failed (%s); it goes on from the one before", j->row.id,
		    bf.msg);
	}
	trainer_loop_reload(t, m);
}

void
trainer_loop_run(trainer *t, task *tk)
{
	job *j = tk->job;
	model_entry *m = tk->model;
	slice_end end;
	store_job_status final;
	fault f;
	store_job row;
	int lost, back;

	fault_clear(&f);
	pthread_mutex_lock(&t->mu);
	t->kept_bytes -= j->rs.kept;
	j->rs.kept = 0;
	pthread_mutex_unlock(&t->mu);
	if (!j->rs.started)
		j->rs.began = wallclock_mono();
	if (!j->rs.started && job_begin(t, j, m, &f) < 0)
		end = f.code == FAULT_FENCED ? SLICE_LOST : SLICE_FAILED;
	else
		end = run_slice(t, j, m, &f);
	if (end == SLICE_YIELD) {
		job_yield(t, j);
		pthread_mutex_lock(&t->mu);
		do_enqueue(t, tk);
		pthread_mutex_unlock(&t->mu);
		return;
	}
	lost = end == SLICE_LOST;
	pthread_mutex_lock(&t->mu);
	/* several nodes, shutting down: the job goes back to the cluster
	 * after its last checkpoint instead of ending */
	back = end == SLICE_STOPPED && t->stop && !j->cancel && !j->forget &&
	    trainer_cluster_node(t) != NULL;
	if (end == SLICE_DONE)
		final = STORE_JOB_SUCCEEDED;
	else if (end == SLICE_STOPPED || end == SLICE_LOST)
		final = j->cancel && !j->forget && !t->stop && !lost ?
		    STORE_JOB_CANCELLED : STORE_JOB_INTERRUPTED;
	else
		final = STORE_JOB_FAILED;
	/* the row it ends with: stored first, shown after */
	row = j->row;
	pthread_mutex_unlock(&t->mu);
	row.status = back ? row.status : final;
	row.finished_ms = back ? 0 : wallclock_ms();
	row.error = final == STORE_JOB_FAILED || lost ? f.msg : NULL;
	/* the job's last validation point, unless its last epoch gave it */
	if (!j->forget && !lost && !back && final != STORE_JOB_FAILED &&
	    j->rs.started &&
	    j->rs.vn > 0 && j->rs.s > 0 &&
	    mlp_step(m->live) != j->rs.last_val_step) {
		fault vf;

		if (push_validation(&j->rs, m->live, &vf) < 0 ||
		    (j->rs.track && track(t, j, m, j->rs.vpts[
		    j->rs.nvpts - 1].loss, &vf) < 0))
			log_warn("job %s: no final validation point: %s",
			    j->row.id, vf.msg);
	}
	control_fields(t, j, &row);
	if (!j->forget && (final == STORE_JOB_SUCCEEDED ||
	    final == STORE_JOB_CANCELLED) && j->opts.save_best &&
	    save_best(t, j, m, &row, &f) < 0) {
		/* fenced: the model is another node's now */
		lost = 1;
		final = STORE_JOB_INTERRUPTED;
		row.status = final;
		row.error = f.msg;
	}
	if (!j->forget && (final == STORE_JOB_SUCCEEDED ||
	    final == STORE_JOB_CANCELLED))
		restore_best(j, m);
	if (lost) {
		/* nothing more is written: the model is another node's */
		lease_mark_lost(t->cfg.leases, j->hold, f.msg);
		trainer_loop_reload(t, m);
	} else if (back) {
		back_checkpoint(t, j, m, &back, &final, &row, &f);
	} else if (!j->forget) {
		job_settle(t, j, m, &final, &row, &f);
	}
	/* released before a hand-back, so the node that claims the job
	 * can take the lease at once */
	lease_put(t->cfg.leases, j->hold);
	j->hold = NULL;
	log_info("job %s on model %s %s %s after %lld steps%s%s",
	    j->row.id, m->id, back ? "stopped," : "ended",
	    back ? "to be handed back" : store_job_status_name(final),
	    (long long)j->rs.s, row.error != NULL ? ": " : "",
	    row.error != NULL ? row.error : "");
	mlp_trim(m->live, TRAINER_SCRATCH_KEPT);
	pthread_mutex_lock(&t->mu);
	do_count_jobs(m, 0, -1);
	trainer_loop_free(&j->rs);
	if (back) {
		do_hand_back(t, j);
	} else {
		j->row.finished_ms = row.finished_ms;
		do_finish(t, j, final, row.error);
	}
	pthread_mutex_unlock(&t->mu);
	registry_put(m);
	free(tk);
}
