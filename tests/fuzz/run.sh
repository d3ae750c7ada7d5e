#!/bin/sh
# Runs the libFuzzer targets of tests/fuzz (built by configure
# --enable-fuzzing; this script builds nothing) for FUZZ_SECONDS each
# (default 60) on a copy of their seed corpus, so the repository is never
# written. Usage: tests/fuzz/run.sh [target...]  (default: all of them).
# Environment: builddir (the configured build tree, default .),
# FUZZ_SECONDS, FUZZ_RSS_MB (default 1024), FUZZ_TIMEOUT (seconds per
# input, default 10).
# A crash, leak, timeout or out-of-memory fails the run: its input is
# printed as base64 and kept under $builddir/tests/fuzz/crashes/<target>/.
# The last line is "N passed, M failed".
set -u

srcdir=$(cd "$(dirname "$0")" && pwd)
builddir=${builddir:-.}
builddir=$(cd "$builddir" && pwd)
secs=${FUZZ_SECONDS:-60}
rss=${FUZZ_RSS_MB:-1024}
timeout=${FUZZ_TIMEOUT:-10}
targets=${*:-fuzz_model_spec fuzz_batch_json fuzz_batch_csv fuzz_weights \
fuzz_train_opts fuzz_blob fuzz_onnx fuzz_batch_npy}
pass=0
fail=0
case $secs in
''|*[!0-9]*|0) echo "run.sh: FUZZ_SECONDS must be a whole number > 0" \
	"(libFuzzer takes 0 as no limit)" >&2; exit 2 ;;
esac

for t in $targets; do
	bin=$builddir/tests/fuzz/$t
	seeds=$srcdir/corpus/$t
	work=$builddir/tests/fuzz/work/$t
	crashes=$builddir/tests/fuzz/crashes/$t
	if [ ! -x "$bin" ]; then
		echo "FAIL $t: $bin is not built (configure CC=clang" \
			"--enable-fuzzing, then make)"
		fail=$((fail + 1))
		continue
	fi
	if [ ! -d "$seeds" ]; then
		echo "FAIL $t: no seed corpus $seeds"
		fail=$((fail + 1))
		continue
	fi
	case $t in
	fuzz_blob|fuzz_onnx|fuzz_batch_npy) dict= ;;
	fuzz_batch_csv) dict=-dict=$srcdir/csv.dict ;;
	*) dict=-dict=$srcdir/json.dict ;;
	esac
	rm -rf "$work" "$crashes"
	mkdir -p "$work/corpus" "$crashes"
	cp "$seeds"/* "$work/corpus/"
	# leaks fail the run; UBSan stops at the first report; max_len is
	# FUZZ_MAX_LEN in fuzz.h; no target uses BLAS, so no BLAS threads
	OPENBLAS_NUM_THREADS=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$bin" -max_total_time="$secs" -rss_limit_mb="$rss" \
		-timeout="$timeout" -max_len=16384 -print_final_stats=1 \
		-artifact_prefix="$crashes/" $dict "$work/corpus" \
		>"$work/log" 2>&1
	rc=$?
	stats=$(grep -E '^#[0-9]+' "$work/log" | tail -1)
	execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
	cov=$(echo "$stats" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$stats" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$stats" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	if [ "$rc" -eq 0 ]; then
		echo "PASS $t: ${secs}s, ${execs:-?} exec/s, cov ${cov:-?}," \
			"ft ${ft:-?}, corpus ${corp:-?}"
		pass=$((pass + 1))
		continue
	fi
	echo "FAIL $t: libFuzzer exited with $rc; log: $work/log"
	grep -E 'ERROR|SUMMARY|invariant|runtime error' "$work/log" | head -20
	found=0
	for a in "$crashes"/*; do
		[ -f "$a" ] || continue
		found=1
		echo "-- input $a (base64):"
		base64 "$a"
	done
	[ "$found" -eq 1 ] || tail -30 "$work/log"
	fail=$((fail + 1))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
