/*
 * store_int.h: what the files of the SQLite backend (server/store/sqlite/)
 * share; nothing outside that folder includes it (the build defines
 * MLPD_STORE_INTERNAL for libstore only). The public contract is store.h;
 * store.c reaches this backend through sqlite_ops (store_backend.h). Each
 * public call store_x is the entry sq_x here, with the same contract.
 *
 * The files, one concern each:
 *   store_db.c       connections, the statement cache, binders, the row
 *                    reader and the transaction runners (db_*)
 *   store_open.c     open and close (sqlite_store_open, sq_close),
 *                    settings, migrations, crash recovery, and the
 *                    whole-file calls (size, size cap, integrity)
 *   store_ops.c      the table of entries, sqlite_ops
 *   store_models.c   models, their checkpoint and revert (sq_model*,
 *                    and model_* for the other files)
 *   store_batches.c  training data (sq_batch*)
 *   store_rows.c     its rows read by number (sq_rows_*), and the
 *                    byte order of stored floats (floats_le)
 *   store_jobs.c     jobs (sq_job*, and job_* for the other files)
 *   store_progress.c the trainer's commit (sq_progress_commit)
 *   store_chunks.c   the packed rows of those levels, loss and
 *                    validation, as a hist_io (chunk_io); it alone names
 *                    loss_chunk
 *   store_history.c  the history's writes over ../hist_write.c: append,
 *                    trim, migration, bounded deletes (history_* for the
 *                    other files)
 *   store_history_read.c the history's queries over ../hist_read.c
 *                    (sq_loss_*)
 *   store_owner.c    one daemon per database file: the lock file
 *                    beside it (owner_*)
 *   store_state.c    the daemon's own small values (sq_state_*)
 *   store_versions.c versions and aliases (sq_version*, sq_alias*)
 * and, shared with the PostgreSQL backend, ../hist_tiers.c: the arithmetic
 * of the history's levels, and ../hist_write.c, ../hist_read.c: its
 * algorithms over a hist_io (no SQL).
 * Each file keeps the SQL it runs in its own q_sql table of literals. A
 * function that takes a conn runs inside a transaction body, on the
 * connection its runner holds.
 *
 * DESIGN. A connection (conn) is an sqlite3 handle plus a cache of its
 * prepared statements: db_stmt prepares a statement on first use, keyed by
 * the address of its SQL text (an entry of a file's q_sql table), and
 * db_done resets it (bindings cleared) after every use. The store owns one
 * writer conn, used only under wlock, and a list of idle read-only conns
 * under rlock; a reader takes an idle conn or opens a new one, and gives it
 * back (or closes it when enough are already idle). Every public call runs
 * a do_* body inside one transaction: db_write_tx (BEGIN IMMEDIATE on the
 * writer) or db_read_tx (BEGIN on a reader, so that multi-statement reads
 * see one snapshot). A body that fails makes the runner roll back; a body
 * that failed because SQLite stayed busy past the busy timeout (another
 * process holding the file) is retried from the start, so callers never
 * see SQLITE_BUSY unless the file stays locked for about half a minute.
 * Callbacks (store_models_each, store_jobs_each) are called with no
 * connection or lock held: each row is read in its own short read and
 * copied, so a callback may call back into the store.
 *
 * ":memory:" cannot be shared between connections without shared-cache
 * mode (whose table locks would give readers SQLITE_LOCKED), so an
 * in-memory store reads through its writer conn, under wlock.
 */
#ifndef MLPD_STORE_INT_H
#define MLPD_STORE_INT_H

#ifndef MLPD_STORE_INTERNAL
#error "store_int.h is private to server/store/: include store.h"
#endif

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "hist_io.h"
#include "hist_tiers.h"
#include "store.h"
#include "store_backend.h"

/* A statement prepared on a connection, and the SQL it came from. */
typedef struct db_cached {
	const char *sql;  /* the key: an entry of a file's q_sql table */
	sqlite3_stmt *st;
} db_cached;

