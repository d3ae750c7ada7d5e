#!/bin/sh
# check_claims_pg.sh: tests/check_claims's cases (job claims by several
# nodes: beats, claim, hand-back, takeovers, SKIP LOCKED, wake-ups) on a
# throwaway PostgreSQL, the way tests/check_store_pg.sh runs check_store
# (skipped, 77, without PostgreSQL or libpq).
PGTEST_BIN=${builddir:-.}/tests/check_claims
export PGTEST_BIN
exec sh "$(dirname "$0")/check_store_pg.sh"
