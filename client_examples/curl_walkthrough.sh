#!/bin/sh
# curl_walkthrough.sh: a model's whole life through mlpd's HTTP API, with
# nothing but curl, sed and grep.
#
# Start a daemon first (e.g. `server/mlpd --db :memory:`), then run
#   MLPD_URL=http://127.0.0.1:8080 client_examples/curl_walkthrough.sh
# For a daemon with --token-file, set MLPD_TOKEN to the token (each request
# then sends "Authorization: Bearer $MLPD_TOKEN"); for HTTPS with a
# certificate of your own, set CURL_CA_BUNDLE to it.
# It creates a [2,4,1] sigmoid model, stores the four XOR rows, takes one
# synchronous /step, trains a job until it finishes, predicts the four
# cases, reads the loss history (point by point, then in windows, as CSV
# and with its ETag), lists the stored batches, reads the weights, exports
# the model as ONNX and imports that file as a copy, and deletes the model. Each request and its answer are printed.
# The script stops with a non-zero status at the first request that fails
# (curl --fail-with-body prints the JSON error body first).
set -eu

MLPD_URL=${MLPD_URL:-http://127.0.0.1:8080}
MLPD_URL=${MLPD_URL%/}

# api METHOD PATH [BODY]: send one request, print it and its answer, and
# keep the answer in $resp. Any status >= 400 ends the script.
api() {
	echo ">>> $1 $2${3:+ $3}"
	if [ $# -ge 3 ]; then
		resp=$(curl -sS --fail-with-body --noproxy 127.0.0.1,localhost \
		    ${MLPD_TOKEN:+-H "Authorization: Bearer $MLPD_TOKEN"} \
		    -X "$1" -H 'Content-Type: application/json' \
		    --data-binary "$3" "$MLPD_URL$2") || {
			echo "$resp" >&2
			echo "walkthrough: $1 $2 failed" >&2
			exit 1
		}
	else
		resp=$(curl -sS --fail-with-body --noproxy 127.0.0.1,localhost \
		    ${MLPD_TOKEN:+-H "Authorization: Bearer $MLPD_TOKEN"} \
		    -X "$1" "$MLPD_URL$2") || {
			echo "$resp" >&2
			echo "walkthrough: $1 $2 failed" >&2
			exit 1
		}
	fi
	echo "<<< $resp"
	echo
}

# field NAME: the first value of "NAME" in $resp, quotes stripped. Enough
# for mlpd's flat answers; a real client would use a JSON parser.
field() {
	printf '%s\n' "$resp" | grep -oE "\"$1\" *: *(\"[^\"]*\"|[^],}]*)" |
	    head -n 1 | sed -e "s/^\"$1\" *: *//" -e 's/^"//' -e 's/"$//'
}

# 0. Is the daemon there?
api GET /healthz

# 1. Create the model: 2 inputs, 4 hidden sigmoid units, 1 sigmoid output,
#    mean squared error and plain SGD with a large learning rate (XOR on
#    full batches learns quickly at 2). A fixed seed makes the run repeatable.
#    The answer is 201 with Location: /v1/models/{id}.
api POST /v1/models \
    '{"name":"xor","layers":[2,4,1],"activation":"sigmoid","loss":"mse","optimizer":"sgd","learning_rate":2,"seed":7}'
model=$(field id)
echo "model id: $model"
echo

# 2. Store the training rows: the four XOR cases, inputs and targets as
#    rows of widths 2 and 1. The batch is on disk when the 201 comes back.
api POST "/v1/models/$model/batches" \
    '{"inputs":[[0,0],[0,1],[1,0],[1,1]],"targets":[[0],[1],[1],[0]]}'

# 3. One synchronous training step on a minibatch sent with the request
#    (these rows are not stored). "loss" is the loss before the update.
api POST "/v1/models/$model/step" \
    '{"inputs":[[0,0],[0,1],[1,0],[1,1]],"targets":[[0],[1],[1],[0]]}'

# 4. Train on the stored rows in the background: 3000 steps of 4 rows
#    (the whole set each step). The answer is 202 with the job and
#    Location: /v1/jobs/{id}.
api POST "/v1/models/$model/train" \
    '{"steps":3000,"batch_size":4,"learning_rate":2,"shuffle":true}'
job=$(field id)
echo "job id: $job"
echo

# 5. Poll the job until it ends (two minutes at most).
i=0
while :; do
	api GET "/v1/jobs/$job"
	status=$(field status)
	case $status in
	succeeded) break ;;
	failed | cancelled | interrupted)
		echo "walkthrough: job ended $status: $(field error)" >&2
		exit 1
		;;
	esac
	i=$((i + 1))
	if [ "$i" -ge 240 ]; then
		echo "walkthrough: job still $status after 2 minutes" >&2
		exit 1
	fi
	sleep 0.5
