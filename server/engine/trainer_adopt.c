/*
 * trainer_adopt: the trainer's side of several nodes sharing one store: a
 * job the claimer took from the store (offered, handed back, or left by a
 * dead node) adopted into this node's job list and queue, and the hooks
 * the claimer polls and is woken by (trainer_has_room, trainer_on_room,
 * trainer_offered_here). Everything here runs under the trainer's mutex,
 * as trainer.c does (trainer_int.h for the locks).
 */
#include "trainer_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Puts j into the job list in place of old (a job that ended here), or
 * at its end (room made by do_grow_jobs). */
static void
do_place(trainer *t, job *j, job *old)
{
	for (size_t i = 0; old != NULL && i < t->njobs; i++) {
		if (t->jobs[i] == old) {
			t->jobs[i] = j;
			job_free(old);
			return;
		}
	}
	t->jobs[t->njobs++] = j;
}

int
trainer_adopt(trainer *t, model_entry *m, const store_job *row, fault *f)
{
	const char *node = trainer_cluster_node(t);
	job *j = NULL, *old;
	task *tk = NULL;
	char why[FAULT_MSG_MAX], msg[FAULT_MSG_MAX];
	store_job_status end = STORE_JOB_QUEUED;
	int val = 0;

	if (node == NULL)
		return fault_set(f, FAULT_INVALID, "not a shared store");
	j = calloc(1, sizeof *j);
	tk = calloc(1, sizeof *tk);
	if (j == NULL || tk == NULL || (j->options = strdup(row->options ?
	    row->options : "{}")) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		goto fail;
	}
	/* as the claim left it: queued, back at its checkpoint, ours */
	j->row = *row;
	j->row.options = j->options;
	j->row.error = NULL;
	j->row.status = STORE_JOB_QUEUED;
	j->row.steps_done = row->ckpt_steps;
	j->row.finished_ms = 0;
	snprintf(j->row.node, sizeof j->row.node, "%s", node);
	/* a job that ran goes on from its checkpoint; one that never
	 * started (queued where it was handed back or where its node died)
	 * is a new job here, starting at the model's step */
	j->adopted = row->started_ms != 0;
	why[0] = '\0';
	if (t->cfg.parse_opts == NULL || t->cfg.parse_opts(t->cfg.parse_arg,
	    j->options, &j->opts, &val, why, sizeof why) < 0) {
		end = STORE_JOB_FAILED;
		snprintf(msg, sizeof msg, "node %s cannot read the job's stored "
		    "options: %s", node, why);
	} else if (val) {
		end = STORE_JOB_INTERRUPTED;
		snprintf(msg, sizeof msg, "taken over by node %s, but its "
		    "validation set was not stored, so it cannot go on "
		    "exactly; resume it with a new job {\"resume\": \"%s\", "
		    "\"validation\": ...}", node, row->id);
	}
	pthread_mutex_lock(&t->mu);
	if (do_admit(t, m, 0, f) < 0)
		goto fail_locked;
	old = do_find_job(t, row->id);
	if (old != NULL && !old->terminal) {
		/* this node still runs it (its beat lapsed meanwhile): the
		 * worker's next commit puts its progress back */
		pthread_mutex_unlock(&t->mu);
		log_warn("job %s: claimed while it still runs here; left to "
		    "run", row->id);
		job_free(j);
		free(tk);
		return 0;
	}
	if (old == NULL && do_grow_jobs(t, f) < 0)
		goto fail_locked;
	do_place(t, j, old);
	if (end != STORE_JOB_QUEUED) {
		store_job up;
		fault uf;

		do_finish(t, j, end, msg);
		up = j->row;
		pthread_mutex_unlock(&t->mu);
		log_warn("job %s: %s", row->id, msg);
		if (store_job_update(t->st, &up, &uf) < 0)
			log_error("job %s: %s", row->id, uf.msg);
		free(tk);
		return 0;
	}
	t->queued_jobs++;
	do_count_jobs(m, 1, 0);
	tk->kind = TASK_TRAIN;
	tk->job = j;
	tk->model = registry_ref(m);
	events_job(t->cfg.events, &j->row);
	do_enqueue(t, tk);
	pthread_mutex_unlock(&t->mu);
	log_info("job %s of model %s: claimed by node %s (taken over %lld "
	    "times), goes on from its step %lld of %lld", row->id,
	    row->model_id, node, (long long)row->takeovers,
	    (long long)row->ckpt_steps, (long long)row->steps_total);
	return 0;
fail_locked:
	pthread_mutex_unlock(&t->mu);
fail:
	job_free(j);
	free(tk);
	return -1;
}

int
trainer_has_room(trainer *t)
{
	int room;

	pthread_mutex_lock(&t->mu);
	room = do_has_room(t);
	if (!room)
		t->room_wanted = 1;
	pthread_mutex_unlock(&t->mu);
	return room;
}

int
trainer_offered_here(trainer *t, const char *job_id)
{
	int found = 0;

	pthread_mutex_lock(&t->mu);
	for (unsigned i = 0; i < TRAINER_OFFERED_KEPT && !found; i++)
		found = strcmp(t->offered[i], job_id) == 0;
	pthread_mutex_unlock(&t->mu);
	return found;
}

void
trainer_on_room(trainer *t, void (*cb)(void *arg), void *arg)
{
	pthread_mutex_lock(&t->mu);
	t->on_room = cb;
	t->on_room_arg = arg;
	pthread_mutex_unlock(&t->mu);
}
