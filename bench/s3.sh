#!/usr/bin/env bash
# bench/s3.sh - S3 API benchmark: cloudlet vs s3rver, side by side.
#
#   bench/s3.sh build/cloudlet        (what `make bench` runs, from the repo root)
#
# Not a timed test: it measures and reports. It starts cloudlet (root
# credentials from the environment) and s3rver (the npm package pinned in
# bench/package.json, installed by `make bench` with npm ci --prefix bench) on
# free 127.0.0.1 ports, both kept running; the runs take turns, so only one
# server is under load at a time. Then:
#
#  1. GetObject and PutObject, 4 KiB and 1 MiB, with signed requests: for each
#     case bench/s3-load.mjs has @aws-sdk/client-s3 itself build K requests
#     (SigV4 Authorization header, signed payload, x-amz-checksum-crc32 on
#     PUT: exactly what the SDK sends; the handler records them instead of
#     sending them), and wrk replays them over keep-alive connections (a Lua
#     script returns them in turn), so the C client measures the servers, not
#     the SDK. The order of the two servers alternates between cases.
#  2. The same two operations at 4 KiB driven by the SDK itself (Node, W
#     workers, keep-alive agent): what an SDK application on this machine
#     sees, and how much of it is the client.
#  3. Listing: N tiny objects in a bucket of each server, then a full
#     ListObjectsV2 pagination (max-keys 1000) through the SDK, timed; plus a
#     sample of tiny PUTs over HTTP (the rate at which a client can fill each).
#
# The table (ops/s, MiB/s, ratio, p50/p99 latency), the listing times, the
# servers' RSS and the notes go to stdout and to bench/results/s3.md.
#
# Environment (defaults keep the whole run under ~4 minutes):
#   BENCH_S3_DURATION=5          seconds per wrk run (1..60)
#   BENCH_S3_CONNECTIONS=32      wrk connections (2 threads)
#   BENCH_S3_KEYS=32             distinct keys per case (wrk cycles through them)
#   BENCH_S3_SDK_DURATION=3      seconds per SDK run (0 skips part 2)
#   BENCH_S3_SDK_WORKERS=16      SDK workers
#   BENCH_S3_LIST_KEYS=100000    objects listed in cloudlet (1..100000)
#   BENCH_S3_PEER_LIST_KEYS=50000  objects listed in s3rver (at most BENCH_S3_LIST_KEYS by
#                                default). s3rver's listing cost grows with the square of
#                                the object count: 100000 takes it ~90 s to list here, and
#                                as long again to create and delete, which would push the
#                                run well past 4 minutes, so by default it gets half.
#   BENCH_S3_LIST_TIMEOUT=150    seconds at most for one listing (then it is reported cut short)
#   BENCH_S3_SEED_SAMPLE=3000    tiny objects PUT over HTTP into each server (0 skips)
#   BENCH_OUT=FILE               results file (default bench/results/s3.md)
#
# Exit status: 0 when every run ran (rows with errors are still reported,
# marked invalid); 1 when a tool is missing, a server did not start or died,
# or a cloudlet run failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

DUR=${BENCH_S3_DURATION:-5}
CONNS=${BENCH_S3_CONNECTIONS:-32}
NKEYS=${BENCH_S3_KEYS:-32}
SDK_DUR=${BENCH_S3_SDK_DURATION:-3}
SDK_WORKERS=${BENCH_S3_SDK_WORKERS:-16}
LIST_KEYS=${BENCH_S3_LIST_KEYS:-100000}
PEER_LIST_KEYS=${BENCH_S3_PEER_LIST_KEYS:-$((LIST_KEYS < 50000 ? LIST_KEYS : 50000))}
LIST_TIMEOUT=${BENCH_S3_LIST_TIMEOUT:-150}
SEED_SAMPLE=${BENCH_S3_SEED_SAMPLE:-3000}
OUT=${BENCH_OUT:-$repo/bench/results/s3.md}
LOAD=$here/s3-load.mjs
S3RVER_BIN=$here/node_modules/s3rver/bin/s3rver.js

case "$DUR$CONNS$NKEYS$SDK_DUR$SDK_WORKERS$LIST_KEYS$PEER_LIST_KEYS$LIST_TIMEOUT$SEED_SAMPLE" in
*[!0-9]*) bench_die "the BENCH_S3_* settings must be whole numbers" ;;
esac
# in_range NAME VALUE LO HI - exit 1 unless LO <= VALUE <= HI.
in_range() {
    if [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then bench_die "$1 must be $3..$4"; fi
}
in_range BENCH_S3_DURATION "$DUR" 1 60
in_range BENCH_S3_CONNECTIONS "$CONNS" 1 256
in_range BENCH_S3_KEYS "$NKEYS" 1 256
in_range BENCH_S3_SDK_DURATION "$SDK_DUR" 0 60
in_range BENCH_S3_SDK_WORKERS "$SDK_WORKERS" 1 256
# 100000 is the most files one `cloudlet site deploy` takes.
in_range BENCH_S3_LIST_KEYS "$LIST_KEYS" 1 100000
in_range BENCH_S3_PEER_LIST_KEYS "$PEER_LIST_KEYS" 1 100000
in_range BENCH_S3_LIST_TIMEOUT "$LIST_TIMEOUT" 1 290
in_range BENCH_S3_SEED_SAMPLE "$SEED_SAMPLE" 0 100000

# ---- arguments and tools ----
bench_require wrk node curl awk timeout
[ -f "$S3RVER_BIN" ] || bench_die "s3rver is not installed: run make bench (or npm ci --prefix bench)"
[ -d "$repo/node_modules/@aws-sdk/client-s3" ] ||
    bench_die "@aws-sdk/client-s3 is not installed: run make bench (or npm ci)"
bin=${1:-}
[ -n "$bin" ] || bench_die "usage: bench/s3.sh PATH-TO-CLOUDLET (e.g. build/cloudlet)"
[ -x "$bin" ] || bench_die "$bin is not an executable (build it with make build/cloudlet)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

# The SDK warns on stderr that later versions will need a newer Node: not ours to act on.
export NODE_NO_WARNINGS=1

# ---- temp dir and cleanup: servers are stopped by pid on any exit ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cloudlet-bench-s3.XXXXXX")
cl_pid=""
s3_pid=""
stage=""   # the folder `cloudlet site deploy` reads, on tmpfs when there is one
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    bench_stop "$cl_pid" 5
    bench_stop "$s3_pid" 5
    rm -rf "$tmp"
    if [ -n "$stage" ]; then rm -rf "$stage"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

notes=()   # lines for the "Notes" section of the results
failed=0   # set when something of cloudlet's could not run: exit 1 at the end
started=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_before%% *}" 'BEGIN { exit !(l > 1.0) }'; then
    bench_log "warning: load average is $load_before before the runs: numbers may be disturbed"
    notes+=("The 1-minute load average was ${load_before%% *} before the runs: other work may have disturbed the numbers.")
