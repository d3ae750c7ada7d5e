#!/bin/sh
# valgrind_e2e.sh: tests/e2e.sh with every mlpd it starts under valgrind's
# memcheck (CI runs it on a build without sanitizers; about a minute).
#
# e2e.sh takes the wrapper from MLPD_WRAPPER and waits E2E_SLOW times longer
# for start and shutdown. Each mlpd writes its own log (one per pid); the
# ones that exit by themselves (SIGTERM) end with a leak and error summary,
# the one e2e kills with SIGKILL has none. Checks: e2e passes (its SIGTERM
# checks want exit status 0, and --error-exitcode makes any memcheck error
# or definite leak a non-zero status), at least two logs have summaries,
# and each of those says "ERROR SUMMARY: 0 errors" and "definitely lost: 0"
# (or that no leaks are possible). The last line is "N passed, M failed".
#
# --fair-sched=yes: valgrind runs one thread at a time, and its default lock
# lets a busy trainer thread take it back again and again on a multi-core
# machine, so a request thread waited many seconds for its turn (CI saw a
# batch push time out while a job trained). A fair queue hands it round.
#
# MLPD_GEMM=openblas: memcheck cannot follow oneDNN's JIT kernels (their
# vector loads read past the ends of buffers on purpose, within a page,
# and it reports each as an invalid read), so under valgrind the products
# run in OpenBLAS's cblas_sgemm; everything else is the same code.
set -u

MLPD_GEMM=${MLPD_GEMM-openblas}
export MLPD_GEMM
builddir=${builddir:-.}
export builddir
here=$(dirname "$0")
. "$here/lib.sh"
need_tools valgrind
lib_init valgrind
logs=$tmp

MLPD_WRAPPER="valgrind --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$logs/mlpd.%p.log" \
E2E_SLOW=10 sh "$here/e2e.sh" >"$logs/e2e.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
	ok "e2e.sh passes under valgrind ($(tail -n 1 "$logs/e2e.out"))"
else
	bad "e2e.sh passes under valgrind" "status $rc"
	grep -E '^FAIL' "$logs/e2e.out"
	tail -n 5 "$logs/e2e.out"
fi

n=0
for log in "$logs"/mlpd.*.log; do
	[ -f "$log" ] || continue
	grep -q 'ERROR SUMMARY' "$log" || continue
	n=$((n + 1))
	name=${log##*/}
	if grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
		ok "$name: no memcheck errors"
	else
		bad "$name: no memcheck errors" \
		    "$(grep 'ERROR SUMMARY' "$log" | head -n 1)"
		grep -A 12 -E 'Invalid|uninitialised|definitely lost in' "$log" |
		    head -n 60
	fi
	if grep -qE 'definitely lost: 0 bytes|no leaks are possible' "$log"; then
		ok "$name: definitely lost: 0"
	else
		bad "$name: definitely lost: 0" \
		    "$(grep 'definitely lost' "$log" | head -n 1)"
		grep -B 2 -A 14 'definitely lost in' "$log" | head -n 60
	fi
done
if [ "$n" -ge 2 ]; then
	ok "$n daemons exited under valgrind with a summary"
else
	bad "at least two daemons exited under valgrind with a summary" \
	    "$n did"
fi

finish
