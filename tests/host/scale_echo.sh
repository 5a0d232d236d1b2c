#!/bin/sh
# scale_echo.sh WSKHOST ECHO_DRIVER ECHO_LOAD_CLIENT
#
# CONNECTIONS (OPENWSK_SCALE_CONNECTIONS, default 1,000; 10,000 on demand)
# connections to the TCP echo example under wskhost, all open at once,
# each sending OPENWSK_SCALE_BYTES (default 64 KiB) and checking every
# echoed byte and the driver's EOF; then DriverUnload with no leak.
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

start=$(now)
"$client" --timeout 300 127.0.0.1 "$port" "$n" "$bytes"
client_rc=$?
client_time=$(since "$start")
peak=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$pid/status)
threads=$(sed -n 's/^Threads:[[:space:]]*//p' /proc/$pid/status)

start=$(now)
kill -TERM $pid
wait $pid
host_rc=$?
pid=""
unload_time=$(since "$start")
cat "$log"
echo "scale_echo: $n connections x $bytes bytes: client ${client_time} s, unload ${unload_time} s," \
    "wskhost peak RSS $((peak / 1024)) MiB ($peak kB), $threads threads"
if [ $client_rc -ne 0 ] || [ $host_rc -ne 0 ]; then
    echo "scale_echo: FAILED (client exit $client_rc, wskhost exit $host_rc)"
    exit 1
fi
grep -q "descriptor limit raised" "$log" || [ "$(ulimit -Sn)" != 1024 ] || {
    echo "scale_echo: FAILED: wskhost did not raise its descriptor limit"
    exit 1
}
exit 0
