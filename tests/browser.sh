#!/bin/sh
# browser.sh: the dashboard page (GET /) in headless Chromium against a
# daemon that is training.
#
# Starts $MLPD (default ${builddir:-.}/server/mlpd) on 127.0.0.1 with a free
# port and a private database, creates a model, pushes XOR-like rows and
# starts a long training job, then:
#   1. GET / answers the page built from server/api/page/index.html byte for
#      byte, as text/html; charset=utf-8 with Cache-Control: no-cache, and
#      the page names no outside URL (it must work offline);
#   2. Chromium dumps the DOM of /?transport=poll twice, two seconds apart,
#      under a virtual-time budget (an open event stream would stop virtual
#      time, hence the forced polling): the model has a row, its chart's
#      training path has data-points > 0 that grow from one dump to the
#      next, and the job has a progress bar and a cancel button; the model's
#      version 1 (with the alias production) is marked on its chart at its
#      step, with a tooltip naming it;
#   3. a screenshot of the page (1280x900) is saved as
#      tests/artifacts/dashboard.png in the source tree (a CI artifact,
#      ignored by git; $MLPD_ARTIFACTS overrides the directory);
#   4. the page as users open it (/, live event stream), driven in real
#      time over the DevTools protocol (--remote-debugging-pipe, from
#      python3): it switches to the event stream and its points grow; the
#      log-scale toggle changes the axis; the readout under the mouse shows
#      the step's learning rate; the form creates a model; the
#      cancel button cancels the job.
# Chromium runs as the issue says: --headless --no-sandbox --disable-gpu and
# a fresh profile. Nothing is installed here (quickstart.sh check installs
# chromium); a missing tool is a hard error (exit 99). Every check counts;
# the last line is "N passed, M failed" and the exit status is 1 when any
# check failed. Only 127.0.0.1 is contacted; the daemon and the browser
# never outlive the script.
set -u

. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)
CHROMIUM=${CHROMIUM:-chromium}

HINT="Debian packages: curl chromium python3 coreutils; ./quickstart.sh \
check installs them"
require curl "$CHROMIUM" python3 timeout "$MLPD"
lib_init browser
art=${MLPD_ARTIFACTS:-$SRC/tests/artifacts}
if ! mkdir -p "$art" 2>/dev/null || [ ! -w "$art" ]; then
	# a read-only source tree (make distcheck): keep it in the build tree
	art=${builddir:-.}/tests/artifacts
	mkdir -p "$art" || exit 99
fi

# chrome ARGS...: one headless Chromium run with a fresh profile, at most
# 60 s; its stderr goes to $tmp/chromium.err.
chrome() {
	_prof=$(mktemp -d "$tmp/profile.XXXXXX")
	timeout -k 5 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	    --disable-quic --no-first-run --disable-background-networking \
	    --disable-component-update --disable-sync --no-proxy-server \
	    --disable-dev-shm-usage --user-data-dir="$_prof" "$@" \
	    2>>"$tmp/chromium.err"
}

# dump FILE: the DOM of the polling page after 3 s of virtual time.
dump() {
	chrome --dump-dom --virtual-time-budget=3000 "$base/?transport=poll" \
	    >"$1"
}

# points FILE: the data-points of the first training chart in a dump.
points() {
	grep -o 'data-series="training" data-points="[0-9]*"' "$1" |
	    head -n 1 | sed 's/.*data-points="\([0-9]*\)"/\1/'
}

# ---------------------------------------------------------------------------
# The daemon, a model and a long job
# ---------------------------------------------------------------------------
start "$tmp/browser.db"

# 1. the page itself
req GET /
check "GET / status" "$code" 200
check "GET / content type" "$(header Content-Type)" "text/html; charset=utf-8"
check "GET / Cache-Control" "$(header Cache-Control)" "no-cache"
if cmp -s "$tmp/body" "$SRC/server/api/page/index.html"; then
	ok "GET / is server/api/page/index.html"
else
	bad "GET / is server/api/page/index.html" "the bytes differ"
fi
outside=$(grep -oE 'https?://[^"'"'"' )<>]*' "$tmp/body" |
    grep -v '^http://www\.w3\.org/2000/svg$' | head -n 3 | tr '\n' ' ')
check "the page names no outside URL" "$outside" ""

