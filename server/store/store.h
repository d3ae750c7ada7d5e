/*
 * store: everything mlpd keeps, behind one small API, in one of two
 * backends: SQLite (server/store/sqlite/, the embedded default, one node)
 * or PostgreSQL (server/store/postgres/, several nodes sharing one
 * database; only in a build with libpq). store_open picks one from the
 * --db text (store_is_pg); store.c passes every other call to the
 * backend's table of entries (store_backend.h, private to server/store/),
 * so the callers of this header never know which backend runs. Each
 * backend keeps the contract written here: thread safety, one transaction
 * per state change, malloc'd results.
 *
 * DESIGN (the SQLite backend; sqlite/store_int.h lists its files, one per
 * resource, and holds its connections, locks and lock order). One
 * writer connection, guarded by a mutex, performs every write,
 * each state change in exactly one transaction (BEGIN IMMEDIATE .. COMMIT),
 * so a crash leaves either all of a change or none of it. Readers use their
 * own connections (WAL lets them run beside the writer), so history queries
 * never wait for a training checkpoint. The DDL (schema/mlpd.sql, version
 * 1, then schema/mlpd-2.sql, the step to version 2) is built into the
 * binary and versioned with PRAGMA user_version; store_open applies
 * forward migrations and then recovers from a crash: jobs left "queued" or
 * "running" become "interrupted", and loss history (and validation
 * points) past a model's checkpointed step is dropped, so history always
 * holds exactly steps 1..step (the trainer writes its loss points with the
 * checkpoint, so normally there is nothing to drop). The loss history is
 * kept in levels (hist_tiers.h): the raw recent window and exact buckets.
 * Every statement is prepared with bound parameters; a busy timeout makes
 * SQLITE_BUSY invisible to callers. All functions are thread-safe.
 *
 * Times are milliseconds since the Unix epoch (UTC). Strings and blobs that
 * a function hands out are malloc'd and owned by the caller unless the
 * comment says otherwise; rows passed to a callback are borrowed for the
 * duration of the call only.
 */
#ifndef MLPD_STORE_H
#define MLPD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "ids.h"

#define STORE_ID_MAX IDS_MAX /* ids (ids.h) fit, NUL included */
#define STORE_NODE_MAX 64 /* a node id (--node-id): 63 bytes and the NUL */

typedef struct store store;

typedef struct store_model {
	char id[STORE_ID_MAX];
	const char *name;    /* NUL-terminated UTF-8 */
	int64_t created_ms;
	int64_t updated_ms;
	uint64_t step;       /* step of the checkpointed weights */
	int64_t samples;     /* stored training rows */
	double last_loss;    /* NAN when the model never trained */
	const void *blob;    /* the core's blob (core/blob.h) */
	size_t blob_len;
} store_model;

/* What store_models_stamps gives of a model: enough to tell whether it
 * changed since it was loaded, without its weights. */
typedef struct store_model_stamp {
	char id[STORE_ID_MAX];
	uint64_t step;       /* step of the checkpointed weights */
	int64_t updated_ms;
	int64_t samples;     /* stored training rows */
	double last_loss;    /* NAN when the model never trained */
} store_model_stamp;

typedef struct store_batch_info {
	int64_t batch_id;
	int64_t samples;
	int64_t created_ms;
} store_batch_info;

typedef struct store_loss_point {
	uint64_t step;
	double loss;
	int64_t time_ms;
} store_loss_point;

/* A validation measurement: the loss (and accuracy) of the model at step
 * on a held-out set. */
typedef struct store_val_point {
	uint64_t step;       /* >= 1: the training step it was measured at */
	double loss;         /* NAN when not finite */
	double accuracy;     /* in [0, 1]; NAN unless targets were one-hot */
	int64_t time_ms;
} store_val_point;

/* Which history store_loss_windows reads. Both are kept in the same
 * levels (raw window, then buckets), the validation series over its
 * points; the values are stored (loss_chunk.series). */
typedef enum store_series {
	STORE_SERIES_TRAIN = 0, /* the loss of every training step */
	STORE_SERIES_VALIDATION /* validation points */
} store_series;

/* One window of history: the points whose step is in ((w-1)K, wK], or
 * one group of a range (store_loss_range). */
