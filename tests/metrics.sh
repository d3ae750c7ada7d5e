#!/bin/sh
# metrics.sh: GET /metrics on a real mlpd, checked by promtool and by value.
#
# Starts $MLPD (default ${builddir:-.}/server/mlpd) on 127.0.0.1 with a free
# port and an in-memory database, then: creates an XOR model, pushes its 4
# rows, takes one /step, trains a 500-step job with batch_size 2, predicts
# once, and sends requests that fail in each way the HTTP layer tells apart
# (404 on an unknown path and on an unknown model, 405 with an odd method,
# 415). It then fetches /metrics and
#   1. runs `promtool check metrics` on it (Debian package prometheus),
#      and `promtool check config` on client_examples/prometheus.yml;
#   2. checks values: each request above counted once under its route
#      pattern, method and code (and the job polls exactly as often as they
#      were made), histograms consistent, steps_total equal to the model's
#      step, samples_total equal to the rows those steps used, last_loss
#      equal to the model's, one succeeded job, an empty queue and a
#      database size above 0.
# The last line is "N passed, M failed"; the exit status is 1 when any check
# failed. Only 127.0.0.1 is contacted; the daemon never outlives the script.
set -u

. "$(dirname "$0")/lib.sh"
lib_init metrics
need_tools curl promtool "$MLPD"

# sample SERIES: the value of one series (name and labels exactly as
# rendered) in $tmp/metrics, or "absent".
sample() {
	awk -v s="$1" '
		substr($0, 1, length(s) + 1) == s " " { print $2; found = 1; exit }
		END { if (!found) print "absent" }' "$tmp/metrics"
}

# close_to A B: the numbers agree to a relative 1e-6 (JSON carries 9 digits).
close_to() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		m = b < 0 ? -b : b
		exit !(a != "" && b != "" && d <= 1e-6 * m)
	}'
}

# buckets_cumulative: in $tmp/metrics, each histogram's buckets never
# decrease and its +Inf bucket equals its _count.
buckets_cumulative() {
	awk '
		/^mlpd_http_request_duration_seconds_bucket/ {
			r = $0; sub(/,le=.*/, "", r)
			if (r == last && $2 + 0 < prev) bad = 1
			if ($0 ~ /le="\+Inf"/) inf[r] = $2
			last = r; prev = $2 + 0; n++
		}
		/^mlpd_http_request_duration_seconds_count/ {
			r = $0; sub(/_count/, "_bucket", r); sub(/} [^ ]*$/, "", r)
			if (!(r in inf) || inf[r] != $2) bad = 1
		}
		END { exit (bad || n == 0) }' "$tmp/metrics"
}

# ---------------------------------------------------------------------------
# Start the daemon
# ---------------------------------------------------------------------------
start :memory: --node-id 'node-"1\'

# ---------------------------------------------------------------------------
# Traffic: one of each, so every count below is known exactly
# ---------------------------------------------------------------------------
req POST /v1/models \
    '{"name":"xor","layers":[2,4,1],"activation":"sigmoid","learning_rate":2,"seed":7}'
check "create model is 201" "$code" 201
m=$(jget id)

xor='{"inputs":[[0,0],[0,1],[1,0],[1,1]],"targets":[[0],[1],[1],[0]]}'
req POST "/v1/models/$m/batches" "$xor"
check "push 4 rows is 201" "$code" 201

req POST "/v1/models/$m/step" "$xor"
check "one /step is 200" "$code" 200

req POST "/v1/models/$m/train" '{"steps":500,"batch_size":2}'
check "train is 202" "$code" 202
job=$(jget id)

polls=0
status=
while [ $polls -lt 300 ]; do
	req GET "/v1/jobs/$job"
	polls=$((polls + 1))
	status=$(jget status)
	case $status in
	succeeded | failed | cancelled | interrupted) break ;;
	esac
	sleep 0.1
done
check "job succeeded" "$status" succeeded

req POST "/v1/models/$m/predict" '{"input":[1,0]}'
check "predict is 200" "$code" 200

req GET /no/such/route
check "unknown path is 404" "$code" 404
req GET /v1/models/m0000000000000000nope
check "unknown model is 404" "$code" 404
req BREW /healthz
check "odd method is 405" "$code" 405
req POST /v1/models 'name=x' text/plain
check "wrong content type is 415" "$code" 415

req GET "/v1/models/$m"
check "get model is 200" "$code" 200
step=$(jget step)
last_loss=$(jget last_loss)
check "model is at step 501" "$step" 501

# ---------------------------------------------------------------------------
# Scrape twice: the second also shows the first
# ---------------------------------------------------------------------------
req GET /metrics
check "GET /metrics is 200" "$code" 200
case $(header Content-Type) in
"text/plain; version=0.0.4"*) ok "Content-Type is the 0.0.4 text format" ;;
*) bad "Content-Type is the 0.0.4 text format" "$(header Content-Type)" ;;
esac
req GET /metrics
cp "$tmp/body" "$tmp/metrics"

