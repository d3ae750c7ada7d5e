-- pg-3.sql: step 3 of mlpd's PostgreSQL schema (version 2 -> 3): job
-- claims by several nodes (store.h, "job claims").
--
-- server/store/schema_embed.sh builds this file into the binary as
-- pg_schema_3_sql, and pg_store_open (server/store/postgres/pg_open.c)
-- runs it on a database at version 2, under the migrations' advisory lock,
-- inside one transaction that then sets mlpd_schema.version to 3. Frozen
-- once released, like pg-1.sql.

-- The nodes that claim jobs, and until when each counts as alive: its
-- last beat (store_node_beat) plus its ttl, by the database's clock, so the
-- nodes' clocks need not agree. A node that leaves (store_node_leave)
-- deletes its row; a node that dies keeps it, expired.
CREATE TABLE nodes (
	node_id    text PRIMARY KEY,
	expires_at timestamptz NOT NULL
);

-- A job's owner: the node that will run it or runs it; NULL while any
-- node may claim it. A job owned by a node whose beat expired (or that
-- has no row in nodes) is claimable too. Rows made before this step have
-- none.
ALTER TABLE jobs ADD COLUMN owner text;

-- How many times a node claimed the job after it had started (its
-- started_ms set): each is a takeover of work begun elsewhere, or by an
-- earlier run of the same node.
ALTER TABLE jobs ADD COLUMN takeovers integer NOT NULL DEFAULT 0
	CHECK (takeovers >= 0);

-- The claim (server/store/postgres/pg_claims.c) walks the unfinished
-- jobs oldest first, ORDER BY created_ms, seq ... FOR UPDATE SKIP LOCKED
-- LIMIT 1: this index gives exactly those rows in that order, and stays
-- as small as the queue (finished jobs leave it).
CREATE INDEX jobs_claim ON jobs (created_ms, seq)
	WHERE status IN ('queued', 'running');

-- The claim's rule "the oldest unfinished job of its model" probes this
-- one: a model's unfinished jobs, oldest first, however many finished
-- ones it has.
CREATE INDEX jobs_model_open ON jobs (model_id, created_ms, seq)
	WHERE status IN ('queued', 'running');

-- A node joining (store_node_beat with join) frees the unfinished jobs an
-- earlier run of it left owned.
CREATE INDEX jobs_owner ON jobs (owner)
	WHERE owner IS NOT NULL AND status IN ('queued', 'running');
