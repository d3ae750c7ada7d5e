#!/bin/sh
# diskfull.sh: no room to write, and databases mlpd must refuse to start on.
#
#   1. --max-db-size (always runs): a daemon capped at 1 MiB. A big model
#      trains 50 steps first; then batches are pushed to a small model until
#      one is answered 507. The 507 must be insufficient_storage with a
#      message that names the problem; models, weights, predictions, batch
#      lists and loss history still answer; the failed push changed no count;
#      creating a big model is 507 and changes nothing; a train job of the
#      big model, whose checkpoint finds no room, ends "failed" with that
#      message and leaves the model at its last checkpoint (step, weights,
#      predictions and loss history as before the job). Then space
#      returns: a restart with a larger cap has every acknowledged row and
#      the failed job, pushes and training work again, and sqlite3's
#      integrity_check is ok.
#   2. A real full filesystem: a 2 MiB tmpfs (an empty database is 384 KiB
#      in 16 KiB pages) is mounted under the test's
#      directory and the database put on it; pushes until 507, reads still
#      work, counts unchanged; the tmpfs is then grown (remount) and the
#      same daemon accepts pushes again; integrity ok. Where mounting is
#      refused (not root, or no CAP_SYS_ADMIN) this part is skipped with a
#      note; part 1 covers the same paths through SQLite's page cap.
#   3. A read-only database file (as root, mlpd runs as nobody through
#      setpriv, since root may write any file; where nobody cannot run the
#      binary, the file is made immutable with chattr), a file that is not a
#      database, and a database with damaged pages: mlpd must exit by itself
#      with a non-zero status and say why on stderr.
# The last line is "N passed, M failed"; the exit status is 1 when any
# check failed. Only 127.0.0.1 is contacted.
set -u

. "$(dirname "$0")/lib.sh"
lib_init diskfull
cleanup_extra='umount "$tmp/mnt" 2>/dev/null'

need_tools curl sqlite3 awk cmp "$MLPD"
db=$tmp/capped.db
FULL_MSG='the disk is full or the database reached its size limit'

# count_batches: the batches listed in $tmp/body.
count_batches() {
	grep -oE '"batch_id" *: *[0-9]+' "$tmp/body" | wc -l | tr -d ' '
}

# fill MODEL BODYFILE MAX: pushes BODYFILE to MODEL until an answer is not
# 201 (at most MAX times); sets acked to the 201s and leaves the last
# answer in $tmp/body.
fill() {
	acked=0
	_i=0
	while [ $_i -lt "$3" ]; do
		req POST "/v1/models/$1/batches" "@$2"
		[ "$code" = 201 ] || return 0
		acked=$((acked + 1))
		_i=$((_i + 1))
	done
}

# ---------------------------------------------------------------------------
# 1. --max-db-size
# ---------------------------------------------------------------------------
echo "== --max-db-size"
ROW_WIDTH=8
export ROW_WIDTH
rows 500 1 >"$tmp/rows500"
rows 50 2 >"$tmp/rows50"
# the long job below writes its loss points with its first checkpoint (a
# second in), which finds no room: it can only end at step 50, where the
# first job left the model
start "$db" --max-db-size 1048576 --checkpoint-every 1

# a big model (its checkpoint is about 140 KB) that trains a little first
req POST /v1/models '{"name":"big","layers":[8,128,128,1],"seed":1}'
check "create the big model is 201" "$code" 201
big=$(jget id)
req POST "/v1/models/$big/batches" "@$tmp/rows50"
check "push its rows is 201" "$code" 201
req POST "/v1/models/$big/train" '{"steps":50,"batch_size":10}'
check "train 50 steps is 202" "$code" 202
wait_job "$(jget id)" 30 succeeded
check "the 50-step job succeeded" "$job_status" succeeded
req GET "/v1/models/$big/weights"
cp "$tmp/body" "$tmp/big_weights"

req POST /v1/models '{"name":"small","layers":[8,4,1],"seed":2}'
check "create the small model is 201" "$code" 201
small=$(jget id)
fill "$small" "$tmp/rows500" 200
check "pushing ends in 507 (after $acked batches)" "$code" 507
check "its code is insufficient_storage" "$(jget code)" insufficient_storage
check_true "its message names the problem" grep -q "$FULL_MSG" "$tmp/body"
check_true "some batches fitted first" [ "$acked" -gt 5 ]
want_samples=$((acked * 500))

