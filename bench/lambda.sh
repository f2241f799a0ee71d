#!/usr/bin/env bash
# bench/lambda.sh - Lambda benchmark: cloudlet's warm and cold invokes, against a bare
# loopback HTTP round trip to nginx (the floor) and against lambda-local.
#
#   bench/lambda.sh build/cloudlet        (what `make bench` runs, from the repo root)
#
# Not a timed test: it measures and reports. It starts, on free 127.0.0.1 ports and
# all kept running (the runs take turns, so one is under load at a time):
#   - cloudlet, fresh data dir, root credentials from the environment, the example
#     functions shout (C custom runtime), hello (Node.js) and echo (Python), with their
#     reserved concurrency raised from the manifests' 10 to 16 (PutFunctionConcurrency)
#     so that 16 connections are not throttled;
#   - Debian's nginx answering every POST with a fixed `{}` (return 200): the physical
#     floor of one HTTP round trip on this machine, measured in the same run;
#   - lambda-local (the npm package pinned in bench/package.json, installed by `make
#     bench` with npm ci --prefix bench) serving the same hello handler over HTTP (its
#     --watch mode, started through bench/lambda-load.mjs serve).
# Then:
#  1. Cold starts: for each function, BENCH_COLD times: UpdateFunctionConfiguration
#     (a new Description retires the warm instance), then one timed Invoke, which must
#     start a new instance (its log tail must carry "Init Duration"). Next to it the
#     interpreter's own start-up, exec to exit, timed the same number of times by a small
#     posix_spawn timer: `node -e 0`, `python3 -c 0` (the interpreters cloudlet uses) and,
#     for shout, a trivial C program built like shout's bootstrap (dynamically linked).
#  2. Warm invokes: one request per target, signed once (SigV4, service lambda, by the
#     SDK's signer; a signature is valid for 15 minutes) and replayed by wrk over
#     keep-alive connections (a Lua script), at 1, 4 and 16 connections, after a 1 s
#     warm-up at 16; BENCH_ROUNDS rounds whose target order alternates; medians.
#  3. lambda-local in-process: execute() on the handler in a loop (no HTTP), 1 in flight.
# The server's own log gives, for the warm runs, its time per request (access log) and
# the instance round trip ("done in"); /proc gives the instances alive and their RSS.
# The tables and the targets go to stdout and to bench/results/lambda.md.
#
# Environment (defaults keep the whole run near 2 minutes and a quarter):
#   BENCH_DURATION=2     seconds per wrk run (1..60)
#   BENCH_ROUNDS=3       rounds of the warm runs (1..9)
#   BENCH_COLD=10        cold starts per function, and interpreter start-ups (1..100)
#   BENCH_OUT=FILE       results file (default bench/results/lambda.md)
#   NGINX=PATH           nginx binary (default /usr/sbin/nginx)
#   BENCH_NOTE=TEXT      a line for the results' notes (e.g. what the binary is)
#
# Exit status: 0 when every run ran (rows with errors are still reported, marked
# invalid); 1 when a tool is missing, a server did not start, died or stopped
# answering, or a cloudlet run failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

DUR=${BENCH_DURATION:-2}
ROUNDS=${BENCH_ROUNDS:-3}
NCOLD=${BENCH_COLD:-10}
OUT=${BENCH_OUT:-$repo/bench/results/lambda.md}
NGINX=${NGINX:-/usr/sbin/nginx}
[ -x "$NGINX" ] || NGINX=$(command -v nginx || echo nginx)
LOAD=$here/lambda-load.mjs
HELLO=$repo/functions/examples/hello/index.mjs
PAYLOAD='{"name":"bench"}'

case "$DUR$ROUNDS$NCOLD" in *[!0-9]*) bench_die "BENCH_DURATION, BENCH_ROUNDS and BENCH_COLD must be whole numbers" ;; esac
in_range() {
    if [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then bench_die "$1 must be $3..$4"; fi
}
in_range BENCH_DURATION "$DUR" 1 60
in_range BENCH_ROUNDS "$ROUNDS" 1 9
in_range BENCH_COLD "$NCOLD" 1 100

# ---- arguments and tools ----
bench_require wrk curl node cc awk timeout "$NGINX"
[ -f "$here/node_modules/lambda-local/package.json" ] ||
    bench_die "lambda-local is not installed: run make bench (or npm ci --prefix bench)"
for m in @smithy/signature-v4 @aws-crypto/sha256-js; do
    [ -d "$repo/node_modules/$m" ] || bench_die "$m is not installed: run make bench (or npm ci)"
done
[ -f "$HELLO" ] || bench_die "$HELLO is missing"
bin=${1:-}
[ -n "$bin" ] || bench_die "usage: bench/lambda.sh PATH-TO-CLOUDLET (e.g. build/cloudlet)"
[ -x "$bin" ] || bench_die "$bin is not an executable (build it with make build/cloudlet)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
# cloudlet finds functions/ next to its binary's project root: that is what runs.
fnroot=$(cd "$(dirname "$bin")/.." && pwd)/functions
[ -x "$fnroot/examples/shout/bootstrap" ] ||
    bench_die "$fnroot/examples/shout/bootstrap is missing: run make (it builds the example)"
export NODE_NO_WARNINGS=1

# ---- temp dir and cleanup: servers are stopped by pid on any exit ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cloudlet-bench-lambda.XXXXXX")
chmod 755 "$tmp"   # nginx workers (user nobody) read their config dir
cl_pid=""
ng_pid=""
ll_pid=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    bench_stop "$cl_pid" 10   # it stops its function instances (process groups) itself
    bench_stop "$ng_pid" 5
    bench_stop "$ll_pid" 5
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

notes=()   # lines for the "Notes" section
failed=0   # something of cloudlet's could not run: exit 1 at the end
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_before%% *}" 'BEGIN { exit !(l > 1.0) }'; then
    bench_log "warning: load average is $load_before before the runs: numbers may be disturbed"
    notes+=("The 1-minute load average was ${load_before%% *} before the runs: other work may have disturbed the numbers.")
