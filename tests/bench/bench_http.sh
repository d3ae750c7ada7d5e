#!/bin/bash
# bench_http.sh: how fast mlpd answers over HTTP, next to nginx serving a
# static file, plus ingest and training throughput through the daemon.
#
# Measures, all on 127.0.0.1:
#   - predict: mlpd (--db :memory:) with a [2,4,1] model under
#     `wrk -t2 -c64 -d5s --latency`, every request a POST of
#     {"input":[0.5,0.25]} to /v1/models/ID/predict;
#   - nginx: the same wrk load against nginx serving a static file that
#     holds a copy of mlpd's predict answer (same body size); POSTs to a
#     static file are answered 405 by nginx, so error_page turns them into
#     200 with the file. The ratio mlpd/nginx is a yardstick, not a goal;
#   - ingest (when /usr/share/datasets/fashion-mnist exists and python3 is
#     there): the 60,000 training rows, prepared as 60 JSON bodies of 1,000
#     rows beforehand, POSTed to /batches of a [784,128,10] model on a file
#     database (the durable path); only the POSTs are timed (curl's
#     time_total), giving MB/s and rows/s;
#   - training through the daemon: a job of BENCH_TRAIN_STEPS (default
#     2000) steps of batch 64 over those rows; samples/s =
#     steps_done * 64 / (finished_at - started_at), loading the rows
#     included. Once with "shuffle": false (bench_core's consecutive
#     minibatches: the ratio to bench_core is the daemon's overhead), once
#     with the default reshuffling (gathering random rows costs extra);
#   - per format (tests/bench/bench_ingest.sh, run first; it needs only
#     curl and python3-numpy): JSON, CSV, .npy and .npz ingest MB/s and
#     rows/s, predict rows/s for 10,000-row requests in JSON, CSV and .npy,
#     and the daemon's peak RSS for a 64 MB JSON body (BASELINE=another
#     mlpd binary adds its figures from the same run), then the decoders
#     in process beside jansson's tree decode of the same JSON body;
#   - job start (tests/bench/bench_jobstart.sh, run second): the time from
#     POST .../train to the first step on 60,000 rows of 784 inputs, and
#     the peak resident set, in memory and streamed (--job-memory 64 MB);
#   - head-of-line (tests/load/headofline.py): p50/p99/max of /healthz and
#     predict alone, then next to a training job, a /step loop and a 3 s
#     database write lock held by another process, with one HTTP thread.
# It prints a short report and, as its last line,
#   predict_rps=N nginx_rps=N ratio=N ingest_rows_per_s=N train_samples_per_s=N
#   core_samples_per_s=N train_ratio=N shuffled_samples_per_s=N
#   hol_healthz_p99_ms=N hol_predict_p99_ms=N
# where core_samples_per_s and train_ratio come from tests/bench/bench_core run right after, on
# the same net and data, so the daemon's training share is a same-run ratio.
# (NA where a part could not run). A benchmark measures and never judges:
# it installs nothing, prints what is missing and exits 0 when wrk, nginx
# or curl are absent, and exits non-zero only when mlpd itself misbehaves.
set -u

. "$(dirname "$0")/../lib.sh"
BENCH_CORE=${BENCH_CORE:-${builddir:-.}/tests/bench/bench_core}
DATASET=${DATASET:-/usr/share/datasets/fashion-mnist}
BENCH_TRAIN_STEPS=${BENCH_TRAIN_STEPS:-2000}
WRK_ARGS=(-t2 -c64 -d5s --latency)

bash "$(dirname "$0")/bench_ingest.sh" ||
    echo "bench_http: bench_ingest.sh failed (see above)"
bash "$(dirname "$0")/bench_jobstart.sh" ||
    echo "bench_http: bench_jobstart.sh failed (see above)"

missing=
for tool in curl wrk nginx; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	echo "bench_http: missing:$missing (Debian: apt-get install curl wrk nginx-light); nothing measured"
	exit 0
fi
if [ ! -x "$MLPD" ]; then
	echo "bench_http: $MLPD is not an executable (set MLPD or builddir)" >&2
	exit 1
fi