typedef struct store_loss_window {
	uint64_t step;       /* the last step present in the window */
	uint64_t first;      /* the first step it covers */
	uint64_t count;      /* the steps it aggregates (present ones) */
	int bucket;          /* 1: made of downsampled buckets whose steps
	                        first..step need not match the window asked
	                        for (raw steps no longer kept) */
	double loss;         /* the mean loss (NAN when none is finite) */
	double min, max;     /* the smallest and largest loss */
	double accuracy;     /* validation: mean accuracy; NAN when none */
	int64_t time_ms;     /* the time of the window's last point */
} store_loss_window;

typedef enum store_job_status {
	STORE_JOB_QUEUED = 0,
	STORE_JOB_RUNNING,
	STORE_JOB_SUCCEEDED,
	STORE_JOB_FAILED,
	STORE_JOB_CANCELLED,
	STORE_JOB_INTERRUPTED,
	STORE_JOB_STATUS_COUNT_
} store_job_status;

typedef struct store_job {
	char id[STORE_ID_MAX];
	char model_id[STORE_ID_MAX];
	store_job_status status;
	int64_t steps_total;
	int64_t steps_done;
	double loss;         /* last minibatch loss; NAN when none */
	const char *error;   /* NULL when none */
	const char *options; /* the train options as JSON text, never NULL */
	int64_t created_ms;
	int64_t started_ms;  /* 0 when not started */
	int64_t finished_ms; /* 0 when not finished */
	/* training control (core/schedule.h): stored with every update of
	 * the row, under "control" in its options JSON, and read back */
	double lr;           /* the learning rate of its last step; 0: none */
	int64_t best_step;   /* the model step of its best evaluation; 0:
	                        none */
	double best_value;   /* the value there (validation loss, or the mean
	                        training loss without validation) */
	int64_t stopped_step; /* the step early stopping ended it at; 0: it
	                        did not stop early */
	int64_t stop_waited; /* early stopping: evaluations since the last
	                        improvement by more than min_delta */
	double stop_mark;    /* the value of that improvement; NAN: none */
	int64_t start_step;  /* the model's step when the job began */
	int64_t ckpt_steps;  /* the job's steps at its last weights
	                        checkpoint (a resumed job starts there) */
	int64_t best_version; /* the version save_best stored; 0: none */
	char node[STORE_NODE_MAX]; /* the node that runs or last ran it
	                        (--node-id); "": none yet. An update with
	                        "" keeps the stored one */
	int64_t takeovers;   /* times another node claimed it after it had
	                        started (store_job_claim); read only: set by
	                        the claim, kept by updates; 0 on SQLite */
} store_job;

/* "queued", "running", ... ; NULL for a bad value. */
const char *store_job_status_name(store_job_status s);

/* 1 when db names a PostgreSQL database, 0 when it is a SQLite path.
 * PostgreSQL: a libpq URI ("postgresql://..." or "postgres://...", exact
 * lowercase prefix) or a libpq key=value string, one whose first word
 * (after leading white space) is lowercase letters and '_' followed by
 * optional white space and '=' ("host=/tmp dbname=mlpd", "dbname = x").
 * Anything else is SQLite: ":memory:", "", NULL, "mlpd.db", "/var/db",
 * "./a=b/db" ('=' past the first word, or after a '.' or '/'). So a
 * relative SQLite path whose first component looks like "word=..." must
 * be written "./word=...". */
int store_is_pg(const char *db);

/* Opens the store that db names (store_is_pg). SQLite: opens (creating
 * when needed) the database at the path (":memory:" allowed: then one
 * shared in-memory database), migrates, recovers. PostgreSQL: connects
 * and migrates; in a build without libpq it fails with FAULT_INVALID
 * ("this mlpd was built without PostgreSQL support (libpq)"). NULL with f
 * set on failure, including a read-only, corrupt or too-new database. */
store *store_open(const char *db, fault *f);

/* Closes all connections; NULL is a no-op. */
void store_close(store *s);

/* The SQLite schema version this build writes (PRAGMA user_version; the
 * files schema/mlpd*.sql). */
int store_schema_version(void);

/* Bytes the database file uses (page_count * page_size); -1 on failure. */
int64_t store_size_bytes(store *s);

/* Caps the database at bytes (0: no cap) with PRAGMA max_page_count on
 * the writer: a write that would grow it past the cap fails, rolled back,
 * with FAULT_FULL, as on a full disk. SQLite never sets the cap below the
 * file's current size; *effective (may be NULL) gets the cap in force.
 * PostgreSQL fails with FAULT_INVALID: its size is the server's to cap. */
int store_set_max_size(store *s, int64_t bytes, int64_t *effective,
		       fault *f);

