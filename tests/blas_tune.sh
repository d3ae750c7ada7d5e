#!/bin/sh
# blas_tune.sh: which OpenBLAS kernels a real mlpd runs (core/blas_tune.c).
#
# 1. A user's OPENBLAS_CORETYPE is kept: no re-exec, no log line, /metrics
#    says choice="user".
# 2. The state of a re-executed mlpd (the variable and its mark, as
#    blas_tune_exec leaves them): one log line, choice="auto", SkylakeX.
# 3. The variable unset: on a CPU with AVX-512 F/DQ/BW/VL/CD mlpd never
#    runs OpenBLAS's AVX2 kernels (Haswell, Zen), whoever chose.
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

finish
