/*
 * trainer: the job queue and the worker threads that run the core.
 *
 * DESIGN. Everything that changes a model's live weights runs here, on a
 * worker thread: train jobs (many steps over the stored data), single
 * steps (POST .../step) and weight replacement (PUT .../weights). Tasks
 * wait in one FIFO queue; a worker takes the oldest task whose model no
 * other worker is running, so each model has at most one task in progress
 * and tasks of one model run in the order they came. HTTP threads never
 * train: they enqueue and, for steps and weights, wait for the result.
 *
 * A train job loads the model's rows once, then loops over minibatches.
 * Loss points are appended to an in-memory buffer and committed to the
 * store with the weights blob and the job's progress in one transaction
 * every checkpoint period (and at the end), so that after a crash the
 * model's step, its history's last step and the job's steps_done agree.
 * Every 250 ms (and after every commit) the registry gets a new snapshot
 * of the live weights (so predictions see progress every 250 ms without
 * waiting for training, possibly ahead of the last durable checkpoint);
 * each commit is published to the events hub for the live streams, as
 * are each single step and each job state
 * change. Cancel, delete and shutdown (trainer_close) are flags the loop
 * checks every step; the job then checkpoints and ends as cancelled or
 * interrupted.
 *
 * Validation. A job may carry a validation set (given, or held out of the
 * stored rows by validation_split: core/eval.h's seeded split, never
 * trained on). The worker measures the live model on it between steps, at
 * the end of every epoch (every eval_every steps when the job says) and
 * of the job, and commits the points with the
 * loss rows; a /step with a validation set gets one point after its update.
 *
 * Training control. A job's options may carry a learning-rate schedule,
 * early stopping and restore_best (trainer_opts.h, core/schedule.h). The
 * rate of each step is a pure function of the job's own step count; each
 * evaluation (a validation point, or without validation data the mean
 * training loss of the period) feeds the job's tracker, which records the
 * best step, may end the job succeeded ("stopped early"), and with
 * restore_best has the worker copy the best parameters, to put back when
 * the job ends. All of it runs on the worker that owns the model; the
 * job's row shows it under trainer.mu and stores it with every commit.
 *
 * The trainer owns the job list (every job since start, and those found in
 * the store); the store has the durable copy. One mutex guards the queue,
 * the job list and the per-worker "current model" slots; it is never held
 * across a store call (trainer_int.h has the lock order). The files:
 * trainer.c (the scheduler and the job list), trainer_loop.c (a train
 * job's slices, commits and revert), trainer_sync.c (steps and weights).
 *
 * Leases (lease.h). With cfg.leases set, a job takes its model's lease
 * before it stores its start and drops it when it ends; a /step or a
 * weight replacement holds it for its run; every write of that work
 * carries the lease's epoch (the commits, the job row's start and end,
 * the revert to the checkpoint, the save_best version). When the lease
 * is lost (the renewer says so, or such a write fails with FAULT_FENCED)
 * the work stops at once and writes nothing more: the job ends
 * interrupted in this node's memory only (its row is the new owner's),
 * live goes back to the stored checkpoint (a read).
 *
 * Several nodes (store_shared, with leases). A job submitted here is
 * stored owned by this node (store_job_insert_owned) and queued here as
 * on SQLite. The claimer (claims.h) gives the trainer the jobs it claims
 * from the store (a dead node's, or those handed back): trainer_adopt
 * makes the row a local job with the same id, queued, that resumes from
 * the model's stored checkpoint with the row's step count, schedule and
 * tracker (as a "resume" does); what the dead node trained past that
 * checkpoint was never committed, so the history keeps one value per
 * step. At shutdown (trainer_close) a running or queued job is not
 * ended: it checkpoints, its lease is released, and it is handed back
 * (store_job_handback) for another node to take at once. A job whose
 * request gave a validation set cannot be adopted exactly (the set is
 * not stored): it ends interrupted with an error saying so, and resumes
 * through a new job with "resume" and the set.
 *
 * Errors are faults (core/fault.h), never statuses: FAULT_NO_MODEL,
 * FAULT_NO_JOB, FAULT_BUSY, FAULT_NO_DATA, FAULT_FINISHED,
 * FAULT_QUEUE_FULL and FAULT_CLOSED besides the core's and the store's;
 * the API layer maps them (apierr_from_fault).
 */
