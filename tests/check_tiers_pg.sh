#!/bin/sh
# check_tiers_pg.sh: tests/check_tiers's cases through the store on
# PostgreSQL: a throwaway server (tests/pg_cluster.sh), MLPD_TEST_PG set to
# it, and the suite run (each case on a fresh database, tests/pgtest.h):
# the every=K windows (1, 3, 7, 1000, 1024, 2048, ...), plain paging
# across the raw window's edge, max_points ranges with their spikes, trims
# inside and before the raw window, both series, and a delete. Skipped
# (77) when PostgreSQL is not installed or mlpd was built without libpq.
set -u

. "$(dirname "$0")/pg_cluster.sh"
top=$(mktemp -d "${TMPDIR:-/tmp}/mlpd-check_tiers_pg.XXXXXX") || exit 99
trap 'pg_cluster_stop "$top/pg"; rm -rf "$top"' EXIT
trap 'exit 1' HUP INT TERM
pg_cluster_for_test check_tiers_pg "$top/pg"
MLPD_TEST_PG=$pg_conninfo "${builddir:-.}/tests/check_tiers"
