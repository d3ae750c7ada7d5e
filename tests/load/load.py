#!/usr/bin/env python3
"""load.py: many clients at once against one running mlpd, then checks.

tests/load.sh starts the daemon and runs this; it can also be pointed at
any mlpd (--url, and --pid for the memory and descriptor checks).

Each client is a thread with its own kept-alive HTTP connection that
loops: create a model, push a few batches, start a train job, poll the
job while predicting and reading the loss history, read the batches back,
and delete the model every other round; the others stay, at most KEEP
per client (then the oldest goes), so the models stay well under
--max-models however long it runs. It runs twice:
a short warm-up, after which every model is deleted and the daemon's
resident memory (VmRSS) and open descriptors are taken as the starting
level; then the measured run, after which every acknowledged batch must be
listed by its model, every model is deleted, and after a short settle the
memory and descriptors must be back at the starting level (within
--rss-tolerance-mib and --fd-tolerance).

Any 5xx is a failure except a 503 with Retry-After and a code the README
documents for load (queue_full, out_of_memory): the client waits as told
and tries again. A refused or reset connection is a failure too.

It prints, per endpoint, requests, req/s and the 50th/99th percentile
and largest latency of the measured run, and last a line
"N passed, M failed". Exit status 0 only when nothing failed.
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

DOCUMENTED_503 = ("queue_full", "out_of_memory")
KEEP = 4  # models a client keeps at once
TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")


class Stats:
    """Latencies per endpoint and the failures seen, shared by threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.lat = {}          # endpoint -> [seconds]
        self.status = {}       # endpoint -> {status: count}
        self.failures = []     # messages
        self.retries = 0       # documented 503s waited out

    def add(self, ep, status, seconds):
        with self.lock:
            self.lat.setdefault(ep, []).append(seconds)
            st = self.status.setdefault(ep, {})
            st[status] = st.get(status, 0) + 1

    def fail(self, msg):
        with self.lock:
            if len(self.failures) < 50:
                self.failures.append(msg)
            else:
                self.failures.append(None)