#ifndef MLPD_TRAINER_H
#define MLPD_TRAINER_H

#include <stddef.h>

#include "events.h"
#include "fault.h"
#include "lease.h"
#include "registry.h"
#include "store.h"
#include "trainer_opts.h"

typedef struct trainer trainer;

typedef struct trainer_config {
	unsigned threads;        /* workers, >= 1 */
	double checkpoint_every; /* seconds between weight checkpoints */
	size_t max_queue;        /* queued train jobs before FAULT_QUEUE_FULL */
	events *events;          /* live events (step batches, job states);
	                            borrowed, may be NULL */
	size_t max_versions;     /* the cap save_best's versions count against
	                            (--max-versions); 0: none */
	size_t job_memory;       /* bytes of rows a train job may hold
	                            (--job-memory): past it, rows are
	                            streamed (dataset.h); 0: 256 MB */
	leases *leases;          /* this node's leases (lease.h), borrowed:
	                            a job holds its model's from its first
	                            step to its end, a /step or weight
	                            replacement for its run, and every write
	                            of theirs is fenced by its epoch; NULL:
	                            no leases, unfenced writes (tests) */
	/* Several nodes: turns a job row's options (JSON text, as stored)
	 * back into o; *validation set when the request gave a validation
	 * set (not stored). 0, or -1 with why filled. The API's decoder,
	 * wired by daemon.c; NULL: adopted jobs fail. */
	int (*parse_opts)(void *arg, const char *options, train_opts *o,
			  int *validation, char *why, size_t whylen);
	void *parse_arg;
} trainer_config;

/* A copy of a job for the API; row.error points into error, row.options
 * is NULL (the options are stored, not shown). */
typedef struct trainer_job_view {
	store_job row;
	char error[FAULT_MSG_MAX];
} trainer_job_view;

/* Starts the workers; jobs already in the store are loaded as history. */
trainer *trainer_create(store *st, registry *reg, const trainer_config *c,
			fault *f);

/* trainer_close, then frees everything. NULL is a no-op. */
void trainer_destroy(trainer *t);

/* Shuts down: refuses new work from now on (FAULT_CLOSED), stops the
 * running jobs (each checkpoints and ends interrupted) and joins the
 * workers; queued jobs end interrupted (a job between slices checkpoints
 * first) and waiting steps fail with FAULT_CLOSED. On a shared store with
 * leases the jobs are handed back instead of ended (after their last
 * checkpoint and their lease's release). A second call is a no-op. */
void trainer_close(trainer *t);

/* A validation set: n rows of inputs x (n x N0) and targets y (n x NL). */
typedef struct trainer_valset {
	float *x, *y;
	size_t n;
} trainer_valset;

/* Queues a train job over the model's stored rows: FAULT_NO_DATA without
 * rows, FAULT_BUSY while the model's rows are being deleted,
 * FAULT_QUEUE_FULL, FAULT_CLOSED, FAULT_NO_MODEL when deleted, and
 * FAULT_INVALID for a split that leaves no row or too many steps.
 * options: the options as the job's row shows them (JSON text, copied).
 * val (NULL or n == 0 for none): on success the job takes over val->x and
 * val->y (and sets them to NULL); on failure they stay the caller's.
 * Several nodes (a shared store): a job this node cannot start at once
 * (no trainer free, or another job of the model queued or running) is
 * offered to every node (store_job_offer) and not kept here: out shows
 * it queued with no node, and whichever node claims it runs it. A job
 * with a validation set or a resume is always kept. */
int trainer_submit(trainer *t, model_entry *m, const train_opts *o,
		   const char *options, trainer_valset *val,
		   trainer_job_view *out, fault *f);

/* One update on (x, y) by a worker; waits for it. FAULT_BUSY while the
 * model has a train job queued or running. On success *step and *loss are
 * set and the new weights are durable. lr <= 0 means the model's. With val
 * (NULL or n == 0 for none, borrowed) the model is then measured on it and
 * *vp gets the validation point, stored with the step. */
int trainer_step(trainer *t, model_entry *m, const float *x, const float *y,
		 size_t n, float lr, const trainer_valset *val,
		 uint64_t *step, float *loss, store_val_point *vp, fault *f);

