#!/bin/bash
# bench_daemon_train.sh: training through the daemon next to bench_core on
# the same net, in the same run (issue 11: the daemon should keep >= 0.9 of
# bench_core on a 20,000-step job, its start included).
#
#   [MLPD=server/mlpd] [BENCH_CORE=tests/bench/bench_core] \
#   [STEPS=20000] tests/bench/bench_daemon_train.sh
#
# The 60,000 Fashion-MNIST training rows (pixels / 255, one-hot labels,
# as bench_core loads them; random rows of that shape when the Debian
# package dataset-fashion-mnist is missing) are pushed as .npy bodies to a
# [784,128,10] sigmoid/mse/sgd (lr 0.1, seed 1) model on a file database
# before anything is timed. Then, twice in turn:
#   - core: bench_core --seconds 3 (no FANN, no PyTorch): its median
#     samples/s on consecutive minibatches of 64;
#   - daemon: POST /v1/models/ID/train {"steps":STEPS,"batch_size":64}
#     with "shuffle": false (bench_core's order: the ratio is the daemon's
#     own cost) and then with the default reshuffling; the time runs from
#     just before the POST to the job's finished_at (its start, loading
#     the rows from SQLite, every checkpoint and loss row included), and
#     the job's own started_at..finished_at is shown beside it.
# On a machine shared with other work, wall rates of runs taken one after
# the other move with the load; each side's samples per second of its own
# CPU time (the daemon's whole process from /proc, all its threads, against
# bench_core's samples_per_cpu_s) do much less, so both ratios are given.
# It prints each figure and, as its last line,
#   daemon_samples_per_s=N shuffled_samples_per_s=N core_samples_per_s=N
#   daemon_ratio=N shuffled_ratio=N daemon_cpu_ratio=N shuffled_cpu_ratio=N
#   start_ms=N
# (medians of the rounds; core is the median of its runs). It measures
# and never judges; it exits 0 with a note when python3 with numpy or curl
# is missing, and non-zero only when mlpd misbehaves.
set -u

. "$(dirname "$0")/../lib.sh"
BENCH_CORE=${BENCH_CORE:-${builddir:-.}/tests/bench/bench_core}
DATASET=${DATASET:-/usr/share/datasets/fashion-mnist}
STEPS=${STEPS:-20000}
ROUNDS=2

py=$(numpy_python)
if [ -z "$py" ] || ! command -v curl >/dev/null 2>&1; then
	echo "bench_daemon_train: python3 with numpy and curl are needed (Debian: python3-numpy curl); nothing measured"
	exit 0
fi
for t in "$MLPD" "$BENCH_CORE"; do
	if [ ! -x "$t" ]; then
		echo "bench_daemon_train: $t is not an executable (set MLPD, BENCH_CORE or builddir)" >&2
		exit 1
	fi
done
lib_init bench_daemon_train

die() {
	echo "bench_daemon_train: $*" >&2
	exit 1
}

# now_ms: the wall clock in milliseconds, as the job's times are.
now_ms() {
	date +%s%3N
}

# cpu_ticks: user + system clock ticks of the daemon so far.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$pid/stat"
}
HZ=$(getconf CLK_TCK)

