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
 * (step, samples, last loss, job counts) live under the same mutex.
 *
 * Versions (for ETags). The registry keeps a clock that ticks at every
 * change anyone could see through GET /v1/models: a model added or
 * removed, or any change to a model, which also stamps the entry with the
 * new tick (its version). Whoever changes a field the API shows, or
 * commits loss or validation rows of a model, touches the entry after the
 * change (and after the commit): a reader that reads a version first and
 * the data second thus never pairs an old body with a new version. With
 * the registry's random epoch, versions from an earlier run never match.
 */
#ifndef MLPD_REGISTRY_H
#define MLPD_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "codec.h"
#include "fault.h"
#include "mlp.h"
#include "store.h"

typedef struct model_entry {
	char id[STORE_ID_MAX];
	char *name;
	int64_t created_ms;
	mlp_spec spec;        /* a copy of live's spec; never changes */
	mlp *live;            /* owned; only the trainer running it writes */
	pthread_mutex_t mu;   /* guards every field below */
	mlp_snapshot *snap;   /* the published weights */
	uint64_t step;        /* step of snap */
	int64_t samples;      /* stored training rows */
	double last_loss;     /* NAN when never trained */
	int64_t updated_ms;
	int jobs_queued;      /* train jobs waiting */
	int jobs_running;     /* 0 or 1 */
	int deleted;          /* removed from the registry */
	uint64_t version;     /* the registry clock at the last change */
	struct registry *owner; /* whose clock stamps it; set when added */
	atomic_int refs;
	/* Training this process did on the model, for GET /metrics: the
	 * trainer adds to them at each commit; read without the mutex. */
	atomic_uint_least64_t trained_steps;
	atomic_uint_least64_t trained_samples; /* rows, once per step */
} model_entry;

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

/* Every entry, oldest first, each with a reference: a malloc'd array the
 * caller frees after registry_put on each. */
model_entry **registry_list(registry *r, size_t *n);

/* Replaces e's snapshot with a copy of e->live at its current step and
 * sets step, last_loss and updated_ms. Called by live's current owner. */
int registry_publish(model_entry *e, double last_loss, int64_t now_ms,
		     fault *f);

/* A reference to e's current snapshot. */
mlp_snapshot *registry_snapshot(model_entry *e);

/* Fills v from e under its mutex ("idle", "queued" or "training"). The
 * strings point into e; v is valid while the caller holds e. */
void registry_view(model_entry *e, codec_model *v);

/* Marks e changed: stamps it with a new tick of its registry's clock.
 * do_registry_touch assumes e->mu is held; registry_touch takes it. */
void do_registry_touch(model_entry *e);
void registry_touch(model_entry *e);

/* Sets e's stored row count and touches e. */
void registry_set_samples(model_entry *e, int64_t samples);

/* e's version: changes whenever anything GET /v1/models/{id} or the
 * model's loss history shows may have changed. */
uint64_t registry_model_version(model_entry *e);

/* The registry's clock: changes whenever GET /v1/models may have. */
uint64_t registry_version(registry *r);

/* A random number fixed for the registry's life, to tell runs apart. */
uint64_t registry_epoch(const registry *r);

#endif