fi

ROOT_KEY=AKIABENCHFN$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F' | head -c 9)
ROOT_SECRET=$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n' | head -c 40)
export LAMBDA_ACCESS_KEY_ID=$ROOT_KEY LAMBDA_SECRET_ACCESS_KEY=$ROOT_SECRET

# ---- cloudlet ----
# Instances stay warm for the whole run; 16 per function at most.
printf '{"lambda": {"keepWarmSeconds": 900, "maxConcurrency": 16}}\n' >"$tmp/cloudlet.json"
start_cloudlet() {
    local try
    mkdir -p "$tmp/data"
    for try in 1 2 3; do
        cl_port=$(bench_free_port)
        CLOUDLET_ROOT_ACCESS_KEY_ID=$ROOT_KEY CLOUDLET_ROOT_SECRET_ACCESS_KEY=$ROOT_SECRET \
            "$bin" serve --listen "127.0.0.1:$cl_port" --data "$tmp/data" --config "$tmp/cloudlet.json" \
            </dev/null >>"$tmp/cloudlet.out" 2>>"$tmp/cloudlet.log" &
        cl_pid=$!
        if bench_wait_http "http://127.0.0.1:$cl_port/healthz" 15 "$cl_pid"; then
            return 0
        fi
        bench_log "cloudlet did not answer /healthz on port $cl_port (try $try); its stderr ends:"
        tail -n 5 "$tmp/cloudlet.log" >&2 || true
        bench_stop "$cl_pid" 2
        cl_pid=""
    done
    return 1
}

# ---- nginx: POST / answers 200 {} ----
start_nginx() {
    local try
    mkdir -p "$tmp/nginx"
    for try in 1 2 3; do
        ng_port=$(bench_free_port)
        [ "$ng_port" != "$cl_port" ] || continue
        cat >"$tmp/nginx/nginx.conf" <<EOF
# generated by bench/lambda.sh
daemon off;
master_process on;
worker_processes 2;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; use epoll; }
http {
    access_log $tmp/nginx/access.log combined buffer=64k flush=1s;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$ng_port;
        default_type application/json;
        location / { return 200 '{}'; }
    }
}
EOF
        "$NGINX" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx/" -e "$tmp/nginx/error.log" \
            </dev/null >>"$tmp/nginx/stdout.log" 2>&1 &
        ng_pid=$!
        if bench_wait_http "http://127.0.0.1:$ng_port/" 10 "$ng_pid"; then
            return 0
        fi
        bench_log "nginx did not answer on port $ng_port (try $try); its error log ends:"
        tail -n 5 "$tmp/nginx/error.log" >&2 || true
        bench_stop "$ng_pid" 2
        ng_pid=""
    done
    return 1
}

# ---- lambda-local: the hello handler over HTTP ----
start_lambda_local() {
    local try
    for try in 1 2 3; do
        ll_port=$(bench_free_port)
        if [ "$ll_port" = "$cl_port" ] || [ "$ll_port" = "$ng_port" ]; then continue; fi
        (cd "$tmp" && exec node "$LOAD" serve --handler "$HELLO" --port "$ll_port") \
            </dev/null >>"$tmp/lambda-local.log" 2>&1 &
        ll_pid=$!
        # A GET is a function-URL-shaped event: hello answers it with 200.
        if bench_wait_http "http://127.0.0.1:$ll_port/" 15 "$ll_pid"; then
            return 0
        fi
        bench_log "lambda-local did not answer on port $ll_port (try $try); its log ends:"
        tail -n 5 "$tmp/lambda-local.log" >&2 || true
        bench_stop "$ll_pid" 2
        ll_pid=""
    done
    return 1
}

cl_port=""
ng_port=""
start_cloudlet || bench_die "cloudlet serve did not start"
start_nginx || bench_die "nginx did not start"
start_lambda_local || bench_die "lambda-local did not start"
bench_log "cloudlet pid $cl_pid on 127.0.0.1:$cl_port; nginx pid $ng_pid on :$ng_port; lambda-local pid $ll_pid on :$ll_port"
cl_ep=http://127.0.0.1:$cl_port

FUNCS=(shout hello echo)
declare -A RUNTIME=([shout]="C (provided.al2023)" [hello]="Node.js (nodejs20.x)" [echo]="Python (python3.11)")
TARGETS=(nginx shout hello echo lambda-local)
declare -A TLABEL=([nginx]="nginx (floor)" [shout]="cloudlet shout" [hello]="cloudlet hello" [echo]="cloudlet echo" [lambda-local]="lambda-local hello")
declare -A TPORT=([nginx]=$ng_port [shout]=$cl_port [hello]=$cl_port [echo]=$cl_port [lambda-local]=$ll_port)
CONNS=(1 4 16)

# jget FILE KEY - a top-level field of the one-line JSON in FILE ("" if absent/null).
jget() {
    node -e 'const fs = require("fs"); let o = {}; try { o = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch {}
const v = o[process.argv[2]]; process.stdout.write(v === undefined || v === null ? "" : String(v));' "$1" "$2"
}
# median VALUES... - the median of the non-empty arguments (mean of the middle two).
median() {
    printf '%s\n' "$@" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit
        if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# ratio A B [DECIMALS] - A / B, or empty when either is missing or B is 0.
ratio() {
    [ -n "${1:-}" ] && [ -n "${2:-}" ] || return 0
    awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b + 0 != 0) printf "%.*f", d, a / b }'
}
cl_alive() {
    kill -0 "$cl_pid" 2>/dev/null && [ "$(bench_http_code "$cl_ep/healthz")" = 200 ]
}
cl_hung=0
# cl_check WHEN - note (once) that cloudlet died or stopped answering, and fail.
cl_check() {
    [ "$cl_hung" = 0 ] || return 1
    cl_alive && return 0
    cl_hung=1
    failed=1
    if kill -0 "$cl_pid" 2>/dev/null; then
        notes+=("cloudlet stopped answering (GET /healthz timed out) $1, though its process is alive: every cloudlet run after that is marked failed. Its log ends: \`$(tail -n 2 "$tmp/cloudlet.log" | tr '\n' ' ' | head -c 600)\`")
    else
        notes+=("cloudlet exited $1; its log ends: \`$(tail -n 3 "$tmp/cloudlet.log" | tr '\n' ' ' | head -c 600)\`")
    fi
    bench_log "cloudlet is gone or hung $1"
    return 1
}

