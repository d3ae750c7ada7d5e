#!/bin/sh
# openapi_routes.sh: the routes mlpd answers are exactly the operations
# schema/openapi.yaml documents.
#
# Statically: the route table in server/api/routes.c ({ "METHOD", "/path/*" },
# '*' for one segment) and the paths of the OpenAPI document (PyYAML; each
# {param} counts as one segment) must hold the same method+path pairs.
#
# Against the real daemon ($builddir/server/mlpd on 127.0.0.1, a free port,
# an in-memory database):
#   - every operation of either list is answered: not 405, and not 404
#     route_not_found (placeholder ids make 404 model_not_found and the
#     like; those are fine), not 5xx, and with a status the operation
#     documents;
#   - on every documented path each undocumented method (GET, POST, PUT,
#     DELETE, PATCH) gets 405 method_not_allowed with an Allow header that
#     lists exactly the documented methods;
#   - an unknown path gets 404 route_not_found (so the checks above can
#     fail), and the daemon exits 0 on SIGTERM afterwards.
# Event streams are read up to their headers, then closed. The last line
# is "N passed, M failed"; the exit status is 1 when a check failed. Only
# 127.0.0.1 is contacted; the daemon never outlives the script.
set -u

. "$(dirname "$0")/lib.sh"
SRC=${srcdir:-.}

HINT="Debian package python3"
require python3 "$MLPD"
if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "openapi_routes: python3 with PyYAML is needed" \
	    "(Debian packages python3 python3-yaml)" >&2
	exit 99
fi

exec python3 - "$MLPD" "$SRC/server/api/routes.c" "$SRC/schema/openapi.yaml" \
    <<'EOF'
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import yaml

mlpd, routes_c, openapi_yaml = sys.argv[1:4]
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
passed = failed = 0


def ok(what):
    global passed
    passed += 1
    print("ok: " + what)


def bad(what, detail=""):
    global failed
    failed += 1
    print("FAIL: " + what + (" (" + detail + ")" if detail else ""))


def check(cond, what, detail=""):
    if cond:
        ok(what)
    else:
        bad(what, detail)


def show(ops):
    return ", ".join(m + " " + p for m, p in sorted(ops)) or "none"


# ---------------------------------------------------------------------------
# Static: routes.c against openapi.yaml
# ---------------------------------------------------------------------------
with open(routes_c) as f:
    # drop comments, keep string literals ("/v1/models/*/x" holds "/*")
    src = re.sub(r'"(?:\\.|[^"\\\n])*"|/\*.*?\*/|//[^\n]*',
                 lambda m: m.group(0) if m.group(0)[0] == '"' else " ",
                 f.read(), flags=re.S)
table = re.search(r"http_route\s+routes\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
served = set()
if table:
    served = set(re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"(/[^"]*)"',
                            table.group(1)))
check(len(served) >= 10, "routes.c: %d routes in the table" % len(served),
      "the table was not found or is nearly empty")

with open(openapi_yaml) as f:
    doc = yaml.safe_load(f)
documented = {}     # (METHOD, pattern) -> (path template, responses)
templates = {}      # pattern -> path template
for path, item in (doc.get("paths") or {}).items():
    pattern = re.sub(r"\{[^/{}]+\}", "*", path)
    templates[pattern] = path
    for key, op in (item or {}).items():
        if key.upper() in METHODS + ("HEAD", "OPTIONS", "TRACE"):
            documented[(key.upper(), pattern)] = (
                path, set(str(c) for c in (op.get("responses") or {})))
check(len(documented) >= 10,
      "openapi.yaml: %d operations under paths" % len(documented))

undocumented = served - set(documented)
check(not undocumented, "every route in routes.c is in openapi.yaml",
      "undocumented: " + show(undocumented))
unserved = set(documented) - served
check(not unserved, "every operation in openapi.yaml is in routes.c",
      "not in the table: " + show(unserved))

