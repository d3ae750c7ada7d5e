#!/bin/sh
# pg_cluster.sh: a throwaway PostgreSQL server for the tests (not a test
# itself). Either run it:
#
#   sh tests/pg_cluster.sh start DIR   prints the conninfo of a new server
#                                      whose files, socket and log live in
#                                      DIR (made when missing)
#   sh tests/pg_cluster.sh stop DIR    stops it and removes DIR
#
# or source it and call pg_cluster_start DIR / pg_cluster_stop DIR (the
# conninfo goes to $pg_conninfo and stdout), and pg_cluster_down DIR /
# pg_cluster_up DIR to stop and restart the server in between. Exit status (or return
# value) 77 when PostgreSQL is not installed (automake's "skip"), 99 when
# it is but the server does not start (the last lines of its log on
# stderr).
#
# The server: initdb/pg_ctl of the newest /usr/lib/postgresql/*/bin (or
# `pg_config --bindir`), run as an unprivileged user (as root: the
# "postgres" user, through runuser or setpriv, since initdb refuses root),
# superuser "postgres" with trust auth on its Unix socket in DIR, and
# scram-sha-256 on 127.0.0.1 at a free port ($pg_port) for the tests that
# need a password or TCP. As root, DIR's parent is made traversable
# (chmod a+x) for that user. Fast and small: fsync off, 16 MB of shared
# buffers, 40 connections.

# pg_bindir: the directory of initdb and pg_ctl, or nothing.
pg_bindir() {
	_b=
	if command -v pg_config >/dev/null 2>&1; then
		_b=$(pg_config --bindir 2>/dev/null)
		[ -x "$_b/initdb" ] || _b=
	fi
	if [ -z "$_b" ]; then
		for _d in /usr/lib/postgresql/*/bin; do
			[ -x "$_d/initdb" ] && _b=$_d # the glob sorts: newest last
		done
	fi
	[ -n "$_b" ] && echo "$_b"
}

# pg_as_user CMD...: runs CMD as the server's user (ourselves unless root).
pg_as_user() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u postgres -- "$@"
	else
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	fi
}

# pg_free_port: a TCP port on 127.0.0.1 nobody listens on now.
pg_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null && return
	echo $((20000 + $$ % 20000))
}

pg_cluster_start() {
	_dir=$1
	_bin=$(pg_bindir)
	if [ -z "$_bin" ]; then
		echo "pg_cluster: PostgreSQL is not installed (Debian:" \
		    "postgresql)" >&2
		return 77
	fi
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "pg_cluster: running as root without a postgres user" >&2
		return 99
	fi
	mkdir -p "$_dir" || return 99
	# As root, the server's user must reach DIR: its parent (often a
	# test's private mktemp directory) becomes traversable, not readable.
	if [ "$(id -u)" -eq 0 ]; then
		chmod a+x "$(dirname "$_dir")" && chown postgres "$_dir" ||
		    return 99
	fi
	chmod 700 "$_dir"
	pg_port=$(pg_free_port)
	if ! pg_as_user "$_bin/initdb" -D "$_dir/data" -U postgres -A trust \
	    --no-sync -E UTF8 --locale=C >"$_dir/initdb.log" 2>&1; then
		tail -n 5 "$_dir/initdb.log" >&2
		return 99
	fi
	cat >"$_dir/data/pg_hba.conf" <<EOF
local all all trust
host all all 127.0.0.1/32 scram-sha-256
EOF
	cat >>"$_dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$_dir'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 40
log_min_messages = warning
EOF
	if ! pg_as_user "$_bin/pg_ctl" -D "$_dir/data" -l "$_dir/server.log" \
	    -w -t 30 start >/dev/null 2>&1; then
		tail -n 5 "$_dir/server.log" >&2
		return 99
	fi
	pg_conninfo="host=$_dir port=$pg_port user=postgres dbname=postgres"
	echo "$pg_conninfo"
}

pg_cluster_stop() {
	_dir=$1
	_bin=$(pg_bindir)
	if [ -n "$_bin" ] && [ -f "$_dir/data/postmaster.pid" ]; then
		pg_as_user "$_bin/pg_ctl" -D "$_dir/data" -m immediate -w \
		    stop >/dev/null 2>&1
	fi
	rm -rf "$_dir"
}

# pg_cluster_for_test NAME DIR: for a test script: pg_cluster_start DIR,
# or exit 77 (skipped: mlpd built without libpq, per
# $builddir/autoconf.h, or PostgreSQL not installed) or 99 (it is
# installed but does not start). The caller stops it (pg_cluster_stop).
pg_cluster_for_test() {
	if ! grep -q '^#define MLPD_HAVE_PG 1' "${builddir:-.}/autoconf.h" \
	    2>/dev/null; then
		echo "$1: built without PostgreSQL (libpq): skipped"
		exit 77
	fi
	pg_cluster_start "$2" >/dev/null
	_rc=$?
	if [ $_rc -eq 77 ]; then
		echo "$1: PostgreSQL is not installed: skipped"
		exit 77
	fi
	[ $_rc -eq 0 ] || exit 99
}

# pg_cluster_down DIR / pg_cluster_up DIR: stop the server (fast
# shutdown: sessions are ended) and start it again on the same files,
# as a restart or a failover does.
pg_cluster_down() {
	pg_as_user "$(pg_bindir)/pg_ctl" -D "$1/data" -m fast -w stop \
	    >/dev/null 2>&1
}
pg_cluster_up() {
	pg_as_user "$(pg_bindir)/pg_ctl" -D "$1/data" -l "$1/server.log" \
	    -w -t 30 start >/dev/null 2>&1
}

# Run as a script (not sourced): the subcommands.
case ${0##*/} in
pg_cluster.sh)
	case ${1:-} in
	start) [ $# -eq 2 ] || exit 2; pg_cluster_start "$2"; exit $? ;;
	stop) [ $# -eq 2 ] || exit 2; pg_cluster_stop "$2"; exit $? ;;
	*) echo "usage: $0 start DIR | stop DIR" >&2; exit 2 ;;
	esac
	;;
esac
