/*
 * pg_int.h: what the files of server/store/postgres/ share, the
 * PostgreSQL backend of the store (store_backend.h). Nothing outside
 * server/store/ includes it (the build defines MLPD_STORE_INTERNAL for
 * libstore only, and builds this folder only with libpq, MLPD_HAVE_PG).
 *
 * The files, one concern each:
 *   pg_db.c        the connection pool, the transaction runners, the
 *                  parameters, the statement runners, the column readers
 *                  and the SQLSTATE -> fault mapping (pg_*)
 *   pg_open.c      pg_store_open and close, migrations (schema/pg/),
 *                  recovery, size, size cap, integrity, the ops table
 *   pg_models.c    models, their checkpoint, weights and delete
 *   pg_batches.c   training data, and its rows read by number
 *   pg_jobs.c      jobs (and pg_job_* for the other files)
 *   pg_claims.c    job claims by several nodes: beats, offer, claim,
 *                  hand-back, the wake-up channel (LISTEN/NOTIFY)
 *   pg_cancel.c    cancels from any node: unclaimed jobs, requests
 *   pg_listen.c    the models' channel: weight notifications, and the
 *                  jobs written since a cursor
 *   pg_state.c     the daemon's own small values
 *   pg_versions.c  versions and aliases
 *   pg_history*.c, pg_progress.c  the history: the trainer's commit,
 *                  the loss queries, revert and the trims (declared
 *                  below, "history")
 *
 * DESIGN. A pg_store holds a bounded pool of libpq connections: at most
 * PG_POOL_MAX per store (so per node), opened on demand and kept open
 * when idle. A caller that finds all of them lent waits (pool.freed) for
 * one to come back; so a transaction body must never start another
 * transaction (it would wait on itself once the pool is drained), and
 * callbacks (models_each, jobs_each) run after the rows were read and the
 * connection given back. Every public call runs one body inside one
 * transaction (pg_write_tx: BEGIN .. COMMIT at READ COMMITTED, where each
 * write takes the row locks it needs, e.g. UPDATE .. RETURNING; or
 * pg_read_tx: BEGIN READ ONLY at REPEATABLE READ, so a multi-statement
 * read sees one snapshot), ROLLBACK on any failure. The runner runs the
 * body again (a body must therefore reset what it collects) when a
 * statement failed with serialization_failure or deadlock_detected (a
 * few times, with a short backoff), or when the connection was lost
 * before COMMIT was sent (once, on a fresh connection: nothing of the
 * first attempt was committed). A connection lost at COMMIT is not
 * retried (its outcome is unknown): FAULT_UNAVAILABLE. A lost connection
 * is closed when it comes back to the pool, and the next caller opens a
 * new one, so the store reconnects on its own after a server restart.
 * Every statement goes through PQexecParams with typed parameters:
 * integers and floats as binary int8/float8, bytea as binary, text as
 * text. Results come as text (pg_exec binary = 0) or binary (1); the
 * column readers handle both.
 *
 * Stalls. A node stopped inside a transaction (SIGSTOP, a VM paused, a
 * swap storm) keeps its row locks: a fenced write holds its model's lease
 * row FOR SHARE (pg_lease_check), so another node's take of that lease
 * would wait as long as the stall, well past the lease's TTL. Every
 * connection therefore runs with idle_in_transaction_session_timeout set
 * to the longest lease TTL this store took or renewed with (pg_idle_limit,
 * at least PG_IDLE_MIN_MS; none before the first lease): the server ends
 * a transaction idle that long, its locks go, and the stalled node's
 * write fails (lost at COMMIT: not retried) instead of committing late. A
 * node whose transaction sat idle for a whole TTL has lost its lease
 * anyway; mlpd's own transactions never wait on anything but the server.
 *
 * Faults. A failure that should go away by itself (the server cannot be
 * reached, restarts, refuses connections, is a read-only standby, or a
 * transaction kept meeting serialization failures or deadlocks) is
 * FAULT_UNAVAILABLE, which the API answers 503 with Retry-After. A
 * unique, foreign key, check or data violation is FAULT_INVALID; a full
 * disk FAULT_FULL; anything else FAULT_INTERNAL. Messages never carry the
 * password: the text of every message libpq or the server gives is
 * scrubbed of it (pg_scrub) and cut to its first line.
 *
 * Lock order: pool.lock is a leaf (never held while the store runs SQL or
 * calls out of itself).
 */