lib_init bench
# nginx workers may run as another user: they must reach the static file.
chmod 755 "$tmp"
nginx_pid=
cleanup_extra='[ -n "$nginx_pid" ] && kill -9 "$nginx_pid" 2>/dev/null'

die() {
	echo "bench_http: $*" >&2
	exit 1
}

# start_mlpd DB [FLAGS...]: run mlpd on a free port (lib.sh); sets pid
# and base.
start_mlpd() {
	start_daemon "$1" --log-level warn "${@:2}" ||
	    die "mlpd did not start: $(cat "$tmp/mlpd.err")"
}

stop_mlpd() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}

# post PATH BODY: POST JSON, print the answer; fail on any HTTP error.
post() {
	curl -sS --fail-with-body --noproxy '*' -X POST \
	    -H 'Content-Type: application/json' --data-binary "$2" "$base$1"
}

# field NAME: the first scalar value of "NAME" in the JSON on stdin.
field() {
	jget "$1" /dev/stdin
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
		return
	fi
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

# run_wrk NAME URL: the wrk load; sets rps and p99 (ms) from its report.
run_wrk() {
	wrk "${WRK_ARGS[@]}" -s "$tmp/predict.lua" "$2" >"$tmp/wrk_$1.txt" 2>&1 ||
	    die "wrk against $1 failed: $(cat "$tmp/wrk_$1.txt")"
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk_$1.txt")
	p99=$(awk '$1 == "99%" {
		v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1
		printf "%.3f", v * f }' "$tmp/wrk_$1.txt")
	local errs
	errs=$(grep -E 'Non-2xx|Socket errors' "$tmp/wrk_$1.txt")
	[ -z "$errs" ] || echo "  warning ($1): $errs"
	printf '  %-6s %10s req/s   p99 %s ms\n' "$1" "$rps" "$p99"
}

# ms_of TIME: an RFC 3339 time as milliseconds since the epoch.
ms_of() {
	date -u -d "$1" +%s%3N
}

echo "bench_http: $MLPD, $(nproc) cores, wrk ${WRK_ARGS[*]}"

# ---------------------------------------------------------------------------
# predict under load: mlpd, then nginx with a body of the same size
# ---------------------------------------------------------------------------
start_mlpd :memory:
model=$(post /v1/models '{"layers":[2,4,1],"seed":1}' | field id)
[ -n "$model" ] || die "could not create the [2,4,1] model"
post "/v1/models/$model/predict" '{"input":[0.5,0.25]}' >"$tmp/answer.json" ||
    die "predict failed: $(cat "$tmp/answer.json")"
size=$(wc -c <"$tmp/answer.json")

cat >"$tmp/predict.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"input":[0.5,0.25]}'
wrk.headers["Content-Type"] = "application/json"
EOF

echo "predict: POST {\"input\":[0.5,0.25]}, answer $size bytes"
run_wrk mlpd "$base/v1/models/$model/predict"
mlpd_rps=$rps
stop_mlpd

mkdir -p "$tmp/www" "$tmp/nginx"
chmod 755 "$tmp/www"
cp "$tmp/answer.json" "$tmp/www/predict"
chmod 644 "$tmp/www/predict"
nport=$(free_port)
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	# nginx at its best for this load: connections are never closed after
	# 1000 requests (its default) and the file stays open between requests
	keepalive_requests 1000000;
	open_file_cache max=16;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	server {
		listen 127.0.0.1:$nport;
		root $tmp/www;
		default_type application/json;
		# the static module answers POST with 405: serve the file instead
		error_page 405 =200 \$uri;
	}
}
EOF
nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" &
nginx_pid=$!
nbody=
for _ in $(seq 50); do
	nbody=$(curl -s --noproxy '*' -X POST -H 'Content-Type: application/json' \
	    --data-binary '{"input":[0.5,0.25]}' "http://127.0.0.1:$nport/predict") &&
	    [ -n "$nbody" ] && break
	sleep 0.1
done
if [ "$nbody" = "$(cat "$tmp/answer.json")" ]; then
	run_wrk nginx "http://127.0.0.1:$nport/predict"
	nginx_rps=$rps
	ratio=$(awk -v a="$mlpd_rps" -v b="$nginx_rps" 'BEGIN { printf "%.3f", a / b }')
	echo "  ratio mlpd/nginx: $ratio"
