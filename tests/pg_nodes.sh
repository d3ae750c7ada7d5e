#!/bin/sh
# pg_nodes.sh: two mlpd nodes (A and B, two ports) on one PostgreSQL
# database (tests/pg_cluster.sh), each seeing what the other changes:
#   1. a model created and fed on A predicts on B at once (B's miss path
#      reads it from the store), and B counts rows pushed later on A
#      within 3 s;
#   2. a job trained on A: B's predictions answer with a later `step`
#      within --checkpoint-every + 2 s (B's poller reloads the checkpoint);
#   3. a model deleted on A answers 404 on B within 3 s;
#   4. a model created on B is listed by A's GET /v1/models within 3 s;
#   5. a job on B, seen on A: A's event stream for the model carries
#      `step` events with growing steps and the job's `job` events
#      (running, then cancelled); GET /v1/jobs/{id} and GET
#      /v1/models/{id}/jobs on A show B's job with B's committed progress
#      and `node`; the dashboard's data routes answer on A; a DELETE
#      of it on A cancels it on B (B reads it cancelled, and a DELETE on B
#      then answers 409 job_finished); three /steps
#      on B reach A's stream as points, each once; and neither
#      node publishes a step twice (each stream's steps strictly
#      increase: B's poller does not echo B's work, nor A's A's);
#   6. a third node C with --peer-sync 30 (no full poll during the case):
#      while B trains a model, C's predictions answer with a later `step`
#      within 2 s (B's checkpoint notifies C, which reloads the model at
#      once), C's GET /v1/models/{id} shows it `training` on node-b within
#      2 s, and `idle` again within 3 s of the job's end.
# PG_NODES_SYNC (seconds, default 1) is the nodes' --peer-sync: 3600 shows
# the checks after the first prediction failing, as they must without the poller.
# Skipped (77) when PostgreSQL is not installed or mlpd was built without
# libpq. The last line is "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_cluster.sh"
HINT="Debian: apt-get install curl"
require curl "$MLPD"
lib_init pg_nodes

pid_a=
pid_b=
pid_c=
sse_a=
sse_b=
cleanup_extra='for _p in $sse_a $sse_b $pid_a $pid_b $pid_c; do kill -9 $_p 2>/dev/null; wait $_p 2>/dev/null; done; pg_cluster_stop "$tmp/pg"'
pg_cluster_for_test pg_nodes "$tmp/pg"
db=$pg_conninfo
sync=${PG_NODES_SYNC:-1}
ckpt=0.5

# node A|B|C: the next requests (req) go to that node.
node() {
	case $1 in
	A) base=$base_a ;;
	B) base=$base_b ;;
	*) base=$base_c ;;
	esac
}

# within TENTHS CMD...: 0 as soon as CMD succeeds, polled every 0.1 s;
# 1 when TENTHS tenths of a second went by without.
within() {
	_n=$1
	shift
	_i=0
	while [ $_i -lt $_n ]; do
		"$@" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# soon TENTHS DESCRIPTION CMD...: one check, passed when CMD succeeds
# within TENTHS tenths of a second (within); a failure shows $why, which
# CMD may set.
soon() {
	_t=$1
	_d=$2
	shift 2
	why=
	if within "$_t" "$@"; then ok "$_d"; else bad "$_d" "$why"; fi
}

# steps FILE: the step of every `step` event in the SSE capture FILE, one
# a line, in order.
steps() {
	awk '/^event: /{ t = $2 } /^data: /{ if (t == "step") print }' "$1" |
	    grep -oE '"step":[0-9]+' | sed 's/.*://'
}

# jobevents FILE JOB: the status of each `job` event of JOB in FILE.
jobevents() {
	awk '/^event: /{ t = $2 } /^data: /{ if (t == "job") print }' "$1" |
	    grep "\"id\":\"$2\"" | grep -oE '"status":"[a-z]*"' |
	    sed 's/.*:"//; s/"//'
}

# increasing FILE: the numbers in FILE (one a line) strictly increase.
increasing() {
	awk 'NR > 1 && $1 + 0 <= p + 0 { exit 1 } { p = $1 }' "$1"
}

# check_increasing DESCRIPTION FILE: a check that the steps in FILE
# strictly increase; a failure shows each event that does not, with the
# events around it (line: step).
check_increasing() {
	if increasing "$2"; then
		ok "$1"
	else
		bad "$1" "$(awk '{ s[NR] = $1 } NR > 1 && $1 + 0 <= s[NR - 1] + 0 {
		    r[NR] = 1 } END { for (i = 1; i <= NR; i++) for (d = -3;
		    d <= 3; d++) if (r[i + d]) { printf "%d:%s%s ", i, s[i],
		    r[i] ? "<" : ""; break } }' "$2")"
	fi
}

