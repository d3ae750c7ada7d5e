#!/bin/sh
# auth_tls.sh: who gets in. The access token, the refusal of an exposed
# address without one, and HTTPS.
#
# Everything is made here, in a private directory: a random 32-character
# token (file mode 600) and a throwaway self-signed certificate for
# 127.0.0.1 (openssl, or certtool from gnutls-bin). Each daemon is
# $builddir/server/mlpd on a free port of 127.0.0.1 (or of 0.0.0.0, which
# is only listened on: every request goes to 127.0.0.1).
#   1. --token-file at --log-level debug: 401 unauthorized with
#      WWW-Authenticate: Bearer realm="mlpd" (and error="invalid_token" for
#      a wrong one) without the token, with a wrong token, with a prefix of
#      the token, with the token and one byte more, with another scheme;
#      200 with it (the scheme in any case). The 401 comes before routing
#      errors and body checks (404, 405, 413, 415) and a refused POST
#      changes nothing. /healthz and / stay open, /metrics is guarded.
#      The event streams take ?access_token= (and only they do). After
#      SIGTERM (exit 0) the daemon's stderr holds neither the token nor
#      any prefix of it of 8 bytes or more. client_examples/ (curl and
#      Python) run their whole walkthrough with MLPD_TOKEN.
#   2. The dashboard page in headless Chromium against that daemon: without
#      a token it shows its token prompt; opened as /#access_token=TOKEN it
#      lists the model (so fetch() sends the token).
#   3. Token files: MLPD_TOKEN_FILE works like --token-file; a token
#      shorter than 16 bytes, an empty one and a missing file stop mlpd
#      (exit 1) with a message that never quotes the token; a file others
#      may read draws a warning.
#   4. Exposure: --listen 0.0.0.0 and [::] without a token exit 2 and say
#      why; with --insecure, or with a token, 0.0.0.0 is served; other
#      loopback addresses (127.0.0.2, localhost) need nothing.
#   5. TLS: with --tls-cert/--tls-key the startup line says https://, HTTPS
#      with the certificate as CA works (token, events), plain HTTP to the
#      same port fails, and so does HTTPS without trusting the certificate.
#      A key that does not match the certificate, a file that is not PEM
#      and --tls-cert without --tls-key are refused with a clear message.
# The last line is "N passed, M failed"; the exit status is 1 when a check
# failed. A missing tool is a hard error (exit 99). No daemon outlives the
# script.
set -u

. "$(dirname "$0")/lib.sh"
CHROMIUM=${CHROMIUM:-chromium}

HINT="Debian packages curl chromium python3 coreutils; ./quickstart.sh \
check installs them"
require curl "$CHROMIUM" python3 timeout od "$MLPD"
if command -v openssl >/dev/null 2>&1; then
	certmaker=openssl
elif command -v certtool >/dev/null 2>&1; then
	certmaker=certtool
else
	echo "auth_tls: neither openssl nor certtool found (Debian package" \
	    "openssl or gnutls-bin)" >&2
	exit 99
fi
lib_init auth

# launch NAME ARGS...: starts mlpd with ARGS (stderr in $tmp/NAME.err),
# sets pid, scheme and port; returns 1 when no startup line came in 10 s.
launch() {
	_name=$1
	shift
	: >"$tmp/$_name.err"
	"$MLPD" "$@" 2>"$tmp/$_name.err" &
	pid=$!
	port=
	_i=0
	while [ $_i -lt 100 ]; do
		_line=$(sed -n 's|^mlpd listening on \(https*\)://.*:\([0-9][0-9]*\)$|\1 \2|p' \
		    "$tmp/$_name.err")
		if [ -n "$_line" ]; then
			scheme=${_line% *}
			port=${_line#* }
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "auth_tls: mlpd $* did not start; its stderr:" >&2
	cat "$tmp/$_name.err" >&2
	return 1
}
# stop: SIGTERM, and the exit status in $stopped.
stop() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	stopped=$?
	pid=
}
# refused NAME ARGS...: runs mlpd that must not start; sets $rc, stderr in
# $tmp/NAME.err.
refused() {
	_name=$1
	shift
	timeout -k 2 10 "$MLPD" "$@" 2>"$tmp/$_name.err" >/dev/null
	rc=$?
}

