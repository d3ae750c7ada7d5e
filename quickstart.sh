#!/bin/sh
# quickstart.sh: the two commands that open the README.
#
#   ./quickstart.sh serve   install what is missing, build when needed, run mlpd
#   ./quickstart.sh check   the same set-up plus the test-only packages
#                           (CHECK_PACKAGES), then make check
#   ./quickstart.sh cluster [--port N] [mlpd flags...]
#                           the serve set-up plus PostgreSQL and HAProxy,
#                           then a throwaway cluster: a PostgreSQL server,
#                           three mlpd nodes and HAProxy in front on
#                           127.0.0.1:N (default 8080), until Ctrl-C
#
# Packages come from Debian's archive. As root they are installed with
# apt-get; otherwise the exact command is printed and the script stops.
# Extra arguments after "serve" go to mlpd (e.g. --listen 127.0.0.1:9000).
set -eu

cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake libtool pkg-config \
libmicrohttpd-dev libjansson-dev libsqlite3-dev check libopenblas-dev \
libcurl4-openssl-dev curl libsleef-dev zlib1g-dev"
# oneDNN: its dnnl_sgemm runs the matrix products (core/gemm.c)
PACKAGES="$PACKAGES libdnnl-dev"
# libpq: --db may name a PostgreSQL database (several nodes, one database)
PACKAGES="$PACKAGES libpq-dev"
# only for "check": promtool (tests/metrics.sh) comes with prometheus
CHECK_PACKAGES="prometheus"
# groff (tests/manpage.sh), systemd-analyze (tests/service_unit.sh),
# PyYAML (tests/openapi_routes.sh)
CHECK_PACKAGES="$CHECK_PACKAGES groff-base systemd python3 python3-yaml"
# headless Chromium for the dashboard page (tests/browser.sh)
CHECK_PACKAGES="$CHECK_PACKAGES chromium"
# sqlite3 (the fault scripts check the database file), valgrind (CI's
# memcheck run of tests/e2e.sh)
CHECK_PACKAGES="$CHECK_PACKAGES sqlite3 valgrind"
# throwaway TLS certificates (tests/auth_tls.sh)
CHECK_PACKAGES="$CHECK_PACKAGES openssl"
# a throwaway PostgreSQL server (tests/pg_cluster.sh: initdb, pg_ctl) and
# HAProxy in front of several nodes
CHECK_PACKAGES="$CHECK_PACKAGES postgresql haproxy"
# ONNX files checked and evaluated node by node (tests/onnx.sh); NumPy
# (tests/onnx.sh, client_examples' .npy methods in tests/examples.sh)
CHECK_PACKAGES="$CHECK_PACKAGES python3-onnx python3-numpy"

usage() {
	echo "usage: $0 serve [mlpd flags...] | check |" \
	    "cluster [--port N] [mlpd flags...]" >&2
	exit 2
}

missing_packages() {
	for p in $PACKAGES; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$st" in
		*" installed") ;;
		*) printf '%s ' "$p" ;;
		esac
	done
}

