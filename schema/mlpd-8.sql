-- mlpd-8.sql: migration step 8 of mlpd's SQLite schema (version 7 -> 8).
--
-- server/store/schema_embed.sh builds this file into the binary as
-- store_schema_8_sql, and store_open (server/store/sqlite/store_open.c)
-- runs it on a database at version 7, inside one transaction that then
-- sets user_version to 8. Like mlpd.sql this file is frozen once released;
-- the conventions of mlpd.sql hold here too.

-- A model's row count and the time of its last push, out of the models
-- row: that row holds the weights (~400 KB for [784, 128, 10]), and an
-- UPDATE of its samples column made SQLite read and compare the whole
-- record on every push (~2 ms of CPU each; issue 11). A model without a
-- row here has models.samples rows (the count before this step, kept as
-- it was); with one, this row's samples is the count and models.samples
-- is no longer read, and the model's updated_ms is the later of
-- models.updated_ms and pushed_ms (server/store/sqlite/store_batches.c
-- writes it, store_models.c reads it).
CREATE TABLE model_rows (
	model_id   TEXT PRIMARY KEY REFERENCES models (id) ON DELETE CASCADE,
	samples    INTEGER NOT NULL CHECK (samples >= 0),
	pushed_ms  INTEGER NOT NULL      -- the last push's time
) WITHOUT ROWID;
