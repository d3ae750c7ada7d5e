# lib.sh: what every test script shares; sourced, never run ("tests
# share one toolkit", as the C suites share tests/testlib.c). The scripts
# drive the real mlpd ($MLPD, default ${builddir:-.}/server/mlpd, under
# $MLPD_WRAPPER when set, e.g. valgrind) with curl on 127.0.0.1 only.
#
# A script sources it, calls lib_init NAME (a private directory $tmp,
# removed on exit, and the traps), then counts its checks with ok, bad,
# check, check_true or check_grep and ends with finish, whose last line is
# "N passed, M failed" (exit status 1 when a check failed). Daemons are
# started with start_daemon or start and never outlive the script: cleanup
# kills the one still running and then runs $cleanup_extra. E2E_SLOW is a
# whole factor for the waits on start and SIGTERM (valgrind_e2e.sh: 10).

MLPD=${MLPD:-${builddir:-.}/server/mlpd}
MLPD_WRAPPER=${MLPD_WRAPPER:-}
E2E_SLOW=${E2E_SLOW:-1}

pid=
code=-
passed=0
failed=0
base=
port=
tmp=
lib_name=${0##*/}
lib_name=${lib_name%.sh}

# lib_init NAME: the private directory $tmp (mlpd-NAME.XXXXXX under
# $TMPDIR), cleanup on exit, and exit 1 on HUP, INT and TERM.
lib_init() {
	lib_name=$1
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/mlpd-$1.XXXXXX") || exit 99
	trap cleanup EXIT
	trap 'exit 1' HUP INT TERM
}

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	[ -n "${cleanup_extra:-}" ] && eval "$cleanup_extra"
	[ -n "$tmp" ] && rm -rf "$tmp"
}

# ok DESCRIPTION / bad DESCRIPTION [DETAIL]: count one check. After a
# request, bad also shows its answer.
ok() {
	passed=$((passed + 1))
	echo "ok: $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL: $1${2:+ ($2)}"
	if [ "$code" != - ]; then
		echo "  last response: HTTP $code: $(head -c 400 "$tmp/body" \
		    2>/dev/null)"
	fi
}

# finish: the closing "N passed, M failed" line; exits 1 when M > 0.
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

# check DESCRIPTION GOT WANT: pass when the two strings are equal.
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got '$2', want '$3'"; fi
}

# check_true DESCRIPTION COMMAND...: pass when the command succeeds.
check_true() {
	_d=$1
	shift
	if "$@"; then ok "$_d"; else bad "$_d" "false: $*"; fi
}

# check_grep DESCRIPTION FILE STRING: pass when FILE holds the fixed
# STRING.
check_grep() {
	if grep -qF -- "$3" "$2"; then ok "$1"; else
		bad "$1" "no '$3' in: $(head -c 300 "$2" | tr '\n' ' ')"; fi
}

# require TOOL...: each must be installed (a TOOL with a slash, such as
# "$MLPD", must be an executable file), or the script stops with status
# 99 (a hard error for automake: the environment lacks what the test
# needs). HINT, when set, says where to get them.
require() {
	for _t in "$@"; do
		have "$_t" && continue
		case $_t in
		*/*) echo "$lib_name: $_t is not an executable (set MLPD or" \
		    "builddir)" >&2 ;;
		*) echo "$lib_name: $_t not found${HINT:+ ($HINT)}" >&2 ;;
		esac
		exit 99
	done
}

# need_tools TOOL...: the same, but a missing one is a failed check.
need_tools() {
	for _t in "$@"; do
		have "$_t" && continue
		case $_t in
		*/*) bad "$_t is an executable" "set MLPD or builddir" ;;
		*) bad "$_t is installed" "./quickstart.sh check installs it" ;;
		esac
		finish
	done
}

# numpy_python: the first of python3 and Debian's /usr/bin/python3 that
# imports numpy, on stdout; nothing (and 1) when neither does.
numpy_python() {
	for _p in python3 /usr/bin/python3; do
		if "$_p" -c "import numpy" 2>/dev/null; then
			echo "$_p"
			return 0
		fi
	done
	return 1
}