/* Replaces all parameters (mlp_spec_params floats) and resets the
 * optimizer state, durably; FAULT_BUSY while a train job is queued or
 * running. */
int trainer_set_weights(trainer *t, model_entry *m, const float *params,
			fault *f);

/* trainer_set_weights that also sets the step back (or forward) to step
 * (history past it is dropped) and the last loss to loss: a restore to a
 * version. FAULT_BUSY while a train job is queued or running. */
int trainer_restore_weights(trainer *t, model_entry *m, const float *params,
			    uint64_t step, double loss, fault *f);

/* Deletes the model's stored rows and sets its sample count to 0, atomic
 * with respect to trainer_submit: FAULT_BUSY while the model has a train
 * job queued or running, and submissions for the model meanwhile get
 * FAULT_BUSY, so no job is accepted over rows about to go. */
int trainer_delete_data(trainer *t, model_entry *m, fault *f);

/* Cancels a queued or running job and waits until it has stopped;
 * FAULT_NO_JOB unknown, FAULT_FINISHED already ended (out is filled). */
int trainer_cancel(trainer *t, const char *job_id, trainer_job_view *out,
		   fault *f);

/* trainer_cancel without the wait (a running job stops after its current
 * slice, as it does for trainer_cancel): 1 asked now, 0 asked already, -1
 * with FAULT_NO_JOB or FAULT_FINISHED. For the claimer, acting on another
 * node's cancel request. */
int trainer_cancel_soon(trainer *t, const char *job_id, fault *f);

/* 0 and a copy of the job, or -1 when unknown. */
int trainer_job_get(trainer *t, const char *job_id, trainer_job_view *out);

/* The jobs of model_id, oldest first, as a malloc'd array. */
trainer_job_view *trainer_jobs_of(trainer *t, const char *model_id,
				  size_t *n);

/* For a model being deleted: cancels its queued tasks (waiting steps fail
 * with FAULT_NO_MODEL) and running job, waits until no worker holds it,
 * and forgets its jobs. */
void trainer_forget_model(trainer *t, model_entry *m);

/* Several nodes: makes row (a job this node just claimed, owned by it;
 * borrowed) a local job of m with the same id, queued, to resume from
 * its last checkpoint (see the DESIGN). A job this node already knows
 * (ended here, e.g. after a lost lease) is replaced by it; one still
 * running here is left alone (0). Options it cannot read end it failed,
 * a validation set it had ends it interrupted (0 both: the row is
 * updated). FAULT_CLOSED, FAULT_NO_MODEL, FAULT_INVALID without a shared
 * store: the caller hands it back. */
int trainer_adopt(trainer *t, model_entry *m, const store_job *row,
		  fault *f);

/* 1 when a worker is free and no task waits for one (the claimer's
 * "take one more"), 0 otherwise or once closed. */
int trainer_has_room(trainer *t);

/* 1 when job_id is one of the last jobs this node offered to every node
 * (and announced queued with no node), else 0: the peers poll does not
 * announce it again (peers.h). */
int trainer_offered_here(trainer *t, const char *job_id);

/* Sets the room hook: once trainer_has_room has answered 0, the next
 * time a worker frees (a task ends, a queued job is cancelled) and the
 * trainer has room again, cb(arg) is called, so that the claimer claims
 * at once rather than at its next look. cb runs under the trainer's lock:
 * it must neither block nor call the trainer (a write to a non-blocking
 * pipe). A NULL cb removes the hook; once that call returns, cb is not
 * running and is not called again. */
void trainer_on_room(trainer *t, void (*cb)(void *arg), void *arg);

/* 1 when a worker runs a task of m now (a /step, a weights change, a
 * job's slice), else 0 (and for t NULL). A commit of m this node made may
 * be in the store while that task has not yet counted and published it:
 * the peers poll leaves such a model's steps to the trainer (peers.h). */
int trainer_model_busy(trainer *t, const model_entry *m);

/* Current queue depth (queued train jobs), for metrics and tests. */
size_t trainer_queue_depth(trainer *t);

/* The jobs the trainer knows (this run's and those loaded from the store;
 * not those of deleted models), counted by status into counts. */
void trainer_job_counts(trainer *t, size_t counts[STORE_JOB_STATUS_COUNT_]);

#endif
