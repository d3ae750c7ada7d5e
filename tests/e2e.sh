#!/bin/sh
# e2e.sh: black-box scenario for the real mlpd binary, driven with curl.
#
# Starts $MLPD (default ${builddir:-.}/server/mlpd) on 127.0.0.1 with a free
# port and a private database, then walks one scenario:
#   1. the lifecycle: create an XOR model, push its rows, take one /step,
#      train a job to the end, predict, read the loss history;
#   2. a crash: a long job on a bigger model runs while batches are pushed,
#      the daemon is killed with SIGKILL and restarted on the same database;
#      the job must be "interrupted", the model's step > 0 and its loss
#      history exactly steps 1..step, every batch answered 201 still listed,
#      and predict must work;
#   3. a clean stop: another long job runs, SIGTERM must end the daemon with
#      status 0 within 5 s, and after a restart the job is "interrupted" with
#      its progress checkpointed;
#   4. SIGTERM on the idle daemon: status 0 within 5 s.
# MLPD_WRAPPER, when set, is a command line mlpd runs under (CI: valgrind)
# and E2E_SLOW a whole factor for the waits on start and SIGTERM (default 1).
# Every check counts; the last line is "N passed, M failed", and the exit
# status is 1 when any check failed. Only 127.0.0.1 is ever contacted. The
# temporary directory is removed and the daemon never outlives the script.
set -u

. "$(dirname "$0")/lib.sh"
HINT="Debian: apt-get install curl"
require curl "$MLPD"
lib_init e2e
db=$tmp/e2e.db

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# xy_rows N [K]: a batch body of N rows of [x, y] -> [x*y], deterministic.
xy_rows() {
	awk -v n="$1" -v k="${2:-0}" 'BEGIN {
		printf "{\"inputs\":["
		for (i = 0; i < n; i++) {
			x = ((i * 37 + k * 11) % 101) / 100
			y = ((i * 53 + k * 7) % 97) / 96
			printf "%s[%g,%g]", (i ? "," : ""), x, y
			t[i] = x * y
		}
		printf "],\"targets\":["
		for (i = 0; i < n; i++)
			printf "%s[%g]", (i ? "," : ""), t[i]
		printf "]}"
	}'
}

# ---------------------------------------------------------------------------
# 1. The lifecycle on an XOR model
# ---------------------------------------------------------------------------
echo "== lifecycle"
start "$db" --checkpoint-every 0.2

req GET /healthz
check "GET /healthz is 200" "$code" 200
check "GET /healthz says ok" "$(jget status)" ok

req POST /v1/models \
    '{"name":"xor","layers":[2,4,1],"activation":"sigmoid","learning_rate":2,"seed":7}'
check "create model is 201" "$code" 201
m1=$(jget id)
check "Location names the model" "$(header Location)" "/v1/models/$m1"
check "new model is at step 0" "$(jget step)" 0
check "new model's last_loss is null" "$(jget last_loss)" null
check "new model is idle" "$(jget status)" idle

xor='{"inputs":[[0,0],[0,1],[1,0],[1,1]],"targets":[[0],[1],[1],[0]]}'
req POST "/v1/models/$m1/batches" "$xor"
check "push XOR rows is 201" "$code" 201
check "batch holds 4 samples" "$(jget samples)" 4
check "model holds 4 samples in all" "$(jget total_samples)" 4

req POST "/v1/models/$m1/step" "$xor"
check "one /step is 200" "$code" 200
check "/step leaves the model at step 1" "$(jget step)" 1
loss0=$(jget loss)
check_true "/step reports a loss" lt -1 "$loss0"

req POST "/v1/models/$m1/train" '{"steps":3000,"batch_size":4,"learning_rate":2}'
check "train is 202" "$code" 202
j1=$(jget id)
check "Location names the job" "$(header Location)" "/v1/jobs/$j1"
check "job belongs to the model" "$(jget model_id)" "$m1"

wait_job "$j1" 60 succeeded failed cancelled interrupted
check "job succeeded" "$job_status" succeeded
check "job did all its steps" "$(jget steps_done)" 3000
check "job's error is null" "$(jget error)" null
loss1=$(jget loss)
check_true "training lowered the loss ($loss0 -> $loss1)" lt "$loss1" "$loss0"

req GET "/v1/models/$m1"
check "model is at step 3001" "$(jget step)" 3001
check "model is idle again" "$(jget status)" idle

