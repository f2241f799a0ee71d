#!/usr/bin/env bash
# bench/sigv4.sh - SigV4 verifications per second per core (bench/sigv4.c).
#
#   bench/sigv4.sh            (from anywhere; builds with make first)
#
# Builds the library objects with `make` (BUILD=build unless set), compiles
# bench/sigv4.c against them with the Makefile's flags, exactly as a unit test
# is linked, and runs it on one thread. Output: one line per figure, e.g.
#   sigv4 verify: 123456 verifications/s per core (warm key cache; ...)
# also written to bench/results/sigv4.md (BENCH_OUT overrides).
#
# Environment:
#   BUILD=build              object directory (build-asan etc. work, but time nothing useful)
#   BENCH_SIGV4_MS=1000      milliseconds per timed round
#   BENCH_SIGV4_ROUNDS=3     rounds per figure (the best is reported)
#   BENCH_OUT=FILE           results file
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

BUILD=${BUILD:-build}
OUT=${BENCH_OUT:-$repo/bench/results/sigv4.md}
PKGS=(libmicrohttpd lmdb jansson libcrypto libjwt libargon2)
CC=${CC:-cc}

# The library objects, as the Makefile lists them: every module's .c but
# server/main.c (so a stale object of a deleted source is never linked).
make --no-print-directory -s BUILD="$BUILD" "$BUILD/cloudlet" >&2
objs=()
for src in common/*.c storage/*.c auth/*.c sts/*.c server/*.c; do
    [ "$src" = server/main.c ] && continue
    objs+=("$BUILD/${src%.c}.o")
done

mkdir -p "$BUILD/bench"
# The Makefile's CFLAGS and link line (without -MMD -MP).
# shellcheck disable=SC2046 # pkg-config output is meant to split into words
"$CC" -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -I. \
    $(pkg-config --cflags "${PKGS[@]}") -o "$BUILD/bench/sigv4" bench/sigv4.c "${objs[@]}" \
    $(pkg-config --libs "${PKGS[@]}") -lpthread

result=$("$BUILD/bench/sigv4")
printf '%s\n' "$result"
mkdir -p "$(dirname "$OUT")"
{
    printf '# SigV4 verification (bench/sigv4.sh)\n\n'
    printf '%s, %s, one thread.\n\n' "$(date -u +%Y-%m-%d)" "$(uname -m)"
    fence='```'
    printf '%s\n%s\n%s\n' "$fence" "$result" "$fence"
} >"$OUT"
