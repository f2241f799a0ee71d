#!/usr/bin/env bash
# tests/run.sh - run cloudlet's test suites and print one summary line.
#
#   tests/run.sh unit|integration|e2e|all
#
# Unit tests are cmocka binaries in $BUILD/tests/; integration tests run with
# Node's built-in runner against a real server (tests/integration/*.test.mjs),
# e2e tests drive Debian's Chromium with playwright-core (tests/e2e/*.test.mjs).
# Each suite's own output is shown; the counts are summed and the last line is
# "N passed, N failed". The exit status is non-zero if anything failed or a
# suite could not run.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
what=${1:-all}
passed=0
failed=0
broken=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_unit() {
    local bin out p f
    for bin in "$BUILD"/tests/test_*; do
        [ -x "$bin" ] || continue
        out="$tmp/$(basename "$bin").out"
        echo "== unit: $bin"
        "$bin" 2>&1 | tee "$out"
        local rc=${PIPESTATUS[0]}
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n1)
        if [ -z "$p" ] && [ -z "$f" ]; then
            echo "!! $bin printed no cmocka summary (exit $rc): counted as one failure"
            broken=$((broken + 1))
            continue
        fi
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
            echo "!! $bin exited $rc: counted as one failure"
            broken=$((broken + 1))
        fi
    done
}

# Run one node:test suite (a folder of *.test.mjs) and add its counts.
run_node() {
    local name=$1 dir=$2 tap="$tmp/$1.tap" p f rc
    echo "== $name: node --test $dir"
    CLOUDLET_BIN="$PWD/$BUILD/cloudlet" node --test \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" \
        "$dir"
    rc=$?
    p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -n1)
    f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -n1)
    if [ -z "$p" ]; then
        echo "!! the $name suite printed no summary (exit $rc): counted as one failure"
        broken=$((broken + 1))
        return
    fi
    passed=$((passed + p))
    failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
        echo "!! the $name suite exited $rc: counted as one failure"
        broken=$((broken + 1))
    fi
}

run_integration() { run_node integration tests/integration/; }
run_e2e() { run_node e2e tests/e2e/; }

case "$what" in
unit) run_unit ;;
integration) run_integration ;;
e2e) run_e2e ;;
all) run_unit; run_integration; run_e2e ;;
*) echo "usage: $0 unit|integration|e2e|all" >&2; exit 2 ;;
esac

failed=$((failed + broken))
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
