/*
 * trainer_int: what the trainer's three files share (private to them).
 *
 * trainer.c is the scheduler: the queue, the workers, the job list and
 * every public call but the synchronous ones; trainer_loop.c runs a train
 * job's slices (steps, commits, checkpoints, validation, revert);
 * trainer_sync.c runs a /step or a weight replacement and waits for it.
 *
 * Locks: the daemon's lock order is written once, in registry.h; the
 * trainer's mutex (trainer.mu) is first in it. It guards the queue, the
 * job list (and each job's row, flags and status), queued_jobs, the
 * per-worker current slots and the holds; under it the trainer updates a
 * model's job counts and reads its sample count through the registry's
 * accessors, and publishes job state events.
 * trainer.mu is never held across a store_* call or anything else that
 * waits on I/O: a call that writes a job row or deletes rows changes the
 * in-memory state under the lock, drops it for the store call, and takes
 * it again to settle. The store's own locks come after all of these.
 * The leases (lease.h) are taken, put and checked by the worker that runs
 * the model, with trainer.mu not held (lease.mu is never taken under it;
 * a job's hold is the worker's, like its run_state).
 * Functions named do_* assume trainer.mu is held.
 *
 * A job's run_state and the model's live weights are not under any lock:
 * they belong to the worker whose current slot names the model (and,
 * between slices, to nobody: the queued task carries them).
 */
#ifndef MLPD_TRAINER_INT_H
#define MLPD_TRAINER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "dataset.h"
#include "trainer.h"

/* Seconds between a job's snapshots (and yields); its loss points and
 * weights are committed together every --checkpoint-every. */
#define TRAINER_FLUSH_SECONDS 0.25
/* Loss points a job buffers at most (24 bytes each) before it
 * checkpoints, whatever the checkpoint period. */
#define TRAINER_POINTS_MAX ((size_t)1 << 22)
/* Scratch a model keeps between tasks (mlp_trim): enough for the batches
 * of small models; a bigger one is freed when its task ends, so idle
 * models hold their parameters and little more (README, "Limits"). */
#define TRAINER_SCRATCH_KEPT ((size_t)1 << 20)
/* --job-memory's default: bytes of rows one train job may hold. */
#define TRAINER_JOB_MEMORY_DEFAULT ((size_t)256 << 20)
/* Ids of the jobs this node offered that it remembers (for
 * trainer_offered_here). */
#define TRAINER_OFFERED_KEPT 64
/* Steps one job may run. */
#define TRAINER_MAX_JOB_STEPS 1000000000LL

typedef enum task_kind { TASK_TRAIN, TASK_STEP, TASK_WEIGHTS } task_kind;

/* The loop state of a train job between slices. */
typedef struct run_state {
	int started;
	dataset *ds;            /* the rows and their order (dataset.h) */
	size_t n;               /* rows trained on */
	size_t bs;              /* rows per step */
	size_t per_epoch;       /* steps per epoch */
	int64_t s;              /* steps done in this job */
	float lr;
	store_loss_point *pts;  /* loss rows not yet committed */
	size_t npts, cappts;
	double last_ckpt;       /* monotonic time of the last checkpoint */
	uint64_t new_steps;     /* steps since the last commit, for metrics */
	uint64_t new_rows;      /* rows those steps used */
	float *vx, *vy;         /* the validation set given with the job (vn
	                           rows), owned; NULL: validation_split's,
	                           in ds */
	size_t vn;
	int onehot;             /* its targets are one-hot: measure accuracy */
	float *vout;            /* eval_measure's scratch for it */
	uint64_t last_val_step; /* the step of the last validation point */
	store_val_point *vpts;  /* validation points not yet committed */
	size_t nvpts, capvpts;
	int revert;             /* live's weights are not finite: the job
	                           ends at the stored checkpoint */
	int track;              /* evaluations feed stop (validation, early
	                           stopping or restore_best asked) */
	schedule_stop stop;     /* the best evaluation and those since */
	double mon_sum;         /* without a validation set: the training */
	int64_t mon_n;          /* losses since the last evaluation */
	float *best;            /* restore_best: the parameters at
	                           stop.best_step */
	int stopped;            /* early stopping ended the job */
	double began;           /* monotonic time its first slice began */
	size_t kept;            /* bytes of rows it keeps while queued after
	                           a yield, counted in *budget */
	size_t *budget;         /* &trainer.kept_bytes (under trainer.mu) */
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
	lease_hold *hold;       /* its model's lease from its first step to
	                           its end (lease.h); NULL: unfenced. Only
	                           the worker running the job touches it */
	int adopted;            /* claimed from the store (trainer_adopt):
	                           it resumes from its row's checkpoint */
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
	int set_step;           /* TASK_WEIGHTS: step and loss (inputs) become
	                           the model's (a restore to a version) */
	int done;               /* sync tasks: the result is in */
	int rc;
	fault err;              /* sync tasks: why rc is -1 */
	uint64_t step;
	float loss;
	uint64_t seq;           /* order of arrival, kept when requeued */
	struct task *next;
} task;

