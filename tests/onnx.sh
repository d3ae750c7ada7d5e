#!/bin/sh
# onnx.sh: models out to ONNX and back in, against the real mlpd.
#
# Starts $MLPD on 127.0.0.1 with a free port and a private database, then:
#   1. for three models (tanh/relu/sigmoid with mse; sigmoid then softmax
#      with cross_entropy; relu then linear), each after a training step:
#      GET /v1/models/{id}/onnx is 200 application/onnx; Debian's
#      python3-onnx checker accepts the file (full check), its producer is
#      mlpd and its metadata holds the model's name and step; the graph
#      evaluated node by node with numpy (tests/onnx_tool.py) matches
#      mlpd's own predictions to 1e-6;
#   2. the file POSTed back with Content-Type: application/onnx makes a
#      new model with the same layers, activations, loss, name, step and
#      optimizer settings, whose weights document is byte for byte the
#      original's;
#   3. the same function rewritten in float64 as MatMul + Add (double_data
#      and raw_data tensors) imports and predicts as the original;
#   4. tests/fixtures/onnx/torch_mlp.onnx (torch.onnx.export of
#      nn.Sequential(Linear, Sigmoid, Linear, Sigmoid)) imports, and mlpd
#      reproduces the outputs torch computed to 1e-5; when python3-torch
#      is installed the fixture is made again and must be the same bytes;
#   5. hostile files (a Conv node, a NaN weight, dims that disagree with
#      the data, a cycle, bytes that are not protobuf, an empty body) are
#      refused with 400 invalid_onnx or 422 and a message naming the node
#      or tensor, and no model is created.
# The last line is "N passed, M failed"; the exit status is 1 when a check
# failed. Only 127.0.0.1 is contacted; the daemon never outlives the script.
set -u

. "$(dirname "$0")/lib.sh"
srcdir=${srcdir:-$(dirname "$0")/..}
TOOL=$srcdir/tests/onnx_tool.py
FIXTURES=$srcdir/tests/fixtures/onnx

require curl "$MLPD"
lib_init onnx

# The first Python with Debian's onnx and numpy (a python3 earlier on the
# PATH, such as a virtualenv's, may lack them).
PY=
for _p in python3 /usr/bin/python3; do
	if "$_p" -c 'import onnx, numpy' 2>/dev/null; then
		PY=$_p
		break
	fi
done
if [ -z "$PY" ]; then
	bad "python3 with onnx and numpy" "Debian packages python3-onnx" \
	    "python3-numpy; ./quickstart.sh check installs them"
	finish
fi

# tool DESCRIPTION ARGS...: a check that onnx_tool.py ARGS succeeds; its
# output (the largest difference) goes on the line. Returns its status.
tool() {
	_d=$1
	shift
	if _out=$("$PY" "$TOOL" "$@" 2>&1); then
		ok "$_d${_out:+ ($_out)}"
		return 0
	fi
	bad "$_d" "$_out"
	return 1
}

# models: the number of models the daemon lists.
models() {
	req GET "/v1/models?limit=1000"
	grep -o '"id"' "$tmp/body" | wc -l | tr -d ' '
}