# creq METHOD PATH [CURL ARGS...]: one request to $base; sets code, body in
# $tmp/body, headers in $tmp/headers ("000" when no HTTP answer came).
creq() {
	_m=$1
	_p=$2
	shift 2
	code=$(curl -sS --noproxy '*' --max-time 10 -o "$tmp/body" \
	    -D "$tmp/headers" -w '%{http_code}' -X "$_m" "$@" "$base$_p" \
	    2>"$tmp/curl.err") || code=000
}
# stream PATH [CURL ARGS...]: the status of an event stream read for at
# most 1 s; its headers are in $tmp/headers.
stream() {
	_p=$1
	shift
	curl -sS --noproxy '*' --max-time 1 -o /dev/null -D "$tmp/headers" \
	    "$@" "$base$_p" 2>/dev/null
	code=$(tr -d '\r' <"$tmp/headers" | sed -n 's|^HTTP/[0-9.]* \([0-9]*\).*|\1|p' |
	    head -n 1)
	code=${code:-000}
}

# The token: 32 hex digits from the kernel's generator.
token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
printf '%s\n' "$token" >"$tmp/token"
chmod 600 "$tmp/token"
auth="Authorization: Bearer $token"
prefix=$(printf '%s' "$token" | cut -c1-31)
json='Content-Type: application/json'

# ---------------------------------------------------------------------------
# 1. the token
# ---------------------------------------------------------------------------
if ! launch tok --listen 127.0.0.1:0 --db "$tmp/tok.db" \
    --token-file "$tmp/token" --log-level debug; then
	bad "mlpd --token-file starts"
	finish
fi
base=http://127.0.0.1:$port
ok "mlpd --token-file listening on port $port"

creq GET /v1/models
check "no token: 401" "$code" 401
check "no token: WWW-Authenticate" "$(header WWW-Authenticate)" \
    'Bearer realm="mlpd"'
check_grep "no token: error code unauthorized" "$tmp/body" '"code":"unauthorized"'
check "no token: JSON" "$(header Content-Type)" application/json

wrong=$(printf '%s' "$token" | tr '0-9a-f' '1-9a-f0')
creq GET /v1/models -H "Authorization: Bearer $wrong"
check "a wrong token of the same length: 401" "$code" 401
check "a wrong token: WWW-Authenticate says invalid_token" \
    "$(header WWW-Authenticate)" 'Bearer realm="mlpd", error="invalid_token"'
creq GET /v1/models -H "Authorization: Bearer $prefix"
check "a prefix of the token: 401" "$code" 401
creq GET /v1/models -H "Authorization: Bearer ${token}0"
check "the token and one byte more: 401" "$code" 401
creq GET /v1/models -H "Authorization: Bearer "
check "an empty bearer token: 401" "$code" 401
creq GET /v1/models -H "Authorization: Basic $(printf 'x:%s' "$token" | base64)"
check "another scheme: 401" "$code" 401
creq GET /v1/models -H "Authorization: $token"
check "the token without a scheme: 401" "$code" 401

creq GET /v1/models -H "$auth"
check "the token: 200" "$code" 200
creq GET /v1/models -H "Authorization: bearer   $token"
check "the token, scheme in lower case and spaces: 200" "$code" 200

# a refused write changes nothing; the 401 comes before the body is looked at
creq POST /v1/models -H "$json" -d '{"layers":[2,3,1]}'
check "POST without the token: 401" "$code" 401
creq POST /v1/models -H "$json" -H "Authorization: Bearer $prefix" \
    -d '{"layers":[2,3,1]}'
check "POST with a prefix of the token: 401" "$code" 401
creq GET /v1/models -H "$auth"
check "the refused POSTs created nothing" "$(tr -d ' \n' <"$tmp/body")" \
    '{"models":[]}'
creq POST /v1/models -H 'Content-Type: text/plain' -d 'x'
check "a wrong content type without the token: 401, not 415" "$code" 401
creq POST /v1/models -H "$json" -H 'Content-Length: 100000000000' -d 'x'
check "a huge Content-Length without the token: 401, not 413" "$code" 401
creq GET /v1/no/such/route
check "an unknown /v1 path without the token: 401, not 404" "$code" 401
creq GET /v1/no/such/route -H "$auth"
check "an unknown /v1 path with the token: 404" "$code" 404
creq PATCH /v1/models
check "a wrong method without the token: 401, not 405" "$code" 401
creq PATCH /v1/models -H "$auth"
check "a wrong method with the token: 405" "$code" 405

