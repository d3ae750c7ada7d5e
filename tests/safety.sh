#!/bin/sh
# safety.sh: mlpd against browsers, odd framing and a second daemon
# (issue 12), on the real binary with curl and raw sockets.
#
#   1. DNS rebinding: without a token a Host that names no address of
#      the daemon is refused 421 and nothing changes; IP literals,
#      localhost and --allowed-hosts names pass; with a token any Host.
#   2. Cross-site writes: a POST/PUT/DELETE from a foreign Origin is
#      refused 403 and nothing changes; the daemon's own origin passes;
#      --cors-origin origins pass, get Access-Control-Allow-Origin and a
#      preflight answer.
#   3. Framing (RFC 9112): Content-Length with Transfer-Encoding, two
#      Content-Lengths that disagree, or a bad one: 400 and the connection
#      closed, and a request smuggled behind is never run.
#   4. HEAD answers every GET route (headers, no body), counted in
#      /metrics under the route with method="HEAD".
#   5. An encoded slash inside a path segment is 400, not a separator.
#   6. A second daemon on the same database refuses to start within a
#      second, naming the file and the holder's pid; sqlite3 still reads.
set -u

. "${srcdir:-$(dirname "$0")/..}/tests/lib.sh"
lib_init safety

need_tools curl python3 sqlite3 "$MLPD"
xor='{"inputs":[[0,0],[0,1],[1,0],[1,1]],"targets":[[0],[1],[1],[0]]}'

# hreq METHOD PATH [CURL ARGS...]: a request with extra curl arguments;
# sets code, body in $tmp/body, headers in $tmp/headers.
hreq() {
	_m="-X $1"
	[ "$1" = HEAD ] && _m=--head
	_p=$2
	shift 2
	# shellcheck disable=SC2086
	code=$(curl -sS --noproxy '*' --max-time 30 -o "$tmp/body" \
	    -D "$tmp/headers" -w '%{http_code}' $_m "$@" "$base$_p" \
	    2>/dev/null) || code=000
}

# models: how many models the daemon holds now.
models() {
	curl -sS --noproxy '*' "$base/v1/models" | grep -o '"id":"m' | wc -l |
	    tr -d ' '
}

# raw BYTES-FILE: sends the file on one connection, prints all that comes
# back until the server closes (or 3 s pass), then "CLOSED" or "OPEN".
raw() {
	python3 - "${base##*:}" "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(open(sys.argv[2], "rb").read())
s.settimeout(3)
data, closed = b"", False
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            closed = True
            break
        data += chunk
except socket.timeout:
    pass
sys.stdout.write(data.decode("utf-8", "replace"))
print("\n" + ("CLOSED" if closed else "OPEN"))
PY
}

start "$tmp/a.db" --allowed-hosts mlpd.internal \
    --cors-origin https://app.example:8443
