-- pg-4.sql: step 4 of mlpd's PostgreSQL schema (version 3 -> 4): job
-- cancels from any node (store.h, "job offers and cancels").
--
-- server/store/schema_embed.sh builds this file into the binary as
-- pg_schema_4_sql, and pg_store_open (server/store/postgres/pg_open.c)
-- runs it on a database at version 3, under the migrations' advisory lock,
-- inside one transaction that then sets mlpd_schema.version to 4. Frozen
-- once released, like pg-1.sql.

-- A DELETE /v1/jobs/{id} answered by a node that does not own the job
-- (store_job_cancel_request): the owner sees it (store_jobs_cancel_asked)
-- and cancels the job as a local DELETE does. It stays set when the job
-- changes hands, so the node that claims it next cancels it.
ALTER TABLE jobs ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;

-- Each node's claimer looks for its own jobs with a cancel request about
-- once a second: this index holds only those (normally none).
CREATE INDEX jobs_cancel_asked ON jobs (owner)
	WHERE cancel_requested AND status IN ('queued', 'running');