creq POST /v1/models -H "$json" -H "$auth" -d '{"layers":[2,3,1]}'
check "POST with the token: 201" "$code" 201
model=$(grep -o '"id":"m[0-9a-f]*"' "$tmp/body" | head -n 1 | cut -d'"' -f4)
creq GET "/v1/models/$model"
check "GET a model without the token: 401" "$code" 401
creq DELETE "/v1/models/$model"
check "DELETE a model without the token: 401" "$code" 401
creq GET "/v1/models/$model" -H "$auth"
check "the model is still there" "$code" 200

creq GET /healthz
check "/healthz stays open" "$code" 200
creq GET /
check "/ (the page) stays open" "$code" 200
check "/ is the page" "$(header Content-Type)" "text/html; charset=utf-8"
creq GET /metrics
check "/metrics without the token: 401" "$code" 401
creq GET /metrics -H "Authorization: Bearer $wrong"
check "/metrics with a wrong token: 401" "$code" 401
creq GET /metrics -H "$auth"
check "/metrics with the token: 200" "$code" 200
if grep -q '^mlpd_http_requests_total{.*code="401"} [1-9]' "$tmp/body"; then
	ok "/metrics counts the 401s"
else
	bad "/metrics counts the 401s"
fi

# the event streams: the header, or ?access_token= (which nothing else takes)
stream /v1/events
check "events without the token: 401" "$code" 401
stream "/v1/events?access_token=$token"
check "events with ?access_token=: 200" "$code" 200
check "events with ?access_token=: an event stream" \
    "$(header Content-Type | cut -d';' -f1)" text/event-stream
stream "/v1/events?access_token=$prefix"
check "events with a prefix of the token in the query: 401" "$code" 401
stream "/v1/events?access_token=$token&access_token=$token"
check "events with the token twice in the query: 401" "$code" 401
stream "/v1/events?access_token=$token&access_token=x"
check "events with the token then another in the query: 401" "$code" 401
stream /v1/events -H "$auth"
check "events with the header: 200" "$code" 200
stream "/v1/models/$model/events?access_token=$token"
check "one model's events with ?access_token=: 200" "$code" 200
stream "/v1/models/$model/events"
check "one model's events without the token: 401" "$code" 401
creq GET "/v1/models?access_token=$token"
check "?access_token= on another route: 401" "$code" 401
creq GET "/metrics?access_token=$token"
check "?access_token= on /metrics: 401" "$code" 401

# something for libmicrohttpd to complain about (at debug level) with the
# token in it: a request line far too long for its buffers
long=$(head -c 100000 /dev/zero | tr '\0' 'a')
creq GET "/v1/events?access_token=$token&pad=$long"
case $code in
4*) ok "a 100 KB URL with the token is refused ($code)" ;;
*) bad "a 100 KB URL with the token is refused" "status $code" ;;
esac

# the client examples take the token from MLPD_TOKEN
EXAMPLES=$(cd "$(dirname "$0")/../client_examples" && pwd)
MLPD_URL=$base MLPD_TOKEN=$token sh "$EXAMPLES/curl_walkthrough.sh" \
    >"$tmp/walk.out" 2>&1
check "curl_walkthrough.sh with MLPD_TOKEN exits 0" "$?" 0
MLPD_URL=$base MLPD_TOKEN=$token python3 "$EXAMPLES/python_client.py" \
    >"$tmp/py.out" 2>&1
check "python_client.py with MLPD_TOKEN exits 0" "$?" 0
MLPD_URL=$base python3 "$EXAMPLES/python_client.py" >"$tmp/py.out" 2>&1
check_grep "python_client.py without it: 401 unauthorized" "$tmp/py.out" \
    "HTTP 401 unauthorized"

# ---------------------------------------------------------------------------
# 2. the page: a token prompt, then the models with the token
# ---------------------------------------------------------------------------
# chrome URL: the DOM after 3 s of virtual time, fresh profile, at most 60 s.
chrome() {
	_prof=$(mktemp -d "$tmp/profile.XXXXXX")
	timeout -k 5 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	    --disable-quic --no-first-run --disable-background-networking \
	    --disable-component-update --disable-sync --no-proxy-server \
	    --disable-dev-shm-usage --user-data-dir="$_prof" --dump-dom \
	    --virtual-time-budget=3000 "$1" 2>>"$tmp/chromium.err"
}
chrome "$base/?transport=poll" >"$tmp/dom-locked.html"
if grep -q '<section id="token-box" class="token-box"[^>]*>' \
    "$tmp/dom-locked.html" && ! grep -q '<section id="token-box"[^>]* hidden' \
    "$tmp/dom-locked.html"; then
	ok "page without a token: the token prompt shows"