# [2,128,128,1] tanh/adam on 64 rows: a few thousand steps a second here,
# so the job runs for the whole test and the history stays small
req POST /v1/models '{"layers":[2,128,128,1],"name":"xor-browser","activation":"tanh","optimizer":"adam","learning_rate":0.001,"seed":11}'
check "create the model" "$code" 201
model=$(jget id)
rows=$(awk 'BEGIN {
	srand(5); printf "{\"inputs\":[";
	for (i = 0; i < 64; i++) {
		a = rand(); b = rand();
		printf "%s[%.3f,%.3f]", (i ? "," : ""), a, b;
		t[i] = ((a > 0.5) != (b > 0.5)) ? 1 : 0;
	}
	printf "],\"targets\":[";
	for (i = 0; i < 64; i++) printf "%s[%d]", (i ? "," : ""), t[i];
	printf "]}";
}')
req POST "/v1/models/$model/batches" "$rows"
check "push 64 rows" "$code" 201
req POST "/v1/models/$model/train" '{"steps":100000000,"batch_size":64}'
check "start a long job" "$code" 202
job=$(jget id)
i=0
step=0
while [ $i -lt 100 ]; do
	req GET "/v1/models/$model"
	step=$(jget step)
	[ "${step:-0}" -gt 0 ] 2>/dev/null && break
	sleep 0.1
	i=$((i + 1))
done
if [ "${step:-0}" -gt 0 ] 2>/dev/null; then
	ok "the job is training (step $step)"
else
	bad "the job is training" "step ${step:-?} after 10 s"
fi

# a version with a name and an alias, for the chart's version marks
req POST "/v1/models/$model/versions" '{"name":"first"}'
check "save version 1" "$code" 201
vstep=$(jget step)
req PUT "/v1/models/$model/aliases/production" '{"version":1}'
check "alias production names version 1" "$code" 200

# ---------------------------------------------------------------------------
# 2. the DOM under virtual time, twice
# ---------------------------------------------------------------------------
dump "$tmp/dom1.html"
sleep 2
dump "$tmp/dom2.html"
for f in dom1 dom2; do
	if grep -q "<tr data-model-id=\"$model\"" "$tmp/$f.html"; then
		ok "$f: a table row for $model"
	else
		bad "$f: a table row for $model" "$(wc -c <"$tmp/$f.html") bytes of DOM"
	fi
done
n1=$(points "$tmp/dom1.html")
n2=$(points "$tmp/dom2.html")
if [ "${n1:-0}" -gt 0 ] 2>/dev/null; then
	ok "dom1: the chart has $n1 points"
else
	bad "dom1: the chart has points" "data-points '${n1:-none}'"
fi
if [ "${n2:-0}" -gt "${n1:-0}" ] 2>/dev/null; then
	ok "dom2: the chart grew from $n1 to $n2 points"
else
	bad "dom2: the chart grew" "data-points '${n1:-none}' then '${n2:-none}'"
fi
if grep -q "d=\"M[0-9]" "$tmp/dom2.html"; then
	ok "dom2: the training path is drawn"
else
	bad "dom2: the training path is drawn" "no path data"
fi
if grep -q "<li class=\"job\" data-job-id=\"$job\"" "$tmp/dom2.html" &&
    grep -q "role=\"progressbar\"[^>]*aria-valuenow=\"[1-9]" "$tmp/dom2.html" &&
    grep -q "data-cancel=\"$job\"" "$tmp/dom2.html"; then
	ok "dom2: job $job with progress and a cancel button"
else
	bad "dom2: job $job with progress and a cancel button"
fi
if grep -q "<g class=\"vmark\" data-version=\"1\" data-step=\"$vstep\"><title>version 1 [^<]*first[^<]*production[^<]*</title>" \
    "$tmp/dom2.html"; then
	ok "dom2: version 1 (production) is marked at step $vstep"
else
	bad "dom2: version 1 (production) is marked at step $vstep" \
	    "$(grep -o '<g class="vmarks">.\{0,300\}' "$tmp/dom2.html" | head -n 1)"
fi
check "dom2: the page says it polls" \
    "$(grep -o 'id="conn" class="conn" data-state="[a-z]*"' "$tmp/dom2.html" |
    sed 's/.*data-state="//; s/"$//')" polling

# ---------------------------------------------------------------------------
# 3. the screenshot
# ---------------------------------------------------------------------------
rm -f "$art/dashboard.png"
chrome --screenshot="$art/dashboard.png" --window-size=1280,900 \
    --hide-scrollbars --virtual-time-budget=3000 "$base/?transport=poll" \
    >/dev/null
if [ -f "$art/dashboard.png" ] &&
    [ "$(head -c 8 "$art/dashboard.png" | od -An -tx1 | tr -d ' \n')" = \
    89504e470d0a1a0a ] &&
    [ "$(wc -c <"$art/dashboard.png")" -gt 20000 ]; then
	ok "screenshot $art/dashboard.png ($(wc -c <"$art/dashboard.png") bytes)"
else
	bad "screenshot $art/dashboard.png" "missing, not a PNG or too small"
fi

