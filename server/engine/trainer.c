/*
 * trainer: job queue and worker threads (see trainer.h for the DESIGN).
 *
 * A train job runs in slices: after each progress commit (every 250 ms) a
 * job that sees a waiting task of another model goes back to the end of
 * the queue with its loop state kept in the job, so one worker serves
 * every model fairly and a single step never waits for someone else's
 * whole job.
 */
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "ids.h"
#include "log.h"
#include "wallclock.h"

#define FLUSH_SECONDS 0.25
/* Scratch a model keeps between tasks (mlp_trim): enough for the batches
 * of small models; a bigger one is freed when its task ends, so idle
 * models hold their parameters and little more (README, "Limits"). */
#define SCRATCH_KEPT ((size_t)1 << 20)
#define MAX_JOB_STEPS 1000000000LL

typedef enum task_kind { TASK_TRAIN, TASK_STEP, TASK_WEIGHTS } task_kind;

/* The loop state of a train job between slices. */
typedef struct run_state {
	int started;
	float *x, *y;           /* all rows, loaded once */
	size_t n;               /* rows */
	uint32_t *idx;          /* row order of the current epoch */
	float *xb, *yb;         /* gathered minibatch */
	size_t bs;              /* rows per step */
	size_t per_epoch;       /* steps per epoch */
	int64_t s;              /* steps done in this job */
	float lr;
	store_loss_point *pts;  /* loss rows not yet committed */
	size_t npts, cappts;
	double last_ckpt;       /* monotonic time of the last checkpoint */
	uint64_t new_steps;     /* steps since the last commit, for metrics */
	uint64_t new_rows;      /* rows those steps used */
	float *vx, *vy;         /* the validation set (vn rows), owned */
	size_t vn;
	int onehot;             /* its targets are one-hot: measure accuracy */
	float *vout;            /* outputs of one chunk of it (see measure) */
	uint64_t last_val_step; /* the step of the last validation point */
	store_val_point *vpts;  /* validation points not yet committed */
	size_t nvpts, capvpts;
	int revert;             /* live's weights are not finite: the job
	                           ends at the stored checkpoint */
} run_state;

typedef struct job {
	store_job row;          /* row.error/options point into the fields */
	char error[FAULT_MSG_MAX];
	char *options;
	train_opts opts;
	int cancel;             /* the API asked to cancel */
	int forget;             /* the model is being deleted */
	int terminal;           /* succeeded/failed/cancelled/interrupted */
	run_state rs;
} job;

typedef struct task {
	task_kind kind;
	model_entry *model;     /* a reference, dropped when the task ends */
	job *job;               /* TASK_TRAIN */
	const float *x, *y;     /* TASK_STEP */
	size_t n;
	float lr;
	const trainer_valset *val; /* TASK_STEP: NULL or a validation set */
	store_val_point vp;     /* its point after the step */
	const float *params;    /* TASK_WEIGHTS */
	int done;               /* sync tasks: the result is in */
	int rc;
	apierr err;
	uint64_t step;
	float loss;
	uint64_t seq;           /* order of arrival, kept when requeued */
	struct task *next;
} task;

struct trainer {
	store *st;
	registry *reg;
	trainer_config cfg;
	pthread_mutex_t mu;
	pthread_cond_t work;    /* a task was queued or a model freed */
	pthread_cond_t done;    /* a task or job finished */
	task *head, *tail;
	uint64_t next_seq;      /* seq for the next new task */
	size_t queued_jobs;
	job **jobs;
	size_t njobs, capjobs;
	pthread_t *threads;
	model_entry **current;  /* per worker: the model it runs, or NULL */
	unsigned started;
	int stop;               /* workers must finish up */
	int closed;             /* no new work accepted */
};

typedef struct worker_arg {
	trainer *t;
	unsigned slot;
} worker_arg;

static int
model_running(trainer *t, const model_entry *m)
{
	for (unsigned i = 0; i < t->started; i++)
		if (t->current[i] == m)
			return 1;
	return 0;
}

/* Appends tk; a new task gets the next arrival number, a requeued slice
 * keeps its own, so do_take still runs its model's tasks in order. */
static void
enqueue(trainer *t, task *tk)
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
unlink_task(trainer *t, task *tk)
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
		if (!model_running(t, tk->model) && !do_has_elder(t, tk)) {
			unlink_task(t, tk);
			return tk;
		}
	}
	return NULL;
}

/* True when some queued task belongs to another model than m. */
static int
do_others_waiting(trainer *t, const model_entry *m)
{
	for (task *tk = t->head; tk; tk = tk->next)
		if (tk->model != m && !model_running(t, tk->model))
			return 1;
	return 0;
}

static void
set_counts(model_entry *m, int dq, int dr)
{
	pthread_mutex_lock(&m->mu);
	m->jobs_queued += dq;
	m->jobs_running += dr;
	do_registry_touch(m);
	pthread_mutex_unlock(&m->mu);
}

