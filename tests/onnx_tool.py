#!/usr/bin/env python3
"""The Python side of tests/onnx.sh (Debian's python3-onnx and numpy).

  onnx_tool.py check MODEL.onnx INPUTS.json PREDICT.json NAME STEP
      onnx.checker.check_model (full_check) accepts MODEL; producer is
      mlpd, metadata name and step are NAME and STEP; the graph evaluated
      node by node with numpy (float32) on INPUTS' "inputs" gives
      PREDICT's "outputs" within 1e-6. Prints "max_abs_diff X".
  onnx_tool.py matmul MODEL.onnx OUT.onnx
      rewrites the model in float64: each Gemm (transB 1) as MatMul + Add,
      the weights transposed in double_data, the biases in raw_data: the
      same function, written the other ways an exporter may.
  onnx_tool.py bad KIND MODEL.onnx OUT.onnx
      a broken copy: KIND conv (a Conv node replaces the first
      activation), nan (one weight NaN), dims (a weight holds one value
      less than its dims say), cycle (the first Gemm reads the last output).
  onnx_tool.py compare EXPECTED.json PREDICT.json TOL
      PREDICT's "outputs" match EXPECTED's "outputs" within TOL.
Exits 1 with a message on any mismatch.
"""
import json
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto


def fail(msg):
    print("onnx_tool: " + msg, file=sys.stderr)
    sys.exit(1)


def evaluate(model, x):
    """The graph on x, one node at a time, in float32."""
    env = {t.name: numpy_helper.to_array(t).astype(np.float32)
           for t in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float32)
    for n in model.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        i = [env[v] for v in n.input if v]
        if n.op_type == "Gemm":
            b = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (i[0] @ b)
            if len(i) > 2:
                y = y + a.get("beta", 1.0) * i[2]
        elif n.op_type == "MatMul":
            y = i[0] @ i[1]
        elif n.op_type == "Add":
            y = i[0] + i[1]
        elif n.op_type == "Sigmoid":
            y = 1 / (1 + np.exp(-i[0]))
        elif n.op_type == "Tanh":
            y = np.tanh(i[0])
        elif n.op_type == "Relu":
            y = np.maximum(i[0], 0)
        elif n.op_type == "Softmax":
            ax = a.get("axis", -1)
            e = np.exp(i[0] - i[0].max(axis=ax, keepdims=True))
            y = e / e.sum(axis=ax, keepdims=True)
        elif n.op_type == "Identity":
            y = i[0]
        else:
            fail("cannot evaluate " + n.op_type)
        env[n.output[0]] = y.astype(np.float32)
    return env[model.graph.output[0].name]


def check(path, inputs, predict, name, step):
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    if m.producer_name != "mlpd":
        fail("producer_name is %r" % m.producer_name)
    meta = {p.key: p.value for p in m.metadata_props}
    if meta.get("name") != name or meta.get("step") != step:
        fail("metadata %r, want name %r step %r" % (meta, name, step))
    ops = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
    if not ops or not 13 <= ops[0] <= 17:
        fail("opset %r" % ops)
    x = np.array(json.load(open(inputs))["inputs"], dtype=np.float64)
    want = np.array(json.load(open(predict))["outputs"], dtype=np.float64)
    got = evaluate(m, x).astype(np.float64)
    if got.shape != want.shape:
        fail("shape %r, want %r" % (got.shape, want.shape))
    d = float(np.abs(got - want).max())
    print("max_abs_diff %.3g" % d)
    if not d <= 1e-6:
        fail("numpy and mlpd differ by %g" % d)


def matmul(path, out):
    m = onnx.load(path)
    g = m.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes, new_inits = [], []
    for n in g.node:
        if n.op_type != "Gemm":
            nodes.append(n)
            continue
        w = inits[n.input[1]].T.astype(np.float64)  # [in, out]
        b = inits[n.input[2]].astype(np.float64)
        wt = helper.make_tensor(n.input[1] + ".t", TensorProto.DOUBLE,
                                w.shape, w.flatten().tolist())
        bt = helper.make_tensor(n.input[2], TensorProto.DOUBLE, b.shape,
                                b.tobytes(), raw=True)
        new_inits += [wt, bt]
        mid = n.output[0] + ".mm"
        nodes.append(helper.make_node("MatMul", [n.input[0], wt.name],
                                      [mid]))
        nodes.append(helper.make_node("Add", [mid, bt.name], [n.output[0]]))
    for v in list(g.input) + list(g.output):
        v.type.tensor_type.elem_type = TensorProto.DOUBLE
    g2 = helper.make_graph(nodes, "rewritten", list(g.input),
                           list(g.output), new_inits)
    m2 = helper.make_model(g2, opset_imports=[helper.make_opsetid("", 13)])
    m2.ir_version = 7
    m2.metadata_props.extend(m.metadata_props)
    onnx.checker.check_model(m2, full_check=True)
    onnx.save(m2, out)


def bad(kind, path, out):
    m = onnx.load(path)
    g = m.graph
    if kind == "conv":
        for k, n in enumerate(g.node):
            if n.op_type != "Gemm":
                g.node[k].op_type = "Conv"
                break
    elif kind == "nan":
        w = numpy_helper.to_array(g.initializer[0]).copy()
        w.flat[1] = np.nan
        g.initializer[0].CopyFrom(numpy_helper.from_array(
            w, g.initializer[0].name))
    elif kind == "dims":
        g.initializer[0].raw_data = g.initializer[0].raw_data[:-4]
    elif kind == "cycle":
        g.node[0].input[0] = g.output[0].name
    else:
        fail("no such kind " + kind)
    onnx.save(m, out)


def compare(expected, predict, tol):
    want = np.array(json.load(open(expected))["outputs"], dtype=np.float64)
    got = np.array(json.load(open(predict))["outputs"], dtype=np.float64)
    if got.shape != want.shape:
        fail("shape %r, want %r" % (got.shape, want.shape))
    d = float(np.abs(got - want).max())
    print("max_abs_diff %.3g" % d)
    if not d <= float(tol):
        fail("outputs differ by %g (tolerance %s)" % (d, tol))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"check": check, "matmul": matmul, "bad": bad,
     "compare": compare}[cmd](*args)
