#!/bin/sh
# blas_tune.sh: which OpenBLAS kernels a real mlpd runs (core/blas_tune.c).
#
# 1. A user's OPENBLAS_CORETYPE is kept: no re-exec, no log line, /metrics
#    says choice="user".
# 2. The state of a re-executed mlpd (the variable and its mark, as
#    blas_tune_exec leaves them): one log line, choice="auto", SkylakeX.
# 3. The variable unset: on a CPU with AVX-512 F/DQ/BW/VL/CD mlpd never
#    runs OpenBLAS's AVX2 kernels (Haswell, Zen), whoever chose.
# 4. The re-exec itself, end to end: tests/blas_shim.so (LD_PRELOAD) makes
#    OpenBLAS answer "Haswell" while the variable is unset, as an OpenBLAS
#    that does not know the CPU does. On an AVX-512 CPU the same process
#    (same pid) executes itself again and runs the SkylakeX kernels; on
#    one without (or under valgrind, whose CPU has none) it keeps them.
set -u

. "$(dirname "$0")/lib.sh"
lib_init blas_tune
need_tools curl "$MLPD"

LOGLINE="OpenBLAS: using SkylakeX kernels on this AVX-512 CPU"

# blas_line: the mlpd_blas_info sample of a fresh GET /metrics.
blas_line() {
	req GET /metrics
	grep '^mlpd_blas_info{' "$tmp/body"
}

# matches LINE ERE: LINE matches the extended regular expression.
matches() {
	printf '%s\n' "$1" | grep -qE "$2"
}

# not COMMAND...: succeeds when the command fails.
not() {
	! "$@"
}

# 1. the user's choice
export OPENBLAS_CORETYPE=Haswell
start "$tmp/a.db"
check "a user's OPENBLAS_CORETYPE is kept" "$(blas_line)" \
    'mlpd_blas_info{core="Haswell",choice="user"} 1'
check "no re-exec logged for it" "$(grep -c "$LOGLINE" "$tmp/mlpd.err")" 0
stop_term "mlpd stops"

# 2. the re-executed process, as blas_tune_exec starts it
export OPENBLAS_CORETYPE=SkylakeX MLPD_BLAS_TUNED=1
start "$tmp/b.db"
check "the re-executed mlpd says who chose" "$(blas_line)" \
    'mlpd_blas_info{core="SkylakeX",choice="auto"} 1'
check "its choice logged once" "$(grep -c "$LOGLINE" "$tmp/mlpd.err")" 1
stop_term "mlpd stops"
unset MLPD_BLAS_TUNED

# 3. nothing set
unset OPENBLAS_CORETYPE
avx512=1
for f in avx512f avx512dq avx512bw avx512vl avx512cd; do
	grep -qw "$f" /proc/cpuinfo || avx512=0
done
start "$tmp/c.db"
line=$(blas_line)
check_true "mlpd_blas_info names a core and a choice" matches "$line" \
    '^mlpd_blas_info\{core="[A-Za-z0-9]+",choice="(default|auto)"\} 1$'
# (under a wrapper such as valgrind the program sees the wrapper's CPU)
if [ "$avx512" = 1 ] && [ -z "${MLPD_WRAPPER:-}" ]; then
	check_true "no AVX2 kernels on this AVX-512 CPU: $line" \
	    not matches "$line" 'core="(Haswell|Zen)"'
	case $line in
	*'choice="auto"'*)
		check "the re-exec logged once" \
		    "$(grep -c "$LOGLINE" "$tmp/mlpd.err")" 1 ;;
	*)
		check "OpenBLAS's own choice: nothing logged" \
		    "$(grep -c "$LOGLINE" "$tmp/mlpd.err")" 0 ;;
	esac
fi
stop_term "mlpd stops"


# 4. the re-exec, for real
shim=./tests/blas_shim.so
if [ -x "$MLPD" ] && [ -f "$shim" ]; then
	unset OPENBLAS_CORETYPE
	# an ASan mlpd wants its runtime first in the list; the shim is not
	# instrumented and only answers one call
	asan_was=${ASAN_OPTIONS-}
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	export LD_PRELOAD="$(cd "$(dirname "$shim")" && pwd)/$(basename "$shim")"
	start "$tmp/d.db"
	unset LD_PRELOAD
	export ASAN_OPTIONS="$asan_was"
	line=$(blas_line)
	if [ "$avx512" = 1 ] && [ -z "${MLPD_WRAPPER:-}" ]; then
		check "AVX2 kernels on an AVX-512 CPU: mlpd re-executed itself" \
		    "$line" 'mlpd_blas_info{core="SkylakeX",choice="auto"} 1'
		check "the re-exec logged once" \
		    "$(grep -c "$LOGLINE" "$tmp/mlpd.err")" 1
		check "the re-executed process is the one started (same pid)" \
		    "$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null |
		    grep -c '^OPENBLAS_CORETYPE=SkylakeX$')" 1
	else
		check "no AVX-512 here: the AVX2 kernels stay, nothing re-executed" \
		    "$line" 'mlpd_blas_info{core="Haswell",choice="default"} 1'
	fi
	stop_term "mlpd stops"
fi

finish
