/*
 * trainer_sync: single steps (POST .../step) and weight replacement (PUT
 * .../weights), run by a worker while the caller waits (see trainer.h for
 * the DESIGN and trainer_int.h for the locks).
 *
 * The caller's task lives on its stack: it queues it under trainer.mu and
 * sleeps on the done condition until the worker (or trainer_close, or
 * trainer_forget_model) sets done. The worker commits the result to the
 * store before the reply, without any trainer lock.
 */
#include "trainer_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "eval.h"
#include "log.h"
#include "wallclock.h"

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

/* Commits a step's loss row, weights (after) and validation point. */
static int
commit_step(trainer *t, task *tk, float loss, const void *after,
	    size_t alen, int64_t now, uint64_t epoch, store_loss_point *pt,
	    fault *f)
{
	model_entry *m = tk->model;
	store_progress p;

	memset(&p, 0, sizeof p);
	pt->step = mlp_step(m->live);
	pt->loss = loss;
	pt->time_ms = now;
	p.model_id = m->id;
	p.points = pt;
	p.npoints = 1;
	p.blob = after;
	p.blob_len = alen;
	p.step = pt->step;
	p.last_loss = loss;
	p.now_ms = now;
	p.epoch = epoch;
	if (tk->val != NULL && tk->val->n > 0) {
		/* measured after the update, stored with it */
		if (trainer_loop_measure(m->live, tk->val->x, tk->val->y,
		    tk->val->n, eval_is_onehot(tk->val->y, tk->val->n,
		    m->spec.sizes[m->spec.n_layers]), NULL, &tk->vp, f) < 0)
			return -1;
		p.vpoints = &tk->vp;
		p.nvpoints = 1;
	}
	if (store_progress_commit(t->st, &p, f) < 0)
		return -1;
	registry_add_trained(m, 1, tk->n);
	return 0;
}

void
trainer_sync_run(trainer *t, task *tk)
{
	model_entry *m = tk->model;
	void *before = NULL, *after = NULL;
	size_t blen = 0, alen = 0;
	int64_t now = wallclock_ms();
	store_loss_point pt;
	float loss = NAN;
	fault *f = &tk->err;
	lease_hold *hold = NULL;

	tk->rc = -1;
	/* on PostgreSQL, from the checkpoint another node may have moved on
	 * (the lease, taken below, fences the commit if one holds it now) */
	if (trainer_loop_refresh(t, m, f) < 0 ||
	    blob_save(m->live, &before, &blen, f) < 0)
		goto out;
	if (tk->kind == TASK_STEP) {
		if (mlp_train_step(m->live, tk->x, tk->y, tk->n, tk->lr, &loss,
		    f) < 0)
			goto out;
		if (!mlp_params_finite(m->live)) {
			fault_set(f, FAULT_DIVERGED, "diverged at step %llu: "
			    "the update made a weight non-finite",
			    (unsigned long long)mlp_step(m->live));
			goto restore;
		}
	} else {
		size_t np;

		memcpy(mlp_params(m->live, &np), tk->params,
		    mlp_spec_params(&m->spec) * sizeof(float));
		mlp_reset_optim(m->live);
		if (tk->set_step)
			mlp_set_step(m->live, tk->step);
	}
	/* the model's lease, taken once the update is known to be good (a
	 * refused one writes nothing, not even the lease): 409 when another
	 * node has it; the commit below is fenced by its epoch */
	if (lease_acquire(t->cfg.leases, m->id, &hold, f) < 0 ||
	    blob_save(m->live, &after, &alen, f) < 0)
		goto restore;
	if (tk->kind == TASK_STEP) {
		if (commit_step(t, tk, loss, after, alen, now,
		    lease_epoch(hold), &pt, f) < 0)
			goto restore;
	} else {
		if (store_model_set_weights_fenced(t->st, m->id, after, alen,
		    mlp_step(m->live), now, lease_epoch(hold), f) < 0)
			goto restore;
		loss = tk->set_step ? tk->loss : registry_last_loss(m);
	}
	{
		fault pf;

		if (registry_publish(m, loss, now, &pf) < 0)
			log_warn("model %s: snapshot not published: %s", m->id,
			    pf.msg);
	}
	if (tk->kind == TASK_STEP)
		events_step(t->cfg.events, m->id, &pt, 1);
	tk->step = mlp_step(m->live);
	tk->loss = loss;
	tk->rc = 0;
	goto out;
restore:
	if (f->code == FAULT_FENCED) {
		/* another node has the model: nothing was written */
		lease_mark_lost(t->cfg.leases, hold, f->msg);
		trainer_loop_reload(t, m);
	} else {
		restore_live(m, before, blen);
	}
out:
	lease_put(t->cfg.leases, hold);
	mlp_trim(m->live, TRAINER_SCRATCH_KEPT);
	free(before);
	free(after);
}

/* Queues a sync task and waits for its result. */
static int
run_and_wait(trainer *t, task *tk, fault *f)
{
	pthread_mutex_lock(&t->mu);
	if (do_admit(t, tk->model, 1, f) < 0) {
		pthread_mutex_unlock(&t->mu);
		return -1;
	}
	do_enqueue(t, tk);
	while (!tk->done)
		pthread_cond_wait(&t->done, &t->mu);
	pthread_mutex_unlock(&t->mu);
	if (tk->rc < 0 && f != NULL)
		*f = tk->err;
	return tk->rc;
}

int
trainer_step(trainer *t, model_entry *m, const float *x, const float *y,
	     size_t n, float lr, const trainer_valset *val, uint64_t *step,
	     float *loss, store_val_point *vp, fault *f)
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
	if (run_and_wait(t, &tk, f) < 0)
		return -1;
	*step = tk.step;
	*loss = tk.loss;
	if (vp != NULL && val != NULL && val->n > 0)
		*vp = tk.vp;
	return 0;
}

int
trainer_set_weights(trainer *t, model_entry *m, const float *params,
		    fault *f)
{
	task tk;

	memset(&tk, 0, sizeof tk);
	tk.kind = TASK_WEIGHTS;
	tk.model = m;
	tk.params = params;
	return run_and_wait(t, &tk, f);
}

int
trainer_restore_weights(trainer *t, model_entry *m, const float *params,
			uint64_t step, double loss, fault *f)
{
	task tk;

	memset(&tk, 0, sizeof tk);
	tk.kind = TASK_WEIGHTS;
	tk.model = m;
	tk.params = params;
	tk.set_step = 1;
	tk.step = step;
	tk.loss = (float)loss;
	return run_and_wait(t, &tk, f);
}
