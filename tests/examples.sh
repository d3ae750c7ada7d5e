#!/bin/sh
# examples.sh: the client examples against a real mlpd, and CSV bodies
# with curl.
#
# Starts $MLPD (default ${builddir:-.}/server/mlpd) on 127.0.0.1 with a free
# port and a private database, then:
#   1. runs client_examples/curl_walkthrough.sh and
#      client_examples/python_client.py against it: each must exit 0, and
#      their output must show the job succeeding and XOR learned, and
#      (with numpy) push_npy storing its rows and predict_npy giving the
#      outputs predict gives;
#   2. pushes XOR as text/csv: without a header and \n line ends, then
#      with a header, \r\n and no final newline; both stored;
#   3. sends bad CSV bodies (a value that is not a number, a wrong column
#      count, a blank line between rows, a value beyond float32, more rows
#      than --max-batch-rows, another content type): each is refused with its status, code and a message
#      naming the line and column, and the stored batches stay as they were;
#   4. trains, then predicts with a CSV body and Accept: text/csv (CSV rows
#      back, the same numbers JSON gives), with a CSV body alone (JSON
#      back) and with a JSON body and Accept: text/csv (CSV back).
# Every check counts; the last line is "N passed, M failed" and the exit
# status is 1 when any check failed. Only 127.0.0.1 is contacted; the
# temporary directory is removed and the daemon never outlives the script.
set -u

. "$(dirname "$0")/lib.sh"
srcdir=${srcdir:-$(dirname "$0")/..}
EXAMPLES=$srcdir/client_examples

require curl python3 "$MLPD"
lib_init examples

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# send METHOD PATH CONTENT-TYPE BODY [ACCEPT]: req with BODY sent byte for
# byte after its printf escapes (such as \r\n) are expanded.
send() {
	# shellcheck disable=SC2059 # the body is the format, on purpose
	printf "$4" >"$tmp/send"
	req "$1" "$2" "@$tmp/send" "$3" "${5:-}"
}

# reject DESCRIPTION STATUS CODE MESSAGE PATH CT BODY: a push or predict
# that must fail with STATUS, error CODE and a message holding MESSAGE,
# leaving the model's batches exactly as they were.
reject() {
	req GET "/v1/models/$model/batches"
	cp "$tmp/body" "$tmp/before"
	send POST "$5" "$6" "$7"
	cp "$tmp/body" "$tmp/answer"
	_got="$code $(jget code)"
	_msg=$(jget message)
	check "$1: status and code" "$_got" "$2 $3"
	case $_msg in
	*"$4"*) ok "$1: message names the place" ;;
	*) bad "$1: message" "got '$_msg', want it to hold '$4'" ;;
	esac
	req GET "/v1/models/$model/batches"
	if cmp -s "$tmp/before" "$tmp/body"; then
		ok "$1: nothing stored"
	else
		bad "$1: nothing stored" "batches changed"
	fi
}

# ---------------------------------------------------------------------------
# The daemon
# ---------------------------------------------------------------------------

# a small row cap, to see CSV bodies held to it like JSON ones
start "$tmp/examples.db" --max-batch-rows 10

# ---------------------------------------------------------------------------
# 1. The examples, as a user runs them
# ---------------------------------------------------------------------------

MLPD_URL=$base sh "$EXAMPLES/curl_walkthrough.sh" >"$tmp/walk.out" 2>&1
check "curl_walkthrough.sh exits 0" "$?" 0
check_grep "curl_walkthrough.sh: the job succeeded" "$tmp/walk.out" \
    '"status":"succeeded"'
check_grep "curl_walkthrough.sh: reached the end" "$tmp/walk.out" \
    "walkthrough: done"

# the .npy methods need numpy (Debian's python3-numpy): the first python3
# that has it runs the demo
py=$(numpy_python) || py=python3
MLPD_URL=$base "$py" "$EXAMPLES/python_client.py" >"$tmp/py.out" 2>&1
check "python_client.py exits 0" "$?" 0
check_grep "python_client.py: push_npy stored 4 rows (needs python3-numpy)" \
    "$tmp/py.out" "'samples': 4, 'total_samples': 12}"
check_grep "python_client.py: predict_npy gives predict's outputs" \
    "$tmp/py.out" "predict_npy matches predict"
check_grep "python_client.py: the job succeeded" "$tmp/py.out" \
    "job succeeded: 3000 steps"
check_grep "python_client.py: XOR learned" "$tmp/py.out" "xor learned"
check_grep "python_client.py: CSV push stored 4 rows" "$tmp/py.out" \
    "'samples': 4, 'total_samples': 8}"
if [ "$failed" -gt 0 ]; then
	echo "--- curl_walkthrough.sh output (tail)"
	tail -n 20 "$tmp/walk.out"
	echo "--- python_client.py output"
	cat "$tmp/py.out"
fi

# both examples delete what they made
req GET /v1/models
check "the examples left no models behind" "$(jget id)" ""

# ---------------------------------------------------------------------------
# 2. CSV batches
# ---------------------------------------------------------------------------

send POST /v1/models application/json \
    '{"layers":[2,4,1],"learning_rate":2,"seed":7,"name":"xor-csv"}'
check "create the model" "$code" 201
model=$(jget id)

