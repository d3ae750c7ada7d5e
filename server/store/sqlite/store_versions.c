/*
 * store_versions: versions (immutable copies of a model's weights) and
 * aliases (names for versions), schema/mlpd-4.sql. Each change is one
 * write transaction; numbers come from version_seq so that a deleted
 * version's number is never given out again.
 */
#include "store_int.h"
#include "store_vargs.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum q {
	Q_SEQ_GET,
	Q_SEQ_SET,
	Q_COUNT_VERSIONS,
	Q_INSERT,
	Q_LIST,
	Q_GET,
	Q_COUNT_ALIASED,
	Q_DROP_ALIASES,
	Q_DELETE,
	Q_ALIAS_EXISTS,
	Q_COUNT_ALIASES,
	Q_ALIAS_SET,
	Q_ALIAS_DELETE,
	Q_ALIASES_OF,
	Q_ALIASES_ALL,
	Q_COUNT_
};

#define V_COLS "model_id, version, name, step, loss, val_loss, " \
	"val_accuracy, val_step, created_ms"

static const char *const q_sql[Q_COUNT_] = {
	[Q_SEQ_GET] = "SELECT last FROM version_seq WHERE model_id = ?1",
	[Q_SEQ_SET] =
		"INSERT INTO version_seq (model_id, last) VALUES (?1, ?2) "
		"ON CONFLICT (model_id) DO UPDATE SET last = excluded.last",
	[Q_COUNT_VERSIONS] = "SELECT count(*) FROM versions WHERE model_id = ?1",
	[Q_INSERT] =
		"INSERT INTO versions (" V_COLS ", weights) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[Q_LIST] =
		"SELECT " V_COLS " FROM versions WHERE model_id = ?1 "
		"AND version > ?2 ORDER BY version LIMIT ?3",
	[Q_GET] =
		"SELECT " V_COLS ", weights FROM versions "
		"WHERE model_id = ?1 AND version = ?2",
	[Q_COUNT_ALIASED] =
		"SELECT count(*) FROM aliases WHERE model_id = ?1 "
		"AND version = ?2",
	[Q_DROP_ALIASES] =
		"DELETE FROM aliases WHERE model_id = ?1 AND version = ?2",
	[Q_DELETE] = "DELETE FROM versions WHERE model_id = ?1 AND version = ?2",
	[Q_ALIAS_EXISTS] =
		"SELECT 1 FROM aliases WHERE model_id = ?1 AND name = ?2",
	[Q_COUNT_ALIASES] = "SELECT count(*) FROM aliases WHERE model_id = ?1",
	[Q_ALIAS_SET] =
		"INSERT INTO aliases (model_id, name, version, updated_ms) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT (model_id, name) DO "
		"UPDATE SET version = excluded.version, "
		"updated_ms = excluded.updated_ms",
	[Q_ALIAS_DELETE] =
		"DELETE FROM aliases WHERE model_id = ?1 AND name = ?2",
	[Q_ALIASES_OF] =
		"SELECT model_id, name, version, updated_ms FROM aliases "
		"WHERE model_id = ?1 ORDER BY name",
	[Q_ALIASES_ALL] =
		"SELECT model_id, name, version, updated_ms FROM aliases "
		"ORDER BY model_id, name",
};

/* Runs st (bound) that returns one integer: *v gets it (0 for no row). */
static int
one_int(conn *c, sqlite3_stmt *st, int64_t *v, fault *f, const char *what)
{
	int rc = sqlite3_step(st);

	*v = 0;
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		db_fault(c, rc, f, what);
	db_done(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* The integer statement q gives for (?1 = text, ?2 = i when i >= 0). */
static int
query_int(conn *c, enum q q, const char *text, int64_t i, int64_t *v,
	  fault *f, const char *what)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[q], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, text, &rc);
	if (i >= 0)
		db_bind_i64(st, 2, i, &rc);
	if (db_bound(c, st, rc, f, what) != 0)
		return -1;
	return one_int(c, st, v, f, what);
}