/* Runs PRAGMA integrity_check and foreign_key_check on a read connection:
 * 0 when both are clean, else -1 with f naming the first problem. */
int store_integrity_check(store *s, fault *f);

/* ---- models ---- */

int store_model_insert(store *s, const store_model *m, fault *f);

/* Calls cb for every model, oldest first; stops and returns cb's value
 * when it is non-zero. */
int store_models_each(store *s, int (*cb)(void *arg, const store_model *m),
		      void *arg, fault *f);

/* ---- several nodes on one store ---- */

/* 1 when other processes may change the data under this one (PostgreSQL,
 * which several nodes share), 0 when this process owns it (SQLite). */
int store_shared(store *s);

/* Calls cb with the stamp of every model, oldest first, read in one
 * query without the weights; stops and returns cb's value when it is
 * non-zero. cb runs with no connection held. (SQLite reads the rows one
 * by one, weights included: only tests call it there.) */
int store_models_stamps(store *s, int (*cb)(void *arg,
			const store_model_stamp *m), void *arg, fault *f);

/* Reads model id with its weights and calls cb once with it: 1 when cb
 * returned 0 (cb's value when not), 0 when there is no such model, -1
 * with f filled on failure. */
int store_model_get(store *s, const char *id, int (*cb)(void *arg,
		    const store_model *m), void *arg, fault *f);

/* Deletes the model and, in the same transaction, its batches,
 * validation points and jobs; its loss history rows are only marked
 * (loss_trash) and go a bounded number per later history commit, and all
 * at the next open or close. 0, or -1 with FAULT_INVALID when there is no
 * such model. */
int store_model_delete(store *s, const char *id, fault *f);

/* Replaces the weights blob and step (PUT weights): one transaction that
 * also drops loss rows and validation points past step. */
int store_model_set_weights(store *s, const char *id, const void *blob,
			    size_t len, uint64_t step, int64_t now_ms,
			    fault *f);

/* ---- training data ---- */

/* Stores n rows (x: n x nin floats, y: n x nout floats) as one batch and
 * adds n to the model's samples, in one transaction; fills the new batch
 * id and the model's new total. With max_samples > 0, a batch that would
 * take the model past max_samples rows stores nothing (FAULT_LIMIT). */
int store_batch_insert(store *s, const char *model_id, const float *x,
		       const float *y, size_t n, uint32_t nin, uint32_t nout,
		       int64_t max_samples, int64_t now_ms, int64_t *batch_id,
		       int64_t *total_samples, fault *f);

/* Lists the model's batches, oldest first, into a malloc'd array. */
int store_batch_list(store *s, const char *model_id,
		     store_batch_info **out, size_t *n, fault *f);

/* Drops all the model's batches and sets its samples to 0; *rows (when
 * rows is not NULL) gets the number of rows dropped. */
int store_batches_delete(store *s, const char *model_id, int64_t *rows,
			 fault *f);

/* Loads all the model's rows, in batch order, into two malloc'd blocks
 * (*x: n x nin, *y: n x nout). *n is 0 (and the blocks NULL) when there
 * are none. */
int store_batches_load(store *s, const char *model_id, uint32_t nin,
		       uint32_t nout, float **x, float **y, size_t *n,
		       fault *f);

/* A model's stored rows, numbered in batch order (store_rows.c): a
 * snapshot of its batch list, read by row number without loading the
 * rest. Opaque; the store it was opened on must outlive it. */
typedef struct store_rows store_rows;

/* Lists the model's batches into *out (store_rows_destroy frees it):
 * FAULT_INVALID for an unknown model or a width of 0. */
int store_rows_open(store *s, const char *model_id, uint32_t nin,
		    uint32_t nout, store_rows **out, fault *f);

/* The rows the snapshot holds. */
uint64_t store_rows_count(const store_rows *r);

/* Copies rows pos[0..n) (numbers below the count, any order; runs of
 * consecutive numbers read fastest) into x (n x nin) and y (n x nout),
 * in one read transaction. FAULT_CORRUPT when a batch was deleted since
 * the snapshot or does not match its row count. */
int store_rows_read(store_rows *r, const uint64_t *pos, size_t n, float *x,
		    float *y, fault *f);

/* NULL is a no-op. */
void store_rows_destroy(store_rows *r);

/* ---- training progress ---- */

