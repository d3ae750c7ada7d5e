#!/bin/sh
# bench_pghist.sh: runs tests/bench/bench_pghist (the trainer's commits on
# SQLite and on PostgreSQL, in one run) against a throwaway PostgreSQL
# server (tests/pg_cluster.sh) made as durable as the SQLite store is
# (fsync, synchronous_commit and full_page_writes on, as SQLite's
# synchronous = FULL), both on the same file system (TMPDIR). Prints
# figures; never fails on them. Without PostgreSQL it prints SQLite's
# alone.
set -u

builddir=${builddir:-.}
SRC=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRC/tests/pg_cluster.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/bench_pghist.XXXXXX") || exit 1
trap 'pg_cluster_stop "$dir/pg"; rm -rf "$dir"' EXIT INT TERM
if pg_cluster_start "$dir/pg" >/dev/null &&
    psql -X -q "$pg_conninfo" -c "ALTER SYSTEM SET fsync = on" \
	-c "ALTER SYSTEM SET synchronous_commit = on" \
	-c "ALTER SYSTEM SET full_page_writes = on" \
	-c "SELECT pg_reload_conf()" -c "CREATE DATABASE bench" >/dev/null
then
	MLPD_BENCH_PG="${pg_conninfo%dbname=postgres}dbname=bench"
	export MLPD_BENCH_PG
else
	echo "bench_pghist: no PostgreSQL server; SQLite only"
fi
"$builddir/tests/bench/bench_pghist" "$dir"
