/*
 * store_ops: the SQLite backend's table of entries (store_backend.h),
 * which sqlite_store_open puts at the head of every SQLite store: store.c
 * reaches this backend only through it. Each entry is the sq_ function
 * of the file that store_int.h names for it.
 */
#include "store_int.h"

const store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.size_bytes = sq_size_bytes,
	.set_max_size = sq_set_max_size,
	.integrity_check = sq_integrity_check,
	.set_history_raw = sq_set_history_raw,
	.model_insert = sq_model_insert,
	.models_each = sq_models_each,
	.model_delete = sq_model_delete,
	.model_set_weights = sq_model_set_weights,
	.model_checkpoint = sq_model_checkpoint,
	.model_revert = sq_model_revert,
	.batch_insert = sq_batch_insert,
	.batch_list = sq_batch_list,
	.batches_delete = sq_batches_delete,
	.batches_load = sq_batches_load,
	.rows_open = sq_rows_open,
	.rows_count = sq_rows_count,
	.rows_read = sq_rows_read,
	.rows_destroy = sq_rows_destroy,
	
	.progress_commit = sq_progress_commit,
	.loss_query = sq_loss_query,
	.loss_windows = sq_loss_windows,
	.loss_range = sq_loss_range,
	.job_insert = sq_job_insert,
	.job_update = sq_job_update,
	.jobs_each = sq_jobs_each,
	.state_get = sq_state_get,
	.state_set = sq_state_set,
	.version_create = sq_version_create,
	.versions_list = sq_versions_list,
	.version_get = sq_version_get,
	.version_delete = sq_version_delete,
	.alias_set = sq_alias_set,
	.alias_delete = sq_alias_delete,
	.aliases_list = sq_aliases_list,
	.lease_take = sq_lease_take,
	.lease_renew = sq_lease_renew,
	.lease_release = sq_lease_release,
	.model_set_weights_fenced = sq_model_set_weights_fenced,
	.shared = sq_shared,
	.models_stamps = sq_models_stamps,
	.model_get = sq_model_get,
	/* job claims: one node, none of them but the read of one job */
	.job_get = sq_job_get,
	/* job offers and cancels: one node, none of them */
	.job_offer = NULL,
	.job_cancel_unclaimed = NULL,
	.job_cancel_request = NULL,
	.jobs_cancel_asked = NULL,
};
