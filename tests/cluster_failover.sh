#!/bin/sh
# cluster_failover.sh: three mlpd nodes (a, b, c) on one PostgreSQL
# database (tests/pg_cluster.sh), --lease-ttl 2, --checkpoint-every 0.5;
# a train job survives the loss of the node running it:
#   1. kill -9: a long job started through b; b is killed mid-job. The
#      job (same id) ends succeeded on a or c, its `node` the new one,
#      `takeovers` 1; the model's loss history holds every step 1..N once
#      (read raw); a and c answer the same prediction at the same step;
#      every pushed row is still there. Prints the failover time (kill -9
#      until the job runs again).
#   2. SIGTERM: a job on a fourth node d (--lease-ttl 10); SIGTERM d: the
#      job runs on another node within 2 s of d's exit (not after d's 10 s
#      lease), then succeeds with an exact history; a job with a
#      validation set (not stored) handed back with it ends interrupted
#      where it is taken, its error saying how to resume it.
#   3. SIGSTOP: a job on a (whose weights are behind the checkpoint: a
#      job on c ran last); a is stopped past the TTL; c takes it over;
#      SIGCONT a: a logs its lease lost and writes nothing more (the
#      history stays exact), the job succeeds on c.
# Job lengths are calibrated by a first job (about 5 s of steps each, by
# its started_at and finished_at), so the kills land mid-job on a fast or
# a loaded machine. Skipped (77) without PostgreSQL or libpq. The last
# line is "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_cluster.sh"
HINT="Debian: apt-get install curl"
require curl "$MLPD"
lib_init cluster_failover

pid_a=
pid_b=
pid_c=
pid_d=
cleanup_extra='for _p in $pid_a $pid_b $pid_c $pid_d; do kill -CONT $_p 2>/dev/null; kill -9 $_p 2>/dev/null; wait $_p 2>/dev/null; done; pg_cluster_stop "$tmp/pg"'
pg_cluster_for_test cluster_failover "$tmp/pg"
db=$pg_conninfo
flags="--checkpoint-every 0.5 --peer-sync 0.5"

# up NAME TTL [FLAGS...]: starts node NAME (--node-id NAME) with
# --lease-ttl TTL; sets pid_NAME and base_NAME, its stderr in
# $tmp/mlpd-NAME.err.
up() {
	_name=$1
	_ttl=$2
	shift 2
	# shellcheck disable=SC2086 # flags is a list
	start "$db" $flags --lease-ttl "$_ttl" --node-id "$_name" "$@"
	eval "pid_$_name=\$pid base_$_name=\$base"
	mv "$tmp/mlpd.err" "$tmp/mlpd-$_name.err"
	pid=
}

# on NAME: the next requests (req) go to node NAME.
on() {
	eval "base=\$base_$1"
}

# now: seconds since the epoch, with fractions.
now() {
	date +%s.%N
}

# secs FIELD: the time FIELD of the last answer, in seconds.
secs() {
	date -d "$(jget "$1")" +%s.%N
}

# since T: seconds from T to now, 2 decimals.
since() {
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'
}

# runs_on JOB NAMES...: 0 when one of the nodes NAMES answers the job as
# running there (its node the one asked); sets where.
runs_on() {
	_j=$1
	shift
	for _n in "$@"; do
		on "$_n"
		req GET "/v1/jobs/$_j"
		if [ "$code" = 200 ] && [ "$(jget status)" = running ] &&
		    [ "$(jget node)" = "$_n" ]; then
			where=$_n
			return 0
		fi
	done
	return 1
}

# past JOB NAME STEPS: the job on node NAME has done more than STEPS.
past() {
	on "$2"
	req GET "/v1/jobs/$1"
	[ "$code" = 200 ] && gt "$(jget steps_done)" "$3"
}

