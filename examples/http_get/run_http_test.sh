#!/bin/sh
# run_http_test.sh WSKHOST DRIVER.so SERVER
#     Starts the one-shot test SERVER, runs the http_get driver under
#     wskhost against it (Host=localhost, Path=/hello.txt), waits for the
#     driver's "http_get: done" line, unloads it with SIGTERM and checks:
#     wskhost exits 0 (clean unload, no leaks), status 200, the body length
#     and checksum the driver printed are what the server sent, and the
#     server (which checked the request and the graceful close) exits 0.
# run_http_test.sh WSKHOST DRIVER.so --unknown-host
#     Host=no-such-host.invalid: the driver must report
#     "http_get: failed 0xC0000225" (STATUS_NOT_FOUND, what WskGetAddressInfo
#     completes with for a name that does not exist) and unload cleanly.
#     Exits 77 (a skip for CTest) if no DNS server answered at all, which
#     WskGetAddressInfo reports as STATUS_RETRY (0xC000022D).
set -u
if [ $# -ne 3 ]; then
    echo "usage: $0 WSKHOST DRIVER.so SERVER|--unknown-host" >&2
    exit 2
fi
wskhost=$1 driver=$2 server=$3
timeout=20 # seconds, for each wait

dir=$(mktemp -d)
spid="" hpid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    [ -n "$hpid" ] && kill -TERM "$hpid" 2>/dev/null
    [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

# wait_for FILE PATTERN PID: until grep -E finds PATTERN in FILE; fails if
# PID ends first or after $timeout seconds.
wait_for() {
    tries=0
    until grep -Eq "$2" "$1"; do
        if ! kill -0 "$3" 2>/dev/null || [ $tries -ge $((timeout * 10)) ]; then
            grep -Eq "$2" "$1" && return 0
            return 1
        fi
        tries=$((tries + 1))
        sleep 0.1
    done
    return 0
}

fail() {
    echo "run_http_test: FAILED: $*" >&2
    exit 1
}

show() {
    echo "---- $1 ----"
    cat "$2"
}

# Runs the driver with the given parameters until it prints its result,
# then unloads it; sets host_rc.
run_driver() {
    "$wskhost" "$driver" -- "$@" >"$dir/host.log" 2>&1 &
    hpid=$!
    if ! wait_for "$dir/host.log" "http_get: (done|failed)" "$hpid"; then
        show "wskhost and driver" "$dir/host.log"
        fail "no \"http_get: done\" or \"http_get: failed\" line within ${timeout}s"
    fi
    # Unloading right away, while the driver's thread may still be ending,
    # is part of the test: DriverUnload waits for the thread.
    kill -TERM "$hpid" 2>/dev/null
    wait "$hpid"
    host_rc=$?
    hpid=""
    show "wskhost and driver" "$dir/host.log"
}

if [ "$server" = "--unknown-host" ]; then
    run_driver Host=no-such-host.invalid Port=80 Path=sz:/
    [ $host_rc -eq 0 ] || fail "wskhost exited with $host_rc (leaks or unclean unload)"
    if grep -q "http_get: failed 0xC000022D" "$dir/host.log"; then
        echo "run_http_test: SKIPPED: no DNS server answered (STATUS_RETRY)"
        exit 77
    fi
    grep -q "http_get: failed 0xC0000225" "$dir/host.log" ||
        fail "expected \"http_get: failed 0xC0000225\" (STATUS_NOT_FOUND)"
    echo "run_http_test: passed"
    exit 0
fi

"$server" >"$dir/server.log" 2>&1 &
spid=$!
if ! wait_for "$dir/server.log" "listening on port [0-9]+" "$spid"; then
    show "server" "$dir/server.log"
    fail "the test server did not start"
fi
port=$(sed -n 's/^listening on port \([0-9][0-9]*\).*/\1/p' "$dir/server.log" | head -n 1)
# "expect: body N bytes, checksum 0xXXXXXXXX": the driver prints the same words.
expected=$(sed -n 's/^expect: //p' "$dir/server.log" | head -n 1)

run_driver Host=localhost "Port=$port" Path=sz:/hello.txt

# The server ends by itself (its own timeout included); only a failed
# fetch can leave it waiting for a connection.
if ! grep -q "http_get: done" "$dir/host.log"; then
    kill -TERM "$spid" 2>/dev/null
fi
wait "$spid"
server_rc=$?
spid=""
show "server" "$dir/server.log"

[ $host_rc -eq 0 ] || fail "wskhost exited with $host_rc (leaks or unclean unload)"
grep -q "http_get: done status=200 " "$dir/host.log" || fail "no \"http_get: done status=200\""
[ -n "$expected" ] || fail "the server did not say what it would send"
grep -qF "http_get: $expected" "$dir/host.log" || fail "the driver did not report \"$expected\""
body=$(echo "$expected" | sed -n 's/^body \([0-9][0-9]*\) bytes.*/\1/p')
grep -q "http_get: done status=200 body=$body bytes" "$dir/host.log" || fail "the done line does not say body=$body"
[ $server_rc -eq 0 ] || fail "the server exited with $server_rc"
echo "run_http_test: passed"
exit 0