# proc_kb FIELD: FIELD (VmRSS, VmHWM) of the daemon $pid, in kB.
proc_kb() {
	sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB\$/\1/p" "/proc/$pid/status"
}

# proc_cpu_ms: the CPU time (user + system) the daemon $pid has used so
# far, in milliseconds. Unlike wall time it does not grow when other
# processes load the machine: checks of how much work a request took
# measure it.
proc_cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, "")
		print int(($12 + $13) * 1000 / hz) }' "/proc/$pid/stat"
}

# slow_factor: E2E_SLOW, times CK_TIMEOUT_MULTIPLIER (default 1) when
# $MLPD is a sanitizer build, whose code runs several times slower (.ci/run
# sets the multiplier for Check's timeouts in that stage).
slow_factor() {
	if grep -qa __asan_init "$MLPD" || grep -qa __tsan_init "$MLPD"; then
		echo $((E2E_SLOW * ${CK_TIMEOUT_MULTIPLIER:-1}))
	else
		echo "$E2E_SLOW"
	fi
}

# rss_checkable NAME: sets rss_plain to 1 when the daemon's resident sizes
# mean something, or to nothing (and says so) under a sanitizer's
# allocator (AddressSanitizer's quarantine) or a wrapper such as
# valgrind, which keep freed memory on purpose.
rss_checkable() {
	rss_plain=1
	if [ -n "$MLPD_WRAPPER" ] || grep -qa __asan_init "$MLPD"; then
		rss_plain=
		echo "$1: a sanitizer build or a wrapper; resident sizes are" \
		    "not checked"
	fi
}

# have TOOL: TOOL is installed, or (with a slash) an executable file.
have() {
	case $1 in
	*/*) [ -x "$1" ] ;;
	*) command -v "$1" >/dev/null 2>&1 ;;
	esac
}

# start_daemon DB [FLAGS...]: runs mlpd on DB on a free port and waits
# (10 s at most, times E2E_SLOW) for its "listening" line; sets pid, port
# and base. 0 when it listens; otherwise 1 with its stderr in
# $tmp/mlpd.err.
start_daemon() {
	_db=$1
	shift
	: >"$tmp/mlpd.err"
	# shellcheck disable=SC2086 # the wrapper is a command line
	$MLPD_WRAPPER "$MLPD" --listen 127.0.0.1:0 --db "$_db" "$@" \
	    2>"$tmp/mlpd.err" &
	pid=$!
	port=
	_i=0
	while [ $_i -lt $((200 * E2E_SLOW)) ]; do
		port=$(sed -n 's|^mlpd listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' \
		    "$tmp/mlpd.err")
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
		_i=$((_i + 1))
	done
	if [ -z "$port" ]; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		pid=
		return 1
	fi
	base=http://127.0.0.1:$port
	return 0
}

# start DB [FLAGS...]: start_daemon, counted as a check; the script ends
# when the daemon does not come up.
start() {
	if start_daemon "$@"; then
		ok "mlpd listening on port $port"
		return
	fi
	bad "mlpd starts on $1" "$(tail -n 3 "$tmp/mlpd.err")"
	finish
}

# stop_term DESCRIPTION [SECONDS]: SIGTERM the daemon; check it exits 0
# within SECONDS (default 10) times E2E_SLOW.
stop_term() {
	_s=$((${2:-10} * E2E_SLOW))
	kill -TERM "$pid"
	_i=0
	while [ $_i -lt $((_s * 10)) ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		pid=
		bad "$1" "still running $_s s after SIGTERM"
		return
	fi
	wait "$pid"
	_rc=$?
	pid=
	check "$1" "exit status $_rc" "exit status 0"
}

# kill9: SIGKILL the daemon and reap it.
kill9() {
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}

# req METHOD PATH [BODY [CONTENT-TYPE [ACCEPT]]]: one request to $base;
# sets code ("000" when no answer came), leaves the body in $tmp/body and
# the headers in $tmp/headers. A BODY starting with @ names a file; the
# type is application/json unless given.
req() {
	if [ $# -ge 3 ]; then
		case $3 in
		@*) cp "${3#@}" "$tmp/req" ;;
		*) printf '%s' "$3" >"$tmp/req" ;;
		esac
		code=$(curl -sS --noproxy '*' --max-time 60 -o "$tmp/body" \
		    -D "$tmp/headers" -w '%{http_code}' -X "$1" \
		    -H "Content-Type: ${4:-application/json}" \
		    ${5:+-H "Accept: $5"} \
		    --data-binary @"$tmp/req" "$base$2" 2>/dev/null) || code=000
	else
		code=$(curl -sS --noproxy '*' --max-time 60 -o "$tmp/body" \
		    -D "$tmp/headers" -w '%{http_code}' -X "$1" "$base$2" \
		    2>/dev/null) || code=000
	fi
}

# header NAME: the value of a header of the last answer ($tmp/headers).
header() {
	tr -d '\r' <"$tmp/headers" | sed -n "s/^$1: *//Ip" | head -n 1
}

