#!/bin/sh
# check_tiers_pg.sh: tests/check_tiers's cases through the store on
# PostgreSQL: a throwaway server (tests/pg_cluster.sh), MLPD_TEST_PG set to
# it, and the suite run (each case on a fresh database, tests/pgtest.h):
# the every=K windows (1, 3, 7, 1000, 1024, 2048, ...), plain paging
# across the raw window's edge, max_points ranges with their spikes, trims
# inside and before the raw window, both series, and a delete. Skipped
# (77) when PostgreSQL is not installed or mlpd was built without libpq.
set -u

builddir=${builddir:-.}
SRC=${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
SUITE=$builddir/tests/check_tiers

if ! grep -q '^#define MLPD_HAVE_PG 1' "$builddir/autoconf.h" 2>/dev/null
then
	echo "check_tiers_pg: built without libpq; skipped"
	exit 77
fi
. "$SRC/tests/pg_cluster.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/check_tiers_pg.XXXXXX") || exit 99
trap 'pg_cluster_stop "$dir/pg"; rm -rf "$dir"' EXIT INT TERM
pg_cluster_start "$dir/pg" >/dev/null
rc=$?
if [ $rc -ne 0 ]; then
	[ $rc -eq 77 ] && echo "check_tiers_pg: no PostgreSQL; skipped"
	exit $rc
fi
MLPD_TEST_PG=$pg_conninfo "$SUITE"
