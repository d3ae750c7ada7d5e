#!/bin/sh
# delete_fault.sh: a DELETE of a model that the store refuses leaves the
# model whole.
#
# A model trains a long job; a trigger (put in the database by sqlite3
# while mlpd runs) makes SQLite refuse to delete the model's row. The
# DELETE must fail, and then: GET says the model is there and idle, it is
# listed, its job is "cancelled" both through the API and in the database
# (not left "running"), and /step and /train work on it. Once the trigger
# is gone a DELETE is 204 and takes the model and its jobs from the
# database. The last line is "N passed, M failed"; the exit status is 1
# when any check failed. Only 127.0.0.1 is contacted.
set -u

. "$(dirname "$0")/lib.sh"
lib_init delete

need_tools curl sqlite3 awk "$MLPD"
db=$tmp/delete.db

# live_sql QUERY: one sqlite3 statement on the database mlpd has open
# (WAL: readers and one writer beside the daemon's), waiting for locks.
live_sql() {
	sqlite3 -batch -noheader -cmd '.timeout 10000' "$db" "$1" 2>&1
}

start "$db" --checkpoint-every 0.1
req POST /v1/models '{"name":"stays","layers":[2,8,1],"seed":4}'
check "create a model is 201" "$code" 201
m=$(jget id)
rows 64 >"$tmp/rows"
req POST "/v1/models/$m/batches" "@$tmp/rows"
check "push rows is 201" "$code" 201
req POST "/v1/models/$m/train" '{"steps":100000000,"batch_size":8}'
check "a long train job is 202" "$code" 202
job=$(jget id)
wait_job "$job" 10 running
check "the job runs" "$job_status" running

check "the trigger that refuses the delete is in" "$(live_sql "CREATE
    TRIGGER refuse_delete BEFORE DELETE ON models BEGIN
    SELECT RAISE(ABORT, 'refused by delete_fault.sh'); END;")" ""
req DELETE "/v1/models/$m"
case $code in
2*) bad "the refused DELETE fails" "HTTP $code" ;;
*) ok "the refused DELETE fails (HTTP $code)" ;;
esac
check_true "its error says why" grep -q "refused by delete_fault.sh" \
    "$tmp/body"

req GET "/v1/models/$m"
check "GET the model is 200" "$code" 200
check "the model is idle" "$(jget status)" idle
req GET /v1/models
check_true "the model is listed" grep -q "\"$m\"" "$tmp/body"
req GET "/v1/jobs/$job"
check "its job reads cancelled" "$(jget status)" cancelled
check "and is cancelled in the database" \
    "$(live_sql "SELECT status FROM jobs WHERE id = '$job';")" cancelled
req POST "/v1/models/$m/step" \
    '{"inputs":[[0.1,0.2],[0.3,0.4]],"targets":[[0.5],[0.6]]}'
check "/step on it is 200" "$code" 200
req POST "/v1/models/$m/train" '{"steps":5,"batch_size":8}'
check "/train on it is 202" "$code" 202
wait_job "$(jget id)" 30 succeeded
check "that job succeeds" "$job_status" succeeded
req POST "/v1/models/$m/predict" '{"input":[0.1,0.2]}'
check "predict on it is 200" "$code" 200

check "the trigger is gone" "$(live_sql 'DROP TRIGGER refuse_delete;')" ""
req DELETE "/v1/models/$m"
check "now DELETE is 204" "$code" 204
req GET "/v1/models/$m"
check "and GET is 404" "$code" 404
check "the database has neither the model nor its jobs" \
    "$(live_sql "SELECT (SELECT count(*) FROM models WHERE id = '$m') +
    (SELECT count(*) FROM jobs WHERE model_id = '$m');")" 0
stop_term "SIGTERM exits 0"
check "integrity_check is ok" "$(integrity "$db")" ok
finish