# ---- the functions' reserved concurrency: 16, so 16 connections are not throttled ----
for f in "${FUNCS[@]}"; do
    if ! timeout 60 node "$LOAD" reserve --endpoint "$cl_ep" --function "$f" --reserved 16 >"$tmp/reserve.$f.json" 2>&1; then
        notes+=("PutFunctionConcurrency $f 16 failed: \`$(head -c 300 "$tmp/reserve.$f.json")\`: its 16-connection rows may be throttled.")
        failed=1
    fi
done

# ---- 1. cold starts and the interpreters' own start-up ----
# A posix_spawn timer (exec to exit, stdio on /dev/null) and the trivial C program.
cat >"$tmp/spawntime.c" <<'EOF'
/* spawntime N PROG ARGS... - run PROG N times (after 2 untimed runs), print ms each. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
extern char **environ;
int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int n = atoi(argv[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    for (int i = -2; i < n; i++) {
        struct timespec a, b;
        pid_t pid;
        int st;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (posix_spawn(&pid, argv[2], &fa, NULL, argv + 2, environ) != 0 ||
            waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "spawntime: %s failed\n", argv[2]);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (i >= 0)
            printf("%.3f\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
    }
    return 0;
}
EOF
printf 'int main(void) { return 0; }\n' >"$tmp/true.c"
cc -O2 -o "$tmp/spawntime" "$tmp/spawntime.c" || bench_die "cannot build the spawn timer"
cc -O2 -o "$tmp/true-c" "$tmp/true.c" || bench_die "cannot build the trivial C program"
# The interpreters cloudlet runs (its log names them), else Debian's.
node_bin=$(sed -n 's/.*functions: [0-9]* loaded; node \([^ ,]*\), python \([^ "]*\).*/\1/p' "$tmp/cloudlet.log" | head -n1)
py_bin=$(sed -n 's/.*functions: [0-9]* loaded; node \([^ ,]*\), python \([^ "]*\).*/\2/p' "$tmp/cloudlet.log" | head -n1)
node_bin=${node_bin:-/usr/bin/node}
py_bin=${py_bin:-/usr/bin/python3}
declare -A INTERP_CMD=([shout]="$tmp/true-c" [hello]="$node_bin -e 0" [echo]="$py_bin -c 0")
declare -A INTERP_LABEL=([shout]="trivial C program (exec, dynamic libc)" [hello]="\`node -e 0\`" [echo]="\`python3 -c 0\`")
declare -A COLD=() INIT=() CWARM=() CMIN=() CMAX=() INTERP=()
for f in "${FUNCS[@]}"; do
    bench_log "cold starts: $f x $NCOLD"
    out=$tmp/cold.$f.json
    [ "$cl_hung" = 0 ] || echo '{"ok":false,"error":"not run: cloudlet had stopped answering"}' >"$out"
    [ "$cl_hung" = 1 ] || timeout 300 node "$LOAD" cold --endpoint "$cl_ep" --function "$f" --payload "$PAYLOAD" \
        --count "$NCOLD" --warm 50 --settle-ms 250 >"$out" 2>"$out.err" || true
    if [ "$(jget "$out" ok)" = true ]; then
        COLD[$f]=$(jget "$out" cold_p50_ms)
        INIT[$f]=$(jget "$out" init_p50_ms)
        CWARM[$f]=$(jget "$out" warm_p50_ms)
        CMIN[$f]=$(jget "$out" cold_min_ms)
        CMAX[$f]=$(jget "$out" cold_max_ms)
    else
        err=$(jget "$out" error)
        [ -n "$err" ] || err=$(tail -n 1 "$out.err")
        [ "$cl_hung" = 1 ] || notes+=("cold starts of $f failed: \`$err\`")
        failed=1
        cl_check "during the cold starts of $f" || true
    fi
    # The environment cloudlet gives an instance, not this shell's: a developer's
    # NODE_EXTRA_CA_CERTS alone makes node read a CA bundle and start ~40 ms later.
    # shellcheck disable=SC2086  # the command line is split on purpose
    if timeout 120 env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TZ=UTC HOME="$tmp" TMPDIR="$tmp" \
        "$tmp/spawntime" "$NCOLD" ${INTERP_CMD[$f]} >"$tmp/interp.$f" 2>"$tmp/interp.$f.err"; then
        # shellcheck disable=SC2046
        INTERP[$f]=$(median $(cat "$tmp/interp.$f"))
    else
        notes+=("timing ${INTERP_CMD[$f]} failed: \`$(head -c 300 "$tmp/interp.$f.err")\`")
    fi
    bench_log "  $f: cold p50 ${COLD[$f]:-?} ms (server init ${INIT[$f]:-?} ms), interpreter ${INTERP[$f]:-?} ms, warm ${CWARM[$f]:-?} ms"
done

# ---- 2. warm invokes with wrk ----
cat >"$tmp/replay.lua" <<'EOF'
-- wrk sends the raw request in the file given after "--" (bench/lambda-load.mjs
-- prepare: a line "1 LEN", then the request) again and again.
local req
function init(args)
    local f = assert(io.open(args[1], "rb"))
    local data = f:read("*a")
    f:close()
    req = data:sub(data:find("\n", 1, true) + 1)