else
	echo "  nginx did not serve the file: $(cat "$tmp/nginx/error.log" 2>/dev/null)"
	nginx_rps=NA
	ratio=NA
fi
kill -TERM "$nginx_pid" 2>/dev/null
wait "$nginx_pid" 2>/dev/null
nginx_pid=

# ---------------------------------------------------------------------------
# ingest and training: Fashion-MNIST through the API, on a file database
# ---------------------------------------------------------------------------
ingest_rps=NA
train_sps=NA
train_shuffled_sps=NA
if [ ! -d "$DATASET" ] || ! command -v python3 >/dev/null 2>&1; then
	echo "ingest/train: skipped ($DATASET or python3 missing;" \
	    "Debian: dataset-fashion-mnist, python3)"
else
	echo "ingest: preparing 60 JSON bodies of 1,000 rows from $DATASET"
	python3 - "$DATASET" "$tmp/batches" <<'EOF' || die "could not prepare the bodies"
# Fashion-MNIST idx files -> batch_NN.json, inputs pixel/255, one-hot targets.
import gzip, os, struct, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
with gzip.open(os.path.join(src, "train-images-idx3-ubyte.gz")) as f:
    magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
    assert magic == 2051
    pixels = f.read(n * rows * cols)
with gzip.open(os.path.join(src, "train-labels-idx1-ubyte.gz")) as f:
    magic, m = struct.unpack(">II", f.read(8))
    assert magic == 2049 and m == n
    labels = f.read(n)
width = rows * cols
text = ["%.4g" % (v / 255) for v in range(256)]
onehot = ["[" + ",".join("1" if i == k else "0" for i in range(10)) + "]"
          for k in range(10)]
per = 1000
for b in range(n // per):
    lo = b * per
    ins = ",".join("[" + ",".join(map(text.__getitem__,
                   pixels[(lo + r) * width:(lo + r + 1) * width])) + "]"
                   for r in range(per))
    tgs = ",".join(onehot[labels[lo + r]] for r in range(per))
    with open(os.path.join(out, "batch_%02d.json" % b), "w") as f:
        f.write('{"inputs":[' + ins + '],"targets":[' + tgs + ']}')
EOF
	start_mlpd "$tmp/bench.db"
	fmodel=$(post /v1/models \
	    '{"name":"fashion","layers":[784,128,10],"activation":"sigmoid","loss":"mse","optimizer":"sgd","learning_rate":0.1,"seed":1}' |
	    field id)
	[ -n "$fmodel" ] || die "could not create the [784,128,10] model"
	: >"$tmp/times"
	bytes=0
	rows=0
	for f in "$tmp"/batches/batch_*.json; do
		out=$(curl -sS --noproxy '*' -o "$tmp/ingest.out" \
		    -w '%{http_code} %{time_total} %{size_upload}' -X POST \
		    -H 'Content-Type: application/json' --data-binary @"$f" \
		    "$base/v1/models/$fmodel/batches")
		read -r http_code secs_one up <<<"$out"
		[ "$http_code" = 201 ] ||
		    die "POST $(basename "$f") got $http_code: $(head -c 300 "$tmp/ingest.out")"
		echo "$secs_one" >>"$tmp/times"
		bytes=$((bytes + ${up%.*}))
		rows=$((rows + 1000))
	done
	secs=$(awk '{ s += $1 } END { printf "%.6f", s }' "$tmp/times")
	ingest_rps=$(awk -v r="$rows" -v s="$secs" 'BEGIN { printf "%.0f", r / s }')
	mbps=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')
	printf '  %d rows, %.1f MB in %.3f s of POSTs: %s MB/s, %s rows/s\n' \
	    "$rows" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" "$secs" \
	    "$mbps" "$ingest_rps"

	# first in bench_core's order (consecutive minibatches, no shuffle), so
	# the ratio below measures the daemon's own overhead; then with the
	# default reshuffling, for the figure users get
	for shuffle in false true; do
	echo "train: [784,128,10] sigmoid/mse/sgd, $BENCH_TRAIN_STEPS steps of batch 64, shuffle $shuffle"
	job=$(post "/v1/models/$fmodel/train" \
	    "{\"steps\":$BENCH_TRAIN_STEPS,\"batch_size\":64,\"shuffle\":$shuffle}" | field id)
	[ -n "$job" ] || die "could not start the training job"
	status=
	for _ in $(seq 6000); do
		curl -sS --noproxy '*' "$base/v1/jobs/$job" >"$tmp/job.json"
		status=$(field status <"$tmp/job.json")
		case $status in succeeded | failed | cancelled | interrupted) break ;; esac
		sleep 0.1
	done
	case $status in
	succeeded | failed | cancelled | interrupted) ;;
	*)	# ten minutes: stop it and measure what was done
		curl -sS --noproxy '*' -X DELETE "$base/v1/jobs/$job" >"$tmp/job.json" ;;
	esac
	done_steps=$(field steps_done <"$tmp/job.json")
	t0=$(field started_at <"$tmp/job.json")
	t1=$(field finished_at <"$tmp/job.json")
	if [ "$t0" != null ] && [ "$t1" != null ] && [ -n "$done_steps" ]; then
		ms=$(($(ms_of "$t1") - $(ms_of "$t0")))
		sps=$(awk -v n="$done_steps" -v ms="$ms" \
		    'BEGIN { printf "%.0f", (ms > 0) ? n * 64 / (ms / 1000) : 0 }')
		printf '  job %s: %s steps in %.3f s, %s samples/s, final loss %s\n' \
		    "$(field status <"$tmp/job.json")" "$done_steps" \
		    "$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')" "$sps" \
		    "$(field loss <"$tmp/job.json")"
		if [ "$shuffle" = false ]; then
			train_sps=$sps
		else
			train_shuffled_sps=$sps
		fi
	else
		echo "  job has no start/finish times: $(cat "$tmp/job.json")"
	fi
	done
	stop_mlpd
