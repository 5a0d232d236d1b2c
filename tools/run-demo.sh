#!/bin/sh
# run-demo.sh - the README's main job: builds openwsk and runs the TCP echo
# server written as a WSK driver (examples/tcp_echo/echo_driver.c) on
# loopback, while a Linux client exchanges data with it over IPv4 and IPv6
# and prints what came back; then the driver unloads and the leak report
# runs.  (The driver is hosted in-process until wskhost arrives.)
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
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/demo --target echo_demo
exec build/demo/examples/tcp_echo/echo_demo
