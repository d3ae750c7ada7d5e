/*
 * lease: this node's leases (see lease.h for the DESIGN and the locks):
 * the list of held leases, the renewer thread, and the hand-back at stop.
 */
#include "lease.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct lease_hold {
	char model_id[STORE_ID_MAX];
	uint64_t epoch;
	size_t refs;            /* holds handed out (under leases.mu); 0
				 * while it is being taken */
	atomic_int lost;        /* another node has it now */
	int logged;             /* the loss was logged (under leases.mu) */
	int busy;               /* a store call on it (take, renew,
				 * release) is under way without leases.mu
				 * held: others wait on leases.idle */
	struct lease_hold *next;
};

struct leases {
	store *st;
	char node[STORE_NODE_MAX];
	int64_t ttl_ms;
	pthread_mutex_t mu;     /* guards list, stop; see lease.h */
	pthread_cond_t wake;    /* stop was set */
	pthread_cond_t idle;    /* a lease's store call ended (busy 0) */
	lease_hold *list;
	int stop;
	pthread_t renewer;
	int running;
};

/* Logs the loss of h once (leases.mu held). */
static void
do_log_lost(leases *l, lease_hold *h, const char *holder, const char *why)
{
	atomic_store(&h->lost, 1);
	if (h->logged)
		return;
	h->logged = 1;
	if (why != NULL)
		log_warn("model %s: lease lost at epoch %" PRIu64 " on node "
		    "'%s': %s; its work here stops, nothing more is written",
		    h->model_id, h->epoch, l->node, why);
	else
		log_warn("model %s: lease lost at epoch %" PRIu64 " on node "
		    "'%s': now held by %s%s%s; its work here stops, nothing "
		    "more is written", h->model_id, h->epoch, l->node,
		    holder[0] ? "node '" : "no node", holder,
		    holder[0] ? "'" : "");
}

/* One round of renewals (leases.mu held; released during the store
 * calls). The leases to renew are marked busy and listed under the lock,
 * renewed without it, and their results applied under it again: a take of
 * another model never waits for a renew (which, with the database away,
 * may last a whole connect timeout), and one of the same model waits for
 * it (busy). A round whose list cannot be allocated is skipped. */
static void
do_renew_all(leases *l)
{
	lease_hold **v;
	size_t n = 0, k = 0;

	for (lease_hold *h = l->list; h != NULL; h = h->next)
		n++;
	if (n == 0)
		return;
	if ((v = malloc(n * sizeof *v)) == NULL) {
		log_warn("leases not renewed this round: out of memory");
		return;
	}
	for (lease_hold *h = l->list; h != NULL; h = h->next)
		if (!h->busy && h->refs > 0 && !atomic_load(&h->lost)) {
			h->busy = 1;
			v[k++] = h;
		}
	pthread_mutex_unlock(&l->mu);
	for (size_t i = 0; i < k; i++) {
		lease_hold *h = v[i];
		char holder[STORE_NODE_MAX];
		fault f;
		int rc;

		rc = store_lease_renew(l->st, h->model_id, l->node, h->epoch,
		    l->ttl_ms, holder, sizeof holder, &f);
		pthread_mutex_lock(&l->mu);
		if (rc == 0)
			do_log_lost(l, h, holder, NULL);
		else if (rc < 0)
			log_warn("model %s: lease not renewed (trying again in "
			    "%" PRId64 " ms): %s", h->model_id, l->ttl_ms / 3,
			    f.msg);
		h->busy = 0;
		pthread_cond_broadcast(&l->idle);
		pthread_mutex_unlock(&l->mu);
	}
	pthread_mutex_lock(&l->mu);
	free(v);
}