port=${base##*:}

# 1. DNS rebinding
n0=$(models)
hreq POST /v1/models -H 'Host: attacker.example' \
    -H 'Origin: http://attacker.example' -H 'Content-Type: application/json' \
    -d '{"layers":[2,2,1]}'
check "Host attacker.example: 421" "$code" 421
check "its error is JSON host_not_allowed" "$(jget code)" host_not_allowed
check "and no model was created" "$(models)" "$n0"
hreq GET /v1/models -H 'Host: attacker.example'
check "a read through a rebinding name is refused too" "$code" 421
for h in "127.0.0.1:$port" "localhost:$port" "localhost" "[::1]:$port" \
    "mlpd.internal:$port"; do
	hreq GET /healthz -H "Host: $h"
	check "Host $h passes" "$code" 200
done

# 2. cross-site writes
hreq POST /v1/models -H 'Origin: http://attacker.example' \
    -H 'Content-Type: application/json' -d '{"layers":[2,2,1]}'
check "POST from a foreign origin: 403" "$code" 403
check "its error is origin_not_allowed" "$(jget code)" origin_not_allowed
check "and no model was created" "$(models)" "$n0"
hreq POST /v1/models -H "Origin: http://127.0.0.1:$port" \
    -H 'Content-Type: application/json' -d '{"layers":[2,2,1]}'
check "POST from the daemon's own origin (the dashboard): 201" "$code" 201
m=$(jget id)
hreq DELETE "/v1/models/$m" -H 'Origin: http://127.0.0.1:1'
check "DELETE from another port's origin: 403" "$code" 403
hreq GET "/v1/models/$m"
check "and the model is still there" "$code" 200
hreq POST "/v1/models/$m/batches" -H 'Origin: https://app.example:8443' \
    -H 'Content-Type: application/json' -d "$xor"
check "POST from a --cors-origin origin: 201" "$code" 201
check "with Access-Control-Allow-Origin" \
    "$(tr -d '\r' <"$tmp/headers" | sed -n 's/^Access-Control-Allow-Origin: //ip')" \
    https://app.example:8443
hreq OPTIONS "/v1/models/$m/batches" -H 'Origin: https://app.example:8443' \
    -H 'Access-Control-Request-Method: POST'
check "its preflight: 204" "$code" 204
check_true "the preflight allows POST" \
    grep -qi '^Access-Control-Allow-Methods:.*POST' "$tmp/headers"
hreq OPTIONS "/v1/models/$m/batches" -H 'Origin: http://attacker.example'
check "a preflight from elsewhere: 405, no CORS" "$code" 405
check_true "no Access-Control-Allow-Origin for it" \
    sh -c "! grep -qi '^Access-Control-Allow-Origin' '$tmp/headers'"

# 3. framing
n1=$(models)
printf 'POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n12\r\n{"layers":[2,2,1]}\r\n0\r\n\r\nPOST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n{"layers":[2,2,1]}' \
    >"$tmp/smuggle"
raw "$tmp/smuggle" >"$tmp/out"
check "Content-Length with Transfer-Encoding: 400" \
    "$(head -n 1 "$tmp/out" | tr -d '\r')" "HTTP/1.1 400 Bad Request"
check_true "as a JSON bad_framing error" grep -q '"bad_framing"' "$tmp/out"
check "one answer, then the connection is closed" \
    "$(grep -c '^HTTP/1.1' "$tmp/out") $(tail -n 1 "$tmp/out")" "1 CLOSED"
check "the smuggled request never ran" "$(models)" "$n1"
printf 'POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 18\r\nContent-Length: 2\r\n\r\n{"layers":[2,2,1]}' \
    >"$tmp/twolen"
raw "$tmp/twolen" >"$tmp/out"
check "two Content-Lengths that disagree: 400" \
    "$(head -n 1 "$tmp/out" | tr -d '\r')" "HTTP/1.1 400 Bad Request"
check "and closed" "$(tail -n 1 "$tmp/out")" CLOSED
printf 'POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{"layers":[2,2,1]}' \
    >"$tmp/neglen"
raw "$tmp/neglen" >"$tmp/out"
check "Content-Length -1: 400 (libmicrohttpd's own answer)" \
    "$(head -n 1 "$tmp/out" | tr -d '\r')" "HTTP/1.1 400 Bad Request"
check "and closed" "$(tail -n 1 "$tmp/out")" CLOSED
check "no model from any of them" "$(models)" "$n1"

# 4. HEAD
hreq GET /v1/models
getlen=$(tr -d '\r' <"$tmp/headers" | sed -n 's/^Content-Length: //ip')
hreq HEAD /v1/models
check "HEAD /v1/models: 200" "$code" 200
printf 'HEAD /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' \
    >"$tmp/head"
raw "$tmp/head" >"$tmp/out"
check "no body after the headers" \
    "$(sed '1,/^\r$/d' "$tmp/out" | tr -d '\n')" CLOSED
check "the GET's Content-Length" \
    "$(tr -d '\r' <"$tmp/headers" | sed -n 's/^Content-Length: //ip')" "$getlen"
check_true "and its ETag" grep -qi '^ETag:' "$tmp/headers"
hreq HEAD "/v1/models/$m/loss"
check "HEAD of the loss history (a worker route): 200" "$code" 200
hreq HEAD /healthz
check "HEAD /healthz: 200" "$code" 200
curl -sS --noproxy '*' "$base/metrics" >"$tmp/metrics"
check_true "/metrics counts HEAD under its route" grep -q \
    'mlpd_http_requests_total{route="/v1/models",method="HEAD",code="200"} 2$' \
    "$tmp/metrics"

# 5. an encoded slash
hreq DELETE "/v1/models/$m%2Fbatches"
check "DELETE /v1/models/M%2Fbatches: 400" "$code" 400
check "invalid_path" "$(jget code)" invalid_path
hreq GET "/v1/models/$m/batches"
check_true "the batches are still there" grep -q '"samples"' "$tmp/body"

# 6. one daemon per database file
t0=$(date +%s%N)
timeout 5 "$MLPD" --listen 127.0.0.1:0 --db "$tmp/a.db" >"$tmp/second.out" 2>&1
rc=$?
t1=$(date +%s%N)
check "a second daemon on the same file exits 1" "$rc" 1
check_true "within a second" [ $(((t1 - t0) / 1000000)) -lt 1000 ]
check_true "naming the file" grep -q "$tmp/a.db" "$tmp/second.out"
check_true "and the holder's pid ($pid)" grep -q "pid $pid" "$tmp/second.out"
check "the sqlite3 shell still reads the file" \
    "$(sqlite3 "$tmp/a.db" 'SELECT count(*) FROM models')" "$(models)"
hreq GET /healthz
check "the first daemon goes on" "$code" 200
stop_term "mlpd exits 0"
start "$tmp/a.db"
check "after it stopped, the file opens again" "$(models)" "$((n1))"
kill9
start "$tmp/a.db"
ok "after a kill -9 the lock is gone too"
stop_term "mlpd exits 0"

# with a token, Host is free
printf '0123456789abcdef0123456789abcdef' >"$tmp/token"
chmod 600 "$tmp/token"
start "$tmp/b.db" --token-file "$tmp/token"
hreq GET /v1/models -H 'Host: attacker.example' \
    -H 'Authorization: Bearer 0123456789abcdef0123456789abcdef'
check "with a token, any Host" "$code" 200
stop_term "mlpd exits 0"
finish