end
function request()
    return req
end
EOF
declare -A REQ=()
prep() {   # prep TARGET PAYLOAD ARGS... - the request file of TARGET, checked once
    local t=$1 f=$tmp/req.$1
    shift
    case $t in nginx | lambda-local) ;; *) [ "$cl_hung" = 0 ] || return 0 ;; esac
    if timeout 60 node "$LOAD" prepare --out "$f" --payload "$@" >"$f.json" 2>"$f.err" && [ "$(jget "$f.json" ok)" = true ]; then
        REQ[$t]=$f
    else
        local err
        err=$(jget "$f.json" error)
        [ -n "$err" ] || err=$(tail -n 1 "$f.err")
        notes+=("${TLABEL[$t]}: the request failed before the runs: \`$err\`")
        case $t in nginx | lambda-local) ;; *) failed=1; cl_check "after the first ${TLABEL[$t]} request" || true ;; esac
    fi
}
prep nginx '{"name":"bench"}' --endpoint "http://127.0.0.1:$ng_port" --path / --expect '{}'
declare -A EXPECT=([shout]='"NAME":"BENCH"' [hello]='Hello, bench!' [echo]='"functionName": "echo"')
for f in "${FUNCS[@]}"; do
    prep "$f" "$PAYLOAD" --endpoint "$cl_ep" --function "$f" --expect "${EXPECT[$f]}"
done
prep lambda-local "{\"event\":$PAYLOAD}" --endpoint "http://127.0.0.1:$ll_port" --path / --expect 'Hello, bench!'

# instances - "NAME PID RSS_KB" for each live function instance of cloudlet.
instances() {
    local p name rss
    for p in $(pgrep -P "$cl_pid" 2>/dev/null || true); do
        name=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^AWS_LAMBDA_FUNCTION_NAME=//p' | head -n1) || true
        [ -n "$name" ] || continue
        rss=$(bench_proc_kb "$p" VmRSS)
        echo "$name $p ${rss:-0}"
    done
}
: >"$tmp/pids.seen"
: >"$tmp/windows"
declare -A RPS=() P50=() P99=() NON2XX=() SOCKERR=() REQS=()
run_one() {   # run_one TARGET CONNS ROUND
    local t=$1 c=$2 r=$3 k="$1|$2|$3" out=$tmp/wrk.$1.$2.$3 rc=0 th=1 from to
    [ -n "${REQ[$t]:-}" ] || return 0
    case $t in nginx | lambda-local) ;; *) [ "$cl_hung" = 0 ] || return 0 ;; esac
    [ "$c" = 1 ] || th=2
    from=$(date +%s%3N)
    bench_wrk "$out" "$DUR" -t "$th" -c "$c" -s "$tmp/replay.lua" "http://127.0.0.1:${TPORT[$t]}/" -- "${REQ[$t]}" || rc=$?
    to=$(date +%s%3N)
    RPS[$k]=$(bench_wrk_rps "$out")
    P50[$k]=$(bench_wrk_pct "$out" 50)
    P99[$k]=$(bench_wrk_pct "$out" 99)
    NON2XX[$k]=$(bench_wrk_non2xx "$out")
    SOCKERR[$k]=$(bench_wrk_socket_errors "$out")
    REQS[$k]=$(bench_wrk_requests "$out")
    case $t in
    nginx | lambda-local) ;;
    *)
        echo "$t|$c|$r $t $from $to" >>"$tmp/windows"
        instances >>"$tmp/pids.seen"
        cl_check "after the ${TLABEL[$t]} run at $c connections (round $r)" || RPS[$k]=""
        ;;
    esac
    if [ "$rc" -ne 0 ] || [ -z "${RPS[$k]}" ] || [ "${REQS[$k]:-0}" = 0 ]; then
        RPS[$k]=""
        bench_log "wrk against ${TLABEL[$t]} -c $c failed (exit $rc): $(tail -n 3 "$out" | tr '\n' ' ')"
        case $t in nginx | lambda-local) ;; *) failed=1 ;; esac
    fi
    printf '[bench] round %d %-18s c=%-2d %9s req/s  p50 %s ms  p99 %s ms  non-2xx %s  socket errors %s\n' \
        "$r" "${TLABEL[$t]}" "$c" "${RPS[$k]:-FAILED}" "${P50[$k]:-?}" "${P99[$k]:-?}" "${NON2XX[$k]:-?}" "${SOCKERR[$k]:-?}" >&2
}

# ---- CPU accounting: how much of the machine was someone else's during the warm runs ----
# All in clock ticks. busy = /proc/stat user+nice+system minus the kernel's own threads
# (ksoftirqd and kworkers carry much of the loopback traffic: ours, but charged to no
# process), and without irq/softirq time for the same reason; steal is other VMs'.
# ours = the servers (cloudlet with its live instances and the reaped ones in its
# children's times, nginx and its workers, lambda-local) plus every command this script
# waited for (wrk, node helpers: bash's `times`). other = busy - ours.
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_stat() {
    local k
    k=$(cat /proc/[0-9]*/stat 2>/dev/null | sed 's/.*) //' | awk '$2 == 2 { t += $12 + $13 } END { print t + 0 }')
    awk -v k="$k" '$1 == "cpu" { print $2 + $3 + $4 - k, $9; exit }' /proc/stat
}
proc_ticks() {   # proc_ticks PID... - utime+stime+cutime+cstime of each, summed
    local p t=0 v
    for p in "$@"; do
        v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }') || true
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
# our_ticks - sets OURS. Not in a $(...): a subshell's `times` starts from zero.
our_ticks() {
    local kids waited
    # shellcheck disable=SC2046
    kids=$(proc_ticks "$cl_pid" $(pgrep -P "$cl_pid" 2>/dev/null) "$ng_pid" $(pgrep -P "$ng_pid" 2>/dev/null) "$ll_pid")
    times >"$tmp/times.txt"
    waited=$(awk -v hz="$HZ" 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf "%d", s * hz }' "$tmp/times.txt")
    OURS=$((kids + waited))
}

