#!/bin/sh
# versions.sh: a pinned version answers bit for bit the same whatever
# happens to its model, and an alias moved under load never answers from
# a third version (issue 13).
#
# On one database file (--checkpoint-every 0.1): a model is trained a
# little, saved as version 1 and aliased "production". Its outputs on four
# rows through ?version=1 and ?version=production are the reference (the
# daemon writes float32 with 9 significant digits, which round-trips, so
# equal text is equal bits). They must stay exactly that:
#   - during a long train job (while the unpinned outputs move on),
#   - after a SIGTERM that interrupts the job, on the restarted daemon,
#   - after a kill -9 in the middle of another job, on the restarted one,
#   - after a restore of the model to version 1 and more training.
# Then versions 2 and 3 are saved (3 differs from both), and while a
# background loop predicts through the alias "live", the alias is moved
# 40 times between versions 1 and 2: every answer must name version 1 or
# 2 and carry exactly that version's outputs. The file is clean at the
# end (integrity_check, foreign_key_check). The last line is "N passed, M
# failed"; the exit status is 1 when a check failed. Only 127.0.0.1 is
# contacted.
set -u

. "$(dirname "$0")/lib.sh"
lib_init versions
loop=
cleanup_extra='[ -n "$loop" ] && kill "$loop" 2>/dev/null'

need_tools curl sqlite3 "$MLPD"
db=$tmp/versions.db
ROWS='{"inputs":[[0,0],[0,1],[1,0],[1,1]]}'

# outputs [TARGET]: the outputs of the four rows (TARGET: ?version=);
# sets out (the outputs as text) and out_version ("" when unpinned).
outputs() {
	req POST "/v1/models/$m/predict${1:+?version=$1}" "$ROWS"
	out=$(sed -n 's/.*"outputs":\(\[\[[^]]*\]\(,\[[^]]*\]\)*\]\).*/\1/p' \
	    "$tmp/body")
	out_version=$(sed -n 's/.*"version":\([0-9]*\).*/\1/p' "$tmp/body")
	[ "$code" = 200 ] && [ -n "$out" ]
}

# pinned_same WHEN: version 1, by number and by alias, answers $ref.
pinned_same() {
	outputs 1 && o1=$out || o1="HTTP $code"
	outputs production && o2=$out || o2="HTTP $code"
	check "$1: ?version=1 answers as before" "$o1" "$ref"
	check "$1: ?version=production answers as before, as version 1" \
	    "$out_version $o2" "1 $ref"
}

# start_job STEPS: starts a train job; sets job.
start_job() {
	req POST "/v1/models/$m/train" "{\"steps\":$1,\"batch_size\":4}"
	job=$(jget id)
	check "a train job is accepted" "$code" 202
}

start "$db" --checkpoint-every 0.1
req POST /v1/models '{"layers":[2,8,1],"seed":11,"learning_rate":2}'
m=$(jget id)
check "a model is created" "$code" 201
req POST "/v1/models/$m/batches" \
    '{"inputs":[[0,0],[0,1],[1,0],[1,1]],"targets":[[0],[1],[1],[0]]}'
check "its rows are stored" "$code" 201
start_job 200
check_true "the first job succeeds" wait_job "$job" 60 succeeded
req POST "/v1/models/$m/versions" '{"name":"reference"}'
check "version 1 is saved" "$code $(jget version)" "201 1"
req PUT "/v1/models/$m/aliases/production" '{"version":1}'
check "production names version 1" "$code" 200
outputs 1
ref=$out
check "version 1 answers at step 200" "$(jget step) $out_version" "200 1"

# during a long job
start_job 5000000
check_true "the long job runs" wait_job "$job" 30 running
moved=0
i=0
while [ $i -lt 15 ]; do
	pinned_same "during training ($i)"
	outputs && [ "$out" != "$ref" ] && moved=1
	i=$((i + 1))
done
check "the unpinned outputs move on meanwhile" "$moved" 1

# SIGTERM in the middle of the job
stop_term "SIGTERM during the job: exit 0" 20
start "$db" --checkpoint-every 0.1
pinned_same "after SIGTERM and a restart"

# kill -9 in the middle of a job
start_job 5000000
check_true "another long job runs" wait_job "$job" 30 running
sleep 0.5
kill9
start "$db" --checkpoint-every 0.1
pinned_same "after kill -9 and a restart"

# restore, then train on: the pin does not follow the model
req POST "/v1/models/$m/restore" '{"version":"production"}'
check "restore to production" "$code $(jget step)" "200 200"
outputs
check "the restored model answers as version 1" "$out" "$ref"
start_job 50
check_true "training after the restore succeeds" wait_job "$job" 60 succeeded
pinned_same "after a restore and more training"

# alias moves under concurrent predictions
req POST "/v1/models/$m/versions"
check "version 2 is saved" "$code $(jget version)" "201 2"
outputs 2
ref2=$out
start_job 50
wait_job "$job" 60 succeeded
req POST "/v1/models/$m/versions"
check "version 3 is saved" "$code $(jget version)" "201 3"
outputs 3
ref3=$out
check_true "versions 1, 2 and 3 answer differently" \
    test "$ref" != "$ref2" -a "$ref3" != "$ref" -a "$ref3" != "$ref2"
req PUT "/v1/models/$m/aliases/live" '{"version":1}'
check "live names version 1" "$code" 200
: >"$tmp/answers"
(
	while [ ! -e "$tmp/stop" ]; do
		curl -sS --noproxy '*' --max-time 10 -X POST \
		    -H 'Content-Type: application/json' -d "$ROWS" \
		    "$base/v1/models/$m/predict?version=live" 2>/dev/null
		echo
	done >>"$tmp/answers"
) &
loop=$!
i=0
while [ $i -lt 40 ]; do
	req PUT "/v1/models/$m/aliases/live" "{\"version\":$((1 + i % 2))}"
	[ "$code" = 200 ] || bad "move live ($i)" "HTTP $code"
	i=$((i + 1))
done
touch "$tmp/stop"
wait "$loop"
loop=
n=$(grep -c . "$tmp/answers")
check_true "predictions ran while live moved ($n)" test "$n" -gt 0
good=$(grep -cF -e "{\"outputs\":$ref,\"step\":200,\"version\":1,\"alias\":\"live\"}" \
    -e "{\"outputs\":$ref2,\"step\":250,\"version\":2,\"alias\":\"live\"}" \
    "$tmp/answers")
check "every answer through live is version 1's or 2's, whole" "$good" "$n"

stop_term "SIGTERM at the end: exit 0"
check "the database is clean" "$(integrity "$db")" ok
finish
