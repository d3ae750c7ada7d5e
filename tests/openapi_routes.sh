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
#   - each documented JSON request body agrees with the decoder: starting
#     from the operation's example (for PUT weights, what GET answers),
#     every top-level property the schema types is sent, one at a time,
#     of the wrong type (and an integer as 1.5, a list of numbers nested
#     in a list) for 400 wrong_type, and below its minimum, above its
#     maximum, outside its enum, past its maxLength or against its
#     pattern for 422 invalid_value; the example itself gets 2xx, and the
#     new model echoes the example's hyper-parameters as sent;
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

# ---------------------------------------------------------------------------
# Request schemas against the decoder: from each documented JSON request
# body, generated bodies that the schema refuses must be refused with the
# code the README names, and its example must be taken.
# ---------------------------------------------------------------------------
schemas = doc.get("components", {}).get("schemas", {})


def resolve(s):
    """s with $ref and a one-element allOf followed, merged with the
    keywords beside them (minItems beside an allOf, say)."""
    s = dict(s or {})
    while True:
        if "$ref" in s:
            target = schemas.get(s.pop("$ref").split("/")[-1], {})
            s = dict(target, **s)
        elif len(s.get("allOf") or []) == 1:
            inner = s.pop("allOf")[0]
            s = dict(resolve(inner), **s)
        else:
            return s


def send(method, path, body):
    """(status, parsed JSON body or None) for a JSON request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, None
    finally:
        conn.close()


def code_of(answer):
    try:
        return answer["error"]["code"]
    except (KeyError, TypeError):
        return None


WRONG = {"integer": "abc", "number": "abc", "string": 12345,
         "boolean": "abc", "array": "abc", "object": 5}


def refused(label, method, path, body, status, code):
    got, answer = send(method, path, body)
    check(got == status and code_of(answer) == code,
          "%s: %d %s" % (label, status, code),
          "got %d %s for %s" % (got, code_of(answer),
                                json.dumps(body)[:200]))


def generated(name, method, path, example, schema):
    """Every top-level property of schema that example holds (or that
    has a type) is sent wrong-typed and out of range, one at a time."""
    props = schema.get("properties") or {}
    for prop in sorted(props):
        p = resolve(props[prop])
        t = p.get("type")
        if t not in WRONG:
            continue
        label = "%s %s with %s" % (method, name, prop)

        def variant(value):
            b = dict(example)
            b[prop] = value
            return b
        refused(label + " of the wrong type", method, path,
                variant(WRONG[t]), 400, "wrong_type")
        if t == "integer":
            refused(label + " 1.5", method, path, variant(1.5), 400,
                    "wrong_type")
        if t == "array" and isinstance(example.get(prop), list) and \
                resolve(p.get("items")).get("type") in ("number",
                                                         "integer"):
            refused(label + " nested in a list", method, path,
                    variant([example[prop]]), 400, "wrong_type")
        if t in ("integer", "number") and "minimum" in p:
            low = p["minimum"] if p.get("exclusiveMinimum") \
                else p["minimum"] - 1
            refused(label + " %s (below the minimum)" % low, method, path,
                    variant(low), 422, "invalid_value")
        if t in ("integer", "number") and "maximum" in p:
            high = p["maximum"] if p.get("exclusiveMaximum") \
                else p["maximum"] + 1
            refused(label + " %s (above the maximum)" % high, method,
                    path, variant(high), 422, "invalid_value")
        if t == "string" and "enum" in p:
            refused(label + " not in its enum", method, path,
                    variant("no-such-value"), 422, "invalid_value")
        if t == "string" and "maxLength" in p:
            refused(label + " longer than maxLength", method, path,
                    variant("x" * (p["maxLength"] + 1)), 422,
                    "invalid_value")
        if t == "string" and "pattern" in p:
            bad_text = [v for v in ("a\u202eb", "a\tb", "a\u0085b")
                        if not re.search(p["pattern"], v)]
            check(bad_text, label + ": a string that fails the pattern "
                  "is found")
            for v in bad_text:
                refused(label + " %r (fails the pattern)" % v, method,
                        path, variant(v), 422, "invalid_value")


def json_body(method, template):
    """(schema, [example bodies]) of the operation's JSON request body."""
    op = doc["paths"][template][method.lower()]
    media = ((op.get("requestBody") or {}).get("content") or {}).get(
        "application/json") or {}
    bodies = []
    if "example" in media:
        bodies.append(media["example"])
    for ex in (media.get("examples") or {}).values():
        bodies.append(ex["value"])
    return resolve(media.get("schema")), bodies


def alternatives(schema):
    return [resolve(s) for s in schema.get("oneOf") or []] or [schema]


create_schema, create_examples = json_body("POST", "/v1/models")
check(create_examples, "POST /v1/models documents an example body")
model_id = None
if create_examples:
    generated("/v1/models", "POST", "/v1/models", create_examples[0],
              create_schema)
    status, answer = send("POST", "/v1/models", create_examples[0])
    check(status == 201, "POST /v1/models takes its example: 201",
          "got %d %s" % (status, code_of(answer)))
    model_id = (answer or {}).get("id")
if model_id:
    # the hyper-parameters come back as sent, also ones float32 cannot
    # hold exactly (0.001 is 0.00100000005 there)
    sent = dict(create_examples[0], learning_rate=0.001, momentum=0.95)
    status, echo = send("POST", "/v1/models", sent)
    for key in ("learning_rate", "momentum", "seed", "layers", "name"):
        if key in sent:
            check(status == 201 and echo.get(key) == sent[key],
                  "a new model echoes %s as sent" % key,
                  "sent %r, got %d %r" % (sent[key], status,
                                          (echo or {}).get(key)))
    # in the order that keeps the model free: data, then reads and steps,
    # the weights, and last a train job (it holds the model)
    for template in ("/v1/models/{model_id}/batches",
                     "/v1/models/{model_id}/predict",
                     "/v1/models/{model_id}/step",
                     "/v1/models/{model_id}/weights",
                     "/v1/models/{model_id}/train"):
        path = template.replace("{model_id}", model_id)
        method = "PUT" if template.endswith("/weights") else "POST"
        schema, examples = json_body(method, template)
        if method == "PUT":
            # no example: what GET answers is a valid body (the round trip)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            r = conn.getresponse()
            examples = [json.loads(r.read())] if r.status == 200 else []
            conn.close()
        check(examples, "%s %s has a valid body to start from" % (
            method, template))
        for alt in alternatives(schema):
            fits = [e for e in examples if set(e) <= set(alt.get(
                "properties") or {})]
            if fits:
                generated(template, method, path, fits[0], alt)
        for e in examples:
            status, answer = send(method, path, e)
            check(200 <= status < 300, "%s %s takes %s: 2xx" % (
                method, template, json.dumps(e)[:60]),
                "got %d %s" % (status, code_of(answer)))

proc.send_signal(signal.SIGTERM)
try:
    rc = proc.wait(timeout=10)
except subprocess.TimeoutExpired:
    rc = None
check(rc == 0, "mlpd exits 0 on SIGTERM", "status %s" % rc)
finish(1 if failed else 0)
EOF
