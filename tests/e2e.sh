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

MLPD=${MLPD:-${builddir:-.}/server/mlpd}
MLPD_WRAPPER=${MLPD_WRAPPER:-}
E2E_SLOW=${E2E_SLOW:-1}

if ! command -v curl >/dev/null 2>&1; then
	echo "e2e: curl not found (Debian: apt-get install curl)" >&2
	exit 99
fi
if [ ! -x "$MLPD" ]; then
	echo "e2e: $MLPD is not an executable (set MLPD or builddir)" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mlpd-e2e.XXXXXX") || exit 99
pid=
code=-
passed=0
failed=0

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# ok DESCRIPTION / bad DESCRIPTION DETAIL: count one check.
ok() {
	passed=$((passed + 1))
	echo "ok: $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL: $1${2:+ ($2)}"
	echo "  last response: HTTP $code: $(head -c 400 "$tmp/body" 2>/dev/null)"
}

# check DESCRIPTION GOT WANT: pass when the two strings are equal.
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got '$2', want '$3'"; fi
}

# check_true DESCRIPTION COMMAND...: pass when the command succeeds.
check_true() {
	_d=$1
	shift
	if "$@"; then ok "$_d"; else bad "$_d" "false: $*"; fi
}

# start: run mlpd in the background on a free port and wait (10 s at most)
# for its "mlpd listening on http://HOST:PORT" line; sets pid and base.
start() {
	: >"$tmp/mlpd.err"
	# shellcheck disable=SC2086 # the wrapper is a command line
	$MLPD_WRAPPER "$MLPD" --listen 127.0.0.1:0 --db "$tmp/e2e.db" \
	    --checkpoint-every 0.2 2>"$tmp/mlpd.err" &
	pid=$!
	port=
	i=0
	while [ $i -lt $((100 * E2E_SLOW)) ]; do
		port=$(sed -n 's|^mlpd listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' \
		    "$tmp/mlpd.err")
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	if [ -z "$port" ]; then
		echo "e2e: mlpd did not start; its stderr:" >&2
		cat "$tmp/mlpd.err" >&2
		failed=$((failed + 1))
		echo "$passed passed, $failed failed"
		exit 1
	fi
	base=http://127.0.0.1:$port
	ok "mlpd listening on port $port"
}

# stop_term DESCRIPTION: SIGTERM the daemon, check it exits 0 within 5 s.
stop_term() {
	kill -TERM "$pid"
	i=0
	while [ $i -lt $((50 * E2E_SLOW)) ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		pid=
		code=-
		bad "$1" "still running 5 s after SIGTERM"
		return
	fi
	wait "$pid"
	_rc=$?
	pid=
	check "$1" "exit status $_rc" "exit status 0"
}

# req METHOD PATH [BODY]: one request; sets code, leaves the body in
# $tmp/body and the headers in $tmp/headers.
req() {
	if [ $# -ge 3 ]; then
		printf '%s' "$3" >"$tmp/req"
		code=$(curl -sS --noproxy '*' --max-time 60 -o "$tmp/body" \
		    -D "$tmp/headers" -w '%{http_code}' -X "$1" \
		    -H 'Content-Type: application/json' \
		    --data-binary @"$tmp/req" "$base$2") || code=000
	else
		code=$(curl -sS --noproxy '*' --max-time 60 -o "$tmp/body" \
		    -D "$tmp/headers" -w '%{http_code}' -X "$1" \
		    "$base$2") || code=000
	fi
}

# jget FIELD [FILE]: the first scalar value of "FIELD" in a JSON document,
# quotes stripped (enough for the flat objects mlpd answers with).
jget() {
	grep -oE "\"$1\" *: *(\"[^\"]*\"|[^],}]*)" "${2:-$tmp/body}" |
	    head -n 1 | sed -e "s/^\"$1\" *: *//" -e 's/^"//' -e 's/"[[:space:]]*$//' \
	    -e 's/[[:space:]]*$//'
}

# jarr FIELD [FILE]: the numbers of the first flat array "FIELD", one a line.
jarr() {
	grep -oE "\"$1\" *: *\[[^]]*\]" "${2:-$tmp/body}" | head -n 1 |
	    sed -e 's/^[^[]*\[//' -e 's/\]$//' | tr ',' '\n' | tr -d ' '
}

# header NAME: the value of a response header in $tmp/headers.
header() {
	tr -d '\r' <"$tmp/headers" | sed -n "s/^$1: *//Ip" | head -n 1
}

# wait_job JOB STATUS...: poll the job (60 s at most) until its status is
# one of STATUS... (success) or it ended otherwise (failure); leaves the
# last answer in $tmp/body, sets job_status.
wait_job() {
	_j=$1
	shift
	i=0
	while [ $i -lt 600 ]; do
		req GET "/v1/jobs/$_j"
		job_status=$(jget status)
		for _s in "$@"; do
			[ "$job_status" = "$_s" ] && return 0
		done
		case $job_status in
		succeeded | failed | cancelled | interrupted) return 1 ;;
		esac
		[ "$code" = 200 ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# history MODEL: every loss point's step, one a line, into $tmp/steps,
# paging with since/next_since 10000 points at a time.
history() {
	: >"$tmp/steps"
	_since=0
	while :; do
		req GET "/v1/models/$1/loss?since=$_since&limit=10000"
		[ "$code" = 200 ] || return 1
		grep -oE '"step" *: *[0-9]+' "$tmp/body" | sed 's/.*: *//' \
		    >"$tmp/page"
		[ -s "$tmp/page" ] || return 0
		cat "$tmp/page" >>"$tmp/steps"
		_next=$(jget next_since)
		[ "$_next" = "$(tail -n 1 "$tmp/page")" ] || return 1
		_since=$_next
	done
}

# steps_are_1_to N: $tmp/steps holds exactly 1, 2, ..., N.
steps_are_1_to() {
	awk -v n="$1" 'NR != $1 { bad = 1 } END { exit (bad || NR != n) }' \
	    "$tmp/steps"
}

# lt A B: the number A is less than the number B.
lt() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'
}

# rows N: a batch body of N rows of [x, y] -> [x*y], deterministic.
rows() {
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
start

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

wait_job "$j1" succeeded failed cancelled interrupted
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
req POST "/v1/models/$m2/batches" "$(rows 256)"
check "push 256 rows is 201" "$code" 201
jget batch_id >>"$tmp/batch_ids"
want_samples=256

req POST "/v1/models/$m2/train" '{"steps":100000000,"batch_size":32}'
check "long train is 202" "$code" 202
j2=$(jget id)
check_true "long job starts running" wait_job "$j2" running

# Push small batches for 1.5 s while the job runs; remember each that got 201.
end=$(($(date +%s%N) / 1000000 + 1500))
k=1
while [ "$(($(date +%s%N) / 1000000))" -lt "$end" ]; do
	req POST "/v1/models/$m2/batches" "$(rows 8 "$k")"
	if [ "$code" = 201 ]; then
		jget batch_id >>"$tmp/batch_ids"
		want_samples=$((want_samples + 8))
	fi
	k=$((k + 1))
done
check "batches were accepted during training" \
    "$(($(wc -l <"$tmp/batch_ids") > 1))" 1
req GET "/v1/jobs/$j2"
check "long job is still running at the kill" "$(jget status)" running

kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
start

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
check_true "second long job starts running" wait_job "$j3" running
sleep 0.5
stop_term "SIGTERM during a job exits 0 within 5 s"

start
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
stop_term "SIGTERM when idle exits 0 within 5 s"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