#ifndef MLPD_PG_INT_H
#define MLPD_PG_INT_H

#ifndef MLPD_STORE_INTERNAL
#error "pg_int.h is private to server/store/: include store.h"
#endif

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store_backend.h"

/* Connections one store (one node) keeps to the server at most for its
 * work. Four: one per trainer slice, request worker or history read
 * running at once is enough on the small machines a node runs on. With
 * the presence connection (pg_open.c) a node uses 5, so a cluster of n
 * nodes needs 5n of the server's max_connections (default 100); 6n once
 * their claimers wait for jobs (the listener, pg_claims.c); 7n once their
 * peers pollers wait for checkpoints (the models' listener, pg_listen.c). */
#define PG_POOL_MAX 4

/* Seconds a connection attempt waits for the server unless the conninfo
 * sets connect_timeout itself. */
#define PG_CONNECT_TIMEOUT "5"

/* Parameters of one statement at most. */
#define PG_PARAMS_MAX 20

typedef struct pg_store pg_store;

/* One connection of the pool. */
typedef struct pg_conn {
	PGconn *pq;
	pg_store *st;       /* the store it belongs to */
	int broken;         /* lost, or left in an unknown state: closed
	                       when given back */
	int retry;          /* the last failure was a serialization failure
	                       or a deadlock: the runner may run again */
	int64_t idle_ms;    /* its idle_in_transaction_session_timeout (0:
	                       the server's default) */
	char sqlstate[6];   /* of the last failure ("" when none) */
} pg_conn;

struct pg_store {
	store base;            /* first: base.ops is &pg_ops */
	char *conninfo;        /* as given to pg_store_open; may hold the
	                          password: never logged */
	char *secret;          /* the password it holds, or PGPASSWORD's;
	                          NULL when none (pg_scrub) */
	pthread_mutex_t lock;  /* guards the fields below */
	pthread_cond_t freed;  /* a connection came back, or one slot did */
	pg_conn *idle[PG_POOL_MAX]; /* open, idle connections */
	int nidle;
	int nopen;             /* connections open or being opened, idle or
	                          lent (<= PG_POOL_MAX) */
	uint64_t hist_raw;     /* raw history steps kept (0: all);
	                          pg_hist_raw */
	int64_t idle_ms;       /* the connections' idle-in-transaction
	                          limit (pg_idle_limit; 0: none yet) */
	/* The node's presence (pg_open.c): a connection of its own, outside
	 * the pool, holding a shared advisory lock while the store is open,
	 * so that a node starting can tell whether others are up. */
	pthread_mutex_t plock; /* guards presence */
	pg_conn *presence;
	/* The wake-up channel (pg_claims.c): a connection of its own,
	 * outside the pool, LISTENing on "mlpd_jobs"; opened by the first
	 * store_jobs_wait, re-opened after a drop. Only the one thread that
	 * waits (store.h) and pg_close touch it: no lock. */
	pg_conn *listener;
	int listened;          /* a listener was open before: one opened
	                          again may have missed wake-ups */
	/* The models' channel (pg_listen.c): a connection of its own,
	 * outside the pool, LISTENing on "mlpd_models"; opened by a
	 * store_models_wait, re-opened after a drop. Only the one thread
	 * that waits and pg_close touch it: no lock. */
	pg_conn *mlistener;
};

/* ---- pg_db.c: connections ---- */

/* A connection idle this long inside a transaction is ended by the
 * server, at the least (see "Stalls" above). */
#define PG_IDLE_MIN_MS 1000

/* Raises the idle-in-transaction limit of s's connections to ms (at
 * least PG_IDLE_MIN_MS): a lease's TTL. Each connection takes it on at
 * its next transaction. */
void pg_idle_limit(pg_store *s, int64_t ms);

/* Opens one connection to s's server (connect_timeout PG_CONNECT_TIMEOUT
 * unless the conninfo sets one; keepalives on TCP; notices silenced).
 * NULL with f set (FAULT_UNAVAILABLE when the server cannot be reached
 * or refuses the login; the message names why, without the password). */
pg_conn *pg_conn_open(pg_store *s, fault *f);

/* Closes c; NULL is a no-op. */
void pg_conn_close(pg_conn *c);

/* Takes an idle connection of s (or opens one while fewer than
 * PG_POOL_MAX are open; else waits for one to come back). A connection
 * found lost is replaced. NULL with f set. */