# ---------------------------------------------------------------------------
# 4. the live page, driven over the DevTools protocol
# ---------------------------------------------------------------------------
# the live session's waits are deadlines for a page that hangs, not
# speeds: a machine loaded by parallel tests (load average 14 on 2 cores)
# took Chromium over 10 s to load the page once in 5 runs, so each is 3
# times what a quiet machine needs, times slow_factor (lib.sh)
scale=$((3 * $(slow_factor)))
timeout -k 5 $((90 * scale)) python3 - "$CHROMIUM" "$base" "$model" "$job" \
    "$tmp" "$scale" \
    >"$tmp/live.out" 2>&1 <<'EOF'
import json
import os
import subprocess
import sys
import time
import urllib.request

chromium, base, model, job, tmp = sys.argv[1:6]
scale = int(sys.argv[6])  # every deadline below is times this

# Chromium reads commands from fd 3 and writes answers to fd 4, each a
# JSON text ending in NUL.
cmd_r, cmd_w = os.pipe()
ans_r, ans_w = os.pipe()


def child_fds():
    a, b = os.dup(cmd_r), os.dup(ans_w)
    os.dup2(a, 3)
    os.dup2(b, 4)


prof = os.path.join(tmp, "profile-live")
os.mkdir(prof)
with open(os.path.join(tmp, "chromium.err"), "ab") as err:
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-proxy-server",
         "--disable-dev-shm-usage", "--user-data-dir=" + prof,
         "--remote-debugging-pipe", "--window-size=1280,900", "about:blank"],
        preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL,
        stdout=err, stderr=err)
os.close(cmd_r)
os.close(ans_w)
buf = b""
next_id = 0


def call(method, params=None, session=None):
    global buf, next_id
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    os.write(cmd_w, json.dumps(msg).encode() + b"\0")
    while True:
        while b"\0" not in buf:
            chunk = os.read(ans_r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            buf += chunk
        raw, buf = buf.split(b"\0", 1)
        m = json.loads(raw)
        if m.get("id") == next_id:
            if "error" in m:
                raise RuntimeError(method + ": " + json.dumps(m["error"]))
            return m["result"]


passed = failed = 0


def ok(what):
    global passed
    passed += 1
    print("ok: live: " + what)


def bad(what, detail=""):
    global failed
    failed += 1
    print("FAIL: live: " + what + (" (" + detail + ")" if detail else ""))


def api(path, method="GET"):
    r = urllib.request.Request(base + path, method=method)
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            r, timeout=10 * scale) as f:
        return json.loads(f.read() or b"null")


session = None


def js(expr):
    r = call("Runtime.evaluate", {"expression": expr, "returnByValue": True},
             session)
    if "exceptionDetails" in r:
        raise RuntimeError("page script failed: " + expr)
    return r["result"].get("value")


def until(expr, good, seconds):
    """Evaluates expr in the page until good(value) holds or seconds (times
    scale) pass; returns the last value."""
    end = time.time() + seconds * scale
    while True:
        v = js(expr)
        if good(v) or time.time() > end:
            return v
        time.sleep(0.25)


STATE = """(() => {
    const p = document.querySelector('#chart-%s path[data-series=training]');
    return {state: document.getElementById('conn').getAttribute('data-state'),
            points: p ? Number(p.getAttribute('data-points')) : 0};
})()""" % model

