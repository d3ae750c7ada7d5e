-- pg-1.sql: the PostgreSQL schema of mlpd, version 1 (mlpd_schema.version).
--
-- server/store/schema_embed.sh builds this file into the binary as
-- pg_schema_1_sql, and pg_store_open (server/store/postgres/pg_open.c)
-- runs it on an empty database, inside one transaction that holds the
-- advisory lock of the migrations (so that of two nodes starting at once,
-- one creates the schema and the other finds it made) and then sets
-- mlpd_schema.version. This file is frozen once released: a later change
-- is a new step (schema/pg/pg-2.sql, ...), never an edit here.
--
-- It is the SQLite schema as it stands after schema/mlpd-6.sql (the files
-- schema/mlpd*.sql say what each table is for), translated:
--   * times are bigint milliseconds since the Unix epoch (UTC);
--   * a double precision that may be NULL stands for "none" or a NaN, as
--     in SQLite (the store binds NaN as NULL);
--   * float arrays are bytea, IEEE-754 binary32, little-endian, row after
--     row, byte for byte what SQLite keeps;
--   * SQLite's rowid, which broke ties of equal created_ms, is an identity
--     column (seq), and AUTOINCREMENT an identity (never reused);
--   * the triggers of mlpd-5.sql are PL/pgSQL trigger functions.
-- Tables live in the connection's current schema (search_path; "public"
-- unless the conninfo says otherwise, e.g. options=-csearch_path=mlpd).

-- The schema version of this database: one row. A node refuses a database
-- whose version is newer than the files it was built with.
CREATE TABLE mlpd_schema (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	version integer NOT NULL CHECK (version >= 0)
);
INSERT INTO mlpd_schema (version) VALUES (0);

-- One row per model: its metadata and the last checkpoint of its weights.
CREATE TABLE models (
	id         text PRIMARY KEY,
	seq        bigint GENERATED ALWAYS AS IDENTITY,
	name       text NOT NULL,
	created_ms bigint NOT NULL,
	updated_ms bigint NOT NULL,
	step       bigint NOT NULL DEFAULT 0 CHECK (step >= 0),
	samples    bigint NOT NULL DEFAULT 0 CHECK (samples >= 0),
	last_loss  double precision,    -- NULL until the model has trained
	weights    bytea NOT NULL       -- core/blob.h format, opaque here
);
CREATE INDEX models_created ON models (created_ms, seq);

-- Training data, one row per pushed batch. The float arrays are stored
-- out of line and uncompressed (STORAGE EXTERNAL: floats barely
-- compress), so that substring() reads a range of rows without fetching
-- or inflating the whole batch (store_rows_read).
CREATE TABLE batches (
	batch_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	model_id   text NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	samples    bigint NOT NULL CHECK (samples > 0),
	nin        integer NOT NULL CHECK (nin > 0),
	nout       integer NOT NULL CHECK (nout > 0),
	inputs     bytea NOT NULL,      -- samples x nin floats
	targets    bytea NOT NULL,      -- samples x nout floats
	created_ms bigint NOT NULL,
	CHECK (octet_length(inputs) = 4 * samples * nin),
	CHECK (octet_length(targets) = 4 * samples * nout)
);
ALTER TABLE batches ALTER COLUMN inputs SET STORAGE EXTERNAL;
ALTER TABLE batches ALTER COLUMN targets SET STORAGE EXTERNAL;
CREATE INDEX batches_model ON batches (model_id, batch_id);

