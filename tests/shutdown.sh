#!/bin/sh
# shutdown.sh: SIGTERM while clients hold the connection limit, many rounds.
#
# Each round starts mlpd on a fresh database with a small connection limit
# (--max-connections 12) and two HTTP threads, trains a long job until it
# has made progress, brings the HTTP threads to the limit with clients
# that send half a request and wait while others open and close
# connections as fast as they can, and sends SIGTERM. Every round
# must exit 0 within 10 s (libmicrohttpd's MHD_quiesce_daemon used to
# abort the process here now and then: "Failed to remove listen FD from
# epoll set", SIGABRT), and the database must show the job interrupted
# after its last checkpoint: the model's stored step equals the job's
# steps_done, both above 0. SHUTDOWN_ROUNDS sets the rounds (default 12).
set -u

. "${srcdir:-$(dirname "$0")/..}/tests/lib.sh"
lib_init shutdown
hold=
cleanup_extra='[ -n "$hold" ] && kill "$hold" 2>/dev/null'

need_tools python3 curl sqlite3 "$MLPD"
rounds=${SHUTDOWN_ROUNDS:-12}
xor='{"inputs":[[0,0],[0,1],[1,0],[1,1]],"targets":[[0],[1],[1],[0]]}'

# hold_limit PORT: ten clients send half a request and wait, so that the
# HTTP threads sit at their share of the limit, while four more open,
# use and close connections as fast as they can: the threads keep taking
# the listen socket out of their epoll sets and putting it back. For 20 s
# at most, or until killed.
hold_limit() {
	python3 - "$1" <<'PY' &
import socket, sys, threading, time
port = int(sys.argv[1])
end = time.monotonic() + 20
held = []
for _ in range(10):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        held.append(s)
    except OSError:
        pass
def knock():
    while time.monotonic() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Connection: close\r\n\r\n")
            s.recv(4096)
            s.close()
        except OSError:
            time.sleep(0.001)
for _ in range(4):
    threading.Thread(target=knock, daemon=True).start()
while time.monotonic() < end:
    time.sleep(0.1)
PY
	hold=$!
}

r=1
while [ "$r" -le "$rounds" ]; do
	db=$tmp/r$r.db
	if ! start_daemon "$db" --max-connections 12 \
	    --max-connections-per-ip 0 --http-threads 2 \
	    --checkpoint-every 0.2; then
		bad "round $r: mlpd starts" "$(tail -n 3 "$tmp/mlpd.err")"
		break
	fi
	req POST /v1/models '{"layers":[2,8,1]}'
	m=$(jget id)
	req POST "/v1/models/$m/batches" "$xor"
	req POST "/v1/models/$m/train" '{"steps":1000000000,"batch_size":4}'
	j=$(jget id)
	# progress first, so that the last checkpoint has something to save
	i=0
	while [ $i -lt 100 ]; do
		req GET "/v1/jobs/$j"
		[ "$(jget steps_done)" != 0 ] && [ -n "$(jget steps_done)" ] &&
		    break
		sleep 0.05
		i=$((i + 1))
	done
	hold_limit "${base##*:}"
	sleep 0.3
	stop_term "round $r: mlpd exits 0 on SIGTERM at the connection limit"
	kill "$hold" 2>/dev/null
	wait "$hold" 2>/dev/null
	hold=
	got=$(sqlite3 "$db" "SELECT j.status, j.steps_done > 0,
	    j.steps_done = m.step FROM jobs j JOIN models m ON m.id =
	    j.model_id WHERE j.id = '$j'" 2>&1)
	check "round $r: the job ends interrupted at its last checkpoint \
(status|progress|checkpointed)" "$got" "interrupted|1|1"
	r=$((r + 1))
done
finish