typedef struct conn {
	sqlite3 *db;
	db_cached *st;      /* statements prepared so far (malloc'd) */
	size_t nst, capst;
	int rc;             /* SQLite code of the last failure */
	struct conn *next;  /* link in the store's idle list */
	uint64_t hist_raw;  /* writer: raw history steps kept (0: all) */
} conn;

/* store_ckpt.c: the WAL checkpoint thread of a file database. */
typedef struct sq_ckpt sq_ckpt;

/*
 * The locks. Lock order: wlock and rlock are never held together (rlock
 * only around the idle list's push and pop), and neither is held while the
 * store calls out of itself: bodies run SQL only, callbacks run with no
 * lock held. So the store's locks are leaves for every other module.
 */
typedef struct sq_store {
	store base;            /* ops = &sqlite_ops (store_backend.h) */
	char *path;            /* as given to store_open */
	int memory;            /* ":memory:": reads go through the writer */
	pthread_mutex_t wlock; /* guards writer (and reads when memory) */
	conn *writer;
	pthread_mutex_t rlock; /* guards idle and nidle */
	conn *idle;            /* idle read-only connections */
	int nidle;
	int owner_fd;          /* the flocked "<db>.lock" (store_owner.c);
	                          -1 for ":memory:" */
	int ready;             /* migrated and recovered (store_open) */
	sq_ckpt *ckpt;         /* checkpoints off the write path (NULL for
	                          ":memory:"; store_ckpt.c) */
} sq_store;

/* The SQLite store behind s, which sqlite_store_open made (NULL: NULL). */
static inline sq_store *
sq_of(store *s)
{
	return (sq_store *)s;
}

/* ---- store_ops.c: the entries store.c calls ---- */

extern const store_ops sqlite_ops;

/* The entries, one per public store_x of store.h (same contract), in the
 * files listed above. */
void sq_close(store *s);
int64_t sq_size_bytes(store *s);
int sq_set_max_size(store *s, int64_t bytes, int64_t *effective, fault *f);
int sq_integrity_check(store *s, fault *f);
void sq_set_history_raw(store *s, uint64_t steps);
int sq_model_insert(store *s, const store_model *m, fault *f);
int sq_models_each(store *s, int (*cb)(void *arg, const store_model *m),
		   void *arg, fault *f);
int sq_model_delete(store *s, const char *id, fault *f);
int sq_model_set_weights(store *s, const char *id, const void *blob,
			 size_t len, uint64_t step, int64_t now_ms, fault *f);
int sq_model_checkpoint(store *s, const char *id, void **blob, size_t *len,
			uint64_t *step, fault *f);
int sq_shared(store *s);
int sq_models_stamps(store *s, int (*cb)(void *arg,
		     const store_model_stamp *m), void *arg, fault *f);
int sq_model_get(store *s, const char *id, int (*cb)(void *arg,
		 const store_model *m), void *arg, fault *f);
int sq_model_revert(store *s, const char *id, const store_job *job,
		    int64_t now_ms, uint64_t epoch, double *last_loss,
		    fault *f);
int sq_batch_insert(store *s, const char *model_id, const float *x,
		    const float *y, size_t n, uint32_t nin, uint32_t nout,
		    int64_t max_samples, int64_t now_ms, int64_t *batch_id,
		    int64_t *total_samples, fault *f);
int sq_batch_list(store *s, const char *model_id, store_batch_info **out,
		  size_t *n, fault *f);
int sq_batches_delete(store *s, const char *model_id, int64_t *rows,
		      fault *f);
int sq_batches_load(store *s, const char *model_id, uint32_t nin,
		    uint32_t nout, float **x, float **y, size_t *n, fault *f);
int sq_rows_open(store *s, const char *model_id, uint32_t nin, uint32_t nout,
		 store_rows **out, fault *f);
uint64_t sq_rows_count(const store_rows *r);
int sq_rows_read(store_rows *r, const uint64_t *pos, size_t n, float *x,
		 float *y, fault *f);
