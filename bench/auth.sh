#!/usr/bin/env bash
# bench/auth.sh - Cognito user-pool benchmark: cloudlet vs cognito-local.
#
#   bench/auth.sh build/cloudlet        (what `make bench` runs, from the repo root)
#
# Not a timed test: it measures and reports. It starts cloudlet (a pool and an
# app client from a config file, login throttling raised out of the way) and
# cognito-local (the npm package pinned in bench/package.json, installed by
# `make bench` with npm ci --prefix bench) on free 127.0.0.1 ports, creates the
# same users in both (SignUp + the SigV4-signed AdminConfirmSignUp), and drives
# each with bench/auth-load.mjs (keep-alive awsJson1_1 POSTs from Node):
#
#   password  InitiateAuth USER_PASSWORD_AUTH log-ins, 4 workers
#   srp       USER_SRP_AUTH log-ins (InitiateAuth + RespondToAuthChallenge), 4 workers
#   getuser   GetUser with a valid access token, 16 workers
#
# each for BENCH_AUTH_DURATION seconds against each server in turn (the order
# alternates between scenarios). The table (ops/s, ratio, p50/p99 latency),
# the servers' peak RSS and the notes go to stdout and bench/results/auth.md.
#
# Environment:
#   BENCH_AUTH_DURATION=10   seconds per scenario and server (1..60)
#   BENCH_AUTH_USERS=4       users created in each server
#   BENCH_ONLY_PEER=1        skip cloudlet (to check the script without the binary)
#   BENCH_OUT=FILE           results file (default bench/results/auth.md)
#
# Exit status: 0 when every run ran (a scenario a server does not support is
# reported as such); 1 when a tool is missing, a server did not start or died,
# or a supported scenario produced no result.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

DUR=${BENCH_AUTH_DURATION:-10}
NUSERS=${BENCH_AUTH_USERS:-4}
ONLY_PEER=${BENCH_ONLY_PEER:-0}
OUT=${BENCH_OUT:-$repo/bench/results/auth.md}
LOAD=$here/auth-load.mjs
CL_START=$here/node_modules/cognito-local/lib/bin/start.js

case "$DUR$NUSERS" in *[!0-9]*) bench_die "BENCH_AUTH_DURATION and BENCH_AUTH_USERS must be whole numbers" ;; esac
if [ "$DUR" -lt 1 ] || [ "$DUR" -gt 60 ] || [ "$NUSERS" -lt 1 ] || [ "$NUSERS" -gt 50 ]; then
    bench_die "BENCH_AUTH_DURATION must be 1..60 and BENCH_AUTH_USERS 1..50"
fi

# ---- arguments and tools ----
bench_require node curl awk timeout   # and wrk if present (make bench installs it)
[ -f "$CL_START" ] || bench_die "cognito-local is not installed: run make bench (or npm ci --prefix bench)"
[ -d "$repo/node_modules/@aws-sdk/client-cognito-identity-provider" ] ||
    bench_die "@aws-sdk/client-cognito-identity-provider is not installed: run make bench (or npm ci)"
bin=${1:-}
if [ "$ONLY_PEER" != 1 ]; then
    [ -n "$bin" ] || bench_die "usage: bench/auth.sh PATH-TO-CLOUDLET (e.g. build/cloudlet)"
    [ -x "$bin" ] || bench_die "$bin is not an executable (build it with make build/cloudlet)"
    bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
fi

# ---- temp dir and cleanup: servers are stopped by pid on any exit ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cloudlet-bench-auth.XXXXXX")
cl_pid=""
cg_pid=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    bench_stop "$cl_pid" 5
    bench_stop "$cg_pid" 5
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

notes=()          # lines for the "Notes" section of the results
failed=0          # set when something could not run: exit 1 at the end
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_before%% *}" 'BEGIN { exit !(l > 1.0) }'; then
    bench_log "warning: load average is $load_before before the runs: numbers may be disturbed"
    notes+=("The 1-minute load average was ${load_before%% *} before the runs: other work may have disturbed the numbers.")
fi