static void
view_of(const job *j, trainer_job_view *v)
{
	v->row = j->row;
	memcpy(v->error, j->error, sizeof v->error);
	v->row.error = j->row.error ? v->error : NULL;
}

static void
free_run_state(run_state *rs)
{
	free(rs->x);
	free(rs->y);
	free(rs->idx);
	free(rs->xb);
	free(rs->yb);
	free(rs->pts);
	free(rs->vx);
	free(rs->vy);
	free(rs->vout);
	free(rs->vpts);
	memset(rs, 0, sizeof *rs);
}

static void
job_free(job *j)
{
	if (j == NULL)
		return;
	free_run_state(&j->rs);
	free(j->options);
	free(j);
}

/* Moves j to a final status (caller holds t->mu). */
static void
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

/* A copy of j's row for the store (caller holds t->mu). */
static store_job
do_row(const job *j)
{
	return j->row;
}

/* Commits buffered loss rows, the job's progress (or final, the row it
 * ends with) and, when checkpoint, the weights; then publishes a snapshot
 * and the step event. Runs without t->mu. */
static int
flush(trainer *t, job *j, model_entry *m, int checkpoint,
      const store_job *final, fault *f)
{
	run_state *rs = &j->rs;
	store_progress p;
	store_job row;
	void *blob = NULL;
	size_t len = 0;
	double last = rs->npts ? rs->pts[rs->npts - 1].loss : j->row.loss;
	int64_t now = wallclock_ms();
	size_t committed;
	int rc;

	if (checkpoint && blob_save(m->live, &blob, &len, f) < 0)
		return -1;
	if (final != NULL) {
		row = *final;
	} else {
		pthread_mutex_lock(&t->mu);
		row = do_row(j);
		pthread_mutex_unlock(&t->mu);
	}
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
	rc = store_progress_commit(t->st, &p, f);
	free(blob);
	if (rc < 0)
		return -1;
	committed = rs->npts;
	rs->npts = 0;
	rs->nvpts = 0;
	if (checkpoint)
		rs->last_ckpt = wallclock_mono();
	atomic_fetch_add_explicit(&m->trained_steps, rs->new_steps,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&m->trained_samples, rs->new_rows,
	    memory_order_relaxed);
	rs->new_steps = rs->new_rows = 0;
	rc = registry_publish(m, last, now, f);
	/* the points stay in rs->pts until the next push_point */
	events_step(t->cfg.events, m->id, rs->pts, committed);
	return rc;
}

/* Rows validation_split holds out of n: that fraction of them, rounded
 * down, but at least one. */
static int64_t
held_out(int64_t n, double split)
{
	int64_t k;

	if (split <= 0.0 || n <= 0)
		return 0;
	k = (int64_t)((double)n * split);
	return k < 1 ? 1 : k;
}

/* True when every row of y (n x w, w >= 2) has one 1 and w - 1 zeros. */
static int
is_onehot(const float *y, size_t n, size_t w)
{
	if (w < 2)
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t ones = 0;

		for (size_t k = 0; k < w; k++) {
			float v = y[i * w + k];

			if (v == 1.0f)
				ones++;
			else if (v != 0.0f)
				return 0;
		}
		if (ones != 1)
			return 0;
	}
	return 1;
}

/* Rows of one forward pass over a validation set: bounds the model's
 * scratch (and stays under MLP_MAX_BATCH) however many rows are held out. */
#define VAL_CHUNK ((size_t)4096)

/* The rows of vout that measure() needs for a set of vn rows. */
static size_t
val_out_rows(size_t vn)
{
	return vn < VAL_CHUNK ? vn : VAL_CHUNK;
}

/* The index of the largest of v[0..w). */
static size_t
argmax(const float *v, size_t w)
{
	size_t best = 0;

	for (size_t k = 1; k < w; k++)
		if (v[k] > v[best])
			best = k;
	return best;
}

/* Measures live on (vx, vy), vn rows, into p at live's step: the loss
 * and, when onehot, the share of rows whose largest output is where the
 * target's 1 is (vout: scratch for val_out_rows(vn) x NL outputs). Runs
 * in chunks; the loss is their row-weighted mean, as one pass would give. */