pg_conn *pg_conn_get(pg_store *s, fault *f);

/* Gives c back to s's pool (or closes it when it is broken, lost, or not
 * idle outside a transaction). NULL is a no-op. */
void pg_conn_put(pg_store *s, pg_conn *c);

/* Closes the idle connections (pg_store close, after every lent one came
 * back). */
void pg_pool_drain(pg_store *s);

/* The raw history steps kept (store_set_history_raw; 0: all). */
uint64_t pg_hist_raw(pg_store *s);

/* pg_open.c: after the pool had to open a connection (the first, or one
 * after a lost one), takes the node's presence lock again when the
 * server dropped it. */
void pg_presence_refresh(pg_store *s);

/* ---- pg_db.c: transactions ---- */

/* A transaction body: runs on c inside BEGIN .. COMMIT; c->st is its
 * store. It may be run more than once (see DESIGN): what it collects, it
 * resets first. */
typedef int (*pg_body)(pg_conn *c, void *arg, fault *f);

/* Runs body as one write transaction (READ COMMITTED) or one read
 * transaction (READ ONLY, REPEATABLE READ) on a connection of the pool;
 * on any failure rolls back, so nothing the body wrote remains. */
int pg_write_tx(pg_store *s, pg_body body, void *arg, fault *f);
int pg_read_tx(pg_store *s, pg_body body, void *arg, fault *f);

/* Runs body inside BEGIN (begin is the whole BEGIN statement) .. COMMIT
 * on c, which the caller holds; once, no retry. For pg_open.c's
 * migrations; the runners above use it. */
int pg_do_tx(pg_conn *c, const char *begin, pg_body body, void *arg,
	     fault *f);

/* ---- pg_db.c: statements ---- */

/* The parameters of one statement, $1.. in the order added. Start it
 * zeroed (pg_params p = {0};) and do not copy it (values point into it).
 * An adder past PG_PARAMS_MAX (or a bytea over 1 GB) marks it bad, and
 * pg_exec then fails with FAULT_INTERNAL. */
typedef struct pg_params {
	int n;
	int bad;
	Oid types[PG_PARAMS_MAX];
	const char *values[PG_PARAMS_MAX];
	int lengths[PG_PARAMS_MAX];
	int formats[PG_PARAMS_MAX];
	unsigned char num[PG_PARAMS_MAX][8]; /* int8/float8, big-endian */
} pg_params;

void pg_p_i64(pg_params *p, int64_t v);   /* int8 */
void pg_p_time(pg_params *p, int64_t v);  /* int8; 0: NULL (none) */
void pg_p_real(pg_params *p, double v);   /* float8; NaN: NULL */
void pg_p_text(pg_params *p, const char *s); /* text; NULL: NULL */
/* bytea, binary; b is borrowed until the statement ran (NULL with n 0
 * is an empty bytea). */
void pg_p_bytea(pg_params *p, const void *b, size_t n);

/* Runs sql (one statement) with p (NULL: no parameters) on c, results
 * in binary format when binary is 1 (text when 0). The result (PQclear
 * it) on success, whether rows or none; NULL with f set (pg_fault) on
 * failure, what naming the work in the message ("reading the models"). */
PGresult *pg_exec(pg_conn *c, const char *sql, const pg_params *p,
		  int binary, fault *f, const char *what);

/* Runs a statement that returns no rows: the rows it affected (>= 0), or
 * -1 with f set. */
int64_t pg_run(pg_conn *c, const char *sql, const pg_params *p, fault *f,
	       const char *what);

/* Fills f from a failed result r (NULL: no result, e.g. out of memory or
 * the connection lost) on c, marking c broken or retry as the SQLSTATE
 * says (see Faults in DESIGN); returns -1. */
int pg_fault(pg_conn *c, const PGresult *r, fault *f, const char *what);

/* Replaces every copy of s's secret in msg (NUL-terminated, in place)
 * with "***" and cuts msg at its first newline. s may be NULL. */
void pg_scrub(const pg_store *s, char *msg);

/* ---- pg_db.c: reading columns (either result format) ---- */

int pg_null(const PGresult *r, int row, int col);
/* int2/int4/int8 (binary), or any integer text; 0 for NULL. Results in
 * binary format must not be numeric: cast sums to bigint in the SQL. */
