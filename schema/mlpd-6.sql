-- mlpd-6.sql: migration step 6 of mlpd's SQLite schema (version 5 -> 6).
--
-- server/store/schema_embed.sh builds this file into the binary as
-- store_schema_6_sql, and store_open (server/store/store_open.c) runs it on
-- a database at version 5, inside one transaction that then packs the rows
-- of the old per-point validation table, and those of the old per-step
-- loss table when the database came from version 4, into loss_chunk
-- (history_migrate_rows in server/store/store_history.c: the packing needs
-- the series column added here, so step 5 leaves the loss rows to this
-- step), drops those tables, and sets user_version to 6. Like mlpd.sql
-- this file is frozen once released; the conventions of mlpd.sql hold
-- here too.

-- Validation history in levels, like the loss (server/store/hist_tiers.h):
-- loss_chunk rows of series 1 hold the validation points, those of series
-- 0 (all rows so far) the training loss. Level 0 of series 1 holds the
-- points of the recent window (--history-raw-steps steps), 1024 to a row
-- (step offset from first_step, float32 loss and accuracy, and uint32
-- milliseconds after t0 each, little-endian); its levels 1.. hold buckets
-- as the loss's do, each followed by the sum (float64), count (uint32) and
-- last value (float32) of the accuracies present, up to 60 to a row.
-- Loss bucket rows now take up to 80 buckets (3840 bytes, one row to a
-- 4 KB page where 64 left a quarter of each page empty); rows of 64
-- stay as they are. Deletes (loss_trash) and the triggers of mlpd-5.sql
-- cover both series.
ALTER TABLE loss_chunk ADD COLUMN series INTEGER NOT NULL DEFAULT 0
	CHECK (series IN (0, 1));
DROP INDEX loss_chunk_key;
CREATE UNIQUE INDEX loss_chunk_key
	ON loss_chunk (model_id, series, level, first_step);