typedef struct store_progress {
	const char *model_id;
	const store_loss_point *points; /* new loss rows, ascending steps */
	size_t npoints;
	const void *blob;     /* new checkpoint, or NULL for loss rows only */
	size_t blob_len;
	uint64_t step;        /* step of blob (ignored when blob is NULL) */
	double last_loss;     /* the model's last_loss after this change */
	int64_t now_ms;       /* becomes updated_at */
	const store_job *job; /* a job row to update too, or NULL */
	const store_val_point *vpoints; /* validation points, ascending */
	size_t nvpoints;
	uint64_t epoch;       /* the writer's lease epoch on the model
	                         (store_lease_take); 0: unfenced, for callers
	                         that hold no lease (tests, tools) */
} store_progress;

/* Writes one progress record in a single transaction: loss rows and
 * validation points (one at or before the last step stored replaces the
 * points from its step on), then
 * (when given) the checkpoint and the job's status/steps/loss/error/times.
 * With p->epoch set it is a fenced write (see the leases below): when
 * that epoch is not the model's lease epoch any more it changes nothing
 * and fails with FAULT_FENCED. */
int store_progress_commit(store *s, const store_progress *p, fault *f);

/* The model's checkpoint as stored: a malloc'd copy of its weights blob
 * (*blob, *len; the caller frees) and its step (step may be NULL). */
int store_model_checkpoint(store *s, const char *id, void **blob,
			   size_t *len, uint64_t *step, fault *f);

/* After training that cannot be kept (it failed, or its commit did): in
 * one transaction, drops the model's loss rows and validation points past
 * its checkpointed step, sets last_loss back to the loss at that step
 * (*last_loss gets it, NAN when none; may be NULL) and updated_ms, and
 * (when job is not NULL) updates the job row. Only frees space before it
 * writes, so it may work where a checkpoint found the disk full. */
int store_model_revert(store *s, const char *id, const store_job *job,
		       int64_t now_ms, double *last_loss, fault *f);

/* store_model_revert fenced by epoch (the writer's lease epoch on the
 * model; 0: unfenced, the same as store_model_revert): when epoch is not
 * the model's lease epoch any more it changes nothing (neither the
 * history nor the job row) and fails with FAULT_FENCED. */
int store_model_revert_fenced(store *s, const char *id, const store_job *job,
			      int64_t now_ms, uint64_t epoch,
			      double *last_loss, fault *f);

/* Points with step > since, ascending, at most limit, into a malloc'd
 * array. */
int store_loss_query(store *s, const char *model_id, uint64_t since,
		     size_t limit, store_loss_point **out, size_t *n,
		     fault *f);

/* History in windows of every (>= 1) steps: window w holds the points of
 * series with step in ((w-1)*every, w*every]. Windows without points are
 * skipped. Returns the windows whose last step is past since (so the
 * window holding step since+1 comes whole), ascending, at most limit,
 * into a malloc'd array. every = 1 lists the points one by one (min = max
 * = loss). Either series: exact where the raw steps are kept or every is a
 * multiple of a bucket width (1024 * 16^k); elsewhere each window is made
 * of the level-1 buckets (1024 steps; for every >= 16 * 16384 the
 * coarsest that fit 16 to a window, hist_level_within) whose last step
 * falls in it, and says so (bucket, first). */
int store_loss_windows(store *s, const char *model_id, store_series series,
		       uint64_t every, uint64_t since, size_t limit,
		       store_loss_window **out, size_t *n, fault *f);

/* At most max_points (>= 1) groups covering the steps from..to (from >=
 * 1; to past the end means the end), ascending: aligned groups of G steps
 * (the smallest multiple of the level's width that gives at most
 * max_points), each the exact merge of whole stored entries (raw points
 * or buckets) whose last step (clamped to from..to) falls in the group;
 * first..step tell the steps it covers, which may reach past from or to
 * by less than one bucket. Reads O(max_points) entries. */
int store_loss_range(store *s, const char *model_id, store_series series,
		     uint64_t from, uint64_t to, size_t max_points,
		     store_loss_window **out, size_t *n, fault *f);

/* Raw steps kept per model, loss and validation (the newest; 0 keeps
 * them all; older steps live on in buckets). Default
 * STORE_HISTORY_RAW_DEFAULT. */
#define STORE_HISTORY_RAW_DEFAULT 1000000
void store_set_history_raw(store *s, uint64_t steps);

/* ---- jobs ---- */

/* On a shared store the job's owner (see "job claims" below) is j->node
 * when set, else none: then any node may claim it, and the others are
 * woken. */
int store_job_insert(store *s, const store_job *j, fault *f);

