#!/bin/bash
# bench_cluster.sh: several mlpd nodes on one PostgreSQL database, in one
# run (issue 10), on a throwaway server (tests/pg_cluster.sh):
#   - training: 3 models [256,128,1] (sigmoid/mse/sgd, seed 1, each fed the
#     same 2,048 deterministic rows of 256 inputs), one job of
#     BENCH_CLUSTER_STEPS (default 4000) steps of batch 64 each, all
#     started at once: on one SQLite node, on one PostgreSQL node (both
#     --trainers 1; on SQLite the jobs take turns in time slices on the
#     one trainer, so each job's own rate is lower than alone; on
#     PostgreSQL a job the node cannot start at once is offered to the
#     cluster, so the second and third run one after the other, each
#     alone, claimed as the trainer frees) and on three PostgreSQL nodes
#     (one job POSTed to each node directly: a job runs on the node that
#     accepted it when that node has a free trainer, else on whichever
#     node claims it first). Aggregate samples/s = all steps x 64 / (the
#     last job's finished_at - the first's started_at), and per job;
#   - predictions: the three nodes behind HAProxy
#     (client_examples/cluster/haproxy.cfg), wrk -t2 -c64 -d5s of
#     POST .../predict {"input":[256 values]} through HAProxy and against
#     one node directly (wrk, as tests/bench/bench_http.sh);
#   - failover: a long job on node 1 (--lease-ttl BENCH_CLUSTER_TTL,
#     default 3 s), kill -9 of node 1 once it has stepped, then GET
#     /v1/jobs/{id} on nodes 2 and 3 every 0.1 s: the seconds until the
#     job is running on another node (its `node` changed, `steps_done`
#     grew past what it had), within the TTL + 20 s. Until jobs are claimed
#     from the database by other nodes, it reports that the job did not
#     move.
# On this machine every node shares the same cores: the point is each
# node's overhead and the failover time, not a speed-up; the per-node
# figures are what a deployment of N machines multiplies. It prints
# figures and, as its last line,
#   sqlite_1node_sps=N pg_1node_sps=N pg_3node_sps=N lb_predict_rps=N
#   direct_predict_rps=N failover_s=N
# (NA where a part could not run). A benchmark measures and never judges:
# it exits 0 with a note when PostgreSQL, haproxy or curl is missing (wrk
# only for the predictions), and non-zero only when mlpd misbehaves.
set -u

. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../pg_cluster.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
STEPS=${BENCH_CLUSTER_STEPS:-4000}
TTL=${BENCH_CLUSTER_TTL:-3}
WRK_ARGS=(-t2 -c64 -d5s)

for t in curl haproxy; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "bench_cluster: $t is missing (Debian: $t); nothing measured"
		exit 0
	fi
done
if [ -z "$(pg_bindir)" ]; then
	echo "bench_cluster: PostgreSQL is not installed (Debian: postgresql); nothing measured"
	exit 0
fi
if [ ! -x "$MLPD" ]; then
	echo "bench_cluster: $MLPD is not an executable (set MLPD or builddir)" >&2
	exit 1
fi
if ! grep -q '^#define MLPD_HAVE_PG 1' "${builddir:-.}/autoconf.h" 2>/dev/null; then
	echo "bench_cluster: mlpd was built without PostgreSQL (libpq); nothing measured"
	exit 0
fi
lib_init bench_cluster

nodes=        # "pid" of every node started, for cleanup
lb_pid=
cleanup_extra='for _p in $nodes $lb_pid; do kill -9 $_p 2>/dev/null; wait $_p 2>/dev/null; done; pg_cluster_stop "$tmp/pg"'

die() {
	echo "bench_cluster: $*" >&2
	exit 1
}

pg_cluster_start "$tmp/pg" >/dev/null || die "PostgreSQL did not start"
db=$pg_conninfo

# node N DB [FLAGS...]: start node N (node_pid_N, node_base_N).
node() {
	local n=$1
	shift
	start_daemon "$@" --node-id "node$n" --log-level warn ||
	    die "node $n did not start: $(tail -n 3 "$tmp/mlpd.err")"
	mv "$tmp/mlpd.err" "$tmp/node$n.err"
	nodes="$nodes $pid"
	eval "node_pid_$n=$pid node_base_$n=$base"
	pid=
}

# stop_nodes: SIGTERM to every node, and wait for them.
stop_nodes() {
	local p
	for p in $nodes; do kill -TERM "$p" 2>/dev/null; done
	for p in $nodes; do wait "$p" 2>/dev/null; done
	nodes=
}

