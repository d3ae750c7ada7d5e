#!/bin/sh
# check_store_pg.sh: tests/check_store's cases on PostgreSQL. Starts a
# throwaway server (tests/pg_cluster.sh), points MLPD_TEST_PG at it and
# runs the check_store binary, which then opens a fresh database per case
# and adds the PostgreSQL-only ones (tests/pgtest.h). Skipped (77) when
# PostgreSQL is not installed or mlpd was built without libpq.
set -u

here=$(dirname "$0")
. "$here/pg_cluster.sh"
# (tests/check_lease_pg.sh runs check_lease the same way)
bin=${PGTEST_BIN:-${builddir:-.}/tests/check_store}

top=$(mktemp -d "${TMPDIR:-/tmp}/mlpd-check_store_pg.XXXXXX") || exit 99
trap 'pg_cluster_stop "$top/pg"; rm -rf "$top"' EXIT
trap 'exit 1' HUP INT TERM
pg_cluster_for_test check_store_pg "$top/pg"
MLPD_TEST_PG=$pg_conninfo "$bin"