fi

# the same net in-process, in the same run: the daemon's share of it
core_sps=NA
train_ratio=NA
if [ "$train_sps" != NA ] && [ -x "$BENCH_CORE" ]; then
	echo "core: bench_core on the same net and data, for the ratio"
	core_sps=$("$BENCH_CORE" --seconds 3 | tail -n 1 |
	    sed -n 's/.*samples_per_s=\([0-9.]*\).*/\1/p')
	if [ -n "$core_sps" ]; then
		train_ratio=$(awk -v a="$train_sps" -v b="$core_sps" \
		    'BEGIN { printf "%.3f", a / b }')
		echo "  bench_core $core_sps samples/s; daemon/core = $train_ratio"
	else
		core_sps=NA
	fi
fi

# head-of-line: /healthz and predict with nothing else running, then
# while a job trains, a client loops /step on another model, and another
# process holds the database's write lock for 3 s (the /steps wait for
# it); one HTTP thread and one trainer, so any request that waited on an
# HTTP thread would show here. p50/p99/max of each, and mixed/quiet.
hol_healthz_p99=NA
hol_predict_p99=NA
if command -v python3 >/dev/null 2>&1; then
	echo "head-of-line: fast requests next to slow ones"
	start_mlpd "$tmp/hol.db" --http-threads 1 --trainers 1
	if python3 "$(dirname "$0")/../load/headofline.py" --seconds 8 \
	    --port "${base##*:}" --db "$tmp/hol.db" >"$tmp/hol.out" 2>&1; then
		sed 's/^/  /' "$tmp/hol.out"
		hol_healthz_p99=$(awk '$1 == "mixed" && $2 == "healthz" {
		    print $(NF - 4) }' "$tmp/hol.out")
		hol_predict_p99=$(awk '$1 == "mixed" && $2 == "predict" {
		    print $(NF - 4) }' "$tmp/hol.out")
	else
		echo "  headofline.py failed: $(tail -n 3 "$tmp/hol.out")"
	fi
	stop_mlpd
fi

echo "predict_rps=$mlpd_rps nginx_rps=$nginx_rps ratio=$ratio ingest_rows_per_s=$ingest_rps train_samples_per_s=$train_sps core_samples_per_s=$core_sps train_ratio=$train_ratio shuffled_samples_per_s=$train_shuffled_sps hol_healthz_p99_ms=$hol_healthz_p99 hol_predict_p99_ms=$hol_predict_p99"