# on N: the next requests (req) go to node N.
on() {
	eval "base=\$node_base_$1"
}

# ms_of TIME: an RFC 3339 time as milliseconds since the epoch.
ms_of() {
	date -u -d "$1" +%s%3N
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	pg_free_port
}

ROW_WIDTH=256 rows 2048 1 >"$tmp/rows.json"
net='{"layers":[256,128,1],"activation":"sigmoid","loss":"mse","optimizer":"sgd","learning_rate":0.1,"seed":1}'

# train_round NAME NODE NODE NODE: a model per NODE (created and fed on
# it), then the three jobs POSTed at once, one to each NODE; prints the
# figures and sets sps (aggregate samples/s).
train_round() {
	local name=$1 k j t0 t1 s steps first last total
	shift
	local models=() jobs=() where=("$@")
	for k in 0 1 2; do
		on "${where[$k]}"
		req POST /v1/models "$net"
		[ "$code" = 201 ] || die "create on node ${where[$k]}: HTTP $code"
		models[$k]=$(jget id)
		req POST "/v1/models/${models[$k]}/batches" "@$tmp/rows.json"
		[ "$code" = 201 ] || die "push on node ${where[$k]}: HTTP $code"
	done
	for k in 0 1 2; do
		on "${where[$k]}"
		req POST "/v1/models/${models[$k]}/train" \
		    "{\"steps\":$STEPS,\"batch_size\":64}"
		[ "$code" = 202 ] || die "train on node ${where[$k]}: HTTP $code"
		jobs[$k]=$(jget id)
	done
	first=
	last=
	total=0
	for k in 0 1 2; do
		on "${where[$k]}"
		wait_job "${jobs[$k]}" 600 succeeded ||
		    die "$name: job ${jobs[$k]} ended $job_status"
		t0=$(ms_of "$(jget started_at)")
		t1=$(ms_of "$(jget finished_at)")
		steps=$(jget steps_done)
		s=$(awk -v n="$steps" -v ms=$((t1 - t0)) \
		    'BEGIN { printf "%.0f", (ms > 0 ? n * 64 / (ms / 1000) : 0) }')
		printf '  job %d on node %s: %s steps in %.3f s, %s samples/s\n' \
		    $((k + 1)) "${where[$k]}" "$steps" \
		    "$(awk -v ms=$((t1 - t0)) 'BEGIN { print ms / 1000 }')" "$s"
		[ -z "$first" ] || [ "$t0" -lt "$first" ] && first=$t0
		[ -z "$last" ] || [ "$t1" -gt "$last" ] && last=$t1
		total=$((total + steps))
	done
	sps=$(awk -v n="$total" -v ms=$((last - first)) \
	    'BEGIN { printf "%.0f", (ms > 0 ? n * 64 / (ms / 1000) : 0) }')
	printf '  %s: %d steps of 64 in %.3f s: %s samples/s together\n' \
	    "$name" "$total" "$(awk -v ms=$((last - first)) 'BEGIN { print ms / 1000 }')" "$sps"
}

echo "bench_cluster: $MLPD, $(nproc) cores, PostgreSQL $(basename "$(dirname "$(pg_bindir)")"), $(haproxy -v | head -n 1 | cut -d' ' -f1-3)"
echo "measured under load: this machine's cores are shared with other work; every node runs on them"

# ---------------------------------------------------------------------------
echo "training: 3 models [256,128,1], one job of $STEPS steps of batch 64 each"
node 1 "$tmp/one.db" --trainers 1
train_round "1 node, SQLite" 1 1 1
sqlite_sps=$sps
stop_nodes
node 1 "$db" --trainers 1
train_round "1 node, PostgreSQL" 1 1 1
pg1_sps=$sps
stop_nodes
for n in 1 2 3; do node $n "$db" --trainers 1 --lease-ttl "$TTL"; done
train_round "3 nodes, PostgreSQL" 1 2 3
pg3_sps=$sps
echo "  per node: $(awk -v a="$pg3_sps" 'BEGIN { printf "%.0f", a / 3 }') samples/s" \
    "(3 nodes on $(nproc) cores); PostgreSQL/SQLite on one node:" \
    "$(awk -v a="$pg1_sps" -v b="$sqlite_sps" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"

# ---------------------------------------------------------------------------
lb_rps=NA
direct_rps=NA
if ! command -v wrk >/dev/null 2>&1; then
	echo "predictions: wrk is missing (Debian: wrk); not measured"