# jget FIELD [FILE]: the first scalar value of "FIELD" in a JSON document,
# quotes stripped (enough for the flat objects mlpd answers with).
jget() {
	grep -oE "\"$1\" *: *(\"[^\"]*\"|[^],}]*)" "${2:-$tmp/body}" |
	    head -n 1 | sed -e "s/^\"$1\" *: *//" -e 's/^"//' -e 's/"[[:space:]]*$//' \
	    -e 's/[[:space:]]*$//'
}

# jarr FIELD [FILE]: the numbers of the first flat array "FIELD", one a line.
jarr() {
	grep -oE "\"$1\" *: *\[[^]]*\]" "${2:-$tmp/body}" | head -n 1 |
	    sed -e 's/^[^[]*\[//' -e 's/\]$//' | tr ',' '\n' | tr -d ' '
}

# lt A B / gt A B: the number A is less / greater than the number B.
lt() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'
}
gt() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'
}

# within TENTHS CMD...: 0 as soon as CMD succeeds, polled every 0.1 s;
# 1 when TENTHS tenths of a second went by without.
within() {
	_w=$1
	shift
	_k=0
	while [ $_k -lt "$_w" ]; do
		"$@" && return 0
		sleep 0.1
		_k=$((_k + 1))
	done
	return 1
}

# wait_job JOB SECONDS STATUS...: poll the job until its status is one of
# STATUS... (0) or it ended otherwise or time ran out (1); sets job_status
# and leaves the last answer in $tmp/body.
wait_job() {
	_j=$1
	_n=$(($2 * 20))
	shift 2
	_i=0
	while [ $_i -lt $_n ]; do
		req GET "/v1/jobs/$_j"
		job_status=$(jget status)
		for _s in "$@"; do
			[ "$job_status" = "$_s" ] && return 0
		done
		case $job_status in
		succeeded | failed | cancelled | interrupted) return 1 ;;
		esac
		[ "$code" = 200 ] || return 1
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

# history MODEL: every loss point's step, one a line, into $tmp/steps,
# paging with since/next_since 10000 points at a time.
history() {
	: >"$tmp/steps"
	_since=0
	while :; do
		req GET "/v1/models/$1/loss?since=$_since&limit=10000"
		[ "$code" = 200 ] || return 1
		grep -oE '"step" *: *[0-9]+' "$tmp/body" | sed 's/.*: *//' \
		    >"$tmp/page"
		[ -s "$tmp/page" ] || return 0
		cat "$tmp/page" >>"$tmp/steps"
		_next=$(jget next_since)
		[ "$_next" = "$(tail -n 1 "$tmp/page")" ] || return 1
		_since=$_next
	done
}

# steps_are_1_to N: $tmp/steps holds exactly 1, 2, ..., N.
steps_are_1_to() {
	awk -v n="$1" 'NR != $1 { bad = 1 } END { exit (bad || NR != n) }' \
	    "$tmp/steps"
}

