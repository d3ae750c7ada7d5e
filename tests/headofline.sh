#!/bin/sh
# headofline.sh: slow requests never delay unrelated fast ones (issue 8).
#
# mlpd runs with one HTTP thread and one trainer on a database file.
# tests/load/headofline.py then loads it with a long training job on one
# model, a /step loop on a second, and a SQLite write lock that it holds
# itself (another process, to mlpd) for 3 s, so that each /step waits for
# the lock; meanwhile /healthz and predictions on a third model must all
# be answered, each in under a second (a generous bound: the benchmark,
# make bench-http, prints the real figures), and the /step calls must
# have waited (the load was real). Before the request workers, /healthz
# waited behind the /step holding the only HTTP thread.
set -u

. "${srcdir:-$(dirname "$0")/..}/tests/lib.sh"
lib_init headofline

need_tools python3 curl "$MLPD"
start "$tmp/hol.db" --http-threads 1 --trainers 1
if python3 "${srcdir:-$(dirname "$0")/..}/tests/load/headofline.py" \
    --check --port "${base##*:}" --db "$tmp/hol.db" >"$tmp/hol.out" 2>&1; then
	ok "fast requests under a mixed slow load"
else
	bad "fast requests under a mixed slow load" "see below"
fi
cat "$tmp/hol.out"
stop_term "mlpd exits 0 on SIGTERM after the mixed load"
finish