# Warm-up: 1 s at 16 connections each, so that every function has its 16 instances.
for t in "${TARGETS[@]}"; do
    [ -n "${REQ[$t]:-}" ] || continue
    case $t in nginx | lambda-local) ;; *) [ "$cl_hung" = 0 ] || continue ;; esac
    bench_wrk "$tmp/warmup.$t" 1 -t 2 -c 16 -s "$tmp/replay.lua" "http://127.0.0.1:${TPORT[$t]}/" -- "${REQ[$t]}" || true
    case $t in nginx | lambda-local) ;; *) cl_check "after the warm-up of ${TLABEL[$t]}" || true ;; esac
done
instances >"$tmp/inst.before"

bench_log "measuring: ${#TARGETS[@]} targets x ${#CONNS[@]} connection counts x $ROUNDS rounds x ${DUR}s"
read -r busy0 steal0 < <(cpu_stat)
our_ticks
ours0=$OURS
t0=$(date +%s%3N)
for r in $(seq 1 "$ROUNDS"); do
    for c in "${CONNS[@]}"; do
        order=("${TARGETS[@]}")
        if [ $((r % 2)) -eq 0 ]; then order=(lambda-local echo hello shout nginx); fi
        for t in "${order[@]}"; do run_one "$t" "$c" "$r"; done
    done
done
instances >"$tmp/inst.after"
read -r busy1 steal1 < <(cpu_stat)
our_ticks
ours1=$OURS
t1=$(date +%s%3N)
# Shares of the machine's capacity (all cores) over the warm runs, in percent.
read -r pct_ours pct_other pct_steal < <(awk -v b="$((busy1 - busy0))" -v o="$((ours1 - ours0))" \
    -v st="$((steal1 - steal0))" -v ms="$((t1 - t0))" -v hz="$HZ" -v n="$(nproc)" 'BEGIN {
    cap = ms / 1000 * hz * n; other = b - o; if (other < 0) other = 0
    printf "%.0f %.0f %.0f\n", 100 * o / cap, 100 * other / cap, 100 * st / cap }')
bench_log "CPU during the warm runs: ours ${pct_ours}%, other processes ${pct_other}%, steal ${pct_steal}%"
if [ "$pct_other" -gt 5 ] || [ "$pct_steal" -gt 5 ]; then
    notes+=("During the warm runs other processes on this machine used ${pct_other}% of its CPU capacity and other VMs took ${pct_steal}% (steal): the numbers are disturbed; compare with a quieter run.")
fi

# ---- 3. lambda-local in-process ----
bench_log "lambda-local in-process: ${DUR}s"
inproc=$tmp/inproc.json
(cd "$tmp" && timeout $((DUR + 60)) node "$LOAD" inproc --handler "$HELLO" --payload "$PAYLOAD" \
    --duration "$DUR" --concurrency 1) >"$inproc" 2>"$inproc.err" || true
if [ "$(jget "$inproc" ok)" != true ]; then
    notes+=("lambda-local in-process failed: \`$(jget "$inproc" first_error)$(tail -n 1 "$inproc.err")\`")
fi

# ---- the server's own view of the warm runs ----
declare -A SRV_N=() SRV_ACC=() SRV_DONE=()
sleep 1.2   # cloudlet's log is flushed about once a second
if timeout 120 node "$LOAD" logstats --log "$tmp/cloudlet.log" --windows "$tmp/windows" >"$tmp/logstats" 2>"$tmp/logstats.err"; then
    while read -r key n acc done_ms; do
        SRV_N[$key]=$n
        SRV_ACC[$key]=$acc
        SRV_DONE[$key]=$done_ms
    done <"$tmp/logstats"
else
    notes+=("reading cloudlet's log failed: \`$(tail -n 1 "$tmp/logstats.err")\`")
fi
errs=$(grep -c '"level":"\(warn\|error\)"' "$tmp/cloudlet.log" || true)
if [ "${errs:-0}" -gt 0 ]; then
    notes+=("cloudlet logged ${errs} warning/error line(s), e.g. \`$(grep -m1 '"level":"\(warn\|error\)"' "$tmp/cloudlet.log" | head -c 400)\`")
fi
n429=$(grep -c '"path":"/2015-03-31/functions/[a-z]*/invocations".*"status":429' "$tmp/cloudlet.log" || true)
[ "${n429:-0}" = 0 ] || notes+=("cloudlet throttled ${n429} invoke(s) (429 TooManyRequestsException) in the warm runs.")

cl_check "at the end of the runs" || true
cl_peak_kb=""
[ "$cl_hung" = 1 ] || cl_peak_kb=$(bench_proc_kb "$cl_pid" VmHWM)

# ---- aggregate ----
# cell TARGET CONNS - sets c_rps c_p50 c_p99 (medians over rounds) and c_bad.
cell() {
    local t=$1 c=$2 r k rps=() p50=() p99=() non=0 sock=0
    c_bad=""
    for r in $(seq 1 "$ROUNDS"); do
        k="$t|$c|$r"
        [ -n "${RPS[$k]:-}" ] || { c_bad="a run failed"; continue; }
        rps+=("${RPS[$k]}")
        p50+=("${P50[$k]:-}")
        p99+=("${P99[$k]:-}")
        non=$((non + ${NON2XX[$k]:-0}))
        sock=$((sock + ${SOCKERR[$k]:-0}))
    done
    [ "$non" -eq 0 ] || c_bad="$non non-2xx"
    [ "$sock" -eq 0 ] || c_bad="${c_bad:+$c_bad, }$sock socket errors"
    c_rps=$(median "${rps[@]+"${rps[@]}"}")
    c_rps=${c_rps%.*}
    c_p50=$(median "${p50[@]+"${p50[@]}"}")
    c_p99=$(median "${p99[@]+"${p99[@]}"}")
}
declare -A M_RPS=() M_P50=() M_P99=() M_BAD=()
for t in "${TARGETS[@]}"; do
    for c in "${CONNS[@]}"; do
        cell "$t" "$c"
        M_RPS[$t.$c]=$c_rps M_P50[$t.$c]=$c_p50 M_P99[$t.$c]=$c_p99 M_BAD[$t.$c]=$c_bad
    done
