-- mlpd-7.sql: migration step 7 of mlpd's SQLite schema (version 6 -> 7).
--
-- server/store/schema_embed.sh builds this file into the binary as
-- store_schema_7_sql, and store_open (server/store/sqlite/store_open.c)
-- runs it on a database at version 6, inside one transaction that then
-- sets user_version to 7. Like mlpd.sql this file is frozen once released;
-- the conventions of mlpd.sql hold here too.

-- One writer per model (server/engine/lease.h): the node that holds a
-- model's lease, until when, and the lease's epoch (its fencing token),
-- which grows by one every time the lease changes hands. A row is never
-- deleted (a release empties node_id), so an epoch is never reused: a
-- write that carries an old epoch can never match again. On SQLite one
-- node owns the file (the lock file beside it), so it always gets the
-- lease; the epochs and the checks of the writes work as on PostgreSQL.
CREATE TABLE lease (
	model_id   TEXT PRIMARY KEY,
	node_id    TEXT NOT NULL,            -- '' when released
	epoch      INTEGER NOT NULL CHECK (epoch >= 1),
	expires_ms INTEGER NOT NULL          -- local clock; 0 when released
) WITHOUT ROWID;

-- The node that runs (or last ran) a job (--node-id); NULL before it ran,
-- and for jobs of databases from before this step.
ALTER TABLE jobs ADD COLUMN node TEXT;
