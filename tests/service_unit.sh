#!/bin/sh
# service_unit.sh: checks the example systemd unit that make builds from
# server/mlpd.service.in and installs under $(docdir)/examples.
#
#   - every @placeholder@ was filled in and ExecStart runs an absolute
#     .../mlpd;
#   - mlpd itself accepts ExecStart's arguments (they are parsed, then a
#     trailing --help makes it exit 0 instead of serving);
#   - the unit runs mlpd as its own user with a state directory that holds
#     the database, stops it with SIGTERM, and sandboxes it;
#   - systemd-analyze verify finds nothing wrong (ExecStart pointed at the
#     built binary, since nothing is installed yet), and systemd-analyze
#     security rates its exposure 2.0 or lower (OK).
# The last line is "N passed, M failed"; the exit status is 1 when a check
# failed. Nothing is started or listened on.
set -u

. "$(dirname "$0")/lib.sh"
UNIT=${builddir:-.}/server/mlpd.service

for f in "$MLPD" "$UNIT"; do
	if [ ! -r "$f" ]; then
		echo "service_unit: $f is missing (run make first)" >&2
		exit 99
	fi
done
HINT="Debian package systemd"
require systemd-analyze
lib_init unit

# value KEY: the unit's settings for KEY, one a line (comments ignored)
value() {
	sed -n "s/^$1=//p" "$UNIT"
}

# ---------------------------------------------------------------------------
# Substitution and ExecStart
# ---------------------------------------------------------------------------
left=$(grep -o '@[A-Za-z_]*@' "$UNIT" | sort -u | tr '\n' ' ')
if [ -z "$left" ]; then
	ok "no @placeholder@ is left in mlpd.service"
else
	bad "no @placeholder@ is left in mlpd.service" "left: $left"
fi

exec_start=$(value ExecStart)
bin=${exec_start%% *}
args=${exec_start#"$bin"}
case "$bin" in
/*/mlpd) ok "ExecStart runs $bin" ;;
*) bad "ExecStart runs an absolute path to mlpd" "ExecStart=$exec_start" ;;
esac

# the arguments are not quoted, so word splitting gives them back
# shellcheck disable=SC2086
"$MLPD" $args --help >"$tmp/help.out" 2>"$tmp/help.err"
st=$?
if [ "$st" -eq 0 ] && grep -q -e '--listen' "$tmp/help.out"; then
	ok "mlpd accepts ExecStart's arguments:$args"
else
	bad "mlpd accepts ExecStart's arguments:$args" \
	    "status $st: $(head -c 200 "$tmp/help.err")"
fi

# ---------------------------------------------------------------------------
# Its own user, its state directory, its stop signal, its sandbox
# ---------------------------------------------------------------------------
# want DESCRIPTION KEY PATTERN: pass when a KEY= line matches the ERE.
want() {
	if value "$2" | grep -E -q -e "^($3)\$"; then
		ok "$1"
	else
		bad "$1" "$2=$(value "$2" | tr '\n' ' ')"
	fi
}
if value DynamicUser | grep -q '^yes$' || [ -n "$(value User)" ]; then
	ok "mlpd runs as its own user"
else
	bad "mlpd runs as its own user" "neither DynamicUser=yes nor User="
fi
want "a state directory /var/lib/mlpd" StateDirectory 'mlpd'
want "it works in its state directory" WorkingDirectory '/var/lib/mlpd'
case "$args" in
*" --db /var/lib/mlpd/"*) ok "the database lives in the state directory" ;;
*) bad "the database lives in the state directory" "args:$args" ;;
esac
case "$args" in
*" --listen 127.0.0.1:"*) ok "it listens on loopback" ;;
*) bad "it listens on loopback" "args:$args" ;;
esac
want "stopped with SIGTERM" KillSignal 'SIGTERM'
want "with a stop timeout" TimeoutStopSec '[0-9]+s?'
want "NoNewPrivileges" NoNewPrivileges 'yes'
want "ProtectSystem=strict" ProtectSystem 'strict'
want "ProtectHome" ProtectHome 'yes|read-only|tmpfs'
want "PrivateTmp" PrivateTmp 'yes'
want "RestrictAddressFamilies" RestrictAddressFamilies 'AF_[A-Z0-9_ ]+'

# ---------------------------------------------------------------------------
# systemd's own opinion
# ---------------------------------------------------------------------------
sed "s|^ExecStart=[^ ]*|ExecStart=$(cd "$(dirname "$MLPD")" && pwd)/mlpd|" \
    "$UNIT" >"$tmp/mlpd.service"
(cd "$tmp" && systemd-analyze verify --man=no ./mlpd.service) \
    >"$tmp/verify.out" 2>&1
st=$?
if [ "$st" -eq 0 ] && [ ! -s "$tmp/verify.out" ]; then
	ok "systemd-analyze verify is silent"
else
	bad "systemd-analyze verify is silent" \
	    "status $st: $(head -c 400 "$tmp/verify.out")"
fi
(cd "$tmp" && systemd-analyze security --offline=yes --threshold=20 \
    ./mlpd.service) >"$tmp/security.out" 2>&1
st=$?
level=$(sed -n 's/.*exposure level for [^:]*: \([0-9.]*\).*/\1/p' \
    "$tmp/security.out")
if [ "$st" -eq 0 ] && [ -n "$level" ]; then
	ok "systemd-analyze security rates the exposure $level (at most 2.0)"
else
	bad "systemd-analyze security rates the exposure at most 2.0" \
	    "status $st, level ${level:-?}: $(tail -c 300 "$tmp/security.out")"
fi

finish