/* Runs statement q (no rows) with ?1 = text, ?2 = i. */
static int
run_text_int(conn *c, enum q q, const char *text, int64_t i, fault *f,
	     const char *what)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[q], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, text, &rc);
	db_bind_i64(st, 2, i, &rc);
	if (db_bound(c, st, rc, f, what) != 0)
		return -1;
	return db_run(c, st, f, what);
}

static int
fill_version(sqlite3_stmt *st, void *row, fault *f)
{
	store_version *v = row;
	const unsigned char *name;

	if (db_copy_id(v->model_id, st, 0, f) != 0)
		return -1;
	v->version = (uint64_t)sqlite3_column_int64(st, 1);
	name = sqlite3_column_text(st, 2);
	snprintf(v->name, sizeof v->name, "%s", name ? (const char *)name : "");
	v->step = (uint64_t)sqlite3_column_int64(st, 3);
	v->loss = db_real(st, 4);
	v->val_loss = db_real(st, 5);
	v->val_accuracy = db_real(st, 6);
	v->val_step = (uint64_t)sqlite3_column_int64(st, 7);
	v->created_ms = sqlite3_column_int64(st, 8);
	return 0;
}

/* ---- create ---- */

static int
do_version_create(conn *c, void *arg, fault *f)
{
	struct vcreate *a = arg;
	const store_version_new *in = a->in;
	store_version *r = a->row;
	store_val_point vp = { 0 };
	sqlite3_stmt *st;
	int64_t last, count;
	double loss = NAN;
	int rc = SQLITE_OK;

	if (lease_check(c, in->model_id, in->epoch, f) != 0 ||
	    model_need(c, in->model_id, f) != 0 ||
	    query_int(c, Q_COUNT_VERSIONS, in->model_id, -1, &count,
	    f, "counting versions") != 0)
		return -1;
	if (in->max_versions > 0 && (uint64_t)count >= in->max_versions)
		return fault_set(f, FAULT_LIMIT, "model %s already has %" PRId64
		    " versions, the most --max-versions allows: delete one "
		    "first", in->model_id, count);
	if (query_int(c, Q_SEQ_GET, in->model_id, -1, &last, f,
	    "numbering a version") != 0)
		return -1;
	if (in->from_history && (history_loss_at(c, in->model_id,
	    (int64_t)in->step, &loss, f) != 0 || history_val_at(c,
	    in->model_id, (int64_t)in->step, &vp, f) != 0))
		return -1;
	store_version_row(in, (uint64_t)last + 1, loss, &vp, r);
	if ((st = db_stmt(c, q_sql[Q_INSERT], f)) == NULL)
		return -1;
	db_bind_text(st, 1, r->model_id, &rc);
	db_bind_i64(st, 2, (int64_t)r->version, &rc);
	if (r->name[0])
		db_bind_text(st, 3, r->name, &rc);
	db_bind_i64(st, 4, (int64_t)r->step, &rc);
	db_bind_real(st, 5, r->loss, &rc);
	db_bind_real(st, 6, r->val_loss, &rc);
	db_bind_real(st, 7, r->val_accuracy, &rc);
	if (r->val_step > 0)
		db_bind_i64(st, 8, (int64_t)r->val_step, &rc);
	db_bind_i64(st, 9, r->created_ms, &rc);
	db_bind_blob(st, 10, in->blob, in->blob_len, &rc);
	if (db_bound(c, st, rc, f, "storing a version") != 0 ||
	    db_run(c, st, f, "storing a version") != 0)
		return -1;
	return run_text_int(c, Q_SEQ_SET, r->model_id,
	    (int64_t)r->version, f, "numbering a version");
}

int
sq_version_create(store *s, const store_version_new *v,
		  store_version *out, fault *f)
{
	struct vcreate a = { v, out };

	return db_write_tx(s, do_version_create, &a, f);
}

/* ---- list and read ---- */

struct vlist {
	const char *model_id;
	int64_t after, limit;
	db_array rows; /* out: store_version */
};

