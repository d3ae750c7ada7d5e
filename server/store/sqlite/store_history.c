/*
 * store_history: the writes of the loss and validation series. The loss
 * of each step, and each validation point, goes into its series' levels
 * of hist_tiers.h (rows of store_chunks.c) by the shared engine of
 * ../hist_write.c: the raw window and every bucket level are appended to
 * in the same transaction, the raw window is trimmed to its length (in
 * steps), and a trim past a step (revert, PUT weights, crash recovery)
 * rebuilds the buckets it cuts from the level below. What only SQLite
 * has stays here: the migration from per-row series (schema 6), the
 * bounded deletes of deleted models' rows (loss_trash) and the
 * incremental vacuum after a commit's appends.
 */
#include "store_int.h"

#include <string.h>

enum q {
	Q_VACUUM,
	Q_OLD_LOSS_TABLE,
	Q_OLD_ROWS,
	Q_OLD_DROP,
	Q_OLD_VAL_ROWS,
	Q_OLD_VAL_DROP,
	Q_TRASH_ONE,
	Q_TRASH_ROWS,
	Q_TRASH_DONE,
	Q_COUNT_
};

static const char *const q_sql[Q_COUNT_] = {
	/* a few freed pages back to the file system per commit */
	[Q_VACUUM] = "PRAGMA incremental_vacuum(64)",
	[Q_OLD_LOSS_TABLE] =
		"SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
		"name = 'loss'",
	[Q_OLD_ROWS] =
		"SELECT model_id, step, loss, time_ms, NULL FROM loss "
		"ORDER BY model_id, step",
	[Q_OLD_DROP] = "DROP TABLE loss",
	[Q_OLD_VAL_ROWS] =
		"SELECT model_id, step, loss, time_ms, accuracy "
		"FROM validation ORDER BY model_id, step",
	[Q_OLD_VAL_DROP] = "DROP TABLE validation",
	[Q_TRASH_ONE] = "SELECT model_id FROM loss_trash LIMIT 1",
	[Q_TRASH_ROWS] =
		"DELETE FROM loss_chunk WHERE rowid IN (SELECT rowid FROM "
		"loss_chunk WHERE model_id = ?1 LIMIT ?2)",
	[Q_TRASH_DONE] = "DELETE FROM loss_trash WHERE model_id = ?1",
};

/* Runs an incremental vacuum step (the file gives back pages that deletes
 * freed, a few per commit). */
static int
vacuum_some(conn *c, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_VACUUM], f);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		db_fault(c, rc, f, "returning free pages");
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- deleted models' rows ---- */

int
history_purge(conn *c, int64_t rows, int *more, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_TRASH_ONE], f);
	char id[STORE_ID_MAX];
	int rc = SQLITE_OK;

	*more = 0;
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		db_done(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_fault(c, rc, f, "reading deleted histories");
		db_done(st);
		return -1;
	}
	if (db_copy_id(id, st, 0, f) != 0) {
		db_done(st);
		return -1;
	}
	db_done(st);
	if ((st = db_stmt(c, q_sql[Q_TRASH_ROWS], f)) == NULL)
		return -1;
	rc = SQLITE_OK;
	db_bind_text(st, 1, id, &rc);
	db_bind_i64(st, 2, rows, &rc);
	if (db_bound(c, st, rc, f, "dropping a deleted history") != 0 ||
	    db_run(c, st, f, "dropping a deleted history") != 0)
		return -1;
	*more = 1;
	if (sqlite3_changes(c->db) < rows &&
	    db_run_text(c, q_sql[Q_TRASH_DONE], id, f,
	    "dropping a deleted history") != 0)
		return -1;
	return 0;
}

int
history_check(const store_progress *p, fault *f)
{
	return hist_check(p, f);
}

int
history_append(conn *c, const store_progress *p, fault *f)
{
	chunk_io x;
	int more;

	if (p->npoints == 0 && p->nvpoints == 0)
		return 0;
	chunk_io_init(&x, c, p->model_id);
	if (hist_append(&x.io, p, f) != 0 ||
	    history_purge(c, HIST_PURGE_ROWS, &more, f) != 0)
		return -1;
	return vacuum_some(c, f);
}

int
history_trim(conn *c, const char *model_id, int64_t step, fault *f)
{
	chunk_io x;

	chunk_io_init(&x, c, model_id);
	return hist_trim(&x.io, step < 0 ? 0 : (uint64_t)step, f);
}

int
history_loss_at(conn *c, const char *model_id, int64_t step, double *loss,
		fault *f)
{
	chunk_io x;

	chunk_io_init(&x, c, model_id);
	return hist_loss_at(&x.io, step < 1 ? 0 : (uint64_t)step, loss, f);
}

int
history_val_at(conn *c, const char *model_id, int64_t step,
	       store_val_point *vp, fault *f)
{
	chunk_io x;

	chunk_io_init(&x, c, model_id);
	return hist_val_at(&x.io, step < 1 ? 0 : (uint64_t)step, vp, f);
}

/* ---- migration ---- */

/* Packs the rows of q_sql[rows] (model id, step, loss, time, accuracy,
 * by model and step) into the series' levels, then runs q_sql[drop]. */
static int
migrate(conn *c, int series, enum q rows, enum q drop, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[rows], f);
	char id[STORE_ID_MAX] = "";
	hist_appender *a = NULL;
	chunk_io x;
	hist_bucket pt;
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *m = (const char *)sqlite3_column_text(st, 0);

		if (m == NULL || strlen(m) >= sizeof id) {
			fault_set(f, FAULT_INTERNAL, "a history row has a bad "
				  "model id");
			goto fail;
		}
		if (a == NULL || strcmp(m, id) != 0) {
			if (a != NULL && hist_appender_close(a, f) != 0) {
				a = NULL;
				goto fail;
			}
			memcpy(id, m, strlen(m) + 1);
			chunk_io_init(&x, c, id);
			if ((a = hist_appender_open(&x.io, series, f)) == NULL)
				goto fail;
		}
		hist_point(&pt, (uint64_t)sqlite3_column_int64(st, 1),
		    db_real(st, 2), sqlite3_column_int64(st, 3));
		if (series == STORE_SERIES_VALIDATION)
			hist_point_acc(&pt, db_real(st, 4));
		if (hist_appender_add(a, &pt, f) != 0)
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		db_fault(c, rc, f, "reading the old history rows");
		goto fail;
	}
	db_done(st);
	if (a != NULL && hist_appender_close(a, f) != 0)
		return -1;
	if ((st = db_stmt(c, q_sql[drop], f)) == NULL)
		return -1;
	return db_run(c, st, f, "dropping the old history rows");
fail:
	hist_appender_free(a);
	db_done(st);
	return -1;
}

int
history_migrate_rows(conn *c, fault *f)
{
	sqlite3_stmt *st = db_stmt(c, q_sql[Q_OLD_LOSS_TABLE], f);
	int rc, old;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	old = rc == SQLITE_ROW;
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fault(c, rc, f, "reading the schema");
	if (old && migrate(c, STORE_SERIES_TRAIN, Q_OLD_ROWS, Q_OLD_DROP,
	    f) != 0)
		return -1;
	return migrate(c, STORE_SERIES_VALIDATION, Q_OLD_VAL_ROWS,
		       Q_OLD_VAL_DROP, f);
}
