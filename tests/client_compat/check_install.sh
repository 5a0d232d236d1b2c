#!/bin/sh
# check_install.sh BUILD_DIR SOURCE_DIR - installs openwsk from BUILD_DIR into
# a scratch prefix, then builds the driver-style sample with nothing but
# `pkg-config --cflags --libs openwsk` (and once through the CMake package)
# and runs it.  This is what a driver developer does first.
set -eu
build=$1; src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# OPENWSK_CHECK_PREFIX: an installed tree to check instead (check_deb.sh).
if [ -n "${OPENWSK_CHECK_PREFIX:-}" ]; then
    ln -s "$OPENWSK_CHECK_PREFIX" "$work/prefix"
else
    cmake --install "$build" --prefix "$work/prefix" >/dev/null
fi
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
cc=${CC:-cc}
# shellcheck disable=SC2046
$cc -o "$work/sample" "$src/tests/client_compat/client_sample.c" $(pkg-config --cflags --libs openwsk)
libdir=$(pkg-config --variable=libdir openwsk)
LD_LIBRARY_PATH="$libdir" "$work/sample"

mkdir -p "$work/cm"
cat > "$work/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(sample C)
find_package(openwsk REQUIRED)
add_executable(sample $src/tests/client_compat/client_sample.c)
target_link_libraries(sample PRIVATE openwsk::openwsk_static)
CM
cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cm/build" >/dev/null
"$work/cm/build/sample"

# A driver module through the package's openwsk_add_driver, run by the
# installed wskhost (which finds the installed library through its RPATH).
mkdir -p "$work/drv"
cat > "$work/drv/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(probe C)
find_package(openwsk REQUIRED)
openwsk_add_driver(probe SOURCES $src/tests/host/probe_driver.c WPP $src/tests/host/probe_driver.c)
CM
cmake -S "$work/drv" -B "$work/drv/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/drv/build" >/dev/null
"$work/prefix/bin/wskhost" --stop-after 0.2 "$work/drv/build/probe.so" -- Count=7 >"$work/drv/out" 2>&1 || {
    cat "$work/drv/out"
    exit 1
}
grep -q "Count=7" "$work/drv/out" && grep -q "own connect() = 4242" "$work/drv/out" && grep -q "no leaks" "$work/drv/out"
echo "install check: pkg-config and CMake package builds ran OK; a driver built with openwsk_add_driver ran under wskhost"
