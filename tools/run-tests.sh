#!/bin/sh
# run-tests.sh - the project's one test command (README, .ci/run).
#
# On a fresh Debian 12 machine it installs what the build and tests need
# (as root, through apt-get; valgrind for the memcheck run of the TCP echo
# example, iproute2 for the hostile-network test's namespaces), then
# configures, builds and runs the whole CTest suite for three builds —
# plain (which also installs and builds a client with pkg-config, and runs
# the example under valgrind), ASan+UBSan, and TSan — each on both
# I/O engine backends (io_uring and epoll), and once more on the plain build
# with schedule perturbation on (configuration "perturb": OPENWSK_PERTURB=<seed>,
# the seed printed so that a failure can be rerun with it), and once with the
# driver verifier on (configuration "verify": OPENWSK_VERIFY=all, so every
# test driver and the provider itself must keep the verifier's rules; the
# tests that break IRQL or WSK rules on purpose, to see Windows' own stop
# codes and the provider's answers to misuse, are left out there).
#   OPENWSK_TEST_CONFIGS="plain perturb verify asan tsan"  selects configurations.
#   OPENWSK_PERTURB_SEED=N  the perturb seed (default: today's date, YYYYMMDD).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

need=""
for pkg in cmake ninja-build gcc g++ clang pkg-config libc6-dev liburing-dev valgrind iproute2; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "run-tests: installing$need"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
configs=${OPENWSK_TEST_CONFIGS:-plain perturb verify asan tsan}
perturb_seed=${OPENWSK_PERTURB_SEED:-$(date +%Y%m%d)}
case $perturb_seed in
    '' | *[!0-9]*) echo "run-tests: OPENWSK_PERTURB_SEED must be a decimal number" >&2; exit 2 ;;
esac
summary=""
status=0
for config in $configs; do
    build=$config
    perturb=""
    verify=""
    exclude="^$"
    case $config in
        plain) flags="-DCMAKE_BUILD_TYPE=RelWithDebInfo" ;;
        perturb) flags="-DCMAKE_BUILD_TYPE=RelWithDebInfo"; build=plain; perturb=$perturb_seed ;;
        verify)
            flags="-DCMAKE_BUILD_TYPE=RelWithDebInfo"
            build=plain
            verify=all
            exclude='^(test_event|test_irql|test_spinlock|test_wskhost|test_wsk_misuse|test_wsk_irp_contract)$'
            ;;
        asan) flags="-DCMAKE_BUILD_TYPE=Debug -DOPENWSK_SANITIZE=address" ;;
        tsan) flags="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPENWSK_SANITIZE=thread" ;;
        *) echo "run-tests: unknown configuration $config" >&2; exit 2 ;;
    esac
    dir="$root/build/test-$build" # perturb and verify reuse the plain build
    echo "=== $config: configure and build ($dir)"
    # shellcheck disable=SC2086
    cmake -S "$root" -B "$dir" -G Ninja $flags >/dev/null
    cmake --build "$dir" -j "$jobs"
    # Every configuration runs the suite on both I/O engine backends, each
    # forced: a machine without io_uring fails here loudly rather than
    # quietly testing epoll twice.
    for backend in io_uring epoll; do
        label=$config/$backend
        if [ -n "$perturb" ]; then
            label="$label(seed $perturb)"
            echo "=== $config: ctest (I/O backend $backend, OPENWSK_PERTURB=$perturb;" \
                "rerun: OPENWSK_TEST_CONFIGS=perturb OPENWSK_PERTURB_SEED=$perturb $0)"
        else
            echo "=== $config: ctest (I/O backend $backend${verify:+, OPENWSK_VERIFY=$verify})"
        fi
        # shellcheck disable=SC2086
        if env ${perturb:+OPENWSK_PERTURB=$perturb} ${verify:+OPENWSK_VERIFY=$verify} OPENWSK_IO_BACKEND=$backend \
            ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
            UBSAN_OPTIONS=print_stacktrace=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
            ctest --test-dir "$dir" --output-on-failure -j "$jobs" -E "$exclude"; then
            summary="$summary $label:ok"
        else
            summary="$summary $label:FAILED"
            status=1
        fi
    done
done
echo "run-tests:$summary"
exit $status