static void *
renewer(void *arg)
{
	leases *l = arg;
	struct timespec next;

	pthread_mutex_lock(&l->mu);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!l->stop) {
		int64_t ns = l->ttl_ms / 3 * 1000000;

		next.tv_sec += ns / 1000000000;
		next.tv_nsec += ns % 1000000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		while (!l->stop && pthread_cond_timedwait(&l->wake, &l->mu,
		    &next) != ETIMEDOUT)
			;
		if (!l->stop)
			do_renew_all(l);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

leases *
leases_create(store *st, const char *node_id, int64_t ttl_ms, fault *f)
{
	leases *l;
	pthread_condattr_t ca;

	if (node_id == NULL || node_id[0] == '\0' ||
	    strlen(node_id) >= STORE_NODE_MAX) {
		fault_set(f, FAULT_INVALID, "a node id must be 1 to %d bytes",
		    STORE_NODE_MAX - 1);
		return NULL;
	}
	if (ttl_ms < 3) {
		fault_set(f, FAULT_INVALID, "a lease lasts at least 3 ms");
		return NULL;
	}
	if ((l = calloc(1, sizeof *l)) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	l->st = st;
	snprintf(l->node, sizeof l->node, "%s", node_id);
	l->ttl_ms = ttl_ms;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&l->idle, NULL);
	if (pthread_create(&l->renewer, NULL, renewer, l) != 0) {
		fault_set(f, FAULT_INTERNAL, "cannot start the lease renewer");
		leases_destroy(l);
		return NULL;
	}
	l->running = 1;
	return l;
}

void
leases_destroy(leases *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_broadcast(&l->wake);
	pthread_mutex_unlock(&l->mu);
	if (l->running)
		pthread_join(l->renewer, NULL);
	while (l->list != NULL) {
		lease_hold *h = l->list;
		fault f;

		l->list = h->next;
		if (!atomic_load(&h->lost) && store_lease_release(l->st,
		    h->model_id, l->node, h->epoch, &f) < 0)
			log_warn("model %s: lease not released (it expires in "
			    "%" PRId64 " ms): %s", h->model_id, l->ttl_ms,
			    f.msg);
		free(h);
	}
	pthread_cond_destroy(&l->wake);
	pthread_cond_destroy(&l->idle);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

const char *
leases_node(const leases *l)
{
	return l != NULL ? l->node : "";
}

/* The lease of model_id in the list, or NULL, once no store call on it
 * is under way (leases.mu held; waits on leases.idle meanwhile). */
static lease_hold *
do_find_idle(leases *l, const char *model_id)
{
	for (;;) {
		lease_hold *h = l->list;

		while (h != NULL && strcmp(h->model_id, model_id) != 0)
			h = h->next;
		if (h == NULL || !h->busy)
			return h;
		pthread_cond_wait(&l->idle, &l->mu);
	}
}

/* Takes h out of the list (leases.mu held). */
static void
do_unlink(leases *l, lease_hold *h)
{
	for (lease_hold **pp = &l->list; *pp != NULL; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			return;
		}
}

int
lease_acquire(leases *l, const char *model_id, lease_hold **out, fault *f)
{
	char holder[STORE_NODE_MAX];
	lease_hold *h;
	int rc;

	*out = NULL;
	if (l == NULL)
		return 0;
	if (strlen(model_id) >= STORE_ID_MAX)
		return fault_set(f, FAULT_INVALID, "model id too long");
	pthread_mutex_lock(&l->mu);
	h = do_find_idle(l, model_id);
	if (h != NULL && !atomic_load(&h->lost)) {
		h->refs++;
		*out = h;
		pthread_mutex_unlock(&l->mu);
		return 0;
	}
	if ((h = calloc(1, sizeof *h)) == NULL) {
		pthread_mutex_unlock(&l->mu);
		return fault_set(f, FAULT_NOMEM, "out of memory");
	}
	/* in the list, busy and without holds while it is taken: a take
	 * of the same model waits for this one, and the renewer skips it */
	snprintf(h->model_id, sizeof h->model_id, "%s", model_id);
	atomic_init(&h->lost, 0);
	h->busy = 1;
	h->next = l->list;
	l->list = h;
	pthread_mutex_unlock(&l->mu);
	rc = store_lease_take(l->st, model_id, l->node, l->ttl_ms, &h->epoch,
	    holder, sizeof holder, f);
	pthread_mutex_lock(&l->mu);
	h->busy = 0;
	pthread_cond_broadcast(&l->idle);
	if (rc <= 0) {
		do_unlink(l, h);
		pthread_mutex_unlock(&l->mu);
		free(h);
		if (rc == 0)
			return fault_set(f, FAULT_BUSY, "model '%s' is being "
			    "trained on node '%s'", model_id, holder);
		return -1;
	}
	h->refs = 1;
	*out = h;
	pthread_mutex_unlock(&l->mu);
	log_debug("model %s: lease taken at epoch %" PRIu64, model_id,
	    h->epoch);
	return 0;
}

uint64_t
lease_epoch(const lease_hold *h)
{
	return h != NULL ? h->epoch : 0;
}

int
lease_lost(const lease_hold *h)
{
	return h != NULL && atomic_load(&h->lost);
}

void
lease_mark_lost(leases *l, lease_hold *h, const char *why)
{
	if (l == NULL || h == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	do_log_lost(l, h, "", why);
	pthread_mutex_unlock(&l->mu);
}

void
lease_put(leases *l, lease_hold *h)
{
	fault f;
	int rc;

	if (l == NULL || h == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	if (--h->refs > 0) {
		pthread_mutex_unlock(&l->mu);
		return;
	}
	/* a renew of it may be under way; a take may share it meanwhile */
	while (h->busy)
		pthread_cond_wait(&l->idle, &l->mu);
	if (h->refs > 0) {
		pthread_mutex_unlock(&l->mu);
		return;
	}
	if (atomic_load(&h->lost)) {
		do_unlink(l, h);
		pthread_mutex_unlock(&l->mu);
		free(h);
		return;
	}
	/* released without the lock, busy: a take of this model waits for
	 * the release, then takes it anew */
	h->busy = 1;
	pthread_mutex_unlock(&l->mu);
	rc = store_lease_release(l->st, h->model_id, l->node, h->epoch, &f);
	if (rc < 0)
		log_warn("model %s: lease not released (it expires in %" PRId64
		    " ms): %s", h->model_id, l->ttl_ms, f.msg);
	pthread_mutex_lock(&l->mu);
	do_unlink(l, h);
	pthread_cond_broadcast(&l->idle);
	pthread_mutex_unlock(&l->mu);
	free(h);
}

size_t
leases_held(leases *l)
{
	size_t n = 0;

	if (l == NULL)
		return 0;
	pthread_mutex_lock(&l->mu);
	for (lease_hold *h = l->list; h != NULL; h = h->next)
		n += h->refs > 0 && !atomic_load(&h->lost);
	pthread_mutex_unlock(&l->mu);
	return n;
}