struct trainer {
	store *st;
	registry *reg;
	trainer_config cfg;
	pthread_mutex_t mu;     /* lock 1 of the order in registry.h */
	pthread_cond_t work;    /* a task was queued or a model freed */
	pthread_cond_t done;    /* a task or job finished */
	task *head, *tail;
	uint64_t next_seq;      /* seq for the next new task */
	size_t queued_jobs;     /* queued train jobs, and submissions being
	                           written to the store */
	job **jobs;
	size_t njobs, capjobs;
	size_t reserved;        /* slots of jobs promised to submissions
	                           being written: njobs + reserved <= capjobs */
	model_entry **holds;    /* models whose rows are being deleted (one
	                           entry per trainer_delete_data running) */
	size_t nholds, capholds;
	pthread_t *threads;
	model_entry **current;  /* per worker: the model it runs, or NULL */
	size_t kept_bytes;      /* rows kept by jobs queued after a yield;
	                           at most cfg.job_memory (trainer_loop.c) */
	unsigned started;
	void (*on_room)(void *arg); /* trainer_on_room's hook, or NULL */
	void *on_room_arg;
	int room_wanted;        /* trainer_has_room answered 0 since the
	                           hook was last called */
	char offered[TRAINER_OFFERED_KEPT][STORE_ID_MAX]; /* a ring: the ids
	                           of the last jobs offered here */
	unsigned offered_next;  /* the ring's next slot */
	int stop;               /* workers must finish up */
	int closed;             /* no new work accepted */
};

/* trainer.c: the scheduler's pieces the other files use */

/* True when a worker is free and no task waits (trainer_has_room). */
int do_has_room(trainer *t);

/* Makes room in the job list for one more job. */
int do_grow_jobs(trainer *t, fault *f);

/* The job with id in the job list, or NULL. */
job *do_find_job(trainer *t, const char *id);

/* Frees j and what it owns (NULL: nothing). No lock needed. */
void job_free(job *j);

/* Appends tk to the queue and wakes a worker. */
void do_enqueue(trainer *t, task *tk);

/* True when some queued task belongs to another model than m. */
int do_others_waiting(trainer *t, const model_entry *m);

/* Adds dq to m's queued and dr to its running job counts. */
void do_count_jobs(model_entry *m, int dq, int dr);

/* Moves j to a final status and wakes whoever waits for it. */
void do_finish(trainer *t, job *j, store_job_status st, const char *error);

/* FAULT_CLOSED when closed, FAULT_NO_MODEL when m was deleted, and with
 * busy_check FAULT_BUSY while m has a train job queued or running. */
int do_admit(trainer *t, model_entry *m, int busy_check, fault *f);

/* The node id when jobs are handed back and claimed (a shared store and
 * leases), else NULL. No lock. */
const char *trainer_cluster_node(const trainer *t);

/* A job that resumes from a checkpoint (opts.resume, or adopted). */
int trainer_job_resumes(const job *j);

/* Shutdown on a shared store: j (checkpointed, its lease put) goes back
 * to the cluster. Its row is handed back without the lock (dropped and
 * taken again); locally it ends queued. */
void do_hand_back(trainer *t, job *j);

/* trainer_loop.c: a train job */

/* Runs one slice of the job of tk (a TASK_TRAIN) and settles what
 * follows: requeues tk, or ends the job and frees tk. No lock held. */
void trainer_loop_run(trainer *t, task *tk);

/* When checkpoint (or final, the row it ends with, is given): commits j's
 * buffered loss points and validation points with the weights and its
 * progress, then publishes a snapshot and the step event. Otherwise only
 * publishes a snapshot. No lock held. */
int trainer_loop_flush(trainer *t, job *j, model_entry *m, int checkpoint,
		       const store_job *final, fault *f);

/* After a lost lease: live becomes the model's stored checkpoint (a read
 * only: the model is another node's now) and is published. No lock. */
/* On a shared store (store_shared: PostgreSQL), live becomes the model's
 * stored checkpoint, which another node may have moved on since this node
 * last trained it; called by the worker that owns m, once it holds the
 * model's lease and before it changes live (a job's first slice, a /step,
 * PUT weights). Nothing on SQLite, whose file one daemon owns. */
int trainer_loop_refresh(trainer *t, model_entry *m, fault *f);

void trainer_loop_reload(trainer *t, model_entry *m);

/* Frees what rs holds and zeroes it (trainer.mu held once rs ran: the
 * rows it kept leave the trainer's count). */
void trainer_loop_free(run_state *rs);

/* Measures live on (x, y), n rows, into p at live's step and the time
 * now (scratch: as eval_measure takes it). */
int trainer_loop_measure(mlp *live, const float *x, const float *y,
			 size_t n, int onehot, float *scratch,
			 store_val_point *p, fault *f);

/* trainer_sync.c: a /step or a weight replacement, run by a worker */
void trainer_sync_run(trainer *t, task *tk);

#endif
