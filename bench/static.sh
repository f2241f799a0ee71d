#!/usr/bin/env bash
# bench/static.sh - static-file benchmark: cloudlet vs nginx on the same files.
#
#   bench/static.sh build/cloudlet        (what `make bench` runs, from the repo root)
#
# Not a timed test: it measures and reports. It deploys three random files
# (1 KiB, 64 KiB, 1 MiB) and an index.html into cloudlet's bucket `site` and
# serves the same directory with Debian's nginx, both on free 127.0.0.1 ports
# with 2 workers/threads and access logging on. wrk then fetches each file with
# 64 connections (2 threads) and 1 connection (1 thread), against each server
# in turn, in BENCH_ROUNDS rounds whose order alternates to reduce order bias.
# The table (req/s, ratio, p50/p99 latency), peak and idle RSS of cloudlet and
# the targets go to stdout and to bench/results/static.md.
#
# Environment:
#   BENCH_DURATION=5     seconds per wrk run
#   BENCH_ROUNDS=2       rounds (odd ones cloudlet first, even ones nginx first)
#   BENCH_ONLY_NGINX=1   skip cloudlet (to check the script without the binary)
#   BENCH_OUT=FILE       results file (default bench/results/static.md)
#   NGINX=PATH           nginx binary (default /usr/sbin/nginx)
#
# Exit status: 0 when every run ran (rows with non-2xx answers are still
# reported, marked invalid); 1 when a tool is missing, a server did not start
# or died, or a wrk run produced no result.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

DUR=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-2}
ONLY_NGINX=${BENCH_ONLY_NGINX:-0}
OUT=${BENCH_OUT:-$repo/bench/results/static.md}
NGINX=${NGINX:-/usr/sbin/nginx}
[ -x "$NGINX" ] || NGINX=$(command -v nginx || echo nginx)

SIZES=(1k 64k 1m)                                  # file f<size>.bin
declare -A SIZE_BYTES=([1k]=1024 [64k]=65536 [1m]=1048576)
declare -A SIZE_LABEL=([1k]="1 KiB" [64k]="64 KiB" [1m]="1 MiB")
CONNS=(64 1)                                       # wrk connections
declare -A THREADS=([64]=2 [1]=1)                  # wrk threads for each

case "$DUR$ROUNDS" in *[!0-9]*) bench_die "BENCH_DURATION and BENCH_ROUNDS must be whole numbers" ;; esac
if [ "$DUR" -lt 1 ] || [ "$ROUNDS" -lt 1 ]; then
    bench_die "BENCH_DURATION and BENCH_ROUNDS must be >= 1"
fi

# ---- arguments and tools ----
bench_require wrk curl "$NGINX" awk timeout
bin=${1:-}
if [ "$ONLY_NGINX" != 1 ]; then
    [ -n "$bin" ] || bench_die "usage: bench/static.sh PATH-TO-CLOUDLET (e.g. build/cloudlet)"
    [ -x "$bin" ] || bench_die "$bin is not an executable (build it with make build/cloudlet)"
    bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
fi

# ---- temp dir and cleanup: servers are stopped by pid on any exit ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cloudlet-bench-static.XXXXXX")
# nginx's workers drop root privileges (to nobody): they must be able to read
# the files, so the tree is world-readable (it holds only random test data).
chmod 755 "$tmp"
cl_pid=""
ng_pid=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    bench_stop "$cl_pid" 5
    bench_stop "$ng_pid" 5
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the files, identical for both servers ----
files=$tmp/files
mkdir -p "$files"
for s in "${SIZES[@]}"; do
    head -c "${SIZE_BYTES[$s]}" /dev/urandom >"$files/f$s.bin"