# distinct node ids: the default (host name and port) would name both
# "host:0", the port asked for
start "$db" --node-id node-a --checkpoint-every $ckpt --peer-sync "$sync"
pid_a=$pid
base_a=$base
mv "$tmp/mlpd.err" "$tmp/mlpd-a.err"
start "$db" --node-id node-b --checkpoint-every $ckpt --peer-sync "$sync"
pid_b=$pid
base_b=$base
pid=

# ---------------------------------------------------------------------------
echo "== created on A, predicted on B at once"
node A
req POST /v1/models \
    '{"name":"a","layers":[2,8,1],"learning_rate":0.5,"seed":3}'
check "create on A is 201" "$code" 201
m=$(jget id)
xor='{"inputs":[[0,0],[0,1],[1,0],[1,1]],"targets":[[0],[1],[1],[0]]}'
req POST "/v1/models/$m/batches" "$xor"
check "push on A is 201" "$code" 201
node B
req POST "/v1/models/$m/predict" '{"inputs":[[0,1]]}'
check "predict on B at once is 200" "$code" 200
check "at step 0" "$(jget step)" 0
node A
req POST "/v1/models/$m/batches" "$xor"
check "a second push on A is 201" "$code" 201
node B
rows8() {
	req GET "/v1/models/$m"
	[ "$(jget samples)" = 8 ]
}
if within 30 rows8; then
	ok "B counts A's 8 rows within 3 s"
else
	bad "B counts A's 8 rows within 3 s" "samples $(jget samples)"
fi

# ---------------------------------------------------------------------------
echo "== trained on A, B's predictions follow"
node A
req POST "/v1/models/$m/train" '{"steps":1000000000}'
check "train on A is 202" "$code" 202
j=$(jget id)
wait_job "$j" 10 running
check "the job runs on A" "$job_status" running
node B
# B's step moves on past s0 (what B answered when the job ran) while the
# job runs: within --checkpoint-every 0.5 + 2 s
s0=$(req POST "/v1/models/$m/predict" '{"inputs":[[0,1]]}'; jget step)
moved() {
	req POST "/v1/models/$m/predict" '{"inputs":[[0,1]]}'
	[ "$code" = 200 ] && gt "$(jget step)" "$s0"
}
if within 25 moved; then
	ok "B predicts with a later step ($(jget step) > $s0) within 2.5 s"
else
	bad "B predicts with a later step within 2.5 s" "step $(jget step), was $s0"
fi
req GET "/v1/models/$m"
check_true "B's GET shows a step past 0" gt "$(jget step)" 0

# ---------------------------------------------------------------------------
echo "== trained on A, then on B: B goes on from A's checkpoint"
node A
req DELETE "/v1/jobs/$j"
wait_job "$j" 10 cancelled succeeded
check "A's job ended" "$job_status" cancelled
req GET "/v1/models/$m"
sa=$(jget step)
check_true "A's model is past step 0" gt "$sa" 0
node B
req POST "/v1/models/$m/train" '{"steps":100}'
check "train on B is 202" "$code" 202
jb=$(jget id)
wait_job "$jb" 20 succeeded
check "B's job succeeded" "$job_status" succeeded
req GET "/v1/models/$m"
check "B's model went on from A's step" "$(jget step)" $((sa + 100))
req POST "/v1/models/$m/step" "$xor"
check "a /step on B is 200" "$code" 200
node A
req POST "/v1/models/$m/step" "$xor"
check "then a /step on A is 200" "$code" 200
check "and goes on from B's step" "$(jget step)" $((sa + 102))

# ---------------------------------------------------------------------------
echo "== deleted on A, gone on B"
node A
req DELETE "/v1/models/$m"
check "delete on A is 204" "$code" 204
node B
gone() {
	req GET "/v1/models/$m"
	[ "$code" = 404 ]
}
if within 30 gone; then
	ok "B answers 404 within 3 s"
else
	bad "B answers 404 within 3 s" "code $code"
fi
req POST "/v1/models/$m/predict" '{"inputs":[[0,1]]}'
check "and predicts no more" "$code" 404

# ---------------------------------------------------------------------------
echo "== created on B, listed on A"
node B
req POST /v1/models '{"name":"b","layers":[2,3,1]}'
check "create on B is 201" "$code" 201
mb=$(jget id)
node A
listed() {
	req GET /v1/models
	[ "$code" = 200 ] && grep -q "\"$mb\"" "$tmp/body"
}
if within 30 listed; then
	ok "A lists B's model within 3 s"
else
	bad "A lists B's model within 3 s" "$(head -c 300 "$tmp/body")"
fi

