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

. "$(dirname "$0")/lib.sh"
SRC=${srcdir:-$(dirname "$0")/..}
CLIENTS=${LOAD_CLIENTS:-64}
SECONDS_=${LOAD_SECONDS:-25}

require python3 "$MLPD"
lib_init load

# shellcheck disable=SC2086 # LOAD_MLPD_ARGS is a list of flags
if ! start_daemon "$tmp/load.db" --log-level warn ${LOAD_MLPD_ARGS:-}; then
	echo "load: mlpd did not start:" >&2
	cat "$tmp/mlpd.err" >&2
	exit 1
fi
url=$base
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
if grep -q -i -e ' error ' "$tmp/mlpd.err"; then
	bad "mlpd logged no error: $(grep -i -e ' error ' "$tmp/mlpd.err" |
	    head -3)"
else
	ok "mlpd logged no error"
fi
finish