done

# 6. Predict: one row at a time ({"input"} -> {"output"}), then all four at
#    once ({"inputs"} -> {"outputs"}). XOR learned means outputs near
#    0, 1, 1, 0.
for x in '0,0' '0,1' '1,0' '1,1'; do
	api POST "/v1/models/$model/predict" "{\"input\":[$x]}"
done
api POST "/v1/models/$model/predict" '{"inputs":[[0,0],[0,1],[1,0],[1,1]]}'

# 7. The loss history: the first five points, then the last five. Pages
#    go on with since=next_since until "points" comes back empty. Each
#    point has "lr", the learning rate its step was trained with.
api GET "/v1/models/$model/loss?limit=5"
api GET "/v1/models/$model"
step=$(field step)
since=$((step > 5 ? step - 5 : 0))
api GET "/v1/models/$model/loss?since=$since&limit=5"

# 7b. For dashboards: one point per window of 500 steps (mean loss, min,
#     max, the window's last step), then the same as CSV. Every answer has
#     an ETag; sent back in If-None-Match it gets 304 and no body while the
#     model does not change, which costs the daemon next to nothing.
api GET "/v1/models/$model/loss?every=500"
echo ">>> GET /v1/models/$model/loss?every=500&format=csv"
curl -sS --fail-with-body --noproxy 127.0.0.1,localhost \
    ${MLPD_TOKEN:+-H "Authorization: Bearer $MLPD_TOKEN"} \
    "$MLPD_URL/v1/models/$model/loss?every=500&format=csv"
echo
etag=$(curl -sS --noproxy 127.0.0.1,localhost -o /dev/null \
    ${MLPD_TOKEN:+-H "Authorization: Bearer $MLPD_TOKEN"} -D - \
    "$MLPD_URL/v1/models/$model/loss?every=500" | tr -d '\r' |
    sed -n 's/^[Ee][Tt][Aa][Gg]: *//p')
code=$(curl -sS --noproxy 127.0.0.1,localhost -o /dev/null \
    ${MLPD_TOKEN:+-H "Authorization: Bearer $MLPD_TOKEN"} \
    -w '%{http_code}' -H "If-None-Match: $etag" \
    "$MLPD_URL/v1/models/$model/loss?every=500")
echo "ETag $etag; the same request with If-None-Match: $code"
echo

# 8. The stored batches and the model's jobs.
api GET "/v1/models/$model/batches"
api GET "/v1/models/$model/jobs"

# 9. The weights: one entry per layer, weights[i][j] from input j to unit i.
#    The same document can be PUT back to /weights.
api GET "/v1/models/$model/weights"

# 9b. The model as an ONNX file (a Gemm per layer, then its activation),
#     for ONNX Runtime, Triton or onnx.load, and a new model made from that
#     file: the same layers, weights and step (then deleted again).
onnx_file=${TMPDIR:-/tmp}/mlpd-walkthrough.$$.onnx
echo ">>> GET /v1/models/$model/onnx"
curl -sS --fail-with-body --noproxy 127.0.0.1,localhost \
    ${MLPD_TOKEN:+-H "Authorization: Bearer $MLPD_TOKEN"} \
    -o "$onnx_file" "$MLPD_URL/v1/models/$model/onnx" || exit 1
echo "<<< $(wc -c <"$onnx_file") bytes of ONNX"
echo ">>> POST /v1/models (Content-Type: application/onnx)"
resp=$(curl -sS --fail-with-body --noproxy 127.0.0.1,localhost \
    ${MLPD_TOKEN:+-H "Authorization: Bearer $MLPD_TOKEN"} \
    -H 'Content-Type: application/onnx' --data-binary @"$onnx_file" \
    "$MLPD_URL/v1/models") || { echo "$resp" >&2; exit 1; }
rm -f "$onnx_file"
echo "<<< $resp"
echo
api DELETE "/v1/models/$(field id)"

# 10. Delete the model with its rows, jobs, weights and history (204).
api DELETE "/v1/models/$model"

echo "walkthrough: done"