req POST "/v1/models/$small/batches" "@$tmp/rows500"
check "another push is 507 too" "$code" 507
req GET "/v1/models/$small"
check "GET the model still works" "$code" 200
check "its samples count only acknowledged rows" "$(jget samples)" \
    "$want_samples"
req GET "/v1/models/$small/batches"
check "list batches still works" "$code" 200
check "it lists the acknowledged batches" "$(count_batches)" "$acked"
req POST "/v1/models/$small/predict" '{"input":[0,0,0,0,0,0,0,0]}'
check "predict still works" "$code" 200
req GET "/v1/models/$big/loss?limit=10000"
check "loss history still reads" "$code" 200
req GET /v1/models
check "list models still works" "$code" 200
req GET /healthz
check "healthz still answers 200" "$code" 200

req POST /v1/models '{"name":"big2","layers":[8,128,128,1]}'
check "creating another big model is 507" "$code" 507
req GET /v1/models
check "no model was added" "$(grep -o '"id"' "$tmp/body" | wc -l | tr -d ' ')" 2
req POST "/v1/models/$big/train" '{"steps":100000000,"batch_size":10}'
check "a long train job is accepted (202)" "$code" 202
jfull=$(jget id)
wait_job "$jfull" 30 failed
check "the job whose checkpoint found no room failed" "$job_status" failed
check_true "its error names the problem" grep -q "$FULL_MSG" "$tmp/body"
req GET "/v1/models/$big"
check "the model is at its last checkpoint (step 50)" "$(jget step)" 50
check "the model is idle" "$(jget status)" idle
req GET "/v1/models/$big/weights"
check_true "its weights are the checkpoint's" cmp -s "$tmp/body" \
    "$tmp/big_weights"
check_true "loss history pages" history "$big"
check_true "loss history is exactly steps 1..50" steps_are_1_to 50
req POST "/v1/models/$big/predict" '{"input":[1,1,1,1,1,1,1,1]}'
check "predict answers from the checkpoint" "$(jget step)" 50

echo "== space returns: a larger cap"
stop_term "SIGTERM exits 0"
check "integrity_check is ok" "$(integrity "$db")" ok
start "$db" --max-db-size 8388608 --checkpoint-every 0.1
req GET "/v1/models/$small"
check "every acknowledged row is still there" "$(jget samples)" \
    "$want_samples"
req GET "/v1/models/$small/batches"
check "every acknowledged batch is still listed" "$(count_batches)" "$acked"
req GET "/v1/jobs/$jfull"
check "the job is still failed" "$(jget status)" failed
req GET "/v1/models/$big"
check "the big model is still at step 50" "$(jget step)" 50
req POST "/v1/models/$small/batches" "@$tmp/rows500"
check "pushes work again (201)" "$code" 201
req POST "/v1/models/$big/train" '{"steps":20,"batch_size":10}'
check "train 20 steps is 202" "$code" 202
wait_job "$(jget id)" 30 succeeded
check "training works again" "$job_status" succeeded
req GET "/v1/models/$big"
check "the big model is at step 70" "$(jget step)" 70
check_true "loss history pages" history "$big"
check_true "loss history is exactly steps 1..70" steps_are_1_to 70
stop_term "SIGTERM exits 0"
check "integrity_check is ok" "$(integrity "$db")" ok
check "every loss history is exactly 1..step" "$(histories_exact "$db")" ""

# ---------------------------------------------------------------------------
# 2. A real full filesystem
# ---------------------------------------------------------------------------
echo "== a full filesystem (tmpfs)"
mkdir "$tmp/mnt"
if ! mount -t tmpfs -o size=2m,mode=0755 tmpfs "$tmp/mnt" \
    2>"$tmp/mount.err"; then
	echo "note: part 2 skipped: cannot mount a tmpfs here" \
	    "($(head -n 1 "$tmp/mount.err"))"