# ---------------------------------------------------------------------------
echo "== events and job reads: a job on B seen on A"
node A
req POST /v1/models \
    '{"name":"ev","layers":[2,8,1],"learning_rate":0.5,"seed":3}'
check "create on A is 201" "$code" 201
m=$(jget id)
req POST "/v1/models/$m/batches" "$xor"
check "push on A is 201" "$code" 201

# the streams: A's and B's, for the model, from now on
curl -sN --noproxy '*' "$base_a/v1/models/$m/events" >"$tmp/sse-a" \
    2>/dev/null &
sse_a=$!
curl -sN --noproxy '*' "$base_b/v1/models/$m/events" >"$tmp/sse-b" \
    2>/dev/null &
sse_b=$!
sleep 0.5

node B
req POST "/v1/models/$m/train" '{"steps":1000000000}'
check "train on B is 202" "$code" 202
je=$(jget id)
wait_job "$je" 10 running
check "the job runs on B" "$job_status" running
node_b=$(jget node)
check "B names its node" "$node_b" node-b

two_steps() {
	steps "$tmp/sse-a" >"$tmp/steps-a"
	why=$(head -c 300 "$tmp/sse-a")
	[ "$(wc -l <"$tmp/steps-a")" -ge 2 ]
}
soon 50 "A's stream has step events of B's job within 5 s" two_steps
check_true "their steps grow ($(tr '\n' ' ' <"$tmp/steps-a"))" \
    increasing "$tmp/steps-a"
# seen STATUS: A's stream has a `job` event of B's job with STATUS.
seen() {
	why=$(jobevents "$tmp/sse-a" "$je" | tr '\n' ' ')
	jobevents "$tmp/sse-a" "$je" | grep -q "^$1\$"
}
soon 30 "A's stream has the job's running event within 3 s" seen running

# ---------------------------------------------------------------------------
echo "== B's job read on A"
node A
req GET "/v1/jobs/$je"
check "GET /v1/jobs/{id} on A is 200" "$code" 200
check "its node is B" "$(jget node)" "$node_b"
check "it runs" "$(jget status)" running
check_true "with B's progress ($(jget steps_done) steps)" \
    gt "$(jget steps_done)" 0
d1=$(jget steps_done)
progressed() {
	req GET "/v1/jobs/$je"
	why="steps_done $(jget steps_done), was $d1"
	[ "$code" = 200 ] && gt "$(jget steps_done)" "$d1"
}
soon 30 "A's read follows B's commits" progressed
req GET "/v1/models/$m/jobs"
check "GET /v1/models/{id}/jobs on A is 200" "$code" 200
check "lists the job" "$(jget id)" "$je"
check "as B's" "$(jget node)" "$node_b"

# ---------------------------------------------------------------------------
echo "== the dashboard's data routes on A"
req GET /v1/models
check "GET /v1/models on A is 200" "$code" 200
check_grep "lists the model" "$tmp/body" "\"$m\""
req GET "/v1/models/$m/loss?since=0"
check "GET .../loss on A is 200" "$code" 200
check_grep "with B's points" "$tmp/body" '"step"'
req GET "/v1/models/$m/versions"
check "GET .../versions on A is 200" "$code" 200
req GET /metrics
check "GET /metrics on A is 200" "$code" 200

# ---------------------------------------------------------------------------
echo "== B's job cancelled on A, A's stream says so"
node A
req DELETE "/v1/jobs/$je"
check_true "DELETE of B's job on A is 200 or 202 ($code)" \
    test "$code" = 200 -o "$code" = 202
check "naming B" "$(jget node)" "$node_b"
node B
wait_job "$je" 10 cancelled
check "B reads it cancelled" "$job_status" cancelled
req DELETE "/v1/jobs/$je"
check "a cancel on B then is 409" "$code" 409
check_grep "code job_finished" "$tmp/body" '"code":"job_finished"'
soon 30 "A's stream has the job's cancelled event within 3 s" seen cancelled
node A
req GET "/v1/jobs/$je"
check "A reads it cancelled" "$(jget status)" cancelled

# ---------------------------------------------------------------------------
echo "== three /steps on B: A's stream lists each point once"
node B
for _k in 1 2 3; do
	req POST "/v1/models/$m/step" "$xor"
	check "/step $_k on B is 200" "$code" 200
done
s3=$(jget step)
# points STEP: A's stream's `step` events list every point from STEP-2
# to STEP ([step, loss] pairs), each once.
points() {
	awk '/^event: /{ t = $2 } /^data: /{ if (t == "step") print }' \
	    "$tmp/sse-a" | grep -oE '\[[0-9]+,' | tr -d '[,' >"$tmp/pts-a"
	why="listed: $(tail -n 5 "$tmp/pts-a" | tr '\n' ' ')"
	[ "$(grep -cxE "$(($1 - 2))|$(($1 - 1))|$1" "$tmp/pts-a")" = 3 ]
}
soon 30 "A's stream lists B's three points within 3 s" points "$s3"