try:
    target = call("Target.createTarget", {"url": base + "/"})["targetId"]
    session = call("Target.attachToTarget",
                   {"targetId": target, "flatten": True})["sessionId"]
    if not until("location.href.startsWith(%s) && "
                 "document.readyState === 'complete'" % json.dumps(base),
                 bool, 10):
        raise RuntimeError("the page did not load: %r" % js(
            "[location.href, document.readyState]"))

    # the event stream takes over, and points keep coming through it
    s = until(STATE, lambda v: v["state"] == "events" and v["points"] > 0,
              15)
    if s["state"] == "events" and s["points"] > 0:
        ok("the page uses the event stream (%d points)" % s["points"])
    else:
        bad("the page uses the event stream", json.dumps(s))
    p1 = s["points"]
    s = until(STATE, lambda v: v["points"] > p1, 2)
    if s["points"] > p1 and s["state"] == "events":
        ok("points grow from events: %d -> %d" % (p1, s["points"]))
    else:
        bad("points grow from events", "%d -> %s" % (p1, json.dumps(s)))

    # the log-scale toggle flips the axis
    axis = ("Array.from(document.querySelectorAll('#chart-%s text'))"
            ".map(t => t.textContent).filter(t => t.startsWith('loss'))"
            ".join()" % model)
    before = js(axis)
    js("document.querySelector('#chart-%s .log-toggle').click()" % model)
    after = until(axis, lambda v: v != before, 3)
    if {before, after} == {"loss", "loss (log)"}:
        ok("log-scale toggle: axis '%s' -> '%s'" % (before, after))
    else:
        bad("log-scale toggle", "axis %r -> %r" % (before, after))

    # the readout under the mouse shows the step's learning rate: the
    # job's steps run at the model's 0.001; points that came as events
    # ask the history for it
    js("""(() => { const s = document.querySelector('#chart-%s svg.chart');
        const b = s.getBoundingClientRect();
        s.dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
            clientX: b.left + b.width * 0.8, clientY: b.top + b.height / 2}));
        })()""" % model)
    HOVER = ("Array.from(document.querySelectorAll('#chart-%s .hover text'))"
             ".map(t => t.textContent).join(' / ')" % model)
    v = until(HOVER, lambda v: v.endswith("lr 0.001"), 5)
    if v.startswith("step ") and v.endswith("lr 0.001"):
        ok("the hover readout: %s" % v)
    else:
        bad("the hover readout shows the learning rate", repr(v))

    # the form creates a model
    js("""(() => { const f = document.getElementById('create');
        f.elements.namedItem('name').value = 'from-the-form';
        f.elements.namedItem('layers').value = '3, 5, 2';
        f.elements.namedItem('activation').value = 'relu';
        f.elements.namedItem('optimizer').value = 'adam';
        f.elements.namedItem('learning_rate').value = '0.01';
        f.requestSubmit(); })()""")
    MSG = ("[document.getElementById('create-msg').className,"
           " document.getElementById('create-msg').textContent]")
    cls, msg = until(MSG, lambda v: "ok" in v[0] or "error" in v[0], 5)
    made = [m for m in api("/v1/models")["models"]
            if m["name"] == "from-the-form"]
    if made and made[0]["layers"] == [3, 5, 2] and \
            made[0]["optimizer"] == "adam" and "ok" in cls:
        row = until("!!document.querySelector('tr[data-model-id=\"%s\"]')"
                    % made[0]["id"], bool, 3)
        if row:
            ok("the form created %s: %s" % (made[0]["id"], msg))
        else:
            bad("the form's model has a row", made[0]["id"])
    else:
        bad("the form creates a model", "message %r, models %r" % (msg, made))

    # a bad value shows the API's error and creates nothing
    js("""(() => { const f = document.getElementById('create');
        f.elements.namedItem('name').value = 'too-wide';
        f.elements.namedItem('layers').value = '2, 70000, 1';
        f.requestSubmit(); })()""")
    cls, err = until(MSG, lambda v: "error" in v[0], 5)
    if "error" in cls and not [m for m in api("/v1/models")["models"]
                    if m["name"] == "too-wide"]:
        ok("a rejected model shows: %s" % err)
    else:
        bad("a rejected model shows the error", repr(err))

    # the cancel button cancels the job
    js("document.querySelector('button[data-cancel=\"%s\"]').click()" % job)
    st = until("(document.querySelector('li[data-job-id=\"%s\"]') || "
               "{getAttribute: () => null}).getAttribute('data-status')" % job,
               lambda v: v == "cancelled", 5)
    real = api("/v1/jobs/" + job)["status"]
    if st == "cancelled" and real == "cancelled":
        ok("the cancel button cancelled %s" % job)
    else:
        bad("the cancel button cancels the job",
            "page %r, API %r" % (st, real))
    hidden = js("document.querySelector('button[data-cancel=\"%s\"]').hidden"
                % job)
    if hidden:
        ok("no cancel button on the cancelled job")
    else:
        bad("no cancel button on the cancelled job")
except Exception as e:  # a broken pipe, a page error: one failure
    bad("the DevTools session", repr(e))
finally:
    try:
        call("Browser.close")
    except Exception:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

print("live %d %d" % (passed, failed))
EOF
grep -E '^(ok|FAIL): ' "$tmp/live.out"
live=$(sed -n 's/^live \([0-9]*\) \([0-9]*\)$/\1 \2/p' "$tmp/live.out")
if [ -n "$live" ]; then
	passed=$((passed + ${live% *}))
	failed=$((failed + ${live#* }))
else
	bad "the live session ran" "$(tail -n 5 "$tmp/live.out" | tr '\n' ' ')"
fi

if [ "$failed" -gt 0 ]; then
	echo "--- chromium stderr (last lines)"
	grep -v 'dbus\|DBus' "$tmp/chromium.err" | tail -n 15
fi

# ---------------------------------------------------------------------------
# SIGTERM: the daemon still stops cleanly
# ---------------------------------------------------------------------------
stop_term "mlpd exits 0 on SIGTERM" 5
finish