void sq_rows_destroy(store_rows *r);
int sq_progress_commit(store *s, const store_progress *p, fault *f);
int sq_loss_query(store *s, const char *model_id, uint64_t since,
		  size_t limit, store_loss_point **out, size_t *n, fault *f);
int sq_loss_windows(store *s, const char *model_id, store_series series,
		    uint64_t every, uint64_t since, size_t limit,
		    store_loss_window **out, size_t *n, fault *f);
int sq_loss_range(store *s, const char *model_id, store_series series,
		  uint64_t from, uint64_t to, size_t max_points,
		  store_loss_window **out, size_t *n, fault *f);
int sq_job_insert(store *s, const store_job *j, fault *f);
int sq_job_update(store *s, const store_job *j, uint64_t epoch, fault *f);
int sq_job_get(store *s, const char *job_id,
	       int (*cb)(void *arg, const store_job *j), void *arg, fault *f);
int sq_jobs_each(store *s, const char *model_id,
		 int (*cb)(void *arg, const store_job *j), void *arg,
		 fault *f);
int sq_state_get(store *s, const char *name, int64_t *value, fault *f);
int sq_state_set(store *s, const char *name, int64_t value, fault *f);
int sq_version_create(store *s, const store_version_new *v,
		      store_version *out, fault *f);
int sq_versions_list(store *s, const char *model_id, uint64_t after,
		     size_t limit, store_version **out, size_t *n, fault *f);
int sq_version_get(store *s, const char *model_id, uint64_t version,
		   store_version *out, void **blob, size_t *len, fault *f);
int sq_version_delete(store *s, const char *model_id, uint64_t version,
		      int drop_aliases, store_vdel *what, fault *f);
int sq_alias_set(store *s, const char *model_id, const char *name,
		 uint64_t version, size_t max_aliases, int64_t now_ms,
		 fault *f);
int sq_alias_delete(store *s, const char *model_id, const char *name,
		    fault *f);
int sq_aliases_list(store *s, const char *model_id, store_alias **out,
		    size_t *n, fault *f);
int sq_lease_take(store *s, const char *model_id, const char *node_id,
		  int64_t ttl_ms, uint64_t *epoch, char *holder,
		  size_t holder_len, fault *f);
int sq_lease_renew(store *s, const char *model_id, const char *node_id,
		   uint64_t epoch, int64_t ttl_ms, char *holder,
		   size_t holder_len, fault *f);
int sq_lease_release(store *s, const char *model_id, const char *node_id,
		     uint64_t epoch, fault *f);
int sq_model_set_weights_fenced(store *s, const char *id, const void *blob,
				size_t len, uint64_t step, int64_t now_ms,
				uint64_t epoch, fault *f);

/* ---- store_lease.c: the epoch check of the fenced writes ---- */

/* 0 when epoch is 0 (unfenced) or model_id's lease epoch, held; else
 * FAULT_FENCED (naming the holder) and -1: the caller's transaction must
 * then change nothing. Runs inside the write's own transaction. */
int lease_check(conn *c, const char *model_id, uint64_t epoch, fault *f);

/* Crash recovery: the owner lock file says no other process has the
 * database, so every lease left held is a dead process's: all are
 * released (their epochs stay), so that this run takes them at once
 * whatever its --node-id. */
int lease_free_all(conn *c, fault *f);

/* ---- store_owner.c: one daemon per database file ---- */

/* Takes the exclusive lock on db's lock file and writes our pid there;
 * *fd holds it until owner_release. -1 with f naming the holder's pid when
 * another process holds it. */
int owner_take(const char *db, int *fd, fault *f);

/* Drops the lock (closes fd); -1 is a no-op. */
void owner_release(int fd);

/* ---- store_ckpt.c: WAL checkpoints off the write path ---- */

/* Starts the checkpoint thread on its own connection to path and hooks
 * writer's commits to it (in place of SQLite's auto-checkpoint); writer
 * must not be in use by another thread yet. NULL with f set. */
