-- mlpd-5.sql: migration step 5 of mlpd's SQLite schema (version 4 -> 5).
--
-- server/store/schema_embed.sh builds this file into the binary as
-- store_schema_5_sql, and store_open (server/store/store_open.c) runs it on
-- a database at version 4, inside one transaction that sets user_version
-- to 5. The rows of the old per-step loss table move into loss_chunk at
-- step 6 (schema/mlpd-6.sql), which then drops that table. Like mlpd.sql
-- this file is frozen once released; the conventions of mlpd.sql hold
-- here too.

-- Loss history in levels (server/store/hist_tiers.h): level 0 holds the
-- raw loss of each step of the recent window (--history-raw-steps), 1024
-- steps to a row (float32 loss and uint32 milliseconds after t0 each,
-- little-endian); levels 1.. hold buckets of 1024 * 16^(level-1) steps for
-- the model's whole life (count, sum, min, max, last loss and time), 64 to
-- a row (80 from schema 6). A row covers the steps first_step..last_step.
-- Steps past the model's checkpointed step never stay: they are written
-- with it.
-- No foreign key: deleting a model only notes its id in loss_trash (the
-- trigger below), and its rows go a few at a time, in later transactions
-- (history_purge in server/store/store_history.c), so that a delete never
-- holds the writer for long.
CREATE TABLE loss_chunk (
	model_id   TEXT NOT NULL,
	level      INTEGER NOT NULL CHECK (level >= 0),
	first_step INTEGER NOT NULL CHECK (first_step >= 1),
	last_step  INTEGER NOT NULL CHECK (last_step >= first_step),
	t0         INTEGER NOT NULL,
	data       BLOB NOT NULL
);
CREATE UNIQUE INDEX loss_chunk_key ON loss_chunk (model_id, level, first_step);

-- Models deleted whose loss_chunk rows are still to go.
CREATE TABLE loss_trash (
	model_id TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TRIGGER models_history_trash AFTER DELETE ON models BEGIN
	INSERT OR IGNORE INTO loss_trash (model_id) VALUES (old.id);
END;
-- A model made again with the id of one deleted starts with no history.
CREATE TRIGGER models_history_fresh AFTER INSERT ON models BEGIN
	DELETE FROM loss_chunk WHERE model_id = new.id;
	DELETE FROM loss_trash WHERE model_id = new.id;
END;
