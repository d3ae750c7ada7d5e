/*
 * store.c: the public store.h calls, backend-neutral. store_open picks the
 * backend from the --db text (store_is_pg) and every other call is the
 * matching entry of the backend's table (store_backend.h), called with the
 * same arguments: the SQLite one in sqlite/, the PostgreSQL one in
 * postgres/ (only when built with libpq, MLPD_HAVE_PG). Also here: what
 * no backend needs to differ in (job status names, the schema version,
 * the id check, the argument checks of versions and aliases).
 */
#include "autoconf.h" /* MLPD_HAVE_PG */
#include "store_backend.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpq's URI prefixes (libpq's own test is case-sensitive). */
static const char *const pg_uri_prefixes[] = { "postgresql://",
					       "postgres://" };

static int
has_prefix(const char *s, const char *prefix)
{
	while (*prefix != '\0')
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

/* 1 when s starts with a libpq keyword and its '=' ("host=...", "dbname
 * = x"): a lowercase word of letters and '_', then spaces, then '='. */
static int
is_keyword_value(const char *s)
{
	const char *p = s;

	while ((*p >= 'a' && *p <= 'z') || *p == '_')
		p++;
	if (p == s)
		return 0;
	while (isspace((unsigned char)*p))
		p++;
	return *p == '=';
}

int
store_is_pg(const char *db)
{
	if (db == NULL)
		return 0;
	for (size_t i = 0; i < sizeof pg_uri_prefixes /
	     sizeof pg_uri_prefixes[0]; i++)
		if (has_prefix(db, pg_uri_prefixes[i]))
			return 1;
	while (isspace((unsigned char)*db))
		db++;
	return is_keyword_value(db);
}

store *
store_open(const char *db, fault *f)
{
	if (!store_is_pg(db))
		return sqlite_store_open(db, f);
#ifdef MLPD_HAVE_PG
	return pg_store_open(db, f);
#else
	fault_set(f, FAULT_INVALID, "this mlpd was built without PostgreSQL "
		  "support (libpq)");
	return NULL;
#endif
}

int
store_schema_version(void)
{
	return sqlite_schema_version();
}

static const char *const job_status_names[STORE_JOB_STATUS_COUNT_] = {
	[STORE_JOB_QUEUED] = "queued",
	[STORE_JOB_RUNNING] = "running",
	[STORE_JOB_SUCCEEDED] = "succeeded",
	[STORE_JOB_FAILED] = "failed",
	[STORE_JOB_CANCELLED] = "cancelled",
	[STORE_JOB_INTERRUPTED] = "interrupted",
};

const char *
store_job_status_name(store_job_status s)
{
	if ((unsigned)s >= STORE_JOB_STATUS_COUNT_)
		return NULL;
	return job_status_names[s];
}

/* ---- every other call: the backend's entry ---- */

void
store_close(store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

int64_t
store_size_bytes(store *s)
{
	return s->ops->size_bytes(s);
}

int
store_set_max_size(store *s, int64_t bytes, int64_t *effective, fault *f)
{
	return s->ops->set_max_size(s, bytes, effective, f);
}

int
store_integrity_check(store *s, fault *f)
{
	return s->ops->integrity_check(s, f);
}

void
store_set_history_raw(store *s, uint64_t steps)
{
	s->ops->set_history_raw(s, steps);
}

int
store_model_insert(store *s, const store_model *m, fault *f)
{
	return s->ops->model_insert(s, m, f);
}

int
store_models_each(store *s, int (*cb)(void *arg, const store_model *m),
		  void *arg, fault *f)
{
	return s->ops->models_each(s, cb, arg, f);
}

int
store_shared(store *s)
{
	return s->ops->shared(s);
}

int
store_models_stamps(store *s, int (*cb)(void *arg,
		    const store_model_stamp *m), void *arg, fault *f)
{
	return s->ops->models_stamps(s, cb, arg, f);
}

int
store_model_get(store *s, const char *id, int (*cb)(void *arg,
		const store_model *m), void *arg, fault *f)
{
	return s->ops->model_get(s, id, cb, arg, f);
}

int
store_model_delete(store *s, const char *id, fault *f)
{
	return s->ops->model_delete(s, id, f);
}

int
store_model_set_weights(store *s, const char *id, const void *blob, size_t len,
			uint64_t step, int64_t now_ms, fault *f)
{
	return s->ops->model_set_weights(s, id, blob, len, step, now_ms, f);
}

int
store_model_checkpoint(store *s, const char *id, void **blob, size_t *len,
		       uint64_t *step, fault *f)
{
	return s->ops->model_checkpoint(s, id, blob, len, step, f);
}

int
store_model_revert(store *s, const char *id, const store_job *job,
		   int64_t now_ms, double *last_loss, fault *f)
{
	return s->ops->model_revert(s, id, job, now_ms, 0, last_loss, f);
}

int
store_model_revert_fenced(store *s, const char *id, const store_job *job,
			  int64_t now_ms, uint64_t epoch, double *last_loss,
			  fault *f)
{
	return s->ops->model_revert(s, id, job, now_ms, epoch, last_loss, f);
}

int
store_batch_insert(store *s, const char *model_id, const float *x,
		   const float *y, size_t n, uint32_t nin, uint32_t nout,
		   int64_t max_samples, int64_t now_ms, int64_t *batch_id,
		   int64_t *total_samples, fault *f)
{
	return s->ops->batch_insert(s, model_id, x, y, n, nin, nout,
	    max_samples, now_ms, batch_id, total_samples, f);
}

int
store_batch_list(store *s, const char *model_id, store_batch_info **out,
		 size_t *n, fault *f)
{
	return s->ops->batch_list(s, model_id, out, n, f);
}

int
store_batches_delete(store *s, const char *model_id, int64_t *rows, fault *f)
{
	return s->ops->batches_delete(s, model_id, rows, f);
}

int
store_batches_load(store *s, const char *model_id, uint32_t nin, uint32_t nout,
		   float **x, float **y, size_t *n, fault *f)
{
	return s->ops->batches_load(s, model_id, nin, nout, x, y, n, f);
}

int
store_rows_open(store *s, const char *model_id, uint32_t nin, uint32_t nout,
		store_rows **out, fault *f)
{
	return s->ops->rows_open(s, model_id, nin, nout, out, f);
}

uint64_t
store_rows_count(const store_rows *r)
{
	return r->st->ops->rows_count(r);
}

int
store_rows_read(store_rows *r, const uint64_t *pos, size_t n, float *x,
		float *y, fault *f)
{
	return r->st->ops->rows_read(r, pos, n, x, y, f);
}

void
store_rows_destroy(store_rows *r)
{
	if (r != NULL)
		r->st->ops->rows_destroy(r);
}

int
store_progress_commit(store *s, const store_progress *p, fault *f)
{
	return s->ops->progress_commit(s, p, f);
}

int
store_loss_query(store *s, const char *model_id, uint64_t since, size_t limit,
		 store_loss_point **out, size_t *n, fault *f)
{
	return s->ops->loss_query(s, model_id, since, limit, out, n, f);
}

int
store_loss_windows(store *s, const char *model_id, store_series series,
		   uint64_t every, uint64_t since, size_t limit,
		   store_loss_window **out, size_t *n, fault *f)
{
	return s->ops->loss_windows(s, model_id, series, every, since, limit,
	    out, n, f);
}

int
store_loss_range(store *s, const char *model_id, store_series series,
		 uint64_t from, uint64_t to, size_t max_points,
		 store_loss_window **out, size_t *n, fault *f)
{
	return s->ops->loss_range(s, model_id, series, from, to, max_points,
	    out, n, f);
}

int
store_job_insert(store *s, const store_job *j, fault *f)
{
	return s->ops->job_insert(s, j, f);
}

int
store_job_update(store *s, const store_job *j, fault *f)
{
	return s->ops->job_update(s, j, 0, f);
}

int
store_job_update_fenced(store *s, const store_job *j, uint64_t epoch,
			fault *f)
{
	/* the lease checked is the one of the job's model */
	if (epoch != 0 && store_check_id(j->model_id, "model", f) != 0)
		return -1;
	return s->ops->job_update(s, j, epoch, f);
}

int
store_jobs_each(store *s, const char *model_id,
		int (*cb)(void *arg, const store_job *j), void *arg, fault *f)
{
	return s->ops->jobs_each(s, model_id, cb, arg, f);
}

int
store_state_get(store *s, const char *name, int64_t *value, fault *f)
{
	return s->ops->state_get(s, name, value, f);
}

int
store_state_set(store *s, const char *name, int64_t value, fault *f)
{
	return s->ops->state_set(s, name, value, f);
}

/* ---- versions and aliases: the checks both backends share, then the
 * backend's entry (store_backend.h says what each entry may assume) ---- */

int
store_check_id(const char *id, const char *kind, fault *f)
{
	size_t len;

	if (id == NULL)
		return fault_set(f, FAULT_INVALID, "no %s id given", kind);
	len = strnlen(id, STORE_ID_MAX);
	if (len == 0)
		return fault_set(f, FAULT_INVALID, "the %s id is empty", kind);
	if (len >= STORE_ID_MAX)
		return fault_set(f, FAULT_INVALID,
				 "the %s id is longer than %d characters",
				 kind, STORE_ID_MAX - 1);
	return 0;
}

void
store_version_row(const store_version_new *in, uint64_t version,
		  double hist_loss, const store_val_point *hist_val,
		  store_version *r)
{
	memset(r, 0, sizeof *r);
	snprintf(r->model_id, sizeof r->model_id, "%s", in->model_id);
	r->version = version;
	snprintf(r->name, sizeof r->name, "%s", in->name ? in->name : "");
	r->step = in->step;
	r->created_ms = in->now_ms;
	if (in->from_history) {
		r->loss = in->step == 0 ? NAN : hist_loss; /* no step, no loss */
		r->val_loss = hist_val->loss;
		r->val_accuracy = hist_val->accuracy;
		r->val_step = hist_val->step;
	} else {
		r->loss = in->loss;
		r->val_loss = in->val_loss;
		r->val_accuracy = in->val_accuracy;
		r->val_step = in->val_step;
	}
}

/* 1 when a version number can name a stored version (1 to INT64_MAX):
 * any other names none, and the calls answer "no such version". */
static int
version_valid(uint64_t version)
{
	return version != 0 && version <= INT64_MAX;
}

int
store_version_create(store *s, const store_version_new *v, store_version *out,
		     fault *f)
{
	store_version row;

	if (store_check_id(v->model_id, "model", f) != 0)
		return -1;
	if (v->blob == NULL || v->blob_len == 0)
		return fault_set(f, FAULT_INVALID, "a version needs weights");
	if (v->step > INT64_MAX || v->val_step > INT64_MAX)
		return fault_set(f, FAULT_INVALID, "step out of range");
	if (v->name != NULL && strlen(v->name) >= STORE_VNAME_MAX)
		return fault_set(f, FAULT_INVALID, "a version's name is at "
		    "most %d bytes", STORE_VNAME_MAX - 1);
	if (!v->from_history && !isnan(v->val_accuracy) &&
	    !(v->val_accuracy >= 0 && v->val_accuracy <= 1))
		return fault_set(f, FAULT_INVALID, "val_accuracy must be in "
		    "[0, 1]");
	if (s->ops->version_create(s, v, &row, f) != 0)
		return -1;
	if (out != NULL)
		*out = row;
	return 0;
}

int
store_versions_list(store *s, const char *model_id, uint64_t after,
		    size_t limit, store_version **out, size_t *n, fault *f)
{
	*out = NULL;
	*n = 0;
	if (store_check_id(model_id, "model", f) != 0)
		return -1;
	if (after > INT64_MAX)
		after = INT64_MAX;
	if ((uint64_t)limit > INT64_MAX)
		limit = (size_t)INT64_MAX;
	if (s->ops->versions_list(s, model_id, after, limit, out, n, f) == 0)
		return 0;
	free(*out); /* what the entry left */
	*out = NULL;
	*n = 0;
	return -1;
}

int
store_version_get(store *s, const char *model_id, uint64_t version,
		  store_version *out, void **blob, size_t *len, fault *f)
{
	store_version row;
	void *b = NULL;
	size_t blen = 0;
	int found;

	if (store_check_id(model_id, "model", f) != 0)
		return -1;
	if (!version_valid(version))
		return 0;
	found = s->ops->version_get(s, model_id, version, &row,
	    blob != NULL ? &b : NULL, &blen, f);
	if (found < 0) {
		free(b);
		return -1;
	}
	if (found && out != NULL)
		*out = row;
	if (blob != NULL) {
		*blob = b;
		*len = blen;
	}
	return found;
}

int
store_version_delete(store *s, const char *model_id, uint64_t version,
		     int drop_aliases, store_vdel *what, fault *f)
{
	store_vdel done = STORE_VDEL_MISSING;

	*what = STORE_VDEL_MISSING;
	if (store_check_id(model_id, "model", f) != 0)
		return -1;
	if (!version_valid(version))
		return 0;
	if (s->ops->version_delete(s, model_id, version, drop_aliases, &done,
	    f) != 0)
		return -1;
	*what = done;
	return 0;
}

/* Checks an alias name's length (the API checks its syntax). */
static int
alias_check(const char *model_id, const char *name, fault *f)
{
	if (store_check_id(model_id, "model", f) != 0)
		return -1;
	if (name == NULL || name[0] == '\0' || strlen(name) >= STORE_ALIAS_MAX)
		return fault_set(f, FAULT_INVALID, "an alias is 1 to %d bytes",
		    STORE_ALIAS_MAX - 1);
	return 0;
}

int
store_alias_set(store *s, const char *model_id, const char *name,
		uint64_t version, size_t max_aliases, int64_t now_ms, fault *f)
{
	if (alias_check(model_id, name, f) != 0)
		return -1;
	if (!version_valid(version))
		return 0;
	return s->ops->alias_set(s, model_id, name, version, max_aliases,
	    now_ms, f);
}

int
store_alias_delete(store *s, const char *model_id, const char *name, fault *f)
{
	if (alias_check(model_id, name, f) != 0)
		return -1;
	return s->ops->alias_delete(s, model_id, name, f);
}

int
store_aliases_list(store *s, const char *model_id, store_alias **out,
		   size_t *n, fault *f)
{
	*out = NULL;
	*n = 0;
	if (s->ops->aliases_list(s, model_id, out, n, f) == 0)
		return 0;
	free(*out); /* what the entry left */
	*out = NULL;
	*n = 0;
	return -1;
}

/* ---- leases ---- */

/* The checks both backends share: the ids, the ttl. */
static int
lease_args(const char *model_id, const char *node_id, int64_t ttl_ms,
	   fault *f)
{
	if (model_id == NULL || model_id[0] == '\0')
		return fault_set(f, FAULT_INVALID, "no model id given");
	if (node_id == NULL || node_id[0] == '\0' ||
	    strlen(node_id) >= STORE_NODE_MAX)
		return fault_set(f, FAULT_INVALID, "a node id must be 1 to %d "
				 "bytes", STORE_NODE_MAX - 1);
	if (ttl_ms < 1)
		return fault_set(f, FAULT_INVALID, "a lease lasts at least 1 "
				 "ms");
	return 0;
}

int
store_lease_take(store *s, const char *model_id, const char *node_id,
		 int64_t ttl_ms, uint64_t *epoch, char *holder,
		 size_t holder_len, fault *f)
{
	if (holder != NULL && holder_len > 0)
		holder[0] = '\0';
	if (lease_args(model_id, node_id, ttl_ms, f) != 0)
		return -1;
	return s->ops->lease_take(s, model_id, node_id, ttl_ms, epoch,
	    holder, holder_len, f);
}

int
store_lease_renew(store *s, const char *model_id, const char *node_id,
		  uint64_t epoch, int64_t ttl_ms, char *holder,
		  size_t holder_len, fault *f)
{
	if (holder != NULL && holder_len > 0)
		holder[0] = '\0';
	if (lease_args(model_id, node_id, ttl_ms, f) != 0)
		return -1;
	return s->ops->lease_renew(s, model_id, node_id, epoch, ttl_ms,
	    holder, holder_len, f);
}

int
store_lease_release(store *s, const char *model_id, const char *node_id,
		    uint64_t epoch, fault *f)
{
	if (lease_args(model_id, node_id, 1, f) != 0)
		return -1;
	return s->ops->lease_release(s, model_id, node_id, epoch, f);
}

int
store_model_set_weights_fenced(store *s, const char *id, const void *blob,
			       size_t len, uint64_t step, int64_t now_ms,
			       uint64_t epoch, fault *f)
{
	if (epoch == 0)
		return s->ops->model_set_weights(s, id, blob, len, step,
		    now_ms, f);
	return s->ops->model_set_weights_fenced(s, id, blob, len, step,
	    now_ms, epoch, f);
}

/* ---- job claims (store.h): a shared store's; job_get both ---- */

/* The answer of a claim op the backend lacks (SQLite: one node). */
static int
not_shared(fault *f)
{
	return fault_set(f, FAULT_INVALID, "not a shared store");
}

/* A node id as the claims take it: 1 to STORE_NODE_MAX - 1 bytes. */
static int
node_arg(const char *node_id, fault *f)
{
	if (node_id == NULL || node_id[0] == '\0' ||
	    strlen(node_id) >= STORE_NODE_MAX)
		return fault_set(f, FAULT_INVALID, "a node id must be 1 to %d "
				 "bytes", STORE_NODE_MAX - 1);
	return 0;
}

int
store_node_beat(store *s, const char *node_id, int64_t ttl_ms, int join,
		fault *f)
{
	if (s->ops->node_beat == NULL)
		return not_shared(f);
	if (node_arg(node_id, f) != 0)
		return -1;
	if (ttl_ms < 1)
		return fault_set(f, FAULT_INVALID, "a beat lasts at least 1 "
				 "ms");
	return s->ops->node_beat(s, node_id, ttl_ms, join, f);
}

int
store_node_leave(store *s, const char *node_id, fault *f)
{
	if (s->ops->node_leave == NULL)
		return not_shared(f);
	if (node_arg(node_id, f) != 0)
		return -1;
	return s->ops->node_leave(s, node_id, f);
}

int
store_job_insert_owned(store *s, const store_job *j, const char *owner,
		       fault *f)
{
	if (s->ops->job_insert_owned == NULL)
		return not_shared(f);
	if (owner != NULL && owner[0] != '\0' && node_arg(owner, f) != 0)
		return -1;
	return s->ops->job_insert_owned(s, j, owner, f);
}

int
store_job_claim(store *s, const char *node_id,
		int (*cb)(void *arg, const store_job *j), void *arg, fault *f)
{
	if (s->ops->job_claim == NULL)
		return not_shared(f);
	if (node_arg(node_id, f) != 0)
		return -1;
	if (cb == NULL)
		return fault_set(f, FAULT_INVALID, "a claim needs a callback");
	return s->ops->job_claim(s, node_id, cb, arg, f);
}

int
store_job_handback(store *s, const char *job_id, const char *node_id,
		   fault *f)
{
	if (s->ops->job_handback == NULL)
		return not_shared(f);
	if (node_arg(node_id, f) != 0)
		return -1;
	return s->ops->job_handback(s, job_id, node_id, f);
}

int
store_jobs_wait(store *s, int64_t timeout_ms, int wake_fd, fault *f)
{
	if (s->ops->jobs_wait == NULL)
		return not_shared(f);
	return s->ops->jobs_wait(s, timeout_ms, wake_fd, f);
}

int
store_job_get(store *s, const char *job_id,
	      int (*cb)(void *arg, const store_job *j), void *arg, fault *f)
{
	if (s->ops->job_get == NULL)
		return not_shared(f);
	if (cb == NULL)
		return fault_set(f, FAULT_INVALID, "a read needs a callback");
	return s->ops->job_get(s, job_id, cb, arg, f);
}

/* ---- following other nodes (store.h): a shared store's ---- */

int
store_models_wait(store *s, int64_t timeout_ms, int cancel_fd,
		  int (*cb)(void *arg, const char *model_id), void *arg,
		  fault *f)
{
	if (s->ops->models_wait == NULL)
		return not_shared(f);
	if (cb == NULL)
		return fault_set(f, FAULT_INVALID, "a wait needs a callback");
	return s->ops->models_wait(s, timeout_ms, cancel_fd, cb, arg, f);
}

int
store_jobs_changed(store *s, uint64_t *cursor,
		   int (*cb)(void *arg, const store_job *j), void *arg,
		   fault *f)
{
	if (s->ops->jobs_changed == NULL)
		return not_shared(f);
	if (cursor == NULL || cb == NULL)
		return fault_set(f, FAULT_INVALID, "a read of changed jobs "
				 "needs a cursor and a callback");
	return s->ops->jobs_changed(s, cursor, cb, arg, f);
}

/* ---- job offers and cancels (store.h): a shared store's ---- */

int
store_job_offer(store *s, const store_job *j, const char *node_id, int keep,
		fault *f)
{
	if (s->ops->job_offer == NULL)
		return not_shared(f);
	if (node_arg(node_id, f) != 0)
		return -1;
	return s->ops->job_offer(s, j, node_id, keep, f);
}

int
store_jobs_unfinished(store *s, const char *model_id, int unclaimed,
		      int64_t *n, fault *f)
{
	if (s->ops->jobs_unfinished == NULL)
		return not_shared(f);
	return s->ops->jobs_unfinished(s, model_id, unclaimed, n, f);
}

int
store_job_cancel_unclaimed(store *s, const char *job_id, int64_t now_ms,
			   int (*cb)(void *arg, const store_job *j),
			   void *arg, fault *f)
{
	if (s->ops->job_cancel_unclaimed == NULL)
		return not_shared(f);
	return s->ops->job_cancel_unclaimed(s, job_id, now_ms, cb, arg, f);
}

int
store_job_cancel_request(store *s, const char *job_id,
			 int (*cb)(void *arg, const store_job *j), void *arg,
			 fault *f)
{
	if (s->ops->job_cancel_request == NULL)
		return not_shared(f);
	return s->ops->job_cancel_request(s, job_id, cb, arg, f);
}

int
store_jobs_cancel_asked(store *s, const char *node_id,
			void (*cb)(void *arg, const char *job_id), void *arg,
			fault *f)
{
	if (s->ops->jobs_cancel_asked == NULL)
		return not_shared(f);
	if (node_arg(node_id, f) != 0)
		return -1;
	if (cb == NULL)
		return fault_set(f, FAULT_INVALID, "a look needs a callback");
	return s->ops->jobs_cancel_asked(s, node_id, cb, arg, f);
}
