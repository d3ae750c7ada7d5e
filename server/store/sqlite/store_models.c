/*
 * store_models: the models table. Insert, list (one short read per row,
 * so a callback may call back into the store), delete (its batches, history
 * and jobs go by ON DELETE CASCADE), replace the weights, read the
 * checkpoint and go back to it; and, for the other store files, the
 * "no such model" check and the crash recovery of every model.
 */
#include "store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum q {
	Q_MODEL_EXISTS,
	Q_MODEL_INSERT,
	Q_MODEL_NEXT,
	Q_MODEL_DELETE,
	Q_MODEL_SET_WEIGHTS,
	Q_MODEL_CKPT_READ,
	Q_MODEL_STEP,
	Q_MODEL_SET_LAST_LOSS,
	Q_MODEL_IDS,
	Q_COUNT_
};

static const char *const q_sql[Q_COUNT_] = {
	[Q_MODEL_EXISTS] = "SELECT 1 FROM models WHERE id = ?1",
	[Q_MODEL_INSERT] =
		"INSERT INTO models (id, name, created_ms, updated_ms, step, "
		"samples, last_loss, weights) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	/* the row count and last push live in model_rows once a push
	 * wrote them (schema/mlpd-8.sql) */
	[Q_MODEL_NEXT] =
		"SELECT m.rowid, m.id, m.name, m.created_ms, "
		"max(m.updated_ms, coalesce(r.pushed_ms, m.updated_ms)), "
		"m.step, coalesce(r.samples, m.samples), m.last_loss, "
		"m.weights FROM models m "
		"LEFT JOIN model_rows r ON r.model_id = m.id "
		"WHERE (m.created_ms, m.rowid) > (?1, ?2) "
		"ORDER BY m.created_ms, m.rowid LIMIT 1",
	[Q_MODEL_DELETE] = "DELETE FROM models WHERE id = ?1",
	[Q_MODEL_SET_WEIGHTS] =
		"UPDATE models SET weights = ?2, step = ?3, updated_ms = ?4, "
		"last_loss = ?5 WHERE id = ?1",
	[Q_MODEL_CKPT_READ] = "SELECT weights, step FROM models WHERE id = ?1",
	[Q_MODEL_STEP] = "SELECT step FROM models WHERE id = ?1",
	/* ?3 NULL: updated_ms stays */
	[Q_MODEL_SET_LAST_LOSS] =
		"UPDATE models SET last_loss = ?2, "
		"updated_ms = coalesce(?3, updated_ms) WHERE id = ?1",
	[Q_MODEL_IDS] = "SELECT id FROM models",
};

int
model_missing(const char *id, fault *f)
{
	return fault_set(f, FAULT_NO_MODEL, "no model with id '%.*s'",
			 STORE_ID_MAX, id);
}