class Client:
    """One kept-alive connection; request() retries documented 503s."""

    def __init__(self, host, port, token, stats, deadline):
        self.host, self.port = host, port
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = "Bearer " + token
        self.stats = stats
        self.deadline = deadline
        self.conn = None

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port,
                                                   timeout=30)
        return self.conn

    def request(self, ep, method, path, body=None):
        """(status, parsed JSON or None); None status when it failed."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(20):
            t0 = time.monotonic()
            try:
                c = self._conn()
                c.request(method, path, body=data, headers=self.headers)
                r = c.getresponse()
                raw = r.read()
            except (OSError, http.client.HTTPException) as e:
                self.stats.fail("%s %s: %s: %s" % (method, path,
                                                   type(e).__name__, e))
                self.close()
                return None, None
            dt = time.monotonic() - t0
            self.stats.add(ep, r.status, dt)
            doc = None
            if raw:
                try:
                    doc = json.loads(raw)
                except ValueError:
                    self.stats.fail("%s %s: %d, not JSON" %
                                    (method, path, r.status))
            if r.status == 503:
                code = (doc or {}).get("error", {}).get("code")
                ra = r.getheader("Retry-After")
                if code in DOCUMENTED_503 and ra is not None:
                    with self.stats.lock:
                        self.stats.retries += 1
                    time.sleep(min(float(ra), 1.0) * random.random() + 0.05)
                    continue
            if r.status >= 500:
                self.stats.fail("%s %s: %d %s" % (method, path, r.status,
                                                  raw[:200]))
            return r.status, doc
        self.stats.fail("%s %s: still 503 after 20 tries" % (method, path))
        return None, None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def rows(n, width, rng):
    return [[round(rng.random(), 3) for _ in range(width)] for _ in range(n)]


def client_loop(idx, args, stats, deadline, acked, kept, counts):
    """One client's rounds until the deadline."""
    rng = random.Random(idx)
    cl = Client(args.host, args.port, args.token, stats, deadline)
    mine = []  # the models this client keeps, oldest first
    rnd = 0

    def delete(mid):
        st, _ = cl.request("DELETE model", "DELETE", "/v1/models/" + mid)
        if st == 204:
            with stats.lock:
                acked.pop(mid, None)
                kept.discard(mid)
        elif st is not None:
            stats.fail("delete: %s" % st)

    while time.monotonic() < deadline:
        rnd += 1
        st, m = cl.request("POST /v1/models", "POST", "/v1/models", {
            "layers": [4, 16, 2], "learning_rate": 0.1,
            "name": "load-%d-%d" % (idx, rnd)})
        if st != 201:
            if st is not None:
                stats.fail("create: %s %s" % (st, m))
            time.sleep(0.1)
            continue
        mid = m["id"]
        base = "/v1/models/" + mid
        ids = []
        for _ in range(3):
            st, b = cl.request("POST batches", "POST", base + "/batches", {
                "inputs": rows(32, 4, rng), "targets": rows(32, 2, rng)})
            if st == 201:
                ids.append(b["batch_id"])
            elif st is not None:
                stats.fail("push: %s %s" % (st, b))
        with stats.lock:
            acked[mid] = list(ids)
        st, job = cl.request("POST train", "POST", base + "/train",
                             {"steps": 100, "batch_size": 16})
        if st != 202:
            if st is not None:
                stats.fail("train: %s %s" % (st, job))
            job = None
        for _ in range(200):
            st, p = cl.request("POST predict", "POST", base + "/predict",
                               {"inputs": rows(4, 4, rng)})
            if st != 200 and st is not None:
                stats.fail("predict: %s %s" % (st, p))
            st, h = cl.request("GET loss", "GET", base + "/loss?limit=100")
            if st != 200 and st is not None:
                stats.fail("loss: %s %s" % (st, h))
            if job is None:
                break
            st, j = cl.request("GET job", "GET", "/v1/jobs/" + job["id"])
            if st != 200:
                if st is not None:
                    stats.fail("job: %s %s" % (st, j))
                break
            if j["status"] in TERMINAL:
                if j["status"] != "succeeded":
                    stats.fail("job %s ended %s" % (job["id"], j["status"]))
                break
            time.sleep(0.02)
        st, bl = cl.request("GET batches", "GET", base + "/batches")
        if st == 200:
            listed = {b["batch_id"] for b in bl["batches"]}
            lost = [i for i in ids if i not in listed]
            if lost:
                stats.fail("model %s lost acknowledged batches %s" %
                           (mid, lost))
        elif st is not None:
            stats.fail("list: %s %s" % (st, bl))
        if rnd % 2 == 0:
            delete(mid)
        else:
            with stats.lock:
                kept.add(mid)
            mine.append(mid)
            if len(mine) > KEEP:
                delete(mine.pop(0))
        with stats.lock:
            counts["rounds"] += 1
    cl.close()


