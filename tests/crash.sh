#!/bin/sh
# crash.sh: kill -9 at random moments during training and batch pushes.
#
# 20 rounds on one database file (so each round also restarts on what all
# earlier crashes left). Each round starts mlpd (--checkpoint-every 0.1),
# creates a model, pushes rows, starts a long train job and, while it runs,
# pushes batches from a background loop (small and large ones, recording
# every batch id answered 201); after a random delay (seeded: CRASH_SEED,
# printed, replays a run) mlpd gets SIGKILL. It is restarted on the same
# file and must show:
#   - the killed job "interrupted";
#   - every batch that got a 201 listed, and the model's samples equal to
#     the rows of its listed batches;
#   - the model's loss history (GET .../loss, paging 10000 at a time)
#     exactly steps 1..step, and predict answering at that step;
# then it is stopped with SIGTERM (exit 0) and sqlite3 must find the file
# clean (integrity_check, foreign_key_check), every model's stored history
# exactly 1..step and no job left queued or running.
# The last line is "N passed, M failed"; the exit status is 1 when any
# check failed. Only 127.0.0.1 is contacted. About a minute.
set -u

. "$(dirname "$0")/lib.sh"
lib_init crash
pusher=
cleanup_extra='[ -n "$pusher" ] && kill "$pusher" 2>/dev/null'

need_tools curl sqlite3 awk "$MLPD"
ROUNDS=${CRASH_ROUNDS:-20}
seed=${CRASH_SEED:-$(date +%s)}
echo "CRASH_SEED=$seed"
db=$tmp/crash.db
ROW_WIDTH=16
export ROW_WIDTH
rows 64 0 >"$tmp/first"
rows 8 1 >"$tmp/small"
rows 256 2 >"$tmp/large"
# the kill delays, in seconds after the job runs: 0.02 .. 1.2
awk -v s="$seed" -v n="$ROUNDS" 'BEGIN { srand(s)
	for (i = 0; i < n; i++) printf "%.3f\n", 0.02 + rand() * 1.18 }' \
    >"$tmp/delays"

# push_loop MODEL ACKED: pushes small and large batches to MODEL until
# $tmp/stop exists or mlpd stops answering; appends each batch id answered
# 201 to ACKED (after the answer, so every id there was acknowledged).
push_loop() {
	_k=0
	while [ ! -e "$tmp/stop" ]; do
		if [ $((_k % 3)) -eq 2 ]; then _f=$tmp/large; else _f=$tmp/small; fi
		_c=$(curl -sS --noproxy '*' --max-time 10 -o "$tmp/pbody" \
		    -w '%{http_code}' -X POST \
		    -H 'Content-Type: application/json' --data-binary @"$_f" \
		    "$base/v1/models/$1/batches" 2>/dev/null) || _c=000
		case $_c in
		201) jget batch_id "$tmp/pbody" >>"$2" ;;
		000) return 0 ;;
		esac
		_k=$((_k + 1))
	done
}

# listed_ok ACKED: every id in ACKED is among the batch ids in $tmp/body.
listed_ok() {
	grep -oE '"batch_id" *: *[0-9]+' "$tmp/body" | sed 's/.*: *//' \
	    >"$tmp/listed"
	[ "$(grep -cvxF -f "$tmp/listed" "$1")" = 0 ]
}

# listed_rows: the sum of the samples of the batches in $tmp/body.
listed_rows() {
	grep -oE '"samples" *: *[0-9]+' "$tmp/body" | sed 's/.*: *//' |
	    awk '{ s += $1 } END { print s + 0 }'
}

r=1
while [ $r -le "$ROUNDS" ]; do
	delay=$(sed -n "${r}p" "$tmp/delays")
	echo "== round $r: SIGKILL $delay s into training"
	if ! start_daemon "$db" --checkpoint-every 0.1; then
		bad "round $r: mlpd starts" "$(tail -n 3 "$tmp/mlpd.err")"
		break
	fi
	req POST /v1/models "{\"name\":\"r$r\",\"layers\":[16,64,64,1],\"seed\":$r}"
	m=$(jget id)
	acked=$tmp/acked.$r
	: >"$acked"
	req POST "/v1/models/$m/batches" "@$tmp/first"
	[ "$code" = 201 ] && jget batch_id >>"$acked"
	req POST "/v1/models/$m/train" '{"steps":100000000,"batch_size":32}'
	j=$(jget id)
	if ! wait_job "$j" 10 running; then
		bad "round $r: the job runs" "status $job_status"
		kill9
		r=$((r + 1))
		continue
	fi
	rm -f "$tmp/stop"
	push_loop "$m" "$acked" &
	pusher=$!
	sleep "$delay"
	kill9
	: >"$tmp/stop"
	wait "$pusher"
	pusher=

	if ! start_daemon "$db" --checkpoint-every 0.1; then
		bad "round $r: mlpd restarts after SIGKILL" \
		    "$(tail -n 3 "$tmp/mlpd.err")"
		break
	fi
	req GET "/v1/jobs/$j"
	check "round $r: the killed job is interrupted" "$(jget status)" \
	    interrupted
	req GET "/v1/models/$m/batches"
	check_true "round $r: all $(wc -l <"$acked" | tr -d ' ') acknowledged batches are listed" \
	    listed_ok "$acked"
	rows_listed=$(listed_rows)
	req GET "/v1/models/$m"
	step=$(jget step)
	check "round $r: samples = the rows of the listed batches" \
	    "$(jget samples)" "$rows_listed"
	if history "$m" && steps_are_1_to "$step"; then
		ok "round $r: loss history is exactly steps 1..$step"
	else
		bad "round $r: loss history is exactly steps 1..$step" \
		    "$(wc -l <"$tmp/steps" | tr -d ' ') points, last $(tail -n 1 "$tmp/steps")"
	fi
	req POST "/v1/models/$m/predict" \
	    '{"input":[0,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1]}'
	check "round $r: predict answers at step $step" "$code:$(jget step)" \
	    "200:$step"
	stop_term "round $r: SIGTERM exits 0"
	check "round $r: integrity_check is ok" "$(integrity "$db")" ok
	check "round $r: every model's history is exactly 1..step" \
	    "$(histories_exact "$db")" ""
	check "round $r: no job is left queued or running" \
	    "$(sql "$db" "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running');")" 0
	r=$((r + 1))
done

finish
