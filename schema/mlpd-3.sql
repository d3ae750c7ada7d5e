-- mlpd-3.sql: migration step 3 of mlpd's SQLite schema (version 2 -> 3).
--
-- server/store/schema_embed.sh builds this file into the binary as
-- store_schema_3_sql, and store_open (server/store/store_open.c) runs it on
-- a database at version 2, inside one transaction that also sets
-- user_version to 3. Like mlpd.sql this file is frozen once released; the
-- conventions of mlpd.sql hold here too.

-- Small values the daemon keeps across restarts, by name (store_state_*).
-- 'events_reserved': every event id a run of the daemon has handed out or
-- may hand out before it writes a larger value is below this one, so the
-- next run starts its ids there (server/engine/events.h).
CREATE TABLE daemon_state (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