# covers_1_to N: the max_points CSV in $tmp/body (step,first,count,...)
# covers steps 1..N exactly once, with counts that add up to N.
covers_1_to() {
	awk -F, -v n="$1" 'NR == 1 { next }
	    { if ($2 != next_ + 1 || $3 != $1 - $2 + 1) bad = 1
	      next_ = $1; total += $3 }
	    END { exit (bad || next_ != n || total != n) }' \
	    next_=0 "$tmp/body"
}

# tail_is N K: the plain CSV in $tmp/body (step,loss,time) holds exactly
# steps N-K+1 .. N.
tail_is() {
	awk -F, -v n="$1" -v k="$2" 'NR == 1 { next }
	    { if ($1 != n - k + NR - 1) bad = 1; last = $1 }
	    END { exit (bad || NR - 1 != k || last != n) }' "$tmp/body"
}

# rows N [K]: a batch body of N rows of W inputs (W = ${ROW_WIDTH:-2}) and
# one target, deterministic in K.
rows() {
	awk -v n="$1" -v k="${2:-0}" -v w="${ROW_WIDTH:-2}" 'BEGIN {
		printf "{\"inputs\":["
		for (i = 0; i < n; i++) {
			printf "%s[", (i ? "," : "")
			s = 0
			for (j = 0; j < w; j++) {
				x = ((i * 37 + j * 11 + k * 13) % 101) / 100
				s += x
				printf "%s%g", (j ? "," : ""), x
			}
			printf "]"
			t[i] = s / w
		}
		printf "],\"targets\":["
		for (i = 0; i < n; i++)
			printf "%s[%g]", (i ? "," : ""), t[i]
		printf "]}"
	}'
}

# sql DB QUERY: one sqlite3 query on a database no daemon has open.
sql() {
	sqlite3 -batch -noheader "$1" "$2" 2>&1
}

# integrity DB: "ok" when PRAGMA integrity_check and foreign_key_check of
# DB are both clean, else what they said.
integrity() {
	_ic=$(sql "$1" 'PRAGMA integrity_check;')
	_fk=$(sql "$1" 'PRAGMA foreign_key_check;')
	if [ "$_ic" = ok ] && [ -z "$_fk" ]; then
		echo ok
	else
		echo "$_ic $_fk" | head -c 300
	fi
}

# histories_exact DB [RAW]: the ids of models whose stored loss history is
# not exactly steps 1..step (none: empty). The raw rows (level 0 of
# loss_chunk) hold one 8-byte point per step of first_step..last_step,
# without gap or overlap, ending at step, and starting at step 1 or, once a
# model is past the raw window (--history-raw-steps, RAW, default
# 1000000: older raw rows are dropped a whole row at a time), no later than
# step - RAW + 1; the level-1 buckets cover 1..step.
histories_exact() {
	_raw=${2:-1000000}
	sql "$1" "SELECT id FROM models m WHERE
	    coalesce((SELECT sum(last_step - first_step + 1) FROM loss_chunk
	      WHERE model_id = m.id AND level = 0), 0) !=
	    coalesce((SELECT max(last_step) - min(first_step) + 1 FROM loss_chunk
	      WHERE model_id = m.id AND level = 0), 0) OR
	    coalesce((SELECT max(last_step) FROM loss_chunk
	      WHERE model_id = m.id AND level = 0), 0) != m.step OR
	    coalesce((SELECT min(first_step) FROM loss_chunk
	      WHERE model_id = m.id AND level = 0), 1) >
	      max(1, m.step - $_raw + 1) OR
	    coalesce((SELECT max(last_step) FROM loss_chunk
	      WHERE model_id = m.id AND level = 1), 0) != m.step OR
	    coalesce((SELECT min(first_step) FROM loss_chunk
	      WHERE model_id = m.id AND level = 1), 1) != 1 OR
	    EXISTS (SELECT 1 FROM loss_chunk WHERE model_id = m.id AND
	      level = 0 AND length(data) != 8 * (last_step - first_step + 1));"
}