/* Updates status, steps_done, loss, error, started and finished. */
int store_job_update(store *s, const store_job *j, fault *f);

/* store_job_update fenced by epoch (the writer's lease epoch on the job's
 * model, j->model_id; 0: unfenced, the same as store_job_update): when
 * epoch is not that model's lease epoch any more it changes nothing and
 * fails with FAULT_FENCED, so a node whose lease is gone never overwrites
 * the row the new owner writes. */
int store_job_update_fenced(store *s, const store_job *j, uint64_t epoch,
			    fault *f);

/* Calls cb for each job of model_id (all models when NULL), oldest first;
 * stops on a non-zero return from cb and returns it. */
int store_jobs_each(store *s, const char *model_id,
		    int (*cb)(void *arg, const store_job *j), void *arg,
		    fault *f);

/* ---- the daemon's own state (daemon_state) ---- */

/* The value stored under name: 1 with *value set, 0 when there is none
 * (*value 0), -1 on failure. */
int store_state_get(store *s, const char *name, int64_t *value, fault *f);

/* Stores value under name (replacing any), durably. */
int store_state_set(store *s, const char *name, int64_t value, fault *f);

/* ---- versions and aliases (schema/mlpd-4.sql) ---- */

#define STORE_VNAME_MAX 129 /* a version's name: 128 bytes and the NUL */
#define STORE_ALIAS_MAX 64  /* an alias: 63 bytes and the NUL */

/* A version: an immutable copy of a model's weights. In lists the blob is
 * NULL; store_version_get hands it out separately. */
typedef struct store_version {
	char model_id[STORE_ID_MAX];
	uint64_t version;        /* >= 1, per model, never reused */
	char name[STORE_VNAME_MAX]; /* "" when none was given */
	uint64_t step;           /* the step of the weights */
	double loss;             /* training loss at step; NAN when none */
	double val_loss;         /* the last validation point at or before */
	double val_accuracy;     /* step (NAN when none, or not one-hot) */
	uint64_t val_step;       /* that point's step; 0 when none */
	int64_t created_ms;
} store_version;

/* What store_version_create saves. */
typedef struct store_version_new {
	const char *model_id;
	const void *blob;        /* core/blob.h format; its step must be step */
	size_t blob_len;
	uint64_t step;
	int from_history;        /* 1: loss and the validation fields come
	                            from the model's history at step (the
	                            fields below are ignored); 0: as given */
	double loss;             /* NAN when none */
	double val_loss;         /* NAN when none */
	double val_accuracy;     /* NAN when none */
	uint64_t val_step;       /* 0 when none */
	const char *name;        /* NULL or "" for none; < STORE_VNAME_MAX */
	size_t max_versions;     /* the model's cap (--max-versions); 0: none */
	int64_t now_ms;
	uint64_t epoch;          /* the writer's lease epoch on the model
	                            (the trainer's save_best); 0: unfenced */
} store_version_new;

/* Saves v as the model's next version, in one transaction, durably; *out
 * (may be NULL) gets the row as stored. FAULT_LIMIT (nothing stored) when
 * the model already has max_versions versions; FAULT_INVALID for no such
 * model; with v->epoch set, FAULT_FENCED (nothing stored) when that epoch
 * is not the model's lease epoch any more. This is also the trainer's entry point to save a version (keep
 * the best step): it takes the blob of the live net as blob_save made it,
 * e.g.
 *     store_version_new v = { .model_id = m->id, .blob = b, .blob_len =
 *         len, .step = mlp_step(m->live), .loss = loss, .val_loss = vl,
 *         .val_accuracy = va, .val_step = vs, .name = "best",
 *         .max_versions = cap, .now_ms = wallclock_ms(),
 *         .epoch = lease_epoch(hold) };
 *     store_version_create(st, &v, &row, &f);
 * Thread-safe; called with no lock of the engine held (registry.h). */
int store_version_create(store *s, const store_version_new *v,
			 store_version *out, fault *f);

/* The model's versions with a number above after, ascending, at most
 * limit, into a malloc'd array (*n may be 0). */
int store_versions_list(store *s, const char *model_id, uint64_t after,
			size_t limit, store_version **out, size_t *n,
			fault *f);

/* Reads one version: 1 with *out filled (and, when blob is not NULL, a
 * malloc'd copy of its weights in *blob, *len; the caller frees), 0 when
 * the model has no such version, -1 on failure. */