# median: the median of the numbers on stdin, one a line.
median() {
	sort -g | awk '{ v[NR] = $1 } END {
	    if (NR == 0) { print "NA"; exit }
	    if (NR % 2) print v[(NR + 1) / 2]
	    else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "bench_daemon_train: $MLPD, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" - "$DATASET" "$tmp" <<'PY' || die "could not prepare the bodies"
import gzip, os, sys
import numpy as np

src, out = sys.argv[1], sys.argv[2]
try:
    with gzip.open(os.path.join(src, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(src, "train-labels-idx1-ubyte.gz")) as f:
        lab = np.frombuffer(f.read(), np.uint8, offset=8)
    what = "Fashion-MNIST from " + src
except OSError:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (60000, 784)).astype(np.uint8)
    lab = rng.integers(0, 10, 60000)
    what = "random rows of Fashion-MNIST's shape"
x = x.astype(np.float32) / np.float32(255)
y = np.eye(10, dtype=np.float32)[lab]
for k in range(0, len(x), 10000):
    with open(os.path.join(out, "rows_%02d.npy" % (k // 10000)), "wb") as f:
        np.save(f, np.hstack([x[k:k + 10000], y[k:k + 10000]]).astype("<f4"))
print("data: %s, %d rows" % (what, len(x)))
PY

start_daemon "$tmp/bench.db" --log-level warn ||
    die "mlpd did not start: $(cat "$tmp/mlpd.err")"
req POST /v1/models '{"name":"fashion","layers":[784,128,10],"activation":"sigmoid","loss":"mse","optimizer":"sgd","learning_rate":0.1,"seed":1}'
model=$(jget id)
[ "$code" = 201 ] && [ -n "$model" ] || die "could not create the model: HTTP $code"
for f in "$tmp"/rows_*.npy; do
	req POST "/v1/models/$model/batches" "@$f" application/x-npy
	[ "$code" = 201 ] || die "POST $(basename "$f") got $code: $(head -c 300 "$tmp/body")"
done
echo "pushed: $(ls "$tmp"/rows_*.npy | wc -l) .npy bodies to model $model"

# wait_quietly JOB: polls the job once a second with one curl and no other
# process until it ends (its answer left in $tmp/body); dies unless it
# succeeded. The timing comes from the job's finished_at, not from here;
# polling fast with a pipeline of tools per poll took a good share of the
# CPU the scheduler gives this session (autogroup) from the trainer.
wait_quietly() {
	local i body
	for i in $(seq 1200); do
		sleep 1
		curl -sS --noproxy '*' -o "$tmp/body" "$base/v1/jobs/$1" || true
		body=$(<"$tmp/body")
		case $body in
		*'"status":"succeeded"'* | *'"status": "succeeded"'*) return 0 ;;
		*'"status":"'[fci]* | *'"status": "'[fci]*) break ;;
		esac
	done
	die "job $1 did not succeed: $(head -c 300 "$tmp/body")"
}

# train SHUFFLE: one job of STEPS steps; appends its samples/s to
# $tmp/sps_SHUFFLE and the POST-to-start milliseconds to $tmp/start.
train() {
	c_post=$(cpu_ticks)
	t_post=$(now_ms)
	req POST "/v1/models/$model/train" \
	    "{\"steps\":$STEPS,\"batch_size\":64,\"shuffle\":$1}"
	job=$(jget id)
	[ "$code" = 201 ] || [ "$code" = 202 ] || die "train got $code: $(head -c 300 "$tmp/body")"
	wait_quietly "$job"
	c_end=$(cpu_ticks)
	t0=$(ms_of "$(jget started_at)")
	t1=$(ms_of "$(jget finished_at)")
	steps=$(jget steps_done)
	cpu=$(awk -v c=$((c_end - c_post)) -v hz="$HZ" 'BEGIN { print c / hz }')
	awk -v n="$steps" -v ms=$((t1 - t_post)) -v run=$((t1 - t0)) \
	    -v st=$((t0 - t_post)) -v s="$1" -v cpu="$cpu" 'BEGIN {
	    printf "  daemon, shuffle %-5s: %d steps in %.3f s from the POST (job started %d ms after it, ran %.3f s): %.0f samples/s; %.2f s of CPU: %.0f per CPU second\n",
		s, n, ms / 1000, st, run / 1000, n * 64 / (ms / 1000), cpu, n * 64 / cpu }'
	awk -v n="$steps" -v ms=$((t1 - t_post)) \
	    'BEGIN { printf "%.0f\n", n * 64 / (ms / 1000) }' >>"$tmp/sps_$1"
	awk -v n="$steps" -v cpu="$cpu" \
	    'BEGIN { printf "%.0f\n", n * 64 / cpu }' >>"$tmp/cps_$1"
	echo $((t0 - t_post)) >>"$tmp/start"
}

# ms_of TIME: an RFC 3339 time as milliseconds since the epoch.
ms_of() {
	date -u -d "$1" +%s%3N
}

core() {
	"$BENCH_CORE" --seconds 3 --fann-seconds 0 --torch-seconds 0 \
	    >"$tmp/core.out" 2>&1 || die "bench_core failed: $(tail -n 3 "$tmp/core.out")"
	c=$(tail -n 1 "$tmp/core.out" | sed -n 's/^samples_per_s=\([0-9]*\) .*/\1/p')
	cc=$(tail -n 1 "$tmp/core.out" | sed -n 's/.* samples_per_cpu_s=\([0-9]*\).*/\1/p')
	echo "  bench_core: $(grep '^mlpd' "$tmp/core.out" | sed 's/^mlpd *: //')"
	echo "$c" >>"$tmp/core"
	echo "$cc" >>"$tmp/core_cpu"
}

echo "train: [784,128,10] sigmoid/mse/sgd lr 0.1, $STEPS steps of batch 64, $ROUNDS rounds"
for r in $(seq $ROUNDS); do
	core
	train false
	train true
done
core

d=$(median <"$tmp/sps_false")
s=$(median <"$tmp/sps_true")
c=$(median <"$tmp/core")
st=$(median <"$tmp/start")
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'
}
dr=$(ratio "$d" "$c")
sr=$(ratio "$s" "$c")
cc=$(median <"$tmp/core_cpu")
dcr=$(ratio "$(median <"$tmp/cps_false")" "$cc")
scr=$(ratio "$(median <"$tmp/cps_true")" "$cc")
echo "daemon/core: $dr unshuffled, $sr shuffled; per CPU second $dcr unshuffled, $scr shuffled (target 0.9; load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "daemon_samples_per_s=$d shuffled_samples_per_s=$s core_samples_per_s=$c daemon_ratio=$dr shuffled_ratio=$sr daemon_cpu_ratio=$dcr shuffled_cpu_ratio=$scr start_ms=$st"
