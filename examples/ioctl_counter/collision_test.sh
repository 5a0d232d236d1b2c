#!/bin/sh
# collision_test.sh WSKHOST DRIVER.so - device names and links are
# machine-wide: a second wskhost loading the same driver fails DriverEntry,
# its IoCreateDevice getting STATUS_OBJECT_NAME_COLLISION (as a second
# driver creating the same \Device name would on Windows); the first is
# unaffected and unloads cleanly, after which the names are free again.
set -u
wskhost=$1 driver=$2
OPENWSK_DEVICE_NAMESPACE=collision-$$
export OPENWSK_DEVICE_NAMESPACE
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$wskhost" "$driver" >"$log" 2>&1 &
pid=$!
tries=0
until grep -q "devices ready" "$log"; do
    tries=$((tries + 1))
    if [ $tries -ge 600 ] || ! kill -0 $pid 2>/dev/null; then
        cat "$log"; echo "collision_test: the first driver did not start" >&2; exit 1
    fi
    sleep 0.05
done
fail=0
second=$("$wskhost" "$driver" 2>&1)
rc=$?
if [ $rc -ne 3 ] || ! printf '%s\n' "$second" | grep -q "DriverEntry failed: 0xC0000035"; then
    printf '%s\n' "$second"
    echo "collision_test: the second wskhost exited $rc, expected 3 after a name collision" >&2
    fail=1
fi
kill -TERM $pid
wait $pid
rc=$?
cat "$log"
[ $rc -eq 0 ] || { echo "collision_test: the first wskhost exited $rc" >&2; fail=1; }
# The names went with the first driver's unload.
third=$("$wskhost" -t 0.2 "$driver" 2>&1)
rc=$?
[ $rc -eq 0 ] || { printf '%s\n' "$third"; echo "collision_test: reloading exited $rc" >&2; fail=1; }
[ $fail -eq 0 ] && echo "collision_test: ok"
exit $fail
