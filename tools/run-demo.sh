#!/bin/sh
# run-demo.sh - the README's main job.
#
# Builds openwsk and runs a driver on it.  Until the WSK provider lands
# (issues 3-6: WskSocket/WskBind/WskAccept, wskhost and the echo driver),
# the driver run here is the kernel-runtime sample in
# tests/client_compat/client_sample.c: DriverEntry starts a system thread,
# feeds it work through an SLIST, round-trips an IRP through a completion
# routine, probes MDLs, and DriverUnload stops it and checks for leaks.
set -eu
cd "$(dirname "$0")/.."
dpkg -s cmake ninja-build gcc pkg-config >/dev/null 2>&1 || {
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq cmake ninja-build gcc pkg-config >/dev/null
}
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/demo
sh tests/client_compat/check_install.sh build/demo "$(pwd)"