else
	fdb=$tmp/mnt/full.db
	start "$fdb" --checkpoint-every 0.1
	req POST /v1/models '{"name":"onfs","layers":[8,4,1],"seed":3}'
	check "create a model is 201" "$code" 201
	fm=$(jget id)
	fill "$fm" "$tmp/rows500" 100
	check "pushing ends in 507 (after $acked batches)" "$code" 507
	check "its code is insufficient_storage" "$(jget code)" \
	    insufficient_storage
	check_true "its message names the problem" grep -q "$FULL_MSG" \
	    "$tmp/body"
	check_true "some batches fitted first" [ "$acked" -gt 3 ]
	req POST "/v1/models/$fm/batches" "@$tmp/rows500"
	check "another push is 507 too" "$code" 507
	req GET "/v1/models/$fm"
	check "its samples count only acknowledged rows" "$(jget samples)" \
	    "$((acked * 500))"
	req POST "/v1/models/$fm/predict" '{"input":[0,0,0,0,0,0,0,0]}'
	check "predict still works" "$code" 200
	req GET "/v1/models/$fm/batches"
	check "it lists the acknowledged batches" "$(count_batches)" "$acked"
	if mount -o remount,size=16m "$tmp/mnt" 2>"$tmp/mount.err"; then
		ok "the filesystem grew to 16 MiB"
	else
		bad "the filesystem grew to 16 MiB" "$(cat "$tmp/mount.err")"
	fi
	req POST "/v1/models/$fm/batches" "@$tmp/rows500"
	check "the same daemon accepts pushes again (201)" "$code" 201
	check "with the count right" "$(jget total_samples)" \
	    "$(((acked + 1) * 500))"
	stop_term "SIGTERM exits 0"
	check "integrity_check is ok" "$(integrity "$fdb")" ok
	umount "$tmp/mnt"
fi

# ---------------------------------------------------------------------------
# 3. Databases mlpd must refuse
# ---------------------------------------------------------------------------
echo "== refused databases"

# refuse DESCRIPTION PATTERN DB [RUNNER...]: mlpd on DB must exit by itself
# (within 10 s) with a non-zero status and PATTERN on stderr.
refuse() {
	_d=$1
	_pat=$2
	_rdb=$3
	shift 3
	timeout 10 "$@" "$MLPD" --listen 127.0.0.1:0 --db "$_rdb" \
	    2>"$tmp/refuse.err"
	_rc=$?
	if [ "$_rc" -eq 0 ] || [ "$_rc" -ge 124 ]; then
		bad "$_d: mlpd exits non-zero by itself" "status $_rc"
	else
		ok "$_d: mlpd exits with status $_rc"
	fi
	if grep -qiE "$_pat" "$tmp/refuse.err"; then
		ok "$_d: stderr says so ($(head -n 1 "$tmp/refuse.err"))"
	else
		bad "$_d: stderr says so" "$(head -c 300 "$tmp/refuse.err")"
	fi
}

# read-only: root writes any file, so as root mlpd runs as nobody (or,
# where nobody cannot reach the binary, the file is made immutable)
mkdir "$tmp/ro"
cp "$db" "$tmp/ro/ro.db"
chmod 0444 "$tmp/ro/ro.db"
chmod 0755 "$tmp" "$tmp/ro"
as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups --"
if [ "$(id -u)" -ne 0 ]; then
	refuse "a read-only file" "read-only" "$tmp/ro/ro.db"
elif $as_nobody test -x "$MLPD" 2>/dev/null &&
    $as_nobody test -r "$tmp/ro/ro.db" 2>/dev/null; then
	# shellcheck disable=SC2086 # a command line
	refuse "a read-only file" "read-only" "$tmp/ro/ro.db" $as_nobody
elif chattr +i "$tmp/ro/ro.db" 2>/dev/null; then
	cleanup_extra="$cleanup_extra; chattr -i \"\$tmp/ro/ro.db\" 2>/dev/null"
	refuse "a read-only (immutable) file" "read-only" "$tmp/ro/ro.db"
	chattr -i "$tmp/ro/ro.db"
else
	bad "a read-only file for root" \
	    "nobody cannot run $MLPD and chattr +i failed"
fi
check "the read-only file is unchanged" \
    "$(cmp -s "$db" "$tmp/ro/ro.db" && echo same)" same

awk 'BEGIN { for (i = 0; i < 200; i++) print "this is not an SQLite database" }' \
    >"$tmp/garbage.db"
refuse "a file that is not a database" "not a database" "$tmp/garbage.db"

# pages 2-5 (table roots) overwritten with 0xff bytes
cp "$db" "$tmp/corrupt.db"
pg=$(sqlite3 "$db" 'PRAGMA page_size')
head -c $((4 * pg)) /dev/zero | tr '\000' '\377' |
    dd of="$tmp/corrupt.db" bs="$pg" seek=1 conv=notrunc 2>/dev/null
refuse "a database with damaged pages" "corrupt|malformed" "$tmp/corrupt.db"

finish
