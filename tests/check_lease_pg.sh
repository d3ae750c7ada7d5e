#!/bin/sh
# check_lease_pg.sh: tests/check_lease's cases (leases, fenced writes, the
# trainer stopping on a lost lease) on a throwaway PostgreSQL, the way
# tests/check_store_pg.sh runs check_store (skipped, 77, without PostgreSQL
# or libpq).
PGTEST_BIN=${builddir:-.}/tests/check_lease
export PGTEST_BIN
exec sh "$(dirname "$0")/check_store_pg.sh"
