#!/bin/sh
# ioctl_cli_test.sh OPENWSK-IOCTL - drives counter_driver by hand with
# openwsk-ioctl (run by wskhost-run.sh while the driver is loaded) and
# checks what it prints.
set -u
tool=$1
fail=0
expect() { # expect DESCRIPTION PATTERN OUTPUT
    if ! printf '%s\n' "$3" | grep -q "$2"; then
        echo "ioctl_cli_test: $1: expected \"$2\" in:" >&2
        printf '%s\n' "$3" >&2
        fail=1
    fi
}
# IOCTL_COUNTER_SET (0x22A004) 42, then IOCTL_COUNTER_GET (0x226000).
out=$("$tool" '\\.\IoctlCounter' 0x22A004 2a00000000000000 0)
expect "set" "^status 0x00000000" "$out"
out=$("$tool" '\\.\IoctlCounter' 0x226000 - 8)
expect "get status" "^status 0x00000000" "$out"
expect "get information" "^information 8" "$out"
expect "get output" "^output 2a 00 00 00 00 00 00 00" "$out"
# A code the driver does not know: STATUS_INVALID_DEVICE_REQUEST, ERROR_INVALID_FUNCTION.
out=$("$tool" '\\.\IoctlCounter' 0x227FFC - 0)
expect "unknown" "^status 0xC0000010" "$out"
expect "unknown error" "^error 1$" "$out"
# Read-only handle and a code needing FILE_WRITE_ACCESS: ERROR_ACCESS_DENIED.
out=$("$tool" -r '\\.\IoctlCounter' 0x22A004 0100000000000000 0)
expect "access" "^error 5$" "$out"
# No such device.
"$tool" '\\.\NoSuchDevice' 0x226000 - 8 2>/dev/null
[ $? -eq 2 ] || { echo "ioctl_cli_test: opening a missing device did not fail" >&2; fail=1; }
[ $fail -eq 0 ] && echo "ioctl_cli_test: ok"
exit $fail
