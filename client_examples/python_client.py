#!/usr/bin/env python3
"""python_client.py: a small mlpd client on the Python standard library only.

    from python_client import Mlpd
    c = Mlpd("http://127.0.0.1:8080")
    m = c.create([2, 4, 1], learning_rate=2, seed=7)
    c.push(m["id"], [[0, 0], [0, 1], [1, 0], [1, 1]], [[0], [1], [1], [0]])
    job = c.wait(c.train(m["id"], steps=3000, batch_size=4)["id"])
    print(c.predict(m["id"], [[0, 1]]))      # [[0.97...]]

Every method sends one request (wait polls, loss pages) and returns the
decoded JSON answer; an error answer raises MlpdError with the status, the
error code and message of mlpd's {"error": {"code", "message"}} body.
push_csv and predict_csv send text/csv bodies (one sample per line) and
predict_csv asks for CSV outputs with Accept: text/csv. save_version,
set_alias, predict_version, restore and create_from drive versions and
aliases (a version: an immutable copy of a model's weights).
push_npy and predict_npy send NumPy arrays as .npy / .npz bodies and
predict_npy reads the outputs back as an .npy (Accept: application/x-npy);
only those two methods need numpy, imported when they are called.

A daemon started with --token-file wants its token: Mlpd(url, token=...)
or $MLPD_TOKEN, sent as "Authorization: Bearer <token>". For HTTPS with a
certificate of your own, point SSL_CERT_FILE at it.

Run it as a script for a demo: XOR trained on a daemon at $MLPD_URL
(default http://127.0.0.1:8080), e.g. after `server/mlpd --db :memory:`:

    MLPD_URL=http://127.0.0.1:8080 python3 client_examples/python_client.py
"""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class MlpdError(Exception):
    """An error answer from mlpd (or no answer at all: status 0)."""

    def __init__(self, status, code, message):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Mlpd:
    """A client for one mlpd daemon at base_url."""

    def __init__(self, base_url="http://127.0.0.1:8080", timeout=60,
                 token=None):
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        # the daemon's --token-file token, if it has one
        self.token = token if token is not None else \
            os.environ.get("MLPD_TOKEN") or None
        host = urllib.parse.urlsplit(self.base).hostname or ""
        # a local daemon is never reached through a proxy
        if host in ("127.0.0.1", "localhost", "::1"):
            self._open = urllib.request.build_opener(
                urllib.request.ProxyHandler({})).open
        else:
            self._open = urllib.request.urlopen

    def request(self, method, path, body=None, content_type=None,
                accept=None):
        """Sends one request; returns (status, bytes of the answer)."""
        data = None
        headers = {}
        if body is not None:
            if content_type is None:
                data = json.dumps(body, separators=(",", ":")).encode()
                content_type = "application/json"
            else:
                data = body if isinstance(body, bytes) else body.encode()
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.base + path, data=data,
                                     headers=headers, method=method)
        try:
            with self._open(req, timeout=self.timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = json.loads(raw)["error"]
                code, msg = err["code"], err["message"]
            except (ValueError, KeyError, TypeError):
                code, msg = "http_error", raw.decode(errors="replace")
            raise MlpdError(e.code, code, msg) from None
        except urllib.error.URLError as e:
            raise MlpdError(0, "unreachable",
                            f"{self.base}: {e.reason}") from None

    def call(self, method, path, body=None):
        """A JSON request; the decoded JSON answer (None for 204)."""
        _, raw = self.request(method, path, body)
        return json.loads(raw) if raw else None

    # --- models -----------------------------------------------------------

    def create(self, layers, **options):
        """POST /v1/models: options are name, activation, loss, optimizer,
        learning_rate, momentum, seed. Returns the model."""
        return self.call("POST", "/v1/models", dict(layers=layers, **options))

    def models(self, page_size=100):
        """GET /v1/models, page by page (limit, after, next_after): yields
        every model, oldest first."""
        after = None
        while True:
            query = {"limit": page_size}
            if after is not None:
                query["after"] = after
            page = self.call("GET",
                             "/v1/models?" + urllib.parse.urlencode(query))
            yield from page["models"]
            after = page.get("next_after")
            if after is None:
                return

    def model(self, model_id):
        return self.call("GET", f"/v1/models/{model_id}")

    def delete(self, model_id):
        """DELETE /v1/models/{id}: the model, its data, jobs and history."""
        self.call("DELETE", f"/v1/models/{model_id}")

    # --- ONNX ---------------------------------------------------------------

    def export_onnx(self, model_id):
        """GET /v1/models/{id}/onnx: the model as the bytes of an ONNX file
        (Gemm per layer, then its activation), for ONNX Runtime, Triton or
        onnx.load; name and step are in its metadata_props."""
        _, raw = self.request("GET", f"/v1/models/{model_id}/onnx")
        return raw

    def create_from_onnx(self, data):
        """POST /v1/models with an ONNX file's bytes (mlpd's own export, or
        e.g. torch.onnx.export of an nn.Sequential of Linear layers and
        Sigmoid/Tanh/ReLU/Softmax): a new model with its weights. Returns
        the model."""
        _, raw = self.request("POST", "/v1/models", bytes(data),
                              content_type="application/onnx")
        return json.loads(raw)

    # --- data -------------------------------------------------------------

    def push(self, model_id, inputs, targets):
        """Stores one batch of rows (JSON); returns
        {"batch_id", "samples", "total_samples"}."""
        return self.call("POST", f"/v1/models/{model_id}/batches",
                         {"inputs": inputs, "targets": targets})

    def push_csv(self, model_id, text):
        """Stores one batch given as CSV text: per line the inputs, then
        the targets; an optional header line."""
        _, raw = self.request("POST", f"/v1/models/{model_id}/batches",
                              text, content_type="text/csv")
        return json.loads(raw)

    def push_npy(self, model_id, inputs, targets):
        """Stores one batch given as NumPy arrays (rows x inputs, rows x
        targets; float32 or float64), sent as one .npz body
        (application/x-npz, np.savez: no per-number formatting)."""
        import io
        import numpy as np
        buf = io.BytesIO()
        np.savez(buf, inputs=np.ascontiguousarray(inputs, dtype="<f4"),
                 targets=np.ascontiguousarray(targets, dtype="<f4"))
        _, raw = self.request("POST", f"/v1/models/{model_id}/batches",
                              buf.getvalue(),
                              content_type="application/x-npz")
        return json.loads(raw)

    # --- training ---------------------------------------------------------

    def train(self, model_id, **options):
        """Queues a job (epochs, steps, batch_size, learning_rate,
        shuffle, validation or validation_split; and training control:
        schedule={"type": "step", "every": N, "factor": F} or
        {"type": "cosine", "min_lr": R}, each with an optional
        "warmup_steps", early_stopping={"patience": P, "min_delta": D},
        eval_every=N, restore_best=True, save_best=True,
        resume=<an interrupted job's id>
        with that job's options again); returns the job. Its
        learning_rate, best_step, best_value, best_version (save_best)
        and reason (why it stopped early) show on c.job(id) and in what
        c.wait returns."""
        return self.call("POST", f"/v1/models/{model_id}/train", options)

    def job(self, job_id):
        return self.call("GET", f"/v1/jobs/{job_id}")

    def wait(self, job_id, timeout=3600.0, poll=0.25, progress=None):
        """Polls the job until it ends; returns it when it succeeded and
        raises MlpdError otherwise. progress(job) is called on each poll."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if progress:
                progress(job)
            if job["status"] == "succeeded":
                return job
            if job["status"] in ("failed", "cancelled", "interrupted"):
                raise MlpdError(200, "job_" + job["status"],
                                job.get("error") or job["status"])
            if time.monotonic() > deadline:
                raise MlpdError(0, "timeout",
                                f"job {job_id} still {job['status']}")
            time.sleep(poll)

    # --- predictions and history ------------------------------------------

    def predict(self, model_id, inputs):
        """Outputs for a list of input rows (a list of rows)."""
        return self.call("POST", f"/v1/models/{model_id}/predict",
                         {"inputs": inputs})["outputs"]

    def predict_csv(self, model_id, text):
        """CSV inputs in, CSV outputs back (one row per line)."""
        _, raw = self.request("POST", f"/v1/models/{model_id}/predict",
                              text, content_type="text/csv",
                              accept="text/csv")
        return raw.decode()

    def predict_npy(self, model_id, inputs):
        """Outputs for a NumPy array of input rows, as a float32 array
        (.npy in, Accept: application/x-npy out)."""
        import io
        import numpy as np
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(inputs, dtype="<f4"))
        _, raw = self.request("POST", f"/v1/models/{model_id}/predict",
                              buf.getvalue(),
                              content_type="application/x-npy",
                              accept="application/x-npy")
        return np.load(io.BytesIO(raw))

    def loss(self, model_id, since=0, limit=10000):
        """The whole loss history after step since: [{"step", "loss",
        "time", "lr"}, ...] (lr: the learning rate the step ran at),
        following next_since page by page."""
        points = []
        while True:
            page = self.call("GET", f"/v1/models/{model_id}/loss"
                                    f"?since={since}&limit={limit}")
            points += page["points"]
            if not page["points"]:
                return points
            since = page["next_since"]


    # --- versions and aliases ---------------------------------------------

    def save_version(self, model_id, name=None):
        """POST .../versions: the weights predictions see now, with their
        step, loss and last validation point, as a new version."""
        body = {"name": name} if name is not None else {}
        return self.call("POST", f"/v1/models/{model_id}/versions", body)

    def versions(self, model_id, page_size=100):
        """GET .../versions page by page: yields every version, oldest
        first."""
        after = 0
        while True:
            page = self.call("GET", f"/v1/models/{model_id}/versions"
                                    f"?limit={page_size}&after={after}")
            yield from page["versions"]
            after = page.get("next_after")
            if after is None:
                return

    def version(self, model_id, version):
        """One version, by number or alias."""
        return self.call("GET", f"/v1/models/{model_id}/versions/{version}")

    def version_weights(self, model_id, version):
        """A version's weights, as GET .../weights shows the model's."""
        return self.call("GET",
                         f"/v1/models/{model_id}/versions/{version}/weights")

    def delete_version(self, model_id, version, drop_aliases=False):
        """DELETE a version (409 version_aliased while an alias names it,
        unless drop_aliases)."""
        q = "?drop_aliases=true" if drop_aliases else ""
        self.call("DELETE", f"/v1/models/{model_id}/versions/{version}{q}")

    def aliases(self, model_id):
        return self.call("GET", f"/v1/models/{model_id}/aliases")["aliases"]

    def set_alias(self, model_id, alias, version):
        """PUT .../aliases/{alias}: creates or moves it, in one step."""
        return self.call("PUT", f"/v1/models/{model_id}/aliases/{alias}",
                         {"version": version})

    def delete_alias(self, model_id, alias):
        self.call("DELETE", f"/v1/models/{model_id}/aliases/{alias}")

    def predict_version(self, model_id, inputs, version):
        """Outputs from a saved version (a number or an alias): the whole
        answer, {"outputs", "step", "version", "alias"?}."""
        q = urllib.parse.urlencode({"version": version})
        return self.call("POST", f"/v1/models/{model_id}/predict?{q}",
                         {"inputs": inputs})

    def restore(self, model_id, version):
        """Puts the model back to a version (number or alias); returns the
        model."""
        return self.call("POST", f"/v1/models/{model_id}/restore",
                         {"version": version})

    def create_from(self, model_id, version, name=None):
        """A new model with the weights of a version of another."""
        body = {"from": {"model": model_id, "version": version}}
        if name is not None:
            body["name"] = name
        return self.call("POST", "/v1/models", body)


def demo(url):
    """XOR from creation to deletion, printing each stage."""
    c = Mlpd(url)
    print("healthz:", c.call("GET", "/healthz"))
    m = c.create([2, 4, 1], name="xor-python", learning_rate=2, seed=7)
    mid = m["id"]
    print(f"created {mid}: layers {m['layers']}, "
          f"activation {m['activation']}, seed {m['seed']}")
    listed = [x["id"] for x in c.models()]
    print(f"listed {len(listed)} model(s)")
    if mid not in listed:
        print(f"{mid} is missing from GET /v1/models")
        return 1
    xs = [[0, 0], [0, 1], [1, 0], [1, 1]]
    ys = [[0], [1], [1], [0]]
    print("pushed (json):", c.push(mid, xs, ys))
    print("pushed (csv): ",
          c.push_csv(mid, "a,b,xor\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"))
    job = c.train(mid, steps=3000, batch_size=8)
    print(f"job {job['id']} {job['status']}, {job['steps_total']} steps")
    job = c.wait(job["id"])
    print(f"job {job['status']}: {job['steps_done']} steps, "
          f"loss {job['loss']:.6f}")
    outs = c.predict(mid, xs)
    for x, y, out in zip(xs, ys, outs):
        print(f"  {x} -> {out[0]:.4f} (want {y[0]})")
    print("csv predict:", c.predict_csv(mid, "0,0\n1,1\n").split())
    try:
        import numpy as np
    except ImportError:
        print("npy: numpy is not installed; push_npy/predict_npy skipped")
    else:
        print("pushed (npy): ", c.push_npy(mid, np.array(xs), np.array(ys)))
        same = np.array_equal(c.predict_npy(mid, np.array(xs)),
                              np.array(outs, dtype=np.float32))
        print("predict_npy matches predict" if same else
              "predict_npy DIFFERS from predict")
        if not same:
            return 1
    pts = c.loss(mid)
    print(f"loss history: {len(pts)} points, step {pts[0]['step']} "
          f"{pts[0]['loss']:.4f} -> step {pts[-1]['step']} "
          f"{pts[-1]['loss']:.6f}")
    v = c.save_version(mid, name="learned")
    c.set_alias(mid, "production", v["version"])
    pinned = c.predict_version(mid, xs, "production")
    print(f"version {v['version']} at step {v['step']} is production: "
          f"answers from version {pinned['version']}, step {pinned['step']}")
    if pinned["outputs"] != outs:
        print("the pinned outputs differ from the latest ones")
        return 1
    onnx = c.export_onnx(mid)
    copy = c.create_from_onnx(onnx)
    same = c.predict(copy["id"], xs) == outs
    print(f"onnx: {len(onnx)} bytes, imported as {copy['id']} at step "
          f"{copy['step']}: predictions {'equal' if same else 'DIFFER'}")
    c.delete(copy["id"])
    if not same:
        return 1
    c.delete(mid)
    print(f"deleted {mid}")
    right = all(round(o[0]) == y[0] for o, y in zip(outs, ys))
    print("xor learned" if right else "xor NOT learned")
    return 0 if right else 1


if __name__ == "__main__":
    try:
        sys.exit(demo(os.environ.get("MLPD_URL", "http://127.0.0.1:8080")))
    except MlpdError as e:
        print(f"python_client: {e}", file=sys.stderr)
        sys.exit(1)
