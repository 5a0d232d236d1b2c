#!/bin/sh
# run-tests.sh - the project's one test command (README, .ci/run).
#
# On a fresh Debian 12 machine it installs what the build needs (as root,
# through apt-get), then configures, builds and runs the whole CTest suite
# for three builds — plain (which also installs and builds a client with
# pkg-config), ASan+UBSan, and TSan — each on both I/O engine backends
# (io_uring and epoll).
#   OPENWSK_TEST_CONFIGS="plain asan tsan"  selects configurations.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

need=""
for pkg in cmake ninja-build gcc clang pkg-config libc6-dev liburing-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "run-tests: installing$need"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
configs=${OPENWSK_TEST_CONFIGS:-plain asan tsan}
summary=""
status=0
for config in $configs; do
    case $config in
        plain) flags="-DCMAKE_BUILD_TYPE=RelWithDebInfo" ;;
        asan) flags="-DCMAKE_BUILD_TYPE=Debug -DOPENWSK_SANITIZE=address" ;;
        tsan) flags="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPENWSK_SANITIZE=thread" ;;
        *) echo "run-tests: unknown configuration $config" >&2; exit 2 ;;
    esac
    dir="$root/build/test-$config"
    echo "=== $config: configure and build ($dir)"
    # shellcheck disable=SC2086
    cmake -S "$root" -B "$dir" -G Ninja $flags >/dev/null
    cmake --build "$dir" -j "$jobs"
    # Every configuration runs the suite on both I/O engine backends, each
    # forced: a machine without io_uring fails here loudly rather than
    # quietly testing epoll twice.
    for backend in io_uring epoll; do
        echo "=== $config: ctest (I/O backend $backend)"
        if OPENWSK_IO_BACKEND=$backend ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
            UBSAN_OPTIONS=print_stacktrace=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
            ctest --test-dir "$dir" --output-on-failure -j "$jobs"; then
            summary="$summary $config/$backend:ok"
        else
            summary="$summary $config/$backend:FAILED"
            status=1
        fi
    done
done
echo "run-tests:$summary"
exit $status