# XOR must be learned: each output on the right side of 0.5.
for pair in "0,0 0" "0,1 1" "1,0 1" "1,1 0"; do
	in=${pair% *}
	want=${pair#* }
	req POST "/v1/models/$m1/predict" "{\"input\":[$in]}"
	out=$(jarr output)
	got=$(awk -v o="$out" 'BEGIN { print (o + 0 > 0.5) ? 1 : 0 }')
	check "predict XOR($in) = $want (output $out)" "$code:$got" "200:$want"
done
req POST "/v1/models/$m1/predict" '{"inputs":[[0,0],[0,1],[1,0],[1,1]]}'
check "batch predict is 200" "$code" 200
check "batch predict answers 4 rows" \
    "$(grep -o '\[[^][]*\]' "$tmp/body" | wc -l | tr -d ' ')" 4
check "predict names the step" "$(jget step)" 3001

check_true "loss history pages" history "$m1"
check_true "loss history is steps 1..3001" steps_are_1_to 3001

req GET "/v1/models/$m1/loss?since=3000&limit=5"
check "since=3000 returns step 3001 only" "$(jget step)" 3001
check "next_since is the last step" "$(jget next_since)" 3001

req GET "/v1/models/$m1/jobs"
check "model lists its job" "$(jget id)" "$j1"

# ---------------------------------------------------------------------------
# 2. SIGKILL during a long job, then restart on the same database
# ---------------------------------------------------------------------------
echo "== crash"
req POST /v1/models '{"name":"big","layers":[2,64,64,1],"seed":11}'
check "create big model is 201" "$code" 201
m2=$(jget id)

: >"$tmp/batch_ids"
want_samples=0
req POST "/v1/models/$m2/batches" "$(xy_rows 256)"
check "push 256 rows is 201" "$code" 201
jget batch_id >>"$tmp/batch_ids"
want_samples=256

req POST "/v1/models/$m2/train" '{"steps":100000000,"batch_size":32}'
check "long train is 202" "$code" 202
j2=$(jget id)
check_true "long job starts running" wait_job "$j2" 60 running

# Push small batches for 1.5 s (and at least three) while the job runs;
# remember each that got 201, and the codes of any that did not.
end=$(($(date +%s%N) / 1000000 + 1500))
k=1
codes=
while [ "$k" -le 3 ] || [ "$(($(date +%s%N) / 1000000))" -lt "$end" ]; do
	req POST "/v1/models/$m2/batches" "$(xy_rows 8 "$k")"
	if [ "$code" = 201 ]; then
		jget batch_id >>"$tmp/batch_ids"
		want_samples=$((want_samples + 8))
	else
		codes="$codes $code"
	fi
	k=$((k + 1))
done
check "every batch pushed during training got 201 (others:${codes:- none})" \
    "$codes" ""
req GET "/v1/jobs/$j2"
check "long job is still running at the kill" "$(jget status)" running

kill9
start "$db" --checkpoint-every 0.2

req GET "/v1/jobs/$j2"
check "killed job is interrupted" "$(jget status)" interrupted
check_true "interrupted job has finished_at" [ "$(jget finished_at)" != null ]

req GET "/v1/models/$m2"
check "model is idle after restart" "$(jget status)" idle
step2=$(jget step)
check_true "model kept some progress (step $step2 > 0)" lt 0 "$step2"

check_true "loss history pages" history "$m2"
check "last loss point is the model's step" "$(tail -n 1 "$tmp/steps")" "$step2"
check "loss history has one point per step" \
    "$(wc -l <"$tmp/steps" | tr -d ' ')" "$step2"
check_true "loss history is exactly steps 1..$step2" steps_are_1_to "$step2"

req GET "/v1/models/$m2/batches"
check "list batches is 200" "$code" 200
grep -oE '"batch_id" *: *[0-9]+' "$tmp/body" | sed 's/.*: *//' \
    >"$tmp/listed"
missing=$(grep -cvxF -f "$tmp/listed" "$tmp/batch_ids")
check "every batch answered 201 is listed ($(wc -l <"$tmp/batch_ids" |
    tr -d ' ') batches)" "$missing" 0
check "total_samples counts every acknowledged row" \
    "$(jget total_samples)" "$want_samples"

req POST "/v1/models/$m2/predict" '{"input":[0.5,0.25]}'
check "predict after restart is 200" "$code" 200
check "predict uses the recovered step" "$(jget step)" "$step2"

req POST "/v1/models/$m1/predict" '{"input":[0,1]}'
check "the first model survived the crash" "$code" 200
check "the first model kept its step" "$(jget step)" 3001

# ---------------------------------------------------------------------------
# 3. SIGTERM during a long job: exit 0 within 5 s, progress checkpointed
# ---------------------------------------------------------------------------
echo "== shutdown during a job"
req POST "/v1/models/$m2/train" '{"steps":100000000,"batch_size":32}'
check "second long train is 202" "$code" 202
j3=$(jget id)
check_true "second long job starts running" wait_job "$j3" 60 running
sleep 0.5
stop_term "SIGTERM during a job exits 0 within 5 s" 5

start "$db" --checkpoint-every 0.2
req GET "/v1/jobs/$j3"
check "job stopped by SIGTERM is interrupted" "$(jget status)" interrupted
req GET "/v1/models/$m2"
step3=$(jget step)
check_true "the job's steps were checkpointed ($step2 -> $step3)" \
    lt "$step2" "$step3"
check_true "loss history pages" history "$m2"
check_true "loss history is exactly steps 1..$step3" steps_are_1_to "$step3"

# ---------------------------------------------------------------------------
# 4. SIGTERM on the idle daemon
# ---------------------------------------------------------------------------
echo "== shutdown when idle"
stop_term "SIGTERM when idle exits 0 within 5 s" 5

finish
