#!/bin/sh
# check_notify_pg.sh: tests/check_notify's cases (weight notifications,
# the jobs written since a cursor, the SQLSTATE 08P01 mapping) on a
# throwaway PostgreSQL, the way tests/check_store_pg.sh runs check_store
# (skipped, 77, without PostgreSQL or libpq).
PGTEST_BIN=${builddir:-.}/tests/check_notify
export PGTEST_BIN
exec sh "$(dirname "$0")/check_store_pg.sh"
