#!/bin/sh
# conn_budget.sh: idle connections from one address do not lock out the
# clients that use the daemon (issue 12, "Connection budget"). Before the
# fix, 256 sockets from 127.0.0.1 that never sent a byte filled
# --max-connections-per-ip, and a token holder (or the dashboard) was
# refused for a minute. Connections that have not yet sent a request
# (with --token-file: a request with the token) now count against the
# smaller --max-idle-per-ip and are closed first, oldest first, when their
# address nears --max-connections-per-ip.
#   1. --token-file: 300 idle sockets from 127.0.0.1, then a request with
#      the token gets 200 within 2 s, twice; the idle ones are cut down to
#      --max-idle-per-ip (8 here) within a few seconds; and while they
#      are reopened as fast as they close, 10 requests with the token in
#      a row get 200.
#   2. no token: the same, and a client that sends requests gets 200;
#      /metrics counts the sockets the budget closed.
#   3. the idle budget does not close connections that send requests:
#      40 connections (more than the budget) that each send a request
#      after 0.3 s all get 200.

. "${srcdir:-.}/tests/lib.sh"
lib_init conn_budget
require "$MLPD" curl python3

holder=
cleanup_extra='[ -n "$holder" ] && kill "$holder" 2>/dev/null'

# hold N [refill]: opens N sockets to the daemon that never send a byte
# and keeps them (with refill, opens a new one for each that is closed);
# $tmp/open holds how many are still open, every 0.2 s.
hold() {
	python3 - "$port" "$1" "$tmp/open" "${2:-}" <<'PY' &
import os, socket, sys, time
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
refill = sys.argv[4] == "refill"
socks = []
def fill():
    while len(socks) < n:
        s = socket.socket()
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
fill()
while True:
    if refill:
        fill()
    alive = []
    for s in socks:
        try:
            if s.recv(1, socket.MSG_PEEK) == b"":
                s.close()
                continue
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        alive.append(s)
    socks = alive
    with open(path + ".new", "w") as f:
        f.write("%d\n" % len(socks))
    os.rename(path + ".new", path)
    time.sleep(0.02 if refill else 0.2)
PY
	holder=$!
	_i=0
	while [ ! -s "$tmp/open" ] && [ $_i -lt 100 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
}

unhold() {
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	holder=
	rm -f "$tmp/open"
}

# tget PATH: GET with the token, at most 2 s; sets code.
tget() {
	code=$(curl -sS --noproxy '*' --max-time 2 -o "$tmp/body" \
	    -w '%{http_code}' -H "Authorization: Bearer $token" \
	    "$base$1" 2>/dev/null) || code=000
}

# idle_down N: waits (5 s at most) until at most N held sockets are open.
idle_down() {
	_i=0
	while [ $_i -lt 50 ]; do
		[ "$(cat "$tmp/open")" -le "$1" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# 1. a token holder
token=conn-budget-token-0123456789abcdef
printf '%s\n' "$token" >"$tmp/token"
chmod 600 "$tmp/token"
start "$tmp/db" --token-file "$tmp/token" --max-idle-per-ip 8
hold 300
sleep 0.3
tget /v1/models
check "a token holder gets through 300 idle sockets" "$code" 200
tget /v1/models
check "... and again" "$code" 200
idle_down 8
check_true "the idle sockets are cut to --max-idle-per-ip ($(cat \
    "$tmp/open") open, 8 allowed)" test "$(cat "$tmp/open")" -le 8
req GET /healthz
check "an open path without the token still answers" "$code" 200
unhold
# the idle ones come back as fast as they are closed
hold 300 refill
sleep 0.5
n=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	tget /v1/models
	[ "$code" = 200 ] && n=$((n + 1))
	sleep 0.1
done
check "against 300 idle sockets reopened as they close, 10 requests with \
the token get 200" "$n" 10
unhold
stop_term "mlpd exits 0 on SIGTERM"

# 2. no token: a client that sends requests
start "$tmp/db"
hold 300
sleep 0.3
req GET /healthz
check "without a token, a client that sends a request gets through" \
    "$code" 200
req POST /v1/models '{"layers":[2,2,1]}'
check "... and can create a model" "$code" 201
idle_down 32
check_true "the idle sockets are cut to the default --max-idle-per-ip \
($(cat "$tmp/open") open, 32 allowed)" test "$(cat "$tmp/open")" -le 32
req GET /metrics
closed=$(sed -n 's/^mlpd_http_connections_closed_total{reason="idle_budget"} //p' \
    "$tmp/body")
check_true "/metrics counts the idle sockets the budget closed (${closed:-none})" \
    test "${closed:-0}" -ge 100
check "/metrics: no request was slow enough to be closed" \
    "$(sed -n 's/^mlpd_http_connections_closed_total{reason="slow_request"} //p' \
    "$tmp/body")" 0
unhold

# 3. connections that send their request are not cut by the budget
python3 - "$port" >"$tmp/burst" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
time.sleep(0.3)
for s in socks:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
good = 0
for s in socks:
    s.settimeout(3)
    try:
        if s.recv(64).startswith(b"HTTP/1.1 200"):
            good += 1
    except OSError:
        pass
print(good)
PY
check "40 connections that send a request after 0.3 s all get 200" \
    "$(cat "$tmp/burst")" 40
stop_term "mlpd exits 0 on SIGTERM"
finish
