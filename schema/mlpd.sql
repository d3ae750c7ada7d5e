-- mlpd.sql: the SQLite schema of mlpd, version 1 (PRAGMA user_version).
--
-- server/schema_embed.sh builds this file into the binary as
-- store_schema_sql, and store_open (server/store.c) runs it as migration
-- step 1 on a new database, inside one transaction that also sets
-- user_version. This file is frozen once released: a later change to the
-- schema is a new migration step in store.c, never an edit here, or
-- existing databases and new ones would disagree.
--
-- Conventions: times are milliseconds since the Unix epoch (UTC); a REAL
-- that may be NULL stands for "none" (or a NaN, which SQLite cannot hold);
-- float arrays are IEEE-754 binary32, little-endian, row after row.

-- One row per model: its metadata and the last checkpoint of its weights.
CREATE TABLE models (
	id         TEXT PRIMARY KEY NOT NULL,
	name       TEXT NOT NULL,
	created_ms INTEGER NOT NULL,
	updated_ms INTEGER NOT NULL,
	step       INTEGER NOT NULL DEFAULT 0 CHECK (step >= 0),
	samples    INTEGER NOT NULL DEFAULT 0 CHECK (samples >= 0),
	last_loss  REAL,                -- NULL until the model has trained
	weights    BLOB NOT NULL        -- core/blob.h format, opaque here
);
CREATE INDEX models_created ON models (created_ms);

-- Training data, one row per pushed batch. AUTOINCREMENT so that a batch
-- id, once handed to a client, never names another batch.
CREATE TABLE batches (
	batch_id   INTEGER PRIMARY KEY AUTOINCREMENT,
	model_id   TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	samples    INTEGER NOT NULL CHECK (samples > 0),
	nin        INTEGER NOT NULL CHECK (nin > 0),
	nout       INTEGER NOT NULL CHECK (nout > 0),
	inputs     BLOB NOT NULL,       -- samples x nin floats
	targets    BLOB NOT NULL,       -- samples x nout floats
	created_ms INTEGER NOT NULL,
	CHECK (length(inputs) = 4 * samples * nin),
	CHECK (length(targets) = 4 * samples * nout)
);
CREATE INDEX batches_model ON batches (model_id, batch_id);

-- Loss history: one row per training step, steps 1..models.step after a
-- restart (rows past the checkpoint are dropped by crash recovery).
CREATE TABLE loss (
	model_id   TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	step       INTEGER NOT NULL CHECK (step >= 1),
	loss       REAL,                -- NULL for a NaN loss
	time_ms    INTEGER NOT NULL,
	PRIMARY KEY (model_id, step)
) WITHOUT ROWID;

-- Training jobs. The status names must match store_job_status_name().
CREATE TABLE jobs (
	id          TEXT PRIMARY KEY NOT NULL,
	model_id    TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	status      TEXT NOT NULL CHECK (status IN ('queued', 'running',
			'succeeded', 'failed', 'cancelled', 'interrupted')),
	steps_total INTEGER NOT NULL CHECK (steps_total >= 0),
	steps_done  INTEGER NOT NULL DEFAULT 0 CHECK (steps_done >= 0),
	loss        REAL,               -- last minibatch loss, NULL when none
	error       TEXT,               -- NULL unless the job failed
	options     TEXT NOT NULL DEFAULT '{}', -- the train options as JSON
	created_ms  INTEGER NOT NULL,
	started_ms  INTEGER,            -- NULL until started
	finished_ms INTEGER             -- NULL until finished
);
CREATE INDEX jobs_model ON jobs (model_id, created_ms);
CREATE INDEX jobs_created ON jobs (created_ms);
CREATE INDEX jobs_status ON jobs (status);