/* 1 when the model exists, 0 when not, -1 on failure. */
static int
model_exists(conn *c, const char *id, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_MODEL_EXISTS], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, id, &rc);
	if (db_bound(c, st, rc, f, "looking up a model") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_fault(c, rc, f, "looking up a model");
	db_done(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

int
model_need(conn *c, const char *id, fault *f)
{
	int r = model_exists(c, id, f);

	if (r == 0)
		return model_missing(id, f);
	return r < 0 ? -1 : 0;
}

/* ---- insert, list, delete ---- */

static int
do_model_insert(conn *c, void *arg, fault *f)
{
	const store_model *m = arg;
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_MODEL_INSERT], f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, m->id, &rc);
	db_bind_text(st, 2, m->name, &rc);
	db_bind_i64(st, 3, m->created_ms, &rc);
	db_bind_i64(st, 4, m->updated_ms, &rc);
	db_bind_i64(st, 5, (int64_t)m->step, &rc);
	db_bind_i64(st, 6, m->samples, &rc);
	db_bind_real(st, 7, m->last_loss, &rc);
	db_bind_blob(st, 8, m->blob, m->blob_len, &rc);
	if (db_bound(c, st, rc, f, "storing a model") != 0)
		return -1;
	if (db_run(c, st, f, "storing a model") != 0) {
		if (c->rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return fault_set(f, FAULT_INVALID,
					 "a model with id '%s' already exists",
					 m->id);
		return -1;
	}
	return 0;
}

int
sq_model_insert(store *s, const store_model *m, fault *f)
{
	if (db_check_id(m->id, "model", f) != 0)
		return -1;
	if (m->name == NULL)
		return fault_set(f, FAULT_INVALID, "the model has no name");
	if (m->step > INT64_MAX || m->samples < 0)
		return fault_set(f, FAULT_INVALID,
				 "the model's step or samples is out of range");
	return db_write_tx(s, do_model_insert, (void *)m, f);
}

/* Where store_models_each is, and a copy of the row it read last. */
struct model_cursor {
	int64_t created_ms, rowid; /* the last row delivered */
	int found;                 /* a row was read into m */
	store_model m;             /* its name and blob are malloc'd */
};

static void
model_cursor_clear(struct model_cursor *k)
{
	free((void *)k->m.name);
	free((void *)k->m.blob);
	k->m.name = NULL;
	k->m.blob = NULL;
	k->found = 0;
}

/* Reads (a copy of) the next model after the cursor. */
static int
do_model_next(conn *c, void *arg, fault *f)
{
	struct model_cursor *k = arg;
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_MODEL_NEXT], f);
	const void *b;
	int rc = SQLITE_OK;

	model_cursor_clear(k);
	if (st == NULL)
		return -1;
	db_bind_i64(st, 1, k->created_ms, &rc);
	db_bind_i64(st, 2, k->rowid, &rc);
	if (db_bound(c, st, rc, f, "listing models") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		db_done(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_fault(c, rc, f, "listing models");
		goto fail;
	}
	k->rowid = sqlite3_column_int64(st, 0);
	if (db_copy_id(k->m.id, st, 1, f) != 0 ||
	    (k->m.name = db_copy_text(st, 2, f)) == NULL)
		goto fail;
	k->created_ms = k->m.created_ms = sqlite3_column_int64(st, 3);
	k->m.updated_ms = sqlite3_column_int64(st, 4);
	k->m.step = (uint64_t)sqlite3_column_int64(st, 5);
	k->m.samples = sqlite3_column_int64(st, 6);
	k->m.last_loss = db_real(st, 7);
	b = sqlite3_column_blob(st, 8);
	k->m.blob_len = (size_t)sqlite3_column_bytes(st, 8);
	if (k->m.blob_len > 0) {
		void *copy = b ? malloc(k->m.blob_len) : NULL;

		if (copy == NULL) {
			fault_set(f, FAULT_NOMEM,
				  "out of memory reading model '%s'", k->m.id);
			goto fail;
		}
		memcpy(copy, b, k->m.blob_len);
		k->m.blob = copy;
	}
	k->found = 1;
	db_done(st);
	return 0;
fail:
	db_done(st);
	model_cursor_clear(k);
	return -1;
}

int
sq_models_each(store *s, int (*cb)(void *arg, const store_model *m),
	       void *arg, fault *f)
{
	struct model_cursor k;
	int r;

	memset(&k, 0, sizeof k);
	k.created_ms = INT64_MIN;
	k.rowid = INT64_MIN;
	for (;;) {
		if (db_read_tx(s, do_model_next, &k, f) != 0)
			return -1;
		if (!k.found)
			return 0;
		r = cb(arg, &k.m);
		model_cursor_clear(&k);
		if (r != 0)
			return r;
	}
}

static int
do_model_delete(conn *c, void *arg, fault *f)
{
	const char *id = arg;

	/* Batches, loss rows and jobs go by ON DELETE CASCADE. */
	if (db_run_text(c, q_sql[Q_MODEL_DELETE], id, f,
			"deleting a model") != 0)
		return -1;
	if (sqlite3_changes(c->db) == 0)
		return model_missing(id, f);
	return 0;
}

