/*
 * registry: models in memory (see registry.h for the DESIGN).
 *
 * The table is an array in creation order behind a read-write lock; a
 * lookup is a linear scan, fine for the hundreds of models one daemon
 * serves (a hash index can come when a user has many thousands).
 */
#include "registry.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

struct registry {
	pthread_rwlock_t lock;
	model_entry **items;
	size_t n;
	size_t cap;
	atomic_uint_least64_t clock; /* ticks at every visible change */
	uint64_t epoch;              /* random, fixed: tells runs apart */
};

registry *
registry_create(fault *f)
{
	registry *r = calloc(1, sizeof *r);

	if (r == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	pthread_rwlock_init(&r->lock, NULL);
	atomic_init(&r->clock, 0);
	r->epoch = ids_random_u64();
	return r;
}

void
registry_destroy(registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		registry_put(r->items[i]);
	free(r->items);
	pthread_rwlock_destroy(&r->lock);
	free(r);
}

model_entry *
registry_entry_create(const char *id, const char *name, int64_t created_ms,
		      int64_t updated_ms, int64_t samples, double last_loss,
		      mlp *live, fault *f)
{
	model_entry *e = calloc(1, sizeof *e);

	if (e == NULL || strlen(id) >= sizeof e->id)
		goto fail;
	strcpy(e->id, id);
	e->name = strdup(name ? name : "");
	if (e->name == NULL)
		goto fail;
	e->snap = mlp_snapshot_create(live, f);
	if (e->snap == NULL)
		goto fail;
	e->created_ms = created_ms;
	e->updated_ms = updated_ms;
	e->spec = *mlp_get_spec(live);
	e->live = live;
	e->step = mlp_step(live);
	e->samples = samples;
	e->last_loss = last_loss;
	pthread_mutex_init(&e->mu, NULL);
	atomic_init(&e->refs, 1);
	atomic_init(&e->trained_steps, 0);
	atomic_init(&e->trained_samples, 0);
	return e;
fail:
	if (e)
		free(e->name);
	free(e);
	mlp_destroy(live);
	fault_set(f, FAULT_NOMEM, "out of memory creating a model");
	return NULL;
}

int
registry_add(registry *r, model_entry *e, fault *f)
{
	int rc = 0;

	pthread_rwlock_wrlock(&r->lock);
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		model_entry **p = realloc(r->items, cap * sizeof *p);

		if (p == NULL) {
			rc = fault_set(f, FAULT_NOMEM, "out of memory");
			goto out;
		}
		r->items = p;
		r->cap = cap;
	}
	r->items[r->n++] = registry_ref(e);
	pthread_mutex_lock(&e->mu);
	e->owner = r;
	do_registry_touch(e);
	pthread_mutex_unlock(&e->mu);
out:
	pthread_rwlock_unlock(&r->lock);
	return rc;
}

model_entry *
registry_get(registry *r, const char *id)
{
	model_entry *e = NULL;

	pthread_rwlock_rdlock(&r->lock);
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->items[i]->id, id) == 0) {
			e = registry_ref(r->items[i]);
			break;
		}
	}
	pthread_rwlock_unlock(&r->lock);
	return e;
}

model_entry *
registry_ref(model_entry *e)
{
	atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
	return e;
}

void
registry_put(model_entry *e)
{
	if (e == NULL)
		return;
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
		return;
	mlp_snapshot_unref(e->snap);
	mlp_destroy(e->live);
	pthread_mutex_destroy(&e->mu);
	free(e->name);
	free(e);
}

model_entry *
registry_remove(registry *r, const char *id)
{
	model_entry *e = NULL;

	pthread_rwlock_wrlock(&r->lock);
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->items[i]->id, id) == 0) {
			e = r->items[i];
			memmove(&r->items[i], &r->items[i + 1],
			    (r->n - i - 1) * sizeof *r->items);
			r->n--;
			break;
		}
	}
	pthread_rwlock_unlock(&r->lock);
	if (e) {
		pthread_mutex_lock(&e->mu);
		e->deleted = 1;
		do_registry_touch(e);
		pthread_mutex_unlock(&e->mu);
	}
	return e;
}

model_entry **
registry_list(registry *r, size_t *n)
{
	model_entry **out;

	pthread_rwlock_rdlock(&r->lock);
	out = malloc((r->n ? r->n : 1) * sizeof *out);
	*n = 0;
	if (out != NULL) {
		for (size_t i = 0; i < r->n; i++)
			out[i] = registry_ref(r->items[i]);
		*n = r->n;
	}
	pthread_rwlock_unlock(&r->lock);
	return out;
}

int
registry_publish(model_entry *e, double last_loss, int64_t now_ms, fault *f)
{
	mlp_snapshot *s = mlp_snapshot_create(e->live, f), *old;

	if (s == NULL) {
		/* the caller committed history all the same */
		registry_touch(e);
		return -1;
	}
	pthread_mutex_lock(&e->mu);
	old = e->snap;
	e->snap = s;
	e->step = mlp_snapshot_step(s);
	e->last_loss = last_loss;
	e->updated_ms = now_ms;
	do_registry_touch(e);
	pthread_mutex_unlock(&e->mu);
	mlp_snapshot_unref(old);
	return 0;
}

mlp_snapshot *
registry_snapshot(model_entry *e)
{
	mlp_snapshot *s;

	pthread_mutex_lock(&e->mu);
	s = mlp_snapshot_ref(e->snap);
	pthread_mutex_unlock(&e->mu);
	return s;
}

void
registry_view(model_entry *e, codec_model *v)
{
	pthread_mutex_lock(&e->mu);
	v->id = e->id;
	v->name = e->name;
	v->spec = &e->spec;
	v->step = e->step;
	v->samples = e->samples;
	v->status = e->jobs_running ? "training" :
	    e->jobs_queued ? "queued" : "idle";
	v->last_loss = e->last_loss;
	v->created_ms = e->created_ms;
	v->updated_ms = e->updated_ms;
	pthread_mutex_unlock(&e->mu);
}

void
do_registry_touch(model_entry *e)
{
	/* an entry not yet added only needs to differ from its past */
	if (e->owner != NULL)
		e->version = atomic_fetch_add(&e->owner->clock, 1) + 1;
	else
		e->version++;
}

void
registry_touch(model_entry *e)
{
	pthread_mutex_lock(&e->mu);
	do_registry_touch(e);
	pthread_mutex_unlock(&e->mu);
}

void
registry_set_samples(model_entry *e, int64_t samples)
{
	pthread_mutex_lock(&e->mu);
	e->samples = samples;
	do_registry_touch(e);
	pthread_mutex_unlock(&e->mu);
}

uint64_t
registry_model_version(model_entry *e)
{
	uint64_t v;

	pthread_mutex_lock(&e->mu);
	v = e->version;
	pthread_mutex_unlock(&e->mu);
	return v;
}

uint64_t
registry_version(registry *r)
{
	return atomic_load(&r->clock);
}

uint64_t
registry_epoch(const registry *r)
{
	return r->epoch;
}