int64_t pg_i64(const PGresult *r, int row, int col);
/* float4/float8 (binary), or any number's text; NAN for NULL. */
double pg_real(const PGresult *r, int row, int col);
/* A text column, borrowed from r; "" for NULL. */
const char *pg_text(const PGresult *r, int row, int col);
/* A bytea column of a binary result, borrowed from r (*len its bytes);
 * NULL (and *len 0) for NULL or a text-format result. */
const void *pg_bytes(const PGresult *r, int row, int col, size_t *len);
/* A malloc'd copy of a bytea column of either format (at least one byte
 * allocated, so an empty value is not NULL); NULL with f set. */
void *pg_copy_bytes(const PGresult *r, int row, int col, size_t *len,
		    fault *f);
/* Copies a text column into an id buffer; -1 when empty or too long. */
int pg_copy_id(char dst[STORE_ID_MAX], const PGresult *r, int row, int col,
	       fault *f);
/* A malloc'd copy of a text column ("" for NULL); NULL with f set. */
char *pg_copy_text(const PGresult *r, int row, int col, fault *f);

/* Checks that id is a usable key (not NULL, not empty, short enough). */
int pg_check_id(const char *id, const char *kind, fault *f);

/* ---- the ops entries (pg_ops, pg_open.c), with store.h's contracts ---- */

extern const store_ops pg_ops;

/* pg_models.c */
int pg_model_insert(store *s, const store_model *m, fault *f);
int pg_models_each(store *s, int (*cb)(void *arg, const store_model *m),
		   void *arg, fault *f);
int pg_model_delete(store *s, const char *id, fault *f);
int pg_model_set_weights(store *s, const char *id, const void *blob,
			 size_t len, uint64_t step, int64_t now_ms, fault *f);
int pg_model_checkpoint(store *s, const char *id, void **blob, size_t *len,
			uint64_t *step, fault *f);
int pg_shared(store *s);
int pg_models_stamps(store *s, int (*cb)(void *arg,
		     const store_model_stamp *m), void *arg, fault *f);
int pg_model_get(store *s, const char *id, int (*cb)(void *arg,
		 const store_model *m), void *arg, fault *f);

/* pg_batches.c */
int pg_batch_insert(store *s, const char *model_id, const float *x,
		    const float *y, size_t n, uint32_t nin, uint32_t nout,
		    int64_t max_samples, int64_t now_ms, int64_t *batch_id,
		    int64_t *total_samples, fault *f);
int pg_batch_list(store *s, const char *model_id, store_batch_info **out,
		  size_t *n, fault *f);
int pg_batches_delete(store *s, const char *model_id, int64_t *rows,
		      fault *f);
int pg_batches_load(store *s, const char *model_id, uint32_t nin,
		    uint32_t nout, float **x, float **y, size_t *n, fault *f);
int pg_rows_open(store *s, const char *model_id, uint32_t nin,
		 uint32_t nout, store_rows **out, fault *f);
uint64_t pg_rows_count(const store_rows *r);
int pg_rows_read(store_rows *r, const uint64_t *pos, size_t n, float *x,
		 float *y, fault *f);
void pg_rows_destroy(store_rows *r);

/* Stored floats are little-endian; on a big-endian host, swaps the n
 * floats at p in place (a no-op on a little-endian one). */
void pg_floats_le(void *p, size_t n);

/* pg_jobs.c */
int pg_job_insert(store *s, const store_job *j, fault *f);
int pg_job_update(store *s, const store_job *j, uint64_t epoch, fault *f);
int pg_jobs_each(store *s, const char *model_id,
		 int (*cb)(void *arg, const store_job *j), void *arg,
		 fault *f);

int pg_job_get(store *s, const char *job_id,
	       int (*cb)(void *arg, const store_job *j), void *arg, fault *f);

/* pg_claims.c */
int pg_node_beat(store *s, const char *node_id, int64_t ttl_ms, int join,
		 fault *f);
int pg_node_leave(store *s, const char *node_id, fault *f);
int pg_job_insert_owned(store *s, const store_job *j, const char *owner,
			fault *f);
int pg_job_claim(store *s, const char *node_id,
		 int (*cb)(void *arg, const store_job *j), void *arg,
		 fault *f);
int pg_job_handback(store *s, const char *job_id, const char *node_id,
		    fault *f);
int pg_jobs_wait(store *s, int64_t timeout_ms, int wake_fd, fault *f);
int pg_jobs_unfinished(store *s, const char *model_id, int unclaimed,
		       int64_t *n, fault *f);
