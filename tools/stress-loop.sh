#!/bin/sh
# stress-loop.sh - long runs of the random WSK stress (tests/test_wsk_stress.c).
#
#   tools/stress-loop.sh [BUILD_DIR] [FIRST_SEED] [SEEDS] [OPS]
#
# Runs SEEDS seeds from FIRST_SEED, OPS operations each (defaults: build/dev,
# 1, 100, 10000: a million operations), on both I/O backends, and stops at
# the first failing seed with the command that reproduces it.  Set
# OPENWSK_PERTURB=<n> to add schedule perturbation.
set -eu
build=${1:-build/dev}
first=${2:-1}
seeds=${3:-100}
ops=${4:-10000}
bin="$build/tests/test_wsk_stress"
[ -x "$bin" ] || { echo "stress-loop: $bin not built (cmake --build $build --target test_wsk_stress)" >&2; exit 2; }
seed=$first
last=$((first + seeds - 1))
while [ "$seed" -le "$last" ]; do
    for backend in io_uring epoll; do
        log=$(mktemp)
        if ! OPENWSK_IO_BACKEND=$backend OPENWSK_STRESS_SEED=$seed OPENWSK_STRESS_OPS=$ops "$bin" >"$log" 2>&1; then
            tail -n 40 "$log"
            echo "stress-loop: seed $seed failed on $backend; reproduce with:"
            echo "  OPENWSK_IO_BACKEND=$backend OPENWSK_STRESS_SEED=$seed OPENWSK_STRESS_OPS=$ops" \
                "${OPENWSK_PERTURB:+OPENWSK_PERTURB=$OPENWSK_PERTURB }OPENWSK_STRESS_VERBOSE=1 $bin"
            rm -f "$log"
            exit 1
        fi
        grep "operations" "$log" || true
        rm -f "$log"
    done
    seed=$((seed + 1))
done
echo "stress-loop: seeds $first..$last passed ($ops operations each, io_uring and epoll)"
