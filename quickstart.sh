#!/bin/sh
# quickstart.sh: the two commands that open the README.
#
#   ./quickstart.sh serve   install what is missing, build when needed, run mlpd
#   ./quickstart.sh check   the same set-up plus the test-only packages
#                           (CHECK_PACKAGES), then make check
#
# Packages come from Debian's archive. As root they are installed with
# apt-get; otherwise the exact command is printed and the script stops.
# Extra arguments after "serve" go to mlpd (e.g. --listen 127.0.0.1:9000).
set -eu

cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake libtool pkg-config \
libmicrohttpd-dev libjansson-dev libsqlite3-dev check libopenblas-dev \
libcurl4-openssl-dev curl libsleef-dev zlib1g-dev"
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
	echo "usage: $0 serve [mlpd flags...] | check" >&2
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
