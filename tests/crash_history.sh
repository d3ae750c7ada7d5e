#!/bin/sh
# crash_history.sh: kill -9 during training, then the model's step, its
# loss history's last step and its job's steps_done must agree.
#
# 20 rounds (CRASH_ROUNDS) on one database file: odd rounds train XOR
# [2,4,1] at full speed (hundreds of thousands of steps a second), even
# rounds a [784,128,10] softmax model; each round creates a model on the
# running mlpd (--checkpoint-every 0.3), starts a long job and sends
# SIGKILL after a random delay (0 .. 0.8 s into the job, so some kills come
# before the first checkpoint; seeded: CRASH_SEED, printed, replays a run).
# After the restart (which the next round goes on with):
#   - the job is "interrupted" and its steps_done equals the model's step;
#   - max_points=1000 over the whole history (CSV) covers steps 1..step
#     without a gap or overlap and its counts add up to step;
#   - the last 300 steps page back one by one, ending at step;
# at the end SIGTERM (exit 0), and sqlite3 finds the file clean with every
# model's stored history exactly 1..step. Only 127.0.0.1 is contacted.
# Well under a minute on an idle machine.
set -u

. "$(dirname "$0")/lib.sh"
lib_init crash_history

need_tools curl sqlite3 awk "$MLPD"
ROUNDS=${CRASH_ROUNDS:-20}
seed=${CRASH_SEED:-$(date +%s)}
echo "CRASH_SEED=$seed"
db=$tmp/crash.db
# the raw window (--history-raw-steps): a fast XOR round can pass the
# default 1,000,000 steps before its kill; CRASH_RAW=4096 makes every XOR
# round do so
raw=${CRASH_RAW:-1000000}
awk -v s="$seed" -v n="$ROUNDS" 'BEGIN { srand(s)
	for (i = 0; i < n; i++) printf "%.3f\n", rand() * 0.8 }' \
    >"$tmp/delays"
printf '%s' '{"inputs":[[0,0],[0,1],[1,0],[1,1]],"targets":[[0],[1],[1],[0]]}' \
    >"$tmp/xor"
# 64 rows of 784 inputs, one-hot targets of 10 classes
awk 'BEGIN {
	printf "{\"inputs\":["
	for (i = 0; i < 64; i++) {
		printf "%s[", (i ? "," : "")
		for (j = 0; j < 784; j++)
			printf "%s%g", (j ? "," : ""), ((i * 31 + j * 7) % 17) / 16
		printf "]"
	}
	printf "],\"targets\":["
	for (i = 0; i < 64; i++) {
		printf "%s[", (i ? "," : "")
		for (j = 0; j < 10; j++)
			printf "%s%d", (j ? "," : ""), (i % 10 == j)
		printf "]"
	}
	printf "]}"
}' >"$tmp/wide"

start "$db" --checkpoint-every 0.3 --history-raw-steps "$raw"
r=1
while [ $r -le "$ROUNDS" ]; do
	delay=$(sed -n "${r}p" "$tmp/delays")
	if [ $((r % 2)) -eq 1 ]; then
		kind=xor
		model='{"layers":[2,4,1],"learning_rate":0.5,"seed":'$r'}'
		data=$tmp/xor
		train='{"steps":1000000000}'
	else
		kind=784x128x10
		model='{"layers":[784,128,10],"activation":["relu","softmax"],"loss":"cross_entropy","optimizer":"adam","learning_rate":0.001,"seed":'$r'}'
		data=$tmp/wide
		train='{"steps":1000000000,"batch_size":16}'
	fi
	echo "== round $r ($kind): SIGKILL $delay s into training"
	req POST /v1/models "$model"
	m=$(jget id)
	req POST "/v1/models/$m/batches" "@$data"
	req POST "/v1/models/$m/train" "$train"
	j=$(jget id)
	if ! wait_job "$j" 10 running; then
		bad "round $r: the job runs" "status $job_status"
		break
	fi
	sleep "$delay"
	kill9

	if ! start_daemon "$db" --checkpoint-every 0.3 \
	    --history-raw-steps "$raw"; then
		bad "round $r: mlpd restarts after SIGKILL" \
		    "$(tail -n 3 "$tmp/mlpd.err")"
		break
	fi
	req GET "/v1/models/$m"
	step=$(jget step)
	req GET "/v1/jobs/$j"
	check "round $r: the job is interrupted at the model's step" \
	    "$(jget status) $(jget steps_done)" "interrupted $step"
	req GET "/v1/models/$m/loss?max_points=1000&format=csv"
	check_true "round $r: history covers 1..$step without gaps" \
	    covers_1_to "$step"
	if [ "$step" -gt 0 ]; then
		k=$((step < 300 ? step : 300))
		req GET "/v1/models/$m/loss?since=$((step - k))&limit=1000&format=csv"
		check_true "round $r: the last $k steps read back one by one" \
		    tail_is "$step" "$k"
	fi
	r=$((r + 1))
done
stop_term "SIGTERM exits 0"
check "integrity_check is ok" "$(integrity "$db")" ok
inexact=$(histories_exact "$db" "$raw")
check "every model's stored history is exactly 1..step" "$inexact" ""
# what such a model's chunks say, by level, for whoever reads the log
for m in $inexact; do
	echo "  model $m: step $(sql "$db" "SELECT step FROM models WHERE id = '$m'"); level|chunks|first|last|steps|bytes:"
	sql "$db" "SELECT level, count(*), min(first_step), max(last_step),
	    sum(last_step - first_step + 1), sum(length(data)) FROM loss_chunk
	    WHERE model_id = '$m' GROUP BY level" | sed 's/^/    /'
	echo "  its jobs (status|steps_done|options):"
	sql "$db" "SELECT status, steps_done, options FROM jobs
	    WHERE model_id = '$m'" | cut -c1-200 | sed 's/^/    /'
done

finish
