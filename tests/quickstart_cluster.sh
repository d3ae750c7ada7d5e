#!/bin/sh
# quickstart_cluster.sh: `./quickstart.sh cluster` end to end. It starts
# the throwaway cluster (PostgreSQL, three nodes, HAProxy on a free port)
# in the background with this build's mlpd (MLPD: no package check or
# build), waits for the URL it prints, and then, all through HAProxy:
#   1. creates a model, pushes rows, trains a job to its end (its GET
#      polled through the balancer), predicts at the job's last step and
#      reads the whole loss history back (steps 1..N exactly);
#   2. GET /metrics answers name more than one node (mlpd_node_info), so
#      requests reached several nodes;
#   3. an event stream opens (": ok") through HAProxy;
#   4. SIGINT: the script exits within 40 s, no process whose command line
#      names its temp directory (mlpd, postgres, haproxy) is left, and the
#      directory is gone.
# Skipped (77) when PostgreSQL or haproxy is missing, mlpd was built
# without libpq or env(1) cannot reset SIGINT (--default-signal). The last line is "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_cluster.sh"
HINT="Debian: apt-get install curl"
require curl "$MLPD"
if ! grep -q '^#define MLPD_HAVE_PG 1' "${builddir:-.}/autoconf.h" 2>/dev/null; then
	echo "quickstart_cluster: built without PostgreSQL (libpq): skipped"
	exit 77
fi
if [ -z "$(pg_bindir)" ] || ! have haproxy; then
	echo "quickstart_cluster: PostgreSQL or haproxy is not installed: skipped"
	exit 77
fi
if ! env --default-signal=INT true 2>/dev/null; then
	echo "quickstart_cluster: env has no --default-signal (coreutils 8.31+): skipped"
	exit 77
fi
case $MLPD in
/*) ;;
*) MLPD=$(pwd)/$MLPD ;;
esac
lib_init quickstart_cluster

qs=$(cd "$(dirname "$0")/.." && pwd)/quickstart.sh
qs_pid=
cl_dir=
# leftovers of a failed run, by process id: the quick start itself and
# whatever names its directory
cleanup_extra='[ -n "$qs_pid" ] && kill -9 $qs_pid 2>/dev/null
for _p in $(leftovers); do kill -9 $_p 2>/dev/null; done
[ -n "$cl_dir" ] && rm -rf "$cl_dir"'

# leftovers: the ids of processes whose command line names $cl_dir.
leftovers() {
	[ -n "$cl_dir" ] || return 0
	ps -eo pid=,args= >"$tmp/ps"
	grep -F -- "$cl_dir" "$tmp/ps" | awk '{ print $1 }'
}

lb_port=$(pg_free_port)
# started from a script, a background job ignores SIGINT (and a shell
# cannot trap what it started ignoring): give it back its default, as a
# terminal's Ctrl-C finds it
MLPD=$MLPD env --default-signal=INT sh "$qs" cluster --port "$lb_port" \
    --checkpoint-every 0.2 --log-level warn >"$tmp/qs.out" 2>"$tmp/qs.err" &
qs_pid=$!
url=
i=0
while [ $i -lt 600 ] && kill -0 $qs_pid 2>/dev/null; do
	url=$(sed -n 's|^mlpd cluster: \(http://[^ ]*\)/ .*|\1|p' "$tmp/qs.out")
	[ -n "$url" ] && break
	sleep 0.1
	i=$((i + 1))
done
cl_dir=$(sed -n 's|^quickstart: cluster in ||p' "$tmp/qs.err")
if [ -z "$url" ]; then
	bad "quickstart.sh cluster prints its URL within 60 s" \
	    "$(tail -n 5 "$tmp/qs.err" | tr '\n' ' ')"
	finish
fi
check "the URL is HAProxy's port" "$url" "http://127.0.0.1:$lb_port"
base=$url

# ---------------------------------------------------------------------------
echo "== a model trained and read through HAProxy"
req POST /v1/models '{"name":"qs","layers":[2,8,1],"learning_rate":0.5,"seed":3}'
check "create is 201" "$code" 201
m=$(jget id)
req POST "/v1/models/$m/batches" "$(rows 64)"
check "push is 201" "$code" 201
req POST "/v1/models/$m/train" '{"steps":300,"batch_size":16}'
check "train is 202" "$code" 202
j=$(jget id)
wait_job "$j" 30 succeeded
check "the job succeeded (polled through HAProxy)" "$job_status" succeeded
# a node that did not train it predicts from the checkpoint once its
# --peer-sync poll saw it (1 s)
at300() {
	req POST "/v1/models/$m/predict" '{"inputs":[[0.5,0.25]]}'
	[ "$code" = 200 ] && [ "$(jget step)" = 300 ]
}
n=0
while [ $n -lt 3 ]; do
	k=0
	while [ $k -lt 50 ] && ! at300; do
		sleep 0.1
		k=$((k + 1))
	done
	n=$((n + 1))
	[ $k -lt 50 ] || break
done
check "three predictions in a row answer at step 300" "$n $code $(jget step)" "3 200 300"
if history "$m" && steps_are_1_to 300; then
	ok "the loss history is steps 1..300"
else
	bad "the loss history is steps 1..300" "$(wc -l <"$tmp/steps") points"
fi

# ---------------------------------------------------------------------------
echo "== requests reach several nodes"
: >"$tmp/nodes"
for _ in 1 2 3 4 5 6; do
	req GET /metrics
	sed -n 's/^mlpd_node_info{node="\([^"]*\)".*/\1/p' "$tmp/body" >>"$tmp/nodes"
done
nn=$(sort -u "$tmp/nodes" | wc -l)
check_true "6 GET /metrics were answered by more than one node ($(sort -u "$tmp/nodes" | tr '\n' ' '))" gt "$nn" 1

# ---------------------------------------------------------------------------
echo "== an event stream through HAProxy"
curl -sS -N --noproxy '*' --max-time 2 -o "$tmp/sse" "$base/v1/events" 2>/dev/null
check "GET /v1/events opens with \": ok\"" "$(head -n 1 "$tmp/sse")" ": ok"

# ---------------------------------------------------------------------------
echo "== SIGINT stops it all"
kill -INT $qs_pid
i=0
while [ $i -lt 400 ] && kill -0 $qs_pid 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $qs_pid 2>/dev/null; then
	bad "quickstart.sh exits within 40 s of SIGINT"
else
	wait $qs_pid
	rc=$?
	qs_pid=
	check "quickstart.sh exits after SIGINT with status 130" "$rc" 130
fi
check "no process of the cluster is left" "$(leftovers | tr '\n' ' ')" ""
check_true "its temp directory is gone ($cl_dir)" \
    test -n "$cl_dir" -a ! -e "$cl_dir"
finish
