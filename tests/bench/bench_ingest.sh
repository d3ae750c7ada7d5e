#!/bin/bash
# bench_ingest.sh: what each body format costs through mlpd's HTTP server:
# ingest MB/s and rows/s, predict rows/s, and the daemon's peak RSS for a
# 64 MB JSON body. bench_http.sh runs it; it also runs alone:
#
#   MLPD=server/mlpd [BASELINE=/path/to/other/mlpd] tests/bench/bench_ingest.sh
#
# With BASELINE set, the same prepared bodies go to both binaries in the
# same run (e.g. main's build next to a branch's), one after the other.
#
# Bodies (prepared before anything is timed, by python3 with numpy, from
# Fashion-MNIST-shaped random data: 784 pixels k/255, half of them 0, and
# 10 one-hot targets, for a [784, 128, 10] model):
#   - ingest: 10,000 rows as 10 bodies of 1,000 rows in each format: JSON
#     (Python's json.dumps of the floats, as fashion_mnist.py --format json
#     sends them), CSV (9 significant digits), .npy (float32 rows of
#     inputs then targets) and .npz (np.savez of inputs and targets),
#     POSTed to /batches on a file database; only the POSTs are timed
#     (curl's time_total), and the daemon's CPU time (utime + stime of
#     /proc/PID/stat, all its threads) over the 10 POSTs is printed per
#     POST: a figure the machine's load does not change much;
#   - predict: one 10,000-row request per format (JSON in and out, CSV in
#     and out, .npy in and out; the JSON and CSV values with 9 significant
#     digits), best of 3;
#   - peak RSS: VmHWM of a fresh daemon (:memory:) after one batch body of
#     ~64 MB of JSON (6,500 rows), next to its VmHWM before the POST;
#   - the decoders alone, in process (tests/bench/bench_decode, when
#     built), on the first 1,000-row JSON, CSV and .npy bodies: MB/s and
#     rows/s, with jansson's tree decode of the same JSON body (the path
#     before matjson) as the same-run baseline, and their ratio.
# A format a binary does not take (415) prints n/a. It prints, never
# judges; it exits 0 when python3 with numpy or curl is missing.
set -u

. "$(dirname "$0")/../lib.sh"
ROWS=10000
CHUNK=1000

py=$(numpy_python)
if [ -z "$py" ] || ! command -v curl >/dev/null 2>&1; then
	echo "bench_ingest: python3 with numpy and curl are needed (Debian: python3-numpy curl); nothing measured"
	exit 0
fi
lib_init bench_ingest

echo "bench_ingest: preparing bodies ($ROWS rows per format, and a 64 MB JSON body)"
"$py" - "$tmp" "$ROWS" "$CHUNK" <<'EOF' || { echo "bench_ingest: could not prepare the bodies" >&2; exit 1; }
import io, json, os, sys
import numpy as np

out, rows, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(1)
pix = rng.integers(0, 256, (rows, 784))
pix[rng.random((rows, 784)) < 0.5] = 0
x = pix / 255.0
y = np.eye(10)[rng.integers(0, 10, rows)]
os.makedirs(f"{out}/in", exist_ok=True)
csvfmt = lambda a: "\n".join(",".join(format(v, ".9g") for v in r) for r in a) + "\n"
for i in range(0, rows, chunk):
    xs, ys = x[i:i + chunk], y[i:i + chunk]
    k = i // chunk
    with open(f"{out}/in/json_{k:02d}", "w") as f:
        json.dump({"inputs": xs.tolist(), "targets": ys.tolist()}, f,
                  separators=(",", ":"))
    with open(f"{out}/in/csv_{k:02d}", "w") as f:
        f.write(csvfmt(np.hstack([xs, ys])))
    with open(f"{out}/in/npy_{k:02d}", "wb") as f:
        np.save(f, np.hstack([xs, ys]).astype("<f4"))
    b = io.BytesIO()
    np.savez(b, inputs=xs.astype("<f4"), targets=ys.astype("<f4"))
    with open(f"{out}/in/npz_{k:02d}", "wb") as f:
        f.write(b.getvalue())
# the 10,000 predict rows with 9 digits, as the CSV ones (Python's
# 17-digit floats would pass the 64 MiB body cap)
with open(f"{out}/pred.json", "w") as f:
    f.write('{"inputs":[' + ",".join("[" + ",".join(format(v, ".9g")
            for v in r) + "]" for r in x) + "]}")
with open(f"{out}/pred.csv", "w") as f:
    f.write(csvfmt(x))
with open(f"{out}/pred.npy", "wb") as f:
    np.save(f, x.astype("<f4"))
# ~64 MB of JSON: rows repeated until just under the 64 MiB body cap
body = json.dumps({"inputs": x[:1000].tolist(), "targets": y[:1000].tolist()},
                  separators=(",", ":"))