sq_ckpt *ckpt_start(const char *path, conn *writer, fault *f);

/* Gives writer its auto-checkpoint back, ends the thread and closes its
 * connection; before writer closes. NULL is a no-op. */
void ckpt_stop(sq_ckpt *k, conn *writer);

/* ---- store_db.c: connections and transactions ---- */

/* A transaction body: runs on c inside BEGIN .. COMMIT. */
typedef int (*tx_body)(conn *c, void *arg, fault *f);

/* Opens a connection to path, read-only or read-write (creating), with
 * extended result codes and the busy timeout. NULL with f set. */
conn *db_conn_open(const char *path, int readonly, fault *f);

/* Finalizes c's statements and closes it; NULL is a no-op. */
void db_conn_close(conn *c);

/* Runs body inside BEGIN (BEGIN IMMEDIATE when write) .. COMMIT on c,
 * which the caller holds (the writer under wlock, or a reader it took);
 * on any failure rolls back, so that nothing the body wrote remains. */
int db_do_tx(conn *c, int write, tx_body body, void *arg, fault *f);

/* Runs body as one write transaction on the writer (taking wlock), or as
 * one read transaction on a reader; both retry while busy. s is the
 * SQLite store (sq_of). */
int db_write_tx(store *s, tx_body body, void *arg, fault *f);
int db_read_tx(store *s, tx_body body, void *arg, fault *f);

/* Gives a read connection back to s's idle list (or closes it). */
void db_reader_put(sq_store *s, conn *c);

/* Turns SQLite result rc, met while `what`, into f (and c->rc, c may be
 * NULL); returns -1. */
int db_fault(conn *c, int rc, fault *f, const char *what);

/* The statement for sql on c, prepared on first use and cached; sql must
 * be an entry of a q_sql table (a literal that lives as long as the
 * process). NULL with f set. */
sqlite3_stmt *db_stmt(conn *c, const char *sql, fault *f);

/* Readies st for its next use (and drops borrowed bound pointers). */
void db_done(sqlite3_stmt *st);

/* Binders: each does nothing once *rc holds an error, so a run of binds
 * (starting from *rc == SQLITE_OK) is checked once at its end by
 * db_bound. Text and blobs are bound without a copy: they must outlive
 * the statement's run. */
void db_bind_i64(sqlite3_stmt *st, int i, int64_t v, int *rc);
void db_bind_time(sqlite3_stmt *st, int i, int64_t v, int *rc); /* 0: NULL */
void db_bind_real(sqlite3_stmt *st, int i, double v, int *rc);  /* NaN: NULL */
void db_bind_text(sqlite3_stmt *st, int i, const char *s, int *rc);
void db_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n, int *rc);

/* Ends a run of binds: 0, or -1 with f set (and st reset) on an error. */
int db_bound(conn *c, sqlite3_stmt *st, int rc, fault *f, const char *what);

/* Runs a bound statement that returns no rows, then resets it. */
int db_run(conn *c, sqlite3_stmt *st, fault *f, const char *what);

/* Runs the statement sql (a q_sql entry) with ?1 = text; no rows. */
int db_run_text(conn *c, const char *sql, const char *text, fault *f,
		const char *what);

/* A growing array that db_rows fills: start it zeroed with elem set;
 * the caller frees v. A transaction body sets n to 0 before it reads, as
 * a runner may run it again after a busy failure. */
typedef struct db_array {
	void *v;      /* n elements of elem bytes (malloc'd) */
	size_t n, cap;
	size_t elem;
} db_array;

/* Fills *row from the statement's current row; 0, or -1 with f set. */
typedef int (*db_fill)(sqlite3_stmt *st, void *row, fault *f);

/* Steps the bound statement st to its end, appending to a one element per
 * row (filled by fill), then resets st. 0, or -1 with f set; the rows
 * appended before a failure stay in a. */
