#!/bin/sh
# diverge.sh: training that diverges ends "failed" and keeps finite weights.
#
# One daemon on a file database, three models:
#   1. a loss that overflows: a 1-1 linear model with SGD at learning rate
#      10 on x = 1, y = 0 multiplies its output by -39 a step, so the
#      squared error passes float's range after a dozen steps. The job must
#      end "failed" with exactly "diverged at step N"; the model must be at
#      step N-1 with finite weights equal to those of the last finite step
#      (the same as GET weights answered for step N-1 at the end, which is
#      what a restart loads too), and its loss history exactly 1..N-1;
#   2. an update that overflows a weight while the loss stays finite (x =
#      1e19, learning rate 1e6): "diverged at step 1" and the model back at
#      its checkpoint (step 0, the weights it had before);
#   3. the same update through POST /step: 422 diverged, nothing changed.
# Then SIGTERM, a restart on the same file: the failed jobs are still
# "failed" with their errors, the models at the same steps and weights,
# and sqlite3's integrity_check is ok. The last line is "N passed, M
# failed"; the exit status is 1 when any check failed.
set -u

. "$(dirname "$0")/lib.sh"
lib_init diverge

need_tools curl sqlite3 awk "$MLPD"
db=$tmp/diverge.db

# finite_weights: the GET weights answer in $tmp/body holds only finite
# numbers (JSON has no NaN/Inf; mlpd would write null or fail).
finite_weights() {
	[ "$code" = 200 ] && ! grep -qiE 'null|nan|inf' "$tmp/body" &&
	    grep -q '"weights"' "$tmp/body"
}

start "$db" --checkpoint-every 0.1

# ---------------------------------------------------------------------------
# 1. The loss overflows at step N
# ---------------------------------------------------------------------------
echo "== the loss overflows"
req POST /v1/models '{"name":"lossy","layers":[1,1],"activation":"linear","optimizer":"sgd","momentum":0,"learning_rate":10,"seed":3}'
check "create model is 201" "$code" 201
m1=$(jget id)
req PUT "/v1/models/$m1/weights" '{"layers":[{"weights":[[1]],"biases":[0]}]}'
check "set weights is 200" "$code" 200
req POST "/v1/models/$m1/batches" '{"inputs":[[1]],"targets":[[0]]}'
check "push one row is 201" "$code" 201
req POST "/v1/models/$m1/train" '{"steps":1000,"batch_size":1}'
check "train is 202" "$code" 202
j1=$(jget id)
wait_job "$j1" 20 failed
check "the job failed" "$job_status" failed
err1=$(jget error)
n1=$(printf '%s\n' "$err1" | sed -n 's/^diverged at step \([0-9][0-9]*\)$/\1/p')
check_true "the error is exactly 'diverged at step N' ($err1)" [ -n "$n1" ]
n1=${n1:-0}
check_true "it diverged after some finite steps (N = $n1)" [ "$n1" -gt 3 ]
check "steps_done is N-1" "$(jget steps_done)" "$((n1 - 1))"
req GET "/v1/models/$m1"
check "the model is at step N-1" "$(jget step)" "$((n1 - 1))"
check "the model is idle" "$(jget status)" idle
req GET "/v1/models/$m1/weights"
check_true "its weights are finite" finite_weights
cp "$tmp/body" "$tmp/w1"
w1=$(grep -oE '"weights" *: *\[\[[^]]*\]\]' "$tmp/w1" | head -n 1)
# The last finite step's weight, recomputed in double: with x = 1, y = 0
# the gradient of (w + b)^2 is 2 (w + b) for both w and b; N-1 steps from
# w = 1, b = 0 (float rounds each step: compare relatively).
want=$(awk -v n="$((n1 - 1))" 'BEGIN { w = 1; b = 0
	for (i = 0; i < n; i++) { g = 2 * (w + b); w -= 10 * g; b -= 10 * g }
	printf "%.9e", w }')
got=$(printf '%s' "$w1" | grep -oE '[-+0-9.eE]+' | tail -n 1)
check_true "the weight is the one after step N-1 ($got ~ $want)" \
    awk -v a="$got" -v b="$want" 'BEGIN { d = (a - b) / b; exit !(d < 1e-5 && d > -1e-5) }'
check_true "loss history pages" history "$m1"
check_true "loss history is exactly steps 1..N-1" steps_are_1_to "$((n1 - 1))"
req POST "/v1/models/$m1/predict" '{"input":[1]}'
check "predict still works" "$code" 200

# ---------------------------------------------------------------------------
# 2. An update overflows a weight; the loss was finite
# ---------------------------------------------------------------------------
echo "== an update overflows"
req POST /v1/models '{"name":"blowup","layers":[1,1],"activation":"linear","optimizer":"sgd","momentum":0,"learning_rate":1000000,"seed":5}'
check "create model is 201" "$code" 201
m2=$(jget id)
req GET "/v1/models/$m2/weights"
cp "$tmp/body" "$tmp/w2"
req POST "/v1/models/$m2/batches" '{"inputs":[[1e19]],"targets":[[0]]}'
check "push one row is 201" "$code" 201
req POST "/v1/models/$m2/train" '{"steps":100,"batch_size":1}'
check "train is 202" "$code" 202
j2=$(jget id)
wait_job "$j2" 20 failed
check "the job failed" "$job_status" failed
check "the error is 'diverged at step 1'" "$(jget error)" "diverged at step 1"
req GET "/v1/models/$m2"
check "the model is back at its checkpoint (step 0)" "$(jget step)" 0
req GET "/v1/models/$m2/weights"
check_true "its weights are finite" finite_weights
check_true "its weights are those it had before" cmp -s "$tmp/body" "$tmp/w2"
check_true "loss history pages" history "$m2"
check "its loss history is empty" "$(wc -l <"$tmp/steps" | tr -d ' ')" 0

# ---------------------------------------------------------------------------
# 3. The same update through /step
# ---------------------------------------------------------------------------
echo "== /step"
req POST "/v1/models/$m2/step" '{"inputs":[[1e19]],"targets":[[0]]}'
check "the step is 422" "$code" 422
check "its code is diverged" "$(jget code)" diverged
req GET "/v1/models/$m2/weights"
check_true "the weights did not change" cmp -s "$tmp/body" "$tmp/w2"

# ---------------------------------------------------------------------------
# 4. All of it is durable
# ---------------------------------------------------------------------------
echo "== restart"
stop_term "SIGTERM exits 0"
check "integrity_check is ok" "$(integrity "$db")" ok
check "every loss history is exactly 1..step" "$(histories_exact "$db")" ""
start "$db"
req GET "/v1/jobs/$j1"
check "the first job is still failed" "$(jget status)" failed
check "with its error" "$(jget error)" "$err1"
req GET "/v1/jobs/$j2"
check "the second job is still failed" "$(jget status)" failed
req GET "/v1/models/$m1"
check "the first model is still at step N-1" "$(jget step)" "$((n1 - 1))"
req GET "/v1/models/$m1/weights"
check_true "with the same weights" cmp -s "$tmp/body" "$tmp/w1"
req GET "/v1/models/$m2/weights"
check_true "the second model has its first weights" cmp -s "$tmp/body" "$tmp/w2"
stop_term "SIGTERM exits 0"

finish