int pg_job_offer(store *s, const store_job *j, const char *node_id,
		 int keep, fault *f);

/* pg_cancel.c */
int pg_job_cancel_unclaimed(store *s, const char *job_id, int64_t now_ms,
			    int (*cb)(void *arg, const store_job *j),
			    void *arg, fault *f);
int pg_job_cancel_request(store *s, const char *job_id,
			  int (*cb)(void *arg, const store_job *j),
			  void *arg, fault *f);
int pg_jobs_cancel_asked(store *s, const char *node_id,
			 void (*cb)(void *arg, const char *job_id),
			 void *arg, fault *f);

/* pg_close: closes the wake-up channel's connection. */
void pg_claims_close(pg_store *s);

/* pg_listen.c */
int pg_models_wait(store *s, int64_t timeout_ms, int cancel_fd,
		   int (*cb)(void *arg, const char *model_id), void *arg,
		   fault *f);
int pg_jobs_changed(store *s, uint64_t *cursor,
		    int (*cb)(void *arg, const store_job *j), void *arg,
		    fault *f);

/* Inside a write transaction on c that changes model_id's weights or
 * checkpoint: NOTIFY mlpd_models with the id, delivered when the
 * transaction commits (store.h, "following other nodes"). */
int pg_models_notify(pg_conn *c, const char *model_id, fault *f);

/* pg_close: closes the models' channel's connection. */
void pg_listen_close(pg_store *s);

/* pg_lease.c (and pg_models.c: the fenced weights) */
int pg_lease_take(store *s, const char *model_id, const char *node_id,
		  int64_t ttl_ms, uint64_t *epoch, char *holder,
		  size_t holder_len, fault *f);
int pg_lease_renew(store *s, const char *model_id, const char *node_id,
		   uint64_t epoch, int64_t ttl_ms, char *holder,
		   size_t holder_len, fault *f);
int pg_lease_release(store *s, const char *model_id, const char *node_id,
		     uint64_t epoch, fault *f);
int pg_model_set_weights_fenced(store *s, const char *id, const void *blob,
				size_t len, uint64_t step, int64_t now_ms,
				uint64_t epoch, fault *f);

/* Inside a fenced write's own transaction on c: 0 when epoch is 0
 * (unfenced) or model_id's lease epoch, held; else FAULT_FENCED (naming
 * the holder) and -1, and the caller's transaction must change nothing.
 * Locks the lease row FOR SHARE, so a take waits for the write. */
int pg_lease_check(pg_conn *c, const char *model_id, uint64_t epoch,
		   fault *f);

/* pg_state.c */
int pg_state_get(store *s, const char *name, int64_t *value, fault *f);
int pg_state_set(store *s, const char *name, int64_t value, fault *f);

/* pg_versions.c */
int pg_version_create(store *s, const store_version_new *v,
		      store_version *out, fault *f);
int pg_versions_list(store *s, const char *model_id, uint64_t after,
		     size_t limit, store_version **out, size_t *n, fault *f);
int pg_version_get(store *s, const char *model_id, uint64_t version,
		   store_version *out, void **blob, size_t *len, fault *f);
int pg_version_delete(store *s, const char *model_id, uint64_t version,
		      int drop_aliases, store_vdel *what, fault *f);
int pg_alias_set(store *s, const char *model_id, const char *name,
		 uint64_t version, size_t max_aliases, int64_t now_ms,
		 fault *f);
int pg_alias_delete(store *s, const char *model_id, const char *name,
		    fault *f);
int pg_aliases_list(store *s, const char *model_id, store_alias **out,
		    size_t *n, fault *f);

/* ---- pg_models.c, pg_jobs.c: for the history files ---- */

/* Sets f to "no model with id ..." (FAULT_NO_MODEL); returns -1. */
int pg_model_missing(const char *id, fault *f);

/* 0 when the model exists; -1 with "no model" or the failure in f. With
 * lock (write transactions only), the model's row is locked (FOR UPDATE)
 * until the transaction ends: the writes of one model, from any node,
 * then run one after the other. */
int pg_model_need(pg_conn *c, const char *id, int lock, fault *f);

/* Checks the fields of j that go into the jobs table (and, when insert,
 * its model id). */
int pg_job_check(const store_job *j, int insert, fault *f);

