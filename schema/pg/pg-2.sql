-- pg-2.sql: step 2 of mlpd's PostgreSQL schema (version 1 -> 2).
--
-- server/store/schema_embed.sh builds this file into the binary as
-- pg_schema_2_sql, and pg_store_open (server/store/postgres/pg_open.c)
-- runs it on a database at version 1, under the migrations' advisory lock,
-- inside one transaction that then sets mlpd_schema.version to 2. Frozen
-- once released, like pg-1.sql.

-- One writer per model (server/engine/lease.h, store.h "leases"): the
-- node that holds a model's lease, until when (the database's clock, so
-- the nodes' clocks need not agree), and the lease's epoch (its fencing
-- token), which grows by one every time the lease changes hands. A row is
-- never deleted (a release empties node_id), so an epoch is never reused.
-- Every fenced write locks its model's row here FOR SHARE and compares the
-- epoch in its own transaction (pg_lease_check), so a take waits for the
-- write in flight and every write after it sees the new epoch.
CREATE TABLE lease (
	model_id   text PRIMARY KEY,
	node_id    text NOT NULL,             -- '' when released
	epoch      bigint NOT NULL CHECK (epoch >= 1),
	expires_at timestamptz NOT NULL       -- '-infinity' when released
);

-- The node that runs (or last ran) a job (--node-id); NULL before it ran.
ALTER TABLE jobs ADD COLUMN node text;
