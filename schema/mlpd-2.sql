-- mlpd-2.sql: migration step 2 of mlpd's SQLite schema (version 1 -> 2).
--
-- server/schema_embed.sh builds this file into the binary as
-- store_schema_2_sql, and store_open (server/store.c) runs it on a database
-- at version 1 (a new one has just been given schema/mlpd.sql), inside one
-- transaction that also sets user_version to 2. Like mlpd.sql this file is
-- frozen once released; the conventions of mlpd.sql hold here too.

-- Validation history: the loss (and, for one-hot targets, the accuracy) of
-- a model on a held-out set, measured at the end of each epoch of a train
-- job, at its end, and after a /step that carried a validation set. Crash
-- recovery drops the rows past the model's checkpointed step, like loss.
CREATE TABLE validation (
	model_id   TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	step       INTEGER NOT NULL CHECK (step >= 1), -- measured at this step
	loss       REAL,                -- NULL for a NaN loss
	accuracy   REAL CHECK (accuracy BETWEEN 0 AND 1), -- NULL: not one-hot
	time_ms    INTEGER NOT NULL,
	PRIMARY KEY (model_id, step)
) WITHOUT ROWID;