fi

# ---- the two servers ----
ROOT_KEY=AKIABENCHS3$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F' | head -c 9)
ROOT_SECRET=$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n' | head -c 40)
declare -A KEY=([cloudlet]=$ROOT_KEY [s3rver]=S3RVER)
declare -A SECRET=([cloudlet]=$ROOT_SECRET [s3rver]=S3RVER)
declare -A PORT=() PID=()

start_cloudlet() {
    local try port
    mkdir -p "$tmp/cloudlet-data"
    for try in 1 2 3; do
        port=$(bench_free_port)
        CLOUDLET_ROOT_ACCESS_KEY_ID=$ROOT_KEY CLOUDLET_ROOT_SECRET_ACCESS_KEY=$ROOT_SECRET \
            "$bin" serve --listen "127.0.0.1:$port" --data "$tmp/cloudlet-data" \
            </dev/null >>"$tmp/cloudlet.out" 2>>"$tmp/cloudlet.log" &
        cl_pid=$!
        if bench_wait_http "http://127.0.0.1:$port/healthz" 15 "$cl_pid"; then
            PORT[cloudlet]=$port
            PID[cloudlet]=$cl_pid
            return 0
        fi
        bench_log "cloudlet did not answer /healthz on port $port (try $try); its stderr ends:"
        tail -n 5 "$tmp/cloudlet.log" >&2 || true
        bench_stop "$cl_pid" 2
        cl_pid=""
    done
    return 1
}

# s3rver 3.7.1 makes ListObjectsV2 continuation tokens with DES, which
# OpenSSL 3 keeps in its legacy provider: without --openssl-legacy-provider
# every truncated ListObjectsV2 page is a 500 (ERR_OSSL_EVP_UNSUPPORTED).
start_s3rver() {
    local try port
    mkdir -p "$tmp/s3rver-data"
    for try in 1 2 3; do
        port=$(bench_free_port)
        [ "$port" != "${PORT[cloudlet]:-}" ] || continue
        node --openssl-legacy-provider "$S3RVER_BIN" --directory "$tmp/s3rver-data" \
            --address 127.0.0.1 --port "$port" --silent --no-vhost-buckets \
            </dev/null >>"$tmp/s3rver.log" 2>&1 &
        s3_pid=$!
        # An unsigned GET / is ListBuckets: s3rver answers it with 200.
        if bench_wait_http "http://127.0.0.1:$port/" 20 "$s3_pid"; then
            PORT[s3rver]=$port
            PID[s3rver]=$s3_pid
            return 0
        fi
        bench_log "s3rver did not answer on port $port (try $try); its log ends:"
        tail -n 5 "$tmp/s3rver.log" >&2 || true
        bench_stop "$s3_pid" 2
        s3_pid=""
    done
    return 1
}

start_cloudlet || bench_die "cloudlet serve did not start"
start_s3rver || bench_die "s3rver did not start"
sleep 1
declare -A IDLE_KB=([cloudlet]=$(bench_proc_kb "$cl_pid" VmRSS) [s3rver]=$(bench_proc_kb "$s3_pid" VmRSS))
bench_log "cloudlet pid $cl_pid on 127.0.0.1:${PORT[cloudlet]}; s3rver pid $s3_pid on 127.0.0.1:${PORT[s3rver]}"
servers=(cloudlet s3rver)

alive() { kill -0 "${PID[$1]}" 2>/dev/null; }
# load SECONDS SERVER COMMAND ARGS... - bench/s3-load.mjs COMMAND against SERVER,
# with its credentials, killed after SECONDS (the script bounds itself too).
load() {
    local secs=$1 srv=$2 sub=$3
    shift 3
    timeout --kill-after=5 "$secs" env S3_ACCESS_KEY_ID="${KEY[$srv]}" S3_SECRET_ACCESS_KEY="${SECRET[$srv]}" \
        node "$LOAD" "$sub" --endpoint "http://127.0.0.1:${PORT[$srv]}" "$@"
}
# jget FILE KEY - a top-level field of the one-line JSON in FILE ("" if absent/null).
jget() {
    node -e 'const fs = require("fs"); let o = {}; try { o = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch {}
const v = o[process.argv[2]]; process.stdout.write(v === undefined || v === null ? "" : String(v));' "$1" "$2"
}
# note_fail SERVER MESSAGE - a note, and exit status 1 when it is cloudlet's.
note_fail() {
    notes+=("$1: $2")
    [ "$1" != cloudlet ] || failed=1
}