static int
do_versions_list(conn *c, void *arg, fault *f)
{
	struct vlist *l = arg;
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	l->rows.n = 0; /* a retry starts over */
	if (model_need(c, l->model_id, f) != 0 ||
	    (st = db_stmt(c, q_sql[Q_LIST], f)) == NULL)
		return -1;
	db_bind_text(st, 1, l->model_id, &rc);
	db_bind_i64(st, 2, l->after, &rc);
	db_bind_i64(st, 3, l->limit, &rc);
	if (db_bound(c, st, rc, f, "listing versions") != 0)
		return -1;
	return db_rows(c, st, &l->rows, fill_version, f, "listing versions");
}

int
sq_versions_list(store *s, const char *model_id, uint64_t after,
		 size_t limit, store_version **out, size_t *n, fault *f)
{
	struct vlist l = { model_id, (int64_t)after, (int64_t)limit,
			   { .elem = sizeof(store_version) } };
	int rc = db_read_tx(s, do_versions_list, &l, f);

	*out = l.rows.v; /* store.c frees it on failure */
	*n = l.rows.n;
	return rc;
}

static int
do_version_get(conn *c, void *arg, fault *f)
{
	struct vget *g = arg;
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_GET], f);
	int rc = SQLITE_OK, ret = 0;

	g->found = 0;
	if (g->blob != NULL) { /* a retry starts over */
		free(*g->blob);
		*g->blob = NULL;
	}
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, g->model_id, &rc);
	db_bind_i64(st, 2, g->version, &rc);
	if (db_bound(c, st, rc, f, "reading a version") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		g->found = 1;
		ret = fill_version(st, g->row, f);
		if (ret == 0 && g->blob != NULL) {
			const void *b = sqlite3_column_blob(st, 9);
			size_t len = (size_t)sqlite3_column_bytes(st, 9);

			*g->len = len;
			*g->blob = malloc(len ? len : 1);
			if (*g->blob == NULL)
				ret = fault_set(f, FAULT_NOMEM, "out of memory "
				    "reading a version");
			else if (len > 0)
				memcpy(*g->blob, b, len);
		}
	} else if (rc != SQLITE_DONE) {
		ret = db_fault(c, rc, f, "reading a version");
	}
	db_done(st);
	return ret;
}

int
sq_version_get(store *s, const char *model_id, uint64_t version,
	       store_version *out, void **blob, size_t *len, fault *f)
{
	struct vget g = { model_id, (int64_t)version, out, blob, len, 0 };

	if (db_read_tx(s, do_version_get, &g, f) != 0)
		return -1;
	return g.found;
}

/* ---- delete ---- */

static int
do_version_delete(conn *c, void *arg, fault *f)
{
	struct vdel *d = arg;
	int64_t n;

	if (d->drop_aliases && run_text_int(c, Q_DROP_ALIASES,
	    d->model_id, d->version, f, "dropping aliases") != 0)
		return -1;
	if (query_int(c, Q_COUNT_ALIASED, d->model_id, d->version, &n,
	    f, "reading aliases") != 0)
		return -1;
	if (n > 0) {
		*d->what = STORE_VDEL_ALIASED;
		return 0;
	}
	if (run_text_int(c, Q_DELETE, d->model_id, d->version, f,
	    "deleting a version") != 0)
		return -1;
	*d->what = sqlite3_changes(c->db) > 0 ? STORE_VDEL_DONE :
	    STORE_VDEL_MISSING;
	return 0;
}

int
sq_version_delete(store *s, const char *model_id, uint64_t version,
		  int drop_aliases, store_vdel *what, fault *f)
{
	struct vdel d = { model_id, (int64_t)version, drop_aliases, what };

	return db_write_tx(s, do_version_delete, &d, f);
}

/* ---- aliases ---- */

