/*
 * store_backend.h: the contract between store.c (the public store.h calls)
 * and the two backends that keep the data: sqlite/ (the embedded default,
 * one node) and postgres/ (libpq, several nodes sharing one database).
 * Private to server/store/ (the build defines MLPD_STORE_INTERNAL there).
 *
 * DESIGN. store_open picks the backend from the --db text (store_is_pg):
 * a libpq URI (postgresql:// or postgres://) or a libpq key=value string
 * opens postgres/, anything else is a SQLite path. Each backend's own
 * struct begins with a `store` (so a `store *` it made points at it) whose
 * ops field is the backend's table; every public call of store.h that
 * takes a store is the matching entry called through that table, with the
 * same arguments and the same contract as written in store.h (thread
 * safety, one transaction per change, malloc'd results). store_rows works
 * the same way: each backend's rows struct begins with a store_rows head
 * that names the store it came from. An entry a backend cannot honour
 * (store_set_max_size on PostgreSQL, whose size is the server's to cap)
 * fails with FAULT_INVALID and a message that says why; no entry is NULL.
 * Nothing above server/store/ sees this file: the API, the trainer and the
 * events code do not know which backend runs.
 */
#ifndef MLPD_STORE_BACKEND_H
#define MLPD_STORE_BACKEND_H

#ifndef MLPD_STORE_INTERNAL
#error "store_backend.h is private to server/store/: include store.h"
#endif

#include "store.h"