-- Training jobs. The status names must match store_job_status_name().
CREATE TABLE jobs (
	id          text PRIMARY KEY,
	seq         bigint GENERATED ALWAYS AS IDENTITY,
	model_id    text NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	status      text NOT NULL CHECK (status IN ('queued', 'running',
			'succeeded', 'failed', 'cancelled', 'interrupted')),
	steps_total bigint NOT NULL CHECK (steps_total >= 0),
	steps_done  bigint NOT NULL DEFAULT 0 CHECK (steps_done >= 0),
	loss        double precision,   -- last minibatch loss, NULL when none
	error       text,               -- NULL unless the job failed
	options     text NOT NULL DEFAULT '{}', -- the train options as JSON
	created_ms  bigint NOT NULL,
	started_ms  bigint,             -- NULL until started
	finished_ms bigint              -- NULL until finished
);
CREATE INDEX jobs_model ON jobs (model_id, created_ms, seq);
CREATE INDEX jobs_created ON jobs (created_ms, seq);
CREATE INDEX jobs_status ON jobs (status);

-- Small values the daemon keeps across restarts, by name (store_state_*).
CREATE TABLE daemon_state (
	name  text PRIMARY KEY,
	value bigint NOT NULL
);

-- Versions: immutable copies of a model's weights (mlpd-4.sql).
CREATE TABLE versions (
	model_id     text NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	version      bigint NOT NULL CHECK (version >= 1),
	name         text,              -- NULL: none given
	step         bigint NOT NULL CHECK (step >= 0),
	loss         double precision,  -- training loss at step; NULL: none
	val_loss     double precision,  -- last validation point at or before
	val_accuracy double precision CHECK (val_accuracy BETWEEN 0 AND 1),
	val_step     bigint,            -- that point's step; NULL: none
	created_ms   bigint NOT NULL,
	weights      bytea NOT NULL,    -- core/blob.h format, opaque here
	PRIMARY KEY (model_id, version)
);

-- The last version number given out per model.
CREATE TABLE version_seq (
	model_id text PRIMARY KEY REFERENCES models (id) ON DELETE CASCADE,
	last     bigint NOT NULL CHECK (last >= 1)
);

-- Aliases name one version of their model each. A version an alias points
-- to cannot be deleted while the alias stays (the foreign key, checked at
-- the end of each statement; a model's delete drops both at once).
CREATE TABLE aliases (
	model_id   text NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	name       text NOT NULL,
	version    bigint NOT NULL,
	updated_ms bigint NOT NULL,
	PRIMARY KEY (model_id, name),
	FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);
CREATE INDEX aliases_version ON aliases (model_id, version);

-- Loss and validation history in levels (server/store/hist_tiers.h;
-- mlpd-5.sql and mlpd-6.sql describe the packing of data, the same here).
-- No foreign key: deleting a model only notes its id in loss_trash (the
-- trigger below), and its rows go a few at a time in later transactions.
CREATE TABLE loss_chunk (
	model_id   text NOT NULL,
	series     smallint NOT NULL DEFAULT 0 CHECK (series IN (0, 1)),
	level      smallint NOT NULL CHECK (level >= 0),
	first_step bigint NOT NULL CHECK (first_step >= 1),
	last_step  bigint NOT NULL CHECK (last_step >= first_step),
	t0         bigint NOT NULL,
	data       bytea NOT NULL,
	PRIMARY KEY (model_id, series, level, first_step)
);

-- Models deleted whose loss_chunk rows are still to go.
CREATE TABLE loss_trash (
	model_id text PRIMARY KEY
);

CREATE FUNCTION mlpd_history_trash() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO loss_trash (model_id) VALUES (OLD.id)
		ON CONFLICT DO NOTHING;
	RETURN NULL;
END
$$;
CREATE TRIGGER models_history_trash AFTER DELETE ON models
	FOR EACH ROW EXECUTE FUNCTION mlpd_history_trash();

-- A model made again with the id of one deleted starts with no history.
CREATE FUNCTION mlpd_history_fresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM loss_chunk WHERE model_id = NEW.id;
	DELETE FROM loss_trash WHERE model_id = NEW.id;
	RETURN NULL;
END
$$;
CREATE TRIGGER models_history_fresh AFTER INSERT ON models
	FOR EACH ROW EXECUTE FUNCTION mlpd_history_fresh();
