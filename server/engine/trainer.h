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
 * Loss rows are buffered and committed to the store with the job's progress
 * every 250 ms; every checkpoint period (and at the end) the commit also
 * carries the weights blob, and the registry gets a new snapshot, so
 * predictions see progress without waiting for training. Each commit
 * that succeeded (and each single step, and each job state change) is
 * published to the events hub for the live streams. Cancel, delete
 * and shutdown are flags the loop checks every step; it then checkpoints
 * and ends the job as cancelled or interrupted.
 *
 * Validation. A job may carry a validation set (given, or held out of the
 * stored rows by validation_split: the last fraction of them after a
 * shuffle seeded with the model's seed, never trained on). The worker
 * measures the live model on it between steps, at the end of every epoch
 * and of the job, and commits the points with the loss rows; a /step with
 * a validation set gets one point after its update.
 *
 * The trainer owns the job list (every job since start, and those found in
 * the store); the store has the durable copy. One mutex guards the queue,
 * the job list and the per-worker "current model" slots.
 */
#ifndef MLPD_TRAINER_H
#define MLPD_TRAINER_H

#include <stddef.h>

#include "apierr.h"
#include "codec.h"
#include "events.h"
#include "registry.h"
#include "store.h"

typedef struct trainer trainer;

typedef struct trainer_config {
	unsigned threads;        /* workers, >= 1 */
	double checkpoint_every; /* seconds between weight checkpoints */
	size_t max_queue;        /* queued train jobs before queue_full */
	events *events;          /* live events (step batches, job states);
	                            borrowed, may be NULL */
} trainer_config;

/* A copy of a job for the API; row.error points into error. */
typedef struct trainer_job_view {
	store_job row;
	char error[FAULT_MSG_MAX];
} trainer_job_view;

/* Starts the workers; jobs already in the store are loaded as history. */
trainer *trainer_create(store *st, registry *reg, const trainer_config *c,
			fault *f);

/* Stops: queued tasks fail, running jobs checkpoint and end interrupted,
 * workers join. NULL is a no-op. */
void trainer_destroy(trainer *t);

/* Refuses new work (503) from now on; running jobs go on until destroy. */
void trainer_close(trainer *t);

/* A validation set: n rows of inputs x (n x N0) and targets y (n x NL). */
typedef struct trainer_valset {
	float *x, *y;
	size_t n;
} trainer_valset;

/* Queues a train job over the model's stored rows; 409 without data.
 * val (NULL or n == 0 for none): on success the job takes over val->x and
 * val->y (and sets them to NULL); on failure they stay the caller's. */
int trainer_submit(trainer *t, model_entry *m, const train_opts *o,
		   trainer_valset *val, trainer_job_view *out, apierr *e);

/* One update on (x, y) by a worker; waits for it. 409 while the model has
 * a train job queued or running. On success *step and *loss are set and
 * the new weights are durable. lr <= 0 means the model's. With val (NULL
 * or n == 0 for none, borrowed) the model is then measured on it and *vp
 * gets the validation point, stored with the step. */
int trainer_step(trainer *t, model_entry *m, const float *x, const float *y,
		 size_t n, float lr, const trainer_valset *val,
		 uint64_t *step, float *loss, store_val_point *vp, apierr *e);

/* Replaces all parameters (mlp_spec_params floats) and resets the
 * optimizer state, durably; 409 while a train job is queued or running. */
int trainer_set_weights(trainer *t, model_entry *m, const float *params,
			apierr *e);

/* Cancels a queued or running job and waits until it has stopped;
 * 404 unknown, 409 finished. */
int trainer_cancel(trainer *t, const char *job_id, trainer_job_view *out,
		   apierr *e);

/* 0 and a copy of the job, or -1 when unknown. */
int trainer_job_get(trainer *t, const char *job_id, trainer_job_view *out);

/* The jobs of model_id, oldest first, as a malloc'd array. */
trainer_job_view *trainer_jobs_of(trainer *t, const char *model_id,
				  size_t *n);

/* For a model being deleted: cancels its queued tasks and running job,
 * waits until no worker holds it, and forgets its jobs. */
void trainer_forget_model(trainer *t, model_entry *m);

/* Current queue depth (queued train jobs), for metrics and tests. */
size_t trainer_queue_depth(trainer *t);

/* The jobs the trainer knows (this run's and those loaded from the store;
 * not those of deleted models), counted by status into counts. */
void trainer_job_counts(trainer *t, size_t counts[STORE_JOB_STATUS_COUNT_]);

#endif