typedef struct store_ops {
	const char *name; /* "sqlite", "postgresql": logs and /metrics */

	void (*close)(store *s);
	int64_t (*size_bytes)(store *s);
	int (*set_max_size)(store *s, int64_t bytes, int64_t *effective,
	    fault *f);
	int (*integrity_check)(store *s, fault *f);
	void (*set_history_raw)(store *s, uint64_t steps);

	/* models */
	int (*model_insert)(store *s, const store_model *m, fault *f);
	int (*models_each)(store *s, int (*cb)(void *arg,
	    const store_model *m), void *arg, fault *f);
	int (*model_delete)(store *s, const char *id, fault *f);
	int (*model_set_weights)(store *s, const char *id, const void *blob,
	    size_t len, uint64_t step, int64_t now_ms, fault *f);
	int (*model_checkpoint)(store *s, const char *id, void **blob,
	    size_t *len, uint64_t *step, fault *f);
	int (*model_revert)(store *s, const char *id, const store_job *job,
	    int64_t now_ms, uint64_t epoch, double *last_loss, fault *f);

	/* training data */
	int (*batch_insert)(store *s, const char *model_id, const float *x,
	    const float *y, size_t n, uint32_t nin, uint32_t nout,
	    int64_t max_samples, int64_t now_ms, int64_t *batch_id,
	    int64_t *total_samples, fault *f);
	int (*batch_list)(store *s, const char *model_id,
	    store_batch_info **out, size_t *n, fault *f);
	int (*batches_delete)(store *s, const char *model_id, int64_t *rows,
	    fault *f);
	int (*batches_load)(store *s, const char *model_id, uint32_t nin,
	    uint32_t nout, float **x, float **y, size_t *n, fault *f);
	int (*rows_open)(store *s, const char *model_id, uint32_t nin,
	    uint32_t nout, store_rows **out, fault *f);
	uint64_t (*rows_count)(const store_rows *r);
	int (*rows_read)(store_rows *r, const uint64_t *pos, size_t n,
	    float *x, float *y, fault *f);
	void (*rows_destroy)(store_rows *r);

	/* progress and history */
	int (*progress_commit)(store *s, const store_progress *p, fault *f);
	int (*loss_query)(store *s, const char *model_id, uint64_t since,
	    size_t limit, store_loss_point **out, size_t *n, fault *f);
	int (*loss_windows)(store *s, const char *model_id,
	    store_series series, uint64_t every, uint64_t since, size_t limit,
	    store_loss_window **out, size_t *n, fault *f);
	int (*loss_range)(store *s, const char *model_id, store_series series,
	    uint64_t from, uint64_t to, size_t max_points,
	    store_loss_window **out, size_t *n, fault *f);

	/* jobs */
	int (*job_insert)(store *s, const store_job *j, fault *f);
	int (*job_update)(store *s, const store_job *j, uint64_t epoch,
	    fault *f);
	int (*jobs_each)(store *s, const char *model_id, int (*cb)(void *arg,
	    const store_job *j), void *arg, fault *f);

	/* the daemon's own state */
	int (*state_get)(store *s, const char *name, int64_t *value,
	    fault *f);
	int (*state_set)(store *s, const char *name, int64_t value, fault *f);

	/* versions and aliases. store.c checks the arguments first (ids,
	 * names, the new version's fields; a version number above INT64_MAX
	 * or 0 answers "none" without a call), clamps after and limit to
	 * INT64_MAX, zeroes list results and passes out, what and len
	 * non-NULL: an entry keeps only its SQL. A list's *out and
	 * version_get's *blob (when blob is not NULL) start NULL; on failure
	 * store.c frees what the entry left there. */
	int (*version_create)(store *s, const store_version_new *v,
	    store_version *out, fault *f);
	int (*versions_list)(store *s, const char *model_id, uint64_t after,
	    size_t limit, store_version **out, size_t *n, fault *f);
	int (*version_get)(store *s, const char *model_id, uint64_t version,
	    store_version *out, void **blob, size_t *len, fault *f);
	int (*version_delete)(store *s, const char *model_id,
	    uint64_t version, int drop_aliases, store_vdel *what, fault *f);
	int (*alias_set)(store *s, const char *model_id, const char *name,
	    uint64_t version, size_t max_aliases, int64_t now_ms, fault *f);
	int (*alias_delete)(store *s, const char *model_id, const char *name,
	    fault *f);
	int (*aliases_list)(store *s, const char *model_id, store_alias **out,
	    size_t *n, fault *f);

	/* leases (the fenced writes: progress_commit with p->epoch,
	 * job_update and model_revert with epoch, version_create with
	 * v->epoch, each 0 when unfenced, and model_set_weights_fenced,
	 * called only with epoch != 0) */
	int (*lease_take)(store *s, const char *model_id, const char *node_id,
	    int64_t ttl_ms, uint64_t *epoch, char *holder, size_t holder_len,
	    fault *f);
	int (*lease_renew)(store *s, const char *model_id,
	    const char *node_id, uint64_t epoch, int64_t ttl_ms, char *holder,
	    size_t holder_len, fault *f);
	int (*lease_release)(store *s, const char *model_id,
	    const char *node_id, uint64_t epoch, fault *f);
	int (*model_set_weights_fenced)(store *s, const char *id,
	    const void *blob, size_t len, uint64_t step, int64_t now_ms,
	    uint64_t epoch, fault *f);
	/* several nodes on one store (xnode) */
	int (*shared)(store *s);
	int (*models_stamps)(store *s, int (*cb)(void *arg,
	    const store_model_stamp *m), void *arg, fault *f);
	int (*model_get)(store *s, const char *id, int (*cb)(void *arg,
	    const store_model *m), void *arg, fault *f);
	/* job claims (store.h; NULL on a backend that is not shared, and
	 * store.c answers FAULT_INVALID "not a shared store") */
	int (*node_beat)(store *s, const char *node_id, int64_t ttl_ms,
	    int join, fault *f);
	int (*node_leave)(store *s, const char *node_id, fault *f);
	int (*job_insert_owned)(store *s, const store_job *j,
	    const char *owner, fault *f);
	int (*job_claim)(store *s, const char *node_id, int (*cb)(void *arg,
	    const store_job *j), void *arg, fault *f);
	int (*job_handback)(store *s, const char *job_id,
	    const char *node_id, fault *f);
	int (*jobs_wait)(store *s, int64_t timeout_ms, int wake_fd,
	    fault *f);
	/* following other nodes (store.h; NULL on a backend that is not
	 * shared: FAULT_INVALID "not a shared store") */
	int (*models_wait)(store *s, int64_t timeout_ms, int cancel_fd,
	    int (*cb)(void *arg, const char *model_id), void *arg, fault *f);
	int (*jobs_changed)(store *s, uint64_t *cursor, int (*cb)(void *arg,
	    const store_job *j), void *arg, fault *f);
	/* job offers and cancels (store.h; NULL on a backend that is not
	 * shared, as the claims) */
	int (*job_offer)(store *s, const store_job *j, const char *node_id,
	    int keep, fault *f);
	int (*job_cancel_unclaimed)(store *s, const char *job_id,
	    int64_t now_ms, int (*cb)(void *arg, const store_job *j),
	    void *arg, fault *f);
	int (*job_cancel_request)(store *s, const char *job_id,
	    int (*cb)(void *arg, const store_job *j), void *arg, fault *f);
	int (*jobs_cancel_asked)(store *s, const char *node_id,
	    void (*cb)(void *arg, const char *job_id), void *arg, fault *f);
	int (*jobs_unfinished)(store *s, const char *model_id, int unclaimed,
	    int64_t *n, fault *f);
	/* both backends */
	int (*job_get)(store *s, const char *job_id, int (*cb)(void *arg,
	    const store_job *j), void *arg, fault *f);
} store_ops;

/* The head of every backend's store: its ops. */
struct store {
	const store_ops *ops;
};

/* The head of every backend's store_rows: the store it was opened on. */
struct store_rows {
	store *st;
};

/* The backends' openers: the store.h contract of store_open. */
store *sqlite_store_open(const char *path, fault *f);
store *pg_store_open(const char *conninfo, fault *f);

/* What no backend differs in (store.c): an id's check, as every entry
 * taking an id makes it (FAULT_INVALID "no model id given", ...), and the
 * row a new version gets, from the request v and, when v->from_history,
 * the history's loss and validation point at v->step. */
int store_check_id(const char *id, const char *kind, fault *f);
void store_version_row(const store_version_new *v, uint64_t version,
		       double hist_loss, const store_val_point *hist_val,
		       store_version *r);

/* The schema version each backend writes (store_schema_version answers
 * the SQLite one, the version of the files in schema/). */
int sqlite_schema_version(void);
int pg_schema_version(void);

#endif