# export_check N SPEC INPUTS: parts 1 and 2 for one model.
export_check() {
	req POST /v1/models "$2"
	check "model $1 created" "$code" 201
	id=$(jget id)
	name=$(jget name)
	req POST "/v1/models/$id/step" "$3"
	check "model $1: a training step" "$code" 200
	req GET "/v1/models/$id"
	step=$(jget step)
	req GET "/v1/models/$id/onnx"
	check "model $1: GET onnx" "$code" 200
	ct=$(tr -d '\r' <"$tmp/headers" | sed -n 's/^[Cc]ontent-[Tt]ype: *//p')
	check "model $1: content type" "$ct" application/onnx
	cp "$tmp/body" "$tmp/m$1.onnx"
	# the step's inputs without its targets
	printf '%s' "$3" | sed 's/,"targets".*$/}/' >"$tmp/in$1.json"
	req POST "/v1/models/$id/predict" "@$tmp/in$1.json"
	check "model $1: predict" "$code" 200
	cp "$tmp/body" "$tmp/p$1.json"
	tool "model $1: the checker accepts it; numpy matches mlpd" check \
	    "$tmp/m$1.onnx" "$tmp/in$1.json" "$tmp/p$1.json" "$name" "$step"
	req GET "/v1/models/$id/weights"
	cp "$tmp/body" "$tmp/w$1.json"
	req POST /v1/models "@$tmp/m$1.onnx" application/onnx
	check "model $1: imported" "$code" 201
	back=$(jget id)
	for _f in name loss step optimizer learning_rate momentum; do
		req GET "/v1/models/$id"
		_want=$(jget "$_f")
		req GET "/v1/models/$back"
		check "model $1: imported $_f" "$(jget "$_f")" "$_want"
	done
	req GET "/v1/models/$id"
	_want=$(jarr layers; jarr activation)
	req GET "/v1/models/$back"
	check "model $1: imported layers and activations" \
	    "$(jarr layers; jarr activation)" "$_want"
	req GET "/v1/models/$back/weights"
	if cmp -s "$tmp/body" "$tmp/w$1.json"; then
		ok "model $1: imported weights are the original's, bit for bit"
	else
		bad "model $1: imported weights differ"
	fi
	last_id=$id
}

start "$tmp/db"

# ---------------------------------------------------------------------------
# 1 and 2: out, checked, and back in
# ---------------------------------------------------------------------------
export_check 1 '{"name":"three layers","layers":[3,5,4,2],"activation":["tanh","relu","sigmoid"],"learning_rate":2,"seed":3}' \
    '{"inputs":[[0.5,-1,2],[0,0.25,-0.75],[1.5,1,-2],[-0.1,0.2,0.3]],"targets":[[0,1],[1,0],[1,1],[0,0]]}'
export_check 2 '{"name":"classes","layers":[4,6,3],"loss":"cross_entropy","seed":4}' \
    '{"inputs":[[1,2,3,4],[-1,0,1,0],[0.5,0.5,-0.5,2]],"targets":[[1,0,0],[0,1,0],[0,0,1]]}'
export_check 3 '{"name":"regression","layers":[2,8,1],"activation":["relu","linear"],"optimizer":"adam","learning_rate":0.01,"seed":5}' \
    '{"inputs":[[0.1,0.2],[1,-1],[3,2],[-2,-0.5]],"targets":[[1],[0],[-1],[2]]}'
req GET "/v1/models/$last_id"
check "model 3: the optimizer travels in the metadata" "$(jget optimizer)" adam

# a saved version exports its own weights, not the model's latest
req POST "/v1/models/$last_id/versions" '{}'
check "model 3: a version saved" "$code" 201
ver=$(jget version)
vstep=$(jget step)
req POST "/v1/models/$last_id/step" \
    '{"inputs":[[0.1,0.2],[1,-1]],"targets":[[5],[-5]]}'
check "model 3: trained past the version" "$code" 200
req GET "/v1/models/$last_id/versions/$ver/onnx"
check "version $ver: GET onnx" "$code" 200
cp "$tmp/body" "$tmp/v3.onnx"
req POST "/v1/models/$last_id/predict?version=$ver" "@$tmp/in3.json"
check "version $ver: pinned predict" "$code" 200
cp "$tmp/body" "$tmp/pv3.json"
tool "version $ver: the checker accepts it; numpy matches the pinned \
predictions" check "$tmp/v3.onnx" "$tmp/in3.json" "$tmp/pv3.json" \
    regression "$vstep"
req POST "/v1/models/$last_id/predict" "@$tmp/in3.json"
if cmp -s "$tmp/body" "$tmp/pv3.json"; then
	bad "the model moved on after the version" "same outputs"
else
	ok "the model moved on after the version (its outputs differ)"
fi
req GET "/v1/models/$last_id/versions/99/onnx"
check "an unknown version's onnx: 404" "$code" 404

