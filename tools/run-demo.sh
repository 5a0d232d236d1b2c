#!/bin/sh
# run-demo.sh - the README's main job: builds openwsk and runs the TCP echo
# server written as a WSK driver (examples/tcp_echo/echo_driver.c) under
# wskhost on loopback, while a Linux client exchanges data with it over IPv4
# and IPv6 and prints what came back; then wskhost unloads the driver
# (SIGTERM -> DriverUnload -> WskDeregister) and prints its leak report.
set -eu
cd "$(dirname "$0")/.."
need=""
for pkg in cmake ninja-build gcc pkg-config liburing-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build build/demo --target wskhost echo_driver echo_client
if sh tools/wskhost-run.sh build/demo/tools/wskhost/wskhost build/demo/examples/tcp_echo/echo_driver.so \
    "listening on" -- build/demo/examples/tcp_echo/echo_client @PORT@ 8; then
    echo "echo demo: OK (driver served the client under wskhost, unloaded with no leaks)"
else
    echo "echo demo: FAILED"
    exit 1
fi