# ---------------------------------------------------------------------------
# Dynamic: the real daemon
# ---------------------------------------------------------------------------
tmp = tempfile.mkdtemp(prefix="mlpd-openapi.")
errpath = os.path.join(tmp, "mlpd.err")
errf = open(errpath, "w")
proc = subprocess.Popen([mlpd, "--listen", "127.0.0.1:0", "--db", ":memory:",
                         "--log-level", "warn"],
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=errf)


def finish(code):
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    errf.close()
    os.unlink(errpath)
    os.rmdir(tmp)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(code)


port = None
deadline = time.monotonic() + 10
while port is None and time.monotonic() < deadline and proc.poll() is None:
    with open(errpath) as f:
        m = re.search(r"mlpd listening on http://127\.0\.0\.1:(\d+)",
                      f.read())
    if m:
        port = int(m.group(1))
    else:
        time.sleep(0.05)
if port is None:
    with open(errpath) as f:
        bad("mlpd starts on 127.0.0.1 with a free port", f.read()[-400:])
    finish(1)
ok("mlpd listens on 127.0.0.1:%d" % port)


def placeholder(template):
    """A path with each {param} replaced by an id that exists nowhere."""
    def one(m):
        return ("j" if "job" in m.group(1) else "m") + "0123456789abcdef"
    return re.sub(r"\{([^/{}]+)\}", one, template)


def request(method, path):
    """(status, headers, error code or None); streams are not read."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = headers = None
        if method in ("POST", "PUT", "PATCH"):
            body = b"{}"
            headers = {"Content-Type": "application/json"}
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        ctype = r.getheader("Content-Type") or ""
        code = None
        if "event-stream" not in ctype:
            data = r.read()
            if "json" in ctype:
                try:
                    code = json.loads(data)["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    pass
        return r.status, r, code
    finally:
        conn.close()


def answered(label, method, path, responses):
    try:
        status, _, code = request(method, path)
    except (OSError, http.client.HTTPException) as e:
        bad(label + " is answered", "%s %s: %s" % (method, path, e))
        return
    if status == 405 or (status == 404 and code == "route_not_found"):
        bad(label + " is answered", "%s %s: %d %s" % (method, path, status,
                                                      code))
    elif status >= 500:
        bad(label + " is answered without a server error",
            "%s %s: %d %s" % (method, path, status, code))
    elif responses is not None and str(status) not in responses and \
            "default" not in responses:
        bad(label + " answers a documented status",
            "%s %s: %d %s, documented: %s" % (
                method, path, status, code, " ".join(sorted(responses))))
    else:
        ok("%s is answered: %d%s" % (label, status,
                                     " " + code if code else ""))


for (method, pattern) in sorted(set(documented) | served):
    template = templates.get(pattern) or pattern.replace("*", "{id}")
    responses = documented.get((method, pattern), (None, None))[1]
    answered(method + " " + template, method, placeholder(template),
             responses)

for pattern, template in sorted(templates.items()):
    allowed = sorted(m for (m, p) in documented if p == pattern)
    path = placeholder(template)
    for method in METHODS:
        if method in allowed:
            continue
        # every path with GET takes HEAD too (headers only)
        if "GET" in allowed and "HEAD" not in allowed:
            allowed = sorted(allowed + ["HEAD"])
        label = "%s %s gets 405 with Allow: %s" % (method, template,
                                                   ", ".join(allowed))
        try:
            status, r, code = request(method, path)
        except (OSError, http.client.HTTPException) as e:
            bad(label, str(e))
            continue
        allow = sorted(a.strip() for a in (r.getheader("Allow") or "")
                       .split(",") if a.strip())
        check(status == 405 and code == "method_not_allowed" and
              allow == allowed, label,
              "got %d %s, Allow: %s" % (status, code, ", ".join(allow)))

status, _, code = request("GET", "/v1/no/such/route")
check(status == 404 and code == "route_not_found",
      "an unknown path gets 404 route_not_found", "got %d %s" % (status,
                                                                  code))

proc.send_signal(signal.SIGTERM)
try:
    rc = proc.wait(timeout=10)
except subprocess.TimeoutExpired:
    rc = None
check(rc == 0, "mlpd exits 0 on SIGTERM", "status %s" % rc)
finish(1 if failed else 0)
EOF