static int
measure(mlp *live, const float *vx, const float *vy, size_t vn, int onehot,
	float *vout, store_val_point *p, fault *f)
{
	const mlp_spec *s = mlp_get_spec(live);
	size_t n0 = s->sizes[0], w = s->sizes[s->n_layers], hits = 0;
	double sum = 0.0;

	for (size_t r = 0; r < vn; r += VAL_CHUNK) {
		size_t c = vn - r < VAL_CHUNK ? vn - r : VAL_CHUNK;
		float loss;

		if (mlp_evaluate(live, vx + r * n0, vy + r * w, c, &loss,
		    f) < 0)
			return -1;
		sum += (double)loss * (double)c;
		if (!onehot)
			continue;
		if (mlp_predict(live, vx + r * n0, c, vout, f) < 0)
			return -1;
		for (size_t i = 0; i < c; i++)
			hits += argmax(vout + i * w, w) ==
			    argmax(vy + (r + i) * w, w);
	}
	p->step = mlp_step(live);
	p->loss = sum / (double)vn;
	p->accuracy = onehot ? (double)hits / (double)vn : NAN;
	p->time_ms = wallclock_ms();
	return 0;
}

/* measure() for a one-off set (a /step's). */
static int
measure_once(mlp *live, const trainer_valset *v, store_val_point *p,
	     fault *f)
{
	const mlp_spec *s = mlp_get_spec(live);
	size_t w = s->sizes[s->n_layers];
	int onehot = is_onehot(v->y, v->n, w), rc;
	float *vout = NULL;

	if (onehot && (vout = malloc(val_out_rows(v->n) * w *
	    sizeof(float))) == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory validating");
	rc = measure(live, v->x, v->y, v->n, onehot, vout, p, f);
	free(vout);
	return rc;
}

/* Measures the job's model on its validation set; buffers the point. */
static int
push_validation(run_state *rs, mlp *live, fault *f)
{
	if (rs->nvpts == rs->capvpts) {
		size_t cap = rs->capvpts ? 2 * rs->capvpts : 16;
		store_val_point *p = realloc(rs->vpts, cap * sizeof *p);

		if (p == NULL)
			return fault_set(f, FAULT_NOMEM, "out of memory");
		rs->vpts = p;
		rs->capvpts = cap;
	}
	if (measure(live, rs->vx, rs->vy, rs->vn, rs->onehot, rs->vout,
	    &rs->vpts[rs->nvpts], f) < 0)
		return -1;
	rs->last_val_step = rs->vpts[rs->nvpts++].step;
	return 0;
}

/* Moves the rows validation_split holds out of rs's loaded rows into its
 * validation set: the last k of a shuffle seeded with the model's seed
 * (so every job on the same rows holds out the same ones). The rows left
 * keep their stored order. */
static int
hold_out(run_state *rs, const mlp_spec *s, double split, fault *f)
{
	size_t n0 = s->sizes[0], nl = s->sizes[s->n_layers];
	size_t n = rs->n, k = (size_t)held_out((int64_t)n, split), keep = 0;
	uint32_t *perm = NULL;
	unsigned char *held = NULL;
	rng r;
	int rc = -1;

	if (k >= n)
		return fault_set(f, FAULT_INVALID, "validation_split holds "
		    "out all %zu rows; none is left to train on", n);
	perm = malloc(n * sizeof *perm);
	held = calloc(n, 1);
	rs->vx = malloc(k * n0 * sizeof(float));
	rs->vy = malloc(k * nl * sizeof(float));
	if (perm == NULL || held == NULL || rs->vx == NULL || rs->vy == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory for the validation "
		    "rows");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	rng_seed(&r, s->seed);
	rng_shuffle(&r, perm, n);
	for (size_t v = 0; v < k; v++) {
		size_t i = perm[n - k + v];

		held[i] = 1;
		memcpy(rs->vx + v * n0, rs->x + i * n0, n0 * sizeof(float));
		memcpy(rs->vy + v * nl, rs->y + i * nl, nl * sizeof(float));
	}
	for (size_t i = 0; i < n; i++) {
		if (held[i])
			continue;
		if (keep != i) {
			memmove(rs->x + keep * n0, rs->x + i * n0,
			    n0 * sizeof(float));
			memmove(rs->y + keep * nl, rs->y + i * nl,
			    nl * sizeof(float));
		}
		keep++;
	}
	rs->n = keep;
	rs->vn = k;
	rc = 0;
out:
	free(perm);
	free(held);
	return rc;
}

/* Loads the rows and sizes the buffers on a job's first slice. */
static int
job_start(trainer *t, job *j, model_entry *m, fault *f)
{
	run_state *rs = &j->rs;
	const mlp_spec *s = &m->spec;
	size_t n0 = s->sizes[0], nl = s->sizes[s->n_layers];
	int64_t total;
	double t0 = wallclock_mono();

	if (store_batches_load(t->st, m->id, (uint32_t)n0, (uint32_t)nl,
	    &rs->x, &rs->y, &rs->n, f) < 0)
		return -1;
	log_info("job %s: loaded %zu rows in %.3f s", j->row.id, rs->n,
	    wallclock_mono() - t0);
	if (rs->n == 0)
		return fault_set(f, FAULT_INVALID, "the model has no training "
		    "data");
	if (j->opts.validation_split > 0 &&
	    hold_out(rs, s, j->opts.validation_split, f) < 0)
		return -1;
	if (rs->vn > 0) {
		rs->onehot = is_onehot(rs->vy, rs->vn, nl);
		if (rs->onehot && (rs->vout = malloc(val_out_rows(rs->vn) *
		    nl * sizeof(float))) == NULL)
			return fault_set(f, FAULT_NOMEM, "out of memory for "
			    "the validation rows");
	}
	rs->bs = (size_t)j->opts.batch_size < rs->n ?
	    (size_t)j->opts.batch_size : rs->n;
	rs->per_epoch = (rs->n + rs->bs - 1) / rs->bs;
	total = j->opts.steps ? j->opts.steps :
	    j->opts.epochs * (int64_t)rs->per_epoch;
	if (total > MAX_JOB_STEPS)
		total = MAX_JOB_STEPS;
	rs->idx = malloc(rs->n * sizeof *rs->idx);
	rs->xb = malloc(rs->bs * n0 * sizeof(float));
	rs->yb = malloc(rs->bs * nl * sizeof(float));
	if (rs->idx == NULL || rs->xb == NULL || rs->yb == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory for the "
		    "training data");
	for (size_t i = 0; i < rs->n; i++)
		rs->idx[i] = (uint32_t)i;
	rs->lr = j->opts.lr > 0 ? (float)j->opts.lr : s->opt.lr;
	rs->last_ckpt = wallclock_mono();
	rs->started = 1;
	pthread_mutex_lock(&t->mu);
	j->row.steps_total = total;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

/* Appends a loss row to the buffer. */
static int
push_point(run_state *rs, uint64_t step, float loss, fault *f)
{
	if (rs->npts == rs->cappts) {
		size_t cap = rs->cappts ? 2 * rs->cappts : 1024;
		store_loss_point *p = realloc(rs->pts, cap * sizeof *p);

		if (p == NULL)
			return fault_set(f, FAULT_NOMEM, "out of memory");
		rs->pts = p;
		rs->cappts = cap;
	}
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
	SLICE_FAILED    /* f says why */
} slice_end;

/* Runs steps until the job ends or, after a commit, others are waiting.
 * A step whose loss is not finite changes nothing (core) and ends the
 * job at the step before it; one that leaves a weight not finite (an
 * update that overflowed) ends it at the stored checkpoint (rs->revert).
 * Either way the job's error is "diverged at step N". */
static slice_end
run_slice(trainer *t, job *j, model_entry *m, fault *f)
{
	run_state *rs = &j->rs;
	const mlp_spec *s = &m->spec;
	size_t n0 = s->sizes[0], nl = s->sizes[s->n_layers];
	double last_flush = wallclock_mono();

	for (;;) {
		int64_t total, stop;
		size_t pos, rows;
		const float *xb, *yb;
		float loss;
		double now;

		pthread_mutex_lock(&t->mu);
		total = j->row.steps_total;
		stop = j->cancel || j->forget || t->stop;
		pthread_mutex_unlock(&t->mu);
		if (stop)
			return SLICE_STOPPED;
		if (rs->s >= total)
			return SLICE_DONE;
		pos = (size_t)(rs->s % (int64_t)rs->per_epoch);
		if (pos == 0 && j->opts.shuffle)
			rng_shuffle(mlp_rng(m->live), rs->idx, rs->n);
		rows = rs->n - pos * rs->bs < rs->bs ? rs->n - pos * rs->bs :
		    rs->bs;
		if (j->opts.shuffle) {
			for (size_t r = 0; r < rows; r++) {
				size_t k = rs->idx[pos * rs->bs + r];

				memcpy(rs->xb + r * n0, rs->x + k * n0,
				    n0 * sizeof(float));
				memcpy(rs->yb + r * nl, rs->y + k * nl,
				    nl * sizeof(float));
			}
			xb = rs->xb;
			yb = rs->yb;
		} else {
			xb = rs->x + pos * rs->bs * n0;
			yb = rs->y + pos * rs->bs * nl;
		}
		if (mlp_train_step(m->live, xb, yb, rows, rs->lr, &loss,
		    f) < 0) {
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
		rs->s++;
		rs->new_steps++;
		rs->new_rows += rows;
		if (push_point(rs, mlp_step(m->live), loss, f) < 0)
			return SLICE_FAILED;
		/* an epoch ended: measure on the validation set */
		if (rs->vn > 0 && rs->s % (int64_t)rs->per_epoch == 0 &&
		    push_validation(rs, m->live, f) < 0)
			return SLICE_FAILED;
		pthread_mutex_lock(&t->mu);
		j->row.steps_done = rs->s;
		j->row.loss = loss;
		pthread_mutex_unlock(&t->mu);
		now = wallclock_mono();
		if (now - last_flush >= FLUSH_SECONDS) {
			int others;

			if (flush(t, j, m, now - rs->last_ckpt >=
			    t->cfg.checkpoint_every, NULL, f) < 0)
				return SLICE_FAILED;
			last_flush = wallclock_mono();
			pthread_mutex_lock(&t->mu);
			others = do_others_waiting(t, m);
			pthread_mutex_unlock(&t->mu);
			if (others)
				return SLICE_YIELD;
		}
	}
}

/* Puts m back to its stored checkpoint after training that cannot be
 * kept (weights gone non-finite, or a last commit that failed, e.g. on a
 * full disk): live is reloaded from the store; history past the
 * checkpoint is dropped and final (the job's last row) stored in one
 * transaction; the checkpoint is published either way. No t->mu. */
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
	pthread_mutex_lock(&m->mu);
	last = m->last_loss;
	pthread_mutex_unlock(&m->mu);
	rc = store_model_revert(t->st, m->id, final, now, &last, f);
	if (registry_publish(m, last, now, rc < 0 ? NULL : f) < 0)
		rc = -1;
	return rc;
}

/* Runs one slice of a train job and settles what follows. */
static void
run_train(trainer *t, task *tk)
{
	job *j = tk->job;
	model_entry *m = tk->model;
	slice_end end;
	store_job_status final;
	fault f;
	store_job row;

	fault_clear(&f);
	if (!j->rs.started) {
		pthread_mutex_lock(&t->mu);
		j->row.status = STORE_JOB_RUNNING;
		j->row.started_ms = wallclock_ms();
		t->queued_jobs--;
		set_counts(m, -1, 1);
		row = do_row(j);
		events_job(t->cfg.events, &row);
		pthread_mutex_unlock(&t->mu);
		if (store_job_update(t->st, &row, &f) < 0 ||
		    job_start(t, j, m, &f) < 0)
			end = SLICE_FAILED;
		else
			end = run_slice(t, j, m, &f);
	} else {
		end = run_slice(t, j, m, &f);
	}
	if (end == SLICE_YIELD) {
		pthread_mutex_lock(&t->mu);
		enqueue(t, tk);
		pthread_mutex_unlock(&t->mu);
		return;
	}
	pthread_mutex_lock(&t->mu);
	if (end == SLICE_DONE)
		final = STORE_JOB_SUCCEEDED;
	else if (end == SLICE_STOPPED)
		final = j->cancel && !j->forget && !t->stop ?
		    STORE_JOB_CANCELLED : STORE_JOB_INTERRUPTED;
	else
		final = STORE_JOB_FAILED;
	/* the row it ends with: stored first, shown after */
	row = do_row(j);
	pthread_mutex_unlock(&t->mu);
	row.status = final;
	row.finished_ms = wallclock_ms();
	row.error = final == STORE_JOB_FAILED ? f.msg : NULL;
	/* the job's last validation point, unless its last epoch gave it */
	if (!j->forget && final != STORE_JOB_FAILED && j->rs.started &&
	    j->rs.vn > 0 && j->rs.s > 0 &&
	    mlp_step(m->live) != j->rs.last_val_step) {
		fault vf;

		if (push_validation(&j->rs, m->live, &vf) < 0)
			log_warn("job %s: no final validation point: %s",
			    j->row.id, vf.msg);
	}
	if (!j->forget) {
		fault ff;
		int rc = -1;

		fault_clear(&ff);
		/* the last commit: loss rows, weights and the final status */
		if (!j->rs.started)
			rc = store_job_update(t->st, &row, &ff);
		else if (!j->rs.revert)
			rc = flush(t, j, m, 1, &row, &ff);
		if (rc < 0 && j->rs.started) {
			/* what was trained cannot be kept: a commit that
			 * failed fails the job with its reason; the model
			 * goes back to its stored checkpoint */
			if (!j->rs.revert) {
				log_error("job %s: final commit failed: %s",
				    j->row.id, ff.msg);
				f = ff;
				final = STORE_JOB_FAILED;
				row.status = final;
				row.error = f.msg;
			}
			rc = revert(t, j, m, &row, &ff);
		}
		if (rc < 0)
			log_error("job %s: %s: %s", j->row.id, j->rs.started ?
			    "going back to the checkpoint failed" :
			    "final commit failed", ff.msg);
	}
	log_info("job %s on model %s ended %s after %lld steps%s%s",
	    j->row.id, m->id, store_job_status_name(final),
	    (long long)j->rs.s, final == STORE_JOB_FAILED ? ": " : "",
	    final == STORE_JOB_FAILED ? f.msg : "");
	mlp_trim(m->live, SCRATCH_KEPT);
	pthread_mutex_lock(&t->mu);
	set_counts(m, 0, -1);
	free_run_state(&j->rs);
	j->row.finished_ms = row.finished_ms;
	do_finish(t, j, final, row.error);
	pthread_mutex_unlock(&t->mu);
	registry_put(m);
	free(tk);
}

/* Puts live back to the state held in blob after a failed commit. */
static void
restore_live(model_entry *m, const void *blob, size_t len)
{
	fault f;
	mlp *old = blob_load(blob, len, &m->spec, &f);

	if (old == NULL) {
		log_error("model %s: cannot restore weights: %s", m->id,
		    f.msg);
		return;
	}
	mlp_destroy(m->live);
	m->live = old;
}

/* One step or a weight replacement, committed before the reply. */
static void
run_sync(trainer *t, task *tk)
{
	model_entry *m = tk->model;
	void *before = NULL, *after = NULL;
	size_t blen = 0, alen = 0;
	int64_t now = wallclock_ms();
	store_loss_point pt;
	store_progress p;
	float loss = NAN;
	fault f;

	tk->rc = -1;
	if (blob_save(m->live, &before, &blen, &f) < 0) {
		apierr_from_fault(&tk->err, &f);
		goto out;
	}
	if (tk->kind == TASK_STEP) {
		if (mlp_train_step(m->live, tk->x, tk->y, tk->n, tk->lr, &loss,
		    &f) < 0) {
			apierr_from_fault(&tk->err, &f);
			goto out;
		}
		if (!mlp_params_finite(m->live)) {
			fault_set(&f, FAULT_DIVERGED, "diverged at step %llu: "
			    "the update made a weight non-finite",
			    (unsigned long long)mlp_step(m->live));
			goto restore;
		}
	} else {
		size_t np;

		memcpy(mlp_params(m->live, &np), tk->params,
		    mlp_spec_params(&m->spec) * sizeof(float));
		mlp_reset_optim(m->live);
	}
	if (blob_save(m->live, &after, &alen, &f) < 0)
		goto restore;
	if (tk->kind == TASK_STEP) {
		memset(&p, 0, sizeof p);
		pt.step = mlp_step(m->live);
		pt.loss = loss;
		pt.time_ms = now;
		p.model_id = m->id;
		p.points = &pt;
		p.npoints = 1;
		p.blob = after;
		p.blob_len = alen;
		p.step = pt.step;
		p.last_loss = loss;
		p.now_ms = now;
		if (tk->val != NULL && tk->val->n > 0) {
			/* measured after the update, stored with it */
			if (measure_once(m->live, tk->val, &tk->vp, &f) < 0)
				goto restore;
			p.vpoints = &tk->vp;
			p.nvpoints = 1;
		}
		if (store_progress_commit(t->st, &p, &f) < 0)
			goto restore;
		atomic_fetch_add_explicit(&m->trained_steps, 1,
		    memory_order_relaxed);
		atomic_fetch_add_explicit(&m->trained_samples, tk->n,
		    memory_order_relaxed);
	} else {
		if (store_model_set_weights(t->st, m->id, after, alen,
		    mlp_step(m->live), now, &f) < 0)
			goto restore;
		pthread_mutex_lock(&m->mu);
		loss = m->last_loss;
		pthread_mutex_unlock(&m->mu);
	}
	if (registry_publish(m, loss, now, &f) < 0)
		log_warn("model %s: snapshot not published: %s", m->id, f.msg);
	if (tk->kind == TASK_STEP)
		events_step(t->cfg.events, m->id, &pt, 1);
	tk->step = mlp_step(m->live);
	tk->loss = loss;
	tk->rc = 0;
	goto out;
restore:
	apierr_from_fault(&tk->err, &f);
	restore_live(m, before, blen);
out:
	mlp_trim(m->live, SCRATCH_KEPT);
	free(before);
	free(after);
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
		/* run_train frees or requeues tk: read nothing of it after */
		if (kind == TASK_TRAIN)
			run_train(t, tk);
		else
			run_sync(t, tk);
		pthread_mutex_lock(&t->mu);
		t->current[slot] = NULL;
		if (kind != TASK_TRAIN) {
			/* tk lives on the waiting thread's stack */
			tk->done = 1;
		}
		pthread_cond_broadcast(&t->done);
		pthread_cond_broadcast(&t->work);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static int
add_job(trainer *t, job *j, fault *f)
{
	if (t->njobs == t->capjobs) {
		size_t cap = t->capjobs ? 2 * t->capjobs : 64;
		job **p = realloc(t->jobs, cap * sizeof *p);

		if (p == NULL)
			return fault_set(f, FAULT_NOMEM, "out of memory");
		t->jobs = p;
		t->capjobs = cap;
	}
	t->jobs[t->njobs++] = j;
	return 0;
}

static job *
find_job(trainer *t, const char *id)
{
	for (size_t i = 0; i < t->njobs; i++)
		if (strcmp(t->jobs[i]->row.id, id) == 0)
			return t->jobs[i];
	return NULL;
}

/* Store callback: a job from an earlier run, as history. */
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
	if (j->options == NULL || add_job(t, j, &f) < 0) {
		job_free(j);
		return -1;
	}
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
		unlink_task(t, tk);
		if (tk->kind == TASK_TRAIN) {
			job *j = tk->job;
			store_job row;
			fault f;

			if (j->rs.started) {
				/* a sliced job: checkpoint what it did */
				pthread_mutex_unlock(&t->mu);
				flush(t, j, tk->model, 1, NULL, &f);
				pthread_mutex_lock(&t->mu);
				set_counts(tk->model, 0, -1);
			} else {
				t->queued_jobs--;
				set_counts(tk->model, -1, 0);
			}
			do_finish(t, j, STORE_JOB_INTERRUPTED, NULL);
			row = do_row(j);
			pthread_mutex_unlock(&t->mu);
			store_job_update(t->st, &row, &f);
			pthread_mutex_lock(&t->mu);
			free_run_state(&j->rs);
			registry_put(tk->model);
			free(tk);
		} else {
			apierr_set(&tk->err, 503, "shutting_down",
			    "mlpd is shutting down");
			tk->err.retry_after = 5;
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
	free(t->threads);
	free(t->current);
	pthread_cond_destroy(&t->work);
	pthread_cond_destroy(&t->done);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* 503 when closed, 404 when m was deleted, 409 when a job holds it. */
static int
do_admit(trainer *t, model_entry *m, int busy_check, apierr *e)
{
	int deleted, busy;

	if (t->closed) {
		apierr_set(e, 503, "shutting_down", "mlpd is shutting down");
		e->retry_after = 5;
		return -1;
	}
	pthread_mutex_lock(&m->mu);
	deleted = m->deleted;
	busy = m->jobs_queued + m->jobs_running;
	pthread_mutex_unlock(&m->mu);
	if (deleted)
		return apierr_set(e, 404, "model_not_found", "no model with "
		    "id '%s'", m->id);
	if (busy_check && busy)
		return apierr_set(e, 409, "model_busy", "model '%s' has a "
		    "training job queued or running; cancel it or wait",
		    m->id);
	return 0;
}

int
trainer_submit(trainer *t, model_entry *m, const train_opts *o,
	       trainer_valset *val, trainer_job_view *out, apierr *e)
{
	job *j = NULL;
	task *tk = NULL;
	int64_t samples, per_epoch, total;
	size_t bs;
	fault f;

	pthread_mutex_lock(&m->mu);
	samples = m->samples;
	pthread_mutex_unlock(&m->mu);
	if (samples <= 0)
		return apierr_set(e, 409, "no_training_data", "model '%s' has "
		    "no training data; POST batches first", m->id);
	if (o->validation_split > 0) {
		/* steps count the rows left to train on (see hold_out) */
		int64_t k = held_out(samples, o->validation_split);

		if (k >= samples)
			return apierr_set(e, 422, "invalid_value",
			    "validation_split %g holds out all %lld rows of "
			    "model '%s'; none is left to train on",
			    o->validation_split, (long long)samples, m->id);
		samples -= k;
	}
	bs = (size_t)o->batch_size < (size_t)samples ? (size_t)o->batch_size
	    : (size_t)samples;
	per_epoch = (samples + (int64_t)bs - 1) / (int64_t)bs;
	total = o->steps ? o->steps : o->epochs * per_epoch;
	if (total > MAX_JOB_STEPS)
		return apierr_set(e, 422, "invalid_value", "the job would run "
		    "%lld steps; at most %lld are allowed", (long long)total,
		    MAX_JOB_STEPS);
	j = calloc(1, sizeof *j);
	tk = calloc(1, sizeof *tk);
	if (j == NULL || tk == NULL || (j->options =
	    codec_train_opts_text(o)) == NULL) {
		apierr_set(e, 503, "out_of_memory", "out of memory");
		goto fail;
	}
	ids_new('j', j->row.id);
	snprintf(j->row.model_id, sizeof j->row.model_id, "%s", m->id);
	j->row.status = STORE_JOB_QUEUED;
	j->row.steps_total = total;
	j->row.loss = NAN;
	j->row.options = j->options;
	j->row.created_ms = wallclock_ms();
	j->opts = *o;
	tk->kind = TASK_TRAIN;
	tk->job = j;
	pthread_mutex_lock(&t->mu);
	if (do_admit(t, m, 0, e) < 0)
		goto fail_locked;
	if (t->queued_jobs >= t->cfg.max_queue) {
		apierr_set(e, 503, "queue_full", "the job queue is full (%zu "
		    "jobs); try again later", t->cfg.max_queue);
		e->retry_after = 1;
		goto fail_locked;
	}
	if (store_job_insert(t->st, &j->row, &f) < 0 ||
	    add_job(t, j, &f) < 0) {
		apierr_from_fault(e, &f);
		goto fail_locked;
	}
	tk->model = registry_ref(m);
	if (val != NULL && val->n > 0) {
		/* the job owns the set from here on */
		j->rs.vx = val->x;
		j->rs.vy = val->y;
		j->rs.vn = val->n;
		val->x = val->y = NULL;
		val->n = 0;
	}
	t->queued_jobs++;
	set_counts(m, 1, 0);
	view_of(j, out);
	events_job(t->cfg.events, &j->row);
	enqueue(t, tk);
	pthread_mutex_unlock(&t->mu);
	return 0;
fail_locked:
	pthread_mutex_unlock(&t->mu);
fail:
	job_free(j);
	free(tk);
	return -1;
}

/* Queues a sync task and waits for its result. */
static int
run_and_wait(trainer *t, task *tk, apierr *e)
{
	pthread_mutex_lock(&t->mu);
	if (do_admit(t, tk->model, 1, e) < 0) {
		pthread_mutex_unlock(&t->mu);
		return -1;
	}
	enqueue(t, tk);
	while (!tk->done)
		pthread_cond_wait(&t->done, &t->mu);
	pthread_mutex_unlock(&t->mu);
	if (tk->rc < 0)
		*e = tk->err;
	return tk->rc;
}

int
trainer_step(trainer *t, model_entry *m, const float *x, const float *y,
	     size_t n, float lr, const trainer_valset *val, uint64_t *step,
	     float *loss, store_val_point *vp, apierr *e)
{
	task tk;

	memset(&tk, 0, sizeof tk);
	tk.kind = TASK_STEP;
	tk.model = m;
	tk.x = x;
	tk.y = y;
	tk.n = n;
	tk.lr = lr;
	tk.val = val;
	if (run_and_wait(t, &tk, e) < 0)
		return -1;
	*step = tk.step;
	*loss = tk.loss;
	if (vp != NULL && val != NULL && val->n > 0)
		*vp = tk.vp;
	return 0;
}

int
trainer_set_weights(trainer *t, model_entry *m, const float *params,
		    apierr *e)
{
	task tk;

	memset(&tk, 0, sizeof tk);
	tk.kind = TASK_WEIGHTS;
	tk.model = m;
	tk.params = params;
	return run_and_wait(t, &tk, e);
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

int
trainer_cancel(trainer *t, const char *job_id, trainer_job_view *out,
	       apierr *e)
{
	job *j;
	task *tk;
	store_job row;
	fault f;

	pthread_mutex_lock(&t->mu);
	j = find_job(t, job_id);
	if (j == NULL) {
		pthread_mutex_unlock(&t->mu);
		return apierr_set(e, 404, "job_not_found", "no job with id "
		    "'%s'", job_id);
	}
	if (j->terminal) {
		view_of(j, out);
		pthread_mutex_unlock(&t->mu);
		return apierr_set(e, 409, "job_finished", "job '%s' already "
		    "ended %s", job_id, store_job_status_name(j->row.status));
	}
	tk = do_task_of(t, j);
	if (tk != NULL && !j->rs.started) {
		/* still waiting: it never ran */
		unlink_task(t, tk);
		t->queued_jobs--;
		set_counts(tk->model, -1, 0);
		do_finish(t, j, STORE_JOB_CANCELLED, NULL);
		free_run_state(&j->rs); /* its validation set, if any */
		row = do_row(j);
		view_of(j, out);
		pthread_mutex_unlock(&t->mu);
		if (store_job_update(t->st, &row, &f) < 0)
			log_error("job %s: %s", job_id, f.msg);
		registry_put(tk->model);
		free(tk);
		return 0;
	}
	j->cancel = 1;
	if (tk != NULL) {
		/* sliced out: let a worker pick it up now to stop it */
		pthread_cond_broadcast(&t->work);
	}
	while (!j->terminal)
		pthread_cond_wait(&t->done, &t->mu);
	view_of(j, out);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int
trainer_job_get(trainer *t, const char *job_id, trainer_job_view *out)
{
	job *j;

	pthread_mutex_lock(&t->mu);
	j = find_job(t, job_id);
	if (j)
		view_of(j, out);
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
				view_of(t->jobs[i], &out[k++]);
	}
	pthread_mutex_unlock(&t->mu);
	/* view_of pointed error at the element it filled; still valid */
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
		unlink_task(t, tk);
		if (tk->kind == TASK_TRAIN) {
			if (tk->job->rs.started) {
				set_counts(m, 0, -1);
			} else {
				t->queued_jobs--;
				set_counts(m, -1, 0);
			}
			tk->job->forget = 1;
			do_finish(t, tk->job, STORE_JOB_CANCELLED, NULL);
			registry_put(tk->model);
			free(tk);
		} else {
			apierr_set(&tk->err, 404, "model_not_found",
			    "model '%s' was deleted", m->id);
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
	while (model_running(t, m))
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