if promtool check config "${srcdir:-$(dirname "$0")/..}/client_examples/prometheus.yml" \
    >"$tmp/promtool.out" 2>&1; then
	ok "promtool check config accepts client_examples/prometheus.yml"
else
	bad "promtool check config accepts client_examples/prometheus.yml" \
	    "$(head -c 600 "$tmp/promtool.out")"
fi
if promtool check metrics <"$tmp/metrics" >"$tmp/promtool.out" 2>&1; then
	ok "promtool check metrics accepts the output"
else
	bad "promtool check metrics accepts the output" \
	    "$(head -c 600 "$tmp/promtool.out")"
fi
check "every family has HELP and TYPE" \
    "$(grep -c '^# HELP mlpd_' "$tmp/metrics"):$(grep -c '^# TYPE mlpd_' "$tmp/metrics")" \
    "11:11"

C=mlpd_http_connections_closed_total
check "no connection closed for a slow request" \
    "$(sample "$C{reason=\"slow_request\"}")" 0
check "no connection closed by the idle budget" \
    "$(sample "$C{reason=\"idle_budget\"}")" 0

R=mlpd_http_requests_total
check "create counted" "$(sample "$R{route=\"/v1/models\",method=\"POST\",code=\"201\"}")" 1
check "415 counted on its route" \
    "$(sample "$R{route=\"/v1/models\",method=\"POST\",code=\"415\"}")" 1
check "push counted" \
    "$(sample "$R{route=\"/v1/models/{id}/batches\",method=\"POST\",code=\"201\"}")" 1
check "step counted" \
    "$(sample "$R{route=\"/v1/models/{id}/step\",method=\"POST\",code=\"200\"}")" 1
check "train counted" \
    "$(sample "$R{route=\"/v1/models/{id}/train\",method=\"POST\",code=\"202\"}")" 1
check "every job poll counted" \
    "$(sample "$R{route=\"/v1/jobs/{id}\",method=\"GET\",code=\"200\"}")" "$polls"
check "predict counted" \
    "$(sample "$R{route=\"/v1/models/{id}/predict\",method=\"POST\",code=\"200\"}")" 1
check "model 200 and 404 counted apart" \
    "$(sample "$R{route=\"/v1/models/{id}\",method=\"GET\",code=\"200\"}"):$(sample "$R{route=\"/v1/models/{id}\",method=\"GET\",code=\"404\"}")" \
    "1:1"
check "unknown path counted as unmatched" \
    "$(sample "$R{route=\"unmatched\",method=\"GET\",code=\"404\"}")" 1
check "odd method folded into other" \
    "$(sample "$R{route=\"unmatched\",method=\"other\",code=\"405\"}")" 1
check "the first scrape counted" \
    "$(sample "$R{route=\"/metrics\",method=\"GET\",code=\"200\"}")" 1
check "no raw path in a route label" \
    "$(grep '^mlpd_http_' "$tmp/metrics" |
        grep -c -e "$m" -e "$job" -e nope -e /no/such)" 0

H=mlpd_http_request_duration_seconds
check "predict duration observed once" \
    "$(sample "$H""_count{route=\"/v1/models/{id}/predict\"}"):$(sample "$H""_bucket{route=\"/v1/models/{id}/predict\",le=\"+Inf\"}")" \
    "1:1"
check_true "predict duration sum > 0" \
    gt "$(sample "$H""_sum{route=\"/v1/models/{id}/predict\"}")" 0
check "job polls timed under one route" \
    "$(sample "$H""_count{route=\"/v1/jobs/{id}\"}")" "$polls"
check_true "buckets cumulative, +Inf equals _count" buckets_cumulative

check "steps_total equals the model's step" \
    "$(sample "mlpd_training_steps_total{model=\"$m\"}")" "$step"
check "samples_total: 4 rows for /step + 500 steps x 2 rows" \
    "$(sample "mlpd_training_samples_total{model=\"$m\"}")" 1004
got_loss=$(sample "mlpd_model_last_loss{model=\"$m\"}")
check_true "last_loss $got_loss equals the model's $last_loss" \
    close_to "$got_loss" "$last_loss"
check "jobs by state" \
    "$(for s in queued running succeeded failed cancelled interrupted; do
        printf '%s=%s ' "$s" "$(sample "mlpd_jobs{state=\"$s\"}")"; done)" \
    "queued=0 running=0 succeeded=1 failed=0 cancelled=0 interrupted=0 "
check "queue depth is 0" "$(sample mlpd_job_queue_depth)" 0
check "the node is named, its label escaped" \
    "$(grep -cxF 'mlpd_node_info{node="node-\"1\\"} 1' "$tmp/metrics")" 1
check "the BLAS kernel set and who chose it" \
    "$(grep -cxE 'mlpd_blas_info\{core="[A-Za-z0-9]+",choice="(default|user|auto|failed)"\} 1' "$tmp/metrics")" 1
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
	check "an OPENBLAS_CORETYPE from the environment is the user's" \
	    "$(grep -c '^mlpd_blas_info{.*choice="user"' "$tmp/metrics")" 1
fi
check_true "database size > 0" gt "$(sample mlpd_database_size_bytes)" 0

finish