def run(args, seconds, stats):
    """Runs args.clients clients for seconds; returns (acked, kept)."""
    deadline = time.monotonic() + seconds
    acked, kept, counts = {}, set(), {"rounds": 0}
    threads = [threading.Thread(target=client_loop,
                                args=(i, args, stats, deadline, acked, kept,
                                      counts))
               for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acked, kept, counts["rounds"]


def delete_all(args, stats):
    """Deletes every model the daemon holds; the count deleted."""
    cl = Client(args.host, args.port, args.token, stats, 0)
    st, lst = cl.request("GET models", "GET", "/v1/models")
    n = 0
    for m in (lst or {}).get("models", []):
        st, _ = cl.request("DELETE model", "DELETE", "/v1/models/" + m["id"])
        if st == 204:
            n += 1
        else:
            stats.fail("cleanup delete %s: %s" % (m["id"], st))
    cl.close()
    return n


def resources(pid):
    """(VmRSS in KiB, open descriptors) of pid."""
    rss = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def pct(v, p):
    v = sorted(v)
    if not v:
        return 0.0
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="http://HOST:PORT")
    ap.add_argument("--pid", type=int, help="the daemon's pid (checks "
                    "memory and descriptors)")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=25)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--settle", type=float, default=3)
    # what may stay after every model is gone, bounded by design: SQLite's
    # page cache (2 MiB a connection: the writer and up to 4 idle readers,
    # READERS_KEPT in server/store/store_db.c) and the events ring (4096 events of well
    # under 1 KiB); measured: +5 MiB after 25 s, +10 MiB after 100 s
    ap.add_argument("--rss-tolerance-mib", type=float, default=16)
    # up to 4 more idle read connections (2 descriptors each: the database
    # and its WAL) than the warm-up left open
    ap.add_argument("--fd-tolerance", type=int, default=8)
    ap.add_argument("--token", default=os.environ.get("MLPD_TOKEN"))
    args = ap.parse_args()
    u = urllib.parse.urlparse(args.url)
    args.host, args.port = u.hostname, u.port

    passed = failed = 0

    def check(ok, what, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok: " + what)
        else:
            failed += 1
            print("FAIL: %s%s" % (what, " (%s)" % detail if detail else ""))

    # warm-up: threads, connections, the read pool and malloc's arenas
    # reach their working size; then the starting level
    warm = Stats()
    run(args, args.warmup, warm)
    delete_all(args, warm)
    check(not warm.failures, "warm-up: no failures",
          "; ".join(str(f) for f in warm.failures[:5]))
    time.sleep(args.settle)
    if args.pid:
        rss0, fd0 = resources(args.pid)
        print("starting level: VmRSS %.1f MiB, %d descriptors" %
              (rss0 / 1024.0, fd0))

    stats = Stats()
    t0 = time.monotonic()
    acked, kept, rounds = run(args, args.seconds, stats)
    elapsed = time.monotonic() - t0
    if args.pid:
        rss_peak, fd_peak = resources(args.pid)

    # every batch that got a 201 is listed by its model (kept ones)
    cl = Client(args.host, args.port, args.token, stats, 0)
    lost = 0
    nbatches = 0
    for mid in sorted(kept):
        st, bl = cl.request("GET batches", "GET",
                            "/v1/models/%s/batches" % mid)
        if st != 200:
            lost += len(acked.get(mid, []))
            continue
        listed = {b["batch_id"] for b in bl["batches"]}
        nbatches += len(acked.get(mid, []))
        lost += sum(1 for i in acked.get(mid, []) if i not in listed)
    cl.close()
    check(kept and lost == 0, "no acknowledged batch lost: %d batches of "
          "%d kept models listed" % (nbatches, len(kept)), "%d lost" % lost)
    ndel = delete_all(args, stats)

    total = sum(len(v) for v in stats.lat.values())
    print("\n%d clients, %.1f s: %d rounds, %d requests, %.0f req/s, "
          "%d documented 503s retried" % (args.clients, elapsed, rounds,
                                          total, total / elapsed,
                                          stats.retries))
    print("%-16s %8s %8s %9s %9s %9s  %s" % ("endpoint", "requests",
          "req/s", "p50 ms", "p99 ms", "max ms", "statuses"))
    for ep in sorted(stats.lat):
        v = stats.lat[ep]
        print("%-16s %8d %8.0f %9.1f %9.1f %9.1f  %s" % (
            ep, len(v), len(v) / elapsed, 1000 * pct(v, 50),
            1000 * pct(v, 99), 1000 * max(v),
            " ".join("%d:%d" % kv for kv in sorted(stats.status[ep].items()))))
    print()
    bad = [f for f in stats.failures if f is not None]
    check(not stats.failures, "no 5xx but documented 503s, no failed "
          "request (%d requests)" % total,
          "%d failures, first: %s" % (len(stats.failures), "; ".join(bad[:5])))
    check(rounds >= args.clients, "every client got through rounds (%d)" %
          rounds)
    if args.pid:
        time.sleep(args.settle)
        rss1, fd1 = resources(args.pid)
        print("peak during the run: VmRSS %.1f MiB, %d descriptors" %
              (rss_peak / 1024.0, fd_peak))
        print("after %d models deleted and %.0f s: VmRSS %.1f MiB, %d "
              "descriptors" % (ndel, args.settle, rss1 / 1024.0, fd1))
        check(rss1 - rss0 <= args.rss_tolerance_mib * 1024,
              "resident memory back to its starting level: %+.1f MiB "
              "(tolerance %g MiB)" % ((rss1 - rss0) / 1024.0,
                                      args.rss_tolerance_mib))
        check(fd1 - fd0 <= args.fd_tolerance,
              "open descriptors back to their starting level: %+d "
              "(tolerance %d)" % (fd1 - fd0, args.fd_tolerance))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