static int
do_alias_set(conn *c, void *arg, fault *f)
{
	struct aset *a = arg;
	sqlite3_stmt *st;
	int64_t exists, count;
	int rc = SQLITE_OK;
	store_version row;
	struct vget g = { a->model_id, a->version, &row, NULL, NULL, 0 };

	a->done = 0;
	if (do_version_get(c, &g, f) != 0)
		return -1;
	if (!g.found)
		return 0;
	if ((st = db_stmt(c, q_sql[Q_ALIAS_EXISTS], f)) == NULL)
		return -1;
	db_bind_text(st, 1, a->model_id, &rc);
	db_bind_text(st, 2, a->name, &rc);
	if (db_bound(c, st, rc, f, "reading aliases") != 0 ||
	    one_int(c, st, &exists, f, "reading aliases") != 0 ||
	    query_int(c, Q_COUNT_ALIASES, a->model_id, -1, &count, f,
	    "counting aliases") != 0)
		return -1;
	if (!exists && a->max_aliases > 0 && (uint64_t)count >= a->max_aliases)
		return fault_set(f, FAULT_LIMIT, "model %s already has %" PRId64
		    " aliases, the most allowed: remove one first",
		    a->model_id, count);
	if ((st = db_stmt(c, q_sql[Q_ALIAS_SET], f)) == NULL)
		return -1;
	rc = SQLITE_OK;
	db_bind_text(st, 1, a->model_id, &rc);
	db_bind_text(st, 2, a->name, &rc);
	db_bind_i64(st, 3, a->version, &rc);
	db_bind_i64(st, 4, a->now_ms, &rc);
	if (db_bound(c, st, rc, f, "storing an alias") != 0 ||
	    db_run(c, st, f, "storing an alias") != 0)
		return -1;
	a->done = 1;
	return 0;
}

int
sq_alias_set(store *s, const char *model_id, const char *name,
	     uint64_t version, size_t max_aliases, int64_t now_ms,
	     fault *f)
{
	struct aset a = { model_id, name, (int64_t)version, max_aliases,
			  now_ms, 0 };

	if (db_write_tx(s, do_alias_set, &a, f) != 0)
		return -1;
	return a.done;
}

static int
do_alias_delete(conn *c, void *arg, fault *f)
{
	struct adel *a = arg;
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_ALIAS_DELETE], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, a->model_id, &rc);
	db_bind_text(st, 2, a->name, &rc);
	if (db_bound(c, st, rc, f, "removing an alias") != 0 ||
	    db_run(c, st, f, "removing an alias") != 0)
		return -1;
	a->done = sqlite3_changes(c->db) > 0;
	return 0;
}

int
sq_alias_delete(store *s, const char *model_id, const char *name,
		fault *f)
{
	struct adel a = { model_id, name, 0 };

	if (db_write_tx(s, do_alias_delete, &a, f) != 0)
		return -1;
	return a.done;
}

static int
fill_alias(sqlite3_stmt *st, void *row, fault *f)
{
	store_alias *a = row;
	const unsigned char *name = sqlite3_column_text(st, 1);

	if (db_copy_id(a->model_id, st, 0, f) != 0)
		return -1;
	if (name == NULL || strlen((const char *)name) >= sizeof a->name)
		return fault_set(f, FAULT_CORRUPT, "a stored alias is too long");
	strcpy(a->name, (const char *)name);
	a->version = (uint64_t)sqlite3_column_int64(st, 2);
	a->updated_ms = sqlite3_column_int64(st, 3);
	return 0;
}

struct alist {
	const char *model_id; /* NULL: all */
	db_array rows;        /* out: store_alias */
};

static int
do_aliases_list(conn *c, void *arg, fault *f)
{
	struct alist *l = arg;
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	l->rows.n = 0; /* a retry starts over */
	st = db_stmt(c, q_sql[l->model_id ? Q_ALIASES_OF : Q_ALIASES_ALL], f);
	if (st == NULL)
		return -1;
	if (l->model_id != NULL)
		db_bind_text(st, 1, l->model_id, &rc);
	if (db_bound(c, st, rc, f, "listing aliases") != 0)
		return -1;
	return db_rows(c, st, &l->rows, fill_alias, f, "listing aliases");
}

int
sq_aliases_list(store *s, const char *model_id, store_alias **out,
		size_t *n, fault *f)
{
	struct alist l = { model_id, { .elem = sizeof(store_alias) } };
	int rc = db_read_tx(s, do_aliases_list, &l, f);

	*out = l.rows.v; /* store.c frees it on failure */
	*n = l.rows.n;
	return rc;
}