# job_on NAME: a job of $job through node NAME (its id in j), checked to
# run there past its first checkpoints (a sixth of it), not yet ended.
job_on() {
	on "$1"
	req POST "/v1/models/$m/train" "$job"
	check "train through $1 is 202" "$code" 202
	j=$(jget id)
	if within 300 past "$j" "$1" $((n / 6)); then
		ok "the job runs on $1"
	else
		bad "the job runs on $1" "status $(jget status), $(jget \
		    steps_done) steps"
	fi
	check "its node is $1" "$(jget node)" "$1"
	check "it has not ended" "$(jget status)" running
}

# exact NAME STEPS: node NAME's raw loss history of $m is 1..STEPS.
exact() {
	on "$1"
	history "$m" && steps_are_1_to "$2"
}

# same_answer: a and c predict the same output at the same step STEP.
same_answer() {
	on a
	req POST "/v1/models/$m/predict" '{"inputs":[[0.3,0.7]]}'
	_pa=$(tr -d ' \n' <"$tmp/body")
	on c
	req POST "/v1/models/$m/predict" '{"inputs":[[0.3,0.7]]}'
	_pc=$(tr -d ' \n' <"$tmp/body")
	[ "$_pa" = "$_pc" ] && [ "$(jget step)" = "$1" ]
}

began=$(now)
up a 2
up b 2
up c 2

# ---------------------------------------------------------------------------
echo "== rows through a, a first job calibrates the job lengths"
on a
req POST /v1/models \
    '{"name":"f","layers":[2,128,128,1],"learning_rate":0.02,"seed":5}'
check "create on a is 201" "$code" 201
m=$(jget id)
req POST "/v1/models/$m/batches" "$(rows 128 1)"
check "push 128 rows on a is 201" "$code" 201
req POST "/v1/models/$m/batches" "$(rows 128 2)"
check "push 128 more on a is 201" "$code" 201
calib=400
job="{\"steps\":$calib,\"batch_size\":256}"
req POST "/v1/models/$m/train" "$job"
check "the calibration job on a is 202" "$code" 202
jc=$(jget id)
wait_job "$jc" 60 succeeded
check "it succeeded" "$job_status" succeeded
check "it ran on a" "$(jget node)" a
check "its takeovers are 0" "$(jget takeovers)" 0
# steps of about 5 s of training (and at least 500)
took=$(awk -v a="$(secs started_at)" -v b="$(secs finished_at)" \
    'BEGIN { printf "%.3f", b - a }')
n=$(awk -v c="$calib" -v s="$took" \
    'BEGIN { n = s > 0 ? int(5 * c / s) : 0; print (n < 500 ? 500 : n) }')
echo "jobs of $n steps ($calib steps took $took s)"
job="{\"steps\":$n,\"batch_size\":256}"
total=$calib

# ---------------------------------------------------------------------------
echo "== kill -9 of the node running a job"
job_on b
t0=$(now)
kill -9 "$pid_b"
wait "$pid_b" 2>/dev/null
pid_b=
where=
if within 150 runs_on "$j" a c; then
	ok "the job runs again on $where"
	echo "failover time (kill -9 until the job runs again): $(since "$t0") s (lease TTL 2 s)"
else
	bad "the job runs again on a or c within 15 s"
fi
x=${where:-a}
on "$x"
wait_job "$j" 60 succeeded
check "the job succeeded on $x" "$job_status" succeeded
check "its id is the same" "$(jget id)" "$j"
check "its node is $x" "$(jget node)" "$x"
check "its takeovers are 1" "$(jget takeovers)" 1
check "its steps_done is $n" "$(jget steps_done)" "$n"
total=$((total + n))
req GET "/v1/models/$m"
check "the model is at step $total" "$(jget step)" "$total"
check "no acknowledged row lost (256 rows)" "$(jget samples)" 256
check_true "the loss history is exactly steps 1..$total, once each" \
    exact "$x" "$total"
check_true "a and c answer the same prediction at step $total" \
    within 50 same_answer "$total"
on c
req GET "/v1/models/$m"
check "c counts 256 rows" "$(jget samples)" 256