# ---------------------------------------------------------------------------
echo "== A's own work, then: each step once on each stream"
node A
req POST "/v1/models/$m/train" '{"steps":300}'
check "train on A is 202" "$code" 202
ja=$(jget id)
wait_job "$ja" 20 succeeded
check "A's job succeeded" "$job_status" succeeded
last=$(jget steps_done)
a_done() {
	steps "$tmp/sse-b" >"$tmp/steps-b"
	steps "$tmp/sse-a" >"$tmp/steps-a"
	req GET "/v1/models/$m"
	_s=$(jget step)
	why="step $_s; A's stream $(tail -n 1 "$tmp/steps-a"), B's $(tail \
	    -n 1 "$tmp/steps-b")"
	[ "$(tail -n 1 "$tmp/steps-b")" = "$_s" ] &&
	    [ "$(tail -n 1 "$tmp/steps-a")" = "$_s" ]
}
soon 30 "both streams reach the model's step within 3 s" a_done
check_increasing "A's stream never repeats a step" "$tmp/steps-a"
check "A's stream has A's job's events once each" \
    "$(jobevents "$tmp/sse-a" "$ja" | tr '\n' ' ')" "queued running succeeded "
check "B's stream has B's job's events once each" \
    "$(jobevents "$tmp/sse-b" "$je" | tr '\n' ' ')" "queued running cancelled "
check_increasing "B's stream never repeats a step" "$tmp/steps-b"
check "A's job ran its $last steps" "$last" 300

kill "$sse_a" "$sse_b" 2>/dev/null
wait "$sse_a" "$sse_b" 2>/dev/null
sse_a=
sse_b=

# ---------------------------------------------------------------------------
echo "== C with --peer-sync 30 follows B's checkpoints as they commit"
node A
req POST /v1/models \
    '{"name":"c","layers":[2,8,1],"learning_rate":0.5,"seed":5}'
check "create on A is 201" "$code" 201
mc=$(jget id)
req POST "/v1/models/$mc/batches" "$xor"
check "push on A is 201" "$code" 201
mv "$tmp/mlpd.err" "$tmp/mlpd-b.err"
start "$db" --node-id node-c --checkpoint-every $ckpt --peer-sync 30
pid_c=$pid
base_c=$base
pid=
node C
req POST "/v1/models/$mc/predict" '{"inputs":[[0,1]]}'
check "predict on C is 200" "$code" 200
check "at step 0" "$(jget step)" 0
req GET "/v1/models/$mc"
check "C shows it idle" "$(jget status)" idle
node B
req POST "/v1/models/$mc/train" '{"steps":1000000000}'
check "train on B is 202" "$code" 202
jc=$(jget id)
wait_job "$jc" 10 running
check "the job runs on B" "$job_status" running
node C
c_moved() {
	req POST "/v1/models/$mc/predict" '{"inputs":[[0,1]]}'
	why="code $code, step $(jget step)"
	[ "$code" = 200 ] && gt "$(jget step)" 0
}
soon 20 "C predicts from B's checkpoint within 2 s" c_moved
c1=$(jget step)
c_again() {
	req POST "/v1/models/$mc/predict" '{"inputs":[[0,1]]}'
	why="code $code, step $(jget step), was $c1"
	[ "$code" = 200 ] && gt "$(jget step)" "$c1"
}
soon 20 "and from B's next one within 2 s" c_again
# c_status STATUS: C's GET of the model shows STATUS.
c_status() {
	req GET "/v1/models/$mc"
	why="status $(jget status), node $(jget node)"
	[ "$code" = 200 ] && [ "$(jget status)" = "$1" ]
}
soon 20 "C's GET shows the model training within 2 s" c_status training
check "on node-b" "$(jget node)" node-b
node B
req GET "/v1/models/$mc"
check "B's GET names node-b too" "$(jget node)" node-b
req DELETE "/v1/jobs/$jc"
check "cancel on B is 200" "$code" 200
wait_job "$jc" 10 cancelled
check "B's job ended" "$job_status" cancelled
node C
soon 30 "C's GET shows it idle within 3 s of the end" c_status idle
pid=$pid_c
stop_term "node C: SIGTERM exits 0"
pid_c=
for n in A B; do
	if [ $n = A ]; then pid=$pid_a; else pid=$pid_b; fi
	stop_term "node $n: SIGTERM exits 0"
	if [ $n = A ]; then pid_a=; else pid_b=; fi
done
finish
