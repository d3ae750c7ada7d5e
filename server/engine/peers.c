/*
 * peers: a shared store's changes brought into the registry (see peers.h
 * for the DESIGN).
 */
#include "peers.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "log.h"

struct peers {
	peers_config c;
	pthread_t thread;
	pthread_mutex_t mu;  /* guards stop */
	pthread_cond_t wake;
	int stop;
	/* the poller's own: ids the last poll found in the store and not in
	 * the registry */
	char (*missing)[STORE_ID_MAX];
	size_t nmissing;
};

/* What one poll read and compares. */
struct poll {
	store_model_stamp *st;
	size_t n, cap;
};

static int
collect_stamp(void *arg, const store_model_stamp *m)
{
	struct poll *k = arg;

	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 64;
		store_model_stamp *p = realloc(k->st, cap * sizeof *p);

		if (p == NULL)
			return -1;
		k->st = p;
		k->cap = cap;
	}
	k->st[k->n++] = *m;
	return 0;
}

static void
held(peers *p, const mlp_spec *spec, int delta)
{
	if (p->c.held != NULL)
		p->c.held(p->c.held_arg, spec, delta);
}

/* store_model_get callback of peers_fetch: the row becomes an entry. */
struct fetch {
	peers *p;
	model_entry *got;
};

static int
fetch_row(void *arg, const store_model *row)
{
	struct fetch *k = arg;
	fault f;
	model_entry *e = registry_entry_from_row(row, &f);
	int added = 0;

	if (e == NULL) {
		log_error("model %s: not loaded from the store: %s", row->id,
		    f.msg);
		return 0;
	}
	k->got = registry_add_new(k->p->c.reg, e, &added, &f);
	if (k->got == NULL)
		log_error("model %s: %s", row->id, f.msg);
	else if (added) {
		held(k->p, &e->spec, 1);
		log_info("model %s loaded: created on another node", row->id);
	}
	registry_put(e);
	return 0;
}

model_entry *
peers_fetch(peers *p, const char *id)
{
	struct fetch k = { p, NULL };
	fault f;

	if (p == NULL)
		return NULL;
	if (store_model_get(p->c.st, id, fetch_row, &k, &f) < 0)
		log_warn("model %s: cannot read it from the store: %s", id,
		    f.msg);
	return k.got;
}

/* store_model_get callback of reload: the checkpoint becomes e's
 * snapshot. */
static int
reload_row(void *arg, const store_model *row)
{
	model_entry *e = arg;
	fault f;
	mlp *m = blob_load(row->blob, row->blob_len, &e->spec, &f);
	mlp_snapshot *s = NULL;
	store_model_stamp st;

	if (m != NULL) {
		mlp_set_step(m, row->step);
		s = mlp_snapshot_create(m, &f);
		mlp_destroy(m);
	}
	if (s == NULL) {
		log_error("model %s: checkpoint not reloaded: %s", row->id,
		    f.msg);
		return 0;
	}
	memset(&st, 0, sizeof st);
	st.step = row->step;
	st.updated_ms = row->updated_ms;
	st.samples = row->samples;
	st.last_loss = row->last_loss;
	registry_replace_snapshot(e, s, &st);
	return 0;
}

/* A model the store no longer has leaves as a local delete leaves it,
 * the store untouched. */
static void
drop(peers *p, model_entry *e)
{
	if (!registry_remove_entry(p->c.reg, e))
		return; /* a local delete took it */
	trainer_forget_model(p->c.tr, e);
	versions_forget_model(p->c.vs, e->id);
	held(p, &e->spec, -1);
	events_model_deleted(p->c.ev, e->id);
	log_info("model %s dropped: deleted on another node", e->id);
	registry_put(e);
}

static int
was_missing(const peers *p, const char *id)
{
	for (size_t i = 0; i < p->nmissing; i++)
		if (strcmp(p->missing[i], id) == 0)
			return 1;
	return 0;
}

int
peers_poll(peers *p, fault *f)
{
	struct poll k = { NULL, 0, 0 };
	model_entry **have;
	size_t n, nmiss = 0;
	char *seen = NULL;
	char (*miss)[STORE_ID_MAX] = NULL;
	int rc = -1;

	/* the registry first: whatever it lists was in the store before the
	 * query below, unless deleted since */
	if ((have = registry_list(p->c.reg, &n)) == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory");
	if (store_models_stamps(p->c.st, collect_stamp, &k, f) != 0) {
		if (f->code == FAULT_NONE)
			fault_set(f, FAULT_NOMEM, "out of memory");
		goto out;
	}
	seen = calloc(n ? n : 1, 1);
	miss = calloc(k.n ? k.n : 1, sizeof *miss);
	if (seen == NULL || miss == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < k.n; i++) {
		const store_model_stamp *s = &k.st[i];
		size_t j;
		registry_view v;

		for (j = 0; j < n && strcmp(have[j]->id, s->id) != 0; j++)
			;
		if (j == n) {
			model_entry *e = registry_get(p->c.reg, s->id);

			if (e == NULL && was_missing(p, s->id))
				e = peers_fetch(p, s->id);
			else if (e == NULL)
				memcpy(miss[nmiss++], s->id, STORE_ID_MAX);
			registry_put(e);
			continue;
		}
		seen[j] = 1;
		registry_view_of(have[j], &v);
		if (v.deleted || registry_job_counts(have[j], NULL, NULL) > 0)
			continue;
		if (v.step == s->step) {
			/* rows another node pushed (a push here in flight
			 * is set right by the next poll) */
			if (v.samples != s->samples)
				registry_add_samples(have[j],
				    s->samples - v.samples);
			continue;
		}
		if (store_model_get(p->c.st, s->id, reload_row, have[j], f) < 0)
			log_warn("model %s: checkpoint not reloaded: %s",
			    s->id, f->msg);
	}
	for (size_t j = 0; j < n; j++)
		if (!seen[j])
			drop(p, have[j]);
	free(p->missing);
	p->missing = miss;
	p->nmissing = nmiss;
	miss = NULL;
	rc = 0;
out:
	for (size_t j = 0; j < n; j++)
		registry_put(have[j]);
	free(have);
	free(seen);
	free(miss);
	free(k.st);
	return rc;
}

static void *
run(void *arg)
{
	peers *p = arg;
	struct timespec at;
	fault f;
	int stop;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += (time_t)p->c.interval;
		at.tv_nsec += (long)((p->c.interval - floor(p->c.interval)) *
		    1e9);
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&p->mu);
		while (!p->stop && pthread_cond_timedwait(&p->wake, &p->mu,
		    &at) != ETIMEDOUT)
			;
		stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			return NULL;
		if (peers_poll(p, &f) != 0)
			log_warn("peer sync: %s", f.msg);
	}
}

peers *
peers_start(const peers_config *c, fault *f)
{
	peers *p = calloc(1, sizeof *p);
	pthread_condattr_t ca;

	if (p == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	p->c = *c;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->mu);
		free(p);
		fault_set(f, FAULT_INTERNAL, "cannot start the peer sync "
		    "thread");
		return NULL;
	}
	return p;
}

void
peers_stop(peers *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p->missing);
	free(p);
}