int
sq_model_delete(store *s, const char *id, fault *f)
{
	if (id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	return db_write_tx(s, do_model_delete, (void *)id, f);
}

/* ---- weights, checkpoint, revert ---- */

struct set_weights {
	const char *id;
	const void *blob;
	size_t len;
	int64_t step, now_ms;
	uint64_t epoch;      /* 0: unfenced */
};

/* History past the new step goes; last_loss becomes the loss of the last
 * step kept (NULL when none). */
static int
do_set_weights(conn *c, void *arg, fault *f)
{
	const struct set_weights *w = arg;
	sqlite3_stmt *st;
	double last_loss;
	int rc = SQLITE_OK;

	if (lease_check(c, w->id, w->epoch, f) != 0 ||
	    history_trim(c, w->id, w->step, f) != 0 ||
	    history_loss_at(c, w->id, w->step, &last_loss, f) != 0)
		return -1;
	if ((st = db_stmt(c, q_sql[Q_MODEL_SET_WEIGHTS], f)) == NULL)
		return -1;
	db_bind_text(st, 1, w->id, &rc);
	db_bind_blob(st, 2, w->blob, w->len, &rc);
	db_bind_i64(st, 3, w->step, &rc);
	db_bind_i64(st, 4, w->now_ms, &rc);
	db_bind_real(st, 5, last_loss, &rc);
	if (db_bound(c, st, rc, f, "storing weights") != 0 ||
	    db_run(c, st, f, "storing weights") != 0)
		return -1;
	if (sqlite3_changes(c->db) == 0)
		return model_missing(w->id, f);
	return 0;
}

int
sq_model_set_weights(store *s, const char *id, const void *blob,
		     size_t len, uint64_t step, int64_t now_ms, fault *f)
{
	return sq_model_set_weights_fenced(s, id, blob, len, step, now_ms, 0,
	    f);
}

int
sq_model_set_weights_fenced(store *s, const char *id, const void *blob,
			    size_t len, uint64_t step, int64_t now_ms,
			    uint64_t epoch, fault *f)
{
	struct set_weights w = { id, blob, len, (int64_t)step, now_ms, epoch };

	if (id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (step > INT64_MAX)
		return fault_set(f, FAULT_INVALID, "step %" PRIu64
				 " is out of range", step);
	return db_write_tx(s, do_set_weights, &w, f);
}

struct checkpoint {
	const char *id;
	void *blob;     /* out, malloc'd */
	size_t len;
	uint64_t step;
};

static int
do_model_checkpoint(conn *c, void *arg, fault *f)
{
	struct checkpoint *k = arg;
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_MODEL_CKPT_READ], f);
	const void *b;
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, k->id, &rc);
	if (db_bound(c, st, rc, f, "reading a checkpoint") != 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		db_done(st);
		return model_missing(k->id, f);
	}
	if (rc != SQLITE_ROW) {
		db_fault(c, rc, f, "reading a checkpoint");
		db_done(st);
		return -1;
	}
	b = sqlite3_column_blob(st, 0);
	k->len = (size_t)sqlite3_column_bytes(st, 0);
	k->step = (uint64_t)sqlite3_column_int64(st, 1);
	if ((k->blob = malloc(k->len ? k->len : 1)) == NULL) {
		db_done(st);
		return fault_set(f, FAULT_NOMEM,
				 "out of memory reading a checkpoint");
	}
	if (k->len > 0)
		memcpy(k->blob, b, k->len);
	db_done(st);
	return 0;
}

int
sq_model_checkpoint(store *s, const char *id, void **blob, size_t *len,
		    uint64_t *step, fault *f)
{
	struct checkpoint k = { id, NULL, 0, 0 };

	*blob = NULL;
	*len = 0;
	if (id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (db_read_tx(s, do_model_checkpoint, &k, f) != 0) {
		free(k.blob);
		return -1;
	}
	*blob = k.blob;
	*len = k.len;
	if (step != NULL)
		*step = k.step;
	return 0;
}

/* Drops the model's history past its checkpointed step and sets last_loss
 * to the loss at that step (*last_loss too, when not NULL) and updated_ms
 * to now_ms (0: unchanged). It deletes before it updates, so it frees
 * pages before it may need one. */
static int
to_checkpoint(conn *c, const char *id, int64_t now_ms, double *last_loss,
	      fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_MODEL_STEP], f);
	int64_t step;
	double loss;
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, id, &rc);
	if (db_bound(c, st, rc, f, "reading a checkpoint") != 0)
		return -1;
	rc = sqlite3_step(st);
	step = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_fault(c, rc, f, "reading a checkpoint");
	db_done(st);
	if (rc == SQLITE_DONE)
		return model_missing(id, f);
	if (rc != SQLITE_ROW)
		return -1;
	if (history_trim(c, id, step, f) != 0 ||
	    history_loss_at(c, id, step, &loss, f) != 0)
		return -1;
	if ((st = db_stmt(c, q_sql[Q_MODEL_SET_LAST_LOSS], f)) == NULL)
		return -1;
	rc = SQLITE_OK;
	db_bind_text(st, 1, id, &rc);
	db_bind_real(st, 2, loss, &rc);
	db_bind_time(st, 3, now_ms, &rc);
	if (db_bound(c, st, rc, f, "restoring the last loss") != 0 ||
	    db_run(c, st, f, "restoring the last loss") != 0)
		return -1;
	if (last_loss != NULL)
		*last_loss = loss;
	return 0;
}