else
	lb_port=$(free_port)
	MLPD_LB_BIND=127.0.0.1:$lb_port MLPD_LB_HOST=127.0.0.1 \
	MLPD_NODE1=${node_base_1#http://} MLPD_NODE2=${node_base_2#http://} \
	MLPD_NODE3=${node_base_3#http://} \
	    haproxy -db -f "$SRC/client_examples/cluster/haproxy.cfg" \
	    2>"$tmp/haproxy.err" &
	lb_pid=$!
	lb=http://127.0.0.1:$lb_port
	for _ in $(seq 100); do
		curl -fsS --noproxy '*' -o /dev/null "$lb/healthz" 2>/dev/null && break
		sleep 0.1
	done
	on 1
	req POST /v1/models "$net"
	pm=$(jget id)
	input=$(awk 'BEGIN { for (i = 0; i < 256; i++) printf "%s%g", (i ? "," : ""), i / 256 }')
	cat >"$tmp/predict.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"input":[$input]}'
wrk.headers["Content-Type"] = "application/json"
LUA
	echo "predictions: wrk ${WRK_ARGS[*]}, one row of 256 inputs, [256,128,1]"
	for target in haproxy direct; do
		if [ $target = haproxy ]; then u=$lb; else u=$node_base_1; fi
		wrk "${WRK_ARGS[@]}" -s "$tmp/predict.lua" "$u/v1/models/$pm/predict" \
		    >"$tmp/wrk_$target.txt" 2>&1 || die "wrk failed: $(cat "$tmp/wrk_$target.txt")"
		rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$tmp/wrk_$target.txt")
		errs=$(grep -E 'Non-2xx|Socket errors' "$tmp/wrk_$target.txt")
		printf '  %-8s %8s req/s%s\n' "$target" "$rps" "${errs:+   ($errs)}"
		if [ $target = haproxy ]; then lb_rps=$rps; else direct_rps=$rps; fi
	done
	echo "  through HAProxy (3 nodes, round robin) / one node direct:" \
	    "$(awk -v a="$lb_rps" -v b="$direct_rps" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
	kill -TERM "$lb_pid" 2>/dev/null
	wait "$lb_pid" 2>/dev/null
	lb_pid=
fi

# ---------------------------------------------------------------------------
echo "failover: kill -9 of the node running a job (--lease-ttl $TTL)"
failover=NA
on 1
req POST /v1/models "$net"
fm=$(jget id)
req POST "/v1/models/$fm/batches" "@$tmp/rows.json"
req POST "/v1/models/$fm/train" '{"steps":100000000,"batch_size":64}'
[ "$code" = 202 ] || die "the failover job: HTTP $code"
fj=$(jget id)
stepped() {
	req GET "/v1/jobs/$fj"
	[ "$(jget status)" = running ] && gt "$(jget steps_done)" 0
}
for _ in $(seq 100); do stepped && break; sleep 0.1; done
# the last checkpoint stays: let one be written past the first steps
sleep 1.5
req GET "/v1/jobs/$fj"
before=$(jget steps_done)
kill -9 "$node_pid_1"
wait "$node_pid_1" 2>/dev/null
t_kill=$(date +%s%3N)
nodes=${nodes/ $node_pid_1/}
limit=$((TTL + 20))
moved=
seen=
while [ $(($(date +%s%3N) - t_kill)) -lt $((limit * 1000)) ]; do
	for n in 2 3; do
		on $n
		req GET "/v1/jobs/$fj"
		[ "$code" = 200 ] || continue
		now_node=$(jget node)
		seen="node $n: $(jget status) on $now_node at step $(jget steps_done)"
		if [ "$now_node" != node1 ] && [ "$(jget status)" = running ]; then
			[ -n "$moved" ] || moved=$n:$(jget steps_done)
			if gt "$(jget steps_done)" "${moved#*:}"; then
				failover=$(awk -v ms=$(($(date +%s%3N) - t_kill)) \
				    'BEGIN { printf "%.1f", ms / 1000 }')
				break 2
			fi
		fi
	done
	sleep 0.1
done
if [ "$failover" != NA ]; then
	echo "  the job ran again on node${moved%%:*} after $failover s" \
	    "(lease $TTL s; resumed from step ${moved#*:}, $before when killed)"
else
	echo "  the job did not move to another node within $limit s" \
	    "(${seen:-GET /v1/jobs/$fj answers 404 on nodes 2 and 3: jobs are not claimed across nodes yet})"
fi
stop_nodes

echo "sqlite_1node_sps=$sqlite_sps pg_1node_sps=$pg1_sps pg_3node_sps=$pg3_sps lb_predict_rps=$lb_rps direct_predict_rps=$direct_rps failover_s=$failover"