/* Updates the job row from j: status, steps_done, loss, error, times,
 * options (never owner or takeovers). FAULT_INVALID when there is no such
 * job. */
int pg_job_update_row(pg_conn *c, const store_job *j, fault *f);

/* Inserts the job row j owned by owner (NULL: none, claimable), after
 * checking its model; when the row is claimable (no owner, queued or
 * running) wakes the other nodes (pg_jobs_notify) in the same
 * transaction. FAULT_INVALID when the id is taken. */
int pg_job_insert_row(pg_conn *c, const store_job *j, const char *owner,
		      fault *f);

/* The columns of a job row, in the order pg_job_fill reads them, for
 * SELECT and RETURNING lists (text results: the control values come out
 * of the options JSON as text). */
#define PG_JOB_COLUMNS \
	"seq, id, model_id, status, steps_total, steps_done, loss, error, " \
	"options, created_ms, started_ms, finished_ms, " \
	"options::jsonb #>> '{control,lr}', " \
	"options::jsonb #>> '{control,best_step}', " \
	"options::jsonb #>> '{control,best_value}', " \
	"options::jsonb #>> '{control,stopped_step}', " \
	"options::jsonb #>> '{control,waited}', " \
	"options::jsonb #>> '{control,mark}', " \
	"options::jsonb #>> '{control,start_step}', " \
	"options::jsonb #>> '{control,ckpt_steps}', " \
	"options::jsonb #>> '{control,best_version}', node, takeovers"

/* Fills j from row i of r (PG_JOB_COLUMNS); its error and options are
 * malloc'd (the caller frees both). */
int pg_job_fill(const PGresult *r, int i, store_job *j, fault *f);

/* Inside a write transaction on c: NOTIFY mlpd_jobs with payload (a job
 * id, or "" for "look again"), delivered when the transaction commits. */
int pg_jobs_notify(pg_conn *c, const char *payload, fault *f);

/* ---- history (pghist: pg_history*.c, pg_progress.c) ---- */

/* The ops entries, with store.h's contracts (pg_ops). */
int pg_progress_commit(store *s, const store_progress *p, fault *f);
int pg_loss_query(store *s, const char *model_id, uint64_t since,
		  size_t limit, store_loss_point **out, size_t *n, fault *f);
int pg_loss_windows(store *s, const char *model_id, store_series series,
		    uint64_t every, uint64_t since, size_t limit,
		    store_loss_window **out, size_t *n, fault *f);
int pg_loss_range(store *s, const char *model_id, store_series series,
		  uint64_t from, uint64_t to, size_t max_points,
		  store_loss_window **out, size_t *n, fault *f);
int pg_model_revert(store *s, const char *id, const store_job *job,
		    int64_t now_ms, uint64_t epoch, double *last_loss,
		    fault *f);

/* Inside a write transaction on c (store_model_set_weights): drops the
 * model's loss history and validation points past step. */
int pg_history_trim(pg_conn *c, const char *model_id, int64_t step,
		    fault *f);

/* Inside the write transaction of store_model_delete, after the model's
 * row was deleted (the trigger of schema/pg/pg-1.sql has noted its id in
 * loss_trash): drops or schedules its history rows. */
int pg_history_forget(pg_conn *c, const char *model_id, fault *f);

/* Inside the open's recovery transaction, run only when no other node
 * is up (pg_open.c): drops the history past each model's checkpointed
 * step, and the rows of deleted models (loss_trash). */
int pg_history_recover(pg_conn *c, fault *f);

/* *loss gets the loss of the model's last step at or before step; NAN
 * when there is none (set_weights, version_create). */
int pg_history_loss_at(pg_conn *c, const char *model_id, int64_t step,
		       double *loss, fault *f);

/* *vp gets the model's last validation point at or before step (step 0
 * and NANs when there is none; version_create). */
int pg_history_val_at(pg_conn *c, const char *model_id, int64_t step,
		      store_val_point *vp, fault *f);

/* Inside a write transaction on c: locks the model's row, drops its
 * history past its checkpointed step and sets last_loss to the loss at
 * that step (*last_loss gets it; may be NULL) and updated_ms to now_ms
 * (0: unchanged). Revert and recovery run it; so may a node that takes
 * over a model whose last writer died. */
int pg_history_to_checkpoint(pg_conn *c, const char *model_id,
			     int64_t now_ms, double *last_loss, fault *f);

#endif