send POST "/v1/models/$model/batches" text/csv '0,0,0\n0,1,1\n1,0,1\n1,1,0\n'
check "CSV push without header: 201" "$code" 201
check "CSV push without header: 4 rows" "$(jget samples)" 4
send POST "/v1/models/$model/batches" 'text/csv; charset=utf-8' \
    'a,b,xor\r\n0,0,0\r\n0,1,1\r\n1,0,1\r\n1,1,0'
check "CSV push with header, CRLF, no final newline: 201" "$code" 201
check "CSV push with header: 4 rows, 8 in all" \
    "$(jget samples) $(jget total_samples)" "4 8"
req GET "/v1/models/$model/batches"
check "two batches listed, 8 rows" "$(grep -o '"batch_id"' "$tmp/body" |
    wc -l | tr -d ' ') $(jget total_samples)" "2 8"

# ---------------------------------------------------------------------------
# 3. Bad CSV changes nothing and says where
# ---------------------------------------------------------------------------

B=/v1/models/$model/batches
reject "not a number" 422 invalid_value "line 3, column 3: 'abc' is not a number" \
    "$B" text/csv '0,0,0\n0,1,1\n1,0,abc\n'
reject "not a number after a header" 422 invalid_value "line 4, column 2: '1x'" \
    "$B" text/csv 'a,b,y\r\n0,0,0\r\n0,1,1\r\n1,1x,1\r\n'
reject "wrong column count" 422 invalid_value "line 2 has 2 columns; expected 3" \
    "$B" text/csv '0,0,0\n0,1\n'
reject "empty field" 422 invalid_value "line 1, column 2 is empty" \
    "$B" text/csv '0,,0\n'
reject "blank line between rows" 400 malformed_csv "line 2 is blank" \
    "$B" text/csv '0,0,0\n\n1,1,0\n'
reject "empty body" 400 malformed_csv "empty" "$B" text/csv ''
reject "beyond float32" 422 non_finite "line 1, column 1: '1e39'" \
    "$B" text/csv '1e39,0,0\n'
reject "more rows than --max-batch-rows" 422 limit_exceeded "--max-batch-rows" \
    "$B" text/csv 'a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n0,0,0\n0,1,1\n1,0,1\n'
reject "another content type" 415 unsupported_media_type "text/csv" \
    "$B" text/plain '0,0,0\n'

# ---------------------------------------------------------------------------
# 4. Train, then predict with CSV
# ---------------------------------------------------------------------------

send POST "/v1/models/$model/train" application/json \
    '{"steps":3000,"batch_size":8}'
check "train: 202" "$code" 202
job=$(jget id)
i=0
while [ $i -lt 600 ]; do
	req GET "/v1/jobs/$job"
	case $(jget status) in queued | running) ;; *) break ;; esac
	sleep 0.1
	i=$((i + 1))
done
check "the job succeeded" "$(jget status)" succeeded

P=/v1/models/$model/predict
send POST "$P" text/csv 'x1,x2\n0,0\n0,1\n1,0\n1,1\n' text/csv
check "CSV predict, Accept: text/csv: 200" "$code" 200
check "CSV predict: Content-Type" "$(header Content-Type)" \
    "text/csv; charset=utf-8"
cp "$tmp/body" "$tmp/csv_out"
check "CSV predict: four rows of one column" \
    "$(wc -l <"$tmp/csv_out" | tr -d ' ') $(grep -c ',' "$tmp/csv_out")" "4 0"
check "CSV predict: XOR learned" "$(awk '{ printf "%d", $1 + 0.5 }' \
    "$tmp/csv_out")" 0110

send POST "$P" application/json '{"inputs":[[0,0],[0,1],[1,0],[1,1]]}'
check "JSON predict: 200" "$code" 200
grep -oE '\[[-0-9.e+]+\]' "$tmp/body" | tr -d '[]' >"$tmp/json_out"
if cmp -s "$tmp/csv_out" "$tmp/json_out"; then
	ok "CSV and JSON predictions are the same numbers"
else
	bad "CSV and JSON predictions are the same numbers" \
	    "csv: $(tr '\n' ' ' <"$tmp/csv_out") json: $(tr '\n' ' ' <"$tmp/json_out")"
fi

send POST "$P" text/csv '0,1\r\n1,1\r\n'
check "CSV predict without Accept answers JSON" \
    "$code $(header Content-Type | cut -d';' -f1)" "200 application/json"
check_grep "CSV predict without Accept: outputs" "$tmp/body" '"outputs":[['

send POST "$P" application/json '{"input":[0,1]}' 'text/csv'
check "JSON predict with Accept: text/csv answers one CSV row" \
    "$code $(header Content-Type) $(wc -l <"$tmp/body" | tr -d ' ')" \
    "200 text/csv; charset=utf-8 1"
check "JSON predict with Accept: text/csv: the same number" \
    "$(cat "$tmp/body")" "$(sed -n 2p "$tmp/csv_out")"

send POST "$P" text/csv '0,1\n1,oops\n' text/csv
check "CSV predict error: 422 as JSON" \
    "$code $(header Content-Type | cut -d';' -f1) $(jget code)" \
    "422 application/json invalid_value"
check_grep "CSV predict error names line and column" "$tmp/body" \
    "line 2, column 2: 'oops' is not a number"
send POST "$P" text/csv '0,1,1\n' text/csv
check_grep "CSV predict: a target column is one column too many" "$tmp/body" \
    "line 1 has 3 columns; expected 2"

req DELETE "/v1/models/$model"
check "delete the model" "$code" 204

stop_term "mlpd exits 0 on SIGTERM"
finish
