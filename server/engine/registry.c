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

#include "blob.h"
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

/* Makes room for one more entry (caller holds r->lock for writing). */
static int
do_reserve(registry *r, fault *f)
{
	size_t cap;
	model_entry **p;

	if (r->n < r->cap)
		return 0;
	cap = r->cap ? 2 * r->cap : 16;
	p = realloc(r->items, cap * sizeof *p);
	if (p == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory");
	r->items = p;
	r->cap = cap;
	return 0;
}

/* Puts e at index i (room reserved; caller holds r->lock for writing),
 * owned by r, not deleted, and stamps it. */
static void
do_insert(registry *r, size_t i, model_entry *e)
{
	memmove(&r->items[i + 1], &r->items[i],
	    (r->n - i) * sizeof *r->items);
	r->items[i] = e;
	r->n++;
	pthread_mutex_lock(&e->mu);
	e->owner = r;
	e->deleted = 0;
	do_registry_touch(e);
	pthread_mutex_unlock(&e->mu);
}

int
registry_add(registry *r, model_entry *e, fault *f)
{
	int rc;

	pthread_rwlock_wrlock(&r->lock);
	rc = do_reserve(r, f);
	if (rc == 0)
		do_insert(r, r->n, registry_ref(e));
	pthread_rwlock_unlock(&r->lock);
	return rc;
}

int
registry_restore(registry *r, model_entry *e, fault *f)
{
	size_t i;
	int rc;

	pthread_rwlock_wrlock(&r->lock);
	rc = do_reserve(r, f);
	if (rc == 0) {
		/* after every entry not younger: creation order, as listed */
		for (i = r->n; i > 0 && r->items[i - 1]->created_ms >
		    e->created_ms; i--)
			;
		do_insert(r, i, e);
	}
	pthread_rwlock_unlock(&r->lock);
	if (rc != 0)
		registry_put(e);
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

/* Marks e, just taken out of the table, deleted. */
static void
mark_deleted(model_entry *e)
{
	pthread_mutex_lock(&e->mu);
	e->deleted = 1;
	do_registry_touch(e);
	pthread_mutex_unlock(&e->mu);
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
	if (e)
		mark_deleted(e);
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
registry_view_of(model_entry *e, registry_view *v)
{
	v->id = e->id;
	v->name = e->name;
	v->spec = &e->spec;
	v->created_ms = e->created_ms;
	v->trained_steps = atomic_load_explicit(&e->trained_steps,
	    memory_order_relaxed);
	v->trained_samples = atomic_load_explicit(&e->trained_samples,
	    memory_order_relaxed);
	pthread_mutex_lock(&e->mu);
	v->step = e->step;
	v->samples = e->samples;
	v->jobs_queued = e->jobs_queued;
	v->jobs_running = e->jobs_running;
	v->last_loss = e->last_loss;
	v->updated_ms = e->updated_ms;
	v->deleted = e->deleted;
	pthread_mutex_unlock(&e->mu);
}

int
registry_deleted(model_entry *e)
{
	int d;

	pthread_mutex_lock(&e->mu);
	d = e->deleted;
	pthread_mutex_unlock(&e->mu);
	return d;
}

int
registry_job_counts(model_entry *e, int *queued, int *running)
{
	int q, r;

	pthread_mutex_lock(&e->mu);
	q = e->jobs_queued;
	r = e->jobs_running;
	pthread_mutex_unlock(&e->mu);
	if (queued)
		*queued = q;
	if (running)
		*running = r;
	return q + r;
}

void
registry_add_jobs(model_entry *e, int dq, int dr)
{
	pthread_mutex_lock(&e->mu);
	e->jobs_queued += dq;
	e->jobs_running += dr;
	do_registry_touch(e);
	pthread_mutex_unlock(&e->mu);
}

int64_t
registry_samples(model_entry *e)
{
	int64_t n;

	pthread_mutex_lock(&e->mu);
	n = e->samples;
	pthread_mutex_unlock(&e->mu);
	return n;
}

void
registry_add_samples(model_entry *e, int64_t delta)
{
	pthread_mutex_lock(&e->mu);
	e->samples += delta;
	do_registry_touch(e);
	pthread_mutex_unlock(&e->mu);
}

void
registry_rows_begin(model_entry *e)
{
	pthread_mutex_lock(&e->mu);
	e->rows_inflight++;
	pthread_mutex_unlock(&e->mu);
}

void
registry_rows_done(model_entry *e, int64_t delta)
{
	pthread_mutex_lock(&e->mu);
	e->rows_inflight--;
	e->rows_changes++;
	e->samples += delta;
	do_registry_touch(e);
	pthread_mutex_unlock(&e->mu);
}

uint64_t
registry_rows_mark(model_entry *e)
{
	uint64_t mark;

	pthread_mutex_lock(&e->mu);
	mark = e->rows_inflight > 0 ? 0 : e->rows_changes + 1;
	pthread_mutex_unlock(&e->mu);
	return mark;
}

double
registry_last_loss(model_entry *e)
{
	double v;

	pthread_mutex_lock(&e->mu);
	v = e->last_loss;
	pthread_mutex_unlock(&e->mu);
	return v;
}

void
registry_add_trained(model_entry *e, uint64_t steps, uint64_t rows)
{
	atomic_fetch_add_explicit(&e->trained_steps, steps,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&e->trained_samples, rows,
	    memory_order_relaxed);
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

/* ---- models other nodes changed in a shared store ---- */

model_entry *
registry_entry_from_row(const store_model *row, fault *f)
{
	mlp *live = blob_load(row->blob, row->blob_len, NULL, f);

	if (live == NULL)
		return NULL;
	return registry_entry_create(row->id, row->name, row->created_ms,
	    row->updated_ms, row->samples, row->last_loss, live, f);
}

model_entry *
registry_add_new(registry *r, model_entry *e, int *added, fault *f)
{
	model_entry *got = NULL;

	*added = 0;
	pthread_rwlock_wrlock(&r->lock);
	for (size_t i = 0; i < r->n && got == NULL; i++)
		if (strcmp(r->items[i]->id, e->id) == 0)
			got = registry_ref(r->items[i]);
	if (got == NULL && do_reserve(r, f) == 0) {
		do_insert(r, r->n, registry_ref(e));
		got = registry_ref(e);
		*added = 1;
	}
	pthread_rwlock_unlock(&r->lock);
	return got;
}

int
registry_remove_entry(registry *r, model_entry *e)
{
	int found = 0;

	pthread_rwlock_wrlock(&r->lock);
	for (size_t i = 0; i < r->n; i++) {
		if (r->items[i] == e) {
			memmove(&r->items[i], &r->items[i + 1],
			    (r->n - i - 1) * sizeof *r->items);
			r->n--;
			found = 1;
			break;
		}
	}
	pthread_rwlock_unlock(&r->lock);
	if (found)
		mark_deleted(e);
	return found;
}

int
registry_replace_snapshot(model_entry *e, mlp_snapshot *s,
			  const store_model_stamp *row, uint64_t had_step,
			  int64_t had_ms)
{
	mlp_snapshot *old;

	pthread_mutex_lock(&e->mu);
	if (e->step != had_step || e->updated_ms != had_ms) {
		pthread_mutex_unlock(&e->mu);
		mlp_snapshot_unref(s);
		return 0;
	}
	old = e->snap;
	e->snap = s;
	e->step = mlp_snapshot_step(s);
	e->last_loss = row->last_loss;
	e->samples = row->samples;
	e->updated_ms = row->updated_ms;
	do_registry_touch(e);
	pthread_mutex_unlock(&e->mu);
	mlp_snapshot_unref(old);
	return 1;
}