struct revert {
	const char *id;
	const store_job *job;
	int64_t now_ms;
	uint64_t epoch;   /* fenced by it; 0: unfenced */
	double last_loss; /* out */
};

static int
do_model_revert(conn *c, void *arg, fault *f)
{
	struct revert *r = arg;

	if (lease_check(c, r->id, r->epoch, f) != 0 ||
	    to_checkpoint(c, r->id, r->now_ms, &r->last_loss, f) != 0)
		return -1;
	if (r->job != NULL)
		return job_update_row(c, r->job, f);
	return 0;
}

int
sq_model_revert(store *s, const char *id, const store_job *job,
		int64_t now_ms, uint64_t epoch, double *last_loss, fault *f)
{
	struct revert r = { id, job, now_ms, epoch, NAN };

	if (id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (job != NULL && job_check(job, 0, f) != 0)
		return -1;
	if (db_write_tx(s, do_model_revert, &r, f) != 0)
		return -1;
	if (last_loss != NULL)
		*last_loss = r.last_loss;
	return 0;
}

/* ---- crash recovery ---- */

struct model_id {
	char id[STORE_ID_MAX];
};

static int
fill_model_id(sqlite3_stmt *st, void *row, fault *f)
{
	return db_copy_id(((struct model_id *)row)->id, st, 0, f);
}

int
model_recover_all(conn *c, fault *f)
{
	db_array ids = { .elem = sizeof(struct model_id) };
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_MODEL_IDS], f);
	int r = -1;

	if (st == NULL)
		return -1;
	/* All ids first: no statement stays open on the models table while
	 * its rows are updated. */
	if (db_rows(c, st, &ids, fill_model_id, f, "listing models") != 0)
		goto out;
	for (size_t i = 0; i < ids.n; i++) {
		if (to_checkpoint(c, ((struct model_id *)ids.v)[i].id, 0,
				  NULL, f) != 0)
			goto out;
	}
	r = 0;
out:
	free(ids.v);
	return r;
}

/* ---- several nodes on one store: SQLite has one ---- */

/* The file is this daemon's alone: nothing changes it under us. */
int
sq_shared(store *s)
{
	(void)s;
	return 0;
}

/* Stamps and one model through sq_models_each: the daemon never asks a
 * store that is not shared for either (only tests do), so they reuse the
 * listing rather than add statements. */
struct sq_stamps {
	int (*cb)(void *arg, const store_model_stamp *m);
	void *arg;
};

static int
sq_stamp_one(void *arg, const store_model *m)
{
	struct sq_stamps *k = arg;
	store_model_stamp st;

	memset(&st, 0, sizeof st);
	memcpy(st.id, m->id, sizeof st.id);
	st.step = m->step;
	st.updated_ms = m->updated_ms;
	st.samples = m->samples;
	st.last_loss = m->last_loss;
	return k->cb(k->arg, &st);
}

int
sq_models_stamps(store *s, int (*cb)(void *arg, const store_model_stamp *m),
		 void *arg, fault *f)
{
	struct sq_stamps k = { cb, arg };

	return sq_models_each(s, sq_stamp_one, &k, f);
}

struct sq_get {
	const char *id;
	int (*cb)(void *arg, const store_model *m);
	void *arg;
	int found, rc;
};

static int
sq_get_one(void *arg, const store_model *m)
{
	struct sq_get *k = arg;

	if (strcmp(m->id, k->id) != 0)
		return 0;
	k->found = 1;
	k->rc = k->cb(k->arg, m);
	return 1; /* stop: found */
}

int
sq_model_get(store *s, const char *id, int (*cb)(void *arg,
	     const store_model *m), void *arg, fault *f)
{
	struct sq_get k = { id, cb, arg, 0, 0 };

	if (id == NULL)
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (sq_models_each(s, sq_get_one, &k, f) < 0)
		return -1;
	if (!k.found)
		return 0;
	return k.rc == 0 ? 1 : k.rc;
}