int db_rows(conn *c, sqlite3_stmt *st, db_array *a, db_fill fill, fault *f,
	    const char *what);

/* Checks that id is a usable key: not NULL, not empty, short enough. */
int db_check_id(const char *id, const char *kind, fault *f);

/* Copies a text column into an id buffer; -1 when it does not fit. */
int db_copy_id(char dst[STORE_ID_MAX], sqlite3_stmt *st, int col, fault *f);

/* A malloc'd copy of a text column, "" for NULL; NULL when out of memory. */
char *db_copy_text(sqlite3_stmt *st, int col, fault *f);

/* A real column; NAN for NULL. */
double db_real(sqlite3_stmt *st, int col);

/* ---- store_rows.c ---- */

/* Stored floats are little-endian; on a big-endian host, swaps the n
 * floats at p in place (a no-op on a little-endian one). */
void floats_le(void *p, size_t n);

/* ---- store_models.c ---- */

/* Sets f to "no model with id ..." (FAULT_INVALID); returns -1. */
int model_missing(const char *id, fault *f);

/* 0 when the model exists; -1 with "no model" or the failure in f. */
int model_need(conn *c, const char *id, fault *f);

/* Crash recovery of every model: drops its history past its checkpointed
 * step and sets last_loss to the loss at that step. */
int model_recover_all(conn *c, fault *f);

/* ---- store_jobs.c ---- */

/* Checks the fields of j that go into the jobs table (and, when insert,
 * its model id). */
int job_check(const store_job *j, int insert, fault *f);

/* Updates the job row from j: status, steps_done, loss, error, times. */
int job_update_row(conn *c, const store_job *j, fault *f);

/* Crash recovery: jobs left queued or running become interrupted. */
int job_interrupt_all(conn *c, int64_t now_ms, fault *f);

/* ---- store_history.c: the loss and validation series ---- */

/* Checks the points of p (steps in range, accuracies in [0, 1]). */
int history_check(const store_progress *p, fault *f);

/* Appends p's loss rows (a step already stored fails, FAULT_INVALID) and
 * validation points (one at or before the last step stored replaces the
 * points from its step on). */
int history_append(conn *c, const store_progress *p, fault *f);

/* Drops the model's loss history and validation points past step. Where
 * the raw steps of the bucket holding step are gone, the history ends at
 * the last whole level-1 bucket before step instead. */
int history_trim(conn *c, const char *model_id, int64_t step, fault *f);

/* Rows of deleted models' histories (loss_trash) that one transaction
 * drops at most: a few milliseconds of work. */
#define HIST_PURGE_ROWS 32

/* Drops up to rows rows of one deleted model's history; *more is 1 when
 * there may be more to drop (call again, in a new transaction). */
int history_purge(conn *c, int64_t rows, int *more, fault *f);

/* Migration to version 6 (with the SQL of versions 5 and 6 run): packs
 * the per-step rows of the old loss table (when there still is one) and
 * the per-point rows of the old validation table into levels, then drops
 * those tables. */
int history_migrate_rows(conn *c, fault *f);

/* *loss gets the loss of the model's last step at or before step; NAN
 * when there is none. */
int history_loss_at(conn *c, const char *model_id, int64_t step,
		    double *loss, fault *f);

/* *vp gets the model's last validation point at or before step (step 0
 * and NANs when there is none). */
int history_val_at(conn *c, const char *model_id, int64_t step,
		   store_val_point *vp, fault *f);

/* ---- store_chunks.c: the rows of the history's levels ---- */

/* One model's loss_chunk rows as a hist_io (../hist_io.h), on c's
 * connection, for the shared engine of hist_write.c and hist_read.c. */
typedef struct chunk_io {
	hist_io io;           /* what the engine is handed: &x->io */
	conn *c;
	const char *model_id;
} chunk_io;

/* Points x at the model's rows on c (raw steps kept: c's hist_raw). */
void chunk_io_init(chunk_io *x, conn *c, const char *model_id);

#endif