int store_version_get(store *s, const char *model_id, uint64_t version,
		      store_version *out, void **blob, size_t *len,
		      fault *f);

/* What store_version_delete did. */
typedef enum store_vdel {
	STORE_VDEL_DONE = 0,   /* deleted (with its aliases when asked) */
	STORE_VDEL_MISSING,    /* no such version: nothing changed */
	STORE_VDEL_ALIASED     /* aliases point to it and drop_aliases was
	                          0: nothing changed */
} store_vdel;

/* Deletes a version, and the aliases that point to it when drop_aliases
 * is set, in one transaction; *what says which case it was. */
int store_version_delete(store *s, const char *model_id, uint64_t version,
			 int drop_aliases, store_vdel *what, fault *f);

/* An alias: a name for one version of its model. */
typedef struct store_alias {
	char model_id[STORE_ID_MAX];
	char name[STORE_ALIAS_MAX];
	uint64_t version;
	int64_t updated_ms;
} store_alias;

/* Points the model's alias name at version (creating or moving it) in
 * one transaction: 1 done, 0 when the model has no such version (nothing
 * changed); FAULT_LIMIT when a new alias would take the model past
 * max_aliases (0: no cap). */
int store_alias_set(store *s, const char *model_id, const char *name,
		    uint64_t version, size_t max_aliases, int64_t now_ms,
		    fault *f);

/* Removes the alias: 1 done, 0 when there was none. */
int store_alias_delete(store *s, const char *model_id, const char *name,
		       fault *f);

/* The aliases of model_id (of every model when NULL), by model and name,
 * into a malloc'd array (*n may be 0). */
int store_aliases_list(store *s, const char *model_id, store_alias **out,
		       size_t *n, fault *f);

/* ---- leases: one writer per model (server/engine/lease.h) ---- */

/*
 * A node that writes a model's weights, optimizer state, history or job
 * progress holds the model's lease: a row naming the node, an expiry the
 * node renews, and an epoch (a fencing token) that grows by one every
 * time the lease changes hands and is never reused. Every such write
 * carries the epoch (store_progress.epoch, store_model_set_weights_fenced,
 * store_job_update_fenced, store_model_revert_fenced,
 * store_version_new.epoch) and checks it in its own transaction: a write
 * whose epoch is not the model's lease epoch any more, or whose lease was
 * released, changes nothing and fails with FAULT_FENCED (the way Temporal
 * fences shard owners with range_id). A lease that expired but that nobody took since
 * still fences nothing: no other node can have written meanwhile, and a
 * renew brings it back. Times: PostgreSQL's clock (now()), so the nodes'
 * clocks need not agree; SQLite's, the local clock. On SQLite one node
 * owns the file, so it always gets the lease; epochs and checks work the
 * same, so the trainer's path is the same on both backends.
 */

/* Takes model_id's lease for node_id for ttl_ms (>= 1): 1 taken, with
 * *epoch its epoch: a new one (the last plus one; 1 for a model never
 * leased) when the lease was free, expired or released, the same one when
 * node_id holds it already (then only the expiry moves: a node's job and
 * its synchronous calls share one lease, and a new epoch would fence the
 * node's own writes in flight). 0 when another node holds it and it has
 * not expired: holder (holder_len bytes, may be NULL) gets its id. -1 on
 * failure. */
int store_lease_take(store *s, const char *model_id, const char *node_id,
		     int64_t ttl_ms, uint64_t *epoch, char *holder,
		     size_t holder_len, fault *f);

/* Extends node_id's lease at epoch to ttl_ms from now: 1 renewed (also a
 * lease that expired when nobody took it since), 0 lost: someone else
 * holds it, the epoch moved on, or it was released; holder (may be NULL)
 * then gets the node that holds it ("" when none). -1 on failure. */
int store_lease_renew(store *s, const char *model_id, const char *node_id,
		      uint64_t epoch, int64_t ttl_ms, char *holder,
		      size_t holder_len, fault *f);

/* Frees node_id's lease at epoch for any node to take at once (its epoch
 * stays, the next take makes a new one): 1 released, 0 when node_id did
 * not hold it at epoch (nothing changed), -1 on failure. */
int store_lease_release(store *s, const char *model_id, const char *node_id,
			uint64_t epoch, fault *f);

/* store_model_set_weights fenced by epoch (0: unfenced, the same as
 * store_model_set_weights): FAULT_FENCED, nothing changed, when epoch is
 * not the model's lease epoch any more. */
