/*
 * pg_versions: versions (immutable copies of a model's weights) and
 * aliases (names for versions) on PostgreSQL. Each change is one write
 * transaction that first locks the model's row, so that two nodes
 * numbering a version, or counting against --max-versions or the alias
 * cap, do it one after the other; numbers come from version_seq, so that
 * a deleted version's number is never given out again. Names sort
 * bytewise (COLLATE "C"), as SQLite sorts them, whatever the database's
 * locale.
 */
#include "pg_int.h"
#include "store_vargs.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V_COLS "model_id, version, name, step, loss, val_loss, " \
	"val_accuracy, val_step, created_ms"

/* Runs sql with (text, i when i >= 0) that returns one integer: *v gets
 * it (0 for no row). */
static int
vq_int(pg_conn *c, const char *sql, const char *text, int64_t i,
	  int64_t *v, fault *f, const char *what)
{
	pg_params p = { 0 };
	PGresult *r;

	pg_p_text(&p, text);
	if (i >= 0)
		pg_p_i64(&p, i);
	if ((r = pg_exec(c, sql, &p, 0, f, what)) == NULL)
		return -1;
	*v = PQntuples(r) > 0 ? pg_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

/* Runs sql (no rows) with (text, i): the rows it changed, or -1. */
static int64_t
vq_run(pg_conn *c, const char *sql, const char *text, int64_t i,
	     fault *f, const char *what)
{
	pg_params p = { 0 };

	pg_p_text(&p, text);
	pg_p_i64(&p, i);
	return pg_run(c, sql, &p, f, what);
}

/* Fills v from row i of r (V_COLS first). */
static int
fill_version(const PGresult *r, int i, store_version *v, fault *f)
{
	if (pg_copy_id(v->model_id, r, i, 0, f) != 0)
		return -1;
	v->version = (uint64_t)pg_i64(r, i, 1);
	snprintf(v->name, sizeof v->name, "%s", pg_text(r, i, 2));
	v->step = (uint64_t)pg_i64(r, i, 3);
	v->loss = pg_real(r, i, 4);
	v->val_loss = pg_real(r, i, 5);
	v->val_accuracy = pg_real(r, i, 6);
	v->val_step = (uint64_t)pg_i64(r, i, 7);
	v->created_ms = pg_i64(r, i, 8);
	return 0;
}

/* ---- create ---- */

static int
do_version_create(pg_conn *c, void *arg, fault *f)
{
	struct vcreate *a = arg;
	const store_version_new *in = a->in;
	store_version *r = a->row;
	store_val_point vp = { 0 };
	pg_params p = { 0 };
	int64_t last, count;
	double loss = NAN;

	if (pg_lease_check(c, in->model_id, in->epoch, f) != 0 ||
	    pg_model_need(c, in->model_id, 1, f) != 0 ||
	    vq_int(c, "SELECT count(*) FROM versions WHERE model_id = $1",
	    in->model_id, -1, &count, f, "counting versions") != 0)
		return -1;
	if (in->max_versions > 0 && (uint64_t)count >= in->max_versions)
		return fault_set(f, FAULT_LIMIT, "model %s already has %" PRId64
		    " versions, the most --max-versions allows: delete one "
		    "first", in->model_id, count);
	if (vq_int(c, "SELECT last FROM version_seq WHERE model_id = $1",
	    in->model_id, -1, &last, f, "numbering a version") != 0)
		return -1;
	if (in->from_history && (pg_history_loss_at(c, in->model_id,
	    (int64_t)in->step, &loss, f) != 0 || pg_history_val_at(c,
	    in->model_id, (int64_t)in->step, &vp, f) != 0))
		return -1;
	store_version_row(in, (uint64_t)last + 1, loss, &vp, r);
	pg_p_text(&p, r->model_id);
	pg_p_i64(&p, (int64_t)r->version);
	pg_p_text(&p, r->name[0] ? r->name : NULL);
	pg_p_i64(&p, (int64_t)r->step);
	pg_p_real(&p, r->loss);
	pg_p_real(&p, r->val_loss);
	pg_p_real(&p, r->val_accuracy);
	pg_p_time(&p, (int64_t)r->val_step); /* 0: NULL */
	pg_p_i64(&p, r->created_ms);
	pg_p_bytea(&p, in->blob, in->blob_len);
	if (pg_run(c, "INSERT INTO versions (" V_COLS ", weights) "
		   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", &p, f,
		   "storing a version") < 0)
		return -1;
	return vq_run(c, "INSERT INTO version_seq (model_id, last) "
			    "VALUES ($1, $2) ON CONFLICT (model_id) DO UPDATE "
			    "SET last = excluded.last", r->model_id,
			    (int64_t)r->version, f,
			    "numbering a version") < 0 ? -1 : 0;
}

int
pg_version_create(store *s, const store_version_new *v, store_version *out,
		  fault *f)
{
	struct vcreate a = { v, out };

	return pg_write_tx((pg_store *)s, do_version_create, &a, f);
}

/* ---- list and read ---- */

struct vlist {
	const char *model_id;
	int64_t after, limit;
	store_version *v; /* out, malloc'd */
	size_t n;
};

static int
do_versions_list(pg_conn *c, void *arg, fault *f)
{
	struct vlist *l = arg;
	pg_params p = { 0 };
	PGresult *r;
	size_t rows;

	free(l->v); /* a retry starts over */
	l->v = NULL;
	l->n = 0;
	if (pg_model_need(c, l->model_id, 0, f) != 0)
		return -1;
	pg_p_text(&p, l->model_id);
	pg_p_i64(&p, l->after);
	pg_p_i64(&p, l->limit);
	r = pg_exec(c, "SELECT " V_COLS " FROM versions WHERE model_id = $1 "
		    "AND version > $2 ORDER BY version LIMIT $3", &p, 0, f,
		    "listing versions");
	if (r == NULL)
		return -1;
	rows = (size_t)PQntuples(r);
	if (rows > 0 && (l->v = calloc(rows, sizeof *l->v)) == NULL) {
		PQclear(r);
		return fault_set(f, FAULT_NOMEM, "out of memory listing "
				 "versions");
	}
	for (size_t i = 0; i < rows; i++) {
		if (fill_version(r, (int)i, &l->v[i], f) != 0) {
			PQclear(r);
			return -1;
		}
		l->n++;
	}
	PQclear(r);
	return 0;
}

int
pg_versions_list(store *s, const char *model_id, uint64_t after,
		 size_t limit, store_version **out, size_t *n, fault *f)
{
	struct vlist l = { model_id, (int64_t)after, (int64_t)limit, NULL, 0 };
	int rc = pg_read_tx((pg_store *)s, do_versions_list, &l, f);

	*out = l.v; /* store.c frees it on failure */
	*n = l.n;
	return rc;
}

static int
do_version_get(pg_conn *c, void *arg, fault *f)
{
	struct vget *g = arg;
	pg_params p = { 0 };
	PGresult *r;
	int ret = 0;

	g->found = 0;
	if (g->blob != NULL) { /* a retry starts over */
		free(*g->blob);
		*g->blob = NULL;
	}
	pg_p_text(&p, g->model_id);
	pg_p_i64(&p, g->version);
	if (g->blob != NULL)
		r = pg_exec(c, "SELECT " V_COLS ", weights FROM versions "
			    "WHERE model_id = $1 AND version = $2", &p, 1, f,
			    "reading a version");
	else
		r = pg_exec(c, "SELECT " V_COLS " FROM versions "
			    "WHERE model_id = $1 AND version = $2", &p, 1, f,
			    "reading a version");
	if (r == NULL)
		return -1;
	if (PQntuples(r) > 0) {
		g->found = 1;
		ret = fill_version(r, 0, g->row, f);
		if (ret == 0 && g->blob != NULL &&
		    (*g->blob = pg_copy_bytes(r, 0, 9, g->len, f)) == NULL)
			ret = -1;
	}
	PQclear(r);
	return ret;
}

int
pg_version_get(store *s, const char *model_id, uint64_t version,
	       store_version *out, void **blob, size_t *len, fault *f)
{
	struct vget g = { model_id, (int64_t)version, out, blob, len, 0 };

	if (pg_read_tx((pg_store *)s, do_version_get, &g, f) != 0)
		return -1;
	return g.found;
}

/* ---- delete ---- */

static int
do_version_delete(pg_conn *c, void *arg, fault *f)
{
	struct vdel *d = arg;
	int64_t n;

	if (d->drop_aliases && vq_run(c, "DELETE FROM aliases "
	    "WHERE model_id = $1 AND version = $2", d->model_id, d->version,
	    f, "dropping aliases") < 0)
		return -1;
	if (vq_int(c, "SELECT count(*) FROM aliases WHERE model_id = $1 "
	    "AND version = $2", d->model_id, d->version, &n, f,
	    "reading aliases") != 0)
		return -1;
	if (n > 0) {
		*d->what = STORE_VDEL_ALIASED;
		return 0;
	}
	if ((n = vq_run(c, "DELETE FROM versions WHERE model_id = $1 "
	    "AND version = $2", d->model_id, d->version, f,
	    "deleting a version")) < 0)
		return -1;
	*d->what = n > 0 ? STORE_VDEL_DONE : STORE_VDEL_MISSING;
	return 0;
}

int
pg_version_delete(store *s, const char *model_id, uint64_t version,
		  int drop_aliases, store_vdel *what, fault *f)
{
	struct vdel d = { model_id, (int64_t)version, drop_aliases, what };

	return pg_write_tx((pg_store *)s, do_version_delete, &d, f);
}

/* ---- aliases ---- */

static int
do_alias_set(pg_conn *c, void *arg, fault *f)
{
	struct aset *a = arg;
	pg_params p = { 0 }, q = { 0 };
	int64_t exists, count;
	PGresult *r;

	a->done = 0;
	/* the model's lock orders the count against the cap */
	if (pg_model_need(c, a->model_id, 1, f) != 0) {
		if (f != NULL && f->code == FAULT_NO_MODEL) {
			fault_clear(f); /* no model: no such version either */
			return 0;
		}
		return -1;
	}
	if (vq_int(c, "SELECT count(*) FROM versions WHERE model_id = $1 "
	    "AND version = $2", a->model_id, a->version, &exists, f,
	    "reading a version") != 0)
		return -1;
	if (!exists)
		return 0;
	pg_p_text(&p, a->model_id);
	pg_p_text(&p, a->name);
	if ((r = pg_exec(c, "SELECT 1 FROM aliases WHERE model_id = $1 "
			 "AND name = $2", &p, 0, f,
			 "reading aliases")) == NULL)
		return -1;
	exists = PQntuples(r) > 0;
	PQclear(r);
	if (vq_int(c, "SELECT count(*) FROM aliases WHERE model_id = $1",
	    a->model_id, -1, &count, f, "counting aliases") != 0)
		return -1;
	if (!exists && a->max_aliases > 0 && (uint64_t)count >= a->max_aliases)
		return fault_set(f, FAULT_LIMIT, "model %s already has %" PRId64
		    " aliases, the most allowed: remove one first",
		    a->model_id, count);
	pg_p_text(&q, a->model_id);
	pg_p_text(&q, a->name);
	pg_p_i64(&q, a->version);
	pg_p_i64(&q, a->now_ms);
	if (pg_run(c, "INSERT INTO aliases (model_id, name, version, "
		   "updated_ms) VALUES ($1, $2, $3, $4) "
		   "ON CONFLICT (model_id, name) DO UPDATE "
		   "SET version = excluded.version, "
		   "updated_ms = excluded.updated_ms", &q, f,
		   "storing an alias") < 0)
		return -1;
	a->done = 1;
	return 0;
}

int
pg_alias_set(store *s, const char *model_id, const char *name,
	     uint64_t version, size_t max_aliases, int64_t now_ms, fault *f)
{
	struct aset a = { model_id, name, (int64_t)version, max_aliases,
			  now_ms, 0 };

	if (pg_write_tx((pg_store *)s, do_alias_set, &a, f) != 0)
		return -1;
	return a.done;
}

static int
do_alias_delete(pg_conn *c, void *arg, fault *f)
{
	struct adel *a = arg;
	pg_params p = { 0 };
	int64_t n;

	pg_p_text(&p, a->model_id);
	pg_p_text(&p, a->name);
	if ((n = pg_run(c, "DELETE FROM aliases WHERE model_id = $1 "
			"AND name = $2", &p, f, "removing an alias")) < 0)
		return -1;
	a->done = n > 0;
	return 0;
}

int
pg_alias_delete(store *s, const char *model_id, const char *name, fault *f)
{
	struct adel a = { model_id, name, 0 };

	if (pg_write_tx((pg_store *)s, do_alias_delete, &a, f) != 0)
		return -1;
	return a.done;
}

struct alist {
	const char *model_id; /* NULL: all */
	store_alias *v;       /* out, malloc'd */
	size_t n;
};

static int
do_aliases_list(pg_conn *c, void *arg, fault *f)
{
	struct alist *l = arg;
	pg_params p = { 0 };
	PGresult *r;
	size_t rows;

	free(l->v); /* a retry starts over */
	l->v = NULL;
	l->n = 0;
	if (l->model_id != NULL)
		pg_p_text(&p, l->model_id);
	if (l->model_id != NULL)
		r = pg_exec(c, "SELECT model_id, name, version, updated_ms "
			    "FROM aliases WHERE model_id = $1 "
			    "ORDER BY name COLLATE \"C\"", &p, 0, f,
			    "listing aliases");
	else
		r = pg_exec(c, "SELECT model_id, name, version, updated_ms "
			    "FROM aliases ORDER BY model_id COLLATE \"C\", "
			    "name COLLATE \"C\"", &p, 0, f, "listing aliases");
	if (r == NULL)
		return -1;
	rows = (size_t)PQntuples(r);
	if (rows > 0 && (l->v = calloc(rows, sizeof *l->v)) == NULL) {
		PQclear(r);
		return fault_set(f, FAULT_NOMEM, "out of memory listing "
				 "aliases");
	}
	for (size_t i = 0; i < rows; i++) {
		store_alias *a = &l->v[i];
		const char *name = pg_text(r, (int)i, 1);

		if (pg_copy_id(a->model_id, r, (int)i, 0, f) != 0)
			goto fail;
		if (strlen(name) >= sizeof a->name) {
			fault_set(f, FAULT_CORRUPT, "a stored alias is too "
				  "long");
			goto fail;
		}
		strcpy(a->name, name);
		a->version = (uint64_t)pg_i64(r, (int)i, 2);
		a->updated_ms = pg_i64(r, (int)i, 3);
		l->n++;
	}
	PQclear(r);
	return 0;
fail:
	PQclear(r);
	return -1;
}

int
pg_aliases_list(store *s, const char *model_id, store_alias **out,
		size_t *n, fault *f)
{
	struct alist l = { model_id, NULL, 0 };
	int rc = pg_read_tx((pg_store *)s, do_aliases_list, &l, f);

	*out = l.v; /* store.c frees it on failure */
	*n = l.n;
	return rc;
}