per = len(body) / 1000
n = int((64 * 1024 * 1024 - 4096) / per)
xs = np.vstack([x] * (n // rows + 1))[:n]
ys = np.vstack([y] * (n // rows + 1))[:n]
with open(f"{out}/big.json", "w") as f:
    json.dump({"inputs": xs.tolist(), "targets": ys.tolist()}, f,
              separators=(",", ":"))
with open(f"{out}/big.rows", "w") as f:
    f.write(str(n))
EOF

HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# cpu_ticks: utime + stime of the daemon $pid so far, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0
}

# post_time PATH TYPE FILE [ACCEPT]: "STATUS SECONDS" of one POST.
post_time() {
	curl -sS --noproxy '*' -o "$tmp/answer" -w '%{http_code} %{time_total}' \
	    -X POST -H "Content-Type: $2" ${4:+-H "Accept: $4"} \
	    --data-binary "@$3" "$base$1"
}

# bench_one LABEL BINARY: every figure for one mlpd binary.
bench_one() {
	local label=$1 bin=$2 MLPD=$2
	start_daemon "$tmp/db_$label.sqlite" --log-level warn || {
		echo "bench_ingest: $bin did not start: $(cat "$tmp/mlpd.err")" >&2
		return 1
	}
	echo "$label: $bin"
	for fmt in json csv npy npz; do
		case $fmt in
		json) ct=application/json ;;
		csv) ct=text/csv ;;
		npy) ct=application/x-npy ;;
		npz) ct=application/x-npz ;;
		esac
		model=$(curl -sS --noproxy '*' -X POST -H 'Content-Type: application/json' \
		    --data-binary '{"layers":[784,128,10],"seed":1}' "$base/v1/models" |
		    jget id /dev/stdin)
		secs=0
		bytes=0
		status=201
		cpu0=$(cpu_ticks)
		for f in "$tmp/in/${fmt}_"*; do
			set -- $(post_time "/v1/models/$model/batches" "$ct" "$f")
			if [ "$1" != 201 ]; then
				status=$1
				break
			fi
			secs=$(awk -v a="$secs" -v b="$2" 'BEGIN { print a + b }')
			bytes=$((bytes + $(wc -c <"$f")))
		done
		if [ "$status" != 201 ]; then
			printf '  ingest  %-5s n/a (%s: %s)\n' "$fmt" "$status" \
			    "$(head -c 120 "$tmp/answer")"
			continue
		fi
		cpu1=$(cpu_ticks)
		awk -v b="$bytes" -v s="$secs" -v r="$ROWS" -v f="$fmt" \
		    -v c=$((cpu1 - cpu0)) -v hz="$HZ" -v p=$((ROWS / CHUNK)) 'BEGIN {
			printf "  ingest  %-5s %8.1f MB/s %9.0f rows/s  (%.1f MB in %.3f s; daemon CPU %.0f ms/POST)\n",
			    f, b / s / 1e6, r / s, b / 1e6, s, c * 1000 / hz / p }'
	done
	for fmt in json csv npy; do
		case $fmt in
		json) ct=application/json ;;
		csv) ct=text/csv ;;
		npy) ct=application/x-npy ;;
		esac
		best=
		for _ in 1 2 3; do
			set -- $(post_time "/v1/models/$model/predict" "$ct" \
			    "$tmp/pred.$fmt" "$ct")
			[ "$1" = 200 ] || break
			best=$(awk -v a="${best:-1e9}" -v b="$2" 'BEGIN { print (b < a) ? b : a }')
		done
		if [ "$1" != 200 ]; then
			printf '  predict %-5s n/a (%s: %s)\n' "$fmt" "$1" \
			    "$(head -c 120 "$tmp/answer")"
			continue
		fi
		awk -v s="$best" -v r="$ROWS" -v f="$fmt" -v b="$(wc -c <"$tmp/pred.$fmt")" 'BEGIN {
			printf "  predict %-5s %8.0f rows/s  (%d rows, %.1f MB in, %.3f s)\n",
			    f, r / s, r, b / 1e6, s }'
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
	# peak RSS for one ~64 MB JSON body, on a fresh daemon
	start_daemon :memory: --log-level warn || return 1
	model=$(curl -sS --noproxy '*' -X POST -H 'Content-Type: application/json' \
	    --data-binary '{"layers":[784,128,10],"seed":1}' "$base/v1/models" |
	    jget id /dev/stdin)
	before=$(proc_kb VmHWM)
	set -- $(post_time "/v1/models/$model/batches" application/json "$tmp/big.json")
	after=$(proc_kb VmHWM)
	awk -v b="$before" -v a="$after" -v st="$1" -v s="$2" \
	    -v sz="$(wc -c <"$tmp/big.json")" -v r="$(cat "$tmp/big.rows")" 'BEGIN {
		printf "  rss     64MB-json peak %.0f MB (%.0f MB before; %d rows, %.1f MB body, answer %s in %.2f s)\n",
		    a / 1024, b / 1024, r, sz / 1e6, st, s }'
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}

if [ -n "${BASELINE:-}" ]; then
	bench_one baseline "$BASELINE"
fi
bench_one mlpd "$MLPD"

BENCH_DECODE=${BENCH_DECODE:-${builddir:-.}/tests/bench/bench_decode}
if [ -x "$BENCH_DECODE" ]; then
	echo "decoders in process ($BENCH_DECODE):"
	"$BENCH_DECODE" 784 10 "$tmp/in/json_00" "$tmp/in/csv_00" \
	    "$tmp/in/npy_00" || echo "bench_ingest: bench_decode failed"
else
	echo "decoders in process: $BENCH_DECODE not built (make tests/bench/bench_decode)"
fi