int store_model_set_weights_fenced(store *s, const char *id,
				   const void *blob, size_t len,
				   uint64_t step, int64_t now_ms,
				   uint64_t epoch, fault *f);


/* ---- job claims: several nodes on one shared store ---- */

/*
 * On a shared store (store_shared) a job row has an owner: the node that
 * will run it or runs it, or none (NULL in the database) while any node
 * may claim it. A node is alive while its beat (store_node_beat) has not
 * expired, by the database's clock. A job is claimable when it is queued
 * or running, its owner is none or a node that is not alive, it is the
 * oldest unfinished job of its model (jobs of a model run in order, one
 * at a time), and no other node holds a live lease on its model. A claim
 * takes the oldest claimable job (by created_ms, then insertion order)
 * with FOR UPDATE SKIP LOCKED, so nodes claiming at once never take the
 * same job, and in the same transaction makes node_id its owner and its
 * node, sets it queued with steps_done back to ckpt_steps (the work past
 * the checkpoint is gone with the dead node) and, when it had started
 * (started_ms != 0), counts one more takeover. Every insert of a claimable
 * job, hand-back and leave wakes the other nodes (PostgreSQL: NOTIFY on
 * channel "mlpd_jobs", the payload a job id or "", never data;
 * store_jobs_wait). SQLite has one node: every call here but store_job_get
 * fails with FAULT_INVALID "not a shared store" (callers check
 * store_shared first).
 */

/* Marks node_id alive for ttl_ms (>= 1) from now. A first beat of a
 * process (join != 0) first makes the jobs still owned by node_id (left by
 * an earlier run of the same node id that died) claimable, in the same
 * transaction. */
int store_node_beat(store *s, const char *node_id, int64_t ttl_ms,
		    int join, fault *f);

/* Marks node_id gone at once (its beat expires now), so whatever it still
 * owns is claimable without waiting for the expiry; wakes the others. */
int store_node_leave(store *s, const char *node_id, fault *f);

/* Inserts j (as store_job_insert) owned by owner: node_id, or NULL (or
 * "") for a job any node may claim (then the others are woken). An owner
 * that never beat counts as not alive: its job is claimable at once. */
int store_job_insert_owned(store *s, const store_job *j, const char *owner,
			   fault *f);

/* Claims one job for node_id (see above): 1 and cb called once with the
 * claimed row as it now stands (borrowed, valid during the call; cb's
 * -1 does not undo the claim, and the answer stays 1), 0 when nothing is
 * claimable, -1 on failure. */
int store_job_claim(store *s, const char *node_id,
		    int (*cb)(void *arg, const store_job *j), void *arg,
		    fault *f);

/* Hands back a job node_id owns (SIGTERM: after its last checkpoint):
 * owner none, status queued, steps_done back to ckpt_steps; the others
 * are woken. 1 handed back, 0 when node_id did not own it or it has
 * finished (nothing changed), -1 on failure. */
int store_job_handback(store *s, const char *job_id, const char *node_id,
		       fault *f);

/* Waits up to timeout_ms for a wake-up (a node's insert, hand-back or
 * leave, or wake_fd, when >= 0, becoming readable: this node's own
 * wake-up, as a trainer freeing a worker; the caller drains it): 1 woken,
 * 0 timed out, -1 on failure (the caller polls on). One thread per store
 * may wait. The first wait starts listening, so claim before waiting; a
 * wait after a failure listens again and answers 1 at once (wake-ups sent
 * meanwhile are lost). */
int store_jobs_wait(store *s, int64_t timeout_ms, int wake_fd, fault *f);

/* Calls cb with the job job_id (any model, any node; with no connection
 * held): 1 found (cb's value when not 0), 0 none, -1 on failure. Both
 * backends. */
int store_job_get(store *s, const char *job_id,
		  int (*cb)(void *arg, const store_job *j), void *arg,
		  fault *f);

/* ---- following other nodes: weight notifications, changed jobs ---- */

/*
 * On a shared store every commit that changes a model's stored weights or
 * its checkpoint (a checkpoint of store_progress_commit,
 * store_model_set_weights and _fenced, store_model_revert) notifies the
 * other nodes in its own transaction, so the notification goes out when
 * (and only if) the commit does (PostgreSQL: NOTIFY on channel
 * "mlpd_models", the payload the model id, never data). A node waits for
 * them on a connection of its own (store_models_wait), so that its
 * predictions follow another node's checkpoint at once rather than at its
 * next poll. Every write of a job row is numbered too, so that a node
 * following the jobs reads only the rows written since its last read
 * (store_jobs_changed). SQLite has one node: both calls fail with
 * FAULT_INVALID "not a shared store" (callers check store_shared first).
 */