# ---------------------------------------------------------------------------
echo "== SIGTERM hands the job back at once"
# and a second model's job with a validation set (not stored)
on a
req POST /v1/models '{"name":"v","layers":[2,4,1],"seed":7}'
check "create v on a is 201" "$code" 201
vm=$(jget id)
req POST "/v1/models/$vm/batches" "$(rows 16 3)"
check "push on v is 201" "$code" 201
# two trainers: the second job starts on d at once (with one, d would
# offer it to a free node)
up d 10 --trainers 2
on d
req POST "/v1/models/$vm/train" '{"steps":100000000,"validation":
    {"inputs":[[0.5,0.5]],"targets":[[0.5]]}}'
check "a job with a validation set through d is 202" "$code" 202
jv=$(jget id)
job_on d
pid=$pid_d
stop_term "d exits 0 after SIGTERM" 10
pid_d=
t0=$(now)
check_grep "d handed the job back" "$tmp/mlpd-d.err" "job $j: handed back"
where=
if within 20 runs_on "$j" a c; then
	ok "the job runs on $where within 2 s of d's exit (d's lease: 10 s)"
	echo "hand-back time (d's exit until the job runs again): $(since "$t0") s"
else
	bad "the job runs on a or c within 2 s of d's exit"
fi
x=${where:-a}
on "$x"
wait_job "$j" 60 succeeded
check "the job succeeded on $x" "$job_status" succeeded
check "its steps_done is $n" "$(jget steps_done)" "$n"
check "its takeovers are 1" "$(jget takeovers)" 1
total=$((total + n))
check_true "the loss history is exactly steps 1..$total" exact "$x" "$total"
# the job with a validation set: taken over, it cannot go on exactly
vstop() {
	for _n in a c; do
		on "$_n"
		req GET "/v1/jobs/$jv"
		[ "$code" = 200 ] && [ "$(jget status)" = interrupted ] &&
		    return 0
	done
	return 1
}
if within 50 vstop; then
	ok "the job with a validation set ends interrupted where it was taken"
else
	bad "the job with a validation set ends interrupted on a or c"
fi
check_grep "its error says why and how to resume it" "$tmp/body" \
    "its validation set was not stored"
check "its takeovers are 1" "$(jget takeovers)" 1

# ---------------------------------------------------------------------------
echo "== SIGSTOP past the lease, then SIGCONT: the stale node is fenced"
# a short job on c first: a's weights are now behind the stored
# checkpoint, so a's job must record the step it really starts at
on c
req POST "/v1/models/$m/train" '{"steps":100,"batch_size":256}'
check "a short job through c is 202" "$code" 202
wait_job "$(jget id)" 60 succeeded
check "it succeeded" "$job_status" succeeded
total=$((total + 100))
job_on a
kill -STOP "$pid_a"
where=
if within 150 runs_on "$j" c; then
	ok "c took the job over while a is stopped"
else
	bad "c takes the job over while a is stopped"
fi
kill -CONT "$pid_a"
on c
wait_job "$j" 60 succeeded
check "the job succeeded on c" "$job_status" succeeded
check "its takeovers are 1" "$(jget takeovers)" 1
total=$((total + n))
if within 50 grep -qF "lease lost" "$tmp/mlpd-a.err"; then
	ok "a logged its lease lost"
else
	bad "a logs its lease lost" "$(tail -n 3 "$tmp/mlpd-a.err")"
fi
on a
req GET "/v1/jobs/$j"
check_true "a does not run the job any more" \
    test "$(jget node)/$(jget status)" != a/running
check_true "the loss history is exactly steps 1..$total" exact c "$total"
check_true "a and c answer the same prediction at step $total" \
    within 50 same_answer "$total"

echo "($(since "$began") s in all)"
for _n in a c; do
	eval "pid=\$pid_$_n"
	stop_term "$_n exits 0 after SIGTERM" 10
	eval "pid_$_n="
done
finish