done
valid() { [ -n "${M_RPS[$1.$2]:-}" ] && [ -z "${M_BAD[$1.$2]:-}" ]; }
# pratios TARGET CONNS FIELD - TARGET's FIELD (P50 or RPS) / nginx's in the same round,
# one per round: nginx's loopback latency on a shared 2-core VM jumps between two modes
# (wrk and the server on one core or on two), so a ratio is taken within a round, where
# both ran back to back, and the median of those is reported.
pratios() {
    local t=$1 c=$2 r a b
    local -n fld=$3
    for r in $(seq 1 "$ROUNDS"); do
        a=${fld[$t|$c|$r]:-}
        b=${fld[nginx|$c|$r]:-}
        if [ -z "${RPS[$t|$c|$r]:-}" ] || [ -z "${RPS[nginx|$c|$r]:-}" ]; then continue; fi
        ratio "$a" "$b"
        echo
    done
}

warm_rows=()
for c in "${CONNS[@]}"; do
    for t in "${TARGETS[@]}"; do
        k=$t.$c
        lat_r="" rps_r=""
        if valid "$t" "$c" && valid nginx "$c"; then
            # shellcheck disable=SC2046  # one ratio per line
            lat_r=$(median $(pratios "$t" "$c" P50))
            # shellcheck disable=SC2046
            rps_r=$(median $(pratios "$t" "$c" RPS))
            lat_r=${lat_r:+$(printf '%.2f' "$lat_r")}
            rps_r=${rps_r:+$(printf '%.2f' "$rps_r")}
        fi
        rcell=${M_RPS[$k]:-failed}
        [ -z "${M_RPS[$k]}" ] || [ -z "${M_BAD[$k]}" ] || rcell="$rcell (invalid: ${M_BAD[$k]})"
        warm_rows+=("| ${TLABEL[$t]} | $c | $rcell | ${M_P50[$k]:--} | ${M_P99[$k]:--} | ${lat_r:--} | ${rps_r:--} |")
    done
done

# Cold starts: cold - interpreter = what cloudlet (and the runtime client) add.
cold_rows=()
declare -A OVER=()
for f in "${FUNCS[@]}"; do
    OVER[$f]=""
    if [ -n "${COLD[$f]:-}" ] && [ -n "${INTERP[$f]:-}" ]; then
        OVER[$f]=$(awk -v a="${COLD[$f]}" -v b="${INTERP[$f]}" 'BEGIN { printf "%.2f", a - b }')
    fi
    range="-"
    [ -z "${CMIN[$f]:-}" ] || range="${CMIN[$f]}–${CMAX[$f]}"
    cold_rows+=("| $f | ${RUNTIME[$f]} | ${COLD[$f]:-failed} | $range | ${INIT[$f]:--} | ${INTERP[$f]:--} | ${OVER[$f]:--} | ${CWARM[$f]:--} |")
done

# Server-side breakdown, 1 connection: wrk p50 vs the server's request time vs the
# instance round trip.
srv_rows=()
for f in "${FUNCS[@]}"; do
    for c in "${CONNS[@]}"; do
        accs=() dones=() n=0
        for r in $(seq 1 "$ROUNDS"); do
            k="$f|$c|$r"
            [ -n "${SRV_ACC[$k]:-}" ] && [ "${SRV_ACC[$k]}" != - ] && accs+=("${SRV_ACC[$k]}")
            [ -n "${SRV_DONE[$k]:-}" ] && [ "${SRV_DONE[$k]}" != - ] && dones+=("${SRV_DONE[$k]}")
            n=$((n + ${SRV_N[$k]:-0}))
        done
        srv_rows+=("| $f | $c | ${M_P50[$f.$c]:--} | $(median "${accs[@]+"${accs[@]}"}") | $(median "${dones[@]+"${dones[@]}"}") | $n |")
    done
done

