/*
 * registry: the models in memory, by id.
 *
 * DESIGN. Each model is an entry, reference counted: whoever got it from
 * registry_get holds it until registry_put, so a model deleted meanwhile
 * stays valid for requests already using it. An entry owns the live model
 * (weights plus optimizer state), which only the trainer thread that runs
 * the model's current task touches, and a published snapshot that any
 * thread may read: predictions take a reference to the snapshot under the
 * entry's mutex and compute without any lock. The fields the API shows
 * (step, samples, last loss, job counts, the deleted mark) live under the
 * same mutex, which belongs to registry.c: other modules read and change
 * those fields only through the accessors below (registry_view_of and
 * friends), never by taking the mutex.
 *
 * Versions (for ETags). The registry keeps a clock that ticks at every
 * change anyone could see through GET /v1/models: a model added or
 * removed, or any change to a model, which also stamps the entry with the
 * new tick (its version). Whoever changes a field the API shows, or
 * commits loss or validation rows of a model, touches the entry after the
 * change (and after the commit): a reader that reads a version first and
 * the data second thus never pairs an old body with a new version. With
 * the registry's random epoch, versions from an earlier run never match.
 *
 * Lock order, for the whole daemon (each lock is declared in its module
 * and taken only by it; a module may call into the next ones while it
 * holds its own, never back):
 *   1. trainer (trainer.c: queue, job list, worker slots)
 *   2. registry table (registry.c: the read-write lock of the id table)
 *   3. model entry (registry.c: one mutex per entry)
 *   4. events hub (events.c: the ring and subscribers; under it only the
 *      subscribers' park and wake hooks run, which take no lock of ours)
 * The trainer publishes job events and updates job counts under its own
 * lock (1 -> 3, 1 -> 4); the registry stamps an entry under the table's
 * lock (2 -> 3). Nothing is taken under an entry's mutex but the registry
 * clock (an atomic), and nothing at all under the hub's. The store's
 * locks (its writer connection, SQLite's) are never taken under 1, 2, 3
 * or 4: the registry does no I/O, the hub none under its lock (its
 * heartbeat thread stores the event id reservation without it), and the
 * trainer drops its lock around every store call. The leases' lock
 * (lease.c) is taken with none of 1..4 held, and the store's under it. The HTTP side's own locks (http_pool's
 * queue, http_watch's list) are leaves, taken with none of these held.
 */
#ifndef MLPD_REGISTRY_H
#define MLPD_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fault.h"
#include "mlp.h"
#include "store.h"

typedef struct model_entry {
	char id[STORE_ID_MAX];
	char *name;
	int64_t created_ms;
	mlp_spec spec;        /* a copy of live's spec; never changes */
	mlp *live;            /* owned; only the trainer running it writes */
	/* Private to registry.c from here on: the entry's mutex and what it
	 * guards. Use the accessors (registry_view_of, registry_deleted,
	 * registry_job_counts, registry_add_jobs, ...). */
	pthread_mutex_t mu;   /* guards every field below */
	mlp_snapshot *snap;   /* the published weights */
	uint64_t step;        /* step of snap */
	int64_t samples;      /* stored training rows */
	int rows_inflight;    /* pushes through this node not yet counted */
	uint64_t rows_changes; /* pushes through this node counted so far */
	double last_loss;     /* NAN when never trained */
	int64_t updated_ms;
	int jobs_queued;      /* train jobs waiting */
	int jobs_running;     /* 0 or 1 */
	int deleted;          /* removed from the registry */
	uint64_t version;     /* the registry clock at the last change */
	struct registry *owner; /* whose clock stamps it; set when added */
	atomic_int refs;
	/* Training this process did on the model, for GET /metrics: added
	 * to at each commit (registry_add_trained); read without the mutex
	 * (registry_view_of). */
	atomic_uint_least64_t trained_steps;
	atomic_uint_least64_t trained_samples; /* rows, once per step */
} model_entry;

/* A copy of what the API shows of a model, taken at one instant under
 * its entry's mutex. The pointers point into the entry: valid while the
 * caller holds a reference to it. */
typedef struct registry_view {
	const char *id;
	const char *name;
	const mlp_spec *spec;
	uint64_t step;           /* of the published snapshot */
	int64_t samples;         /* stored training rows */
	int jobs_queued;         /* train jobs waiting */
	int jobs_running;        /* 0 or 1 */
	double last_loss;        /* NAN when never trained */
	int64_t created_ms;
	int64_t updated_ms;
	int deleted;             /* removed from the registry */
	uint64_t trained_steps;  /* this process's, for GET /metrics */
	uint64_t trained_samples;
} registry_view;

typedef struct registry registry;

registry *registry_create(fault *f);
/* Drops the registry's references to every entry; NULL is a no-op. */
void registry_destroy(registry *r);

/* A new entry owning live (also on failure, when live is destroyed),
 * with a first snapshot; refcount 1 (the caller's). */
model_entry *registry_entry_create(const char *id, const char *name,
				   int64_t created_ms, int64_t updated_ms,
				   int64_t samples, double last_loss,
				   mlp *live, fault *f);

