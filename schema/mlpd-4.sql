-- mlpd-4.sql: migration step 4 of mlpd's SQLite schema (version 3 -> 4):
-- model versions and aliases (issue 13).
--
-- server/store/schema_embed.sh builds this file into the binary as
-- store_schema_4_sql, and store_open (server/store/store_open.c) runs it on
-- a database at version 3, inside one transaction that also sets
-- user_version to 4. Like mlpd.sql this file is frozen once released; the
-- conventions of mlpd.sql hold here too. (Provisional number: renumbering
-- is a rename of this file plus its lines in store_open.c and Makefile.am.)

-- A version: an immutable copy of a model's weights, with the step, loss
-- and last validation point they were saved at. Numbers count up per model
-- from 1 and are never reused (version_seq), so a number handed to a
-- client never names other weights.
CREATE TABLE versions (
	model_id     TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	version      INTEGER NOT NULL CHECK (version >= 1),
	name         TEXT,              -- NULL: none given
	step         INTEGER NOT NULL CHECK (step >= 0),
	loss         REAL,              -- training loss at step; NULL: none
	val_loss     REAL,              -- last validation point at or before
	val_accuracy REAL CHECK (val_accuracy BETWEEN 0 AND 1), -- step
	val_step     INTEGER,           -- that point's step; NULL: none
	created_ms   INTEGER NOT NULL,
	weights      BLOB NOT NULL,     -- core/blob.h format, opaque here
	UNIQUE (model_id, version)
);

-- The last version number given out per model.
CREATE TABLE version_seq (
	model_id TEXT PRIMARY KEY NOT NULL
		REFERENCES models (id) ON DELETE CASCADE,
	last     INTEGER NOT NULL CHECK (last >= 1)
) WITHOUT ROWID;

-- Aliases name one version of their model each. A version an alias points
-- to cannot be deleted while the alias stays (the foreign key, checked at
-- the end of each statement; a model's delete drops both at once).
CREATE TABLE aliases (
	model_id   TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	version    INTEGER NOT NULL,
	updated_ms INTEGER NOT NULL,
	PRIMARY KEY (model_id, name),
	FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
) WITHOUT ROWID;
CREATE INDEX aliases_version ON aliases (model_id, version);
