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

if ! grep -q '^#define MLPD_HAVE_PG 1' "${builddir:-.}/autoconf.h" \
    2>/dev/null; then
	echo "check_store_pg: built without PostgreSQL (libpq): skipped"
	exit 77
fi
top=$(mktemp -d "${TMPDIR:-/tmp}/mlpd-check_store_pg.XXXXXX") || exit 99
trap 'pg_cluster_stop "$top/pg"; rm -rf "$top"' EXIT
trap 'exit 1' HUP INT TERM
pg_cluster_start "$top/pg" >/dev/null
rc=$?
if [ $rc -eq 77 ]; then
	echo "check_store_pg: PostgreSQL is not installed: skipped"
	exit 77
fi
[ $rc -eq 0 ] || exit 99
MLPD_TEST_PG=$pg_conninfo "$bin"