/* Adds e (the registry takes its own reference). */
int registry_add(registry *r, model_entry *e, fault *f);

/* The entry for id with a new reference, or NULL. */
model_entry *registry_get(registry *r, const char *id);

/* Another reference to e. */
model_entry *registry_ref(model_entry *e);

/* Drops a reference; the last frees the entry. NULL is a no-op. */
void registry_put(model_entry *e);

/* Removes id and returns its entry (with the registry's reference passed
 * to the caller), marked deleted; NULL when unknown. */
model_entry *registry_remove(registry *r, const char *id);

/* Puts back e, which registry_remove returned, when its deletion failed:
 * e is no longer marked deleted and takes its place in creation order.
 * The registry takes back the reference registry_remove passed on. */
int registry_restore(registry *r, model_entry *e, fault *f);

/* Every entry, oldest first, each with a reference: a malloc'd array the
 * caller frees after registry_put on each. */
model_entry **registry_list(registry *r, size_t *n);

/* Replaces e's snapshot with a copy of e->live at its current step and
 * sets step, last_loss and updated_ms. Called by live's current owner. */
int registry_publish(model_entry *e, double last_loss, int64_t now_ms,
		     fault *f);

/* A reference to e's current snapshot. */
mlp_snapshot *registry_snapshot(model_entry *e);

/* Fills v from e, all fields at one instant (see registry_view). */
void registry_view_of(model_entry *e, registry_view *v);

/* Whether e was removed from the registry. */
int registry_deleted(model_entry *e);

/* e's train jobs waiting and running (either pointer may be NULL);
 * returns their sum. */
int registry_job_counts(model_entry *e, int *queued, int *running);

/* Adds dq to e's queued and dr to its running job counts and touches e
 * (for the trainer, as jobs move). */
void registry_add_jobs(model_entry *e, int dq, int dr);

/* e's stored training rows. */
int64_t registry_samples(model_entry *e);

/* Adds delta (negative for rows deleted) to e's stored row count and
 * touches e. Callers pass what their store commit changed, never a total
 * read back: commits that finish out of order then still add up. */
void registry_add_samples(model_entry *e, int64_t delta);

/* A push through this node is about to add rows to the store
 * (registry_rows_begin) and has added delta of them, 0 when it failed
 * (registry_rows_done: adds delta to the count). Between the two, and
 * across any done, registry_rows_mark changes, so that a reader of the
 * store's counts (peers.c) that took a mark before its query and finds
 * the same one after knows no push through this node ran meanwhile, and
 * does not set the count back to a total read before the push. */
void registry_rows_begin(model_entry *e);
void registry_rows_done(model_entry *e, int64_t delta);

/* 0 while a push through this node is in flight; otherwise a number that
 * changes with every push counted. */
uint64_t registry_rows_mark(model_entry *e);

/* e's last training loss (NAN when never trained). */
double registry_last_loss(model_entry *e);

/* Counts steps training steps over rows rows (each row once per step)
 * this process ran on e; lock-free. */
void registry_add_trained(model_entry *e, uint64_t steps, uint64_t rows);

/* Marks e changed: stamps it with a new tick of its registry's clock.
 * do_registry_touch assumes e's mutex is held (registry.c only; the
 * trainer's last use goes with issue 8); registry_touch takes it. */
void do_registry_touch(model_entry *e);
void registry_touch(model_entry *e);

/* e's version: changes whenever anything GET /v1/models/{id} or the
 * model's loss history shows may have changed. */
uint64_t registry_model_version(model_entry *e);

/* The registry's clock: changes whenever GET /v1/models may have. */
uint64_t registry_version(registry *r);

/* A random number fixed for the registry's life, to tell runs apart. */
uint64_t registry_epoch(const registry *r);

/* ---- models other nodes changed in a shared store (peers.c) ---- */

/* A new entry from a stored model row (its weights decoded); refcount 1
 * (the caller's). */
model_entry *registry_entry_from_row(const store_model *row, fault *f);

/* Adds e unless an entry of the same id is there already: the entry now
 * in the table, with a new reference (e, or the one that was there), and
 * *added says which; NULL with f filled when out of memory. */
model_entry *registry_add_new(registry *r, model_entry *e, int *added,
			      fault *f);

/* Removes e itself (not another entry of its id) and marks it deleted:
 * 1 with the registry's reference passed to the caller, 0 when e was no
 * longer in the table. */
int registry_remove_entry(registry *r, model_entry *e);

/* Publishes s (the reference passes to e) as e's snapshot, with the
 * step, loss, rows and time of the stored row it came from: the weights
 * another node checkpointed. e->live is left alone. Only while e still
 * shows step had_step at time had_ms, what the caller read before the
 * store (else this node published its own newer work meanwhile, and the
 * row read may be older than it): returns 1 when replaced, 0 (s dropped)
 * when e moved meanwhile. */
int registry_replace_snapshot(model_entry *e, mlp_snapshot *s,
			      const store_model_stamp *row,
			      uint64_t had_step, int64_t had_ms);

#endif