# Instances: live after the warm-up and after the runs, distinct pids in every snapshot, RSS.
inst_rows=()
for f in "${FUNCS[@]}"; do
    live=$(awk -v f="$f" '$1 == f' "$tmp/inst.after" | wc -l)
    before=$(awk -v f="$f" '$1 == f' "$tmp/inst.before" | wc -l)
    seen=$(cat "$tmp/inst.before" "$tmp/pids.seen" "$tmp/inst.after" | awk -v f="$f" '$1 == f { print $2 }' | sort -u | wc -l)
    rss=$(awk -v f="$f" '$1 == f { print $3 }' "$tmp/inst.after" | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", v[int((NR + 1) / 2)] / 1024 }')
    inst_rows+=("| $f | $before | $live | $seen | ${rss:--} |")
done

# ---- targets ----
shout_ratio="" shout_each=""
if valid shout 1 && valid nginx 1; then
    # shellcheck disable=SC2046
    shout_ratio=$(median $(pratios shout 1 P50))
    shout_ratio=${shout_ratio:+$(printf '%.2f' "$shout_ratio")}
    shout_each=$(pratios shout 1 P50 | paste -sd ' ' | sed 's/ /, /g')
    shout_diff=$(for r in $(seq 1 "$ROUNDS"); do
        [ -n "${P50[shout|1|$r]:-}" ] && [ -n "${P50[nginx|1|$r]:-}" ] &&
            awk -v a="${P50[shout|1|$r]}" -v b="${P50[nginx|1|$r]}" 'BEGIN { printf "%.3f\n", a - b }'
    done | paste -sd ' ' | sed 's/ /, /g')
fi
if [ -z "$shout_ratio" ]; then
    t_warm="not judged (no valid shout or nginx run at 1 connection)"
elif awk -v r="$shout_ratio" 'BEGIN { exit !(r < 4) }'; then
    t_warm="met: median ${shout_ratio}× (per round: ${shout_each}; shout p50 − nginx p50 per round: ${shout_diff} ms)"
else
    t_warm="not met: median ${shout_ratio}× (per round: ${shout_each}; shout p50 − nginx p50 per round: ${shout_diff} ms)"
fi
t_cold=()
for f in "${FUNCS[@]}"; do
    if [ -z "${OVER[$f]}" ]; then
        t_cold+=("- $f cold start − interpreter start-up < 10 ms: not judged (no measurement)")
    elif awk -v o="${OVER[$f]}" 'BEGIN { exit !(o < 10) }'; then
        t_cold+=("- $f cold start − interpreter start-up < 10 ms: met (${COLD[$f]} − ${INTERP[$f]} = ${OVER[$f]} ms)")
    else
        t_cold+=("- $f cold start − interpreter start-up < 10 ms: not met (${COLD[$f]} − ${INTERP[$f]} = ${OVER[$f]} ms)")
    fi
done

# cloudlet hello vs lambda-local.
ll_rows=()
for c in "${CONNS[@]}"; do
    rr="" lr=""
    if valid hello "$c" && valid lambda-local "$c"; then
        rr=$(ratio "${M_RPS[hello.$c]}" "${M_RPS[lambda-local.$c]}")
        lr=$(ratio "${M_P50[hello.$c]}" "${M_P50[lambda-local.$c]}")
    fi
    ll_rows+=("| HTTP, wrk, $c conn. | ${M_RPS[hello.$c]:--} | ${M_RPS[lambda-local.$c]:--} | ${rr:--} | ${M_P50[hello.$c]:--} | ${M_P50[lambda-local.$c]:--} | ${lr:--} |")
done
ip_rps=$(jget "$inproc" per_s)
ip_p50=$(jget "$inproc" p50_ms)
ip_p99=$(jget "$inproc" p99_ms)
ll_rows+=("| lambda-local in-process \`execute()\`, 1 in flight (cloudlet: HTTP, 1 conn.) | ${M_RPS[hello.1]:--} | ${ip_rps:--} | $(ratio "${M_RPS[hello.1]:-}" "$ip_rps") | ${M_P50[hello.1]:--} | ${ip_p50:--} | $(ratio "${M_P50[hello.1]:-}" "$ip_p50") |")

# ---- write the results ----
nginx_ver=$("$NGINX" -v 2>&1 | head -n1 | sed 's/^nginx version: //' || true)
wrk_ver=$( (wrk -v 2>&1 || true) | head -n1 | sed 's/ Copyright.*//')
ll_ver=$(node -p 'require(process.argv[1]).version' "$here/node_modules/lambda-local/package.json" 2>/dev/null || echo '?')
bin_sum=$(sha256sum "$bin" | cut -c1-12)
mkdir -p "$(dirname "$OUT")"
{
    echo "# Lambda: cloudlet invokes vs a bare HTTP round trip and lambda-local"
    echo
    echo "Written by \`bench/lambda.sh\` (\`make bench\`). Not a timed test: numbers from one run on one machine."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    bench_machine_md
    echo "- Shared VM: other guests' load shows as noise, so rounds alternate and medians are reported."
    echo "- CPU during the warm runs (share of all cores): this benchmark ${pct_ours:-?}%, other processes ${pct_other:-?}%, other VMs (steal) ${pct_steal:-?}%"
    echo "- Versions: cloudlet $(bench_commit "$repo"), binary \`${bin#"$repo"/}\` (sha256 $bin_sum…); ${nginx_ver}; ${wrk_ver}; lambda-local ${ll_ver}; node $(node -v); $("$py_bin" -V 2>&1)"
    echo
    echo "## Method"
    echo
    echo "Everything runs on 127.0.0.1 on the same $(nproc) cores as wrk. cloudlet runs with a fresh data"
    echo "directory, its access log on, \`keepWarmSeconds\` 900 and \`maxConcurrency\` 16; the example"
    echo "functions' reserved concurrency (10 in their manifests) is raised to 16 with PutFunctionConcurrency"
    echo "so that 16 connections are not throttled. Payload \`$PAYLOAD\` for every function."
    echo
    echo "- **Warm invokes**: one Invoke request per function (POST /2015-03-31/functions/NAME/invocations),"
    echo "  signed once with SigV4 (service lambda, @smithy/signature-v4) and replayed by"
    echo "  \`wrk -d ${DUR}s --latency\` over keep-alive connections (1 thread at 1 connection, 2 threads at"
    echo "  4 and 16). Each invoke is verified (signature, scope, time) and authorized by cloudlet, then"
    echo "  handed to a warm instance — a separate process talking to cloudlet over the Runtime API —"
    echo "  and its result returned. The floor is nginx (2 workers, access log buffered) answering the"
    echo "  same POST with a fixed \`{}\` (\`return 200\`), measured in the same run with the same wrk"
    echo "  settings. Every target gets 1 s at 16 connections first (all 16 instances started), then"
    echo "  $ROUNDS round(s) whose order alternates; req/s, p50 and p99 (ms, from wrk's latency"
    echo "  distribution) are medians over the rounds. × floor = p50 ÷ nginx p50 (latency) and"
    echo "  req/s ÷ nginx req/s (throughput), taken within each round (the two ran minutes apart at"
    echo "  most) and then the median over rounds: nginx's 1-connection latency on this shared 2-core"
    echo "  VM jumps between ~0.02 and ~0.06 ms from run to run (wrk and nginx on one core or two), so"
    echo "  a ratio of medians could pair a fast floor with a slow cloudlet run. A cell with non-2xx"
    echo "  answers or socket errors is invalid."
    echo "- **Cold starts**: $NCOLD times per function, UpdateFunctionConfiguration (a new Description"
    echo "  retires the warm instance), 250 ms pause, then one timed Invoke (pre-signed, keep-alive"
    echo "  connection already open, Node.js client) that must start a new instance: its log tail"
    echo "  (X-Amz-Log-Type: Tail) must carry \"Init Duration\", which is also the server's own time from"
    echo "  spawn to the runtime's first \`next\`. The interpreter's own start-up (exec to exit, a posix_spawn"
    echo "  timer, stdio on /dev/null, $NCOLD runs after 2 untimed ones, in a clean environment like the"
    echo "  one cloudlet gives instances): \`$node_bin -e 0\`, \`$py_bin -c 0\`,"
    echo "  and for shout a trivial C program (\`int main(void) { return 0; }\`, cc -O2, dynamically linked"
    echo "  like shout's bootstrap). cold − interpreter is what cloudlet and the runtime's client add:"
    echo "  fork, Landlock, credentials, the runtime client's start, the Runtime API round trips, the"
    echo "  handler's first call and the HTTP exchange. \"warm\" is then 50 invokes in a row by the same"
    echo "  Node.js client (slower than wrk's: it includes node:http's client)."
    echo "- **lambda-local** $ll_ver runs the same \`functions/examples/hello/index.mjs\` (it loads ESM with"
    echo "  \`esm: true\`) in two ways: its HTTP server (\`--watch\`, \`watch()\`, pinned to 127.0.0.1,"
    echo "  body \`{\"event\": $PAYLOAD}\`, driven by wrk exactly like cloudlet), and its \`execute()\` in a"
    echo "  loop inside one Node.js process (no HTTP at all). lambda-local calls the handler inside its"
    echo "  own process: no signature, no authorization, no isolation (no separate process, shared"
    echo "  globals and environment), one event loop for every request (a single core), and it mutes"
    echo "  the handler's console output; cloudlet verifies SigV4 and the IAM policy, runs the handler"
    echo "  in a separate, Landlock-confined process per concurrent request and logs its output."
    echo
    echo "## Warm invokes"
    echo
    echo "| target | conns | req/s | p50 ms | p99 ms | p50 × floor | req/s × floor |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${warm_rows[@]}"
    echo
    echo "## Cold starts"
    echo
    echo "| function | runtime | cold invoke p50 ms | min–max ms | server init p50 ms | interpreter start-up p50 ms | cold − interpreter ms | warm invoke p50 ms (same client) |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${cold_rows[@]}"
    echo
    echo "Interpreter start-up: shout = ${INTERP_LABEL[shout]}, hello = ${INTERP_LABEL[hello]}, echo = ${INTERP_LABEL[echo]}."
    echo
    echo "## cloudlet hello vs lambda-local (same handler)"
    echo
    echo "| how | cloudlet req/s | lambda-local req/s | req/s ratio (cloudlet ÷ lambda-local) | cloudlet p50 ms | lambda-local p50 ms | p50 ratio (cloudlet ÷ lambda-local) |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${ll_rows[@]}"
    echo
    echo "lambda-local in-process p99: ${ip_p99:--} ms."
    echo
    echo "## Where a warm invoke's time goes (cloudlet's log)"
    echo
    echo "wrk's p50 against the server's own medians for the same runs: the access log's request time"
    echo "(from the request's arrival to the answer queued: parse, verify, authorize, invoke, answer) and"
    echo "the instance round trip (\"done in\": the event written to the instance, the result read back)."
    echo
    echo "| function | conns | wrk p50 ms | access-log p50 ms | instance round trip p50 ms | invokes logged |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${srv_rows[@]}"
    echo
    echo "## Instances"
    echo
    echo "| function | live after the warm-up | live after the runs | distinct instances seen (warm-up and runs) | median RSS per instance MiB |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${inst_rows[@]}"
    echo
    echo "- cloudlet's own peak RSS (VmHWM, without its instances): $(bench_kb_to_mib "$cl_peak_kb") MiB"
    echo
    echo "## Targets"
    echo
    echo "- shout warm invoke p50 < 4× the bare round trip (nginx p50), 1 connection: $t_warm"
    printf '%s\n' "${t_cold[@]}"
    echo
    echo "## Per run"
    echo
    echo "| round | target | conns | req/s | p50 ms | p99 ms | non-2xx | socket errors |"
    echo "|---|---|---|---|---|---|---|---|"
    for r in $(seq 1 "$ROUNDS"); do
        for c in "${CONNS[@]}"; do
            for t in "${TARGETS[@]}"; do
                k="$t|$c|$r"
                echo "| $r | ${TLABEL[$t]} | $c | ${RPS[$k]:-failed} | ${P50[$k]:--} | ${P99[$k]:--} | ${NON2XX[$k]:--} | ${SOCKERR[$k]:--} |"
            done
        done
    done
    echo
    echo "Cold invokes (ms), in order:"
    echo
    for f in "${FUNCS[@]}"; do
        echo "- $f: $(node -e 'try { const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(o.cold_ms.join(", ") + " (server init: " + o.init_ms.join(", ") + ")"); } catch { console.log("-"); }' "$tmp/cold.$f.json")"
    done
    [ -z "${BENCH_NOTE:-}" ] || notes=("$BENCH_NOTE" "${notes[@]+"${notes[@]}"}")
    if [ "${#notes[@]}" -gt 0 ]; then
        echo
        echo "## Notes"
        echo
        printf -- '- %s\n' "${notes[@]}"
    fi
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"

cat "$OUT"
bench_log "results written to ${OUT#"$repo"/}"
exit "$failed"
