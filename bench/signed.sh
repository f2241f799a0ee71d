#!/usr/bin/env bash
# bench/signed.sh - what SigV4 verification costs a request: wrk fetches the
# same 1 KiB object from one cloudlet as an unsigned website GET and as a
# presigned S3 GET (signature, scope, skew and policy checked on every
# request), side by side, and prints the ratio (issue target: >= 0.7).
#
#   bench/signed.sh BIN      e.g. bench/signed.sh build/cloudlet
#   BENCH_DURATION=5 BENCH_OUT=bench/results/signed.md
#
# The presigned URL is made with the AWS SDK's own presigner
# (@aws-sdk/s3-request-presigner, installed by make test/bench) for the root credentials the script passes in
# the environment; presigned URLs let wrk repeat a signed request.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

BIN=${1:-build/cloudlet}
DUR=${BENCH_DURATION:-4}
OUT=${BENCH_OUT:-bench/results/signed.md}
bench_require wrk curl node
[ -x "$BIN" ] || bench_die "$BIN not built"

tmp=$(mktemp -d)
pid=""
cleanup() { bench_stop "$pid"; rm -rf "$tmp"; }
trap cleanup EXIT

export CLOUDLET_ROOT_ACCESS_KEY_ID=AKIABENCHSIGNED00001
export CLOUDLET_ROOT_SECRET_ACCESS_KEY=benchbenchbenchbenchbenchbenchbenchbench
mkdir -p "$tmp/site" "$tmp/data"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$tmp/site/one.txt"
"$BIN" site deploy "$tmp/site" --data "$tmp/data" >/dev/null
port=$(bench_free_port)
cfg="$tmp/cloudlet.json"
printf '{"accessLog": true}\n' >"$cfg"
"$BIN" serve --listen "127.0.0.1:$port" --data "$tmp/data" --config "$cfg" 2>"$tmp/log" &
pid=$!
bench_wait_http "http://127.0.0.1:$port/healthz" 10 "$pid" || bench_die "cloudlet did not start"

presigned=$(PORT=$port node --input-type=module -e '
import { S3Client, GetObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
const s3 = new S3Client({ region: "us-east-1", endpoint: `http://127.0.0.1:${process.env.PORT}`,
  forcePathStyle: true, credentials: { accessKeyId: process.env.CLOUDLET_ROOT_ACCESS_KEY_ID,
  secretAccessKey: process.env.CLOUDLET_ROOT_SECRET_ACCESS_KEY } });
console.log(await getSignedUrl(s3, new GetObjectCommand({ Bucket: "site", Key: "one.txt" }), { expiresIn: 3600 }));
' 2>/dev/null)
unsigned="http://127.0.0.1:$port/one.txt"
[ "$(bench_http_code "$presigned")" = 200 ] || bench_die "the presigned GET does not answer 200"
[ "$(bench_http_code "$unsigned")" = 200 ] || bench_die "the website GET does not answer 200"

# Rounds alternate the two kinds so that noise from a shared machine falls on
# both alike; the median of each is reported.
ROUNDS=${BENCH_ROUNDS:-3}
declare -A RPS P50
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for conns in 64 1; do
    t=$([ "$conns" = 1 ] && echo 1 || echo 2)
    declare -a r_unsigned=() r_presigned=() p_unsigned=() p_presigned=()
    for round in $(seq 1 "$ROUNDS"); do
        for kind in unsigned presigned; do
            url=${!kind}
            out="$tmp/$kind.$conns.$round"
            bench_log "$kind GET, $conns connections, round $round, ${DUR}s"
            bench_wrk "$out" "$DUR" -t "$t" -c "$conns" "$url" || bench_die "wrk failed"
            [ "$(bench_wrk_non2xx "$out")" = 0 ] || bench_die "$kind: non-2xx answers"
            eval "r_$kind+=(\"\$(bench_wrk_rps \"\$out\")\")"
            eval "p_$kind+=(\"\$(bench_wrk_pct \"\$out\" 50)\")"
        done
    done
    RPS[unsigned.$conns]=$(median "${r_unsigned[@]}")
    RPS[presigned.$conns]=$(median "${r_presigned[@]}")
    P50[unsigned.$conns]=$(median "${p_unsigned[@]}")
    P50[presigned.$conns]=$(median "${p_presigned[@]}")
done

{
    echo "# What SigV4 verification costs (bench/signed.sh)"
    echo
    bench_machine_md
    echo "- Commit: $(bench_commit .), $(date -u +%Y-%m-%d)"
    echo "- One cloudlet, the same 1 KiB object: an unsigned website GET (/one.txt) and a presigned"
    echo "  S3 GET (/site/one.txt?X-Amz-...), verified (signature, scope, skew) and authorized on every"
    echo "  request; medians of $ROUNDS alternating rounds of ${DUR}s; access log on."
    echo
    echo "| connections | unsigned req/s | presigned req/s | ratio | unsigned p50 ms | presigned p50 ms |"
    echo "|---|---|---|---|---|---|"
    for conns in 64 1; do
        ratio=$(awk -v a="${RPS[presigned.$conns]}" -v b="${RPS[unsigned.$conns]}" 'BEGIN { printf "%.2f", a / b }')
        echo "| $conns | ${RPS[unsigned.$conns]} | ${RPS[presigned.$conns]} | $ratio | ${P50[unsigned.$conns]} | ${P50[presigned.$conns]} |"
    done
} >"$OUT"
cat "$OUT"
bench_log "results written to $OUT"