done
printf '<!doctype html>\n<title>cloudlet bench</title>\n<p>static benchmark</p>\n' >"$files/index.html"
chmod 755 "$files"
chmod 644 "$files"/*

# ---- cloudlet: deploy into a fresh data dir, serve, wait for /healthz ----
# start_cloudlet: sets cl_port and cl_pid; retries on a new port in case the
# free port was taken between choosing it and binding it.
start_cloudlet() {
    local try
    for try in 1 2 3; do
        cl_port=$(bench_free_port)
        "$bin" serve --listen "127.0.0.1:$cl_port" --data "$tmp/data" \
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

if [ "$ONLY_NGINX" != 1 ]; then
    mkdir -p "$tmp/data"
    bench_log "deploying $files into bucket site"
    if ! timeout 120 "$bin" site deploy "$files" --data "$tmp/data" >"$tmp/deploy.out" 2>&1; then
        cat "$tmp/deploy.out" >&2
        bench_die "cloudlet site deploy failed"
    fi
    start_cloudlet || bench_die "cloudlet serve did not start"
    sleep 1
    cl_idle_kb=$(bench_proc_kb "$cl_pid" VmRSS)
    bench_log "cloudlet pid $cl_pid on 127.0.0.1:$cl_port, idle RSS ${cl_idle_kb:-?} KiB"
fi

# ---- nginx: a minimal config that keeps everything inside the temp dir ----
start_nginx() {
    local try
    mkdir -p "$tmp/nginx"
    for try in 1 2 3; do
        ng_port=$(bench_free_port)
        [ "$ng_port" != "${cl_port:-}" ] || continue
        cat >"$tmp/nginx/nginx.conf" <<EOF
# generated by bench/static.sh
daemon off;
master_process on;
worker_processes 2;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; use epoll; }
http {
    # Buffered like cloudlet's own log (batched writes), so neither server
    # pays a write(2) per request that the other does not.
    access_log $tmp/nginx/access.log combined buffer=64k flush=1s;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    types { application/octet-stream bin; text/html html; }
    server {
        listen 127.0.0.1:$ng_port;
        root $files;
    }
}
EOF
        # -e: the error log before the config is read (else /var/log/nginx).
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
start_nginx || bench_die "nginx did not start"
bench_log "nginx pid $ng_pid on 127.0.0.1:$ng_port"

servers=(cloudlet nginx)
[ "$ONLY_NGINX" = 1 ] && servers=(nginx)
declare -A PORT=([cloudlet]=${cl_port:-} [nginx]=$ng_port)

# ---- sanity: both serve the exact bytes, before any number is taken ----
notes=()          # lines for the "Notes" section of the results
failed=0          # set when something could not run: exit 1 at the end
declare -A BADFILE=()
for srv in "${servers[@]}"; do
    for s in "${SIZES[@]}"; do
        got=$tmp/check.$srv.$s
        code=$(curl -s -o "$got" -w '%{http_code}' --max-time 10 \
            "http://127.0.0.1:${PORT[$srv]}/f$s.bin" 2>/dev/null || true)
        if [ "$code" != 200 ] || ! cmp -s "$got" "$files/f$s.bin"; then
            notes+=("$srv: GET /f$s.bin answered $code with $(stat -c %s "$got" 2>/dev/null || echo 0) bytes that differ from the file: its rows are marked invalid.")
            BADFILE[$srv.$s]=1
        fi
        rm -f "$got"
    done
    code=$(bench_http_code "http://127.0.0.1:${PORT[$srv]}/")
    [ "$code" = 200 ] || notes+=("$srv: GET / answered $code (index.html expected).")
done

# ---- measure ----
# One wrk run; results in RPS/P50/P99/NON2XX/SOCKERR keyed "server|size|conns|round".
declare -A RPS=() P50=() P99=() NON2XX=() SOCKERR=() REQS=()
run_one() {
    local srv=$1 s=$2 c=$3 r=$4 key out rc=0
    key="$srv|$s|$c|$r"
    out="$tmp/wrk.$srv.$s.$c.$r.txt"
    if [ "$srv" = cloudlet ] && ! kill -0 "$cl_pid" 2>/dev/null; then
        bench_log "round $r cloudlet ${SIZE_LABEL[$s]} c=$c skipped: cloudlet is no longer running"
        RPS[$key]=""   # it died earlier: reported after the runs
        failed=1
        return 0
    fi
    bench_wrk "$out" "$DUR" -t "${THREADS[$c]}" -c "$c" \
        "http://127.0.0.1:${PORT[$srv]}/f$s.bin" || rc=$?
    RPS[$key]=$(bench_wrk_rps "$out")
    P50[$key]=$(bench_wrk_pct "$out" 50)
    P99[$key]=$(bench_wrk_pct "$out" 99)
    NON2XX[$key]=$(bench_wrk_non2xx "$out")
    SOCKERR[$key]=$(bench_wrk_socket_errors "$out")
    REQS[$key]=$(bench_wrk_requests "$out")
    if [ "$srv" = cloudlet ] && ! kill -0 "$cl_pid" 2>/dev/null; then
        bench_log "cloudlet died during this run: its numbers are dropped"
        RPS[$key]=""
        failed=1
    elif [ "$rc" -ne 0 ] || [ -z "${RPS[$key]}" ] || [ "${REQS[$key]:-0}" = 0 ]; then
        bench_log "wrk against $srv /f$s.bin -c $c failed (exit $rc):"
        sed 's/^/    /' "$out" >&2
        RPS[$key]=""
        failed=1
    fi
    printf '[bench] round %d %-8s %-6s c=%-2d %10s req/s  p50 %s ms  p99 %s ms  non-2xx %s  socket errors %s\n' \
        "$r" "$srv" "${SIZE_LABEL[$s]}" "$c" "${RPS[$key]:-FAILED}" "${P50[$key]:-?}" \
        "${P99[$key]:-?}" "${NON2XX[$key]:-?}" "${SOCKERR[$key]:-?}" >&2
}

# A short warm-up so neither server is measured cold (page cache, allocator).
for srv in "${servers[@]}"; do
    bench_wrk "$tmp/warmup.$srv.txt" 1 -t 2 -c 64 "http://127.0.0.1:${PORT[$srv]}/f64k.bin" || true
done

bench_log "measuring: ${#SIZES[@]} sizes x ${#CONNS[@]} connection counts x ${#servers[@]} servers x $ROUNDS rounds x ${DUR}s"
for r in $(seq 1 "$ROUNDS"); do
    order=("${servers[@]}")
    if [ $((r % 2)) -eq 0 ] && [ "${#servers[@]}" -eq 2 ]; then order=(nginx cloudlet); fi
    for s in "${SIZES[@]}"; do
        for c in "${CONNS[@]}"; do
            for srv in "${order[@]}"; do
                run_one "$srv" "$s" "$c" "$r"
            done
        done
    done
done

# ---- after the runs: memory, liveness, logs ----
cl_peak_kb=""
cl_end_kb=""
if [ "$ONLY_NGINX" != 1 ]; then
    if kill -0 "$cl_pid" 2>/dev/null; then
        cl_peak_kb=$(bench_proc_kb "$cl_pid" VmHWM)
        cl_end_kb=$(bench_proc_kb "$cl_pid" VmRSS)
    else
        wait "$cl_pid" 2>/dev/null && st=0 || st=$?
        notes+=("cloudlet exited during the benchmark (status $st); the last lines of its stderr: \`$(tail -n 3 "$tmp/cloudlet.log" | tr '\n' ' ')\`")
        cl_pid=""
        failed=1
    fi
fi
kill -0 "$ng_pid" 2>/dev/null || { notes+=("nginx exited during the benchmark."); failed=1; }

# Access-log lines against the requests wrk counted: logging really was on.
# (Servers may log a few more: requests in flight when wrk stopped.)
sum_reqs() {
    local k n=0
    for k in "${!REQS[@]}"; do
        [[ $k == "$1|"* ]] && n=$((n + ${REQS[$k]:-0}))
    done
    echo "$n"
}
log_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
for srv in "${servers[@]}"; do
    if [ "$srv" = cloudlet ]; then lf=$tmp/cloudlet.log; else lf=$tmp/nginx/access.log; fi
    notes+=("$srv access log: $(log_lines "$lf") lines for $(sum_reqs "$srv") requests counted by wrk (plus warm-up and checks).")
done
errs=$(grep -v -c '^[[:space:]]*{' "$tmp/cloudlet.log" 2>/dev/null || true)
if [ "$ONLY_NGINX" != 1 ] && [ "${errs:-0}" -gt 0 ]; then
    notes+=("cloudlet stderr has ${errs} line(s) that are not JSON access-log lines, e.g. \`$(grep -v -m1 '^[[:space:]]*{' "$tmp/cloudlet.log")\`")
fi

# ---- aggregate over rounds ----
# mean VALUES... - mean of the non-empty arguments with DECIMALS (first arg).
mean() {
    local d=$1
    shift
    printf '%s\n' "$@" | awk -v d="$d" 'NF { s += $1; n++ } END { if (n) printf "%.*f", d, s / n }'
}
# cell SERVER SIZE CONNS - sets c_rps c_p50 c_p99, c_bad (why the row is
# invalid, or empty) and c_sock (wrk socket errors: shown, not invalidating).
cell() {
    local srv=$1 s=$2 c=$3 r k rps=() p50=() p99=() non=0 runs=0 sock=0
    c_bad=""
    c_sock=0
    for r in $(seq 1 "$ROUNDS"); do
        k="$srv|$s|$c|$r"
        [ -n "${RPS[$k]:-}" ] || { c_bad="run failed"; continue; }
        runs=$((runs + 1))
        rps+=("${RPS[$k]}")
        p50+=("${P50[$k]:-}")
        p99+=("${P99[$k]:-}")
        non=$((non + ${NON2XX[$k]:-0}))
        sock=$((sock + ${SOCKERR[$k]:-0}))
    done
    c_sock=$sock
    [ "$non" -eq 0 ] || c_bad="$non non-2xx"
    [ -z "${BADFILE[$srv.$s]:-}" ] || c_bad="wrong body"
    c_rps=$(mean 0 "${rps[@]+"${rps[@]}"}")
    c_p50=$(mean 3 "${p50[@]+"${p50[@]}"}")
    c_p99=$(mean 3 "${p99[@]+"${p99[@]}"}")
}

# rps_cell RPS BAD SOCK - a req/s table cell with what is wrong with it.
rps_cell() {
    local txt=${1:-failed}
    if [ -n "$2" ] && [ "$2" != "not run" ] && [ -n "$1" ]; then txt="$txt (invalid: $2)"; fi
    [ "$3" -eq 0 ] || txt="$txt ($3 socket errors)"
    echo "$txt"
}

declare -A RATIO=() VALID=()
rows=()
for s in "${SIZES[@]}"; do
    for c in "${CONNS[@]}"; do
        cell nginx "$s" "$c"
        n_rps=$c_rps n_p50=$c_p50 n_p99=$c_p99 n_bad=$c_bad n_sock=$c_sock
        if [ "$ONLY_NGINX" = 1 ]; then
            k_rps="-" k_p50="-" k_p99="-" k_bad="not run" k_sock=0
        else
            cell cloudlet "$s" "$c"
            k_rps=$c_rps k_p50=$c_p50 k_p99=$c_p99 k_bad=$c_bad k_sock=$c_sock
        fi
        ratio="n/a"   # stays so when cloudlet was not run (BENCH_ONLY_NGINX)
        if [ "$k_bad" = "not run" ]; then
            :
        elif [ -z "$k_bad" ] && [ -z "$n_bad" ] && [ -n "$k_rps" ] && [ -n "$n_rps" ] && [ "$n_rps" != 0 ]; then
            ratio=$(awk -v a="$k_rps" -v b="$n_rps" 'BEGIN { printf "%.2f", a / b }')
            VALID[$s.$c]=1
        elif [ -n "$k_bad$n_bad" ]; then
            ratio="invalid"
        fi
        RATIO[$s.$c]=$ratio
        kcell=$(rps_cell "$k_rps" "$k_bad" "$k_sock")
        ncell=$(rps_cell "$n_rps" "$n_bad" "$n_sock")
        rows+=("| ${SIZE_LABEL[$s]} | $c | $kcell | $ncell | $ratio | ${k_p50:--} | ${n_p50:--} | ${k_p99:--} | ${n_p99:--} |")
    done
done

# verdict SIZE CONNS MIN - "met"/"not met" for ratio >= MIN, or why it can't be judged.
verdict() {
    local r=${RATIO[$1.$2]:-n/a}
    if [ -z "${VALID[$1.$2]:-}" ]; then echo "not judged (ratio $r)"; return; fi
    if awk -v r="$r" -v m="$3" 'BEGIN { exit !(r >= m) }'; then echo "met (ratio $r)"; else echo "not met (ratio $r)"; fi
}
idle_mib=$(bench_kb_to_mib "${cl_idle_kb:-}")
peak_mib=$(bench_kb_to_mib "${cl_peak_kb:-}")
if [ "$idle_mib" = n/a ]; then
    rss_verdict="not judged"
elif awk -v m="$idle_mib" 'BEGIN { exit !(m < 20) }'; then
    rss_verdict="met ($idle_mib MB)"
else
    rss_verdict="not met ($idle_mib MB)"
fi

# ---- write the results ----
nginx_ver=$("$NGINX" -v 2>&1 | head -n1 | sed 's/^nginx version: //' || true)
wrk_ver=$( (wrk -v 2>&1 || true) | head -n1 | sed 's/ Copyright.*//')
mkdir -p "$(dirname "$OUT")"
{
    echo "# Static files: cloudlet vs nginx"
    echo
    echo "Written by \`bench/static.sh\` (\`make bench\`). Not a timed test: numbers from one run on one machine."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    bench_machine_md
    echo "- Versions: ${nginx_ver}; ${wrk_ver}; cloudlet $(bench_commit "$repo")"
    echo
    echo "## Method"
    echo
    echo "Three files of random bytes (1 KiB, 64 KiB, 1 MiB) and an index.html are deployed with"
    echo "\`cloudlet site deploy\` into bucket \`site\` of a fresh data directory, and the same directory"
    echo "is the root of an nginx server. Both listen on 127.0.0.1 and both get the machine's"
    echo "$(nproc) cores: nginx runs \`worker_processes 2\` (epoll, sendfile, tcp_nopush, keep-alive"
    echo "without a request limit), cloudlet its libmicrohttpd thread pool sized to the cores."
    echo "Both write an access log (cloudlet's JSON lines on stderr to a file, nginx's default"
    echo "combined format, unbuffered). Before measuring, each file is fetched from each server"
    echo "and compared byte for byte, and each server gets a 1 s warm-up. Then"
    echo "\`wrk -t T -c C -d ${DUR}s --latency\` fetches one file over keep-alive connections, with"
    echo "64 connections on 2 threads and 1 connection on 1 thread; wrk runs on the same cores."
    echo "There are $ROUNDS round(s) of every case; odd rounds run cloudlet first, even rounds nginx"
    echo "first, to even out order effects. Req/s and the p50/p99 latencies (ms, from wrk's"
    echo "latency distribution) are means over the rounds. Ratio is cloudlet req/s / nginx req/s."
    echo "A row is invalid if any run had non-2xx/3xx answers or a file's body was wrong;"
    echo "wrk's socket errors (connect/read/write/timeout) are shown next to req/s."
    echo "Memory is cloudlet's VmRSS 1 s after start (idle) and VmHWM after all runs (peak),"
    echo "from /proc/PID/status; MB here means MiB."
    echo
    echo "## Results"
    echo
    echo "| size | conns | cloudlet req/s | nginx req/s | ratio | cloudlet p50 ms | nginx p50 ms | cloudlet p99 ms | nginx p99 ms |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "- cloudlet peak RSS during the run (VmHWM): ${peak_mib} MB"
    echo "- cloudlet idle RSS after start (VmRSS): ${idle_mib} MB"
    echo "- cloudlet RSS after the runs (VmRSS): $(bench_kb_to_mib "$cl_end_kb") MB"
    echo
    echo "Target: ratio >= 0.8 at 1 KiB with 64 connections, >= 0.9 at 1 MiB; idle RSS < 20 MB."
    echo
    echo "- 1 KiB, 64 connections, ratio >= 0.8: $(verdict 1k 64 0.8)"
    echo "- 1 MiB, 64 connections, ratio >= 0.9: $(verdict 1m 64 0.9)"
    echo "- 1 MiB, 1 connection, ratio >= 0.9: $(verdict 1m 1 0.9)"
    echo "- idle RSS < 20 MB: $rss_verdict"
    echo
    echo "## Per run"
    echo
    echo "| round | server | size | conns | req/s | p50 ms | p99 ms | non-2xx | socket errors |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for r in $(seq 1 "$ROUNDS"); do
        for s in "${SIZES[@]}"; do
            for c in "${CONNS[@]}"; do
                for srv in "${servers[@]}"; do
                    k="$srv|$s|$c|$r"
                    echo "| $r | $srv | ${SIZE_LABEL[$s]} | $c | ${RPS[$k]:-failed} | ${P50[$k]:--} | ${P99[$k]:--} | ${NON2XX[$k]:--} | ${SOCKERR[$k]:--} |"
                done
            done
        done
    done
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