/* Waits up to timeout_ms for notifications and calls cb once with each
 * model id heard (borrowed, valid during the call; an id may come more
 * than once): 1 when some were heard, 0 when the time ran out or
 * cancel_fd (when >= 0) became readable (the caller drains it), 2 when
 * this call started listening (the first call, or the first after a
 * failure): notifications sent before it were not heard, so the caller
 * looks at every model; -1 on failure (the caller waits and tries again).
 * One thread per store may wait. */
int store_models_wait(store *s, int64_t timeout_ms, int cancel_fd,
		      int (*cb)(void *arg, const char *model_id), void *arg,
		      fault *f);

/* Calls cb (with no connection held) with every job row written since
 * *cursor (0: every job there is), then sets *cursor for the next call.
 * Nothing written is missed: a row whose writer had not committed when
 * the rows were read comes in the next call, and a row may come again.
 * Stops and returns cb's value when it is non-zero (*cursor unchanged). */
int store_jobs_changed(store *s, uint64_t *cursor,
		       int (*cb)(void *arg, const store_job *j), void *arg,
		       fault *f);
/* ---- job offers and cancels: a job runs, and stops, on any node ---- */

/*
 * On a shared store a new job goes to whichever node has a free trainer:
 * the node that accepts it keeps it only when it can start it at once
 * (store_job_offer), else it is offered (no owner) and the claims above
 * decide who runs it. A cancel may come to any node: an offered job (or
 * one whose owner is not alive) that has not started is cancelled in the
 * store at once (store_job_cancel_unclaimed); one a live node owns gets a
 * cancel request (PostgreSQL: jobs.cancel_requested, schema/pg/pg-4.sql)
 * that its owner sees (store_jobs_cancel_asked) and acts on. A request
 * stays with the job when it changes hands. Requests wake the nodes as
 * the claims do (store_jobs_wait; the payload the job id). SQLite has one
 * node: every call here fails with FAULT_INVALID "not a shared store".
 */

/* Inserts j (as store_job_insert). With keep, node_id owns it when the
 * model has no other unfinished job and no other node holds a live lease
 * on it (checked under a lock on the model's jobs, so two nodes keeping
 * jobs of one model at once cannot both keep theirs); otherwise, or
 * without keep, it has no owner and the other nodes are woken. 1 kept
 * (node_id owns it), 0 offered, -1 on failure (nothing inserted). */
int store_job_offer(store *s, const store_job *j, const char *node_id,
		    int keep, fault *f);

/* Cancels job_id in the store when it is queued and its owner is none or
 * a node that is not alive: status cancelled, finished_ms now_ms, in one
 * conditional write. 1 and cb called once with the row as it now stands
 * (borrowed, valid during the call; may be NULL), 0 when the job is not
 * such (none, ended, running, or a live node's: nothing changed), -1 on
 * failure. */
int store_job_cancel_unclaimed(store *s, const char *job_id, int64_t now_ms,
			       int (*cb)(void *arg, const store_job *j),
			       void *arg, fault *f);

/* Asks job_id's owner, whoever it is now or will be, to cancel it: 1 and
 * cb (as above, may be NULL) when the job is queued or running (the
 * request is stored and the nodes woken), 0 when it is none or has ended
 * (nothing changed), -1 on failure. */
int store_job_cancel_request(store *s, const char *job_id,
			     int (*cb)(void *arg, const store_job *j),
			     void *arg, fault *f);

/* Calls cb with the id of each queued or running job node_id owns that
 * has a cancel request (no connection held during the calls): the number
 * of ids (at most 64 a call; the rest come in the next), -1 on failure.
 * cb's answer is ignored. */
int store_jobs_cancel_asked(store *s, const char *node_id,
			    void (*cb)(void *arg, const char *job_id),
			    void *arg, fault *f);

/* Counts into *n the unfinished (queued or running) jobs of model_id
 * (every model's when NULL), on any node; with unclaimed, only those no
 * live node owns (offered, handed back, or a dead node's: they wait for a
 * claim). A node's --max-queue counts the unclaimed, and a model's rows
 * are not deleted while it has an unfinished job anywhere. 0, or -1 on
 * failure. */
int store_jobs_unfinished(store *s, const char *model_id, int unclaimed,
			  int64_t *n, fault *f);

#endif
