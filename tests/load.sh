#!/bin/sh
# load.sh: 64 clients at once against a real mlpd, bounded to a minute.
#
# Starts mlpd on a free port of 127.0.0.1 with a database file in a
# temporary directory (the durable path: WAL, synchronous=FULL) and runs
# tests/load/load.py against it: each client creates models, pushes
# batches, trains, predicts, polls the job and the loss history, reads the
# batches back and deletes every other model. It checks that no request
# got a 5xx but a documented 503 (retried as Retry-After says), that no
# batch that got a 201 is missing afterwards, and that the daemon's
# resident memory and open descriptors come back to their level after a
# warm-up once every model is deleted; it prints req/s and latency
# percentiles per endpoint. Not part of `make check` (it needs the CPU for
# a minute); .ci/run runs it. Environment: LOAD_CLIENTS (64),
# LOAD_SECONDS (25), LOAD_ARGS (more load.py flags), LOAD_MLPD_ARGS (more
# mlpd flags), MLPD.
# The last line is "N passed, M failed"; exit status 0 only when M is 0.
set -u

MLPD=${MLPD:-${builddir:-.}/server/mlpd}
SRC=${srcdir:-$(dirname "$0")/..}
CLIENTS=${LOAD_CLIENTS:-64}
SECONDS_=${LOAD_SECONDS:-25}

if [ ! -x "$MLPD" ]; then
	echo "load: $MLPD is not an executable (set MLPD or builddir)" >&2
	exit 99
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "load: python3 not found" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mlpd-load.XXXXXX") || exit 99
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# shellcheck disable=SC2086 # LOAD_MLPD_ARGS is a list of flags
"$MLPD" --listen 127.0.0.1:0 --db "$tmp/load.db" --log-level warn \
    ${LOAD_MLPD_ARGS:-} 2>"$tmp/mlpd.log" &
pid=$!
url=
i=0
while [ $i -lt 100 ]; do
	url=$(sed -n 's/.*mlpd listening on \(http:[^ ]*\).*/\1/p' \
	    "$tmp/mlpd.log")
	[ -n "$url" ] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$url" ]; then
	echo "load: mlpd did not start:" >&2
	cat "$tmp/mlpd.log" >&2
	exit 1
fi
echo "load: mlpd $pid at $url, $CLIENTS clients for $SECONDS_ s"

# shellcheck disable=SC2086 # LOAD_ARGS is a list of flags
python3 "$SRC/tests/load/load.py" --url "$url" --pid "$pid" \
    --clients "$CLIENTS" --seconds "$SECONDS_" ${LOAD_ARGS:-} \
    >"$tmp/load.out"
st=$?
# load.py's report without its summary line, which is redone below
sed '$d' "$tmp/load.out"
passed=$(tail -n 1 "$tmp/load.out" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
failed=$(tail -n 1 "$tmp/load.out" | sed -n 's/.* \([0-9]*\) failed$/\1/p')
if [ -z "$passed" ] || [ -z "$failed" ]; then
	echo "FAIL: load.py ended without a summary (status $st)"
	passed=0
	failed=1
fi
ok() {
	passed=$((passed + 1))
	echo "ok: $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL: $1"
}

# the daemon must still be there, and stop cleanly
if kill -0 "$pid" 2>/dev/null; then
	kill "$pid"
	wait "$pid"
	rc=$?
	pid=
	if [ "$rc" -eq 0 ]; then
		ok "mlpd stops with status 0 after the load"
	else
		bad "mlpd stops with status 0 after the load (status $rc)"
	fi
else
	bad "mlpd survived the load"
fi
if grep -q -i -e ' error ' "$tmp/mlpd.log"; then
	bad "mlpd logged no error: $(grep -i -e ' error ' "$tmp/mlpd.log" |
	    head -3)"
else
	ok "mlpd logged no error"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
