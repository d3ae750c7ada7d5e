-- pg-5.sql: a step of mlpd's PostgreSQL schema (version 3 or 4 -> 5):
-- every write of a job row is numbered, so that a node following the
-- others' jobs (server/engine/peers.c) reads only the rows written since
-- its last read (store_jobs_changed) instead of every job at every poll.
--
-- server/store/schema_embed.sh builds this file into the binary as
-- pg_schema_5_sql, and pg_store_open (server/store/postgres/pg_open.c)
-- runs it under the migrations' advisory lock, inside one transaction
-- that then sets mlpd_schema.version to 5. Frozen once released, like
-- pg-1.sql.

-- The transaction that last wrote the row (txid_current(): 64 bits, the
-- epoch included, so it never wraps). A reader keeps the oldest
-- transaction its snapshot did not see (txid_snapshot_xmin) as its cursor
-- and next reads the rows at or past it: a writer still running when the
-- reader looked has a transaction id at or past that cursor, so its row
-- is read the next time, and nothing committed is ever missed (a row may
-- come twice). Rows made before this step have 0: the first read, from
-- 0, takes them all.
ALTER TABLE jobs ADD COLUMN changed_tx bigint NOT NULL DEFAULT 0;

-- Set by a trigger rather than by each statement, so that every writer
-- of a job row (insert, update, claim, hand-back, a node joining) numbers
-- it, whichever file its SQL lives in.
CREATE FUNCTION mlpd_jobs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.changed_tx := txid_current();
	RETURN NEW;
END
$$;

CREATE TRIGGER jobs_changed BEFORE INSERT OR UPDATE ON jobs
	FOR EACH ROW EXECUTE PROCEDURE mlpd_jobs_changed();

-- The read of the rows written since a cursor walks this index in its
-- order (changed_tx, seq; in pages): it reads about as many entries as
-- rows changed.
CREATE INDEX jobs_changed_tx ON jobs (changed_tx, seq);
