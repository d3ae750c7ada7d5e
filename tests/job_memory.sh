#!/bin/sh
# job_memory.sh: a train job holds at most --job-memory of its rows (issue
# 11, "Jobs that start at once and fit in bounded memory"). A daemon with
# --job-memory 8 MiB gets 64,000 rows of 256 inputs and 1 target (65 MB,
# eight times the cap, pushed as .npy bodies made with python3), trains one
# epoch on them with a validation split, and its peak resident set during
# the job (VmHWM, reset before it through /proc/PID/clear_refs) stays
# under the resident set before it plus the cap and 24 MB (SQLite's page
# caches, the model, the loss points). The log says the rows were
# streamed; the job succeeds with validation points.

. "${srcdir:-.}/tests/lib.sh"
lib_init job_memory
require "$MLPD" curl python3

[ -r /proc/self/status ] || { echo "job_memory: no /proc" >&2; exit 77; }
# the job is checked on every build, the resident sizes only on a plain one
rss_checkable job_memory

# one .npy body of 1,000 rows of 256 inputs in [0, 1) then the target
python3 - "$tmp/rows.npy" <<'PY'
import array, struct, sys
n, w = 1000, 257
a = array.array("f")
for i in range(n):
    a.extend(((i * 13 + j * 5) % 97) / 97.0 for j in range(w - 1))
    a.append((i % 2) * 1.0)
if sys.byteorder != "little":
    a.byteswap()
h = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (n, w)
h += " " * (63 - (10 + len(h)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode())
    f.write(a.tobytes())
PY

cap=$((8 << 20))
start "$tmp/db" --job-memory "$cap"
req POST /v1/models '{"layers":[256,4,1],"seed":3}'
check "model created" "$code" 201
M=$(jget id)
i=0
while [ $i -lt 64 ]; do
	req POST "/v1/models/$M/batches" @"$tmp/rows.npy" application/x-npy
	[ "$code" = 201 ] || break
	i=$((i + 1))
done
check "64 batches of 1,000 rows stored" "$i" 64
check "65 MB of rows, eight times the cap" "$(jget total_samples)" 64000

rss0=$(proc_kb VmRSS)
reset=
echo 5 2>/dev/null >"/proc/$pid/clear_refs" && reset=1
req POST "/v1/models/$M/train" \
    '{"epochs":1,"batch_size":64,"validation_split":0.1}'
check "job accepted" "$code" 202
J=$(jget id)
wait_job "$J" 300 succeeded
check "the job succeeded on rows streamed past the cap" "$job_status" \
    succeeded
peak=$(proc_kb VmHWM)
check_grep "the log says the rows were streamed" "$tmp/mlpd.err" \
    "streamed in blocks"
req GET "/v1/models/$M/loss?series=validation"
check_true "validation points were measured" gt \
    "$(grep -o '"step"' "$tmp/body" | wc -l)" 0

if [ -n "$rss_plain" ] && [ -n "$reset" ]; then
	check_true "peak RSS during the job $peak kB <= $rss0 kB + cap + 24 MB" \
	    lt "$peak" $((rss0 + cap / 1024 + 24 * 1024 + 1))
else
	echo "skip: peak RSS during the job ($rss0 -> $peak kB)"
fi
stop_term "SIGTERM ends the daemon"
finish