# ---- 1. the signed requests, made by the SDK, for wrk ----
OPS=(get put)
SIZES=(4k 1m)
declare -A BYTES=([4k]=4096 [1m]=1048576)
declare -A SLABEL=([4k]="4 KiB" [1m]="1 MiB")
declare -A OLABEL=([get]=GetObject [put]=PutObject)
declare -A REQ=() BAD=()
cat >"$tmp/replay.lua" <<'EOF'
-- wrk replays the raw requests in the file given after "--" (written by
-- bench/s3-load.mjs prepare: a line "K len1 .. lenK", then the K requests).
local reqs, n, i = {}, 0, 0
local counter = 0
function setup(thread)
    thread:set("tid", counter)
    counter = counter + 1
end
function init(args)
    local f = assert(io.open(args[1], "rb"))
    local data = f:read("*a")
    f:close()
    local nl = data:find("\n", 1, true)
    local lens = {}
    for w in data:sub(1, nl - 1):gmatch("%d+") do lens[#lens + 1] = tonumber(w) end
    n = lens[1]
    local off = nl + 1
    for k = 1, n do
        reqs[k] = data:sub(off, off + lens[k + 1] - 1)
        off = off + lens[k + 1]
    end
    i = ((tid or 0) * 16) % n
end
function request()
    i = i % n + 1
    return reqs[i]
end
EOF
for srv in "${servers[@]}"; do
    for op in "${OPS[@]}"; do
        for s in "${SIZES[@]}"; do
            f=$tmp/req.$srv.$op.$s
            if load 120 "$srv" prepare --bucket bench --prefix "$op-$s-" --op "$op" --size "${BYTES[$s]}" --keys "$NKEYS" --out "$f" \
                >"$f.json" 2>"$f.err" && [ "$(jget "$f.json" ok)" = true ]; then
                REQ[$srv.$op.$s]=$f
            else
                err=$(jget "$f.json" error)
                [ -n "$err" ] || err=$(grep -m1 '^s3-load:' "$f.err" || tail -n 1 "$f.err")
                BAD[$srv.$op.$s]="setup failed"
                note_fail "$srv" "${OLABEL[$op]} ${SLABEL[$s]}: the request made by the SDK failed before the run: \`$err\`"
                bench_log "$srv ${OLABEL[$op]} ${SLABEL[$s]}: $err"
            fi
        done
    done
done

# ---- measure with wrk ----
declare -A RPS=() P50=() P99=() NON2XX=() SOCKERR=()
run_wrk() {
    local srv=$1 op=$2 s=$3 k="$1.$2.$3" out=$tmp/wrk.$1.$2.$3.txt rc=0 ex
    [ -n "${REQ[$k]:-}" ] || return 0
    if ! alive "$srv"; then
        BAD[$k]="server gone"
        return 0
    fi
    bench_wrk "$out" "$DUR" -t 2 -c "$CONNS" -s "$tmp/replay.lua" "http://127.0.0.1:${PORT[$srv]}/" -- "${REQ[$k]}" || rc=$?
    RPS[$k]=$(bench_wrk_rps "$out")
    P50[$k]=$(bench_wrk_pct "$out" 50)
    P99[$k]=$(bench_wrk_pct "$out" 99)
    NON2XX[$k]=$(bench_wrk_non2xx "$out")
    SOCKERR[$k]=$(bench_wrk_socket_errors "$out")
    if ! alive "$srv"; then
        BAD[$k]="server died"
        note_fail "$srv" "exited during the ${OLABEL[$op]} ${SLABEL[$s]} run; its log ends: \`$(tail -n 3 "$tmp/$srv.log" | tr '\n' ' ')\`"
    elif [ "$rc" -ne 0 ] || [ -z "${RPS[$k]}" ]; then
        BAD[$k]="wrk failed"
        note_fail "$srv" "wrk failed on ${OLABEL[$op]} ${SLABEL[$s]} (exit $rc): \`$(tail -n 2 "$out" | tr '\n' ' ')\`"
    elif [ "${NON2XX[$k]}" != 0 ]; then
        BAD[$k]="${NON2XX[$k]} non-2xx"
        # One of the same requests again, to show what the server answers.
        ex=$(timeout 40 node "$LOAD" replay --file "${REQ[$k]}" --index 0 2>&1 | head -c 700 || true)
        note_fail "$srv" "${OLABEL[$op]} ${SLABEL[$s]}: ${NON2XX[$k]} non-2xx answers under load; the same request sent again afterwards: \`$ex\`"
    fi
    printf '[bench] %-8s %-9s %-6s c=%-3s %10s req/s  p50 %s ms  p99 %s ms  non-2xx %s  socket errors %s\n' \
        "$srv" "${OLABEL[$op]}" "${SLABEL[$s]}" "$CONNS" "${RPS[$k]:-FAILED}" "${P50[$k]:-?}" "${P99[$k]:-?}" \
        "${NON2XX[$k]:-?}" "${SOCKERR[$k]:-?}" >&2
}

# A short warm-up of each server (GETs), not measured.
for srv in "${servers[@]}"; do
    [ -z "${REQ[$srv.get.4k]:-}" ] ||
        bench_wrk "$tmp/warmup.$srv.txt" 1 -t 2 -c "$CONNS" -s "$tmp/replay.lua" \
            "http://127.0.0.1:${PORT[$srv]}/" -- "${REQ[$srv.get.4k]}" || true
done
bench_log "measuring with wrk: ${#OPS[@]} operations x ${#SIZES[@]} sizes x ${#servers[@]} servers x ${DUR}s"
i=0
for s in "${SIZES[@]}"; do
    for op in "${OPS[@]}"; do
        order=(cloudlet s3rver)
        [ $((i % 2)) -eq 0 ] || order=(s3rver cloudlet)
        for srv in "${order[@]}"; do run_wrk "$srv" "$op" "$s"; done
        i=$((i + 1))
    done
done

# ---- 2. the same through the SDK (4 KiB) ----
declare -A SDK=()
if [ "$SDK_DUR" -gt 0 ]; then
    bench_log "measuring through the SDK: 4 KiB GetObject/PutObject, $SDK_WORKERS workers, ${SDK_DUR}s each"
    i=0
    for op in "${OPS[@]}"; do
        order=(s3rver cloudlet)
        [ $((i % 2)) -eq 0 ] || order=(cloudlet s3rver)
        for srv in "${order[@]}"; do
            if [ -z "${REQ[$srv.$op.4k]:-}" ] || ! alive "$srv"; then continue; fi
            f=$tmp/sdk.$srv.$op.json
            SDK[$srv.$op]=$f
            load "$((SDK_DUR + 60))" "$srv" sdk --bucket bench --prefix "$op-4k-" --op "$op" --size 4096 --keys "$NKEYS" \
                --concurrency "$SDK_WORKERS" --duration "$SDK_DUR" >"$f" 2>"$f.err" || true
            if [ "$(jget "$f" ok)" != true ]; then
                err=$(jget "$f" first_error)
                [ -n "$err" ] || err=$(grep -m1 '^s3-load:' "$f.err" || tail -n 1 "$f.err")
                note_fail "$srv" "${OLABEL[$op]} 4 KiB through the SDK: $(jget "$f" errors) errors; the first: \`$err\`"
            fi
            printf '[bench] %-8s %-9s 4 KiB  sdk w=%-3s %8s ops/s  p50 %s ms  p99 %s ms  errors %s  client CPU %s s\n' \
                "$srv" "${OLABEL[$op]}" "$SDK_WORKERS" "$(jget "$f" ops_per_s)" "$(jget "$f" p50_ms)" \
                "$(jget "$f" p99_ms)" "$(jget "$f" errors)" "$(jget "$f" client_cpu_s)" >&2
        done
        i=$((i + 1))
    done
fi

# ---- 3. listing ----
declare -A SEED=() MADE=() LIST=() NLIST=([cloudlet]=$LIST_KEYS [s3rver]=$PEER_LIST_KEYS) LISTBUCKET=()
# A sample of tiny PUTs over HTTP (SigV4, 32 in flight): how fast a client fills each.
if [ "$SEED_SAMPLE" -gt 0 ]; then
    for srv in "${servers[@]}"; do
        alive "$srv" || continue
        f=$tmp/seed.$srv.json
        SEED[$srv]=$f
        bench_log "$srv: $SEED_SAMPLE tiny PUTs over HTTP"
        load 90 "$srv" seed --bucket seed --prefix key- --count "$SEED_SAMPLE" --size 8 --concurrency 32 \
            --timeout 60 >"$f" 2>"$f.err" || true
        if [ "$(jget "$f" ok)" != true ]; then
            err=$(jget "$f" first_error)
            [ -n "$err" ] || err=$(grep -m1 '^s3-load:' "$f.err" || tail -n 1 "$f.err")
            note_fail "$srv" "tiny PUTs: $(jget "$f" errors) errors$([ "$(jget "$f" timed_out)" = true ] && echo ", cut short at 60 s"); the first: \`$err\`"
        fi
    done
fi

# cloudlet: the fastest path, `cloudlet site deploy` of a folder of N files
# (one LMDB write transaction, while the server runs) into bucket "site".
if alive cloudlet; then
    n=${NLIST[cloudlet]}
    # The input folder is only staging: on tmpfs it costs no disk, and deleting
    # it afterwards leaves ext4 no recently freed inodes, which make the next
    # mass file creation (s3rver's store, below) several times slower.
    stage=$tmp/list-files
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        stage=$(mktemp -d /dev/shm/cloudlet-bench-s3-files.XXXXXX)
    fi
    bench_log "cloudlet: writing $n files to $stage and deploying them into bucket site"
    t0=$(date +%s.%N)
    timeout 150 node "$LOAD" files --layout plain --dir "$stage" \
        --prefix key- --count "$n" --size 8 --timeout 90 >"$tmp/files.cloudlet.json" 2>&1 || true
    t1=$(date +%s.%N)
    w=$(jget "$tmp/files.cloudlet.json" written)
    if [ "${w:-0}" != "$n" ]; then
        notes+=("cloudlet: writing the folder of $n files for the deploy stopped at ${w:-0} files (90 s bound; the file system was slow): ${w:-0} objects listed.")
        NLIST[cloudlet]=${w:-0}
    fi
    if [ "${w:-0}" -gt 0 ] && timeout 120 "$bin" site deploy "$stage" --data "$tmp/cloudlet-data" >"$tmp/deploy.out" 2>&1; then
        t2=$(date +%s.%N)
        MADE[cloudlet]=$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.1f s (%.1f s writing the folder, %.1f s for the deploy)", c - a, b - a, c - b }')
        LISTBUCKET[cloudlet]=site
    else
        note_fail cloudlet "site deploy of $n files failed: \`$(tail -n 2 "$tmp/deploy.out" | tr '\n' ' ')\`"
    fi
    rm -rf "$stage"
    stage=""
fi
# s3rver: its filesystem store written directly. The first key is stored by a
# real PUT; its three files (object, .md5, metadata.json) are copied to the
# other N - 1 keys, so every object has the exact form s3rver gives it.
if alive s3rver; then
    n=${NLIST[s3rver]}
    bench_log "s3rver: one PUT, then writing $n objects' files into its store"
    t0=$(date +%s.%N)
    if load 60 s3rver seed --bucket list --prefix key- --count 1 --size 8 >"$tmp/seed1.s3rver.json" 2>&1 &&
        timeout 150 node "$LOAD" files --layout s3rver \
            --dir "$tmp/s3rver-data/list" --prefix key- --count "$n" --timeout 90 \
            --template "$tmp/s3rver-data/list/key-000000" >"$tmp/files.s3rver.json" 2>&1 &&
        [ -n "$(jget "$tmp/files.s3rver.json" written)" ]; then
        t1=$(date +%s.%N)
        w=$(jget "$tmp/files.s3rver.json" written)
        if [ "$w" != "$n" ]; then
            notes+=("s3rver: writing its store's files for $n objects stopped at $w objects (90 s bound; the file system was slow): $w objects listed.")
            NLIST[s3rver]=$w
        fi
        MADE[s3rver]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')
        LISTBUCKET[s3rver]=list
    else
        notes+=("s3rver: making the listing bucket failed: \`$(tail -n 2 "$tmp/seed1.s3rver.json" "$tmp/files.s3rver.json" 2>/dev/null | tr '\n' ' ')\`")
    fi
fi
# The listings: through the SDK (as an application pages), and for cloudlet
# also with raw signed GETs (little client work: nearer the server's own time).
for srv in cloudlet s3rver; do
    if [ -z "${LISTBUCKET[$srv]:-}" ] || ! alive "$srv"; then continue; fi
    for client in sdk raw; do
        [ "$client" = sdk ] || [ "$srv" = cloudlet ] || continue
        f=$tmp/list.$srv.$client.json
        LIST[$srv.$client]=$f
        bench_log "$srv: ListObjectsV2 over ${NLIST[$srv]} objects ($client client, at most ${LIST_TIMEOUT}s)"
        load "$((LIST_TIMEOUT + 60))" "$srv" list --bucket "${LISTBUCKET[$srv]}" --expect "${NLIST[$srv]}" --client "$client" \
            --timeout "$LIST_TIMEOUT" >"$f" 2>"$f.err" || true
        if [ "$(jget "$f" ok)" != true ]; then
            err=$(jget "$f" error)
            [ -n "$err" ] || err=$(grep -m1 '^s3-load:' "$f.err" || tail -n 1 "$f.err")
            if [ "$(jget "$f" timed_out)" = true ]; then
                notes+=("$srv: the $client listing was cut short at ${LIST_TIMEOUT} s after $(jget "$f" pages) pages ($(jget "$f" keys) keys).")
            else
                note_fail "$srv" "$client listing: $(jget "$f" keys) keys in $(jget "$f" pages) pages, $(jget "$f" unsorted) out of order, ${NLIST[$srv]} expected; error: \`${err:-none}\`"
            fi
        fi
        printf '[bench] %-8s list %-3s %s pages, %s keys in %s s (first page %s ms, last %s ms, slowest %s ms)\n' "$srv" \
            "$client" "$(jget "$f" pages)" "$(jget "$f" keys)" "$(jget "$f" seconds)" "$(jget "$f" first_page_ms)" \
            "$(jget "$f" last_page_ms)" "$(jget "$f" slowest_page_ms)" >&2
    done
done

# ---- after the runs: liveness, memory ----
declare -A PEAK_KB=()
for srv in "${servers[@]}"; do
    if alive "$srv"; then
        PEAK_KB[$srv]=$(bench_proc_kb "${PID[$srv]}" VmHWM)
    else
        note_fail "$srv" "exited during the benchmark; its log ends: \`$(tail -n 3 "$tmp/$srv.log" | tr '\n' ' ')\`"
    fi
done
errs=$(grep -v -c '^[[:space:]]*{' "$tmp/cloudlet.log" 2>/dev/null || true)
if [ "${errs:-0}" -gt 0 ]; then
    notes+=("cloudlet's stderr has ${errs} line(s) that are not JSON access-log lines, e.g. \`$(grep -v -m1 '^[[:space:]]*{' "$tmp/cloudlet.log")\`")
fi
# Access-log lines with a status >= 500: a server error is a finding even in a benchmark.
e5=$(grep -c '"status": *5[0-9][0-9]' "$tmp/cloudlet.log" 2>/dev/null || true)
if [ "${e5:-0}" -gt 0 ]; then
    note_fail cloudlet "${e5} access-log line(s) with a 5xx status, e.g. \`$(grep -m1 '"status": *5[0-9][0-9]' "$tmp/cloudlet.log" | head -c 400)\`"
fi

# ---- the tables ----
mib() { awk -v r="$1" -v b="$2" 'BEGIN { printf "%.1f", r * b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
# cell SRV OP SIZE - sets c_ops c_mib c_p50 c_p99 c_txt c_ok for a wrk row.
cell() {
    local k="$1.$2.$3"
    c_ops="" c_mib="-" c_p50="-" c_p99="-" c_ok=0
    if [ -z "${RPS[$k]:-}" ]; then
        c_txt="failed${BAD[$k]:+ (${BAD[$k]})}"
        return 0
    fi
    c_ops=$(awk -v r="${RPS[$k]}" 'BEGIN { printf "%.0f", r }')
    c_mib=$(mib "${RPS[$k]}" "${BYTES[$3]}")
    c_p50=${P50[$k]:--}
    c_p99=${P99[$k]:--}
    c_txt=$c_ops
    if [ -n "${BAD[$k]:-}" ]; then c_txt="$c_ops (invalid: ${BAD[$k]})"; else c_ok=1; fi
    [ "${SOCKERR[$k]:-0}" = 0 ] || c_txt="$c_txt (${SOCKERR[$k]} socket errors)"
    return 0
}
rows=()
for s in "${SIZES[@]}"; do
    for op in "${OPS[@]}"; do
        cell cloudlet "$op" "$s"
        k_txt=$c_txt k_ops=$c_ops k_mib=$c_mib k_p50=$c_p50 k_p99=$c_p99 k_ok=$c_ok
        cell s3rver "$op" "$s"
        r="n/a"
        [ "$k_ok" = 1 ] && [ "$c_ok" = 1 ] && r=$(ratio "$k_ops" "$c_ops")
        rows+=("| ${OLABEL[$op]} | ${SLABEL[$s]} | $k_txt | $c_txt | **$r** | $k_mib | $c_mib | $k_p50 | $c_p50 | $k_p99 | $c_p99 |")
    done
done
sdk_rows=()
for op in "${OPS[@]}"; do
    [ "$SDK_DUR" -gt 0 ] || break
    declare -A so=() sp50=() sp99=() scpu=() sok=()
    for srv in "${servers[@]}"; do
        f=${SDK[$srv.$op]:-}
        so[$srv]="failed" sp50[$srv]="-" sp99[$srv]="-" scpu[$srv]="-" sok[$srv]=0
        if [ -z "$f" ] || [ ! -s "$f" ]; then continue; fi
        so[$srv]=$(jget "$f" ops_per_s)
        sp50[$srv]=$(jget "$f" p50_ms)
        sp99[$srv]=$(jget "$f" p99_ms)
        scpu[$srv]=$(awk -v c="$(jget "$f" client_cpu_s)" -v s="$(jget "$f" seconds)" 'BEGIN { if (s > 0) printf "%.0f%%", 100 * c / s }')
        if [ "$(jget "$f" ok)" = true ]; then sok[$srv]=1; else so[$srv]="${so[$srv]} (invalid: $(jget "$f" errors) errors)"; fi
    done
    r="n/a"
    [ "${sok[cloudlet]}" = 1 ] && [ "${sok[s3rver]}" = 1 ] && r=$(ratio "${so[cloudlet]}" "${so[s3rver]}")
    sdk_rows+=("| ${OLABEL[$op]} | 4 KiB | ${so[cloudlet]} | ${so[s3rver]} | $r | ${sp50[cloudlet]} | ${sp50[s3rver]} | ${sp99[cloudlet]} | ${sp99[s3rver]} | ${scpu[cloudlet]} / ${scpu[s3rver]} |")
done
# Listing rows.
list_rows=()
declare -A LSECS=() LPAGES=() LOK=()
for srv in "${servers[@]}"; do
    f=${LIST[$srv.sdk]:-}
    how="SDK ListObjectsV2Command"
    if [ -z "$f" ] || [ ! -s "$f" ]; then
        list_rows+=("| $srv | ${NLIST[$srv]} | ${MADE[$srv]:-failed} | $how | - | failed | - | - | - | - |")
        continue
    fi
    secs=$(jget "$f" seconds)
    pages=$(jget "$f" pages)
    keys=$(jget "$f" keys)
    txt=$secs
    if [ "$(jget "$f" timed_out)" = true ]; then
        txt="> $secs (cut short: $keys keys)"
    elif [ "$(jget "$f" ok)" != true ]; then
        txt="$secs (invalid)"
    else
        LSECS[$srv]=$secs LPAGES[$srv]=$pages LOK[$srv]=1
    fi
    list_rows+=("| $srv | ${NLIST[$srv]} | ${MADE[$srv]:-failed} | $how | $pages | $txt | $(jget "$f" first_page_ms) | $(jget "$f" last_page_ms) | $(jget "$f" slowest_page_ms) | $(jget "$f" client_cpu_s) |")
done
f=${LIST[cloudlet.raw]:-}
if [ -n "$f" ] && [ -s "$f" ]; then
    txt=$(jget "$f" seconds)
    [ "$(jget "$f" ok)" = true ] || txt="$txt (invalid)"
    list_rows+=("| cloudlet | ${NLIST[cloudlet]} | (the same) | raw signed GETs | $(jget "$f" pages) | $txt | $(jget "$f" first_page_ms) | $(jget "$f" last_page_ms) | $(jget "$f" slowest_page_ms) | $(jget "$f" client_cpu_s) |")
fi
list_line="- Listing through the SDK: no comparison (a listing failed or was cut short)."
if [ -n "${LOK[cloudlet]:-}" ] && [ -n "${LOK[s3rver]:-}" ]; then
    # Per page, so that different object counts still compare (see the caveat).
    list_line=$(awk -v a="${LSECS[cloudlet]}" -v pa="${LPAGES[cloudlet]}" -v na="${NLIST[cloudlet]}" \
        -v b="${LSECS[s3rver]}" -v pb="${LPAGES[s3rver]}" -v nb="${NLIST[s3rver]}" 'BEGIN {
        printf "- Listing through the SDK: cloudlet %d objects in %.2f s (%.1f ms per page), s3rver %d objects in %.2f s (%.1f ms per page): per page, s3rver / cloudlet = **%.1f**", na, a, 1000 * a / pa, nb, b, 1000 * b / pb, (b / pb) / (a / pa)
        if (na == nb) printf "; for the whole listing, s3rver / cloudlet = **%.1f**.", b / a
        else if (nb < na) printf ". s3rver listed fewer objects than cloudlet (%d vs %d, BENCH_S3_PEER_LIST_KEYS): since its pages get slower the further into the bucket they are (first vs last page above) and cloudlet'"'"'s do not, the gap at equal counts is wider than this.", nb, na
        else printf "."
    }')
fi
seed_line=""
if [ "$SEED_SAMPLE" -gt 0 ]; then
    sk=${SEED[cloudlet]:-} ss=${SEED[s3rver]:-}
    sk_r="" ss_r=""
    if [ -n "$sk" ]; then sk_r=$(jget "$sk" objects_per_s); fi
    if [ -n "$ss" ]; then ss_r=$(jget "$ss" objects_per_s); fi
    sk_r=$(awk -v r="${sk_r:-0}" 'BEGIN { printf "%.0f", r }')
    ss_r=$(awk -v r="${ss_r:-0}" 'BEGIN { printf "%.0f", r }')
    seed_line="- Tiny PUTs over HTTP ($SEED_SAMPLE objects of 8 bytes, SigV4 signed payload, 32 in flight): cloudlet $sk_r objects/s, s3rver $ss_r objects/s (ratio $(ratio "$sk_r" "$ss_r")); at those rates 100000 objects would take $(awk -v r="$sk_r" 'BEGIN { if (r > 0) printf "%.0f", 100000 / r; else print "?" }') s and $(awk -v r="$ss_r" 'BEGIN { if (r > 0) printf "%.0f", 100000 / r; else print "?" }') s."
fi
elapsed=$((SECONDS - started))

# ---- write the results ----
s3rver_ver=$(node -p 'require(process.argv[1]).version' "$here/node_modules/s3rver/package.json" 2>/dev/null || echo "?")
sdk_ver=$(node -p 'require(process.argv[1]).version' "$repo/node_modules/@aws-sdk/client-s3/package.json" 2>/dev/null || echo "?")
wrk_ver=$( (wrk -v 2>&1 || true) | head -n1 | sed 's/ Copyright.*//')
fs_type=$(df -T "$tmp" 2>/dev/null | awk 'NR == 2 { print $2 " on " $1 }')
mkdir -p "$(dirname "$OUT")"
{
    echo "# S3 API: cloudlet vs s3rver"
    echo
    echo "Written by \`bench/s3.sh\` (\`make bench\`). Not a timed test: numbers from one run on one machine."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); the whole script took ${elapsed} s"
    bench_machine_md
    echo "- Load average before the runs: $load_before; data directories on ${fs_type:-?}"
    echo "- Versions: cloudlet $(bench_commit "$repo"); s3rver $s3rver_ver (Node $(node --version), --openssl-legacy-provider); @aws-sdk/client-s3 $sdk_ver; $wrk_ver"
    echo "- Parameters: BENCH_S3_DURATION=$DUR, BENCH_S3_CONNECTIONS=$CONNS, BENCH_S3_KEYS=$NKEYS, BENCH_S3_SDK_DURATION=$SDK_DUR, BENCH_S3_SDK_WORKERS=$SDK_WORKERS, BENCH_S3_LIST_KEYS=$LIST_KEYS, BENCH_S3_PEER_LIST_KEYS=$PEER_LIST_KEYS, BENCH_S3_LIST_TIMEOUT=$LIST_TIMEOUT, BENCH_S3_SEED_SAMPLE=$SEED_SAMPLE"
    echo
    echo "## Method"
    echo
    echo "Both servers run on 127.0.0.1, on the same $(nproc) cores as the load generators, one after the"
    echo "other (both stay up; only one is under load at a time): cloudlet with its defaults (root"
    echo "credentials from CLOUDLET_ROOT_ACCESS_KEY_ID/SECRET, access log on, to a file), s3rver as"
    echo "\`s3rver --directory TMP --address 127.0.0.1 --port PORT --silent --no-vhost-buckets\` (its"
    echo "built-in credentials S3RVER/S3RVER). Clients use path-style addressing (\`forcePathStyle\`)."
    echo
    echo "**GetObject / PutObject.** For each case, \`bench/s3-load.mjs prepare\` has @aws-sdk/client-s3"
    echo "build $NKEYS requests for $NKEYS keys (\`GetObjectCommand\`/\`PutObjectCommand\`; a request handler"
    echo "records the request instead of sending it): SigV4 in the Authorization header, the payload's"
    echo "SHA-256 in x-amz-content-sha256 and, for PUT, the SDK's default x-amz-checksum-crc32 — the bytes the"
    echo "SDK puts on the wire. The objects a GET reads are stored first with the SDK; request 0 is sent once"
    echo "and must answer 200 (and, for GET, the stored bytes). Then \`wrk -t 2 -c $CONNS -d ${DUR}s --latency\`"
    echo "replays the recorded requests in turn over keep-alive connections (a Lua script returns them), so a"
    echo "C client measures the servers rather than the SDK. PUTs overwrite the same $NKEYS keys. The server"
    echo "that goes first alternates from case to case. Ops/s and the p50/p99 latencies (ms) are wrk's;"
    echo "MiB/s is ops/s x object size. Ratio is cloudlet ops/s / s3rver ops/s. A row with non-2xx answers"
    echo "is invalid (and one of its requests is sent again to show the answer in the notes)."
    echo
    echo "## GetObject and PutObject (signed requests made by the SDK, replayed by wrk)"
    echo
    echo "| operation | size | cloudlet ops/s | s3rver ops/s | ratio | cloudlet MiB/s | s3rver MiB/s | cloudlet p50 | s3rver p50 | cloudlet p99 | s3rver p99 |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    if [ "${#sdk_rows[@]}" -gt 0 ]; then
        echo
        echo "## The same through the SDK (Node)"
        echo
        echo "\`bench/s3-load.mjs sdk\`: one Node process, one S3Client with a keep-alive agent, $SDK_WORKERS workers each"
        echo "sending GetObjectCommand (body read to the end and its length checked) or PutObjectCommand"
        echo "(4 KiB Buffer) one after another for ${SDK_DUR} s. Latency is per call, client side. The last"
        echo "column is the client's CPU time over the run's wall time (200% = both cores): where it is near"
        echo "the machine's capacity, the SDK, not the server, sets the rate."
        echo
        echo "| operation | size | cloudlet ops/s | s3rver ops/s | ratio | cloudlet p50 | s3rver p50 | cloudlet p99 | s3rver p99 | client CPU (cloudlet / s3rver) |"
        echo "|---|---|---|---|---|---|---|---|---|---|"
        printf '%s\n' "${sdk_rows[@]}"
    fi
    echo
    echo "## Listing (ListObjectsV2, max-keys 1000)"
    echo
    echo "Each server gets a bucket of tiny objects (8 bytes), keys \`key-000000\`, \`key-000001\`, ...:"
    echo "**${NLIST[cloudlet]} in cloudlet, ${NLIST[s3rver]} in s3rver**, written by the fastest path each has;"
    echo "then one client pages through the whole bucket with"
    echo "\`ListObjectsV2Command\` (MaxKeys 1000, ContinuationToken), checking that the keys come sorted,"
    echo "unique and all there. cloudlet's objects come from \`cloudlet site deploy\` of a folder of"
    echo "${NLIST[cloudlet]} files (staged on tmpfs) into bucket \`site\` while the server runs (one LMDB write"
    echo "transaction)."
    echo "s3rver's come from its own store format written directly: one object is stored by a signed PUT and"
    echo "its three files (\`KEY._S3rver_object\`, \`.md5\`, \`_metadata.json\`) are copied to the other keys."
    echo "The raw row lists cloudlet again with the same signed GETs over keep-alive node:http, taking keys"
    echo "and the continuation token from the XML with regular expressions (far less client work than the"
    echo "SDK's XML parsing), to show the server's own share. Page times are client side, in ms."
    echo
    echo "| server | objects | created in | client | pages | seconds | first page ms | last page ms | slowest page ms | client CPU s |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${list_rows[@]}"
    echo
    echo "$list_line"
    [ -z "$seed_line" ] || echo "$seed_line"
    echo
    echo "## Memory"
    echo
    echo "- cloudlet RSS: $(bench_kb_to_mib "${IDLE_KB[cloudlet]:-}") MB at start, $(bench_kb_to_mib "${PEAK_KB[cloudlet]:-}") MB peak (VmHWM)"
    echo "- s3rver RSS: $(bench_kb_to_mib "${IDLE_KB[s3rver]:-}") MB at start, $(bench_kb_to_mib "${PEAK_KB[s3rver]:-}") MB peak (VmHWM)"
    echo
    echo "## What the numbers mean"
    echo
    echo "- Storage. cloudlet keeps objects in LMDB (one memory-mapped B-tree file): a GET is a read"
    echo "  transaction and a copy out of the map; each PutObject is one write transaction, committed with"
    echo "  LMDB's default durability (the data and meta pages are synced to disk before the answer), and"
    echo "  LMDB has one writer at a time, so PUT throughput is bounded by the disk's sync latency (there is"
    echo "  no group commit). s3rver $s3rver_ver keeps each object as three files under the bucket's folder"
    echo "  (the bytes, \`.md5\`, \`_metadata.json\`) written with fs-extra and never synced (no fsync"
    echo "  anywhere in it): a PUT it answered may still be lost in a crash. A GET there is a stat and two"
    echo "  small file reads before the bytes are streamed."
    echo "- Verification. cloudlet verifies every request's SigV4 signature, that the body matches"
    echo "  x-amz-content-sha256, and the x-amz-checksum-crc32 the SDK sends on PUT, and authorizes it"
    echo "  against the caller's policy. s3rver $s3rver_ver parses SigV4 headers but does not compute the"
    echo "  signature (its source: \"Signature version 4 calculation is unimplemeneted\"): any request that"
    echo "  names its access key S3RVER is accepted; it checks neither the payload hash nor the checksums."
    echo "- Listing. cloudlet's listing is a cursor over the bucket's keys in LMDB, positioned by the"
    echo "  continuation token: a page costs the same wherever it is and whatever the bucket's size."
    echo "  s3rver, for every page, reads the bucket's whole folder (readdirSync: three entries per object)"
    echo "  and then statSyncs each file from the start until it has passed the continuation key, all"
    echo "  synchronous (its event loop is blocked meanwhile), before reading each listed object's"
    echo "  metadata files: a page costs O(objects in the bucket), so a full listing grows with the square"
    echo "  of the object count (pages also get slower towards the end: compare its first and last page;"
    echo "  the SDK's first page also carries the client's start-up)."
    echo "  Through the SDK, most of cloudlet's listing time is the client's XML parsing (see the raw row)."
    echo "- The listing table's \"created in\" column times this script's shortcuts (a folder and a deploy;"
    echo "  files copied into s3rver's store), not the servers' PUT paths: the tiny-PUT line is that. Mass"
    echo "  file creation on this machine's ext4 varies a lot from run to run (after many files were deleted"
    echo "  nearby, ext4's inode allocator checks each candidate for being recently deleted)."
    echo "- s3rver $s3rver_ver makes ListObjectsV2 continuation tokens with DES; OpenSSL 3 has it only in"
    echo "  the legacy provider, so without \`node --openssl-legacy-provider\` every truncated page is a 500"
    echo "  (ERR_OSSL_EVP_UNSUPPORTED). The script starts it with that flag."
    echo "- The SDK rows share the $(nproc) cores between one Node client and the server: the client's CPU"
    echo "  column shows how much of the machine the SDK itself takes; that is why wrk drives the main table."
    if [ "${#notes[@]}" -gt 0 ]; then
        echo
        echo "## Notes"
        echo
        printf -- '- %s\n' "${notes[@]}"
    fi
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"

cat "$OUT"
bench_log "results written to ${OUT#"$repo"/} in ${elapsed} s"
exit "$failed"