# ---------------------------------------------------------------------------
# 3: the same function as MatMul + Add in float64
# ---------------------------------------------------------------------------
for n in 1 2; do
	tool "model $n rewritten as MatMul + Add in float64" matmul \
	    "$tmp/m$n.onnx" "$tmp/mm$n.onnx" || continue
	req POST /v1/models "@$tmp/mm$n.onnx" application/onnx
	check "MatMul + Add model $n imported" "$code" 201
	id=$(jget id)
	req POST "/v1/models/$id/predict" "@$tmp/in$n.json"
	cp "$tmp/body" "$tmp/pp$n.json"
	tool "MatMul + Add model $n predicts as the original" compare \
	    "$tmp/p$n.json" "$tmp/pp$n.json" 1e-6
done

# ---------------------------------------------------------------------------
# 4: a net exported by PyTorch
# ---------------------------------------------------------------------------
req POST /v1/models "@$FIXTURES/torch_mlp.onnx" application/onnx
check "torch.onnx.export's file imported" "$code" 201
id=$(jget id)
req GET "/v1/models/$id"
check "torch model's layers" "$(jarr layers | tr '\n' ' ')" "4 8 3 "
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1]));
json.dump({"inputs": d["inputs"]}, open(sys.argv[2], "w"))' \
    "$FIXTURES/torch_mlp.expected.json" "$tmp/torch_in.json"
req POST "/v1/models/$id/predict" "@$tmp/torch_in.json"
check "torch model predicts" "$code" 200
tool "mlpd reproduces torch's outputs to 1e-5" compare \
    "$FIXTURES/torch_mlp.expected.json" "$tmp/body" 1e-5
if "$PY" -c 'import torch' 2>/dev/null; then
	mkdir "$tmp/torch"
	if "$PY" "$FIXTURES/make_torch_fixture.py" "$tmp/torch" \
	    >"$tmp/torch.log" 2>&1 &&
	    cmp -s "$tmp/torch/torch_mlp.onnx" "$FIXTURES/torch_mlp.onnx" &&
	    cmp -s "$tmp/torch/torch_mlp.expected.json" \
	    "$FIXTURES/torch_mlp.expected.json"; then
		ok "the torch fixture made again is the committed one"
	else
		bad "the torch fixture made again differs" \
		    "$(tail -3 "$tmp/torch.log")"
	fi
else
	echo "note: python3-torch is not installed; the committed fixture" \
	    "is used as it is"
fi

# ---------------------------------------------------------------------------
# 5: hostile files change nothing
# ---------------------------------------------------------------------------
before=$(models)

# refuse DESCRIPTION FILE STATUS CODE MESSAGE
refuse() {
	req POST /v1/models "@$2" application/onnx
	check "$1: status and code" "$code $(jget code)" "$3 $4"
	case $(jget message) in
	*"$5"*) ok "$1: the message names it" ;;
	*) bad "$1: message" "'$(jget message)' does not hold '$5'" ;;
	esac
}

for kind in conv nan dims cycle; do
	"$PY" "$TOOL" bad $kind "$tmp/m1.onnx" "$tmp/bad_$kind.onnx" ||
	    bad "writing the $kind file"
done
refuse "a Conv node" "$tmp/bad_conv.onnx" 422 unsupported_onnx \
    "node 1 (Conv"
refuse "a NaN weight" "$tmp/bad_nan.onnx" 422 non_finite \
    "layer0.weight' holds NaN"
refuse "dims that disagree with the data" "$tmp/bad_dims.onnx" 422 \
    unsupported_onnx "layer0.weight"
refuse "a cycle" "$tmp/bad_cycle.onnx" 422 unsupported_onnx \
    "does not read 'input'"
printf 'not an onnx file at all\n' >"$tmp/text.onnx"
refuse "bytes that are not protobuf" "$tmp/text.onnx" 400 invalid_onnx \
    "not a well-formed ONNX model"
: >"$tmp/empty.onnx"
refuse "an empty body" "$tmp/empty.onnx" 400 invalid_onnx "empty"
head -c 200 "$tmp/m2.onnx" >"$tmp/cut.onnx"
refuse "a file cut short" "$tmp/cut.onnx" 400 invalid_onnx "cut off"
req PUT "/v1/models/$last_id/weights" "@$tmp/m1.onnx" application/onnx
check "PUT weights with an ONNX body is 415" "$code" 415
check "no model was created by the refused files" "$(models)" "$before"

stop_term "mlpd exits 0 on SIGTERM"
finish
