# shellcheck shell=bash
# bench/lib.sh - helpers shared by cloudlet's benchmark scripts (sourced, not run).
#
# The benchmarks under bench/ start real servers on loopback ports, drive them
# with wrk and write markdown to bench/results/. What they all need lives here:
# checking tools, finding a free port, waiting for a server, stopping it by pid,
# reading its memory from /proc, and parsing wrk's output.
#
# Every helper is bounded in time. Names start with bench_. Nothing here sets
# shell options: the sourcing script does (set -euo pipefail).

# bench_log MSG... - progress line on stderr, so stdout stays the result.
bench_log() {
    printf '[bench] %s\n' "$*" >&2
}

# bench_die MSG... - report and exit 1 (an EXIT trap still cleans up).
bench_die() {
    printf '[bench] error: %s\n' "$*" >&2
    exit 1
}

# bench_require CMD... - exit 1 naming the commands that are missing.
# make bench depends on `deps`, which installs wrk, nginx and curl via apt.
bench_require() {
    local c missing=()
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        bench_die "missing: ${missing[*]}; run make bench (it installs them)"
    fi
}

# bench_port_in_use PORT - true if something accepts connections on 127.0.0.1:PORT.
bench_port_in_use() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# bench_free_port - print a TCP port on 127.0.0.1 that is free right now.
# Asks the kernel (bind to port 0) through python3 or node; without either,
# tries random ports from the ephemeral range until one refuses connections.
# There is a small window before the server binds it: callers that start a
# server should treat a failed start as retryable.
bench_free_port() {
    local p lo hi _
    if command -v python3 >/dev/null 2>&1; then
        p=$(timeout 5 python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null) && [ -n "$p" ] && { echo "$p"; return 0; }
    fi
    if command -v node >/dev/null 2>&1; then
        p=$(timeout 5 node -e 'const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });' 2>/dev/null) &&
            [ -n "$p" ] && { echo "$p"; return 0; }
    fi
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    for _ in $(seq 1 50); do
        p=$((lo + RANDOM % (hi - lo)))
        bench_port_in_use "$p" || { echo "$p"; return 0; }
    done
    bench_die "no free port found"
}

# bench_http_code URL - print the HTTP status of GET URL ("000" if no answer), at most 2 s.
bench_http_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

# bench_wait_http URL SECONDS [PID] [CODE] - wait until GET URL answers CODE
# (default 200). Returns 1 after SECONDS, or at once if process PID has exited.
bench_wait_http() {
    local url=$1 secs=$2 pid=${3:-} want=${4:-200} deadline code
    deadline=$((SECONDS + secs))
    while [ "$SECONDS" -lt "$deadline" ]; do
        code=$(bench_http_code "$url")
        [ "$code" = "$want" ] && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.1
    done
    return 1
}

# bench_stop PID [GRACE] - stop a process we started: SIGTERM, wait up to GRACE
# seconds (default 5), then SIGKILL it and its direct children (e.g. nginx
# workers, which do not exit by themselves when their master is killed).
# Reaps it if it is our child. Safe to call with an empty or dead pid.
bench_stop() {
    local pid=${1:-} grace=${2:-5} deadline kids
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        bench_log "pid $pid did not exit within ${grace}s of SIGTERM: SIGKILL"
        kids=$(pgrep -P "$pid" 2>/dev/null || true)
        # shellcheck disable=SC2086  # $kids is a list of pids
        kill -KILL "$pid" $kids 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# bench_proc_kb PID FIELD - print a /proc/PID/status field in KiB (VmRSS,
# VmHWM, ...), or nothing if the process or field is gone.
bench_proc_kb() {
    awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status" 2>/dev/null || true
}

# bench_kb_to_mib KB - KiB to MiB with one decimal ("n/a" for empty input).
bench_kb_to_mib() {
    if [ -z "${1:-}" ]; then echo "n/a"; else awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; fi
}

# bench_to_ms VALUE - a wrk duration ("812.00us", "1.23ms", "2.00s", "1.50m") in ms.
bench_to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000
        else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000
        else if (u != "ms") { print ""; exit }
        printf "%.3f", n
    }'
}

# bench_wrk OUTFILE DURATION WRK-ARGS... - run wrk with --latency, bounded by
# DURATION (seconds) + 30 s, output to OUTFILE. Returns wrk's status.
bench_wrk() {
    local out=$1 dur=$2
    shift 2
    timeout --kill-after=5 "$((dur + 30))" wrk -d "${dur}s" --latency "$@" >"$out" 2>&1
}

# bench_wrk_rps FILE - Requests/sec from wrk output (empty if absent).
bench_wrk_rps() {
    awk '$1 == "Requests/sec:" { print $2; exit }' "$1"
}

# bench_wrk_requests FILE - completed requests ("123456 requests in 5.00s").
bench_wrk_requests() {
    awk '$2 == "requests" && $3 == "in" { print $1; exit }' "$1"
}

# bench_wrk_pct FILE PCT - latency percentile (50, 75, 90, 99) in ms, from
# the "Latency Distribution" block that --latency prints.
bench_wrk_pct() {
    local v
    v=$(awk -v p="$2%" '/Latency Distribution/ { on = 1; next }
                        on && $1 == p { print $2; exit }' "$1")
    [ -n "$v" ] && bench_to_ms "$v"
    return 0
}

# bench_wrk_non2xx FILE - "Non-2xx or 3xx responses: N" (0 when wrk omits it).
bench_wrk_non2xx() {
    awk '/Non-2xx or 3xx responses:/ { n = $NF } END { print n + 0 }' "$1"
}

# bench_wrk_socket_errors FILE - sum of connect/read/write/timeout socket errors.
bench_wrk_socket_errors() {
    awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10; f = 1 } END { if (!f) print 0 }' "$1"
}

# bench_machine_md - markdown bullet lines describing this machine.
bench_machine_md() {
    local cpu
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
    echo "- Machine: $(nproc) cores (${cpu:-unknown CPU}), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
    echo "- Kernel: $(uname -sr)"
}

# bench_commit REPO - short commit of REPO, marked when the tree has changes.
bench_commit() {
    local c
    c=$(git -C "$1" rev-parse --short HEAD 2>/dev/null) || { echo "no commit yet"; return 0; }
    if ! git -C "$1" diff --quiet HEAD 2>/dev/null; then
        c="$c (with uncommitted changes)"
    fi
    echo "$c"
}