else
	bad "page without a token: the token prompt shows" \
	    "$(wc -c <"$tmp/dom-locked.html") bytes of DOM"
fi
check "page without a token: the status says so" \
    "$(grep -o 'id="conn" class="conn" data-state="[a-z]*"' \
    "$tmp/dom-locked.html" | sed 's/.*data-state="//; s/"$//')" locked
if grep -q "data-model-id=\"$model\"" "$tmp/dom-locked.html"; then
	bad "page without a token: no model is listed"
else
	ok "page without a token: no model is listed"
fi
chrome "$base/?transport=poll#access_token=$token" >"$tmp/dom-token.html"
if grep -q "<tr data-model-id=\"$model\"" "$tmp/dom-token.html"; then
	ok "page with /#access_token=: the model is listed"
else
	bad "page with /#access_token=: the model is listed" \
	    "$(wc -c <"$tmp/dom-token.html") bytes of DOM"
fi
if grep -q '<section id="token-box"[^>]* hidden' "$tmp/dom-token.html"; then
	ok "page with /#access_token=: no token prompt"
else
	bad "page with /#access_token=: no token prompt"
fi

stop
check "SIGTERM: exit 0" "$stopped" 0
check_grep "the log is at debug level" "$tmp/tok.err" " debug "
leak=
i=8
while [ $i -le ${#token} ]; do
	piece=$(printf '%s' "$token" | cut -c1-$i)
	if grep -qF -- "$piece" "$tmp/tok.err"; then
		leak=$piece
		break
	fi
	i=$((i + 4))
done
check "the token (or 8+ bytes of it) is not in the log" "$leak" ""

# ---------------------------------------------------------------------------
# 3. token files
# ---------------------------------------------------------------------------
if MLPD_TOKEN_FILE=$tmp/token launch env --listen 0.0.0.0:0 \
    --db "$tmp/env.db"; then
	ok "MLPD_TOKEN_FILE: 0.0.0.0 is served with a token"
	base=http://127.0.0.1:$port
	creq GET /v1/models
	check "MLPD_TOKEN_FILE: no token, 401" "$code" 401
	creq GET /v1/models -H "$auth"
	check "MLPD_TOKEN_FILE: the token, 200" "$code" 200
	stop
else
	bad "MLPD_TOKEN_FILE: 0.0.0.0 is served with a token"
fi

printf 'abcdefghijklmno\n' >"$tmp/short"
chmod 600 "$tmp/short"
refused short --listen 127.0.0.1:0 --db :memory: --token-file "$tmp/short"
check "a 15-byte token: exit 1" "$rc" 1
check_grep "a 15-byte token: says why" "$tmp/short.err" "at least 16"
if grep -q abcdefghijklmno "$tmp/short.err"; then
	bad "a 15-byte token: the message does not quote it"
else
	ok "a 15-byte token: the message does not quote it"
fi
printf '\n' >"$tmp/empty"
chmod 600 "$tmp/empty"
refused empty --listen 127.0.0.1:0 --db :memory: --token-file "$tmp/empty"
check "an empty token: exit 1" "$rc" 1
check_grep "an empty token: says why" "$tmp/empty.err" "the token is empty"
refused missing --listen 127.0.0.1:0 --db :memory: \
    --token-file "$tmp/no-such-file"
check "a missing token file: exit 1" "$rc" 1
check_grep "a missing token file: says why" "$tmp/missing.err" "cannot open"
cp "$tmp/token" "$tmp/open-token"
chmod 644 "$tmp/open-token"
if launch open --listen 127.0.0.1:0 --db :memory: \
    --token-file "$tmp/open-token"; then
	check_grep "a token file others may read: a warning" "$tmp/open.err" \
	    "chmod 600"
	stop
else
	bad "a token file others may read still starts"
fi

# ---------------------------------------------------------------------------
# 4. exposure
# ---------------------------------------------------------------------------
refused any4 --listen 0.0.0.0:0 --db :memory:
check "0.0.0.0 without a token: exit 2" "$rc" 2
check_grep "0.0.0.0 without a token: says why" "$tmp/any4.err" \
    "refusing to listen on 0.0.0.0 without a token"
check_grep "0.0.0.0 without a token: names the way out" "$tmp/any4.err" \
    "--token-file"
refused any6 --listen '[::]:0' --db :memory:
check "[::] without a token: exit 2" "$rc" 2
check_grep "[::] without a token: says why" "$tmp/any6.err" \
    "refusing to listen on :: without a token"
if launch insecure --listen 0.0.0.0:0 --db :memory: --insecure; then
	base=http://127.0.0.1:$port
	creq GET /v1/models
	check "0.0.0.0 --insecure: served without a token" "$code" 200
	stop
	check "0.0.0.0 --insecure: exit 0" "$stopped" 0
else
	bad "0.0.0.0 --insecure starts"
fi
for host in 127.0.0.2 localhost; do
	if launch "lo-$host" --listen "$host:0" --db :memory:; then
		ok "$host needs no token"
		stop
	else
		bad "$host needs no token"
	fi
done

# ---------------------------------------------------------------------------
# 5. TLS
# ---------------------------------------------------------------------------
# cert NAME: a self-signed EC certificate for 127.0.0.1, NAME.crt/NAME.key.
cert() {
	if [ "$certmaker" = openssl ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout "$tmp/$1.key" -out "$tmp/$1.crt" -days 2 \
		    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		    >/dev/null 2>&1
	else
		certtool --generate-privkey --key-type ecdsa \
		    --outfile "$tmp/$1.key" >/dev/null 2>&1 &&
		printf 'cn = 127.0.0.1\nip_address = 127.0.0.1\nexpiration_days = 2\nsigning_key\ntls_www_server\n' \
		    >"$tmp/$1.tmpl" &&
		certtool --generate-self-signed --load-privkey "$tmp/$1.key" \
		    --template "$tmp/$1.tmpl" --outfile "$tmp/$1.crt" \
		    >/dev/null 2>&1
	fi
	chmod 600 "$tmp/$1.key"
}
cert a
cert b
if [ -s "$tmp/a.crt" ] && [ -s "$tmp/b.key" ]; then
	ok "two throwaway certificates ($certmaker)"
else
	bad "two throwaway certificates ($certmaker)"
fi
if launch tls --listen 127.0.0.1:0 --db :memory: --token-file "$tmp/token" \
    --tls-cert "$tmp/a.crt" --tls-key "$tmp/a.key"; then
	check "TLS: the startup line says https" "$scheme" https
	base=https://127.0.0.1:$port
	creq GET /healthz --cacert "$tmp/a.crt"
	check "TLS: HTTPS /healthz" "$code" 200
	creq GET /v1/models --cacert "$tmp/a.crt"
	check "TLS: HTTPS /v1/models without the token: 401" "$code" 401
	creq POST /v1/models --cacert "$tmp/a.crt" -H "$auth" -H "$json" \
	    -d '{"layers":[2,2,1]}'
	check "TLS: HTTPS POST /v1/models with the token: 201" "$code" 201
	stream "/v1/events?access_token=$token" --cacert "$tmp/a.crt"
	check "TLS: HTTPS event stream with ?access_token=" "$code" 200
	creq GET /healthz --cacert "$tmp/b.crt"
	check "TLS: HTTPS trusting another certificate fails" "$code" 000
	base=http://127.0.0.1:$port
	creq GET /healthz
	check "TLS: plain HTTP to the TLS port gets no HTTP answer" "$code" 000
	stop
	check "TLS: exit 0" "$stopped" 0
else
	bad "mlpd with --tls-cert/--tls-key starts"
fi
refused mismatch --listen 127.0.0.1:0 --db :memory: \
    --tls-cert "$tmp/a.crt" --tls-key "$tmp/b.key"
check "a key of another certificate: exit 1" "$rc" 1
check_grep "a key of another certificate: says why" "$tmp/mismatch.err" "--tls-key"
printf 'not a certificate\n' >"$tmp/junk.crt"
refused junk --listen 127.0.0.1:0 --db :memory: \
    --tls-cert "$tmp/junk.crt" --tls-key "$tmp/a.key"
check "a certificate that is not PEM: exit 1" "$rc" 1
check_grep "a certificate that is not PEM: says why" "$tmp/junk.err" "not a PEM file"
refused half --listen 127.0.0.1:0 --db :memory: --tls-cert "$tmp/a.crt"
check "--tls-cert without --tls-key: exit 2" "$rc" 2
check_grep "--tls-cert without --tls-key: says why" "$tmp/half.err" \
    "--tls-cert and --tls-key go together"

finish
