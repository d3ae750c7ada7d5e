/*
 * versions: aliases in memory and the cache of version nets (see
 * versions.h for the DESIGN). Both are small arrays scanned linearly:
 * aliases are a few per model, nets at most max_nets, least recently
 * used evicted first.
 */
#include "versions.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"

/* One loaded version. */
typedef struct net {
	char model_id[STORE_ID_MAX];
	uint64_t version;
	mlp_snapshot *snap; /* a reference owned by the cache */
	uint64_t used;      /* tick of the last use: the oldest goes first */
} net;

struct versions {
	store *st;            /* borrowed */
	pthread_mutex_t wmu;  /* serializes writers: store commit + memory */
	pthread_mutex_t mu;   /* guards everything below */
	store_alias *aliases; /* every model's, unordered */
	size_t naliases, capaliases;
	net *nets;            /* max_nets slots, nnets used */
	size_t nnets, max_nets;
	uint64_t tick;        /* use clock for the nets */
	uint64_t gen;         /* ticks at every delete: a load begun before
	                         it is not cached */
};

versions *
versions_create(store *st, size_t max_nets, fault *f)
{
	versions *v = calloc(1, sizeof *v);

	if (v == NULL || max_nets == 0 ||
	    (v->nets = calloc(max_nets, sizeof *v->nets)) == NULL) {
		free(v);
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	v->st = st;
	v->max_nets = max_nets;
	pthread_mutex_init(&v->wmu, NULL);
	pthread_mutex_init(&v->mu, NULL);
	if (store_aliases_list(st, NULL, &v->aliases, &v->naliases, f) < 0) {
		versions_destroy(v);
		return NULL;
	}
	v->capaliases = v->naliases;
	return v;
}

void
versions_destroy(versions *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->nnets; i++)
		mlp_snapshot_unref(v->nets[i].snap);
	free(v->nets);
	free(v->aliases);
	pthread_mutex_destroy(&v->wmu);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

/* The index of model_id's alias, or -1 (mu held). */
static long
do_alias_find(versions *v, const char *model_id, const char *alias)
{
	for (size_t i = 0; i < v->naliases; i++)
		if (strcmp(v->aliases[i].model_id, model_id) == 0 &&
		    strcmp(v->aliases[i].name, alias) == 0)
			return (long)i;
	return -1;
}

/* The cached net of (model_id, version), or NULL (mu held). */
static net *
do_net_find(versions *v, const char *model_id, uint64_t version)
{
	for (size_t i = 0; i < v->nnets; i++)
		if (v->nets[i].version == version &&
		    strcmp(v->nets[i].model_id, model_id) == 0)
			return &v->nets[i];
	return NULL;
}

/* Drops the nets for which version is 0 (all of model_id's) or equal to
 * version (mu held). */
static void
do_nets_drop(versions *v, const char *model_id, uint64_t version)
{
	size_t j = 0;

	for (size_t i = 0; i < v->nnets; i++) {
		if (strcmp(v->nets[i].model_id, model_id) == 0 &&
		    (version == 0 || v->nets[i].version == version))
			mlp_snapshot_unref(v->nets[i].snap);
		else
			v->nets[j++] = v->nets[i];
	}
	v->nnets = j;
}

/* Caches s for (model_id, version), evicting the least recently used net
 * when full; takes its own reference (mu held). */
static void
do_net_add(versions *v, const char *model_id, uint64_t version,
	   mlp_snapshot *s)
{
	net *n;

	if (v->nnets == v->max_nets) {
		size_t old = 0;

		for (size_t i = 1; i < v->nnets; i++)
			if (v->nets[i].used < v->nets[old].used)
				old = i;
		mlp_snapshot_unref(v->nets[old].snap);
		v->nets[old] = v->nets[--v->nnets];
	}
	n = &v->nets[v->nnets++];
	strcpy(n->model_id, model_id);
	n->version = version;
	n->snap = mlp_snapshot_ref(s);
	n->used = ++v->tick;
}

/* Reads version from the store and builds its net; 1, 0 or -1 as
 * versions_resolve. */
static int
load_net(versions *v, const char *model_id, const mlp_spec *spec,
	 uint64_t version, mlp_snapshot **snap, fault *f)
{
	void *blob = NULL;
	size_t len = 0;
	store_version row;
	mlp *m;
	int rc = store_version_get(v->st, model_id, version, &row, &blob, &len,
	    f);

	if (rc <= 0) {
		if (rc == 0)
			fault_set(f, FAULT_INVALID, "model %s has no version "
			    "%llu", model_id, (unsigned long long)version);
		return rc;
	}
	m = blob_load(blob, len, spec, f);
	free(blob);
	if (m == NULL)
		return -1;
	*snap = mlp_snapshot_create(m, f);
	mlp_destroy(m);
	return *snap == NULL ? -1 : 1;
}

int
versions_resolve(versions *v, const char *model_id, const mlp_spec *spec,
		 const char *alias, uint64_t version, mlp_snapshot **snap,
		 uint64_t *out_version, fault *f)
{
	net *n;
	uint64_t gen;
	mlp_snapshot *s = NULL;
	int rc;

	*snap = NULL;
	pthread_mutex_lock(&v->mu);
	if (alias != NULL) {
		long i = do_alias_find(v, model_id, alias);

		if (i < 0) {
			pthread_mutex_unlock(&v->mu);
			fault_set(f, FAULT_INVALID, "model %s has no alias "
			    "'%.63s'", model_id, alias);
			return 0;
		}
		version = v->aliases[i].version;
	}
	*out_version = version;
	if ((n = do_net_find(v, model_id, version)) != NULL) {
		n->used = ++v->tick;
		*snap = mlp_snapshot_ref(n->snap);
		pthread_mutex_unlock(&v->mu);
		return 1;
	}
	gen = v->gen;
	pthread_mutex_unlock(&v->mu);
	/* a miss: read it with no lock held */
	if ((rc = load_net(v, model_id, spec, version, &s, f)) <= 0)
		return rc;
	pthread_mutex_lock(&v->mu);
	if ((n = do_net_find(v, model_id, version)) != NULL) {
		/* another thread loaded it meanwhile: share that one */
		mlp_snapshot_unref(s);
		s = mlp_snapshot_ref(n->snap);
	} else if (gen == v->gen) {
		do_net_add(v, model_id, version, s);
	}
	pthread_mutex_unlock(&v->mu);
	*snap = s;
	return 1;
}

int
versions_loaded(versions *v, const char *model_id, const char *alias,
		uint64_t version)
{
	int yes = 1;

	pthread_mutex_lock(&v->mu);
	if (alias != NULL) {
		long i = do_alias_find(v, model_id, alias);

		if (i < 0)
			yes = 0;
		else
			version = v->aliases[i].version;
	}
	if (yes)
		yes = do_net_find(v, model_id, version) != NULL;
	pthread_mutex_unlock(&v->mu);
	return yes;
}

int
versions_alias_get(versions *v, const char *model_id, const char *alias,
		   uint64_t *version)
{
	long i;

	pthread_mutex_lock(&v->mu);
	i = do_alias_find(v, model_id, alias);
	if (i >= 0)
		*version = v->aliases[i].version;
	pthread_mutex_unlock(&v->mu);
	return i >= 0;
}

/* Sets (or adds) the alias in memory (mu held); -1 out of memory. */
static int
do_alias_put(versions *v, const char *model_id, const char *alias,
	     uint64_t version, int64_t now_ms)
{
	long i = do_alias_find(v, model_id, alias);
	store_alias *a;

	if (i < 0) {
		if (v->naliases == v->capaliases) {
			size_t cap = v->capaliases ? 2 * v->capaliases : 16;
			store_alias *p = realloc(v->aliases, cap * sizeof *p);

			if (p == NULL)
				return -1;
			v->aliases = p;
			v->capaliases = cap;
		}
		i = (long)v->naliases++;
		a = &v->aliases[i];
		memset(a, 0, sizeof *a);
		snprintf(a->model_id, sizeof a->model_id, "%s", model_id);
		snprintf(a->name, sizeof a->name, "%s", alias);
	}
	v->aliases[i].version = version;
	v->aliases[i].updated_ms = now_ms;
	return 0;
}

/* Removes the aliases of model_id named alias (any when NULL) that point
 * to version (any when 0) from memory (mu held). */
static void
do_aliases_drop(versions *v, const char *model_id, const char *alias,
		uint64_t version)
{
	size_t j = 0;

	for (size_t i = 0; i < v->naliases; i++) {
		store_alias *a = &v->aliases[i];

		if (strcmp(a->model_id, model_id) == 0 &&
		    (alias == NULL || strcmp(a->name, alias) == 0) &&
		    (version == 0 || a->version == version))
			continue;
		v->aliases[j++] = *a;
	}
	v->naliases = j;
}

int
versions_alias_set(versions *v, const char *model_id, const char *alias,
		   uint64_t version, int64_t now_ms, fault *f)
{
	int rc;

	pthread_mutex_lock(&v->wmu);
	rc = store_alias_set(v->st, model_id, alias, version,
	    VERSIONS_MAX_ALIASES, now_ms, f);
	if (rc == 1) {
		pthread_mutex_lock(&v->mu);
		if (do_alias_put(v, model_id, alias, version, now_ms) < 0)
			rc = fault_set(f, FAULT_NOMEM, "out of memory: the "
			    "alias is stored and takes effect after a "
			    "restart");
		pthread_mutex_unlock(&v->mu);
	} else if (rc == 0) {
		fault_set(f, FAULT_INVALID, "model %s has no version %llu",
		    model_id, (unsigned long long)version);
	}
	pthread_mutex_unlock(&v->wmu);
	return rc;
}

int
versions_alias_delete(versions *v, const char *model_id, const char *alias,
		      fault *f)
{
	int rc;

	pthread_mutex_lock(&v->wmu);
	rc = store_alias_delete(v->st, model_id, alias, f);
	if (rc == 1) {
		pthread_mutex_lock(&v->mu);
		do_aliases_drop(v, model_id, alias, 0);
		pthread_mutex_unlock(&v->mu);
	} else if (rc == 0) {
		fault_set(f, FAULT_INVALID, "model %s has no alias '%.63s'",
		    model_id, alias);
	}
	pthread_mutex_unlock(&v->wmu);
	return rc;
}

int
versions_delete(versions *v, const char *model_id, uint64_t version,
		int drop_aliases, store_vdel *what, fault *f)
{
	int rc;

	pthread_mutex_lock(&v->wmu);
	rc = store_version_delete(v->st, model_id, version, drop_aliases,
	    what, f);
	if (rc == 0 && *what == STORE_VDEL_DONE) {
		pthread_mutex_lock(&v->mu);
		do_aliases_drop(v, model_id, NULL, version);
		do_nets_drop(v, model_id, version);
		v->gen++;
		pthread_mutex_unlock(&v->mu);
	}
	pthread_mutex_unlock(&v->wmu);
	return rc;
}

void
versions_forget_model(versions *v, const char *model_id)
{
	pthread_mutex_lock(&v->wmu);
	pthread_mutex_lock(&v->mu);
	do_aliases_drop(v, model_id, NULL, 0);
	do_nets_drop(v, model_id, 0);
	v->gen++;
	pthread_mutex_unlock(&v->mu);
	pthread_mutex_unlock(&v->wmu);
}

store_alias *
versions_aliases_of(versions *v, const char *model_id, size_t *n)
{
	store_alias *out = NULL;
	size_t k = 0;

	pthread_mutex_lock(&v->mu);
	for (size_t i = 0; i < v->naliases; i++)
		if (strcmp(v->aliases[i].model_id, model_id) == 0)
			k++;
	if (k > 0 && (out = malloc(k * sizeof *out)) != NULL) {
		k = 0;
		for (size_t i = 0; i < v->naliases; i++)
			if (strcmp(v->aliases[i].model_id, model_id) == 0)
				out[k++] = v->aliases[i];
	}
	pthread_mutex_unlock(&v->mu);
	*n = out != NULL ? k : 0;
	/* by name, as the store lists them */
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && strcmp(out[j - 1].name,
		    out[j].name) > 0; j--) {
			store_alias t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return out;
}

size_t
versions_cached(versions *v)
{
	size_t n;

	pthread_mutex_lock(&v->mu);
	n = v->nnets;
	pthread_mutex_unlock(&v->mu);
	return n;
}
