#!/bin/sh
# check_driver_undefined.sh BUILD_DIR - installs openwsk from BUILD_DIR into a
# scratch prefix and builds two driver modules with the package's
# openwsk_add_driver: one that links, and one that calls a function nothing
# defines.  The second must fail to link, naming the function, rather than
# build and fail only when wskhost loads it.
set -eu
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null

mkdir -p "$work/drv"
cat > "$work/drv/good.c" <<'C'
#include <ntddk.h>
DRIVER_INITIALIZE DriverEntry;
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    DbgPrint("good driver\n");
    return STATUS_SUCCESS;
}
C
cat > "$work/drv/bad.c" <<'C'
#include <ntddk.h>
NTSTATUS OpenwskCheckNoSuchRoutine(ULONG Value); /* declared, defined nowhere */
DRIVER_INITIALIZE DriverEntry;
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    return OpenwskCheckNoSuchRoutine(7);
}
C
cat > "$work/drv/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(undefined_check C)
find_package(openwsk REQUIRED)
openwsk_add_driver(good SOURCES good.c)
openwsk_add_driver(bad SOURCES bad.c)
CM
cmake -S "$work/drv" -B "$work/drv/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
# The well-formed module links: the flags themselves are fine.
cmake --build "$work/drv/build" --target good >/dev/null
if cmake --build "$work/drv/build" --target bad >"$work/out" 2>&1; then
    echo "FAIL: a driver module calling an undefined function linked" >&2
    exit 1
fi
if ! grep -qi "undefined.*OpenwskCheckNoSuchRoutine" "$work/out"; then
    cat "$work/out" >&2
    echo "FAIL: the build failed, but not by naming the undefined symbol" >&2
    exit 1
fi
echo "undefined-symbol check: the module calling OpenwskCheckNoSuchRoutine failed to link, naming it"
