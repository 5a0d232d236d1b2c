#!/bin/sh
# scale_echo.sh WSKHOST ECHO_DRIVER ECHO_LOAD_CLIENT
#
# CONNECTIONS (OPENWSK_SCALE_CONNECTIONS, default 1,000; 10,000 on demand)
# connections to the TCP echo example under wskhost, all open at once,
# each sending OPENWSK_SCALE_BYTES (default 64 KiB) and checking every
# echoed byte and the driver's EOF; then DriverUnload with no leak.  A
# second run holds all of them open and unloads the driver meanwhile:
# DriverUnload aborts them all (the client must see each end), no leak.
# Reports the client's time, the unload's, and wskhost's peak resident
# memory (VmHWM).
#
# wskhost is started with a soft descriptor limit of 1,024 (when the hard
# limit allows more): it must raise it itself, as it needs one descriptor
# per connection.  The hard limit must allow CONNECTIONS + 256; as root
# the script raises it, otherwise it exits 77 (skipped).
set -u
wskhost=$1 driver=$2 client=$3
n=${OPENWSK_SCALE_CONNECTIONS:-1000}
bytes=${OPENWSK_SCALE_BYTES:-65536}
need=$((n + 256))

hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $need ]; then
    ulimit -Hn $need 2>/dev/null || {
        echo "scale_echo: SKIPPED: $n connections need $need descriptors, the hard limit is $hard"
        exit 77
    }
fi
[ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -gt 1024 ] && ulimit -Sn 1024

log=$(mktemp)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -f "$log"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{ printf "%.2f", $1 - $2 }'; }

# start_host: wskhost with the echo driver; sets pid and port.
start_host() {
    : >"$log"
    "$wskhost" "$driver" >"$log" 2>&1 &
    pid=$!
    tries=0
    until grep -q "listening on" "$log"; do
        if ! kill -0 $pid 2>/dev/null || [ $tries -ge 600 ]; then
            cat "$log"
            echo "scale_echo: the driver did not get ready"
            exit 1
        fi
        tries=$((tries + 1))
        sleep 0.05
    done
    port=$(grep "listening on" "$log" | head -n 1 | sed -n 's/.*port \([0-9][0-9]*\).*/\1/p')
}

# stop_host: DriverUnload now; sets host_rc and unload_time, shows the log.
stop_host() {
    start=$(now)
    kill -TERM $pid
    wait $pid
    host_rc=$?
    pid=""
    unload_time=$(since "$start")
    # One line per connection the driver saw fail: counted, not listed.
    grep -v "failed: 0x" "$log"
    grep -o "echo: [a-z]* failed: 0x[0-9A-F]*" "$log" | sort | uniq -c
    if ! grep -q "descriptor limit raised" "$log" && [ "$(ulimit -Sn)" = 1024 ]; then
        echo "scale_echo: wskhost did not raise its descriptor limit"
        host_rc=1
    fi
}

failures=0
echo "=== $n connections, $bytes bytes each, then EOF and unload"
start_host
start=$(now)
"$client" --timeout 300 127.0.0.1 "$port" "$n" "$bytes"
client_rc=$?
client_time=$(since "$start")
peak=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$pid/status)
threads=$(sed -n 's/^Threads:[[:space:]]*//p' /proc/$pid/status)
stop_host
echo "scale_echo: $n connections x $bytes bytes: client ${client_time} s, unload ${unload_time} s," \
    "wskhost peak RSS $((peak / 1024)) MiB ($peak kB), $threads threads"
if [ $client_rc -ne 0 ] || [ $host_rc -ne 0 ]; then
    echo "scale_echo: FAILED (client exit $client_rc, wskhost exit $host_rc)"
    failures=$((failures + 1))
fi

echo "=== $n connections held open while the driver unloads"
start_host
out=$(mktemp)
"$client" --held --timeout 300 127.0.0.1 "$port" "$n" "$bytes" >"$out" &
client_pid=$!
tries=0
until grep -q "held" "$out" || ! kill -0 $client_pid 2>/dev/null || [ $tries -ge 6000 ]; do
    tries=$((tries + 1))
    sleep 0.05
done
# Each connection's last send completion starts its next receive: give
# those a moment, so that every connection has a receive pending.
sleep 0.5
peak=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$pid/status)
stop_host
wait $client_pid
client_rc=$?
cat "$out"
rm -f "$out"
echo "scale_echo: unload with $n connections open took ${unload_time} s, wskhost peak RSS $((peak / 1024)) MiB"
# DriverUnload cancels the receive each held connection has pending.
cancelled=$(grep -c "echo: receive failed: 0xC0000120" "$log")
others=$(grep "failed: 0x" "$log" | grep -vc "echo: receive failed: 0xC0000120")
if [ "$cancelled" -ne "$n" ] || [ "$others" -ne 0 ]; then
    echo "scale_echo: FAILED: $cancelled receives completed with STATUS_CANCELLED (expected $n), $others other failures"
    failures=$((failures + 1))
fi
if [ $client_rc -ne 0 ] || [ $host_rc -ne 0 ]; then
    echo "scale_echo: FAILED (client exit $client_rc, wskhost exit $host_rc)"
    failures=$((failures + 1))
fi
[ $failures -eq 0 ]
