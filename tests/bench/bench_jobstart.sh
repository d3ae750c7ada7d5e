#!/bin/bash
# bench_jobstart.sh: how soon a train job takes its first step, and how
# much memory it holds, on a Fashion-MNIST-sized data set (60,000 rows of
# 784 inputs and 10 one-hot targets, synthetic, pushed as 60 .npy bodies
# of 1,000 rows to a [784,128,10] model on a file database).
#
# Per run it prints: the job start latency (from the POST .../train to the
# job's steps_done >= 1, polled every few ms, so it includes the POST and
# the polling), the daemon's own "first step N s after its start" log line
# when it writes one, and its resident set before the job and at its peak
# (VmHWM) after a 200-step job. Runs: the default --job-memory (the rows
# fit: in memory), and --job-memory 64 MB (streamed); BASELINE=another
# mlpd binary adds its default run from the same machine. A benchmark: it
# prints figures, never judges them (exit 1 only when mlpd misbehaves).
set -u

. "$(dirname "$0")/../lib.sh"
ROWS=${JOBSTART_ROWS:-60000}
BASELINE=${BASELINE:-}

for tool in curl python3; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "bench_jobstart: $tool missing; nothing measured"
		exit 0
	}
done
lib_init jobstart

# one .npy body of 1,000 rows: 784 inputs in [0, 1] then a one-hot target
python3 - "$tmp/rows.npy" <<'PY'
import array, struct, sys
n, nin, nout = 1000, 784, 10
a = array.array("f")
for i in range(n):
    a.extend(((i * 31 + j * 7) % 256) / 255.0 for j in range(nin))
    a.extend(1.0 if k == i % nout else 0.0 for k in range(nout))
if sys.byteorder != "little":
    a.byteswap()
h = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (
    n, nin + nout)
h += " " * (63 - (10 + len(h)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode())
    f.write(a.tobytes())
PY

now() { date +%s.%N; }

# run LABEL BINARY [FLAGS...]: one daemon, the rows, one job; prints.
run() {
	_label=$1
	MLPD=$2
	shift 2
	rm -f "$tmp/db" "$tmp/db-wal" "$tmp/db-shm"
	if ! start_daemon "$tmp/db" --max-body $((8 << 20)) "$@"; then
		echo "bench_jobstart: mlpd did not start: $(cat "$tmp/mlpd.err")"
		exit 1
	fi
	req POST /v1/models '{"layers":[784,128,10],"loss":"cross_entropy","activation":"relu","seed":7}'
	[ "$code" = 201 ] || { echo "model: $code $(cat "$tmp/body")"; exit 1; }
	m=$(jget id)
	_b=0
	while [ $_b -lt $((ROWS / 1000)) ]; do
		req POST "/v1/models/$m/batches" @"$tmp/rows.npy" application/x-npy
		[ "$code" = 201 ] || { echo "batch: $code $(cat "$tmp/body")"; exit 1; }
		_b=$((_b + 1))
	done
	_rss0=$(proc_kb VmRSS)
	_t0=$(now)
	req POST "/v1/models/$m/train" '{"steps":200,"batch_size":64}'
	[ "$code" = 202 ] || { echo "train: $code $(cat "$tmp/body")"; exit 1; }
	j=$(jget id)
	_tp=$(now)
	_i=0
	while [ $_i -lt 20000 ]; do
		_r=$(curl -s --noproxy '*' "$base/v1/jobs/$j")
		_d=$(printf '%s' "$_r" | grep -oE '"steps_done" *: *[0-9]+' |
		    grep -oE '[0-9]+$')
		[ "${_d:-0}" -ge 1 ] && break
		_i=$((_i + 1))
	done
	_t1=$(now)
	wait_job "$j" 120 succeeded || echo "job ended $job_status"
	_peak=$(proc_kb VmHWM)
	_log=$(sed -n 's/.*first step \([0-9.]*\) s after its start.*/\1/p' \
	    "$tmp/mlpd.err" | head -n 1)
	printf '%-34s start_latency=%.3f s (POST answered in %.3f s) first_step_log=%s s rss_before=%d MB peak_rss=%d MB\n' \
	    "$_label" "$(echo "$_t1 - $_t0" | bc -l)" \
	    "$(echo "$_tp - $_t0" | bc -l)" "${_log:-NA}" \
	    $((_rss0 / 1024)) $((_peak / 1024))
	[ -n "${JOBSTART_LOG:-}" ] && grep 'job ' "$tmp/mlpd.err"
	stop_term "stop" >/dev/null
}

echo "bench_jobstart: $ROWS rows of 784 inputs, [784,128,10], 200 steps of 64"
[ -n "$BASELINE" ] && run "baseline ($BASELINE)" "$BASELINE"
run "default --job-memory (in memory)" "${builddir:-.}/server/mlpd"
run "--job-memory 64 MB (streamed)" "${builddir:-.}/server/mlpd" \
    --job-memory $((64 << 20))
exit 0
