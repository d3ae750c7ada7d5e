#!/usr/bin/env python3
"""headofline.py: do slow requests delay unrelated fast ones?

Drives a running mlpd (started by the caller with --http-threads 1
--trainers 1 on a database FILE) through two phases and times every
GET /healthz and POST .../predict on a model of its own:

  quiet  nothing else runs;
  mixed  model A trains a long job, a client calls /step on model B in a
         loop, and this process holds a SQLite write lock on the database
         file (BEGIN IMMEDIATE) for --lock-seconds in the middle of it, so
         /step, whose answer needs a store write, waits for the lock.

--check (tests/headofline.sh): every fast request must be answered 200 in
under --bound seconds, and the mixed load must have been real: the lock
was taken, and some /step waited at least half of --lock-seconds.
Without --check it prints p50/p99/max per phase and the mixed/quiet
ratios (tests/bench/bench_http.sh). Only the standard library; talks to
127.0.0.1 only. Exit 0 when every check passed.
"""
import argparse
import http.client
import json
import random
import sqlite3
import sys
import threading
import time


def request(conn, method, path, body=None):
    """One request on a kept-alive connection: (status, seconds, body)."""
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    data = json.dumps(body) if body is not None else None
    t0 = time.monotonic()
    conn.request(method, path, body=data, headers=hdrs)
    r = conn.getresponse()
    text = r.read()
    return r.status, time.monotonic() - t0, text


def connect(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def setup(port):
    """Models A (big, trains), B (steps) and C (predicts); their ids."""
    c = connect(port)
    rng = random.Random(7)
    ids = {}
    for name, layers in (("A", [32, 256, 256, 1]), ("B", [2, 8, 1]),
                         ("C", [2, 8, 1])):
        st, _, body = request(c, "POST", "/v1/models",
                              {"name": "hol-" + name, "layers": layers})
        if st != 201:
            sys.exit("creating model %s: HTTP %d %s" % (name, st, body))
        ids[name] = json.loads(body)["id"]
    rows = 2000
    x = [[rng.random() for _ in range(32)] for _ in range(rows)]
    y = [[rng.random()] for _ in range(rows)]
    st, _, body = request(c, "POST", "/v1/models/%s/batches" % ids["A"],
                          {"inputs": x, "targets": y})
    if st != 201:
        sys.exit("pushing A's rows: HTTP %d %s" % (st, body))
    c.close()
    return ids


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def fast_loop(port, model_c, stop, out, errors):
    """Alternates /healthz and predict until stop is set."""
    c = connect(port)
    pred = "/v1/models/%s/predict" % model_c
    i = 0
    while not stop.is_set():
        if i % 2 == 0:
            st, dt, body = request(c, "GET", "/healthz")
            out["healthz"].append(dt)
        else:
            st, dt, body = request(c, "POST", pred, {"input": [0.25, 0.75]})
            out["predict"].append(dt)
        if st != 200:
            errors.append("HTTP %d after %.3f s: %s" % (st, dt, body[:200]))
        i += 1
    c.close()


def step_loop(port, model_b, stop, out):
    """Calls /step on B until stop is set; records (status, seconds)."""
    c = connect(port)
    path = "/v1/models/%s/step" % model_b
    body = {"inputs": [[0, 0], [0, 1], [1, 0], [1, 1]],
            "targets": [[0], [1], [1], [0]]}
    while not stop.is_set():
        st, dt, _ = request(c, "POST", path, body)
        out.append((st, dt))
    c.close()


def run_phase(port, model_c, seconds):
    out = {"healthz": [], "predict": []}
    errors = []
    stop = threading.Event()
    t = threading.Thread(target=fast_loop,
                         args=(port, model_c, stop, out, errors))
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join()
    return out, errors


def hold_lock(db, seconds, took):
    """BEGIN IMMEDIATE on the database file: no other writer until the
    rollback; readers go on (WAL)."""
    con = sqlite3.connect(db, timeout=30, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    took.append(time.monotonic())
    time.sleep(seconds)
    con.execute("ROLLBACK")
    con.close()


def summary(name, xs):
    ms = [x * 1000 for x in xs]
    return ("%-8s n=%5d  p50 %7.2f ms  p99 %7.2f ms  max %8.2f ms" %
            (name, len(ms), percentile(ms, 50), percentile(ms, 99),
             max(ms) if ms else float("nan")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--seconds", type=float, default=6.0,
                    help="length of each phase")
    ap.add_argument("--lock-seconds", type=float, default=3.0)
    ap.add_argument("--bound", type=float, default=1.0)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()

    ids = setup(a.port)
    quiet, quiet_err = run_phase(a.port, ids["C"], a.seconds / 2)

    c = connect(a.port)
    st, _, body = request(c, "POST", "/v1/models/%s/train" % ids["A"],
                          {"epochs": 1000000, "batch_size": 64})
    if st != 202:
        sys.exit("starting A's job: HTTP %d %s" % (st, body))
    job = json.loads(body)["id"]
    steps = []
    took = []
    stop = threading.Event()
    stepper = threading.Thread(target=step_loop,
                               args=(a.port, ids["B"], stop, steps))
    stepper.start()
    locker = threading.Thread(target=hold_lock,
                              args=(a.db, a.lock_seconds, took))
    # the lock starts a little into the phase and ends before its end
    threading.Timer((a.seconds - a.lock_seconds) / 2, locker.start).start()
    mixed, mixed_err = run_phase(a.port, ids["C"], a.seconds)
    locker.join()
    stop.set()
    stepper.join()
    request(c, "DELETE", "/v1/jobs/%s" % job)
    c.close()

    slowest_step = max((dt for _, dt in steps), default=0.0)
    print("head-of-line: --http-threads 1 --trainers 1; mixed = a training "
          "job, a /step loop, and a %.1f s SQLite write lock held by "
          "another process" % a.lock_seconds)
    for phase, out in (("quiet", quiet), ("mixed", mixed)):
        for k in ("healthz", "predict"):
            print("  %-5s %s" % (phase, summary(k, out[k])))
    print("  mixed /step: n=%d, slowest %.0f ms (it waits for the lock)" %
          (len(steps), slowest_step * 1000))
    for k in ("healthz", "predict"):
        q99 = percentile(quiet[k], 99)
        m99 = percentile(mixed[k], 99)
        print("  ratio mixed/quiet p99 %s: %.2f" % (k, m99 / q99 if q99 else
                                                   float("nan")))
    if not a.check:
        return 0

    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(("ok: " if ok else "FAIL: ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    check(not quiet_err and not mixed_err,
          "every /healthz and predict was answered 200 (%s)" %
          "; ".join((quiet_err + mixed_err)[:3]))
    for k in ("healthz", "predict"):
        n = len(mixed[k])
        worst = max(mixed[k]) if n else float("inf")
        check(n >= 10, "mixed load: %d %s requests answered" % (n, k))
        check(worst < a.bound, "mixed load: slowest %s %.0f ms, under %.0f "
              "ms" % (k, worst * 1000, a.bound * 1000))
    check(len(took) == 1, "another process held the database's write lock")
    check(slowest_step >= a.lock_seconds / 2,
          "the load was real: a /step waited %.0f ms for the lock" %
          (slowest_step * 1000))
    check(any(s == 200 for s, _ in steps), "/step calls succeeded")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
