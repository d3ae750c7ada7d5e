/*
 * pg_models: the models table on PostgreSQL. Insert, list (pages of rows
 * read in short transactions, the callback called with no connection
 * held), delete (batches, jobs and versions go by ON DELETE CASCADE, the
 * history through pg_history_forget), replace the weights and read the
 * checkpoint; and, for the other files, the "no such model" check (with
 * the model's row lock that orders the writes of one model across nodes).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup */
#endif
#include "pg_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Models store_models_each reads per transaction. */
#define MODELS_PAGE 16

int
pg_model_missing(const char *id, fault *f)
{
	return fault_set(f, FAULT_NO_MODEL, "no model with id '%.*s'",
			 STORE_ID_MAX, id);
}

int
pg_model_need(pg_conn *c, const char *id, int lock, fault *f)
{
	pg_params p = { 0 };
	PGresult *r;
	int n;

	pg_p_text(&p, id);
	if (lock)
		r = pg_exec(c, "SELECT 1 FROM models WHERE id = $1 FOR UPDATE",
			    &p, 0, f, "looking up a model");
	else
		r = pg_exec(c, "SELECT 1 FROM models WHERE id = $1", &p, 0, f,
			    "looking up a model");
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	PQclear(r);
	return n > 0 ? 0 : pg_model_missing(id, f);
}

/* ---- insert, list, delete ---- */

static int
do_model_insert(pg_conn *c, void *arg, fault *f)
{
	const store_model *m = arg;
	pg_params p = { 0 };
	int64_t n;

	pg_p_text(&p, m->id);
	pg_p_text(&p, m->name);
	pg_p_i64(&p, m->created_ms);
	pg_p_i64(&p, m->updated_ms);
	pg_p_i64(&p, (int64_t)m->step);
	pg_p_i64(&p, m->samples);
	pg_p_real(&p, m->last_loss);
	pg_p_bytea(&p, m->blob, m->blob_len);
	n = pg_run(c, "INSERT INTO models (id, name, created_ms, updated_ms, "
		   "step, samples, last_loss, weights) "
		   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
		   "ON CONFLICT (id) DO NOTHING", &p, f, "storing a model");
	if (n < 0)
		return -1;
	if (n == 0)
		return fault_set(f, FAULT_INVALID,
				 "a model with id '%s' already exists", m->id);
	return 0;
}

int
pg_model_insert(store *s, const store_model *m, fault *f)
{
	if (pg_check_id(m->id, "model", f) != 0)
		return -1;
	if (m->name == NULL)
		return fault_set(f, FAULT_INVALID, "the model has no name");
	if (m->step > INT64_MAX || m->samples < 0)
		return fault_set(f, FAULT_INVALID,
				 "the model's step or samples is out of range");
	return pg_write_tx((pg_store *)s, do_model_insert, (void *)m, f);
}

/* Where pg_models_each is, and copies of the page of rows read last. */
struct model_page {
	int64_t created_ms, seq;   /* the last row read */
	size_t n;                  /* rows in m */
	int more;                  /* the page was full: read on */
	store_model m[MODELS_PAGE]; /* names and blobs malloc'd */
};

static void
model_page_clear(struct model_page *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free((void *)k->m[i].name);
		free((void *)k->m[i].blob);
	}
	k->n = 0;
}

/* Reads (copies of) the next page of models after the cursor. */
static int
do_model_page(pg_conn *c, void *arg, fault *f)
{
	struct model_page *k = arg;
	pg_params p = { 0 };
	PGresult *r;
	int rows;

	model_page_clear(k);
	pg_p_i64(&p, k->created_ms);
	pg_p_i64(&p, k->seq);
	pg_p_i64(&p, MODELS_PAGE);
	r = pg_exec(c, "SELECT seq, id, name, created_ms, updated_ms, step, "
		    "samples, last_loss, weights FROM models "
		    "WHERE (created_ms, seq) > ($1, $2) "
		    "ORDER BY created_ms, seq LIMIT $3", &p, 1, f,
		    "listing models");
	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	for (int i = 0; i < rows; i++) {
		store_model *m = &k->m[k->n];

		memset(m, 0, sizeof *m);
		if (pg_copy_id(m->id, r, i, 1, f) != 0 ||
		    (m->name = pg_copy_text(r, i, 2, f)) == NULL)
			goto fail;
		if ((m->blob = pg_copy_bytes(r, i, 8, &m->blob_len, f)) ==
		    NULL) {
			free((void *)m->name);
			goto fail;
		}
		k->n++;
		k->seq = pg_i64(r, i, 0);
		k->created_ms = m->created_ms = pg_i64(r, i, 3);
		m->updated_ms = pg_i64(r, i, 4);
		m->step = (uint64_t)pg_i64(r, i, 5);
		m->samples = pg_i64(r, i, 6);
		m->last_loss = pg_real(r, i, 7);
	}
	k->more = rows == MODELS_PAGE;
	PQclear(r);
	return 0;
fail:
	PQclear(r);
	model_page_clear(k);
	return -1;
}