# bench_wait_any URL SECONDS PID - wait until URL answers any HTTP status.
bench_wait_any() {
    local deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ "$(bench_http_code "$1")" != 000 ] && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# idp_post PORT OP JSON - POST an unsigned Cognito call; prints "CODE BODY".
idp_post() {
    curl -s --max-time 10 -o "$tmp/post.body" -w '%{http_code}' -X POST "http://127.0.0.1:$1/" \
        -H 'Content-Type: application/x-amz-json-1.1' \
        -H "X-Amz-Target: AWSCognitoIdentityProviderService.$2" --data "$3" 2>/dev/null || true
    printf ' %s' "$(head -c 400 "$tmp/post.body" 2>/dev/null)"
}

# ---- cloudlet: a pool + client from the config, root credentials from env ----
POOL_ID=us-east-1_Bench1
CLIENT_ID=benchclient1
ROOT_KEY=AKIAIOSFODNN7EXAMPLE
ROOT_SECRET=$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n' | head -c 40)
cat >"$tmp/cloudlet.json" <<EOF
{
  "userPools": [
    {
      "id": "$POOL_ID",
      "name": "bench",
      "clients": [
        {
          "id": "$CLIENT_ID",
          "name": "bench",
          "authFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
        }
      ]
    }
  ],
  "auth": { "maxFailedLoginsPerUser": 1000000, "maxFailedLoginsPerAddress": 1000000 }
}
EOF
start_cloudlet() {
    local try
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

# ---- cognito-local: its data lives in .cognito/ under its working directory ----
start_cognito_local() {
    local try
    mkdir -p "$tmp/cognito-local"
    for try in 1 2 3; do
        cg_port=$(bench_free_port)
        [ "$cg_port" != "${cl_port:-}" ] || continue
        (cd "$tmp/cognito-local" && exec env PORT="$cg_port" HOST=127.0.0.1 node "$CL_START" \
            </dev/null >>"$tmp/cognito-local.log" 2>&1) &
        cg_pid=$!
        if bench_wait_any "http://127.0.0.1:$cg_port/" 20 "$cg_pid"; then
            return 0
        fi
        bench_log "cognito-local did not answer on port $cg_port (try $try); its log ends:"
        tail -n 5 "$tmp/cognito-local.log" >&2 || true
        bench_stop "$cg_pid" 2
        cg_pid=""
    done
    return 1
}

servers=()
declare -A STATE=() SKIP=()
if [ "$ONLY_PEER" != 1 ]; then
    mkdir -p "$tmp/data"
    # A cloudlet that does not start or has no Cognito API yet is reported
    # (and the exit status is 1), but cognito-local is still measured.
    if ! start_cloudlet; then
        err=$(tail -n 1 "$tmp/cloudlet.log" 2>/dev/null || true)
        SKIP[cloudlet]="did not start"
        notes+=("cloudlet was not measured: \`cloudlet serve\` did not start: \`$err\`")
        bench_log "cloudlet skipped: it did not start"
        failed=1
    else
        cl_idle_kb=$(bench_proc_kb "$cl_pid" VmRSS)
        bench_log "cloudlet pid $cl_pid on 127.0.0.1:$cl_port"
        probe=$(idp_post "$cl_port" SignUp '{"ClientId":"'"$CLIENT_ID"'","Username":"probe-user","Password":"x"}')
        if [ "${probe%% *}" = 501 ] || [ "${probe%% *}" = 404 ] || [ "${probe%% *}" = 000 ]; then
            SKIP[cloudlet]="no Cognito API"
            notes+=("cloudlet was not measured: POST / SignUp answered \`$probe\`.")
            bench_log "cloudlet skipped: SignUp answered $probe"
            failed=1
        else
            servers+=(cloudlet)
        fi
    fi
fi
start_cognito_local || bench_die "cognito-local did not start"
cg_idle_kb=$(bench_proc_kb "$cg_pid" VmRSS)
bench_log "cognito-local pid $cg_pid on 127.0.0.1:$cg_port"
servers+=(cognito-local)

# ---- the same users in each server ----
for srv in "${servers[@]}"; do
    STATE[$srv]=$tmp/state.$srv.json
    if [ "$srv" = cloudlet ]; then
        set -- --endpoint "http://127.0.0.1:$cl_port" --pool-id "$POOL_ID" --client-id "$CLIENT_ID"
    else
        set -- --endpoint "http://127.0.0.1:$cg_port"
    fi
    bench_log "$srv: creating $NUSERS users"
    if ! CLOUDLET_ROOT_ACCESS_KEY_ID=$ROOT_KEY CLOUDLET_ROOT_SECRET_ACCESS_KEY=$ROOT_SECRET \
        timeout 120 node "$LOAD" setup "$@" --kind "$srv" --users "$NUSERS" --state "${STATE[$srv]}" \
        >"$tmp/setup.$srv.out" 2>"$tmp/setup.$srv.err"; then
        err=$(grep -m1 '^auth-load:' "$tmp/setup.$srv.err" || tail -n 1 "$tmp/setup.$srv.err")
        bench_log "$srv setup failed: $err"
        notes+=("$srv: setup failed, not measured: \`$err\`")
        SKIP[$srv]="setup failed"
        failed=1
    fi
done

# ---- measure ----
SCENARIOS=(password srp getuser)
declare -A CONC=([password]=4 [srp]=4 [getuser]=16)
declare -A LABEL=([password]="USER_PASSWORD_AUTH log-in" [srp]="USER_SRP_AUTH log-in (2 requests)" [getuser]="GetUser")
declare -A RES=()   # "srv|scenario" -> JSON file

# jget FILE KEY - a top-level field of the one-line JSON in FILE ("" if absent/null).
jget() {
    node -e 'const fs = require("fs"); let o = {}; try { o = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch {}
const v = o[process.argv[2]]; process.stdout.write(v === undefined || v === null ? "" : String(v));' "$1" "$2"
}

run_one() {
    local srv=$1 sc=$2 out=$tmp/run.$1.$2.json pid
    RES[$srv|$sc]=$out
    if [ -n "${SKIP[$srv]:-}" ]; then return 0; fi
    if [ "$srv" = cloudlet ]; then pid=$cl_pid; else pid=$cg_pid; fi
    if ! kill -0 "$pid" 2>/dev/null; then
        bench_log "$srv $sc skipped: $srv is no longer running"
        failed=1
        return 0
    fi
    timeout --kill-after=5 "$((DUR + 60))" node "$LOAD" run --state "${STATE[$srv]}" --scenario "$sc" \
        --concurrency "${CONC[$sc]}" --duration "$DUR" >"$out" 2>"$tmp/run.$srv.$sc.err" || true
    if [ ! -s "$out" ]; then
        bench_log "$srv $sc: the load generator failed: $(tail -n 2 "$tmp/run.$srv.$sc.err" | tr '\n' ' ')"
        notes+=("$srv, $sc: the load generator failed: \`$(grep -m1 '^auth-load:' "$tmp/run.$srv.$sc.err" || tail -n 1 "$tmp/run.$srv.$sc.err")\`")
        failed=1
    elif [ "$(jget "$out" ok)" != true ]; then
        bench_log "$srv $sc: not supported: $(jget "$out" probe_error)"
    else
        printf '[bench] %-13s %-8s c=%-2s %8s ops/s  p50 %s ms  p99 %s ms  errors %s\n' "$srv" "$sc" \
            "${CONC[$sc]}" "$(jget "$out" ops_per_s)" "$(jget "$out" p50_ms)" "$(jget "$out" p99_ms)" \
            "$(jget "$out" errors)" >&2
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        bench_log "$srv died during $sc"
        notes+=("$srv exited during the $sc run; its log ends: \`$(tail -n 3 "$tmp/$srv.log" | tr '\n' ' ')\`")
        failed=1
    fi
}

bench_log "measuring: ${#SCENARIOS[@]} scenarios x ${#servers[@]} servers x ${DUR}s"
i=0
for sc in "${SCENARIOS[@]}"; do
    order=("${servers[@]}")
    if [ $((i % 2)) -eq 1 ] && [ "${#servers[@]}" -eq 2 ]; then order=("${servers[1]}" "${servers[0]}"); fi
    for srv in "${order[@]}"; do run_one "$srv" "$sc"; done
    i=$((i + 1))
done

# ---- GetUser again with wrk (C, 2 threads): a cross-check that the Node load
# generator is not what limits the cheap operation ----
declare -A WRK=()   # srv -> wrk output file
if command -v wrk >/dev/null 2>&1; then
    for srv in "${servers[@]}"; do
        [ -z "${SKIP[$srv]:-}" ] || continue
        if [ "$srv" = cloudlet ]; then port=$cl_port; else port=$cg_port; fi
        if ! tok=$(timeout 30 node "$LOAD" token --state "${STATE[$srv]}" 2>"$tmp/token.$srv.err"); then
            notes+=("$srv: no access token for the wrk run: \`$(tail -n 1 "$tmp/token.$srv.err")\`")
            failed=1
            continue
        fi
        cat >"$tmp/getuser.$srv.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "AWSCognitoIdentityProviderService.GetUser"
wrk.body = '{"AccessToken":"$tok"}'
EOF
        WRK[$srv]=$tmp/wrk.$srv.txt
        bench_wrk "${WRK[$srv]}" "$DUR" -t 2 -c 16 -s "$tmp/getuser.$srv.lua" "http://127.0.0.1:$port/" || true
        printf '[bench] %-13s %-8s c=16 %8s req/s  p50 %s ms  p99 %s ms  non-2xx %s (wrk)\n' "$srv" getuser \
            "$(bench_wrk_rps "${WRK[$srv]}")" "$(bench_wrk_pct "${WRK[$srv]}" 50)" "$(bench_wrk_pct "${WRK[$srv]}" 99)" \
            "$(bench_wrk_non2xx "${WRK[$srv]}")" >&2
    done
else
    notes+=("wrk is not installed: the GetUser cross-check with wrk was skipped.")
fi

# ---- after the runs: memory ----
cl_peak_kb=""
cg_peak_kb=""
[ -n "$cl_pid" ] && cl_peak_kb=$(bench_proc_kb "$cl_pid" VmHWM)
[ -n "$cg_pid" ] && cg_peak_kb=$(bench_proc_kb "$cg_pid" VmHWM)

# ---- the table ----
# cell SRV SC - sets c_ops c_p50 c_p99 c_txt (ops/s cell text) and c_ok (1 if a clean number).
cell() {
    local f=${RES[$1|$2]:-} err
    c_ops="" c_p50="-" c_p99="-" c_ok=0
    if [ "$1" = cloudlet ] && [ "$ONLY_PEER" = 1 ]; then c_txt="not run"; return; fi
    if [ -n "${SKIP[$1]:-}" ]; then c_txt="not run"; return; fi
    if [ -z "$f" ] || [ ! -s "$f" ]; then c_txt="failed"; return; fi
    if [ "$(jget "$f" ok)" != true ]; then
        c_txt="not supported"
        notes+=("$1 does not support ${LABEL[$2]}: the first request got \`$(jget "$f" probe_error)\`")
        return
    fi
    c_ops=$(jget "$f" ops_per_s)
    c_p50=$(jget "$f" p50_ms)
    c_p99=$(jget "$f" p99_ms)
    err=$(jget "$f" errors)
    c_txt=$c_ops
    if [ "${err:-0}" != 0 ]; then
        c_txt="$c_ops (invalid: $err errors)"
        notes+=("$1, ${LABEL[$2]}: $err failed operations; the first: \`$(jget "$f" first_error)\`")
    elif [ "$(jget "$f" ops)" = 0 ]; then
        c_txt="0 (invalid)"
    else
        c_ok=1
    fi
    [ -z "${c_p50}" ] && c_p50="-"
    [ -z "${c_p99}" ] && c_p99="-"
    return 0
}
rows=()
for sc in "${SCENARIOS[@]}"; do
    cell cloudlet "$sc"
    k_txt=$c_txt k_ops=$c_ops k_p50=$c_p50 k_p99=$c_p99 k_ok=$c_ok
    cell cognito-local "$sc"
    g_txt=$c_txt g_ops=$c_ops g_p50=$c_p50 g_p99=$c_p99 g_ok=$c_ok
    ratio="n/a"
    if [ "$k_ok" = 1 ] && [ "$g_ok" = 1 ] && [ "$g_ops" != 0 ]; then
        ratio=$(awk -v a="$k_ops" -v b="$g_ops" 'BEGIN { printf "%.2f", a / b }')
    fi
    rows+=("| ${LABEL[$sc]} | ${CONC[$sc]} | $k_txt | $g_txt | $ratio | $k_p50 | $g_p50 | $k_p99 | $g_p99 |")
done
# wrk_cell SRV - sets w_rps w_p50 w_p99 w_txt w_ok for the wrk GetUser row.
wrk_cell() {
    local f=${WRK[$1]:-} non sock
    w_rps="" w_p50="-" w_p99="-" w_ok=0
    if [ -z "$f" ]; then w_txt="not run"; return; fi
    w_rps=$(bench_wrk_rps "$f")
    if [ -z "$w_rps" ]; then
        w_txt="failed"
        notes+=("$1: the wrk GetUser run failed: \`$(tail -n 1 "$f")\`")
        failed=1
        return
    fi
    w_rps=$(awk -v r="$w_rps" 'BEGIN { printf "%.1f", r }')
    w_p50=$(bench_wrk_pct "$f" 50)
    w_p99=$(bench_wrk_pct "$f" 99)
    non=$(bench_wrk_non2xx "$f")
    sock=$(bench_wrk_socket_errors "$f")
    w_txt=$w_rps
    if [ "$non" != 0 ]; then w_txt="$w_rps (invalid: $non non-2xx)"; else w_ok=1; fi
    if [ "$sock" != 0 ]; then w_txt="$w_txt ($sock socket errors)"; fi
    return 0
}
wrk_cell cloudlet
k_txt=$w_txt k_ops=$w_rps k_p50=$w_p50 k_p99=$w_p99 k_ok=$w_ok
wrk_cell cognito-local
ratio="n/a"
if [ "$k_ok" = 1 ] && [ "$w_ok" = 1 ]; then
    ratio=$(awk -v a="$k_ops" -v b="$w_rps" 'BEGIN { printf "%.2f", a / b }')
fi
rows+=("| GetUser, driven by wrk | 16 | $k_txt | $w_txt | $ratio | $k_p50 | $w_p50 | $k_p99 | $w_p99 |")
srp_client=""
[ -s "$tmp/run.cloudlet.srp.json" ] && srp_client=$(jget "$tmp/run.cloudlet.srp.json" client_srp_ms_per_login)

# ---- write the results ----
cl_ver=$(node -p 'require(process.argv[1]).version' "$here/node_modules/cognito-local/package.json" 2>/dev/null || echo "?")
mkdir -p "$(dirname "$OUT")"
{
    echo "# Cognito user pools: cloudlet vs cognito-local"
    echo
    echo "Written by \`bench/auth.sh\` (\`make bench\`). Not a timed test: numbers from one run on one machine."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    bench_machine_md
    echo "- nproc: $(nproc); load average before the runs: $load_before"
    echo "- Versions: cloudlet $(bench_commit "$repo"); cognito-local $cl_ver; Node $(node --version)"
    echo
    echo "## Method"
    echo
    echo "Both servers run on 127.0.0.1 on the same $(nproc) cores as the load generator. cloudlet gets a"
    echo "config file with one pool (\`$POOL_ID\`) and one app client that allows USER_PASSWORD_AUTH and"
    echo "USER_SRP_AUTH, and log-in throttling raised out of the way (\`maxFailedLoginsPerUser\` and"
    echo "\`maxFailedLoginsPerAddress\` 1000000). cognito-local gets a pool and a client made with"
    echo "CreateUserPool/CreateUserPoolClient. Each then gets the same $NUSERS users, made with SignUp and the"
    echo "SigV4-signed AdminConfirmSignUp through @aws-sdk/client-cognito-identity-provider; a first"
    echo "password log-in must work before anything is measured."
    echo
    echo "\`bench/auth-load.mjs\` (Node, one process, node:http keep-alive agent, awsJson1_1 POSTs to \`/\`)"
    echo "runs W workers that each send one operation after another for ${DUR} s (every request has a 10 s"
    echo "timeout); workers cycle through the users. An operation counts only when the answer is the"
    echo "expected success (an AuthenticationResult with an AccessToken; a GetUser body with Username and"
    echo "UserAttributes); anything else is an error and makes the row invalid. Latency is per operation,"
    echo "client side: for SRP it spans both requests and the client's SRP math (OpenSSL modular"
    echo "exponentiation through node:crypto${srp_client:+, ${srp_client} ms of client CPU per log-in in this run})."
    echo "Before each run one operation is tried: if it fails the server is reported as not supporting it."
    echo "Scenarios run one at a time, each against one server and then the other (the order alternates)."
    echo "Last, GetUser is driven again by \`wrk -t 2 -c 16 -d ${DUR}s --latency\` (C, POSTing the same body with"
    echo "one user's access token), to show whether the Node client limits that cheap operation; wrk's"
    echo "non-2xx answers make that row invalid."
    echo "Ratio is cloudlet ops/s / cognito-local ops/s; latencies are in ms."
    echo
    echo "## Results"
    echo
    echo "| operation | workers | cloudlet ops/s | cognito-local ops/s | ratio | cloudlet p50 | cognito-local p50 | cloudlet p99 | cognito-local p99 |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "- cloudlet RSS: $(bench_kb_to_mib "${cl_idle_kb:-}") MB at start, $(bench_kb_to_mib "$cl_peak_kb") MB peak (VmHWM)"
    echo "- cognito-local RSS: $(bench_kb_to_mib "${cg_idle_kb:-}") MB at start, $(bench_kb_to_mib "$cg_peak_kb") MB peak (VmHWM)"
    echo
    echo "## What the numbers mean"
    echo
    echo "- cloudlet's password log-ins are bounded by argon2id on purpose: each log-in hashes the password"
    echo "  with m = 19456 KiB, t = 2, p = 1, OWASP's recommended argon2id parameters, so a stolen data"
    echo "  directory does not give the passwords away. A SRP log-in hashes nothing with argon2id: the"
    echo "  verifier g^x made at sign-up is stored sealed under the server key and opened at log-in, so"
    echo "  its cost is the 3072-bit modular exponentiations of SRP-6a and the token signatures."
    echo "- cognito-local $cl_ver keeps passwords in plaintext in its JSON database"
    echo "  (\`.cognito/db/<pool>.json\`, field \`Password\`) and compares them with \`!==\`: a log-in"
    echo "  costs no password hashing, three RS256 signatures (access, ID and refresh token are all JWTs,"
    echo "  jsonwebtoken) and a rewrite of the pool's whole JSON file, in which every refresh token ever"
    echo "  issued is appended to the user's record (so the file grows with each log-in)."
    echo "- cognito-local's GetUser only decodes the access token (\`jsonwebtoken.decode\`): it checks"
    echo "  neither the signature, the expiry nor revocation. cloudlet checks, on every call, the RS256"
    echo "  signature, the expiry and token use, that the log-in session was not revoked (GlobalSignOut,"
    echo "  RevokeToken), and that the user still exists and is enabled."
    echo "- cognito-local supports only USER_PASSWORD_AUTH and refresh (its README: \"Only"
    echo "  USER_PASSWORD_AUTH flow is supported\"); real Cognito and cloudlet also do USER_SRP_AUTH,"
    echo "  which is what Amplify's signIn() and amazon-cognito-identity-js use by default."
    echo "- The load generator is one Node process sharing the $(nproc) cores with the server under test;"
    echo "  for the cheap GetUser it takes a good share of the CPU the server could use, which is"
    echo "  why GetUser is also driven by wrk (lighter, in C)."
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