install_packages() {
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "quickstart: not a Debian system; install the equivalents of:" >&2
		echo "  $PACKAGES" >&2
		exit 1
	fi
	miss=$(missing_packages)
	[ -z "$miss" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "quickstart: missing packages; run this, then try again:" >&2
		echo "  sudo apt-get update && sudo apt-get install -y $miss" >&2
		exit 1
	fi
	echo "quickstart: installing $miss" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $miss
}

# autoreconf/configure only when their outputs are missing or stale;
# make itself decides what to rebuild.
build() {
	if [ ! -x configure ] || [ configure.ac -nt configure ] ||
	   [ Makefile.am -nt configure ]; then
		autoreconf -fi
	fi
	if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
		./configure
	fi
	make -j"$(nproc 2>/dev/null || echo 2)"
}

# cluster [--port N] [mlpd flags...]: a PostgreSQL server
# (tests/pg_cluster.sh: initdb/pg_ctl as the postgres user when root, its
# socket in the temp directory), three nodes node1..node3 on free loopback
# ports, one database, and HAProxy with client_examples/cluster/haproxy.cfg
# on 127.0.0.1:N. Everything lives in one temp directory (the nodes' logs
# too); SIGINT or SIGTERM stops the nodes (SIGTERM: they checkpoint), then
# HAProxy and PostgreSQL, and removes the directory. MLPD=PATH runs that
# mlpd binary instead, with no package check or build (the tests do).
cluster() {
	lb_port=8080
	if [ "${1:-}" = --port ]; then
		[ $# -ge 2 ] || usage
		lb_port=$2
		shift 2
	fi
	for t in haproxy curl; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "quickstart: $t is missing (Debian: $t)" >&2
			exit 1
		fi
	done
	if [ ! -x "$cl_mlpd" ]; then
		echo "quickstart: $cl_mlpd was not built" >&2
		exit 1
	fi
	# shellcheck source=tests/pg_cluster.sh
	. ./tests/pg_cluster.sh
	cl_dir=$(mktemp -d "${TMPDIR:-/tmp}/mlpd-quickstart-cluster.XXXXXX")
	cl_pids=
	cl_lb=
	trap cluster_stop EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	echo "quickstart: cluster in $cl_dir" >&2
	if ! pg_cluster_start "$cl_dir/pg" >/dev/null; then
		echo "quickstart: PostgreSQL did not start" >&2
		exit 1
	fi
	for n in 1 2 3; do
		"$cl_mlpd" --listen 127.0.0.1:0 --db "$pg_conninfo" \
		    --node-id "node$n" "$@" 2>"$cl_dir/node$n.log" &
		cl_pids="$cl_pids $!"
		eval "cl_node$n=\$(cluster_listening $! \"\$cl_dir/node\$n.log\")" ||
		    exit 1
	done
	url=http://127.0.0.1:$lb_port
	if curl -sS --noproxy '*' -o /dev/null --max-time 2 "$url/" 2>/dev/null; then
		echo "quickstart: 127.0.0.1:$lb_port is in use (choose" \
		    "another with --port N)" >&2
		exit 1
	fi
	MLPD_LB_BIND=127.0.0.1:$lb_port MLPD_LB_HOST=127.0.0.1 \
	MLPD_NODE1=$cl_node1 MLPD_NODE2=$cl_node2 MLPD_NODE3=$cl_node3 \
	    haproxy -db -f client_examples/cluster/haproxy.cfg \
	    -p "$cl_dir/haproxy.pid" 2>"$cl_dir/haproxy.log" &
	cl_lb=$!
	i=0
	until curl -fsS --noproxy '*' -o /dev/null "$url/healthz" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge 100 ] || ! kill -0 "$cl_lb" 2>/dev/null; then
			echo "quickstart: HAProxy did not answer on $url:" >&2
			tail -n 5 "$cl_dir/haproxy.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "quickstart: nodes node1 $cl_node1, node2 $cl_node2," \
	    "node3 $cl_node3; PostgreSQL $pg_conninfo; logs in $cl_dir" >&2
	echo "mlpd cluster: $url/ (Ctrl-C stops it)"
	# a node or HAProxy that ends stops the whole cluster too
	while :; do
		for p in $cl_pids $cl_lb; do
			if ! kill -0 "$p" 2>/dev/null; then
				echo "quickstart: process $p ended; stopping" >&2
				exit 1
			fi
		done
		sleep 1 &
		wait $! || :
	done
}

# cluster_listening PID LOG: the address a node prints once it listens
# (20 s at most), or 1 with the end of its log.
cluster_listening() {
	_i=0
	while [ $_i -lt 200 ]; do
		_a=$(sed -n 's|^mlpd listening on http://\(127\.0\.0\.1:[0-9]*\)$|\1|p' "$2")
		if [ -n "$_a" ]; then
			echo "$_a"
			return 0
		fi
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "quickstart: a node did not start:" >&2
	tail -n 5 "$2" >&2
	return 1
}

# cluster_stop: SIGTERM to the nodes (SIGKILL after 30 s), then HAProxy,
# then PostgreSQL; the temp directory goes.
cluster_stop() {
	trap '' INT TERM
	for p in $cl_pids; do
		kill -TERM "$p" 2>/dev/null || :
	done
	for p in $cl_pids; do
		_i=0
		while kill -0 "$p" 2>/dev/null && [ $_i -lt 300 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$p" 2>/dev/null || :
		wait "$p" 2>/dev/null || :
	done
	if [ -n "$cl_lb" ]; then
		kill -TERM "$cl_lb" 2>/dev/null || :
		wait "$cl_lb" 2>/dev/null || :
	fi
	pg_cluster_stop "$cl_dir/pg"
	rm -rf "$cl_dir"
	echo "quickstart: cluster stopped" >&2
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
serve)
	install_packages
	build
	if [ -x server/mlpd ]; then
		exec server/mlpd "$@"
	fi
	echo "mlpd $(sed -n 's/^AC_INIT(\[mlpd\], \[\([^]]*\)\].*/\1/p' configure.ac): core built; the daemon is not in this version yet" >&2
	;;
cluster)
	cl_mlpd=${MLPD:-}
	if [ -z "$cl_mlpd" ]; then
		PACKAGES="$PACKAGES postgresql haproxy"
		install_packages
		build
		cl_mlpd=server/mlpd
	fi
	cluster "$@"
	;;
check)
	PACKAGES="$PACKAGES $CHECK_PACKAGES"
	install_packages
	build
	make -j"$(nproc 2>/dev/null || echo 2)" check
	;;
*)
	usage
	;;
esac