int
pg_models_each(store *s, int (*cb)(void *arg, const store_model *m),
	       void *arg, fault *f)
{
	struct model_page *k = calloc(1, sizeof *k);
	int r = 0;

	if (k == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory listing "
				 "models");
	k->created_ms = INT64_MIN;
	k->seq = INT64_MIN;
	do {
		/* a page at a time, each in its own short read */
		if (pg_read_tx((pg_store *)s, do_model_page, k, f) != 0) {
			r = -1;
			break;
		}
		for (size_t i = 0; i < k->n && r == 0; i++)
			r = cb(arg, &k->m[i]);
	} while (r == 0 && k->more);
	model_page_clear(k);
	free(k);
	return r;
}

static int
do_model_delete(pg_conn *c, void *arg, fault *f)
{
	const char *id = arg;
	pg_params p = { 0 };
	int64_t n;

	/* Batches, jobs, versions and aliases go by ON DELETE CASCADE; the
	 * trigger notes the id in loss_trash. */
	pg_p_text(&p, id);
	if ((n = pg_run(c, "DELETE FROM models WHERE id = $1", &p, f,
			"deleting a model")) < 0)
		return -1;
	if (n == 0)
		return pg_model_missing(id, f);
	return pg_history_forget(c, id, f);
}

int
pg_model_delete(store *s, const char *id, fault *f)
{
	if (id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	return pg_write_tx((pg_store *)s, do_model_delete, (void *)id, f);
}

/* ---- weights, checkpoint ---- */

struct set_weights {
	const char *id;
	const void *blob;
	size_t len;
	int64_t step, now_ms;
	uint64_t epoch;      /* 0: unfenced */
};

/* History past the new step goes; last_loss becomes the loss of the last
 * step kept (NULL when none). The model's row is locked first, so a
 * progress commit of another node waits for this one. */
static int
do_set_weights(pg_conn *c, void *arg, fault *f)
{
	const struct set_weights *w = arg;
	pg_params p = { 0 };
	double last_loss;

	if (pg_lease_check(c, w->id, w->epoch, f) != 0 ||
	    pg_model_need(c, w->id, 1, f) != 0 ||
	    pg_history_trim(c, w->id, w->step, f) != 0 ||
	    pg_history_loss_at(c, w->id, w->step, &last_loss, f) != 0)
		return -1;
	pg_p_text(&p, w->id);
	pg_p_bytea(&p, w->blob, w->len);
	pg_p_i64(&p, w->step);
	pg_p_i64(&p, w->now_ms);
	pg_p_real(&p, last_loss);
	if (pg_run(c, "UPDATE models SET weights = $2, step = $3, "
		   "updated_ms = $4, last_loss = $5 WHERE id = $1", &p, f,
		   "storing weights") != 1)
		return -1;
	/* the other nodes' predictions follow (pg_listen.c) */
	return pg_models_notify(c, w->id, f);
}

int
pg_model_set_weights(store *s, const char *id, const void *blob, size_t len,
		     uint64_t step, int64_t now_ms, fault *f)
{
	return pg_model_set_weights_fenced(s, id, blob, len, step, now_ms, 0,
	    f);
}

int
pg_model_set_weights_fenced(store *s, const char *id, const void *blob,
			    size_t len, uint64_t step, int64_t now_ms,
			    uint64_t epoch, fault *f)
{
	struct set_weights w = { id, blob, len, (int64_t)step, now_ms, epoch };

	if (id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (step > INT64_MAX)
		return fault_set(f, FAULT_INVALID, "step %" PRIu64
				 " is out of range", step);
	return pg_write_tx((pg_store *)s, do_set_weights, &w, f);
}

struct checkpoint {
	const char *id;
	void *blob;     /* out, malloc'd */
	size_t len;
	uint64_t step;
};

static int
do_model_checkpoint(pg_conn *c, void *arg, fault *f)
{
	struct checkpoint *k = arg;
	pg_params p = { 0 };
	PGresult *r;

	free(k->blob); /* a retry starts over */
	k->blob = NULL;
	pg_p_text(&p, k->id);
	r = pg_exec(c, "SELECT weights, step FROM models WHERE id = $1", &p,
		    1, f, "reading a checkpoint");
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return pg_model_missing(k->id, f);
	}
	k->step = (uint64_t)pg_i64(r, 0, 1);
	k->blob = pg_copy_bytes(r, 0, 0, &k->len, f);
	PQclear(r);
	return k->blob != NULL ? 0 : -1;
}

int
pg_model_checkpoint(store *s, const char *id, void **blob, size_t *len,
		    uint64_t *step, fault *f)
{
	struct checkpoint k = { id, NULL, 0, 0 };

	*blob = NULL;
	*len = 0;
	if (id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (pg_read_tx((pg_store *)s, do_model_checkpoint, &k, f) != 0) {
		free(k.blob);
		return -1;
	}
	*blob = k.blob;
	*len = k.len;
	if (step != NULL)
		*step = k.step;
	return 0;
}

/* ---- several nodes on one store ---- */

/* Other nodes write the same database. */
int
pg_shared(store *s)
{
	(void)s;
	return 1;
}

/* The stamps of every model, read in one query (no weights). */
struct stamps {
	store_model_stamp *m; /* malloc'd */
	size_t n;
};

static int
do_models_stamps(pg_conn *c, void *arg, fault *f)
{
	struct stamps *k = arg;
	PGresult *r;
	int rows;

	free(k->m); /* a retry starts over */
	k->m = NULL;
	k->n = 0;
	r = pg_exec(c, "SELECT id, step, updated_ms, samples, last_loss "
		    "FROM models ORDER BY created_ms, seq", NULL, 0, f,
		    "reading the models' stamps");
	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	if ((k->m = calloc(rows > 0 ? (size_t)rows : 1, sizeof *k->m)) ==
	    NULL) {
		PQclear(r);
		return fault_set(f, FAULT_NOMEM, "out of memory reading the "
				 "models' stamps");
	}
	for (int i = 0; i < rows; i++) {
		store_model_stamp *m = &k->m[k->n];

		if (pg_copy_id(m->id, r, i, 0, f) != 0) {
			PQclear(r);
			return -1;
		}
		m->step = (uint64_t)pg_i64(r, i, 1);
		m->updated_ms = pg_i64(r, i, 2);
		m->samples = pg_i64(r, i, 3);
		m->last_loss = pg_real(r, i, 4);
		k->n++;
	}
	PQclear(r);
	return 0;
}

int
pg_models_stamps(store *s, int (*cb)(void *arg, const store_model_stamp *m),
		 void *arg, fault *f)
{
	struct stamps k = { NULL, 0 };
	int r = 0;

	if (pg_read_tx((pg_store *)s, do_models_stamps, &k, f) != 0)
		r = -1;
	for (size_t i = 0; r == 0 && i < k.n; i++)
		r = cb(arg, &k.m[i]);
	free(k.m);
	return r;
}

/* One model with its weights (name and blob malloc'd). */
struct model_get {
	const char *id;
	int found;
	store_model m;
};

static void
model_get_clear(struct model_get *k)
{
	free((void *)k->m.name);
	free((void *)k->m.blob);
	memset(&k->m, 0, sizeof k->m);
	k->found = 0;
}

static int
do_model_get(pg_conn *c, void *arg, fault *f)
{
	struct model_get *k = arg;
	pg_params p = { 0 };
	store_model *m = &k->m;
	PGresult *r;

	model_get_clear(k); /* a retry starts over */
	pg_p_text(&p, k->id);
	r = pg_exec(c, "SELECT id, name, created_ms, updated_ms, step, "
		    "samples, last_loss, weights FROM models WHERE id = $1",
		    &p, 1, f, "reading a model");
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	if (pg_copy_id(m->id, r, 0, 0, f) != 0 ||
	    (m->name = pg_copy_text(r, 0, 1, f)) == NULL ||
	    (m->blob = pg_copy_bytes(r, 0, 7, &m->blob_len, f)) == NULL) {
		PQclear(r);
		model_get_clear(k);
		return -1;
	}
	m->created_ms = pg_i64(r, 0, 2);
	m->updated_ms = pg_i64(r, 0, 3);
	m->step = (uint64_t)pg_i64(r, 0, 4);
	m->samples = pg_i64(r, 0, 5);
	m->last_loss = pg_real(r, 0, 6);
	k->found = 1;
	PQclear(r);
	return 0;
}

int
pg_model_get(store *s, const char *id, int (*cb)(void *arg,
	     const store_model *m), void *arg, fault *f)
{
	struct model_get k;
	int r;

	if (pg_check_id(id, "model", f) != 0)
		return -1;
	memset(&k, 0, sizeof k);
	k.id = id;
	if (pg_read_tx((pg_store *)s, do_model_get, &k, f) != 0) {
		model_get_clear(&k);
		return -1;
	}
	if (!k.found)
		return 0;
	r = cb(arg, &k.m);
	model_get_clear(&k);
	return r == 0 ? 1 : r;
}
